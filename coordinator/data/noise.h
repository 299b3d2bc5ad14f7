/* data/noise.h: seeded Gaussian noise for the denoising problems. */
#ifndef HYPERD_DATA_NOISE_H
#define HYPERD_DATA_NOISE_H

#include <stddef.h>

/* noisy[i] = clean[i] + sigma * z_i, z_i standard normal from GSL's
 * mt19937 seeded with `seed` and gsl_ran_gaussian (Box-Muller polar
 * method), drawn in index order: the same seed gives the same noise on every
 * machine and rank count. noisy may equal clean (in place). sigma must be
 * finite and >= 0. Returns HYD_DATA_OK, HYD_DATA_EINVAL or HYD_DATA_ENOMEM. */
int hyd_noise_gaussian(const double *clean, double *noisy, size_t n, double sigma,
                       unsigned long seed);

#endif
