/* The "tv" problem type: TV denoising on a folder of images (noise added
 * with a seed) or on a stored noisy/clean instance (shared/reference/tv96). */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/oracle.h>
#include <hyperd/tv.h>

#include "data/image.h"
#include "data/noise.h"
#include "data/raw.h"
#include "data/sha256.h"
#include "problem_types.h"
#include "study.h"

typedef struct tv_owner {
  hyd_tv *train, *test;     /* test: held-out images, may be NULL */
  size_t n_train, n_test, height, width;
  double *noisy, *clean;    /* (n_train + n_test) images, train first */
} tv_owner;

static void tv_destroy(void *p)
{
  tv_owner *o = p;
  hyd_tv_destroy(o->train);
  hyd_tv_destroy(o->test);
  free(o->noisy);
  free(o->clean);
  free(o);
}

/* PSNR in dB of x against c (n pixels), peak 1, x clipped to [0, 1] as
 * hyd_tv_psnr does. */
double hyd_psnr_clipped(const double *x, const double *c, size_t n)
{
  double sum = 0.0;
  for (size_t j = 0; j < n; j++) {
    double v = x[j] < 0.0 ? 0.0 : (x[j] > 1.0 ? 1.0 : x[j]);
    sum += (v - c[j]) * (v - c[j]);
  }
  return sum > 0.0 ? 10.0 * log10((double)n / sum) : HUGE_VAL;
}

void hyd_denoise_psnr(const hyd_problem *prob, size_t count,
                      const double *noisy, const double *clean,
                      const double *theta, size_t n, double *noisy_db,
                      double *recon_db)
{
  double *x = malloc(n * sizeof *x);
  *noisy_db = *recon_db = 0.0;
  for (size_t i = 0; x && i < count; i++) {
    memcpy(x, noisy + i * n, n * sizeof *x);
    hyd_solve_lower(prob, i, theta, 1e-6, x, NULL, NULL);
    *noisy_db += hyd_psnr_clipped(noisy + i * n, clean + i * n, n) / (double)count;
    *recon_db += hyd_psnr_clipped(x, clean + i * n, n) / (double)count;
  }
  free(x);
}

static void tv_report(void *p, const double *theta, FILE *out)
{
  tv_owner *o = p;
  size_t n = o->height * o->width;
  double a, b;
  fprintf(out, "lambda = %.6g, nu = %.6g\n", exp(theta[0]), exp(theta[1]));
  hyd_denoise_psnr(hyd_tv_problem(o->train), o->n_train, o->noisy, o->clean,
                   theta, n, &a, &b);
  fprintf(out, "mean PSNR on the %zu training images: noisy %.2f dB, "
          "denoised %.2f dB\n", o->n_train, a, b);
  if (o->test) {
    hyd_denoise_psnr(hyd_tv_problem(o->test), o->n_test,
                     o->noisy + o->n_train * n, o->clean + o->n_train * n,
                     theta, n, &a, &b);
    fprintf(out, "mean PSNR on the %zu held-out images: noisy %.2f dB, "
            "denoised %.2f dB\n", o->n_test, a, b);
  }
}

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted paths of the .pgm / .png files of a folder (malloc'ed). */
static int list_images(const char *folder, char ***paths, size_t *count,
                       char *err, size_t errsz)
{
  DIR *d = opendir(folder);
  if (!d) {
    snprintf(err, errsz, "%s: cannot open the image folder", folder);
    return 2;
  }
  char **list = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 5 || (strcmp(e->d_name + len - 4, ".pgm") != 0 &&
                    strcmp(e->d_name + len - 4, ".png") != 0))
      continue;
    char **grown = realloc(list, (n + 1) * sizeof *list);
    size_t plen = strlen(folder) + len + 2;
    char *path = malloc(plen);
    if (!grown || !path) {
      free(path);
      list = grown ? grown : list;
      for (size_t k = 0; k < n; k++)
        free(list[k]);
      free(list);
      closedir(d);
      snprintf(err, errsz, "out of memory");
      return 1;
    }
    list = grown;
    snprintf(path, plen, "%s/%s", folder, e->d_name);
    list[n++] = path;
  }
  closedir(d);
  if (n == 0) {
    free(list);
    snprintf(err, errsz, "%s: no .pgm or .png images in the folder", folder);
    return 2;
  }
  qsort(list, n, sizeof *list, cmp_names);
  *paths = list;
  *count = n;
  return 0;
}

int hyd_load_image_folder(const char *folder, double sigma, unsigned long seed,
                       size_t *n_images, size_t *h, size_t *w, double **clean,
                       double **noisy, cJSON *sums, char *err, size_t errsz)
{
  char **paths;
  size_t n;
  int rc = list_images(folder, &paths, &n, err, errsz);
  if (rc)
    return rc;
  *clean = *noisy = NULL;
  for (size_t i = 0; i < n && !rc; i++) {
    hyd_image img = {0, 0, NULL};
    char msg[512], hex[65];
    if (hyd_image_read(paths[i], &img, msg, sizeof msg) != 0) {
      snprintf(err, errsz, "%s", msg);
      rc = 2;
      break;
    }
    if (i == 0) {
      *h = img.height;
      *w = img.width;
      *clean = malloc(n * *h * *w * sizeof(double));
      *noisy = malloc(n * *h * *w * sizeof(double));
      if (!*clean || !*noisy) {
        snprintf(err, errsz, "out of memory");
        rc = 1;
      }
    } else if (img.height != *h || img.width != *w) {
      snprintf(err, errsz, "%s: %zu x %zu pixels, but %s has %zu x %zu: all "
               "images of a study must have one size", paths[i], img.height,
               img.width, paths[0], *h, *w);
      rc = 2;
    }
    if (!rc) {
      size_t px = *h * *w;
      memcpy(*clean + i * px, img.pixels, px * sizeof(double));
      hyd_noise_gaussian(img.pixels, *noisy + i * px, px, sigma, seed + i);
      if (hyd_sha256_file(paths[i], hex, msg, sizeof msg) == 0)
        cJSON_AddStringToObject(sums, paths[i], hex);
    }
    hyd_image_free(&img);
  }
  for (size_t i = 0; i < n; i++)
    free(paths[i]);
  free(paths);
  if (rc) {
    free(*clean);
    free(*noisy);
    *clean = *noisy = NULL;
  }
  *n_images = n;
  return rc;
}

/* shared/reference/tv96 layout: clean.f32, noisy.f32, meta.json. */
static int load_reference(const char *folder, size_t *n_images, size_t *h,
                          size_t *w, double **clean, double **noisy,
                          cJSON *sums, char *err, size_t errsz)
{
  char path[4200], msg[512];
  snprintf(path, sizeof path, "%s/meta.json", folder);
  FILE *f = fopen(path, "rb");
  char text[8192];
  size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
  if (f)
    fclose(f);
  text[len] = '\0';
  cJSON *meta = cJSON_Parse(text);
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(meta, "shape");
  if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != 2) {
    cJSON_Delete(meta);
    snprintf(err, errsz, "%s: missing or without \"shape\": [images, pixels]",
             path);
    return 2;
  }
  double n = cJSON_GetArrayItem(shape, 0)->valuedouble;
  double px = cJSON_GetArrayItem(shape, 1)->valuedouble;
  cJSON_Delete(meta);
  double side = floor(sqrt(px) + 0.5);
  if (!(n >= 1 && px >= 1 && side * side == px)) {
    snprintf(err, errsz, "%s: shape must be [images, side^2]", path);
    return 2;
  }
  *n_images = (size_t)n;
  *h = *w = (size_t)side;
  const char *names[2] = {"clean.f32", "noisy.f32"};
  double **dst[2] = {clean, noisy};
  for (int k = 0; k < 2; k++) {
    char hex[65];
    snprintf(path, sizeof path, "%s/%s", folder, names[k]);
    if (hyd_f32_read(path, (size_t)(n * px), dst[k], msg, sizeof msg) != 0) {
      snprintf(err, errsz, "%s", msg);
      if (k == 1)
        free(*clean);
      return 2;
    }
    if (hyd_sha256_file(path, hex, msg, sizeof msg) == 0)
      cJSON_AddStringToObject(sums, path, hex);
  }
  return 0;
}

int hyd_build_tv(const cJSON *spec, const char *dir, const char *where,
                 hyd_built_problem *out, char *err, size_t errsz)
{
  static const char *const keys[] = {"type", "images", "train", "sigma",
                                     "noise_seed", "reference", "scaling",
                                     NULL};
  int rc = hyd_json_check_keys(spec, where, keys, err, errsz);
  const char *images = NULL, *reference = NULL, *scaling = "true";
  double sigma = 0.1, seed = 0;
  size_t train = 0;
  if (!rc)
    rc = hyd_json_get_string(spec, where, "images", 0, &images, err, errsz);
  if (!rc)
    rc = hyd_json_get_string(spec, where, "reference", 0, &reference, err,
                             errsz);
  if (!rc)
    rc = hyd_json_get_string(spec, where, "scaling", 0, &scaling, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "sigma", 0, &sigma, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "noise_seed", 0, &seed, err, errsz);
  if (!rc && cJSON_GetObjectItemCaseSensitive(spec, "train"))
    rc = hyd_json_get_count(spec, where, "train", 1, &train, err, errsz);
  if (rc)
    return rc;
  if (!images == !reference) {
    snprintf(err, errsz, "%s: give exactly one of 'images' (a folder of "
             "PGM/PNG images) and 'reference' (a folder with clean.f32, "
             "noisy.f32, meta.json)", where);
    return 2;
  }
  if (!(sigma > 0 && sigma < 10) || seed < 0 || seed != floor(seed)) {
    snprintf(err, errsz, "%s: needs 0 < sigma < 10 and an integer "
             "noise_seed >= 0", where);
    return 2;
  }
  if (strcmp(scaling, "true") != 0 && strcmp(scaling, "reference") != 0) {
    snprintf(err, errsz, "%s: scaling must be \"true\" (certified constants) "
             "or \"reference\" (the reference code's 1/N scaling)", where);
    return 2;
  }
  char folder[4000];
  const char *rel = images ? images : reference;
  if (hyd_resolve_path(dir, rel, folder, sizeof folder) != 0) {
    snprintf(err, errsz, "%s: path too long", where);
    return 2;
  }
  cJSON *sums = cJSON_CreateObject();
  size_t n = 0, h = 0, w = 0;
  double *clean = NULL, *noisy = NULL;
  rc = images ? hyd_load_image_folder(folder, sigma, (unsigned long)seed, &n, &h, &w,
                            &clean, &noisy, sums, err, errsz)
              : load_reference(folder, &n, &h, &w, &clean, &noisy, sums, err,
                               errsz);
  if (rc) {
    cJSON_Delete(sums);
    return rc;
  }
  if (train == 0 || train > n)
    train = train > n ? 0 : n;
  if (train == 0) {
    snprintf(err, errsz, "%s: train must be between 1 and the %zu images",
             where, n);
    cJSON_Delete(sums);
    free(clean);
    free(noisy);
    return 2;
  }
  tv_owner *o = calloc(1, sizeof *o);
  unsigned flags = strcmp(scaling, "reference") == 0 ? HYD_TV_REFERENCE_SCALING
                                                     : 0u;
  size_t px = h * w;
  int trc = o ? hyd_tv_create(&o->train, train, h, w, noisy, clean, flags, NULL)
              : HYD_ENOMEM;
  if (!trc && train < n)
    trc = hyd_tv_create(&o->test, n - train, h, w, noisy + train * px,
                        clean + train * px, 0, NULL);
  if (trc) {
    snprintf(err, errsz, "%s: %s", where, hyd_strerror(trc));
    if (o) {
      o->noisy = noisy;
      o->clean = clean;
      tv_destroy(o);
    } else {
      free(noisy);
      free(clean);
    }
    cJSON_Delete(sums);
    return trc == HYD_ENOMEM ? 1 : 2;
  }
  o->noisy = noisy;
  o->clean = clean;
  o->n_train = train;
  o->n_test = n - train;
  o->height = h;
  o->width = w;
  out->problem = hyd_tv_problem(o->train);
  out->owner = o;
  out->destroy = tv_destroy;
  out->report = tv_report;
  out->images = (hyd_denoise_view){hyd_tv_problem(o->train),
                                   o->test ? hyd_tv_problem(o->test) : NULL,
                                   o->n_train, o->n_test, h, w, o->noisy,
                                   o->clean};
  out->has_images = 1;
  out->checksums = sums;
  snprintf(out->summary, sizeof out->summary,
           "TV denoising, %zu training + %zu held-out images of %zu x %zu%s",
           train, n - train, h, w, flags ? " (reference scaling)" : "");
  return 0;
}
