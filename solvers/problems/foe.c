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
 * Correlations use precomputed index maps for the reflected borders and
 * plain contiguous loops inside, so that K and K^T are exact adjoints by
 * construction and the interior vectorises. */
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
  size_t jl, jr;     /* output columns [jl, jr) need no reflection */
  size_t *rowmap;    /* Ho x fs: input row of output row i, tap row a */
  size_t *colmap;    /* Wo x fs */
  double *Mr, *Mc;   /* H x fs, W x fs: how many outputs hit a row/col */
  double *mr, *mc;   /* their row sums: weights of x^2 in Sx^2 */
  double ssum;
  double *noisy, *clean;
  double *scratch;   /* m * stride */
  size_t stride;     /* 3 no + 2 n + H fs */
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

/* z = K x (overwrite), K the padded correlation with filter f. */
static void correlate(const hyd_foe *fo, const double *f, const double *x,
                      double *z)
{
  size_t fs = fo->fs, Wo = fo->Wo, W = fo->W, pad = fo->pad;
  memset(z, 0, fo->no * sizeof *z);
  for (size_t i = 0; i < fo->Ho; i++) {
    double *zi = z + i * Wo;
    for (size_t a = 0; a < fs; a++) {
      const double *xr = x + fo->rowmap[i * fs + a] * W;
      for (size_t b = 0; b < fs; b++) {
        double fab = f[a * fs + b];
        for (size_t j = 0; j < fo->jl; j++)
          zi[j] += fab * xr[fo->colmap[j * fs + b]];
        const double *xs = xr + b; /* xs[j - pad] = x(row, j - pad + b) */
        for (size_t j = fo->jl; j < fo->jr; j++)
          zi[j] += fab * xs[j - pad];
        for (size_t j = fo->jr; j < Wo; j++)
          zi[j] += fab * xr[fo->colmap[j * fs + b]];
      }
    }
  }
}

/* out += K^T u: the same index maps as correlate, read backwards. */
static void correlate_adj_add(const hyd_foe *fo, const double *f,
                              const double *u, double *out)
{
  size_t fs = fo->fs, Wo = fo->Wo, W = fo->W, pad = fo->pad;
  for (size_t i = 0; i < fo->Ho; i++) {
    const double *ui = u + i * Wo;
    for (size_t a = 0; a < fs; a++) {
      double *orow = out + fo->rowmap[i * fs + a] * W;
      for (size_t b = 0; b < fs; b++) {
        double fab = f[a * fs + b];
        for (size_t j = 0; j < fo->jl; j++)
          orow[fo->colmap[j * fs + b]] += fab * ui[j];
        double *os = orow + b;
        for (size_t j = fo->jl; j < fo->jr; j++)
          os[j - pad] += fab * ui[j];
        for (size_t j = fo->jr; j < Wo; j++)
          orow[fo->colmap[j * fs + b]] += fab * ui[j];
      }
    }
  }
}

/* G_ab += scale * <r, S_ab x>: the gradient of <r, K x> in the filter. */
static void filter_grad_add(const hyd_foe *fo, const double *r,
                            const double *x, double scale, double *G)
{
  size_t fs = fo->fs, Wo = fo->Wo, W = fo->W, pad = fo->pad;
  for (size_t i = 0; i < fo->Ho; i++) {
    const double *ri = r + i * Wo;
    for (size_t a = 0; a < fs; a++) {
      const double *xr = x + fo->rowmap[i * fs + a] * W;
      for (size_t b = 0; b < fs; b++) {
        double s = 0.0;
        for (size_t j = 0; j < fo->jl; j++)
          s += ri[j] * xr[fo->colmap[j * fs + b]];
        const double *xs = xr + b;
        for (size_t j = fo->jl; j < fo->jr; j++)
          s += ri[j] * xs[j - pad];
        for (size_t j = fo->jr; j < Wo; j++)
          s += ri[j] * xr[fo->colmap[j * fs + b]];
        G[a * fs + b] += scale * s;
      }
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

static int foe_enter(void *ctx, size_t sample, const double *theta,
                     const void *a, const void *b, const void *c,
                     const hyd_foe **fo, double **scratch)
{
  *fo = ctx;
  if (sample >= (*fo)->m || !a || !b || !c || !foe_theta_ok(*fo, theta))
    return HYD_EINVAL;
  *scratch = (*fo)->scratch + sample * (*fo)->stride;
  return HYD_OK;
}

/* ---- callbacks ---- */

static size_t foe_lower_dim(void *ctx, size_t sample)
{
  const hyd_foe *fo = ctx;
  return sample < fo->m ? fo->n : 0;
}

static int foe_lower_grad(void *ctx, size_t sample, const double *theta,
                          const double *x, double *value, double *grad)
{
  const hyd_foe *fo;
  double *z;
  int st = foe_enter(ctx, sample, theta, x, grad, x, &fo, &z);
  if (st)
    return st;
  const double *y = fo->noisy + sample * fo->n;
  double fit = 0.0, reg = 0.0;
  for (size_t j = 0; j < fo->n; j++) {
    grad[j] = x[j] - y[j];
    fit += grad[j] * grad[j];
  }
  for (size_t k = 0; k < fo->K; k++) {
    double a = par_a(fo, theta, k), nu2 = par_nu2(fo, theta, k), sum = 0.0;
    correlate(fo, par_filter(fo, theta, k), x, z);
    for (size_t j = 0; j < fo->no; j++) {
      double s = sqrt(z[j] * z[j] + nu2);
      sum += s;
      z[j] = a * z[j] / s;
    }
    reg += a * sum;
    correlate_adj_add(fo, par_filter(fo, theta, k), z, grad);
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
  int st = foe_enter(ctx, sample, theta, x, v, out, &fo, &z);
  if (st)
    return st;
  double *u = z + fo->no;
  memcpy(out, v, fo->n * sizeof *out);
  for (size_t k = 0; k < fo->K; k++) {
    const double *f = par_filter(fo, theta, k);
    double a = par_a(fo, theta, k), nu2 = par_nu2(fo, theta, k);
    correlate(fo, f, x, z);
    correlate(fo, f, v, u);
    for (size_t j = 0; j < fo->no; j++) {
      double s2 = z[j] * z[j] + nu2;
      u[j] *= a * nu2 / (s2 * sqrt(s2));
    }
    correlate_adj_add(fo, f, u, out);
  }
  return HYD_OK;
}

static int foe_cross_tprod(void *ctx, size_t sample, const double *theta,
                           const double *x, const double *q, double *out)
{
  const hyd_foe *fo;
  double *z;
  int st = foe_enter(ctx, sample, theta, x, q, out, &fo, &z);
  if (st)
    return st;
  double *u = z + fo->no;
  size_t K = fo->K;
  memset(out, 0, fo->p * sizeof *out);
  for (size_t k = 0; k < K; k++) {
    const double *f = par_filter(fo, theta, k);
    double a = par_a(fo, theta, k), nu2 = par_nu2(fo, theta, k);
    correlate(fo, f, x, z);
    correlate(fo, f, q, u);
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
    filter_grad_add(fo, u, x, a, G);
    filter_grad_add(fo, z, q, a, G);
  }
  return HYD_OK;
}

static int foe_cross_prod(void *ctx, size_t sample, const double *theta,
                          const double *x, const double *w, double *out)
{
  const hyd_foe *fo;
  double *z;
  int st = foe_enter(ctx, sample, theta, x, w, out, &fo, &z);
  if (st)
    return st;
  double *d = z + fo->no, *r = d + fo->no;
  size_t K = fo->K;
  memset(out, 0, fo->n * sizeof *out);
  for (size_t k = 0; k < K; k++) {
    const double *f = par_filter(fo, theta, k);
    const double *wf = w + 1 + 2 * K + k * fo->fs2;
    double a = par_a(fo, theta, k), nu2 = par_nu2(fo, theta, k);
    double c1 = w[0] + w[1 + k], c2 = w[1 + K + k];
    correlate(fo, f, x, z);
    correlate(fo, wf, x, d);
    for (size_t j = 0; j < fo->no; j++) {
      double s2 = z[j] * z[j] + nu2, s = sqrt(s2);
      double p2 = nu2 / (s2 * s);
      r[j] = a * (c1 * z[j] / s - c2 * z[j] * p2 + p2 * d[j]);
      z[j] = a * z[j] / s;
    }
    correlate_adj_add(fo, f, r, out);
    correlate_adj_add(fo, wf, z, out);
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
  int st = foe_enter(ctx, sample, theta, x, out, x, &fo, &z);
  if (st)
    return st;
  double *tmp = z + 3 * fo->no, *bt0 = tmp + fo->n, *U = bt0 + fo->n;
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
    correlate(fo, f, x, z);
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
    correlate_adj_add(fo, f, z, tmp);
    bsc2 += a * a * dot(fo->n, tmp, tmp);
    for (size_t j = 0; j < fo->n; j++)
      bt0[j] += a * tmp[j];
    memset(tmp, 0, fo->n * sizeof *tmp);
    correlate_adj_add(fo, f, z + fo->no, tmp);
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
      fo->rowmap[i * fs + a] = r;
      fo->Mr[r * fs + a] += 1.0;
    }
  for (size_t j = 0; j < fo->Wo; j++)
    for (size_t b = 0; b < fs; b++) {
      size_t c = reflect((long)(j + b) - pad, fo->W);
      fo->colmap[j * fs + b] = c;
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
  /* output column j reads input columns j - pad .. j - pad + fs - 1 */
  fo->jl = fo->pad < fo->Wo ? fo->pad : fo->Wo;
  size_t hi = fo->W + fo->pad + 1 >= fs ? fo->W + fo->pad + 1 - fs : 0;
  hi = hi < fo->Wo ? hi : fo->Wo;
  fo->jr = hi > fo->jl ? hi : fo->jl;
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
  fo->stride = 3 * fo->no + 2 * n + height * fo->fs;
  fo->rowmap = hyd_alloc_array(&a, fo->Ho * fo->fs, sizeof(size_t));
  fo->colmap = hyd_alloc_array(&a, fo->Wo * fo->fs, sizeof(size_t));
  fo->Mr = hyd_alloc_array(&a, height * fo->fs, sizeof(double));
  fo->Mc = hyd_alloc_array(&a, width * fo->fs, sizeof(double));
  fo->mr = hyd_alloc_array(&a, height, sizeof(double));
  fo->mc = hyd_alloc_array(&a, width, sizeof(double));
  fo->noisy = hyd_alloc_array(&a, total, sizeof(double));
  fo->clean = hyd_alloc_array(&a, total, sizeof(double));
  fo->scratch = fo->stride > SIZE_MAX / n_images
                    ? NULL
                    : hyd_alloc_array(&a, n_images * fo->stride,
                                      sizeof(double));
  if (!fo->rowmap || !fo->colmap || !fo->Mr || !fo->Mc || !fo->mr ||
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
  hyd_free(&a, fo->rowmap);
  hyd_free(&a, fo->colmap);
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
  correlate(foe, filter, x, out);
  return HYD_OK;
}

int hyd_foe_correlate_adjoint(const hyd_foe *foe, const double *filter,
                              const double *u, double *out)
{
  if (!foe || !filter || !u || !out)
    return HYD_EINVAL;
  memset(out, 0, foe->n * sizeof *out);
  correlate_adj_add(foe, filter, u, out);
  return HYD_OK;
}
