/*
 * test_lifecycle.c — idle sessions and capacity, for real: a real sbxd
 * (reap_interval = 1s, max_live_sessions = 2) over real sockets, real
 * containers on the real Docker engine. An idle session is stopped by the
 * reaper and its files are there when the next command wakes it; a busy
 * one is not stopped; a third session stops the least recently used idle
 * one, or fails RESOURCE_EXHAUSTED when both others are busy; CleanupIdle
 * stops idle sessions at once and says which. Waits poll with a generous
 * bound; nothing asserts how long a step took.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "harness.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"

#define POLL_MS 200
#define POLL_BOUND_MS HARNESS_WAIT_MS
#define LONG_IDLE_MS 600000

static struct sbxd_proc d;
static sbx_client *svc;
static struct driver *drv;

/* Runs cmd; returns its stdout (static, overwritten by the next call), or
 * "" with *exit_code -1 when the call failed. */
static const char *
run(sbx_client *c, const char *sid, const char *cmd, int *exit_code)
{
	static __thread char out[4096];

	(void)harness_exec_out(c, sid, cmd, 60000, out, sizeof(out), exit_code);
	return out;
}

static int
create(const char *user, uint64_t idle_ms, sbx_session *s, char **token)
{
	sbx_session_create_opts o = { .user_id = user, .idle_timeout_ms = idle_ms };

	return sbx_session_create(svc, &o, s, token);
}

/* Polls GetSession until the session is in state want; 1 if it got there.
 * got (zeroed first) holds the last answer. */
static int
wait_state(const char *id, sbx_session_state want, sbx_session *got)
{
	memset(got, 0, sizeof(*got));
	for (int waited = 0; waited <= POLL_BOUND_MS; waited += POLL_MS) {
		sbx_session_fini(got);
		if (sbx_session_get(svc, id, got) == SBX_OK && got->state == want)
			return 1;
		usleep(POLL_MS * 1000);
	}
	return 0;
}

static int
state_of(const char *id, char *reason, size_t n)
{
	sbx_session got;
	int st;

	if (sbx_session_get(svc, id, &got) != SBX_OK)
		return -1;
	st = got.state;
	if (reason != NULL)
		snprintf(reason, n, "%s", got.stop_reason);
	sbx_session_fini(&got);
	return st;
}

/* 1 running, 0 not, -1 on error. */
static int
container_running(const char *cid)
{
	struct driver_container_info info;
	struct err e;

	if (drv->ops->inspect(drv, cid, &info, &e) != SBXD_OK) {
		fprintf(stderr, "  inspect %s: %s\n", cid, e.msg);
		return -1;
	}
	return info.running;
}

/* Polls until path exists in the session's workspace; 1 if it did. */
static int
wait_file(const char *sid, const char *path)
{
	void *data = NULL;
	size_t len;

	for (int waited = 0; waited <= POLL_BOUND_MS; waited += POLL_MS) {
		if (sbx_read_bytes(svc, sid, path, 0, 0, &data, &len) == SBX_OK) {
			sbx_free(data);
			return 1;
		}
		usleep(POLL_MS * 1000);
	}
	return 0;
}

/* A command in a thread, with its own client. */
struct bg {
	pthread_t t;
	const char *sid;
	const char *cmd;
	char out[256];
	int exit_code;
};

static void *
bg_main(void *arg)
{
	struct bg *b = arg;
	sbx_client *c = harness_client(&d, NULL);

	b->exit_code = -1;
	if (c != NULL)
		(void)harness_exec_out(c, b->sid, b->cmd, 60000, b->out, sizeof(b->out),
		    &b->exit_code);
	sbx_client_close(c);
	return NULL;
}

static void
bg_start(struct bg *b, const char *sid, const char *cmd)
{
	memset(b, 0, sizeof(*b));
	b->sid = sid;
	b->cmd = cmd;
	pthread_create(&b->t, NULL, bg_main, b);
}

/* CleanupIdle through the raw call (libsbx has no typed call for it). */
static sbx_err
cleanup_idle(sbx_client *c, uint64_t max_idle_ms, Sbx__V1__CleanupIdleResponse **out)
{
	Sbx__V1__CleanupIdleRequest rq = SBX__V1__CLEANUP_IDLE_REQUEST__INIT;
	uint8_t buf[32];
	void *resp = NULL;
	size_t len = 0;
	sbx_err rv;

	*out = NULL;
	rq.max_idle_ms = max_idle_ms;
	rv = sbx_call_raw(c, "sbx.v1.SessionService/CleanupIdle", buf,
	    sbx__v1__cleanup_idle_request__pack(&rq, buf), &resp, &len);
	if (rv == SBX_OK && (*out = sbx__v1__cleanup_idle_response__unpack(NULL, len, resp)) == NULL)
		rv = SBX_INTERNAL;
	sbx_free(resp);
	return rv;
}

static int
has_id(const Sbx__V1__CleanupIdleResponse *r, const char *id)
{
	for (size_t i = 0; r != NULL && i < r->n_stopped_session_ids; i++)
		if (strcmp(r->stopped_session_ids[i], id) == 0)
			return 1;
	return 0;
}

/* ---- tests */

TEST(idle_session_is_reaped_and_woken)
{
	sbx_session s, got;
	int code;

	REQUIRE_INT(create("sleepy", 1500, &s, NULL), SBX_OK);
	REQUIRE_INT(sbx_write(svc, s.session_id, "kept.txt", "still here\n", 11, 0), SBX_OK);
	CHECK(wait_state(s.session_id, SBX_SESSION_STOPPED, &got));
	CHECK_STR(got.stop_reason, "idle");
	CHECK_INT(container_running(s.container_id), 0);
	sbx_session_fini(&got);
	/* The next command wakes it, in the same container, files intact. */
	CHECK_STR(run(svc, s.session_id, "cat kept.txt", &code), "still here\n");
	CHECK_INT(code, 0);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &got), SBX_OK);
	CHECK_INT(got.state, SBX_SESSION_RUNNING);
	CHECK_STR(got.stop_reason, "");
	CHECK_STR(got.container_id, s.container_id);
	sbx_session_fini(&got);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
}

TEST(busy_session_is_not_reaped)
{
	sbx_session s, got;
	int code;

	/* Idle by its clock for most of the command, with the reaper looking
	 * every second: the command still runs to its end. */
	REQUIRE_INT(create("worker", 1500, &s, NULL), SBX_OK);
	CHECK_STR(run(svc, s.session_id, "sleep 4; echo done", &code), "done\n");
	CHECK_INT(code, 0);
	/* Idle afterwards, it is reaped as usual. */
	CHECK(wait_state(s.session_id, SBX_SESSION_STOPPED, &got));
	CHECK_STR(got.stop_reason, "idle");
	sbx_session_fini(&got);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
}

static sbx_session p, q, r;
static char *p_token;

TEST(capacity_stops_the_least_recently_used)
{
	sbx_session got;
	char reason[64];
	int code;

	REQUIRE_INT(create("cap-p", LONG_IDLE_MS, &p, &p_token), SBX_OK);
	REQUIRE_INT(create("cap-q", LONG_IDLE_MS, &q, NULL), SBX_OK);
	run(svc, p.session_id, "true", &code);   /* p is now the more recent */
	CHECK_INT(code, 0);
	REQUIRE_INT(create("cap-r", LONG_IDLE_MS, &r, NULL), SBX_OK);
	CHECK_INT(state_of(q.session_id, reason, sizeof(reason)), SBX_SESSION_STOPPED);
	CHECK_STR(reason, "capacity");
	CHECK_INT(container_running(q.container_id), 0);
	CHECK_INT(state_of(p.session_id, NULL, 0), SBX_SESSION_RUNNING);
	CHECK_INT(state_of(r.session_id, NULL, 0), SBX_SESSION_RUNNING);
	CHECK_INT(container_running(p.container_id), 1);
	REQUIRE_INT(sbx_session_get(svc, r.session_id, &got), SBX_OK);
	CHECK_INT(container_running(got.container_id), 1);
	sbx_session_fini(&got);
}

TEST(all_busy_is_resource_exhausted)
{
	struct bg bp, br;
	sbx_session s;
	int code;

	/* Busy until released, however long the checks take. */
	bg_start(&bp, p.session_id, "touch busy-marker; until [ -e release ]; do sleep 0.05; done; echo p-done");
	bg_start(&br, r.session_id, "touch busy-marker; until [ -e release ]; do sleep 0.05; done; echo r-done");
	CHECK(wait_file(p.session_id, "busy-marker"));
	CHECK(wait_file(r.session_id, "busy-marker"));
	CHECK_INT(create("cap-s", LONG_IDLE_MS, &s, NULL), SBX_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(sbx_last_error(svc), "2 sessions are running and all are busy");
	CHECK_CONTAINS(sbx_last_error(svc), "max_live_sessions");
	/* Waking the stopped one needs room too. */
	run(svc, q.session_id, "true", &code);
	CHECK_INT(code, -1);
	CHECK_CONTAINS(sbx_last_error(svc), "all are busy");
	CHECK_INT(state_of(q.session_id, NULL, 0), SBX_SESSION_STOPPED);
	CHECK_INT(sbx_write(svc, p.session_id, "release", "", 0, 0), SBX_OK);
	CHECK_INT(sbx_write(svc, r.session_id, "release", "", 0, 0), SBX_OK);
	pthread_join(bp.t, NULL);
	pthread_join(br.t, NULL);
	CHECK_STR(bp.out, "p-done\n");
	CHECK_INT(bp.exit_code, 0);
	CHECK_STR(br.out, "r-done\n");
	CHECK_INT(br.exit_code, 0);
}

TEST(cleanup_idle_stops_idle_sessions_now)
{
	Sbx__V1__CleanupIdleResponse *resp = NULL;
	sbx_client *as_p = harness_client(&d, p_token);
	char reason[64];
	struct bg br;

	REQUIRE(as_p != NULL);
	CHECK_INT(cleanup_idle(as_p, 1, &resp), SBX_PERMISSION_DENIED);
	sbx_client_close(as_p);
	bg_start(&br, r.session_id, "rm -f release; touch busy-marker-2; until [ -e release ]; do sleep 0.05; done; echo r-done");
	CHECK(wait_file(r.session_id, "busy-marker-2"));
	REQUIRE_INT(cleanup_idle(svc, 1, &resp), SBX_OK);
	CHECK(has_id(resp, p.session_id));
	CHECK(!has_id(resp, r.session_id));    /* busy */
	CHECK(!has_id(resp, q.session_id));    /* stopped already */
	sbx__v1__cleanup_idle_response__free_unpacked(resp, NULL);
	CHECK_INT(state_of(p.session_id, reason, sizeof(reason)), SBX_SESSION_STOPPED);
	CHECK_STR(reason, "idle");
	CHECK_INT(container_running(p.container_id), 0);
	CHECK_INT(state_of(r.session_id, NULL, 0), SBX_SESSION_RUNNING);
	CHECK_INT(sbx_write(svc, r.session_id, "release", "", 0, 0), SBX_OK);
	pthread_join(br.t, NULL);
	CHECK_STR(br.out, "r-done\n");
	CHECK_INT(br.exit_code, 0);
}

int
main(void)
{
	struct err e;

	if (!harness_image_ready())
		return 1;
	if (docker_driver_new("/var/run/docker.sock", &drv, &e) != SBXD_OK)
		return 1;
	if (harness_start(&d, "reap_interval = 1s\nmax_live_sessions = 2\n") != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(idle_session_is_reaped_and_woken);
	RUN(busy_session_is_not_reaped);
	RUN(capacity_stops_the_least_recently_used);
	if (t_failures == 0) {
		RUN(all_busy_is_resource_exhausted);
		RUN(cleanup_idle_stops_idle_sessions_now);
	}
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	drv->ops->free(drv);
	sbx_session_fini(&p);
	sbx_session_fini(&q);
	sbx_session_fini(&r);
	sbx_free(p_token);
	T_DONE();
}
