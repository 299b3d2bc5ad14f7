/* hyperd/stack.h: a problem of m samples seen as ONE stacked sample.
 *
 * Given problem P with samples i = 0..m-1 (dimensions n_i), the stack is
 * the 1-sample problem of dimension n = sum n_i with x = (x_0; ...; x_{m-1}):
 *
 *   h(x, theta) = sum_i h_i(x_i, theta)           (A, B block-stacked)
 *   g(x)        = (1/m) sum_i g_i(x_i)            (= P's f, so both problems
 *                                                  have the same f and
 *                                                  hypergradient)
 *
 * Its minimiser is (xhat_0; ...; xhat_{m-1}) and its hypergradient
 * -B^T A^{-1} grad g = -(1/m) sum_i B_i^T A_i^{-1} grad g_i is P's. What
 * changes is what a solver SEES: one gradient norm, one CG on the stacked
 * system with global inner products, one error bound on stacked vectors.
 * That is how the MAID authors' code treats a data set (it optimises one
 * stacked problem), so the reference profile on the stack of a problem
 * makes the reference's decisions (design/maid.md section 4).
 *
 * Constants are combined so that they stay bounds when P's are bounds
 * (A, A^{-1} block-diagonal, B a vertical stack of the B_i):
 *   mu = min mu_i,  L = max L_i,  Lg = max Lg_i / m,
 *   norm_B = sqrt(sum norm_B_i^2),  LB = max LB_i,  LAinv = max LAinv_i,
 *   certified = all certified.
 *
 * Callbacks loop over P's samples in index order, in the calling thread;
 * the stack adds no concurrency of its own. Only sample 0 exists. */
#ifndef HYPERD_STACK_H
#define HYPERD_STACK_H

#include <stddef.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hyd_stack hyd_stack;

/* Builds the stack of `inner` (borrowed: must outlive the stack). alloc is
 * copied (NULL: malloc). HYD_EINVAL if inner fails hyd_problem_check, a
 * sample has dimension 0 or the total overflows; HYD_ENOMEM if an
 * allocation fails (*out is then NULL). */
int hyd_stack_create(hyd_stack **out, const hyd_problem *inner,
                     const hyd_allocator *alloc);

/* Frees the stack (not the inner problem); accepts NULL. */
void hyd_stack_destroy(hyd_stack *s);

/* The stacked callback table (borrowed from s): n_samples = 1,
 * n_theta and upper_convex are inner's; lower_start and cross_prod exist
 * when inner's do. */
const hyd_problem *hyd_stack_problem(const hyd_stack *s);

/* Where sample i's block starts in the stacked vector (sum of n_j, j < i);
 * i = m gives the total dimension. (size_t)-1 for i > m or s NULL. */
size_t hyd_stack_offset(const hyd_stack *s, size_t sample);

/* Replaces the combined Lg by `Lg` (> 0; 0 restores the combined value),
 * e.g. the MAID authors' Lg = 1 for their stacked TV problem, whose true
 * constant is 1/N. The constants stay certified only if Lg >= the combined
 * value (a larger Lipschitz constant is still a bound). HYD_EINVAL for a
 * negative or non-finite value. */
int hyd_stack_set_upper_lipschitz(hyd_stack *s, double Lg);

#ifdef __cplusplus
}
#endif
#endif
