/* daemon/problems.h: builds a libhyperd problem from the "problem" object
 * of a study file, loading its data. One entry per problem type. */
#ifndef HYPERD_DAEMON_PROBLEMS_H
#define HYPERD_DAEMON_PROBLEMS_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <hyperd/problem.h>

/* What a denoising problem shows of its images (for `hyperd images`):
 * clean and noisy images, training ones first, and the problems whose
 * lower levels reconstruct them (test may be NULL). Borrowed from owner. */
typedef struct hyd_denoise_view {
  const hyd_problem *train, *test;
  size_t n_train, n_test, height, width;
  const double *noisy, *clean;
} hyd_denoise_view;

typedef struct hyd_built_problem {
  const hyd_problem *problem; /* borrowed from owner */
  void *owner;
  void (*destroy)(void *owner);
  /* Optional: a line or two about theta for the final report (exact f,
   * PSNR, test accuracy, ...). */
  void (*report)(void *owner, const double *theta, FILE *out);
  /* Optional, used instead of report when set: the same with x0, the
   * solver's final lower-level point of sample 0 (n_0 values, accurate to
   * the solver's last eps; NULL when it cannot be had), to warm-start the
   * report's own solve (an ill-conditioned one from 0 can take minutes). */
  void (*report_from)(void *owner, const double *theta, const double *x0,
                      FILE *out);
  /* Optional: the problem's own starting point (n_theta values, owned by
   * owner), used when the study gives no theta0 (FoE's seeded filters). */
  const double *theta0;
  /* Optional: the images of a denoising problem. */
  hyd_denoise_view images;
  int has_images;
  char type[32];
  char summary[160];          /* "quadratic 1000 x 10 (reference instance)" */
  cJSON *checksums;           /* {"file": "sha256", ...} (owned) */
} hyd_built_problem;

/* 0 ok; 2 bad input (message in err names the key and the fault); 1 other
 * failure (out of memory, I/O). `dir`: where relative paths start. */
int hyd_problem_build(const cJSON *spec, const char *dir, const char *origin,
                      hyd_built_problem *out, char *err, size_t errsz);
void hyd_problem_release(hyd_built_problem *b);

/* `rel` resolved against `dir` unless absolute, into buf; -1 if too long. */
int hyd_resolve_path(const char *dir, const char *rel, char *buf, size_t n);

#endif
