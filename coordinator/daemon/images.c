/* hyperd images: clean | noisy | denoised side by side for a denoising
 * study, at its best hyperparameters, with each image's PSNR. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hyperd/oracle.h>

#include "commands.h"
#include "data/image.h"
#include "problem_types.h"
#include "session.h"

static const char *images_usage =
    "usage: hyperd images STUDY [--db FILE] [--out DIR] [--max N] "
    "[--format png|pgm]\n"
    "\n"
    "For a denoising study (tv, foe): rebuilds its images, reconstructs them\n"
    "at the study's best hyperparameters and writes one picture per image,\n"
    "clean | noisy | denoised side by side, for the first N training and\n"
    "the first N held-out images; prints each image's PSNR.\n"
    "\n"
    "  --db FILE      database (default: hyperd.db)\n"
    "  --out DIR      folder for the pictures (default: .)\n"
    "  --max N        images of each set (default 3)\n"
    "  --format F     png (default) or pgm\n";

/* Writes one panel for image i of a set; 0 ok. */
static int write_panel(const hyd_denoise_view *v, const hyd_problem *prob,
                       size_t i, size_t offset, const double *theta,
                       const char *path, double *panel, double *x)
{
  size_t h = v->height, w = v->width, n = h * w, gap = 4, W = 3 * w + 2 * gap;
  const double *clean = v->clean + (offset + i) * n;
  const double *noisy = v->noisy + (offset + i) * n;
  memcpy(x, noisy, n * sizeof *x);
  if (hyd_solve_lower(prob, i, theta, 1e-6, x, NULL, NULL) != HYD_OK) {
    fprintf(stderr, "hyperd images: solving image %zu failed\n", i);
    return 1;
  }
  const double *parts[3] = {clean, noisy, x};
  for (size_t r = 0; r < h; r++)
    for (size_t c = 0; c < W; c++) {
      size_t k = c / (w + gap), cc = c % (w + gap);
      panel[r * W + c] = cc < w ? parts[k][r * w + cc] : 1.0;
    }
  hyd_image img = {W, h, panel};
  char err[512];
  if (hyd_image_write(path, &img, err, sizeof err) != 0) {
    fprintf(stderr, "hyperd images: %s\n", err);
    return 1;
  }
  printf("%s  noisy %.2f dB  denoised %.2f dB\n", path,
         hyd_psnr_clipped(noisy, clean, n), hyd_psnr_clipped(x, clean, n));
  return 0;
}

static int write_set(const hyd_denoise_view *v, const hyd_problem *prob,
                     size_t count, size_t offset, const char *label,
                     const double *theta, const char *dir, const char *name,
                     const char *ext, size_t max)
{
  size_t n = v->height * v->width, W = 3 * v->width + 8;
  double *panel = malloc(W * v->height * sizeof *panel);
  double *x = malloc(n * sizeof *x);
  int rc = panel && x ? 0 : 1;
  for (size_t i = 0; !rc && i < count && i < max; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%s-%zu.%s", dir, name, label, i, ext);
    rc = write_panel(v, prob, i, offset, theta, path, panel, x);
  }
  free(panel);
  free(x);
  return rc;
}

int hyd_cmd_images(int argc, char **argv)
{
  const char *db = "hyperd.db", *out = ".", *target = NULL, *format = "png";
  long max = 3;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(images_usage, stdout);
      return 0;
    }
    int has_value = i + 1 < argc;
    if (strcmp(a, "--db") == 0 && has_value) {
      db = argv[++i];
    } else if (strcmp(a, "--out") == 0 && has_value) {
      out = argv[++i];
    } else if (strcmp(a, "--format") == 0 && has_value) {
      format = argv[++i];
    } else if (strcmp(a, "--max") == 0 && has_value) {
      char *end;
      max = strtol(argv[++i], &end, 10);
      if (*end || max < 1 || max > 1000) {
        fprintf(stderr, "hyperd images: --max needs a count in 1..1000\n");
        return 2;
      }
    } else if (a[0] != '-' && !target) {
      target = a;
    } else {
      fprintf(stderr, "hyperd images: unexpected argument '%s'\n%s", a,
              images_usage);
      return 2;
    }
  }
  if (!target || (strcmp(format, "png") != 0 && strcmp(format, "pgm") != 0)) {
    fprintf(stderr, "hyperd images: %s\n%s",
            target ? "--format is png or pgm" : "missing STUDY", images_usage);
    return 2;
  }
  hyd_session s;
  memset(&s, 0, sizeof s);
  int rc = hyd_store_open(&s.store, db, HYD_STORE_READONLY);
  if (rc) {
    fprintf(stderr, "hyperd images: %s: %s\n", db, hyd_store_errmsg(s.store));
    hyd_session_close(&s);
    return 2;
  }
  hyd_store_study row;
  memset(&row, 0, sizeof row);
  hyd_store_iteration best;
  char err[1024];
  rc = hyd_store_lookup_study(s.store, target, &row);
  if (rc) {
    fprintf(stderr, "hyperd images: %s: no such study\n", target);
    rc = 2;
  } else if ((rc = hyd_session_load_stored(&s, &row, err, sizeof err))) {
    fprintf(stderr, "hyperd images: %s\n", err);
  } else if (!s.built.has_images) {
    fprintf(stderr, "hyperd images: study '%s' is a %s study, not denoising\n",
            row.name, s.built.type);
    rc = 2;
  } else if (hyd_store_best(s.store, row.id, &best) != 0) {
    fprintf(stderr, "hyperd images: study '%s' has no iteration yet\n",
            row.name);
    rc = 2;
  } else if (mkdir(out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "hyperd images: %s: %s\n", out, strerror(errno));
    rc = 1;
  } else {
    /* best.theta is borrowed from the store until its next call. */
    double *theta = malloc(best.n_theta * sizeof *theta);
    rc = theta ? 0 : 1;
    if (theta) {
      memcpy(theta, best.theta, best.n_theta * sizeof *theta);
      const hyd_denoise_view *v = &s.built.images;
      printf("study '%s', iteration %ld (best g = %.6g)\n", row.name,
             best.iteration, best.g);
      rc = write_set(v, v->train, v->n_train, 0, "train", theta, out,
                     row.name, format, (size_t)max);
      if (!rc && v->test)
        rc = write_set(v, v->test, v->n_test, v->n_train, "heldout", theta,
                       out, row.name, format, (size_t)max);
      free(theta);
    }
  }
  hyd_store_study_clear(&row);
  hyd_session_close(&s);
  return rc;
}
