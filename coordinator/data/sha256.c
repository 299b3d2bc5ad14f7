/* SHA-256 through libcrypto's EVP interface: a maintained, FIPS-tested
 * implementation beats one of our own. */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "data/internal.h"
#include "data/sha256.h"
#include "data/status.h"

static void to_hex(const unsigned char *md, char hex[HYD_SHA256_HEX]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[64] = '\0';
}

/* A byte source: returns bytes read (0 at the end) or -1 on error. */
typedef long (*read_fn)(void *src, unsigned char *buf, size_t cap);

static long read_file(void *src, unsigned char *buf, size_t cap) {
  FILE *f = src;
  size_t got = fread(buf, 1, cap, f);
  return ferror(f) ? -1 : (long)got;
}

static long read_gz(void *src, unsigned char *buf, size_t cap) {
  int got = gzread((gzFile)src, buf, (unsigned)cap);
  if (got < 0)
    return -1;
  int code;
  gzerror((gzFile)src, &code);
  /* A cut-off stream ends with Z_BUF_ERROR rather than a negative count. */
  return code != Z_OK && code != Z_STREAM_END ? -1 : got;
}

static int digest_stream(read_fn rd, void *src, char hex[HYD_SHA256_HEX]) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx == NULL)
    return HYD_DATA_ENOMEM;
  int rc = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? HYD_DATA_OK : HYD_DATA_ENOMEM;
  unsigned char buf[1 << 16];
  while (rc == HYD_DATA_OK) {
    long got = rd(src, buf, sizeof buf);
    if (got < 0)
      rc = HYD_DATA_EIO;
    else if (got == 0)
      break;
    else if (EVP_DigestUpdate(ctx, buf, (size_t)got) != 1)
      rc = HYD_DATA_ENOMEM;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (rc == HYD_DATA_OK && (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32))
    rc = HYD_DATA_ENOMEM;
  EVP_MD_CTX_free(ctx);
  if (rc == HYD_DATA_OK)
    to_hex(md, hex);
  return rc;
}

int hyd_sha256_buf(const void *buf, size_t n, char hex[HYD_SHA256_HEX]) {
  if ((buf == NULL && n > 0) || hex == NULL)
    return HYD_DATA_EINVAL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_Digest(n > 0 ? buf : "", n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
    return HYD_DATA_ENOMEM;
  to_hex(md, hex);
  return HYD_DATA_OK;
}

int hyd_sha256_file(const char *path, char hex[HYD_SHA256_HEX], char *err, size_t errsz) {
  if (path == NULL || hex == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_sha256_file: NULL argument");
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot open: %s", path, strerror(errno));
  int rc = digest_stream(read_file, f, hex);
  fclose(f);
  if (rc != HYD_DATA_OK)
    return hyd_data_fail(err, errsz, rc, "%s: cannot hash: %s", path, hyd_data_strstatus(rc));
  return HYD_DATA_OK;
}

int hyd_sha256_gunzip_file(const char *path, char hex[HYD_SHA256_HEX], char *err, size_t errsz) {
  if (path == NULL || hex == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_sha256_gunzip_file: NULL argument");
  gzFile g = gzopen(path, "rb");
  if (g == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot open", path);
  int rc = digest_stream(read_gz, g, hex);
  gzclose(g);
  if (rc == HYD_DATA_EIO)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: corrupt or truncated gzip stream", path);
  if (rc != HYD_DATA_OK)
    return hyd_data_fail(err, errsz, rc, "%s: cannot hash: %s", path, hyd_data_strstatus(rc));
  return HYD_DATA_OK;
}

int hyd_sha256_valid(const char *s) {
  if (s == NULL)
    return 0;
  for (int i = 0; i < 64; i++)
    if (!isxdigit((unsigned char)s[i]))
      return 0;
  return s[64] == '\0';
}

int hyd_sha256_equal(const char *a, const char *b) {
  if (!hyd_sha256_valid(a) || !hyd_sha256_valid(b))
    return 0;
  for (int i = 0; i < 64; i++)
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
      return 0;
  return 1;
}
