/* Field of Experts: the padded correlation against a direct formula and its
 * exact adjoint, derivatives against finite differences, constants against
 * the true quantities, theta initialisation, error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/foe.h>
#include <hyperd/problem.h>
#include <hyperd/tv.h>

#include "common.h"

#define M_IMG 2
#define HH 8
#define WW 7
#define NPIX (HH * WW)
#define KF 3
#define FS 3
#define NP (1 + 2 * KF + KF * FS * FS)

static const double phi3c = HYD_TV_PHI3_CONSTANT;

typedef struct foe_fixture {
  hyd_foe *foe;
  const hyd_problem *p;
  double noisy[M_IMG * NPIX], clean[M_IMG * NPIX];
  double th[NP];
} foe_fixture;

static void make_foe(foe_fixture *fx, size_t fs, size_t pad,
                     unsigned long long seed)
{
  test_rng r;
  rng_seed(&r, seed);
  rng_fill(&r, M_IMG * NPIX, 0.0, 1.0, fx->clean);
  for (size_t i = 0; i < M_IMG * NPIX; i++)
    fx->noisy[i] = fx->clean[i] + 0.1 * rng_normal(&r);
  hyd_foe_options o = {KF, fs, pad};
  cr_assert_eq(hyd_foe_create(&fx->foe, M_IMG, HH, WW, fx->noisy, fx->clean,
                              &o, NULL),
               HYD_OK);
  fx->p = hyd_foe_problem(fx->foe);
  cr_assert_leq(hyd_foe_n_theta(&o), NP);
  cr_assert_eq(hyd_foe_theta_init(&o, seed, fx->th), HYD_OK);
  /* moderate weights and smoothing so that every term matters */
  fx->th[0] = log(0.5);
  for (size_t k = 0; k < KF; k++) {
    fx->th[1 + k] = -1.0 + 0.5 * (double)k;
    fx->th[1 + KF + k] = log(0.05 + 0.1 * (double)k);
  }
}

static size_t refl(long t, size_t N)
{
  if (t < 0)
    t = -t;
  if (t > (long)N - 1)
    t = 2 * ((long)N - 1) - t;
  return (size_t)t;
}

/* The padded correlation written out directly (numpy "reflect"). */
static void naive_correlate(size_t H, size_t W, size_t fs, size_t pad,
                            const double *f, const double *x, double *z)
{
  size_t Ho = H + 2 * pad + 1 - fs, Wo = W + 2 * pad + 1 - fs;
  for (size_t i = 0; i < Ho; i++)
    for (size_t j = 0; j < Wo; j++) {
      double s = 0.0;
      for (size_t a = 0; a < fs; a++)
        for (size_t b = 0; b < fs; b++)
          s += f[a * fs + b] *
               x[refl((long)(i + a) - (long)pad, H) * W +
                 refl((long)(j + b) - (long)pad, W)];
      z[i * Wo + j] = s;
    }
}

Test(foe, correlation_and_exact_adjoint)
{
  /* geometries: same-size, reference-style (7x7 padded by 2), no padding,
   * maximal padding, an image too narrow for any interior column, and rows
   * wide enough for the kernels' blocks of 32 and 4 outputs and their
   * single-output tails (70 + 2 = 2 x 32 + 4 + 4, 75 - 4 = 2 x 32 + 4 + 3) */
  const size_t geo[][4] = {{8, 7, 3, 1},   {9, 10, 7, 2}, {8, 7, 3, 0},
                           {8, 7, 5, 4},   {6, 3, 3, 2},  {5, 4, 1, 0},
                           {11, 70, 3, 1}, {9, 75, 7, 1}, {40, 33, 5, 2}};
  test_rng r;
  rng_seed(&r, 1);
  for (size_t g = 0; g < sizeof geo / sizeof geo[0]; g++) {
    size_t H = geo[g][0], W = geo[g][1], fs = geo[g][2], pad = geo[g][3];
    size_t n = H * W;
    double *img = calloc(n, sizeof *img);
    hyd_foe_options o = {1, fs, pad};
    hyd_foe *fo;
    cr_assert_eq(hyd_foe_create(&fo, 1, H, W, img, img, &o, NULL), HYD_OK,
                 "geometry %zu", g);
    size_t no = hyd_foe_response_size(fo);
    cr_assert_eq(no, (H + 2 * pad + 1 - fs) * (W + 2 * pad + 1 - fs));
    double *f = malloc(fs * fs * sizeof *f), *x = malloc(n * sizeof *x);
    double *u = malloc(no * sizeof *u), *z = malloc(no * sizeof *z);
    double *zn = malloc(no * sizeof *zn), *kt = malloc(n * sizeof *kt);
    for (int rep = 0; rep < 5; rep++) {
      rng_fill(&r, fs * fs, -1.0, 1.0, f);
      rng_fill(&r, n, -1.0, 1.0, x);
      rng_fill(&r, no, -1.0, 1.0, u);
      cr_assert_eq(hyd_foe_correlate(fo, f, x, z), HYD_OK);
      naive_correlate(H, W, fs, pad, f, x, zn);
      for (size_t j = 0; j < no; j++)
        cr_assert(fabs(z[j] - zn[j]) <= 1e-14 * (double)(fs * fs),
                  "geometry %zu output %zu: %g vs %g", g, j, z[j], zn[j]);
      cr_assert_eq(hyd_foe_correlate_adjoint(fo, f, u, kt), HYD_OK);
      double lhs = vec_dot(no, z, u), rhs = vec_dot(n, x, kt), sc = 0.0;
      for (size_t j = 0; j < no; j++)
        sc += fabs(z[j] * u[j]);
      cr_assert(fabs(lhs - rhs) <= 1e-14 * sc, "<Kx,u> %.17g <x,K^T u> %.17g",
                lhs, rhs);
    }
    cr_assert_eq(hyd_foe_correlate(NULL, f, x, z), HYD_EINVAL);
    cr_assert_eq(hyd_foe_correlate(fo, NULL, x, z), HYD_EINVAL);
    cr_assert_eq(hyd_foe_correlate_adjoint(fo, f, NULL, kt), HYD_EINVAL);
    cr_assert_eq(hyd_foe_correlate_adjoint(fo, f, u, NULL), HYD_EINVAL);
    hyd_foe_destroy(fo);
    free(img);
    free(f);
    free(x);
    free(u);
    free(z);
    free(zn);
    free(kt);
  }
}

Test(foe, theta_layout_and_init)
{
  hyd_foe_options o;
  hyd_foe_options_default(&o);
  cr_assert_eq(o.n_filters, 48);
  cr_assert_eq(o.filter_size, 7);
  cr_assert_eq(hyd_foe_n_theta(&o), 2449);
  cr_assert_eq(hyd_foe_n_theta(NULL), 0);
  double *a = malloc(2449 * sizeof *a), *b = malloc(2449 * sizeof *b);
  cr_assert_eq(hyd_foe_theta_init(&o, 7, a), HYD_OK);
  cr_assert_eq(hyd_foe_theta_init(&o, 7, b), HYD_OK);
  cr_assert_eq(memcmp(a, b, 2449 * sizeof *a), 0);
  for (size_t k = 0; k < 97; k++)
    cr_assert_eq(a[k], -3.0);
  double var = 0.0;
  for (size_t k = 0; k < 48; k++) {
    double mean = 0.0;
    for (size_t j = 0; j < 49; j++) {
      mean += a[97 + k * 49 + j];
      var += a[97 + k * 49 + j] * a[97 + k * 49 + j];
    }
    cr_assert(fabs(mean) <= 1e-14, "filter %zu mean %g", k, mean);
  }
  var /= 2352.0; /* about (1/7)(48/49) */
  cr_assert(var > 0.1 && var < 0.18, "variance %g", var);
  cr_assert_eq(hyd_foe_theta_init(&o, 8, b), HYD_OK);
  cr_assert_neq(memcmp(a, b, 2449 * sizeof *a), 0);
  cr_assert_eq(hyd_foe_theta_init(&o, 7, NULL), HYD_EINVAL);
  free(a);
  free(b);
}

/* Central-difference error terms (see fd_tol), with N1 = ||f||_1, every
 * entry of K e_j at most 4 max|f| and column sums at most 4 N1:
 *  - h along e_j: sum_k a (c/nu^2) (4 N1)^3;
 *  - grad along v (|v| <= 1): sum_k a (3/nu^3) (4 N1)^4;
 *  - <grad h, q> in theta: t's give a <phi', Kq> <= a 4 N1 |q|_1 (summed for
 *    t0), s's at most 10 times that, filters a (3 xm^3 4 N1 |q|_1/nu^3 +
 *    12 c xm^2 |q|_1/nu^2) with xm = max|x|. */
static void check_derivatives(const foe_fixture *fx, size_t i,
                              const double *x)
{
  const hyd_problem *p = fx->p;
  const double *th = fx->th;
  double hstep = 1e-5, v[NPIX], w[NP];
  test_rng r;
  rng_seed(&r, 17 + i);
  rng_fill(&r, NPIX, -1.0, 1.0, v);
  rng_fill(&r, NP, -1.0, 1.0, w);
  double Mg = 0.0, Mh = 0.0, Mt = 0.0, q1 = 0.0, xm = 0.0;
  for (size_t j = 0; j < NPIX; j++) {
    q1 += fabs(v[j]);
    xm = fmax(xm, fabs(x[j]));
  }
  double Mt0 = 0.0;
  for (size_t k = 0; k < KF; k++) {
    double a = 0.5 * exp(th[0] + th[1 + k]), nu = exp(th[1 + KF + k]);
    double N1 = 0.0;
    for (size_t j = 0; j < FS * FS; j++)
      N1 += fabs(th[1 + 2 * KF + k * FS * FS + j]);
    Mg += a * phi3c / (nu * nu) * pow(4 * N1, 3);
    Mh += a * 3.0 / (nu * nu * nu) * pow(4 * N1, 4);
    Mt0 += a * 4 * N1 * q1;
    Mt = fmax(Mt, 10 * a * 4 * N1 * q1);
    Mt = fmax(Mt, a * (3 * pow(xm, 3) * 4 * N1 * q1 / pow(nu, 3) +
                       12 * phi3c * xm * xm * q1 / (nu * nu)));
  }
  Mt = fmax(Mt, Mt0);
  fd_check_grad(p, i, th, x, hstep, Mg);
  fd_check_hvp(p, i, th, x, v, hstep, Mh);
  fd_check_btq(p, i, th, x, v, hstep, Mt);
  check_adjoint(p, i, th, x, w, v);
  fd_check_upper(p, i, x, hstep, 0.0);
}

Test(foe, derivatives_match_finite_differences)
{
  const size_t cfg[3][2] = {{3, 1}, {3, 0}, {3, 2}};
  for (int c = 0; c < 3; c++) {
    foe_fixture fx;
    make_foe(&fx, cfg[c][0], cfg[c][1], 2 + (unsigned long long)c);
    test_rng r;
    rng_seed(&r, 3);
    double x[NPIX];
    for (size_t i = 0; i < M_IMG; i++) {
      rng_fill(&r, NPIX, 0.0, 1.0, x);
      check_derivatives(&fx, i, x);
    }
    hyd_foe_destroy(fx.foe);
  }
}

Test(foe, value_matches_formula)
{
  foe_fixture fx;
  make_foe(&fx, FS, 1, 4);
  double x[NPIX], z[NPIX], g[NPIX];
  test_rng r;
  rng_seed(&r, 5);
  rng_fill(&r, NPIX, 0.0, 1.0, x);
  double want = 0.0;
  for (size_t j = 0; j < NPIX; j++)
    want += 0.5 * (x[j] - fx.noisy[NPIX + j]) * (x[j] - fx.noisy[NPIX + j]);
  for (size_t k = 0; k < KF; k++) {
    naive_correlate(HH, WW, FS, 1, fx.th + 1 + 2 * KF + k * FS * FS, x, z);
    double nu = exp(fx.th[1 + KF + k]), s = 0.0;
    for (size_t j = 0; j < NPIX; j++)
      s += sqrt(z[j] * z[j] + nu * nu);
    want += 0.5 * exp(fx.th[0]) * exp(fx.th[1 + k]) * s;
  }
  double got = lower_value(fx.p, 1, fx.th, x, g);
  cr_assert(fabs(got - want) <= 1e-13 * want, "%.17g %.17g", got, want);
  hyd_foe_destroy(fx.foe);
}

Test(foe, constants_bound_true_quantities)
{
  foe_fixture fx;
  make_foe(&fx, FS, 1, 6);
  const hyd_problem *p = fx.p;
  test_rng r;
  rng_seed(&r, 7);
  static double B1[NP][NPIX], B2[NP][NPIX];
  double worst[4] = {0};
  for (int trial = 0; trial < 12; trial++) {
    size_t i = (size_t)trial % M_IMG;
    double x[NPIX], x2[NPIX], v[NPIX], a1[NPIX], a2[NPIX], dx[NPIX];
    rng_fill(&r, NPIX, 0.0, 1.0, x);
    rng_fill(&r, NPIX, -1.0, 1.0, v);
    double sc = (trial % 2) ? 0.1 : 1e-3;
    for (size_t j = 0; j < NPIX; j++) {
      x2[j] = x[j] + sc * (2 * rng_uniform(&r) - 1);
      dx[j] = x[j] - x2[j];
    }
    double ndx = vec_norm(NPIX, dx), nv = vec_norm(NPIX, v);
    hyd_constants k;
    cr_assert_eq(p->constants(p->ctx, i, fx.th, x, &k), 0);
    cr_assert_eq(k.certified, 1);
    cr_assert_eq(k.mu, 1.0);
    cr_assert_eq(k.Lg, 1.0);
    /* mu, L */
    cr_assert_eq(p->lower_hvp(p->ctx, i, fx.th, x, v, a1), 0);
    cr_assert(vec_dot(NPIX, v, a1) >= nv * nv * (1 - 1e-14));
    double u[NPIX], rho = 0.0;
    memcpy(u, v, sizeof u);
    for (int it = 0; it < 300; it++) {
      double nu_ = vec_norm(NPIX, u);
      for (size_t j = 0; j < NPIX; j++)
        u[j] /= nu_;
      cr_assert_eq(p->lower_hvp(p->ctx, i, fx.th, x, u, a2), 0);
      rho = vec_dot(NPIX, u, a2);
      memcpy(u, a2, sizeof u);
    }
    cr_assert(rho <= k.L * (1 + 1e-12), "lmax %g L %g", rho, k.L);
    worst[0] = fmax(worst[0], (rho - 1) / (k.L - 1));
    /* ||B|| and LB from the explicit matrices */
    for (size_t a = 0; a < NP; a++) {
      double e[NP] = {0};
      e[a] = 1.0;
      cr_assert_eq(p->cross_prod(p->ctx, i, fx.th, x, e, B1[a]), 0);
      cr_assert_eq(p->cross_prod(p->ctx, i, fx.th, x2, e, B2[a]), 0);
    }
    double nb = sqrt(gram_lmax(NPIX, NP, &B1[0][0]));
    cr_assert(nb <= k.norm_B, "norm_B %g exact %g", k.norm_B, nb);
    worst[1] = fmax(worst[1], nb / k.norm_B);
    for (size_t a = 0; a < NP; a++)
      for (size_t j = 0; j < NPIX; j++)
        B2[a][j] = B1[a][j] - B2[a][j];
    double db = sqrt(gram_lmax(NPIX, NP, &B2[0][0]));
    cr_assert(db <= k.LB * ndx, "LB %g ratio %g", k.LB, db / ndx);
    worst[2] = fmax(worst[2], db / ndx / k.LB);
    /* LA */
    cr_assert_eq(p->lower_hvp(p->ctx, i, fx.th, x2, v, a2), 0);
    for (size_t j = 0; j < NPIX; j++)
      a1[j] -= a2[j];
    double ra = vec_norm(NPIX, a1) / (ndx * nv);
    cr_assert(ra <= k.LAinv, "LAinv %g ratio %g", k.LAinv, ra);
    worst[3] = fmax(worst[3], ra / k.LAinv);
  }
  cr_log_info("tightness (true/bound): L-1 %.3g, ||B|| %.3g, LB %.3g, LA %.3g",
              worst[0], worst[1], worst[2], worst[3]);
  /* not vacuous (the sum over filters of ||K_k||^2 cannot be attained by
   * one direction, hence the modest L ratio) */
  cr_assert(worst[0] > 0.05 && worst[1] > 0.03, "L or ||B|| vacuous");
  hyd_foe_destroy(fx.foe);
}

Test(foe, create_rejects_bad_arguments)
{
  double y[NPIX] = {0};
  hyd_foe *fo = (hyd_foe *)&fo;
  hyd_foe_options o = {KF, FS, 1};
  cr_assert_eq(hyd_foe_create(NULL, 1, HH, WW, y, y, &o, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_foe_create(&fo, 1, HH, WW, NULL, y, &o, NULL), HYD_EINVAL);
  cr_assert_null(fo);
  cr_assert_eq(hyd_foe_create(&fo, 1, HH, WW, y, NULL, &o, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_foe_create(&fo, 0, HH, WW, y, y, &o, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_foe_create(&fo, 1, 0, WW, y, y, &o, NULL), HYD_EINVAL);
  cr_assert_eq(hyd_foe_create(&fo, 1, HH, 0, y, y, &o, NULL), HYD_EINVAL);
  hyd_foe_options bad[4] = {{0, 3, 1}, {3, 0, 0}, {3, 3, 3}, {3, 9, 7}};
  for (int b = 0; b < 4; b++)
    cr_assert_eq(hyd_foe_create(&fo, 1, HH, WW, y, y, &bad[b], NULL),
                 HYD_EINVAL, "options %d", b);
  hyd_foe_options big = {3, 9, 0}; /* filter larger than the image */
  cr_assert_eq(hyd_foe_create(&fo, 1, HH, WW, y, y, &big, NULL), HYD_EINVAL);
  y[4] = NAN;
  cr_assert_eq(hyd_foe_create(&fo, 1, HH, WW, y, y, &o, NULL), HYD_EINVAL);
  cr_assert_null(fo);
  hyd_foe_destroy(NULL);
  cr_assert_null(hyd_foe_problem(NULL));
  cr_assert_eq(hyd_foe_response_size(NULL), 0);
}

Test(foe, callbacks_reject_bad_arguments)
{
  foe_fixture fx;
  make_foe(&fx, FS, 1, 8);
  const hyd_problem *p = fx.p;
  void *ctx = p->ctx;
  double x[NPIX] = {0}, o[NPIX], t[NP], f;
  hyd_constants k;
  cr_assert_eq(hyd_problem_check(p), HYD_OK);
  cr_assert_eq(p->n_theta, NP);
  cr_assert_eq(p->n_samples, M_IMG);
  cr_assert_eq(p->upper_convex, 1);
  cr_assert_eq(p->lower_dim(ctx, 1), NPIX);
  cr_assert_eq(p->lower_dim(ctx, M_IMG), 0);
  cr_assert_eq(p->lower_grad(ctx, M_IMG, fx.th, x, &f, o), HYD_EINVAL);
  cr_assert_eq(p->lower_hvp(ctx, M_IMG, fx.th, x, x, o), HYD_EINVAL);
  cr_assert_eq(p->cross_tprod(ctx, M_IMG, fx.th, x, x, t), HYD_EINVAL);
  cr_assert_eq(p->cross_prod(ctx, M_IMG, fx.th, x, t, o), HYD_EINVAL);
  cr_assert_eq(p->upper(ctx, M_IMG, x, &f, o), HYD_EINVAL);
  cr_assert_eq(p->constants(ctx, M_IMG, fx.th, x, &k), HYD_EINVAL);
  cr_assert_eq(p->lower_grad(ctx, 0, NULL, x, &f, o), HYD_EINVAL);
  cr_assert_eq(p->lower_grad(ctx, 0, fx.th, NULL, &f, o), HYD_EINVAL);
  cr_assert_eq(p->lower_hvp(ctx, 0, fx.th, x, NULL, o), HYD_EINVAL);
  cr_assert_eq(p->cross_tprod(ctx, 0, fx.th, x, NULL, t), HYD_EINVAL);
  cr_assert_eq(p->cross_prod(ctx, 0, fx.th, x, NULL, o), HYD_EINVAL);
  cr_assert_eq(p->upper(ctx, 0, x, NULL, o), HYD_EINVAL);
  cr_assert_eq(p->constants(ctx, 0, fx.th, NULL, &k), HYD_EINVAL);
  const size_t idx[4] = {0, 1, 1 + KF, NP - 1};
  const double val[4] = {800.0, NAN, -400.0, INFINITY};
  for (int b = 0; b < 4; b++) {
    memcpy(t, fx.th, sizeof t);
    t[idx[b]] = val[b];
    cr_assert_eq(p->lower_grad(ctx, 0, t, x, &f, o), HYD_EINVAL, "%d", b);
    cr_assert_eq(p->lower_hvp(ctx, 0, t, x, x, o), HYD_EINVAL);
    cr_assert_eq(p->constants(ctx, 0, t, x, &k), HYD_EINVAL);
  }
  hyd_foe_destroy(fx.foe);
}

static int foe_create_zero(void *ctx, const hyd_allocator *a, void **obj)
{
  const double *zeros = ctx;
  hyd_foe_options o = {KF, FS, 1};
  return hyd_foe_create((hyd_foe **)obj, M_IMG, HH, WW, zeros, zeros, &o, a);
}

static void foe_destroy_any(void *obj)
{
  hyd_foe_destroy(obj);
}

Test(foe, allocation_failures)
{
  static const double zeros[M_IMG * NPIX];
  cr_assert(fault_loop((void *)zeros, foe_create_zero, NULL, foe_destroy_any) >
            1);
}

/* Central difference of a scalar function of one coordinate t (the value
 * computed by fn) with Richardson's error estimate: returns fd(h/2) and
 * sets *err to |fd(h) - fd(h/2)| (three times the estimated truncation
 * error of fd(h/2)) plus the rounding term of fd_tol. */
typedef double (*scalar_fn)(void *ctx, double t);
static double fd_richardson(scalar_fn fn, void *ctx, double t0, double h,
                            double fscale, double *err)
{
  double d1 = (fn(ctx, t0 + h) - fn(ctx, t0 - h)) / (2 * h);
  double d2 = (fn(ctx, t0 + h / 2) - fn(ctx, t0 - h / 2)) / h;
  *err = fabs(d1 - d2) + fd_tol(h / 2, 0.0, fscale);
  return d2;
}

typedef struct probe {
  const hyd_problem *p;
  double *th, *x, *g, *q;
  size_t n, idx;
  int in_theta; /* 0: h along x[idx]; 1: <grad h, q> along theta[idx] */
} probe;

static double probe_eval(void *ctx, double t)
{
  probe *pr = ctx;
  double *v = pr->in_theta ? pr->th : pr->x, keep = v[pr->idx], out;
  v[pr->idx] = t;
  if (pr->in_theta) {
    cr_assert_eq(pr->p->lower_grad(pr->p->ctx, 0, pr->th, pr->x, NULL, pr->g), 0);
    out = vec_dot(pr->n, pr->g, pr->q);
  } else {
    out = lower_value(pr->p, 0, pr->th, pr->x, pr->g);
  }
  v[pr->idx] = keep;
  return out;
}

/* The design's setting on a real 96x96 image: 48 filters 7x7, theta from
 * hyd_foe_theta_init; FD of the gradient on sampled pixels and of B^T q on
 * sampled hyperparameters, with Richardson error estimates. */
Test(foe, real_image_default_setting)
{
  size_t H, W;
  double *img = read_pgm(HYD_SHARED_DIR "/data/kodak_gray_96/kodim05.pgm", &H, &W);
  cr_assert_not_null(img);
  size_t n = H * W;
  double *y = malloc(n * sizeof *y), *g = malloc(n * sizeof *g);
  double *s = malloc(n * sizeof *s), *q = malloc(n * sizeof *q);
  test_rng r;
  rng_seed(&r, 23);
  for (size_t j = 0; j < n; j++) {
    y[j] = img[j] + 0.1 * rng_normal(&r);
    q[j] = rng_uniform(&r) - 0.5;
  }
  hyd_foe *fo;
  cr_assert_eq(hyd_foe_create(&fo, 1, H, W, y, img, NULL, NULL), HYD_OK);
  const hyd_problem *p = hyd_foe_problem(fo);
  double *th = malloc(2449 * sizeof *th), *bt = malloc(2449 * sizeof *bt);
  hyd_foe_options o;
  hyd_foe_options_default(&o);
  cr_assert_eq(hyd_foe_theta_init(&o, 1, th), HYD_OK);
  double f0, err;
  cr_assert_eq(p->lower_grad(p->ctx, 0, th, y, &f0, g), 0);
  memcpy(s, g, n * sizeof *s);
  probe pr = {p, th, y, g, q, n, 0, 0};
  for (int t = 0; t < 8; t++) {
    pr.idx = (size_t)(rng_uniform(&r) * (double)n);
    double fd = fd_richardson(probe_eval, &pr, y[pr.idx], 1e-4, f0, &err);
    cr_assert(fabs(fd - s[pr.idx]) <= err, "pixel %zu: %.12g vs %.12g (%g)",
              pr.idx, s[pr.idx], fd, err);
  }
  cr_assert_eq(p->cross_tprod(p->ctx, 0, th, y, q, bt), 0);
  double fscale = 0.0;
  for (size_t j = 0; j < n; j++)
    fscale += fabs(s[j] * q[j]);
  const size_t ks[6] = {0, 1, 48, 49, 97, 2448};
  pr.in_theta = 1;
  for (int t = 0; t < 6; t++) {
    pr.idx = ks[t];
    double fd = fd_richardson(probe_eval, &pr, th[pr.idx], 1e-4, fscale, &err);
    cr_assert(fabs(fd - bt[pr.idx]) <= err, "theta %zu: %.12g vs %.12g (%g)",
              pr.idx, bt[pr.idx], fd, err);
    cr_assert(err <= 1e-4 * fabs(bt[pr.idx]), "tolerance %g too loose", err);
  }
  hyd_constants c;
  cr_assert_eq(p->constants(p->ctx, 0, th, y, &c), 0);
  cr_log_info("kodim05 96x96 at init: L %.4g ||B|| %.4g LB %.4g LAinv %.4g",
              c.L, c.norm_B, c.LB, c.LAinv);
  hyd_foe_destroy(fo);
  free(img);
  free(y);
  free(g);
  free(s);
  free(q);
  free(th);
  free(bt);
}
