/* PNG reader on libpng's classic API, which (unlike the simplified API)
 * lets us apply the BT.601 luma ourselves on the stored values. libpng
 * reports errors by longjmp: all state that must survive the jump lives in
 * a struct owned by the caller of the function that calls setjmp, so no
 * local variable is modified between setjmp and longjmp. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "data/image.h"
#include "data/internal.h"
#include "data/status.h"

struct png_job {
  const char *path;
  char *err;
  size_t errsz;
  FILE *file;
  png_structp png;
  png_infop info;
  unsigned char *raw;      /* decoded samples, height * rowbytes */
  png_bytep *rows;         /* row pointers into raw */
  double *pixels;          /* result */
  size_t width, height;
  int status;              /* set before longjmp by the error handler */
  char msg[200];           /* libpng's own error text */
};

static void on_png_error(png_structp png, png_const_charp msg) {
  struct png_job *job = png_get_error_ptr(png);
  snprintf(job->msg, sizeof job->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
  /* Warnings (e.g. a bad gamma chunk) do not make the pixels wrong. */
  (void)png;
  (void)msg;
}

/* Converts the decoded rows (8 or 16 bits, 1 gray or 3 RGB channels) to
 * doubles in [0, 1]. */
static void to_gray(struct png_job *job, int channels, int depth) {
  double maxval = depth == 16 ? 65535.0 : 255.0;
  for (size_t y = 0; y < job->height; y++) {
    const unsigned char *r = job->rows[y];
    for (size_t x = 0; x < job->width; x++) {
      double c[3];
      for (int k = 0; k < channels; k++) {
        size_t i = x * (size_t)channels + (size_t)k;
        c[k] = depth == 16 ? (double)(((unsigned)r[2 * i] << 8) | r[2 * i + 1]) : (double)r[i];
      }
      double v = channels == 1 ? c[0] : 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
      job->pixels[y * job->width + x] = v / maxval;
    }
  }
}

static int decode(struct png_job *job) {
  if (setjmp(png_jmpbuf(job->png)))
    return hyd_data_fail(job->err, job->errsz, HYD_DATA_EFORMAT, "%s: bad PNG: %s", job->path, job->msg);
  png_init_io(job->png, job->file);
  /* libpng's own limits, so a forged header fails before we allocate. */
  png_set_user_limits(job->png, 1u << 16, 1u << 16);
  png_set_chunk_malloc_max(job->png, (png_alloc_size_t)1 << 26);
  png_read_info(job->png, job->info);
  png_uint_32 w = png_get_image_width(job->png, job->info);
  png_uint_32 h = png_get_image_height(job->png, job->info);
  if (w == 0 || h == 0 || (size_t)w > HYD_DATA_MAX_PIXELS / (size_t)h)
    return hyd_data_fail(job->err, job->errsz, HYD_DATA_EFORMAT, "%s: image %ux%u too large", job->path,
                         (unsigned)w, (unsigned)h);
  int type = png_get_color_type(job->png, job->info);
  if (type == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb(job->png);
  if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(job->png, job->info) < 8)
    png_set_expand_gray_1_2_4_to_8(job->png);
  png_set_strip_alpha(job->png);
  png_set_interlace_handling(job->png);
  png_read_update_info(job->png, job->info);
  int channels = png_get_channels(job->png, job->info);
  int depth = png_get_bit_depth(job->png, job->info);
  size_t rowbytes = png_get_rowbytes(job->png, job->info);
  if ((channels != 1 && channels != 3) || (depth != 8 && depth != 16) ||
      rowbytes != (size_t)w * (size_t)channels * (size_t)(depth / 8))
    return hyd_data_fail(job->err, job->errsz, HYD_DATA_EFORMAT,
                         "%s: unsupported PNG layout (%d channels, %d bits)", job->path, channels, depth);
  job->width = w;
  job->height = h;
  job->raw = malloc(rowbytes * h);
  job->rows = malloc(sizeof *job->rows * h);
  job->pixels = malloc(sizeof *job->pixels * (size_t)w * h);
  if (job->raw == NULL || job->rows == NULL || job->pixels == NULL)
    return hyd_data_fail(job->err, job->errsz, HYD_DATA_ENOMEM, "%s: out of memory for %ux%u image",
                         job->path, (unsigned)w, (unsigned)h);
  for (size_t y = 0; y < h; y++)
    job->rows[y] = job->raw + y * rowbytes;
  png_read_image(job->png, job->rows);
  /* Reads the chunks after the image data: catches a truncated file and
   * CRC errors that png_read_image alone would not see. */
  png_read_end(job->png, NULL);
  to_gray(job, channels, depth);
  return HYD_DATA_OK;
}

int hyd_png_read(const char *path, hyd_image *img, char *err, size_t errsz) {
  if (img == NULL || path == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_png_read: NULL argument");
  memset(img, 0, sizeof *img);
  struct png_job job;
  memset(&job, 0, sizeof job);
  job.path = path;
  job.err = err;
  job.errsz = errsz;
  job.file = fopen(path, "rb");
  if (job.file == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char sig[8];
  int rc;
  if (fread(sig, 1, sizeof sig, job.file) != sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0) {
    rc = hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: not a PNG file (bad signature)", path);
  } else {
    job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, on_png_error, on_png_warning);
    job.info = job.png != NULL ? png_create_info_struct(job.png) : NULL;
    if (job.png == NULL || job.info == NULL) {
      rc = hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory for the PNG decoder", path);
    } else {
      png_set_sig_bytes(job.png, sizeof sig);
      rc = decode(&job);
    }
  }
  if (job.png != NULL)
    png_destroy_read_struct(&job.png, job.info != NULL ? &job.info : NULL, NULL);
  fclose(job.file);
  free(job.raw);
  free(job.rows);
  if (rc != HYD_DATA_OK) {
    free(job.pixels);
    return rc;
  }
  img->width = job.width;
  img->height = job.height;
  img->pixels = job.pixels;
  return HYD_DATA_OK;
}
