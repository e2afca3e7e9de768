/*
 * test_snapshots.c — snapshots, forks and restores for real: a real sbxd
 * on the real Docker engine. Files in the workspace and in the container's
 * writable layer (a writable_rootfs runtime) survive a fork byte for byte;
 * the fork and the original then diverge; a restore brings deleted files
 * back; one user's snapshots are out of another's reach (the service key
 * lists every user's); a snapshot past the byte quota is refused and
 * removed again; bad names, the
 * quota and ended sessions are refused; a snapshot a fork is copying from
 * is not deleted under it; and sbxd killed in the middle of
 * a snapshot (held there by the test hook, its container paused by the
 * engine) leaves nothing behind after its restart: no directory, no image,
 * no frozen container.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"
#include "harness.h"
#include "server.h"
#include "snapshot.h"
#include "t.h"

static struct sbxd_proc d;
static sbx_client *svc;
static struct driver *drv;
static char inst[17];
static char hold[256];                 /* the hooks' go files */
static char fork_hold[256];
static sbx_session a;                  /* alice's, writable root */
static char *a_token;
static sbx_snapshot snap;              /* of a */

static int images_of(const char *id);
static int stray_dirs(const char *keep);

/* Runs cmd in sid through c; its stdout (static, overwritten by the next
 * call), or "" with *rv set when the call failed. */
static const char *
run_as(sbx_client *c, const char *sid, const char *cmd, sbx_err *rv)
{
	static char out[8192];

	*rv = harness_exec_out(c, sid, cmd, 120000, out, sizeof(out), NULL);
	return out;
}

static const char *
run(const char *sid, const char *cmd)
{
	sbx_err rv;

	return run_as(svc, sid, cmd, &rv);
}

/* The checksums (and link targets) of everything the fork must keep. */
#define SUMS "cd /workspace && sha256sum data.bin sub/deep/small.txt " \
	"/home/sandbox/state.bin /var/tmp/pkg.bin && readlink link && stat -c '%a %u' sub/x.sh"

static sbx_err
create(const char *user, const char *runtime, const char *from, sbx_client *c,
    sbx_session *out, char **token)
{
	sbx_session_create_opts o = { .user_id = user, .runtime = runtime,
	    .from_snapshot = from };
	sbx_err rv = sbx_session_create(c, &o, out, token);

	if (rv != SBX_OK)
		fprintf(stderr, "  create for %s from %s: %s: %s\n", user, from ? from : "-",
		    sbx_err_name(rv), sbx_last_error(c));
	return rv;
}

TEST(fork_keeps_workspace_and_layer)
{
	static char before[8192];
	sbx_session b = { 0 };
	sbx_err rv;

	REQUIRE_INT(create("alice", "pyw", NULL, svc, &a, &a_token), SBX_OK);
	run(a.session_id, "cd /workspace && head -c 1048576 /dev/urandom > data.bin && "
	    "mkdir -p sub/deep && echo hello > sub/deep/small.txt && ln -s data.bin link && "
	    "printf '#!/bin/sh\\n' > sub/x.sh && chmod 751 sub/x.sh && "
	    "head -c 300000 /dev/urandom > /home/sandbox/state.bin && "
	    "head -c 200000 /dev/urandom > /var/tmp/pkg.bin && echo tmpfs > /tmp/gone.txt");
	snprintf(before, sizeof(before), "%s", run(a.session_id, SUMS));
	REQUIRE(strstr(before, "data.bin") != NULL && strstr(before, "751 1000") != NULL);

	rv = sbx_snapshot_create(svc, a.session_id, "base", NULL, 0, &snap);
	if (rv != SBX_OK)
		fprintf(stderr, "  snapshot: %s\n", sbx_last_error(svc));
	REQUIRE_INT(rv, SBX_OK);
	CHECK(strncmp(snap.snapshot_id, "snap-", 5) == 0);
	CHECK_STR(snap.name, "base");
	CHECK_STR(snap.user_id, "alice");
	CHECK_STR(snap.session_id, a.session_id);
	CHECK(snap.kept_rootfs);
	CHECK(snap.workspace_bytes >= 1048576);
	CHECK(snap.layer_bytes > 0);
	CHECK(snap.frozen_ms > 0);     /* it ran: it was frozen for the capture */
	fprintf(stderr, "  frozen %llu ms, workspace %llu bytes, layer %llu bytes\n",
	    (unsigned long long)snap.frozen_ms, (unsigned long long)snap.workspace_bytes,
	    (unsigned long long)snap.layer_bytes);
	/* the original goes on, thawed */
	CHECK_STR(run(a.session_id, "echo alive"), "alive\n");

	REQUIRE_INT(create("alice", NULL, snap.snapshot_id, svc, &b, NULL), SBX_OK);
	CHECK_STR(b.runtime, "pyw");
	CHECK(strcmp(b.workspace_path, a.workspace_path) != 0);
	CHECK_STR(run(b.session_id, SUMS), before);
	/* tmpfs is memory: not kept */
	CHECK_STR(run(b.session_id, "cat /tmp/gone.txt 2>/dev/null || echo none"), "none\n");

	/* they diverge */
	run(a.session_id, "echo a-only > /workspace/a.txt && echo changed > /workspace/sub/deep/small.txt");
	run(b.session_id, "echo b-only > /workspace/b.txt && rm /home/sandbox/state.bin");
	CHECK_STR(run(b.session_id, "cat /workspace/sub/deep/small.txt; ls /workspace/a.txt 2>&1 | "
	    "grep -c 'No such'"), "hello\n1\n");
	CHECK_STR(run(a.session_id, "ls /workspace/b.txt 2>&1 | grep -c 'No such'; "
	    "ls /home/sandbox/state.bin"), "1\n/home/sandbox/state.bin\n");
	CHECK_INT(sbx_session_end(svc, b.session_id, 1), SBX_OK);
	sbx_session_fini(&b);
}

TEST(restore_brings_back_deleted_files)
{
	static char before[8192];
	sbx_session r = { 0 };

	REQUIRE(snap.snapshot_id != NULL);
	snprintf(before, sizeof(before), "%s", run(a.session_id, SUMS));
	run(a.session_id, "rm -rf /workspace/data.bin /workspace/sub /home/sandbox/state.bin && "
	    "echo junk > /workspace/junk.txt");
	CHECK_INT(sbx_session_restore(svc, a.session_id, snap.snapshot_id, &r), SBX_OK);
	CHECK_INT(r.state, SBX_SESSION_RUNNING);
	CHECK(strcmp(r.container_id, a.container_id) != 0);   /* made anew */
	CHECK_STR(run(a.session_id, "ls /workspace/junk.txt /workspace/a.txt 2>&1 | grep -c 'No such'"),
	    "2\n");
	/* back to the snapshot's instant, small.txt's change undone too */
	CHECK_STR(run(a.session_id, "cat /workspace/sub/deep/small.txt"), "hello\n");
	CHECK(strstr(run(a.session_id, SUMS), "state.bin") != NULL);
	sbx_session_fini(&r);
}

TEST(users_are_isolated)
{
	sbx_session bob = { 0 }, f = { 0 };
	sbx_snapshot *v = NULL, g = { 0 };
	char *bob_token = NULL;
	sbx_client *bc = NULL, *ac = NULL;
	size_t n = 0;

	REQUIRE(snap.snapshot_id != NULL);
	REQUIRE_INT(create("bob", NULL, NULL, svc, &bob, &bob_token), SBX_OK);
	REQUIRE((bc = harness_client(&d, bob_token)) != NULL);
	CHECK_INT(sbx_snapshot_list(bc, NULL, NULL, &v, &n), SBX_OK);
	CHECK_INT(n, 0);
	sbx_snapshot_list_free(v, n);
	CHECK_INT(sbx_snapshot_list(bc, "alice", NULL, &v, &n), SBX_PERMISSION_DENIED);
	CHECK_INT(sbx_snapshot_get(bc, snap.snapshot_id, &g), SBX_PERMISSION_DENIED);
	CHECK_INT(sbx_snapshot_delete(bc, snap.snapshot_id), SBX_PERMISSION_DENIED);
	CHECK_INT(sbx_session_restore(bc, bob.session_id, snap.snapshot_id, NULL),
	    SBX_PERMISSION_DENIED);
	/* a session token cannot fork across users, either way round */
	CHECK_INT(create("bob", NULL, snap.snapshot_id, bc, &f, NULL), SBX_PERMISSION_DENIED);
	CHECK_INT(create("alice", NULL, snap.snapshot_id, bc, &f, NULL), SBX_PERMISSION_DENIED);
	/* nor create a plain session */
	CHECK_INT(create("bob", NULL, NULL, bc, &f, NULL), SBX_PERMISSION_DENIED);
	/* the service key restores only within a user, forks across them */
	CHECK_INT(sbx_session_restore(svc, bob.session_id, snap.snapshot_id, NULL),
	    SBX_PERMISSION_DENIED);
	if (create("bob", NULL, snap.snapshot_id, svc, &f, NULL) == SBX_OK) {
		CHECK_STR(f.user_id, "bob");
		CHECK_STR(run(f.session_id, "cat /workspace/sub/deep/small.txt"), "hello\n");
		sbx_session_end(svc, f.session_id, 1);
		sbx_session_fini(&f);
	} else
		CHECK(0);
	/* the service key with no filter lists every user's */
	{
		sbx_snapshot bs = { 0 };
		int alices = 0, bobs = 0;

		REQUIRE_INT(sbx_snapshot_create(svc, bob.session_id, "bobs", NULL, 0, &bs), SBX_OK);
		CHECK_INT(sbx_snapshot_list(svc, NULL, NULL, &v, &n), SBX_OK);
		for (size_t i = 0; i < n; i++) {
			alices += strcmp(v[i].snapshot_id, snap.snapshot_id) == 0;
			bobs += strcmp(v[i].snapshot_id, bs.snapshot_id) == 0;
		}
		CHECK(alices == 1 && bobs == 1);
		sbx_snapshot_list_free(v, n);
		CHECK_INT(sbx_snapshot_delete(svc, bs.snapshot_id), SBX_OK);
		sbx_snapshot_fini(&bs);
	}
	/* alice's own token lists and forks her snapshots */
	REQUIRE((ac = harness_client(&d, a_token)) != NULL);
	CHECK_INT(sbx_snapshot_list(ac, NULL, NULL, &v, &n), SBX_OK);
	CHECK(n >= 1 && strcmp(v[0].user_id, "alice") == 0);
	sbx_snapshot_list_free(v, n);
	if (create("alice", NULL, snap.snapshot_id, ac, &f, NULL) == SBX_OK) {
		CHECK_STR(f.user_id, "alice");
		sbx_session_end(svc, f.session_id, 1);
		sbx_session_fini(&f);
	} else
		CHECK(0);
	sbx_client_close(ac);
	sbx_client_close(bc);
	sbx_session_end(svc, bob.session_id, 1);
	sbx_session_fini(&bob);
	sbx_free(bob_token);
}

TEST(bad_input)
{
	sbx_snapshot s = { 0 }, *v = NULL;
	sbx_session e = { 0 };
	size_t n = 0;
	sbx_err rv;
	int made = 0;

	REQUIRE(a.session_id != NULL);
	CHECK_INT(sbx_snapshot_create(svc, a.session_id, "../etc", NULL, 0, &s), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_snapshot_create(svc, a.session_id, "a/b", NULL, 0, &s), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_snapshot_create(svc, a.session_id, "..", NULL, 0, &s), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_snapshot_create(svc, a.session_id, "base", NULL, 0, &s), SBX_ALREADY_EXISTS);
	CHECK_INT(sbx_snapshot_get(svc, "../../x", &s), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_snapshot_get(svc, "snap-0000000000000000", &s), SBX_NOT_FOUND);
	/* the quota (4 in this test's config) */
	do {
		rv = sbx_snapshot_create(svc, a.session_id, NULL, NULL, 0, &s);
		sbx_snapshot_fini(&s);
	} while (rv == SBX_OK && ++made < 10);
	CHECK_INT(rv, SBX_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(sbx_last_error(svc), "delete snapshots first");
	CHECK_CONTAINS(sbx_last_error(svc), snap.snapshot_id);   /* the oldest, named */
	CHECK_INT(made, 3);
	/* delete the extra ones again */
	CHECK_INT(sbx_snapshot_list(svc, "alice", NULL, &v, &n), SBX_OK);
	CHECK_INT(n, 4);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].snapshot_id, snap.snapshot_id) != 0)
			CHECK_INT(sbx_snapshot_delete(svc, v[i].snapshot_id), SBX_OK);
	sbx_snapshot_list_free(v, n);
	/* an ended session: refused, saying why */
	REQUIRE_INT(create("carol", NULL, NULL, svc, &e, NULL), SBX_OK);
	CHECK_INT(sbx_session_end(svc, e.session_id, 0), SBX_OK);
	CHECK_INT(sbx_snapshot_create(svc, e.session_id, NULL, NULL, 0, &s), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "has ended");
	sbx_session_fini(&e);
}

/* The byte quota (64 MiB in this test's config): a snapshot whose
 * measured size takes its user past it is refused, naming the snapshots
 * to delete, and removed again: no record, directory or image is left. */
TEST(byte_quota_refuses_and_removes_the_snapshot)
{
	sbx_snapshot s = { 0 }, *v = NULL;
	size_t n0 = 0, n1 = 0;
	int images0;

	REQUIRE(a.session_id != NULL && snap.snapshot_id != NULL);
	REQUIRE_INT(sbx_snapshot_list(svc, "alice", NULL, &v, &n0), SBX_OK);
	sbx_snapshot_list_free(v, n0);
	images0 = images_of(NULL);
	CHECK_STR(run(a.session_id, "head -c 70000000 /dev/urandom > /workspace/big.bin && "
	    "echo made"), "made\n");
	CHECK_INT(sbx_snapshot_create(svc, a.session_id, "too-big", NULL, 0, &s),
	    SBX_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(sbx_last_error(svc), "snapshot_max_bytes_per_user");
	CHECK_CONTAINS(sbx_last_error(svc), snap.snapshot_id);
	CHECK_INT(sbx_snapshot_list(svc, "alice", NULL, &v, &n1), SBX_OK);
	sbx_snapshot_list_free(v, n1);
	CHECK_INT(n1, n0);
	CHECK_INT(stray_dirs(snap.snapshot_id), 0);
	CHECK_INT(images_of(NULL), images0);
	CHECK_STR(run(a.session_id, "rm /workspace/big.bin && echo gone"), "gone\n");
}

/* A stopped session: a snapshot keeps its workspace and layer, nothing to
 * freeze. */
TEST(stopped_session)
{
	sbx_snapshot s = { 0 }, gone = { 0 };
	sbx_session f = { 0 };

	REQUIRE(a.session_id != NULL);
	REQUIRE_INT(harness_stop_idle(svc, a.session_id), SBX_SESSION_STOPPED);
	REQUIRE_INT(sbx_snapshot_create(svc, a.session_id, "stopped", NULL, 0, &s), SBX_OK);
	CHECK_INT(s.frozen_ms, 0);
	CHECK(s.kept_rootfs);
	if (create("alice", NULL, s.snapshot_id, svc, &f, NULL) == SBX_OK) {
		CHECK(strstr(run(f.session_id, SUMS), "state.bin") != NULL);
		sbx_session_end(svc, f.session_id, 1);
		sbx_session_fini(&f);
	} else
		CHECK(0);
	CHECK_INT(sbx_snapshot_delete(svc, s.snapshot_id), SBX_OK);
	CHECK_INT(sbx_snapshot_get(svc, s.snapshot_id, &gone), SBX_NOT_FOUND);
	sbx_snapshot_fini(&gone);
	sbx_snapshot_fini(&s);
}

struct found {
	const char *snap;
	int n;
};

static void
count_image(void *arg, const char *id, const char *value)
{
	struct found *f = arg;

	(void)id;
	if (f->snap == NULL || strcmp(f->snap, value) == 0)
		f->n++;
}

/* Images of this sbxd labelled with snapshot id (NULL: any). */
static int
images_of(const char *id)
{
	struct found f = { .snap = id };
	struct err e;

	if (drv->ops->image_list(drv, "sbx.instance", inst, "sbx.snapshot", count_image, &f,
	    &e) != SBXD_OK) {
		fprintf(stderr, "  listing images: %s\n", e.msg);
		return -1;
	}
	return f.n;
}

/* Entries of the snapshots directory but the ready snapshot keep. */
static int
stray_dirs(const char *keep)
{
	char cmd[512], out[256] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A %s/snapshots | grep -v '^%s$' | wc -l", d.dir, keep);
	if ((p = popen(cmd, "r")) == NULL || fgets(out, sizeof(out), p) == NULL)
		out[0] = '\0';
	if (p != NULL)
		pclose(p);
	return atoi(out);
}

static void
touch(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f != NULL)
		fclose(f);
}

/* A snapshot a fork is copying from cannot be deleted meanwhile (held
 * there by the fork hook); once the fork is made it can. */
TEST(delete_while_forking)
{
	char held_file[300];
	sbx_snapshot s = { 0 };
	struct stat st;
	pid_t child;
	int status = -1;
	uint64_t until;

	REQUIRE(a.session_id != NULL);
	REQUIRE_INT(sbx_snapshot_create(svc, a.session_id, "forked", NULL, 0, &s), SBX_OK);
	snprintf(held_file, sizeof(held_file), "%s.held", fork_hold);
	unlink(fork_hold);
	unlink(held_file);
	if ((child = fork()) == 0) {
		execl("/proc/self/exe", "test_snapshots", "--fork", d.endpoint, s.snapshot_id,
		    (char *)NULL);
		_exit(127);
	}
	REQUIRE(child > 0);
	until = harness_now_ms() + HARNESS_WAIT_MS;
	while (stat(held_file, &st) != 0 && harness_now_ms() < until)
		usleep(20000);
	CHECK(stat(held_file, &st) == 0);
	CHECK_INT(sbx_snapshot_delete(svc, s.snapshot_id), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "being copied from");
	touch(fork_hold);
	waitpid(child, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(sbx_snapshot_delete(svc, s.snapshot_id), SBX_OK);
	CHECK_INT(images_of(s.snapshot_id), 0);
	sbx_snapshot_fini(&s);
}

/* The engine's state of sid's container ("running", "paused", ...). */
static const char *
container_state(const char *sid)
{
	static char state[32];
	struct driver_container_info info;
	sbx_session g;
	struct err e;

	snprintf(state, sizeof(state), "?");
	if (sbx_session_get(svc, sid, &g) != SBX_OK)
		return state;
	if (drv->ops->inspect(drv, g.container_id, &info, &e) == SBXD_OK)
		snprintf(state, sizeof(state), "%s", info.state);
	sbx_session_fini(&g);
	return state;
}

TEST(crash_mid_snapshot_leaves_nothing)
{
	char held_file[300], pending[64] = "";
	sbx_snapshot *v = NULL;
	size_t n = 0;
	struct stat st;
	pid_t child;
	int status, images0;
	uint64_t until;

	REQUIRE(a.session_id != NULL && snap.snapshot_id != NULL);
	run(a.session_id, "echo wake");
	images0 = images_of(NULL);
	snprintf(held_file, sizeof(held_file), "%s.held", hold);
	unlink(hold);
	unlink(held_file);
	/* a child process (this program again, fresh: no threads forked)
	 * asks for the snapshot; it is killed with sbxd, so it cannot retry
	 * against the next one */
	if ((child = fork()) == 0) {
		execl("/proc/self/exe", "test_snapshots", "--snapshot", d.endpoint,
		    a.session_id, (char *)NULL);
		_exit(127);
	}
	REQUIRE(child > 0);
	until = harness_now_ms() + HARNESS_WAIT_MS;
	while (stat(held_file, &st) != 0 && harness_now_ms() < until)
		usleep(20000);
	REQUIRE(stat(held_file, &st) == 0);
	/* it is held with everything made: a directory, an image, a frozen
	 * container, a pending record */
	CHECK_INT(stray_dirs(snap.snapshot_id), 1);
	CHECK_INT(images_of(NULL), images0 + 1);
	CHECK_STR(container_state(a.session_id), "paused");
	sbx_client_close(svc);
	svc = NULL;
	CHECK_INT(harness_stop(&d, SIGKILL), SIGKILL);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	touch(hold);             /* the next sbxd's snapshots go through */
	REQUIRE_INT(harness_restart(&d), 0);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	CHECK(harness_log_has(&d, "interrupted while being made"));
	CHECK(harness_log_has(&d, "thawed container"));
	CHECK_INT(stray_dirs(snap.snapshot_id), 0);
	CHECK_INT(images_of(NULL), images0);
	CHECK_INT(sbx_snapshot_list(svc, "alice", NULL, &v, &n), SBX_OK);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, "crashed") == 0)
			snprintf(pending, sizeof(pending), "%s", v[i].snapshot_id);
	CHECK_STR(pending, "");
	sbx_snapshot_list_free(v, n);
	/* the session thawed: it answers */
	CHECK_STR(run(a.session_id, "echo thawed"), "thawed\n");
	/* and the ready snapshot still forks */
	CHECK_INT(images_of(snap.snapshot_id), 1);
}

/* Deleting the snapshot removes its files at once; its image stays while
 * a session (a, restored from it) runs from it, and goes with that. */
TEST(delete_removes_files_and_image)
{
	REQUIRE(snap.snapshot_id != NULL);
	CHECK_INT(sbx_snapshot_delete(svc, snap.snapshot_id), SBX_OK);
	CHECK_INT(stray_dirs("-"), 0);
	CHECK_INT(sbx_snapshot_delete(svc, snap.snapshot_id), SBX_NOT_FOUND);
	CHECK_INT(images_of(snap.snapshot_id), 1);
	CHECK_STR(run(a.session_id, "cat /workspace/sub/deep/small.txt"), "hello\n");
	CHECK_INT(sbx_session_end(svc, a.session_id, 1), SBX_OK);
	CHECK_INT(images_of(snap.snapshot_id), 0);
}

/* The child of crash_mid_snapshot_leaves_nothing: snapshots sid on the
 * sbxd at endpoint. */
static int
snapshot_child(const char *endpoint, const char *sid)
{
	sbx_options o = { .endpoint = endpoint, .service_key = HARNESS_KEY };
	sbx_client *c;
	sbx_snapshot s;
	int rv;

	if (sbx_client_open(&o, &c) != SBX_OK)
		return 1;
	rv = sbx_snapshot_create(c, sid, "crashed", NULL, 0, &s) == SBX_OK ? 0 : 1;
	if (rv == 0)
		sbx_snapshot_fini(&s);
	sbx_client_close(c);   /* the sanitizer build checks for leaks at exit */
	return rv;
}

/* The child of delete_while_forking: forks snapshot id for alice on the
 * sbxd at endpoint and ends the fork; 0 when both worked. */
static int
fork_child(const char *endpoint, const char *id)
{
	sbx_options o = { .endpoint = endpoint, .service_key = HARNESS_KEY };
	sbx_session_create_opts co = { .user_id = "alice", .from_snapshot = id };
	sbx_client *c = NULL;
	sbx_session s;
	int rv = 1;

	if (sbx_client_open(&o, &c) == SBX_OK && sbx_session_create(c, &co, &s, NULL) == SBX_OK) {
		rv = sbx_session_end(c, s.session_id, 1) == SBX_OK ? 0 : 1;
		sbx_session_fini(&s);
	}
	sbx_client_close(c);   /* the sanitizer build checks for leaks at exit */
	return rv;
}

int
main(int argc, char **argv)
{
	char db[256], conf[512];
	struct err e;

	if (argc == 4 && strcmp(argv[1], "--snapshot") == 0)
		return snapshot_child(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "--fork") == 0)
		return fork_child(argv[2], argv[3]);

	if (!harness_image_ready())
		return 1;
	if (docker_driver_new("/var/run/docker.sock", &drv, &e) != SBXD_OK)
		return 1;
	snprintf(hold, sizeof(hold), "/tmp/sbx-snaphold-%d", (int)getpid());
	touch(hold);
	setenv(SNAPSHOT_HOLD_ENV, hold, 1);
	snprintf(fork_hold, sizeof(fork_hold), "/tmp/sbx-forkhold-%d", (int)getpid());
	touch(fork_hold);
	setenv(SNAPSHOT_FORK_HOLD_ENV, fork_hold, 1);
	snprintf(conf, sizeof(conf), "runtime = pyw sbx/python-minimal:latest writable_rootfs\n"
	    "snapshot_max_per_user = 4\nsnapshot_max_bytes_per_user = 64M\n%s", harness_agent_conf());
	if (harness_start(&d, conf) != 0)
		return 1;
	snprintf(db, sizeof(db), "%s/sbx.db", d.dir);
	server_instance_id(db, inst);
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(fork_keeps_workspace_and_layer);
	RUN(restore_brings_back_deleted_files);
	RUN(users_are_isolated);
	RUN(bad_input);
	RUN(stopped_session);
	RUN(byte_quota_refuses_and_removes_the_snapshot);
	RUN(delete_while_forking);
	RUN(crash_mid_snapshot_leaves_nothing);
	RUN(delete_removes_files_and_image);
	if (svc != NULL && a.session_id != NULL && t_failures)
		sbx_session_end(svc, a.session_id, 1);
	if (svc != NULL)
		sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	drv->ops->free(drv);
	sbx_session_fini(&a);
	sbx_snapshot_fini(&snap);
	sbx_free(a_token);
	unlink(hold);
	unlink(fork_hold);
	{
		char held_file[300];

		snprintf(held_file, sizeof(held_file), "%s.held", hold);
		unlink(held_file);
		snprintf(held_file, sizeof(held_file), "%s.held", fork_hold);
		unlink(held_file);
	}
	T_DONE();
}
