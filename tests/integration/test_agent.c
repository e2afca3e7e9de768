/*
 * test_agent.c — the in-sandbox agent route, for real: a real sbxd, real
 * containers on the real Docker engine, the real sbx-agent inside them.
 * Commands run as children of the agent's worker (and, with `agent = no`,
 * do not); files on a tmpfs /tmp are written and read through it as the
 * sandbox user; killing the worker mid-command answers the foreground call
 * ABORTED, ends the background process as killed and the supervisor's new
 * worker takes the route back; a restarted sbxd finds every agent again; a
 * sandbox flooding its own agent socket with garbage, squatting on it and
 * killing its agent spoils nothing for another session or sbxd; an image
 * holding nothing but busybox gets an agent; and 3200 tiny concurrent
 * calls all succeed. The route is seen from inside: through the agent a
 * command's parent is the worker (its cmdline names sbx-agent), through
 * docker exec it has none (PPID 0). Times are printed, never asserted.
 * With SBX_TEST_ISOLATION=gvisor it all runs under gVisor, where one thing
 * differs: runsc (2022-12) refuses PR_SET_CHILD_SUBREAPER, so what a
 * killed worker's commands had forked is reparented to init, out of the
 * supervisor's reach; that check is only reported there.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define TMPFS_CONF "tmpfs_tmp = rw,nosuid,nodev,size=16m\n"
/* the command's parent: its pid, then its command line (empty via exec) */
#define PARENT_CMD "echo $PPID; tr '\\0' ' ' </proc/$PPID/cmdline 2>/dev/null; echo"
/* how many processes run exactly `words` (a trailing space: tr's) */
#define COUNT_CMD(words) "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <\"$f\"; echo; done" \
	" | grep -cx '" words " ' || true"
#define THREADS 16
#define CALLS_PER_THREAD 200
/* under gVisor (SBX_TEST_ISOLATION=gvisor) a call costs ~15x: fewer */
#define CALLS_PER_THREAD_GVISOR 20

static struct sbxd_proc d;
static int gvisor;              /* SBX_TEST_ISOLATION=gvisor */
static int calls_per_thread = CALLS_PER_THREAD;
static sbx_client *svc;
static sbx_session alice, bob;

/* Runs cmd in sid through c; its stdout into out (n bytes, NUL-ended). */
static sbx_err
run(sbx_client *c, const char *sid, const char *cmd, char *out, size_t n)
{
	sbx_exec_opts o = { .command = cmd, .timeout_ms = 60000 };
	sbx_exec_result r;
	sbx_err rv = sbx_exec(c, sid, &o, &r);

	if (out != NULL)
		out[0] = '\0';
	if (rv != SBX_OK) {
		fprintf(stderr, "  exec %s: %s: %s\n", cmd, sbx_err_name(rv), sbx_last_error(c));
		return rv;
	}
	if (out != NULL)
		snprintf(out, n, "%s", r.out.data ? (char *)r.out.data : "");
	if (r.exit_code != 0)
		fprintf(stderr, "  exec %s: exit %d: %s\n", cmd, r.exit_code,
		    r.err.data ? (char *)r.err.data : "");
	rv = r.exit_code == 0 ? SBX_OK : SBX_UNKNOWN;
	sbx_exec_result_fini(&r);
	return rv;
}

/* Which route a command of sid takes: 1 the agent, 0 docker exec, -1 the
 * call failed. *worker (may be NULL) gets the agent worker's pid. */
static int
route(sbx_client *c, const char *sid, long *worker)
{
	char out[4096], *nl;

	if (run(c, sid, PARENT_CMD, out, sizeof(out)) != SBX_OK)
		return -1;
	if (worker != NULL)
		*worker = atol(out);
	nl = strchr(out, '\n');
	return nl != NULL && strstr(nl, "/.sbx/agent/sbx-agent") != NULL;
}

/* Waits (bounded by HARNESS_WAIT_MS) until sid's commands go through its
 * agent again; 1 when they do. */
static int
wait_agent_route(sbx_client *c, const char *sid, long *worker)
{
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS; harness_now_ms() < end;) {
		if (route(c, sid, worker) == 1)
			return 1;
		usleep(100000);
	}
	return 0;
}

/* Waits (bounded) until `COUNT_CMD` in sid prints want; 1 when it did. */
static int
wait_count(const char *sid, const char *cmd, int want)
{
	char out[64];

	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS; harness_now_ms() < end;) {
		if (run(svc, sid, cmd, out, sizeof(out)) == SBX_OK && atoi(out) == want)
			return 1;
		usleep(100000);
	}
	return 0;
}

static sbx_err
start_proc(const char *sid, const char *cmd, char id[SBX_PROCESS_ID_MAX])
{
	sbx_process_opts o = { .command = cmd };
	sbx_process p;
	sbx_err rv = sbx_process_start(svc, sid, &o, &p);

	id[0] = '\0';
	if (rv != SBX_OK) {
		fprintf(stderr, "  start %s: %s\n", cmd, sbx_last_error(svc));
		return rv;
	}
	snprintf(id, SBX_PROCESS_ID_MAX, "%s", p.process_id);
	sbx_process_fini(&p);
	return SBX_OK;
}

TEST(create_sessions)
{
	sbx_session_create_opts o = { .user_id = "alice" };

	REQUIRE_INT(sbx_session_create(svc, &o, &alice, NULL), SBX_OK);
	o.user_id = "bob";
	REQUIRE_INT(sbx_session_create(svc, &o, &bob, NULL), SBX_OK);
}

TEST(commands_run_through_the_agent)
{
	static const char text[] = "through the agent\n";
	sbx_session_create_opts o = { .user_id = "plain" };
	struct sbxd_proc d2;
	sbx_session s2 = { 0 };
	sbx_client *c2;
	char out[4096], cmd[64];
	void *data = NULL;
	size_t len = 0;
	long worker = 0;

	/* the agent's worker is the parent, not the supervisor */
	CHECK(wait_agent_route(svc, alice.session_id, &worker));
	snprintf(cmd, sizeof(cmd), "tr '\\0' ' ' </proc/%ld/cmdline", worker);
	CHECK_INT(run(svc, alice.session_id, cmd, out, sizeof(out)), SBX_OK);
	CHECK(strstr(out, "--supervise") == NULL);
	/* a file on /tmp, a tmpfs the engine's archive calls cannot reach */
	CHECK_INT(run(svc, alice.session_id, "grep -c ' /tmp tmpfs ' /proc/mounts", out,
	    sizeof(out)), SBX_OK);
	CHECK_STR(out, "1\n");
	CHECK_INT(sbx_write(svc, alice.session_id, "/tmp/x", text, sizeof(text) - 1, 0), SBX_OK);
	CHECK_INT(sbx_read_bytes(svc, alice.session_id, "/tmp/x", 0, 0, &data, &len), SBX_OK);
	CHECK(data != NULL && len == sizeof(text) - 1 && memcmp(data, text, len) == 0);
	sbx_free(data);
	/* find, not stat(1): bookworm's coreutils stat fails under gVisor */
	CHECK_INT(run(svc, alice.session_id, "find /tmp/x -maxdepth 0 -printf '%U:%G\\n'",
	    out, sizeof(out)), SBX_OK);
	CHECK_STR(out, "1000:1000\n");

	/* with the agent off, the same command has no agent for a parent */
	REQUIRE_INT(harness_start(&d2, "agent = no\n" TMPFS_CONF), 0);
	c2 = harness_client(&d2, NULL);
	CHECK(c2 != NULL);
	if (c2 != NULL && sbx_session_create(c2, &o, &s2, NULL) == SBX_OK) {
		CHECK_INT(route(c2, s2.session_id, NULL), 0);
		CHECK_INT(run(c2, s2.session_id, "for f in /proc/[0-9]*/cmdline; do "
		    "tr '\\0' ' ' <\"$f\"; echo; done | grep -c '^/.sbx/agent/' || true",
		    out, sizeof(out)), SBX_OK);
		CHECK_STR(out, "0\n");
		sbx_session_end(c2, s2.session_id, 1);
	} else
		CHECK(!"a session with the agent off");
	sbx_session_fini(&s2);
	sbx_client_close(c2);
	CHECK(harness_finish(&d2, t_failures));
}

struct fg_call {
	const char *sid;
	sbx_client *c;
	sbx_err rv;
	char msg[512];
	atomic_int done;
};

static void *
fg_sleep(void *arg)
{
	struct fg_call *f = arg;
	sbx_exec_opts o = { .command = "sleep 6001", .timeout_ms = 600000 };
	sbx_exec_result r;

	f->rv = sbx_exec(f->c, f->sid, &o, &r);
	snprintf(f->msg, sizeof(f->msg), "%s", sbx_last_error(f->c));
	if (f->rv == SBX_OK)
		sbx_exec_result_fini(&r);
	atomic_store(&f->done, 1);
	return NULL;
}

TEST(agent_killed_mid_command)
{
	struct fg_call f = { .sid = alice.session_id };
	char id[SBX_PROCESS_ID_MAX], cmd[64], out[256];
	sbx_process p = { 0 };
	long worker = 0, worker2 = 0;
	pthread_t t;
	sbx_err rv;
	int to = 1;

	REQUIRE(wait_agent_route(svc, alice.session_id, &worker));
	REQUIRE_INT(start_proc(alice.session_id, "sleep 6002", id), SBX_OK);
	REQUIRE((f.c = harness_client(&d, NULL)) != NULL);
	REQUIRE_INT(pthread_create(&t, NULL, fg_sleep, &f), 0);
	CHECK(wait_count(alice.session_id, COUNT_CMD("sleep 600[12]"), 2));

	/* the kill's own command is a child of the worker: it dies with it */
	snprintf(cmd, sizeof(cmd), "kill -KILL %ld", worker);
	rv = run(svc, alice.session_id, cmd, NULL, 0);
	CHECK(rv == SBX_OK || rv == SBX_ABORTED);
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	    !atomic_load(&f.done) && harness_now_ms() < end;)
		usleep(20000);
	REQUIRE(atomic_load(&f.done));   /* else the thread still holds f */
	pthread_join(t, NULL);
	sbx_client_close(f.c);
	CHECK_INT(f.rv, SBX_ABORTED);
	CHECK_CONTAINS(f.msg, "agent");

	/* the background process died with the worker */
	CHECK_INT(sbx_process_wait(svc, alice.session_id, id, HARNESS_WAIT_MS, &p, &to), SBX_OK);
	CHECK_INT(to, 0);
	/* "killed 137"; the state says EXITED: KILLED is for what sbx sent */
	CHECK(p.state == SBX_PROCESS_EXITED || p.state == SBX_PROCESS_KILLED);
	CHECK_INT(p.exit_code, 137);
	sbx_process_fini(&p);

	/* the next call answers at once, by whichever route is there */
	CHECK_INT(run(svc, alice.session_id, "echo next", out, sizeof(out)), SBX_OK);
	CHECK_STR(out, "next\n");
	CHECK(wait_agent_route(svc, alice.session_id, &worker2));
	CHECK(worker2 != worker);
	/* and so did what the commands' shells had forked (the sleeps) */
	if (!gvisor)
		CHECK(wait_count(alice.session_id, COUNT_CMD("sleep 600[12]"), 0));
	else if (run(svc, alice.session_id, COUNT_CMD("sleep 600[12]"), out, sizeof(out)) ==
	    SBX_OK && atoi(out) != 0)
		fprintf(stderr, "  gvisor: %d forked sleeps outlived the killed worker (no "
		    "child subreaper in runsc); ending them\n", atoi(out));
	run(svc, alice.session_id, "for p in /proc/[0-9]*; do case \"$(tr '\\0' ' ' "
	    "<$p/cmdline 2>/dev/null)\" in 'sleep 600'[12]*) kill -KILL ${p#/proc/};; "
	    "esac; done; true", NULL, 0);
}

TEST(sbxd_restart_keeps_the_agent_route)
{
	long before = 0, after = 0;

	REQUIRE(wait_agent_route(svc, alice.session_id, &before));
	REQUIRE(wait_agent_route(svc, bob.session_id, NULL));
	sbx_client_close(svc);
	svc = NULL;
	CHECK_INT(harness_stop(&d, SIGTERM), 0);
	REQUIRE_INT(harness_restart(&d), 0);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	CHECK(wait_agent_route(svc, alice.session_id, &after));
	CHECK(wait_agent_route(svc, bob.session_id, NULL));
	/* the worker redials; it is not restarted */
	fprintf(stderr, "  worker %ld before the restart, %ld after\n", before, after);
}

/* From inside the sandbox: connections to its own agent socket carrying
 * random bytes, a valid SP header then a frame of 2^62 bytes, and a valid
 * header then a 16-byte frame of junk; prints how many went through. */
static const char garbage_py[] =
    "import os, socket, sys\n"
    "H = b'\\x00SP\\x00\\x00\\x11\\x00\\x00'\n"
    "n = 0\n"
    "for i in range(int(sys.argv[1])):\n"
    "    for p in (os.urandom(4096), H + b'\\x01' + (1 << 62).to_bytes(8, 'big'),\n"
    "              H + b'\\x01' + (16).to_bytes(8, 'big') + os.urandom(16)):\n"
    "        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
    "        try:\n"
    "            s.connect('/.sbx/link/agent.sock'); s.sendall(p); n += 1\n"
    "        except OSError:\n"
    "            pass\n"
    "        s.close()\n"
    "print(n)\n";

/* Holds up to 128 connections to the agent socket open, half silent, half
 * after a valid pair1 SP header (squatting on the link whenever the agent
 * is away), reconnecting those sbxd closes. */
static const char holder_py[] =
    "import select, socket, time\n"
    "H = b'\\x00SP\\x00\\x00\\x11\\x00\\x00'\n"
    "held, i = [], 0\n"
    "while True:\n"
    "    if len(held) < 128:\n"
    "        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
    "        try:\n"
    "            s.connect('/.sbx/link/agent.sock')\n"
    "            if i % 2: s.sendall(H)\n"
    "            held.append(s); i += 1\n"
    "        except OSError:\n"
    "            s.close()\n"
    "    r, _, _ = select.select(held, [], [], 0.01)\n"
    "    for s in r:\n"
    "        try: b = s.recv(4096)\n"
    "        except OSError: b = b''\n"
    "        if not b: held.remove(s); s.close()\n";

struct prober {
	sbx_client *c;
	const char *sid;
	atomic_int stop;
	int calls, bad;
};

/* Runs the route probe on session B until told to stop, counting the calls
 * that failed or did not go through B's agent. */
static void *
probe_b(void *arg)
{
	struct prober *pr = arg;

	while (!atomic_load(&pr->stop)) {
		pr->calls++;
		if (route(pr->c, pr->sid, NULL) != 1)
			pr->bad++;
	}
	return NULL;
}

TEST(sandbox_cannot_spoil_others)
{
	sbx_session_create_opts o = { .user_id = "mallory" };
	struct prober pr = { .sid = bob.session_id };
	sbx_session a = { 0 };
	char hold[SBX_PROCESS_ID_MAX], cmd[64], out[256];
	long worker = 0;
	pthread_t t;
	sbx_err rv;
	int via;

	REQUIRE(wait_agent_route(svc, bob.session_id, NULL));
	REQUIRE_INT(sbx_session_create(svc, &o, &a, NULL), SBX_OK);
	REQUIRE(wait_agent_route(svc, a.session_id, NULL));
	CHECK_INT(sbx_write(svc, a.session_id, "garbage.py", garbage_py, sizeof(garbage_py) - 1,
	    0), SBX_OK);
	CHECK_INT(sbx_write(svc, a.session_id, "holder.py", holder_py, sizeof(holder_py) - 1, 0),
	    SBX_OK);
	REQUIRE((pr.c = harness_client(&d, NULL)) != NULL);
	REQUIRE_INT(pthread_create(&t, NULL, probe_b, &pr), 0);

	CHECK_INT(run(svc, a.session_id, "python3 garbage.py 100", out, sizeof(out)), SBX_OK);
	CHECK_STR(out, "300\n");
	for (int i = 0; i < 5; i++) {
		/* the holder is the worker's child: it dies with it, so each
		 * round starts one; then A's agent is killed and flooded */
		CHECK_INT(start_proc(a.session_id, "exec python3 holder.py", hold), SBX_OK);
		if (route(svc, a.session_id, &worker) == 1) {
			snprintf(cmd, sizeof(cmd), "kill -KILL %ld", worker);
			run(svc, a.session_id, cmd, NULL, 0);   /* dies with the worker */
		}
		CHECK_INT(run(svc, a.session_id, "python3 garbage.py 20", out, sizeof(out)),
		    SBX_OK);
		via = route(svc, a.session_id, NULL);
		CHECK(via == 0 || via == 1);
		fprintf(stderr, "  round %d: session A's commands go through %s\n", i,
		    via == 1 ? "its agent" : via == 0 ? "docker exec" : "nothing");
	}
	/* SBX_FAILED_PRECONDITION: every holder already died with a worker */
	rv = sbx_process_signal(svc, a.session_id, NULL, SBX_SIGNAL_KILL, NULL);
	CHECK(rv == SBX_OK || rv == SBX_FAILED_PRECONDITION);
	CHECK_INT(run(svc, a.session_id, "echo still", out, sizeof(out)), SBX_OK);
	CHECK_STR(out, "still\n");
	/* with nothing else on its socket, A's agent takes its link back */
	CHECK(wait_agent_route(svc, a.session_id, NULL));

	atomic_store(&pr.stop, 1);
	pthread_join(t, NULL);
	sbx_client_close(pr.c);
	fprintf(stderr, "  session B: %d calls, %d not through its agent\n", pr.calls, pr.bad);
	CHECK(pr.calls > 0);
	CHECK_INT(pr.bad, 0);
	CHECK(kill(d.pid, 0) == 0);
	CHECK_INT(route(svc, bob.session_id, NULL), 1);
	sbx_session_end(svc, a.session_id, 1);
	sbx_session_fini(&a);
}

TEST(busybox_image_gets_an_agent)
{
	sbx_runtime_create_opts ro = { .name = "test-busybox",
	    .base_runtime = "sbx/test-busybox:latest" };
	sbx_session_create_opts o = { .user_id = "tiny", .runtime = "test-busybox" };
	const char *src = getenv("SBX_SOURCE_DIR");
	sbx_runtime rt = { 0 };
	sbx_session s = { 0 };
	char script[512], out[256];
	char *log = NULL;
	sbx_err rv;

	REQUIRE(src != NULL);
	snprintf(script, sizeof(script), "%s/deploy/images/test-busybox.sh", src);
	REQUIRE_INT(system(script), 0);
	rv = sbx_runtime_create(svc, &ro, &rt, &log);
	CHECK_INT(rv, SBX_OK);
	if (rv != SBX_OK)
		fprintf(stderr, "  %s\n  build log:\n%s\n", sbx_last_error(svc), log ? log : "");
	sbx_free(log);
	sbx_runtime_fini(&rt);
	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	CHECK_INT(run(svc, s.session_id, "echo hi", out, sizeof(out)), SBX_OK);
	CHECK_STR(out, "hi\n");
	CHECK(wait_agent_route(svc, s.session_id, NULL));
	/* nothing but busybox: no libc, no python */
	CHECK_INT(run(svc, s.session_id, "ls /lib /usr/bin/python3 2>&1 | wc -l", out,
	    sizeof(out)), SBX_OK);
	CHECK_STR(out, "2\n");
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

struct hammer {
	sbx_client *c;
	const char *sid;
	int failed;
	char first[256];
};

static void *
hammer(void *arg)
{
	struct hammer *h = arg;
	sbx_exec_opts o = { .command = "true" };
	sbx_exec_result r;

	for (int i = 0; i < calls_per_thread; i++) {
		sbx_err rv = sbx_exec(h->c, h->sid, &o, &r);

		if (rv == SBX_OK && r.exit_code == 0) {
			sbx_exec_result_fini(&r);
			continue;
		}
		if (h->failed++ == 0)
			snprintf(h->first, sizeof(h->first), "%s: %s (exit %d)", sbx_err_name(rv),
			    sbx_last_error(h->c), rv == SBX_OK ? r.exit_code : -1);
		if (rv == SBX_OK)
			sbx_exec_result_fini(&r);
	}
	return NULL;
}

TEST(many_tiny_concurrent_calls)
{
	struct hammer h[THREADS] = { 0 };
	pthread_t t[THREADS];
	uint64_t t0;
	int failed = 0, n;

	REQUIRE(wait_agent_route(svc, alice.session_id, NULL));
	for (n = 0; n < THREADS; n++) {
		h[n].sid = alice.session_id;
		if ((h[n].c = harness_client(&d, NULL)) == NULL)
			break;
	}
	REQUIRE_INT(n, THREADS);
	t0 = harness_now_ms();
	for (n = 0; n < THREADS; n++)
		if (pthread_create(&t[n], NULL, hammer, &h[n]) != 0)
			break;
	CHECK_INT(n, THREADS);
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		sbx_client_close(h[i].c);
		if (h[i].failed > 0)
			fprintf(stderr, "  thread %d: %d failed, first %s\n", i, h[i].failed,
			    h[i].first);
		failed += h[i].failed;
	}
	t0 = harness_now_ms() - t0;
	fprintf(stderr, "  %d calls by %d threads in %llu ms: %.2f ms per call, %.0f calls/s\n",
	    n * calls_per_thread, n, (unsigned long long)t0,
	    (double)t0 * n / (n * calls_per_thread),
	    t0 ? 1000.0 * n * calls_per_thread / (double)t0 : 0.0);
	CHECK_INT(failed, 0);
	CHECK_INT(route(svc, alice.session_id, NULL), 1);
}

int
main(void)
{
	unsetenv("SBX_TEST_AGENT");   /* this file is the agent's: always on */
	if ((gvisor = harness_isolation_conf()[0] != '\0'))
		calls_per_thread = CALLS_PER_THREAD_GVISOR;
	if (!harness_image_ready())
		return 1;
	if (harness_start(&d, TMPFS_CONF) != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(create_sessions);
	if (t_failures == 0) {
		RUN(commands_run_through_the_agent);
		RUN(many_tiny_concurrent_calls);
		RUN(agent_killed_mid_command);
		RUN(sandbox_cannot_spoil_others);
		RUN(busybox_image_gets_an_agent);
		RUN(sbxd_restart_keeps_the_agent_route);
	}
	if (svc != NULL) {
		sbx_session_end(svc, alice.session_id, 1);
		sbx_session_end(svc, bob.session_id, 1);
		sbx_client_close(svc);
	}
	CHECK(harness_finish(&d, t_failures));
	sbx_session_fini(&alice);
	sbx_session_fini(&bob);
	T_DONE();
}
