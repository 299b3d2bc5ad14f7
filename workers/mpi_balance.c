/* Owner tables and moving samples between ranks (docs/parallel.md,
 * "Dynamic balancing"). */
#include <stdio.h>
#include <string.h>

#include "mpi_internal.h"

/* Longest processing time first: samples by decreasing cost (ties by
 * index), each to the least loaded rank (ties to the lower rank), so every
 * rank computes the same table from the same costs. Equal costs give
 * sample i to rank i mod P. */
void hydw_lpt_assign(hyd_mpi_oracle *o, const double *cost, int *owner)
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
double hydw_max_load(hyd_mpi_oracle *o, const double *cost, const int *owner)
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
void hydw_index_owners(hyd_mpi_oracle *o)
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


/* Rank 0, after each evaluate: the work each sample just took, in lower-
 * level and CG iterations times n_i, averaged with the earlier estimate.
 * Iteration counts, unlike wall time, are the same in every run, so the
 * same run always makes the same moves. */
void hydw_measure_cost(hyd_mpi_oracle *o)
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
int hydw_want_rebalance(hyd_mpi_oracle *o)
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
  hydw_lpt_assign(o, o->cost, o->new_owner);
  return hydw_max_load(o, o->cost, o->new_owner) <
         0.9 * hydw_max_load(o, o->cost, o->owner);
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
  /* The kept copies (hyd_maid_keep) follow their samples: those of the
   * samples that leave or arrive, and this rank's in the new table's
   * order. NULL when this rank has none to move. */
  double *kbuf, *kept;
  size_t kept_len;
} move_plan;

static void plan_free(hyd_mpi_oracle *o, move_plan *mp, int drop_new)
{
  const hyd_allocator *a = &o->alloc;
  if (mp->ents && drop_new) /* samples created for the plan only */
    for (size_t e = 0; e < mp->n_ents; e++)
      if (o->owner[mp->ents[e].sample] != o->rank)
        hyd_sample_destroy(mp->ents[e].s);
  hydw_xfree(a, mp->ents);
  hydw_xfree(a, mp->buf);
  hydw_xfree(a, mp->req);
  hydw_xfree(a, mp->sendbuf);
  hydw_xfree(a, mp->kbuf);
  hydw_xfree(a, mp->kept);
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
                                hydw_max3(n_new * (EVAL_DOUBLES + o->p),
                                     n_new * TRIAL_DOUBLES, share_state);
  mp->ents = hydw_xalloc(a, n_new, sizeof *mp->ents);
  mp->buf = hydw_xalloc(a, len, sizeof(double));
  mp->req = hydw_xalloc(a, 2 * n_req, sizeof *mp->req);
  if (o->kept_ok) { /* without room the copies are dropped, not the move */
    mp->kbuf = hydw_xalloc(a, len, sizeof(double));
    mp->kept = hydw_xalloc(a, share_state, sizeof(double));
    mp->kept_len = share_state;
    if (!mp->kbuf || !mp->kept) {
      hydw_xfree(a, mp->kbuf);
      hydw_xfree(a, mp->kept);
      mp->kbuf = mp->kept = NULL;
    }
  }
  if (need > o->send_cap) {
    mp->sendbuf = hydw_xalloc(a, need, 1);
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

/* Old owners send each moving sample's warm state (and, with `kept`, its
 * kept copy, tag 1), new owners receive them; both walk the samples in
 * index order, so the messages between two ranks match in order. */
static int transfer(hyd_mpi_oracle *o, move_plan *mp, int kept)
{
  int me = o->rank;
  size_t off = 0, kept_off = 0; /* kept_off: in this rank's old kept copy */
  for (size_t i = 0; i < o->m; i++) {
    int from = o->owner[i], to = o->new_owner[i];
    size_t n = 2 * o->dim[i] + 1;
    if (from == to || (from != me && to != me)) {
      kept_off += from == me ? n : 0;
      continue;
    }
    int len = (int)n;
    if (from == me) {
      hyd_sample_save_state(find_sample(o, i), mp->buf + off);
      MPI_TRY(o, MPI_Isend(mp->buf + off, len, MPI_DOUBLE, to, 0, o->comm,
                           &mp->req[mp->n_req++]));
      hydw_count_bytes(o, HYD_MPI_CMD_REBALANCE, n * sizeof(double));
      if (kept) {
        MPI_TRY(o, MPI_Isend(o->kept + kept_off, len, MPI_DOUBLE, to, 1,
                             o->comm, &mp->req[mp->n_req++]));
        hydw_count_bytes(o, HYD_MPI_CMD_REBALANCE, n * sizeof(double));
      }
      kept_off += n;
    } else {
      MPI_TRY(o, MPI_Irecv(mp->buf + off, len, MPI_DOUBLE, from, 0, o->comm,
                           &mp->req[mp->n_req++]));
      if (kept)
        MPI_TRY(o, MPI_Irecv(mp->kbuf + off, len, MPI_DOUBLE, from, 1,
                             o->comm, &mp->req[mp->n_req++]));
    }
    off += n;
  }
  MPI_TRY(o, MPI_Waitall((int)mp->n_req, mp->req, MPI_STATUSES_IGNORE));
  return HYD_OK;
}

/* This rank's kept copies in the new table's order: its own samples that
 * stay from its old copy, the arrived ones from what came with them. */
static void rebuild_kept(hyd_mpi_oracle *o, move_plan *mp)
{
  int me = o->rank;
  size_t old_off = 0, moved_off = 0, dst = 0;
  for (size_t i = 0; i < o->m; i++) {
    int from = o->owner[i], to = o->new_owner[i];
    size_t n = 2 * o->dim[i] + 1;
    if (to == me)
      memcpy(mp->kept + dst, from == me ? o->kept + old_off : mp->kbuf + moved_off,
             n * sizeof(double));
    dst += to == me ? n : 0;
    old_off += from == me ? n : 0;
    moved_off += from != to && (from == me || to == me) ? n : 0;
  }
  hydw_xfree(&o->alloc, o->kept);
  o->kept = mp->kept;
  o->kept_cap = mp->kept_len;
  mp->kept = NULL;
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
  hydw_xfree(&o->alloc, o->ents);
  o->ents = mp->ents;
  o->n_ents = mp->n_ents;
  mp->ents = NULL;
  if (mp->sendbuf) {
    hydw_xfree(&o->alloc, o->sendbuf);
    o->sendbuf = mp->sendbuf;
    o->send_cap = mp->send_cap;
    mp->sendbuf = NULL;
  }
  memcpy(o->owner, o->new_owner, o->m * sizeof *o->owner);
  hydw_index_owners(o);
  return status;
}

int hydw_step_rebalance(hyd_mpi_oracle *o)
{
  int rc = hydw_bcast(o, HYD_MPI_CMD_REBALANCE, o->new_owner, o->m, MPI_INT,
                 sizeof(int), 0, o->comm, o->size);
  if (rc != HYD_OK)
    return rc;
  o->evals_since = 0;
  move_plan mp;
  /* [0]: the worst plan status; [1]: 1 if some rank cannot move its kept
   * copies along (none kept, or no room), and then every rank drops them */
  int local[2] = {plan_moves(o, &mp), 0}, worst[2] = {HYD_OK, 0};
  local[1] = !mp.kept;
  MPI_TRY(o, MPI_Allreduce(local, worst, 2, MPI_INT, MPI_MAX, o->comm));
  if (worst[0] != HYD_OK) { /* balancing is an optimisation: stay put */
    plan_free(o, &mp, 1);
    return HYD_OK;
  }
  int kept = !worst[1];
  rc = transfer(o, &mp, kept);
  if (rc != HYD_OK) {
    plan_free(o, &mp, 1);
    return rc;
  }
  if (kept)
    rebuild_kept(o, &mp); /* before commit_moves replaces the old table */
  o->kept_ok = kept;
  status_rec st;
  hydw_rec_ok(o, &st);
  rc = commit_moves(o, &mp);
  if (rc != HYD_OK) {
    st.status = rc;
    snprintf(st.msg, sizeof st.msg, "rank %d: a moved warm state is not "
             "finite", o->rank);
  }
  plan_free(o, &mp, 0);
  return hydw_finish(o, HYD_MPI_CMD_REBALANCE, &st, SHARE_NONE, NULL, NULL);
}

