/* hyperd/mlp.h: a one-hidden-layer perceptron whose weights are companded
 * (design/problems.md, compander.md; derivations in docs/problems.md).
 *
 * NOT CERTIFIED: the lower level is non-convex (hidden units can be
 * permuted and, tanh being odd, flipped in sign without changing the
 * network), so the table has lower_nonconvex = 1, every constant is an
 * estimate and every evaluation reports certified = 0. The lower solve
 * finds a stationary point near its (seeded) start, and MAID's
 * hypergradient -B^T A^{-1} grad g is that of implicit differentiation at
 * it: exact where the point is a strict local minimum that moves smoothly
 * with theta, a heuristic otherwise.
 *
 * Network, for a row x in R^d: a = W1^T x (H hidden units, no bias),
 * z = tanh(a) (smooth, so the Hessian-vector product exists; tanh'' is
 * bounded), logits o = W2^T z (C classes, no bias), softmax cross-entropy.
 * The lower-level variable is x = [W1 (d x H, row-major: W1[j*H + h]),
 * W2 (H x C, row-major: W2[h*C + c])], n = (d + C) H values. For fold i:
 *
 *   h_i(W) = (1/n_tr) sum_{r in train_i} CE(o_r, y_r)
 *            + sum_k kappa_g(k) psi(W_k / a_g(k)) + (l2/2) ||W||^2,
 *   g_i(W) = (1/n_val) sum_{r in val_i} CE(o_r, y_r),
 *
 * psi = tan^2 continued quadratically beyond tan^2 = cutoff_tan2 (the same
 * penalty as hyperd/compander.h), theta = [log a_1 .. log a_G,
 * log kappa_1 .. log kappa_G] for the G groups of the grouping.
 * f = mean over folds of g_i.
 *
 * Thread safety: callbacks for different folds may run concurrently; one
 * fold must not be used by two threads at once (each fold caches the
 * hidden activations and probabilities of the last W it saw). No callback
 * allocates. */
#ifndef HYPERD_MLP_H
#define HYPERD_MLP_H

#include <stddef.h>
#include <hyperd/logistic.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hyd_mlp hyd_mlp;

/* Which weights share one (a, kappa). */
enum hyd_mlp_grouping {
  HYD_MLP_SCALAR = 0,    /* G = 1 */
  HYD_MLP_PER_LAYER = 1, /* G = 2: W1, W2 */
  HYD_MLP_PER_UNIT = 2   /* G = H: hidden unit h's weights in and out
                            (column h of W1, row h of W2) */
};

enum hyd_mlp_flag {
  /* Borrow X and labels instead of copying them: they must stay valid and
   * unchanged until the object is destroyed. */
  HYD_MLP_BORROW_DATA = 1u
};

typedef struct hyd_mlp_options {
  size_t hidden;        /* H >= 1, default 32 */
  int grouping;         /* enum hyd_mlp_grouping, default per layer */
  double cutoff_tan2;   /* T in (0, 1e12], default 100 (compander.h) */
  double l2;            /* fixed L2 on every weight, >= 0, default 0 */
  double init_scale;    /* > 0, default 1: the start has W1 ~ N(0, s^2/d),
                           W2 ~ N(0, s^2/H), entrywise */
  unsigned long seed;   /* of the start, default 0 */
  unsigned flags;       /* HYD_MLP_BORROW_DATA or 0 */
} hyd_mlp_options;

void hyd_mlp_options_default(hyd_mlp_options *o);

/* G for the options (0 if the grouping is unknown or hidden is 0). */
size_t hyd_mlp_n_groups(const hyd_mlp_options *o);

/* Builds the problem; arguments as hyd_logistic_create (X rows x d
 * row-major, labels in [0, n_classes), folds' index arrays copied; X and
 * labels copied unless HYD_MLP_BORROW_DATA); opt NULL: defaults.
 * Draws the seeded start (the lower_start callback: the same for every
 * fold and every theta). HYD_EINVAL: NULL pointer, zero size,
 * n_classes < 2, label or index out of range, empty fold part, non-finite
 * X, bad option, size overflow. HYD_ENOMEM: an allocation failed (nothing
 * leaks, *out = NULL). */
int hyd_mlp_create(hyd_mlp **out, size_t rows, size_t d, size_t n_classes,
                   const double *X, const int *labels, size_t n_folds,
                   const hyd_logistic_fold *folds, const hyd_mlp_options *opt,
                   const hyd_allocator *alloc);

/* Frees everything; accepts NULL. */
void hyd_mlp_destroy(hyd_mlp *m);

/* The callback table (borrowed; valid until m is destroyed):
 * n_theta = 2 G, n_samples = n_folds, lower_dim = (d + C) H,
 * upper_convex = 0, lower_nonconvex = 1, lower_start = the seeded start,
 * cross_prod provided. Callbacks return HYD_EINVAL for a fold out of range
 * or a theta whose a or kappa is not a positive finite double.
 *
 * The constants are estimates (certified = 0), at the given W:
 *   mu    = min_g 2 kappa_g/a_g^2 + l2, the penalty's least curvature (the
 *           data term's Hessian can be indefinite);
 *   L     = a bound of the data term's Hessian norm at W (from the rows'
 *           activations) + the penalty's global curvature bound: valid at
 *           W, not along a path, hence an estimate;
 *   Lg    = the same bound for the validation rows;
 *   norm_B, LB as hyperd/compander.h (exact: B is the penalty's alone);
 *   LAinv = (LA_penalty + LA_data) / mu^2, LA_data a finite difference of
 *           the Hessian along a seeded direction. */
const hyd_problem *hyd_mlp_problem(const hyd_mlp *m);

/* Sizes: features, hidden units, classes (pointers may be NULL). */
int hyd_mlp_sizes(const hyd_mlp *m, size_t *d, size_t *hidden,
                  size_t *n_classes);

/* The theta of a = a0, kappa = kappa0 for every group (2 G values).
 * HYD_EINVAL unless both are positive and finite. */
int hyd_mlp_theta_init(const hyd_mlp *m, double a0, double kappa0,
                       double *theta);

/* Mean cross-entropy and accuracy (largest logit, lowest index on ties) of
 * the network W on the given rows of X (rows == NULL: all rows). loss or
 * accuracy may be NULL. Allocates H + C doubles. */
int hyd_mlp_evaluate(const hyd_mlp *m, const double *W, const size_t *rows,
                     size_t n_rows, double *loss, double *accuracy);

#ifdef __cplusplus
}
#endif
#endif
