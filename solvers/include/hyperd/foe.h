/* hyperd/foe.h: Field-of-Experts denoising with learned weights, smoothing
 * and filters (design/problems.md; constants derived in docs/problems.md).
 *
 *   h_i(x) = 1/2 ||x - y_i||^2 + 1/2 e^{t0} sum_k e^{t_k} sum_j
 *            sqrt((K_k x)_j^2 + e^{2 s_k}),
 *   g_i(x) = 1/2 ||x - c_i||^2,
 *
 * K_k: correlation with filter k (filter_size^2 coefficients, row-major)
 * after reflect padding by `pad` pixels (the mirror excludes the edge pixel,
 * as numpy/PyTorch "reflect"); output (H + 2 pad - fs + 1) x
 * (W + 2 pad - fs + 1). theta layout, p = 1 + 2 K + K fs^2:
 *   [t0, t_1..t_K, s_1..s_K, filter_1 (fs^2), ..., filter_K].
 * The lower-level cold start is x = 0. Thread safety as in tv.h: different
 * samples may run concurrently, no callback allocates. */
#ifndef HYPERD_FOE_H
#define HYPERD_FOE_H

#include <stddef.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hyd_foe hyd_foe;

/* pad = HYD_FOE_PAD_SAME: filter_size / 2 (output as large as the image). */
#define HYD_FOE_PAD_SAME ((size_t)-1)

typedef struct hyd_foe_options {
  size_t n_filters;   /* K, default 48 */
  size_t filter_size; /* fs, default 7 */
  size_t pad;         /* reflect padding, default HYD_FOE_PAD_SAME; the
                         reference code pads 7x7 filters by 2 */
} hyd_foe_options;

void hyd_foe_options_default(hyd_foe_options *o);

/* Number of hyperparameters, 1 + 2K + K fs^2 (0 on overflow or NULL). */
size_t hyd_foe_n_theta(const hyd_foe_options *o);

/* The design's starting point: t0 = t_k = s_k = -3, each filter drawn
 * N(0, 2/(2 fs)) (Xavier-normal for an fs x fs tensor) from a seeded
 * generator and shifted to zero mean. theta: hyd_foe_n_theta(o) values.
 * Deterministic for a given seed on every platform. */
int hyd_foe_theta_init(const hyd_foe_options *o, unsigned long long seed,
                       double *theta);

/* Builds the problem; noisy and clean (n_images * height * width doubles,
 * image-major, row-major) are COPIED. opt NULL: defaults. HYD_EINVAL for a
 * NULL array, zero size, fs = 0, pad >= fs, pad >= height or width (reflect
 * needs it), an empty output, size overflow or a non-finite pixel;
 * HYD_ENOMEM on allocation failure (nothing leaks, *out = NULL). */
int hyd_foe_create(hyd_foe **out, size_t n_images, size_t height,
                   size_t width, const double *noisy, const double *clean,
                   const hyd_foe_options *opt, const hyd_allocator *alloc);

void hyd_foe_destroy(hyd_foe *foe); /* accepts NULL */

/* The callback table (borrowed; valid until foe is destroyed).
 * n_theta = hyd_foe_n_theta, lower_dim = height * width, upper_convex = 1,
 * cross_prod provided. Callbacks return HYD_EINVAL for a sample out of
 * range, a NULL array, or a theta whose weights e^{t0 + t_k} or
 * e^{2 s_k} are not positive finite doubles or whose filters are not
 * finite. */
const hyd_problem *hyd_foe_problem(const hyd_foe *foe);

/* Output size of one filter response (rows * cols). */
size_t hyd_foe_response_size(const hyd_foe *foe);

/* out = K x (response of one filter of fs^2 coefficients to an image), and
 * out = K^T u (its exact adjoint: <K x, u> = <x, K^T u>). Allocate nothing:
 * they share one work buffer inside foe, so they must not run concurrently
 * with each other on the same foe (the callbacks may). */
int hyd_foe_correlate(const hyd_foe *foe, const double *filter,
                      const double *x, double *out);
int hyd_foe_correlate_adjoint(const hyd_foe *foe, const double *filter,
                              const double *u, double *out);

#ifdef __cplusplus
}
#endif
#endif
