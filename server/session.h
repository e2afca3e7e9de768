/*
 * session.h — the lifecycle of a user's sandbox.
 *
 * A session is a container running a runtime's image, with the user's
 * persistent workspace {workspace_root}/{user}/workspace bind-mounted at
 * /workspace, hardened by default, labelled so this sbxd can find it
 * again, and recorded in the store. Ending a session removes the container
 * and keeps the workspace (unless purged). Inputs reaching this module are
 * already validated by the handlers, except where a contract says so.
 */
#ifndef SBXD_SESSION_H
#define SBXD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "driver.h"
#include "server.h"
#include "store.h"

struct session_create_args {
	const char *user;           /* validated with session_valid_user */
	const char *runtime;        /* NULL or "" = the default runtime */
	int64_t memory_bytes;       /* 0 = default; within the configured ceilings */
	int64_t nano_cpus;
	int64_t pids_limit;
	uint64_t idle_timeout_ms;
	const struct session_label *labels;
	int nlabels;
	const char *isolation;      /* NULL or "" = the runtime's; else a name
	                               isolation_parse knows, validated against
	                               isolations_allowed */
	/* A fork: NULL, or a snapshot held with snapshot_use whose runtime
	 * the session runs; its workspace is copied to
	 * {workspace_root}/{user}/forks/{session} and its image (if any) is
	 * the container's. */
	const struct store_snapshot *snapshot;
	/* NULL: network none. Else the egress allowlist (egress_parse's
	 * form; "" = nothing yet): the session gets an egress network */
	const char *egress_allow;
};

struct session_exec_args {
	const char *command;        /* run as sh -c command; with argv, only shown
	                               (log events) */
	const char *const *argv;    /* NULL-terminated, checked with
	                               session_check_argv: run exactly these
	                               words, no shell; NULL = sh -c command */
	const char *cwd;            /* container path; NULL = /workspace */
	const char *const *env;     /* "K=V", NULL-terminated, or NULL */
	uint64_t timeout_ms;        /* already clamped */
	size_t max_output;
	/* NULL, or gets the output live (driver_exec_spec.on_output). */
	void (*on_output)(void *arg, int stream, const void *p, size_t n);
	void *on_output_arg;
	const void *stdin_data;     /* stdin_len bytes fed to stdin, then EOF; */
	size_t stdin_len;           /* 0 = no stdin (the faster path) */
};

#define SESSION_ARGV_MAX 4096          /* words in one argv */
#define SESSION_ARGV_BYTES (1u << 20)  /* their bytes, NULs counted */

/* SBXD_INVALID_ARGUMENT (saying what to change) unless argv's n words fit
 * SESSION_ARGV_MAX and SESSION_ARGV_BYTES and the first is non-empty.
 * (A NUL inside a word is refused before unpacking, pbcheck.c.) */
sbxd_code session_check_argv(char *const *argv, size_t n, struct err *e);
/* argv's n words as one line a shell would split back into them (words
 * that need it in single quotes), for ProcessInfo.command and log
 * events: malloc'd, free it; NULL when out of memory. */
char *session_argv_line(char *const *argv, size_t n);

/* 1 when user matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (len bytes). */
int session_valid_user(const char *user, size_t len);

/* Creates a session and starts its container. token gets the session's
 * token (shown once). FAILED_PRECONDITION naming the build command when the
 * runtime's image is missing, or naming deploy/gvisor.sh when the engine
 * lacks the isolation's OCI runtime; NOT_FOUND for an unknown runtime; the
 * driver's code when Docker fails (nothing is left behind then). */
sbxd_code session_create(struct server *s, const struct session_create_args *a,
    struct session_row *out, char token[AUTH_TOKEN_MAX], struct err *e);
/* The user's live session, or a new one (*created = 1, token set); calls
 * for one user are serialized so concurrent callers share one session.
 * With a->egress_allow, a live session must have that list (egress_same),
 * else FAILED_PRECONDITION naming SetEgress (or EndSession, for one on
 * network none); it is never changed here. */
sbxd_code session_get_or_create(struct server *s, const struct session_create_args *a,
    struct session_row *out, char token[AUTH_TOKEN_MAX], int *created, struct err *e);
/* Removes the container and revokes the session's token; the workspace
 * stays unless purge. Ending an ended session is OK. */
sbxd_code session_end(struct server *s, const char *id, int purge,
    struct session_row *out, struct err *e);
/* Makes sure r's container runs (starting a stopped one), for a request
 * that needs it. FAILED_PRECONDITION for ended sessions. */
sbxd_code session_ensure_running(struct server *s, struct session_row *r, struct err *e);
/* Creates and starts r's container (r->container_id set on success; on
 * failure nothing is left behind). For lifecycle_heal. */
sbxd_code session_container_up(struct server *s, struct session_row *r, struct err *e);
/* r is RUNNING but a driver call found its container not running: looks
 * up why and records it in r and the store — "oom" when the kernel
 * OOM-killed the container, else "exited (N)". With stop, the row becomes
 * STOPPED (so the next request wakes it) unless sbx is stopping it itself
 * or it changed meanwhile; without, only the reason is recorded (the
 * caller restarts the container at once). Returns 1 when the container
 * was indeed not running. Failures are logged, never returned. */
int session_note_exit(struct server *s, struct session_row *r, int stop);
/* r's container stopped behind our back (a Docker restart, an OOM of
 * init, a kill): records why and starts it again. */
sbxd_code session_restart(struct server *s, struct session_row *r, struct err *e);
/* Runs one command to completion in r's container (see driver exec). */
sbxd_code session_exec(struct server *s, struct session_row *r,
    const struct session_exec_args *a, struct driver_exec_result *res, struct err *e);

#endif
