/*
 * lifecycle.h — what keeps sessions healthy over days: activity tracking,
 * the idle reaper and capacity (session_reaper.c), and recovery after
 * restarts of sbxd or Docker plus token rotation (session_recover.c).
 * session.c and the handlers call these hooks; the policies live here.
 */
#ifndef SBXD_LIFECYCLE_H
#define SBXD_LIFECYCLE_H

#include "err.h"
#include "server.h"
#include "store.h"

/* ---- session_reaper.c */

/* Marks a command (or other long call) running in session id; the reaper
 * and capacity never stop a session while any is running. */
void lifecycle_busy_enter(struct server *s, const char *id);
void lifecycle_busy_leave(struct server *s, const char *id);
/* Before a container of user starts (create or wake): makes room under the
 * configured ceilings, stopping the least recently used idle session if
 * needed; RESOURCE_EXHAUSTED with a clear message when nothing can be
 * stopped. except is a session id never to stop (the one being woken). */
sbxd_code lifecycle_make_room(struct server *s, const char *user, const char *except,
    struct err *e);
/* Stops sessions idle longer than their own timeout (max_idle_ms 0) or
 * than max_idle_ms; fills up to max ids (each STORE_ID_MAX bytes) into ids
 * and returns how many were stopped in *n. */
sbxd_code lifecycle_reap(struct server *s, uint64_t max_idle_ms, char (*ids)[STORE_ID_MAX],
    int max, int *n, struct err *e);
/* Starts / stops the background reaper thread (every reap_interval). */
sbxd_code lifecycle_reaper_start(struct server *s, struct err *e);
void lifecycle_reaper_stop(struct server *s);

/* ---- session_recover.c */

/* At start: re-adopts the containers of live sessions (found by label),
 * removes containers of this sbxd that belong to no live session, and
 * marks sessions left CREATING by a crash FAILED. Logs what it did. */
sbxd_code lifecycle_recover(struct server *s, struct err *e);
/* r's container is gone (removed outside sbx, or lost with Docker's
 * state): creates and starts a new one for the same session and workspace,
 * updating r and the store. */
sbxd_code lifecycle_heal(struct server *s, struct session_row *r, struct err *e);

#endif
