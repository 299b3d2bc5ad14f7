/* workers/mpi_internal.h: what the MPI oracle's files share (not installed).
 * mpi_step.c: the collective step every request is made of (broadcasts,
 * the gather of status records and results); mpi_balance.c: the owner
 * table and moving samples between ranks; mpi_oracle.c: the requests, the
 * oracle table and the object's life cycle. */
#ifndef HYPERD_WORKERS_MPI_INTERNAL_H
#define HYPERD_WORKERS_MPI_INTERNAL_H

#include <stddef.h>

#include "mpi_oracle.h"

#define ERRMSG_SIZE 256

/* Per-sample results travel as flat arrays of doubles. */
_Static_assert(sizeof(hyd_sample_eval) % sizeof(double) == 0,
               "hyd_sample_eval must be made of doubles");
_Static_assert(sizeof(hyd_sample_trial) % sizeof(double) == 0,
               "hyd_sample_trial must be made of doubles");
#define EVAL_DOUBLES (sizeof(hyd_sample_eval) / sizeof(double))
#define TRIAL_DOUBLES (sizeof(hyd_sample_trial) / sizeof(double))

/* What each rank returns at the end of a step. A multiple of 8 bytes so
 * that the doubles after it stay aligned. */
typedef struct status_rec {
  double status;
  double sample; /* first failing sample on this rank (trials: k m + i for
                  * trial k of sample i); m when none (m T for trials) */
  char msg[ERRMSG_SIZE];
} status_rec;
#define REC_BYTES sizeof(status_rec)
_Static_assert(sizeof(status_rec) % sizeof(double) == 0, "alignment");
_Static_assert(sizeof(status_rec) == HYD_MPI_STATUS_BYTES, "header says so");
_Static_assert(4 * sizeof(double) == HYD_MPI_HEADER_BYTES, "header says so");

/* What each rank contributes to a gather, in doubles after its record. */
enum share_kind {
  SHARE_NONE,
  SHARE_EVAL,  /* per owned sample: hyd_sample_eval, then z_i (p) */
  SHARE_ONE,   /* per owned sample: one double (cross_max, g) */
  SHARE_TRIAL, /* per trial solved: hyd_sample_trial */
  SHARE_STATE  /* per owned sample: its warm state, 2 n_i + 1 */
};

/* One sample object on this rank: sample index and position in its trial
 * group (0: the owner, which evaluates; k > 0: a replica solving trial k). */
typedef struct entry {
  size_t sample, pos;
  hyd_sample *s;
} entry;

struct hyd_mpi_oracle {
  MPI_Comm comm;  /* our duplicate of the user's communicator */
  MPI_Comm group; /* this rank's trial group (T > 1), else MPI_COMM_NULL */
  int rank, size;
  const hyd_problem *prob;
  hyd_allocator alloc;
  hyd_oracle_config cfg;
  size_t m, p, T;
  size_t *dim;     /* m: n_i */
  size_t *state_off; /* m + 1: offsets of warm states in sample order */
  int *owner;      /* m: owning rank */
  size_t *by_owner; /* m: samples by owner, then index: the gather order */
  int *new_owner;  /* m: the table a rebalance moves to */
  size_t *order;   /* m: scratch of the assignment */
  double *load;    /* P: scratch of the assignment */
  size_t *next;    /* P: scratch of the gather order */
  double *cost;    /* m (rank 0): measured work per sample, for balancing */
  int have_cost, balance;
  long evals_since; /* evaluations since the last rebalance */
  double *theta0;  /* p: cold start of samples created by a rebalance */
  size_t send_cap; /* bytes in sendbuf */
  size_t *nprim;   /* P: samples each rank owns */
  size_t *nstate;  /* P: doubles of warm state each rank owns */
  int *counts, *displs; /* P: gather / scatter scratch */
  entry *ents;
  size_t n_ents;
  int stale;       /* replicas' points lag behind their owner's */
  size_t last_trials;
  unsigned char *sendbuf, *recvbuf;
  hyd_sample_eval *parts;   /* m (rank 0) */
  hyd_sample_trial *tparts; /* T x m (rank 0) */
  double *z_parts;          /* m x p (rank 0) */
  double *thetas;           /* T x p: broadcast trial points */
  double *zbuf;             /* 1 + p: go flag and z (reference bound) */
  double *xbuf;             /* 3 max n_i + 1: a point, then a state */
  double *kept;             /* this rank's warm states at the last keep, in
                             * the gather's order (nstate[rank] doubles) */
  size_t kept_cap;
  int kept_ok;              /* kept matches the owner table (a rebalance
                             * carries the copies along, or clears this on
                             * every rank when one cannot) */
  hyd_mpi_stats stats;
  char errmsg[ERRMSG_SIZE];
};

/* Every MPI return is checked; a failure becomes HYD_MPI_ECOMM with the
 * library's text, and the step ends on this rank. */
#define MPI_TRY(o, call)                                                      \
  do {                                                                        \
    int mpi_rc_ = hydw_mpi_check((o), (call), #call);                              \
    if (mpi_rc_ != HYD_OK)                                                    \
      return mpi_rc_;                                                         \
  } while (0)

typedef void (*put_fn)(hyd_mpi_oracle *o, size_t i, const unsigned char *src,
                       void *ctx);

/* ---- mpi_step.c ---- */
void *hydw_xalloc(const hyd_allocator *a, size_t count, size_t size);
void hydw_xfree(const hyd_allocator *a, void *ptr);
int hydw_set_error(char *buf, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int hydw_mpi_check(hyd_mpi_oracle *o, int rc, const char *what);
size_t hydw_max3(size_t x, size_t y, size_t z);
void hydw_rec_ok(const hyd_mpi_oracle *o, status_rec *st);
void hydw_rec_fail(status_rec *st, const hyd_sample *s, size_t i, int rc);
double *hydw_send_data(hyd_mpi_oracle *o);
size_t hydw_share_of(const hyd_mpi_oracle *o, int kind, int r, size_t n);
void hydw_count_bytes(hyd_mpi_oracle *o, int cmd, size_t bytes);
int hydw_bcast(hyd_mpi_oracle *o, int cmd, void *buf, size_t count,
               MPI_Datatype type, size_t elem, int root, MPI_Comm comm,
               int n_ranks);
int hydw_gather(hyd_mpi_oracle *o, int cmd, const status_rec *st, int kind,
                size_t n);
int hydw_collect_status(hyd_mpi_oracle *o);
const unsigned char *hydw_rank_data(const hyd_mpi_oracle *o, int r);
size_t hydw_record_len(const hyd_mpi_oracle *o, int kind, size_t i);
void hydw_for_each_owned(hyd_mpi_oracle *o, int kind, put_fn put, void *ctx);
int hydw_finish(hyd_mpi_oracle *o, int cmd, const status_rec *st, int kind,
                put_fn put, void *ctx);

/* ---- mpi_balance.c ---- */
void hydw_lpt_assign(hyd_mpi_oracle *o, const double *cost, int *owner);
double hydw_max_load(hyd_mpi_oracle *o, const double *cost, const int *owner);
void hydw_index_owners(hyd_mpi_oracle *o);
void hydw_measure_cost(hyd_mpi_oracle *o);
int hydw_want_rebalance(hyd_mpi_oracle *o);
int hydw_step_rebalance(hyd_mpi_oracle *o);

#endif
