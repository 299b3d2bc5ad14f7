#include <stdlib.h>
#include <string.h>

#include <hyperd/quadratic.h>

#include "data/sha256.h"
#include "data/table.h"
#include "problem_types.h"
#include "problems.h"
#include "study.h"

int hyd_resolve_path(const char *dir, const char *rel, char *buf, size_t n)
{
  int len = rel[0] == '/' ? snprintf(buf, n, "%s", rel)
                          : snprintf(buf, n, "%s/%s", dir, rel);
  return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* Reads one CSV of exactly rows x cols values and notes its checksum. */
static int read_matrix(const char *folder, const char *name, size_t rows,
                       size_t cols, double **out, cJSON *sums, char *err,
                       size_t errsz)
{
  char path[4096], msg[512];
  int len = snprintf(path, sizeof path, "%s/%s.csv", folder, name);
  if (len < 0 || (size_t)len >= sizeof path) {
    snprintf(err, errsz, "%s: path too long", folder);
    return 2;
  }
  size_t r, c;
  if (hyd_csv_read(path, out, &r, &c, msg, sizeof msg) != 0) {
    snprintf(err, errsz, "%s", msg);
    return 2;
  }
  /* A vector may be stored as one column or one row. */
  if (r * c != rows * cols || (cols > 1 && c != cols)) {
    snprintf(err, errsz, "%s: expected %zu x %zu values, found %zu x %zu",
             path, rows, cols, r, c);
    free(*out);
    *out = NULL;
    return 2;
  }
  char hex[65];
  if (hyd_sha256_file(path, hex, msg, sizeof msg) == 0)
    cJSON_AddStringToObject(sums, path, hex);
  return 0;
}

static void quadratic_destroy(void *owner) { hyd_quadratic_destroy(owner); }

static void quadratic_report(void *owner, const double *theta, FILE *out)
{
  double f, f_star;
  hyd_quadratic_exact(owner, theta, &f, NULL);
  hyd_quadratic_solution(owner, NULL, &f_star);
  fprintf(out, "exact f(theta) = %.6g   (optimum f* = %.6g)\n", f, f_star);
}

static int build_quadratic(const cJSON *spec, const char *dir,
                           const char *where, hyd_built_problem *out,
                           char *err, size_t errsz)
{
  static const char *const keys[] = {"type", "path", "rows", "n", "p",
                                     "generate", NULL};
  static const char *const gen_keys[] = {"rows", "n", "p", "cond_lower",
                                         "cond_upper", "noise", "seed", NULL};
  int rc = hyd_json_check_keys(spec, where, keys, err, errsz);
  if (rc)
    return rc;
  const cJSON *gen = cJSON_GetObjectItemCaseSensitive(spec, "generate");
  const char *rel = NULL;
  if ((rc = hyd_json_get_string(spec, where, "path", 0, &rel, err, errsz)))
    return rc;
  if (!gen == !rel) {
    snprintf(err, errsz, "%s: give exactly one of 'path' (a folder with "
             "A1.csv ... x0.csv) and 'generate'", where);
    return 2;
  }
  hyd_quadratic *q = NULL;
  if (gen) {
    if (!cJSON_IsObject(gen)) {
      snprintf(err, errsz, "%s: 'generate' must be an object", where);
      return 2;
    }
    char gwhere[256];
    snprintf(gwhere, sizeof gwhere, "%s.generate", where);
    if ((rc = hyd_json_check_keys(gen, gwhere, gen_keys, err, errsz)))
      return rc;
    size_t rows = 1000, n = 10, p = 10;
    double cl = 100, cu = 100, noise = 0.01, seed = 0;
    if ((rc = hyd_json_get_count(gen, gwhere, "rows", 0, &rows, err, errsz)) ||
        (rc = hyd_json_get_count(gen, gwhere, "n", 0, &n, err, errsz)) ||
        (rc = hyd_json_get_count(gen, gwhere, "p", 0, &p, err, errsz)) ||
        (rc = hyd_json_get_number(gen, gwhere, "cond_lower", 0, &cl, err, errsz)) ||
        (rc = hyd_json_get_number(gen, gwhere, "cond_upper", 0, &cu, err, errsz)) ||
        (rc = hyd_json_get_number(gen, gwhere, "noise", 0, &noise, err, errsz)) ||
        (rc = hyd_json_get_number(gen, gwhere, "seed", 0, &seed, err, errsz)))
      return rc;
    if (!(rows >= n && n >= p) || cl < 1 || cu < 1 || noise < 0 || seed < 0) {
      snprintf(err, errsz, "%s: needs rows >= n >= p, cond_lower >= 1, "
               "cond_upper >= 1, noise >= 0, seed >= 0", gwhere);
      return 2;
    }
    rc = hyd_quadratic_generate(&q, rows, n, p, cl, cu, noise,
                                (unsigned long)seed, NULL);
    if (rc) {
      snprintf(err, errsz, "%s: generating the instance failed (%s)", gwhere,
               hyd_strerror(rc));
      return rc == HYD_ENOMEM ? 1 : 2;
    }
    snprintf(out->summary, sizeof out->summary,
             "quadratic %zu x %zu, p = %zu (generated, seed %.0f)", rows, n,
             p, seed);
    out->checksums = cJSON_CreateObject();
  } else {
    size_t rows = 1000, n = 10, p = 10;
    if ((rc = hyd_json_get_count(spec, where, "rows", 0, &rows, err, errsz)) ||
        (rc = hyd_json_get_count(spec, where, "n", 0, &n, err, errsz)) ||
        (rc = hyd_json_get_count(spec, where, "p", 0, &p, err, errsz)))
      return rc;
    char folder[4000];
    if (hyd_resolve_path(dir, rel, folder, sizeof folder) != 0) {
      snprintf(err, errsz, "%s: path: too long", where);
      return 2;
    }
    cJSON *sums = cJSON_CreateObject();
    double *a[6] = {0};
    const char *names[] = {"A1", "A2", "A3", "b1", "b2", "x0"};
    size_t shapes[6][2] = {{rows, n}, {rows, n}, {rows, p},
                           {rows, 1}, {rows, 1}, {n, 1}};
    for (int k = 0; k < 6 && !rc; k++)
      rc = read_matrix(folder, names[k], shapes[k][0], shapes[k][1], &a[k],
                       sums, err, errsz);
    if (!rc) {
      int qrc = hyd_quadratic_create(&q, rows, n, p, a[0], a[1], a[2], a[3],
                                     a[4], a[5], NULL);
      if (qrc) {
        snprintf(err, errsz, "%s: the instance in %s is not usable (%s: "
                 "A2 must have full column rank, values finite)", where,
                 folder, hyd_strerror(qrc));
        rc = qrc == HYD_ENOMEM ? 1 : 2;
      }
    }
    for (int k = 0; k < 6; k++)
      free(a[k]);
    if (rc) {
      cJSON_Delete(sums);
      return rc;
    }
    out->checksums = sums;
    snprintf(out->summary, sizeof out->summary, "quadratic %zu x %zu, p = %zu "
             "(%s)", rows, n, p, rel);
  }
  out->problem = hyd_quadratic_problem(q);
  out->owner = q;
  out->destroy = quadratic_destroy;
  out->report = quadratic_report;
  return 0;
}

typedef int (*builder)(const cJSON *spec, const char *dir, const char *where,
                       hyd_built_problem *out, char *err, size_t errsz);

static const struct {
  const char *type;
  builder build;
} builders[] = {{"quadratic", build_quadratic},
                {"tv", hyd_build_tv},
                {"foe", hyd_build_foe},
                {"mlp", hyd_build_mlp},
                {"logistic", hyd_build_logistic},
                {"compander", hyd_build_compander}};

int hyd_problem_build(const cJSON *spec, const char *dir, const char *origin,
                      hyd_built_problem *out, char *err, size_t errsz)
{
  memset(out, 0, sizeof *out);
  char where[512];
  snprintf(where, sizeof where, "%s: problem", origin);
  const char *type = NULL;
  int rc = hyd_json_get_string(spec, where, "type", 1, &type, err, errsz);
  if (rc)
    return rc;
  for (size_t k = 0; k < sizeof builders / sizeof builders[0]; k++)
    if (strcmp(builders[k].type, type) == 0) {
      snprintf(out->type, sizeof out->type, "%s", type);
      rc = builders[k].build(spec, dir, where, out, err, errsz);
      if (rc == 0 && !out->checksums) {
        snprintf(err, errsz, "out of memory");
        hyd_problem_release(out);
        return 1;
      }
      return rc;
    }
  size_t used = (size_t)snprintf(err, errsz, "%s: unknown type '%s' (known:",
                                 where, type);
  for (size_t k = 0; k < sizeof builders / sizeof builders[0] && used < errsz;
       k++)
    used += (size_t)snprintf(err + used, errsz - used, " %s", builders[k].type);
  if (used < errsz)
    snprintf(err + used, errsz - used, ")");
  return 2;
}

void hyd_problem_release(hyd_built_problem *b)
{
  if (!b)
    return;
  if (b->destroy && b->owner)
    b->destroy(b->owner);
  cJSON_Delete(b->checksums);
  memset(b, 0, sizeof *b);
}
