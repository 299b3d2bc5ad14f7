/* hyperd studies | trials | best | export, called as functions with their
 * output captured: exit codes, messages, and machine output that parses. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "cli_query.h"
#include "store_test_util.h"

static char dir[64], db[256];
static int64_t study_a, study_b;
static const char *hostile = "it's \"quoted\"; DROP TABLE studies; --";

static void populate(void) {
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, 0), HYD_STORE_OK);
  hyd_store_study_spec spec = test_spec("alpha", 3);
  cr_assert_eq(hyd_store_create_study(st, &spec, &study_a), HYD_STORE_OK);
  spec = test_spec(hostile, 2);
  spec.status = HYD_STUDY_QUEUED;
  cr_assert_eq(hyd_store_create_study(st, &spec, &study_b), HYD_STORE_OK);
  for (long k = 1; k <= 3; k++)
    cr_assert_eq(write_iteration(st, study_a, k, 3, 2, NULL, 0), HYD_STORE_OK);
  /* A failed evaluation with a reason that needs CSV quoting. */
  double theta[2] = {0.5, -0.25};
  cr_assert_eq(hyd_store_begin_iteration(st, study_b, 1), HYD_STORE_OK);
  hyd_maid_event e = test_event(1, 0, theta);
  cr_assert_eq(hyd_store_record_evaluation(st, &e, "cap hit, \"twice\""), HYD_STORE_OK);
  cr_assert_eq(hyd_store_commit_iteration(st), HYD_STORE_OK);
  hyd_store_close(st);
}

static void setup(void) {
  tmp_dir(dir);
  tmp_path(db, sizeof db, dir, "h.db");
  populate();
}
static void teardown(void) { rm_dir(dir); }

TestSuite(cli_query, .init = setup, .fini = teardown);

typedef struct run_result {
  int code;
  char *out, *err;
} run_result;

/* Runs fn with argv (NULL-terminated), stdout and stderr captured. */
static run_result run(int (*fn)(int, char **), const char **args) {
  char outp[300], errp[300];
  tmp_path(outp, sizeof outp, dir, "stdout.txt");
  tmp_path(errp, sizeof errp, dir, "stderr.txt");
  fflush(stdout);
  fflush(stderr);
  int saved_out = dup(1), saved_err = dup(2);
  int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  cr_assert(fo >= 0 && fe >= 0 && saved_out >= 0 && saved_err >= 0);
  dup2(fo, 1);
  dup2(fe, 2);
  int argc = 0;
  char *argv[32];
  while (args[argc]) {
    argv[argc] = (char *)args[argc];
    argc++;
  }
  argv[argc] = NULL;
  run_result r;
  r.code = fn(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(fo);
  close(fe);
  close(saved_out);
  close(saved_err);
  r.out = read_file(outp, NULL);
  r.err = read_file(errp, NULL);
  cr_assert(r.out && r.err);
  return r;
}

static void done(run_result *r) {
  free(r->out);
  free(r->err);
}

static int lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

Test(cli_query, studies_table_and_json) {
  run_result r = run(hyd_cli_studies, (const char *[]){"studies", "--db", db, NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "alpha"));
  cr_assert(strstr(r.out, hostile));
  cr_assert(strstr(r.out, "RUNNING") && strstr(r.out, "QUEUED"));
  cr_assert_eq(lines(r.out), 3);
  done(&r);
  char dbopt[300];
  snprintf(dbopt, sizeof dbopt, "--db=%s", db);
  r = run(hyd_cli_studies, (const char *[]){"studies", "--json", dbopt, NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cJSON *a = cJSON_Parse(r.out);
  cr_assert_not_null(a, "not JSON: %s", r.out);
  cr_assert_eq(cJSON_GetArraySize(a), 2);
  cJSON *b = cJSON_GetArrayItem(a, 1);
  cr_assert_str_eq(cJSON_GetObjectItem(b, "name")->valuestring, hostile);
  cr_assert_str_eq(cJSON_GetObjectItem(b, "status")->valuestring, "QUEUED");
  cJSON *first = cJSON_GetArrayItem(a, 0);
  cr_assert_eq(cJSON_GetObjectItem(first, "iterations")->valuedouble, 3);
  cr_assert_eq(cJSON_GetObjectItem(first, "best_g_iteration")->valuedouble, 3);
  cr_assert(cJSON_IsObject(cJSON_GetObjectItem(first, "options")));
  cJSON_Delete(a);
  done(&r);
}

Test(cli_query, studies_on_an_empty_database_is_an_empty_list) {
  char empty[300];
  tmp_path(empty, sizeof empty, dir, "empty.db");
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, empty, 0), HYD_STORE_OK);
  hyd_store_close(st);
  run_result r = run(hyd_cli_studies, (const char *[]){"studies", "--db", empty, "--json", NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cJSON *a = cJSON_Parse(r.out);
  cr_assert(cJSON_IsArray(a) && cJSON_GetArraySize(a) == 0, "%s", r.out);
  cJSON_Delete(a);
  done(&r);
}

Test(cli_query, trials_by_name_and_by_id) {
  run_result r = run(hyd_cli_trials, (const char *[]){"trials", "alpha", "--db", db, NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_eq(lines(r.out), 1 + 9, "%s", r.out);
  cr_assert(strstr(r.out, "evaluate") && strstr(r.out, "trial"));
  done(&r);
  char id[32];
  snprintf(id, sizeof id, "%lld", (long long)study_a);
  r = run(hyd_cli_trials, (const char *[]){"trials", "--json", "--db", db, id, NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cJSON *a = cJSON_Parse(r.out);
  cr_assert_not_null(a, "%s", r.out);
  cr_assert_eq(cJSON_GetArraySize(a), 9);
  cJSON *e = cJSON_GetArrayItem(a, 4);
  cr_assert_eq(cJSON_GetObjectItem(e, "iteration")->valuedouble, 2);
  cr_assert_eq(cJSON_GetObjectItem(e, "seq")->valuedouble, 1);
  cJSON *theta = cJSON_GetObjectItem(e, "theta");
  cr_assert_eq(cJSON_GetArraySize(theta), 3);
  cr_assert_eq(cJSON_GetArrayItem(theta, 2)->valuedouble, 2.25);
  cJSON_Delete(a);
  done(&r);
  r = run(hyd_cli_trials, (const char *[]){"trials", hostile, "--db", db, "--json", NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  a = cJSON_Parse(r.out);
  cr_assert_eq(cJSON_GetArraySize(a), 1);
  cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "fail_reason")->valuestring,
                   "cap hit, \"twice\"");
  cJSON_Delete(a);
  done(&r);
}

Test(cli_query, best_table_and_json) {
  run_result r = run(hyd_cli_best, (const char *[]){"best", "alpha", "--db", db, NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "iteration   3"), "%s", r.out);
  done(&r);
  r = run(hyd_cli_best, (const char *[]){"best", "alpha", "--db", db, "--json", NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cJSON *o = cJSON_Parse(r.out);
  cr_assert_not_null(o, "%s", r.out);
  cJSON *b = cJSON_GetObjectItem(o, "best");
  cr_assert_eq(cJSON_GetObjectItem(b, "iteration")->valuedouble, 3);
  cr_assert_eq(cJSON_GetObjectItem(b, "g")->valuedouble, test_info(3).g);
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b, "theta")), 3);
  cJSON_Delete(o);
  done(&r);
  /* A study without iterations has no best yet: a failure, not usage. */
  r = run(hyd_cli_best, (const char *[]){"best", hostile, "--db", db, NULL});
  cr_assert_eq(r.code, 1);
  cr_assert(strstr(r.err, "no iteration"), "%s", r.err);
  done(&r);
}

Test(cli_query, export_csv_and_json) {
  char out[300];
  tmp_path(out, sizeof out, dir, "e.csv");
  run_result r = run(hyd_cli_export, (const char *[]){"export", "alpha", "--format", "csv",
                                                      "--out", out, "--db", db, NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_str_eq(r.out, "");
  char *csv = read_file(out, NULL);
  cr_assert_not_null(csv);
  cr_assert_eq(lines(csv), 10);
  cr_assert(strncmp(csv, "iteration,seq,kind,", 19) == 0);
  cr_assert(strstr(csv, ",theta_0,theta_1,theta_2\n"));
  free(csv);
  done(&r);
  r = run(hyd_cli_export, (const char *[]){"export", "alpha", "--table", "iterations",
                                           "--db", db, NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_eq(lines(r.out), 4);
  cr_assert(strncmp(r.out, "iteration,eps,", 14) == 0);
  done(&r);
  r = run(hyd_cli_export, (const char *[]){"export", hostile, "--db", db, NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"cap hit, \"\"twice\"\"\""), "RFC 4180 quoting: %s", r.out);
  done(&r);
  r = run(hyd_cli_export, (const char *[]){"export", "alpha", "--format=json", "--db", db, NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cJSON *o = cJSON_Parse(r.out);
  cr_assert_not_null(o, "%s", r.out);
  cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "study"), "name")->valuestring,
                   "alpha");
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "iterations")), 3);
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "evaluations")), 9);
  cr_assert_eq(cJSON_GetObjectItem(o, "schema_version")->valuedouble,
               hyd_store_schema_version());
  cJSON_Delete(o);
  done(&r);
}

/* Usage and bad input: exit 2 and a message naming the problem. */
static void expect_usage(int (*fn)(int, char **), const char **args, const char *needle) {
  run_result r = run(fn, args);
  cr_assert_eq(r.code, 2, "%s: exit %d, stderr %s", args[0], r.code, r.err);
  cr_assert(strstr(r.err, needle), "%s: stderr \"%s\" lacks \"%s\"", args[0], r.err, needle);
  done(&r);
}

Test(cli_query, usage_and_bad_input) {
  char missing[300], junk[300], newer[300];
  tmp_path(missing, sizeof missing, dir, "missing.db");
  tmp_path(junk, sizeof junk, dir, "junk.db");
  tmp_path(newer, sizeof newer, dir, "newer.db");
  const char *text = "this is not a database, just text padded out......................."
                     "......................................................................";
  write_file(junk, text, strlen(text));
  expect_usage(hyd_cli_studies, (const char *[]){"studies", "--db", missing, NULL}, "missing.db");
  struct stat sb;
  cr_assert_neq(stat(missing, &sb), 0, "a query created the database");
  expect_usage(hyd_cli_studies, (const char *[]){"studies", "--db", junk, NULL}, "not a SQLite");
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, newer, 0), HYD_STORE_OK);
  hyd_store_close(st);
  sqlite3 *c;
  cr_assert_eq(sqlite3_open(newer, &c), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(c, "PRAGMA user_version = 4242", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(c);
  expect_usage(hyd_cli_trials, (const char *[]){"trials", "x", "--db", newer, NULL}, "4242");
  expect_usage(hyd_cli_studies, (const char *[]){"studies", "--bogus", NULL}, "--bogus");
  expect_usage(hyd_cli_studies, (const char *[]){"studies", "extra", NULL}, "extra");
  expect_usage(hyd_cli_studies, (const char *[]){"studies", "--db", NULL}, "needs a value");
  expect_usage(hyd_cli_studies, (const char *[]){"studies", "--db=", NULL}, "file name");
  expect_usage(hyd_cli_trials, (const char *[]){"trials", "--db", db, NULL}, "which study");
  expect_usage(hyd_cli_trials, (const char *[]){"trials", "nope", "--db", db, NULL}, "nope");
  expect_usage(hyd_cli_trials, (const char *[]){"trials", "a", "b", "--db", db, NULL}, "\"b\"");
  expect_usage(hyd_cli_best, (const char *[]){"best", "404", "--db", db, NULL}, "404");
  expect_usage(hyd_cli_best, (const char *[]){"best", "--format", "csv", "alpha", NULL},
               "--format");
  expect_usage(hyd_cli_export, (const char *[]){"export", "alpha", "--format", "xml", "--db",
                                                db, NULL},
               "xml");
  expect_usage(hyd_cli_export, (const char *[]){"export", "alpha", "--format", "json",
                                                "--table", "iterations", "--db", db, NULL},
               "--table");
  expect_usage(hyd_cli_export, (const char *[]){"export", "alpha", "--table", "x", "--db",
                                                db, NULL},
               "unknown table");
  expect_usage(hyd_cli_export, (const char *[]){"export", "alpha", "--json", NULL}, "--json");
}

Test(cli_query, help_and_default_db) {
  const char *cmds[] = {"studies", "trials", "best", "export"};
  int (*fns[])(int, char **) = {hyd_cli_studies, hyd_cli_trials, hyd_cli_best, hyd_cli_export};
  for (int i = 0; i < 4; i++) {
    run_result r = run(fns[i], (const char *[]){cmds[i], "--help", NULL});
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "usage: hyperd"), "%s", r.out);
    cr_assert(strstr(r.out, cmds[i]));
    done(&r);
  }
  /* Without --db: hyperd.db in the current directory. */
  char cwd[512];
  cr_assert_not_null(getcwd(cwd, sizeof cwd));
  cr_assert_eq(chdir(dir), 0);
  rename("h.db", "hyperd.db");
  run_result r = run(hyd_cli_studies, (const char *[]){"studies", NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "alpha"));
  done(&r);
  cr_assert_eq(chdir(cwd), 0);
}

Test(cli_query, export_to_an_unwritable_path_fails) {
  char bad[300];
  tmp_path(bad, sizeof bad, dir, "no/such/dir/out.csv");
  run_result r = run(hyd_cli_export, (const char *[]){"export", "alpha", "--out", bad, "--db",
                                                      db, NULL});
  cr_assert_eq(r.code, 1);
  cr_assert(strstr(r.err, "out.csv"), "%s", r.err);
  done(&r);
}

Test(cli_query, queries_work_beside_a_running_writer) {
  hyd_store *w = NULL;
  cr_assert_eq(hyd_store_open(&w, db, 0), HYD_STORE_OK);
  cr_assert_eq(hyd_store_begin_iteration(w, study_a, 4), HYD_STORE_OK);
  double theta[3] = {4, 4, 4};
  hyd_maid_event e = test_event(4, 0, theta);
  cr_assert_eq(hyd_store_record_evaluation(w, &e, NULL), HYD_STORE_OK);
  run_result r = run(hyd_cli_trials, (const char *[]){"trials", "alpha", "--json", "--db", db, NULL});
  cr_assert_eq(r.code, 0, "%s", r.err);
  cJSON *a = cJSON_Parse(r.out);
  cr_assert_eq(cJSON_GetArraySize(a), 9, "the open iteration is not visible");
  cJSON_Delete(a);
  done(&r);
  cr_assert_eq(hyd_store_commit_iteration(w), HYD_STORE_OK);
  r = run(hyd_cli_trials, (const char *[]){"trials", "alpha", "--json", "--db", db, NULL});
  a = cJSON_Parse(r.out);
  cr_assert_eq(cJSON_GetArraySize(a), 10);
  cJSON_Delete(a);
  done(&r);
  hyd_store_close(w);
}

/* cJSON allocations fail one at a time (k = 0, 1, ...): every command with
 * JSON output must exit 0 or 1 with "out of memory", never crash or print
 * half an object as success. */
static long cjson_countdown = -1;
static int cjson_injected;

static void *failing_malloc(size_t n) {
  if (cjson_countdown >= 0 && cjson_countdown-- == 0) {
    cjson_injected = 1;
    return NULL;
  }
  return malloc(n);
}

Test(cli_query, json_output_survives_allocation_failures) {
  cJSON_Hooks hooks = {failing_malloc, free};
  cJSON_InitHooks(&hooks);
  const char *cmds[][8] = {{"studies", "--json", "--db", db, NULL},
                           {"trials", "alpha", "--json", "--db", db, NULL},
                           {"best", "alpha", "--json", "--db", db, NULL},
                           {"export", "alpha", "--format", "json", "--db", db, NULL}};
  int (*fns[])(int, char **) = {hyd_cli_studies, hyd_cli_trials, hyd_cli_best, hyd_cli_export};
  for (int c = 0; c < 4; c++) {
    int done_ = 0;
    for (long k = 0; !done_ && k < 100000; k++) {
      cjson_countdown = k;
      cjson_injected = 0;
      run_result r = run(fns[c], cmds[c]);
      cjson_countdown = -1;
      if (cjson_injected) {
        cr_assert(r.code == 1 || r.code == 0, "%s k=%ld: exit %d", cmds[c][0], k, r.code);
        if (r.code == 1)
          cr_assert(strstr(r.err, "out of memory"), "%s k=%ld: %s", cmds[c][0], k, r.err);
      } else {
        cr_assert_eq(r.code, 0, "%s: %s", cmds[c][0], r.err);
        done_ = 1;
      }
      done(&r);
    }
    cr_assert(done_, "%s never ran through", cmds[c][0]);
  }
  cJSON_InitHooks(NULL);
}
