/*
 * snapshot_restore.c — copies out of a snapshot: a fork's workspace, and
 * a session put back to a snapshot (see snapshot.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lifecycle.h"
#include "log.h"
#include "logbus.h"
#include "pool.h"
#include "procs.h"
#include "session.h"
#include "snapcopy.h"
#include "snapshot.h"
#include "snapshot_int.h"

/* Opens p's workspace copy as a directory into *fd; a copy that cannot be
 * opened is SBXD_DATA_LOSS, naming what to do, with *fd left -1. */
static sbxd_code
open_snapshot_workspace(struct server *s, const struct store_snapshot *p, int *fd,
    struct err *e)
{
	char src[STORE_PATH_MAX + 16];
	sbxd_code rv;

	*fd = -1;
	if ((rv = snapshot_path(s, p->id, src, sizeof(src) - 16, e)) != SBXD_OK)
		return rv;
	strcat(src, "/workspace");
	if ((*fd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return err_set(e, SBXD_DATA_LOSS, "snapshot %s: its workspace copy %s cannot be "
		    "opened: %s; delete the snapshot", p->id, src, strerror(errno));
	return SBXD_OK;
}

sbxd_code
snapshot_copy_workspace(struct server *s, const struct store_snapshot *p, const char *dst,
    struct err *e)
{
	struct snapcopy_stats st = { 0 };
	int sfd = -1, dfd = -1;
	sbxd_code rv;

	if ((rv = open_snapshot_workspace(s, p, &sfd, e)) != SBXD_OK)
		return rv;
	if ((mkdir(dst, 0700) != 0 && errno != EEXIST) ||
	    (dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rv = err_set(e, SBXD_INTERNAL, "making %s: %s", dst, strerror(errno));
		goto out;
	}
	if ((rv = snapcopy_dir(sfd, dfd, &st, e)) == SBXD_OK &&
	    fchown(dfd, s->cfg->sandbox_uid, s->cfg->sandbox_gid) != 0)
		log_warn("workspace %s: chown to %d:%d", dst, (int)s->cfg->sandbox_uid,
		    (int)s->cfg->sandbox_gid);
	if (rv == SBXD_OK)
		snapshot_test_hold(SNAPSHOT_FORK_HOLD_ENV, p->id);
out:
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	if (rv != SBXD_OK && dfd >= 0) {
		struct err ignored;

		snapcopy_remove(dst, &ignored);
	}
	return rv;
}

/* Replaces what workspace holds with p's workspace copy, in place (the
 * directory stays: other sessions of the user and pool slots bind it). */
static sbxd_code
refill_workspace(struct server *s, const char *workspace, const struct store_snapshot *p,
    struct err *e)
{
	struct snapcopy_stats st = { 0 };
	int sfd = -1, dfd = -1;
	sbxd_code rv;

	if ((rv = open_snapshot_workspace(s, p, &sfd, e)) != SBXD_OK)
		return rv;
	if ((dfd = open(workspace, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rv = err_set(e, SBXD_INTERNAL, "opening workspace %s: %s", workspace,
		    strerror(errno));
		goto out;
	}
	if ((rv = snapcopy_clear(dfd, e)) == SBXD_OK)
		rv = snapcopy_dir(sfd, dfd, &st, e);
out:
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	return rv;
}

/* Ends r's container and processes, refills the workspace, makes the new
 * container. Called with the session's lock and busy mark held; room: a
 * start was reserved for it (it was STOPPED), landed here on success. */
static sbxd_code
restore_locked(struct server *s, struct session_row *cur, const struct store_snapshot *p,
    char *old_image, size_t n, int room, struct err *e)
{
	struct err ignored;
	sbxd_code rv;

	procs_session_end(s, cur->id, "session restored to a snapshot");
	if (cur->container_id[0] != '\0' &&
	    (rv = s->drv->ops->remove(s->drv, cur->container_id, e)) != SBXD_OK)
		return err_wrap(e, "removing the session's container: ");
	pool_slot_release(s, cur->id);
	cur->container_id[0] = '\0';
	cur->state = SESSION_STOPPED;
	snprintf(cur->stop_reason, sizeof(cur->stop_reason), "restoring");
	if ((rv = store_session_update(s->store, cur, e)) != SBXD_OK)
		return rv;
	if ((rv = refill_workspace(s, cur->workspace, p, e)) != SBXD_OK)
		return err_wrap(e, "restoring the workspace (restore again to finish): ");
	if (store_session_image_get(s->store, cur->id, old_image, n, &ignored) != SBXD_OK)
		old_image[0] = '\0';
	if ((rv = store_session_image_set(s->store, cur->id, p->image, e)) != SBXD_OK ||
	    (rv = session_container_up(s, cur, e)) != SBXD_OK)
		return rv;
	cur->state = SESSION_RUNNING;
	cur->stop_reason[0] = '\0';
	cur->last_active_ms = server_now_ms();
	if ((rv = room ? lifecycle_start_land(s, cur, e) :
	    store_session_update(s->store, cur, e)) != SBXD_OK)
		s->drv->ops->remove(s->drv, cur->container_id, &ignored);
	return rv;
}

sbxd_code
snapshot_restore(struct server *s, struct session_row *r, const struct store_snapshot *p,
    struct err *e)
{
	pthread_mutex_t *mu = snapshot_session_lock(r->id);
	char old_image[STORE_IMAGE_MAX] = "";
	struct session_row cur;
	int room = 0;
	sbxd_code rv;

	pthread_mutex_lock(mu);
	lifecycle_busy_enter(s, r->id);
	if ((rv = store_session_get(s->store, r->id, &cur, e)) != SBXD_OK ||
	    (rv = snapshot_check_live(&cur, e)) != SBXD_OK)
		goto out;
	if (strcmp(cur.runtime, p->runtime) != 0) {
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "snapshot %s is of runtime %s and "
		    "session %s runs %s; fork the snapshot instead (CreateSession "
		    "from_snapshot)", p->id, p->runtime, cur.id, cur.runtime);
		goto out;
	}
	if (cur.state == SESSION_STOPPED) {
		if ((rv = lifecycle_make_room(s, cur.user, cur.id, e)) != SBXD_OK)
			goto out;
		room = 1;
	}
	rv = restore_locked(s, &cur, p, old_image, sizeof(old_image), room, e);
	if (room && cur.state != SESSION_RUNNING)   /* else landed */
		lifecycle_start_done(s, cur.user);
	if (rv != SBXD_OK)
		goto out;
	if (strcmp(old_image, p->image) != 0)
		snapshot_image_release(s, old_image);
	log_info("session %s of user %s restored to snapshot %s (container %.12s)", cur.id,
	    cur.user, p->id, cur.container_id);
	logbus_emitf(s, cur.id, "", "session restored to snapshot %s", p->id);
	*r = cur;
out:
	lifecycle_busy_leave(s, r->id);
	pthread_mutex_unlock(mu);
	return rv;
}

void
snapshot_session_ended(struct server *s, const char *id)
{
	char image[STORE_IMAGE_MAX];
	struct err e;

	if (store_session_image_get(s->store, id, image, sizeof(image), &e) == SBXD_OK)
		snapshot_image_release(s, image);
}
