/* The paper's compander variants trained by SGD (hyperd/compander_sgd.h):
 * gradients in V, a and b against central differences for both variants
 * and every grouping, repeatability under a seed, the fixed variant's
 * convergence to the plain L2 solution (design/compander.md: on a convex
 * model the fixed compander changes only the dynamics), error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/compander_sgd.h>
#include <hyperd/logistic.h>
#include <hyperd/oracle.h>

#include "common.h"

#define ROWS 40
#define D 4
#define C 3
#define NW (D * C)

typedef struct sfx {
  double X[ROWS * D];
  int y[ROWS];
  size_t train[ROWS];
} sfx;

static void make_data(sfx *fx, unsigned long long seed)
{
  test_rng r;
  rng_seed(&r, seed);
  for (size_t i = 0; i < ROWS; i++) {
    fx->y[i] = (int)(i % C);
    fx->train[i] = i;
    for (size_t j = 0; j < D; j++)
      fx->X[i * D + j] = rng_normal(&r) + (j == (size_t)fx->y[i] ? 1.0 : 0.0);
  }
}

static hyd_compander_sgd *make(sfx *fx, const hyd_compander_sgd_options *o)
{
  hyd_compander_sgd *s = NULL;
  cr_assert_eq(hyd_compander_sgd_create(&s, ROWS, D, C, fx->X, fx->y,
                                        fx->train, ROWS, o, NULL),
               HYD_OK);
  return s;
}

static const int groupings[4] = {HYD_LOGISTIC_SCALAR,
                                 HYD_LOGISTIC_PER_FEATURE,
                                 HYD_LOGISTIC_PER_CLASS,
                                 HYD_LOGISTIC_PER_WEIGHT};
static const size_t n_groups[4] = {1, D, C, NW};

/* Central differences of the objective in every coordinate of V, a, b
 * against the analytic gradient. With h = 1e-5 truncation is about
 * h^2 |f'''| / 6 < 1e-9 and rounding 1e-16/h = 1e-11 for these O(1)
 * values; 1e-7 relative leaves room yet catches any wrong term (those
 * are O(1e-2) or larger here). */
static void check_gradients(hyd_compander_sgd *s, const size_t *batch,
                            size_t nb, double *V, double *a, double *b,
                            size_t G)
{
  double gV[NW], ga[NW], gb[NW], fp, fm, h = 1e-5;
  cr_assert_eq(hyd_compander_sgd_objective(s, batch, nb, V, a, b, NULL, gV,
                                           ga, gb),
               HYD_OK);
  double *par[3] = {V, a, b}, *grad[3] = {gV, ga, gb};
  size_t len[3] = {NW, G, G};
  for (int p = 0; p < 3; p++)
    for (size_t k = 0; k < len[p]; k++) {
      double keep = par[p][k];
      par[p][k] = keep + h;
      cr_assert_eq(hyd_compander_sgd_objective(s, batch, nb, V, a, b, &fp,
                                               NULL, NULL, NULL),
                   HYD_OK);
      par[p][k] = keep - h;
      cr_assert_eq(hyd_compander_sgd_objective(s, batch, nb, V, a, b, &fm,
                                               NULL, NULL, NULL),
                   HYD_OK);
      par[p][k] = keep;
      double fd = (fp - fm) / (2 * h);
      cr_assert(fabs(fd - grad[p][k]) <= 1e-7 * (1.0 + fabs(fd)),
                "param %d[%zu]: analytic %.10g, finite difference %.10g", p,
                k, grad[p][k], fd);
    }
}

Test(compander_sgd, gradients_match_finite_differences)
{
  sfx fx;
  make_data(&fx, 3);
  size_t batch[7] = {3, 9, 10, 17, 22, 30, 39};
  for (int variant = 0; variant < 2; variant++)
    for (int k = 0; k < 4; k++) {
      hyd_compander_sgd_options o;
      hyd_compander_sgd_options_default(&o);
      o.variant = variant;
      o.grouping = groupings[k];
      o.weight_decay = 0.3; /* large, so that a wrong decay term shows */
      hyd_compander_sgd *s = make(&fx, &o);
      cr_assert_eq(hyd_compander_sgd_n_groups(s), n_groups[k]);
      test_rng r;
      rng_seed(&r, 100 + (unsigned long long)(4 * variant + k));
      double V[NW], a[NW], b[NW];
      rng_fill(&r, NW, -2.0, 2.0, V);
      rng_fill(&r, n_groups[k], 0.4, 1.5, a);
      rng_fill(&r, n_groups[k], 0.3, 2.0, b);
      check_gradients(s, NULL, 0, V, a, b, n_groups[k]);
      check_gradients(s, batch, 7, V, a, b, n_groups[k]);
      hyd_compander_sgd_destroy(s);
    }
}

/* The objective's value against the formula written out directly. */
Test(compander_sgd, value_matches_formula)
{
  sfx fx;
  make_data(&fx, 4);
  double V[NW], a = 0.7, b = 1.3;
  test_rng r;
  rng_seed(&r, 5);
  rng_fill(&r, NW, -1.0, 1.0, V);
  for (int variant = 0; variant < 2; variant++) {
    hyd_compander_sgd_options o;
    hyd_compander_sgd_options_default(&o);
    o.variant = variant;
    o.weight_decay = 0.2;
    hyd_compander_sgd *s = make(&fx, &o);
    double ce = 0.0, decay = 0.0, got;
    for (size_t i = 0; i < ROWS; i++) {
      double z[C], m = -INFINITY, sum = 0.0;
      for (size_t c = 0; c < C; c++) {
        z[c] = 0.0;
        for (size_t j = 0; j < D; j++)
          z[c] += fx.X[i * D + j] * a * atan(V[j * C + c] / b);
        m = fmax(m, z[c]);
      }
      for (size_t c = 0; c < C; c++)
        sum += exp(z[c] - m);
      ce += m + log(sum) - z[fx.y[i]];
    }
    for (size_t k = 0; k < NW; k++) {
      double w = variant == HYD_COMPANDER_FIXED ? a * atan(V[k] / b) : V[k];
      decay += w * w;
    }
    double want = ce / ROWS + 0.1 * decay;
    cr_assert_eq(hyd_compander_sgd_objective(s, NULL, 0, V, &a, &b, &got,
                                             NULL, NULL, NULL),
                 HYD_OK);
    cr_assert(fabs(got - want) <= 1e-13 * fabs(want), "%.17g vs %.17g", got,
              want);
    hyd_compander_sgd_destroy(s);
  }
}

static void run(hyd_compander_sgd *s, double *W, double *a, double *b,
                hyd_compander_sgd_result *res)
{
  cr_assert_eq(hyd_compander_sgd_run(s, W, a, b, res), HYD_OK);
}

/* Same seed: bitwise the same weights and (a, b), run twice on one object
 * and on two objects; another seed: other weights. */
Test(compander_sgd, deterministic_under_a_seed)
{
  sfx fx;
  make_data(&fx, 6);
  for (int variant = 0; variant < 2; variant++) {
    hyd_compander_sgd_options o;
    hyd_compander_sgd_options_default(&o);
    o.variant = variant;
    o.grouping = HYD_LOGISTIC_PER_CLASS;
    o.epochs = 5;
    o.batch_size = 8;
    o.seed = 42;
    hyd_compander_sgd *s1 = make(&fx, &o), *s2 = make(&fx, &o);
    o.seed = 43;
    hyd_compander_sgd *s3 = make(&fx, &o);
    double W1[NW], W2[NW], W3[NW], W4[NW], a1[C], a2[C], b1[C], b2[C];
    hyd_compander_sgd_result r1, r2;
    run(s1, W1, a1, b1, &r1);
    run(s2, W2, a2, b2, &r2);
    run(s1, W4, NULL, NULL, NULL);
    run(s3, W3, NULL, NULL, NULL);
    cr_assert_eq(memcmp(W1, W2, sizeof W1), 0);
    cr_assert_eq(memcmp(W1, W4, sizeof W1), 0);
    cr_assert_eq(memcmp(a1, a2, sizeof a1), 0);
    cr_assert_eq(memcmp(b1, b2, sizeof b1), 0);
    cr_assert_eq(r1.objective, r2.objective);
    cr_assert_eq(r1.steps, 5 * 5); /* 40 rows in batches of 8 */
    cr_assert_neq(memcmp(W1, W3, sizeof W1), 0);
    hyd_compander_sgd_destroy(s1);
    hyd_compander_sgd_destroy(s2);
    hyd_compander_sgd_destroy(s3);
  }
}

/* The fixed variant keeps (a, b); the learned one moves them and lowers
 * its training objective below the start's. */
Test(compander_sgd, learned_variant_moves_a_and_b)
{
  sfx fx;
  make_data(&fx, 7);
  hyd_compander_sgd_options o;
  hyd_compander_sgd_options_default(&o);
  o.grouping = HYD_LOGISTIC_PER_CLASS;
  o.epochs = 30;
  o.batch_size = 10;
  o.learning_rate = 0.05;
  double W[NW], a[C], b[C], V0[NW] = {0}, a0[C], b0[C], f0;
  for (int variant = 0; variant < 2; variant++) {
    o.variant = variant;
    hyd_compander_sgd *s = make(&fx, &o);
    hyd_compander_sgd_result res;
    run(s, W, a, b, &res);
    for (size_t g = 0; g < C; g++) {
      a0[g] = 0.5;
      b0[g] = 1.0;
    }
    cr_assert_eq(hyd_compander_sgd_objective(s, NULL, 0, V0, a0, b0, &f0,
                                             NULL, NULL, NULL),
                 HYD_OK);
    cr_assert_lt(res.objective, f0 - 0.1);
    cr_assert_leq(res.train_ce, res.objective);
    for (size_t g = 0; g < C; g++) {
      if (variant == HYD_COMPANDER_FIXED) {
        cr_assert_eq(a[g], 0.5);
        cr_assert_eq(b[g], 1.0);
      } else {
        cr_assert_neq(a[g], 0.5);
        cr_assert_neq(b[g], 1.0);
      }
    }
    hyd_compander_sgd_destroy(s);
  }
}

/* Full batch, long enough: the fixed compander with decay lambda on Psi(V)
 * ends at the plain L2 minimiser (lambda/2 ||W||^2 is the logistic
 * problem's penalty with theta = log lambda), whatever (a, b), as long as
 * the minimiser lies inside |W| < a pi/2. */
Test(compander_sgd, fixed_variant_converges_to_plain_L2)
{
  sfx fx;
  make_data(&fx, 8);
  double lambda = 0.05, theta = log(lambda), Wl2[NW] = {0};
  hyd_logistic_fold f = {fx.train, ROWS, fx.train, ROWS};
  hyd_logistic *lr;
  cr_assert_eq(hyd_logistic_create(&lr, ROWS, D, C, fx.X, fx.y, 1, &f,
                                   HYD_LOGISTIC_SCALAR, 0, NULL),
               HYD_OK);
  cr_assert_eq(hyd_solve_lower(hyd_logistic_problem(lr), 0, &theta, 1e-10,
                               Wl2, NULL, NULL),
               HYD_OK);
  double wmax = 0.0;
  for (size_t k = 0; k < NW; k++)
    wmax = fmax(wmax, fabs(Wl2[k]));
  const double ab[2][2] = {{1.0, 1.0}, {0.8, 0.6}};
  for (int t = 0; t < 2; t++) {
    cr_assert_lt(wmax, 0.5 * ab[t][0] * acos(-1.0));
    hyd_compander_sgd_options o;
    hyd_compander_sgd_options_default(&o);
    o.a = ab[t][0];
    o.b = ab[t][1];
    o.weight_decay = lambda;
    o.batch_size = ROWS;
    o.epochs = 3000;
    o.learning_rate = 0.3;
    hyd_compander_sgd *s = make(&fx, &o);
    double W[NW], diff = 0.0;
    run(s, W, NULL, NULL, NULL);
    for (size_t k = 0; k < NW; k++)
      diff = fmax(diff, fabs(W[k] - Wl2[k]));
    cr_assert_lt(diff, 1e-6, "(a, b) = (%g, %g): max |W - W_L2| = %g (|W| "
                 "up to %g)", o.a, o.b, diff, wmax);
    hyd_compander_sgd_destroy(s);
  }
  hyd_logistic_destroy(lr);
}

Test(compander_sgd, rejects_bad_arguments)
{
  sfx fx;
  make_data(&fx, 9);
  hyd_compander_sgd *s = (hyd_compander_sgd *)&fx;
  hyd_compander_sgd_options o;
  hyd_compander_sgd_options_default(&o);
  cr_assert_eq(hyd_compander_sgd_create(&s, ROWS, D, C, NULL, fx.y,
                                        fx.train, ROWS, &o, NULL),
               HYD_EINVAL);
  cr_assert_null(s);
  cr_assert_eq(hyd_compander_sgd_create(&s, ROWS, D, 1, fx.X, fx.y, fx.train,
                                        ROWS, &o, NULL),
               HYD_EINVAL);
  cr_assert_eq(hyd_compander_sgd_create(&s, ROWS, D, C, fx.X, fx.y, fx.train,
                                        0, &o, NULL),
               HYD_EINVAL);
  fx.train[3] = ROWS;
  cr_assert_eq(hyd_compander_sgd_create(&s, ROWS, D, C, fx.X, fx.y, fx.train,
                                        ROWS, &o, NULL),
               HYD_EINVAL);
  fx.train[3] = 3;
  fx.y[5] = C;
  cr_assert_eq(hyd_compander_sgd_create(&s, ROWS, D, C, fx.X, fx.y, fx.train,
                                        ROWS, &o, NULL),
               HYD_EINVAL);
  fx.y[5] = 2;
  hyd_compander_sgd_options bad[8];
  for (int k = 0; k < 8; k++)
    bad[k] = o;
  bad[0].variant = 2;
  bad[1].grouping = 4;
  bad[2].a = 0.0;
  bad[3].b = -1.0;
  bad[4].learning_rate = 0.0;
  bad[5].momentum = 1.0;
  bad[6].epochs = 0;
  bad[7].weight_decay = NAN;
  for (int k = 0; k < 8; k++)
    cr_assert_eq(hyd_compander_sgd_create(&s, ROWS, D, C, fx.X, fx.y,
                                          fx.train, ROWS, &bad[k], NULL),
                 HYD_EINVAL, "bad option set %d accepted", k);
  s = make(&fx, &o);
  double V[NW] = {0}, a = 0.5, b = 1.0, zero = 0.0, f;
  size_t far = ROWS;
  cr_assert_eq(hyd_compander_sgd_objective(s, NULL, 0, V, &zero, &b, &f,
                                           NULL, NULL, NULL),
               HYD_EINVAL);
  cr_assert_eq(hyd_compander_sgd_objective(s, &far, 1, V, &a, &b, &f, NULL,
                                           NULL, NULL),
               HYD_EINVAL);
  cr_assert_eq(hyd_compander_sgd_objective(s, &far, 0, V, &a, &b, &f, NULL,
                                           NULL, NULL),
               HYD_EINVAL);
  cr_assert_eq(hyd_compander_sgd_run(s, NULL, NULL, NULL, NULL), HYD_EINVAL);
  hyd_compander_sgd_destroy(s);
  hyd_compander_sgd_destroy(NULL);
}

/* A step far too large for the data: the run says so instead of returning
 * NaN weights. */
Test(compander_sgd, divergence_is_reported)
{
  sfx fx;
  make_data(&fx, 10);
  hyd_compander_sgd_options o;
  hyd_compander_sgd_options_default(&o);
  o.variant = HYD_COMPANDER_LEARNED;
  o.learning_rate = 1e200;
  o.epochs = 3;
  hyd_compander_sgd *s = make(&fx, &o);
  double W[NW];
  cr_assert_eq(hyd_compander_sgd_run(s, W, NULL, NULL, NULL), HYD_ENONFINITE);
  hyd_compander_sgd_destroy(s);
}

static int sgd_create_any(void *ctx, const hyd_allocator *a, void **obj)
{
  sfx *fx = ctx;
  return hyd_compander_sgd_create((hyd_compander_sgd **)obj, ROWS, D, C,
                                  fx->X, fx->y, fx->train, ROWS, NULL, a);
}

static void sgd_destroy_any(void *obj) { hyd_compander_sgd_destroy(obj); }

Test(compander_sgd, allocation_failures)
{
  sfx fx;
  make_data(&fx, 11);
  cr_assert(fault_loop(&fx, sgd_create_any, NULL, sgd_destroy_any) > 1);
}
