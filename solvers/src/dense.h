/* Small dense kernels for problems that precompute normal matrices. Own
 * code rather than GSL's, because GSL's default error handler aborts the
 * process on a non-SPD matrix and a library may not change that global. */
#ifndef HYPERD_DENSE_H
#define HYPERD_DENSE_H

#include <stddef.h>

/* C (m x n) = A^T B with A (r x m), B (r x n), all row-major. */
void hyd_dense_atb(size_t r, size_t m, size_t n, const double *A,
                   const double *B, double *C);
/* y (m) = A x, A (m x n). */
void hyd_dense_gemv(size_t m, size_t n, const double *A, const double *x,
                    double *y);
/* y (n) = A^T x, A (m x n). */
void hyd_dense_gemv_t(size_t m, size_t n, const double *A, const double *x,
                      double *y);
/* In-place Cholesky of the SPD n x n matrix A (lower factor); 0 on success,
 * -1 if A is not numerically positive definite. */
int hyd_dense_cholesky(size_t n, double *A);
/* Solves L L^T x = b in place (b becomes x) with the factor from above. */
void hyd_dense_cholesky_solve(size_t n, const double *L, double *b);
/* Smallest and largest eigenvalue of a symmetric n x n matrix; 0 on
 * success, -1 if memory ran out. */
int hyd_dense_eig_extremes(size_t n, const double *A, double *lmin,
                           double *lmax);

#endif
