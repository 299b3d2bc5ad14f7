/* daemon/session.h: one study being run by the coordinator: its file, its
 * problem, the solver and the store, and the loop that records every outer
 * iteration in one transaction. Used by run, resume and serve. */
#ifndef HYPERD_DAEMON_SESSION_H
#define HYPERD_DAEMON_SESSION_H

#include <stdint.h>

#include <hyperd/maid.h>

#include "problems.h"
#include "store/store.h"
#include "study.h"
#include "webhook.h"

typedef struct hyd_session {
  hyd_study_file study;
  hyd_built_problem built;
  hyd_maid *solver;
  hyd_store *store;
  int64_t study_id;
  int quiet;
  int no_report;   /* skip the final report (benchmarks) */
  double *theta_buf, *warm_buf;
  size_t warm_size;
  /* --webhook URL (borrowed); wins over the study's "webhook" key. */
  const char *webhook_url;
  hyd_webhook *webhook; /* open from begin to the end of the loop */
  double best_g;        /* least upper value so far, for "best" events */
  struct hyd_mpi_oracle *mpi; /* rank 0 of an MPI job: the oracle (job.c) */
  /* The last whole iteration's state is set aside (hyd_maid_keep) after
   * every iteration; kept_pending until it is in the database. */
  int kept_pending;
  double ckpt_written_at, ckpt_cost; /* monotonic seconds */
} hyd_session;

/* Builds the problem and the solver from a parsed study (options, theta0);
 * nothing is written anywhere. 0, or 2 / 1 with the message in err. */
int hyd_session_prepare(hyd_session *s, char *err, size_t errsz);
/* Parses a stored study (its study file text, and the folder it came
 * from, kept in options_json) and prepares it as hyd_session_prepare. */
int hyd_session_load_stored(hyd_session *s, const hyd_store_study *row,
                            char *err, size_t errsz);
/* The effective options as JSON text (malloc'ed), for the studies table. */
char *hyd_session_options_json(const hyd_session *s);
/* Sets the solver up with the store as its recorder; with `resume`
 * restores the study's checkpoint, else records the starting one. 0, or 1
 * with the study marked FAILED. */
int hyd_session_begin(hyd_session *s, int resume);
/* Runs the solver to its stop, recording every iteration; marks the study
 * COMPLETE, INTERRUPTED or FAILED. Returns the exit code (0 ok, 1 failed). */
int hyd_session_loop(hyd_session *s);
void hyd_session_close(hyd_session *s);
/* Posts a "failed" event for a study that could not even be prepared
 * (serve: its data vanished while it was queued), if it has a webhook. */
void hyd_session_notify_failed(hyd_session *s, const char *why);

/* SIGINT/SIGTERM ask the running solver to stop at its next safe point. */
void hyd_session_install_signals(void);
/* Non-zero once SIGINT or SIGTERM has arrived. */
int hyd_session_signalled(void);

#endif
