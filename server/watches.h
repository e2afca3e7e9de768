/*
 * watches.h — file watches: inotify on a directory of a session's
 * container, through its in-sandbox agent (agentlink_watch_*).
 *
 * A watch belongs to one session and its id ("w<n>") is only ever looked
 * up together with that session. Its events go to the log bus as
 * LOGBUS_WATCH events under its id, each a packed sbx.v1.WatchEventBatch
 * of at most LOGBUS_EVENT_MAX bytes, with the session's sequence numbers;
 * its end (the directory went, the agent went away) is a LOGBUS_SYSTEM
 * event under its id. Watches die with their container or agent and end
 * with their session (watches_session_end). Records are in memory only.
 */
#ifndef SBXD_WATCHES_H
#define SBXD_WATCHES_H

#include <stdint.h>

#include "err.h"
#include "server.h"
#include "store.h"

#define WATCHES_ID_MAX 24
#define WATCHES_PER_SESSION 4
#define WATCHES_GLOBS_MAX 16
#define WATCHES_GLOB_LEN_MAX 256

struct watches_args {
	const char *path;            /* absolute container path */
	int recursive;
	const char *const *globs;    /* NULL-terminated, or NULL */
};

sbxd_code watches_open(struct server *s, struct err *e);
void watches_close(struct server *s);
/* Starts a watch in r's running container: its id into id, the session's
 * last seq before its events into *after_seq. FAILED_PRECONDITION without
 * an agent, UNAVAILABLE when it is not connected, RESOURCE_EXHAUSTED past
 * WATCHES_PER_SESSION, NOT_FOUND / INVALID_ARGUMENT for the path. */
sbxd_code watches_start(struct server *s, const struct session_row *r,
    const struct watches_args *a, char id[WATCHES_ID_MAX], uint64_t *after_seq,
    struct err *e);
/* Ends a watch; NOT_FOUND for an id the session has no watch under. */
sbxd_code watches_stop(struct server *s, const char *session, const char *id,
    struct err *e);
void watches_session_end(struct server *s, const char *session);

struct Sbx__Agent__V1__WatchEvents;
/* For the fuzz target (tests/fuzz/fuzz_agent_frame_sbxd.c): turns an
 * agent's watch_events frame into log events as a live watch would, on a
 * server with no log bus. */
void watches_fuzz_events(const struct Sbx__Agent__V1__WatchEvents *ev);

#endif
