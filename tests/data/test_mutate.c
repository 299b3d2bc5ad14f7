/* A poor man's fuzzer, run on every build: thousands of seeded random
 * mutations (byte flips, insertions, deletions, cuts) of valid files fed to
 * every reader. Each must answer OK or EFORMAT and never crash; under the
 * sanitizer build any out-of-bounds access fails the test. */
#include <criterion/criterion.h>
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "data/raw.h"
#include "data/status.h"
#include "data/table.h"
#include "testutil.h"

static char *tmp;
static char path[4096];

static void setup(void) {
  tmp = tu_tmpdir();
  tu_join(path, sizeof path, tmp, "m");
}
static void teardown(void) {
  tu_rmtree(tmp);
  free(tmp);
}

TestSuite(mutate, .init = setup, .fini = teardown, .timeout = 300);

/* xorshift64: the mutations are the same on every run and machine. */
static uint64_t next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Writes a mutated copy of src (n bytes) to path. */
static void mutate(const unsigned char *src, size_t n, uint64_t *s) {
  unsigned char *b = malloc(n + 16);
  cr_assert_not_null(b);
  memcpy(b, src, n);
  size_t len = n;
  int edits = 1 + (int)(next(s) % 4);
  for (int e = 0; e < edits && len > 0; e++) {
    size_t at = (size_t)(next(s) % len);
    switch (next(s) % 5) {
    case 0: b[at] ^= (unsigned char)(1u << (next(s) % 8)); break;           /* flip a bit */
    case 1: b[at] = (unsigned char)next(s); break;                          /* random byte */
    case 2: len = at; break;                                                /* cut */
    case 3: memmove(b + at, b + at + 1, len - at - 1), len--; break;       /* delete */
    default:                                                                /* insert */
      if (len < n + 16) {
        memmove(b + at + 1, b + at, len - at);
        b[at] = (unsigned char)next(s);
        len++;
      }
    }
  }
  tu_write(path, b, len);
  free(b);
}

typedef int (*reader)(void);

static int read_image(void) {
  hyd_image img;
  char err[512];
  int rc = hyd_image_read(path, &img, err, sizeof err);
  hyd_image_free(&img);
  return rc;
}

static int read_csv(void) {
  double *d;
  size_t r, c;
  char err[512];
  int rc = hyd_csv_read(path, &d, &r, &c, err, sizeof err);
  free(d);
  return rc;
}

static int read_index(void) {
  size_t *idx, n;
  char err[512];
  int rc = hyd_index_read(path, 1797, &idx, &n, err, sizeof err);
  free(idx);
  return rc;
}

static int read_idx(void) {
  hyd_idx x;
  char err[512];
  int rc = hyd_idx_read(path, &x, err, sizeof err);
  hyd_idx_free(&x);
  return rc;
}

static void run(const unsigned char *src, size_t n, reader rd, int rounds, uint64_t seed) {
  int ok = 0;
  for (int i = 0; i < rounds; i++) {
    mutate(src, n, &seed);
    int rc = rd();
    cr_assert(rc == HYD_DATA_OK || rc == HYD_DATA_EFORMAT, "round %d: status %d", i, rc);
    ok += rc == HYD_DATA_OK;
  }
  /* Some mutations keep a file valid (e.g. a changed pixel): both answers
   * must have been seen, or the test is not exercising the parser. */
  cr_expect_gt(ok, 0);
  cr_expect_lt(ok, rounds);
}

Test(mutate, pgm) {
  /* A small header-heavy PGM so that most mutations hit the header. */
  const char f[] = "P5\n# c\n4 3\n255\n0123456789AB";
  run((const unsigned char *)f, sizeof f - 1, read_image, 3000, 1);
}

Test(mutate, png) {
  unsigned short px[6 * 5];
  for (int i = 0; i < 30; i++)
    px[i] = (unsigned short)(i * 8);
  char src[4096];
  tu_join(src, sizeof src, tmp, "src.png");
  cr_assert_eq(tu_write_png(src, 6, 5, PNG_COLOR_TYPE_GRAY, 8, 0, px, NULL, 0), 0);
  size_t n;
  unsigned char *b = tu_read(src, &n);
  run(b, n, read_image, 3000, 2);
  free(b);
}

Test(mutate, csv_and_index) {
  const char csv[] = "1,2.5,-3e2\n4,5,6\n7,8,9\n";
  run((const unsigned char *)csv, sizeof csv - 1, read_csv, 3000, 3);
  const char idx[] = "661\n1386\n456\n1753\n";
  run((const unsigned char *)idx, sizeof idx - 1, read_index, 3000, 4);
}

Test(mutate, idx_plain_and_gzip) {
  unsigned char f[8 + 64] = {0, 0, 8, 1, 0, 0, 0, 64};
  for (int i = 0; i < 64; i++)
    f[8 + i] = (unsigned char)i;
  run(f, sizeof f, read_idx, 3000, 5);
  char src[4096];
  tu_join(src, sizeof src, tmp, "src.gz");
  tu_write_gz(src, f, sizeof f);
  size_t n;
  unsigned char *b = tu_read(src, &n);
  run(b, n, read_idx, 3000, 6);
  free(b);
}
