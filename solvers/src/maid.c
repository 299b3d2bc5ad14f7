/* MAID (design/maid.md): the rigorous method (section 3), the reference
 * profile (section 4), fixed accuracy and HOAG (section 5), all driving one
 * oracle (oracle.h) so that the serial and the MPI oracle give the same
 * decisions. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "maid_internal.h"

enum { PHASE_CONFIG = 0, PHASE_READY = 1, PHASE_FAILED = 2 };

static double now_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void logf_(hyd_maid *s, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void logf_(hyd_maid *s, int level, const char *fmt, ...)
{
  if (!s->logger)
    return;
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  s->logger(level, line, s->logger_user);
}

/* ---- life cycle ---- */

int hyd_maid_create(hyd_maid **out, const hyd_problem *problem,
                    const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  if (hyd_problem_check(problem) != HYD_OK)
    return HYD_EINVAL;
  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  hyd_maid *s = hyd_alloc_array(&a, 1, sizeof *s);
  if (!s)
    return HYD_ENOMEM;
  memset(s, 0, sizeof *s);
  s->alloc = a;
  s->prob = problem;
  s->p = problem->n_theta;
  hyd_maid_options_default(&s->opt, HYD_METHOD_RIGOROUS);
  s->theta0 = hyd_alloc_array(&a, s->p, sizeof(double));
  if (!s->theta0) {
    hyd_free(&a, s);
    return HYD_ENOMEM;
  }
  hyd_zero(s->p, s->theta0);
  *out = s;
  return HYD_OK;
}

void hyd_maid_destroy(hyd_maid *s)
{
  if (!s)
    return;
  const hyd_allocator *a = &s->alloc;
  hyd_serial_oracle_destroy(s->own_oracle);
  hyd_free(a, s->theta0);
  hyd_free(a, s->theta);
  hyd_free(a, s->trial_thetas);
  hyd_free(a, (void *)s->trial_ptrs);
  hyd_free(a, s->trial_results);
  hyd_free(a, s->warm_snapshot);
  hyd_free(a, s->z);
  hyd_free(a, s->theta_prev);
  hyd_free(a, s->kept_theta);
  hyd_free(a, s->kept_warm);
  hyd_allocator copy = s->alloc;
  hyd_free(&copy, s);
}

/* Setters are only allowed while configuring. */
static int configuring(hyd_maid *s)
{
  if (!s)
    return HYD_EINVAL;
  if (s->phase != PHASE_CONFIG)
    return hyd_set_error(s->errmsg, HYD_ESTATE,
                         "options can only be changed before setup");
  return HYD_OK;
}

int hyd_maid_set_oracle(hyd_maid *s, hyd_oracle oracle)
{
  int rc = configuring(s);
  if (rc != HYD_OK)
    return rc;
  const hyd_oracle_ops *ops = oracle.ops;
  if (!ops || ops->version < 1 || ops->version > HYD_ORACLE_VERSION ||
      !ops->configure || !ops->evaluate || !ops->trials || !ops->accept ||
      !ops->upper_now || !ops->max_trials || !ops->state_size ||
      !ops->save_state || !ops->load_state || !ops->errmsg ||
      (ops->version >= 2 && !ops->keep_state != !ops->save_kept_state))
    return hyd_set_error(s->errmsg, HYD_EINVAL,
                         "oracle table is incomplete or of another version");
  s->oracle = oracle;
  s->oracle_given = 1;
  return HYD_OK;
}

int hyd_maid_set_option(hyd_maid *s, const char *name, const char *value)
{
  int rc = configuring(s);
  if (rc != HYD_OK)
    return rc;
  if (!name || !value)
    return hyd_set_error(s->errmsg, HYD_EINVAL, "option name or value is NULL");
  return hyd_maid_options_set(&s->opt, name, value, s->errmsg);
}

int hyd_maid_get_option(const hyd_maid *s, const char *name, char *buf,
                        size_t size)
{
  if (!s || !name || !buf || size == 0)
    return HYD_EINVAL;
  return hyd_maid_options_get(&s->opt, name, buf, size);
}

/* The typed setters go through the same table, so both paths check the
 * same ranges. */
static int set_number(hyd_maid *s, const char *name, double v)
{
  char text[64];
  snprintf(text, sizeof text, "%.17g", v);
  return hyd_maid_set_option(s, name, text);
}

int hyd_maid_set_method(hyd_maid *s, int method)
{
  static const char *const names[] = {"rigorous", "reference", "fixed", "hoag"};
  int rc = configuring(s);
  if (rc != HYD_OK)
    return rc;
  if (method < 0 || method > HYD_METHOD_HOAG)
    return hyd_set_error(s->errmsg, HYD_EINVAL, "unknown method %d", method);
  return hyd_maid_set_option(s, "method", names[method]);
}
int hyd_maid_set_eps0(hyd_maid *s, double v) { return set_number(s, "eps0", v); }
int hyd_maid_set_delta0(hyd_maid *s, double v) { return set_number(s, "delta0", v); }
int hyd_maid_set_alpha0(hyd_maid *s, double v) { return set_number(s, "alpha0", v); }
int hyd_maid_set_max_iter(hyd_maid *s, long v) { return set_number(s, "max_iter", (double)v); }
int hyd_maid_set_budget(hyd_maid *s, double v) { return set_number(s, "budget", v); }
int hyd_maid_set_gtol(hyd_maid *s, double v) { return set_number(s, "gtol", v); }

int hyd_maid_set_theta0(hyd_maid *s, const double *theta0)
{
  int rc = configuring(s);
  if (rc != HYD_OK)
    return rc;
  if (!theta0 || !hyd_all_finite(s->p, theta0))
    return hyd_set_error(s->errmsg, HYD_EINVAL,
                         "theta0 is NULL or not finite");
  hyd_copy(s->p, theta0, s->theta0);
  return HYD_OK;
}

int hyd_maid_set_monitor(hyd_maid *s, hyd_maid_monitor fn, void *user)
{
  int rc = configuring(s);
  if (rc == HYD_OK) {
    s->monitor = fn;
    s->monitor_user = user;
  }
  return rc;
}

int hyd_maid_set_recorder(hyd_maid *s, hyd_maid_recorder fn, void *user)
{
  int rc = configuring(s);
  if (rc == HYD_OK) {
    s->recorder = fn;
    s->recorder_user = user;
  }
  return rc;
}

int hyd_maid_set_logger(hyd_maid *s, hyd_logger fn, void *user)
{
  int rc = configuring(s);
  if (rc == HYD_OK) {
    s->logger = fn;
    s->logger_user = user;
  }
  return rc;
}

static void reset_state(hyd_maid *s)
{
  s->iter = s->accepted = s->failed_rounds = 0;
  s->bt_max = s->opt.bt_max0;
  s->eps = s->opt.eps0;
  s->delta = s->opt.delta0;
  s->alpha = s->opt.alpha0;
  s->step = 0.0;
  s->g_old = NAN;
  s->hoag_L = 0.0;
  s->hoag_g_prev = NAN;
  s->cur_f_lo = s->cur_f_hi = s->cur_g = NAN;
  s->accepted_last = 0;
  memset(&s->cost, 0, sizeof s->cost);
  s->wall = 0.0;
  s->stop = HYD_STOP_NONE;
  memset(&s->last_eval, 0, sizeof s->last_eval);
  s->last_eval.z = s->z;
  s->last_eval.z_norm = NAN;
  s->last_eval.omega = NAN;
}

int hyd_maid_setup(hyd_maid *s)
{
  int rc = configuring(s);
  if (rc != HYD_OK)
    return rc;
  if ((rc = hyd_maid_options_check(&s->opt, s->errmsg)) != HYD_OK)
    return rc;
  const hyd_allocator *a = &s->alloc;
  if (!s->oracle_given) {
    rc = hyd_serial_oracle_create(&s->own_oracle, s->prob, s->theta0, a);
    if (rc != HYD_OK)
      return hyd_set_error(s->errmsg, rc, "creating the serial oracle: %s",
                           hyd_strerror(rc));
    s->oracle = hyd_serial_oracle_as_oracle(s->own_oracle);
    hyd_serial_oracle_set_interrupt(s->own_oracle, &s->interrupt_requested);
  }
  const hyd_oracle_ops *ops = s->oracle.ops;
  if ((rc = ops->configure(s->oracle.self, &s->opt.oracle)) != HYD_OK)
    return hyd_set_error(s->errmsg, rc, "configuring the oracle: %s",
                         ops->errmsg(s->oracle.self));
  s->max_trials = ops->max_trials(s->oracle.self);
  if (s->max_trials == 0)
    s->max_trials = 1;
  size_t p = s->p, k = s->max_trials;
  s->theta = hyd_alloc_array(a, p, sizeof(double));
  s->z = hyd_alloc_array(a, p, sizeof(double));
  s->theta_prev = hyd_alloc_array(a, p, sizeof(double));
  s->trial_thetas = hyd_alloc_array(a, k * p, sizeof(double));
  s->trial_ptrs = hyd_alloc_array(a, k, sizeof(double *));
  s->trial_results = hyd_alloc_array(a, k, sizeof(hyd_trial));
  s->kept_theta = hyd_alloc_array(a, p, sizeof(double));
  if (s->opt.method == HYD_METHOD_REFERENCE)
    s->warm_snapshot = hyd_alloc_array(a, ops->state_size(s->oracle.self),
                                       sizeof(double));
  if (!s->theta || !s->z || !s->theta_prev || !s->trial_thetas ||
      !s->trial_ptrs || !s->trial_results || !s->kept_theta ||
      (s->opt.method == HYD_METHOD_REFERENCE && !s->warm_snapshot))
    return hyd_set_error(s->errmsg, HYD_ENOMEM, "out of memory in setup");
  for (size_t j = 0; j < k; j++)
    s->trial_ptrs[j] = s->trial_thetas + j * p;
  hyd_copy(p, s->theta0, s->theta);
  hyd_zero(p, s->z);
  reset_state(s);
  s->phase = PHASE_READY;
  return HYD_OK;
}

/* ---- pieces of an iteration ---- */

/* An oracle call's failure ends the solver, except an interruption, which
 * is a stop: the iteration in progress is abandoned (its checkpoint is the
 * previous one) and HYD_EINTR travels up to hyd_maid_iterate. */
static int fail(hyd_maid *s, int rc, const char *what)
{
  if (rc == HYD_EINTR) {
    s->stop = HYD_STOP_INTERRUPTED;
    return rc;
  }
  s->phase = PHASE_FAILED;
  return hyd_set_error(s->errmsg, rc, "%s: %s", what,
                       s->oracle.ops->errmsg(s->oracle.self));
}

static double spent(const hyd_maid *s)
{
  return s->cost.lower_iters + s->cost.cg_iters;
}

/* Sets a stop reason if the run must stop before more work. */
static int must_stop(hyd_maid *s)
{
  if (s->interrupt_requested)
    s->stop = HYD_STOP_INTERRUPTED;
  else if (spent(s) >= s->opt.budget)
    s->stop = HYD_STOP_BUDGET;
  else if (s->opt.method == HYD_METHOD_REFERENCE &&
           s->cost.lower_iters_ref > s->opt.ref_budget)
    s->stop = HYD_STOP_BUDGET;
  return s->stop != HYD_STOP_NONE;
}

static void record(hyd_maid *s, int kind, const double *theta, double step,
                   const hyd_cost *cost, double f_lo, double f_hi, double g,
                   int accepted, double wall)
{
  if (!s->recorder)
    return;
  hyd_maid_event e;
  memset(&e, 0, sizeof e);
  e.kind = kind;
  e.iter = s->iter;
  e.theta = theta;
  e.eps = s->eps;
  e.delta = s->delta;
  e.step = step;
  e.z_norm = kind == HYD_EVENT_EVALUATE ? s->last_eval.z_norm : NAN;
  e.omega = kind == HYD_EVENT_EVALUATE ? s->last_eval.omega : NAN;
  e.f_lo = f_lo;
  e.f_hi = f_hi;
  e.g = g;
  e.accepted = accepted;
  e.cost = *cost;
  e.wall_seconds = wall;
  s->recorder(&e, s->recorder_user);
}

static int evaluate_here(hyd_maid *s)
{
  double t0 = now_seconds();
  hyd_eval *ev = &s->last_eval;
  ev->z = s->z;
  int rc = s->oracle.ops->evaluate(s->oracle.self, s->theta, s->eps, s->delta,
                                   ev);
  if (rc != HYD_OK)
    return fail(s, rc, "oracle evaluation failed");
  hyd_cost_add(&s->cost, &ev->cost);
  s->cur_f_lo = ev->f_lo;
  s->cur_f_hi = ev->f_hi;
  s->cur_g = ev->g;
  record(s, HYD_EVENT_EVALUATE, s->theta, 0.0, &ev->cost, ev->f_lo, ev->f_hi,
         ev->g, 0, now_seconds() - t0);
  return HYD_OK;
}

/* Solves trial points theta - a_k z for steps[0..n) and records them. */
static int solve_trials(hyd_maid *s, size_t n, const double *steps)
{
  double t0 = now_seconds();
  for (size_t k = 0; k < n; k++) {
    double *t = s->trial_thetas + k * s->p;
    for (size_t j = 0; j < s->p; j++)
      t[j] = s->theta[j] - steps[k] * s->z[j];
  }
  int rc = s->oracle.ops->trials(s->oracle.self, n, s->trial_ptrs, s->eps,
                                 s->trial_results);
  if (rc != HYD_OK)
    return fail(s, rc, "line-search trial failed");
  (void)t0;
  return HYD_OK;
}

static void record_trial(hyd_maid *s, size_t k, double step, int accepted,
                         double wall)
{
  hyd_trial *t = &s->trial_results[k];
  record(s, HYD_EVENT_TRIAL, s->trial_thetas + k * s->p, step, &t->cost,
         t->f_lo, t->f_hi, t->g, accepted, wall);
}

static int take_step(hyd_maid *s, size_t k, double a)
{
  int rc = s->oracle.ops->accept(s->oracle.self, k);
  if (rc != HYD_OK)
    return fail(s, rc, "accepting the trial failed");
  hyd_copy(s->p, s->trial_thetas + k * s->p, s->theta);
  hyd_trial *t = &s->trial_results[k];
  s->cur_f_lo = t->f_lo;
  s->cur_f_hi = t->f_hi;
  s->cur_g = t->g;
  s->step = a;
  s->accepted++;
  s->accepted_last = 1;
  return HYD_OK;
}

/* Backtracking with the certified sufficient-decrease test of section 3:
 * f_hi(theta+) - f_lo(theta_k) <= -c a ||z||^2. Trials are solved in
 * batches of what the oracle does at once; the first passing one wins, so
 * the decision is the serial method's. */
static int line_search(hyd_maid *s, int *accepted)
{
  *accepted = 0;
  double zz = s->last_eval.z_norm * s->last_eval.z_norm;
  double f_lo_k = s->last_eval.f_lo;
  double steps[64];
  for (long i = 0; i < s->bt_max;) {
    size_t n = s->max_trials;
    if (n > 64)
      n = 64;
    if ((long)n > s->bt_max - i)
      n = (size_t)(s->bt_max - i);
    for (size_t k = 0; k < n; k++)
      steps[k] = s->alpha * pow(s->opt.rho, (double)(i + (long)k));
    double t0 = now_seconds();
    int rc = solve_trials(s, n, steps);
    if (rc != HYD_OK)
      return rc;
    double wall = (now_seconds() - t0) / (double)n;
    long found = -1;
    for (size_t k = 0; k < n; k++) {
      hyd_cost_add(&s->cost, &s->trial_results[k].cost);
      int pass = s->trial_results[k].f_hi - f_lo_k <=
                 -s->opt.c_armijo * steps[k] * zz;
      if (pass && found < 0)
        found = (long)k;
      record_trial(s, k, steps[k], found == (long)k, wall);
    }
    if (found >= 0) {
      double a = steps[found];
      if ((rc = take_step(s, (size_t)found, a)) != HYD_OK)
        return rc;
      s->alpha = s->opt.rho_up * a;
      if (s->opt.method != HYD_METHOD_FIXED) {
        s->eps *= s->opt.nu_up;
        s->delta *= s->opt.nu_up;
      }
      s->failed_rounds = 0;
      *accepted = 1;
      return HYD_OK;
    }
    i += (long)n;
    if (must_stop(s))
      return HYD_OK;
  }
  return HYD_OK;
}

/* Tightens the accuracies; 0 when eps is already at its floor. */
static int tighten(hyd_maid *s)
{
  if (s->eps <= s->opt.eps_min)
    return 0;
  s->eps = fmax(s->eps * s->opt.nu_down, s->opt.eps_min);
  s->delta = fmax(s->delta * s->opt.nu_down, s->opt.delta_min);
  return 1;
}

/* Rigorous mode and fixed accuracy (sections 3 and 5). */
static int iterate_certified(hyd_maid *s)
{
  int fixed = s->opt.method == HYD_METHOD_FIXED;
  for (;;) {
    if (must_stop(s))
      return HYD_OK;
    int rc = evaluate_here(s);
    if (rc != HYD_OK)
      return rc;
    const hyd_eval *ev = &s->last_eval;
    if (ev->z_norm + ev->omega <= s->opt.gtol) {
      s->stop = HYD_STOP_GTOL;
      return HYD_OK;
    }
    if (ev->omega <= (1.0 - s->opt.eta) * ev->z_norm) {
      int accepted;
      if ((rc = line_search(s, &accepted)) != HYD_OK)
        return rc;
      if (accepted || s->stop)
        return HYD_OK;
      s->bt_max++;
      logf_(s, 0, "iteration %ld: no step accepted at eps=%g", s->iter, s->eps);
    } else {
      logf_(s, 0, "iteration %ld: omega=%g vs ||z||=%g, not a certified "
            "descent direction at eps=%g", s->iter, ev->omega, ev->z_norm,
            s->eps);
    }
    s->failed_rounds++;
    if (fixed) {
      if (s->failed_rounds >= s->opt.stall_rounds) {
        s->stop = HYD_STOP_STALLED;
        return HYD_OK;
      }
      continue;
    }
    if (!tighten(s)) {
      s->stop = HYD_STOP_EPS_FLOOR;
      return HYD_OK;
    }
    /* After a failed descent test: an evaluation at accuracies the last one
     * already met would re-solve nothing (the lower solve stops at its
     * first test, CG at its warm start), return the same z and omega and
     * fail the same test. Such rounds are counted and passed over. */
    while (ev->omega > (1.0 - s->opt.eta) * ev->z_norm &&
           ev->eps_achieved <= s->eps && ev->delta_binding <= s->delta) {
      s->failed_rounds++;
      if (!tighten(s)) {
        s->stop = HYD_STOP_EPS_FLOOR;
        return HYD_OK;
      }
    }
  }
}

/* The reference code's decisions (section 4). */
static int iterate_reference(hyd_maid *s)
{
  const hyd_oracle_ops *ops = s->oracle.ops;
  void *self = s->oracle.self;
  int rc;
  if (isnan(s->g_old)) { /* g at the unsolved start, as the reference does */
    if ((rc = ops->upper_now(self, &s->g_old)) != HYD_OK)
      return fail(s, rc, "upper value at the start failed");
  }
  double eta2 = s->opt.eta * s->opt.eta;
  for (long j = 0; j < s->opt.ref_rounds; j++) {
    /* Its descent loop re-solves from the same point with tighter eps. */
    if ((rc = ops->save_state(self, s->warm_snapshot)) != HYD_OK)
      return fail(s, rc, "saving warm starts failed");
    for (;;) {
      if (must_stop(s))
        return HYD_OK;
      if ((rc = evaluate_here(s)) != HYD_OK)
        return rc;
      if (!(s->last_eval.omega / s->last_eval.z_norm > 1.0 - s->opt.eta))
        break;
      if (s->eps <= s->opt.eps_min) {
        s->stop = HYD_STOP_EPS_FLOOR;
        return HYD_OK;
      }
      s->eps *= s->opt.nu_down;
      s->delta *= s->opt.nu_down;
      if ((rc = ops->load_state(self, s->warm_snapshot)) != HYD_OK)
        return fail(s, rc, "restoring warm starts failed");
    }
    const hyd_eval *ev = &s->last_eval;
    double zz = ev->z_norm * ev->z_norm, gk_norm = ev->grad_g_norm;
    double eps = s->eps, Lg = ev->Lg;
    long trials = s->opt.bt_max0 + j;
    for (long i = 0; i < trials; i++) {
      double a = s->alpha * pow(s->opt.rho, (double)i);
      double t0 = now_seconds();
      if ((rc = solve_trials(s, 1, &a)) != HYD_OK)
        return rc;
      const hyd_trial *t = &s->trial_results[0];
      hyd_cost_add(&s->cost, &t->cost);
      double lhs = t->g + t->grad_g_norm * eps + Lg * eps * eps / 2.0 -
                   s->g_old + gk_norm * eps;
      int pass = lhs <= -a * eta2 * zz;
      record_trial(s, 0, a, pass, now_seconds() - t0);
      if (pass) {
        s->g_old = t->g;
        if ((rc = take_step(s, 0, a)) != HYD_OK)
          return rc;
        s->alpha = a * s->opt.rho_up;
        s->eps *= s->opt.nu_up;
        s->delta *= s->opt.nu_up;
        return HYD_OK;
      }
      if (must_stop(s))
        return HYD_OK;
    }
    s->eps *= s->opt.nu_down;
    s->delta *= s->opt.nu_down;
    s->failed_rounds++;
  }
  return HYD_OK; /* every round failed: theta stays put this iteration */
}

static double hoag_accuracy(const hyd_maid *s)
{
  double k1 = (double)s->iter + 1.0;
  switch (s->opt.hoag_schedule) {
  case HYD_HOAG_QUADRATIC: return s->opt.eps0 / (k1 * k1);
  case HYD_HOAG_CUBIC: return s->opt.eps0 / (k1 * k1 * k1);
  default: return s->opt.eps0 * pow(0.9, (double)s->iter);
  }
}

/* HOAG (Pedregosa 2016, and its public code): a step 1/L every iteration;
 * L shrinks by 0.95 after a sufficient decrease (its test, with C = 0.25
 * and factor 0.1 on the previous step length), doubles on a blow-up
 * (g_k >= 1.2 g_{k-1}), which also undoes the last step; no certificate. */
static int iterate_hoag(hyd_maid *s)
{
  if (must_stop(s))
    return HYD_OK;
  s->eps = fmax(hoag_accuracy(s), s->opt.eps_min);
  s->delta = s->eps;
  int rc = evaluate_here(s);
  if (rc != HYD_OK)
    return rc;
  const hyd_eval *ev = &s->last_eval;
  if (ev->z_norm + ev->omega <= s->opt.gtol) {
    s->stop = HYD_STOP_GTOL;
    return HYD_OK;
  }
  double g = ev->g;
  if (s->hoag_L == 0.0) {
    s->hoag_L = s->opt.hoag_L0 > 0.0 ? s->opt.hoag_L0
                                     : (ev->z_norm > 1e-3 ? ev->z_norm : 1.0);
  } else {
    const double C = 0.25, factor = 0.1;
    double incr = s->step * s->hoag_step_norm; /* length of the last step */
    if (g <= s->hoag_g_prev + C * s->eps + s->eps * (C + factor) * incr -
                 factor * s->hoag_L * incr * incr) {
      s->hoag_L *= 0.95;
    } else if (g >= 1.2 * s->hoag_g_prev) {
      s->hoag_L *= 2.0;
      hyd_copy(s->p, s->theta_prev, s->theta);
      s->failed_rounds++;
      return HYD_OK;
    }
  }
  hyd_copy(s->p, s->theta, s->theta_prev);
  s->hoag_g_prev = g;
  s->step = 1.0 / s->hoag_L;
  s->hoag_step_norm = ev->z_norm;
  hyd_axpy(s->p, -s->step, s->z, s->theta);
  s->accepted++;
  s->accepted_last = 1;
  return HYD_OK;
}

int hyd_maid_iterate(hyd_maid *s)
{
  if (!s)
    return HYD_EINVAL;
  if (s->phase != PHASE_READY)
    return hyd_set_error(s->errmsg, HYD_ESTATE, "%s",
                         s->phase == PHASE_CONFIG
                             ? "hyd_maid_setup has not been called"
                             : "the solver failed earlier; see its message");
  if (s->stop != HYD_STOP_NONE)
    return HYD_OK;
  if (s->iter >= s->opt.max_iter) {
    s->stop = HYD_STOP_MAX_ITER;
    return HYD_OK;
  }
  double t0 = now_seconds();
  s->accepted_last = 0;
  int rc;
  switch (s->opt.method) {
  case HYD_METHOD_REFERENCE: rc = iterate_reference(s); break;
  case HYD_METHOD_HOAG: rc = iterate_hoag(s); break;
  default: rc = iterate_certified(s); break;
  }
  s->wall += now_seconds() - t0;
  if (rc == HYD_EINTR)
    rc = HYD_OK; /* a stop, not a failure: the reason says interrupted */
  if (rc != HYD_OK)
    return rc;
  /* An iteration counts when it moved theta or used up its rounds; one cut
   * short by a stop does not. */
  if (s->stop == HYD_STOP_NONE || s->accepted_last)
    s->iter++;
  if (s->monitor && s->stop == HYD_STOP_NONE) {
    hyd_maid_info info;
    hyd_maid_get_info(s, &info);
    if (s->monitor(s, &info, s->monitor_user) != 0)
      s->stop = HYD_STOP_USER;
  }
  if (s->stop == HYD_STOP_NONE && s->iter >= s->opt.max_iter)
    s->stop = HYD_STOP_MAX_ITER;
  return HYD_OK;
}

int hyd_maid_solve(hyd_maid *s)
{
  if (!s)
    return HYD_EINVAL;
  int rc = HYD_OK;
  while (rc == HYD_OK && s->stop == HYD_STOP_NONE)
    rc = hyd_maid_iterate(s);
  return rc;
}

void hyd_maid_interrupt(hyd_maid *s)
{
  if (s)
    s->interrupt_requested = 1;
}

/* ---- results ---- */

int hyd_maid_stop_reason(const hyd_maid *s)
{
  return s ? s->stop : HYD_STOP_NONE;
}

const double *hyd_maid_theta(const hyd_maid *s)
{
  if (!s)
    return NULL;
  return s->theta ? s->theta : s->theta0;
}

size_t hyd_maid_n_theta(const hyd_maid *s) { return s ? s->p : 0; }

void hyd_maid_get_info(const hyd_maid *s, hyd_maid_info *info)
{
  if (!info)
    return;
  memset(info, 0, sizeof *info);
  if (!s)
    return;
  info->iter = s->iter;
  info->accepted = s->accepted;
  info->eps = s->eps;
  info->delta = s->delta;
  info->alpha = s->opt.method == HYD_METHOD_HOAG && s->hoag_L > 0
                    ? 1.0 / s->hoag_L
                    : s->alpha;
  info->step = s->step;
  info->z_norm = s->last_eval.z_norm;
  info->omega = s->last_eval.omega;
  info->f_lo = s->cur_f_lo;
  info->f_hi = s->cur_f_hi;
  info->g = s->cur_g;
  info->certified = s->last_eval.certified;
  info->accepted_last = s->accepted_last;
  info->cost = s->cost;
  info->wall_seconds = s->wall;
}

const char *hyd_maid_errmsg(const hyd_maid *s)
{
  return s ? s->errmsg : "no solver (NULL handle)";
}

const char *hyd_stop_reason_name(int reason)
{
  switch (reason) {
  case HYD_STOP_NONE: return "running";
  case HYD_STOP_GTOL: return "converged";
  case HYD_STOP_EPS_FLOOR: return "eps_floor";
  case HYD_STOP_MAX_ITER: return "max_iter";
  case HYD_STOP_BUDGET: return "budget";
  case HYD_STOP_USER: return "user";
  case HYD_STOP_INTERRUPTED: return "interrupted";
  case HYD_STOP_STALLED: return "stalled";
  default: return "unknown";
  }
}

const char *hyd_stop_reason_text(int reason)
{
  switch (reason) {
  case HYD_STOP_NONE: return "the run has not stopped";
  case HYD_STOP_GTOL: return "converged: ||z|| + omega <= gtol";
  case HYD_STOP_EPS_FLOOR:
    return "converged to attainable accuracy: eps reached eps_min";
  case HYD_STOP_MAX_ITER: return "reached the iteration limit";
  case HYD_STOP_BUDGET: return "spent the lower-level + CG iteration budget";
  case HYD_STOP_USER: return "stopped by the monitor";
  case HYD_STOP_INTERRUPTED: return "interrupted";
  case HYD_STOP_STALLED:
    return "stalled: at fixed accuracy no step can be certified any more";
  default: return "unknown stop reason";
  }
}

/* ---- checkpoints ---- */

size_t hyd_maid_warm_size(const hyd_maid *s)
{
  if (!s || s->phase == PHASE_CONFIG)
    return 0;
  return s->oracle.ops->state_size(s->oracle.self);
}

static void fill_checkpoint(const hyd_maid *s, hyd_maid_checkpoint *cp,
                            double *theta)
{
  memset(cp, 0, sizeof *cp);
  cp->iter = s->iter;
  cp->accepted = s->accepted;
  cp->bt_max = s->bt_max;
  cp->failed_rounds = s->failed_rounds;
  cp->eps = s->eps;
  cp->delta = s->delta;
  cp->alpha = s->alpha;
  cp->step = s->step;
  cp->g_old = s->g_old;
  cp->hoag_L = s->hoag_L;
  cp->hoag_g_prev = s->hoag_g_prev;
  cp->z_norm = s->last_eval.z_norm;
  cp->omega = s->last_eval.omega;
  cp->f_lo = s->cur_f_lo;
  cp->f_hi = s->cur_f_hi;
  cp->g = s->cur_g;
  cp->cost = s->cost;
  cp->wall_seconds = s->wall;
  hyd_copy(s->p, s->theta, theta);
}

int hyd_maid_save(const hyd_maid *s, hyd_maid_checkpoint *cp, double *theta,
                  double *warm)
{
  if (!s || !cp || !theta)
    return HYD_EINVAL;
  if (s->phase == PHASE_CONFIG)
    return HYD_ESTATE;
  fill_checkpoint(s, cp, theta);
  if (warm)
    return s->oracle.ops->save_state(s->oracle.self, warm);
  return HYD_OK;
}

static int oracle_keeps(const hyd_oracle_ops *ops)
{
  return ops->version >= 2 && ops->keep_state;
}

int hyd_maid_keep(hyd_maid *s)
{
  if (!s)
    return HYD_EINVAL;
  if (s->phase == PHASE_CONFIG)
    return HYD_ESTATE;
  const hyd_oracle_ops *ops = s->oracle.ops;
  void *self = s->oracle.self;
  s->have_kept = 0;
  int rc;
  if (oracle_keeps(ops)) {
    rc = ops->keep_state(self);
  } else {
    if (!s->kept_warm)
      s->kept_warm = hyd_alloc_array(&s->alloc, ops->state_size(self),
                                     sizeof(double));
    rc = s->kept_warm ? ops->save_state(self, s->kept_warm) : HYD_ENOMEM;
  }
  if (rc != HYD_OK)
    return hyd_set_error(s->errmsg, rc, "keeping the warm starts: %s",
                         rc == HYD_ENOMEM ? "out of memory" : ops->errmsg(self));
  fill_checkpoint(s, &s->kept_cp, s->kept_theta);
  s->have_kept = 1;
  return HYD_OK;
}

int hyd_maid_save_kept(const hyd_maid *s, hyd_maid_checkpoint *cp,
                       double *theta, double *warm)
{
  if (!s || !cp || !theta)
    return HYD_EINVAL;
  if (!s->have_kept)
    return HYD_ESTATE;
  const hyd_oracle_ops *ops = s->oracle.ops;
  if (warm) {
    int rc = HYD_OK;
    if (oracle_keeps(ops))
      rc = ops->save_kept_state(s->oracle.self, warm);
    else
      hyd_copy(ops->state_size(s->oracle.self), s->kept_warm, warm);
    if (rc != HYD_OK)
      return rc;
  }
  *cp = s->kept_cp;
  hyd_copy(s->p, s->kept_theta, theta);
  return HYD_OK;
}

int hyd_maid_restore(hyd_maid *s, const hyd_maid_checkpoint *cp,
                     const double *theta, const double *warm)
{
  if (!s || !cp || !theta)
    return HYD_EINVAL;
  if (s->phase != PHASE_READY)
    return hyd_set_error(s->errmsg, HYD_ESTATE,
                         "restore needs a solver that is set up");
  if (!hyd_all_finite(s->p, theta) || !(cp->eps > 0) || !(cp->delta > 0) ||
      !(cp->alpha > 0) || cp->iter < 0 || cp->bt_max < 1)
    return hyd_set_error(s->errmsg, HYD_EINVAL, "checkpoint is inconsistent");
  if (warm) {
    int rc = s->oracle.ops->load_state(s->oracle.self, warm);
    if (rc != HYD_OK)
      return hyd_set_error(s->errmsg, rc, "restoring warm starts: %s",
                           s->oracle.ops->errmsg(s->oracle.self));
  }
  hyd_copy(s->p, theta, s->theta);
  s->iter = cp->iter;
  s->accepted = cp->accepted;
  s->bt_max = cp->bt_max;
  s->failed_rounds = cp->failed_rounds;
  s->eps = cp->eps;
  s->delta = cp->delta;
  s->alpha = cp->alpha;
  s->step = cp->step;
  s->g_old = cp->g_old;
  s->hoag_L = cp->hoag_L;
  s->hoag_g_prev = cp->hoag_g_prev;
  s->last_eval.z_norm = cp->z_norm;
  s->last_eval.omega = cp->omega;
  s->cur_f_lo = cp->f_lo;
  s->cur_f_hi = cp->f_hi;
  s->cur_g = cp->g;
  s->cost = cp->cost;
  s->wall = cp->wall_seconds;
  s->stop = HYD_STOP_NONE;
  s->have_kept = 0; /* set aside before the restore: not this run's state */
  return HYD_OK;
}
