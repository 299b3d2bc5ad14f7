/* CSV, split and scaler files, float32 arrays, IDX files, Gaussian noise
 * and SHA-256: real shared data, generated edge cases, every error path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/noise.h"
#include "data/raw.h"
#include "data/sha256.h"
#include "data/status.h"
#include "data/table.h"
#include "testutil.h"

static char *tmp;
static char err[1024];
static char path[4096];

static void setup(void) {
  tmp = tu_tmpdir();
  tu_join(path, sizeof path, tmp, "f");
}
static void teardown(void) {
  tu_rmtree(tmp);
  free(tmp);
}

TestSuite(csv, .init = setup, .fini = teardown);
TestSuite(splits, .init = setup, .fini = teardown);
TestSuite(f32, .init = setup, .fini = teardown);
TestSuite(idx, .init = setup, .fini = teardown);
TestSuite(noise);
TestSuite(sha256, .init = setup, .fini = teardown);

/* ---- CSV ---- */

Test(csv, real_tables) {
  struct {
    const char *file;
    size_t rows, cols;
    size_t r, c;
    double v;
  } k[] = {
      {"tables/digits.csv", 1797, 65, 0, 2, 5},       {"tables/digits.csv", 1797, 65, 1796, 64, 8},
      {"tables/digits.csv", 1797, 65, 100, 3, 2},     {"tables/breast_cancer.csv", 569, 31, 0, 0, 17.99},
      {"tables/breast_cancer.csv", 569, 31, 568, 30, 1}, {"tables/iris.csv", 150, 5, 0, 0, 0},
      {"tables/wine_data.csv", 178, 14, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    char p[4096];
    tu_join(p, sizeof p, TU_SHARED, k[i].file);
    double *d;
    size_t rows, cols;
    cr_assert_eq(hyd_csv_read(p, &d, &rows, &cols, err, sizeof err), HYD_DATA_OK, "%s", err);
    cr_expect_eq(rows, k[i].rows, "%s", k[i].file);
    cr_expect_eq(cols, k[i].cols, "%s", k[i].file);
    if (k[i].v != 0)
      cr_expect_eq(d[k[i].r * cols + k[i].c], k[i].v, "%s[%zu,%zu]", k[i].file, k[i].r, k[i].c);
    free(d);
  }
}

Test(csv, accepted_variants) {
  struct {
    const char *text;
    size_t rows, cols;
    double last;
  } ok[] = {
      {"1,2\n3,4\n", 2, 2, 4},          {"1,2\n3,4", 2, 2, 4},         {"1,2\r\n3,4\r\n", 2, 2, 4},
      {" 1 ,\t2\n3, 4 \n", 2, 2, 4},    {"1,2\n3,4\n\n\n", 2, 2, 4},   {"-1.5e3\n+2\n.5\n", 3, 1, 0.5},
      {"0x10,1e-300\n", 1, 2, 1e-300},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    tu_write(path, ok[i].text, strlen(ok[i].text));
    double *d;
    size_t rows, cols;
    cr_assert_eq(hyd_csv_read(path, &d, &rows, &cols, err, sizeof err), HYD_DATA_OK, "case %zu: %s", i, err);
    cr_expect_eq(rows, ok[i].rows, "case %zu", i);
    cr_expect_eq(cols, ok[i].cols, "case %zu", i);
    cr_expect_eq(d[rows * cols - 1], ok[i].last, "case %zu", i);
    free(d);
  }
}

Test(csv, malformed_tables_are_rejected_with_a_message) {
  struct {
    const char *text;
    size_t n;
    const char *why;
  } bad[] = {
      {"", 0, "no data rows"},
      {"\n\n", 2, "no data rows"},
      {"a,b\n1,2\n", 8, ":1: column 1 is not a number"},
      {"1,2\n3\n", 6, ":2: 1 columns, expected 2"},
      {"1,2\n3,4,5\n", 10, ":2: 3 columns"},
      {"1,,2\n", 5, "column 2 is not a number"},
      {"1,2,\n", 5, "column 3 is not a number"},
      {",1\n", 3, "column 1 is not a number"},
      {"1,nan\n", 6, "not finite"},
      {"inf\n", 4, "not finite"},
      {"1e999\n", 6, "not finite"},
      {"1,2\n\n3,4\n", 9, ":2: empty line"},
      {"1 2\n", 4, "unexpected character"},
      {"1;2\n", 4, "unexpected character"},
      {"12abc\n", 6, "unexpected character"},
      {"1,\n2\n", 5, "column 2 is not a number"},
      {"1,2\n3,\0004\n", 9, "column 2 is not a number"},
      {"1,2\0003,4\n", 9, "unexpected character"},
      {"1,2\r3,4\n", 8, "unexpected character"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tu_write(path, bad[i].text, bad[i].n);
    double *d = (double *)1;
    size_t rows = 9, cols = 9;
    err[0] = '\0';
    int rc = hyd_csv_read(path, &d, &rows, &cols, err, sizeof err);
    cr_expect_eq(rc, HYD_DATA_EFORMAT, "case %zu: status %d (%s)", i, rc, err);
    cr_expect_null(d, "case %zu", i);
    cr_expect_eq(rows + cols, 0, "case %zu", i);
    cr_expect_not_null(strstr(err, path), "case %zu: %s", i, err);
    cr_expect_not_null(strstr(err, bad[i].why), "case %zu: '%s' not in: %s", i, bad[i].why, err);
  }
  double *d;
  size_t rows, cols;
  cr_expect_eq(hyd_csv_read("/nonexistent.csv", &d, &rows, &cols, err, sizeof err), HYD_DATA_EIO);
  cr_expect_not_null(strstr(err, "/nonexistent.csv"));
  cr_expect_eq(hyd_csv_read(NULL, &d, &rows, &cols, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_csv_read(path, NULL, &rows, &cols, err, sizeof err), HYD_DATA_EINVAL);
}

/* ---- splits and scalers ---- */

Test(splits, real_splits_partition_the_table) {
  const char *names[] = {"train", "val", "test"};
  const size_t sizes[] = {1078, 359, 360};
  const size_t first[] = {661, 1211, 1511};
  unsigned char seen[1797] = {0};
  for (int s = 0; s < 3; s++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/splits/digits_%s_idx.txt", TU_SHARED, names[s]);
    size_t *idx, n;
    cr_assert_eq(hyd_index_read(p, 1797, &idx, &n, err, sizeof err), HYD_DATA_OK, "%s", err);
    cr_expect_eq(n, sizes[s]);
    cr_expect_eq(idx[0], first[s]);
    for (size_t i = 0; i < n; i++) {
      cr_expect_eq(seen[idx[i]], 0, "row %zu in two splits", idx[i]);
      seen[idx[i]] = 1;
    }
    free(idx);
  }
  for (size_t i = 0; i < 1797; i++)
    cr_expect_eq(seen[i], 1, "row %zu in no split", i);
  /* The split was made for the 1797-row table: a smaller table is refused. */
  size_t *idx, n;
  cr_expect_eq(hyd_index_read(TU_SHARED "/splits/digits_train_idx.txt", 1000, &idx, &n, err, sizeof err),
               HYD_DATA_EFORMAT);
  cr_expect_not_null(strstr(err, "out of range"), "%s", err);
}

Test(splits, malformed_index_files) {
  struct {
    const char *text;
    const char *why;
  } bad[] = {
      {"", "no indices"},
      {"1\n10\n", ":2: index out of range"},
      {"1\n-2\n", ":2: not a non-negative integer"},
      {"3\n1\n3\n", ":3: index 3 repeated"},
      {"1\nx\n", ":2: not a non-negative integer"},
      {"1.5\n", ":1: not a non-negative integer"},
      {"1 2\n", ":1: not a non-negative integer"},
      {"1\n\n2\n", ":2: not a non-negative integer"},
      {"99999999999999999999999999\n", "out of range"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tu_write(path, bad[i].text, strlen(bad[i].text));
    size_t *idx = (size_t *)1, n = 7;
    err[0] = '\0';
    cr_expect_eq(hyd_index_read(path, 10, &idx, &n, err, sizeof err), HYD_DATA_EFORMAT, "case %zu: %s", i, err);
    cr_expect_null(idx);
    cr_expect_eq(n, 0);
    cr_expect_not_null(strstr(err, bad[i].why), "case %zu: '%s' not in: %s", i, bad[i].why, err);
  }
  tu_write(path, " 0 \r\n9\n", 7);
  size_t *idx, n;
  cr_assert_eq(hyd_index_read(path, 10, &idx, &n, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(n, 2);
  cr_expect_eq(idx[1], 9);
  free(idx);
  cr_expect_eq(hyd_index_read(path, 0, &idx, &n, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_index_read("/nonexistent", 10, &idx, &n, err, sizeof err), HYD_DATA_EIO);
}

Test(splits, scalers) {
  double *m, *s;
  cr_assert_eq(hyd_scaler_read(TU_SHARED "/splits/digits_scaler_mean_std.csv", 64, &m, &s, err, sizeof err),
               HYD_DATA_OK, "%s", err);
  cr_expect_eq(m[0], 0);
  cr_expect_eq(s[0], 1);
  cr_expect_eq(m[1], 0.01948051948051948);
  cr_expect_eq(s[63], 0.12940497022286845);
  free(m);
  free(s);
  cr_assert_eq(hyd_scaler_read(TU_SHARED "/splits/breast_cancer_scaler_mean_std.csv", 30, &m, &s, err, sizeof err),
               HYD_DATA_OK, "%s", err);
  free(m);
  free(s);
  cr_expect_eq(hyd_scaler_read(TU_SHARED "/splits/digits_scaler_mean_std.csv", 30, &m, &s, err, sizeof err),
               HYD_DATA_EFORMAT, "feature count mismatch");
  cr_expect_not_null(strstr(err, "expected 30"), "%s", err);
  cr_expect_null(m);
  tu_write(path, "1,2,3\n", 6);
  cr_expect_eq(hyd_scaler_read(path, 1, &m, &s, err, sizeof err), HYD_DATA_EFORMAT);
  tu_write(path, "1,2\n1,0\n", 8);
  cr_expect_eq(hyd_scaler_read(path, 2, &m, &s, err, sizeof err), HYD_DATA_EFORMAT);
  cr_expect_not_null(strstr(err, ":2: std must be > 0"), "%s", err);
  tu_write(path, "1,-1\n", 5);
  cr_expect_eq(hyd_scaler_read(path, 1, &m, &s, err, sizeof err), HYD_DATA_EFORMAT);
  cr_expect_eq(hyd_scaler_read(path, 0, &m, &s, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_scaler_read("/nonexistent", 1, &m, &s, err, sizeof err), HYD_DATA_EIO);
}

/* ---- float32 ---- */

Test(f32, reference_instance) {
  double *d;
  cr_assert_eq(hyd_f32_read(HYD_SHARED_DIR "/reference/tv96/noisy.f32", 24 * 9216, &d, err, sizeof err),
               HYD_DATA_OK, "%s", err);
  /* Values from python struct.unpack('<f') on the file. */
  cr_expect_eq(d[0], (double)0.5197799801826477f);
  cr_expect_eq(d[1], (double)0.41390126943588257f);
  cr_expect_eq(d[24 * 9216 - 1], (double)0.261001855134964f);
  free(d);
  cr_expect_eq(hyd_f32_read(HYD_SHARED_DIR "/reference/tv96/noisy.f32", 23 * 9216, &d, err, sizeof err),
               HYD_DATA_EFORMAT, "count mismatch");
  cr_expect_not_null(strstr(err, "expected 847872"), "%s", err);
  cr_expect_null(d);
}

Test(f32, bad_files) {
  const unsigned char one[] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0xc0, 0x7f}; /* 1.0f, NaN */
  tu_write(path, one, 8);
  double *d;
  cr_expect_eq(hyd_f32_read(path, 2, &d, err, sizeof err), HYD_DATA_EFORMAT);
  cr_expect_not_null(strstr(err, "value 1 is not finite"), "%s", err);
  tu_write(path, one, 4);
  cr_assert_eq(hyd_f32_read(path, 1, &d, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(d[0], 1.0);
  free(d);
  tu_write(path, one, 3);
  cr_expect_eq(hyd_f32_read(path, 1, &d, err, sizeof err), HYD_DATA_EFORMAT, "truncated");
  cr_expect_eq(hyd_f32_read(path, 0, &d, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_f32_read("/nonexistent", 1, &d, err, sizeof err), HYD_DATA_EIO);
}

/* ---- IDX ---- */

static int have_fashion(void) {
  struct stat st;
  return stat(TU_FASHION "/t10k-labels-idx1-ubyte.gz", &st) == 0;
}

Test(idx, fashion_mnist_files) {
  if (!have_fashion())
    cr_skip_test("dataset-fashion-mnist is not installed");
  hyd_idx x;
  cr_assert_eq(hyd_idx_read(TU_FASHION "/t10k-labels-idx1-ubyte.gz", &x, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(x.ndim, 1);
  cr_expect_eq(x.count, 10000);
  const uint8_t first[] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5};
  cr_expect_arr_eq(x.data, first, sizeof first);
  hyd_idx_free(&x);
  cr_assert_eq(hyd_idx_read(TU_FASHION "/t10k-images-idx3-ubyte.gz", &x, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(x.ndim, 3);
  cr_expect_eq(x.dims[0], 10000);
  cr_expect_eq(x.dims[1], 28);
  cr_expect_eq(x.dims[2], 28);
  cr_expect_eq(x.data[28 * 14 + 14], 110);
  unsigned long sum = 0;
  for (size_t i = 0; i < 784; i++)
    sum += x.data[i];
  cr_expect_eq(sum, 33456);
  hyd_idx_free(&x);
  cr_assert_eq(hyd_idx_read(TU_FASHION "/train-labels-idx1-ubyte.gz", &x, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(x.count, 60000);
  hyd_idx_free(&x);
  hyd_idx_free(NULL);
}

Test(idx, plain_and_gzip_generated) {
  const unsigned char f[] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
  hyd_idx x;
  tu_write(path, f, sizeof f);
  cr_assert_eq(hyd_idx_read(path, &x, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(x.count, 6);
  cr_expect_eq(x.dims[1], 3);
  cr_expect_eq(x.data[5], 6);
  hyd_idx_free(&x);
  tu_write_gz(path, f, sizeof f);
  cr_assert_eq(hyd_idx_read(path, &x, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(x.data[5], 6);
  hyd_idx_free(&x);
}

Test(idx, malformed_files) {
  struct {
    unsigned char b[24];
    size_t n;
    const char *why;
  } bad[] = {
      {{0, 0}, 2, "header"},
      {{1, 0, 8, 1, 0, 0, 0, 1, 7}, 9, "bad magic"},
      {{0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0}, 12, "type 0x0d"},
      {{0, 0, 8, 0}, 4, "0 dimensions"},
      {{0, 0, 8, 5}, 4, "5 dimensions"},
      {{0, 0, 8, 1, 0, 0, 0, 0}, 8, "dimension 0 is 0"},
      {{0, 0, 8, 2, 0, 0, 0, 2}, 8, "truncated IDX header"},
      {{0, 0, 8, 1, 0, 0, 0, 3, 1, 2}, 10, "truncated IDX data (2 of 3"},
      {{0, 0, 8, 1, 0, 0, 0, 1, 1, 2}, 10, "unexpected bytes"},
      {{0, 0, 8, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1}, 20,
       "too large"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    for (int gz = 0; gz < 2; gz++) {
      if (gz)
        tu_write_gz(path, bad[i].b, bad[i].n);
      else
        tu_write(path, bad[i].b, bad[i].n);
      hyd_idx x;
      err[0] = '\0';
      cr_expect_eq(hyd_idx_read(path, &x, err, sizeof err), HYD_DATA_EFORMAT, "case %zu gz %d: %s", i, gz, err);
      cr_expect_null(x.data);
      cr_expect_not_null(strstr(err, bad[i].why), "case %zu gz %d: '%s' not in: %s", i, gz, bad[i].why, err);
    }
  }
  hyd_idx x;
  cr_expect_eq(hyd_idx_read("/nonexistent.gz", &x, err, sizeof err), HYD_DATA_EIO);
  cr_expect_eq(hyd_idx_read(NULL, &x, err, sizeof err), HYD_DATA_EINVAL);
}

Test(idx, corrupt_and_cut_gzip_streams) {
  unsigned char f[8 + 1000] = {0, 0, 8, 1, 0, 0, 0x03, 0xe8};
  for (int i = 0; i < 1000; i++)
    f[8 + i] = (unsigned char)(i * 7);
  tu_write_gz(path, f, sizeof f);
  size_t n;
  unsigned char *gz = tu_read(path, &n);
  cr_assert_not_null(gz);
  hyd_idx x;
  /* Every cut of the compressed file, through the CRC and length trailer. */
  for (size_t cut = 1; cut < n; cut++) {
    tu_write(path, gz, cut);
    cr_expect_eq(hyd_idx_read(path, &x, err, sizeof err), HYD_DATA_EFORMAT, "cut at %zu of %zu", cut, n);
  }
  /* A wrong CRC in the trailer: the data decompresses but does not check. */
  gz[n - 5] ^= 0xff;
  tu_write(path, gz, n);
  cr_expect_eq(hyd_idx_read(path, &x, err, sizeof err), HYD_DATA_EFORMAT);
  cr_expect_not_null(strstr(err, "data check"), "zlib's word for a bad CRC: %s", err);
  free(gz);
}

/* ---- noise ---- */

Test(noise, seeded_and_reproducible) {
  double clean[3] = {0.5, 0.5, 0.5}, a[3], b[3];
  cr_assert_eq(hyd_noise_gaussian(clean, a, 3, 1.0, 42), HYD_DATA_OK);
  /* GSL mt19937 seeded 42 + gsl_ran_gaussian, computed by a separate
   * program against GSL directly: pins the generator and the method. */
  cr_expect_float_eq(a[0], 0.5 + 1.22192121739814, 1e-14);
  cr_expect_float_eq(a[1], 0.5 + 0.869635816822104, 1e-14);
  cr_expect_float_eq(a[2], 0.5 + 1.5885563663678577, 1e-14);
  cr_assert_eq(hyd_noise_gaussian(clean, b, 3, 1.0, 42), HYD_DATA_OK);
  cr_expect_arr_eq(a, b, sizeof a);
  cr_assert_eq(hyd_noise_gaussian(clean, b, 3, 1.0, 43), HYD_DATA_OK);
  cr_expect_neq(a[0], b[0]);
  /* In place gives the same as out of place. */
  double c[3] = {0.5, 0.5, 0.5};
  cr_assert_eq(hyd_noise_gaussian(c, c, 3, 1.0, 42), HYD_DATA_OK);
  cr_expect_arr_eq(a, c, sizeof a);
}

Test(noise, statistics_and_arguments) {
  const size_t n = 200000;
  double *z = calloc(n, sizeof *z);
  cr_assert_not_null(z);
  cr_assert_eq(hyd_noise_gaussian(z, z, n, 0.1, 7), HYD_DATA_OK);
  double m = 0, v = 0;
  for (size_t i = 0; i < n; i++)
    m += z[i];
  m /= (double)n;
  for (size_t i = 0; i < n; i++)
    v += (z[i] - m) * (z[i] - m);
  double sd = sqrt(v / (double)(n - 1));
  /* 5 standard errors: fails by chance with probability < 1e-6. */
  cr_expect_lt(fabs(m), 5 * 0.1 / sqrt((double)n), "mean %g", m);
  cr_expect_lt(fabs(sd - 0.1), 5 * 0.1 / sqrt(2.0 * (double)n), "sd %g", sd);
  free(z);
  double x[2] = {1, 2}, y[2];
  cr_expect_eq(hyd_noise_gaussian(x, y, 2, 0.0, 1), HYD_DATA_OK);
  cr_expect_arr_eq(x, y, sizeof x, "sigma 0 copies");
  cr_expect_eq(hyd_noise_gaussian(x, y, 2, -1.0, 1), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_noise_gaussian(x, y, 2, NAN, 1), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_noise_gaussian(NULL, y, 2, 1.0, 1), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_noise_gaussian(x, y, 0, 1.0, 1), HYD_DATA_OK);
}

/* ---- SHA-256 ---- */

Test(sha256, fips_180_vectors) {
  char h[HYD_SHA256_HEX];
  cr_assert_eq(hyd_sha256_buf("abc", 3, h), HYD_DATA_OK);
  cr_expect_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  cr_assert_eq(hyd_sha256_buf(NULL, 0, h), HYD_DATA_OK);
  cr_expect_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  cr_assert_eq(hyd_sha256_buf(two, strlen(two), h), HYD_DATA_OK);
  cr_expect_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* One million 'a', through the file path (several read chunks). */
  char *a = malloc(1000000);
  cr_assert_not_null(a);
  memset(a, 'a', 1000000);
  tu_write(path, a, 1000000);
  free(a);
  cr_assert_eq(hyd_sha256_file(path, h, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  cr_expect_eq(hyd_sha256_buf(NULL, 1, h), HYD_DATA_EINVAL);
}

Test(sha256, files_and_gzip_content) {
  char h[HYD_SHA256_HEX];
  cr_assert_eq(hyd_sha256_file(TU_SHARED "/tables/digits.csv", h, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_str_eq(h, "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8");
  /* The content digest ignores compression: a plain file hashes as itself,
   * and its gzip'd copy to the same digest. */
  tu_write_gz(path, "abc", 3);
  cr_assert_eq(hyd_sha256_gunzip_file(path, h, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  size_t n;
  unsigned char *gz = tu_read(path, &n);
  tu_write(path, gz, n - 4);
  cr_expect_eq(hyd_sha256_gunzip_file(path, h, err, sizeof err), HYD_DATA_EFORMAT, "cut gzip");
  free(gz);
  cr_expect_eq(hyd_sha256_file("/nonexistent", h, err, sizeof err), HYD_DATA_EIO);
  cr_expect_not_null(strstr(err, "/nonexistent"));
  cr_expect_eq(hyd_sha256_gunzip_file("/nonexistent", h, err, sizeof err), HYD_DATA_EIO);
}

Test(sha256, hex_helpers) {
  const char *a = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  const char *b = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
  cr_expect(hyd_sha256_valid(a));
  cr_expect(hyd_sha256_equal(a, b));
  cr_expect_not(hyd_sha256_equal(a, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  cr_expect_not(hyd_sha256_valid("abc"));
  cr_expect_not(hyd_sha256_valid(NULL));
  cr_expect_not(hyd_sha256_valid("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adff"));
  cr_expect_not(hyd_sha256_valid("za7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  cr_expect_not(hyd_sha256_equal(a, NULL));
}
