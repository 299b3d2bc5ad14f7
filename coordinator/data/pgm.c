/* Binary PGM reader. The file is read whole (images are small next to
 * memory) so that every access is checked against one known length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "data/internal.h"
#include "data/status.h"

static int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skips whitespace and comments (a '#' runs to the end of its line). */
static void skip_blank(const unsigned char *b, size_t n, size_t *pos) {
  while (*pos < n) {
    if (is_space(b[*pos])) {
      (*pos)++;
    } else if (b[*pos] == '#') {
      while (*pos < n && b[*pos] != '\n' && b[*pos] != '\r')
        (*pos)++;
    } else {
      break;
    }
  }
}

/* Parses one header number in 1..limit; returns 0 on success. */
static int header_number(const unsigned char *b, size_t n, size_t *pos, size_t limit,
                         size_t *out) {
  skip_blank(b, n, pos);
  size_t v = 0, digits = 0;
  while (*pos < n && b[*pos] >= '0' && b[*pos] <= '9') {
    v = v * 10 + (size_t)(b[*pos] - '0');
    if (v > limit)
      return -1;
    (*pos)++;
    digits++;
  }
  if (digits == 0 || v == 0)
    return -1;
  /* The number must end at whitespace or a comment, not at "12x". */
  if (*pos < n && !is_space(b[*pos]) && b[*pos] != '#')
    return -1;
  *out = v;
  return 0;
}

static int pgm_parse(const char *path, const unsigned char *b, size_t n, hyd_image *img,
                     char *err, size_t errsz) {
  if (n < 2 || b[0] != 'P' || b[1] != '5')
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: not a binary PGM (no P5 magic)", path);
  size_t pos = 2, w, h, maxval;
  if (header_number(b, n, &pos, HYD_DATA_MAX_PIXELS, &w) != 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: bad or missing width in PGM header", path);
  if (header_number(b, n, &pos, HYD_DATA_MAX_PIXELS, &h) != 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: bad or missing height in PGM header", path);
  if (header_number(b, n, &pos, 65535, &maxval) != 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT,
                         "%s: bad or missing maxval in PGM header (must be 1..65535)", path);
  if (w > HYD_DATA_MAX_PIXELS / h)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: image %zux%zu too large", path, w, h);
  /* Exactly one whitespace byte separates the header from the raster; a
   * comment here would be ambiguous with raster bytes, so it is an error. */
  if (pos >= n || !is_space(b[pos]))
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: PGM header not followed by whitespace", path);
  pos++;
  size_t bps = maxval < 256 ? 1 : 2;
  size_t count = w * h;
  size_t need = count * bps;
  size_t have = n - pos;
  if (have < need)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT,
                         "%s: truncated PGM raster (%zu of %zu bytes for %zux%zu)", path, have, need, w, h);
  if (have > need)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: %zu unexpected bytes after the PGM raster",
                         path, have - need);
  double *px = malloc(count * sizeof *px);
  if (px == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory for %zux%zu image", path, w, h);
  const unsigned char *r = b + pos;
  for (size_t i = 0; i < count; i++) {
    size_t v = bps == 1 ? r[i] : ((size_t)r[2 * i] << 8) | r[2 * i + 1];
    if (v > maxval) {
      free(px);
      return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: sample %zu at pixel %zu exceeds maxval %zu",
                           path, v, i, maxval);
    }
    px[i] = (double)v / (double)maxval;
  }
  img->width = w;
  img->height = h;
  img->pixels = px;
  return HYD_DATA_OK;
}

int hyd_pgm_read(const char *path, hyd_image *img, char *err, size_t errsz) {
  if (img == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_pgm_read: NULL image");
  memset(img, 0, sizeof *img);
  if (path == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_pgm_read: NULL path");
  unsigned char *b;
  size_t n;
  /* 2 bytes per sample plus a generous header. */
  int rc = hyd_data_slurp(path, 2 * HYD_DATA_MAX_PIXELS + 4096, &b, &n, err, errsz);
  if (rc != HYD_DATA_OK)
    return rc;
  rc = pgm_parse(path, b, n, img, err, errsz);
  free(b);
  return rc;
}
