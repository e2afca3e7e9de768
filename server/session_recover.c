/*
 * session_recover.c — bringing the store and the containers back into
 * agreement after a restart of sbxd or Docker (lifecycle_recover), and
 * giving a session whose container vanished a new one (lifecycle_heal);
 * see lifecycle.h.
 *
 * The store is the truth about sessions; the sbx.instance label is the
 * truth about which containers this sbxd made. At start, before any
 * request, rows a crash left CREATING are marked FAILED, and every
 * container of this instance that no live row names is removed (build
 * containers of runtime_build.c among them, counted apart). Rows whose
 * container is stopped or missing are left as they are: the next request
 * starts the container (session_exec, session_ensure_running) or heals it,
 * so recovery needs no Docker for anything but the orphans, and a Docker
 * outage at start costs nothing later.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "log.h"
#include "pool.h"
#include "session.h"

#define RECOVER_PAGE 64            /* rows read from the store at a time */
#define HEAL_LOCKS 16

struct recovery {
	struct server *s;
	int sessions;               /* RUNNING or STOPPED rows */
	int adopted;                /* containers named by one of them */
	int orphans;                /* other containers removed */
	int builds;                 /* build containers removed (runtime_build.c) */
	int failed;                 /* CREATING rows marked FAILED */
	int errors;                 /* containers or rows left for next time */
};

static int
live_state(int state)
{
	return state == SESSION_CREATING || state == SESSION_RUNNING ||
	    state == SESSION_STOPPED;
}

/* Calls fn for every row in state, RECOVER_PAGE rows at a time. fn may
 * update the row: the keyset page token survives that. */
static sbxd_code
each_row(struct recovery *rc, int state,
    void (*fn)(struct recovery *, struct session_row *), struct err *e)
{
	struct session_filter f = { .state = state, .limit = RECOVER_PAGE };
	struct session_row *rows;
	char next[STORE_ID_MAX + 32] = "";
	int n = 0;
	sbxd_code rv;

	if ((rows = calloc(RECOVER_PAGE + 1, sizeof(*rows))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory reading sessions");
	f.after = next;
	do {
		if ((rv = store_session_list(rc->s->store, &f, rows, &n, next, sizeof(next), e)) != SBXD_OK)
			break;
		for (int i = 0; i < n; i++)
			fn(rc, &rows[i]);
	} while (next[0] != '\0');
	free(rows);
	return rv;
}

static void
count_row(struct recovery *rc, struct session_row *r)
{
	(void)r;
	rc->sessions++;
}

/* A row left CREATING: sbxd died between reserving it and starting its
 * container. Its container (if the row names one) goes; one the row never
 * learnt of carries the session's label and goes with the orphans. */
static void
fail_interrupted(struct recovery *rc, struct session_row *r)
{
	struct server *s = rc->s;
	struct err e;

	if (r->container_id[0] != '\0') {
		if (s->drv->ops->remove(s->drv, r->container_id, &e) == SBXD_OK)
			r->container_id[0] = '\0';
		else
			log_warnx("recovery: session %s: removing container %.12s: %s",
			    r->id, r->container_id, e.msg);
	}
	r->state = SESSION_FAILED;
	snprintf(r->stop_reason, sizeof(r->stop_reason), "interrupted by a restart");
	r->last_active_ms = server_now_ms();
	if (store_session_update(s->store, r, &e) != SBXD_OK) {
		log_warnx("recovery: session %s: marking it failed: %s", r->id, e.msg);
		rc->errors++;
		return;
	}
	rc->failed++;
	log_info("recovery: session %s of user %s was being created when sbxd stopped; "
	    "marked FAILED", r->id, r->user);
}

static const char *
label_value(const struct driver_label *l, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].key, key) == 0)
			return l[i].value;
	return NULL;
}

/* driver list callback: keeps a container a live row names, removes any
 * other. A row that cannot be read keeps its container (next start
 * decides). */
static void
adopt_or_remove(void *arg, const char *id, const char *state,
    const struct driver_label *l, size_t n)
{
	struct recovery *rc = arg;
	struct server *s = rc->s;
	const char *sid = label_value(l, n, "sbx.session"), *build;
	struct session_row r;
	struct err e;
	sbxd_code rv = SBXD_NOT_FOUND;

	if (sid != NULL && (rv = store_session_get(s->store, sid, &r, &e)) == SBXD_OK &&
	    live_state(r.state) && strcmp(r.container_id, id) == 0) {
		rc->adopted++;
		if (r.state == SESSION_RUNNING && strcmp(state, "running") != 0)
			log_info("recovery: session %s: container %.12s is %s; "
			    "it is started on the next request", r.id, id, state);
		return;
	}
	if (rv != SBXD_OK && rv != SBXD_NOT_FOUND) {
		log_warnx("recovery: container %.12s kept: %s", id, e.msg);
		rc->errors++;
		return;
	}
	if (label_value(l, n, "sbx.pool") != NULL)
		return;    /* never taken: pool_start removes it and its slot */
	if (s->drv->ops->remove(s->drv, id, &e) != SBXD_OK) {
		log_warnx("recovery: removing orphan container %.12s: %s", id, e.msg);
		rc->errors++;
		return;
	}
	/* A session container of a custom runtime inherits sbx.build from its
	 * image, but it also has sbx.session: only one without is a build. */
	if (sid == NULL && (build = label_value(l, n, "sbx.build")) != NULL) {
		rc->builds++;
		log_info("recovery: removed build container %.12s of runtime %s, left by "
		    "an interrupted build", id, build);
		return;
	}
	rc->orphans++;
	log_info("recovery: removed orphan container %.12s (session %s)", id,
	    sid ? sid : "none");
}

sbxd_code
lifecycle_recover(struct server *s, struct err *e)
{
	struct recovery rc = { .s = s };
	sbxd_code rv;

	if ((rv = each_row(&rc, SESSION_CREATING, fail_interrupted, e)) != SBXD_OK ||
	    (rv = each_row(&rc, SESSION_RUNNING, count_row, e)) != SBXD_OK ||
	    (rv = each_row(&rc, SESSION_STOPPED, count_row, e)) != SBXD_OK)
		return rv;
	rv = s->drv->ops->list(s->drv, "sbx.instance", s->instance, adopt_or_remove, &rc, e);
	if (rc.builds > 0)
		log_info("recovery: %d build containers of interrupted runtime builds removed",
		    rc.builds);
	log_info("recovery: %d sessions, %d containers re-adopted, %d orphans removed, "
	    "%d marked failed%s", rc.sessions, rc.adopted, rc.orphans, rc.failed,
	    rc.errors ? " (some left for the next start; see above)" : "");
	if (rv != SBXD_OK)
		err_wrap(e, "listing containers: ");
	/* The pool starts once the store and the containers agree. */
	else if ((rv = pool_start(s, e)) != SBXD_OK)
		err_wrap(e, "warm pool: ");
	return rv;
}

/* Heals of one session are serialized, so two requests that both find the
 * container gone make one new container, not two. */
static pthread_mutex_t heal_locks[HEAL_LOCKS];
static pthread_once_t heal_once = PTHREAD_ONCE_INIT;

static void
heal_locks_init(void)
{
	for (int i = 0; i < HEAL_LOCKS; i++)
		pthread_mutex_init(&heal_locks[i], NULL);
}

static pthread_mutex_t *
heal_lock(const char *id)
{
	unsigned h = 5381;

	pthread_once(&heal_once, heal_locks_init);
	for (const char *p = id; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return &heal_locks[h % HEAL_LOCKS];
}

/* Creates and starts cur's container; a stale container holding the name
 * sbx-<id> (left by an interrupted heal) is removed and the create tried
 * once more. */
static sbxd_code
container_up_once_more(struct server *s, struct session_row *cur, struct err *e)
{
	char name[STORE_ID_MAX + 8];
	sbxd_code rv;

	if ((rv = session_container_up(s, cur, e)) != SBXD_ALREADY_EXISTS)
		return rv;
	snprintf(name, sizeof(name), "sbx-%s", cur->id);
	log_warnx("session %s: a stale container named %s is in the way; removing it",
	    cur->id, name);
	err_clear(e);
	if ((rv = s->drv->ops->remove(s->drv, name, e)) != SBXD_OK)
		return err_wrap(e, "removing the stale container %s: ", name);
	return session_container_up(s, cur, e);
}

sbxd_code
lifecycle_heal(struct server *s, struct session_row *r, struct err *e)
{
	pthread_mutex_t *mu = heal_lock(r->id);
	struct session_row cur;
	struct err ignored;
	char old[STORE_CID_MAX];
	sbxd_code rv;

	pthread_mutex_lock(mu);
	if ((rv = store_session_get(s->store, r->id, &cur, e)) != SBXD_OK)
		goto out;
	if (cur.state != SESSION_RUNNING && cur.state != SESSION_STOPPED) {
		rv = err_set(e, SBXD_FAILED_PRECONDITION,
		    "session %s is no longer live (state %d, %s)", cur.id, cur.state,
		    cur.stop_reason);
		goto out;
	}
	if (cur.container_id[0] != '\0' && strcmp(cur.container_id, r->container_id) != 0) {
		*r = cur;           /* a concurrent request healed it meanwhile */
		goto out;
	}
	snprintf(old, sizeof(old), "%s", cur.container_id);
	if ((rv = container_up_once_more(s, &cur, e)) != SBXD_OK) {
		err_wrap(e, "session %s's container was gone and a new one could not be made: ",
		    cur.id);
		goto out;
	}
	cur.state = SESSION_RUNNING;
	cur.stop_reason[0] = '\0';
	if ((rv = store_session_update(s->store, &cur, e)) != SBXD_OK) {
		s->drv->ops->remove(s->drv, cur.container_id, &ignored);
		goto out;
	}
	pool_slot_release(s, cur.id);   /* the new container binds the workspace itself */
	log_info("session %s healed: container %.12s was gone, new container %.12s "
	    "(user %s, workspace kept)", cur.id, old[0] ? old : "(none)", cur.container_id,
	    cur.user);
	*r = cur;
out:
	pthread_mutex_unlock(mu);
	return rv;
}
