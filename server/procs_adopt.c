/*
 * procs_adopt.c — background processes that outlive sbxd.
 *
 * A process the driver can take back after a restart (the in-sandbox agent
 * holds it and its output while sbxd is away; driver.h proc_key) is
 * recorded in the store when it starts and forgotten when it ends. After a
 * restart, procs_adopt_start takes each recorded one back on a thread of
 * its own, so sbxd answers at once: the agents redial within about a
 * second; one whose agent does not come back within ADOPT_WAIT_MS, or no
 * longer holds it, is forgotten with a line in the log and its session's
 * events. A taken-back process keeps its id, command and start time; what
 * it wrote meanwhile arrives first (the agent keeps a bounded amount), its
 * exit code is its own.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "logbus.h"
#include "procs_int.h"
#include "monotime.h"

#define ADOPT_WAIT_MS   30000  /* for an agent to come back */
#define ADOPT_RETRY_MS  100

struct adopt_list {
	struct store_proc *v;
	size_t n, cap;
	unsigned long long max_id;
};

static void
collect(void *arg, const struct store_proc *p)
{
	struct adopt_list *al = arg;
	struct store_proc *nv;
	unsigned long long id;

	if (sscanf(p->id, "p%llu", &id) == 1 && id > al->max_id)
		al->max_id = id;
	if (al->n == al->cap) {
		al->cap = al->cap ? al->cap * 2 : 8;
		if ((nv = realloc(al->v, al->cap * sizeof(*nv))) == NULL)
			return;
		al->v = nv;
	}
	al->v[al->n++] = *p;
}

static void
forget(struct server *s, const struct store_proc *sp, const char *why)
{
	struct err e;

	log_info("session %s: process %s was not taken back after the restart: %s",
	    sp->session, sp->id, why);
	logbus_emitf(s, sp->session, sp->id, "lost with sbxd's restart: %s", why);
	if (store_proc_delete(s->store, sp->id, &e) != SBXD_OK)
		log_warnx("%s", e.msg);
}

/* One try at taking sp back: 1 done (or given up), 0 try again later. */
static int
adopt_one(struct procs *ps, const struct store_proc *sp, int last_try)
{
	struct server *s = ps->srv;
	struct driver_exec_spec spec;
	struct driver_proc_status st;
	struct driver_proc *dp = NULL;
	struct session_row r;
	struct proc *p, **pp;
	struct err e, ignored;
	sbxd_code rv;

	if (store_session_get(s->store, sp->session, &r, &e) != SBXD_OK ||
	    (r.state != SESSION_RUNNING && r.state != SESSION_STOPPED) ||
	    r.container_id[0] == '\0') {
		forget(s, sp, "its session is gone");
		return 1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->command = strdup(sp->command)) == NULL) {
		free(p);
		return 0;
	}
	p->ps = ps;
	snprintf(p->session, sizeof(p->session), "%s", r.id);
	snprintf(p->container, sizeof(p->container), "%s", r.container_id);
	snprintf(p->id, sizeof(p->id), "%.*s", (int)sizeof(p->id) - 1, sp->id);
	p->state = PROCS_RUNNING;
	p->exit_code = -1;
	p->refs = 1;
	p->started_ms = sp->started_ms;
	p->stored = 1;
	pthread_mutex_init(&p->stdin_mu, NULL);
	spec = (struct driver_exec_spec){
		.container_id = p->container, .on_output = procs_on_output, .on_output_arg = p,
	};
	rv = s->drv->ops->proc_adopt(s->drv, p->container, sp->key, &spec, 0, &dp, &e);
	if (rv != SBXD_OK) {
		pthread_mutex_destroy(&p->stdin_mu);
		free(p->command);
		free(p);
		if (rv == SBXD_UNAVAILABLE && !last_try)
			return 0;
		forget(s, sp, e.msg);
		return 1;
	}
	if (s->drv->ops->proc_status(dp, &st, &ignored) != SBXD_OK)
		st.pid = 0;
	pthread_mutex_lock(&ps->mu);
	p->dp = dp;
	p->pid = st.pid;
	p->busy = 1;
	for (pp = &ps->head; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = p;
	p->listed = 1;
	pthread_mutex_unlock(&ps->mu);
	procs_wake(ps);
	logbus_emitf(s, p->session, p->id, "taken back after sbxd restarted");
	log_info("session %s: process %s taken back after the restart", p->session, p->id);
	return 1;
}

static void *
adopter(void *arg)
{
	struct procs *ps = arg;
	struct adopt_list *al = ps->adopt;
	uint64_t deadline = monotime_ms() + ADOPT_WAIT_MS;
	size_t left = al->n;
	int last;

	while (left > 0) {
		pthread_mutex_lock(&ps->mu);
		last = ps->stopping;
		pthread_mutex_unlock(&ps->mu);
		if (last)
			break;
		last = monotime_ms() >= deadline;
		for (size_t i = 0; i < al->n; i++)
			if (al->v[i].id[0] != '\0' && adopt_one(ps, &al->v[i], last)) {
				pthread_mutex_lock(&ps->mu);   /* procs_adopt_pending reads it */
				al->v[i].id[0] = '\0';
				pthread_cond_broadcast(&ps->ended);
				pthread_mutex_unlock(&ps->mu);
				left--;
			}
		if (left > 0) {
			struct timespec ts = { 0, ADOPT_RETRY_MS * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

sbxd_code
procs_adopt_start(struct server *s, struct err *e)
{
	struct procs *ps = s->procs;
	struct adopt_list *al;
	sbxd_code rv;

	if (s->drv->ops->proc_adopt == NULL)
		return SBXD_OK;
	if ((al = calloc(1, sizeof(*al))) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	if ((rv = store_proc_list(s->store, collect, al, e)) != SBXD_OK) {
		free(al->v);
		free(al);
		return rv;
	}
	pthread_mutex_lock(&ps->mu);
	if (ps->next_id < al->max_id)
		ps->next_id = al->max_id;   /* new processes never take an old id */
	pthread_mutex_unlock(&ps->mu);
	if (al->n == 0) {
		free(al->v);
		free(al);
		return SBXD_OK;
	}
	log_info("procs: taking back %zu background processes that ran before the restart",
	    al->n);
	ps->adopt = al;
	if (pthread_create(&ps->adopt_thread, NULL, adopter, ps) != 0) {
		ps->adopt = NULL;
		free(al->v);
		free(al);
		return err_set(e, SBXD_INTERNAL, "starting the adoption thread failed");
	}
	return SBXD_OK;
}

int
procs_adopt_pending(struct procs *ps, const char *session, const char *id)
{
	struct adopt_list *al = ps->adopt;

	for (size_t i = 0; al != NULL && i < al->n; i++)
		if (strcmp(al->v[i].id, id) == 0 && strcmp(al->v[i].session, session) == 0)
			return 1;
	return 0;
}

void
procs_adopt_stop(struct procs *ps)
{
	if (ps->adopt == NULL)
		return;
	pthread_join(ps->adopt_thread, NULL);
	free(ps->adopt->v);
	free(ps->adopt);
	ps->adopt = NULL;
}

void
procs_adopt_record(struct server *s, struct proc *p, struct driver_proc *dp)
{
	struct store_proc sp;
	struct err e;

	if (s->drv->ops->proc_key == NULL)
		return;
	memset(&sp, 0, sizeof(sp));
	if (s->drv->ops->proc_key(dp, sp.key, sizeof(sp.key)) != 0)
		return;
	snprintf(sp.id, sizeof(sp.id), "%s", p->id);
	snprintf(sp.session, sizeof(sp.session), "%s", p->session);
	snprintf(sp.command, sizeof(sp.command), "%s", p->command);
	sp.started_ms = p->started_ms;
	if (store_proc_insert(s->store, &sp, &e) != SBXD_OK)
		log_warnx("%s: process %s will not outlive a restart", e.msg, p->id);
	else
		p->stored = 1;
}

void
procs_adopt_forget(struct server *s, struct proc *p)
{
	struct err e;

	if (p->stored && store_proc_delete(s->store, p->id, &e) != SBXD_OK)
		log_warnx("%s", e.msg);
	p->stored = 0;
}
