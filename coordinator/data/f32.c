/* float32 little-endian arrays, decoded byte by byte so the result does not
 * depend on the host's endianness or alignment. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"
#include "data/raw.h"
#include "data/status.h"

int hyd_f32_read(const char *path, size_t count, double **data, char *err, size_t errsz) {
  if (path == NULL || data == NULL || count == 0 || count > HYD_DATA_MAX_FILE / 4)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_f32_read: NULL argument or bad count");
  *data = NULL;
  unsigned char *b;
  size_t n;
  int rc = hyd_data_slurp(path, HYD_DATA_MAX_FILE, &b, &n, err, errsz);
  if (rc != HYD_DATA_OK)
    return rc;
  if (n != 4 * count) {
    free(b);
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: %zu bytes, expected %zu (%zu float32 values)",
                         path, n, 4 * count, count);
  }
  double *v = malloc(count * sizeof *v);
  if (v == NULL) {
    free(b);
    return hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory", path);
  }
  for (size_t i = 0; i < count; i++) {
    const unsigned char *p = b + 4 * i;
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    if (!isfinite(f)) {
      free(v);
      free(b);
      return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: value %zu is not finite", path, i);
    }
    v[i] = (double)f;
  }
  free(b);
  *data = v;
  return HYD_DATA_OK;
}
