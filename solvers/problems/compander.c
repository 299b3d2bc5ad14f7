/* The weight compander learned by the bilevel method (hyperd/compander.h):
 * a thin layer over the logistic problem with the compander penalty, whose
 * derivatives and constants live in logistic.c next to the cross-entropy
 * they share. */
#include <math.h>
#include <stdint.h>

#include <hyperd/compander.h>

void hyd_compander_options_default(hyd_compander_options *o)
{
  if (!o)
    return;
  o->grouping = HYD_LOGISTIC_PER_CLASS;
  o->cutoff_tan2 = 100.0;
  o->l2 = 0.0;
  o->lipschitz_radius = 1.0;
  o->flags = 0;
}

size_t hyd_compander_n_theta(const hyd_compander_options *o, size_t d,
                             size_t n_classes)
{
  if (!o)
    return 0;
  size_t G = hyd_logistic_n_theta(o->grouping, d, n_classes);
  return G > SIZE_MAX / 2 ? 0 : 2 * G;
}

int hyd_compander_create(hyd_logistic **out, size_t rows, size_t d,
                         size_t n_classes, const double *X, const int *labels,
                         size_t n_folds, const hyd_logistic_fold *folds,
                         const hyd_compander_options *opt,
                         const hyd_allocator *alloc)
{
  hyd_compander_options o;
  hyd_compander_options_default(&o);
  if (opt)
    o = *opt;
  hyd_logistic_penalty pen = {HYD_LOGISTIC_PENALTY_COMPANDER, o.cutoff_tan2,
                              o.l2, o.lipschitz_radius};
  return hyd_logistic_create_penalized(out, rows, d, n_classes, X, labels,
                                       n_folds, folds, o.grouping, o.flags,
                                       &pen, alloc);
}

int hyd_compander_theta_init(const hyd_compander_options *o, size_t d,
                             size_t n_classes, double kappa0, double *theta)
{
  size_t p = hyd_compander_n_theta(o, d, n_classes);
  if (!p || !theta || !(isfinite(kappa0) && kappa0 > 0.0))
    return HYD_EINVAL;
  for (size_t g = 0; g < p / 2; g++) {
    theta[g] = log(0.5);
    theta[p / 2 + g] = log(kappa0);
  }
  return HYD_OK;
}
