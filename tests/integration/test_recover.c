/*
 * test_recover.c — sessions outliving crashes, for real: a real sbxd on the
 * real Docker engine, killed with SIGKILL while the test leaves behind what
 * a crash would (orphan containers carrying its labels, rows left
 * CREATING, a stopped session whose container is gone, a runtime build's
 * container); containers removed or stopped behind sbxd's back and healed
 * or restarted on the next request; and session tokens rotated, revoked
 * and ended.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"
#include "harness.h"
#include "sbx/v1/sbx.pb-c.h"
#include "server.h"
#include "store.h"
#include "t.h"

#define IMAGE "sbx/python-minimal:latest"

static struct sbxd_proc d;
static sbx_client *svc;
static struct driver *drv;
static char inst[17];
static sbx_session a, b;
static char *a_token, *b_token;

/* Runs cmd in a session; returns its stdout (static, overwritten by the
 * next call), or "" with *rv set when the call failed. */
static const char *
run_as(sbx_client *c, const char *sid, const char *cmd, sbx_err *rv)
{
	static char out[4096];

	*rv = harness_exec_out(c, sid, cmd, 60000, out, sizeof(out), NULL);
	return out;
}

static const char *
run(const char *sid, const char *cmd)
{
	sbx_err rv;

	return run_as(svc, sid, cmd, &rv);
}

/* Creates and starts a container carrying this sbxd's labels, as sbxd
 * would have made it for session sid. */
static int
make_container(const char *sid, const char *user, const char *name, char id[DRIVER_ID_MAX])
{
	struct driver_label l[] = { { "sbx.managed", "true" }, { "sbx.instance", inst },
	    { "sbx.session", sid }, { "sbx.user", user } };
	struct driver_container_spec spec = { .name = name, .image = IMAGE, .labels = l,
	    .nlabels = 4, .network_mode = "none", .init = 1 };
	struct err e;

	if (drv->ops->create(drv, &spec, id, &e) != SBXD_OK ||
	    drv->ops->start(drv, id, &e) != SBXD_OK) {
		fprintf(stderr, "  making a container: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* Creates and starts a container labelled as runtime_build.c labels a
 * build container of sbxd instance instance. */
static int
make_build_container(const char *instance, char id[DRIVER_ID_MAX])
{
	struct driver_label l[] = { { "sbx.build", "sbxtest-crashed" },
	    { "sbx.instance", instance } };
	struct driver_container_spec spec = { .image = IMAGE, .labels = l, .nlabels = 2,
	    .network_mode = "none", .init = 1 };
	struct err e;

	if (drv->ops->create(drv, &spec, id, &e) != SBXD_OK ||
	    drv->ops->start(drv, id, &e) != SBXD_OK) {
		fprintf(stderr, "  making a build container: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* 1 running, 0 exists but stopped, -1 gone. */
static int
container_state(const char *id)
{
	struct driver_container_info info;
	struct err e;

	if (drv->ops->inspect(drv, id, &info, &e) != SBXD_OK)
		return -1;
	return info.running;
}


/* The session's state and container id, from sbxd. */
static sbx_session_state
get(const char *sid, char cid[DRIVER_ID_MAX], char *reason, size_t reasonsz)
{
	sbx_session s;
	sbx_session_state st;

	if (sbx_session_get(svc, sid, &s) != SBX_OK) {
		fprintf(stderr, "  get %s: %s\n", sid, sbx_last_error(svc));
		return SBX_SESSION_UNSPECIFIED;
	}
	if (cid != NULL)
		snprintf(cid, DRIVER_ID_MAX, "%s", s.container_id);
	if (reason != NULL)
		snprintf(reason, reasonsz, "%s", s.stop_reason);
	st = s.state;
	sbx_session_fini(&s);
	return st;
}

/* A row as session_create would have reserved it, left CREATING. */
static void
creating_row(struct session_row *r, const char *id, const char *user, const char *cid)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->user, sizeof(r->user), "%s", user);
	snprintf(r->runtime, sizeof(r->runtime), "python-minimal");
	snprintf(r->container_id, sizeof(r->container_id), "%s", cid);
	snprintf(r->workspace, sizeof(r->workspace), "%s/workspaces/%s/workspace", d.dir, user);
	r->state = SESSION_CREATING;
	r->created_ms = r->last_active_ms = server_now_ms();
	r->idle_timeout_ms = 3600000;
	r->memory_bytes = 1 << 30;
	r->pids_limit = 512;
	r->exec_timeout_ms = 600000;
}

TEST(create_sessions)
{
	sbx_session_create_opts o = { .user_id = "rec-a" };

	REQUIRE_INT(sbx_session_create(svc, &o, &a, &a_token), SBX_OK);
	o.user_id = "rec-b";
	REQUIRE_INT(sbx_session_create(svc, &o, &b, &b_token), SBX_OK);
	CHECK_STR(run(a.session_id, "echo keep-a > keep.txt && cat keep.txt"), "keep-a\n");
	CHECK_STR(run(b.session_id, "echo keep-b > keep.txt && cat keep.txt"), "keep-b\n");
}

/* What a crash leaves, then a restart: orphans go, interrupted creates
 * fail, a live session whose container Docker stopped is started by its
 * next request, a stopped one whose container went away is healed by its
 * next request. */
TEST(restart_after_crash_recovers)
{
	struct store *st;
	struct session_row c, dr, br;
	struct err e;
	char ghost[DRIVER_ID_MAX], stray[DRIVER_ID_MAX], c_ctr[DRIVER_ID_MAX];
	char d_ctr[DRIVER_ID_MAX], db[256], cid[DRIVER_ID_MAX], reason[128], name[96];
	const char *c_id = "s-c0000000000000000000000000000001";
	const char *d_id = "s-d0000000000000000000000000000002";

	sbx_client_close(svc);
	svc = NULL;
	CHECK_INT(harness_stop(&d, SIGKILL), SIGKILL);
	/* A container of a session the store never heard of; a second one for
	 * a live session (a crash in the middle of a heal); rows left CREATING
	 * with (d) and without (c: the crash fell between docker create and the
	 * store update) the container id recorded. */
	REQUIRE_INT(make_container("s-00000000000000000000000000000bad", "ghost", NULL, ghost), 0);
	REQUIRE_INT(make_container(a.session_id, "rec-a", NULL, stray), 0);
	snprintf(name, sizeof(name), "sbx-%s", c_id);
	REQUIRE_INT(make_container(c_id, "rec-c", name, c_ctr), 0);
	snprintf(name, sizeof(name), "sbx-%s", d_id);
	REQUIRE_INT(make_container(d_id, "rec-d", name, d_ctr), 0);
	snprintf(db, sizeof(db), "%s/sbx.db", d.dir);
	REQUIRE_INT(store_open(db, &st, &e), SBXD_OK);
	creating_row(&c, c_id, "rec-c", "");
	creating_row(&dr, d_id, "rec-d", d_ctr);
	CHECK_INT(store_session_insert(st, &c, &e), SBXD_OK);
	CHECK_INT(store_session_insert(st, &dr, &e), SBXD_OK);
	/* b was stopped (idle) and its container has since been lost. */
	CHECK_INT(store_session_get(st, b.session_id, &br, &e), SBXD_OK);
	br.state = SESSION_STOPPED;
	snprintf(br.stop_reason, sizeof(br.stop_reason), "idle");
	CHECK_INT(store_session_update(st, &br, &e), SBXD_OK);
	store_close(st);
	CHECK_INT(drv->ops->remove(drv, b.container_id, &e), SBXD_OK);
	/* Docker went down with sbxd: a's container is stopped, not gone. */
	CHECK_INT(drv->ops->stop(drv, a.container_id, 0, &e), SBXD_OK);

	REQUIRE_INT(harness_restart(&d), 0);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	CHECK(harness_log_has(&d, "recovery: 2 sessions, 1 containers re-adopted, 3 orphans removed, "
	    "2 marked failed"));
	CHECK_INT(container_state(ghost), -1);
	CHECK_INT(container_state(stray), -1);
	CHECK_INT(container_state(c_ctr), -1);
	CHECK_INT(container_state(d_ctr), -1);
	CHECK_INT(container_state(a.container_id), 0);
	CHECK(harness_log_has(&d, "it is started on the next request"));
	CHECK_INT(get(c_id, NULL, reason, sizeof(reason)), SBX_SESSION_FAILED);
	CHECK_STR(reason, "interrupted by a restart");
	CHECK_INT(get(d_id, cid, reason, sizeof(reason)), SBX_SESSION_FAILED);
	CHECK_STR(reason, "interrupted by a restart");
	CHECK_STR(cid, "");
	/* The live session carries on, with its files: GetSession finds its
	 * container stopped and says so, and the next command starts it. */
	CHECK_INT(get(a.session_id, cid, reason, sizeof(reason)), SBX_SESSION_STOPPED);
	CHECK_CONTAINS(reason, "exited (");
	CHECK_STR(cid, a.container_id);
	CHECK_STR(run(a.session_id, "cat keep.txt"), "keep-a\n");
	CHECK_INT(container_state(a.container_id), 1);
	CHECK_INT(get(a.session_id, cid, reason, sizeof(reason)), SBX_SESSION_RUNNING);
	CHECK_STR(cid, a.container_id);
	/* The stopped one is left for its next request, which heals it. */
	CHECK_INT(get(b.session_id, cid, reason, sizeof(reason)), SBX_SESSION_STOPPED);
	CHECK_STR(run(b.session_id, "cat keep.txt"), "keep-b\n");
	CHECK_INT(get(b.session_id, cid, reason, sizeof(reason)), SBX_SESSION_RUNNING);
	CHECK_STR(reason, "");
	CHECK(cid[0] != '\0' && strcmp(cid, b.container_id) != 0);
	CHECK_INT(container_state(cid), 1);
	CHECK(harness_log_has(&d, "healed"));
}

/* docker rm -f from outside: the next Execute gets a new container for the
 * same session, the workspace intact. */
TEST(removed_container_is_healed)
{
	char before[DRIVER_ID_MAX], after[DRIVER_ID_MAX];
	struct err e;

	REQUIRE_INT(get(a.session_id, before, NULL, 0), SBX_SESSION_RUNNING);
	REQUIRE_INT(drv->ops->remove(drv, before, &e), SBXD_OK);
	CHECK_STR(run(a.session_id, "cat keep.txt; echo after-heal >> keep.txt"), "keep-a\n");
	CHECK_INT(get(a.session_id, after, NULL, 0), SBX_SESSION_RUNNING);
	CHECK(after[0] != '\0' && strcmp(after, before) != 0);
	CHECK_INT(container_state(after), 1);
	CHECK_STR(run(a.session_id, "tail -n1 /workspace/keep.txt; id -u"), "after-heal\n1000\n");
}

/* A container holding the name sbx-<id> (an interrupted heal) does not
 * block healing: it is removed and the create tried once more. */
TEST(stale_name_does_not_block_healing)
{
	char before[DRIVER_ID_MAX], after[DRIVER_ID_MAX], stale[DRIVER_ID_MAX], name[96];
	struct err e;

	REQUIRE_INT(get(a.session_id, before, NULL, 0), SBX_SESSION_RUNNING);
	REQUIRE_INT(drv->ops->remove(drv, before, &e), SBXD_OK);
	snprintf(name, sizeof(name), "sbx-%s", a.session_id);
	REQUIRE_INT(make_container(a.session_id, "rec-a", name, stale), 0);
	CHECK_STR(run(a.session_id, "head -n1 keep.txt"), "keep-a\n");
	CHECK_INT(get(a.session_id, after, NULL, 0), SBX_SESSION_RUNNING);
	CHECK(strcmp(after, before) != 0 && strcmp(after, stale) != 0);
	CHECK_INT(container_state(stale), -1);
	CHECK_INT(container_state(after), 1);
	CHECK(harness_log_has(&d, "stale container named"));
}

/* Docker restarted (containers stopped, not removed): exec into the
 * stopped container is FAILED_PRECONDITION from the driver, and sbxd
 * starts it and runs the command. */
TEST(stopped_container_is_started)
{
	const char *argv[] = { "true", NULL };
	struct driver_exec_spec spec = { .argv = argv };
	struct driver_exec_result res;
	char cid[DRIVER_ID_MAX], after[DRIVER_ID_MAX];
	struct err e;

	REQUIRE_INT(get(a.session_id, cid, NULL, 0), SBX_SESSION_RUNNING);
	REQUIRE_INT(drv->ops->stop(drv, cid, 0, &e), SBXD_OK);
	CHECK_INT(container_state(cid), 0);
	spec.container_id = cid;
	memset(&res, 0, sizeof(res));
	CHECK_INT(drv->ops->exec(drv, &spec, &res, &e), SBXD_FAILED_PRECONDITION);
	driver_exec_result_fini(&res);
	CHECK_STR(run(a.session_id, "head -n1 keep.txt"), "keep-a\n");
	CHECK_INT(container_state(cid), 1);
	CHECK_INT(get(a.session_id, after, NULL, 0), SBX_SESSION_RUNNING);
	CHECK_STR(after, cid);
}

/* RotateToken through the raw call (libsbx has no typed wrapper yet).
 * *token gets the new token (sbx_free it), "" after a revoke. */
static sbx_err
rotate(sbx_client *c, const char *sid, int revoke_only, char **token)
{
	Sbx__V1__RotateTokenRequest rq = SBX__V1__ROTATE_TOKEN_REQUEST__INIT;
	Sbx__V1__RotateTokenResponse *rs;
	uint8_t buf[256];
	void *resp = NULL;
	size_t n = 0;
	sbx_err rv;

	*token = NULL;
	rq.session_id = (char *)sid;
	rq.revoke_only = revoke_only;
	rv = sbx_call_raw(c, "sbx.v1.SessionService/RotateToken", buf,
	    sbx__v1__rotate_token_request__pack(&rq, buf), &resp, &n);
	if (rv != SBX_OK)
		return rv;
	if ((rs = sbx__v1__rotate_token_response__unpack(NULL, n, resp)) != NULL) {
		*token = strdup(rs->session_token);
		sbx__v1__rotate_token_response__free_unpacked(rs, NULL);
	}
	sbx_free(resp);
	return *token ? SBX_OK : SBX_INTERNAL;
}

/* What a client holding token gets from GetSession sid. */
static sbx_err
get_with(const char *token, const char *sid)
{
	sbx_client *c = harness_client(&d, token);
	sbx_session s;
	sbx_err rv;

	if (c == NULL)
		return SBX_INTERNAL;
	rv = sbx_session_get(c, sid, &s);
	sbx_session_fini(&s);
	sbx_client_close(c);
	return rv;
}

TEST(rotate_token)
{
	char *t2 = NULL, *t3 = NULL, *none = NULL, *tmp = NULL;
	sbx_client *c2 = NULL, *c3 = NULL, *cb = NULL;
	sbx_err rv;

	/* The service key rotates a's token: the new one works, the old not. */
	REQUIRE_INT(rotate(svc, a.session_id, 0, &t2), SBX_OK);
	CHECK(strncmp(t2, "sbxt_", 5) == 0 && strcmp(t2, a_token) != 0);
	CHECK_INT(get_with(a_token, a.session_id), SBX_UNAUTHENTICATED);
	CHECK_INT(get_with(t2, a.session_id), SBX_OK);
	/* A session token rotates itself. */
	REQUIRE((c2 = harness_client(&d, t2)) != NULL);
	CHECK_STR(run_as(c2, a.session_id, "head -n1 keep.txt", &rv), "keep-a\n");
	REQUIRE_INT(rotate(c2, a.session_id, 0, &t3), SBX_OK);
	CHECK(strcmp(t3, t2) != 0);
	CHECK_INT(get_with(t2, a.session_id), SBX_UNAUTHENTICATED);
	REQUIRE((c3 = harness_client(&d, t3)) != NULL);
	CHECK_STR(run_as(c3, a.session_id, "head -n1 keep.txt", &rv), "keep-a\n");
	/* but not another session's. */
	CHECK_INT(rotate(c3, b.session_id, 0, &tmp), SBX_PERMISSION_DENIED);
	CHECK_INT(get_with(b_token, b.session_id), SBX_OK);
	/* Revoking: "" back, the token is dead, the service key still reaches it. */
	REQUIRE_INT(rotate(c3, a.session_id, 1, &none), SBX_OK);
	CHECK_STR(none, "");
	CHECK_INT(get_with(t3, a.session_id), SBX_UNAUTHENTICATED);
	CHECK_INT(rotate(c3, a.session_id, 0, &tmp), SBX_UNAUTHENTICATED);
	CHECK_INT(get_with(NULL, a.session_id), SBX_OK);
	CHECK_STR(run(a.session_id, "head -n1 keep.txt"), "keep-a\n");
	/* Ending a session kills its token; an ended session gets no new one. */
	REQUIRE((cb = harness_client(&d, b_token)) != NULL);
	CHECK_INT(sbx_session_end(cb, b.session_id, 0), SBX_OK);
	CHECK_INT(get_with(b_token, b.session_id), SBX_UNAUTHENTICATED);
	CHECK_INT(sbx_session_end(cb, b.session_id, 0), SBX_UNAUTHENTICATED);
	CHECK_INT(rotate(svc, b.session_id, 0, &tmp), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "has ended");
	CHECK_INT(rotate(svc, "s-00000000000000000000000000000000", 0, &tmp), SBX_NOT_FOUND);
	CHECK_INT(rotate(svc, "../x", 0, &tmp), SBX_INVALID_ARGUMENT);
	sbx_client_close(c2);
	sbx_client_close(c3);
	sbx_client_close(cb);
	free(t2);
	free(t3);
	free(none);
}

/* sbxd died in the middle of a runtime build: at the next start its
 * build container goes, and another sbxd's stays. */
TEST(interrupted_build_container_is_removed)
{
	char ours[DRIVER_ID_MAX], theirs[DRIVER_ID_MAX], line[160];
	struct err e;

	sbx_client_close(svc);
	svc = NULL;
	CHECK_INT(harness_stop(&d, SIGKILL), SIGKILL);
	REQUIRE_INT(make_build_container(inst, ours), 0);
	CHECK_INT(make_build_container("0000000000000000", theirs), 0);
	CHECK_INT(harness_restart(&d), 0);
	CHECK((svc = harness_client(&d, NULL)) != NULL);
	CHECK_INT(container_state(ours), -1);
	CHECK_INT(container_state(theirs), 1);
	snprintf(line, sizeof(line), "recovery: removed build container %.12s of runtime "
	    "sbxtest-crashed", ours);
	CHECK(harness_log_has(&d, line));
	CHECK(harness_log_has(&d, "recovery: 1 build containers of interrupted runtime "
	    "builds removed"));
	drv->ops->remove(drv, ours, &e);      /* when the check above failed */
	drv->ops->remove(drv, theirs, &e);
}

int
main(void)
{
	char db[256];
	struct err e;

	if (!harness_image_ready())
		return 1;
	if (docker_driver_new("/var/run/docker.sock", &drv, &e) != SBXD_OK)
		return 1;
	if (harness_start(&d, NULL) != 0)
		return 1;
	snprintf(db, sizeof(db), "%s/sbx.db", d.dir);
	server_instance_id(db, inst);
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(create_sessions);
	if (t_failures == 0) {
		RUN(restart_after_crash_recovers);
		RUN(removed_container_is_healed);
		RUN(stale_name_does_not_block_healing);
		RUN(stopped_container_is_started);
		RUN(rotate_token);
		RUN(interrupted_build_container_is_removed);
	}
	if (svc != NULL) {
		sbx_session_end(svc, a.session_id, 1);
		sbx_session_end(svc, b.session_id, 1);
		sbx_client_close(svc);
	}
	CHECK(harness_finish(&d, t_failures));
	drv->ops->free(drv);
	sbx_session_fini(&a);
	sbx_session_fini(&b);
	sbx_free(a_token);
	sbx_free(b_token);
	T_DONE();
}
