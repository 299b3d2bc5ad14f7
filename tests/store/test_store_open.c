/* Opening a store: migrations, reopening, and every file it must refuse
 * without changing a byte. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "store_test_util.h"

static char dir[64], db[256];

static void setup(void) {
  tmp_dir(dir);
  tmp_path(db, sizeof db, dir, "t.db");
}
static void teardown(void) { rm_dir(dir); }

TestSuite(store_open, .init = setup, .fini = teardown);

static long long raw_int(const char *path, const char *sql) {
  sqlite3 *c = NULL;
  cr_assert_eq(sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *q = NULL;
  cr_assert_eq(sqlite3_prepare_v2(c, sql, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(c));
  cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
  long long v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(c);
  return v;
}

static void raw_exec(const char *path, const char *sql) {
  sqlite3 *c = NULL;
  cr_assert_eq(sqlite3_open(path, &c), SQLITE_OK);
  char *err = NULL;
  cr_assert_eq(sqlite3_exec(c, sql, NULL, NULL, &err), SQLITE_OK, "%s", err ? err : "");
  sqlite3_close(c);
}

/* The schema as text, to see that a reopen changes nothing. */
static char *schema_dump(const char *path) {
  sqlite3 *c = NULL;
  cr_assert_eq(sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *q = NULL;
  cr_assert_eq(sqlite3_prepare_v2(c,
                                  "SELECT group_concat(type || ' ' || name || ' ' || "
                                  "coalesce(sql, ''), char(10)) FROM "
                                  "(SELECT * FROM sqlite_schema ORDER BY name)",
                                  -1, &q, NULL),
               SQLITE_OK);
  cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
  char *s = strdup((const char *)sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(c);
  return s;
}

Test(store_open, migrates_a_new_file) {
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, HYD_STORE_READWRITE), HYD_STORE_OK, "%s",
               hyd_store_errmsg(st));
  cr_assert_str_eq(hyd_store_errmsg(st), "");
  hyd_store_close(st);
  cr_assert_eq(raw_int(db, "PRAGMA user_version"), hyd_store_schema_version());
  cr_assert_geq(hyd_store_schema_version(), 1);
  cr_assert_eq(raw_int(db, "PRAGMA application_id"), 0x48595044);
  cr_assert_eq(raw_int(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
  const char *objects[] = {"studies", "evaluations", "iterations", "checkpoints",
                           "events", "datasets", "best_per_study", "convergence"};
  for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_schema WHERE name = '%s'", objects[i]);
    cr_assert_eq(raw_int(db, sql), 1, "missing %s", objects[i]);
  }
  cr_assert_eq(raw_int(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
}

Test(store_open, migrates_an_empty_file) {
  write_file(db, "", 0);
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, HYD_STORE_READWRITE), HYD_STORE_OK, "%s",
               hyd_store_errmsg(st));
  hyd_store_close(st);
  cr_assert_eq(raw_int(db, "PRAGMA user_version"), hyd_store_schema_version());
}

Test(store_open, reopen_is_idempotent) {
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, 0), HYD_STORE_OK);
  hyd_store_study_spec spec = test_spec("kept", 2);
  int64_t id = 0;
  cr_assert_eq(hyd_store_create_study(st, &spec, &id), HYD_STORE_OK);
  hyd_store_close(st);
  char *before = schema_dump(db);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(hyd_store_open(&st, db, i == 1 ? HYD_STORE_DURABLE : 0), HYD_STORE_OK, "%s",
                 hyd_store_errmsg(st));
    hyd_store_study s;
    cr_assert_eq(hyd_store_get_study(st, id, &s), HYD_STORE_OK);
    cr_assert_str_eq(s.name, "kept");
    hyd_store_study_clear(&s);
    hyd_store_close(st);
  }
  char *after = schema_dump(db);
  cr_assert_str_eq(before, after);
  cr_assert_eq(raw_int(db, "PRAGMA user_version"), hyd_store_schema_version());
  free(before);
  free(after);
}

/* Opens `db` with `flags`, expects `status`, and checks the file's bytes
 * did not change. */
static void refused_unchanged(int flags, int status, const char *needle) {
  size_t n0 = 0, n1 = 0;
  char *before = read_file(db, &n0);
  cr_assert_not_null(before);
  hyd_store *st = NULL;
  int got = hyd_store_open(&st, db, flags);
  cr_assert_eq(got, status, "got %d: %s", got, hyd_store_errmsg(st));
  cr_assert(strstr(hyd_store_errmsg(st), needle), "message: %s", hyd_store_errmsg(st));
  hyd_store_close(st);
  char *after = read_file(db, &n1);
  cr_assert_not_null(after);
  cr_assert_eq(n0, n1);
  cr_assert(memcmp(before, after, n0) == 0, "the file was modified");
  free(before);
  free(after);
}

Test(store_open, newer_schema_is_refused_and_unchanged) {
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, 0), HYD_STORE_OK);
  hyd_store_close(st);
  raw_exec(db, "PRAGMA user_version = 9999");
  refused_unchanged(HYD_STORE_READWRITE, HYD_STORE_ETOONEW, "newer");
  refused_unchanged(HYD_STORE_READONLY, HYD_STORE_ETOONEW, "9999");
}

Test(store_open, not_a_database_is_refused_and_unchanged) {
  char junk[8192];
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (char)('a' + (i * 7) % 26);
  write_file(db, junk, sizeof junk);
  refused_unchanged(HYD_STORE_READWRITE, HYD_STORE_ENOTDB, "not a SQLite database");
  refused_unchanged(HYD_STORE_READONLY, HYD_STORE_ENOTDB, "not a SQLite database");
}

Test(store_open, another_applications_database_is_refused) {
  raw_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  refused_unchanged(HYD_STORE_READWRITE, HYD_STORE_ENOTDB, "another application");
  raw_exec(db, "PRAGMA application_id = 1234");
  refused_unchanged(HYD_STORE_READWRITE, HYD_STORE_ENOTDB, "1234");
}

Test(store_open, readonly_never_creates) {
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, HYD_STORE_READONLY), HYD_STORE_ENOENT);
  cr_assert(strstr(hyd_store_errmsg(st), "t.db"));
  hyd_store_close(st);
  struct stat sb;
  cr_assert_neq(stat(db, &sb), 0, "read-only open created the file");
}

Test(store_open, readonly_empty_file_is_too_old) {
  write_file(db, "", 0);
  refused_unchanged(HYD_STORE_READONLY, HYD_STORE_ETOOOLD, "empty");
}

Test(store_open, readonly_older_schema_is_too_old) {
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, 0), HYD_STORE_OK);
  hyd_store_close(st);
  /* Simulate a file of an older release: version 0 but our application id
   * and tables present, which the read-only side must not touch. */
  raw_exec(db, "PRAGMA user_version = 0");
  refused_unchanged(HYD_STORE_READONLY, HYD_STORE_ETOOOLD, "");
}

Test(store_open, readonly_after_writer_closed) {
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, db, 0), HYD_STORE_OK);
  hyd_store_study_spec spec = test_spec("a", 1);
  int64_t id;
  cr_assert_eq(hyd_store_create_study(st, &spec, &id), HYD_STORE_OK);
  hyd_store_close(st);
  cr_assert_eq(hyd_store_open(&st, db, HYD_STORE_READONLY), HYD_STORE_OK, "%s",
               hyd_store_errmsg(st));
  hyd_store_study s;
  cr_assert_eq(hyd_store_find_study(st, "a", &s), HYD_STORE_OK);
  hyd_store_study_clear(&s);
  hyd_store_close(st);
}

Test(store_open, directory_and_bad_arguments) {
  hyd_store *st = NULL;
  cr_assert_eq(hyd_store_open(&st, dir, 0), HYD_STORE_ENOTDB);
  cr_assert(strstr(hyd_store_errmsg(st), "directory"));
  hyd_store_close(st);
  cr_assert_eq(hyd_store_open(&st, NULL, 0), HYD_STORE_EINVAL);
  hyd_store_close(st);
  cr_assert_eq(hyd_store_open(&st, "", 0), HYD_STORE_EINVAL);
  hyd_store_close(st);
  cr_assert_eq(hyd_store_open(&st, db, 0x100), HYD_STORE_EINVAL);
  cr_assert(strstr(hyd_store_errmsg(st), "flags"));
  hyd_store_close(st);
  cr_assert_eq(hyd_store_open(NULL, db, 0), HYD_STORE_EINVAL);
  char missing[300];
  tmp_path(missing, sizeof missing, dir, "no/such/dir.db");
  cr_assert_eq(hyd_store_open(&st, missing, 0), HYD_STORE_EIO);
  cr_assert(strstr(hyd_store_errmsg(st), "dir.db"), "%s", hyd_store_errmsg(st));
  hyd_store_close(st);
  hyd_store_close(NULL);
  cr_assert_str_eq(hyd_store_errmsg(NULL), "out of memory");
  cr_assert_eq(hyd_store_set_busy_timeout(NULL, 1), HYD_STORE_EINVAL);
}

Test(store_open, strerror_and_status_names) {
  for (int s = HYD_STORE_OK; s <= HYD_STORE_EIO + 1; s++)
    cr_assert_not_null(hyd_store_strerror(s));
  cr_assert_str_eq(hyd_store_strerror(999), "unknown store status");
  for (int s = HYD_STUDY_QUEUED; s <= HYD_STUDY_INTERRUPTED; s++)
    cr_assert_eq(hyd_study_status_parse(hyd_study_status_name(s)), s);
  cr_assert_null(hyd_study_status_name(5));
  cr_assert_null(hyd_study_status_name(-1));
  cr_assert_eq(hyd_study_status_parse("PRUNED"), -1);
  cr_assert_eq(hyd_study_status_parse(NULL), -1);
}
