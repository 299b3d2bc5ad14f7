/* `hyperd data`: exit codes, --help, outputs, and that fetch and verify
 * reach the data layer with the options given. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_data.h"
#include "data/registry.h"
#include "testutil.h"

static char *tmp;
static char cache[4096];
static char out[1 << 16]; /* what the last command printed on stdout */

static void setup(void) {
  tmp = tu_tmpdir();
  char xdg[4096];
  tu_join(xdg, sizeof xdg, tmp, "xdg");
  tu_join(cache, sizeof cache, xdg, "hyperd");
  /* Never touch the real user cache, whatever a test forgets to pass. */
  setenv("XDG_CACHE_HOME", xdg, 1);
}
static void teardown(void) {
  tu_rmtree(tmp);
  free(tmp);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);

/* Runs `hyperd data ARGS...` (NULL-terminated), capturing stdout in out. */
static int run(const char *first, ...) {
  char *argv[32];
  int argc = 0;
  argv[argc++] = "data";
  va_list ap;
  va_start(ap, first);
  for (const char *a = first; a != NULL && argc < 31; a = va_arg(ap, const char *))
    argv[argc++] = (char *)a;
  va_end(ap);
  argv[argc] = NULL;
  char path[4096];
  tu_join(path, sizeof path, tmp, "stdout");
  fflush(stdout);
  int saved = dup(1);
  FILE *f = fopen(path, "w");
  cr_assert(saved >= 0 && f != NULL);
  dup2(fileno(f), 1);
  int rc = hyd_cli_data(argc, argv);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  fclose(f);
  size_t n;
  unsigned char *b = tu_read(path, &n);
  snprintf(out, sizeof out, "%s", b != NULL ? (char *)b : "");
  free(b);
  return rc;
}

Test(cli, help_and_usage_errors) {
  cr_expect_eq(run(NULL), 2);
  cr_expect_eq(run("--help", NULL), 0);
  cr_expect_not_null(strstr(out, "fetch"));
  cr_expect_eq(run("frobnicate", NULL), 2);
  cr_expect_eq(run("fetch", "--help", NULL), 0);
  cr_expect_not_null(strstr(out, "--base-url"));
  cr_expect_eq(run("list", "--help", NULL), 0);
  cr_expect_not_null(strstr(out, "--json"));
  cr_expect_eq(run("verify", "-h", NULL), 0);
  cr_expect_not_null(strstr(out, "verify NAME"));
  cr_expect_eq(run("fetch", NULL), 2, "no name");
  cr_expect_eq(run("fetch", "nope", NULL), 2, "unknown data set");
  cr_expect_eq(run("fetch", "digits", "--bogus", NULL), 2);
  cr_expect_eq(run("fetch", "digits", "extra", NULL), 2);
  cr_expect_eq(run("fetch", "digits", "--cache", NULL), 2, "option without its value");
  cr_expect_eq(run("fetch", "digits", NULL), 2, "digits has no public URL");
  cr_expect_eq(run("fetch", "digits", "--sha256", "abc", NULL), 2, "--sha256 is for URLs");
  cr_expect_eq(run("fetch", "file:///x/y.csv", "--sha256", "abc", NULL), 2, "not 64 hex digits");
  cr_expect_eq(run("fetch", "file:///x/y.csv", "--base-url", "file:///z", NULL), 2);
  cr_expect_eq(run("fetch", "http://127.0.0.1/", NULL), 2, "the URL names no file");
  cr_expect_eq(run("list", "extra", NULL), 2);
  cr_expect_eq(run("list", "--force", NULL), 2, "fetch's option");
  cr_expect_eq(run("verify", NULL), 2);
  cr_expect_eq(run("verify", "nope", NULL), 2);
  cr_expect_eq(tu_count_entries(cache), 0, "usage errors write nothing");
}

Test(cli, fetch_then_verify) {
  cr_assert_eq(run("fetch", "digits", "--base-url", "file://" TU_SHARED, NULL), 0);
  char dir[4096];
  tu_join(dir, sizeof dir, cache, "digits");
  cr_expect_eq(strncmp(out, dir, strlen(dir)), 0, "prints the folder: %s", out);
  cr_expect_eq(run("verify", "digits", NULL), 0);
  cr_expect_eq(run("fetch", "digits", NULL), 0, "present and verified: no URL needed");
  /* --cache overrides XDG. */
  char other[4096];
  tu_join(other, sizeof other, tmp, "other");
  cr_expect_eq(run("verify", "digits", "--cache", other, NULL), 1, "nothing there");
  cr_expect_eq(run("fetch", "digits", "--cache=" , NULL), 2);
  char opt[4200];
  snprintf(opt, sizeof opt, "--cache=%s", other);
  cr_expect_eq(run("fetch", "digits", opt, "--base-url=file://" TU_SHARED, "--force", NULL), 0);
  cr_expect_eq(run("verify", "digits", "--cache", other, NULL), 0);
  /* A corrupted cached copy fails verify. */
  char p[4096];
  tu_join(p, sizeof p, dir, "tables/digits.csv");
  tu_write(p, "1\n", 2);
  cr_expect_eq(run("verify", "digits", NULL), 1);
  cr_expect_eq(run("verify", "digits", "--dir", TU_SHARED, NULL), 0, "a local folder laid out the same");
}

Test(cli, fetch_failures_exit_1_and_leave_nothing) {
  cr_expect_eq(run("fetch", "digits", "--base-url", "file:///nonexistent", NULL), 1);
  cr_expect_eq(run("fetch", "digits", "--base-url", "http://127.0.0.1:1/", NULL), 1);
  cr_expect_eq(run("fetch", "file://" TU_SHARED "/tables/iris.csv", "--sha256",
                   "0000000000000000000000000000000000000000000000000000000000000000", NULL),
               1);
  cr_expect_eq(tu_count_entries(cache), 0, "only empty folders were made, and removed");
}

Test(cli, fetch_by_url_and_local_folder) {
  cr_assert_eq(run("fetch", "file://" TU_SHARED "/tables/iris.csv?x=1", "--sha256",
                   "111f8932a62b6c883fdc21a018d7459e603d6468fd8bdb4d1e0f0b125f2c9f39", NULL),
               0);
  char p[4096];
  tu_join(p, sizeof p, cache, "url/iris.csv");
  struct stat st;
  cr_expect_eq(stat(p, &st), 0, "%s", p);
  cr_expect_eq(strncmp(out, p, strlen(p)), 0, "%s", out);
  cr_expect_eq(run("fetch", TU_SHARED, NULL), 0);
  cr_expect_eq(strncmp(out, TU_SHARED, strlen(TU_SHARED)), 0);
  cr_expect_eq(run("fetch", "./no/such/folder", NULL), 1);
}

Test(cli, list_text_and_json) {
  cr_assert_eq(run("list", NULL), 0);
  cr_expect_not_null(strstr(out, "kodak"));
  cr_expect_not_null(strstr(out, "fashion-mnist"));
  cr_expect_not_null(strstr(out, cache));
  cr_assert_eq(run("fetch", "digits", "--base-url", "file://" TU_SHARED, NULL), 0);
  cr_assert_eq(run("list", "--json", NULL), 0);
  cJSON *j = cJSON_Parse(out);
  cr_assert_not_null(j, "valid JSON: %s", out);
  cr_expect_eq((size_t)cJSON_GetArraySize(j), hyd_dataset_count());
  cJSON *d = cJSON_GetArrayItem(j, 2);
  cr_expect_str_eq(cJSON_GetObjectItem(d, "name")->valuestring, "digits");
  cr_expect_str_eq(cJSON_GetObjectItem(d, "cached")->valuestring, "yes");
  cr_expect(cJSON_IsNull(cJSON_GetObjectItem(d, "base_url")));
  cJSON *k = cJSON_GetArrayItem(j, 0);
  cr_expect_str_eq(cJSON_GetObjectItem(k, "cached")->valuestring, "no");
  cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(k, "files"), 0);
  cr_expect(cJSON_IsNull(cJSON_GetObjectItem(f0, "sha256")), "Kodak checksums are not known");
  cJSON_Delete(j);
}

Test(cli, verify_fashion_mnist_in_the_debian_folder) {
  struct stat st;
  if (stat(TU_FASHION, &st) != 0)
    cr_skip_test("dataset-fashion-mnist is not installed");
  cr_expect_eq(run("verify", "fashion-mnist", "--dir", TU_FASHION, NULL), 0);
  cr_expect_eq(run("verify", "kodak", "--dir", TU_SHARED, NULL), 1, "no PNGs there");
}
