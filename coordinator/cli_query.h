/* cli_query.h: the read-only query subcommands of hyperd.
 *
 *   hyperd studies [--db FILE] [--json]
 *   hyperd trials STUDY [--db FILE] [--json]
 *   hyperd best STUDY [--db FILE] [--json]
 *   hyperd export STUDY [--format csv|json] [--table evaluations|iterations]
 *                 [--out FILE] [--db FILE]
 *
 * argv[0] is the subcommand's name. STUDY is a name or a numeric id (a
 * study named "7" wins over id 7). --db defaults to hyperd.db in the
 * current directory. The database is opened read-only: it is never created
 * or changed, and a daemon may be writing it meanwhile. Tables for people
 * and --json / export to stdout (or --out FILE), messages to stderr.
 *
 * Each returns the exit code: 0 ok; 1 failure (I/O, a database error, no
 * result yet); 2 usage or bad input (unknown option, missing or extra
 * argument, no such database file, not a hyperd database, schema too new,
 * unknown study). stdout is flushed before returning. */
#ifndef HYPERD_CLI_QUERY_H
#define HYPERD_CLI_QUERY_H

int hyd_cli_studies(int argc, char **argv);
int hyd_cli_trials(int argc, char **argv);
int hyd_cli_best(int argc, char **argv);
int hyd_cli_export(int argc, char **argv);

#endif
