/*
 * test_agentlink.c — sbxd's end of the agent link against the real
 * sbx-agent binary, run as a host process dialling over tcp:// and
 * tls+tcp:// on loopback (the shape a remote host would use), with the
 * session token checked. No Docker: the in-container route is covered by
 * the integration tests, which run with the agent on by default.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentlink.h"
#include "t.h"

#define WAIT_MS 120000   /* safety bound on every wait for an event */

static char tmpdir[64];

static pid_t
spawn_agent(const char *url, const char *session, const char *token, const char *ca)
{
	char tokf[128];
	FILE *f;
	pid_t pid;

	snprintf(tokf, sizeof(tokf), "%s/token-%s", tmpdir, token);
	if ((f = fopen(tokf, "w")) == NULL)
		return -1;
	fputs(token, f);
	fclose(f);
	if ((pid = fork()) == 0) {
		/* it dies with this test, whatever ends it: an agent left
		 * behind would hold ctest's output pipe open */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (ca != NULL)
			execl(SBX_AGENT_BIN, "sbx-agent", "--supervise", "--url", url,
			    "--session", session, "--token-file", tokf, "--tls-ca", ca,
			    (char *)NULL);
		else
			execl(SBX_AGENT_BIN, "sbx-agent", "--supervise", "--url", url,
			    "--session", session, "--token-file", tokf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void
stop_agent(pid_t pid)
{
	int st;

	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
	}
}

static struct agentlink *
listen_on(const char *url, const char *cert, char *dial, size_t n)
{
	struct agentlink_opts o = {
		.url = url, .session = "s-test", .token = (const uint8_t *)"good-token",
		.token_len = 10, .tls_cert = cert,
	};
	struct agentlink *l = NULL;
	struct err e;

	if (agentlink_listen(&o, &l, &e) != SBXD_OK) {
		fprintf(stderr, "  listen %s: %s\n", url, e.msg);
		return NULL;
	}
	snprintf(dial, n, "%s127.0.0.1:%d", strncmp(url, "tls", 3) == 0 ? "tls+tcp://" :
	    "tcp://", agentlink_port(l));
	return l;
}

static const char *exit3[] = { "sh", "-c", "echo hi; echo err >&2; exit 3", NULL };
static const char *cat[] = { "cat", NULL };

/* The same checks on a link that is up, whatever its transport. */
static void
exercise(struct agentlink *l)
{
	struct driver_exec_spec spec = { .container_id = "x", .argv = exit3, .timeout_ms = 60000 };
	struct driver_exec_result res = { 0 };
	int ran = 0;
	int64_t stuck = 0;
	struct err e;

	CHECK_INT(agentlink_exec(l, &spec, NULL, 0, &res, &ran, &stuck, &e), SBXD_OK);
	CHECK_INT(ran, 1);
	CHECK_INT(res.exit_code, 3);
	CHECK_INT(res.out.len, 3);
	CHECK(res.out.len == 3 && memcmp(res.out.data, "hi\n", 3) == 0);
	CHECK(res.err.len == 4 && memcmp(res.err.data, "err\n", 4) == 0);
	driver_exec_result_fini(&res);

	/* 200 KiB of stdin: more than one stdin frame */
	{
		size_t n = 200 * 1024;
		char *in = malloc(n);

		for (size_t i = 0; i < n; i++)
			in[i] = (char)('a' + i % 26);
		spec.argv = cat;
		memset(&res, 0, sizeof(res));
		CHECK_INT(agentlink_exec(l, &spec, in, n, &res, &ran, &stuck, &e), SBXD_OK);
		CHECK_INT(res.exit_code, 0);
		CHECK_INT(res.out.len, n);
		CHECK(res.out.len == n && memcmp(res.out.data, in, n) == 0);
		driver_exec_result_fini(&res);
		free(in);
	}
}

TEST(tcp_with_token)
{
	char dial[64];
	struct agentlink *l = listen_on("tcp://127.0.0.1:0", NULL, dial, sizeof(dial));
	pid_t good;

	REQUIRE(l != NULL);
	good = spawn_agent(dial, "s-test", "good-token", NULL);
	CHECK(agentlink_up(l, WAIT_MS, NULL, NULL));
	exercise(l);
	stop_agent(good);
	agentlink_close(l);
}

TEST(wrong_token_or_session_is_refused)
{
	char dial[64];
	struct agentlink *l = listen_on("tcp://127.0.0.1:0", NULL, dial, sizeof(dial));
	pid_t bad, other;

	REQUIRE(l != NULL);
	bad = spawn_agent(dial, "s-test", "bad-token!", NULL);
	CHECK(agentlink_rejected(l, 1, WAIT_MS) >= 1);
	stop_agent(bad);
	other = spawn_agent(dial, "s-other", "good-token", NULL);
	CHECK(agentlink_rejected(l, 2, WAIT_MS) >= 2);
	CHECK(!agentlink_up(l, 0, NULL, NULL));
	stop_agent(other);
	agentlink_close(l);
}

TEST(tls_with_token)
{
	char cmd[1024], pem[96], crt[96], key[96], dial[64], url[64];
	struct agentlink *l;
	pid_t good;

	snprintf(crt, sizeof(crt), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	snprintf(pem, sizeof(pem), "%s/both.pem", tmpdir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
	    "-subj /CN=127.0.0.1 -keyout %s -out %s 2>/dev/null && cat %s %s > %s",
	    key, crt, crt, key, pem);
	REQUIRE(system(cmd) == 0);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:0");
	REQUIRE((l = listen_on(url, pem, dial, sizeof(dial))) != NULL);
	good = spawn_agent(dial, "s-test", "good-token", crt);
	CHECK(agentlink_up(l, WAIT_MS, NULL, NULL));
	exercise(l);
	stop_agent(good);
	agentlink_close(l);
}

TEST(process_streams_and_takes_signals)
{
	static const char *loop[] = { "sh", "-c", "echo started; while read x; do echo \"got $x\"; done; sleep 600", NULL };
	char dial[64];
	struct agentlink *l = listen_on("tcp://127.0.0.1:0", NULL, dial, sizeof(dial));
	struct driver_exec_spec spec = { .container_id = "x", .argv = loop };
	struct driver_proc_status st;
	struct agent_proc *p = NULL;
	int ran, eof = 0, n = 0;
	pid_t good;
	struct err e;

	REQUIRE(l != NULL);
	good = spawn_agent(dial, "s-test", "good-token", NULL);
	REQUIRE(agentlink_up(l, WAIT_MS, NULL, NULL));
	REQUIRE_INT(agentlink_proc_start(l, &spec, &p, &ran, &e), SBXD_OK);
	CHECK_INT(agent_proc_write_stdin(p, "one\n", 4, 10000, &e), SBXD_OK);
	CHECK_INT(agent_proc_close_stdin(p, &e), SBXD_OK);
	CHECK_INT(agent_proc_status(p, &st, &e), SBXD_OK);
	CHECK(st.running && st.pid > 0);
	CHECK_INT(agent_proc_signal(p, SIGTERM, &n, &e), SBXD_OK);
	CHECK(n >= 1);
	/* its end arrives through the descriptor the output thread polls */
	while (!eof) {
		struct pollfd pfd = { .fd = agent_proc_fd(p), .events = POLLIN };

		REQUIRE(poll(&pfd, 1, WAIT_MS) == 1);
		REQUIRE_INT(agent_proc_pump(p, &eof, &e), SBXD_OK);
	}
	CHECK_INT(agent_proc_status(p, &st, &e), SBXD_OK);
	CHECK(!st.running);
	CHECK_INT(st.exit_code, 128 + SIGTERM);
	agent_proc_free(p);
	stop_agent(good);
	agentlink_close(l);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sbx-agentlink-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	RUN(tcp_with_token);
	RUN(wrong_token_or_session_is_refused);
	RUN(tls_with_token);
	RUN(process_streams_and_takes_signals);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "  could not remove %s\n", tmpdir);
	}
	T_DONE();
}
