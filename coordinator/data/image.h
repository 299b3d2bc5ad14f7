/* data/image.h: gray images from binary PGM (P5) and PNG files.
 *
 * Pixels are doubles in [0, 1] (sample / maxval), row-major, `width` per
 * row: the scale the denoising problems and shared/reference/tv96 use.
 * Readers reject malformed, truncated or over-long files with a message
 * naming the file; they never read past the data they were given. */
#ifndef HYPERD_DATA_IMAGE_H
#define HYPERD_DATA_IMAGE_H

#include <stddef.h>

typedef struct hyd_image {
  size_t width;
  size_t height;
  double *pixels; /* width * height values, owned by the image */
} hyd_image;

/* Frees the pixels and zeroes the struct; accepts NULL. */
void hyd_image_free(hyd_image *img);

/* Binary PGM: "P5", width, height, maxval (1..65535) separated by
 * whitespace, '#' comments allowed anywhere in the header, one whitespace
 * byte, then width*height samples (1 byte if maxval < 256, else 2 bytes big
 * endian). Samples above maxval and bytes after the raster are errors.
 * On success *img is filled (the caller calls hyd_image_free); on failure
 * *img is zeroed. */
int hyd_pgm_read(const char *path, hyd_image *img, char *err, size_t errsz);

/* PNG through libpng: gray, gray+alpha, RGB, RGBA and palette images of any
 * bit depth. Colour becomes gray with the ITU-R BT.601 luma
 * 0.299 R + 0.587 G + 0.114 B on the stored (gamma-encoded) values, the
 * conversion PIL's convert("L") and most image tools use; alpha is ignored. */
int hyd_png_read(const char *path, hyd_image *img, char *err, size_t errsz);

/* Writes img as an 8-bit gray PNG (path ending in ".png") or binary PGM
 * (anything else), values clipped to [0, 1]; atomically (temporary file,
 * then rename). */
int hyd_image_write(const char *path, const hyd_image *img, char *err,
                    size_t errsz);

/* Chooses the reader from the file's magic bytes (PGM P5 or PNG). */
int hyd_image_read(const char *path, hyd_image *img, char *err, size_t errsz);

#endif
