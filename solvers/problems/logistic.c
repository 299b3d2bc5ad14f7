/* Multinomial logistic regression with learned L2 (hyperd/logistic.h).
 *
 * Notation for one fold: n = n_train, x_r the rows, p_r = softmax(W^T x_r),
 * S(p) = diag(p) - p p^T, e_g = e^{theta_g}, emin/emax over the groups.
 *   grad h = (1/n) sum_r x_r (p_r - onehot(y_r))^T + e .* W
 *   A V    = (1/n) sum_r x_r (S(p_r) V^T x_r)^T + e .* V
 *   B      : column g = e_g * W restricted to group g  (n x p)
 *   B^T q  = ( e_g sum_{k in g} W_k q_k )_g
 *
 * Constants (derivations, also in docs/problems.md):
 *   mu    = emin: the cross-entropy Hessian is PSD (and singular: adding the
 *           same vector to every class's column leaves the logits'
 *           differences unchanged), so nothing better holds in general.
 *   L     = lmax(X_tr^T X_tr)/(2n) + emax: S(p) <= I/2 (Gershgorin: row c
 *           has centre p_c(1-p_c) and radius p_c(1-p_c), sum <= 1/2), so the
 *           CE Hessian <= (1/(2n)) sum_r x_r x_r^T (x) I.
 *   Lg    = lmax(X_val^T X_val)/(2 n_val), same argument.
 *   ||B|| = max_g e_g ||W_g||: the columns of B have disjoint supports, so
 *           they are orthogonal and the norm is the largest column norm.
 *   LB    = emax: B is linear in W, (B(W) - B(W')) has columns
 *           e_g (W - W')_g, norm max_g e_g ||(W - W')_g|| <= emax ||W - W'||.
 *   LA    = (1/(sqrt(2) n)) sum_r ||x_r||^3: for z -> S(softmax(z)),
 *           d/dt v^T S(z + t u) v = E_p[(u - E_p u)(v - E_p v)^2], at most
 *           max_c |u_c - E_p u| Var_p(v) <= sqrt(2)||u|| * ||v||^2/2, so
 *           ||S(p) - S(p')|| <= ||z - z'||/sqrt(2); with
 *           ||z_r - z'_r|| <= ||x_r|| ||W - W'||_F and
 *           ||(x x^T) (x) M|| = ||x||^2 ||M||, summing gives LA.
 *   LAinv = LA / emin^2  (A^{-1} - A'^{-1} = A^{-1} (A' - A) A'^{-1}).
 *
 * lmax(X_S^T X_S) is certified, not estimated: power iteration gives an
 * estimate tau, and a successful Cholesky factorisation of tau I - G proves
 * tau >= lmax (tau grows geometrically until it succeeds, capped by the
 * Gershgorin bound). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <hyperd/logistic.h>

#include "compander_penalty.h"
#include "internal.h"
#include "logistic_kernels.h"

/* Relative inflation of the certified lambda_max, covering rounding in the
 * Gram matrix and in the Cholesky test (both O(k * 2^-53) relative). */
#define LR_LMAX_SAFETY (1.0 + 1e-8)
#define LR_POWER_ITERS 500
#define LR_CHOLESKY_TRIES 200
#define LR_GRAM_BLOCK 64

typedef struct lr_fold {
  size_t *train, *val;
  size_t n_train, n_val;
  double lmax_train, lmax_val; /* certified upper bounds */
  double cube_sum;             /* sum over train rows of ||x_r||^3 */
  double *P;                   /* n_train x C probabilities at W_cache */
  double *W_cache;             /* d*C: the W that P belongs to */
  int cache_valid;
  double *z;                   /* scratch of a data pass */
  double *th;                  /* p + 3G scratch: group parameters, Gram */
} lr_fold;

struct hyd_logistic {
  hyd_problem problem;
  hyd_allocator alloc;
  size_t rows, d, C, n, p, K;
  size_t G;    /* groups; p = G (L2) or 2G (compander) */
  int grouping;
  int penalty; /* enum hyd_logistic_penalty_kind */
  /* compander: psi (compander_penalty.h) and a fixed L2 weight on w */
  hyd_psi psi;
  double l2;
  double radius; /* LB, LAinv hold for pairs this close (compander) */
  /* row block (hyd_logistic_set_block): totals dividing the data terms
   * (0: the fold's own counts), penalty in lower_grad / lower_hvp, and
   * whether the folds' lmax bounds exist (not with NO_BOUNDS) */
  size_t blk_train, blk_val;
  int with_penalty, have_bounds;
  int owns_data;
  const double *X;
  const int *labels;
  double *X_own;
  int *labels_own;
  lr_fold *folds;
};

size_t hyd_logistic_n_theta(int grouping, size_t d, size_t n_classes)
{
  switch (grouping) {
  case HYD_LOGISTIC_SCALAR:
    return 1;
  case HYD_LOGISTIC_PER_FEATURE:
    return d;
  case HYD_LOGISTIC_PER_CLASS:
    return n_classes;
  case HYD_LOGISTIC_PER_WEIGHT:
    return (n_classes != 0 && d > SIZE_MAX / n_classes) ? 0 : d * n_classes;
  default:
    return 0;
  }
}

size_t hyd_logistic_group(int grouping, size_t j, size_t c, size_t n_classes)
{
  switch (grouping) {
  case HYD_LOGISTIC_SCALAR:
    return 0;
  case HYD_LOGISTIC_PER_FEATURE:
    return j;
  case HYD_LOGISTIC_PER_CLASS:
    return c;
  default:
    return j * n_classes + c;
  }
}

static size_t group_of(const hyd_logistic *lr, size_t j, size_t c)
{
  return hyd_logistic_group(lr->grouping, j, c, lr->C);
}

/* ---- data passes (kernels in logistic_kernels.c) ---- */

/* Doubles of scratch a data pass needs: a block of logits and two d x C
 * matrices held transposed. */
static size_t pass_scratch(const hyd_logistic *lr)
{
  return HYD_LR_ROWS * lr->C + 2 * lr->n;
}

/* z (C logits) becomes softmax(z); returns log sum exp of the logits,
 * computed stably. */
static double softmax_row(size_t C, double *z)
{
  double m = z[0];
  for (size_t c = 1; c < C; c++)
    if (z[c] > m)
      m = z[c];
  double s = 0.0;
  for (size_t c = 0; c < C; c++) {
    z[c] = exp(z[c] - m);
    s += z[c];
  }
  for (size_t c = 0; c < C; c++)
    z[c] /= s;
  return m + log(s);
}

/* Mean CE over a row set; if grad, also its gradient (overwritten); if P,
 * stores the probabilities row by row. scratch: pass_scratch doubles. */
static double ce_pass(const hyd_logistic *lr, const size_t *idx, size_t n,
                      double div, const double *W, double *scratch, double *P,
                      double *grad)
{
  size_t d = lr->d, C = lr->C;
  double *Z = scratch, *Wt = Z + HYD_LR_ROWS * C, *Gt = Wt + lr->n;
  double inv_n = 1.0 / div;
  double loss = 0.0;
  hyd_lr_transpose(d, C, W, Wt);
  if (grad)
    memset(Gt, 0, lr->n * sizeof *Gt);
  for (size_t i0 = 0; i0 < n; i0 += HYD_LR_ROWS) {
    size_t nr = n - i0 < HYD_LR_ROWS ? n - i0 : HYD_LR_ROWS;
    hyd_lr_logits(d, C, lr->X, idx + i0, nr, Wt, Z);
    for (size_t i = 0; i < nr; i++) {
      double *z = Z + i * C;
      size_t y = (size_t)lr->labels[idx[i0 + i]];
      double zy = z[y];
      loss += softmax_row(C, z) - zy;
      if (P)
        memcpy(P + (i0 + i) * C, z, C * sizeof *z);
      if (grad) {
        z[y] -= 1.0;
        for (size_t c = 0; c < C; c++)
          z[c] *= inv_n;
      }
    }
    if (grad)
      hyd_lr_accumulate(d, C, lr->X, idx + i0, nr, Z, Gt);
  }
  if (grad)
    hyd_lr_transpose(C, d, Gt, grad);
  return loss * inv_n;
}

/* What divides the data terms: the fold's own row counts, or a row
 * block's totals. */
static double div_train(const hyd_logistic *lr, const lr_fold *f)
{
  return (double)(lr->blk_train ? lr->blk_train : f->n_train);
}

static double div_val(const hyd_logistic *lr, const lr_fold *f)
{
  return (double)(lr->blk_val ? lr->blk_val : f->n_val);
}

/* Per-group parameters into e: L2: e[g] = e^theta_g; compander:
 * e[g] = a_g, e[G + g] = kappa_g. HYD_EINVAL if one is not a positive
 * finite double (mu needs them > 0). */
static int lr_exp_theta(const hyd_logistic *lr, const double *theta,
                        double *e)
{
  if (!theta)
    return HYD_EINVAL;
  for (size_t g = 0; g < lr->p; g++) {
    e[g] = exp(theta[g]);
    if (!(isfinite(e[g]) && e[g] > 0.0))
      return HYD_EINVAL;
  }
  return HYD_OK;
}

/* Penalty terms of one weight w in group g: value, d/dw, d2/dw2 and the
 * theta-derivatives of d/dw (da: first theta block, dk: second block,
 * compander only). */
typedef hyd_psi_terms pen_terms;

static void penalty_at(const hyd_logistic *lr, const double *e, size_t g,
                       double w, pen_terms *t)
{
  if (lr->penalty == HYD_LOGISTIC_PENALTY_L2) {
    t->v = 0.5 * e[g] * w * w;
    t->d1 = e[g] * w;
    t->d2 = e[g];
    t->da = e[g] * w;
    t->dk = 0.0;
    return;
  }
  hyd_psi_terms_at(&lr->psi, e[g], e[lr->G + g], lr->l2, w, t);
}

/* out[k] += d/dw penalty (mode 0, and *value += penalty) or d2/dw2 V[k]
 * (mode 1) at W. */
static void add_penalty(const hyd_logistic *lr, const double *e,
                        const double *W, const double *V, double *out,
                        double *value)
{
  size_t d = lr->d, C = lr->C;
  double sum = 0.0;
  pen_terms t;
  for (size_t j = 0; j < d; j++)
    for (size_t c = 0; c < C; c++) {
      size_t k = j * C + c;
      penalty_at(lr, e, group_of(lr, j, c), W[k], &t);
      out[k] += V ? t.d2 * V[k] : t.d1;
      sum += t.v;
    }
  if (value)
    *value += sum;
}

/* ---- callbacks ---- */

/* Common entry of the callbacks: the object, the fold, a check that the
 * three arrays the callback needs exist and, if theta is wanted, the
 * group parameters in the fold's scratch. */
static int lr_enter(void *ctx, size_t sample, int want_theta,
                    const double *theta, const void *a, const void *b,
                    const void *c, hyd_logistic **lr, lr_fold **f)
{
  *lr = ctx;
  if (sample >= (*lr)->K || !a || !b || !c)
    return HYD_EINVAL;
  *f = &(*lr)->folds[sample];
  return want_theta ? lr_exp_theta(*lr, theta, (*f)->th) : HYD_OK;
}

static size_t lr_lower_dim(void *ctx, size_t sample)
{
  const hyd_logistic *lr = ctx;
  return sample < lr->K ? lr->n : 0;
}

static int lr_lower_grad(void *ctx, size_t sample, const double *theta,
                         const double *W, double *value, double *grad)
{
  hyd_logistic *lr;
  lr_fold *f;
  int st = lr_enter(ctx, sample, 1, theta, W, grad, W, &lr, &f);
  if (st)
    return st;
  double loss = ce_pass(lr, f->train, f->n_train, div_train(lr, f), W, f->z,
                        f->P, grad);
  memcpy(f->W_cache, W, lr->n * sizeof *W);
  f->cache_valid = 1;
  if (lr->with_penalty)
    add_penalty(lr, f->th, W, NULL, grad, &loss);
  if (value)
    *value = loss;
  return HYD_OK;
}

/* Makes f->P the probabilities at W (one data pass unless cached). The
 * cache key is the exact bit pattern of W. */
static void lr_ensure_probs(hyd_logistic *lr, lr_fold *f, const double *W)
{
  if (f->cache_valid && memcmp(f->W_cache, W, lr->n * sizeof *W) == 0)
    return;
  ce_pass(lr, f->train, f->n_train, 1.0, W, f->z, f->P, NULL);
  memcpy(f->W_cache, W, lr->n * sizeof *W);
  f->cache_valid = 1;
}

static int lr_lower_hvp(void *ctx, size_t sample, const double *theta,
                        const double *W, const double *V, double *out)
{
  hyd_logistic *lr;
  lr_fold *f;
  int st = lr_enter(ctx, sample, 1, theta, W, V, out, &lr, &f);
  if (st)
    return st;
  lr_ensure_probs(lr, f, W);
  size_t d = lr->d, C = lr->C;
  double inv_n = 1.0 / div_train(lr, f);
  double *Z = f->z, *Vt = Z + HYD_LR_ROWS * C, *Ot = Vt + lr->n;
  hyd_lr_transpose(d, C, V, Vt);
  memset(Ot, 0, lr->n * sizeof *Ot);
  for (size_t i0 = 0; i0 < f->n_train; i0 += HYD_LR_ROWS) {
    size_t nr = f->n_train - i0 < HYD_LR_ROWS ? f->n_train - i0 : HYD_LR_ROWS;
    hyd_lr_logits(d, C, lr->X, f->train + i0, nr, Vt, Z);
    /* S(p) u = p .* (u - p.u) for each row's u = V^T x */
    for (size_t i = 0; i < nr; i++) {
      const double *pr = f->P + (i0 + i) * C;
      double *u = Z + i * C;
      double pu = 0.0;
      for (size_t c = 0; c < C; c++)
        pu += pr[c] * u[c];
      for (size_t c = 0; c < C; c++)
        u[c] = pr[c] * (u[c] - pu) * inv_n;
    }
    hyd_lr_accumulate(d, C, lr->X, f->train + i0, nr, Z, Ot);
  }
  hyd_lr_transpose(C, d, Ot, out);
  if (lr->with_penalty)
    add_penalty(lr, f->th, W, V, out, NULL);
  return HYD_OK;
}

/* B^T q: the first theta block gets sum_g da q, the second (compander)
 * sum_g dk q. */
static int lr_cross_tprod(void *ctx, size_t sample, const double *theta,
                          const double *W, const double *q, double *out)
{
  hyd_logistic *lr;
  lr_fold *f;
  int st = lr_enter(ctx, sample, 1, theta, W, q, out, &lr, &f);
  if (st)
    return st;
  memset(out, 0, lr->p * sizeof *out);
  pen_terms t;
  for (size_t j = 0; j < lr->d; j++)
    for (size_t c = 0; c < lr->C; c++) {
      size_t k = j * lr->C + c, g = group_of(lr, j, c);
      penalty_at(lr, f->th, g, W[k], &t);
      out[g] += t.da * q[k];
      if (lr->p > lr->G)
        out[lr->G + g] += t.dk * q[k];
    }
  return HYD_OK;
}

static int lr_cross_prod(void *ctx, size_t sample, const double *theta,
                         const double *W, const double *v, double *out)
{
  hyd_logistic *lr;
  lr_fold *f;
  int st = lr_enter(ctx, sample, 1, theta, W, v, out, &lr, &f);
  if (st)
    return st;
  pen_terms t;
  for (size_t j = 0; j < lr->d; j++)
    for (size_t c = 0; c < lr->C; c++) {
      size_t k = j * lr->C + c, g = group_of(lr, j, c);
      penalty_at(lr, f->th, g, W[k], &t);
      out[k] = t.da * v[g] + (lr->p > lr->G ? t.dk * v[lr->G + g] : 0.0);
    }
  return HYD_OK;
}

static int lr_upper(void *ctx, size_t sample, const double *W, double *value,
                    double *grad)
{
  hyd_logistic *lr;
  lr_fold *f;
  int st = lr_enter(ctx, sample, 0, NULL, W, value, W, &lr, &f);
  if (st)
    return st;
  *value = ce_pass(lr, f->val, f->n_val, div_val(lr, f), W, f->z, NULL, grad);
  return HYD_OK;
}

/* ||B(W)||: groups have disjoint supports, so B is block diagonal with
 * one n_g x (1 or 2) block per group, whose norm is sqrt(lambda_max) of its
 * 2x2 Gram matrix. gram: 3G scratch. */
static double lr_norm_B(const hyd_logistic *lr, const double *e,
                        const double *W, double *gram)
{
  size_t G = lr->G;
  pen_terms t;
  memset(gram, 0, 3 * G * sizeof *gram);
  for (size_t j = 0; j < lr->d; j++)
    for (size_t c = 0; c < lr->C; c++) {
      size_t g = group_of(lr, j, c);
      penalty_at(lr, e, g, W[j * lr->C + c], &t);
      gram[g] += t.da * t.da;
      gram[G + g] += t.da * t.dk;
      gram[2 * G + g] += t.dk * t.dk;
    }
  return hyd_psi_norm_B(G, gram);
}

/* The penalty's part of the constants: mu_p, L_p (bounds of its Hessian,
 * which is diagonal), LB and LA_p (Lipschitz constants of B and of the
 * penalty Hessian). Compander: hyd_psi_group_bounds per group, over
 * |u| <= max_g |W|/a + radius/a, so LB and LA hold for pairs (W, W') with
 * ||W - W'|| <= radius (all pairs if it is infinite). umax: G scratch. */
static void penalty_constants(const hyd_logistic *lr, const double *e,
                              const double *W, double *umax, double *mu,
                              double *L, double *LB, double *LA)
{
  *mu = INFINITY;
  *L = *LB = *LA = 0.0;
  if (lr->penalty != HYD_LOGISTIC_PENALTY_L2) {
    for (size_t g = 0; g < lr->G; g++)
      umax[g] = 0.0;
    for (size_t j = 0; j < lr->d; j++)
      for (size_t c = 0; c < lr->C; c++) {
        size_t g = group_of(lr, j, c);
        double u = fabs(W[j * lr->C + c]) / e[g];
        umax[g] = u > umax[g] ? u : umax[g];
      }
  }
  for (size_t g = 0; g < lr->G; g++) {
    double lo, hi, lb, la;
    if (lr->penalty == HYD_LOGISTIC_PENALTY_L2) {
      lo = hi = lb = e[g];
      la = 0.0;
    } else {
      double a = e[g];
      hyd_psi_group_bounds(&lr->psi, a, e[lr->G + g], lr->l2,
                           umax[g] + lr->radius / a, &lo, &hi, &lb, &la);
    }
    *mu = lo < *mu ? lo : *mu;
    *L = hi > *L ? hi : *L;
    *LB = lb > *LB ? lb : *LB;
    *LA = la > *LA ? la : *LA;
  }
}

/* How much the Hessian's action on one Q can change within rho of W (the
 * sharper alternative to LA ||Q|| that hyd_problem.hvp_change asks for).
 * Row r, with u = Q^T x_r, s = 1 - max_c p_c, and the logits moving by
 * w = (W' - W)^T x_r, ||w|| <= ||x_r|| ||W' - W||:
 *   d/dt S(p) u = p' .* (u - (p.u) 1) - p (p'.u),   p' = S(p) w,
 * each entry |u_c - p.u| <= range(u), and p'.u = p'.(u - (p.u) 1) since p'
 * sums to 0, so ||d/dt S(p) u|| <= (1 + sqrt C) range(u) ||S(p)|| ||w||;
 * ||S(p)|| <= min(1/2, 2 s) (Gershgorin: row c has centre and radius
 * p_c (1 - p_c), and p_c (1 - p_c) <= s for every c), and along the move
 * p_max falls by at most ||w||/2 <= ||x_r|| rho / 2. A confidently
 * classified row (s near 0) hardly changes its curvature: the global LA
 * charges every row the worst case. Summed over rows as A V sums them,
 * plus the penalty's LA ||Q|| (0 for L2, whose Hessian is constant; in a
 * row block, only where the block carries the penalty). */
static int lr_hvp_change(void *ctx, size_t sample, const double *theta,
                         const double *W, const double *Q, double rho,
                         double *M)
{
  hyd_logistic *lr;
  lr_fold *f;
  int st = lr_enter(ctx, sample, 1, theta, W, Q, M, &lr, &f);
  if (st)
    return st;
  if (!(rho >= 0.0))
    return HYD_EINVAL;
  double LAp = 0.0;
  if (lr->penalty != HYD_LOGISTIC_PENALTY_L2 && lr->with_penalty) {
    if (rho > lr->radius) { /* the penalty's bounds do not reach that far */
      *M = INFINITY;
      return HYD_OK;
    }
    double mu, Lp, LB;
    penalty_constants(lr, f->th, W, f->th + lr->p, &mu, &Lp, &LB, &LAp);
  }
  lr_ensure_probs(lr, f, W);
  size_t d = lr->d, C = lr->C;
  double *Z = f->z, *Qt = Z + HYD_LR_ROWS * C;
  hyd_lr_transpose(d, C, Q, Qt);
  double sum = 0.0;
  for (size_t i0 = 0; i0 < f->n_train; i0 += HYD_LR_ROWS) {
    size_t nr = f->n_train - i0 < HYD_LR_ROWS ? f->n_train - i0 : HYD_LR_ROWS;
    hyd_lr_logits(d, C, lr->X, f->train + i0, nr, Qt, Z);
    for (size_t i = 0; i < nr; i++) {
      const double *pr = f->P + (i0 + i) * C, *u = Z + i * C;
      const double *x = lr->X + f->train[i0 + i] * d;
      double lo = u[0], hi = u[0], pmax = pr[0], xx = 0.0;
      for (size_t c = 1; c < C; c++) {
        lo = u[c] < lo ? u[c] : lo;
        hi = u[c] > hi ? u[c] : hi;
        pmax = pr[c] > pmax ? pr[c] : pmax;
      }
      for (size_t j = 0; j < d; j++)
        xx += x[j] * x[j];
      double curv = 2.0 * (1.0 - pmax) + sqrt(xx) * rho;
      sum += xx * (hi - lo) * (curv < 0.5 ? curv : 0.5);
    }
  }
  /* 1e-12 relative covers rounding of the sums, as for norm_B */
  *M = ((1.0 + sqrt((double)C)) * sum / div_train(lr, f) +
        LAp * hyd_nrm2(lr->n, Q)) * (1.0 + 1e-12);
  return isfinite(*M) ? HYD_OK : HYD_ENONFINITE;
}

static int lr_constants(void *ctx, size_t sample, const double *theta,
                        const double *W, hyd_constants *out)
{
  hyd_logistic *lr;
  lr_fold *f;
  int st = lr_enter(ctx, sample, 1, theta, W, out, W, &lr, &f);
  if (st)
    return st;
  if (!lr->have_bounds)
    return HYD_EINVAL;
  double mu, Lp, LB, LAp;
  double nb = lr_norm_B(lr, f->th, W, f->th + lr->p);
  penalty_constants(lr, f->th, W, f->th + lr->p, &mu, &Lp, &LB, &LAp);
  double n_tr = div_train(lr, f);
  double LA = f->cube_sum / (sqrt(2.0) * n_tr) + LAp;
  out->mu = mu;
  out->L = f->lmax_train / (2.0 * n_tr) + Lp;
  out->Lg = f->lmax_val / (2.0 * div_val(lr, f));
  /* 1e-12 relative covers rounding of the sums */
  out->norm_B = nb * (1.0 + 1e-12);
  out->LB = LB;
  out->LAinv = LA / (mu * mu);
  out->certified = 1;
  if (!(isfinite(out->L) && isfinite(out->norm_B) && isfinite(out->LB) &&
        isfinite(out->LAinv) && out->mu > 0.0))
    return HYD_ENONFINITE;
  return HYD_OK;
}

/* ---- certified lambda_max of a Gram matrix ---- */

/* Cholesky of tau I - G (k x k, full storage) in work; 1 if it succeeds
 * with positive pivots, which proves tau I - G is positive definite. */
static int cholesky_ok(size_t k, const double *G, double tau, double *work)
{
  for (size_t a = 0; a < k; a++)
    for (size_t b = 0; b <= a; b++)
      work[a * k + b] = (a == b ? tau : 0.0) - G[a * k + b];
  for (size_t j = 0; j < k; j++) {
    double *Lj = work + j * k;
    double diag = Lj[j];
    for (size_t t = 0; t < j; t++)
      diag -= Lj[t] * Lj[t];
    if (!(diag > 0.0))
      return 0;
    diag = sqrt(diag);
    Lj[j] = diag;
    for (size_t a = j + 1; a < k; a++) {
      double *La = work + a * k;
      double s = La[j];
      for (size_t t = 0; t < j; t++)
        s -= La[t] * Lj[t];
      La[j] = s / diag;
    }
  }
  return 1;
}

/* Upper bound of lambda_max(G), G symmetric PSD k x k. work: k*k + 2k. */
static double lmax_certified(size_t k, const double *G, double *work)
{
  double *v = work + k * k, *w = v + k;
  double gersh = 0.0;
  for (size_t a = 0; a < k; a++) {
    double s = 0.0;
    for (size_t b = 0; b < k; b++)
      s += fabs(G[a * k + b]);
    gersh = s > gersh ? s : gersh;
  }
  if (gersh == 0.0)
    return 0.0;
  /* deterministic, not orthogonal to a dominant eigenvector in practice */
  for (size_t a = 0; a < k; a++)
    v[a] = 1.0 + 0.1 * (double)(a % 7);
  double rho = 0.0;
  for (int it = 0; it < LR_POWER_ITERS; it++) {
    double nv = 0.0;
    for (size_t a = 0; a < k; a++)
      nv += v[a] * v[a];
    nv = sqrt(nv);
    for (size_t a = 0; a < k; a++)
      v[a] /= nv;
    double r = 0.0;
    for (size_t a = 0; a < k; a++) {
      double s = 0.0;
      for (size_t b = 0; b < k; b++)
        s += G[a * k + b] * v[b];
      w[a] = s;
      r += v[a] * s;
    }
    memcpy(v, w, k * sizeof *v);
    if (it > 0 && fabs(r - rho) <= 1e-12 * r) {
      rho = r;
      break;
    }
    rho = r;
  }
  double tau = rho * (1.0 + 1e-9) + 1e-300;
  for (int t = 0; t < LR_CHOLESKY_TRIES && tau < gersh; t++) {
    if (cholesky_ok(k, G, tau, work))
      return tau * LR_LMAX_SAFETY;
    tau *= 1.0 + 1e-4 * (double)(1u << (t < 16 ? t : 16));
  }
  return gersh * LR_LMAX_SAFETY;
}

/* G[r][c] += sum over a block of rows of x_r x_c (upper triangle), from
 * the block transposed into T (d x LR_GRAM_BLOCK): G is touched once per
 * block rather than once per row (it does not fit in cache for d ~ 800),
 * and four partial sums keep the dot products from waiting on each other
 * while fixing the summation order (deterministic). */
static void gram_block(size_t d, size_t nb, const double *T, double *G)
{
  for (size_t r = 0; r < d; r++) {
    const double *Tr = T + r * LR_GRAM_BLOCK;
    for (size_t c = r; c < d; c++) {
      const double *Tc = T + c * LR_GRAM_BLOCK;
      double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
      size_t t = 0;
      for (; t + 4 <= nb; t += 4) {
        s0 += Tr[t] * Tc[t];
        s1 += Tr[t + 1] * Tc[t + 1];
        s2 += Tr[t + 2] * Tc[t + 2];
        s3 += Tr[t + 3] * Tc[t + 3];
      }
      for (; t < nb; t++)
        s0 += Tr[t] * Tc[t];
      G[r * d + c] += (s0 + s1) + (s2 + s3);
    }
  }
}

/* G (d x d, zeroed by the caller, upper triangle) += X_S^T X_S; work:
 * d * LR_GRAM_BLOCK. */
static void gram_rows(const hyd_logistic *lr, const size_t *idx, size_t n,
                      double *G, double *work)
{
  size_t d = lr->d;
  for (size_t i0 = 0; i0 < n; i0 += LR_GRAM_BLOCK) {
    size_t nb = n - i0 < LR_GRAM_BLOCK ? n - i0 : LR_GRAM_BLOCK;
    for (size_t t = 0; t < nb; t++) {
      const double *x = lr->X + idx[i0 + t] * d;
      for (size_t r = 0; r < d; r++)
        work[r * LR_GRAM_BLOCK + t] = x[r];
    }
    gram_block(d, nb, work, G);
  }
}

/* Certified lambda_max(X_S^T X_S) for the row set S (idx, n): the Gram
 * matrix of the smaller side has the same nonzero spectrum. */
static int lmax_rows(const hyd_logistic *lr, const size_t *idx, size_t n,
                     double *out)
{
  const hyd_allocator *a = &lr->alloc;
  size_t d = lr->d, k = n < d ? n : d;
  if (k > SIZE_MAX / k - 2 || d > SIZE_MAX / LR_GRAM_BLOCK)
    return HYD_EINVAL;
  size_t wlen = k * k + 2 * k;
  if (n >= d && wlen < d * LR_GRAM_BLOCK)
    wlen = d * LR_GRAM_BLOCK; /* work doubles as the transposed block */
  double *G = hyd_alloc_array(a, k * k, sizeof(double));
  double *work = hyd_alloc_array(a, wlen, sizeof(double));
  if (!G || !work) {
    hyd_free(a, G);
    hyd_free(a, work);
    return HYD_ENOMEM;
  }
  memset(G, 0, k * k * sizeof *G);
  if (n >= d) {
    gram_rows(lr, idx, n, G, work);
  } else {
    for (size_t i = 0; i < n; i++)
      for (size_t j = i; j < n; j++) {
        const double *xi = lr->X + idx[i] * d, *xj = lr->X + idx[j] * d;
        double s = 0.0;
        for (size_t t = 0; t < d; t++)
          s += xi[t] * xj[t];
        G[i * k + j] = s;
      }
  }
  for (size_t r = 0; r < k; r++)
    for (size_t c = 0; c < r; c++)
      G[r * k + c] = G[c * k + r];
  *out = lmax_certified(k, G, work);
  hyd_free(a, G);
  hyd_free(a, work);
  return HYD_OK;
}

/* ---- lifecycle ---- */

static int check_indices(const size_t *idx, size_t n, size_t rows)
{
  if (!idx || n == 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (idx[i] >= rows)
      return 0;
  return 1;
}

static int fold_init(hyd_logistic *lr, lr_fold *f,
                     const hyd_logistic_fold *src, int bounds)
{
  const hyd_allocator *a = &lr->alloc;
  f->n_train = src->n_train;
  f->n_val = src->n_val;
  f->train = hyd_alloc_array(a, src->n_train, sizeof(size_t));
  f->val = hyd_alloc_array(a, src->n_val, sizeof(size_t));
  f->P = hyd_alloc_array(a, src->n_train, lr->C * sizeof(double));
  f->W_cache = hyd_alloc_array(a, lr->n, sizeof(double));
  f->z = hyd_alloc_array(a, pass_scratch(lr), sizeof(double));
  f->th = hyd_alloc_array(a, lr->p + 3 * lr->G, sizeof(double));
  if (!f->train || !f->val || !f->P || !f->W_cache || !f->z || !f->th)
    return HYD_ENOMEM;
  memcpy(f->train, src->train, src->n_train * sizeof(size_t));
  memcpy(f->val, src->val, src->n_val * sizeof(size_t));
  f->cube_sum = 0.0;
  for (size_t i = 0; i < f->n_train; i++) {
    const double *x = lr->X + f->train[i] * lr->d;
    double s = 0.0;
    for (size_t j = 0; j < lr->d; j++)
      s += x[j] * x[j];
    f->cube_sum += s * sqrt(s);
  }
  if (!bounds)
    return HYD_OK;
  int st = lmax_rows(lr, f->train, f->n_train, &f->lmax_train);
  if (st == HYD_OK)
    st = lmax_rows(lr, f->val, f->n_val, &f->lmax_val);
  return st;
}

static int validate(size_t rows, size_t d, size_t C, const double *X,
                    const int *labels, size_t K,
                    const hyd_logistic_fold *folds, int grouping,
                    unsigned flags)
{
  if (!X || !labels || !folds || rows == 0 || d == 0 || C < 2 || K == 0 ||
      (flags & ~(unsigned)(HYD_LOGISTIC_BORROW_DATA |
                           HYD_LOGISTIC_NO_BOUNDS)) ||
      hyd_logistic_n_theta(grouping, d, C) == 0 || d > SIZE_MAX / C ||
      rows > SIZE_MAX / d || C > (size_t)INT32_MAX)
    return HYD_EINVAL;
  for (size_t i = 0; i < rows; i++)
    if (labels[i] < 0 || (size_t)labels[i] >= C)
      return HYD_EINVAL;
  for (size_t i = 0; i < rows * d; i++)
    if (!isfinite(X[i]))
      return HYD_EINVAL;
  for (size_t k = 0; k < K; k++)
    if (!check_indices(folds[k].train, folds[k].n_train, rows) ||
        !check_indices(folds[k].val, folds[k].n_val, rows) ||
        folds[k].n_train > SIZE_MAX / C / sizeof(double))
      return HYD_EINVAL;
  return HYD_OK;
}

int hyd_logistic_create(hyd_logistic **out, size_t rows, size_t d,
                        size_t n_classes, const double *X, const int *labels,
                        size_t n_folds, const hyd_logistic_fold *folds,
                        int grouping, unsigned flags,
                        const hyd_allocator *alloc)
{
  return hyd_logistic_create_penalized(out, rows, d, n_classes, X, labels,
                                       n_folds, folds, grouping, flags, NULL,
                                       alloc);
}

/* The compander's cut-off quantities (see the struct). */
static int penalty_setup(hyd_logistic *lr, const hyd_logistic_penalty *pen)
{
  lr->penalty = pen ? pen->kind : HYD_LOGISTIC_PENALTY_L2;
  if (lr->penalty == HYD_LOGISTIC_PENALTY_L2)
    return HYD_OK;
  if (lr->penalty != HYD_LOGISTIC_PENALTY_COMPANDER ||
      hyd_psi_init(&lr->psi, pen->cutoff_tan2) != HYD_OK ||
      !(isfinite(pen->l2) && pen->l2 >= 0.0 && pen->lipschitz_radius > 0.0))
    return HYD_EINVAL;
  lr->l2 = pen->l2;
  lr->radius = pen->lipschitz_radius;
  return HYD_OK;
}

int hyd_logistic_create_penalized(hyd_logistic **out, size_t rows, size_t d,
                                  size_t n_classes, const double *X,
                                  const int *labels, size_t n_folds,
                                  const hyd_logistic_fold *folds,
                                  int grouping, unsigned flags,
                                  const hyd_logistic_penalty *pen,
                                  const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  int st = validate(rows, d, n_classes, X, labels, n_folds, folds, grouping,
                    flags);
  if (st)
    return st;
  hyd_logistic probe;
  memset(&probe, 0, sizeof probe);
  if (penalty_setup(&probe, pen) ||
      hyd_logistic_n_theta(grouping, d, n_classes) > SIZE_MAX / 8)
    return HYD_EINVAL;
  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  hyd_logistic *lr = a.alloc(a.user, sizeof *lr);
  if (!lr)
    return HYD_ENOMEM;
  *lr = probe;
  lr->alloc = a;
  lr->rows = rows;
  lr->d = d;
  lr->C = n_classes;
  lr->n = d * n_classes;
  lr->G = hyd_logistic_n_theta(grouping, d, n_classes);
  lr->p = lr->penalty == HYD_LOGISTIC_PENALTY_L2 ? lr->G : 2 * lr->G;
  lr->grouping = grouping;
  lr->K = n_folds;
  lr->with_penalty = 1;
  lr->have_bounds = !(flags & HYD_LOGISTIC_NO_BOUNDS);
  lr->folds = hyd_alloc_array(&a, n_folds, sizeof *lr->folds);
  if (!lr->folds) {
    hyd_logistic_destroy(lr);
    return HYD_ENOMEM;
  }
  memset(lr->folds, 0, n_folds * sizeof *lr->folds);
  if (flags & HYD_LOGISTIC_BORROW_DATA) {
    lr->X = X;
    lr->labels = labels;
  } else {
    lr->X_own = hyd_alloc_array(&a, rows * d, sizeof(double));
    lr->labels_own = hyd_alloc_array(&a, rows, sizeof(int));
    if (!lr->X_own || !lr->labels_own) {
      hyd_logistic_destroy(lr);
      return HYD_ENOMEM;
    }
    memcpy(lr->X_own, X, rows * d * sizeof(double));
    memcpy(lr->labels_own, labels, rows * sizeof(int));
    lr->X = lr->X_own;
    lr->labels = lr->labels_own;
  }
  for (size_t k = 0; k < n_folds; k++) {
    st = fold_init(lr, &lr->folds[k], &folds[k],
                   !(flags & HYD_LOGISTIC_NO_BOUNDS));
    if (st) {
      hyd_logistic_destroy(lr);
      return st;
    }
  }
  hyd_problem *p = &lr->problem;
  p->version = HYD_PROBLEM_VERSION;
  p->n_theta = lr->p;
  p->n_samples = n_folds;
  p->upper_convex = 1;
  p->ctx = lr;
  p->lower_dim = lr_lower_dim;
  p->lower_start = NULL;
  p->lower_grad = lr_lower_grad;
  p->lower_hvp = lr_lower_hvp;
  p->cross_tprod = lr_cross_tprod;
  p->cross_prod = lr_cross_prod;
  p->upper = lr_upper;
  p->constants = lr_constants;
  p->hvp_change = lr_hvp_change;
  *out = lr;
  return HYD_OK;
}

void hyd_logistic_destroy(hyd_logistic *lr)
{
  if (!lr)
    return;
  hyd_allocator a = lr->alloc;
  if (lr->folds) {
    for (size_t k = 0; k < lr->K; k++) {
      lr_fold *f = &lr->folds[k];
      hyd_free(&a, f->train);
      hyd_free(&a, f->val);
      hyd_free(&a, f->P);
      hyd_free(&a, f->W_cache);
      hyd_free(&a, f->z);
      hyd_free(&a, f->th);
    }
    hyd_free(&a, lr->folds);
  }
  hyd_free(&a, lr->X_own);
  hyd_free(&a, lr->labels_own);
  a.release(a.user, lr);
}

const hyd_problem *hyd_logistic_problem(const hyd_logistic *lr)
{
  return lr ? &lr->problem : NULL;
}

int hyd_logistic_evaluate(const hyd_logistic *lr, const double *W,
                          const size_t *rows, size_t n_rows, double *loss,
                          double *accuracy)
{
  if (!lr || !W)
    return HYD_EINVAL;
  if (!rows)
    n_rows = lr->rows;
  else if (!check_indices(rows, n_rows, lr->rows))
    return HYD_EINVAL;
  if (n_rows == 0)
    return HYD_EINVAL;
  double *scratch = hyd_alloc_array(&lr->alloc, pass_scratch(lr),
                                    sizeof(double));
  size_t *block = hyd_alloc_array(&lr->alloc, HYD_LR_ROWS, sizeof(size_t));
  if (!scratch || !block) {
    hyd_free(&lr->alloc, scratch);
    hyd_free(&lr->alloc, block);
    return HYD_ENOMEM;
  }
  double *Z = scratch, *Wt = Z + HYD_LR_ROWS * lr->C;
  hyd_lr_transpose(lr->d, lr->C, W, Wt);
  double sum = 0.0;
  size_t correct = 0;
  for (size_t i0 = 0; i0 < n_rows; i0 += HYD_LR_ROWS) {
    size_t nr = n_rows - i0 < HYD_LR_ROWS ? n_rows - i0 : HYD_LR_ROWS;
    for (size_t i = 0; i < nr; i++)
      block[i] = rows ? rows[i0 + i] : i0 + i;
    hyd_lr_logits(lr->d, lr->C, lr->X, block, nr, Wt, Z);
    for (size_t i = 0; i < nr; i++) {
      double *z = Z + i * lr->C;
      size_t y = (size_t)lr->labels[block[i]];
      size_t best = 0;
      for (size_t c = 1; c < lr->C; c++)
        if (z[c] > z[best])
          best = c;
      correct += (best == y);
      double zy = z[y];
      sum += softmax_row(lr->C, z) - zy;
    }
  }
  hyd_free(&lr->alloc, block);
  hyd_free(&lr->alloc, scratch);
  if (!isfinite(sum))
    return HYD_ENONFINITE;
  if (loss)
    *loss = sum / (double)n_rows;
  if (accuracy)
    *accuracy = (double)correct / (double)n_rows;
  return HYD_OK;
}

int hyd_logistic_compander_inside(const hyd_logistic *lr, const double *theta,
                                  const double *W, int *inside)
{
  if (!lr || !theta || !W || !inside ||
      lr->penalty != HYD_LOGISTIC_PENALTY_COMPANDER)
    return HYD_EINVAL;
  *inside = 1;
  for (size_t j = 0; j < lr->d; j++)
    for (size_t c = 0; c < lr->C; c++) {
      double a = exp(theta[group_of(lr, j, c)]);
      if (!(fabs(W[j * lr->C + c]) <= a * lr->psi.uc))
        *inside = 0;
    }
  return HYD_OK;
}

int hyd_logistic_set_block(hyd_logistic *lr, const hyd_logistic_block *b)
{
  if (!lr || !b || lr->K != 1)
    return HYD_EINVAL;
  const lr_fold *f = &lr->folds[0];
  if (b->n_train < f->n_train || b->n_val < f->n_val ||
      (b->with_penalty != 0 && b->with_penalty != 1) ||
      !(isfinite(b->lmax_train) && b->lmax_train >= 0.0 &&
        isfinite(b->lmax_val) && b->lmax_val >= 0.0 &&
        isfinite(b->cube_sum) && b->cube_sum >= 0.0))
    return HYD_EINVAL;
  lr->blk_train = b->n_train;
  lr->blk_val = b->n_val;
  lr->with_penalty = b->with_penalty;
  lr->folds[0].lmax_train = b->lmax_train;
  lr->folds[0].lmax_val = b->lmax_val;
  lr->folds[0].cube_sum = b->cube_sum;
  lr->have_bounds = 1;
  return HYD_OK;
}

int hyd_logistic_gram(const hyd_logistic *lr, int which, double *G,
                      double *cube_sum)
{
  if (!lr || !G || (which != 0 && which != 1) ||
      lr->d > SIZE_MAX / LR_GRAM_BLOCK)
    return HYD_EINVAL;
  const lr_fold *f = &lr->folds[0];
  const size_t *idx = which ? f->val : f->train;
  size_t n = which ? f->n_val : f->n_train, d = lr->d;
  double *work = hyd_alloc_array(&lr->alloc, d * LR_GRAM_BLOCK,
                                 sizeof(double));
  if (!work)
    return HYD_ENOMEM;
  memset(G, 0, d * d * sizeof *G);
  gram_rows(lr, idx, n, G, work);
  hyd_free(&lr->alloc, work);
  for (size_t r = 0; r < d; r++)
    for (size_t c = 0; c < r; c++)
      G[r * d + c] = G[c * d + r];
  if (cube_sum) {
    double cs = 0.0;
    for (size_t i = 0; i < n; i++) {
      const double *x = lr->X + idx[i] * d;
      double s2 = 0.0;
      for (size_t j = 0; j < d; j++)
        s2 += x[j] * x[j];
      cs += s2 * sqrt(s2);
    }
    *cube_sum = cs;
  }
  return HYD_OK;
}

int hyd_logistic_lmax_bound(size_t k, const double *G, double *out,
                            const hyd_allocator *alloc)
{
  if (!G || !out || k == 0 || k > SIZE_MAX / k - 2)
    return HYD_EINVAL;
  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  double *work = hyd_alloc_array(&a, k * k + 2 * k, sizeof(double));
  if (!work)
    return HYD_ENOMEM;
  *out = lmax_certified(k, G, work);
  hyd_free(&a, work);
  return HYD_OK;
}

int hyd_logistic_sizes(const hyd_logistic *lr, size_t fold, size_t *d,
                       size_t *n_classes, size_t *n_train, size_t *n_val)
{
  if (!lr || fold >= lr->K)
    return HYD_EINVAL;
  if (d)
    *d = lr->d;
  if (n_classes)
    *n_classes = lr->C;
  if (n_train)
    *n_train = lr->folds[fold].n_train;
  if (n_val)
    *n_val = lr->folds[fold].n_val;
  return HYD_OK;
}
