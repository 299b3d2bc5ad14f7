/* The reference profile on the MAID authors' TV instance
 * (shared/reference/tv96): 24 images of 96 x 96 optimised as ONE stacked
 * problem, as their code does (hyd_stack of the TV problem built with
 * HYD_TV_REFERENCE_SCALING, and their Lg = 1).
 *
 * Every number compared with is from shared/reference/tv96/reference_run.json
 * ("run_0101"): loss_traj (upper loss at the unsolved start and after each
 * accepted step), LL_calls and CG_calls (cumulative counts at each accepted
 * step), step_sizes, theta_final, LL_iters_total, CG_iters_total.
 *
 * reference_tv/first_five_steps runs in CI (label unit, ~15 s in Release);
 * reference_tv/full_budget is the whole run under the 4e4 lower-level
 * budget (~3 min), registered as the ctest `test_reference_tv_full` with the
 * label `slow`, which sets HYD_SLOW=1 (it skips itself otherwise). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "support.h"

enum { N_IMAGES = 24, SIDE = 96, N_PIX = SIDE * SIDE };

/* reference_run.json, run_0101 */
static const double ref_loss[] = {1047.0465087890625, 39.33733367919922,
                                  39.32151794433594,  38.81356430053711,
                                  38.16596603393555,  37.32122802734375};
static const double ref_ll[] = {0, 417, 1925, 2234, 2588, 3002};
static const double ref_cg[] = {0, 4, 57, 67, 78, 89};
static const double ref_loss_final = 8.343598365783691; /* loss_traj[15] */
static const double ref_theta_final[2] = {-2.092283010482788,
                                          -5.025622367858887};
static const double ref_ll_total = 42117, ref_cg_total = 411;
enum { REF_ACCEPTED = 15 }; /* len(step_sizes): loss_traj[16] repeats [15]
                             * because the budget ended the run */

/* Little-endian float32 file of exactly `count` values, as doubles. */
static double *read_f32(const char *path, size_t count)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  unsigned char *raw = malloc(4 * count);
  double *out = malloc(count * sizeof *out);
  size_t got = raw ? fread(raw, 4, count, f) : 0;
  int extra = fgetc(f);
  fclose(f);
  if (!raw || !out || got != count || extra != EOF) {
    free(raw);
    free(out);
    return NULL;
  }
  for (size_t j = 0; j < count; j++) {
    uint32_t u = (uint32_t)raw[4 * j] | (uint32_t)raw[4 * j + 1] << 8 |
                 (uint32_t)raw[4 * j + 2] << 16 | (uint32_t)raw[4 * j + 3] << 24;
    float v;
    memcpy(&v, &u, sizeof v);
    out[j] = (double)v;
  }
  free(raw);
  return out;
}

typedef struct instance {
  hyd_tv *tv;
  hyd_stack *stack;
  hyd_maid *solver;
} instance;

/* The reference run's settings (shared/reference/README.md, tv96). */
static void setup(instance *in)
{
  size_t total = (size_t)N_IMAGES * N_PIX;
  double *clean = read_f32(HYD_SHARED_DIR "/reference/tv96/clean.f32", total);
  double *noisy = read_f32(HYD_SHARED_DIR "/reference/tv96/noisy.f32", total);
  cr_assert(clean && noisy, "cannot read shared/reference/tv96");
  cr_assert_eq(hyd_tv_create(&in->tv, N_IMAGES, SIDE, SIDE, noisy, clean,
                             HYD_TV_REFERENCE_SCALING, NULL), HYD_OK);
  free(clean);
  free(noisy);
  cr_assert_eq(hyd_stack_create(&in->stack, hyd_tv_problem(in->tv), NULL),
               HYD_OK);
  /* TV_denoising.py passes Lg = 1 for its stacked problem */
  cr_assert_eq(hyd_stack_set_upper_lipschitz(in->stack, 1.0), HYD_OK);
  cr_assert_eq(hyd_maid_create(&in->solver, hyd_stack_problem(in->stack), NULL),
               HYD_OK);
  const char *opts[] = {"method", "reference", "eps0", "0.1", "delta0", "0.1",
                        "alpha0", "0.01", "rho", "0.5", "nu_down", "0.5",
                        "nu_up", "1.05", "eta", "1e-4", "ref.stop_scale", "1",
                        "ref.budget", "4e4", NULL};
  for (int k = 0; opts[k]; k += 2)
    cr_assert_eq(hyd_maid_set_option(in->solver, opts[k], opts[k + 1]), HYD_OK,
                 "%s", opts[k]);
  double theta0[2] = {-5.0, -5.0};
  cr_assert_eq(hyd_maid_set_theta0(in->solver, theta0), HYD_OK);
}

static void teardown(instance *in)
{
  hyd_maid_destroy(in->solver);
  hyd_stack_destroy(in->stack);
  hyd_tv_destroy(in->tv);
}

typedef struct trace {
  long stop_after;
  double step[REF_ACCEPTED + 2], g[REF_ACCEPTED + 2];
  double ll[REF_ACCEPTED + 2], cg[REF_ACCEPTED + 2];
} trace;

static int watch(const hyd_maid *s, const hyd_maid_info *info, void *user)
{
  (void)s;
  trace *t = user;
  if (info->accepted_last && info->accepted <= REF_ACCEPTED + 1) {
    t->step[info->accepted] = info->step;
    t->g[info->accepted] = info->g;
    t->ll[info->accepted] = info->cost.lower_iters_ref;
    t->cg[info->accepted] = info->cost.cg_iters;
  }
  return t->stop_after > 0 && info->accepted >= t->stop_after;
}

static double rel(double a, double b) { return fabs(a - b) / fabs(b); }

Test(reference_tv, first_five_steps, .timeout = 600)
{
  instance in;
  setup(&in);
  trace t;
  memset(&t, 0, sizeof t);
  t.stop_after = 5;
  hyd_maid_set_monitor(in.solver, watch, &t);
  cr_assert_eq(hyd_maid_setup(in.solver), HYD_OK);

  /* upper loss at the unsolved start x0 = 0 (the reference's g_old) */
  const hyd_problem *p = hyd_stack_problem(in.stack);
  double *zero = calloc((size_t)N_IMAGES * N_PIX, sizeof *zero);
  double g0;
  cr_assert_eq(p->upper(p->ctx, 0, zero, &g0, NULL), HYD_OK);
  free(zero);
  /* the reference sums in float32: agreement to ~1e-5 relative */
  cr_expect_leq(rel(g0, ref_loss[0]), 1e-4, "g at x0: %.10g", g0);

  cr_assert_eq(hyd_maid_solve(in.solver), HYD_OK, "%s",
               hyd_maid_errmsg(in.solver));
  cr_expect_eq(hyd_maid_stop_reason(in.solver), HYD_STOP_USER);
  for (int k = 1; k <= 5; k++) {
    /* every step is accepted at its first trial: 0.01 (10/9)^(k-1) */
    cr_expect_float_eq(t.step[k], 0.01 * pow(10.0 / 9.0, k - 1), 1e-12,
                       "step %d: %.10g", k, t.step[k]);
    cr_expect_leq(rel(t.g[k], ref_loss[k]), 0.01, "g at step %d: %.8g (ref %.8g)",
                  k, t.g[k], ref_loss[k]);
    cr_expect_leq(rel(t.ll[k], ref_ll[k]), 0.01, "lower-level count at step "
                  "%d: %g (ref %g)", k, t.ll[k], ref_ll[k]);
    cr_expect_leq(rel(t.cg[k], ref_cg[k]), 0.05, "CG count at step %d: %g "
                  "(ref %g)", k, t.cg[k], ref_cg[k]);
  }
  teardown(&in);
}

Test(reference_tv, full_budget, .timeout = 1200)
{
  const char *slow = getenv("HYD_SLOW");
  if (!slow || strcmp(slow, "1") != 0)
    cr_skip_test("the full run takes minutes: ctest -L slow (HYD_SLOW=1)");
  instance in;
  setup(&in);
  trace t;
  memset(&t, 0, sizeof t);
  hyd_maid_set_monitor(in.solver, watch, &t);
  cr_assert_eq(hyd_maid_setup(in.solver), HYD_OK);
  cr_assert_eq(hyd_maid_solve(in.solver), HYD_OK, "%s",
               hyd_maid_errmsg(in.solver));
  cr_expect_eq(hyd_maid_stop_reason(in.solver), HYD_STOP_BUDGET);
  hyd_maid_info info;
  hyd_maid_get_info(in.solver, &info);
  cr_expect_eq(info.accepted, REF_ACCEPTED, "accepted %ld", info.accepted);
  for (int k = 1; k <= REF_ACCEPTED && k <= info.accepted; k++)
    cr_expect_float_eq(t.step[k], 0.01 * pow(10.0 / 9.0, k - 1), 1e-12,
                       "step %d: %.10g", k, t.step[k]);
  const double *theta = hyd_maid_theta(in.solver);
  for (int j = 0; j < 2; j++)
    cr_expect_leq(rel(theta[j], ref_theta_final[j]), 0.01,
                  "theta[%d] = %.6g (ref %.6g)", j, theta[j], ref_theta_final[j]);
  /* loss_traj's last entry is g at the last accepted step */
  cr_expect_leq(rel(t.g[REF_ACCEPTED], ref_loss_final), 0.01,
                "upper loss at step %d: %.8g", REF_ACCEPTED, t.g[REF_ACCEPTED]);
  cr_expect_leq(rel(info.cost.lower_iters_ref, ref_ll_total), 0.05,
                "lower-level iterations (reference count) %g",
                info.cost.lower_iters_ref);
  cr_expect_leq(rel(info.cost.cg_iters, ref_cg_total), 0.10, "CG iterations %g",
                info.cost.cg_iters);
  teardown(&in);
}
