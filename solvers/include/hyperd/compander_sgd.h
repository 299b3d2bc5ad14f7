/* hyperd/compander_sgd.h: the weight compander trained the paper's way
 * (Cakaj et al. 2023; design/compander.md, "the paper's two variants"), as
 * baselines for the bilevel-learned compander (hyperd/compander.h).
 *
 * Multinomial logistic regression without bias, W in R^{d x C} (row-major,
 * W[j*C + c]), reparameterised weight by weight as
 *   W = Psi(V; a_g, b_g) = a_g atan(V / b_g),   g = group of the weight
 * (groupings as hyd_logistic: scalar, per feature, per class, per weight).
 * The optimiser updates V (and in the learned variant a, b); the model is
 * W. On a batch S of training rows the objective is
 *   fixed   (paper variant 1):  CE_S(X W) + (lambda/2) ||Psi(V)||^2
 *   learned (paper variant 2):  CE_S(X W) + (lambda/2) ||V||^2
 * CE_S the mean cross-entropy over S. The fixed variant keeps (a, b); the
 * learned one updates every (a_g, b_g) with the same SGD step as V, on the
 * training objective, from a = 0.5, b = 1 by default (design/compander.md
 * explains why that is degenerate: only the dynamics keep b from 0).
 *
 * Training: minibatch SGD with heavy-ball momentum, a cosine step schedule
 * from learning_rate to 0 over the epochs, the rows reshuffled every epoch.
 * Deterministic: the object's GSL RNG (mt19937) is re-seeded with `seed` at
 * the start of every run, and it draws the start and the shuffles; sums run
 * in a fixed order. No callback, no I/O. */
#ifndef HYPERD_COMPANDER_SGD_H
#define HYPERD_COMPANDER_SGD_H

#include <stddef.h>
#include <hyperd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hyd_compander_sgd hyd_compander_sgd;

enum hyd_compander_variant {
  HYD_COMPANDER_FIXED = 0,  /* (a, b) fixed; weight decay on Psi(V) */
  HYD_COMPANDER_LEARNED = 1 /* (a, b) by SGD on the training objective;
                               weight decay on V */
};

typedef struct hyd_compander_sgd_options {
  int variant;          /* enum hyd_compander_variant; default FIXED */
  int grouping;         /* enum hyd_logistic_grouping; default scalar (the
                           paper's one (a, b) per layer) */
  double a, b;          /* fixed values, or the learned start; > 0;
                           default 0.5, 1 */
  double weight_decay;  /* lambda >= 0; default 1e-3 */
  double learning_rate; /* peak step > 0; default 0.1 */
  double momentum;      /* in [0, 1); default 0.9 */
  size_t epochs;        /* >= 1; default 50 */
  size_t batch_size;    /* >= 1; default 64 (>= n_train: full batch) */
  double init_scale;    /* start W_0 ~ N(0, init_scale^2) clipped to
                           |W_0| <= a/2, V_0 = b tan(W_0 / a); >= 0
                           (0: V_0 = 0); default 0.01 */
  double ab_min;        /* learned: a and b are kept >= ab_min > 0 after
                           each step (projection); default 1e-3 */
  unsigned long seed;   /* default 0 */
} hyd_compander_sgd_options;

void hyd_compander_sgd_options_default(hyd_compander_sgd_options *o);

/* Builds a trainer over the training rows `train` (n_train indices into
 * the rows x d row-major X, labels in [0, n_classes)). X and labels are
 * BORROWED: they must stay valid and unchanged while the object lives;
 * train and the options are copied. Allocates O(d C + n_train + G).
 * HYD_EINVAL: NULL pointer, zero size, n_classes < 2, label or index out
 * of range, unknown variant or grouping, an option out of its range.
 * HYD_ENOMEM: an allocation failed (*out = NULL, nothing leaks). */
int hyd_compander_sgd_create(hyd_compander_sgd **out, size_t rows, size_t d,
                             size_t n_classes, const double *X,
                             const int *labels, const size_t *train,
                             size_t n_train,
                             const hyd_compander_sgd_options *opt,
                             const hyd_allocator *alloc);

/* Frees everything; accepts NULL. */
void hyd_compander_sgd_destroy(hyd_compander_sgd *s);

/* G, the number of (a, b) pairs for the options' grouping. */
size_t hyd_compander_sgd_n_groups(const hyd_compander_sgd *s);

/* The variant's objective over the given training-row positions
 * (batch[k] < n_train indexes the `train` list given to create; batch NULL:
 * all training rows, n ignored) at (V, a, b), and, for each non-NULL
 * output, its gradient in V (d C values), a (G) and b (G), whatever the
 * variant (the fixed one simply does not use the last two).
 * HYD_EINVAL: NULL s, V, a or b, a or b not positive, empty batch, a
 * position out of range. HYD_ENONFINITE: a non-finite value. */
int hyd_compander_sgd_objective(hyd_compander_sgd *s, const size_t *batch,
                                size_t n, const double *V, const double *a,
                                const double *b, double *value,
                                double *grad_V, double *grad_a,
                                double *grad_b);

/* What a run ends with. */
typedef struct hyd_compander_sgd_result {
  double objective;  /* the objective over all training rows at the end */
  double train_ce;   /* its cross-entropy part */
  size_t projected;  /* learned: how many (a or b) updates hit ab_min */
  size_t steps;      /* SGD steps taken */
} hyd_compander_sgd_result;

/* Trains from the seeded start for the options' epochs. W (d C values,
 * required) receives Psi(V) at the end: plain weights for prediction (e.g.
 * hyd_logistic_evaluate). a, b (G values each, may be NULL) receive the
 * final (a_g, b_g); res may be NULL. Repeatable: the same object and
 * options give bitwise the same output.
 * HYD_EINVAL: NULL s or W. HYD_ENONFINITE: the iterates diverged (a step
 * too large for the data). */
int hyd_compander_sgd_run(hyd_compander_sgd *s, double *W, double *a,
                          double *b, hyd_compander_sgd_result *res);

#ifdef __cplusplus
}
#endif
#endif
