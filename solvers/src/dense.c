#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "dense.h"

void hyd_dense_atb(size_t r, size_t m, size_t n, const double *A,
                   const double *B, double *C)
{
  memset(C, 0, m * n * sizeof(double));
  for (size_t k = 0; k < r; k++) {
    const double *a = A + k * m, *b = B + k * n;
    for (size_t i = 0; i < m; i++) {
      double ai = a[i];
      double *c = C + i * n;
      for (size_t j = 0; j < n; j++)
        c[j] += ai * b[j];
    }
  }
}

void hyd_dense_gemv(size_t m, size_t n, const double *A, const double *x,
                    double *y)
{
  for (size_t i = 0; i < m; i++) {
    const double *a = A + i * n;
    double s = 0.0;
    for (size_t j = 0; j < n; j++)
      s += a[j] * x[j];
    y[i] = s;
  }
}

void hyd_dense_gemv_t(size_t m, size_t n, const double *A, const double *x,
                      double *y)
{
  memset(y, 0, n * sizeof(double));
  for (size_t i = 0; i < m; i++) {
    const double *a = A + i * n;
    double xi = x[i];
    for (size_t j = 0; j < n; j++)
      y[j] += a[j] * xi;
  }
}

int hyd_dense_cholesky(size_t n, double *A)
{
  for (size_t j = 0; j < n; j++) {
    double d = A[j * n + j];
    for (size_t k = 0; k < j; k++)
      d -= A[j * n + k] * A[j * n + k];
    if (!(d > 0.0) || !isfinite(d))
      return -1;
    d = sqrt(d);
    A[j * n + j] = d;
    for (size_t i = j + 1; i < n; i++) {
      double s = A[i * n + j];
      for (size_t k = 0; k < j; k++)
        s -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = s / d;
    }
  }
  return 0;
}

void hyd_dense_cholesky_solve(size_t n, const double *L, double *b)
{
  for (size_t i = 0; i < n; i++) { /* L y = b */
    double s = b[i];
    for (size_t k = 0; k < i; k++)
      s -= L[i * n + k] * b[k];
    b[i] = s / L[i * n + i];
  }
  for (size_t i = n; i-- > 0;) { /* L^T x = y */
    double s = b[i];
    for (size_t k = i + 1; k < n; k++)
      s -= L[k * n + i] * b[k];
    b[i] = s / L[i * n + i];
  }
}

int hyd_dense_eig_extremes(size_t n, const double *A, double *lmin,
                           double *lmax)
{
  /* gsl_eigen_symm destroys its input and allocates with malloc: both are
   * kept inside this call. */
  double *copy = malloc(n * n * sizeof(double));
  gsl_vector *eval = copy ? gsl_vector_alloc(n) : NULL;
  gsl_eigen_symm_workspace *w = eval ? gsl_eigen_symm_alloc(n) : NULL;
  if (!w) {
    gsl_vector_free(eval);
    free(copy);
    return -1;
  }
  memcpy(copy, A, n * n * sizeof(double));
  gsl_matrix_view mv = gsl_matrix_view_array(copy, n, n);
  gsl_eigen_symm(&mv.matrix, eval, w);
  *lmin = gsl_vector_min(eval);
  *lmax = gsl_vector_max(eval);
  gsl_eigen_symm_free(w);
  gsl_vector_free(eval);
  free(copy);
  return 0;
}
