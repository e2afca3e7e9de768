/*
 * test_replycache.c — the reply cache: a repeat gets the first reply, ids
 * of one credential never match another's, a reused id with another
 * request is refused, a repeat of a call in flight waits for its reply,
 * forgotten (UNAVAILABLE) calls run again, and the age, count and byte
 * bounds hold (with a substituted clock).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "replycache.h"
#include "t.h"

static int64_t fake_now;

static int64_t
fake_clock(void)
{
	return fake_now;
}

static struct replycache *
cache(size_t entries, size_t bytes, size_t reply)
{
	struct replycache_limits lim = { .ttl_ms = 1000, .max_entries = entries,
	    .max_bytes = bytes, .max_reply = reply, .now_ms = fake_clock };
	struct replycache *rc = NULL;
	struct err e;

	fake_now = 1;
	replycache_new(&lim, &rc, &e);
	return rc;
}

static const unsigned char CRED_A[REPLYCACHE_DIGEST] = { 1 }, CRED_B[REPLYCACHE_DIGEST] = { 2 };
static const unsigned char REQ_1[REPLYCACHE_DIGEST] = { 7 }, REQ_2[REPLYCACHE_DIGEST] = { 8 };

/* Runs (cred, id) to completion with reply text; returns the verdict. */
static enum replycache_verdict
call(struct replycache *rc, const unsigned char *cred, const char *id, const unsigned char *req,
    const char *text, char *got, size_t gotsz)
{
	struct replycache_entry *slot;
	void *reply;
	size_t len;
	enum replycache_verdict v;

	v = replycache_begin(rc, cred, id, req, fake_now, &slot, &reply, &len);
	if (v == REPLYCACHE_RUN)
		replycache_finish(rc, slot, text, strlen(text) + 1, 1);
	if (v == REPLYCACHE_HIT && got != NULL) {
		snprintf(got, gotsz, "%.*s", (int)len, (char *)reply);
	}
	free(reply);
	return v;
}

TEST(repeat_gets_first_reply)
{
	struct replycache *rc = cache(16, 1 << 20, 1 << 20);
	char got[64] = "";

	REQUIRE(rc != NULL);
	CHECK_INT(call(rc, CRED_A, "id1", REQ_1, "first", NULL, 0), REPLYCACHE_RUN);
	CHECK_INT(call(rc, CRED_A, "id1", REQ_1, "second", got, sizeof(got)), REPLYCACHE_HIT);
	CHECK_STR(got, "first");
	/* another credential, same id: its own call */
	CHECK_INT(call(rc, CRED_B, "id1", REQ_1, "b", NULL, 0), REPLYCACHE_RUN);
	CHECK_INT(call(rc, CRED_B, "id1", REQ_1, "x", got, sizeof(got)), REPLYCACHE_HIT);
	CHECK_STR(got, "b");
	/* same id, different request */
	CHECK_INT(call(rc, CRED_A, "id1", REQ_2, "x", NULL, 0), REPLYCACHE_MISMATCH);
	/* no id, or one too long: not cached */
	CHECK_INT(call(rc, CRED_A, "", REQ_1, "x", NULL, 0), REPLYCACHE_UNCACHED);
	{
		char longid[REPLYCACHE_ID_MAX + 2];

		memset(longid, 'a', sizeof(longid) - 1);
		longid[sizeof(longid) - 1] = '\0';
		CHECK_INT(call(rc, CRED_A, longid, REQ_1, "x", NULL, 0), REPLYCACHE_UNCACHED);
	}
	replycache_free(rc);
}

TEST(forgotten_call_runs_again)
{
	struct replycache *rc = cache(16, 1 << 20, 1 << 20);
	struct replycache_entry *slot;
	void *reply;
	size_t len, n, b;

	REQUIRE(rc != NULL);
	REQUIRE_INT(replycache_begin(rc, CRED_A, "u", REQ_1, 0, &slot, &reply, &len), REPLYCACHE_RUN);
	replycache_finish(rc, slot, "unavailable", 12, 0);
	replycache_stats(rc, &n, &b);
	CHECK_INT(n, 0);
	CHECK_INT(call(rc, CRED_A, "u", REQ_1, "ok", NULL, 0), REPLYCACHE_RUN);
	replycache_free(rc);
}

TEST(bounds_by_age_count_and_bytes)
{
	struct replycache *rc = cache(3, 20, 10);
	char id[16];
	size_t n, b;

	REQUIRE(rc != NULL);
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		CHECK_INT(call(rc, CRED_A, id, REQ_1, "abc", NULL, 0), REPLYCACHE_RUN);
	}
	replycache_stats(rc, &n, &b);
	CHECK_INT(n, 3);                     /* the oldest two went */
	CHECK_INT(b, 12);
	CHECK_INT(call(rc, CRED_A, "c0", REQ_1, "new", NULL, 0), REPLYCACHE_RUN);
	CHECK_INT(call(rc, CRED_A, "c4", REQ_1, "new", NULL, 0), REPLYCACHE_HIT);
	/* bytes: 8-byte replies, 20 bytes allowed */
	CHECK_INT(call(rc, CRED_B, "b1", REQ_1, "1234567", NULL, 0), REPLYCACHE_RUN);
	CHECK_INT(call(rc, CRED_B, "b2", REQ_1, "1234567", NULL, 0), REPLYCACHE_RUN);
	replycache_stats(rc, &n, &b);
	CHECK(b <= 20);
	CHECK_INT(call(rc, CRED_B, "b2", REQ_1, "x", NULL, 0), REPLYCACHE_HIT);
	/* a reply over max_reply is remembered as run, without its bytes */
	CHECK_INT(call(rc, CRED_B, "big", REQ_1, "0123456789abc", NULL, 0), REPLYCACHE_RUN);
	CHECK_INT(call(rc, CRED_B, "big", REQ_1, "x", NULL, 0), REPLYCACHE_TOO_BIG);
	/* age */
	fake_now += 1000;
	replycache_stats(rc, &n, &b);
	CHECK_INT(call(rc, CRED_B, "b2", REQ_1, "again", NULL, 0), REPLYCACHE_RUN);
	replycache_stats(rc, &n, &b);
	CHECK_INT(n, 1);
	replycache_free(rc);
}

struct waiter {
	struct replycache *rc;
	atomic_int started;
	enum replycache_verdict v;
	char got[32];
};

static void *
wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct replycache_entry *slot;
	void *reply = NULL;
	size_t len = 0;

	atomic_store(&w->started, 1);
	w->v = replycache_begin(w->rc, CRED_A, "slow", REQ_1, INT64_MAX, &slot, &reply, &len);
	if (w->v == REPLYCACHE_HIT)
		snprintf(w->got, sizeof(w->got), "%.*s", (int)len, (char *)reply);
	free(reply);
	return NULL;
}

TEST(repeat_in_flight_waits_for_the_reply)
{
	struct waiter w = { .rc = cache(16, 1 << 20, 1 << 20) };
	struct replycache_entry *slot, *other;
	void *reply;
	size_t len;
	pthread_t th;

	REQUIRE(w.rc != NULL);
	REQUIRE_INT(replycache_begin(w.rc, CRED_A, "slow", REQ_1, 0, &slot, &reply, &len),
	    REPLYCACHE_RUN);
	/* a repeat whose wait bound has passed hears "still running" */
	CHECK_INT(replycache_begin(w.rc, CRED_A, "slow", REQ_1, fake_now, &other, &reply, &len),
	    REPLYCACHE_RUNNING);
	pthread_create(&th, NULL, wait_thread, &w);
	while (!atomic_load(&w.started))
		;
	/* whether the waiter is asleep yet or not, it gets the reply */
	replycache_finish(w.rc, slot, "done", 5, 1);
	pthread_join(th, NULL);
	CHECK_INT(w.v, REPLYCACHE_HIT);
	CHECK_STR(w.got, "done");
	replycache_free(w.rc);
}

int
main(void)
{
	RUN(repeat_gets_first_reply);
	RUN(forgotten_call_runs_again);
	RUN(bounds_by_age_count_and_bytes);
	RUN(repeat_in_flight_waits_for_the_reply);
	T_DONE();
}
