/* Row-split logistic regression over MPI ranks (workers/rowsplit.h).
 *
 * One request: rank 0 broadcasts a header of 4 doubles {cmd, same_point,
 * want_grad, arg} (arg: the evaluation set, or hvp_change's radius), then the vectors the command needs (theta and W
 * unless same_point says the workers still hold the last ones bit for bit,
 * V for a product, the upper level's W); every rank computes its block into
 * {status, value, vector} and MPI_Gather brings the P records to rank 0,
 * which adds them in rank order. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "mpi_internal.h"
#include "rowsplit.h"

#define RS_HEADER 4

struct hyd_rowsplit {
  hyd_problem problem; /* rank 0's table; ctx = this */
  hyd_allocator alloc;
  hyd_logistic *block;
  const hyd_problem *bp; /* the block's own table */
  size_t n, p, d;
  size_t *eval[2], n_eval[2];
  MPI_Comm comm;
  int have_comm, rank, size, connected;
  double *payload; /* p + 2n: theta, W, then V (or the upper level's W) */
  double *record;  /* 2 + n: status, value, vector */
  double *gathered; /* rank 0: size * (2 + n) */
  int last_valid;  /* rank 0: payload's theta, W are on every worker */
  char err[256];
  hyd_rowsplit_stats st;
};

void hyd_rowsplit_block(size_t n, int rank, int size, size_t *lo, size_t *hi)
{
  size_t r = (size_t)rank, P = (size_t)(size > 0 ? size : 1);
  /* r n / P without overflow for any n < SIZE_MAX / P */
  *lo = r * (n / P) + r * (n % P) / P;
  *hi = (r + 1) * (n / P) + (r + 1) * (n % P) / P;
}

static int rs_fail(hyd_rowsplit *rs, int status, const char *what)
{
  snprintf(rs->err, sizeof rs->err, "%s", what);
  return status;
}

static int mpi_ok(hyd_rowsplit *rs, int mrc, const char *call)
{
  if (mrc == MPI_SUCCESS)
    return HYD_OK;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(mrc, text, &len) != MPI_SUCCESS)
    snprintf(text, sizeof text, "error %d", mrc);
  snprintf(rs->err, sizeof rs->err, "rank %d: %s failed: %.150s", rs->rank, call,
           text);
  return HYD_MPI_ECOMM;
}

/* ---- the block's computations (every rank) ---- */

/* Record length of a command: status, value, then the vector part. */
static size_t record_len(const hyd_rowsplit *rs, int cmd, int want_grad)
{
  if (cmd == HYD_ROWSPLIT_EVAL)
    return 4; /* status, loss sum, correct count, rows */
  if ((cmd == HYD_ROWSPLIT_UPPER && !want_grad) || cmd == HYD_ROWSPLIT_CHANGE)
    return 2;
  return 2 + rs->n;
}

/* Fills rs->record for a command whose vectors are in rs->payload. */
static void compute_block(hyd_rowsplit *rs, int cmd, int want_grad,
                          double arg)
{
  double t0 = MPI_Wtime();
  const double *theta = rs->payload, *W = rs->payload + rs->p;
  const double *V = W + rs->n;
  double *rec = rs->record, value = 0.0;
  int st = HYD_OK;
  void *ctx = rs->bp->ctx;
  switch (cmd) {
  case HYD_ROWSPLIT_GRAD:
    st = rs->bp->lower_grad(ctx, 0, theta, W, &value, rec + 2);
    break;
  case HYD_ROWSPLIT_HVP:
    st = rs->bp->lower_hvp(ctx, 0, theta, W, V, rec + 2);
    break;
  case HYD_ROWSPLIT_UPPER:
    st = rs->bp->upper(ctx, 0, V, &value, want_grad ? rec + 2 : NULL);
    break;
  case HYD_ROWSPLIT_CHANGE:
    st = rs->bp->hvp_change(ctx, 0, theta, W, V, arg, &value);
    break;
  case HYD_ROWSPLIT_EVAL: {
    size_t k = arg == 1.0 ? 1 : 0, m = rs->n_eval[k];
    double loss = 0.0, acc = 0.0;
    if (m > 0)
      st = hyd_logistic_evaluate(rs->block, V, rs->eval[k], m, &loss, &acc);
    value = loss * (double)m;
    rec[2] = acc * (double)m;
    rec[3] = (double)m;
    break;
  }
  default:
    st = HYD_EINVAL;
  }
  rec[0] = (double)st;
  rec[1] = value;
  rs->st.busy_seconds += MPI_Wtime() - t0;
}

/* ---- rank 0: one request ---- */

static int bcast(hyd_rowsplit *rs, double *buf, size_t count, int cmd)
{
  if (rs->rank == 0)
    rs->st.bytes_sent[cmd] +=
        (double)(count * sizeof(double)) * (double)(rs->size - 1);
  return mpi_ok(rs, MPI_Bcast(buf, (int)count, MPI_DOUBLE, 0, rs->comm),
                "MPI_Bcast");
}

/* The gather of the records and, on rank 0, the first failing rank's
 * status or HYD_OK with out (length len - 2) and *value the rank-ordered
 * sums. */
static int gather_sum(hyd_rowsplit *rs, int cmd, size_t len, double *value,
                      double *out)
{
  if (rs->rank != 0)
    rs->st.bytes_sent[cmd] += (double)(len * sizeof(double));
  int rc = mpi_ok(rs, MPI_Gather(rs->record, (int)len, MPI_DOUBLE,
                                 rs->gathered, (int)len, MPI_DOUBLE, 0,
                                 rs->comm),
                  "MPI_Gather");
  if (rc || rs->rank != 0)
    return rc;
  for (int r = 0; r < rs->size; r++) {
    int st = (int)rs->gathered[(size_t)r * len];
    if (st != HYD_OK) {
      snprintf(rs->err, sizeof rs->err, "rank %d: block callback failed: %s",
               r, hyd_mpi_strerror(st));
      return st;
    }
  }
  const double *g = rs->gathered;
  double v = g[1];
  if (out)
    memcpy(out, g + 2, (len - 2) * sizeof *out);
  for (int r = 1; r < rs->size; r++) {
    const double *gr = g + (size_t)r * len;
    v += gr[1];
    if (out)
      for (size_t k = 0; k + 2 < len; k++)
        out[k] += gr[2 + k];
  }
  if (value)
    *value = v;
  return HYD_OK;
}

/* Rank 0: sends the request, computes its block, reduces. theta/W: the
 * lower level's point (GRAD, HVP); V: the product's vector or the upper
 * level's W. */
static int request(hyd_rowsplit *rs, int cmd, const double *theta,
                   const double *W, const double *V, int want_grad, double arg,
                   double *value, double *out)
{
  if (!rs->connected)
    return rs_fail(rs, HYD_EINVAL, "row-split problem not connected");
  rs->st.calls[cmd] += 1;
  double *th = rs->payload, *w = th + rs->p, *v = w + rs->n;
  int point = cmd == HYD_ROWSPLIT_GRAD || cmd == HYD_ROWSPLIT_HVP ||
              cmd == HYD_ROWSPLIT_CHANGE;
  int same = point && rs->last_valid &&
             memcmp(th, theta, rs->p * sizeof *th) == 0 &&
             memcmp(w, W, rs->n * sizeof *w) == 0;
  double hdr[RS_HEADER] = {(double)cmd, same, want_grad, arg};
  int rc = bcast(rs, hdr, RS_HEADER, cmd);
  if (!rc && point && !same) {
    memcpy(th, theta, rs->p * sizeof *th);
    memcpy(w, W, rs->n * sizeof *w);
    rs->last_valid = 0; /* until the workers have them */
    rc = bcast(rs, rs->payload, rs->p + rs->n, cmd);
    rs->last_valid = rc == HYD_OK;
  }
  if (!rc && V) {
    memcpy(v, V, rs->n * sizeof *v);
    rc = bcast(rs, v, rs->n, cmd);
  }
  if (rc) {
    /* the workers may now be out of step: refuse further requests */
    rs->connected = 0;
    return rc;
  }
  compute_block(rs, cmd, want_grad, arg);
  rc = gather_sum(rs, cmd, record_len(rs, cmd, want_grad), value, out);
  if (rc == HYD_MPI_ECOMM)
    rs->connected = 0;
  return rc;
}

/* ---- rank 0's table ---- */

static size_t rs_lower_dim(void *ctx, size_t sample)
{
  hyd_rowsplit *rs = ctx;
  return sample == 0 ? rs->n : 0;
}

static int rs_lower_grad(void *ctx, size_t sample, const double *theta,
                         const double *W, double *value, double *grad)
{
  hyd_rowsplit *rs = ctx;
  if (sample != 0 || !theta || !W || !grad)
    return HYD_EINVAL;
  double v;
  int rc = request(rs, HYD_ROWSPLIT_GRAD, theta, W, NULL, 1, 0, &v, grad);
  if (!rc && value)
    *value = v;
  return rc;
}

static int rs_lower_hvp(void *ctx, size_t sample, const double *theta,
                        const double *W, const double *V, double *out)
{
  hyd_rowsplit *rs = ctx;
  if (sample != 0 || !theta || !W || !V || !out)
    return HYD_EINVAL;
  return request(rs, HYD_ROWSPLIT_HVP, theta, W, V, 1, 0, NULL, out);
}

static int rs_upper(void *ctx, size_t sample, const double *W, double *value,
                    double *grad)
{
  hyd_rowsplit *rs = ctx;
  if (sample != 0 || !W || !value)
    return HYD_EINVAL;
  return request(rs, HYD_ROWSPLIT_UPPER, NULL, NULL, W, grad != NULL, 0,
                 value, grad);
}

/* Each block bounds the change over its own rows (and rank 0's adds the
 * penalty's): the sum bounds the whole. */
static int rs_hvp_change(void *ctx, size_t sample, const double *theta,
                         const double *W, const double *Q, double radius,
                         double *M)
{
  hyd_rowsplit *rs = ctx;
  if (sample != 0 || !theta || !W || !Q || !M)
    return HYD_EINVAL;
  return request(rs, HYD_ROWSPLIT_CHANGE, theta, W, Q, 0, radius, M, NULL);
}

/* B, B^T and the constants need no other rank: W is replicated, B is the
 * penalty's, and connect gave rank 0's block the whole problem's bounds. */
static int rs_cross_tprod(void *ctx, size_t sample, const double *theta,
                          const double *W, const double *q, double *out)
{
  hyd_rowsplit *rs = ctx;
  if (!rs->connected)
    return HYD_EINVAL;
  return rs->bp->cross_tprod(rs->bp->ctx, sample, theta, W, q, out);
}

static int rs_cross_prod(void *ctx, size_t sample, const double *theta,
                         const double *W, const double *v, double *out)
{
  hyd_rowsplit *rs = ctx;
  if (!rs->connected)
    return HYD_EINVAL;
  return rs->bp->cross_prod(rs->bp->ctx, sample, theta, W, v, out);
}

static int rs_constants(void *ctx, size_t sample, const double *theta,
                        const double *W, hyd_constants *out)
{
  hyd_rowsplit *rs = ctx;
  if (!rs->connected)
    return HYD_EINVAL;
  return rs->bp->constants(rs->bp->ctx, sample, theta, W, out);
}

hyd_rowsplit *hyd_rowsplit_of(const hyd_problem *problem)
{
  return problem && problem->lower_grad == rs_lower_grad ? problem->ctx
                                                         : NULL;
}

/* ---- life cycle ---- */

static void *rs_std_alloc(void *user, size_t size)
{
  (void)user;
  return malloc(size);
}

static void rs_std_release(void *user, void *ptr)
{
  (void)user;
  free(ptr);
}

int hyd_rowsplit_prepare(hyd_rowsplit **out, hyd_logistic *block,
                         const size_t *const eval_rows[2],
                         const size_t n_eval[2], const hyd_allocator *alloc)
{
  if (!out)
    return HYD_EINVAL;
  *out = NULL;
  const hyd_problem *bp = hyd_logistic_problem(block);
  size_t d, C;
  if (!bp || bp->n_samples != 1 ||
      hyd_logistic_sizes(block, 0, &d, &C, NULL, NULL) != HYD_OK)
    return HYD_EINVAL;
  size_t n = bp->lower_dim(bp->ctx, 0), p = bp->n_theta;
  if (n == 0 || n > (size_t)INT_MAX - 8 || p > (size_t)INT_MAX - n ||
      d > (size_t)INT_MAX / d)
    return HYD_EINVAL;
  hyd_allocator a = {rs_std_alloc, rs_std_release, NULL};
  if (alloc)
    a = *alloc;
  hyd_rowsplit *rs = a.alloc(a.user, sizeof *rs);
  if (!rs)
    return HYD_ENOMEM;
  memset(rs, 0, sizeof *rs);
  rs->alloc = a;
  rs->block = block;
  rs->bp = bp;
  rs->n = n;
  rs->p = p;
  rs->d = d;
  rs->payload = hydw_xalloc(&a, p + 2 * n, sizeof(double));
  rs->record = hydw_xalloc(&a, 2 + n, sizeof(double));
  int rc = rs->payload && rs->record ? HYD_OK : HYD_ENOMEM;
  for (int k = 0; k < 2 && !rc; k++) {
    size_t m = eval_rows && n_eval && eval_rows[k] ? n_eval[k] : 0;
    if (m == 0)
      continue;
    rs->eval[k] = hydw_xalloc(&a, m, sizeof(size_t));
    if (!rs->eval[k]) {
      rc = HYD_ENOMEM;
      break;
    }
    memcpy(rs->eval[k], eval_rows[k], m * sizeof(size_t));
    rs->n_eval[k] = m;
  }
  if (rc) {
    hyd_rowsplit_destroy(rs);
    return rc;
  }
  memset(rs->payload, 0, (p + 2 * n) * sizeof(double));
  hyd_problem *t = &rs->problem;
  t->version = HYD_PROBLEM_VERSION;
  t->n_theta = p;
  t->n_samples = 1;
  t->upper_convex = bp->upper_convex;
  t->lower_nonconvex = bp->lower_nonconvex;
  t->ctx = rs;
  t->lower_dim = rs_lower_dim;
  t->lower_start = NULL;
  t->lower_grad = rs_lower_grad;
  t->lower_hvp = rs_lower_hvp;
  t->cross_tprod = rs_cross_tprod;
  t->cross_prod = bp->cross_prod ? rs_cross_prod : NULL;
  t->upper = rs_upper;
  t->constants = rs_constants;
  t->hvp_change = bp->hvp_change ? rs_hvp_change : NULL;
  *out = rs;
  return HYD_OK;
}

/* The same status on every rank: the worst (largest) wins; an MPI failure
 * of the agreement itself is HYD_MPI_ECOMM. */
static int agree(hyd_rowsplit *rs, int rc)
{
  int worst = rc;
  if (MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, rs->comm) !=
      MPI_SUCCESS)
    return rs_fail(rs, HYD_MPI_ECOMM, "MPI_Allreduce failed");
  return worst;
}

/* Rank 0: sum of every rank's Gram matrices (rank order) into Gt, Gv;
 * others: send theirs. info = {n_train, n_val, cube_sum} summed likewise. */
static int sum_grams(hyd_rowsplit *rs, double *Gt, double *Gv, double *tmp,
                     double *info)
{
  size_t dd = rs->d * rs->d;
  int cnt = (int)dd;
  if (rs->rank != 0) {
    int rc = mpi_ok(rs, MPI_Send(info, 3, MPI_DOUBLE, 0, 1, rs->comm),
                    "MPI_Send");
    if (!rc)
      rc = mpi_ok(rs, MPI_Send(Gt, cnt, MPI_DOUBLE, 0, 2, rs->comm),
                  "MPI_Send");
    if (!rc)
      rc = mpi_ok(rs, MPI_Send(Gv, cnt, MPI_DOUBLE, 0, 3, rs->comm),
                  "MPI_Send");
    return rc;
  }
  for (int r = 1; r < rs->size; r++) {
    double in[3];
    int rc = mpi_ok(rs, MPI_Recv(in, 3, MPI_DOUBLE, r, 1, rs->comm,
                                 MPI_STATUS_IGNORE), "MPI_Recv");
    for (int k = 0; k < 3 && !rc; k++)
      info[k] += in[k];
    for (int which = 0; which < 2 && !rc; which++) {
      double *G = which ? Gv : Gt;
      rc = mpi_ok(rs, MPI_Recv(tmp, cnt, MPI_DOUBLE, r, 2 + which, rs->comm,
                               MPI_STATUS_IGNORE), "MPI_Recv");
      for (size_t k = 0; k < dd && !rc; k++)
        G[k] += tmp[k];
    }
    if (rc)
      return rc;
  }
  return HYD_OK;
}

int hyd_rowsplit_connect(hyd_rowsplit *rs, MPI_Comm comm)
{
  if (!rs || rs->have_comm)
    return HYD_EINVAL;
  if (MPI_Comm_dup(comm, &rs->comm) != MPI_SUCCESS)
    return rs_fail(rs, HYD_MPI_ECOMM, "MPI_Comm_dup failed");
  rs->have_comm = 1;
  int rc = mpi_ok(rs, MPI_Comm_set_errhandler(rs->comm, MPI_ERRORS_RETURN),
                  "MPI_Comm_set_errhandler");
  if (!rc)
    rc = mpi_ok(rs, MPI_Comm_rank(rs->comm, &rs->rank), "MPI_Comm_rank");
  if (!rc)
    rc = mpi_ok(rs, MPI_Comm_size(rs->comm, &rs->size), "MPI_Comm_size");
  if (rc)
    return rc; /* before the first collective: every rank sees it alike */
  /* The same shape everywhere. */
  double shape[3] = {(double)rs->n, (double)rs->p, (double)rs->d}, lo[3];
  rc = mpi_ok(rs, MPI_Allreduce(shape, lo, 3, MPI_DOUBLE, MPI_MIN, rs->comm),
              "MPI_Allreduce");
  if (!rc && memcmp(shape, lo, sizeof shape) != 0)
    rc = rs_fail(rs, HYD_EINVAL, "the ranks' blocks differ in shape");
  rc = agree(rs, rc);
  if (rc)
    return rc;
  const hyd_allocator *a = &rs->alloc;
  size_t dd = rs->d * rs->d, ntr = 0, nval = 0;
  double *Gt = hydw_xalloc(a, dd, sizeof(double));
  double *Gv = hydw_xalloc(a, dd, sizeof(double));
  double *tmp = rs->rank == 0 && rs->size > 1
                    ? hydw_xalloc(a, dd, sizeof(double))
                    : NULL;
  if (rs->rank == 0)
    rs->gathered = hydw_xalloc(a, (size_t)rs->size, (2 + rs->n) *
                                                            sizeof(double));
  double info[3] = {0, 0, 0};
  rc = Gt && Gv && (tmp || rs->rank != 0 || rs->size == 1) &&
               (rs->gathered || rs->rank != 0)
           ? HYD_OK
           : rs_fail(rs, HYD_ENOMEM, "out of memory");
  if (!rc)
    rc = hyd_logistic_sizes(rs->block, 0, NULL, NULL, &ntr, &nval);
  if (!rc)
    rc = hyd_logistic_gram(rs->block, 0, Gt, &info[2]);
  if (!rc)
    rc = hyd_logistic_gram(rs->block, 1, Gv, NULL);
  info[0] = (double)ntr;
  info[1] = (double)nval;
  if (rc && !rs->err[0])
    rs_fail(rs, rc, "computing the block's Gram matrices failed");
  rc = agree(rs, rc);
  if (!rc)
    rc = sum_grams(rs, Gt, Gv, tmp, info);
  /* rank 0: the whole problem's bounds, and its status, to everyone */
  double consts[6] = {(double)rc, info[0], info[1], 0.0, 0.0, info[2]};
  if (rs->rank == 0 && !rc) {
    rc = hyd_logistic_lmax_bound(rs->d, Gt, &consts[3], a);
    if (!rc)
      rc = hyd_logistic_lmax_bound(rs->d, Gv, &consts[4], a);
    consts[0] = (double)rc;
  }
  hydw_xfree(a, Gt);
  hydw_xfree(a, Gv);
  hydw_xfree(a, tmp);
  int brc = mpi_ok(rs, MPI_Bcast(consts, 6, MPI_DOUBLE, 0, rs->comm),
                   "MPI_Bcast");
  if (!brc && rs->rank != 0 && rc == HYD_OK)
    rc = (int)consts[0];
  if (brc)
    rc = brc;
  if (!rc) {
    hyd_logistic_block b = {(size_t)consts[1], (size_t)consts[2],
                            rs->rank == 0, consts[3], consts[4], consts[5]};
    rc = hyd_logistic_set_block(rs->block, &b);
    if (rc)
      rs_fail(rs, rc, "hyd_logistic_set_block refused the totals");
  }
  rc = agree(rs, rc);
  rs->connected = rc == HYD_OK;
  return rc;
}

int hyd_rowsplit_create(hyd_rowsplit **out, hyd_logistic *block,
                        MPI_Comm comm, const hyd_allocator *alloc)
{
  int rc = hyd_rowsplit_prepare(out, block, NULL, NULL, alloc);
  /* every rank must reach the collective connect, even after a failure
   * here: an unprepared rank takes part through a stand-in */
  if (rc) {
    MPI_Comm dup;
    int lrc = rc;
    if (MPI_Comm_dup(comm, &dup) != MPI_SUCCESS)
      return HYD_MPI_ECOMM;
    /* mirror connect's first collectives: the shape check, then agree */
    double shape[3] = {-1, -1, -1}, lo[3];
    MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
    if (MPI_Allreduce(shape, lo, 3, MPI_DOUBLE, MPI_MIN, dup) ==
        MPI_SUCCESS)
      MPI_Allreduce(&lrc, &rc, 1, MPI_INT, MPI_MAX, dup);
    MPI_Comm_free(&dup);
    return lrc;
  }
  rc = hyd_rowsplit_connect(*out, comm);
  if (rc) {
    hyd_rowsplit_destroy(*out);
    *out = NULL;
  }
  return rc;
}

const hyd_problem *hyd_rowsplit_problem(const hyd_rowsplit *rs)
{
  return rs ? &rs->problem : NULL;
}

int hyd_rowsplit_connected(const hyd_rowsplit *rs)
{
  return rs && rs->connected;
}

int hyd_rowsplit_rank(const hyd_rowsplit *rs) { return rs ? rs->rank : -1; }

int hyd_rowsplit_serve(hyd_rowsplit *rs)
{
  if (!rs || !rs->connected || rs->rank == 0)
    return HYD_EINVAL;
  double *th = rs->payload, *v = th + rs->p + rs->n;
  for (;;) {
    double hdr[RS_HEADER];
    int rc = bcast(rs, hdr, RS_HEADER, HYD_ROWSPLIT_STOP);
    if (rc)
      return rc;
    int cmd = (int)hdr[0], same = hdr[1] != 0.0, want = hdr[2] != 0.0;
    if (cmd <= HYD_ROWSPLIT_STOP || cmd >= HYD_ROWSPLIT_NCMD) {
      rs->st.calls[HYD_ROWSPLIT_STOP] += 1;
      rs->connected = 0;
      return HYD_OK;
    }
    rs->st.calls[cmd] += 1;
    int point = cmd == HYD_ROWSPLIT_GRAD || cmd == HYD_ROWSPLIT_HVP ||
                cmd == HYD_ROWSPLIT_CHANGE;
    if (point && !same && (rc = bcast(rs, th, rs->p + rs->n, cmd)))
      return rc;
    if (cmd != HYD_ROWSPLIT_GRAD && (rc = bcast(rs, v, rs->n, cmd)))
      return rc;
    compute_block(rs, cmd, want, hdr[3]);
    if ((rc = gather_sum(rs, cmd, record_len(rs, cmd, want), NULL, NULL)))
      return rc;
  }
}

int hyd_rowsplit_shutdown(hyd_rowsplit *rs)
{
  if (!rs || rs->rank != 0)
    return HYD_EINVAL;
  if (!rs->connected)
    return HYD_OK;
  rs->connected = 0;
  rs->st.calls[HYD_ROWSPLIT_STOP] += 1;
  double hdr[RS_HEADER] = {HYD_ROWSPLIT_STOP, 0, 0, 0};
  return bcast(rs, hdr, RS_HEADER, HYD_ROWSPLIT_STOP);
}

int hyd_rowsplit_evaluate(hyd_rowsplit *rs, const double *W, int set,
                          double *loss, double *accuracy, size_t *n_rows)
{
  if (!rs || !W || rs->rank != 0 || (set != 0 && set != 1))
    return HYD_EINVAL;
  double sums[2], total;
  int rc = request(rs, HYD_ROWSPLIT_EVAL, NULL, NULL, W, 0, set, &total,
                   sums);
  if (rc)
    return rc;
  if (!(sums[1] > 0))
    return HYD_EINVAL;
  if (loss)
    *loss = total / sums[1];
  if (accuracy)
    *accuracy = sums[0] / sums[1];
  if (n_rows)
    *n_rows = (size_t)sums[1];
  return HYD_OK;
}

void hyd_rowsplit_get_stats(const hyd_rowsplit *rs, hyd_rowsplit_stats *out)
{
  if (!out)
    return;
  memset(out, 0, sizeof *out);
  if (rs)
    *out = rs->st;
}

const char *hyd_rowsplit_errmsg(const hyd_rowsplit *rs)
{
  return rs ? rs->err : "";
}

void hyd_rowsplit_destroy(hyd_rowsplit *rs)
{
  if (!rs)
    return;
  hyd_allocator a = rs->alloc;
  if (rs->have_comm)
    MPI_Comm_free(&rs->comm);
  hydw_xfree(&a, rs->payload);
  hydw_xfree(&a, rs->record);
  hydw_xfree(&a, rs->gathered);
  hydw_xfree(&a, rs->eval[0]);
  hydw_xfree(&a, rs->eval[1]);
  a.release(a.user, rs);
}
