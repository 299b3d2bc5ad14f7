/* export_optuna.c: hyperd export --format optuna (export_optuna.h).
 *
 * The output is a new SQLite file in the schema Optuna 3.1.0's RDBStorage
 * creates (copied from `sqlite3 x.db .schema` of an empty storage made by
 * optuna 3.1.0 itself, Debian 12's python3-optuna). Optuna checks
 * version_info.schema_version and the alembic revision when it opens a
 * storage, so both are written as that version writes them. Everything
 * goes in one transaction into a temporary file next to --out, renamed
 * into place at the end. */
#include "export_optuna.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Optuna 3.1.0's tables, as SQLAlchemy creates them on SQLite. */
static const char optuna_ddl[] =
  "CREATE TABLE studies (\n"
  "  study_id INTEGER NOT NULL,\n"
  "  study_name VARCHAR(512) NOT NULL,\n"
  "  PRIMARY KEY (study_id)\n"
  ");\n"
  "CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name);\n"
  "CREATE TABLE version_info (\n"
  "  version_info_id INTEGER NOT NULL,\n"
  "  schema_version INTEGER,\n"
  "  library_version VARCHAR(256),\n"
  "  PRIMARY KEY (version_info_id),\n"
  "  CHECK (version_info_id=1)\n"
  ");\n"
  "CREATE TABLE study_directions (\n"
  "  study_direction_id INTEGER NOT NULL,\n"
  "  direction VARCHAR(8) NOT NULL,\n"
  "  study_id INTEGER NOT NULL,\n"
  "  objective INTEGER NOT NULL,\n"
  "  PRIMARY KEY (study_direction_id),\n"
  "  UNIQUE (study_id, objective),\n"
  "  FOREIGN KEY(study_id) REFERENCES studies (study_id)\n"
  ");\n"
  "CREATE TABLE study_user_attributes (\n"
  "  study_user_attribute_id INTEGER NOT NULL,\n"
  "  study_id INTEGER,\n"
  "  \"key\" VARCHAR(512),\n"
  "  value_json TEXT,\n"
  "  PRIMARY KEY (study_user_attribute_id),\n"
  "  UNIQUE (study_id, \"key\"),\n"
  "  FOREIGN KEY(study_id) REFERENCES studies (study_id)\n"
  ");\n"
  "CREATE TABLE study_system_attributes (\n"
  "  study_system_attribute_id INTEGER NOT NULL,\n"
  "  study_id INTEGER,\n"
  "  \"key\" VARCHAR(512),\n"
  "  value_json TEXT,\n"
  "  PRIMARY KEY (study_system_attribute_id),\n"
  "  UNIQUE (study_id, \"key\"),\n"
  "  FOREIGN KEY(study_id) REFERENCES studies (study_id)\n"
  ");\n"
  "CREATE TABLE trials (\n"
  "  trial_id INTEGER NOT NULL,\n"
  "  number INTEGER,\n"
  "  study_id INTEGER,\n"
  "  state VARCHAR(8) NOT NULL,\n"
  "  datetime_start DATETIME,\n"
  "  datetime_complete DATETIME,\n"
  "  PRIMARY KEY (trial_id),\n"
  "  FOREIGN KEY(study_id) REFERENCES studies (study_id)\n"
  ");\n"
  "CREATE TABLE trial_user_attributes (\n"
  "  trial_user_attribute_id INTEGER NOT NULL,\n"
  "  trial_id INTEGER,\n"
  "  \"key\" VARCHAR(512),\n"
  "  value_json TEXT,\n"
  "  PRIMARY KEY (trial_user_attribute_id),\n"
  "  UNIQUE (trial_id, \"key\"),\n"
  "  FOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n"
  ");\n"
  "CREATE TABLE trial_system_attributes (\n"
  "  trial_system_attribute_id INTEGER NOT NULL,\n"
  "  trial_id INTEGER,\n"
  "  \"key\" VARCHAR(512),\n"
  "  value_json TEXT,\n"
  "  PRIMARY KEY (trial_system_attribute_id),\n"
  "  UNIQUE (trial_id, \"key\"),\n"
  "  FOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n"
  ");\n"
  "CREATE TABLE trial_params (\n"
  "  param_id INTEGER NOT NULL,\n"
  "  trial_id INTEGER,\n"
  "  param_name VARCHAR(512),\n"
  "  param_value FLOAT,\n"
  "  distribution_json TEXT,\n"
  "  PRIMARY KEY (param_id),\n"
  "  UNIQUE (trial_id, param_name),\n"
  "  FOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n"
  ");\n"
  "CREATE TABLE trial_values (\n"
  "  trial_value_id INTEGER NOT NULL,\n"
  "  trial_id INTEGER NOT NULL,\n"
  "  objective INTEGER NOT NULL,\n"
  "  value FLOAT,\n"
  "  value_type VARCHAR(7) NOT NULL,\n"
  "  PRIMARY KEY (trial_value_id),\n"
  "  UNIQUE (trial_id, objective),\n"
  "  FOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n"
  ");\n"
  "CREATE TABLE trial_intermediate_values (\n"
  "  trial_intermediate_value_id INTEGER NOT NULL,\n"
  "  trial_id INTEGER NOT NULL,\n"
  "  step INTEGER NOT NULL,\n"
  "  intermediate_value FLOAT,\n"
  "  intermediate_value_type VARCHAR(7) NOT NULL,\n"
  "  PRIMARY KEY (trial_intermediate_value_id),\n"
  "  UNIQUE (trial_id, step),\n"
  "  FOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n"
  ");\n"
  "CREATE TABLE trial_heartbeats (\n"
  "  trial_heartbeat_id INTEGER NOT NULL,\n"
  "  trial_id INTEGER NOT NULL,\n"
  "  heartbeat DATETIME NOT NULL,\n"
  "  PRIMARY KEY (trial_heartbeat_id),\n"
  "  UNIQUE (trial_id),\n"
  "  FOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n"
  ");\n"
  "CREATE TABLE alembic_version (\n"
  "  version_num VARCHAR(32) NOT NULL,\n"
  "  CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n"
  ");\n"
  ;

enum {
  Q_STUDY,
  Q_DIRECTION,
  Q_STUDY_ATTR,
  Q_TRIAL,
  Q_PARAM,
  Q_VALUE,
  Q_INTERMEDIATE,
  Q_TRIAL_ATTR,
  Q_VERSION,
  Q_ALEMBIC,
  Q_COUNT
};

static const char *const q_sql[Q_COUNT] = {
    "INSERT INTO studies (study_id, study_name) VALUES (1, ?1)",
    "INSERT INTO study_directions (direction, study_id, objective) VALUES ('MINIMIZE', 1, 0)",
    "INSERT INTO study_user_attributes (study_id, \"key\", value_json) VALUES (1, ?1, ?2)",
    "INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete) "
    "VALUES (?1, 1, ?2, ?3, ?4)",
    "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) "
    "VALUES (?1, ?2, ?3, ?4)",
    "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?1, 0, ?2, ?3)",
    "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, "
    "intermediate_value_type) VALUES (?1, 0, ?2, ?3)",
    "INSERT INTO trial_user_attributes (trial_id, \"key\", value_json) VALUES (?1, ?2, ?3)",
    "INSERT INTO version_info (version_info_id, schema_version, library_version) "
    "VALUES (1, ?1, '3.1.0')",
    "INSERT INTO alembic_version (version_num) VALUES (?1)",
};

typedef struct writer {
  sqlite3 *db;
  sqlite3_stmt *q[Q_COUNT];
  char *err;
  size_t err_size;
  int status;           /* the first failure */
  size_t p;             /* hyperparameters */
  double *lo, *hi;      /* observed range of each theta component */
  char **dist;          /* FloatDistribution JSON of each component */
  long number;          /* the next trial's number */
  int64_t t0_us;        /* the study's start, microseconds since 1970 */
  /* the iterations, read first: their ranges and their order */
  hyd_store_iteration *its;
  double *thetas;
  size_t n_its, cap_its;
  size_t next_it;       /* the next iteration to write */
  long clock_iter;      /* evaluations: iteration whose clock runs */
  double clock;         /* seconds spent in that iteration so far */
  long n_trials;        /* written */
} writer;

static int fail(writer *w, int status, const char *fmt, ...) {
  if (w->status == HYD_STORE_OK) {
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(w->err, w->err_size, fmt, ap);
    va_end(ap);
    w->status = status;
  }
  return w->status;
}

static int db_fail(writer *w, int rc, const char *what) {
  return fail(w, rc == SQLITE_NOMEM ? HYD_STORE_ENOMEM : HYD_STORE_EIO,
              "cannot %s in the Optuna file: %s", what,
              w->db ? sqlite3_errmsg(w->db) : sqlite3_errstr(rc));
}

/* Runs a bound insert: rc is the result of the bindings. */
static int run(writer *w, int which, int rc, const char *what) {
  sqlite3_stmt *q = w->q[which];
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(q);
    if (rc == SQLITE_DONE)
      rc = SQLITE_OK;
  }
  int rc_reset = sqlite3_reset(q);
  if (rc == SQLITE_OK)
    rc = rc_reset;
  if (rc == SQLITE_OK)
    rc = sqlite3_clear_bindings(q);
  return rc == SQLITE_OK ? HYD_STORE_OK : db_fail(w, rc, what);
}

/* ---- JSON text of values ---- */

/* A number as JSON that Python reads back as the same float: shortest
 * round-trip digits, ".0" on integers, null for NaN / Inf. */
static void json_number(char *buf, size_t size, double v) {
  if (!isfinite(v)) {
    (void)snprintf(buf, size, "null");
    return;
  }
  (void)snprintf(buf, size, "%.17g", v);
  for (int digits = 15; digits < 17; digits++) {
    char shorter[40];
    (void)snprintf(shorter, sizeof shorter, "%.*g", digits, v);
    if (strtod(shorter, NULL) == v) {
      (void)snprintf(buf, size, "%s", shorter);
      break;
    }
  }
  if (strspn(buf, "-0123456789") == strlen(buf) && strlen(buf) + 3 <= size)
    strcat(buf, ".0");
}

/* A JSON string literal (owned: free with cJSON_free), NULL if out of memory. */
static char *json_string(const char *s) {
  cJSON *o = cJSON_CreateString(s);
  char *text = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return text;
}

/* ---- times ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

/* hyperd's "2026-11-27T08:40:00.123Z" as microseconds since 1970; 0 if
 * it does not parse. */
static int parse_time(const char *text, int64_t *us) {
  int y, mo, d, h, mi;
  double s;
  if (!text || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%lf", &y, &mo, &d, &h, &mi, &s) != 6 ||
      mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      !(s >= 0 && s < 61))
    return 0;
  int64_t day = days_from_civil(y, mo, d);
  *us = ((day * 24 + h) * 60 + mi) * INT64_C(60000000) + (int64_t)llround(s * 1e6);
  return 1;
}

/* Optuna's (SQLAlchemy's) "2026-11-27 08:40:00.123000" of t0 + seconds. */
static void format_time(char *buf, size_t size, int64_t t0_us, double seconds) {
  int64_t us = t0_us + (isfinite(seconds) && seconds > 0 ? (int64_t)llround(seconds * 1e6) : 0);
  int64_t day = us >= 0 ? us / INT64_C(86400000000) : -((-us - 1) / INT64_C(86400000000)) - 1;
  int64_t rest = us - day * INT64_C(86400000000);
  int64_t y;
  int m, d;
  civil_from_days(day, &y, &m, &d);
  int len = snprintf(buf, size, "%04lld-%02d-%02d %02d:%02d:%02d.%06d", (long long)y, m,
                     d, (int)(rest / INT64_C(3600000000)), (int)(rest / 60000000 % 60),
                     (int)(rest / 1000000 % 60), (int)(rest % 1000000));
  if (len < 0 || (size_t)len >= size) /* cannot happen for years 0..9999 */
    buf[0] = '\0';
}

/* ---- attributes ---- */

static int attr_json(writer *w, int which, int64_t trial, const char *key,
                     const char *json) {
  sqlite3_stmt *q = w->q[which];
  int k = 1, rc = SQLITE_OK;
  if (which == Q_TRIAL_ATTR)
    rc = sqlite3_bind_int64(q, k++, trial);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, k++, key, -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, k, json, -1, SQLITE_TRANSIENT);
  return run(w, which, rc, "write a user attribute");
}

static int attr_number(writer *w, int which, int64_t trial, const char *key, double v) {
  char buf[40];
  json_number(buf, sizeof buf, v);
  return attr_json(w, which, trial, key, buf);
}

static int attr_integer(writer *w, int which, int64_t trial, const char *key, long long v) {
  char buf[32];
  (void)snprintf(buf, sizeof buf, "%lld", v);
  return attr_json(w, which, trial, key, buf);
}

static int attr_string(writer *w, int which, int64_t trial, const char *key,
                       const char *v) {
  if (!v)
    return attr_json(w, which, trial, key, "null");
  char *text = json_string(v);
  if (!text)
    return fail(w, HYD_STORE_ENOMEM, "out of memory");
  int status = attr_json(w, which, trial, key, text);
  cJSON_free(text);
  return status;
}

static int attr_bool(writer *w, int64_t trial, const char *key, int v) {
  return attr_json(w, Q_TRIAL_ATTR, trial, key, v ? "true" : "false");
}

/* ---- trials ---- */

static int insert_trial(writer *w, const char *state, double start_s, double end_s,
                        int64_t *id) {
  char start[40], end[40];
  format_time(start, sizeof start, w->t0_us, start_s);
  format_time(end, sizeof end, w->t0_us, end_s);
  sqlite3_stmt *q = w->q[Q_TRIAL];
  int rc = sqlite3_bind_int64(q, 1, w->number);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, 2, state, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, 3, start, -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, 4, end, -1, SQLITE_TRANSIENT);
  int status = run(w, Q_TRIAL, rc, "write a trial");
  if (status != HYD_STORE_OK)
    return status;
  *id = sqlite3_last_insert_rowid(w->db);
  w->number++;
  w->n_trials++;
  return HYD_STORE_OK;
}

/* Optuna stores an infinite value as NULL with its sign in the type. */
static int bind_value(sqlite3_stmt *q, int k, double v) {
  int rc = isfinite(v) ? sqlite3_bind_double(q, k, v) : sqlite3_bind_null(q, k);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, k + 1, isfinite(v) ? "FINITE" : v > 0 ? "INF_POS" : "INF_NEG",
                           -1, SQLITE_STATIC);
  return rc;
}

static int insert_value(writer *w, int which, int64_t trial, double v) {
  int rc = sqlite3_bind_int64(w->q[which], 1, trial);
  if (rc == SQLITE_OK)
    rc = bind_value(w->q[which], 2, v);
  return run(w, which, rc, "write a trial value");
}

static int insert_params(writer *w, int64_t trial, const double *theta) {
  for (size_t j = 0; j < w->p; j++) {
    if (!isfinite(theta[j]))
      continue; /* Optuna has no NaN parameter: left out of this trial */
    char name[32];
    (void)snprintf(name, sizeof name, "theta_%zu", j);
    sqlite3_stmt *q = w->q[Q_PARAM];
    int rc = sqlite3_bind_int64(q, 1, trial);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(q, 2, name, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_double(q, 3, theta[j]);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(q, 4, w->dist[j], -1, SQLITE_STATIC);
    if (run(w, Q_PARAM, rc, "write a parameter") != HYD_STORE_OK)
      return w->status;
  }
  return HYD_STORE_OK;
}

/* Cumulative wall seconds before iteration k (1-based) began. */
static double wall_before(const writer *w, size_t index) {
  for (size_t i = index; i-- > 0;)
    if (isfinite(w->its[i].wall_seconds))
      return w->its[i].wall_seconds;
  return 0;
}

/* A trial with its value (Q_VALUE: the objective; Q_INTERMEDIATE: step 0;
 * none when NaN) and its params. */
static int begin_trial(writer *w, const char *state, double start, double end, int which,
                       double value, const double *theta, int64_t *id) {
  if (insert_trial(w, state, start, end, id) == HYD_STORE_OK &&
      (isnan(value) || insert_value(w, which, *id, value) == HYD_STORE_OK))
    insert_params(w, *id, theta);
  return w->status;
}

/* The user attributes iterations and evaluations have in common. */
typedef struct common_attrs {
  const char *kind;
  long iteration;
  double f_lo, f_hi, eps, delta, z_norm, omega;
  const hyd_cost *cost;
  int accepted;
} common_attrs;

static int write_common_attrs(writer *w, int64_t id, const common_attrs *c) {
  const int a = Q_TRIAL_ATTR;
  attr_string(w, a, id, "kind", c->kind);
  attr_integer(w, a, id, "iteration", c->iteration);
  const char *const keys[] = {"f_lo", "f_hi", "eps", "delta", "z_norm", "omega", "cost"};
  const double v[] = {c->f_lo, c->f_hi, c->eps, c->delta, c->z_norm, c->omega,
                      c->cost->lower_iters + c->cost->cg_iters};
  for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
    attr_number(w, a, id, keys[k], v[k]);
  attr_bool(w, id, "accepted", c->accepted);
  return w->status;
}

static int write_iteration(writer *w, size_t index) {
  const hyd_store_iteration *it = &w->its[index];
  double start = wall_before(w, index);
  double end = isfinite(it->wall_seconds) ? it->wall_seconds : start;
  int64_t id = 0;
  if (begin_trial(w, isnan(it->g) ? "FAIL" : "COMPLETE", start, end, Q_VALUE, it->g,
                  it->theta, &id) != HYD_STORE_OK)
    return w->status;
  const common_attrs c = {"iteration", it->iteration, it->f_lo,   it->f_hi, it->eps,
                          it->delta,   it->z_norm,    it->omega,  &it->cost, it->accepted};
  write_common_attrs(w, id, &c);
  const int a = Q_TRIAL_ATTR;
  attr_number(w, a, id, "lower_iters", it->cost.lower_iters);
  attr_number(w, a, id, "cg_iters", it->cost.cg_iters);
  attr_number(w, a, id, "alpha", it->alpha);
  attr_bool(w, id, "certified", it->certified);
  attr_number(w, a, id, "wall_seconds", it->wall_seconds);
  return w->status; /* the first failure of the attributes, if any */
}

/* Iterations with a number below `before`, in order. */
static int write_iterations_before(writer *w, long before) {
  while (w->next_it < w->n_its && w->its[w->next_it].iteration < before)
    if (write_iteration(w, w->next_it++) != HYD_STORE_OK)
      return w->status;
  return HYD_STORE_OK;
}

/* The iteration rows' index whose number is the first >= k. */
static size_t iteration_index(const writer *w, long k) {
  size_t i = 0;
  while (i < w->n_its && w->its[i].iteration < k)
    i++;
  return i;
}

static int write_evaluation(const hyd_store_evaluation *e, void *user) {
  writer *w = user;
  if (write_iterations_before(w, e->iteration) != HYD_STORE_OK)
    return 1;
  if (e->iteration != w->clock_iter) {
    w->clock_iter = e->iteration;
    w->clock = wall_before(w, iteration_index(w, e->iteration));
  }
  double start = w->clock;
  if (isfinite(e->wall_seconds) && e->wall_seconds > 0)
    w->clock += e->wall_seconds;
  int64_t id = 0;
  if (begin_trial(w, e->failed ? "FAIL" : "PRUNED", start, w->clock, Q_INTERMEDIATE, e->g,
                  e->theta, &id) != HYD_STORE_OK)
    return 1;
  const common_attrs c = {e->kind == HYD_EVENT_TRIAL ? "trial" : "evaluate",
                          e->iteration, e->f_lo, e->f_hi, e->eps, e->delta, e->z_norm,
                          e->omega, &e->cost, e->accepted};
  write_common_attrs(w, id, &c);
  const int a = Q_TRIAL_ATTR;
  attr_integer(w, a, id, "seq", e->seq);
  attr_number(w, a, id, "g", e->g);
  attr_number(w, a, id, "step", e->step);
  if (e->failed)
    attr_string(w, a, id, "fail_reason", e->fail_reason);
  return w->status != HYD_STORE_OK;
}

/* ---- reading the study ---- */

static void widen(writer *w, const double *theta) {
  for (size_t j = 0; j < w->p; j++)
    if (isfinite(theta[j])) {
      if (!(theta[j] >= w->lo[j]))
        w->lo[j] = theta[j];
      if (!(theta[j] <= w->hi[j]))
        w->hi[j] = theta[j];
    }
}

static int keep_iteration(const hyd_store_iteration *it, void *user) {
  writer *w = user;
  if (it->n_theta != w->p) {
    fail(w, HYD_STORE_EINVAL, "iteration %ld has %zu values of theta, the study %zu",
         it->iteration, it->n_theta, w->p);
    return 1;
  }
  if (w->n_its == w->cap_its) {
    size_t cap = w->cap_its ? 2 * w->cap_its : 64;
    hyd_store_iteration *its = realloc(w->its, cap * sizeof *its);
    if (its)
      w->its = its;
    double *th = w->p && its ? realloc(w->thetas, cap * w->p * sizeof *th) : w->thetas;
    if (!its || (w->p && !th)) {
      fail(w, HYD_STORE_ENOMEM, "out of memory reading the iterations");
      return 1;
    }
    w->thetas = th;
    w->cap_its = cap;
  }
  w->its[w->n_its] = *it;
  if (w->p)
    memcpy(w->thetas + w->n_its * w->p, it->theta, w->p * sizeof *it->theta);
  w->n_its++;
  widen(w, it->theta);
  return 0;
}

static int widen_evaluation(const hyd_store_evaluation *e, void *user) {
  writer *w = user;
  if (e->n_theta != w->p) {
    fail(w, HYD_STORE_EINVAL, "evaluation %ld.%ld has %zu values of theta, the study %zu",
         e->iteration, e->seq, e->n_theta, w->p);
    return 1;
  }
  widen(w, e->theta);
  return 0;
}

static int read_study(writer *w, hyd_store *st, const hyd_store_study *s, int with_trials) {
  int status = hyd_store_foreach_iteration(st, s->id, keep_iteration, w);
  if (status == HYD_STORE_OK && with_trials && w->status == HYD_STORE_OK)
    status = hyd_store_foreach_evaluation(st, s->id, widen_evaluation, w);
  if (status != HYD_STORE_OK)
    return fail(w, status, "%s", hyd_store_errmsg(st));
  if (w->status != HYD_STORE_OK)
    return w->status;
  for (size_t i = 0; i < w->n_its; i++) /* realloc moved them */
    w->its[i].theta = w->p ? w->thetas + i * w->p : NULL;
  for (size_t j = 0; j < w->p; j++) {
    char lo[40], hi[40], buf[256];
    json_number(lo, sizeof lo, w->lo[j] <= w->hi[j] ? w->lo[j] : 0);
    json_number(hi, sizeof hi, w->lo[j] <= w->hi[j] ? w->hi[j] : 0);
    (void)snprintf(buf, sizeof buf,
                   "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, "
                   "\"low\": %s, \"high\": %s, \"log\": false}}", lo, hi);
    if (!(w->dist[j] = strdup(buf)))
      return fail(w, HYD_STORE_ENOMEM, "out of memory");
  }
  return HYD_STORE_OK;
}

/* ---- the file ---- */

static int write_study_row(writer *w, const hyd_store_study *s, const char *name) {
  int rc = sqlite3_bind_text(w->q[Q_STUDY], 1, name, -1, SQLITE_TRANSIENT);
  if (run(w, Q_STUDY, rc, "write the study") != HYD_STORE_OK ||
      run(w, Q_DIRECTION, SQLITE_OK, "write the direction") != HYD_STORE_OK)
    return w->status;
  rc = sqlite3_bind_int(w->q[Q_VERSION], 1, HYD_OPTUNA_SCHEMA_VERSION);
  if (run(w, Q_VERSION, rc, "write version_info") != HYD_STORE_OK)
    return w->status;
  rc = sqlite3_bind_text(w->q[Q_ALEMBIC], 1, HYD_OPTUNA_ALEMBIC_REVISION, -1, SQLITE_STATIC);
  if (run(w, Q_ALEMBIC, rc, "write alembic_version") != HYD_STORE_OK)
    return w->status;
  const int a = Q_STUDY_ATTR;
  attr_string(w, a, 0, "source", "hyperd");
  attr_integer(w, a, 0, "hyperd_study_id", s->id);
  attr_string(w, a, 0, "hyperd_study_name", s->name);
  attr_string(w, a, 0, "problem", s->problem);
  attr_string(w, a, 0, "method", s->method);
  attr_string(w, a, 0, "status", hyd_study_status_name(s->status));
  attr_string(w, a, 0, "stop_reason", s->stop_reason);
  attr_integer(w, a, 0, "n_theta", (long long)s->n_theta);
  attr_string(w, a, 0, "created_at", s->created_at);
  attr_string(w, a, 0, "finished_at", s->finished_at);
  if (s->seed <= (UINT64_C(1) << 53)) {
    attr_integer(w, a, 0, "seed", (long long)s->seed);
  } else {
    char seed[24];
    (void)snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->seed);
    attr_string(w, a, 0, "seed", seed);
  }
  /* Valid JSON already (a CHECK of hyperd's schema). */
  attr_json(w, a, 0, "options", s->options_json ? s->options_json : "{}");
  return w->status;
}

static int exec(writer *w, const char *sql, const char *what) {
  int rc = sqlite3_exec(w->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? HYD_STORE_OK : db_fail(w, rc, what);
}

static int write_file(writer *w, hyd_store *st, const hyd_store_study *s, const char *name,
                      int with_trials) {
  if (exec(w, "PRAGMA foreign_keys = ON", "turn on foreign keys") != HYD_STORE_OK ||
      exec(w, "BEGIN", "begin") != HYD_STORE_OK ||
      exec(w, optuna_ddl, "create Optuna's tables") != HYD_STORE_OK)
    return w->status;
  for (int i = 0; i < Q_COUNT; i++) {
    int rc = sqlite3_prepare_v2(w->db, q_sql[i], -1, &w->q[i], NULL);
    if (rc != SQLITE_OK)
      return db_fail(w, rc, "prepare a statement");
  }
  if (write_study_row(w, s, name) != HYD_STORE_OK)
    return w->status;
  if (with_trials) {
    int status = hyd_store_foreach_evaluation(st, s->id, write_evaluation, w);
    if (w->status != HYD_STORE_OK)
      return w->status;
    if (status != HYD_STORE_OK)
      return fail(w, status, "%s", hyd_store_errmsg(st));
  }
  if (write_iterations_before(w, LONG_MAX) != HYD_STORE_OK)
    return w->status;
  return exec(w, "COMMIT", "commit");
}

int hyd_export_optuna(hyd_store *st, const hyd_store_study *s, const char *path,
                      const char *optuna_name, int with_trials, char *err,
                      size_t err_size) {
  writer w = {0};
  w.err = err;
  w.err_size = err_size;
  w.clock_iter = -1;
  if (err_size)
    err[0] = '\0';
  if (!st || !s || !path || !err || !err_size)
    return fail(&w, HYD_STORE_EINVAL, "bad argument");
  w.p = s->n_theta;
  if (!parse_time(s->started_at, &w.t0_us) && !parse_time(s->created_at, &w.t0_us))
    w.t0_us = 0;
  w.lo = calloc(w.p + 1, sizeof *w.lo);
  w.hi = calloc(w.p + 1, sizeof *w.hi);
  w.dist = calloc(w.p + 1, sizeof *w.dist);
  if (!w.lo || !w.hi || !w.dist)
    fail(&w, HYD_STORE_ENOMEM, "out of memory");
  for (size_t j = 0; w.status == HYD_STORE_OK && j < w.p; j++) {
    w.lo[j] = INFINITY;
    w.hi[j] = -INFINITY;
  }
  if (w.status == HYD_STORE_OK && read_study(&w, st, s, with_trials) == HYD_STORE_OK) {
    int rc = sqlite3_open_v2(path, &w.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK)
      db_fail(&w, rc, "open the file");
    else
      write_file(&w, st, s, optuna_name ? optuna_name : s->name, with_trials);
  }
  for (int i = 0; i < Q_COUNT; i++)
    if (sqlite3_finalize(w.q[i]) != SQLITE_OK && w.status == HYD_STORE_OK)
      db_fail(&w, sqlite3_errcode(w.db), "finish a statement");
  /* Closing rolls back a transaction left open by a failure. */
  if (w.db && sqlite3_close(w.db) != SQLITE_OK)
    fail(&w, HYD_STORE_EIO, "cannot close the Optuna file");
  if (w.dist)
    for (size_t j = 0; j < w.p; j++)
      free(w.dist[j]);
  free(w.dist);
  free(w.lo);
  free(w.hi);
  free(w.its);
  free(w.thetas);
  return w.status;
}

/* ---- the command ---- */

typedef struct optuna_opts {
  const char *db, *study, *out, *name, *format;
  int force, with_trials, help;
} optuna_opts;

static const char optuna_usage[] =
    "usage: hyperd export STUDY --format optuna --out FILE.db [--db FILE] [--force]\n"
    "                     [--with-trials] [--study-name NAME]\n"
    "Writes STUDY (a name or a numeric id) as a NEW SQLite database in Optuna's\n"
    "storage schema (Optuna 3.1), for `optuna trials --storage sqlite:///FILE.db`\n"
    "and optuna-dashboard. Each outer iteration becomes a COMPLETE trial with value\n"
    "g (minimize), params theta_0 .. theta_{p-1} and user attributes f_lo, f_hi,\n"
    "eps, delta, cost, ...; see docs/optuna.md.\n"
    "  --out FILE.db      the file to write (required; refused if it exists)\n"
    "  --force            replace an existing --out file\n"
    "  --with-trials      also every evaluation and line-search trial, as PRUNED\n"
    "                     trials with user attribute kind=evaluate|trial\n"
    "  --study-name NAME  the Optuna study's name (default: the hyperd study's)\n"
    "  --db FILE          database (default hyperd.db in the current directory)\n";

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "hyperd export: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (try --format optuna --help)\n");
  return EXIT_USAGE;
}

/* Options with a value, as --name VALUE or --name=VALUE. */
static const char *const valued[] = {"--db", "--out", "--format", "--study-name"};
enum { N_VALUED = sizeof valued / sizeof valued[0] };

/* Which of `valued` argv[*i] is (its index, *i moved past the value and
 * *value set; *value NULL when the value is missing), or -1. */
static int valued_option(int argc, char **argv, int *i, const char **value) {
  const char *a = argv[*i];
  for (int k = 0; k < N_VALUED; k++) {
    size_t n = strlen(valued[k]);
    if (strncmp(a, valued[k], n) != 0 || (a[n] != '=' && a[n] != '\0'))
      continue;
    *value = a[n] == '=' ? a + n + 1 : *i + 1 < argc ? argv[++*i] : NULL;
    return k;
  }
  return -1;
}

int hyd_export_optuna_requested(int argc, char **argv) {
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *v = NULL;
    if (valued_option(argc, argv, &i, &v) == 2 && v && strcmp(v, "optuna") == 0)
      return 1;
  }
  return 0;
}

static int parse(int argc, char **argv, optuna_opts *o) {
  memset(o, 0, sizeof *o);
  o->db = "hyperd.db";
  static const char *const flags[] = {"--help", "-h", "--force", "--with-trials"};
  int *const flag_fields[] = {&o->help, &o->help, &o->force, &o->with_trials};
  const char **const fields[N_VALUED] = {&o->db, &o->out, &o->format, &o->name};
  int only_positional = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    if (only_positional || a[0] != '-' || a[1] == '\0') {
      if (o->study)
        return usage_error("unexpected argument \"%s\"", a);
      o->study = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_positional = 1;
      continue;
    }
    size_t f = 0;
    while (f < sizeof flags / sizeof flags[0] && strcmp(a, flags[f]) != 0)
      f++;
    if (f < sizeof flags / sizeof flags[0]) {
      *flag_fields[f] = 1;
      continue;
    }
    int k = valued_option(argc, argv, &i, &v);
    if (k < 0)
      return usage_error("unknown option %s", a);
    if (!v)
      return usage_error("option %s needs a value", a);
    *fields[k] = v;
  }
  if (o->help) {
    fputs(optuna_usage, stdout);
    return EXIT_OK;
  }
  if (!o->format || strcmp(o->format, "optuna") != 0)
    return usage_error("%s", "this is the Optuna export: --format optuna");
  if (!o->study)
    return usage_error("%s", "which study? (a name or a numeric id)");
  if (!o->out || !*o->out)
    return usage_error("%s", "--format optuna writes a SQLite file: --out FILE.db");
  if (!*o->db)
    return usage_error("%s", "--db needs a file name");
  if (o->name && (!*o->name || strlen(o->name) > 512))
    return usage_error("%s", "--study-name needs 1 to 512 bytes");
  return -1;
}

/* -1 to go on, else the exit code. */
static int check_out(const optuna_opts *o) {
  struct stat out_st, db_st;
  if (stat(o->out, &out_st) != 0)
    return -1; /* does not exist (or cannot be seen: the write will say) */
  if (stat(o->db, &db_st) == 0 && out_st.st_dev == db_st.st_dev &&
      out_st.st_ino == db_st.st_ino) {
    fprintf(stderr, "hyperd export: --out %s is the hyperd database itself: refused\n",
            o->out);
    return EXIT_USAGE;
  }
  if (!o->force) {
    fprintf(stderr, "hyperd export: %s exists already (--force replaces it)\n", o->out);
    return EXIT_USAGE;
  }
  if (S_ISDIR(out_st.st_mode)) {
    fprintf(stderr, "hyperd export: --out %s is a directory\n", o->out);
    return EXIT_USAGE;
  }
  return -1;
}

/* An empty file next to out (same file system, for the rename), with the
 * permissions a plain new file would get. NULL on failure (errno). */
static char *temp_beside(const char *out) {
  size_t n = strlen(out);
  char *tmp = malloc(n + 8);
  if (!tmp)
    return NULL;
  memcpy(tmp, out, n);
  memcpy(tmp + n, ".XXXXXX", 8);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    free(tmp);
    return NULL;
  }
  mode_t mask = umask(0);
  (void)umask(mask);
  if (fchmod(fd, 0666 & ~mask) != 0 || close(fd) != 0) {
    int e = errno;
    (void)unlink(tmp);
    free(tmp);
    errno = e;
    return NULL;
  }
  return tmp;
}

/* Moves tmp to out: without --force, link() refuses an out that appeared
 * meanwhile (atomically); with it, rename() replaces it. */
static int put_in_place(const optuna_opts *o, const char *tmp) {
  int rc = o->force ? rename(tmp, o->out) : link(tmp, o->out);
  if (rc != 0) {
    int e = errno;
    fprintf(stderr, "hyperd export: cannot create %s: %s\n", o->out, strerror(e));
    (void)unlink(tmp);
    return e == EEXIST ? EXIT_USAGE : EXIT_FAIL;
  }
  if (!o->force && unlink(tmp) != 0)
    fprintf(stderr, "hyperd export: warning: cannot remove %s: %s\n", tmp, strerror(errno));
  return EXIT_OK;
}

static int export_study(const optuna_opts *o, hyd_store *st, const hyd_store_study *s) {
  char *tmp = temp_beside(o->out);
  if (!tmp) {
    fprintf(stderr, "hyperd export: cannot write next to %s: %s\n", o->out, strerror(errno));
    return EXIT_FAIL;
  }
  char err[512];
  int status = hyd_export_optuna(st, s, tmp, o->name, o->with_trials, err, sizeof err);
  int code;
  if (status != HYD_STORE_OK) {
    fprintf(stderr, "hyperd export: %s\n", err);
    (void)unlink(tmp);
    code = EXIT_FAIL;
  } else {
    code = put_in_place(o, tmp);
  }
  if (code == EXIT_OK && s->n_iterations == 0)
    fprintf(stderr, "hyperd export: warning: study '%s' has no iterations yet: Optuna will "
                    "find no best trial\n", s->name);
  if (code == EXIT_OK) {
    const char *name = o->name ? o->name : s->name;
    fprintf(stderr,
            "hyperd export: wrote study '%s' (%ld iterations%s) to %s; look at it with\n"
            "  optuna trials --study-name '%s' --storage sqlite:///%s\n",
            s->name, s->n_iterations, o->with_trials ? " and their evaluations" : "",
            o->out, name, o->out);
  }
  free(tmp);
  return code;
}

int hyd_cli_export_optuna(int argc, char **argv) {
  optuna_opts o;
  int code = parse(argc, argv, &o);
  if (code >= 0)
    return code;
  if ((code = check_out(&o)) >= 0)
    return code;
  hyd_store *st = NULL;
  int status = hyd_store_open(&st, o.db, HYD_STORE_READONLY);
  if (status != HYD_STORE_OK) {
    fprintf(stderr, "hyperd export: cannot read the database: %s\n", hyd_store_errmsg(st));
    hyd_store_close(st);
    return status == HYD_STORE_ENOENT || status == HYD_STORE_ENOTDB ||
                   status == HYD_STORE_ETOONEW || status == HYD_STORE_ETOOOLD
               ? EXIT_USAGE
               : EXIT_FAIL;
  }
  hyd_store_study s;
  status = hyd_store_lookup_study(st, o.study, &s);
  if (status != HYD_STORE_OK) {
    fprintf(stderr, "hyperd export: %s\n", hyd_store_errmsg(st));
    hyd_store_close(st);
    return status == HYD_STORE_ENOTFOUND ? EXIT_USAGE : EXIT_FAIL;
  }
  code = export_study(&o, st, &s);
  hyd_store_study_clear(&s);
  hyd_store_close(st);
  return code;
}
