/* store.c: opening a trial store, migrations, errors, the statement cache. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "migrations.h"

/* Every SQL text the store runs, by enum hyd_store_stmt. User data only ever
 * reaches them through bound parameters. */
#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
#define STUDY_COLUMNS                                                          \
  "s.id, s.name, s.problem, s.method, s.status, s.study_json, "               \
  "s.options_json, s.data_checksums_json, s.seed, s.host, s.ranks, "          \
  "s.created_at, s.started_at, s.finished_at, s.stop_reason, s.error, "       \
  "s.best_value, s.best_iteration, s.n_theta, "                               \
  "(SELECT count(*) FROM iterations AS i WHERE i.study_id = s.id), "          \
  "(SELECT count(*) FROM evaluations AS e WHERE e.study_id = s.id), "         \
  "s.bound, s.owner_host, s.owner_pid, s.heartbeat_at "                       \
  "FROM studies AS s "
#define COST_COLUMNS                                                           \
  "lower_iters, cg_iters, lower_batches, cg_batches, lower_iters_ref, "       \
  "n_evaluations, n_trials, capped_solves"

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_INSERT_STUDY] =
        "INSERT INTO studies (name, problem, method, status, study_json, "
        "options_json, data_checksums_json, seed, host, ranks, n_theta, "
        "started_at, bound, owner_host, owner_pid, heartbeat_at) VALUES (?1, "
        "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, CASE WHEN ?4 = 'RUNNING' "
        "THEN " NOW " END, ?12, CASE WHEN ?13 IS NOT NULL THEN ?9 END, ?13, "
        "CASE WHEN ?13 IS NOT NULL THEN " NOW " END)",
    [STMT_SET_STATUS] =
        "UPDATE studies SET status = ?2, "
        "started_at = CASE WHEN ?2 = 'RUNNING' THEN coalesce(started_at, " NOW
        ") ELSE started_at END, "
        "finished_at = CASE WHEN ?2 IN ('COMPLETE', 'FAILED', 'INTERRUPTED') "
        "THEN " NOW " END WHERE id = ?1",
    [STMT_SET_STOP_REASON] = "UPDATE studies SET stop_reason = ?2 WHERE id = ?1",
    [STMT_SET_ERROR] = "UPDATE studies SET error = ?2 WHERE id = ?1",
    [STMT_SET_RESULT] = "UPDATE studies SET best_value = ?2, best_iteration = ?3 "
                        "WHERE id = ?1",
    [STMT_STUDY_BY_ID] = "SELECT " STUDY_COLUMNS "WHERE s.id = ?1",
    [STMT_STUDY_BY_NAME] = "SELECT " STUDY_COLUMNS "WHERE s.name = ?1",
    [STMT_LIST_STUDIES] = "SELECT " STUDY_COLUMNS "ORDER BY s.id",
    [STMT_NEXT_QUEUED] =
        "SELECT id FROM studies WHERE status = 'QUEUED' ORDER BY id LIMIT 1",
    [STMT_STUDY_N_THETA] = "SELECT n_theta FROM studies WHERE id = ?1",
    /* The owner, its heartbeat's age in seconds and the study's longest
     * iteration (solver wall time between two recorded iterations). */
    [STMT_STUDY_OWNER] =
        "SELECT name, status, owner_host, owner_pid, "
        "(julianday('now') - julianday(heartbeat_at)) * 86400.0, "
        "(SELECT max(d) FROM (SELECT wall_seconds - lag(wall_seconds, 1, 0.0) "
        "OVER (ORDER BY iteration) AS d FROM iterations WHERE study_id = ?1)) "
        "FROM studies WHERE id = ?1",
    [STMT_CLAIM] =
        "UPDATE studies SET status = 'RUNNING', owner_host = ?2, "
        "owner_pid = ?3, heartbeat_at = " NOW ", started_at = "
        "coalesce(started_at, " NOW "), finished_at = NULL WHERE id = ?1",
    [STMT_HEARTBEAT] = "UPDATE studies SET heartbeat_at = " NOW " WHERE id = ?1",
    [STMT_DELETE_EVALUATIONS_FROM] =
        "DELETE FROM evaluations WHERE study_id = ?1 AND iteration >= ?2",
    [STMT_DELETE_ITERATIONS_FROM] =
        "DELETE FROM iterations WHERE study_id = ?1 AND iteration >= ?2",
    [STMT_INSERT_EVALUATION] =
        "INSERT INTO evaluations (study_id, iteration, seq, kind, theta, eps, "
        "delta, step, z_norm, omega, f_lo, f_hi, g, accepted, " COST_COLUMNS
        ", wall_seconds, failed, fail_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
        "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
        "?21, ?22, ?23, ?24, ?25)",
    [STMT_INSERT_ITERATION] =
        "INSERT INTO iterations (study_id, iteration, theta, eps, delta, "
        "alpha, step, z_norm, omega, f_lo, f_hi, g, accepted, n_accepted, "
        COST_COLUMNS ", wall_seconds, certified) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
        "?20, ?21, ?22, ?23, ?24)",
    [STMT_PUT_CHECKPOINT] =
        "INSERT OR REPLACE INTO checkpoints (study_id, iteration, "
        "state_version, state, theta, warm, eps, delta, alpha) VALUES (?1, "
        "?2, 1, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* The same row with its warm starts left in place: they are then
     * overwritten through incremental BLOB I/O (store_iteration.c). */
    [STMT_UPDATE_CHECKPOINT_KEEP_WARM] =
        "UPDATE checkpoints SET iteration = ?2, state_version = 1, state = ?3, "
        "theta = ?4, eps = ?6, delta = ?7, alpha = ?8, created_at = " NOW
        " WHERE study_id = ?1",
    [STMT_SAVEPOINT] = "SAVEPOINT hyd_checkpoint",
    [STMT_RELEASE] = "RELEASE hyd_checkpoint",
    [STMT_ROLLBACK_TO] = "ROLLBACK TO hyd_checkpoint",
    [STMT_CHECKPOINT_INFO] =
        "SELECT iteration, length(theta) / 8, coalesce(length(warm), 0) / 8 "
        "FROM checkpoints WHERE study_id = ?1",
    [STMT_LOAD_CHECKPOINT] =
        "SELECT iteration, state_version, state, theta, warm FROM checkpoints "
        "WHERE study_id = ?1",
    [STMT_INSERT_EVENT] = "INSERT INTO events (study_id, level, kind, message) "
                          "VALUES (?1, ?2, ?3, ?4)",
    [STMT_FOREACH_EVALUATION] =
        "SELECT study_id, iteration, seq, kind, theta, eps, delta, step, "
        "z_norm, omega, f_lo, f_hi, g, accepted, " COST_COLUMNS
        ", wall_seconds, failed, fail_reason FROM evaluations "
        "WHERE study_id = ?1 ORDER BY iteration, seq",
    [STMT_FOREACH_ITERATION] =
        "SELECT study_id, iteration, theta, eps, delta, alpha, step, z_norm, "
        "omega, f_lo, f_hi, g, accepted, n_accepted, " COST_COLUMNS
        ", wall_seconds, certified FROM iterations WHERE study_id = ?1 "
        "ORDER BY iteration",
    /* Same choice as the view best_per_study, without computing the window
     * over every study. */
    [STMT_BEST] =
        "SELECT study_id, iteration, theta, eps, delta, alpha, step, z_norm, "
        "omega, f_lo, f_hi, g, accepted, n_accepted, " COST_COLUMNS
        ", wall_seconds, certified FROM iterations WHERE study_id = ?1 "
        "AND g IS NOT NULL ORDER BY g, iteration LIMIT 1",
    [STMT_PUT_DATASET] =
        "INSERT OR REPLACE INTO datasets (name, url, sha256) VALUES (?1, ?2, ?3)",
    [STMT_GET_DATASET] = "SELECT url, sha256 FROM datasets WHERE name = ?1",
};

const char *hyd_store_strerror(int status) {
  switch (status) {
  case HYD_STORE_OK: return "success";
  case HYD_STORE_EINVAL: return "invalid argument";
  case HYD_STORE_ENOMEM: return "out of memory";
  case HYD_STORE_ENOTFOUND: return "not found";
  case HYD_STORE_EEXIST: return "already exists";
  case HYD_STORE_ENOENT: return "no such database file";
  case HYD_STORE_ENOTDB: return "not a hyperd database";
  case HYD_STORE_ETOONEW: return "database schema is newer than this hyperd";
  case HYD_STORE_ETOOOLD: return "database schema needs migrating";
  case HYD_STORE_ESTATE: return "not allowed in the store's current state";
  case HYD_STORE_EBUSY: return "database is locked by another writer";
  case HYD_STORE_EIO: return "database error";
  default: return "unknown store status";
  }
}

int hyd_store_schema_version(void) { return hyd_store_migration_count; }

void hyd_store_free(void *p) { sqlite3_free(p); }

const char *hyd_store_errmsg(const hyd_store *st) {
  return st ? st->errmsg : "out of memory";
}

int hyd_store_fail(hyd_store *st, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  /* Truncation is fine: the message is for people. */
  (void)vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
  va_end(ap);
  return code;
}

static int map_sqlite(int rc) {
  switch (rc & 0xff) {
  case SQLITE_NOMEM: return HYD_STORE_ENOMEM;
  case SQLITE_BUSY:
  case SQLITE_LOCKED: return HYD_STORE_EBUSY;
  case SQLITE_NOTADB: return HYD_STORE_ENOTDB;
  case SQLITE_READONLY: return HYD_STORE_ESTATE;
  case SQLITE_CONSTRAINT:
  case SQLITE_MISMATCH:
  case SQLITE_RANGE:
  case SQLITE_TOOBIG: return HYD_STORE_EINVAL;
  default: return HYD_STORE_EIO;
  }
}

int hyd_store_fail_sqlite(hyd_store *st, int rc, const char *what) {
  const char *why = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
  /* sqlite3_errmsg describes the connection's last error, which is this one
   * unless the caller ran something else in between (it does not). */
  if ((rc & 0xff) == SQLITE_NOTADB)
    return hyd_store_fail(st, HYD_STORE_ENOTDB,
                          "%s: the file is not a SQLite database", what);
  return hyd_store_fail(st, map_sqlite(rc), "%s: %s", what, why);
}

void hyd_store_ok(hyd_store *st) { st->errmsg[0] = '\0'; }

int hyd_store_iteration_failed(hyd_store *st, int status) {
  if (st->in_iteration && st->iter_status == HYD_STORE_OK &&
      status != HYD_STORE_OK) {
    st->iter_status = status;
    memcpy(st->iter_errmsg, st->errmsg, sizeof st->iter_errmsg);
  }
  return status;
}

int hyd_store_stmt(hyd_store *st, enum hyd_store_stmt id, sqlite3_stmt **out) {
  *out = NULL;
  if (st->stmt_in_use & HYD_STORE_STMT_BIT(id))
    return hyd_store_fail(st, HYD_STORE_ESTATE,
                          "a callback may not start the same listing again");
  if (!st->stmt[id]) {
    /* PERSISTENT: these live as long as the handle. */
    int rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
                                SQLITE_PREPARE_PERSISTENT, &st->stmt[id], NULL);
    if (rc != SQLITE_OK)
      return hyd_store_fail_sqlite(st, rc, "preparing a statement");
  } else {
    /* A statement left mid-way (a callback stopped a listing) restarts. */
    (void)sqlite3_reset(st->stmt[id]);
  }
  *out = st->stmt[id];
  return HYD_STORE_OK;
}

int hyd_store_step_done(hyd_store *st, sqlite3_stmt *stmt, const char *what) {
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
    (void)sqlite3_reset(stmt);
    return HYD_STORE_OK;
  }
  /* reset returns the same error; read the message before it. */
  int status = hyd_store_fail_sqlite(st, rc, what);
  (void)sqlite3_reset(stmt);
  return status;
}

int hyd_store_exec_stmt(hyd_store *st, enum hyd_store_stmt id, const char *what) {
  sqlite3_stmt *q = NULL;
  int status = hyd_store_stmt(st, id, &q);
  return status ? status : hyd_store_step_done(st, q, what);
}

int hyd_store_undo(hyd_store *st, enum hyd_store_stmt undo, int status) {
  char keep[sizeof st->errmsg];
  memcpy(keep, st->errmsg, sizeof keep);
  /* SQLite may have rolled back already (an I/O error, a full disk). */
  if (!sqlite3_get_autocommit(st->db)) {
    (void)hyd_store_exec_stmt(st, undo, "rollback");
    if (undo == STMT_ROLLBACK_TO)
      (void)hyd_store_exec_stmt(st, STMT_RELEASE, "rollback");
  }
  memcpy(st->errmsg, keep, sizeof keep);
  return status;
}

int hyd_store_row_by_key(hyd_store *st, enum hyd_store_stmt id, int64_t key,
                         const char *what, sqlite3_stmt **q) {
  int status = hyd_store_stmt(st, id, q);
  if (status)
    return status;
  int rc = sqlite3_bind_int64(*q, 1, key);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(*q);
  if (rc == SQLITE_ROW)
    return HYD_STORE_OK;
  status = rc == SQLITE_DONE ? HYD_STORE_ENOTFOUND : hyd_store_fail_sqlite(st, rc, what);
  (void)sqlite3_reset(*q);
  return status;
}

int hyd_store_row_done(hyd_store *st, sqlite3_stmt *q, int status) {
  (void)sqlite3_reset(q);
  if (status == HYD_STORE_OK)
    hyd_store_ok(st);
  return status;
}

int hyd_store_check_writable(hyd_store *st, const char *what) {
  if (st->readonly)
    return hyd_store_fail(st, HYD_STORE_ESTATE,
                          "%s: the store was opened read-only", what);
  return HYD_STORE_OK;
}

int hyd_store_reserve_blob(hyd_store *st, size_t bytes) {
  if (bytes <= st->blob_cap)
    return HYD_STORE_OK;
  unsigned char *p = sqlite3_realloc64(st->blob, bytes);
  if (!p)
    return hyd_store_fail(st, HYD_STORE_ENOMEM,
                          "out of memory (%zu bytes for a BLOB)", bytes);
  st->blob = p;
  st->blob_cap = bytes;
  return HYD_STORE_OK;
}

int hyd_store_reserve_vals(hyd_store *st, size_t n) {
  if (n <= st->vals_cap)
    return HYD_STORE_OK;
  if (n > SIZE_MAX / sizeof(double))
    return hyd_store_fail(st, HYD_STORE_ENOMEM, "array too large");
  double *p = sqlite3_realloc64(st->vals, n * sizeof(double));
  if (!p)
    return hyd_store_fail(st, HYD_STORE_ENOMEM,
                          "out of memory (%zu values)", n);
  st->vals = p;
  st->vals_cap = n;
  return HYD_STORE_OK;
}

/* ---- opening ---- */

static int exec(hyd_store *st, const char *sql, const char *what) {
  int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return hyd_store_fail_sqlite(st, rc, what);
  return HYD_STORE_OK;
}

static int pragma_int(hyd_store *st, const char *sql, const char *what,
                      long long *value) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      *value = sqlite3_column_int64(stmt, 0);
      rc = SQLITE_OK;
    }
  }
  int status = rc == SQLITE_OK ? HYD_STORE_OK
                               : hyd_store_fail_sqlite(st, rc, what);
  (void)sqlite3_finalize(stmt);
  return status;
}

/* One migration, one transaction; the version is re-read inside it so that
 * two writers opening a new file at once do not both apply it. */
static int apply_migration(hyd_store *st, const hyd_store_migration *m) {
  char what[160];
  (void)snprintf(what, sizeof what, "applying schema migration %03d_%s",
                 m->version, m->name);
  int status = exec(st, "BEGIN IMMEDIATE", what);
  if (status)
    return status;
  long long version = 0;
  status = pragma_int(st, "PRAGMA user_version", what, &version);
  if (!status && version < m->version) {
    char set[96];
    /* Only our own integers are pasted here, never user data. */
    (void)snprintf(set, sizeof set,
                   "PRAGMA user_version = %d; PRAGMA application_id = %d;",
                   m->version, HYD_STORE_APPLICATION_ID);
    status = exec(st, m->sql, what);
    if (!status)
      status = exec(st, set, what);
  }
  if (!status)
    status = exec(st, "COMMIT", what);
  if (status)
    (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  return status;
}

static int migrate(hyd_store *st, long long from) {
  for (int i = 0; i < hyd_store_migration_count; i++) {
    if (hyd_store_migrations[i].version <= from)
      continue;
    int status = apply_migration(st, &hyd_store_migrations[i]);
    if (status)
      return status;
  }
  return HYD_STORE_OK;
}

/* Reads the header only: nothing is written before the file is known to be
 * ours (or empty) and not newer than this binary. */
static int check_file(hyd_store *st, const char *path, long long *version) {
  long long app_id = 0, tables = 0;
  int status = pragma_int(st, "PRAGMA user_version", path, version);
  if (!status)
    status = pragma_int(st, "PRAGMA application_id", path, &app_id);
  if (!status)
    status = pragma_int(st, "SELECT count(*) FROM sqlite_schema", path, &tables);
  if (status)
    return status;
  if (app_id != HYD_STORE_APPLICATION_ID && (app_id != 0 || *version != 0 || tables != 0))
    return hyd_store_fail(st, HYD_STORE_ENOTDB,
                          "%s: a SQLite database of another application "
                          "(application_id %lld, user_version %lld), not hyperd's",
                          path, app_id, *version);
  if (*version > hyd_store_migration_count)
    return hyd_store_fail(st, HYD_STORE_ETOONEW,
                          "%s: schema version %lld is newer than this hyperd "
                          "knows (%d); use a newer hyperd (the file was not "
                          "changed)", path, *version, hyd_store_migration_count);
  if (st->readonly && *version < hyd_store_migration_count)
    return hyd_store_fail(st, HYD_STORE_ETOOOLD,
                          *version == 0
                              ? "%s: holds no hyperd data yet (empty database, "
                                "schema version %lld of %d)"
                              : "%s: schema version %lld is older than this "
                                "hyperd's %d; open it once read-write (hyperd run "
                                "or serve) to migrate it",
                          path, *version, hyd_store_migration_count);
  return HYD_STORE_OK;
}

static int check_path(hyd_store *st, const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT && !st->readonly)
      return HYD_STORE_OK; /* created by the open */
    return hyd_store_fail(st, errno == ENOENT ? HYD_STORE_ENOENT : HYD_STORE_EIO,
                          "%s: %s", path, strerror(errno));
  }
  if (S_ISDIR(sb.st_mode))
    return hyd_store_fail(st, HYD_STORE_ENOTDB,
                          "%s: is a directory, not a database file", path);
  return HYD_STORE_OK;
}

static int configure(hyd_store *st, int flags) {
  int status = exec(st, "PRAGMA foreign_keys = ON", "enabling foreign keys");
  if (status || st->readonly)
    return status ? status
                  : exec(st, "PRAGMA query_only = ON", "making the handle read-only");
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const unsigned char *mode = sqlite3_column_text(stmt, 0);
    rc = mode && strcmp((const char *)mode, "wal") == 0 ? SQLITE_OK : SQLITE_ERROR;
    if (rc != SQLITE_OK)
      status = hyd_store_fail(st, HYD_STORE_EIO,
                              "could not switch the database to WAL mode "
                              "(journal_mode is %s)", mode ? (const char *)mode : "?");
  }
  if (rc != SQLITE_OK && !status)
    status = hyd_store_fail_sqlite(st, rc, "switching to WAL mode");
  (void)sqlite3_finalize(stmt);
  if (status)
    return status;
  return exec(st,
              (flags & HYD_STORE_DURABLE) ? "PRAGMA synchronous = FULL"
                                          : "PRAGMA synchronous = NORMAL",
              "setting synchronous");
}

int hyd_store_open(hyd_store **out, const char *path, int flags) {
  if (!out)
    return HYD_STORE_EINVAL;
  hyd_store *st = sqlite3_malloc64(sizeof *st);
  *out = st;
  if (!st)
    return HYD_STORE_ENOMEM;
  memset(st, 0, sizeof *st);
  if (!path || !*path)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "no database path given");
  if (flags & ~(HYD_STORE_READONLY | HYD_STORE_DURABLE))
    return hyd_store_fail(st, HYD_STORE_EINVAL, "unknown open flags 0x%x",
                          (unsigned)flags);
  st->readonly = (flags & HYD_STORE_READONLY) != 0;
  int status = check_path(st, path);
  if (status)
    return status;
  int oflags = st->readonly ? SQLITE_OPEN_READONLY
                            : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path, &st->db, oflags, NULL);
  if (!st->db)
    return hyd_store_fail(st, HYD_STORE_ENOMEM, "out of memory opening %s", path);
  if (rc != SQLITE_OK)
    return hyd_store_fail_sqlite(st, rc, path);
  rc = sqlite3_extended_result_codes(st->db, 1);
  if (rc == SQLITE_OK)
    rc = sqlite3_busy_timeout(st->db, 5000);
  if (rc != SQLITE_OK)
    return hyd_store_fail_sqlite(st, rc, path);
  long long version = 0;
  status = check_file(st, path, &version);
  if (!status)
    status = configure(st, flags);
  if (!status && !st->readonly)
    status = migrate(st, version);
  if (!status)
    hyd_store_ok(st);
  return status;
}

void hyd_store_close(hyd_store *st) {
  if (!st)
    return;
  if (st->in_iteration)
    (void)hyd_store_rollback_iteration(st);
  for (int i = 0; i < STMT_COUNT; i++)
    (void)sqlite3_finalize(st->stmt[i]);
  /* close_v2: never leaves the connection open behind a busy statement. */
  (void)sqlite3_close_v2(st->db);
  sqlite3_free(st->blob);
  sqlite3_free(st->vals);
  sqlite3_free(st);
}

int hyd_store_wal_checkpoint(hyd_store *st) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = hyd_store_check_writable(st, "WAL checkpoint");
  if (!status && st->in_iteration)
    status = hyd_store_fail(st, HYD_STORE_ESTATE,
                            "WAL checkpoint: iteration %ld is still open", st->iter_number);
  if (status)
    return status;
  int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  /* BUSY: another connection is checkpointing; it does the same work. */
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
    return hyd_store_fail_sqlite(st, rc, "WAL checkpoint");
  hyd_store_ok(st);
  return HYD_STORE_OK;
}

int hyd_store_set_busy_timeout(hyd_store *st, int ms) {
  if (!st)
    return HYD_STORE_EINVAL;
  if (!st->db)
    return hyd_store_fail(st, HYD_STORE_ESTATE, "the store is not open");
  if (ms < 0)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "busy timeout %d ms is negative", ms);
  int rc = sqlite3_busy_timeout(st->db, ms);
  if (rc != SQLITE_OK)
    return hyd_store_fail_sqlite(st, rc, "setting the busy timeout");
  hyd_store_ok(st);
  return HYD_STORE_OK;
}
