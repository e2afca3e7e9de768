/*
 * recreg.c — a locked list of referenced records of sessions (recreg.h).
 */
#include <stdio.h>
#include <string.h>

#include "recreg.h"

void
recreg_init(struct recreg *g, char prefix, void (*free_fn)(struct recreg_node *n))
{
	pthread_mutex_init(&g->mu, NULL);
	g->head = NULL;
	g->next_id = 1;
	g->prefix = prefix;
	g->free_fn = free_fn;
}

void
recreg_fini(struct recreg *g)
{
	struct recreg_node *n;

	pthread_mutex_lock(&g->mu);
	while ((n = g->head) != NULL) {
		g->head = n->next;
		pthread_mutex_unlock(&g->mu);
		recreg_unref(g, n);
		pthread_mutex_lock(&g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	pthread_mutex_destroy(&g->mu);
}

void
recreg_unref(struct recreg *g, struct recreg_node *n)
{
	int last;

	pthread_mutex_lock(&g->mu);
	last = --n->refs == 0;
	pthread_mutex_unlock(&g->mu);
	if (last)
		g->free_fn(n);
}

void
recreg_link(struct recreg *g, struct recreg_node *n)
{
	snprintf(n->id, sizeof(n->id), "%c%llu", g->prefix, (unsigned long long)g->next_id++);
	n->next = g->head;
	g->head = n;
}

void
recreg_unlink(struct recreg *g, struct recreg_node *n)
{
	for (struct recreg_node **pp = &g->head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			return;
		}
}

struct recreg_node *
recreg_find(struct recreg *g, const char *session, const char *id)
{
	struct recreg_node *n;

	for (n = g->head; n != NULL; n = n->next)
		if (strcmp(n->id, id) == 0 && strcmp(n->session, session) == 0)
			break;
	return n;
}

int
recreg_count(struct recreg *g, const char *session)
{
	int k = 0;

	for (struct recreg_node *n = g->head; n != NULL; n = n->next)
		k += strcmp(n->session, session) == 0;
	return k;
}

struct recreg_node *
recreg_take_session(struct recreg *g, const char *session)
{
	struct recreg_node **pp, *n, *gone = NULL;

	pthread_mutex_lock(&g->mu);
	for (pp = &g->head; (n = *pp) != NULL;) {
		if (strcmp(n->session, session) != 0) {
			pp = &n->next;
			continue;
		}
		*pp = n->next;
		n->next = gone;
		gone = n;
	}
	pthread_mutex_unlock(&g->mu);
	return gone;
}
