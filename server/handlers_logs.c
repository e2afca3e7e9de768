/*
 * handlers_logs.c — SubscribeLogs and ReadLogs (logbus.h has the bus).
 *
 * Both are authorized like every sandbox call (call_session: the
 * session's token or a service key) but neither wakes a stopped
 * container: the events live in sbxd's memory. Both count as activity —
 * they renew the session's subscription lease (LOGBUS_LEASE_MS), during
 * which the idle reaper leaves the session running, and touch its last
 * activity. A follower renews by calling either at least once a lease.
 *
 * SubscribeLogs answers the pub endpoint, the topic (without its trailing
 * NUL, which a subscriber adds: the wire topic is "sbx.v1.log.<id>\0"),
 * the session's log key and the next seq. ReadLogs answers buffered
 * events after after_seq, oldest first, at most max (0 = READ_DEFAULT,
 * capped at READ_MAX) and about READ_MAX_BYTES of data; first_available
 * and lost say what the window no longer holds.
 */
#include <string.h>

#include <sodium.h>

#include "dispatch.h"
#include "logbus.h"
#include "sbx/v1/sbx.pb-c.h"

#define READ_DEFAULT 1000
#define READ_MAX 10000
#define READ_MAX_BYTES (4u << 20)
#define TOUCH_EVERY_MS 1000

/* call_session plus the lease and the activity a log call is. */
static sbxd_code
log_session(struct call *c, const char *id, struct session_row *r)
{
	int64_t now;
	sbxd_code rv;

	if ((rv = call_session(c, id, r)) != SBXD_OK)
		return rv;
	now = server_now_ms();
	if (r->state != SESSION_ENDED)   /* an ended one's ring is on its way out */
		logbus_lease(c->srv, r->id, now + LOGBUS_LEASE_MS);
	if (r->state == SESSION_RUNNING && now - r->last_active_ms >= TOUCH_EVERY_MS)
		store_session_touch(c->srv->store, r->id, now, NULL);
	return SBXD_OK;
}

sbxd_code
h_subscribe_logs(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__SubscribeLogsRequest *rq = (const void *)in;
	Sbx__V1__SubscribeLogsResponse *rs = (void *)out;
	unsigned char key[LOGBUS_KEY_BYTES];
	struct logbus_window w;
	struct session_row row;
	sbxd_code rv;

	if ((rv = log_session(c, rq->session_id, &row)) != SBXD_OK)
		return rv;
	logbus_session_key(c->srv, row.id, key);
	logbus_window(c->srv, row.id, &w);
	rs->endpoint = arena_strdup(c->out, logbus_endpoint(c->srv));
	rs->topic = arena_printf(c->out, "%s%s", LOGBUS_TOPIC_PREFIX, row.id);
	rs->key.data = arena_memdup(c->out, key, sizeof(key));
	rs->key.len = sizeof(key);
	rs->next_seq = w.next_seq;
	rs->epoch = logbus_epoch(c->srv);
	sodium_memzero(key, sizeof(key));
	if (rs->endpoint == NULL || rs->topic == NULL || rs->key.data == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	return SBXD_OK;
}

struct read_acc {
	struct call *c;
	Sbx__V1__LogEvent **evs;
	size_t n, cap;
	int oom;
};

/* Copies one event into the reply (runs under the ring's lock). */
static void
read_one(void *arg, const struct logbus_event *ev)
{
	struct read_acc *a = arg;
	Sbx__V1__LogEvent *le;

	if (a->n == a->cap || a->oom)
		return;
	if ((le = arena_alloc(a->c->out, sizeof(*le))) == NULL) {
		a->oom = 1;
		return;
	}
	sbx__v1__log_event__init(le);
	le->seq = ev->seq;
	le->unix_ms = ev->unix_ms;
	le->epoch = logbus_epoch(a->c->srv);
	le->stream = (Sbx__V1__LogStream)ev->stream;
	le->process_id = arena_strdup(a->c->out, ev->process_id);
	le->data.len = ev->len;
	le->data.data = ev->len ? arena_memdup(a->c->out, ev->data, ev->len) : NULL;
	if (le->process_id == NULL || (ev->len && le->data.data == NULL)) {
		a->oom = 1;
		return;
	}
	a->evs[a->n++] = le;
}

sbxd_code
h_read_logs(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ReadLogsRequest *rq = (const void *)in;
	Sbx__V1__ReadLogsResponse *rs = (void *)out;
	struct read_acc a = { .c = c };
	struct logbus_window w;
	struct session_row row;
	uint32_t max = rq->max == 0 ? READ_DEFAULT : rq->max > READ_MAX ? READ_MAX : rq->max;
	sbxd_code rv;

	if ((rv = log_session(c, rq->session_id, &row)) != SBXD_OK)
		return rv;
	if ((uint32_t)c->srv->cfg->log_ring_events < max)
		max = (uint32_t)c->srv->cfg->log_ring_events;
	a.cap = max;
	if ((a.evs = arena_calloc(c->out, max, sizeof(*a.evs))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	if ((rv = logbus_read(c->srv, row.id, rq->after_seq, max, READ_MAX_BYTES, read_one, &a,
	    &w, &c->err)) != SBXD_OK)
		return rv;
	if (a.oom)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED,
		    "out of memory building the reply; ask for fewer events (max)");
	rs->events = a.evs;
	rs->n_events = a.n;
	rs->first_available_seq = w.first_available;
	rs->lost = w.lost;
	rs->epoch = logbus_epoch(c->srv);
	return SBXD_OK;
}
