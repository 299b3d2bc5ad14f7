/* Cache folder rules and folder creation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/cache.h"
#include "data/internal.h"
#include "data/registry.h"
#include "data/status.h"

int hyd_data_cache_dir(char *buf, size_t n, char *err, size_t errsz) {
  if (buf == NULL || n == 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_data_cache_dir: no buffer");
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  int len;
  /* The XDG spec says a relative XDG_CACHE_HOME is invalid and ignored. */
  if (xdg != NULL && xdg[0] == '/')
    len = snprintf(buf, n, "%s/hyperd", xdg);
  else if (home != NULL && home[0] == '/')
    len = snprintf(buf, n, "%s/.cache/hyperd", home);
  else
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL,
                         "no cache folder: set XDG_CACHE_HOME or HOME, or give --cache DIR");
  if (len < 0 || (size_t)len >= n)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "cache folder path too long");
  return HYD_DATA_OK;
}

static int mkdir_one(const char *path) {
  if (mkdir(path, 0755) == 0 || errno == EEXIST) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
      return 0;
    errno = ENOTDIR;
  }
  return -1;
}

int hyd_data_mkdirs(const char *path, char *err, size_t errsz) {
  if (path == NULL || path[0] == '\0')
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_data_mkdirs: empty path");
  char *p = strdup(path);
  if (p == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory", path);
  for (char *s = p + 1; *s != '\0'; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    int bad = mkdir_one(p);
    *s = '/';
    if (bad) {
      int e = errno;
      free(p);
      return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot create folder: %s", path, strerror(e));
    }
  }
  int bad = mkdir_one(p);
  int e = errno;
  free(p);
  if (bad)
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot create folder: %s", path, strerror(e));
  return HYD_DATA_OK;
}

int hyd_data_locate(const char *ref, const char *cache_dir, char *buf, size_t n, char *err,
                    size_t errsz) {
  if (ref == NULL || ref[0] == '\0' || buf == NULL || n == 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_data_locate: empty reference");
  int len;
  if (strchr(ref, '/') != NULL || strcmp(ref, ".") == 0 || strcmp(ref, "..") == 0) {
    struct stat st;
    if (stat(ref, &st) != 0 || !S_ISDIR(st.st_mode))
      return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: no such folder", ref);
    len = snprintf(buf, n, "%s", ref);
  } else {
    if (hyd_dataset_find(ref) == NULL)
      return hyd_data_fail(err, errsz, HYD_DATA_EUNKNOWN,
                           "%s: unknown data set (see `hyperd data list`)", ref);
    if (cache_dir == NULL)
      return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_data_locate: no cache folder");
    len = snprintf(buf, n, "%s/%s", cache_dir, ref);
  }
  if (len < 0 || (size_t)len >= n)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "%s: path too long", ref);
  return HYD_DATA_OK;
}
