/*
 * test_adopt.c — a background process outlives sbxd: the in-sandbox agent
 * holds it (and what it prints) while sbxd is away, and a restarted sbxd
 * takes it back. After sbxd is killed (SIGKILL) or stopped (SIGTERM) and
 * started again, the process is listed under its id, what it printed
 * while no sbxd listened arrives, its output goes on without a gap or a
 * repeat, and WaitProcess returns its own exit code. Always with the agent on (sbxd's default): without it the
 * process is the engine's exec, whose stream dies with sbxd.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

static struct sbxd_proc d;
static sbx_client *svc;
static sbx_session s;

/* Appends what p printed since the last read to *acc (grown). */
static void
read_more(const char *pid, char **acc, size_t *len)
{
	sbx_bytes b = { 0 };

	if (sbx_process_read_output(svc, s.session_id, pid, &b, NULL) != SBX_OK) {
		fprintf(stderr, "  read output: %s\n", sbx_last_error(svc));
		return;
	}
	*acc = realloc(*acc, *len + b.len + 1);
	memcpy(*acc + *len, b.data, b.len);
	*len += b.len;
	(*acc)[*len] = '\0';
	sbx_free(b.data);
}

/* Reads p's output until it holds needle (bounded). */
static int
read_until(const char *pid, char **acc, size_t *len, const char *needle)
{
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;

	while (harness_now_ms() < deadline) {
		read_more(pid, acc, len);
		if (*acc != NULL && strstr(*acc, needle) != NULL)
			return 1;
		usleep(50 * 1000);
	}
	return 0;
}

/* 1 when the session lists pid as running (looked at until it does). */
static int
listed_running(const char *pid)
{
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	sbx_process *v;
	size_t n;
	int found = 0;

	while (!found && harness_now_ms() < deadline) {
		if (sbx_process_list(svc, s.session_id, &v, &n) == SBX_OK) {
			for (size_t i = 0; i < n; i++)
				found |= strcmp(v[i].process_id, pid) == 0 &&
				    v[i].state == SBX_PROCESS_RUNNING;
			sbx_process_list_free(v, n);
		}
		if (!found)
			usleep(100 * 1000);
	}
	return found;
}

/* The numbers 1..n, one a line, each exactly once and in order. */
static int
lines_in_order(const char *out, int n)
{
	char want[32];
	const char *p = out;

	for (int i = 1; i <= n; i++) {
		snprintf(want, sizeof(want), "line %d\n", i);
		if (strncmp(p, want, strlen(want)) != 0) {
			fprintf(stderr, "  expected \"line %d\" at: %.40s\n", i, p);
			return 0;
		}
		p += strlen(want);
	}
	return *p == '\0';
}

/* Creates name in the session's workspace straight on the host (sbxd may
 * be down). */
static int
touch_host(const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", s.workspace_path, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fclose(f);
	return 0;
}

/* Starts command in the background and reads its output into *acc until
 * it holds marker; its id in pid. 0 when both happened. */
static int
start_until(const char *command, const char *marker, char pid[SBX_PROCESS_ID_MAX],
    char **acc, size_t *len)
{
	sbx_process_opts o = { .command = command };
	sbx_process p = { 0 };

	if (sbx_process_start(svc, s.session_id, &o, &p) != SBX_OK)
		return -1;
	snprintf(pid, SBX_PROCESS_ID_MAX, "%s", p.process_id);
	sbx_process_fini(&p);
	return read_until(pid, acc, len, marker) ? 0 : -1;
}

static void
survive(int sig)
{
	/* line 1..3, then (once "more" appears, made while sbxd is down)
	 * line 4..40 one every 50 ms, then exit 7: some lines are printed
	 * while no sbxd listens, the rest after the restart. Nothing is
	 * printed while the old sbxd is stopping: output it read and nobody
	 * fetched goes with it. */
	const char *cmd = "rm -f more; for i in 1 2 3; do echo line $i; done; "
	    "while [ ! -e more ]; do sleep 0.05; done; "
	    "for i in $(seq 4 40); do echo line $i; sleep 0.05; done; exit 7";
	sbx_process p = { 0 }, end = { 0 };
	char *acc = NULL, pid[SBX_PROCESS_ID_MAX];
	size_t len = 0;
	int timed_out = 1;

	REQUIRE_INT(start_until(cmd, "line 3\n", pid, &acc, &len), 0);
	sbx_client_close(svc);
	svc = NULL;
	CHECK_INT(harness_stop(&d, sig), sig == SIGKILL ? SIGKILL : 0);
	CHECK_INT(touch_host("more"), 0);
	REQUIRE_INT(harness_restart(&d), 0);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	CHECK(listed_running(pid));
	CHECK(harness_log_has(&d, "taken back after the restart"));
	CHECK_INT(sbx_process_wait(svc, s.session_id, pid, 0, &end, &timed_out), SBX_OK);
	CHECK_INT(timed_out, 0);
	CHECK_INT(end.exit_code, 7);
	CHECK_INT(end.state, SBX_PROCESS_EXITED);
	sbx_process_fini(&end);
	read_more(pid, &acc, &len);
	CHECK(acc != NULL && lines_in_order(acc, 40));
	free(acc);
	/* a new process does not take the old one's id */
	REQUIRE_INT(sbx_process_start(svc, s.session_id,
	    &(sbx_process_opts){ .command = "true" }, &p), SBX_OK);
	CHECK(strcmp(p.process_id, pid) != 0);
	sbx_process_fini(&p);
}

/* 1 when name exists in the session's workspace, looked at on the host
 * until it does (sbxd may be down). */
static int
host_file_appears(const char *name)
{
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", s.workspace_path, name);
	while (access(path, F_OK) != 0 && harness_now_ms() < deadline)
		usleep(50 * 1000);
	return access(path, F_OK) == 0;
}

/* More output than the agent keeps while no sbxd listens (its 256 KiB
 * ring): the restarted sbxd says how much was lost, then gives the rest. */
TEST(output_lost_while_away_is_counted)
{
	const char *cmd = "rm -f more2 flooded; echo start; "
	    "while [ ! -e more2 ]; do sleep 0.05; done; "
	    "head -c 600000 /dev/zero | tr '\\0' x; echo; echo done; touch flooded";
	sbx_process end = { 0 };
	char *acc = NULL, pid[SBX_PROCESS_ID_MAX];
	unsigned long long lost = 0;
	const char *mark;
	size_t len = 0;
	int timed_out = 1;

	REQUIRE_INT(start_until(cmd, "start\n", pid, &acc, &len), 0);
	free(acc);
	acc = NULL;
	len = 0;
	sbx_client_close(svc);
	svc = NULL;
	CHECK_INT(harness_stop(&d, SIGTERM), 0);
	CHECK_INT(touch_host("more2"), 0);
	CHECK(host_file_appears("flooded"));         /* it printed it all with no sbxd */
	REQUIRE_INT(harness_restart(&d), 0);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	CHECK_INT(sbx_process_wait(svc, s.session_id, pid, 0, &end, &timed_out), SBX_OK);
	CHECK_INT(end.exit_code, 0);
	sbx_process_fini(&end);
	read_more(pid, &acc, &len);
	REQUIRE(acc != NULL);
	mark = strstr(acc, "[sbx: ");
	CHECK(mark != NULL && sscanf(mark, "[sbx: %llu bytes of output dropped", &lost) == 1);
	CHECK(lost >= 600001 - (256u << 10) && lost <= 600001);
	CHECK(strstr(acc, "done\n") != NULL);
	fprintf(stderr, "  %llu bytes reported lost of 600007\n", lost);
	free(acc);
}

TEST(process_survives_sbxd_killed)
{
	survive(SIGKILL);
}

TEST(process_survives_sbxd_stopped)
{
	survive(SIGTERM);
}

int
main(void)
{
	sbx_session_create_opts co = { .user_id = "adopter" };

	if (!harness_image_ready())
		return 1;
	/* this file is about the agent: it is on whatever SBX_TEST_AGENT says */
	unsetenv("SBX_TEST_AGENT");
	if (harness_start(&d, "pool_size = 0\n") != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL ||
	    sbx_session_create(svc, &co, &s, NULL) != SBX_OK)
		return 1;
	RUN(process_survives_sbxd_killed);
	RUN(process_survives_sbxd_stopped);
	RUN(output_lost_while_away_is_counted);
	if (svc != NULL) {
		sbx_session_end(svc, s.session_id, 1);
		sbx_client_close(svc);
	}
	sbx_session_fini(&s);
	CHECK(harness_finish(&d, t_failures));
	T_DONE();
}
