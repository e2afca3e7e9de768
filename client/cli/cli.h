/*
 * cli.h — what the files of the `sbx` CLI share. sbx.c owns main, the
 * global flags and the client handle, and the helpers every command uses
 * to report errors, parse flags and numbers, and frame its JSON object;
 * cmd_session.c, cmd_sandbox.c and cmd_files.c hold the subcommands. A
 * command gets its own argv (argv[0] is its name; getopt is reset for
 * it), prints plain text or, with --json, exactly one JSON object, and
 * returns the process's exit status.
 */
#ifndef SBX_CLI_H
#define SBX_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sbx.h"

struct jw;

#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* The open client while a command that needs one runs. */
extern sbx_client *cli;
/* Non-zero with --json. */
extern int cli_json;

/* Prints "sbx: <message>" and a pointer to `sbx help`; returns EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int usage_error(const char *fmt, ...);

/* Prints that memory ran out; returns EXIT_FAIL. */
int out_of_memory(void);

/* Prints "sbx: <CODE>: <message>" for a failed libsbx call on cli;
 * returns EXIT_FAIL. */
int fail_call(sbx_err rv);

/* Parses a command's flags when each of them means the one boolean *flag
 * (mkdir -p, rm -r, write --append): *flag is set when one is given.
 * 0, or EXIT_USAGE for an unknown flag (getopt has said which). */
int parse_one_flag(int argc, char **argv, const char *shortopt,
    const struct option *lo, int *flag);

/* Starts the one JSON object a command prints with --json: w writes it
 * to stdout. */
void json_begin(struct jw *w);
/* Ends that object and the line, and flushes stdout. */
void json_end(struct jw *w);

/* Parses a whole decimal number (no sign, no spaces); 0 or -1. */
int parse_u64(const char *s, uint64_t *out);

/* Appends one --env argument (NAME=value, NAME not empty) to env, which
 * holds *n of at most max; 0, or a usage error's exit code. */
int parse_env(const char *arg, const char **env, size_t *n, size_t max);

/* Reads all of f into a malloc'd, NUL-terminated buffer. Fails with
 * errno = EFBIG as soon as more than max bytes arrive. */
int read_all(FILE *f, size_t max, char **out, size_t *len);

/* What exec and start run, from the words after the session id:
 * "--sh LINE" (line: one `sh -c` line) or "[--] CMD ARG..." (argv, argc:
 * words run without a shell; they point into the command's argv). */
struct cli_command {
	const char *line;
	const char *const *argv;
	size_t argc;
};

/* Parses argv[optind...] into *cmd; 0, or EXIT_USAGE (said why). */
int cli_command(int argc, char **argv, struct cli_command *cmd);
/* cmd as the server shows it in ProcessInfo.command and "started:"
 * events: the line, or the words quoted as a shell would split them back
 * (the server's quoting rules). malloc'd; NULL when out of memory. */
char *cli_command_line(const struct cli_command *cmd);

/* The subcommands. */
int cmd_session(int argc, char **argv);
int cmd_runtime(int argc, char **argv);   /* cmd_runtime.c */
int cmd_snapshot(int argc, char **argv);  /* cmd_snapshot.c */
int cmd_exec(int argc, char **argv);
int cmd_write(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_mkdir(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_mv(int argc, char **argv);
int cmd_edit(int argc, char **argv);
int cmd_glob(int argc, char **argv);
int cmd_grep(int argc, char **argv);
int cmd_upload(int argc, char **argv);
int cmd_download(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_start(int argc, char **argv);     /* cmd_procs.c */
int cmd_ps(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_stdin(int argc, char **argv);
int cmd_output(int argc, char **argv);
int cmd_top(int argc, char **argv);      /* cmd_top.c */
int cmd_shell(int argc, char **argv);    /* cmd_shell.c */
int cmd_attach(int argc, char **argv);
int cmd_watch(int argc, char **argv);    /* cmd_watch.c */

/* sbx_exec with the command's output printed live from the session's log
 * events as it runs (cmd_logs.c); r as sbx_exec, its output already shown. */
sbx_err cli_exec_stream(const char *id, const sbx_exec_opts *o, sbx_exec_result *r);

#endif
