/* Status texts and the small helpers every reader shares. */
#include "data/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/internal.h"

const char *hyd_data_strstatus(int status) {
  switch (status) {
  case HYD_DATA_OK: return "ok";
  case HYD_DATA_EINVAL: return "invalid argument";
  case HYD_DATA_ENOMEM: return "out of memory";
  case HYD_DATA_EIO: return "input/output error";
  case HYD_DATA_EFORMAT: return "malformed file";
  case HYD_DATA_EUNKNOWN: return "unknown data set";
  case HYD_DATA_ECHECKSUM: return "checksum mismatch";
  case HYD_DATA_ETRUNCATED: return "truncated transfer";
  case HYD_DATA_EHTTP: return "server returned an error status";
  case HYD_DATA_EUNREACHABLE: return "host unreachable";
  case HYD_DATA_ETRANSFER: return "transfer failed";
  default: return "unknown status";
  }
}

int hyd_data_fail(char *err, size_t errsz, int status, const char *fmt, ...) {
  if (err != NULL && errsz > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
  }
  return status;
}

int hyd_data_slurp(const char *path, size_t max, unsigned char **buf, size_t *len,
                   char *err, size_t errsz) {
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: not a regular file", path);
  }
  if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
    fclose(f);
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: file too large (%lld bytes, limit %zu)",
                         path, (long long)st.st_size, max);
  }
  size_t size = (size_t)st.st_size;
  unsigned char *b = malloc(size + 1);
  if (b == NULL) {
    fclose(f);
    return hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory (%zu bytes)", path, size + 1);
  }
  size_t got = fread(b, 1, size, f);
  /* A file that changes size while we read it is as bad as an unreadable one. */
  int bad = ferror(f) || got != size || fgetc(f) != EOF;
  fclose(f);
  if (bad) {
    free(b);
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: read error or file changed while reading", path);
  }
  b[size] = '\0';
  *buf = b;
  *len = size;
  return HYD_DATA_OK;
}
