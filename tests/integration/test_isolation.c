/*
 * test_isolation.c — sessions under gVisor (isolation gvisor) beside runc
 * ones, for real: a real sbxd, the real Docker engine with Debian's runsc
 * registered (deploy/gvisor.sh), the real sbx-agent inside.
 *
 * A gvisor session runs its commands through the agent as uid 1000 and
 * sees gVisor's kernel (dmesg); files round-trip between the host's
 * workspace and the sandbox; a timeout kills; background processes and the
 * session log work; GetSession says gvisor; the warm pool keeps gvisor and
 * runc containers apart, a pooled gvisor session survives a stop and wake,
 * a returning user's gvisor session (created cold) keeps their files. A
 * server whose engine lacks the runtime answers FAILED_PRECONDITION naming
 * deploy/gvisor.sh; an isolation the config does not allow is
 * PERMISSION_DENIED, an unknown one INVALID_ARGUMENT.
 *
 * Skipped (exit 77) only when the engine has no runsc registered: CI's
 * deploy/deps.sh registers it. Usage figures are printed, never asserted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define PARENT_CMD "echo $PPID; tr '\\0' ' ' </proc/$PPID/cmdline 2>/dev/null; echo"

static struct sbxd_proc d;
static sbx_client *svc;
static int metrics_port;
static sbx_session gv, rc;

/* Runs cmd in sid; its stdout (static), or "<error>". */
static const char *
run(const char *sid, const char *cmd)
{
	static char out[4096];
	sbx_exec_opts o = { .command = cmd, .timeout_ms = 60000 };
	sbx_exec_result r;

	snprintf(out, sizeof(out), "<error>");
	if (sbx_exec(svc, sid, &o, &r) != SBX_OK) {
		fprintf(stderr, "  exec %s: %s\n", cmd, sbx_last_error(svc));
		return out;
	}
	snprintf(out, sizeof(out), "%s", r.out.data ? (char *)r.out.data : "");
	if (r.exit_code != 0)
		fprintf(stderr, "  exec %s: exit %d: %s\n", cmd, r.exit_code,
		    r.err.data ? (char *)r.err.data : "");
	sbx_exec_result_fini(&r);
	return out;
}


/* "RUNTIME POOL" of container cid as the engine has it: its OCI runtime
 * and its sbx.pool label ("" for a cold one). */
static const char *
engine_view(const char *cid)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "docker inspect -f '{{.HostConfig.Runtime}} "
	    "{{index .Config.Labels \"sbx.pool\"}}' %.64s", cid);
	return harness_host_line(cmd);
}

/* The pool's ready containers, over every runtime (sbxd_pool_ready). */
static int
pool_ready(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "curl -sf http://127.0.0.1:%d/metrics | "
	    "awk '$1 == \"sbxd_pool_ready\" { print $2 }'", metrics_port);
	return atoi(harness_host_line(cmd));
}

static int
wait_pool_ready(int n)
{
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS; harness_now_ms() < end;) {
		if (pool_ready() == n)
			return 1;
		usleep(100000);
	}
	fprintf(stderr, "  the pool never had %d ready (has %d)\n", n, pool_ready());
	return 0;
}

static sbx_err
create(sbx_client *c, const char *user, const char *isolation, sbx_session *s)
{
	sbx_session_create_opts o = { .user_id = user, .isolation = isolation };

	sbx_session_fini(s);
	return sbx_session_create(c, &o, s, NULL);
}

/* ---- tests */

TEST(pool_keeps_isolations_apart)
{
	char view[256];

	REQUIRE(wait_pool_ready(2));
	REQUIRE_INT(create(svc, "gv-new", "gvisor", &gv), SBX_OK);
	CHECK_STR(gv.isolation, "gvisor");
	snprintf(view, sizeof(view), "%s", engine_view(gv.container_id));
	CHECK_STR(view, "runsc python-minimal");
	REQUIRE_INT(create(svc, "rc-new", "runc", &rc), SBX_OK);
	CHECK_STR(rc.isolation, "runc");
	snprintf(view, sizeof(view), "%s", engine_view(rc.container_id));
	CHECK_STR(view, "runc python-minimal");
	/* gVisor's kernel answers dmesg (to uid 1000, too); the host's does not */
	CHECK_CONTAINS(run(gv.session_id, "dmesg 2>&1 | head -1"), "Starting gVisor");
	CHECK(strstr(run(rc.session_id, "dmesg 2>&1 | head -1; true"), "gVisor") == NULL);
}

TEST(get_session_reports_the_isolation)
{
	sbx_session s = { 0 };

	REQUIRE_INT(sbx_session_get(svc, gv.session_id, &s), SBX_OK);
	CHECK_STR(s.isolation, "gvisor");
	fprintf(stderr, "  gvisor usage: memory %llu bytes, cpu %.1f%%, pids %llu (the "
	    "sandbox's host threads: gVisor's, not its processes)\n",
	    (unsigned long long)s.usage.memory_bytes, s.usage.cpu_percent,
	    (unsigned long long)s.usage.pids);
	sbx_session_fini(&s);
	REQUIRE_INT(sbx_session_get(svc, rc.session_id, &s), SBX_OK);
	CHECK_STR(s.isolation, "runc");
	sbx_session_fini(&s);
}

TEST(commands_go_through_the_agent_as_the_sandbox_user)
{
	const char *out = NULL;

	/* the agent dials sbxd once its container runs: wait for the route */
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS; harness_now_ms() < end;
	    usleep(100000))
		if (strstr(out = run(gv.session_id, PARENT_CMD), "/.sbx/agent/sbx-agent") != NULL)
			break;
	CHECK_CONTAINS(out, "/.sbx/agent/sbx-agent");
	CHECK_STR(run(gv.session_id, "id -u; id -g; pwd"), "1000\n1000\n/workspace\n");
}

TEST(files_round_trip)
{
	char path[1200], *text = NULL;
	void *data = NULL;
	size_t len = 0;
	FILE *f;

	REQUIRE_INT(sbx_write(svc, gv.session_id, "notes/a.txt", "from the client\n", 16, 0),
	    SBX_OK);
	CHECK_STR(run(gv.session_id, "cat /workspace/notes/a.txt"), "from the client\n");
	snprintf(path, sizeof(path), "cat %s/notes/a.txt", gv.workspace_path);
	CHECK_STR(harness_host_line(path), "from the client");
	/* the host writes, the sandbox reads at once */
	snprintf(path, sizeof(path), "%s/host.txt", gv.workspace_path);
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("from the host\n", f);
	fclose(f);
	CHECK_STR(run(gv.session_id, "cat host.txt"), "from the host\n");
	/* the sandbox writes, the client reads */
	run(gv.session_id, "echo from the sandbox > made.txt");
	REQUIRE_INT(sbx_read_bytes(svc, gv.session_id, "made.txt", 0, 0, &data, &len), SBX_OK);
	CHECK_STR((char *)data, "from the sandbox\n");
	sbx_free(data);
	/* outside the workspace (a tmpfs): through the agent */
	REQUIRE_INT(sbx_write(svc, gv.session_id, "/tmp/t.txt", "tmp\n", 4, 0), SBX_OK);
	REQUIRE_INT(sbx_read(svc, gv.session_id, "/tmp/t.txt", 0, 0, &text), SBX_OK);
	CHECK_CONTAINS(text, "tmp");
	sbx_free(text);
}

TEST(timeout_kills)
{
	sbx_exec_opts o = { .command = "sleep 30 & sleep 31; echo never", .timeout_ms = 1000 };
	sbx_exec_result r;

	REQUIRE_INT(sbx_exec(svc, gv.session_id, &o, &r), SBX_OK);
	CHECK(r.timed_out);
	CHECK_INT(r.exit_code, 124);
	sbx_exec_result_fini(&r);
	/* the whole group went: no sleep is left */
	CHECK_STR(run(gv.session_id, "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <\"$f\"; "
	    "echo; done | grep -c '^sleep 3' || true"), "0\n");
}

TEST(background_process_and_log)
{
	sbx_process_opts o = { .command = "echo tick; echo tock" };
	sbx_process p, w = { 0 };
	sbx_log_batch b = { 0 };
	int timed_out = 1, seen = 0;

	REQUIRE_INT(sbx_process_start(svc, gv.session_id, &o, &p), SBX_OK);
	REQUIRE_INT(sbx_process_wait(svc, gv.session_id, p.process_id, 0, &w, &timed_out), SBX_OK);
	CHECK(!timed_out);
	CHECK_INT(w.exit_code, 0);
	sbx_process_fini(&w);
	sbx_process_fini(&p);
	REQUIRE_INT(sbx_read_logs(svc, gv.session_id, 0, 1000, &b), SBX_OK);
	for (size_t i = 0; i < b.n; i++)
		seen |= b.events[i].data != NULL && strstr((char *)b.events[i].data, "tock") != NULL;
	CHECK(seen);
	sbx_log_batch_fini(&b);
}

TEST(pooled_session_wakes_with_its_workspace)
{
	REQUIRE_INT(harness_stop_idle(svc, gv.session_id), SBX_SESSION_STOPPED);
	CHECK_STR(run(gv.session_id, "cat host.txt"), "from the host\n");
	CHECK_INT(harness_session_state(svc, gv.session_id), SBX_SESSION_RUNNING);
}

TEST(returning_user_is_created_cold_with_their_files)
{
	char view[256];

	REQUIRE_INT(sbx_session_end(svc, gv.session_id, 0), SBX_OK);
	REQUIRE(wait_pool_ready(2));
	REQUIRE_INT(create(svc, "gv-new", "gvisor", &gv), SBX_OK);
	snprintf(view, sizeof(view), "%s", engine_view(gv.container_id));
	CHECK_STR(view, "runsc ");
	CHECK_STR(run(gv.session_id, "cat host.txt"), "from the host\n");
	CHECK_CONTAINS(run(gv.session_id, "dmesg | head -1"), "Starting gVisor");
}

TEST(isolation_names_are_checked)
{
	sbx_session s = { 0 };

	CHECK_INT(create(svc, "gv-bad", "kata", &s), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "runc, gvisor");
}

/* A second sbxd: gvisor only, and the engine knows no such runtime. */
TEST(engine_without_the_runtime_and_config_limits)
{
	struct sbxd_proc d2;
	sbx_client *c;
	sbx_session s = { 0 };

	REQUIRE(harness_start(&d2, "pool_size = 0\nisolation = gvisor\n"
	    "isolations_allowed = gvisor\ngvisor_runtime = sbx-no-such-runtime\n") == 0);
	REQUIRE((c = harness_client(&d2, NULL)) != NULL);
	CHECK_INT(create(c, "iso-a", NULL, &s), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(c), "sbx-no-such-runtime");
	CHECK_CONTAINS(sbx_last_error(c), "deploy/gvisor.sh");
	CHECK_INT(create(c, "iso-a", "gvisor", &s), SBX_FAILED_PRECONDITION);
	CHECK_INT(create(c, "iso-a", "runc", &s), SBX_PERMISSION_DENIED);
	CHECK_CONTAINS(sbx_last_error(c), "isolations_allowed = gvisor");
	sbx_session_fini(&s);
	sbx_client_close(c);
	CHECK(harness_finish(&d2, t_failures));
}

int
main(void)
{
	char conf[256];

	if (!harness_image_ready())
		return 1;
	if (!harness_gvisor_ready()) {
		fprintf(stderr, "SKIP: the Docker engine has no runsc runtime registered; "
		    "deploy/gvisor.sh (run by deploy/deps.sh) installs and registers it\n");
		return 77;
	}
	metrics_port = harness_free_port();
	snprintf(conf, sizeof(conf), "reap_interval = 0\npool_size = 1\n"
	    "pool_size = python-minimal 1 gvisor\nmetrics_listen = 127.0.0.1:%d\n", metrics_port);
	if (harness_start(&d, conf) != 0 || (svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(pool_keeps_isolations_apart);
	RUN(get_session_reports_the_isolation);
	RUN(commands_go_through_the_agent_as_the_sandbox_user);
	RUN(files_round_trip);
	RUN(pooled_session_wakes_with_its_workspace);
	RUN(timeout_kills);
	RUN(background_process_and_log);
	RUN(returning_user_is_created_cold_with_their_files);
	RUN(isolation_names_are_checked);
	RUN(engine_without_the_runtime_and_config_limits);
	sbx_session_fini(&gv);
	sbx_session_fini(&rc);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	T_DONE();
}
