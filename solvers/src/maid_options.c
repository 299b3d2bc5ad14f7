/* MAID's options by name (PETSc style): one table maps each name to its
 * field, type and range, so study files and command lines reach every
 * setting without a list of their own. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maid_internal.h"

void hyd_maid_options_default(hyd_maid_options *o, int method)
{
  memset(o, 0, sizeof *o);
  o->method = method;
  o->eps0 = 1e-1;
  o->delta0 = 1e-1;
  o->alpha0 = 1e-2;
  o->rho = 0.5;
  o->rho_up = 10.0 / 9.0;
  o->nu_down = 0.5;
  o->nu_up = 1.05;
  o->eta = 1e-4;
  o->c_armijo = 1e-8;
  o->bt_max0 = 10;
  o->eps_min = 1e-14;
  o->delta_min = 1e-14;
  o->gtol = 0.0;
  o->max_iter = 1000;
  o->budget = INFINITY;
  o->stall_rounds = 5;
  hyd_oracle_config_default(&o->oracle);
  o->hoag_schedule = HYD_HOAG_GEOMETRIC;
  o->hoag_L0 = 0.0;
  o->ref_rounds = 3;
  o->ref_budget = 1e6;
  if (method == HYD_METHOD_REFERENCE) {
    o->oracle.lower_method = HYD_LOWER_GD_REFERENCE;
    o->oracle.bound = HYD_BOUND_REFERENCE;
    o->oracle.cg_warm_start = 0;
    o->oracle.lower_restart = 0;
    o->oracle.lower_max_iter = 2000;
    o->oracle.cg_max_iter = 2000;
    o->oracle.float32 = 1;
    o->oracle.cg_balance = 0.0;
    o->max_iter = 3000;
  }
  if (method == HYD_METHOD_HOAG) /* HOAG's schedule sets CG's tolerance */
    o->oracle.cg_balance = 0.0;
}

typedef enum { T_DOUBLE, T_LONG, T_BOOL, T_ENUM } opt_type;

typedef struct opt_def {
  const char *name;
  opt_type type;
  size_t offset;
  double lo, hi;        /* inclusive range for numbers */
  int lo_open;          /* 1: value must be > lo */
  const char *const *choices; /* T_ENUM: names in value order, NULL-ended */
  const char *help;
} opt_def;

static const char *const method_names[] = {"rigorous", "reference", "fixed",
                                           "hoag", NULL};
static const char *const lower_names[] = {"fista", "gd", "gd_reference",
                                          "newton_cg", NULL};
static const char *const bound_names[] = {"certified", "reference", NULL};
static const char *const schedule_names[] = {"geometric", "quadratic", "cubic",
                                             NULL};

#define OFF(f) offsetof(hyd_maid_options, f)
#define OOFF(f) (offsetof(hyd_maid_options, oracle) + offsetof(hyd_oracle_config, f))
static const opt_def options[] = {
    {"method", T_ENUM, OFF(method), 0, 0, 0, method_names, "the method"},
    {"eps0", T_DOUBLE, OFF(eps0), 0, INFINITY, 1, NULL, "initial lower-level accuracy"},
    {"delta0", T_DOUBLE, OFF(delta0), 0, INFINITY, 1, NULL, "initial adjoint accuracy"},
    {"alpha0", T_DOUBLE, OFF(alpha0), 0, INFINITY, 1, NULL, "first step"},
    {"rho", T_DOUBLE, OFF(rho), 0, 1, 1, NULL, "backtracking factor"},
    {"rho_up", T_DOUBLE, OFF(rho_up), 1, INFINITY, 0, NULL, "step growth after success"},
    {"nu_down", T_DOUBLE, OFF(nu_down), 0, 1, 1, NULL, "accuracy tightening"},
    {"nu_up", T_DOUBLE, OFF(nu_up), 1, INFINITY, 0, NULL, "accuracy loosening after success"},
    {"eta", T_DOUBLE, OFF(eta), 0, 1, 1, NULL, "descent margin"},
    {"c_armijo", T_DOUBLE, OFF(c_armijo), 0, 1, 0, NULL, "sufficient decrease constant"},
    {"bt_max0", T_LONG, OFF(bt_max0), 1, 1e6, 0, NULL, "backtracking trials in the first round"},
    {"eps_min", T_DOUBLE, OFF(eps_min), 0, INFINITY, 1, NULL, "accuracy floor"},
    {"delta_min", T_DOUBLE, OFF(delta_min), 0, INFINITY, 1, NULL, "adjoint accuracy floor"},
    {"gtol", T_DOUBLE, OFF(gtol), 0, INFINITY, 0, NULL, "stop when ||z|| + omega <= gtol"},
    {"max_iter", T_LONG, OFF(max_iter), 0, 1e15, 0, NULL, "outer iterations"},
    {"budget", T_DOUBLE, OFF(budget), 0, INFINITY, 1, NULL, "lower-level + CG iterations"},
    {"stall_rounds", T_LONG, OFF(stall_rounds), 1, 1e9, 0, NULL, "fixed accuracy: failed rounds before stalled"},
    {"lower.method", T_ENUM, OOFF(lower_method), 0, 0, 0, lower_names, "lower-level solver"},
    {"lower.restart", T_BOOL, OOFF(lower_restart), 0, 1, 0, NULL, "FISTA gradient restart"},
    {"lower.max_iter", T_LONG, OOFF(lower_max_iter), 1, 1e15, 0, NULL, "cap per lower-level solve"},
    {"cg.max_iter", T_LONG, OOFF(cg_max_iter), 1, 1e15, 0, NULL, "cap per CG solve"},
    {"cg.balance", T_DOUBLE, OOFF(cg_balance), 0, 1, 0, NULL, "CG's share of omega that lets it stop above delta (0: stop at delta)"},
    {"cg.warm_start", T_BOOL, OOFF(cg_warm_start), 0, 1, 0, NULL, "start CG from the previous adjoint"},
    {"bound", T_ENUM, OOFF(bound), 0, 0, 0, bound_names, "error bound formula"},
    {"hoag.schedule", T_ENUM, OFF(hoag_schedule), 0, 0, 0, schedule_names, "HOAG accuracy schedule"},
    {"hoag.L0", T_DOUBLE, OFF(hoag_L0), 0, INFINITY, 0, NULL, "HOAG initial Lipschitz estimate (0: ||z_0||)"},
    {"ref.rounds", T_LONG, OFF(ref_rounds), 1, 1000, 0, NULL, "reference: rounds per iteration"},
    {"ref.stop_scale", T_DOUBLE, OOFF(stop_scale), 0, INFINITY, 1, NULL, "reference: s in ||grad h||/(s mu) < eps"},
    {"ref.budget", T_DOUBLE, OFF(ref_budget), 0, INFINITY, 1, NULL, "reference: lower-level iteration budget"},
    {"ref.float32", T_BOOL, OOFF(float32), 0, 1, 0, NULL, "reference: CG in float32 arithmetic"},
    {"seed", T_LONG, OOFF(seed), 0, 1e18, 0, NULL, "seed of the random estimates"},
};
#undef OFF
#undef OOFF
#define N_OPTIONS (sizeof options / sizeof options[0])

const char *hyd_maid_option_name(size_t i)
{
  return i < N_OPTIONS ? options[i].name : NULL;
}

static const opt_def *find(const char *name)
{
  /* "maid.eps0" and "eps0" name the same option. */
  if (strncmp(name, "maid.", 5) == 0)
    name += 5;
  for (size_t i = 0; i < N_OPTIONS; i++)
    if (strcmp(options[i].name, name) == 0)
      return &options[i];
  return NULL;
}

static int parse_double(const char *text, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  while (*end == ' ')
    end++;
  if (end == text || *end != '\0' || errno == ERANGE)
    return 0;
  *out = v;
  return 1;
}

static int parse_bool(const char *text, int *out)
{
  static const char *const yes[] = {"1", "true", "yes", "on"};
  static const char *const no[] = {"0", "false", "no", "off"};
  for (size_t i = 0; i < 4; i++) {
    if (strcmp(text, yes[i]) == 0) {
      *out = 1;
      return 1;
    }
    if (strcmp(text, no[i]) == 0) {
      *out = 0;
      return 1;
    }
  }
  return 0;
}

int hyd_maid_options_set(hyd_maid_options *o, const char *name,
                         const char *value, char *err)
{
  const opt_def *d = find(name);
  if (!d)
    return hyd_set_error(err, HYD_ENOOPTION, "unknown option '%s'", name);
  char *field = (char *)o + d->offset;
  switch (d->type) {
  case T_ENUM:
    for (int k = 0; d->choices[k]; k++)
      if (strcmp(d->choices[k], value) == 0) {
        if (d->offset == offsetof(hyd_maid_options, method))
          hyd_maid_options_default(o, k); /* a method brings its defaults */
        else
          *(int *)field = k;
        return HYD_OK;
      }
    return hyd_set_error(err, HYD_EINVAL, "option '%s': '%s' is not one of "
                         "its choices", d->name, value);
  case T_BOOL: {
    int b;
    if (!parse_bool(value, &b))
      return hyd_set_error(err, HYD_EINVAL,
                           "option '%s': '%s' is not a boolean", d->name, value);
    *(int *)field = b;
    return HYD_OK;
  }
  default: {
    double v;
    if (!parse_double(value, &v) || isnan(v))
      return hyd_set_error(err, HYD_EINVAL, "option '%s': '%s' is not a number",
                           d->name, value);
    int below = d->lo_open ? !(v > d->lo) : !(v >= d->lo);
    if (below || v > d->hi)
      return hyd_set_error(err, HYD_EINVAL,
                           "option '%s': %s is out of range (%s%g, %g]",
                           d->name, value, d->lo_open ? ">" : ">=", d->lo,
                           d->hi);
    if (d->type == T_LONG) {
      if (v != floor(v))
        return hyd_set_error(err, HYD_EINVAL,
                             "option '%s': '%s' is not an integer", d->name,
                             value);
      if (d->offset == offsetof(hyd_maid_options, oracle) +
                           offsetof(hyd_oracle_config, seed))
        *(unsigned long *)field = (unsigned long)v;
      else
        *(long *)field = (long)v;
    } else {
      *(double *)field = v;
    }
    return HYD_OK;
  }
  }
}

int hyd_maid_options_get(const hyd_maid_options *o, const char *name,
                         char *buf, size_t size)
{
  const opt_def *d = find(name);
  if (!d)
    return HYD_ENOOPTION;
  const char *field = (const char *)o + d->offset;
  switch (d->type) {
  case T_ENUM:
    snprintf(buf, size, "%s", d->choices[*(const int *)field]);
    break;
  case T_BOOL:
    snprintf(buf, size, "%s", *(const int *)field ? "true" : "false");
    break;
  case T_LONG:
    if (d->offset == offsetof(hyd_maid_options, oracle) +
                         offsetof(hyd_oracle_config, seed))
      snprintf(buf, size, "%lu", *(const unsigned long *)field);
    else
      snprintf(buf, size, "%ld", *(const long *)field);
    break;
  default:
    snprintf(buf, size, "%.17g", *(const double *)field);
    break;
  }
  return HYD_OK;
}

int hyd_maid_options_check(const hyd_maid_options *o, char *err)
{
  if (o->eps_min > o->eps0)
    return hyd_set_error(err, HYD_EINVAL, "eps_min (%g) exceeds eps0 (%g)",
                         o->eps_min, o->eps0);
  if (o->delta_min > o->delta0)
    return hyd_set_error(err, HYD_EINVAL, "delta_min (%g) exceeds delta0 (%g)",
                         o->delta_min, o->delta0);
  return HYD_OK;
}
