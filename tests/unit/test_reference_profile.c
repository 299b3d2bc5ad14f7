/* The reference profile reproduces the MAID authors' run on the reference
 * quadratic (shared/reference/README.md, adaptive eps0 = 1e-3). */
#include <math.h>

#include <criterion/criterion.h>

#include "support.h"

typedef struct trace {
  double step[4], g[4];
  long accepted_seen;
} trace;

static int watch(const hyd_maid *s, const hyd_maid_info *info, void *user)
{
  (void)s;
  trace *t = user;
  if (info->accepted_last && info->accepted <= 3) {
    t->step[info->accepted] = info->step;
    t->g[info->accepted] = info->g;
  }
  t->accepted_seen = info->accepted;
  return 0;
}

static double rel(double a, double b) { return fabs(a - b) / fabs(b); }

Test(reference_profile, reproduces_the_published_quadratic_run, .timeout = 300)
{
  hyd_quadratic *q = test_reference_quadratic();
  cr_assert_not_null(q);
  double theta0[10];
  for (int j = 0; j < 10; j++)
    theta0[j] = 1.0;
  hyd_maid *s;
  cr_assert_eq(hyd_maid_create(&s, hyd_quadratic_problem(q), NULL), HYD_OK);
  const char *opts[] = {"method", "reference", "eps0", "1e-3", "delta0",
                        "1e-3", "alpha0", "0.01", "rho", "0.5", "nu_down",
                        "0.5", "nu_up", "1.25", "eta", "1e-4",
                        "ref.stop_scale", "2", "max_iter", "3000", NULL};
  for (int k = 0; opts[k]; k += 2)
    cr_assert_eq(hyd_maid_set_option(s, opts[k], opts[k + 1]), HYD_OK);
  hyd_maid_set_theta0(s, theta0);
  trace t = {{0}, {0}, 0};
  hyd_maid_set_monitor(s, watch, &t);
  cr_assert_eq(hyd_maid_setup(s), HYD_OK);
  cr_assert_eq(hyd_maid_solve(s), HYD_OK, "%s", hyd_maid_errmsg(s));
  cr_expect_eq(hyd_maid_stop_reason(s), HYD_STOP_MAX_ITER);

  /* First accepted step 0.01 * 0.5^5, then x10/9 (accepted at i = 0). */
  cr_expect_float_eq(t.step[1], 3.125e-4, 1e-12);
  cr_expect_float_eq(t.step[2], 3.125e-4 * 10.0 / 9.0, 1e-12);
  cr_expect_float_eq(t.step[3], 3.125e-4 * 100.0 / 81.0, 1e-12);
  cr_expect_leq(rel(t.g[1], 208.34), 1e-3, "g at step 1: %g", t.g[1]);
  cr_expect_leq(rel(t.g[2], 97.61), 1e-3, "g at step 2: %g", t.g[2]);

  hyd_maid_info info;
  hyd_maid_get_info(s, &info);
  double f;
  hyd_quadratic_exact(q, hyd_maid_theta(s), &f, NULL);
  cr_expect_eq(info.iter, 3000);
  cr_expect_geq(info.accepted, 2990, "accepted %ld", info.accepted);
  cr_expect_leq(rel(f, 22.28), 0.03, "exact f after 3000 iterations: %g", f);
  cr_expect_leq(rel(info.cost.lower_iters_ref, 313818), 0.10,
                "lower-level iterations (reference count) %g",
                info.cost.lower_iters_ref);
  cr_expect_leq(rel(info.cost.cg_iters, 64107), 0.10, "CG iterations %g",
                info.cost.cg_iters);
  hyd_maid_destroy(s);
  hyd_quadratic_destroy(q);
}

Test(reference_profile, fixed_1e_3_stalls_like_the_reference)
{
  hyd_quadratic *q = test_reference_quadratic();
  cr_assert_not_null(q);
  double theta0[10];
  for (int j = 0; j < 10; j++)
    theta0[j] = 1.0;
  hyd_maid *s;
  hyd_maid_create(&s, hyd_quadratic_problem(q), NULL);
  const char *opts[] = {"method", "fixed", "eps0", "1e-3", "delta0", "1e-3",
                        "max_iter", "3000", NULL};
  for (int k = 0; opts[k]; k += 2)
    cr_assert_eq(hyd_maid_set_option(s, opts[k], opts[k + 1]), HYD_OK);
  hyd_maid_set_theta0(s, theta0);
  hyd_maid_setup(s);
  hyd_maid_solve(s);
  double f;
  hyd_quadratic_exact(q, hyd_maid_theta(s), &f, NULL);
  /* The reference: 3 accepted steps, exact f 94.748, then nothing. */
  cr_expect_eq(hyd_maid_stop_reason(s), HYD_STOP_STALLED);
  cr_expect_leq(rel(f, 94.748), 0.01, "f where it stalled: %g", f);
  hyd_maid_destroy(s);
  hyd_quadratic_destroy(q);
}
