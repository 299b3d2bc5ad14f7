/* hyperd serve: runs queued studies one after another until stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "session.h"

static const char *serve_usage =
    "usage: hyperd serve [--db FILE] [--poll SECONDS] [--exit-when-idle]\n"
    "                    [--webhook URL] [-q]\n"
    "\n"
    "The daemon: runs the QUEUED studies of the database (hyperd submit)\n"
    "oldest first, one after another, and waits for new ones. SIGTERM or\n"
    "SIGINT interrupts the running study at its next safe point (it is\n"
    "marked INTERRUPTED with its checkpoint) and ends the daemon with 0.\n"
    "\n"
    "  --db FILE          database (default: hyperd.db)\n"
    "  --poll SECONDS     how often to look for new studies (default 1)\n"
    "  --exit-when-idle   return once no study is queued\n"
    "  --webhook URL      POST every study's events to URL (wins over the\n"
    "                     studies' own \"webhook\")\n"
    "  -q, --quiet        no progress lines\n";

static int run_one(hyd_store *st, int64_t id, int quiet, const char *webhook)
{
  hyd_session s;
  memset(&s, 0, sizeof s);
  s.store = st;
  s.study_id = id;
  s.quiet = quiet;
  s.webhook_url = webhook;
  hyd_store_study row;
  memset(&row, 0, sizeof row);
  if (hyd_store_get_study(st, id, &row) != 0) {
    fprintf(stderr, "hyperd serve: %s\n", hyd_store_errmsg(st));
    return 1;
  }
  char err[1024];
  int rc = hyd_session_load_stored(&s, &row, err, sizeof err);
  hyd_store_study_clear(&row);
  if (rc) {
    /* The data or the file changed since it was queued: fail this study,
     * keep serving the others. */
    hyd_store_set_error(st, id, err);
    hyd_store_set_status(st, id, HYD_STUDY_FAILED);
    fprintf(stderr, "hyperd serve: study %lld failed: %s\n", (long long)id,
            err);
    hyd_session_notify_failed(&s, err);
  } else {
    if (!quiet)
      fprintf(stderr, "hyperd serve: running study '%s' (id %lld)\n",
              s.study.name, (long long)id);
    rc = hyd_session_begin(&s, 0);
    if (!rc)
      hyd_session_loop(&s);
  }
  s.store = NULL; /* borrowed */
  hyd_session_close(&s);
  return 0;
}

int hyd_cmd_serve(int argc, char **argv)
{
  const char *db = "hyperd.db", *webhook = NULL;
  double poll = 1.0;
  int once = 0, quiet = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      fputs(serve_usage, stdout);
      return 0;
    } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db = argv[++i];
    } else if (strcmp(argv[i], "--poll") == 0 && i + 1 < argc) {
      char *end;
      poll = strtod(argv[++i], &end);
      if (*end || !(poll > 0 && poll <= 3600)) {
        fprintf(stderr, "hyperd serve: --poll needs seconds in (0, 3600]\n");
        return 2;
      }
    } else if (strcmp(argv[i], "--webhook") == 0 && i + 1 < argc) {
      webhook = argv[++i];
      char err[512];
      if (hyd_webhook_check_url(webhook, err, sizeof err) != 0) {
        fprintf(stderr, "hyperd serve: --webhook %s\n", err);
        return 2;
      }
    } else if (strcmp(argv[i], "--exit-when-idle") == 0) {
      once = 1;
    } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
      quiet = 1;
    } else {
      fprintf(stderr, "hyperd serve: unexpected argument '%s'\n%s", argv[i],
              serve_usage);
      return 2;
    }
  }
  hyd_store *st;
  int rc = hyd_store_open(&st, db, HYD_STORE_READWRITE);
  if (rc) {
    fprintf(stderr, "hyperd serve: %s: %s\n", db, hyd_store_errmsg(st));
    hyd_store_close(st);
    return rc == HYD_STORE_ENOTDB || rc == HYD_STORE_ETOONEW ? 2 : 1;
  }
  hyd_store_record_event(st, 0, 1, "serve", "daemon started");
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  hyd_store_owner me = {.host = host, .pid = (long)getpid()};
  while (!hyd_session_signalled()) {
    int64_t id;
    rc = hyd_store_next_queued(st, &id);
    if (rc == 0) {
      /* Another daemon on the same database may take it first: then it is
       * not QUEUED any more, and the next one is looked for. */
      int claim = hyd_store_claim_study(st, id, &me, 1u << HYD_STUDY_QUEUED);
      if (claim == 0)
        run_one(st, id, quiet, webhook);
      else if (claim != HYD_STORE_ESTATE && claim != HYD_STORE_EBUSY) {
        fprintf(stderr, "hyperd serve: %s\n", hyd_store_errmsg(st));
        hyd_store_close(st);
        return 1;
      }
      continue;
    }
    if (rc != HYD_STORE_ENOTFOUND) {
      fprintf(stderr, "hyperd serve: %s\n", hyd_store_errmsg(st));
      hyd_store_close(st);
      return 1;
    }
    if (once)
      break;
    struct timespec ts = {(time_t)poll,
                          (long)((poll - (double)(time_t)poll) * 1e9)};
    nanosleep(&ts, NULL); /* a signal ends the sleep early */
  }
  hyd_store_record_event(st, 0, 1, "serve", "daemon stopped");
  hyd_store_close(st);
  return 0;
}
