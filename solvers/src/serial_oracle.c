/* The serial oracle: every sample in this process, evaluated in a loop. */
#include <string.h>

#include "internal.h"

struct hyd_serial_oracle {
  const hyd_problem *prob;
  hyd_allocator alloc;
  hyd_oracle_config cfg;
  size_t m, p;
  hyd_sample **samples;
  hyd_sample_eval *parts;
  hyd_sample_trial *trial_parts;
  double *z_parts; /* m x p */
  const char *last_error;
  char errmsg[HYD_ERRMSG_SIZE];
};

void hyd_serial_oracle_destroy(hyd_serial_oracle *o)
{
  if (!o)
    return;
  const hyd_allocator *a = &o->alloc;
  if (o->samples)
    for (size_t i = 0; i < o->m; i++)
      hyd_sample_destroy(o->samples[i]);
  hyd_free(a, o->samples);
  hyd_free(a, o->parts);
  hyd_free(a, o->trial_parts);
  hyd_free(a, o->z_parts);
  hyd_allocator copy = o->alloc;
  hyd_free(&copy, o);
}

int hyd_serial_oracle_create(hyd_serial_oracle **out,
                             const hyd_problem *problem,
                             const double *theta0, const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  if (hyd_problem_check(problem) != HYD_OK || !theta0)
    return HYD_EINVAL;
  hyd_allocator a;
  hyd_allocator_init(&a, alloc);
  hyd_serial_oracle *o = hyd_alloc_array(&a, 1, sizeof *o);
  if (!o)
    return HYD_ENOMEM;
  memset(o, 0, sizeof *o);
  o->alloc = a;
  o->prob = problem;
  o->m = problem->n_samples;
  o->p = problem->n_theta;
  hyd_oracle_config_default(&o->cfg);
  o->samples = hyd_alloc_array(&a, o->m, sizeof(hyd_sample *));
  o->parts = hyd_alloc_array(&a, o->m, sizeof(hyd_sample_eval));
  o->trial_parts = hyd_alloc_array(&a, o->m, sizeof(hyd_sample_trial));
  o->z_parts = hyd_alloc_array(&a, o->m * o->p, sizeof(double));
  if (!o->samples || !o->parts || !o->trial_parts || !o->z_parts) {
    hyd_free(&a, o->samples);
    o->samples = NULL;
    hyd_serial_oracle_destroy(o);
    return HYD_ENOMEM;
  }
  memset(o->samples, 0, o->m * sizeof(hyd_sample *));
  for (size_t i = 0; i < o->m; i++) {
    int rc = hyd_sample_create(&o->samples[i], problem, i, theta0, 1, &a);
    if (rc != HYD_OK) {
      hyd_serial_oracle_destroy(o);
      return rc;
    }
  }
  o->errmsg[0] = '\0';
  *out = o;
  return HYD_OK;
}

void hyd_serial_oracle_set_interrupt(hyd_serial_oracle *o,
                                     const volatile sig_atomic_t *flag)
{
  if (o)
    for (size_t i = 0; i < o->m; i++)
      hyd_sample_set_interrupt(o->samples[i], flag);
}

static int configure(void *self, const hyd_oracle_config *cfg)
{
  hyd_serial_oracle *o = self;
  o->cfg = *cfg;
  return HYD_OK;
}

/* Remembers which sample failed so that errmsg can show its text. */
static int fail(hyd_serial_oracle *o, size_t i, int rc)
{
  hyd_set_error(o->errmsg, rc, "%s", hyd_sample_errmsg(o->samples[i]));
  if (o->errmsg[0] == '\0')
    hyd_set_error(o->errmsg, rc, "sample %zu: %s", i, hyd_strerror(rc));
  return rc;
}

static int evaluate(void *self, const double *theta, double eps, double delta,
                    hyd_eval *out)
{
  hyd_serial_oracle *o = self;
  for (size_t i = 0; i < o->m; i++) {
    int rc = hyd_sample_evaluate(o->samples[i], &o->cfg, theta, eps, delta,
                                 &o->parts[i], o->z_parts + i * o->p);
    if (rc != HYD_OK)
      return fail(o, i, rc);
  }
  hyd_eval_reduce(&o->cfg, o->m, o->p, o->parts, o->z_parts, eps, delta, out);
  if (o->cfg.bound == HYD_BOUND_REFERENCE) {
    /* The reference's bound needs z first: a second pass over samples. */
    for (size_t i = 0; i < o->m; i++) {
      int rc = hyd_sample_cross_max(o->samples[i], theta, out->z, &o->parts[i]);
      if (rc != HYD_OK)
        return fail(o, i, rc);
    }
    hyd_eval_reduce(&o->cfg, o->m, o->p, o->parts, o->z_parts, eps, delta, out);
  }
  return HYD_OK;
}

static int trials(void *self, size_t n, const double *const *thetas, double eps,
                  hyd_trial *out)
{
  hyd_serial_oracle *o = self;
  if (n != 1)
    return hyd_set_error(o->errmsg, HYD_EINVAL,
                         "the serial oracle solves one trial point at a time");
  for (size_t i = 0; i < o->m; i++) {
    int rc = hyd_sample_solve_trial(o->samples[i], &o->cfg, thetas[0], eps, 0,
                              &o->trial_parts[i]);
    if (rc != HYD_OK)
      return fail(o, i, rc);
  }
  hyd_trial_reduce(o->m, o->trial_parts, out);
  return HYD_OK;
}

static int accept(void *self, size_t k)
{
  hyd_serial_oracle *o = self;
  for (size_t i = 0; i < o->m; i++) {
    int rc = hyd_sample_accept(o->samples[i], k);
    if (rc != HYD_OK)
      return fail(o, i, rc);
  }
  return HYD_OK;
}

static int upper_now(void *self, double *g)
{
  hyd_serial_oracle *o = self;
  double sum = 0.0;
  for (size_t i = 0; i < o->m; i++) {
    double gi;
    int rc = hyd_sample_upper_now(o->samples[i], &gi);
    if (rc != HYD_OK)
      return fail(o, i, rc);
    sum += gi;
  }
  *g = sum / (double)o->m;
  return HYD_OK;
}

static size_t max_trials(void *self)
{
  (void)self;
  return 1;
}

static size_t state_size(void *self)
{
  hyd_serial_oracle *o = self;
  size_t total = 0;
  for (size_t i = 0; i < o->m; i++)
    total += hyd_sample_state_size(o->samples[i]);
  return total;
}

static int save_state(void *self, double *buf)
{
  hyd_serial_oracle *o = self;
  for (size_t i = 0; i < o->m; i++) {
    hyd_sample_save_state(o->samples[i], buf);
    buf += hyd_sample_state_size(o->samples[i]);
  }
  return HYD_OK;
}

static int load_state(void *self, const double *buf)
{
  hyd_serial_oracle *o = self;
  for (size_t i = 0; i < o->m; i++) {
    int rc = hyd_sample_load_state(o->samples[i], buf);
    if (rc != HYD_OK)
      return hyd_set_error(o->errmsg, rc, "warm start of sample %zu is not "
                           "finite", i);
    buf += hyd_sample_state_size(o->samples[i]);
  }
  return HYD_OK;
}

static const char *errmsg(void *self)
{
  hyd_serial_oracle *o = self;
  return o->errmsg;
}

/* No keep operations: the states are here already, and hyd_maid_keep's
 * copy of save_state's output is as cheap as any. */
static const hyd_oracle_ops serial_ops = {
    HYD_ORACLE_VERSION, configure, evaluate, trials, accept, upper_now,
    max_trials, state_size, save_state, load_state, errmsg, NULL, NULL};

hyd_oracle hyd_serial_oracle_as_oracle(hyd_serial_oracle *o)
{
  hyd_oracle or = {&serial_ops, o};
  return or;
}

void hyd_oracle_config_default(hyd_oracle_config *cfg)
{
  cfg->lower_method = HYD_LOWER_FISTA;
  cfg->bound = HYD_BOUND_CERTIFIED;
  cfg->lower_restart = 1;
  cfg->cg_warm_start = 1;
  cfg->lower_max_iter = 100000;
  cfg->cg_max_iter = 10000;
  cfg->stop_scale = 1.0;
  cfg->seed = 0;
  cfg->float32 = 0;
  cfg->cg_balance = 0.1;
}
