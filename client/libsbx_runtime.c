/*
 * libsbx_runtime.c — ListRuntimes, GetRuntime and CreateRuntime, and the
 * conversion of a wire Runtime into an sbx_runtime whose strings are all
 * copies the caller frees with sbx_runtime_fini. CreateRuntime is called
 * with a long deadline (SBX_RUNTIME_BUILD_TIMEOUT_MS): the server builds
 * an image while the call waits.
 */
#include <stdlib.h>
#include <string.h>

#include "libsbx_int.h"

void
sbx_runtime_fini(sbx_runtime *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->image);
	free(r->description);
	for (size_t i = 0; r->packages != NULL && i < r->n_packages; i++)
		free(r->packages[i]);
	free(r->packages);
	free(r->work_dir);
	for (size_t i = 0; r->env != NULL && i < r->n_env; i++) {
		free(r->env[i].key);
		free(r->env[i].value);
	}
	free(r->env);
	free(r->network_mode);
	free(r->isolation);
	free(r->build_command);
	memset(r, 0, sizeof(*r));
}

void
sbx_runtime_list_free(sbx_runtime *runtimes, size_t n)
{
	for (size_t i = 0; runtimes != NULL && i < n; i++)
		sbx_runtime_fini(&runtimes[i]);
	free(runtimes);
}

static void
arrays_from_wire(sbx_runtime *d, const Sbx__V1__Runtime *s, int *bad)
{
	if (s->n_packages > 0 && (d->packages = calloc(s->n_packages, sizeof(char *))) == NULL)
		*bad = 1;
	for (size_t i = 0; d->packages != NULL && i < s->n_packages; i++, d->n_packages++)
		d->packages[i] = sbxi_strdup(s->packages[i], bad);
	if (s->n_env > 0 && (d->env = calloc(s->n_env, sizeof(*d->env))) == NULL)
		*bad = 1;
	for (size_t i = 0; d->env != NULL && i < s->n_env; i++, d->n_env++) {
		d->env[i].key = sbxi_strdup(s->env[i]->key, bad);
		d->env[i].value = sbxi_strdup(s->env[i]->value, bad);
	}
}

static sbx_err
runtime_from_wire(sbx_client *c, sbx_runtime *d, const Sbx__V1__Runtime *s)
{
	static const Sbx__V1__Runtime empty = SBX__V1__RUNTIME__INIT;
	int bad = 0;

	if (s == NULL)
		s = &empty;
	memset(d, 0, sizeof(*d));
	d->name = sbxi_strdup(s->name, &bad);
	d->image = sbxi_strdup(s->image, &bad);
	d->description = sbxi_strdup(s->description, &bad);
	d->work_dir = sbxi_strdup(s->work_dir, &bad);
	d->network_mode = sbxi_strdup(s->network_mode, &bad);
	d->isolation = sbxi_strdup(s->isolation, &bad);
	d->build_command = sbxi_strdup(s->build_command, &bad);
	d->ready = s->ready != 0;
	sbxi_limits_from_wire(&d->default_limits, s->default_limits);
	arrays_from_wire(d, s, &bad);
	if (!bad)
		return SBX_OK;
	sbx_runtime_fini(d);
	return sbxi_oom(c);
}

sbx_err
sbx_runtime_list(sbx_client *c, sbx_runtime **runtimes, size_t *n)
{
	Sbx__V1__ListRuntimesRequest req = SBX__V1__LIST_RUNTIMES_REQUEST__INIT;
	Sbx__V1__ListRuntimesResponse *resp = NULL;
	sbx_runtime *a = NULL;
	sbx_err rv;

	*runtimes = NULL;
	*n = 0;
	sbxi_clear_err(c);
	rv = CALL(c, SVC_SESSION "ListRuntimes", 0, &req,
	    sbx__v1__list_runtimes_response, &resp);
	if (rv == SBX_OK && resp->n_runtimes > 0 &&
	    (a = calloc(resp->n_runtimes, sizeof(*a))) == NULL)
		rv = sbxi_oom(c);
	for (size_t i = 0; rv == SBX_OK && a != NULL && i < resp->n_runtimes; i++)
		rv = runtime_from_wire(c, &a[i], resp->runtimes[i]);
	if (rv == SBX_OK) {
		*runtimes = a;
		*n = resp->n_runtimes;
	} else if (a != NULL)
		sbx_runtime_list_free(a, resp->n_runtimes);
	if (resp != NULL)
		sbx__v1__list_runtimes_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_runtime_get(sbx_client *c, const char *name, sbx_runtime *out)
{
	Sbx__V1__GetRuntimeRequest req = SBX__V1__GET_RUNTIME_REQUEST__INIT;
	Sbx__V1__GetRuntimeResponse *resp = NULL;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	sbxi_clear_err(c);
	if (name == NULL || *name == '\0')
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "runtime name is required");
	req.name = (char *)name;
	rv = CALL(c, SVC_SESSION "GetRuntime", 0, &req, sbx__v1__get_runtime_response, &resp);
	if (rv == SBX_OK)
		rv = runtime_from_wire(c, out, resp->runtime);
	if (resp != NULL)
		sbx__v1__get_runtime_response__free_unpacked(resp, NULL);
	return rv;
}

/* Wire env labels pointing into the caller's strings; free the result only. */
static sbx_err
env_to_wire(sbx_client *c, const sbx_label *l, size_t n, Sbx__V1__Label ***out)
{
	Sbx__V1__Label *cells, **ptrs;

	*out = NULL;
	if (n == 0)
		return SBX_OK;
	if (l == NULL)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "n_env is %zu but env is NULL", n);
	if ((ptrs = calloc(n, sizeof(*ptrs) + sizeof(*cells))) == NULL)
		return sbxi_oom(c);
	cells = (Sbx__V1__Label *)(ptrs + n);
	for (size_t i = 0; i < n; i++) {
		sbx__v1__label__init(&cells[i]);
		cells[i].key = l[i].key ? l[i].key : "";
		cells[i].value = l[i].value ? l[i].value : "";
		ptrs[i] = &cells[i];
	}
	*out = ptrs;
	return SBX_OK;
}

static sbx_err
log_out(sbx_client *c, const ProtobufCBinaryData *b, char **build_log)
{
	if (build_log == NULL || b->len == 0)
		return SBX_OK;
	if ((*build_log = malloc(b->len + 1)) == NULL)
		return sbxi_oom(c);
	memcpy(*build_log, b->data, b->len);
	(*build_log)[b->len] = '\0';
	return SBX_OK;
}

sbx_err
sbx_runtime_create(sbx_client *c, const sbx_runtime_create_opts *o, sbx_runtime *out,
    char **build_log)
{
	Sbx__V1__CreateRuntimeRequest req = SBX__V1__CREATE_RUNTIME_REQUEST__INIT;
	Sbx__V1__CreateRuntimeResponse *resp = NULL;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	if (build_log != NULL)
		*build_log = NULL;
	sbxi_clear_err(c);
	if (o == NULL || o->name == NULL || *o->name == '\0')
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "runtime name is required");
	req.name = (char *)o->name;
	req.base_runtime = (char *)(o->base_runtime ? o->base_runtime : "");
	req.os_packages = (char **)o->os_packages;
	req.n_os_packages = o->os_packages ? o->n_os_packages : 0;
	req.pip_packages = (char **)o->pip_packages;
	req.n_pip_packages = o->pip_packages ? o->n_pip_packages : 0;
	req.npm_packages = (char **)o->npm_packages;
	req.n_npm_packages = o->npm_packages ? o->n_npm_packages : 0;
	req.setup_commands = (char **)o->setup_commands;
	req.n_setup_commands = o->setup_commands ? o->n_setup_commands : 0;
	req.work_dir = (char *)(o->work_dir ? o->work_dir : "");
	if ((rv = env_to_wire(c, o->env, o->n_env, &req.env)) != SBX_OK)
		return rv;
	req.n_env = o->n_env;
	rv = CALL(c, SVC_SESSION "CreateRuntime",
	    o->call_timeout_ms ? o->call_timeout_ms : SBX_RUNTIME_BUILD_TIMEOUT_MS, &req,
	    sbx__v1__create_runtime_response, &resp);
	free(req.env);
	if (rv == SBX_OK)
		rv = runtime_from_wire(c, out, resp->runtime);
	if (rv == SBX_OK && (rv = log_out(c, &resp->build_log, build_log)) != SBX_OK)
		sbx_runtime_fini(out);
	if (resp != NULL)
		sbx__v1__create_runtime_response__free_unpacked(resp, NULL);
	return rv;
}
