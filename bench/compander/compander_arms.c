/* bench/compander: the four arms of design/compander.md on one data set,
 * over several seeds, on the same data split per seed:
 *   (i)   plain L2, one weight learned by MAID (rigorous) on the validation
 *         loss (hyd_logistic, scalar);
 *   (ii)  the paper's fixed compander: (a, b) on {0.5, ..., 1.0}^2 and the
 *         weight decay on Psi(V) from a grid, SGD, selected on validation
 *         loss (hyd_compander_sgd, variant FIXED);
 *   (iii) the paper's learned compander: (a, b) per group by SGD on the
 *         training objective from (0.5, 1), decay on V from the same grid
 *         selected on validation loss (variant LEARNED);
 *   (iv)  (a, kappa) per group learned by MAID (rigorous) on the validation
 *         loss (hyd_compander, w-space form).
 * A seed re-draws the train / validation partition of the non-test rows
 * (GSL mt19937 permutation; the test rows are fixed), and seeds the SGD
 * arms' start and shuffles. Digits: the fixed split's test rows, its train
 * + validation rows re-partitioned with the same sizes, features
 * standardised with mean and std of the seed's training rows. Fashion-MNIST:
 * the first --pool training images partitioned into --train and the rest,
 * the first --test test images, pixels / 255.
 *
 * Prints one line per seed and arm, then a Markdown table of mean and
 * sample standard deviation over the seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <hyperd/hyperd.h>

#include "data/raw.h"
#include "data/table.h"

enum { N_ARMS = 4, N_METRICS = 4, MAX_SEEDS = 64 };
static const char *const arm_names[N_ARMS] = {
    "(i) L2, MAID", "(ii) fixed (a, b) grid, SGD",
    "(iii) learned (a, b), SGD", "(iv) (a, kappa), MAID"};
static const double decay_grid[] = {1e-4, 1e-3, 1e-2};
enum { N_DECAY = 3 };
static const double step_grid[] = {0.02, 0.05, 0.1, 0.2};
enum { N_STEP = 4 };

typedef struct config {
  const char *data, *shared, *fashion_dir, *grouping_name;
  int grouping;
  size_t seeds, first_seed, pool, n_train, n_test, epochs, batch, max_iter;
  double lr; /* SGD step of (ii); (iii) selects its own from step_grid */
  const char *arms; /* which arms run: digits 1..4 */
} config;

typedef struct dataset {
  size_t rows, d, C;
  double *X;          /* rows x d, as read (digits: pixels / 16) */
  int *labels;
  size_t *pool, n_pool, *test, n_test;
} dataset;

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void) { return (double)clock() / CLOCKS_PER_SEC; }

static void die(const char *what)
{
  fprintf(stderr, "compander_arms: %s\n", what);
  exit(1);
}

static void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p)
    die("out of memory");
  return p;
}

static void load_digits(const config *c, dataset *ds)
{
  char path[4096], err[512];
  double *t;
  size_t rows, cols, *tr, ntr, *va, nva;
  snprintf(path, sizeof path, "%s/data/tables/digits.csv", c->shared);
  if (hyd_csv_read(path, &t, &rows, &cols, err, sizeof err))
    die(err);
  ds->rows = rows;
  ds->d = cols - 1;
  ds->C = 10;
  ds->X = xmalloc(rows * ds->d * sizeof *ds->X);
  ds->labels = xmalloc(rows * sizeof *ds->labels);
  for (size_t r = 0; r < rows; r++) {
    for (size_t j = 0; j < ds->d; j++)
      ds->X[r * ds->d + j] = t[r * cols + j] / 16.0;
    ds->labels[r] = (int)t[r * cols + ds->d];
  }
  free(t);
  const char *names[3] = {"train", "val", "test"};
  size_t **idx[3] = {&tr, &va, &ds->test}, *cnt[3] = {&ntr, &nva, &ds->n_test};
  for (int k = 0; k < 3; k++) {
    snprintf(path, sizeof path, "%s/data/splits/digits_%s_idx.txt", c->shared,
             names[k]);
    if (hyd_index_read(path, rows, idx[k], cnt[k], err, sizeof err))
      die(err);
  }
  ds->n_pool = ntr + nva;
  ds->pool = xmalloc(ds->n_pool * sizeof *ds->pool);
  memcpy(ds->pool, tr, ntr * sizeof *tr);
  memcpy(ds->pool + ntr, va, nva * sizeof *va);
  free(tr);
  free(va);
}

static void load_fashion(const config *c, dataset *ds)
{
  static const char *const names[4] = {
      "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
      "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
  hyd_idx idx[4];
  char path[4096], err[512];
  for (int k = 0; k < 4; k++) {
    snprintf(path, sizeof path, "%s/%s", c->fashion_dir, names[k]);
    if (hyd_idx_read(path, &idx[k], err, sizeof err))
      die(err);
  }
  size_t px = idx[0].dims[1] * idx[0].dims[2];
  if (c->pool > idx[0].dims[0] || c->n_test > idx[2].dims[0])
    die("--pool or --test larger than the data");
  ds->rows = c->pool + c->n_test;
  ds->d = px;
  ds->C = 10;
  ds->X = xmalloc(ds->rows * px * sizeof *ds->X);
  ds->labels = xmalloc(ds->rows * sizeof *ds->labels);
  ds->n_pool = c->pool;
  ds->n_test = c->n_test;
  ds->pool = xmalloc(ds->n_pool * sizeof *ds->pool);
  ds->test = xmalloc(ds->n_test * sizeof *ds->test);
  for (size_t r = 0; r < ds->rows; r++) {
    int te = r >= c->pool;
    size_t src = te ? r - c->pool : r;
    for (size_t j = 0; j < px; j++)
      ds->X[r * px + j] = idx[te ? 2 : 0].data[src * px + j] / 255.0;
    ds->labels[r] = idx[te ? 3 : 1].data[src];
    if (te)
      ds->test[src] = r;
    else
      ds->pool[r] = r;
  }
  for (int k = 0; k < 4; k++)
    hyd_idx_free(&idx[k]);
}

/* Standardise every column of X (rows x d) with the mean and std of the
 * rows in `fit` (std 0 -> 1), as the shared digits scaler does. */
static void standardise(size_t rows, size_t d, double *X, const size_t *fit,
                        size_t n)
{
  for (size_t j = 0; j < d; j++) {
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < n; i++)
      m += X[fit[i] * d + j];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) {
      double e = X[fit[i] * d + j] - m;
      v += e * e;
    }
    double sd = sqrt(v / (double)n);
    if (!(sd > 0))
      sd = 1.0;
    for (size_t r = 0; r < rows; r++)
      X[r * d + j] = (X[r * d + j] - m) / sd;
  }
}

typedef struct outcome {
  double m[N_METRICS]; /* validation loss, accuracy, test loss, accuracy */
  char note[200];
  double wall, cpu;
} outcome;

static void evaluate(const hyd_logistic *lr, const double *W,
                     const size_t *val, size_t n_val, const dataset *ds,
                     outcome *out)
{
  if (hyd_logistic_evaluate(lr, W, val, n_val, &out->m[0], &out->m[1]) ||
      hyd_logistic_evaluate(lr, W, ds->test, ds->n_test, &out->m[2],
                            &out->m[3]))
    die("evaluate failed");
}

/* MAID rigorous with Newton-CG from theta0 for max_iter iterations. The
 * model is MAID's own final lower-level point (the first n values of its
 * warm state), accurate to the last eps: a fresh solve from 0 with the
 * default first-order solver takes minutes on the ill-conditioned
 * Fashion-MNIST problems. */
static void run_maid(const config *c, const hyd_logistic *lr,
                     const double *theta0, double alpha0, double *theta,
                     double *W, double *eps)
{
  const hyd_problem *p = hyd_logistic_problem(lr);
  hyd_maid *s;
  char iters[32], alpha[32];
  snprintf(iters, sizeof iters, "%zu", c->max_iter);
  snprintf(alpha, sizeof alpha, "%g", alpha0);
  if (hyd_maid_create(&s, p, NULL) || hyd_maid_set_theta0(s, theta0) ||
      hyd_maid_set_option(s, "method", "rigorous") ||
      hyd_maid_set_option(s, "max_iter", iters) ||
      hyd_maid_set_option(s, "alpha0", alpha) ||
      hyd_maid_set_option(s, "lower.method", "newton_cg") ||
      hyd_maid_setup(s) || hyd_maid_solve(s))
    die(hyd_maid_errmsg(s));
  hyd_maid_checkpoint cp;
  double *warm = xmalloc(hyd_maid_warm_size(s) * sizeof *warm);
  if (hyd_maid_save(s, &cp, theta, warm))
    die("hyd_maid_save failed");
  memcpy(W, warm, p->lower_dim(p->ctx, 0) * sizeof *W);
  *eps = cp.eps;
  free(warm);
  hyd_maid_destroy(s);
}

/* One SGD training; its validation loss decides the selection. */
static void run_sgd(const config *c, const dataset *ds, const double *X,
                    const size_t *train, size_t n_train,
                    hyd_compander_sgd_options *o, double *W, double *a,
                    double *b)
{
  hyd_compander_sgd *s;
  if (hyd_compander_sgd_create(&s, ds->rows, ds->d, ds->C, X, ds->labels,
                               train, n_train, o, NULL))
    die("compander_sgd_create failed");
  int rc = hyd_compander_sgd_run(s, W, a, b, NULL);
  hyd_compander_sgd_destroy(s);
  if (rc)
    die("SGD diverged: lower --lr");
  (void)c;
}

static void sgd_defaults(const config *c, unsigned long seed,
                         hyd_compander_sgd_options *o)
{
  hyd_compander_sgd_options_default(o);
  o->epochs = c->epochs;
  o->batch_size = c->batch;
  o->learning_rate = c->lr;
  o->seed = seed;
}

static void one_seed(const config *c, const dataset *ds, unsigned long seed,
                     outcome out[N_ARMS])
{
  size_t n = ds->n_pool, ntr = c->n_train, nval = n - ntr;
  size_t *part = xmalloc(n * sizeof *part);
  memcpy(part, ds->pool, n * sizeof *part);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  if (!rng)
    die("out of memory");
  gsl_rng_set(rng, seed);
  gsl_ran_shuffle(rng, part, n, sizeof *part);
  gsl_rng_free(rng);
  const size_t *train = part, *val = part + ntr;

  size_t nx = ds->rows * ds->d, nw = ds->d * ds->C;
  double *X = xmalloc(nx * sizeof *X);
  memcpy(X, ds->X, nx * sizeof *X);
  if (strcmp(c->data, "digits") == 0)
    standardise(ds->rows, ds->d, X, train, ntr);
  hyd_logistic_fold fold = {train, ntr, val, nval};
  hyd_logistic *l2, *cmp;
  hyd_compander_options co;
  hyd_compander_options_default(&co);
  co.grouping = c->grouping;
  co.flags = HYD_LOGISTIC_BORROW_DATA;
  if (hyd_logistic_create(&l2, ds->rows, ds->d, ds->C, X, ds->labels, 1,
                          &fold, c->grouping, HYD_LOGISTIC_BORROW_DATA, NULL) ||
      hyd_compander_create(&cmp, ds->rows, ds->d, ds->C, X, ds->labels, 1,
                           &fold, &co, NULL))
    die("problem creation failed");
  size_t G = hyd_logistic_n_theta(c->grouping, ds->d, ds->C);
  double *W = xmalloc(nw * sizeof *W), *th0 = xmalloc(2 * G * sizeof *th0);
  double *th = xmalloc(2 * G * sizeof *th), *a = xmalloc(G * sizeof *a);
  double *b = xmalloc(G * sizeof *b);

  for (int k = 0; k < N_ARMS; k++) {
    memset(&out[k], 0, sizeof out[k]);
    for (int m = 0; m < N_METRICS; m++)
      out[k].m[m] = NAN;
    snprintf(out[k].note, sizeof out[k].note, "not run");
  }
  double t0 = now(), c0 = cpu_now(), eps;
  if (!strchr(c->arms, '1'))
    goto arm2;
  /* (i) L2 from e^theta = 1, the digits_scalar.json settings */
  for (size_t g = 0; g < G; g++)
    th0[g] = 0.0;
  run_maid(c, l2, th0, 10.0, th, W, &eps);
  evaluate(l2, W, val, nval, ds, &out[0]);
  snprintf(out[0].note, sizeof out[0].note, "L2 weight %.3g, eps %.1g",
           exp(th[0]), eps);
  out[0].wall = now() - t0;
  out[0].cpu = cpu_now() - c0;

arm2:
  if (!strchr(c->arms, '2'))
    goto arm3;
  /* (ii) the fixed grid */
  t0 = now();
  c0 = cpu_now();
  out[1].m[0] = INFINITY;
  for (int ia = 0; ia < 6; ia++)
    for (int ib = 0; ib < 6; ib++)
      for (int k = 0; k < N_DECAY; k++) {
        hyd_compander_sgd_options o;
        sgd_defaults(c, seed, &o);
        o.variant = HYD_COMPANDER_FIXED;
        o.a = 0.5 + 0.1 * ia;
        o.b = 0.5 + 0.1 * ib;
        o.weight_decay = decay_grid[k];
        run_sgd(c, ds, X, train, ntr, &o, W, NULL, NULL);
        outcome trial;
        evaluate(l2, W, val, nval, ds, &trial);
        if (trial.m[0] < out[1].m[0]) {
          out[1] = trial;
          snprintf(out[1].note, sizeof out[1].note,
                   "a %.1f, b %.1f, decay %g", o.a, o.b, o.weight_decay);
        }
      }
  out[1].wall = now() - t0;
  out[1].cpu = cpu_now() - c0;

arm3:
  if (!strchr(c->arms, '3'))
    goto arm4;
  /* (iii) learned (a, b); step and decay selected on validation loss (its
   * outcome depends on the step far more than (ii)'s) */
  t0 = now();
  c0 = cpu_now();
  out[2].m[0] = INFINITY;
  for (int k = 0; k < N_DECAY * N_STEP; k++) {
    hyd_compander_sgd_options o;
    sgd_defaults(c, seed, &o);
    o.variant = HYD_COMPANDER_LEARNED;
    o.learning_rate = step_grid[k / N_DECAY];
    o.grouping = c->grouping;
    o.weight_decay = decay_grid[k % N_DECAY];
    run_sgd(c, ds, X, train, ntr, &o, W, a, b);
    outcome trial;
    evaluate(l2, W, val, nval, ds, &trial);
    if (trial.m[0] < out[2].m[0]) {
      out[2] = trial;
      snprintf(out[2].note, sizeof out[2].note,
               "step %g, decay %g, group 0: a %.3g, b %.3g",
               o.learning_rate, o.weight_decay, a[0], b[0]);
    }
  }
  out[2].wall = now() - t0;
  out[2].cpu = cpu_now() - c0;

arm4:
  if (!strchr(c->arms, '4'))
    goto done;
  /* (iv) (a, kappa) from (0.5, 0.125): L2 weight 1 near 0, as (i) */
  t0 = now();
  c0 = cpu_now();
  for (size_t g = 0; g < G; g++) {
    th0[g] = log(0.5);
    th0[G + g] = log(0.125);
  }
  run_maid(c, cmp, th0, 1.0, th, W, &eps);
  evaluate(cmp, W, val, nval, ds, &out[3]);
  int inside = 0;
  hyd_logistic_compander_inside(cmp, th, W, &inside);
  snprintf(out[3].note, sizeof out[3].note,
           "group 0: a %.3g, kappa %.3g, 2 kappa/a^2 %.3g, eps %.1g%s",
           exp(th[0]), exp(th[G]), 2 * exp(th[G]) / exp(2 * th[0]), eps,
           inside ? "" : ", NOT inside the barrier domain");
  out[3].wall = now() - t0;
  out[3].cpu = cpu_now() - c0;
done:
  hyd_logistic_destroy(l2);
  hyd_logistic_destroy(cmp);
  free(W);
  free(th0);
  free(th);
  free(a);
  free(b);
  free(X);
  free(part);
}

static void usage(void)
{
  fprintf(stderr,
          "usage: compander_arms --data digits|fashion [--shared DIR] "
          "[--fashion-dir DIR] [--seeds N] [--pool N] [--train N] "
          "[--test N] [--epochs N] [--batch N] [--lr X] "
          "[--max-iter N] [--grouping scalar|per_class] [--first-seed N] "
          "[--arms 1234]\n");
  exit(2);
}

int main(int argc, char **argv)
{
  config c = {NULL,  "../shared", "/usr/share/datasets/fashion-mnist",
              "scalar", HYD_LOGISTIC_SCALAR, 3, 1, 0, 0, 0, 30, 64, 20, 0.05,
              "1234"};
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      usage();
    i++;
    if (!strcmp(k, "--data"))
      c.data = v;
    else if (!strcmp(k, "--shared"))
      c.shared = v;
    else if (!strcmp(k, "--fashion-dir"))
      c.fashion_dir = v;
    else if (!strcmp(k, "--seeds"))
      c.seeds = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--first-seed"))
      c.first_seed = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--arms"))
      c.arms = v;
    else if (!strcmp(k, "--pool"))
      c.pool = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--train"))
      c.n_train = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--test"))
      c.n_test = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--epochs"))
      c.epochs = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--batch"))
      c.batch = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--max-iter"))
      c.max_iter = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--lr"))
      c.lr = strtod(v, NULL);
    else if (!strcmp(k, "--grouping")) {
      c.grouping_name = v;
      if (!strcmp(v, "scalar"))
        c.grouping = HYD_LOGISTIC_SCALAR;
      else if (!strcmp(v, "per_class"))
        c.grouping = HYD_LOGISTIC_PER_CLASS;
      else
        usage();
    } else
      usage();
  }
  if (!c.data || c.seeds < 1 || c.seeds > MAX_SEEDS || c.epochs < 1 ||
      c.batch < 1 || !(c.lr > 0))
    usage();
  dataset ds;
  memset(&ds, 0, sizeof ds);
  if (!strcmp(c.data, "digits")) {
    load_digits(&c, &ds);
    if (!c.n_train)
      c.n_train = 1078; /* the fixed split's sizes */
  } else if (!strcmp(c.data, "fashion")) {
    if (!c.pool || !c.n_test || !c.n_train)
      die("fashion needs --pool, --train and --test");
    load_fashion(&c, &ds);
  } else {
    usage();
  }
  if (c.n_train >= ds.n_pool)
    die("--train must leave validation rows in the pool");
  printf("# %s: %zu train / %zu validation rows (re-drawn per seed) / %zu "
         "test rows (fixed), %zu features, %s grouping for (iii) and (iv); "
         "SGD: %zu epochs, batch %zu, step %g (ii) and from {0.02, 0.05, 0.1, "
         "0.2} (iii), momentum 0.9, cosine; MAID: "
         "rigorous, newton_cg, %zu iterations\n",
         c.data, c.n_train, ds.n_pool - c.n_train, ds.n_test, ds.d,
         c.grouping_name, c.epochs, c.batch, c.lr, c.max_iter);
  fflush(stdout);
  outcome res[MAX_SEEDS][N_ARMS];
  for (size_t s = 0; s < c.seeds; s++) {
    one_seed(&c, &ds, (unsigned long)(c.first_seed + s), res[s]);
    for (int k = 0; k < N_ARMS; k++)
      printf("seed %zu  %-27s val %.4f / %.4f  test %.4f / %.4f  "
             "(%.1f s wall, %.1f s CPU; %s)\n", c.first_seed + s, arm_names[k],
             res[s][k].m[0], res[s][k].m[1], res[s][k].m[2], res[s][k].m[3],
             res[s][k].wall, res[s][k].cpu, res[s][k].note);
    fflush(stdout);
  }
  printf("\n| arm | validation loss | validation accuracy | test loss | "
         "test accuracy | CPU s per seed |\n|---|---|---|---|---|---|\n");
  for (int k = 0; k < N_ARMS; k++) {
    printf("| %s |", arm_names[k]);
    for (int m = 0; m < N_METRICS; m++) {
      double mean = 0.0, var = 0.0;
      for (size_t s = 0; s < c.seeds; s++)
        mean += res[s][k].m[m] / (double)c.seeds;
      for (size_t s = 0; s < c.seeds; s++)
        var += pow(res[s][k].m[m] - mean, 2);
      double sd = c.seeds > 1 ? sqrt(var / (double)(c.seeds - 1)) : 0.0;
      printf(m % 2 ? " %.2f%% ± %.2f |" : " %.4f ± %.4f |",
             m % 2 ? 100 * mean : mean, m % 2 ? 100 * sd : sd);
    }
    double cpu = 0.0;
    for (size_t s = 0; s < c.seeds; s++)
      cpu += res[s][k].cpu / (double)c.seeds;
    printf(" %.1f |\n", cpu);
  }
  free(ds.X);
  free(ds.labels);
  free(ds.pool);
  free(ds.test);
  return 0;
}
