/* PGM and PNG readers: real shared images, generated edge cases, and every
 * error path on malformed input. */
#include <criterion/criterion.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/image.h"
#include "data/raw.h"
#include "data/status.h"
#include "testutil.h"

static char *tmp;
static char err[1024];

static void setup(void) { tmp = tu_tmpdir(); }
static void teardown(void) {
  tu_rmtree(tmp);
  free(tmp);
}

TestSuite(pgm, .init = setup, .fini = teardown);
TestSuite(png, .init = setup, .fini = teardown);

struct known {
  const char *file;
  size_t w, h;
  size_t index; /* a pixel index */
  unsigned value; /* its 8-bit value, from od/python on the file */
};

Test(pgm, real_images_have_their_sizes_and_pixels) {
  /* Values read off the files with python (header split, raw bytes). */
  static const struct known k[] = {
      {"images/camera.pgm", 512, 512, 0, 200},       {"images/camera.pgm", 512, 512, 5140, 200},
      {"images/camera.pgm", 512, 512, 262143, 149},  {"images/cell.pgm", 550, 660, 0, 71},
      {"images/cell.pgm", 550, 660, 5520, 73},       {"images/text.pgm", 448, 172, 4500, 126},
      {"images/coffee_gray.pgm", 600, 400, 0, 15},   {"images/chelsea_gray.pgm", 451, 300, 135299, 144},
      {"kodak_gray_96/kodim01.pgm", 96, 96, 980, 140}, {"kodak_gray_256/kodim24.pgm", 256, 256, 65535, 85},
  };
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    char path[4096];
    tu_join(path, sizeof path, TU_SHARED, k[i].file);
    hyd_image img;
    cr_assert_eq(hyd_pgm_read(path, &img, err, sizeof err), HYD_DATA_OK, "%s", err);
    cr_expect_eq(img.width, k[i].w, "%s", k[i].file);
    cr_expect_eq(img.height, k[i].h, "%s", k[i].file);
    cr_expect_float_eq(img.pixels[k[i].index], k[i].value / 255.0, 1e-15, "%s[%zu]", k[i].file, k[i].index);
    hyd_image_free(&img);
    cr_expect_null(img.pixels);
  }
}

Test(pgm, kodak96_matches_the_reference_float32_instance) {
  /* shared/reference/tv96/clean.f32 was made from the same 24 images: the
   * two readers must agree to float32 rounding. */
  double *clean;
  cr_assert_eq(hyd_f32_read(HYD_SHARED_DIR "/reference/tv96/clean.f32", 24 * 9216, &clean, err, sizeof err),
               HYD_DATA_OK, "%s", err);
  for (int i = 0; i < 24; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/kodak_gray_96/kodim%02d.pgm", TU_SHARED, i + 1);
    hyd_image img;
    cr_assert_eq(hyd_image_read(path, &img, err, sizeof err), HYD_DATA_OK, "%s", err);
    cr_assert_eq(img.width * img.height, 9216);
    double worst = 0;
    for (size_t j = 0; j < 9216; j++)
      worst = fmax(worst, fabs(img.pixels[j] - clean[(size_t)i * 9216 + j]));
    cr_expect_lt(worst, 1e-7, "kodim%02d differs by %g", i + 1, worst);
    hyd_image_free(&img);
  }
  free(clean);
}

Test(pgm, sixteen_bit_and_comments) {
  const unsigned char f[] = "P5\n# a comment\n2 # width\n1\n#maxval next\n1000\n\x03\xe8\x01\xf4";
  char path[4096];
  tu_join(path, sizeof path, tmp, "a.pgm");
  tu_write(path, f, sizeof f - 1);
  hyd_image img;
  cr_assert_eq(hyd_pgm_read(path, &img, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_expect_eq(img.width, 2);
  cr_expect_eq(img.height, 1);
  cr_expect_float_eq(img.pixels[0], 1.0, 1e-15);
  cr_expect_float_eq(img.pixels[1], 0.5, 1e-15);
  hyd_image_free(&img);
}

struct bad {
  const char *bytes;
  size_t n;
  const char *why; /* a word the message must contain */
};

#define BAD(s, why) {s, sizeof(s) - 1, why}

Test(pgm, malformed_files_are_rejected_with_a_message) {
  static const struct bad cases[] = {
      BAD("", "P5"),
      BAD("P6\n1 1\n255\n\x01\x02\x03", "P5"),
      BAD("P2\n1 1\n255\n1", "P5"),
      BAD("P5", "width"),
      BAD("P5\n2", "height"),
      BAD("P5\n2 2", "maxval"),
      BAD("P5\n0 2\n255\n", "width"),
      BAD("P5\n2 0\n255\n", "height"),
      BAD("P5\n1 1\n0\n\x00", "maxval"),
      BAD("P5\n1 1\n65536\n\x00\x00", "maxval"),
      BAD("P5\n-1 1\n255\n\x00", "width"),
      BAD("P5\n12x 1\n255\n\x00", "width"),
      BAD("P5\n1 1\n255", "whitespace"),
      BAD("P5\n2 2\n255\n\x01\x02\x03", "truncated"),
      BAD("P5\n2 2\n255\n", "truncated"),
      BAD("P5\n1 1\n255\n\x01\x02", "unexpected bytes"),
      BAD("P5\n1 1\n100\n\xc8", "exceeds maxval"),
      BAD("P5\n1 1\n1000\n\x03\xe9", "exceeds maxval"),
      BAD("P5\n1 1\n1000\n\x03", "truncated"),
      BAD("P5\n100000 100000\n255\n\x00", "too large"),
      BAD("P5\n99999999999999999999999 1\n255\n\x00", "width"),
  };
  char path[4096];
  tu_join(path, sizeof path, tmp, "bad.pgm");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tu_write(path, cases[i].bytes, cases[i].n);
    hyd_image img;
    err[0] = '\0';
    int rc = hyd_pgm_read(path, &img, err, sizeof err);
    cr_expect_eq(rc, HYD_DATA_EFORMAT, "case %zu: status %d (%s)", i, rc, err);
    cr_expect_null(img.pixels, "case %zu", i);
    cr_expect_not_null(strstr(err, path), "case %zu: message names the file: %s", i, err);
    cr_expect_not_null(strstr(err, cases[i].why), "case %zu: '%s' not in: %s", i, cases[i].why, err);
  }
}

Test(pgm, every_truncation_of_a_real_file_fails_cleanly) {
  size_t n;
  unsigned char *b = tu_read(TU_SHARED "/kodak_gray_96/kodim05.pgm", &n);
  cr_assert_not_null(b);
  char path[4096];
  tu_join(path, sizeof path, tmp, "cut.pgm");
  for (size_t cut = 0; cut < n; cut += (cut < 64 ? 1 : 997)) {
    tu_write(path, b, cut);
    hyd_image img;
    cr_expect_eq(hyd_pgm_read(path, &img, err, sizeof err), HYD_DATA_EFORMAT, "cut at %zu", cut);
  }
  free(b);
}

Test(pgm, missing_file_and_bad_arguments) {
  hyd_image img;
  cr_expect_eq(hyd_pgm_read("/nonexistent/x.pgm", &img, err, sizeof err), HYD_DATA_EIO);
  cr_expect_not_null(strstr(err, "/nonexistent/x.pgm"));
  cr_expect_eq(hyd_pgm_read(tmp, &img, err, sizeof err), HYD_DATA_EIO, "a folder is not a file");
  cr_expect_eq(hyd_pgm_read(NULL, &img, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_pgm_read("x", NULL, err, sizeof err), HYD_DATA_EINVAL);
  cr_expect_eq(hyd_pgm_read("/nonexistent", &img, NULL, 0), HYD_DATA_EIO, "no message buffer is fine");
  hyd_image_free(NULL);
}

/* ---- PNG ---- */

static void png_roundtrip(int color_type, int depth, int interlace, const unsigned short *s,
                          const unsigned char *pal, int npal, const double *expect, unsigned w,
                          unsigned h) {
  char path[4096];
  tu_join(path, sizeof path, tmp, "t.png");
  cr_assert_eq(tu_write_png(path, w, h, color_type, depth, interlace, s, pal, npal), 0);
  hyd_image img;
  cr_assert_eq(hyd_png_read(path, &img, err, sizeof err), HYD_DATA_OK, "%s", err);
  cr_assert_eq(img.width, w);
  cr_assert_eq(img.height, h);
  for (size_t i = 0; i < (size_t)w * h; i++)
    cr_expect_float_eq(img.pixels[i], expect[i], 1e-12, "type %d depth %d pixel %zu: %g vs %g", color_type,
                       depth, i, img.pixels[i], expect[i]);
  hyd_image_free(&img);
  /* The sniffing entry point reaches the same reader. */
  cr_assert_eq(hyd_image_read(path, &img, err, sizeof err), HYD_DATA_OK, "%s", err);
  hyd_image_free(&img);
}

Test(png, gray_8_and_16_bit) {
  const unsigned short g8[] = {0, 51, 255, 128, 1, 254};
  const double e8[] = {0, 0.2, 1, 128 / 255.0, 1 / 255.0, 254 / 255.0};
  png_roundtrip(PNG_COLOR_TYPE_GRAY, 8, 0, g8, NULL, 0, e8, 3, 2);
  png_roundtrip(PNG_COLOR_TYPE_GRAY, 8, 1, g8, NULL, 0, e8, 3, 2);
  const unsigned short g16[] = {0, 65535, 257, 1000};
  const double e16[] = {0, 1, 257 / 65535.0, 1000 / 65535.0};
  png_roundtrip(PNG_COLOR_TYPE_GRAY, 16, 0, g16, NULL, 0, e16, 2, 2);
}

Test(png, low_bit_gray_is_scaled_to_full_range) {
  const unsigned short g1[] = {0, 1, 1, 0};
  const double e1[] = {0, 1, 1, 0};
  png_roundtrip(PNG_COLOR_TYPE_GRAY, 1, 0, g1, NULL, 0, e1, 4, 1);
  const unsigned short g2[] = {0, 1, 2, 3};
  const double e2[] = {0, 85 / 255.0, 170 / 255.0, 1};
  png_roundtrip(PNG_COLOR_TYPE_GRAY, 2, 0, g2, NULL, 0, e2, 4, 1);
}

static double luma(double r, double g, double b) { return (0.299 * r + 0.587 * g + 0.114 * b) / 255.0; }

Test(png, rgb_rgba_and_palette_use_bt601_luma) {
  const unsigned short rgb[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30};
  const double e[] = {luma(255, 0, 0), luma(0, 255, 0), luma(0, 0, 255), luma(10, 200, 30)};
  png_roundtrip(PNG_COLOR_TYPE_RGB, 8, 0, rgb, NULL, 0, e, 2, 2);
  png_roundtrip(PNG_COLOR_TYPE_RGB, 8, 1, rgb, NULL, 0, e, 4, 1);
  const unsigned short rgba[] = {255, 0, 0, 7, 0, 255, 0, 255, 0, 0, 255, 0, 10, 200, 30, 99};
  png_roundtrip(PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, rgba, NULL, 0, e, 2, 2);
  const unsigned short rgb16[] = {65535, 0, 0, 0, 0, 65535};
  const double e16[] = {0.299, 0.114};
  png_roundtrip(PNG_COLOR_TYPE_RGB, 16, 0, rgb16, NULL, 0, e16, 2, 1);
  const unsigned char pal[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30};
  const unsigned short idx[] = {0, 1, 2, 3};
  png_roundtrip(PNG_COLOR_TYPE_PALETTE, 8, 0, idx, pal, 4, e, 2, 2);
  const unsigned short ga[] = {100, 0, 200, 255};
  const double ega[] = {100 / 255.0, 200 / 255.0};
  png_roundtrip(PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, ga, NULL, 0, ega, 2, 1);
}

/* Writes a valid 16x16 gray PNG and returns its bytes. */
static unsigned char *valid_png(size_t *n) {
  unsigned short s[256];
  for (int i = 0; i < 256; i++)
    s[i] = (unsigned short)((i * 37) & 255);
  char path[4096];
  tu_join(path, sizeof path, tmp, "valid.png");
  cr_assert_eq(tu_write_png(path, 16, 16, PNG_COLOR_TYPE_GRAY, 8, 0, s, NULL, 0), 0);
  return tu_read(path, n);
}

static void expect_png_error(const unsigned char *b, size_t n, const char *what) {
  char path[4096];
  tu_join(path, sizeof path, tmp, "bad.png");
  tu_write(path, b, n);
  hyd_image img;
  err[0] = '\0';
  int rc = hyd_png_read(path, &img, err, sizeof err);
  cr_expect_eq(rc, HYD_DATA_EFORMAT, "%s: status %d (%s)", what, rc, err);
  cr_expect_null(img.pixels, "%s", what);
  cr_expect_not_null(strstr(err, path), "%s: message names the file: %s", what, err);
}

Test(png, every_truncation_fails_cleanly) {
  size_t n;
  unsigned char *b = valid_png(&n);
  for (size_t cut = 0; cut < n; cut++)
    expect_png_error(b, cut, "truncated");
  free(b);
}

Test(png, corrupt_bytes_bad_signature_and_forged_size) {
  size_t n;
  unsigned char *b = valid_png(&n);
  unsigned char *c = malloc(n);
  cr_assert_not_null(c);
  /* Flipping any byte after the signature breaks a CRC or the data. */
  for (size_t i = 8; i < n; i += 3) {
    memcpy(c, b, n);
    c[i] ^= 0x55;
    expect_png_error(c, n, "flipped byte");
  }
  memcpy(c, b, n);
  c[1] = 'Q';
  expect_png_error(c, n, "signature");
  /* A forged IHDR (with a valid CRC) claiming 65000x65000 pixels is refused
   * before anything that size is allocated. IHDR data starts at byte 16. */
  memcpy(c, b, n);
  const unsigned char dims[8] = {0, 0, 0xfd, 0xe8, 0, 0, 0xfd, 0xe8};
  memcpy(c + 16, dims, 8);
  unsigned long crc = crc32(0, c + 12, 17);
  c[29] = (unsigned char)(crc >> 24), c[30] = (unsigned char)(crc >> 16), c[31] = (unsigned char)(crc >> 8),
  c[32] = (unsigned char)crc;
  expect_png_error(c, n, "forged size");
  cr_expect_not_null(strstr(err, "too large"), "%s", err);
  expect_png_error((const unsigned char *)"", 0, "empty");
  free(c);
  free(b);
}

Test(png, sniffing_rejects_other_formats) {
  char path[4096];
  tu_join(path, sizeof path, tmp, "x.jpg");
  tu_write(path, "\xff\xd8\xff\xe0 JFIF", 10);
  hyd_image img;
  cr_expect_eq(hyd_image_read(path, &img, err, sizeof err), HYD_DATA_EFORMAT);
  cr_expect_not_null(strstr(err, "neither"), "%s", err);
  cr_expect_eq(hyd_image_read("/nonexistent.png", &img, err, sizeof err), HYD_DATA_EIO);
  cr_expect_eq(hyd_png_read("/nonexistent.png", &img, err, sizeof err), HYD_DATA_EIO);
  cr_expect_eq(hyd_png_read(NULL, &img, err, sizeof err), HYD_DATA_EINVAL);
}

/* tRNS transparency makes libpng add an alpha channel when it expands a
 * palette or gray image: the reader must still strip it. */
Test(png, transparency_chunks_are_ignored) {
  char path[4096];
  tu_join(path, sizeof path, tmp, "trns.png");
  for (int gray = 0; gray < 2; gray++) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop i = png_create_info_struct(p);
    cr_assert(p != NULL && i != NULL);
    png_init_io(p, f);
    png_set_IHDR(p, i, 2, 1, 8, gray ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_color pal[2] = {{255, 0, 0}, {0, 0, 255}};
    png_byte alpha[1] = {0};
    png_color_16 key = {0, 0, 0, 0, 100};
    if (gray) {
      png_set_tRNS(p, i, NULL, 0, &key);
    } else {
      png_set_PLTE(p, i, pal, 2);
      png_set_tRNS(p, i, alpha, 1, NULL);
    }
    png_write_info(p, i);
    png_byte row[2] = {gray ? 100 : 0, gray ? 200 : 1};
    png_write_row(p, row);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &i);
    cr_assert_eq(fclose(f), 0);
    hyd_image img;
    cr_assert_eq(hyd_png_read(path, &img, err, sizeof err), HYD_DATA_OK, "%s", err);
    cr_expect_float_eq(img.pixels[0], gray ? 100 / 255.0 : 0.299, 1e-12);
    cr_expect_float_eq(img.pixels[1], gray ? 200 / 255.0 : 0.114, 1e-12);
    hyd_image_free(&img);
  }
}

/* hyd_image_write: PNG and PGM written, read back with the readers, equal
 * to the input quantised to 8 bits; clipping; a bad path leaves nothing. */
Test(image_write, png_and_pgm_round_trip)
{
  enum { W = 7, H = 5 };
  double px[W * H];
  for (int k = 0; k < W * H; k++)
    px[k] = (double)k / (W * H - 1) * 1.4 - 0.2; /* spans below 0 and above 1 */
  hyd_image img = {W, H, px};
  const char *names[] = {"/tmp/hyd_write_test.png", "/tmp/hyd_write_test.pgm"};
  for (int f = 0; f < 2; f++) {
    char err[256];
    cr_assert_eq(hyd_image_write(names[f], &img, err, sizeof err), 0, "%s", err);
    hyd_image back;
    cr_assert_eq(hyd_image_read(names[f], &back, err, sizeof err), 0, "%s", err);
    cr_expect_eq(back.width, (size_t)W);
    cr_expect_eq(back.height, (size_t)H);
    for (int k = 0; k < W * H; k++) {
      double want = px[k] < 0 ? 0 : (px[k] > 1 ? 1 : px[k]);
      cr_expect_leq(fabs(back.pixels[k] - want), 0.5 / 255 + 1e-12,
                    "pixel %d: %g vs %g", k, back.pixels[k], want);
    }
    hyd_image_free(&back);
    remove(names[f]);
  }
  char err[256];
  cr_expect_neq(hyd_image_write("/nonexistent-dir/x.png", &img, err, sizeof err), 0);
  cr_expect_neq(err[0], '\0');
}
