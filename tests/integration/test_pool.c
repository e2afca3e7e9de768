/*
 * test_pool.c — the warm pool on the real engine: pooled creates give a
 * returning user their files and a new user an empty workspace, users never
 * see each other's files, the pool refills, a stopped pooled session wakes
 * with its workspace even when its slot lost the mount (as after a host
 * reboot), sbxd killed with SIGKILL or stopped with SIGTERM comes back with
 * pooled sessions working and no orphan containers or stray mounts, ended
 * sessions leave no mount, and a pool whose image is missing stays empty
 * while CreateSession answers FAILED_PRECONDITION naming the build step.
 *
 * Polls (the refill) have generous bounds and no time assertions.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "driver.h"
#include "harness.h"
#include "server.h"
#include "t.h"

#define POLL_MS 200
#define POLL_MAX 1500               /* 5 minutes: a bound, not a time limit */

static struct sbxd_proc d;
static sbx_client *svc;
static struct driver *drv;
static char inst[17];
static sbx_session a, b;

/* ---- helpers */

struct pool_scan {
	int idle;                   /* running pool members no session owns yet */
	int ghost;                  /* pool members of the runtime "ghost" */
	const char *want_id;        /* a container to look for */
	int want_pooled;            /* it carries sbx.pool */
};

static void
scan_cb(void *arg, const char *id, const char *state, const struct driver_label *l, size_t n)
{
	struct pool_scan *ps = arg;
	const char *pool = NULL, *sid = NULL;
	sbx_session s = { 0 };

	for (size_t i = 0; i < n; i++) {
		if (strcmp(l[i].key, "sbx.pool") == 0)
			pool = l[i].value;
		if (strcmp(l[i].key, "sbx.session") == 0)
			sid = l[i].value;
	}
	if (ps->want_id != NULL && strcmp(ps->want_id, id) == 0)
		ps->want_pooled = pool != NULL;
	if (pool == NULL)
		return;
	if (strcmp(pool, "ghost") == 0)
		ps->ghost++;
	if (strcmp(state, "running") == 0 && sid != NULL &&
	    sbx_session_get(svc, sid, &s) == SBX_NOT_FOUND)
		ps->idle++;
	sbx_session_fini(&s);
}

static struct pool_scan
scan(const char *want_id)
{
	struct pool_scan ps = { .want_id = want_id };
	struct err e;

	drv->ops->list(drv, "sbx.instance", inst, scan_cb, &ps, &e);
	return ps;
}

/* Polls until n pool members are idle; 1 when they are. */
static int
wait_idle(int n)
{
	for (int i = 0; i < POLL_MAX; i++) {
		if (scan(NULL).idle == n)
			return 1;
		usleep(POLL_MS * 1000);
	}
	fprintf(stderr, "  pool never reached %d idle containers (has %d)\n", n, scan(NULL).idle);
	return 0;
}

/* Mounts whose mount point is under prefix (or is it). */
static int
mounts_under(const char *prefix)
{
	char line[8192], mp[4096];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
		    strncmp(mp, prefix, strlen(prefix)) == 0)
			n++;
	fclose(f);
	return n;
}

static int
slot_mounts(const char *sid)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/pool/%s", d.dir, sid ? sid : "");
	return mounts_under(p);
}

/* Runs cmd in session sid; its stdout (static), or "<error>". */
static const char *
run(const char *sid, const char *cmd)
{
	static char out[4096];

	/* not "": a failed call must not pass a check for empty output */
	if (harness_exec_out(svc, sid, cmd, 60000, out, sizeof(out), NULL) != SBX_OK)
		snprintf(out, sizeof(out), "<error>");
	return out;
}

static sbx_err
create(const char *user, const char *runtime, sbx_session *s)
{
	sbx_session_create_opts o = { .user_id = user, .runtime = runtime };

	sbx_session_fini(s);
	return sbx_session_create(svc, &o, s, NULL);
}

/* ---- tests */

TEST(pool_fills)
{
	CHECK(wait_idle(2));
	CHECK_INT(scan(NULL).ghost, 0);
	CHECK(harness_log_has(&d, "pool: runtime ghost"));
}

TEST(returning_user_gets_their_files)
{
	char sid[64];

	REQUIRE(wait_idle(2));
	REQUIRE_INT(create("pool-a", NULL, &a), SBX_OK);
	CHECK(scan(a.container_id).want_pooled);
	CHECK_INT(slot_mounts(a.session_id), 1);
	CHECK_STR(run(a.session_id, "echo kept > notes.txt && cat notes.txt"), "kept\n");
	snprintf(sid, sizeof(sid), "%s", a.session_id);
	REQUIRE_INT(sbx_session_end(svc, sid, 0), SBX_OK);
	CHECK_INT(slot_mounts(sid), 0);

	REQUIRE(wait_idle(2));
	REQUIRE_INT(create("pool-a", NULL, &a), SBX_OK);
	CHECK(scan(a.container_id).want_pooled);
	CHECK(strcmp(a.session_id, sid) != 0);
	CHECK_STR(run(a.session_id, "cat /workspace/notes.txt"), "kept\n");
	CHECK_STR(run(a.session_id, "id -u; pwd"), "1000\n/workspace\n");
}

TEST(new_user_is_empty_and_users_are_isolated)
{
	REQUIRE(wait_idle(2));
	REQUIRE_INT(create("pool-b", NULL, &b), SBX_OK);
	CHECK(scan(b.container_id).want_pooled);
	CHECK_STR(run(b.session_id, "ls -A /workspace"), "");
	CHECK_STR(run(b.session_id, "echo b-secret > b.txt && ls -A"), "b.txt\n");
	CHECK_STR(run(a.session_id, "ls -A /workspace"), "notes.txt\n");
	CHECK_STR(run(a.session_id, "cat /workspace/b.txt 2>/dev/null || echo none"), "none\n");
	/* the slot is mounted nosuid,nodev inside the container too */
	CHECK_CONTAINS(run(b.session_id, "grep ' /workspace ' /proc/self/mountinfo"), "nosuid");
}

TEST(get_or_create_takes_from_the_pool)
{
	sbx_session_create_opts o = { .user_id = "pool-c" };
	sbx_session c = { 0 }, again = { 0 };
	int created = 0;

	REQUIRE(wait_idle(2));
	REQUIRE_INT(sbx_session_get_or_create(svc, &o, &c, &created, NULL), SBX_OK);
	CHECK_INT(created, 1);
	CHECK(scan(c.container_id).want_pooled);
	CHECK_STR(run(c.session_id, "ls -A /workspace"), "");
	REQUIRE_INT(sbx_session_get_or_create(svc, &o, &again, &created, NULL), SBX_OK);
	CHECK_INT(created, 0);
	CHECK_STR(again.session_id, c.session_id);
	CHECK_INT(sbx_session_end(svc, c.session_id, 1), SBX_OK);
	CHECK_INT(slot_mounts(c.session_id), 0);
	sbx_session_fini(&c);
	sbx_session_fini(&again);
}

TEST(pool_refills)
{
	CHECK(wait_idle(2));
}

TEST(stopped_session_wakes_with_its_workspace)
{
	char slot[512];

	REQUIRE_INT(harness_stop_idle(svc, a.session_id), SBX_SESSION_STOPPED);
	/* As after a host reboot: the slot lost its mount. */
	snprintf(slot, sizeof(slot), "%s/pool/%s", d.dir, a.session_id);
	CHECK_INT(umount2(slot, MNT_DETACH), 0);
	CHECK_INT(slot_mounts(a.session_id), 0);
	CHECK_STR(run(a.session_id, "cat notes.txt"), "kept\n");
	CHECK(harness_log_has(&d, "binding it again"));
	CHECK_INT(slot_mounts(a.session_id), 1);
	/* and once more without the unmount */
	REQUIRE_INT(harness_stop_idle(svc, a.session_id), SBX_SESSION_STOPPED);
	CHECK_STR(run(a.session_id, "cat notes.txt; echo more >> notes.txt"), "kept\n");
}

TEST(sigkill_restart_keeps_pooled_sessions)
{
	char p[512];

	REQUIRE(wait_idle(2));
	harness_stop(&d, SIGKILL);
	REQUIRE_INT(harness_restart(&d), 0);
	CHECK(harness_log_has(&d, "removed 2 idle pool containers"));
	CHECK_INT(harness_session_state(svc, a.session_id), SBX_SESSION_RUNNING);
	CHECK_STR(run(a.session_id, "cat notes.txt"), "kept\nmore\n");
	CHECK_STR(run(b.session_id, "cat b.txt"), "b-secret\n");
	CHECK(wait_idle(2));
	/* mounts: pool_dir itself and one slot per live pooled session */
	snprintf(p, sizeof(p), "%s/pool", d.dir);
	CHECK_INT(mounts_under(p), 3);
	CHECK_INT(slot_mounts(a.session_id), 1);
	CHECK_INT(slot_mounts(b.session_id), 1);
}

TEST(sigterm_restart_leaves_no_mounts_and_rebinds)
{
	REQUIRE_INT(harness_stop(&d, SIGTERM), 0);
	CHECK_INT(mounts_under(d.dir), 0);
	REQUIRE_INT(harness_restart(&d), 0);
	/* running containers kept their view */
	CHECK_STR(run(b.session_id, "cat b.txt"), "b-secret\n");
	/* a stopped one gets its slot bound again when woken */
	REQUIRE_INT(harness_stop_idle(svc, b.session_id), SBX_SESSION_STOPPED);
	CHECK_STR(run(b.session_id, "cat b.txt"), "b-secret\n");
	CHECK_INT(slot_mounts(b.session_id), 1);
}

TEST(ended_sessions_leave_no_mount)
{
	char slot[512];

	REQUIRE_INT(sbx_session_end(svc, a.session_id, 0), SBX_OK);
	REQUIRE_INT(sbx_session_end(svc, b.session_id, 1), SBX_OK);
	CHECK_INT(slot_mounts(a.session_id), 0);
	CHECK_INT(slot_mounts(b.session_id), 0);
	snprintf(slot, sizeof(slot), "%s/pool/%s", d.dir, a.session_id);
	CHECK(access(slot, F_OK) != 0);
}

TEST(missing_image_leaves_pool_empty_and_create_fails_clearly)
{
	sbx_session g = { 0 };

	CHECK_INT(scan(NULL).ghost, 0);
	CHECK_INT(create("pool-g", "ghost", &g), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "sbx/no-such-image");
	CHECK_CONTAINS(sbx_last_error(svc), "build");
	sbx_session_fini(&g);
}

int
main(void)
{
	char db[256];
	struct err e;
	int ok;

	if (!harness_image_ready())
		return 1;
	if (geteuid() != 0) {
		fprintf(stderr, "test_pool needs root (the pool mounts); skipped\n");
		return 77;
	}
	if (docker_driver_new("/var/run/docker.sock", &drv, &e) != SBXD_OK)
		return 1;
	if (harness_start(&d, "reap_interval = 0\npool_size = 2\n"
	    "runtime = ghost sbx/no-such-image:latest\npool_size = ghost 1\n") != 0)
		return 1;
	snprintf(db, sizeof(db), "%s/sbx.db", d.dir);
	server_instance_id(db, inst);
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(pool_fills);
	RUN(returning_user_gets_their_files);
	RUN(new_user_is_empty_and_users_are_isolated);
	RUN(get_or_create_takes_from_the_pool);
	RUN(pool_refills);
	RUN(stopped_session_wakes_with_its_workspace);
	RUN(sigkill_restart_keeps_pooled_sessions);
	sbx_client_close(svc);
	svc = harness_client(&d, NULL);
	RUN(sigterm_restart_leaves_no_mounts_and_rebinds);
	RUN(ended_sessions_leave_no_mount);
	RUN(missing_image_leaves_pool_empty_and_create_fails_clearly);
	sbx_client_close(svc);
	sbx_session_fini(&a);
	sbx_session_fini(&b);
	ok = harness_finish(&d, t_failures);
	CHECK(ok);
	CHECK_INT(mounts_under(d.dir), 0);
	drv->ops->free(drv);
	T_DONE();
}
