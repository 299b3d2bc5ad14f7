/* The collective step every request of the MPI oracle is made of: rank 0
 * broadcasts, every rank works, one MPI_Gatherv brings each rank's status
 * record and results home (workers/mpi_internal.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mpi_internal.h"

void *hydw_xalloc(const hyd_allocator *a, size_t count, size_t size)
{
  if (count == 0)
    count = 1; /* a valid pointer even for empty shares */
  if (size != 0 && count > SIZE_MAX / size)
    return NULL;
  return a->alloc(a->user, count * size);
}

void hydw_xfree(const hyd_allocator *a, void *ptr)
{
  if (ptr)
    a->release(a->user, ptr);
}

int hydw_set_error(char *buf, int status, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, ERRMSG_SIZE, fmt, ap);
  va_end(ap);
  return status;
}

/* Every MPI return is checked; a failure becomes HYD_MPI_ECOMM with the
 * library's text, and the step ends on this rank. */
int hydw_mpi_check(hyd_mpi_oracle *o, int rc, const char *what)
{
  if (rc == MPI_SUCCESS)
    return HYD_OK;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
    snprintf(text, sizeof text, "error %d", rc);
  return hydw_set_error(o->errmsg, HYD_MPI_ECOMM, "rank %d: %s failed: %s",
                   o->rank, what, text);
}


void hydw_rec_ok(const hyd_mpi_oracle *o, status_rec *st)
{
  memset(st, 0, sizeof *st);
  st->status = HYD_OK;
  st->sample = (double)(o->m * o->T);
}

/* Records sample i's failure with the text the serial oracle would show. */
void hydw_rec_fail(status_rec *st, const hyd_sample *s, size_t i, int rc)
{
  st->status = rc;
  st->sample = (double)i;
  const char *msg = s ? hyd_sample_errmsg(s) : "";
  if (msg[0] != '\0')
    snprintf(st->msg, sizeof st->msg, "%s", msg);
  else
    snprintf(st->msg, sizeof st->msg, "sample %zu: %s", i, hyd_strerror(rc));
}

double *hydw_send_data(hyd_mpi_oracle *o)
{
  return (double *)(void *)(o->sendbuf + REC_BYTES);
}

/* Doubles rank r contributes to a gather of `kind` (n: trials solved). */
size_t hydw_share_of(const hyd_mpi_oracle *o, int kind, int r, size_t n)
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

void hydw_count_bytes(hyd_mpi_oracle *o, int cmd, size_t bytes)
{
  o->stats.bytes_sent[cmd] += (double)bytes;
}

/* Broadcast from rank `root` of `comm` (size `n_ranks`); counts the
 * payload once per receiver on the root. */
int hydw_bcast(hyd_mpi_oracle *o, int cmd, void *buf, size_t count,
                 MPI_Datatype type, size_t elem, int root, MPI_Comm comm,
                 int n_ranks)
{
  int me = 0;
  MPI_TRY(o, MPI_Comm_rank(comm, &me));
  MPI_TRY(o, MPI_Bcast(buf, (int)count, type, root, comm));
  if (me == root)
    hydw_count_bytes(o, cmd, count * elem * (size_t)(n_ranks - 1));
  return HYD_OK;
}

/* The end of every step: each rank sends its record and `nd` doubles
 * (already in send_data); rank 0 receives them per rank at displs[r]. */
int hydw_gather(hyd_mpi_oracle *o, int cmd, const status_rec *st, int kind,
                  size_t n)
{
  memcpy(o->sendbuf, st, REC_BYTES);
  size_t mine = REC_BYTES + hydw_share_of(o, kind, o->rank, n) * sizeof(double);
  if (o->rank == 0) {
    size_t off = 0;
    for (int r = 0; r < o->size; r++) {
      o->counts[r] =
          (int)(REC_BYTES + hydw_share_of(o, kind, r, n) * sizeof(double));
      o->displs[r] = (int)off;
      off += (size_t)o->counts[r];
    }
  } else {
    hydw_count_bytes(o, cmd, mine);
  }
  MPI_TRY(o, MPI_Gatherv(o->sendbuf, (int)mine, MPI_BYTE, o->recvbuf,
                         o->counts, o->displs, MPI_BYTE, 0, o->comm));
  return HYD_OK;
}

/* Rank 0: the failure with the lowest sample index, as the serial loop
 * would have met it first. */
int hydw_collect_status(hyd_mpi_oracle *o)
{
  status_rec best, st;
  hydw_rec_ok(o, &best);
  for (int r = 0; r < o->size; r++) {
    memcpy(&st, o->recvbuf + o->displs[r], REC_BYTES);
    if (st.status != HYD_OK && (best.status == HYD_OK || st.sample < best.sample))
      best = st;
  }
  if (best.status == HYD_OK)
    return HYD_OK;
  best.msg[sizeof best.msg - 1] = '\0';
  return hydw_set_error(o->errmsg, (int)best.status, "%s", best.msg);
}

/* Rank 0: start of rank r's doubles in the last gather. */
const unsigned char *hydw_rank_data(const hyd_mpi_oracle *o, int r)
{
  return o->recvbuf + o->displs[r] + REC_BYTES;
}

/* Length in doubles of sample i's record in a gather of `kind`. */
size_t hydw_record_len(const hyd_mpi_oracle *o, int kind, size_t i)
{
  switch (kind) {
  case SHARE_EVAL: return EVAL_DOUBLES + o->p;
  case SHARE_ONE: return 1;
  case SHARE_TRIAL: return TRIAL_DOUBLES;
  case SHARE_STATE: return 2 * o->dim[i] + 1;
  default: return 0;
  }
}


/* Rank 0, after a gather of per-owned-sample records: each rank sent its
 * samples in index order, so walking the blocks rank by rank finds every
 * sample's record; put() files it under its sample index. */
void hydw_for_each_owned(hyd_mpi_oracle *o, int kind, put_fn put, void *ctx)
{
  const size_t *i = o->by_owner;
  for (int r = 0; r < o->size; r++) {
    const unsigned char *src = hydw_rank_data(o, r);
    for (size_t c = 0; c < o->nprim[r]; c++, i++) {
      put(o, *i, src, ctx);
      src += hydw_record_len(o, kind, *i) * sizeof(double);
    }
  }
}

size_t hydw_max3(size_t x, size_t y, size_t z)
{
  size_t w = x > y ? x : y;
  return w > z ? w : z;
}

/* The common tail: gather, and on rank 0 the status and each sample's
 * record filed by put (NULL: status only). Workers return HYD_OK unless
 * MPI failed. */
int hydw_finish(hyd_mpi_oracle *o, int cmd, const status_rec *st, int kind,
                  put_fn put, void *ctx)
{
  int rc = hydw_gather(o, cmd, st, kind, 0);
  if (rc != HYD_OK || o->rank != 0)
    return rc;
  if ((rc = hydw_collect_status(o)) != HYD_OK)
    return rc;
  if (put)
    hydw_for_each_owned(o, kind, put, ctx);
  return HYD_OK;
}

