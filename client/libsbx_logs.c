/*
 * libsbx_logs.c — a session's log events: ReadLogs, and subscriptions
 * that follow the sealed pub/sub stream and fill its gaps (see sbx.h).
 *
 * A subscription owns an nng SUB socket dialed to the endpoint
 * SubscribeLogs names, subscribed to "sbx.v1.log.<id>\0", and two
 * threads. The receiver blocks in nng_recvmsg (no receive timeout on a
 * SUB: nng 1.5.2 has crashed when one cancels) and moves messages into a
 * bounded queue, dropping when it is full. The worker opens each event
 * (XChaCha20-Poly1305 with the session's key, topic and seq as associated
 * data), and delivers in seq order: an older seq is a duplicate and is
 * skipped; a newer one means events were missed (PUB dropped them for a
 * slow subscriber, the connection came late, the queue was full), and the
 * worker reads them from the window with ReadLogs first. Once a second it
 * also reads the window: that delivers a missed last event and renews the
 * subscription's lease. A restarted sbxd numbers its events from 1 again
 * under a larger epoch (LogEvent.epoch, ReadLogsResponse.epoch): an event
 * or window of a larger epoch starts the count again at 1, one of a
 * smaller epoch (sent before the restart) is dropped; a ReadLogs refusing
 * after_seq as in the future means the same when no epoch told first. Events that left the window are
 * counted in the next delivered event's `lost`.
 *
 * The socket is opened and dialed before the threads start and closed
 * (which ends the receiver's nng_recvmsg) only after the worker stopped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <sodium.h>

#include "libsbx_int.h"

#define KEY_BYTES 32
#define NONCE_BYTES 24
#define TOPIC_MAX 160
#define QUEUE_DEFAULT 256
#define QUEUE_MAX 8192               /* nng's own ceiling on RECVBUF */
#define OUTQ_EVENTS 1024             /* iterator form: delivered, not yet taken */
#define POLL_MS 1000                 /* window read: lost tail, restarts, lease */
#define CALL_TIMEOUT_MS 10000
#define FILL_MAX 1000
#define MSG_MAX ((64u << 10) + 4096)  /* one sealed event, with room */

_Static_assert(KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");

struct sbx_logs_sub {
	sbx_client *c;
	char *session_id;
	sbx_log_event_fn cb;
	void *arg;
	nng_socket sock;
	unsigned char key[KEY_BYTES];
	char topic[TOPIC_MAX];       /* with its NUL, topic_len bytes */
	size_t topic_len;
	pthread_t rx, worker;
	int rx_started, worker_started;
	pthread_mutex_t mu;          /* what follows */
	pthread_cond_t cv;           /* rawq or outq changed, or stop */
	nng_msg **rawq;
	int rawcap, rawhead, rawn;
	sbx_log_event *outq;
	int outhead, outn;
	int stop;
	sbx_err failed;              /* ended the subscription */
	char failed_msg[256];
	uint64_t expected;           /* seq to deliver next (worker only) */
	uint64_t epoch;              /* the sbxd run expected counts in; 0 unknown (worker) */
	uint64_t backlog_end;        /* last seq that existed at subscribe time */
	uint64_t next_seq_pub, lost, refetched;   /* stats copies */
	uint8_t *scratch;            /* callback form: the data with its NUL */
	size_t scratch_cap;
	unsigned char *pt;           /* worker: one opened event */
	size_t pt_cap;
};

/* ---------------------------------------------------------------- events and ReadLogs */

void
sbx_log_event_fini(sbx_log_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->process_id);
	free(ev->data);
	memset(ev, 0, sizeof(*ev));
}

void
sbx_log_batch_fini(sbx_log_batch *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++)
		sbx_log_event_fini(&b->events[i]);
	free(b->events);
	memset(b, 0, sizeof(*b));
}

/* Copies le into ev; -1 out of memory (ev then holds nothing). */
static int
event_copy(const Sbx__V1__LogEvent *le, sbx_log_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->seq = le->seq;
	ev->stream = (sbx_log_stream)le->stream;
	ev->unix_ms = le->unix_ms;
	ev->len = le->data.len;
	ev->process_id = strdup(le->process_id ? le->process_id : "");
	ev->data = malloc(le->data.len + 1);
	if (ev->process_id == NULL || ev->data == NULL) {
		sbx_log_event_fini(ev);
		return -1;
	}
	if (le->data.len > 0)
		memcpy(ev->data, le->data.data, le->data.len);
	ev->data[le->data.len] = '\0';
	return 0;
}

static sbx_err
read_logs(sbx_client *c, const char *session_id, uint64_t after, uint32_t max, int timeout_ms,
    Sbx__V1__ReadLogsResponse **out)
{
	Sbx__V1__ReadLogsRequest req = SBX__V1__READ_LOGS_REQUEST__INIT;

	req.session_id = (char *)session_id;
	req.after_seq = after;
	req.max = max;
	return CALL(c, SVC_SANDBOX "ReadLogs", timeout_ms, &req, sbx__v1__read_logs_response, out);
}

sbx_err
sbx_read_logs(sbx_client *c, const char *session_id, uint64_t after_seq, uint32_t max,
    sbx_log_batch *out)
{
	Sbx__V1__ReadLogsResponse *r = NULL;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK ||
	    (rv = read_logs(c, session_id, after_seq, max, 0, &r)) != SBX_OK)
		return rv;
	out->first_available_seq = r->first_available_seq;
	out->lost = r->lost;
	if (r->n_events > 0 && (out->events = calloc(r->n_events, sizeof(*out->events))) == NULL)
		rv = sbxi_oom(c);
	for (size_t i = 0; rv == SBX_OK && i < r->n_events; i++, out->n++)
		if (event_copy(r->events[i], &out->events[i]) != 0)
			rv = sbxi_oom(c);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	if (rv != SBX_OK)
		sbx_log_batch_fini(out);
	return rv;
}

/* ---------------------------------------------------------------- delivery (worker thread) */

static int
stopping(sbx_logs_sub *s)
{
	int st;

	pthread_mutex_lock(&s->mu);
	st = s->stop;
	pthread_mutex_unlock(&s->mu);
	return st;
}

/* Hands one event (seq == expected) to the application. lost: events
 * missing just before it. */
static void
deliver(sbx_logs_sub *s, const Sbx__V1__LogEvent *le, uint64_t lost)
{
	sbx_log_event ev;

	if (s->cb != NULL) {
		if (le->data.len + 1 > s->scratch_cap) {
			uint8_t *nb = realloc(s->scratch, le->data.len + 1);

			if (nb == NULL)
				return;   /* expected stays: the next poll retries */
			s->scratch = nb;
			s->scratch_cap = le->data.len + 1;
		}
		if (le->data.len > 0)
			memcpy(s->scratch, le->data.data, le->data.len);
		s->scratch[le->data.len] = '\0';
		ev = (sbx_log_event){ .seq = le->seq, .process_id = le->process_id,
		    .stream = (sbx_log_stream)le->stream, .data = s->scratch,
		    .len = le->data.len, .unix_ms = le->unix_ms, .lost = lost };
		s->cb(s->arg, &ev);
	} else if (event_copy(le, &ev) == 0) {
		ev.lost = lost;
		pthread_mutex_lock(&s->mu);
		while (s->outn == OUTQ_EVENTS && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stop) {
			sbx_log_event_fini(&ev);
		} else {
			s->outq[(s->outhead + s->outn++) % OUTQ_EVENTS] = ev;
			pthread_cond_broadcast(&s->cv);
		}
		pthread_mutex_unlock(&s->mu);
	}
	s->expected = le->seq + 1;
	pthread_mutex_lock(&s->mu);
	s->next_seq_pub = s->expected;
	s->lost += lost;
	pthread_mutex_unlock(&s->mu);
}

static void
fail(sbx_logs_sub *s, sbx_err rv)
{
	pthread_mutex_lock(&s->mu);
	if (s->failed == SBX_OK) {
		s->failed = rv;
		snprintf(s->failed_msg, sizeof(s->failed_msg), "%s", sbx_last_error(s->c));
	}
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Follows epoch, the sbxd run an event or window comes from: 1 when it
 * differs from the run expected counts in and is later, or comes from a
 * window (ReadLogs answers from the sbxd running now, even if a clock went
 * back): the count starts again at 1. -1 for a published event of an
 * earlier run (sent before the restart: drop it); 0 when it is the same
 * or unknown. */
static int
follow_epoch(sbx_logs_sub *s, uint64_t epoch, int from_window)
{
	if (epoch == 0 || epoch == s->epoch)
		return 0;
	if (s->epoch == 0) {
		s->epoch = epoch;
		return 0;
	}
	if (epoch < s->epoch && !from_window)
		return -1;
	s->epoch = epoch;
	s->expected = 1;
	return 1;
}

/* Reads the window after expected - 1 and delivers, until expected passes
 * upto or the window has nothing more. A restarted sbxd (a later epoch,
 * or after_seq in the future) starts the count again at 1. Transport
 * failures are left for the next poll; refusals (credentials, an ended
 * session) end it. */
static void
fill(sbx_logs_sub *s, uint64_t upto, int counting)
{
	Sbx__V1__ReadLogsResponse *r;
	sbx_err rv;
	int empty;

	while (s->expected <= upto && !stopping(s)) {
		rv = read_logs(s->c, s->session_id, s->expected - 1, FILL_MAX, CALL_TIMEOUT_MS, &r);
		if (rv == SBX_INVALID_ARGUMENT && s->expected > 1) {
			s->expected = 1;   /* sbxd restarted */
			continue;
		}
		if (rv == SBX_PERMISSION_DENIED || rv == SBX_UNAUTHENTICATED || rv == SBX_NOT_FOUND)
			fail(s, rv);
		if (rv != SBX_OK)
			return;
		if (follow_epoch(s, r->epoch, 1) != 0) {   /* sbxd restarted */
			protobuf_c_message_free_unpacked(&r->base, NULL);
			continue;
		}
		for (size_t i = 0; i < r->n_events; i++) {
			const Sbx__V1__LogEvent *le = r->events[i];

			if (le->seq < s->expected)
				continue;
			deliver(s, le, le->seq - s->expected);
			if (counting) {
				pthread_mutex_lock(&s->mu);
				s->refetched++;
				pthread_mutex_unlock(&s->mu);
			}
		}
		if (r->n_events == 0 && r->lost > 0) {   /* all gone, none left */
			s->expected = r->first_available_seq;
			pthread_mutex_lock(&s->mu);
			s->lost += r->lost;
			pthread_mutex_unlock(&s->mu);
		}
		empty = r->n_events == 0;
		protobuf_c_message_free_unpacked(&r->base, NULL);
		if (empty)
			return;
	}
}

/* Opens one sealed message; the LogEvent (free it) or NULL when it is
 * not this session's or does not open with its key. */
static Sbx__V1__LogEvent *
open_msg(sbx_logs_sub *s, nng_msg *m)
{
	const uint8_t *body = nng_msg_body(m);
	size_t len = nng_msg_len(m);
	Sbx__V1__SealedLogEvent *se;
	Sbx__V1__LogEvent *le = NULL;
	unsigned char ad[TOPIC_MAX + 8], *pt;
	unsigned long long ptlen;

	if (len < s->topic_len || memcmp(body, s->topic, s->topic_len) != 0)
		return NULL;
	se = sbx__v1__sealed_log_event__unpack(NULL, len - s->topic_len, body + s->topic_len);
	if (se == NULL || se->nonce.len != NONCE_BYTES ||
	    se->ciphertext.len < crypto_aead_xchacha20poly1305_ietf_ABYTES)
		goto out;
	if (se->ciphertext.len > s->pt_cap) {   /* at most MSG_MAX: RECVMAXSZ */
		if ((pt = realloc(s->pt, se->ciphertext.len)) == NULL)
			goto out;
		s->pt = pt;
		s->pt_cap = se->ciphertext.len;
	}
	pt = s->pt;
	memcpy(ad, s->topic, s->topic_len);
	for (int i = 0; i < 8; i++)
		ad[s->topic_len + i] = (unsigned char)(se->seq >> (56 - 8 * i));
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ptlen, NULL, se->ciphertext.data,
	    se->ciphertext.len, ad, s->topic_len + 8, se->nonce.data, s->key) != 0)
		goto out;
	le = sbx__v1__log_event__unpack(NULL, (size_t)ptlen, pt);
	if (le != NULL && le->seq != se->seq) {
		sbx__v1__log_event__free_unpacked(le, NULL);
		le = NULL;
	}
out:
	if (se != NULL)
		sbx__v1__sealed_log_event__free_unpacked(se, NULL);
	return le;
}

static void
handle(sbx_logs_sub *s, nng_msg *m)
{
	Sbx__V1__LogEvent *le = open_msg(s, m);

	nng_msg_free(m);
	if (le == NULL)
		return;
	if (follow_epoch(s, le->epoch, 0) < 0) {
		sbx__v1__log_event__free_unpacked(le, NULL);
		return;
	}
	if (le->seq > s->expected)
		fill(s, le->seq - 1, 1);
	if (le->seq == s->expected && !stopping(s))
		deliver(s, le, 0);
	sbx__v1__log_event__free_unpacked(le, NULL);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *
worker_main(void *arg)
{
	sbx_logs_sub *s = arg;
	uint64_t last_poll = mono_ms();
	struct timespec until;
	nng_msg *m;

	/* The backlog asked for (events before the subscription); what
	 * follows comes live, and a gap in it is refetched and counted. */
	fill(s, s->backlog_end, 0);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += POLL_MS / 1000;
		while (s->rawn == 0 && !s->stop &&
		    pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
			;
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		m = NULL;
		if (s->rawn > 0) {
			m = s->rawq[s->rawhead];
			s->rawhead = (s->rawhead + 1) % s->rawcap;
			s->rawn--;
		}
		pthread_mutex_unlock(&s->mu);
		if (m != NULL)
			handle(s, m);
		if (mono_ms() - last_poll >= POLL_MS) {
			fill(s, UINT64_MAX, 1);
			last_poll = mono_ms();
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- receiving (rx thread) */

static void *
rx_main(void *arg)
{
	sbx_logs_sub *s = arg;
	nng_msg *m;

	while (nng_recvmsg(s->sock, &m, 0) == 0) {
		pthread_mutex_lock(&s->mu);
		if (s->rawn < s->rawcap) {
			s->rawq[(s->rawhead + s->rawn++) % s->rawcap] = m;
			m = NULL;
			if (s->rawn == 1)   /* the worker waits only on an empty queue */
				pthread_cond_broadcast(&s->cv);
		}
		pthread_mutex_unlock(&s->mu);
		if (m != NULL)
			nng_msg_free(m);   /* full: the worker refetches it */
	}
	return NULL;
}

/* ---------------------------------------------------------------- subscribe */

static sbx_err
ask(sbx_logs_sub *s, Sbx__V1__SubscribeLogsResponse **out)
{
	Sbx__V1__SubscribeLogsRequest req = SBX__V1__SUBSCRIBE_LOGS_REQUEST__INIT;
	Sbx__V1__SubscribeLogsResponse *r;
	sbx_err rv;

	req.session_id = s->session_id;
	if ((rv = CALL(s->c, SVC_SANDBOX "SubscribeLogs", CALL_TIMEOUT_MS, &req,
	    sbx__v1__subscribe_logs_response, &r)) != SBX_OK)
		return rv;
	if (r->key.len != KEY_BYTES || strlen(r->topic) + 1 > sizeof(s->topic)) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return sbxi_fail(s->c, SBX_INTERNAL, "SubscribeLogs answered a %zu-byte key "
		    "(want %d): is the server of this protocol version?", r->key.len, KEY_BYTES);
	}
	memcpy(s->key, r->key.data, KEY_BYTES);
	memcpy(s->topic, r->topic, strlen(r->topic) + 1);
	s->topic_len = strlen(r->topic) + 1;   /* the wire topic ends with its NUL */
	*out = r;
	return SBX_OK;
}

/* The URL to dial: the announced one, except that a wildcard host
 * (sbxd listening on 0.0.0.0 or ::) becomes the host this client calls. */
static void
dial_url(sbx_client *c, const char *announced, char *out, size_t outsz)
{
	nng_url *a = NULL, *mine = NULL;
	const char *h;

	snprintf(out, outsz, "%s", announced);
	if (nng_url_parse(&a, announced) != 0)
		return;
	h = a->u_hostname;
	if ((*h == '\0' || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 ||
	    strcmp(h, "*") == 0) && nng_url_parse(&mine, sbxi_endpoint(c)) == 0)
		snprintf(out, outsz, strchr(mine->u_hostname, ':') ? "%s://[%s]:%s" : "%s://%s:%s",
		    a->u_scheme, mine->u_hostname, a->u_port);
	if (mine != NULL)
		nng_url_free(mine);
	nng_url_free(a);
}

static sbx_err
open_socket(sbx_logs_sub *s, const char *endpoint, int queue)
{
	int rv;

	if ((rv = nng_sub0_open(&s->sock)) != 0)
		return sbxi_fail(s->c, SBX_INTERNAL, "opening a SUB socket: %s", nng_strerror(rv));
	if ((rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, s->topic, s->topic_len)) != 0 ||
	    (rv = nng_socket_set_int(s->sock, NNG_OPT_RECVBUF, queue)) != 0 ||
	    (rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, MSG_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 100)) != 0 ||
	    (rv = nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 2000)) != 0)
		return sbxi_fail(s->c, SBX_INTERNAL, "configuring a SUB socket: %s", nng_strerror(rv));
	if ((rv = nng_dial(s->sock, endpoint, NULL, NNG_FLAG_NONBLOCK)) != 0)
		return sbxi_fail(s->c, SBX_UNAVAILABLE, "dialing the log endpoint %s: %s",
		    endpoint, nng_strerror(rv));
	return SBX_OK;
}

static void
sub_free(sbx_logs_sub *s)
{
	if (nng_socket_id(s->sock) > 0)
		nng_close(s->sock);
	while (s->rawq != NULL && s->rawn > 0) {
		nng_msg_free(s->rawq[s->rawhead]);
		s->rawhead = (s->rawhead + 1) % s->rawcap;
		s->rawn--;
	}
	while (s->outq != NULL && s->outn > 0) {
		sbx_log_event_fini(&s->outq[s->outhead]);
		s->outhead = (s->outhead + 1) % OUTQ_EVENTS;
		s->outn--;
	}
	free(s->rawq);
	free(s->outq);
	free(s->scratch);
	free(s->pt);
	free(s->session_id);
	sodium_memzero(s->key, sizeof(s->key));
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

static sbx_err
start_threads(sbx_logs_sub *s)
{
	int rc;

	if ((rc = pthread_create(&s->rx, NULL, rx_main, s)) == 0) {
		s->rx_started = 1;
		rc = pthread_create(&s->worker, NULL, worker_main, s);
		s->worker_started = rc == 0;
	}
	return rc == 0 ? SBX_OK : sbxi_fail(s->c, SBX_RESOURCE_EXHAUSTED,
	    "cannot start the subscription's threads: %s", strerror(rc));
}

static sbx_logs_sub *
sub_alloc(sbx_client *c, const char *session_id, const sbx_logs_opts *o, int queue)
{
	sbx_logs_sub *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;

	if (s == NULL)
		return NULL;
	s->c = c;
	s->sock = (nng_socket)NNG_SOCKET_INITIALIZER;
	s->cb = o->callback;
	s->arg = o->arg;
	s->rawcap = queue;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->session_id = strdup(session_id);
	s->rawq = calloc((size_t)queue, sizeof(*s->rawq));
	s->outq = o->callback ? NULL : calloc(OUTQ_EVENTS, sizeof(*s->outq));
	if (s->session_id == NULL || s->rawq == NULL || (o->callback == NULL && s->outq == NULL)) {
		sub_free(s);
		return NULL;
	}
	return s;
}

sbx_err
sbx_logs_subscribe_opts(sbx_client *c, const char *session_id, const sbx_logs_opts *o,
    sbx_logs_sub **out)
{
	static const sbx_logs_opts defaults;
	Sbx__V1__SubscribeLogsResponse *r = NULL;
	sbx_logs_sub *s = NULL;
	char url[512];
	int queue;
	sbx_err rv;

	*out = NULL;
	sbxi_clear_err(c);
	if (o == NULL)
		o = &defaults;
	queue = o->queue_events <= 0 ? QUEUE_DEFAULT : o->queue_events > QUEUE_MAX ?
	    QUEUE_MAX : o->queue_events;
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	if (sodium_init() < 0)
		return sbxi_fail(c, SBX_INTERNAL, "libsodium failed to initialize");
	if ((s = sub_alloc(c, session_id, o, queue)) == NULL)
		return sbxi_oom(c);
	if ((rv = ask(s, &r)) != SBX_OK)
		goto out;
	if (r->endpoint[0] == '\0') {
		rv = sbxi_fail(c, SBX_FAILED_PRECONDITION, "this sbxd publishes no live log "
		    "events (its log_listen is empty); read them with sbx_read_logs");
		goto out;
	}
	if (o->after_seq != SBX_LOGS_NOW && o->after_seq >= r->next_seq) {
		rv = sbxi_fail(c, SBX_INVALID_ARGUMENT, "after_seq %llu is in the future: the "
		    "next event of this session will be seq %llu", (unsigned long long)o->after_seq,
		    (unsigned long long)r->next_seq);
		goto out;
	}
	s->expected = o->after_seq == SBX_LOGS_NOW ? r->next_seq : o->after_seq + 1;
	s->epoch = r->epoch;
	s->backlog_end = r->next_seq > 0 ? r->next_seq - 1 : 0;
	s->next_seq_pub = s->expected;
	dial_url(c, r->endpoint, url, sizeof(url));
	if ((rv = open_socket(s, url, queue)) != SBX_OK || (rv = start_threads(s)) != SBX_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	if (s != NULL)
		sbx_logs_unsubscribe(s);
	return rv;
}

sbx_err
sbx_logs_subscribe(sbx_client *c, const char *session_id, uint64_t after_seq,
    sbx_log_event_fn callback, void *arg, sbx_logs_sub **out)
{
	sbx_logs_opts o = { .after_seq = after_seq, .callback = callback, .arg = arg };

	return sbx_logs_subscribe_opts(c, session_id, &o, out);
}

sbx_err
sbx_logs_next(sbx_logs_sub *s, sbx_log_event *ev, int timeout_ms)
{
	struct timespec until;
	sbx_err rv = SBX_OK;
	int timed_out = 0;

	memset(ev, 0, sizeof(*ev));
	sbxi_clear_err(s->c);
	if (s->cb != NULL)
		return sbxi_fail(s->c, SBX_FAILED_PRECONDITION,
		    "this subscription delivers to its callback; sbx_logs_next is for "
		    "subscriptions without one");
	clock_gettime(CLOCK_MONOTONIC, &until);
	if (timeout_ms > 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&s->mu);
	while (s->outn == 0 && !s->stop && !timed_out && timeout_ms != 0)
		timed_out = (timeout_ms < 0 ? pthread_cond_wait(&s->cv, &s->mu) :
		    pthread_cond_timedwait(&s->cv, &s->mu, &until)) == ETIMEDOUT;
	if (s->outn > 0) {
		*ev = s->outq[s->outhead];
		s->outhead = (s->outhead + 1) % OUTQ_EVENTS;
		s->outn--;
		pthread_cond_broadcast(&s->cv);
	} else if (s->failed != SBX_OK) {
		rv = sbxi_fail(s->c, s->failed, "the subscription ended: %s", s->failed_msg);
	} else {
		rv = sbxi_fail(s->c, s->stop ? SBX_CANCELLED : SBX_DEADLINE_EXCEEDED,
		    s->stop ? "the subscription was stopped" : "no log event within %d ms",
		    timeout_ms);
	}
	pthread_mutex_unlock(&s->mu);
	return rv;
}

sbx_err
sbx_logs_stats(sbx_logs_sub *s, uint64_t *next_seq, uint64_t *lost, uint64_t *refetched)
{
	sbx_err rv;

	pthread_mutex_lock(&s->mu);
	if (next_seq != NULL)
		*next_seq = s->next_seq_pub;
	if (lost != NULL)
		*lost = s->lost;
	if (refetched != NULL)
		*refetched = s->refetched;
	rv = s->failed;
	pthread_mutex_unlock(&s->mu);
	return rv;
}

void
sbx_logs_unsubscribe(sbx_logs_sub *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->worker_started)
		pthread_join(s->worker, NULL);
	if (nng_socket_id(s->sock) > 0) {
		nng_close(s->sock);   /* ends the receiver's nng_recvmsg */
		s->sock = (nng_socket)NNG_SOCKET_INITIALIZER;
	}
	if (s->rx_started)
		pthread_join(s->rx, NULL);
	sub_free(s);
}
