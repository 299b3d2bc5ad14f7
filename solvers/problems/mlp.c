/* One-hidden-layer perceptron with companded weights (hyperd/mlp.h).
 *
 * Per row (x, y), with z = tanh(W1^T x), o = W2^T z, p = softmax(o),
 * r = (p - onehot(y)) / n:
 *   grad W2 += z r^T,  dz = W2 r,  grad W1 += x (dz .* (1 - z^2))^T.
 * Hessian-vector product by the R-operator (Pearlmutter 1994), direction
 * V = (V1, V2), R{.} the directional derivative:
 *   R{z} = (1 - z^2) .* (V1^T x),  R{o} = V2^T z + W2^T R{z},
 *   R{r} = (p .* (R{o} - p.R{o})) / n,
 *   out2 += R{z} r^T + z R{r}^T,
 *   out1 += x (R{dz} .* (1 - z^2) - 2 z .* R{z} .* dz)^T,
 *   R{dz} = V2 r + W2 R{r}.
 * The penalty is the compander's (compander_penalty.h), diagonal, and the
 * only part of h that depends on theta, so B is the same as for the
 * companded logistic regression.
 *
 * Data-term curvature bound at W (used for the estimates L and Lg): the
 * Hessian of CE(o(W)) for one row is J^T S(p) J + sum_c r_c Hess o_c with
 * J = do/dW. S(p) <= I/2; ||J||^2 <= ||z||^2 + ||x||^2 ||W2||_F^2 (the W2
 * block maps V2 to V2^T z, the W1 block is W2^T diag(1 - z^2) V1^T x).
 * sum_c r_c Hess o_c has a W1-W2 block diagonal in h with blocks
 * (1 - z_h^2) x r^T (norm <= max_h (1 - z_h^2) ||x|| ||r||) and a W1-W1
 * block diagonal in h with blocks (W2 r)_h tanh''(a_h) x x^T,
 * tanh'' = -2 z (1 - z^2). Their sum bounds ||Hess|| at W; not along a
 * path, hence an estimate. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <hyperd/mlp.h>

#include "compander_penalty.h"
#include "internal.h"

/* Step of the finite difference that estimates the data term's Hessian
 * Lipschitz constant. */
#define MLP_FD_STEP 1e-3

typedef struct mlp_fold {
  size_t *train, *val;
  size_t n_train, n_val;
  double *Z;       /* n_train x H activations at W_cache */
  double *P;       /* n_train x C probabilities at W_cache */
  double *W_cache; /* n */
  int cache_valid;
  double *s;       /* 4 H + 4 C scratch */
  double *th;      /* 5 G: a, kappa, then 3 G (gram / umax) */
  double *fd;      /* 3 n: W + h u, A u at both points */
} mlp_fold;

struct hyd_mlp {
  hyd_problem problem;
  hyd_allocator alloc;
  size_t rows, d, H, C, n1, n, G, K;
  int grouping;
  hyd_psi psi;
  double l2;
  const double *X;
  const int *labels;
  double *X_own;
  int *labels_own;
  double *start; /* n: the seeded start */
  double *dir;   /* n: seeded unit direction of the finite difference */
  mlp_fold *folds;
};

void hyd_mlp_options_default(hyd_mlp_options *o)
{
  if (!o)
    return;
  o->hidden = 32;
  o->grouping = HYD_MLP_PER_LAYER;
  o->cutoff_tan2 = 100.0;
  o->l2 = 0.0;
  o->init_scale = 1.0;
  o->seed = 0;
  o->flags = 0;
}

size_t hyd_mlp_n_groups(const hyd_mlp_options *o)
{
  if (!o || o->hidden == 0)
    return 0;
  switch (o->grouping) {
  case HYD_MLP_SCALAR:
    return 1;
  case HYD_MLP_PER_LAYER:
    return 2;
  case HYD_MLP_PER_UNIT:
    return o->hidden;
  default:
    return 0;
  }
}

/* Group of weight k of x = [W1, W2]. */
static size_t group_of(const hyd_mlp *m, size_t k)
{
  int second = k >= m->n1;
  size_t h = second ? (k - m->n1) / m->C : k % m->H;
  switch (m->grouping) {
  case HYD_MLP_SCALAR:
    return 0;
  case HYD_MLP_PER_LAYER:
    return (size_t)second;
  default:
    return h;
  }
}

/* ---- seeded start (splitmix64 and Box-Muller: no allocation, the same
 * numbers on every platform) ---- */

static uint64_t splitmix64(uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double gaussian(uint64_t *state)
{
  /* uniforms in (0, 1]: 53 random bits, never 0 */
  double u1 = ((double)(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
  double u2 = (double)(splitmix64(state) >> 11) * 0x1.0p-53;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void draw_start(hyd_mlp *m, const hyd_mlp_options *o)
{
  uint64_t state = (uint64_t)o->seed;
  double s1 = o->init_scale / sqrt((double)m->d);
  double s2 = o->init_scale / sqrt((double)m->H);
  for (size_t k = 0; k < m->n; k++)
    m->start[k] = (k < m->n1 ? s1 : s2) * gaussian(&state);
  double nrm = 0.0;
  for (size_t k = 0; k < m->n; k++) {
    m->dir[k] = gaussian(&state);
    nrm += m->dir[k] * m->dir[k];
  }
  nrm = sqrt(nrm);
  for (size_t k = 0; k < m->n; k++)
    m->dir[k] /= nrm;
}

/* ---- data kernels ---- */

/* z = tanh(W1^T x) (H), o = W2^T z (C); returns log sum exp(o). */
static double forward(const hyd_mlp *m, const double *x, const double *W,
                      double *z, double *o)
{
  size_t H = m->H, C = m->C;
  const double *W2 = W + m->n1;
  for (size_t h = 0; h < H; h++)
    z[h] = 0.0;
  for (size_t j = 0; j < m->d; j++) {
    double xj = x[j];
    const double *W1j = W + j * H;
    for (size_t h = 0; h < H; h++)
      z[h] += xj * W1j[h];
  }
  for (size_t h = 0; h < H; h++)
    z[h] = tanh(z[h]);
  for (size_t c = 0; c < C; c++)
    o[c] = 0.0;
  for (size_t h = 0; h < H; h++)
    for (size_t c = 0; c < C; c++)
      o[c] += z[h] * W2[h * C + c];
  double mx = o[0];
  for (size_t c = 1; c < C; c++)
    mx = o[c] > mx ? o[c] : mx;
  double sum = 0.0;
  for (size_t c = 0; c < C; c++)
    sum += exp(o[c] - mx);
  return mx + log(sum);
}

/* Mean CE over the rows idx (divided by div); if grad, its gradient
 * (overwritten); if Z and P, the activations and probabilities row by
 * row. s: 2 H + C scratch. */
static double data_pass(const hyd_mlp *m, const size_t *idx, size_t cnt,
                        double div, const double *W, double *s, double *Z,
                        double *P, double *grad)
{
  size_t d = m->d, H = m->H, C = m->C;
  const double *W2 = W + m->n1;
  double *o = s, *dz = s + C, *zs = s + C + H;
  double inv_n = 1.0 / div, loss = 0.0;
  if (grad)
    memset(grad, 0, m->n * sizeof *grad);
  for (size_t i = 0; i < cnt; i++) {
    const double *x = m->X + idx[i] * d;
    size_t y = (size_t)m->labels[idx[i]];
    double *z = Z ? Z + i * H : zs;
    double lse = forward(m, x, W, z, o);
    loss += lse - o[y];
    for (size_t c = 0; c < C; c++)
      o[c] = exp(o[c] - lse);
    if (P)
      memcpy(P + i * C, o, C * sizeof *o);
    if (!grad)
      continue;
    o[y] -= 1.0;
    for (size_t c = 0; c < C; c++)
      o[c] *= inv_n;
    double *g1 = grad, *g2 = grad + m->n1;
    for (size_t h = 0; h < H; h++) {
      double acc = 0.0;
      for (size_t c = 0; c < C; c++) {
        g2[h * C + c] += z[h] * o[c];
        acc += W2[h * C + c] * o[c];
      }
      dz[h] = acc * (1.0 - z[h] * z[h]);
    }
    for (size_t j = 0; j < d; j++) {
      double xj = x[j];
      for (size_t h = 0; h < H; h++)
        g1[j * H + h] += xj * dz[h];
    }
  }
  return loss * inv_n;
}

/* Makes the fold's Z, P those of W (one data pass unless cached; the key
 * is W's exact bit pattern). */
static void ensure_cache(const hyd_mlp *m, mlp_fold *f, const double *W)
{
  if (f->cache_valid && memcmp(f->W_cache, W, m->n * sizeof *W) == 0)
    return;
  data_pass(m, f->train, f->n_train, 1.0, W, f->s, f->Z, f->P, NULL);
  memcpy(f->W_cache, W, m->n * sizeof *W);
  f->cache_valid = 1;
}

/* out = Hessian of the data term at W times V (overwritten). */
static void data_hvp(const hyd_mlp *m, mlp_fold *f, const double *W,
                     const double *V, double *out)
{
  ensure_cache(m, f, W);
  size_t d = m->d, H = m->H, C = m->C;
  const double *W2 = W + m->n1, *V1 = V, *V2 = V + m->n1;
  double *o1 = out, *o2 = out + m->n1;
  double *rz = f->s, *rda = rz + H, *ro = rda + H, *rr = ro + C, *r = rr + C;
  double inv_n = 1.0 / (double)f->n_train;
  memset(out, 0, m->n * sizeof *out);
  for (size_t i = 0; i < f->n_train; i++) {
    const double *x = m->X + f->train[i] * d;
    const double *z = f->Z + i * H, *p = f->P + i * C;
    size_t y = (size_t)m->labels[f->train[i]];
    for (size_t h = 0; h < H; h++)
      rz[h] = 0.0;
    for (size_t j = 0; j < d; j++) {
      double xj = x[j];
      const double *V1j = V1 + j * H;
      for (size_t h = 0; h < H; h++)
        rz[h] += xj * V1j[h];
    }
    for (size_t h = 0; h < H; h++)
      rz[h] *= 1.0 - z[h] * z[h];
    for (size_t c = 0; c < C; c++)
      ro[c] = 0.0;
    for (size_t h = 0; h < H; h++)
      for (size_t c = 0; c < C; c++)
        ro[c] += z[h] * V2[h * C + c] + rz[h] * W2[h * C + c];
    double pro = 0.0;
    for (size_t c = 0; c < C; c++)
      pro += p[c] * ro[c];
    for (size_t c = 0; c < C; c++) {
      rr[c] = p[c] * (ro[c] - pro) * inv_n;
      r[c] = (p[c] - (c == y ? 1.0 : 0.0)) * inv_n;
    }
    for (size_t h = 0; h < H; h++) {
      double dz = 0.0, rdz = 0.0;
      for (size_t c = 0; c < C; c++) {
        size_t k = h * C + c;
        o2[k] += rz[h] * r[c] + z[h] * rr[c];
        dz += W2[k] * r[c];
        rdz += V2[k] * r[c] + W2[k] * rr[c];
      }
      double s2 = 1.0 - z[h] * z[h];
      rda[h] = rdz * s2 - 2.0 * z[h] * rz[h] * dz;
    }
    for (size_t j = 0; j < d; j++) {
      double xj = x[j];
      for (size_t h = 0; h < H; h++)
        o1[j * H + h] += xj * rda[h];
    }
  }
}

/* The bound of the data term's Hessian norm at W over the rows idx (see
 * the top of the file). s: 2 H + C scratch. */
static double curvature_bound(const hyd_mlp *m, const size_t *idx, size_t cnt,
                              const double *W, double *s)
{
  size_t d = m->d, H = m->H, C = m->C;
  const double *W2 = W + m->n1;
  double *z = s, *o = s + H;
  double w2 = 0.0;
  for (size_t k = 0; k < H * C; k++)
    w2 += W2[k] * W2[k];
  double total = 0.0;
  for (size_t i = 0; i < cnt; i++) {
    const double *x = m->X + idx[i] * d;
    size_t y = (size_t)m->labels[idx[i]];
    double lse = forward(m, x, W, z, o);
    double xn2 = 0.0, zn2 = 0.0, rn2 = 0.0, cross = 0.0, second = 0.0;
    for (size_t j = 0; j < d; j++)
      xn2 += x[j] * x[j];
    for (size_t c = 0; c < C; c++) {
      o[c] = exp(o[c] - lse) - (c == y ? 1.0 : 0.0);
      rn2 += o[c] * o[c];
    }
    for (size_t h = 0; h < H; h++) {
      double s2 = 1.0 - z[h] * z[h], wr = 0.0;
      for (size_t c = 0; c < C; c++)
        wr += W2[h * C + c] * o[c];
      zn2 += z[h] * z[h];
      cross = s2 > cross ? s2 : cross;
      double t = fabs(wr) * 2.0 * fabs(z[h]) * s2;
      second = t > second ? t : second;
    }
    total += 0.5 * (zn2 + xn2 * w2) + cross * sqrt(xn2 * rn2) + xn2 * second;
  }
  return total / (double)cnt;
}

/* ---- callbacks ---- */

/* a_g, kappa_g into e (2 G); HYD_EINVAL unless positive and finite. */
static int exp_theta(const hyd_mlp *m, const double *theta, double *e)
{
  if (!theta)
    return HYD_EINVAL;
  for (size_t g = 0; g < 2 * m->G; g++) {
    e[g] = exp(theta[g]);
    if (!(isfinite(e[g]) && e[g] > 0.0))
      return HYD_EINVAL;
  }
  return HYD_OK;
}

/* Common entry: the object, the fold, the arrays the callback needs, and
 * (if theta is given) the group parameters in the fold's scratch. */
static int enter(void *ctx, size_t sample, int want_theta, const double *theta,
                 const void *a, const void *b, const void *c, hyd_mlp **m,
                 mlp_fold **f)
{
  *m = ctx;
  if (sample >= (*m)->K || !a || !b || !c)
    return HYD_EINVAL;
  *f = &(*m)->folds[sample];
  return want_theta ? exp_theta(*m, theta, (*f)->th) : HYD_OK;
}

static void penalty_terms(const hyd_mlp *m, const double *e, size_t k,
                          double w, hyd_psi_terms *t)
{
  size_t g = group_of(m, k);
  hyd_psi_terms_at(&m->psi, e[g], e[m->G + g], m->l2, w, t);
}

static size_t mlp_lower_dim(void *ctx, size_t sample)
{
  const hyd_mlp *m = ctx;
  return sample < m->K ? m->n : 0;
}

static int mlp_lower_start(void *ctx, size_t sample, const double *theta,
                           double *x)
{
  hyd_mlp *m;
  mlp_fold *f;
  int st = enter(ctx, sample, 0, theta, x, x, x, &m, &f);
  if (st)
    return st;
  memcpy(x, m->start, m->n * sizeof *x);
  return HYD_OK;
}

static int mlp_lower_grad(void *ctx, size_t sample, const double *theta,
                          const double *W, double *value, double *grad)
{
  hyd_mlp *m;
  mlp_fold *f;
  int st = enter(ctx, sample, 1, theta, W, grad, W, &m, &f);
  if (st)
    return st;
  double loss = data_pass(m, f->train, f->n_train, (double)f->n_train, W,
                          f->s, f->Z, f->P, grad);
  memcpy(f->W_cache, W, m->n * sizeof *W);
  f->cache_valid = 1;
  hyd_psi_terms t;
  for (size_t k = 0; k < m->n; k++) {
    penalty_terms(m, f->th, k, W[k], &t);
    grad[k] += t.d1;
    loss += t.v;
  }
  if (value)
    *value = loss;
  return HYD_OK;
}

static int mlp_lower_hvp(void *ctx, size_t sample, const double *theta,
                         const double *W, const double *V, double *out)
{
  hyd_mlp *m;
  mlp_fold *f;
  int st = enter(ctx, sample, 1, theta, W, V, out, &m, &f);
  if (st)
    return st;
  data_hvp(m, f, W, V, out);
  hyd_psi_terms t;
  for (size_t k = 0; k < m->n; k++) {
    penalty_terms(m, f->th, k, W[k], &t);
    out[k] += t.d2 * V[k];
  }
  return HYD_OK;
}

static int mlp_cross_tprod(void *ctx, size_t sample, const double *theta,
                           const double *W, const double *q, double *out)
{
  hyd_mlp *m;
  mlp_fold *f;
  int st = enter(ctx, sample, 1, theta, W, q, out, &m, &f);
  if (st)
    return st;
  memset(out, 0, 2 * m->G * sizeof *out);
  hyd_psi_terms t;
  for (size_t k = 0; k < m->n; k++) {
    size_t g = group_of(m, k);
    penalty_terms(m, f->th, k, W[k], &t);
    out[g] += t.da * q[k];
    out[m->G + g] += t.dk * q[k];
  }
  return HYD_OK;
}

static int mlp_cross_prod(void *ctx, size_t sample, const double *theta,
                          const double *W, const double *v, double *out)
{
  hyd_mlp *m;
  mlp_fold *f;
  int st = enter(ctx, sample, 1, theta, W, v, out, &m, &f);
  if (st)
    return st;
  hyd_psi_terms t;
  for (size_t k = 0; k < m->n; k++) {
    size_t g = group_of(m, k);
    penalty_terms(m, f->th, k, W[k], &t);
    out[k] = t.da * v[g] + t.dk * v[m->G + g];
  }
  return HYD_OK;
}

static int mlp_upper(void *ctx, size_t sample, const double *W, double *value,
                     double *grad)
{
  hyd_mlp *m;
  mlp_fold *f;
  int st = enter(ctx, sample, 0, NULL, W, value, W, &m, &f);
  if (st)
    return st;
  *value = data_pass(m, f->val, f->n_val, (double)f->n_val, W, f->s, NULL,
                     NULL, grad);
  return HYD_OK;
}

/* ||A(W + h u) u - A(W) u|| / h for the data term, u the seeded unit
 * direction; leaves the cache at W. */
static double hessian_change(const hyd_mlp *m, mlp_fold *f, const double *W)
{
  double *Wt = f->fd, *A1 = Wt + m->n, *A0 = A1 + m->n;
  for (size_t k = 0; k < m->n; k++)
    Wt[k] = W[k] + MLP_FD_STEP * m->dir[k];
  data_hvp(m, f, Wt, m->dir, A1);
  data_hvp(m, f, W, m->dir, A0);
  double s = 0.0;
  for (size_t k = 0; k < m->n; k++)
    s += (A1[k] - A0[k]) * (A1[k] - A0[k]);
  return sqrt(s) / MLP_FD_STEP;
}

static int mlp_constants(void *ctx, size_t sample, const double *theta,
                         const double *W, hyd_constants *out)
{
  hyd_mlp *m;
  mlp_fold *f;
  int st = enter(ctx, sample, 1, theta, W, out, W, &m, &f);
  if (st)
    return st;
  size_t G = m->G;
  const double *e = f->th;
  double *gram = f->th + 2 * G;
  hyd_psi_terms t;
  memset(gram, 0, 3 * G * sizeof *gram);
  for (size_t k = 0; k < m->n; k++) {
    size_t g = group_of(m, k);
    penalty_terms(m, e, k, W[k], &t);
    gram[g] += t.da * t.da;
    gram[G + g] += t.da * t.dk;
    gram[2 * G + g] += t.dk * t.dk;
  }
  out->norm_B = hyd_psi_norm_B(G, gram);
  double *umax = gram; /* reused */
  for (size_t g = 0; g < G; g++)
    umax[g] = 0.0;
  for (size_t k = 0; k < m->n; k++) {
    size_t g = group_of(m, k);
    double u = fabs(W[k]) / e[g];
    umax[g] = u > umax[g] ? u : umax[g];
  }
  double mu = INFINITY, Lp = 0.0, LB = 0.0, LAp = 0.0;
  for (size_t g = 0; g < G; g++) {
    double lo, hi, lb, la;
    hyd_psi_group_bounds(&m->psi, e[g], e[G + g], m->l2, umax[g], &lo, &hi,
                         &lb, &la);
    mu = lo < mu ? lo : mu;
    Lp = hi > Lp ? hi : Lp;
    LB = lb > LB ? lb : LB;
    LAp = la > LAp ? la : LAp;
  }
  double LA = LAp + hessian_change(m, f, W);
  out->mu = mu;
  out->L = curvature_bound(m, f->train, f->n_train, W, f->s) + Lp;
  out->Lg = curvature_bound(m, f->val, f->n_val, W, f->s);
  out->LB = LB;
  out->LAinv = LA / (mu * mu);
  out->certified = 0;
  if (!(isfinite(out->L) && isfinite(out->Lg) && isfinite(out->norm_B) &&
        isfinite(out->LB) && isfinite(out->LAinv) && mu > 0.0))
    return HYD_ENONFINITE;
  return HYD_OK;
}

/* ---- lifecycle ---- */

static int indices_ok(const size_t *idx, size_t cnt, size_t rows)
{
  if (!idx || cnt == 0)
    return 0;
  for (size_t i = 0; i < cnt; i++)
    if (idx[i] >= rows)
      return 0;
  return 1;
}

static int validate(size_t rows, size_t d, size_t C, const double *X,
                    const int *labels, size_t K, const hyd_logistic_fold *folds,
                    const hyd_mlp_options *o)
{
  size_t H = o->hidden;
  if (!X || !labels || !folds || rows == 0 || d == 0 || C < 2 || K == 0 ||
      hyd_mlp_n_groups(o) == 0 || (o->flags & ~(unsigned)HYD_MLP_BORROW_DATA) ||
      !(isfinite(o->l2) && o->l2 >= 0.0) ||
      !(isfinite(o->init_scale) && o->init_scale > 0.0) ||
      C > (size_t)INT32_MAX || d > SIZE_MAX / 8 / H - C ||
      rows > SIZE_MAX / d / sizeof(double) || H > SIZE_MAX / 8 / C)
    return HYD_EINVAL;
  for (size_t i = 0; i < rows; i++)
    if (labels[i] < 0 || (size_t)labels[i] >= C)
      return HYD_EINVAL;
  for (size_t i = 0; i < rows * d; i++)
    if (!isfinite(X[i]))
      return HYD_EINVAL;
  for (size_t k = 0; k < K; k++)
    if (!indices_ok(folds[k].train, folds[k].n_train, rows) ||
        !indices_ok(folds[k].val, folds[k].n_val, rows) ||
        folds[k].n_train > SIZE_MAX / sizeof(double) / (H > C ? H : C))
      return HYD_EINVAL;
  return HYD_OK;
}

static int fold_init(hyd_mlp *m, mlp_fold *f, const hyd_logistic_fold *src)
{
  const hyd_allocator *a = &m->alloc;
  f->n_train = src->n_train;
  f->n_val = src->n_val;
  f->train = hyd_alloc_array(a, src->n_train, sizeof(size_t));
  f->val = hyd_alloc_array(a, src->n_val, sizeof(size_t));
  f->Z = hyd_alloc_array(a, src->n_train, m->H * sizeof(double));
  f->P = hyd_alloc_array(a, src->n_train, m->C * sizeof(double));
  f->W_cache = hyd_alloc_array(a, m->n, sizeof(double));
  f->s = hyd_alloc_array(a, 4 * (m->H + m->C), sizeof(double));
  f->th = hyd_alloc_array(a, 5 * m->G, sizeof(double));
  f->fd = hyd_alloc_array(a, 3 * m->n, sizeof(double));
  if (!f->train || !f->val || !f->Z || !f->P || !f->W_cache || !f->s ||
      !f->th || !f->fd)
    return HYD_ENOMEM;
  memcpy(f->train, src->train, src->n_train * sizeof(size_t));
  memcpy(f->val, src->val, src->n_val * sizeof(size_t));
  return HYD_OK;
}

int hyd_mlp_create(hyd_mlp **out, size_t rows, size_t d, size_t n_classes,
                   const double *X, const int *labels, size_t n_folds,
                   const hyd_logistic_fold *folds, const hyd_mlp_options *opt,
                   const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  hyd_mlp_options o;
  hyd_mlp_options_default(&o);
  if (opt)
    o = *opt;
  hyd_psi psi;
  int st = validate(rows, d, n_classes, X, labels, n_folds, folds, &o);
  if (st || hyd_psi_init(&psi, o.cutoff_tan2) != HYD_OK)
    return HYD_EINVAL;
  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  hyd_mlp *m = a.alloc(a.user, sizeof *m);
  if (!m)
    return HYD_ENOMEM;
  memset(m, 0, sizeof *m);
  m->alloc = a;
  m->rows = rows;
  m->d = d;
  m->H = o.hidden;
  m->C = n_classes;
  m->n1 = d * o.hidden;
  m->n = (d + n_classes) * o.hidden;
  m->G = hyd_mlp_n_groups(&o);
  m->K = n_folds;
  m->grouping = o.grouping;
  m->psi = psi;
  m->l2 = o.l2;
  m->start = hyd_alloc_array(&a, m->n, sizeof(double));
  m->dir = hyd_alloc_array(&a, m->n, sizeof(double));
  m->folds = hyd_alloc_array(&a, n_folds, sizeof *m->folds);
  if (m->folds)
    memset(m->folds, 0, n_folds * sizeof *m->folds);
  if (!m->start || !m->dir || !m->folds) {
    hyd_mlp_destroy(m);
    return HYD_ENOMEM;
  }
  if (o.flags & HYD_MLP_BORROW_DATA) {
    m->X = X;
    m->labels = labels;
  } else {
    m->X_own = hyd_alloc_array(&a, rows * d, sizeof(double));
    m->labels_own = hyd_alloc_array(&a, rows, sizeof(int));
    if (!m->X_own || !m->labels_own) {
      hyd_mlp_destroy(m);
      return HYD_ENOMEM;
    }
    memcpy(m->X_own, X, rows * d * sizeof(double));
    memcpy(m->labels_own, labels, rows * sizeof(int));
    m->X = m->X_own;
    m->labels = m->labels_own;
  }
  for (size_t k = 0; k < n_folds; k++)
    if ((st = fold_init(m, &m->folds[k], &folds[k])) != HYD_OK) {
      hyd_mlp_destroy(m);
      return st;
    }
  draw_start(m, &o);
  hyd_problem *p = &m->problem;
  p->version = HYD_PROBLEM_VERSION;
  p->n_theta = 2 * m->G;
  p->n_samples = n_folds;
  p->upper_convex = 0;
  p->lower_nonconvex = 1;
  p->ctx = m;
  p->lower_dim = mlp_lower_dim;
  p->lower_start = mlp_lower_start;
  p->lower_grad = mlp_lower_grad;
  p->lower_hvp = mlp_lower_hvp;
  p->cross_tprod = mlp_cross_tprod;
  p->cross_prod = mlp_cross_prod;
  p->upper = mlp_upper;
  p->constants = mlp_constants;
  *out = m;
  return HYD_OK;
}

void hyd_mlp_destroy(hyd_mlp *m)
{
  if (!m)
    return;
  hyd_allocator a = m->alloc;
  if (m->folds) {
    for (size_t k = 0; k < m->K; k++) {
      mlp_fold *f = &m->folds[k];
      hyd_free(&a, f->train);
      hyd_free(&a, f->val);
      hyd_free(&a, f->Z);
      hyd_free(&a, f->P);
      hyd_free(&a, f->W_cache);
      hyd_free(&a, f->s);
      hyd_free(&a, f->th);
      hyd_free(&a, f->fd);
    }
    hyd_free(&a, m->folds);
  }
  hyd_free(&a, m->start);
  hyd_free(&a, m->dir);
  hyd_free(&a, m->X_own);
  hyd_free(&a, m->labels_own);
  a.release(a.user, m);
}

const hyd_problem *hyd_mlp_problem(const hyd_mlp *m)
{
  return m ? &m->problem : NULL;
}

int hyd_mlp_sizes(const hyd_mlp *m, size_t *d, size_t *hidden,
                  size_t *n_classes)
{
  if (!m)
    return HYD_EINVAL;
  if (d)
    *d = m->d;
  if (hidden)
    *hidden = m->H;
  if (n_classes)
    *n_classes = m->C;
  return HYD_OK;
}

int hyd_mlp_theta_init(const hyd_mlp *m, double a0, double kappa0,
                       double *theta)
{
  if (!m || !theta || !(isfinite(a0) && a0 > 0.0) ||
      !(isfinite(kappa0) && kappa0 > 0.0))
    return HYD_EINVAL;
  for (size_t g = 0; g < m->G; g++) {
    theta[g] = log(a0);
    theta[m->G + g] = log(kappa0);
  }
  return HYD_OK;
}

int hyd_mlp_evaluate(const hyd_mlp *m, const double *W, const size_t *rows,
                     size_t n_rows, double *loss, double *accuracy)
{
  if (!m || !W)
    return HYD_EINVAL;
  if (!rows)
    n_rows = m->rows;
  else if (!indices_ok(rows, n_rows, m->rows))
    return HYD_EINVAL;
  if (n_rows == 0)
    return HYD_EINVAL;
  double *s = hyd_alloc_array(&m->alloc, m->H + m->C, sizeof(double));
  if (!s)
    return HYD_ENOMEM;
  double sum = 0.0, *z = s, *o = s + m->H;
  size_t correct = 0;
  for (size_t i = 0; i < n_rows; i++) {
    size_t r = rows ? rows[i] : i, y = (size_t)m->labels[r];
    double lse = forward(m, m->X + r * m->d, W, z, o);
    sum += lse - o[y];
    size_t best = 0;
    for (size_t c = 1; c < m->C; c++)
      if (o[c] > o[best])
        best = c;
    correct += best == y;
  }
  hyd_free(&m->alloc, s);
  if (!isfinite(sum))
    return HYD_ENONFINITE;
  if (loss)
    *loss = sum / (double)n_rows;
  if (accuracy)
    *accuracy = (double)correct / (double)n_rows;
  return HYD_OK;
}
