/* Every error path of the store API that a test can provoke: bad
 * arguments, wrong state, read-only handles, unknown rows, constraint
 * violations, a second writer holding the lock. Each must return its
 * status with a message and leave the handle usable. */
#include <criterion/criterion.h>
#include <math.h>

#include "store_test_util.h"

static char dir[64], db[256];
static hyd_store *st;
static int64_t study;

static void setup(void) {
  tmp_dir(dir);
  tmp_path(db, sizeof db, dir, "t.db");
  cr_assert_eq(hyd_store_open(&st, db, 0), HYD_STORE_OK);
  hyd_store_study_spec spec = test_spec("s", 2);
  cr_assert_eq(hyd_store_create_study(st, &spec, &study), HYD_STORE_OK);
}
static void teardown(void) {
  hyd_store_close(st);
  rm_dir(dir);
}

TestSuite(store_errors, .init = setup, .fini = teardown);

#define EXPECT(call, status, needle)                                                     \
  do {                                                                                   \
    int got_ = (call);                                                                   \
    cr_assert_eq(got_, (status), "%s: got %d (%s)", #call, got_, hyd_store_errmsg(st));  \
    cr_assert(strstr(hyd_store_errmsg(st), (needle)) != NULL, "%s: message \"%s\"",      \
              #call, hyd_store_errmsg(st));                                              \
    cr_assert_neq(hyd_store_errmsg(st)[0], '\0', "%s: empty message", #call);            \
  } while (0)

Test(store_errors, create_study_arguments) {
  int64_t id;
  hyd_store_study_spec spec = test_spec("x", 1);
  EXPECT(hyd_store_create_study(st, NULL, &id), HYD_STORE_EINVAL, "no spec");
  EXPECT(hyd_store_create_study(st, &spec, NULL), HYD_STORE_EINVAL, "id");
  cr_assert_eq(hyd_store_create_study(NULL, &spec, &id), HYD_STORE_EINVAL);
  spec.name = NULL;
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EINVAL, "name is required");
  spec = test_spec("x", 1);
  spec.problem = NULL;
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EINVAL, "problem");
  spec = test_spec("x", 1);
  spec.method = NULL;
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EINVAL, "method");
  spec = test_spec("x", 1);
  spec.study_json = NULL;
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EINVAL, "study_json");
  spec = test_spec("", 1);
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EINVAL, "1 to 200");
  char longname[202];
  memset(longname, 'n', 201);
  longname[201] = '\0';
  spec = test_spec(longname, 1);
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EINVAL, "201");
  spec = test_spec("x", 1);
  spec.study_json = "{not json";
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EINVAL, "study_json_is_json");
  spec = test_spec("x", 1);
  spec.options_json = "[1,";
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EINVAL, "options_json_is_json");
  spec = test_spec("x", 1);
  spec.status = HYD_STUDY_COMPLETE;
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EINVAL, "QUEUED or RUNNING");
  spec = test_spec("x", 1);
  spec.ranks = -1;
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EINVAL, "ranks");
  spec = test_spec("s", 1);
  EXPECT(hyd_store_create_study(st, &spec, &id), HYD_STORE_EEXIST, "already exists");
  /* Still usable after all that. */
  spec = test_spec("x", 1);
  cr_assert_eq(hyd_store_create_study(st, &spec, &id), HYD_STORE_OK);
  cr_assert_str_eq(hyd_store_errmsg(st), "");
}

Test(store_errors, study_updates) {
  EXPECT(hyd_store_set_status(st, study, 17), HYD_STORE_EINVAL, "unknown status");
  EXPECT(hyd_store_set_status(st, 999, HYD_STUDY_RUNNING), HYD_STORE_ENOTFOUND, "999");
  EXPECT(hyd_store_set_stop_reason(st, 999, "x"), HYD_STORE_ENOTFOUND, "999");
  EXPECT(hyd_store_set_error(st, 999, "x"), HYD_STORE_ENOTFOUND, "999");
  EXPECT(hyd_store_set_result(st, 999, 1.0, 1), HYD_STORE_ENOTFOUND, "999");
  EXPECT(hyd_store_set_result(st, study, 1.0, -1), HYD_STORE_EINVAL, "negative");
  cr_assert_eq(hyd_store_set_status(NULL, study, HYD_STUDY_RUNNING), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_set_stop_reason(NULL, study, "x"), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_set_result(NULL, study, 1.0, 1), HYD_STORE_EINVAL);
}

Test(store_errors, lookups) {
  hyd_store_study s;
  int64_t id;
  EXPECT(hyd_store_get_study(st, 999, &s), HYD_STORE_ENOTFOUND, "999");
  EXPECT(hyd_store_get_study(st, study, NULL), HYD_STORE_EINVAL, "output");
  EXPECT(hyd_store_find_study(st, "nope", &s), HYD_STORE_ENOTFOUND, "nope");
  EXPECT(hyd_store_find_study(st, NULL, &s), HYD_STORE_EINVAL, "name");
  EXPECT(hyd_store_lookup_study(st, NULL, &s), HYD_STORE_EINVAL, "name");
  EXPECT(hyd_store_list_studies(st, NULL, NULL), HYD_STORE_EINVAL, "callback");
  EXPECT(hyd_store_next_queued(st, NULL), HYD_STORE_EINVAL, "id");
  EXPECT(hyd_store_next_queued(st, &id), HYD_STORE_ENOTFOUND, "QUEUED");
  cr_assert_eq(hyd_store_get_study(NULL, 1, &s), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_find_study(NULL, "s", &s), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_list_studies(NULL, count_study, NULL), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_next_queued(NULL, &id), HYD_STORE_EINVAL);
}

Test(store_errors, iteration_state) {
  double theta[2] = {1, 2};
  hyd_maid_event e = test_event(1, 0, theta);
  hyd_maid_info in = test_info(1);
  EXPECT(hyd_store_record_evaluation(st, &e, NULL), HYD_STORE_ESTATE, "no iteration is open");
  EXPECT(hyd_store_record_iteration(st, &in, theta), HYD_STORE_ESTATE, "no iteration is open");
  EXPECT(hyd_store_commit_iteration(st), HYD_STORE_ESTATE, "no iteration is open");
  EXPECT(hyd_store_begin_iteration(st, 999, 1), HYD_STORE_ENOTFOUND, "999");
  EXPECT(hyd_store_begin_iteration(st, study, -1), HYD_STORE_EINVAL, "negative");
  /* The failed begin left no transaction open. */
  cr_assert_eq(hyd_store_begin_iteration(st, study, 1), HYD_STORE_OK);
  EXPECT(hyd_store_begin_iteration(st, study, 2), HYD_STORE_ESTATE, "still open");
  EXPECT(hyd_store_record_evaluation(st, NULL, NULL), HYD_STORE_EINVAL, "no event");
  e.kind = 7;
  EXPECT(hyd_store_record_evaluation(st, &e, NULL), HYD_STORE_EINVAL, "unknown kind");
  cr_assert_eq(hyd_store_rollback_iteration(st), HYD_STORE_OK);
  cr_assert_eq(hyd_store_begin_iteration(st, study, 1), HYD_STORE_OK);
  e = test_event(1, 0, NULL);
  EXPECT(hyd_store_record_evaluation(st, &e, NULL), HYD_STORE_EINVAL, "theta is NULL");
  cr_assert_eq(hyd_store_rollback_iteration(st), HYD_STORE_OK);
  cr_assert_eq(hyd_store_begin_iteration(st, study, 1), HYD_STORE_OK);
  in.iter = 2;
  EXPECT(hyd_store_record_iteration(st, &in, theta), HYD_STORE_EINVAL, "info.iter is 2");
  EXPECT(hyd_store_record_iteration(st, NULL, theta), HYD_STORE_EINVAL, "no info");
  in.iter = 1;
  EXPECT(hyd_store_record_iteration(st, &in, NULL), HYD_STORE_EINVAL, "theta is NULL");
  cr_assert_eq(hyd_store_rollback_iteration(st), HYD_STORE_OK);
  cr_assert_eq(hyd_store_begin_iteration(st, study, 1), HYD_STORE_OK);
  cr_assert_eq(hyd_store_record_iteration(st, &in, theta), HYD_STORE_OK);
  EXPECT(hyd_store_record_iteration(st, &in, theta), HYD_STORE_EEXIST, "recorded already");
  cr_assert_eq(hyd_store_rollback_iteration(st), HYD_STORE_OK);
  cr_assert_eq(hyd_store_begin_iteration(NULL, study, 1), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_record_evaluation(NULL, &e, NULL), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_record_iteration(NULL, &in, theta), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_commit_iteration(NULL), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_rollback_iteration(NULL), HYD_STORE_EINVAL);
}

Test(store_errors, a_failed_record_turns_commit_into_rollback) {
  double theta[2] = {1, 2};
  cr_assert_eq(hyd_store_begin_iteration(st, study, 1), HYD_STORE_OK);
  hyd_maid_event e = test_event(1, 0, theta);
  cr_assert_eq(hyd_store_record_evaluation(st, &e, NULL), HYD_STORE_OK);
  e.kind = 9; /* what a recorder callback cannot report */
  hyd_store_maid_recorder(&e, st);
  e.kind = HYD_EVENT_TRIAL;
  cr_assert_eq(hyd_store_record_evaluation(st, &e, NULL), HYD_STORE_OK);
  hyd_maid_info in = test_info(1);
  cr_assert_eq(hyd_store_record_iteration(st, &in, theta), HYD_STORE_OK);
  EXPECT(hyd_store_commit_iteration(st), HYD_STORE_EINVAL, "rolled back");
  cr_assert(strstr(hyd_store_errmsg(st), "unknown kind 9"), "%s", hyd_store_errmsg(st));
  long n = 0;
  cr_assert_eq(hyd_store_foreach_evaluation(st, study, count_eval, &n), HYD_STORE_OK);
  cr_assert_eq(n, 0, "nothing of the iteration was kept");
  cr_assert_eq(hyd_store_foreach_iteration(st, study, count_iter, &n), HYD_STORE_OK);
  cr_assert_eq(n, 0);
  /* And the next iteration is clean. */
  cr_assert_eq(write_iteration(st, study, 1, 2, 1, NULL, 0), HYD_STORE_OK);
}

Test(store_errors, checkpoints) {
  hyd_maid_checkpoint cp;
  memset(&cp, 0, sizeof cp);
  double theta[2] = {1, 2}, warm[4] = {0};
  EXPECT(hyd_store_record_checkpoint(st, study, NULL, theta, 2, NULL, 0), HYD_STORE_EINVAL,
         "missing");
  EXPECT(hyd_store_record_checkpoint(st, study, &cp, NULL, 2, NULL, 0), HYD_STORE_EINVAL,
         "missing");
  EXPECT(hyd_store_record_checkpoint(st, study, &cp, theta, 2, NULL, 4), HYD_STORE_EINVAL,
         "missing");
  EXPECT(hyd_store_record_checkpoint(st, study, &cp, theta, 3, NULL, 0), HYD_STORE_EINVAL,
         "3 values");
  EXPECT(hyd_store_record_checkpoint(st, 999, &cp, theta, 2, NULL, 0), HYD_STORE_ENOTFOUND,
         "999");
  cp.iter = -1;
  EXPECT(hyd_store_record_checkpoint(st, study, &cp, theta, 2, NULL, 0), HYD_STORE_EINVAL,
         "negative");
  cp.iter = 0;
  long it;
  size_t nt, nw;
  EXPECT(hyd_store_checkpoint_info(st, study, &it, &nt, &nw), HYD_STORE_ENOTFOUND,
         "no checkpoint");
  EXPECT(hyd_store_load_checkpoint(st, study, &cp, theta, 2, NULL, 0), HYD_STORE_ENOTFOUND,
         "no checkpoint");
  EXPECT(hyd_store_load_checkpoint(st, 999, &cp, theta, 2, NULL, 0), HYD_STORE_ENOTFOUND,
         "999");
  cr_assert_eq(hyd_store_record_checkpoint(st, study, &cp, theta, 2, warm, 4), HYD_STORE_OK);
  EXPECT(hyd_store_load_checkpoint(st, study, &cp, theta, 1, NULL, 0), HYD_STORE_EINVAL,
         "2 theta values");
  EXPECT(hyd_store_load_checkpoint(st, study, &cp, theta, 2, warm, 3), HYD_STORE_EINVAL,
         "4 warm-start values");
  EXPECT(hyd_store_load_checkpoint(st, study, NULL, theta, 2, NULL, 0), HYD_STORE_EINVAL,
         "no checkpoint");
  EXPECT(hyd_store_load_checkpoint(st, study, &cp, NULL, 2, NULL, 0), HYD_STORE_EINVAL,
         "theta buffer");
  cr_assert_eq(hyd_store_record_checkpoint(NULL, study, &cp, theta, 2, NULL, 0),
               HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_checkpoint_info(NULL, study, &it, &nt, &nw), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_load_checkpoint(NULL, study, &cp, theta, 2, NULL, 0),
               HYD_STORE_EINVAL);
}

Test(store_errors, events_and_datasets) {
  EXPECT(hyd_store_record_event(st, study, 4, "k", "m"), HYD_STORE_EINVAL, "level");
  EXPECT(hyd_store_record_event(st, study, -1, "k", "m"), HYD_STORE_EINVAL, "level");
  EXPECT(hyd_store_record_event(st, study, 1, "", "m"), HYD_STORE_EINVAL, "kind");
  EXPECT(hyd_store_record_event(st, study, 1, NULL, "m"), HYD_STORE_EINVAL, "kind");
  EXPECT(hyd_store_record_event(st, study, 1, "k", NULL), HYD_STORE_EINVAL, "message");
  EXPECT(hyd_store_record_event(st, 999, 1, "k", "m"), HYD_STORE_ENOTFOUND, "999");
  cr_assert_eq(hyd_store_record_event(NULL, study, 1, "k", "m"), HYD_STORE_EINVAL);
  const char *good = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  EXPECT(hyd_store_put_dataset(st, "d", NULL, "abc"), HYD_STORE_EINVAL, "64 lower-case hex");
  EXPECT(hyd_store_put_dataset(st, "d", NULL,
                               "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"),
         HYD_STORE_EINVAL, "hex");
  EXPECT(hyd_store_put_dataset(st, "", NULL, good), HYD_STORE_EINVAL, "required");
  EXPECT(hyd_store_put_dataset(st, "d", NULL, NULL), HYD_STORE_EINVAL, "required");
  char sum[65], *url;
  EXPECT(hyd_store_get_dataset(st, "d", &url, sum), HYD_STORE_ENOTFOUND, "\"d\"");
  EXPECT(hyd_store_get_dataset(st, NULL, &url, sum), HYD_STORE_EINVAL, "name");
  cr_assert_eq(hyd_store_put_dataset(NULL, "d", NULL, good), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_get_dataset(NULL, "d", &url, sum), HYD_STORE_EINVAL);
}

static hyd_store *nested_store;
static int nested_status;

static int nested(const hyd_store_evaluation *e, void *user) {
  (void)e;
  long n = 0;
  nested_status = hyd_store_foreach_evaluation(nested_store, *(int64_t *)user, count_eval, &n);
  /* Other calls are fine inside a callback. */
  hyd_store_study s;
  cr_assert_eq(hyd_store_get_study(nested_store, *(int64_t *)user, &s), HYD_STORE_OK);
  hyd_store_study_clear(&s);
  return 1;
}

Test(store_errors, listings) {
  EXPECT(hyd_store_foreach_evaluation(st, study, NULL, NULL), HYD_STORE_EINVAL, "callback");
  EXPECT(hyd_store_foreach_iteration(st, study, NULL, NULL), HYD_STORE_EINVAL, "callback");
  long n = 0;
  EXPECT(hyd_store_foreach_evaluation(st, 999, count_eval, &n), HYD_STORE_ENOTFOUND, "999");
  EXPECT(hyd_store_foreach_iteration(st, 999, count_iter, &n), HYD_STORE_ENOTFOUND, "999");
  hyd_store_iteration best;
  EXPECT(hyd_store_best(st, study, &best), HYD_STORE_ENOTFOUND, "no iteration");
  EXPECT(hyd_store_best(st, 999, &best), HYD_STORE_ENOTFOUND, "999");
  EXPECT(hyd_store_best(st, study, NULL), HYD_STORE_EINVAL, "output");
  cr_assert_eq(write_iteration(st, study, 1, 2, 1, NULL, 0), HYD_STORE_OK);
  nested_store = st;
  cr_assert_eq(hyd_store_foreach_evaluation(st, study, nested, &study), HYD_STORE_OK);
  cr_assert_eq(nested_status, HYD_STORE_ESTATE);
  cr_assert_eq(hyd_store_foreach_evaluation(NULL, study, count_eval, &n), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_foreach_iteration(NULL, study, count_iter, &n), HYD_STORE_EINVAL);
  cr_assert_eq(hyd_store_best(NULL, study, &best), HYD_STORE_EINVAL);
}

Test(store_errors, read_only_handle_refuses_writes) {
  hyd_store *ro = NULL;
  cr_assert_eq(hyd_store_open(&ro, db, HYD_STORE_READONLY), HYD_STORE_OK, "%s",
               hyd_store_errmsg(ro));
  hyd_store_study_spec spec = test_spec("y", 1);
  int64_t id;
  hyd_maid_checkpoint cp;
  memset(&cp, 0, sizeof cp);
  double theta[2] = {0};
  const char *sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  int got[] = {
      hyd_store_create_study(ro, &spec, &id),
      hyd_store_set_status(ro, study, HYD_STUDY_COMPLETE),
      hyd_store_set_error(ro, study, "x"),
      hyd_store_begin_iteration(ro, study, 1),
      hyd_store_record_checkpoint(ro, study, &cp, theta, 2, NULL, 0),
      hyd_store_record_event(ro, study, 1, "k", "m"),
      hyd_store_put_dataset(ro, "d", NULL, sum),
  };
  for (size_t i = 0; i < sizeof got / sizeof got[0]; i++)
    cr_assert_eq(got[i], HYD_STORE_ESTATE, "call %zu: %d", i, got[i]);
  cr_assert(strstr(hyd_store_errmsg(ro), "read-only"));
  /* Reads work. */
  hyd_store_study s;
  cr_assert_eq(hyd_store_get_study(ro, study, &s), HYD_STORE_OK);
  hyd_store_study_clear(&s);
  hyd_store_close(ro);
}

Test(store_errors, second_writer_gets_busy) {
  hyd_store *other = NULL;
  cr_assert_eq(hyd_store_open(&other, db, 0), HYD_STORE_OK);
  EXPECT(hyd_store_set_busy_timeout(st, -1), HYD_STORE_EINVAL, "negative");
  cr_assert_eq(hyd_store_set_busy_timeout(other, 20), HYD_STORE_OK);
  cr_assert_eq(hyd_store_begin_iteration(st, study, 1), HYD_STORE_OK);
  int got = hyd_store_begin_iteration(other, study, 1);
  cr_assert_eq(got, HYD_STORE_EBUSY, "%d: %s", got, hyd_store_errmsg(other));
  cr_assert(strstr(hyd_store_errmsg(other), "locked"), "%s", hyd_store_errmsg(other));
  hyd_store_study_spec spec = test_spec("z", 1);
  int64_t id;
  cr_assert_eq(hyd_store_create_study(other, &spec, &id), HYD_STORE_EBUSY);
  cr_assert_eq(hyd_store_commit_iteration(st), HYD_STORE_OK);
  /* Once the lock is free the second handle works. */
  cr_assert_eq(hyd_store_create_study(other, &spec, &id), HYD_STORE_OK, "%s",
               hyd_store_errmsg(other));
  hyd_store_close(other);
}
