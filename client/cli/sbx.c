/*
 * sbx.c — the `sbx` command-line client, a thin shell over libsbx.
 *
 * Global flags come before the subcommand and fall back to environment
 * variables; each subcommand parses its own flags, makes its calls, and
 * prints either plain text or, with --json, exactly one JSON object on
 * stdout. Failures print "sbx: <CODE>: <message>" on stderr and exit 1;
 * usage errors exit 2; `sbx exec` exits with the command's own status
 * (124 on timeout). Everything read from outside (stdin, key files) is
 * read under a fixed ceiling.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sbx.h"
#include "json_out.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_TIMEOUT 124
#define STDIN_MAX (64u << 20)       /* write and exec --stdin */
#define CAT_CHUNK (4u << 20)        /* bytes per ReadBytes call */
#define CAT_JSON_MAX (64u << 20)    /* cat --json holds the file in memory */
#define KEY_FILE_MAX 4096
#define DEFAULT_KEY_FILE "/var/lib/sbx/service.key"

struct globals {
	const char *endpoint;
	const char *key;
	const char *key_file;
	const char *token;
	const char *tls_ca;
	int json;
	int timeout_ms;
	char *key_buf;              /* key read from a file */
};

static struct globals g;
static sbx_client *cli;

static const char usage_text[] =
"usage: sbx [global flags] COMMAND [flags] [args]\n"
"\n"
"global flags (before COMMAND):\n"
"  --endpoint URL    server (env SBX_ENDPOINT; default " SBX_DEFAULT_ENDPOINT ")\n"
"  --key KEY         service key (env SBX_SERVICE_KEY; visible in ps: prefer\n"
"                    the environment or a key file)\n"
"  --key-file FILE   read the service key from FILE (env SBX_KEY_FILE; default\n"
"                    " DEFAULT_KEY_FILE " when readable and no key or token given)\n"
"  --token TOKEN     session token (env SBX_SESSION_TOKEN)\n"
"  --tls-ca FILE     CA certificate for tls+tcp:// endpoints (env SBX_TLS_CA)\n"
"  --timeout MS      per-call timeout (default 600000)\n"
"  --json            print one JSON object per command on stdout\n"
"\n"
"commands:\n"
"  session create --user U [--runtime R] [--label k=v]...\n"
"                    prints the session id; the session token is returned\n"
"                    only once, so use --json to keep it\n"
"  session list [--user U] [--all]      --all includes ended sessions\n"
"  session get ID\n"
"  session end ID [--purge]             --purge deletes the workspace too\n"
"  exec [--timeout MS] [--cwd DIR] [--env K=V]... [--max-output BYTES]\n"
"       [--stdin] ID -- CMD...\n"
"                    runs the CMD words joined with single spaces as one\n"
"                    `sh -c` command line (quote for the remote shell, not\n"
"                    for yours); prints its stdout and stderr raw and exits\n"
"                    with its status (124 on timeout); --stdin sends stdin\n"
"  write [--append] ID PATH             content from stdin (at most 64 MiB)\n"
"  read ID PATH [--offset N] [--limit N]  numbered lines (offset 0-based)\n"
"  cat ID PATH                          raw bytes\n"
"  version | help\n"
"\n"
"exit status: 0 ok, 1 error (\"sbx: CODE: message\" on stderr), 2 usage.\n"
"JSON strings: bytes that are not UTF-8 are written as \\u00XX and the exact\n"
"bytes are added in base64 as \"<field>_base64\".\n";

/* ---------------------------------------------------------------- helpers */

__attribute__((format(printf, 1, 2))) static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sbx: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see sbx help)\n", stderr);
	return EXIT_USAGE;
}

static int
out_of_memory(void)
{
	fputs("sbx: out of memory\n", stderr);
	return EXIT_FAIL;
}

static int
fail_call(sbx_err rv)
{
	const char *msg = sbx_last_error(cli);

	fprintf(stderr, "sbx: %s: %s\n", sbx_err_name(rv),
	    *msg ? msg : "(no message)");
	return EXIT_FAIL;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

static int
parse_ms(const char *s, int *out)
{
	uint64_t v;

	if (parse_u64(s, &v) != 0 || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

/* Reads all of f into a malloc'd, NUL-terminated buffer. Fails with
 * errno = EFBIG as soon as more than max bytes arrive. */
static int
read_all(FILE *f, size_t max, char **out, size_t *len)
{
	size_t cap = 0, n = 0, got;
	char *buf = NULL, *nb;
	int err = 0;

	while (err == 0) {
		if (n == cap && cap > max) {
			err = EFBIG;
		} else if (n == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if (cap > max + 1)
				cap = max + 1;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				err = ENOMEM;
			buf = nb ? nb : buf;
		} else if ((got = fread(buf + n, 1, cap - n, f)) > 0) {
			n += got;
		} else {
			break;
		}
	}
	if (err == 0 && ferror(f))
		err = EIO;
	if (err != 0) {
		free(buf);
		errno = err;
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

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

static void
fmt_time(uint64_t unix_ms, char *buf, size_t n)
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (unix_ms == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, n, "-");
	else
		strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---------------------------------------------------------------- sessions */

static void
json_session(struct jw *w, const char *key, const sbx_session *s)
{
	jw_obj_begin(w, key);
	jw_str(w, "session_id", s->session_id);
	jw_str(w, "user_id", s->user_id);
	jw_str(w, "runtime", s->runtime);
	jw_str(w, "state", sbx_session_state_name(s->state));
	jw_str(w, "container_id", s->container_id);
	jw_str(w, "workspace_path", s->workspace_path);
	jw_u64(w, "created_unix_ms", s->created_unix_ms);
	jw_u64(w, "last_active_unix_ms", s->last_active_unix_ms);
	jw_u64(w, "idle_timeout_ms", s->idle_timeout_ms);
	jw_obj_begin(w, "limits");
	jw_u64(w, "memory_bytes", s->limits.memory_bytes);
	jw_u64(w, "nano_cpus", s->limits.nano_cpus);
	jw_i64(w, "pids", s->limits.pids);
	jw_u64(w, "exec_timeout_ms", s->limits.exec_timeout_ms);
	jw_obj_end(w);
	jw_obj_begin(w, "usage");
	jw_u64(w, "memory_bytes", s->usage.memory_bytes);
	jw_u64(w, "memory_limit_bytes", s->usage.memory_limit_bytes);
	jw_double(w, "cpu_percent", s->usage.cpu_percent);
	jw_u64(w, "pids", s->usage.pids);
	jw_obj_end(w);
	jw_obj_begin(w, "labels");
	for (size_t i = 0; i < s->n_labels; i++)
		jw_str(w, s->labels[i].key, s->labels[i].value);
	jw_obj_end(w);
	jw_str(w, "stop_reason", s->stop_reason);
	jw_obj_end(w);
}

static void
print_session(const sbx_session *s)
{
	char created[32], active[32];

	fmt_time(s->created_unix_ms, created, sizeof(created));
	fmt_time(s->last_active_unix_ms, active, sizeof(active));
	printf("session_id      %s\nuser_id         %s\nruntime         %s\n"
	    "state           %s\ncontainer_id    %s\nworkspace_path  %s\n"
	    "created         %s\nlast_active     %s\nidle_timeout_ms %llu\n",
	    s->session_id, s->user_id, s->runtime,
	    sbx_session_state_name(s->state), s->container_id,
	    s->workspace_path, created, active,
	    (unsigned long long)s->idle_timeout_ms);
	printf("limits          memory_bytes=%llu nano_cpus=%llu pids=%lld "
	    "exec_timeout_ms=%llu\n", (unsigned long long)s->limits.memory_bytes,
	    (unsigned long long)s->limits.nano_cpus, (long long)s->limits.pids,
	    (unsigned long long)s->limits.exec_timeout_ms);
	printf("labels         ");
	for (size_t i = 0; i < s->n_labels; i++)
		printf(" %s=%s", s->labels[i].key, s->labels[i].value);
	printf("\nstop_reason     %s\n", *s->stop_reason ? s->stop_reason : "-");
}

/* Splits "k=v" in place into a label. */
static int
parse_label(char *arg, sbx_label *l)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg)
		return -1;
	*eq = '\0';
	l->key = arg;
	l->value = eq + 1;
	return 0;
}

static int
cmd_session_create(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "runtime", required_argument, NULL, 'r' },
		{ "label", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	sbx_session_create_opts o = { 0 };
	sbx_label labels[64];
	sbx_session s;
	char *token = NULL;
	sbx_err rv;
	int ch;

	o.labels = labels;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o.user_id = optarg; break;
		case 'r': o.runtime = optarg; break;
		case 'l':
			if (o.n_labels == 64)
				return usage_error("at most 64 labels");
			if (parse_label(optarg, &labels[o.n_labels++]) != 0)
				return usage_error("--label wants KEY=VALUE");
			break;
		default: return EXIT_USAGE;
		}
	}
	if (o.user_id == NULL || optind != argc)
		return usage_error("usage: sbx session create --user U [--runtime R] [--label k=v]...");
	if ((rv = sbx_session_create(cli, &o, &s, &token)) != SBX_OK)
		return fail_call(rv);
	if (g.json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		json_session(&w, "session", &s);
		jw_str(&w, "session_token", token);
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		printf("%s\n", s.session_id);
	}
	sbx_free(token);
	sbx_session_fini(&s);
	return 0;
}

/* Prints every page; JSON is one object holding them all. */
static int
list_pages(sbx_session_list_opts *o, struct jw *w)
{
	sbx_session *v;
	size_t n;
	char *next = NULL;
	sbx_err rv;

	do {
		rv = sbx_session_list(cli, o, &v, &n, &next);
		sbx_free((char *)o->page_token);
		o->page_token = next;
		if (rv != SBX_OK)
			return fail_call(rv);
		for (size_t i = 0; i < n; i++) {
			if (g.json)
				json_session(w, NULL, &v[i]);
			else
				printf("%-36s %-24s %-12s %s\n", v[i].session_id,
				    v[i].user_id, v[i].runtime,
				    sbx_session_state_name(v[i].state));
		}
		sbx_session_list_free(v, n);
	} while (next != NULL);
	return 0;
}

static int
cmd_session_list(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	sbx_session_list_opts o = { .page_size = 1000 };
	struct jw w;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int ch, ret;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'u')
			o.user_id = optarg;
		else if (ch == 'a')
			o.include_ended = 1;
		else
			return EXIT_USAGE;
	}
	if (optind != argc)
		return usage_error("usage: sbx session list [--user U] [--all]");
	if (!g.json)
		return list_pages(&o, NULL);
	/* pages arrive one by one: print the object only once all are in */
	if ((mem = open_memstream(&buf, &len)) == NULL)
		return out_of_memory();
	jw_init(&w, mem);
	jw_obj_begin(&w, NULL);
	jw_arr_begin(&w, "sessions");
	if ((ret = list_pages(&o, &w)) == 0) {
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	}
	fclose(mem);
	if (ret == 0)
		fwrite(buf, 1, len, stdout);
	free(buf);
	return ret;
}

static int
cmd_session_get(int argc, char **argv)
{
	sbx_session s;
	sbx_err rv;

	if (argc != 2)
		return usage_error("usage: sbx session get ID");
	if ((rv = sbx_session_get(cli, argv[1], &s)) != SBX_OK)
		return fail_call(rv);
	if (g.json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		json_session(&w, "session", &s);
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		print_session(&s);
	}
	sbx_session_fini(&s);
	return 0;
}

static int
cmd_session_end(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "purge", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, purge = 0;
	sbx_err rv;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch != 'p')
			return EXIT_USAGE;
		purge = 1;
	}
	if (optind != argc - 1)
		return usage_error("usage: sbx session end ID [--purge]");
	if ((rv = sbx_session_end(cli, argv[optind], purge)) != SBX_OK)
		return fail_call(rv);
	if (g.json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "session_id", argv[optind]);
		jw_bool(&w, "ended", 1);
		jw_bool(&w, "purged", purge);
		jw_obj_end(&w);
		jw_finish(&w);
	}
	return 0;
}

static int
cmd_session(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("usage: sbx session create|list|get|end ...");
	argc--;
	argv++;
	if (strcmp(argv[0], "create") == 0)
		return cmd_session_create(argc, argv);
	if (strcmp(argv[0], "list") == 0)
		return cmd_session_list(argc, argv);
	if (strcmp(argv[0], "get") == 0)
		return cmd_session_get(argc, argv);
	if (strcmp(argv[0], "end") == 0)
		return cmd_session_end(argc, argv);
	return usage_error("unknown session command \"%s\"", argv[0]);
}

/* ---------------------------------------------------------------- sandbox */

/* Joins words with single spaces into a new string. */
static char *
join_words(int n, char **words)
{
	size_t len = 1;
	char *s, *p;

	for (int i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	if ((p = s = malloc(len)) == NULL)
		return NULL;
	for (int i = 0; i < n; i++) {
		p = stpcpy(p, words[i]);
		if (i + 1 < n)
			*p++ = ' ';
	}
	*p = '\0';
	return s;
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
	if (g.json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_i64(&w, "exit_code", r->exit_code);
		jw_bytes(&w, "stdout", r->out.data, r->out.len);
		jw_bytes(&w, "stderr", r->err.data, r->err.len);
		jw_bool(&w, "truncated", r->truncated);
		jw_bool(&w, "timed_out", r->timed_out);
		jw_u64(&w, "duration_ms", r->duration_ms);
		jw_obj_end(&w);
		jw_finish(&w);
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
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if (ch == 't' && parse_u64(optarg, &a->o.timeout_ms) != 0)
			return usage_error("--timeout wants milliseconds");
		if (ch == 'm' && parse_u64(optarg, &a->o.max_output_bytes) != 0)
			return usage_error("--max-output wants a byte count");
		if (ch == 'e' && (strchr(optarg, '=') == NULL || *optarg == '='))
			return usage_error("--env wants NAME=value");
		if (ch == 'e' && a->o.n_env == 256)
			return usage_error("at most 256 --env");
		if (ch == 'e')
			a->env[a->o.n_env++] = optarg;
		else if (ch == 'c')
			a->o.cwd = optarg;
		else if (ch == 'i')
			a->want_stdin = 1;
		else if (ch == '?')
			return EXIT_USAGE;
	}
	return 0;
}

static int
cmd_exec(int argc, char **argv)
{
	struct exec_args a = { .o = { 0 } };
	sbx_exec_result r;
	char *cmd = NULL, *in = NULL;
	const char *id;
	size_t in_len = 0;
	sbx_err rv;
	int ret;

	if ((ret = exec_flags(argc, argv, &a)) != 0)
		return ret;
	if (optind >= argc)
		return usage_error("usage: sbx exec [flags] ID -- CMD...");
	id = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc)
		return usage_error("exec: no command after the session id");
	if (a.want_stdin && read_stdin(&in, &in_len) != 0)
		return EXIT_FAIL;
	if ((cmd = join_words(argc - optind, argv + optind)) == NULL) {
		free(in);
		return out_of_memory();
	}
	a.o.command = cmd;
	a.o.env = a.env;
	a.o.stdin_data = in;
	a.o.stdin_len = in_len;
	rv = sbx_exec(cli, id, &a.o, &r);
	free(cmd);
	free(in);
	if (rv != SBX_OK)
		return fail_call(rv);
	exec_print(&r);
	ret = exec_status(&r);
	sbx_exec_result_fini(&r);
	return ret;
}

static int
cmd_write(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "append", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, append = 0;
	char *data;
	size_t len;
	sbx_err rv;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch != 'a')
			return EXIT_USAGE;
		append = 1;
	}
	if (optind != argc - 2)
		return usage_error("usage: sbx write [--append] ID PATH < content");
	if (read_stdin(&data, &len) != 0)
		return EXIT_FAIL;
	rv = sbx_write(cli, argv[optind], argv[optind + 1], data, len, append);
	free(data);
	if (rv != SBX_OK)
		return fail_call(rv);
	if (g.json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "path", argv[optind + 1]);
		jw_u64(&w, "bytes", len);
		jw_bool(&w, "append", append);
		jw_obj_end(&w);
		jw_finish(&w);
	}
	return 0;
}

static int
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
	if (g.json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "path", argv[optind + 1]);
		jw_bytes(&w, "content", text, strlen(text));
		jw_obj_end(&w);
		jw_finish(&w);
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

static int
cmd_cat(int argc, char **argv)
{
	char *all = NULL;
	size_t all_len = 0;
	struct jw w;
	int ret;

	if (argc != 3)
		return usage_error("usage: sbx cat ID PATH");
	if ((ret = cat_loop(argv[1], argv[2], g.json ? &all : NULL, &all_len)) != 0 ||
	    !g.json) {
		free(all);
		return ret;
	}
	jw_init(&w, stdout);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "path", argv[2]);
	jw_u64(&w, "size", all_len);
	jw_bytes(&w, "data", all ? all : "", all_len);
	jw_obj_end(&w);
	jw_finish(&w);
	free(all);
	return 0;
}

static int
cmd_version(int argc, char **argv)
{
	if (g.json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "version", SBX_VERSION_STRING);
		jw_str(&w, "libsbx", sbx_version());
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		printf("sbx %s (libsbx %s)\n", SBX_VERSION_STRING, sbx_version());
	}
	return 0;
}

/* ---------------------------------------------------------------- main */

/* Reads a key file: the first line, without trailing whitespace. */
static int
load_key_file(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t len;

	if (f == NULL || read_all(f, KEY_FILE_MAX, &g.key_buf, &len) != 0) {
		fprintf(stderr, "sbx: cannot read key file %s: %s\n", path,
		    errno == EFBIG ? "larger than 4 KiB" : strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	g.key_buf[strcspn(g.key_buf, "\r\n")] = '\0';
	while (len > 0 && (g.key_buf[len - 1] == ' ' || g.key_buf[len - 1] == '\t' ||
	    g.key_buf[len - 1] == '\0'))
		g.key_buf[--len] = '\0';
	g.key = g.key_buf;
	return 0;
}

static int
parse_globals(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "endpoint", required_argument, NULL, 'E' },
		{ "key", required_argument, NULL, 'k' },
		{ "key-file", required_argument, NULL, 'K' },
		{ "token", required_argument, NULL, 'T' },
		{ "tls-ca", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	g.endpoint = getenv("SBX_ENDPOINT");
	g.key = getenv("SBX_SERVICE_KEY");
	g.key_file = getenv("SBX_KEY_FILE");
	g.token = getenv("SBX_SESSION_TOKEN");
	g.tls_ca = getenv("SBX_TLS_CA");
	while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (ch) {
		case 'E': g.endpoint = optarg; break;
		case 'k': g.key = optarg; break;
		case 'K': g.key_file = optarg; break;
		case 'T': g.token = optarg; break;
		case 'C': g.tls_ca = optarg; break;
		case 'j': g.json = 1; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 't':
			if (parse_ms(optarg, &g.timeout_ms) != 0 || g.timeout_ms == 0)
				return usage_error("--timeout wants milliseconds > 0");
			break;
		default: return EXIT_USAGE;
		}
	}
	return 0;
}

/* Key precedence: --key/SBX_SERVICE_KEY, then --key-file/SBX_KEY_FILE,
 * then the default file when no key and no token were given. */
static int
resolve_key(void)
{
	if (g.key != NULL && *g.key != '\0')
		return 0;
	g.key = NULL;
	if (g.key_file != NULL && *g.key_file != '\0')
		return load_key_file(g.key_file);
	if ((g.token == NULL || *g.token == '\0') &&
	    access(DEFAULT_KEY_FILE, R_OK) == 0)
		return load_key_file(DEFAULT_KEY_FILE);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	int needs_client;
} commands[] = {
	{ "session", cmd_session, 1 },
	{ "exec", cmd_exec, 1 },
	{ "write", cmd_write, 1 },
	{ "read", cmd_read, 1 },
	{ "cat", cmd_cat, 1 },
	{ "version", cmd_version, 0 },
};

static int
run(int argc, char **argv, int needs_client, int (*fn)(int, char **))
{
	sbx_options o = { 0 };
	sbx_err rv;
	int ret;

	if (needs_client && resolve_key() != 0)
		return EXIT_FAIL;
	o.endpoint = g.endpoint;
	o.service_key = g.key;
	o.session_token = g.token;
	o.timeout_ms = g.timeout_ms;
	o.tls_ca_file = g.tls_ca;
	if (needs_client && (rv = sbx_client_open(&o, &cli)) != SBX_OK)
		return fail_call(rv);
	optind = 0;   /* glibc: reinitialise getopt for the subcommand */
	ret = fn(argc, argv);
	sbx_client_close(cli);
	return ret;
}

int
main(int argc, char **argv)
{
	int ret;

	if ((ret = parse_globals(argc, argv)) != 0)
		return ret;
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return usage_error("no command given");
	if (strcmp(argv[0], "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		ret = run(argc, argv, commands[i].needs_client, commands[i].fn);
		free(g.key_buf);
		return ret;
	}
	return usage_error("unknown command \"%s\"", argv[0]);
}
