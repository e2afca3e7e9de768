/*
 * agent_main.c — sbx-agent's command line, its --supervise mode, and the
 * main loop: one poll over the link's fds (its events, nng's frames), the
 * SIGCHLD self-pipe and the calls' pipes, with every frame sent from this
 * thread so the frames of one call stay in order. Frames from sbxd are
 * checked here before any handler sees them.
 *
 *   sbx-agent [--supervise] --url URL --session ID [--token-file FILE]
 *             [--tls-ca FILE] [--version]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_files.h"
#include "agent_link.h"
#include "agent_log.h"
#include "agent_procs.h"
#include "agent_spawn.h"
#include "agent_watch.h"
#include "agent_wire.h"

#define AGENT_VERSION "0.1.0"
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define STABLE_MS 10000   /* a worker that lived this long resets the backoff */
#define LINK_FDS 3        /* the poll set's first: link events, frames, SIGCHLD */
#define EVENTS_PER_TURN 256 /* then the calls' pipes get their turn */

struct opts {
	int supervise;
	const char *url, *session, *token_file, *tls_ca;
};

struct agent {
	struct opts o;
	uint8_t token[AGENT_TOKEN_MAX];
	size_t token_len;
	struct agent_link *link;
	struct agent_procs *ps;
	struct agent_watches *ws;
	uint32_t hello_pipe;   /* hello sent on it, welcome awaited */
	uint32_t up_pipe;      /* welcomed: calls flow */
	int lost;              /* a send failed: go down at the next turn */
	int bad_logged;        /* dropped-frame log, once per connection */
};

static int sigchld_pipe[2] = { -1, -1 };

/* ---- the command line */

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: sbx-agent [--supervise] --url URL --session ID "
	    "[--token-file FILE] [--tls-ca FILE] [--version]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], **dst = NULL;

		if (strcmp(a, "--version") == 0) {
			printf("sbx-agent %s (protocol %d)\n", AGENT_VERSION, AGENT_PROTO_VERSION);
			exit(0);
		} else if (strcmp(a, "--supervise") == 0)
			o->supervise = 1;
		else if (strcmp(a, "--url") == 0)
			dst = &o->url;
		else if (strcmp(a, "--session") == 0)
			dst = &o->session;
		else if (strcmp(a, "--token-file") == 0)
			dst = &o->token_file;
		else if (strcmp(a, "--tls-ca") == 0)
			dst = &o->tls_ca;
		else
			usage();
		if (dst != NULL) {
			if (++i >= argc)
				usage();
			*dst = argv[i];
		}
	}
	if (o->url == NULL || o->session == NULL)
		usage();
	if (strncmp(o->url, "ipc://", 6) != 0 && strncmp(o->url, "tcp://", 6) != 0 &&
	    strncmp(o->url, "tls+tcp://", 10) != 0)
		agent_fatalx("--url %s: want ipc://, tcp:// or tls+tcp://", o->url);
	if (strncmp(o->url, "tls+tcp://", 10) == 0 && o->tls_ca == NULL)
		agent_fatalx("--url %s needs --tls-ca", o->url);
}

/* Reads the token: at most AGENT_TOKEN_MAX bytes after a trailing newline
 * is taken off; a longer file is an error, not a shorter token. */
static void
read_token(struct agent *ag)
{
	uint8_t buf[AGENT_TOKEN_MAX + 3];
	size_t len = 0;
	ssize_t n;
	int fd;

	if (ag->o.token_file == NULL)
		return;
	if ((fd = open(ag->o.token_file, O_RDONLY | O_CLOEXEC)) < 0) {
		agent_log("%s", ag->o.token_file);
		exit(1);
	}
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			agent_log("%s", ag->o.token_file);
			exit(1);
		}
		len += (size_t)n;
	}
	close(fd);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len > AGENT_TOKEN_MAX)
		agent_fatalx("%s: token longer than %d bytes", ag->o.token_file, AGENT_TOKEN_MAX);
	memcpy(ag->token, buf, len);
	ag->token_len = len;
}

/* ---- supervise mode */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts the worker: this program again, without --supervise. */
static pid_t
spawn_worker(int argc, char **argv, const sigset_t *orig)
{
	char **wargv;
	pid_t pid;
	int n = 0;

	if ((wargv = calloc((size_t)argc + 1, sizeof(char *))) == NULL)
		agent_fatalx("out of memory");
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--supervise") != 0)
			wargv[n++] = argv[i];
	if ((pid = fork()) == 0) {
		/* if the supervisor is killed outright, so is the worker */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		sigprocmask(SIG_SETMASK, orig, NULL);
		execv("/proc/self/exe", wargv);
		agent_log("exec /proc/self/exe");
		_exit(127);
	}
	if (pid < 0)
		agent_log("fork");
	free(wargv);
	return pid;
}

/* Waits up to ms (forever if < 0) for SIGCHLD, SIGTERM or SIGINT. */
static int
wait_signal(const sigset_t *set, int64_t ms)
{
	struct timespec ts;
	int s;

	if (ms < 0)
		s = sigwaitinfo(set, NULL);
	else {
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000;
		s = sigtimedwait(set, NULL, &ts);
	}
	return s < 0 ? 0 : s;
}

/* The worker died: the commands it ran die with it (their first process
 * by PR_SET_PDEATHSIG; the rest of their process groups here). As the
 * child subreaper the supervisor inherits whatever they left, so every
 * child of ours but the worker is killed with its group. */
static void
kill_orphans(pid_t worker)
{
	char path[64], buf[512], *p;
	struct dirent *de;
	int ppid, pgrp, fd;
	ssize_t n;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || atoi(de->d_name) == worker)
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %*c %d %d", &ppid, &pgrp) != 2 || ppid != getpid())
			continue;
		if (pgrp > 1 && pgrp != getpgrp())
			(void)kill(-pgrp, SIGKILL);
		(void)kill(atoi(de->d_name), SIGKILL);
	}
	closedir(d);
}

/* Restarts the worker whenever it dies, with backoff; SIGTERM/SIGINT stop
 * the worker and end the supervisor. Reaps what the worker's commands
 * leave behind (it is their subreaper) and kills it when the worker dies. */
static _Noreturn void
supervise(int argc, char **argv)
{
	sigset_t set, orig;
	int64_t backoff = BACKOFF_MIN_MS, started;
	pid_t worker = -1, w;
	int st = 0, st2, s;

	signal(SIGCHLD, SIG_DFL);   /* not inherited SIG_IGN: we reap */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &orig);
	for (;;) {
		started = mono_ms();
		worker = spawn_worker(argc, argv, &orig);
		while (worker > 0) {
			s = wait_signal(&set, -1);
			if (s == SIGTERM || s == SIGINT) {
				(void)kill(worker, SIGTERM);
				exit(0);
			}
			if (s != SIGCHLD)
				continue;
			while ((w = waitpid(-1, &st2, WNOHANG)) > 0)
				if (w == worker) {
					st = st2;
					worker = -worker;
				}
			if (worker < 0) {
				worker = -worker;
				break;
			}
		}
		kill_orphans(-1);
		if (worker > 0 && WIFSIGNALED(st))
			agent_logx("worker %d killed by signal %d", (int)worker, WTERMSIG(st));
		else if (worker > 0)
			agent_logx("worker %d exited with %d", (int)worker, WEXITSTATUS(st));
		if (mono_ms() - started >= STABLE_MS)
			backoff = BACKOFF_MIN_MS;
		agent_logx("restarting the worker in %lld ms", (long long)backoff);
		for (int64_t until = mono_ms() + backoff, left; (left = until - mono_ms()) > 0;) {
			s = wait_signal(&set, left);
			if (s == SIGTERM || s == SIGINT)
				exit(0);
			while (waitpid(-1, &st, WNOHANG) > 0)
				;
		}
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
}

/* ---- frames */

static int
send_frame(void *arg, const Sbx__Agent__V1__Frame *f)
{
	struct agent *ag = arg;

	if (ag->up_pipe == 0 || ag->lost)
		return -1;
	if (agent_link_send(ag->link, ag->up_pipe, f) != 0) {
		ag->lost = 1;
		return -1;
	}
	return 0;
}

static void
go_down(struct agent *ag)
{
	if (ag->up_pipe != 0)
		agent_logx("link down");
	ag->up_pipe = ag->hello_pipe = 0;
	ag->lost = 0;
	agent_procs_link_down(ag->ps);
	agent_watches_link_down(ag->ws);
}

static void
send_hello(struct agent *ag, uint32_t pipe)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Hello h = SBX__AGENT__V1__HELLO__INIT;

	h.version = AGENT_PROTO_VERSION;
	h.session_id = (char *)ag->o.session;
	h.token.data = ag->token;
	h.token.len = ag->token_len;
	h.agent_pid = getpid();
	h.uid = getuid();
	h.gid = getgid();
	agent_procs_hello(ag->ps, &h);
	f.body_case = SBX__AGENT__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	if (agent_link_send(ag->link, pipe, &f) == 0)
		ag->hello_pipe = pipe;
	agent_procs_hello_fini(&h);
}

static void
drop(struct agent *ag, const Sbx__Agent__V1__Frame *f, const char *why)
{
	if (!ag->bad_logged)
		agent_logx("dropping a frame (call %llu, body %d): %s "
		    "(logged once per connection)", (unsigned long long)f->call,
		    (int)f->body_case, why);
	ag->bad_logged = 1;
}

static void
file_call(struct agent *ag, const Sbx__Agent__V1__Frame *in)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__FileReply r = SBX__AGENT__V1__FILE_REPLY__INIT;

	if (in->body_case == SBX__AGENT__V1__FRAME__BODY_READ_FILE)
		agent_files_read(in->read_file, &r);
	else if (in->body_case == SBX__AGENT__V1__FRAME__BODY_WRITE_FILE)
		agent_files_write(in->write_file, &r);
	else
		agent_files_stat(in->stat, &r);
	f.call = in->call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_FILE_REPLY;
	f.file_reply = &r;
	(void)send_frame(ag, &f);
	agent_files_reply_fini(&r);
}

/* A frame of a call, from the welcomed connection. */
static void
call_frame(struct agent *ag, const Sbx__Agent__V1__Frame *f)
{
	switch (f->body_case) {
	case SBX__AGENT__V1__FRAME__BODY_RUN:
		if (agent_procs_has(ag->ps, f->call))
			drop(ag, f, "run for a call that is still running");
		else
			agent_procs_run(ag->ps, f->call, f->run);
		break;
	case SBX__AGENT__V1__FRAME__BODY_TERM_OPEN:
		if (agent_procs_has(ag->ps, f->call))
			drop(ag, f, "term_open for a call that is still running");
		else
			agent_procs_term_open(ag->ps, f->call, f->term_open);
		break;
	case SBX__AGENT__V1__FRAME__BODY_TERM_RESIZE:
		if (agent_procs_term_resize(ag->ps, f->call, f->term_resize->cols,
		    f->term_resize->rows) != 0)
			drop(ag, f, "resize of no live terminal, or to a bad size");
		break;
	case SBX__AGENT__V1__FRAME__BODY_TERM_CLOSE:
		if (agent_procs_term_close(ag->ps, f->call) != 0)
			drop(ag, f, "close of no live terminal");
		break;
	case SBX__AGENT__V1__FRAME__BODY_WATCH_START:
		if (agent_procs_has(ag->ps, f->call) || agent_watches_has(ag->ws, f->call))
			drop(ag, f, "watch_start for a call that is still live");
		else
			agent_watches_start(ag->ws, f->call, f->watch_start);
		break;
	case SBX__AGENT__V1__FRAME__BODY_WATCH_STOP:
		if (agent_watches_stop(ag->ws, f->call) != 0)
			drop(ag, f, "stop of no live watch");
		break;
	case SBX__AGENT__V1__FRAME__BODY_STDIN:
		if (agent_procs_stdin(ag->ps, f->call, f->stdin) != 0)
			drop(ag, f, "stdin for an unknown call");
		break;
	case SBX__AGENT__V1__FRAME__BODY_SIGNAL:
		if (agent_procs_signal(ag->ps, f->call, f->signal->signo, f->signal->pgid) != 0)
			drop(ag, f, "signal for an unknown call");
		break;
	case SBX__AGENT__V1__FRAME__BODY_READ_FILE:
	case SBX__AGENT__V1__FRAME__BODY_WRITE_FILE:
	case SBX__AGENT__V1__FRAME__BODY_STAT:
		file_call(ag, f);
		break;
	default:
		drop(ag, f, "not a request");
		break;
	}
}

static void
on_frame(struct agent *ag, uint32_t pipe, const Sbx__Agent__V1__Frame *f)
{
	if (pipe == 0 || (pipe != ag->hello_pipe && pipe != ag->up_pipe))
		return;   /* from a connection already gone */
	if (f->call != 0) {
		if (pipe != ag->up_pipe)
			drop(ag, f, "a call before the welcome");
		else
			call_frame(ag, f);
		return;
	}
	if (f->body_case == SBX__AGENT__V1__FRAME__BODY_DETACH && pipe == ag->up_pipe) {
		agent_logx("sbxd is stopping: holding background output");
		agent_procs_detach(ag->ps);
	} else if (f->body_case != SBX__AGENT__V1__FRAME__BODY_WELCOME)
		drop(ag, f, "call 0 that is not a welcome");
	else if (pipe != ag->hello_pipe)
		drop(ag, f, "a second welcome");
	else if (f->welcome->version != AGENT_PROTO_VERSION)
		drop(ag, f, "a welcome of another protocol version");
	else {
		ag->up_pipe = pipe;
		ag->hello_pipe = 0;
		agent_logx("link up");
		agent_procs_link_up(ag->ps);
	}
}

static void
link_events(struct agent *ag, int frames)
{
	struct agent_link_ev ev;

	for (int n = 0; n < EVENTS_PER_TURN && agent_link_next(ag->link, &ev, frames); n++) {
		switch (ev.kind) {
		case AGENT_EV_UP:
			if (ag->up_pipe != 0 || ag->hello_pipe != 0)
				go_down(ag);
			ag->bad_logged = 0;
			send_hello(ag, ev.pipe);
			break;
		case AGENT_EV_DOWN:
			if (ev.pipe == ag->up_pipe || ev.pipe == ag->hello_pipe)
				go_down(ag);
			break;
		case AGENT_EV_FRAME:
			on_frame(ag, ev.pipe, ev.frame);
			agent_frame_free(ev.frame);
			break;
		}
		if (ag->lost)
			go_down(ag);
	}
}

/* ---- the worker */

static void
on_sigchld(int s)
{
	int e = errno;

	(void)s;
	(void)!write(sigchld_pipe[1], "", 1);
	errno = e;
}

/* fds 0-2 open (so pipes never land there), SIGPIPE ignored (a closed
 * stdin is an EPIPE), SIGCHLD into the self-pipe. */
static void
worker_setup(void)
{
	struct sigaction sa;
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		agent_log("pipe");
		exit(1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
}

static _Noreturn void
worker(struct agent *ag)
{
	struct pollfd *pfd = NULL;
	size_t cap = 0, n, nw;
	char junk[64];
	int tmo, wtmo;

	worker_setup();
	read_token(ag);
	ag->ps = agent_procs_new(send_frame, ag);
	ag->ws = agent_watches_new(send_frame, ag);
	if (agent_link_open(ag->o.url, ag->o.tls_ca, &ag->link) != 0)
		exit(1);
	agent_spawn_note_signals();   /* after every change of a disposition */
	agent_logx("pid %d dialling %s for session %s", (int)getpid(), ag->o.url,
	    ag->o.session);
	for (;;) {
		if (ag->lost)
			go_down(ag);
		tmo = agent_procs_tick(ag->ps);
		wtmo = agent_watches_tick(ag->ws);
		if (wtmo >= 0 && (tmo < 0 || wtmo < tmo))
			tmo = wtmo;
		agent_procs_sweep(ag->ps);
		if (cap < agent_procs_nfds(ag->ps) + agent_watches_nfds(ag->ws) + LINK_FDS) {
			cap = agent_procs_nfds(ag->ps) + agent_watches_nfds(ag->ws) + 64;
			free(pfd);
			if ((pfd = calloc(cap, sizeof(*pfd))) == NULL)
				agent_fatalx("out of memory");
		}
		pfd[0].fd = agent_link_wakefd(ag->link);
		pfd[1].fd = agent_link_recvfd(ag->link);
		pfd[2].fd = sigchld_pipe[0];
		for (int i = 0; i < LINK_FDS; i++) {
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;   /* poll leaves them on EINTR */
		}
		n = agent_procs_fill(ag->ps, pfd + LINK_FDS);
		nw = agent_watches_fill(ag->ws, pfd + LINK_FDS + n);
		if (poll(pfd, n + nw + LINK_FDS, tmo) < 0 && errno != EINTR) {
			agent_log("poll");
			continue;
		}
		agent_procs_io(ag->ps, pfd + LINK_FDS, n);
		agent_watches_io(ag->ws, pfd + LINK_FDS + n, nw);
		if (pfd[2].revents != 0) {
			while (read(sigchld_pipe[0], junk, sizeof(junk)) > 0)
				;
			agent_procs_reap(ag->ps);
		}
		(void)agent_procs_tick(ag->ps);
		link_events(ag, pfd[1].revents != 0);
	}
}

int
main(int argc, char **argv)
{
	struct agent ag;

	memset(&ag, 0, sizeof(ag));
	parse_args(argc, argv, &ag.o);
	if (ag.o.supervise)
		supervise(argc, argv);
	worker(&ag);
}
