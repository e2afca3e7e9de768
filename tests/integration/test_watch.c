/*
 * test_watch.c — file watches for real: a real sbxd, a real container and
 * its in-sandbox agent's inotify. Creating, modifying, moving and
 * deleting a file in the sandbox are each seen as such on the session's
 * log stream; a new subdirectory of a recursive watch is watched with
 * what was made in it; a burst of 10,000 appends becomes a few messages
 * whose last says the file's final size, with nothing reported that did
 * not happen; bad paths, ids and the per-session cap are clear errors;
 * Unwatch ends it, and so does the session's end. With `agent = no`
 * (SBX_TEST_AGENT=off) Watch is FAILED_PRECONDITION. Every wait is for an
 * event, bounded by HARNESS_WAIT_MS as a safety net.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "t.h"

static struct sbxd_proc d;
static sbx_client *svc;
static sbx_session s;

/* Every change a watch reported, as "kind path[ from] size" lines. */
struct seen {
	char *text;
	size_t len;
	int batches;
	int ended;
};

static void
seen_add(struct seen *w, const char *line)
{
	size_t n = strlen(line);

	w->text = realloc(w->text, w->len + n + 1);
	memcpy(w->text + w->len, line, n + 1);
	w->len += n;
}

static int
seen_has(const struct seen *w, const char *needle)
{
	return w->text != NULL && strstr(w->text, needle) != NULL;
}

/* Takes events of sub for watch id until w holds needle (or its end
 * came, needle NULL); 0 then, -1 after HARNESS_WAIT_MS. */
static int
collect(sbx_logs_sub *sub, const char *id, struct seen *w, const char *needle)
{
	uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	sbx_watch_event *v;
	sbx_log_event ev;
	char line[8400];
	size_t n;

	while (needle != NULL ? !seen_has(w, needle) : !w->ended) {
		if (harness_now_ms() >= end)
			return -1;
		if (sbx_logs_next(sub, &ev, 1000) != SBX_OK)
			continue;
		if (strcmp(ev.process_id, id) == 0 && ev.stream == SBX_STREAM_WATCH &&
		    sbx_watch_events_decode(&ev, &v, &n) == SBX_OK) {
			w->batches++;
			for (size_t i = 0; i < n; i++) {
				snprintf(line, sizeof(line), "%d %s%s%s %llu\n", (int)v[i].kind,
				    (char *)v[i].path.data, v[i].from.len ? " " : "",
				    (char *)v[i].from.data, (unsigned long long)v[i].size);
				seen_add(w, line);
			}
			sbx_watch_events_free(v, n);
		} else if (strcmp(ev.process_id, id) == 0 && ev.stream == SBX_STREAM_SYSTEM)
			w->ended = 1;
		sbx_log_event_fini(&ev);
	}
	return 0;
}

static int
sh(const char *cmd)
{
	return harness_exec_status(svc, s.session_id, cmd, 120000);
}

static sbx_logs_sub *
follow(uint64_t after)
{
	sbx_logs_opts o = { .after_seq = after, .queue_events = 4096 };
	sbx_logs_sub *sub = NULL;

	if (sbx_logs_subscribe_opts(svc, s.session_id, &o, &sub) != SBX_OK)
		fprintf(stderr, "  subscribe: %s\n", sbx_last_error(svc));
	return sub;
}

TEST(create_session)
{
	sbx_session_create_opts o = { .user_id = "watch-a" };

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	REQUIRE_INT(sh("mkdir -p /workspace/w"), 0);
}

TEST(create_modify_move_delete_each_seen)
{
	sbx_watch_opts o = { .path = "w", .recursive = 1 };
	struct seen w = { 0 };
	char id[SBX_WATCH_ID_MAX];
	uint64_t after;
	sbx_logs_sub *sub;

	REQUIRE_INT(sbx_watch_start(svc, s.session_id, &o, id, &after), SBX_OK);
	REQUIRE((sub = follow(after)) != NULL);
	CHECK_INT(sh("touch /workspace/w/a.txt"), 0);
	CHECK_INT(collect(sub, id, &w, "1 /workspace/w/a.txt 0\n"), 0);
	CHECK_INT(sh("printf hello >> /workspace/w/a.txt"), 0);
	CHECK_INT(collect(sub, id, &w, "2 /workspace/w/a.txt 5\n"), 0);
	CHECK_INT(sh("mv /workspace/w/a.txt /workspace/w/b.txt"), 0);
	CHECK_INT(collect(sub, id, &w, "4 /workspace/w/b.txt /workspace/w/a.txt 5\n"), 0);
	CHECK_INT(sh("rm /workspace/w/b.txt"), 0);
	CHECK_INT(collect(sub, id, &w, "3 /workspace/w/b.txt 0\n"), 0);
	CHECK_INT(sh("mkdir /workspace/w/sub && echo x > /workspace/w/sub/c.txt"), 0);
	CHECK_INT(collect(sub, id, &w, "/workspace/w/sub/c.txt 2\n"), 0);
	CHECK_INT(sbx_watch_stop(svc, s.session_id, id), SBX_OK);
	CHECK_INT(sbx_watch_stop(svc, s.session_id, id), SBX_NOT_FOUND);
	sbx_logs_unsubscribe(sub);
	free(w.text);
}

TEST(a_burst_is_coalesced_and_ends_right)
{
	sbx_watch_opts o = { .path = "/workspace/w" };
	struct seen w = { 0 };
	char id[SBX_WATCH_ID_MAX], want[128], *line, *save = NULL, *last = NULL;
	sbx_exec_opts eo = { .command = "wc -c < /workspace/w/f.log", .timeout_ms = 60000 };
	sbx_exec_result r;
	uint64_t after;
	sbx_logs_sub *sub;
	long size;

	REQUIRE_INT(sbx_watch_start(svc, s.session_id, &o, id, &after), SBX_OK);
	REQUIRE((sub = follow(after)) != NULL);
	CHECK_INT(sh("i=0; while [ $i -lt 10000 ]; do echo $i >> /workspace/w/f.log; "
	    "i=$((i+1)); done; touch /workspace/w/marker"), 0);
	CHECK_INT(collect(sub, id, &w, " /workspace/w/marker 0\n"), 0);
	REQUIRE_INT(sbx_exec(svc, s.session_id, &eo, &r), SBX_OK);
	size = atol((char *)r.out.data);
	sbx_exec_result_fini(&r);
	CHECK_INT(size, 48890);    /* 0..9999, one per line */
	fprintf(stderr, "  10,000 appends: %d messages\n", w.batches);
	CHECK(w.batches < 1000);
	/* nothing that did not happen: only the two files, created or
	 * modified, and the last word on f.log is its final size */
	for (line = strtok_r(w.text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		CHECK(strncmp(line, "1 ", 2) == 0 || strncmp(line, "2 ", 2) == 0);
		CHECK(strstr(line, " /workspace/w/f.log ") != NULL ||
		    strstr(line, " /workspace/w/marker ") != NULL);
		if (strstr(line, "/f.log ") != NULL)
			last = line;
	}
	snprintf(want, sizeof(want), " /workspace/w/f.log %ld", size);
	CHECK(last != NULL && strstr(last, want) != NULL);
	CHECK_INT(sbx_watch_stop(svc, s.session_id, id), SBX_OK);
	sbx_logs_unsubscribe(sub);
	free(w.text);
}

TEST(bad_watches_are_clear_errors)
{
	sbx_watch_opts o = { .path = "/workspace/nonexistent" };
	char id[SBX_WATCH_ID_MAX], ids[4][SBX_WATCH_ID_MAX];
	const char *globs[17];

	CHECK_INT(sbx_watch_start(svc, s.session_id, &o, id, NULL), SBX_NOT_FOUND);
	o.path = "/proc";
	CHECK_INT(sbx_watch_start(svc, s.session_id, &o, id, NULL), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "pseudo-filesystem");
	o.path = "/etc/passwd";
	CHECK_INT(sbx_watch_start(svc, s.session_id, &o, id, NULL), SBX_INVALID_ARGUMENT);
	o.path = NULL;
	for (int i = 0; i < 17; i++)
		globs[i] = "*.x";
	o.globs = globs;
	o.n_globs = 17;
	CHECK_INT(sbx_watch_start(svc, s.session_id, &o, id, NULL), SBX_INVALID_ARGUMENT);
	o.n_globs = 0;
	CHECK_INT(sbx_watch_stop(svc, s.session_id, "w999999"), SBX_NOT_FOUND);
	CHECK_INT(sbx_watch_stop(svc, s.session_id, "../x"), SBX_INVALID_ARGUMENT);
	for (int i = 0; i < 4; i++)
		CHECK_INT(sbx_watch_start(svc, s.session_id, &o, ids[i], NULL), SBX_OK);
	CHECK_INT(sbx_watch_start(svc, s.session_id, &o, id, NULL), SBX_RESOURCE_EXHAUSTED);
	for (int i = 0; i < 4; i++)
		CHECK_INT(sbx_watch_stop(svc, s.session_id, ids[i]), SBX_OK);
}

/* Ending the session ends its watches: the record goes with it, so an
 * Unwatch afterwards finds none. */
TEST(watches_end_with_their_session)
{
	sbx_session_create_opts so = { .user_id = "watch-end" };
	sbx_watch_opts o = { .path = "/workspace" };
	char id[SBX_WATCH_ID_MAX];
	sbx_session e;

	REQUIRE_INT(sbx_session_create(svc, &so, &e, NULL), SBX_OK);
	REQUIRE_INT(sbx_watch_start(svc, e.session_id, &o, id, NULL), SBX_OK);
	CHECK_INT(sbx_session_end(svc, e.session_id, 1), SBX_OK);
	CHECK_INT(sbx_watch_stop(svc, e.session_id, id), SBX_NOT_FOUND);
	CHECK_CONTAINS(sbx_last_error(svc), "has no watch");
	sbx_session_fini(&e);
}

TEST(without_an_agent_it_is_a_clear_error)
{
	sbx_session_create_opts so = { .user_id = "watch-noagent" };
	sbx_session n;
	char id[SBX_WATCH_ID_MAX];

	REQUIRE_INT(sbx_session_create(svc, &so, &n, NULL), SBX_OK);
	CHECK_INT(sbx_watch_start(svc, n.session_id, NULL, id, NULL), SBX_FAILED_PRECONDITION);
	CHECK_INT(sbx_session_end(svc, n.session_id, 1), SBX_OK);
	sbx_session_fini(&n);
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
		RUN(create_session);
		if (t_failures == 0) {
			RUN(create_modify_move_delete_each_seen);
			RUN(a_burst_is_coalesced_and_ends_right);
			RUN(bad_watches_are_clear_errors);
			RUN(watches_end_with_their_session);
		}
		sbx_session_end(svc, s.session_id, 1);
	}
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	sbx_session_fini(&s);
	T_DONE();
}
