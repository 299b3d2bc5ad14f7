/* store_iteration.c: the records of one outer iteration and its single
 * transaction (begin .. commit), plus checkpoints.
 *
 * BEGIN IMMEDIATE takes the write lock at the start, so a commit never
 * fails half-way for a lock; in WAL mode readers are never blocked by it.
 * A failure inside the iteration is remembered (sticky) and turns the
 * commit into a rollback: a database never holds half an iteration. */
#include "store_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Removes rows of an abandoned attempt at iterations >= from. */
static int delete_from(hyd_store *st, int64_t study, long from) {
  const enum hyd_store_stmt ids[2] = {STMT_DELETE_EVALUATIONS_FROM,
                                      STMT_DELETE_ITERATIONS_FROM};
  for (int i = 0; i < 2; i++) {
    sqlite3_stmt *q = NULL;
    int status = hyd_store_stmt(st, ids[i], &q);
    if (status)
      return status;
    int rc = sqlite3_bind_int64(q, 1, study);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_int64(q, 2, from);
    if (rc != SQLITE_OK) {
      (void)sqlite3_reset(q);
      return hyd_store_fail_sqlite(st, rc, "begin iteration");
    }
    status = hyd_store_step_done(st, q, "begin iteration: clearing an abandoned attempt");
    if (status)
      return status;
  }
  return HYD_STORE_OK;
}

int hyd_store_begin_iteration(hyd_store *st, int64_t study, long iteration) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = hyd_store_check_writable(st, "begin iteration");
  if (status)
    return status;
  if (st->in_iteration)
    return hyd_store_fail(st, HYD_STORE_ESTATE,
                          "begin iteration %ld: iteration %ld is still open "
                          "(commit or roll it back first)", iteration, st->iter_number);
  if (iteration < 0)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "begin iteration: negative number %ld",
                          iteration);
  status = hyd_store_exec_stmt(st, STMT_BEGIN, "begin iteration");
  if (status)
    return status;
  size_t n_theta = 0;
  status = hyd_store_study_n_theta(st, study, &n_theta);
  if (!status)
    status = delete_from(st, study, iteration);
  if (status)
    return hyd_store_undo(st, STMT_ROLLBACK, status);
  st->in_iteration = 1;
  st->iter_study = study;
  st->iter_number = iteration;
  st->iter_n_theta = n_theta;
  st->next_seq = 0;
  st->iter_status = HYD_STORE_OK;
  st->iter_errmsg[0] = '\0';
  hyd_store_ok(st);
  return HYD_STORE_OK;
}

static int need_iteration(hyd_store *st, const char *what) {
  if (!st->in_iteration)
    return hyd_store_fail(st, HYD_STORE_ESTATE,
                          "%s: no iteration is open (call hyd_store_begin_iteration)", what);
  return HYD_STORE_OK;
}

/* Encodes theta (n values) into the scratch BLOB. */
static int encode_theta(hyd_store *st, const double *theta, size_t n, const char *what) {
  if (!theta && n > 0)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "%s: theta is NULL", what);
  int status = hyd_store_reserve_blob(st, n * 8 + 1);
  if (!status && n > 0)
    hyd_store_encode_doubles(st->blob, theta, n);
  return status;
}

static int bind_doubles(sqlite3_stmt *q, int first, const double *v, int n) {
  int rc = SQLITE_OK;
  for (int k = 0; k < n && rc == SQLITE_OK; k++)
    rc = sqlite3_bind_double(q, first + k, v[k]);
  return rc;
}

static int bind_evaluation(hyd_store *st, sqlite3_stmt *q, const hyd_maid_event *ev,
                           const char *fail_reason) {
  /* Only a trial has a step; an evaluation's column is NULL (NaN binds as NULL). */
  const double step = ev->kind == HYD_EVENT_TRIAL ? ev->step : NAN;
  const double values[8] = {ev->eps,   ev->delta, step,    ev->z_norm,
                            ev->omega, ev->f_lo,  ev->f_hi, ev->g};
  int rc = sqlite3_bind_int64(q, 1, st->iter_study);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, st->iter_number);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 3, st->next_seq);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, 4, ev->kind == HYD_EVENT_TRIAL ? "trial" : "evaluate", -1,
                           SQLITE_STATIC);
  /* STATIC: the scratch BLOB stays put until the statement is reset. */
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob64(q, 5, st->blob, (sqlite3_uint64)(st->iter_n_theta * 8),
                             SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = bind_doubles(q, 6, values, 8);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, 14, ev->accepted != 0);
  if (rc == SQLITE_OK) rc = hyd_store_bind_cost(q, 15, &ev->cost);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(q, 23, ev->wall_seconds);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, 24, fail_reason != NULL);
  if (rc == SQLITE_OK) rc = hyd_store_bind_text(q, 25, fail_reason);
  return rc;
}

static int insert(hyd_store *st, sqlite3_stmt *q, int rc, const char *what) {
  if (rc != SQLITE_OK) {
    int status = hyd_store_fail_sqlite(st, rc, what);
    (void)sqlite3_reset(q);
    return status;
  }
  return hyd_store_step_done(st, q, what);
}

int hyd_store_record_evaluation(hyd_store *st, const hyd_maid_event *event,
                                const char *fail_reason) {
  if (!st)
    return HYD_STORE_EINVAL;
  const char *what = "record evaluation";
  int status = need_iteration(st, what);
  if (!status && !event)
    status = hyd_store_fail(st, HYD_STORE_EINVAL, "%s: no event", what);
  if (!status && event->kind != HYD_EVENT_EVALUATE && event->kind != HYD_EVENT_TRIAL)
    status = hyd_store_fail(st, HYD_STORE_EINVAL, "%s: unknown kind %d", what, event->kind);
  if (!status)
    status = encode_theta(st, event->theta, st->iter_n_theta, what);
  sqlite3_stmt *q = NULL;
  if (!status)
    status = hyd_store_stmt(st, STMT_INSERT_EVALUATION, &q);
  if (!status)
    status = insert(st, q, bind_evaluation(st, q, event, fail_reason), what);
  if (status)
    return hyd_store_iteration_failed(st, status);
  st->next_seq++;
  hyd_store_ok(st);
  return HYD_STORE_OK;
}

static int bind_iteration(hyd_store *st, sqlite3_stmt *q, const hyd_maid_info *in) {
  const double values[9] = {in->eps,  in->delta, in->alpha, in->step, in->z_norm,
                            in->omega, in->f_lo, in->f_hi,  in->g};
  int rc = sqlite3_bind_int64(q, 1, st->iter_study);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, st->iter_number);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob64(q, 3, st->blob, (sqlite3_uint64)(st->iter_n_theta * 8),
                             SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = bind_doubles(q, 4, values, 9);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, 13, in->accepted_last != 0);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 14, in->accepted);
  if (rc == SQLITE_OK) rc = hyd_store_bind_cost(q, 15, &in->cost);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(q, 23, in->wall_seconds);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, 24, in->certified != 0);
  return rc;
}

int hyd_store_record_iteration(hyd_store *st, const hyd_maid_info *info,
                               const double *theta) {
  if (!st)
    return HYD_STORE_EINVAL;
  const char *what = "record iteration";
  int status = need_iteration(st, what);
  if (!status && !info)
    status = hyd_store_fail(st, HYD_STORE_EINVAL, "%s: no info", what);
  if (!status && info->iter != st->iter_number)
    status = hyd_store_fail(st, HYD_STORE_EINVAL,
                            "%s: info.iter is %ld but iteration %ld is open", what,
                            info->iter, st->iter_number);
  if (!status)
    status = encode_theta(st, theta, st->iter_n_theta, what);
  sqlite3_stmt *q = NULL;
  if (!status)
    status = hyd_store_stmt(st, STMT_INSERT_ITERATION, &q);
  if (!status)
    status = insert(st, q, bind_iteration(st, q, info), what);
  if (status == HYD_STORE_EINVAL && sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
    status = hyd_store_fail(st, HYD_STORE_EEXIST, "%s: iteration %ld is recorded already",
                            what, st->iter_number);
  if (status)
    return hyd_store_iteration_failed(st, status);
  hyd_store_ok(st);
  return HYD_STORE_OK;
}

/* How the warm-start column is written. */
enum warm_column { WARM_NULL, WARM_BOUND, WARM_IN_PLACE };

static int bind_checkpoint(sqlite3_stmt *q, int64_t study, const hyd_maid_checkpoint *cp,
                           const unsigned char *state, const unsigned char *theta,
                           size_t n_theta, const unsigned char *warm, size_t n_warm,
                           enum warm_column how) {
  int rc = sqlite3_bind_int64(q, 1, study);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, cp->iter);
  if (rc == SQLITE_OK) rc = sqlite3_bind_blob(q, 3, state, HYD_STORE_STATE_BYTES, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob64(q, 4, theta, (sqlite3_uint64)(8 * n_theta), SQLITE_STATIC);
  if (rc == SQLITE_OK && how == WARM_BOUND)
    rc = sqlite3_bind_blob64(q, 5, warm, (sqlite3_uint64)(8 * n_warm), SQLITE_STATIC);
  if (rc == SQLITE_OK && how == WARM_NULL)
    rc = sqlite3_bind_null(q, 5);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(q, 6, cp->eps);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(q, 7, cp->delta);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(q, 8, cp->alpha);
  return rc;
}

static int checkpoint_args(hyd_store *st, int64_t study, const hyd_maid_checkpoint *cp,
                           const double *theta, size_t n_theta, const double *warm,
                           size_t n_warm) {
  if (!cp || (!theta && n_theta > 0) || (!warm && n_warm > 0))
    return hyd_store_fail(st, HYD_STORE_EINVAL,
                          "record checkpoint: checkpoint, theta or warm starts missing");
  if (cp->iter < 0)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "record checkpoint: negative iteration %ld",
                          cp->iter);
  size_t expect = 0;
  int status = hyd_store_study_n_theta(st, study, &expect);
  if (!status && expect != n_theta)
    status = hyd_store_fail(st, HYD_STORE_EINVAL,
                            "record checkpoint: theta has %zu values, the study %zu",
                            n_theta, expect);
  if (!status && (n_theta > SIZE_MAX / 16 || n_warm > SIZE_MAX / 16))
    status = hyd_store_fail(st, HYD_STORE_EINVAL, "record checkpoint: too large");
  return status;
}

/* Values of warm starts already stored for `study` (-1: no checkpoint). */
static int stored_warm(hyd_store *st, int64_t study, long *n) {
  sqlite3_stmt *q = NULL;
  *n = -1;
  int status = hyd_store_row_by_key(st, STMT_CHECKPOINT_INFO, study, "record checkpoint", &q);
  if (status == HYD_STORE_ENOTFOUND)
    return HYD_STORE_OK;
  if (status)
    return status;
  *n = (long)sqlite3_column_int64(q, 2);
  (void)sqlite3_reset(q);
  return HYD_STORE_OK;
}

/* A page cache that holds the warm starts' pages: an in-place write then
 * reads none of them back from the file, and SQLite does not spill dirty
 * pages to the WAL before the commit (its default cache is 2000 KiB). */
static int cache_for(hyd_store *st, size_t bytes) {
  long want = (long)(bytes / 1024 + bytes / 8192) + 2048;
  if (want <= st->cache_kib)
    return HYD_STORE_OK;
  char sql[64];
  (void)snprintf(sql, sizeof sql, "PRAGMA cache_size = -%ld", want);
  int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return hyd_store_fail_sqlite(st, rc, "record checkpoint: sizing the page cache");
  st->cache_kib = want;
  return HYD_STORE_OK;
}

/* Overwrites the stored warm starts (same size) through incremental BLOB
 * I/O: the row's overflow pages are rewritten where they are, instead of
 * being freed and allocated again as an INSERT OR REPLACE does. */
static int write_warm_in_place(hyd_store *st, int64_t study, const unsigned char *warm,
                               size_t bytes) {
  sqlite3_blob *blob = NULL;
  int rc = sqlite3_blob_open(st->db, "main", "checkpoints", "warm", study, 1, &blob);
  const size_t chunk = (size_t)1 << 30; /* sqlite3_blob_write takes an int */
  for (size_t off = 0; rc == SQLITE_OK && off < bytes; off += chunk) {
    size_t n = bytes - off < chunk ? bytes - off : chunk;
    rc = sqlite3_blob_write(blob, warm + off, (int)n, (int)off);
  }
  int status = rc == SQLITE_OK ? HYD_STORE_OK
                               : hyd_store_fail_sqlite(st, rc, "record checkpoint: warm starts");
  (void)sqlite3_blob_close(blob);
  return status;
}

static int put_checkpoint(hyd_store *st, int64_t study, const hyd_maid_checkpoint *cp,
                          const double *theta, size_t n_theta, const double *warm,
                          size_t n_warm) {
  long have = -1;
  int status = warm && n_warm > 0 ? stored_warm(st, study, &have) : HYD_STORE_OK;
  enum warm_column how = !warm                   ? WARM_NULL
                         : have == (long)n_warm ? WARM_IN_PLACE
                                                 : WARM_BOUND;
  /* State and theta are small: encoded into the scratch BLOB. The warm
   * starts (megabytes) are bound as they are where the host's bytes are
   * the stored ones, else encoded after theta. */
  int direct = hyd_store_host_is_little_endian();
  size_t scratch = HYD_STORE_STATE_BYTES + 8 * n_theta + (direct ? 0 : 8 * n_warm);
  if (!status)
    status = hyd_store_reserve_blob(st, scratch);
  if (!status && how != WARM_NULL)
    status = cache_for(st, 8 * n_warm);
  sqlite3_stmt *q = NULL;
  if (!status)
    status = hyd_store_stmt(st, how == WARM_IN_PLACE ? STMT_UPDATE_CHECKPOINT_KEEP_WARM
                                                     : STMT_PUT_CHECKPOINT, &q);
  if (status)
    return status;
  unsigned char *state = st->blob, *theta_bytes = state + HYD_STORE_STATE_BYTES;
  const unsigned char *warm_bytes = (const unsigned char *)warm;
  hyd_store_pack_checkpoint(state, cp);
  if (n_theta > 0)
    hyd_store_encode_doubles(theta_bytes, theta, n_theta);
  if (!direct && n_warm > 0) {
    hyd_store_encode_doubles(theta_bytes + 8 * n_theta, warm, n_warm);
    warm_bytes = theta_bytes + 8 * n_theta;
  }
  status = insert(st, q,
                  bind_checkpoint(q, study, cp, state, theta_bytes, n_theta, warm_bytes,
                                  n_warm, how),
                  "record checkpoint");
  if (!status && how == WARM_IN_PLACE)
    status = write_warm_in_place(st, study, warm_bytes, 8 * n_warm);
  return status;
}

int hyd_store_record_checkpoint(hyd_store *st, int64_t study,
                                const hyd_maid_checkpoint *cp,
                                const double *theta, size_t n_theta,
                                const double *warm, size_t n_warm) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = hyd_store_check_writable(st, "record checkpoint");
  if (!status)
    status = checkpoint_args(st, study, cp, theta, n_theta, warm, n_warm);
  /* The row and its warm starts change together or not at all: in a
   * savepoint inside an open transaction (an iteration's), else in a
   * transaction of their own (IMMEDIATE: takes the write lock at once). */
  int own = sqlite3_get_autocommit(st->db);
  if (!status)
    status = hyd_store_exec_stmt(st, own ? STMT_BEGIN : STMT_SAVEPOINT, "record checkpoint");
  if (status)
    return hyd_store_iteration_failed(st, status);
  status = put_checkpoint(st, study, cp, theta, n_theta, warm, n_warm);
  if (status)
    return hyd_store_iteration_failed(
        st, hyd_store_undo(st, own ? STMT_ROLLBACK : STMT_ROLLBACK_TO, status));
  status = hyd_store_exec_stmt(st, own ? STMT_COMMIT : STMT_RELEASE, "record checkpoint");
  if (status)
    return hyd_store_iteration_failed(
        st, own ? hyd_store_undo(st, STMT_ROLLBACK, status) : status);
  hyd_store_ok(st);
  return HYD_STORE_OK;
}

static void end_iteration(hyd_store *st) {
  st->in_iteration = 0;
  st->iter_status = HYD_STORE_OK;
}

int hyd_store_commit_iteration(hyd_store *st) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = need_iteration(st, "commit iteration");
  if (status)
    return status;
  if (st->iter_status != HYD_STORE_OK) {
    status = st->iter_status;
    (void)hyd_store_exec_stmt(st, STMT_ROLLBACK, "rollback");
    end_iteration(st);
    (void)snprintf(st->errmsg, sizeof st->errmsg,
                   "iteration rolled back, a record failed: %.900s", st->iter_errmsg);
    return status;
  }
  if (st->owned_study == st->iter_study) {
    /* The owner's heartbeat, in the iteration's own transaction. */
    sqlite3_stmt *q = NULL;
    status = hyd_store_stmt(st, STMT_HEARTBEAT, &q);
    if (!status)
      status = insert(st, q, sqlite3_bind_int64(q, 1, st->iter_study), "heartbeat");
    if (status) {
      end_iteration(st);
      return hyd_store_undo(st, STMT_ROLLBACK, status);
    }
  }
  status = hyd_store_exec_stmt(st, STMT_COMMIT, "commit iteration");
  if (status) {
    /* Not committed: make sure it is not left open either. */
    end_iteration(st);
    return hyd_store_undo(st, STMT_ROLLBACK, status);
  }
  end_iteration(st);
  hyd_store_ok(st);
  return HYD_STORE_OK;
}

int hyd_store_rollback_iteration(hyd_store *st) {
  if (!st)
    return HYD_STORE_EINVAL;
  if (!st->in_iteration) {
    hyd_store_ok(st);
    return HYD_STORE_OK;
  }
  end_iteration(st);
  if (sqlite3_get_autocommit(st->db)) {
    /* SQLite already rolled back (e.g. after an I/O error). */
    hyd_store_ok(st);
    return HYD_STORE_OK;
  }
  int status = hyd_store_exec_stmt(st, STMT_ROLLBACK, "rollback iteration");
  if (!status)
    hyd_store_ok(st);
  return status;
}

static int finish_steps(hyd_store *st, int64_t study, const hyd_store_finish *f) {
  int status = HYD_STORE_OK;
  if (f->cp)
    status = hyd_store_record_checkpoint(st, study, f->cp, f->theta, f->n_theta, f->warm,
                                         f->n_warm);
  if (!status && f->stop_reason)
    status = hyd_store_set_stop_reason(st, study, f->stop_reason);
  if (!status) {
    hyd_store_iteration best;
    status = hyd_store_best(st, study, &best);
    if (!status)
      status = hyd_store_set_result(st, study, best.g, best.iteration);
    else if (status == HYD_STORE_ENOTFOUND)
      status = HYD_STORE_OK; /* no iteration with a value yet */
  }
  if (!status && f->event_kind)
    status = hyd_store_record_event(st, study, f->event_level, f->event_kind,
                                    f->event_message ? f->event_message : "");
  if (!status)
    status = hyd_store_set_status(st, study, f->status);
  return status;
}

int hyd_store_finish_study(hyd_store *st, int64_t study, const hyd_store_finish *f) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = hyd_store_check_writable(st, "finish study");
  if (!status && !f)
    status = hyd_store_fail(st, HYD_STORE_EINVAL, "finish study: nothing given");
  if (!status && st->in_iteration)
    status = hyd_store_fail(st, HYD_STORE_ESTATE,
                            "finish study: iteration %ld is still open", st->iter_number);
  if (!status)
    status = hyd_store_exec_stmt(st, STMT_BEGIN, "finish study");
  if (status)
    return status;
  status = finish_steps(st, study, f);
  if (!status)
    status = hyd_store_exec_stmt(st, STMT_COMMIT, "finish study");
  if (status)
    return hyd_store_undo(st, STMT_ROLLBACK, status);
  hyd_store_ok(st);
  return HYD_STORE_OK;
}

void hyd_store_maid_recorder(const hyd_maid_event *event, void *user) {
  /* The status is kept by the handle (sticky) and reported by commit. */
  (void)hyd_store_record_evaluation(user, event, NULL);
}
