/*
 * docker_ctable.c — the per-container record table (see docker_ctable.h).
 *
 * Slots live in one array indexed from 1 (0 = none): a hash chain (or the
 * free list) and a doubly linked recency list run through them by index, so growing is a
 * realloc plus a rebuild of the bucket heads. The hash is FNV-1a: ids are
 * the engine's, not a client's.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker_ctable.h"

struct slot {
	char id[CTABLE_ID_MAX];     /* "" = free */
	uint32_t next;              /* hash chain */
	uint32_t newer, older;      /* recency list */
	/* the record follows, rec_size bytes */
};

struct ctable {
	pthread_mutex_t mu;
	size_t rec_size, slot_size;
	unsigned char *slots;       /* cap slots, slot i at (i - 1) * slot_size */
	uint32_t *heads;            /* nbuckets chain heads */
	size_t cap, n, nbuckets, limit;
	uint32_t newest, oldest;
	uint32_t free;              /* free slots, chained through next */
};

#define SLOT(t, i) ((struct slot *)((t)->slots + ((size_t)(i) - 1) * (t)->slot_size))
#define REC(s) ((unsigned char *)(s) + sizeof(struct slot))

static uint32_t
hash(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h;
}

struct ctable *
ctable_new(size_t rec_size)
{
	struct ctable *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->rec_size = rec_size;
	t->slot_size = (sizeof(struct slot) + rec_size + 15) & ~(size_t)15;
	t->limit = CTABLE_LIMIT_MIN;
	pthread_mutex_init(&t->mu, NULL);
	return t;
}

void
ctable_free(struct ctable *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t->slots);
	free(t->heads);
	free(t);
}

void
ctable_reserve(struct ctable *t, size_t n)
{
	if (n > CTABLE_LIMIT_MAX)
		n = CTABLE_LIMIT_MAX;
	pthread_mutex_lock(&t->mu);
	if (n > t->limit)
		t->limit = n;
	pthread_mutex_unlock(&t->mu);
}

static uint32_t
find(struct ctable *t, const char *id)
{
	uint32_t i;

	if (t->nbuckets == 0)
		return 0;
	for (i = t->heads[hash(id) & (t->nbuckets - 1)]; i != 0; i = SLOT(t, i)->next)
		if (strcmp(SLOT(t, i)->id, id) == 0)
			return i;
	return 0;
}

static void
lru_unlink(struct ctable *t, uint32_t i)
{
	struct slot *s = SLOT(t, i);

	if (s->newer)
		SLOT(t, s->newer)->older = s->older;
	else
		t->newest = s->older;
	if (s->older)
		SLOT(t, s->older)->newer = s->newer;
	else
		t->oldest = s->newer;
	s->newer = s->older = 0;
}

static void
lru_push(struct ctable *t, uint32_t i)
{
	struct slot *s = SLOT(t, i);

	s->older = t->newest;
	s->newer = 0;
	if (t->newest)
		SLOT(t, t->newest)->newer = i;
	else
		t->oldest = i;
	t->newest = i;
}

static void
chain_unlink(struct ctable *t, uint32_t i)
{
	uint32_t *pp = &t->heads[hash(SLOT(t, i)->id) & (t->nbuckets - 1)];

	while (*pp != i)
		pp = &SLOT(t, *pp)->next;
	*pp = SLOT(t, i)->next;
}

/* Grows to newcap slots and rebuilds the chains; -1 when out of memory. */
static int
grow(struct ctable *t, size_t newcap)
{
	size_t nb = 16;
	unsigned char *slots;
	uint32_t *heads;

	while (nb < 2 * newcap)
		nb *= 2;
	if ((slots = realloc(t->slots, newcap * t->slot_size)) == NULL)
		return -1;
	t->slots = slots;
	if ((heads = calloc(nb, sizeof(*heads))) == NULL)
		return -1;
	memset(t->slots + t->cap * t->slot_size, 0, (newcap - t->cap) * t->slot_size);
	free(t->heads);
	t->heads = heads;
	t->nbuckets = nb;
	t->cap = newcap;
	t->free = 0;
	for (uint32_t i = (uint32_t)t->cap; i >= 1; i--) {
		struct slot *s = SLOT(t, i);
		uint32_t b;

		if (s->id[0] == '\0') {
			s->next = t->free;
			t->free = i;
			continue;
		}
		b = hash(s->id) & (uint32_t)(nb - 1);
		s->next = heads[b];
		heads[b] = i;
	}
	return 0;
}

/* A slot for a new record: a free one, a new one, or the oldest's. */
static uint32_t
take_slot(struct ctable *t)
{
	uint32_t i;

	if (t->n == t->cap && t->cap < t->limit) {
		size_t want = t->cap ? 2 * t->cap : 64;

		if (grow(t, want < t->limit ? want : t->limit) != 0 && t->cap == 0)
			return 0;
	}
	if (t->free != 0) {
		i = t->free;
		t->free = SLOT(t, i)->next;
		t->n++;
		return i;
	}
	i = t->oldest;              /* full: the least recently used goes */
	chain_unlink(t, i);
	lru_unlink(t, i);
	SLOT(t, i)->id[0] = '\0';
	return i;
}

int
ctable_get(struct ctable *t, const char *id, void *rec)
{
	uint32_t i;

	pthread_mutex_lock(&t->mu);
	if ((i = find(t, id)) != 0) {
		memcpy(rec, REC(SLOT(t, i)), t->rec_size);
		lru_unlink(t, i);
		lru_push(t, i);
	}
	pthread_mutex_unlock(&t->mu);
	return i != 0;
}

void
ctable_put(struct ctable *t, const char *id, const void *rec)
{
	size_t len = strlen(id);
	uint32_t i, b;

	if (len == 0 || len >= CTABLE_ID_MAX)
		return;
	pthread_mutex_lock(&t->mu);
	if ((i = find(t, id)) != 0) {
		lru_unlink(t, i);
	} else if ((i = take_slot(t)) != 0) {
		memcpy(SLOT(t, i)->id, id, len + 1);
		b = hash(id) & (uint32_t)(t->nbuckets - 1);
		SLOT(t, i)->next = t->heads[b];
		t->heads[b] = i;
	}
	if (i != 0) {
		memcpy(REC(SLOT(t, i)), rec, t->rec_size);
		lru_push(t, i);
	}
	pthread_mutex_unlock(&t->mu);
}

void
ctable_drop(struct ctable *t, const char *id)
{
	uint32_t i;

	pthread_mutex_lock(&t->mu);
	if ((i = find(t, id)) != 0) {
		chain_unlink(t, i);
		lru_unlink(t, i);
		SLOT(t, i)->id[0] = '\0';
		SLOT(t, i)->next = t->free;
		t->free = i;
		t->n--;
	}
	pthread_mutex_unlock(&t->mu);
}

void
ctable_stats(struct ctable *t, size_t *n, size_t *cap, size_t *limit)
{
	pthread_mutex_lock(&t->mu);
	*n = t->n;
	*cap = t->cap;
	*limit = t->limit;
	pthread_mutex_unlock(&t->mu);
}
