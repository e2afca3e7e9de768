/*
 * snapshot.c — taking, deleting and recovering snapshots, and the copies
 * forks and restores make from them (see snapshot.h).
 *
 * Order of a snapshot: check the quota and record it pending (under one
 * lock, so concurrent snapshots of a user cannot both slip under it);
 * make {state_dir}/snapshots/.tmp-{id}; freeze the container; copy the
 * workspace; commit the container layer (writable roots only); thaw;
 * rename the directory to {id}; mark the record ready. Any failure undoes
 * what was made, thawing first.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lifecycle.h"
#include "log.h"
#include "logbus.h"
#include "pool.h"
#include "procs.h"
#include "runtime.h"
#include "session.h"
#include "snapcopy.h"
#include "snapshot.h"
#include "snapshot_int.h"
#include "monotime.h"

#define SNAP_PREFIX "snap-"
#define SNAP_IMAGE_REPO "sbx/snapshot"
#define USES_MAX 256            /* snapshots held by forks and restores at once */
#define LOCKS 64                /* per-session snapshot locks (hashed) */
#define QUOTA_NAMES 3           /* snapshots a quota error names */

/* Snapshots held by forks and restores, and ones being deleted. One sbxd
 * serves one store, so this table is per process. */
static struct {
	pthread_mutex_t mu;
	struct {
		char id[STORE_ID_MAX];
		int uses;
		int deleting;
	} v[USES_MAX];
} held = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Snapshots and restores of one session are serialized (a second pause
 * of a frozen container would fail); quota checks and inserts too. */
static pthread_mutex_t session_locks[LOCKS];
static pthread_mutex_t quota_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t locks_once = PTHREAD_ONCE_INIT;

static void
locks_init(void)
{
	for (int i = 0; i < LOCKS; i++)
		pthread_mutex_init(&session_locks[i], NULL);
}

pthread_mutex_t *
snapshot_session_lock(const char *id)
{
	unsigned h = 5381;

	pthread_once(&locks_once, locks_init);
	for (const char *p = id; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return &session_locks[h % LOCKS];
}

int
snapshot_valid_name(const char *name)
{
	return session_valid_user(name, strlen(name));
}

int
snapshot_valid_id(const char *id)
{
	size_t n = strlen(SNAP_PREFIX);

	if (strncmp(id, SNAP_PREFIX, n) != 0 || strlen(id) != n + 16)
		return 0;
	return strspn(id + n, "0123456789abcdef") == 16;
}

int64_t
snapshot_mono_ms(void)
{
	return (int64_t)monotime_ms();
}

/* {state_dir}/snapshots[/name] into out. */
sbxd_code
snapshot_path(struct server *s, const char *name, char *out, size_t n, struct err *e)
{
	int w = name ? snprintf(out, n, "%s/snapshots/%s", s->cfg->state_dir, name) :
	    snprintf(out, n, "%s/snapshots", s->cfg->state_dir);

	if (w < 0 || (size_t)w >= n)
		return err_set(e, SBXD_INVALID_ARGUMENT, "state_dir is too long for snapshots");
	return SBXD_OK;
}

void
snapshot_image_name(const char *id, char *out, size_t n)
{
	snprintf(out, n, "%s:%s", SNAP_IMAGE_REPO, id);
}

/* Removes image unless a snapshot or a live session still names it. */
void
snapshot_image_release(struct server *s, const char *image)
{
	struct err e;
	int used = 1;

	if (image[0] == '\0' || s->drv->ops->image_remove == NULL)
		return;
	if (store_image_in_use(s->store, image, &used, &e) != SBXD_OK) {
		log_warnx("snapshot image %s kept: %s", image, e.msg);
		return;
	}
	if (used)
		return;
	if (s->drv->ops->image_remove(s->drv, image, &e) != SBXD_OK)
		log_warnx("removing snapshot image %s: %s (the next start retries)", image, e.msg);
	else
		log_info("snapshot image %s removed", image);
}

/* ---- the quota */

/* RESOURCE_EXHAUSTED naming up to QUOTA_NAMES of user's oldest snapshots. */
static sbxd_code
quota_err(struct server *s, const char *user, const char *what, struct err *e)
{
	struct store_snapshot *v;
	char names[QUOTA_NAMES * (STORE_ID_MAX + STORE_NAME_MAX + 8)] = "";
	int n = 0;
	struct err ignored;

	if ((v = calloc(QUOTA_NAMES, sizeof(*v))) != NULL &&
	    store_snapshot_list(s->store, user, NULL, 1, v, QUOTA_NAMES, &n, &ignored) == SBXD_OK)
		for (int i = 0; i < n; i++) {
			size_t len = strlen(names);

			snprintf(names + len, sizeof(names) - len, "%s%s%s%s%s", i ? ", " : "",
			    v[i].id, v[i].name[0] ? " (" : "", v[i].name, v[i].name[0] ? ")" : "");
		}
	free(v);
	return err_set(e, SBXD_RESOURCE_EXHAUSTED, "user %s is at the snapshot quota (%s); "
	    "delete snapshots first (DeleteSnapshot, `sbx snapshot rm ID`)%s%s", user, what,
	    n ? ", the oldest being: " : "", names);
}

/* Checks user's quota with extra bytes to come, holding quota_mu. */
static sbxd_code
quota_check(struct server *s, const char *user, int64_t extra, int counting_new,
    struct err *e)
{
	const struct config *c = s->cfg;
	char what[128];
	int64_t bytes = 0;
	int count = 0;
	sbxd_code rv;

	if ((rv = store_snapshot_usage(s->store, user, &count, &bytes, e)) != SBXD_OK)
		return rv;
	if (c->snapshot_max_per_user > 0 && count + counting_new > c->snapshot_max_per_user) {
		snprintf(what, sizeof(what), "%d snapshots, snapshot_max_per_user %d", count,
		    c->snapshot_max_per_user);
		return quota_err(s, user, what, e);
	}
	if (c->snapshot_max_bytes_per_user > 0 &&
	    bytes + extra > c->snapshot_max_bytes_per_user) {
		snprintf(what, sizeof(what), "%lld bytes%s, snapshot_max_bytes_per_user %lld",
		    (long long)(bytes + extra), extra ? " with this one" : "",
		    (long long)c->snapshot_max_bytes_per_user);
		return quota_err(s, user, what, e);
	}
	return SBXD_OK;
}

/* ---- taking one */

struct take {
	struct server *s;
	struct session_row r;
	struct runtime rt;
	struct store_snapshot *p;
	char tmp[STORE_PATH_MAX];     /* .tmp-{id} */
	int frozen;
	int64_t frozen_at;
	int64_t copy_at, sync_at, commit_at;   /* when each step began (logged) */
	int sfd, dfd;                 /* the workspace and its copy, while copying */
	struct timespec since;        /* when the first pass began (realtime) */
	struct snapcopy_stats st;
};

/* The test hooks (snapshot.h): wait, looking every 20 ms, for the go file. */
void
snapshot_test_hold(const char *env, const char *id)
{
	const char *f = getenv(env);
	char held_path[STORE_PATH_MAX];
	int fd;

	if (f == NULL || *f == '\0')
		return;
	snprintf(held_path, sizeof(held_path), "%s.held", f);
	if ((fd = open(held_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	log_info("snapshot %s: held by %s until %s exists", id, env, f);
	while (access(f, F_OK) != 0)
		nanosleep(&(struct timespec){ 0, 20 * 1000000 }, NULL);
}

static sbxd_code
freeze(struct take *t, struct err *e)
{
	struct driver *d = t->s->drv;
	sbxd_code rv;

	if (t->r.state != SESSION_RUNNING || t->r.container_id[0] == '\0')
		return SBXD_OK;       /* a stopped session has nothing running */
	if (d->ops->pause == NULL)
		return err_set(e, SBXD_UNIMPLEMENTED, "this container driver cannot freeze "
		    "a session for a snapshot");
	t->frozen_at = snapshot_mono_ms();
	if ((rv = d->ops->pause(d, t->r.container_id, e)) == SBXD_FAILED_PRECONDITION) {
		err_clear(e);         /* it stopped meanwhile: nothing runs */
		return SBXD_OK;
	}
	if (rv != SBXD_OK)
		return err_wrap(e, "freezing the session: ");
	t->frozen = 1;
	return SBXD_OK;
}

static void
thaw(struct take *t)
{
	struct err e;

	if (!t->frozen)
		return;
	if (t->s->drv->ops->unpause(t->s->drv, t->r.container_id, &e) != SBXD_OK)
		log_warnx("session %s: thawing container %.12s: %s", t->r.id,
		    t->r.container_id, e.msg);
	t->frozen = 0;
	t->p->frozen_ms = snapshot_mono_ms() - t->frozen_at;
}

/* The first pass, with the session running: a copy of the workspace
 * into t->tmp/workspace, both directories left open in t. */
static sbxd_code
precopy_workspace(struct take *t, struct err *e)
{
	char dst[STORE_PATH_MAX + 16];
	struct snapcopy_stats pre = { 0 };
	struct timespec now;
	sbxd_code rv;

	snprintf(dst, sizeof(dst), "%s/workspace", t->tmp);
	if ((t->sfd = open(t->r.workspace, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return err_set(e, errno == ENOENT ? SBXD_FAILED_PRECONDITION : SBXD_INTERNAL,
		    "opening workspace %s: %s", t->r.workspace, strerror(errno));
	if (mkdir(dst, 0700) != 0 ||
	    (t->dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return err_set(e, SBXD_INTERNAL, "making %s: %s", dst, strerror(errno));
	/* ctimes are kept with the kernel's coarse clock: a margin so an
	 * inode changed just as the pass began is taken again */
	clock_gettime(CLOCK_REALTIME, &now);
	t->since = (struct timespec){ now.tv_sec - 2, now.tv_nsec };
	rv = snapcopy_dir(t->sfd, t->dfd, &pre, e);
	t->st.reflinked = pre.reflinked;
	return rv;
}

/* The second pass, frozen: what changed since the first began. */
static sbxd_code
sync_workspace(struct take *t, struct err *e)
{
	struct stat st;
	sbxd_code rv;

	if ((rv = snapcopy_sync(t->sfd, t->dfd, &t->since, &t->st, e)) != SBXD_OK)
		return rv;
	/* the root keeps its owner and mode too */
	if (fstat(t->sfd, &st) == 0) {
		if (fchown(t->dfd, st.st_uid, st.st_gid) != 0) {
			/* not root: stays sbxd's */
		}
		fchmod(t->dfd, st.st_mode & 07777);
	}
	t->p->workspace_bytes = t->st.bytes;
	return SBXD_OK;
}

/* Commits the container's layer to sbx/snapshot:{id} when the session's
 * root is writable and its container exists. */
static sbxd_code
commit_layer(struct take *t, struct err *e)
{
	const struct config *c = t->s->cfg;
	struct driver *d = t->s->drv;
	struct driver_label labels[] = {
		{ "sbx.snapshot", t->p->id }, { "sbx.instance", t->s->instance },
		{ "sbx.user", t->p->user },
		/* blanked: a container made from this image is not a pool
		 * member nor the original session's */
		{ "sbx.pool", "" }, { "sbx.session", "" },
	};
	const char *env[RUNTIME_ENV_MAX + 1];
	char user[32];
	struct driver_commit_spec spec = { .repo = SNAP_IMAGE_REPO, .tag = t->p->id,
	    .user = user, .workdir = t->rt.work_dir, .env = env, .labels = labels,
	    .nlabels = sizeof(labels) / sizeof(labels[0]) };
	sbxd_code rv;

	if ((c->readonly_rootfs && !t->rt.writable_rootfs) || t->r.container_id[0] == '\0')
		return SBXD_OK;
	if (d->ops->commit == NULL)
		return err_set(e, SBXD_UNIMPLEMENTED, "this container driver cannot commit a "
		    "container layer");
	snprintf(user, sizeof(user), "%d:%d", (int)c->sandbox_uid, (int)c->sandbox_gid);
	for (int i = 0; i < t->rt.nenv; i++)
		env[i] = t->rt.env[i];
	env[t->rt.nenv] = NULL;
	snapshot_image_name(t->p->id, t->p->image, sizeof(t->p->image));
	if ((rv = d->ops->commit(d, t->r.container_id, &spec, e)) != SBXD_OK) {
		t->p->image[0] = '\0';
		return err_wrap(e, "committing the container layer: ");
	}
	return SBXD_OK;
}

/* The layer's size: the image's minus its runtime image's (0 when either
 * cannot be inspected; only the quota uses it). */
static void
measure_layer(struct take *t)
{
	struct driver *d = t->s->drv;
	char base[STORE_IMAGE_MAX];
	int64_t a = 0, b = 0;
	struct err e;

	if (t->p->image[0] == '\0' || d->ops->image_size == NULL)
		return;
	if (store_session_image_get(t->s->store, t->r.id, base, sizeof(base), &e) != SBXD_OK)
		snprintf(base, sizeof(base), "%s", t->rt.image);
	if (d->ops->image_size(d, t->p->image, &a, &e) == SBXD_OK &&
	    d->ops->image_size(d, base, &b, &e) == SBXD_OK && a > b)
		t->p->layer_bytes = a - b;
}

/* Undoes what t made (thawing first) and forgets the record. */
static void
take_undo(struct take *t)
{
	char dir[STORE_PATH_MAX];
	struct err e;

	thaw(t);
	if (t->tmp[0] != '\0' && snapcopy_remove(t->tmp, &e) != SBXD_OK)
		log_warnx("snapshot %s: %s (the next start removes it)", t->p->id, e.msg);
	if (snapshot_path(t->s, t->p->id, dir, sizeof(dir), &e) == SBXD_OK &&
	    snapcopy_remove(dir, &e) != SBXD_OK)
		log_warnx("snapshot %s: %s (the next start removes it)", t->p->id, e.msg);
	if (t->p->image[0] != '\0' &&
	    t->s->drv->ops->image_remove(t->s->drv, t->p->image, &e) != SBXD_OK)
		log_warnx("snapshot %s: removing image %s: %s (the next start removes it)",
		    t->p->id, t->p->image, e.msg);
	if (store_snapshot_delete(t->s->store, t->p->id, &e) != SBXD_OK)
		log_warnx("snapshot %s: forgetting it: %s", t->p->id, e.msg);
}

/* Records the snapshot pending, within the quota. */
static sbxd_code
reserve(struct take *t, const char *name, const struct session_label *labels, int nlabels,
    struct err *e)
{
	struct store_snapshot *p = t->p;
	sbxd_code rv;

	memset(p, 0, sizeof(*p));
	memcpy(p->id, SNAP_PREFIX, strlen(SNAP_PREFIX));
	auth_random_hex(p->id + strlen(SNAP_PREFIX), 8);
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	snprintf(p->user, sizeof(p->user), "%s", t->r.user);
	snprintf(p->session, sizeof(p->session), "%s", t->r.id);
	snprintf(p->runtime, sizeof(p->runtime), "%s", t->r.runtime);
	p->created_ms = server_now_ms();
	for (int i = 0; i < nlabels && i < STORE_LABEL_MAX; i++)
		p->labels[p->nlabels++] = labels[i];
	pthread_mutex_lock(&quota_mu);
	if ((rv = quota_check(t->s, p->user, 0, 1, e)) == SBXD_OK)
		rv = store_snapshot_insert(t->s->store, p, e);
	pthread_mutex_unlock(&quota_mu);
	return rv;
}

/* Freeze, copy, commit, thaw, into t->tmp. */
static sbxd_code
capture(struct take *t, struct err *e)
{
	char dir[STORE_PATH_MAX], name[STORE_ID_MAX + 8];
	sbxd_code rv;

	snprintf(name, sizeof(name), ".tmp-%s", t->p->id);
	if ((rv = snapshot_path(t->s, NULL, dir, sizeof(dir), e)) != SBXD_OK ||
	    (rv = snapshot_path(t->s, name, t->tmp, sizeof(t->tmp), e)) != SBXD_OK)
		return rv;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(e, SBXD_INTERNAL, "making %s: %s", dir, strerror(errno));
	if (mkdir(t->tmp, 0700) != 0) {
		t->tmp[0] = '\0';
		return err_set(e, SBXD_INTERNAL, "making a snapshot directory in %s: %s", dir,
		    strerror(errno));
	}
	t->copy_at = snapshot_mono_ms();
	if ((rv = precopy_workspace(t, e)) != SBXD_OK)
		return rv;
	t->sync_at = snapshot_mono_ms();
	if ((rv = freeze(t, e)) != SBXD_OK || (rv = sync_workspace(t, e)) != SBXD_OK)
		return rv;
	t->commit_at = snapshot_mono_ms();
	if ((rv = commit_layer(t, e)) != SBXD_OK)
		return rv;
	snapshot_test_hold(SNAPSHOT_HOLD_ENV, t->p->id);
	thaw(t);
	return SBXD_OK;
}

/* Renames t->tmp into place and marks the record ready, within the quota
 * now that the size is known. */
static sbxd_code
publish(struct take *t, struct err *e)
{
	char dir[STORE_PATH_MAX];
	sbxd_code rv;

	measure_layer(t);
	pthread_mutex_lock(&quota_mu);
	rv = quota_check(t->s, t->p->user, t->p->workspace_bytes + t->p->layer_bytes, 0, e);
	pthread_mutex_unlock(&quota_mu);
	if (rv != SBXD_OK || (rv = snapshot_path(t->s, t->p->id, dir, sizeof(dir), e)) != SBXD_OK)
		return rv;
	if (rename(t->tmp, dir) != 0)
		return err_set(e, SBXD_INTERNAL, "renaming %s to %s: %s", t->tmp, dir,
		    strerror(errno));
	t->tmp[0] = '\0';
	t->p->ready = 1;
	return store_snapshot_ready(t->s->store, t->p, e);
}

sbxd_code
snapshot_check_live(const struct session_row *r, struct err *e)
{
	if (r->state == SESSION_RUNNING || r->state == SESSION_STOPPED)
		return SBXD_OK;
	return err_set(e, SBXD_FAILED_PRECONDITION, "session %s has %s; only a running or "
	    "stopped session can be snapshotted or restored (the user's workspace outlives "
	    "it: create a new session and snapshot that)", r->id,
	    r->state == SESSION_ENDED ? "ended" : "failed or is still being created");
}

sbxd_code
snapshot_take(struct server *s, const struct session_row *r, const char *name,
    const struct session_label *labels, int nlabels, struct store_snapshot *out,
    struct err *e)
{
	pthread_mutex_t *mu = snapshot_session_lock(r->id);
	struct take *t;
	sbxd_code rv;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	t->s = s;
	t->sfd = t->dfd = -1;
	t->p = out;
	pthread_mutex_lock(mu);
	lifecycle_busy_enter(s, r->id);   /* no idle stop mid-capture */
	if ((rv = store_session_get(s->store, r->id, &t->r, e)) != SBXD_OK ||
	    (rv = snapshot_check_live(&t->r, e)) != SBXD_OK ||
	    (rv = runtime_get(s, t->r.runtime, &t->rt, e)) != SBXD_OK ||
	    (rv = reserve(t, name, labels, nlabels, e)) != SBXD_OK)
		goto out;
	if ((rv = capture(t, e)) != SBXD_OK || (rv = publish(t, e)) != SBXD_OK) {
		take_undo(t);
		goto out;
	}
	log_info("snapshot %s of session %s (user %s): %lld bytes of workspace in %lld "
	    "entries (first pass %lld ms, %lld reflinked; frozen pass %lld ms, %lld kept, "
	    "%lld copied again), layer %s (%lld bytes), frozen %lld ms", out->id,
	    t->r.id, out->user, (long long)out->workspace_bytes, (long long)t->st.files,
	    (long long)(t->sync_at - t->copy_at), (long long)t->st.reflinked,
	    (long long)(t->commit_at - t->sync_at), (long long)t->st.kept,
	    (long long)(t->st.files - t->st.kept),
	    out->image[0] ? out->image : "not kept", (long long)out->layer_bytes,
	    (long long)out->frozen_ms);
	logbus_emitf(s, t->r.id, "", "snapshot %s taken (frozen %lld ms)", out->id,
	    (long long)out->frozen_ms);
out:
	lifecycle_busy_leave(s, r->id);
	pthread_mutex_unlock(mu);
	if (t->sfd >= 0)
		close(t->sfd);
	if (t->dfd >= 0)
		close(t->dfd);
	free(t);
	return rv;
}

/* ---- holding, deleting */

/* The slot of id in held (NULL when none; a free one with make). Called
 * with held.mu. */
static int
held_slot(const char *id, int make)
{
	int free_slot = -1;

	for (int i = 0; i < USES_MAX; i++) {
		if (held.v[i].id[0] != '\0' && strcmp(held.v[i].id, id) == 0)
			return i;
		if (held.v[i].id[0] == '\0' && free_slot < 0)
			free_slot = i;
	}
	if (make && free_slot >= 0)
		snprintf(held.v[free_slot].id, sizeof(held.v[free_slot].id), "%s", id);
	return make ? free_slot : -1;
}

static void
held_drop_if_idle(int i)
{
	if (held.v[i].uses == 0 && !held.v[i].deleting)
		memset(&held.v[i], 0, sizeof(held.v[i]));
}

sbxd_code
snapshot_use(struct server *s, const char *id, struct store_snapshot *out, struct err *e)
{
	sbxd_code rv;
	int i;

	pthread_mutex_lock(&held.mu);
	if ((i = held_slot(id, 1)) < 0) {
		pthread_mutex_unlock(&held.mu);
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "%d snapshots are being copied "
		    "from at once; retry", USES_MAX);
	}
	if (held.v[i].deleting) {
		pthread_mutex_unlock(&held.mu);
		return err_set(e, SBXD_NOT_FOUND, "snapshot %s is being deleted", id);
	}
	held.v[i].uses++;
	pthread_mutex_unlock(&held.mu);
	if ((rv = store_snapshot_get(s->store, id, out, e)) == SBXD_OK && !out->ready)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "snapshot %s is still being "
		    "made; retry once Snapshot has answered", id);
	if (rv != SBXD_OK)
		snapshot_unuse(id);
	return rv;
}

void
snapshot_unuse(const char *id)
{
	int i;

	pthread_mutex_lock(&held.mu);
	if ((i = held_slot(id, 0)) >= 0) {
		held.v[i].uses--;
		held_drop_if_idle(i);
	}
	pthread_mutex_unlock(&held.mu);
}

sbxd_code
snapshot_delete(struct server *s, const char *id, struct err *e)
{
	struct store_snapshot *p;
	char dir[STORE_PATH_MAX];
	sbxd_code rv;
	int i;

	pthread_mutex_lock(&held.mu);
	if ((i = held_slot(id, 1)) < 0 || held.v[i].uses > 0 || held.v[i].deleting) {
		if (i >= 0)
			held_drop_if_idle(i);
		pthread_mutex_unlock(&held.mu);
		return err_set(e, SBXD_FAILED_PRECONDITION, "snapshot %s is being copied "
		    "from (a fork or a restore) or deleted; retry once that has answered", id);
	}
	held.v[i].deleting = 1;
	pthread_mutex_unlock(&held.mu);
	if ((p = malloc(sizeof(*p))) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory");
		goto out;
	}
	if ((rv = store_snapshot_get(s->store, id, p, e)) != SBXD_OK)
		goto out;
	if (!p->ready) {
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "snapshot %s is still being made; "
		    "retry once Snapshot has answered", id);
		goto out;
	}
	/* the record first: a crash after it leaves files recovery removes */
	if ((rv = store_snapshot_delete(s->store, id, e)) != SBXD_OK ||
	    (rv = snapshot_path(s, id, dir, sizeof(dir), e)) != SBXD_OK)
		goto out;
	if (snapcopy_remove(dir, e) != SBXD_OK)
		log_warnx("snapshot %s: %s (the next start removes it)", id, e->msg);
	err_clear(e);
	snapshot_image_release(s, p->image);
	log_info("snapshot %s of user %s deleted", id, p->user);
out:
	free(p);
	pthread_mutex_lock(&held.mu);
	held.v[i].deleting = 0;
	held_drop_if_idle(i);
	pthread_mutex_unlock(&held.mu);
	return rv;
}
