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

/* The in-memory state of this section (s->life), made by server_open and
 * freed by server_close (which stops the reaper thread first). */
sbxd_code lifecycle_open(struct server *s, struct err *e);
void lifecycle_close(struct server *s);
/* Marks a command (or other long call) running in session id; the reaper
 * and capacity never stop a session while any is running. Enter waits
 * while a stop of the session is under way, so call it before
 * session_ensure_running, which then sees the session STOPPED and wakes
 * it. Every enter needs one leave. */
void lifecycle_busy_enter(struct server *s, const char *id);
/* Returns 1 when an EndSession of id began while this call was busy
 * (lifecycle_note_end), else 0. */
int lifecycle_busy_leave(struct server *s, const char *id);
/* session_end: ending 1 before it removes id's container, so the calls
 * busy in id learn at their leave that the session ended under them; 0
 * again if the end failed. Only calls busy now are marked. */
void lifecycle_note_end(struct server *s, const char *id, int ending);
/* Before a container of user starts (create or wake): makes room under the
 * configured ceilings, stopping the least recently used idle session if
 * needed; RESOURCE_EXHAUSTED with a clear message when nothing can be
 * stopped. except is a session id never to stop (the one being woken).
 * On success a start is reserved for user until lifecycle_start_done;
 * may wait for other starts in flight, so never call it while holding a
 * reservation of one's own. */
sbxd_code lifecycle_make_room(struct server *s, const char *user, const char *except,
    struct err *e);
/* Once per successful lifecycle_make_room, one of these ends the start:
 * lifecycle_start_land when it succeeded — it writes r (state RUNNING) to
 * the store and releases the start as one step, so capacity never counts
 * the session twice (as running and as starting) nor not at all; the
 * start is released even when the write fails — or lifecycle_start_done
 * when it failed and no row says RUNNING. */
sbxd_code lifecycle_start_land(struct server *s, const struct session_row *r, struct err *e);
void lifecycle_start_done(struct server *s, const char *user);
/* Stops up to max sessions idle longer than their own timeout (max_idle_ms
 * 0) or than max_idle_ms, least recently active first, none busy (state
 * STOPPED, stop_reason "idle"); their ids (each STORE_ID_MAX bytes) go to
 * ids, their count to *n. Stops that fail are logged and skipped; the
 * error is returned only when every attempt failed. */
sbxd_code lifecycle_reap(struct server *s, uint64_t max_idle_ms, char (*ids)[STORE_ID_MAX],
    int max, int *n, struct err *e);
/* Which sessions a scoped reap may stop: those carrying every one of
 * labels (nlabels 0: any) and, when nusers > 0, belonging to one of
 * users. Validated by the caller. */
struct lifecycle_scope {
	const struct session_label *labels;
	int nlabels;
	const char *const *users;
	size_t nusers;
};
/* lifecycle_reap limited to the sessions scope admits (NULL: all). */
sbxd_code lifecycle_reap_scoped(struct server *s, uint64_t max_idle_ms,
    const struct lifecycle_scope *scope, char (*ids)[STORE_ID_MAX], int max, int *n,
    struct err *e);
/* Starts / stops the background reaper thread (every reap_interval; not
 * at all when it is 0). Stop is prompt and fine to call when not started. */
sbxd_code lifecycle_reaper_start(struct server *s, struct err *e);
void lifecycle_reaper_stop(struct server *s);

/* ---- session_recover.c */

/* At start: re-adopts the containers of live sessions (found by label),
 * removes containers of this sbxd that belong to no live session (idle
 * warm-pool ones are left to pool_start), marks sessions left CREATING by
 * a crash FAILED, then starts the warm pool (pool_start). Logs what it
 * did. */
sbxd_code lifecycle_recover(struct server *s, struct err *e);
/* r's container is gone (removed outside sbx, or lost with Docker's
 * state): creates and starts a new one for the same session and workspace,
 * updating r and the store. */
sbxd_code lifecycle_heal(struct server *s, struct session_row *r, struct err *e);
/* Starts a thread removing the temporary files interrupted writes left in
 * every workspace (those modified before this call; see session_recover.c)
 * and logging how many; lifecycle_sweep_stop (fine when not started) stops
 * and joins it. */
sbxd_code lifecycle_sweep_start(struct server *s, struct err *e);
void lifecycle_sweep_stop(struct server *s);

/* ---- session_events.c */

/* Starts the thread acting on the engine's container events (oom: a log
 * event; die: the session STOPPED with why, and a log event), reconnecting
 * with `since` across engine restarts; OK and nothing when the driver has
 * no events. lifecycle_events_stop (fine when not started) stops and joins
 * it; server_close calls it before the driver goes. */
sbxd_code lifecycle_events_start(struct server *s, struct err *e);
void lifecycle_events_stop(struct server *s);

#endif
