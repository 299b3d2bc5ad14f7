/* The lower-level solvers and CG on their own. */
#include <math.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "support.h"

typedef struct spd {
  size_t n;
  const double *A;
  int calls;
} spd;

static int matvec(void *ctx, const double *v, double *out)
{
  spd *m = ctx;
  m->calls++;
  for (size_t i = 0; i < m->n; i++) {
    out[i] = 0.0;
    for (size_t j = 0; j < m->n; j++)
      out[i] += m->A[i * m->n + j] * v[j];
  }
  return HYD_OK;
}

Test(kernels, cg_meets_absolute_residual_and_counts_products)
{
  enum { N = 30 };
  double A[N * N], b[N], x[N], work[3 * N], r[N];
  srand(3);
  for (int i = 0; i < N; i++)
    for (int j = 0; j <= i; j++) {
      double v = (double)rand() / RAND_MAX - 0.5;
      A[i * N + j] = A[j * N + i] = v + (i == j ? 8.0 : 0.0);
    }
  for (int i = 0; i < N; i++)
    b[i] = (double)rand() / RAND_MAX;
  for (double tol = 1e-2; tol >= 1e-12; tol *= 1e-2) {
    spd m = {N, A, 0};
    for (int i = 0; i < N; i++)
      x[i] = 0.0;
    long iters;
    double res;
    cr_assert_eq(hyd_cg(N, matvec, &m, b, x, tol, 1000, HYD_CG_VERIFY, work,
                        &iters, &res), HYD_OK);
    matvec(&m, x, r);
    double true_res = 0.0;
    for (int i = 0; i < N; i++)
      true_res += (b[i] - r[i]) * (b[i] - r[i]);
    cr_expect_leq(sqrt(true_res), tol, "true residual %g > %g",
                  sqrt(true_res), tol);
    cr_expect_float_eq(res, sqrt(true_res), 1e-6 * tol + 1e-300);
    cr_expect_eq(iters, m.calls - 1, "iters counts the products CG made");
  }
}

Test(kernels, lower_solvers_certify_distance_to_solution)
{
  hyd_quadratic *q;
  cr_assert_eq(hyd_quadratic_generate(&q, 300, 30, 5, 500.0, 10.0, 0.1, 9,
                                      NULL), HYD_OK);
  const hyd_problem *p = hyd_quadratic_problem(q);
  double theta[5] = {1, -2, 0.5, 3, 0}, xhat[30], x[30], work[7 * 30];
  hyd_quadratic_lower_solution(q, theta, xhat);
  int methods[] = {HYD_LOWER_FISTA, HYD_LOWER_GD, HYD_LOWER_NEWTON_CG};
  long iters[3];
  for (int m = 0; m < 3; m++) {
    hyd_oracle_config cfg;
    hyd_oracle_config_default(&cfg);
    cfg.lower_method = methods[m];
    for (double eps = 1e-2; eps >= 1e-10; eps *= 1e-4) {
      for (int i = 0; i < 30; i++)
        x[i] = 0.0;
      hyd_lower_result res;
      res.interrupt = NULL;
      char msg[HYD_ERRMSG_SIZE];
      hyd_lower_solve(p, 0, theta, &cfg, eps, x, work, 30, &res, msg);
      cr_assert_eq(res.status, HYD_OK);
      cr_expect_not(res.capped);
      double d = 0.0;
      for (int i = 0; i < 30; i++)
        d += (x[i] - xhat[i]) * (x[i] - xhat[i]);
      cr_expect_leq(sqrt(d), eps, "method %d: ||x - xhat|| = %g > eps = %g",
                    methods[m], sqrt(d), eps);
      cr_expect_leq(res.grad_norm, res.mu * eps);
      iters[m] = res.iters;
    }
  }
  cr_expect_lt(iters[2], iters[0], "Newton-CG (%ld) should beat FISTA (%ld) "
               "on a quadratic", iters[2], iters[0]);
  cr_expect_lt(iters[0] * 3, iters[1],
               "accelerated (%ld) should need far fewer iterations than "
               "gradient descent (%ld) at condition number 500",
               iters[0], iters[1]);
  hyd_quadratic_destroy(q);
}

Test(kernels, lower_solver_cap_is_reported)
{
  hyd_quadratic *q;
  cr_assert_eq(hyd_quadratic_generate(&q, 100, 10, 3, 1e4, 2.0, 0.1, 2, NULL),
               HYD_OK);
  double theta[3] = {1, 1, 1}, x[10] = {0}, work[7 * 10];
  hyd_oracle_config cfg;
  hyd_oracle_config_default(&cfg);
  cfg.lower_max_iter = 5;
  hyd_lower_result res;
  res.interrupt = NULL;
  char msg[HYD_ERRMSG_SIZE];
  hyd_lower_solve(hyd_quadratic_problem(q), 0, theta, &cfg, 1e-12, x, work, 10,
                  &res, msg);
  cr_expect_eq(res.status, HYD_OK);
  cr_expect(res.capped);
  cr_expect_eq(res.iters, 5);
  hyd_quadratic_destroy(q);
}
