/* Allocation failures: the k-th allocation the data layer makes fails, for
 * k = 1, 2, ... until a call succeeds. Every run must end with
 * HYD_DATA_ENOMEM (or OK once k passes the number of allocations), with
 * nothing leaked (valgrind / the sanitizer build check that).
 * malloc, calloc and realloc are wrapped at link time (-Wl,--wrap), which
 * reaches the calls in the static hyperd_data library and this file, not
 * those inside shared libraries (libpng, zlib, libcurl, OpenSSL). */
#include <criterion/criterion.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "data/cache.h"
#include "data/image.h"
#include "data/raw.h"
#include "data/status.h"
#include "data/table.h"
#include "testutil.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static long countdown = -1; /* fail when it reaches 0; -1: never */

static int should_fail(void) {
  if (countdown < 0)
    return 0;
  return countdown-- == 0;
}

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return should_fail() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }

static char *tmp;
static char err[1024];

static void setup(void) { tmp = tu_tmpdir(); }
static void teardown(void) {
  tu_rmtree(tmp);
  free(tmp);
}

TestSuite(alloc, .init = setup, .fini = teardown);

/* Runs call() with the k-th allocation failing, for every k until it works. */
#define EVERY_FAILURE(call, cleanup)                                                                   \
  do {                                                                                                 \
    int done = 0;                                                                                      \
    for (long k = 0; k < 1000 && !done; k++) {                                                         \
      countdown = k;                                                                                   \
      int rc = (call);                                                                                 \
      countdown = -1;                                                                                  \
      cr_assert(rc == HYD_DATA_OK || rc == HYD_DATA_ENOMEM, "k=%ld: status %d (%s)", k, rc, err);      \
      if (rc == HYD_DATA_OK) {                                                                         \
        cr_expect_gt(k, 0, "at least one allocation was failed");                                      \
        done = 1;                                                                                      \
      } else {                                                                                         \
        cr_expect_not_null(strstr(err, "memory"), "k=%ld: %s", k, err);                                \
      }                                                                                                \
      cleanup;                                                                                         \
    }                                                                                                  \
    cr_assert(done, "never succeeded");                                                                \
  } while (0)

Test(alloc, image_readers) {
  hyd_image img;
  EVERY_FAILURE(hyd_pgm_read(TU_SHARED "/kodak_gray_96/kodim01.pgm", &img, err, sizeof err), hyd_image_free(&img));
  unsigned short px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  char path[4096];
  tu_join(path, sizeof path, tmp, "a.png");
  cr_assert_eq(tu_write_png(path, 2, 2, PNG_COLOR_TYPE_RGB, 8, 0, px, NULL, 0), 0);
  EVERY_FAILURE(hyd_png_read(path, &img, err, sizeof err), hyd_image_free(&img));
}

Test(alloc, tables) {
  double *d = NULL, *m = NULL, *s = NULL;
  size_t rows, cols, *idx = NULL, n;
  EVERY_FAILURE(hyd_csv_read(TU_SHARED "/tables/iris.csv", &d, &rows, &cols, err, sizeof err), free(d));
  EVERY_FAILURE(hyd_index_read(TU_SHARED "/splits/digits_train_idx.txt", 1797, &idx, &n, err, sizeof err), free(idx));
  EVERY_FAILURE(hyd_scaler_read(TU_SHARED "/splits/digits_scaler_mean_std.csv", 64, &m, &s, err, sizeof err),
                (free(m), free(s)));
}

Test(alloc, raw_and_cache) {
  double *d = NULL;
  EVERY_FAILURE(hyd_f32_read(HYD_SHARED_DIR "/reference/tv96/clean.f32", 24 * 9216, &d, err, sizeof err), free(d));
  const unsigned char f[] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
  char path[4096];
  tu_join(path, sizeof path, tmp, "x.idx.gz");
  tu_write_gz(path, f, sizeof f);
  hyd_idx x;
  EVERY_FAILURE(hyd_idx_read(path, &x, err, sizeof err), hyd_idx_free(&x));
}
