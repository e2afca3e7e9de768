/*
 * cmd_shell.c — `sbx shell` (a terminal in the sandbox, here) and
 * `sbx attach` (to one already open).
 *
 * The local terminal goes to raw mode while the remote one runs and is
 * restored on every way out: a normal end, the detach key, an error, exit
 * (atexit) and the signals that end a process (their handlers restore it,
 * then die of the same signal). Keystrokes go to the server as they are
 * read (TerminalInput); what the remote terminal shows comes from the
 * session's log stream, followed from the terminal's after_seq on a
 * thread of its own, and is written out raw. A window size change
 * becomes ResizeTerminal: SIGWINCH wakes the loop (through a self-pipe),
 * and the size is compared before any keystrokes are sent, so keys typed
 * after a resize reach a terminal of the new size.
 *
 * The detach key is Ctrl-] (0x1d, as telnet's escape): the CLI stops,
 * the terminal goes on (`sbx attach ID TERM` comes back to it). `sbx
 * attach --read-only` sends no keystrokes but the detach key's effect.
 * `sbx shell` exits with the remote command's status, `sbx attach` too
 * when the terminal ends while attached; a detach exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "sbx.h"

#define DETACH_KEY 0x1d              /* Ctrl-] */
#define ENV_MAX 64
#define READ_CHUNK 4096

/* ---------------------------------------------------------------- the local terminal */

static struct termios saved;
static volatile sig_atomic_t raw_on;
static int winch_pipe[2] = { -1, -1 };

static void
restore_tty(void)
{
	if (raw_on) {
		(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
		raw_on = 0;
	}
}

static void
on_fatal_signal(int sig)
{
	restore_tty();                 /* tcsetattr is async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
on_winch(int sig)
{
	int e = errno;

	(void)sig;
	(void)!write(winch_pipe[1], "", 1);
	errno = e;
}

/* Raw mode on stdin when it is a terminal, restored at exit and on the
 * signals that end a process. 0, or -1 (errno) when it could not be set. */
static int
raw_mode(void)
{
	static const int fatal[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGABRT };
	struct termios t;

	if (!isatty(STDIN_FILENO))
		return 0;
	if (tcgetattr(STDIN_FILENO, &saved) != 0)
		return -1;
	atexit(restore_tty);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], on_fatal_signal);
	t = saved;
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) != 0)   /* keep what was typed ahead */
		return -1;
	raw_on = 1;
	return 0;
}

static void
local_size(uint32_t *cols, uint32_t *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

/* ---------------------------------------------------------------- the output thread */

struct session_io {
	const char *sid;
	const char *tid;
	sbx_logs_sub *sub;
	int wake[2];                 /* the output thread tells the main one: ended */
	atomic_int ended;
	atomic_int stop;
	int exit_code;
};

/* Writes all of p to stdout; -1 when it cannot. */
static int
write_all(const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(STDOUT_FILENO, c, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The terminal's end event: "terminal exited with code N" or "terminal
 * ended: ...". 1 (with *code) when ev is it. */
static int
end_event(const sbx_log_event *ev, int *code)
{
	const char *t = (const char *)ev->data;

	if (strncmp(t, "terminal exited with code ", 26) == 0) {
		*code = atoi(t + 26);
		return 1;
	}
	if (strncmp(t, "terminal ended", 14) == 0) {
		*code = 137;
		return 1;
	}
	return 0;
}

static void *
output_main(void *arg)
{
	struct session_io *io = arg;
	sbx_log_event ev;
	sbx_err rv;

	while (!atomic_load(&io->stop)) {
		if ((rv = sbx_logs_next(io->sub, &ev, 200)) == SBX_DEADLINE_EXCEEDED)
			continue;
		if (rv != SBX_OK)
			break;
		if (strcmp(ev.process_id, io->tid) == 0) {
			if (ev.stream == SBX_STREAM_TERMINAL)
				(void)write_all(ev.data, ev.len);
			else if (ev.stream == SBX_STREAM_SYSTEM && end_event(&ev, &io->exit_code)) {
				sbx_log_event_fini(&ev);
				break;
			}
		}
		sbx_log_event_fini(&ev);
	}
	atomic_store(&io->ended, 1);
	(void)!write(io->wake[1], "", 1);
	return NULL;
}

/* ---------------------------------------------------------------- the loop */

/* Forwards stdin (unless read_only) and size changes until the terminal
 * ends or the detach key comes. *detached says which; 0 or EXIT_FAIL. */
static int
forward(struct session_io *io, int read_only, int *detached)
{
	struct pollfd pfd[3];
	char buf[READ_CHUNK], junk[64];
	int stdin_open = 1;
	uint32_t cols = 0, rows = 0, sent_cols = 0, sent_rows = 0;
	ssize_t n;
	sbx_err rv;

	*detached = 0;
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = io->wake[0], .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = winch_pipe[0], .events = POLLIN };
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return EXIT_FAIL;
		}
		if (pfd[1].revents != 0 || atomic_load(&io->ended))
			return 0;
		if (pfd[2].revents != 0)
			while (read(winch_pipe[0], junk, sizeof(junk)) > 0)
				;
		/* The size is looked at before any keys go, not only on SIGWINCH:
		 * the signal may reach another thread, or come after poll looked
		 * at the pipe, and a resize made before keys were typed must
		 * reach the terminal before them. */
		local_size(&cols, &rows);
		if (!read_only && (cols != sent_cols || rows != sent_rows) &&
		    sbx_terminal_resize(cli, io->sid, io->tid, cols, rows) == SBX_OK) {
			sent_cols = cols;
			sent_rows = rows;
		}
		if (pfd[0].revents == 0)
			continue;
		if ((n = read(STDIN_FILENO, buf, sizeof(buf))) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			stdin_open = 0;    /* not a terminal, and at its end: just watch */
			continue;
		}
		{
			char *k = memchr(buf, DETACH_KEY, (size_t)n);

			if (k != NULL && isatty(STDIN_FILENO)) {
				if (!read_only && k > buf)
					(void)sbx_terminal_input(cli, io->sid, io->tid, buf,
					    (size_t)(k - buf));
				*detached = 1;
				return 0;
			}
		}
		if (!read_only &&
		    (rv = sbx_terminal_input(cli, io->sid, io->tid, buf, (size_t)n)) != SBX_OK) {
			restore_tty();
			return fail_call(rv);
		}
	}
}

/* Follows terminal tid of sid from after_seq until it ends or is
 * detached from; the process's exit status. */
static int
run_terminal(const char *sid, const char *tid, uint64_t after_seq, int read_only)
{
	sbx_logs_opts lo = { .after_seq = after_seq, .queue_events = 4096 };
	struct session_io io = { .sid = sid, .tid = tid, .wake = { -1, -1 } };
	pthread_t th;
	int status = EXIT_FAIL, detached = 0;
	sbx_err rv;

	if (pipe2(io.wake, O_CLOEXEC) != 0 || pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		perror("sbx: pipe");
		goto out;
	}
	if ((rv = sbx_logs_subscribe_opts(cli, sid, &lo, &io.sub)) != SBX_OK) {
		status = fail_call(rv);
		goto out;
	}
	signal(SIGWINCH, on_winch);
	if (raw_mode() != 0) {
		perror("sbx: setting the terminal to raw mode");
		goto out;
	}
	if (pthread_create(&th, NULL, output_main, &io) != 0) {
		restore_tty();
		fprintf(stderr, "sbx: cannot start a thread\n");
		goto out;
	}
	on_winch(SIGWINCH);    /* the size once more: it may have changed since the open */
	status = forward(&io, read_only, &detached);
	atomic_store(&io.stop, 1);
	pthread_join(th, NULL);
	restore_tty();
	if (status == 0 && detached)
		fprintf(stderr, "\r\nsbx: detached from terminal %s (still running); "
		    "`sbx attach %s %s` comes back to it\n", tid, sid, tid);
	else if (status == 0)
		status = io.exit_code < 0 || io.exit_code > 255 ? EXIT_FAIL : io.exit_code;
out:
	sbx_logs_unsubscribe(io.sub);
	for (int i = 0; i < 2; i++) {
		if (io.wake[i] >= 0)
			close(io.wake[i]);
		if (winch_pipe[i] >= 0)
			close(winch_pipe[i]);
		winch_pipe[i] = -1;
	}
	return status;
}

/* ---------------------------------------------------------------- the commands */

int
cmd_shell(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cwd", required_argument, NULL, 'c' },
		{ "env", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env[ENV_MAX + 1];
	sbx_terminal_opts o = { .env = env };
	char term_env[256];
	sbx_terminal t;
	const char *sid, *term = getenv("TERM");
	sbx_err rv;
	int ch, status, ret;

	while ((ch = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if (ch == 'c')
			o.cwd = optarg;
		else if (ch != 'e')
			return EXIT_USAGE;
		else if ((ret = parse_env(optarg, env, &o.n_env, ENV_MAX)) != 0)
			return ret;
	}
	if (optind >= argc)
		return usage_error("usage: sbx shell [--cwd DIR] [--env K=V]... ID [-- CMD [ARG]...]");
	sid = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind < argc) {
		o.argv = (const char *const *)argv + optind;
		o.argc = (size_t)(argc - optind);
	}
	if (term != NULL && *term != '\0' && o.n_env < ENV_MAX) {
		snprintf(term_env, sizeof(term_env), "TERM=%s", term);
		env[o.n_env++] = term_env;
	}
	local_size(&o.cols, &o.rows);
	if ((rv = sbx_terminal_open(cli, sid, &o, &t)) != SBX_OK)
		return fail_call(rv);
	status = run_terminal(sid, t.terminal_id, t.after_seq, 0);
	sbx_terminal_fini(&t);
	return status;
}

int
cmd_attach(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "read-only", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	sbx_terminal *v = NULL, *t = NULL;
	int read_only = 0, status;
	size_t n = 0;
	sbx_err rv;

	if (parse_one_flag(argc, argv, "", lo, &read_only) != 0)
		return EXIT_USAGE;
	if (argc - optind != 2)
		return usage_error("usage: sbx attach [--read-only] ID TERMINAL");
	if ((rv = sbx_terminal_list(cli, argv[optind], &v, &n)) != SBX_OK)
		return fail_call(rv);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].terminal_id, argv[optind + 1]) == 0)
			t = &v[i];
	if (t == NULL) {
		sbx_terminal_list_free(v, n);
		fprintf(stderr, "sbx: NOT_FOUND: session %s has no terminal %s\n",
		    argv[optind], argv[optind + 1]);
		return EXIT_FAIL;
	}
	if (!t->running) {
		fprintf(stderr, "sbx: terminal %s has ended (code %d)\n", t->terminal_id,
		    t->exit_code);
		status = t->exit_code;
	} else
		status = run_terminal(argv[optind], t->terminal_id, t->after_seq, read_only);
	sbx_terminal_list_free(v, n);
	return status;
}
