/*
 * sbx.c — the `sbx` command-line client, a thin shell over libsbx: main,
 * the global flags and the service key, the usage text, the command
 * table, and the helpers the commands share (error reports, flag and
 * number parsing, bounded reads, the frame of the JSON object). The
 * commands live in cmd_session.c, cmd_sandbox.c and cmd_files.c.
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
#include <unistd.h>

#include "sbx.h"
#include "cli.h"
#include "json_out.h"

#define KEY_FILE_MAX 4096
#define DEFAULT_KEY_FILE "/var/lib/sbx/service.key"

struct globals {
	const char *endpoint;
	const char *key;
	const char *key_file;
	const char *token;
	const char *tls_ca;
	int timeout_ms;
	char *key_buf;              /* key read from a file */
};

sbx_client *cli;
int cli_json;

static struct globals g;

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
"  session create --user U [--runtime R] [--isolation runc|gvisor] [--label k=v]...\n"
"                 [--from SNAPSHOT] [--allow DOMAIN]...\n"
"                    prints the session id; the session token is returned\n"
"                    only once, so use --json to keep it. --allow: egress to\n"
"                    DOMAIN (pypi.org, *.example.com, host:port) through the\n"
"                    proxy; without it the session has no network\n"
"  session list [--user U] [--all]      --all includes ended sessions; the\n"
"                    last column is the egress allowlist (none: no network)\n"
"  session get ID\n"
"  session end ID [--purge]             --purge deletes the workspace too\n"
"  session rotate-token ID [--revoke]   prints the new session token\n"
"  session cleanup [--max-idle MS] [--label k=v]... [--user U]...\n"
"                    stops idle sessions, prints their ids; only those with\n"
"                    every --label and, with --user, of one of those users\n"
"  session egress ID [DOMAIN]...        replaces the session's egress allowlist\n"
"                    live (no DOMAIN: nothing allowed)\n"
"  session restore ID SNAPSHOT          back to a snapshot: processes end,\n"
"                    workspace and container as the snapshot has them\n"
"  snapshot create SESSION [--name N] [--label k=v]...   prints its id\n"
"  snapshot list [--user U] [--session S] | show ID | rm ID...\n"
"  runtime list | show NAME           the server's runtimes and whether built\n"
"  runtime create NAME [--base RUNTIME|IMAGE] [--apt PKG]... [--pip PKG]...\n"
"       [--npm PKG]... [--setup CMD]... [--env K=V]... [--workdir DIR]\n"
"                    builds a custom runtime on the server (waits up to 30\n"
"                    minutes); prints its image, the build log on stderr\n"
"  runtime build NAME                 how to build a runtime's image\n"
"  exec [--timeout MS] [--cwd DIR] [--env K=V]... [--max-output BYTES]\n"
"       [--stdin] [--stream|--no-stream] ID -- CMD [ARG]...\n"
"  exec [flags] ID --sh 'LINE'\n"
"                    runs CMD with exactly these ARGs, no shell (as docker\n"
"                    exec: `-- python3 -c 'print(1+1)'`), or with --sh one\n"
"                    shell line by `sh -c` (pipes, $VARS, globs, &&); prints\n"
"                    its stdout and stderr raw and exits with its status\n"
"                    (124 on timeout, 126 or 127 when there is no such\n"
"                    program); --stdin sends stdin; --stream prints the\n"
"                    output live as it comes (the default on a terminal)\n"
"  write [--append] ID PATH             content from stdin (at most 64 MiB)\n"
"  read ID PATH [--offset N] [--limit N]  numbered lines (offset 0-based)\n"
"  cat ID PATH                          raw bytes\n"
"  ls ID [PATH]                         directories first; PATH default /workspace\n"
"  stat ID PATH                         exits 1 when PATH does not exist\n"
"  mkdir [-p] ID PATH                   -p: parents too, no error if it exists\n"
"  rm [-r] ID PATH                      -r: a directory and all under it\n"
"  mv [--overwrite] ID FROM TO\n"
"  edit [--all] ID PATH OLD NEW         replaces OLD (which must occur once,\n"
"                    or any number of times with --all); prints the count\n"
"  glob [--newest] [--max N] ID PATTERN [PATH]\n"
"                    files only; * stays within a directory, ** crosses them\n"
"  grep [-i] [-l|-c] [--glob G] [--max N] [--hidden] ID PATTERN [PATH]\n"
"                    Perl-compatible regex; prints path:line:text, or file\n"
"                    names (-l), or path:count (-c)\n"
"  upload ID LOCAL PATH                 LOCAL must be a regular file\n"
"  download ID PATH LOCAL               LOCAL - is stdout; a directory LOCAL\n"
"                    gets the file's name; SHA-256 checked before it is saved\n"
"                    (upload and download show progress when stderr is a tty)\n"
"  logs [-f] [--after N] ID             the session's output and lifecycle\n"
"                    events (its last 1000, kept by the server); -f follows\n"
"                    them live; --after N starts after event N\n"
"  start [--cwd DIR] [--env K=V]... ID -- CMD [ARG]... | ID --sh 'LINE'\n"
"                    starts a background process (words or a shell line,\n"
"                    as exec); prints its id\n"
"  ps ID                                the session's processes\n"
"  wait [--timeout MS] ID PROCESS       exits with its status (124: still\n"
"                    running when the timeout passed; default: until it ends)\n"
"  kill [--signal TERM|KILL|INT] ID PROCESS | --all ID\n"
"                    signals the process's whole tree (default TERM)\n"
"  stdin [--close] ID PROCESS           sends stdin to it; --close: then EOF\n"
"  output ID PROCESS                    what it printed since the last read\n"
"  shell [--cwd DIR] [--env K=V]... ID [-- CMD [ARG]...]\n"
"                    a terminal in the sandbox (its user's login shell, or\n"
"                    CMD), here: raw mode, window size followed; Ctrl-]\n"
"                    detaches (the terminal goes on); exits with its status\n"
"  attach [--read-only] ID TERMINAL     back to a terminal (its screen is\n"
"                    replayed); --read-only: watch, never type\n"
"  watch [-r] [--glob G]... ID [PATH]   a directory's changes, live (PATH\n"
"                    default /workspace; -r: subdirectories too): created,\n"
"                    modified, deleted, moved, or rescan when events were\n"
"                    lost; Ctrl-C ends the watch\n"
"  top [--metrics URL] [--once]         live RPC rates, p50/p99, sessions and\n"
"                    workers from sbxd's /metrics (default\n"
"                    http://127.0.0.1:7412/metrics); --once: one frame of\n"
"                    the totals since sbxd started\n"
"  version | help\n"
"\n"
"exit status: 0 ok, 1 error (\"sbx: CODE: message\" on stderr), 2 usage.\n"
"JSON strings: bytes that are not UTF-8 are written as \\u00XX and the exact\n"
"bytes are added in base64 as \"<field>_base64\".\n";

/* ---------------------------------------------------------------- helpers */

int
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

int
out_of_memory(void)
{
	fputs("sbx: out of memory\n", stderr);
	return EXIT_FAIL;
}

int
fail_call(sbx_err rv)
{
	const char *msg = sbx_last_error(cli);

	fprintf(stderr, "sbx: %s: %s\n", sbx_err_name(rv),
	    *msg ? msg : "(no message)");
	return EXIT_FAIL;
}

int
parse_one_flag(int argc, char **argv, const char *shortopt,
    const struct option *lo, int *flag)
{
	int ch;

	while ((ch = getopt_long(argc, argv, shortopt, lo, NULL)) != -1) {
		if (ch == '?')
			return EXIT_USAGE;
		*flag = 1;
	}
	return 0;
}

void
json_begin(struct jw *w)
{
	jw_init(w, stdout);
	jw_obj_begin(w, NULL);
}

void
json_end(struct jw *w)
{
	jw_obj_end(w);
	jw_finish(w);
}

int
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

int
parse_env(const char *arg, const char **env, size_t *n, size_t max)
{
	if (strchr(arg, '=') == NULL || *arg == '=')
		return usage_error("--env wants NAME=value");
	if (*n == max)
		return usage_error("at most %zu --env", max);
	env[(*n)++] = arg;
	return 0;
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
int
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

int
cli_command(int argc, char **argv, struct cli_command *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	if (optind < argc && strcmp(argv[optind], "--sh") == 0) {
		if (argc - optind != 2 || argv[optind + 1][0] == '\0')
			return usage_error("--sh takes exactly one shell line (quote "
			    "it for your own shell: --sh 'echo $HOME | wc -c')");
		cmd->line = argv[optind + 1];
		return 0;
	}
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc)
		return usage_error("no command after the session id: give "
		    "-- CMD ARGS... or --sh 'LINE'");
	if (argv[optind][0] == '\0')
		return usage_error("the program to run (the first word after "
		    "the session id) is empty");
	cmd->argv = (const char *const *)argv + optind;
	cmd->argc = (size_t)(argc - optind);
	return 0;
}

/* 1 when a shell reads word w as itself (as the server's quoting). */
static int
shell_plain(const char *w)
{
	return *w != '\0' && strspn(w, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=/.,:@%") == strlen(w);
}

char *
cli_command_line(const struct cli_command *cmd)
{
	size_t cap = 1, len = 0;
	char *line;

	if (cmd->line != NULL)
		return strdup(cmd->line);
	for (size_t i = 0; i < cmd->argc; i++)
		cap += 4 * strlen(cmd->argv[i]) + 3;
	if ((line = malloc(cap)) == NULL)
		return NULL;
	for (size_t i = 0; i < cmd->argc; i++) {
		const char *w = cmd->argv[i];

		if (i > 0)
			line[len++] = ' ';
		if (shell_plain(w)) {
			len = (size_t)(stpcpy(line + len, w) - line);
			continue;
		}
		line[len++] = '\'';
		for (; *w; w++)
			if (*w == '\'')
				len = (size_t)(stpcpy(line + len, "'\\''") - line);
			else
				line[len++] = *w;
		line[len++] = '\'';
	}
	line[len] = '\0';
	return line;
}

/* ---------------------------------------------------------------- version */

static int
cmd_version(int argc, char **argv)
{
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_str(&w, "version", SBX_VERSION_STRING);
		jw_str(&w, "libsbx", sbx_version());
		json_end(&w);
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
		case 'j': cli_json = 1; break;
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
	{ "runtime", cmd_runtime, 1 },
	{ "snapshot", cmd_snapshot, 1 },
	{ "exec", cmd_exec, 1 },
	{ "write", cmd_write, 1 },
	{ "read", cmd_read, 1 },
	{ "cat", cmd_cat, 1 },
	{ "ls", cmd_ls, 1 },
	{ "stat", cmd_stat, 1 },
	{ "mkdir", cmd_mkdir, 1 },
	{ "rm", cmd_rm, 1 },
	{ "mv", cmd_mv, 1 },
	{ "edit", cmd_edit, 1 },
	{ "glob", cmd_glob, 1 },
	{ "grep", cmd_grep, 1 },
	{ "upload", cmd_upload, 1 },
	{ "download", cmd_download, 1 },
	{ "logs", cmd_logs, 1 },
	{ "start", cmd_start, 1 },
	{ "ps", cmd_ps, 1 },
	{ "wait", cmd_wait, 1 },
	{ "kill", cmd_kill, 1 },
	{ "stdin", cmd_stdin, 1 },
	{ "output", cmd_output, 1 },
	{ "top", cmd_top, 0 },
	{ "shell", cmd_shell, 1 },
	{ "attach", cmd_attach, 1 },
	{ "watch", cmd_watch, 1 },
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
