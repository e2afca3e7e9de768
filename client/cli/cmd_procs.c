/*
 * cmd_procs.c — the background process commands: `sbx start` (prints the
 * new process id), `sbx ps` (a session's processes), `sbx wait` (exits
 * with the process's status, 124 when the wait timed out), `sbx kill`
 * (TERM, KILL or INT to one process's tree or to all of them), `sbx stdin`
 * (sends this program's stdin in chunks, optionally closing it after) and
 * `sbx output` (what the process printed since the last read).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx.h"
#include "cli.h"
#include "json_out.h"

#define EXIT_TIMEOUT 124
#define STDIN_CHUNK (1u << 20)      /* bytes per SendStdin */
#define ENV_MAX 256

static const char *
state_name(sbx_process_state s)
{
	switch (s) {
	case SBX_PROCESS_RUNNING: return "running";
	case SBX_PROCESS_EXITED: return "exited";
	case SBX_PROCESS_KILLED: return "killed";
	default: return "unknown";
	}
}

static void
jw_process(struct jw *w, const sbx_process *p)
{
	jw_str(w, "process_id", p->process_id);
	jw_str(w, "command", p->command ? p->command : "");
	jw_str(w, "state", state_name(p->state));
	jw_i64(w, "exit_code", p->exit_code);
	jw_u64(w, "started_unix_ms", p->started_unix_ms);
	jw_u64(w, "ended_unix_ms", p->ended_unix_ms);
	jw_i64(w, "pid", p->pid);
}

int
cmd_start(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cwd", required_argument, NULL, 'c' },
		{ "env", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env[ENV_MAX];
	sbx_process_opts o = { .env = env };
	struct cli_command cmd;
	sbx_process p;
	const char *id;
	sbx_err rv;
	int ch, ret;

	while ((ch = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if (ch == 'c')
			o.cwd = optarg;
		else if (ch != 'e')
			return EXIT_USAGE;
		else if ((ret = parse_env(optarg, env, &o.n_env, ENV_MAX)) != 0)
			return ret;
	}
	if (optind >= argc)
		return usage_error("usage: sbx start [--cwd DIR] [--env K=V]... "
		    "ID -- CMD [ARG]... | ID --sh 'LINE'");
	id = argv[optind++];
	if ((ch = cli_command(argc, argv, &cmd)) != 0)
		return ch;
	o.command = cmd.line;
	o.argv = cmd.argv;
	o.argc = cmd.argc;
	rv = sbx_process_start(cli, id, &o, &p);
	if (rv != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_process(&w, &p);
		json_end(&w);
	} else
		printf("%s\n", p.process_id);
	sbx_process_fini(&p);
	return 0;
}

int
cmd_ps(int argc, char **argv)
{
	sbx_process *v = NULL;
	size_t n = 0;
	sbx_err rv;

	if (argc != 2 || argv[1][0] == '-')
		return usage_error("usage: sbx ps ID");
	if ((rv = sbx_process_list(cli, argv[1], &v, &n)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_arr_begin(&w, "processes");
		for (size_t i = 0; i < n; i++) {
			jw_obj_begin(&w, NULL);
			jw_process(&w, &v[i]);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		json_end(&w);
	} else {
		printf("%-10s %-8s %5s  %s\n", "PROCESS", "STATE", "EXIT", "COMMAND");
		for (size_t i = 0; i < n; i++) {
			char code[16] = "-";

			if (v[i].state != SBX_PROCESS_RUNNING)
				snprintf(code, sizeof(code), "%d", v[i].exit_code);
			printf("%-10s %-8s %5s  %s\n", v[i].process_id,
			    state_name(v[i].state), code, v[i].command);
		}
	}
	sbx_process_list_free(v, n);
	return 0;
}

/* The exit status of a waited-for process, as `sbx exec` gives it. */
static int
wait_status(const sbx_process *p, int timed_out)
{
	if (timed_out)
		return EXIT_TIMEOUT;
	if (p->exit_code < 0 || p->exit_code > 255)
		return 255;
	return p->exit_code;
}

int
cmd_wait(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t timeout = 0;
	sbx_process p;
	int ch, to = 0, ret;
	sbx_err rv;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (ch != 't' || parse_u64(optarg, &timeout) != 0)
			return ch == 't' ? usage_error("--timeout wants milliseconds") :
			    EXIT_USAGE;
	if (optind != argc - 2)
		return usage_error("usage: sbx wait [--timeout MS] ID PROCESS");
	rv = sbx_process_wait(cli, argv[optind], argv[optind + 1], timeout, &p, &to);
	if (rv != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_process(&w, &p);
		jw_bool(&w, "timed_out", to);
		json_end(&w);
	} else if (to)
		fprintf(stderr, "sbx: %s is still running\n", p.process_id);
	else
		fprintf(stderr, "sbx: %s %s (exit code %d)\n", p.process_id,
		    state_name(p.state), p.exit_code);
	ret = wait_status(&p, to);
	sbx_process_fini(&p);
	return ret;
}

static int
parse_signal(const char *s, sbx_signal *out)
{
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	if (strcmp(s, "TERM") == 0 || strcmp(s, "15") == 0)
		*out = SBX_SIGNAL_TERM;
	else if (strcmp(s, "KILL") == 0 || strcmp(s, "9") == 0)
		*out = SBX_SIGNAL_KILL;
	else if (strcmp(s, "INT") == 0 || strcmp(s, "2") == 0)
		*out = SBX_SIGNAL_INT;
	else
		return -1;
	return 0;
}

int
cmd_kill(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "signal", required_argument, NULL, 's' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	sbx_signal sig = SBX_SIGNAL_TERM;
	unsigned hit = 0;
	int ch, all = 0;
	sbx_err rv;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 's' && parse_signal(optarg, &sig) != 0)
			return usage_error("--signal wants TERM, KILL or INT");
		if (ch == 'a')
			all = 1;
		else if (ch != 's')
			return EXIT_USAGE;
	}
	if (optind != argc - 2 + all)
		return usage_error("usage: sbx kill [--signal TERM|KILL|INT] ID PROCESS\n"
		    "       sbx kill [--signal TERM|KILL|INT] --all ID");
	rv = sbx_process_signal(cli, argv[optind], all ? NULL : argv[optind + 1],
	    sig, &hit);
	if (rv != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_u64(&w, "signalled", hit);
		json_end(&w);
	} else if (hit == 0)
		fprintf(stderr, "sbx: no process was signalled\n");
	return 0;
}

int
cmd_stdin(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "close", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *id, *pid;
	int close_after = 0, ret = 0;
	char *buf;
	size_t n;
	sbx_err rv = SBX_OK;

	if ((ret = parse_one_flag(argc, argv, "", lo, &close_after)) != 0)
		return ret;
	if (optind != argc - 2)
		return usage_error("usage: sbx stdin [--close] ID PROCESS < input");
	id = argv[optind];
	pid = argv[optind + 1];
	if ((buf = malloc(STDIN_CHUNK)) == NULL)
		return out_of_memory();
	while (rv == SBX_OK && (n = fread(buf, 1, STDIN_CHUNK, stdin)) > 0)
		rv = sbx_process_send_stdin(cli, id, pid, buf, n);
	free(buf);
	if (rv == SBX_OK && ferror(stdin)) {
		perror("sbx: reading stdin");
		return EXIT_FAIL;
	}
	if (rv == SBX_OK && close_after)
		rv = sbx_process_close_stdin(cli, id, pid);
	return rv == SBX_OK ? 0 : fail_call(rv);
}

int
cmd_output(int argc, char **argv)
{
	sbx_process p;
	sbx_bytes out;
	sbx_err rv;

	if (argc != 3 || argv[1][0] == '-')
		return usage_error("usage: sbx output ID PROCESS");
	if ((rv = sbx_process_read_output(cli, argv[1], argv[2], &out, &p)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_process(&w, &p);
		jw_bytes(&w, "output", out.data, out.len);
		json_end(&w);
	} else {
		fwrite(out.data, 1, out.len, stdout);
		fflush(stdout);
	}
	sbx_free(out.data);
	sbx_process_fini(&p);
	return 0;
}
