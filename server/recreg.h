/*
 * recreg.h — a locked list of referenced records that belong to sessions:
 * terminals (terms.c) and watches (watches.c).
 *
 * A record embeds a struct recreg_node as its first member. The list holds
 * one reference; a caller that lets go of mu while it uses a record takes
 * one more (node->refs++, under mu) and drops it with recreg_unref, which
 * frees the record (free_fn, outside mu) when it was the last. mu also
 * guards the records' own mutable fields, so callbacks that run under
 * another lock may take it inside that one.
 */
#ifndef SBXD_RECREG_H
#define SBXD_RECREG_H

#include <pthread.h>
#include <stdint.h>

#include "store.h"

#define RECREG_ID_MAX 24

struct recreg_node {
	struct recreg_node *next;
	int refs;
	char session[STORE_ID_MAX];
	char id[RECREG_ID_MAX];        /* prefix + a number, given by recreg_link */
};

struct recreg {
	pthread_mutex_t mu;
	struct recreg_node *head;      /* newest first */
	uint64_t next_id;
	char prefix;
	void (*free_fn)(struct recreg_node *n);
};

void recreg_init(struct recreg *g, char prefix, void (*free_fn)(struct recreg_node *n));
/* Drops the list's reference of every record, then destroys mu. */
void recreg_fini(struct recreg *g);
/* Drops one reference (takes mu); the last frees the record. */
void recreg_unref(struct recreg *g, struct recreg_node *n);
/* Names n (prefix and the next number) and puts it first; mu held. */
void recreg_link(struct recreg *g, struct recreg_node *n);
/* Takes n off the list (its reference becomes the caller's); mu held. */
void recreg_unlink(struct recreg *g, struct recreg_node *n);
/* session's record id, or NULL; mu held, no reference taken. */
struct recreg_node *recreg_find(struct recreg *g, const char *session, const char *id);
/* How many records session has; mu held. */
int recreg_count(struct recreg *g, const char *session);
/* Unlinks every record of session (takes mu) and returns them chained by
 * next, each with the list's reference now the caller's. */
struct recreg_node *recreg_take_session(struct recreg *g, const char *session);

#endif
