/* hyperd/compander.h: the weight compander's hyperparameters learned by the
 * bilevel method (design/compander.md, problems.md; derivations in
 * docs/problems.md).
 *
 * Multinomial logistic regression (hyperd/logistic.h) whose weights are
 * companded, in the strongly convex w-space form
 *   h(W) = CE_train(X W) + sum_{j,c} kappa_g psi(W_jc / a_g) + (l2/2)||W||^2,
 * psi = tan^2 continued quadratically beyond tan^2 = cutoff_tan2 (see
 * hyd_logistic_penalty), g = CE on the validation rows.
 * theta = [log a_1 .. log a_G, log kappa_1 .. log kappa_G], G groups as in
 * hyd_logistic (scalar, per feature, per class, per weight).
 *
 * The object is a hyd_logistic: use hyd_logistic_problem, _evaluate,
 * _compander_inside and _destroy on it. */
#ifndef HYPERD_COMPANDER_H
#define HYPERD_COMPANDER_H

#include <stddef.h>
#include <hyperd/logistic.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hyd_compander_options {
  int grouping;       /* enum hyd_logistic_grouping, default per class */
  double cutoff_tan2; /* T, default 100: |W| up to a atan(10) = 0.94 a pi/2
                         is the paper's barrier; the curvature bound L grows
                         as 6 T^2 kappa/a^2 */
  double l2;          /* fixed L2 on W, default 0 (kappa keeps mu > 0) */
  double lipschitz_radius; /* see hyd_logistic_penalty; default 1 (MAID's
                              eps0 is 0.1) */
  unsigned flags;     /* HYD_LOGISTIC_BORROW_DATA or 0 */
} hyd_compander_options;

void hyd_compander_options_default(hyd_compander_options *o);

/* 2 G for the options' grouping (0 if unknown or on overflow). */
size_t hyd_compander_n_theta(const hyd_compander_options *o, size_t d,
                             size_t n_classes);

/* Arguments as hyd_logistic_create; opt NULL: defaults. */
int hyd_compander_create(hyd_logistic **out, size_t rows, size_t d,
                         size_t n_classes, const double *X, const int *labels,
                         size_t n_folds, const hyd_logistic_fold *folds,
                         const hyd_compander_options *opt,
                         const hyd_allocator *alloc);

/* The paper's learned-variant start a = 0.5 and a kappa: theta for all
 * groups (2 G values) = (log 0.5, log kappa0). */
int hyd_compander_theta_init(const hyd_compander_options *o, size_t d,
                             size_t n_classes, double kappa0, double *theta);

#ifdef __cplusplus
}
#endif
#endif
