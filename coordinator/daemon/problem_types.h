/* daemon/problem_types.h: one builder per problem type (problems.c keeps
 * the table that maps a study's "type" to its builder). Each checks its
 * keys, loads its data and fills `out`; 0, 2 (bad input) or 1. */
#ifndef HYPERD_DAEMON_PROBLEM_TYPES_H
#define HYPERD_DAEMON_PROBLEM_TYPES_H

#include "problems.h"

/* One-hidden-layer MLP with companded weights (problem_mlp.c). */
int hyd_build_mlp(const cJSON *spec, const char *dir, const char *where,
                  hyd_built_problem *out, char *err, size_t errsz);

int hyd_build_tv(const cJSON *spec, const char *dir, const char *where,
                 hyd_built_problem *out, char *err, size_t errsz);
int hyd_build_foe(const cJSON *spec, const char *dir, const char *where,
                  hyd_built_problem *out, char *err, size_t errsz);
int hyd_build_logistic(const cJSON *spec, const char *dir, const char *where,
                       hyd_built_problem *out, char *err, size_t errsz);
/* Logistic regression with the weight compander's penalty
 * (problem_logistic.c). */
int hyd_build_compander(const cJSON *spec, const char *dir, const char *where,
                        hyd_built_problem *out, char *err, size_t errsz);

/* Shared by the denoising types (problem_tv.c): the sorted .pgm/.png
 * images of a folder (one size) into clean, and clean plus Gaussian noise
 * (sigma, seed + image index) into noisy, image-major, malloc'ed; each
 * file's sha256 goes into sums. 0, 2 (bad input, message in err) or 1. */
int hyd_load_image_folder(const char *folder, double sigma,
                          unsigned long seed, size_t *n_images, size_t *h,
                          size_t *w, double **clean, double **noisy,
                          cJSON *sums, char *err, size_t errsz);
/* Mean PSNR (peak 1, clipped to [0, 1]) over `count` samples of prob of
 * the noisy images and of their reconstructions at theta (lower level
 * solved to 1e-6 from the noisy image); n pixels per image. */
/* PSNR in dB of x against c (n pixels), peak 1, x clipped to [0, 1]. */
double hyd_psnr_clipped(const double *x, const double *c, size_t n);

void hyd_denoise_psnr(const hyd_problem *prob, size_t count,
                      const double *noisy, const double *clean,
                      const double *theta, size_t n, double *noisy_db,
                      double *recon_db);

#endif
