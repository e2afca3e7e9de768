/*
 * snapshot_recover.c — what interrupted snapshots and deletes leave, found
 * and removed at start (see snapshot.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "snapcopy.h"
#include "snapshot.h"
#include "snapshot_int.h"

#define RECOVER_MAX 256         /* pending snapshots handled per start */

struct recover {
	struct server *s;
	int dirs, images, thawed;
};

/* 1 when id names a ready snapshot (or the store cannot say: keep). */
static int
is_ready(struct server *s, const char *id)
{
	struct store_snapshot *p = malloc(sizeof(*p));
	struct err e;
	sbxd_code rv;
	int ready;

	if (p == NULL)
		return 1;
	rv = store_snapshot_get(s->store, id, p, &e);
	ready = rv == SBXD_OK ? p->ready : rv != SBXD_NOT_FOUND;
	free(p);
	return ready;
}

/* Thaws the container of pending snapshot p's session, removes p's
 * directories and image, forgets it. */
static void
recover_pending(struct recover *rc, const struct store_snapshot *p)
{
	struct server *s = rc->s;
	char dir[STORE_PATH_MAX], tmp[STORE_PATH_MAX], name[STORE_ID_MAX + 8];
	struct session_row r;
	struct err e;

	if (store_session_get(s->store, p->session, &r, &e) == SBXD_OK &&
	    r.container_id[0] != '\0' && s->drv->ops->unpause != NULL &&
	    s->drv->ops->unpause(s->drv, r.container_id, &e) == SBXD_OK) {
		rc->thawed++;
		log_info("recovery: session %s: thawed container %.12s, frozen by an "
		    "interrupted snapshot", r.id, r.container_id);
	}
	snprintf(name, sizeof(name), ".tmp-%s", p->id);
	if (snapshot_path(s, p->id, dir, sizeof(dir), &e) == SBXD_OK &&
	    snapshot_path(s, name, tmp, sizeof(tmp), &e) == SBXD_OK) {
		if (snapcopy_remove(dir, &e) != SBXD_OK || snapcopy_remove(tmp, &e) != SBXD_OK)
			log_warnx("recovery: snapshot %s: %s", p->id, e.msg);
	}
	if (store_snapshot_delete(s->store, p->id, &e) != SBXD_OK)
		log_warnx("recovery: snapshot %s: forgetting it: %s", p->id, e.msg);
	log_info("recovery: removed snapshot %s of session %s, interrupted while being "
	    "made", p->id, p->session);
}

/* Removes directories under snapshots/ that belong to no ready snapshot. */
static void
recover_dirs(struct recover *rc)
{
	char dir[STORE_PATH_MAX], path[STORE_PATH_MAX + 300];
	const char *id;
	struct dirent *de;
	struct err e;
	DIR *d;

	if (snapshot_path(rc->s, NULL, dir, sizeof(dir), &e) != SBXD_OK ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		id = strncmp(de->d_name, ".tmp-", 5) == 0 ? de->d_name + 5 : de->d_name;
		if (id == de->d_name && snapshot_valid_id(id) && is_ready(rc->s, id))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (snapcopy_remove(path, &e) != SBXD_OK)
			log_warnx("recovery: %s", e.msg);
		else
			rc->dirs++;
	}
	closedir(d);
}

static void
recover_image(void *arg, const char *image_id, const char *snap)
{
	struct recover *rc = arg;
	char name[STORE_IMAGE_MAX];
	int used = 1;
	struct err e;

	if (snapshot_valid_id(snap) && is_ready(rc->s, snap))
		return;
	snapshot_image_name(snap, name, sizeof(name));
	if (store_image_in_use(rc->s->store, name, &used, &e) != SBXD_OK || used)
		return;       /* a fork still runs from it */
	if (rc->s->drv->ops->image_remove(rc->s->drv, image_id, &e) != SBXD_OK) {
		log_warnx("recovery: removing image %.19s of snapshot %.64s: %s", image_id,
		    snap, e.msg);
		return;
	}
	rc->images++;
}

sbxd_code
snapshot_recover(struct server *s, struct err *e)
{
	struct recover rc = { .s = s };
	struct store_snapshot *v;
	int n = 0;
	sbxd_code rv;

	if ((v = calloc(RECOVER_MAX, sizeof(*v))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	if ((rv = store_snapshot_list(s->store, NULL, NULL, 0, v, RECOVER_MAX, &n, e)) != SBXD_OK)
		goto out;
	for (int i = 0; i < n; i++)
		recover_pending(&rc, &v[i]);
	recover_dirs(&rc);
	if (s->drv->ops->image_list != NULL &&
	    s->drv->ops->image_list(s->drv, "sbx.instance", s->instance, "sbx.snapshot",
	    recover_image, &rc, e) != SBXD_OK) {
		log_warnx("recovery: listing snapshot images: %s (the next start retries)",
		    e->msg);
		err_clear(e);
	}
	if (n + rc.dirs + rc.images + rc.thawed > 0)
		log_info("recovery: snapshots: %d interrupted, %d directories and %d images "
		    "of no snapshot removed, %d containers thawed", n, rc.dirs, rc.images,
		    rc.thawed);
out:
	free(v);
	return rv;
}
