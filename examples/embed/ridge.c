/* Embedding libhyperd: learn the ridge penalty of a linear model from a
 * validation set, with a lower-level problem defined here through the
 * callback table (hyperd/problem.h) and solved by MAID (hyperd/maid.h).
 *
 *   lower:  x(theta) = argmin_x 1/2 ||A x - b||^2 / n + e^theta / 2 ||x||^2
 *   upper:  g(x) = 1/2 ||C x - d||^2 / n_val
 *
 * Build against the installed library:
 *   cmake -S . -B build && cmake --build build        (find_package)
 *   cc ridge.c $(pkg-config --cflags --libs hyperd) -o ridge   (pkg-config) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <hyperd/hyperd.h>

enum { N_TRAIN = 40, N_VAL = 40, DIM = 30 };

typedef struct ridge {
  double A[N_TRAIN][DIM], b[N_TRAIN], C[N_VAL][DIM], d[N_VAL];
  double lmin, lmax; /* extreme eigenvalues of A^T A / n (bounds suffice) */
} ridge;

static size_t dim(void *ctx, size_t i) { (void)ctx; (void)i; return DIM; }

/* grad_x h = A^T (A x - b) / n + e^theta x */
static int lower_grad(void *ctx, size_t i, const double *theta,
                      const double *x, double *value, double *grad)
{
  (void)i;
  ridge *r = ctx;
  double lam = exp(theta[0]), h = 0.0;
  for (int j = 0; j < DIM; j++)
    grad[j] = lam * x[j];
  for (int k = 0; k < N_TRAIN; k++) {
    double res = -r->b[k];
    for (int j = 0; j < DIM; j++)
      res += r->A[k][j] * x[j];
    h += 0.5 * res * res / N_TRAIN;
    for (int j = 0; j < DIM; j++)
      grad[j] += r->A[k][j] * res / N_TRAIN;
  }
  if (value) {
    for (int j = 0; j < DIM; j++)
      h += 0.5 * lam * x[j] * x[j];
    *value = h;
  }
  return 0;
}

/* A v = A^T A v / n + e^theta v */
static int hvp(void *ctx, size_t i, const double *theta, const double *x,
               const double *v, double *out)
{
  (void)i;
  (void)x;
  ridge *r = ctx;
  for (int j = 0; j < DIM; j++)
    out[j] = exp(theta[0]) * v[j];
  for (int k = 0; k < N_TRAIN; k++) {
    double av = 0.0;
    for (int j = 0; j < DIM; j++)
      av += r->A[k][j] * v[j];
    for (int j = 0; j < DIM; j++)
      out[j] += r->A[k][j] * av / N_TRAIN;
  }
  return 0;
}

/* B = d/dtheta grad_x h = e^theta x, so B^T q = e^theta <x, q>. */
static int cross_tprod(void *ctx, size_t i, const double *theta,
                       const double *x, const double *q, double *out)
{
  (void)ctx;
  (void)i;
  double s = 0.0;
  for (int j = 0; j < DIM; j++)
    s += x[j] * q[j];
  out[0] = exp(theta[0]) * s;
  return 0;
}

static int upper(void *ctx, size_t i, const double *x, double *value,
                 double *grad)
{
  (void)i;
  ridge *r = ctx;
  double g = 0.0;
  if (grad)
    for (int j = 0; j < DIM; j++)
      grad[j] = 0.0;
  for (int k = 0; k < N_VAL; k++) {
    double res = -r->d[k];
    for (int j = 0; j < DIM; j++)
      res += r->C[k][j] * x[j];
    g += 0.5 * res * res / N_VAL;
    if (grad)
      for (int j = 0; j < DIM; j++)
        grad[j] += r->C[k][j] * res / N_VAL;
  }
  *value = g;
  return 0;
}

/* mu, L from the spectrum of A^T A / n; Lg a bound on ||C||^2 / n_val (the
 * Frobenius norm); ||B|| = e^theta ||x||; B depends on x with Lipschitz
 * constant e^theta; A does not depend on x. */
static int constants(void *ctx, size_t i, const double *theta,
                     const double *x, hyd_constants *c)
{
  (void)i;
  ridge *r = ctx;
  double lam = exp(theta[0]), xn = 0.0, fro = 0.0;
  for (int j = 0; j < DIM; j++)
    xn += x[j] * x[j];
  for (int k = 0; k < N_VAL; k++)
    for (int j = 0; j < DIM; j++)
      fro += r->C[k][j] * r->C[k][j];
  c->mu = r->lmin + lam;
  c->L = r->lmax + lam;
  c->Lg = fro / N_VAL;
  c->norm_B = lam * sqrt(xn);
  c->LB = lam;
  c->LAinv = 0.0;
  c->certified = 1;
  return 0;
}

static int print_iteration(const hyd_maid *s, const hyd_maid_info *info,
                           void *user)
{
  (void)user;
  if (info->iter % 10 == 0)
    printf("iter %3ld  lambda %.5f  validation loss in [%.6f, %.6f]\n",
           info->iter, exp(hyd_maid_theta(s)[0]), info->f_lo, info->f_hi);
  return 0;
}

int main(void)
{
  static ridge r; /* the problem's data: the embedder owns it */
  srand(1);
  double w[DIM];
  for (int j = 0; j < DIM; j++)
    w[j] = (double)rand() / RAND_MAX - 0.5;
  for (int k = 0; k < N_TRAIN + N_VAL; k++) {
    double *row = k < N_TRAIN ? r.A[k] : r.C[k - N_TRAIN], y = 0.0;
    for (int j = 0; j < DIM; j++) {
      row[j] = (double)rand() / RAND_MAX - 0.5;
      y += row[j] * w[j];
    }
    y += 0.3 * ((double)rand() / RAND_MAX - 0.5);
    if (k < N_TRAIN)
      r.b[k] = y;
    else
      r.d[k - N_TRAIN] = y;
  }
  /* Safe spectral bounds of A^T A / n: 0 below (mu then comes from the
   * penalty alone) and the squared Frobenius norm above. */
  r.lmin = 0.0;
  for (int k = 0; k < N_TRAIN; k++)
    for (int j = 0; j < DIM; j++)
      r.lmax += r.A[k][j] * r.A[k][j] / N_TRAIN;

  hyd_problem problem = {
      .version = HYD_PROBLEM_VERSION, .n_theta = 1, .n_samples = 1,
      .upper_convex = 1, .ctx = &r, .lower_dim = dim, .lower_grad = lower_grad,
      .lower_hvp = hvp, .cross_tprod = cross_tprod, .upper = upper,
      .constants = constants};

  hyd_maid *solver;
  int rc = hyd_maid_create(&solver, &problem, NULL);
  if (rc != HYD_OK) {
    fprintf(stderr, "create: %s\n", hyd_strerror(rc));
    return 1;
  }
  double theta0 = log(0.1);
  hyd_maid_set_theta0(solver, &theta0);
  hyd_maid_set_option(solver, "max_iter", "60");
  hyd_maid_set_option(solver, "gtol", "1e-7");
  hyd_maid_set_monitor(solver, print_iteration, NULL);
  if ((rc = hyd_maid_setup(solver)) != HYD_OK ||
      (rc = hyd_maid_solve(solver)) != HYD_OK) {
    fprintf(stderr, "maid: %s\n", hyd_maid_errmsg(solver));
    hyd_maid_destroy(solver);
    return 1;
  }
  hyd_maid_info info;
  hyd_maid_get_info(solver, &info);
  printf("stopped: %s; lambda = %.6f, validation loss %.6f, %0.f lower-level "
         "+ %.0f CG iterations\n",
         hyd_stop_reason_text(hyd_maid_stop_reason(solver)),
         exp(hyd_maid_theta(solver)[0]), info.g, info.cost.lower_iters,
         info.cost.cg_iters);
  hyd_maid_destroy(solver);
  return 0;
}
