/*
 * pool.h — the warm pool: per runtime, a few pre-started containers that a
 * CreateSession takes instead of creating one cold.
 *
 * A pooled container is made like any session's (same hardening, labels,
 * limits: the configured defaults) under a session id minted in advance,
 * with an empty slot directory {pool_dir}/{id} at /workspace, mounted with
 * bind propagation rslave from pool_dir, which is an rshared mount. Taking
 * one bind-mounts the user's validated workspace onto the slot: the running
 * container sees the user's files at once. A pooled container serves one
 * session and is removed with it; its slot is unmounted and removed then.
 * The slot of each taken session is recorded in the store, so waking a
 * stopped session (after a host reboot, say) re-binds it first, and a
 * restarted sbxd sweeps slots and pool containers no live session owns.
 *
 * Each (runtime, isolation) has a pool of its own. gVisor's containers see
 * no mount put on the slot after they started (runsc's file server holds
 * the slot directory open from the start), so a gvisor member's slot lives
 * under workspace_root instead, and taking it makes the slot directory
 * itself the user's workspace: only for a workspace the same request has
 * just created (a new user, or one whose workspace was purged), which no
 * other container can hold. Any other gvisor session is created cold, and
 * with workspace_quota (each workspace a filesystem of its own, not a
 * directory that can be renamed) no gvisor pool is kept at all.
 */
#ifndef SBXD_POOL_H
#define SBXD_POOL_H

#include "driver.h"
#include "err.h"
#include "server.h"
#include "store.h"

/* A container taken from the pool, for session_create. */
struct pool_item {
	char id[STORE_ID_MAX];          /* the session id it was made for */
	char container_id[DRIVER_ID_MAX];
	char slot[STORE_PATH_MAX];
	int isolation;                  /* enum isolation */
};

/* Prepares the pool when a runtime has pool_size > 0: pool_dir made, and
 * made an rshared mount (a bind mount of itself) if it is not one. When
 * mounting is not possible (not root, EPERM) logs one warning and leaves
 * s->pool NULL: sessions are created cold. Fails only for out of memory. */
sbxd_code pool_open(struct server *s, struct err *e);
/* Stops the refill thread and removes the pool's idle containers and their
 * slots; sessions taken from it keep theirs. Fine with s->pool NULL. */
void pool_close(struct server *s);
/* After lifecycle_recover, before requests: removes pool containers of
 * this instance that no live session owns, unmounts and removes slots no
 * live session owns (also when the pool is off), then starts the refill
 * thread (when the pool is on). */
sbxd_code pool_start(struct server *s, struct err *e);
/* Stops the refill thread; idle containers stay. Fine to call twice. */
void pool_stop(struct server *s);
/* Takes a ready container of runtime in isolation into *it when the pool
 * has one and the limits asked for are the defaults the pool's containers
 * have (and, for gvisor, fresh_workspace: the caller has just created the
 * workspace); returns 1 then (the caller owns the container and slot),
 * else 0. Never blocks on Docker; wakes the refill thread. */
int pool_take(struct server *s, const char *runtime, int isolation, int64_t memory_bytes,
    int64_t nano_cpus, int64_t pids_limit, int fresh_workspace, struct pool_item *it);
/* How many warm containers are ready, over every runtime (0 when off). */
int pool_ready(struct server *s);
/* An idle pool container died (engine event): takes it out of the pool,
 * removes it and its slot, and wakes the refill thread. Returns 1 when it
 * was an idle member, 0 otherwise (nothing done). */
int pool_forget(struct server *s, const char *container_id);
/* Bind-mounts workspace (the validated per-user path) onto it->slot,
 * nosuid and nodev (gvisor: swaps the slot directory in as the workspace),
 * and records the slot for session it->id. On failure nothing stays
 * mounted or recorded; the caller removes the container and calls
 * pool_slot_release. */
sbxd_code pool_attach(struct server *s, const struct pool_item *it,
    const char *workspace, struct err *e);
/* Before r's container starts again: when r has a slot, makes sure it
 * shows r's workspace (same st_dev/st_ino), binding it again if not (after
 * a host reboot, or an unmount behind our back). OK for cold sessions. */
sbxd_code pool_slot_ensure(struct server *s, const struct session_row *r, struct err *e);
/* After session id's pooled container is gone (ended, or replaced by a
 * heal): unmounts its slot, removes the directory and the record. Logs
 * what fails; a no-op for cold sessions. */
void pool_slot_release(struct server *s, const char *id);

/* Provided by session.c: creates and starts r's container as a pool
 * member (workspace_host = slot, rslave, labelled sbx.pool = runtime);
 * r->id, r->runtime, r->isolation and limits set by the caller; r->container_id set on
 * success, nothing left behind on failure. FAILED_PRECONDITION when the
 * runtime's image is missing. */
sbxd_code session_pool_container_up(struct server *s, struct session_row *r,
    const char *slot, struct err *e);

#endif
