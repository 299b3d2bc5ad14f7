/* Matrix-free conjugate gradients with an absolute residual test. The
 * residual it reports is recomputed from scratch at the end (one extra
 * product), because the recursively updated residual drifts and the bound
 * omega is only certified for the true one. */
#include <math.h>

#include "internal.h"

/* The reference profile can round every vector to float32, as the
 * reference code computes: in 10 dimensions, double-precision CG ends in
 * at most ~10 iterations while float32 CG needs more at tight tolerances,
 * and the reference's CG counts are float32 counts. */
static void round_f32(size_t n, double *v, int on)
{
  if (!on)
    return;
  for (size_t j = 0; j < n; j++)
    v[j] = (double)(float)v[j];
}

static int apply(hyd_matvec matvec, void *ctx, const double *v, double *out,
                 size_t n, int f32)
{
  int rc = matvec(ctx, v, out);
  round_f32(n, out, f32);
  return rc;
}

int hyd_cg(size_t n, hyd_matvec matvec, void *ctx, const double *b, double *x,
           double tol, long max_iter, int flags, double *work, long *iters,
           double *res_norm)
{
  double *r = work, *p = work + n, *Ap = work + 2 * n;
  int verify = flags & HYD_CG_VERIFY, f32 = (flags & HYD_CG_FLOAT32) != 0;
  *iters = 0;
  int zero_start = 1;
  for (size_t j = 0; j < n; j++)
    if (x[j] != 0.0)
      zero_start = 0;
  int rc;
  if (zero_start) {
    hyd_copy(n, b, r);
    round_f32(n, r, f32);
  } else {
    if ((rc = apply(matvec, ctx, x, Ap, n, f32)) != HYD_OK)
      return rc;
    (*iters)++;
    for (size_t j = 0; j < n; j++)
      r[j] = b[j] - Ap[j];
  }
  long done = 0;
  for (int pass = 0; pass < 4; pass++) { /* restarts from the true residual */
    double rr = hyd_dot(n, r, r);
    if (sqrt(rr) <= tol || done >= max_iter) {
      *res_norm = sqrt(rr);
      return HYD_OK;
    }
    hyd_copy(n, r, p);
    while (done < max_iter) {
      if ((rc = apply(matvec, ctx, p, Ap, n, f32)) != HYD_OK)
        return rc;
      (*iters)++;
      done++;
      double pAp = hyd_dot(n, p, Ap);
      if (!(pAp > 0.0)) /* not positive definite, or no progress possible */
        break;
      double a = rr / pAp;
      hyd_axpy(n, a, p, x);
      hyd_axpy(n, -a, Ap, r);
      round_f32(n, x, f32);
      round_f32(n, r, f32);
      double rr_new = hyd_dot(n, r, r);
      if (sqrt(rr_new) <= tol) {
        rr = rr_new;
        break;
      }
      double beta = rr_new / rr;
      rr = rr_new;
      for (size_t j = 0; j < n; j++)
        p[j] = r[j] + beta * p[j];
      round_f32(n, p, f32);
    }
    if (!verify) {
      *res_norm = sqrt(rr);
      return HYD_OK;
    }
    if ((rc = apply(matvec, ctx, x, Ap, n, f32)) != HYD_OK)
      return rc;
    (*iters)++;
    for (size_t j = 0; j < n; j++)
      r[j] = b[j] - Ap[j];
  }
  *res_norm = hyd_nrm2(n, r);
  return HYD_OK;
}
