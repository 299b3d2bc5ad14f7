/* hyperd/logistic.h: multinomial logistic regression without bias, with
 * learned L2 weights (design/problems.md; constants derived in
 * docs/problems.md).
 *
 * W in R^{d x C}, the lower-level variable x = W flattened row-major
 * (x[j*C + c] = W_{jc}, j feature, c class). For sample (fold) i:
 *
 *   h_i(W) = (1/n_tr) sum_{r in train_i} CE(x_r^T W, y_r)
 *            + 1/2 sum_{j,c} e^{theta_{group(j,c)}} W_{jc}^2
 *   g_i(W) = (1/n_val) sum_{r in val_i} CE(x_r^T W, y_r)      (convex)
 *
 * CE(z, y) = log sum_c e^{z_c} - z_y. f = mean over folds of g_i: K-fold
 * cross-validation, or one fold for a single train/validation split.
 * The lower-level cold start is W = 0 (lower_start is NULL).
 *
 * Thread safety: callbacks for *different* folds may run concurrently; one
 * fold must not be used by two threads at once (each fold caches the class
 * probabilities of the last W it saw, so that the Hessian-vector products
 * of a CG solve cost one pass over the data, not two). No callback
 * allocates. */
#ifndef HYPERD_LOGISTIC_H
#define HYPERD_LOGISTIC_H

#include <stddef.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hyd_logistic hyd_logistic;

/* How theta is shared among the d*C weights. */
enum hyd_logistic_grouping {
  HYD_LOGISTIC_SCALAR = 0,      /* p = 1 */
  HYD_LOGISTIC_PER_FEATURE = 1, /* p = d: row j of W */
  HYD_LOGISTIC_PER_CLASS = 2,   /* p = C: column c of W */
  HYD_LOGISTIC_PER_WEIGHT = 3   /* p = d*C: theta index j*C + c */
};

/* Creation flags. */
enum hyd_logistic_flag {
  /* Borrow X and labels instead of copying them (for large data such as
   * Fashion-MNIST): they must then stay valid and unchanged until the
   * object is destroyed. */
  HYD_LOGISTIC_BORROW_DATA = 1u,
  /* Skip the certified lambda_max bounds (the O(n min(n, d)^2) part of
   * create): for row blocks whose constants come from the whole problem
   * (hyd_logistic_set_block). Until then the constants callback fails. */
  HYD_LOGISTIC_NO_BOUNDS = 1u << 8
};

/* One fold: 0-based row indices into X. The arrays are copied. */
typedef struct hyd_logistic_fold {
  const size_t *train;
  size_t n_train;
  const size_t *val;
  size_t n_val;
} hyd_logistic_fold;

/* Number of hyperparameters for a grouping; 0 for an unknown grouping or
 * an overflowing d*C. */
size_t hyd_logistic_n_theta(int grouping, size_t d, size_t n_classes);

/* The group (index into theta) of weight W[j, c] under a grouping:
 * 0, j, c or j * n_classes + c. */
size_t hyd_logistic_group(int grouping, size_t j, size_t c, size_t n_classes);

/* Builds the problem. X: rows x d row-major; labels: rows values in
 * [0, n_classes). X and labels are copied unless flags has
 * HYD_LOGISTIC_BORROW_DATA; the folds' index arrays are always copied.
 * Computes, per fold, certified upper bounds of lambda_max(X_S^T X_S) for
 * the training and validation row sets S (Gram matrix of the smaller side,
 * power iteration, then a Cholesky factorisation of tau I - G to certify
 * tau): O(n min(n, d)^2) once.
 * HYD_EINVAL: NULL pointer, zero size, n_classes < 2, label or index out of
 * range, empty fold part, non-finite X, unknown grouping or flag, size
 * overflow. HYD_ENOMEM: an allocation failed (nothing leaks, *out = NULL). */
int hyd_logistic_create(hyd_logistic **out, size_t rows, size_t d,
                        size_t n_classes, const double *X, const int *labels,
                        size_t n_folds, const hyd_logistic_fold *folds,
                        int grouping, unsigned flags,
                        const hyd_allocator *alloc);

/* The penalty of the lower level. L2 (the default) is the one above.
 * The weight compander (design/compander.md, hyperd/compander.h) replaces
 * it, per group g with a_g = e^{theta_g}, kappa_g = e^{theta_{G+g}}
 * (p = 2G, G = hyd_logistic_n_theta), by
 *   sum_{j,c in g} kappa_g psi(W_jc / a_g) + (l2/2) ||W||^2,
 * psi(u) = tan^2 u for tan^2 u <= T = cutoff_tan2, continued beyond by its
 * second-order Taylor polynomial at that point (convex, C^2), so that h is
 * defined, smooth and strongly convex everywhere (mu >= 2 kappa/a^2 + l2).
 * The minimiser is the paper's barrier problem's whenever it lies inside
 * |W| <= a atan(sqrt T) (hyd_logistic_compander_inside tells). */
enum hyd_logistic_penalty_kind {
  HYD_LOGISTIC_PENALTY_L2 = 0,
  HYD_LOGISTIC_PENALTY_COMPANDER = 1
};

typedef struct hyd_logistic_penalty {
  int kind;           /* enum hyd_logistic_penalty_kind */
  double cutoff_tan2; /* compander: T in (0, 1e12] */
  double l2;          /* compander: fixed L2 weight on W, >= 0 */
  /* compander: LB and LAinv are Lipschitz constants for pairs (W, W') with
   * ||W - W'|| <= lipschitz_radius (> 0; HUGE_VAL: all pairs, much larger).
   * MAID compares x_i with xhat_i, at most eps apart: its bound is
   * certified while eps <= lipschitz_radius. */
  double lipschitz_radius;
} hyd_logistic_penalty;

/* hyd_logistic_create with a penalty (NULL: L2); HYD_EINVAL also for an
 * unknown kind or a bad cutoff_tan2 / l2. */
int hyd_logistic_create_penalized(hyd_logistic **out, size_t rows, size_t d,
                                  size_t n_classes, const double *X,
                                  const int *labels, size_t n_folds,
                                  const hyd_logistic_fold *folds,
                                  int grouping, unsigned flags,
                                  const hyd_logistic_penalty *pen,
                                  const hyd_allocator *alloc);

/* Compander only: *inside = 1 if every |W_jc| <= a_g atan(sqrt T), where
 * the continued penalty equals kappa tan^2(W/a). HYD_EINVAL otherwise. */
int hyd_logistic_compander_inside(const hyd_logistic *lr, const double *theta,
                                  const double *W, int *inside);

/* ---- Row blocks (workers/rowsplit.h) ----
 * A problem with one fold can be one block of rows of a larger problem
 * whose data terms are sums over all blocks:
 *   h = (1/n_train) sum_{all blocks} sum_{r in block} CE + penalty,
 *   g = (1/n_val)   sum_{all blocks} sum_{r in block} CE.
 * With a block set, lower_grad, lower_hvp and upper divide this object's
 * sums by the totals n_train and n_val instead of its own row counts, and
 * lower_grad / lower_hvp leave the penalty out unless with_penalty is 1
 * (exactly one block adds it). cross_tprod and cross_prod (the penalty's
 * only) are unchanged. lmax_train, lmax_val (certified bounds of
 * lambda_max(X^T X) over all training / validation rows) and cube_sum
 * (sum of ||x_r||^3 over all training rows) replace the object's own, so
 * that constants gives the whole problem's constants. */
typedef struct hyd_logistic_block {
  size_t n_train, n_val; /* totals, >= this fold's counts */
  int with_penalty;      /* 0 or 1 */
  double lmax_train, lmax_val, cube_sum; /* >= 0, finite */
} hyd_logistic_block;

/* HYD_EINVAL: NULL, more than one fold, bad values. */
int hyd_logistic_set_block(hyd_logistic *lr, const hyd_logistic_block *b);

/* Sizes: features d, classes, and fold `fold`'s training and validation
 * row counts (any pointer may be NULL). HYD_EINVAL: NULL lr, bad fold. */
int hyd_logistic_sizes(const hyd_logistic *lr, size_t fold, size_t *d,
                       size_t *n_classes, size_t *n_train, size_t *n_val);

/* The d x d Gram matrix X_S^T X_S (full storage, deterministic order) of
 * fold 0's training (which = 0) or validation (which = 1) rows into G, and
 * if cube_sum is non-NULL sum_{r in S} ||x_r||^3. O(|S| d^2). Blocks' Gram
 * matrices add up to the whole problem's. HYD_EINVAL for a bad argument. */
int hyd_logistic_gram(const hyd_logistic *lr, int which, double *G,
                      double *cube_sum);

/* Certified upper bound of lambda_max of a symmetric PSD k x k matrix G
 * (the method create uses). HYD_ENOMEM, HYD_EINVAL (NULL, k = 0). */
int hyd_logistic_lmax_bound(size_t k, const double *G, double *out,
                            const hyd_allocator *alloc);

/* Frees everything; accepts NULL. */
void hyd_logistic_destroy(hyd_logistic *lr);

/* The callback table (borrowed; valid until lr is destroyed).
 * n_theta = hyd_logistic_n_theta(grouping, d, C), n_samples = n_folds,
 * lower_dim = d*C, upper_convex = 1; cross_prod provided. Callbacks return
 * HYD_EINVAL for a fold out of range or a theta with e^theta not a positive
 * finite double. */
const hyd_problem *hyd_logistic_problem(const hyd_logistic *lr);

/* Mean cross-entropy and accuracy (fraction of rows whose largest logit,
 * lowest index on ties, is the label) of W (d*C values) on the given rows
 * of X (rows == NULL: all rows). For reporting test loss and accuracy.
 * loss or accuracy may be NULL. Allocates n_classes doubles. */
int hyd_logistic_evaluate(const hyd_logistic *lr, const double *W,
                          const size_t *rows, size_t n_rows, double *loss,
                          double *accuracy);

#ifdef __cplusplus
}
#endif
#endif
