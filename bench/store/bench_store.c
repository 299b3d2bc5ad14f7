/* bench_store: how many trials per second the trial store records.
 *
 *   bench_store [--trials N] [--per-iteration M] [--theta P] [--warm W]
 *               [--dir DIR]
 *
 * One writer, as in the daemon (rank 0 only writes). Scenarios:
 *   iteration: M records (1 evaluate + M-1 trials) + the iteration row +
 *              the checkpoint (W warm-start doubles) in one transaction per
 *              outer iteration: what the daemon does;
 *   iteration, no checkpoint: the same without the checkpoint row;
 *   per trial: one transaction per record (begin, record, commit);
 * each with synchronous=NORMAL (crash-safe, the default) and =FULL
 * (HYD_STORE_DURABLE: an fsync per commit, power-loss-safe). Every scenario
 * writes a fresh database in DIR (default /tmp), removed afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"

typedef struct config {
  long trials, per_iteration, warm;
  size_t theta;
  const char *dir;
} config;

typedef struct scenario {
  const char *name;
  int flags;          /* HYD_STORE_DURABLE or 0 */
  int per_trial;      /* one transaction per record */
  int checkpoint;     /* a checkpoint in every iteration */
  long divide;        /* run trials / divide records (slow scenarios) */
} scenario;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(hyd_store *st, const char *what) {
  fprintf(stderr, "bench_store: %s: %s\n", what, hyd_store_errmsg(st));
  return -1;
}

static hyd_maid_event event(long k, long j, const double *theta) {
  hyd_maid_event e;
  memset(&e, 0, sizeof e);
  e.kind = j == 0 ? HYD_EVENT_EVALUATE : HYD_EVENT_TRIAL;
  e.iter = k;
  e.theta = theta;
  e.eps = 1e-3;
  e.delta = 1e-3;
  e.step = 0.5 / (double)(j + 1);
  e.z_norm = 1.0 / (double)(k + 1);
  e.omega = 1e-4;
  e.f_lo = 1.0 - 1e-3 * (double)j;
  e.f_hi = e.f_lo + 1e-3;
  e.g = e.f_lo + 5e-4;
  e.accepted = j == 1;
  e.cost.lower_iters = 40;
  e.cost.cg_iters = 20;
  e.wall_seconds = 1e-3;
  return e;
}

/* Writes `n` records; returns the seconds taken, or -1. */
static double run(const config *c, const scenario *s, const char *path, long n) {
  hyd_store *st = NULL;
  if (hyd_store_open(&st, path, s->flags) != HYD_STORE_OK) {
    fail(st, "open");
    hyd_store_close(st);
    return -1;
  }
  hyd_store_study_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.name = "bench";
  spec.problem = "synthetic";
  spec.method = "rigorous";
  spec.study_json = "{}";
  spec.n_theta = c->theta;
  spec.status = HYD_STUDY_RUNNING;
  int64_t id = 0;
  double *theta = calloc(c->theta, sizeof *theta);
  double *warm = calloc((size_t)c->warm + 1, sizeof *warm);
  double t0 = now(), seconds = -1;
  if (!theta || !warm || hyd_store_create_study(st, &spec, &id) != HYD_STORE_OK) {
    fail(st, "setup");
    goto out;
  }
  t0 = now();
  long per = s->per_trial ? 1 : c->per_iteration, k = 0;
  for (long done = 0; done < n; k++) {
    theta[0] = (double)k;
    if (hyd_store_begin_iteration(st, id, k + 1) != HYD_STORE_OK) {
      fail(st, "begin");
      goto out;
    }
    for (long j = 0; j < per && done < n; j++, done++) {
      hyd_maid_event e = event(k + 1, j, theta);
      if (hyd_store_record_evaluation(st, &e, NULL) != HYD_STORE_OK) {
        fail(st, "record");
        goto out;
      }
    }
    if (!s->per_trial) {
      hyd_maid_info info;
      memset(&info, 0, sizeof info);
      info.iter = k + 1;
      info.g = 1.0 / (double)(k + 1);
      if (hyd_store_record_iteration(st, &info, theta) != HYD_STORE_OK) {
        fail(st, "iteration");
        goto out;
      }
    }
    if (s->checkpoint) {
      hyd_maid_checkpoint cp;
      memset(&cp, 0, sizeof cp);
      cp.iter = k + 1;
      warm[0] = (double)k;
      if (hyd_store_record_checkpoint(st, id, &cp, theta, c->theta, warm,
                                      (size_t)c->warm) != HYD_STORE_OK) {
        fail(st, "checkpoint");
        goto out;
      }
    }
    if (hyd_store_commit_iteration(st) != HYD_STORE_OK) {
      fail(st, "commit");
      goto out;
    }
  }
  seconds = now() - t0;
out:
  free(theta);
  free(warm);
  hyd_store_close(st);
  return seconds;
}

static void remove_db(const char *path) {
  char p[4200];
  const char *suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", path, suffix[i]);
    unlink(p);
  }
}

static int parse(int argc, char **argv, config *c) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0) {
      printf("usage: bench_store [--trials N] [--per-iteration M] [--theta P] "
             "[--warm W] [--dir DIR]\n");
      exit(0);
    }
    if (!v) {
      fprintf(stderr, "bench_store: %s needs a value\n", a);
      return -1;
    }
    i++;
    if (strcmp(a, "--trials") == 0) c->trials = atol(v);
    else if (strcmp(a, "--per-iteration") == 0) c->per_iteration = atol(v);
    else if (strcmp(a, "--theta") == 0) c->theta = (size_t)atol(v);
    else if (strcmp(a, "--warm") == 0) c->warm = atol(v);
    else if (strcmp(a, "--dir") == 0) c->dir = v;
    else {
      fprintf(stderr, "bench_store: unknown option %s\n", a);
      return -1;
    }
  }
  if (c->trials < 1 || c->per_iteration < 1 || c->warm < 0) {
    fprintf(stderr, "bench_store: --trials and --per-iteration must be positive\n");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  config c = {200000, 10, 4096, 8, "/tmp"};
  if (parse(argc, argv, &c) != 0)
    return 2;
  const scenario scenarios[] = {
      {"iteration + checkpoint", 0, 0, 1, 1},
      {"iteration, no checkpoint", 0, 0, 0, 1},
      {"per trial", 0, 1, 0, 4},
      {"iteration + checkpoint", HYD_STORE_DURABLE, 0, 1, 4},
      {"per trial", HYD_STORE_DURABLE, 1, 0, 100},
  };
  printf("bench_store: %ld trials, %ld records per iteration, %zu theta, "
         "%ld warm-start doubles per checkpoint, SQLite %s\n",
         c.trials, c.per_iteration, c.theta, c.warm, sqlite3_libversion());
  printf("%-26s %-7s %9s %8s %9s %12s %9s\n", "transaction", "sync", "trials", "commits",
         "seconds", "trials/s", "db MiB");
  char path[4096];
  snprintf(path, sizeof path, "%s/bench_store_%ld.db", c.dir, (long)getpid());
  int status = 0;
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    const scenario *s = &scenarios[i];
    long n = c.trials / s->divide > 0 ? c.trials / s->divide : 1;
    remove_db(path);
    double seconds = run(&c, s, path, n);
    struct stat sb;
    double mib = stat(path, &sb) == 0 ? (double)sb.st_size / 1048576.0 : 0;
    remove_db(path);
    if (seconds < 0) {
      status = 1;
      continue;
    }
    long commits = s->per_trial ? n : (n + c.per_iteration - 1) / c.per_iteration;
    printf("%-26s %-7s %9ld %8ld %9.3f %12.0f %9.1f\n", s->name,
           s->flags & HYD_STORE_DURABLE ? "FULL" : "NORMAL", n, commits, seconds,
           (double)n / seconds, mib);
  }
  return status;
}
