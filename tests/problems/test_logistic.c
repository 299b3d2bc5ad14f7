/* Multinomial logistic regression: derivatives against finite differences
 * for every grouping, constants against the true quantities, the
 * probability cache, evaluate, error paths, and the digits baseline. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/logistic.h>
#include <hyperd/maid.h>
#include <hyperd/oracle.h>
#include <hyperd/problem.h>

#include "common.h"

#define ROWS 40
#define D 4
#define C 3
#define NW (D * C)

typedef struct lr_fixture {
  double X[ROWS * D];
  int y[ROWS];
  size_t idx[2 * ROWS];
  hyd_logistic_fold folds[2];
} lr_fixture;

static void make_data(lr_fixture *fx, unsigned long long seed)
{
  test_rng r;
  rng_seed(&r, seed);
  double Wt[NW];
  rng_fill(&r, NW, -1.5, 1.5, Wt);
  for (size_t i = 0; i < ROWS; i++) {
    double best = -INFINITY;
    for (size_t j = 0; j < D; j++)
      fx->X[i * D + j] = rng_normal(&r);
    for (size_t c = 0; c < C; c++) {
      double z = rng_normal(&r);
      for (size_t j = 0; j < D; j++)
        z += fx->X[i * D + j] * Wt[j * C + c];
      if (z > best) {
        best = z;
        fx->y[i] = (int)c;
      }
    }
  }
  two_folds(ROWS, 25, fx->idx, fx->folds);
}

static hyd_logistic *make_lr(lr_fixture *fx, int grouping)
{
  hyd_logistic *lr = NULL;
  cr_assert_eq(hyd_logistic_create(&lr, ROWS, D, C, fx->X, fx->y, 2,
                                   fx->folds, grouping, 0, NULL),
               HYD_OK);
  return lr;
}

static const int groupings[4] = {HYD_LOGISTIC_SCALAR,
                                 HYD_LOGISTIC_PER_FEATURE,
                                 HYD_LOGISTIC_PER_CLASS,
                                 HYD_LOGISTIC_PER_WEIGHT};
static const size_t n_thetas[4] = {1, D, C, NW};

/* LA of the fold (independent recomputation of the documented bound). */
static double fold_LA(const lr_fixture *fx, const size_t *rows, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++) {
    double q = 0.0;
    for (size_t j = 0; j < D; j++)
      q += fx->X[rows[i] * D + j] * fx->X[rows[i] * D + j];
    s += q * sqrt(q);
  }
  return s / (sqrt(2.0) * (double)n);
}

Test(logistic, table_is_valid)
{
  lr_fixture fx;
  make_data(&fx, 1);
  for (int k = 0; k < 4; k++) {
    hyd_logistic *lr = make_lr(&fx, groupings[k]);
    const hyd_problem *p = hyd_logistic_problem(lr);
    cr_assert_eq(hyd_problem_check(p), HYD_OK);
    cr_assert_eq(p->n_theta, n_thetas[k]);
    cr_assert_eq(hyd_logistic_n_theta(groupings[k], D, C), n_thetas[k]);
    cr_assert_eq(p->n_samples, 2);
    cr_assert_eq(p->upper_convex, 1);
    cr_assert_eq(p->lower_dim(p->ctx, 1), NW);
    cr_assert_eq(p->lower_dim(p->ctx, 2), 0);
    hyd_logistic_destroy(lr);
  }
  cr_assert_eq(hyd_logistic_n_theta(7, D, C), 0);
  cr_assert_eq(hyd_logistic_n_theta(HYD_LOGISTIC_PER_WEIGHT, (size_t)-1, 2),
               0);
}

/* h at a point against the formula written out directly. */
Test(logistic, value_matches_formula)
{
  lr_fixture fx;
  make_data(&fx, 2);
  hyd_logistic *lr = make_lr(&fx, HYD_LOGISTIC_PER_CLASS);
  const hyd_problem *p = hyd_logistic_problem(lr);
  test_rng r;
  rng_seed(&r, 3);
  double W[NW], th[C] = {-1.0, 0.0, 0.5};
  rng_fill(&r, NW, -1.0, 1.0, W);
  double ce = 0.0;
  for (size_t i = 0; i < 25; i++) {
    const double *x = fx.X + fx.folds[1].train[i] * D;
    double z[C], m = -INFINITY, s = 0.0;
    for (size_t c = 0; c < C; c++) {
      z[c] = 0.0;
      for (size_t j = 0; j < D; j++)
        z[c] += x[j] * W[j * C + c];
      m = fmax(m, z[c]);
    }
    for (size_t c = 0; c < C; c++)
      s += exp(z[c] - m);
    ce += m + log(s) - z[fx.y[fx.folds[1].train[i]]];
  }
  double pen = 0.0;
  for (size_t j = 0; j < D; j++)
    for (size_t c = 0; c < C; c++)
      pen += exp(th[c]) * W[j * C + c] * W[j * C + c];
  double sg[NW], want = ce / 25.0 + 0.5 * pen;
  double got = lower_value(p, 1, th, W, sg);
  cr_assert(fabs(got - want) <= 1e-14 * want, "%.17g %.17g", got, want);
  hyd_logistic_destroy(lr);
}

/* Error terms of the central differences (see fd_tol):
 *  - h along a unit vector: third derivative <= LA (the penalty is
 *    quadratic), LA = (1/(sqrt 2 n)) sum ||x||^3 (docs/problems.md);
 *  - grad along V: a fourth cumulant of bounded logit differences,
 *    <= 4 (1/n) sum ||x||^4 ||V||^3;
 *  - <grad h, q> in theta: every derivative is e^theta_g sum_g W q, bounded
 *    by 2 emax ||W|| ||q||;
 *  - g: LA of the validation rows. */
static void check_derivatives(const lr_fixture *fx, const hyd_problem *p,
                              size_t i, const double *th, size_t np,
                              const double *W)
{
  const hyd_logistic_fold *fo = &fx->folds[i];
  double hstep = 1e-5, V[NW], w[NW];
  test_rng r;
  rng_seed(&r, 21);
  rng_fill(&r, NW, -1.0, 1.0, V);
  rng_fill(&r, np, -1.0, 1.0, w);
  double x4 = 0.0, nv = vec_norm(NW, V), emax = 0.0;
  for (size_t t = 0; t < fo->n_train; t++) {
    double q = 0.0;
    for (size_t j = 0; j < D; j++)
      q += fx->X[fo->train[t] * D + j] * fx->X[fo->train[t] * D + j];
    x4 += q * q / (double)fo->n_train;
  }
  for (size_t k = 0; k < np; k++)
    emax = fmax(emax, exp(th[k]));
  fd_check_grad(p, i, th, W, hstep, fold_LA(fx, fo->train, fo->n_train));
  fd_check_hvp(p, i, th, W, V, hstep, 4.0 * x4 * nv * nv * nv);
  fd_check_btq(p, i, th, W, V, hstep, 2.0 * emax * vec_norm(NW, W) * nv);
  check_adjoint(p, i, th, W, w, V);
  fd_check_upper(p, i, W, hstep, fold_LA(fx, fo->val, fo->n_val));
}

Test(logistic, derivatives_match_finite_differences)
{
  lr_fixture fx;
  make_data(&fx, 4);
  test_rng r;
  rng_seed(&r, 5);
  for (int g = 0; g < 4; g++) {
    hyd_logistic *lr = make_lr(&fx, groupings[g]);
    const hyd_problem *p = hyd_logistic_problem(lr);
    double th[NW], W[NW];
    for (size_t i = 0; i < 2; i++) {
      rng_fill(&r, n_thetas[g], -3.0, 1.0, th);
      rng_fill(&r, NW, -2.0, 2.0, W);
      check_derivatives(&fx, p, i, th, n_thetas[g], W);
    }
    hyd_logistic_destroy(lr);
  }
}

/* lambda_max(X_S^T X_S) by plain power iteration (a lower estimate). */
static double lmax_rows(const lr_fixture *fx, const size_t *rows, size_t n)
{
  double v[D], w[D], rho = 0.0;
  for (size_t j = 0; j < D; j++)
    v[j] = 1.0 + 0.3 * (double)j;
  for (int it = 0; it < 2000; it++) {
    double nv = vec_norm(D, v);
    for (size_t j = 0; j < D; j++) {
      v[j] /= nv;
      w[j] = 0.0;
    }
    for (size_t i = 0; i < n; i++) {
      const double *x = fx->X + rows[i] * D;
      double s = vec_dot(D, x, v);
      for (size_t j = 0; j < D; j++)
        w[j] += s * x[j];
    }
    rho = vec_dot(D, v, w);
    memcpy(v, w, sizeof v);
  }
  return rho;
}

Test(logistic, constants_bound_true_quantities)
{
  lr_fixture fx;
  make_data(&fx, 6);
  test_rng r;
  rng_seed(&r, 7);
  for (int g = 0; g < 4; g++) {
    hyd_logistic *lr = make_lr(&fx, groupings[g]);
    const hyd_problem *p = hyd_logistic_problem(lr);
    size_t np = n_thetas[g];
    for (int trial = 0; trial < 20; trial++) {
      size_t i = (size_t)trial % 2;
      const hyd_logistic_fold *fo = &fx.folds[i];
      double th[NW], W[NW], W2[NW], V[NW], a1[NW], a2[NW], dW[NW];
      rng_fill(&r, np, -3.0, 1.0, th);
      rng_fill(&r, NW, -2.0, 2.0, W);
      rng_fill(&r, NW, -1.0, 1.0, V);
      double sc = (trial % 2) ? 1.0 : 1e-3;
      for (size_t k = 0; k < NW; k++) {
        W2[k] = W[k] + sc * (2 * rng_uniform(&r) - 1);
        dW[k] = W[k] - W2[k];
      }
      hyd_constants k;
      cr_assert_eq(p->constants(p->ctx, i, th, W, &k), 0);
      cr_assert_eq(k.certified, 1);
      double emin = INFINITY, emax = 0.0;
      for (size_t t = 0; t < np; t++) {
        emin = fmin(emin, exp(th[t]));
        emax = fmax(emax, exp(th[t]));
      }
      cr_assert(fabs(k.mu - emin) <= 1e-15 * emin);
      cr_assert(fabs(k.LB - emax) <= 1e-15 * emax);
      /* the certified lambda_max terms: above and close to the true ones */
      double lt = lmax_rows(&fx, fo->train, fo->n_train) / (2.0 * 25);
      double lv = lmax_rows(&fx, fo->val, fo->n_val) / (2.0 * 15);
      double Lce = k.L - emax;
      cr_assert(Lce >= lt && Lce <= lt * (1 + 1e-6), "L %.17g %.17g", Lce, lt);
      cr_assert(k.Lg >= lv && k.Lg <= lv * (1 + 1e-6), "Lg %.17g %.17g",
                k.Lg, lv);
      /* mu, L: Rayleigh quotient and ||A V|| */
      cr_assert_eq(p->lower_hvp(p->ctx, i, th, W, V, a1), 0);
      double vv = vec_dot(NW, V, V);
      cr_assert(vec_dot(NW, V, a1) >= k.mu * vv * (1 - 1e-14), "mu");
      cr_assert(vec_norm(NW, a1) <= k.L * sqrt(vv), "L");
      /* Lg: ||grad g(W) - grad g(W2)|| <= Lg ||W - W2|| */
      double g1[NW], g2[NW], gv;
      cr_assert_eq(p->upper(p->ctx, i, W, &gv, g1), 0);
      cr_assert_eq(p->upper(p->ctx, i, W2, &gv, g2), 0);
      for (size_t t = 0; t < NW; t++)
        g1[t] -= g2[t];
      double ndw = vec_norm(NW, dW);
      cr_assert(vec_norm(NW, g1) <= k.Lg * ndw, "Lg");
      /* ||B||: B^T B by columns (cross_prod with unit vectors); its
       * largest eigenvalue equals norm_B^2 (the columns are orthogonal:
       * check that too) */
      double cols[NW][NW], colsd[NW][NW];
      for (size_t a = 0; a < np; a++) {
        double e[NW] = {0};
        e[a] = 1.0;
        cr_assert_eq(p->cross_prod(p->ctx, i, th, W, e, cols[a]), 0);
        cr_assert_eq(p->cross_prod(p->ctx, i, th, dW, e, colsd[a]), 0);
      }
      double maxc = 0.0, maxd = 0.0;
      for (size_t a = 0; a < np; a++) {
        for (size_t b = a + 1; b < np; b++)
          cr_assert_eq(vec_dot(NW, cols[a], cols[b]), 0.0);
        maxc = fmax(maxc, vec_norm(NW, cols[a]));
        maxd = fmax(maxd, vec_norm(NW, colsd[a]));
      }
      cr_assert(maxc <= k.norm_B && k.norm_B <= maxc * (1 + 1e-10),
                "norm_B %.17g %.17g", k.norm_B, maxc);
      /* LB: B is linear, B(W) - B(W2) = B(dW) */
      cr_assert(maxd <= k.LB * ndw * (1 + 1e-14), "LB");
      /* LA = LAinv mu^2: ||(A(W) - A(W2)) V|| <= LA ||dW|| ||V|| */
      cr_assert_eq(p->lower_hvp(p->ctx, i, th, W2, V, a2), 0);
      for (size_t t = 0; t < NW; t++)
        a1[t] -= a2[t];
      double LA = k.LAinv * k.mu * k.mu;
      cr_assert(fabs(LA - fold_LA(&fx, fo->train, fo->n_train)) <= 1e-12 * LA);
      cr_assert(vec_norm(NW, a1) <= LA * ndw * sqrt(vv), "LA");
    }
    hyd_logistic_destroy(lr);
  }
}

/* hvp_change: ||(A(W2) - A(W)) Q|| <= M ||W2 - W|| for W2 within rho of
 * W, at confident and at uncertain W (scaled), for every grouping, with
 * W2 on the sphere of radius rho and inside it; and M falls with the
 * rows' confidence, which is what makes it sharper than LA ||Q||. Random
 * moves are not the worst ones: they reach about 3% of M here. */
Test(logistic, hvp_change_bounds_the_change)
{
  lr_fixture fx;
  make_data(&fx, 16);
  test_rng r;
  rng_seed(&r, 17);
  for (int g = 0; g < 4; g++) {
    hyd_logistic *lr = make_lr(&fx, groupings[g]);
    const hyd_problem *p = hyd_logistic_problem(lr);
    cr_assert_not_null(p->hvp_change);
    double th[NW], worst = 0.0;
    rng_fill(&r, n_thetas[g], -3.0, 0.0, th);
    for (int trial = 0; trial < 40; trial++) {
      size_t i = (size_t)trial % 2;
      double W[NW], W2[NW], Q[NW], a1[NW], a2[NW], M;
      double scale = (trial % 4 < 2) ? 0.3 : 6.0; /* uncertain / confident */
      rng_fill(&r, NW, -scale, scale, W);
      rng_fill(&r, NW, -1.0, 1.0, Q);
      double rho = (trial % 3 == 0) ? 1e-6 : (trial % 3 == 1) ? 1e-2 : 0.5;
      double dir[NW];
      for (size_t k = 0; k < NW; k++)
        dir[k] = rng_normal(&r);
      double nd = vec_norm(NW, dir), t = (trial % 5 == 0) ? 0.37 : 1.0;
      for (size_t k = 0; k < NW; k++)
        W2[k] = W[k] + t * rho * dir[k] / nd;
      cr_assert_eq(p->hvp_change(p->ctx, i, th, W, Q, rho, &M), 0);
      cr_assert_eq(p->lower_hvp(p->ctx, i, th, W, Q, a1), 0);
      cr_assert_eq(p->lower_hvp(p->ctx, i, th, W2, Q, a2), 0);
      for (size_t k = 0; k < NW; k++)
        a1[k] -= a2[k];
      cr_assert(vec_norm(NW, a1) <= M * t * rho * (1 + 1e-12),
                "grouping %d trial %d: change %.6g > M %.6g * %.3g", g, trial,
                vec_norm(NW, a1), M, t * rho);
      worst = fmax(worst, vec_norm(NW, a1) / (M * t * rho));
    }
    /* and not uselessly loose: random moves reach about 3% of it */
    cr_assert(worst > 0.01, "grouping %d: largest change / bound %g", g, worst);
    /* confident rows: M shrinks as W grows along the same direction */
    double W[NW], Q[NW], Wb[NW], Ms, Mb;
    rng_fill(&r, NW, -1.0, 1.0, W);
    rng_fill(&r, NW, -1.0, 1.0, Q);
    for (size_t k = 0; k < NW; k++)
      Wb[k] = 20.0 * W[k];
    cr_assert_eq(p->hvp_change(p->ctx, 0, th, W, Q, 1e-8, &Ms), 0);
    cr_assert_eq(p->hvp_change(p->ctx, 0, th, Wb, Q, 1e-8, &Mb), 0);
    cr_assert(Mb < 0.1 * Ms, "M %.6g at 20 W, %.6g at W", Mb, Ms);
    /* bad arguments */
    cr_assert_eq(p->hvp_change(p->ctx, 2, th, W, Q, 1e-8, &Ms), HYD_EINVAL);
    cr_assert_eq(p->hvp_change(p->ctx, 0, th, W, NULL, 1e-8, &Ms), HYD_EINVAL);
    cr_assert_eq(p->hvp_change(p->ctx, 0, th, W, Q, -1.0, &Ms), HYD_EINVAL);
    hyd_logistic_destroy(lr);
  }
}

/* The probability cache must follow W, even when W changes in place. */
Test(logistic, hvp_cache_follows_W)
{
  lr_fixture fx;
  make_data(&fx, 8);
  hyd_logistic *a = make_lr(&fx, HYD_LOGISTIC_SCALAR);
  const hyd_problem *pa = hyd_logistic_problem(a);
  test_rng r;
  rng_seed(&r, 9);
  double th[1] = {-1.0}, W[NW], V[NW], g[NW], o1[NW], o2[NW];
  rng_fill(&r, NW, -1.0, 1.0, W);
  rng_fill(&r, NW, -1.0, 1.0, V);
  cr_assert_eq(pa->lower_grad(pa->ctx, 0, th, W, NULL, g), 0);
  W[3] += 0.5; /* same buffer, new contents */
  cr_assert_eq(pa->lower_hvp(pa->ctx, 0, th, W, V, o1), 0);
  hyd_logistic *b = make_lr(&fx, HYD_LOGISTIC_SCALAR);
  const hyd_problem *pb = hyd_logistic_problem(b);
  cr_assert_eq(pb->lower_hvp(pb->ctx, 0, th, W, V, o2), 0);
  for (size_t k = 0; k < NW; k++)
    cr_assert_eq(o1[k], o2[k]);
  /* and a second product at the same W (cached) is identical */
  cr_assert_eq(pa->lower_hvp(pa->ctx, 0, th, W, V, o2), 0);
  for (size_t k = 0; k < NW; k++)
    cr_assert_eq(o1[k], o2[k]);
  hyd_logistic_destroy(a);
  hyd_logistic_destroy(b);
}

/* hyd_solve_lower_with: FISTA, gradient descent and Newton-CG reach the
 * same minimiser within their certified distances (small L2 weight: an
 * ill-conditioned lower level); an unknown solver is refused. */
Test(logistic, solve_lower_with_each_solver)
{
  lr_fixture fx;
  make_data(&fx, 12);
  hyd_logistic *lr = make_lr(&fx, HYD_LOGISTIC_SCALAR);
  const hyd_problem *p = hyd_logistic_problem(lr);
  double th = log(1e-3), eps = 1e-9, W[3][NW];
  const int methods[3] = {HYD_LOWER_NEWTON_CG, HYD_LOWER_FISTA, HYD_LOWER_GD};
  long its[3];
  for (int m = 0; m < 3; m++) {
    memset(W[m], 0, sizeof W[m]);
    cr_assert_eq(hyd_solve_lower_with(p, 0, &th, eps, methods[m], W[m],
                                      &its[m], NULL),
                 HYD_OK, "method %d", methods[m]);
  }
  for (int m = 1; m < 3; m++) {
    double d2 = 0.0;
    for (size_t k = 0; k < NW; k++)
      d2 += (W[m][k] - W[0][k]) * (W[m][k] - W[0][k]);
    cr_assert(sqrt(d2) <= 2 * eps, "method %d: %g from Newton-CG's",
              methods[m], sqrt(d2));
  }
  cr_assert_lt(its[0], its[1], "Newton-CG %ld, FISTA %ld products", its[0],
               its[1]);
  cr_assert_eq(hyd_solve_lower_with(p, 0, &th, eps, 4, W[0], NULL, NULL),
               HYD_EINVAL);
  cr_assert_eq(hyd_solve_lower_with(p, 0, &th, eps, -1, W[0], NULL, NULL),
               HYD_EINVAL);
  hyd_logistic_destroy(lr);
}

Test(logistic, evaluate)
{
  lr_fixture fx;
  make_data(&fx, 10);
  hyd_logistic *lr = make_lr(&fx, HYD_LOGISTIC_SCALAR);
  double W[NW] = {0}, loss, acc;
  cr_assert_eq(hyd_logistic_evaluate(lr, W, NULL, 0, &loss, &acc), HYD_OK);
  size_t zeros = 0;
  for (size_t i = 0; i < ROWS; i++)
    zeros += (fx.y[i] == 0);
  cr_assert(fabs(loss - log(3.0)) <= 1e-15);
  cr_assert_eq(acc, (double)zeros / ROWS);
  /* W that scores class c by feature c: accuracy by direct count */
  for (size_t c = 0; c < C; c++)
    W[c * C + c] = 1.0;
  size_t rows[3] = {4, 7, 30}, right = 0;
  double ce = 0.0;
  for (size_t t = 0; t < 3; t++) {
    const double *x = fx.X + rows[t] * D;
    size_t best = 0;
    for (size_t c = 1; c < C; c++)
      if (x[c] > x[best])
        best = c;
    right += (best == (size_t)fx.y[rows[t]]);
    double m = fmax(x[0], fmax(x[1], x[2]));
    ce += m + log(exp(x[0] - m) + exp(x[1] - m) + exp(x[2] - m)) -
          x[fx.y[rows[t]]];
  }
  cr_assert_eq(hyd_logistic_evaluate(lr, W, rows, 3, &loss, NULL), HYD_OK);
  cr_assert_eq(hyd_logistic_evaluate(lr, W, rows, 3, NULL, &acc), HYD_OK);
  cr_assert(fabs(loss - ce / 3) <= 1e-15 * ce);
  cr_assert_eq(acc, (double)right / 3);
  size_t bad[1] = {ROWS};
  cr_assert_eq(hyd_logistic_evaluate(lr, W, bad, 1, &loss, &acc), HYD_EINVAL);
  cr_assert_eq(hyd_logistic_evaluate(lr, W, rows, 0, &loss, &acc), HYD_EINVAL);
  cr_assert_eq(hyd_logistic_evaluate(NULL, W, rows, 3, &loss, &acc),
               HYD_EINVAL);
  cr_assert_eq(hyd_logistic_evaluate(lr, NULL, rows, 3, &loss, &acc),
               HYD_EINVAL);
  W[0] = INFINITY;
  cr_assert_eq(hyd_logistic_evaluate(lr, W, rows, 3, &loss, &acc),
               HYD_ENONFINITE);
  hyd_logistic_destroy(lr);
}

/* The serial oracle, watched: what each evaluate asked and returned. */
typedef struct eval_seen {
  double theta, eps, delta, eps_achieved, delta_binding, omega, z_norm;
} eval_seen;
typedef struct watched_oracle {
  hyd_oracle inner;
  eval_seen seen[1024];
  size_t n;
} watched_oracle;

#define INNER(w) ((watched_oracle *)(w))->inner
static int w_configure(void *w, const hyd_oracle_config *cfg)
{
  return INNER(w).ops->configure(INNER(w).self, cfg);
}
static int w_evaluate(void *self, const double *theta, double eps,
                      double delta, hyd_eval *out)
{
  watched_oracle *w = self;
  int rc = w->inner.ops->evaluate(w->inner.self, theta, eps, delta, out);
  if (rc == HYD_OK && w->n < 1024)
    w->seen[w->n++] = (eval_seen){theta[0],          eps,
                                  delta,             out->eps_achieved,
                                  out->delta_binding, out->omega,
                                  out->z_norm};
  return rc;
}
static int w_trials(void *w, size_t n, const double *const *thetas,
                    double eps, hyd_trial *out)
{
  return INNER(w).ops->trials(INNER(w).self, n, thetas, eps, out);
}
static int w_accept(void *w, size_t k) { return INNER(w).ops->accept(INNER(w).self, k); }
static int w_upper_now(void *w, double *g) { return INNER(w).ops->upper_now(INNER(w).self, g); }
static size_t w_max_trials(void *w) { return INNER(w).ops->max_trials(INNER(w).self); }
static size_t w_state_size(void *w) { return INNER(w).ops->state_size(INNER(w).self); }
static int w_save_state(void *w, double *b) { return INNER(w).ops->save_state(INNER(w).self, b); }
static int w_load_state(void *w, const double *b) { return INNER(w).ops->load_state(INNER(w).self, b); }
static const char *w_errmsg(void *w) { return INNER(w).ops->errmsg(INNER(w).self); }
static const hyd_oracle_ops watched_ops = {
    HYD_ORACLE_VERSION, w_configure,  w_evaluate,   w_trials,
    w_accept,           w_upper_now,  w_max_trials, w_state_size,
    w_save_state,       w_load_state, w_errmsg,     NULL,
    NULL};

/* A scalar-L2 problem on seeded data, its serial oracle and the watch on
 * it, and a solver not yet given the oracle. */
typedef struct watched_run {
  lr_fixture fx;
  hyd_logistic *lr;
  hyd_serial_oracle *so;
  watched_oracle *w;
  hyd_maid *s;
} watched_run;

static void watched_run_start(watched_run *r, unsigned long long seed)
{
  make_data(&r->fx, seed);
  r->lr = make_lr(&r->fx, HYD_LOGISTIC_SCALAR);
  const hyd_problem *p = hyd_logistic_problem(r->lr);
  double theta0[1] = {0.0};
  cr_assert_eq(hyd_serial_oracle_create(&r->so, p, theta0, NULL), HYD_OK);
  r->w = calloc(1, sizeof *r->w);
  cr_assert_not_null(r->w);
  r->w->inner = hyd_serial_oracle_as_oracle(r->so);
  cr_assert_eq(hyd_maid_create(&r->s, p, NULL), HYD_OK);
}

static void watched_run_end(watched_run *r)
{
  hyd_maid_destroy(r->s);
  hyd_serial_oracle_destroy(r->so);
  free(r->w);
  hyd_logistic_destroy(r->lr);
}

/* After a failed descent test MAID tightens eps and delta; a round whose
 * accuracies the last evaluation already met would repeat it, and is
 * passed over. Every evaluation after a failed test asks for more than the
 * last one achieved (the solvers move), and a jump over several halvings
 * stops at the first that does. */
Test(logistic, maid_passes_over_repeated_rounds)
{
  watched_run r;
  watched_run_start(&r, 11);
  hyd_maid *s = r.s;
  watched_oracle *w = r.w;
  cr_assert_eq(hyd_maid_set_oracle(s, (hyd_oracle){&watched_ops, w}), HYD_OK);
  const char *opts[] = {"lower.method", "newton_cg", "alpha0", "10",
                        "rho_up", "2", "max_iter", "12", NULL};
  for (const char **o = opts; *o; o += 2)
    cr_assert_eq(hyd_maid_set_option(s, o[0], o[1]), HYD_OK, "%s", o[0]);
  cr_assert_eq(hyd_maid_setup(s), HYD_OK);
  cr_assert_eq(hyd_maid_solve(s), HYD_OK);
  const double nu = 0.5, eta = 1e-4;
  int failed = 0, jumps = 0;
  for (size_t k = 1; k < w->n; k++) {
    const eval_seen *a = &w->seen[k - 1], *b = &w->seen[k];
    if (b->theta != a->theta || !(a->omega > (1.0 - eta) * a->z_norm))
      continue;
    failed++;
    cr_expect(b->eps < a->eps_achieved || b->delta < a->delta_binding,
              "evaluation %zu repeats %zu: eps %g (achieved %g), delta %g "
              "(binding %g)", k, k - 1, b->eps, a->eps_achieved, b->delta,
              a->delta_binding);
    if (b->eps < nu * a->eps * (1.0 - 1e-12)) {
      jumps++;
      cr_expect(b->eps / nu >= a->eps_achieved * (1.0 - 1e-12) &&
                    b->delta / nu >= a->delta_binding * (1.0 - 1e-12),
                "evaluation %zu: jumped past the first moving round", k);
    }
  }
  cr_log_info("%zu evaluations, %d after a failed descent test, %d jumps",
              w->n, failed, jumps);
  cr_expect_gt(jumps, 0, "no round was passed over");
  watched_run_end(&r);
}

static int w_keep(void *w) { (void)w; return HYD_OK; }

/* Oracle tables of version 1 (no keep operations) are still taken; keep
 * operations come in pairs; a later version is refused. */
Test(logistic, maid_takes_oracle_tables_by_version)
{
  watched_run r;
  watched_run_start(&r, 12);
  hyd_maid *s = r.s;
  watched_oracle *w = r.w;
  hyd_oracle_ops v1 = watched_ops, half = watched_ops, later = watched_ops;
  v1.version = 1;
  half.keep_state = w_keep; /* without save_kept_state */
  later.version = HYD_ORACLE_VERSION + 1;
  cr_expect_eq(hyd_maid_set_oracle(s, (hyd_oracle){&half, w}), HYD_EINVAL);
  cr_expect_eq(hyd_maid_set_oracle(s, (hyd_oracle){&later, w}), HYD_EINVAL);
  cr_assert_eq(hyd_maid_set_oracle(s, (hyd_oracle){&v1, w}), HYD_OK);
  cr_assert_eq(hyd_maid_set_option(s, "lower.method", "newton_cg"), HYD_OK);
  cr_assert_eq(hyd_maid_setup(s), HYD_OK);
  cr_assert_eq(hyd_maid_iterate(s), HYD_OK);
  /* keep without the oracle's help: hyd_maid copies save_state's output */
  cr_assert_eq(hyd_maid_keep(s), HYD_OK);
  hyd_maid_checkpoint cp, kept;
  double th[1], kth[1];
  size_t nw = hyd_maid_warm_size(s);
  double *warm = malloc(nw * sizeof *warm), *kwarm = malloc(nw * sizeof *warm);
  cr_assert_eq(hyd_maid_save(s, &cp, th, warm), HYD_OK);
  cr_assert_eq(hyd_maid_iterate(s), HYD_OK);
  cr_assert_eq(hyd_maid_save_kept(s, &kept, kth, kwarm), HYD_OK);
  cr_expect_eq(memcmp(warm, kwarm, nw * sizeof *warm), 0);
  cr_expect_eq(kept.iter, 1);
  free(warm);
  free(kwarm);
  watched_run_end(&r);
}

Test(logistic, create_rejects_bad_arguments)
{
  lr_fixture fx;
  make_data(&fx, 11);
  hyd_logistic *lr = (hyd_logistic *)&lr;
  const hyd_logistic_fold *F = fx.folds;
#define BAD(...) cr_assert_eq(hyd_logistic_create(__VA_ARGS__), HYD_EINVAL)
  BAD(NULL, ROWS, D, C, fx.X, fx.y, 2, F, 0, 0, NULL);
  BAD(&lr, ROWS, D, C, NULL, fx.y, 2, F, 0, 0, NULL);
  cr_assert_null(lr);
  BAD(&lr, ROWS, D, C, fx.X, NULL, 2, F, 0, 0, NULL);
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 2, NULL, 0, 0, NULL);
  BAD(&lr, 0, D, C, fx.X, fx.y, 2, F, 0, 0, NULL);
  BAD(&lr, ROWS, 0, C, fx.X, fx.y, 2, F, 0, 0, NULL);
  BAD(&lr, ROWS, D, 1, fx.X, fx.y, 2, F, 0, 0, NULL);
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 0, F, 0, 0, NULL);
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 2, F, 4, 0, NULL);
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 2, F, -1, 0, NULL);
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 2, F, 0, 2u, NULL);
  BAD(&lr, (size_t)-1 / 2, D, C, fx.X, fx.y, 2, F, 0, 0, NULL);
  fx.y[5] = C;
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 2, F, 0, 0, NULL);
  fx.y[5] = -1;
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 2, F, 0, 0, NULL);
  fx.y[5] = 0;
  fx.X[7] = NAN;
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 2, F, 0, 0, NULL);
  fx.X[7] = 0.0;
  fx.idx[3] = ROWS;
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 2, F, 0, 0, NULL);
  fx.idx[3] = 3;
  fx.folds[1].n_val = 0;
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 2, F, 0, 0, NULL);
  fx.folds[1].n_val = 15;
  fx.folds[0].train = NULL;
  BAD(&lr, ROWS, D, C, fx.X, fx.y, 2, F, 0, 0, NULL);
#undef BAD
  cr_assert_null(lr);
  hyd_logistic_destroy(NULL);
  cr_assert_null(hyd_logistic_problem(NULL));
}

Test(logistic, callbacks_reject_bad_arguments)
{
  lr_fixture fx;
  make_data(&fx, 12);
  hyd_logistic *lr = make_lr(&fx, HYD_LOGISTIC_PER_FEATURE);
  const hyd_problem *p = hyd_logistic_problem(lr);
  void *ctx = p->ctx;
  double th[D] = {0}, W[NW] = {0}, o[NW], f;
  hyd_constants k;
  cr_assert_eq(p->lower_grad(ctx, 2, th, W, &f, o), HYD_EINVAL);
  cr_assert_eq(p->lower_hvp(ctx, 2, th, W, W, o), HYD_EINVAL);
  cr_assert_eq(p->cross_tprod(ctx, 2, th, W, W, o), HYD_EINVAL);
  cr_assert_eq(p->cross_prod(ctx, 2, th, W, th, o), HYD_EINVAL);
  cr_assert_eq(p->upper(ctx, 2, W, &f, o), HYD_EINVAL);
  cr_assert_eq(p->constants(ctx, 2, th, W, &k), HYD_EINVAL);
  cr_assert_eq(p->lower_grad(ctx, 0, NULL, W, &f, o), HYD_EINVAL);
  cr_assert_eq(p->lower_grad(ctx, 0, th, NULL, &f, o), HYD_EINVAL);
  cr_assert_eq(p->lower_grad(ctx, 0, th, W, &f, NULL), HYD_EINVAL);
  cr_assert_eq(p->lower_hvp(ctx, 0, th, W, NULL, o), HYD_EINVAL);
  cr_assert_eq(p->cross_tprod(ctx, 0, th, W, NULL, o), HYD_EINVAL);
  cr_assert_eq(p->cross_prod(ctx, 0, th, W, NULL, o), HYD_EINVAL);
  cr_assert_eq(p->upper(ctx, 0, W, NULL, o), HYD_EINVAL);
  cr_assert_eq(p->constants(ctx, 0, th, NULL, &k), HYD_EINVAL);
  cr_assert_eq(p->constants(ctx, 0, th, W, NULL), HYD_EINVAL);
  /* e^theta must be a positive finite double */
  const double bad[3] = {NAN, 800.0, -800.0};
  for (int b = 0; b < 3; b++) {
    th[2] = bad[b];
    cr_assert_eq(p->lower_grad(ctx, 0, th, W, &f, o), HYD_EINVAL);
    cr_assert_eq(p->lower_hvp(ctx, 0, th, W, W, o), HYD_EINVAL);
    cr_assert_eq(p->cross_tprod(ctx, 0, th, W, W, o), HYD_EINVAL);
    cr_assert_eq(p->constants(ctx, 0, th, W, &k), HYD_EINVAL);
  }
  hyd_logistic_destroy(lr);
}

typedef struct fault_ctx {
  lr_fixture *fx;
  unsigned flags;
} fault_ctx;

static int lr_create_any(void *ctx, const hyd_allocator *a, void **obj)
{
  fault_ctx *c = ctx;
  return hyd_logistic_create((hyd_logistic **)obj, ROWS, D, C, c->fx->X,
                             c->fx->y, 2, c->fx->folds,
                             HYD_LOGISTIC_PER_WEIGHT, c->flags, a);
}

/* evaluate allocates once: make that one fail too */
static void lr_evaluate_fails(void *obj, test_alloc *fa)
{
  double W[NW] = {0}, loss;
  fa->fail_at = fa->calls + 1;
  cr_assert_eq(hyd_logistic_evaluate(obj, W, NULL, 0, &loss, NULL),
               HYD_ENOMEM);
  fa->fail_at = 0;
  cr_assert_eq(hyd_logistic_evaluate(obj, W, NULL, 0, &loss, NULL), HYD_OK);
}

static void lr_destroy_any(void *obj)
{
  hyd_logistic_destroy(obj);
}

Test(logistic, allocation_failures)
{
  lr_fixture fx;
  make_data(&fx, 13);
  fault_ctx c0 = {&fx, 0}, c1 = {&fx, HYD_LOGISTIC_BORROW_DATA};
  long k0 = fault_loop(&c0, lr_create_any, lr_evaluate_fails, lr_destroy_any);
  long k1 = fault_loop(&c1, lr_create_any, lr_evaluate_fails, lr_destroy_any);
  cr_assert(k0 == k1 + 2, "copying adds two allocations: %ld %ld", k0, k1);
}

/* Borrowed data gives the same numbers as copied data. */
Test(logistic, borrowed_data)
{
  lr_fixture fx;
  make_data(&fx, 14);
  hyd_logistic *a = make_lr(&fx, HYD_LOGISTIC_SCALAR), *b = NULL;
  cr_assert_eq(hyd_logistic_create(&b, ROWS, D, C, fx.X, fx.y, 2, fx.folds,
                                   HYD_LOGISTIC_SCALAR,
                                   HYD_LOGISTIC_BORROW_DATA, NULL),
               HYD_OK);
  double th[1] = {-2.0}, W[NW], g1[NW], g2[NW], f1, f2;
  test_rng r;
  rng_seed(&r, 15);
  rng_fill(&r, NW, -1.0, 1.0, W);
  const hyd_problem *pa = hyd_logistic_problem(a), *pb = hyd_logistic_problem(b);
  cr_assert_eq(pa->lower_grad(pa->ctx, 1, th, W, &f1, g1), 0);
  cr_assert_eq(pb->lower_grad(pb->ctx, 1, th, W, &f2, g2), 0);
  cr_assert_eq(f1, f2);
  cr_assert_eq(memcmp(g1, g2, sizeof g1), 0);
  hyd_logistic_destroy(a);
  hyd_logistic_destroy(b);
}

/* ---- digits (shared/data): the reference's scalar-L2 baseline ---- */

static size_t read_index(const char *path, size_t *out, size_t cap)
{
  FILE *f = fopen(path, "r");
  size_t n = 0, v;
  cr_assert_not_null(f, "%s", path);
  while (n < cap && fscanf(f, "%zu", &v) == 1)
    out[n++] = v;
  fclose(f);
  return n;
}

/* Newton-CG on h (the test's own solver), to a gradient norm of 1e-10. */
static void newton_solve(const hyd_problem *p, const double *th, double *W,
                         size_t n)
{
  double *g = malloc(n * sizeof *g), *dW = malloc(n * sizeof *dW);
  double *rr = malloc(n * sizeof *rr), *pp = malloc(n * sizeof *pp);
  double *Ap = malloc(n * sizeof *Ap), *Wt = malloc(n * sizeof *Wt);
  for (int it = 0; it < 60; it++) {
    double f;
    cr_assert_eq(p->lower_grad(p->ctx, 0, th, W, &f, g), 0);
    double gn = vec_norm(n, g);
    if (gn < 1e-10)
      break;
    /* CG on A dW = -g */
    for (size_t k = 0; k < n; k++) {
      dW[k] = 0.0;
      rr[k] = -g[k];
      pp[k] = rr[k];
    }
    double rs = vec_dot(n, rr, rr);
    for (int c = 0; c < 2000 && sqrt(rs) > 1e-3 * gn * fmin(1.0, gn); c++) {
      cr_assert_eq(p->lower_hvp(p->ctx, 0, th, W, pp, Ap), 0);
      double al = rs / vec_dot(n, pp, Ap);
      for (size_t k = 0; k < n; k++) {
        dW[k] += al * pp[k];
        rr[k] -= al * Ap[k];
      }
      double rs2 = vec_dot(n, rr, rr);
      for (size_t k = 0; k < n; k++)
        pp[k] = rr[k] + rs2 / rs * pp[k];
      rs = rs2;
    }
    /* backtracking on h keeps the first steps safe */
    double step = 1.0, ft;
    for (;;) {
      for (size_t k = 0; k < n; k++)
        Wt[k] = W[k] + step * dW[k];
      cr_assert_eq(p->lower_grad(p->ctx, 0, th, Wt, &ft, g), 0);
      if (ft <= f || step < 1e-8)
        break;
      step *= 0.5;
    }
    memcpy(W, Wt, n * sizeof *W);
  }
  free(g);
  free(dW);
  free(rr);
  free(pp);
  free(Ap);
  free(Wt);
}

Test(logistic, digits_reference_baseline)
{
  enum { NR = 1797, ND = 64, NC = 10 };
  double *X = malloc(NR * ND * sizeof *X);
  int *y = malloc(NR * sizeof *y);
  FILE *f = fopen(HYD_SHARED_DIR "/data/tables/digits.csv", "r");
  cr_assert_not_null(f);
  for (size_t i = 0; i < NR; i++) {
    for (size_t j = 0; j < ND; j++)
      cr_assert_eq(fscanf(f, "%lf,", &X[i * ND + j]), 1);
    cr_assert_eq(fscanf(f, "%d", &y[i]), 1);
  }
  fclose(f);
  f = fopen(HYD_SHARED_DIR "/data/splits/digits_scaler_mean_std.csv", "r");
  cr_assert_not_null(f);
  double mean[ND], sd[ND];
  for (size_t j = 0; j < ND; j++)
    cr_assert_eq(fscanf(f, "%lf,%lf", &mean[j], &sd[j]), 2);
  fclose(f);
  for (size_t i = 0; i < NR; i++)
    for (size_t j = 0; j < ND; j++)
      X[i * ND + j] = (X[i * ND + j] / 16.0 - mean[j]) / sd[j];
  size_t tr[1100], va[400], te[400];
  size_t ntr = read_index(HYD_SHARED_DIR "/data/splits/digits_train_idx.txt", tr, 1100);
  size_t nva = read_index(HYD_SHARED_DIR "/data/splits/digits_val_idx.txt", va, 400);
  size_t nte = read_index(HYD_SHARED_DIR "/data/splits/digits_test_idx.txt", te, 400);
  cr_assert_eq(ntr, 1078);
  cr_assert_eq(nva, 359);
  cr_assert_eq(nte, 360);
  hyd_logistic_fold fold = {tr, ntr, va, nva};
  hyd_logistic *lr;
  cr_assert_eq(hyd_logistic_create(&lr, NR, ND, NC, X, y, 1, &fold,
                                   HYD_LOGISTIC_SCALAR, 0, NULL),
               HYD_OK);
  const hyd_problem *p = hyd_logistic_problem(lr);
  /* sklearn's optimum C* = 1.865 is e^theta = 1 / (C* n_train) */
  double th[1] = {-log(1.865 * 1078.0)};
  double *W = calloc(ND * NC, sizeof *W);
  newton_solve(p, th, W, ND * NC);
  double val, test_loss, test_acc;
  cr_assert_eq(p->upper(p->ctx, 0, W, &val, NULL), 0);
  cr_assert_eq(hyd_logistic_evaluate(lr, W, te, nte, &test_loss, &test_acc),
               HYD_OK);
  cr_log_info("digits: val %.6f test %.6f acc %.4f", val, test_loss,
              test_acc);
  /* shared/reference/README.md: val 0.101760, test 0.1011, acc 0.967 */
  cr_assert(fabs(val - 0.101760) < 2e-5, "val %.6f", val);
  cr_assert(fabs(test_loss - 0.1011) < 1e-4, "test %.6f", test_loss);
  cr_assert(fabs(test_acc - 0.967) < 1.5e-3, "acc %.4f", test_acc);
  hyd_constants k;
  cr_assert_eq(p->constants(p->ctx, 0, th, W, &k), 0);
  cr_assert(k.L > k.mu && k.Lg > 0 && k.norm_B > 0 && k.LAinv > 0);
  hyd_logistic_destroy(lr);
  free(W);
  free(X);
  free(y);
}
