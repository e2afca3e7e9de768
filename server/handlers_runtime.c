/*
 * handlers_runtime.c — ListRuntimes, GetRuntime and CreateRuntime.
 *
 * The catalog itself is runtime.c's; this file turns a struct runtime into
 * the wire Runtime and checks CreateRuntime's request completely before
 * runtime_build.c sees it (runtime_check_def: package-name grammars, env
 * keys, bounds). CreateRuntime is slow — a build is tens of seconds to
 * minutes — and runs on the worker thread the dispatcher gave it; callers
 * give it a long deadline (libsbx and the CLI use SBX_RUNTIME_BUILD_TIMEOUT_MS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "dispatch.h"
#include "isolation.h"
#include "log.h"
#include "runtime.h"
#include "sbx/v1/sbx.pb-c.h"

#define BUILD_LOG_MAX (256u << 10)   /* build log returned to the caller */

/* Splits the comma-separated list into m->packages. 0 on allocation failure. */
static int
msg_packages(struct call *c, Sbx__V1__Runtime *m, const char *list)
{
	char *copy = arena_strdup(c->out, list), *save = NULL, *p;
	size_t n = *list ? 1 : 0;

	if (copy == NULL)
		return 0;
	for (const char *q = list; *q; q++)
		n += *q == ',';
	if (n == 0)
		return 1;
	if ((m->packages = arena_calloc(c->out, n, sizeof(char *))) == NULL)
		return 0;
	for (p = strtok_r(copy, ",", &save); p != NULL && m->n_packages < n;
	    p = strtok_r(NULL, ",", &save))
		m->packages[m->n_packages++] = p;
	return 1;
}

/* "K=V" strings as Labels. 0 on allocation failure. */
static int
msg_env(struct call *c, Sbx__V1__Runtime *m, const struct runtime *rt)
{
	if (rt->nenv == 0)
		return 1;
	if ((m->env = arena_calloc(c->out, (size_t)rt->nenv, sizeof(*m->env))) == NULL)
		return 0;
	for (int i = 0; i < rt->nenv; i++) {
		Sbx__V1__Label *l = arena_alloc(c->out, sizeof(*l));
		char *kv = arena_strdup(c->out, rt->env[i]), *eq;

		if (l == NULL || kv == NULL)
			return 0;
		sbx__v1__label__init(l);
		if ((eq = strchr(kv, '=')) != NULL)
			*eq++ = '\0';
		l->key = kv;
		l->value = eq ? eq : "";
		m->env[m->n_env++] = l;
	}
	return 1;
}

/* The wire Runtime of rt, with its readiness asked of the engine (an
 * engine error counts as not ready). NULL when the reply arena is full. */
static Sbx__V1__Runtime *
runtime_msg(struct call *c, const struct runtime *rt)
{
	Sbx__V1__Runtime *m = arena_alloc(c->out, sizeof(*m));
	Sbx__V1__Limits *l = arena_alloc(c->out, sizeof(*l));
	struct err e;
	int present = 0;

	if (m == NULL || l == NULL)
		return NULL;
	sbx__v1__runtime__init(m);
	sbx__v1__limits__init(l);
	l->memory_bytes = (uint64_t)rt->memory_bytes;
	l->nano_cpus = (uint64_t)rt->nano_cpus;
	l->pids = rt->pids_limit;
	l->exec_timeout_ms = rt->exec_timeout_ms;
	m->default_limits = l;
	if ((m->name = arena_strdup(c->out, rt->name)) == NULL ||
	    (m->image = arena_strdup(c->out, rt->image)) == NULL ||
	    (m->description = arena_strdup(c->out, rt->description)) == NULL ||
	    (m->work_dir = arena_strdup(c->out, rt->work_dir)) == NULL ||
	    (m->network_mode = arena_strdup(c->out, rt->network_mode)) == NULL ||
	    (m->isolation = arena_strdup(c->out, isolation_name(rt->isolation))) == NULL ||
	    !msg_packages(c, m, rt->packages) || !msg_env(c, m, rt))
		return NULL;
	if (runtime_ready(c->srv, rt, &present, &e) != SBXD_OK)
		present = 0;
	m->ready = present;
	m->build_command = present ? "" : arena_strdup(c->out, rt->build_command);
	return m->build_command ? m : NULL;
}

sbxd_code
h_list_runtimes(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	Sbx__V1__ListRuntimesResponse *rs = (void *)out;
	struct runtime *a = NULL;
	int n = 0;
	sbxd_code rv;

	(void)in;
	if ((rv = runtime_list(c->srv, &a, &n, &c->err)) != SBXD_OK)
		goto out;
	rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	if (n > 0 && (rs->runtimes = arena_calloc(c->out, (size_t)n, sizeof(*rs->runtimes))) == NULL)
		goto out;
	for (int i = 0; i < n; i++)
		if ((rs->runtimes[rs->n_runtimes++] = runtime_msg(c, &a[i])) == NULL)
			goto out;
	err_clear(&c->err);
	rv = SBXD_OK;
out:
	free(a);
	return rv;
}

sbxd_code
h_get_runtime(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__GetRuntimeRequest *rq = (const void *)in;
	Sbx__V1__GetRuntimeResponse *rs = (void *)out;
	struct runtime *rt;
	sbxd_code rv;

	if (*rq->name == '\0')
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "name is required");
	if ((rt = malloc(sizeof(*rt))) == NULL)
		return err_set(&c->err, SBXD_INTERNAL, "out of memory");
	if ((rv = runtime_get(c->srv, rq->name, rt, &c->err)) == SBXD_OK &&
	    (rs->runtime = runtime_msg(c, rt)) == NULL)
		rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	free(rt);
	return rv;
}

/* env Labels as "K=V" strings in the reply arena. */
static sbxd_code
env_strings(struct call *c, Sbx__V1__Label **labels, size_t n, const char ***out)
{
	const char **v;

	*out = NULL;
	if (n == 0)
		return SBXD_OK;
	if (n > RUNTIME_ENV_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "env has %zu entries; at most %d",
		    n, RUNTIME_ENV_MAX);
	if ((v = arena_calloc(c->out, n, sizeof(*v))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(labels[i]->key), vl = strlen(labels[i]->value);
		char *kv;

		if (kl + vl + 2 > RUNTIME_ENV_ITEM_MAX)
			return err_set(&c->err, SBXD_INVALID_ARGUMENT,
			    "env[%zu] is longer than %d bytes", i, RUNTIME_ENV_ITEM_MAX - 2);
		if ((kv = arena_alloc(c->out, kl + vl + 2)) == NULL)
			return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
		snprintf(kv, kl + vl + 2, "%s=%s", labels[i]->key, labels[i]->value);
		v[i] = kv;
	}
	*out = v;
	return SBXD_OK;
}

sbxd_code
h_create_runtime(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__CreateRuntimeRequest *rq = (const void *)in;
	Sbx__V1__CreateRuntimeResponse *rs = (void *)out;
	struct runtime_def d = {
		.name = rq->name, .base = rq->base_runtime,
		.os_pkgs = (const char *const *)rq->os_packages, .nos = rq->n_os_packages,
		.pip_pkgs = (const char *const *)rq->pip_packages, .npip = rq->n_pip_packages,
		.npm_pkgs = (const char *const *)rq->npm_packages, .nnpm = rq->n_npm_packages,
		.setup = (const char *const *)rq->setup_commands, .nsetup = rq->n_setup_commands,
		.nenv = rq->n_env, .work_dir = rq->work_dir,
	};
	struct runtime *rt = NULL;
	const char **env = NULL;
	struct buf log;
	sbxd_code rv;

	buf_init(&log, BUILD_LOG_MAX);
	if ((rv = env_strings(c, rq->env, rq->n_env, &env)) == SBXD_OK)
		d.env = env;
	if (rv != SBXD_OK ||
	    (rv = runtime_check_def(&d, &c->err)) != SBXD_OK)
		goto out;
	if ((rt = malloc(sizeof(*rt))) == NULL) {
		rv = err_set(&c->err, SBXD_INTERNAL, "out of memory");
		goto out;
	}
	if ((rv = runtime_create(c->srv, &d, rt, &log, &c->err)) != SBXD_OK)
		goto out;
	if ((rs->runtime = runtime_msg(c, rt)) == NULL) {
		rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
		goto out;
	}
	if (log.len > 0) {
		if ((rs->build_log.data = arena_alloc(c->out, log.len)) == NULL) {
			rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
			goto out;
		}
		memcpy(rs->build_log.data, log.data, log.len);
		rs->build_log.len = log.len;
	}
out:
	free(rt);
	buf_fini(&log);
	return rv;
}
