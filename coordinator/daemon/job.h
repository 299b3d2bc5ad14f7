/* daemon/job.h: one hyperd command spread over the ranks of an MPI job.
 *
 * Rank 0 runs the command (reads the study, writes the database, drives
 * MAID); for every study it runs it sends the study text to the other
 * ranks, which build the same problem and serve their samples through the
 * MPI oracle (workers/mpi_oracle.h). With one process nothing is sent and
 * the serial oracle is used: same numbers either way. */
#ifndef HYPERD_DAEMON_JOB_H
#define HYPERD_DAEMON_JOB_H

#include "session.h"

/* MPI_Init (works without mpirun). 0 on success. */
int hyd_job_init(int *argc, char ***argv);
void hyd_job_finalize(void);
int hyd_job_rank(void);
int hyd_job_size(void);

/* Rank 0, once s is prepared (problem and solver, not set up): sends the
 * study to the workers, checks that every rank built it, and installs the
 * MPI oracle on s->solver. 0, or 1 with the reason in err. */
int hyd_job_start(hyd_session *s, char *err, size_t errsz);
/* Rank 0, after the study: releases the workers' side of it. */
void hyd_job_stop(hyd_session *s);
/* Rank 0, at the end of the command: the workers return. */
void hyd_job_quit(void);
/* Ranks > 0: serve studies until rank 0 quits; returns the exit code. */
int hyd_job_worker(void);

#endif
