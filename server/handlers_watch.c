/*
 * handlers_watch.c — SandboxService's file watch calls: Watch and
 * Unwatch. Each checks its fields and the caller's reach to the session
 * (call_session), then hands over to watches.c, which only ever looks a
 * watch id up within that session.
 */
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "lifecycle.h"
#include "sbx/v1/sbx.pb-c.h"
#include "watches.h"

#define WATCH_PATH_MAX 4096
#define WORKSPACE "/workspace"

/* The container path to watch: "" is /workspace, a relative path is under
 * it (in c->out). */
static sbxd_code
watch_path(struct call *c, const char *in, const char **out)
{
	size_t n = strlen(in) + sizeof(WORKSPACE) + 1;
	char *p;

	if (strlen(in) > WATCH_PATH_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "path is longer than %d bytes",
		    WATCH_PATH_MAX);
	if (in[0] == '/') {
		*out = in;
		return SBXD_OK;
	}
	if ((p = arena_alloc(c->out, n)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	snprintf(p, n, "%s%s%s", WORKSPACE, in[0] ? "/" : "", in);
	*out = p;
	return SBXD_OK;
}

static sbxd_code
check_globs(struct call *c, char **globs, size_t n, const char *const **out)
{
	const char **v;

	*out = NULL;
	if (n > WATCHES_GLOBS_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "%zu globs; give at most %d", n,
		    WATCHES_GLOBS_MAX);
	if (n == 0)
		return SBXD_OK;
	for (size_t i = 0; i < n; i++)
		if (globs[i][0] == '\0' || strlen(globs[i]) > WATCHES_GLOB_LEN_MAX)
			return err_set(&c->err, SBXD_INVALID_ARGUMENT, "glob %zu is empty or "
			    "longer than %d bytes", i, WATCHES_GLOB_LEN_MAX);
	if ((v = arena_calloc(c->out, n + 1, sizeof(*v))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	memcpy(v, globs, n * sizeof(*v));
	*out = v;
	return SBXD_OK;
}

sbxd_code
h_watch(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__WatchRequest *rq = (const void *)in;
	Sbx__V1__WatchResponse *rs = (void *)out;
	struct watches_args a = { .recursive = rq->recursive };
	char id[WATCHES_ID_MAX];
	struct session_row row;
	sbxd_code rv;

	if ((rv = watch_path(c, rq->path, &a.path)) != SBXD_OK ||
	    (rv = check_globs(c, rq->globs, rq->n_globs, &a.globs)) != SBXD_OK ||
	    (rv = call_session(c, rq->session_id, &row)) != SBXD_OK)
		return rv;
	lifecycle_busy_enter(c->srv, row.id);
	if ((rv = call_sandbox(c, rq->session_id, &row)) == SBXD_OK)
		rv = watches_start(c->srv, &row, &a, id, &rs->after_seq, &c->err);
	lifecycle_busy_leave(c->srv, row.id);
	if (rv != SBXD_OK)
		return rv;
	if ((rs->watch_id = arena_strdup(c->out, id)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	return SBXD_OK;
}

sbxd_code
h_unwatch(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__UnwatchRequest *rq = (const void *)in;
	struct session_row row;
	size_t n = strlen(rq->watch_id);
	sbxd_code rv;

	(void)out;
	if (n < 2 || n >= WATCHES_ID_MAX || rq->watch_id[0] != 'w' ||
	    strspn(rq->watch_id + 1, "0123456789") != n - 1)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "watch_id \"%.32s\" is missing "
		    "or malformed; use the id Watch returned", rq->watch_id);
	if ((rv = call_session(c, rq->session_id, &row)) != SBXD_OK)
		return rv;
	return watches_stop(c->srv, row.id, rq->watch_id, &c->err);
}
