/* The "logistic" problem type: multinomial logistic regression with
 * learned L2 weights on a numeric table (label in the last column) with a
 * fixed train / validation / test split, or K folds of the training rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/logistic.h>
#include <hyperd/oracle.h>

#include "data/sha256.h"
#include "data/table.h"
#include "problem_types.h"
#include "study.h"

typedef struct lr_owner {
  hyd_logistic *lr;    /* the study's problem (one fold per sample) */
  hyd_logistic *final; /* train -> validation, for the report (may be lr) */
  size_t *test, n_test, *val, n_val, d, classes;
} lr_owner;

static void lr_destroy(void *p)
{
  lr_owner *o = p;
  if (o->final != o->lr)
    hyd_logistic_destroy(o->final);
  hyd_logistic_destroy(o->lr);
  free(o->test);
  free(o->val);
  free(o);
}

static void lr_report(void *p, const double *theta, FILE *out)
{
  lr_owner *o = p;
  size_t n = o->d * o->classes;
  double *W = calloc(n, sizeof *W);
  if (!W)
    return;
  const hyd_problem *prob = hyd_logistic_problem(o->final);
  if (hyd_solve_lower(prob, 0, theta, 1e-8, W, NULL, NULL) == HYD_OK) {
    double vl, va, tl, ta;
    hyd_logistic_evaluate(o->final, W, o->val, o->n_val, &vl, &va);
    hyd_logistic_evaluate(o->final, W, o->test, o->n_test, &tl, &ta);
    fprintf(out, "validation: loss %.6f, accuracy %.4f;  test: loss %.6f, "
            "accuracy %.4f  (%zu / %zu rows)\n", vl, va, tl, ta, o->n_val,
            o->n_test);
  }
  if (prob->n_theta <= 4) {
    fprintf(out, "L2 weights e^theta =");
    for (size_t j = 0; j < prob->n_theta; j++)
      fprintf(out, " %.6g", exp(theta[j]));
    fprintf(out, "\n");
  }
  free(W);
}

static const char *const grouping_names[] = {"scalar", "per_feature",
                                             "per_class", "per_weight"};

static int read_split(const cJSON *split, const char *dir, const char *where,
                      const char *key, size_t rows, size_t **idx, size_t *n,
                      cJSON *sums, char *err, size_t errsz)
{
  const char *rel;
  int rc = hyd_json_get_string(split, where, key, 1, &rel, err, errsz);
  if (rc)
    return rc;
  char path[4096], msg[512], hex[65];
  if (hyd_resolve_path(dir, rel, path, sizeof path) != 0) {
    snprintf(err, errsz, "%s: %s: path too long", where, key);
    return 2;
  }
  if (hyd_index_read(path, rows, idx, n, msg, sizeof msg) != 0) {
    snprintf(err, errsz, "%s", msg);
    return 2;
  }
  if (hyd_sha256_file(path, hex, msg, sizeof msg) == 0)
    cJSON_AddStringToObject(sums, path, hex);
  return 0;
}

int hyd_build_logistic(const cJSON *spec, const char *dir, const char *where,
                       hyd_built_problem *out, char *err, size_t errsz)
{
  static const char *const keys[] = {"type", "table", "feature_scale",
                                     "split", "grouping", "folds", NULL};
  static const char *const split_keys[] = {"train", "val", "test", "scaler",
                                           NULL};
  int rc = hyd_json_check_keys(spec, where, keys, err, errsz);
  const char *table = NULL, *grouping_name = "scalar";
  double scale = 1.0;
  size_t folds = 1;
  if (!rc)
    rc = hyd_json_get_string(spec, where, "table", 1, &table, err, errsz);
  if (!rc)
    rc = hyd_json_get_string(spec, where, "grouping", 0, &grouping_name, err,
                             errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "feature_scale", 0, &scale, err,
                             errsz);
  if (!rc && cJSON_GetObjectItemCaseSensitive(spec, "folds"))
    rc = hyd_json_get_count(spec, where, "folds", 1, &folds, err, errsz);
  if (rc)
    return rc;
  int grouping = -1;
  for (int k = 0; k < 4; k++)
    if (strcmp(grouping_names[k], grouping_name) == 0)
      grouping = k;
  if (grouping < 0 || !(scale > 0) || folds > 100) {
    snprintf(err, errsz, "%s: grouping must be scalar, per_feature, "
             "per_class or per_weight; feature_scale > 0; folds <= 100", where);
    return 2;
  }
  const cJSON *split = cJSON_GetObjectItemCaseSensitive(spec, "split");
  char swhere[600];
  snprintf(swhere, sizeof swhere, "%s.split", where);
  if (!cJSON_IsObject(split)) {
    snprintf(err, errsz, "%s: 'split' must be an object {train, val, test, "
             "scaler}", where);
    return 2;
  }
  if ((rc = hyd_json_check_keys(split, swhere, split_keys, err, errsz)))
    return rc;

  char path[4096], msg[512], hex[65];
  if (hyd_resolve_path(dir, table, path, sizeof path) != 0) {
    snprintf(err, errsz, "%s: table: path too long", where);
    return 2;
  }
  double *data = NULL;
  size_t rows, cols;
  if (hyd_csv_read(path, &data, &rows, &cols, msg, sizeof msg) != 0) {
    snprintf(err, errsz, "%s", msg);
    return 2;
  }
  cJSON *sums = cJSON_CreateObject();
  if (hyd_sha256_file(path, hex, msg, sizeof msg) == 0)
    cJSON_AddStringToObject(sums, path, hex);
  size_t d = cols - 1, classes = 0;
  int *labels = malloc(rows * sizeof *labels);
  double *X = malloc(rows * (d ? d : 1) * sizeof *X);
  lr_owner *o = calloc(1, sizeof *o);
  size_t *train = NULL, n_train = 0;
  double *mean = NULL, *sd = NULL;
  if (!labels || !X || !o || cols < 2) {
    snprintf(err, errsz, cols < 2 ? "%s: a table needs features and a label "
             "column" : "out of memory", path);
    rc = cols < 2 ? 2 : 1;
    goto fail;
  }
  for (size_t r = 0; r < rows && !rc; r++) {
    double y = data[r * cols + d];
    if (!(y >= 0 && y < 1000 && y == floor(y))) {
      snprintf(err, errsz, "%s: row %zu: the label (last column) must be an "
               "integer in [0, 1000), got %g", path, r + 1, y);
      rc = 2;
    }
    labels[r] = (int)y;
    if ((size_t)y + 1 > classes)
      classes = (size_t)y + 1;
    for (size_t j = 0; j < d; j++)
      X[r * d + j] = data[r * cols + j] / scale;
  }
  if (!rc)
    rc = read_split(split, dir, swhere, "train", rows, &train, &n_train, sums,
                    err, errsz);
  if (!rc)
    rc = read_split(split, dir, swhere, "val", rows, &o->val, &o->n_val, sums,
                    err, errsz);
  if (!rc)
    rc = read_split(split, dir, swhere, "test", rows, &o->test, &o->n_test,
                    sums, err, errsz);
  const char *scaler = NULL;
  if (!rc)
    rc = hyd_json_get_string(split, swhere, "scaler", 0, &scaler, err, errsz);
  if (!rc && scaler) {
    /* Standardise with the split's scaler (fitted on the training rows). */
    if (hyd_resolve_path(dir, scaler, path, sizeof path) != 0 ||
        hyd_scaler_read(path, d, &mean, &sd, msg, sizeof msg) != 0) {
      snprintf(err, errsz, "%s", msg);
      rc = 2;
    } else {
      for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < d; j++)
          X[r * d + j] = (X[r * d + j] - mean[j]) / sd[j];
      if (hyd_sha256_file(path, hex, msg, sizeof msg) == 0)
        cJSON_AddStringToObject(sums, path, hex);
    }
  }
  if (rc)
    goto fail;
  hyd_logistic_fold fixed = {train, n_train, o->val, o->n_val};
  int lrc = hyd_logistic_create(&o->final, rows, d, classes, X, labels, 1,
                                &fixed, grouping, 0, NULL);
  if (!lrc && folds == 1) {
    o->lr = o->final;
  } else if (!lrc) {
    /* K folds of the training rows, in their given (shuffled) order. */
    hyd_logistic_fold *f = calloc(folds, sizeof *f);
    size_t *tr = malloc(folds * n_train * sizeof *tr);
    if (!f || !tr) {
      lrc = HYD_ENOMEM;
    } else {
      for (size_t k = 0; k < folds; k++) {
        size_t lo = k * n_train / folds, hi = (k + 1) * n_train / folds;
        size_t *t = tr + k * n_train, nt = 0;
        for (size_t r = 0; r < n_train; r++)
          if (r < lo || r >= hi)
            t[nt++] = train[r];
        f[k] = (hyd_logistic_fold){t, nt, train + lo, hi - lo};
      }
      lrc = hyd_logistic_create(&o->lr, rows, d, classes, X, labels, folds, f,
                                grouping, 0, NULL);
    }
    free(f);
    free(tr);
  }
  if (lrc) {
    snprintf(err, errsz, "%s: %s (labels, indices and sizes must fit)", where,
             hyd_strerror(lrc));
    rc = lrc == HYD_ENOMEM ? 1 : 2;
    goto fail;
  }
  o->d = d;
  o->classes = classes;
  out->problem = hyd_logistic_problem(o->lr);
  out->owner = o;
  out->destroy = lr_destroy;
  out->report = lr_report;
  out->checksums = sums;
  snprintf(out->summary, sizeof out->summary,
           "logistic regression, %zu features, %zu classes, %zu train / %zu "
           "val / %zu test rows, %s L2, %zu fold%s", d, classes, n_train,
           o->n_val, o->n_test, grouping_name, folds, folds > 1 ? "s" : "");
  free(data);
  free(labels);
  free(X);
  free(train);
  free(mean);
  free(sd);
  return 0;
fail:
  free(data);
  free(labels);
  free(X);
  free(train);
  free(mean);
  free(sd);
  if (o)
    lr_destroy(o);
  cJSON_Delete(sums);
  return rc ? rc : 1;
}
