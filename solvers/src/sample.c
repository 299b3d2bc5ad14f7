/* One sample's share of the inexact oracle (design/maid.md section 2):
 * lower solve, adjoint solve, its part of z, omega and the sandwich. Both
 * the serial oracle and the MPI workers are built from these calls. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

struct hyd_sample {
  const hyd_problem *prob;
  size_t index, n, p, n_slots;
  hyd_allocator alloc;
  double *x;      /* current point (the warm start) */
  double *q;      /* last adjoint (CG warm start) */
  int have_q;
  double *grad_g; /* grad g at x, the CG right-hand side */
  double *work;   /* HYD_LOWER_WORK n: lower solver or CG */
  double *tmp;    /* n: trial gradients, B z */
  double *ptmp;   /* p: reference estimates */
  double **slots; /* n_slots trial points */
  double ref_LB, ref_LAinv; /* reference bound: running maxima of estimates */
  uint64_t rng[4];          /* reference bound: xoshiro256** state */
  int rng_seeded;
  const volatile sig_atomic_t *interrupt; /* borrowed; NULL: never */
  char errmsg[HYD_ERRMSG_SIZE];
};

void hyd_sample_destroy(hyd_sample *s)
{
  if (!s)
    return;
  const hyd_allocator *a = &s->alloc;
  if (s->slots)
    for (size_t k = 0; k < s->n_slots; k++)
      hyd_free(a, s->slots[k]);
  hyd_free(a, s->slots);
  hyd_free(a, s->x);
  hyd_free(a, s->q);
  hyd_free(a, s->grad_g);
  hyd_free(a, s->work);
  hyd_free(a, s->tmp);
  hyd_free(a, s->ptmp);
  hyd_allocator copy = s->alloc;
  hyd_free(&copy, s);
}

int hyd_sample_create(hyd_sample **out, const hyd_problem *problem,
                      size_t index, const double *theta0, size_t n_slots,
                      const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  if (hyd_problem_check(problem) != HYD_OK || index >= problem->n_samples ||
      !theta0 || n_slots == 0)
    return HYD_EINVAL;
  size_t n = problem->lower_dim(problem->ctx, index);
  if (n == 0)
    return HYD_EINVAL;
  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  hyd_sample *s = hyd_alloc_array(&a, 1, sizeof *s);
  if (!s)
    return HYD_ENOMEM;
  memset(s, 0, sizeof *s);
  s->alloc = a;
  s->prob = problem;
  s->index = index;
  s->n = n;
  s->p = problem->n_theta;
  s->n_slots = n_slots;
  s->x = hyd_alloc_array(&a, n, sizeof(double));
  s->q = hyd_alloc_array(&a, n, sizeof(double));
  s->grad_g = hyd_alloc_array(&a, n, sizeof(double));
  s->work = hyd_alloc_array(&a, HYD_LOWER_WORK * n, sizeof(double));
  s->tmp = hyd_alloc_array(&a, n, sizeof(double));
  s->ptmp = hyd_alloc_array(&a, s->p, sizeof(double));
  s->slots = hyd_alloc_array(&a, n_slots, sizeof(double *));
  if (!s->x || !s->q || !s->grad_g || !s->work || !s->tmp || !s->ptmp ||
      !s->slots) {
    if (s->slots)
      memset(s->slots, 0, n_slots * sizeof(double *));
    hyd_sample_destroy(s);
    return HYD_ENOMEM;
  }
  memset(s->slots, 0, n_slots * sizeof(double *));
  for (size_t k = 0; k < n_slots; k++) {
    s->slots[k] = hyd_alloc_array(&a, n, sizeof(double));
    if (!s->slots[k]) {
      hyd_sample_destroy(s);
      return HYD_ENOMEM;
    }
  }
  hyd_zero(n, s->x);
  hyd_zero(n, s->q);
  if (problem->lower_start) {
    int rc = problem->lower_start(problem->ctx, index, theta0, s->x);
    if (rc != 0 || !hyd_all_finite(n, s->x)) {
      hyd_sample_destroy(s);
      return rc != 0 ? HYD_ECALLBACK : HYD_ENONFINITE;
    }
  }
  s->errmsg[0] = '\0';
  *out = s;
  return HYD_OK;
}

static int cg_flags(const hyd_oracle_config *cfg)
{
  return (cfg->bound == HYD_BOUND_CERTIFIED ? HYD_CG_VERIFY : 0) |
         (cfg->float32 ? HYD_CG_FLOAT32 : 0);
}

/* g and grad g at x; grad into `grad`. */
static int upper_at(hyd_sample *s, const double *x, double *g, double *grad)
{
  int rc = s->prob->upper(s->prob->ctx, s->index, x, g, grad);
  if (rc != 0)
    return hyd_set_error(s->errmsg, HYD_ECALLBACK,
                         "sample %zu: upper-level callback failed (%d)",
                         s->index, rc);
  if (!isfinite(*g) || !hyd_all_finite(s->n, grad))
    return hyd_set_error(s->errmsg, HYD_ENONFINITE,
                         "sample %zu: upper-level value or gradient is not "
                         "finite", s->index);
  return HYD_OK;
}

static int constants_at(hyd_sample *s, const double *theta, const double *x,
                        hyd_constants *c)
{
  int rc = s->prob->constants(s->prob->ctx, s->index, theta, x, c);
  if (rc != 0)
    return hyd_set_error(s->errmsg, HYD_ECALLBACK,
                         "sample %zu: constants callback failed (%d)",
                         s->index, rc);
  if (!(c->mu > 0.0 && isfinite(c->mu) && isfinite(c->Lg) && c->Lg >= 0.0 &&
        isfinite(c->norm_B) && c->norm_B >= 0.0 && isfinite(c->LB) &&
        c->LB >= 0.0 && isfinite(c->LAinv) && c->LAinv >= 0.0))
    return hyd_set_error(s->errmsg, HYD_ENONFINITE,
                         "sample %zu: constants must be finite, mu > 0 and "
                         "the others >= 0", s->index);
  return HYD_OK;
}

/* Radii of the sandwich g(x) - r_lo <= g(xhat) <= g(x) + r_hi when
 * ||x - xhat|| <= e. A convex g needs no e^2 term below. */
static void sandwich(const hyd_problem *prob, double gn, double Lg, double e,
                     double *r_lo, double *r_hi)
{
  *r_hi = gn * e + 0.5 * Lg * e * e;
  *r_lo = prob->upper_convex ? gn * e : *r_hi;
}

/* The accuracy a solve certifies: its gradient norm over mu, or, for the
 * reference loop, which certifies nothing, the requested eps. */
static double achieved_eps(const hyd_lower_result *lr, double eps)
{
  return isnan(lr->grad_norm) ? eps : lr->grad_norm / lr->mu;
}

/* omega's coefficient of eps (design/maid.md section 2):
 *   c = Lg ||B||/mu + ||B|| LAinv ||grad g|| + LB ||grad g||/mu.
 * Where the problem bounds how much A's action on the adjoint q can change
 * (hvp_change), the middle term, ||B|| times a bound of
 * ||(A(xhat)^-1 - A(x)^-1) grad g|| / eps, can be sharpened: with q* the
 * exact adjoint at x and r = grad g - A(x) q the CG residual,
 *   (A(xhat)^-1 - A(x)^-1) grad g = A(xhat)^-1 (A(x) - A(xhat)) q*
 *     = A(xhat)^-1 (A(x) - A(xhat)) q + (A(xhat)^-1 - A(x)^-1) r,
 * whose norm is at most (M/mu + LAinv ||r||) eps. The smaller of the two
 * is used. have_q: s->q holds an adjoint to take M at. */
static int eps_coefficient(hyd_sample *s, const hyd_oracle_config *cfg,
                           const double *theta, const hyd_constants *c,
                           double gn, double e, double resid, int have_q,
                           double *ci)
{
  double adj = c->LAinv * gn;
  if (have_q && cfg->bound == HYD_BOUND_CERTIFIED && s->prob->hvp_change &&
      adj > 0.0) {
    double M = NAN;
    int rc = s->prob->hvp_change(s->prob->ctx, s->index, theta, s->x, s->q,
                                 e, &M);
    if (rc != 0)
      return hyd_set_error(s->errmsg, HYD_ECALLBACK,
                           "sample %zu: hvp_change callback failed (%d)",
                           s->index, rc);
    if (!(M >= 0.0))
      return hyd_set_error(s->errmsg, HYD_ENONFINITE,
                           "sample %zu: hvp_change result is not finite (%g)",
                           s->index, M);
    double sharp = M / c->mu + c->LAinv * resid;
    adj = sharp < adj ? sharp : adj;
  }
  *ci = c->Lg * c->norm_B / c->mu + adj * c->norm_B + c->LB * gn / c->mu;
  return HYD_OK;
}

/* The residual CG may stop at whatever delta asks: with the certified
 * bound, as much as keeps omega's CG term (||B||/mu) r within cg_balance of
 * its eps terms c e; below that, a smaller residual barely moves omega but
 * costs iterations (with LAinv large, c e can exceed the delta term a
 * thousand times at the delta the method asks for). CG stops at the larger
 * of this room and delta; omega is computed with the residual reached, so
 * it stays a bound. 0 without the certified bound or with cg.balance 0. */
static double cg_room(const hyd_oracle_config *cfg, const hyd_constants *c,
                      double ci, double e)
{
  if (cfg->bound != HYD_BOUND_CERTIFIED || !(cfg->cg_balance > 0.0) ||
      !(c->norm_B > 0.0))
    return 0.0;
  double room = cfg->cg_balance * ci * e * c->mu / c->norm_B;
  return isfinite(room) ? room : 0.0;
}

/* Context of the Hessian-vector product handed to CG. */
typedef struct hvp_ctx {
  hyd_sample *s;
  const double *theta;
  const double *at; /* the point where A is taken */
} hvp_ctx;

static int hvp(void *ctx, const double *v, double *out)
{
  hvp_ctx *c = ctx;
  hyd_sample *s = c->s;
  if (s->interrupt && *s->interrupt)
    return hyd_set_error(s->errmsg, HYD_EINTR,
                         "sample %zu: adjoint solve interrupted", s->index);
  int rc = s->prob->lower_hvp(s->prob->ctx, s->index, c->theta, c->at, v, out);
  if (rc != 0)
    return hyd_set_error(s->errmsg, HYD_ECALLBACK,
                         "sample %zu: Hessian-vector callback failed (%d)",
                         s->index, rc);
  if (!hyd_all_finite(s->n, out))
    return hyd_set_error(s->errmsg, HYD_ENONFINITE,
                         "sample %zu: Hessian-vector product is not finite",
                         s->index);
  return HYD_OK;
}

/* xoshiro256** and Box-Muller: a few lines, no allocation (so allocator
 * fault injection stays exact), deterministic per (seed, sample). */
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t *st)
{
  uint64_t r = rotl(st[1] * 5, 7) * 9, t = st[1] << 17;
  st[2] ^= st[0];
  st[3] ^= st[1];
  st[1] ^= st[2];
  st[0] ^= st[3];
  st[2] ^= t;
  st[3] = rotl(st[3], 45);
  return r;
}

static void seed_rng(hyd_sample *s, unsigned long seed)
{
  uint64_t z = (uint64_t)seed * 0x9E3779B97F4A7C15u + s->index + 1;
  for (int k = 0; k < 4; k++) { /* splitmix64 */
    z += 0x9E3779B97F4A7C15u;
    uint64_t v = z;
    v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9u;
    v = (v ^ (v >> 27)) * 0x94D049BB133111EBu;
    s->rng[k] = v ^ (v >> 31);
  }
  s->rng_seeded = 1;
}

static double uniform01(uint64_t *st)
{
  return ((double)(next_u64(st) >> 11) + 0.5) * 0x1.0p-53;
}

static void fill_normal(uint64_t *st, size_t n, double *v)
{
  for (size_t j = 0; j < n; j += 2) {
    double r = sqrt(-2.0 * log(uniform01(st))), a = 6.283185307179586 * uniform01(st);
    v[j] = r * cos(a);
    if (j + 1 < n)
      v[j + 1] = r * sin(a);
  }
}


/* The reference's estimates of LB and LAinv (design/maid.md section 4): at
 * a random point, how much B^T q and the adjoint solve change. Its extra CG
 * solve is counted, as the reference counts it. Constant A and B give 0
 * exactly, since the same products run on the same numbers. */
static int reference_estimates(hyd_sample *s, const hyd_oracle_config *cfg,
                               const double *theta, double delta,
                               const double *z_i, double *cg_iters);

int hyd_sample_evaluate(hyd_sample *s, const hyd_oracle_config *cfg,
                        const double *theta, double eps, double delta,
                        hyd_sample_eval *out, double *z_i)
{
  if (!s || !cfg || !theta || !out || !z_i || !(eps > 0.0) || !(delta > 0.0))
    return HYD_EINVAL;
  memset(out, 0, sizeof *out);
  hyd_lower_result lr;
  lr.interrupt = s->interrupt;
  hyd_lower_solve(s->prob, s->index, theta, cfg, eps, s->x, s->work, s->n,
                  &lr, s->errmsg);
  out->lower_iters = (double)lr.iters;
  out->lower_iters_ref = (double)lr.iters_ref;
  out->capped = lr.capped;
  if (lr.status != HYD_OK)
    return lr.status;

  int rc = upper_at(s, s->x, &out->g, s->grad_g);
  hyd_constants c;
  if (rc == HYD_OK)
    rc = constants_at(s, theta, s->x, &c);
  if (rc != HYD_OK)
    return rc;

  double gn = hyd_nrm2(s->n, s->grad_g);
  double e = achieved_eps(&lr, eps);
  double mu = c.mu;
  /* omega's coefficient of eps, first at the warm start (it sets how far
   * CG must go), then at the adjoint CG returns */
  int warm = cfg->cg_warm_start && s->have_q;
  if (!warm)
    hyd_zero(s->n, s->q);
  double ci;
  rc = eps_coefficient(s, cfg, theta, &c, gn, e, 0.0, warm, &ci);
  if (rc != HYD_OK)
    return rc;
  long cg_iters = 0;
  double resid = 0.0;
  hvp_ctx hc = {s, theta, s->x};
  double room = cg_room(cfg, &c, ci, e);
  rc = hyd_cg(s->n, hvp, &hc, s->grad_g, s->q, fmax(room, delta),
              cfg->cg_max_iter, cg_flags(cfg), s->work, &cg_iters, &resid);
  out->cg_iters = (double)cg_iters;
  out->delta_binding = resid <= room ? 0.0 : resid;
  s->have_q = rc == HYD_OK;
  if (rc == HYD_OK)
    rc = eps_coefficient(s, cfg, theta, &c, gn, e, resid, 1, &ci);
  if (rc != HYD_OK)
    return rc;

  rc = s->prob->cross_tprod(s->prob->ctx, s->index, theta, s->x, s->q, z_i);
  if (rc != 0)
    return hyd_set_error(s->errmsg, HYD_ECALLBACK,
                         "sample %zu: B^T q callback failed (%d)", s->index, rc);
  if (!hyd_all_finite(s->p, z_i))
    return hyd_set_error(s->errmsg, HYD_ENONFINITE,
                         "sample %zu: B^T q is not finite", s->index);
  for (size_t j = 0; j < s->p; j++)
    z_i[j] = -z_i[j];
  if (cfg->bound == HYD_BOUND_REFERENCE) {
    rc = reference_estimates(s, cfg, theta, delta, z_i, &out->cg_iters);
    if (rc != HYD_OK)
      return rc;
  }

  double d = resid;
  out->omega = ci * e + (c.norm_B / mu) * d + (c.LB * c.Lg / mu) * e * e;
  sandwich(s->prob, gn, c.Lg, e, &out->radius_lo, &out->radius_hi);
  out->grad_g_norm = gn;
  out->eps_achieved = e;
  out->delta_achieved = d;
  out->mu = mu;
  out->Lg = c.Lg;
  out->norm_B = c.norm_B;
  out->LB = cfg->bound == HYD_BOUND_REFERENCE ? s->ref_LB : c.LB;
  out->LAinv = cfg->bound == HYD_BOUND_REFERENCE ? s->ref_LAinv : c.LAinv;
  /* A non-convex lower level voids the bound whatever the constants say. */
  out->certified = c.certified && !s->prob->lower_nonconvex ? 1.0 : 0.0;
  return HYD_OK;
}

static int reference_estimates(hyd_sample *s, const hyd_oracle_config *cfg,
                               const double *theta, double delta,
                               const double *z_i, double *cg_iters)
{
  if (!s->rng_seeded)
    seed_rng(s, cfg->seed);
  size_t n = s->n, p = s->p;
  /* Scratch: the slot-0 buffer is free outside trials; tmp holds the
   * random point, work the CG vectors. */
  double *point = s->tmp, *q2 = s->slots[0];
  fill_normal(s->rng, n, point);
  hyd_zero(n, q2);
  long iters = 0;
  double resid = 0.0;
  hvp_ctx hc = {s, theta, point};
  int rc = hyd_cg(n, hvp, &hc, s->grad_g, q2, delta, cfg->cg_max_iter,
                  cg_flags(cfg), s->work, &iters, &resid);
  *cg_iters += (double)iters;
  if (rc != HYD_OK)
    return rc;
  double gn = hyd_nrm2(n, s->grad_g), diff = 0.0;
  for (size_t j = 0; j < n; j++)
    diff += (q2[j] - s->q[j]) * (q2[j] - s->q[j]);
  if (gn > 0.0)
    s->ref_LAinv = fmax(s->ref_LAinv, sqrt(diff) / gn);
  /* B^T q at the random point, compared with -z_i = B^T q at x. */
  double *bq = s->ptmp;
  rc = s->prob->cross_tprod(s->prob->ctx, s->index, theta, point, s->q, bq);
  if (rc != 0)
    return hyd_set_error(s->errmsg, HYD_ECALLBACK,
                         "sample %zu: B^T q callback failed (%d)", s->index, rc);
  double qn = hyd_nrm2(n, s->q), d2 = 0.0;
  for (size_t j = 0; j < p; j++)
    d2 += (bq[j] + z_i[j]) * (bq[j] + z_i[j]);
  if (qn > 0.0 && isfinite(d2))
    s->ref_LB = fmax(s->ref_LB, sqrt(d2) / qn);
  return HYD_OK;
}

int hyd_sample_cross_max(hyd_sample *s, const double *theta, const double *z,
                         hyd_sample_eval *out)
{
  if (!s || !theta || !z || !out)
    return HYD_EINVAL;
  if (!s->prob->cross_prod)
    return hyd_set_error(s->errmsg, HYD_EINVAL,
                         "the reference bound needs the problem's cross_prod "
                         "callback (B v)");
  int rc = s->prob->cross_prod(s->prob->ctx, s->index, theta, s->x, z, s->tmp);
  if (rc != 0)
    return hyd_set_error(s->errmsg, HYD_ECALLBACK,
                         "sample %zu: B v callback failed (%d)", s->index, rc);
  double m = 0.0;
  for (size_t j = 0; j < s->n; j++) {
    if (!isfinite(s->tmp[j]))
      return hyd_set_error(s->errmsg, HYD_ENONFINITE,
                           "sample %zu: B v is not finite", s->index);
    m = fmax(m, fabs(s->tmp[j]));
  }
  out->cross_max = m;
  return HYD_OK;
}

int hyd_sample_solve_trial(hyd_sample *s, const hyd_oracle_config *cfg,
                     const double *theta, double eps, size_t slot,
                     hyd_sample_trial *out)
{
  if (!s || !cfg || !theta || !out || slot >= s->n_slots || !(eps > 0.0))
    return HYD_EINVAL;
  memset(out, 0, sizeof *out);
  double *xt = s->slots[slot];
  hyd_copy(s->n, s->x, xt);
  hyd_lower_result lr;
  lr.interrupt = s->interrupt;
  hyd_lower_solve(s->prob, s->index, theta, cfg, eps, xt, s->work, s->n, &lr,
                  s->errmsg);
  out->lower_iters = (double)lr.iters;
  out->lower_iters_ref = (double)lr.iters_ref;
  out->capped = lr.capped;
  if (lr.status != HYD_OK)
    return lr.status;
  int rc = upper_at(s, xt, &out->g, s->tmp);
  hyd_constants c;
  if (rc == HYD_OK)
    rc = constants_at(s, theta, xt, &c);
  if (rc != HYD_OK)
    return rc;
  double gn = hyd_nrm2(s->n, s->tmp);
  out->grad_g_norm = gn;
  out->eps_achieved = achieved_eps(&lr, eps);
  sandwich(s->prob, gn, c.Lg, out->eps_achieved, &out->radius_lo,
           &out->radius_hi);
  return HYD_OK;
}

int hyd_sample_accept(hyd_sample *s, size_t slot)
{
  if (!s || slot >= s->n_slots)
    return HYD_EINVAL;
  double *t = s->x;
  s->x = s->slots[slot];
  s->slots[slot] = t;
  return HYD_OK;
}

const double *hyd_sample_point(const hyd_sample *s) { return s ? s->x : NULL; }
size_t hyd_sample_dim(const hyd_sample *s) { return s ? s->n : 0; }

int hyd_sample_set_point(hyd_sample *s, const double *x)
{
  if (!s || !x)
    return HYD_EINVAL;
  if (!hyd_all_finite(s->n, x))
    return HYD_ENONFINITE;
  hyd_copy(s->n, x, s->x);
  s->have_q = 0;
  return HYD_OK;
}

size_t hyd_sample_state_size(const hyd_sample *s)
{
  return s ? 2 * s->n + 1 : 0;
}

void hyd_sample_save_state(const hyd_sample *s, double *buf)
{
  hyd_copy(s->n, s->x, buf);
  hyd_copy(s->n, s->q, buf + s->n);
  buf[2 * s->n] = s->have_q ? 1.0 : 0.0;
}

int hyd_sample_load_state(hyd_sample *s, const double *buf)
{
  if (!s || !buf)
    return HYD_EINVAL;
  if (!hyd_all_finite(2 * s->n + 1, buf))
    return HYD_ENONFINITE;
  hyd_copy(s->n, buf, s->x);
  hyd_copy(s->n, buf + s->n, s->q);
  s->have_q = buf[2 * s->n] != 0.0;
  return HYD_OK;
}

const char *hyd_sample_errmsg(const hyd_sample *s)
{
  return s ? s->errmsg : "no sample";
}

int hyd_sample_upper_now(hyd_sample *s, double *g)
{
  if (!s || !g)
    return HYD_EINVAL;
  return upper_at(s, s->x, g, s->tmp);
}

int hyd_solve_lower(const hyd_problem *problem, size_t sample,
                    const double *theta, double eps, double *x, long *iters,
                    const hyd_allocator *alloc)
{
  hyd_oracle_config cfg;
  hyd_oracle_config_default(&cfg);
  return hyd_solve_lower_with(problem, sample, theta, eps, cfg.lower_method,
                              x, iters, alloc);
}

int hyd_solve_lower_with(const hyd_problem *problem, size_t sample,
                         const double *theta, double eps, int lower_method,
                         double *x, long *iters, const hyd_allocator *alloc)
{
  if (hyd_problem_check(problem) != HYD_OK || sample >= problem->n_samples ||
      !theta || !x || !(eps > 0.0) || lower_method < HYD_LOWER_FISTA ||
      lower_method > HYD_LOWER_NEWTON_CG)
    return HYD_EINVAL;
  size_t n = problem->lower_dim(problem->ctx, sample);
  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  double *work = hyd_alloc_array(&a, HYD_LOWER_WORK * n, sizeof(double));
  if (!work)
    return HYD_ENOMEM;
  hyd_oracle_config cfg;
  hyd_oracle_config_default(&cfg);
  cfg.lower_method = lower_method;
  hyd_lower_result res;
  res.interrupt = NULL;
  char msg[HYD_ERRMSG_SIZE];
  hyd_lower_solve(problem, sample, theta, &cfg, eps, x, work, n, &res, msg);
  hyd_free(&a, work);
  if (iters)
    *iters = res.iters;
  return res.status;
}

void hyd_sample_set_interrupt(hyd_sample *s,
                              const volatile sig_atomic_t *flag)
{
  if (s)
    s->interrupt = flag;
}
