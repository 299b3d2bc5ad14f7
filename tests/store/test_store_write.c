/* Writing and reading back: studies, iterations, evaluations, checkpoints
 * (bit for bit), events, data sets, the queue and the best iteration. */
#include <criterion/criterion.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>

#include "store_test_util.h"

static char dir[64], db[256];
static hyd_store *st;

static void setup(void) {
  tmp_dir(dir);
  tmp_path(db, sizeof db, dir, "t.db");
  cr_assert_eq(hyd_store_open(&st, db, 0), HYD_STORE_OK, "%s", hyd_store_errmsg(st));
}
static void teardown(void) {
  hyd_store_close(st);
  rm_dir(dir);
}

TestSuite(store_write, .init = setup, .fini = teardown);

static int64_t new_study(const char *name, size_t n_theta) {
  hyd_store_study_spec spec = test_spec(name, n_theta);
  int64_t id = -1;
  cr_assert_eq(hyd_store_create_study(st, &spec, &id), HYD_STORE_OK, "%s", hyd_store_errmsg(st));
  return id;
}

Test(store_write, study_round_trip) {
  hyd_store_study_spec spec = test_spec("first", 3);
  spec.seed = UINT64_MAX; /* stored as a signed pattern, read back the same */
  spec.data_checksums_json = "{\"data.csv\":\"ab\"}";
  int64_t id;
  cr_assert_eq(hyd_store_create_study(st, &spec, &id), HYD_STORE_OK);
  hyd_store_study s;
  cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
  cr_assert_eq(s.id, id);
  cr_assert_str_eq(s.name, "first");
  cr_assert_str_eq(s.problem, "quadratic");
  cr_assert_str_eq(s.method, "rigorous");
  cr_assert_eq(s.status, HYD_STUDY_RUNNING);
  cr_assert_str_eq(s.study_json, spec.study_json);
  cr_assert_str_eq(s.options_json, spec.options_json);
  cr_assert_str_eq(s.data_checksums_json, spec.data_checksums_json);
  cr_assert_eq(s.seed, UINT64_MAX);
  cr_assert_str_eq(s.host, "testhost");
  cr_assert_eq(s.ranks, 1);
  cr_assert_eq(s.n_theta, 3);
  cr_assert_not_null(s.created_at);
  cr_assert_not_null(s.started_at, "a study created RUNNING has started");
  cr_assert_null(s.finished_at);
  cr_assert_eq(s.has_best, 0);
  cr_assert_eq(s.n_iterations, 0);
  hyd_store_study_clear(&s);
  cr_assert_null(s.name);
  hyd_store_study_clear(NULL);
}

Test(store_write, defaults_for_optional_fields) {
  hyd_store_study_spec spec = test_spec("bare", 0);
  spec.options_json = NULL;
  spec.host = NULL;
  spec.ranks = 0;
  spec.status = HYD_STUDY_QUEUED;
  int64_t id;
  cr_assert_eq(hyd_store_create_study(st, &spec, &id), HYD_STORE_OK);
  hyd_store_study s;
  cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
  cr_assert_str_eq(s.options_json, "{}");
  cr_assert_str_eq(s.data_checksums_json, "{}");
  cr_assert_null(s.host);
  cr_assert_eq(s.ranks, 0);
  cr_assert_eq(s.status, HYD_STUDY_QUEUED);
  cr_assert_null(s.started_at);
  hyd_store_study_clear(&s);
}

Test(store_write, hostile_names_are_data) {
  const char *names[] = {"x'); DROP TABLE studies; --",
                         "Robert\"; DELETE FROM studies WHERE 1=1; --",
                         "semi;colon;'quote'\"double\"",
                         "名前 ünïcödé 🚀 study",
                         "back\\slash %s %n %d",
                         "tab\there\nnewline",
                         "' OR '1'='1"};
  size_t n = sizeof names / sizeof names[0];
  for (size_t i = 0; i < n; i++)
    new_study(names[i], 1);
  for (size_t i = 0; i < n; i++) {
    hyd_store_study s;
    cr_assert_eq(hyd_store_find_study(st, names[i], &s), HYD_STORE_OK, "%s", names[i]);
    cr_assert_str_eq(s.name, names[i]);
    hyd_store_study_clear(&s);
    cr_assert_eq(hyd_store_lookup_study(st, names[i], &s), HYD_STORE_OK);
    hyd_store_study_clear(&s);
  }
  long count = 0;
  cr_assert_eq(hyd_store_list_studies(st, count_study, &count), HYD_STORE_OK);
  cr_assert_eq(count, (long)n);
  /* A prefix or a LIKE pattern does not match. */
  hyd_store_study s;
  cr_assert_eq(hyd_store_find_study(st, "x'", &s), HYD_STORE_ENOTFOUND);
  cr_assert_eq(hyd_store_find_study(st, "%", &s), HYD_STORE_ENOTFOUND);
  /* The duplicate is refused by name, quotes and all. */
  hyd_store_study_spec spec = test_spec(names[0], 1);
  int64_t id;
  cr_assert_eq(hyd_store_create_study(st, &spec, &id), HYD_STORE_EEXIST);
  cr_assert(strstr(hyd_store_errmsg(st), names[0]), "%s", hyd_store_errmsg(st));
  /* Events and data sets with hostile text too. */
  cr_assert_eq(hyd_store_record_event(st, 1, 2, "x'); DROP TABLE events; --", names[1]),
               HYD_STORE_OK);
  cr_assert_eq(hyd_store_put_dataset(st, names[2], names[3],
                                     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
               HYD_STORE_OK);
  char *url = NULL, sum[65];
  cr_assert_eq(hyd_store_get_dataset(st, names[2], &url, sum), HYD_STORE_OK);
  cr_assert_str_eq(url, names[3]);
  hyd_store_free(url);
}

Test(store_write, lookup_by_name_or_id) {
  int64_t a = new_study("alpha", 1);
  int64_t b = new_study("1", 1); /* a name that looks like an id */
  hyd_store_study s;
  cr_assert_eq(hyd_store_lookup_study(st, "1", &s), HYD_STORE_OK);
  cr_assert_eq(s.id, b, "a study named \"1\" wins over id 1");
  hyd_store_study_clear(&s);
  cr_assert_eq(a, 1);
  cr_assert_eq(hyd_store_lookup_study(st, "2", &s), HYD_STORE_OK);
  cr_assert_eq(s.id, b, "no study named \"2\": id 2");
  hyd_store_study_clear(&s);
  cr_assert_eq(hyd_store_lookup_study(st, "99", &s), HYD_STORE_ENOTFOUND);
  cr_assert(strstr(hyd_store_errmsg(st), "99"));
  cr_assert_eq(hyd_store_lookup_study(st, "-1", &s), HYD_STORE_ENOTFOUND);
  cr_assert_eq(hyd_store_lookup_study(st, "99999999999999999999999", &s), HYD_STORE_ENOTFOUND);
  cr_assert_eq(hyd_store_lookup_study(st, "", &s), HYD_STORE_ENOTFOUND);
}

Test(store_write, status_life_cycle) {
  hyd_store_study_spec spec = test_spec("life", 1);
  spec.status = HYD_STUDY_QUEUED;
  int64_t id;
  cr_assert_eq(hyd_store_create_study(st, &spec, &id), HYD_STORE_OK);
  int64_t next = 0;
  cr_assert_eq(hyd_store_next_queued(st, &next), HYD_STORE_OK);
  cr_assert_eq(next, id);
  cr_assert_eq(hyd_store_set_status(st, id, HYD_STUDY_RUNNING), HYD_STORE_OK);
  cr_assert_eq(hyd_store_next_queued(st, &next), HYD_STORE_ENOTFOUND);
  hyd_store_study s;
  cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
  cr_assert_not_null(s.started_at);
  char *started = strdup(s.started_at);
  cr_assert_null(s.finished_at);
  hyd_store_study_clear(&s);
  cr_assert_eq(hyd_store_set_status(st, id, HYD_STUDY_INTERRUPTED), HYD_STORE_OK);
  cr_assert_eq(hyd_store_set_stop_reason(st, id, "interrupted"), HYD_STORE_OK);
  cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
  cr_assert_not_null(s.finished_at);
  cr_assert_str_eq(s.stop_reason, "interrupted");
  hyd_store_study_clear(&s);
  /* Resume: started_at is kept, finished_at cleared. */
  cr_assert_eq(hyd_store_set_status(st, id, HYD_STUDY_RUNNING), HYD_STORE_OK);
  cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
  cr_assert_str_eq(s.started_at, started);
  cr_assert_null(s.finished_at);
  hyd_store_study_clear(&s);
  cr_assert_eq(hyd_store_set_status(st, id, HYD_STUDY_FAILED), HYD_STORE_OK);
  cr_assert_eq(hyd_store_set_error(st, id, "lower-level solve produced NaN"), HYD_STORE_OK);
  cr_assert_eq(hyd_store_set_result(st, id, 0.25, 3), HYD_STORE_OK);
  cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
  cr_assert_eq(s.status, HYD_STUDY_FAILED);
  cr_assert_str_eq(s.error, "lower-level solve produced NaN");
  cr_assert_eq(s.has_best, 1);
  cr_assert_eq(s.best_value, 0.25);
  cr_assert_eq(s.best_iteration, 3);
  hyd_store_study_clear(&s);
  cr_assert_eq(hyd_store_set_error(st, id, NULL), HYD_STORE_OK);
  cr_assert_eq(hyd_store_set_status(st, id, HYD_STUDY_COMPLETE), HYD_STORE_OK);
  cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
  cr_assert_null(s.error);
  cr_assert_eq(s.status, HYD_STUDY_COMPLETE);
  hyd_store_study_clear(&s);
  free(started);
}

Test(store_write, queue_is_oldest_first) {
  hyd_store_study_spec spec = test_spec("q1", 1);
  spec.status = HYD_STUDY_QUEUED;
  int64_t a, b;
  cr_assert_eq(hyd_store_create_study(st, &spec, &a), HYD_STORE_OK);
  spec.name = "q2";
  cr_assert_eq(hyd_store_create_study(st, &spec, &b), HYD_STORE_OK);
  int64_t next;
  cr_assert_eq(hyd_store_next_queued(st, &next), HYD_STORE_OK);
  cr_assert_eq(next, a);
  cr_assert_eq(hyd_store_set_status(st, a, HYD_STUDY_COMPLETE), HYD_STORE_OK);
  cr_assert_eq(hyd_store_next_queued(st, &next), HYD_STORE_OK);
  cr_assert_eq(next, b);
}

typedef struct collected {
  long n;
  hyd_store_evaluation e[16];
  double theta[16][4];
} collected;

static int collect(const hyd_store_evaluation *e, void *user) {
  collected *c = user;
  c->e[c->n] = *e;
  memcpy(c->theta[c->n], e->theta, e->n_theta * sizeof(double));
  c->e[c->n].theta = NULL;
  c->e[c->n].fail_reason = NULL;
  c->n++;
  return 0;
}

Test(store_write, iteration_records_round_trip) {
  int64_t id = new_study("iters", 4);
  cr_assert_eq(write_iteration(st, id, 1, 4, 3, NULL, 0), HYD_STORE_OK, "%s",
               hyd_store_errmsg(st));
  cr_assert_eq(write_iteration(st, id, 2, 4, 2, NULL, 0), HYD_STORE_OK);
  collected c = {0};
  cr_assert_eq(hyd_store_foreach_evaluation(st, id, collect, &c), HYD_STORE_OK);
  cr_assert_eq(c.n, 7);
  /* In (iteration, seq) order, with the values written. */
  for (long i = 0; i < c.n; i++) {
    long k = i < 4 ? 1 : 2, seq = i < 4 ? i : i - 4;
    double theta[4];
    for (int j = 0; j < 4; j++)
      theta[j] = (double)k + 0.125 * j;
    hyd_maid_event want = test_event(k, seq, theta);
    cr_assert_eq(c.e[i].iteration, k);
    cr_assert_eq(c.e[i].seq, seq);
    cr_assert_eq(c.e[i].kind, want.kind);
    cr_assert_eq(c.e[i].eps, want.eps);
    cr_assert_eq(c.e[i].g, want.g);
    cr_assert_eq(c.e[i].f_hi, want.f_hi);
    cr_assert_eq(c.e[i].accepted, want.accepted);
    cr_assert_eq(c.e[i].cost.lower_iters, want.cost.lower_iters);
    cr_assert_eq(c.e[i].failed, 0);
    cr_assert(memcmp(c.theta[i], theta, sizeof theta) == 0);
  }
  long n = 0;
  cr_assert_eq(hyd_store_foreach_iteration(st, id, count_iter, &n), HYD_STORE_OK);
  cr_assert_eq(n, 2);
  hyd_store_iteration best;
  cr_assert_eq(hyd_store_best(st, id, &best), HYD_STORE_OK);
  cr_assert_eq(best.iteration, 2, "g decreases with the iteration");
  cr_assert_eq(best.g, test_info(2).g);
  cr_assert_eq(best.n_theta, 4);
  cr_assert_eq(best.theta[3], 2.375);
  cr_assert_eq(best.cost.lower_iters, 200.0);
  hyd_store_study s;
  cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
  cr_assert_eq(s.n_iterations, 2);
  cr_assert_eq(s.n_evaluations, 7);
  hyd_store_study_clear(&s);
}

Test(store_write, failed_evaluation_and_nan) {
  int64_t id = new_study("nan", 1);
  double theta = 1.0;
  cr_assert_eq(hyd_store_begin_iteration(st, id, 1), HYD_STORE_OK);
  hyd_maid_event e = test_event(1, 0, &theta);
  e.g = NAN;
  e.z_norm = INFINITY;
  cr_assert_eq(hyd_store_record_evaluation(st, &e, "lower solve hit its cap"), HYD_STORE_OK);
  cr_assert_eq(hyd_store_commit_iteration(st), HYD_STORE_OK);
  collected c = {0};
  cr_assert_eq(hyd_store_foreach_evaluation(st, id, collect, &c), HYD_STORE_OK);
  cr_assert_eq(c.n, 1);
  cr_assert(isnan(c.e[0].g), "NaN is stored as NULL and read as NaN");
  cr_assert(isinf(c.e[0].z_norm));
  cr_assert_eq(c.e[0].failed, 1);
  /* No iteration row: best has nothing. */
  hyd_store_iteration best;
  cr_assert_eq(hyd_store_best(st, id, &best), HYD_STORE_ENOTFOUND);
}

Test(store_write, an_evaluation_has_no_step) {
  int64_t id = new_study("steps", 1);
  double theta = 1.0;
  cr_assert_eq(hyd_store_begin_iteration(st, id, 1), HYD_STORE_OK);
  hyd_maid_event e = test_event(1, 0, &theta), t = test_event(1, 1, &theta);
  e.step = 0.5; /* whatever the solver left there: not a step of an evaluation */
  t.step = 0.25;
  cr_assert_eq(hyd_store_record_evaluation(st, &e, NULL), HYD_STORE_OK);
  cr_assert_eq(hyd_store_record_evaluation(st, &t, NULL), HYD_STORE_OK);
  cr_assert_eq(hyd_store_commit_iteration(st), HYD_STORE_OK);
  sqlite3 *c = NULL;
  cr_assert_eq(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *q = NULL;
  cr_assert_eq(sqlite3_prepare_v2(c, "SELECT kind, step IS NULL, coalesce(step, -1) FROM evaluations"
                                     " ORDER BY seq", -1, &q, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
  cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "evaluate");
  cr_assert_eq(sqlite3_column_int(q, 1), 1, "an evaluation's step is NULL");
  cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
  cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "trial");
  cr_assert_eq(sqlite3_column_double(q, 2), 0.25);
  sqlite3_finalize(q);
  sqlite3_close(c);
  collected r = {0};
  cr_assert_eq(hyd_store_foreach_evaluation(st, id, collect, &r), HYD_STORE_OK);
  cr_assert_eq(r.n, 2);
  cr_assert(isnan(r.e[0].step), "read back as NaN");
  cr_assert_eq(r.e[1].step, 0.25);
}

Test(store_write, begin_iteration_discards_an_abandoned_attempt) {
  int64_t id = new_study("rewind", 2);
  for (long k = 1; k <= 5; k++)
    cr_assert_eq(write_iteration(st, id, k, 2, 2, NULL, 0), HYD_STORE_OK);
  /* Resume from iteration 3's checkpoint: iteration 4 is redone. */
  cr_assert_eq(write_iteration(st, id, 4, 2, 1, NULL, 0), HYD_STORE_OK);
  long n = 0;
  cr_assert_eq(hyd_store_foreach_iteration(st, id, count_iter, &n), HYD_STORE_OK);
  cr_assert_eq(n, 4);
  n = 0;
  cr_assert_eq(hyd_store_foreach_evaluation(st, id, count_eval, &n), HYD_STORE_OK);
  cr_assert_eq(n, 3 * 3 + 2);
}

Test(store_write, rollback_discards_everything) {
  int64_t id = new_study("rb", 1);
  double theta = 0.5;
  cr_assert_eq(hyd_store_begin_iteration(st, id, 1), HYD_STORE_OK);
  hyd_maid_event e = test_event(1, 0, &theta);
  cr_assert_eq(hyd_store_record_evaluation(st, &e, NULL), HYD_STORE_OK);
  cr_assert_eq(hyd_store_record_event(st, id, 1, "note", "inside"), HYD_STORE_OK);
  cr_assert_eq(hyd_store_rollback_iteration(st), HYD_STORE_OK);
  long n = 0;
  cr_assert_eq(hyd_store_foreach_evaluation(st, id, count_eval, &n), HYD_STORE_OK);
  cr_assert_eq(n, 0);
  cr_assert_eq(hyd_store_rollback_iteration(st), HYD_STORE_OK, "nothing open is fine");
  /* Closing with an iteration open rolls back too. */
  cr_assert_eq(hyd_store_begin_iteration(st, id, 1), HYD_STORE_OK);
  cr_assert_eq(hyd_store_record_evaluation(st, &e, NULL), HYD_STORE_OK);
  hyd_store_close(st);
  cr_assert_eq(hyd_store_open(&st, db, 0), HYD_STORE_OK);
  cr_assert_eq(hyd_store_foreach_evaluation(st, id, count_eval, &n), HYD_STORE_OK);
  cr_assert_eq(n, 0);
}

static uint64_t bits(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static double from_bits(uint64_t u) {
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

Test(store_write, checkpoint_round_trip_is_bit_exact) {
  enum { P = 7, W = 5000 };
  int64_t id = new_study("cp", P);
  hyd_maid_checkpoint cp, back;
  memset(&cp, 0, sizeof cp);
  cp.iter = 17;
  cp.accepted = LONG_MAX;
  cp.bt_max = LONG_MIN;
  cp.failed_rounds = -3;
  cp.eps = -0.0;
  cp.delta = from_bits(0x7ff8000000000123u); /* NaN with a payload */
  cp.alpha = 4.9406564584124654e-324;        /* smallest subnormal */
  cp.step = DBL_MAX;
  cp.g_old = -INFINITY;
  cp.hoag_L = INFINITY;
  cp.hoag_g_prev = 0.1;
  cp.z_norm = 1.0 / 3.0;
  cp.omega = 2.0;
  cp.f_lo = -1e-300;
  cp.f_hi = 1e300;
  cp.g = 5.0;
  cp.cost.lower_iters = 123456789.0;
  cp.cost.cg_iters = 0.5;
  cp.cost.lower_batches = 3;
  cp.cost.cg_batches = 4;
  cp.cost.lower_iters_ref = 5;
  cp.cost.evaluations = 6;
  cp.cost.trials = 7;
  cp.cost.capped_solves = 8;
  cp.wall_seconds = 12.75;
  double theta[P] = {-0.0, 0.0, 1.0, NAN, -INFINITY, 1e-310, 3.141592653589793};
  double *warm = malloc(W * sizeof *warm);
  uint64_t x = 88172645463325252u;
  for (int i = 0; i < W; i++) { /* xorshift: every bit pattern, NaNs included */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    warm[i] = from_bits(x);
  }
  cr_assert_eq(hyd_store_record_checkpoint(st, id, &cp, theta, P, warm, W), HYD_STORE_OK,
               "%s", hyd_store_errmsg(st));
  /* Replacing keeps one row per study: the latest. */
  cp.iter = 18;
  cr_assert_eq(hyd_store_record_checkpoint(st, id, &cp, theta, P, warm, W), HYD_STORE_OK);
  long iteration = 0;
  size_t nt = 0, nw = 0;
  cr_assert_eq(hyd_store_checkpoint_info(st, id, &iteration, &nt, &nw), HYD_STORE_OK);
  cr_assert_eq(iteration, 18);
  cr_assert_eq(nt, P);
  cr_assert_eq(nw, W);
  double theta2[P], *warm2 = malloc(W * sizeof *warm2);
  cr_assert_eq(hyd_store_load_checkpoint(st, id, &back, theta2, P, warm2, W), HYD_STORE_OK,
               "%s", hyd_store_errmsg(st));
  cr_assert(memcmp(&cp, &back, sizeof cp) == 0, "checkpoint struct differs");
  cr_assert_eq(bits(back.eps), bits(-0.0));
  cr_assert_eq(bits(back.delta), 0x7ff8000000000123u);
  cr_assert(memcmp(theta, theta2, sizeof theta) == 0);
  cr_assert(memcmp(warm, warm2, W * sizeof *warm) == 0);
  /* Without warm starts. */
  memset(&back, 0, sizeof back);
  cr_assert_eq(hyd_store_load_checkpoint(st, id, &back, theta2, P, NULL, 0), HYD_STORE_OK);
  cr_assert_eq(back.iter, 18);
  /* A checkpoint without warm starts reads as 0 of them. */
  cr_assert_eq(hyd_store_record_checkpoint(st, id, &cp, theta, P, NULL, 0), HYD_STORE_OK);
  cr_assert_eq(hyd_store_checkpoint_info(st, id, NULL, NULL, &nw), HYD_STORE_OK);
  cr_assert_eq(nw, 0);
  free(warm);
  free(warm2);
}

Test(store_write, checkpoint_survives_reopen_read_only) {
  int64_t id = new_study("cp2", 2);
  double warm[3] = {1, 2, 3};
  cr_assert_eq(write_iteration(st, id, 1, 2, 1, warm, 3), HYD_STORE_OK);
  hyd_store_close(st);
  cr_assert_eq(hyd_store_open(&st, db, HYD_STORE_READONLY), HYD_STORE_OK);
  hyd_maid_checkpoint cp;
  double theta[2], w[3];
  cr_assert_eq(hyd_store_load_checkpoint(st, id, &cp, theta, 2, w, 3), HYD_STORE_OK);
  cr_assert_eq(cp.iter, 1);
  cr_assert_eq(theta[1], 1.125);
  cr_assert_eq(w[2], 3.0);
}

/* Warm starts of the stored size are overwritten in place (incremental
 * BLOB I/O); other sizes replace the row. Every version reads back bit
 * for bit, and an in-place write inside an iteration that is rolled back
 * leaves the previous warm starts and state. */
static void fill(double *w, size_t n, double base) {
  for (size_t i = 0; i < n; i++)
    w[i] = base + (double)i * 0x1p-20;
}

static void expect_checkpoint(int64_t id, long iter, const double *warm, size_t n) {
  hyd_maid_checkpoint cp;
  double theta[2];
  size_t nw = 99;
  cr_assert_eq(hyd_store_checkpoint_info(st, id, NULL, NULL, &nw), HYD_STORE_OK);
  cr_assert_eq(nw, n, "warm starts: %zu stored, %zu expected", nw, n);
  double *back = malloc((n ? n : 1) * sizeof *back);
  cr_assert_eq(hyd_store_load_checkpoint(st, id, &cp, theta, 2, n ? back : NULL, n),
               HYD_STORE_OK, "%s", hyd_store_errmsg(st));
  cr_assert_eq(cp.iter, iter);
  cr_assert(n == 0 || memcmp(back, warm, n * sizeof *back) == 0, "warm starts differ");
  free(back);
}

Test(store_write, warm_starts_overwritten_in_place_or_replaced) {
  enum { W = 40000 }; /* 320 KB: the BLOB spans many overflow pages */
  int64_t id = new_study("inplace", 2);
  double *a = malloc(W * sizeof *a), *b = malloc(W * sizeof *b);
  fill(a, W, 1.0);
  cr_assert_eq(write_iteration(st, id, 1, 2, 0, a, W), HYD_STORE_OK, "%s", hyd_store_errmsg(st));
  expect_checkpoint(id, 1, a, W);
  fill(b, W, -7.0);
  cr_assert_eq(write_iteration(st, id, 2, 2, 0, b, W), HYD_STORE_OK, "%s", hyd_store_errmsg(st));
  expect_checkpoint(id, 2, b, W);
  /* In place, then rolled back: the previous version stays. */
  hyd_maid_checkpoint cp;
  memset(&cp, 0, sizeof cp);
  cp.iter = 3;
  double theta[2] = {0.5, 0.25};
  cr_assert_eq(hyd_store_begin_iteration(st, id, 3), HYD_STORE_OK);
  cr_assert_eq(hyd_store_record_checkpoint(st, id, &cp, theta, 2, a, W), HYD_STORE_OK);
  cr_assert_eq(hyd_store_rollback_iteration(st), HYD_STORE_OK);
  expect_checkpoint(id, 2, b, W);
  /* Outside an iteration: a transaction of its own. */
  cr_assert_eq(hyd_store_record_checkpoint(st, id, &cp, theta, 2, a, W), HYD_STORE_OK);
  expect_checkpoint(id, 3, a, W);
  /* Fewer values, none, then the first size again. */
  cr_assert_eq(write_iteration(st, id, 4, 2, 0, b, W / 2), HYD_STORE_OK);
  expect_checkpoint(id, 4, b, W / 2);
  cr_assert_eq(write_iteration(st, id, 5, 2, 0, NULL, 0), HYD_STORE_OK);
  expect_checkpoint(id, 5, NULL, 0);
  cr_assert_eq(write_iteration(st, id, 6, 2, 0, a, W), HYD_STORE_OK);
  expect_checkpoint(id, 6, a, W);
  /* Another study's checkpoint of the same size is its own row. */
  int64_t other = new_study("inplace2", 2);
  cr_assert_eq(write_iteration(st, other, 1, 2, 0, b, W), HYD_STORE_OK);
  cr_assert_eq(write_iteration(st, other, 2, 2, 0, b, W), HYD_STORE_OK);
  expect_checkpoint(other, 2, b, W);
  expect_checkpoint(id, 6, a, W);
  free(a);
  free(b);
}

/* The end of a run: checkpoint, stop reason, result, event and status in
 * one transaction; refused inside an open iteration; a failure changes
 * nothing. */
Test(store_write, finish_study_in_one_transaction) {
  enum { W = 1000 };
  int64_t id = new_study("fin", 2);
  double warm[W];
  fill(warm, W, 3.0);
  cr_assert_eq(write_iteration(st, id, 1, 2, 1, warm, W), HYD_STORE_OK);
  cr_assert_eq(write_iteration(st, id, 2, 2, 1, warm, W), HYD_STORE_OK);
  hyd_maid_checkpoint cp;
  memset(&cp, 0, sizeof cp);
  cp.iter = 2;
  double theta[2] = {2.0, 2.125};
  hyd_store_finish f = {.status = HYD_STUDY_COMPLETE, .stop_reason = "max_iter",
                        .cp = &cp, .theta = theta, .n_theta = 2,
                        .event_level = 1, .event_kind = "complete",
                        .event_message = "done"};
  /* Not inside an iteration. */
  cr_assert_eq(hyd_store_begin_iteration(st, id, 3), HYD_STORE_OK);
  cr_assert_eq(hyd_store_finish_study(st, id, &f), HYD_STORE_ESTATE);
  cr_assert_eq(hyd_store_rollback_iteration(st), HYD_STORE_OK);
  /* A checkpoint that does not fit the study: nothing at all changes. */
  f.n_theta = 3;
  cr_assert_eq(hyd_store_finish_study(st, id, &f), HYD_STORE_EINVAL);
  hyd_store_study s;
  cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
  cr_assert_eq(s.status, HYD_STUDY_RUNNING);
  cr_assert_null(s.stop_reason);
  cr_assert_eq(s.has_best, 0);
  hyd_store_study_clear(&s);
  expect_checkpoint(id, 2, warm, W);
  f.n_theta = 2;
  cr_assert_eq(hyd_store_finish_study(st, id, &f), HYD_STORE_OK, "%s", hyd_store_errmsg(st));
  cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
  cr_assert_eq(s.status, HYD_STUDY_COMPLETE);
  cr_assert_str_eq(s.stop_reason, "max_iter");
  cr_assert_not_null(s.finished_at);
  cr_assert(s.has_best);
  cr_assert_eq(s.best_iteration, 2); /* test_info: g falls with the iteration */
  hyd_store_study_clear(&s);
  expect_checkpoint(id, 2, NULL, 0); /* a COMPLETE study keeps no warm starts */
  /* INTERRUPTED without a new checkpoint keeps the stored one. */
  int64_t other = new_study("fin2", 2);
  cr_assert_eq(write_iteration(st, other, 1, 2, 1, warm, W), HYD_STORE_OK);
  hyd_store_finish g = {.status = HYD_STUDY_INTERRUPTED, .stop_reason = "interrupted"};
  cr_assert_eq(hyd_store_finish_study(st, other, &g), HYD_STORE_OK);
  expect_checkpoint(other, 1, warm, W);
  cr_assert_eq(hyd_store_get_study(st, other, &s), HYD_STORE_OK);
  cr_assert_eq(s.status, HYD_STUDY_INTERRUPTED);
  hyd_store_study_clear(&s);
  cr_assert_eq(hyd_store_finish_study(st, other, NULL), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_finish_study(NULL, other, &g), HYD_STORE_EINVAL);
}

Test(store_write, events_and_datasets) {
  int64_t id = new_study("ev", 1);
  cr_assert_eq(hyd_store_record_event(st, id, 1, "start", "study started"), HYD_STORE_OK);
  cr_assert_eq(hyd_store_record_event(st, 0, 3, "daemon", "daemon-wide"), HYD_STORE_OK);
  const char *sum = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  cr_assert_eq(hyd_store_put_dataset(st, "empty", "https://example.org/e", sum), HYD_STORE_OK);
  cr_assert_eq(hyd_store_put_dataset(st, "local", NULL, sum), HYD_STORE_OK);
  char *url = NULL, got[65];
  cr_assert_eq(hyd_store_get_dataset(st, "empty", &url, got), HYD_STORE_OK);
  cr_assert_str_eq(url, "https://example.org/e");
  cr_assert_str_eq(got, sum);
  hyd_store_free(url);
  cr_assert_eq(hyd_store_get_dataset(st, "local", &url, got), HYD_STORE_OK);
  cr_assert_null(url);
  cr_assert_eq(hyd_store_get_dataset(st, "local", NULL, got), HYD_STORE_OK);
  hyd_store_free(NULL);
}

static int stop_after_one(const hyd_store_evaluation *e, void *user) {
  (void)e;
  ++*(long *)user;
  return 1;
}

Test(store_write, callback_stops_early) {
  int64_t id = new_study("stop", 1);
  cr_assert_eq(write_iteration(st, id, 1, 1, 4, NULL, 0), HYD_STORE_OK);
  long n = 0;
  cr_assert_eq(hyd_store_foreach_evaluation(st, id, stop_after_one, &n), HYD_STORE_OK);
  cr_assert_eq(n, 1);
  /* The statement was left mid-way; the next listing starts over. */
  n = 0;
  cr_assert_eq(hyd_store_foreach_evaluation(st, id, count_eval, &n), HYD_STORE_OK);
  cr_assert_eq(n, 5);
}

Test(store_write, maid_recorder_records_into_the_open_iteration) {
  int64_t id = new_study("rec", 2);
  double theta[2] = {1, 2};
  cr_assert_eq(hyd_store_begin_iteration(st, id, 1), HYD_STORE_OK);
  hyd_maid_event e = test_event(1, 0, theta);
  hyd_store_maid_recorder(&e, st);
  e.kind = HYD_EVENT_TRIAL;
  hyd_store_maid_recorder(&e, st);
  cr_assert_eq(hyd_store_commit_iteration(st), HYD_STORE_OK);
  long n = 0;
  cr_assert_eq(hyd_store_foreach_evaluation(st, id, count_eval, &n), HYD_STORE_OK);
  cr_assert_eq(n, 2);
}

Test(store_write, theta_is_stored_little_endian) {
  int64_t id = new_study("le", 2);
  double theta[2] = {1.0, -2.5};
  cr_assert_eq(hyd_store_begin_iteration(st, id, 1), HYD_STORE_OK);
  hyd_maid_info in = test_info(1);
  cr_assert_eq(hyd_store_record_iteration(st, &in, theta), HYD_STORE_OK);
  cr_assert_eq(hyd_store_commit_iteration(st), HYD_STORE_OK);
  sqlite3 *c = NULL;
  cr_assert_eq(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *q = NULL;
  cr_assert_eq(sqlite3_prepare_v2(c, "SELECT hex(theta) FROM iterations", -1, &q, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
  /* 1.0 = 0x3FF0000000000000, -2.5 = 0xC004000000000000, low byte first. */
  cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "000000000000F03F00000000000004C0");
  sqlite3_finalize(q);
  sqlite3_close(c);
}
