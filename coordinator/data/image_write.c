/* Writing gray images: PNG through libpng (8-bit), or binary PGM. Values
 * are clipped to [0, 1] and rounded to 0..255. Files are written to a
 * temporary name and renamed, so a failed write leaves no partial image. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "data/image.h"
#include "data/status.h"

static unsigned char to_byte(double v)
{
  if (!(v > 0.0))
    return 0;
  if (v >= 1.0)
    return 255;
  return (unsigned char)(v * 255.0 + 0.5);
}

static int write_png_rows(FILE *f, const hyd_image *img, unsigned char *row)
{
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL,
                                            NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return -1;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return -1;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height,
               8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (size_t r = 0; r < img->height; r++) {
    for (size_t c = 0; c < img->width; c++)
      row[c] = to_byte(img->pixels[r * img->width + c]);
    png_write_row(png, row);
  }
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return 0;
}

static int write_pgm_rows(FILE *f, const hyd_image *img, unsigned char *row)
{
  if (fprintf(f, "P5\n%zu %zu\n255\n", img->width, img->height) < 0)
    return -1;
  for (size_t r = 0; r < img->height; r++) {
    for (size_t c = 0; c < img->width; c++)
      row[c] = to_byte(img->pixels[r * img->width + c]);
    if (fwrite(row, 1, img->width, f) != img->width)
      return -1;
  }
  return 0;
}

int hyd_image_write(const char *path, const hyd_image *img, char *err,
                    size_t errsz)
{
  size_t len = strlen(path);
  int png = len > 4 && strcmp(path + len - 4, ".png") == 0;
  if (!img || !img->pixels || img->width == 0 || img->height == 0 ||
      img->width > 0x7fffffff || img->height > 0x7fffffff) {
    snprintf(err, errsz, "%s: no image to write", path);
    return HYD_DATA_EINVAL;
  }
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >=
      (int)sizeof tmp) {
    snprintf(err, errsz, "%s: path too long", path);
    return HYD_DATA_EINVAL;
  }
  unsigned char *row = malloc(img->width);
  FILE *f = row ? fopen(tmp, "wb") : NULL;
  if (!f) {
    snprintf(err, errsz, "%s: %s", tmp, row ? strerror(errno) : "out of memory");
    free(row);
    return row ? HYD_DATA_EIO : HYD_DATA_ENOMEM;
  }
  int bad = png ? write_png_rows(f, img, row) : write_pgm_rows(f, img, row);
  free(row);
  if (fclose(f) != 0)
    bad = -1;
  if (bad || rename(tmp, path) != 0) {
    snprintf(err, errsz, "%s: writing the image failed", path);
    remove(tmp);
    return HYD_DATA_EIO;
  }
  return HYD_DATA_OK;
}
