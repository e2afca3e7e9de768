/*
 * test_procs.c — commands with stdin and background processes, for real:
 * a real sbxd, real containers on the real Docker engine. Execute feeds
 * stdin (small, 1 MiB, and with a timeout that must kill forked
 * sleepers); processes outlive their client, wait with a timeout,
 * survive TERM when they ignore it and die on KILL, read stdin until it
 * is closed, stay in their session, hold binary output, a 10 MB line and
 * `yes` in a bounded buffer, are held by the pids limit when they fork
 * bomb, and end with their container and their session.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define OUTPUT_CAP (1u << 20)   /* process_output_max_bytes (default) */
/* sbxd's growth while `yes` floods: its process buffer (1 MiB) and the
 * session's log ring (log_ring_bytes, 4 MiB) are bounded; allow slack for
 * allocator caches. An ASan build keeps freed memory in quarantine. */
#if defined(__SANITIZE_ADDRESS__)     /* gcc */
#define SBX_ASAN 1
#elif defined(__has_feature)        /* clang */
#if __has_feature(address_sanitizer)
#define SBX_ASAN 1
#endif
#endif
#ifdef SBX_ASAN
#define RSS_GROWTH_MAX_KB (1024 * 1024)
#else
#define RSS_GROWTH_MAX_KB (64 * 1024)
#endif

static struct sbxd_proc d;
static sbx_client *svc;
static sbx_session alice, bob;
static char *alice_token, *bob_token;

/* Runs cmd in sid; its stdout (static, overwritten by the next call). */
static const char *
run(const char *sid, const char *cmd)
{
	static char out[65536];

	(void)harness_exec_out(svc, sid, cmd, 60000, out, sizeof(out), NULL);
	return out;
}

/* How many processes of sid's container have cmdline starting with what. */
static int
count_procs(const char *sid, const char *what)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "cat /proc/[0-9]*/cmdline | tr '\\0' ' ' | "
	    "tr -s ' ' '\\n' | grep -c '^%s$' || true", what);
	return atoi(run(sid, cmd));
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Starts cmd in sid; its id into id (SBX_PROCESS_ID_MAX). */
static sbx_err
start(sbx_client *c, const char *sid, const char *cmd, char *id)
{
	sbx_process_opts o = { .command = cmd };
	sbx_process p;
	sbx_err rv;

	id[0] = '\0';
	if ((rv = sbx_process_start(c, sid, &o, &p)) != SBX_OK) {
		fprintf(stderr, "  start %s: %s: %s\n", cmd, sbx_err_name(rv), sbx_last_error(c));
		return rv;
	}
	snprintf(id, SBX_PROCESS_ID_MAX, "%s", p.process_id);
	sbx_process_fini(&p);
	return SBX_OK;
}

/* Waits for id to end; its state, exit code into *code. 0 (a failure)
 * when it still runs after WAIT_END_MS, far past anything these tests
 * need: a process that never ends fails the test instead of hanging it. */
#define WAIT_END_MS 120000
static sbx_process_state
wait_end(const char *sid, const char *id, int *code)
{
	sbx_process p;
	int to = 1;

	if (sbx_process_wait(svc, sid, id, WAIT_END_MS, &p, &to) != SBX_OK || to) {
		fprintf(stderr, "  wait %s: %s\n", id, to ? "still running" : sbx_last_error(svc));
		if (to)
			sbx_process_fini(&p);
		return 0;
	}
	if (code != NULL)
		*code = p.exit_code;
	sbx_process_state st = p.state;
	sbx_process_fini(&p);
	return st;
}

TEST(create_sessions)
{
	sbx_session_create_opts o = { .user_id = "alice" };

	REQUIRE_INT(sbx_session_create(svc, &o, &alice, &alice_token), SBX_OK);
	o.user_id = "bob";
	REQUIRE_INT(sbx_session_create(svc, &o, &bob, &bob_token), SBX_OK);
}

TEST(exec_stdin_is_echoed)
{
	static const char in[] = "hello\nworld\n";
	sbx_exec_opts o = { .command = "cat", .stdin_data = in, .stdin_len = sizeof(in) - 1 };
	sbx_exec_result r;

	REQUIRE_INT(sbx_exec(svc, alice.session_id, &o, &r), SBX_OK);
	CHECK_INT(r.exit_code, 0);
	CHECK_STR((char *)r.out.data, in);
	CHECK(!r.timed_out && !r.truncated);
	sbx_exec_result_fini(&r);
}

TEST(exec_stdin_one_mib)
{
	size_t n = 1u << 20;
	char *in = malloc(n);
	sbx_exec_opts o = { .command = "wc -c; echo err >&2", .stdin_len = n };
	sbx_exec_result r;

	REQUIRE(in != NULL);
	for (size_t i = 0; i < n; i++)
		in[i] = (char)(i * 7);
	o.stdin_data = in;
	REQUIRE_INT(sbx_exec(svc, alice.session_id, &o, &r), SBX_OK);
	CHECK_INT(r.exit_code, 0);
	CHECK_STR((char *)r.out.data, "1048576\n");
	CHECK_STR((char *)r.err.data, "err\n");
	sbx_exec_result_fini(&r);
	/* and every byte arrives as sent (output as large as the input) */
	o.command = "cat";
	o.max_output_bytes = n;
	REQUIRE_INT(sbx_exec(svc, alice.session_id, &o, &r), SBX_OK);
	CHECK_INT(r.out.len, n);
	CHECK(r.out.len == n && memcmp(r.out.data, in, n) == 0);
	sbx_exec_result_fini(&r);
	free(in);
}

TEST(exec_stdin_timeout_kills_the_tree)
{
	static const char in[] = "x";
	/* The timeout counts from before the exec is created: long enough for
	 * "xgot" on a loaded machine, far shorter than the sleeps. */
	sbx_exec_opts o = { .command = "sleep 1001 & (sleep 1001 &); cat; echo got; sleep 1001",
	    .timeout_ms = 10000, .stdin_data = in, .stdin_len = 1 };
	sbx_exec_result r;

	REQUIRE_INT(sbx_exec(svc, alice.session_id, &o, &r), SBX_OK);
	CHECK(r.timed_out);
	CHECK_INT(r.exit_code, 124);
	CHECK_STR((char *)r.out.data, "xgot\n");
	sbx_exec_result_fini(&r);
	CHECK_INT(count_procs(alice.session_id, "1001"), 0);
}

TEST(exec_stdin_ignored_by_the_command)
{
	/* the command exits without reading: the rest of stdin is dropped */
	size_t n = 4u << 20;
	char *in = calloc(1, n);
	sbx_exec_opts o = { .command = "echo early", .stdin_len = n };
	sbx_exec_result r;

	REQUIRE(in != NULL);
	o.stdin_data = in;
	REQUIRE_INT(sbx_exec(svc, alice.session_id, &o, &r), SBX_OK);
	CHECK_INT(r.exit_code, 0);
	CHECK_STR((char *)r.out.data, "early\n");
	sbx_exec_result_fini(&r);
	free(in);
}

TEST(process_outlives_its_client)
{
	char id[SBX_PROCESS_ID_MAX];
	sbx_client *c = harness_client(&d, alice_token);
	sbx_bytes out;
	sbx_process info;
	int code = -2;

	REQUIRE(c != NULL);
	REQUIRE_INT(start(c, alice.session_id, "echo one; sleep 2; echo two >&2", id), SBX_OK);
	CHECK(id[0] == 'p');
	sbx_client_close(c);            /* the client goes away */
	REQUIRE((c = harness_client(&d, alice_token)) != NULL);
	CHECK_INT(wait_end(alice.session_id, id, &code), SBX_PROCESS_EXITED);
	CHECK_INT(code, 0);
	REQUIRE_INT(sbx_process_read_output(c, alice.session_id, id, &out, &info), SBX_OK);
	CHECK_STR((char *)out.data, "one\ntwo\n");
	CHECK_INT(info.state, SBX_PROCESS_EXITED);
	CHECK(info.ended_unix_ms >= info.started_unix_ms && info.started_unix_ms > 0);
	CHECK_STR(info.command, "echo one; sleep 2; echo two >&2");
	sbx_process_fini(&info);
	sbx_free(out.data);
	/* only what is new since the last read */
	REQUIRE_INT(sbx_process_read_output(c, alice.session_id, id, &out, NULL), SBX_OK);
	CHECK_INT(out.len, 0);
	sbx_free(out.data);
	sbx_client_close(c);
}

TEST(wait_times_out_and_list_shows_it)
{
	char id[SBX_PROCESS_ID_MAX];
	sbx_process p, *v = NULL;
	size_t n = 0;
	int to = 0, found = 0;

	REQUIRE_INT(start(svc, alice.session_id, "sleep 1002", id), SBX_OK);
	REQUIRE_INT(sbx_process_wait(svc, alice.session_id, id, 300, &p, &to), SBX_OK);
	CHECK(to);
	CHECK_INT(p.state, SBX_PROCESS_RUNNING);
	CHECK(p.pid > 0);
	sbx_process_fini(&p);
	REQUIRE_INT(sbx_process_list(svc, alice.session_id, &v, &n), SBX_OK);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].process_id, id) == 0)
			found = v[i].state == SBX_PROCESS_RUNNING;
	CHECK(found);
	sbx_process_list_free(v, n);
	CHECK_INT(sbx_process_signal(svc, alice.session_id, id, SBX_SIGNAL_KILL, NULL), SBX_OK);
	CHECK_INT(wait_end(alice.session_id, id, NULL), SBX_PROCESS_KILLED);
	CHECK_INT(count_procs(alice.session_id, "1002"), 0);
}

TEST(term_ignored_kill_is_not)
{
	char id[SBX_PROCESS_ID_MAX];
	sbx_process p;
	unsigned hit = 0;
	int to = 0, code = 0;

	REQUIRE_INT(start(svc, alice.session_id, "trap '' TERM; echo ready; sleep 1003; echo after", id), SBX_OK);
	/* TERM only once the trap is set: wait for "ready" */
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS; harness_now_ms() < end;) {
		sbx_bytes out;

		REQUIRE_INT(sbx_process_read_output(svc, alice.session_id, id, &out, NULL), SBX_OK);
		int ready = out.len > 0;
		sbx_free(out.data);
		if (ready)
			break;
		nap_ms(50);
	}
	REQUIRE_INT(sbx_process_signal(svc, alice.session_id, id, SBX_SIGNAL_TERM, &hit), SBX_OK);
	CHECK_INT(hit, 1);
	REQUIRE_INT(sbx_process_wait(svc, alice.session_id, id, 1000, &p, &to), SBX_OK);
	CHECK(to);                          /* it survived TERM */
	CHECK_INT(p.state, SBX_PROCESS_RUNNING);
	sbx_process_fini(&p);
	CHECK_INT(count_procs(alice.session_id, "1003"), 1);
	REQUIRE_INT(sbx_process_signal(svc, alice.session_id, id, SBX_SIGNAL_KILL, &hit), SBX_OK);
	CHECK_INT(hit, 1);
	CHECK_INT(wait_end(alice.session_id, id, &code), SBX_PROCESS_KILLED);
	CHECK_INT(code, 137);
	CHECK_INT(count_procs(alice.session_id, "1003"), 0);
	/* signalling it again: it has ended */
	CHECK_INT(sbx_process_signal(svc, alice.session_id, id, SBX_SIGNAL_KILL, NULL),
	    SBX_FAILED_PRECONDITION);
}

TEST(stdin_to_a_process)
{
	char id[SBX_PROCESS_ID_MAX];
	sbx_bytes out;
	int code = -2;

	REQUIRE_INT(start(svc, alice.session_id, "cat; echo eof", id), SBX_OK);
	CHECK_INT(sbx_process_send_stdin(svc, alice.session_id, id, "abc\n", 4), SBX_OK);
	CHECK_INT(sbx_process_send_stdin(svc, alice.session_id, id, "\0\377", 2), SBX_OK);
	CHECK_INT(sbx_process_close_stdin(svc, alice.session_id, id), SBX_OK);
	CHECK_INT(wait_end(alice.session_id, id, &code), SBX_PROCESS_EXITED);
	CHECK_INT(code, 0);
	REQUIRE_INT(sbx_process_read_output(svc, alice.session_id, id, &out, NULL), SBX_OK);
	CHECK_INT(out.len, 10);
	CHECK(out.len == 10 && memcmp(out.data, "abc\n\0\377eof\n", 10) == 0);
	sbx_free(out.data);
	/* stdin to a finished process */
	CHECK_INT(sbx_process_send_stdin(svc, alice.session_id, id, "x", 1), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "ended");
	CHECK_INT(sbx_process_close_stdin(svc, alice.session_id, id), SBX_FAILED_PRECONDITION);
}

TEST(unknown_and_foreign_ids)
{
	char id[SBX_PROCESS_ID_MAX];
	sbx_client *b = harness_client(&d, bob_token);
	sbx_bytes out;

	REQUIRE(b != NULL);
	CHECK_INT(sbx_process_send_stdin(svc, alice.session_id, "p999999", "x", 1), SBX_NOT_FOUND);
	CHECK_CONTAINS(sbx_last_error(svc), "no process");
	CHECK_INT(sbx_process_read_output(svc, alice.session_id, "../x", &out, NULL),
	    SBX_INVALID_ARGUMENT);
	REQUIRE_INT(start(svc, alice.session_id, "sleep 1004", id), SBX_OK);
	/* bob's token on alice's session */
	CHECK_INT(sbx_process_signal(b, alice.session_id, id, SBX_SIGNAL_KILL, NULL),
	    SBX_PERMISSION_DENIED);
	CHECK_INT(sbx_process_read_output(b, alice.session_id, id, &out, NULL),
	    SBX_PERMISSION_DENIED);
	/* alice's process id in bob's session names nothing */
	CHECK_INT(sbx_process_signal(b, bob.session_id, id, SBX_SIGNAL_KILL, NULL), SBX_NOT_FOUND);
	CHECK_CONTAINS(sbx_last_error(b), "no process");
	CHECK_INT(sbx_process_signal(b, bob.session_id, NULL, SBX_SIGNAL_KILL, NULL), SBX_OK);
	CHECK(count_procs(alice.session_id, "1004") >= 1);   /* sh and sleep, or sleep */
	CHECK_INT(sbx_process_signal(svc, alice.session_id, id, SBX_SIGNAL_KILL, NULL), SBX_OK);
	CHECK_INT(wait_end(alice.session_id, id, NULL), SBX_PROCESS_KILLED);
	sbx_client_close(b);
}

TEST(binary_output_and_a_10mb_line)
{
	char id[SBX_PROCESS_ID_MAX];
	sbx_bytes out;
	int code = -2;

	REQUIRE_INT(start(svc, alice.session_id,
	    "head -c 10485760 /dev/zero | tr '\\0' a; printf '\\0\\001\\377'", id), SBX_OK);
	CHECK_INT(wait_end(alice.session_id, id, &code), SBX_PROCESS_EXITED);
	CHECK_INT(code, 0);
	REQUIRE_INT(sbx_process_read_output(svc, alice.session_id, id, &out, NULL), SBX_OK);
	/* the buffer keeps the newest OUTPUT_CAP bytes after a line saying so */
	CHECK(out.len > OUTPUT_CAP && out.len < OUTPUT_CAP + 200);
	CHECK(strncmp((char *)out.data, "[sbx: ", 6) == 0);
	CHECK_CONTAINS((char *)out.data, "bytes of output dropped");
	CHECK(out.len >= 3 && memcmp(out.data + out.len - 3, "\0\001\377", 3) == 0);
	CHECK(out.len >= 4 && out.data[out.len - 4] == 'a');
	sbx_free(out.data);
}

/* sbxd's resident memory in kB. */
static long
sbxd_rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)d.pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

TEST(yes_forever_is_bounded_and_killable)
{
	char id[SBX_PROCESS_ID_MAX];
	long rss0 = sbxd_rss_kb(), rss1;
	sbx_bytes out;

	REQUIRE_INT(start(svc, bob.session_id, "yes", id), SBX_OK);
	nap_ms(3000);
	/* Every read is bounded; read until one holds more than half the
	 * buffer (a slow machine may not have started `yes` in 3 s). */
	out.len = 0;
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	    out.len <= OUTPUT_CAP / 2 && harness_now_ms() < end;) {
		REQUIRE_INT(sbx_process_read_output(svc, bob.session_id, id, &out, NULL), SBX_OK);
		CHECK(out.len < OUTPUT_CAP + 200);
		sbx_free(out.data);
		if (out.len <= OUTPUT_CAP / 2)
			nap_ms(200);
	}
	CHECK(out.len > OUTPUT_CAP / 2 && out.len < OUTPUT_CAP + 200);
	/* the server answers others meanwhile */
	CHECK_STR(run(alice.session_id, "echo still here"), "still here\n");
	rss1 = sbxd_rss_kb();
	fprintf(stderr, "  sbxd rss %ld kB -> %ld kB while `yes` ran 3 s\n", rss0, rss1);
	CHECK(rss1 > 0 && rss1 - rss0 < RSS_GROWTH_MAX_KB);
	CHECK_INT(sbx_process_signal(svc, bob.session_id, id, SBX_SIGNAL_INT, NULL), SBX_OK);
	CHECK_INT(wait_end(bob.session_id, id, NULL), SBX_PROCESS_KILLED);
}

TEST(fork_bomb_is_held)
{
	char id[SBX_PROCESS_ID_MAX];
	sbx_process p;
	int to = 1;

	REQUIRE_INT(start(svc, bob.session_id, "b() { b | b & }; b; sleep 1005", id), SBX_OK);
	nap_ms(2000);
	/* other sessions go on */
	CHECK_STR(run(alice.session_id, "echo fine"), "fine\n");
	/* KILL until the whole group is gone (it forks while being killed) */
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS; to && harness_now_ms() < end;) {
		sbx_process_signal(svc, bob.session_id, id, SBX_SIGNAL_KILL, NULL);
		REQUIRE_INT(sbx_process_wait(svc, bob.session_id, id, 200, &p, &to), SBX_OK);
		sbx_process_fini(&p);
	}
	CHECK(!to);
	/* under gVisor the bomb takes the whole sandbox down (isolation.h:
	 * runsc's own threads count against the pids limit), so the process
	 * ends with its container and the next call starts it again */
	if (harness_isolation_conf()[0] != '\0')
		fprintf(stderr, "  gVisor: the fork bomb is expected to stop the session's container\n");
	/* what it left behind in its group is still reached through its id */
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS; harness_now_ms() < end; nap_ms(50))
		if (sbx_process_signal(svc, bob.session_id, id, SBX_SIGNAL_KILL, NULL) ==
		    SBX_FAILED_PRECONDITION)
			break;
	CHECK_INT(sbx_process_signal(svc, bob.session_id, id, SBX_SIGNAL_KILL, NULL),
	    SBX_FAILED_PRECONDITION);
	CHECK_STR(run(bob.session_id, "echo recovered"), "recovered\n");
}

TEST(leftover_children_are_reachable)
{
	char id[SBX_PROCESS_ID_MAX];
	unsigned hit = 0;

	REQUIRE_INT(start(svc, alice.session_id, "sleep 1010 >/dev/null 2>&1 & echo started", id),
	    SBX_OK);
	CHECK_INT(wait_end(alice.session_id, id, NULL), SBX_PROCESS_EXITED);
	CHECK_INT(count_procs(alice.session_id, "1010"), 1);   /* left behind */
	CHECK_INT(sbx_process_signal(svc, alice.session_id, id, SBX_SIGNAL_KILL, &hit), SBX_OK);
	CHECK_INT(hit, 1);
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	    count_procs(alice.session_id, "1010") > 0 && harness_now_ms() < end;)
		nap_ms(50);
	CHECK_INT(count_procs(alice.session_id, "1010"), 0);
}

TEST(per_session_ceiling)
{
	char ids[4][SBX_PROCESS_ID_MAX], id[SBX_PROCESS_ID_MAX], extra[SBX_PROCESS_ID_MAX];
	unsigned hit = 0;
	int i;

	for (i = 0; i < 4; i++)
		REQUIRE_INT(start(svc, bob.session_id, "sleep 1006", ids[i]), SBX_OK);
	CHECK_INT(start(svc, bob.session_id, "sleep 1006", extra), SBX_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(sbx_last_error(svc), "max_processes_per_session");
	CHECK_INT(sbx_process_signal(svc, bob.session_id, NULL, SBX_SIGNAL_KILL, &hit), SBX_OK);
	CHECK_INT(hit, 4);
	/* room again once they ended: each of the four, not just the last */
	for (i = 0; i < 4; i++)
		CHECK_INT(wait_end(bob.session_id, ids[i], NULL), SBX_PROCESS_KILLED);
	CHECK_INT(start(svc, bob.session_id, "true", id), SBX_OK);
	CHECK_INT(wait_end(bob.session_id, id, NULL), SBX_PROCESS_EXITED);
}

TEST(container_death_ends_processes)
{
	char id[SBX_PROCESS_ID_MAX], cmd[256];
	sbx_exec_result r;
	sbx_exec_opts o = { .command = "echo back" };
	sbx_session s;
	sbx_session_create_opts co = { .user_id = "carol" };
	int code = 0;

	REQUIRE_INT(sbx_session_create(svc, &co, &s, NULL), SBX_OK);
	REQUIRE_INT(start(svc, s.session_id, "sleep 1007", id), SBX_OK);
	snprintf(cmd, sizeof(cmd), "docker kill %s >/dev/null", s.container_id);
	REQUIRE_INT(system(cmd), 0);
	CHECK_INT(wait_end(s.session_id, id, &code), SBX_PROCESS_KILLED);
	CHECK_INT(code, 137);
	/* a process started now meets a dead container: it is started again */
	CHECK_INT(start(svc, s.session_id, "echo hi", id), SBX_OK);
	if (id[0] != '\0')
		CHECK_INT(wait_end(s.session_id, id, NULL), SBX_PROCESS_EXITED);
	/* and Execute with stdin after another death */
	REQUIRE_INT(system(cmd), 0);
	o.stdin_data = "x";
	o.stdin_len = 1;
	REQUIRE_INT(sbx_exec(svc, s.session_id, &o, &r), SBX_OK);
	CHECK_STR((char *)r.out.data, "back\n");
	sbx_exec_result_fini(&r);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
}

/* An ended process's group is reached by its id only within the run of
 * the container it ran in: a restarted container deals its pids out
 * again, so the first process of the new run usually has the pid, and
 * group, the first of the old run had, and a signal meant for what the
 * old one left behind must not kill it. */
TEST(signal_after_restart_reaches_no_stranger)
{
	char old[SBX_PROCESS_ID_MAX], cmd[256];
	sbx_process_opts po = { .command = "true" };
	sbx_session_create_opts co = { .user_id = "gina" };
	sbx_process p, q[4];
	sbx_session s;
	unsigned hit = 7;
	int64_t pid = 0;
	int i, same = -1, to = 1;

	REQUIRE_INT(sbx_session_create(svc, &co, &s, NULL), SBX_OK);
	REQUIRE_INT(sbx_process_start(svc, s.session_id, &po, &p), SBX_OK);
	snprintf(old, sizeof(old), "%s", p.process_id);
	sbx_process_fini(&p);
	REQUIRE_INT(sbx_process_wait(svc, s.session_id, old, WAIT_END_MS, &p, &to), SBX_OK);
	CHECK(!to);
	CHECK_INT(p.state, SBX_PROCESS_EXITED);
	pid = p.pid;
	sbx_process_fini(&p);
	snprintf(cmd, sizeof(cmd), "docker kill %s >/dev/null", s.container_id);
	REQUIRE_INT(system(cmd), 0);
	/* pids are dealt out in order: use them up to a little below p's,
	 * then four sleeps (the session's ceiling) likely take p's pid */
	for (i = 0; i < 64 && atoll(run(s.session_id, "echo $$")) < pid - 3; i++)
		;
	po.command = "sleep 1011";
	for (i = 0; i < 4; i++) {
		REQUIRE_INT(sbx_process_start(svc, s.session_id, &po, &q[i]), SBX_OK);
		if (q[i].pid == pid)
			same = i;
	}
	fprintf(stderr, "  pid %lld before the restart, %lld..%lld after%s\n", (long long)pid,
	    (long long)q[0].pid, (long long)q[3].pid, same >= 0 ? " (one has its group)" : "");
	CHECK_INT(sbx_process_signal(svc, s.session_id, old, SBX_SIGNAL_KILL, &hit),
	    SBX_FAILED_PRECONDITION);
	CHECK_INT(hit, 0);
	hit = 7;
	CHECK_INT(sbx_process_signal(svc, s.session_id, NULL, SBX_SIGNAL_TERM, &hit), SBX_OK);
	CHECK_INT(hit, 4);   /* the sleeps, and not one of them again for the old id */
	for (i = 0; i < 4; i++) {
		CHECK_INT(wait_end(s.session_id, q[i].process_id, NULL), SBX_PROCESS_KILLED);
		sbx_process_fini(&q[i]);
	}
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
}

TEST(oom_kill_is_reported)
{
	char id[SBX_PROCESS_ID_MAX];
	sbx_session s;
	sbx_session_create_opts co = { .user_id = "frank",
	    .limits = { .memory_bytes = 64u << 20 } };
	int code = 0;

	REQUIRE_INT(sbx_session_create(svc, &co, &s, NULL), SBX_OK);
	REQUIRE_INT(start(svc, s.session_id,
	    "python3 -c 'b = bytearray(512 << 20); print(len(b))'", id), SBX_OK);
	CHECK_INT(wait_end(s.session_id, id, &code), SBX_PROCESS_KILLED);
	CHECK_INT(code, 137);
	CHECK_STR(run(s.session_id, "echo alive"), "alive\n");   /* the session goes on */
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
}

TEST(session_end_ends_processes)
{
	char id[SBX_PROCESS_ID_MAX];
	sbx_process *v = NULL;
	sbx_session s;
	sbx_session_create_opts co = { .user_id = "dave" };
	size_t n = 9;

	REQUIRE_INT(sbx_session_create(svc, &co, &s, NULL), SBX_OK);
	REQUIRE_INT(start(svc, s.session_id, "sleep 1008", id), SBX_OK);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	if (sbx_process_list(svc, s.session_id, &v, &n) == SBX_OK)
		CHECK_INT(n, 0);
	sbx_process_list_free(v, n);
	sbx_session_fini(&s);
}

TEST(running_process_keeps_the_session_awake)
{
	char id[SBX_PROCESS_ID_MAX];
	sbx_session s, ctl, g;
	sbx_session_create_opts co = { .user_id = "erin", .idle_timeout_ms = 1000 };
	sbx_session_create_opts cc = { .user_id = "erin-control", .idle_timeout_ms = 1000 };

	REQUIRE_INT(sbx_session_create(svc, &co, &s, NULL), SBX_OK);
	REQUIRE_INT(start(svc, s.session_id, "sleep 1009", id), SBX_OK);
	/* Past the idle timeout and a reap that considered s: an idle session
	 * made after it, with the same timeout, has been reaped (the reaper
	 * visits the least recently active first). */
	REQUIRE_INT(sbx_session_create(svc, &cc, &ctl, NULL), SBX_OK);
	CHECK_INT(harness_wait_session_state(svc, ctl.session_id, SBX_SESSION_STOPPED),
	    SBX_SESSION_STOPPED);
	sbx_session_end(svc, ctl.session_id, 1);
	sbx_session_fini(&ctl);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	CHECK_INT(g.state, SBX_SESSION_RUNNING);
	sbx_session_fini(&g);
	CHECK_INT(sbx_process_signal(svc, s.session_id, id, SBX_SIGNAL_KILL, NULL), SBX_OK);
	CHECK_INT(wait_end(s.session_id, id, NULL), SBX_PROCESS_KILLED);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
}

int
main(void)
{
	if (!harness_image_ready())
		return 1;
	if (harness_start(&d, "max_processes_per_session = 4\nreap_interval = 500ms\n") != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(create_sessions);
	if (t_failures == 0) {
		RUN(exec_stdin_is_echoed);
		RUN(exec_stdin_one_mib);
		RUN(exec_stdin_timeout_kills_the_tree);
		RUN(exec_stdin_ignored_by_the_command);
		RUN(process_outlives_its_client);
		RUN(wait_times_out_and_list_shows_it);
		RUN(term_ignored_kill_is_not);
		RUN(stdin_to_a_process);
		RUN(unknown_and_foreign_ids);
		RUN(binary_output_and_a_10mb_line);
		RUN(yes_forever_is_bounded_and_killable);
		RUN(fork_bomb_is_held);
		RUN(leftover_children_are_reachable);
		RUN(per_session_ceiling);
		RUN(container_death_ends_processes);
		RUN(signal_after_restart_reaches_no_stranger);
		RUN(oom_kill_is_reported);
		RUN(session_end_ends_processes);
		RUN(running_process_keeps_the_session_awake);
	}
	sbx_session_end(svc, alice.session_id, 1);
	sbx_session_end(svc, bob.session_id, 1);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	sbx_session_fini(&alice);
	sbx_session_fini(&bob);
	sbx_free(alice_token);
	sbx_free(bob_token);
	T_DONE();
}
