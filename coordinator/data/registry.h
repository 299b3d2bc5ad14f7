/* data/registry.h: the data sets hyperd knows by name.
 *
 * A data set is a list of files, each at a path relative both to the data
 * set's base URL (where it is downloaded from) and to its folder on disk
 * (the cache, or any local folder laid out the same way). Checksums are
 * lowercase hex SHA-256; NULL means "not known to the project": the fetcher
 * then verifies nothing for that field and reports the digest it saw. */
#ifndef HYPERD_DATA_REGISTRY_H
#define HYPERD_DATA_REGISTRY_H

#include <stddef.h>

typedef struct hyd_dataset_file {
  const char *path;           /* relative path, '/'-separated, no ".." */
  const char *sha256;         /* of the bytes as served by base_url; NULL = unknown */
  const char *content_sha256; /* of the gunzip'd content (.gz files); NULL = unknown */
} hyd_dataset_file;

typedef struct hyd_dataset {
  const char *name;        /* [a-z0-9-]+ */
  const char *description;
  const char *base_url;    /* NULL: no public URL, give one with --base-url */
  const char *licence;
  size_t nfiles;
  const hyd_dataset_file *files;
} hyd_dataset;

/* Number of registered data sets, and the i-th one (NULL past the end). */
size_t hyd_dataset_count(void);
const hyd_dataset *hyd_dataset_at(size_t i);

/* The data set called `name`, or NULL. */
const hyd_dataset *hyd_dataset_find(const char *name);

#endif
