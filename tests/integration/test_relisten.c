/*
 * test_relisten.c — many agent links down at once, against a real sbxd and
 * real containers.
 *
 * A link whose agent stays away for a while gets its listener made again
 * (agentlink.c). That once ran inside an nng callback, where closing a
 * listener blocks one of nng's few task threads: with as many links due
 * at once as nng has task threads, sbxd stopped accepting requests. Here
 * twenty sessions' containers are killed together; once sbxd has made
 * every listener again (its sbxd_agent_relistens_total counter says so —
 * the event waited for), it still answers, and every session runs its
 * next command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define SESSIONS 20

static struct sbxd_proc d;
static sbx_client *svc;
static int mport;

/* sbxd_agent_relistens_total from /metrics, or -1. */
static long
relistens(void)
{
	char cmd[160], line[256];
	long v = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%d/metrics", mport);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL)
		if (sscanf(line, "sbxd_agent_relistens_total %ld", &v) == 1)
			break;
	pclose(p);
	return v;
}

TEST(links_down_together_keep_sbxd_answering)
{
	sbx_session s[SESSIONS];
	char cmd[SESSIONS * 80 + 32] = "docker kill", user[32];
	sbx_runtime *rts = NULL;
	size_t n = 0;
	uint64_t end;
	long base;
	int ok = 0;

	for (int i = 0; i < SESSIONS; i++) {
		sbx_session_create_opts o = { .user_id = user };

		snprintf(user, sizeof(user), "relisten-%d", i);
		REQUIRE_INT(sbx_session_create(svc, &o, &s[i], NULL), SBX_OK);
		REQUIRE_INT(harness_exec_status(svc, s[i].session_id, "true", 60000), 0);
		strcat(cmd, " ");
		strcat(cmd, s[i].container_id);   /* hex from the engine */
	}
	REQUIRE((base = relistens()) >= 0);
	strcat(cmd, " >/dev/null");
	REQUIRE_INT(system(cmd), 0);
	for (int i = 0; i < SESSIONS; i++)
		CHECK_INT(harness_wait_session_state(svc, s[i].session_id, SBX_SESSION_STOPPED),
		    SBX_SESSION_STOPPED);
	/* every link listens anew (the safety net bounds the wait) */
	end = harness_now_ms() + HARNESS_WAIT_MS;
	while (relistens() < base + SESSIONS && harness_now_ms() < end)
		usleep(100 * 1000);
	CHECK(relistens() >= base + SESSIONS);
	CHECK_INT(sbx_runtime_list(svc, &rts, &n), SBX_OK);   /* still answering */
	sbx_runtime_list_free(rts, n);
	for (int i = 0; i < SESSIONS; i++) {
		ok += harness_exec_status(svc, s[i].session_id, "true", 60000) == 0;
		sbx_session_fini(&s[i]);
	}
	CHECK_INT(ok, SESSIONS);
}

int
main(void)
{
	char conf[128];

	if (!harness_image_ready())
		return 1;
	unsetenv("SBX_TEST_AGENT");   /* about the agent's links */
	mport = harness_free_port();
	snprintf(conf, sizeof(conf), "metrics_listen = 127.0.0.1:%d\npool_size = 0\n"
	    "max_live_sessions_per_user = 0\nmax_live_sessions = 0\n", mport);
	if (harness_start(&d, conf) != 0 || (svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(links_down_together_keep_sbxd_answering);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	T_DONE();
}
