/* daemon/commands.h: the subcommands that start or continue studies. Each
 * takes argv with argv[0] the subcommand's name and returns the exit code
 * (0 ok, 1 failed, 2 usage or bad input). */
#ifndef HYPERD_DAEMON_COMMANDS_H
#define HYPERD_DAEMON_COMMANDS_H

int hyd_cmd_run(int argc, char **argv);
int hyd_cmd_resume(int argc, char **argv);
int hyd_cmd_submit(int argc, char **argv);
int hyd_cmd_serve(int argc, char **argv);
int hyd_cmd_images(int argc, char **argv);

/* Number of MPI ranks of this job (1 without mpirun). */
int hyd_command_ranks(void);

#endif
