/* bench/peers/store_overhead: the trial store's cost inside a run (issue 4).
 *
 *   store_overhead STUDY.json REPEATS DB_DIR
 *
 * Builds the study's problem and solver once per run exactly as `hyperd run`
 * does (hyd_session_prepare), then runs MAID to its stop three times per
 * repetition, the order rotating from one repetition to the next:
 *   on:  the daemon's own loop (hyd_session_begin + hyd_session_loop of
 *        coordinator/daemon/session.c): the store's recorder on every
 *        oracle call and line-search trial, one transaction per outer
 *        iteration, checkpoints with warm starts as hyperd run writes them
 *        (at most 1% of the time since the last one; the end of the run in
 *        one transaction), and closing the database;
 *  nowarm: the records and a checkpoint in every iteration's transaction,
 *        without the warm starts (NULL, as the store allows): the share of
 *        the records alone;
 *  off:  hyd_maid_iterate alone.
 * A run is timed from hyd_maid_setup to the stop, plus closing the database
 * (its last WAL copy and fsync); building the problem and creating the
 * database are outside it. Wall time and the process's CPU time are both
 * taken: the machine may be shared, and CPU time is the less disturbed of
 * the two (the fsyncs of the WAL show in wall time only). The overhead of
 * a mode is taken per repetition against that repetition's `off` run, and
 * its median over the repetitions is reported with its range.
 *
 * That difference of two runs carries the machine's noise (a few % per run
 * when others load it). So the time spent inside the store is also
 * measured directly, in the same run: the program is linked with --wrap
 * for every store function the session calls, and for the copies of the
 * state for a checkpoint (hyd_maid_save, hyd_maid_keep after every
 * iteration, hyd_maid_save_kept); see bench/peers/CMakeLists.txt. The
 * direct overhead of a run is that time over the rest of the run. Prints:
 *   run MODE WALL_S CPU_S ITERATIONS G WARM_DOUBLES DB_BYTES
 *       STORE_WALL_S STORE_CPU_S CHECKPOINTS_WITH_WARM_STARTS
 *   MODE wall MEDIAN MIN MAX cpu MEDIAN MIN MAX
 *        overhead_wall_pct MEDIAN MIN MAX overhead_cpu_pct MEDIAN MIN MAX
 *        direct_wall_pct MEDIAN MIN MAX direct_cpu_pct MEDIAN MIN MAX */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/session.h"

static double clock_seconds(clockid_t id)
{
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Sorts v: afterwards v[0] and v[n - 1] are the range. */
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

/* ---- time inside the store (the --wrap'ed functions) ---- */

static double in_store_wall, in_store_cpu;
static long warm_checkpoints; /* checkpoints written with warm starts */
static int store_depth;       /* store functions calling store functions */
static double entered_wall, entered_cpu;
/* Per function, for the breakdown on stderr. */
enum { MAX_FN = 16 };
static const char *fn_name[MAX_FN];
static double fn_wall[MAX_FN], fn_cpu[MAX_FN];
static long fn_calls[MAX_FN];
static int n_fn;

static int fn_slot(const char *name)
{
  for (int i = 0; i < n_fn; i++)
    if (fn_name[i] == name)
      return i;
  if (n_fn == MAX_FN)
    return MAX_FN - 1;
  fn_name[n_fn] = name;
  return n_fn++;
}

static void enter_store(void)
{
  if (store_depth++ == 0) {
    entered_wall = clock_seconds(CLOCK_MONOTONIC);
    entered_cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
  }
}

static void leave_store_as(const char *name)
{
  if (--store_depth == 0) {
    double w = clock_seconds(CLOCK_MONOTONIC) - entered_wall;
    double c = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - entered_cpu;
    in_store_wall += w;
    in_store_cpu += c;
    int i = fn_slot(name);
    fn_wall[i] += w;
    fn_cpu[i] += c;
    fn_calls[i]++;
  }
}
#define leave_store() leave_store_as(__func__)

static void print_breakdown(const char *mode)
{
  for (int i = 0; i < n_fn; i++) {
    fprintf(stderr, "  %-6s %-36s %6ld calls  wall %8.4f s  cpu %8.4f s\n",
            mode, fn_name[i] + sizeof "__wrap_" - 1, fn_calls[i], fn_wall[i],
            fn_cpu[i]);
    fn_wall[i] = fn_cpu[i] = 0.0;
    fn_calls[i] = 0;
  }
  n_fn = 0;
}

/* int __wrap_NAME(PARAMS) { times __real_NAME(ARGS) } */
#define WRAP(name, params, args)                                               \
  int __real_##name params;                                                    \
  int __wrap_##name params;                                                    \
  int __wrap_##name params                                                     \
  {                                                                            \
    enter_store();                                                             \
    int rc = __real_##name args;                                               \
    leave_store();                                                             \
    return rc;                                                                 \
  }

WRAP(hyd_maid_save,
     (const hyd_maid *s, hyd_maid_checkpoint *cp, double *theta, double *warm),
     (s, cp, theta, warm))
WRAP(hyd_maid_keep, (hyd_maid *s), (s))
WRAP(hyd_maid_save_kept,
     (const hyd_maid *s, hyd_maid_checkpoint *cp, double *theta, double *warm),
     (s, cp, theta, warm))
WRAP(hyd_store_begin_iteration, (hyd_store *st, int64_t study, long k),
     (st, study, k))
WRAP(hyd_store_record_iteration,
     (hyd_store *st, const hyd_maid_info *info, const double *theta),
     (st, info, theta))
WRAP(hyd_store_commit_iteration, (hyd_store *st), (st))
WRAP(hyd_store_wal_checkpoint, (hyd_store *st), (st))
WRAP(hyd_store_rollback_iteration, (hyd_store *st), (st))
WRAP(hyd_store_finish_study,
     (hyd_store *st, int64_t study, const hyd_store_finish *f), (st, study, f))
WRAP(hyd_store_set_status, (hyd_store *st, int64_t study, int status),
     (st, study, status))
WRAP(hyd_store_best, (hyd_store *st, int64_t study, hyd_store_iteration *out),
     (st, study, out))
WRAP(hyd_store_record_event,
     (hyd_store *st, int64_t study, int level, const char *kind,
      const char *message),
     (st, study, level, kind, message))

int __real_hyd_store_record_checkpoint(hyd_store *st, int64_t study,
                                       const hyd_maid_checkpoint *cp,
                                       const double *theta, size_t n_theta,
                                       const double *warm, size_t n_warm);
int __wrap_hyd_store_record_checkpoint(hyd_store *st, int64_t study,
                                       const hyd_maid_checkpoint *cp,
                                       const double *theta, size_t n_theta,
                                       const double *warm, size_t n_warm);
int __wrap_hyd_store_record_checkpoint(hyd_store *st, int64_t study,
                                       const hyd_maid_checkpoint *cp,
                                       const double *theta, size_t n_theta,
                                       const double *warm, size_t n_warm)
{
  enter_store();
  int rc = __real_hyd_store_record_checkpoint(st, study, cp, theta, n_theta,
                                              warm, n_warm);
  leave_store();
  warm_checkpoints += warm && n_warm > 0;
  return rc;
}

void __real_hyd_store_maid_recorder(const hyd_maid_event *event, void *user);
void __wrap_hyd_store_maid_recorder(const hyd_maid_event *event, void *user);
void __wrap_hyd_store_maid_recorder(const hyd_maid_event *event, void *user)
{
  enter_store();
  __real_hyd_store_maid_recorder(event, user);
  leave_store();
}

void __real_hyd_store_close(hyd_store *st);
void __wrap_hyd_store_close(hyd_store *st);
void __wrap_hyd_store_close(hyd_store *st)
{
  enter_store();
  __real_hyd_store_close(st);
  leave_store();
}

/* ---- the runs ---- */

enum { OFF = 0, ON = 1, NOWARM = 2, N_MODES = 3 };
static const char *const mode_name[N_MODES] = {"off", "on", "nowarm"};

typedef struct run_result {
  double wall, cpu, g, db_bytes;
  double store_wall, store_cpu; /* inside the store */
  long iters, warm_checkpoints;
  size_t warm;
} run_result;

static void open_study(hyd_session *s, const char *path)
{
  remove(path);
  if (hyd_store_open(&s->store, path, HYD_STORE_READWRITE) != 0)
    die("open store", hyd_store_errmsg(s->store));
  char *opts = hyd_session_options_json(s);
  hyd_store_study_spec spec = {
      .name = s->study.name, .problem = "bench", .method = s->study.method,
      .study_json = s->study.text, .options_json = opts,
      .n_theta = hyd_maid_n_theta(s->solver), .status = HYD_STUDY_RUNNING};
  if (hyd_store_create_study(s->store, &spec, &s->study_id) != 0)
    die("create study", hyd_store_errmsg(s->store));
  free(opts);
}

/* Records and a checkpoint without warm starts in every iteration. */
static void loop_nowarm(hyd_session *s)
{
  size_t p = hyd_maid_n_theta(s->solver);
  hyd_maid_set_recorder(s->solver, hyd_store_maid_recorder, s->store);
  if (hyd_maid_setup(s->solver) != HYD_OK)
    die("setup", hyd_maid_errmsg(s->solver));
  hyd_maid_checkpoint cp;
  hyd_maid_info in;
  for (;;) {
    hyd_maid_get_info(s->solver, &in);
    if (hyd_maid_stop_reason(s->solver) != HYD_STOP_NONE)
      break;
    long next = in.iter + 1;
    if (hyd_store_begin_iteration(s->store, s->study_id, next) != 0)
      die("begin", hyd_store_errmsg(s->store));
    if (hyd_maid_iterate(s->solver) != HYD_OK)
      die("iterate", hyd_maid_errmsg(s->solver));
    hyd_maid_get_info(s->solver, &in);
    if (in.iter != next) {
      hyd_store_rollback_iteration(s->store);
      break;
    }
    int wrc = hyd_store_record_iteration(s->store, &in,
                                         hyd_maid_theta(s->solver));
    if (wrc == 0 &&
        hyd_maid_save(s->solver, &cp, s->theta_buf, NULL) != HYD_OK)
      wrc = -1;
    if (wrc == 0)
      wrc = hyd_store_record_checkpoint(s->store, s->study_id, &cp,
                                        s->theta_buf, p, NULL, 0);
    if (wrc == 0)
      wrc = hyd_store_commit_iteration(s->store);
    if (wrc != 0)
      die("record", hyd_store_errmsg(s->store));
  }
}

static run_result run_once(const char *study_path, const char *db_dir,
                           int rep, int mode)
{
  hyd_session s;
  memset(&s, 0, sizeof s);
  char err[1024];
  if (hyd_study_load(study_path, &s.study, err, sizeof err) != 0)
    die("study", err);
  if (hyd_session_prepare(&s, err, sizeof err) != 0)
    die("prepare", err);
  char path[4096];
  snprintf(path, sizeof path, "%s/overhead_%d.db", db_dir, rep);
  if (mode != OFF)
    open_study(&s, path);
  run_result r = {0};
  in_store_wall = in_store_cpu = 0.0;
  warm_checkpoints = 0;
  double w0 = clock_seconds(CLOCK_MONOTONIC);
  double c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
  if (mode == ON) {
    /* The final report (PSNR re-solves) is not recording: skipped. */
    s.quiet = 1;
    s.no_report = 1;
    if (hyd_session_begin(&s, 0) != 0 || hyd_session_loop(&s) != 0)
      die("session", hyd_store_errmsg(s.store));
  } else if (mode == NOWARM) {
    loop_nowarm(&s);
  } else {
    if (hyd_maid_setup(s.solver) != HYD_OK)
      die("setup", hyd_maid_errmsg(s.solver));
    while (hyd_maid_stop_reason(s.solver) == HYD_STOP_NONE)
      if (hyd_maid_iterate(s.solver) != HYD_OK)
        die("iterate", hyd_maid_errmsg(s.solver));
  }
  hyd_store_close(s.store); /* its last WAL copy belongs to the run */
  s.store = NULL;
  r.wall = clock_seconds(CLOCK_MONOTONIC) - w0;
  r.cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
  r.store_wall = in_store_wall;
  r.store_cpu = in_store_cpu;
  r.warm_checkpoints = warm_checkpoints;
  print_breakdown(mode_name[mode]);
  hyd_maid_info in;
  hyd_maid_get_info(s.solver, &in);
  r.iters = in.iter;
  r.g = in.g;
  r.warm = hyd_maid_warm_size(s.solver);
  hyd_session_close(&s);
  struct stat sb;
  if (mode != OFF && stat(path, &sb) == 0)
    r.db_bytes = (double)sb.st_size;
  if (mode != OFF)
    remove(path);
  return r;
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
  run_result *res[N_MODES];
  double *v = calloc((size_t)reps, sizeof *v);
  for (int m = 0; m < N_MODES; m++)
    if (!(res[m] = calloc((size_t)reps, sizeof *res[m])))
      die("main", "out of memory");
  if (!v)
    die("main", "out of memory");
  int differ = 0;
  for (int r = 0; r < reps; r++) {
    /* rotate the order, so that a drift in the machine's load hits all */
    for (int k = 0; k < N_MODES; k++) {
      int mode = (r + k) % N_MODES;
      run_result x = run_once(argv[1], argv[3], r, mode);
      res[mode][r] = x;
      printf("run %s %.4f %.4f %ld %.10g %zu %.0f %.4f %.4f %ld\n",
             mode_name[mode], x.wall, x.cpu, x.iters, x.g, x.warm, x.db_bytes,
             x.store_wall, x.store_cpu, x.warm_checkpoints);
      fflush(stdout);
    }
    /* Recording must not change the run: same iterations, same bits. */
    for (int m = 0; m < N_MODES; m++)
      if (res[m][r].iters != res[OFF][0].iters || res[m][r].g != res[OFF][0].g)
        differ = 1;
  }
  if (differ)
    fprintf(stderr, "store_overhead: warning: the runs differ in iterations "
            "or final g\n");
  for (int m = 0; m < N_MODES; m++) {
    printf("%s", mode_name[m]);
    for (int clock = 0; clock < 2; clock++) {
      for (int r = 0; r < reps; r++)
        v[r] = clock ? res[m][r].cpu : res[m][r].wall;
      double md = median(v, reps);
      printf(" %s %.4f %.4f %.4f", clock ? "cpu" : "wall", md, v[0],
             v[reps - 1]);
    }
    for (int clock = 0; clock < 2; clock++) {
      for (int r = 0; r < reps; r++) {
        double t = clock ? res[m][r].cpu : res[m][r].wall;
        double off = clock ? res[OFF][r].cpu : res[OFF][r].wall;
        v[r] = 100.0 * (t - off) / off;
      }
      double md = median(v, reps);
      printf(" overhead_%s_pct %.2f %.2f %.2f", clock ? "cpu" : "wall", md,
             v[0], v[reps - 1]);
    }
    for (int clock = 0; clock < 2; clock++) {
      for (int r = 0; r < reps; r++) {
        const run_result *x = &res[m][r];
        double in = clock ? x->store_cpu : x->store_wall;
        v[r] = 100.0 * in / ((clock ? x->cpu : x->wall) - in);
      }
      double md = median(v, reps);
      printf(" direct_%s_pct %.2f %.2f %.2f", clock ? "cpu" : "wall", md, v[0],
             v[reps - 1]);
    }
    printf("\n");
  }
  for (int m = 0; m < N_MODES; m++)
    free(res[m]);
  free(v);
  return 0;
}
