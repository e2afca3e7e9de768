/*
 * test_docker_engine.c — docker.c against the real Docker engine.
 *
 * Talks to /var/run/docker.sock (or $SBX_DOCKER_SOCK) with the runtime
 * image sbx/python-minimal:latest, which deploy/images/build.sh builds;
 * without it the test fails. One hardened container is created with a
 * temporary workspace bind-mounted, and the tests run in order against it:
 * hardening seen from inside, exec semantics (exit codes, streams, env,
 * workdir, timeouts that kill a process tree, output caps without memory
 * growth, concurrency), listing by label, stop, remove. Everything created
 * carries the label sbx.test=1 and is removed at the end, failed or not.
 * No test asserts an upper bound on time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docker_fixture.h"
#include "driver.h"
#include "t.h"

#define SUITE_LABEL	"sbx.test.docker_engine"
#define OUT_MAX		(64 * 1024)

static struct driver *d;
static char cid[DRIVER_ID_MAX];
static char cname[64];
static char run_id[32];
static char ws[64];

/* Runs argv in the test container; returns the driver's code. */
static sbxd_code
xrun(const char *const *argv, const char *const *env, const char *workdir,
    uint64_t timeout_ms, size_t max_output, struct driver_exec_result *res,
    struct err *e)
{
	struct driver_exec_spec s = {
		.container_id = cid, .argv = argv, .env = env,
		.workdir = workdir, .timeout_ms = timeout_ms,
		.max_output = max_output,
	};

	memset(res, 0, sizeof(*res));
	err_clear(e);
	return d->ops->exec(d, &s, res, e);
}

/* Runs sh -c cmd with a 60 s timeout and 64 KiB caps. */
static sbxd_code
sh(const char *cmd, struct driver_exec_result *res, struct err *e)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };

	return xrun(argv, NULL, NULL, 60000, OUT_MAX, res, e);
}

/* The stdout of sh -c cmd, which must exit 0, in dst. */
static int
sh_out(const char *cmd, char *dst, size_t n)
{
	struct driver_exec_result r;
	struct err e;
	int ok;

	ok = sh(cmd, &r, &e) == SBXD_OK && r.exit_code == 0;
	if (!ok)
		fprintf(stderr, "  `%s`: %s exit %d err \"%s\"\n", cmd, e.msg,
		    r.exit_code, r.err.data ? r.err.data : "");
	snprintf(dst, n, "%s", r.out.data ? r.out.data : "");
	driver_exec_result_fini(&r);
	return ok;
}

static long
vm_hwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kb;
}

TEST(ping)
{
	struct err e;

	CHECK_INT(d->ops->ping(d, &e), SBXD_OK);
}

TEST(image_present)
{
	struct err e;
	int present = -1;

	CHECK_INT(d->ops->image_present(d, FX_IMAGE, &present, &e), SBXD_OK);
	CHECK_INT(present, 1);
	CHECK_INT(d->ops->image_present(d, "sbx/no-such-image:never", &present,
	    &e), SBXD_OK);
	CHECK_INT(present, 0);
}

static void
spec_init(struct driver_container_spec *s, const struct driver_label *l,
    size_t nl)
{
	static const char *const env[] = { "SBX_TEST=yes", NULL };

	fx_hardened_spec(s, cname, l, nl, 1);
	s->workdir = "/workspace";
	s->workspace_host = ws;
	s->env = env;
	s->tmpfs_home = "/home/sandbox";
	s->tmpfs_home_opts = "rw,nosuid,nodev,size=8m,uid=1000,gid=1000,mode=0755";
}

TEST(create_start_inspect)
{
	const struct driver_label l[] = { { "sbx.test", "1" },
	    { SUITE_LABEL, "1" }, { "sbx.test.run", run_id } };
	struct driver_container_spec s;
	struct driver_container_info info;
	char other[DRIVER_ID_MAX];
	struct err e;

	spec_init(&s, l, 3);
	REQUIRE_INT(d->ops->create(d, &s, cid, &e), SBXD_OK);
	CHECK(strlen(cid) == 64);
	CHECK_INT(d->ops->create(d, &s, other, &e), SBXD_ALREADY_EXISTS);
	CHECK_CONTAINS(e.msg, "already in use");
	REQUIRE_INT(d->ops->start(d, cid, &e), SBXD_OK);
	CHECK_INT(d->ops->start(d, cid, &e), SBXD_OK);
	REQUIRE_INT(d->ops->inspect(d, cname, &info, &e), SBXD_OK);
	CHECK_STR(info.id, cid);
	CHECK_STR(info.state, "running");
	CHECK_INT(info.running, 1);
	CHECK_INT(info.oom_killed, 0);
	CHECK(info.pid > 1);
	CHECK_STR(info.image, FX_IMAGE);
}

TEST(create_missing_image)
{
	const struct driver_label l[] = { { "sbx.test", "1" },
	    { SUITE_LABEL, "1" } };
	struct driver_container_spec s;
	char id[DRIVER_ID_MAX];
	struct err e;

	spec_init(&s, l, 2);
	s.name = NULL;
	s.image = "sbx/no-such-image:never";
	CHECK_INT(d->ops->create(d, &s, id, &e), SBXD_NOT_FOUND);
	CHECK_CONTAINS(e.msg, "No such image");
}

TEST(hardening)
{
	char o[OUT_MAX];
	char *line;

	REQUIRE(cid[0] != '\0');
	CHECK(sh_out("id -u; id -g", o, sizeof(o)));
	CHECK_STR(o, "1000\n1000\n");
	CHECK(sh_out("cat /proc/self/status", o, sizeof(o)));
	CHECK_CONTAINS(o, "CapEff:\t0000000000000000\n");
	CHECK_CONTAINS(o, "CapPrm:\t0000000000000000\n");
	CHECK_CONTAINS(o, "NoNewPrivs:\t1\n");
	/* /proc/net/dev: two header lines, then one line per interface */
	CHECK(sh_out("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
	    o, sizeof(o)));
	CHECK_STR(o, "lo\n");
	CHECK(sh_out("cat /sys/fs/cgroup/pids.max 2>/dev/null || "
	    "cat /sys/fs/cgroup/pids/pids.max", o, sizeof(o)));
	CHECK_STR(o, "64\n");
	CHECK(sh_out("ulimit -n", o, sizeof(o)));
	CHECK_STR(o, "1024\n");
	CHECK(sh_out("touch /rootfs-probe 2>/dev/null && echo writable || "
	    "echo readonly", o, sizeof(o)));
	CHECK_STR(o, "readonly\n");
	CHECK(sh_out("echo x > /tmp/t && cat /tmp/t && grep ' /tmp ' "
	    "/proc/mounts", o, sizeof(o)));
	line = strstr(o, "tmpfs /tmp tmpfs");
	CHECK(line != NULL);
	/* the second tmpfs (Tmpfs is a map of both), the sandbox user's */
	CHECK(sh_out("echo y > $HOME/t && stat -c '%a %u:%g' $HOME && "
	    "grep -c '^tmpfs /home/sandbox tmpfs .*size=8192k' /proc/mounts",
	    o, sizeof(o)));
	CHECK_STR(o, "755 1000:1000\n1\n");
	CHECK(sh_out("echo hello > /workspace/probe.txt && pwd", o, sizeof(o)));
	CHECK_STR(o, "/workspace\n");
}

TEST(workspace_on_host)
{
	char path[128], data[64] = "";
	FILE *f;
	struct stat st;

	snprintf(path, sizeof(path), "%s/probe.txt", ws);
	REQUIRE((f = fopen(path, "r")) != NULL);
	CHECK(fgets(data, sizeof(data), f) != NULL);
	fclose(f);
	CHECK_STR(data, "hello\n");
	CHECK(stat(path, &st) == 0 && st.st_uid == 1000);
}

TEST(exit_code_and_streams)
{
	struct driver_exec_result r;
	struct err e;

	REQUIRE_INT(sh("echo out; echo err >&2; exit 3", &r, &e), SBXD_OK);
	CHECK_INT(r.exit_code, 3);
	CHECK_INT(r.timed_out, 0);
	CHECK_INT(r.truncated, 0);
	CHECK_STR(r.out.data, "out\n");
	CHECK_STR(r.err.data, "err\n");
	CHECK_INT(r.merged.len, 8);
	CHECK_CONTAINS(r.merged.data, "out\n");
	CHECK_CONTAINS(r.merged.data, "err\n");
	driver_exec_result_fini(&r);

	REQUIRE_INT(sh("true", &r, &e), SBXD_OK);
	CHECK_INT(r.exit_code, 0);
	CHECK_INT(r.out.len, 0);
	driver_exec_result_fini(&r);

	REQUIRE_INT(sh("kill -9 $$", &r, &e), SBXD_OK);
	CHECK_INT(r.exit_code, 137);
	driver_exec_result_fini(&r);
}

TEST(env_and_workdir)
{
	const char *argv[] = { "sh", "-c", "echo \"$FOO $SBX_TEST\"; pwd", NULL };
	const char *env[] = { "FOO=bar baz", NULL };
	const char *nope[] = { "/no/such/binary", NULL };
	struct driver_exec_result r;
	struct err e;

	REQUIRE_INT(xrun(argv, env, "/tmp", 60000, OUT_MAX, &r, &e), SBXD_OK);
	CHECK_INT(r.exit_code, 0);
	CHECK_STR(r.out.data, "bar baz yes\n/tmp\n");
	driver_exec_result_fini(&r);

	/* a missing binary is a command failure, not a driver error */
	CHECK_INT(xrun(nope, NULL, NULL, 60000, OUT_MAX, &r, &e), SBXD_OK);
	CHECK(r.exit_code == 126 || r.exit_code == 127);
	driver_exec_result_fini(&r);
}

/* The timeout of a command that must time out after printing its first
 * line. It counts from before the exec is created, so it leaves room for
 * a slow create on a loaded machine; the commands sleep 1000 s. */
#define SHORT_TIMEOUT_MS 10000

/* No "sleep 1000" left in the container (the image has no ps). */
static int
no_sleepers(void)
{
	char o[OUT_MAX];

	if (!sh_out("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f "
	    "2>/dev/null; echo; done", o, sizeof(o)))
		return 0;
	return strstr(o, "sleep 1000") == NULL &&
	    strstr(o, "/proc/[0-9]*/cmdline") != NULL;	/* saw itself */
}

TEST(timeout_kills_tree)
{
	const char *argv[] = { "sh", "-c",
	    "echo started; sleep 1000 & sleep 1000 & sleep 1000", NULL };
	struct driver_exec_result r;
	struct err e;

	REQUIRE(cid[0] != '\0');
	REQUIRE_INT(xrun(argv, NULL, NULL, SHORT_TIMEOUT_MS, OUT_MAX, &r, &e), SBXD_OK);
	CHECK_INT(r.timed_out, 1);
	CHECK_INT(r.exit_code, 124);
	CHECK_STR(r.out.data, "started\n");
	CHECK(r.duration_ms >= SHORT_TIMEOUT_MS);
	driver_exec_result_fini(&r);
	CHECK(no_sleepers());
}

/* The shell exits at once; a background child holds the output open.
 * dockerd ends an exec's output stream 2 s after its main process exits
 * (then the exec reports exit 0 and the child lives on), so the timeout
 * must fire inside those 2 s: 1.8 s, counted from before the exec is
 * created, leaves the most room for a slow create that this race allows. */
TEST(timeout_after_leader_exit)
{
	const char *argv[] = { "sh", "-c", "sleep 1000 & echo hi", NULL };
	struct driver_exec_result r;
	struct err e;

	REQUIRE(cid[0] != '\0');
	REQUIRE_INT(xrun(argv, NULL, NULL, 1800, OUT_MAX, &r, &e), SBXD_OK);
	CHECK_INT(r.timed_out, 1);
	CHECK_INT(r.exit_code, 124);
	CHECK_STR(r.out.data, "hi\n");
	driver_exec_result_fini(&r);
	CHECK(no_sleepers());
}

/* The command closes its output and goes on: the stream ends first. */
TEST(exit_after_output_closed)
{
	const char *argv[] = { "sh", "-c",
	    "echo bye; exec >/dev/null 2>&1; sleep 2; exit 5", NULL };
	const char *argv2[] = { "sh", "-c",
	    "exec >/dev/null 2>&1; sleep 1000", NULL };
	struct driver_exec_result r;
	struct err e;

	REQUIRE(cid[0] != '\0');
	REQUIRE_INT(xrun(argv, NULL, NULL, 60000, OUT_MAX, &r, &e), SBXD_OK);
	CHECK_INT(r.timed_out, 0);
	CHECK_INT(r.exit_code, 5);
	CHECK_STR(r.out.data, "bye\n");
	CHECK(r.duration_ms >= 2000);
	driver_exec_result_fini(&r);

	REQUIRE_INT(xrun(argv2, NULL, NULL, 1000, OUT_MAX, &r, &e), SBXD_OK);
	CHECK_INT(r.timed_out, 1);
	CHECK_INT(r.exit_code, 124);
	driver_exec_result_fini(&r);
	CHECK(no_sleepers());
}

TEST(output_cap_without_growth)
{
	const char *argv[] = { "head", "-c", "100000000", "/dev/zero", NULL };
	const char *argv2[] = { "sh", "-c",
	    "head -c 3000000 /dev/zero >&2; echo done", NULL };
	struct driver_exec_result r;
	long before, after;
	struct err e;

	before = vm_hwm_kb();
	REQUIRE_INT(xrun(argv, NULL, NULL, 0, 1 << 20, &r, &e), SBXD_OK);
	after = vm_hwm_kb();
	CHECK_INT(r.exit_code, 0);
	CHECK_INT(r.truncated, 1);
	CHECK_INT(r.out.len, 1 << 20);
	CHECK_INT(r.err.len, 0);
	CHECK_INT(r.merged.len, 2 << 20);
	CHECK(r.out.data[0] == 0 && r.out.data[(1 << 20) - 1] == 0);
	fprintf(stderr, "  VmHWM %ld kB -> %ld kB\n", before, after);
	CHECK(before > 0 && after - before < 64 * 1024);
	driver_exec_result_fini(&r);

	REQUIRE_INT(xrun(argv2, NULL, NULL, 0, 4096, &r, &e), SBXD_OK);
	CHECK_INT(r.truncated, 1);
	CHECK_INT(r.err.len, 4096);
	CHECK_STR(r.out.data, "done\n");
	CHECK_INT(r.merged.len, 8192);
	driver_exec_result_fini(&r);
}

struct worker {
	int n;
	int ok;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct driver_exec_result r;
	char cmd[64], want[64];
	struct err e;
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(cmd, sizeof(cmd), "echo %d-%d", w->n, i);
		snprintf(want, sizeof(want), "%d-%d\n", w->n, i);
		if (sh(cmd, &r, &e) == SBXD_OK && r.exit_code == 0 &&
		    r.out.data != NULL && strcmp(r.out.data, want) == 0)
			w->ok++;
		else
			fprintf(stderr, "  worker %d: %s\n", w->n, e.msg);
		driver_exec_result_fini(&r);
	}
	return NULL;
}

TEST(concurrent_execs)
{
	pthread_t th[8];
	struct worker w[8];
	int i;

	REQUIRE(cid[0] != '\0');
	for (i = 0; i < 8; i++) {
		w[i] = (struct worker){ .n = i };
		REQUIRE(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(w[i].ok, 10);
	}
}

struct found {
	int n;
	int ours;
	int labelled;
};

static void
list_cb(void *arg, const char *id, const char *state,
    const struct driver_label *labels, size_t nlabels)
{
	struct found *f = arg;
	size_t i;

	f->n++;
	if (strcmp(id, cid) == 0 && strcmp(state, "running") == 0)
		f->ours++;
	for (i = 0; i < nlabels; i++)
		if (strcmp(labels[i].key, "sbx.test") == 0 &&
		    strcmp(labels[i].value, "1") == 0)
			f->labelled++;
}

TEST(list_by_label)
{
	struct found f = { 0, 0, 0 };
	struct err e;

	REQUIRE_INT(d->ops->list(d, "sbx.test.run", run_id, list_cb, &f, &e),
	    SBXD_OK);
	CHECK_INT(f.n, 1);
	CHECK_INT(f.ours, 1);
	CHECK_INT(f.labelled, 1);
	f = (struct found){ 0, 0, 0 };
	REQUIRE_INT(d->ops->list(d, "sbx.test.run", "no-such-run", list_cb,
	    &f, &e), SBXD_OK);
	CHECK_INT(f.n, 0);
}

TEST(stop_then_exec)
{
	struct driver_container_info info;
	struct driver_exec_result r;
	struct err e;

	REQUIRE(cid[0] != '\0');
	CHECK_INT(d->ops->stop(d, cid, 1, &e), SBXD_OK);
	CHECK_INT(d->ops->stop(d, cid, 1, &e), SBXD_OK);
	REQUIRE_INT(d->ops->inspect(d, cid, &info, &e), SBXD_OK);
	CHECK_INT(info.running, 0);
	CHECK_STR(info.state, "exited");
	CHECK_INT(sh("true", &r, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "not running");
	driver_exec_result_fini(&r);
}

TEST(remove_then_gone)
{
	struct driver_container_info info;
	struct driver_exec_result r;
	struct err e;

	REQUIRE(cid[0] != '\0');
	CHECK_INT(d->ops->remove(d, cid, &e), SBXD_OK);
	CHECK_INT(d->ops->remove(d, cid, &e), SBXD_OK);
	CHECK_INT(d->ops->inspect(d, cid, &info, &e), SBXD_NOT_FOUND);
	CHECK_CONTAINS(e.msg, "No such container");
	CHECK_INT(d->ops->start(d, cid, &e), SBXD_NOT_FOUND);
	CHECK_INT(sh("true", &r, &e), SBXD_NOT_FOUND);
	driver_exec_result_fini(&r);
}

TEST(missing_socket)
{
	const char *path = "/nonexistent/sbx-test-docker.sock";
	struct driver *bad = NULL;
	struct driver_exec_result r;
	struct driver_exec_spec s = { .container_id = "x",
	    .argv = (const char *const[]){ "true", NULL } };
	struct err e;

	REQUIRE_INT(docker_driver_new(path, &bad, &e), SBXD_OK);
	CHECK_INT(bad->ops->ping(bad, &e), SBXD_UNAVAILABLE);
	CHECK_CONTAINS(e.msg, path);
	CHECK_CONTAINS(e.msg, "dockerd");
	memset(&r, 0, sizeof(r));
	CHECK_INT(bad->ops->exec(bad, &s, &r, &e), SBXD_UNAVAILABLE);
	driver_exec_result_fini(&r);
	bad->ops->free(bad);
}

/* Removes every container of this suite (this run's and crashed runs'). */
static void
cleanup(void)
{
	char path[128];

	fx_docker_cleanup(d, SUITE_LABEL);
	if (ws[0] != '\0') {
		snprintf(path, sizeof(path), "%s/probe.txt", ws);
		unlink(path);
		if (rmdir(ws) == -1)
			fprintf(stderr, "cleanup: rmdir %s: %s\n", ws,
			    strerror(errno));
	}
}

int
main(void)
{
	if ((d = fx_docker_open()) == NULL)
		return 1;
	snprintf(run_id, sizeof(run_id), "%ld", (long)getpid());
	snprintf(cname, sizeof(cname), "sbx-test-engine-%s", run_id);
	cleanup();
	snprintf(ws, sizeof(ws), "/tmp/sbx-test-ws.XXXXXX");
	if (mkdtemp(ws) == NULL || chown(ws, 1000, 1000) == -1 ||
	    chmod(ws, 0755) == -1) {
		fprintf(stderr, "FAIL: workspace %s: %s\n", ws, strerror(errno));
		return 1;
	}
	RUN(ping);
	RUN(image_present);
	RUN(create_start_inspect);
	RUN(create_missing_image);
	RUN(hardening);
	RUN(workspace_on_host);
	RUN(exit_code_and_streams);
	RUN(env_and_workdir);
	RUN(timeout_kills_tree);
	RUN(timeout_after_leader_exit);
	RUN(exit_after_output_closed);
	RUN(output_cap_without_growth);
	RUN(concurrent_execs);
	RUN(list_by_label);
	RUN(stop_then_exec);
	RUN(remove_then_gone);
	RUN(missing_socket);
	cleanup();
	d->ops->free(d);
	T_DONE();
}
