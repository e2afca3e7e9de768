/*
 * store.c — SQLite persistence for sessions (see store.h).
 *
 * Migrations are an ordered list of SQL scripts; migration i brings the
 * schema from version i to i+1 inside one transaction. WAL with
 * synchronous=NORMAL: a commit survives a crash of sbxd (the WAL is in the
 * OS's hands at once) and costs no fsync; a power loss may drop the last
 * commits, never corrupt the file.
 *
 * Activity times (store_session_touch) are kept in memory first, one
 * entry per session, and written together at most ACTIVITY_FLUSH_MS after
 * the first of them: a command per millisecond costs no write each. Every
 * read sees them: a row read by id or listed takes the later of its column
 * and its entry, and a query that orders or filters by last_active_ms
 * writes them out first. A whole-row update drops the session's entry (the
 * row's time stands, as a later write did before). A crash of sbxd loses
 * at most the last ACTIVITY_FLUSH_MS of activity times; store_close
 * writes them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "monotime.h"
#include "store.h"

static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE sessions ("
	"  id TEXT PRIMARY KEY,"
	"  user_id TEXT NOT NULL,"
	"  runtime TEXT NOT NULL,"
	"  container_id TEXT NOT NULL DEFAULT '',"
	"  workspace TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  last_active_ms INTEGER NOT NULL,"
	"  idle_timeout_ms INTEGER NOT NULL,"
	"  memory_bytes INTEGER NOT NULL,"
	"  nano_cpus INTEGER NOT NULL,"
	"  pids_limit INTEGER NOT NULL,"
	"  exec_timeout_ms INTEGER NOT NULL,"
	"  stop_reason TEXT NOT NULL DEFAULT '',"
	"  token_hash TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX sessions_user ON sessions(user_id, state);"
	"CREATE INDEX sessions_order ON sessions(created_ms, id);"
	"CREATE INDEX sessions_token ON sessions(token_hash) WHERE token_hash != '';"
	"CREATE TABLE session_labels ("
	"  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (session_id, key));",
	/* 1 -> 2: warm-pool slots (pool.c); no foreign key, so a slot can be
	 * recorded before its session row and swept after it is gone */
	"CREATE TABLE session_slots ("
	"  session_id TEXT PRIMARY KEY,"
	"  slot TEXT NOT NULL);",
	/* 2 -> 3: custom runtimes (runtime_build.c); definition is the
	 * canonical JSON the image tag's hash was taken of */
	"CREATE TABLE runtimes ("
	"  name TEXT PRIMARY KEY,"
	"  image TEXT NOT NULL,"
	"  definition TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL);",
	/* 3 -> 4: background processes a driver can take back after a
	 * restart of sbxd (the in-sandbox agent holds them); key is the
	 * driver's handle for it */
	"CREATE TABLE processes ("
	"  id TEXT PRIMARY KEY,"
	"  session_id TEXT NOT NULL,"
	"  driver_key TEXT NOT NULL,"
	"  command TEXT NOT NULL,"
	"  started_ms INTEGER NOT NULL);",
	/* 4 -> 5: the isolation a session's container runs under
	 * (isolation.h); sessions made before it ran under runc */
	"ALTER TABLE sessions ADD COLUMN isolation TEXT NOT NULL DEFAULT 'runc';",
	/* snapshots (snapshot.c): ready 0 while one is being made (recovery
	 * removes those), 1 once its files and image are in place; images
	 * name the snapshot image a forked or restored session's container
	 * is made from */
	"CREATE TABLE snapshots ("
	"  id TEXT PRIMARY KEY,"
	"  user_id TEXT NOT NULL,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  session_id TEXT NOT NULL,"
	"  runtime TEXT NOT NULL,"
	"  image TEXT NOT NULL DEFAULT '',"
	"  ready INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL,"
	"  frozen_ms INTEGER NOT NULL DEFAULT 0,"
	"  workspace_bytes INTEGER NOT NULL DEFAULT 0,"
	"  layer_bytes INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX snapshots_name ON snapshots(user_id, name) WHERE name != '';"
	"CREATE INDEX snapshots_user ON snapshots(user_id, created_ms);"
	"CREATE TABLE snapshot_labels ("
	"  snapshot_id TEXT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (snapshot_id, key));"
	"CREATE TABLE session_images ("
	"  session_id TEXT PRIMARY KEY,"
	"  image TEXT NOT NULL);",
	/* a session's egress allowlist (egress.h): its entries, one a line;
	 * no row = network none */
	"CREATE TABLE session_egress ("
	"  session_id TEXT PRIMARY KEY,"
	"  allow TEXT NOT NULL);",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define COLS "id, user_id, runtime, container_id, workspace, state, created_ms," \
	" last_active_ms, idle_timeout_ms, memory_bytes, nano_cpus, pids_limit," \
	" exec_timeout_ms, stop_reason, token_hash, isolation"

#define STMT_CACHE 64
#define ACTIVITY_FLUSH_MS 1000

struct activity {                   /* a session's activity time not yet written */
	char id[STORE_ID_MAX];
	int64_t ms;
};

struct store {
	sqlite3 *db;
	pthread_mutex_t mu;
	struct {
		const char *sql;        /* a string literal: cached by its address */
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	/* activity times (mu): */
	struct activity *act;
	int nact, act_cap;
	uint64_t act_since;             /* monotonic ms of the oldest entry */
	pthread_cond_t act_cv;          /* an entry came, or closing */
	pthread_t flusher;
	int flusher_running, closing;
};

int
store_schema_version(void)
{
	return SCHEMA_VERSION;
}

/* The store's one translation of SQLite errors. A database that cannot be
 * written (read-only file or mount, an immutable file or -wal, an I/O
 * error, a full disk) is a condition of the host, not a bug: UNAVAILABLE
 * (RESOURCE_EXHAUSTED when full) with what to do; reads go on working. */
static sbxd_code
db_err(struct store *s, struct err *e, const char *what)
{
	int rc = sqlite3_extended_errcode(s->db), sys = sqlite3_system_errno(s->db);
	const char *msg = sqlite3_errmsg(s->db);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return err_set(e, SBXD_UNAVAILABLE, "session store: %s: %s; retry", what, msg);
	case SQLITE_CONSTRAINT:
		return err_set(e, SBXD_ALREADY_EXISTS, "session store: %s: %s", what, msg);
	case SQLITE_FULL:
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "session store: %s: the disk holding "
		    "the database (db_path) is full; free space there (reads still work)", what);
	case SQLITE_READONLY:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		return err_set(e, SBXD_UNAVAILABLE, "session store: %s: the database cannot be "
		    "written (%s%s%s): make db_path and its -wal and -shm files writable by sbxd "
		    "(read-only mount? chattr +i? disk errors?); reads still work, and writes "
		    "resume once it is writable", what, msg, sys ? ": " : "",
		    sys ? strerror(sys) : "");
	default:
		return err_set(e, SBXD_INTERNAL, "session store: %s: %s", what, msg);
	}
}

/* A prepared statement for sql, from the cache (prepared on first use);
 * called with the mutex held. NULL when SQLite cannot prepare it. */
static sqlite3_stmt *
stmt(struct store *s, const char *sql)
{
	int i;

	for (i = 0; i < STMT_CACHE && s->cache[i].sql != NULL; i++)
		if (s->cache[i].sql == sql)
			return s->cache[i].st;
	if (i == STMT_CACHE)
		abort();   /* more distinct statements than slots: raise STMT_CACHE */
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &s->cache[i].st, NULL) != SQLITE_OK)
		return NULL;
	s->cache[i].sql = sql;
	return s->cache[i].st;
}

/* Readies a cached statement for its next use. */
static void
stmt_done(sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static sbxd_code
exec_sql(struct store *s, const char *sql, struct err *e)
{
	/* a short statement (BEGIN, COMMIT, a PRAGMA) names itself */
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(s, e, strlen(sql) < 64 ? sql : "executing schema");
	return SBXD_OK;
}

/* Ends a transaction begun with BEGIN IMMEDIATE: commits when rv is
 * SBXD_OK; rolls back when rv is not, or when the commit fails, so none is
 * left open. Returns rv, or the commit's error (set in e). */
static sbxd_code
tx_end(struct store *s, sbxd_code rv, struct err *e)
{
	if (rv == SBXD_OK && exec_sql(s, "COMMIT", e) != SBXD_OK)
		rv = e->code;
	if (rv != SBXD_OK && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rv;
}

static sbxd_code
migrate(struct store *s, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int version;
	char sql[64];
	sbxd_code rv;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return db_err(s, e, "reading schema version");
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > SCHEMA_VERSION)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "session store has schema version %d, newer than this sbxd's %d; "
		    "run a newer sbxd or point db_path elsewhere", version, SCHEMA_VERSION);
	for (; version < SCHEMA_VERSION; version++) {
		log_info("store: migrating schema %d -> %d", version, version + 1);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
		if ((rv = exec_sql(s, "BEGIN IMMEDIATE", e)) != SBXD_OK)
			return rv;
		if ((rv = exec_sql(s, migrations[version], e)) == SBXD_OK)
			rv = exec_sql(s, sql, e);
		if ((rv = tx_end(s, rv, e)) != SBXD_OK)
			return rv;
	}
	return SBXD_OK;
}

/* ---- activity times not yet written (mu held unless said) */

static struct activity *
act_find(struct store *s, const char *id)
{
	for (int i = 0; i < s->nact; i++)
		if (strcmp(s->act[i].id, id) == 0)
			return &s->act[i];
	return NULL;
}

static void
act_drop(struct store *s, const char *id)
{
	struct activity *a = act_find(s, id);

	if (a != NULL)
		*a = s->act[--s->nact];
}

/* Keeps ms as id's activity time; 0 when it cannot (no flusher, out of
 * memory): the caller writes it at once. */
static int
act_note(struct store *s, const char *id, int64_t ms)
{
	struct activity *a = act_find(s, id), *grown;

	if (a != NULL) {
		if (ms > a->ms)
			a->ms = ms;
		return 1;
	}
	if (!s->flusher_running || s->closing || strlen(id) >= STORE_ID_MAX)
		return 0;
	if (s->nact == s->act_cap) {
		int cap = s->act_cap ? s->act_cap * 2 : 64;

		if ((grown = realloc(s->act, (size_t)cap * sizeof(*grown))) == NULL)
			return 0;
		s->act = grown;
		s->act_cap = cap;
	}
	a = &s->act[s->nact++];
	memcpy(a->id, id, strlen(id) + 1);
	a->ms = ms;
	if (s->nact == 1) {
		s->act_since = monotime_ms();
		pthread_cond_signal(&s->act_cv);
	}
	return 1;
}

/* id's activity time as the row says it: the later of its column and its
 * entry. */
static void
act_merge(struct store *s, struct session_row *r)
{
	struct activity *a = act_find(s, r->id);

	if (a != NULL && a->ms > r->last_active_ms)
		r->last_active_ms = a->ms;
}

static int
touch_row(struct store *s, const char *id, int64_t ms)
{
	sqlite3_stmt *st;
	int ok;

	if ((st = stmt(s, "UPDATE sessions SET last_active_ms = ?2"
	    " WHERE id = ?1 AND last_active_ms < ?2")) == NULL)
		return 0;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ms);
	ok = sqlite3_step(st) == SQLITE_DONE;
	stmt_done(st);
	return ok;
}

/* Writes every entry in one transaction. One that cannot be written is
 * dropped and said once: activity times are best effort, as before. */
static void
act_flush(struct store *s)
{
	struct err e;
	int ok;

	if (s->nact == 0)
		return;
	ok = exec_sql(s, "BEGIN IMMEDIATE", &e) == SBXD_OK;
	for (int i = 0; ok && i < s->nact; i++)
		ok = touch_row(s, s->act[i].id, s->act[i].ms);
	if (ok && exec_sql(s, "COMMIT", &e) != SBXD_OK)
		ok = 0;
	if (!ok) {
		log_warnx("session store: recording %d sessions' activity times: %s", s->nact,
		    sqlite3_errmsg(s->db));
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	s->nact = 0;
}

/* The flusher thread: writes the entries ACTIVITY_FLUSH_MS after the
 * first of them came. */
static void *
act_main(void *arg)
{
	struct store *s = arg;
	uint64_t now;

	pthread_mutex_lock(&s->mu);
	while (!s->closing) {
		now = monotime_ms();
		if (s->nact == 0)
			pthread_cond_wait(&s->act_cv, &s->mu);
		else if (now < s->act_since + ACTIVITY_FLUSH_MS)
			monotime_wait_ms(&s->act_cv, &s->mu, s->act_since + ACTIVITY_FLUSH_MS - now);
		else
			act_flush(s);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

sbxd_code
store_open(const char *path, struct store **out, struct err *e)
{
	struct store *s;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	sbxd_code rv = SBXD_INTERNAL;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	monotime_cond_init(&s->act_cv);
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		rv = err_set(e, SBXD_UNAVAILABLE, "cannot open session store %s: %s",
		    path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if ((rv = exec_sql(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    " PRAGMA foreign_keys=ON;", e)) != SBXD_OK)
		goto out;
	if ((rv = migrate(s, e)) != SBXD_OK)
		goto out;
	/* without the flusher, activity times are written at once */
	s->flusher_running = pthread_create(&s->flusher, NULL, act_main, s) == 0;
	if (!s->flusher_running)
		log_warnx("session store: no activity flusher thread; writing each activity time");
	*out = s;
	s = NULL;
	rv = SBXD_OK;
out:
	store_close(s);
	return rv;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->closing = 1;
	pthread_cond_signal(&s->act_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->flusher_running)
		pthread_join(s->flusher, NULL);
	pthread_mutex_lock(&s->mu);
	act_flush(s);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(s->cache[i].st);
	sqlite3_close(s->db);
	pthread_cond_destroy(&s->act_cv);
	pthread_mutex_destroy(&s->mu);
	free(s->act);
	free(s);
}

static void
copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static void
row_from_stmt(sqlite3_stmt *st, struct session_row *r)
{
	memset(r, 0, sizeof(*r));
	copy_col(r->id, sizeof(r->id), st, 0);
	copy_col(r->user, sizeof(r->user), st, 1);
	copy_col(r->runtime, sizeof(r->runtime), st, 2);
	copy_col(r->container_id, sizeof(r->container_id), st, 3);
	copy_col(r->workspace, sizeof(r->workspace), st, 4);
	r->state = sqlite3_column_int(st, 5);
	r->created_ms = sqlite3_column_int64(st, 6);
	r->last_active_ms = sqlite3_column_int64(st, 7);
	r->idle_timeout_ms = sqlite3_column_int64(st, 8);
	r->memory_bytes = sqlite3_column_int64(st, 9);
	r->nano_cpus = sqlite3_column_int64(st, 10);
	r->pids_limit = sqlite3_column_int64(st, 11);
	r->exec_timeout_ms = sqlite3_column_int64(st, 12);
	copy_col(r->stop_reason, sizeof(r->stop_reason), st, 13);
	copy_col(r->token_hash, sizeof(r->token_hash), st, 14);
	copy_col(r->isolation, sizeof(r->isolation), st, 15);
}

/* Binds the row's columns in COLS order starting at parameter 1. */
static void
bind_row(sqlite3_stmt *st, const struct session_row *r)
{
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->runtime, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->container_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->workspace, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, r->state);
	sqlite3_bind_int64(st, 7, r->created_ms);
	sqlite3_bind_int64(st, 8, r->last_active_ms);
	sqlite3_bind_int64(st, 9, r->idle_timeout_ms);
	sqlite3_bind_int64(st, 10, r->memory_bytes);
	sqlite3_bind_int64(st, 11, r->nano_cpus);
	sqlite3_bind_int64(st, 12, r->pids_limit);
	sqlite3_bind_int64(st, 13, r->exec_timeout_ms);
	sqlite3_bind_text(st, 14, r->stop_reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 15, r->token_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 16, r->isolation[0] ? r->isolation : "runc", -1, SQLITE_STATIC);
}

/* Reads the (key, value) rows sql selects for id (?1) into v, at most
 * STORE_LABEL_MAX of them, and their count into *n; what names the read in
 * errors. Called with the mutex held; sessions and snapshots share it. */
static sbxd_code
labels_read(struct store *s, const char *sql, const char *id, struct session_label *v,
    int *n, const char *what, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*n = 0;
	if ((st = stmt(s, sql)) == NULL)
		return db_err(s, e, what);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < STORE_LABEL_MAX) {
		copy_col(v[*n].key, STORE_LABEL_KEY_MAX, st, 0);
		copy_col(v[*n].value, STORE_LABEL_VALUE_MAX, st, 1);
		(*n)++;
	}
	stmt_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(s, e, what);
	return SBXD_OK;
}

/* Writes v[0..n) with sql (an INSERT of ?1 id, ?2 key, ?3 value); what
 * names the write in errors. Called with the mutex held, inside the
 * caller's transaction (which a failure leaves to roll back). */
static sbxd_code
labels_write(struct store *s, const char *sql, const char *id,
    const struct session_label *v, int n, const char *what, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	if ((st = stmt(s, sql)) == NULL)
		return db_err(s, e, what);
	for (int i = 0; i < n && rv == SBXD_OK; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, v[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, v[i].value, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rv = db_err(s, e, what);
	}
	stmt_done(st);
	return rv;
}

/* Loads r's labels; called with the mutex held. */
static sbxd_code
load_labels(struct store *s, struct session_row *r, struct err *e)
{
	return labels_read(s, "SELECT key, value FROM session_labels"
	    " WHERE session_id = ?1 ORDER BY key", r->id, r->labels, &r->nlabels,
	    "reading labels", e);
}

sbxd_code
store_session_insert(struct store *s, const struct session_row *r, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	act_drop(s, r->id);
	if ((rv = exec_sql(s, "BEGIN IMMEDIATE", e)) != SBXD_OK)
		goto out;
	if ((st = stmt(s, "INSERT INTO sessions(" COLS ") VALUES"
	    " (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)")) == NULL) {
		rv = db_err(s, e, "inserting session");
		goto out;
	}
	bind_row(st, r);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rv = db_err(s, e, "inserting session");
		goto out;
	}
	rv = labels_write(s, "INSERT INTO session_labels(session_id, key, value)"
	    " VALUES (?1, ?2, ?3)", r->id, r->labels, r->nlabels, "writing labels", e);
out:
	rv = tx_end(s, rv, e);
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_session_update(struct store *s, const struct session_row *r, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	act_drop(s, r->id);      /* the row's time stands, as a later write */
	if ((st = stmt(s, "UPDATE sessions SET user_id=?2, runtime=?3,"
	    " container_id=?4, workspace=?5, state=?6, created_ms=?7, last_active_ms=?8,"
	    " idle_timeout_ms=?9, memory_bytes=?10, nano_cpus=?11, pids_limit=?12,"
	    " exec_timeout_ms=?13, stop_reason=?14, token_hash=?15, isolation=?16"
	    " WHERE id=?1")) == NULL) {
		rv = db_err(s, e, "updating session");
		goto out;
	}
	bind_row(st, r);
	if (sqlite3_step(st) != SQLITE_DONE)
		rv = db_err(s, e, "updating session");
	else if (sqlite3_changes(s->db) == 0)
		rv = err_set(e, SBXD_NOT_FOUND, "session %s not found", r->id);
out:
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

/* Runs a one-row SELECT of COLS (sql: a literal) with one text parameter. */
static sbxd_code
get_one(struct store *s, const char *sql, const char *param,
    struct session_row *out, struct err *e, const char *notfound)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;
	int rc;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, sql)) == NULL) {
		rv = db_err(s, e, "reading session");
		goto out;
	}
	sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_from_stmt(st, out);
		act_merge(s, out);
		rv = load_labels(s, out, e);
	} else if (rc == SQLITE_DONE)
		rv = err_set(e, SBXD_NOT_FOUND, "%s", notfound);
	else
		rv = db_err(s, e, "reading session");
out:
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_session_get(struct store *s, const char *id, struct session_row *out, struct err *e)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "session %.64s not found; list sessions with ListSessions", id);
	return get_one(s, "SELECT " COLS " FROM sessions WHERE id = ?1", id, out, e, msg);
}

sbxd_code
store_session_live_for_user(struct store *s, const char *user,
    struct session_row *out, struct err *e)
{
	return get_one(s, "SELECT " COLS " FROM sessions WHERE user_id = ?1 AND state IN (1, 2, 3)"
	    " ORDER BY created_ms DESC, id DESC LIMIT 1", user, out, e,
	    "no live session for this user");
}

sbxd_code
store_session_by_token_hash(struct store *s, const char *hash,
    struct session_row *out, struct err *e)
{
	return get_one(s, "SELECT " COLS " FROM sessions WHERE token_hash = ?1 AND token_hash != ''",
	    hash, out, e,
	    "unknown session token");
}

sbxd_code
store_session_touch(struct store *s, const char *id, int64_t now_ms, struct err *e)
{
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	if (!act_note(s, id, now_ms) && !touch_row(s, id, now_ms))
		rv = db_err(s, e, "recording activity");
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_session_set_token_hash(struct store *s, const char *id, const char *hash,
    struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "UPDATE sessions SET token_hash = ?2"
	    " WHERE id = ?1 AND (?2 = '' OR state != 4)")) == NULL ||
	    (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC), sqlite3_step(st)) != SQLITE_DONE)
		rv = db_err(s, e, "setting the session token");
	else if (sqlite3_changes(s->db) == 0)
		rv = err_set(e, SBXD_NOT_FOUND, "session %.64s not found or ended", id);
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_session_egress_set(struct store *s, const char *id, const char *allow, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "INSERT INTO session_egress (session_id, allow) VALUES (?1, ?2)"
	    " ON CONFLICT(session_id) DO UPDATE SET allow = ?2")) == NULL ||
	    (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 2, allow, -1, SQLITE_STATIC), sqlite3_step(st)) != SQLITE_DONE)
		rv = db_err(s, e, "setting the session's egress allowlist");
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

/* The text column sql (a literal, one parameter: id) selects, into out:
 * NOT_FOUND "session <id> <missing>" when there is no row. */
static sbxd_code
session_text_get(struct store *s, const char *sql, const char *id, char *out, size_t n,
    const char *what, const char *missing, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;
	int rc;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, sql)) == NULL ||
	    (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), rc = sqlite3_step(st),
	     rc != SQLITE_ROW && rc != SQLITE_DONE))
		rv = db_err(s, e, what);
	else if (rc == SQLITE_DONE)
		rv = err_set(e, SBXD_NOT_FOUND, "session %.64s %s", id, missing);
	else
		copy_col(out, n, st, 0);
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_session_egress_get(struct store *s, const char *id, char *out, size_t n, struct err *e)
{
	return session_text_get(s, "SELECT allow FROM session_egress WHERE session_id = ?1", id,
	    out, n, "reading the session's egress allowlist", "has no egress allowlist", e);
}

static int
labels_match(const struct session_row *r, const struct session_filter *f)
{
	for (int i = 0; i < f->nlabels; i++) {
		int found = 0;

		for (int j = 0; j < r->nlabels && !found; j++)
			found = strcmp(r->labels[j].key, f->labels[i].key) == 0 &&
			    strcmp(r->labels[j].value, f->labels[i].value) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/* Page tokens are "<created_ms>.<id>" of the last row returned. */
static int
parse_after(const char *after, long long *ms, char *id, size_t idsz)
{
	const char *dot;
	char *end;

	if (after == NULL || *after == '\0')
		return 0;
	if ((dot = strchr(after, '.')) == NULL || strlen(dot + 1) >= idsz)
		return -1;
	*ms = strtoll(after, &end, 10);
	if (end != dot)
		return -1;
	snprintf(id, idsz, "%s", dot + 1);
	return 1;
}

sbxd_code
store_session_list(struct store *s, const struct session_filter *f,
    struct session_row *rows, int *n, char *next, size_t nextsz, struct err *e)
{
	sqlite3_stmt *st = NULL;
	long long after_ms = -1;
	char after_id[STORE_ID_MAX] = "";
	int rc, have_after, more = 0;
	sbxd_code rv = SBXD_OK;

	*n = 0;
	/* Parse before clearing next: a caller may pass one buffer as both. */
	if ((have_after = parse_after(f->after, &after_ms, after_id, sizeof(after_id))) < 0)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "page_token is not one this server issued; start again without it");
	next[0] = '\0';
	pthread_mutex_lock(&s->mu);
	act_flush(s);
	if ((st = stmt(s, "SELECT " COLS " FROM sessions WHERE"
	    " (?1 IS NULL OR user_id = ?1) AND (?2 = 0 OR state = ?2)"
	    " AND (?3 OR state != 4) AND (created_ms, id) > (?4, ?5)"
	    " ORDER BY created_ms, id")) == NULL) {
		rv = db_err(s, e, "listing sessions");
		goto out;
	}
	if (f->user != NULL)
		sqlite3_bind_text(st, 1, f->user, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, f->state);
	sqlite3_bind_int(st, 3, f->include_ended || f->state == SESSION_ENDED);
	sqlite3_bind_int64(st, 4, have_after ? after_ms : -1);
	sqlite3_bind_text(st, 5, after_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct session_row *r = &rows[*n];

		if (*n == f->limit) {
			more = 1;
			break;
		}
		row_from_stmt(st, r);
		if ((rv = load_labels(s, r, e)) != SBXD_OK)
			goto out;
		if (labels_match(r, f))
			(*n)++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		rv = db_err(s, e, "listing sessions");
	else if (more && *n > 0)
		snprintf(next, nextsz, "%lld.%s", (long long)rows[*n - 1].created_ms,
		    rows[*n - 1].id);
out:
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

/* ---- for the reaper and capacity (session_reaper.c) */

sbxd_code
store_session_count_by_state(struct store *s, int64_t n[SESSION_FAILED + 1], struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;
	int rc;

	memset(n, 0, sizeof(int64_t) * (SESSION_FAILED + 1));
	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "SELECT state, COUNT(*) FROM sessions WHERE state != 4"
	    " GROUP BY state")) == NULL) {
		rv = db_err(s, e, "counting sessions by state");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int state = sqlite3_column_int(st, 0);

		if (state >= 0 && state <= SESSION_FAILED)
			n[state] = sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_DONE)
		rv = db_err(s, e, "counting sessions by state");
out:
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_check_writable(struct store *s, struct err *e)
{
	sbxd_code rv;

	pthread_mutex_lock(&s->mu);
	if ((rv = exec_sql(s, "BEGIN IMMEDIATE", e)) == SBXD_OK)
		rv = exec_sql(s, "ROLLBACK", e);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_session_count_running(struct store *s, const char *user, int *n, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	*n = 0;
	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "SELECT COUNT(*) FROM sessions"
	    " WHERE state = 2 AND (?1 IS NULL OR user_id = ?1)")) == NULL) {
		rv = db_err(s, e, "counting running sessions");
		goto out;
	}
	if (user != NULL)
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		rv = db_err(s, e, "counting running sessions");
	else
		*n = sqlite3_column_int(st, 0);
out:
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_session_running(struct store *s, const char *user, int64_t idle_at_ms,
    int64_t max_idle_ms, struct session_activity *out, int max, int *n, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;
	int rc = SQLITE_DONE;

	*n = 0;
	pthread_mutex_lock(&s->mu);
	act_flush(s);            /* ordered and filtered by last_active_ms */
	if ((st = stmt(s, "SELECT id, user_id, container_id, last_active_ms, idle_timeout_ms"
	    " FROM sessions WHERE state = 2 AND (?1 IS NULL OR user_id = ?1)"
	    " AND (?2 = 0 OR ?2 - last_active_ms > (CASE WHEN ?3 > 0 THEN ?3 ELSE idle_timeout_ms END))"
	    " ORDER BY last_active_ms, id LIMIT ?4")) == NULL) {
		rv = db_err(s, e, "listing running sessions");
		goto out;
	}
	if (user != NULL)
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, idle_at_ms);
	sqlite3_bind_int64(st, 3, max_idle_ms);
	sqlite3_bind_int(st, 4, max);
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct session_activity *a = &out[*n];

		copy_col(a->id, sizeof(a->id), st, 0);
		copy_col(a->user, sizeof(a->user), st, 1);
		copy_col(a->container_id, sizeof(a->container_id), st, 2);
		a->last_active_ms = sqlite3_column_int64(st, 3);
		a->idle_timeout_ms = sqlite3_column_int64(st, 4);
		(*n)++;
	}
	if (*n < max && rc != SQLITE_DONE)
		rv = db_err(s, e, "listing running sessions");
out:
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_session_mark_stopped(struct store *s, const char *id, const char *reason,
    struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "UPDATE sessions SET state = 3, stop_reason = ?2"
	    " WHERE id = ?1 AND state = 2")) == NULL ||
	    (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC), sqlite3_step(st)) != SQLITE_DONE)
		rv = db_err(s, e, "marking a session stopped");
	else if (sqlite3_changes(s->db) == 0)
		rv = err_set(e, SBXD_NOT_FOUND, "session %.64s is no longer running", id);
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

/* ---- warm-pool slots */

/* Runs sql (a literal) with text parameters a and b (b may be NULL). */
static sbxd_code
slot_exec(struct store *s, const char *sql, const char *a, const char *b, const char *what,
    struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, sql)) == NULL ||
	    (sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC),
	     b == NULL ? 0 : sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC),
	     sqlite3_step(st)) != SQLITE_DONE)
		rv = db_err(s, e, what);
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_slot_set(struct store *s, const char *id, const char *slot, struct err *e)
{
	return slot_exec(s, "INSERT OR REPLACE INTO session_slots (session_id, slot)"
	    " VALUES (?1, ?2)", id, slot, "recording a pool slot", e);
}

sbxd_code
store_slot_delete(struct store *s, const char *id, struct err *e)
{
	return slot_exec(s, "DELETE FROM session_slots WHERE session_id = ?1", id, NULL,
	    "forgetting a pool slot", e);
}

sbxd_code
store_slot_get(struct store *s, const char *id, char *slot, size_t n, struct err *e)
{
	return session_text_get(s, "SELECT slot FROM session_slots WHERE session_id = ?1", id,
	    slot, n, "reading a pool slot", "has no pool slot", e);
}

/* ---- custom runtimes */

sbxd_code
store_runtime_insert(struct store *s, const char *name, const char *image,
    const char *definition, int64_t now_ms, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "INSERT INTO runtimes (name, image, definition, created_ms)"
	    " VALUES (?1, ?2, ?3, ?4)")) == NULL ||
	    (sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 2, image, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 3, definition, -1, SQLITE_STATIC),
	     sqlite3_bind_int64(st, 4, now_ms), sqlite3_step(st) != SQLITE_DONE))
		rv = db_err(s, e, "recording a runtime");
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

/* Copies row st's columns out; 0 when a definition does not fit. */
static int
runtime_cols(sqlite3_stmt *st, struct store_runtime *out)
{
	const unsigned char *d = sqlite3_column_text(st, 2);
	size_t n = d ? strlen((const char *)d) : 0;

	copy_col(out->name, sizeof(out->name), st, 0);
	copy_col(out->image, sizeof(out->image), st, 1);
	if (n >= sizeof(out->definition))
		return 0;
	memcpy(out->definition, d ? (const char *)d : "", n + 1);
	return 1;
}

sbxd_code
store_runtime_get(struct store *s, const char *name, struct store_runtime *out,
    struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;
	int rc;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "SELECT name, image, definition FROM runtimes WHERE name = ?1")) == NULL ||
	    (sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC), rc = sqlite3_step(st),
	     rc != SQLITE_ROW && rc != SQLITE_DONE))
		rv = db_err(s, e, "reading a runtime");
	else if (rc == SQLITE_DONE)
		rv = err_set(e, SBXD_NOT_FOUND, "no custom runtime \"%.64s\"", name);
	else if (!runtime_cols(st, out))
		rv = err_set(e, SBXD_INTERNAL, "runtime %.64s: stored definition too long", name);
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_runtime_list(struct store *s, struct store_runtime *out, int max, int *n,
    struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;
	int rc = SQLITE_DONE;

	*n = 0;
	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "SELECT name, image, definition FROM runtimes ORDER BY name")) == NULL)
		rv = db_err(s, e, "listing runtimes");
	while (rv == SBXD_OK && *n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if (runtime_cols(st, &out[*n]))
			(*n)++;
	if (rv == SBXD_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		rv = db_err(s, e, "listing runtimes");
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

/* ---- background processes kept across restarts */

sbxd_code
store_proc_insert(struct store *s, const struct store_proc *p, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "INSERT OR REPLACE INTO processes (id, session_id, driver_key,"
	    " command, started_ms) VALUES (?1, ?2, ?3, ?4, ?5)")) == NULL ||
	    (sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 2, p->session, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 3, p->key, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 4, p->command, -1, SQLITE_STATIC),
	     sqlite3_bind_int64(st, 5, p->started_ms),
	     sqlite3_step(st)) != SQLITE_DONE)
		rv = db_err(s, e, "recording a background process");
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_proc_delete(struct store *s, const char *id, struct err *e)
{
	return slot_exec(s, "DELETE FROM processes WHERE id = ?1", id, NULL,
	    "forgetting a background process", e);
}

sbxd_code
store_proc_list(struct store *s, store_proc_cb cb, void *arg, struct err *e)
{
	struct store_proc *v = NULL, *nv;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;
	int rc = SQLITE_DONE;

	/* copied out first: cb may use the store */
	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "SELECT id, session_id, driver_key, command, started_ms"
	    " FROM processes ORDER BY started_ms, id")) == NULL)
		rv = db_err(s, e, "listing background processes");
	while (rv == SBXD_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
				break;
			}
			v = nv;
		}
		memset(&v[n], 0, sizeof(v[n]));
		copy_col(v[n].id, sizeof(v[n].id), st, 0);
		copy_col(v[n].session, sizeof(v[n].session), st, 1);
		copy_col(v[n].key, sizeof(v[n].key), st, 2);
		copy_col(v[n].command, sizeof(v[n].command), st, 3);
		v[n].started_ms = sqlite3_column_int64(st, 4);
		n++;
	}
	if (rv == SBXD_OK && rc != SQLITE_DONE)
		rv = db_err(s, e, "listing background processes");
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; rv == SBXD_OK && i < n; i++)
		cb(arg, &v[i]);
	free(v);
	return rv;
}

/* ---- snapshots */

#define SNAP_COLS "id, user_id, name, session_id, runtime, image, ready, created_ms," \
	" frozen_ms, workspace_bytes, layer_bytes"

static void
snap_from_stmt(sqlite3_stmt *st, struct store_snapshot *p)
{
	memset(p, 0, sizeof(*p));
	copy_col(p->id, sizeof(p->id), st, 0);
	copy_col(p->user, sizeof(p->user), st, 1);
	copy_col(p->name, sizeof(p->name), st, 2);
	copy_col(p->session, sizeof(p->session), st, 3);
	copy_col(p->runtime, sizeof(p->runtime), st, 4);
	copy_col(p->image, sizeof(p->image), st, 5);
	p->ready = sqlite3_column_int(st, 6);
	p->created_ms = sqlite3_column_int64(st, 7);
	p->frozen_ms = sqlite3_column_int64(st, 8);
	p->workspace_bytes = sqlite3_column_int64(st, 9);
	p->layer_bytes = sqlite3_column_int64(st, 10);
}

/* Loads p's labels; called with the mutex held. */
static sbxd_code
snap_load_labels(struct store *s, struct store_snapshot *p, struct err *e)
{
	return labels_read(s, "SELECT key, value FROM snapshot_labels"
	    " WHERE snapshot_id = ?1 ORDER BY key", p->id, p->labels, &p->nlabels,
	    "reading snapshot labels", e);
}

sbxd_code
store_snapshot_insert(struct store *s, const struct store_snapshot *p, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	if ((rv = exec_sql(s, "BEGIN IMMEDIATE", e)) != SBXD_OK)
		goto out;
	if ((st = stmt(s, "INSERT INTO snapshots(" SNAP_COLS ") VALUES"
	    " (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)")) == NULL ||
	    (sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 2, p->user, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 4, p->session, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 5, p->runtime, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 6, p->image, -1, SQLITE_STATIC),
	     sqlite3_bind_int(st, 7, p->ready),
	     sqlite3_bind_int64(st, 8, p->created_ms),
	     sqlite3_bind_int64(st, 9, p->frozen_ms),
	     sqlite3_bind_int64(st, 10, p->workspace_bytes),
	     sqlite3_bind_int64(st, 11, p->layer_bytes),
	     sqlite3_step(st)) != SQLITE_DONE) {
		rv = db_err(s, e, "recording a snapshot");
		if (rv == SBXD_ALREADY_EXISTS)
			err_set(e, rv, "user %s already has a snapshot named \"%s\"; pick "
			    "another name or delete that one", p->user, p->name);
		goto out;
	}
	rv = labels_write(s, "INSERT INTO snapshot_labels(snapshot_id, key, value)"
	    " VALUES (?1, ?2, ?3)", p->id, p->labels, p->nlabels, "writing snapshot labels", e);
out:
	rv = tx_end(s, rv, e);
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_snapshot_ready(struct store *s, const struct store_snapshot *p, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "UPDATE snapshots SET ready = 1, image = ?2, frozen_ms = ?3,"
	    " workspace_bytes = ?4, layer_bytes = ?5 WHERE id = ?1")) == NULL ||
	    (sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC),
	     sqlite3_bind_text(st, 2, p->image, -1, SQLITE_STATIC),
	     sqlite3_bind_int64(st, 3, p->frozen_ms),
	     sqlite3_bind_int64(st, 4, p->workspace_bytes),
	     sqlite3_bind_int64(st, 5, p->layer_bytes),
	     sqlite3_step(st)) != SQLITE_DONE)
		rv = db_err(s, e, "marking a snapshot ready");
	else if (sqlite3_changes(s->db) == 0)
		rv = err_set(e, SBXD_NOT_FOUND, "snapshot %s not found", p->id);
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_snapshot_get(struct store *s, const char *id, struct store_snapshot *out,
    struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;
	int rc;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "SELECT " SNAP_COLS " FROM snapshots WHERE id = ?1")) == NULL ||
	    (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), rc = sqlite3_step(st),
	     rc != SQLITE_ROW && rc != SQLITE_DONE))
		rv = db_err(s, e, "reading a snapshot");
	else if (rc == SQLITE_DONE)
		rv = err_set(e, SBXD_NOT_FOUND, "no snapshot %.64s; ListSnapshots shows "
		    "the ones there are", id);
	else
		snap_from_stmt(st, out);
	stmt_done(st);
	if (rv == SBXD_OK)
		rv = snap_load_labels(s, out, e);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_snapshot_delete(struct store *s, const char *id, struct err *e)
{
	return slot_exec(s, "DELETE FROM snapshots WHERE id = ?1", id, NULL,
	    "deleting a snapshot", e);
}

sbxd_code
store_snapshot_list(struct store *s, const char *user, const char *session, int ready,
    struct store_snapshot *out, int max, int *n, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;
	int rc = SQLITE_DONE;

	*n = 0;
	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "SELECT " SNAP_COLS " FROM snapshots WHERE"
	    " (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR session_id = ?2) AND"
	    " (?3 < 0 OR ready = ?3) ORDER BY created_ms, id")) == NULL)
		rv = db_err(s, e, "listing snapshots");
	else {
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, session, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, ready);
	}
	while (rv == SBXD_OK && *n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		snap_from_stmt(st, &out[(*n)++]);
	if (rv == SBXD_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		rv = db_err(s, e, "listing snapshots");
	stmt_done(st);
	for (int i = 0; rv == SBXD_OK && i < *n; i++)
		rv = snap_load_labels(s, &out[i], e);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_snapshot_usage(struct store *s, const char *user, int *count, int64_t *bytes,
    struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "SELECT count(*), coalesce(sum(workspace_bytes + layer_bytes), 0)"
	    " FROM snapshots WHERE user_id = ?1")) == NULL ||
	    (sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC),
	     sqlite3_step(st)) != SQLITE_ROW)
		rv = db_err(s, e, "counting snapshots");
	else {
		*count = sqlite3_column_int(st, 0);
		*bytes = sqlite3_column_int64(st, 1);
	}
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbxd_code
store_session_image_set(struct store *s, const char *id, const char *image, struct err *e)
{
	if (image == NULL || *image == '\0')
		return slot_exec(s, "DELETE FROM session_images WHERE session_id = ?1", id,
		    NULL, "forgetting a session's image", e);
	return slot_exec(s, "INSERT OR REPLACE INTO session_images (session_id, image)"
	    " VALUES (?1, ?2)", id, image, "recording a session's image", e);
}

sbxd_code
store_session_image_get(struct store *s, const char *id, char *image, size_t n,
    struct err *e)
{
	return session_text_get(s, "SELECT image FROM session_images WHERE session_id = ?1", id,
	    image, n, "reading a session's image", "runs its runtime's image", e);
}

sbxd_code
store_image_in_use(struct store *s, const char *image, int *used, struct err *e)
{
	sqlite3_stmt *st = NULL;
	sbxd_code rv = SBXD_OK;

	*used = 1;
	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, "SELECT EXISTS (SELECT 1 FROM snapshots WHERE image = ?1) OR"
	    " EXISTS (SELECT 1 FROM session_images i JOIN sessions r ON r.id = i.session_id"
	    " WHERE i.image = ?1 AND r.state IN (1, 2, 3))")) == NULL ||
	    (sqlite3_bind_text(st, 1, image, -1, SQLITE_STATIC),
	     sqlite3_step(st)) != SQLITE_ROW)
		rv = db_err(s, e, "looking up an image's users");
	else
		*used = sqlite3_column_int(st, 0);
	stmt_done(st);
	pthread_mutex_unlock(&s->mu);
	return rv;
}
