/* One-hidden-layer MLP with companded weights: value against a direct
 * computation, gradient / Hessian-vector product / B^T q / upper gradient
 * against central differences, the estimated constants where they are
 * true at W, the hypergradient against central differences of the
 * re-solved f(theta) at a strict local minimum, the "not certified" flag
 * through the oracle and MAID, the seeded start, error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/maid.h>
#include <hyperd/mlp.h>
#include <hyperd/oracle.h>
#include <hyperd/problem.h>

#include "common.h"

#define ROWS 40
#define D 4
#define H 5
#define C 3
#define NW ((D + C) * H)
#define MAXP (2 * H)

typedef struct mfx {
  double X[ROWS * D];
  int y[ROWS];
  size_t idx[2 * ROWS];
  hyd_logistic_fold folds[2];
} mfx;

static void make_data(mfx *fx, unsigned long long seed)
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

static const int groupings[3] = {HYD_MLP_SCALAR, HYD_MLP_PER_LAYER,
                                 HYD_MLP_PER_UNIT};
static const size_t n_groups[3] = {1, 2, H};

static size_t group(int grouping, size_t k)
{
  int second = k >= D * H;
  size_t h = second ? (k - D * H) / C : k % H;
  return grouping == HYD_MLP_SCALAR ? 0
         : grouping == HYD_MLP_PER_LAYER ? (size_t)second
                                         : h;
}

static hyd_mlp *make_mlp(mfx *fx, int grouping, double T, double l2,
                         unsigned long seed)
{
  hyd_mlp_options o;
  hyd_mlp_options_default(&o);
  o.hidden = H;
  o.grouping = grouping;
  o.cutoff_tan2 = T;
  o.l2 = l2;
  o.seed = seed;
  hyd_mlp *m;
  cr_assert_eq(hyd_mlp_create(&m, ROWS, D, C, fx->X, fx->y, 2, fx->folds, &o,
                              NULL),
               HYD_OK);
  return m;
}

/* theta with a in [0.5, 2], kappa in [0.02, 0.5]; W spread over
 * |u| = |W/a| < 1.5, beyond the cut-off atan(2) of T = 4 for some. */
static void random_point(test_rng *r, int grouping, size_t G, double *th,
                         double *W)
{
  for (size_t g = 0; g < G; g++) {
    th[g] = log(0.5 + 1.5 * rng_uniform(r));
    th[G + g] = log(0.02 + 0.48 * rng_uniform(r));
  }
  for (size_t k = 0; k < NW; k++)
    W[k] = exp(th[group(grouping, k)]) * 1.5 * (2.0 * rng_uniform(r) - 1.0);
}

/* CE of the network on the rows, computed directly. */
static double direct_ce(const mfx *fx, const size_t *rows, size_t n,
                        const double *W)
{
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double *x = fx->X + rows[i] * D;
    double z[H], o[C] = {0}, mx = -INFINITY, s = 0.0;
    for (size_t h = 0; h < H; h++) {
      double a = 0.0;
      for (size_t j = 0; j < D; j++)
        a += x[j] * W[j * H + h];
      z[h] = tanh(a);
    }
    for (size_t c = 0; c < C; c++) {
      for (size_t h = 0; h < H; h++)
        o[c] += z[h] * W[D * H + h * C + c];
      mx = fmax(mx, o[c]);
    }
    for (size_t c = 0; c < C; c++)
      s += exp(o[c] - mx);
    sum += mx + log(s) - o[fx->y[rows[i]]];
  }
  return sum / (double)n;
}

Test(mlp, table_options_and_seeded_start)
{
  hyd_mlp_options o;
  hyd_mlp_options_default(&o);
  cr_assert_eq(o.hidden, 32);
  cr_assert_eq(o.grouping, HYD_MLP_PER_LAYER);
  cr_assert_eq(o.cutoff_tan2, 100.0);
  cr_assert_eq(hyd_mlp_n_groups(&o), 2);
  cr_assert_eq(hyd_mlp_n_groups(NULL), 0);
  mfx fx;
  make_data(&fx, 1);
  for (int g = 0; g < 3; g++) {
    hyd_mlp *m = make_mlp(&fx, groupings[g], 100.0, 0.0, 7);
    const hyd_problem *p = hyd_mlp_problem(m);
    cr_assert_eq(hyd_problem_check(p), HYD_OK);
    cr_assert_eq(p->n_theta, 2 * n_groups[g]);
    cr_assert_eq(p->n_samples, 2);
    cr_assert_eq(p->lower_dim(p->ctx, 1), NW);
    cr_assert_eq(p->lower_dim(p->ctx, 2), 0);
    cr_assert_eq(p->upper_convex, 0);
    cr_assert_eq(p->lower_nonconvex, 1);
    double th[MAXP];
    cr_assert_eq(hyd_mlp_theta_init(m, 0.5, 0.01, th), HYD_OK);
    cr_assert_eq(th[0], log(0.5));
    cr_assert_eq(th[n_groups[g]], log(0.01));
    cr_assert_eq(hyd_mlp_theta_init(m, 0.0, 0.01, th), HYD_EINVAL);
    cr_assert_eq(hyd_mlp_theta_init(m, 0.5, NAN, th), HYD_EINVAL);
    hyd_mlp_destroy(m);
  }
  /* the start: deterministic in the seed, the same for every fold and
   * theta, scaled as documented (W1 ~ N(0, 1/d), W2 ~ N(0, 1/H)) */
  hyd_mlp *a = make_mlp(&fx, HYD_MLP_PER_LAYER, 100.0, 0.0, 7);
  hyd_mlp *b = make_mlp(&fx, HYD_MLP_SCALAR, 4.0, 0.1, 7);
  hyd_mlp *c = make_mlp(&fx, HYD_MLP_PER_LAYER, 100.0, 0.0, 8);
  const hyd_problem *pa = hyd_mlp_problem(a), *pb = hyd_mlp_problem(b),
                    *pc = hyd_mlp_problem(c);
  double x0[NW], x1[NW], x2[NW], x3[NW];
  double th[4] = {0.0, 1.0, -1.0, 2.0};
  cr_assert_eq(pa->lower_start(pa->ctx, 0, th, x0), 0);
  cr_assert_eq(pa->lower_start(pa->ctx, 1, NULL, x1), 0);
  cr_assert_eq(pb->lower_start(pb->ctx, 0, th, x2), 0);
  cr_assert_eq(pc->lower_start(pc->ctx, 0, th, x3), 0);
  cr_assert_eq(memcmp(x0, x1, sizeof x0), 0);
  cr_assert_eq(memcmp(x0, x2, sizeof x0), 0);
  cr_assert_neq(memcmp(x0, x3, sizeof x0), 0);
  double s1 = 0.0, s2 = 0.0;
  for (size_t k = 0; k < D * H; k++)
    s1 += x0[k] * x0[k];
  for (size_t k = D * H; k < NW; k++)
    s2 += x0[k] * x0[k];
  /* mean squares near 1/D and 1/H (chi-square with 20 and 15 degrees of
   * freedom: within a factor 3 with overwhelming probability) */
  cr_assert(s1 / (D * H) > 1.0 / (3 * D) && s1 / (D * H) < 3.0 / D, "%g", s1);
  cr_assert(s2 / (H * C) > 1.0 / (3 * H) && s2 / (H * C) < 3.0 / H, "%g", s2);
  cr_assert_eq(pa->lower_start(pa->ctx, 2, th, x0), HYD_EINVAL);
  hyd_mlp_destroy(a);
  hyd_mlp_destroy(b);
  hyd_mlp_destroy(c);
}

Test(mlp, value_matches_direct_computation)
{
  mfx fx;
  make_data(&fx, 2);
  double T = 4.0, l2 = 0.03;
  hyd_mlp *m = make_mlp(&fx, HYD_MLP_PER_UNIT, T, l2, 1);
  const hyd_problem *p = hyd_mlp_problem(m);
  test_rng r;
  rng_seed(&r, 3);
  double th[2 * H], W[NW], sg[NW];
  random_point(&r, HYD_MLP_PER_UNIT, H, th, W);
  double uc = atan(sqrt(T)), t = sqrt(T), s = 1.0 + T;
  double P1 = 2.0 * t * s, P2 = 2.0 * (s * s + 2.0 * T * s), pen = 0.0;
  int beyond = 0;
  for (size_t k = 0; k < NW; k++) {
    size_t g = group(HYD_MLP_PER_UNIT, k);
    double a = exp(th[g]), kap = exp(th[H + g]), u = W[k] / a, au = fabs(u);
    double psi = tan(u) * tan(u);
    if (au > uc) {
      beyond++;
      psi = T + P1 * (au - uc) + 0.5 * P2 * (au - uc) * (au - uc);
    }
    pen += kap * psi + 0.5 * l2 * W[k] * W[k];
  }
  cr_assert(beyond > 0 && beyond < NW, "points on both sides: %d", beyond);
  for (size_t i = 0; i < 2; i++) {
    const hyd_logistic_fold *f = &fx.folds[i];
    double want = direct_ce(&fx, f->train, f->n_train, W) + pen;
    double got = lower_value(p, i, th, W, sg);
    cr_assert(fabs(got - want) <= 1e-13 * fabs(want), "%.17g vs %.17g", got,
              want);
    double gv, gw = direct_ce(&fx, f->val, f->n_val, W);
    cr_assert_eq(p->upper(p->ctx, i, W, &gv, NULL), 0);
    cr_assert(fabs(gv - gw) <= 1e-13 * gw);
    double loss, acc;
    cr_assert_eq(hyd_mlp_evaluate(m, W, f->val, f->n_val, &loss, &acc),
                 HYD_OK);
    cr_assert(fabs(loss - gw) <= 1e-13 * gw);
    cr_assert(acc >= 0.0 && acc <= 1.0);
  }
  hyd_mlp_destroy(m);
}

/* Bounds for the central differences' truncation (fd_tol's M). Data term:
 * derivatives of CE(o(W)) of order k are sums of products of derivatives
 * of tanh (bounded by 2) and of the softmax, each carrying a factor
 * ||x|| or ||W2||; 10 (1 + ||x||)^k (1 + ||W2||)^k over the rows is a
 * generous bound. Penalty: as in test_compander.c. */
static double data_bound(const mfx *fx, const size_t *rows, size_t n,
                         const double *W, int order)
{
  double w2 = vec_norm(H * C, W + D * H), s = 0.0;
  for (size_t i = 0; i < n; i++) {
    double xn = vec_norm(D, fx->X + rows[i] * D);
    s += 10.0 * pow((1.0 + xn) * (1.0 + w2), order) / (double)n;
  }
  return s;
}

static void psi_bounds(double T, double out[4])
{
  double t = sqrt(T), s = 1.0 + T;
  out[0] = 2.0 * t * s;
  out[1] = 2.0 * (s * s + 2.0 * T * s);
  out[2] = 8.0 * t * s * (2.0 * s + T);
  out[3] = 16.0 * s * s * s + 88.0 * T * s * s + 16.0 * T * T * s;
}

static void check_derivatives(const mfx *fx, const hyd_problem *p, size_t i,
                              const double *th, size_t G, const double *W,
                              double T)
{
  const hyd_logistic_fold *fo = &fx->folds[i];
  double P[4], hstep = 1e-6, V[NW], w[MAXP];
  psi_bounds(T, P);
  test_rng r;
  rng_seed(&r, 41 + i);
  rng_fill(&r, NW, -1.0, 1.0, V);
  rng_fill(&r, 2 * G, -1.0, 1.0, w);
  double m3 = 0.0, m4 = 0.0, mt = 0.0, q1 = 0.0;
  for (size_t k = 0; k < NW; k++)
    q1 += fabs(V[k]);
  for (size_t g = 0; g < G; g++) {
    double a = exp(th[g]), k = exp(th[G + g]);
    m3 = fmax(m3, k / (a * a * a) * P[2]);
    m4 = fmax(m4, k / (a * a * a * a) * P[3]);
    mt = fmax(mt, 8.0 * k / a * pow(2.5, 3) * (P[0] + P[1] + P[2] + P[3]) * q1);
  }
  double nv = vec_norm(NW, V);
  fd_check_grad(p, i, th, W, hstep,
                data_bound(fx, fo->train, fo->n_train, W, 3) + m3);
  fd_check_hvp(p, i, th, W, V, hstep,
               (data_bound(fx, fo->train, fo->n_train, W, 4) + m4) * nv * nv *
                   nv);
  fd_check_btq(p, i, th, W, V, hstep, mt);
  check_adjoint(p, i, th, W, w, V);
  fd_check_upper(p, i, W, hstep, data_bound(fx, fo->val, fo->n_val, W, 3));
}

Test(mlp, derivatives_match_finite_differences)
{
  mfx fx;
  make_data(&fx, 4);
  test_rng r;
  rng_seed(&r, 5);
  for (int g = 0; g < 3; g++) {
    hyd_mlp *m = make_mlp(&fx, groupings[g], 4.0, 0.01, 3);
    const hyd_problem *p = hyd_mlp_problem(m);
    double th[MAXP], W[NW];
    for (size_t i = 0; i < 2; i++) {
      random_point(&r, groupings[g], n_groups[g], th, W);
      check_derivatives(&fx, p, i, th, n_groups[g], W, 4.0);
    }
    hyd_mlp_destroy(m);
  }
}

/* The HVP is the exact Hessian: symmetric to rounding, <u, A v> = <A u, v>. */
Test(mlp, hessian_is_symmetric)
{
  mfx fx;
  make_data(&fx, 14);
  hyd_mlp *m = make_mlp(&fx, HYD_MLP_PER_LAYER, 100.0, 0.0, 2);
  const hyd_problem *p = hyd_mlp_problem(m);
  test_rng r;
  rng_seed(&r, 15);
  double th[4], W[NW], u[NW], v[NW], Au[NW], Av[NW];
  random_point(&r, HYD_MLP_PER_LAYER, 2, th, W);
  rng_fill(&r, NW, -1.0, 1.0, u);
  rng_fill(&r, NW, -1.0, 1.0, v);
  cr_assert_eq(p->lower_hvp(p->ctx, 0, th, W, u, Au), 0);
  cr_assert_eq(p->lower_hvp(p->ctx, 0, th, W, v, Av), 0);
  double a = vec_dot(NW, v, Au), b = vec_dot(NW, u, Av);
  cr_assert(fabs(a - b) <= 1e-12 * (fabs(a) + vec_norm(NW, Au) * vec_norm(NW, v)),
            "%.17g %.17g", a, b);
  hyd_mlp_destroy(m);
}

/* The constants are estimates (certified = 0), but mu is the penalty's
 * least curvature exactly, L and Lg bound the Hessians' norms at W
 * (checked against Hessian-vector products along random directions),
 * ||B|| is exact. */
Test(mlp, constants_at_W)
{
  mfx fx;
  make_data(&fx, 8);
  test_rng r;
  rng_seed(&r, 9);
  double worst_B = 1.0;
  for (int g = 0; g < 3; g++) {
    hyd_mlp *m = make_mlp(&fx, groupings[g], 4.0, 0.01, 4);
    const hyd_problem *p = hyd_mlp_problem(m);
    size_t G = n_groups[g], np = 2 * G;
    for (int trial = 0; trial < 6; trial++) {
      size_t i = (size_t)trial % 2;
      double th[MAXP], W[NW], V[NW], Av[NW], Wp[NW], gp[NW], gm[NW];
      static double B[MAXP][NW];
      random_point(&r, groupings[g], G, th, W);
      hyd_constants k;
      cr_assert_eq(p->constants(p->ctx, i, th, W, &k), 0);
      cr_assert_eq(k.certified, 0);
      double mu = INFINITY;
      for (size_t q = 0; q < G; q++)
        mu = fmin(mu, 2.0 * exp(th[G + q]) / exp(2.0 * th[q]) + 0.01);
      cr_assert(fabs(k.mu - mu) <= 1e-14 * mu, "mu %.17g %.17g", k.mu, mu);
      cr_assert(k.L >= k.mu && k.Lg > 0.0 && k.LB > 0.0 && k.LAinv > 0.0);
      for (int dir = 0; dir < 5; dir++) {
        rng_fill(&r, NW, -1.0, 1.0, V);
        double nv = vec_norm(NW, V);
        cr_assert_eq(p->lower_hvp(p->ctx, i, th, W, V, Av), 0);
        cr_assert(vec_norm(NW, Av) <= k.L * nv, "L");
        /* the upper Hessian along V by a central difference */
        double hs = 1e-5;
        for (size_t t = 0; t < NW; t++)
          Wp[t] = W[t] + hs * V[t];
        double gv;
        cr_assert_eq(p->upper(p->ctx, i, Wp, &gv, gp), 0);
        for (size_t t = 0; t < NW; t++)
          Wp[t] = W[t] - hs * V[t];
        cr_assert_eq(p->upper(p->ctx, i, Wp, &gv, gm), 0);
        for (size_t t = 0; t < NW; t++)
          gp[t] = (gp[t] - gm[t]) / (2 * hs);
        cr_assert(vec_norm(NW, gp) <= k.Lg * nv * (1 + 1e-6), "Lg");
      }
      for (size_t a = 0; a < np; a++) {
        double e[MAXP] = {0};
        e[a] = 1.0;
        cr_assert_eq(p->cross_prod(p->ctx, i, th, W, e, B[a]), 0);
      }
      double nb = sqrt(gram_lmax(NW, np, &B[0][0]));
      cr_assert(nb <= k.norm_B * (1 + 1e-9), "norm_B %.17g exact %.17g",
                k.norm_B, nb);
      worst_B = fmin(worst_B, nb / k.norm_B);
    }
    hyd_mlp_destroy(m);
  }
  cr_assert(worst_B > 1 - 1e-6, "norm_B not exact: %g", worst_B);
}

static hyd_oracle_config config(void)
{
  hyd_oracle_config cfg;
  hyd_oracle_config_default(&cfg);
  cfg.lower_method = HYD_LOWER_NEWTON_CG;
  cfg.lower_max_iter = 1000000;
  cfg.cg_max_iter = 100000;
  return cfg;
}

/* f(theta) with every lower level solved to eps from the seeded start. */
static double f_solved(const hyd_problem *p, const double *th, double eps,
                       double *gn)
{
  hyd_oracle_config cfg = config();
  double f = 0.0;
  for (size_t i = 0; i < p->n_samples; i++) {
    hyd_sample *s;
    hyd_sample_trial tr;
    cr_assert_eq(hyd_sample_create(&s, p, i, th, 1, NULL), HYD_OK);
    int st = hyd_sample_solve_trial(s, &cfg, th, eps, 0, &tr);
    cr_assert_eq(st, HYD_OK, "%s", hyd_sample_errmsg(s));
    f += tr.g / (double)p->n_samples;
    *gn = fmax(*gn, tr.grad_g_norm);
    hyd_sample_destroy(s);
  }
  return f;
}

/* The solution's Hessian is positive definite: a Cholesky factorisation
 * of the matrix assembled from Hessian-vector products succeeds. */
static int strict_local_minimum(const hyd_problem *p, size_t i,
                                const double *th, const double *x)
{
  static double A[NW][NW];
  for (size_t j = 0; j < NW; j++) {
    double e[NW] = {0};
    e[j] = 1.0;
    cr_assert_eq(p->lower_hvp(p->ctx, i, th, x, e, A[j]), 0);
  }
  for (size_t j = 0; j < NW; j++) {
    for (size_t k = 0; k < j; k++)
      A[j][j] -= A[j][k] * A[j][k];
    if (!(A[j][j] > 0.0))
      return 0;
    A[j][j] = sqrt(A[j][j]);
    for (size_t a = j + 1; a < NW; a++) {
      for (size_t k = 0; k < j; k++)
        A[a][j] -= A[a][k] * A[j][k];
      A[a][j] /= A[j][j];
    }
  }
  return 1;
}

/* At a strict local minimum the implicit-differentiation hypergradient is
 * the derivative of the re-solved f (solved from the same seeded start,
 * which stays in the minimum's basin for small changes of theta). The
 * tolerance as in test_hypergradient.c: Richardson estimate of the
 * difference's truncation, the lower-level error over the step, and the
 * estimate's own (heuristic) omega. */
Test(mlp, hypergradient_matches_resolved_finite_differences)
{
  mfx fx;
  make_data(&fx, 20);
  hyd_mlp *m = make_mlp(&fx, HYD_MLP_PER_LAYER, 100.0, 0.0, 5);
  const hyd_problem *p = hyd_mlp_problem(m);
  double th[4] = {log(1.0), log(1.5), log(0.02), log(0.01)};
  double eps = 1e-11, z[4] = {0}, omega = 0.0, zi[4];
  hyd_oracle_config cfg = config();
  for (size_t i = 0; i < 2; i++) {
    hyd_sample *s;
    hyd_sample_eval ev;
    cr_assert_eq(hyd_sample_create(&s, p, i, th, 1, NULL), HYD_OK);
    cr_assert_eq(hyd_sample_evaluate(s, &cfg, th, eps, eps, &ev, zi), HYD_OK,
                 "%s", hyd_sample_errmsg(s));
    cr_assert_eq(ev.certified, 0.0); /* lower_nonconvex voids the bound */
    cr_assert(strict_local_minimum(p, i, th, hyd_sample_point(s)));
    for (size_t k = 0; k < 4; k++)
      z[k] += zi[k] / 2.0;
    omega += ev.omega / 2.0;
    hyd_sample_destroy(s);
  }
  double zmax = 0.0;
  for (size_t k = 0; k < 4; k++)
    zmax = fmax(zmax, fabs(z[k]));
  cr_assert(zmax > 1e-4, "a hypergradient worth checking: %g", zmax);
  for (size_t k = 0; k < 4; k++) {
    double fd[2], hs = 1e-3, gn = 0.0, tp[4];
    for (int lvl = 0; lvl < 2; lvl++, hs /= 2) {
      memcpy(tp, th, sizeof tp);
      tp[k] = th[k] + hs;
      double fp = f_solved(p, tp, eps, &gn);
      tp[k] = th[k] - hs;
      double fm = f_solved(p, tp, eps, &gn);
      fd[lvl] = (fp - fm) / (2 * hs);
    }
    double tol = fabs(fd[0] - fd[1]) + 2.0 * (gn * eps + eps * eps) / hs +
                 omega;
    cr_assert(fabs(z[k] - fd[1]) <= tol, "z[%zu] %.12g fd %.12g tol %g", k,
              z[k], fd[1], tol);
    cr_assert(tol <= 1e-5 * zmax, "tolerance %g too loose", tol);
  }
  hyd_mlp_destroy(m);
}

/* MAID runs on it and reports every iteration as not certified. */
Test(mlp, maid_reports_not_certified)
{
  mfx fx;
  make_data(&fx, 21);
  hyd_mlp *m = make_mlp(&fx, HYD_MLP_SCALAR, 100.0, 0.0, 6);
  const hyd_problem *p = hyd_mlp_problem(m);
  hyd_maid *s;
  cr_assert_eq(hyd_maid_create(&s, p, NULL), HYD_OK);
  double th[2] = {0.0, log(0.01)};
  cr_assert_eq(hyd_maid_set_theta0(s, th), HYD_OK);
  cr_assert_eq(hyd_maid_set_option(s, "max_iter", "3"), HYD_OK);
  cr_assert_eq(hyd_maid_set_option(s, "lower.method", "newton_cg"), HYD_OK);
  cr_assert_eq(hyd_maid_setup(s), HYD_OK, "%s", hyd_maid_errmsg(s));
  cr_assert_eq(hyd_maid_solve(s), HYD_OK, "%s", hyd_maid_errmsg(s));
  hyd_maid_info in;
  hyd_maid_get_info(s, &in);
  cr_assert(in.iter >= 1);
  cr_assert_eq(in.certified, 0);
  cr_assert(isfinite(in.g) && in.g > 0.0);
  hyd_maid_destroy(s);
  hyd_mlp_destroy(m);
}

Test(mlp, rejects_bad_arguments)
{
  mfx fx;
  make_data(&fx, 10);
  hyd_mlp *m = (hyd_mlp *)&m;
  hyd_mlp_options o;
  for (int b = 0; b < 7; b++) {
    hyd_mlp_options_default(&o);
    switch (b) {
    case 0: o.hidden = 0; break;
    case 1: o.grouping = 9; break;
    case 2: o.cutoff_tan2 = 0.0; break;
    case 3: o.cutoff_tan2 = NAN; break;
    case 4: o.l2 = -1.0; break;
    case 5: o.init_scale = 0.0; break;
    default: o.flags = 1u << 4; break;
    }
    cr_assert_eq(hyd_mlp_create(&m, ROWS, D, C, fx.X, fx.y, 2, fx.folds, &o,
                                NULL),
                 HYD_EINVAL, "case %d", b);
    cr_assert_null(m);
  }
  cr_assert_eq(hyd_mlp_create(NULL, ROWS, D, C, fx.X, fx.y, 2, fx.folds, NULL,
                              NULL),
               HYD_EINVAL);
  cr_assert_eq(hyd_mlp_create(&m, ROWS, D, 1, fx.X, fx.y, 2, fx.folds, NULL,
                              NULL),
               HYD_EINVAL);
  cr_assert_eq(hyd_mlp_create(&m, ROWS, D, C, NULL, fx.y, 2, fx.folds, NULL,
                              NULL),
               HYD_EINVAL);
  fx.y[3] = C; /* label out of range */
  cr_assert_eq(hyd_mlp_create(&m, ROWS, D, C, fx.X, fx.y, 2, fx.folds, NULL,
                              NULL),
               HYD_EINVAL);
  fx.y[3] = 0;
  fx.idx[5] = ROWS; /* index out of range */
  cr_assert_eq(hyd_mlp_create(&m, ROWS, D, C, fx.X, fx.y, 2, fx.folds, NULL,
                              NULL),
               HYD_EINVAL);
  fx.idx[5] = 5;
  fx.X[7] = NAN;
  cr_assert_eq(hyd_mlp_create(&m, ROWS, D, C, fx.X, fx.y, 2, fx.folds, NULL,
                              NULL),
               HYD_EINVAL);
  fx.X[7] = 0.5;
  /* defaults (opt NULL) work; then bad callback arguments */
  cr_assert_eq(hyd_mlp_create(&m, ROWS, D, C, fx.X, fx.y, 2, fx.folds, NULL,
                              NULL),
               HYD_OK);
  const hyd_problem *p = hyd_mlp_problem(m);
  size_t n = p->lower_dim(p->ctx, 0);
  double *W = calloc(n, sizeof *W), *out = calloc(n, sizeof *out);
  double th[4] = {0.0, 0.0, -800.0, 0.0}; /* kappa underflows to 0 */
  hyd_constants k;
  cr_assert_eq(p->lower_grad(p->ctx, 0, th, W, NULL, out), HYD_EINVAL);
  th[2] = 0.0;
  th[0] = 800.0; /* a overflows */
  cr_assert_eq(p->lower_hvp(p->ctx, 0, th, W, W, out), HYD_EINVAL);
  th[0] = 0.0;
  cr_assert_eq(p->lower_grad(p->ctx, 2, th, W, NULL, out), HYD_EINVAL);
  cr_assert_eq(p->cross_tprod(p->ctx, 0, th, W, NULL, out), HYD_EINVAL);
  cr_assert_eq(p->constants(p->ctx, 0, NULL, W, &k), HYD_EINVAL);
  cr_assert_eq(p->upper(p->ctx, 0, W, NULL, out), HYD_EINVAL);
  size_t bad_rows[1] = {ROWS};
  cr_assert_eq(hyd_mlp_evaluate(m, W, bad_rows, 1, NULL, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_mlp_evaluate(m, NULL, NULL, 0, NULL, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_mlp_evaluate(NULL, W, NULL, 0, NULL, NULL), HYD_EINVAL);
  double loss;
  cr_assert_eq(hyd_mlp_evaluate(m, W, NULL, 0, &loss, NULL), HYD_OK);
  cr_assert(fabs(loss - log((double)C)) < 1e-15); /* W = 0: uniform */
  size_t d, h, c;
  cr_assert_eq(hyd_mlp_sizes(m, &d, &h, &c), HYD_OK);
  cr_assert(d == D && h == 32 && c == C);
  cr_assert_eq(hyd_mlp_sizes(NULL, &d, &h, &c), HYD_EINVAL);
  cr_assert_null(hyd_mlp_problem(NULL));
  free(W);
  free(out);
  hyd_mlp_destroy(m);
  hyd_mlp_destroy(NULL);
}

static int mlp_create_any(void *ctx, const hyd_allocator *a, void **obj)
{
  mfx *fx = ctx;
  hyd_mlp_options o;
  hyd_mlp_options_default(&o);
  o.hidden = H;
  return hyd_mlp_create((hyd_mlp **)obj, ROWS, D, C, fx->X, fx->y, 2,
                        fx->folds, &o, a);
}

/* evaluate's own allocation fails cleanly too */
static void mlp_evaluate_fails(void *obj, test_alloc *state)
{
  double W[NW] = {0}, loss = 0.0;
  state->fail_at = state->calls + 1;
  cr_assert_eq(hyd_mlp_evaluate(obj, W, NULL, 0, &loss, NULL), HYD_ENOMEM);
  state->fail_at = 0;
  cr_assert_eq(hyd_mlp_evaluate(obj, W, NULL, 0, &loss, NULL), HYD_OK);
}

static void mlp_destroy_any(void *obj) { hyd_mlp_destroy(obj); }

Test(mlp, allocation_failures)
{
  mfx fx;
  make_data(&fx, 11);
  cr_assert(fault_loop(&fx, mlp_create_any, mlp_evaluate_fails,
                       mlp_destroy_any) > 1);
}
