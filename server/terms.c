/*
 * terms.c — interactive terminals (terms.h): their records, and the
 * bridge from the agent's pty to the log bus.
 *
 * Locking: the registry's mu (recreg.h) guards the list and every
 * record's mutable fields. The agent link's callbacks (on_output, on_end)
 * run under the link's lock and take mu inside it, so nothing here calls
 * an agentlink function while holding mu: a record is referenced (refs)
 * and the lock let go first. A record's agent_term, link and command are freed with its last
 * reference.
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
#include "terms.h"

#define CLOSE_WAIT_MS     30000  /* a closed terminal's end (a fork bomb
                                     starves the agent for a while) */

struct term {
	struct recreg_node n;        /* first: session, id, refs (the list holds one) */
	struct server *srv;
	char *command;
	struct agentlink *link;      /* referenced */
	struct agent_term *at;       /* NULL while it starts */
	struct agentlink_term_opts o;
	uint32_t cols, rows;
	int running, exit_code;
	int64_t started_ms, ended_ms, pid;
	uint64_t after_seq;
};

_Static_assert(TERMS_ID_MAX == RECREG_ID_MAX, "terminal ids are the registry's");

struct terms {
	struct recreg reg;
};

static void term_free(struct recreg_node *n);

sbxd_code
terms_open(struct server *s, struct err *e)
{
	struct terms *ts = calloc(1, sizeof(*ts));

	if (ts == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	recreg_init(&ts->reg, 't', term_free);
	s->terms = ts;
	return SBXD_OK;
}

static void
term_free(struct recreg_node *n)
{
	struct term *t = (struct term *)n;

	agent_term_free(t->at);
	if (t->link != NULL)
		agentlink_unref(t->link);
	free(t->command);
	free(t);
}

static void
term_unref(struct terms *ts, struct term *t)
{
	recreg_unref(&ts->reg, &t->n);
}

void
terms_close(struct server *s)
{
	struct terms *ts = s->terms;

	if (ts == NULL)
		return;
	/* the link's end (or the agent's drain) kills them in the sandbox */
	recreg_fini(&ts->reg);
	free(ts);
	s->terms = NULL;
}

/* ---- the agent's callbacks (under the link's lock) */

static void
on_output(void *arg, const void *p, size_t n)
{
	struct term *t = arg;

	logbus_emit(t->srv, t->n.session, t->n.id, LOGBUS_TERMINAL, p, n);
}

static void
on_end(void *arg, int exit_code, int lost)
{
	struct term *t = arg;
	struct terms *ts = t->srv->terms;

	pthread_mutex_lock(&ts->reg.mu);
	t->running = 0;
	t->exit_code = exit_code;
	t->ended_ms = server_now_ms();
	pthread_mutex_unlock(&ts->reg.mu);
	if (lost)
		logbus_emitf(t->srv, t->n.session, t->n.id, "terminal ended: the sandbox agent "
		    "went away");
	else
		logbus_emitf(t->srv, t->n.session, t->n.id, "terminal exited with code %d",
		    exit_code);
}

/* ---- lookups */

/* The record id of session, referenced; NOT_FOUND when none. */
static sbxd_code
term_get(struct terms *ts, const char *session, const char *id, struct term **out,
    struct err *e)
{
	struct term *t;

	pthread_mutex_lock(&ts->reg.mu);
	if ((t = (struct term *)recreg_find(&ts->reg, session, id)) != NULL)
		t->n.refs++;
	pthread_mutex_unlock(&ts->reg.mu);
	*out = t;
	if (t == NULL)
		return err_set(e, SBXD_NOT_FOUND, "session %s has no terminal %s; "
		    "ListTerminals shows its terminals", session, id);
	return SBXD_OK;
}

/* The record's agent handle, or FAILED_PRECONDITION while it starts. */
static sbxd_code
term_handle(struct terms *ts, struct term *t, struct agent_term **at, struct err *e)
{
	pthread_mutex_lock(&ts->reg.mu);
	*at = t->at;
	pthread_mutex_unlock(&ts->reg.mu);
	if (*at == NULL)
		return err_set(e, SBXD_FAILED_PRECONDITION, "terminal %s is still starting; "
		    "try again", t->n.id);
	return SBXD_OK;
}

static sbxd_code
info_of(struct terms *ts, struct term *t, struct terms_info *info, struct err *e)
{
	pthread_mutex_lock(&ts->reg.mu);
	memset(info, 0, sizeof(*info));
	snprintf(info->id, sizeof(info->id), "%s", t->n.id);
	info->cols = t->cols;
	info->rows = t->rows;
	info->running = t->running;
	info->exit_code = t->running ? -1 : t->exit_code;
	info->started_ms = t->started_ms;
	info->ended_ms = t->ended_ms;
	info->pid = t->pid;
	info->after_seq = t->after_seq;
	info->command = strdup(t->command);
	pthread_mutex_unlock(&ts->reg.mu);
	if (info->command == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	return SBXD_OK;
}

void
terms_info_fini(struct terms_info *info)
{
	free(info->command);
	info->command = NULL;
}

void
terms_infos_free(struct terms_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		terms_info_fini(&v[i]);
	free(v);
}

/* ---- starting */

/* Room for one more terminal of session: RESOURCE_EXHAUSTED past the cap
 * of running ones; the oldest ended records beyond the kept cap are
 * unlinked into *drop (freed by the caller outside the lock). mu held. */
static sbxd_code
make_room(struct terms *ts, const char *session, struct term **drop, struct err *e)
{
	struct term *t, *oldest;
	int running, kept;

	for (;;) {
		running = kept = 0;
		oldest = NULL;
		for (t = (struct term *)ts->reg.head; t != NULL; t = (struct term *)t->n.next) {
			if (strcmp(t->n.session, session) != 0)
				continue;
			kept++;
			if (t->running)
				running++;
			else
				oldest = t;    /* the list is newest first */
		}
		if (running >= TERMS_PER_SESSION)
			return err_set(e, SBXD_RESOURCE_EXHAUSTED, "session %s has %d terminals "
			    "open, the most it may; close one first", session, running);
		if (kept < TERMS_KEPT_PER_SESSION || oldest == NULL)
			return SBXD_OK;
		recreg_unlink(&ts->reg, &oldest->n);
		oldest->n.next = (struct recreg_node *)*drop;
		*drop = oldest;
	}
}

sbxd_code
terms_start(struct server *s, const struct session_row *r, const struct terms_open_args *a,
    struct terms_info *info, struct err *e)
{
	struct terms *ts = s->terms;
	struct term *t = NULL, *drop = NULL, *d;
	struct logbus_window w;
	struct agent_term *at = NULL;
	struct agentlink *l = NULL;
	int64_t pid = 0;
	sbxd_code rv;

	memset(info, 0, sizeof(*info));
	if ((rv = driver_agent_need_link(s->drv, r->id, r->container_id, "terminals", &l,
	    e)) != SBXD_OK)
		return rv;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->command = strdup(a->command != NULL ? a->command : "")) == NULL) {
		free(t);
		agentlink_unref(l);
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	}
	t->srv = s;
	t->link = l;
	snprintf(t->n.session, sizeof(t->n.session), "%s", r->id);
	t->cols = a->cols;
	t->rows = a->rows;
	t->running = 1;
	t->started_ms = server_now_ms();
	t->n.refs = 2;    /* the list's and ours */
	t->o = (struct agentlink_term_opts){ .argv = a->argv, .env = a->env, .cwd = a->cwd,
	    .cols = a->cols, .rows = a->rows, .on_output = on_output, .on_end = on_end,
	    .arg = t };
	logbus_window(s, r->id, &w);
	t->after_seq = w.next_seq > 0 ? w.next_seq - 1 : 0;
	pthread_mutex_lock(&ts->reg.mu);
	if ((rv = make_room(ts, r->id, &drop, e)) == SBXD_OK)
		recreg_link(&ts->reg, &t->n);
	pthread_mutex_unlock(&ts->reg.mu);
	while ((d = drop) != NULL) {
		drop = (struct term *)d->n.next;
		term_unref(ts, d);
	}
	if (rv != SBXD_OK) {
		term_free(&t->n);
		return rv;
	}
	rv = agentlink_term_open(l, &t->o, &at, &pid, e);
	pthread_mutex_lock(&ts->reg.mu);
	if (rv == SBXD_OK) {
		t->at = at;
		t->pid = pid;
	} else {
		recreg_unlink(&ts->reg, &t->n);
		t->n.refs--;
	}
	pthread_mutex_unlock(&ts->reg.mu);
	if (rv == SBXD_OK) {
		/* argv, env and cwd were the caller's: only the agent needed them */
		t->o.argv = t->o.env = NULL;
		t->o.cwd = NULL;
		logbus_emitf(s, r->id, t->n.id, "terminal started: %.200s", t->command);
		rv = info_of(ts, t, info, e);
	}
	term_unref(ts, t);
	return rv;
}

/* ---- calls on one terminal */

sbxd_code
terms_input(struct server *s, const char *session, const char *id, const void *data,
    size_t n, struct err *e)
{
	struct terms *ts = s->terms;
	struct agent_term *at;
	struct term *t;
	sbxd_code rv;

	if ((rv = term_get(ts, session, id, &t, e)) != SBXD_OK)
		return rv;
	if ((rv = term_handle(ts, t, &at, e)) == SBXD_OK)
		rv = agent_term_input(at, data, n, e);
	term_unref(ts, t);
	return rv;
}

sbxd_code
terms_resize(struct server *s, const char *session, const char *id, uint32_t cols,
    uint32_t rows, struct err *e)
{
	struct terms *ts = s->terms;
	struct agent_term *at;
	struct term *t;
	sbxd_code rv;

	if ((rv = term_get(ts, session, id, &t, e)) != SBXD_OK)
		return rv;
	if ((rv = term_handle(ts, t, &at, e)) == SBXD_OK &&
	    (rv = agent_term_resize(at, cols, rows, e)) == SBXD_OK) {
		pthread_mutex_lock(&ts->reg.mu);
		t->cols = cols;
		t->rows = rows;
		pthread_mutex_unlock(&ts->reg.mu);
	}
	term_unref(ts, t);
	return rv;
}

sbxd_code
terms_kill(struct server *s, const char *session, const char *id, struct terms_info *info,
    struct err *e)
{
	struct terms *ts = s->terms;
	struct agent_term *at;
	struct term *t;
	sbxd_code rv;

	memset(info, 0, sizeof(*info));
	if ((rv = term_get(ts, session, id, &t, e)) != SBXD_OK)
		return rv;
	if ((rv = term_handle(ts, t, &at, e)) == SBXD_OK &&
	    (rv = agent_term_close(at, CLOSE_WAIT_MS, e)) == SBXD_OK)
		rv = info_of(ts, t, info, e);
	term_unref(ts, t);
	return rv;
}

sbxd_code
terms_list(struct server *s, const char *session, struct terms_info **out, size_t *n,
    struct err *e)
{
	struct terms *ts = s->terms;
	struct term *t, **v = NULL;
	size_t cnt = 0, i;
	sbxd_code rv = SBXD_OK;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&ts->reg.mu);
	cnt = (size_t)recreg_count(&ts->reg, session);
	if (cnt > 0 && (v = calloc(cnt, sizeof(*v))) == NULL) {
		pthread_mutex_unlock(&ts->reg.mu);
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	}
	i = cnt;
	for (t = (struct term *)ts->reg.head; t != NULL; t = (struct term *)t->n.next)
		if (strcmp(t->n.session, session) == 0) {
			t->n.refs++;
			v[--i] = t;    /* oldest first */
		}
	pthread_mutex_unlock(&ts->reg.mu);
	if (cnt > 0 && (*out = calloc(cnt, sizeof(**out))) == NULL)
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	for (i = 0; i < cnt; i++) {
		if (rv == SBXD_OK && (rv = info_of(ts, v[i], &(*out)[i], e)) == SBXD_OK)
			(*n)++;
		term_unref(ts, v[i]);
	}
	free(v);
	if (rv != SBXD_OK) {
		terms_infos_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rv;
}

void
terms_session_end(struct server *s, const char *session)
{
	struct terms *ts = s->terms;
	struct term *t, *gone;
	struct err e;

	if (ts == NULL)
		return;
	gone = (struct term *)recreg_take_session(&ts->reg, session);
	while ((t = gone) != NULL) {
		gone = (struct term *)t->n.next;
		if (t->at != NULL && agent_term_close(t->at, CLOSE_WAIT_MS, &e) != SBXD_OK)
			log_warnx("session %s ends: terminal %s: %s", session, t->n.id, e.msg);
		term_unref(ts, t);
	}
}
