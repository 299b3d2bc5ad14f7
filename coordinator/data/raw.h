/* data/raw.h: binary arrays: float32 little-endian files (the reference
 * instances in shared/reference/tv96) and gzip'd IDX files (MNIST and
 * Fashion-MNIST). */
#ifndef HYPERD_DATA_RAW_H
#define HYPERD_DATA_RAW_H

#include <stddef.h>
#include <stdint.h>

/* Reads exactly `count` float32 little-endian values (file size must be
 * 4*count bytes) into a fresh array of doubles (*data, caller frees).
 * Non-finite values are errors. */
int hyd_f32_read(const char *path, size_t count, double **data, char *err, size_t errsz);

#define HYD_IDX_MAX_DIMS 4

/* An unsigned-byte IDX array: dims[0] is the item count (images or
 * labels), dims[1..ndim-1] the item shape (28, 28 for Fashion-MNIST). */
typedef struct hyd_idx {
  size_t ndim;
  size_t dims[HYD_IDX_MAX_DIMS];
  size_t count;  /* product of dims */
  uint8_t *data; /* count bytes, owned */
} hyd_idx;

/* Reads an IDX file, gzip'd or plain (zlib reads both): magic 0x00 0x00
 * 0x08 (unsigned byte; other element types are rejected) then ndim (1..4),
 * ndim big-endian uint32 dimensions (each > 0), then exactly count bytes.
 * A short, over-long or corrupt (bad gzip CRC) file is an error. */
int hyd_idx_read(const char *path, hyd_idx *out, char *err, size_t errsz);

/* Frees the data and zeroes the struct; accepts NULL. */
void hyd_idx_free(hyd_idx *idx);

#endif
