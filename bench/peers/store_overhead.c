/* bench/peers/store_overhead: the trial store's cost inside a run (issue 4).
 *
 *   store_overhead STUDY.json REPEATS DB_DIR
 *
 * Builds the study's problem and solver once per run exactly as `hyperd run`
 * does (hyd_session_prepare), then runs MAID to its stop twice per
 * repetition, in rotating order:
 *   on:  the daemon's own loop (hyd_session_begin + hyd_session_loop of
 *        coordinator/daemon/session.c): the store's recorder on every
 *        oracle call and line-search trial, one transaction per outer
 *        iteration, checkpoints with warm starts as hyperd run writes them
 *        (at most 2% of the time since the last one, and at the end);
 *  nowarm: the same without the warm starts in the checkpoint (NULL, as
 *        the store allows), to tell their share of the cost;
 *  off:  hyd_maid_iterate alone.
 * The time is the wall time from hyd_maid_setup to the stop (problem
 * building and the database's creation are outside it). Prints one line per
 * run and a summary line:
 *   run on|nowarm|off SECONDS ITERATIONS G WARM_DOUBLES DB_BYTES
 *   MODE median SECONDS min SECONDS max SECONDS overhead_pct PCT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/session.h"

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what, const char *why)
{
  fprintf(stderr, "store_overhead: %s: %s\n", what, why);
  exit(1);
}

/* One run; returns the seconds from setup to the stop. */
enum { OFF = 0, ON = 1, NOWARM = 2, N_MODES = 3 };
static const char *const mode_name[N_MODES] = {"off", "on", "nowarm"};

static double run_once(const char *study_path, const char *db_dir, int rep,
                       int mode, long *iters, double *g, size_t *warm,
                       double *db_bytes)
{
  hyd_session s;
  memset(&s, 0, sizeof s);
  char err[1024];
  if (hyd_study_load(study_path, &s.study, err, sizeof err) != 0)
    die("study", err);
  if (hyd_session_prepare(&s, err, sizeof err) != 0)
    die("prepare", err);
  size_t p = hyd_maid_n_theta(s.solver);
  int record = mode != OFF;
  hyd_maid_info in_on;
  char path[4096] = "";
  if (record) {
    snprintf(path, sizeof path, "%s/overhead_%d.db", db_dir, rep);
    remove(path);
    if (hyd_store_open(&s.store, path, HYD_STORE_READWRITE) != 0)
      die("open store", hyd_store_errmsg(s.store));
    char *opts = hyd_session_options_json(&s);
    hyd_store_study_spec spec = {.name = s.study.name, .problem = "bench",
                                 .method = s.study.method,
                                 .study_json = s.study.text,
                                 .options_json = opts, .n_theta = p,
                                 .status = HYD_STUDY_RUNNING};
    if (hyd_store_create_study(s.store, &spec, &s.study_id) != 0)
      die("create study", hyd_store_errmsg(s.store));
    free(opts);
    hyd_maid_set_recorder(s.solver, hyd_store_maid_recorder, s.store);
  }
  double t0 = now();
  if (mode == ON) {
    /* The daemon's own loop (coordinator/daemon/session.c): recorder,
     * one transaction per iteration, checkpoints as hyperd run writes
     * them. The final report (PSNR re-solves) is not recording: skipped. */
    s.quiet = 1;
    s.no_report = 1;
    if (hyd_session_begin(&s, 0) != 0 || hyd_session_loop(&s) != 0)
      die("session", hyd_store_errmsg(s.store));
    double t_on = now() - t0;
    hyd_maid_get_info(s.solver, &in_on);
    *iters = in_on.iter;
    *g = in_on.g;
    *warm = s.warm_size;
    hyd_session_close(&s);
    struct stat sb_on;
    *db_bytes = stat(path, &sb_on) == 0 ? (double)sb_on.st_size : 0.0;
    return t_on;
  }
  if (hyd_maid_setup(s.solver) != HYD_OK)
    die("setup", hyd_maid_errmsg(s.solver));
  s.warm_size = hyd_maid_warm_size(s.solver);
  s.warm_buf = calloc(s.warm_size ? s.warm_size : 1, sizeof(double));
  if (!s.warm_buf)
    die("setup", "out of memory");
  hyd_maid_checkpoint cp;
  size_t n_warm = mode == ON ? s.warm_size : 0;
  if (record) {
    if (hyd_maid_save(s.solver, &cp, s.theta_buf, s.warm_buf) != HYD_OK ||
        hyd_store_record_checkpoint(s.store, s.study_id, &cp, s.theta_buf, p,
                                    n_warm ? s.warm_buf : NULL, n_warm) != 0)
      die("checkpoint", hyd_store_errmsg(s.store));
  }
  hyd_maid_info in;
  for (;;) {
    hyd_maid_get_info(s.solver, &in);
    if (hyd_maid_stop_reason(s.solver) != HYD_STOP_NONE)
      break;
    long next = in.iter + 1;
    if (record && hyd_store_begin_iteration(s.store, s.study_id, next) != 0)
      die("begin", hyd_store_errmsg(s.store));
    if (hyd_maid_iterate(s.solver) != HYD_OK)
      die("iterate", hyd_maid_errmsg(s.solver));
    hyd_maid_get_info(s.solver, &in);
    if (!record)
      continue;
    if (in.iter != next) {
      hyd_store_rollback_iteration(s.store);
      break;
    }
    int wrc = hyd_store_record_iteration(s.store, &in,
                                         hyd_maid_theta(s.solver));
    if (wrc == 0 &&
        hyd_maid_save(s.solver, &cp, s.theta_buf, s.warm_buf) != HYD_OK)
      wrc = -1;
    if (wrc == 0)
      wrc = hyd_store_record_checkpoint(s.store, s.study_id, &cp, s.theta_buf,
                                        p, n_warm ? s.warm_buf : NULL, n_warm);
    if (wrc == 0)
      wrc = hyd_store_commit_iteration(s.store);
    if (wrc != 0)
      die("record", hyd_store_errmsg(s.store));
  }
  double t = now() - t0;
  *iters = in.iter;
  *g = in.g;
  *warm = s.warm_size;
  hyd_session_close(&s);
  *db_bytes = 0.0;
  struct stat sb;
  if (record && stat(path, &sb) == 0)
    *db_bytes = (double)sb.st_size;
  if (record)
    remove(path);
  return t;
}

int main(int argc, char **argv)
{
  if (argc != 4) {
    fprintf(stderr, "usage: store_overhead STUDY.json REPEATS DB_DIR\n");
    return 2;
  }
  int reps = atoi(argv[2]);
  if (reps < 1)
    reps = 1;
  double *t[N_MODES];
  for (int m = 0; m < N_MODES; m++)
    if (!(t[m] = calloc((size_t)reps, sizeof(double))))
      die("main", "out of memory");
  long it0 = -1;
  double g0 = NAN;
  int differ = 0;
  for (int r = 0; r < reps; r++) {
    /* rotate the order, so that a drift in the machine's load hits all */
    for (int k = 0; k < N_MODES; k++) {
      int mode = (r + k) % N_MODES;
      long it;
      double g, bytes;
      size_t warm;
      t[mode][r] = run_once(argv[1], argv[3], r, mode, &it, &g, &warm,
                            &bytes);
      printf("run %s %.4f %ld %.10g %zu %.0f\n", mode_name[mode],
             t[mode][r], it, g, warm, bytes);
      fflush(stdout);
      if (it0 < 0) {
        it0 = it;
        g0 = g;
      } else if (it != it0 || g != g0) {
        differ = 1;
      }
    }
  }
  if (differ)
    fprintf(stderr, "store_overhead: warning: the runs differ in iterations "
            "or final g\n");
  double off = median(t[OFF], reps);
  for (int m = 0; m < N_MODES; m++) {
    double md = median(t[m], reps); /* sorts: min and max are the ends */
    printf("%s median %.4f min %.4f max %.4f overhead_pct %.2f\n",
           mode_name[m], md, t[m][0], t[m][reps - 1],
           100.0 * (md - off) / off);
    free(t[m]);
  }
  return 0;
}
