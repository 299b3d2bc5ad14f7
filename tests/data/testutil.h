/* Helpers for the data-layer tests: temp folders, files, generated PNGs. */
#ifndef HYD_DATA_TESTUTIL_H
#define HYD_DATA_TESTUTIL_H

#include <stddef.h>

#define TU_SHARED HYD_SHARED_DIR "/data"
#define TU_FASHION "/usr/share/datasets/fashion-mnist"

/* A fresh folder under $TMPDIR (or /tmp); the caller frees the string. */
char *tu_tmpdir(void);
/* rm -rf; accepts NULL. */
void tu_rmtree(const char *path);
/* snprintf(buf, n, "%s/%s", a, b) that aborts the test on overflow. */
void tu_join(char *buf, size_t n, const char *a, const char *b);
/* Writes n bytes to path (parent folders created); aborts on failure. */
void tu_write(const char *path, const void *data, size_t n);
/* Reads a whole file (NUL appended); NULL if it cannot be read. */
unsigned char *tu_read(const char *path, size_t *n);
/* Files and folders below dir, hidden ones included; 0 if dir is missing. */
size_t tu_count_entries(const char *dir);
/* Copies a file; aborts on failure. */
void tu_copy(const char *from, const char *to);
/* Writes a PNG with libpng: samples are rows of w*channels values of
 * bit_depth bits (16-bit as host unsigned short, 8-bit and below one per
 * byte), for color_type PNG_COLOR_TYPE_*; palette (3*npal bytes) for
 * palette images. Returns 0 on success. */
int tu_write_png(const char *path, unsigned w, unsigned h, int color_type, int bit_depth,
                 int interlace, const unsigned short *samples, const unsigned char *palette,
                 int npal);
/* Gzips n bytes into path. */
void tu_write_gz(const char *path, const void *data, size_t n);

#endif
