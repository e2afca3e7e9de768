/*
 * test_store.c — the SQLite store on real files: schema creation and
 * versioning, round trips, labels, token lookup, listing with filters and
 * pages, rows surviving a close and reopen, and activity times: seen at
 * once by this store, written for others within about a second.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "t.h"

static char dir[64], path[128];

static void
fresh_db(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sbx-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/sbx.db", dir);
}

static void
row(struct session_row *r, const char *id, const char *user, int state, int64_t created)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->user, sizeof(r->user), "%s", user);
	snprintf(r->runtime, sizeof(r->runtime), "python-minimal");
	snprintf(r->workspace, sizeof(r->workspace), "/w/%s/workspace", user);
	r->state = state;
	r->created_ms = r->last_active_ms = created;
	r->memory_bytes = 1 << 30;
}

TEST(roundtrip_and_reopen)
{
	struct store *s;
	struct session_row r, got;
	struct err e;

	fresh_db();
	REQUIRE_INT(store_open(path, &s, &e), SBXD_OK);
	row(&r, "s-1", "alice", SESSION_RUNNING, 1000);
	snprintf(r.container_id, sizeof(r.container_id), "abc123");
	snprintf(r.token_hash, sizeof(r.token_hash), "feed");
	r.nlabels = 2;
	snprintf(r.labels[0].key, STORE_LABEL_KEY_MAX, "team");
	snprintf(r.labels[0].value, STORE_LABEL_VALUE_MAX, "red");
	snprintf(r.labels[1].key, STORE_LABEL_KEY_MAX, "app");
	snprintf(r.labels[1].value, STORE_LABEL_VALUE_MAX, "web");
	REQUIRE_INT(store_session_insert(s, &r, &e), SBXD_OK);
	CHECK_INT(store_session_insert(s, &r, &e), SBXD_ALREADY_EXISTS);
	store_close(s);

	REQUIRE_INT(store_open(path, &s, &e), SBXD_OK);
	REQUIRE_INT(store_session_get(s, "s-1", &got, &e), SBXD_OK);
	CHECK_STR(got.user, "alice");
	CHECK_STR(got.container_id, "abc123");
	CHECK_INT(got.memory_bytes, 1 << 30);
	CHECK_INT(got.nlabels, 2);
	CHECK_STR(got.labels[0].key, "app");   /* ordered by key */
	REQUIRE_INT(store_session_by_token_hash(s, "feed", &got, &e), SBXD_OK);
	CHECK_STR(got.id, "s-1");
	CHECK_INT(store_session_by_token_hash(s, "", &got, &e), SBXD_NOT_FOUND);
	CHECK_INT(store_session_get(s, "s-missing", &got, &e), SBXD_NOT_FOUND);
	CHECK_CONTAINS(e.msg, "not found");

	got.state = SESSION_ENDED;
	snprintf(got.stop_reason, sizeof(got.stop_reason), "ended");
	REQUIRE_INT(store_session_update(s, &got, &e), SBXD_OK);
	REQUIRE_INT(store_session_touch(s, "s-1", 5000, &e), SBXD_OK);
	REQUIRE_INT(store_session_touch(s, "s-1", 4000, &e), SBXD_OK);   /* never goes back */
	REQUIRE_INT(store_session_get(s, "s-1", &got, &e), SBXD_OK);
	CHECK_INT(got.state, SESSION_ENDED);
	CHECK_INT(got.last_active_ms, 5000);
	row(&r, "s-nope", "x", 1, 1);
	CHECK_INT(store_session_update(s, &r, &e), SBXD_NOT_FOUND);
	store_close(s);
}

TEST(wal_and_schema_version)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	struct store *s;
	struct err e;

	fresh_db();
	REQUIRE_INT(store_open(path, &s, &e), SBXD_OK);
	store_close(s);
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
	REQUIRE(sqlite3_step(st) == SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	REQUIRE(sqlite3_step(st) == SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(st, 0), store_schema_version());
	sqlite3_finalize(st);
	/* A database from a newer sbxd is refused, not mangled. */
	sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL);
	sqlite3_close(db);
	CHECK_INT(store_open(path, &s, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "newer");
	CHECK_INT(store_open("/nonexistent-dir/x/sbx.db", &s, &e), SBXD_UNAVAILABLE);
}

TEST(list_filters_and_pages)
{
	struct store *s;
	struct session_row r, rows[10];
	struct session_filter f = { 0 };
	struct session_label want = { "team", "blue" };
	char next[128], id[16];
	struct err e;
	int n, total = 0;

	fresh_db();
	REQUIRE_INT(store_open(path, &s, &e), SBXD_OK);
	for (int i = 0; i < 7; i++) {
		snprintf(id, sizeof(id), "s-%d", i);
		row(&r, id, i % 2 ? "bob" : "alice", i == 6 ? SESSION_ENDED : SESSION_RUNNING, 100 + i);
		if (i == 3) {
			r.nlabels = 1;
			r.labels[0] = want;
		}
		REQUIRE_INT(store_session_insert(s, &r, &e), SBXD_OK);
	}
	f.limit = 4;
	REQUIRE_INT(store_session_list(s, &f, rows, &n, next, sizeof(next), &e), SBXD_OK);
	CHECK_INT(n, 4);
	CHECK_STR(rows[0].id, "s-0");
	CHECK(next[0] != '\0');
	total += n;
	f.after = next;
	REQUIRE_INT(store_session_list(s, &f, rows, &n, next, sizeof(next), &e), SBXD_OK);
	total += n;
	CHECK_INT(total, 6);                 /* the ended one is left out */
	CHECK_STR(next, "");
	f = (struct session_filter){ .limit = 10, .include_ended = 1 };
	REQUIRE_INT(store_session_list(s, &f, rows, &n, next, sizeof(next), &e), SBXD_OK);
	CHECK_INT(n, 7);
	f = (struct session_filter){ .limit = 10, .user = "bob" };
	REQUIRE_INT(store_session_list(s, &f, rows, &n, next, sizeof(next), &e), SBXD_OK);
	CHECK_INT(n, 3);
	f = (struct session_filter){ .limit = 10, .labels = &want, .nlabels = 1 };
	REQUIRE_INT(store_session_list(s, &f, rows, &n, next, sizeof(next), &e), SBXD_OK);
	CHECK_INT(n, 1);
	CHECK_STR(rows[0].id, "s-3");
	f = (struct session_filter){ .limit = 10, .after = "garbage" };
	CHECK_INT(store_session_list(s, &f, rows, &n, next, sizeof(next), &e), SBXD_INVALID_ARGUMENT);
	REQUIRE_INT(store_session_live_for_user(s, "alice", &r, &e), SBXD_OK);
	CHECK_STR(r.id, "s-4");
	CHECK_INT(store_session_live_for_user(s, "carol", &r, &e), SBXD_NOT_FOUND);
	store_close(s);
}

TEST(activity_times)
{
	struct store *s, *other;
	struct session_row r, got;
	struct session_activity act[4];
	struct timespec nap = { 0, 20 * 1000000L };
	struct err e;
	int n, i;

	fresh_db();
	REQUIRE_INT(store_open(path, &s, &e), SBXD_OK);
	REQUIRE_INT(store_open(path, &other, &e), SBXD_OK);   /* another connection */
	row(&r, "s-a", "alice", SESSION_RUNNING, 1000);
	REQUIRE_INT(store_session_insert(s, &r, &e), SBXD_OK);
	row(&r, "s-b", "alice", SESSION_RUNNING, 2000);
	REQUIRE_INT(store_session_insert(s, &r, &e), SBXD_OK);

	/* this store sees a touch at once, by id and in the LRU order */
	REQUIRE_INT(store_session_touch(s, "s-a", 3000, &e), SBXD_OK);
	REQUIRE_INT(store_session_get(s, "s-a", &got, &e), SBXD_OK);
	CHECK_INT(got.last_active_ms, 3000);
	REQUIRE_INT(store_session_running(s, "alice", 0, 0, act, 4, &n, &e), SBXD_OK);
	REQUIRE_INT(n, 2);
	CHECK_STR(act[0].id, "s-b");
	CHECK_INT(act[1].last_active_ms, 3000);

	/* a whole-row update after a touch stands, as a later write did */
	REQUIRE_INT(store_session_touch(s, "s-b", 9000, &e), SBXD_OK);
	REQUIRE_INT(store_session_get(s, "s-b", &got, &e), SBXD_OK);
	CHECK_INT(got.last_active_ms, 9000);
	got.last_active_ms = 4000;
	REQUIRE_INT(store_session_update(s, &got, &e), SBXD_OK);
	REQUIRE_INT(store_session_get(s, "s-b", &got, &e), SBXD_OK);
	CHECK_INT(got.last_active_ms, 4000);

	/* another connection (what a restart after a crash reads) sees a
	 * touch once it is written, within about a second; 10 s is the
	 * safety net, not the expectation */
	REQUIRE_INT(store_session_touch(s, "s-b", 7000, &e), SBXD_OK);
	for (i = 0; i < 500; i++) {
		REQUIRE_INT(store_session_get(other, "s-b", &got, &e), SBXD_OK);
		if (got.last_active_ms == 7000)
			break;
		nanosleep(&nap, NULL);
	}
	CHECK_INT(got.last_active_ms, 7000);
	store_close(other);

	/* and a close writes what is left */
	REQUIRE_INT(store_session_touch(s, "s-a", 8000, &e), SBXD_OK);
	store_close(s);
	REQUIRE_INT(store_open(path, &s, &e), SBXD_OK);
	REQUIRE_INT(store_session_get(s, "s-a", &got, &e), SBXD_OK);
	CHECK_INT(got.last_active_ms, 8000);
	store_close(s);
}

int
main(void)
{
	RUN(roundtrip_and_reopen);
	RUN(wal_and_schema_version);
	RUN(list_filters_and_pages);
	RUN(activity_times);
	T_DONE();
}
