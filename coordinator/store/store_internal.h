/* store_internal.h: what the store's source files share (not installed).
 *
 * The handle owns one SQLite connection, a cache of prepared statements
 * (prepared on first use, kept for the handle's life) and scratch buffers
 * for encoding and decoding float64 BLOBs. Memory comes from
 * sqlite3_malloc64, so that a test can fail allocations of both SQLite and
 * the store through sqlite3_config(SQLITE_CONFIG_MALLOC). */
#ifndef HYPERD_STORE_INTERNAL_H
#define HYPERD_STORE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "store/store.h"

/* PRAGMA application_id of a hyperd database ("HYPD"): tells our files
 * from other applications' SQLite files before anything is written. */
#define HYD_STORE_APPLICATION_ID 0x48595044

/* Bytes of the packed hyd_maid_checkpoint (state_version 1). */
#define HYD_STORE_STATE_FIELDS 25
#define HYD_STORE_STATE_BYTES (HYD_STORE_STATE_FIELDS * 8)

enum hyd_store_stmt {
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_INSERT_STUDY,
  STMT_SET_STATUS,
  STMT_SET_STOP_REASON,
  STMT_SET_ERROR,
  STMT_SET_RESULT,
  STMT_STUDY_BY_ID,
  STMT_STUDY_BY_NAME,
  STMT_LIST_STUDIES,
  STMT_NEXT_QUEUED,
  STMT_STUDY_N_THETA,
  STMT_STUDY_OWNER,
  STMT_CLAIM,
  STMT_HEARTBEAT,
  STMT_DELETE_EVALUATIONS_FROM,
  STMT_DELETE_ITERATIONS_FROM,
  STMT_INSERT_EVALUATION,
  STMT_INSERT_ITERATION,
  STMT_PUT_CHECKPOINT,
  STMT_UPDATE_CHECKPOINT_KEEP_WARM,
  STMT_SAVEPOINT,
  STMT_RELEASE,
  STMT_ROLLBACK_TO,
  STMT_CHECKPOINT_INFO,
  STMT_LOAD_CHECKPOINT,
  STMT_INSERT_EVENT,
  STMT_FOREACH_EVALUATION,
  STMT_FOREACH_ITERATION,
  STMT_BEST,
  STMT_PUT_DATASET,
  STMT_GET_DATASET,
  STMT_COUNT
};
_Static_assert(STMT_COUNT <= 64, "hyd_store.stmt_in_use has a bit per statement");
/* The bit of statement `id` in hyd_store.stmt_in_use. */
#define HYD_STORE_STMT_BIT(id) ((uint64_t)1 << (id))

struct hyd_store {
  sqlite3 *db;
  int readonly;
  sqlite3_stmt *stmt[STMT_COUNT];
  uint64_t stmt_in_use; /* bit per statement held by a running foreach */
  char errmsg[1024];

  /* The open iteration (hyd_store_begin_iteration .. commit). */
  int in_iteration;
  int64_t iter_study;
  long iter_number;
  size_t iter_n_theta;
  long next_seq;
  int iter_status;        /* first failure inside the iteration */
  char iter_errmsg[1024]; /* its message, returned by commit */

  unsigned char *blob;    /* encoding scratch */
  size_t blob_cap;
  double *vals;           /* decoding scratch (hyd_store_best) */
  size_t vals_cap;
  long cache_kib;         /* page cache asked for (PRAGMA cache_size), KiB */
  int64_t owned_study;    /* claimed by this handle: heartbeats; 0 none */
};

/* Errors: set st->errmsg and return `code`. */
int hyd_store_fail(hyd_store *st, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* From a SQLite result code: maps it to a status, message "what: why". */
int hyd_store_fail_sqlite(hyd_store *st, int rc, const char *what);
/* Clears the message at the start of a successful path. */
void hyd_store_ok(hyd_store *st);
/* Records a failure inside an open iteration (the first one is kept for
 * commit) and returns `status` unchanged. */
int hyd_store_iteration_failed(hyd_store *st, int status);

/* The cached statement `id`, reset and ready to bind; *out NULL on failure
 * (status returned, message set). */
int hyd_store_stmt(hyd_store *st, enum hyd_store_stmt id, sqlite3_stmt **out);
/* Steps a statement that returns no row and resets it. */
int hyd_store_step_done(hyd_store *st, sqlite3_stmt *stmt, const char *what);
/* Runs the cached statement `id` that takes no parameter (BEGIN, COMMIT,
 * ...). */
int hyd_store_exec_stmt(hyd_store *st, enum hyd_store_stmt id, const char *what);
/* After a failure: undoes `undo` (ROLLBACK, or ROLLBACK TO + RELEASE of the
 * checkpoint savepoint for STMT_ROLLBACK_TO) if a transaction is still
 * open, keeping the failure's message; returns `status`. */
int hyd_store_undo(hyd_store *st, enum hyd_store_stmt undo, int status);
/* A one-row query keyed by ?1 = key. HYD_STORE_OK: the row is ready in *q
 * (read it, then call hyd_store_row_done); HYD_STORE_ENOTFOUND: no row (no
 * message set, statement reset); anything else failed (message set). */
int hyd_store_row_by_key(hyd_store *st, enum hyd_store_stmt id, int64_t key,
                         const char *what, sqlite3_stmt **q);
/* Resets q and returns status, clearing the message when it is OK. */
int hyd_store_row_done(hyd_store *st, sqlite3_stmt *q, int status);
/* Refuses writes on a read-only handle. */
int hyd_store_check_writable(hyd_store *st, const char *what);

/* Grows the scratch buffers (contents not kept). */
int hyd_store_reserve_blob(hyd_store *st, size_t bytes);
int hyd_store_reserve_vals(hyd_store *st, size_t n);

/* float64 arrays <-> little-endian bytes (8 per value). */
void hyd_store_encode_doubles(unsigned char *out, const double *x, size_t n);
/* Non-zero where a double's memory bytes are its stored bytes (IEEE
 * little-endian): an array can then be bound as it is, without a copy. */
int hyd_store_host_is_little_endian(void);
void hyd_store_decode_doubles(double *out, const unsigned char *in, size_t n);
/* hyd_maid_checkpoint <-> HYD_STORE_STATE_BYTES bytes. */
void hyd_store_pack_checkpoint(unsigned char *out, const hyd_maid_checkpoint *cp);
void hyd_store_unpack_checkpoint(hyd_maid_checkpoint *cp, const unsigned char *in);

/* Replaces *p (borrowed, may be NULL) by an sqlite3_malloc'd copy; -1
 * (and *p NULL) when out of memory. */
int hyd_store_dup_string(char **p);

/* Binding helpers: NULL text binds NULL; a size_t as int64. */
int hyd_store_bind_text(sqlite3_stmt *stmt, int i, const char *text);
/* Column helpers: NULL reads as NaN / 0 / NULL. */
double hyd_store_column_double(sqlite3_stmt *stmt, int i);

/* Binds the 8 hyd_cost fields to parameters first .. first+7. */
int hyd_store_bind_cost(sqlite3_stmt *stmt, int first, const hyd_cost *c);
/* Reads 8 cost columns starting at `first`. */
void hyd_store_column_cost(sqlite3_stmt *stmt, int first, hyd_cost *c);

/* The number of a study (and its n_theta); HYD_STORE_ENOTFOUND if absent. */
int hyd_store_study_n_theta(hyd_store *st, int64_t study, size_t *n_theta);

#endif
