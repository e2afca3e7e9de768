/*
 * pool.c — the warm pool (see pool.h): pre-started containers per runtime,
 * the slots their /workspace comes from, attaching a user's workspace to a
 * taken one, and sweeping what a crash left.
 *
 * Mounts. pool_dir is an rshared mount (a bind mount of itself when it is
 * not a mount point already). A pool member gets its slot {pool_dir}/{id}
 * bind-mounted at /workspace with propagation rslave, so a mount the host
 * later puts on the slot propagates into the running container. Attaching
 * clones the workspace's mount with open_tree, sets nosuid,nodev on the
 * clone and moves it onto the slot, so the copy that propagates carries
 * those flags too (mount(2) bind + remount where the new API is missing;
 * the container's copy then has the engine's default flags, as a cold
 * session's bind has). Slot names are minted session ids, never anything
 * a user chose; the workspace path is the validated per-user one.
 *
 * The refill thread makes one container at a time for whichever runtime
 * is short, sleeping on a condition variable that pool_take signals. A
 * runtime whose image is missing is logged once and retried every
 * POOL_RETRY_MISSING_MS; other failures every POOL_RETRY_MS.
 *
 * At a clean shutdown the tree under pool_dir is made private first, then
 * every slot and pool_dir itself unmounted: running containers keep their
 * view (their copies no longer receive the unmounts) and the host keeps no
 * mounts; a slot is bound again before its container next starts
 * (pool_slot_ensure), exactly as after a host reboot.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "isolation.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "runtime.h"
#include "monotime.h"

#define POOL_RETRY_MS 2000
#define POOL_RETRY_MISSING_MS 10000
#define POOL_IDLE_WAIT_MS 30000     /* refill re-checks even unsignalled */
#define MOUNTINFO_LINE_MAX 8192
#define UNMOUNT_MAX 16              /* stacked mounts one slot may carry */
#define GVISOR_SLOTS ".gvisor-pool" /* under workspace_root; no user id starts with '.' */

struct pool_rt {
	char name[64];
	int isolation;
	int want;                   /* configured pool_size */
	struct pool_item *items;    /* ready, oldest first */
	int n;
	int64_t retry_at_ms;        /* after a failure: not before */
	sbxd_code failing;          /* the failure last logged; OK when none */
};

struct pool {
	struct server *s;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* a take, or quit */
	struct pool_rt rts[CONFIG_MAX_RUNTIMES * ISOLATION_N];
	int nrt;
	pthread_t thread;
	int thread_running, quit;
};

/* ---- mounts */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void
unescape(char *p)
{
	char *w = p;

	for (; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else
			*w++ = *p;
	}
	*w = '\0';
}

/* 1 when path is a mount point (its topmost mount is looked at), with
 * *shared set when that mount is shared; 0 when not; -1 when mountinfo
 * cannot be read. */
static int
mount_point(const char *path, int *shared)
{
	char line[MOUNTINFO_LINE_MAX], *save, *tok;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		int field = 0, is = 0, sh = 0;

		for (tok = strtok_r(line, " \n", &save); tok != NULL; tok = strtok_r(NULL, " \n", &save)) {
			if (++field == 5) {
				unescape(tok);
				is = strcmp(tok, path) == 0;
			} else if (field > 6 && strcmp(tok, "-") == 0)
				break;
			else if (field > 6 && strncmp(tok, "shared:", 7) == 0)
				sh = 1;
		}
		if (is) {
			found = 1;
			*shared = sh;
		}
	}
	fclose(f);
	return found;
}

/* Makes dir an rshared mount: bound onto itself first when it is not a
 * mount point. PERMISSION_DENIED when mounting is not allowed. */
static sbxd_code
make_shared(const char *path, struct err *e)
{
	char dir[PATH_MAX];
	int shared = 0, mp;

	if (realpath(path, dir) == NULL)
		return err_set(e, SBXD_FAILED_PRECONDITION, "pool_dir %s: %s", path,
		    strerror(errno));
	if ((mp = mount_point(dir, &shared)) < 0)
		return err_set(e, SBXD_INTERNAL, "cannot read /proc/self/mountinfo: %s",
		    strerror(errno));
	if (mp && shared)
		return SBXD_OK;
	if (!mp && mount(dir, dir, NULL, MS_BIND, NULL) != 0)
		goto fail;
	if (mount(NULL, dir, NULL, MS_SHARED | MS_REC, NULL) != 0)
		goto fail;
	return SBXD_OK;
fail:
	return err_set(e, errno == EPERM || errno == EACCES ? SBXD_PERMISSION_DENIED :
	    SBXD_INTERNAL, "cannot make %s an rshared mount: %s (the warm pool needs root)",
	    dir, strerror(errno));
}

/* Removes every mount stacked on path (lazily: nothing is busy then). */
static void
unmount_all(const char *path)
{
	for (int i = 0; i < UNMOUNT_MAX; i++)
		if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) != 0)
			return;   /* EINVAL: not a mount point (any more) */
}

/* Mounts ws onto slot, nosuid,nodev, for the copy that propagates too. */
static sbxd_code
bind_workspace(const char *ws, const char *slot, struct err *e)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };
	int fd, rc = -1;

	fd = open_tree(AT_FDCWD, ws, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (fd >= 0) {
		if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) == 0)
			rc = move_mount(fd, "", AT_FDCWD, slot, MOVE_MOUNT_F_EMPTY_PATH);
		close(fd);
	}
	if (rc != 0 && errno == ENOSYS) {
		rc = mount(ws, slot, NULL, MS_BIND, NULL);
		if (rc == 0 && mount(NULL, slot, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID |
		    MS_NODEV, NULL) != 0)
			log_warn("pool: remounting %s nosuid,nodev", slot);
	}
	if (rc != 0)
		return err_set(e, errno == EPERM ? SBXD_PERMISSION_DENIED : SBXD_INTERNAL,
		    "cannot bind workspace %s onto pool slot %s: %s", ws, slot, strerror(errno));
	return SBXD_OK;
}

/* 1 when a and b are the same directory (st_dev and st_ino). */
static int
same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino;
}

/* ---- slots */

/* The directory gvisor members' slots live in: beside the workspaces, on
 * their filesystem and mount, so a slot can be renamed into place. */
static sbxd_code
gvisor_slots(struct server *s, char *out, size_t n, struct err *e)
{
	if ((size_t)snprintf(out, n, "%s/" GVISOR_SLOTS, s->cfg->workspace_root) >= n)
		return err_set(e, SBXD_INVALID_ARGUMENT, "workspace_root is too long; shorten it");
	return SBXD_OK;
}

/* Where pool member id's slot is: {pool_dir}/{id}, or for gvisor
 * {workspace_root}/.gvisor-pool/{id}. */
static sbxd_code
slot_path(struct server *s, const char *id, int iso, char *out, size_t n, struct err *e)
{
	char dir[STORE_PATH_MAX];
	sbxd_code rv;

	if (iso == ISOLATION_GVISOR) {
		if ((rv = gvisor_slots(s, dir, sizeof(dir), e)) != SBXD_OK)
			return rv;
	} else
		snprintf(dir, sizeof(dir), "%s", s->cfg->pool_dir);
	if ((size_t)snprintf(out, n, "%s/%s", dir, id) >= n)
		return err_set(e, SBXD_INVALID_ARGUMENT, "pool_dir is too long; shorten it");
	return SBXD_OK;
}

/* A fresh, empty slot, owned by the sandbox user (what /workspace shows
 * before a workspace is attached). */
static sbxd_code
slot_make(struct server *s, const char *slot, struct err *e)
{
	if (mkdir(slot, 0700) != 0)
		return err_set(e, SBXD_INTERNAL, "cannot create pool slot %s: %s", slot,
		    strerror(errno));
	if (chown(slot, s->cfg->sandbox_uid, s->cfg->sandbox_gid) != 0)
		log_warn("pool: slot %s: chown", slot);
	return SBXD_OK;
}

static void
slot_remove(const char *slot)
{
	unmount_all(slot);
	if (rmdir(slot) != 0 && errno != ENOENT)
		log_warn("pool: removing slot %s", slot);
}

/* ---- making and taking pool members */

static int64_t
mono_ms(void)
{
	return (int64_t)monotime_ms();
}

/* The limits a session of runtime rt gets by default (runtime.c), so a
 * pool member matches what session_create asks pool_take for. */
static sbxd_code
pool_runtime_limits(struct server *s, const char *rt, struct session_row *r, struct err *e)
{
	struct runtime *d = malloc(sizeof(*d));
	sbxd_code rv;

	if (d == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	if ((rv = runtime_get(s, rt, d, e)) == SBXD_OK) {
		r->memory_bytes = d->memory_bytes;
		r->nano_cpus = d->nano_cpus;
		r->pids_limit = d->pids_limit;
	}
	free(d);
	return rv;
}

/* Runs one command in a new member: its first reads the shell and libc
 * through the container's own root mount (slow on fuse-overlayfs, where
 * each container has its own cache), so the session's first command does
 * not pay for that. */
static void
warm_up(struct server *s, const char *cid)
{
	const char *argv[] = { "sh", "-c", "true", NULL };
	struct driver_exec_spec spec = {
		.container_id = cid, .argv = argv, .timeout_ms = 30000, .max_output = 4096,
	};
	struct driver_exec_result res = { 0 };
	char user[32];
	struct err e;

	snprintf(user, sizeof(user), "%d:%d", (int)s->cfg->sandbox_uid, (int)s->cfg->sandbox_gid);
	spec.user = user;
	if (s->drv->ops->exec(s->drv, &spec, &res, &e) != SBXD_OK)
		log_debug("pool: warming container %.12s: %s", cid, e.msg);
	driver_exec_result_fini(&res);
}

/* Makes one pool member of runtime rt in isolation iso: a minted id, its
 * slot, its container started. Nothing is left behind on failure. */
static sbxd_code
make_one(struct server *s, const char *rt, int iso, struct pool_item *it, struct err *e)
{
	char dir[STORE_PATH_MAX];
	struct session_row *r;
	sbxd_code rv;

	memset(it, 0, sizeof(*it));
	it->id[0] = 's';
	it->id[1] = '-';
	auth_random_hex(it->id + 2, 16);
	it->isolation = iso;
	if (iso == ISOLATION_GVISOR) {
		if ((rv = gvisor_slots(s, dir, sizeof(dir), e)) != SBXD_OK)
			return rv;
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return err_set(e, SBXD_INTERNAL, "cannot create %s: %s", dir,
			    strerror(errno));
	}
	if ((rv = slot_path(s, it->id, iso, it->slot, sizeof(it->slot), e)) != SBXD_OK ||
	    (rv = slot_make(s, it->slot, e)) != SBXD_OK)
		return rv;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	memcpy(r->id, it->id, sizeof(it->id));
	snprintf(r->runtime, sizeof(r->runtime), "%s", rt);
	snprintf(r->isolation, sizeof(r->isolation), "%s", isolation_name(iso));
	if ((rv = pool_runtime_limits(s, rt, r, e)) != SBXD_OK)
		goto out;
	if ((rv = session_pool_container_up(s, r, it->slot, e)) == SBXD_OK) {
		memcpy(it->container_id, r->container_id, sizeof(it->container_id));
		warm_up(s, it->container_id);
	}
out:
	free(r);
	if (rv != SBXD_OK)
		slot_remove(it->slot);
	return rv;
}

int
pool_take(struct server *s, const char *runtime, int isolation, int64_t memory_bytes,
    int64_t nano_cpus, int64_t pids_limit, int fresh_workspace, struct pool_item *it)
{
	struct pool *p = s->pool;
	const struct config *c = s->cfg;
	int got = 0;

	if (p == NULL || memory_bytes != c->memory_bytes || nano_cpus != c->nano_cpus ||
	    pids_limit != c->pids_limit)
		return 0;
	if (isolation == ISOLATION_GVISOR && !fresh_workspace) {
		metrics_count(METRICS_C_POOL_MISSES, 1);
		return 0;
	}
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->nrt && !got; i++) {
		struct pool_rt *rt = &p->rts[i];

		if (strcmp(rt->name, runtime) != 0 || rt->isolation != isolation || rt->n == 0)
			continue;
		*it = rt->items[0];
		memmove(&rt->items[0], &rt->items[1], (size_t)(--rt->n) * sizeof(*it));
		got = 1;
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	metrics_count(got ? METRICS_C_POOL_HITS : METRICS_C_POOL_MISSES, 1);
	return got;
}

int
pool_ready(struct server *s)
{
	struct pool *p = s->pool;
	int n = 0;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->nrt; i++)
		n += p->rts[i].n;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* A gvisor member: its slot directory becomes the workspace. The names of
 * the slot and of the fresh, empty workspace are swapped at once
 * (RENAME_EXCHANGE; both under workspace_root), then the empty directory
 * made for the workspace, now at the slot's name, is removed. Should it
 * not be empty (something wrote there meanwhile), the swap is undone and
 * the session is created cold. */
static sbxd_code
attach_by_exchange(const struct pool_item *it, const char *workspace, struct err *e)
{
	if (renameat2(AT_FDCWD, it->slot, AT_FDCWD, workspace, RENAME_EXCHANGE) != 0)
		return err_set(e, SBXD_INTERNAL, "cannot swap pool slot %s in as workspace "
		    "%s: %s", it->slot, workspace, strerror(errno));
	if (rmdir(it->slot) == 0)
		return SBXD_OK;
	err_set(e, SBXD_FAILED_PRECONDITION, "workspace %s was not empty when its pool "
	    "slot was swapped in (%s)", workspace, strerror(errno));
	if (renameat2(AT_FDCWD, it->slot, AT_FDCWD, workspace, RENAME_EXCHANGE) != 0)
		log_warn("pool: swapping workspace %s back", workspace);
	return e->code;
}

sbxd_code
pool_attach(struct server *s, const struct pool_item *it, const char *workspace,
    struct err *e)
{
	size_t rootlen = strlen(s->cfg->workspace_root);
	struct err ignored;
	sbxd_code rv;

	/* The per-user path session.c made: under workspace_root, no "..". */
	if (strncmp(workspace, s->cfg->workspace_root, rootlen) != 0 ||
	    workspace[rootlen] != '/' || strstr(workspace, "/../") != NULL)
		return err_set(e, SBXD_INTERNAL, "workspace %s is not under %s", workspace,
		    s->cfg->workspace_root);
	if (it->isolation == ISOLATION_GVISOR)
		rv = attach_by_exchange(it, workspace, e);
	else
		rv = bind_workspace(workspace, it->slot, e);
	if (rv != SBXD_OK)
		return rv;
	/* a gvisor slot is bound again (pool_slot_ensure) before a restart */
	if ((rv = store_slot_set(s->store, it->id, it->slot, e)) != SBXD_OK) {
		unmount_all(it->slot);
		store_slot_delete(s->store, it->id, &ignored);
	}
	return rv;
}

sbxd_code
pool_slot_ensure(struct server *s, const struct session_row *r, struct err *e)
{
	char slot[STORE_PATH_MAX];
	sbxd_code rv;

	rv = store_slot_get(s->store, r->id, slot, sizeof(slot), e);
	if (rv == SBXD_NOT_FOUND) {
		err_clear(e);
		return SBXD_OK;      /* a cold session binds its workspace itself */
	}
	if (rv != SBXD_OK)
		return rv;
	if (same_dir(slot, r->workspace))
		return SBXD_OK;
	log_info("session %s: pool slot %s does not show workspace %s; binding it again",
	    r->id, slot, r->workspace);
	unmount_all(slot);
	if (mkdir(slot, 0700) != 0 && errno != EEXIST)
		return err_set(e, SBXD_INTERNAL, "cannot create pool slot %s: %s", slot,
		    strerror(errno));
	if ((rv = make_shared(s->cfg->pool_dir, e)) != SBXD_OK ||
	    (rv = bind_workspace(r->workspace, slot, e)) != SBXD_OK)
		return err_wrap(e, "session %s: ", r->id);
	return SBXD_OK;
}

void
pool_slot_release(struct server *s, const char *id)
{
	char slot[STORE_PATH_MAX];
	struct err e;

	if (store_slot_get(s->store, id, slot, sizeof(slot), &e) != SBXD_OK) {
		/* no record: a member never attached has its slot by name */
		if (e.code != SBXD_NOT_FOUND)
			return;
		if ((slot_path(s, id, ISOLATION_RUNC, slot, sizeof(slot), &e) != SBXD_OK ||
		    access(slot, F_OK) != 0) &&
		    (slot_path(s, id, ISOLATION_GVISOR, slot, sizeof(slot), &e) != SBXD_OK ||
		    access(slot, F_OK) != 0))
			return;
	}
	slot_remove(slot);
	if (store_slot_delete(s->store, id, &e) != SBXD_OK)
		log_warnx("pool: %s", e.msg);
}

int
pool_forget(struct server *s, const char *container_id)
{
	struct pool *p = s->pool;
	struct pool_item it;
	struct err e;
	int found = 0;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->nrt && !found; i++) {
		struct pool_rt *rt = &p->rts[i];

		for (int j = 0; j < rt->n && !found; j++) {
			if (strcmp(rt->items[j].container_id, container_id) != 0)
				continue;
			it = rt->items[j];
			memmove(&rt->items[j], &rt->items[j + 1],
			    (size_t)(rt->n - j - 1) * sizeof(it));
			rt->n--;
			found = 1;
		}
	}
	pthread_cond_signal(&p->cv);    /* the refill thread makes a new one */
	pthread_mutex_unlock(&p->mu);
	if (!found)
		return 0;
	log_info("pool: idle container %.12s stopped; replacing it", container_id);
	if (s->drv->ops->remove(s->drv, container_id, &e) != SBXD_OK && e.code != SBXD_NOT_FOUND)
		log_warnx("pool: removing %.12s: %s", container_id, e.msg);
	pool_slot_release(s, it.id);
	return 1;
}

/* ---- the refill thread */

/* The runtime most short of containers and not waiting out a failure,
 * or NULL; *wait_ms gets how long until one may be. Called with p->mu. */
static struct pool_rt *
rt_short(struct pool *p, int64_t now, int64_t *wait_ms)
{
	struct pool_rt *best = NULL;

	*wait_ms = POOL_IDLE_WAIT_MS;
	for (int i = 0; i < p->nrt; i++) {
		struct pool_rt *rt = &p->rts[i];

		if (rt->n >= rt->want)
			continue;
		if (rt->retry_at_ms > now) {
			if (rt->retry_at_ms - now < *wait_ms)
				*wait_ms = rt->retry_at_ms - now;
			continue;
		}
		if (best == NULL || rt->want - rt->n > best->want - best->n)
			best = rt;
	}
	return best;
}

/* Schedules the retry; logs a failure once until it changes or ends (a
 * missing image or a Docker outage would otherwise log every retry). */
static void
note_failure(struct pool_rt *rt, const struct err *e)
{
	int missing = e->code == SBXD_FAILED_PRECONDITION;

	rt->retry_at_ms = mono_ms() + (missing ? POOL_RETRY_MISSING_MS : POOL_RETRY_MS);
	if (rt->failing == e->code)
		return;
	rt->failing = e->code;
	log_warnx("pool: runtime %s (%s): %s%s", rt->name, isolation_name(rt->isolation),
	    e->msg, missing ?
	    "; its pool stays empty until then and sessions are created cold" :
	    "; retrying (sessions are created cold meanwhile)");
}

static void
timed_wait(struct pool *p, int64_t ms)
{
	monotime_wait_ms(&p->cv, &p->mu, ms);
}

static void *
refill_main(void *arg)
{
	struct pool *p = arg;
	struct pool_item it;
	struct pool_rt *rt;
	struct err e;
	int64_t wait_ms;
	char name[64];
	int iso;

	pthread_mutex_lock(&p->mu);
	while (!p->quit) {
		if ((rt = rt_short(p, mono_ms(), &wait_ms)) == NULL) {
			timed_wait(p, wait_ms);
			continue;
		}
		memcpy(name, rt->name, sizeof(name));
		iso = rt->isolation;
		pthread_mutex_unlock(&p->mu);
		sbxd_code rv = make_one(p->s, name, iso, &it, &e);
		pthread_mutex_lock(&p->mu);
		if (rv != SBXD_OK) {
			note_failure(rt, &e);
			continue;
		}
		if (rt->failing != SBXD_OK)
			log_info("pool: runtime %s (%s): containers can be made again; refilling",
			    rt->name, isolation_name(rt->isolation));
		rt->failing = SBXD_OK;
		rt->items[rt->n++] = it;     /* n < want: room */
		log_debug("pool: runtime %s (%s): %d of %d ready", rt->name,
		    isolation_name(rt->isolation), rt->n, rt->want);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- opening, sweeping, closing */

sbxd_code
pool_open(struct server *s, struct err *e)
{
	const struct config *c = s->cfg;
	struct pool *p;
	int total = 0;

	for (int i = 0; i < c->nruntimes; i++) {
		for (int k = 0; k < ISOLATION_N; k++)
			total += c->runtimes[i].pool_iso[k];
		if (c->runtimes[i].egress[0] != '\0' && c->pool_size > 0 &&
		    strcmp(c->runtimes[i].name, c->default_runtime) == 0)
			log_info("pool: the default runtime %s has egress=: its sessions are "
			    "created on egress networks of their own, never from the pool, so "
			    "no warm containers are kept for it", c->runtimes[i].name);
	}
	if (total == 0)
		return SBXD_OK;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	p->s = s;
	pthread_mutex_init(&p->mu, NULL);
	monotime_cond_init(&p->cv);
	for (int j = 0; j < c->nruntimes * ISOLATION_N; j++) {
		const struct config_runtime *cr = &c->runtimes[j / ISOLATION_N];
		struct pool_rt *rt = &p->rts[p->nrt];

		if (cr->pool_iso[j % ISOLATION_N] == 0)
			continue;
		if (j % ISOLATION_N == ISOLATION_GVISOR && c->workspace_quota > 0) {
			log_warnx("pool: runtime %s: no gvisor containers are kept warm with "
			    "workspace_quota (each workspace is a filesystem of its own, which "
			    "a gvisor container started before it cannot be given); its gvisor "
			    "sessions are created cold", cr->name);
			continue;
		}
		snprintf(rt->name, sizeof(rt->name), "%s", cr->name);
		rt->isolation = j % ISOLATION_N;
		rt->want = cr->pool_iso[rt->isolation];
		if ((rt->items = calloc((size_t)rt->want, sizeof(*rt->items))) == NULL) {
			s->pool = p;
			pool_close(s);
			return err_set(e, SBXD_INTERNAL, "out of memory");
		}
		p->nrt++;
	}
	s->pool = p;
	return SBXD_OK;
}

/* 1 when a live session owns session id sid, and (cid not NULL) its row
 * names container cid. Store errors count as owned: keep, never remove
 * blind. */
static int
owned(struct server *s, const char *sid, const char *cid)
{
	struct session_row *r = calloc(1, sizeof(*r));
	struct err e;
	int own = 1;
	sbxd_code rv;

	if (r == NULL)
		return 1;
	rv = store_session_get(s->store, sid, r, &e);
	if (rv == SBXD_NOT_FOUND)
		own = 0;
	else if (rv == SBXD_OK)
		own = (r->state == SESSION_RUNNING || r->state == SESSION_STOPPED) &&
		    (cid == NULL || strcmp(r->container_id, cid) == 0);
	free(r);
	return own;
}

struct sweep {
	struct server *s;
	int removed, errors;
};

/* driver list callback: removes pool members no live session owns. */
static void
sweep_container(void *arg, const char *id, const char *state,
    const struct driver_label *l, size_t n)
{
	struct sweep *sw = arg;
	const char *sid = NULL;
	int pooled = 0;
	struct err e;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		/* empty: blanked in a snapshot image (snapshot.c) */
		pooled |= strcmp(l[i].key, "sbx.pool") == 0 && l[i].value[0] != '\0';
		if (strcmp(l[i].key, "sbx.session") == 0)
			sid = l[i].value;
	}
	if (!pooled || (sid != NULL && owned(sw->s, sid, id)))
		return;
	if (sw->s->drv->ops->remove(sw->s->drv, id, &e) != SBXD_OK) {
		log_warnx("pool: removing idle pool container %.12s: %s", id, e.msg);
		sw->errors++;
		return;
	}
	sw->removed++;
}

/* Unmounts and removes the slots of isolation iso no live session owns. */
static void
sweep_slots(struct server *s, int iso, int *removed)
{
	DIR *d;
	struct dirent *de;
	char dir[STORE_PATH_MAX], slot[STORE_PATH_MAX], rec[STORE_PATH_MAX];
	struct err e;

	if (iso == ISOLATION_GVISOR && gvisor_slots(s, dir, sizeof(dir), &e) != SBXD_OK)
		return;
	if ((d = opendir(iso == ISOLATION_GVISOR ? dir : s->cfg->pool_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= STORE_ID_MAX ||
		    slot_path(s, de->d_name, iso, slot, sizeof(slot), &e) != SBXD_OK)
			continue;
		if (owned(s, de->d_name, NULL) &&
		    store_slot_get(s->store, de->d_name, rec, sizeof(rec), &e) == SBXD_OK)
			continue;
		slot_remove(slot);
		store_slot_delete(s->store, de->d_name, &e);
		(*removed)++;
	}
	closedir(d);
}

sbxd_code
pool_start(struct server *s, struct err *e)
{
	struct pool *p = s->pool;
	struct sweep sw = { .s = s };
	int slots = 0, rc;
	sbxd_code rv;

	if (s->drv->ops->list(s->drv, "sbx.instance", s->instance, sweep_container, &sw, e) != SBXD_OK)
		log_warnx("pool: listing containers: %s (idle pool containers are removed at "
		    "the next start)", e->msg);
	sweep_slots(s, ISOLATION_RUNC, &slots);
	sweep_slots(s, ISOLATION_GVISOR, &slots);
	if (sw.removed || slots || sw.errors)
		log_info("pool: removed %d idle pool containers and %d slots left by the last run%s",
		    sw.removed, slots, sw.errors ? " (some failed; see above)" : "");
	if (p == NULL || p->thread_running)
		return SBXD_OK;
	if (mkdir(s->cfg->pool_dir, 0700) != 0 && errno != EEXIST)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "cannot create pool_dir %s: %s",
		    s->cfg->pool_dir, strerror(errno));
	else
		rv = make_shared(s->cfg->pool_dir, e);
	if (rv != SBXD_OK) {
		log_warnx("warm pool off: %s; sessions are created cold", e->msg);
		pool_close(s);
		err_clear(e);
		return SBXD_OK;
	}
	p->quit = 0;
	if ((rc = pthread_create(&p->thread, NULL, refill_main, p)) != 0)
		return err_set(e, SBXD_INTERNAL, "cannot start the pool thread: %s", strerror(rc));
	p->thread_running = 1;
	for (int i = 0; i < p->nrt; i++)
		log_info("pool: runtime %s (%s) keeps %d containers warm", p->rts[i].name,
		    isolation_name(p->rts[i].isolation), p->rts[i].want);
	return SBXD_OK;
}

void
pool_stop(struct server *s)
{
	struct pool *p = s->pool;

	if (p == NULL || !p->thread_running)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	p->thread_running = 0;
}

/* At a clean shutdown: the binds pool_slot_ensure put on gvisor slots
 * go (runsc's file server holds what it opened at start: the running
 * sandboxes keep their workspaces); a wake binds them again. */
static void
unmount_gvisor_slots(struct server *s)
{
	char dir[STORE_PATH_MAX], slot[STORE_PATH_MAX];
	struct dirent *de;
	struct err e;
	DIR *d;

	if (gvisor_slots(s, dir, sizeof(dir), &e) != SBXD_OK || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && slot_path(s, de->d_name, ISOLATION_GVISOR, slot,
		    sizeof(slot), &e) == SBXD_OK)
			unmount_all(slot);
	closedir(d);
}

/* At a clean shutdown: cuts propagation so running containers keep their
 * workspaces, then leaves no mount under pool_dir (see the top). */
static void
unmount_tree(struct server *s)
{
	const char *dir = s->cfg->pool_dir;
	DIR *d;
	struct dirent *de;
	char slot[STORE_PATH_MAX], real[PATH_MAX];
	struct err e;
	int shared = 0;

	unmount_gvisor_slots(s);
	if (realpath(dir, real) == NULL || mount_point(real, &shared) != 1)
		return;
	if (mount(NULL, dir, NULL, MS_PRIVATE | MS_REC, NULL) != 0) {
		log_warn("pool: making %s private; its mounts stay", dir);
		return;
	}
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' &&
			    slot_path(s, de->d_name, ISOLATION_RUNC, slot, sizeof(slot),
			    &e) == SBXD_OK)
				unmount_all(slot);
		closedir(d);
	}
	unmount_all(dir);
}

void
pool_close(struct server *s)
{
	struct pool *p = s->pool;
	struct err e;

	if (p == NULL)
		return;
	pool_stop(s);
	for (int i = 0; i < p->nrt; i++) {
		for (int j = 0; j < p->rts[i].n; j++) {
			struct pool_item *it = &p->rts[i].items[j];

			if (s->drv->ops->remove(s->drv, it->container_id, &e) != SBXD_OK)
				log_warnx("pool: removing idle container %.12s: %s (removed at "
				    "the next start)", it->container_id, e.msg);
			else
				slot_remove(it->slot);
		}
		free(p->rts[i].items);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	unmount_tree(s);
	free(p);
	s->pool = NULL;
}
