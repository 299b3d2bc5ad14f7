/* Field-of-Experts denoising problem (hyperd/foe.h).
 *
 * Notation per filter k: f = filter, a = e^{t0 + t_k}/2, nu = e^{s_k},
 * z = K x, s = sqrt(z^2 + nu^2), phi' = z/s, phi'' = nu^2/s^3,
 * psi = z nu^2/s^3 (= -nu d/dnu phi'), S_ab the shift-with-reflection that
 * picks input pixel (i + a - pad, j + b - pad) for output (i, j), so
 * K = sum_ab f_ab S_ab.
 *   grad h = x - y + sum_k a K^T phi'
 *   A v    = v + sum_k a K^T (phi'' K v)
 *   B^T q  : t0 -> sum_k a <phi', Kq>;  t_k -> a <phi', Kq>;
 *            s_k -> -a <psi, Kq>;
 *            f_ab -> a (<phi'' Kq, S_ab x> + <phi', S_ab q>)
 *   B w    = sum_k a [K^T((w_t0 + w_tk) phi' - w_sk psi + phi'' (D x))
 *                     + D^T phi'],  D = correlation with w's filter k block.
 *
 * Constants (derivations in docs/problems.md):
 *   ||K||^2 <= ||f||_1 * max column sum of |K| (Schur test; rows of |K| sum
 *     to at most ||f||_1; column sums computed exactly from the reflection
 *     multiplicities, separable in rows and columns).
 *   R = max row norm of K <= min(||f||_1, 2 ||f||_2) (reflection can merge
 *     at most 2 x 2 taps onto one pixel): |(K d)_j| <= R ||d||.
 *   Ssum = sqrt(sum_ab ||S_ab||^2) = sqrt(sum_a m_a * sum_b m_b), m_a the
 *     largest multiplicity of row shift a (1 or 2); ||D|| <= Ssum ||w||.
 *   Sx = sqrt(sum_ab ||S_ab x||^2), separable: ||D x|| <= Sx ||w||.
 *   mu = 1, Lg = 1, L = 1 + sum_k a ||K||^2 / nu.
 *   LA = sum_k a ||K||^2 (c/nu^2) R  (c = HYD_TV_PHI3_CONSTANT), LAinv = LA.
 *   ||B(x)||: the 2K+1 scalar columns exactly at x (Frobenius over them),
 *     each filter block <= a (Ssum ||phi'|| + ||K|| max phi'' Sx); blocks
 *     combined as sqrt(sum of squares).
 *   LB (for pairs (x, x'), x the point given): scalar columns a ||K||^2/nu
 *     each (t0's is their sum); filter block
 *     a ||K|| (2 Ssum/nu + c R Sx/nu^2).
 *
 * Correlations: each input is first copied with its reflected columns
 * (pad_input), so that every output row is a sum of 1-D correlations of
 * padded input rows (precomputed row offsets), computed in register blocks
 * of 32 outputs (span). K^T runs the same kernel on the responses between
 * zeros, gathering per input row the (output row, tap row) pairs that read
 * it (the transposed row map), then folds the reflected columns back:
 * K = C P and K^T = P^T C^T exactly, P the padding, C the valid
 * correlation. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <hyperd/foe.h>
#include <hyperd/tv.h>

#include "internal.h"

#define FOE_NORM_SAFETY (1.0 + 1e-9)

struct hyd_foe {
  hyd_problem problem;
  hyd_allocator alloc;
  size_t m, H, W, n, K, fs, fs2, pad, Ho, Wo, no, p;
  size_t Wp;         /* W + 2 pad: an input row with its reflected columns */
  size_t Wu;         /* Wo + 2 (fs - 1): a response row between zeros */
  size_t *fwd_off;   /* Ho x fs: offset (row * Wp) of the padded input row
                        that output row i reads with tap row a */
  size_t *adj_ptr;   /* H + 1: input row r's (i, a) pairs are entries
                        [adj_ptr[r], adj_ptr[r + 1]) of */
  size_t *adj_off;   /* Ho x fs: ... i * Wu (output row i, zero-padded) */
  size_t *adj_tap;   /* Ho x fs: ... a (the tap row that reads row r) */
  double *Mr, *Mc;   /* H x fs, W x fs: how many outputs hit a row/col */
  double *mr, *mc;   /* their row sums: weights of x^2 in Sx^2 */
  double ssum;
  double *noisy, *clean;
  double *scratch;   /* m * stride, then one work set for the public
                        correlations */
  size_t stride;     /* 3 no + 2 n + H fs + work_size */
  size_t work;       /* 2 H Wp + Ho Wu + Wp: two padded inputs, a padded
                        response and a row (foe_work) */
};

void hyd_foe_options_default(hyd_foe_options *o)
{
  if (!o)
    return;
  o->n_filters = 48;
  o->filter_size = 7;
  o->pad = HYD_FOE_PAD_SAME;
}

size_t hyd_foe_n_theta(const hyd_foe_options *o)
{
  if (!o || o->filter_size == 0 || o->n_filters == 0 ||
      o->filter_size > SIZE_MAX / o->filter_size)
    return 0;
  size_t fs2 = o->filter_size * o->filter_size;
  if (o->n_filters > (SIZE_MAX - 1) / (fs2 + 2))
    return 0;
  return 1 + o->n_filters * (fs2 + 2);
}

/* splitmix64 and Box-Muller: a fixed, documented stream for the seed. */
static double foe_uniform(unsigned long long *s)
{
  unsigned long long z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return ((double)(z >> 11) + 0.5) * 0x1.0p-53; /* (0, 1) */
}

int hyd_foe_theta_init(const hyd_foe_options *o, unsigned long long seed,
                       double *theta)
{
  size_t p = hyd_foe_n_theta(o);
  if (!p || !theta)
    return HYD_EINVAL;
  size_t K = o->n_filters, fs2 = o->filter_size * o->filter_size;
  for (size_t k = 0; k < 1 + 2 * K; k++)
    theta[k] = -3.0;
  double sd = sqrt(1.0 / (double)o->filter_size);
  unsigned long long s = seed;
  for (size_t k = 0; k < K; k++) {
    double *f = theta + 1 + 2 * K + k * fs2, mean = 0.0;
    for (size_t j = 0; j < fs2; j++) {
      double u = foe_uniform(&s), v = foe_uniform(&s);
      f[j] = sd * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
      mean += f[j];
    }
    mean /= (double)fs2;
    for (size_t j = 0; j < fs2; j++)
      f[j] -= mean;
  }
  return HYD_OK;
}

/* ---- correlation kernels ---- */

/* The hot loops get an AVX2 clone chosen at load time (GCC's function
 * multiversioning, x86-64 ELF), as in tv.c. No FMA is enabled, and every
 * output is summed in the same order in both clones (the vectors run
 * across outputs, reductions keep FOE_LANES fixed partial sums), so both
 * give bit-identical results. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__ELF__)
#define FOE_HOT __attribute__((target_clones("avx2", "default")))
#else
#define FOE_HOT
#endif

/* Outputs per register block: 32 doubles are 8 AVX2 accumulators, enough
 * independent additions to hide the adder's latency (with 4 the gradient
 * ran 1.3x slower) and few enough to stay in the 16 registers while all fs^2 taps
 * are applied; a correlation then loads each input once per tap and stores
 * each output once, instead of reading and writing the output row once per
 * tap. (The SSE2 clone needs 16 accumulators and spills some; it is the
 * fallback for machines without AVX2.) */
#define FOE_BLOCK 32
#define FOE_LANES 4

/* The spans below compute, for t < len,
 *   out[t] = (add ? out[t] : 0) + sum_q sum_b fq[b * fstep] row_q[t + b],
 * row_q = base + off[q], fq = f + tap_q fs (tap_q = q when tap is NULL);
 * q outer, b inner, in that order for every t and every block size. */
static double span_one(size_t np, const double *base, const size_t *off,
                       const size_t *tap, const double *f, ptrdiff_t fstep,
                       size_t fs, double start)
{
  double acc = start;
  for (size_t q = 0; q < np; q++) {
    const double *row = base + off[q], *fq = f + (tap ? tap[q] : q) * fs;
    for (size_t b = 0; b < fs; b++)
      acc += fq[(ptrdiff_t)b * fstep] * row[b];
  }
  return acc;
}

#if defined(__GNUC__)
/* GCC's vector extension (clang has it too): the blocks are written as
 * vectors of 4 doubles, named one by one and always inlined, so that the
 * compiler keeps them in registers and vectorises across outputs (left to
 * itself, GCC vectorises the short tap loop instead and shuffles; as an
 * array or a call they went to the stack, 7x slower). The default clone
 * splits each into 2 SSE2 halves; the arithmetic per output is the same. */
typedef double foe_v4 __attribute__((vector_size(4 * sizeof(double))));

/* An unaligned load (a macro: a function returning an AVX vector would
 * have a different ABI in the two clones). */
#define V4_LOAD(dst, p) memcpy(&(dst), (p), sizeof(dst))

/* One step of a block: c_v += fv * row[4 v .. 4 v + 3]. */
#define SPAN_STEP(cv, v)                                                     \
  do {                                                                       \
    foe_v4 xv;                                                               \
    V4_LOAD(xv, row + b + 4 * (v));                                          \
    cv += fv * xv;                                                           \
  } while (0)

#define FOE_INLINE __attribute__((always_inline)) static inline

FOE_INLINE void span_block32(size_t np, const double *base, const size_t *off,
                             const size_t *tap, const double *f,
                             ptrdiff_t fstep, size_t fs, double *out, int add)
{
  foe_v4 c0 = {0.0, 0.0, 0.0, 0.0}, c1 = c0, c2 = c0, c3 = c0, c4 = c0,
         c5 = c0, c6 = c0, c7 = c0;
  if (add) {
    V4_LOAD(c0, out);
    V4_LOAD(c1, out + 4);
    V4_LOAD(c2, out + 8);
    V4_LOAD(c3, out + 12);
    V4_LOAD(c4, out + 16);
    V4_LOAD(c5, out + 20);
    V4_LOAD(c6, out + 24);
    V4_LOAD(c7, out + 28);
  }
  for (size_t q = 0; q < np; q++) {
    const double *row = base + off[q], *fq = f + (tap ? tap[q] : q) * fs;
    for (size_t b = 0; b < fs; b++) {
      double fb = fq[(ptrdiff_t)b * fstep];
      foe_v4 fv = {fb, fb, fb, fb};
      SPAN_STEP(c0, 0);
      SPAN_STEP(c1, 1);
      SPAN_STEP(c2, 2);
      SPAN_STEP(c3, 3);
      SPAN_STEP(c4, 4);
      SPAN_STEP(c5, 5);
      SPAN_STEP(c6, 6);
      SPAN_STEP(c7, 7);
    }
  }
  memcpy(out, &c0, sizeof c0);
  memcpy(out + 4, &c1, sizeof c1);
  memcpy(out + 8, &c2, sizeof c2);
  memcpy(out + 12, &c3, sizeof c3);
  memcpy(out + 16, &c4, sizeof c4);
  memcpy(out + 20, &c5, sizeof c5);
  memcpy(out + 24, &c6, sizeof c6);
  memcpy(out + 28, &c7, sizeof c7);
}

FOE_INLINE void span_block4(size_t np, const double *base, const size_t *off,
                            const size_t *tap, const double *f,
                            ptrdiff_t fstep, size_t fs, double *out, int add)
{
  foe_v4 c0 = {0.0, 0.0, 0.0, 0.0};
  if (add)
    V4_LOAD(c0, out);
  for (size_t q = 0; q < np; q++) {
    const double *row = base + off[q], *fq = f + (tap ? tap[q] : q) * fs;
    for (size_t b = 0; b < fs; b++) {
      double fb = fq[(ptrdiff_t)b * fstep];
      foe_v4 fv = {fb, fb, fb, fb}, x0;
      V4_LOAD(x0, row + b);
      c0 += fv * x0;
    }
  }
  memcpy(out, &c0, sizeof c0);
}
#endif

/* The span over len outputs: blocks of 32, then 4, then 1. */
FOE_HOT static void span(size_t len, size_t np, const double *base,
                         const size_t *off, const size_t *tap,
                         const double *f, ptrdiff_t fstep, size_t fs,
                         double *out, int add)
{
  size_t t = 0;
#if defined(__GNUC__)
  for (; t + FOE_BLOCK <= len; t += FOE_BLOCK)
    span_block32(np, base + t, off, tap, f, fstep, fs, out + t, add);
  for (; t + 4 <= len; t += 4)
    span_block4(np, base + t, off, tap, f, fstep, fs, out + t, add);
#endif
  for (; t < len; t++)
    out[t] = span_one(np, base + t, off, tap, f, fstep, fs,
                      add ? out[t] : 0.0);
}

/* The buffers of one correlation pass (inside a sample's scratch). */
typedef struct foe_work {
  double *xp, *vp; /* H x Wp: padded copies of the inputs */
  double *up;      /* Ho x Wu: a response between zero columns */
  double *row;     /* Wp: one row of the padded adjoint */
} foe_work;

static foe_work foe_work_at(const hyd_foe *fo, double *base)
{
  foe_work w;
  w.xp = base;
  w.vp = w.xp + fo->H * fo->Wp;
  w.up = w.vp + fo->H * fo->Wp;
  w.row = w.up + fo->Ho * fo->Wu;
  return w;
}

/* xp = x with pad reflected columns on each side (numpy "reflect"): then
 * every output is an interior one and the rows need no column maps. */
static void pad_input(const hyd_foe *fo, const double *x, double *xp)
{
  size_t W = fo->W, pad = fo->pad;
  for (size_t r = 0; r < fo->H; r++) {
    const double *xr = x + r * W;
    double *pr = xp + r * fo->Wp;
    for (size_t k = 0; k < pad; k++) {
      pr[pad - 1 - k] = xr[k + 1];
      pr[pad + W + k] = xr[W - 2 - k];
    }
    memcpy(pr + pad, xr, W * sizeof *xr);
  }
}

/* z = K x (overwrite), xp the padded x: output row i is one span over the
 * padded input rows fwd_off[i fs + a] / Wp. */
static void correlate(const hyd_foe *fo, const double *f, const double *xp,
                      double *z)
{
  size_t fs = fo->fs;
  for (size_t i = 0; i < fo->Ho; i++)
    span(fo->Wo, fs, xp, fo->fwd_off + i * fs, NULL, f, 1, fs,
         z + i * fo->Wo, 0);
}

/* out += K^T u. Each response row is copied between fs - 1 zeros (up), so
 * that the padded adjoint of input row r,
 *   row[k] = sum over its pairs (i, a) of sum_b f_ab u(i, k - b)
 * (terms with k - b outside the row are 0), is one span with the filter
 * rows reversed (fstep -1) over k < Wp; the reflected columns of row are
 * then folded back onto the pixels they copy (pad_input's adjoint). */
static void correlate_adj_add(const hyd_foe *fo, const double *f,
                              const double *u, double *out, foe_work *w)
{
  size_t fs = fo->fs, W = fo->W, Wo = fo->Wo, pad = fo->pad;
  for (size_t i = 0; i < fo->Ho; i++) {
    double *ur = w->up + i * fo->Wu;
    memset(ur, 0, (fs - 1) * sizeof *ur);
    memcpy(ur + fs - 1, u + i * Wo, Wo * sizeof *ur);
    memset(ur + fs - 1 + Wo, 0, (fs - 1) * sizeof *ur);
  }
  double *row = w->row;
  for (size_t r = 0; r < fo->H; r++) {
    size_t q0 = fo->adj_ptr[r], np = fo->adj_ptr[r + 1] - q0;
    double *orow = out + r * W;
    if (np == 0)
      continue;
    span(fo->Wp, np, w->up, fo->adj_off + q0, fo->adj_tap + q0, f + fs - 1,
         -1, fs, row, 0);
    for (size_t c = 0; c < W; c++)
      orow[c] += row[pad + c];
    for (size_t k = 0; k < pad; k++) {
      orow[k + 1] += row[pad - 1 - k];
      orow[W - 2 - k] += row[pad + W + k];
    }
  }
}

/* The dot product of n doubles in FOE_LANES fixed partial sums (so that it
 * vectorises with the same bits in both clones). */
static inline double dot_lanes(size_t n, const double *a, const double *b)
{
  double lane[FOE_LANES] = {0.0};
  size_t j = 0;
  for (; j + FOE_LANES <= n; j += FOE_LANES)
    for (size_t l = 0; l < FOE_LANES; l++)
      lane[l] += a[j + l] * b[j + l];
  double s = (lane[0] + lane[1]) + (lane[2] + lane[3]);
  for (; j < n; j++)
    s += a[j] * b[j];
  return s;
}

/* G_ab += scale * <r, S_ab x>: the gradient of <r, K x> in the filter
 * (xp the padded x). */
FOE_HOT static void filter_grad_add(const hyd_foe *fo, const double *r,
                                    const double *xp, double scale,
                                    double *G)
{
  size_t fs = fo->fs, Wo = fo->Wo;
  for (size_t i = 0; i < fo->Ho; i++) {
    const double *ri = r + i * Wo;
    for (size_t a = 0; a < fs; a++) {
      const double *xr = xp + fo->fwd_off[i * fs + a];
      for (size_t b = 0; b < fs; b++)
        G[a * fs + b] += scale * dot_lanes(Wo, ri, xr + b);
    }
  }
}

/* ---- parameters ---- */

static double par_a(const hyd_foe *fo, const double *theta, size_t k)
{
  (void)fo;
  return 0.5 * exp(theta[0] + theta[1 + k]);
}

static double par_nu2(const hyd_foe *fo, const double *theta, size_t k)
{
  return exp(2.0 * theta[1 + fo->K + k]);
}

static const double *par_filter(const hyd_foe *fo, const double *theta,
                                size_t k)
{
  return theta + 1 + 2 * fo->K + k * fo->fs2;
}

/* Every kernel divides by s >= nu: nu^2 must be a positive normal double,
 * the weights positive and finite, the filters finite. */
static int foe_theta_ok(const hyd_foe *fo, const double *theta)
{
  if (!theta)
    return 0;
  for (size_t j = 0; j < fo->p; j++)
    if (!isfinite(theta[j]))
      return 0;
  for (size_t k = 0; k < fo->K; k++) {
    double a = par_a(fo, theta, k), nu2 = par_nu2(fo, theta, k);
    if (!(isfinite(a) && a > 0.0 && isfinite(nu2) && nu2 >= DBL_MIN))
      return 0;
  }
  return 1;
}

/* A sample's scratch: 3 no + 2 n + H fs doubles at *scratch, then the
 * correlation buffers in *w. */
static int foe_enter(void *ctx, size_t sample, const double *theta,
                     const void *a, const void *b, const void *c,
                     const hyd_foe **fo, double **scratch, foe_work *w)
{
  *fo = ctx;
  if (sample >= (*fo)->m || !a || !b || !c || !foe_theta_ok(*fo, theta))
    return HYD_EINVAL;
  *scratch = (*fo)->scratch + sample * (*fo)->stride;
  *w = foe_work_at(*fo, *scratch + (*fo)->stride - (*fo)->work);
  return HYD_OK;
}

/* ---- callbacks ---- */

/* z := a phi'(z) = a z / s, s = sqrt(z^2 + nu2); returns sum s when
 * want_sum (else 0), summed in FOE_LANES fixed partial sums so that the
 * loop vectorises and both clones give the same bits. */
FOE_HOT static double phi1_scale(size_t n, double a, double nu2, double *z,
                                 int want_sum)
{
  if (!want_sum) {
    for (size_t j = 0; j < n; j++)
      z[j] = a * z[j] / sqrt(z[j] * z[j] + nu2);
    return 0.0;
  }
  double lane[FOE_LANES] = {0.0};
  size_t j = 0;
  for (; j + FOE_LANES <= n; j += FOE_LANES)
    for (size_t l = 0; l < FOE_LANES; l++) {
      double s = sqrt(z[j + l] * z[j + l] + nu2);
      lane[l] += s;
      z[j + l] = a * z[j + l] / s;
    }
  double sum = (lane[0] + lane[1]) + (lane[2] + lane[3]);
  for (; j < n; j++) {
    double s = sqrt(z[j] * z[j] + nu2);
    sum += s;
    z[j] = a * z[j] / s;
  }
  return sum;
}

static size_t foe_lower_dim(void *ctx, size_t sample)
{
  const hyd_foe *fo = ctx;
  return sample < fo->m ? fo->n : 0;
}

/* u := a phi''(z) u = a nu2 u / s^3 (an = a nu2). */
FOE_HOT static void phi2_scale(size_t n, double an, double nu2,
                               const double *z, double *u)
{
  for (size_t j = 0; j < n; j++) {
    double s2 = z[j] * z[j] + nu2;
    u[j] *= an / (s2 * sqrt(s2));
  }
}

static int foe_lower_grad(void *ctx, size_t sample, const double *theta,
                          const double *x, double *value, double *grad)
{
  const hyd_foe *fo;
  double *z;
  foe_work w;
  int st = foe_enter(ctx, sample, theta, x, grad, x, &fo, &z, &w);
  if (st)
    return st;
  pad_input(fo, x, w.xp);
  const double *y = fo->noisy + sample * fo->n;
  double fit = 0.0, reg = 0.0;
  for (size_t j = 0; j < fo->n; j++) {
    grad[j] = x[j] - y[j];
    fit += grad[j] * grad[j];
  }
  for (size_t k = 0; k < fo->K; k++) {
    double a = par_a(fo, theta, k);
    correlate(fo, par_filter(fo, theta, k), w.xp, z);
    reg += a * phi1_scale(fo->no, a, par_nu2(fo, theta, k), z, value != NULL);
    correlate_adj_add(fo, par_filter(fo, theta, k), z, grad, &w);
  }
  if (value)
    *value = 0.5 * fit + reg;
  return HYD_OK;
}

static int foe_lower_hvp(void *ctx, size_t sample, const double *theta,
                         const double *x, const double *v, double *out)
{
  const hyd_foe *fo;
  double *z;
  foe_work w;
  int st = foe_enter(ctx, sample, theta, x, v, out, &fo, &z, &w);
  if (st)
    return st;
  double *u = z + fo->no;
  pad_input(fo, x, w.xp);
  pad_input(fo, v, w.vp);
  memcpy(out, v, fo->n * sizeof *out);
  for (size_t k = 0; k < fo->K; k++) {
    const double *f = par_filter(fo, theta, k);
    double a = par_a(fo, theta, k), nu2 = par_nu2(fo, theta, k);
    correlate(fo, f, w.xp, z);
    correlate(fo, f, w.vp, u);
    phi2_scale(fo->no, a * nu2, nu2, z, u);
    correlate_adj_add(fo, f, u, out, &w);
  }
  return HYD_OK;
}

static int foe_cross_tprod(void *ctx, size_t sample, const double *theta,
                           const double *x, const double *q, double *out)
{
  const hyd_foe *fo;
  double *z;
  foe_work w;
  int st = foe_enter(ctx, sample, theta, x, q, out, &fo, &z, &w);
  if (st)
    return st;
  double *u = z + fo->no;
  size_t K = fo->K;
  pad_input(fo, x, w.xp);
  pad_input(fo, q, w.vp);
  memset(out, 0, fo->p * sizeof *out);
  for (size_t k = 0; k < K; k++) {
    const double *f = par_filter(fo, theta, k);
    double a = par_a(fo, theta, k), nu2 = par_nu2(fo, theta, k);
    correlate(fo, f, w.xp, z);
    correlate(fo, f, w.vp, u);
    double d1 = 0.0, d2 = 0.0;
    for (size_t j = 0; j < fo->no; j++) {
      double s2 = z[j] * z[j] + nu2, s = sqrt(s2);
      double p1 = z[j] / s, p2 = nu2 / (s2 * s);
      d1 += p1 * u[j];
      d2 += z[j] * p2 * u[j];
      z[j] = p1;        /* phi' */
      u[j] *= p2;       /* phi'' K q */
    }
    out[0] += a * d1;
    out[1 + k] = a * d1;
    out[1 + K + k] = -a * d2;
    double *G = out + 1 + 2 * K + k * fo->fs2;
    filter_grad_add(fo, u, w.xp, a, G);
    filter_grad_add(fo, z, w.vp, a, G);
  }
  return HYD_OK;
}

static int foe_cross_prod(void *ctx, size_t sample, const double *theta,
                          const double *x, const double *w, double *out)
{
  const hyd_foe *fo;
  double *z;
  foe_work wk;
  int st = foe_enter(ctx, sample, theta, x, w, out, &fo, &z, &wk);
  if (st)
    return st;
  double *d = z + fo->no, *r = d + fo->no;
  pad_input(fo, x, wk.xp);
  size_t K = fo->K;
  memset(out, 0, fo->n * sizeof *out);
  for (size_t k = 0; k < K; k++) {
    const double *f = par_filter(fo, theta, k);
    const double *wf = w + 1 + 2 * K + k * fo->fs2;
    double a = par_a(fo, theta, k), nu2 = par_nu2(fo, theta, k);
    double c1 = w[0] + w[1 + k], c2 = w[1 + K + k];
    correlate(fo, f, wk.xp, z);
    correlate(fo, wf, wk.xp, d);
    for (size_t j = 0; j < fo->no; j++) {
      double s2 = z[j] * z[j] + nu2, s = sqrt(s2);
      double p2 = nu2 / (s2 * s);
      r[j] = a * (c1 * z[j] / s - c2 * z[j] * p2 + p2 * d[j]);
      z[j] = a * z[j] / s;
    }
    correlate_adj_add(fo, f, r, out, &wk);
    correlate_adj_add(fo, wf, z, out, &wk);
  }
  return HYD_OK;
}

static int foe_upper(void *ctx, size_t sample, const double *x, double *value,
                     double *grad)
{
  const hyd_foe *fo = ctx;
  if (sample >= fo->m || !x || !value)
    return HYD_EINVAL;
  const double *c = fo->clean + sample * fo->n;
  double sum = 0.0;
  for (size_t j = 0; j < fo->n; j++) {
    double e = x[j] - c[j];
    sum += e * e;
  }
  *value = 0.5 * sum;
  if (grad)
    for (size_t j = 0; j < fo->n; j++)
      grad[j] = x[j] - c[j];
  return HYD_OK;
}

/* Schur bound of ||K||^2: ||f||_1 times the largest column sum of |K|,
 * which is sum_ab |f_ab| Mr[r][a] Mc[c][b] at pixel (r, c). U: H fs. */
static double knorm2(const hyd_foe *fo, const double *f, double *U)
{
  size_t fs = fo->fs;
  double l1 = 0.0;
  for (size_t t = 0; t < fo->fs2; t++)
    l1 += fabs(f[t]);
  for (size_t r = 0; r < fo->H; r++)
    for (size_t b = 0; b < fs; b++) {
      double s = 0.0;
      for (size_t a = 0; a < fs; a++)
        s += fo->Mr[r * fs + a] * fabs(f[a * fs + b]);
      U[r * fs + b] = s;
    }
  double cmax = 0.0;
  for (size_t r = 0; r < fo->H; r++)
    for (size_t c = 0; c < fo->W; c++) {
      double s = 0.0;
      for (size_t b = 0; b < fs; b++)
        s += U[r * fs + b] * fo->Mc[c * fs + b];
      cmax = s > cmax ? s : cmax;
    }
  return l1 * cmax;
}

static double row_norm_bound(const hyd_foe *fo, const double *f)
{
  double l1 = 0.0, l2 = 0.0;
  for (size_t t = 0; t < fo->fs2; t++) {
    l1 += fabs(f[t]);
    l2 += f[t] * f[t];
  }
  l2 = 2.0 * sqrt(l2);
  return l1 < l2 ? l1 : l2;
}

static double dot(size_t n, const double *a, const double *b)
{
  double s = 0.0;
  for (size_t j = 0; j < n; j++)
    s += a[j] * b[j];
  return s;
}

static int foe_constants(void *ctx, size_t sample, const double *theta,
                         const double *x, hyd_constants *out)
{
  const hyd_foe *fo;
  double *z;
  foe_work w;
  int st = foe_enter(ctx, sample, theta, x, out, x, &fo, &z, &w);
  if (st)
    return st;
  double *tmp = z + 3 * fo->no, *bt0 = tmp + fo->n, *U = bt0 + fo->n;
  pad_input(fo, x, w.xp);
  const double c3 = HYD_TV_PHI3_CONSTANT;
  double sx2 = 0.0;
  for (size_t r = 0; r < fo->H; r++)
    for (size_t c = 0; c < fo->W; c++) {
      double v = x[r * fo->W + c];
      sx2 += v * v * fo->mr[r] * fo->mc[c];
    }
  double Sx = sqrt(sx2);
  double L = 1.0, LA = 0.0, bsc2 = 0.0, bf2 = 0.0, lsum = 0.0, lsq = 0.0,
         lbf2 = 0.0;
  memset(bt0, 0, fo->n * sizeof *bt0);
  for (size_t k = 0; k < fo->K; k++) {
    const double *f = par_filter(fo, theta, k);
    double a = par_a(fo, theta, k), nu2 = par_nu2(fo, theta, k);
    double nu = sqrt(nu2);
    double kn2 = knorm2(fo, f, U), kn = sqrt(kn2);
    double R = row_norm_bound(fo, f);
    L += a * kn2 / nu;
    LA += a * kn2 * c3 / nu2 * R;
    double l = a * kn2 / nu;
    lsum += l;
    lsq += 2.0 * l * l;
    double lbf = a * kn * (2.0 * fo->ssum / nu + c3 * R * Sx / nu2);
    lbf2 += lbf * lbf;
    /* scalar columns exactly: a K^T phi' and -a K^T psi */
    correlate(fo, f, w.xp, z);
    double p2max = 0.0, p1n2 = 0.0;
    for (size_t j = 0; j < fo->no; j++) {
      double s2 = z[j] * z[j] + nu2, s = sqrt(s2);
      double p2 = nu2 / (s2 * s);
      p2max = p2 > p2max ? p2 : p2max;
      z[fo->no + j] = z[j] * p2; /* psi */
      z[j] /= s;                 /* phi' */
      p1n2 += z[j] * z[j];
    }
    memset(tmp, 0, fo->n * sizeof *tmp);
    correlate_adj_add(fo, f, z, tmp, &w);
    bsc2 += a * a * dot(fo->n, tmp, tmp);
    for (size_t j = 0; j < fo->n; j++)
      bt0[j] += a * tmp[j];
    memset(tmp, 0, fo->n * sizeof *tmp);
    correlate_adj_add(fo, f, z + fo->no, tmp, &w);
    bsc2 += a * a * dot(fo->n, tmp, tmp);
    double bf = a * (fo->ssum * sqrt(p1n2) + kn * p2max * Sx);
    bf2 += bf * bf;
  }
  bsc2 += dot(fo->n, bt0, bt0);
  out->mu = 1.0;
  out->L = L;
  out->Lg = 1.0;
  out->norm_B = FOE_NORM_SAFETY * sqrt(bsc2 + bf2);
  out->LB = sqrt(lsum * lsum + lsq + lbf2);
  out->LAinv = LA;
  out->certified = 1;
  if (!(isfinite(out->L) && isfinite(out->norm_B) && isfinite(out->LB) &&
        isfinite(out->LAinv)))
    return HYD_ENONFINITE;
  return HYD_OK;
}

/* ---- lifecycle ---- */

static size_t reflect(long t, size_t N)
{
  long last = (long)N - 1;
  if (t < 0)
    t = -t;
  if (t > last)
    t = 2 * last - t;
  return (size_t)t;
}

/* Index maps, multiplicities and the interior column range. */
static void foe_geometry(hyd_foe *fo)
{
  size_t fs = fo->fs;
  long pad = (long)fo->pad;
  memset(fo->Mr, 0, fo->H * fs * sizeof *fo->Mr);
  memset(fo->Mc, 0, fo->W * fs * sizeof *fo->Mc);
  for (size_t i = 0; i < fo->Ho; i++)
    for (size_t a = 0; a < fs; a++) {
      size_t r = reflect((long)(i + a) - pad, fo->H);
      fo->fwd_off[i * fs + a] = r * fo->Wp;
      fo->Mr[r * fs + a] += 1.0;
    }
  /* the transpose of that map, rows in order (counting sort) */
  memset(fo->adj_ptr, 0, (fo->H + 1) * sizeof *fo->adj_ptr);
  for (size_t q = 0; q < fo->Ho * fs; q++)
    fo->adj_ptr[fo->fwd_off[q] / fo->Wp + 1]++;
  for (size_t r = 0; r < fo->H; r++)
    fo->adj_ptr[r + 1] += fo->adj_ptr[r];
  for (size_t r = fo->H; r > 0; r--) /* adj_ptr[r] := start of row r */
    fo->adj_ptr[r] = fo->adj_ptr[r - 1];
  for (size_t q = 0; q < fo->Ho * fs; q++) {
    size_t r = fo->fwd_off[q] / fo->Wp, slot = fo->adj_ptr[r + 1]++;
    fo->adj_off[slot] = (q / fs) * fo->Wu;
    fo->adj_tap[slot] = q % fs;
  }
  for (size_t j = 0; j < fo->Wo; j++)
    for (size_t b = 0; b < fs; b++) {
      size_t c = reflect((long)(j + b) - pad, fo->W);
      fo->Mc[c * fs + b] += 1.0;
    }
  double sa = 0.0, sb = 0.0;
  for (size_t a = 0; a < fs; a++) {
    double ma = 0.0, mb = 0.0;
    for (size_t r = 0; r < fo->H; r++)
      ma = fo->Mr[r * fs + a] > ma ? fo->Mr[r * fs + a] : ma;
    for (size_t c = 0; c < fo->W; c++)
      mb = fo->Mc[c * fs + a] > mb ? fo->Mc[c * fs + a] : mb;
    sa += ma;
    sb += mb;
  }
  fo->ssum = sqrt(sa * sb);
  for (size_t r = 0; r < fo->H; r++) {
    fo->mr[r] = 0.0;
    for (size_t a = 0; a < fs; a++)
      fo->mr[r] += fo->Mr[r * fs + a];
  }
  for (size_t c = 0; c < fo->W; c++) {
    fo->mc[c] = 0.0;
    for (size_t b = 0; b < fs; b++)
      fo->mc[c] += fo->Mc[c * fs + b];
  }
}

static int all_finite(size_t n, const double *a)
{
  for (size_t j = 0; j < n; j++)
    if (!isfinite(a[j]))
      return 0;
  return 1;
}

static int foe_check_sizes(size_t m, size_t H, size_t W,
                           const hyd_foe_options *o, size_t *pad)
{
  size_t fs = o->filter_size;
  if (m == 0 || H == 0 || W == 0 || hyd_foe_n_theta(o) == 0)
    return HYD_EINVAL;
  *pad = o->pad == HYD_FOE_PAD_SAME ? fs / 2 : o->pad;
  if (*pad >= fs || *pad >= H || *pad >= W || H + 2 * *pad < fs ||
      W + 2 * *pad < fs || H > SIZE_MAX / W || m > SIZE_MAX / (H * W) ||
      H > (size_t)LONG_MAX / 2 || W > (size_t)LONG_MAX / 2)
    return HYD_EINVAL;
  return HYD_OK;
}

int hyd_foe_create(hyd_foe **out, size_t n_images, size_t height,
                   size_t width, const double *noisy, const double *clean,
                   const hyd_foe_options *opt, const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  hyd_foe_options o;
  hyd_foe_options_default(&o);
  if (opt)
    o = *opt;
  size_t pad;
  if (!noisy || !clean || foe_check_sizes(n_images, height, width, &o, &pad))
    return HYD_EINVAL;
  size_t n = height * width, total = n_images * n;
  if (!all_finite(total, noisy) || !all_finite(total, clean))
    return HYD_EINVAL;
  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  hyd_foe *fo = a.alloc(a.user, sizeof *fo);
  if (!fo)
    return HYD_ENOMEM;
  memset(fo, 0, sizeof *fo);
  fo->alloc = a;
  fo->m = n_images;
  fo->H = height;
  fo->W = width;
  fo->n = n;
  fo->K = o.n_filters;
  fo->fs = o.filter_size;
  fo->fs2 = o.filter_size * o.filter_size;
  fo->pad = pad;
  fo->Ho = height + 2 * pad + 1 - fo->fs;
  fo->Wo = width + 2 * pad + 1 - fo->fs;
  fo->no = fo->Ho * fo->Wo;
  fo->p = hyd_foe_n_theta(&o);
  fo->Wp = width + 2 * pad;
  fo->Wu = fo->Wo + 2 * (fo->fs - 1);
  fo->work = 2 * height * fo->Wp + fo->Ho * fo->Wu + fo->Wp;
  fo->stride = 3 * fo->no + 2 * n + height * fo->fs + fo->work;
  fo->fwd_off = hyd_alloc_array(&a, fo->Ho * fo->fs, sizeof(size_t));
  fo->adj_ptr = hyd_alloc_array(&a, height + 1, sizeof(size_t));
  fo->adj_off = hyd_alloc_array(&a, fo->Ho * fo->fs, sizeof(size_t));
  fo->adj_tap = hyd_alloc_array(&a, fo->Ho * fo->fs, sizeof(size_t));
  fo->Mr = hyd_alloc_array(&a, height * fo->fs, sizeof(double));
  fo->Mc = hyd_alloc_array(&a, width * fo->fs, sizeof(double));
  fo->mr = hyd_alloc_array(&a, height, sizeof(double));
  fo->mc = hyd_alloc_array(&a, width, sizeof(double));
  fo->noisy = hyd_alloc_array(&a, total, sizeof(double));
  fo->clean = hyd_alloc_array(&a, total, sizeof(double));
  /* m sample strides, then the public correlations' work set */
  fo->scratch = fo->stride > (SIZE_MAX - fo->work) / n_images
                    ? NULL
                    : hyd_alloc_array(&a, n_images * fo->stride + fo->work,
                                      sizeof(double));
  if (!fo->fwd_off || !fo->adj_ptr || !fo->adj_off || !fo->adj_tap ||
      !fo->Mr || !fo->Mc || !fo->mr ||
      !fo->mc || !fo->noisy || !fo->clean || !fo->scratch) {
    hyd_foe_destroy(fo);
    return HYD_ENOMEM;
  }
  memcpy(fo->noisy, noisy, total * sizeof(double));
  memcpy(fo->clean, clean, total * sizeof(double));
  foe_geometry(fo);

  hyd_problem *p = &fo->problem;
  p->version = HYD_PROBLEM_VERSION;
  p->n_theta = fo->p;
  p->n_samples = n_images;
  p->upper_convex = 1;
  p->ctx = fo;
  p->lower_dim = foe_lower_dim;
  p->lower_start = NULL;
  p->lower_grad = foe_lower_grad;
  p->lower_hvp = foe_lower_hvp;
  p->cross_tprod = foe_cross_tprod;
  p->cross_prod = foe_cross_prod;
  p->upper = foe_upper;
  p->constants = foe_constants;
  *out = fo;
  return HYD_OK;
}

void hyd_foe_destroy(hyd_foe *fo)
{
  if (!fo)
    return;
  hyd_allocator a = fo->alloc;
  hyd_free(&a, fo->fwd_off);
  hyd_free(&a, fo->adj_ptr);
  hyd_free(&a, fo->adj_off);
  hyd_free(&a, fo->adj_tap);
  hyd_free(&a, fo->Mr);
  hyd_free(&a, fo->Mc);
  hyd_free(&a, fo->mr);
  hyd_free(&a, fo->mc);
  hyd_free(&a, fo->noisy);
  hyd_free(&a, fo->clean);
  hyd_free(&a, fo->scratch);
  a.release(a.user, fo);
}

const hyd_problem *hyd_foe_problem(const hyd_foe *foe)
{
  return foe ? &foe->problem : NULL;
}

size_t hyd_foe_response_size(const hyd_foe *foe)
{
  return foe ? foe->no : 0;
}

int hyd_foe_correlate(const hyd_foe *foe, const double *filter,
                      const double *x, double *out)
{
  if (!foe || !filter || !x || !out)
    return HYD_EINVAL;
  foe_work w = foe_work_at(foe, foe->scratch + foe->m * foe->stride);
  pad_input(foe, x, w.xp);
  correlate(foe, filter, w.xp, out);
  return HYD_OK;
}

int hyd_foe_correlate_adjoint(const hyd_foe *foe, const double *filter,
                              const double *u, double *out)
{
  if (!foe || !filter || !u || !out)
    return HYD_EINVAL;
  foe_work w = foe_work_at(foe, foe->scratch + foe->m * foe->stride);
  memset(out, 0, foe->n * sizeof *out);
  correlate_adj_add(foe, filter, u, out, &w);
  return HYD_OK;
}
