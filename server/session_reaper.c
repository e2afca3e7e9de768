/*
 * session_reaper.c — what stops running sessions, and what keeps them
 * running (see lifecycle.h): the activity table, the idle reaper and the
 * capacity ceilings.
 *
 * The activity table is in memory: per session, the commands running in
 * it (busy) and whether the reaper or capacity is stopping it (a claim).
 * A stop claims the session first and only when nothing runs in it, and
 * lifecycle_busy_enter waits out a claim, so a command never starts in a
 * container that is being stopped, and a running one is never stopped.
 * Execute enters busy before it wakes the session, so a session stopped
 * under its feet is seen STOPPED and started again the ordinary way.
 *
 * Capacity counts RUNNING rows plus starts in flight: lifecycle_make_room
 * reserves a start for the user, and lifecycle_start_done releases it once
 * the row says RUNNING (or the start failed). Counting and reserving are
 * serialized by room_mu, held also while a session is stopped to make room
 * — so concurrent creates never pass a ceiling — but not during the start
 * itself, so creates and wakes start their containers in parallel. A
 * start ends with lifecycle_start_land, which writes the RUNNING row and
 * releases the start under land_mu; counting holds land_mu too, so a
 * session is counted exactly once, as starting or as running.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lifecycle.h"
#include "log.h"
#include "logbus.h"
#include "monotime.h"

#define STOP_GRACE_S 2
#define MAKE_ROOM_TRIES 64          /* stops one make_room may do */
#define REAP_BATCH 64               /* ids per lifecycle_reap call of the thread */

struct mark {                       /* a session busy, or being stopped */
	char id[STORE_ID_MAX];
	int busy;                   /* commands running in it */
	int stopping;               /* claimed by a stop */
	int ended;                  /* EndSession began while commands ran */
};

struct start {                      /* starts in flight of one user */
	char user[STORE_USER_MAX];
	int n;
};

struct lifecycle {
	pthread_mutex_t mu;         /* marks, starts */
	pthread_cond_t unclaimed;   /* a stop claim ended */
	pthread_cond_t started;     /* a start in flight ended */
	struct mark *marks;
	struct start *starts;
	int nmarks, nstarts, cap;   /* cap: of each array */
	int starting;               /* sum of starts[].n */
	unsigned starts_done;       /* counts lifecycle_start_done calls */
	pthread_mutex_t room_mu;    /* one lifecycle_make_room at a time */
	pthread_mutex_t land_mu;    /* a start landing, or counting */
	pthread_mutex_t tmu;        /* the reaper thread: */
	pthread_cond_t tcv;         /* signalled to stop it */
	pthread_t thread;
	int thread_running, quit;
};

/* ---- the activity table (called with lc->mu held) */

static struct mark *
mark_find(struct lifecycle *lc, const char *id)
{
	for (int i = 0; i < lc->nmarks; i++)
		if (strcmp(lc->marks[i].id, id) == 0)
			return &lc->marks[i];
	return NULL;
}

/* The mark of id, added if missing; NULL when the table is full. */
static struct mark *
mark_get(struct lifecycle *lc, const char *id)
{
	struct mark *m = mark_find(lc, id);

	if (m != NULL)
		return m;
	if (lc->nmarks == lc->cap || strlen(id) >= STORE_ID_MAX)
		return NULL;
	m = &lc->marks[lc->nmarks++];
	memset(m, 0, sizeof(*m));
	memcpy(m->id, id, strlen(id) + 1);
	return m;
}

static void
mark_release(struct lifecycle *lc, struct mark *m)
{
	if (m->busy == 0 && !m->stopping)
		*m = lc->marks[--lc->nmarks];
}

static int
busy_count(struct lifecycle *lc)
{
	int n = 0;

	pthread_mutex_lock(&lc->mu);
	for (int i = 0; i < lc->nmarks; i++)
		n += lc->marks[i].busy > 0 || lc->marks[i].stopping;
	pthread_mutex_unlock(&lc->mu);
	return n;
}

void
lifecycle_busy_enter(struct server *s, const char *id)
{
	struct lifecycle *lc = s->life;
	struct mark *m;

	pthread_mutex_lock(&lc->mu);
	while ((m = mark_find(lc, id)) != NULL && m->stopping)
		pthread_cond_wait(&lc->unclaimed, &lc->mu);
	if (m == NULL && (m = mark_get(lc, id)) == NULL)
		log_warnx("activity table full (%d): session %s is not marked busy", lc->cap, id);
	else
		m->busy++;
	pthread_mutex_unlock(&lc->mu);
}

int
lifecycle_busy_leave(struct server *s, const char *id)
{
	struct lifecycle *lc = s->life;
	struct mark *m;
	int ended = 0;

	pthread_mutex_lock(&lc->mu);
	if ((m = mark_find(lc, id)) != NULL && m->busy > 0) {
		ended = m->ended;
		m->busy--;
		mark_release(lc, m);
	}
	pthread_mutex_unlock(&lc->mu);
	return ended;
}

void
lifecycle_note_end(struct server *s, const char *id, int ending)
{
	struct lifecycle *lc = s->life;
	struct mark *m;

	pthread_mutex_lock(&lc->mu);
	if ((m = mark_find(lc, id)) != NULL && m->busy > 0)
		m->ended = ending;
	pthread_mutex_unlock(&lc->mu);
}

enum claim { CLAIMED, CLAIM_BUSY, CLAIM_STOPPING };

/* Claims id for a stop unless something runs in it or it is being
 * stopped already. A full table counts as busy: never stop blind. */
static enum claim
claim(struct lifecycle *lc, const char *id)
{
	struct mark *m;
	enum claim rv = CLAIMED;

	pthread_mutex_lock(&lc->mu);
	if ((m = mark_get(lc, id)) == NULL || m->busy > 0)
		rv = CLAIM_BUSY;
	else if (m->stopping)
		rv = CLAIM_STOPPING;
	else
		m->stopping = 1;
	pthread_mutex_unlock(&lc->mu);
	return rv;
}

static void
unclaim(struct lifecycle *lc, const char *id)
{
	struct mark *m;

	pthread_mutex_lock(&lc->mu);
	if ((m = mark_find(lc, id)) != NULL) {
		m->stopping = 0;
		mark_release(lc, m);
	}
	pthread_cond_broadcast(&lc->unclaimed);
	pthread_mutex_unlock(&lc->mu);
}

/* Waits until no stop holds a claim on id. */
static void
wait_unclaimed(struct lifecycle *lc, const char *id)
{
	struct mark *m;

	pthread_mutex_lock(&lc->mu);
	while ((m = mark_find(lc, id)) != NULL && m->stopping)
		pthread_cond_wait(&lc->unclaimed, &lc->mu);
	pthread_mutex_unlock(&lc->mu);
}

/* ---- stopping one session */

static int
is_idle(const struct session_row *r, int64_t now_ms, int64_t max_idle_ms)
{
	return now_ms - r->last_active_ms > (max_idle_ms > 0 ? max_idle_ms : r->idle_timeout_ms);
}

/* Stops a RUNNING session claimed by the caller for reason: container
 * stopped, row STOPPED; the claim ends either way. When idle_at_ms is not
 * 0 the session must still be idle then (see is_idle). SBXD_ABORTED when
 * it is no longer RUNNING, or no longer idle; else the store's or the
 * driver's code. */
static sbxd_code
stop_claimed(struct server *s, const char *id, const char *reason, int64_t idle_at_ms,
    int64_t max_idle_ms, struct err *e)
{
	struct session_row r;
	sbxd_code rv;

	if ((rv = store_session_get(s->store, id, &r, e)) != SBXD_OK)
		goto out;
	if (r.state != SESSION_RUNNING || (idle_at_ms != 0 && !is_idle(&r, idle_at_ms, max_idle_ms))) {
		rv = err_set(e, SBXD_ABORTED, "session %s is no longer running idle", id);
		goto out;
	}
	if (r.container_id[0] != '\0' &&
	    (rv = s->drv->ops->stop(s->drv, r.container_id, STOP_GRACE_S, e)) != SBXD_OK) {
		if (rv != SBXD_NOT_FOUND) {
			err_wrap(e, "stopping session %s: ", id);
			goto out;
		}
		err_clear(e);   /* gone: the next request heals it */
	}
	if ((rv = store_session_mark_stopped(s->store, id, reason, e)) == SBXD_NOT_FOUND)
		rv = SBXD_ABORTED;   /* ended meanwhile */
	else if (rv == SBXD_OK) {
		log_info("session %s of user %s stopped (%s; last active %llds ago)", id, r.user,
		    reason, (long long)((server_now_ms() - r.last_active_ms) / 1000));
		logbus_emitf(s, id, "", "session stopped (%s)", reason);
	}
out:
	unclaim(s->life, id);
	return rv;
}

/* stop_claimed, after claiming id: SBXD_ABORTED also when it is busy or
 * being stopped by another. */
static sbxd_code
stop_session(struct server *s, const char *id, const char *reason, int64_t idle_at_ms,
    int64_t max_idle_ms, struct err *e)
{
	if (claim(s->life, id) != CLAIMED)
		return err_set(e, SBXD_ABORTED, "session %s is busy", id);
	return stop_claimed(s, id, reason, idle_at_ms, max_idle_ms, e);
}

/* ---- the reaper */

/* 1 when scope admits the session of row a (its labels read from the
 * store into *r); 0 when not, or when it cannot be read (gone meanwhile). */
static int
in_scope(struct server *s, const struct lifecycle_scope *scope,
    const struct session_activity *a, struct session_row *r)
{
	struct err e;
	size_t u;
	int i, j;

	if (scope == NULL)
		return 1;
	for (u = 0; u < scope->nusers && strcmp(scope->users[u], a->user) != 0; u++)
		;
	if (scope->nusers > 0 && u == scope->nusers)
		return 0;
	if (scope->nlabels == 0)
		return 1;
	if (store_session_get(s->store, a->id, r, &e) != SBXD_OK)
		return 0;
	for (i = 0; i < scope->nlabels; i++) {
		for (j = 0; j < r->nlabels; j++)
			if (strcmp(r->labels[j].key, scope->labels[i].key) == 0 &&
			    strcmp(r->labels[j].value, scope->labels[i].value) == 0)
				break;
		if (j == r->nlabels)
			return 0;
	}
	return 1;
}

/* How many idle rows to read: enough that skipping every busy one still
 * leaves max; with a scope, every running session (those out of scope
 * are skipped too, and may be the least recently active). */
static sbxd_code
reap_rows_wanted(struct server *s, const struct lifecycle_scope *scope, int max,
    int *want, struct err *e)
{
	int running = 0;
	sbxd_code rv;

	*want = max + busy_count(s->life);
	if (scope == NULL)
		return SBXD_OK;
	if ((rv = store_session_count_running(s->store, NULL, &running, e)) != SBXD_OK)
		return rv;
	if (running + 1 > *want)
		*want = running + 1;
	return SBXD_OK;
}

sbxd_code
lifecycle_reap(struct server *s, uint64_t max_idle_ms, char (*ids)[STORE_ID_MAX], int max,
    int *n, struct err *e)
{
	return lifecycle_reap_scoped(s, max_idle_ms, NULL, ids, max, n, e);
}

sbxd_code
lifecycle_reap_scoped(struct server *s, uint64_t max_idle_ms,
    const struct lifecycle_scope *scope, char (*ids)[STORE_ID_MAX], int max, int *n,
    struct err *e)
{
	int64_t now = server_now_ms();
	int64_t max_idle = max_idle_ms > INT64_MAX ? INT64_MAX : (int64_t)max_idle_ms;
	const char *user = scope != NULL && scope->nusers == 1 ? scope->users[0] : NULL;
	struct session_activity *rows = NULL;
	struct session_row *r = NULL;
	struct err one;
	int want, nrows = 0, failed = 0;
	sbxd_code rv;

	*n = 0;
	if (max <= 0)
		return SBXD_OK;
	if ((rv = reap_rows_wanted(s, scope, max, &want, e)) != SBXD_OK)
		return rv;
	if ((rows = calloc((size_t)want, sizeof(*rows))) == NULL ||
	    (scope != NULL && (r = malloc(sizeof(*r))) == NULL)) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	if ((rv = store_session_running(s->store, user, now, max_idle, rows, want, &nrows, e)) != SBXD_OK) {
		log_warnx("reaper: %s", e->msg);
		goto out;
	}
	for (int i = 0; i < nrows && *n < max; i++) {
		if (!in_scope(s, scope, &rows[i], r))
			continue;
		sbxd_code r1 = logbus_leased(s, rows[i].id, now) ? SBXD_ABORTED :   /* followed */
		    stop_session(s, rows[i].id, "idle", now, max_idle, &one);

		if (r1 == SBXD_OK)
			memcpy(ids[(*n)++], rows[i].id, STORE_ID_MAX);
		else if (r1 != SBXD_ABORTED) {
			log_warnx("reaper: %s", one.msg);
			if (failed++ == 0)
				*e = one;
		}
	}
	/* Partial success is success; only a reap that stopped nothing
	 * because every stop failed reports the failure. */
	rv = *n == 0 && failed ? e->code : SBXD_OK;
out:
	free(r);
	free(rows);
	return rv;
}

static void
reap_all(struct server *s)
{
	char ids[REAP_BATCH][STORE_ID_MAX];
	struct err e;
	int n;

	do {
		if (lifecycle_reap(s, 0, ids, REAP_BATCH, &n, &e) != SBXD_OK)
			return;   /* logged by lifecycle_reap */
	} while (n == REAP_BATCH);
}

static void *
reaper_main(void *arg)
{
	struct server *s = arg;
	struct lifecycle *lc = s->life;
	uint64_t every = s->cfg->reap_interval_ms;
	struct timespec until;

	pthread_mutex_lock(&lc->tmu);
	while (!lc->quit) {
		until = monotime_after_ms(CLOCK_MONOTONIC, (uint64_t)every);
		while (!lc->quit && pthread_cond_timedwait(&lc->tcv, &lc->tmu, &until) != ETIMEDOUT)
			;
		if (lc->quit)
			break;
		pthread_mutex_unlock(&lc->tmu);
		reap_all(s);
		pthread_mutex_lock(&lc->tmu);
	}
	pthread_mutex_unlock(&lc->tmu);
	return NULL;
}

sbxd_code
lifecycle_reaper_start(struct server *s, struct err *e)
{
	struct lifecycle *lc = s->life;
	int rc;

	if (s->cfg->reap_interval_ms == 0) {
		log_info("idle reaper off (reap_interval = 0)");
		return SBXD_OK;
	}
	if (lc->thread_running)
		return SBXD_OK;
	lc->quit = 0;
	if ((rc = pthread_create(&lc->thread, NULL, reaper_main, s)) != 0)
		return err_set(e, SBXD_INTERNAL, "cannot start the idle reaper: %s", strerror(rc));
	lc->thread_running = 1;
	log_info("idle reaper: every %llu ms", (unsigned long long)s->cfg->reap_interval_ms);
	return SBXD_OK;
}

void
lifecycle_reaper_stop(struct server *s)
{
	struct lifecycle *lc = s->life;

	if (lc == NULL || !lc->thread_running)
		return;
	pthread_mutex_lock(&lc->tmu);
	lc->quit = 1;
	pthread_cond_signal(&lc->tcv);
	pthread_mutex_unlock(&lc->tmu);
	pthread_join(lc->thread, NULL);
	lc->thread_running = 0;
}

/* ---- capacity */

/* Running sessions plus starts in flight: everyone's, and user's; *seen
 * gets the count of starts ended so far, for wait_start. */
static sbxd_code
live_counts(struct server *s, const char *user, int *all, int *mine, unsigned *seen,
    struct err *e)
{
	struct lifecycle *lc = s->life;
	sbxd_code rv;

	/* land_mu: no start turns its row RUNNING and ends between the two
	 * reads (new ones begin only under room_mu, which the caller holds) */
	pthread_mutex_lock(&lc->land_mu);
	if ((rv = store_session_count_running(s->store, NULL, all, e)) == SBXD_OK &&
	    (rv = store_session_count_running(s->store, user, mine, e)) == SBXD_OK) {
		pthread_mutex_lock(&lc->mu);
		*seen = lc->starts_done;
		*all += lc->starting;
		for (int i = 0; i < lc->nstarts; i++)
			if (strcmp(lc->starts[i].user, user) == 0)
				*mine += lc->starts[i].n;
		pthread_mutex_unlock(&lc->mu);
	}
	pthread_mutex_unlock(&lc->land_mu);
	return rv;
}

static sbxd_code
start_reserve(struct lifecycle *lc, const char *user, struct err *e)
{
	struct start *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&lc->mu);
	for (int i = 0; i < lc->nstarts && st == NULL; i++)
		if (strcmp(lc->starts[i].user, user) == 0)
			st = &lc->starts[i];
	if (st == NULL && lc->nstarts < lc->cap && strlen(user) < STORE_USER_MAX) {
		st = &lc->starts[lc->nstarts++];
		memset(st, 0, sizeof(*st));
		memcpy(st->user, user, strlen(user) + 1);
	}
	if (st == NULL)
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED,
		    "%d sessions are starting at once; retry later", lc->starting);
	else {
		st->n++;
		lc->starting++;
	}
	pthread_mutex_unlock(&lc->mu);
	return rv;
}

void
lifecycle_start_done(struct server *s, const char *user)
{
	struct lifecycle *lc = s->life;

	pthread_mutex_lock(&lc->mu);
	for (int i = 0; i < lc->nstarts; i++) {
		if (strcmp(lc->starts[i].user, user) != 0)
			continue;
		lc->starting--;
		if (--lc->starts[i].n == 0)
			lc->starts[i] = lc->starts[--lc->nstarts];
		break;
	}
	lc->starts_done++;
	pthread_cond_broadcast(&lc->started);
	pthread_mutex_unlock(&lc->mu);
}

sbxd_code
lifecycle_start_land(struct server *s, const struct session_row *r, struct err *e)
{
	struct lifecycle *lc = s->life;
	sbxd_code rv;

	pthread_mutex_lock(&lc->land_mu);
	rv = store_session_update(s->store, r, e);
	lifecycle_start_done(s, r->user);
	pthread_mutex_unlock(&lc->land_mu);
	return rv;
}

/* Returns 1 once a start has ended since live_counts saw seen ended (it
 * is RUNNING now, and stoppable, or it failed), waiting for one while
 * starts are in flight; 0 at once when none ended and none is in flight:
 * the counts stand. */
static int
wait_start(struct lifecycle *lc, unsigned seen)
{
	int ended;

	pthread_mutex_lock(&lc->mu);
	while (lc->starts_done == seen && lc->starting > 0)
		pthread_cond_wait(&lc->started, &lc->mu);
	ended = lc->starts_done != seen;
	pthread_mutex_unlock(&lc->mu);
	return ended;
}

/* Stops the least recently used running session of user (NULL = anyone's)
 * that is not except and not busy. SBXD_OK also when the counts may have
 * changed otherwise (another's stop ended, the session left RUNNING): the
 * caller counts again. SBXD_ABORTED when none can be stopped. */
static sbxd_code
stop_lru(struct server *s, const char *user, const char *except, struct err *e)
{
	struct session_activity *rows;
	int want = busy_count(s->life) + 2, n = 0;
	sbxd_code rv;

	if ((rows = calloc((size_t)want, sizeof(*rows))) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	if ((rv = store_session_running(s->store, user, 0, 0, rows, want, &n, e)) != SBXD_OK)
		goto out;
	rv = SBXD_ABORTED;
	for (int i = 0; i < n && rv == SBXD_ABORTED; i++) {
		if (except != NULL && strcmp(rows[i].id, except) == 0)
			continue;
		switch (claim(s->life, rows[i].id)) {
		case CLAIM_BUSY:
			continue;
		case CLAIM_STOPPING:
			wait_unclaimed(s->life, rows[i].id);
			rv = SBXD_OK;
			continue;
		case CLAIMED:
			/* ABORTED here: it left RUNNING meanwhile; count again. */
			if ((rv = stop_claimed(s, rows[i].id, "capacity", 0, 0, e)) == SBXD_ABORTED)
				rv = SBXD_OK;
			break;
		}
	}
	if (rv == SBXD_ABORTED)
		err_clear(e);
out:
	free(rows);
	return rv;
}

static sbxd_code
full(const char *user, int per_user, int all, int mine, struct err *e)
{
	if (per_user)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED,
		    "user %s has %d sessions running and all are busy; retry later "
		    "or raise max_live_sessions_per_user", user, mine);
	return err_set(e, SBXD_RESOURCE_EXHAUSTED,
	    "%d sessions are running and all are busy; retry later or raise max_live_sessions",
	    all);
}

sbxd_code
lifecycle_make_room(struct server *s, const char *user, const char *except, struct err *e)
{
	const struct config *c = s->cfg;
	struct lifecycle *lc = s->life;
	int all = 0, mine = 0, per_user;
	unsigned seen = 0;
	sbxd_code rv;

	pthread_mutex_lock(&lc->room_mu);
	for (int tries = 0; ; tries++) {
		if ((rv = live_counts(s, user, &all, &mine, &seen, e)) != SBXD_OK)
			break;
		per_user = c->max_live_sessions_per_user > 0 && mine >= c->max_live_sessions_per_user;
		if (!per_user && (c->max_live_sessions == 0 || all < c->max_live_sessions)) {
			rv = start_reserve(lc, user, e);
			break;
		}
		rv = tries < MAKE_ROOM_TRIES ?
		    stop_lru(s, per_user ? user : NULL, except, e) : SBXD_ABORTED;
		/* Stopped one, or a start in flight ended: count again. */
		if (rv == SBXD_OK || (rv == SBXD_ABORTED && tries < MAKE_ROOM_TRIES && wait_start(lc, seen)))
			continue;
		if (rv == SBXD_ABORTED)
			rv = full(user, per_user, all, mine, e);
		break;
	}
	pthread_mutex_unlock(&lc->room_mu);
	return rv;
}

/* ---- state */

sbxd_code
lifecycle_open(struct server *s, struct err *e)
{
	struct lifecycle *lc;

	if ((lc = calloc(1, sizeof(*lc))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	/* Each request in flight holds at most one busy mark, one start and
	 * one stop claim; the reaper one claim. */
	lc->cap = 2 * s->cfg->contexts + 8;
	lc->marks = calloc((size_t)lc->cap, sizeof(*lc->marks));
	lc->starts = calloc((size_t)lc->cap, sizeof(*lc->starts));
	if (lc->marks == NULL || lc->starts == NULL) {
		free(lc->marks);
		free(lc->starts);
		free(lc);
		return err_set(e, SBXD_INTERNAL, "out of memory");
	}
	pthread_mutex_init(&lc->mu, NULL);
	pthread_cond_init(&lc->unclaimed, NULL);
	pthread_cond_init(&lc->started, NULL);
	pthread_mutex_init(&lc->room_mu, NULL);
	pthread_mutex_init(&lc->land_mu, NULL);
	pthread_mutex_init(&lc->tmu, NULL);
	monotime_cond_init(&lc->tcv);
	s->life = lc;
	return SBXD_OK;
}

void
lifecycle_close(struct server *s)
{
	struct lifecycle *lc = s->life;

	if (lc == NULL)
		return;
	lifecycle_reaper_stop(s);
	pthread_mutex_destroy(&lc->mu);
	pthread_cond_destroy(&lc->unclaimed);
	pthread_cond_destroy(&lc->started);
	pthread_mutex_destroy(&lc->room_mu);
	pthread_mutex_destroy(&lc->land_mu);
	pthread_mutex_destroy(&lc->tmu);
	pthread_cond_destroy(&lc->tcv);
	free(lc->marks);
	free(lc->starts);
	free(lc);
	s->life = NULL;
}
