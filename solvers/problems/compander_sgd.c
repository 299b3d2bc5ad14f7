/* The weight compander trained by SGD, the paper's two variants
 * (hyperd/compander_sgd.h). With W = a atan(V/b) and G_W the gradient of
 * the objective's W-dependent part (cross-entropy, plus the fixed
 * variant's decay lambda W):
 *   dW/dV = a b / (b^2 + V^2),  dW/da = atan(V/b) = W/a,
 *   dW/db = -a V / (b^2 + V^2)                       (design/compander.md)
 * so grad_V = G_W .* dW/dV (+ lambda V, learned variant), and grad_a,
 * grad_b sum G_W .* dW/da, G_W .* dW/db over each group. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <hyperd/compander_sgd.h>
#include <hyperd/logistic.h>

#include "internal.h"

struct hyd_compander_sgd {
  hyd_allocator alloc;
  hyd_compander_sgd_options opt;
  size_t rows, d, C, n, G;
  const double *X;
  const int *labels;
  size_t *train; /* n row indices (copied) */
  size_t *perm;  /* n positions, reshuffled every epoch */
  size_t *group; /* d C: group of each weight */
  /* d C each: the model, the gradient in W, the iterate, its gradient and
   * momentum */
  double *W, *GW, *V, *gV, *mV;
  /* G each: (a, b), their gradients and momenta */
  double *a, *b, *ga, *gb, *ma, *mb;
  double *z; /* C scratch */
  gsl_rng *rng;
};

void hyd_compander_sgd_options_default(hyd_compander_sgd_options *o)
{
  if (!o)
    return;
  o->variant = HYD_COMPANDER_FIXED;
  o->grouping = HYD_LOGISTIC_SCALAR;
  o->a = 0.5;
  o->b = 1.0;
  o->weight_decay = 1e-3;
  o->learning_rate = 0.1;
  o->momentum = 0.9;
  o->epochs = 50;
  o->batch_size = 64;
  o->init_scale = 0.01;
  o->ab_min = 1e-3;
  o->seed = 0;
}

static int options_valid(const hyd_compander_sgd_options *o)
{
  return (o->variant == HYD_COMPANDER_FIXED ||
          o->variant == HYD_COMPANDER_LEARNED) &&
         isfinite(o->a) && o->a > 0 && isfinite(o->b) && o->b > 0 &&
         isfinite(o->weight_decay) && o->weight_decay >= 0 &&
         isfinite(o->learning_rate) && o->learning_rate > 0 &&
         o->momentum >= 0 && o->momentum < 1 && o->epochs >= 1 &&
         o->batch_size >= 1 && isfinite(o->init_scale) &&
         o->init_scale >= 0 && isfinite(o->ab_min) && o->ab_min > 0;
}

void hyd_compander_sgd_destroy(hyd_compander_sgd *s)
{
  if (!s)
    return;
  const hyd_allocator *al = &s->alloc;
  double *dbl[] = {s->W, s->GW, s->V, s->gV, s->mV, s->a, s->b,
                   s->ga, s->gb, s->ma, s->mb, s->z};
  for (size_t k = 0; k < sizeof dbl / sizeof dbl[0]; k++)
    hyd_free(al, dbl[k]);
  hyd_free(al, s->train);
  hyd_free(al, s->perm);
  hyd_free(al, s->group);
  if (s->rng)
    gsl_rng_free(s->rng);
  hyd_allocator alloc = s->alloc;
  hyd_free(&alloc, s);
}

int hyd_compander_sgd_create(hyd_compander_sgd **out, size_t rows, size_t d,
                             size_t n_classes, const double *X,
                             const int *labels, const size_t *train,
                             size_t n_train,
                             const hyd_compander_sgd_options *opt,
                             const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  hyd_compander_sgd_options o;
  hyd_compander_sgd_options_default(&o);
  if (opt)
    o = *opt;
  size_t G = hyd_logistic_n_theta(o.grouping, d, n_classes);
  if (!X || !labels || !train || rows == 0 || d == 0 || n_classes < 2 ||
      n_train == 0 || G == 0 || !options_valid(&o) ||
      d > SIZE_MAX / n_classes || rows > SIZE_MAX / d)
    return HYD_EINVAL;
  for (size_t r = 0; r < rows; r++)
    if (labels[r] < 0 || (size_t)labels[r] >= n_classes)
      return HYD_EINVAL;
  for (size_t k = 0; k < n_train; k++)
    if (train[k] >= rows)
      return HYD_EINVAL;

  hyd_allocator al;
  hyd_allocator_init(&al, alloc);
  hyd_compander_sgd *s = hyd_alloc_array(&al, 1, sizeof *s);
  if (!s)
    return HYD_ENOMEM;
  memset(s, 0, sizeof *s);
  s->alloc = al;
  s->opt = o;
  s->rows = rows;
  s->d = d;
  s->C = n_classes;
  s->n = n_train;
  s->G = G;
  s->X = X;
  s->labels = labels;
  size_t nw = d * n_classes;
  s->train = hyd_alloc_array(&al, n_train, sizeof *s->train);
  s->perm = hyd_alloc_array(&al, n_train, sizeof *s->perm);
  s->group = hyd_alloc_array(&al, nw, sizeof *s->group);
  double **per_weight[] = {&s->W, &s->GW, &s->V, &s->gV, &s->mV};
  double **per_group[] = {&s->a, &s->b, &s->ga, &s->gb, &s->ma, &s->mb};
  int ok = s->train && s->perm && s->group;
  for (size_t k = 0; ok && k < sizeof per_weight / sizeof per_weight[0]; k++)
    ok = (*per_weight[k] = hyd_alloc_array(&al, nw, sizeof(double))) != NULL;
  for (size_t k = 0; ok && k < sizeof per_group / sizeof per_group[0]; k++)
    ok = (*per_group[k] = hyd_alloc_array(&al, G, sizeof(double))) != NULL;
  if (ok)
    ok = (s->z = hyd_alloc_array(&al, n_classes, sizeof *s->z)) != NULL;
  if (ok)
    ok = (s->rng = gsl_rng_alloc(gsl_rng_mt19937)) != NULL;
  if (!ok) {
    hyd_compander_sgd_destroy(s);
    return HYD_ENOMEM;
  }
  memcpy(s->train, train, n_train * sizeof *train);
  for (size_t j = 0; j < d; j++)
    for (size_t c = 0; c < n_classes; c++)
      s->group[j * n_classes + c] = hyd_logistic_group(o.grouping, j, c, n_classes);
  *out = s;
  return HYD_OK;
}

size_t hyd_compander_sgd_n_groups(const hyd_compander_sgd *s)
{
  return s ? s->G : 0;
}

/* The objective and its gradients (see the top of the file); *ce gets the
 * cross-entropy part. Uses s->W, s->GW and s->z as scratch: afterwards
 * s->W holds Psi(V). */
static int evaluate(hyd_compander_sgd *s, const size_t *batch, size_t n,
                    const double *V, const double *a, const double *b,
                    double *ce_out, double *value, double *grad_V,
                    double *grad_a, double *grad_b)
{
  size_t d = s->d, C = s->C, nw = d * C;
  double lambda = s->opt.weight_decay;
  int learned = s->opt.variant == HYD_COMPANDER_LEARNED;
  double *W = s->W, *GW = s->GW, *z = s->z;
  for (size_t k = 0; k < nw; k++) {
    size_t g = s->group[k];
    W[k] = a[g] * atan(V[k] / b[g]);
  }
  memset(GW, 0, nw * sizeof *GW);
  double ce = 0.0, inv_n = 1.0 / (double)n;
  for (size_t i = 0; i < n; i++) {
    size_t r = s->train[batch ? batch[i] : i];
    const double *x = s->X + r * d;
    size_t y = (size_t)s->labels[r];
    for (size_t c = 0; c < C; c++)
      z[c] = 0.0;
    /* Zero features (half of Fashion-MNIST's pixels) add nothing. */
    for (size_t j = 0; j < d; j++)
      for (size_t c = 0; c < C && x[j] != 0.0; c++)
        z[c] += x[j] * W[j * C + c];
    double m = z[0], sum = 0.0;
    for (size_t c = 1; c < C; c++)
      m = z[c] > m ? z[c] : m;
    for (size_t c = 0; c < C; c++)
      sum += exp(z[c] - m);
    double lse = m + log(sum);
    ce += lse - z[y];
    for (size_t c = 0; c < C; c++)
      z[c] = exp(z[c] - lse) * inv_n;
    z[y] -= inv_n;
    for (size_t j = 0; j < d; j++)
      for (size_t c = 0; c < C && x[j] != 0.0; c++)
        GW[j * C + c] += x[j] * z[c];
  }
  ce *= inv_n;
  double decay = 0.0;
  for (size_t k = 0; k < nw; k++) {
    double w = learned ? V[k] : W[k];
    decay += w * w;
    if (!learned)
      GW[k] += lambda * W[k];
  }
  if (grad_a)
    memset(grad_a, 0, s->G * sizeof *grad_a);
  if (grad_b)
    memset(grad_b, 0, s->G * sizeof *grad_b);
  for (size_t k = 0; k < nw; k++) {
    size_t g = s->group[k];
    double q = b[g] * b[g] + V[k] * V[k];
    if (grad_V)
      grad_V[k] = GW[k] * a[g] * b[g] / q + (learned ? lambda * V[k] : 0.0);
    if (grad_a)
      grad_a[g] += GW[k] * W[k] / a[g];
    if (grad_b)
      grad_b[g] -= GW[k] * a[g] * V[k] / q;
  }
  double val = ce + 0.5 * lambda * decay;
  if (ce_out)
    *ce_out = ce;
  if (value)
    *value = val;
  return isfinite(val) ? HYD_OK : HYD_ENONFINITE;
}

int hyd_compander_sgd_objective(hyd_compander_sgd *s, const size_t *batch,
                                size_t n, const double *V, const double *a,
                                const double *b, double *value,
                                double *grad_V, double *grad_a,
                                double *grad_b)
{
  if (!s || !V || !a || !b)
    return HYD_EINVAL;
  for (size_t g = 0; g < s->G; g++)
    if (!(a[g] > 0 && b[g] > 0 && isfinite(a[g]) && isfinite(b[g])))
      return HYD_EINVAL;
  if (!batch)
    n = s->n;
  if (n == 0)
    return HYD_EINVAL;
  for (size_t i = 0; batch && i < n; i++)
    if (batch[i] >= s->n)
      return HYD_EINVAL;
  return evaluate(s, batch, n, V, a, b, NULL, value, grad_V, grad_a, grad_b);
}

/* The seeded start: (a, b) from the options, W_0 ~ N(0, init_scale^2)
 * clipped to |W_0| <= a/2 (tan is steep near the bound), V_0 = b tan(W_0/a).
 * Draws nothing when init_scale = 0. */
static void start(hyd_compander_sgd *s)
{
  gsl_rng_set(s->rng, s->opt.seed);
  size_t nw = s->d * s->C;
  for (size_t g = 0; g < s->G; g++) {
    s->a[g] = s->opt.a;
    s->b[g] = s->opt.b;
    s->ma[g] = s->mb[g] = 0.0;
  }
  for (size_t k = 0; k < nw; k++) {
    double a = s->opt.a, w0 = 0.0;
    if (s->opt.init_scale > 0) {
      w0 = gsl_ran_gaussian(s->rng, s->opt.init_scale);
      w0 = fmax(-0.5 * a, fmin(0.5 * a, w0));
    }
    s->V[k] = s->opt.b * tan(w0 / a);
    s->mV[k] = 0.0;
  }
  for (size_t i = 0; i < s->n; i++)
    s->perm[i] = i;
}

/* x <- x - step * (m <- momentum m + g) */
static void momentum_step(size_t n, double momentum, double step,
                          const double *g, double *m, double *x)
{
  for (size_t k = 0; k < n; k++) {
    m[k] = momentum * m[k] + g[k];
    x[k] -= step * m[k];
  }
}

int hyd_compander_sgd_run(hyd_compander_sgd *s, double *W, double *a,
                          double *b, hyd_compander_sgd_result *res)
{
  if (!s || !W)
    return HYD_EINVAL;
  const hyd_compander_sgd_options *o = &s->opt;
  int learned = o->variant == HYD_COMPANDER_LEARNED;
  size_t nw = s->d * s->C, B = o->batch_size < s->n ? o->batch_size : s->n;
  size_t per_epoch = (s->n + B - 1) / B, t = 0, projected = 0;
  double total = (double)(per_epoch * o->epochs), pi = acos(-1.0);
  start(s);
  for (size_t e = 0; e < o->epochs; e++) {
    if (B < s->n)
      gsl_ran_shuffle(s->rng, s->perm, s->n, sizeof *s->perm);
    for (size_t lo = 0; lo < s->n; lo += B, t++) {
      size_t nb = s->n - lo < B ? s->n - lo : B;
      double step = o->learning_rate * 0.5 * (1.0 + cos(pi * (double)t / total));
      int rc = evaluate(s, s->perm + lo, nb, s->V, s->a, s->b, NULL, NULL,
                        s->gV, learned ? s->ga : NULL,
                        learned ? s->gb : NULL);
      if (rc)
        return rc;
      momentum_step(nw, o->momentum, step, s->gV, s->mV, s->V);
      if (!learned)
        continue;
      momentum_step(s->G, o->momentum, step, s->ga, s->ma, s->a);
      momentum_step(s->G, o->momentum, step, s->gb, s->mb, s->b);
      for (size_t g = 0; g < s->G; g++) {
        projected += (size_t)(s->a[g] < o->ab_min) + (size_t)(s->b[g] < o->ab_min);
        s->a[g] = fmax(s->a[g], o->ab_min);
        s->b[g] = fmax(s->b[g], o->ab_min);
      }
    }
    if (!hyd_all_finite(nw, s->V) || !hyd_all_finite(s->G, s->a) ||
        !hyd_all_finite(s->G, s->b))
      return HYD_ENONFINITE;
  }
  double ce, value;
  int rc = evaluate(s, NULL, s->n, s->V, s->a, s->b, &ce, &value, NULL, NULL,
                    NULL);
  if (rc || !hyd_all_finite(nw, s->W))
    return HYD_ENONFINITE;
  memcpy(W, s->W, nw * sizeof *W);
  if (a)
    memcpy(a, s->a, s->G * sizeof *a);
  if (b)
    memcpy(b, s->b, s->G * sizeof *b);
  if (res) {
    res->objective = value;
    res->train_ce = ce;
    res->projected = projected;
    res->steps = t;
  }
  return HYD_OK;
}
