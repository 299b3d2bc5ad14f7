/* Readers of the fixed splits: index files and scaler files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"
#include "data/status.h"
#include "data/table.h"

/* Parses one line "digits" (blanks around allowed); 0 on success. */
static int parse_index(const char **pp, size_t limit, size_t *out) {
  const char *p = *pp;
  while (*p == ' ' || *p == '\t')
    p++;
  size_t v = 0, digits = 0;
  while (*p >= '0' && *p <= '9') {
    size_t d = (size_t)(*p - '0');
    if (d > limit || v > (limit - d) / 10) /* v*10+d would pass any valid index */
      return -1;
    v = v * 10 + d;
    p++;
    digits++;
  }
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '\r')
    p++;
  if (digits == 0 || (*p != '\n' && *p != '\0'))
    return -2;
  if (*p == '\n')
    p++;
  *pp = p;
  *out = v;
  return 0;
}

static int index_parse(const char *path, const char *text, size_t len, size_t table_rows,
                       size_t **idx, size_t *count, char *err, size_t errsz) {
  const char *p = text, *end = text + len;
  size_t n = 0, cap = 0, line = 0;
  size_t *v = NULL;
  unsigned char *seen = calloc(table_rows, 1);
  int rc = HYD_DATA_OK;
  if (seen == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory", path);
  while (p < end && rc == HYD_DATA_OK) {
    line++;
    size_t k;
    int e = parse_index(&p, table_rows - 1, &k);
    if (e == -1) {
      rc = hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s:%zu: index out of range (table has %zu rows)",
                         path, line, table_rows);
    } else if (e != 0 || (*p == '\0' && p != end)) {
      rc = hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s:%zu: not a non-negative integer", path, line);
    } else if (seen[k]) {
      rc = hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s:%zu: index %zu repeated", path, line, k);
    } else {
      seen[k] = 1;
      if (n == cap) {
        cap = cap ? 2 * cap : 256;
        size_t *nv = realloc(v, cap * sizeof *nv);
        if (nv == NULL) {
          rc = hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory", path);
          break;
        }
        v = nv;
      }
      v[n++] = k;
    }
  }
  free(seen);
  if (rc == HYD_DATA_OK && n == 0)
    rc = hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: no indices", path);
  if (rc != HYD_DATA_OK) {
    free(v);
    return rc;
  }
  *idx = v;
  *count = n;
  return HYD_DATA_OK;
}

int hyd_index_read(const char *path, size_t table_rows, size_t **idx, size_t *count, char *err,
                   size_t errsz) {
  if (path == NULL || idx == NULL || count == NULL || table_rows == 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_index_read: NULL argument or empty table");
  *idx = NULL;
  *count = 0;
  unsigned char *buf;
  size_t len;
  int rc = hyd_data_slurp(path, HYD_DATA_MAX_FILE, &buf, &len, err, errsz);
  if (rc != HYD_DATA_OK)
    return rc;
  rc = index_parse(path, (const char *)buf, len, table_rows, idx, count, err, errsz);
  free(buf);
  return rc;
}

int hyd_scaler_read(const char *path, size_t features, double **mean, double **std, char *err,
                    size_t errsz) {
  if (path == NULL || mean == NULL || std == NULL || features == 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_scaler_read: NULL argument or no features");
  *mean = *std = NULL;
  double *t;
  size_t rows, cols;
  int rc = hyd_csv_read(path, &t, &rows, &cols, err, errsz);
  if (rc != HYD_DATA_OK)
    return rc;
  if (cols != 2 || rows != features) {
    free(t);
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT,
                         "%s: scaler is %zu x %zu, expected %zu lines of \"mean,std\"", path, rows, cols,
                         features);
  }
  for (size_t i = 0; i < rows; i++) {
    if (!(t[2 * i + 1] > 0.0)) {
      free(t);
      return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s:%zu: std must be > 0", path, i + 1);
    }
  }
  double *m = malloc(rows * sizeof *m), *s = malloc(rows * sizeof *s);
  if (m == NULL || s == NULL) {
    free(m);
    free(s);
    free(t);
    return hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory", path);
  }
  for (size_t i = 0; i < rows; i++) {
    m[i] = t[2 * i];
    s[i] = t[2 * i + 1];
  }
  free(t);
  *mean = m;
  *std = s;
  return HYD_DATA_OK;
}
