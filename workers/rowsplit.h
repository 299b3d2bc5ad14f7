/* workers/rowsplit.h: data-parallel evaluation of ONE coupled logistic
 * regression (m = 1) over the ranks of an MPI communicator: the training
 * and validation rows are split into blocks, one per rank (design/maid.md
 * section 7, last paragraph; docs/parallel.md "Row-split problems").
 *
 * Every rank builds a hyd_logistic with one fold over ITS block of rows
 * (hyd_logistic_create with HYD_LOGISTIC_NO_BOUNDS: the block's own
 * lambda_max bounds are not needed). Rank 0 gets a hyd_problem table
 * (n_samples = 1, the same n_theta and lower_dim as the block's) whose
 *   lower_grad, lower_hvp, upper
 * broadcast a small header and the vectors (theta, W, V) to the other
 * ranks, compute rank 0's block, and gather the P partial results (value
 * and vector) to rank 0, which adds them IN RANK ORDER (a deterministic
 * reduction, not MPI_Allreduce), while
 *   cross_tprod, cross_prod, constants
 * are computed on rank 0 alone (B is the penalty's, the constants come
 * from reduced quantities, see below): W is replicated, nothing to send.
 * The other ranks run hyd_rowsplit_serve until rank 0 calls
 * hyd_rowsplit_shutdown. MAID on rank 0 uses its ordinary serial oracle
 * with this table.
 *
 * The block objects are set up (hyd_logistic_set_block) so that the data
 * terms are divided by the TOTAL row counts and the penalty is added once,
 * by rank 0's block. Constants: the d x d Gram matrices X_b^T X_b of every
 * block (training and validation) are sent to rank 0 once at connect and
 * added in rank order; rank 0 certifies lambda_max of the sums (the same
 * method as the serial create) and sums ||x_r||^3; so L, Lg and LAinv are
 * those of the whole problem up to the rounding of the sums (not the
 * looser sum of per-block bounds).
 *
 * What is identical: with P = 1 every number equals the serial
 * hyd_logistic's on the same rows bit for bit (the block is the whole set;
 * lambda_max comes from the same Gram matrix when n_train >= d). With
 * P > 1 the sums are grouped by block: sum_b (sum_{r in b} ...) instead of
 * one running sum over all rows, so results differ from P = 1 in the last
 * bits (a few ulps of the sum's magnitude, relative differences ~1e-15 for
 * the gradient); for a fixed P they are reproducible run to run (the
 * reduction order is fixed, independent of MPI's collective algorithms).
 *
 * Blocks are contiguous: rank r of P takes rows [r n / P, (r + 1) n / P)
 * of the training rows and of the validation rows (hyd_rowsplit_block);
 * every block needs at least one training and one validation row.
 *
 * Failures: a failing callback on any rank makes rank 0's call return that
 * status (the lowest failing rank's); a failed MPI call gives
 * HYD_MPI_ECOMM on the ranks that see it. Nothing aborts. */
#ifndef HYPERD_WORKERS_ROWSPLIT_H
#define HYPERD_WORKERS_ROWSPLIT_H

#include <stddef.h>

#include <mpi.h>

#include <hyperd/logistic.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#include "mpi_oracle.h" /* HYD_MPI_ECOMM, hyd_mpi_strerror */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hyd_rowsplit hyd_rowsplit;

/* Requests rank 0 sends (index of hyd_rowsplit_stats arrays). */
enum hyd_rowsplit_cmd {
  HYD_ROWSPLIT_STOP = 0,
  HYD_ROWSPLIT_GRAD,
  HYD_ROWSPLIT_HVP,
  HYD_ROWSPLIT_UPPER,
  HYD_ROWSPLIT_EVAL,
  HYD_ROWSPLIT_CHANGE, /* hvp_change: the blocks' bounds add up */
  HYD_ROWSPLIT_NCMD
};

/* The block [*lo, *hi) of n rows that rank `rank` of `size` owns. */
void hyd_rowsplit_block(size_t n, int rank, int size, size_t *lo,
                        size_t *hi);

/* Local (no communication): wraps this rank's block. `block` (one fold)
 * is borrowed and must outlive the object; it is modified at connect
 * (hyd_logistic_set_block). eval_rows[0..1] (val, test; NULL / 0: none)
 * are this block's rows for hyd_rowsplit_evaluate, copied. The problem
 * table exists from here on (for shapes, e.g. hyd_maid_create), but its
 * callbacks fail with HYD_EINVAL until connect. */
int hyd_rowsplit_prepare(hyd_rowsplit **out, hyd_logistic *block,
                         const size_t *const eval_rows[2],
                         const size_t n_eval[2], const hyd_allocator *alloc);

/* Collective over comm (duplicated): sizes, Gram matrices and ||x||^3 sums
 * to rank 0, the whole problem's constants back to every block. Returns
 * the same status on every rank. */
int hyd_rowsplit_connect(hyd_rowsplit *rs, MPI_Comm comm);

/* prepare + connect. */
int hyd_rowsplit_create(hyd_rowsplit **out, hyd_logistic *block,
                        MPI_Comm comm, const hyd_allocator *alloc);

/* Rank 0: the table to solve with (borrowed, valid until destroy). */
const hyd_problem *hyd_rowsplit_problem(const hyd_rowsplit *rs);

/* The object behind a table made by hyd_rowsplit_problem, NULL for any
 * other table (so that a caller holding only a hyd_problem can tell). */
hyd_rowsplit *hyd_rowsplit_of(const hyd_problem *problem);

/* 1 once connect succeeded (and until shutdown), else 0. */
int hyd_rowsplit_connected(const hyd_rowsplit *rs);
int hyd_rowsplit_rank(const hyd_rowsplit *rs);

/* Ranks > 0: answers requests until rank 0's shutdown. HYD_OK after a
 * shutdown, HYD_MPI_ECOMM if MPI failed, HYD_EINVAL on rank 0 or before
 * connect. Callback failures go to rank 0, not here. */
int hyd_rowsplit_serve(hyd_rowsplit *rs);

/* Rank 0: the workers return from serve. Idempotent. */
int hyd_rowsplit_shutdown(hyd_rowsplit *rs);

/* Rank 0: mean cross-entropy and accuracy of W over the eval rows `set`
 * (0: val, 1: test) of all blocks. HYD_EINVAL if no block has such rows. */
int hyd_rowsplit_evaluate(hyd_rowsplit *rs, const double *W, int set,
                          double *loss, double *accuracy, size_t *n_rows);

/* Communication counters of this rank (as hyd_mpi_stats: logical payload
 * bytes this rank sent; broadcast roots count once per receiver). */
typedef struct hyd_rowsplit_stats {
  double calls[HYD_ROWSPLIT_NCMD];
  double bytes_sent[HYD_ROWSPLIT_NCMD];
  double busy_seconds; /* in this rank's block computations */
} hyd_rowsplit_stats;
void hyd_rowsplit_get_stats(const hyd_rowsplit *rs, hyd_rowsplit_stats *out);

/* Text of the last failure on this rank, "" if none. */
const char *hyd_rowsplit_errmsg(const hyd_rowsplit *rs);

/* Frees the object (MPI_Comm_free of the duplicate: call it on every rank
 * after shutdown / serve); accepts NULL. Does not free the block. */
void hyd_rowsplit_destroy(hyd_rowsplit *rs);

#ifdef __cplusplus
}
#endif
#endif
