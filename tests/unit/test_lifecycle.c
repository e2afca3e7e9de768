/*
 * test_lifecycle.c — activity, the idle reaper and capacity
 * (session_reaper.c) with a real SQLite store in a temp dir and the fake
 * container driver: which sessions the reaper and capacity pick, that a
 * busy one is never stopped, RESOURCE_EXHAUSTED when all are busy, that
 * concurrent creates never pass the ceiling, that a command arriving while
 * its session is being stopped still runs, and CleanupIdle over the
 * request path. The same against real Docker is
 * tests/integration/test_lifecycle.c.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "fake_driver.h"
#include "lifecycle.h"
#include "rpc.h"
#include "sbx/v1/sbx.pb-c.h"
#include "server.h"
#include "session.h"
#include "t.h"

#define KEY "test-service-key-0123456789"
#define LONG_IDLE 3600000
#define WAIT_MS 60000   /* bound of a wait for an event: a safety net */

static struct config cfg;
static struct server *srv;

static void
setup(void)
{
	srv = fake_server_open(&cfg, "lifecycle", KEY, (const char *const[]){ "reap_interval", "0", NULL });
}

/* Ends every session, so each test starts from none running. */
static void
end_all(void)
{
	struct session_filter f = { .limit = 64 };
	struct session_row *rows = calloc(64, sizeof(*rows)), out;
	char next[STORE_ID_MAX + 32];
	struct err e;
	int n = 0;

	if (rows == NULL || store_session_list(srv->store, &f, rows, &n, next, sizeof(next), &e) != SBXD_OK)
		abort();
	for (int i = 0; i < n; i++)
		session_end(srv, rows[i].id, 1, &out, &e);
	free(rows);
}

static int
mk(const char *user, uint64_t idle_ms, struct session_row *r, struct err *e)
{
	struct session_create_args a = { .user = user, .idle_timeout_ms = idle_ms };
	char token[AUTH_TOKEN_MAX];

	return session_create(srv, &a, r, token, e);
}

/* The session's state now; reason gets its stop_reason. */
static int
state_of(const char *id, char reason[STORE_REASON_MAX])
{
	struct session_row r;
	struct err e;

	if (store_session_get(srv->store, id, &r, &e) != SBXD_OK)
		return -1;
	if (reason != NULL)
		memcpy(reason, r.stop_reason, STORE_REASON_MAX);
	return r.state;
}

static int
running(const char *user)
{
	struct err e;
	int n = -1;

	store_session_count_running(srv->store, user, &n, &e);
	return n;
}

static void
ceilings(int all, int per_user)
{
	cfg.max_live_sessions = all;
	cfg.max_live_sessions_per_user = per_user;
}

/* Makes newer the more recently active of the two. */
static void
older_newer(const struct session_row *older, const struct session_row *newer)
{
	struct err e;
	int64_t now = server_now_ms();

	store_session_touch(srv->store, older->id, now + 1000, &e);
	store_session_touch(srv->store, newer->id, now + 2000, &e);
}

/* ---- the reaper */

TEST(reap_picks_idle_not_busy)
{
	struct session_row a, b, c;
	char ids[8][STORE_ID_MAX], reason[STORE_REASON_MAX];
	struct err e;
	int64_t now;
	int n = -1, stops = fake_stops;

	ceilings(0, 0);
	REQUIRE_INT(mk("idle-a", 5, &a, &e), SBXD_OK);
	REQUIRE_INT(mk("idle-b", 5, &b, &e), SBXD_OK);
	REQUIRE_INT(mk("idle-c", LONG_IDLE, &c, &e), SBXD_OK);
	usleep(30000);
	lifecycle_busy_enter(srv, b.id);
	REQUIRE_INT(lifecycle_reap(srv, 0, ids, 8, &n, &e), SBXD_OK);
	REQUIRE_INT(n, 1);
	CHECK_STR(ids[0], a.id);
	CHECK_INT(state_of(a.id, reason), SESSION_STOPPED);
	CHECK_STR(reason, "idle");
	CHECK_INT(state_of(b.id, NULL), SESSION_RUNNING);   /* busy */
	CHECK_INT(state_of(c.id, NULL), SESSION_RUNNING);   /* its own timeout is long */
	CHECK_INT(fake_stops, stops + 1);
	lifecycle_busy_leave(srv, b.id);
	REQUIRE_INT(lifecycle_reap(srv, 0, ids, 8, &n, &e), SBXD_OK);
	REQUIRE_INT(n, 1);
	CHECK_STR(ids[0], b.id);
	/* max_idle_ms overrides the sessions' own timeouts. */
	REQUIRE_INT(lifecycle_reap(srv, 1, ids, 8, &n, &e), SBXD_OK);
	REQUIRE_INT(n, 1);
	CHECK_STR(ids[0], c.id);
	/* The next request wakes a reaped session, and waking is activity. */
	now = server_now_ms();
	REQUIRE_INT(store_session_get(srv->store, a.id, &a, &e), SBXD_OK);
	REQUIRE_INT(session_ensure_running(srv, &a, &e), SBXD_OK);
	CHECK_INT(state_of(a.id, reason), SESSION_RUNNING);
	CHECK_STR(reason, "");
	REQUIRE_INT(store_session_get(srv->store, a.id, &a, &e), SBXD_OK);
	CHECK(a.last_active_ms >= now);
	end_all();
}

TEST(reap_reports_failure_only_when_nothing_stopped)
{
	struct session_row a;
	char ids[4][STORE_ID_MAX];
	struct err e;
	int n = -1;

	REQUIRE_INT(mk("fail-a", LONG_IDLE, &a, &e), SBXD_OK);
	usleep(5000);
	fake_down = 1;
	CHECK_INT(lifecycle_reap(srv, 1, ids, 4, &n, &e), SBXD_UNAVAILABLE);
	CHECK_INT(n, 0);
	CHECK_CONTAINS(e.msg, "stopping session");
	fake_down = 0;
	CHECK_INT(state_of(a.id, NULL), SESSION_RUNNING);
	CHECK_INT(lifecycle_reap(srv, 1, ids, 0, &n, &e), SBXD_OK);   /* max 0: nothing */
	CHECK_INT(n, 0);
	end_all();
}

TEST(reaper_thread_reaps_and_stops_promptly)
{
	struct session_row a;
	struct timespec t0, t1;
	struct err e;
	int st = 0;

	REQUIRE_INT(mk("thread-a", 1, &a, &e), SBXD_OK);
	cfg.reap_interval_ms = 20;
	REQUIRE_INT(lifecycle_reaper_start(srv, &e), SBXD_OK);
	for (int64_t end = server_now_ms() + WAIT_MS;
	    (st = state_of(a.id, NULL)) == SESSION_RUNNING && server_now_ms() < end;)
		usleep(10000);
	CHECK_INT(st, SESSION_STOPPED);
	lifecycle_reaper_stop(srv);
	/* A long interval does not hold up the stop. */
	cfg.reap_interval_ms = 3600000;
	REQUIRE_INT(lifecycle_reaper_start(srv, &e), SBXD_OK);
	usleep(20000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	lifecycle_reaper_stop(srv);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(t1.tv_sec - t0.tv_sec < 60);   /* not the hour-long interval */
	lifecycle_reaper_stop(srv);   /* twice is fine */
	cfg.reap_interval_ms = 0;
	CHECK_INT(lifecycle_reaper_start(srv, &e), SBXD_OK);   /* off */
	lifecycle_reaper_stop(srv);
	end_all();
}

/* ---- capacity */

TEST(capacity_stops_lru_idle)
{
	struct session_row a, b, c;
	char reason[STORE_REASON_MAX];
	struct err e;

	ceilings(2, 0);
	REQUIRE_INT(mk("cap-a", LONG_IDLE, &a, &e), SBXD_OK);
	REQUIRE_INT(mk("cap-b", LONG_IDLE, &b, &e), SBXD_OK);
	older_newer(&b, &a);
	REQUIRE_INT(mk("cap-c", LONG_IDLE, &c, &e), SBXD_OK);
	CHECK_INT(state_of(b.id, reason), SESSION_STOPPED);
	CHECK_STR(reason, "capacity");
	CHECK_INT(state_of(a.id, NULL), SESSION_RUNNING);
	CHECK_INT(state_of(c.id, NULL), SESSION_RUNNING);
	CHECK_INT(running(NULL), 2);
	/* Waking b makes room too, never by stopping b itself: c is now the
	 * least recently used. */
	REQUIRE_INT(store_session_get(srv->store, b.id, &b, &e), SBXD_OK);
	REQUIRE_INT(session_ensure_running(srv, &b, &e), SBXD_OK);
	CHECK_INT(state_of(b.id, NULL), SESSION_RUNNING);
	CHECK_INT(state_of(c.id, reason), SESSION_STOPPED);
	CHECK_STR(reason, "capacity");
	CHECK_INT(running(NULL), 2);
	end_all();
}

TEST(capacity_per_user_stops_that_users_own)
{
	struct session_row x, y, z, other;
	char reason[STORE_REASON_MAX];
	struct err e;

	ceilings(0, 2);
	REQUIRE_INT(mk("other", LONG_IDLE, &other, &e), SBXD_OK);   /* least recent of all */
	REQUIRE_INT(mk("pu", LONG_IDLE, &x, &e), SBXD_OK);
	REQUIRE_INT(mk("pu", LONG_IDLE, &y, &e), SBXD_OK);
	older_newer(&x, &y);
	REQUIRE_INT(mk("pu", LONG_IDLE, &z, &e), SBXD_OK);
	CHECK_INT(state_of(x.id, reason), SESSION_STOPPED);
	CHECK_STR(reason, "capacity");
	CHECK_INT(state_of(other.id, NULL), SESSION_RUNNING);
	CHECK_INT(running("pu"), 2);
	/* Both of pu's running sessions busy: pu's next start fails, with
	 * the per-user ceiling named; another user is not affected. */
	lifecycle_busy_enter(srv, y.id);
	lifecycle_busy_enter(srv, z.id);
	REQUIRE_INT(store_session_get(srv->store, x.id, &x, &e), SBXD_OK);
	CHECK_INT(session_ensure_running(srv, &x, &e), SBXD_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(e.msg, "user pu has 2 sessions running and all are busy");
	CHECK_CONTAINS(e.msg, "max_live_sessions_per_user");
	CHECK_INT(mk("other", LONG_IDLE, &other, &e), SBXD_OK);
	lifecycle_busy_leave(srv, y.id);
	lifecycle_busy_leave(srv, z.id);
	end_all();
}

TEST(all_busy_is_resource_exhausted)
{
	struct session_row a, b, c;
	struct err e;

	ceilings(2, 0);
	REQUIRE_INT(mk("busy-a", LONG_IDLE, &a, &e), SBXD_OK);
	REQUIRE_INT(mk("busy-b", LONG_IDLE, &b, &e), SBXD_OK);
	lifecycle_busy_enter(srv, a.id);
	lifecycle_busy_enter(srv, b.id);
	lifecycle_busy_enter(srv, b.id);   /* two commands in b */
	CHECK_INT(mk("busy-c", LONG_IDLE, &c, &e), SBXD_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(e.msg, "2 sessions are running and all are busy; retry later or raise max_live_sessions");
	lifecycle_busy_leave(srv, b.id);
	CHECK_INT(mk("busy-c", LONG_IDLE, &c, &e), SBXD_RESOURCE_EXHAUSTED);   /* b still busy */
	lifecycle_busy_leave(srv, b.id);
	REQUIRE_INT(mk("busy-c", LONG_IDLE, &c, &e), SBXD_OK);   /* nothing reserved leaked */
	CHECK_INT(state_of(b.id, NULL), SESSION_STOPPED);
	CHECK_INT(state_of(a.id, NULL), SESSION_RUNNING);
	lifecycle_busy_leave(srv, a.id);
	end_all();
}

#define CREATORS 8
#define CREATES_EACH 3

static int creators_done;
static int created_ok, max_seen;

static void *
creator(void *arg)
{
	char user[16];
	struct session_row r;
	struct err e;

	snprintf(user, sizeof(user), "conc-%d", (int)(intptr_t)arg);
	for (int i = 0; i < CREATES_EACH; i++)
		if (mk(user, LONG_IDLE, &r, &e) == SBXD_OK)
			__atomic_fetch_add(&created_ok, 1, __ATOMIC_RELAXED);
		else
			fprintf(stderr, "  create: %s\n", e.msg);
	return NULL;
}

static void *
watcher(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&creators_done, __ATOMIC_ACQUIRE)) {
		int n = running(NULL);

		if (n > max_seen)
			max_seen = n;
		usleep(200);
	}
	return NULL;
}

TEST(concurrent_creates_stay_under_the_ceiling)
{
	pthread_t t[CREATORS], w;

	ceilings(3, 0);
	fake_start_delay_us = 3000;
	__atomic_store_n(&creators_done, 0, __ATOMIC_RELEASE);
	pthread_create(&w, NULL, watcher, NULL);
	for (int i = 0; i < CREATORS; i++)
		pthread_create(&t[i], NULL, creator, (void *)(intptr_t)i);
	for (int i = 0; i < CREATORS; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&creators_done, 1, __ATOMIC_RELEASE);
	pthread_join(w, NULL);
	fake_start_delay_us = 0;
	CHECK_INT(created_ok, CREATORS * CREATES_EACH);
	CHECK(max_seen <= 3);
	CHECK_INT(running(NULL), 3);
	end_all();
}

/* ---- a command arriving while its session is being stopped */

static struct session_row race_row;

static void *
reap_slowly(void *arg)
{
	char ids[4][STORE_ID_MAX];
	struct err e;
	int n;

	(void)arg;
	lifecycle_reap(srv, 1, ids, 4, &n, &e);
	return NULL;
}

/* ---- over the request path */

static int
call(const char *method, const char *key, const char *token, const ProtobufCMessage *payload,
    char *msg, size_t msgsz, Sbx__V1__Response **out)
{
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	uint8_t pbuf[4096], rbuf[8192];
	size_t len, rlen;
	void *reply;
	Sbx__V1__Response *r;
	int code;

	cr.service_key = (char *)(key ? key : "");
	cr.session_token = (char *)(token ? token : "");
	rq.method = (char *)method;
	rq.credentials = &cr;
	if (payload) {
		rq.payload.len = protobuf_c_message_pack(payload, pbuf);
		rq.payload.data = pbuf;
	}
	len = sbx__v1__request__pack(&rq, rbuf);
	reply = rpc_handle(srv, rbuf, len, &rlen);
	r = sbx__v1__response__unpack(NULL, rlen, reply);
	free(reply);
	if (r == NULL)
		return -1;
	code = r->status ? (int)r->status->code : 0;
	snprintf(msg, msgsz, "%s", r->status ? r->status->message : "");
	if (out)
		*out = r;
	else
		sbx__v1__response__free_unpacked(r, NULL);
	return code;
}

TEST(command_during_a_stop_waits_and_wakes)
{
	Sbx__V1__ExecuteRequest x = SBX__V1__EXECUTE_REQUEST__INIT;
	char msg[512], reason[STORE_REASON_MAX];
	pthread_t t;
	struct err e;
	int entered;

	ceilings(0, 0);
	REQUIRE_INT(mk("race", LONG_IDLE, &race_row, &e), SBXD_OK);
	usleep(5000);
	fake_stop_delay_us = 300000;
	entered = __atomic_load_n(&fake_stops_entered, __ATOMIC_SEQ_CST);
	pthread_create(&t, NULL, reap_slowly, NULL);
	/* until the reaper is inside the stop */
	for (int64_t end = server_now_ms() + WAIT_MS; server_now_ms() < end &&
	    __atomic_load_n(&fake_stops_entered, __ATOMIC_SEQ_CST) == entered;)
		usleep(1000);
	CHECK(__atomic_load_n(&fake_stops_entered, __ATOMIC_SEQ_CST) > entered);
	x.session_id = race_row.id;
	x.command = "echo hi";
	CHECK_INT(call("sbx.v1.SandboxService/Execute", KEY, NULL, &x.base, msg, sizeof(msg), NULL), 0);
	pthread_join(t, NULL);
	fake_stop_delay_us = 0;
	/* The command waited for the stop, then woke the session. */
	CHECK_INT(state_of(race_row.id, reason), SESSION_RUNNING);
	CHECK_STR(reason, "");
	end_all();
}

TEST(cleanup_idle_needs_the_service_key)
{
	Sbx__V1__CreateSessionRequest cr = SBX__V1__CREATE_SESSION_REQUEST__INIT;
	Sbx__V1__CleanupIdleRequest rq = SBX__V1__CLEANUP_IDLE_REQUEST__INIT;
	Sbx__V1__Response *resp = NULL;
	Sbx__V1__CreateSessionResponse *cs;
	Sbx__V1__CleanupIdleResponse *ci;
	struct session_row busy;
	char msg[512], id[STORE_ID_MAX], token[AUTH_TOKEN_MAX], reason[STORE_REASON_MAX];
	struct err e;

	ceilings(0, 0);
	cr.user_id = "cleanup";
	REQUIRE_INT(call("sbx.v1.SessionService/CreateSession", KEY, NULL, &cr.base, msg, sizeof(msg), &resp), 0);
	cs = sbx__v1__create_session_response__unpack(NULL, resp->payload.len, resp->payload.data);
	REQUIRE(cs != NULL);
	snprintf(id, sizeof(id), "%s", cs->session->session_id);
	snprintf(token, sizeof(token), "%s", cs->session_token);
	sbx__v1__create_session_response__free_unpacked(cs, NULL);
	sbx__v1__response__free_unpacked(resp, NULL);
	REQUIRE_INT(mk("cleanup-busy", LONG_IDLE, &busy, &e), SBXD_OK);
	lifecycle_busy_enter(srv, busy.id);
	usleep(5000);
	rq.max_idle_ms = 1;
	CHECK_INT(call("sbx.v1.SessionService/CleanupIdle", NULL, token, &rq.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__PERMISSION_DENIED);
	CHECK_INT(call("sbx.v1.SessionService/CleanupIdle", NULL, NULL, &rq.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__UNAUTHENTICATED);
	CHECK_INT(state_of(id, NULL), SESSION_RUNNING);
	REQUIRE_INT(call("sbx.v1.SessionService/CleanupIdle", KEY, NULL, &rq.base, msg, sizeof(msg), &resp), 0);
	ci = sbx__v1__cleanup_idle_response__unpack(NULL, resp->payload.len, resp->payload.data);
	REQUIRE(ci != NULL);
	REQUIRE_INT(ci->n_stopped_session_ids, 1);
	CHECK_STR(ci->stopped_session_ids[0], id);
	sbx__v1__cleanup_idle_response__free_unpacked(ci, NULL);
	sbx__v1__response__free_unpacked(resp, NULL);
	CHECK_INT(state_of(id, reason), SESSION_STOPPED);
	CHECK_STR(reason, "idle");
	CHECK_INT(state_of(busy.id, NULL), SESSION_RUNNING);
	lifecycle_busy_leave(srv, busy.id);
	end_all();
}

int
main(void)
{
	setup();
	RUN(reap_picks_idle_not_busy);
	RUN(reap_reports_failure_only_when_nothing_stopped);
	RUN(reaper_thread_reaps_and_stops_promptly);
	RUN(capacity_stops_lru_idle);
	RUN(capacity_per_user_stops_that_users_own);
	RUN(all_busy_is_resource_exhausted);
	RUN(concurrent_creates_stay_under_the_ceiling);
	RUN(command_during_a_stop_waits_and_wakes);
	RUN(cleanup_idle_needs_the_service_key);
	server_close(srv);
	T_DONE();
}
