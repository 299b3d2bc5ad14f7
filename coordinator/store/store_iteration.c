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

static int tx(hyd_store *st, enum hyd_store_stmt id, const char *what) {
  sqlite3_stmt *q = NULL;
  int status = hyd_store_stmt(st, id, &q);
  return status ? status : hyd_store_step_done(st, q, what);
}

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
  status = tx(st, STMT_BEGIN, "begin iteration");
  if (status)
    return status;
  size_t n_theta = 0;
  status = hyd_store_study_n_theta(st, study, &n_theta);
  if (!status)
    status = delete_from(st, study, iteration);
  if (status) {
    char keep[sizeof st->errmsg];
    memcpy(keep, st->errmsg, sizeof keep);
    (void)tx(st, STMT_ROLLBACK, "rollback");
    memcpy(st->errmsg, keep, sizeof keep);
    return status;
  }
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

static int bind_checkpoint(hyd_store *st, sqlite3_stmt *q, int64_t study,
                           const hyd_maid_checkpoint *cp, size_t n_theta, size_t n_warm,
                           int has_warm) {
  unsigned char *state = st->blob, *theta = state + HYD_STORE_STATE_BYTES;
  unsigned char *warm = theta + 8 * n_theta;
  int rc = sqlite3_bind_int64(q, 1, study);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, cp->iter);
  if (rc == SQLITE_OK) rc = sqlite3_bind_blob(q, 3, state, HYD_STORE_STATE_BYTES, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob64(q, 4, theta, (sqlite3_uint64)(8 * n_theta), SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = has_warm ? sqlite3_bind_blob64(q, 5, warm, (sqlite3_uint64)(8 * n_warm), SQLITE_STATIC)
                  : sqlite3_bind_null(q, 5);
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

int hyd_store_record_checkpoint(hyd_store *st, int64_t study,
                                const hyd_maid_checkpoint *cp,
                                const double *theta, size_t n_theta,
                                const double *warm, size_t n_warm) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = hyd_store_check_writable(st, "record checkpoint");
  if (!status)
    status = checkpoint_args(st, study, cp, theta, n_theta, warm, n_warm);
  if (!status)
    status = hyd_store_reserve_blob(st, HYD_STORE_STATE_BYTES + 8 * (n_theta + n_warm));
  sqlite3_stmt *q = NULL;
  if (!status)
    status = hyd_store_stmt(st, STMT_PUT_CHECKPOINT, &q);
  if (status)
    return hyd_store_iteration_failed(st, status);
  hyd_store_pack_checkpoint(st->blob, cp);
  if (n_theta > 0)
    hyd_store_encode_doubles(st->blob + HYD_STORE_STATE_BYTES, theta, n_theta);
  if (n_warm > 0)
    hyd_store_encode_doubles(st->blob + HYD_STORE_STATE_BYTES + 8 * n_theta, warm, n_warm);
  status = insert(st, q, bind_checkpoint(st, q, study, cp, n_theta, n_warm, warm != NULL),
                  "record checkpoint");
  if (status)
    return hyd_store_iteration_failed(st, status);
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
    (void)tx(st, STMT_ROLLBACK, "rollback");
    end_iteration(st);
    (void)snprintf(st->errmsg, sizeof st->errmsg,
                   "iteration rolled back, a record failed: %.900s", st->iter_errmsg);
    return status;
  }
  status = tx(st, STMT_COMMIT, "commit iteration");
  if (status) {
    char keep[sizeof st->errmsg];
    memcpy(keep, st->errmsg, sizeof keep);
    /* Not committed: make sure it is not left open either. */
    if (!sqlite3_get_autocommit(st->db))
      (void)tx(st, STMT_ROLLBACK, "rollback");
    memcpy(st->errmsg, keep, sizeof keep);
    end_iteration(st);
    return status;
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
  int status = tx(st, STMT_ROLLBACK, "rollback iteration");
  if (!status)
    hyd_store_ok(st);
  return status;
}

void hyd_store_maid_recorder(const hyd_maid_event *event, void *user) {
  /* The status is kept by the handle (sticky) and reported by commit. */
  (void)hyd_store_record_evaluation(user, event, NULL);
}
