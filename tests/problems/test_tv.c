/* TV denoising problem: derivatives against finite differences, constants
 * against the true quantities, reference scaling, every error path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/problem.h>
#include <hyperd/tv.h>

#include "common.h"

#define M_IMG 3
#define HH 5
#define WW 4
#define NPIX (HH * WW)

static const double phi3c = HYD_TV_PHI3_CONSTANT;

typedef struct tv_fixture {
  hyd_tv *tv;
  const hyd_problem *p;
  double noisy[M_IMG * NPIX], clean[M_IMG * NPIX];
} tv_fixture;

static void make_tv(tv_fixture *fx, unsigned flags, unsigned long long seed)
{
  test_rng r;
  rng_seed(&r, seed);
  rng_fill(&r, M_IMG * NPIX, 0.0, 1.0, fx->clean);
  for (size_t i = 0; i < M_IMG * NPIX; i++)
    fx->noisy[i] = fx->clean[i] + 0.1 * rng_normal(&r);
  int st = hyd_tv_create(&fx->tv, M_IMG, HH, WW, fx->noisy, fx->clean, flags,
                         NULL);
  cr_assert_eq(st, HYD_OK);
  fx->p = hyd_tv_problem(fx->tv);
}

Test(tv, table_is_valid)
{
  tv_fixture fx;
  make_tv(&fx, 0, 1);
  cr_assert_eq(hyd_problem_check(fx.p), HYD_OK);
  cr_assert_eq(fx.p->n_theta, 2);
  cr_assert_eq(fx.p->n_samples, M_IMG);
  cr_assert_eq(fx.p->upper_convex, 1);
  cr_assert_eq(fx.p->lower_dim(fx.p->ctx, 0), NPIX);
  cr_assert_eq(fx.p->lower_dim(fx.p->ctx, M_IMG), 0);
  cr_assert_not_null(fx.p->cross_prod);
  hyd_tv_destroy(fx.tv);
}

/* The value against a direct evaluation of the formula. */
Test(tv, value_matches_formula)
{
  tv_fixture fx;
  make_tv(&fx, 0, 2);
  double th[2] = {log(0.7), log(0.2)}, x[NPIX];
  test_rng r;
  rng_seed(&r, 3);
  rng_fill(&r, NPIX, 0.0, 1.0, x);
  double lam = 0.7, nu = 0.2, fit = 0.0, tv = 0.0;
  const double *y = fx.noisy + 1 * NPIX;
  for (size_t j = 0; j < NPIX; j++)
    fit += 0.5 * (x[j] - y[j]) * (x[j] - y[j]);
  for (size_t a = 0; a < HH; a++)
    for (size_t b = 0; b < WW; b++) {
      if (a + 1 < HH) {
        double t = x[(a + 1) * WW + b] - x[a * WW + b];
        tv += sqrt(t * t + nu * nu);
      }
      if (b + 1 < WW) {
        double t = x[a * WW + b + 1] - x[a * WW + b];
        tv += sqrt(t * t + nu * nu);
      }
    }
  double want = fit + 0.5 * lam * tv;
  double sg[NPIX], got = lower_value(fx.p, 1, th, x, sg);
  cr_assert(fabs(got - want) <= 1e-13 * fabs(want), "%.17g vs %.17g", got,
            want);
  hyd_tv_destroy(fx.tv);
}

/* Error terms of the central differences (see fd_tol):
 *  - h along e_j: the third derivative is (lam/2) sum_e phi3(t_e)
 *    (D e_j)_e^3, at most 4 edges per pixel, |phi3| <= c/nu^2;
 *  - grad along v: (lam/2) D^T(phi4(t) (Dv)^3), |phi4| <= 3/nu^3,
 *    |Dv| <= 2 max|v| <= 2, 4 edges;
 *  - <grad h, q> in theta: lam/2 times log-nu derivatives (up to third
 *    order) of t/s, each below 10 in magnitude, against |Dq| summed;
 *  - g is quadratic: rounding only. */
static void check_derivatives(const hyd_problem *p, size_t i,
                              const double *th, const double *x, size_t n,
                              double lam, double nu)
{
  double hstep = 1e-5, v[NPIX], w[2] = {0.3, -1.7};
  test_rng r;
  rng_seed(&r, 11);
  rng_fill(&r, n, -1.0, 1.0, v);
  double dq1 = 0.0;
  for (size_t j = 0; j < n; j++)
    dq1 += 4.0 * fabs(v[j]);
  fd_check_grad(p, i, th, x, hstep, 0.5 * lam * 4.0 * phi3c / (nu * nu));
  fd_check_hvp(p, i, th, x, v, hstep,
               0.5 * lam * 4.0 * 3.0 * 8.0 / (nu * nu * nu));
  fd_check_btq(p, i, th, x, v, hstep, 0.5 * lam * 10.0 * dq1);
  check_adjoint(p, i, th, x, w, v);
  fd_check_upper(p, i, x, hstep, 0.0);
}

Test(tv, derivatives_match_finite_differences)
{
  tv_fixture fx;
  make_tv(&fx, 0, 4);
  double x[NPIX];
  test_rng r;
  rng_seed(&r, 5);
  const double lams[3] = {0.5, 2.0, 0.05}, nus[3] = {0.3, 0.5, 0.1};
  for (int c = 0; c < 3; c++) {
    double th[2] = {log(lams[c]), log(nus[c])};
    for (size_t i = 0; i < M_IMG; i++) {
      rng_fill(&r, NPIX, 0.0, 1.0, x);
      check_derivatives(fx.p, i, th, x, NPIX, lams[c], nus[c]);
    }
  }
  hyd_tv_destroy(fx.tv);
}

/* The explicit n x 2 matrix B(x) from cross_prod with the unit vectors. */
static void explicit_B(const hyd_problem *p, size_t i, const double *th,
                       const double *x, double *b1, double *b2)
{
  double e1[2] = {1.0, 0.0}, e2[2] = {0.0, 1.0};
  cr_assert_eq(p->cross_prod(p->ctx, i, th, x, e1, b1), 0);
  cr_assert_eq(p->cross_prod(p->ctx, i, th, x, e2, b2), 0);
}

/* Operator norm of an n x 2 matrix given by columns. */
static double norm_n2(size_t n, const double *b1, const double *b2)
{
  double a = vec_dot(n, b1, b1), b = vec_dot(n, b1, b2),
         c = vec_dot(n, b2, b2);
  double ht = 0.5 * (a + c), hd = 0.5 * (a - c);
  return sqrt(ht + sqrt(hd * hd + b * b));
}

/* Largest eigenvalue of A(x) by power iteration (a lower estimate). */
static double power_A(const hyd_problem *p, size_t i, const double *th,
                      const double *x, size_t n)
{
  double *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w), rho = 0.0;
  for (size_t j = 0; j < n; j++)
    v[j] = ((j / WW + j % WW) % 2) ? 1.0 : -1.0;
  for (int it = 0; it < 200; it++) {
    double nv = vec_norm(n, v);
    for (size_t j = 0; j < n; j++)
      v[j] /= nv;
    cr_assert_eq(p->lower_hvp(p->ctx, i, th, x, v, w), 0);
    rho = vec_dot(n, v, w);
    memcpy(v, w, n * sizeof *v);
  }
  free(v);
  free(w);
  return rho;
}

Test(tv, constants_bound_true_quantities)
{
  tv_fixture fx;
  make_tv(&fx, 0, 6);
  const hyd_problem *p = fx.p;
  test_rng r;
  rng_seed(&r, 7);
  double x[NPIX], x2[NPIX], v[NPIX], Av[NPIX], Av2[NPIX];
  double b1[NPIX], b2[NPIX], c1[NPIX], c2[NPIX], d1[NPIX], d2[NPIX];
  const double lams[3] = {0.5, 3.0, 0.01}, nus[3] = {0.3, 0.05, 1.0};
  double worst_LB = 0.0, worst_LA = 0.0, worst_L = 0.0;
  for (int c = 0; c < 3; c++) {
    double th[2] = {log(lams[c]), log(nus[c])};
    double nu = nus[c];
    for (int trial = 0; trial < 40; trial++) {
      size_t i = (size_t)trial % M_IMG;
      /* points whose differences are on the scale of nu, where phi'' and
       * phi''' vary most */
      rng_fill(&r, NPIX, -2.0 * nu, 2.0 * nu, x);
      rng_fill(&r, NPIX, -1.0, 1.0, v);
      double scale = (trial % 2) ? nu : 0.01 * nu;
      for (size_t j = 0; j < NPIX; j++)
        x2[j] = x[j] + scale * (2.0 * rng_uniform(&r) - 1.0);
      hyd_constants k, kfree;
      cr_assert_eq(p->constants(p->ctx, i, th, x, &k), 0);
      cr_assert_eq(p->constants(p->ctx, i, th, NULL, &kfree), 0);
      cr_assert_eq(k.certified, 1);
      cr_assert_eq(k.mu, 1.0);
      cr_assert_eq(k.Lg, 1.0);
      cr_assert(fabs(k.L - (1.0 + 4.0 * lams[c] / nu)) <= 1e-12 * k.L);

      /* mu and L: Rayleigh quotients */
      cr_assert_eq(p->lower_hvp(p->ctx, i, th, x, v, Av), 0);
      double vv = vec_dot(NPIX, v, v), ray = vec_dot(NPIX, v, Av) / vv;
      cr_assert(ray >= k.mu * (1 - 1e-14), "mu %g ray %g", k.mu, ray);
      cr_assert(vec_norm(NPIX, Av) <= k.L * sqrt(vv), "L");
      double lmax = power_A(p, i, th, x, NPIX);
      cr_assert(lmax <= k.L * (1 + 1e-12), "lmax %g L %g", lmax, k.L);
      worst_L = fmax(worst_L, (lmax - 1.0) / (k.L - 1.0));

      /* ||B(x)||: exact, and below the x-free bound */
      explicit_B(p, i, th, x, b1, b2);
      double nb = norm_n2(NPIX, b1, b2);
      cr_assert(nb <= k.norm_B && k.norm_B <= nb * (1 + 1e-8),
                "norm_B %.17g exact %.17g", k.norm_B, nb);
      cr_assert(kfree.norm_B >= k.norm_B, "x-free bound");

      /* LB: ||B(x) - B(x2)|| <= LB ||x - x2|| */
      explicit_B(p, i, th, x2, c1, c2);
      for (size_t j = 0; j < NPIX; j++) {
        d1[j] = b1[j] - c1[j];
        d2[j] = b2[j] - c2[j];
        Av2[j] = x[j] - x2[j];
      }
      double dx = vec_norm(NPIX, Av2);
      double dB = norm_n2(NPIX, d1, d2);
      cr_assert(dB <= k.LB * dx, "LB %g ratio %g", k.LB, dB / dx);
      worst_LB = fmax(worst_LB, dB / dx / k.LB);

      /* LA (= LAinv, mu = 1): ||(A(x) - A(x2)) v|| <= LA ||x - x2|| ||v|| */
      cr_assert_eq(p->lower_hvp(p->ctx, i, th, x2, v, Av2), 0);
      for (size_t j = 0; j < NPIX; j++)
        d1[j] = Av[j] - Av2[j];
      double dA = vec_norm(NPIX, d1) / (dx * sqrt(vv));
      cr_assert(dA <= k.LAinv, "LAinv %g ratio %g", k.LAinv, dA);
      worst_LA = fmax(worst_LA, dA / k.LAinv);

      /* Lg: grad g is x - c */
      double g1[NPIX], g2[NPIX], gv;
      cr_assert_eq(p->upper(p->ctx, i, x, &gv, g1), 0);
      cr_assert_eq(p->upper(p->ctx, i, x2, &gv, g2), 0);
      for (size_t j = 0; j < NPIX; j++)
        g1[j] -= g2[j];
      cr_assert(vec_norm(NPIX, g1) <= k.Lg * dx * (1 + 1e-12));
    }
  }
  /* the bounds are not vacuous: L is nearly attained, LB and LA within a
   * modest factor on these points */
  cr_assert(worst_L > 0.5, "L tightness %g", worst_L);
  cr_assert(worst_LB > 1e-3, "LB tightness %g", worst_LB);
  cr_assert(worst_LA > 1e-4, "LA tightness %g", worst_LA);
  hyd_tv_destroy(fx.tv);
}

/* Gradient descent with step 1/L must satisfy the descent lemma
 * h(x - g/L) <= h(x) - ||g||^2 / (2L) if L is a true Lipschitz constant. */
Test(tv, descent_lemma_with_step_one_over_L)
{
  tv_fixture fx;
  make_tv(&fx, 0, 8);
  const hyd_problem *p = fx.p;
  double th[2] = {log(1.0), log(0.02)}, x[NPIX] = {0}, g[NPIX];
  hyd_constants k;
  cr_assert_eq(p->constants(p->ctx, 0, th, x, &k), 0);
  double f, fnew;
  cr_assert_eq(p->lower_grad(p->ctx, 0, th, x, &f, g), 0);
  double g0 = vec_norm(NPIX, g);
  for (int it = 0; it < 3000; it++) {
    double gg = vec_dot(NPIX, g, g);
    for (size_t j = 0; j < NPIX; j++)
      x[j] -= g[j] / k.L;
    cr_assert_eq(p->lower_grad(p->ctx, 0, th, x, &fnew, g), 0);
    cr_assert(fnew <= f - gg / (2 * k.L) + 1e-13 * fabs(f), "it %d", it);
    f = fnew;
  }
  cr_assert(vec_norm(NPIX, g) < 1e-3 * g0);
  hyd_tv_destroy(fx.tv);
}

Test(tv, reference_scaling)
{
  tv_fixture a, b;
  make_tv(&a, 0, 9);
  make_tv(&b, HYD_TV_REFERENCE_SCALING, 9);
  double th[2] = {-2.0, -3.0}, x[NPIX], v[NPIX], o1[NPIX], o2[NPIX];
  test_rng r;
  rng_seed(&r, 10);
  rng_fill(&r, NPIX, 0.0, 1.0, x);
  rng_fill(&r, NPIX, -1.0, 1.0, v);
  double s = 1.0 / M_IMG, f1, f2;
  const hyd_problem *pa = a.p, *pb = b.p;
#define CLOSE(u, w) cr_assert(fabs((u) * s - (w)) <= 1e-14 * (fabs(w) + 1e-300), "%.17g %.17g", (u) * s, (w))
  cr_assert_eq(pa->lower_grad(pa->ctx, 2, th, x, &f1, o1), 0);
  cr_assert_eq(pb->lower_grad(pb->ctx, 2, th, x, &f2, o2), 0);
  CLOSE(f1, f2);
  for (size_t j = 0; j < NPIX; j++)
    CLOSE(o1[j], o2[j]);
  cr_assert_eq(pa->lower_hvp(pa->ctx, 2, th, x, v, o1), 0);
  cr_assert_eq(pb->lower_hvp(pb->ctx, 2, th, x, v, o2), 0);
  for (size_t j = 0; j < NPIX; j++)
    CLOSE(o1[j], o2[j]);
  double t1[2], t2[2];
  cr_assert_eq(pa->cross_tprod(pa->ctx, 2, th, x, v, t1), 0);
  cr_assert_eq(pb->cross_tprod(pb->ctx, 2, th, x, v, t2), 0);
  CLOSE(t1[0], t2[0]);
  CLOSE(t1[1], t2[1]);
  /* the upper level is not scaled (f's mean over samples is the 1/N) */
  cr_assert_eq(pa->upper(pa->ctx, 2, x, &f1, o1), 0);
  cr_assert_eq(pb->upper(pb->ctx, 2, x, &f2, o2), 0);
  cr_assert_eq(f1, f2);
  cr_assert_eq(memcmp(o1, o2, sizeof o1), 0);
  hyd_constants ka, kb;
  cr_assert_eq(pa->constants(pa->ctx, 2, th, x, &ka), 0);
  cr_assert_eq(pb->constants(pb->ctx, 2, th, x, &kb), 0);
  double ratio = exp(th[0]) / exp(th[1]);
  cr_assert_eq(kb.certified, 0);
  cr_assert_eq(kb.mu, 1.0);
  cr_assert_eq(kb.Lg, 1.0);
  cr_assert(fabs(kb.L - (1.0 + sqrt(8.0) * ratio)) <= 1e-14 * kb.L);
  CLOSE(ka.norm_B, kb.norm_B);
  CLOSE(ka.LB, kb.LB);
  cr_assert(fabs(ka.LAinv * M_IMG - kb.LAinv) <= 1e-14 * kb.LAinv);
#undef CLOSE
  hyd_tv_destroy(a.tv);
  hyd_tv_destroy(b.tv);
}

Test(tv, psnr)
{
  double y[NPIX], c[NPIX], x[NPIX], db;
  for (size_t j = 0; j < NPIX; j++)
    c[j] = y[j] = 0.2 + 0.03 * (double)j; /* inside [0.2, 0.8] */
  hyd_tv *tv;
  cr_assert_eq(hyd_tv_create(&tv, 1, HH, WW, y, c, 0, NULL), HYD_OK);
  memcpy(x, c, sizeof x);
  cr_assert_eq(hyd_tv_psnr(tv, 0, x, &db), HYD_OK);
  cr_assert(isinf(db) && db > 0);
  for (size_t j = 0; j < NPIX; j++)
    x[j] += (j % 2) ? 0.1 : -0.1;
  cr_assert_eq(hyd_tv_psnr(tv, 0, x, &db), HYD_OK);
  cr_assert(fabs(db - 20.0) <= 1e-12, "%.17g", db);
  /* values outside [0, 1] are clipped first */
  x[0] = -5.0; /* clipped to 0: error 0.2 instead of 0.1 */
  cr_assert_eq(hyd_tv_psnr(tv, 0, x, &db), HYD_OK);
  double want = 10.0 * log10(NPIX / (0.01 * (NPIX - 1) + 0.04));
  cr_assert(fabs(db - want) <= 1e-12, "%.17g vs %.17g", db, want);
  cr_assert_eq(hyd_tv_psnr(tv, 1, x, &db), HYD_EINVAL);
  cr_assert_eq(hyd_tv_psnr(NULL, 0, x, &db), HYD_EINVAL);
  cr_assert_eq(hyd_tv_psnr(tv, 0, NULL, &db), HYD_EINVAL);
  cr_assert_eq(hyd_tv_psnr(tv, 0, x, NULL), HYD_EINVAL);
  x[1] = NAN;
  cr_assert_eq(hyd_tv_psnr(tv, 0, x, &db), HYD_ENONFINITE);
  hyd_tv_destroy(tv);
}

Test(tv, create_rejects_bad_arguments)
{
  double y[NPIX] = {0}, c[NPIX] = {0};
  hyd_tv *tv = (hyd_tv *)&tv; /* must be reset to NULL on failure */
  cr_assert_eq(hyd_tv_create(NULL, 1, HH, WW, y, c, 0, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_tv_create(&tv, 1, HH, WW, NULL, c, 0, NULL), HYD_EINVAL);
  cr_assert_null(tv);
  cr_assert_eq(hyd_tv_create(&tv, 1, HH, WW, y, NULL, 0, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_tv_create(&tv, 0, HH, WW, y, c, 0, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_tv_create(&tv, 1, 0, WW, y, c, 0, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_tv_create(&tv, 1, HH, 0, y, c, 0, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_tv_create(&tv, 1, HH, WW, y, c, 2u, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_tv_create(&tv, 1, (size_t)-1 / 2, WW, y, c, 0, NULL),
               HYD_EINVAL);
  cr_assert_eq(hyd_tv_create(&tv, (size_t)-1 / 4, HH, WW, y, c, 0, NULL),
               HYD_EINVAL);
  y[3] = NAN;
  cr_assert_eq(hyd_tv_create(&tv, 1, HH, WW, y, c, 0, NULL), HYD_EINVAL);
  y[3] = 0.0;
  c[5] = INFINITY;
  cr_assert_eq(hyd_tv_create(&tv, 1, HH, WW, y, c, 0, NULL), HYD_EINVAL);
  cr_assert_null(tv);
  hyd_tv_destroy(NULL);
  cr_assert_null(hyd_tv_problem(NULL));
}

Test(tv, callbacks_reject_bad_arguments)
{
  tv_fixture fx;
  make_tv(&fx, 0, 13);
  const hyd_problem *p = fx.p;
  void *ctx = p->ctx;
  double th[2] = {0.0, 0.0}, x[NPIX] = {0}, o[NPIX], t2[2], f;
  hyd_constants k;
  size_t bad = M_IMG;
  cr_assert_eq(p->lower_grad(ctx, bad, th, x, &f, o), HYD_EINVAL);
  cr_assert_eq(p->lower_hvp(ctx, bad, th, x, x, o), HYD_EINVAL);
  cr_assert_eq(p->cross_tprod(ctx, bad, th, x, x, t2), HYD_EINVAL);
  cr_assert_eq(p->cross_prod(ctx, bad, th, x, t2, o), HYD_EINVAL);
  cr_assert_eq(p->upper(ctx, bad, x, &f, o), HYD_EINVAL);
  cr_assert_eq(p->constants(ctx, bad, th, x, &k), HYD_EINVAL);
  cr_assert_eq(p->lower_grad(ctx, 0, NULL, x, &f, o), HYD_EINVAL);
  cr_assert_eq(p->lower_grad(ctx, 0, th, NULL, &f, o), HYD_EINVAL);
  cr_assert_eq(p->lower_grad(ctx, 0, th, x, &f, NULL), HYD_EINVAL);
  cr_assert_eq(p->lower_hvp(ctx, 0, th, x, NULL, o), HYD_EINVAL);
  cr_assert_eq(p->cross_tprod(ctx, 0, th, x, NULL, t2), HYD_EINVAL);
  cr_assert_eq(p->cross_prod(ctx, 0, th, x, NULL, o), HYD_EINVAL);
  cr_assert_eq(p->upper(ctx, 0, x, NULL, o), HYD_EINVAL);
  cr_assert_eq(p->constants(ctx, 0, th, x, NULL), HYD_EINVAL);
  /* thetas whose lambda or nu^2 leave the positive finite range */
  const double bad_th[4][2] = {
      {NAN, 0.0}, {0.0, NAN}, {800.0, 0.0}, {0.0, -400.0}};
  for (int b = 0; b < 4; b++) {
    cr_assert_eq(p->lower_grad(ctx, 0, bad_th[b], x, &f, o), HYD_EINVAL);
    cr_assert_eq(p->lower_hvp(ctx, 0, bad_th[b], x, x, o), HYD_EINVAL);
    cr_assert_eq(p->cross_tprod(ctx, 0, bad_th[b], x, x, t2), HYD_EINVAL);
    cr_assert_eq(p->constants(ctx, 0, bad_th[b], x, &k), HYD_EINVAL);
  }
  hyd_tv_destroy(fx.tv);
}

static int tv_create_zero(void *ctx, const hyd_allocator *a, void **obj)
{
  const double *zeros = ctx;
  return hyd_tv_create((hyd_tv **)obj, M_IMG, HH, WW, zeros, zeros, 0, a);
}

static void tv_destroy_any(void *obj)
{
  hyd_tv_destroy(obj);
}

/* Every allocation failure ends cleanly and leaks nothing. */
Test(tv, allocation_failures)
{
  static const double zeros[M_IMG * NPIX];
  cr_assert(fault_loop((void *)zeros, tv_create_zero, NULL, tv_destroy_any) > 1);
}

/* A real 96x96 image (shared/data): FD checks on sampled coordinates and the
 * constants at the reference's start and end points. */
Test(tv, real_image)
{
  size_t H, W;
  double *img = read_pgm(HYD_SHARED_DIR "/data/kodak_gray_96/kodim01.pgm", &H, &W);
  cr_assert_not_null(img, "cannot read the shared image");
  size_t n = H * W;
  double *y = malloc(n * sizeof *y), *x = malloc(n * sizeof *x);
  double *g = malloc(n * sizeof *g), *b1 = malloc(n * sizeof *b1),
         *b2 = malloc(n * sizeof *b2);
  test_rng r;
  rng_seed(&r, 19);
  for (size_t j = 0; j < n; j++)
    y[j] = img[j] + 0.1 * rng_normal(&r);
  hyd_tv *tv;
  cr_assert_eq(hyd_tv_create(&tv, 1, H, W, y, img, 0, NULL), HYD_OK);
  const hyd_problem *p = hyd_tv_problem(tv);
  const double ths[2][2] = {{-5.0, -5.0}, {-2.0923, -5.0256}};
  for (int c = 0; c < 2; c++) {
    const double *th = ths[c];
    double lam = exp(th[0]), nu = exp(th[1]);
    memcpy(x, y, n * sizeof *x);
    double f0;
    cr_assert_eq(p->lower_grad(p->ctx, 0, th, x, &f0, g), 0);
    double hstep = 1e-6; /* nu ~ 6.7e-3: the step must stay well below it */
    double tol = fd_tol(hstep, 0.5 * lam * 4.0 * phi3c / (nu * nu), f0);
    for (int s = 0; s < 40; s++) {
      size_t j = (size_t)(rng_uniform(&r) * (double)n);
      double keep = x[j], fp, fm;
      x[j] = keep + hstep;
      cr_assert_eq(p->lower_grad(p->ctx, 0, th, x, &fp, b1), 0);
      x[j] = keep - hstep;
      cr_assert_eq(p->lower_grad(p->ctx, 0, th, x, &fm, b1), 0);
      x[j] = keep;
      double fd = (fp - fm) / (2 * hstep);
      cr_assert(fabs(fd - g[j]) <= tol, "pixel %zu: %.12g vs %.12g (tol %g)",
                j, g[j], fd, tol);
    }
    hyd_constants k;
    cr_assert_eq(p->constants(p->ctx, 0, th, x, &k), 0);
    explicit_B(p, 0, th, x, b1, b2);
    double nb = norm_n2(n, b1, b2);
    cr_assert(nb <= k.norm_B && k.norm_B <= nb * (1 + 1e-8));
  }
  hyd_tv_destroy(tv);
  free(img);
  free(y);
  free(x);
  free(g);
  free(b1);
  free(b2);
}

/* LAinv is not vacuous: at a point where the four edges of one interior
 * pixel sit at |t| = nu/2 (where |phi'''| peaks), moving that pixel changes
 * A along the star's top eigenvector by a good fraction of the bound. */
Test(tv, LAinv_nearly_attained)
{
  tv_fixture fx;
  make_tv(&fx, 0, 14);
  const hyd_problem *p = fx.p;
  double lam = 0.8, nu = 0.1, th[2] = {log(lam), log(nu)};
  double x[NPIX] = {0}, x2[NPIX], v[NPIX] = {0}, a1[NPIX], a2[NPIX];
  size_t pc = 2 * WW + 1; /* interior pixel (2, 1) */
  x[pc] = -nu / 2;
  memcpy(x2, x, sizeof x);
  double dlt = 1e-6 * nu;
  x2[pc] += dlt;
  v[pc] = 4.0;
  v[pc - 1] = v[pc + 1] = v[pc - WW] = v[pc + WW] = -1.0;
  hyd_constants k;
  cr_assert_eq(p->constants(p->ctx, 0, th, x, &k), 0);
  cr_assert_eq(p->lower_hvp(p->ctx, 0, th, x, v, a1), 0);
  cr_assert_eq(p->lower_hvp(p->ctx, 0, th, x2, v, a2), 0);
  for (size_t j = 0; j < NPIX; j++)
    a1[j] -= a2[j];
  double ratio = vec_norm(NPIX, a1) / (dlt * vec_norm(NPIX, v)) / k.LAinv;
  /* star Laplacian: 5 w against the bound's 4 sqrt 2 w, so about 0.44 */
  cr_assert(ratio <= 1.0 && ratio > 0.4, "ratio %g", ratio);
  hyd_tv_destroy(fx.tv);
}

/* The reference's own instance (shared/reference/tv96): with the reference
 * scaling, f at the unsolved start x = 0 and at x = noisy are the values the
 * reference logged (computed there in float32), and so is the mean PSNR of
 * the noisy images. */
Test(tv, reference_instance_values)
{
  enum { N = 24, NP96 = 96 * 96 };
  double *clean = read_f32(HYD_SHARED_DIR "/reference/tv96/clean.f32", N * NP96);
  double *noisy = read_f32(HYD_SHARED_DIR "/reference/tv96/noisy.f32", N * NP96);
  cr_assert(clean && noisy, "cannot read shared/reference/tv96");
  hyd_tv *tv;
  cr_assert_eq(hyd_tv_create(&tv, N, 96, 96, noisy, clean,
                             HYD_TV_REFERENCE_SCALING, NULL),
               HYD_OK);
  const hyd_problem *p = hyd_tv_problem(tv);
  double *zero = calloc(NP96, sizeof *zero), f0 = 0.0, fy = 0.0, ps = 0.0;
  for (size_t i = 0; i < N; i++) {
    double g, db;
    cr_assert_eq(p->upper(p->ctx, i, zero, &g, NULL), 0);
    f0 += g / N;
    cr_assert_eq(p->upper(p->ctx, i, noisy + i * NP96, &g, NULL), 0);
    fy += g / N;
    cr_assert_eq(hyd_tv_psnr(tv, i, noisy + i * NP96, &db), HYD_OK);
    ps += db / N;
  }
  /* reference_run.json: 1047.0465087890625, 46.10762023925781,
   * 20.17841911315918 (float32 sums: relative 1e-5) */
  cr_assert(fabs(f0 - 1047.0465087890625) <= 1e-5 * 1047.05, "f(0) %.10g", f0);
  cr_assert(fabs(fy - 46.10762023925781) <= 1e-5 * 46.1, "f(noisy) %.10g", fy);
  cr_assert(fabs(ps - 20.17841911315918) <= 1e-5 * 20.2, "psnr %.10g", ps);
  hyd_tv_destroy(tv);
  free(zero);
  free(clean);
  free(noisy);
}
