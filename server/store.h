/*
 * store.h — sbxd's persistent state, in one SQLite file (WAL mode).
 *
 * This is the only module that talks to SQLite. It holds sessions, their
 * labels and their token hashes (never tokens). The schema is versioned
 * with PRAGMA user_version and migrated forward at open. One connection,
 * serialized by a mutex: queries are microseconds, and WAL keeps readers
 * of other processes (backups, sqlite3 CLI) from blocking us.
 */
#ifndef SBXD_STORE_H
#define SBXD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STORE_ID_MAX 64
#define STORE_USER_MAX 65
#define STORE_NAME_MAX 64
#define STORE_CID_MAX 80
#define STORE_PATH_MAX 1024
#define STORE_HASH_MAX 65
#define STORE_REASON_MAX 64
#define STORE_ISOLATION_MAX 16
#define STORE_LABEL_MAX 16
#define STORE_LABEL_KEY_MAX 64
#define STORE_LABEL_VALUE_MAX 256

/* Numbers match sbx.v1.SessionState. */
enum session_state {
	SESSION_CREATING = 1,
	SESSION_RUNNING = 2,
	SESSION_STOPPED = 3,
	SESSION_ENDED = 4,
	SESSION_FAILED = 5,
};

struct session_label {
	char key[STORE_LABEL_KEY_MAX];
	char value[STORE_LABEL_VALUE_MAX];
};

struct session_row {
	char id[STORE_ID_MAX];
	char user[STORE_USER_MAX];
	char runtime[STORE_NAME_MAX];
	char container_id[STORE_CID_MAX];
	char workspace[STORE_PATH_MAX];
	int state;
	int64_t created_ms;
	int64_t last_active_ms;
	int64_t idle_timeout_ms;
	int64_t memory_bytes;
	int64_t nano_cpus;
	int64_t pids_limit;
	int64_t exec_timeout_ms;
	char stop_reason[STORE_REASON_MAX];
	char token_hash[STORE_HASH_MAX];   /* hex SHA-256 of the session token */
	char isolation[STORE_ISOLATION_MAX]; /* "runc" or "gvisor" (isolation.h);
	                                       "" is stored as runc */
	struct session_label labels[STORE_LABEL_MAX];
	int nlabels;
};

struct session_filter {
	const char *user;          /* NULL = any */
	int state;                 /* 0 = any */
	int include_ended;
	const struct session_label *labels;  /* all must match */
	int nlabels;
	const char *after;         /* keyset page token from the previous page, or NULL */
	int limit;
};

struct store;

/* Opens (creating if needed) the database at path and migrates it.
 * SBXD_UNAVAILABLE when the file cannot be opened, SBXD_FAILED_PRECONDITION
 * when its schema is newer than this sbxd. */
sbxd_code store_open(const char *path, struct store **out, struct err *e);
void store_close(struct store *s);
/* The schema version this build writes. */
int store_schema_version(void);

sbxd_code store_session_insert(struct store *s, const struct session_row *r, struct err *e);
/* Rewrites every column but id and labels. NOT_FOUND if no such row. */
sbxd_code store_session_update(struct store *s, const struct session_row *r, struct err *e);
/* A session's egress allowlist (entries one a line, "" = none allowed
 * but the session is on its egress network); get: NOT_FOUND when the
 * session has none (network none). */
sbxd_code store_session_egress_set(struct store *s, const char *id, const char *allow,
    struct err *e);
sbxd_code store_session_egress_get(struct store *s, const char *id, char *out, size_t n,
    struct err *e);
sbxd_code store_session_get(struct store *s, const char *id, struct session_row *out, struct err *e);
/* The newest session of user not ENDED or FAILED; NOT_FOUND if none. */
sbxd_code store_session_live_for_user(struct store *s, const char *user,
    struct session_row *out, struct err *e);
sbxd_code store_session_by_token_hash(struct store *s, const char *hash,
    struct session_row *out, struct err *e);
sbxd_code store_session_touch(struct store *s, const char *id, int64_t now_ms, struct err *e);
/* Sets the session's token hash ("" revokes its token). A hash is never
 * set on an ENDED session: NOT_FOUND then, as when there is no such row. */
sbxd_code store_session_set_token_hash(struct store *s, const char *id, const char *hash,
    struct err *e);
/* Fills up to f->limit rows (array of at least that many, caller-owned) in
 * (created_ms, id) order; *n gets the count; next (STORE_ID_MAX + 24 bytes)
 * gets the token for the next page or "" when this was the last. */
sbxd_code store_session_list(struct store *s, const struct session_filter *f,
    struct session_row *rows, int *n, char *next, size_t nextsz, struct err *e);

/* What the reaper and capacity need of a running session. */
struct session_activity {
	char id[STORE_ID_MAX];
	char user[STORE_USER_MAX];
	char container_id[STORE_CID_MAX];
	int64_t last_active_ms;
	int64_t idle_timeout_ms;
};

/* n[state] = how many sessions are in each state but ENDED (n has
 * SESSION_FAILED + 1 slots; ENDED's stays 0). A scan of the table: for
 * metrics scrapes, not for request paths. */
sbxd_code store_session_count_by_state(struct store *s, int64_t n[SESSION_FAILED + 1],
    struct err *e);
/* Takes and releases the write lock: SBXD_OK when the store accepts writes
 * (readiness), else why not. */
sbxd_code store_check_writable(struct store *s, struct err *e);
/* *n = how many sessions are RUNNING: of user, or of everyone (NULL). */
sbxd_code store_session_count_running(struct store *s, const char *user, int *n,
    struct err *e);
/* RUNNING sessions of user (NULL = everyone's), least recently active
 * first, into out (up to max, caller-owned); *n gets the count. When
 * idle_at_ms is not 0, only those idle at that time for longer than
 * max_idle_ms, or than their own idle_timeout_ms when max_idle_ms is 0. */
sbxd_code store_session_running(struct store *s, const char *user, int64_t idle_at_ms,
    int64_t max_idle_ms, struct session_activity *out, int max, int *n, struct err *e);
/* RUNNING -> STOPPED with reason, in one statement; NOT_FOUND when the
 * session is not RUNNING (any more). */
sbxd_code store_session_mark_stopped(struct store *s, const char *id, const char *reason,
    struct err *e);

/* Warm-pool slots (pool.c): the host directory a pooled session's container
 * has at /workspace. set replaces; delete of a missing one is OK; get
 * answers NOT_FOUND for a session that has none (a cold-created one). */
sbxd_code store_slot_set(struct store *s, const char *id, const char *slot, struct err *e);
sbxd_code store_slot_delete(struct store *s, const char *id, struct err *e);
sbxd_code store_slot_get(struct store *s, const char *id, char *slot, size_t n,
    struct err *e);

/* ---- custom runtimes (runtime_build.c makes them) */

#define STORE_RUNTIME_DEF_MAX 16384

struct store_runtime {
	char name[STORE_NAME_MAX];
	char image[256];
	char definition[STORE_RUNTIME_DEF_MAX];   /* canonical JSON */
};

/* Records a runtime; SBXD_ALREADY_EXISTS when the name is taken. */
sbxd_code store_runtime_insert(struct store *s, const char *name, const char *image,
    const char *definition, int64_t now_ms, struct err *e);
/* SBXD_NOT_FOUND when there is no runtime called name. */
sbxd_code store_runtime_get(struct store *s, const char *name, struct store_runtime *out,
    struct err *e);
/* Up to max runtimes, by name, into out[]; *n how many. */
sbxd_code store_runtime_list(struct store *s, struct store_runtime *out, int max, int *n,
    struct err *e);

/* ---- background processes a driver can take back after a restart */
struct store_proc {
	char id[32];
	char session[STORE_ID_MAX];
	char key[64];                /* the driver's handle (driver.h proc_key) */
	char command[1024];          /* as listed; longer ones cut */
	int64_t started_ms;
};
typedef void (*store_proc_cb)(void *arg, const struct store_proc *p);
sbxd_code store_proc_insert(struct store *s, const struct store_proc *p, struct err *e);
sbxd_code store_proc_delete(struct store *s, const char *id, struct err *e);
/* Calls cb for each, oldest first, with the store unlocked. */
sbxd_code store_proc_list(struct store *s, store_proc_cb cb, void *arg, struct err *e);

/* ---- snapshots (snapshot.c) */
#define STORE_IMAGE_MAX 256
struct store_snapshot {
	char id[STORE_ID_MAX];
	char name[STORE_NAME_MAX];   /* "" = none; unique per user otherwise */
	char user[STORE_USER_MAX];
	char session[STORE_ID_MAX];  /* the session it was taken of */
	char runtime[STORE_NAME_MAX];
	char image[STORE_IMAGE_MAX]; /* the committed container layer; "" = none */
	int ready;                   /* 0 while being made (recovery removes it) */
	int64_t created_ms;
	int64_t frozen_ms;
	int64_t workspace_bytes;
	int64_t layer_bytes;
	struct session_label labels[STORE_LABEL_MAX];
	int nlabels;
};
/* Records p with its labels; ALREADY_EXISTS when p's user has a snapshot
 * of the same (non-empty) name. */
sbxd_code store_snapshot_insert(struct store *s, const struct store_snapshot *p,
    struct err *e);
/* Marks p ready with its image, frozen time and sizes. */
sbxd_code store_snapshot_ready(struct store *s, const struct store_snapshot *p,
    struct err *e);
/* NOT_FOUND when there is no such snapshot. */
sbxd_code store_snapshot_get(struct store *s, const char *id, struct store_snapshot *out,
    struct err *e);
/* Deleting a missing one is OK. */
sbxd_code store_snapshot_delete(struct store *s, const char *id, struct err *e);
/* Up to max snapshots of user (NULL = any) taken of session (NULL = any),
 * ready (1), being made (0) or both (-1), oldest first, into out
 * (caller-owned); *n how many. */
sbxd_code store_snapshot_list(struct store *s, const char *user, const char *session,
    int ready, struct store_snapshot *out, int max, int *n, struct err *e);
/* How many snapshots user has (being made included) and their bytes. */
sbxd_code store_snapshot_usage(struct store *s, const char *user, int *count,
    int64_t *bytes, struct err *e);
/* The image a session's container is made from instead of its runtime's
 * (a fork's or a restored session's); "" or NULL forgets it. get answers
 * NOT_FOUND when the session has none. */
sbxd_code store_session_image_set(struct store *s, const char *id, const char *image,
    struct err *e);
sbxd_code store_session_image_get(struct store *s, const char *id, char *image, size_t n,
    struct err *e);
/* *used = 1 while a snapshot or a live session (creating, running,
 * stopped) names image. */
sbxd_code store_image_in_use(struct store *s, const char *image, int *used,
    struct err *e);
#endif
