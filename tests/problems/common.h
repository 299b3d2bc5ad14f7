/* Helpers shared by the problem tests: a deterministic RNG, a fault
 * injection loop (with the unit tests' allocator), finite-difference
 * tolerances, a PGM reader for the shared images. */
#ifndef HYD_TEST_PROBLEMS_COMMON_H
#define HYD_TEST_PROBLEMS_COMMON_H

#include <stddef.h>
#include <hyperd/status.h>

#include "support.h" /* test_alloc, the fault-injecting allocator */

typedef struct test_rng {
  unsigned long long s;
} test_rng;

void rng_seed(test_rng *r, unsigned long long seed);
double rng_uniform(test_rng *r);          /* [0, 1) */
double rng_normal(test_rng *r);           /* N(0, 1) */
void rng_fill(test_rng *r, size_t n, double lo, double hi, double *x);

/* The fault-injecting allocator is the unit tests' (tests/unit/support.h):
 * test_alloc fails exactly its fail_at-th allocation and counts live blocks. */

/* Fault injection: calls create(ctx, allocator, &obj) with an allocator
 * that fails its k-th allocation, k = 1, 2, ..., until create succeeds.
 * Asserts every failed run returns HYD_ENOMEM, leaves obj NULL and leaks
 * nothing; on success calls then(obj, state) (may be NULL), destroy(obj),
 * and asserts nothing leaked. Returns the successful k. */
typedef int (*fault_create_fn)(void *ctx, const hyd_allocator *a, void **obj);
long fault_loop(void *ctx, fault_create_fn create,
                void (*then)(void *obj, test_alloc *state),
                void (*destroy)(void *obj));

/* Tolerance of a central difference with step h: truncation
 * h^2 M3 / 6 plus rounding 2 eps |f| / h, with a safety factor of 10. */
double fd_tol(double h, double M3, double fscale);

double vec_dot(size_t n, const double *a, const double *b);
double vec_norm(size_t n, const double *a);

/* Reads exactly `count` little-endian float32 values (the file must hold
 * no more) into a malloc'd array of doubles; NULL on failure. */
double *read_f32(const char *path, size_t count);

/* Reads an 8-bit binary PGM (P5) into doubles in [0, 1]; returns a malloc'd
 * array (NULL on failure) and sets *height, *width. */
double *read_pgm(const char *path, size_t *height, size_t *width);



/* Largest eigenvalue of M^T M by power iteration (a lower estimate of
 * ||M||^2), M n x p given by its p columns stored one after another. */
double gram_lmax(size_t n, size_t p, const double *cols);

/* Two folds over rows 0..rows-1: fold 0 trains on [0, nt) and validates on
 * [nt, rows), fold 1 trains on [rows - nt, rows) and validates on
 * [0, rows - nt). idx: 2 * rows size_t the folds point into. */
#include <hyperd/logistic.h>
void two_folds(size_t rows, size_t nt, size_t *idx, hyd_logistic_fold f[2]);

/* Finite-difference checks of a problem table at (sample i, theta, x),
 * shared by every problem's tests; each asserts through Criterion.
 * M bounds the third derivative that the central difference's truncation
 * error involves (see fd_tol). */
#include <hyperd/problem.h>

/* h_i(x) through lower_grad (scratch: n_i doubles for the gradient). */
double lower_value(const hyd_problem *p, size_t i, const double *th,
                   const double *x, double *scratch);
/* lower_grad against central differences of h along every coordinate. */
void fd_check_grad(const hyd_problem *p, size_t i, const double *th,
                   const double *x, double hstep, double M);
/* lower_hvp(v) against central differences of lower_grad along v. */
void fd_check_hvp(const hyd_problem *p, size_t i, const double *th,
                  const double *x, const double *v, double hstep, double M);
/* cross_tprod(q) against central differences in each theta_k of
 * <grad_x h, q>; M bounds the third theta-derivative of that product. */
void fd_check_btq(const hyd_problem *p, size_t i, const double *th,
                  const double *x, const double *q, double hstep, double M);
/* upper's gradient against central differences of g. */
void fd_check_upper(const hyd_problem *p, size_t i, const double *x,
                    double hstep, double M);
/* <B w, q> = <w, B^T q>: cross_prod is the adjoint of cross_tprod. */
void check_adjoint(const hyd_problem *p, size_t i, const double *th,
                   const double *x, const double *w, const double *q);
#endif
