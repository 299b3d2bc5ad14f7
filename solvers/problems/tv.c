/* Smoothed-TV denoising problem (hyperd/tv.h).
 *
 * Notation: D = [D_rows; D_cols] stacks both forward-difference operators;
 * E = H(W-1) + (H-1)W edges; t = D x; s = sqrt(t^2 + nu^2);
 * k = lambda/2 (times 1/N with HYD_TV_REFERENCE_SCALING).
 *   phi(t)   = s,            phi'(t)  = t/s,              |phi'|  <= 1
 *   phi''(t) = nu^2/s^3  in (0, 1/nu]
 *   phi'''(t)= -3 nu^2 t/s^5, |phi'''| <= c/nu^2, c = 48/(25 sqrt 5) (|t|=nu/2)
 *   psi(t)   = nu d/dnu phi'(t) * (-1) = t nu^2/s^3,  |psi| <= 2/(3 sqrt 3)
 *   psi'(t)  = nu^2 (nu^2 - 2 t^2)/s^5,  |psi'| <= 1/nu (at t = 0)
 *
 *   grad h = x - y + k D^T phi'(t)
 *   A v    = v + k D^T (phi''(t) * D v)
 *   B      = [ k D^T phi'(t) , -k D^T psi(t) ]     (n x 2; d/dlog lambda, d/dlog nu)
 *
 * Constants (derivations, also in docs/problems.md):
 *   ||D||^2 = lambda_max(D^T D) <= 8: D^T D is the Neumann graph Laplacian of
 *     the grid, whose eigenvalues are at most twice the largest degree (4).
 *   mu = 1 (phi convex, so A >= I); L = 1 + k * 8 * (1/nu) = 1 + 4 lambda/nu.
 *   Lg = 1.
 *   ||B(x)||: computed exactly at x as sqrt(lambda_max) of the 2x2 Gram
 *     matrix of B's columns (one sweep); without x, the x-free bound
 *     ||B|| <= ||B||_F <= k sqrt(8E) sqrt(1 + 4/27) from |phi'| <= 1 and
 *     |psi| <= 2/(3 sqrt 3).
 *   LB: for unit v = (v1, v2), (B(x) - B(x')) v = k D^T (chi(t) - chi(t'))
 *     with chi = v1 phi' - v2 psi; |chi'| <= sqrt(phi''^2 + psi'^2)
 *     <= sqrt(2)/nu, so ||(B(x) - B(x'))v|| <= k ||D|| (sqrt 2/nu) ||D(x-x')||
 *     <= k 8 sqrt(2)/nu ||x - x'||:  LB = 4 sqrt(2) lambda/nu.
 *   LA: A(x) - A(x') = k D^T diag(phi''(t) - phi''(t')) D, whose norm is at
 *     most k ||D||^2 max_e |phi''(t_e) - phi''(t'_e)|
 *     <= k 8 (c/nu^2) max_e |t_e - t'_e| and |t_e - t'_e| <= sqrt(2)
 *     ||x - x'|| (a row of D is one +1 and one -1):
 *     LA = 4 sqrt(2) c lambda/nu^2, LAinv = LA/mu^2 = LA
 *     (A^{-1} - A'^{-1} = A^{-1}(A' - A)A'^{-1}).
 *
 * Kernels sweep the image once, row by row: the edge weights of one row sit
 * in three W-length scratch rows (L1-resident), so x, y and out stream
 * through memory once and the inner loops vectorise. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <hyperd/tv.h>

#include "internal.h"

/* Doubles of scratch per sample: the exact-||B|| sweep needs two weight
 * sets of three rows each (sweep needs 3W + 1 <= 6W). */
#define TV_SCRATCH_ROWS 6

/* Relative inflation of the computed ||B|| so that rounding in its sums
 * (at most about E * 2^-53 relative) cannot make it an under-estimate. */
#define TV_NORM_B_SAFETY (1.0 + 1e-9)

struct hyd_tv {
  hyd_problem problem;
  hyd_allocator alloc;
  size_t m, H, W, n, edges;
  int reference;
  double scale; /* of h: 1, or 1/m with HYD_TV_REFERENCE_SCALING */
  double *noisy, *clean;
  double *scratch; /* m * TV_SCRATCH_ROWS * W */
};

/* The two hot row kernels get an AVX2 clone chosen at load time (GCC's
 * function multiversioning, x86-64 ELF): 4 doubles per square root and
 * division instead of SSE2's 2 (1.6x on the kernels, bench/kernels). No FMA
 * is enabled, and the loops have no reductions, so both clones give
 * bit-identical results. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__ELF__)
#define TV_HOT __attribute__((target_clones("avx2", "default")))
#else
#define TV_HOT
#endif

/* ---- row kernels: one row of edge weights, edge j from a[j] to b[j] ---- */

static double row_phi1(size_t len, const double *a, const double *b,
                       double nu2, double *w, int want_sum)
{
  double sum = 0.0;
  if (want_sum) {
    for (size_t j = 0; j < len; j++) {
      double t = b[j] - a[j];
      double s = sqrt(t * t + nu2);
      w[j] = t / s;
      sum += s;
    }
  } else {
    for (size_t j = 0; j < len; j++) {
      double t = b[j] - a[j];
      w[j] = t / sqrt(t * t + nu2);
    }
  }
  return sum;
}

/* Both edge sets of one row that has a row below (xn): vertical edge c
 * from xr[c] to xn[c] (c < W) into vw, horizontal edge c from xr[c] to
 * xr[c + 1] (c < W - 1) into hw. The two edges leaving a pixel share one
 * division: q = 1/(s_v s_h), 1/s_v = s_h q, 1/s_h = s_v q (s >= nu >=
 * sqrt(DBL_MIN), so s_v s_h does not underflow; it overflows only where
 * t^2 already does). hvp: vw, hw = phi''(t) (D v) = nu^2 (D v) / s^3 with
 * the direction's rows vr, vn; else phi'(t) = t / s. One square root per
 * edge and one division per pixel instead of one of each per edge. */
TV_HOT static void row_pair(size_t W, const double *restrict xr,
                     const double *restrict xn, const double *restrict vr,
                     const double *restrict vn, double nu2, int hvp,
                     double *restrict vw, double *restrict hw)
{
  size_t last = W - 1;
  if (hvp) {
    for (size_t c = 0; c < last; c++) {
      double tv = xn[c] - xr[c], th = xr[c + 1] - xr[c];
      double sv = sqrt(tv * tv + nu2), sh = sqrt(th * th + nu2);
      double q = 1.0 / (sv * sh), rv = sh * q, rh = sv * q;
      vw[c] = nu2 * (vn[c] - vr[c]) * (rv * rv * rv);
      hw[c] = nu2 * (vr[c + 1] - vr[c]) * (rh * rh * rh);
    }
    double t = xn[last] - xr[last], s2 = t * t + nu2;
    vw[last] = nu2 * (vn[last] - vr[last]) / (s2 * sqrt(s2));
  } else {
    for (size_t c = 0; c < last; c++) {
      double tv = xn[c] - xr[c], th = xr[c + 1] - xr[c];
      double sv = sqrt(tv * tv + nu2), sh = sqrt(th * th + nu2);
      double q = 1.0 / (sv * sh);
      vw[c] = tv * (sh * q);
      hw[c] = th * (sv * q);
    }
    double t = xn[last] - xr[last];
    vw[last] = t / sqrt(t * t + nu2);
  }
}

/* phi''(t) * (D v)_e */
static void row_phi2(size_t len, const double *a, const double *b,
                     const double *va, const double *vb, double nu2,
                     double *w)
{
  for (size_t j = 0; j < len; j++) {
    double t = b[j] - a[j];
    double s2 = t * t + nu2;
    w[j] = nu2 * (vb[j] - va[j]) / (s2 * sqrt(s2));
  }
}

/* c1 phi'(t) - c2 psi(t) */
static void row_cross(size_t len, const double *a, const double *b,
                      double nu2, double c1, double c2, double *w)
{
  for (size_t j = 0; j < len; j++) {
    double t = b[j] - a[j];
    double s2 = t * t + nu2;
    double s = sqrt(s2);
    w[j] = (c1 - c2 * nu2 / s2) * t / s;
  }
}

/* psi(t) = t nu^2 / s^3 */
static void row_psi(size_t len, const double *a, const double *b, double nu2,
                    double *w)
{
  for (size_t j = 0; j < len; j++) {
    double t = b[j] - a[j];
    double s2 = t * t + nu2;
    w[j] = t * nu2 / (s2 * sqrt(s2));
  }
}

/* out = bs (base_a - base_b) + k (D^T w) restricted to one row, where vprev
 * are the weights of the vertical edges entering the row, vcur those
 * leaving it, hl the horizontal ones shifted by one: hl[c] enters pixel c
 * from the left, hl[c + 1] leaves it (hl[0] = hl[W] = 0), so that no value
 * is carried from one column to the next and the loops vectorise.
 * base_a/base_b may be NULL; bs is 1/N with HYD_TV_REFERENCE_SCALING,
 * else 1. */
TV_HOT static void combine_row(size_t W, double k, double bs,
                        const double *restrict vprev,
                        const double *restrict vcur,
                        const double *restrict hl,
                        const double *restrict base_a,
                        const double *restrict base_b, double *restrict out)
{
  if (base_a && base_b) {
    for (size_t c = 0; c < W; c++)
      out[c] = bs * (base_a[c] - base_b[c]) +
               k * (vprev[c] - vcur[c] + hl[c] - hl[c + 1]);
  } else if (base_a) {
    for (size_t c = 0; c < W; c++)
      out[c] = bs * base_a[c] + k * (vprev[c] - vcur[c] + hl[c] - hl[c + 1]);
  } else {
    for (size_t c = 0; c < W; c++)
      out[c] = k * (vprev[c] - vcur[c] + hl[c] - hl[c + 1]);
  }
}

enum sweep_mode { SWEEP_GRAD, SWEEP_HVP, SWEEP_CROSS };

typedef struct sweep_args {
  int mode;
  const double *x;     /* the point: t = D x */
  const double *v;     /* HVP direction */
  const double *base;  /* added to out (x for grad, v for HVP) */
  const double *minus; /* subtracted from out (y for grad) */
  double k, nu2, c1, c2;
  int want_sum;        /* return sum_e s_e (grad only) */
} sweep_args;

/* out = scale (base - minus) + k D^T w(x), w per mode; one pass over the image.
 * buf: 3W + 1 doubles. Returns sum_e s_e when want_sum. */
static double sweep(const hyd_tv *tv, double *buf, const sweep_args *a,
                    double *out)
{
  size_t H = tv->H, W = tv->W;
  /* hl: W + 1 doubles, hl[0] = hl[W] = 0, the row kernels fill
   * hw = hl + 1 (W - 1 edges) */
  double *vprev = buf, *vcur = buf + W, *hl = buf + 2 * W, *hw = hl + 1;
  double sum = 0.0;
  memset(vprev, 0, W * sizeof *vprev);
  hl[0] = hl[W] = 0.0;
  for (size_t r = 0; r < H; r++) {
    const double *xr = a->x + r * W;
    int last = (r + 1 == H);
    switch (a->mode) {
    case SWEEP_GRAD:
      if (!last && !a->want_sum) {
        row_pair(W, xr, xr + W, NULL, NULL, a->nu2, 0, vcur, hw);
        break;
      }
      if (!last)
        sum += row_phi1(W, xr, xr + W, a->nu2, vcur, a->want_sum);
      sum += row_phi1(W - 1, xr, xr + 1, a->nu2, hw, a->want_sum);
      break;
    case SWEEP_HVP: {
      const double *vr = a->v + r * W;
      if (!last) {
        row_pair(W, xr, xr + W, vr, vr + W, a->nu2, 1, vcur, hw);
        break;
      }
      row_phi2(W - 1, xr, xr + 1, vr, vr + 1, a->nu2, hw);
      break;
    }
    default:
      if (!last)
        row_cross(W, xr, xr + W, a->nu2, a->c1, a->c2, vcur);
      row_cross(W - 1, xr, xr + 1, a->nu2, a->c1, a->c2, hw);
      break;
    }
    if (last)
      memset(vcur, 0, W * sizeof *vcur);
    combine_row(W, a->k, tv->scale, vprev, vcur, hl, a->base ? a->base + r * W : NULL,
                a->minus ? a->minus + r * W : NULL, out + r * W);
    double *tmp = vprev;
    vprev = vcur;
    vcur = tmp;
  }
  return sum;
}

/* ---- parameters ---- */

typedef struct tv_par {
  double lam, nu, nu2, k;
} tv_par;

/* Rejects thetas whose lambda or nu^2 overflow or underflow: every kernel
 * divides by s >= nu, so nu^2 must be a positive normal-range double. */
static int tv_params(const hyd_tv *tv, size_t sample, const double *theta,
                     tv_par *p)
{
  if (!theta || sample >= tv->m)
    return HYD_EINVAL;
  p->lam = exp(theta[0]);
  p->nu = exp(theta[1]);
  p->nu2 = p->nu * p->nu;
  if (!(isfinite(p->lam) && p->lam > 0.0 && isfinite(p->nu2) &&
        p->nu2 >= DBL_MIN))
    return HYD_EINVAL;
  p->k = 0.5 * p->lam * tv->scale;
  return HYD_OK;
}

/* Common entry of the callbacks that take theta: the object, the
 * parameters, and a check that the three arrays the callback needs exist. */
static int tv_enter(void *ctx, size_t sample, const double *theta,
                    const void *a, const void *b, const void *c,
                    const hyd_tv **tv, tv_par *p)
{
  *tv = ctx;
  if (!a || !b || !c)
    return HYD_EINVAL;
  return tv_params(*tv, sample, theta, p);
}

static double *tv_scratch(const hyd_tv *tv, size_t sample)
{
  return tv->scratch + sample * TV_SCRATCH_ROWS * tv->W;
}

/* ---- callbacks ---- */

static size_t tv_lower_dim(void *ctx, size_t sample)
{
  const hyd_tv *tv = ctx;
  return sample < tv->m ? tv->n : 0;
}

static int tv_lower_grad(void *ctx, size_t sample, const double *theta,
                         const double *x, double *value, double *grad)
{
  const hyd_tv *tv;
  tv_par p;
  int st = tv_enter(ctx, sample, theta, x, grad, x, &tv, &p);
  if (st)
    return st;
  const double *y = tv->noisy + sample * tv->n;
  sweep_args a = {SWEEP_GRAD, x, NULL, x, y, p.k, p.nu2, 0.0, 0.0,
                  value != NULL};
  double tvsum = sweep(tv, tv_scratch(tv, sample), &a, grad);
  if (value) {
    double fit = 0.0;
    for (size_t j = 0; j < tv->n; j++) {
      double d = x[j] - y[j];
      fit += d * d;
    }
    *value = tv->scale * 0.5 * fit + p.k * tvsum;
  }
  return HYD_OK;
}

static int tv_lower_hvp(void *ctx, size_t sample, const double *theta,
                        const double *x, const double *v, double *out)
{
  const hyd_tv *tv;
  tv_par p;
  int st = tv_enter(ctx, sample, theta, x, v, out, &tv, &p);
  if (st)
    return st;
  sweep_args a = {SWEEP_HVP, x, v, v, NULL, p.k, p.nu2, 0.0, 0.0, 0};
  sweep(tv, tv_scratch(tv, sample), &a, out);
  return HYD_OK;
}

/* <phi'(t), D q> and <psi(t), D q> over one row of edges. */
static void row_btq(size_t len, const double *a, const double *b,
                    const double *qa, const double *qb, double nu2,
                    double *acc1, double *acc2)
{
  double s1 = 0.0, s2sum = 0.0;
  for (size_t j = 0; j < len; j++) {
    double t = b[j] - a[j];
    double s2 = t * t + nu2;
    double s = sqrt(s2);
    double dq = qb[j] - qa[j];
    double w1 = t / s;
    s1 += w1 * dq;
    s2sum += w1 * (nu2 / s2) * dq;
  }
  *acc1 += s1;
  *acc2 += s2sum;
}

/* B^T q = (k <phi'(t), D q>, -k <psi(t), D q>): <D^T w, q> = <w, D q>
 * needs no scratch. */
static int tv_cross_tprod(void *ctx, size_t sample, const double *theta,
                          const double *x, const double *q, double *out)
{
  const hyd_tv *tv;
  tv_par p;
  int st = tv_enter(ctx, sample, theta, x, q, out, &tv, &p);
  if (st)
    return st;
  size_t H = tv->H, W = tv->W;
  double acc1 = 0.0, acc2 = 0.0;
  for (size_t r = 0; r < H; r++) {
    const double *xr = x + r * W, *qr = q + r * W;
    if (r + 1 < H)
      row_btq(W, xr, xr + W, qr, qr + W, p.nu2, &acc1, &acc2);
    row_btq(W - 1, xr, xr + 1, qr, qr + 1, p.nu2, &acc1, &acc2);
  }
  out[0] = p.k * acc1;
  out[1] = -p.k * acc2;
  return HYD_OK;
}

static int tv_cross_prod(void *ctx, size_t sample, const double *theta,
                         const double *x, const double *v, double *out)
{
  const hyd_tv *tv;
  tv_par p;
  int st = tv_enter(ctx, sample, theta, x, v, out, &tv, &p);
  if (st)
    return st;
  sweep_args a = {SWEEP_CROSS, x, NULL, NULL, NULL, p.k, p.nu2, v[0], v[1], 0};
  sweep(tv, tv_scratch(tv, sample), &a, out);
  return HYD_OK;
}

static int tv_upper(void *ctx, size_t sample, const double *x, double *value,
                    double *grad)
{
  const hyd_tv *tv = ctx;
  if (sample >= tv->m || !x || !value)
    return HYD_EINVAL;
  const double *c = tv->clean + sample * tv->n;
  double sum = 0.0;
  for (size_t j = 0; j < tv->n; j++) {
    double d = x[j] - c[j];
    sum += d * d;
  }
  /* unscaled even with HYD_TV_REFERENCE_SCALING: the mean over samples
   * that f takes is the reference's 1/N */
  *value = 0.5 * sum;
  if (grad)
    for (size_t j = 0; j < tv->n; j++)
      grad[j] = x[j] - c[j];
  return HYD_OK;
}

/* Exact ||B(x)|| / k: the columns are b1 = D^T phi'(t), b2 = -D^T psi(t);
 * the norm of an n x 2 matrix is sqrt(lambda_max) of its 2x2 Gram matrix.
 * One sweep with two sets of weight rows. */
static double tv_norm_B_unit(const hyd_tv *tv, double *buf, const double *x,
                             double nu2)
{
  size_t H = tv->H, W = tv->W;
  double *p1 = buf, *c1 = buf + W, *h1 = buf + 2 * W;
  double *p2 = buf + 3 * W, *c2 = buf + 4 * W, *h2 = buf + 5 * W;
  double g11 = 0.0, g12 = 0.0, g22 = 0.0;
  memset(p1, 0, W * sizeof *p1);
  memset(p2, 0, W * sizeof *p2);
  h1[W - 1] = h2[W - 1] = 0.0;
  for (size_t r = 0; r < H; r++) {
    const double *xr = x + r * W;
    if (r + 1 < H) {
      row_phi1(W, xr, xr + W, nu2, c1, 0);
      row_psi(W, xr, xr + W, nu2, c2);
    } else {
      memset(c1, 0, W * sizeof *c1);
      memset(c2, 0, W * sizeof *c2);
    }
    row_phi1(W - 1, xr, xr + 1, nu2, h1, 0);
    row_psi(W - 1, xr, xr + 1, nu2, h2);
    double l1 = 0.0, l2 = 0.0;
    for (size_t c = 0; c < W; c++) {
      double e1 = p1[c] - c1[c] + l1 - h1[c];
      double e2 = -(p2[c] - c2[c] + l2 - h2[c]);
      l1 = h1[c];
      l2 = h2[c];
      g11 += e1 * e1;
      g12 += e1 * e2;
      g22 += e2 * e2;
    }
    double *t1 = p1, *t2 = p2;
    p1 = c1;
    c1 = t1;
    p2 = c2;
    c2 = t2;
  }
  double half_tr = 0.5 * (g11 + g22), half_diff = 0.5 * (g11 - g22);
  double lmax = half_tr + sqrt(half_diff * half_diff + g12 * g12);
  return sqrt(lmax);
}

static int tv_constants(void *ctx, size_t sample, const double *theta,
                        const double *x, hyd_constants *out)
{
  const hyd_tv *tv;
  tv_par p;
  int st = tv_enter(ctx, sample, theta, out, out, out, &tv, &p);
  if (st)
    return st;
  double ratio = p.lam / p.nu;
  double norm_unit;
  if (x) {
    norm_unit = TV_NORM_B_SAFETY * tv_norm_B_unit(tv, tv_scratch(tv, sample), x, p.nu2);
  } else {
    /* x-free: ||B||_F with |phi'| <= 1, |psi| <= 2/(3 sqrt 3), ||D||^2 <= 8 */
    norm_unit = sqrt(8.0 * (double)tv->edges * (1.0 + 4.0 / 27.0));
  }
  double LA = 4.0 * sqrt(2.0) * HYD_TV_PHI3_CONSTANT * p.lam / p.nu2;
  out->norm_B = p.k * norm_unit;
  out->LB = tv->scale * 4.0 * sqrt(2.0) * ratio;
  if (tv->reference) {
    /* What the reference's solver assumes (not bounds of the scaled
     * problem); LAinv is the true one of the scaled problem:
     * (A/N)^{-1} = N A^{-1}. */
    out->mu = 1.0;
    out->L = 1.0 + sqrt(8.0) * ratio;
    out->Lg = 1.0;
    out->LAinv = LA / tv->scale;
    out->certified = 0;
  } else {
    out->mu = 1.0;
    out->L = 1.0 + 4.0 * ratio;
    out->Lg = 1.0;
    out->LAinv = LA; /* LA / mu^2 with mu = 1 */
    out->certified = 1;
  }
  if (!(isfinite(out->L) && isfinite(out->norm_B) && isfinite(out->LB) &&
        isfinite(out->LAinv)))
    return HYD_ENONFINITE;
  return HYD_OK;
}

/* ---- lifecycle ---- */

static int all_finite(size_t n, const double *a)
{
  for (size_t j = 0; j < n; j++)
    if (!isfinite(a[j]))
      return 0;
  return 1;
}

int hyd_tv_create(hyd_tv **out, size_t n_images, size_t height, size_t width,
                  const double *noisy, const double *clean, unsigned flags,
                  const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  if (!noisy || !clean || n_images == 0 || height == 0 || width == 0 ||
      (flags & ~(unsigned)HYD_TV_REFERENCE_SCALING))
    return HYD_EINVAL;
  if (height > SIZE_MAX / width)
    return HYD_EINVAL;
  size_t n = height * width;
  if (n_images > SIZE_MAX / n || width > SIZE_MAX / TV_SCRATCH_ROWS ||
      n_images > SIZE_MAX / (TV_SCRATCH_ROWS * width))
    return HYD_EINVAL;
  size_t total = n_images * n;
  if (!all_finite(total, noisy) || !all_finite(total, clean))
    return HYD_EINVAL;

  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  hyd_tv *tv = a.alloc(a.user, sizeof *tv);
  if (!tv)
    return HYD_ENOMEM;
  memset(tv, 0, sizeof *tv);
  tv->alloc = a;
  tv->m = n_images;
  tv->H = height;
  tv->W = width;
  tv->n = n;
  tv->edges = height * (width - 1) + (height - 1) * width;
  tv->reference = (flags & HYD_TV_REFERENCE_SCALING) != 0;
  tv->scale = tv->reference ? 1.0 / (double)n_images : 1.0;
  tv->noisy = hyd_alloc_array(&a, total, sizeof(double));
  tv->clean = hyd_alloc_array(&a, total, sizeof(double));
  tv->scratch = hyd_alloc_array(&a, n_images * TV_SCRATCH_ROWS * width,
                                sizeof(double));
  if (!tv->noisy || !tv->clean || !tv->scratch) {
    hyd_tv_destroy(tv);
    return HYD_ENOMEM;
  }
  memcpy(tv->noisy, noisy, total * sizeof(double));
  memcpy(tv->clean, clean, total * sizeof(double));

  hyd_problem *p = &tv->problem;
  p->version = HYD_PROBLEM_VERSION;
  p->n_theta = 2;
  p->n_samples = n_images;
  p->upper_convex = 1;
  p->ctx = tv;
  p->lower_dim = tv_lower_dim;
  p->lower_start = NULL;
  p->lower_grad = tv_lower_grad;
  p->lower_hvp = tv_lower_hvp;
  p->cross_tprod = tv_cross_tprod;
  p->cross_prod = tv_cross_prod;
  p->upper = tv_upper;
  p->constants = tv_constants;
  *out = tv;
  return HYD_OK;
}

void hyd_tv_destroy(hyd_tv *tv)
{
  if (!tv)
    return;
  hyd_allocator a = tv->alloc;
  hyd_free(&a, tv->noisy);
  hyd_free(&a, tv->clean);
  hyd_free(&a, tv->scratch);
  a.release(a.user, tv);
}

const hyd_problem *hyd_tv_problem(const hyd_tv *tv)
{
  return tv ? &tv->problem : NULL;
}

int hyd_tv_psnr(const hyd_tv *tv, size_t image, const double *x,
                double *psnr)
{
  if (!tv || !x || !psnr || image >= tv->m)
    return HYD_EINVAL;
  const double *c = tv->clean + image * tv->n;
  double sum = 0.0;
  for (size_t j = 0; j < tv->n; j++) {
    /* clipped to the displayable range, as the reference reports it */
    double v = x[j] < 0.0 ? 0.0 : (x[j] > 1.0 ? 1.0 : x[j]);
    double d = v - c[j];
    sum += d * d;
  }
  if (!isfinite(sum))
    return HYD_ENONFINITE;
  *psnr = sum > 0.0 ? 10.0 * log10((double)tv->n / sum) : HUGE_VAL;
  return HYD_OK;
}
