/*
 * session.c — creating, waking, running commands in and ending sessions
 * (see session.h).
 *
 * Order of a create: validate and reserve (row CREATING), prepare the
 * workspace, create and start the container, then mark the row RUNNING.
 * A failure after the row exists marks it FAILED and removes whatever
 * container was made, so nothing leaks and the failure stays visible.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentlink.h"
#include "driver_agent.h"
#include "egress.h"
#include "isolation.h"
#include "lifecycle.h"
#include "log.h"
#include "logbus.h"
#include "pool.h"
#include "procs.h"
#include "quota.h"
#include "terms.h"
#include "watches.h"
#include "runtime.h"
#include "session.h"
#include "snapcopy.h"
#include "snapshot.h"

int
session_valid_user(const char *user, size_t len)
{
	if (len == 0 || len > 64)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)user[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-')))
			return 0;
	}
	return 1;
}

sbxd_code
session_check_argv(char *const *argv, size_t n, struct err *e)
{
	size_t total = 0;

	if (n == 0 || argv[0][0] == '\0')
		return err_set(e, SBXD_INVALID_ARGUMENT, "argv's first word (the "
		    "program to run) is empty");
	if (n > SESSION_ARGV_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT, "argv has %zu words; at "
		    "most %d", n, SESSION_ARGV_MAX);
	for (size_t i = 0; i < n; i++)
		total += strlen(argv[i]) + 1;
	if (total > SESSION_ARGV_BYTES)
		return err_set(e, SBXD_INVALID_ARGUMENT, "argv is %zu bytes; at "
		    "most %u: write a script file and run it", total,
		    SESSION_ARGV_BYTES);
	return SBXD_OK;
}

/* 1 when a shell reads word w as itself. */
static int
shell_plain(const char *w)
{
	return *w != '\0' && strspn(w, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=/.,:@%") == strlen(w);
}

char *
session_argv_line(char *const *argv, size_t n)
{
	size_t cap = 1, len = 0;
	char *line;

	for (size_t i = 0; i < n; i++)	/* worst case: every byte is ' */
		cap += 4 * strlen(argv[i]) + 3;
	if ((line = malloc(cap)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *w = argv[i];

		if (i > 0)
			line[len++] = ' ';
		if (shell_plain(w)) {
			memcpy(line + len, w, strlen(w));
			len += strlen(w);
			continue;
		}
		line[len++] = '\'';
		for (; *w; w++)
			if (*w == '\'') {
				memcpy(line + len, "'\\''", 4);
				len += 4;
			} else
				line[len++] = *w;
		line[len++] = '\'';
	}
	line[len] = '\0';
	return line;
}

static pthread_mutex_t *
user_lock(struct server *s, const char *user)
{
	unsigned h = 5381;

	for (const char *p = user; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return &s->user_locks[h % SERVER_USER_LOCKS];
}

/* Creates {root}/{user}/workspace owned by the sandbox user; *fresh = 1
 * when this call made it (so no other session can hold it yet) as a plain
 * directory (no workspace_quota filesystem). The user id is validated, so
 * neither component can be "..", "/" or empty. */
static sbxd_code
workspace_prepare(struct server *s, const char *user, char *path, size_t n,
    int *fresh, struct err *e)
{
	const struct config *c = s->cfg;
	char dir[STORE_PATH_MAX];

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", c->workspace_root, user) >= sizeof(dir) ||
	    (size_t)snprintf(path, n, "%s/workspace", dir) >= n)
		return err_set(e, SBXD_INVALID_ARGUMENT, "workspace path too long");
	if (mkdir(dir, 0711) != 0 && errno != EEXIST)
		return err_set(e, SBXD_INTERNAL, "cannot create %s: %s", dir, strerror(errno));
	*fresh = 0;
	if (mkdir(path, 0700) == 0) {
		*fresh = c->workspace_quota == 0;
		if (chown(path, c->sandbox_uid, c->sandbox_gid) != 0)
			log_warn("workspace %s: chown to %d:%d", path,
			    (int)c->sandbox_uid, (int)c->sandbox_gid);
	} else if (errno != EEXIST)
		return err_set(e, SBXD_INTERNAL, "cannot create %s: %s", path, strerror(errno));
	return quota_mount(s, user, path, e);   /* with workspace_quota: a sized filesystem */
}

/* The image key of r's workspace filesystem (quota.h): "forks/{id}" for
 * a fork's own workspace, else its user's id. */
static void
quota_key(const struct session_row *r, char *key, size_t n)
{
	const char *tail = strrchr(r->workspace, '/');

	if (tail != NULL && strcmp(tail + 1, r->id) == 0 && tail - r->workspace >= 6 &&
	    strncmp(tail - 6, "/forks", 6) == 0)
		snprintf(key, n, "forks/%s", r->id);
	else
		snprintf(key, n, "%s", r->user);
}

/* A fork's own workspace {root}/{user}/forks/{id}, a copy of the
 * snapshot's, on a filesystem of its own with workspace_quota (see
 * workspace_prepare for why the names are safe). */
static sbxd_code
workspace_fork(struct server *s, const struct session_row *r,
    const struct store_snapshot *snap, char *path, size_t n, struct err *e)
{
	const struct config *c = s->cfg;
	char dir[STORE_PATH_MAX], key[STORE_ID_MAX + 8];
	struct err ignored;
	sbxd_code rv;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s/forks", c->workspace_root, r->user) >=
	    sizeof(dir) || (size_t)snprintf(path, n, "%s/%s", dir, r->id) >= n)
		return err_set(e, SBXD_INVALID_ARGUMENT, "workspace path too long");
	dir[strlen(dir) - strlen("/forks")] = '\0';
	if (mkdir(dir, 0711) != 0 && errno != EEXIST)
		return err_set(e, SBXD_INTERNAL, "cannot create %s: %s", dir, strerror(errno));
	strcat(dir, "/forks");
	if (mkdir(dir, 0711) != 0 && errno != EEXIST)
		return err_set(e, SBXD_INTERNAL, "cannot create %s: %s", dir, strerror(errno));
	if (mkdir(path, 0700) != 0)
		return err_set(e, SBXD_INTERNAL, "cannot create %s: %s", path, strerror(errno));
	snprintf(key, sizeof(key), "forks/%s", r->id);
	if ((rv = quota_mount(s, key, path, e)) != SBXD_OK ||
	    (rv = snapshot_copy_workspace(s, snap, path, e)) != SBXD_OK) {
		quota_purge(s, key, path, &ignored);
		(void)rmdir(path);
	}
	return rv;
}

/* Undoes workspace_fork for a session that was not made after all. */
static void
fork_discard(struct server *s, const struct session_row *r)
{
	char key[STORE_ID_MAX + 8];
	struct err ignored;

	quota_key(r, key, sizeof(key));
	snapcopy_remove(r->workspace, &ignored);   /* leaves a mount point */
	if (quota_purge(s, key, r->workspace, &ignored) == SBXD_OK)
		(void)rmdir(r->workspace);
}

/* Mounts what r's container binds before it starts: its workspace
 * filesystem (with workspace_quota; after a host reboot it is not there)
 * and its pool slot. */
static sbxd_code
mounts_ensure(struct server *s, struct session_row *r, struct err *e)
{
	char key[STORE_ID_MAX + 8];
	sbxd_code rv;

	quota_key(r, key, sizeof(key));
	if ((rv = quota_mount(s, key, r->workspace, e)) != SBXD_OK)
		return err_wrap(e, "mounting the session's workspace: ");
	return pool_slot_ensure(s, r, e);
}

/* labels has room for 5: the fifth, sbx.pool, only for a pool member
 * (slot set), whose /workspace is the slot with propagation rslave. env
 * has room for RUNTIME_ENV_MAX + 1: the runtime's, NULL-terminated. The
 * root is read-only (config) unless the runtime says writable_rootfs;
 * pool members get the same spec, so a taken one is what a cold create
 * would have made. */
static void
fill_spec(struct server *s, const struct session_row *r, const struct runtime *rt,
    const char *slot, struct driver_label *labels, const char **env,
    struct driver_container_spec *spec, char *name, size_t namesz, char *user, size_t usersz)
{
	const struct config *c = s->cfg;

	snprintf(name, namesz, "sbx-%s", r->id);
	snprintf(user, usersz, "%d:%d", (int)c->sandbox_uid, (int)c->sandbox_gid);
	labels[0] = (struct driver_label){ "sbx.managed", "true" };
	labels[1] = (struct driver_label){ "sbx.instance", s->instance };
	labels[2] = (struct driver_label){ "sbx.session", r->id };
	labels[3] = (struct driver_label){ "sbx.user", r->user };
	*spec = (struct driver_container_spec){
		.name = name, .image = rt->image, .user = user, .workdir = rt->work_dir,
		.env = env,
		.workspace_host = r->workspace, .labels = labels, .nlabels = 4,
		.memory_bytes = r->memory_bytes, .nano_cpus = r->nano_cpus,
		.pids_limit = r->pids_limit, .nofile = c->nofile,
		.network_mode = rt->network_mode,
		.readonly_rootfs = c->readonly_rootfs && !rt->writable_rootfs,
		.tmpfs_tmp_opts = c->tmpfs_tmp_mount[0] ? c->tmpfs_tmp_mount : NULL,
		.drop_all_caps = 1, .no_new_privileges = 1, .init = 1,
		.oci_runtime = isolation_engine_runtime(c, isolation_parse(r->isolation)),
	};
	/* the home tmpfs stands in for the image's home only on a read-only
	 * root; a writable one keeps what the image put there */
	if (spec->readonly_rootfs && c->tmpfs_home_mount[0] != '\0') {
		spec->tmpfs_home = c->sandbox_home;
		spec->tmpfs_home_opts = c->tmpfs_home_mount;
	}
	for (int i = 0; i < rt->nenv; i++)
		env[i] = rt->env[i];
	env[rt->nenv] = NULL;
	if (slot != NULL) {
		labels[4] = (struct driver_label){ "sbx.pool", r->runtime };
		spec->nlabels = 5;
		spec->workspace_host = slot;
		/* gvisor sees no later mount on the slot anyway (pool.h) */
		if (isolation_parse(r->isolation) != ISOLATION_GVISOR)
			spec->workspace_propagation = "rslave";
	}
}

static sbxd_code
resolve_runtime(struct server *s, const char *name, struct runtime *rt, struct err *e)
{
	int present = 0;
	sbxd_code rv;

	if ((rv = runtime_get(s, name, rt, e)) != SBXD_OK ||
	    (rv = runtime_ready(s, rt, &present, e)) != SBXD_OK)
		return rv;
	if (!present)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "runtime \"%s\" is not built: image %s is missing; build it with `%s`",
		    name, rt->image, rt->build_command);
	return SBXD_OK;
}

/* The isolation a new session gets: the one asked for, else the runtime's. */
static int
create_isolation(const struct session_create_args *a, const struct runtime *rt)
{
	int iso = a->isolation != NULL && a->isolation[0] ? isolation_parse(a->isolation) : -1;

	return iso >= 0 ? iso : rt->isolation;
}

static void
row_init(struct server *s, const struct session_create_args *a, const struct runtime *rt,
    struct session_row *r)
{
	const struct config *c = s->cfg;

	memset(r, 0, sizeof(*r));
	r->id[0] = 's';
	r->id[1] = '-';
	auth_random_hex(r->id + 2, 16);
	snprintf(r->user, sizeof(r->user), "%s", a->user);
	snprintf(r->runtime, sizeof(r->runtime), "%s", rt->name);
	snprintf(r->isolation, sizeof(r->isolation), "%s", isolation_name(create_isolation(a, rt)));
	r->state = SESSION_CREATING;
	r->created_ms = r->last_active_ms = server_now_ms();
	r->idle_timeout_ms = a->idle_timeout_ms ? (int64_t)a->idle_timeout_ms :
	    (int64_t)c->idle_timeout_ms;
	/* the runtime's defaults are within the ceilings already (runtime.c) */
	r->memory_bytes = a->memory_bytes ? a->memory_bytes : rt->memory_bytes;
	r->nano_cpus = a->nano_cpus ? a->nano_cpus : rt->nano_cpus;
	r->pids_limit = a->pids_limit ? a->pids_limit : rt->pids_limit;
	r->exec_timeout_ms = (int64_t)c->exec_timeout_max_ms;
	for (int i = 0; i < a->nlabels && i < STORE_LABEL_MAX; i++)
		r->labels[r->nlabels++] = a->labels[i];
}

/* Creates and starts r's container (a pool member's when slot is set); on
 * failure removes what it made. */
static sbxd_code
container_up(struct server *s, struct session_row *r, const struct runtime *rt,
    const char *slot, struct err *e)
{
	struct driver_label labels[5];
	const char *env[RUNTIME_ENV_MAX + EGRESS_ENV_MAX + 1];
	struct driver_container_spec spec;
	char name[STORE_ID_MAX + 8], user[32], id[DRIVER_ID_MAX];
	char image[STORE_IMAGE_MAX];
	char *allow = NULL;
	struct egress_net *net = NULL;
	struct err ignored;
	sbxd_code rv;

	if ((rv = isolation_check(s, isolation_parse(r->isolation), e)) != SBXD_OK)
		return rv;
	fill_spec(s, r, rt, slot, labels, env, &spec, name, sizeof(name), user, sizeof(user));
	/* a fork's or a restored session's container: the snapshot's image */
	if (store_session_image_get(s->store, r->id, image, sizeof(image), &ignored) == SBXD_OK)
		spec.image = image;
	/* a session with an egress allowlist: on its own network, the proxy's
	 * address in its environment, a DNS server it has no route to */
	if (slot == NULL && (allow = malloc(EGRESS_TEXT_MAX)) != NULL &&
	    store_session_egress_get(s->store, r->id, allow, EGRESS_TEXT_MAX, &ignored) == SBXD_OK) {
		static const char *const nodns[] = { "198.51.100.1", NULL };
		int k = 0;

		while (env[k] != NULL)
			k++;
		if ((net = calloc(1, sizeof(*net))) == NULL) {
			free(allow);
			return err_set(e, SBXD_INTERNAL, "out of memory");
		}
		if ((rv = egress_check(s, isolation_parse(r->isolation), e)) != SBXD_OK ||
		    (rv = egress_session_up(s, r->id, allow, net, e)) != SBXD_OK) {
			free(allow);
			free(net);
			return rv;
		}
		for (int i = 0; i < EGRESS_ENV_MAX; i++)
			env[k++] = net->env[i];
		env[k] = NULL;
		spec.network_mode = net->network;
		spec.ipv4_address = net->ipv4;
		spec.dns = nodns;
	}
	free(allow);
	rv = s->drv->ops->create(s->drv, &spec, id, e);
	if (rv != SBXD_OK && net != NULL)
		egress_session_down(s, r->id);
	if (rv != SBXD_OK) {
		free(net);
		return err_wrap(e, "creating the container: ");
	}
	snprintf(r->container_id, sizeof(r->container_id), "%s", id);
	if ((rv = s->drv->ops->start(s->drv, id, e)) != SBXD_OK) {
		err_wrap(e, "starting the container: ");
		s->drv->ops->remove(s->drv, id, &ignored);
		if (net != NULL)
			egress_session_down(s, r->id);
		r->container_id[0] = '\0';
	}
	free(net);
	return rv;
}

/* Gives out a container from the pool, the user's workspace attached, when
 * the pool has one (out->id becomes the id it was made for); else leaves
 * out->container_id empty and a cold create follows. fresh: this request
 * made the workspace (pool_take). */
static void
take_pooled(struct server *s, struct session_row *out, int fresh)
{
	struct pool_item it;
	struct err e;

	if (!pool_take(s, out->runtime, isolation_parse(out->isolation), out->memory_bytes,
	    out->nano_cpus, out->pids_limit, fresh, &it))
		return;
	if (pool_attach(s, &it, out->workspace, &e) != SBXD_OK) {
		log_warnx("pool: %s; creating the session cold", e.msg);
		s->drv->ops->remove(s->drv, it.container_id, &e);
		pool_slot_release(s, it.id);
		return;
	}
	memcpy(out->id, it.id, sizeof(out->id));
	snprintf(out->container_id, sizeof(out->container_id), "%s", it.container_id);
}

/* Removes a container made or taken for out that no row will own. */
static void
drop_container(struct server *s, struct session_row *out)
{
	struct err ignored;

	if (out->container_id[0] == '\0')
		return;
	s->drv->ops->remove(s->drv, out->container_id, &ignored);
	pool_slot_release(s, out->id);
}

/* session_create once lifecycle_make_room has reserved the start. */
static sbxd_code
create_reserved(struct server *s, const struct session_create_args *a,
    const struct runtime *rt, struct session_row *out, char token[AUTH_TOKEN_MAX],
    struct err *e)
{
	struct err ignored;
	int fresh = 0;
	sbxd_code rv;

	row_init(s, a, rt, out);
	auth_token_mint(token, out->token_hash);
	if (a->snapshot != NULL)
		rv = workspace_fork(s, out, a->snapshot, out->workspace, sizeof(out->workspace), e);
	else
		rv = workspace_prepare(s, a->user, out->workspace, sizeof(out->workspace), &fresh,
		    e);
	if (rv != SBXD_OK)
		return rv;
	if (a->snapshot == NULL) {
		if (a->egress_allow == NULL)  /* pool members run the runtime's */
			take_pooled(s, out, fresh);   /* image on network none */
	} else if (a->snapshot->image[0] != '\0' &&
	    (rv = store_session_image_set(s->store, out->id, a->snapshot->image, e)) != SBXD_OK) {
		fork_discard(s, out);
		return rv;
	}
	if ((rv = store_session_insert(s->store, out, e)) != SBXD_OK) {
		drop_container(s, out);
		if (a->snapshot != NULL) {
			store_session_image_set(s->store, out->id, NULL, &ignored);
			fork_discard(s, out);
		}
		return rv;
	}
	if (a->egress_allow != NULL &&
	    (rv = store_session_egress_set(s->store, out->id, a->egress_allow, e)) != SBXD_OK)
		;
	else if (out->container_id[0] != '\0')
		rv = SBXD_OK;        /* taken from the pool */
	else
		rv = container_up(s, out, rt, NULL, e);
	if (rv != SBXD_OK) {
		out->state = SESSION_FAILED;
		snprintf(out->stop_reason, sizeof(out->stop_reason), "create failed");
		store_session_update(s->store, out, &ignored);
		return rv;
	}
	out->state = SESSION_RUNNING;       /* and the start is released: */
	if ((rv = lifecycle_start_land(s, out, e)) != SBXD_OK) {
		drop_container(s, out);
		return rv;
	}
	log_info("session %s created for user %s (runtime %s, isolation %s, container %.12s)",
	    out->id, out->user, out->runtime, out->isolation, out->container_id);
	logbus_emitf(s, out->id, "", "session started (runtime %s, isolation %s)", out->runtime,
	    out->isolation);
	return SBXD_OK;
}

sbxd_code
session_create(struct server *s, const struct session_create_args *a,
    struct session_row *out, char token[AUTH_TOKEN_MAX], struct err *e)
{
	const char *runtime = a->runtime && *a->runtime ? a->runtime : s->cfg->default_runtime;
	struct runtime *rt;
	sbxd_code rv;

	struct session_create_args a2 = *a;

	if ((rt = malloc(sizeof(*rt))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	/* before making room: a session the engine cannot run stops nobody */
	if ((rv = resolve_runtime(s, runtime, rt, e)) == SBXD_OK && a2.egress_allow == NULL &&
	    rt->egress[0] != '\0')
		a2.egress_allow = rt->egress;   /* the runtime's allowlist */
	if (rv != SBXD_OK ||
	    (rv = isolation_check(s, create_isolation(a, rt), e)) != SBXD_OK ||
	    (a2.egress_allow != NULL &&
	    (rv = egress_check(s, create_isolation(a, rt), e)) != SBXD_OK) ||
	    (rv = lifecycle_make_room(s, a->user, NULL, e)) != SBXD_OK) {
		free(rt);
		return rv;
	}
	rv = create_reserved(s, &a2, rt, out, token, e);
	free(rt);
	if (out->state != SESSION_RUNNING)   /* else landed */
		lifecycle_start_done(s, a->user);
	return rv;
}

sbxd_code
session_container_up(struct server *s, struct session_row *r, struct err *e)
{
	char key[STORE_ID_MAX + 8];
	sbxd_code rv;

	quota_key(r, key, sizeof(key));
	if ((rv = quota_mount(s, key, r->workspace, e)) != SBXD_OK)
		return err_wrap(e, "mounting the session's workspace: ");
	return session_pool_container_up(s, r, NULL, e);
}

sbxd_code
session_pool_container_up(struct server *s, struct session_row *r, const char *slot,
    struct err *e)
{
	struct runtime *rt;
	sbxd_code rv;

	if ((rt = malloc(sizeof(*rt))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	if ((rv = resolve_runtime(s, r->runtime, rt, e)) == SBXD_OK)
		rv = container_up(s, r, rt, slot, e);
	free(rt);
	return rv;
}

/* OK when live session r's egress allowlist is allow (as a set); else
 * FAILED_PRECONDITION saying how to get there. */
static sbxd_code
egress_matches(struct server *s, const struct session_row *r, const char *allow,
    struct err *e)
{
	char *have = malloc(EGRESS_TEXT_MAX);
	sbxd_code rv = SBXD_OK;
	struct err ignored;

	if (have == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	if (store_session_egress_get(s->store, r->id, have, EGRESS_TEXT_MAX, &ignored) !=
	    SBXD_OK)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "user %s's live session %s was created "
		    "without egress_allow and runs with network none, so it cannot have this "
		    "egress_allow; end it (EndSession) and call again for a new session with the "
		    "list, or call without egress_allow to take it as it is", r->user, r->id);
	else if (!egress_same(have, allow)) {
		for (char *p = have; *p; p++)
			if (*p == '\n')
				*p = ',';
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "user %s's live session %s has another "
		    "egress allowlist (%.200s%s); change it with SetEgress, or call without "
		    "egress_allow to take the session as it is", r->user, r->id,
		    have[0] ? have : "empty: nothing allowed", strlen(have) > 200 ? "..." : "");
	}
	free(have);
	return rv;
}

sbxd_code
session_get_or_create(struct server *s, const struct session_create_args *a,
    struct session_row *out, char token[AUTH_TOKEN_MAX], int *created, struct err *e)
{
	pthread_mutex_t *mu = user_lock(s, a->user);
	sbxd_code rv;

	*created = 0;
	token[0] = '\0';
	pthread_mutex_lock(mu);
	rv = store_session_live_for_user(s->store, a->user, out, e);
	if (rv == SBXD_NOT_FOUND) {
		err_clear(e);
		if ((rv = session_create(s, a, out, token, e)) == SBXD_OK)
			*created = 1;
	} else if (rv == SBXD_OK && a->egress_allow != NULL)
		rv = egress_matches(s, out, a->egress_allow, e);
	pthread_mutex_unlock(mu);
	return rv;
}

static int
purge_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Deletes the user's workspace. Only after the container is gone, so no
 * sandbox code races the walk; FTW_PHYS never follows a planted symlink and
 * FTW_MOUNT never crosses into another filesystem. */
static sbxd_code
workspace_purge(const char *path, struct err *e)
{
	if (nftw(path, purge_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 && errno != ENOENT)
		return err_set(e, SBXD_INTERNAL, "purging workspace %s: %s", path, strerror(errno));
	return SBXD_OK;
}

sbxd_code
session_end(struct server *s, const char *id, int purge, struct session_row *out,
    struct err *e)
{
	char key[STORE_ID_MAX + 8];
	sbxd_code rv;

	if ((rv = store_session_get(s->store, id, out, e)) != SBXD_OK)
		return rv;
	if (out->state != SESSION_ENDED)
		lifecycle_note_end(s, id, 1);   /* an Execute running now says so */
	procs_session_end(s, id, purge ? "session purged" : "session ended");
	terms_session_end(s, id);
	watches_session_end(s, id);
	if (out->container_id[0] != '\0' &&
	    (rv = s->drv->ops->remove(s->drv, out->container_id, e)) != SBXD_OK) {
		lifecycle_note_end(s, id, 0);
		return err_wrap(e, "removing the container: ");
	}
	pool_slot_release(s, id);   /* a pooled container is never reused */
	egress_session_down(s, id); /* after its container: the network goes */
	quota_key(out, key, sizeof(key));
	if (purge && ((rv = quota_purge(s, key, out->workspace, e)) != SBXD_OK ||
	    (rv = workspace_purge(out->workspace, e)) != SBXD_OK))
		return rv;
	if (out->state != SESSION_ENDED) {
		out->state = SESSION_ENDED;
		snprintf(out->stop_reason, sizeof(out->stop_reason), "%s", purge ? "purged" : "ended");
	}
	out->container_id[0] = '\0';
	out->token_hash[0] = '\0';   /* its token stops working with it */
	out->last_active_ms = server_now_ms();
	if ((rv = store_session_update(s->store, out, e)) != SBXD_OK)
		return rv;
	snapshot_session_ended(s, id);   /* after the row says ENDED */
	log_info("session %s ended%s", id, purge ? " and its workspace purged" : "");
	logbus_emitf(s, id, "", "session %s", out->stop_reason);
	logbus_forget(s, id);
	return SBXD_OK;
}

/* Starts a STOPPED session's container (healing a lost one); waking
 * counts as activity, so the reaper does not take it back at once. On
 * success the start lifecycle_make_room reserved has landed. */
static sbxd_code
wake(struct server *s, struct session_row *r, struct err *e)
{
	struct err ignored;
	sbxd_code rv;

	if ((rv = mounts_ensure(s, r, e)) == SBXD_OK)
		rv = s->drv->ops->start(s->drv, r->container_id, e);
	if (rv == SBXD_NOT_FOUND) {
		err_clear(e);
		rv = lifecycle_heal(s, r, e);
	}
	if (rv != SBXD_OK)
		return err_wrap(e, "waking the stopped session: ");
	r->state = SESSION_RUNNING;
	/* sbx's own stop reasons go; why the container died ("oom", "exited
	 * (N)", recorded by session_note_exit) stays for a look */
	if (strcmp(r->stop_reason, "oom") != 0 && strncmp(r->stop_reason, "exited (", 8) != 0)
		r->stop_reason[0] = '\0';
	r->last_active_ms = server_now_ms();
	lifecycle_start_land(s, r, &ignored);
	logbus_emitf(s, r->id, "", "session woken");
	return SBXD_OK;
}

sbxd_code
session_ensure_running(struct server *s, struct session_row *r, struct err *e)
{
	sbxd_code rv;

	switch (r->state) {
	case SESSION_RUNNING:
		return SBXD_OK;
	case SESSION_STOPPED:
		if ((rv = lifecycle_make_room(s, r->user, r->id, e)) != SBXD_OK)
			return rv;
		if ((rv = wake(s, r, e)) != SBXD_OK)
			lifecycle_start_done(s, r->user);
		return rv;
	case SESSION_ENDED:
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "session %s has ended; create a new session for user %s", r->id, r->user);
	default:
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "session %s is not usable (state %d, %s); end it and create a new one",
		    r->id, r->state, r->stop_reason);
	}
}

/* Why r's container is not running, into reason; 0 when it runs (or
 * cannot be inspected). */
static int
exit_reason(struct server *s, const char *cid, char *reason, size_t n)
{
	struct driver_container_info info;
	struct err e;

	if (s->drv->ops->inspect(s->drv, cid, &info, &e) != SBXD_OK) {
		log_debug("inspecting container %.12s: %s", cid, e.msg);
		return 0;
	}
	if (info.running)
		return 0;
	if (info.oom_killed)
		snprintf(reason, n, "oom");
	else
		snprintf(reason, n, "exited (%d)", info.exit_code);
	return 1;
}

int
session_note_exit(struct server *s, struct session_row *r, int stop)
{
	struct session_row cur;
	char reason[STORE_REASON_MAX];
	struct agentlink *l;
	struct err e;
	int down = 0;

	/* busy: waits out a stop by sbx (whose reason stands) and holds off new ones */
	lifecycle_busy_enter(s, r->id);
	if (store_session_get(s->store, r->id, &cur, &e) != SBXD_OK ||
	    cur.state != SESSION_RUNNING || strcmp(cur.container_id, r->container_id) != 0 ||
	    !(down = exit_reason(s, cur.container_id, reason, sizeof(reason))))
		goto out;
	log_info("session %s of user %s: container %.12s found stopped (%s)%s", cur.id,
	    cur.user, cur.container_id, reason, stop ? "" : "; restarting it");
	if ((l = driver_agent_find_link(s->drv, cur.container_id)) != NULL) {
		if (agentlink_container_died(l))
			log_info("session %s: its agent's link was still open; closed it",
			    cur.id);
		agentlink_unref(l);
	}
	procs_container_stopped(s, cur.container_id);
	snprintf(cur.stop_reason, sizeof(cur.stop_reason), "%s", reason);
	if (stop && store_session_mark_stopped(s->store, cur.id, reason, &e) == SBXD_OK)
		cur.state = SESSION_STOPPED;
	else if (stop)
		log_warnx("session %s: marking it stopped: %s", cur.id, e.msg);
	else if (store_session_update(s->store, &cur, &e) != SBXD_OK)
		log_warnx("session %s: recording why it stopped: %s", cur.id, e.msg);
	*r = cur;
out:
	lifecycle_busy_leave(s, r->id);
	return down;
}

/* After session_restart started r's container: if the engine events
 * thread marked the session STOPPED meanwhile (it saw the same death), it
 * runs again, and the store must say so. */
static void
note_restarted(struct server *s, struct session_row *r)
{
	struct session_row cur;
	struct err e;

	lifecycle_busy_enter(s, r->id);
	if (store_session_get(s->store, r->id, &cur, &e) == SBXD_OK &&
	    cur.state == SESSION_STOPPED && strcmp(cur.container_id, r->container_id) == 0) {
		cur.state = SESSION_RUNNING;
		cur.last_active_ms = server_now_ms();
		if (store_session_update(s->store, &cur, &e) != SBXD_OK)
			log_warnx("session %s: recording its restart: %s", cur.id, e.msg);
		*r = cur;
	}
	lifecycle_busy_leave(s, r->id);
}

sbxd_code
session_restart(struct server *s, struct session_row *r, struct err *e)
{
	sbxd_code rv;

	session_note_exit(s, r, 0);
	if ((rv = mounts_ensure(s, r, e)) != SBXD_OK ||
	    (rv = s->drv->ops->start(s->drv, r->container_id, e)) != SBXD_OK)
		return err_wrap(e, "the session's container had stopped and could not be restarted: ");
	note_restarted(s, r);
	return SBXD_OK;
}

/* One run of spec: through the driver's stdin path when a has stdin. */
static sbxd_code
exec_once(struct server *s, const struct driver_exec_spec *spec,
    const struct session_exec_args *a, struct driver_exec_result *res, struct err *e)
{
	if (a->stdin_len == 0)
		return s->drv->ops->exec(s->drv, spec, res, e);
	if (s->drv->ops->exec_stdin == NULL)
		return err_set(e, SBXD_UNIMPLEMENTED, "this container driver cannot feed stdin");
	return s->drv->ops->exec_stdin(s->drv, spec, a->stdin_data, a->stdin_len, res, e);
}

sbxd_code
session_exec(struct server *s, struct session_row *r, const struct session_exec_args *a,
    struct driver_exec_result *res, struct err *e)
{
	const char *sh[] = { "sh", "-c", a->command, NULL };
	const char *const *argv = a->argv != NULL ? a->argv : sh;
	char user[32];
	struct driver_exec_spec spec;
	sbxd_code rv;

	snprintf(user, sizeof(user), "%d:%d", (int)s->cfg->sandbox_uid, (int)s->cfg->sandbox_gid);
	spec = (struct driver_exec_spec){
		.container_id = r->container_id, .argv = argv, .words = a->argv != NULL,
		.env = a->env, .user = user,
		.workdir = a->cwd ? a->cwd : "/workspace", .timeout_ms = a->timeout_ms,
		.max_output = a->max_output,
		.on_output = a->on_output, .on_output_arg = a->on_output_arg,
	};
	rv = exec_once(s, &spec, a, res, e);
	if (rv == SBXD_FAILED_PRECONDITION) {
		/* Stopped behind our back (a Docker restart, an OOM of init):
		 * say why, start it once and try again. */
		driver_exec_result_fini(res);
		memset(res, 0, sizeof(*res));
		err_clear(e);
		if ((rv = session_restart(s, r, e)) != SBXD_OK)
			return rv;
		rv = exec_once(s, &spec, a, res, e);
	}
	if (rv == SBXD_NOT_FOUND) {
		/* The container is gone (removed outside sbx, or with Docker's
		 * state): give the session a new one and run the command there. */
		driver_exec_result_fini(res);
		memset(res, 0, sizeof(*res));
		err_clear(e);
		if ((rv = lifecycle_heal(s, r, e)) != SBXD_OK)
			return rv;
		spec.container_id = r->container_id;
		rv = exec_once(s, &spec, a, res, e);
	}
	return rv;
}
