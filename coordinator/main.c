/* hyperd: the command line. One binary, subcommands like git. */
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <hyperd/status.h>

#include "cli_data.h"
#include "cli_query.h"
#include "plot.h"
#include "daemon/commands.h"
#include "daemon/job.h"
#include "daemon/session.h"

typedef int (*command_fn)(int argc, char **argv);

static const struct {
  const char *name;
  command_fn fn;
  const char *help;
} commands[] = {
    {"run", hyd_cmd_run, "run a study file and record it"},
    {"resume", hyd_cmd_resume, "continue an interrupted or failed study"},
    {"submit", hyd_cmd_submit, "queue a study file for the daemon"},
    {"serve", hyd_cmd_serve, "the daemon: run queued studies until stopped"},
    {"studies", hyd_cli_studies, "list the studies of a database"},
    {"trials", hyd_cli_trials, "every evaluation and line-search trial"},
    {"best", hyd_cli_best, "the best iteration of a study"},
    {"export", hyd_cli_export, "a study as CSV, JSON or an Optuna storage"},
    {"plot", hyd_cli_plot, "convergence plots of a study (SVG, PNG)"},
    {"images", hyd_cmd_images, "denoising studies: clean | noisy | denoised pictures"},
    {"data", hyd_cli_data, "fetch, list and verify data sets"},
};

static void usage(FILE *out)
{
  fprintf(out, "usage: hyperd COMMAND [ARGS]   (hyperd COMMAND --help for "
               "more)\n\nhyperd %s: bilevel hyperparameter learning with MAID, "
               "recorded in SQLite.\n\ncommands:\n", hyd_version());
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
  fprintf(out, "\nDatabase: hyperd.db in the current directory unless --db "
               "FILE.\nExit codes: 0 ok, 1 failed, 2 usage or bad input.\n");
}

int hyd_command_ranks(void) { return hyd_job_size(); }

/* run, resume and serve may run under mpirun: rank 0 executes the command,
 * the other ranks serve its studies' samples. */
static int run_in_job(command_fn fn, int argc, char **argv)
{
  if (hyd_job_init(&argc, &argv) != 0) {
    fprintf(stderr, "hyperd: MPI could not start\n");
    return 1;
  }
  int rc;
  if (hyd_job_rank() == 0) {
    rc = fn(argc - 1, argv + 1);
    hyd_job_quit();
  } else {
    rc = hyd_job_worker();
  }
  hyd_job_finalize();
  return rc;
}

int main(int argc, char **argv)
{
  /* GSL's default handler aborts the process; errors are checked where
   * they happen instead. */
  gsl_set_error_handler_off();
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("hyperd %s\n", hyd_version());
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0) {
      hyd_session_install_signals();
      if (commands[i].fn == hyd_cmd_run || commands[i].fn == hyd_cmd_resume ||
          commands[i].fn == hyd_cmd_serve)
        return run_in_job(commands[i].fn, argc, argv);
      return commands[i].fn(argc - 1, argv + 1);
    }
  fprintf(stderr, "hyperd: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
