/* cli_query.c: hyperd studies | trials | best | export (cli_query.h).
 *
 * Read-only by construction: the store is opened with HYD_STORE_READONLY,
 * which never creates a file and works beside a running writer. Long
 * listings are streamed row by row (a study can hold millions of trials),
 * so JSON arrays are written one cJSON object at a time. */
#include "cli_query.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "export_optuna.h"
#include "store/store.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Which options a subcommand takes. */
enum { OPT_JSON = 1, OPT_STUDY = 2, OPT_EXPORT = 4 };

typedef struct cli_opts {
  const char *db;
  const char *study;
  const char *format; /* export: csv | json */
  const char *table;  /* export csv: evaluations | iterations */
  const char *out;
  int json;
  int help;
} cli_opts;

static const char *usage_text(const char *cmd) {
  if (strcmp(cmd, "studies") == 0)
    return "usage: hyperd studies [--db FILE] [--json]\n"
           "Lists every study in the database: id, name, status, problem, method,\n"
           "iterations, best value (least g over its iterations), created.\n"
           "  --db FILE   database (default hyperd.db in the current directory)\n"
           "  --json      a JSON array on stdout\n";
  if (strcmp(cmd, "trials") == 0)
    return "usage: hyperd trials STUDY [--db FILE] [--json]\n"
           "Lists every oracle evaluation and line-search trial of STUDY (a name or\n"
           "a numeric id) in order.\n"
           "  --db FILE   database (default hyperd.db in the current directory)\n"
           "  --json      a JSON array on stdout, theta included\n";
  if (strcmp(cmd, "best") == 0)
    return "usage: hyperd best STUDY [--db FILE] [--json]\n"
           "Shows the best iteration of STUDY (least upper-level value g; the\n"
           "earliest on ties) with its theta.\n"
           "  --db FILE   database (default hyperd.db in the current directory)\n"
           "  --json      a JSON object on stdout\n";
  return "usage: hyperd export STUDY [--format csv|json] [--table evaluations|iterations]\n"
         "                     [--out FILE] [--db FILE]\n"
         "Writes STUDY's records: csv (one table, theta as columns theta_0 ..;\n"
         "default: evaluations) or json (the study, its iterations and evaluations).\n"
         "  --format F  csv (default) or json\n"
         "  --table T   csv only: evaluations (default) or iterations\n"
         "  --out FILE  write to FILE instead of stdout\n"
         "  --db FILE   database (default hyperd.db in the current directory)\n"
         "--format optuna --out FILE.db writes an Optuna storage instead\n"
         "(hyperd export --format optuna --help).\n";
}

/* One line, as the other subcommands do; --help has the rest. */
static int usage_error(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "hyperd %s: ", cmd);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (try --help)\n");
  return EXIT_USAGE;
}

/* --name VALUE or --name=VALUE; *i advances past what it used. 1 if it
 * matched, 0 if not, -1 if the value is missing. */
static int option_value(const char *name, int argc, char **argv, int *i,
                        const char **value) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0)
    return 0;
  if (a[n] == '=') {
    *value = a + n + 1;
    return 1;
  }
  if (a[n] != '\0')
    return 0;
  if (*i + 1 >= argc)
    return -1;
  *value = argv[++*i];
  return 1;
}

/* Parses argv[1..]; returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, int allowed, cli_opts *o) {
  const char *cmd = argv[0];
  memset(o, 0, sizeof *o);
  o->db = "hyperd.db";
  int only_positional = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int m = 0;
    if (!only_positional && a[0] == '-' && a[1] != '\0') {
      if (strcmp(a, "--") == 0) {
        only_positional = 1;
        continue;
      }
      if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        o->help = 1;
        continue;
      }
      if ((allowed & OPT_JSON) && strcmp(a, "--json") == 0) {
        o->json = 1;
        continue;
      }
      if ((m = option_value("--db", argc, argv, &i, &o->db)) == 0 &&
          (allowed & OPT_EXPORT) &&
          (m = option_value("--format", argc, argv, &i, &o->format)) == 0 &&
          (m = option_value("--table", argc, argv, &i, &o->table)) == 0)
        m = option_value("--out", argc, argv, &i, &o->out);
      if (m < 0)
        return usage_error(cmd, "option %s needs a value", a);
      if (m == 0)
        return usage_error(cmd, "unknown option %s", a);
      continue;
    }
    if (!(allowed & OPT_STUDY) || o->study)
      return usage_error(cmd, "unexpected argument \"%s\"", a);
    o->study = a;
  }
  if (o->help) {
    fputs(usage_text(cmd), stdout);
    return EXIT_OK;
  }
  if ((allowed & OPT_STUDY) && !o->study)
    return usage_error(cmd, "%s", "which study? (a name or a numeric id)");
  if (!*o->db)
    return usage_error(cmd, "%s", "--db needs a file name");
  return -1;
}

static int open_store(const char *cmd, const char *db, hyd_store **st) {
  int status = hyd_store_open(st, db, HYD_STORE_READONLY);
  if (status == HYD_STORE_OK)
    return -1;
  /* The store's message names the file already. */
  fprintf(stderr, "hyperd %s: cannot read the database: %s\n", cmd, hyd_store_errmsg(*st));
  hyd_store_close(*st);
  *st = NULL;
  switch (status) {
  case HYD_STORE_ENOENT:
  case HYD_STORE_ENOTDB:
  case HYD_STORE_ETOONEW:
  case HYD_STORE_ETOOOLD: return EXIT_USAGE;
  default: return EXIT_FAIL;
  }
}

static int find_study(const char *cmd, hyd_store *st, const char *key,
                      hyd_store_study *s) {
  int status = hyd_store_lookup_study(st, key, s);
  if (status == HYD_STORE_OK)
    return -1;
  fprintf(stderr, "hyperd %s: %s\n", cmd, hyd_store_errmsg(st));
  return status == HYD_STORE_ENOTFOUND ? EXIT_USAGE : EXIT_FAIL;
}

/* Ends a command: flushes and reports a write error on stdout (a full disk,
 * a closed pipe) as a failure rather than claiming success. */
static int finish(const char *cmd, FILE *f, int code) {
  if (fflush(f) != 0 || ferror(f)) {
    fprintf(stderr, "hyperd %s: writing the output failed: %s\n", cmd, strerror(errno));
    return code ? code : EXIT_FAIL;
  }
  return code;
}

/* The exit code for a listing's end: a store failure or running out of
 * memory while formatting is a failure (1). */
static int listing_result(const char *cmd, hyd_store *st, int status, int oom) {
  if (status == HYD_STORE_OK && !oom)
    return EXIT_OK;
  fprintf(stderr, "hyperd %s: %s\n", cmd, oom ? "out of memory" : hyd_store_errmsg(st));
  return EXIT_FAIL;
}

/* ---- JSON ---- */

/* Adds a number, or null for NaN / Inf (JSON has neither). */
static int add_number(cJSON *o, const char *key, double v) {
  return (isfinite(v) ? cJSON_AddNumberToObject(o, key, v)
                      : cJSON_AddNullToObject(o, key)) != NULL;
}

static int add_string(cJSON *o, const char *key, const char *v) {
  return (v ? cJSON_AddStringToObject(o, key, v) : cJSON_AddNullToObject(o, key)) != NULL;
}

static int add_theta(cJSON *o, const double *theta, size_t n) {
  cJSON *a = cJSON_AddArrayToObject(o, "theta");
  if (!a)
    return 0;
  for (size_t i = 0; i < n; i++) {
    cJSON *x = isfinite(theta[i]) ? cJSON_CreateNumber(theta[i]) : cJSON_CreateNull();
    if (!x || !cJSON_AddItemToArray(a, x)) {
      cJSON_Delete(x);
      return 0;
    }
  }
  return 1;
}

/* Stored JSON text embedded as JSON (falls back to the string). */
static int add_json_text(cJSON *o, const char *key, const char *text) {
  cJSON *v = text ? cJSON_Parse(text) : NULL;
  if (!v)
    return add_string(o, key, text);
  /* Adding copies the key and can fail; then v is still ours. */
  if (!cJSON_AddItemToObject(o, key, v)) {
    cJSON_Delete(v);
    return 0;
  }
  return 1;
}

static int add_cost(cJSON *o, const hyd_cost *c) {
  return add_number(o, "lower_iters", c->lower_iters) &&
         add_number(o, "cg_iters", c->cg_iters) &&
         add_number(o, "lower_batches", c->lower_batches) &&
         add_number(o, "cg_batches", c->cg_batches) &&
         add_number(o, "lower_iters_ref", c->lower_iters_ref) &&
         add_number(o, "evaluations", c->evaluations) &&
         add_number(o, "trials", c->trials) &&
         add_number(o, "capped_solves", c->capped_solves);
}

/* A seed above 2^53 does not survive a JSON number (a double): it goes out
 * as a decimal string instead. */
static int add_seed(cJSON *o, uint64_t seed) {
  if (seed <= (UINT64_C(1) << 53))
    return add_number(o, "seed", (double)seed);
  char text[24];
  (void)snprintf(text, sizeof text, "%llu", (unsigned long long)seed);
  return add_string(o, "seed", text);
}

/* The object if every part was added, else NULL (out of memory). */
static cJSON *built(cJSON *o, int ok) {
  if (ok)
    return o;
  cJSON_Delete(o);
  return NULL;
}

static cJSON *study_json(const hyd_store_study *s, const hyd_store_iteration *best) {
  cJSON *o = cJSON_CreateObject();
  int ok = o && add_number(o, "id", (double)s->id) && add_string(o, "name", s->name) &&
           add_string(o, "status", hyd_study_status_name(s->status)) &&
           add_string(o, "problem", s->problem) && add_string(o, "method", s->method) &&
           add_seed(o, s->seed) && add_string(o, "host", s->host) &&
           (s->ranks > 0 ? add_number(o, "ranks", s->ranks)
                         : cJSON_AddNullToObject(o, "ranks") != NULL) &&
           add_number(o, "n_theta", (double)s->n_theta) &&
           add_string(o, "created_at", s->created_at) &&
           add_string(o, "started_at", s->started_at) &&
           add_string(o, "finished_at", s->finished_at) &&
           add_string(o, "stop_reason", s->stop_reason) && add_string(o, "error", s->error) &&
           add_number(o, "iterations", (double)s->n_iterations) &&
           add_number(o, "evaluations", (double)s->n_evaluations) &&
           add_number(o, "best_value", s->has_best ? s->best_value : NAN) &&
           (s->has_best ? add_number(o, "best_iteration", (double)s->best_iteration)
                        : cJSON_AddNullToObject(o, "best_iteration") != NULL) &&
           add_number(o, "best_g", best ? best->g : NAN) &&
           (best ? add_number(o, "best_g_iteration", (double)best->iteration)
                 : cJSON_AddNullToObject(o, "best_g_iteration") != NULL) &&
           add_json_text(o, "options", s->options_json) &&
           add_json_text(o, "data_checksums", s->data_checksums_json);
  return built(o, ok);
}

static cJSON *evaluation_json(const hyd_store_evaluation *e) {
  cJSON *o = cJSON_CreateObject();
  int ok = o && add_number(o, "iteration", (double)e->iteration) &&
           add_number(o, "seq", (double)e->seq) &&
           add_string(o, "kind", e->kind == HYD_EVENT_TRIAL ? "trial" : "evaluate") &&
           add_number(o, "eps", e->eps) && add_number(o, "delta", e->delta) &&
           add_number(o, "step", e->step) && add_number(o, "z_norm", e->z_norm) &&
           add_number(o, "omega", e->omega) && add_number(o, "f_lo", e->f_lo) &&
           add_number(o, "f_hi", e->f_hi) && add_number(o, "g", e->g) &&
           cJSON_AddBoolToObject(o, "accepted", e->accepted) && add_cost(o, &e->cost) &&
           add_number(o, "wall_seconds", e->wall_seconds) &&
           cJSON_AddBoolToObject(o, "failed", e->failed) &&
           add_string(o, "fail_reason", e->fail_reason) &&
           add_theta(o, e->theta, e->n_theta);
  return built(o, ok);
}

static cJSON *iteration_json(const hyd_store_iteration *it) {
  cJSON *o = cJSON_CreateObject();
  int ok = o && add_number(o, "iteration", (double)it->iteration) &&
           add_number(o, "eps", it->eps) && add_number(o, "delta", it->delta) &&
           add_number(o, "alpha", it->alpha) && add_number(o, "step", it->step) &&
           add_number(o, "z_norm", it->z_norm) && add_number(o, "omega", it->omega) &&
           add_number(o, "f_lo", it->f_lo) && add_number(o, "f_hi", it->f_hi) &&
           add_number(o, "g", it->g) && cJSON_AddBoolToObject(o, "accepted", it->accepted) &&
           add_number(o, "n_accepted", (double)it->n_accepted) && add_cost(o, &it->cost) &&
           add_number(o, "wall_seconds", it->wall_seconds) &&
           cJSON_AddBoolToObject(o, "certified", it->certified) &&
           add_theta(o, it->theta, it->n_theta);
  return built(o, ok);
}

/* A streamed JSON array: "[", objects separated by ",\n", "]". */
typedef struct json_stream {
  FILE *f;
  size_t count;
  int failed; /* out of memory building an element */
} json_stream;

static int stream_item(json_stream *js, cJSON *item) {
  char *text = item ? cJSON_PrintUnformatted(item) : NULL;
  cJSON_Delete(item);
  if (!text) {
    js->failed = 1;
    return 1; /* stop the listing */
  }
  fputs(js->count++ ? ",\n" : "\n", js->f);
  fputs(text, js->f);
  cJSON_free(text);
  return 0;
}

static void stream_end(json_stream *js) { fputs(js->count ? "\n]" : "]", js->f); }

/* ---- hyperd studies ---- */

typedef struct studies_ctx {
  hyd_store *st;
  json_stream js;
  int json;
  int status; /* a failure inside the callback */
} studies_ctx;

static void format_value(char *buf, size_t size, double v) {
  if (isnan(v))
    (void)snprintf(buf, size, "-");
  else
    (void)snprintf(buf, size, "%.6g", v);
}

/* Never NULL: a status this binary does not know prints as "?". */
static const char *status_text(int status) {
  const char *name = hyd_study_status_name(status);
  return name ? name : "?";
}

static int studies_row(const hyd_store_study *s, void *user) {
  studies_ctx *c = user;
  hyd_store_iteration best;
  int status = hyd_store_best(c->st, s->id, &best);
  if (status != HYD_STORE_OK && status != HYD_STORE_ENOTFOUND) {
    c->status = status;
    return 1;
  }
  const hyd_store_iteration *b = status == HYD_STORE_OK ? &best : NULL;
  if (c->json)
    return stream_item(&c->js, study_json(s, b));
  char value[32];
  format_value(value, sizeof value, b ? b->g : NAN);
  printf("%-5lld %-24s %-11s %-12s %-10s %6ld  %-13s %s\n", (long long)s->id, s->name,
         status_text(s->status), s->problem, s->method, s->n_iterations, value,
         s->created_at);
  return 0;
}

int hyd_cli_studies(int argc, char **argv) {
  cli_opts o;
  int code = parse(argc, argv, OPT_JSON, &o);
  if (code >= 0)
    return finish(argv[0], stdout, code);
  hyd_store *st = NULL;
  if ((code = open_store(argv[0], o.db, &st)) >= 0)
    return code;
  studies_ctx c = {st, {stdout, 0, 0}, o.json, HYD_STORE_OK};
  if (o.json)
    fputs("[", stdout);
  else
    printf("%-5s %-24s %-11s %-12s %-10s %6s  %-13s %s\n", "ID", "NAME", "STATUS",
           "PROBLEM", "METHOD", "ITERS", "BEST", "CREATED");
  int status = hyd_store_list_studies(st, studies_row, &c);
  if (o.json) {
    stream_end(&c.js);
    fputs("\n", stdout);
  }
  code = listing_result(argv[0], st, status ? status : c.status, c.js.failed);
  hyd_store_close(st);
  return finish(argv[0], stdout, code);
}

/* ---- hyperd trials ---- */

typedef struct trials_ctx {
  json_stream js;
  int json;
} trials_ctx;

static int trials_row(const hyd_store_evaluation *e, void *user) {
  trials_ctx *c = user;
  if (c->json)
    return stream_item(&c->js, evaluation_json(e));
  char v[8][32];
  const double x[8] = {e->eps, e->delta, e->step, e->z_norm,
                       e->omega, e->f_lo, e->f_hi, e->g};
  for (int k = 0; k < 8; k++)
    format_value(v[k], sizeof v[k], x[k]);
  printf("%5ld %4ld %-8s %-11s %-11s %-11s %-11s %-11s %-13s %-13s %-13s %3s %9.0f %9.0f %s\n",
         e->iteration, e->seq, e->kind == HYD_EVENT_TRIAL ? "trial" : "evaluate", v[0], v[1],
         v[2], v[3], v[4], v[5], v[6], v[7], e->accepted ? "yes" : "no", e->cost.lower_iters,
         e->cost.cg_iters, e->failed && e->fail_reason ? e->fail_reason : "");
  return 0;
}

/* Opens the store and finds the study: -1 to go on, else the exit code. */
static int open_study(const cli_opts *o, const char *cmd, hyd_store **st,
                      hyd_store_study *s) {
  int code = open_store(cmd, o->db, st);
  if (code >= 0)
    return code;
  code = find_study(cmd, *st, o->study, s);
  if (code >= 0) {
    hyd_store_close(*st);
    *st = NULL;
  }
  return code;
}

/* What a command does once its study is found; returns the exit code. */
typedef int (*study_body)(const char *cmd, const cli_opts *o, hyd_store *st,
                          const hyd_store_study *s);
/* Checks options after parsing (-1 to go on, else the exit code). */
typedef int (*opts_check)(const char *cmd, cli_opts *o);

/* Parse, open read-only, find STUDY, run body, clean up. */
static int run_study_command(int argc, char **argv, int allowed, opts_check check,
                             study_body body) {
  cli_opts o;
  int code = parse(argc, argv, allowed | OPT_STUDY, &o);
  if (code < 0 && check)
    code = check(argv[0], &o);
  if (code >= 0)
    return finish(argv[0], stdout, code);
  hyd_store *st = NULL;
  hyd_store_study s;
  if ((code = open_study(&o, argv[0], &st, &s)) >= 0)
    return code;
  code = body(argv[0], &o, st, &s);
  hyd_store_study_clear(&s);
  hyd_store_close(st);
  return finish(argv[0], stdout, code);
}

static int trials_body(const char *cmd, const cli_opts *o, hyd_store *st,
                       const hyd_store_study *s) {
  trials_ctx c = {{stdout, 0, 0}, o->json};
  if (o->json)
    fputs("[", stdout);
  else
    printf("%5s %4s %-8s %-11s %-11s %-11s %-11s %-11s %-13s %-13s %-13s %3s %9s %9s %s\n",
           "ITER", "SEQ", "KIND", "EPS", "DELTA", "STEP", "Z_NORM", "OMEGA", "F_LO", "F_HI",
           "G", "ACC", "LOWER", "CG", "FAILED");
  int status = hyd_store_foreach_evaluation(st, s->id, trials_row, &c);
  if (o->json) {
    stream_end(&c.js);
    fputs("\n", stdout);
  }
  return listing_result(cmd, st, status, c.js.failed);
}

int hyd_cli_trials(int argc, char **argv) {
  return run_study_command(argc, argv, OPT_JSON, NULL, trials_body);
}

/* ---- hyperd best ---- */

static void print_best(const hyd_store_study *s, const hyd_store_iteration *b) {
  printf("study       %s (id %lld, %s)\n", s->name, (long long)s->id, status_text(s->status));
  printf("iteration   %ld\n", b->iteration);
  printf("value g     %.12g\n", b->g);
  printf("sandwich    %.12g <= f <= %.12g\n", b->f_lo, b->f_hi);
  printf("z_norm      %.6g (omega %.6g, %s)\n", b->z_norm, b->omega,
         s->lower_nonconvex ? "heuristic"
         : b->certified     ? "certified"
                            : "estimated");
  if (s->lower_nonconvex)
    printf("bound       NOT certified: the lower level is non-convex (omega "
           "and the sandwich are heuristics)\n");
  printf("work        %.0f lower + %.0f CG iterations\n", b->cost.lower_iters,
         b->cost.cg_iters);
  printf("theta      ");
  for (size_t i = 0; i < b->n_theta; i++)
    printf(" %.17g", b->theta[i]);
  printf("\n");
}

static int best_body(const char *cmd, const cli_opts *o, hyd_store *st,
                     const hyd_store_study *s) {
  hyd_store_iteration b;
  int status = hyd_store_best(st, s->id, &b);
  if (status != HYD_STORE_OK)
    return listing_result(cmd, st, status, 0);
  if (!o->json) {
    print_best(s, &b);
    return EXIT_OK;
  }
  cJSON *it = iteration_json(&b), *obj = cJSON_CreateObject();
  char *text = NULL;
  if (it && obj && add_number(obj, "study_id", (double)s->id) &&
      add_string(obj, "study", s->name) &&
      add_string(obj, "bound", s->lower_nonconvex ? "not_certified" : "certifiable") &&
      cJSON_AddItemToObject(obj, "best", it)) {
    it = NULL; /* owned by obj now */
    text = cJSON_Print(obj);
  }
  cJSON_Delete(it);
  cJSON_Delete(obj);
  if (text)
    printf("%s\n", text);
  cJSON_free(text);
  return listing_result(cmd, st, HYD_STORE_OK, text == NULL);
}

int hyd_cli_best(int argc, char **argv) {
  return run_study_command(argc, argv, OPT_JSON, NULL, best_body);
}

/* ---- hyperd export ---- */

/* RFC 4180: quote a field that holds a comma, quote or line break. */
static void csv_text(FILE *f, const char *s) {
  if (!s)
    return;
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* Shortest text that reads back to the same double; empty for NaN. */
static void csv_number(FILE *f, double v) {
  if (!isnan(v))
    fprintf(f, "%.17g", v);
}

static void csv_numbers(FILE *f, const double *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    fputc(',', f);
    csv_number(f, v[i]);
  }
}

static void csv_cost(FILE *f, const hyd_cost *c) {
  const double v[8] = {c->lower_iters,   c->cg_iters,    c->lower_batches, c->cg_batches,
                       c->lower_iters_ref, c->evaluations, c->trials,      c->capped_solves};
  csv_numbers(f, v, 8);
}

#define CSV_COST_HEADER                                                       \
  "lower_iters,cg_iters,lower_batches,cg_batches,lower_iters_ref,evaluations," \
  "trials,capped_solves"

static void csv_theta_header(FILE *f, size_t n) {
  for (size_t i = 0; i < n; i++)
    fprintf(f, ",theta_%zu", i);
  fputc('\n', f);
}

static int csv_evaluation(const hyd_store_evaluation *e, void *user) {
  FILE *f = user;
  fprintf(f, "%ld,%ld,%s", e->iteration, e->seq,
          e->kind == HYD_EVENT_TRIAL ? "trial" : "evaluate");
  const double v[8] = {e->eps, e->delta, e->step, e->z_norm, e->omega, e->f_lo, e->f_hi, e->g};
  csv_numbers(f, v, 8);
  fprintf(f, ",%d", e->accepted);
  csv_cost(f, &e->cost);
  fputc(',', f);
  csv_number(f, e->wall_seconds);
  fprintf(f, ",%d,", e->failed);
  csv_text(f, e->fail_reason);
  csv_numbers(f, e->theta, e->n_theta);
  fputc('\n', f);
  return ferror(f) != 0;
}

static int csv_iteration(const hyd_store_iteration *it, void *user) {
  FILE *f = user;
  fprintf(f, "%ld", it->iteration);
  const double v[9] = {it->eps,   it->delta, it->alpha, it->step, it->z_norm,
                       it->omega, it->f_lo,  it->f_hi,  it->g};
  csv_numbers(f, v, 9);
  fprintf(f, ",%d,%ld", it->accepted, it->n_accepted);
  csv_cost(f, &it->cost);
  fputc(',', f);
  csv_number(f, it->wall_seconds);
  fprintf(f, ",%d", it->certified);
  csv_numbers(f, it->theta, it->n_theta);
  fputc('\n', f);
  return ferror(f) != 0;
}

static int export_csv(hyd_store *st, const hyd_store_study *s, int iterations, FILE *f) {
  if (iterations) {
    fputs("iteration,eps,delta,alpha,step,z_norm,omega,f_lo,f_hi,g,accepted,n_accepted,"
          CSV_COST_HEADER ",wall_seconds,certified", f);
    csv_theta_header(f, s->n_theta);
    return hyd_store_foreach_iteration(st, s->id, csv_iteration, f);
  }
  fputs("iteration,seq,kind,eps,delta,step,z_norm,omega,f_lo,f_hi,g,accepted,"
        CSV_COST_HEADER ",wall_seconds,failed,fail_reason", f);
  csv_theta_header(f, s->n_theta);
  return hyd_store_foreach_evaluation(st, s->id, csv_evaluation, f);
}

static int json_iteration_row(const hyd_store_iteration *it, void *user) {
  return stream_item(user, iteration_json(it));
}

static int json_evaluation_row(const hyd_store_evaluation *e, void *user) {
  return stream_item(user, evaluation_json(e));
}

/* {"study": {...}, "iterations": [...], "evaluations": [...]} streamed. */
static int export_json(hyd_store *st, const hyd_store_study *s, FILE *f, int *oom) {
  hyd_store_iteration best;
  int status = hyd_store_best(st, s->id, &best);
  if (status != HYD_STORE_OK && status != HYD_STORE_ENOTFOUND)
    return status;
  cJSON *obj = study_json(s, status == HYD_STORE_OK ? &best : NULL);
  char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
  cJSON_Delete(obj);
  if (!text) {
    *oom = 1;
    return HYD_STORE_OK;
  }
  fprintf(f, "{\"format\":\"hyperd-export\",\"schema_version\":%d,\"study\":%s,\n"
             "\"iterations\":[", hyd_store_schema_version(), text);
  cJSON_free(text);
  json_stream js = {f, 0, 0};
  status = hyd_store_foreach_iteration(st, s->id, json_iteration_row, &js);
  stream_end(&js);
  if (status == HYD_STORE_OK && !js.failed) {
    fputs(",\n\"evaluations\":[", f);
    js.count = 0;
    status = hyd_store_foreach_evaluation(st, s->id, json_evaluation_row, &js);
    stream_end(&js);
  }
  fputs("}\n", f);
  *oom = js.failed;
  return status;
}

static int check_export_opts(const char *cmd, cli_opts *o) {
  if (!o->format)
    o->format = "csv";
  if (strcmp(o->format, "csv") != 0 && strcmp(o->format, "json") != 0)
    return usage_error(cmd, "unknown format \"%s\" (csv or json)", o->format);
  if (o->table && strcmp(o->format, "csv") != 0)
    return usage_error(cmd, "%s", "--table goes with --format csv");
  if (o->table && strcmp(o->table, "iterations") != 0 && strcmp(o->table, "evaluations") != 0)
    return usage_error(cmd, "unknown table \"%s\" (evaluations or iterations)", o->table);
  if (o->out && !*o->out)
    return usage_error(cmd, "%s", "--out needs a file name");
  return -1;
}

static int export_body(const char *cmd, const cli_opts *o, hyd_store *st,
                       const hyd_store_study *s) {
  FILE *f = o->out ? fopen(o->out, "w") : stdout;
  if (!f) {
    fprintf(stderr, "hyperd %s: cannot write %s: %s\n", cmd, o->out, strerror(errno));
    return EXIT_FAIL;
  }
  int oom = 0, iterations = o->table && strcmp(o->table, "iterations") == 0;
  int status = strcmp(o->format, "json") == 0 ? export_json(st, s, f, &oom)
                                              : export_csv(st, s, iterations, f);
  int code = finish(cmd, f, listing_result(cmd, st, status, oom));
  if (o->out && fclose(f) != 0 && code == EXIT_OK) {
    fprintf(stderr, "hyperd %s: writing %s failed: %s\n", cmd, o->out, strerror(errno));
    code = EXIT_FAIL;
  }
  return code;
}

int hyd_cli_export(int argc, char **argv) {
  if (hyd_export_optuna_requested(argc, argv))
    return hyd_cli_export_optuna(argc, argv);
  return run_study_command(argc, argv, OPT_EXPORT, check_export_opts, export_body);
}
