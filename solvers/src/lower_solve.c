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

static int interrupted(const volatile sig_atomic_t *flag, char *errmsg,
                       size_t i)
{
  if (flag && *flag)
    return hyd_set_error(errmsg, HYD_EINTR,
                         "sample %zu: lower-level solve interrupted", i);
  return HYD_OK;
}

static int eval_grad(const hyd_problem *prob, size_t i, const double *theta,
                     const double *x, double *grad, size_t n, char *errmsg,
                     const volatile sig_atomic_t *flag)
{
  if (interrupted(flag, errmsg, i) != HYD_OK)
    return HYD_EINTR;
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
    res->status = eval_grad(prob, i, theta, y, grad, n, errmsg, res->interrupt);
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
    res->status = eval_grad(prob, i, theta, x, grad, n, errmsg, res->interrupt);
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
    res->status = eval_grad(prob, i, theta, x, grad, n, errmsg, res->interrupt);
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

/* Newton-CG with an Armijo line search on h. Near the solution, where MAID
 * asks for tight accuracies and the warm start already is close, one or
 * two Newton steps replace hundreds of gradient steps; the Hessian enters
 * only through products (each counted as one iteration, like a gradient).
 * The inner CG stops at the forcing tolerance min(0.5, sqrt(||g||)) ||g||,
 * which gives superlinear convergence. */
typedef struct newton_ctx {
  const hyd_problem *prob;
  size_t i, n;
  const double *theta, *x;
  long products;
  char *errmsg;
  const volatile sig_atomic_t *interrupt;
} newton_ctx;

static int newton_hvp(void *ctx, const double *v, double *out)
{
  newton_ctx *c = ctx;
  if (c->interrupt && *c->interrupt)
    return hyd_set_error(c->errmsg, HYD_EINTR,
                         "sample %zu: lower-level solve interrupted", c->i);
  c->products++;
  int rc = c->prob->lower_hvp(c->prob->ctx, c->i, c->theta, c->x, v, out);
  if (rc != 0)
    return hyd_set_error(c->errmsg, HYD_ECALLBACK,
                         "sample %zu: Hessian-vector callback failed (%d)",
                         c->i, rc);
  if (!hyd_all_finite(c->n, out))
    return hyd_set_error(c->errmsg, HYD_ENONFINITE,
                         "sample %zu: Hessian-vector product is not finite",
                         c->i);
  return HYD_OK;
}

static int eval_value_grad(const hyd_problem *prob, size_t i,
                           const double *theta, const double *x, double *value,
                           double *grad, size_t n, char *errmsg,
                           const volatile sig_atomic_t *flag)
{
  if (interrupted(flag, errmsg, i) != HYD_OK)
    return HYD_EINTR;
  int rc = prob->lower_grad(prob->ctx, i, theta, x, value, grad);
  if (rc != 0)
    return hyd_set_error(errmsg, HYD_ECALLBACK,
                         "sample %zu: lower-level gradient callback failed (%d)",
                         i, rc);
  if (!isfinite(*value) || !hyd_all_finite(n, grad))
    return hyd_set_error(errmsg, HYD_ENONFINITE,
                         "sample %zu: lower-level value or gradient is not "
                         "finite", i);
  return HYD_OK;
}

static void solve_newton(const hyd_problem *prob, size_t i, const double *theta,
                         const hyd_oracle_config *cfg, double eps, double *x,
                         double *work, size_t n, hyd_lower_result *res,
                         char *errmsg)
{
  double *grad = work, *d = work + n, *xt = work + 2 * n, *gt = work + 3 * n;
  double *cg_work = work + 4 * n; /* 3n, ends at 7n */
  double h;
  res->status = eval_value_grad(prob, i, theta, x, &h, grad, n, errmsg, res->interrupt);
  if (res->status != HYD_OK)
    return;
  res->iters++;
  /* Newton halves the gradient norm at least every few steps until
   * rounding stops it; ten steps without halving mean the requested
   * accuracy is out of reach in double precision. */
  double best = HUGE_VAL;
  int since_best = 0;
  for (;;) {
    double gn = hyd_nrm2(n, grad);
    if (gn <= 0.5 * best) {
      best = gn;
      since_best = 0;
    } else if (++since_best > 10) {
      res->capped = 1;
      res->grad_norm = gn;
      return;
    }
    if (gn <= res->mu * eps || res->iters >= cfg->lower_max_iter) {
      res->capped = gn > res->mu * eps;
      res->grad_norm = gn;
      return;
    }
    for (size_t j = 0; j < n; j++)
      d[j] = 0.0;
    newton_ctx nc = {prob, i, n, theta, x, 0, errmsg, res->interrupt};
    long cg_products;
    double resid;
    for (size_t j = 0; j < n; j++)
      gt[j] = -grad[j];
    /* Solving the Newton system more accurately than a tenth of the
     * gradient norm the solve must reach buys nothing, and near that
     * target the forcing term alone would ask for residuals below
     * rounding (CG would then run to its cap). */
    double tol = fmax(fmin(0.5, sqrt(gn)) * gn, 0.1 * res->mu * eps);
    int rc = hyd_cg(n, newton_hvp, &nc, gt, d, tol, cfg->cg_max_iter, 0,
                    cg_work, &cg_products, &resid);
    res->iters += nc.products;
    if (rc != HYD_OK) {
      res->status = rc;
      return;
    }
    double slope = hyd_dot(n, grad, d);
    if (!(slope < 0.0)) { /* CG made no progress: fall back to -grad / L */
      for (size_t j = 0; j < n; j++)
        d[j] = -grad[j] / res->L;
      slope = -gn * gn / res->L;
    }
    double t = 1.0, ht = 0.0;
    for (int tries = 0;; tries++) {
      for (size_t j = 0; j < n; j++)
        xt[j] = x[j] + t * d[j];
      res->status = eval_value_grad(prob, i, theta, xt, &ht, gt, n, errmsg,
                                    res->interrupt);
      if (res->status != HYD_OK)
        return;
      res->iters++;
      /* Armijo on h; or, where h's decrease is below its rounding (near
       * the solution, at tight accuracies), a step that halves the
       * gradient norm, the quantity the stopping test certifies. */
      if (ht <= h + 1e-4 * t * slope || hyd_nrm2(n, gt) <= 0.5 * gn)
        break;
      if (tries >= 30) {
        /* No decrease along a descent direction: rounding dominates, the
         * requested accuracy is below what double precision attains. Stop
         * here; the bound then uses the accuracy actually achieved. */
        res->capped = 1;
        res->grad_norm = gn;
        return;
      }
      t *= 0.5;
    }
    hyd_copy(n, xt, x);
    hyd_copy(n, gt, grad);
    h = ht;
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
  case HYD_LOWER_NEWTON_CG:
    solve_newton(prob, i, theta, cfg, eps, x, work, n, res, errmsg);
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

