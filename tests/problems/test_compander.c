/* Weight compander (logistic regression with the kappa tan^2(W/a) penalty):
 * derivatives against finite differences on both sides of the cut-off,
 * constants against the true quantities, the small-weight limit (plain L2),
 * error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/compander.h>
#include <hyperd/logistic.h>
#include <hyperd/problem.h>

#include "common.h"

#define ROWS 40
#define D 4
#define C 3
#define NW (D * C)
#define MAXP (2 * NW)

typedef struct cfx {
  double X[ROWS * D];
  int y[ROWS];
  size_t idx[2 * ROWS];
  hyd_logistic_fold folds[2];
} cfx;

static void make_data(cfx *fx, unsigned long long seed)
{
  test_rng r;
  rng_seed(&r, seed);
  for (size_t i = 0; i < ROWS; i++) {
    fx->y[i] = (int)(i % C);
    for (size_t j = 0; j < D; j++)
      fx->X[i * D + j] = rng_normal(&r) + (j == (size_t)fx->y[i] ? 1.0 : 0.0);
  }
  two_folds(ROWS, 25, fx->idx, fx->folds);
}

static hyd_logistic *make_comp(cfx *fx, int grouping, double T, double l2)
{
  hyd_compander_options o;
  hyd_compander_options_default(&o);
  o.grouping = grouping;
  o.cutoff_tan2 = T;
  o.l2 = l2;
  hyd_logistic *lr;
  cr_assert_eq(hyd_compander_create(&lr, ROWS, D, C, fx->X, fx->y, 2,
                                    fx->folds, &o, NULL),
               HYD_OK);
  return lr;
}

static const int groupings[4] = {HYD_LOGISTIC_SCALAR,
                                 HYD_LOGISTIC_PER_FEATURE,
                                 HYD_LOGISTIC_PER_CLASS,
                                 HYD_LOGISTIC_PER_WEIGHT};
static const size_t n_groups[4] = {1, D, C, NW};

static size_t group(int grouping, size_t j, size_t c)
{
  switch (grouping) {
  case HYD_LOGISTIC_SCALAR:
    return 0;
  case HYD_LOGISTIC_PER_FEATURE:
    return j;
  case HYD_LOGISTIC_PER_CLASS:
    return c;
  default:
    return j * C + c;
  }
}

/* Random theta (a in [0.5, 2], kappa in [0.02, 0.5]) and W whose entries
 * are spread over |u| = |W/a| < 1.5, beyond the cut-off atan(2) = 1.107
 * of T = 4 for some of them. */
static void random_point(test_rng *r, int grouping, size_t G, double *th,
                         double *W)
{
  for (size_t g = 0; g < G; g++) {
    th[g] = log(0.5 + 1.5 * rng_uniform(r));
    th[G + g] = log(0.02 + 0.48 * rng_uniform(r));
  }
  for (size_t j = 0; j < D; j++)
    for (size_t c = 0; c < C; c++)
      W[j * C + c] = exp(th[group(grouping, j, c)]) * 1.5 *
                     (2.0 * rng_uniform(r) - 1.0);
}

/* Derivative bounds of psi = tan^2 at the cut-off u_c (all increasing in
 * |u| inside, and psi''' = psi'''' = 0 beyond). */
static void psi_bounds(double T, double out[4])
{
  double t = sqrt(T), s = 1.0 + T;
  out[0] = 2.0 * t * s;
  out[1] = 2.0 * (s * s + 2.0 * T * s);
  out[2] = 8.0 * t * s * (2.0 * s + T);
  out[3] = 16.0 * s * s * s + 88.0 * T * s * s + 16.0 * T * T * s;
}

static double fold_LA(const cfx *fx, const size_t *rows, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++) {
    double q = vec_dot(D, fx->X + rows[i] * D, fx->X + rows[i] * D);
    s += q * sqrt(q);
  }
  return s / (sqrt(2.0) * (double)n);
}

/* Error terms of the central differences (see fd_tol): the CE part as in
 * test_logistic.c; the penalty is separable, its third derivative along a
 * unit vector at most max (kappa/a^3) P3, its fourth (for A v) at most
 * max (kappa/a^4) P4 |v|^3; in log a and log kappa, three derivatives of
 * (kappa/a) psi'(w/a) are sums of (1 + |u|)^3 (psi' .. psi'''') terms,
 * bounded by 8 (kappa/a)(1 + u_max)^3 (P1 + P2 + P3 + P4) |q|_1. */
static void check_derivatives(const cfx *fx, const hyd_problem *p, size_t i,
                              const double *th, size_t G, const double *W,
                              double T)
{
  const hyd_logistic_fold *fo = &fx->folds[i];
  double P[4], hstep = 1e-6, V[NW], w[MAXP];
  psi_bounds(T, P);
  test_rng r;
  rng_seed(&r, 31 + i);
  rng_fill(&r, NW, -1.0, 1.0, V);
  rng_fill(&r, 2 * G, -1.0, 1.0, w);
  double m3 = 0.0, m4 = 0.0, mt = 0.0, q1 = 0.0, x4 = 0.0;
  for (size_t k = 0; k < NW; k++)
    q1 += fabs(V[k]);
  for (size_t g = 0; g < G; g++) {
    double a = exp(th[g]), k = exp(th[G + g]);
    m3 = fmax(m3, k / (a * a * a) * P[2]);
    m4 = fmax(m4, k / (a * a * a * a) * P[3]);
    mt = fmax(mt, 8.0 * k / a * pow(2.5, 3) * (P[0] + P[1] + P[2] + P[3]) * q1);
  }
  for (size_t t = 0; t < fo->n_train; t++) {
    double q = vec_dot(D, fx->X + fo->train[t] * D, fx->X + fo->train[t] * D);
    x4 += q * q / (double)fo->n_train;
  }
  double nv = vec_norm(NW, V);
  fd_check_grad(p, i, th, W, hstep,
                fold_LA(fx, fo->train, fo->n_train) + m3);
  fd_check_hvp(p, i, th, W, V, hstep, (4.0 * x4 + m4) * nv * nv * nv);
  fd_check_btq(p, i, th, W, V, hstep, mt);
  check_adjoint(p, i, th, W, w, V);
  fd_check_upper(p, i, W, hstep, fold_LA(fx, fo->val, fo->n_val));
}

Test(compander, table_and_options)
{
  hyd_compander_options o;
  hyd_compander_options_default(&o);
  cr_assert_eq(o.grouping, HYD_LOGISTIC_PER_CLASS);
  cr_assert_eq(o.cutoff_tan2, 100.0);
  cr_assert_eq(o.l2, 0.0);
  cr_assert_eq(hyd_compander_n_theta(&o, D, C), 2 * C);
  cr_assert_eq(hyd_compander_n_theta(NULL, D, C), 0);
  double th[2 * C];
  cr_assert_eq(hyd_compander_theta_init(&o, D, C, 0.1, th), HYD_OK);
  for (size_t g = 0; g < C; g++) {
    cr_assert_eq(th[g], log(0.5));
    cr_assert_eq(th[C + g], log(0.1));
  }
  cr_assert_eq(hyd_compander_theta_init(&o, D, C, 0.0, th), HYD_EINVAL);
  cr_assert_eq(hyd_compander_theta_init(&o, D, C, 0.1, NULL), HYD_EINVAL);
  cfx fx;
  make_data(&fx, 1);
  for (int g = 0; g < 4; g++) {
    hyd_logistic *lr = make_comp(&fx, groupings[g], 100.0, 0.0);
    const hyd_problem *p = hyd_logistic_problem(lr);
    cr_assert_eq(hyd_problem_check(p), HYD_OK);
    cr_assert_eq(p->n_theta, 2 * n_groups[g]);
    cr_assert_eq(p->upper_convex, 1);
    hyd_logistic_destroy(lr);
  }
}

Test(compander, value_matches_formula_on_both_sides_of_the_cutoff)
{
  cfx fx;
  make_data(&fx, 2);
  double T = 4.0, l2 = 0.03;
  hyd_logistic *lr = make_comp(&fx, HYD_LOGISTIC_PER_CLASS, T, l2);
  hyd_logistic *ce = NULL;
  /* the same data with a negligible L2: its h is the cross-entropy */
  cr_assert_eq(hyd_logistic_create(&ce, ROWS, D, C, fx.X, fx.y, 2, fx.folds,
                                   HYD_LOGISTIC_SCALAR, 0, NULL),
               HYD_OK);
  const hyd_problem *p = hyd_logistic_problem(lr), *pc = hyd_logistic_problem(ce);
  double th[2 * C] = {log(0.7), 0.0, log(1.3), log(0.1), log(0.2), log(0.05)};
  double W[NW], sg[NW], zero[1] = {-700.0};
  test_rng r;
  rng_seed(&r, 3);
  for (size_t j = 0; j < D; j++)
    for (size_t c = 0; c < C; c++)
      W[j * C + c] = exp(th[c]) * 1.5 * (2.0 * rng_uniform(&r) - 1.0);
  double uc = atan(sqrt(T)), t = sqrt(T), s = 1.0 + T;
  double P1 = 2.0 * t * s, P2 = 2.0 * (s * s + 2.0 * T * s), pen = 0.0;
  int beyond = 0;
  for (size_t j = 0; j < D; j++)
    for (size_t c = 0; c < C; c++) {
      double w = W[j * C + c], a = exp(th[c]), k = exp(th[C + c]);
      double u = w / a, au = fabs(u), psi;
      if (au <= uc) {
        psi = tan(u) * tan(u);
      } else {
        beyond++;
        psi = T + P1 * (au - uc) + 0.5 * P2 * (au - uc) * (au - uc);
      }
      pen += k * psi + 0.5 * l2 * w * w;
    }
  cr_assert(beyond > 0 && beyond < NW, "points on both sides: %d", beyond);
  double ce_val = lower_value(pc, 0, zero, W, sg);
  double got = lower_value(p, 0, th, W, sg);
  cr_assert(fabs(got - (ce_val + pen)) <= 1e-13 * got, "%.17g vs %.17g", got,
            ce_val + pen);
  int inside;
  cr_assert_eq(hyd_logistic_compander_inside(lr, th, W, &inside), HYD_OK);
  cr_assert_eq(inside, 0);
  for (size_t k = 0; k < NW; k++)
    W[k] *= 1e-3;
  cr_assert_eq(hyd_logistic_compander_inside(lr, th, W, &inside), HYD_OK);
  cr_assert_eq(inside, 1);
  cr_assert_eq(hyd_logistic_compander_inside(ce, th, W, &inside), HYD_EINVAL);
  cr_assert_eq(hyd_logistic_compander_inside(lr, NULL, W, &inside),
               HYD_EINVAL);
  hyd_logistic_destroy(lr);
  hyd_logistic_destroy(ce);
}

Test(compander, derivatives_match_finite_differences)
{
  cfx fx;
  make_data(&fx, 4);
  test_rng r;
  rng_seed(&r, 5);
  for (int g = 0; g < 4; g++) {
    hyd_logistic *lr = make_comp(&fx, groupings[g], 4.0, 0.01);
    const hyd_problem *p = hyd_logistic_problem(lr);
    double th[MAXP], W[NW];
    for (size_t i = 0; i < 2; i++) {
      random_point(&r, groupings[g], n_groups[g], th, W);
      check_derivatives(&fx, p, i, th, n_groups[g], W, 4.0);
    }
    hyd_logistic_destroy(lr);
  }
}

/* For small weights kappa tan^2(w/a) = (kappa/a^2) w^2 (1 + O(u^2)): the
 * gradient is the L2 problem's with e^theta = 2 kappa/a^2, to O(u^2). */
Test(compander, small_weights_are_plain_L2)
{
  cfx fx;
  make_data(&fx, 6);
  hyd_logistic *lr = make_comp(&fx, HYD_LOGISTIC_SCALAR, 100.0, 0.0), *l2;
  cr_assert_eq(hyd_logistic_create(&l2, ROWS, D, C, fx.X, fx.y, 2, fx.folds,
                                   HYD_LOGISTIC_SCALAR, 0, NULL),
               HYD_OK);
  double a = 2.0, k = 0.3, th[2] = {log(a), log(k)};
  double th2[1] = {log(2.0 * k / (a * a))};
  double W[NW], g1[NW], g2[NW], umax = 0.0;
  test_rng r;
  rng_seed(&r, 7);
  rng_fill(&r, NW, -2e-3, 2e-3, W);
  for (size_t j = 0; j < NW; j++)
    umax = fmax(umax, fabs(W[j] / a));
  const hyd_problem *p = hyd_logistic_problem(lr), *q = hyd_logistic_problem(l2);
  cr_assert_eq(p->lower_grad(p->ctx, 0, th, W, NULL, g1), 0);
  cr_assert_eq(q->lower_grad(q->ctx, 0, th2, W, NULL, g2), 0);
  /* d/dw k tan^2(w/a) = (2k/a^2) w (1 + (4/3) u^2 + ...) */
  double pen_scale = 2.0 * k / (a * a) * 2e-3;
  for (size_t j = 0; j < NW; j++)
    cr_assert(fabs(g1[j] - g2[j]) <= 2.0 * umax * umax * pen_scale,
              "%zu: %.17g %.17g", j, g1[j], g2[j]);
  hyd_logistic_destroy(lr);
  hyd_logistic_destroy(l2);
}

Test(compander, constants_bound_true_quantities)
{
  cfx fx;
  make_data(&fx, 8);
  test_rng r;
  rng_seed(&r, 9);
  double worst_B = 1.0;
  for (int g = 0; g < 4; g++) {
    hyd_logistic *lr = make_comp(&fx, groupings[g], 4.0, 0.01);
    const hyd_problem *p = hyd_logistic_problem(lr);
    size_t G = n_groups[g], np = 2 * G;
    for (int trial = 0; trial < 10; trial++) {
      size_t i = (size_t)trial % 2;
      double th[MAXP], W[NW], W2[NW], dW[NW], V[NW], a1[NW], a2[NW];
      static double B1[MAXP][NW], B2[MAXP][NW];
      random_point(&r, groupings[g], G, th, W);
      rng_fill(&r, NW, -1.0, 1.0, V);
      /* ||dW|| <= 0.25 sqrt(12) < 1, the default lipschitz_radius */
      double sc = (trial % 2) ? 0.25 : 1e-3;
      for (size_t k = 0; k < NW; k++) {
        W2[k] = W[k] + sc * (2 * rng_uniform(&r) - 1);
        dW[k] = W[k] - W2[k];
      }
      double ndw = vec_norm(NW, dW), nv = vec_norm(NW, V);
      hyd_constants k;
      cr_assert_eq(p->constants(p->ctx, i, th, W, &k), 0);
      cr_assert_eq(k.certified, 1);
      cr_assert_eq(p->lower_hvp(p->ctx, i, th, W, V, a1), 0);
      cr_assert(vec_dot(NW, V, a1) >= k.mu * nv * nv * (1 - 1e-13), "mu");
      cr_assert(vec_norm(NW, a1) <= k.L * nv, "L");
      for (size_t a = 0; a < np; a++) {
        double e[MAXP] = {0};
        e[a] = 1.0;
        cr_assert_eq(p->cross_prod(p->ctx, i, th, W, e, B1[a]), 0);
        cr_assert_eq(p->cross_prod(p->ctx, i, th, W2, e, B2[a]), 0);
      }
      double nb = sqrt(gram_lmax(NW, np, &B1[0][0]));
      cr_assert(nb <= k.norm_B * (1 + 1e-9), "norm_B %.17g exact %.17g",
                k.norm_B, nb);
      worst_B = fmin(worst_B, nb / k.norm_B);
      for (size_t a = 0; a < np; a++)
        for (size_t j = 0; j < NW; j++)
          B2[a][j] = B1[a][j] - B2[a][j];
      double db = sqrt(gram_lmax(NW, np, &B2[0][0]));
      cr_assert(db <= k.LB * ndw, "LB %g ratio %g", k.LB, db / ndw);
      cr_assert_eq(p->lower_hvp(p->ctx, i, th, W2, V, a2), 0);
      for (size_t t = 0; t < NW; t++)
        a1[t] -= a2[t];
      double LA = k.LAinv * k.mu * k.mu;
      cr_assert(vec_norm(NW, a1) <= LA * ndw * nv, "LA");
      double g1[NW], g2[NW], gv;
      cr_assert_eq(p->upper(p->ctx, i, W, &gv, g1), 0);
      cr_assert_eq(p->upper(p->ctx, i, W2, &gv, g2), 0);
      for (size_t t = 0; t < NW; t++)
        g1[t] -= g2[t];
      cr_assert(vec_norm(NW, g1) <= k.Lg * ndw, "Lg");
    }
    hyd_logistic_destroy(lr);
  }
  /* ||B|| is computed exactly (block-diagonal B) */
  cr_assert(worst_B > 1 - 1e-6, "norm_B not exact: %g", worst_B);
}

/* hvp_change with the compander's penalty, whose Hessian changes with W:
 * the bound holds for moves within rho <= lipschitz_radius (1), including
 * beyond the cut-off, and is INFINITY past the radius. */
Test(compander, hvp_change_bounds_the_change)
{
  cfx fx;
  make_data(&fx, 18);
  test_rng r;
  rng_seed(&r, 19);
  for (int g = 0; g < 4; g++) {
    hyd_logistic *lr = make_comp(&fx, groupings[g], 4.0, 0.01);
    const hyd_problem *p = hyd_logistic_problem(lr);
    size_t G = n_groups[g];
    for (int trial = 0; trial < 20; trial++) {
      size_t i = (size_t)trial % 2;
      double th[MAXP], W[NW], W2[NW], Q[NW], dir[NW], a1[NW], a2[NW], M;
      random_point(&r, groupings[g], G, th, W);
      rng_fill(&r, NW, -1.0, 1.0, Q);
      double rho = (trial % 2) ? 0.5 : 1e-4;
      for (size_t k = 0; k < NW; k++)
        dir[k] = rng_normal(&r);
      double nd = vec_norm(NW, dir);
      for (size_t k = 0; k < NW; k++)
        W2[k] = W[k] + rho * dir[k] / nd;
      cr_assert_eq(p->hvp_change(p->ctx, i, th, W, Q, rho, &M), 0);
      cr_assert(isfinite(M));
      cr_assert_eq(p->lower_hvp(p->ctx, i, th, W, Q, a1), 0);
      cr_assert_eq(p->lower_hvp(p->ctx, i, th, W2, Q, a2), 0);
      for (size_t k = 0; k < NW; k++)
        a1[k] -= a2[k];
      cr_assert(vec_norm(NW, a1) <= M * rho * (1 + 1e-12),
                "grouping %d trial %d: change %.6g > M %.6g * %.3g", g, trial,
                vec_norm(NW, a1), M, rho);
      cr_assert_eq(p->hvp_change(p->ctx, i, th, W, Q, 1.5, &M), 0);
      cr_assert(isinf(M), "beyond the Lipschitz radius: %g", M);
    }
    hyd_logistic_destroy(lr);
  }
}

Test(compander, create_rejects_bad_arguments)
{
  cfx fx;
  make_data(&fx, 10);
  hyd_logistic *lr = (hyd_logistic *)&lr;
  hyd_compander_options o;
  const double badT[4] = {0.0, -1.0, NAN, 1e13};
  for (int b = 0; b < 4; b++) {
    hyd_compander_options_default(&o);
    o.cutoff_tan2 = badT[b];
    cr_assert_eq(hyd_compander_create(&lr, ROWS, D, C, fx.X, fx.y, 2,
                                      fx.folds, &o, NULL),
                 HYD_EINVAL, "T %g", badT[b]);
    cr_assert_null(lr);
  }
  const double badr[3] = {0.0, -1.0, NAN};
  for (int b = 0; b < 3; b++) {
    hyd_compander_options_default(&o);
    o.lipschitz_radius = badr[b];
    cr_assert_eq(hyd_compander_create(&lr, ROWS, D, C, fx.X, fx.y, 2,
                                      fx.folds, &o, NULL),
                 HYD_EINVAL, "radius %g", badr[b]);
  }
  hyd_compander_options_default(&o);
  o.l2 = -1.0;
  cr_assert_eq(hyd_compander_create(&lr, ROWS, D, C, fx.X, fx.y, 2, fx.folds,
                                    &o, NULL),
               HYD_EINVAL);
  hyd_compander_options_default(&o);
  o.grouping = 9;
  cr_assert_eq(hyd_compander_create(&lr, ROWS, D, C, fx.X, fx.y, 2, fx.folds,
                                    &o, NULL),
               HYD_EINVAL);
  hyd_logistic_penalty pen = {7, 100.0, 0.0, 1.0};
  cr_assert_eq(hyd_logistic_create_penalized(&lr, ROWS, D, C, fx.X, fx.y, 2,
                                             fx.folds, 0, 0, &pen, NULL),
               HYD_EINVAL);
  cr_assert_eq(hyd_compander_create(NULL, ROWS, D, C, fx.X, fx.y, 2, fx.folds,
                                    NULL, NULL),
               HYD_EINVAL);
  /* defaults (opt NULL) work */
  cr_assert_eq(hyd_compander_create(&lr, ROWS, D, C, fx.X, fx.y, 2, fx.folds,
                                    NULL, NULL),
               HYD_OK);
  const hyd_problem *p = hyd_logistic_problem(lr);
  double th[2 * C] = {0}, W[NW] = {0}, out[NW];
  th[C] = -800.0; /* kappa underflows to 0 */
  cr_assert_eq(p->lower_grad(p->ctx, 0, th, W, NULL, out), HYD_EINVAL);
  th[C] = 0.0;
  th[0] = 800.0; /* a overflows */
  cr_assert_eq(p->lower_grad(p->ctx, 0, th, W, NULL, out), HYD_EINVAL);
  hyd_logistic_destroy(lr);
}

static int comp_create_any(void *ctx, const hyd_allocator *a, void **obj)
{
  cfx *fx = ctx;
  return hyd_compander_create((hyd_logistic **)obj, ROWS, D, C, fx->X, fx->y,
                              2, fx->folds, NULL, a);
}

static void comp_destroy_any(void *obj)
{
  hyd_logistic_destroy(obj);
}

Test(compander, allocation_failures)
{
  cfx fx;
  make_data(&fx, 11);
  cr_assert(fault_loop(&fx, comp_create_any, NULL, comp_destroy_any) > 1);
}

/* The radius trades validity for tightness: local constants are below the
 * global ones (radius HUGE_VAL, every pair), and equal to them once the
 * radius reaches past the cut-off. */
Test(compander, lipschitz_radius)
{
  cfx fx;
  make_data(&fx, 12);
  hyd_compander_options o;
  hyd_compander_options_default(&o);
  hyd_logistic *loc, *glob, *wide;
  cr_assert_eq(hyd_compander_create(&loc, ROWS, D, C, fx.X, fx.y, 2, fx.folds,
                                    &o, NULL),
               HYD_OK);
  o.lipschitz_radius = HUGE_VAL;
  cr_assert_eq(hyd_compander_create(&glob, ROWS, D, C, fx.X, fx.y, 2,
                                    fx.folds, &o, NULL),
               HYD_OK);
  o.lipschitz_radius = 100.0;
  cr_assert_eq(hyd_compander_create(&wide, ROWS, D, C, fx.X, fx.y, 2,
                                    fx.folds, &o, NULL),
               HYD_OK);
  /* a >= 1.5: the unit ball around W = 0 stays inside the cut-off */
  double th[2 * C] = {log(1.5), log(2.0), log(3.0), log(0.05), log(0.2), -1.0};
  double W[NW] = {0};
  hyd_constants a, b, c;
  const hyd_problem *pl = hyd_logistic_problem(loc),
                    *pg = hyd_logistic_problem(glob),
                    *pw = hyd_logistic_problem(wide);
  cr_assert_eq(pl->constants(pl->ctx, 0, th, W, &a), 0);
  cr_assert_eq(pg->constants(pg->ctx, 0, th, W, &b), 0);
  cr_assert_eq(pw->constants(pw->ctx, 0, th, W, &c), 0);
  cr_assert(a.LB < b.LB && a.LAinv < b.LAinv);
  cr_assert_eq(a.L, b.L); /* L stays global: the solver needs it */
  cr_assert_eq(a.mu, b.mu);
  cr_assert_eq(c.LB, b.LB);
  cr_assert_eq(c.LAinv, b.LAinv);
  hyd_logistic_destroy(loc);
  hyd_logistic_destroy(glob);
  hyd_logistic_destroy(wide);
}
