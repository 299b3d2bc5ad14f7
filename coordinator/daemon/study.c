#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study.h"

static const char *const top_keys[] = {"name", "description", "problem",
                                       "method", "options", "theta0", "seed",
                                       "webhook", NULL};

int hyd_json_check_keys(const cJSON *obj, const char *where,
                        const char *const *allowed, char *err, size_t errsz)
{
  for (const cJSON *it = obj->child; it; it = it->next) {
    int known = 0;
    for (size_t k = 0; allowed[k]; k++)
      known = known || strcmp(it->string, allowed[k]) == 0;
    if (!known) {
      size_t used = (size_t)snprintf(err, errsz,
                                     "%s: unknown key '%s' (allowed:", where,
                                     it->string);
      for (size_t k = 0; allowed[k] && used < errsz; k++)
        used += (size_t)snprintf(err + used, errsz - used, " %s", allowed[k]);
      if (used < errsz)
        snprintf(err + used, errsz - used, ")");
      return 2;
    }
  }
  return 0;
}

/* The member `key` of obj, or NULL when it is absent, with *rc = 2 and a
 * message when it was required. */
static const cJSON *member(const cJSON *obj, const char *where,
                           const char *key, int required, int *rc, char *err,
                           size_t errsz)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v && required) {
    snprintf(err, errsz, "%s: missing required key '%s'", where, key);
    *rc = 2;
  }
  return v;
}

int hyd_json_get_string(const cJSON *obj, const char *where, const char *key,
                        int required, const char **out, char *err,
                        size_t errsz)
{
  int rc = 0;
  const cJSON *v = member(obj, where, key, required, &rc, err, errsz);
  if (!v)
    return rc;
  if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
    snprintf(err, errsz, "%s: '%s' must be a non-empty string", where, key);
    return 2;
  }
  *out = v->valuestring;
  return 0;
}

int hyd_json_get_number(const cJSON *obj, const char *where, const char *key,
                        int required, double *out, char *err, size_t errsz)
{
  int rc = 0;
  const cJSON *v = member(obj, where, key, required, &rc, err, errsz);
  if (!v)
    return rc;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
    snprintf(err, errsz, "%s: '%s' must be a finite number", where, key);
    return 2;
  }
  *out = v->valuedouble;
  return 0;
}

int hyd_json_get_count(const cJSON *obj, const char *where, const char *key,
                       int required, size_t *out, char *err, size_t errsz)
{
  double v = (double)*out;
  int rc = hyd_json_get_number(obj, where, key, required, &v, err, errsz);
  if (rc)
    return rc;
  if (v < 1 || v > 1e12 || v != floor(v)) {
    snprintf(err, errsz, "%s: '%s' must be a positive integer (got %g)",
             where, key, v);
    return 2;
  }
  *out = (size_t)v;
  return 0;
}

void hyd_study_free(hyd_study_file *s)
{
  if (!s)
    return;
  cJSON_Delete(s->root);
  free(s->text);
  free(s->dir);
  free(s->name);
  memset(s, 0, sizeof *s);
}

static char *dup_string(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

/* The stem of a path: "examples/quadratic.json" -> "quadratic". */
static char *stem_of(const char *path)
{
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char *s = dup_string(base);
  if (s) {
    char *dot = strrchr(s, '.');
    if (dot && dot != s)
      *dot = '\0';
  }
  return s;
}

int hyd_study_parse(const char *text, const char *dir, const char *origin,
                    hyd_study_file *out, char *err, size_t errsz)
{
  memset(out, 0, sizeof *out);
  out->text = dup_string(text);
  out->dir = dup_string(dir);
  if (!out->text || !out->dir) {
    snprintf(err, errsz, "%s: out of memory", origin);
    hyd_study_free(out);
    return 1;
  }
  out->root = cJSON_ParseWithOpts(text, NULL, 1);
  if (!out->root) {
    const char *at = cJSON_GetErrorPtr();
    long line = 1, col = 1;
    for (const char *c = text; at && c < at && *c; c++) {
      if (*c == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    snprintf(err, errsz, "%s: malformed JSON at line %ld, column %ld", origin,
             line, col);
    hyd_study_free(out);
    return 2;
  }
  cJSON *root = out->root;
  int rc = 0;
  if (!cJSON_IsObject(root)) {
    snprintf(err, errsz, "%s: the study must be a JSON object", origin);
    rc = 2;
  }
  if (!rc)
    rc = hyd_json_check_keys(root, origin, top_keys, err, errsz);
  const char *name = NULL, *method = "rigorous";
  if (!rc)
    rc = hyd_json_get_string(root, origin, "name", 0, &name, err, errsz);
  if (!rc)
    rc = hyd_json_get_string(root, origin, "method", 0, &method, err, errsz);
  if (!rc)
    rc = hyd_json_get_string(root, origin, "webhook", 0, &out->webhook, err,
                             errsz);
  if (!rc) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (d && !cJSON_IsString(d)) {
      snprintf(err, errsz, "%s: 'description' must be a string", origin);
      rc = 2;
    }
  }
  if (!rc) {
    out->problem = cJSON_GetObjectItemCaseSensitive(root, "problem");
    if (!out->problem) {
      snprintf(err, errsz, "%s: missing required key 'problem'", origin);
      rc = 2;
    } else if (!cJSON_IsObject(out->problem)) {
      snprintf(err, errsz, "%s: 'problem' must be an object", origin);
      rc = 2;
    }
  }
  if (!rc) {
    out->options = cJSON_GetObjectItemCaseSensitive(root, "options");
    if (out->options && !cJSON_IsObject(out->options)) {
      snprintf(err, errsz, "%s: 'options' must be an object", origin);
      rc = 2;
    }
  }
  if (!rc) {
    out->theta0 = cJSON_GetObjectItemCaseSensitive(root, "theta0");
    if (out->theta0 && !cJSON_IsNumber(out->theta0) &&
        !cJSON_IsArray(out->theta0)) {
      snprintf(err, errsz, "%s: 'theta0' must be a number or an array of "
               "numbers", origin);
      rc = 2;
    }
    for (const cJSON *v = out->theta0 && cJSON_IsArray(out->theta0)
                              ? out->theta0->child
                              : NULL;
         v && !rc; v = v->next)
      if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        snprintf(err, errsz, "%s: 'theta0' must hold finite numbers only",
                 origin);
        rc = 2;
      }
  }
  if (!rc) {
    double seed = 0;
    rc = hyd_json_get_number(root, origin, "seed", 0, &seed, err, errsz);
    if (!rc && (seed < 0 || seed > 9007199254740992.0 || seed != floor(seed))) {
      snprintf(err, errsz, "%s: 'seed' must be a non-negative integer", origin);
      rc = 2;
    }
    out->seed = (unsigned long)seed;
  }
  if (rc) {
    hyd_study_free(out);
    return rc;
  }
  out->method = method;
  out->name_given = name != NULL;
  out->name = name ? dup_string(name) : stem_of(origin);
  if (!out->name) {
    snprintf(err, errsz, "%s: out of memory", origin);
    hyd_study_free(out);
    return 1;
  }
  return 0;
}

int hyd_study_load(const char *path, hyd_study_file *out, char *err,
                   size_t errsz)
{
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errsz, "%s: cannot open the study file: %s", path,
             strerror(errno));
    return 2;
  }
  char *text = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? 2 * cap : 8192;
      char *t = realloc(text, cap);
      if (!t) {
        free(text);
        fclose(f);
        snprintf(err, errsz, "%s: out of memory", path);
        return 1;
      }
      text = t;
    }
    size_t got = fread(text + len, 1, 4096, f);
    len += got;
    if (got < 4096)
      break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad || len > (1u << 24)) {
    free(text);
    snprintf(err, errsz, "%s: %s", path,
             bad ? "read error" : "study file larger than 16 MiB");
    return 2;
  }
  text[len] = '\0';
  if (strlen(text) != len) {
    free(text);
    snprintf(err, errsz, "%s: not a text file (NUL byte)", path);
    return 2;
  }
  char *abs = realpath(path, NULL);
  char *dir = abs ? dup_string(abs) : NULL;
  if (dir) {
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
      *slash = '\0';
    else if (slash)
      slash[1] = '\0';
  }
  free(abs);
  if (!dir) {
    free(text);
    snprintf(err, errsz, "%s: cannot resolve its folder", path);
    return 1;
  }
  int rc = hyd_study_parse(text, dir, path, out, err, errsz);
  free(text);
  free(dir);
  return rc;
}
