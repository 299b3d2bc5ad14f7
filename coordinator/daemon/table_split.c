/* A table with its fixed split (table_split.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/sha256.h"
#include "data/table.h"
#include "problems.h"
#include "study.h"
#include "table_split.h"

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

/* Labels from the last column, features / scale. */
static int split_columns(const char *path, const double *data, size_t cols,
                         double scale, hyd_table_split *t, char *err,
                         size_t errsz)
{
  size_t d = t->d;
  for (size_t r = 0; r < t->rows; r++) {
    double y = data[r * cols + d];
    if (!(y >= 0 && y < 1000 && y == floor(y))) {
      snprintf(err, errsz, "%s: row %zu: the label (last column) must be an "
               "integer in [0, 1000), got %g", path, r + 1, y);
      return 2;
    }
    t->labels[r] = (int)y;
    if ((size_t)y + 1 > t->classes)
      t->classes = (size_t)y + 1;
    for (size_t j = 0; j < d; j++)
      t->X[r * d + j] = data[r * cols + j] / scale;
  }
  return 0;
}

/* Standardises with the split's scaler (fitted on the training rows). */
static int apply_scaler(const char *dir, const char *rel, hyd_table_split *t,
                        cJSON *sums, char *err, size_t errsz)
{
  char path[4096], msg[512] = "scaler: path too long", hex[65];
  double *mean = NULL, *sd = NULL;
  if (hyd_resolve_path(dir, rel, path, sizeof path) != 0 ||
      hyd_scaler_read(path, t->d, &mean, &sd, msg, sizeof msg) != 0) {
    snprintf(err, errsz, "%s", msg);
    return 2;
  }
  for (size_t r = 0; r < t->rows; r++)
    for (size_t j = 0; j < t->d; j++)
      t->X[r * t->d + j] = (t->X[r * t->d + j] - mean[j]) / sd[j];
  if (hyd_sha256_file(path, hex, msg, sizeof msg) == 0)
    cJSON_AddStringToObject(sums, path, hex);
  free(mean);
  free(sd);
  return 0;
}

int hyd_table_split_load(const cJSON *spec, const char *dir, const char *where,
                         hyd_table_split *t, cJSON *sums, char *err,
                         size_t errsz)
{
  static const char *const split_keys[] = {"train", "val", "test", "scaler",
                                           NULL};
  memset(t, 0, sizeof *t);
  const char *table = NULL, *scaler = NULL;
  double scale = 1.0;
  int rc = hyd_json_get_string(spec, where, "table", 1, &table, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "feature_scale", 0, &scale, err,
                             errsz);
  if (rc)
    return rc;
  if (!(scale > 0)) {
    snprintf(err, errsz, "%s: feature_scale must be > 0", where);
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
  size_t cols;
  if (hyd_csv_read(path, &data, &t->rows, &cols, msg, sizeof msg) != 0) {
    snprintf(err, errsz, "%s", msg);
    return 2;
  }
  if (hyd_sha256_file(path, hex, msg, sizeof msg) == 0)
    cJSON_AddStringToObject(sums, path, hex);
  if (cols < 2) {
    snprintf(err, errsz, "%s: a table needs features and a label column",
             path);
    rc = 2;
  } else {
    t->d = cols - 1;
    t->labels = malloc(t->rows * sizeof *t->labels);
    t->X = malloc(t->rows * t->d * sizeof *t->X);
    if (!t->labels || !t->X) {
      snprintf(err, errsz, "out of memory");
      rc = 1;
    }
  }
  if (!rc)
    rc = split_columns(path, data, cols, scale, t, err, errsz);
  free(data);
  if (!rc)
    rc = read_split(split, dir, swhere, "train", t->rows, &t->train,
                    &t->n_train, sums, err, errsz);
  if (!rc)
    rc = read_split(split, dir, swhere, "val", t->rows, &t->val, &t->n_val,
                    sums, err, errsz);
  if (!rc)
    rc = read_split(split, dir, swhere, "test", t->rows, &t->test,
                    &t->n_test, sums, err, errsz);
  if (!rc)
    rc = hyd_json_get_string(split, swhere, "scaler", 0, &scaler, err, errsz);
  if (!rc && scaler)
    rc = apply_scaler(dir, scaler, t, sums, err, errsz);
  if (rc)
    hyd_table_split_free(t);
  return rc;
}

void hyd_table_split_free(hyd_table_split *t)
{
  free(t->X);
  free(t->labels);
  free(t->train);
  free(t->val);
  free(t->test);
  memset(t, 0, sizeof *t);
}
