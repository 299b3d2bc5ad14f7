/* Fault injection: the k-th allocation (SQLite's or the store's, both go
 * through sqlite3_malloc) fails, for k = 1, 2, ... until a whole scenario
 * runs without meeting the failure. Every run must end cleanly: a status,
 * not a crash, and no memory left allocated after close. */
#include <criterion/criterion.h>
#include <sqlite3.h>

#include "store_test_util.h"

static sqlite3_mem_methods real;
static long countdown = -1; /* fail when it reaches 0; negative: never */
static int injected;

static void *fail_malloc(int n) {
  if (countdown >= 0 && countdown-- == 0) {
    injected = 1;
    return NULL;
  }
  return real.xMalloc(n);
}

static void *fail_realloc(void *p, int n) {
  if (countdown >= 0 && countdown-- == 0) {
    injected = 1;
    return NULL;
  }
  return real.xRealloc(p, n);
}

static void install(void) {
  cr_assert_eq(sqlite3_shutdown(), SQLITE_OK);
  cr_assert_eq(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real), SQLITE_OK);
  sqlite3_mem_methods m = real;
  m.xMalloc = fail_malloc;
  m.xRealloc = fail_realloc;
  cr_assert_eq(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), SQLITE_OK);
  /* Lookaside would hide allocations from the counter. */
  cr_assert_eq(sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0), SQLITE_OK);
  cr_assert_eq(sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1), SQLITE_OK);
  cr_assert_eq(sqlite3_initialize(), SQLITE_OK);
}

/* Open, create, one iteration with a checkpoint, read it all back. */
static int scenario(const char *db) {
  hyd_store *st = NULL;
  int s = hyd_store_open(&st, db, 0);
  cr_assert(s != HYD_STORE_OK || st != NULL);
  if (s == HYD_STORE_OK)
    cr_assert_str_eq(hyd_store_errmsg(st), "");
  else
    cr_assert_neq(hyd_store_errmsg(st)[0], '\0', "a failure without a message");
  int64_t id = 0;
  hyd_store_study_spec spec = test_spec("oom", 2);
  double warm[64] = {0};
  if (!s) {
    s = hyd_store_create_study(st, &spec, &id);
    if (s == HYD_STORE_EEXIST) /* created by an earlier run */
      s = HYD_STORE_OK;
  }
  if (!s) {
    hyd_store_study found;
    s = hyd_store_find_study(st, "oom", &found);
    if (!s) {
      id = found.id;
      hyd_store_study_clear(&found);
    }
  }
  /* Iteration 1 replaces the checkpoint row (the last run finished the
   * study without warm starts), iteration 2 overwrites its warm starts in
   * place; the warm starts hold the iteration's number (checked after
   * every run by consistent()). */
  if (!s) /* finished by the last run; running again */
    s = hyd_store_set_status(st, id, HYD_STUDY_RUNNING);
  for (long k = 1; !s && k <= 2; k++) {
    for (int i = 0; i < 64; i++)
      warm[i] = (double)k;
    s = write_iteration(st, id, k, 2, 3, warm, 64);
  }
  long n = 0;
  if (!s)
    s = hyd_store_foreach_evaluation(st, id, count_eval, &n);
  if (!s)
    s = hyd_store_foreach_iteration(st, id, count_iter, &n);
  hyd_store_iteration best;
  if (!s)
    s = hyd_store_best(st, id, &best);
  hyd_maid_checkpoint cp;
  double theta[2];
  if (!s)
    s = hyd_store_load_checkpoint(st, id, &cp, theta, 2, warm, 64);
  if (!s)
    s = hyd_store_list_studies(st, count_study, &n);
  hyd_store_finish f = {.status = HYD_STUDY_COMPLETE, .stop_reason = "max_iter",
                        .cp = &cp, .theta = theta, .n_theta = 2,
                        .event_kind = "complete", .event_message = "done"};
  if (!s)
    s = hyd_store_finish_study(st, id, &f);
  hyd_store_close(st);
  return s;
}

/* Whatever failed, the stored checkpoint is whole: its warm starts, when
 * it has them, are those of its own iteration; a study that is not
 * RUNNING any more has none. */
static void consistent(const char *db, long k) {
  hyd_store *st = NULL;
  if (hyd_store_open(&st, db, HYD_STORE_READONLY) != HYD_STORE_OK) {
    hyd_store_close(st); /* the first runs may not have created it yet */
    return;
  }
  hyd_store_study s;
  if (hyd_store_find_study(st, "oom", &s) == HYD_STORE_OK) {
    long iteration = -1;
    size_t nt = 0, nw = 0;
    if (hyd_store_checkpoint_info(st, s.id, &iteration, &nt, &nw) == HYD_STORE_OK) {
      hyd_maid_checkpoint cp;
      double theta[2], warm[64];
      cr_assert(nw == 0 || nw == 64, "k=%ld: %zu warm starts", k, nw);
      cr_assert_eq(hyd_store_load_checkpoint(st, s.id, &cp, theta, 2, nw ? warm : NULL, nw),
                   HYD_STORE_OK, "k=%ld: %s", k, hyd_store_errmsg(st));
      for (size_t i = 0; i < nw; i++)
        cr_assert_eq(warm[i], (double)cp.iter, "k=%ld: warm start %zu is %g at iteration %ld",
                     k, i, warm[i], cp.iter);
      cr_assert(s.status != HYD_STUDY_COMPLETE || nw == 0,
                "k=%ld: a COMPLETE study kept its warm starts", k);
    }
    hyd_store_study_clear(&s);
  }
  hyd_store_close(st);
}

Test(store_oom, every_allocation_failure_ends_cleanly, .timeout = 300) {
  install();
  char dir[64], db[256];
  tmp_dir(dir);
  tmp_path(db, sizeof db, dir, "oom.db");
  int done = 0;
  long k;
  for (k = 0; !done && k < 20000; k++) {
    countdown = k;
    injected = 0;
    int s = scenario(db);
    countdown = -1;
    consistent(db, k);
    cr_assert_eq(sqlite3_memory_used(), 0, "k=%ld: %lld bytes leaked (status %d)", k,
                 (long long)sqlite3_memory_used(), s);
    if (!injected) {
      cr_assert_eq(s, HYD_STORE_OK, "k=%ld: failed without an injected failure", k);
      done = 1;
    }
  }
  cr_assert(done, "the scenario never ran through");
  cr_log_info("ran through after %ld injected failures", k - 1);
  rm_dir(dir);
}
