/*
 * cmd_sandbox.c — the commands that work inside a session: `sbx exec`
 * (the command's output raw, or as JSON, and its exit status as sbx's),
 * `sbx write` (content from stdin), `sbx read` (numbered lines) and
 * `sbx cat` (raw bytes, fetched in chunks and streamed; with --json
 * collected under a ceiling). stdin is read under STDIN_MAX since it
 * travels in one message.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sbx.h"
#include "cli.h"
#include "json_out.h"

#define EXIT_TIMEOUT 124
#define STDIN_MAX (64u << 20)       /* write and exec --stdin */
#define CAT_CHUNK (4u << 20)        /* bytes per ReadBytes call */
#define CAT_JSON_MAX (64u << 20)    /* cat --json holds the file in memory */

static int
read_stdin(char **data, size_t *len)
{
	if (read_all(stdin, STDIN_MAX, data, len) == 0)
		return 0;
	if (errno == EFBIG)
		fprintf(stderr, "sbx: stdin holds more than %u MiB: this command "
		    "sends it in one message and refuses that much\n", STDIN_MAX >> 20);
	else
		fprintf(stderr, "sbx: reading stdin: %s\n", strerror(errno));
	return -1;
}

static int
exec_status(const sbx_exec_result *r)
{
	if (r->timed_out)
		return EXIT_TIMEOUT;
	if (r->exit_code < 0 || r->exit_code > 255) {
		fprintf(stderr, "sbx: note: exit code %d does not fit an exit "
		    "status; exiting 255\n", r->exit_code);
		return 255;
	}
	return r->exit_code;
}

static void
exec_print(const sbx_exec_result *r)
{
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_i64(&w, "exit_code", r->exit_code);
		jw_bytes(&w, "stdout", r->out.data, r->out.len);
		jw_bytes(&w, "stderr", r->err.data, r->err.len);
		jw_bool(&w, "truncated", r->truncated);
		jw_bool(&w, "timed_out", r->timed_out);
		jw_u64(&w, "duration_ms", r->duration_ms);
		json_end(&w);
		return;
	}
	fwrite(r->out.data, 1, r->out.len, stdout);
	fflush(stdout);
	fwrite(r->err.data, 1, r->err.len, stderr);
	if (r->truncated)
		fprintf(stderr, "sbx: note: output was truncated at the server's "
		    "limit (raise it with --max-output BYTES)\n");
	if (r->timed_out)
		fprintf(stderr, "sbx: note: the command timed out\n");
}

struct exec_args {
	sbx_exec_opts o;
	const char *env[256];
	int want_stdin;
	int stream;                 /* -1 = unset: on when stdout is a tty */
};

static int
exec_flags(int argc, char **argv, struct exec_args *a)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "cwd", required_argument, NULL, 'c' },
		{ "env", required_argument, NULL, 'e' },
		{ "max-output", required_argument, NULL, 'm' },
		{ "stdin", no_argument, NULL, 'i' },
		{ "stream", no_argument, NULL, 's' },
		{ "no-stream", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, ret;

	while ((ch = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if (ch == 't' && parse_u64(optarg, &a->o.timeout_ms) != 0)
			return usage_error("--timeout wants milliseconds");
		if (ch == 'm' && parse_u64(optarg, &a->o.max_output_bytes) != 0)
			return usage_error("--max-output wants a byte count");
		if (ch == 'e') {
			if ((ret = parse_env(optarg, a->env, &a->o.n_env,
			    sizeof(a->env) / sizeof(a->env[0]))) != 0)
				return ret;
		} else if (ch == 'c')
			a->o.cwd = optarg;
		else if (ch == 'i')
			a->want_stdin = 1;
		else if (ch == 's' || ch == 'S')
			a->stream = ch == 's';
		else if (ch == '?')
			return EXIT_USAGE;
	}
	return 0;
}

int
cmd_exec(int argc, char **argv)
{
	struct exec_args a = { .o = { 0 }, .stream = -1 };
	struct cli_command cmd;
	sbx_exec_result r;
	char *in = NULL;
	const char *id;
	size_t in_len = 0;
	sbx_err rv;
	int ret;

	if ((ret = exec_flags(argc, argv, &a)) != 0)
		return ret;
	if (optind >= argc)
		return usage_error("usage: sbx exec [flags] ID -- CMD [ARG]... "
		    "| ID --sh 'LINE'");
	id = argv[optind++];
	if ((ret = cli_command(argc, argv, &cmd)) != 0)
		return ret;
	if (a.want_stdin && read_stdin(&in, &in_len) != 0)
		return EXIT_FAIL;
	a.o.command = cmd.line;
	a.o.argv = cmd.argv;
	a.o.argc = cmd.argc;
	a.o.env = a.env;
	a.o.stdin_data = in;
	a.o.stdin_len = in_len;
	if (a.stream < 0)
		a.stream = !cli_json && isatty(STDOUT_FILENO);
	rv = a.stream && !cli_json ? cli_exec_stream(id, &a.o, &r) : sbx_exec(cli, id, &a.o, &r);
	free(in);
	if (rv != SBX_OK)
		return fail_call(rv);
	if (cmd.argc == 1 && (r.exit_code == 126 || r.exit_code == 127) &&
	    strchr(cmd.argv[0], ' ') != NULL)
		fprintf(stderr, "sbx: note: the words after the session id run as "
		    "they are, without a shell; for a shell line use --sh '%s'\n",
		    cmd.argv[0]);
	if (a.stream && !cli_json) {
		if (r.timed_out)
			fprintf(stderr, "sbx: note: the command timed out\n");
	} else
		exec_print(&r);
	ret = exec_status(&r);
	sbx_exec_result_fini(&r);
	return ret;
}

int
cmd_write(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "append", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	int append = 0, ret;
	char *data;
	size_t len;
	sbx_err rv;

	if ((ret = parse_one_flag(argc, argv, "", lo, &append)) != 0)
		return ret;
	if (optind != argc - 2)
		return usage_error("usage: sbx write [--append] ID PATH < content");
	if (read_stdin(&data, &len) != 0)
		return EXIT_FAIL;
	rv = sbx_write(cli, argv[optind], argv[optind + 1], data, len, append);
	free(data);
	if (rv != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_str(&w, "path", argv[optind + 1]);
		jw_u64(&w, "bytes", len);
		jw_bool(&w, "append", append);
		json_end(&w);
	}
	return 0;
}

int
cmd_read(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "offset", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t offset = 0, limit = 0;
	char *text;
	sbx_err rv;
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'o' && parse_u64(optarg, &offset) != 0)
			return usage_error("--offset wants a line number");
		if (ch == 'l' && parse_u64(optarg, &limit) != 0)
			return usage_error("--limit wants a line count");
		if (ch == '?')
			return EXIT_USAGE;
	}
	if (optind != argc - 2)
		return usage_error("usage: sbx read ID PATH [--offset N] [--limit N]");
	if ((rv = sbx_read(cli, argv[optind], argv[optind + 1], offset, limit,
	    &text)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_str(&w, "path", argv[optind + 1]);
		jw_bytes(&w, "content", text, strlen(text));
		json_end(&w);
	} else {
		fputs(text, stdout);
	}
	sbx_free(text);
	return 0;
}

/* Streams the file to stdout, or collects it for --json. */
static int
cat_loop(const char *id, const char *path, char **all, size_t *all_len)
{
	uint64_t off = 0;
	void *data;
	size_t len;
	char *nb;
	sbx_err rv;

	do {
		if ((rv = sbx_read_bytes(cli, id, path, off, CAT_CHUNK, &data, &len)) != SBX_OK)
			return fail_call(rv);
		off += len;
		if (all == NULL) {
			fwrite(data, 1, len, stdout);
		} else if (*all_len + len > CAT_JSON_MAX ||
		    (nb = realloc(*all, *all_len + len + 1)) == NULL) {
			sbx_free(data);
			fprintf(stderr, "sbx: cat --json holds at most %u MiB\n",
			    CAT_JSON_MAX >> 20);
			return EXIT_FAIL;
		} else {
			memcpy(nb + *all_len, data, len);
			*all = nb;
			*all_len += len;
		}
		sbx_free(data);
	} while (len > 0);
	return 0;
}

int
cmd_cat(int argc, char **argv)
{
	char *all = NULL;
	size_t all_len = 0;
	struct jw w;
	int ret;

	if (argc != 3)
		return usage_error("usage: sbx cat ID PATH");
	if ((ret = cat_loop(argv[1], argv[2], cli_json ? &all : NULL, &all_len)) != 0 ||
	    !cli_json) {
		free(all);
		return ret;
	}
	json_begin(&w);
	jw_str(&w, "path", argv[2]);
	jw_u64(&w, "size", all_len);
	jw_bytes(&w, "data", all ? all : "", all_len);
	json_end(&w);
	free(all);
	return 0;
}

