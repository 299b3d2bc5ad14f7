/* hyperd/quadratic.h: the quadratic bilevel problem, the project's
 * correctness oracle (design/problems.md): everything has a closed form.
 *
 *   h(x, theta) = 1/2 ||A2 x + A3 theta - b2||^2,  g(x) = 1/2 ||A1 x - b1||^2
 *
 * with A1, A2 (rows x n), A3 (rows x p), one sample. */
#ifndef HYPERD_QUADRATIC_H
#define HYPERD_QUADRATIC_H

#include <stddef.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hyd_quadratic hyd_quadratic;

/* Builds the problem from row-major arrays, which are copied: A1, A2
 * (rows x n), A3 (rows x p), b1, b2 (rows), x0 (n, the lower-level cold
 * start; NULL for zeros). HYD_EINVAL if sizes are zero or A2 does not have
 * full column rank. */
int hyd_quadratic_create(hyd_quadratic **out, size_t rows, size_t n, size_t p,
                         const double *A1, const double *A2, const double *A3,
                         const double *b1, const double *b2, const double *x0,
                         const hyd_allocator *alloc);

/* A fresh instance from a seeded generator (GSL mt19937): cond(A2^T A2) =
 * cond_lower and cond(M^T M) = cond_upper exactly, where f(theta) =
 * 1/2 ||d - M theta||^2. b2 = A2 x2 + A3 theta_e + noise and b1 = A1
 * xhat(theta_t) + noise for random x2, theta_e, theta_t, Gaussian noise of
 * deviation noise_sigma. Requires rows >= n >= p. */
int hyd_quadratic_generate(hyd_quadratic **out, size_t rows, size_t n,
                           size_t p, double cond_lower, double cond_upper,
                           double noise_sigma, unsigned long seed,
                           const hyd_allocator *alloc);

void hyd_quadratic_destroy(hyd_quadratic *q);

/* The callback table (borrowed from q; valid until q is destroyed). */
const hyd_problem *hyd_quadratic_problem(const hyd_quadratic *q);

/* Exact f(theta) and, if grad is non-NULL, grad f(theta) (p values). */
int hyd_quadratic_exact(const hyd_quadratic *q, const double *theta,
                        double *f, double *grad);
/* theta* (p values) and f(theta*). */
int hyd_quadratic_solution(const hyd_quadratic *q, double *theta_star,
                           double *f_star);
/* The exact lower-level solution xhat(theta) (n values). */
int hyd_quadratic_lower_solution(const hyd_quadratic *q, const double *theta,
                                 double *x);
/* The constants of design/problems.md. */
void hyd_quadratic_constants(const hyd_quadratic *q, hyd_constants *c);

#ifdef __cplusplus
}
#endif
#endif
