/* The MPI oracle: the serial oracle's loop over samples, spread over the
 * ranks of a communicator (workers/mpi_oracle.h, docs/parallel.md).
 *
 * Every request is one "step" that all ranks run in lock step: rank 0
 * broadcasts a header (request, count, eps, delta) and the request's
 * payload, each rank works on its own samples, and one MPI_Gatherv brings
 * every rank's status record and results back to rank 0. The status record
 * travels whether or not the rank failed, so a failure never leaves a rank
 * waiting in a collective the others skipped. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  hyd_mpi_stats stats;
  char errmsg[ERRMSG_SIZE];
};

/* ---- small helpers ---- */

static void *xalloc(const hyd_allocator *a, size_t count, size_t size)
{
  if (count == 0)
    count = 1; /* a valid pointer even for empty shares */
  if (size != 0 && count > SIZE_MAX / size)
    return NULL;
  return a->alloc(a->user, count * size);
}

static void xfree(const hyd_allocator *a, void *ptr)
{
  if (ptr)
    a->release(a->user, ptr);
}

static void *std_alloc(void *user, size_t size)
{
  (void)user;
  return malloc(size);
}

static void std_release(void *user, void *ptr)
{
  (void)user;
  free(ptr);
}

static int set_error(char *buf, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int set_error(char *buf, int status, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, ERRMSG_SIZE, fmt, ap);
  va_end(ap);
  return status;
}

/* Every MPI return is checked; a failure becomes HYD_MPI_ECOMM with the
 * library's text, and the step ends on this rank. */
static int mpi_check(hyd_mpi_oracle *o, int rc, const char *what)
{
  if (rc == MPI_SUCCESS)
    return HYD_OK;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
    snprintf(text, sizeof text, "error %d", rc);
  return set_error(o->errmsg, HYD_MPI_ECOMM, "rank %d: %s failed: %s",
                   o->rank, what, text);
}

#define MPI_TRY(o, call)                                                      \
  do {                                                                        \
    int mpi_rc_ = mpi_check((o), (call), #call);                              \
    if (mpi_rc_ != HYD_OK)                                                    \
      return mpi_rc_;                                                         \
  } while (0)

static void rec_ok(const hyd_mpi_oracle *o, status_rec *st)
{
  memset(st, 0, sizeof *st);
  st->status = HYD_OK;
  st->sample = (double)(o->m * o->T);
}

/* Records sample i's failure with the text the serial oracle would show. */
static void rec_fail(status_rec *st, const hyd_sample *s, size_t i, int rc)
{
  st->status = rc;
  st->sample = (double)i;
  const char *msg = s ? hyd_sample_errmsg(s) : "";
  if (msg[0] != '\0')
    snprintf(st->msg, sizeof st->msg, "%s", msg);
  else
    snprintf(st->msg, sizeof st->msg, "sample %zu: %s", i, hyd_strerror(rc));
}

static double *send_data(hyd_mpi_oracle *o)
{
  return (double *)(void *)(o->sendbuf + REC_BYTES);
}

/* Doubles rank r contributes to a gather of `kind` (n: trials solved). */
static size_t share_of(const hyd_mpi_oracle *o, int kind, int r, size_t n)
{
  size_t ru = (size_t)r;
  switch (kind) {
  case SHARE_EVAL: return o->nprim[ru] * (EVAL_DOUBLES + o->p);
  case SHARE_ONE: return o->nprim[ru];
  case SHARE_STATE: return o->nstate[ru];
  case SHARE_TRIAL:
    if (o->T == 1)
      return o->nprim[ru] * TRIAL_DOUBLES;
    return (ru < o->m * o->T && ru % o->T < n) ? TRIAL_DOUBLES : 0;
  default: return 0;
  }
}

static void count_bytes(hyd_mpi_oracle *o, int cmd, size_t bytes)
{
  o->stats.bytes_sent[cmd] += (double)bytes;
}

/* Broadcast from rank `root` of `comm` (size `n_ranks`); counts the
 * payload once per receiver on the root. */
static int bcast(hyd_mpi_oracle *o, int cmd, void *buf, size_t count,
                 MPI_Datatype type, size_t elem, int root, MPI_Comm comm,
                 int n_ranks)
{
  int me = 0;
  MPI_TRY(o, MPI_Comm_rank(comm, &me));
  MPI_TRY(o, MPI_Bcast(buf, (int)count, type, root, comm));
  if (me == root)
    count_bytes(o, cmd, count * elem * (size_t)(n_ranks - 1));
  return HYD_OK;
}

/* The end of every step: each rank sends its record and `nd` doubles
 * (already in send_data); rank 0 receives them per rank at displs[r]. */
static int gather(hyd_mpi_oracle *o, int cmd, const status_rec *st, int kind,
                  size_t n)
{
  memcpy(o->sendbuf, st, REC_BYTES);
  size_t mine = REC_BYTES + share_of(o, kind, o->rank, n) * sizeof(double);
  if (o->rank == 0) {
    size_t off = 0;
    for (int r = 0; r < o->size; r++) {
      o->counts[r] =
          (int)(REC_BYTES + share_of(o, kind, r, n) * sizeof(double));
      o->displs[r] = (int)off;
      off += (size_t)o->counts[r];
    }
  } else {
    count_bytes(o, cmd, mine);
  }
  MPI_TRY(o, MPI_Gatherv(o->sendbuf, (int)mine, MPI_BYTE, o->recvbuf,
                         o->counts, o->displs, MPI_BYTE, 0, o->comm));
  return HYD_OK;
}

/* Rank 0: the failure with the lowest sample index, as the serial loop
 * would have met it first. */
static int collect_status(hyd_mpi_oracle *o)
{
  status_rec best, st;
  rec_ok(o, &best);
  for (int r = 0; r < o->size; r++) {
    memcpy(&st, o->recvbuf + o->displs[r], REC_BYTES);
    if (st.status != HYD_OK && (best.status == HYD_OK || st.sample < best.sample))
      best = st;
  }
  if (best.status == HYD_OK)
    return HYD_OK;
  best.msg[sizeof best.msg - 1] = '\0';
  return set_error(o->errmsg, (int)best.status, "%s", best.msg);
}

/* Rank 0: start of rank r's doubles in the last gather. */
static const unsigned char *rank_data(const hyd_mpi_oracle *o, int r)
{
  return o->recvbuf + o->displs[r] + REC_BYTES;
}

/* Length in doubles of sample i's record in a gather of `kind`. */
static size_t record_len(const hyd_mpi_oracle *o, int kind, size_t i)
{
  switch (kind) {
  case SHARE_EVAL: return EVAL_DOUBLES + o->p;
  case SHARE_ONE: return 1;
  case SHARE_TRIAL: return TRIAL_DOUBLES;
  case SHARE_STATE: return 2 * o->dim[i] + 1;
  default: return 0;
  }
}

typedef void (*put_fn)(hyd_mpi_oracle *o, size_t i, const unsigned char *src,
                       void *ctx);

/* Rank 0, after a gather of per-owned-sample records: each rank sent its
 * samples in index order, so walking the blocks rank by rank finds every
 * sample's record; put() files it under its sample index. */
static void for_each_owned(hyd_mpi_oracle *o, int kind, put_fn put, void *ctx)
{
  const size_t *i = o->by_owner;
  for (int r = 0; r < o->size; r++) {
    const unsigned char *src = rank_data(o, r);
    for (size_t c = 0; c < o->nprim[r]; c++, i++) {
      put(o, *i, src, ctx);
      src += record_len(o, kind, *i) * sizeof(double);
    }
  }
}

static void put_eval(hyd_mpi_oracle *o, size_t i, const unsigned char *src,
                     void *ctx)
{
  (void)ctx;
  memcpy(&o->parts[i], src, sizeof(hyd_sample_eval));
  memcpy(o->z_parts + i * o->p, src + sizeof(hyd_sample_eval),
         o->p * sizeof(double));
}

static void put_cross(hyd_mpi_oracle *o, size_t i, const unsigned char *src,
                      void *ctx)
{
  (void)ctx;
  memcpy(&o->parts[i].cross_max, src, sizeof(double));
}

static void put_trial(hyd_mpi_oracle *o, size_t i, const unsigned char *src,
                      void *ctx)
{
  (void)ctx;
  memcpy(&o->tparts[i], src, sizeof(hyd_sample_trial));
}

/* ctx: m doubles, one per sample. */
static void put_one(hyd_mpi_oracle *o, size_t i, const unsigned char *src,
                    void *ctx)
{
  (void)o;
  memcpy((double *)ctx + i, src, sizeof(double));
}

/* ctx: the checkpoint buffer, states in sample order. */
static void put_state(hyd_mpi_oracle *o, size_t i, const unsigned char *src,
                      void *ctx)
{
  memcpy((double *)ctx + o->state_off[i], src,
         record_len(o, SHARE_STATE, i) * sizeof(double));
}

/* ---- steps (run by every rank) ---- */

typedef int (*work_fn)(hyd_mpi_oracle *o, entry *en, double *dst, void *ctx);

/* Runs work() on each sample this rank owns, in index order, each writing
 * (or reading) its record of `kind` at dst. After the first failure the
 * remaining samples are skipped (the serial loop stops there too) and their
 * records zeroed, so that defined bytes go on the wire. */
static void run_owned(hyd_mpi_oracle *o, int kind, double *dst,
                      status_rec *st, work_fn work, void *ctx)
{
  double t0 = MPI_Wtime();
  for (size_t e = 0; e < o->n_ents; e++) {
    entry *en = &o->ents[e];
    if (en->pos != 0)
      continue;
    size_t len = record_len(o, kind, en->sample);
    if (st->status == HYD_OK) {
      int r = work(o, en, dst, ctx);
      if (r != HYD_OK)
        rec_fail(st, en->s, en->sample, r);
    }
    if (st->status != HYD_OK)
      memset(dst, 0, len * sizeof(double));
    dst += len;
  }
  o->stats.busy_seconds += MPI_Wtime() - t0;
}

typedef struct accuracies {
  double eps, delta;
} accuracies;

static int work_eval(hyd_mpi_oracle *o, entry *en, double *dst, void *ctx)
{
  const accuracies *acc = ctx;
  hyd_sample_eval part;
  int rc = hyd_sample_evaluate(en->s, &o->cfg, o->thetas, acc->eps,
                               acc->delta, &part, dst + EVAL_DOUBLES);
  memcpy(dst, &part, sizeof part);
  return rc;
}

static int work_cross(hyd_mpi_oracle *o, entry *en, double *dst, void *ctx)
{
  (void)ctx;
  hyd_sample_eval part;
  part.cross_max = 0.0;
  int rc = hyd_sample_cross_max(en->s, o->thetas, o->zbuf + 1, &part);
  dst[0] = part.cross_max;
  return rc;
}

static int work_upper(hyd_mpi_oracle *o, entry *en, double *dst, void *ctx)
{
  (void)o;
  (void)ctx;
  return hyd_sample_upper_now(en->s, dst);
}

static int work_save(hyd_mpi_oracle *o, entry *en, double *dst, void *ctx)
{
  (void)o;
  (void)ctx;
  hyd_sample_save_state(en->s, dst);
  return HYD_OK;
}

static int work_load(hyd_mpi_oracle *o, entry *en, double *dst, void *ctx)
{
  (void)o;
  (void)ctx;
  return hyd_sample_load_state(en->s, dst);
}

/* The common tail: gather, and on rank 0 the status and each sample's
 * record filed by put (NULL: status only). Workers return HYD_OK unless
 * MPI failed. */
static int finish(hyd_mpi_oracle *o, int cmd, const status_rec *st, int kind,
                  put_fn put, void *ctx)
{
  int rc = gather(o, cmd, st, kind, 0);
  if (rc != HYD_OK || o->rank != 0)
    return rc;
  if ((rc = collect_status(o)) != HYD_OK)
    return rc;
  if (put)
    for_each_owned(o, kind, put, ctx);
  return HYD_OK;
}

/* ---- balancing ---- */

static size_t max3(size_t x, size_t y, size_t z)
{
  size_t w = x > y ? x : y;
  return w > z ? w : z;
}


static void lpt_assign(hyd_mpi_oracle *o, const double *cost, int *owner);
static double max_load(hyd_mpi_oracle *o, const double *cost, const int *owner);
static void index_owners(hyd_mpi_oracle *o);

/* Rank 0, after each evaluate: the work each sample just took, in lower-
 * level and CG iterations times n_i, averaged with the earlier estimate.
 * Iteration counts, unlike wall time, are the same in every run, so the
 * same run always makes the same moves. */
static void measure_cost(hyd_mpi_oracle *o)
{
  for (size_t i = 0; i < o->m; i++) {
    double w = (double)o->dim[i] *
               (o->parts[i].lower_iters + o->parts[i].cg_iters);
    o->cost[i] = o->have_cost ? 0.5 * (o->cost[i] + w) : w;
  }
  o->have_cost = 1;
  o->evals_since++;
}

/* Rank 0: fills new_owner and says whether moving there is worth it. */
static int want_rebalance(hyd_mpi_oracle *o)
{
  if (o->T > 1 || o->size == 1 || o->cfg.bound != HYD_BOUND_CERTIFIED)
    return 0;
  if (o->balance == HYD_MPI_BALANCE_ROTATE) {
    for (size_t i = 0; i < o->m; i++)
      o->new_owner[i] = (o->owner[i] + 1) % o->size;
    return 1;
  }
  if (o->balance != HYD_MPI_BALANCE_MEASURED || !o->have_cost ||
      o->evals_since < 3)
    return 0;
  lpt_assign(o, o->cost, o->new_owner);
  return max_load(o, o->cost, o->new_owner) <
         0.9 * max_load(o, o->cost, o->owner);
}

/* This rank's sample object of sample i in the current table (NULL if it
 * has none). */
static hyd_sample *find_sample(const hyd_mpi_oracle *o, size_t i)
{
  for (size_t e = 0; e < o->n_ents; e++)
    if (o->ents[e].sample == i)
      return o->ents[e].s;
  return NULL;
}

/* What a rebalance needs on this rank, allocated before anything moves so
 * that a failure anywhere leaves every rank on the old table. */
typedef struct move_plan {
  entry *ents;        /* the new entry table */
  size_t n_ents;
  double *buf;        /* states of the samples that leave or arrive */
  MPI_Request *req;
  size_t n_req;
  unsigned char *sendbuf; /* a larger send buffer, if the new share needs it */
  size_t send_cap;
} move_plan;

static void plan_free(hyd_mpi_oracle *o, move_plan *mp, int drop_new)
{
  const hyd_allocator *a = &o->alloc;
  if (mp->ents && drop_new) /* samples created for the plan only */
    for (size_t e = 0; e < mp->n_ents; e++)
      if (o->owner[mp->ents[e].sample] != o->rank)
        hyd_sample_destroy(mp->ents[e].s);
  xfree(a, mp->ents);
  xfree(a, mp->buf);
  xfree(a, mp->req);
  xfree(a, mp->sendbuf);
  memset(mp, 0, sizeof *mp);
}

static int plan_moves(hyd_mpi_oracle *o, move_plan *mp)
{
  const hyd_allocator *a = &o->alloc;
  int me = o->rank;
  size_t n_new = 0, len = 0, n_req = 0, share_state = 0;
  memset(mp, 0, sizeof *mp);
  for (size_t i = 0; i < o->m; i++) {
    if (o->new_owner[i] == me) {
      n_new++;
      share_state += 2 * o->dim[i] + 1;
    }
    if (o->owner[i] != o->new_owner[i] &&
        (o->owner[i] == me || o->new_owner[i] == me)) {
      len += 2 * o->dim[i] + 1;
      n_req++;
    }
  }
  size_t need = REC_BYTES + sizeof(double) *
                                max3(n_new * (EVAL_DOUBLES + o->p),
                                     n_new * TRIAL_DOUBLES, share_state);
  mp->ents = xalloc(a, n_new, sizeof *mp->ents);
  mp->buf = xalloc(a, len, sizeof(double));
  mp->req = xalloc(a, n_req, sizeof *mp->req);
  if (need > o->send_cap) {
    mp->sendbuf = xalloc(a, need, 1);
    mp->send_cap = need;
  }
  if (!mp->ents || !mp->buf || !mp->req || (need > o->send_cap && !mp->sendbuf))
    return HYD_ENOMEM;
  memset(mp->ents, 0, n_new * sizeof *mp->ents);
  for (size_t i = 0; i < o->m; i++) {
    if (o->new_owner[i] != me)
      continue;
    entry *en = &mp->ents[mp->n_ents++];
    en->sample = i;
    en->pos = 0;
    if (o->owner[i] == me) {
      en->s = find_sample(o, i);
    } else {
      /* A cold sample; the state that arrives replaces its point and
       * adjoint, the only state the certified bound uses. */
      int rc = hyd_sample_create(&en->s, o->prob, i, o->theta0, 1, a);
      if (rc != HYD_OK)
        return rc;
    }
  }
  return HYD_OK;
}

/* Old owners send each moving sample's warm state, new owners receive it;
 * both walk the samples in index order, so the messages between two ranks
 * match in order. */
static int transfer(hyd_mpi_oracle *o, move_plan *mp)
{
  int me = o->rank;
  size_t off = 0;
  for (size_t i = 0; i < o->m; i++) {
    int from = o->owner[i], to = o->new_owner[i];
    if (from == to || (from != me && to != me))
      continue;
    int len = (int)(2 * o->dim[i] + 1);
    if (from == me) {
      hyd_sample_save_state(find_sample(o, i), mp->buf + off);
      MPI_TRY(o, MPI_Isend(mp->buf + off, len, MPI_DOUBLE, to, 0, o->comm,
                           &mp->req[mp->n_req++]));
      count_bytes(o, HYD_MPI_CMD_REBALANCE, (size_t)len * sizeof(double));
    } else {
      MPI_TRY(o, MPI_Irecv(mp->buf + off, len, MPI_DOUBLE, from, 0, o->comm,
                           &mp->req[mp->n_req++]));
    }
    off += (size_t)len;
  }
  MPI_TRY(o, MPI_Waitall((int)mp->n_req, mp->req, MPI_STATUSES_IGNORE));
  return HYD_OK;
}

/* Installs the new table: arrived states loaded, departed samples freed. */
static int commit_moves(hyd_mpi_oracle *o, move_plan *mp)
{
  int me = o->rank, status = HYD_OK;
  size_t off = 0;
  for (size_t i = 0; i < o->m; i++) {
    int from = o->owner[i], to = o->new_owner[i];
    if (from == to || (from != me && to != me))
      continue;
    if (to == me) {
      for (size_t e = 0; e < mp->n_ents; e++)
        if (mp->ents[e].sample == i && status == HYD_OK)
          status = hyd_sample_load_state(mp->ents[e].s, mp->buf + off);
    } else {
      hyd_sample_destroy(find_sample(o, i));
    }
    off += 2 * o->dim[i] + 1;
  }
  xfree(&o->alloc, o->ents);
  o->ents = mp->ents;
  o->n_ents = mp->n_ents;
  mp->ents = NULL;
  if (mp->sendbuf) {
    xfree(&o->alloc, o->sendbuf);
    o->sendbuf = mp->sendbuf;
    o->send_cap = mp->send_cap;
    mp->sendbuf = NULL;
  }
  memcpy(o->owner, o->new_owner, o->m * sizeof *o->owner);
  index_owners(o);
  return status;
}

static int step_rebalance(hyd_mpi_oracle *o)
{
  int rc = bcast(o, HYD_MPI_CMD_REBALANCE, o->new_owner, o->m, MPI_INT,
                 sizeof(int), 0, o->comm, o->size);
  if (rc != HYD_OK)
    return rc;
  o->evals_since = 0;
  move_plan mp;
  int local = plan_moves(o, &mp), worst = HYD_OK;
  MPI_TRY(o, MPI_Allreduce(&local, &worst, 1, MPI_INT, MPI_MAX, o->comm));
  if (worst != HYD_OK) { /* balancing is an optimisation: stay put */
    plan_free(o, &mp, 1);
    return HYD_OK;
  }
  rc = transfer(o, &mp);
  if (rc != HYD_OK) {
    plan_free(o, &mp, 1);
    return rc;
  }
  status_rec st;
  rec_ok(o, &st);
  rc = commit_moves(o, &mp);
  if (rc != HYD_OK) {
    st.status = rc;
    snprintf(st.msg, sizeof st.msg, "rank %d: a moved warm state is not "
             "finite", o->rank);
  }
  plan_free(o, &mp, 0);
  return finish(o, HYD_MPI_CMD_REBALANCE, &st, SHARE_NONE, NULL, NULL);
}

static int step_configure(hyd_mpi_oracle *o)
{
  int rc = bcast(o, HYD_MPI_CMD_CONFIGURE, &o->cfg, sizeof o->cfg, MPI_BYTE, 1,
                 0, o->comm, o->size);
  if (rc != HYD_OK)
    return rc;
  status_rec st;
  rec_ok(o, &st);
  if ((rc = gather(o, HYD_MPI_CMD_CONFIGURE, &st, SHARE_NONE, 0)) != HYD_OK)
    return rc;
  return o->rank == 0 ? collect_status(o) : HYD_OK;
}

/* Reference bound, second pass: z goes back to the owners, each returns
 * max_j |(B_i z)_j|. `go` = 0 tells the workers that rank 0 gave up. */
static int step_cross_max(hyd_mpi_oracle *o, int go, double eps, double delta,
                          hyd_eval *out)
{
  if (o->rank == 0) {
    o->zbuf[0] = go;
    if (go)
      memcpy(o->zbuf + 1, out->z, o->p * sizeof(double));
  }
  int rc = bcast(o, HYD_MPI_CMD_EVALUATE, o->zbuf, 1 + o->p, MPI_DOUBLE,
                 sizeof(double), 0, o->comm, o->size);
  if (rc != HYD_OK || o->zbuf[0] == 0.0)
    return rc;
  status_rec st;
  rec_ok(o, &st);
  run_owned(o, SHARE_ONE, send_data(o), &st, work_cross, NULL);
  rc = finish(o, HYD_MPI_CMD_EVALUATE, &st, SHARE_ONE, put_cross, NULL);
  if (rc == HYD_OK && o->rank == 0)
    hyd_eval_reduce(&o->cfg, o->m, o->p, o->parts, o->z_parts, eps, delta,
                    out);
  return rc;
}

static int step_evaluate(hyd_mpi_oracle *o, double eps, double delta,
                         hyd_eval *out)
{
  int rc = bcast(o, HYD_MPI_CMD_EVALUATE, o->thetas, o->p, MPI_DOUBLE,
                 sizeof(double), 0, o->comm, o->size);
  if (rc != HYD_OK)
    return rc;
  status_rec st;
  rec_ok(o, &st);
  accuracies acc = {eps, delta};
  run_owned(o, SHARE_EVAL, send_data(o), &st, work_eval, &acc);
  o->stale = 1; /* owners moved; replicas catch up before the next trials */
  int status = finish(o, HYD_MPI_CMD_EVALUATE, &st, SHARE_EVAL, put_eval, NULL);
  if (status == HYD_MPI_ECOMM)
    return status;
  if (status == HYD_OK && o->rank == 0) {
    hyd_eval_reduce(&o->cfg, o->m, o->p, o->parts, o->z_parts, eps, delta,
                    out);
    measure_cost(o);
  }
  if (o->cfg.bound != HYD_BOUND_REFERENCE)
    return status;
  /* The reference's bound needs z first: a second pass over the owners,
   * which every rank enters (told by rank 0 whether to go on). */
  rc = step_cross_max(o, status == HYD_OK, eps, delta, out);
  return status != HYD_OK && rc != HYD_MPI_ECOMM ? status : rc;
}

/* Gives every replica its owner's current point (trials start from it). */
static int sync_replicas(hyd_mpi_oracle *o, int cmd, size_t n_trials)
{
  /* With one trial point only owners work, and replicas may stay behind
   * (the reference profile never asks for more). */
  if (o->T == 1 || !o->stale || n_trials < 2)
    return HYD_OK;
  o->stale = 0;
  if (o->group == MPI_COMM_NULL)
    return HYD_OK;
  entry *en = &o->ents[0];
  size_t n = o->dim[en->sample];
  if (en->pos == 0)
    memcpy(o->xbuf, hyd_sample_point(en->s), n * sizeof(double));
  int rc = bcast(o, cmd, o->xbuf, n, MPI_DOUBLE, sizeof(double), 0, o->group,
                 (int)o->T);
  if (rc != HYD_OK)
    return rc;
  /* A replica never evaluates, so forgetting its adjoint costs nothing. */
  return en->pos == 0 ? HYD_OK : hyd_sample_set_point(en->s, o->xbuf);
}

static int step_trials(hyd_mpi_oracle *o, size_t n, double eps, hyd_trial *out)
{
  int rc = bcast(o, HYD_MPI_CMD_TRIALS, o->thetas, n * o->p, MPI_DOUBLE,
                 sizeof(double), 0, o->comm, o->size);
  if (rc != HYD_OK)
    return rc;
  status_rec st;
  rec_ok(o, &st);
  rc = sync_replicas(o, HYD_MPI_CMD_TRIALS, n);
  if (rc == HYD_MPI_ECOMM)
    return rc;
  if (rc != HYD_OK)
    rec_fail(&st, NULL, o->ents[0].sample, rc);
  double *data = send_data(o);
  size_t c = 0;
  double t0 = MPI_Wtime();
  for (size_t e = 0; e < o->n_ents; e++) {
    entry *en = &o->ents[e];
    if (en->pos >= n)
      continue;
    hyd_sample_trial part;
    memset(&part, 0, sizeof part);
    if (st.status == HYD_OK) {
      int r = hyd_sample_solve_trial(en->s, &o->cfg, o->thetas + en->pos * o->p,
                                     eps, en->pos, &part);
      if (r != HYD_OK) {
        rec_fail(&st, en->s, en->sample, r);
        /* Report the failure the serial search meets first: trial by
         * trial, sample by sample. */
        st.sample = (double)(en->pos * o->m + en->sample);
      }
    }
    memcpy(data + c * TRIAL_DOUBLES, &part, sizeof part);
    c++;
  }
  o->stats.busy_seconds += MPI_Wtime() - t0;
  o->last_trials = n;
  if ((rc = gather(o, HYD_MPI_CMD_TRIALS, &st, SHARE_TRIAL, n)) != HYD_OK)
    return rc;
  if (o->rank != 0)
    return HYD_OK;
  if ((rc = collect_status(o)) != HYD_OK)
    return rc;
  if (o->T == 1)
    for_each_owned(o, SHARE_TRIAL, put_trial, NULL);
  else /* rank i*T + k solved trial k of sample i */
    for (int r = 0; (size_t)r < o->m * o->T; r++)
      if ((size_t)r % o->T < n)
        memcpy(&o->tparts[((size_t)r % o->T) * o->m + (size_t)r / o->T],
               rank_data(o, r), sizeof(hyd_sample_trial));
  for (size_t k = 0; k < n; k++)
    hyd_trial_reduce(o->m, o->tparts + k * o->m, &out[k]);
  return HYD_OK;
}

/* Makes the owner's point x without touching its adjoint warm start, as
 * hyd_sample_accept does in the serial oracle (hyd_sample_set_point would
 * forget the adjoint and change the next CG solve). */
static int install_point(hyd_mpi_oracle *o, hyd_sample *s, const double *x)
{
  size_t n = hyd_sample_dim(s);
  /* xbuf holds 3 max n_i + 1 doubles: the point, then the (point, adjoint,
   * flag) state that hyd_sample_save_state writes. */
  double *state = o->xbuf + n;
  hyd_sample_save_state(s, state);
  memmove(state, x, n * sizeof(double));
  return hyd_sample_load_state(s, state);
}

static int step_accept(hyd_mpi_oracle *o, size_t k)
{
  status_rec st;
  rec_ok(o, &st);
  int rc = HYD_OK;
  if (k == 0) {
    /* The owners solved trial 0: nothing moves. Replicas fall behind and
     * catch up before the next batch of trials. */
    for (size_t e = 0; e < o->n_ents && st.status == HYD_OK; e++) {
      if (o->ents[e].pos != 0)
        continue;
      int r = hyd_sample_accept(o->ents[e].s, 0);
      if (r != HYD_OK)
        rec_fail(&st, o->ents[e].s, o->ents[e].sample, r);
    }
    o->stale = 1;
  } else if (o->group != MPI_COMM_NULL) {
    /* The group member that solved trial k holds the winner: it becomes
     * that member's point and is broadcast to the others. */
    entry *en = &o->ents[0];
    size_t n = o->dim[en->sample];
    if (en->pos == k) {
      int r = hyd_sample_accept(en->s, k);
      if (r != HYD_OK)
        rec_fail(&st, en->s, en->sample, r);
      memcpy(o->xbuf, hyd_sample_point(en->s), n * sizeof(double));
    }
    rc = bcast(o, HYD_MPI_CMD_ACCEPT, o->xbuf, n, MPI_DOUBLE, sizeof(double),
               (int)k, o->group, (int)o->T);
    if (rc != HYD_OK)
      return rc;
    if (en->pos != k && st.status == HYD_OK) {
      int r = en->pos == 0 ? install_point(o, en->s, o->xbuf)
                           : hyd_sample_set_point(en->s, o->xbuf);
      if (r != HYD_OK)
        rec_fail(&st, en->s, en->sample, r);
    }
  }
  if (k > 0)
    o->stale = 0; /* the winner's broadcast reached every group member */
  if ((rc = gather(o, HYD_MPI_CMD_ACCEPT, &st, SHARE_NONE, 0)) != HYD_OK)
    return rc;
  return o->rank == 0 ? collect_status(o) : HYD_OK;
}

static int step_upper_now(hyd_mpi_oracle *o, double *g)
{
  status_rec st;
  rec_ok(o, &st);
  run_owned(o, SHARE_ONE, send_data(o), &st, work_upper, NULL);
  /* Unpacked into sample order first: the sum must run by sample index.
   * z_parts (m x p >= m doubles) is free outside evaluate. */
  double *gs = o->z_parts;
  int rc = finish(o, HYD_MPI_CMD_UPPER_NOW, &st, SHARE_ONE, put_one, gs);
  if (rc != HYD_OK || o->rank != 0)
    return rc;
  double sum = 0.0;
  for (size_t i = 0; i < o->m; i++)
    sum += gs[i];
  *g = sum / (double)o->m;
  return HYD_OK;
}

static int step_save_state(hyd_mpi_oracle *o, double *buf)
{
  status_rec st;
  rec_ok(o, &st);
  run_owned(o, SHARE_STATE, send_data(o), &st, work_save, NULL);
  return finish(o, HYD_MPI_CMD_SAVE_STATE, &st, SHARE_STATE, put_state, buf);
}

static int step_load_state(hyd_mpi_oracle *o, const double *buf)
{
  /* Rank 0 packs the states by owner, then one scatter. */
  if (o->rank == 0) {
    size_t off = 0;
    for (int r = 0; r < o->size; r++) {
      o->displs[r] = (int)off;
      o->counts[r] = (int)o->nstate[r];
      off += o->nstate[r];
    }
    unsigned char *dst = o->recvbuf;
    for (size_t t = 0; t < o->m; t++) {
      size_t i = o->by_owner[t], len = o->state_off[i + 1] - o->state_off[i];
      memcpy(dst, buf + o->state_off[i], len * sizeof(double));
      dst += len * sizeof(double);
    }
    for (int r = 1; r < o->size; r++)
      count_bytes(o, HYD_MPI_CMD_LOAD_STATE, o->nstate[r] * sizeof(double));
  }
  double *mine = send_data(o);
  MPI_TRY(o, MPI_Scatterv(o->recvbuf, o->counts, o->displs, MPI_DOUBLE, mine,
                          (int)o->nstate[o->rank], MPI_DOUBLE, 0, o->comm));
  status_rec st;
  rec_ok(o, &st);
  run_owned(o, SHARE_STATE, mine, &st, work_load, NULL);
  if (st.status != HYD_OK) /* the serial oracle's words */
    snprintf(st.msg, sizeof st.msg, "warm start of sample %zu is not finite",
             (size_t)st.sample);
  o->stale = 1;
  return finish(o, HYD_MPI_CMD_LOAD_STATE, &st, SHARE_NONE, NULL, NULL);
}

/* ---- rank 0: the oracle table ---- */

/* Header of every request: command, count or index, eps, delta. */
static int send_header(hyd_mpi_oracle *o, int cmd, size_t a, double eps,
                       double delta)
{
  double hdr[4] = {(double)cmd, (double)a, eps, delta};
  o->stats.calls[cmd] += 1.0;
  o->errmsg[0] = '\0';
  return bcast(o, cmd, hdr, 4, MPI_DOUBLE, sizeof(double), 0, o->comm,
               o->size);
}

static int op_configure(void *self, const hyd_oracle_config *cfg)
{
  hyd_mpi_oracle *o = self;
  if (!cfg)
    return set_error(o->errmsg, HYD_EINVAL, "configure: no configuration");
  int rc = send_header(o, HYD_MPI_CMD_CONFIGURE, 0, 0.0, 0.0);
  if (rc != HYD_OK)
    return rc;
  o->cfg = *cfg;
  return step_configure(o);
}

static int op_evaluate(void *self, const double *theta, double eps,
                       double delta, hyd_eval *out)
{
  hyd_mpi_oracle *o = self;
  if (!theta || !out || !out->z || !(eps > 0.0) || !(delta > 0.0))
    return set_error(o->errmsg, HYD_EINVAL, "evaluate: bad arguments");
  int rc;
  if (want_rebalance(o)) {
    if ((rc = send_header(o, HYD_MPI_CMD_REBALANCE, 0, 0.0, 0.0)) != HYD_OK ||
        (rc = step_rebalance(o)) != HYD_OK)
      return rc;
  }
  rc = send_header(o, HYD_MPI_CMD_EVALUATE, 0, eps, delta);
  if (rc != HYD_OK)
    return rc;
  memcpy(o->thetas, theta, o->p * sizeof(double));
  return step_evaluate(o, eps, delta, out);
}

static int op_trials(void *self, size_t n, const double *const *thetas,
                     double eps, hyd_trial *out)
{
  hyd_mpi_oracle *o = self;
  if (n == 0 || n > o->T || !thetas || !out || !(eps > 0.0))
    return set_error(o->errmsg, HYD_EINVAL,
                     "trials: %zu trial points asked, this layout solves 1 to "
                     "%zu at once", n, o->T);
  for (size_t k = 0; k < n; k++) {
    if (!thetas[k])
      return set_error(o->errmsg, HYD_EINVAL, "trials: no theta %zu", k);
    memcpy(o->thetas + k * o->p, thetas[k], o->p * sizeof(double));
  }
  int rc = send_header(o, HYD_MPI_CMD_TRIALS, n, eps, 0.0);
  if (rc != HYD_OK)
    return rc;
  return step_trials(o, n, eps, out);
}

static int op_accept(void *self, size_t k)
{
  hyd_mpi_oracle *o = self;
  if (k >= o->last_trials)
    return set_error(o->errmsg, HYD_EINVAL,
                     "accept: trial %zu was not solved by the last trials "
                     "call (%zu points)", k, o->last_trials);
  int rc = send_header(o, HYD_MPI_CMD_ACCEPT, k, 0.0, 0.0);
  if (rc != HYD_OK)
    return rc;
  return step_accept(o, k);
}

static int op_upper_now(void *self, double *g)
{
  hyd_mpi_oracle *o = self;
  if (!g)
    return set_error(o->errmsg, HYD_EINVAL, "upper_now: no output");
  int rc = send_header(o, HYD_MPI_CMD_UPPER_NOW, 0, 0.0, 0.0);
  if (rc != HYD_OK)
    return rc;
  return step_upper_now(o, g);
}

static size_t op_max_trials(void *self)
{
  hyd_mpi_oracle *o = self;
  return o->T;
}

static size_t op_state_size(void *self)
{
  hyd_mpi_oracle *o = self;
  return o->state_off[o->m];
}

static int op_save_state(void *self, double *buf)
{
  hyd_mpi_oracle *o = self;
  if (!buf)
    return set_error(o->errmsg, HYD_EINVAL, "save_state: no buffer");
  int rc = send_header(o, HYD_MPI_CMD_SAVE_STATE, 0, 0.0, 0.0);
  if (rc != HYD_OK)
    return rc;
  return step_save_state(o, buf);
}

static int op_load_state(void *self, const double *buf)
{
  hyd_mpi_oracle *o = self;
  if (!buf)
    return set_error(o->errmsg, HYD_EINVAL, "load_state: no buffer");
  int rc = send_header(o, HYD_MPI_CMD_LOAD_STATE, 0, 0.0, 0.0);
  if (rc != HYD_OK)
    return rc;
  return step_load_state(o, buf);
}

static const char *op_errmsg(void *self)
{
  hyd_mpi_oracle *o = self;
  return o->errmsg;
}

static const hyd_oracle_ops mpi_ops = {
    HYD_ORACLE_VERSION, op_configure, op_evaluate, op_trials, op_accept,
    op_upper_now, op_max_trials, op_state_size, op_save_state, op_load_state,
    op_errmsg};

hyd_oracle hyd_mpi_oracle_as_oracle(hyd_mpi_oracle *o)
{
  hyd_oracle or = {&mpi_ops, o};
  return or;
}

int hyd_mpi_oracle_shutdown(hyd_mpi_oracle *o)
{
  if (!o || o->rank != 0)
    return HYD_EINVAL;
  return send_header(o, HYD_MPI_CMD_SHUTDOWN, 0, 0.0, 0.0);
}

/* ---- ranks > 0 ---- */

int hyd_mpi_worker_serve(hyd_mpi_oracle *o)
{
  if (!o || o->rank == 0)
    return HYD_EINVAL;
  for (;;) {
    double hdr[4];
    MPI_TRY(o, MPI_Bcast(hdr, 4, MPI_DOUBLE, 0, o->comm));
    int cmd = (int)hdr[0];
    size_t a = (size_t)hdr[1];
    if (cmd < 0 || cmd >= HYD_MPI_NCMD)
      return set_error(o->errmsg, HYD_MPI_ECOMM, "rank %d: unknown request %d",
                       o->rank, cmd);
    o->stats.calls[cmd] += 1.0;
    int rc = HYD_OK;
    switch (cmd) {
    case HYD_MPI_CMD_SHUTDOWN: return HYD_OK;
    case HYD_MPI_CMD_CONFIGURE: rc = step_configure(o); break;
    case HYD_MPI_CMD_EVALUATE: {
      hyd_eval unused;
      memset(&unused, 0, sizeof unused);
      rc = step_evaluate(o, hdr[2], hdr[3], &unused);
      break;
    }
    case HYD_MPI_CMD_TRIALS: rc = step_trials(o, a, hdr[2], NULL); break;
    case HYD_MPI_CMD_ACCEPT: rc = step_accept(o, a); break;
    case HYD_MPI_CMD_UPPER_NOW: rc = step_upper_now(o, NULL); break;
    case HYD_MPI_CMD_SAVE_STATE: rc = step_save_state(o, NULL); break;
    case HYD_MPI_CMD_LOAD_STATE: rc = step_load_state(o, NULL); break;
    case HYD_MPI_CMD_REBALANCE: rc = step_rebalance(o); break;
    default: break;
    }
    /* Request failures went to rank 0; only a broken channel ends us. */
    if (rc == HYD_MPI_ECOMM)
      return rc;
  }
}

/* ---- life cycle ---- */

void hyd_mpi_oracle_destroy(hyd_mpi_oracle *o)
{
  if (!o)
    return;
  const hyd_allocator *a = &o->alloc;
  if (o->ents)
    for (size_t e = 0; e < o->n_ents; e++)
      hyd_sample_destroy(o->ents[e].s);
  xfree(a, o->ents);
  xfree(a, o->dim);
  xfree(a, o->state_off);
  xfree(a, o->owner);
  xfree(a, o->by_owner);
  xfree(a, o->new_owner);
  xfree(a, o->order);
  xfree(a, o->cost);
  xfree(a, o->load);
  xfree(a, o->next);
  xfree(a, o->theta0);
  xfree(a, o->nprim);
  xfree(a, o->nstate);
  xfree(a, o->counts);
  xfree(a, o->displs);
  xfree(a, o->sendbuf);
  xfree(a, o->recvbuf);
  xfree(a, o->parts);
  xfree(a, o->tparts);
  xfree(a, o->z_parts);
  xfree(a, o->thetas);
  xfree(a, o->zbuf);
  xfree(a, o->xbuf);
  /* Nothing can be reported from a destructor; a failed free only leaks. */
  if (o->group != MPI_COMM_NULL)
    (void)MPI_Comm_free(&o->group);
  if (o->comm != MPI_COMM_NULL)
    (void)MPI_Comm_free(&o->comm);
  hyd_allocator copy = o->alloc;
  xfree(&copy, o);
}

/* Longest processing time first: samples by decreasing cost (ties by
 * index), each to the least loaded rank (ties to the lower rank), so every
 * rank computes the same table from the same costs. Equal costs give
 * sample i to rank i mod P. */
static void lpt_assign(hyd_mpi_oracle *o, const double *cost, int *owner)
{
  size_t *order = o->order;
  for (size_t i = 0; i < o->m; i++)
    order[i] = i;
  for (size_t i = 1; i < o->m; i++) { /* insertion sort: stable */
    size_t v = order[i], j = i;
    while (j > 0 && cost[order[j - 1]] < cost[v]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = v;
  }
  for (int r = 0; r < o->size; r++)
    o->load[r] = 0.0;
  for (size_t t = 0; t < o->m; t++) {
    int best = 0;
    for (int r = 1; r < o->size; r++)
      if (o->load[r] < o->load[best])
        best = r;
    owner[order[t]] = best;
    o->load[best] += cost[order[t]];
  }
}

/* The largest per-rank sum of cost under an owner table. */
static double max_load(hyd_mpi_oracle *o, const double *cost, const int *owner)
{
  for (int r = 0; r < o->size; r++)
    o->load[r] = 0.0;
  for (size_t i = 0; i < o->m; i++)
    o->load[owner[i]] += cost[i];
  double mx = 0.0;
  for (int r = 0; r < o->size; r++)
    mx = o->load[r] > mx ? o->load[r] : mx;
  return mx;
}

/* Shares and gather order from the owner table. */
static void index_owners(hyd_mpi_oracle *o)
{
  size_t P = (size_t)o->size;
  memset(o->nprim, 0, P * sizeof *o->nprim);
  memset(o->nstate, 0, P * sizeof *o->nstate);
  for (size_t i = 0; i < o->m; i++) {
    o->nprim[o->owner[i]]++;
    o->nstate[o->owner[i]] += 2 * o->dim[i] + 1;
  }
  for (size_t r = 0, off = 0; r < P; r++) { /* counting sort by owner */
    o->next[r] = off;
    off += o->nprim[r];
  }
  for (size_t i = 0; i < o->m; i++)
    o->by_owner[o->next[o->owner[i]]++] = i;
}

/* Dimensions, owners, shares and buffer sizes; the same on every rank. */
static int plan_layout(hyd_mpi_oracle *o)
{
  const hyd_allocator *a = &o->alloc;
  size_t m = o->m, P = (size_t)o->size;
  o->dim = xalloc(a, m, sizeof *o->dim);
  o->state_off = xalloc(a, m + 1, sizeof *o->state_off);
  o->owner = xalloc(a, m, sizeof *o->owner);
  o->by_owner = xalloc(a, m, sizeof *o->by_owner);
  o->new_owner = xalloc(a, m, sizeof *o->new_owner);
  o->order = xalloc(a, m, sizeof *o->order);
  o->cost = xalloc(a, m, sizeof *o->cost);
  o->load = xalloc(a, P, sizeof *o->load);
  o->next = xalloc(a, P, sizeof *o->next);
  o->nprim = xalloc(a, P, sizeof *o->nprim);
  o->nstate = xalloc(a, P, sizeof *o->nstate);
  o->counts = xalloc(a, P, sizeof *o->counts);
  o->displs = xalloc(a, P, sizeof *o->displs);
  if (!o->dim || !o->state_off || !o->owner || !o->by_owner ||
      !o->new_owner || !o->order || !o->cost || !o->load || !o->next ||
      !o->nprim || !o->nstate || !o->counts || !o->displs)
    return set_error(o->errmsg, HYD_ENOMEM, "rank %d: out of memory", o->rank);
  o->state_off[0] = 0;
  for (size_t i = 0; i < m; i++) {
    o->dim[i] = o->prob->lower_dim(o->prob->ctx, i);
    if (o->dim[i] == 0 || o->dim[i] > (SIZE_MAX - 1) / 4)
      return set_error(o->errmsg, HYD_EINVAL, "sample %zu has dimension %zu",
                       i, o->dim[i]);
    o->state_off[i + 1] = o->state_off[i] + 2 * o->dim[i] + 1;
    /* Until solves are measured, a lower-level iteration costs O(n_i). */
    o->cost[i] = (double)o->dim[i];
  }
  o->T = P > m ? P / m : 1;
  if (o->T == 1)
    lpt_assign(o, o->cost, o->owner);
  else
    for (size_t i = 0; i < m; i++)
      o->owner[i] = (int)(i * o->T);
  index_owners(o);
  return HYD_OK;
}


/* This rank's sample objects and every buffer the steps use, so that no
 * request allocates. */
static int build_local(hyd_mpi_oracle *o, const double *theta0)
{
  const hyd_allocator *a = &o->alloc;
  size_t m = o->m, p = o->p, T = o->T, me = (size_t)o->rank, maxn = 0;
  for (size_t i = 0; i < m; i++)
    maxn = o->dim[i] > maxn ? o->dim[i] : maxn;
  size_t n_ents = T == 1 ? o->nprim[me] : (me < m * T ? 1 : 0);
  o->ents = xalloc(a, n_ents, sizeof *o->ents);
  if (o->ents) { /* destroy walks n_ents entries: only zeroed ones */
    memset(o->ents, 0, n_ents * sizeof *o->ents);
    o->n_ents = n_ents;
  }
  size_t mine = max3(share_of(o, SHARE_EVAL, o->rank, 0),
                     share_of(o, SHARE_TRIAL, o->rank, T),
                     share_of(o, SHARE_STATE, o->rank, 0));
  size_t total = max3(m * (EVAL_DOUBLES + p), m * T * TRIAL_DOUBLES,
                      o->state_off[m]);
  if (total > ((size_t)INT_MAX - (size_t)o->size * REC_BYTES) / sizeof(double))
    return set_error(o->errmsg, HYD_EINVAL,
                     "the gathered results exceed what one MPI call moves");
  o->send_cap = REC_BYTES + mine * sizeof(double);
  o->sendbuf = xalloc(a, o->send_cap, 1);
  o->recvbuf = o->rank == 0
                   ? xalloc(a, (size_t)o->size * REC_BYTES +
                                   total * sizeof(double), 1)
                   : NULL;
  o->parts = xalloc(a, m, sizeof *o->parts);
  o->tparts = xalloc(a, m * T, sizeof *o->tparts);
  o->z_parts = xalloc(a, m * p, sizeof(double));
  o->thetas = xalloc(a, T * p, sizeof(double));
  o->theta0 = xalloc(a, p, sizeof(double));
  o->zbuf = xalloc(a, 1 + p, sizeof(double));
  o->xbuf = xalloc(a, 3 * maxn + 1, sizeof(double));
  if (!o->ents || !o->sendbuf || (o->rank == 0 && !o->recvbuf) || !o->parts ||
      !o->tparts || !o->z_parts || !o->thetas || !o->theta0 || !o->zbuf ||
      !o->xbuf)
    return set_error(o->errmsg, HYD_ENOMEM, "rank %d: out of memory", o->rank);
  memset(o->xbuf, 0, (3 * maxn + 1) * sizeof(double));
  memcpy(o->theta0, theta0, p * sizeof(double));
  size_t e = 0;
  for (size_t i = 0; i < m && e < o->n_ents; i++) {
    size_t pos;
    if (T == 1 && o->owner[i] == o->rank)
      pos = 0;
    else if (T > 1 && i == me / T)
      pos = me % T;
    else
      continue;
    o->ents[e].sample = i;
    o->ents[e].pos = pos;
    /* T slots: a replica solves trial `pos` into slot `pos`, as the
     * winner's slot index is what accept() receives. */
    int rc = hyd_sample_create(&o->ents[e].s, o->prob, i, theta0, T, a);
    if (rc != HYD_OK)
      return set_error(o->errmsg, rc, "rank %d: creating sample %zu: %s",
                       o->rank, i, hyd_strerror(rc));
    e++;
  }
  return HYD_OK;
}

/* Agreement: the worst status anywhere becomes everyone's, so that all
 * ranks leave create together. `vals` also compares sizes across ranks. */
static int agree(MPI_Comm comm, int status, const long *vals, size_t nv,
                 int *mismatch)
{
  long buf[8], mx[8];
  size_t n = 1 + 2 * nv;
  buf[0] = status;
  for (size_t j = 0; j < nv; j++) {
    buf[1 + j] = vals[j];
    buf[1 + nv + j] = -vals[j];
  }
  int rc = MPI_Allreduce(buf, mx, (int)n, MPI_LONG, MPI_MAX, comm);
  if (rc != MPI_SUCCESS)
    return HYD_MPI_ECOMM;
  *mismatch = 0;
  for (size_t j = 0; j < nv; j++)
    if (mx[1 + j] != -mx[1 + nv + j])
      *mismatch = 1;
  return (int)mx[0];
}

int hyd_mpi_oracle_create(hyd_mpi_oracle **out, const hyd_problem *problem,
                          const double *theta0, MPI_Comm comm,
                          const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  if (comm == MPI_COMM_NULL)
    return HYD_EINVAL;
  hyd_allocator a = {std_alloc, std_release, NULL};
  if (alloc && alloc->alloc && alloc->release)
    a = *alloc;
  int status = HYD_OK;
  if (hyd_problem_check(problem) != HYD_OK || !theta0)
    status = HYD_EINVAL;
  hyd_mpi_oracle *o = xalloc(&a, 1, sizeof *o);
  if (!o && status == HYD_OK)
    status = HYD_ENOMEM;
  long sizes[2] = {0, 0};
  if (status == HYD_OK) {
    sizes[0] = (long)problem->n_samples;
    sizes[1] = (long)problem->n_theta;
  }
  int mismatch = 0;
  status = agree(comm, status, sizes, 2, &mismatch);
  if (status == HYD_OK && mismatch)
    status = HYD_EINVAL;
  if (status != HYD_OK) {
    xfree(&a, o);
    return status;
  }
  memset(o, 0, sizeof *o);
  o->alloc = a;
  o->comm = MPI_COMM_NULL;
  o->group = MPI_COMM_NULL;
  o->prob = problem;
  o->m = problem->n_samples;
  o->p = problem->n_theta;
  hyd_oracle_config_default(&o->cfg);
  /* Our own communicator: our collectives never meet the caller's. Errors
   * return instead of aborting, so every failure becomes a status. */
  if (MPI_Comm_dup(comm, &o->comm) != MPI_SUCCESS) {
    o->comm = MPI_COMM_NULL;
    hyd_mpi_oracle_destroy(o);
    return HYD_MPI_ECOMM;
  }
  int rc = mpi_check(o, MPI_Comm_set_errhandler(o->comm, MPI_ERRORS_RETURN),
                     "MPI_Comm_set_errhandler");
  if (rc == HYD_OK)
    rc = mpi_check(o, MPI_Comm_rank(o->comm, &o->rank), "MPI_Comm_rank");
  if (rc == HYD_OK)
    rc = mpi_check(o, MPI_Comm_size(o->comm, &o->size), "MPI_Comm_size");
  if (rc == HYD_OK)
    rc = plan_layout(o);
  long dims[1] = {0};
  if (rc == HYD_OK)
    dims[0] = (long)o->state_off[o->m];
  rc = agree(o->comm, rc, dims, 1, &mismatch);
  if (rc == HYD_OK && mismatch)
    rc = HYD_EINVAL; /* ranks built different problems */
  if (rc == HYD_OK && o->T > 1) {
    /* Trial groups: ranks i*T .. i*T+T-1 share sample i. */
    size_t me = (size_t)o->rank;
    int color = me < o->m * o->T ? (int)(me / o->T) : MPI_UNDEFINED;
    rc = mpi_check(o, MPI_Comm_split(o->comm, color, (int)(me % o->T),
                                     &o->group), "MPI_Comm_split");
    if (rc == HYD_OK && o->group != MPI_COMM_NULL)
      rc = mpi_check(o, MPI_Comm_set_errhandler(o->group, MPI_ERRORS_RETURN),
                     "MPI_Comm_set_errhandler");
  }
  if (rc == HYD_OK)
    rc = build_local(o, theta0);
  rc = agree(o->comm, rc, NULL, 0, &mismatch);
  if (rc != HYD_OK) {
    hyd_mpi_oracle_destroy(o);
    return rc;
  }
  o->last_trials = 0;
  o->balance = HYD_MPI_BALANCE_MEASURED;
  o->stale = 0; /* every copy starts from the same cold start */
  o->errmsg[0] = '\0';
  *out = o;
  return HYD_OK;
}

const char *hyd_mpi_strerror(int status)
{
  return status == HYD_MPI_ECOMM ? "an MPI call failed" : hyd_strerror(status);
}

const char *hyd_mpi_oracle_errmsg(const hyd_mpi_oracle *o)
{
  return o ? o->errmsg : "no oracle";
}

size_t hyd_mpi_oracle_group_size(const hyd_mpi_oracle *o)
{
  return o ? o->T : 0;
}

int hyd_mpi_oracle_owner(const hyd_mpi_oracle *o, size_t sample)
{
  return o && sample < o->m ? o->owner[sample] : -1;
}

int hyd_mpi_oracle_set_balance(hyd_mpi_oracle *o, int mode)
{
  if (!o || o->rank != 0 || mode < HYD_MPI_BALANCE_STATIC ||
      mode > HYD_MPI_BALANCE_ROTATE)
    return HYD_EINVAL;
  o->balance = mode;
  return HYD_OK;
}

void hyd_mpi_oracle_stats(const hyd_mpi_oracle *o, hyd_mpi_stats *out)
{
  if (o && out)
    *out = o->stats;
}
