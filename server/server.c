/*
 * server.c — opening and closing the state a running sbxd shares
 * (see server.h).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "driver_agent.h"
#include "terms.h"
#include "watches.h"
#include "lifecycle.h"
#include "log.h"
#include "logbus.h"
#include "pool.h"
#include "procs.h"
#include "replycache.h"
#include "server.h"
#include "egress.h"
#include "shares.h"

int64_t
server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mkdir -p for host-controlled directories (state dir, workspace root). */
static sbxd_code
make_dirs(const char *path, mode_t mode, struct err *e)
{
	char tmp[CONFIG_PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return err_set(e, SBXD_INVALID_ARGUMENT, "path too long: %s", path);
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(tmp, mode) != 0 && errno != EEXIST)
				return err_set(e, SBXD_FAILED_PRECONDITION,
				    "cannot create directory %s: %s", tmp, strerror(errno));
			if ((*p = c) == '\0')
				break;
		}
	}
	return SBXD_OK;
}

void
server_instance_id(const char *db_path, char out[17])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)db_path, strlen(db_path));
	sodium_bin2hex(out, 17, h, 8);
}

/* How many containers can be live at once: the session ceiling (or, with
 * none, SERVER_CONTAINERS_UNCAPPED), every warm pool, and room for builds
 * and sessions being replaced. */
#define SERVER_CONTAINERS_UNCAPPED 65536
#define SERVER_CONTAINERS_SLACK 64

static size_t
live_containers(const struct config *c)
{
	size_t n = c->max_live_sessions > 0 ? (size_t)c->max_live_sessions :
	    SERVER_CONTAINERS_UNCAPPED;

	n += c->pool_size > 0 ? (size_t)c->pool_size : 0;
	for (int i = 0; i < c->npool_sizes; i++)
		n += c->pool_sizes[i].n > 0 ? (size_t)c->pool_sizes[i].n : 0;
	return n + SERVER_CONTAINERS_SLACK;
}

/* Gives sessions an in-sandbox agent (driver_agent.h) when its binary is
 * there; without it, everything goes through the engine as before. */
static void
wrap_agent(const struct config *cfg, struct driver **drv)
{
	struct driver_agent_opts o = { .state_dir = cfg->state_dir };
	char self[PATH_MAX], bin[PATH_MAX + 16];
	struct driver *w;
	struct err e;
	ssize_t n;

	if (cfg->agent_binary[0] != '\0')
		snprintf(bin, sizeof(bin), "%s", cfg->agent_binary);
	else if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		snprintf(bin, sizeof(bin), "%s/sbx-agent", dirname(self));
	} else
		bin[0] = '\0';
	o.binary = bin;
	if (driver_agent_new(*drv, &o, &w, &e) != SBXD_OK) {
		log_warnx("%s; sessions get no in-sandbox agent, commands use docker exec",
		    e.msg);
		return;
	}
	*drv = w;
}

sbxd_code
server_open(const struct config *cfg, struct driver *drv, struct server **out,
    struct err *e)
{
	struct server *s;
	sbxd_code rv;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		if (drv != NULL)
			drv->ops->free(drv);
		return err_set(e, SBXD_INTERNAL, "out of memory");
	}
	s->cfg = cfg;
	s->drv = drv;
	for (int i = 0; i < SERVER_USER_LOCKS; i++)
		pthread_mutex_init(&s->user_locks[i], NULL);
	uploads_init(&s->uploads);
	if ((rv = lifecycle_open(s, e)) != SBXD_OK)
		goto fail;
	if ((rv = make_dirs(cfg->state_dir, 0700, e)) != SBXD_OK ||
	    (rv = make_dirs(cfg->workspace_root, 0711, e)) != SBXD_OK)
		goto fail;
	if ((rv = store_open(cfg->db_path, &s->store, e)) != SBXD_OK)
		goto fail;
	if ((rv = auth_new(cfg, &s->auth, e)) != SBXD_OK)
		goto fail;
	if ((rv = replycache_new(NULL, &s->replies, e)) != SBXD_OK)
		goto fail;
	/* a key per credential and per session a long call may hold */
	if ((s->shares = shares_new(2 * cfg->command_workers + 2)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory");
		goto fail;
	}
	if ((rv = logbus_open(s, e)) != SBXD_OK)
		goto fail;
	if (s->drv == NULL) {
		if ((rv = docker_driver_new(cfg->docker_socket, &s->drv, e)) != SBXD_OK)
			goto fail;
		if (cfg->agent)
			wrap_agent(cfg, &s->drv);
	}
	server_instance_id(cfg->db_path, s->instance);
	if ((rv = egress_open(s, e)) != SBXD_OK)
		goto fail;
	if (s->drv->ops->reserve != NULL)
		s->drv->ops->reserve(s->drv, live_containers(cfg));
	if ((rv = pool_open(s, e)) != SBXD_OK)
		goto fail;
	if ((rv = procs_open(s, e)) != SBXD_OK)
		goto fail;
	if ((rv = terms_open(s, e)) != SBXD_OK || (rv = watches_open(s, e)) != SBXD_OK)
		goto fail;
	*out = s;
	return SBXD_OK;
fail:
	server_close(s);
	return rv;
}

void
server_close(struct server *s)
{
	if (s == NULL)
		return;
	lifecycle_events_stop(s);    /* its thread uses the driver, store, log bus */
	procs_close(s);              /* early: its thread uses the driver, */
	                             /* the log bus and the lifecycle marks */
	terms_close(s);              /* before the driver: they hold its links */
	watches_close(s);
	pool_close(s);               /* its thread and the reaper's use */
	lifecycle_close(s);          /* the store and driver */
	egress_close(s);             /* its log follower emits on the log bus */
	if (s->drv != NULL)
		s->drv->ops->free(s->drv);
	logbus_close(s);             /* after every emitter (reaper, driver) stopped */
	lifecycle_sweep_stop(s);     /* uses only the config */
	auth_free(s->auth);
	replycache_free(s->replies);
	shares_free(s->shares);
	store_close(s->store);
	for (int i = 0; i < SERVER_USER_LOCKS; i++)
		pthread_mutex_destroy(&s->user_locks[i]);
	uploads_fini(&s->uploads);
	free(s);
}
