/*
 * watches.c — file watches (watches.h): their records, and the bridge
 * from the agent's watch_events frames to the log bus.
 *
 * Locking as terms.c: the registry's mu (recreg.h) guards the list; the
 * agent link's callbacks run under the link's lock and take mu inside it,
 * so nothing here calls an agentlink function while holding mu. A record's strings
 * and globs stay put until its last reference goes: the agent's frames
 * point into them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentlink.h"
#include "driver_agent.h"
#include "log.h"
#include "logbus.h"
#include "recreg.h"
#include "sbx/agent/v1/agent.pb-c.h"
#include "sbx/v1/sbx.pb-c.h"
#include "watches.h"

#define STOP_WAIT_MS      10000
#define BATCH_MAX         (LOGBUS_EVENT_MAX - 1024)   /* packed bytes of one event */

struct watch {
	struct recreg_node n;        /* first: session, id, refs (the list holds one) */
	struct server *srv;
	char *path;
	char **globs;
	struct agentlink *link;
	struct agent_watch *aw;
	struct agentlink_watch_opts o;
	int ended;
};

_Static_assert(WATCHES_ID_MAX == RECREG_ID_MAX, "watch ids are the registry's");

struct watches {
	struct recreg reg;
};

static void watch_free_node(struct recreg_node *n);

sbxd_code
watches_open(struct server *s, struct err *e)
{
	struct watches *ws = calloc(1, sizeof(*ws));

	if (ws == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	recreg_init(&ws->reg, 'w', watch_free_node);
	s->watches = ws;
	return SBXD_OK;
}

static void
watch_free(struct watch *w)
{
	agent_watch_free(w->aw);
	if (w->link != NULL)
		agentlink_unref(w->link);
	for (size_t i = 0; w->globs != NULL && w->globs[i] != NULL; i++)
		free(w->globs[i]);
	free(w->globs);
	free(w->path);
	free(w);
}

static void
watch_free_node(struct recreg_node *n)
{
	watch_free((struct watch *)n);
}

static void
watch_unref(struct watches *ws, struct watch *w)
{
	recreg_unref(&ws->reg, &w->n);
}

void
watches_close(struct server *s)
{
	struct watches *ws = s->watches;

	if (ws == NULL)
		return;
	recreg_fini(&ws->reg);
	free(ws);
	s->watches = NULL;
}

/* ---- the agent's callbacks (under the link's lock) */

static void
emit_batch(struct watch *w, Sbx__V1__WatchEventBatch *b)
{
	size_t n = sbx__v1__watch_event_batch__get_packed_size(b);
	uint8_t *buf;

	if (b->n_events == 0)
		return;
	if ((buf = malloc(n)) == NULL) {
		log_warnx("watch %s of session %s: out of memory; events dropped", w->n.id,
		    w->n.session);
		return;
	}
	sbx__v1__watch_event_batch__pack(b, buf);
	logbus_emit(w->srv, w->n.session, w->n.id, LOGBUS_WATCH, buf, n);
	free(buf);
}

/* The agent's events as WatchEventBatches of at most BATCH_MAX packed
 * bytes each (one log event each: the bus splits longer data). */
static void
on_events(void *arg, const Sbx__Agent__V1__WatchEvents *in)
{
	struct watch *w = arg;
	Sbx__V1__WatchEventBatch b = SBX__V1__WATCH_EVENT_BATCH__INIT;
	Sbx__V1__WatchEvent *evs, **ptrs;
	size_t bytes = 0, sz;

	if (in->n_events == 0)
		return;
	evs = calloc(in->n_events, sizeof(*evs));
	ptrs = calloc(in->n_events, sizeof(*ptrs));
	if (evs == NULL || ptrs == NULL) {
		free(evs);
		free(ptrs);
		return;
	}
	b.events = ptrs;
	for (size_t i = 0; i < in->n_events; i++) {
		const Sbx__Agent__V1__WatchEvent *a = in->events[i];
		Sbx__V1__WatchEvent *ev = &evs[i];

		sbx__v1__watch_event__init(ev);
		ev->kind = a->kind >= 1 && a->kind <= 5 ? (Sbx__V1__WatchEventKind)a->kind :
		    SBX__V1__WATCH_EVENT_KIND__WATCH_RESCAN;
		ev->path = a->path;
		ev->from = a->from;
		ev->size = a->size;
		ev->mtime_unix_ns = a->mtime_ns;
		ev->is_dir = a->is_dir;
		sz = sbx__v1__watch_event__get_packed_size(ev) + 8;
		if (b.n_events > 0 && bytes + sz > BATCH_MAX) {
			emit_batch(w, &b);
			b.events = ptrs + i;
			b.n_events = 0;
			bytes = 0;
		}
		b.events[b.n_events++] = ev;
		bytes += sz;
	}
	emit_batch(w, &b);
	free(evs);
	free(ptrs);
}

static void
on_end(void *arg, int lost)
{
	struct watch *w = arg;
	struct watches *ws = w->srv->watches;

	pthread_mutex_lock(&ws->reg.mu);
	w->ended = 1;
	pthread_mutex_unlock(&ws->reg.mu);
	logbus_emitf(w->srv, w->n.session, w->n.id, "watch ended: %s", lost ?
	    "the sandbox agent went away" : "the directory is gone");
}

/* ---- starting and stopping */

static struct watch *
watch_new(struct server *s, const struct session_row *r, const struct watches_args *a)
{
	struct watch *w = calloc(1, sizeof(*w));
	size_t n = 0;

	if (w == NULL)
		return NULL;
	w->srv = s;
	snprintf(w->n.session, sizeof(w->n.session), "%s", r->id);
	while (a->globs != NULL && a->globs[n] != NULL)
		n++;
	if ((w->path = strdup(a->path)) == NULL ||
	    (w->globs = calloc(n + 1, sizeof(char *))) == NULL) {
		watch_free(w);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if ((w->globs[i] = strdup(a->globs[i])) == NULL) {
			watch_free(w);
			return NULL;
		}
	w->o = (struct agentlink_watch_opts){ .path = w->path, .recursive = a->recursive,
	    .globs = (const char *const *)w->globs, .on_events = on_events, .on_end = on_end,
	    .arg = w };
	w->n.refs = 2;    /* the list's and the starter's */
	return w;
}

sbxd_code
watches_start(struct server *s, const struct session_row *r, const struct watches_args *a,
    char id[WATCHES_ID_MAX], uint64_t *after_seq, struct err *e)
{
	struct watches *ws = s->watches;
	struct logbus_window win;
	struct agent_watch *aw = NULL;
	struct watch *w;
	int live = 0;
	sbxd_code rv;

	id[0] = '\0';
	*after_seq = 0;
	if ((w = watch_new(s, r, a)) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	if ((rv = driver_agent_need_link(s->drv, r->id, r->container_id, "watches", &w->link,
	    e)) != SBXD_OK) {
		watch_free(w);
		return rv;
	}
	logbus_window(s, r->id, &win);
	*after_seq = win.next_seq > 0 ? win.next_seq - 1 : 0;
	pthread_mutex_lock(&ws->reg.mu);
	live = recreg_count(&ws->reg, r->id);
	if (live >= WATCHES_PER_SESSION)
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "session %s has %d watches, the most "
		    "it may; Unwatch one first", r->id, live);
	else
		recreg_link(&ws->reg, &w->n);
	pthread_mutex_unlock(&ws->reg.mu);
	if (rv != SBXD_OK) {
		watch_free(w);
		return rv;
	}
	rv = agentlink_watch_start(w->link, &w->o, &aw, e);
	pthread_mutex_lock(&ws->reg.mu);
	if (rv == SBXD_OK)
		w->aw = aw;
	else {
		recreg_unlink(&ws->reg, &w->n);
		w->n.refs--;
	}
	pthread_mutex_unlock(&ws->reg.mu);
	if (rv == SBXD_OK)
		snprintf(id, WATCHES_ID_MAX, "%s", w->n.id);
	watch_unref(ws, w);
	return rv;
}

/* Stops and drops w (unlinked, the list's reference now ours). */
static void
stop_and_drop(struct watches *ws, struct watch *w)
{
	struct err e;

	if (w->aw != NULL && agent_watch_stop(w->aw, STOP_WAIT_MS, &e) != SBXD_OK)
		log_warnx("watch %s of session %s: %s", w->n.id, w->n.session, e.msg);
	watch_unref(ws, w);
}

sbxd_code
watches_stop(struct server *s, const char *session, const char *id, struct err *e)
{
	struct watches *ws = s->watches;
	struct watch *w;

	pthread_mutex_lock(&ws->reg.mu);
	if ((w = (struct watch *)recreg_find(&ws->reg, session, id)) != NULL && w->aw == NULL)
		w = NULL;    /* still starting */
	if (w != NULL)
		recreg_unlink(&ws->reg, &w->n);
	pthread_mutex_unlock(&ws->reg.mu);
	if (w == NULL)
		return err_set(e, SBXD_NOT_FOUND, "session %s has no watch %s", session, id);
	stop_and_drop(ws, w);
	return SBXD_OK;
}

void
watches_session_end(struct server *s, const char *session)
{
	struct watches *ws = s->watches;
	struct watch *w, *gone;

	if (ws == NULL)
		return;
	gone = (struct watch *)recreg_take_session(&ws->reg, session);
	while ((w = gone) != NULL) {
		gone = (struct watch *)w->n.next;
		stop_and_drop(ws, w);
	}
}

void
watches_fuzz_events(const Sbx__Agent__V1__WatchEvents *ev)
{
	static struct server srv;      /* no log bus: emitting packs, then drops */
	static struct watch w;

	w.srv = &srv;
	snprintf(w.n.session, sizeof(w.n.session), "s-fuzz");
	snprintf(w.n.id, sizeof(w.n.id), "w1");
	on_events(&w, ev);
}
