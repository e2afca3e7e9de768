/*
 * snapshot.h — a session's state captured at one instant, forks made from
 * it and sessions put back to it.
 *
 * What a snapshot keeps: the session's workspace, always (a copy under
 * {state_dir}/snapshots/{id}/workspace that shares data with the original
 * where the filesystem reflinks); and, when the session's root filesystem
 * is writable (a writable_rootfs runtime), the container's own changes,
 * committed to the local image sbx/snapshot:{id} (labelled sbx.snapshot and
 * sbx.instance for recovery). tmpfs mounts (/tmp always; the home on a
 * read-only root) are memory and are not kept. The running container is
 * frozen with the engine's pause (the cgroup freezer) from before the
 * workspace copy until after the commit, so both are of one instant.
 *
 * Crash safety: a snapshot is recorded "pending" before anything is made,
 * built in {state_dir}/snapshots/.tmp-{id}, renamed into place and only
 * then marked ready. snapshot_recover (at start) removes what pending
 * snapshots left (directories, images) and thaws a container a crash left
 * frozen; directories and images of no snapshot at all go too.
 */
#ifndef SBXD_SNAPSHOT_H
#define SBXD_SNAPSHOT_H

#include "err.h"
#include "server.h"
#include "store.h"

/* Test hook: when this environment variable names a file, a snapshot
 * creates "<file>.held" once it has everything made but not yet recorded
 * ready (its container still frozen), then waits until <file> exists. */
#define SNAPSHOT_HOLD_ENV "SBXD_TEST_SNAPSHOT_HOLD"
/* The same for a fork or restore: held once the snapshot's workspace has
 * been copied out, the snapshot still in use. */
#define SNAPSHOT_FORK_HOLD_ENV "SBXD_TEST_FORK_HOLD"

/* 1 when name matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (no path
 * characters, never "." or ".."). */
int snapshot_valid_name(const char *name);
/* 1 when id has the shape snapshot ids have ("snap-" + 16 hex). */
int snapshot_valid_id(const char *id);

/* Snapshots session r (RUNNING or STOPPED; FAILED_PRECONDITION for ended
 * or failed ones) into *out. RESOURCE_EXHAUSTED over the user's quota,
 * naming snapshots to delete; ALREADY_EXISTS for a name the user has;
 * nothing is left behind on failure. */
sbxd_code snapshot_take(struct server *s, const struct session_row *r, const char *name,
    const struct session_label *labels, int nlabels, struct store_snapshot *out,
    struct err *e);
/* Deletes snapshot id: its record, its workspace copy and, once no
 * session runs from it, its image. FAILED_PRECONDITION while a fork or a
 * restore is copying from it. */
sbxd_code snapshot_delete(struct server *s, const char *id, struct err *e);

/* Holds snapshot id (ready) against deletion while a fork or restore
 * copies from it, filling *out; NOT_FOUND when there is no ready one.
 * Every successful use needs one snapshot_unuse. */
sbxd_code snapshot_use(struct server *s, const char *id, struct store_snapshot *out,
    struct err *e);
void snapshot_unuse(const char *id);
/* Makes the directory dst (mode 0700; made here unless the caller made it
 * empty, e.g. to mount a filesystem on it) a copy of p's workspace; on
 * failure what it put there is gone, and dst too unless it is a mount. */
sbxd_code snapshot_copy_workspace(struct server *s, const struct store_snapshot *p,
    const char *dst, struct err *e);
/* Puts session r back to p (held with snapshot_use): its processes end,
 * its workspace's contents become p's (every session sharing that
 * workspace sees them), and a new container is made from p's image (its
 * runtime's when p kept no layer) and started. r is updated. */
sbxd_code snapshot_restore(struct server *s, struct session_row *r,
    const struct store_snapshot *p, struct err *e);
/* Session id has ended: the image it ran from goes when nothing else
 * needs it. Failures are logged. */
void snapshot_session_ended(struct server *s, const char *id);
/* At start, before containers are adopted: see above. Logs what it did;
 * returns an error only when the store cannot be read. */
sbxd_code snapshot_recover(struct server *s, struct err *e);

#endif
