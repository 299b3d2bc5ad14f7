/* hyperd/tv.h: smoothed total-variation denoising with learned
 * (log lambda, log nu), one sample per image (design/problems.md, and
 * docs/problems.md for the constants and their derivations).
 *
 *   h_i(x) = 1/2 ||x - y_i||^2 + (lambda/2) sum_{d in rows, cols} sum_j
 *            sqrt((D_d x)_j^2 + nu^2),
 *   g_i(x) = 1/2 ||x - c_i||^2,     theta = (log lambda, log nu),
 *
 * D_d forward differences without wrap-around; images are row-major
 * (pixel (r, c) at r * width + c). The lower-level cold start is x = 0
 * (the table's lower_start is NULL).
 *
 * Thread safety: callbacks for *different* samples may run concurrently
 * (each sample has its own scratch); the same sample must not be used by
 * two threads at once. No callback allocates. */
#ifndef HYPERD_TV_H
#define HYPERD_TV_H

#include <stddef.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hyd_tv hyd_tv;

/* Creation flags. */
enum hyd_tv_flag {
  /* The reference code's scaling (shared/reference/README.md). The
   * reference optimises one stacked problem, lower level (1/N) sum_i h_i and
   * upper level (1/N) sum_i g_i. With this flag h_i and its derivatives
   * (gradient, A, B) are divided by N = n_images; g_i is left as it is,
   * because f = (1/m) sum_i g_i already is the reference's (1/N) sum_i g_i
   * (so f at x = 0 on shared/reference/tv96 is its 1047.05). The constants
   * callback reports the reference solver's mu = 1,
   * L = 1 + sqrt(8) lambda/nu and Lg = 1, which are NOT bounds of the
   * scaled problem, so `certified` is 0; norm_B, LB and LAinv are the true
   * ones of the scaled problem. Minimisers and the hypergradient are those
   * of the unscaled problem. Use it only to reproduce the reference
   * profile. */
  HYD_TV_REFERENCE_SCALING = 1u
};

/* Builds the problem for n_images images of height x width pixels.
 * noisy and clean hold n_images * height * width doubles (image-major,
 * row-major); both are COPIED, so the caller may free them at once.
 * flags: 0 or HYD_TV_REFERENCE_SCALING. alloc is copied (NULL: malloc).
 * Returns HYD_EINVAL for a NULL pointer, a zero size, a size whose pixel
 * count overflows, a non-finite pixel or an unknown flag; HYD_ENOMEM if an
 * allocation fails (nothing is leaked, *out is set to NULL). */
int hyd_tv_create(hyd_tv **out, size_t n_images, size_t height, size_t width,
                  const double *noisy, const double *clean, unsigned flags,
                  const hyd_allocator *alloc);

/* Frees everything; accepts NULL. */
void hyd_tv_destroy(hyd_tv *tv);

/* The callback table (borrowed from tv; valid until tv is destroyed).
 * n_theta = 2, n_samples = n_images, lower_dim = height * width,
 * upper_convex = 1. cross_prod is provided. Callbacks return HYD_EINVAL for
 * a sample index out of range or a theta whose lambda or nu^2 is not a
 * positive finite double. */
const hyd_problem *hyd_tv_problem(const hyd_tv *tv);

/* PSNR in dB of x (height * width values) against clean image `image`,
 * peak value 1, x clipped to [0, 1] first (as the reference reports it):
 * 10 log10(1 / mean((clip(x) - c)^2)); +HUGE_VAL if they are equal.
 * HYD_ENONFINITE if x holds NaN. */
int hyd_tv_psnr(const hyd_tv *tv, size_t image, const double *x,
                double *psnr);

/* The third-derivative constant of phi_nu: sup_t |phi_nu'''(t)| = c / nu^2
 * with c = 48 / (25 sqrt 5) (attained at |t| = nu / 2), rounded up. */
#define HYD_TV_PHI3_CONSTANT 0.85865010336

#ifdef __cplusplus
}
#endif
#endif
