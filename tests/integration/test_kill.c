/*
 * test_kill.c — a KILL reports done when the process is gone, for real: a
 * real sbxd, a real container. Right after SignalProcess(KILL) answers,
 * ListProcesses and WaitProcess show the process KILLED, never RUNNING —
 * one process, a process with children, every process at once, fifty
 * times over; a second KILL answers FAILED_PRECONDITION; a child that
 * left the group (its own session) and holds the output open does not
 * keep the KILL from answering.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "t.h"

#define ROUNDS 50

static struct sbxd_proc d;
static sbx_client *svc;
static sbx_session s;
static char *token;

static sbx_err
start(const char *cmd, char *id)
{
	sbx_process_opts o = { .command = cmd };
	sbx_process p;
	sbx_err rv;

	id[0] = '\0';
	if ((rv = sbx_process_start(svc, s.session_id, &o, &p)) != SBX_OK) {
		fprintf(stderr, "  start %s: %s: %s\n", cmd, sbx_err_name(rv),
		    sbx_last_error(svc));
		return rv;
	}
	snprintf(id, SBX_PROCESS_ID_MAX, "%s", p.process_id);
	sbx_process_fini(&p);
	return SBX_OK;
}

/* id's state as ListProcesses shows it (0 when not listed). */
static sbx_process_state
listed_state(const char *id, int *code)
{
	sbx_process *v = NULL;
	sbx_process_state st = 0;
	size_t n = 0;

	if (sbx_process_list(svc, s.session_id, &v, &n) != SBX_OK)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].process_id, id) == 0) {
			st = v[i].state;
			if (code != NULL)
				*code = v[i].exit_code;
		}
	sbx_process_list_free(v, n);
	return st;
}

/* id's state from a WaitProcess that does not wait (timeout 1 ms). */
static sbx_process_state
polled_state(const char *id, int *timed_out)
{
	sbx_process p;
	sbx_process_state st;

	*timed_out = -1;
	if (sbx_process_wait(svc, s.session_id, id, 1, &p, timed_out) != SBX_OK)
		return 0;
	st = p.state;
	sbx_process_fini(&p);
	return st;
}

TEST(create_session)
{
	sbx_session_create_opts o = { .user_id = "kill-user" };

	REQUIRE_INT(sbx_session_create(svc, &o, &s, &token), SBX_OK);
}

TEST(kill_then_list_never_shows_it_running)
{
	char id[SBX_PROCESS_ID_MAX];
	unsigned hit;
	int code, to, bad = 0;

	for (int i = 0; i < ROUNDS && bad == 0; i++) {
		REQUIRE_INT(start(i % 2 ? "sleep 1000" : "sleep 1000 & sleep 1001 & wait", id),
		    SBX_OK);
		hit = 0;
		REQUIRE_INT(sbx_process_signal(svc, s.session_id, id, SBX_SIGNAL_KILL, &hit),
		    SBX_OK);
		CHECK_INT(hit, 1);
		code = 0;
		if (listed_state(id, &code) != SBX_PROCESS_KILLED || code != 137) {
			fprintf(stderr, "  round %d: listed as %d (exit %d) after KILL\n", i,
			    (int)listed_state(id, NULL), code);
			bad++;
		}
		if (polled_state(id, &to) != SBX_PROCESS_KILLED || to != 0)
			bad++;
		/* a second KILL: it has ended */
		if (sbx_process_signal(svc, s.session_id, id, SBX_SIGNAL_KILL, NULL) !=
		    SBX_FAILED_PRECONDITION) {
			fprintf(stderr, "  round %d: second KILL: %s\n", i, sbx_last_error(svc));
			bad++;
		}
	}
	CHECK_INT(bad, 0);
}

TEST(kill_all_then_list_shows_none_running)
{
	char ids[3][SBX_PROCESS_ID_MAX];
	sbx_process *v = NULL;
	size_t n = 0;
	unsigned hit = 0;
	int running = 0;

	for (int round = 0; round < ROUNDS / 5; round++) {
		for (int i = 0; i < 3; i++)
			REQUIRE_INT(start("sleep 1002", ids[i]), SBX_OK);
		REQUIRE_INT(sbx_process_signal(svc, s.session_id, NULL, SBX_SIGNAL_KILL, &hit),
		    SBX_OK);
		CHECK(hit >= 3);
		REQUIRE_INT(sbx_process_list(svc, s.session_id, &v, &n), SBX_OK);
		for (size_t i = 0; i < n; i++)
			running += v[i].state == SBX_PROCESS_RUNNING;
		sbx_process_list_free(v, n);
	}
	CHECK_INT(running, 0);
}

/* Runs cmd in the session; its stdout (static, overwritten by the next
 * call), "" when the call fails. */
static const char *
run(const char *cmd)
{
	static char out[4096];

	(void)harness_exec_out(svc, s.session_id, cmd, HARNESS_WAIT_MS, out, sizeof(out), NULL);
	return out;
}

TEST(a_child_outside_the_group_does_not_hold_the_kill)
{
	char id[SBX_PROCESS_ID_MAX], cmd[64];
	int code = 0, pid;

	/* A child in its own session (out of the killed group) keeps the
	 * output open; it tells its pid through a FIFO once it is there. */
	REQUIRE_INT(harness_exec_status(svc, s.session_id, "mkfifo /tmp/kf", 60000), 0);
	REQUIRE_INT(start("setsid sh -c 'echo $$ >/tmp/kf; exec sleep 1003' & sleep 1004", id),
	    SBX_OK);
	pid = atoi(run("cat /tmp/kf"));
	REQUIRE(pid > 1);
	CHECK_INT(sbx_process_signal(svc, s.session_id, id, SBX_SIGNAL_KILL, NULL), SBX_OK);
	CHECK_INT(listed_state(id, &code), SBX_PROCESS_KILLED);
	CHECK_INT(code, 137);
	snprintf(cmd, sizeof(cmd), "kill -9 %d", pid);
	CHECK_INT(harness_exec_status(svc, s.session_id, cmd, 60000), 0);
}

int
main(void)
{
	if (!harness_image_ready())
		return 1;
	if (harness_start(&d, "max_processes_per_session = 8\n") != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(create_session);
	if (t_failures == 0) {
		RUN(kill_then_list_never_shows_it_running);
		RUN(kill_all_then_list_shows_none_running);
		RUN(a_child_outside_the_group_does_not_hold_the_kill);
	}
	sbx_session_end(svc, s.session_id, 1);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	sbx_session_fini(&s);
	sbx_free(token);
	T_DONE();
}
