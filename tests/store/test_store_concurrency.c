/* A writer and readers at the same time, and a writer killed with SIGKILL
 * in the middle of its stream: committed iterations are whole and intact,
 * nothing half-written is visible, the file passes integrity_check. */
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "store_test_util.h"

static char dir[64], db[256];

static void setup(void) {
  tmp_dir(dir);
  tmp_path(db, sizeof db, dir, "t.db");
}
static void teardown(void) { rm_dir(dir); }

TestSuite(store_concurrency, .init = setup, .fini = teardown);

static int64_t make_study(hyd_store *st, const char *name, size_t n_theta) {
  hyd_store_study_spec spec = test_spec(name, n_theta);
  int64_t id;
  cr_assert_eq(hyd_store_create_study(st, &spec, &id), HYD_STORE_OK, "%s", hyd_store_errmsg(st));
  return id;
}

static long evaluations_of(hyd_store *st, int64_t id) {
  long n = 0;
  cr_assert_eq(hyd_store_foreach_evaluation(st, id, count_eval, &n), HYD_STORE_OK, "%s",
               hyd_store_errmsg(st));
  return n;
}

Test(store_concurrency, reader_sees_all_of_an_iteration_or_none) {
  hyd_store *w = NULL, *r = NULL;
  cr_assert_eq(hyd_store_open(&w, db, 0), HYD_STORE_OK);
  int64_t id = make_study(w, "vis", 3);
  cr_assert_eq(hyd_store_open(&r, db, HYD_STORE_READONLY), HYD_STORE_OK, "%s",
               hyd_store_errmsg(r));
  double theta[3] = {1, 2, 3};
  cr_assert_eq(hyd_store_begin_iteration(w, id, 1), HYD_STORE_OK);
  for (int j = 0; j < 6; j++) {
    hyd_maid_event e = test_event(1, j, theta);
    cr_assert_eq(hyd_store_record_evaluation(w, &e, NULL), HYD_STORE_OK);
    cr_assert_eq(evaluations_of(r, id), 0, "the reader saw part of an open iteration");
  }
  hyd_maid_info in = test_info(1);
  cr_assert_eq(hyd_store_record_iteration(w, &in, theta), HYD_STORE_OK);
  hyd_maid_checkpoint cp;
  memset(&cp, 0, sizeof cp);
  cp.iter = 1;
  cr_assert_eq(hyd_store_record_checkpoint(w, id, &cp, theta, 3, NULL, 0), HYD_STORE_OK);
  long n = 0;
  cr_assert_eq(hyd_store_foreach_iteration(r, id, count_iter, &n), HYD_STORE_OK);
  cr_assert_eq(n, 0);
  cr_assert_eq(hyd_store_checkpoint_info(r, id, NULL, NULL, NULL), HYD_STORE_ENOTFOUND);
  cr_assert_eq(hyd_store_commit_iteration(w), HYD_STORE_OK);
  cr_assert_eq(evaluations_of(r, id), 6);
  cr_assert_eq(hyd_store_foreach_iteration(r, id, count_iter, &n), HYD_STORE_OK);
  cr_assert_eq(n, 1);
  cr_assert_eq(hyd_store_checkpoint_info(r, id, NULL, NULL, NULL), HYD_STORE_OK);
  hyd_store_close(r);
  hyd_store_close(w);
}

Test(store_concurrency, read_only_open_while_a_writer_holds_the_lock) {
  hyd_store *w = NULL, *r = NULL;
  cr_assert_eq(hyd_store_open(&w, db, 0), HYD_STORE_OK);
  int64_t id = make_study(w, "held", 1);
  cr_assert_eq(write_iteration(w, id, 1, 1, 2, NULL, 0), HYD_STORE_OK);
  cr_assert_eq(hyd_store_begin_iteration(w, id, 2), HYD_STORE_OK);
  double theta = 2.0;
  hyd_maid_event e = test_event(2, 0, &theta);
  cr_assert_eq(hyd_store_record_evaluation(w, &e, NULL), HYD_STORE_OK);
  /* The writer holds the write lock with uncommitted rows. */
  cr_assert_eq(hyd_store_open(&r, db, HYD_STORE_READONLY), HYD_STORE_OK, "%s",
               hyd_store_errmsg(r));
  long n = 0;
  cr_assert_eq(hyd_store_list_studies(r, count_study, &n), HYD_STORE_OK);
  cr_assert_eq(n, 1);
  cr_assert_eq(evaluations_of(r, id), 3);
  hyd_store_iteration best;
  cr_assert_eq(hyd_store_best(r, id, &best), HYD_STORE_OK);
  cr_assert_eq(best.iteration, 1);
  cr_assert_eq(hyd_store_commit_iteration(w), HYD_STORE_OK);
  cr_assert_eq(evaluations_of(r, id), 4);
  hyd_store_close(r);
  hyd_store_close(w);
}

enum { N_THETA = 4, N_TRIALS = 4, N_WARM = 2000 };

/* The child: writes iterations from `first` on forever, reporting each
 * committed number on the pipe. Never returns. */
static void writer_child(int fd, int64_t id, long first) {
  hyd_store *st = NULL;
  if (hyd_store_open(&st, db, 0) != HYD_STORE_OK)
    _exit(3);
  static double warm[N_WARM];
  for (long k = first;; k++) {
    for (int i = 0; i < N_WARM; i++)
      warm[i] = (double)k + (double)i;
    if (write_iteration(st, id, k, N_THETA, N_TRIALS, warm, N_WARM) != HYD_STORE_OK)
      _exit(4);
    if (write(fd, &k, sizeof k) != (ssize_t)sizeof k)
      _exit(5);
  }
}

/* Checks the database after a crash; returns the last iteration present. */
static long check_after_crash(int64_t id, long reported) {
  sqlite3 *c = NULL;
  cr_assert_eq(sqlite3_open(db, &c), SQLITE_OK);
  sqlite3_stmt *q = NULL;
  cr_assert_eq(sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
  cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
  sqlite3_finalize(q);
  cr_assert_eq(sqlite3_prepare_v2(c, "PRAGMA foreign_key_check", -1, &q, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(q), SQLITE_DONE, "a foreign key is broken");
  sqlite3_finalize(q);
  sqlite3_close(c);

  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, HYD_STORE_READONLY), HYD_STORE_OK, "%s",
               hyd_store_errmsg(st));
  long n_iter = 0;
  cr_assert_eq(hyd_store_foreach_iteration(st, id, count_iter, &n_iter), HYD_STORE_OK);
  long n_eval = evaluations_of(st, id);
  /* Iterations 1..n_iter, each whole; at most one committed after the last
   * report (killed between commit and write). */
  cr_assert_geq(n_iter, reported, "a committed iteration was lost");
  cr_assert_leq(n_iter, reported + 1);
  cr_assert_eq(n_eval, n_iter * (N_TRIALS + 1), "an iteration is not whole");
  long cp_iter = -1;
  size_t nt = 0, nw = 0;
  cr_assert_eq(hyd_store_checkpoint_info(st, id, &cp_iter, &nt, &nw), HYD_STORE_OK);
  cr_assert_eq(cp_iter, n_iter, "the checkpoint is not the last iteration's");
  hyd_maid_checkpoint cp;
  double theta[N_THETA];
  static double warm[N_WARM];
  cr_assert_eq(hyd_store_load_checkpoint(st, id, &cp, theta, N_THETA, warm, N_WARM),
               HYD_STORE_OK);
  for (int i = 0; i < N_WARM; i++)
    cr_assert_eq(warm[i], (double)n_iter + (double)i);
  hyd_store_close(st);
  return n_iter;
}

typedef void (*child_fn)(int fd, int64_t id, long first);

/* Forks a writer running child(fd, id, first); *fd_out reads its reports. */
static pid_t spawn(child_fn child, int64_t id, long first, int *fd_out) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    child(fds[1], id, first);
  }
  close(fds[1]);
  *fd_out = fds[0];
  return pid;
}

/* Reads reports until `until` (or the end); returns the last one. */
static long read_reports(int fd, long last, long until) {
  long k = 0;
  while (last < until && read(fd, &k, sizeof k) == (ssize_t)sizeof k)
    last = k;
  return last;
}

Test(store_concurrency, kill_9_mid_stream_keeps_committed_iterations, .timeout = 120) {
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, 0), HYD_STORE_OK);
  int64_t id = make_study(st, "crash", N_THETA);
  hyd_store_close(st);
  long last = 0;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  unsigned seed = (unsigned)now.tv_nsec;
  for (int round = 0; round < 5; round++) {
    int fd;
    pid_t pid = spawn(writer_child, id, last + 1, &fd);
    long reported = read_reports(fd, last, last + 40 + round * 53);
    /* Land somewhere inside a later iteration's transaction. */
    struct timespec pause = {0, (long)(rand_r(&seed) % 3000) * 1000L};
    nanosleep(&pause, NULL);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int wstatus = 0;
    cr_assert_eq(waitpid(pid, &wstatus, 0), pid);
    cr_assert(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL,
              "the writer stopped on its own (status %d)", wstatus);
    reported = read_reports(fd, reported, LONG_MAX);
    close(fd);
    last = check_after_crash(id, reported);
  }
}

/* The child: commits iterations until the file-size limit makes one fail;
 * exits 0 if that failure was reported as a status with a message and the
 * handle still closed cleanly. Writes the last committed number. */
static void full_disk_child(int fd, int64_t id, long first) {
  hyd_store *st = NULL;
  if (hyd_store_open(&st, db, 0) != HYD_STORE_OK)
    _exit(3);
  struct rlimit lim = {1 << 20, 1 << 20}; /* 1 MiB per file */
  signal(SIGXFSZ, SIG_IGN);               /* write() fails with EFBIG instead */
  if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
    _exit(4);
  static double warm[N_WARM];
  for (long k = first; k < 100000; k++) {
    for (int i = 0; i < N_WARM; i++) /* as check_after_crash expects */
      warm[i] = (double)k + (double)i;
    int s = write_iteration(st, id, k, N_THETA, N_TRIALS, warm, N_WARM);
    if (s != HYD_STORE_OK) {
      int ok = (s == HYD_STORE_EIO) && hyd_store_errmsg(st)[0] != '\0';
      hyd_store_close(st);
      _exit(ok ? 0 : 10 + s);
    }
    if (write(fd, &k, sizeof k) != (ssize_t)sizeof k)
      _exit(5);
  }
  _exit(6);
}

Test(store_concurrency, a_full_disk_fails_the_iteration_cleanly, .timeout = 120) {
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, 0), HYD_STORE_OK);
  int64_t id = make_study(st, "full", N_THETA);
  hyd_store_close(st);
  int fd;
  pid_t pid = spawn(full_disk_child, id, 1, &fd);
  long reported = read_reports(fd, 0, LONG_MAX);
  close(fd);
  int wstatus = 0;
  cr_assert_eq(waitpid(pid, &wstatus, 0), pid);
  cr_assert(WIFEXITED(wstatus), "the writer crashed (status %d)", wstatus);
  cr_assert_eq(WEXITSTATUS(wstatus), 0, "the writer's failure was not a clean EIO");
  cr_assert_gt(reported, 0, "nothing was committed before the disk filled");
  long last = check_after_crash(id, reported);
  cr_assert_eq(last, reported, "the failed iteration left rows behind");
}

/* Claims: from the statuses asked for only; a RUNNING study from itself,
 * from no owner, or from an owner that is gone; of two handles, the second
 * to claim a QUEUED study finds it RUNNING. A committed iteration of the
 * owner renews its heartbeat. */
static int claim(hyd_store *st, int64_t id, const char *host, long pid, int take_over,
                 unsigned from) {
  hyd_store_owner me = {.host = host, .pid = pid, .take_over = take_over};
  return hyd_store_claim_study(st, id, &me, from);
}

static void set_owner(const char *host, long pid, const char *heartbeat_offset) {
  sqlite3 *c;
  cr_assert_eq(sqlite3_open(db, &c), SQLITE_OK);
  sqlite3_busy_timeout(c, 5000);
  char sql[512];
  snprintf(sql, sizeof sql,
           "UPDATE studies SET status = 'RUNNING', owner_host = '%s', owner_pid = %ld, "
           "heartbeat_at = strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', '%s')",
           host, pid, heartbeat_offset);
  cr_assert_eq(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(c));
  sqlite3_close(c);
}

Test(store_concurrency, claims_refuse_a_live_owner_and_take_a_gone_one, .timeout = 60) {
  const unsigned queued = 1u << HYD_STUDY_QUEUED;
  const unsigned resumable =
      1u << HYD_STUDY_RUNNING | 1u << HYD_STUDY_INTERRUPTED | 1u << HYD_STUDY_FAILED;
  hyd_store *a = NULL, *b = NULL;
  cr_assert_eq(hyd_store_open(&a, db, 0), HYD_STORE_OK);
  cr_assert_eq(hyd_store_open(&b, db, 0), HYD_STORE_OK);
  hyd_store_study_spec spec = test_spec("q", 2);
  spec.status = HYD_STUDY_QUEUED;
  int64_t id;
  cr_assert_eq(hyd_store_create_study(a, &spec, &id), HYD_STORE_OK);
  long me = (long)getpid();
  /* Two daemons: the first takes it, the second finds it RUNNING. */
  cr_assert_eq(claim(a, id, "h1", me, 0, queued), HYD_STORE_OK, "%s", hyd_store_errmsg(a));
  cr_assert_eq(claim(b, id, "h1", me + 1, 0, queued), HYD_STORE_ESTATE);
  cr_assert(strstr(hyd_store_errmsg(b), "study 'q' is RUNNING"), "%s", hyd_store_errmsg(b));
  hyd_store_study s;
  cr_assert_eq(hyd_store_get_study(b, id, &s), HYD_STORE_OK);
  cr_assert_eq(s.status, HYD_STUDY_RUNNING);
  cr_assert_str_eq(s.owner_host, "h1");
  cr_assert_eq(s.owner_pid, me);
  cr_assert_not_null(s.heartbeat_at);
  hyd_store_study_clear(&s);
  /* The same host, a live process (this one): refused, named; itself: ok. */
  cr_assert_eq(claim(b, id, "h1", me + 1, 0, resumable), HYD_STORE_EBUSY);
  char want[128];
  snprintf(want, sizeof want, "study 'q' is RUNNING in process %ld on this host (h1)", me);
  cr_assert(strstr(hyd_store_errmsg(b), want), "%s", hyd_store_errmsg(b));
  cr_assert_eq(claim(a, id, "h1", me, 0, resumable), HYD_STORE_OK);
  /* A process that has ended (a reaped child) or is a zombie: gone. */
  pid_t child = fork();
  if (child == 0)
    _exit(0);
  cr_assert_gt(child, 0);
  for (int i = 0; i < 200 && kill(child, 0) == 0; i++) { /* until it is a zombie */
    char path[64], buf[256] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)child);
    FILE *f = fopen(path, "r");
    if (f) {
      size_t n = fread(buf, 1, sizeof buf - 1, f);
      buf[n] = '\0';
      fclose(f);
    }
    if (strstr(buf, ") Z"))
      break;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  set_owner("h1", (long)child, "+0 seconds");
  cr_assert_eq(claim(b, id, "h1", me + 1, 0, resumable), HYD_STORE_OK, "zombie: %s",
               hyd_store_errmsg(b));
  waitpid(child, NULL, 0);
  set_owner("h1", (long)child, "+0 seconds");
  cr_assert_eq(claim(b, id, "h1", me + 1, 0, resumable), HYD_STORE_OK, "ended: %s",
               hyd_store_errmsg(b));
  /* Another host: its heartbeat decides; --take-over overrides. */
  set_owner("h2", 77, "-599 seconds");
  cr_assert_eq(claim(b, id, "h1", me, 0, resumable), HYD_STORE_EBUSY);
  cr_assert(strstr(hyd_store_errmsg(b), "process 77 on host h2 (last heartbeat 599 s ago"),
            "%s", hyd_store_errmsg(b));
  cr_assert_eq(claim(b, id, "h1", me, 1, resumable), HYD_STORE_OK);
  set_owner("h2", 77, "-601 seconds");
  cr_assert_eq(claim(b, id, "h1", me, 0, resumable), HYD_STORE_OK, "%s", hyd_store_errmsg(b));
  /* ... or twice its longest iteration, when longer than the timeout. */
  double theta[2] = {0, 0};
  hyd_maid_info in = test_info(1);
  in.wall_seconds = 400.0;
  cr_assert_eq(hyd_store_begin_iteration(a, id, 1), HYD_STORE_OK);
  cr_assert_eq(hyd_store_record_iteration(a, &in, theta), HYD_STORE_OK);
  cr_assert_eq(hyd_store_commit_iteration(a), HYD_STORE_OK);
  set_owner("h2", 77, "-601 seconds");
  cr_assert_eq(claim(b, id, "h1", me, 0, resumable), HYD_STORE_EBUSY);
  cr_assert(strstr(hyd_store_errmsg(b), "taken for gone after 800 s"), "%s", hyd_store_errmsg(b));
  set_owner("h2", 77, "-801 seconds");
  cr_assert_eq(claim(b, id, "h1", me, 0, resumable), HYD_STORE_OK);
  /* No owner recorded (an older hyperd): taken. */
  set_owner("h2", 77, "+0 seconds");
  sqlite3 *c;
  cr_assert_eq(sqlite3_open(db, &c), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(c, "UPDATE studies SET owner_host = NULL, owner_pid = NULL, "
                               "heartbeat_at = NULL", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(c);
  cr_assert_eq(claim(b, id, "h1", me, 0, resumable), HYD_STORE_OK);
  /* Not from a status outside `from`; bad arguments. */
  cr_assert_eq(hyd_store_set_status(a, id, HYD_STUDY_COMPLETE), HYD_STORE_OK);
  cr_assert_eq(claim(a, id, "h1", me, 1, resumable), HYD_STORE_ESTATE);
  cr_assert(strstr(hyd_store_errmsg(a), "study 'q' is COMPLETE"), "%s", hyd_store_errmsg(a));
  cr_assert_eq(claim(a, 999, "h1", me, 0, resumable), HYD_STORE_ENOTFOUND);
  cr_assert_eq(claim(a, id, NULL, me, 0, resumable), HYD_STORE_EINVAL);
  cr_assert_eq(claim(a, id, "h1", 0, 0, resumable), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_claim_study(a, id, NULL, resumable), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_claim_study(NULL, id, NULL, resumable), HYD_STORE_EINVAL);
  hyd_store_close(a);
  hyd_store_close(b);
}

Test(store_concurrency, the_owners_iterations_renew_its_heartbeat) {
  hyd_store *a = NULL;
  cr_assert_eq(hyd_store_open(&a, db, 0), HYD_STORE_OK);
  hyd_store_study_spec spec = test_spec("beat", 2);
  spec.pid = (long)getpid();
  int64_t id;
  cr_assert_eq(hyd_store_create_study(a, &spec, &id), HYD_STORE_OK, "%s", hyd_store_errmsg(a));
  set_owner("testhost", (long)getpid(), "-1 hour");
  double warm[4] = {0};
  cr_assert_eq(write_iteration(a, id, 1, 2, 1, warm, 4), HYD_STORE_OK);
  hyd_store_study s;
  cr_assert_eq(hyd_store_get_study(a, id, &s), HYD_STORE_OK);
  cr_assert_str_eq(s.owner_host, "testhost");
  cr_assert_eq(s.owner_pid, (long)getpid());
  sqlite3 *c;
  sqlite3_stmt *q;
  cr_assert_eq(sqlite3_open(db, &c), SQLITE_OK);
  cr_assert_eq(sqlite3_prepare_v2(c, "SELECT (julianday('now') - julianday(heartbeat_at)) "
                                     "* 86400 FROM studies", -1, &q, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
  cr_assert_lt(sqlite3_column_double(q, 0), 60.0, "the heartbeat was not renewed");
  sqlite3_finalize(q);
  sqlite3_close(c);
  hyd_store_study_clear(&s);
  /* An owner is for a RUNNING study with a host. */
  spec.name = "bad";
  spec.status = HYD_STUDY_QUEUED;
  cr_assert_eq(hyd_store_create_study(a, &spec, &id), HYD_STORE_EINVAL);
  hyd_store_close(a);
}
