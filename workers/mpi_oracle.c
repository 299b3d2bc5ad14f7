/* The MPI oracle: the serial oracle's loop over samples, spread over the
 * ranks of a communicator (workers/mpi_oracle.h, docs/parallel.md). This
 * file: the requests, the oracle table and the life cycle; mpi_step.c the
 * collective step, mpi_balance.c the owner tables.
 *
 * Every request is one "step" that all ranks run in lock step: rank 0
 * broadcasts a header (request, count, eps, delta) and the request's
 * payload, each rank works on its own samples, and one MPI_Gatherv brings
 * every rank's status record and results back to rank 0. The status record
 * travels whether or not the rank failed, so a failure never leaves a rank
 * waiting in a collective the others skipped. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

/* ---- results filed on rank 0 ---- */

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
         hydw_record_len(o, SHARE_STATE, i) * sizeof(double));
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
    size_t len = hydw_record_len(o, kind, en->sample);
    if (st->status == HYD_OK) {
      int r = work(o, en, dst, ctx);
      if (r != HYD_OK)
        hydw_rec_fail(st, en->s, en->sample, r);
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

static int step_configure(hyd_mpi_oracle *o)
{
  int rc = hydw_bcast(o, HYD_MPI_CMD_CONFIGURE, &o->cfg, sizeof o->cfg, MPI_BYTE, 1,
                 0, o->comm, o->size);
  if (rc != HYD_OK)
    return rc;
  status_rec st;
  hydw_rec_ok(o, &st);
  if ((rc = hydw_gather(o, HYD_MPI_CMD_CONFIGURE, &st, SHARE_NONE, 0)) != HYD_OK)
    return rc;
  return o->rank == 0 ? hydw_collect_status(o) : HYD_OK;
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
  int rc = hydw_bcast(o, HYD_MPI_CMD_EVALUATE, o->zbuf, 1 + o->p, MPI_DOUBLE,
                 sizeof(double), 0, o->comm, o->size);
  if (rc != HYD_OK || o->zbuf[0] == 0.0)
    return rc;
  status_rec st;
  hydw_rec_ok(o, &st);
  run_owned(o, SHARE_ONE, hydw_send_data(o), &st, work_cross, NULL);
  rc = hydw_finish(o, HYD_MPI_CMD_EVALUATE, &st, SHARE_ONE, put_cross, NULL);
  if (rc == HYD_OK && o->rank == 0)
    hyd_eval_reduce(&o->cfg, o->m, o->p, o->parts, o->z_parts, eps, delta,
                    out);
  return rc;
}

static int step_evaluate(hyd_mpi_oracle *o, double eps, double delta,
                         hyd_eval *out)
{
  int rc = hydw_bcast(o, HYD_MPI_CMD_EVALUATE, o->thetas, o->p, MPI_DOUBLE,
                 sizeof(double), 0, o->comm, o->size);
  if (rc != HYD_OK)
    return rc;
  status_rec st;
  hydw_rec_ok(o, &st);
  accuracies acc = {eps, delta};
  run_owned(o, SHARE_EVAL, hydw_send_data(o), &st, work_eval, &acc);
  o->stale = 1; /* owners moved; replicas catch up before the next trials */
  int status = hydw_finish(o, HYD_MPI_CMD_EVALUATE, &st, SHARE_EVAL, put_eval, NULL);
  if (status == HYD_MPI_ECOMM)
    return status;
  if (status == HYD_OK && o->rank == 0) {
    hyd_eval_reduce(&o->cfg, o->m, o->p, o->parts, o->z_parts, eps, delta,
                    out);
    hydw_measure_cost(o);
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
  int rc = hydw_bcast(o, cmd, o->xbuf, n, MPI_DOUBLE, sizeof(double), 0, o->group,
                 (int)o->T);
  if (rc != HYD_OK)
    return rc;
  /* A replica never evaluates, so forgetting its adjoint costs nothing. */
  return en->pos == 0 ? HYD_OK : hyd_sample_set_point(en->s, o->xbuf);
}

static int step_trials(hyd_mpi_oracle *o, size_t n, double eps, hyd_trial *out)
{
  int rc = hydw_bcast(o, HYD_MPI_CMD_TRIALS, o->thetas, n * o->p, MPI_DOUBLE,
                 sizeof(double), 0, o->comm, o->size);
  if (rc != HYD_OK)
    return rc;
  status_rec st;
  hydw_rec_ok(o, &st);
  rc = sync_replicas(o, HYD_MPI_CMD_TRIALS, n);
  if (rc == HYD_MPI_ECOMM)
    return rc;
  if (rc != HYD_OK)
    hydw_rec_fail(&st, NULL, o->ents[0].sample, rc);
  double *data = hydw_send_data(o);
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
        hydw_rec_fail(&st, en->s, en->sample, r);
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
  if ((rc = hydw_gather(o, HYD_MPI_CMD_TRIALS, &st, SHARE_TRIAL, n)) != HYD_OK)
    return rc;
  if (o->rank != 0)
    return HYD_OK;
  if ((rc = hydw_collect_status(o)) != HYD_OK)
    return rc;
  if (o->T == 1)
    hydw_for_each_owned(o, SHARE_TRIAL, put_trial, NULL);
  else /* rank i*T + k solved trial k of sample i */
    for (int r = 0; (size_t)r < o->m * o->T; r++)
      if ((size_t)r % o->T < n)
        memcpy(&o->tparts[((size_t)r % o->T) * o->m + (size_t)r / o->T],
               hydw_rank_data(o, r), sizeof(hyd_sample_trial));
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
  hydw_rec_ok(o, &st);
  int rc = HYD_OK;
  if (k == 0) {
    /* The owners solved trial 0: nothing moves. Replicas fall behind and
     * catch up before the next batch of trials. */
    for (size_t e = 0; e < o->n_ents && st.status == HYD_OK; e++) {
      if (o->ents[e].pos != 0)
        continue;
      int r = hyd_sample_accept(o->ents[e].s, 0);
      if (r != HYD_OK)
        hydw_rec_fail(&st, o->ents[e].s, o->ents[e].sample, r);
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
        hydw_rec_fail(&st, en->s, en->sample, r);
      memcpy(o->xbuf, hyd_sample_point(en->s), n * sizeof(double));
    }
    rc = hydw_bcast(o, HYD_MPI_CMD_ACCEPT, o->xbuf, n, MPI_DOUBLE, sizeof(double),
               (int)k, o->group, (int)o->T);
    if (rc != HYD_OK)
      return rc;
    if (en->pos != k && st.status == HYD_OK) {
      int r = en->pos == 0 ? install_point(o, en->s, o->xbuf)
                           : hyd_sample_set_point(en->s, o->xbuf);
      if (r != HYD_OK)
        hydw_rec_fail(&st, en->s, en->sample, r);
    }
  }
  if (k > 0)
    o->stale = 0; /* the winner's broadcast reached every group member */
  if ((rc = hydw_gather(o, HYD_MPI_CMD_ACCEPT, &st, SHARE_NONE, 0)) != HYD_OK)
    return rc;
  return o->rank == 0 ? hydw_collect_status(o) : HYD_OK;
}

static int step_upper_now(hyd_mpi_oracle *o, double *g)
{
  status_rec st;
  hydw_rec_ok(o, &st);
  run_owned(o, SHARE_ONE, hydw_send_data(o), &st, work_upper, NULL);
  /* Unpacked into sample order first: the sum must run by sample index.
   * z_parts (m x p >= m doubles) is free outside evaluate. */
  double *gs = o->z_parts;
  int rc = hydw_finish(o, HYD_MPI_CMD_UPPER_NOW, &st, SHARE_ONE, put_one, gs);
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
  hydw_rec_ok(o, &st);
  run_owned(o, SHARE_STATE, hydw_send_data(o), &st, work_save, NULL);
  return hydw_finish(o, HYD_MPI_CMD_SAVE_STATE, &st, SHARE_STATE, put_state, buf);
}

/* Every rank copies its samples' states aside, in the order a gather
 * sends them; nothing travels (no status either: a rank that cannot keep
 * says so at the next SAVE_KEPT). */
static void step_keep_state(hyd_mpi_oracle *o)
{
  size_t need = o->nstate[o->rank];
  o->kept_ok = 0;
  if (need > o->kept_cap || !o->kept) {
    double *k = hydw_xalloc(&o->alloc, need, sizeof(double));
    if (!k)
      return;
    hydw_xfree(&o->alloc, o->kept);
    o->kept = k;
    o->kept_cap = need;
  }
  status_rec st;
  hydw_rec_ok(o, &st);
  run_owned(o, SHARE_STATE, o->kept, &st, work_save, NULL);
  o->kept_ok = st.status == HYD_OK;
}

static int step_save_kept(hyd_mpi_oracle *o, double *buf)
{
  status_rec st;
  hydw_rec_ok(o, &st);
  size_t n = o->nstate[o->rank];
  if (o->kept_ok) {
    if (n > 0)
      memcpy(hydw_send_data(o), o->kept, n * sizeof(double));
  } else {
    st.status = HYD_ENOMEM;
    snprintf(st.msg, sizeof st.msg, "rank %d: no room for its kept warm "
             "starts", o->rank);
    if (n > 0)
      memset(hydw_send_data(o), 0, n * sizeof(double));
  }
  return hydw_finish(o, HYD_MPI_CMD_SAVE_KEPT, &st, SHARE_STATE, put_state, buf);
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
      hydw_count_bytes(o, HYD_MPI_CMD_LOAD_STATE, o->nstate[r] * sizeof(double));
  }
  double *mine = hydw_send_data(o);
  MPI_TRY(o, MPI_Scatterv(o->recvbuf, o->counts, o->displs, MPI_DOUBLE, mine,
                          (int)o->nstate[o->rank], MPI_DOUBLE, 0, o->comm));
  status_rec st;
  hydw_rec_ok(o, &st);
  run_owned(o, SHARE_STATE, mine, &st, work_load, NULL);
  if (st.status != HYD_OK) /* the serial oracle's words */
    snprintf(st.msg, sizeof st.msg, "warm start of sample %zu is not finite",
             (size_t)st.sample);
  o->stale = 1;
  return hydw_finish(o, HYD_MPI_CMD_LOAD_STATE, &st, SHARE_NONE, NULL, NULL);
}

/* ---- rank 0: the oracle table ---- */

/* Header of every request: command, count or index, eps, delta. */
static int send_header(hyd_mpi_oracle *o, int cmd, size_t a, double eps,
                       double delta)
{
  double hdr[4] = {(double)cmd, (double)a, eps, delta};
  o->stats.calls[cmd] += 1.0;
  o->errmsg[0] = '\0';
  return hydw_bcast(o, cmd, hdr, 4, MPI_DOUBLE, sizeof(double), 0, o->comm,
               o->size);
}

static int op_configure(void *self, const hyd_oracle_config *cfg)
{
  hyd_mpi_oracle *o = self;
  if (!cfg)
    return hydw_set_error(o->errmsg, HYD_EINVAL, "configure: no configuration");
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
    return hydw_set_error(o->errmsg, HYD_EINVAL, "evaluate: bad arguments");
  int rc;
  if (hydw_want_rebalance(o)) {
    if ((rc = send_header(o, HYD_MPI_CMD_REBALANCE, 0, 0.0, 0.0)) != HYD_OK ||
        (rc = hydw_step_rebalance(o)) != HYD_OK)
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
    return hydw_set_error(o->errmsg, HYD_EINVAL,
                     "trials: %zu trial points asked, this layout solves 1 to "
                     "%zu at once", n, o->T);
  for (size_t k = 0; k < n; k++) {
    if (!thetas[k])
      return hydw_set_error(o->errmsg, HYD_EINVAL, "trials: no theta %zu", k);
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
    return hydw_set_error(o->errmsg, HYD_EINVAL,
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
    return hydw_set_error(o->errmsg, HYD_EINVAL, "upper_now: no output");
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
    return hydw_set_error(o->errmsg, HYD_EINVAL, "save_state: no buffer");
  int rc = send_header(o, HYD_MPI_CMD_SAVE_STATE, 0, 0.0, 0.0);
  if (rc != HYD_OK)
    return rc;
  return step_save_state(o, buf);
}

static int op_load_state(void *self, const double *buf)
{
  hyd_mpi_oracle *o = self;
  if (!buf)
    return hydw_set_error(o->errmsg, HYD_EINVAL, "load_state: no buffer");
  int rc = send_header(o, HYD_MPI_CMD_LOAD_STATE, 0, 0.0, 0.0);
  if (rc != HYD_OK)
    return rc;
  return step_load_state(o, buf);
}

static int op_keep_state(void *self)
{
  hyd_mpi_oracle *o = self;
  int rc = send_header(o, HYD_MPI_CMD_KEEP_STATE, 0, 0.0, 0.0);
  if (rc != HYD_OK)
    return rc;
  step_keep_state(o);
  return HYD_OK;
}

static int op_save_kept_state(void *self, double *buf)
{
  hyd_mpi_oracle *o = self;
  if (!buf)
    return hydw_set_error(o->errmsg, HYD_EINVAL, "save_kept_state: no buffer");
  /* A rebalance that cannot carry the copies clears kept_ok on every rank
   * alike; rank 0's own copy failing is its own affair: either way nothing
   * to ask for (another rank's failure comes back in its status). */
  if (!o->kept_ok)
    return hydw_set_error(o->errmsg, HYD_ESTATE, "no kept warm starts (none "
                          "kept, or no memory to keep them)");
  int rc = send_header(o, HYD_MPI_CMD_SAVE_KEPT, 0, 0.0, 0.0);
  if (rc != HYD_OK)
    return rc;
  return step_save_kept(o, buf);
}

static const char *op_errmsg(void *self)
{
  hyd_mpi_oracle *o = self;
  return o->errmsg;
}

static const hyd_oracle_ops mpi_ops = {
    HYD_ORACLE_VERSION, op_configure,  op_evaluate,   op_trials,
    op_accept,          op_upper_now,  op_max_trials, op_state_size,
    op_save_state,      op_load_state, op_errmsg,     op_keep_state,
    op_save_kept_state};

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
      return hydw_set_error(o->errmsg, HYD_MPI_ECOMM, "rank %d: unknown request %d",
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
    case HYD_MPI_CMD_REBALANCE: rc = hydw_step_rebalance(o); break;
    case HYD_MPI_CMD_KEEP_STATE: step_keep_state(o); break;
    case HYD_MPI_CMD_SAVE_KEPT: rc = step_save_kept(o, NULL); break;
    default: break;
    }
    /* Request failures went to rank 0; only a broken channel ends us. */
    if (rc == HYD_MPI_ECOMM)
      return rc;
  }
}

/* ---- life cycle ---- */

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

void hyd_mpi_oracle_destroy(hyd_mpi_oracle *o)
{
  if (!o)
    return;
  const hyd_allocator *a = &o->alloc;
  if (o->ents)
    for (size_t e = 0; e < o->n_ents; e++)
      hyd_sample_destroy(o->ents[e].s);
  hydw_xfree(a, o->ents);
  hydw_xfree(a, o->dim);
  hydw_xfree(a, o->state_off);
  hydw_xfree(a, o->owner);
  hydw_xfree(a, o->by_owner);
  hydw_xfree(a, o->new_owner);
  hydw_xfree(a, o->order);
  hydw_xfree(a, o->cost);
  hydw_xfree(a, o->load);
  hydw_xfree(a, o->next);
  hydw_xfree(a, o->theta0);
  hydw_xfree(a, o->nprim);
  hydw_xfree(a, o->nstate);
  hydw_xfree(a, o->counts);
  hydw_xfree(a, o->displs);
  hydw_xfree(a, o->sendbuf);
  hydw_xfree(a, o->recvbuf);
  hydw_xfree(a, o->parts);
  hydw_xfree(a, o->tparts);
  hydw_xfree(a, o->z_parts);
  hydw_xfree(a, o->thetas);
  hydw_xfree(a, o->zbuf);
  hydw_xfree(a, o->xbuf);
  hydw_xfree(a, o->kept);
  /* Nothing can be reported from a destructor; a failed free only leaks. */
  if (o->group != MPI_COMM_NULL)
    (void)MPI_Comm_free(&o->group);
  if (o->comm != MPI_COMM_NULL)
    (void)MPI_Comm_free(&o->comm);
  hyd_allocator copy = o->alloc;
  hydw_xfree(&copy, o);
}

/* Dimensions, owners, shares and buffer sizes; the same on every rank. */
static int plan_layout(hyd_mpi_oracle *o)
{
  const hyd_allocator *a = &o->alloc;
  size_t m = o->m, P = (size_t)o->size;
  o->dim = hydw_xalloc(a, m, sizeof *o->dim);
  o->state_off = hydw_xalloc(a, m + 1, sizeof *o->state_off);
  o->owner = hydw_xalloc(a, m, sizeof *o->owner);
  o->by_owner = hydw_xalloc(a, m, sizeof *o->by_owner);
  o->new_owner = hydw_xalloc(a, m, sizeof *o->new_owner);
  o->order = hydw_xalloc(a, m, sizeof *o->order);
  o->cost = hydw_xalloc(a, m, sizeof *o->cost);
  o->load = hydw_xalloc(a, P, sizeof *o->load);
  o->next = hydw_xalloc(a, P, sizeof *o->next);
  o->nprim = hydw_xalloc(a, P, sizeof *o->nprim);
  o->nstate = hydw_xalloc(a, P, sizeof *o->nstate);
  o->counts = hydw_xalloc(a, P, sizeof *o->counts);
  o->displs = hydw_xalloc(a, P, sizeof *o->displs);
  if (!o->dim || !o->state_off || !o->owner || !o->by_owner ||
      !o->new_owner || !o->order || !o->cost || !o->load || !o->next ||
      !o->nprim || !o->nstate || !o->counts || !o->displs)
    return hydw_set_error(o->errmsg, HYD_ENOMEM, "rank %d: out of memory", o->rank);
  o->state_off[0] = 0;
  for (size_t i = 0; i < m; i++) {
    o->dim[i] = o->prob->lower_dim(o->prob->ctx, i);
    if (o->dim[i] == 0 || o->dim[i] > (SIZE_MAX - 1) / 4)
      return hydw_set_error(o->errmsg, HYD_EINVAL, "sample %zu has dimension %zu",
                       i, o->dim[i]);
    o->state_off[i + 1] = o->state_off[i] + 2 * o->dim[i] + 1;
    /* Until solves are measured, a lower-level iteration costs O(n_i). */
    o->cost[i] = (double)o->dim[i];
  }
  o->T = P > m ? P / m : 1;
  if (o->T == 1)
    hydw_lpt_assign(o, o->cost, o->owner);
  else
    for (size_t i = 0; i < m; i++)
      o->owner[i] = (int)(i * o->T);
  hydw_index_owners(o);
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
  o->ents = hydw_xalloc(a, n_ents, sizeof *o->ents);
  if (o->ents) { /* destroy walks n_ents entries: only zeroed ones */
    memset(o->ents, 0, n_ents * sizeof *o->ents);
    o->n_ents = n_ents;
  }
  size_t mine = hydw_max3(hydw_share_of(o, SHARE_EVAL, o->rank, 0),
                     hydw_share_of(o, SHARE_TRIAL, o->rank, T),
                     hydw_share_of(o, SHARE_STATE, o->rank, 0));
  size_t total = hydw_max3(m * (EVAL_DOUBLES + p), m * T * TRIAL_DOUBLES,
                      o->state_off[m]);
  if (total > ((size_t)INT_MAX - (size_t)o->size * REC_BYTES) / sizeof(double))
    return hydw_set_error(o->errmsg, HYD_EINVAL,
                     "the gathered results exceed what one MPI call moves");
  o->send_cap = REC_BYTES + mine * sizeof(double);
  o->sendbuf = hydw_xalloc(a, o->send_cap, 1);
  o->recvbuf = o->rank == 0
                   ? hydw_xalloc(a, (size_t)o->size * REC_BYTES +
                                   total * sizeof(double), 1)
                   : NULL;
  o->parts = hydw_xalloc(a, m, sizeof *o->parts);
  o->tparts = hydw_xalloc(a, m * T, sizeof *o->tparts);
  o->z_parts = hydw_xalloc(a, m * p, sizeof(double));
  o->thetas = hydw_xalloc(a, T * p, sizeof(double));
  o->theta0 = hydw_xalloc(a, p, sizeof(double));
  o->zbuf = hydw_xalloc(a, 1 + p, sizeof(double));
  o->xbuf = hydw_xalloc(a, 3 * maxn + 1, sizeof(double));
  if (!o->ents || !o->sendbuf || (o->rank == 0 && !o->recvbuf) || !o->parts ||
      !o->tparts || !o->z_parts || !o->thetas || !o->theta0 || !o->zbuf ||
      !o->xbuf)
    return hydw_set_error(o->errmsg, HYD_ENOMEM, "rank %d: out of memory", o->rank);
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
      return hydw_set_error(o->errmsg, rc, "rank %d: creating sample %zu: %s",
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
  hyd_mpi_oracle *o = hydw_xalloc(&a, 1, sizeof *o);
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
    hydw_xfree(&a, o);
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
  int rc = hydw_mpi_check(o, MPI_Comm_set_errhandler(o->comm, MPI_ERRORS_RETURN),
                     "MPI_Comm_set_errhandler");
  if (rc == HYD_OK)
    rc = hydw_mpi_check(o, MPI_Comm_rank(o->comm, &o->rank), "MPI_Comm_rank");
  if (rc == HYD_OK)
    rc = hydw_mpi_check(o, MPI_Comm_size(o->comm, &o->size), "MPI_Comm_size");
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
    rc = hydw_mpi_check(o, MPI_Comm_split(o->comm, color, (int)(me % o->T),
                                     &o->group), "MPI_Comm_split");
    if (rc == HYD_OK && o->group != MPI_COMM_NULL)
      rc = hydw_mpi_check(o, MPI_Comm_set_errhandler(o->group, MPI_ERRORS_RETURN),
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
