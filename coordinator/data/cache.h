/* data/cache.h: where data sets live on disk.
 *
 * Layout: CACHE/NAME/PATH for file PATH of registered data set NAME (the
 * same layout as under its base URL, so a local mirror folder works too),
 * and CACHE/url/BASENAME for files fetched by plain URL. CACHE is
 * $XDG_CACHE_HOME/hyperd, or ~/.cache/hyperd when XDG_CACHE_HOME is unset or
 * not absolute (XDG base directory rules), unless the caller overrides it. */
#ifndef HYPERD_DATA_CACHE_H
#define HYPERD_DATA_CACHE_H

#include <stddef.h>

/* Writes the default cache folder into buf (not created). HYD_DATA_EINVAL
 * when neither XDG_CACHE_HOME nor HOME is usable or buf is too short. */
int hyd_data_cache_dir(char *buf, size_t n, char *err, size_t errsz);

/* Creates the folder and its missing parents (mode 0755), like mkdir -p. */
int hyd_data_mkdirs(const char *path, char *err, size_t errsz);

/* Resolves a data set reference to a folder: a reference containing '/'
 * (or "." / "..") is a local folder and must exist; otherwise it names a
 * registered data set whose folder is cache_dir/NAME (which need not exist
 * yet). HYD_DATA_EUNKNOWN for a name not in the registry. */
int hyd_data_locate(const char *ref, const char *cache_dir, char *buf, size_t n, char *err,
                    size_t errsz);

#endif
