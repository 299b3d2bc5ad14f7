/* Internal helpers of libhyperd: allocation through the embedder's hooks,
 * small vector kernels, error text. Not installed. */
#ifndef HYPERD_INTERNAL_H
#define HYPERD_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <hyperd/oracle.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#define HYD_ERRMSG_SIZE 256

/* Copies *alloc, or fills in malloc/free when alloc is NULL. */
void hyd_allocator_init(hyd_allocator *dst, const hyd_allocator *alloc);
/* Overflow-checked array allocation (count * size); NULL on failure. */
void *hyd_alloc_array(const hyd_allocator *a, size_t count, size_t size);
void hyd_free(const hyd_allocator *a, void *ptr);

/* Writes a formatted message into buf[HYD_ERRMSG_SIZE] and returns status. */
int hyd_set_error(char *buf, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

double hyd_dot(size_t n, const double *a, const double *b);
double hyd_nrm2(size_t n, const double *a);
void hyd_axpy(size_t n, double alpha, const double *x, double *y);
void hyd_copy(size_t n, const double *src, double *dst);
void hyd_zero(size_t n, double *x);
int hyd_all_finite(size_t n, const double *x);

/* ---- lower-level solver and CG (used by sample.c) ---- */
#define HYD_LOWER_WORK 7

typedef struct hyd_lower_result {
  long iters;        /* gradient evaluations */
  long iters_ref;    /* the reference's count */
  double grad_norm;  /* ||grad h|| at the returned point; NAN if not known */
  double mu, L;      /* constants used */
  int capped;        /* stopped at the iteration cap */
  int status;        /* HYD_OK or an error status */
  /* In: the solve gives up with HYD_EINTR once *interrupt is non-zero
   * (checked every iteration); NULL: never. Set before the call. */
  const volatile sig_atomic_t *interrupt;
} hyd_lower_result;

/* Solves sample `i` at theta to ||grad h|| <= mu*eps (or the reference's
 * test), x in: warm start, out: solution. work: 3*n doubles. */
void hyd_lower_solve(const hyd_problem *prob, size_t i, const double *theta,
                     const hyd_oracle_config *cfg, double eps, double *x,
                     double *work, size_t n, hyd_lower_result *res,
                     char *errmsg);


typedef int (*hyd_matvec)(void *ctx, const double *v, double *out);
enum { HYD_CG_VERIFY = 1, HYD_CG_FLOAT32 = 2 };
/* Conjugate gradients on A x = b with A SPD given as a product; stops when
 * ||b - A x|| <= tol (absolute) or after max_iter iterations. x in: start,
 * out: solution. With HYD_CG_VERIFY in flags, the final residual is recomputed from
 * scratch (and CG restarted from it if the recursion drifted), so
 * *res_norm is the true one; HYD_CG_FLOAT32 rounds the vectors to float
 * (reference profile). *iters counts products with A. work: 3*n
 * doubles. Returns HYD_OK, or the matvec's failure status. */
int hyd_cg(size_t n, hyd_matvec matvec, void *ctx, const double *b, double *x,
           double tol, long max_iter, int flags, double *work, long *iters,
           double *res_norm);

#endif
