/* daemon/study.h: study files (JSON), read and validated completely before
 * anything runs. The format is documented in docs/study-files.md. */
#ifndef HYPERD_DAEMON_STUDY_H
#define HYPERD_DAEMON_STUDY_H

#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct hyd_study_file {
  char *text;          /* the file as given */
  char *dir;           /* absolute folder of the file: relative paths start here */
  char *name;          /* "name", or the file's stem */
  int name_given;      /* 1 if the file named the study */
  cJSON *root;         /* parsed text (owned) */
  const cJSON *problem; /* the "problem" object (borrowed from root) */
  const char *method;  /* "rigorous" unless given */
  const cJSON *options; /* "options" object or NULL */
  const cJSON *theta0; /* number or array, or NULL */
  unsigned long seed;
  const char *webhook; /* NULL if none */
} hyd_study_file;

/* Reads `path` and checks every top-level key and type. 0 on success; on
 * failure 2 (bad input, message in err naming the file, key and fault) or
 * 1 (could not read). */
int hyd_study_load(const char *path, hyd_study_file *out, char *err,
                   size_t errsz);
/* Same from text already in memory (resume: the stored copy); `dir` is the
 * folder relative paths start from. */
int hyd_study_parse(const char *text, const char *dir, const char *origin,
                    hyd_study_file *out, char *err, size_t errsz);
void hyd_study_free(hyd_study_file *s);

/* Helpers for the per-problem keys, all writing "file: key: fault" into
 * err and returning 2 on a fault, 0 when fine. `allowed` is NULL-ended. */
int hyd_json_check_keys(const cJSON *obj, const char *where,
                        const char *const *allowed, char *err, size_t errsz);
int hyd_json_get_string(const cJSON *obj, const char *where, const char *key,
                        int required, const char **out, char *err,
                        size_t errsz);
int hyd_json_get_number(const cJSON *obj, const char *where, const char *key,
                        int required, double *out, char *err, size_t errsz);
int hyd_json_get_count(const cJSON *obj, const char *where, const char *key,
                       int required, size_t *out, char *err, size_t errsz);

#endif
