/*
 * test_fairness.c — long calls and short calls on their own workers, and
 * each tenant's share of the long ones, against a real sbxd and real
 * containers.
 *
 * sbxd runs with 2 short-call workers, 6 command workers, at most 2 long
 * calls per session and 3 per credential. Three commands are started that
 * hold until a file appears in their workspace (written by the test, so
 * they end on an event, never on a clock). While they hold:
 *   - file calls are served (with one shared pool of 2 workers, two of the
 *     commands would hold both and the third would never even start);
 *   - a fourth command for the same credential is refused at once with
 *     RESOURCE_EXHAUSTED naming command_calls_per_credential, and a third
 *     on a session with two running names command_calls_per_session;
 *   - none of the held commands has returned when those answers come.
 * Then the file is written, every command ends with status 0, and the
 * shares are back: the refused command runs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define CONF "workers = 2\ncommand_workers = 6\ncommand_calls_per_session = 2\n" \
	"command_calls_per_credential = 3\nmax_live_sessions_per_user = 8"
/* Marks that it started, then holds until the file go exists. */
#define HOLD(mark) "touch " mark " && while [ ! -e go ]; do sleep 0.05; done"

static struct sbxd_proc d;
static sbx_client *svc;
static atomic_int returned;

struct held {
	char sid[64];
	const char *cmd;
	sbx_err rv;
	int exit_code;
};

static void *
run_held(void *arg)
{
	struct held *h = arg;
	sbx_client *c = harness_client(&d, NULL);   /* one client per thread */
	sbx_exec_opts o = { .command = h->cmd, .timeout_ms = 280000 };
	sbx_exec_result r;

	h->rv = SBX_INTERNAL;
	if (c == NULL)
		return NULL;
	h->rv = sbx_exec(c, h->sid, &o, &r);
	h->exit_code = r.exit_code;
	atomic_fetch_add(&returned, 1);
	sbx_exec_result_fini(&r);
	sbx_client_close(c);
	return NULL;
}

/* Waits (bounded by the safety net) until path exists in the session,
 * asking with Stat, a short call. */
static int
wait_file(const char *sid, const char *path)
{
	uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	sbx_file_info fi;
	int exists = 0;

	while (harness_now_ms() < end) {
		if (sbx_stat(svc, sid, path, &exists, &fi) == SBX_OK && exists) {
			sbx_file_info_fini(&fi);
			return 0;
		}
		usleep(20000);
	}
	return -1;
}

static int
create(const char *user, sbx_session *s, char **token)
{
	sbx_session_create_opts o = { .user_id = user };

	return sbx_session_create(svc, &o, s, token);
}

TEST(short_calls_and_shares_while_commands_hold)
{
	sbx_session a, b, c;
	char *tok_a = NULL;
	struct held h[3] = { { .cmd = HOLD("m1") }, { .cmd = HOLD("m2") }, { .cmd = HOLD("m3") } };
	pthread_t th[3];
	sbx_exec_opts t = { .command = "true" };
	sbx_exec_result r;
	sbx_client *ca;
	void *data = NULL;
	size_t len = 0;

	REQUIRE_INT(create("fair-a", &a, &tok_a), SBX_OK);
	REQUIRE_INT(create("fair-b", &b, NULL), SBX_OK);
	REQUIRE_INT(create("fair-c", &c, NULL), SBX_OK);
	snprintf(h[0].sid, sizeof(h[0].sid), "%s", a.session_id);
	snprintf(h[1].sid, sizeof(h[1].sid), "%s", a.session_id);
	snprintf(h[2].sid, sizeof(h[2].sid), "%s", b.session_id);
	for (int i = 0; i < 3; i++)
		REQUIRE_INT(pthread_create(&th[i], NULL, run_held, &h[i]), 0);
	REQUIRE_INT(wait_file(a.session_id, "m1"), 0);
	REQUIRE_INT(wait_file(a.session_id, "m2"), 0);
	REQUIRE_INT(wait_file(b.session_id, "m3"), 0);

	/* short calls are served while three commands hold */
	CHECK_INT(sbx_write(svc, c.session_id, "note.txt", "hi", 2, 0), SBX_OK);
	CHECK_INT(sbx_read_bytes(svc, c.session_id, "note.txt", 0, 0, &data, &len), SBX_OK);
	CHECK(len == 2 && data != NULL && memcmp(data, "hi", 2) == 0);
	sbx_free(data);
	/* the credential holds 3 of 3 */
	CHECK_INT(sbx_exec(svc, c.session_id, &t, &r), SBX_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(sbx_last_error(svc), "command_calls_per_credential");
	CHECK_CONTAINS(sbx_last_error(svc), "retry after");
	/* session A holds 2 of 2, whatever the credential */
	REQUIRE((ca = harness_client(&d, tok_a)) != NULL);
	CHECK_INT(sbx_exec(ca, a.session_id, &t, &r), SBX_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(sbx_last_error(ca), "command_calls_per_session");
	CHECK_INT(atomic_load(&returned), 0);

	/* release: the commands end on the file, with status 0 */
	CHECK_INT(sbx_write(svc, a.session_id, "go", "", 0, 0), SBX_OK);
	CHECK_INT(sbx_write(svc, b.session_id, "go", "", 0, 0), SBX_OK);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(h[i].rv, SBX_OK);
		CHECK_INT(h[i].exit_code, 0);
	}
	/* the shares are back */
	CHECK_INT(sbx_exec(svc, c.session_id, &t, &r), SBX_OK);
	sbx_exec_result_fini(&r);
	CHECK_INT(sbx_exec(ca, a.session_id, &t, &r), SBX_OK);
	sbx_exec_result_fini(&r);
	sbx_client_close(ca);
	sbx_free(tok_a);
	sbx_session_fini(&a);
	sbx_session_fini(&b);
	sbx_session_fini(&c);
}

int
main(void)
{
	if (!harness_image_ready())
		return 1;
	if (harness_start(&d, CONF) != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(short_calls_and_shares_while_commands_hold);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	T_DONE();
}
