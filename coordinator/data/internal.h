/* data/internal.h: helpers shared by the data layer's sources; not installed,
 * not for callers outside coordinator/data and cli_data.c. */
#ifndef HYPERD_DATA_INTERNAL_H
#define HYPERD_DATA_INTERNAL_H

#include <stddef.h>

/* Largest image the readers accept (pixels). A fuzzed header must not make a
 * reader allocate gigabytes before it finds out that the file is short. */
#define HYD_DATA_MAX_PIXELS ((size_t)1 << 26)

/* Largest text or raw file read whole into memory (bytes). */
#define HYD_DATA_MAX_FILE ((size_t)1 << 30)

/* printf into err (when err is non-NULL and errsz > 0); always returns `status`
 * so that callers write `return hyd_data_fail(err, errsz, STATUS, ...)`. */
int hyd_data_fail(char *err, size_t errsz, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Reads the whole regular file `path` (at most `max` bytes) into a fresh
 * buffer with a NUL byte appended (not counted in *len), so text parsers
 * can use strtod safely. The caller frees *buf. */
int hyd_data_slurp(const char *path, size_t max, unsigned char **buf, size_t *len,
                   char *err, size_t errsz);

#endif
