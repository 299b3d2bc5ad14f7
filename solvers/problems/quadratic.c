/* The quadratic bilevel problem (design/problems.md). The callbacks work on
 * precomputed normal matrices (G = A2^T A2, K = A2^T A3), so one lower-level
 * gradient costs n^2 + n p flops instead of two rows x n products; the upper
 * value uses A1 directly, where cancellation would hurt near the optimum. */
#include <math.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <hyperd/quadratic.h>

#include "../src/dense.h"
#include "../src/internal.h"

struct hyd_quadratic {
  hyd_problem problem;
  hyd_allocator alloc;
  size_t rows, n, p;
  double *A1, *b1;    /* rows x n, rows: the upper level */
  double *A2, *A3, *b2; /* kept for h's value */
  double *G, *K, *c;  /* A2^T A2 (n x n), A2^T A3 (n x p), A2^T b2 (n) */
  double *chol;       /* Cholesky factor of G */
  double *M, *d;      /* f(theta) = 1/2 ||d - M theta||^2: M rows x p */
  double *Y, *y0;     /* xhat(theta) = y0 - Y theta: Y n x p */
  double *x0;         /* lower-level cold start */
  double *theta_star;
  double f_star;
  double *scratch;    /* rows */
  hyd_constants consts;
};

static size_t q_dim(void *ctx, size_t i)
{
  (void)i;
  return ((hyd_quadratic *)ctx)->n;
}

static int q_start(void *ctx, size_t i, const double *theta, double *x)
{
  (void)i;
  (void)theta;
  hyd_quadratic *q = ctx;
  hyd_copy(q->n, q->x0, x);
  return 0;
}

static int q_lower_grad(void *ctx, size_t i, const double *theta,
                        const double *x, double *value, double *grad)
{
  (void)i;
  hyd_quadratic *q = ctx;
  size_t n = q->n, p = q->p;
  for (size_t r = 0; r < n; r++) {
    const double *g = q->G + r * n, *k = q->K + r * p;
    double s = -q->c[r];
    for (size_t j = 0; j < n; j++)
      s += g[j] * x[j];
    for (size_t j = 0; j < p; j++)
      s += k[j] * theta[j];
    grad[r] = s;
  }
  if (value) {
    double v = 0.0;
    for (size_t r = 0; r < q->rows; r++) {
      double s = -q->b2[r];
      for (size_t j = 0; j < n; j++)
        s += q->A2[r * n + j] * x[j];
      for (size_t j = 0; j < p; j++)
        s += q->A3[r * p + j] * theta[j];
      v += s * s;
    }
    *value = 0.5 * v;
  }
  return 0;
}

static int q_hvp(void *ctx, size_t i, const double *theta, const double *x,
                 const double *v, double *out)
{
  (void)i;
  (void)theta;
  (void)x;
  hyd_quadratic *q = ctx;
  hyd_dense_gemv(q->n, q->n, q->G, v, out);
  return 0;
}

static int q_cross_tprod(void *ctx, size_t i, const double *theta,
                         const double *x, const double *v, double *out)
{
  (void)i;
  (void)theta;
  (void)x;
  hyd_quadratic *q = ctx;
  hyd_dense_gemv_t(q->n, q->p, q->K, v, out);
  return 0;
}

static int q_cross_prod(void *ctx, size_t i, const double *theta,
                        const double *x, const double *v, double *out)
{
  (void)i;
  (void)theta;
  (void)x;
  hyd_quadratic *q = ctx;
  hyd_dense_gemv(q->n, q->p, q->K, v, out);
  return 0;
}

static int q_upper(void *ctx, size_t i, const double *x, double *value,
                   double *grad)
{
  (void)i;
  hyd_quadratic *q = ctx;
  double *res = q->scratch;
  hyd_dense_gemv(q->rows, q->n, q->A1, x, res);
  double v = 0.0;
  for (size_t r = 0; r < q->rows; r++) {
    res[r] -= q->b1[r];
    v += res[r] * res[r];
  }
  *value = 0.5 * v;
  if (grad)
    hyd_dense_gemv_t(q->rows, q->n, q->A1, res, grad);
  return 0;
}

static int q_constants(void *ctx, size_t i, const double *theta,
                       const double *x, hyd_constants *out)
{
  (void)i;
  (void)theta;
  (void)x;
  *out = ((hyd_quadratic *)ctx)->consts;
  return 0;
}

void hyd_quadratic_destroy(hyd_quadratic *q)
{
  if (!q)
    return;
  double **arrays[] = {&q->A1, &q->b1, &q->A2, &q->A3, &q->b2, &q->G,
                       &q->K, &q->c, &q->chol, &q->M, &q->d, &q->Y,
                       &q->y0, &q->x0, &q->theta_star, &q->scratch};
  for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++)
    hyd_free(&q->alloc, *arrays[k]);
  hyd_allocator copy = q->alloc;
  hyd_free(&copy, q);
}

/* Normal matrices, closed-form solution and constants from A's and b's. */
static int precompute(hyd_quadratic *q)
{
  size_t rows = q->rows, n = q->n, p = q->p;
  hyd_dense_atb(rows, n, n, q->A2, q->A2, q->G);
  hyd_dense_atb(rows, n, p, q->A2, q->A3, q->K);
  hyd_dense_gemv_t(rows, n, q->A2, q->b2, q->c);
  memcpy(q->chol, q->G, n * n * sizeof(double));
  if (hyd_dense_cholesky(n, q->chol) != 0)
    return HYD_EINVAL; /* A2 lacks full column rank */
  /* Y = G^{-1} K column by column, y0 = G^{-1} c. */
  double *col = q->scratch; /* rows >= n */
  for (size_t j = 0; j < p; j++) {
    for (size_t r = 0; r < n; r++)
      col[r] = q->K[r * p + j];
    hyd_dense_cholesky_solve(n, q->chol, col);
    for (size_t r = 0; r < n; r++)
      q->Y[r * p + j] = col[r];
  }
  hyd_copy(n, q->c, q->y0);
  hyd_dense_cholesky_solve(n, q->chol, q->y0);
  /* M = A1 Y, d = A1 y0 - b1 (so xhat = y0 - Y theta, A1 xhat - b1 = d - M theta). */
  for (size_t r = 0; r < rows; r++) {
    const double *a = q->A1 + r * n;
    for (size_t j = 0; j < p; j++) {
      double s = 0.0;
      for (size_t k = 0; k < n; k++)
        s += a[k] * q->Y[k * p + j];
      q->M[r * p + j] = s;
    }
    double s = -q->b1[r];
    for (size_t k = 0; k < n; k++)
      s += a[k] * q->y0[k];
    q->d[r] = s;
  }
  /* theta* from the normal equations of min ||d - M theta||, refined once
   * against the residual (the reference instance has cond(M^T M) ~ 1e5). */
  size_t big = n > p ? n : p;
  double *MtM = hyd_alloc_array(&q->alloc, big * big, sizeof(double));
  double *rhs = hyd_alloc_array(&q->alloc, big, sizeof(double));
  double *AtA = hyd_alloc_array(&q->alloc, n * n, sizeof(double));
  if (!MtM || !rhs || !AtA) {
    hyd_free(&q->alloc, MtM);
    hyd_free(&q->alloc, rhs);
    hyd_free(&q->alloc, AtA);
    return HYD_ENOMEM;
  }
  int rc = HYD_OK;
  hyd_dense_atb(rows, p, p, q->M, q->M, MtM);
  double mt_lmin, mt_lmax;
  if (hyd_dense_eig_extremes(p, MtM, &mt_lmin, &mt_lmax) != 0) {
    rc = HYD_ENOMEM;
    goto done;
  }
  if (hyd_dense_cholesky(p, MtM) != 0) {
    rc = HYD_EINVAL;
    goto done;
  }
  hyd_dense_gemv_t(rows, p, q->M, q->d, q->theta_star);
  hyd_dense_cholesky_solve(p, MtM, q->theta_star);
  for (int refine = 0; refine < 2; refine++) {
    double *res = q->scratch;
    hyd_dense_gemv(rows, p, q->M, q->theta_star, res);
    for (size_t r = 0; r < rows; r++)
      res[r] = q->d[r] - res[r];
    hyd_dense_gemv_t(rows, p, q->M, res, rhs);
    hyd_dense_cholesky_solve(p, MtM, rhs);
    hyd_axpy(p, 1.0, rhs, q->theta_star);
  }
  hyd_quadratic_exact(q, q->theta_star, &q->f_star, NULL);

  double lmin, lmax;
  if (hyd_dense_eig_extremes(n, q->G, &lmin, &lmax) != 0) {
    rc = HYD_ENOMEM;
    goto done;
  }
  q->consts.mu = lmin;
  q->consts.L = lmax;
  hyd_dense_atb(rows, n, n, q->A1, q->A1, AtA);
  if (hyd_dense_eig_extremes(n, AtA, &lmin, &q->consts.Lg) != 0) {
    rc = HYD_ENOMEM;
    goto done;
  }
  hyd_dense_atb(n, p, p, q->K, q->K, MtM); /* K^T K */
  if (hyd_dense_eig_extremes(p, MtM, &lmin, &lmax) != 0) {
    rc = HYD_ENOMEM;
    goto done;
  }
  q->consts.norm_B = sqrt(lmax);
  q->consts.LB = 0.0;    /* B = K does not depend on x */
  q->consts.LAinv = 0.0; /* nor does A = G */
  q->consts.certified = 1;
  if (!(q->consts.mu > 0.0))
    rc = HYD_EINVAL;
done:
  hyd_free(&q->alloc, MtM);
  hyd_free(&q->alloc, rhs);
  hyd_free(&q->alloc, AtA);
  return rc;
}

/* Allocates the object and its arrays (uninitialised). */
static int alloc_quadratic(hyd_quadratic **out, size_t rows, size_t n,
                           size_t p, const hyd_allocator *alloc)
{
  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  hyd_quadratic *q = hyd_alloc_array(&a, 1, sizeof *q);
  if (!q)
    return HYD_ENOMEM;
  memset(q, 0, sizeof *q);
  q->alloc = a;
  q->rows = rows;
  q->n = n;
  q->p = p;
  struct {
    double **ptr;
    size_t count;
  } arrays[] = {{&q->A1, rows * n}, {&q->b1, rows},  {&q->A2, rows * n},
                {&q->A3, rows * p}, {&q->b2, rows},  {&q->G, n * n},
                {&q->K, n * p},     {&q->c, n},      {&q->chol, n * n},
                {&q->M, rows * p},  {&q->d, rows},   {&q->Y, n * p},
                {&q->y0, n},        {&q->x0, n},     {&q->theta_star, p},
                {&q->scratch, rows}};
  for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) {
    *arrays[k].ptr = hyd_alloc_array(&a, arrays[k].count, sizeof(double));
    if (!*arrays[k].ptr) {
      hyd_quadratic_destroy(q);
      return HYD_ENOMEM;
    }
  }
  hyd_problem *pr = &q->problem;
  pr->version = HYD_PROBLEM_VERSION;
  pr->n_theta = p;
  pr->n_samples = 1;
  pr->upper_convex = 1;
  pr->ctx = q;
  pr->lower_dim = q_dim;
  pr->lower_start = q_start;
  pr->lower_grad = q_lower_grad;
  pr->lower_hvp = q_hvp;
  pr->cross_tprod = q_cross_tprod;
  pr->cross_prod = q_cross_prod;
  pr->upper = q_upper;
  pr->constants = q_constants;
  *out = q;
  return HYD_OK;
}

int hyd_quadratic_create(hyd_quadratic **out, size_t rows, size_t n, size_t p,
                         const double *A1, const double *A2, const double *A3,
                         const double *b1, const double *b2, const double *x0,
                         const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  if (rows == 0 || n == 0 || p == 0 || rows < n || rows < p || !A1 || !A2 ||
      !A3 || !b1 || !b2)
    return HYD_EINVAL;
  if (!hyd_all_finite(rows * n, A1) || !hyd_all_finite(rows * n, A2) ||
      !hyd_all_finite(rows * p, A3) || !hyd_all_finite(rows, b1) ||
      !hyd_all_finite(rows, b2) || (x0 && !hyd_all_finite(n, x0)))
    return HYD_ENONFINITE;
  hyd_quadratic *q;
  int rc = alloc_quadratic(&q, rows, n, p, alloc);
  if (rc != HYD_OK)
    return rc;
  hyd_copy(rows * n, A1, q->A1);
  hyd_copy(rows * n, A2, q->A2);
  hyd_copy(rows * p, A3, q->A3);
  hyd_copy(rows, b1, q->b1);
  hyd_copy(rows, b2, q->b2);
  if (x0)
    hyd_copy(n, x0, q->x0);
  else
    hyd_zero(n, q->x0);
  if ((rc = precompute(q)) != HYD_OK) {
    hyd_quadratic_destroy(q);
    return rc;
  }
  *out = q;
  return HYD_OK;
}

/* Columns of Q (rows x cols, row-major) made orthonormal, from Gaussian
 * entries, by modified Gram-Schmidt applied twice ("twice is enough"). */
static void random_orthonormal(gsl_rng *rng, size_t rows, size_t cols,
                               double *Q)
{
  for (size_t k = 0; k < rows * cols; k++)
    Q[k] = gsl_ran_gaussian(rng, 1.0);
  for (int pass = 0; pass < 2; pass++)
    for (size_t j = 0; j < cols; j++) {
      for (size_t i = 0; i < j; i++) {
        double s = 0.0;
        for (size_t r = 0; r < rows; r++)
          s += Q[r * cols + i] * Q[r * cols + j];
        for (size_t r = 0; r < rows; r++)
          Q[r * cols + j] -= s * Q[r * cols + i];
      }
      double nrm = 0.0;
      for (size_t r = 0; r < rows; r++)
        nrm += Q[r * cols + j] * Q[r * cols + j];
      nrm = sqrt(nrm);
      for (size_t r = 0; r < rows; r++)
        Q[r * cols + j] /= nrm;
    }
}

/* out (rows x cols) = U diag(s) V^T with singular values from 1 to
 * sqrt(cond), so that cond(out^T out) = cond. */
static void with_condition(gsl_rng *rng, size_t rows, size_t cols,
                           double cond, double *U, double *V, double *out)
{
  random_orthonormal(rng, rows, cols, U);
  random_orthonormal(rng, cols, cols, V);
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++) {
      double s = 0.0;
      for (size_t k = 0; k < cols; k++) {
        double sk = cols > 1 ? pow(cond, 0.5 * (double)k / (double)(cols - 1))
                             : 1.0;
        s += U[r * cols + k] * sk * V[c * cols + k];
      }
      out[r * cols + c] = s;
    }
}

int hyd_quadratic_generate(hyd_quadratic **out, size_t rows, size_t n,
                           size_t p, double cond_lower, double cond_upper,
                           double noise_sigma, unsigned long seed,
                           const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  if (rows == 0 || n == 0 || p == 0 || rows < n || n < p ||
      !(cond_lower >= 1.0) || !(cond_upper >= 1.0) || !isfinite(cond_lower) ||
      !isfinite(cond_upper) || !(noise_sigma >= 0.0))
    return HYD_EINVAL;
  hyd_quadratic *q;
  int rc = alloc_quadratic(&q, rows, n, p, alloc);
  if (rc != HYD_OK)
    return rc;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  double *U = hyd_alloc_array(&q->alloc, rows * n, sizeof(double));
  double *V = hyd_alloc_array(&q->alloc, n * n, sizeof(double));
  double *C = hyd_alloc_array(&q->alloc, n * p, sizeof(double));
  double *v = hyd_alloc_array(&q->alloc, n > p ? n : p, sizeof(double));
  if (!rng || !U || !V || !C || !v) {
    rc = HYD_ENOMEM;
    goto done;
  }
  gsl_rng_set(rng, seed);
  /* A2 = U S V^T with cond(A2^T A2) = cond_lower. */
  with_condition(rng, rows, n, cond_lower, U, V, q->A2);
  /* A3 = A2 C makes A2^+ A3 = C; with A1 of orthonormal columns
   * M = A1 C and M^T M = C^T C, so cond(M^T M) = cond_upper exactly. */
  with_condition(rng, n, p, cond_upper, U, V, C);
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < p; j++) {
      double s = 0.0;
      for (size_t k = 0; k < n; k++)
        s += q->A2[r * n + k] * C[k * p + j];
      q->A3[r * p + j] = s;
    }
  random_orthonormal(rng, rows, n, q->A1);
  /* b2 = A2 x2 + A3 theta_e + noise; b1 = A1 xhat(theta_t) + noise: the
   * upper data come from the lower model at "true" hyperparameters
   * theta_t, so with little noise the optimum fits them closely (a
   * well-posed learning problem, and an attainable high accuracy). */
  for (size_t k = 0; k < n; k++)
    v[k] = gsl_ran_gaussian(rng, 1.0);
  hyd_dense_gemv(rows, n, q->A2, v, q->b2);
  for (size_t k = 0; k < p; k++)
    v[k] = gsl_ran_gaussian(rng, 1.0);
  hyd_dense_gemv(rows, p, q->A3, v, q->scratch);
  for (size_t r = 0; r < rows; r++)
    q->b2[r] += q->scratch[r] + noise_sigma * gsl_ran_gaussian(rng, 1.0);
  for (size_t k = 0; k < p; k++) /* theta_t */
    v[k] = gsl_ran_gaussian(rng, 1.0);
  hyd_dense_gemv(rows, p, q->A3, v, q->scratch);
  for (size_t r = 0; r < rows; r++)
    q->scratch[r] = q->b2[r] - q->scratch[r];
  hyd_dense_atb(rows, n, n, q->A2, q->A2, q->chol);
  hyd_dense_gemv_t(rows, n, q->A2, q->scratch, U); /* U: n scratch values */
  if (hyd_dense_cholesky(n, q->chol) != 0) {
    rc = HYD_EINVAL;
    goto done;
  }
  hyd_dense_cholesky_solve(n, q->chol, U);
  hyd_dense_gemv(rows, n, q->A1, U, q->b1);
  for (size_t r = 0; r < rows; r++)
    q->b1[r] += noise_sigma * gsl_ran_gaussian(rng, 1.0);
  hyd_zero(n, q->x0);
  rc = precompute(q);
done:
  if (rng)
    gsl_rng_free(rng);
  hyd_free(&q->alloc, U);
  hyd_free(&q->alloc, V);
  hyd_free(&q->alloc, C);
  hyd_free(&q->alloc, v);
  if (rc != HYD_OK) {
    hyd_quadratic_destroy(q);
    return rc;
  }
  *out = q;
  return HYD_OK;
}

const hyd_problem *hyd_quadratic_problem(const hyd_quadratic *q)
{
  return q ? &q->problem : NULL;
}

int hyd_quadratic_exact(const hyd_quadratic *q, const double *theta, double *f,
                        double *grad)
{
  if (!q || !theta || !f)
    return HYD_EINVAL;
  double *res = q->scratch;
  hyd_dense_gemv(q->rows, q->p, q->M, theta, res);
  double v = 0.0;
  for (size_t r = 0; r < q->rows; r++) {
    res[r] = q->d[r] - res[r];
    v += res[r] * res[r];
  }
  *f = 0.5 * v;
  if (grad) { /* grad f = -M^T (d - M theta) */
    hyd_dense_gemv_t(q->rows, q->p, q->M, res, grad);
    for (size_t j = 0; j < q->p; j++)
      grad[j] = -grad[j];
  }
  return HYD_OK;
}

int hyd_quadratic_solution(const hyd_quadratic *q, double *theta_star,
                           double *f_star)
{
  if (!q)
    return HYD_EINVAL;
  if (theta_star)
    hyd_copy(q->p, q->theta_star, theta_star);
  if (f_star)
    *f_star = q->f_star;
  return HYD_OK;
}

int hyd_quadratic_lower_solution(const hyd_quadratic *q, const double *theta,
                                 double *x)
{
  if (!q || !theta || !x)
    return HYD_EINVAL;
  hyd_dense_gemv(q->n, q->p, q->Y, theta, x);
  for (size_t k = 0; k < q->n; k++)
    x[k] = q->y0[k] - x[k];
  return HYD_OK;
}

void hyd_quadratic_constants(const hyd_quadratic *q, hyd_constants *c)
{
  if (q && c)
    *c = q->consts;
}
