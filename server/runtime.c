/*
 * runtime.c — the runtime catalog (see runtime.h): the built-in table,
 * lookups that merge it with the config's runtimes and the store's custom
 * ones, image readiness, and the start-up readiness report.
 *
 * The built-ins' package lists come from deploy/images/runtimes.list
 * (compiled in as runtime_packages.h), the file build.sh installs from, so
 * what ListRuntimes reports is what the image holds. Default limits are
 * clamped to the config's ceilings here, once, so a runtime can never hand
 * a session more than a request could ask for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "runtime.h"

struct builtin {
	const char *name;
	const char *description;
	int64_t memory_bytes;        /* 0 = the config's default */
	int64_t nano_cpus;
	int64_t pids_limit;
	uint64_t exec_timeout_ms;
	const char *env[4];
};

static const struct builtin builtins[] = {
	{ "python-minimal", "Python 3.11 (Debian bookworm) with the standard library",
	  0, 0, 0, 0, { "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1" } },
	{ "python-datascience", "Python 3.11 with numpy, pandas, matplotlib, "
	  "scikit-learn and seaborn (Debian packages)",
	  2LL << 30, 2000000000LL, 0, 300000,
	  { "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "MPLBACKEND=Agg",
	    "MPLCONFIGDIR=/tmp/matplotlib" } },
	{ "python-web", "Python 3.11 with FastAPI, SQLAlchemy, httpx, uvicorn and curl",
	  0, 0, 0, 0, { "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1" } },
	{ "node-minimal", "Node.js 18 (Debian bookworm; not 20)",
	  0, 0, 0, 0, { "NODE_PATH=/usr/share/nodejs:/usr/lib/nodejs" } },
	{ "node-react", "Node.js 18 with TypeScript (tsc), React and ReactDOM; "
	  "no Vite (not packaged by Debian)",
	  0, 0, 0, 0, { "NODE_PATH=/usr/share/nodejs:/usr/lib/nodejs" } },
};

static const struct {
	const char *name;
	const char *packages;
} packages[] = {
#include "runtime_packages.h"
};

static const struct builtin *
builtin_find(const char *name)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(builtins[i].name, name) == 0)
			return &builtins[i];
	return NULL;
}

static const char *
builtin_packages(const char *name)
{
	for (size_t i = 0; i < sizeof(packages) / sizeof(packages[0]); i++)
		if (strcmp(packages[i].name, name) == 0)
			return packages[i].packages;
	return "";
}

/* v when set and under the ceiling, the ceiling when over it, else dflt. */
static int64_t
clamp(int64_t v, int64_t dflt, int64_t ceiling)
{
	if (v <= 0)
		return dflt;
	return ceiling > 0 && v > ceiling ? ceiling : v;
}

/* The parts every runtime shares: config defaults within the ceilings. */
static void
fill_defaults(const struct config *c, struct runtime *rt, const struct builtin *b)
{
	rt->memory_bytes = clamp(b ? b->memory_bytes : 0, c->memory_bytes, c->max_memory_bytes);
	rt->nano_cpus = clamp(b ? b->nano_cpus : 0, c->nano_cpus, c->max_nano_cpus);
	rt->pids_limit = clamp(b ? b->pids_limit : 0, c->pids_limit, c->max_pids_limit);
	rt->exec_timeout_ms = (uint64_t)clamp(b ? (int64_t)b->exec_timeout_ms : 0,
	    (int64_t)c->exec_timeout_default_ms, (int64_t)c->exec_timeout_max_ms);
	snprintf(rt->network_mode, sizeof(rt->network_mode), "%s", c->network_mode);
	if (rt->work_dir[0] == '\0')
		snprintf(rt->work_dir, sizeof(rt->work_dir), "/workspace");
}

static void
from_config(const struct config *c, const struct config_runtime *cr, struct runtime *rt)
{
	const struct builtin *b = builtin_find(cr->name);

	memset(rt, 0, sizeof(*rt));
	snprintf(rt->name, sizeof(rt->name), "%s", cr->name);
	snprintf(rt->image, sizeof(rt->image), "%s", cr->image);
	snprintf(rt->build_command, sizeof(rt->build_command), "%s", cr->build_command);
	rt->writable_rootfs = cr->writable_rootfs;
	rt->isolation = cr->isolation;
	snprintf(rt->egress, sizeof(rt->egress), "%s", cr->egress);
	snprintf(rt->description, sizeof(rt->description), "%s",
	    b ? b->description : "defined in the config file");
	snprintf(rt->packages, sizeof(rt->packages), "%s", builtin_packages(cr->name));
	for (int i = 0; b != NULL && i < 4 && b->env[i] != NULL; i++)
		snprintf(rt->env[rt->nenv++], RUNTIME_ENV_ITEM_MAX, "%s", b->env[i]);
	fill_defaults(c, rt, b);
}

sbxd_code
runtime_get(struct server *s, const char *name, struct runtime *out, struct err *e)
{
	const struct config_runtime *cr = config_runtime(s->cfg, name);
	struct store_runtime *sr;
	sbxd_code rv;

	if (cr != NULL) {
		from_config(s->cfg, cr, out);
		return SBXD_OK;
	}
	if (strlen(name) >= RUNTIME_NAME_MAX)
		return err_set(e, SBXD_NOT_FOUND, "unknown runtime (name of %zu bytes); "
		    "ListRuntimes shows the available ones", strlen(name));
	if ((sr = malloc(sizeof(*sr))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	rv = store_runtime_get(s->store, name, sr, e);
	if (rv == SBXD_NOT_FOUND)
		rv = err_set(e, SBXD_NOT_FOUND, "unknown runtime \"%s\"; ListRuntimes shows "
		    "the available ones, CreateRuntime makes new ones", name);
	if (rv == SBXD_OK)
		rv = runtime_from_stored(s, sr->name, sr->image, sr->definition, out, e);
	free(sr);
	return rv;
}

/* Appends the store's runtimes after the n already in a (room for max). */
static sbxd_code
list_custom(struct server *s, struct runtime *a, int max, int *n, struct err *e)
{
	struct store_runtime *sr;
	int k = 0;
	sbxd_code rv;

	if ((sr = calloc((size_t)(max - *n), sizeof(*sr))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	rv = store_runtime_list(s->store, sr, max - *n, &k, e);
	for (int i = 0; rv == SBXD_OK && i < k; i++) {
		struct err le;

		/* one unreadable row does not hide the others */
		if (runtime_from_stored(s, sr[i].name, sr[i].image, sr[i].definition,
		    &a[*n], &le) == SBXD_OK)
			(*n)++;
		else
			log_warnx("runtime %s: %s", sr[i].name, le.msg);
	}
	free(sr);
	return rv;
}

sbxd_code
runtime_list(struct server *s, struct runtime **out, int *n, struct err *e)
{
	const struct config *c = s->cfg;
	struct runtime *a;

	*n = 0;
	if ((*out = a = calloc(RUNTIME_LIST_MAX, sizeof(*a))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	for (int i = 0; i < c->nruntimes && *n < RUNTIME_LIST_MAX; i++)
		from_config(c, &c->runtimes[i], &a[(*n)++]);
	return list_custom(s, a, RUNTIME_LIST_MAX, n, e);
}

sbxd_code
runtime_ready(struct server *s, const struct runtime *rt, int *ready, struct err *e)
{
	return s->drv->ops->image_present(s->drv, rt->image, ready, e);
}

void
runtime_log_readiness(struct server *s)
{
	struct runtime *a = NULL;
	char ready[1024] = "", missing[1024] = "";
	int n = 0, ok;
	struct err e;

	if (runtime_list(s, &a, &n, &e) != SBXD_OK) {
		log_warnx("runtimes: cannot list them: %s", e.msg);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char *dst = missing;

		if (runtime_ready(s, &a[i], &ok, &e) != SBXD_OK) {
			log_warnx("runtimes: cannot check %s: %s", a[i].name, e.msg);
			goto out;
		}
		if (ok)
			dst = ready;
		else
			log_info("runtime %s needs building: %s", a[i].name, a[i].build_command);
		snprintf(dst + strlen(dst), 1024 - strlen(dst), "%s%s", *dst ? " " : "",
		    a[i].name);
	}
	log_info("runtimes ready: %s%s%s", *ready ? ready : "(none)",
	    *missing ? "; not built: " : "", missing);
out:
	free(a);
}
