/* data/sha256.h: SHA-256 digests (OpenSSL libcrypto EVP) as lowercase hex. */
#ifndef HYPERD_DATA_SHA256_H
#define HYPERD_DATA_SHA256_H

#include <stddef.h>

#define HYD_SHA256_HEX 65 /* 64 hex digits and a NUL */

/* Digest of n bytes at buf (buf may be NULL when n is 0). */
int hyd_sha256_buf(const void *buf, size_t n, char hex[HYD_SHA256_HEX]);

/* Digest of the file's bytes. */
int hyd_sha256_file(const char *path, char hex[HYD_SHA256_HEX], char *err, size_t errsz);

/* Digest of the file's content after gunzip (plain files are hashed as they
 * are): identifies a .gz data file however it was recompressed, e.g. by a
 * distribution's packaging. A corrupt gzip stream is HYD_DATA_EFORMAT. */
int hyd_sha256_gunzip_file(const char *path, char hex[HYD_SHA256_HEX], char *err, size_t errsz);

/* 1 if s is 64 hex digits (either case), else 0. */
int hyd_sha256_valid(const char *s);

/* 1 if the two hex digests are equal ignoring case, else 0. */
int hyd_sha256_equal(const char *a, const char *b);

#endif
