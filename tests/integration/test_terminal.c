/*
 * test_terminal.c — interactive terminals for real: a real sbxd, real
 * containers on the real Docker engine, the real sbx-agent giving each
 * terminal a pty. A shell echoes what is typed and its output arrives on
 * the session's log stream under the terminal's id; `stty size` sees the
 * size asked for and a resize; a full-screen (curses) program draws its
 * screen and exits cleanly; a subscriber that disconnects and comes back
 * from its last seq gets exactly the bytes it missed; two users'
 * terminals never cross; env and cwd reach the program, and one that puts
 * the terminal in raw mode gets every byte value through unchanged; input
 * to a closed terminal, unknown ids and absurd sizes are clear errors; a
 * fork bomb inside a terminal stays under the pids limit and CloseTerminal
 * ends every process of it; typing is activity (CleanupIdle passes a
 * session typed into by). With
 * `agent = no` (SBX_TEST_AGENT=off) OpenTerminal is FAILED_PRECONDITION.
 * Every wait is for an event, bounded by HARNESS_WAIT_MS as a safety net.
 */
#define _GNU_SOURCE		/* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

/* a full-screen program the python-minimal image has: curses */
#define CURSES_APP "import curses\n" \
	"def main(w):\n" \
	"    h, c = w.getmaxyx()\n" \
	"    w.addstr(h // 2, 2, 'SBX-FULLSCREEN %dx%d' % (c, h))\n" \
	"    w.refresh()\n" \
	"    while w.getch() != ord('q'):\n" \
	"        pass\n" \
	"curses.wrapper(main)\n"
#define COUNT_PROCS "ls -d /proc/[0-9]* | wc -l"

static struct sbxd_proc d;
static sbx_client *svc, *ca, *cb;
static sbx_session alice, bob;
static char *tok_a, *tok_b;

/* What a subscription saw of one terminal. */
struct tbuf {
	char *p;
	size_t len;
	uint64_t last_seq;          /* of any event */
	uint64_t lost;
	int ended;                  /* its end event came */
};

static void
tbuf_fini(struct tbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int
tbuf_has(const struct tbuf *b, const char *needle)
{
	return b->p != NULL && memmem(b->p, b->len, needle, strlen(needle)) != NULL;
}

/* Takes events of sub into b until b holds needle (or, needle NULL, the
 * terminal's end came); 0 then, -1 after HARNESS_WAIT_MS. */
static int
collect(sbx_logs_sub *sub, const char *tid, struct tbuf *b, const char *needle)
{
	uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	sbx_log_event ev;

	while (needle != NULL ? !tbuf_has(b, needle) : !b->ended) {
		if (harness_now_ms() >= end)
			return -1;
		if (sbx_logs_next(sub, &ev, 1000) != SBX_OK)
			continue;
		b->last_seq = ev.seq;
		b->lost += ev.lost;
		if (strcmp(ev.process_id, tid) == 0 && ev.stream == SBX_STREAM_TERMINAL) {
			b->p = realloc(b->p, b->len + ev.len + 1);
			memcpy(b->p + b->len, ev.data, ev.len);
			b->len += ev.len;
			b->p[b->len] = '\0';
		} else if (strcmp(ev.process_id, tid) == 0 && ev.stream == SBX_STREAM_SYSTEM &&
		    strstr((char *)ev.data, "terminal ") != NULL &&
		    strstr((char *)ev.data, "started") == NULL)
			b->ended = 1;
		sbx_log_event_fini(&ev);
	}
	return 0;
}

static sbx_logs_sub *
follow(sbx_client *c, const char *sid, uint64_t after)
{
	sbx_logs_opts o = { .after_seq = after, .queue_events = 4096 };
	sbx_logs_sub *sub = NULL;

	if (sbx_logs_subscribe_opts(c, sid, &o, &sub) != SBX_OK)
		fprintf(stderr, "  subscribe: %s\n", sbx_last_error(c));
	return sub;
}

static sbx_err
open_term(sbx_client *c, const char *sid, const char *const *argv, size_t argc,
    uint32_t cols, uint32_t rows, sbx_terminal *t)
{
	sbx_terminal_opts o = { .argv = argv, .argc = argc, .cols = cols, .rows = rows };
	sbx_err rv = sbx_terminal_open(c, sid, &o, t);

	if (rv != SBX_OK)
		fprintf(stderr, "  open terminal: %s: %s\n", sbx_err_name(rv), sbx_last_error(c));
	return rv;
}

static sbx_err
type(sbx_client *c, const char *sid, const char *tid, const char *s)
{
	sbx_err rv = sbx_terminal_input(c, sid, tid, s, strlen(s));

	if (rv != SBX_OK)
		fprintf(stderr, "  input: %s: %s\n", sbx_err_name(rv), sbx_last_error(c));
	return rv;
}

/* The count `cmd` prints in sid, -1 when it could not run. */
static long
count(const char *sid, const char *cmd)
{
	sbx_exec_opts o = { .command = cmd, .timeout_ms = 60000 };
	sbx_exec_result r;
	long n = -1;

	if (sbx_exec(svc, sid, &o, &r) != SBX_OK)
		return -1;
	if (r.exit_code == 0 && r.out.data != NULL)
		n = atol((char *)r.out.data);
	sbx_exec_result_fini(&r);
	return n;
}

TEST(create_sessions)
{
	sbx_session_create_opts oa = { .user_id = "term-a" }, ob = { .user_id = "term-b" };

	REQUIRE_INT(sbx_session_create(svc, &oa, &alice, &tok_a), SBX_OK);
	REQUIRE_INT(sbx_session_create(svc, &ob, &bob, &tok_b), SBX_OK);
	REQUIRE((ca = harness_client(&d, tok_a)) != NULL);
	REQUIRE((cb = harness_client(&d, tok_b)) != NULL);
}

TEST(shell_echoes_and_sees_its_size)
{
	sbx_terminal t, fin;
	struct tbuf b = { 0 };
	sbx_logs_sub *sub;

	REQUIRE_INT(open_term(ca, alice.session_id, NULL, 0, 80, 24, &t), SBX_OK);
	CHECK(t.running);
	CHECK(t.pid > 0);
	REQUIRE((sub = follow(ca, alice.session_id, t.after_seq)) != NULL);
	CHECK_INT(type(ca, alice.session_id, t.terminal_id,
	    "tty; stty size; echo hi-$((6*7))\r"), SBX_OK);
	CHECK_INT(collect(sub, t.terminal_id, &b, "hi-42"), 0);
	CHECK(tbuf_has(&b, "/dev/pts/"));
	CHECK(tbuf_has(&b, "24 80"));
	CHECK_INT(sbx_terminal_resize(ca, alice.session_id, t.terminal_id, 132, 50), SBX_OK);
	CHECK_INT(type(ca, alice.session_id, t.terminal_id, "stty size; echo sz-$((6*7))\r"),
	    SBX_OK);
	CHECK_INT(collect(sub, t.terminal_id, &b, "sz-42"), 0);
	CHECK(tbuf_has(&b, "50 132"));
	CHECK_INT(type(ca, alice.session_id, t.terminal_id, "exit 3\r"), SBX_OK);
	CHECK_INT(collect(sub, t.terminal_id, &b, NULL), 0);
	/* ended: input is a clear error, closing it is fine */
	CHECK_INT(sbx_terminal_input(ca, alice.session_id, t.terminal_id, "x", 1),
	    SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(ca), "exited");
	CHECK_INT(sbx_terminal_close(ca, alice.session_id, t.terminal_id, &fin), SBX_OK);
	CHECK(!fin.running);
	CHECK_INT(fin.exit_code, 3);
	sbx_terminal_fini(&fin);
	sbx_logs_unsubscribe(sub);
	tbuf_fini(&b);
	sbx_terminal_fini(&t);
}

TEST(full_screen_program)
{
	const char *argv[] = { "python3", "-c", CURSES_APP };
	struct tbuf b = { 0 };
	sbx_logs_sub *sub;
	sbx_terminal t, fin;

	REQUIRE_INT(open_term(ca, alice.session_id, argv, 3, 100, 30, &t), SBX_OK);
	REQUIRE((sub = follow(ca, alice.session_id, t.after_seq)) != NULL);
	CHECK_INT(collect(sub, t.terminal_id, &b, "SBX-FULLSCREEN 100x30"), 0);
	CHECK(tbuf_has(&b, "\x1b[?1049h"));    /* the alternate screen */
	CHECK_INT(type(ca, alice.session_id, t.terminal_id, "q"), SBX_OK);
	CHECK_INT(collect(sub, t.terminal_id, &b, NULL), 0);
	CHECK(tbuf_has(&b, "\x1b[?1049l"));    /* left cleanly */
	CHECK_INT(sbx_terminal_close(ca, alice.session_id, t.terminal_id, &fin), SBX_OK);
	CHECK_INT(fin.exit_code, 0);
	sbx_terminal_fini(&fin);
	sbx_logs_unsubscribe(sub);
	tbuf_fini(&b);
	sbx_terminal_fini(&t);
}

/* env and cwd reach the terminal's program; a program that puts the
 * terminal in raw mode and writes every byte value gets them through
 * unchanged, and the terminal ends normally. */
#define RAW_APP "import sys, tty\n" \
	"tty.setraw(1)\n" \
	"sys.stdout.buffer.write(b'<raw>' + bytes(range(256)) * 64 + b'</raw>')\n" \
	"sys.stdout.flush()\n"
TEST(env_cwd_and_raw_binary_output)
{
	const char *envp[] = { "SBX_T_FOO=bar-42" };
	const char *argv[] = { "sh", "-c", "echo \"$SBX_T_FOO\" \"$(pwd)\"; exec python3 -c \"$0\"",
	    RAW_APP };
	sbx_terminal_opts o = { .argv = argv, .argc = 4, .cols = 80, .rows = 24, .env = envp,
	    .n_env = 1, .cwd = "/tmp" };
	unsigned char want[256 * 64 + 11];
	struct tbuf b = { 0 };
	sbx_logs_sub *sub;
	sbx_terminal t, fin;

	memcpy(want, "<raw>", 5);
	for (int i = 0; i < 256 * 64; i++)
		want[5 + i] = (unsigned char)i;
	memcpy(want + 5 + 256 * 64, "</raw>", 6);
	REQUIRE_INT(sbx_terminal_open(ca, alice.session_id, &o, &t), SBX_OK);
	REQUIRE((sub = follow(ca, alice.session_id, t.after_seq)) != NULL);
	CHECK_INT(collect(sub, t.terminal_id, &b, NULL), 0);
	CHECK(tbuf_has(&b, "bar-42 /tmp"));
	CHECK(b.p != NULL && memmem(b.p, b.len, want, sizeof(want)) != NULL);
	CHECK_INT(sbx_terminal_close(ca, alice.session_id, t.terminal_id, &fin), SBX_OK);
	CHECK_INT(fin.exit_code, 0);
	sbx_terminal_fini(&fin);
	sbx_logs_unsubscribe(sub);
	tbuf_fini(&b);
	sbx_terminal_fini(&t);
}

TEST(replay_after_a_disconnect_gives_exactly_what_was_missed)
{
	struct tbuf all = { 0 }, before = { 0 }, after = { 0 };
	sbx_logs_sub *whole, *sub;
	sbx_terminal t;

	REQUIRE_INT(open_term(ca, alice.session_id, NULL, 0, 80, 24, &t), SBX_OK);
	REQUIRE((whole = follow(ca, alice.session_id, t.after_seq)) != NULL);
	REQUIRE((sub = follow(ca, alice.session_id, t.after_seq)) != NULL);
	CHECK_INT(type(ca, alice.session_id, t.terminal_id, "echo one-$((1+1))\r"), SBX_OK);
	CHECK_INT(collect(sub, t.terminal_id, &before, "one-2"), 0);
	sbx_logs_unsubscribe(sub);
	/* missed while away */
	CHECK_INT(type(ca, alice.session_id, t.terminal_id,
	    "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; echo two-$((2+2))\r"),
	    SBX_OK);
	CHECK_INT(collect(whole, t.terminal_id, &all, "two-4"), 0);
	REQUIRE((sub = follow(ca, alice.session_id, before.last_seq)) != NULL);
	CHECK_INT(collect(sub, t.terminal_id, &after, "two-4"), 0);
	CHECK_INT(before.lost + after.lost + all.lost, 0);
	CHECK_INT(before.len + after.len, all.len);
	CHECK(all.len == before.len + after.len && memcmp(all.p, before.p, before.len) == 0 &&
	    memcmp(all.p + before.len, after.p, after.len) == 0);
	CHECK(tbuf_has(&after, "line-299"));
	CHECK_INT(sbx_terminal_close(ca, alice.session_id, t.terminal_id, NULL), SBX_OK);
	sbx_logs_unsubscribe(sub);
	sbx_logs_unsubscribe(whole);
	tbuf_fini(&all);
	tbuf_fini(&before);
	tbuf_fini(&after);
	sbx_terminal_fini(&t);
}

TEST(two_users_terminals_never_cross)
{
	struct tbuf ba = { 0 }, bb = { 0 };
	sbx_logs_sub *sa, *sb;
	sbx_terminal ta, tb;

	REQUIRE_INT(open_term(ca, alice.session_id, NULL, 0, 80, 24, &ta), SBX_OK);
	REQUIRE_INT(open_term(cb, bob.session_id, NULL, 0, 80, 24, &tb), SBX_OK);
	CHECK(strcmp(ta.terminal_id, tb.terminal_id) != 0);
	REQUIRE((sa = follow(ca, alice.session_id, ta.after_seq)) != NULL);
	REQUIRE((sb = follow(cb, bob.session_id, tb.after_seq)) != NULL);
	/* bob's credential reaches nothing of alice's terminal */
	CHECK_INT(sbx_terminal_input(cb, alice.session_id, ta.terminal_id, "x", 1),
	    SBX_PERMISSION_DENIED);
	CHECK_INT(sbx_terminal_input(cb, bob.session_id, ta.terminal_id, "x", 1),
	    SBX_NOT_FOUND);
	CHECK_INT(sbx_terminal_resize(cb, bob.session_id, ta.terminal_id, 10, 10),
	    SBX_NOT_FOUND);
	CHECK_INT(sbx_terminal_close(cb, bob.session_id, ta.terminal_id, NULL), SBX_NOT_FOUND);
	CHECK_INT(type(ca, alice.session_id, ta.terminal_id, "echo alice-$((3*3)); whoami\r"),
	    SBX_OK);
	CHECK_INT(type(cb, bob.session_id, tb.terminal_id, "echo bob-$((4*4))\r"), SBX_OK);
	CHECK_INT(collect(sa, ta.terminal_id, &ba, "alice-9"), 0);
	CHECK_INT(collect(sb, tb.terminal_id, &bb, "bob-16"), 0);
	CHECK(!tbuf_has(&ba, "bob-16"));
	CHECK(!tbuf_has(&bb, "alice-9"));
	/* bob's stream carries nothing under alice's terminal id */
	CHECK_INT(type(cb, bob.session_id, tb.terminal_id, "echo bob2-$((4*4))\r"), SBX_OK);
	CHECK_INT(collect(sb, tb.terminal_id, &bb, "bob2-16"), 0);
	CHECK(!tbuf_has(&bb, "alice-9"));
	CHECK_INT(sbx_terminal_close(ca, alice.session_id, ta.terminal_id, NULL), SBX_OK);
	CHECK_INT(sbx_terminal_close(cb, bob.session_id, tb.terminal_id, NULL), SBX_OK);
	sbx_logs_unsubscribe(sa);
	sbx_logs_unsubscribe(sb);
	tbuf_fini(&ba);
	tbuf_fini(&bb);
	sbx_terminal_fini(&ta);
	sbx_terminal_fini(&tb);
}

TEST(bad_input_is_a_clear_error)
{
	sbx_terminal t;
	sbx_terminal *v = NULL;
	size_t n = 0;
	char big[70000];

	CHECK_INT(open_term(ca, alice.session_id, NULL, 0, 0, 0, &t), SBX_OK);   /* 0: 80x24 */
	CHECK_INT(t.cols, 80);
	CHECK_INT(sbx_terminal_resize(ca, alice.session_id, t.terminal_id, 0, 0),
	    SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_terminal_resize(ca, alice.session_id, t.terminal_id, 100000, 24),
	    SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_terminal_resize(ca, alice.session_id, t.terminal_id, 80, 501),
	    SBX_INVALID_ARGUMENT);
	memset(big, 'x', sizeof(big));
	CHECK_INT(sbx_terminal_input(ca, alice.session_id, t.terminal_id, big, sizeof(big)),
	    SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_terminal_input(ca, alice.session_id, "t999999", "x", 1), SBX_NOT_FOUND);
	CHECK_INT(sbx_terminal_input(ca, alice.session_id, "../x", "x", 1),
	    SBX_INVALID_ARGUMENT);
	{
		sbx_terminal_opts o = { .cols = 100000, .rows = 24 };
		sbx_terminal u;

		CHECK_INT(sbx_terminal_open(ca, alice.session_id, &o, &u), SBX_INVALID_ARGUMENT);
		CHECK_CONTAINS(sbx_last_error(ca), "1..1000");
	}
	{
		const char *argv[] = { "/nonexistent/prog" };
		sbx_terminal u;
		struct tbuf b = { 0 };
		sbx_logs_sub *sub;

		/* exec fails in the child: the terminal says so and exits 127 */
		REQUIRE_INT(open_term(ca, alice.session_id, argv, 1, 80, 24, &u), SBX_OK);
		REQUIRE((sub = follow(ca, alice.session_id, u.after_seq)) != NULL);
		CHECK_INT(collect(sub, u.terminal_id, &b, NULL), 0);
		CHECK(tbuf_has(&b, "No such file"));
		sbx_logs_unsubscribe(sub);
		tbuf_fini(&b);
		sbx_terminal_fini(&u);
	}
	CHECK_INT(sbx_terminal_close(ca, alice.session_id, t.terminal_id, NULL), SBX_OK);
	CHECK_INT(sbx_terminal_list(ca, alice.session_id, &v, &n), SBX_OK);
	CHECK(n >= 2);
	for (size_t i = 0; i < n; i++)
		CHECK(!v[i].running);
	sbx_terminal_list_free(v, n);
	sbx_terminal_fini(&t);
}

TEST(terminals_are_bounded_per_session)
{
	sbx_terminal t[9];
	int opened = 0;

	for (; opened < 8; opened++)
		if (open_term(cb, bob.session_id, NULL, 0, 80, 24, &t[opened]) != SBX_OK)
			break;
	CHECK_INT(opened, 8);
	CHECK_INT(sbx_terminal_open(cb, bob.session_id, NULL, &t[8]), SBX_RESOURCE_EXHAUSTED);
	for (int i = 0; i < opened; i++) {
		CHECK_INT(sbx_terminal_close(cb, bob.session_id, t[i].terminal_id, NULL), SBX_OK);
		sbx_terminal_fini(&t[i]);
	}
	CHECK_INT(sbx_terminal_open(cb, bob.session_id, NULL, &t[0]), SBX_OK);
	CHECK_INT(sbx_terminal_close(cb, bob.session_id, t[0].terminal_id, NULL), SBX_OK);
	sbx_terminal_fini(&t[0]);
}

TEST(fork_bomb_stays_bounded_and_close_ends_it)
{
	struct tbuf b = { 0 };
	sbx_terminal t, fin;
	sbx_logs_sub *sub;
	long base, n = -1;
	uint64_t t0;

	REQUIRE((base = count(bob.session_id, COUNT_PROCS)) > 0);
	REQUIRE_INT(open_term(cb, bob.session_id, NULL, 0, 80, 24, &t), SBX_OK);
	REQUIRE((sub = follow(cb, bob.session_id, t.after_seq)) != NULL);
	CHECK_INT(type(cb, bob.session_id, t.terminal_id, "b(){ b|b & }; b\r"), SBX_OK);
	/* the bomb reaches the session's pids limit: its forks fail */
	CHECK_INT(collect(sub, t.terminal_id, &b, "fork"), 0);
	t0 = harness_now_ms();
	CHECK_INT(sbx_terminal_close(cb, bob.session_id, t.terminal_id, &fin), SBX_OK);
	fprintf(stderr, "  close took %llu ms\n", (unsigned long long)(harness_now_ms() - t0));
	CHECK(!fin.running);
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS; harness_now_ms() < end;) {
		if ((n = count(bob.session_id, COUNT_PROCS)) >= 0 && n <= base)
			break;
		usleep(50000);
	}
	fprintf(stderr, "  processes: %ld before, %ld after the close\n", base, n);
	CHECK(n >= 0 && n <= base);
	sbx_logs_unsubscribe(sub);
	tbuf_fini(&b);
	sbx_terminal_fini(&fin);
	sbx_terminal_fini(&t);
}

TEST(terminals_end_with_their_session)
{
	sbx_session_create_opts o = { .user_id = "term-end" };
	sbx_session s;
	sbx_terminal t;
	sbx_terminal *v = NULL;
	size_t n = 0;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	REQUIRE_INT(open_term(svc, s.session_id, NULL, 0, 80, 24, &t), SBX_OK);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	CHECK_INT(sbx_terminal_input(svc, s.session_id, t.terminal_id, "x", 1), SBX_NOT_FOUND);
	if (sbx_terminal_list(svc, s.session_id, &v, &n) == SBX_OK)
		CHECK_INT(n, 0);
	sbx_terminal_list_free(v, n);
	sbx_terminal_fini(&t);
	sbx_session_fini(&s);
}

/* The session's last activity, -1 when GetSession failed. */
static int64_t
idle_ms(const char *sid)
{
	sbx_session g;
	int64_t idle = -1;
	struct timespec ts;

	if (sbx_session_get(svc, sid, &g) != SBX_OK)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	idle = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - (int64_t)g.last_active_unix_ms;
	sbx_session_fini(&g);
	return idle;
}

/* Typing into a terminal is activity: once both sessions have been idle
 * for a while (each with a terminal open, nobody reading its log, since a
 * log call is activity too), the one typed into is passed by CleanupIdle
 * and the quiet one is stopped. */
TEST(typing_is_activity_for_the_idle_reaper)
{
	sbx_session_create_opts ot = { .user_id = "term-typing" }, oq = { .user_id = "term-quiet" };
	const char *users[] = { "term-typing", "term-quiet" };
	sbx_cleanup_opts co = { .max_idle_ms = 2000, .user_ids = users, .n_user_ids = 2 };
	sbx_session ty, qu, got;
	sbx_terminal t1, t2;
	char **ids = NULL;
	size_t n = 0;
	uint64_t end;

	REQUIRE_INT(sbx_session_create(svc, &ot, &ty, NULL), SBX_OK);
	REQUIRE_INT(sbx_session_create(svc, &oq, &qu, NULL), SBX_OK);
	REQUIRE_INT(open_term(svc, ty.session_id, NULL, 0, 80, 24, &t1), SBX_OK);
	REQUIRE_INT(open_term(svc, qu.session_id, NULL, 0, 80, 24, &t2), SBX_OK);
	/* both idle past the cleanup's bound (GetSession is no activity) */
	for (end = harness_now_ms() + HARNESS_WAIT_MS; harness_now_ms() < end;) {
		if (idle_ms(ty.session_id) > 2500 && idle_ms(qu.session_id) > 2500)
			break;
		usleep(100000);
	}
	CHECK(idle_ms(ty.session_id) > 2500 && idle_ms(qu.session_id) > 2500);
	CHECK_INT(type(svc, ty.session_id, t1.terminal_id, "echo awake\r"), SBX_OK);
	CHECK(idle_ms(ty.session_id) < 2000);
	REQUIRE_INT(sbx_session_cleanup_idle_scoped(svc, &co, &ids, &n), SBX_OK);
	CHECK_INT(n, 1);
	CHECK(n == 1 && strcmp(ids[0], qu.session_id) == 0);
	sbx_string_list_free(ids, n);
	REQUIRE_INT(sbx_session_get(svc, ty.session_id, &got), SBX_OK);
	CHECK_INT(got.state, SBX_SESSION_RUNNING);
	sbx_session_fini(&got);
	REQUIRE_INT(sbx_session_get(svc, qu.session_id, &got), SBX_OK);
	CHECK_INT(got.state, SBX_SESSION_STOPPED);
	CHECK_STR(got.stop_reason, "idle");
	sbx_session_fini(&got);
	CHECK_INT(sbx_session_end(svc, ty.session_id, 1), SBX_OK);
	CHECK_INT(sbx_session_end(svc, qu.session_id, 1), SBX_OK);
	sbx_terminal_fini(&t1);
	sbx_terminal_fini(&t2);
	sbx_session_fini(&ty);
	sbx_session_fini(&qu);
}

TEST(without_an_agent_it_is_a_clear_error)
{
	sbx_session_create_opts o = { .user_id = "term-noagent" };
	sbx_session s;
	sbx_terminal t;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	CHECK_INT(sbx_terminal_open(svc, s.session_id, NULL, &t), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "agent");
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
}

int
main(void)
{
	int agent = harness_agent_conf()[0] == '\0';

	if (!harness_image_ready())
		return 1;
	if (harness_start(&d, harness_agent_conf()) != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	if (!agent)
		RUN(without_an_agent_it_is_a_clear_error);
	else {
		RUN(create_sessions);
		if (t_failures == 0) {
			RUN(shell_echoes_and_sees_its_size);
			RUN(full_screen_program);
			RUN(env_cwd_and_raw_binary_output);
			RUN(replay_after_a_disconnect_gives_exactly_what_was_missed);
			RUN(two_users_terminals_never_cross);
			RUN(bad_input_is_a_clear_error);
			RUN(terminals_are_bounded_per_session);
			RUN(fork_bomb_stays_bounded_and_close_ends_it);
			RUN(terminals_end_with_their_session);
			RUN(typing_is_activity_for_the_idle_reaper);
		}
		sbx_session_end(svc, alice.session_id, 1);
		sbx_session_end(svc, bob.session_id, 1);
	}
	if (ca != NULL)
		sbx_client_close(ca);
	if (cb != NULL)
		sbx_client_close(cb);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	sbx_session_fini(&alice);
	sbx_session_fini(&bob);
	free(tok_a);
	free(tok_b);
	T_DONE();
}
