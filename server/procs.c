/*
 * procs.c — background processes (procs.h): their records, starting
 * them, waits, signals, stdin and reads. The output thread and how an
 * end is recorded are procs_io.c's.
 *
 * One thread reads every process's output: it polls all their stream
 * descriptors (plus a wake-up pipe) and pumps the readable ones, each
 * pump bounded so one flooding process cannot starve the others. A thread
 * per process would be simpler, but on a small machine with many
 * sessions a few hundred mostly idle threads cost stacks and scheduler
 * work for nothing; the poll loop costs one thread whatever the count.
 * When a stream ends the same thread asks the engine for the exit (the
 * engine records it a moment later, and a process may close its output
 * and go on, so it asks again, backing off from RECHECK_MS to
 * RECHECK_MAX_MS), records it, emits the event, wakes the waiters and
 * leaves the session's busy mark.
 *
 * WaitProcess blocks its command worker (rpc.c: long calls have their own
 * workers) on a condition variable, bounded twice: by a ceiling on one
 * wait (process_wait_max) and by a ceiling on waits at once (half the
 * command workers), so waits can never take every one of them; the
 * client library repeats waits for longer ones. rpc.c has no way to
 * answer a request later, which a wait list woken on exit would need.
 *
 * Locking: ps->mu guards the list and every field of every record except
 * dp's own internals; nothing blocking (driver, log bus) runs under it.
 * A record's dp stays valid while dp_users > 0 or it runs; refs keep the
 * record itself (the list holds one).
 */
#define _GNU_SOURCE		/* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "lifecycle.h"
#include "log.h"
#include "logbus.h"
#include "procs.h"
#include "procs_int.h"
#include "monotime.h"

#define STDIN_TIMEOUT_MS	10000	/* one SendStdin */
#define CMD_SHOWN		200	/* command bytes in the started event */
#define KILL_AGAIN_MS		250	/* KILL what a killed group forked since */
#define SESSION_END_WAIT_MS	30000	/* the processes' ends, at session end */
#define ADOPT_LOOKUP_MS		5000	/* a process still being taken back, at a call */

/* ---- records (ps->mu held) */

static void
proc_free(struct proc *p)
{
	if (p->dp != NULL)
		p->ps->srv->drv->ops->proc_free(p->dp);
	pthread_mutex_destroy(&p->stdin_mu);
	free(p->command);
	procs_ring_free(p);
	free(p);
}

void
procs_unref(struct proc *p)
{
	if (--p->refs == 0)
		proc_free(p);
}

/* Closes a finished process's connection once nobody uses it. */
void
procs_drop_dp(struct proc *p)
{
	if (p->state != PROCS_RUNNING && p->dp_users == 0 && p->dp != NULL &&
	    !p->closed) {
		p->ps->srv->drv->ops->proc_close(p->dp);
		p->closed = 1;
	}
}

void
procs_unlink(struct procs *ps, struct proc *p)
{
	struct proc **pp;

	for (pp = &ps->head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			p->listed = 0;
			procs_unref(p);
			return;
		}
}

static struct proc *
find(struct procs *ps, const char *session, const char *id)
{
	for (struct proc *p = ps->head; p != NULL; p = p->next)
		if (strcmp(p->session, session) == 0 && strcmp(p->id, id) == 0)
			return p;
	return NULL;
}

/* find, but a process still being taken back after a restart is waited
 * for (its agent redials within about a second), up to ADOPT_LOOKUP_MS;
 * ps->mu held (released while waiting). NULL with *e set when there is
 * none: NOT_FOUND, or UNAVAILABLE while it is still being taken back. */
static struct proc *
lookup(struct procs *ps, const char *session, const char *id, struct err *e)
{
	uint64_t end = monotime_ms() + ADOPT_LOOKUP_MS;
	struct proc *p;

	while ((p = find(ps, session, id)) == NULL && procs_adopt_pending(ps, session, id)) {
		if (monotime_ms() >= end) {
			err_set(e, SBXD_UNAVAILABLE, "process %.32s is being taken back after sbxd "
			    "restarted (its agent has not redialled yet); retry", id);
			return NULL;
		}
		monotime_wait_ms(&ps->ended, &ps->mu, 100);
	}
	if (p == NULL)
		err_set(e, SBXD_NOT_FOUND, "no process \"%.32s\" in this session; "
		    "ListProcesses shows its processes", id);
	return p;
}

static int
count_running(struct procs *ps, const char *session)
{
	int n = 0;

	for (struct proc *p = ps->head; p != NULL; p = p->next)
		n += strcmp(p->session, session) == 0 && p->state == PROCS_RUNNING;
	return n;
}

void
procs_counts(struct server *s, int64_t *running, int64_t *kept)
{
	struct procs *ps = s->procs;

	*running = *kept = 0;
	if (ps == NULL)
		return;
	pthread_mutex_lock(&ps->mu);
	for (struct proc *p = ps->head; p != NULL; p = p->next) {
		*running += p->state == PROCS_RUNNING;
		(*kept)++;
	}
	pthread_mutex_unlock(&ps->mu);
}

/* Forgets the oldest finished records of session past KEEP_FINISHED. */
void
procs_trim_finished(struct procs *ps, const char *session)
{
	struct proc *p, *next;
	int n = 0;

	for (p = ps->head; p != NULL; p = p->next)
		n += strcmp(p->session, session) == 0 && p->state != PROCS_RUNNING;
	for (p = ps->head; p != NULL && n > KEEP_FINISHED; p = next) {
		next = p->next;
		if (strcmp(p->session, session) == 0 && p->state != PROCS_RUNNING) {
			procs_unlink(ps, p);
			n--;
		}
	}
}

static sbxd_code
info_fill(const struct proc *p, struct procs_info *info, struct err *e)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->id, sizeof(info->id), "%s", p->id);
	if ((info->command = strdup(p->command)) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	info->state = p->state;
	info->exit_code = p->exit_code;
	info->started_ms = p->started_ms;
	info->ended_ms = p->ended_ms;
	info->pid = p->pid;
	return SBXD_OK;
}

void
procs_info_fini(struct procs_info *info)
{
	free(info->command);
	info->command = NULL;
}

void
procs_infos_free(struct procs_info *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		procs_info_fini(&v[i]);
	free(v);
}

/* ---- open, close */

sbxd_code
procs_open(struct server *s, struct err *e)
{
	struct procs *ps;

	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	ps->srv = s;
	ps->wake[0] = ps->wake[1] = -1;
	if ((ps->pfds = calloc(1, sizeof(*ps->pfds))) == NULL ||
	    (ps->polled = calloc(1, sizeof(*ps->polled))) == NULL ||
	    pipe2(ps->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(ps->pfds);
		free(ps->polled);
		free(ps);
		return err_set(e, SBXD_INTERNAL, "procs: %s", strerror(errno));
	}
	ps->poll_cap = 1;
	pthread_mutex_init(&ps->mu, NULL);
	monotime_cond_init(&ps->ended);
	s->procs = ps;
	if (pthread_create(&ps->thread, NULL, procs_output_thread, ps) != 0) {
		procs_close(s);
		return err_set(e, SBXD_INTERNAL, "starting the process output "
		    "thread failed");
	}
	ps->running = 1;
	return SBXD_OK;
}

void
procs_drain(struct server *s)
{
	struct procs *ps = s->procs;

	/* processes that outlive sbxd: their output waits for the next one */
	if (s->drv->ops->detach != NULL)
		s->drv->ops->detach(s->drv);

	if (ps == NULL)
		return;
	pthread_mutex_lock(&ps->mu);
	ps->draining = 1;
	pthread_cond_broadcast(&ps->ended);
	pthread_mutex_unlock(&ps->mu);
}

void
procs_close(struct server *s)
{
	struct procs *ps = s->procs;
	struct proc *p;

	if (ps == NULL)
		return;
	pthread_mutex_lock(&ps->mu);
	ps->stopping = 1;
	pthread_cond_broadcast(&ps->ended);
	pthread_mutex_unlock(&ps->mu);
	procs_adopt_stop(ps);
	if (ps->running) {
		procs_wake(ps);
		pthread_join(ps->thread, NULL);
	}
	while ((p = ps->head) != NULL) {
		ps->head = p->next;
		if (p->state == PROCS_RUNNING)
			log_info("process %s of session %s is left running "
			    "without sbx", p->id, p->session);
		procs_unref(p);
	}
	close(ps->wake[0]);
	close(ps->wake[1]);
	free(ps->pfds);
	free(ps->polled);
	pthread_cond_destroy(&ps->ended);
	pthread_mutex_destroy(&ps->mu);
	free(ps);
	s->procs = NULL;
}

/* ---- the operations */

static struct proc *
proc_new(struct procs *ps, const struct session_row *r, const char *command)
{
	struct proc *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->command = strdup(command)) == NULL) {
		free(p);
		return NULL;
	}
	p->ps = ps;
	snprintf(p->session, sizeof(p->session), "%s", r->id);
	snprintf(p->container, sizeof(p->container), "%s", r->container_id);
	p->state = PROCS_RUNNING;
	p->exit_code = -1;
	p->refs = 1;
	pthread_mutex_init(&p->stdin_mu, NULL);
	return p;
}

/* Appends p to the list under a fresh id, unless the session is full. */
static sbxd_code
proc_add(struct procs *ps, struct proc *p, struct err *e)
{
	int max = ps->srv->cfg->max_processes_per_session;
	struct proc **pp;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&ps->mu);
	if (count_running(ps, p->session) >= max) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "the session already "
		    "runs %d background processes (max_processes_per_session);"
		    " wait for or kill one first", max);
		goto out;
	}
	snprintf(p->id, sizeof(p->id), "p%llu", ++ps->next_id);
	for (pp = &ps->head; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = p;
	p->listed = 1;
out:
	pthread_mutex_unlock(&ps->mu);
	return rv;
}

static sbxd_code
proc_launch(struct server *s, struct proc *p, const struct procs_start_args *a,
    struct err *e)
{
	const char *sh[] = { "sh", "-c", a->command, NULL };
	const char *const *argv = a->argv != NULL ? a->argv : sh;
	struct driver_proc_status st;
	struct driver_exec_spec spec;
	struct driver_proc *dp = NULL;
	struct driver_usage u;
	char user[32];
	struct err ignored;
	sbxd_code rv;

	snprintf(user, sizeof(user), "%d:%d", (int)s->cfg->sandbox_uid,
	    (int)s->cfg->sandbox_gid);
	spec = (struct driver_exec_spec){
		.container_id = p->container, .argv = argv, .words = a->argv != NULL,
		.env = a->env,
		.user = user, .workdir = a->cwd ? a->cwd : "/workspace",
		.on_output = procs_on_output, .on_output_arg = p,
	};
	if (s->drv->ops->stats != NULL &&
	    s->drv->ops->stats(s->drv, p->container, &u, &ignored) == SBXD_OK) {
		p->oom_base = u.oom_kills;	/* read only once dp is set */
		p->oom_known = 1;
	}
	if ((rv = s->drv->ops->proc_start(s->drv, &spec, &dp, e)) != SBXD_OK)
		return rv;
	if (s->drv->ops->proc_status(dp, &st, &ignored) != SBXD_OK)
		st.pid = 0;
	procs_adopt_record(s, p, dp);
	pthread_mutex_lock(&s->procs->mu);
	p->dp = dp;		/* from now on the output thread sees it */
	p->pid = st.pid;
	p->busy = 1;
	pthread_mutex_unlock(&s->procs->mu);
	return SBXD_OK;
}

sbxd_code
procs_start(struct server *s, const struct session_row *r,
    const struct procs_start_args *a, struct procs_info *info, struct err *e)
{
	struct procs *ps = s->procs;
	struct proc *p;
	sbxd_code rv;

	memset(info, 0, sizeof(*info));
	if (s->drv->ops->proc_start == NULL)
		return err_set(e, SBXD_UNIMPLEMENTED, "this container driver has "
		    "no background processes");
	if ((p = proc_new(ps, r, a->command)) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	if ((rv = proc_add(ps, p, e)) != SBXD_OK) {
		proc_free(p);
		return rv;
	}
	p->started_ms = server_now_ms();
	if ((rv = proc_launch(s, p, a, e)) != SBXD_OK) {
		pthread_mutex_lock(&ps->mu);
		procs_unlink(ps, p);
		pthread_mutex_unlock(&ps->mu);
		return rv;
	}
	logbus_emitf(s, p->session, p->id, "started: %.*s", CMD_SHOWN,
	    p->command);
	pthread_mutex_lock(&ps->mu);
	rv = info_fill(p, info, e);
	pthread_mutex_unlock(&ps->mu);
	procs_wake(ps);
	log_info("session %s: process %s started", p->session, p->id);
	return rv;
}

sbxd_code
procs_list(struct server *s, const char *session, struct procs_info **out,
    size_t *n, struct err *e)
{
	struct procs *ps = s->procs;
	struct procs_info *v = NULL;
	size_t cnt = 0, i = 0;
	struct proc *p;
	sbxd_code rv = SBXD_OK;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&ps->mu);
	for (p = ps->head; p != NULL; p = p->next)
		cnt += strcmp(p->session, session) == 0;
	if (cnt > 0 && (v = calloc(cnt, sizeof(*v))) == NULL)
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	for (p = ps->head; rv == SBXD_OK && p != NULL; p = p->next)
		if (strcmp(p->session, session) == 0)
			rv = info_fill(p, &v[i++], e);
	pthread_mutex_unlock(&ps->mu);
	if (rv != SBXD_OK) {
		procs_infos_free(v, i);
		return rv;
	}
	*out = v;
	*n = cnt;
	return SBXD_OK;
}

/* Waits on ps->ended until p ends or deadline (monotonic ms); ps->mu held. */
static void
wait_end(struct procs *ps, struct proc *p, uint64_t deadline)
{
	struct timespec ts = { (time_t)(deadline / 1000),
	    (long)(deadline % 1000) * 1000000L };

	while (p->state == PROCS_RUNNING && !ps->stopping && !ps->draining &&
	    monotime_ms() < deadline)
		if (pthread_cond_timedwait(&ps->ended, &ps->mu, &ts) ==
		    ETIMEDOUT)
			break;
}

/* Waits at once: half the command workers, so waits never take them all. */
static int
procs_max_waiters(const struct server *s)
{
	return s->cfg->command_workers / 2 > 0 ? s->cfg->command_workers / 2 : 1;
}

sbxd_code
procs_wait(struct server *s, const char *session, const char *id,
    uint64_t timeout_ms, struct procs_info *info, int *timed_out, struct err *e)
{
	struct procs *ps = s->procs;
	int max_waiters = procs_max_waiters(s);
	struct proc *p;
	sbxd_code rv;

	memset(info, 0, sizeof(*info));
	*timed_out = 0;
	if (timeout_ms > s->cfg->process_wait_max_ms)
		timeout_ms = s->cfg->process_wait_max_ms;
	pthread_mutex_lock(&ps->mu);
	if ((p = lookup(ps, session, id, e)) == NULL) {
		rv = e->code;
		goto out;
	}
	if (p->state == PROCS_RUNNING && timeout_ms > 0) {
		if (ps->waiters >= max_waiters) {
			rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "%d WaitProcess "
			    "calls are waiting already; retry shortly or wait "
			    "with timeout_ms 0 (poll)", ps->waiters);
			goto out;
		}
		ps->waiters++;
		p->refs++;
		wait_end(ps, p, monotime_ms() + timeout_ms);
		ps->waiters--;
	} else
		p->refs++;
	*timed_out = p->state == PROCS_RUNNING;
	rv = info_fill(p, info, e);
	procs_unref(p);
out:
	pthread_mutex_unlock(&ps->mu);
	return rv;
}

/* Holds p's connection for a call outside the lock: FAILED_PRECONDITION
 * once it ended (ps->mu held). */
static sbxd_code
hold_running(struct proc *p, const char *doing, struct err *e)
{
	if (p->state == PROCS_RUNNING && p->dp == NULL)
		return err_set(e, SBXD_UNAVAILABLE, "process %s is still "
		    "starting; retry", p->id);
	if (p->state != PROCS_RUNNING)
		return err_set(e, SBXD_FAILED_PRECONDITION, "process %s has "
		    "already ended (exit code %d); cannot %s", p->id,
		    p->exit_code, doing);
	p->refs++;
	p->dp_users++;
	return SBXD_OK;
}

/* Holds p's driver handle, running or ended, for a signal (ps->mu held). */
static sbxd_code
hold_any(struct proc *p, struct err *e)
{
	if (p->dp == NULL)
		return err_set(e, SBXD_UNAVAILABLE, "process %s is still "
		    "starting; retry", p->id);
	p->refs++;
	p->dp_users++;
	return SBXD_OK;
}

static void
release(struct procs *ps, struct proc *p)
{
	pthread_mutex_lock(&ps->mu);
	p->dp_users--;
	procs_drop_dp(p);
	procs_unref(p);
	pthread_mutex_unlock(&ps->mu);
}

/* Holds the processes to signal (one, or all running) into *out. */
static sbxd_code
signal_targets(struct procs *ps, const char *session, const char *id,
    struct proc ***out, size_t *n, struct err *e)
{
	struct proc *p, **v;
	size_t cnt = 0;
	sbxd_code rv = SBXD_OK;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&ps->mu);
	for (p = ps->head; p != NULL; p = p->next)
		cnt += strcmp(p->session, session) == 0;
	if ((v = calloc(cnt + 1, sizeof(*v))) == NULL) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	if (id != NULL) {
		if ((p = lookup(ps, session, id, e)) == NULL)
			rv = e->code;
		else if ((rv = hold_any(p, e)) == SBXD_OK)
			v[(*n)++] = p;
	} else {
		for (p = ps->head; p != NULL; p = p->next)
			if (strcmp(p->session, session) == 0 &&
			    hold_any(p, e) == SBXD_OK)
				v[(*n)++] = p;
		err_clear(e);	/* the ones still starting are skipped */
	}
out:
	pthread_mutex_unlock(&ps->mu);
	if (rv != SBXD_OK) {
		free(v);
		v = NULL;
	}
	*out = v;
	return rv;
}

/* Waits until the held processes v[0..cnt) that were running when
 * KILLed (alive[i]) have ended, re-sending KILL to what is left of each
 * group every KILL_AGAIN_MS (a process forking while its group is
 * killed), for at most wait_ms. The number of waits at once is bounded
 * as WaitProcess's. DEADLINE_EXCEEDED naming the first one still running
 * at the bound; RESOURCE_EXHAUSTED when too many waits are under way. */
static sbxd_code
kill_wait(struct server *s, struct proc **v, const int *alive, size_t cnt,
    uint64_t wait_ms, struct err *e)
{
	struct procs *ps = s->procs;
	int max_waiters = procs_max_waiters(s);
	uint64_t deadline = monotime_ms() + wait_ms, slice;
	struct err ignored;
	sbxd_code rv = SBXD_OK;
	int hit;

	pthread_mutex_lock(&ps->mu);
	if (ps->waiters >= max_waiters) {
		pthread_mutex_unlock(&ps->mu);
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "KILL sent, but %d "
		    "calls are waiting for processes already, so this one does "
		    "not wait for the exit; WaitProcess shows when it ends",
		    ps->waiters);
	}
	ps->waiters++;
	for (size_t i = 0; i < cnt && rv == SBXD_OK; i++) {
		while (alive[i] && v[i]->state == PROCS_RUNNING &&
		    !ps->stopping && !ps->draining && monotime_ms() < deadline) {
			slice = monotime_ms() + KILL_AGAIN_MS;
			wait_end(ps, v[i], slice < deadline ? slice : deadline);
			if (v[i]->state != PROCS_RUNNING)
				break;
			pthread_mutex_unlock(&ps->mu);
			s->drv->ops->proc_signal(v[i]->dp, SIGKILL, &hit, &ignored);
			pthread_mutex_lock(&ps->mu);
		}
		if (alive[i] && v[i]->state == PROCS_RUNNING)
			rv = err_set(e, SBXD_DEADLINE_EXCEEDED, "KILL was sent to "
			    "process %s but its exit was not seen within %llu ms; "
			    "WaitProcess or ListProcesses shows when it ends",
			    v[i]->id, (unsigned long long)wait_ms);
	}
	ps->waiters--;
	pthread_mutex_unlock(&ps->mu);
	return rv;
}

sbxd_code
procs_signal(struct server *s, const char *session, const char *id, int sig,
    uint64_t wait_ms, unsigned *n, struct err *e)
{
	struct procs *ps = s->procs;
	struct proc **v;
	size_t cnt;
	int hit, ended = 0, killed = 0, code = -1, *alive = NULL;
	sbxd_code rv;

	*n = 0;
	if ((rv = signal_targets(ps, session, id, &v, &cnt, e)) != SBXD_OK)
		return rv;
	if ((alive = calloc(cnt + 1, sizeof(*alive))) == NULL) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		pthread_mutex_lock(&ps->mu);
		if (v[i]->state == PROCS_RUNNING)
			v[i]->sent_sig = sig;
		ended = v[i]->state != PROCS_RUNNING;
		killed = ended && v[i]->sent_sig == SIGKILL;
		alive[i] = !ended && sig == SIGKILL;
		code = v[i]->exit_code;
		pthread_mutex_unlock(&ps->mu);
		hit = 0;
		s->drv->ops->proc_signal(v[i]->dp, sig, &hit, e);
		if (hit > 0) {
			(*n)++;
			logbus_emitf(s, session, v[i]->id, "signal %s sent to "
			    "%d process%s", procs_sig_name(sig), hit, hit == 1 ? "" :
			    "es");
		}
	}
	err_clear(e);
	rv = SBXD_OK;
	if (sig == SIGKILL)
		rv = kill_wait(s, v, alive, cnt, wait_ms, e);
	/* What a KILL left of a group is dying with it (the kernel may not
	 * have finished), so a process sbx KILLed has ended, whatever the
	 * signal still reaches; one that exited by itself may have left live
	 * children, which are fair game. */
	if (rv == SBXD_OK && id != NULL && killed)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "process %s has already "
		    "been killed (exit code %d)", id, code);
	else if (rv == SBXD_OK && id != NULL && *n == 0 && ended)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "process %s has already "
		    "ended (exit code %d) and left nothing of its process group "
		    "to signal", id, code);
out:
	for (size_t i = 0; i < cnt; i++)
		release(ps, v[i]);
	free(alive);
	free(v);
	return rv;
}

/* Finds and holds a running process for its stdin. */
static sbxd_code
hold_stdin(struct procs *ps, const char *session, const char *id,
    struct proc **out, struct err *e)
{
	struct proc *p;
	sbxd_code rv;

	*out = NULL;
	pthread_mutex_lock(&ps->mu);
	if ((p = lookup(ps, session, id, e)) == NULL)
		rv = e->code;
	else if (p->stdin_closed && p->state == PROCS_RUNNING)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "process %s's stdin "
		    "is closed already", id);
	else if ((rv = hold_running(p, "use its stdin", e)) == SBXD_OK)
		*out = p;
	pthread_mutex_unlock(&ps->mu);
	return rv;
}

sbxd_code
procs_send_stdin(struct server *s, const char *session, const char *id,
    const void *data, size_t n, struct err *e)
{
	struct procs *ps = s->procs;
	struct proc *p;
	sbxd_code rv;

	if ((rv = hold_stdin(ps, session, id, &p, e)) != SBXD_OK)
		return rv;
	pthread_mutex_lock(&p->stdin_mu);
	rv = s->drv->ops->proc_write_stdin(p->dp, data, n, STDIN_TIMEOUT_MS, e);
	pthread_mutex_unlock(&p->stdin_mu);
	release(ps, p);
	return rv;
}

sbxd_code
procs_close_stdin(struct server *s, const char *session, const char *id,
    struct err *e)
{
	struct procs *ps = s->procs;
	struct proc *p;
	sbxd_code rv;

	if ((rv = hold_stdin(ps, session, id, &p, e)) != SBXD_OK)
		return rv;
	pthread_mutex_lock(&p->stdin_mu);
	if ((rv = s->drv->ops->proc_close_stdin(p->dp, e)) == SBXD_OK) {
		pthread_mutex_lock(&ps->mu);
		p->stdin_closed = 1;
		pthread_mutex_unlock(&ps->mu);
	}
	pthread_mutex_unlock(&p->stdin_mu);
	release(ps, p);
	return rv;
}

sbxd_code
procs_read_output(struct server *s, const char *session, const char *id,
    void **out, size_t *n, struct procs_info *info, struct err *e)
{
	struct procs *ps = s->procs;
	struct proc *p;
	sbxd_code rv;

	*out = NULL;
	*n = 0;
	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&ps->mu);
	if ((p = lookup(ps, session, id, e)) == NULL)
		rv = e->code;
	else if ((rv = info_fill(p, info, e)) == SBXD_OK)
		rv = procs_take_output(p, out, n, e);
	pthread_mutex_unlock(&ps->mu);
	return rv;
}

void
procs_container_stopped(struct server *s, const char *container)
{
	struct procs *ps = s->procs;
	uint64_t now = monotime_ms();
	int hit = 0;

	if (ps == NULL || container[0] == '\0')
		return;
	pthread_mutex_lock(&ps->mu);
	/* only those whose exec had started: one starting now meets the
	 * stopped container (or the run a restart begins) */
	for (struct proc *p = ps->head; p != NULL; p = p->next)
		if (p->state == PROCS_RUNNING && p->dp != NULL && !p->container_down &&
		    strcmp(p->container, container) == 0) {
			p->container_down = 1;
			p->recheck_ms = now;
			p->recheck_every = 0;
			hit++;
		}
	pthread_mutex_unlock(&ps->mu);
	if (hit > 0)
		procs_wake(ps);
}

void
procs_session_end(struct server *s, const char *session, const char *reason)
{
	struct procs *ps = s->procs;
	struct proc **v = NULL, *p, *next;
	size_t cnt = 0;
	int hit, *alive;
	struct err e;

	if (ps == NULL)
		return;
	pthread_mutex_lock(&ps->mu);
	for (p = ps->head; p != NULL; p = p->next)
		cnt += strcmp(p->session, session) == 0;
	v = cnt ? calloc(cnt, sizeof(*v)) : NULL;
	cnt = 0;
	for (p = ps->head; p != NULL; p = next) {
		next = p->next;
		if (strcmp(p->session, session) != 0)
			continue;
		if (p->state != PROCS_RUNNING)
			procs_unlink(ps, p);
		else {
			p->end_reason = reason;
			p->quiet = 1;	/* the session's log goes with it */
			if (v != NULL && hold_running(p, "", &e) == SBXD_OK)
				v[cnt++] = p;
		}
	}
	pthread_mutex_unlock(&ps->mu);
	for (size_t i = 0; i < cnt; i++) {
		logbus_emitf(s, session, v[i]->id, "killed: %s", reason);
		s->drv->ops->proc_signal(v[i]->dp, SIGKILL, &hit, &e);
	}
	/* Done when they are gone, not when the signal is sent: a session
	 * ended is one whose processes no longer run. */
	if (cnt > 0 && (alive = calloc(cnt, sizeof(*alive))) != NULL) {
		for (size_t i = 0; i < cnt; i++)
			alive[i] = 1;
		if (kill_wait(s, v, alive, cnt, SESSION_END_WAIT_MS, &e) != SBXD_OK)
			log_warnx("session %s ends: %s", session, e.msg);
		free(alive);
	}
	for (size_t i = 0; i < cnt; i++)
		release(ps, v[i]);
	free(v);
}
