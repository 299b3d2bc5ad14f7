/* cli_data.h: the `hyperd data` subcommand (fetch, list, verify). */
#ifndef HYPERD_CLI_DATA_H
#define HYPERD_CLI_DATA_H

/* Runs `hyperd data ...`; argv[0] is "data". Messages go to stderr, machine
 * output (paths, --json) to stdout. Returns the exit code: 0 ok, 1 failure
 * (download, checksum, I/O), 2 usage or bad input (unknown option or data
 * set, missing argument, no URL known). */
int hyd_cli_data(int argc, char **argv);

#endif
