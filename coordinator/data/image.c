/* What the image readers share: freeing, and picking a reader by magic. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "data/internal.h"
#include "data/status.h"

void hyd_image_free(hyd_image *img) {
  if (img == NULL)
    return;
  free(img->pixels);
  img->pixels = NULL;
  img->width = img->height = 0;
}

int hyd_image_read(const char *path, hyd_image *img, char *err, size_t errsz) {
  if (img == NULL || path == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_image_read: NULL argument");
  memset(img, 0, sizeof *img);
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char magic[8] = {0};
  size_t got = fread(magic, 1, sizeof magic, f);
  fclose(f);
  /* Sniffing the content, not the extension, because cached downloads and
   * user folders do not always carry a reliable suffix. */
  static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (got == sizeof magic && memcmp(magic, png_sig, sizeof png_sig) == 0)
    return hyd_png_read(path, img, err, errsz);
  if (got >= 2 && magic[0] == 'P' && magic[1] == '5')
    return hyd_pgm_read(path, img, err, errsz);
  return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: neither a binary PGM (P5) nor a PNG file", path);
}
