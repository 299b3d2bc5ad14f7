/* Runs MAID on a small TV denoising problem with the serial or the MPI
 * oracle and writes one line per outer iteration (theta and the method's
 * scalars as hex floats, so that files compare bit for bit), then a hash of
 * the final warm starts (the checkpoint's oracle state). Plain C, not
 * Criterion: Criterion forks, which MPI does not survive.
 *
 *   mpi_maid_run --oracle serial|mpi --method rigorous|reference
 *                --images M --size N --iters K --out FILE [--alpha0 A]
 *                [--mixed 1]   (even samples are N/2 x N/2 images)
 *                [--mixed 2]   (even samples are flat noiseless N x N
 *                               images: same size, much less work)
 *                [--balance static|measured|rotate]
 *                [--create-test 1] (allocation failures and a mismatched
 *                                   problem in the collective create)
 *                [--fail-sample I --fail-call C --fail-kind callback|nan
 *                 --fail-rank R]
 *
 * Half-way (or after iteration --keep-at K, 0: before the first) the run
 * sets its state aside (hyd_maid_keep, as the daemon does
 * after every iteration) and at the end checks that hyd_maid_save_kept
 * gives what hyd_maid_save gave then: "kept same" on stdout (also after
 * samples moved between ranks: the copies travel with them), "kept lost"
 * when the oracle had no room to keep them, and exit 1 if the bytes
 * differ.
 *
 * With --fail-sample the lower-level gradient of sample I fails (or returns
 * NaN) on its C-th call in each process that holds it (only on rank R with
 * --fail-rank: a replica of a trial group, say); the run must then end
 * with that error on rank 0 (exit 0 if it did, 1 otherwise) and every rank
 * must return. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <hyperd/maid.h>
#include <hyperd/tv.h>

#include "mpi_oracle.h"

typedef struct args {
  const char *oracle, *method, *out, *fail_kind, *alpha0, *balance;
  size_t images, size;
  int mixed, create_test;
  long iters, fail_call, keep_at;
  long fail_sample;
  int fail_rank;
} args;

/* The table the run uses: TV samples routed to one of two TV tables
 * (--mixed: even samples come from a table of half-size images, so that
 * sizes differ and the cost-based assignment is not round-robin), and
 * fault injection: sample fail_sample's lower gradient fails (or gives NaN)
 * on its fail_call-th call in this process. */
typedef struct routed {
  const hyd_problem *tab[2]; /* [0]: the small images when mixed */
  int mixed, nan;
  long fail_sample, fail_call, calls;
} routed;

static const hyd_problem *route(void *c, size_t *i)
{
  routed *r = c;
  if (!r->mixed)
    return r->tab[1];
  const hyd_problem *t = r->tab[*i % 2];
  *i /= 2;
  return t;
}

static size_t f_dim(void *c, size_t i)
{
  const hyd_problem *t = route(c, &i);
  return t->lower_dim(t->ctx, i);
}
static int f_grad(void *c, size_t i, const double *th, const double *x,
                  double *v, double *g)
{
  routed *r = c;
  size_t j = i;
  const hyd_problem *t = route(c, &j);
  int rc = t->lower_grad(t->ctx, j, th, x, v, g);
  if ((long)i == r->fail_sample && ++r->calls == r->fail_call) {
    if (!r->nan)
      return 42;
    g[0] = NAN;
  }
  return rc;
}
static int f_hvp(void *c, size_t i, const double *th, const double *x,
                 const double *v, double *o)
{
  const hyd_problem *t = route(c, &i);
  return t->lower_hvp(t->ctx, i, th, x, v, o);
}
static int f_tprod(void *c, size_t i, const double *th, const double *x,
                   const double *q, double *o)
{
  const hyd_problem *t = route(c, &i);
  return t->cross_tprod(t->ctx, i, th, x, q, o);
}
static int f_prod(void *c, size_t i, const double *th, const double *x,
                  const double *v, double *o)
{
  const hyd_problem *t = route(c, &i);
  return t->cross_prod(t->ctx, i, th, x, v, o);
}
static int f_upper(void *c, size_t i, const double *x, double *v, double *g)
{
  const hyd_problem *t = route(c, &i);
  return t->upper(t->ctx, i, x, v, g);
}
static int f_const(void *c, size_t i, const double *th, const double *x,
                   hyd_constants *o)
{
  const hyd_problem *t = route(c, &i);
  return t->constants(t->ctx, i, th, x, o);
}

/* Deterministic synthetic images: a bright rectangle and a disc whose
 * places depend on the image index, plus Gaussian noise (sigma 0.1) from a
 * fixed xorshift stream, so every rank builds the same data. */
static uint64_t xs(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static double unif(uint64_t *s)
{
  return ((double)(xs(s) >> 11) + 0.5) * 0x1.0p-53;
}

static void make_images(size_t m, size_t n, int flat, double *clean,
                        double *noisy)
{
  for (size_t k = 0; k < m; k++) {
    uint64_t st = 0x9E3779B97F4A7C15u ^ (k + 1);
    double cr = (double)n * (0.3 + 0.1 * (double)(k % 4));
    double cc = (double)n * (0.7 - 0.1 * (double)(k % 3));
    for (size_t r = 0; r < n; r++)
      for (size_t c = 0; c < n; c++) {
        double v = 0.2;
        if (r > k % 5 && r < n / 2 && c > 2 && c < n / 2 + k % 4)
          v = 0.8;
        double dr = (double)r - cr, dc = (double)c - cc;
        if (dr * dr + dc * dc < (double)(n * n) / 16.0)
          v = 0.5;
        size_t j = k * n * n + r * n + c;
        double g = sqrt(-2.0 * log(unif(&st))) * cos(6.283185307179586 * unif(&st));
        clean[j] = flat ? 0.5 : v;
        noisy[j] = flat ? 0.5 : v + 0.1 * g;
      }
  }
}

static int parse(int argc, char **argv, args *a)
{
  memset(a, 0, sizeof *a);
  a->oracle = "mpi";
  a->method = "rigorous";
  a->fail_kind = "callback";
  a->images = 4;
  a->size = 16;
  a->iters = 10;
  a->fail_sample = -1;
  a->fail_rank = -1;
  a->keep_at = -1; /* half-way */
  a->alpha0 = "1e-2";
  a->balance = "measured";
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--oracle")) a->oracle = v;
    else if (!strcmp(k, "--method")) a->method = v;
    else if (!strcmp(k, "--out")) a->out = v;
    else if (!strcmp(k, "--images")) a->images = (size_t)atol(v);
    else if (!strcmp(k, "--size")) a->size = (size_t)atol(v);
    else if (!strcmp(k, "--iters")) a->iters = atol(v);
    else if (!strcmp(k, "--alpha0")) a->alpha0 = v;
    else if (!strcmp(k, "--balance")) a->balance = v;
    else if (!strcmp(k, "--mixed")) a->mixed = atoi(v);
    else if (!strcmp(k, "--create-test")) a->create_test = atoi(v);
    else if (!strcmp(k, "--fail-sample")) a->fail_sample = atol(v);
    else if (!strcmp(k, "--fail-call")) a->fail_call = atol(v);
    else if (!strcmp(k, "--fail-kind")) a->fail_kind = v;
    else if (!strcmp(k, "--fail-rank")) a->fail_rank = atoi(v);
    else if (!strcmp(k, "--keep-at")) a->keep_at = atol(v);
    else return -1;
  }
  if (argc % 2 == 0 || a->images == 0 || a->size < 2 || a->iters <= 0)
    return -1;
  return 0;
}

static int monitor(const hyd_maid *s, const hyd_maid_info *in, void *user)
{
  FILE *f = user;
  const double *th = hyd_maid_theta(s);
  fprintf(f, "iter %ld accepted %d theta", in->iter, in->accepted_last);
  for (size_t j = 0; j < hyd_maid_n_theta(s); j++)
    fprintf(f, " %a", th[j]);
  fprintf(f, " eps %a delta %a alpha %a step %a z %a omega %a flo %a fhi %a "
          "g %a\n", in->eps, in->delta, in->alpha, in->step, in->z_norm,
          in->omega, in->f_lo, in->f_hi, in->g);
  return 0;
}

/* FNV-1a over the bytes of the warm starts: equal hashes, equal states. */
static uint64_t fnv(const double *v, size_t n)
{
  uint64_t h = 1469598103934665603u;
  const unsigned char *b = (const unsigned char *)v;
  for (size_t j = 0; j < n * sizeof(double); j++) {
    h ^= b[j];
    h *= 1099511628211u;
  }
  return h;
}

/* hyd_maid_solve, with a keep after iteration `at` whose state is
 * compared with hyd_maid_save_kept's at the end (stdout). */
static int solve_keeping(hyd_maid *s, long at)
{
  size_t n = hyd_maid_warm_size(s);
  double *warm = malloc((n + 1) * sizeof *warm);
  double *kept = malloc((n + 1) * sizeof *kept);
  hyd_maid_checkpoint cp, kcp;
  double th[2], kth[2];
  int rc = warm && kept ? HYD_OK : HYD_ENOMEM, have = 0;
  for (int first = 1; rc == HYD_OK && hyd_maid_stop_reason(s) == HYD_STOP_NONE;
       first = 0) {
    if (!first) /* at 0: the cold starts, kept before any iteration */
      rc = hyd_maid_iterate(s);
    hyd_maid_info in;
    hyd_maid_get_info(s, &in);
    if (rc == HYD_OK && in.iter == at && !have) {
      if ((rc = hyd_maid_keep(s)) == HYD_OK &&
          (rc = hyd_maid_save(s, &cp, th, warm)) == HYD_OK)
        have = 1;
    }
  }
  if (rc == HYD_OK && have) {
    int k = hyd_maid_save_kept(s, &kcp, kth, kept);
    if (k != HYD_OK)
      printf("kept lost: %s\n", hyd_strerror(k));
    else if (memcmp(&kcp, &cp, sizeof cp) || memcmp(kth, th, sizeof th) ||
             memcmp(kept, warm, n * sizeof *warm)) {
      printf("kept DIFFERS from the state at the keep\n");
      rc = HYD_EINVAL;
    } else
      printf("kept same (iteration %ld)\n", kcp.iter);
  }
  free(warm);
  free(kept);
  return rc;
}

/* Rank 0: the whole MAID run. Returns the run's status. */
static int run_maid(const args *a, const hyd_problem *prob, hyd_oracle *or,
                    FILE *out, char *msg, size_t msgsz)
{
  hyd_maid *s = NULL;
  int rc = hyd_maid_create(&s, prob, NULL);
  if (rc != HYD_OK)
    return rc;
  double theta0[2] = {-5.0, -5.0};
  char iters[32];
  snprintf(iters, sizeof iters, "%ld", a->iters);
  if ((rc = hyd_maid_set_option(s, "method", a->method)) == HYD_OK &&
      (rc = hyd_maid_set_option(s, "max_iter", iters)) == HYD_OK &&
      (rc = hyd_maid_set_option(s, "alpha0", a->alpha0)) == HYD_OK &&
      (rc = hyd_maid_set_theta0(s, theta0)) == HYD_OK &&
      (rc = hyd_maid_set_monitor(s, monitor, out)) == HYD_OK &&
      (!or || (rc = hyd_maid_set_oracle(s, *or)) == HYD_OK) &&
      (rc = hyd_maid_setup(s)) == HYD_OK)
    rc = solve_keeping(s, a->keep_at >= 0 ? a->keep_at : a->iters / 2);
  snprintf(msg, msgsz, "%s", hyd_maid_errmsg(s));
  if (rc == HYD_OK) {
    size_t n = hyd_maid_warm_size(s);
    double *warm = malloc(n * sizeof *warm);
    hyd_maid_checkpoint cp;
    double th[2];
    if (!warm)
      rc = HYD_ENOMEM;
    else if ((rc = hyd_maid_save(s, &cp, th, warm)) == HYD_OK) {
      fprintf(out, "stop %s warm %zu %016llx\n",
              hyd_stop_reason_name(hyd_maid_stop_reason(s)), n,
              (unsigned long long)fnv(warm, n));
      /* Restore (scatter to the owners) and save again (gather): the
       * round trip must give the same bytes. */
      uint64_t h = fnv(warm, n);
      if ((rc = hyd_maid_restore(s, &cp, th, warm)) == HYD_OK &&
          (rc = hyd_maid_save(s, &cp, th, warm)) == HYD_OK)
        fprintf(out, "reload %s\n", fnv(warm, n) == h ? "same" : "DIFFERS");
    }
    if (rc != HYD_OK)
      snprintf(msg, msgsz, "saving the checkpoint: %s", hyd_maid_errmsg(s));
    free(warm);
  }
  hyd_maid_destroy(s);
  return rc;
}

/* Fault-injecting allocator: fails the fail_at-th allocation (0: never)
 * and counts what is still allocated. */
typedef struct counting {
  long calls, fail_at, live;
} counting;

static void *c_alloc(void *user, size_t size)
{
  counting *c = user;
  if (++c->calls == c->fail_at)
    return NULL;
  void *p = malloc(size);
  c->live += p != NULL;
  return p;
}

static void c_release(void *user, void *ptr)
{
  counting *c = user;
  if (ptr) {
    c->live--;
    free(ptr);
  }
}

/* Collective create must fail together and cleanly: the last rank's k-th
 * allocation fails (k = 1, 2, ... until create succeeds) and every rank
 * must get HYD_ENOMEM with nothing left allocated; a rank that built a
 * different problem must make every rank get HYD_EINVAL. 0 when all held. */
static int create_failures(const hyd_problem *prob, int rank, int size)
{
  double theta0[2] = {-5.0, -5.0};
  int bad = 0;
  long k;
  for (k = 1;; k++) {
    counting c = {0, rank == size - 1 ? k : 0, 0};
    hyd_allocator a = {c_alloc, c_release, &c};
    hyd_mpi_oracle *mo = NULL;
    int rc = hyd_mpi_oracle_create(&mo, prob, theta0, MPI_COMM_WORLD, &a);
    hyd_mpi_oracle_destroy(mo);
    if (c.live != 0 || (rc != HYD_OK && rc != HYD_ENOMEM) ||
        (rc == HYD_OK) != (mo != NULL)) {
      fprintf(stderr, "rank %d, k %ld: status %d, %ld blocks left\n", rank,
              k, rc, c.live);
      bad = 1;
    }
    if (rc != HYD_ENOMEM)
      break;
  }
  if (size == 1) { /* one rank cannot disagree with itself */
    if (rank == 0)
      printf("create: %ld allocations until success, every failure clean\n",
             k - 1);
    return bad;
  }
  hyd_problem other = *prob;
  if (rank == size - 1)
    other.n_samples--;
  hyd_mpi_oracle *mo = NULL;
  int rc = hyd_mpi_oracle_create(&mo, &other, theta0, MPI_COMM_WORLD, NULL);
  hyd_mpi_oracle_destroy(mo);
  if (rc != HYD_EINVAL || mo) {
    fprintf(stderr, "rank %d: a mismatched problem gave status %d\n", rank, rc);
    bad = 1;
  }
  if (rank == 0)
    printf("create: %ld allocations on rank %d until success, every failure "
           "agreed and clean; mismatch: %s\n", k - 1, size - 1,
           hyd_strerror(rc));
  return bad;
}

int main(int argc, char **argv)
{
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
    return 2;
  int rank = 0, size = 1, exit_code = 1;
  if (MPI_Comm_rank(MPI_COMM_WORLD, &rank) != MPI_SUCCESS ||
      MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS) {
    MPI_Finalize();
    return 2;
  }
  args a;
  if (parse(argc, argv, &a) != 0 || !a.out ||
      (strcmp(a.oracle, "mpi") && size > 1)) {
    if (rank == 0)
      fprintf(stderr, "usage: see the comment at the top of mpi_maid_run.c\n");
    MPI_Finalize();
    return 2;
  }
  int reference = !strcmp(a.method, "reference");
  unsigned flags = reference ? HYD_TV_REFERENCE_SCALING : 0u;
  /* Mixed: ceil(M/2) small images (even samples), floor(M/2) large ones. */
  size_t n_small = a.mixed ? (a.images + 1) / 2 : 0;
  size_t n_big = a.images - n_small, small = a.size / 2;
  size_t np = a.size * a.size;
  double *clean = malloc(a.images * np * sizeof *clean);
  double *noisy = malloc(a.images * np * sizeof *noisy);
  hyd_tv *tv = NULL, *tv_small = NULL;
  if (!clean || !noisy)
    goto done;
  make_images(n_big, a.size, 0, clean, noisy);
  if (hyd_tv_create(&tv, n_big, a.size, a.size, noisy, clean, flags, NULL) !=
      HYD_OK)
    goto done;
  if (a.mixed) {
    if (a.mixed == 2) /* same size, but flat noiseless images: cheap */
      small = a.size;
    make_images(n_small, small, a.mixed == 2, clean, noisy);
    if (hyd_tv_create(&tv_small, n_small, small, small, noisy, clean, flags,
                      NULL) != HYD_OK)
      goto done;
  }
  routed rctx = {{tv_small ? hyd_tv_problem(tv_small) : NULL,
                  hyd_tv_problem(tv)},
                 a.mixed, !strcmp(a.fail_kind, "nan"),
                 a.fail_rank < 0 || a.fail_rank == rank ? a.fail_sample : -1,
                 a.fail_call, 0};
  hyd_problem prob = *hyd_tv_problem(tv);
  prob.n_samples = a.images;
  prob.ctx = &rctx;
  prob.lower_dim = f_dim;
  prob.lower_grad = f_grad;
  prob.lower_hvp = f_hvp;
  prob.cross_tprod = f_tprod;
  prob.cross_prod = f_prod;
  prob.upper = f_upper;
  prob.constants = f_const;
  double theta0[2] = {-5.0, -5.0};
  hyd_mpi_oracle *mo = NULL;
  if (a.create_test) {
    exit_code = create_failures(&prob, rank, size);
    goto done;
  }
  int use_mpi = !strcmp(a.oracle, "mpi");
  if (use_mpi) {
    int rc = hyd_mpi_oracle_create(&mo, &prob, theta0, MPI_COMM_WORLD, NULL);
    if (rc != HYD_OK) {
      fprintf(stderr, "rank %d: hyd_mpi_oracle_create: %s\n", rank,
              hyd_mpi_strerror(rc));
      goto done;
    }
  }
  if (rank > 0) {
    int rc = hyd_mpi_worker_serve(mo);
    if (rc != HYD_OK)
      fprintf(stderr, "rank %d: %s\n", rank, hyd_mpi_oracle_errmsg(mo));
    exit_code = rc == HYD_OK ? 0 : 1;
  } else {
    if (mo) { /* the layout, for the tests that check the balance */
      printf("owners");
      for (size_t i = 0; i < a.images; i++)
        printf(" %d", hyd_mpi_oracle_owner(mo, i));
      printf(" group %zu\n", hyd_mpi_oracle_group_size(mo));
    }
    FILE *out = fopen(a.out, "w");
    if (!out) {
      perror(a.out);
      if (mo)
        hyd_mpi_oracle_shutdown(mo);
      goto done;
    }
    hyd_oracle or;
    if (mo) {
      or = hyd_mpi_oracle_as_oracle(mo);
      int mode = !strcmp(a.balance, "static") ? HYD_MPI_BALANCE_STATIC
                 : !strcmp(a.balance, "rotate") ? HYD_MPI_BALANCE_ROTATE
                                                : HYD_MPI_BALANCE_MEASURED;
      if (hyd_mpi_oracle_set_balance(mo, mode) != HYD_OK)
        fprintf(stderr, "hyd_mpi_oracle_set_balance failed\n");
    }
    char msg[512];
    int rc = run_maid(&a, &prob, mo ? &or : NULL, out, msg, sizeof msg);
    fclose(out);
    if (mo) { /* how often samples moved (not in the file: it depends on P) */
      hyd_mpi_stats st;
      hyd_mpi_oracle_stats(mo, &st);
      printf("rebalances %.0f owners", st.calls[HYD_MPI_CMD_REBALANCE]);
      for (size_t i = 0; i < a.images; i++)
        printf(" %d", hyd_mpi_oracle_owner(mo, i));
      printf("\n");
    }
    if (mo && hyd_mpi_oracle_shutdown(mo) != HYD_OK)
      rc = HYD_MPI_ECOMM;
    if (a.fail_sample >= 0) {
      /* The failure must arrive with its status and the sample's text. */
      char want[64];
      snprintf(want, sizeof want, "sample %ld", a.fail_sample);
      int want_rc = !strcmp(a.fail_kind, "nan") ? HYD_ENONFINITE : HYD_ECALLBACK;
      printf("np %d: status %d (%s), message: %s\n", size, rc,
             hyd_mpi_strerror(rc), msg);
      exit_code = rc == want_rc && strstr(msg, want) ? 0 : 1;
    } else {
      if (rc != HYD_OK)
        fprintf(stderr, "MAID failed: %s (%s)\n", hyd_mpi_strerror(rc), msg);
      exit_code = rc == HYD_OK ? 0 : 1;
    }
  }
done:
  hyd_mpi_oracle_destroy(mo);
  hyd_tv_destroy(tv);
  hyd_tv_destroy(tv_small);
  free(clean);
  free(noisy);
  MPI_Finalize();
  return exit_code;
}
