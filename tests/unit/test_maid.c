/* MAID end to end on quadratics: rigorous convergence to the closed-form
 * theta*, the fixed-accuracy stall, stop reasons, checkpoints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "support.h"

static double rel_error(size_t p, const double *a, const double *b)
{
  double d = 0.0, n = 0.0;
  for (size_t j = 0; j < p; j++) {
    d += (a[j] - b[j]) * (a[j] - b[j]);
    n += b[j] * b[j];
  }
  return sqrt(d / n);
}

static hyd_maid *make_solver(const hyd_problem *prob, const char *const *opts)
{
  hyd_maid *s;
  cr_assert_eq(hyd_maid_create(&s, prob, NULL), HYD_OK);
  for (int k = 0; opts && opts[k]; k += 2)
    cr_assert_eq(hyd_maid_set_option(s, opts[k], opts[k + 1]), HYD_OK,
                 "%s=%s: %s", opts[k], opts[k + 1], hyd_maid_errmsg(s));
  return s;
}

Test(maid, rigorous_converges_to_closed_form_optimum)
{
  for (unsigned long seed = 11; seed <= 13; seed++) {
    hyd_quadratic *q;
    cr_assert_eq(hyd_quadratic_generate(&q, 400, 40, 12, 50.0, 100.0, 1e-4,
                                        seed, NULL), HYD_OK);
    double theta_star[12], f_star;
    hyd_quadratic_solution(q, theta_star, &f_star);
    double tnorm = 0.0;
    for (int j = 0; j < 12; j++)
      tnorm += theta_star[j] * theta_star[j];
    /* ||theta - theta*|| <= ||grad f|| / lambda_min(M^T M) = ||grad f||
     * here (eigenvalues in [1, 100]), and ||grad f|| <= ||z|| + omega. */
    char gtol[32];
    snprintf(gtol, sizeof gtol, "%.17g", 1e-7 * sqrt(tnorm));
    const char *opts[] = {"gtol", gtol, "max_iter", "100000", NULL};
    hyd_maid *s = make_solver(hyd_quadratic_problem(q), opts);
    cr_assert_eq(hyd_maid_setup(s), HYD_OK);
    cr_assert_eq(hyd_maid_solve(s), HYD_OK, "%s", hyd_maid_errmsg(s));
    cr_expect_eq(hyd_maid_stop_reason(s), HYD_STOP_GTOL, "stopped: %s",
                 hyd_stop_reason_name(hyd_maid_stop_reason(s)));
    cr_expect_str_eq(hyd_stop_reason_name(hyd_maid_stop_reason(s)),
                     "converged");
    double err = rel_error(12, hyd_maid_theta(s), theta_star);
    cr_expect_leq(err, 1e-6, "relative error %g (seed %lu)", err, seed);
    hyd_maid_info info;
    hyd_maid_get_info(s, &info);
    cr_expect(info.certified);
    hyd_maid_destroy(s);
    hyd_quadratic_destroy(q);
  }
}

Test(maid, fixed_accuracy_stalls_and_says_so)
{
  hyd_quadratic *q = test_reference_quadratic();
  cr_assert_not_null(q);
  double theta0[10];
  for (int j = 0; j < 10; j++)
    theta0[j] = 1.0;
  const char *opts[] = {"method", "fixed", "eps0", "1e-3", "delta0", "1e-3",
                        "max_iter", "3000", NULL};
  hyd_maid *s = make_solver(hyd_quadratic_problem(q), opts);
  hyd_maid_set_theta0(s, theta0);
  cr_assert_eq(hyd_maid_setup(s), HYD_OK);
  cr_assert_eq(hyd_maid_solve(s), HYD_OK);
  hyd_maid_info info;
  hyd_maid_get_info(s, &info);
  cr_expect_eq(hyd_maid_stop_reason(s), HYD_STOP_STALLED);
  cr_expect_leq(info.accepted, 10, "accepted %ld steps", info.accepted);
  cr_expect_lt(info.iter, 3000);
  double f;
  hyd_quadratic_exact(q, hyd_maid_theta(s), &f, NULL);
  cr_expect_gt(f, 50.0, "fixed 1e-3 should stall well above f* (f = %g)", f);
  hyd_maid_destroy(s);
  hyd_quadratic_destroy(q);
}

static int stop_after_five(const hyd_maid *s, const hyd_maid_info *info,
                           void *user)
{
  (void)s;
  (*(int *)user)++;
  return info->iter >= 5;
}

Test(maid, monitor_budget_interrupt_and_max_iter_stop_the_run)
{
  hyd_quadratic *q = test_reference_quadratic();
  cr_assert_not_null(q);
  const hyd_problem *prob = hyd_quadratic_problem(q);
  int calls = 0;
  hyd_maid *s = make_solver(prob, NULL);
  hyd_maid_set_monitor(s, stop_after_five, &calls);
  hyd_maid_setup(s);
  cr_assert_eq(hyd_maid_solve(s), HYD_OK);
  cr_expect_eq(hyd_maid_stop_reason(s), HYD_STOP_USER);
  cr_expect_eq(calls, 5);
  hyd_maid_destroy(s);

  const char *budget[] = {"budget", "500", NULL};
  s = make_solver(prob, budget);
  hyd_maid_setup(s);
  hyd_maid_solve(s);
  hyd_maid_info info;
  hyd_maid_get_info(s, &info);
  cr_expect_eq(hyd_maid_stop_reason(s), HYD_STOP_BUDGET);
  cr_expect_geq(info.cost.lower_iters + info.cost.cg_iters, 500);
  hyd_maid_destroy(s);

  s = make_solver(prob, NULL);
  hyd_maid_setup(s);
  cr_assert_eq(hyd_maid_iterate(s), HYD_OK);
  hyd_maid_interrupt(s);
  cr_assert_eq(hyd_maid_iterate(s), HYD_OK);
  cr_expect_eq(hyd_maid_stop_reason(s), HYD_STOP_INTERRUPTED);
  hyd_maid_get_info(s, &info);
  cr_expect_eq(info.iter, 1, "an interrupted iteration does not count");
  hyd_maid_destroy(s);

  const char *few[] = {"max_iter", "7", NULL};
  s = make_solver(prob, few);
  hyd_maid_setup(s);
  hyd_maid_solve(s);
  hyd_maid_get_info(s, &info);
  cr_expect_eq(hyd_maid_stop_reason(s), HYD_STOP_MAX_ITER);
  cr_expect_eq(info.iter, 7);
  hyd_maid_destroy(s);
  hyd_quadratic_destroy(q);
}

/* A run cut at iteration k and continued from its checkpoint in a fresh
 * solver ends exactly where the uninterrupted run ends. */
static void check_resume(const char *method, const char *eps0)
{
  hyd_quadratic *q = test_reference_quadratic();
  cr_assert_not_null(q);
  const hyd_problem *prob = hyd_quadratic_problem(q);
  const char *opts[] = {"method", method, "max_iter", "60", "eps0", eps0,
                        "delta0", eps0, NULL};
  hyd_maid *whole = make_solver(prob, opts);
  hyd_maid_setup(whole);
  hyd_maid_solve(whole);
  cr_assert_eq(hyd_maid_stop_reason(whole), HYD_STOP_MAX_ITER);

  hyd_maid *first = make_solver(prob, opts);
  hyd_maid_setup(first);
  for (int k = 0; k < 25; k++)
    hyd_maid_iterate(first);
  hyd_maid_checkpoint cp;
  double theta[10];
  size_t nw = hyd_maid_warm_size(first);
  double *warm = malloc(nw * sizeof *warm);
  cr_assert_eq(hyd_maid_save(first, &cp, theta, warm), HYD_OK);
  hyd_maid_destroy(first);

  hyd_maid *second = make_solver(prob, opts);
  hyd_maid_setup(second);
  cr_assert_eq(hyd_maid_restore(second, &cp, theta, warm), HYD_OK);
  hyd_maid_solve(second);
  cr_expect_eq(memcmp(hyd_maid_theta(second), hyd_maid_theta(whole),
                      10 * sizeof(double)), 0,
               "%s: resumed theta differs from the uninterrupted run", method);
  hyd_maid_info a, b;
  hyd_maid_get_info(whole, &a);
  hyd_maid_get_info(second, &b);
  cr_expect_eq(a.cost.lower_iters, b.cost.lower_iters);
  cr_expect_eq(a.cost.cg_iters, b.cost.cg_iters);
  free(warm);
  hyd_maid_destroy(second);
  hyd_maid_destroy(whole);
  hyd_quadratic_destroy(q);
}

Test(maid, checkpoint_resumes_bit_for_bit_rigorous) { check_resume("rigorous", "0.1"); }
Test(maid, checkpoint_resumes_bit_for_bit_hoag) { check_resume("hoag", "0.1"); }
Test(maid, checkpoint_resumes_bit_for_bit_fixed) { check_resume("fixed", "1e-5"); }

/* hyd_maid_keep sets a whole iteration's state aside; iterations later,
 * hyd_maid_save_kept gives what hyd_maid_save gave at the keep, and a run
 * restored from it ends exactly where the uninterrupted run ends (what a
 * signal that cuts an iteration short relies on). */
Test(maid, kept_state_is_the_state_at_the_keep)
{
  hyd_quadratic *q = test_reference_quadratic();
  cr_assert_not_null(q);
  const hyd_problem *prob = hyd_quadratic_problem(q);
  const char *opts[] = {"max_iter", "60", NULL};
  hyd_maid *whole = make_solver(prob, opts);
  hyd_maid_setup(whole);
  hyd_maid_solve(whole);

  hyd_maid *s = make_solver(prob, opts);
  hyd_maid_checkpoint cp, kept;
  double theta[10], kept_theta[10];
  cr_expect_eq(hyd_maid_keep(s), HYD_ESTATE, "keep before setup");
  hyd_maid_setup(s);
  size_t nw = hyd_maid_warm_size(s);
  double *warm = malloc(nw * sizeof *warm), *kept_warm = malloc(nw * sizeof *warm);
  cr_expect_eq(hyd_maid_save_kept(s, &kept, kept_theta, kept_warm), HYD_ESTATE,
               "nothing kept yet");
  for (int k = 0; k < 25; k++)
    hyd_maid_iterate(s);
  cr_assert_eq(hyd_maid_keep(s), HYD_OK);
  cr_assert_eq(hyd_maid_save(s, &cp, theta, warm), HYD_OK);
  for (int k = 0; k < 5; k++)
    hyd_maid_iterate(s);
  cr_assert_eq(hyd_maid_save_kept(s, &kept, kept_theta, kept_warm), HYD_OK);
  cr_expect_eq(kept.iter, 25);
  cr_expect_eq(memcmp(&kept, &cp, sizeof cp), 0, "method state differs");
  cr_expect_eq(memcmp(kept_theta, theta, sizeof theta), 0, "theta differs");
  cr_expect_eq(memcmp(kept_warm, warm, nw * sizeof *warm), 0,
               "warm starts differ");
  hyd_maid_destroy(s);

  hyd_maid *second = make_solver(prob, opts);
  hyd_maid_setup(second);
  cr_assert_eq(hyd_maid_keep(second), HYD_OK);
  cr_assert_eq(hyd_maid_restore(second, &kept, kept_theta, kept_warm), HYD_OK);
  cr_expect_eq(hyd_maid_save_kept(second, &cp, theta, warm), HYD_ESTATE,
               "a restore forgets what was kept before it");
  hyd_maid_solve(second);
  cr_expect_eq(memcmp(hyd_maid_theta(second), hyd_maid_theta(whole),
                      10 * sizeof(double)), 0,
               "resumed from the kept state, theta differs");
  free(warm);
  free(kept_warm);
  hyd_maid_destroy(second);
  hyd_maid_destroy(whole);
  hyd_quadratic_destroy(q);
}

typedef struct counts {
  int evaluations, trials, accepted;
} counts;

static void count_events(const hyd_maid_event *e, void *user)
{
  counts *c = user;
  if (e->kind == HYD_EVENT_EVALUATE)
    c->evaluations++;
  else
    c->trials++;
  c->accepted += e->accepted;
}

Test(maid, recorder_sees_every_evaluation_and_trial)
{
  hyd_quadratic *q = test_reference_quadratic();
  cr_assert_not_null(q);
  const char *opts[] = {"max_iter", "20", NULL};
  hyd_maid *s = make_solver(hyd_quadratic_problem(q), opts);
  counts c = {0, 0, 0};
  hyd_maid_set_recorder(s, count_events, &c);
  hyd_maid_setup(s);
  hyd_maid_solve(s);
  hyd_maid_info info;
  hyd_maid_get_info(s, &info);
  cr_expect_eq(c.evaluations, (int)info.cost.evaluations);
  cr_expect_eq(c.trials, (int)info.cost.trials);
  cr_expect_eq(c.accepted, (int)info.accepted);
  cr_expect_eq(info.accepted, 20);
  hyd_maid_destroy(s);
  hyd_quadratic_destroy(q);
}

Test(maid, hoag_schedules_run_and_decrease_f)
{
  hyd_quadratic *q;
  cr_assert_eq(hyd_quadratic_generate(&q, 200, 20, 5, 10.0, 10.0, 0.05, 3,
                                      NULL), HYD_OK);
  const char *schedules[] = {"geometric", "quadratic", "cubic"};
  double zero[5] = {0}, f0;
  hyd_quadratic_exact(q, zero, &f0, NULL);
  for (int k = 0; k < 3; k++) {
    const char *opts[] = {"method", "hoag", "hoag.schedule", schedules[k],
                          "max_iter", "50", NULL};
    hyd_maid *s = make_solver(hyd_quadratic_problem(q), opts);
    hyd_maid_setup(s);
    cr_assert_eq(hyd_maid_solve(s), HYD_OK);
    double f;
    hyd_quadratic_exact(q, hyd_maid_theta(s), &f, NULL);
    cr_expect_lt(f, 0.5 * f0, "%s: f %g from %g", schedules[k], f, f0);
    hyd_maid_destroy(s);
  }
  hyd_quadratic_destroy(q);
}

/* An interrupt that arrives in the middle of a lower-level solve (as a
 * signal does) ends that solve at its next iteration: the run stops with
 * "interrupted" instead of finishing a solve that may take minutes. */
typedef struct interrupting {
  const hyd_problem *inner;
  hyd_maid *solver;
  long calls, interrupt_at, calls_after;
} interrupting;

static interrupting the_interrupting;

static int grad_then_interrupt(void *ctx, size_t i, const double *theta,
                               const double *x, double *value, double *grad)
{
  interrupting *t = &the_interrupting;
  (void)ctx;
  if (++t->calls == t->interrupt_at)
    hyd_maid_interrupt(t->solver);
  if (t->calls > t->interrupt_at)
    t->calls_after++;
  return t->inner->lower_grad(t->inner->ctx, i, theta, x, value, grad);
}

Test(maid, interrupt_cuts_a_long_lower_level_solve_short)
{
  hyd_quadratic *q;
  cr_assert_eq(hyd_quadratic_generate(&q, 300, 30, 5, 1e4, 10.0, 0.1, 4,
                                      NULL), HYD_OK);
  hyd_problem p = *hyd_quadratic_problem(q);
  the_interrupting = (interrupting){hyd_quadratic_problem(q), NULL, 0, 50, 0};
  p.lower_grad = grad_then_interrupt;
  /* Plain gradient descent at condition 1e4 and eps 1e-12: one solve takes
   * hundreds of thousands of iterations. */
  const char *opts[] = {"lower.method", "gd", "eps0", "1e-12", "delta0",
                        "1e-12", "eps_min", "1e-14", NULL};
  hyd_maid *s = make_solver(&p, opts);
  the_interrupting.solver = s;
  cr_assert_eq(hyd_maid_setup(s), HYD_OK);
  cr_assert_eq(hyd_maid_iterate(s), HYD_OK, "%s", hyd_maid_errmsg(s));
  cr_expect_eq(hyd_maid_stop_reason(s), HYD_STOP_INTERRUPTED);
  cr_expect_leq(the_interrupting.calls_after, 1,
                "%ld gradient calls after the interrupt",
                the_interrupting.calls_after);
  hyd_maid_info info;
  hyd_maid_get_info(s, &info);
  cr_expect_eq(info.iter, 0);
  cr_expect_eq(hyd_maid_iterate(s), HYD_OK, "a stopped solver stays stopped");
  hyd_maid_destroy(s);
  hyd_quadratic_destroy(q);
}
