/* store_read.c: reading back evaluations, iterations, the best iteration
 * and the checkpoint of a study. */
#include "store_internal.h"

#include <string.h>

/* Number of float64 values in a BLOB column; -1 if its length is not a
 * multiple of 8 (the schema's CHECK makes that impossible, but a file is
 * input). */
static long blob_values(sqlite3_stmt *q, int col) {
  int bytes = sqlite3_column_bytes(q, col);
  return bytes % 8 == 0 ? bytes / 8 : -1;
}

/* Decodes a theta column into *buf (grown as needed, sqlite3_malloc). */
static int decode_column(hyd_store *st, sqlite3_stmt *q, int col, double **buf,
                         size_t *cap, size_t *n) {
  const unsigned char *bytes = sqlite3_column_blob(q, col);
  long count = blob_values(q, col);
  if (count < 0)
    return hyd_store_fail(st, HYD_STORE_EIO, "a theta BLOB of %d bytes is not float64",
                          sqlite3_column_bytes(q, col));
  *n = (size_t)count;
  if (*n > *cap) {
    double *p = sqlite3_realloc64(*buf, *n * sizeof(double));
    if (!p)
      return hyd_store_fail(st, HYD_STORE_ENOMEM, "out of memory (%zu values)", *n);
    *buf = p;
    *cap = *n;
  }
  if (*n > 0)
    hyd_store_decode_doubles(*buf, bytes, *n);
  return HYD_STORE_OK;
}

static void evaluation_from_row(sqlite3_stmt *q, hyd_store_evaluation *e) {
  memset(e, 0, sizeof *e);
  e->study_id = sqlite3_column_int64(q, 0);
  e->iteration = (long)sqlite3_column_int64(q, 1);
  e->seq = (long)sqlite3_column_int64(q, 2);
  const char *kind = (const char *)sqlite3_column_text(q, 3);
  e->kind = kind && strcmp(kind, "trial") == 0 ? HYD_EVENT_TRIAL : HYD_EVENT_EVALUATE;
  double *v[8] = {&e->eps, &e->delta, &e->step, &e->z_norm,
                  &e->omega, &e->f_lo, &e->f_hi, &e->g};
  for (int k = 0; k < 8; k++)
    *v[k] = hyd_store_column_double(q, 5 + k);
  e->accepted = sqlite3_column_int(q, 13);
  hyd_store_column_cost(q, 14, &e->cost);
  e->wall_seconds = hyd_store_column_double(q, 22);
  e->failed = sqlite3_column_int(q, 23);
  e->fail_reason = (const char *)sqlite3_column_text(q, 24);
}

static void iteration_from_row(sqlite3_stmt *q, hyd_store_iteration *it) {
  memset(it, 0, sizeof *it);
  it->study_id = sqlite3_column_int64(q, 0);
  it->iteration = (long)sqlite3_column_int64(q, 1);
  double *v[9] = {&it->eps,   &it->delta, &it->alpha, &it->step, &it->z_norm,
                  &it->omega, &it->f_lo,  &it->f_hi,  &it->g};
  for (int k = 0; k < 9; k++)
    *v[k] = hyd_store_column_double(q, 3 + k);
  it->accepted = sqlite3_column_int(q, 12);
  it->n_accepted = (long)sqlite3_column_int64(q, 13);
  hyd_store_column_cost(q, 14, &it->cost);
  it->wall_seconds = hyd_store_column_double(q, 22);
  it->certified = sqlite3_column_int(q, 23);
}

/* One listing loop for both tables: rows of `study` through `call`. */
/* Callbacks travel as void (*)(void), the generic function pointer ISO C
 * allows converting back. */
typedef void (*any_fn)(void);
typedef int (*row_call)(sqlite3_stmt *q, const double *theta, size_t n,
                        any_fn fn, void *user);

static int call_evaluation(sqlite3_stmt *q, const double *theta, size_t n, any_fn fn,
                           void *user) {
  hyd_store_evaluation e;
  evaluation_from_row(q, &e);
  e.theta = theta;
  e.n_theta = n;
  return ((hyd_store_evaluation_fn)fn)(&e, user);
}

static int call_iteration(sqlite3_stmt *q, const double *theta, size_t n, any_fn fn,
                          void *user) {
  hyd_store_iteration it;
  iteration_from_row(q, &it);
  it.theta = theta;
  it.n_theta = n;
  return ((hyd_store_iteration_fn)fn)(&it, user);
}

static int foreach_row(hyd_store *st, enum hyd_store_stmt id, int64_t study,
                       int theta_col, row_call call, any_fn fn, void *user,
                       const char *what) {
  if (!fn)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "%s: no callback", what);
  sqlite3_stmt *q = NULL;
  int status = hyd_store_stmt(st, id, &q);
  if (status)
    return status;
  int rc = sqlite3_bind_int64(q, 1, study);
  if (rc != SQLITE_OK)
    return hyd_store_fail_sqlite(st, rc, what);
  /* A buffer of our own: the callback may call other store functions. */
  double *theta = NULL;
  size_t cap = 0, n = 0;
  uint64_t bit = HYD_STORE_STMT_BIT(id);
  st->stmt_in_use |= bit;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    status = decode_column(st, q, theta_col, &theta, &cap, &n);
    if (status || call(q, theta, n, fn, user) != 0)
      break;
  }
  st->stmt_in_use &= ~bit;
  if (!status && rc != SQLITE_ROW && rc != SQLITE_DONE)
    status = hyd_store_fail_sqlite(st, rc, what);
  (void)sqlite3_reset(q);
  sqlite3_free(theta);
  if (!status)
    hyd_store_ok(st);
  return status;
}

/* An unknown study is an error, not an empty listing. */
static int check_study(hyd_store *st, int64_t study) {
  size_t unused;
  return hyd_store_study_n_theta(st, study, &unused);
}

int hyd_store_foreach_evaluation(hyd_store *st, int64_t study,
                                 hyd_store_evaluation_fn fn, void *user) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = check_study(st, study);
  if (status)
    return status;
  return foreach_row(st, STMT_FOREACH_EVALUATION, study, 4, call_evaluation,
                     (any_fn)fn, user, "list evaluations");
}

int hyd_store_foreach_iteration(hyd_store *st, int64_t study,
                                hyd_store_iteration_fn fn, void *user) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = check_study(st, study);
  if (status)
    return status;
  return foreach_row(st, STMT_FOREACH_ITERATION, study, 2, call_iteration,
                     (any_fn)fn, user, "list iterations");
}

int hyd_store_best(hyd_store *st, int64_t study, hyd_store_iteration *out) {
  if (!st)
    return HYD_STORE_EINVAL;
  if (!out)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "best: no output");
  int status = check_study(st, study);
  sqlite3_stmt *q = NULL;
  if (!status)
    status = hyd_store_row_by_key(st, STMT_BEST, study, "best", &q);
  if (status == HYD_STORE_ENOTFOUND)
    return hyd_store_fail(st, status, "study %lld has no iteration with a value yet",
                          (long long)study);
  if (status)
    return status;
  size_t n = 0;
  status = decode_column(st, q, 2, &st->vals, &st->vals_cap, &n);
  if (!status) {
    iteration_from_row(q, out);
    out->theta = st->vals;
    out->n_theta = n;
  }
  return hyd_store_row_done(st, q, status);
}

/* The study's checkpoint row in *q, or a status with its message. */
static int checkpoint_row(hyd_store *st, int64_t study, enum hyd_store_stmt id,
                          const char *what, sqlite3_stmt **q) {
  int status = check_study(st, study);
  if (!status)
    status = hyd_store_row_by_key(st, id, study, what, q);
  if (status == HYD_STORE_ENOTFOUND)
    return hyd_store_fail(st, status, "study %lld has no checkpoint", (long long)study);
  return status;
}

int hyd_store_checkpoint_info(hyd_store *st, int64_t study, long *iteration,
                              size_t *n_theta, size_t *n_warm) {
  if (!st)
    return HYD_STORE_EINVAL;
  sqlite3_stmt *q = NULL;
  int status = checkpoint_row(st, study, STMT_CHECKPOINT_INFO, "checkpoint info", &q);
  if (status)
    return status;
  if (iteration) *iteration = (long)sqlite3_column_int64(q, 0);
  if (n_theta) *n_theta = (size_t)sqlite3_column_int64(q, 1);
  if (n_warm) *n_warm = (size_t)sqlite3_column_int64(q, 2);
  return hyd_store_row_done(st, q, HYD_STORE_OK);
}

/* Checks and copies the current checkpoint row into the caller's buffers. */
static int copy_checkpoint(hyd_store *st, sqlite3_stmt *q, hyd_maid_checkpoint *cp,
                           double *theta, size_t n_theta, double *warm, size_t n_warm) {
  long stored_theta = blob_values(q, 3), stored_warm = blob_values(q, 4);
  if (sqlite3_column_int(q, 1) != 1 || sqlite3_column_bytes(q, 2) != HYD_STORE_STATE_BYTES ||
      stored_theta < 0 || stored_warm < 0)
    return hyd_store_fail(st, HYD_STORE_EIO, "load checkpoint: unknown state layout");
  if ((size_t)stored_theta != n_theta)
    return hyd_store_fail(st, HYD_STORE_EINVAL,
                          "load checkpoint: it holds %ld theta values, the buffer %zu",
                          stored_theta, n_theta);
  if (warm && (size_t)stored_warm != n_warm)
    return hyd_store_fail(st, HYD_STORE_EINVAL,
                          "load checkpoint: it holds %ld warm-start values, the buffer %zu",
                          stored_warm, n_warm);
  hyd_store_unpack_checkpoint(cp, sqlite3_column_blob(q, 2));
  if (n_theta > 0)
    hyd_store_decode_doubles(theta, sqlite3_column_blob(q, 3), n_theta);
  if (warm && n_warm > 0)
    hyd_store_decode_doubles(warm, sqlite3_column_blob(q, 4), n_warm);
  return HYD_STORE_OK;
}

int hyd_store_load_checkpoint(hyd_store *st, int64_t study,
                              hyd_maid_checkpoint *cp, double *theta,
                              size_t n_theta, double *warm, size_t n_warm) {
  if (!st)
    return HYD_STORE_EINVAL;
  if (!cp || (!theta && n_theta > 0))
    return hyd_store_fail(st, HYD_STORE_EINVAL, "load checkpoint: no checkpoint or theta buffer");
  sqlite3_stmt *q = NULL;
  int status = checkpoint_row(st, study, STMT_LOAD_CHECKPOINT, "load checkpoint", &q);
  if (status)
    return status;
  status = copy_checkpoint(st, q, cp, theta, n_theta, warm, n_warm);
  return hyd_store_row_done(st, q, status);
}
