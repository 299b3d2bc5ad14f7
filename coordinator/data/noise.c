/* Gaussian noise from an RNG owned by the call: no global RNG state, so two
 * studies never perturb each other's noise. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>

#include "data/noise.h"
#include "data/status.h"

int hyd_noise_gaussian(const double *clean, double *noisy, size_t n, double sigma,
                       unsigned long seed) {
  if (clean == NULL || noisy == NULL || !isfinite(sigma) || sigma < 0.0)
    return HYD_DATA_EINVAL;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  if (r == NULL)
    return HYD_DATA_ENOMEM;
  gsl_rng_set(r, seed);
  for (size_t i = 0; i < n; i++)
    noisy[i] = clean[i] + gsl_ran_gaussian(r, sigma);
  gsl_rng_free(r);
  return HYD_DATA_OK;
}
