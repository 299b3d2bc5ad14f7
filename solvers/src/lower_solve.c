/* Lower-level solvers: accelerated gradient (the default) and gradient
 * descent, both stopping on the certified test ||grad h|| <= mu*eps, and
 * the reference code's loop for the reference profile. */
#include <math.h>

#include "internal.h"

static int fetch_constants(const hyd_problem *prob, size_t i,
                           const double *theta, const double *x,
                           hyd_lower_result *res, char *errmsg)
{
  hyd_constants c;
  int rc = prob->constants(prob->ctx, i, theta, x, &c);
  if (rc != 0)
    return hyd_set_error(errmsg, HYD_ECALLBACK,
                         "sample %zu: constants callback failed (%d)", i, rc);
  if (!(isfinite(c.mu) && isfinite(c.L) && c.mu > 0.0 && c.L >= c.mu))
    return hyd_set_error(errmsg, HYD_ENONFINITE,
                         "sample %zu: constants are not finite or not "
                         "0 < mu <= L (mu=%g, L=%g)", i, c.mu, c.L);
  res->mu = c.mu;
  res->L = c.L;
  return HYD_OK;
}

static int eval_grad(const hyd_problem *prob, size_t i, const double *theta,
                     const double *x, double *grad, size_t n, char *errmsg)
{
  int rc = prob->lower_grad(prob->ctx, i, theta, x, NULL, grad);
  if (rc != 0)
    return hyd_set_error(errmsg, HYD_ECALLBACK,
                         "sample %zu: lower-level gradient callback failed (%d)",
                         i, rc);
  if (!hyd_all_finite(n, grad))
    return hyd_set_error(errmsg, HYD_ENONFINITE,
                         "sample %zu: lower-level gradient is not finite", i);
  return HYD_OK;
}

/* Nesterov's method for mu-strongly convex, L-smooth h with the constant
 * momentum (sqrt(L)-sqrt(mu))/(sqrt(L)+sqrt(mu)), and O'Donoghue-Candes
 * gradient restart, which keeps it monotone-ish when mu is pessimistic.
 * The gradient is evaluated at the extrapolated point y, and y is what is
 * returned when it passes the test: one gradient per iteration and the
 * certificate is about the returned point. */
static void solve_fista(const hyd_problem *prob, size_t i, const double *theta,
                        const hyd_oracle_config *cfg, double eps, double *x,
                        double *work, size_t n, hyd_lower_result *res,
                        char *errmsg)
{
  double *y = work, *x_prev = work + n, *grad = work + 2 * n;
  double mu = res->mu, L = res->L;
  double beta = (sqrt(L) - sqrt(mu)) / (sqrt(L) + sqrt(mu));
  hyd_copy(n, x, y);
  hyd_copy(n, x, x_prev);
  for (;;) {
    res->status = eval_grad(prob, i, theta, y, grad, n, errmsg);
    if (res->status != HYD_OK)
      return;
    res->iters++;
    double gn = hyd_nrm2(n, grad);
    if (gn <= mu * eps || res->iters >= cfg->lower_max_iter) {
      res->capped = gn > mu * eps;
      res->grad_norm = gn;
      hyd_copy(n, y, x);
      return;
    }
    double progress = 0.0; /* <grad(y), x_new - x_prev> */
    for (size_t j = 0; j < n; j++) {
      x[j] = y[j] - grad[j] / L;
      progress += grad[j] * (x[j] - x_prev[j]);
    }
    double b = (cfg->lower_restart && progress > 0.0) ? 0.0 : beta;
    for (size_t j = 0; j < n; j++) {
      y[j] = x[j] + b * (x[j] - x_prev[j]);
      x_prev[j] = x[j];
    }
  }
}

static void solve_gd(const hyd_problem *prob, size_t i, const double *theta,
                     const hyd_oracle_config *cfg, double eps, double *x,
                     double *work, size_t n, hyd_lower_result *res,
                     char *errmsg)
{
  double *grad = work;
  for (;;) {
    res->status = eval_grad(prob, i, theta, x, grad, n, errmsg);
    if (res->status != HYD_OK)
      return;
    res->iters++;
    double gn = hyd_nrm2(n, grad);
    if (gn <= res->mu * eps || res->iters >= cfg->lower_max_iter) {
      res->capped = gn > res->mu * eps;
      res->grad_norm = gn;
      return;
    }
    hyd_axpy(n, -1.0 / res->L, grad, x);
  }
}

/* The reference code's loop (design/maid.md section 4): test
 * ||grad h(z)|| / (s mu) < eps at the current point, then return one more
 * gradient step from it. Its count is the 0-based index of the iteration
 * whose test passed; the accuracy of the returned point is not known. */
static void solve_gd_reference(const hyd_problem *prob, size_t i,
                               const double *theta,
                               const hyd_oracle_config *cfg, double eps,
                               double *x, double *work, size_t n,
                               hyd_lower_result *res, char *errmsg)
{
  double *grad = work;
  for (long k = 0;; k++) {
    res->status = eval_grad(prob, i, theta, x, grad, n, errmsg);
    if (res->status != HYD_OK)
      return;
    res->iters++;
    double gn = hyd_nrm2(n, grad);
    int passed = gn / (cfg->stop_scale * res->mu) < eps;
    hyd_axpy(n, -1.0 / res->L, grad, x);
    if (passed || k + 1 >= cfg->lower_max_iter) {
      res->capped = !passed;
      res->iters_ref = k;
      res->grad_norm = NAN;
      return;
    }
  }
}

void hyd_lower_solve(const hyd_problem *prob, size_t i, const double *theta,
                     const hyd_oracle_config *cfg, double eps, double *x,
                     double *work, size_t n, hyd_lower_result *res,
                     char *errmsg)
{
  res->iters = 0;
  res->iters_ref = 0;
  res->grad_norm = NAN;
  res->capped = 0;
  res->status = fetch_constants(prob, i, theta, x, res, errmsg);
  if (res->status != HYD_OK)
    return;
  switch (cfg->lower_method) {
  case HYD_LOWER_GD:
    solve_gd(prob, i, theta, cfg, eps, x, work, n, res, errmsg);
    res->iters_ref = res->iters > 0 ? res->iters - 1 : 0;
    break;
  case HYD_LOWER_GD_REFERENCE:
    solve_gd_reference(prob, i, theta, cfg, eps, x, work, n, res, errmsg);
    break;
  default:
    solve_fista(prob, i, theta, cfg, eps, x, work, n, res, errmsg);
    res->iters_ref = res->iters > 0 ? res->iters - 1 : 0;
    break;
  }
}
