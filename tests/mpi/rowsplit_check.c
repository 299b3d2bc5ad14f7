/* The row-split logistic problem (workers/rowsplit.h) against the serial
 * hyd_logistic on the same rows. Plain C (Criterion forks; MPI does not
 * survive that). Every rank builds the same synthetic data; rank r's block
 * is its share of the training and validation rows.
 *
 *   rowsplit_check [--grouping scalar|per_class] [--maid K] [--fail-rank R]
 *                  [--lower METHOD]  (MAID's lower.method, e.g. newton_cg)
 *                  [--shape NTR,NVAL,D,C]  (default 150,61,20,4)
 *                  [--theta0 T]  (MAID's start; alpha0 is 10)
 *                  [--bench ROWS --reps N]  (Fashion-MNIST-sized timing:
 *                                            ROWS x 784 random pixels)
 *
 * Checks (rank 0): lower_grad (value and vector), lower_hvp (also a second
 * product at the same point, which sends only V), upper (value, gradient
 * and value alone), cross_tprod, cross_prod, constants, hvp_change and
 * evaluate at a few points. With one rank every number must equal the
 * serial one bit for bit; with more, agree to 1e-12 relative (max |a - b| / max |b|).
 * --maid K: K outer iterations of MAID (rigorous) with the serial problem
 * on rank 0 alone, then with the row-split one on all ranks: theta at every
 * iteration must agree to 1e-9 relative (bit for bit with one rank), and
 * the accept / reject decisions must be the same.
 * --fail-rank R: a callback failing on every rank, then an evaluate failing
 * on rank R only: rank 0 must get the status back, every rank stay in step
 * (the next request works) and return at the end.
 * Exit 0 when everything held. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <hyperd/logistic.h>
#include <hyperd/maid.h>

#include "rowsplit.h"

static int g_rank, g_size, g_fail;
static const char *g_lower = NULL; /* --lower: MAID's lower.method */
static double g_theta0 = 0.0;      /* --theta0: every component */

static uint64_t rng_state = 12345;
static double urand(void)
{
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng_state >> 11) * 0x1.0p-53;
}

/* max |a - b| / max |b| (0 / 0 = 0) */
static double rel_diff(const double *a, const double *b, size_t n)
{
  double num = 0.0, den = 0.0;
  for (size_t k = 0; k < n; k++) {
    double e = fabs(a[k] - b[k]);
    num = e > num ? e : num;
    den = fabs(b[k]) > den ? fabs(b[k]) : den;
  }
  return den > 0 ? num / den : num;
}

static double tol_for(void) { return g_size == 1 ? 0.0 : 1e-12; }

static int check(const char *what, const double *a, const double *b,
                 size_t n)
{
  double r = rel_diff(a, b, n);
  int ok = r <= tol_for();
  printf("  %-28s rel diff %.3e %s\n", what, r, ok ? "ok" : "FAIL");
  if (!ok)
    g_fail = 1;
  return ok;
}

typedef struct data {
  size_t rows, d, C, n_tr, n_val;
  double *X;
  int *y;
  size_t *train, *val;
} data;

static void make_data(data *D, size_t n_tr, size_t n_val, size_t d, size_t C)
{
  D->rows = n_tr + n_val;
  D->d = d;
  D->C = C;
  D->n_tr = n_tr;
  D->n_val = n_val;
  D->X = malloc(D->rows * d * sizeof *D->X);
  D->y = malloc(D->rows * sizeof *D->y);
  D->train = malloc(n_tr * sizeof *D->train);
  D->val = malloc(n_val * sizeof *D->val);
  double *Wp = malloc(d * C * sizeof *Wp);
  if (!D->X || !D->y || !D->train || !D->val || !Wp) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (size_t k = 0; k < d * C; k++)
    Wp[k] = 4.0 * urand() - 2.0;
  for (size_t r = 0; r < D->rows; r++) {
    double best = -INFINITY;
    int lab = 0;
    for (size_t j = 0; j < d; j++)
      D->X[r * d + j] = urand();
    for (size_t c = 0; c < C; c++) {
      double z = 0.0;
      for (size_t j = 0; j < d; j++)
        z += D->X[r * d + j] * Wp[j * C + c];
      z += 1.5 * urand(); /* label noise */
      if (z > best) {
        best = z;
        lab = (int)c;
      }
    }
    D->y[r] = lab;
  }
  for (size_t i = 0; i < n_tr; i++)
    D->train[i] = i;
  for (size_t i = 0; i < n_val; i++)
    D->val[i] = n_tr + i;
  free(Wp);
}

/* This rank's block: its share of the training and of the validation
 * rows, the data borrowed. */
static int make_block(const data *D, int grouping, hyd_logistic **out)
{
  size_t tlo, thi, vlo, vhi;
  hyd_rowsplit_block(D->n_tr, g_rank, g_size, &tlo, &thi);
  hyd_rowsplit_block(D->n_val, g_rank, g_size, &vlo, &vhi);
  hyd_logistic_fold f = {D->train + tlo, thi - tlo, D->val + vlo, vhi - vlo};
  return hyd_logistic_create(out, D->rows, D->d, D->C, D->X, D->y, 1, &f,
                             grouping,
                             HYD_LOGISTIC_BORROW_DATA | HYD_LOGISTIC_NO_BOUNDS,
                             NULL);
}

static int run_checks(const hyd_problem *ser, const hyd_problem *rsp,
                      hyd_rowsplit *rs, const data *D)
{
  size_t n = ser->lower_dim(ser->ctx, 0), p = ser->n_theta;
  double *theta = calloc(p, sizeof *theta), *W = malloc(n * sizeof *W);
  double *V = malloc(n * sizeof *V), *a = malloc(n * sizeof *a);
  double *b = malloc(n * sizeof *b), *q = malloc(n * sizeof *q);
  double *ta = malloc(p * sizeof *ta), *tb = malloc(p * sizeof *tb);
  for (int pt = 0; pt < 3; pt++) {
    for (size_t j = 0; j < p; j++)
      theta[j] = -3.0 + (double)pt + 0.1 * (double)j;
    for (size_t k = 0; k < n; k++) {
      W[k] = pt == 0 ? 0.0 : (2.0 * urand() - 1.0) * (double)pt;
      V[k] = 2.0 * urand() - 1.0;
      q[k] = 2.0 * urand() - 1.0;
    }
    printf("point %d\n", pt);
    double va, vb;
    int rc1 = ser->lower_grad(ser->ctx, 0, theta, W, &vb, b);
    int rc2 = rsp->lower_grad(rsp->ctx, 0, theta, W, &va, a);
    if (rc1 || rc2) {
      printf("  lower_grad failed: %d %d (%s)\n", rc1, rc2,
             hyd_rowsplit_errmsg(rs));
      return 1;
    }
    check("lower_grad value", &va, &vb, 1);
    check("lower_grad", a, b, n);
    for (int rep = 0; rep < 2; rep++) {
      ser->lower_hvp(ser->ctx, 0, theta, W, V, b);
      if (rsp->lower_hvp(rsp->ctx, 0, theta, W, V, a))
        return 1;
      check(rep ? "lower_hvp (same point)" : "lower_hvp", a, b, n);
      for (size_t k = 0; k < n; k++)
        V[k] = V[k] * 0.5 + 0.25;
    }
    ser->upper(ser->ctx, 0, W, &vb, b);
    if (rsp->upper(rsp->ctx, 0, W, &va, a))
      return 1;
    check("upper value", &va, &vb, 1);
    check("upper gradient", a, b, n);
    if (rsp->upper(rsp->ctx, 0, W, &va, NULL))
      return 1;
    check("upper value (no gradient)", &va, &vb, 1);
    ser->cross_tprod(ser->ctx, 0, theta, W, q, tb);
    rsp->cross_tprod(rsp->ctx, 0, theta, W, q, ta);
    check("cross_tprod", ta, tb, p);
    ser->cross_prod(ser->ctx, 0, theta, W, theta, b);
    rsp->cross_prod(rsp->ctx, 0, theta, W, theta, a);
    check("cross_prod", a, b, n);
    hyd_constants ca, cb;
    ser->constants(ser->ctx, 0, theta, W, &cb);
    if (rsp->constants(rsp->ctx, 0, theta, W, &ca))
      return 1;
    double xa[6] = {ca.mu, ca.L, ca.Lg, ca.norm_B, ca.LB, ca.LAinv};
    double xb[6] = {cb.mu, cb.L, cb.Lg, cb.norm_B, cb.LB, cb.LAinv};
    for (int k = 0; k < 6; k++) {
      static const char *names[] = {"mu", "L", "Lg", "norm_B", "LB", "LAinv"};
      char label[40];
      snprintf(label, sizeof label, "constants.%s", names[k]);
      check(label, &xa[k], &xb[k], 1);
    }
    double ma, mb;
    if (ser->hvp_change(ser->ctx, 0, theta, W, V, 1e-6, &mb) ||
        rsp->hvp_change(rsp->ctx, 0, theta, W, V, 1e-6, &ma))
      return 1;
    check("hvp_change", &ma, &mb, 1);
    (void)D;
  }
  free(theta);
  free(W);
  free(V);
  free(a);
  free(b);
  free(q);
  free(ta);
  free(tb);
  return 0;
}

/* K iterations of rigorous MAID; theta after each into traj (K x p), the
 * accepted flags into acc. */
static int maid_run(const hyd_problem *prob, long K, double *traj, int *acc)
{
  hyd_maid *s = NULL;
  int rc = hyd_maid_create(&s, prob, NULL);
  char iters[32];
  snprintf(iters, sizeof iters, "%ld", K);
  if (!rc)
    rc = hyd_maid_set_option(s, "method", "rigorous");
  if (!rc)
    rc = hyd_maid_set_option(s, "max_iter", iters);
  if (!rc && g_lower)
    rc = hyd_maid_set_option(s, "lower.method", g_lower);
  if (!rc) {
    double th0[64];
    for (size_t j = 0; j < 64; j++)
      th0[j] = g_theta0;
    rc = prob->n_theta <= 64 ? hyd_maid_set_theta0(s, th0) : HYD_EINVAL;
  }
  if (!rc)
    rc = hyd_maid_set_option(s, "alpha0", "10");
  if (!rc)
    rc = hyd_maid_setup(s);
  size_t p = prob->n_theta;
  for (long k = 0; k < K && !rc; k++) {
    if (hyd_maid_stop_reason(s) != HYD_STOP_NONE)
      break;
    rc = hyd_maid_iterate(s);
    if (rc) {
      printf("  maid: %s\n", hyd_maid_errmsg(s));
      break;
    }
    hyd_maid_info in;
    hyd_maid_get_info(s, &in);
    memcpy(traj + (size_t)k * p, hyd_maid_theta(s), p * sizeof *traj);
    acc[k] = in.accepted_last;
  }
  hyd_maid_destroy(s);
  return rc;
}

int main(int argc, char **argv)
{
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
    return 2;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  int grouping = HYD_LOGISTIC_SCALAR, fail_rank = -1, reps = 5;
  long maid_iters = 0;
  size_t bench_rows = 0, ntr = 150, nval = 61, nd = 20, nc = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--grouping") == 0)
      grouping = strcmp(argv[i + 1], "per_class") == 0
                     ? HYD_LOGISTIC_PER_CLASS
                     : HYD_LOGISTIC_SCALAR;
    else if (strcmp(argv[i], "--maid") == 0)
      maid_iters = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--fail-rank") == 0)
      fail_rank = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--bench") == 0)
      bench_rows = (size_t)atol(argv[i + 1]);
    else if (strcmp(argv[i], "--shape") == 0) /* NTR,NVAL,D,C */
      sscanf(argv[i + 1], "%zu,%zu,%zu,%zu", &ntr, &nval, &nd, &nc);
    else if (strcmp(argv[i], "--theta0") == 0)
      g_theta0 = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--lower") == 0)
      g_lower = argv[i + 1];
    else if (strcmp(argv[i], "--reps") == 0)
      reps = atoi(argv[i + 1]);
  }
  data D;
  if (bench_rows)
    make_data(&D, bench_rows, bench_rows / 6, 784, 10);
  else
    make_data(&D, ntr, nval, nd, nc);
  hyd_logistic *blk = NULL, *ser = NULL;
  int rc = make_block(&D, grouping, &blk);
  if (rc)
    fprintf(stderr, "rank %d: block: %s\n", g_rank, hyd_strerror(rc));
  hyd_rowsplit *rs = NULL;
  double t0 = MPI_Wtime();
  /* eval rows: set 0 = this block's validation rows; set 1 = one row,
   * out of range on --fail-rank's rank (its evaluate then fails) */
  size_t vlo, vhi, bad = fail_rank == g_rank ? D.rows + 7 : 0;
  hyd_rowsplit_block(D.n_val, g_rank, g_size, &vlo, &vhi);
  const size_t *ev[2] = {D.val + vlo, &bad};
  size_t nev[2] = {vhi - vlo, 1};
  int crc = rc ? rc : hyd_rowsplit_prepare(&rs, blk, ev, nev, NULL);
  if (!crc)
    crc = hyd_rowsplit_connect(rs, MPI_COMM_WORLD);
  double t_connect = MPI_Wtime() - t0;
  if (crc) {
    fprintf(stderr, "rank %d: create: %s (%s)\n", g_rank,
            hyd_mpi_strerror(crc), rs ? hyd_rowsplit_errmsg(rs) : "");
    hyd_logistic_destroy(blk);
    MPI_Finalize();
    return 1;
  }
  if (g_rank != 0) {
    int src = hyd_rowsplit_serve(rs);
    if (src)
      fprintf(stderr, "rank %d: serve: %s\n", g_rank,
              hyd_rowsplit_errmsg(rs));
    hyd_rowsplit_stats st;
    hyd_rowsplit_get_stats(rs, &st);
    double sent = 0;
    for (int k = 0; k < HYD_ROWSPLIT_NCMD; k++)
      sent += st.bytes_sent[k];
    MPI_Reduce(&sent, NULL, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    hyd_rowsplit_destroy(rs);
    hyd_logistic_destroy(blk);
    MPI_Finalize();
    return src ? 1 : 0;
  }
  const hyd_problem *rsp = hyd_rowsplit_problem(rs);
  printf("ranks %d, connect %.3f s\n", g_size, t_connect);
  if (bench_rows) {
    size_t n = rsp->lower_dim(rsp->ctx, 0);
    double theta = -4.0, *W = calloc(n, sizeof *W), *G = malloc(n * sizeof *G);
    for (size_t k = 0; k < n; k++)
      W[k] = 0.01 * (urand() - 0.5);
    double v;
    rsp->lower_grad(rsp->ctx, 0, &theta, W, &v, G); /* warm up */
    double t1 = MPI_Wtime();
    for (int r = 0; r < reps; r++) {
      W[0] += 1e-9; /* a new point every time: theta and W travel */
      if (rsp->lower_grad(rsp->ctx, 0, &theta, W, &v, G))
        g_fail = 1;
    }
    double tg = (MPI_Wtime() - t1) / reps;
    t1 = MPI_Wtime();
    for (int r = 0; r < reps; r++)
      if (rsp->lower_hvp(rsp->ctx, 0, &theta, W, G, G)) /* same point */
        g_fail = 1;
    double th = (MPI_Wtime() - t1) / reps;
    hyd_rowsplit_stats st;
    hyd_rowsplit_get_stats(rs, &st);
    printf("bench: %zu x %zu, C = %zu, P = %d: %.4f s per gradient, %.4f s "
           "per HVP (same point); rank 0 sent %.0f bytes per gradient, %.0f "
           "per HVP; rank 0 busy %.3f s\n", bench_rows, D.d, D.C, g_size, tg,
           th, st.bytes_sent[HYD_ROWSPLIT_GRAD] / (reps + 1),
           st.bytes_sent[HYD_ROWSPLIT_HVP] / reps, st.busy_seconds);
    free(W);
    free(G);
  } else {
    hyd_logistic_fold all = {D.train, D.n_tr, D.val, D.n_val};
    rc = hyd_logistic_create(&ser, D.rows, D.d, D.C, D.X, D.y, 1, &all,
                             grouping, HYD_LOGISTIC_BORROW_DATA, NULL);
    if (rc)
      g_fail = 1;
    else if (run_checks(hyd_logistic_problem(ser), rsp, rs, &D))
      g_fail = 1;
    if (!g_fail && maid_iters > 0) {
      const hyd_problem *sp = hyd_logistic_problem(ser);
      size_t p = sp->n_theta;
      double *ta = calloc((size_t)maid_iters * p, sizeof *ta);
      double *tb = calloc((size_t)maid_iters * p, sizeof *tb);
      int *aa = calloc((size_t)maid_iters, sizeof *aa);
      int *ab = calloc((size_t)maid_iters, sizeof *ab);
      if (maid_run(sp, maid_iters, tb, ab) || maid_run(rsp, maid_iters, ta, aa))
        g_fail = 1;
      double worst = 0;
      for (long k = 0; k < maid_iters && !g_fail; k++) {
        double r = rel_diff(ta + (size_t)k * p, tb + (size_t)k * p, p);
        worst = r > worst ? r : worst;
        if (aa[k] != ab[k]) {
          printf("  maid iteration %ld: accepted %d vs %d FAIL\n", k + 1,
                 aa[k], ab[k]);
          g_fail = 1;
        }
      }
      double tol = g_size == 1 ? 0.0 : 1e-9;
      printf("maid %ld iterations: theta %.10g (serial %.10g), worst rel diff "
             "%.3e %s\n", maid_iters, ta[(size_t)(maid_iters - 1) * p],
             tb[(size_t)(maid_iters - 1) * p], worst,
             worst <= tol ? "ok" : "FAIL");
      if (worst > tol)
        g_fail = 1;
      free(ta);
      free(tb);
      free(aa);
      free(ab);
    }
    /* evaluate: the val rows of every block against the serial one */
    size_t n = rsp->lower_dim(rsp->ctx, 0);
    double *W = malloc(n * sizeof *W), la, aa, lb, ab;
    size_t rows = 0;
    for (size_t k = 0; k < n; k++)
      W[k] = urand() - 0.5;
    hyd_logistic_evaluate(ser, W, D.val, D.n_val, &lb, &ab);
    if (hyd_rowsplit_evaluate(rs, W, 0, &la, &aa, &rows) || rows != D.n_val)
      g_fail = 1;
    /* mean x count / count: not bit for bit, hence 1e-13 */
    double ra = rel_diff(&la, &lb, 1), rb = rel_diff(&aa, &ab, 1);
    printf("  evaluate (val): loss rel diff %.3e, accuracy %.4f vs %.4f %s\n",
           ra, aa, ab, ra <= 1e-13 && rb <= 1e-13 ? "ok" : "FAIL");
    if (!(ra <= 1e-13 && rb <= 1e-13))
      g_fail = 1;
    free(W);
  }
  if (fail_rank >= 0) {
    /* every block fails (e^theta = inf): rank 0's own status */
    size_t n = rsp->lower_dim(rsp->ctx, 0), p = rsp->n_theta;
    double *th = malloc(p * sizeof *th), *W = calloc(n, sizeof *W);
    double *G = malloc(n * sizeof *G), v;
    for (size_t j = 0; j < p; j++)
      th[j] = 1e6;
    int frc = rsp->lower_grad(rsp->ctx, 0, th, W, &v, G);
    printf("failing callback everywhere: status %d (%s) %s\n", frc,
           hyd_rowsplit_errmsg(rs), frc == HYD_EINVAL ? "ok" : "FAIL");
    /* only rank fail_rank fails (its eval rows are out of range) */
    int erc = hyd_rowsplit_evaluate(rs, W, 1, &v, &v, NULL);
    printf("failing on rank %d only: status %d (%s) %s\n", fail_rank, erc,
           hyd_rowsplit_errmsg(rs), erc == HYD_EINVAL ? "ok" : "FAIL");
    /* and the next request works again */
    int okrc = rsp->upper(rsp->ctx, 0, W, &v, NULL);
    printf("next request: status %d %s\n", okrc, okrc ? "FAIL" : "ok");
    if (frc != HYD_EINVAL || erc != HYD_EINVAL || okrc)
      g_fail = 1;
    free(th);
    free(W);
    free(G);
  }
  int src = hyd_rowsplit_shutdown(rs);
  hyd_rowsplit_stats st;
  hyd_rowsplit_get_stats(rs, &st);
  double sent = 0, total = 0;
  for (int k = 0; k < HYD_ROWSPLIT_NCMD; k++)
    sent += st.bytes_sent[k];
  MPI_Reduce(&sent, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  printf("bytes moved (all ranks): %.0f; grads %.0f, hvps %.0f, uppers %.0f\n",
         total, st.calls[HYD_ROWSPLIT_GRAD], st.calls[HYD_ROWSPLIT_HVP],
         st.calls[HYD_ROWSPLIT_UPPER]);
  hyd_rowsplit_destroy(rs);
  hyd_logistic_destroy(ser);
  hyd_logistic_destroy(blk);
  free(D.X);
  free(D.y);
  free(D.train);
  free(D.val);
  MPI_Finalize();
  printf("%s\n", g_fail || src ? "FAILED" : "PASSED");
  return g_fail || src ? 1 : 0;
}
