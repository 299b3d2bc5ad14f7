/* IDX reader over zlib's gz* interface, which reads gzip and plain files
 * alike and checks the gzip CRC when the stream ends. The buffer grows with
 * the data actually read, so a forged header cannot make us allocate the
 * size it claims before the bytes exist. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/internal.h"
#include "data/raw.h"
#include "data/status.h"

void hyd_idx_free(hyd_idx *idx) {
  if (idx == NULL)
    return;
  free(idx->data);
  memset(idx, 0, sizeof *idx);
}

/* Reads exactly n bytes; returns 0, or -1 on a short read or an error. */
static int read_exact(gzFile g, unsigned char *buf, size_t n) {
  while (n > 0) {
    unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
    int got = gzread(g, buf, chunk);
    if (got <= 0)
      return -1;
    buf += got;
    n -= (size_t)got;
  }
  return 0;
}

static const char *gz_why(gzFile g) {
  int code;
  const char *msg = gzerror(g, &code);
  return code != Z_OK && msg != NULL && *msg != '\0' ? msg : "unexpected end of file";
}

static int read_header(const char *path, gzFile g, hyd_idx *out, char *err, size_t errsz) {
  unsigned char h[4];
  if (read_exact(g, h, 4) != 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: cannot read IDX header: %s", path, gz_why(g));
  if (h[0] != 0 || h[1] != 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: not an IDX file (bad magic)", path);
  if (h[2] != 0x08)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT,
                         "%s: IDX element type 0x%02x not supported (only unsigned byte 0x08)", path, h[2]);
  if (h[3] < 1 || h[3] > HYD_IDX_MAX_DIMS)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: IDX has %u dimensions (1..%d supported)", path,
                         (unsigned)h[3], HYD_IDX_MAX_DIMS);
  out->ndim = h[3];
  out->count = 1;
  for (size_t i = 0; i < out->ndim; i++) {
    unsigned char d[4];
    if (read_exact(g, d, 4) != 0)
      return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: truncated IDX header: %s", path, gz_why(g));
    size_t v = (size_t)d[0] << 24 | (size_t)d[1] << 16 | (size_t)d[2] << 8 | (size_t)d[3];
    if (v == 0 || v > HYD_DATA_MAX_FILE / out->count)
      return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: IDX dimension %zu is %zu (zero or too large)",
                           path, i, v);
    out->dims[i] = v;
    out->count *= v;
  }
  return HYD_DATA_OK;
}

static int read_body(const char *path, gzFile g, hyd_idx *out, char *err, size_t errsz) {
  size_t have = 0, cap = 0;
  while (have < out->count) {
    if (have == cap) {
      cap = cap == 0 ? (size_t)1 << 20 : 2 * cap;
      if (cap > out->count)
        cap = out->count;
      uint8_t *d = realloc(out->data, cap);
      if (d == NULL)
        return hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory", path);
      out->data = d;
    }
    size_t want = cap - have;
    unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
    int got = gzread(g, out->data + have, chunk);
    if (got <= 0)
      return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: truncated IDX data (%zu of %zu bytes): %s",
                           path, have, out->count, gz_why(g));
    have += (size_t)got;
  }
  unsigned char extra;
  int more = gzread(g, &extra, 1);
  if (more > 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: unexpected bytes after the IDX data", path);
  /* gzread reports a bad CRC or a cut-off gzip trailer only here, at the end. */
  int code;
  const char *msg = gzerror(g, &code);
  if (more < 0 || (code != Z_OK && code != Z_STREAM_END))
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: corrupt gzip stream: %s", path,
                         msg != NULL ? msg : "unknown error");
  return HYD_DATA_OK;
}

int hyd_idx_read(const char *path, hyd_idx *out, char *err, size_t errsz) {
  if (path == NULL || out == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_idx_read: NULL argument");
  memset(out, 0, sizeof *out);
  gzFile g = gzopen(path, "rb");
  if (g == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot open", path);
  int rc = read_header(path, g, out, err, errsz);
  if (rc == HYD_DATA_OK)
    rc = read_body(path, g, out, err, errsz);
  gzclose(g);
  if (rc != HYD_DATA_OK)
    hyd_idx_free(out);
  return rc;
}
