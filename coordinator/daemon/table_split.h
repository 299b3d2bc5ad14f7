/* daemon/table_split.h: a numeric table (label in the last column) with
 * the fixed train / validation / test split files of shared/data/splits,
 * as the classifier problem types read it from a study's "problem" keys
 * "table", "feature_scale" and "split" {train, val, test, scaler}. */
#ifndef HYPERD_DAEMON_TABLE_SPLIT_H
#define HYPERD_DAEMON_TABLE_SPLIT_H

#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct hyd_table_split {
  double *X;       /* rows x d, row-major: value / feature_scale, then
                      standardised with the split's scaler if it names one */
  int *labels;     /* rows values in [0, classes) */
  size_t rows, d, classes;
  size_t *train, *val, *test; /* 0-based row indices (file order) */
  size_t n_train, n_val, n_test;
} hyd_table_split;

/* Reads the keys of spec (paths relative to dir); each file's sha256 goes
 * into sums. 0, 2 (bad input: err names the file or key and the fault) or
 * 1 (out of memory). On failure t holds nothing (freed). */
int hyd_table_split_load(const cJSON *spec, const char *dir, const char *where,
                         hyd_table_split *t, cJSON *sums, char *err,
                         size_t errsz);

/* Frees the arrays and zeroes t; accepts a zeroed t. */
void hyd_table_split_free(hyd_table_split *t);

#endif
