/* hyperd run / resume / submit: the commands that start studies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "session.h"

#define ERRSZ 1024

static const char *run_usage =
    "usage: hyperd run STUDY.json [--db FILE] [--name NAME] [--webhook URL] "
    "[-q]\n"
    "\n"
    "Runs the study described by STUDY.json (see docs/study-files.md) and\n"
    "records it in the database. The whole file is checked before anything\n"
    "is written. Under mpirun, rank 0 coordinates and every rank solves its\n"
    "share of the samples.\n"
    "\n"
    "  --db FILE    database (default: hyperd.db in the current directory)\n"
    "  --name NAME  study name (default: the file's \"name\", else its stem)\n"
    "  --webhook URL  POST JSON events (start, best, complete, failed,\n"
    "               interrupted) to URL; wins over the study's \"webhook\"\n"
    "  -q, --quiet  no progress lines on stderr\n"
    "  -h, --help   this text\n"
    "\n"
    "Exit: 0 done (or interrupted: resume it), 1 the run failed, 2 bad input.\n";

static const char *resume_usage =
    "usage: hyperd resume STUDY [--db FILE] [--webhook URL] [--take-over] [-q]\n"
    "\n"
    "Continues an INTERRUPTED or FAILED study (a name or an id) from its last\n"
    "checkpoint, exactly where it stopped, or one left RUNNING by a process\n"
    "that is gone (a crash). A study that another live process is running is\n"
    "refused (exit 3), naming that process's host and pid.\n"
    "\n"
    "  --db FILE    database (default: hyperd.db)\n"
    "  --webhook URL  POST JSON events to URL (wins over the study's)\n"
    "  --take-over  resume even if its running owner looks alive (only when\n"
    "               you know that process is gone, e.g. on a lost node)\n"
    "  -q, --quiet  no progress lines\n"
    "  -h, --help   this text\n"
    "\n"
    "Exit: 0 done (or interrupted again), 1 failed, 2 bad input, 3 the study\n"
    "is being run by another process.\n";

static const char *submit_usage =
    "usage: hyperd submit STUDY.json [--db FILE] [--name NAME]\n"
    "\n"
    "Checks STUDY.json completely and queues it in the database; `hyperd\n"
    "serve` runs queued studies one after another.\n";

typedef struct cli_args {
  const char *db, *name, *target, *webhook;
  int quiet, take_over;
} cli_args;

/* 0 parsed, 2 usage error, 3 help printed. */
static int parse(int argc, char **argv, const char *usage, int allow_name,
                 int allow_webhook, int allow_take_over, cli_args *a)
{
  memset(a, 0, sizeof *a);
  a->db = "hyperd.db";
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      fputs(usage, stdout);
      return 3;
    } else if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
      a->quiet = 1;
    } else if (allow_take_over && strcmp(arg, "--take-over") == 0) {
      a->take_over = 1;
    } else if (strcmp(arg, "--db") == 0 ||
               (allow_name && strcmp(arg, "--name") == 0) ||
               (allow_webhook && strcmp(arg, "--webhook") == 0)) {
      if (i + 1 >= argc) {
        fprintf(stderr, "hyperd %s: %s needs a value\n%s", argv[0], arg, usage);
        return 2;
      }
      if (strcmp(arg, "--db") == 0)
        a->db = argv[++i];
      else if (strcmp(arg, "--name") == 0)
        a->name = argv[++i];
      else
        a->webhook = argv[++i];
    } else if (arg[0] == '-' && arg[1] != '\0') {
      fprintf(stderr, "hyperd %s: unknown option '%s'\n%s", argv[0], arg, usage);
      return 2;
    } else if (!a->target) {
      a->target = arg;
    } else {
      fprintf(stderr, "hyperd %s: unexpected argument '%s'\n%s", argv[0], arg,
              usage);
      return 2;
    }
  }
  if (!a->target) {
    fprintf(stderr, "hyperd %s: missing argument\n%s", argv[0], usage);
    return 2;
  }
  return 0;
}

/* Opens the database for writing; store errors that mean "not ours" are
 * bad input (2), others failures (1). */
static int open_store(const char *path, hyd_store **st)
{
  int rc = hyd_store_open(st, path, HYD_STORE_READWRITE);
  if (rc == 0)
    return 0;
  fprintf(stderr, "hyperd: %s: %s\n", path, hyd_store_errmsg(*st));
  hyd_store_close(*st);
  *st = NULL;
  return rc == HYD_STORE_ENOTDB || rc == HYD_STORE_ETOONEW ? 2 : 1;
}

/* A name not taken yet: the given one, or stem, stem-2, stem-3, ... */
static int pick_name(hyd_store *st, const char *wanted, int must_be_free,
                     char *out, size_t n)
{
  hyd_store_study row;
  memset(&row, 0, sizeof row);
  for (int k = 1; k < 10000; k++) {
    if (k == 1)
      snprintf(out, n, "%s", wanted);
    else
      snprintf(out, n, "%s-%d", wanted, k);
    int rc = hyd_store_find_study(st, out, &row);
    if (rc == HYD_STORE_ENOTFOUND)
      return 0;
    if (rc != 0) {
      fprintf(stderr, "hyperd: %s\n", hyd_store_errmsg(st));
      return 1;
    }
    if (must_be_free && row.status == HYD_STUDY_RUNNING && row.owner_pid > 0)
      fprintf(stderr, "hyperd: a study named '%s' exists already in the "
              "database, RUNNING in process %ld on host %s; choose another "
              "name (--name)\n", out, row.owner_pid,
              row.owner_host ? row.owner_host : "?");
    else if (must_be_free)
      fprintf(stderr, "hyperd: a study named '%s' exists already in the "
              "database; continue it with `hyperd resume '%s'` or choose "
              "another name (--name)\n", out, out);
    hyd_store_study_clear(&row);
    if (must_be_free)
      return 2;
  }
  fprintf(stderr, "hyperd: no free study name for '%s'\n", wanted);
  return 2;
}

static int create_study(hyd_session *s, const cli_args *a, int status,
                        char *name, size_t n)
{
  int rc = pick_name(s->store, a->name ? a->name : s->study.name,
                     a->name || s->study.name_given, name, n);
  if (rc)
    return rc;
  char *options = hyd_session_options_json(s);
  char *sums = cJSON_PrintUnformatted(s->built.checksums);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  hyd_store_study_spec spec = {
      .name = name, .problem = s->built.type, .method = s->study.method,
      .study_json = s->study.text, .options_json = options,
      .data_checksums_json = sums, .seed = s->study.seed, .host = host,
      .ranks = hyd_command_ranks(), .n_theta = s->built.problem->n_theta,
      .status = status, .pid = status == HYD_STUDY_RUNNING ? (long)getpid() : 0,
      .lower_nonconvex = s->built.problem->lower_nonconvex};
  rc = hyd_store_create_study(s->store, &spec, &s->study_id);
  free(options);
  free(sums);
  if (rc != 0) {
    fprintf(stderr, "hyperd: %s\n", hyd_store_errmsg(s->store));
    return rc == HYD_STORE_EEXIST ? 2 : 1;
  }
  free(s->study.name);
  s->study.name = strdup(name);
  return s->study.name ? 0 : 1;
}

int hyd_cmd_run(int argc, char **argv)
{
  cli_args a;
  int rc = parse(argc, argv, run_usage, 1, 1, 0, &a);
  if (rc)
    return rc == 3 ? 0 : rc;
  hyd_session s;
  memset(&s, 0, sizeof s);
  s.quiet = a.quiet;
  s.webhook_url = a.webhook;
  char err[ERRSZ];
  rc = hyd_study_load(a.target, &s.study, err, sizeof err);
  if (!rc)
    rc = hyd_session_prepare(&s, err, sizeof err);
  if (rc) {
    fprintf(stderr, "hyperd: %s\n", err);
    hyd_session_close(&s);
    return rc;
  }
  char name[256];
  if ((rc = open_store(a.db, &s.store)) ||
      (rc = create_study(&s, &a, HYD_STUDY_RUNNING, name, sizeof name))) {
    hyd_session_close(&s);
    return rc;
  }
  hyd_store_record_event(s.store, s.study_id, 1, "start", s.built.summary);
  if (!a.quiet)
    fprintf(stderr, "hyperd: study '%s' (id %lld): %s, method %s, database "
            "%s\n", name, (long long)s.study_id, s.built.summary,
            s.study.method, a.db);
  rc = hyd_session_begin(&s, 0);
  if (!rc)
    rc = hyd_session_loop(&s);
  if (!rc && !hyd_session_signalled())
    printf("look at it: hyperd best '%s' --db %s;  hyperd trials '%s' --db "
           "%s;  sqlite3 %s 'SELECT * FROM convergence'\n", name, a.db, name,
           a.db, a.db);
  hyd_session_close(&s);
  return rc;
}

int hyd_cmd_resume(int argc, char **argv)
{
  cli_args a;
  int rc = parse(argc, argv, resume_usage, 0, 1, 1, &a);
  if (rc)
    return rc == 3 ? 0 : rc;
  if (access(a.db, F_OK) != 0) {
    fprintf(stderr, "hyperd resume: %s: no such database\n", a.db);
    return 2;
  }
  hyd_session s;
  memset(&s, 0, sizeof s);
  s.quiet = a.quiet;
  s.webhook_url = a.webhook;
  if ((rc = open_store(a.db, &s.store)))
    return rc;
  hyd_store_study row;
  memset(&row, 0, sizeof row);
  rc = hyd_store_lookup_study(s.store, a.target, &row);
  if (rc) {
    fprintf(stderr, "hyperd resume: %s\n", rc == HYD_STORE_ENOTFOUND
                                               ? "no such study"
                                               : hyd_store_errmsg(s.store));
    hyd_session_close(&s);
    return rc == HYD_STORE_ENOTFOUND ? 2 : 1;
  }
  if (row.status == HYD_STUDY_COMPLETE || row.status == HYD_STUDY_QUEUED ||
      row.status == HYD_STUDY_RUNNING) {
    /* RUNNING is allowed too: a kill -9 leaves the study in that state. */
    if (row.status != HYD_STUDY_RUNNING) {
      fprintf(stderr, "hyperd resume: study '%s' is %s; only INTERRUPTED, "
              "FAILED or crashed (RUNNING) studies are resumed%s\n", row.name,
              hyd_study_status_name(row.status),
              row.status == HYD_STUDY_QUEUED ? " (hyperd serve runs queued ones)"
                                             : "");
      hyd_store_study_clear(&row);
      hyd_session_close(&s);
      return 2;
    }
  }
  /* Ours from here on, unless a live process runs it (checked and marked
   * in one transaction: of two resumes at once, one wins). */
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  hyd_store_owner me = {.host = host, .pid = (long)getpid(),
                        .take_over = a.take_over};
  rc = hyd_store_claim_study(s.store, row.id, &me,
                             1u << HYD_STUDY_INTERRUPTED |
                                 1u << HYD_STUDY_FAILED |
                                 1u << HYD_STUDY_RUNNING);
  if (rc) {
    fprintf(stderr, "hyperd resume: %s\n", hyd_store_errmsg(s.store));
    hyd_store_study_clear(&row);
    hyd_session_close(&s);
    return rc == HYD_STORE_EBUSY ? 3 : rc == HYD_STORE_ESTATE ? 2 : 1;
  }
  char err[ERRSZ];
  s.study_id = row.id;
  rc = hyd_session_load_stored(&s, &row, err, sizeof err);
  hyd_store_study_clear(&row);
  if (rc) {
    fprintf(stderr, "hyperd resume: %s\n", err);
    hyd_session_close(&s);
    return rc;
  }
  hyd_store_set_error(s.store, s.study_id, NULL);
  /* A study that failed before its first checkpoint (serve: its data was
   * missing) has nothing to continue from: it starts from the beginning. */
  long cp_iter;
  size_t cp_theta, cp_warm;
  int fresh = hyd_store_checkpoint_info(s.store, s.study_id, &cp_iter,
                                        &cp_theta, &cp_warm) ==
              HYD_STORE_ENOTFOUND;
  rc = hyd_session_begin(&s, !fresh);
  if (!rc)
    rc = hyd_session_loop(&s);
  hyd_session_close(&s);
  return rc;
}

int hyd_cmd_submit(int argc, char **argv)
{
  cli_args a;
  int rc = parse(argc, argv, submit_usage, 1, 0, 0, &a);
  if (rc)
    return rc == 3 ? 0 : rc;
  hyd_session s;
  memset(&s, 0, sizeof s);
  char err[ERRSZ];
  rc = hyd_study_load(a.target, &s.study, err, sizeof err);
  if (!rc)
    rc = hyd_session_prepare(&s, err, sizeof err);
  if (rc) {
    fprintf(stderr, "hyperd submit: %s\n", err);
    hyd_session_close(&s);
    return rc;
  }
  char name[256];
  if ((rc = open_store(a.db, &s.store)) ||
      (rc = create_study(&s, &a, HYD_STUDY_QUEUED, name, sizeof name))) {
    hyd_session_close(&s);
    return rc;
  }
  printf("queued study '%s' (id %lld) in %s\n", name, (long long)s.study_id,
         a.db);
  hyd_session_close(&s);
  return 0;
}
