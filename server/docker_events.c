/*
 * docker_events.c — the engine's event stream (driver_ops.events).
 *
 * GET /events with filters type=container, event=die|oom|kill and one
 * label, from `since` (the engine replays what happened after it, so a
 * caller reconnecting with its last event's time misses nothing across an
 * engine restart). The reply is a chunked body of JSON objects, one per
 * line; each line is capped at EVENTS_LINE_MAX (a longer one is skipped,
 * not cut) and parsed on its own. The call has no timeout: it ends when
 * the engine closes it, or when *stop is set (curl's progress callback
 * runs at least once a second and ends the transfer).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "docker_int.h"
#include "driver.h"
#include "err.h"

#define EVENTS_LINE_MAX (64u << 10)

struct stream {
	struct buf line;
	int skipping;               /* inside a line over EVENTS_LINE_MAX */
	driver_event_cb cb;
	void *arg;
	atomic_int *stop;
};

static const char *
attr(const cJSON *attrs, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(attrs, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Parses one event line and hands it on; anything else is ignored. */
static void
one_event(struct stream *st, const char *p, size_t n)
{
	cJSON *root = cJSON_ParseWithLength(p, n);
	const cJSON *action, *actor, *id, *attrs, *tn;
	const char *v;
	struct driver_event ev = { 0 };

	action = cJSON_GetObjectItemCaseSensitive(root, "Action");
	actor = cJSON_GetObjectItemCaseSensitive(root, "Actor");
	id = cJSON_GetObjectItemCaseSensitive(actor, "ID");
	attrs = cJSON_GetObjectItemCaseSensitive(actor, "Attributes");
	tn = cJSON_GetObjectItemCaseSensitive(root, "timeNano");
	if (!cJSON_IsString(action) || !cJSON_IsString(id) ||
	    strlen(id->valuestring) >= sizeof(ev.id))
		goto out;
	if (strcmp(action->valuestring, "die") == 0)
		ev.kind = DRIVER_EVENT_DIE;
	else if (strcmp(action->valuestring, "oom") == 0)
		ev.kind = DRIVER_EVENT_OOM;
	else if (strcmp(action->valuestring, "kill") == 0)
		ev.kind = DRIVER_EVENT_KILL;
	else
		goto out;
	snprintf(ev.id, sizeof(ev.id), "%s", id->valuestring);
	if ((v = attr(attrs, "sbx.session")) != NULL && strlen(v) < sizeof(ev.session))
		snprintf(ev.session, sizeof(ev.session), "%s", v);
	/* empty: a snapshot image blanks the label a pooled container left in it */
	ev.pool = (v = attr(attrs, "sbx.pool")) != NULL && *v != '\0';
	if ((v = attr(attrs, ev.kind == DRIVER_EVENT_KILL ? "signal" : "exitCode")) != NULL)
		ev.exit_code = atoi(v);
	if (cJSON_IsNumber(tn))
		ev.time_ns = (int64_t)tn->valuedouble;
	st->cb(st->arg, &ev);
out:
	cJSON_Delete(root);
}

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	struct stream *st = arg;
	size_t len = size * n;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			if (!st->skipping && st->line.len > 0)
				one_event(st, st->line.data, st->line.len);
			st->line.len = 0;
			st->skipping = 0;
			continue;
		}
		if (st->skipping)
			continue;
		if (st->line.len >= EVENTS_LINE_MAX || buf_add(&st->line, &p[i], 1) != SBXD_OK) {
			st->line.len = 0;
			st->skipping = 1;
		}
	}
	return len;
}

static int
progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct stream *st = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return atomic_load(st->stop) != 0;
}

/* driver_ops.events (see driver.h and the top of this file). */
sbxd_code
docker_events(struct driver *d, const char *key, const char *value, int64_t since_ns,
    driver_event_cb cb, void *arg, atomic_int *stop, struct err *e)
{
	struct docker_call c = { .method = "GET" };
	struct stream st = { .cb = cb, .arg = arg, .stop = stop };
	char kv[512], filt[1536], since[48] = "";
	char *fjson = NULL;
	cJSON *f = NULL;
	sbxd_code rv;

	buf_init(&st.line, EVENTS_LINE_MAX + 1);
	if ((size_t)snprintf(kv, sizeof(kv), "%s=%s", key, value) >= sizeof(kv)) {
		rv = err_set(e, SBXD_INVALID_ARGUMENT, "bad label filter");
		goto out;
	}
	f = cJSON_CreateObject();
	if (!docker_add_item(f, "type", docker_str_array((const char *const[]){ "container", NULL })) ||
	    !docker_add_item(f, "event", docker_str_array((const char *const[]){ "die", "oom",
	    "kill", NULL })) ||
	    !docker_add_item(f, "label", docker_str_array((const char *const[]){ kv, NULL })) ||
	    (fjson = cJSON_PrintUnformatted(f)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory subscribing to engine events");
		goto out;
	}
	if (since_ns > 0)
		snprintf(since, sizeof(since), "since=%" PRId64 ".%09" PRId64 "&",
		    since_ns / 1000000000, since_ns % 1000000000);
	if ((rv = docker_enc_ref(filt, sizeof(filt), "event filter", fjson, e)) != SBXD_OK ||
	    (rv = docker_call_url(&c, e, "/events?%sfilters=%s", since, filt)) != SBXD_OK)
		goto out;
	c.sink = sink;
	c.sink_arg = &st;
	c.progress = progress;
	c.progress_arg = &st;
	c.timeout_ms = 0;
	rv = docker_call_perform(d->impl, &c, e);
	if (atomic_load(stop)) {
		err_clear(e);
		rv = SBXD_OK;
	} else if (rv == SBXD_OK && c.status != 200) {
		rv = err_set(e, SBXD_INTERNAL, "engine events: HTTP %ld", c.status);
	} else if (rv == SBXD_OK) {
		rv = err_set(e, SBXD_UNAVAILABLE, "the engine closed the event stream");
	}
out:
	buf_fini(&st.line);
	cJSON_Delete(f);
	cJSON_free(fjson);
	return rv;
}
