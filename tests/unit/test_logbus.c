/*
 * test_logbus.c — the log bus on its own: ring bounds (events and bytes),
 * seq without gaps, splitting, lost counts, future after_seq, leases, key
 * derivation, and the sealed wire form read by a real nng SUB socket.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <sodium.h>

#include "logbus.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"

struct bus {
	struct config cfg;
	struct server srv;
};

static int
bus_open_total(struct bus *b, int events, const char *bytes, const char *total, const char *dir);

static int
bus_open(struct bus *b, int events, const char *bytes, const char *dir)
{
	return bus_open_total(b, events, bytes, "256M", dir);
}

static int
bus_open_total(struct bus *b, int events, const char *bytes, const char *total, const char *dir)
{
	struct err e;
	char n[16];

	memset(b, 0, sizeof(*b));
	config_defaults(&b->cfg);
	snprintf(n, sizeof(n), "%d", events);
	if (dir != NULL)
		snprintf(b->cfg.state_dir, sizeof(b->cfg.state_dir), "%s", dir);
	else {
		snprintf(b->cfg.state_dir, sizeof(b->cfg.state_dir), "/tmp/sbx-logbus-XXXXXX");
		if (mkdtemp(b->cfg.state_dir) == NULL)
			return -1;
	}
	if (config_set(&b->cfg, "log_listen", "tcp://127.0.0.1:0", &e) != SBXD_OK ||
	    config_set(&b->cfg, "log_ring_events", n, &e) != SBXD_OK ||
	    config_set(&b->cfg, "log_ring_bytes", bytes, &e) != SBXD_OK ||
	    config_set(&b->cfg, "log_total_bytes", total, &e) != SBXD_OK)
		return -1;
	b->srv.cfg = &b->cfg;
	if (logbus_open(&b->srv, &e) != SBXD_OK) {
		fprintf(stderr, "logbus_open: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static void
bus_close(struct bus *b, int rm)
{
	char cmd[CONFIG_PATH_MAX + 16];

	logbus_close(&b->srv);
	if (rm) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", b->cfg.state_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", b->cfg.state_dir);
	}
}

/* What a read returned. */
struct got {
	uint64_t seq[4096];
	size_t len[4096];
	char first_byte[4096];
	int n;
};

static void
collect(void *arg, const struct logbus_event *ev)
{
	struct got *g = arg;

	if (g->n < 4096) {
		g->seq[g->n] = ev->seq;
		g->len[g->n] = ev->len;
		g->first_byte[g->n] = ev->len ? ((const char *)ev->data)[0] : 0;
		g->n++;
	}
}

static sbxd_code
rd(struct bus *b, const char *id, uint64_t after, uint32_t max, size_t max_bytes, struct got *g,
    struct logbus_window *w, struct err *e)
{
	memset(g, 0, sizeof(*g));
	return logbus_read(&b->srv, id, after, max, max_bytes, collect, g, w, e);
}

TEST(seq_from_one_in_order)
{
	struct bus b;
	struct logbus_window w;
	struct err e;
	struct got *g = calloc(1, sizeof(*g));

	REQUIRE(g != NULL && bus_open(&b, 100, "1M", NULL) == 0);
	for (int i = 1; i <= 5; i++) {
		char c = (char)('a' + i);

		CHECK_INT(logbus_emit(&b.srv, "s-one", "x1", LOGBUS_STDOUT, &c, 1), i);
	}
	CHECK_INT(logbus_emit(&b.srv, "s-one", "x1", LOGBUS_STDOUT, "", 0), 0);   /* nothing */
	CHECK_INT(logbus_emitf(&b.srv, "s-two", "", "hello %d", 7), 1);          /* own seq */
	REQUIRE_INT(rd(&b, "s-one", 0, 100, 1 << 20, g, &w, &e), SBXD_OK);
	REQUIRE_INT(g->n, 5);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(g->seq[i], i + 1);
		CHECK_INT(g->first_byte[i], 'a' + i + 1);
	}
	CHECK_INT(w.first_available, 1);
	CHECK_INT(w.next_seq, 6);
	CHECK_INT(w.lost, 0);
	REQUIRE_INT(rd(&b, "s-one", 3, 100, 1 << 20, g, &w, &e), SBXD_OK);
	CHECK_INT(g->n, 2);
	CHECK_INT(g->seq[0], 4);
	REQUIRE_INT(rd(&b, "s-one", 0, 2, 1 << 20, g, &w, &e), SBXD_OK);   /* max */
	CHECK_INT(g->n, 2);
	CHECK_INT(g->seq[1], 2);
	bus_close(&b, 1);
	free(g);
}

TEST(wraps_at_event_count_and_counts_lost)
{
	struct bus b;
	struct logbus_window w;
	struct err e;
	struct got *g = calloc(1, sizeof(*g));

	REQUIRE(g != NULL && bus_open(&b, 16, "1M", NULL) == 0);
	for (int i = 1; i <= 40; i++)
		CHECK_INT(logbus_emitf(&b.srv, "s-w", "p", "line %d", i), i);
	REQUIRE_INT(rd(&b, "s-w", 0, 100, 1 << 20, g, &w, &e), SBXD_OK);
	REQUIRE_INT(g->n, 16);
	CHECK_INT(g->seq[0], 25);
	CHECK_INT(g->seq[15], 40);
	CHECK_INT(w.first_available, 25);
	CHECK_INT(w.lost, 24);
	REQUIRE_INT(rd(&b, "s-w", 10, 100, 1 << 20, g, &w, &e), SBXD_OK);
	CHECK_INT(w.lost, 14);   /* 11..24 */
	CHECK_INT(g->seq[0], 25);
	REQUIRE_INT(rd(&b, "s-w", 30, 100, 1 << 20, g, &w, &e), SBXD_OK);
	CHECK_INT(w.lost, 0);
	CHECK_INT(g->n, 10);
	REQUIRE_INT(rd(&b, "s-w", 40, 100, 1 << 20, g, &w, &e), SBXD_OK);   /* caught up */
	CHECK_INT(g->n, 0);
	CHECK_INT(w.next_seq, 41);
	bus_close(&b, 1);
	free(g);
}

TEST(byte_bound_and_splitting)
{
	struct bus b;
	struct logbus_window w;
	struct err e;
	struct got *g = calloc(1, sizeof(*g));
	char *big = malloc(200000);

	REQUIRE(g != NULL && big != NULL && bus_open(&b, 1000, "64K", NULL) == 0);
	memset(big, 'z', 200000);
	for (int i = 0; i < 3; i++)
		CHECK_INT(logbus_emit(&b.srv, "s-b", "x", LOGBUS_STDERR, big, 30000), i + 1);
	REQUIRE_INT(rd(&b, "s-b", 0, 100, 1 << 20, g, &w, &e), SBXD_OK);
	CHECK_INT(g->n, 2);      /* 3 x 30000 > 64 KiB */
	CHECK_INT(w.first_available, 2);
	CHECK_INT(w.lost, 1);
	/* 200000 bytes: 64 KiB, 64 KiB, 64 KiB, 3392 — four events. */
	CHECK_INT(logbus_emit(&b.srv, "s-b", "x", LOGBUS_STDOUT, big, 200000), 7);
	REQUIRE_INT(rd(&b, "s-b", 0, 100, 1 << 20, g, &w, &e), SBXD_OK);
	REQUIRE_INT(g->n, 1);    /* a full chunk plus the tail is over 64 KiB */
	CHECK_INT(g->seq[0], 7);
	CHECK_INT(g->len[0], 200000 - 3 * LOGBUS_EVENT_MAX);
	CHECK_INT(w.lost, 6);
	REQUIRE_INT(rd(&b, "s-b", 5, 100, 1 << 20, g, &w, &e), SBXD_OK);
	CHECK_INT(w.lost, 1);    /* 6 */
	CHECK_INT(logbus_emit(&b.srv, "s-b", "x", LOGBUS_STDOUT, big, LOGBUS_EVENT_MAX), 8);
	REQUIRE_INT(rd(&b, "s-b", 0, 100, 1 << 20, g, &w, &e), SBXD_OK);
	REQUIRE_INT(g->n, 1);
	CHECK_INT(g->len[0], LOGBUS_EVENT_MAX);
	/* A read's byte budget stops early but always gives one event. */
	for (int i = 0; i < 3; i++)
		logbus_emit(&b.srv, "s-b", "x", LOGBUS_STDOUT, big, 100);
	REQUIRE_INT(rd(&b, "s-b", 0, 100, 10, g, &w, &e), SBXD_OK);
	CHECK_INT(g->n, 1);
	REQUIRE_INT(rd(&b, "s-b", 0, 100, 200, g, &w, &e), SBXD_OK);
	CHECK_INT(g->n, 2);
	bus_close(&b, 1);
	free(big);
	free(g);
}

TEST(all_rings_share_the_total)
{
	struct bus b;
	struct logbus_window w;
	struct err e;
	struct got *g = calloc(1, sizeof(*g));
	char *chunk = calloc(1, LOGBUS_EVENT_MAX);
	const char *ids[] = { "s-t1", "s-t2", "s-t3", "s-t4" };

	REQUIRE(g != NULL && chunk != NULL && bus_open_total(&b, 1000, "1M", "1M", NULL) == 0);
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < 16; i++)   /* 1 MiB each: one ring alone may hold it */
			logbus_emit(&b.srv, ids[k], "x", LOGBUS_STDOUT, chunk, LOGBUS_EVENT_MAX);
	usleep(150000);                 /* past the trim pass's pace */
	logbus_emitf(&b.srv, "s-t4", "", "tick");
	CHECK(logbus_bytes(&b.srv) <= (1u << 20) + LOGBUS_EVENT_MAX);
	for (int k = 0; k < 4; k++) {
		REQUIRE_INT(rd(&b, ids[k], 0, 100, 1 << 20, g, &w, &e), SBXD_OK);
		CHECK(g->n >= 1);           /* each keeps its newest */
		CHECK(g->n <= 5);           /* and about a quarter of the total */
		CHECK(w.lost > 0);
	}
	bus_close(&b, 1);
	free(chunk);
	free(g);
}

TEST(future_after_seq_is_invalid)
{
	struct bus b;
	struct logbus_window w;
	struct err e;
	struct got *g = calloc(1, sizeof(*g));

	REQUIRE(g != NULL && bus_open(&b, 100, "1M", NULL) == 0);
	CHECK_INT(rd(&b, "s-none", 0, 10, 1 << 20, g, &w, &e), SBXD_OK);
	CHECK_INT(w.next_seq, 1);
	CHECK_INT(rd(&b, "s-none", 5, 10, 1 << 20, g, &w, &e), SBXD_INVALID_ARGUMENT);
	logbus_emitf(&b.srv, "s-f", "", "one");
	logbus_emitf(&b.srv, "s-f", "", "two");
	CHECK_INT(rd(&b, "s-f", 2, 10, 1 << 20, g, &w, &e), SBXD_OK);
	CHECK_INT(rd(&b, "s-f", 3, 10, 1 << 20, g, &w, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "seq 3");
	CHECK_INT(rd(&b, "s-f", UINT64_MAX, 10, 1 << 20, g, &w, &e), SBXD_INVALID_ARGUMENT);
	bus_close(&b, 1);
	free(g);
}

TEST(leases_expire)
{
	struct bus b;
	int64_t now = server_now_ms();

	REQUIRE(bus_open(&b, 100, "1M", NULL) == 0);
	CHECK(!logbus_leased(&b.srv, "s-l", now));
	logbus_lease(&b.srv, "s-l", now + 1000);
	CHECK(logbus_leased(&b.srv, "s-l", now));
	CHECK(!logbus_leased(&b.srv, "s-l", now + 1001));
	CHECK(!logbus_leased(&b.srv, "s-other", now));
	logbus_forget(&b.srv, "s-l");   /* lingers; still readable */
	CHECK(logbus_leased(&b.srv, "s-l", now));
	bus_close(&b, 1);
}

TEST(keys_survive_restart_and_differ_per_session)
{
	struct bus b;
	unsigned char k1[LOGBUS_KEY_BYTES], k2[LOGBUS_KEY_BYTES], k3[LOGBUS_KEY_BYTES];
	char dir[CONFIG_PATH_MAX];

	REQUIRE(bus_open(&b, 100, "1M", NULL) == 0);
	snprintf(dir, sizeof(dir), "%s", b.cfg.state_dir);
	logbus_session_key(&b.srv, "s-a", k1);
	logbus_session_key(&b.srv, "s-b", k2);
	bus_close(&b, 0);
	REQUIRE(bus_open(&b, 100, "1M", dir) == 0);
	logbus_session_key(&b.srv, "s-a", k3);
	CHECK(memcmp(k1, k3, sizeof(k1)) == 0);
	CHECK(memcmp(k1, k2, sizeof(k1)) != 0);
	bus_close(&b, 1);
}

/* Opens a sealed event for topic with key; the LogEvent or NULL. */
static Sbx__V1__LogEvent *
open_sealed(nng_msg *m, const char *topic_for_ad, const unsigned char *key)
{
	const char *body = nng_msg_body(m);
	size_t tl = strnlen(body, nng_msg_len(m)) + 1;
	Sbx__V1__SealedLogEvent *se;
	Sbx__V1__LogEvent *le = NULL;
	unsigned char ad[128], pt[70000];
	unsigned long long ptlen;
	size_t adlen;

	if (tl > nng_msg_len(m))
		return NULL;
	se = sbx__v1__sealed_log_event__unpack(NULL, nng_msg_len(m) - tl, (const uint8_t *)body + tl);
	if (se == NULL || se->nonce.len != LOGBUS_NONCE_BYTES || se->ciphertext.len > sizeof(pt))
		goto out;
	adlen = logbus_ad(topic_for_ad, strlen(topic_for_ad) + 1, se->seq, ad, sizeof(ad));
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ptlen, NULL, se->ciphertext.data,
	    se->ciphertext.len, ad, adlen, se->nonce.data, key) == 0)
		le = sbx__v1__log_event__unpack(NULL, (size_t)ptlen, pt);
out:
	if (se != NULL)
		sbx__v1__sealed_log_event__free_unpacked(se, NULL);
	return le;
}

/* Receives one message (polling: no receive timeout on a SUB, see
 * DESIGN.md), emitting a nudge until the pipe is up; NULL after 12000
 * polls of 5 ms, a safety net of a minute or more, not a budget. */
static nng_msg *
recv_one(nng_socket sub, struct bus *b)
{
	nng_msg *m = NULL;

	for (int i = 0; i < 12000; i++) {
		if (nng_recvmsg(sub, &m, NNG_FLAG_NONBLOCK) == 0)
			return m;
		if (i % 20 == 0)
			logbus_emitf(&b->srv, "s-nudge", "", "nudge");
		usleep(5000);
	}
	return NULL;
}

TEST(raw_sub_receives_but_cannot_read)
{
	struct bus b;
	nng_socket sub;
	nng_msg *m = NULL;
	unsigned char ka[LOGBUS_KEY_BYTES], kb[LOGBUS_KEY_BYTES];
	Sbx__V1__LogEvent *le;
	int seen_a = 0;

	REQUIRE(bus_open(&b, 100, "1M", NULL) == 0);
	REQUIRE(nng_sub0_open(&sub) == 0);
	REQUIRE(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0) == 0);
	REQUIRE(nng_dial(sub, logbus_endpoint(&b.srv), NULL, 0) == 0);
	CHECK(strstr(logbus_endpoint(&b.srv), ":0") == NULL);   /* the bound port */
	logbus_session_key(&b.srv, "s-a", ka);
	logbus_session_key(&b.srv, "s-b", kb);
	/* Until the pipe is up, messages go nowhere: wait for a nudge. */
	REQUIRE((m = recv_one(sub, &b)) != NULL);
	nng_msg_free(m);
	logbus_emitf(&b.srv, "s-a", "x1", "secret of a");
	for (int i = 0; i < 50 && !seen_a; i++) {
		REQUIRE((m = recv_one(sub, &b)) != NULL);
		if (strcmp(nng_msg_body(m), "sbx.v1.log.s-a") != 0) {
			nng_msg_free(m);
			continue;
		}
		seen_a = 1;
		CHECK(memmem(nng_msg_body(m), nng_msg_len(m), "secret", 6) == NULL);
		CHECK(open_sealed(m, "sbx.v1.log.s-a", kb) == NULL);     /* b's key */
		CHECK(open_sealed(m, "sbx.v1.log.s-b", ka) == NULL);     /* moved topic */
		le = open_sealed(m, "sbx.v1.log.s-a", ka);
		CHECK(le != NULL);
		if (le != NULL) {
			CHECK_INT(le->stream, SBX__V1__LOG_STREAM__LOG_STREAM_SYSTEM);
			CHECK_STR(le->process_id, "x1");
			CHECK(le->data.len == 11 && memcmp(le->data.data, "secret of a", 11) == 0);
			sbx__v1__log_event__free_unpacked(le, NULL);
		}
		nng_msg_free(m);
	}
	CHECK(seen_a);
	nng_close(sub);
	bus_close(&b, 1);
}

int
main(void)
{
	RUN(seq_from_one_in_order);
	RUN(wraps_at_event_count_and_counts_lost);
	RUN(byte_bound_and_splitting);
	RUN(all_rings_share_the_total);
	RUN(future_after_seq_is_invalid);
	RUN(leases_expire);
	RUN(keys_survive_restart_and_differ_per_session);
	RUN(raw_sub_receives_but_cannot_read);
	T_DONE();
}
