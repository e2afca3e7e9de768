/*
 * replycache.c — the reply cache behind safe retries (see replycache.h).
 *
 * A chained hash table keyed by SipHash (random key per process, so
 * clients cannot aim ids at one bucket) over the credential digest and
 * the request id, plus a list of finished entries in the order they
 * finished: expiry and the count and byte bounds pop from its head.
 * Entries of calls in flight are in the table but not on the list and are
 * never evicted. One mutex guards all; a repeat waiting for a call in
 * flight sleeps on one condition variable that every finish broadcasts,
 * and holds a reference so the entry outlives an eviction meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "replycache.h"
#include "monotime.h"

enum entry_state { ENTRY_RUNNING, ENTRY_DONE, ENTRY_TOO_BIG };

struct replycache_entry {
	struct replycache_entry *next;        /* hash chain */
	struct replycache_entry *older, *newer; /* finished list */
	unsigned char cred[REPLYCACHE_DIGEST];
	unsigned char req[REPLYCACHE_DIGEST];
	char id[REPLYCACHE_ID_MAX + 1];
	enum entry_state state;
	int linked;                 /* in the table */
	int refs;                   /* the table's, plus each waiter's */
	int64_t done_ms;
	void *reply;
	size_t len;
};

struct replycache {
	struct replycache_limits lim;
	pthread_mutex_t mu;
	pthread_cond_t done;
	struct replycache_entry **buckets;
	size_t nbuckets;            /* a power of two */
	unsigned char key[crypto_shorthash_KEYBYTES];
	struct replycache_entry *oldest, *newest; /* finished entries */
	size_t entries, bytes;
};

int64_t
replycache_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sbxd_code
replycache_new(const struct replycache_limits *lim, struct replycache **out, struct err *e)
{
	struct replycache *rc;
	size_t n = 16;

	*out = NULL;
	if (sodium_init() < 0)
		return err_set(e, SBXD_INTERNAL, "libsodium failed to initialize");
	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	rc->lim = lim ? *lim : (struct replycache_limits){ .ttl_ms = REPLYCACHE_TTL_MS,
	    .max_entries = REPLYCACHE_MAX_ENTRIES, .max_bytes = REPLYCACHE_MAX_BYTES,
	    .max_reply = REPLYCACHE_MAX_REPLY };
	if (rc->lim.now_ms == NULL)
		rc->lim.now_ms = replycache_now_ms;
	while (n < 2 * rc->lim.max_entries)
		n *= 2;
	if ((rc->buckets = calloc(n, sizeof(*rc->buckets))) == NULL) {
		free(rc);
		return err_set(e, SBXD_INTERNAL, "out of memory");
	}
	rc->nbuckets = n;
	crypto_shorthash_keygen(rc->key);
	pthread_mutex_init(&rc->mu, NULL);
	pthread_cond_init(&rc->done, NULL);
	*out = rc;
	return SBXD_OK;
}

static void
entry_unref(struct replycache_entry *en)
{
	if (--en->refs > 0)
		return;
	free(en->reply);
	free(en);
}

void
replycache_free(struct replycache *rc)
{
	if (rc == NULL)
		return;
	for (size_t i = 0; i < rc->nbuckets; i++) {
		struct replycache_entry *en, *next;

		for (en = rc->buckets[i]; en != NULL; en = next) {
			next = en->next;
			entry_unref(en);
		}
	}
	pthread_cond_destroy(&rc->done);
	pthread_mutex_destroy(&rc->mu);
	free(rc->buckets);
	free(rc);
}

void
replycache_stats(struct replycache *rc, size_t *entries, size_t *bytes)
{
	pthread_mutex_lock(&rc->mu);
	*entries = rc->entries;
	*bytes = rc->bytes;
	pthread_mutex_unlock(&rc->mu);
}

static size_t
bucket_of(const struct replycache *rc, const unsigned char *cred, const char *id)
{
	unsigned char in[REPLYCACHE_DIGEST + REPLYCACHE_ID_MAX];
	unsigned char h[crypto_shorthash_BYTES];
	size_t idlen = strlen(id);
	uint64_t v;

	memcpy(in, cred, REPLYCACHE_DIGEST);
	memcpy(in + REPLYCACHE_DIGEST, id, idlen);
	crypto_shorthash(h, in, REPLYCACHE_DIGEST + idlen, rc->key);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v & (rc->nbuckets - 1));
}

static void
list_remove(struct replycache *rc, struct replycache_entry *en)
{
	if (en->older != NULL)
		en->older->newer = en->newer;
	else
		rc->oldest = en->newer;
	if (en->newer != NULL)
		en->newer->older = en->older;
	else
		rc->newest = en->older;
	en->older = en->newer = NULL;
}

/* Takes en out of the table (and the finished list) and drops the table's
 * reference. */
static void
evict(struct replycache *rc, struct replycache_entry *en)
{
	struct replycache_entry **pp = &rc->buckets[bucket_of(rc, en->cred, en->id)];

	while (*pp != en)
		pp = &(*pp)->next;
	*pp = en->next;
	en->next = NULL;
	en->linked = 0;
	if (en->state != ENTRY_RUNNING)
		list_remove(rc, en);
	rc->entries--;
	rc->bytes -= en->len;
	entry_unref(en);
}

/* Pops expired finished entries, then the oldest finished ones while an
 * entry of extra bytes would not fit. */
static void
trim(struct replycache *rc, size_t extra_entries, size_t extra_bytes)
{
	int64_t now = rc->lim.now_ms();

	while (rc->oldest != NULL && now - rc->oldest->done_ms >= rc->lim.ttl_ms)
		evict(rc, rc->oldest);
	while (rc->oldest != NULL && (rc->entries + extra_entries > rc->lim.max_entries ||
	    rc->bytes + extra_bytes > rc->lim.max_bytes))
		evict(rc, rc->oldest);
}

static struct replycache_entry *
find(struct replycache *rc, const unsigned char *cred, const char *id)
{
	struct replycache_entry *en;

	for (en = rc->buckets[bucket_of(rc, cred, id)]; en != NULL; en = en->next)
		if (strcmp(en->id, id) == 0 && sodium_memcmp(en->cred, cred, REPLYCACHE_DIGEST) == 0)
			return en;
	return NULL;
}

/* Waits (mutex held) until en is finished, evicted or wait_until passes. */
static void
wait_for(struct replycache *rc, struct replycache_entry *en, int64_t wait_until_ms)
{
	struct timespec ts;
	int64_t left;

	en->refs++;
	while (en->state == ENTRY_RUNNING && en->linked &&
	    (left = wait_until_ms - rc->lim.now_ms()) > 0) {
		if (left > 1000)
			left = 1000;        /* re-checked: the clock may be a test's */
		ts = monotime_after_ms(CLOCK_REALTIME, (uint64_t)left);
		pthread_cond_timedwait(&rc->done, &rc->mu, &ts);
	}
}

/* The verdict for a repeat of en (mutex held; drops a waiter's reference). */
static enum replycache_verdict
answer_repeat(struct replycache_entry *en, const unsigned char *req, int waited,
    void **reply, size_t *len)
{
	enum replycache_verdict v;

	if (sodium_memcmp(en->req, req, REPLYCACHE_DIGEST) != 0)
		v = REPLYCACHE_MISMATCH;
	else if (en->state == ENTRY_RUNNING)
		v = en->linked ? REPLYCACHE_RUNNING : REPLYCACHE_UNCACHED;
	else if (en->state == ENTRY_TOO_BIG)
		v = REPLYCACHE_TOO_BIG;
	else if ((*reply = malloc(en->len ? en->len : 1)) == NULL)
		v = REPLYCACHE_RUNNING;   /* out of memory: the client retries */
	else {
		memcpy(*reply, en->reply, en->len);
		*len = en->len;
		v = REPLYCACHE_HIT;
	}
	if (waited)
		entry_unref(en);
	return v;
}

enum replycache_verdict
replycache_begin(struct replycache *rc, const unsigned char cred[REPLYCACHE_DIGEST],
    const char *id, const unsigned char req[REPLYCACHE_DIGEST], int64_t wait_until_ms,
    struct replycache_entry **slot, void **reply, size_t *len)
{
	struct replycache_entry *en;
	enum replycache_verdict v;
	size_t b;
	int waited = 0;

	*slot = NULL;
	*reply = NULL;
	*len = 0;
	if (strlen(id) > REPLYCACHE_ID_MAX || *id == '\0')
		return REPLYCACHE_UNCACHED;
	pthread_mutex_lock(&rc->mu);
	trim(rc, 0, 0);
	if ((en = find(rc, cred, id)) != NULL) {
		if (en->state == ENTRY_RUNNING && en->refs - 1 < REPLYCACHE_WAITERS_MAX &&
		    sodium_memcmp(en->req, req, REPLYCACHE_DIGEST) == 0) {
			wait_for(rc, en, wait_until_ms);
			waited = 1;
		}
		v = answer_repeat(en, req, waited, reply, len);
		/* evicted while waiting (never while running): run it again */
		pthread_mutex_unlock(&rc->mu);
		return v;
	}
	trim(rc, 1, 0);
	if (rc->entries >= rc->lim.max_entries || (en = calloc(1, sizeof(*en))) == NULL) {
		pthread_mutex_unlock(&rc->mu);
		return REPLYCACHE_UNCACHED;
	}
	memcpy(en->cred, cred, REPLYCACHE_DIGEST);
	memcpy(en->req, req, REPLYCACHE_DIGEST);
	memcpy(en->id, id, strlen(id) + 1);
	en->state = ENTRY_RUNNING;
	en->refs = 1;
	en->linked = 1;
	b = bucket_of(rc, cred, id);
	en->next = rc->buckets[b];
	rc->buckets[b] = en;
	rc->entries++;
	pthread_mutex_unlock(&rc->mu);
	*slot = en;
	return REPLYCACHE_RUN;
}

void
replycache_finish(struct replycache *rc, struct replycache_entry *en, const void *reply,
    size_t len, int keep)
{
	int too_big = len > rc->lim.max_reply || len > rc->lim.max_bytes;
	void *copy = NULL;

	if (en == NULL)
		return;
	if (keep && reply != NULL && !too_big && (copy = malloc(len ? len : 1)) != NULL)
		memcpy(copy, reply, len);
	pthread_mutex_lock(&rc->mu);
	if (!keep || reply == NULL || (!too_big && copy == NULL)) {
		evict(rc, en);      /* forgotten: a repeat runs the call again */
	} else {
		trim(rc, 0, too_big ? 0 : len);
		en->state = too_big ? ENTRY_TOO_BIG : ENTRY_DONE;
		en->reply = copy;
		en->len = too_big ? 0 : len;
		en->done_ms = rc->lim.now_ms();
		rc->bytes += en->len;
		en->older = rc->newest;
		if (rc->newest != NULL)
			rc->newest->newer = en;
		else
			rc->oldest = en;
		rc->newest = en;
	}
	pthread_cond_broadcast(&rc->done);
	pthread_mutex_unlock(&rc->mu);
}
