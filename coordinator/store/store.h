/* store/store.h: the SQLite trial store of the hyperd daemon.
 *
 * One writer (rank 0 of the daemon) records studies, every oracle
 * evaluation and line-search trial, every outer iteration and the latest
 * checkpoint; any number of read-only handles (the query commands) read
 * the same file while it runs. Schema: schema/NNN_name.sql, described in
 * docs/schema.md.
 *
 * Handles (SQLite / GSL habits):
 * - hyd_store_open always sets *out to a handle, even when it fails (unless
 *   even that allocation failed: then *out is NULL), so that
 *   hyd_store_errmsg(*out) can say why; close it in any case.
 *   hyd_store_close accepts NULL.
 * - Every fallible call returns a hyd_store_status; on failure
 *   hyd_store_errmsg says what went wrong (valid until the next call).
 * - A handle is used by one thread at a time.
 * - Strings and arrays passed in are copied (or written to the database)
 *   before the call returns; nothing is kept.
 *
 * Transactions: everything of one outer iteration goes into ONE transaction:
 *   hyd_store_begin_iteration(st, study, k)
 *     hyd_store_record_evaluation(...)   (every oracle call and trial)
 *     hyd_store_record_iteration(...)    (the iteration's end state)
 *     hyd_store_record_checkpoint(...)   (resume state)
 *     hyd_store_record_event(...)        (optional)
 *   hyd_store_commit_iteration(st)
 * A reader sees all of an iteration or none of it, and a crash (kill -9)
 * at any moment loses at most the iteration in progress. Calls outside an
 * iteration (create study, set status, events, checkpoints) commit one by
 * one. WAL mode with synchronous=NORMAL: a committed iteration survives a
 * crash of the process; HYD_STORE_DURABLE (synchronous=FULL) also makes it
 * survive a power loss, at the price of an fsync per commit. */
#ifndef HYPERD_STORE_STORE_H
#define HYPERD_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <hyperd/maid.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only: a released value never changes meaning. */
enum hyd_store_status {
  HYD_STORE_OK = 0,
  HYD_STORE_EINVAL = 1,     /* bad argument (NULL, wrong size, invalid JSON, constraint) */
  HYD_STORE_ENOMEM = 2,     /* an allocation failed */
  HYD_STORE_ENOTFOUND = 3,  /* no such study / checkpoint / data set */
  HYD_STORE_EEXIST = 4,     /* a study of that name exists already */
  HYD_STORE_ENOENT = 5,     /* read-only open of a file that does not exist */
  HYD_STORE_ENOTDB = 6,     /* not a SQLite database, or not a hyperd one */
  HYD_STORE_ETOONEW = 7,    /* schema newer than this binary knows: refused */
  HYD_STORE_ETOOOLD = 8,    /* read-only open of a schema that needs migrating */
  HYD_STORE_ESTATE = 9,     /* not allowed now (read-only handle, no iteration open, ...) */
  HYD_STORE_EBUSY = 10,     /* another writer held the lock past the busy timeout */
  HYD_STORE_EIO = 11        /* any other SQLite failure (disk full, I/O, corrupt) */
};

/* Static English text for a status; never NULL. */
const char *hyd_store_strerror(int status);

/* Open flags (bitwise or). */
enum {
  HYD_STORE_READWRITE = 0, /* create if missing, migrate to the latest schema */
  HYD_STORE_READONLY = 1,  /* never creates or modifies; works beside a writer */
  HYD_STORE_DURABLE = 2    /* synchronous=FULL: survive power loss, not only crashes */
};

/* The schema version this binary writes (PRAGMA user_version). */
int hyd_store_schema_version(void);

typedef struct hyd_store hyd_store;

/* Opens (read-write: creates and migrates) the database at `path`.
 * Refuses, without modifying the file: a file that is not a SQLite
 * database or is another application's (HYD_STORE_ENOTDB), a schema newer
 * than this binary (HYD_STORE_ETOONEW). Read-only: a missing file is
 * HYD_STORE_ENOENT, an empty or older schema HYD_STORE_ETOOOLD. */
int hyd_store_open(hyd_store **out, const char *path, int flags);
/* Closes; an iteration still open is rolled back. Accepts NULL. */
void hyd_store_close(hyd_store *st);
/* Why the last call failed; "" after success. Never NULL (also for a NULL
 * handle: "out of memory", the only way hyd_store_open leaves NULL). */
const char *hyd_store_errmsg(const hyd_store *st);
/* Milliseconds to wait for a lock before HYD_STORE_EBUSY (default 5000). */
int hyd_store_set_busy_timeout(hyd_store *st, int ms);

/* Frees memory the store handed out (hyd_store_get_dataset's url).
 * Accepts NULL. */
void hyd_store_free(void *p);

/* ---- studies ---- */

enum hyd_study_status {
  HYD_STUDY_QUEUED = 0,
  HYD_STUDY_RUNNING = 1,
  HYD_STUDY_COMPLETE = 2,
  HYD_STUDY_FAILED = 3,     /* retryable */
  HYD_STUDY_INTERRUPTED = 4 /* preempted, resumable from its checkpoint */
};
/* "QUEUED" ... as stored; NULL for an unknown value. */
const char *hyd_study_status_name(int status);
/* The value for a stored name; -1 if unknown. */
int hyd_study_status_parse(const char *name);

/* What a new study is made of (all copied). */
typedef struct hyd_store_study_spec {
  const char *name;                /* required, unique, 1..200 bytes */
  const char *problem;             /* required */
  const char *method;              /* required */
  const char *study_json;          /* required: the study file as given (JSON) */
  const char *options_json;        /* effective options (JSON); NULL: "{}" */
  const char *data_checksums_json; /* NULL: "{}" */
  uint64_t seed;                   /* stored as a signed 64-bit pattern */
  const char *host;                /* may be NULL */
  int ranks;                       /* 0: unknown (NULL) */
  size_t n_theta;                  /* hyperparameters per theta */
  int status;                      /* initial hyd_study_status (QUEUED, RUNNING) */
  int lower_nonconvex;             /* the problem's (hyd_problem.lower_nonconvex):
                                      1 stores bound 'not_certified' */
  long pid;                        /* status RUNNING: the process that runs it
                                      (its owner, with `host`); 0: none */
} hyd_store_study_spec;

/* A study row. From hyd_store_get_study / hyd_store_find_study the strings
 * are owned (free with hyd_store_study_clear); in a hyd_store_study_fn they
 * are borrowed for the duration of the call. NULL where the column is. */
typedef struct hyd_store_study {
  int64_t id;
  char *name, *problem, *method;
  int status;                      /* hyd_study_status */
  char *study_json, *options_json, *data_checksums_json;
  uint64_t seed;
  char *host;
  int ranks;                       /* 0 if unknown */
  char *created_at, *started_at, *finished_at;
  char *stop_reason, *error;
  int has_best;                    /* best_value / best_iteration set */
  double best_value;
  long best_iteration;
  size_t n_theta;
  long n_iterations;               /* rows in `iterations` */
  long n_evaluations;              /* rows in `evaluations` */
  int lower_nonconvex;             /* bound 'not_certified': omega and the
                                      sandwich are heuristics */
  char *owner_host;                /* the process that runs (or last ran) it */
  long owner_pid;                  /* 0 if none was recorded */
  char *heartbeat_at;              /* its last sign of life */
} hyd_store_study;

/* Frees the owned strings and zeroes the struct. Accepts NULL. */
void hyd_store_study_clear(hyd_store_study *s);

/* Inserts a study; *id gets its id. HYD_STORE_EEXIST on a duplicate name. */
int hyd_store_create_study(hyd_store *st, const hyd_store_study_spec *spec,
                           int64_t *id);
/* RUNNING sets started_at (first time only) and clears finished_at;
 * COMPLETE, FAILED and INTERRUPTED set finished_at. */
int hyd_store_set_status(hyd_store *st, int64_t study, int status);
/* Short stable name, e.g. hyd_stop_reason_name(); NULL clears it. */
int hyd_store_set_stop_reason(hyd_store *st, int64_t study, const char *reason);
/* Why a study failed; NULL clears it. */
int hyd_store_set_error(hyd_store *st, int64_t study, const char *message);
/* The daemon's verdict on the best point. */
int hyd_store_set_result(hyd_store *st, int64_t study, double best_value,
                         long best_iteration);

/* By id / by exact name; HYD_STORE_ENOTFOUND if absent. `out` is
 * overwritten (owned strings). */
int hyd_store_get_study(hyd_store *st, int64_t id, hyd_store_study *out);
int hyd_store_find_study(hyd_store *st, const char *name, hyd_store_study *out);
/* A name, or else a decimal id ("12"): a study named "12" wins over id 12. */
int hyd_store_lookup_study(hyd_store *st, const char *name_or_id,
                           hyd_store_study *out);

/* Who claims a study (hyd_store_claim_study). */
typedef struct hyd_store_owner {
  const char *host; /* this host's name (gethostname) */
  long pid;         /* this process */
  int take_over;    /* claim even from an owner that looks alive */
} hyd_store_owner;

/* A RUNNING study's owner on another host counts as gone once its last
 * heartbeat (written when it claimed the study and at every iteration's
 * commit) is older than this many seconds, or than twice the study's
 * longest iteration if that is longer. */
#define HYD_STORE_OWNER_TIMEOUT_S 600

/* Claims `study` for `me` and marks it RUNNING, in one transaction (the
 * status and owner are read again inside it). `from` is the set of
 * statuses it may be claimed from (bits 1 << hyd_study_status). A RUNNING
 * study is claimed only from `me` itself, from no owner (a database of an
 * older hyperd), or from an owner that is gone: on this host its process
 * does not exist any more, on another host its heartbeat is older than the
 * timeout above (me->take_over skips these checks). Otherwise
 * HYD_STORE_EBUSY, with a message naming the study and its owner's host
 * and process; HYD_STORE_ESTATE if its status is not in `from`;
 * HYD_STORE_ENOTFOUND if there is no such study. While this handle owns
 * the study, every committed iteration of it renews the heartbeat. */
int hyd_store_claim_study(hyd_store *st, int64_t study, const hyd_store_owner *me,
                          unsigned from);

/* Callbacks: return non-zero to stop early (the call then returns OK). */
typedef int (*hyd_store_study_fn)(const hyd_store_study *s, void *user);
/* Every study, by id. */
int hyd_store_list_studies(hyd_store *st, hyd_store_study_fn fn, void *user);
/* The oldest QUEUED study: *id, or HYD_STORE_ENOTFOUND when none. */
int hyd_store_next_queued(hyd_store *st, int64_t *id);

/* ---- one outer iteration, one transaction ---- */

/* Opens the transaction of iteration `iteration` of `study`: the value
 * hyd_maid_info.iter will have after it (iterations done, counting this
 * one), 0 for records made before the first iteration. Rows of this study
 * with iteration >= `iteration` (left by an abandoned attempt: a resume from
 * an older checkpoint) are deleted in the same transaction.
 * HYD_STORE_ESTATE if an iteration is open already. */
int hyd_store_begin_iteration(hyd_store *st, int64_t study, long iteration);
/* One oracle evaluation or line-search trial of the open iteration; seq
 * numbers count from 0 per iteration in call order. The row's iteration is
 * the open one (event->iter is not used, so the recorder's numbering cannot
 * disagree with the iteration rows). event->theta has the study's n_theta
 * values (NULL allowed only if n_theta is 0). fail_reason: NULL for a
 * normal record, else why the call failed. */
int hyd_store_record_evaluation(hyd_store *st, const hyd_maid_event *event,
                                const char *fail_reason);
/* The iteration's end state; info->iter must equal the open iteration.
 * theta: the study's n_theta values after the iteration. */
int hyd_store_record_iteration(hyd_store *st, const hyd_maid_info *info,
                               const double *theta);
/* Replaces the study's checkpoint (inside the open iteration if there is
 * one, else in a transaction of its own). theta: n_theta values (must match
 * the study); warm: n_warm values, or NULL / 0 when not saved. */
int hyd_store_record_checkpoint(hyd_store *st, int64_t study,
                                const hyd_maid_checkpoint *cp,
                                const double *theta, size_t n_theta,
                                const double *warm, size_t n_warm);
/* How a run of a study ends (hyd_store_finish_study). */
typedef struct hyd_store_finish {
  int status;                    /* COMPLETE or INTERRUPTED */
  const char *stop_reason;       /* short name; NULL leaves it as it is */
  const hyd_maid_checkpoint *cp; /* the final checkpoint; NULL keeps the
                                    stored one */
  const double *theta;           /* n_theta values (the study's) */
  size_t n_theta;
  const double *warm;            /* n_warm warm-start values, or NULL / 0:
                                    a COMPLETE study is never resumed, so
                                    it needs none */
  size_t n_warm;
  int event_level;               /* as hyd_store_record_event */
  const char *event_kind;        /* NULL: no event */
  const char *event_message;
} hyd_store_finish;
/* Ends a run of `study` in one transaction: its checkpoint, stop reason,
 * result (the best iteration, when there is one), an event and the status,
 * so that a crash leaves either the running study with its older
 * checkpoint or the finished one. Not while an iteration is open
 * (HYD_STORE_ESTATE). */
int hyd_store_finish_study(hyd_store *st, int64_t study,
                           const hyd_store_finish *f);
/* Copies the pages of the write-ahead log back into the database file
 * now (a PASSIVE WAL checkpoint: it never waits for readers, and copies
 * what they allow), with the fsyncs that takes. SQLite does this by itself
 * whenever a commit leaves the log over 1000 pages; calling it right after
 * writing megabytes of warm starts makes that cost fall where the caller
 * measures it. Not while an iteration is open (HYD_STORE_ESTATE). */
int hyd_store_wal_checkpoint(hyd_store *st);
/* Commits. If any write made while the iteration was open failed (a
 * record, a checkpoint, an event, a study update), rolls back instead and
 * returns that first failure, so an iteration is never half-written. The
 * iteration is closed either way. */
int hyd_store_commit_iteration(hyd_store *st);
/* Discards the open iteration. OK when none is open. */
int hyd_store_rollback_iteration(hyd_store *st);
/* A hyd_maid_recorder that records into the store passed as `user`
 * (hyd_maid_set_recorder(solver, hyd_store_maid_recorder, st)). The
 * recorder cannot fail: a failure is kept and returned by
 * hyd_store_commit_iteration. Begin the iteration before calling
 * hyd_maid_iterate: outside an open iteration there is no commit to report
 * to, and the record is dropped (HYD_STORE_ESTATE on the handle). */
void hyd_store_maid_recorder(const hyd_maid_event *event, void *user);

/* Log of notable things; study 0 for daemon-wide events; level 0 debug ..
 * 3 error (as hyd_logger); kind a short word ("start", "resume", ...). */
int hyd_store_record_event(hyd_store *st, int64_t study, int level,
                           const char *kind, const char *message);

/* ---- resume ---- */

/* Sizes of the study's checkpoint, to size the buffers of load. */
int hyd_store_checkpoint_info(hyd_store *st, int64_t study, long *iteration,
                              size_t *n_theta, size_t *n_warm);
/* Bit-exact copy of what record_checkpoint got. n_theta / n_warm must equal
 * the stored sizes (HYD_STORE_EINVAL otherwise); warm may be NULL to skip
 * the warm starts. HYD_STORE_ENOTFOUND without a checkpoint. */
int hyd_store_load_checkpoint(hyd_store *st, int64_t study,
                              hyd_maid_checkpoint *cp, double *theta,
                              size_t n_theta, double *warm, size_t n_warm);

/* ---- reading evaluations and iterations ---- */

/* Borrowed for the duration of a callback (theta included). Values that
 * are NULL in the database (not applicable, or NaN when recorded) read as
 * NaN. */
typedef struct hyd_store_evaluation {
  int64_t study_id;
  long iteration, seq;
  int kind;                   /* HYD_EVENT_EVALUATE or HYD_EVENT_TRIAL */
  const double *theta;
  size_t n_theta;
  double eps, delta, step, z_norm, omega, f_lo, f_hi, g;
  int accepted;
  hyd_cost cost;              /* of this call */
  double wall_seconds;
  int failed;
  const char *fail_reason;    /* NULL unless failed */
} hyd_store_evaluation;

typedef struct hyd_store_iteration {
  int64_t study_id;
  long iteration;
  const double *theta;
  size_t n_theta;
  double eps, delta, alpha, step, z_norm, omega, f_lo, f_hi, g;
  int accepted;               /* this iteration moved theta */
  long n_accepted;            /* accepted steps so far */
  hyd_cost cost;              /* cumulative */
  double wall_seconds;
  int certified;
} hyd_store_iteration;

typedef int (*hyd_store_evaluation_fn)(const hyd_store_evaluation *e, void *user);
typedef int (*hyd_store_iteration_fn)(const hyd_store_iteration *it, void *user);

/* In (iteration, seq) / iteration order. */
int hyd_store_foreach_evaluation(hyd_store *st, int64_t study,
                                 hyd_store_evaluation_fn fn, void *user);
int hyd_store_foreach_iteration(hyd_store *st, int64_t study,
                                hyd_store_iteration_fn fn, void *user);
/* The best iteration (view best_per_study: least g, earliest on ties).
 * out->theta is borrowed from the handle until its next call.
 * HYD_STORE_ENOTFOUND if the study has no iteration with a value. */
int hyd_store_best(hyd_store *st, int64_t study, hyd_store_iteration *out);

/* ---- data sets ---- */

/* Inserts or replaces; sha256 is 64 lower-case hex digits; url may be NULL. */
int hyd_store_put_dataset(hyd_store *st, const char *name, const char *url,
                          const char *sha256);
/* sha256 gets 65 bytes (NUL-terminated); url (may be NULL) gets an owned
 * copy, or NULL where none is stored: free it with hyd_store_free. */
int hyd_store_get_dataset(hyd_store *st, const char *name, char **url,
                          char sha256[65]);

#ifdef __cplusplus
}
#endif
#endif
