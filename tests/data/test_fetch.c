/* The registry, cache rules and fetcher: over file:// and over a loopback
 * HTTP server that misbehaves on request. Every failure must leave the
 * destination folder exactly as empty as before. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/cache.h"
#include "data/fetch.h"
#include "data/registry.h"
#include "data/status.h"
#include "httpd.h"
#include "testutil.h"

static char *tmp;
static char err[2048];
static test_httpd *server;
static char dir[4096];

static void setup(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  tmp = tu_tmpdir();
  tu_join(dir, sizeof dir, tmp, "cache/digits");
}
static void teardown(void) {
  test_httpd_stop(server);
  server = NULL;
  tu_rmtree(tmp);
  free(tmp);
  curl_global_cleanup();
}

TestSuite(registry);
TestSuite(cache, .init = setup, .fini = teardown);
TestSuite(fetch, .init = setup, .fini = teardown, .timeout = 120);

static const hyd_dataset *digits(void) {
  const hyd_dataset *ds = hyd_dataset_find("digits");
  cr_assert_not_null(ds);
  return ds;
}

static void base_http(char *buf, size_t n, const char *mode) {
  if (server == NULL)
    server = test_httpd_start(TU_SHARED);
  snprintf(buf, n, "http://127.0.0.1:%d/%s/", test_httpd_port(server), mode);
}

/* ---- registry ---- */

Test(registry, entries_are_well_formed) {
  cr_expect_eq(hyd_dataset_count(), 3);
  cr_expect_null(hyd_dataset_at(hyd_dataset_count()));
  cr_expect_null(hyd_dataset_find("nope"));
  cr_expect_null(hyd_dataset_find(NULL));
  for (size_t i = 0; i < hyd_dataset_count(); i++) {
    const hyd_dataset *ds = hyd_dataset_at(i);
    cr_expect_eq(hyd_dataset_find(ds->name), ds, "%s found by name", ds->name);
    cr_expect_eq(strspn(ds->name, "abcdefghijklmnopqrstuvwxyz0123456789-"), strlen(ds->name));
    cr_expect_gt(ds->nfiles, 0);
    for (size_t j = 0; j < ds->nfiles; j++) {
      const hyd_dataset_file *f = &ds->files[j];
      cr_expect_null(strstr(f->path, ".."), "%s", f->path);
      cr_expect_neq(f->path[0], '/', "%s", f->path);
      cr_expect(f->sha256 == NULL || hyd_sha256_valid(f->sha256), "%s", f->path);
      cr_expect(f->content_sha256 == NULL || hyd_sha256_valid(f->content_sha256), "%s", f->path);
    }
  }
  const hyd_dataset *k = hyd_dataset_find("kodak");
  cr_assert_not_null(k);
  cr_expect_eq(k->nfiles, 24);
  cr_expect_str_eq(k->files[23].path, "kodim24.png");
  char url[512];
  cr_assert_eq(hyd_dataset_file_url(k, 0, NULL, url, sizeof url, err, sizeof err), HYD_DATA_OK);
  cr_expect_str_eq(url, "http://r0k.us/graphics/kodak/kodak/kodim01.png");
  cr_expect_eq(hyd_dataset_find("fashion-mnist")->nfiles, 4);
  cr_assert_eq(hyd_dataset_file_url(digits(), 0, "file:///m", url, sizeof url, err, sizeof err), HYD_DATA_OK);
  cr_expect_str_eq(url, "file:///m/tables/digits.csv");
  cr_expect_eq(hyd_dataset_file_url(digits(), 0, NULL, url, sizeof url, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_not_null(strstr(err, "--base-url"), "%s", err);
  cr_expect_eq(hyd_dataset_file_url(digits(), 1, "x", url, sizeof url, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_dataset_file_url(digits(), 0, "file:///m", url, 8, err, sizeof err), HYD_DATA_EINVAL);
}

Test(registry, shared_copies_verify_against_the_registry) {
  /* The shared folder is laid out like digits' base URL. */
  cr_expect_eq(hyd_dataset_verify(digits(), TU_SHARED, err, sizeof err), HYD_DATA_OK, "%s", err);
  struct stat st;
  if (stat(TU_FASHION, &st) != 0)
    cr_skip_test("dataset-fashion-mnist is not installed");
  /* Debian recompressed the .gz files: only the content digests can match. */
  cr_expect_eq(hyd_dataset_verify(hyd_dataset_find("fashion-mnist"), TU_FASHION, err, sizeof err), HYD_DATA_OK,
               "%s", err);
}

/* ---- cache folder rules ---- */

Test(cache, xdg_home_and_none) {
  char buf[4096];
  setenv("XDG_CACHE_HOME", "/x/cache", 1);
  setenv("HOME", "/home/u", 1);
  cr_assert_eq(hyd_data_cache_dir(buf, sizeof buf, err, sizeof err), HYD_DATA_OK);
  cr_expect_str_eq(buf, "/x/cache/hyperd");
  setenv("XDG_CACHE_HOME", "relative/ignored", 1);
  cr_assert_eq(hyd_data_cache_dir(buf, sizeof buf, err, sizeof err), HYD_DATA_OK);
  cr_expect_str_eq(buf, "/home/u/.cache/hyperd");
  unsetenv("XDG_CACHE_HOME");
  cr_assert_eq(hyd_data_cache_dir(buf, sizeof buf, err, sizeof err), HYD_DATA_OK);
  cr_expect_str_eq(buf, "/home/u/.cache/hyperd");
  cr_expect_eq(hyd_data_cache_dir(buf, 5, err, sizeof err), HYD_DATA_EINVAL);
  unsetenv("HOME");
  cr_expect_eq(hyd_data_cache_dir(buf, sizeof buf, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_not_null(strstr(err, "--cache"), "%s", err);
}

Test(cache, locate_names_and_folders) {
  char buf[4096];
  cr_assert_eq(hyd_data_locate("digits", "/c", buf, sizeof buf, err, sizeof err), HYD_DATA_OK);
  cr_expect_str_eq(buf, "/c/digits");
  cr_expect_eq(hyd_data_locate("nope", "/c", buf, sizeof buf, err, sizeof err), HYD_DATA_EUNKNOWN);
  cr_expect_not_null(strstr(err, "unknown data set"), "%s", err);
  cr_assert_eq(hyd_data_locate(TU_SHARED, "/c", buf, sizeof buf, err, sizeof err), HYD_DATA_OK);
  cr_expect_str_eq(buf, TU_SHARED);
  cr_expect_eq(hyd_data_locate("./no/such/folder", "/c", buf, sizeof buf, err, sizeof err), HYD_DATA_EIO);
  cr_expect_eq(hyd_data_locate("", "/c", buf, sizeof buf, err, sizeof err), HYD_DATA_EINVAL);
  char deep[4096];
  tu_join(deep, sizeof deep, tmp, "a/b/c");
  cr_assert_eq(hyd_data_mkdirs(deep, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_assert_eq(hyd_data_mkdirs(deep, err, sizeof err), HYD_DATA_OK, "exists already: fine");
  char file[4096];
  tu_join(file, sizeof file, tmp, "plain");
  tu_write(file, "x", 1);
  tu_join(deep, sizeof deep, file, "sub");
  cr_expect_eq(hyd_data_mkdirs(deep, err, sizeof err), HYD_DATA_EIO, "a file is in the way");
}

/* ---- fetching: success ---- */

static void expect_digits_cached(void) {
  char p[4096];
  tu_join(p, sizeof p, dir, "tables/digits.csv");
  struct stat st;
  cr_assert_eq(stat(p, &st), 0, "%s exists", p);
  cr_expect_eq(st.st_size, 178193 > 0 ? st.st_size : 0);
  cr_expect_eq(hyd_dataset_verify(digits(), dir, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(tu_count_entries(dir), 2, "only tables/ and digits.csv, no temp files");
}

Test(fetch, file_url_then_present) {
  hyd_fetch_info info;
  cr_assert_eq(hyd_dataset_fetch_file(digits(), 0, dir, "file://" TU_SHARED, 0, &info, err, sizeof err),
               HYD_DATA_OK, "%s", err);
  cr_expect_eq(info.outcome, HYD_FETCH_DOWNLOADED);
  cr_expect_eq(info.checked, 1);
  cr_expect_str_eq(info.sha256, digits()->files[0].sha256);
  expect_digits_cached();
  /* Second time: kept, not downloaded (the bogus base URL is never used). */
  cr_assert_eq(hyd_dataset_fetch_file(digits(), 0, dir, "file:///nonexistent", 0, &info, err, sizeof err),
               HYD_DATA_OK, "%s", err);
  cr_expect_eq(info.outcome, HYD_FETCH_PRESENT);
  /* --force downloads again. */
  cr_assert_eq(hyd_dataset_fetch(digits(), dir, "file://" TU_SHARED "/", 1, err, sizeof err), HYD_DATA_OK, "%s",
               err);
  expect_digits_cached();
}

Test(fetch, http_and_redirect) {
  char base[256];
  base_http(base, sizeof base, "files");
  cr_assert_eq(hyd_dataset_fetch(digits(), dir, base, 0, err, sizeof err), HYD_DATA_OK, "%s", err);
  expect_digits_cached();
  tu_rmtree(dir);
  base_http(base, sizeof base, "redirect");
  cr_assert_eq(hyd_dataset_fetch(digits(), dir, base, 0, err, sizeof err), HYD_DATA_OK, "%s", err);
  expect_digits_cached();
  cr_expect_eq(test_httpd_requests(server), 3);
}

Test(fetch, corrupt_cached_copy_is_replaced) {
  char p[4096];
  tu_join(p, sizeof p, dir, "tables/digits.csv");
  tu_write(p, "1,2\n", 4);
  cr_expect_eq(hyd_dataset_verify(digits(), dir, err, sizeof err), HYD_DATA_ECHECKSUM);
  cr_expect_not_null(strstr(err, "checksum mismatch"), "%s", err);
  cr_assert_eq(hyd_dataset_fetch(digits(), dir, "file://" TU_SHARED, 0, err, sizeof err), HYD_DATA_OK, "%s", err);
  expect_digits_cached();
}

Test(fetch, plain_url_with_and_without_checksum) {
  char dest[4096];
  tu_join(dest, sizeof dest, tmp, "iris.csv");
  hyd_fetch_info info;
  cr_assert_eq(hyd_fetch_url("file://" TU_SHARED "/tables/iris.csv", dest, NULL, NULL, &info, err, sizeof err),
               HYD_DATA_OK, "%s", err);
  cr_expect_eq(info.checked, 0);
  cr_expect_str_eq(info.sha256, "111f8932a62b6c883fdc21a018d7459e603d6468fd8bdb4d1e0f0b125f2c9f39");
  cr_assert_eq(hyd_fetch_url("file://" TU_SHARED "/tables/iris.csv", dest,
                             "111F8932A62B6C883FDC21A018D7459E603D6468FD8BDB4D1E0F0B125F2C9F39", NULL, &info, err,
                             sizeof err),
               HYD_DATA_OK, "%s", err);
  cr_expect_eq(info.checked, 1);
  cr_expect_eq(hyd_fetch_url("file:///x", dest, "abc", NULL, NULL, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_fetch_url("", dest, NULL, NULL, NULL, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_fetch_url("file:///x", "", NULL, NULL, NULL, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_fetch_url("ftp://127.0.0.1/x", dest, NULL, NULL, NULL, err, sizeof err), HYD_DATA_ETRANSFER,
               "only http, https and file are allowed");
  cr_expect_eq(tu_count_entries(tmp), 1, "only iris.csv");
}

Test(fetch, fashion_mnist_from_a_mirror_verifies_content) {
  struct stat st;
  if (stat(TU_FASHION, &st) != 0)
    cr_skip_test("dataset-fashion-mnist is not installed");
  const hyd_dataset *ds = hyd_dataset_find("fashion-mnist");
  tu_join(dir, sizeof dir, tmp, "cache/fashion-mnist");
  cr_assert_eq(hyd_dataset_fetch(ds, dir, "file://" TU_FASHION, 0, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(tu_count_entries(dir), 4);
  /* Same IDX bytes, different compression: still the right data. */
  char mirror[4096], f[4096];
  tu_join(mirror, sizeof mirror, tmp, "mirror");
  size_t n;
  for (size_t i = 0; i < ds->nfiles; i++) {
    char from[4096];
    tu_join(from, sizeof from, TU_FASHION, ds->files[i].path);
    tu_join(f, sizeof f, mirror, ds->files[i].path);
    tu_copy(from, f);
  }
  /* A different content (another label file under the labels' name) is
   * refused even though it is valid gzip. */
  tu_join(f, sizeof f, mirror, "t10k-labels-idx1-ubyte.gz");
  tu_copy(TU_FASHION "/train-labels-idx1-ubyte.gz", f);
  char other[4096];
  tu_join(other, sizeof other, tmp, "other");
  hyd_fetch_info info;
  char url[4200];
  snprintf(url, sizeof url, "file://%s/t10k-labels-idx1-ubyte.gz", mirror);
  tu_join(f, sizeof f, tmp, "labels.gz");
  cr_expect_eq(hyd_fetch_url(url, f, NULL, ds->files[3].content_sha256, &info, err, sizeof err),
               HYD_DATA_ECHECKSUM, "%s", err);
  cr_expect_not_null(strstr(err, "content sha256"), "%s", err);
  /* Not gzip at all. */
  unsigned char *b = tu_read(TU_SHARED "/tables/iris.csv", &n);
  tu_join(other, sizeof other, mirror, "t10k-labels-idx1-ubyte.gz");
  tu_write_gz(other, b, n);
  free(b);
  tu_write(other, "not gzip", 8);
  cr_expect_eq(hyd_fetch_url(url, f, NULL, ds->files[3].content_sha256, &info, err, sizeof err),
               HYD_DATA_ECHECKSUM, "%s", err);
  struct stat gone;
  cr_expect_neq(stat(f, &gone), 0, "no file left behind");
}

Test(fetch, images_without_checksum_must_decode) {
  /* A mirror of 24 small PNGs stands in for the Kodak originals. */
  char mirror[4096], p[4096];
  tu_join(mirror, sizeof mirror, tmp, "mirror");
  unsigned short px[4 * 3 * 3];
  for (size_t i = 0; i < sizeof px / sizeof px[0]; i++)
    px[i] = (unsigned short)(i * 7);
  const hyd_dataset *ds = hyd_dataset_find("kodak");
  for (size_t i = 0; i < ds->nfiles; i++) {
    tu_join(p, sizeof p, mirror, ds->files[i].path);
    cr_assert_eq(tu_write_png(p, 4, 3, PNG_COLOR_TYPE_RGB, 8, 0, px, NULL, 0), 0);
  }
  server = test_httpd_start(mirror);
  char base[256];
  snprintf(base, sizeof base, "http://127.0.0.1:%d/files", test_httpd_port(server));
  tu_join(dir, sizeof dir, tmp, "cache/kodak");
  hyd_fetch_info info;
  cr_assert_eq(hyd_dataset_fetch_file(ds, 0, dir, base, 0, &info, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(info.checked, 0, "no checksum known for the Kodak originals");
  cr_expect(hyd_sha256_valid(info.sha256));
  cr_assert_eq(hyd_dataset_fetch(ds, dir, base, 0, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(tu_count_entries(dir), 24);
  cr_expect_eq(hyd_dataset_verify(ds, dir, err, sizeof err), HYD_DATA_OK, "%s", err);
  /* A damaged cached image is caught without a checksum and fetched again. */
  tu_join(p, sizeof p, dir, "kodim07.png");
  tu_write(p, "\x89PNG\r\n\x1a\n", 8);
  cr_expect_eq(hyd_dataset_verify(ds, dir, err, sizeof err), HYD_DATA_EFORMAT, "%s", err);
  cr_expect_not_null(strstr(err, "kodim07.png"), "%s", err);
  int before = test_httpd_requests(server);
  cr_assert_eq(hyd_dataset_fetch(ds, dir, base, 0, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(test_httpd_requests(server), before + 1, "only the damaged file was fetched");
  cr_expect_eq(hyd_dataset_verify(ds, dir, err, sizeof err), HYD_DATA_OK, "%s", err);
  /* An HTML page served with 200 in place of an image is not accepted. */
  snprintf(base, sizeof base, "http://127.0.0.1:%d/html", test_httpd_port(server));
  char dir2[4096];
  tu_join(dir2, sizeof dir2, tmp, "cache2/kodak");
  cr_expect_eq(hyd_dataset_fetch_file(ds, 0, dir2, base, 0, &info, err, sizeof err), HYD_DATA_EFORMAT, "%s", err);
  cr_expect_not_null(strstr(err, "not a valid image"), "%s", err);
  cr_expect_eq(tu_count_entries(dir2), 0);
  /* The destination's suffix decides, whatever the URL looks like. */
  char url[512], dest[4096];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/html/get?id=7", test_httpd_port(server));
  tu_join(dest, sizeof dest, tmp, "seven.png");
  cr_expect_eq(hyd_fetch_url(url, dest, NULL, NULL, NULL, err, sizeof err), HYD_DATA_EFORMAT, "%s", err);
  tu_join(dest, sizeof dest, tmp, "seven.html");
  cr_expect_eq(hyd_fetch_url(url, dest, NULL, NULL, NULL, err, sizeof err), HYD_DATA_OK, "%s", err);
}

/* ---- fetching: every failure leaves nothing behind ---- */

static void expect_failure(const char *base, int status, const char *why) {
  hyd_fetch_info info;
  err[0] = '\0';
  int rc = hyd_dataset_fetch_file(digits(), 0, dir, base, 0, &info, err, sizeof err);
  cr_expect_eq(rc, status, "%s: status %d (%s): %s", base, rc, hyd_data_strstatus(rc), err);
  cr_expect_not_null(strstr(err, why), "'%s' not in: %s", why, err);
  cr_expect_not_null(strstr(err, "digits.csv"), "the message names the file: %s", err);
  char parent[4096];
  tu_join(parent, sizeof parent, tmp, "cache");
  cr_expect_eq(tu_count_entries(parent), 0, "%s: nothing left behind", base);
}

Test(fetch, checksum_mismatch_file_and_http) {
  char mirror[4096], p[4096], base[4200];
  tu_join(mirror, sizeof mirror, tmp, "mirror");
  tu_join(p, sizeof p, mirror, "tables/digits.csv");
  tu_copy(TU_SHARED "/tables/digits.csv", p);
  tu_write(p, "0,0,5", 5); /* same name, other bytes */
  snprintf(base, sizeof base, "file://%s", mirror);
  expect_failure(base, HYD_DATA_ECHECKSUM, "checksum mismatch");
  base_http(base, sizeof base, "corrupt");
  expect_failure(base, HYD_DATA_ECHECKSUM, "checksum mismatch");
  tu_rmtree(mirror);
}

Test(fetch, truncated_transfers) {
  char base[256];
  base_http(base, sizeof base, "short");
  expect_failure(base, HYD_DATA_ETRUNCATED, "truncated");
  base_http(base, sizeof base, "chunked");
  expect_failure(base, HYD_DATA_ETRUNCATED, "truncated");
}

Test(fetch, http_error_statuses) {
  char base[256];
  base_http(base, sizeof base, "404");
  expect_failure(base, HYD_DATA_EHTTP, "HTTP 404");
  base_http(base, sizeof base, "500");
  expect_failure(base, HYD_DATA_EHTTP, "HTTP 500");
  base_http(base, sizeof base, "files/nowhere");
  expect_failure(base, HYD_DATA_EHTTP, "HTTP 404");
  expect_failure("file:///nonexistent/mirror", HYD_DATA_EHTTP, "not found");
}

Test(fetch, unreachable_host) {
  char base[256];
  snprintf(base, sizeof base, "http://127.0.0.1:%d/", test_closed_port());
  expect_failure(base, HYD_DATA_EUNREACHABLE, "cannot reach the host");
}

Test(fetch, failed_refetch_keeps_the_good_copy) {
  cr_assert_eq(hyd_dataset_fetch(digits(), dir, "file://" TU_SHARED, 0, err, sizeof err), HYD_DATA_OK, "%s", err);
  char base[256];
  base_http(base, sizeof base, "short");
  cr_expect_eq(hyd_dataset_fetch(digits(), dir, base, 1, err, sizeof err), HYD_DATA_ETRUNCATED, "%s", err);
  expect_digits_cached();
  cr_expect_eq(hyd_dataset_fetch(NULL, dir, base, 1, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_dataset_verify(NULL, dir, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_dataset_fetch_file(digits(), 5, dir, base, 1, NULL, err, sizeof err), HYD_DATA_EINVAL);
}

Test(fetch, verify_reports_missing_files) {
  cr_expect_eq(hyd_dataset_verify(digits(), dir, err, sizeof err), HYD_DATA_EIO);
  cr_expect_not_null(strstr(err, "missing"), "%s", err);
}
