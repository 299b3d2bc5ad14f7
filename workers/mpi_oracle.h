/* workers/mpi_oracle.h: the inexact oracle (hyperd/oracle.h) spread over the
 * ranks of an MPI communicator (design/maid.md section 7, docs/parallel.md).
 *
 * Rank 0 runs MAID and hands hyd_mpi_oracle_as_oracle() to
 * hyd_maid_set_oracle; every other rank calls hyd_mpi_worker_serve, which
 * answers rank 0's requests until hyd_mpi_oracle_shutdown. Rank 0 computes
 * its own share of the samples too.
 *
 * Layout (the same on every rank):
 *   P <= m ranks for m samples: each sample has one owner, chosen by a
 *     longest-processing-time assignment on lower_dim (the cost estimate);
 *     equal sizes give sample i to rank i mod P. Later, rank 0 may move
 *     samples by measured work (hyd_mpi_oracle_set_balance); a sample's
 *     warm state moves with it.
 *   P > m: T = floor(P/m) ranks per sample (its "trial group", ranks
 *     i*T .. i*T+T-1, the first one the owner); the group solves up to T
 *     line-search trials of that sample at once, so max_trials = T. Ranks
 *     >= m*T have nothing to do.
 * Per-sample results are gathered to rank 0 in sample order and reduced
 * with hyd_eval_reduce / hyd_trial_reduce, so every number is bit-identical
 * to the serial oracle's for any P (the cost counters of a speculative
 * batch include the trials MAID did not need; see docs/parallel.md).
 *
 * Every request carries a status back: a failing callback on any rank makes
 * the call on rank 0 return that rank's status and message (the lowest
 * failing sample index wins, as in the serial loop); nothing aborts or hangs.
 * A failed MPI call gives HYD_MPI_ECOMM.
 *
 * Assumes a homogeneous cluster: structs of doubles travel as bytes. */
#ifndef HYPERD_WORKERS_MPI_ORACLE_H
#define HYPERD_WORKERS_MPI_ORACLE_H

#include <stddef.h>

#include <mpi.h>

#include <hyperd/oracle.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status of a failed MPI call (outside libhyperd's hyd_status range, which
 * is append-only and belongs to the library). */
#define HYD_MPI_ECOMM 100

/* hyd_strerror, plus the text of HYD_MPI_ECOMM; never NULL. */
const char *hyd_mpi_strerror(int status);

typedef struct hyd_mpi_oracle hyd_mpi_oracle;

/* Requests rank 0 sends; index into hyd_mpi_stats arrays. */
enum hyd_mpi_cmd {
  HYD_MPI_CMD_SHUTDOWN = 0,
  HYD_MPI_CMD_CONFIGURE,
  HYD_MPI_CMD_EVALUATE,
  HYD_MPI_CMD_TRIALS,
  HYD_MPI_CMD_ACCEPT,
  HYD_MPI_CMD_UPPER_NOW,
  HYD_MPI_CMD_SAVE_STATE,
  HYD_MPI_CMD_LOAD_STATE,
  HYD_MPI_CMD_REBALANCE,
  HYD_MPI_CMD_KEEP_STATE, /* each rank copies its warm states aside */
  HYD_MPI_CMD_SAVE_KEPT,  /* gathers those copies, as SAVE_STATE would */
  HYD_MPI_NCMD
};

/* How samples move between ranks during a run (P <= m only, and only with
 * the certified bound: the reference bound keeps estimator state that
 * hyd_sample_save_state does not carry, so its samples never move). */
enum hyd_mpi_balance {
  HYD_MPI_BALANCE_STATIC = 0,   /* the table of create, for the whole run */
  HYD_MPI_BALANCE_MEASURED = 1, /* default: before an evaluate, rebuild the
                                 * table from the measured work (iterations
                                 * x n_i, smoothed) when that lowers the
                                 * busiest rank's load by 10 % or more, at
                                 * most every 3 evaluations */
  HYD_MPI_BALANCE_ROTATE = 2    /* every sample moves to the next rank
                                 * before every evaluate: a test of the
                                 * migration, not for production */
};

/* Communication counters of this rank. Bytes are logical payload bytes
 * this rank sent to other ranks: a broadcast root counts the payload once
 * per receiver, a gather contributor its own part (the root's own part is
 * not counted). Summed over ranks (MPI_Reduce, MPI_SUM) they are the bytes
 * the job moved, whatever algorithm MPI uses underneath. */
/* Fixed parts of every request, for communication models: the header rank
 * 0 broadcasts (request, count, eps, delta as doubles) and the status
 * record every rank returns (status, sample, 256-byte message). */
#define HYD_MPI_HEADER_BYTES 32
#define HYD_MPI_STATUS_BYTES 272

typedef struct hyd_mpi_stats {
  double calls[HYD_MPI_NCMD];      /* requests served (every rank counts) */
  double bytes_sent[HYD_MPI_NCMD]; /* by request kind */
  double busy_seconds; /* in this rank's sample work (solves, products);
                        * the rest of a request is communication and
                        * waiting for the slowest rank */
} hyd_mpi_stats;

/* Collective over comm. Every rank passes the same problem table (same m,
 * p and lower_dim per sample; checked) and the same theta0 (used by
 * lower_start for the cold starts). `problem` is borrowed and must outlive
 * the oracle; theta0 is read during the call only; alloc is copied (NULL:
 * malloc). comm is duplicated, so the caller may use it freely. Returns the
 * same status on every rank (a failure anywhere fails everywhere). */
int hyd_mpi_oracle_create(hyd_mpi_oracle **out, const hyd_problem *problem,
                          const double *theta0, MPI_Comm comm,
                          const hyd_allocator *alloc);

/* Rank 0: the table MAID drives (hyd_maid_set_oracle). Borrowed: valid
 * until hyd_mpi_oracle_destroy. */
hyd_oracle hyd_mpi_oracle_as_oracle(hyd_mpi_oracle *o);

/* Ranks > 0: serves requests until rank 0 calls hyd_mpi_oracle_shutdown.
 * Returns HYD_OK after a shutdown, HYD_MPI_ECOMM if MPI failed (the
 * message is in hyd_mpi_oracle_errmsg), HYD_EINVAL on rank 0 or NULL.
 * Failures of the requests themselves are reported to rank 0, not here. */
int hyd_mpi_worker_serve(hyd_mpi_oracle *o);

/* Rank 0: tells every worker to return from hyd_mpi_worker_serve. Call it
 * also after a failed solve, or the workers wait for ever. */
int hyd_mpi_oracle_shutdown(hyd_mpi_oracle *o);

/* Collective (it frees communicators); accepts NULL. */
void hyd_mpi_oracle_destroy(hyd_mpi_oracle *o);

/* Text of the last failure on this rank, "" if none. */
const char *hyd_mpi_oracle_errmsg(const hyd_mpi_oracle *o);

/* Layout: trial group size T (1 when P <= m) and owner rank of sample i. */
size_t hyd_mpi_oracle_group_size(const hyd_mpi_oracle *o);
int hyd_mpi_oracle_owner(const hyd_mpi_oracle *o, size_t sample);

/* Rank 0: the balancing mode (enum hyd_mpi_balance). Moves never change
 * a number, only where it is computed. HYD_EINVAL on other ranks or for
 * an unknown mode. */
int hyd_mpi_oracle_set_balance(hyd_mpi_oracle *o, int mode);

/* Copies this rank's counters (see hyd_mpi_stats). */
void hyd_mpi_oracle_stats(const hyd_mpi_oracle *o, hyd_mpi_stats *out);

#ifdef __cplusplus
}
#endif
#endif
