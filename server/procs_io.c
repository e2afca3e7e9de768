/*
 * procs_io.c — the background processes' output thread (see procs.c's
 * top comment for why one poll loop serves them all), their output
 * buffers, and how a process's end is recorded: the exit the engine
 * reports, read against what sbx did (a signal it sent, the session's
 * end) and the container's state (OOM kill, container stopped), becomes
 * the record's state and a lifecycle event; then waiters wake and the
 * session's busy mark is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "lifecycle.h"
#include "log.h"
#include "logbus.h"
#include "procs_int.h"
#include "monotime.h"

/* ---- output */

/* Makes room for a new buffer of cap bytes under RINGS_TOTAL_MAX by
 * dropping the unread output of ended processes, oldest first (counted
 * as dropped, so their next read says so); 0 when that is not enough. */
static int
ring_budget(struct procs *ps, size_t cap)
{
	struct proc *q;

	for (q = ps->head; q != NULL && ps->ring_bytes + cap > RINGS_TOTAL_MAX;
	    q = q->next)
		if (q->state != PROCS_RUNNING && q->ring != NULL) {
			q->dropped += q->len;
			procs_ring_free(q);
		}
	return ps->ring_bytes + cap <= RINGS_TOTAL_MAX;
}

void
procs_ring_free(struct proc *p)
{
	if (p->ring == NULL)
		return;
	free(p->ring);
	p->ring = NULL;
	p->start = p->len = 0;
	p->ps->ring_bytes -= p->ps->srv->cfg->process_output_max_bytes;
}

/* Appends to the unread ring, dropping its oldest bytes past the cap. */
static void
ring_add(struct proc *p, const unsigned char *d, size_t n)
{
	size_t cap = p->ps->srv->cfg->process_output_max_bytes, pos, first;

	if (p->ring == NULL) {
		if (!ring_budget(p->ps, cap) || (p->ring = malloc(cap)) == NULL) {
			p->dropped += n;
			return;
		}
		p->ps->ring_bytes += cap;
	}
	if (n >= cap) {
		p->dropped += p->len + (n - cap);
		d += n - cap;
		n = cap;
		p->start = p->len = 0;
	} else if (p->len + n > cap) {
		size_t drop = p->len + n - cap;

		p->start = (p->start + drop) % cap;
		p->len -= drop;
		p->dropped += drop;
	}
	pos = (p->start + p->len) % cap;
	first = n < cap - pos ? n : cap - pos;
	memcpy(p->ring + pos, d, first);
	memcpy(p->ring, d + first, n - first);
	p->len += n;
}

/* driver on_output: from the output thread (or procs_start's). */
void
procs_on_output(void *arg, int stream, const void *data, size_t n)
{
	struct proc *p = arg;
	struct procs *ps = p->ps;
	int quiet;

	if (data == NULL) {      /* lost on the way (driver.h): the next read says so */
		pthread_mutex_lock(&ps->mu);
		p->dropped += n;
		pthread_mutex_unlock(&ps->mu);
		return;
	}
	pthread_mutex_lock(&ps->mu);
	ring_add(p, data, n);
	quiet = p->quiet;
	pthread_mutex_unlock(&ps->mu);
	if (!quiet)
		logbus_emit(ps->srv, p->session, p->id,
		    stream == 2 ? LOGBUS_STDERR : LOGBUS_STDOUT, data, n);
}

/* ---- ending */

const char *
procs_sig_name(int sig)
{
	switch (sig) {
	case SIGTERM: return "TERM";
	case SIGKILL: return "KILL";
	case SIGINT: return "INT";
	default: return "?";
	}
}

#define PF_EXITING_FLAG 0x4u	/* the kernel's PF_EXITING, in stat's flags */

/* 1 when host pid is a live process: not a zombie and not exiting (a
 * container's init killed with the container stays in exit while the
 * kernel kills the rest of its pid namespace); 1 too when unknown. */
static int
host_pid_alive(int64_t pid)
{
	char path[64], data[512], *p, state;
	unsigned long flags = 0;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno != ENOENT;
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	data[n] = '\0';
	if ((p = strrchr(data, ')')) == NULL ||
	    sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return 1;
	return state != 'Z' && state != 'X' && !(flags & PF_EXITING_FLAG);
}

/* Why p, killed by a signal sbx did not send, died, from its container:
 * "OOM" (the container's count of OOM kills grew since p started; the
 * engine's OOMKilled flag only tells of its init), "stopped" (the
 * container is no longer running, or down: the engine found it stopped
 * while p ran, though a restart may have begun another run since), or
 * NULL. */
static const char *
container_cause(struct server *s, const struct proc *p, int down)
{
	struct driver_container_info ci;
	struct driver_usage u;
	struct err e;

	if (p->container[0] == '\0')
		return NULL;
	if (p->oom_known && s->drv->ops->stats != NULL &&
	    s->drv->ops->stats(s->drv, p->container, &u, &e) == SBXD_OK &&
	    u.oom_kills > p->oom_base)
		return "OOM";
	if (s->drv->ops->inspect(s->drv, p->container, &ci, &e) != SBXD_OK)
		return down ? "stopped" : NULL;
	/* The engine may not have seen its init die yet: ask the kernel. */
	return ci.oom_killed ? "OOM" : !ci.running || !host_pid_alive(ci.pid) || down ?
	    "stopped" : NULL;
}

/* Records the end of p: st from the engine, or gone (with why) when the
 * engine no longer knows the exec. Emits the event, wakes the waiters,
 * leaves the busy mark. Called by the output thread, holding a ref. */
static void
finish(struct procs *ps, struct proc *p, const struct driver_proc_status *st,
    const char *gone)
{
	struct server *s = ps->srv;
	enum procs_state state = PROCS_EXITED;
	int code = gone ? -1 : st->exit_code, busy, sig, quiet, down;
	const char *cause;
	char what[160];

	pthread_mutex_lock(&ps->mu);
	sig = p->sent_sig;
	quiet = p->quiet;
	down = p->container_down;
	pthread_mutex_unlock(&ps->mu);

	if (p->end_reason != NULL) {
		state = PROCS_KILLED;
		snprintf(what, sizeof(what), "killed: %s", p->end_reason);
	} else if (gone != NULL) {
		state = PROCS_KILLED;
		snprintf(what, sizeof(what), "killed: its container went away "
		    "(%.100s)", gone);
	} else if (sig != 0 && code > 128) {
		state = PROCS_KILLED;
		snprintf(what, sizeof(what), "killed by signal %s (exit code "
		    "%d)", procs_sig_name(code - 128 == sig ? sig : code - 128), code);
	} else if ((code >= 128 || code < 0) &&
	    (cause = container_cause(s, p, down)) != NULL) {
		state = PROCS_KILLED;
		if (code == 128)	/* runsc's exec, failing as the sandbox died */
			code = 128 + SIGKILL;
		if (strcmp(cause, "OOM") == 0)
			snprintf(what, sizeof(what), "OOM-killed (exit code %d): "
			    "the session's memory limit was reached", code);
		else
			snprintf(what, sizeof(what), "killed: the session's "
			    "container stopped (exit code %d)", code);
	} else if (code > 128 && code < 160) {
		snprintf(what, sizeof(what), "exited with code %d (killed by "
		    "signal %d)", code, code - 128);
	} else
		snprintf(what, sizeof(what), "exited with code %d", code);
	if (!quiet)
		logbus_emitf(s, p->session, p->id, "%s", what);
	procs_adopt_forget(s, p);
	pthread_mutex_lock(&ps->mu);
	p->state = state;
	p->exit_code = code;
	p->ended_ms = server_now_ms();
	busy = p->busy;
	p->busy = 0;
	procs_drop_dp(p);
	if (p->end_reason != NULL && p->listed)
		procs_unlink(ps, p);
	else
		procs_trim_finished(ps, p->session);
	pthread_cond_broadcast(&ps->ended);
	pthread_mutex_unlock(&ps->mu);
	if (busy)
		lifecycle_busy_leave(s, p->session);
}

/* ---- the output thread */

void
procs_wake(struct procs *ps)
{
	char c = 1;

	(void)!write(ps->wake[1], &c, 1);
}

/* Fills the poll set with the processes whose stream is open, holding
 * each (ps->mu held); returns their count and the poll timeout. */
static size_t
poll_set(struct procs *ps, int *timeout)
{
	uint64_t now = monotime_ms(), next = 0;
	struct driver_ops const *ops = ps->srv->drv->ops;
	size_t n = 0, need = 1;
	struct proc *p;
	void *np;

	for (p = ps->head; p != NULL; p = p->next)
		need += p->state == PROCS_RUNNING;
	if (need > ps->poll_cap) {
		if ((np = realloc(ps->pfds, need * sizeof(*ps->pfds))) != NULL)
			ps->pfds = np;
		if (np != NULL && (np = realloc(ps->polled,
		    need * sizeof(*ps->polled))) != NULL) {
			ps->polled = np;
			ps->poll_cap = need;
		}
	}
	ps->pfds[0] = (struct pollfd){ .fd = ps->wake[0], .events = POLLIN };
	for (p = ps->head; p != NULL; p = p->next) {
		if (p->state != PROCS_RUNNING || p->dp == NULL)
			continue;	/* ended, or still starting */
		if (p->eof || p->container_down) {
			if (next == 0 || p->recheck_ms < next)
				next = p->recheck_ms;
			if (p->eof)
				continue;
		}
		if (n + 1 >= ps->poll_cap)
			break;	/* out of memory: the rest wait a round */
		p->refs++;
		p->dp_users++;
		ps->polled[n] = p;
		ps->pfds[++n] = (struct pollfd){ .fd = ops->proc_fd(p->dp),
		    .events = POLLIN };
	}
	*timeout = next == 0 ? -1 : next <= now ? 0 : (int)(next - now);
	return n;
}

static void
pump(struct procs *ps, struct proc *p)
{
	int eof = 0;
	struct err e;

	if (ps->srv->drv->ops->proc_pump(p->dp, &eof, &e) != SBXD_OK)
		log_warnx("process %s of session %s: %s", p->id, p->session,
		    e.msg);
	if (eof) {
		pthread_mutex_lock(&ps->mu);
		p->eof = 1;
		p->recheck_ms = monotime_ms();
		pthread_mutex_unlock(&ps->mu);
	}
}

/* For a process whose container the engine found stopped (procs.h's
 * procs_container_stopped), given what its driver said of it (rv, st):
 * 1 when it is to be recorded killed with its container, st then saying
 * so (137). The engine may still call its exec running or no longer know
 * it, and under gVisor its exec may have failed (128) once the sandbox
 * died under it; a process that ended on its own keeps its exit. */
static int
went_with_container(sbxd_code rv, struct driver_proc_status *st)
{
	if (rv == SBXD_OK && !st->running && st->exit_code >= 0 && st->exit_code != 128)
		return 0;
	if (rv != SBXD_OK && rv != SBXD_NOT_FOUND)
		return 0;	/* the engine is busy or away: asked again */
	st->running = 0;
	st->exit_code = 128 + SIGKILL;
	return 1;
}

/* Asks the engine about every process whose stream ended, or whose
 * container stopped, and is due. */
static void
recheck(struct procs *ps)
{
	struct driver_proc_status st;
	uint64_t now = monotime_ms();
	struct proc *p, *due;
	struct err e;
	sbxd_code rv;
	int down;

	for (;;) {
		due = NULL;
		pthread_mutex_lock(&ps->mu);
		for (p = ps->head; p != NULL && due == NULL; p = p->next)
			if (p->state == PROCS_RUNNING && (p->eof || p->container_down) &&
			    p->dp != NULL && p->recheck_ms <= now) {
				due = p;
				p->refs++;
				p->dp_users++;
				p->recheck_every = p->recheck_every == 0 ?
				    RECHECK_MS : p->recheck_every * 2;
				if (p->recheck_every > RECHECK_MAX_MS)
					p->recheck_every = RECHECK_MAX_MS;
				p->recheck_ms = now + p->recheck_every;
			}
		pthread_mutex_unlock(&ps->mu);
		if (due == NULL)
			return;
		st = (struct driver_proc_status){ .exit_code = -1 };
		rv = ps->srv->drv->ops->proc_status(due->dp, &st, &e);
		pthread_mutex_lock(&ps->mu);
		due->dp_users--;
		down = due->container_down;
		pthread_mutex_unlock(&ps->mu);
		if (down && went_with_container(rv, &st))
			finish(ps, due, &st, NULL);
		else if (rv == SBXD_NOT_FOUND)	/* the exec went with its container */
			finish(ps, due, NULL, e.msg);
		else if (rv != SBXD_OK)		/* the engine is busy or away */
			log_warnx("process %s of session %s: asking for its exit: "
			    "%s; asking again", due->id, due->session, e.msg);
		else if (!st.running)
			finish(ps, due, &st, NULL);
		pthread_mutex_lock(&ps->mu);
		procs_unref(due);
		pthread_mutex_unlock(&ps->mu);
	}
}

void *
procs_output_thread(void *arg)
{
	struct procs *ps = arg;
	char drain[64];
	size_t n;
	int timeout;

	for (;;) {
		pthread_mutex_lock(&ps->mu);
		if (ps->stopping) {
			pthread_mutex_unlock(&ps->mu);
			return NULL;
		}
		n = poll_set(ps, &timeout);
		pthread_mutex_unlock(&ps->mu);
		if (poll(ps->pfds, n + 1, timeout) < 0 && errno != EINTR)
			log_warn("polling process output");
		if (ps->pfds[0].revents & POLLIN)
			while (read(ps->wake[0], drain, sizeof(drain)) > 0)
				;
		for (size_t i = 0; i < n; i++)
			if (ps->pfds[i + 1].revents != 0)
				pump(ps, ps->polled[i]);
		pthread_mutex_lock(&ps->mu);
		for (size_t i = 0; i < n; i++) {
			ps->polled[i]->dp_users--;
			procs_drop_dp(ps->polled[i]);
			procs_unref(ps->polled[i]);
		}
		pthread_mutex_unlock(&ps->mu);
		recheck(ps);
	}
}

/* Moves p's unread output to a new buffer (ps->mu held). */
sbxd_code
procs_take_output(struct proc *p, void **out, size_t *n, struct err *e)
{
	size_t cap = p->ps->srv->cfg->process_output_max_bytes, first, hl = 0;
	char head[128];
	unsigned char *b;

	*out = NULL;
	*n = 0;
	if (p->len == 0 && p->dropped == 0)
		return SBXD_OK;
	if (p->dropped > 0)
		hl = (size_t)snprintf(head, sizeof(head), "[sbx: %llu bytes of "
		    "output dropped; a process buffer keeps the last %zu]\n",
		    (unsigned long long)p->dropped, cap);
	if ((b = malloc(hl + p->len + 1)) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	memcpy(b, head, hl);
	first = p->len < cap - p->start ? p->len : cap - p->start;
	if (p->len > 0) {
		memcpy(b + hl, p->ring + p->start, first);
		memcpy(b + hl + first, p->ring, p->len - first);
	}
	*out = b;
	*n = hl + p->len;
	p->start = p->len = 0;
	p->dropped = 0;
	if (p->state != PROCS_RUNNING)
		procs_ring_free(p);	/* it prints nothing more */
	return SBXD_OK;
}

