/* data/fetch.h: downloading files and registered data sets (libcurl) with
 * checksum verification and atomic writes.
 *
 * A file is downloaded into a temporary file in the destination folder
 * (".NAME.part-XXXXXX"), flushed to disk (fsync), verified, then renamed
 * over the destination and the folder is synced. Any failure removes the
 * temporary file, so an interrupted or corrupt download never leaves a file
 * under the final name; a crash can leave a hidden ".part" file, never a
 * file that looks valid. URLs may be http(s):// or file://.
 *
 * Call curl_global_init() once before the first fetch when the process has
 * several threads (libcurl does it lazily otherwise). */
#ifndef HYPERD_DATA_FETCH_H
#define HYPERD_DATA_FETCH_H

#include <stddef.h>

#include "data/registry.h"
#include "data/sha256.h"

enum hyd_fetch_outcome {
  HYD_FETCH_DOWNLOADED = 0, /* the file was downloaded and verified */
  HYD_FETCH_PRESENT = 1     /* the file was already there and verified */
};

typedef struct hyd_fetch_info {
  int outcome;                 /* enum hyd_fetch_outcome */
  int checked;                 /* known checksums that matched; 0: none known */
  char sha256[HYD_SHA256_HEX]; /* digest of the file's bytes */
} hyd_fetch_info;

/* Downloads `url` to `dest` (whose folder must exist). `sha256` and
 * `content_sha256` (see registry.h) are checked when non-NULL. When neither
 * is given and dest ends in .png or .pgm the file must decode as an image,
 * so an error page served with status 200 is not accepted. info may be
 * NULL. Returns HYD_DATA_OK or one of: EINVAL, ENOMEM, EIO, EFORMAT,
 * ECHECKSUM, ETRUNCATED, EHTTP, EUNREACHABLE, ETRANSFER; on failure nothing
 * is left at dest that was not there before (an existing dest is kept). */
int hyd_fetch_url(const char *url, const char *dest, const char *sha256, const char *content_sha256,
                  hyd_fetch_info *info, char *err, size_t errsz);

/* Writes the URL of file i of ds into buf: base_url (or ds->base_url when
 * base_url is NULL) joined with the file's path. HYD_DATA_EINVAL when there
 * is no base URL (the message says to give --base-url) or buf is short. */
int hyd_dataset_file_url(const hyd_dataset *ds, size_t i, const char *base_url, char *buf, size_t n,
                         char *err, size_t errsz);

/* Makes file i of ds present and verified under `dir` (the data set's
 * folder, created if needed): kept if already there and it verifies (unless
 * `force`), downloaded otherwise. */
int hyd_dataset_fetch_file(const hyd_dataset *ds, size_t i, const char *dir, const char *base_url,
                           int force, hyd_fetch_info *info, char *err, size_t errsz);

/* hyd_dataset_fetch_file for every file, stopping at the first failure
 * (files fetched before it stay: each one is complete and verified). */
int hyd_dataset_fetch(const hyd_dataset *ds, const char *dir, const char *base_url, int force,
                      char *err, size_t errsz);

/* Checks file i of ds under dir: present, and every known checksum
 * matches (with none known, an image file must decode). HYD_DATA_EIO if
 * missing, HYD_DATA_ECHECKSUM on a mismatch, HYD_DATA_EFORMAT for an
 * image that does not decode. */
int hyd_dataset_verify_file(const hyd_dataset *ds, size_t i, const char *dir, hyd_fetch_info *info,
                            char *err, size_t errsz);

/* hyd_dataset_verify_file for every file, stopping at the first failure. */
int hyd_dataset_verify(const hyd_dataset *ds, const char *dir, char *err, size_t errsz);

#endif
