/* hyperd/problem.h: the callback table through which a bilevel problem is
 * described to libhyperd.
 *
 *   minimise_theta f(theta) = (1/m) sum_i g_i(xhat_i(theta)),
 *   xhat_i(theta) = argmin_x h_i(x, theta),  i = 0..m-1 ("samples").
 *
 * Only products with derivatives are asked for: A_i v (the Hessian of h_i in
 * x times v) and B_i^T q (B_i = d/dtheta grad_x h_i, n_i x p). Nothing forms
 * a matrix.
 *
 * Every callback returns 0 on success; any other value means "failed" and
 * the caller stops with HYD_ECALLBACK (the value is kept for the error
 * message). Callbacks may be called concurrently for *different* samples
 * only if the embedder's context allows it; libhyperd itself calls them from
 * one thread. Arrays passed in are borrowed for the duration of the call. */
#ifndef HYPERD_PROBLEM_H
#define HYPERD_PROBLEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bump when the table changes shape; hyd_problem_check rejects others.
 * 2: lower_nonconvex, hvp_change. */
#define HYD_PROBLEM_VERSION 2

/* Constants of sample i at (theta, x). Bounds that make the hypergradient
 * error bound certified (design/maid.md section 2):
 *   mu     strong-convexity modulus of h_i(., theta)
 *   L      Lipschitz constant of grad_x h_i(., theta)
 *   Lg     Lipschitz constant of grad g_i
 *   norm_B upper bound of ||B_i(x)|| (operator norm)
 *   LB     Lipschitz constant of x -> B_i(x)      (0 if B is constant)
 *   LAinv  Lipschitz constant of x -> A_i(x)^{-1} (0 if A is constant)
 * `certified` is 1 when all of them are true bounds, 0 when some are
 * estimates; a run that used an estimate reports its bound as "estimated". */
typedef struct hyd_constants {
  double mu, L, Lg, norm_B, LB, LAinv;
  int certified;
} hyd_constants;

typedef struct hyd_problem {
  int version;       /* HYD_PROBLEM_VERSION */
  size_t n_theta;    /* p: number of hyperparameters */
  size_t n_samples;  /* m: independent lower-level problems */
  int upper_convex;  /* 1 if every g_i is convex (tighter lower sandwich) */
  void *ctx;         /* handed back to every callback */

  /* n_i, the dimension of sample i's lower-level variable. */
  size_t (*lower_dim)(void *ctx, size_t sample);

  /* Optional (NULL: zeros). The cold start of sample i's lower level. */
  int (*lower_start)(void *ctx, size_t sample, const double *theta, double *x);

  /* grad_x h_i(x, theta) into grad[n_i]; if value is non-NULL also h_i. */
  int (*lower_grad)(void *ctx, size_t sample, const double *theta,
                    const double *x, double *value, double *grad);

  /* out[n_i] = A_i(x, theta) v. */
  int (*lower_hvp)(void *ctx, size_t sample, const double *theta,
                   const double *x, const double *v, double *out);

  /* out[p] = B_i(x, theta)^T q. */
  int (*cross_tprod)(void *ctx, size_t sample, const double *theta,
                     const double *x, const double *q, double *out);

  /* Optional: out[n_i] = B_i(x, theta) v for v in R^p. Needed only by the
   * "reference" profile, whose bound uses max_j |(B z)_j|. */
  int (*cross_prod)(void *ctx, size_t sample, const double *theta,
                    const double *x, const double *v, double *out);

  /* g_i(x) into *value; if grad is non-NULL also grad g_i(x) into grad[n_i]. */
  int (*upper)(void *ctx, size_t sample, const double *x, double *value,
               double *grad);

  /* Constants of sample i at (theta, x); see hyd_constants. */
  int (*constants)(void *ctx, size_t sample, const double *theta,
                   const double *x, hyd_constants *out);

  /* 1 if some h_i need not be strongly convex in x (a neural network,
   * hyperd/mlp.h). Its constants are then estimates at best: the lower
   * solve finds a stationary point near its start, the hypergradient of
   * implicit differentiation is a heuristic there, and every evaluation
   * reports certified = 0 whatever the constants say. 0 (what a
   * zero-initialised table has): strongly convex, as section 2 of
   * design/maid.md assumes. */
  int lower_nonconvex;

  /* Optional (NULL: the bound uses LAinv alone). A number M such that
   * ||(A_i(x', theta) - A_i(x, theta)) q|| <= M ||x' - x|| for every x'
   * with ||x' - x|| <= radius: how much the Hessian's action on this one
   * q (the adjoint just computed) can change near x. It sharpens omega's
   * term in LAinv: ||(A(xhat)^-1 - A(x)^-1) grad g|| <= (M/mu + LAinv
   * delta) eps instead of LAinv ||grad g|| eps (docs/method.md). Return
   * INFINITY where no such M is at hand. */
  int (*hvp_change)(void *ctx, size_t sample, const double *theta,
                    const double *x, const double *q, double radius,
                    double *M);
} hyd_problem;

/* HYD_OK if the table is usable (version, sizes, mandatory callbacks);
 * HYD_EINVAL otherwise. */
int hyd_problem_check(const hyd_problem *problem);

#ifdef __cplusplus
}
#endif
#endif
