/* store_study.c: study rows: create, update, look up, list, and the
 * daemon's queue. */
#include "store_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {"QUEUED", "RUNNING", "COMPLETE",
                                           "FAILED", "INTERRUPTED"};
#define N_STATUS ((int)(sizeof status_names / sizeof status_names[0]))

const char *hyd_study_status_name(int status) {
  return status >= 0 && status < N_STATUS ? status_names[status] : NULL;
}

int hyd_study_status_parse(const char *name) {
  for (int i = 0; name && i < N_STATUS; i++)
    if (strcmp(name, status_names[i]) == 0)
      return i;
  return -1;
}

/* Columns of STUDY_COLUMNS (store.c), in order. */
enum {
  C_ID, C_NAME, C_PROBLEM, C_METHOD, C_STATUS, C_STUDY_JSON, C_OPTIONS_JSON,
  C_CHECKSUMS_JSON, C_SEED, C_HOST, C_RANKS, C_CREATED, C_STARTED,
  C_FINISHED, C_STOP_REASON, C_ERROR, C_BEST_VALUE, C_BEST_ITERATION,
  C_N_THETA, C_N_ITERATIONS, C_N_EVALUATIONS, C_BOUND, C_OWNER_HOST,
  C_OWNER_PID, C_HEARTBEAT
};

static char *text_col(sqlite3_stmt *stmt, int i) {
  /* Borrowed: valid until the statement steps or resets. */
  return (char *)sqlite3_column_text(stmt, i);
}

/* Fills `s` with borrowed strings from the current row. */
static void study_from_row(sqlite3_stmt *stmt, hyd_store_study *s) {
  memset(s, 0, sizeof *s);
  s->id = sqlite3_column_int64(stmt, C_ID);
  s->name = text_col(stmt, C_NAME);
  s->problem = text_col(stmt, C_PROBLEM);
  s->method = text_col(stmt, C_METHOD);
  s->status = hyd_study_status_parse(text_col(stmt, C_STATUS));
  s->study_json = text_col(stmt, C_STUDY_JSON);
  s->options_json = text_col(stmt, C_OPTIONS_JSON);
  s->data_checksums_json = text_col(stmt, C_CHECKSUMS_JSON);
  s->seed = (uint64_t)sqlite3_column_int64(stmt, C_SEED);
  s->host = text_col(stmt, C_HOST);
  s->ranks = sqlite3_column_int(stmt, C_RANKS);
  s->created_at = text_col(stmt, C_CREATED);
  s->started_at = text_col(stmt, C_STARTED);
  s->finished_at = text_col(stmt, C_FINISHED);
  s->stop_reason = text_col(stmt, C_STOP_REASON);
  s->error = text_col(stmt, C_ERROR);
  s->has_best = sqlite3_column_type(stmt, C_BEST_VALUE) != SQLITE_NULL;
  s->best_value = hyd_store_column_double(stmt, C_BEST_VALUE);
  s->best_iteration = (long)sqlite3_column_int64(stmt, C_BEST_ITERATION);
  s->n_theta = (size_t)sqlite3_column_int64(stmt, C_N_THETA);
  s->n_iterations = (long)sqlite3_column_int64(stmt, C_N_ITERATIONS);
  s->n_evaluations = (long)sqlite3_column_int64(stmt, C_N_EVALUATIONS);
  const char *bound = text_col(stmt, C_BOUND);
  s->lower_nonconvex = bound && strcmp(bound, "not_certified") == 0;
  s->owner_host = text_col(stmt, C_OWNER_HOST);
  s->owner_pid = (long)sqlite3_column_int64(stmt, C_OWNER_PID);
  s->heartbeat_at = text_col(stmt, C_HEARTBEAT);
}

/* Turns the borrowed strings of `s` into owned copies. */
static int own_strings(hyd_store *st, hyd_store_study *s) {
  char **fields[] = {&s->name,        &s->problem,    &s->method,
                     &s->study_json,  &s->options_json, &s->data_checksums_json,
                     &s->host,        &s->created_at, &s->started_at,
                     &s->finished_at, &s->stop_reason, &s->error,
                     &s->owner_host,  &s->heartbeat_at};
  size_t n = sizeof fields / sizeof fields[0];
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    if (failed)
      *fields[i] = NULL; /* never free a borrowed pointer */
    else if (hyd_store_dup_string(fields[i]) != 0)
      failed = 1;
  }
  if (failed) {
    hyd_store_study_clear(s);
    return hyd_store_fail(st, HYD_STORE_ENOMEM, "out of memory reading a study");
  }
  return HYD_STORE_OK;
}

void hyd_store_study_clear(hyd_store_study *s) {
  if (!s)
    return;
  char *fields[] = {s->name,        s->problem,    s->method,
                    s->study_json,  s->options_json, s->data_checksums_json,
                    s->host,        s->created_at, s->started_at,
                    s->finished_at, s->stop_reason, s->error,
                    s->owner_host,  s->heartbeat_at};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    sqlite3_free(fields[i]);
  memset(s, 0, sizeof *s);
}

static int check_spec(hyd_store *st, const hyd_store_study_spec *spec) {
  if (!spec)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "create study: no spec given");
  const char *missing = !spec->name         ? "name"
                        : !spec->problem    ? "problem"
                        : !spec->method     ? "method"
                        : !spec->study_json ? "study_json"
                                            : NULL;
  if (missing)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "create study: %s is required", missing);
  size_t len = strlen(spec->name);
  if (len == 0 || len > 200)
    return hyd_store_fail(st, HYD_STORE_EINVAL,
                          "create study: a name has 1 to 200 bytes, not %zu", len);
  if (spec->status != HYD_STUDY_QUEUED && spec->status != HYD_STUDY_RUNNING)
    return hyd_store_fail(st, HYD_STORE_EINVAL,
                          "create study: a new study is QUEUED or RUNNING, not %d",
                          spec->status);
  if (spec->pid < 0 || (spec->pid > 0 && (spec->status != HYD_STUDY_RUNNING || !spec->host)))
    return hyd_store_fail(st, HYD_STORE_EINVAL,
                          "create study: an owner (pid and host) is for a RUNNING study");
  if (spec->ranks < 0 || spec->n_theta > (size_t)INT64_MAX / 8)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "create study: bad ranks or n_theta");
  return HYD_STORE_OK;
}

static int bind_spec(sqlite3_stmt *q, const hyd_store_study_spec *spec) {
  int rc = hyd_store_bind_text(q, 1, spec->name);
  if (rc == SQLITE_OK) rc = hyd_store_bind_text(q, 2, spec->problem);
  if (rc == SQLITE_OK) rc = hyd_store_bind_text(q, 3, spec->method);
  if (rc == SQLITE_OK) rc = hyd_store_bind_text(q, 4, hyd_study_status_name(spec->status));
  if (rc == SQLITE_OK) rc = hyd_store_bind_text(q, 5, spec->study_json);
  if (rc == SQLITE_OK)
    rc = hyd_store_bind_text(q, 6, spec->options_json ? spec->options_json : "{}");
  if (rc == SQLITE_OK)
    rc = hyd_store_bind_text(q, 7, spec->data_checksums_json ? spec->data_checksums_json : "{}");
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 8, (sqlite3_int64)spec->seed);
  if (rc == SQLITE_OK) rc = hyd_store_bind_text(q, 9, spec->host);
  if (rc == SQLITE_OK)
    rc = spec->ranks > 0 ? sqlite3_bind_int(q, 10, spec->ranks) : sqlite3_bind_null(q, 10);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 11, (sqlite3_int64)spec->n_theta);
  if (rc == SQLITE_OK)
    rc = hyd_store_bind_text(q, 12, spec->lower_nonconvex ? "not_certified" : "certifiable");
  if (rc == SQLITE_OK)
    rc = spec->pid > 0 ? sqlite3_bind_int64(q, 13, spec->pid) : sqlite3_bind_null(q, 13);
  return rc;
}

int hyd_store_create_study(hyd_store *st, const hyd_store_study_spec *spec,
                           int64_t *id) {
  if (!st || !id)
    return st ? hyd_store_fail(st, HYD_STORE_EINVAL, "create study: no id pointer")
              : HYD_STORE_EINVAL;
  int status = hyd_store_check_writable(st, "create study");
  if (!status)
    status = check_spec(st, spec);
  sqlite3_stmt *q = NULL;
  if (!status)
    status = hyd_store_stmt(st, STMT_INSERT_STUDY, &q);
  if (status)
    return hyd_store_iteration_failed(st, status);
  int rc = bind_spec(q, spec);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(q);
  if (rc == SQLITE_DONE) {
    *id = sqlite3_last_insert_rowid(st->db);
    if (spec->pid > 0)
      st->owned_study = *id;
    (void)sqlite3_reset(q);
    hyd_store_ok(st);
    return HYD_STORE_OK;
  }
  if (rc == SQLITE_CONSTRAINT_UNIQUE)
    status = hyd_store_fail(st, HYD_STORE_EEXIST,
                            "a study named \"%s\" already exists", spec->name);
  else
    status = hyd_store_fail_sqlite(st, rc, "create study");
  (void)sqlite3_reset(q);
  return hyd_store_iteration_failed(st, status);
}

/* Runs one UPDATE of a study row with parameters bound by `bind`; a study
 * that does not exist is HYD_STORE_ENOTFOUND (an UPDATE of no row is not an
 * error to SQLite). */
typedef int (*bind_fn)(sqlite3_stmt *q, const void *arg);

static int update_study(hyd_store *st, enum hyd_store_stmt id, int64_t study,
                        bind_fn bind, const void *arg, const char *what) {
  if (!st)
    return HYD_STORE_EINVAL;
  sqlite3_stmt *q = NULL;
  int status = hyd_store_check_writable(st, what);
  if (!status)
    status = hyd_store_stmt(st, id, &q);
  if (status)
    return hyd_store_iteration_failed(st, status);
  int rc = sqlite3_bind_int64(q, 1, study);
  if (rc == SQLITE_OK)
    rc = bind(q, arg);
  if (rc != SQLITE_OK) {
    status = hyd_store_fail_sqlite(st, rc, what);
    (void)sqlite3_reset(q);
  } else {
    status = hyd_store_step_done(st, q, what);
  }
  if (!status && sqlite3_changes(st->db) == 0)
    status = hyd_store_fail(st, HYD_STORE_ENOTFOUND, "%s: no study with id %lld",
                            what, (long long)study);
  if (!status)
    hyd_store_ok(st);
  return hyd_store_iteration_failed(st, status);
}

static int bind_text2(sqlite3_stmt *q, const void *arg) {
  return hyd_store_bind_text(q, 2, arg);
}

int hyd_store_set_status(hyd_store *st, int64_t study, int status) {
  const char *name = hyd_study_status_name(status);
  if (st && !name)
    return hyd_store_iteration_failed(
        st, hyd_store_fail(st, HYD_STORE_EINVAL, "set status: unknown status %d", status));
  return update_study(st, STMT_SET_STATUS, study, bind_text2, name, "set status");
}

int hyd_store_set_stop_reason(hyd_store *st, int64_t study, const char *reason) {
  return update_study(st, STMT_SET_STOP_REASON, study, bind_text2, reason,
                      "set stop reason");
}

int hyd_store_set_error(hyd_store *st, int64_t study, const char *message) {
  return update_study(st, STMT_SET_ERROR, study, bind_text2, message, "set error");
}

struct result_arg {
  double value;
  long iteration;
};

static int bind_result(sqlite3_stmt *q, const void *arg) {
  const struct result_arg *r = arg;
  int rc = sqlite3_bind_double(q, 2, r->value);
  return rc == SQLITE_OK ? sqlite3_bind_int64(q, 3, r->iteration) : rc;
}

int hyd_store_set_result(hyd_store *st, int64_t study, double best_value,
                         long best_iteration) {
  if (st && best_iteration < 0)
    return hyd_store_iteration_failed(
        st, hyd_store_fail(st, HYD_STORE_EINVAL, "set result: negative iteration %ld",
                           best_iteration));
  struct result_arg r = {best_value, best_iteration};
  return update_study(st, STMT_SET_RESULT, study, bind_result, &r, "set result");
}

/* Steps a one-row study query into `out` (owned strings). */
static int fetch_study(hyd_store *st, sqlite3_stmt *q, hyd_store_study *out,
                       const char *what, const char *key) {
  int rc = sqlite3_step(q);
  int status;
  if (rc == SQLITE_ROW) {
    study_from_row(q, out);
    status = own_strings(st, out);
  } else if (rc == SQLITE_DONE) {
    memset(out, 0, sizeof *out);
    status = hyd_store_fail(st, HYD_STORE_ENOTFOUND, "no study %s", key);
  } else {
    memset(out, 0, sizeof *out);
    status = hyd_store_fail_sqlite(st, rc, what);
  }
  (void)sqlite3_reset(q);
  if (!status)
    hyd_store_ok(st);
  return status;
}

int hyd_store_get_study(hyd_store *st, int64_t id, hyd_store_study *out) {
  if (!st || !out)
    return st ? hyd_store_fail(st, HYD_STORE_EINVAL, "get study: no output") : HYD_STORE_EINVAL;
  sqlite3_stmt *q = NULL;
  int status = hyd_store_stmt(st, STMT_STUDY_BY_ID, &q);
  if (status)
    return status;
  int rc = sqlite3_bind_int64(q, 1, id);
  if (rc != SQLITE_OK)
    return hyd_store_fail_sqlite(st, rc, "get study");
  char key[48];
  (void)snprintf(key, sizeof key, "with id %lld", (long long)id);
  return fetch_study(st, q, out, "get study", key);
}

int hyd_store_find_study(hyd_store *st, const char *name, hyd_store_study *out) {
  if (!st || !out || !name)
    return st ? hyd_store_fail(st, HYD_STORE_EINVAL, "find study: no name or output")
              : HYD_STORE_EINVAL;
  sqlite3_stmt *q = NULL;
  int status = hyd_store_stmt(st, STMT_STUDY_BY_NAME, &q);
  if (status)
    return status;
  int rc = hyd_store_bind_text(q, 1, name);
  if (rc != SQLITE_OK)
    return hyd_store_fail_sqlite(st, rc, "find study");
  char key[300];
  (void)snprintf(key, sizeof key, "named \"%s\"", name);
  return fetch_study(st, q, out, "find study", key);
}

/* A decimal id without sign, spaces or overflow; -1 otherwise. */
static int64_t parse_id(const char *s) {
  if (!*s)
    return -1;
  int64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

int hyd_store_lookup_study(hyd_store *st, const char *name_or_id,
                           hyd_store_study *out) {
  int status = hyd_store_find_study(st, name_or_id, out);
  if (status != HYD_STORE_ENOTFOUND)
    return status;
  int64_t id = parse_id(name_or_id);
  if (id < 0)
    return status;
  status = hyd_store_get_study(st, id, out);
  if (status == HYD_STORE_ENOTFOUND)
    return hyd_store_fail(st, status, "no study named \"%s\" and no study with id %lld",
                          name_or_id, (long long)id);
  return status;
}

int hyd_store_list_studies(hyd_store *st, hyd_store_study_fn fn, void *user) {
  if (!st || !fn)
    return st ? hyd_store_fail(st, HYD_STORE_EINVAL, "list studies: no callback")
              : HYD_STORE_EINVAL;
  sqlite3_stmt *q = NULL;
  int status = hyd_store_stmt(st, STMT_LIST_STUDIES, &q);
  if (status)
    return status;
  uint64_t bit = HYD_STORE_STMT_BIT(STMT_LIST_STUDIES);
  st->stmt_in_use |= bit;
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    hyd_store_study s;
    study_from_row(q, &s);
    if (fn(&s, user) != 0) {
      rc = SQLITE_DONE;
      break;
    }
  }
  st->stmt_in_use &= ~bit;
  status = rc == SQLITE_DONE ? HYD_STORE_OK : hyd_store_fail_sqlite(st, rc, "list studies");
  (void)sqlite3_reset(q);
  if (!status)
    hyd_store_ok(st);
  return status;
}

int hyd_store_next_queued(hyd_store *st, int64_t *id) {
  if (!st || !id)
    return st ? hyd_store_fail(st, HYD_STORE_EINVAL, "next queued: no id pointer")
              : HYD_STORE_EINVAL;
  sqlite3_stmt *q = NULL;
  int status = hyd_store_stmt(st, STMT_NEXT_QUEUED, &q);
  if (status)
    return status;
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    *id = sqlite3_column_int64(q, 0);
    status = HYD_STORE_OK;
    hyd_store_ok(st);
  } else if (rc == SQLITE_DONE) {
    status = hyd_store_fail(st, HYD_STORE_ENOTFOUND, "no QUEUED study");
  } else {
    status = hyd_store_fail_sqlite(st, rc, "next queued");
  }
  (void)sqlite3_reset(q);
  return status;
}

int hyd_store_study_n_theta(hyd_store *st, int64_t study, size_t *n_theta) {
  sqlite3_stmt *q = NULL;
  int status = hyd_store_row_by_key(st, STMT_STUDY_N_THETA, study, "looking up a study", &q);
  if (status == HYD_STORE_ENOTFOUND)
    return hyd_store_fail(st, status, "no study with id %lld", (long long)study);
  if (status)
    return status;
  *n_theta = (size_t)sqlite3_column_int64(q, 0);
  (void)sqlite3_reset(q);
  return HYD_STORE_OK;
}
