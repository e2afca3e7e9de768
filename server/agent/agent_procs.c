/*
 * agent_procs.c — the table of live calls and everything that happens to
 * a call after agent_spawn started it: stdin written from a bounded
 * buffer, output read in pieces of at most AGENT_CHUNK_MAX and sent (or,
 * for a background call while sbxd is away, kept in a ring of at most
 * AGENT_RING_MAX bytes), its timeout, signals to its process group, and
 * its end: once the leader is reaped its pipes are read until EOF or for
 * AGENT_DRAIN_MS more (a grandchild may hold them), then exited is sent.
 *
 * Calls are only marked ST_DONE while handlers run and are freed by
 * agent_procs_sweep, so the poll set built at the top of a loop turn
 * stays valid for that turn.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_log.h"
#include "agent_procs.h"
#include "agent_spawn.h"
#include "agent_wire.h"

enum call_state {
	ST_RUNNING,     /* the leader has not been reaped */
	ST_DRAINING,    /* reaped; its pipes are still read */
	ST_ENDED,       /* exited not yet sent (held while sbxd is away) */
	ST_DONE,        /* forgotten at the next sweep */
};

struct chunk {
	struct chunk *next;
	uint32_t fd;
	size_t off, len, cap;
	uint8_t data[];
};

struct call {
	struct call *next;
	uint64_t id;
	pid_t pid;
	int bg;
	int term;               /* on a pty: fd[0] its master, fd[1] a dup of it */
	enum call_state state;
	int fd[3];              /* stdin (write end), stdout, stderr; -1 closed */
	uint8_t *in;            /* stdin not yet written: in[in_off, in_off+in_len) */
	size_t in_off, in_len, in_cap;
	int in_close;           /* close stdin once `in` is written */
	int in_warned;
	uint64_t max_output, sent[3];
	int truncated, timed_out, status;
	int64_t start_ms, deadline_ms, drain_ms, end_ms;
	int64_t started_due_ms;        /* a foreground call's started, not yet sent: when it goes */
	struct chunk *rhead, *rtail;   /* held output, oldest first */
	size_t rbytes;
	uint64_t dropped;
};

struct pollref {
	struct call *c;
	int idx;
};

struct agent_procs {
	struct call *head;
	size_t ncalls;
	agent_send_fn send;
	void *arg;
	struct pollref *refs;
	size_t nrefs, refcap;
	uint8_t buf[AGENT_CHUNK_MAX];
	int detached;                  /* sbxd is stopping: hold background calls */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct agent_procs *
agent_procs_new(agent_send_fn send, void *arg)
{
	struct agent_procs *ps;

	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		agent_fatalx("out of memory");
	ps->send = send;
	ps->arg = arg;
	return ps;
}

static struct call *
find(struct agent_procs *ps, uint64_t id)
{
	for (struct call *c = ps->head; c != NULL; c = c->next)
		if (c->id == id && c->state != ST_DONE)
			return c;
	return NULL;
}

int
agent_procs_has(struct agent_procs *ps, uint64_t call)
{
	return find(ps, call) != NULL;
}

static void
close_fd(struct call *c, int i)
{
	if (c->fd[i] >= 0) {
		(void)close(c->fd[i]);
		c->fd[i] = -1;
	}
}

/* ---- frames out */

static int
send_body(struct agent_procs *ps, uint64_t id, Sbx__Agent__V1__Frame *f)
{
	f->call = id;
	return ps->send(ps->arg, f);
}

static int
send_output(struct agent_procs *ps, struct call *c, uint32_t fd, const uint8_t *d, size_t n)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Output o = SBX__AGENT__V1__OUTPUT__INIT;

	o.fd = fd;
	o.data.data = (uint8_t *)d;
	o.data.len = n;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_OUTPUT;
	f.output = &o;
	return send_body(ps, c->id, &f);
}

void
agent_send_failed(agent_send_fn send, void *arg, uint64_t call, int err, const char *msg)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Failed fl = SBX__AGENT__V1__FAILED__INIT;

	fl.errno_value = err;
	fl.message = (char *)msg;
	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_FAILED;
	f.failed = &fl;
	(void)send(arg, &f);
}

static void
send_failed(struct agent_procs *ps, uint64_t id, int err, const char *msg)
{
	agent_send_failed(ps->send, ps->arg, id, err, msg);
}

/* ---- held output */

/* Appends to c's ring, dropping its oldest bytes past AGENT_RING_MAX. */
static void
ring_add(struct call *c, uint32_t fd, const uint8_t *d, size_t n)
{
	struct chunk *t = c->rtail, *h;
	size_t cap, take;

	if (n > AGENT_RING_MAX) {
		c->dropped += n - AGENT_RING_MAX;
		d += n - AGENT_RING_MAX;
		n = AGENT_RING_MAX;
	}
	while (c->rbytes + n > AGENT_RING_MAX && (h = c->rhead) != NULL) {
		take = c->rbytes + n - AGENT_RING_MAX;
		if (take > h->len)
			take = h->len;
		h->off += take;
		h->len -= take;
		c->rbytes -= take;
		c->dropped += take;
		if (h->len == 0) {
			if ((c->rhead = h->next) == NULL)
				c->rtail = NULL;
			free(h);
		}
	}
	t = c->rtail;
	if (t == NULL || t->fd != fd || t->off + t->len + n > t->cap) {
		cap = n < 4096 ? 4096 : n;
		if ((t = malloc(sizeof(*t) + cap)) == NULL) {
			c->dropped += n;
			return;
		}
		t->next = NULL;
		t->fd = fd;
		t->off = t->len = 0;
		t->cap = cap;
		if (c->rtail != NULL)
			c->rtail->next = t;
		else
			c->rhead = t;
		c->rtail = t;
	}
	memcpy(t->data + t->off + t->len, d, n);
	t->len += n;
	c->rbytes += n;
}

static void
ring_free(struct call *c)
{
	struct chunk *h;

	while ((h = c->rhead) != NULL) {
		c->rhead = h->next;
		free(h);
	}
	c->rtail = NULL;
	c->rbytes = 0;
}

/* Sends the ring; 0 when it is empty afterwards. */
static int
ring_flush(struct agent_procs *ps, struct call *c)
{
	struct chunk *h;
	size_t n;

	while ((h = c->rhead) != NULL) {
		n = h->len < AGENT_CHUNK_MAX ? h->len : AGENT_CHUNK_MAX;
		if (send_output(ps, c, h->fd, h->data + h->off, n) != 0)
			return -1;
		h->off += n;
		h->len -= n;
		c->rbytes -= n;
		if (h->len == 0) {
			if ((c->rhead = h->next) == NULL)
				c->rtail = NULL;
			free(h);
		}
	}
	return 0;
}

/* The started frame of c: a background call's or terminal's at once,
 * a foreground call's deferred until now. */
static void
send_started(struct agent_procs *ps, struct call *c)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Started s = SBX__AGENT__V1__STARTED__INIT;

	c->started_due_ms = 0;
	s.pid = c->pid;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_STARTED;
	f.started = &s;
	(void)send_body(ps, c->id, &f);
}

/* Output read from c's stream fd: capped by max_output (the rest is
 * discarded and the call marked truncated), then sent or held. */
static void
output(struct agent_procs *ps, struct call *c, uint32_t fd, const uint8_t *d, size_t n)
{
	if (c->max_output > 0 && c->sent[fd] + n > c->max_output) {
		n = (size_t)(c->max_output - c->sent[fd]);
		c->truncated = 1;
	}
	if (n == 0)
		return;
	c->sent[fd] += n;
	if (c->started_due_ms != 0)
		send_started(ps, c);
	if (c->rhead == NULL && !(c->bg && ps->detached) && send_output(ps, c, fd, d, n) == 0)
		return;
	if (c->bg)
		ring_add(c, fd, d, n);
}

/* ---- the end of a call */

/* Sends exited unless output is still held; the call is then done (a
 * foreground call also when the link is gone: nobody waits for it). */
static void
report_end(struct agent_procs *ps, struct call *c)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Exited x = SBX__AGENT__V1__EXITED__INIT;

	c->state = ST_ENDED;
	c->started_due_ms = 0;   /* exited says it started */
	if (c->rhead != NULL || (c->bg && ps->detached))
		return;
	if (WIFSIGNALED(c->status)) {
		x.signal = WTERMSIG(c->status);
		x.exit_code = 128 + x.signal;
	} else
		x.exit_code = WEXITSTATUS(c->status);
	if (c->timed_out)
		x.exit_code = 124;
	x.timed_out = c->timed_out;
	x.truncated = c->truncated;
	x.duration_ms = (uint64_t)(c->end_ms - c->start_ms);
	f.body_case = SBX__AGENT__V1__FRAME__BODY_EXITED;
	f.exited = &x;
	if (send_body(ps, c->id, &f) == 0 || !c->bg)
		c->state = ST_DONE;
}

static void kill_session(pid_t sid);

static void
end_drain(struct agent_procs *ps, struct call *c)
{
	if (c->term)
		kill_session(c->pid);    /* what the terminal's leader left */
	close_fd(c, 0);
	close_fd(c, 1);
	close_fd(c, 2);
	report_end(ps, c);
}

/* ---- starting */

void
agent_procs_run(struct agent_procs *ps, uint64_t id, const Sbx__Agent__V1__Run *r)
{
	struct agent_spawned sp;
	struct call *c;
	char msg[512];
	int rv;

	if (ps->ncalls >= AGENT_CALLS_MAX) {
		send_failed(ps, id, EAGAIN, "too many commands running in this sandbox");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (r->stdin_data.len > 0 && (c->in = malloc(r->stdin_data.len)) == NULL)) {
		free(c);
		send_failed(ps, id, ENOMEM, "out of memory");
		return;
	}
	c->start_ms = now_ms();
	if ((rv = agent_spawn(r, &sp, msg, sizeof(msg))) != 0) {
		free(c->in);
		free(c);
		send_failed(ps, id, rv, msg);
		return;
	}
	c->id = id;
	c->pid = sp.pid;
	c->bg = r->background;
	c->fd[0] = sp.in;
	c->fd[1] = sp.out;
	c->fd[2] = sp.err;
	c->max_output = r->max_output;
	if (r->timeout_ms > 0)
		c->deadline_ms = c->start_ms + (int64_t)(r->timeout_ms > INT32_MAX ?
		    INT32_MAX : r->timeout_ms);
	if (r->stdin_data.len > 0) {
		memcpy(c->in, r->stdin_data.data, r->stdin_data.len);
		c->in_len = c->in_cap = r->stdin_data.len;
	}
	c->in_close = !r->keep_stdin;
	if (c->in_close && c->in_len == 0)
		close_fd(c, 0);
	c->next = ps->head;
	ps->head = c;
	ps->ncalls++;
	/* A foreground call's started waits STARTED_DEFER_MS: a quick
	 * command's exited says it, one frame instead of two on the way of
	 * every short Execute. A background call's goes at once (sbxd waits
	 * for it to answer StartProcess). */
	if (!c->bg) {
		c->started_due_ms = c->start_ms + STARTED_DEFER_MS;
		return;
	}
	send_started(ps, c);
}

/* ---- terminals */

void
agent_procs_term_open(struct agent_procs *ps, uint64_t id, const Sbx__Agent__V1__TermOpen *t)
{
	Sbx__Agent__V1__Run none = SBX__AGENT__V1__RUN__INIT;
	struct agent_spawned sp;
	struct call *c;
	char msg[512];
	int rv;

	if (ps->ncalls >= AGENT_CALLS_MAX) {
		send_failed(ps, id, EAGAIN, "too many commands running in this sandbox");
		return;
	}
	if (t->cols < 1 || t->cols > AGENT_TERM_COLS_MAX || t->rows < 1 ||
	    t->rows > AGENT_TERM_ROWS_MAX) {
		send_failed(ps, id, EINVAL, "terminal size out of range");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		send_failed(ps, id, ENOMEM, "out of memory");
		return;
	}
	c->start_ms = now_ms();
	if ((rv = agent_spawn_pty(t->run != NULL ? t->run : &none, t->cols, t->rows, &sp,
	    msg, sizeof(msg))) != 0) {
		free(c);
		send_failed(ps, id, rv, msg);
		return;
	}
	c->id = id;
	c->pid = sp.pid;
	c->term = 1;
	c->fd[0] = sp.in;
	c->fd[2] = -1;
	if ((c->fd[1] = fcntl(sp.in, F_DUPFD_CLOEXEC, 3)) < 0) {
		kill_session(sp.pid);
		close(sp.in);
		free(c);
		send_failed(ps, id, errno, "dup of the pty");
		return;
	}
	c->next = ps->head;
	ps->head = c;
	ps->ncalls++;
	send_started(ps, c);
}

int
agent_procs_term_resize(struct agent_procs *ps, uint64_t id, uint32_t cols, uint32_t rows)
{
	struct call *c = find(ps, id);
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };

	if (c == NULL || !c->term)
		return -1;
	if (cols < 1 || cols > AGENT_TERM_COLS_MAX || rows < 1 || rows > AGENT_TERM_ROWS_MAX)
		return -1;
	if (c->fd[1] >= 0 && ioctl(c->fd[1], TIOCSWINSZ, &ws) != 0)
		agent_log("call %llu: TIOCSWINSZ", (unsigned long long)id);
	return 0;
}

int
agent_procs_term_close(struct agent_procs *ps, uint64_t id)
{
	struct call *c = find(ps, id);

	if (c == NULL || !c->term)
		return -1;
	kill_session(c->pid);
	return 0;
}

/* ---- stdin */

int
agent_procs_stdin(struct agent_procs *ps, uint64_t id, const Sbx__Agent__V1__Stdin *in)
{
	struct call *c = find(ps, id);
	size_t n = in->data.len;
	uint8_t *p;

	if (c == NULL)
		return -1;
	if (c->in_close || c->fd[0] < 0)
		n = 0;   /* stdin is closed or closing: nothing more goes in */
	if (n > AGENT_STDIN_PENDING_MAX - c->in_len) {
		if (!c->in_warned)
			agent_logx("call %llu: more than %d bytes of stdin pending; "
			    "dropping the excess", (unsigned long long)id,
			    AGENT_STDIN_PENDING_MAX);
		c->in_warned = 1;
		n = AGENT_STDIN_PENDING_MAX - c->in_len;
	}
	if (n > 0) {
		if (c->in_off > 0) {
			memmove(c->in, c->in + c->in_off, c->in_len);
			c->in_off = 0;
		}
		if (c->in_len + n > c->in_cap) {
			if ((p = realloc(c->in, c->in_len + n)) == NULL)
				agent_fatalx("out of memory");
			c->in = p;
			c->in_cap = c->in_len + n;
		}
		memcpy(c->in + c->in_len, in->data.data, n);
		c->in_len += n;
	}
	if (in->close && !c->term) {
		c->in_close = 1;
		if (c->in_len == 0)
			close_fd(c, 0);
	}
	return 0;
}

static void
write_stdin(struct call *c)
{
	ssize_t n;

	while (c->in_len > 0) {
		n = write(c->fd[0], c->in + c->in_off, c->in_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			c->in_len = 0;   /* EPIPE and the like: nobody reads it */
			close_fd(c, 0);
			return;
		}
		c->in_off += (size_t)n;
		c->in_len -= (size_t)n;
	}
	c->in_off = 0;
	if (c->in_close)
		close_fd(c, 0);
}

/* ---- signals */

/* Reads /proc/<pid>/stat into buf (size bytes) and returns its fields
 * after "pid (comm)", from " state ppid pgrp session ..." on: comm may
 * hold anything but ends at the last ')'. NULL if unreadable. */
static const char *
proc_stat_fields(const char *pid, char *buf, size_t size)
{
	char path[300], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return (p = strrchr(buf, ')')) != NULL ? p + 1 : NULL;
}

/* The process group of pid from /proc/<pid>/stat, -1 if unknown. */
static pid_t
proc_pgrp(const char *pid)
{
	char buf[512];
	const char *p = proc_stat_fields(pid, buf, sizeof(buf));
	int pgrp;

	if (p == NULL || sscanf(p, " %*c %*d %d", &pgrp) != 1)
		return -1;
	return pgrp;
}

/* The session and process group of /proc/<pid>; -1 if unknown or a
 * zombie (gone but for its reaping). */
static pid_t
proc_session(const char *pid, pid_t *pgrp)
{
	char buf[512], state;
	const char *p = proc_stat_fields(pid, buf, sizeof(buf));
	int sid, pg;

	if (p == NULL ||
	    sscanf(p, " %c %*d %d %d", &state, &pg, &sid) != 3 || state == 'Z')
		return -1;
	*pgrp = pg;
	return sid;
}

/* SIGKILLs every process of session sid found in /proc, each through its
 * whole process group first (one kill(2) per group reaches every member,
 * including those forking meanwhile — a fork bomb's members share a
 * group, so the first kill ends most of them and the rest of the scan
 * runs without them hogging the CPU). How many were found; -1 when /proc
 * cannot be read. */
#define KILL_GROUPS 64
static int
kill_members(pid_t sid)
{
	pid_t groups[KILL_GROUPS], pg = 0;
	struct dirent *de;
	int found = 0, ng = 0, i;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    proc_session(de->d_name, &pg) != sid)
			continue;
		found++;
		for (i = 0; i < ng && groups[i] != pg; i++)
			;
		if (i == ng && pg > 1) {
			(void)kill(-pg, SIGKILL);
			if (ng < KILL_GROUPS)
				groups[ng++] = pg;
		}
		(void)kill(atoi(de->d_name), SIGKILL);
	}
	closedir(d);
	return found;
}

/* Kills every process of session sid (a terminal's: its shell's jobs run
 * in process groups of their own), scanning /proc until EMPTY_SCANS scans
 * in a row find none, at most KILL_ROUNDS times: a member that made a
 * group of its own between a scan and its kills is found by the next
 * scan, and a fork bomb's short-lived members starve the agent of CPU so
 * that one slow scan may find every member it listed already gone. */
#define KILL_ROUNDS 64
#define EMPTY_SCANS 3
static void
kill_session(pid_t sid)
{
	int empty = 0, found;

	if (sid <= 1)
		return;
	(void)kill(-sid, SIGKILL);
	for (int round = 0; round < KILL_ROUNDS; round++) {
		if ((found = kill_members(sid)) < 0)
			return;
		empty = found == 0 ? empty + 1 : 0;
		if (empty >= EMPTY_SCANS)
			return;
		/* what was killed needs a moment to die */
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	agent_logx("session %d: processes still there after %d rounds of kills",
	    (int)sid, KILL_ROUNDS);
}

int
agent_procs_signal(struct agent_procs *ps, uint64_t id, int32_t signo, int64_t pgid)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Signalled s = SBX__AGENT__V1__SIGNALLED__INIT;
	struct call *c = find(ps, id);
	struct dirent *de;
	pid_t group;
	DIR *d;

	if (c != NULL)
		group = c->pid;
	else if (pgid > 1 && pgid <= INT32_MAX)
		group = (pid_t)pgid;
	else
		return -1;
	if (signo < 0 || signo >= NSIG)
		agent_logx("call %llu: no signal %d", (unsigned long long)id, signo);
	else if (group > 1 && kill(-group, signo) == 0) {
		/* one kill(2) for the whole group: a member forking meanwhile
		 * cannot slip out, as it could between the kills of a scan;
		 * the scan only counts who got it */
		if ((d = opendir("/proc")) != NULL) {
			while ((de = readdir(d)) != NULL)
				if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
				    proc_pgrp(de->d_name) == group)
					s.count++;
			closedir(d);
		}
		if (s.count == 0)
			s.count = 1;    /* it reached one, gone by the scan */
	}
	f.body_case = SBX__AGENT__V1__FRAME__BODY_SIGNALLED;
	f.signalled = &s;
	(void)send_body(ps, id, &f);
	return 0;
}

/* ---- the poll loop's part */

size_t
agent_procs_nfds(struct agent_procs *ps)
{
	return ps->ncalls * 3;
}

size_t
agent_procs_fill(struct agent_procs *ps, struct pollfd *pfd)
{
	size_t n = 0;

	if (ps->refcap < ps->ncalls * 3) {
		free(ps->refs);
		ps->refcap = ps->ncalls * 3 + 16;
		if ((ps->refs = calloc(ps->refcap, sizeof(*ps->refs))) == NULL)
			agent_fatalx("out of memory");
	}
	for (struct call *c = ps->head; c != NULL; c = c->next) {
		if (c->state == ST_DONE)
			continue;
		for (int i = 0; i < 3; i++) {
			if (c->fd[i] < 0 || (i == 0 && c->in_len == 0))
				continue;
			pfd[n].fd = c->fd[i];
			pfd[n].events = i == 0 ? POLLOUT : POLLIN;
			pfd[n].revents = 0;
			ps->refs[n].c = c;
			ps->refs[n].idx = i;
			n++;
		}
	}
	ps->nrefs = n;
	return n;
}

/* Reads once from c's stream i: output, or EOF closes it. */
static void
read_stream(struct agent_procs *ps, struct call *c, int i)
{
	ssize_t n;

	do
		n = read(c->fd[i], ps->buf, sizeof(ps->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		close_fd(c, i);
		if (c->state == ST_DRAINING && c->fd[1] < 0 && c->fd[2] < 0)
			end_drain(ps, c);
		return;
	}
	/* a pty hands out a few KiB per read: gather what is there into one
	 * piece (each piece is a log event at sbxd, sealed and published) */
	for (ssize_t m = 1; c->term && m > 0 && (size_t)n < sizeof(ps->buf); ) {
		if ((m = read(c->fd[i], ps->buf + n, sizeof(ps->buf) - (size_t)n)) > 0)
			n += m;
	}
	output(ps, c, (uint32_t)i, ps->buf, (size_t)n);
}

void
agent_procs_io(struct agent_procs *ps, const struct pollfd *pfd, size_t n)
{
	struct call *c;

	for (size_t k = 0; k < n && k < ps->nrefs; k++) {
		c = ps->refs[k].c;
		if (pfd[k].revents == 0 || c->state == ST_DONE || c->fd[ps->refs[k].idx] != pfd[k].fd)
			continue;
		if (ps->refs[k].idx == 0)
			write_stdin(c);
		else
			read_stream(ps, c, ps->refs[k].idx);
	}
}

void
agent_procs_reap(struct agent_procs *ps)
{
	struct call *c;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (c = ps->head; c != NULL; c = c->next)
			if (c->pid == pid && c->state == ST_RUNNING)
				break;
		if (c == NULL)
			continue;   /* a forgotten foreground call's leader */
		c->status = st;
		c->end_ms = now_ms();
		c->drain_ms = c->end_ms + AGENT_DRAIN_MS;
		c->state = ST_DRAINING;
		close_fd(c, 0);
		c->in_len = 0;
		if (c->fd[1] < 0 && c->fd[2] < 0)
			end_drain(ps, c);
	}
}

/* At the drain deadline: what the pipes hold now is still read (bounded:
 * a grandchild may write without end), then they are closed. */
static void
drain_last(struct agent_procs *ps, struct call *c)
{
	for (int i = 1; i <= 2; i++)
		for (int k = 0; k < 16 && c->fd[i] >= 0 && c->state == ST_DRAINING; k++) {
			ssize_t n = read(c->fd[i], ps->buf, sizeof(ps->buf));

			if (n <= 0)
				break;
			output(ps, c, (uint32_t)i, ps->buf, (size_t)n);
		}
	if (c->state == ST_DRAINING)
		end_drain(ps, c);
}

int
agent_procs_tick(struct agent_procs *ps)
{
	int64_t now = now_ms(), next = -1, d;

	for (struct call *c = ps->head; c != NULL; c = c->next) {
		d = -1;
		if (c->started_due_ms != 0 && (c->state == ST_RUNNING || c->state == ST_DRAINING)) {
			if (now >= c->started_due_ms)
				send_started(ps, c);
			else
				next = next < 0 || c->started_due_ms < next ? c->started_due_ms : next;
		}
		if (c->state == ST_RUNNING && c->deadline_ms > 0) {
			if (now >= c->deadline_ms) {
				(void)kill(-c->pid, SIGKILL);
				c->timed_out = 1;
				c->deadline_ms = 0;
			} else
				d = c->deadline_ms;
		} else if (c->state == ST_DRAINING) {
			if (now >= c->drain_ms)
				drain_last(ps, c);
			else
				d = c->drain_ms;
		}
		if (d >= 0 && (next < 0 || d < next))
			next = d;
	}
	return next < 0 ? -1 : (int)(next - now);
}

/* ---- the link */

void
agent_procs_link_down(struct agent_procs *ps)
{
	for (struct call *c = ps->head; c != NULL; c = c->next) {
		if (c->bg || c->state == ST_DONE)
			continue;
		if (c->state == ST_RUNNING || c->state == ST_DRAINING)
			(void)kill(-c->pid, SIGKILL);
		if (c->term)
			kill_session(c->pid);
		close_fd(c, 0);
		close_fd(c, 1);
		close_fd(c, 2);
		c->state = ST_DONE;
	}
}

void
agent_procs_detach(struct agent_procs *ps)
{
	ps->detached = 1;
}

void
agent_procs_link_up(struct agent_procs *ps)
{
	ps->detached = 0;
	for (struct call *c = ps->head; c != NULL; c = c->next) {
		if (!c->bg || c->state == ST_DONE)
			continue;
		if (ring_flush(ps, c) != 0)
			return;   /* down again; the rest waits for the next welcome */
		if (c->state == ST_ENDED)
			report_end(ps, c);
	}
}

void
agent_procs_hello(struct agent_procs *ps, Sbx__Agent__V1__Hello *h)
{
	Sbx__Agent__V1__Held *v;
	size_t n = 0;

	h->n_procs = 0;
	h->procs = NULL;
	for (struct call *c = ps->head; c != NULL; c = c->next)
		n += c->bg && c->state != ST_DONE;
	if (n == 0)
		return;
	if ((h->procs = calloc(n, sizeof(*h->procs))) == NULL ||
	    (v = calloc(n, sizeof(*v))) == NULL)
		agent_fatalx("out of memory");
	for (struct call *c = ps->head; c != NULL; c = c->next) {
		if (!c->bg || c->state == ST_DONE)
			continue;
		sbx__agent__v1__held__init(v);
		v->call = c->id;
		v->pid = c->pid;
		v->running = c->state == ST_RUNNING;
		if (!v->running) {
			v->signal = WIFSIGNALED(c->status) ? WTERMSIG(c->status) : 0;
			v->exit_code = c->timed_out ? 124 : v->signal ? 128 + v->signal :
			    WEXITSTATUS(c->status);
		}
		v->dropped = c->dropped;
		h->procs[h->n_procs++] = v++;
	}
}

void
agent_procs_hello_fini(Sbx__Agent__V1__Hello *h)
{
	if (h->n_procs > 0)
		free(h->procs[0]);   /* one array holds them all */
	free(h->procs);
	h->procs = NULL;
	h->n_procs = 0;
}

void
agent_procs_sweep(struct agent_procs *ps)
{
	struct call **pp = &ps->head, *c;

	while ((c = *pp) != NULL) {
		if (c->state != ST_DONE) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		close_fd(c, 0);
		close_fd(c, 1);
		close_fd(c, 2);
		ring_free(c);
		free(c->in);
		free(c);
		ps->ncalls--;
	}
}
