/* Numeric CSV reader. The file is read whole with a NUL appended, so strtod
 * can never run past the buffer; every field is checked to be one complete
 * finite number. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"
#include "data/status.h"
#include "data/table.h"

struct grow {
  double *v;
  size_t n, cap;
};

static int push(struct grow *g, double x) {
  if (g->n == g->cap) {
    size_t cap = g->cap ? 2 * g->cap : 1024;
    if (cap > ((size_t)-1) / sizeof *g->v)
      return -1;
    double *v = realloc(g->v, cap * sizeof *v);
    if (v == NULL)
      return -1;
    g->v = v;
    g->cap = cap;
  }
  g->v[g->n++] = x;
  return 0;
}

static const char *skip_blanks(const char *p) {
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static int is_eol(const char *p) { return *p == '\n' || (*p == '\r' && p[1] == '\n') || *p == '\0'; }

static const char *next_line(const char *p) {
  if (*p == '\r')
    p++;
  return *p == '\n' ? p + 1 : p;
}

/* Parses one line into g; returns the column count or 0 with err set. */
static size_t parse_line(const char *path, size_t line, const char **pp, const char *end,
                         struct grow *g, char *err, size_t errsz, int *status) {
  const char *p = *pp;
  size_t col = 0;
  for (;;) {
    col++;
    p = skip_blanks(p);
    char *q = (char *)p;
    /* strtod would skip a line end and read the next line's first field. */
    double x = (*p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') ? 0.0 : strtod(p, &q);
    if (q == p) {
      *status = hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s:%zu: column %zu is not a number", path,
                              line, col);
      return 0;
    }
    if (!isfinite(x)) {
      *status = hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s:%zu: column %zu is not finite", path,
                              line, col);
      return 0;
    }
    if (push(g, x) != 0) {
      *status = hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s:%zu: out of memory", path, line);
      return 0;
    }
    p = skip_blanks(q);
    if (*p == ',') {
      p++;
      continue;
    }
    /* An embedded NUL ends the C string early: it is garbage, not an EOF. */
    if (!is_eol(p) || (*p == '\0' && p != end)) {
      *status = hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s:%zu: unexpected character after column %zu",
                              path, line, col);
      return 0;
    }
    *pp = next_line(p);
    return col;
  }
}

static int parse(const char *path, const char *text, size_t len, struct grow *g, size_t *rows,
                 size_t *cols, char *err, size_t errsz) {
  const char *p = text, *end = text + len;
  size_t line = 0, ncols = 0;
  while (p < end) {
    line++;
    if (is_eol(p)) {
      /* Blank lines may only trail the data. */
      const char *q = p;
      while (q < end && (*q == '\n' || *q == '\r' || *q == ' ' || *q == '\t'))
        q++;
      if (q == end)
        break;
      return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s:%zu: empty line inside the table", path, line);
    }
    int status = HYD_DATA_OK;
    size_t c = parse_line(path, line, &p, end, g, err, errsz, &status);
    if (c == 0)
      return status;
    if (ncols == 0)
      ncols = c;
    else if (c != ncols)
      return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s:%zu: %zu columns, expected %zu as on line 1",
                           path, line, c, ncols);
  }
  if (ncols == 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: no data rows", path);
  *rows = g->n / ncols;
  *cols = ncols;
  return HYD_DATA_OK;
}

int hyd_csv_read(const char *path, double **data, size_t *rows, size_t *cols, char *err,
                 size_t errsz) {
  if (data == NULL || rows == NULL || cols == NULL || path == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_csv_read: NULL argument");
  *data = NULL;
  *rows = *cols = 0;
  unsigned char *buf;
  size_t len;
  int rc = hyd_data_slurp(path, HYD_DATA_MAX_FILE, &buf, &len, err, errsz);
  if (rc != HYD_DATA_OK)
    return rc;
  struct grow g = {0};
  rc = parse(path, (const char *)buf, len, &g, rows, cols, err, errsz);
  free(buf);
  if (rc != HYD_DATA_OK) {
    free(g.v);
    *rows = *cols = 0;
    return rc;
  }
  *data = g.v;
  return HYD_DATA_OK;
}
