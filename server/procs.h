/*
 * procs.h — background processes: commands that keep running in a
 * session's container after the call that started them returns.
 *
 * Each process is an exec with stdin (driver proc_ ops) that belongs to
 * one session; its id is only ever looked up together with that session,
 * so one session can never name another's process. Its output goes to the
 * log bus (stdout/stderr events under its id) and into a bounded buffer of
 * what no ReadProcessOutput has taken yet; lifecycle events ("started",
 * "exited with code N", "killed by signal", "OOM-killed") go to the log
 * bus as system events. A running process keeps its session busy (the
 * reaper never stops it) and survives its client; ending the session ends
 * it. Records are in memory only: a restarted sbxd knows none of them.
 */
#ifndef SBXD_PROCS_H
#define SBXD_PROCS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "server.h"
#include "store.h"

#define PROCS_ID_MAX 24

enum procs_state {
	PROCS_RUNNING = 1,          /* values of sbx.v1.ProcessState */
	PROCS_EXITED = 2,
	PROCS_KILLED = 3,
};

struct procs_info {
	char id[PROCS_ID_MAX];
	char *command;              /* malloc'd: procs_info_fini frees it */
	enum procs_state state;
	int exit_code;              /* -1 while running or when unknown */
	int64_t started_ms, ended_ms; /* unix ms; ended 0 while running */
	int64_t pid;                /* in the container's pid namespace; 0 unknown */
};

struct procs_start_args {
	const char *command;        /* run as sh -c command; with argv, only
	                               shown (ProcessInfo.command, events) */
	const char *const *argv;    /* NULL-terminated: run exactly these words,
	                               no shell; NULL = sh -c command */
	const char *cwd;            /* container path */
	const char *const *env;     /* "K=V", NULL-terminated, or NULL */
};

/* Makes s->procs and starts its output thread (server_open). */
sbxd_code procs_open(struct server *s, struct err *e);
/* For shutdown, before the request workers are joined: WaitProcess calls
 * in progress answer now (timed_out), later ones at once. NULL-safe. */
void procs_drain(struct server *s);
/* After recovery: takes back, on a thread of its own, the background
 * processes that ran before sbxd restarted and that the driver kept
 * (procs_adopt.c). */
sbxd_code procs_adopt_start(struct server *s, struct err *e);
/* Stops the thread and forgets every process; live ones go on in their
 * containers. NULL-safe. */
void procs_close(struct server *s);
/* Background processes running, and records kept (running or finished),
 * over every session; a walk of the list under its lock (metrics). */
void procs_counts(struct server *s, int64_t *running, int64_t *kept);

/* Starts a process in r's (running) container. The caller has done
 * lifecycle_busy_enter for r; on success the process owns that and leaves
 * it when it ends, on failure the caller still does. RESOURCE_EXHAUSTED
 * past the per-session ceiling; UNIMPLEMENTED when the driver has no
 * processes. info is the caller's to procs_info_fini. */
sbxd_code procs_start(struct server *s, const struct session_row *r,
    const struct procs_start_args *a, struct procs_info *info, struct err *e);
/* Infos of session's processes, oldest first: *out (free with
 * procs_infos_free) and *n. */
sbxd_code procs_list(struct server *s, const char *session, struct procs_info **out,
    size_t *n, struct err *e);
void procs_infos_free(struct procs_info *v, size_t n);
void procs_info_fini(struct procs_info *info);
/* Waits up to timeout_ms for the process to end; *timed_out when it has
 * not. The timeout is clamped to the configured ceiling; a wait beyond
 * the ceiling on concurrent waits is RESOURCE_EXHAUSTED. NOT_FOUND for an
 * id the session has no process under. */
sbxd_code procs_wait(struct server *s, const char *session, const char *id,
    uint64_t timeout_ms, struct procs_info *info, int *timed_out, struct err *e);
/* Sends sig to the process's whole process group (id), or to those of
 * every process of the session (id NULL); an ended process's group is
 * still signalled when it left children behind in it. *n is how many
 * processes had any part signalled. A SIGKILL returns only once every
 * process it reached running has been seen to end (KILLED in
 * procs_list/procs_wait), waiting up to wait_ms and sending KILL again
 * to what its group forked meanwhile; DEADLINE_EXCEEDED when one still
 * runs then (the signal was sent). FAILED_PRECONDITION when id names a
 * process that had ended before the call: one sbx had KILLed (so a second
 * KILL answers that, what is left of its group still gets the signal), or
 * one that ended by itself and left nothing of its group (what it left is
 * signalled, OK). */
sbxd_code procs_signal(struct server *s, const char *session, const char *id,
    int sig, uint64_t wait_ms, unsigned *n, struct err *e);
/* Writes n bytes to the process's stdin (all of them, or an error). */
sbxd_code procs_send_stdin(struct server *s, const char *session, const char *id,
    const void *data, size_t n, struct err *e);
sbxd_code procs_close_stdin(struct server *s, const char *session, const char *id,
    struct err *e);
/* Takes the output no read has taken yet: *out (malloc'd, free it; NULL
 * when *n is 0). When more arrived than the buffer holds, the oldest part
 * was dropped and a line saying how much starts *out. */
sbxd_code procs_read_output(struct server *s, const char *session, const char *id,
    void **out, size_t *n, struct procs_info *info, struct err *e);
/* The engine says container is not running (session_note_exit): the
 * processes that ran in it are over, whether or not their streams say so.
 * Under gVisor an engine exec's stream stays open when the sandbox is
 * killed from the host (an OOM kill of runsc, a fork bomb at the pids
 * limit): runsc's exec reports "urpc method containerManager.WaitPID
 * failed: EOF" on it and the engine never ends it, so without this such a
 * process ran on in sbx's records forever. They are asked about at once;
 * one the engine still calls running, no longer knows, or saw fail under
 * runsc (exit code 128) is recorded killed with its container (137). */
void procs_container_stopped(struct server *s, const char *container);
/* The session ends (reason, a static string, goes in the events, e.g.
 * "session ended"): kills its running processes and returns once they
 * have ended (bounded; a process still running then is logged), and
 * forgets their records. */
void procs_session_end(struct server *s, const char *session, const char *reason);

#endif
