/*
 * session_recover.c — bringing the store and the containers back into
 * agreement after a restart of sbxd or Docker (lifecycle_recover), and
 * giving a session whose container vanished a new one (lifecycle_heal);
 * see lifecycle.h.
 *
 * The store is the truth about sessions; the sbx.instance label is the
 * truth about which containers this sbxd made. At start, before any
 * request, rows a crash left CREATING are marked FAILED, and every
 * container of this instance that no live row names is removed (build
 * containers of runtime_build.c among them, counted apart). Rows whose
 * container is stopped or missing are left as they are: the next request
 * starts the container (session_exec, session_ensure_running) or heals it,
 * so recovery needs no Docker for anything but the orphans, and a Docker
 * outage at start costs nothing later.
 *
 * Also here: the sweep of crash leftovers. A write interrupted by a kill
 * of sbxd leaves its temporary file (FSOPS_TEMP_PREFIX, or an upload's
 * FSOPS_UPLOAD_PREFIX) in the workspace; it never held acknowledged data.
 * After start a thread walks every workspace (without following symlinks
 * or crossing mounts) and removes such regular files last modified before
 * this sbxd started, so the temporary files of writes now in flight are
 * never touched. Meanwhile fsops keeps those names out of Ls, Glob and
 * Grep.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lifecycle.h"
#include "log.h"
#include "pool.h"
#include "fsops.h"
#include "session.h"
#include "snapshot.h"

#define RECOVER_PAGE 64            /* rows read from the store at a time */
#define HEAL_LOCKS 16

struct recovery {
	struct server *s;
	int sessions;               /* RUNNING or STOPPED rows */
	int adopted;                /* containers named by one of them */
	int orphans;                /* other containers removed */
	int builds;                 /* build containers removed (runtime_build.c) */
	int failed;                 /* CREATING rows marked FAILED */
	int errors;                 /* containers or rows left for next time */
};

static int
live_state(int state)
{
	return state == SESSION_CREATING || state == SESSION_RUNNING ||
	    state == SESSION_STOPPED;
}

/* Calls fn for every row in state, RECOVER_PAGE rows at a time. fn may
 * update the row: the keyset page token survives that. */
static sbxd_code
each_row(struct recovery *rc, int state,
    void (*fn)(struct recovery *, struct session_row *), struct err *e)
{
	struct session_filter f = { .state = state, .limit = RECOVER_PAGE };
	struct session_row *rows;
	char next[STORE_ID_MAX + 32] = "";
	int n = 0;
	sbxd_code rv;

	if ((rows = calloc(RECOVER_PAGE + 1, sizeof(*rows))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory reading sessions");
	f.after = next;
	do {
		if ((rv = store_session_list(rc->s->store, &f, rows, &n, next, sizeof(next), e)) != SBXD_OK)
			break;
		for (int i = 0; i < n; i++)
			fn(rc, &rows[i]);
	} while (next[0] != '\0');
	free(rows);
	return rv;
}

static void
count_row(struct recovery *rc, struct session_row *r)
{
	(void)r;
	rc->sessions++;
}

/* A row left CREATING: sbxd died between reserving it and starting its
 * container. Its container (if the row names one) goes; one the row never
 * learnt of carries the session's label and goes with the orphans. */
static void
fail_interrupted(struct recovery *rc, struct session_row *r)
{
	struct server *s = rc->s;
	struct err e;

	if (r->container_id[0] != '\0') {
		if (s->drv->ops->remove(s->drv, r->container_id, &e) == SBXD_OK)
			r->container_id[0] = '\0';
		else
			log_warnx("recovery: session %s: removing container %.12s: %s",
			    r->id, r->container_id, e.msg);
	}
	r->state = SESSION_FAILED;
	snprintf(r->stop_reason, sizeof(r->stop_reason), "interrupted by a restart");
	r->last_active_ms = server_now_ms();
	if (store_session_update(s->store, r, &e) != SBXD_OK) {
		log_warnx("recovery: session %s: marking it failed: %s", r->id, e.msg);
		rc->errors++;
		return;
	}
	rc->failed++;
	log_info("recovery: session %s of user %s was being created when sbxd stopped; "
	    "marked FAILED", r->id, r->user);
}

static const char *
label_value(const struct driver_label *l, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].key, key) == 0)
			return l[i].value;
	return NULL;
}

/* driver list callback: keeps a container a live row names, removes any
 * other. A row that cannot be read keeps its container (next start
 * decides). */
static void
adopt_or_remove(void *arg, const char *id, const char *state,
    const struct driver_label *l, size_t n)
{
	struct recovery *rc = arg;
	struct server *s = rc->s;
	const char *sid = label_value(l, n, "sbx.session"), *build, *pool;
	struct session_row r;
	struct err e;
	sbxd_code rv = SBXD_NOT_FOUND;

	if (sid != NULL && (rv = store_session_get(s->store, sid, &r, &e)) == SBXD_OK &&
	    live_state(r.state) && strcmp(r.container_id, id) == 0) {
		rc->adopted++;
		if (s->drv->ops->adopt != NULL)
			s->drv->ops->adopt(s->drv, id, sid);
		if (r.state == SESSION_RUNNING && strcmp(state, "running") != 0)
			log_info("recovery: session %s: container %.12s is %s; "
			    "it is started on the next request", r.id, id, state);
		return;
	}
	if (rv != SBXD_OK && rv != SBXD_NOT_FOUND) {
		log_warnx("recovery: container %.12s kept: %s", id, e.msg);
		rc->errors++;
		return;
	}
	if ((pool = label_value(l, n, "sbx.pool")) != NULL && *pool != '\0')
		return;    /* never taken: pool_start removes it and its slot */
	if (s->drv->ops->remove(s->drv, id, &e) != SBXD_OK) {
		log_warnx("recovery: removing orphan container %.12s: %s", id, e.msg);
		rc->errors++;
		return;
	}
	/* A session container of a custom runtime inherits sbx.build from its
	 * image, but it also has sbx.session: only one without is a build. */
	if (sid == NULL && (build = label_value(l, n, "sbx.build")) != NULL) {
		rc->builds++;
		log_info("recovery: removed build container %.12s of runtime %s, left by "
		    "an interrupted build", id, build);
		return;
	}
	rc->orphans++;
	log_info("recovery: removed orphan container %.12s (session %s)", id,
	    sid ? sid : "none");
}

sbxd_code
lifecycle_recover(struct server *s, struct err *e)
{
	struct recovery rc = { .s = s };
	sbxd_code rv;

	/* first: an interrupted snapshot may have left a container frozen */
	if ((rv = snapshot_recover(s, e)) != SBXD_OK)
		return err_wrap(e, "snapshots: ");
	if ((rv = each_row(&rc, SESSION_CREATING, fail_interrupted, e)) != SBXD_OK ||
	    (rv = each_row(&rc, SESSION_RUNNING, count_row, e)) != SBXD_OK ||
	    (rv = each_row(&rc, SESSION_STOPPED, count_row, e)) != SBXD_OK)
		return rv;
	rv = s->drv->ops->list(s->drv, "sbx.instance", s->instance, adopt_or_remove, &rc, e);
	if (rc.builds > 0)
		log_info("recovery: %d build containers of interrupted runtime builds removed",
		    rc.builds);
	log_info("recovery: %d sessions, %d containers re-adopted, %d orphans removed, "
	    "%d marked failed%s", rc.sessions, rc.adopted, rc.orphans, rc.failed,
	    rc.errors ? " (some left for the next start; see above)" : "");
	if (rv != SBXD_OK)
		err_wrap(e, "listing containers: ");
	/* The pool starts once the store and the containers agree. */
	else if ((rv = pool_start(s, e)) != SBXD_OK)
		err_wrap(e, "warm pool: ");
	return rv;
}

/* Heals of one session are serialized, so two requests that both find the
 * container gone make one new container, not two. */
static pthread_mutex_t heal_locks[HEAL_LOCKS];
static pthread_once_t heal_once = PTHREAD_ONCE_INIT;

static void
heal_locks_init(void)
{
	for (int i = 0; i < HEAL_LOCKS; i++)
		pthread_mutex_init(&heal_locks[i], NULL);
}

static pthread_mutex_t *
heal_lock(const char *id)
{
	unsigned h = 5381;

	pthread_once(&heal_once, heal_locks_init);
	for (const char *p = id; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return &heal_locks[h % HEAL_LOCKS];
}

/* Creates and starts cur's container; a stale container holding the name
 * sbx-<id> (left by an interrupted heal) is removed and the create tried
 * once more. */
static sbxd_code
container_up_once_more(struct server *s, struct session_row *cur, struct err *e)
{
	char name[STORE_ID_MAX + 8];
	sbxd_code rv;

	if ((rv = session_container_up(s, cur, e)) != SBXD_ALREADY_EXISTS)
		return rv;
	snprintf(name, sizeof(name), "sbx-%s", cur->id);
	log_warnx("session %s: a stale container named %s is in the way; removing it",
	    cur->id, name);
	err_clear(e);
	if ((rv = s->drv->ops->remove(s->drv, name, e)) != SBXD_OK)
		return err_wrap(e, "removing the stale container %s: ", name);
	return session_container_up(s, cur, e);
}

sbxd_code
lifecycle_heal(struct server *s, struct session_row *r, struct err *e)
{
	pthread_mutex_t *mu = heal_lock(r->id);
	struct session_row cur;
	struct err ignored;
	char old[STORE_CID_MAX];
	sbxd_code rv;

	pthread_mutex_lock(mu);
	if ((rv = store_session_get(s->store, r->id, &cur, e)) != SBXD_OK)
		goto out;
	if (cur.state != SESSION_RUNNING && cur.state != SESSION_STOPPED) {
		rv = err_set(e, SBXD_FAILED_PRECONDITION,
		    "session %s is no longer live (state %d, %s)", cur.id, cur.state,
		    cur.stop_reason);
		goto out;
	}
	if (cur.container_id[0] != '\0' && strcmp(cur.container_id, r->container_id) != 0) {
		*r = cur;           /* a concurrent request healed it meanwhile */
		goto out;
	}
	snprintf(old, sizeof(old), "%s", cur.container_id);
	if ((rv = container_up_once_more(s, &cur, e)) != SBXD_OK) {
		err_wrap(e, "session %s's container was gone and a new one could not be made: ",
		    cur.id);
		goto out;
	}
	cur.state = SESSION_RUNNING;
	cur.stop_reason[0] = '\0';
	if ((rv = store_session_update(s->store, &cur, e)) != SBXD_OK) {
		s->drv->ops->remove(s->drv, cur.container_id, &ignored);
		goto out;
	}
	pool_slot_release(s, cur.id);   /* the new container binds the workspace itself */
	log_info("session %s healed: container %.12s was gone, new container %.12s "
	    "(user %s, workspace kept)", cur.id, old[0] ? old : "(none)", cur.container_id,
	    cur.user);
	*r = cur;
out:
	pthread_mutex_unlock(mu);
	return rv;
}

/* ---- the sweep of crash leftovers */

#define SWEEP_DEPTH_MAX FSOPS_WALK_DEPTH

struct sweep {
	struct server *s;
	pthread_t th;
	atomic_int stop;
	struct timespec started;    /* files older than this are leftovers */
	long removed, dirs;
};

static int
before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Removes leftovers in the directory dfd (taken: closed here) and below,
 * staying on device dev. */
static void
sweep_dir(struct sweep *sw, int dfd, dev_t dev, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	struct stat st;
	int fd;

	if (d == NULL) {
		close(dfd);
		return;
	}
	sw->dirs++;
	while (!atomic_load(&sw->stop) && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISREG(st.st_mode) && fsops_is_own_temp(de->d_name) &&
		    before(&st.st_mtim, &sw->started)) {
			if (unlinkat(dirfd(d), de->d_name, 0) == 0)
				sw->removed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode) || st.st_dev != dev || depth >= SWEEP_DEPTH_MAX)
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			sweep_dir(sw, fd, dev, depth + 1);
	}
	closedir(d);
}

/* Every {workspace_root}/{user}/workspace. */
static void *
sweep_main(void *arg)
{
	struct sweep *sw = arg;
	int root = open(sw->s->cfg->workspace_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	struct stat st;

	if (root < 0 || (d = fdopendir(root)) == NULL) {
		log_warn("recovery: cannot sweep %s", sw->s->cfg->workspace_root);
		if (root >= 0)
			close(root);
		return NULL;
	}
	while (!atomic_load(&sw->stop) && (de = readdir(d)) != NULL) {
		int ufd, wfd;

		if (de->d_name[0] == '.')
			continue;
		ufd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (ufd < 0)
			continue;
		wfd = openat(ufd, "workspace", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(ufd);
		if (wfd < 0)
			continue;
		if (fstat(wfd, &st) == 0)
			sweep_dir(sw, wfd, st.st_dev, 0);
		else
			close(wfd);
	}
	closedir(d);
	log_info("recovery: removed %ld temporary files left by interrupted writes "
	    "(%ld directories looked at)%s", sw->removed, sw->dirs,
	    atomic_load(&sw->stop) ? "; stopped early" : "");
	return NULL;
}

sbxd_code
lifecycle_sweep_start(struct server *s, struct err *e)
{
	struct sweep *sw;

	if ((sw = calloc(1, sizeof(*sw))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	sw->s = s;
	clock_gettime(CLOCK_REALTIME, &sw->started);
	if (pthread_create(&sw->th, NULL, sweep_main, sw) != 0) {
		free(sw);
		return err_set(e, SBXD_INTERNAL, "cannot start the workspace sweep thread");
	}
	s->sweep = sw;
	return SBXD_OK;
}

void
lifecycle_sweep_stop(struct server *s)
{
	if (s->sweep == NULL)
		return;
	atomic_store(&s->sweep->stop, 1);
	pthread_join(s->sweep->th, NULL);
	free(s->sweep);
	s->sweep = NULL;
}
