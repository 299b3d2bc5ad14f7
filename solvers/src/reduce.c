/* Reductions of per-sample results, always in sample order so that the
 * numbers do not depend on how samples were spread over processes. */
#include <math.h>
#include <string.h>

#include "internal.h"

void hyd_cost_add(hyd_cost *total, const hyd_cost *part)
{
  total->lower_iters += part->lower_iters;
  total->cg_iters += part->cg_iters;
  total->lower_batches += part->lower_batches;
  total->cg_batches += part->cg_batches;
  total->lower_iters_ref += part->lower_iters_ref;
  total->evaluations += part->evaluations;
  total->trials += part->trials;
  total->capped_solves += part->capped_solves;
}

void hyd_eval_reduce(const hyd_oracle_config *cfg, size_t m, size_t p,
                     const hyd_sample_eval *parts, const double *z_parts,
                     double eps, double delta, hyd_eval *out)
{
  double *z = out->z;
  hyd_zero(p, z);
  double omega = 0, lo = 0, hi = 0, g = 0, gn2 = 0, e_max = 0, d_max = 0, d_bind = 0;
  double mu_min = INFINITY, bx = 0, lb = 0, lainv = 0, lg = 0;
  int certified = 1;
  hyd_cost cost;
  memset(&cost, 0, sizeof cost);
  for (size_t i = 0; i < m; i++) {
    const hyd_sample_eval *s = &parts[i];
    hyd_axpy(p, 1.0, z_parts + i * p, z);
    omega += s->omega;
    lo += s->g - s->radius_lo;
    hi += s->g + s->radius_hi;
    g += s->g;
    gn2 += s->grad_g_norm * s->grad_g_norm;
    e_max = fmax(e_max, s->eps_achieved);
    d_max = fmax(d_max, s->delta_achieved);
    d_bind = fmax(d_bind, s->delta_binding);
    mu_min = fmin(mu_min, s->mu);
    bx = fmax(bx, s->cross_max);
    lb = fmax(lb, s->LB);
    lainv = fmax(lainv, s->LAinv);
    certified = certified && s->certified != 0.0;
    cost.lower_iters += s->lower_iters;
    cost.cg_iters += s->cg_iters;
    cost.lower_iters_ref = fmax(cost.lower_iters_ref, s->lower_iters_ref);
    lg = fmax(lg, s->Lg);
    cost.lower_batches = fmax(cost.lower_batches, s->lower_iters);
    cost.cg_batches = fmax(cost.cg_batches, s->cg_iters);
    cost.capped_solves += s->capped;
  }
  double inv_m = 1.0 / (double)m;
  for (size_t j = 0; j < p; j++)
    z[j] *= inv_m;
  out->z_norm = hyd_nrm2(p, z);
  out->omega_certified = omega * inv_m;
  out->f_lo = lo * inv_m;
  out->f_hi = hi * inv_m;
  out->g = g * inv_m;
  out->grad_g_norm = sqrt(gn2) * inv_m;
  out->eps_achieved = e_max;
  out->delta_achieved = d_max;
  out->delta_binding = d_bind;
  out->Lg = lg;
  cost.evaluations = 1;
  out->cost = cost;
  if (cfg->bound == HYD_BOUND_REFERENCE) {
    /* The reference's proxy on the stacked problem: Bx = max_j |(B z)_j|,
     * nominal accuracies, Lg left out of c. Not a certified bound. */
    double gn = out->grad_g_norm;
    double c = bx / mu_min + lainv * gn * bx + lb * gn / mu_min;
    out->omega = c * eps + (bx / mu_min) * delta + (lb / mu_min) * eps * eps;
    out->certified = 0;
  } else {
    out->omega = out->omega_certified;
    out->certified = certified;
  }
}

void hyd_trial_reduce(size_t m, const hyd_sample_trial *parts, hyd_trial *out)
{
  double lo = 0, hi = 0, g = 0, gn2 = 0, e_max = 0;
  memset(&out->cost, 0, sizeof out->cost);
  for (size_t i = 0; i < m; i++) {
    const hyd_sample_trial *s = &parts[i];
    lo += s->g - s->radius_lo;
    hi += s->g + s->radius_hi;
    g += s->g;
    gn2 += s->grad_g_norm * s->grad_g_norm;
    e_max = fmax(e_max, s->eps_achieved);
    out->cost.lower_iters += s->lower_iters;
    out->cost.lower_iters_ref =
        fmax(out->cost.lower_iters_ref, s->lower_iters_ref);
    out->cost.lower_batches = fmax(out->cost.lower_batches, s->lower_iters);
    out->cost.capped_solves += s->capped;
  }
  double inv_m = 1.0 / (double)m;
  out->f_lo = lo * inv_m;
  out->f_hi = hi * inv_m;
  out->g = g * inv_m;
  out->grad_g_norm = sqrt(gn2) * inv_m;
  out->eps_achieved = e_max;
  out->cost.trials = 1;
}
