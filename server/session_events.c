/*
 * session_events.c — acting on the engine's container events at once, on
 * a thread of its own (see lifecycle.h).
 *
 * The thread follows driver_ops.events for this instance's containers
 * (label sbx.instance). An oom event puts a system event in the session's
 * log ("OOM-killed: memory limit 1 GiB"); a die event of a session's
 * container that sbx did not stop itself goes through session_note_exit:
 * the row becomes STOPPED with why ("oom" or "exited (N)"), and a system
 * event says so; a die of an idle warm-pool member takes it out of the
 * pool, which makes a new one (pool_forget). Processes of the session see
 * their streams end and record their exits themselves (procs.c). When the stream breaks (the
 * engine restarting) the thread reconnects with `since` just after the
 * last event it saw, or the time it last connected when it saw none, so
 * nothing in between is missed; the events before sbxd started are
 * recovery's (session_recover.c).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lifecycle.h"
#include "log.h"
#include "logbus.h"
#include "pool.h"
#include "session.h"
#include "monotime.h"

#define EVENTS_RETRY_MIN_MS 250      /* reconnect backoff, doubling */
#define EVENTS_RETRY_MAX_MS 5000

struct engine_events {
	struct server *s;
	pthread_t th;
	atomic_int stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t since_ns;           /* where the next subscription starts */
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "1 GiB", "512 MiB", or "none" into out. */
static void
mem_text(int64_t bytes, char *out, size_t n)
{
	if (bytes <= 0)
		snprintf(out, n, "none");
	else if (bytes % (1LL << 30) == 0)
		snprintf(out, n, "%" PRId64 " GiB", bytes >> 30);
	else if (bytes % (1LL << 20) == 0)
		snprintf(out, n, "%" PRId64 " MiB", bytes >> 20);
	else
		snprintf(out, n, "%" PRId64 " bytes", bytes);
}

static void
on_oom(struct server *s, const struct session_row *r)
{
	char mem[32];

	mem_text(r->memory_bytes, mem, sizeof(mem));
	log_info("session %s of user %s: the kernel OOM-killed a process in container %.12s "
	    "(memory limit %s)", r->id, r->user, r->container_id, mem);
	logbus_emitf(s, r->id, "", "OOM-killed: memory limit %s", mem);
}

static void
on_die(struct server *s, struct session_row *r)
{
	char mem[32];

	if (!session_note_exit(s, r, 1) || r->state != SESSION_STOPPED)
		return;             /* sbx stopped it, or it changed meanwhile */
	mem_text(r->memory_bytes, mem, sizeof(mem));
	if (strcmp(r->stop_reason, "oom") == 0)
		logbus_emitf(s, r->id, "", "container stopped: OOM-killed: memory limit %s", mem);
	else
		logbus_emitf(s, r->id, "", "container stopped: %s", r->stop_reason);
}

static void
on_event(void *arg, const struct driver_event *ev)
{
	struct engine_events *ee = arg;
	struct server *s = ee->s;
	struct session_row r;
	struct err e;

	if (ev->time_ns > 0) {
		pthread_mutex_lock(&ee->mu);
		if (ev->time_ns + 1 > ee->since_ns)
			ee->since_ns = ev->time_ns + 1;
		pthread_mutex_unlock(&ee->mu);
	}
	if (ev->session[0] == '\0' || ev->kind == DRIVER_EVENT_KILL) {
		log_debug("engine event %d on container %.12s%s", (int)ev->kind, ev->id,
		    ev->pool ? " (warm pool)" : "");
		return;
	}
	if (store_session_get(s->store, ev->session, &r, &e) != SBXD_OK) {
		if (ev->kind == DRIVER_EVENT_DIE && ev->pool)
			pool_forget(s, ev->id);     /* an idle member: replaced */
		return;
	}
	if (strcmp(r.container_id, ev->id) != 0 || r.state != SESSION_RUNNING)
		return;             /* an old container, or sbx's own stop */
	if (ev->kind == DRIVER_EVENT_OOM)
		on_oom(s, &r);
	else
		on_die(s, &r);
}

/* Waits ms or until stop; returns non-zero when stopping. */
static int
pause_ms(struct engine_events *ee, int64_t ms)
{
	struct timespec ts;

	ts = monotime_after_ms(CLOCK_REALTIME, (uint64_t)ms);
	pthread_mutex_lock(&ee->mu);
	while (!atomic_load(&ee->stop) && pthread_cond_timedwait(&ee->cv, &ee->mu, &ts) == 0)
		;
	pthread_mutex_unlock(&ee->mu);
	return atomic_load(&ee->stop);
}

static void *
events_main(void *arg)
{
	struct engine_events *ee = arg;
	struct server *s = ee->s;
	int64_t backoff = EVENTS_RETRY_MIN_MS, since, connected;
	int down = 0;
	struct err e;
	sbxd_code rv;

	while (!atomic_load(&ee->stop)) {
		pthread_mutex_lock(&ee->mu);
		since = ee->since_ns;
		pthread_mutex_unlock(&ee->mu);
		connected = now_ns();
		rv = s->drv->ops->events(s->drv, "sbx.instance", s->instance, since, on_event,
		    ee, &ee->stop, &e);
		if (atomic_load(&ee->stop))
			break;
		pthread_mutex_lock(&ee->mu);
		if (ee->since_ns == since && connected - 1000000000 > since)
			ee->since_ns = connected - 1000000000;   /* saw none: from then, with margin */
		pthread_mutex_unlock(&ee->mu);
		if (!down)
			log_warnx("engine events: %s; reconnecting", rv != SBXD_OK ? e.msg :
			    "stream ended");
		down = 1;
		if (pause_ms(ee, backoff))
			break;
		backoff = backoff * 2 > EVENTS_RETRY_MAX_MS ? EVENTS_RETRY_MAX_MS : backoff * 2;
		if (rv == SBXD_OK)
			backoff = EVENTS_RETRY_MIN_MS;
	}
	return NULL;
}

sbxd_code
lifecycle_events_start(struct server *s, struct err *e)
{
	struct engine_events *ee;

	if (s->drv->ops->events == NULL)
		return SBXD_OK;
	if ((ee = calloc(1, sizeof(*ee))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	ee->s = s;
	ee->since_ns = now_ns();
	pthread_mutex_init(&ee->mu, NULL);
	pthread_cond_init(&ee->cv, NULL);
	if (pthread_create(&ee->th, NULL, events_main, ee) != 0) {
		pthread_cond_destroy(&ee->cv);
		pthread_mutex_destroy(&ee->mu);
		free(ee);
		return err_set(e, SBXD_INTERNAL, "cannot start the engine events thread");
	}
	s->events = ee;
	return SBXD_OK;
}

void
lifecycle_events_stop(struct server *s)
{
	struct engine_events *ee = s->events;

	if (ee == NULL)
		return;
	pthread_mutex_lock(&ee->mu);
	atomic_store(&ee->stop, 1);
	pthread_cond_broadcast(&ee->cv);
	pthread_mutex_unlock(&ee->mu);
	pthread_join(ee->th, NULL);
	pthread_cond_destroy(&ee->cv);
	pthread_mutex_destroy(&ee->mu);
	free(ee);
	s->events = NULL;
}
