/* Fetching with libcurl: temp file + fsync + rename, checksums checked
 * before the rename, errors classified so a user (and a test) can tell a
 * corrupt download from a dead server or a missing network. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/cache.h"
#include "data/fetch.h"
#include "data/image.h"
#include "data/internal.h"
#include "data/status.h"

#define PATH_CAP 4096

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Splits dest into its folder (dir, "." when none) and base name. */
static int split_path(const char *dest, char *dir, size_t n, const char **base) {
  const char *slash = strrchr(dest, '/');
  *base = slash != NULL ? slash + 1 : dest;
  int len = slash == NULL ? snprintf(dir, n, ".")
            : slash == dest ? snprintf(dir, n, "/")
                            : snprintf(dir, n, "%.*s", (int)(slash - dest), dest);
  return len < 0 || (size_t)len >= n || **base == '\0' ? -1 : 0;
}

/* Syncs a folder so that a rename in it survives a crash. */
static void sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

/* libcurl wants the byte count back; anything short makes it stop with
 * CURLE_WRITE_ERROR (disk full). */
static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user) {
  return fwrite(ptr, 1, size * nmemb, (FILE *)user);
}

/* Maps a libcurl failure to a status and a message naming the URL. */
static int transfer_error(CURL *h, CURLcode c, const char *url, const char *detail, char *err,
                          size_t errsz) {
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  const char *why = detail[0] != '\0' ? detail : curl_easy_strerror(c);
  switch (c) {
  case CURLE_HTTP_RETURNED_ERROR:
    return hyd_data_fail(err, errsz, HYD_DATA_EHTTP, "%s: server answered HTTP %ld", url, code);
  case CURLE_FILE_COULDNT_READ_FILE:
    return hyd_data_fail(err, errsz, HYD_DATA_EHTTP, "%s: not found (%s)", url, why);
  case CURLE_PARTIAL_FILE:
    return hyd_data_fail(err, errsz, HYD_DATA_ETRUNCATED,
                         "%s: transfer truncated: the connection closed before the announced size (%s)",
                         url, why);
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
    return hyd_data_fail(err, errsz, HYD_DATA_EUNREACHABLE,
                         "%s: cannot reach the host (offline, or server down?): %s", url, why);
  case CURLE_WRITE_ERROR:
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot write the download: %s", url, why);
  case CURLE_OUT_OF_MEMORY:
    return hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory", url);
  default:
    return hyd_data_fail(err, errsz, HYD_DATA_ETRANSFER, "%s: transfer failed: %s", url, why);
  }
}

static int download(const char *url, FILE *out, char *err, size_t errsz) {
  CURL *h = curl_easy_init();
  if (h == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: cannot start libcurl", url);
  char detail[CURL_ERROR_SIZE] = "";
  /* The protocol lists are the security boundary (no redirect may reach
   * file:// or anything else), so a libcurl that cannot set them is refused. */
  if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file") != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK) {
    curl_easy_cleanup(h);
    return hyd_data_fail(err, errsz, HYD_DATA_ETRANSFER, "%s: libcurl rejected the URL or options", url);
  }
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
  /* A stalled server must not hang a study forever: under 1 byte/s for a
   * minute is a failure. */
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "hyperd-data-fetch");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
  CURLcode c = curl_easy_perform(h);
  int rc = c == CURLE_OK ? HYD_DATA_OK : transfer_error(h, c, url, detail, err, errsz);
  curl_easy_cleanup(h);
  return rc;
}

/* Checks the downloaded temp file against what is known about it. */
static int check_file(const char *tmp, const char *label, const char *sha256,
                      const char *content_sha256, hyd_fetch_info *info, char *err, size_t errsz) {
  int rc = hyd_sha256_file(tmp, info->sha256, err, errsz);
  if (rc != HYD_DATA_OK)
    return rc;
  info->checked = 0;
  if (sha256 != NULL) {
    if (!hyd_sha256_equal(sha256, info->sha256))
      return hyd_data_fail(err, errsz, HYD_DATA_ECHECKSUM, "%s: checksum mismatch: sha256 %s, expected %s",
                           label, info->sha256, sha256);
    info->checked++;
  }
  if (content_sha256 != NULL) {
    char got[HYD_SHA256_HEX];
    rc = hyd_sha256_gunzip_file(tmp, got, err, errsz);
    if (rc == HYD_DATA_EFORMAT)
      return hyd_data_fail(err, errsz, HYD_DATA_ECHECKSUM,
                           "%s: checksum mismatch: not a valid gzip stream", label);
    if (rc != HYD_DATA_OK)
      return rc;
    if (!hyd_sha256_equal(content_sha256, got))
      return hyd_data_fail(err, errsz, HYD_DATA_ECHECKSUM,
                           "%s: checksum mismatch: content sha256 %s, expected %s", label, got,
                           content_sha256);
    info->checked++;
  }
  return HYD_DATA_OK;
}

/* Without a checksum, a file we know how to read (by dest's suffix) must
 * at least parse. */
static int check_format(const char *tmp, const char *dest, const char *label, char *err,
                        size_t errsz) {
  if (!ends_with(dest, ".png") && !ends_with(dest, ".pgm"))
    return HYD_DATA_OK;
  hyd_image img;
  char why[512];
  int rc = hyd_image_read(tmp, &img, why, sizeof why);
  hyd_image_free(&img);
  if (rc == HYD_DATA_EFORMAT)
    return hyd_data_fail(err, errsz, HYD_DATA_EFORMAT, "%s: not a valid image", label);
  if (rc != HYD_DATA_OK)
    return hyd_data_fail(err, errsz, rc, "%s: %s", label, why);
  return HYD_DATA_OK;
}

int hyd_fetch_url(const char *url, const char *dest, const char *sha256, const char *content_sha256,
                  hyd_fetch_info *info, char *err, size_t errsz) {
  hyd_fetch_info local;
  if (info == NULL)
    info = &local;
  memset(info, 0, sizeof *info);
  if (url == NULL || dest == NULL || url[0] == '\0')
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_fetch_url: NULL or empty argument");
  if ((sha256 != NULL && !hyd_sha256_valid(sha256)) ||
      (content_sha256 != NULL && !hyd_sha256_valid(content_sha256)))
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "%s: expected checksum is not 64 hex digits", url);
  char dir[PATH_CAP], tmp[PATH_CAP];
  const char *base;
  if (split_path(dest, dir, sizeof dir, &base) != 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "%s: bad destination path", dest);
  int len = snprintf(tmp, sizeof tmp, "%s/.%s.part-XXXXXX", dir, base);
  if (len < 0 || (size_t)len >= sizeof tmp)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "%s: destination path too long", dest);
  int fd = mkstemp(tmp);
  if (fd < 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot create a temporary file: %s", dir,
                         strerror(errno));
  FILE *out = fdopen(fd, "wb");
  if (out == NULL) {
    close(fd);
    unlink(tmp);
    return hyd_data_fail(err, errsz, HYD_DATA_ENOMEM, "%s: out of memory", dest);
  }
  int rc = download(url, out, err, errsz);
  /* Flush and sync before verifying and renaming: the name must only ever
   * point at complete, durable bytes. */
  if (rc == HYD_DATA_OK && (fflush(out) != 0 || fsync(fileno(out)) != 0 || fchmod(fileno(out), 0644) != 0))
    rc = hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot write: %s", dest, strerror(errno));
  if (fclose(out) != 0 && rc == HYD_DATA_OK)
    rc = hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot write: %s", dest, strerror(errno));
  if (rc == HYD_DATA_OK)
    rc = check_file(tmp, url, sha256, content_sha256, info, err, errsz);
  if (rc == HYD_DATA_OK && info->checked == 0)
    rc = check_format(tmp, dest, url, err, errsz);
  if (rc == HYD_DATA_OK && rename(tmp, dest) != 0)
    rc = hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: cannot rename into place: %s", dest, strerror(errno));
  if (rc != HYD_DATA_OK) {
    unlink(tmp);
    return rc;
  }
  sync_dir(dir);
  info->outcome = HYD_FETCH_DOWNLOADED;
  return HYD_DATA_OK;
}

int hyd_dataset_file_url(const hyd_dataset *ds, size_t i, const char *base_url, char *buf, size_t n,
                         char *err, size_t errsz) {
  if (ds == NULL || i >= ds->nfiles || buf == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_dataset_file_url: bad argument");
  const char *base = base_url != NULL ? base_url : ds->base_url;
  if (base == NULL || base[0] == '\0')
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL,
                         "%s: no public URL is known; give one with --base-url (e.g. file:///path/to/mirror)",
                         ds->name);
  const char *sep = ends_with(base, "/") ? "" : "/";
  int len = snprintf(buf, n, "%s%s%s", base, sep, ds->files[i].path);
  if (len < 0 || (size_t)len >= n)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "%s: URL too long", ds->name);
  return HYD_DATA_OK;
}

static int file_path(const hyd_dataset *ds, size_t i, const char *dir, char *buf, size_t n, char *err,
                     size_t errsz) {
  int len = snprintf(buf, n, "%s/%s", dir, ds->files[i].path);
  if (len < 0 || (size_t)len >= n)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "%s: path too long", dir);
  return HYD_DATA_OK;
}

int hyd_dataset_verify_file(const hyd_dataset *ds, size_t i, const char *dir, hyd_fetch_info *info,
                            char *err, size_t errsz) {
  hyd_fetch_info local;
  if (info == NULL)
    info = &local;
  memset(info, 0, sizeof *info);
  if (ds == NULL || i >= ds->nfiles || dir == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_dataset_verify_file: bad argument");
  char path[PATH_CAP];
  int rc = file_path(ds, i, dir, path, sizeof path, err, errsz);
  if (rc != HYD_DATA_OK)
    return rc;
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return hyd_data_fail(err, errsz, HYD_DATA_EIO, "%s: missing", path);
  rc = check_file(path, path, ds->files[i].sha256, ds->files[i].content_sha256, info, err, errsz);
  /* Without a checksum, a damaged image in the cache is still caught (and
   * so fetched again by hyd_dataset_fetch_file). */
  if (rc == HYD_DATA_OK && info->checked == 0)
    rc = check_format(path, path, path, err, errsz);
  info->outcome = HYD_FETCH_PRESENT;
  return rc;
}

int hyd_dataset_verify(const hyd_dataset *ds, const char *dir, char *err, size_t errsz) {
  if (ds == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_dataset_verify: NULL data set");
  for (size_t i = 0; i < ds->nfiles; i++) {
    int rc = hyd_dataset_verify_file(ds, i, dir, NULL, err, errsz);
    if (rc != HYD_DATA_OK)
      return rc;
  }
  return HYD_DATA_OK;
}

/* After a failed download, removes the folders the fetch created if they
 * are empty (rmdir refuses non-empty ones), up to and including dir. */
static void remove_empty_parents(const char *file, const char *dir) {
  char p[PATH_CAP];
  snprintf(p, sizeof p, "%s", file);
  size_t stop = strlen(dir);
  for (char *slash = strrchr(p, '/'); slash != NULL && (size_t)(slash - p) >= stop; slash = strrchr(p, '/')) {
    *slash = '\0';
    if (rmdir(p) != 0)
      break;
  }
}

int hyd_dataset_fetch_file(const hyd_dataset *ds, size_t i, const char *dir, const char *base_url,
                           int force, hyd_fetch_info *info, char *err, size_t errsz) {
  hyd_fetch_info local;
  if (info == NULL)
    info = &local;
  memset(info, 0, sizeof *info);
  if (ds == NULL || i >= ds->nfiles || dir == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_dataset_fetch_file: bad argument");
  char url[PATH_CAP], path[PATH_CAP], folder[PATH_CAP];
  /* A verified copy needs no URL: data sets without a public one keep
   * working offline once fetched. */
  if (!force && hyd_dataset_verify_file(ds, i, dir, info, NULL, 0) == HYD_DATA_OK)
    return HYD_DATA_OK;
  int rc = hyd_dataset_file_url(ds, i, base_url, url, sizeof url, err, errsz);
  if (rc == HYD_DATA_OK)
    rc = file_path(ds, i, dir, path, sizeof path, err, errsz);
  if (rc != HYD_DATA_OK)
    return rc;
  const char *base;
  if (split_path(path, folder, sizeof folder, &base) != 0)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "%s: bad path", path);
  rc = hyd_data_mkdirs(folder, err, errsz);
  if (rc == HYD_DATA_OK)
    rc = hyd_fetch_url(url, path, ds->files[i].sha256, ds->files[i].content_sha256, info, err, errsz);
  if (rc != HYD_DATA_OK)
    remove_empty_parents(path, dir);
  return rc;
}

int hyd_dataset_fetch(const hyd_dataset *ds, const char *dir, const char *base_url, int force,
                      char *err, size_t errsz) {
  if (ds == NULL)
    return hyd_data_fail(err, errsz, HYD_DATA_EINVAL, "hyd_dataset_fetch: NULL data set");
  for (size_t i = 0; i < ds->nfiles; i++) {
    int rc = hyd_dataset_fetch_file(ds, i, dir, base_url, force, NULL, err, errsz);
    if (rc != HYD_DATA_OK)
      return rc;
  }
  return HYD_DATA_OK;
}
