/* The stack adapter (hyperd/stack.h): m samples as one sample of
 * dimension sum n_i. Every callback loops over the inner samples in index
 * order, so the stacked numbers are sums taken in a fixed order. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <hyperd/stack.h>

#include "internal.h"

struct hyd_stack {
  hyd_problem problem; /* the stacked table handed out */
  const hyd_problem *inner;
  hyd_allocator alloc;
  size_t m, p;
  size_t *off;         /* m + 1 offsets: block i is [off[i], off[i+1]) */
  double *ptmp;        /* p: one sample's B_i^T q_i */
  double Lg_override;  /* 0: use the combined max Lg_i / m */
};

static size_t st_lower_dim(void *ctx, size_t sample)
{
  const hyd_stack *s = ctx;
  return sample == 0 ? s->off[s->m] : 0;
}

static int st_lower_start(void *ctx, size_t sample, const double *theta,
                          double *x)
{
  const hyd_stack *s = ctx;
  if (sample != 0)
    return HYD_EINVAL;
  const hyd_problem *in = s->inner;
  for (size_t i = 0; i < s->m; i++) {
    int rc = in->lower_start(in->ctx, i, theta, x + s->off[i]);
    if (rc != 0)
      return rc;
  }
  return HYD_OK;
}

static int st_lower_grad(void *ctx, size_t sample, const double *theta,
                         const double *x, double *value, double *grad)
{
  const hyd_stack *s = ctx;
  if (sample != 0 || !x || !grad)
    return HYD_EINVAL;
  const hyd_problem *in = s->inner;
  double sum = 0.0;
  for (size_t i = 0; i < s->m; i++) {
    double vi = 0.0;
    int rc = in->lower_grad(in->ctx, i, theta, x + s->off[i],
                            value ? &vi : NULL, grad + s->off[i]);
    if (rc != 0)
      return rc;
    sum += vi;
  }
  if (value)
    *value = sum;
  return HYD_OK;
}

static int st_lower_hvp(void *ctx, size_t sample, const double *theta,
                        const double *x, const double *v, double *out)
{
  const hyd_stack *s = ctx;
  if (sample != 0 || !x || !v || !out)
    return HYD_EINVAL;
  const hyd_problem *in = s->inner;
  for (size_t i = 0; i < s->m; i++) {
    int rc = in->lower_hvp(in->ctx, i, theta, x + s->off[i], v + s->off[i],
                           out + s->off[i]);
    if (rc != 0)
      return rc;
  }
  return HYD_OK;
}

/* B^T q = sum_i B_i^T q_i (B stacks the B_i vertically). */
static int st_cross_tprod(void *ctx, size_t sample, const double *theta,
                          const double *x, const double *q, double *out)
{
  hyd_stack *s = ctx;
  if (sample != 0 || !x || !q || !out)
    return HYD_EINVAL;
  const hyd_problem *in = s->inner;
  hyd_zero(s->p, out);
  for (size_t i = 0; i < s->m; i++) {
    int rc = in->cross_tprod(in->ctx, i, theta, x + s->off[i], q + s->off[i],
                             s->ptmp);
    if (rc != 0)
      return rc;
    hyd_axpy(s->p, 1.0, s->ptmp, out);
  }
  return HYD_OK;
}

/* B v = (B_0 v; ...; B_{m-1} v). */
static int st_cross_prod(void *ctx, size_t sample, const double *theta,
                         const double *x, const double *v, double *out)
{
  const hyd_stack *s = ctx;
  if (sample != 0 || !x || !v || !out)
    return HYD_EINVAL;
  const hyd_problem *in = s->inner;
  for (size_t i = 0; i < s->m; i++) {
    int rc = in->cross_prod(in->ctx, i, theta, x + s->off[i], v,
                            out + s->off[i]);
    if (rc != 0)
      return rc;
  }
  return HYD_OK;
}

/* g = (1/m) sum g_i: the stack's f is the inner problem's f. */
static int st_upper(void *ctx, size_t sample, const double *x, double *value,
                    double *grad)
{
  const hyd_stack *s = ctx;
  if (sample != 0 || !x || !value)
    return HYD_EINVAL;
  const hyd_problem *in = s->inner;
  double sum = 0.0;
  for (size_t i = 0; i < s->m; i++) {
    double gi;
    int rc = in->upper(in->ctx, i, x + s->off[i], &gi,
                       grad ? grad + s->off[i] : NULL);
    if (rc != 0)
      return rc;
    sum += gi;
  }
  double inv_m = 1.0 / (double)s->m;
  *value = sum * inv_m;
  if (grad)
    for (size_t j = 0; j < s->off[s->m]; j++)
      grad[j] *= inv_m;
  return HYD_OK;
}

/* fmin/fmax drop a NaN operand; a NaN constant of any sample must reach
 * the caller's finiteness check instead of vanishing in the combination. */
static double min_nan(double a, double b)
{
  return isnan(a) || isnan(b) ? NAN : fmin(a, b);
}

static double max_nan(double a, double b)
{
  return isnan(a) || isnan(b) ? NAN : fmax(a, b);
}

/* Combined constants (why each is a bound: see stack.h). */
static int st_constants(void *ctx, size_t sample, const double *theta,
                        const double *x, hyd_constants *out)
{
  const hyd_stack *s = ctx;
  if (sample != 0 || !out)
    return HYD_EINVAL;
  const hyd_problem *in = s->inner;
  hyd_constants c = {INFINITY, 0.0, 0.0, 0.0, 0.0, 0.0, 1};
  double nb2 = 0.0;
  for (size_t i = 0; i < s->m; i++) {
    hyd_constants ci;
    int rc = in->constants(in->ctx, i, theta, x ? x + s->off[i] : NULL, &ci);
    if (rc != 0)
      return rc;
    c.mu = min_nan(c.mu, ci.mu);
    c.L = max_nan(c.L, ci.L);
    c.Lg = max_nan(c.Lg, ci.Lg);
    nb2 += ci.norm_B * ci.norm_B;
    c.LB = max_nan(c.LB, ci.LB);
    c.LAinv = max_nan(c.LAinv, ci.LAinv);
    c.certified = c.certified && ci.certified;
  }
  c.Lg /= (double)s->m;
  c.norm_B = sqrt(nb2);
  if (s->Lg_override > 0.0 && !isnan(c.Lg)) {
    if (s->Lg_override < c.Lg)
      c.certified = 0;
    c.Lg = s->Lg_override;
  }
  *out = c;
  return HYD_OK;
}

void hyd_stack_destroy(hyd_stack *s)
{
  if (!s)
    return;
  hyd_allocator a = s->alloc;
  hyd_free(&a, s->off);
  hyd_free(&a, s->ptmp);
  hyd_free(&a, s);
}

int hyd_stack_create(hyd_stack **out, const hyd_problem *inner,
                     const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  if (hyd_problem_check(inner) != HYD_OK)
    return HYD_EINVAL;
  size_t m = inner->n_samples;
  if (m == SIZE_MAX)
    return HYD_EINVAL;
  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  hyd_stack *s = hyd_alloc_array(&a, 1, sizeof *s);
  if (!s)
    return HYD_ENOMEM;
  memset(s, 0, sizeof *s);
  s->alloc = a;
  s->inner = inner;
  s->m = m;
  s->p = inner->n_theta;
  s->off = hyd_alloc_array(&a, m + 1, sizeof(size_t));
  s->ptmp = hyd_alloc_array(&a, s->p, sizeof(double));
  if (!s->off || !s->ptmp) {
    hyd_stack_destroy(s);
    return HYD_ENOMEM;
  }
  s->off[0] = 0;
  for (size_t i = 0; i < m; i++) {
    size_t ni = inner->lower_dim(inner->ctx, i);
    if (ni == 0 || ni > SIZE_MAX / sizeof(double) - s->off[i]) {
      hyd_stack_destroy(s);
      return HYD_EINVAL;
    }
    s->off[i + 1] = s->off[i] + ni;
  }
  hyd_problem *t = &s->problem;
  t->version = HYD_PROBLEM_VERSION;
  t->n_theta = inner->n_theta;
  t->n_samples = 1;
  t->upper_convex = inner->upper_convex;
  t->lower_nonconvex = inner->lower_nonconvex;
  t->ctx = s;
  t->lower_dim = st_lower_dim;
  t->lower_start = inner->lower_start ? st_lower_start : NULL;
  t->lower_grad = st_lower_grad;
  t->lower_hvp = st_lower_hvp;
  t->cross_tprod = st_cross_tprod;
  t->cross_prod = inner->cross_prod ? st_cross_prod : NULL;
  t->upper = st_upper;
  t->constants = st_constants;
  *out = s;
  return HYD_OK;
}

const hyd_problem *hyd_stack_problem(const hyd_stack *s)
{
  return s ? &s->problem : NULL;
}

size_t hyd_stack_offset(const hyd_stack *s, size_t sample)
{
  if (!s || sample > s->m)
    return (size_t)-1;
  return s->off[sample];
}

int hyd_stack_set_upper_lipschitz(hyd_stack *s, double Lg)
{
  if (!s || !(Lg >= 0.0) || !isfinite(Lg))
    return HYD_EINVAL;
  s->Lg_override = Lg;
  return HYD_OK;
}
