/*
 * test_cleanup_scope.c — CleanupIdle scoped by labels and users, for real:
 * a real sbxd and real containers. Five idle sessions of three users and
 * two label sets; a cleanup scoped by a label stops only the sessions
 * carrying it, one scoped by two labels only those carrying both, one
 * scoped by users only theirs, labels and users together only sessions
 * matching both; malformed scopes are refused; an unscoped cleanup still
 * stops everything idle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "t.h"

enum { A1, A2, AX, B3, NONE, NSESS };

static struct sbxd_proc d;
static sbx_client *svc;
static sbx_session s[NSESS];
static char *tokens[NSESS];

static int64_t
realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Idle means "no request for longer than max_idle_ms" on sbxd's clock
 * (this machine's): the sessions' last activity is before the last
 * create returned, so once this clock is 3 ms past that, every session is
 * idle for a max_idle_ms of 1. This waits for that clock reading, not for
 * something to happen elsewhere. */
static void
until_idle(int64_t since_ms)
{
	struct timespec ts = { 0, 1000000L };

	while (realtime_ms() < since_ms + 3)
		nanosleep(&ts, NULL);
}

static int
stopped(char **ids, size_t n, int which)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], s[which].session_id) == 0)
			return 1;
	return 0;
}

/* Runs a cleanup with opts; a bit mask of which sessions it stopped, -1
 * when the call fails or stops a session that is not ours. */
static int
cleanup(const sbx_cleanup_opts *o)
{
	char **ids = NULL;
	size_t n = 0;
	int mask = 0, ours = 0;
	sbx_err rv;

	if ((rv = sbx_session_cleanup_idle_scoped(svc, o, &ids, &n)) != SBX_OK) {
		fprintf(stderr, "  cleanup: %s: %s\n", sbx_err_name(rv), sbx_last_error(svc));
		return -1;
	}
	for (int i = 0; i < NSESS; i++)
		if (stopped(ids, n, i)) {
			mask |= 1 << i;
			ours++;
		}
	sbx_string_list_free(ids, n);
	return (size_t)ours == n ? mask : -1;
}

TEST(create_sessions)
{
	static const sbx_label app_a[] = { { "app", "a" } };
	static const sbx_label app_a_team_x[] = { { "app", "a" }, { "team", "x" } };
	static const sbx_label app_b[] = { { "app", "b" } };
	static const struct {
		const char *user;
		const sbx_label *labels;
		size_t n;
	} spec[NSESS] = {
		[A1] = { "u1", app_a, 1 },
		[A2] = { "u2", app_a, 1 },
		[AX] = { "u2", app_a_team_x, 2 },
		[B3] = { "u3", app_b, 1 },
		[NONE] = { "u3", NULL, 0 },
	};

	for (int i = 0; i < NSESS; i++) {
		sbx_session_create_opts o = { .user_id = spec[i].user,
		    .labels = spec[i].labels, .n_labels = spec[i].n };

		REQUIRE_INT(sbx_session_create(svc, &o, &s[i], &tokens[i]), SBX_OK);
	}
	until_idle(realtime_ms());
}

TEST(bad_scopes_are_refused)
{
	static const sbx_label bad_key[] = { { "no spaces", "v" } };
	static const sbx_label twice[] = { { "app", "a" }, { "app", "b" } };
	const char *bad_user[] = { "../etc" };
	sbx_cleanup_opts o = { .max_idle_ms = 1, .labels = bad_key, .n_labels = 1 };
	char **ids = NULL;
	size_t n = 0;

	CHECK_INT(sbx_session_cleanup_idle_scoped(svc, &o, &ids, &n), SBX_INVALID_ARGUMENT);
	o = (sbx_cleanup_opts){ .max_idle_ms = 1, .labels = twice, .n_labels = 2 };
	CHECK_INT(sbx_session_cleanup_idle_scoped(svc, &o, &ids, &n), SBX_INVALID_ARGUMENT);
	o = (sbx_cleanup_opts){ .max_idle_ms = 1, .user_ids = bad_user, .n_user_ids = 1 };
	CHECK_INT(sbx_session_cleanup_idle_scoped(svc, &o, &ids, &n), SBX_INVALID_ARGUMENT);
	CHECK(ids == NULL && n == 0);
}

TEST(scoped_cleanups_stop_only_matching_sessions)
{
	static const sbx_label team_x[] = { { "team", "x" }, { "app", "a" } };
	static const sbx_label app_a[] = { { "app", "a" } };
	static const sbx_label app_c[] = { { "app", "c" } };
	const char *u3[] = { "u3" }, *u1_u2[] = { "u1", "u2" };
	sbx_cleanup_opts o;

	/* nobody carries app=c */
	o = (sbx_cleanup_opts){ .max_idle_ms = 1, .labels = app_c, .n_labels = 1 };
	CHECK_INT(cleanup(&o), 0);
	/* both labels: only AX */
	o = (sbx_cleanup_opts){ .max_idle_ms = 1, .labels = team_x, .n_labels = 2 };
	CHECK_INT(cleanup(&o), 1 << AX);
	/* app=a and user u1: A1, not A2 (u2) */
	o = (sbx_cleanup_opts){ .max_idle_ms = 1, .labels = app_a, .n_labels = 1,
	    .user_ids = u1_u2, .n_user_ids = 1 };
	CHECK_INT(cleanup(&o), 1 << A1);
	/* user u3: B3 and NONE, whatever their labels */
	o = (sbx_cleanup_opts){ .max_idle_ms = 1, .user_ids = u3, .n_user_ids = 1 };
	CHECK_INT(cleanup(&o), (1 << B3) | (1 << NONE));
	/* users u1, u2: what is left of theirs, A2 */
	o = (sbx_cleanup_opts){ .max_idle_ms = 1, .user_ids = u1_u2, .n_user_ids = 2 };
	CHECK_INT(cleanup(&o), 1 << A2);
}

TEST(an_unscoped_cleanup_still_stops_everything_idle)
{
	sbx_cleanup_opts o = { .max_idle_ms = 1 };
	char **ids = NULL;
	size_t n = 0;
	sbx_session g;
	int64_t woke;

	/* wake two (a request wakes a stopped session), then stop them unscoped */
	REQUIRE_INT(harness_exec_status(svc, s[A1].session_id, "true", 60000), 0);
	REQUIRE_INT(harness_exec_status(svc, s[NONE].session_id, "true", 60000), 0);
	woke = realtime_ms();
	until_idle(woke);
	CHECK_INT(cleanup(&o), (1 << A1) | (1 << NONE));
	REQUIRE_INT(sbx_session_get(svc, s[A1].session_id, &g), SBX_OK);
	CHECK_INT(g.state, SBX_SESSION_STOPPED);
	sbx_session_fini(&g);
	CHECK_INT(sbx_session_cleanup_idle(svc, 1, &ids, &n), SBX_OK);
	CHECK_INT(n, 0);
	sbx_string_list_free(ids, n);
}

int
main(void)
{
	if (!harness_image_ready())
		return 1;
	if (harness_start(&d, "reap_interval = 0\n") != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(create_sessions);
	if (t_failures == 0) {
		RUN(bad_scopes_are_refused);
		RUN(scoped_cleanups_stop_only_matching_sessions);
		RUN(an_unscoped_cleanup_still_stops_everything_idle);
	}
	for (int i = 0; i < NSESS; i++) {
		sbx_session_end(svc, s[i].session_id, 1);
		sbx_session_fini(&s[i]);
		sbx_free(tokens[i]);
	}
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	T_DONE();
}
