/* The "foe" problem type: Field-of-Experts denoising on a folder of images
 * (noise added with a seed), the design's seeded start as the default
 * theta0, held-out PSNR in the final report. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/foe.h>

#include "problem_types.h"
#include "study.h"

typedef struct foe_owner {
  hyd_foe *train, *test;    /* test: held-out images, may be NULL */
  size_t n_train, n_test, n_filters, n;
  double *noisy, *clean;    /* (n_train + n_test) images, train first */
  double *theta0;           /* hyd_foe_theta_init(init_seed) */
} foe_owner;

static void foe_destroy(void *p)
{
  foe_owner *o = p;
  hyd_foe_destroy(o->train);
  hyd_foe_destroy(o->test);
  free(o->noisy);
  free(o->clean);
  free(o->theta0);
  free(o);
}

static void foe_report(void *p, const double *theta, FILE *out)
{
  foe_owner *o = p;
  size_t K = o->n_filters;
  double wmin = HUGE_VAL, wmax = 0.0, numin = HUGE_VAL, numax = 0.0;
  for (size_t k = 0; k < K; k++) {
    double w = exp(theta[0] + theta[1 + k]), nu = exp(theta[1 + K + k]);
    wmin = fmin(wmin, w);
    wmax = fmax(wmax, w);
    numin = fmin(numin, nu);
    numax = fmax(numax, nu);
  }
  fprintf(out, "expert weights e^(t0 + t_k) in [%.4g, %.4g], nu_k in "
          "[%.4g, %.4g] (%zu filters)\n", wmin, wmax, numin, numax, K);
  double a, b;
  hyd_denoise_psnr(hyd_foe_problem(o->train), o->n_train, o->noisy, o->clean,
                   theta, o->n, &a, &b);
  fprintf(out, "mean PSNR on the %zu training images: noisy %.2f dB, "
          "denoised %.2f dB\n", o->n_train, a, b);
  if (o->test) {
    hyd_denoise_psnr(hyd_foe_problem(o->test), o->n_test,
                     o->noisy + o->n_train * o->n,
                     o->clean + o->n_train * o->n, theta, o->n, &a, &b);
    fprintf(out, "mean PSNR on the %zu held-out images: noisy %.2f dB, "
            "denoised %.2f dB\n", o->n_test, a, b);
  }
}

/* The keys after "images": numbers and counts with their defaults. */
typedef struct foe_spec {
  const char *images;
  double sigma, noise_seed, init_seed, pad;
  size_t train, n_filters, filter_size;
} foe_spec;

static int foe_parse(const cJSON *spec, const char *where, foe_spec *s,
                     char *err, size_t errsz)
{
  static const char *const keys[] = {"type", "images", "train", "sigma",
                                     "noise_seed", "n_filters", "filter_size",
                                     "pad", "init_seed", NULL};
  int rc = hyd_json_check_keys(spec, where, keys, err, errsz);
  if (!rc)
    rc = hyd_json_get_string(spec, where, "images", 1, &s->images, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "sigma", 0, &s->sigma, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "noise_seed", 0, &s->noise_seed,
                             err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "init_seed", 0, &s->init_seed, err,
                             errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "pad", 0, &s->pad, err, errsz);
  if (!rc)
    rc = hyd_json_get_count(spec, where, "n_filters", 0, &s->n_filters, err,
                            errsz);
  if (!rc)
    rc = hyd_json_get_count(spec, where, "filter_size", 0, &s->filter_size,
                            err, errsz);
  if (!rc && cJSON_GetObjectItemCaseSensitive(spec, "train"))
    rc = hyd_json_get_count(spec, where, "train", 1, &s->train, err, errsz);
  if (rc)
    return rc;
  if (!(s->sigma > 0 && s->sigma < 10) || s->noise_seed < 0 ||
      s->noise_seed != floor(s->noise_seed) || s->init_seed < 0 ||
      s->init_seed != floor(s->init_seed) || s->init_seed > 9007199254740992.0) {
    snprintf(err, errsz, "%s: needs 0 < sigma < 10 and integer noise_seed, "
             "init_seed >= 0", where);
    return 2;
  }
  if (s->pad != -1 && !(s->pad >= 0 && s->pad == floor(s->pad) &&
                        s->pad < (double)s->filter_size)) {
    snprintf(err, errsz, "%s: pad must be an integer in [0, filter_size) "
             "(or -1: filter_size / 2)", where);
    return 2;
  }
  return 0;
}

int hyd_build_foe(const cJSON *spec, const char *dir, const char *where,
                  hyd_built_problem *out, char *err, size_t errsz)
{
  foe_spec s = {NULL, 0.1, 0, 0, -1, 0, 48, 7};
  int rc = foe_parse(spec, where, &s, err, errsz);
  if (rc)
    return rc;
  hyd_foe_options opt = {s.n_filters, s.filter_size,
                         s.pad < 0 ? HYD_FOE_PAD_SAME : (size_t)s.pad};
  size_t p = hyd_foe_n_theta(&opt);
  if (p == 0) {
    snprintf(err, errsz, "%s: n_filters x filter_size^2 is too large", where);
    return 2;
  }
  char folder[4000];
  if (hyd_resolve_path(dir, s.images, folder, sizeof folder) != 0) {
    snprintf(err, errsz, "%s: path too long", where);
    return 2;
  }
  cJSON *sums = cJSON_CreateObject();
  size_t n = 0, h = 0, w = 0;
  double *clean = NULL, *noisy = NULL;
  rc = hyd_load_image_folder(folder, s.sigma, (unsigned long)s.noise_seed, &n,
                             &h, &w, &clean, &noisy, sums, err, errsz);
  if (rc) {
    cJSON_Delete(sums);
    return rc;
  }
  size_t train = s.train == 0 ? n : s.train;
  foe_owner *o = calloc(1, sizeof *o);
  if (o) {
    o->noisy = noisy;
    o->clean = clean;
    o->theta0 = malloc(p * sizeof *o->theta0);
  } else {
    free(noisy);
    free(clean);
  }
  if (!o || !o->theta0) {
    if (o)
      foe_destroy(o);
    cJSON_Delete(sums);
    snprintf(err, errsz, "out of memory");
    return 1;
  }
  if (train > n) {
    snprintf(err, errsz, "%s: train must be between 1 and the %zu images",
             where, n);
    foe_destroy(o);
    cJSON_Delete(sums);
    return 2;
  }
  size_t px = h * w;
  hyd_foe_theta_init(&opt, (unsigned long long)s.init_seed, o->theta0);
  int trc = hyd_foe_create(&o->train, train, h, w, noisy, clean, &opt, NULL);
  if (!trc && train < n)
    trc = hyd_foe_create(&o->test, n - train, h, w, noisy + train * px,
                         clean + train * px, &opt, NULL);
  if (trc) {
    snprintf(err, errsz, "%s: %s (filter_size and pad must fit the %zu x %zu "
             "images)", where, hyd_strerror(trc), h, w);
    foe_destroy(o);
    cJSON_Delete(sums);
    return trc == HYD_ENOMEM ? 1 : 2;
  }
  o->n_train = train;
  o->n_test = n - train;
  o->n_filters = s.n_filters;
  o->n = px;
  out->problem = hyd_foe_problem(o->train);
  out->owner = o;
  out->destroy = foe_destroy;
  out->report = foe_report;
  out->images = (hyd_denoise_view){hyd_foe_problem(o->train),
                                   o->test ? hyd_foe_problem(o->test) : NULL,
                                   o->n_train, o->n_test, h, w, o->noisy,
                                   o->clean};
  out->has_images = 1;
  out->theta0 = o->theta0;
  out->checksums = sums;
  snprintf(out->summary, sizeof out->summary,
           "Field of Experts (%zu filters of %zu x %zu), %zu training + %zu "
           "held-out images of %zu x %zu", s.n_filters, s.filter_size,
           s.filter_size, train, n - train, h, w);
  return 0;
}
