/*
 * isolation.c — isolation names and whether the engine can give them (see
 * isolation.h).
 *
 * Whether the engine has an OCI runtime is asked of it (GET /info,
 * Runtimes) when a session or a pool member needs it: a positive answer
 * is kept for ISOLATION_CACHE_MS, so pooled creates do not pay an engine
 * call each, while an engine that just had runsc registered (SIGHUP) is
 * believed at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "isolation.h"
#include "log.h"
#include "server.h"
#include "monotime.h"

#define ISOLATION_CACHE_MS 10000

static const char *const names[ISOLATION_N] = { "runc", "gvisor" };

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char runtime[64];
	int64_t until_ms;           /* monotonic; 0 = not known present */
} cache[ISOLATION_N];

const char *
isolation_name(int iso)
{
	return iso >= 0 && iso < ISOLATION_N ? names[iso] : "?";
}

int
isolation_parse(const char *name)
{
	for (int i = 0; i < ISOLATION_N; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

void
isolation_names(unsigned mask, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < ISOLATION_N && len < n; i++)
		if (mask & (1u << i))
			len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " " : "", names[i]);
}

const char *
isolation_engine_runtime(const struct config *c, int iso)
{
	return iso == ISOLATION_GVISOR ? c->gvisor_runtime : "runc";
}

static int64_t
mono_ms(void)
{
	return (int64_t)monotime_ms();
}

/* 1 when the engine said recently that it has runtime. */
static int
cached(int iso, const char *runtime)
{
	int yes;

	pthread_mutex_lock(&cache_mu);
	yes = cache[iso].until_ms > mono_ms() && strcmp(cache[iso].runtime, runtime) == 0;
	pthread_mutex_unlock(&cache_mu);
	return yes;
}

static void
remember(int iso, const char *runtime)
{
	pthread_mutex_lock(&cache_mu);
	snprintf(cache[iso].runtime, sizeof(cache[iso].runtime), "%s", runtime);
	cache[iso].until_ms = mono_ms() + ISOLATION_CACHE_MS;
	pthread_mutex_unlock(&cache_mu);
}

sbxd_code
isolation_check(struct server *s, int iso, struct err *e)
{
	const char *rt = isolation_engine_runtime(s->cfg, iso);
	int present = 0;
	sbxd_code rv;

	if (iso == ISOLATION_RUNC || cached(iso, rt))
		return SBXD_OK;
	if (s->drv->ops->engine_runtime == NULL)
		return err_set(e, SBXD_FAILED_PRECONDITION, "isolation %s is not available: "
		    "this container driver cannot run OCI runtime %s; ask for isolation runc",
		    isolation_name(iso), rt);
	if ((rv = s->drv->ops->engine_runtime(s->drv, rt, &present, e)) != SBXD_OK)
		return rv;
	if (!present)
		return err_set(e, SBXD_FAILED_PRECONDITION, "isolation %s is not available: "
		    "the Docker engine has no OCI runtime \"%s\" registered; install and "
		    "register gVisor with `deploy/install.sh --gvisor` (or deploy/gvisor.sh "
		    "--name %s), or ask for isolation runc", isolation_name(iso), rt, rt);
	remember(iso, rt);
	return SBXD_OK;
}

void
isolation_log_readiness(struct server *s)
{
	char list[64];
	struct err e;

	isolation_names(s->cfg->isolations_allowed, list, sizeof(list));
	log_info("isolation: sessions get %s unless they or their runtime ask; allowed: %s",
	    isolation_name(s->cfg->isolation), list);
	if (!(s->cfg->isolations_allowed & (1u << ISOLATION_GVISOR)))
		return;
	if (isolation_check(s, ISOLATION_GVISOR, &e) == SBXD_OK)
		log_info("isolation gvisor: the engine runs it with OCI runtime %s",
		    s->cfg->gvisor_runtime);
	else
		log_info("%s", e.msg);
}
