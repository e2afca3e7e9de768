/*
 * shares.c — per-tenant counts of long calls (see shares.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shares.h"

struct slot {
	char key[SHARES_KEY_MAX];
	int held;                   /* 0 = free slot */
};

struct shares {
	pthread_mutex_t mu;
	int nslots;
	struct slot *slots;
};

struct shares *
shares_new(int slots)
{
	struct shares *s;

	if (slots < 1 || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->slots = calloc((size_t)slots, sizeof(*s->slots))) == NULL) {
		free(s);
		return NULL;
	}
	s->nslots = slots;
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

void
shares_free(struct shares *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->slots);
	free(s);
}

/* The slot holding key, or NULL; with free set to the first free slot. */
static struct slot *
find(struct shares *s, const char *key, struct slot **free_slot)
{
	*free_slot = NULL;
	for (int i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];

		if (sl->held == 0) {
			if (*free_slot == NULL)
				*free_slot = sl;
		} else if (strcmp(sl->key, key) == 0) {
			return sl;
		}
	}
	return NULL;
}

int
shares_take(struct shares *s, const char *key, int cap)
{
	struct slot *sl, *fr;
	int ok = 0;

	if (s == NULL)
		return 1;
	pthread_mutex_lock(&s->mu);
	if ((sl = find(s, key, &fr)) == NULL && (sl = fr) != NULL)
		snprintf(sl->key, sizeof(sl->key), "%s", key);
	if (sl != NULL && sl->held < cap) {
		sl->held++;
		ok = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

void
shares_give(struct shares *s, const char *key)
{
	struct slot *sl, *fr;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	if ((sl = find(s, key, &fr)) != NULL)
		sl->held--;
	pthread_mutex_unlock(&s->mu);
}

int
shares_held(struct shares *s, const char *key)
{
	struct slot *sl, *fr;
	int n;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->mu);
	n = (sl = find(s, key, &fr)) != NULL ? sl->held : 0;
	pthread_mutex_unlock(&s->mu);
	return n;
}
