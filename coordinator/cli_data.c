/* `hyperd data`: fetch, list and verify data sets. Thin: every decision
 * about files and checksums is in coordinator/data; this file parses
 * arguments, prints, and maps statuses to exit codes. */
#include "cli_data.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/cache.h"
#include "data/fetch.h"
#include "data/registry.h"
#include "data/status.h"

#define EXIT_USAGE 2
#define CAP 4096

struct opts {
  const char *cache;    /* --cache */
  const char *base_url; /* --base-url */
  const char *sha256;   /* --sha256 (plain URL fetches) */
  const char *dir;      /* --dir (verify) */
  int force, json, help;
  const char *arg;      /* the one positional argument */
};

static const char *usage_fetch =
    "usage: hyperd data fetch NAME|URL|DIR [--cache DIR] [--base-url URL] [--sha256 HEX] [--force]\n"
    "  Downloads a registered data set (see `hyperd data list`) into the cache, or one file by URL\n"
    "  into CACHE/url/. Checksums known to the registry (or given with --sha256) are verified\n"
    "  before a file is put in place; a failed download leaves no file behind.\n"
    "  A local folder (DIR, any argument with a '/') is used where it is: nothing is fetched.\n"
    "  --cache DIR     cache folder (default $XDG_CACHE_HOME/hyperd or ~/.cache/hyperd)\n"
    "  --base-url URL  download from this mirror instead (http://, https:// or file://)\n"
    "  --sha256 HEX    expected sha256 of a file fetched by URL\n"
    "  --force         download again even when a verified copy is present\n"
    "  Prints the data set's folder on stdout. Exit: 0 ok, 1 failed, 2 usage.\n";
static const char *usage_list =
    "usage: hyperd data list [--json] [--cache DIR]\n"
    "  Lists the registered data sets, their files, which checksums are known and what is cached.\n";
static const char *usage_verify =
    "usage: hyperd data verify NAME [--dir DIR] [--cache DIR]\n"
    "  Checks that every file of data set NAME is present in its cache folder (or in DIR, a folder\n"
    "  laid out like the data set's base URL) and matches every checksum the registry knows.\n"
    "  Exit: 0 ok, 1 missing or mismatching file, 2 usage.\n";
static const char *usage_data =
    "usage: hyperd data COMMAND [--help]\n"
    "  fetch NAME|URL|DIR  download a data set or a file into the cache, verified\n"
    "  list [--json]       list the known data sets\n"
    "  verify NAME         check the cached copy of a data set against its checksums\n";

/* Exit code for a data-layer status: bad input is 2, the rest 1. */
static int exit_code(int status) {
  if (status == HYD_DATA_OK)
    return 0;
  return status == HYD_DATA_EINVAL || status == HYD_DATA_EUNKNOWN ? EXIT_USAGE : 1;
}

/* Parses "--name value" and "--name=value"; returns 1 if argv[*i] matched. */
static int take_value(int argc, char **argv, int *i, const char *name, const char **out, int *bad) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0)
    return 0;
  if (argv[*i][n] == '=') {
    *out = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n] != '\0')
    return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "hyperd data: %s needs a value\n", name);
    *bad = 1;
    return 1;
  }
  *out = argv[++*i];
  return 1;
}

/* Parses the options every data command shares; `allowed` lists the ones
 * this command takes. Returns 0, or EXIT_USAGE after printing why. */
static int parse(int argc, char **argv, const char *allowed, struct opts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int bad = 0, hit = 0;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      o->help = 1;
      continue;
    }
    if (strcmp(a, "--force") == 0 && strstr(allowed, "force")) {
      o->force = hit = 1;
    } else if (strcmp(a, "--json") == 0 && strstr(allowed, "json")) {
      o->json = hit = 1;
    } else if (strstr(allowed, "cache") && take_value(argc, argv, &i, "--cache", &o->cache, &bad)) {
      hit = 1;
    } else if (strstr(allowed, "base-url") && take_value(argc, argv, &i, "--base-url", &o->base_url, &bad)) {
      hit = 1;
    } else if (strstr(allowed, "sha256") && take_value(argc, argv, &i, "--sha256", &o->sha256, &bad)) {
      hit = 1;
    } else if (strstr(allowed, "dir") && take_value(argc, argv, &i, "--dir", &o->dir, &bad)) {
      hit = 1;
    }
    if (bad)
      return EXIT_USAGE;
    if (hit)
      continue;
    if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "hyperd data %s: unknown option %s (try --help)\n", argv[0], a);
      return EXIT_USAGE;
    }
    if (o->arg != NULL) {
      fprintf(stderr, "hyperd data %s: unexpected argument %s (try --help)\n", argv[0], a);
      return EXIT_USAGE;
    }
    o->arg = a;
  }
  return 0;
}

/* The start every command shares: parse, answer --help, check that the
 * positional argument is there (want_arg) or absent. Returns -1 when the
 * command should go on, else the exit code. */
static int begin(int argc, char **argv, const char *allowed, const char *usage, int want_arg,
                 struct opts *o) {
  int rc = parse(argc, argv, allowed, o);
  if (rc != 0)
    return rc;
  if (o->help) {
    fputs(usage, stdout);
    return 0;
  }
  if (want_arg && o->arg == NULL) {
    fprintf(stderr, "hyperd data %s: which data set? (try --help)\n", argv[0]);
    return EXIT_USAGE;
  }
  if (!want_arg && o->arg != NULL) {
    fprintf(stderr, "hyperd data %s: unexpected argument %s\n", argv[0], o->arg);
    return EXIT_USAGE;
  }
  return -1;
}

/* The cache folder: --cache, or the XDG default. */
static int cache_dir(const struct opts *o, char *buf, size_t n) {
  char err[512];
  if (o->cache != NULL) {
    if (o->cache[0] == '\0' || strlen(o->cache) >= n) {
      fprintf(stderr, "hyperd data: bad --cache value\n");
      return EXIT_USAGE;
    }
    snprintf(buf, n, "%s", o->cache);
    return 0;
  }
  if (hyd_data_cache_dir(buf, n, err, sizeof err) != HYD_DATA_OK) {
    fprintf(stderr, "hyperd data: %s\n", err);
    return EXIT_USAGE;
  }
  return 0;
}

static int is_url(const char *s) { return strstr(s, "://") != NULL; }

/* The file name a plain URL is stored under: its last path segment. */
static int url_basename(const char *url, char *buf, size_t n) {
  const char *p = strstr(url, "://") + 3;
  size_t end = strcspn(p, "?#");
  const char *last = NULL;
  for (const char *s = p; s < p + end; s++)
    if (*s == '/')
      last = s;
  if (last == NULL)
    return -1;
  size_t len = (size_t)(p + end - (last + 1));
  if (len == 0 || len >= n || (len == 1 && last[1] == '.') || (len == 2 && strncmp(last + 1, "..", 2) == 0))
    return -1;
  memcpy(buf, last + 1, len);
  buf[len] = '\0';
  return 0;
}

static void report(const char *who, const char *file, const hyd_fetch_info *info) {
  const char *what = info->outcome == HYD_FETCH_PRESENT ? "already present" : "downloaded";
  if (info->checked > 0)
    fprintf(stderr, "%s: %s %s, checksum verified\n", who, file, what);
  else
    fprintf(stderr, "%s: %s %s, no checksum known (sha256 %s)\n", who, file, what, info->sha256);
}

static int fetch_url(const struct opts *o, const char *cache) {
  char name[CAP], dir[CAP], dest[CAP], err[1024];
  if (o->base_url != NULL) {
    fprintf(stderr, "hyperd data fetch: --base-url applies to data set names, not URLs\n");
    return EXIT_USAGE;
  }
  if (o->sha256 != NULL && !hyd_sha256_valid(o->sha256)) {
    fprintf(stderr, "hyperd data fetch: --sha256 must be 64 hex digits\n");
    return EXIT_USAGE;
  }
  if (url_basename(o->arg, name, sizeof name) != 0) {
    fprintf(stderr, "hyperd data fetch: %s: the URL names no file\n", o->arg);
    return EXIT_USAGE;
  }
  int len = snprintf(dir, sizeof dir, "%s/url", cache);
  if (len < 0 || (size_t)len >= sizeof dir || snprintf(dest, sizeof dest, "%s/%s", dir, name) >= (int)sizeof dest) {
    fprintf(stderr, "hyperd data fetch: cache path too long\n");
    return EXIT_USAGE;
  }
  int rc = hyd_data_mkdirs(dir, err, sizeof err);
  hyd_fetch_info info;
  if (rc == HYD_DATA_OK)
    rc = hyd_fetch_url(o->arg, dest, o->sha256, NULL, &info, err, sizeof err);
  if (rc != HYD_DATA_OK) {
    rmdir(dir); /* only if the failed fetch left it empty */
    fprintf(stderr, "hyperd data fetch: %s\n", err);
    return exit_code(rc);
  }
  report(name, o->arg, &info);
  printf("%s\n", dest);
  return 0;
}

static int fetch_dataset(const struct opts *o, const char *cache) {
  char dir[CAP], err[1024];
  int rc = hyd_data_locate(o->arg, cache, dir, sizeof dir, err, sizeof err);
  if (rc != HYD_DATA_OK) {
    fprintf(stderr, "hyperd data fetch: %s\n", err);
    return exit_code(rc);
  }
  const hyd_dataset *ds = hyd_dataset_find(o->arg);
  if (ds == NULL) { /* a local folder: used where it is */
    fprintf(stderr, "hyperd data fetch: %s is a local folder; nothing to fetch\n", o->arg);
    printf("%s\n", dir);
    return 0;
  }
  for (size_t i = 0; i < ds->nfiles; i++) {
    hyd_fetch_info info;
    rc = hyd_dataset_fetch_file(ds, i, dir, o->base_url, o->force, &info, err, sizeof err);
    if (rc != HYD_DATA_OK) {
      fprintf(stderr, "hyperd data fetch: %s\n", err);
      return exit_code(rc);
    }
    report(ds->name, ds->files[i].path, &info);
  }
  printf("%s\n", dir);
  return 0;
}

static int cmd_fetch(int argc, char **argv) {
  struct opts o;
  char cache[CAP];
  int rc = begin(argc, argv, "cache base-url sha256 force", usage_fetch, 1, &o);
  if (rc >= 0)
    return rc;
  if (o.sha256 != NULL && !is_url(o.arg)) {
    fprintf(stderr, "hyperd data fetch: --sha256 applies to URLs; registered data sets carry their own\n");
    return EXIT_USAGE;
  }
  if ((rc = cache_dir(&o, cache, sizeof cache)) != 0)
    return rc;
  return is_url(o.arg) ? fetch_url(&o, cache) : fetch_dataset(&o, cache);
}

/* "yes", "partial" or "no" by file presence (no hashing: list stays fast). */
static const char *cached_state(const hyd_dataset *ds, const char *cache) {
  size_t have = 0;
  for (size_t i = 0; i < ds->nfiles; i++) {
    char p[CAP];
    struct stat st;
    int len = snprintf(p, sizeof p, "%s/%s/%s", cache, ds->name, ds->files[i].path);
    if (len > 0 && (size_t)len < sizeof p && stat(p, &st) == 0 && S_ISREG(st.st_mode))
      have++;
  }
  return have == ds->nfiles ? "yes" : have > 0 ? "partial" : "no";
}

static size_t known_checksums(const hyd_dataset *ds) {
  size_t k = 0;
  for (size_t i = 0; i < ds->nfiles; i++)
    k += ds->files[i].sha256 != NULL || ds->files[i].content_sha256 != NULL;
  return k;
}

/* Adds key: value, or key: null when value is NULL; 0 on failure. */
static int add_string(cJSON *o, const char *key, const char *value) {
  return value != NULL ? cJSON_AddStringToObject(o, key, value) != NULL
                       : cJSON_AddNullToObject(o, key) != NULL;
}

/* Attaches item to array or object (key non-NULL); frees it on failure. */
static int attach(cJSON *to, const char *key, cJSON *item) {
  if (item == NULL)
    return 0;
  int ok = key != NULL ? cJSON_AddItemToObject(to, key, item) : cJSON_AddItemToArray(to, item);
  if (!ok)
    cJSON_Delete(item);
  return ok;
}

static cJSON *dataset_json(const hyd_dataset *ds, const char *cache) {
  cJSON *o = cJSON_CreateObject();
  if (o == NULL)
    return NULL;
  cJSON *files = cJSON_CreateArray();
  int ok = files != NULL;
  for (size_t i = 0; ok && i < ds->nfiles; i++) {
    cJSON *f = cJSON_CreateObject();
    ok = attach(files, NULL, f) && add_string(f, "path", ds->files[i].path) &&
         add_string(f, "sha256", ds->files[i].sha256) &&
         add_string(f, "content_sha256", ds->files[i].content_sha256);
  }
  ok = ok && add_string(o, "name", ds->name) && add_string(o, "description", ds->description) &&
       add_string(o, "base_url", ds->base_url) && add_string(o, "licence", ds->licence) &&
       add_string(o, "cached", cached_state(ds, cache));
  if (ok)
    ok = attach(o, "files", files); /* frees files on failure */
  else
    cJSON_Delete(files);
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static int list_json(const char *cache) {
  cJSON *all = cJSON_CreateArray();
  for (size_t i = 0; all != NULL && i < hyd_dataset_count(); i++) {
    if (!attach(all, NULL, dataset_json(hyd_dataset_at(i), cache))) {
      cJSON_Delete(all);
      all = NULL;
    }
  }
  char *text = all != NULL ? cJSON_Print(all) : NULL;
  cJSON_Delete(all);
  if (text == NULL) {
    fprintf(stderr, "hyperd data list: out of memory\n");
    return 1;
  }
  printf("%s\n", text);
  cJSON_free(text);
  return 0;
}

static int cmd_list(int argc, char **argv) {
  struct opts o;
  char cache[CAP];
  int rc = begin(argc, argv, "cache json", usage_list, 0, &o);
  if (rc >= 0)
    return rc;
  if ((rc = cache_dir(&o, cache, sizeof cache)) != 0)
    return rc;
  if (o.json)
    return list_json(cache);
  printf("%-14s %5s %9s %-7s %s\n", "NAME", "FILES", "CHECKSUMS", "CACHED", "DESCRIPTION");
  for (size_t i = 0; i < hyd_dataset_count(); i++) {
    const hyd_dataset *ds = hyd_dataset_at(i);
    printf("%-14s %5zu %4zu/%-4zu %-7s %s\n", ds->name, ds->nfiles, known_checksums(ds), ds->nfiles,
           cached_state(ds, cache), ds->description);
  }
  printf("cache: %s\n", cache);
  return 0;
}

static int cmd_verify(int argc, char **argv) {
  struct opts o;
  char cache[CAP], dir[CAP], err[1024];
  int rc = begin(argc, argv, "cache dir", usage_verify, 1, &o);
  if (rc >= 0)
    return rc;
  const hyd_dataset *ds = hyd_dataset_find(o.arg);
  if (ds == NULL) {
    fprintf(stderr, "hyperd data verify: %s: unknown data set (see `hyperd data list`)\n", o.arg);
    return EXIT_USAGE;
  }
  if (o.dir != NULL) {
    snprintf(dir, sizeof dir, "%s", o.dir);
  } else {
    if ((rc = cache_dir(&o, cache, sizeof cache)) != 0)
      return rc;
    if (hyd_data_locate(o.arg, cache, dir, sizeof dir, err, sizeof err) != HYD_DATA_OK) {
      fprintf(stderr, "hyperd data verify: %s\n", err);
      return EXIT_USAGE;
    }
  }
  int failed = 0;
  /* Every file is checked (not just up to the first failure): the user
   * wants the whole list of what to fetch again. */
  for (size_t i = 0; i < ds->nfiles; i++) {
    hyd_fetch_info info;
    rc = hyd_dataset_verify_file(ds, i, dir, &info, err, sizeof err);
    if (rc != HYD_DATA_OK) {
      fprintf(stderr, "hyperd data verify: %s\n", err);
      failed = 1;
    } else if (info.checked == 0) {
      fprintf(stderr, "%s: %s present, no checksum known (sha256 %s)\n", ds->name, ds->files[i].path,
              info.sha256);
    }
  }
  if (failed)
    return 1;
  fprintf(stderr, "%s: %zu file(s) in %s verified\n", ds->name, ds->nfiles, dir);
  return 0;
}

int hyd_cli_data(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(usage_data, argc < 2 ? stderr : stdout);
    return argc < 2 ? EXIT_USAGE : 0;
  }
  int (*cmd)(int, char **) = strcmp(argv[1], "fetch") == 0    ? cmd_fetch
                             : strcmp(argv[1], "list") == 0   ? cmd_list
                             : strcmp(argv[1], "verify") == 0 ? cmd_verify
                                                              : NULL;
  if (cmd == NULL) {
    fprintf(stderr, "hyperd data: unknown command %s (try --help)\n", argv[1]);
    return EXIT_USAGE;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "hyperd data: cannot initialise libcurl\n");
    return 1;
  }
  int rc = cmd(argc - 1, argv + 1);
  curl_global_cleanup();
  return rc;
}
