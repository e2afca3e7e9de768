/*
 * libsbx_watch.c — the file watch calls of libsbx: sbx_watch_start,
 * _stop, and sbx_watch_events_decode for the SBX_STREAM_WATCH events a
 * log subscription delivers.
 */
#include <stdlib.h>
#include <string.h>

#include "libsbx_int.h"

#define WATCH_DECODE_MAX (1u << 20)

sbx_err
sbx_watch_start(sbx_client *c, const char *session_id, const sbx_watch_opts *opts,
    char id[SBX_WATCH_ID_MAX], uint64_t *after_seq)
{
	Sbx__V1__WatchRequest req = SBX__V1__WATCH_REQUEST__INIT;
	Sbx__V1__WatchResponse *resp = NULL;
	sbx_err rv;

	id[0] = '\0';
	if (after_seq != NULL)
		*after_seq = 0;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	if (opts != NULL) {
		if (opts->n_globs > 0 && opts->globs == NULL)
			return sbxi_fail(c, SBX_INVALID_ARGUMENT, "n_globs is %zu but globs is "
			    "NULL", opts->n_globs);
		req.path = (char *)(opts->path ? opts->path : "");
		req.recursive = opts->recursive;
		req.globs = (char **)opts->globs;
		req.n_globs = opts->n_globs;
	}
	if ((rv = CALL(c, SVC_SANDBOX "Watch", 0, &req, sbx__v1__watch_response, &resp)) !=
	    SBX_OK)
		return rv;
	if ((rv = sbxi_id_from_wire(c, "watch", resp->watch_id, id, SBX_WATCH_ID_MAX)) ==
	    SBX_OK && after_seq != NULL)
		*after_seq = resp->after_seq;
	sbx__v1__watch_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_watch_stop(sbx_client *c, const char *session_id, const char *watch_id)
{
	Sbx__V1__UnwatchRequest req = SBX__V1__UNWATCH_REQUEST__INIT;
	sbx_err rv;

	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "watch_id", watch_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.watch_id = (char *)watch_id;
	return CALL(c, SVC_SANDBOX "Unwatch", 0, &req, sbx__v1__unwatch_response, NULL);
}

void
sbx_watch_events_free(sbx_watch_event *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].path.data);
		free(v[i].from.data);
	}
	free(v);
}

/* A NUL-terminated copy of b into d; -1 when out of memory. */
static int
copy_bytes(const ProtobufCBinaryData *b, sbx_bytes *d)
{
	if ((d->data = malloc(b->len + 1)) == NULL)
		return -1;
	if (b->len > 0)
		memcpy(d->data, b->data, b->len);
	d->data[b->len] = '\0';
	d->len = b->len;
	return 0;
}

sbx_err
sbx_watch_events_decode(const sbx_log_event *ev, sbx_watch_event **out, size_t *n)
{
	Sbx__V1__WatchEventBatch *b;
	sbx_watch_event *v;
	size_t i;

	*out = NULL;
	*n = 0;
	if (ev == NULL || ev->stream != SBX_STREAM_WATCH || ev->len > WATCH_DECODE_MAX)
		return SBX_INVALID_ARGUMENT;
	if ((b = sbx__v1__watch_event_batch__unpack(NULL, ev->len, ev->data)) == NULL)
		return SBX_INVALID_ARGUMENT;
	if ((v = calloc(b->n_events + 1, sizeof(*v))) == NULL) {
		sbx__v1__watch_event_batch__free_unpacked(b, NULL);
		return SBX_RESOURCE_EXHAUSTED;
	}
	for (i = 0; i < b->n_events; i++) {
		const Sbx__V1__WatchEvent *e = b->events[i];

		v[i].kind = (sbx_watch_kind)e->kind;
		v[i].size = e->size;
		v[i].mtime_unix_ns = e->mtime_unix_ns;
		v[i].is_dir = e->is_dir;
		if (copy_bytes(&e->path, &v[i].path) != 0 || copy_bytes(&e->from, &v[i].from) != 0) {
			sbx_watch_events_free(v, i + 1);
			sbx__v1__watch_event_batch__free_unpacked(b, NULL);
			return SBX_RESOURCE_EXHAUSTED;
		}
	}
	sbx__v1__watch_event_batch__free_unpacked(b, NULL);
	*out = v;
	*n = i;
	return SBX_OK;
}
