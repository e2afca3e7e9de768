/*
 * logbus.c — the log bus (see logbus.h): one ring of recent events per
 * session, the pub socket, sealing, subscription leases.
 *
 * Rings. A session's ring is made on its first event (or lease), so the
 * sessions that print nothing cost nothing; its slot array grows by
 * doubling up to log_ring_events, and the oldest events leave when either
 * log_ring_events or log_ring_bytes (data bytes) would be passed, or when
 * all rings together hold more than log_total_bytes and this one more
 * than an equal share (then a pass, at most every 100 ms, trims the
 * quiet rings above their share too). Every
 * event gets the session's next seq under the ring's lock, from 1, with
 * no gaps; data longer than LOGBUS_EVENT_MAX becomes several events. The
 * seq restarts at 1 when sbxd restarts (the rings live in memory).
 *
 * Isolation by sealing, not by endpoints. nng's PUB sends every message
 * to every subscriber and SUB filters locally, so a topic isolates
 * nothing: a raw SUB subscribed to "" receives every session's events.
 * So every event goes out as topic "sbx.v1.log.<session id>\0" followed
 * by a packed SealedLogEvent {seq, nonce, ciphertext}: the packed LogEvent
 * sealed with XChaCha20-Poly1305 (libsodium, random 24-byte nonce) under
 * the session's key, with topic and seq as associated data, so an event
 * cannot be replayed into another session's stream or at another seq.
 * The key is a keyed BLAKE2b of the session id under a master secret
 * generated once into state_dir/log.key (0600): keys survive restarts
 * and are never stored; SubscribeLogs hands a session's key only to its
 * credential holders. The alternative, a pub endpoint per session
 * announced only to credential holders, needs a listener (a port) per
 * session, leaks to anyone who scans ports, and keeps a session's stream
 * readable by everyone once the address is known. What sealing costs: a
 * subscriber receives (and drops) every session's traffic, and topic
 * (the session id), sizes and timing are visible on the wire.
 *
 * Publishing never blocks the emitter: PUB queues log_sendbuf messages
 * per subscriber and drops for one whose queue is full (nng pub0 never
 * waits). The seal and the send happen on the emitter's thread under the
 * ring's lock — about 30 µs for a full 64 KiB event — so the wire carries
 * each session's events in seq order. A slow subscriber costs at most
 * log_sendbuf queued messages (shared, refcounted: up to 256 x 64 KiB =
 * 16 MiB when it lags on full events) plus its TCP buffers; it then loses
 * events and fills the gap over ReadLogs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <sodium.h>

#include "connlimit.h"
#include "log.h"
#include "logbus.h"
#include "metrics.h"
#include "sbx/v1/sbx.pb-c.h"
#include "store.h"

#define NBUCKETS 1024
#define MASTER_BYTES 32
#define KDF_CONTEXT "sbx.v1.log-key:"
#define TOPIC_MAX (sizeof(LOGBUS_TOPIC_PREFIX) + STORE_ID_MAX)
#define FORMAT_MAX 1024           /* one emitf text */
#define TRIM_EVERY_MS 100         /* at most one pass over all rings per */

_Static_assert(LOGBUS_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(LOGBUS_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");

struct ev {
	uint64_t seq;
	uint64_t unix_ms;
	unsigned char *data;
	uint32_t len;
	uint8_t stream;
	char pid[LOGBUS_PID_MAX];
};

struct ring {
	struct ring *next;          /* hash chain (bus->mu) */
	char id[STORE_ID_MAX];
	int refs;                   /* users outside bus->mu (bus->mu) */
	int64_t forget_at_ms;       /* 0, or when it may be dropped (bus->mu) */
	int64_t lease_until_ms;     /* (bus->mu) */
	pthread_mutex_t mu;         /* what follows */
	struct ev *ev;              /* cap slots, n used from head, circular */
	uint32_t cap, head, n;
	size_t bytes;               /* data bytes held */
	uint64_t next_seq;
	char topic[TOPIC_MAX];
	size_t topic_len;
	unsigned char key[LOGBUS_KEY_BYTES];
};

struct logbus {
	pthread_mutex_t mu;         /* table, refs, leases */
	struct ring *table[NBUCKETS];
	int nrings;
	uint32_t max_events;
	size_t max_bytes;
	size_t total_max;           /* log_total_bytes */
	atomic_size_t total;        /* data bytes in all rings */
	atomic_int nonempty;        /* rings holding an event */
	atomic_llong trim_at_ms;    /* the next trim pass may run from then */
	unsigned char master[MASTER_BYTES];
	uint64_t epoch;             /* this run's (logbus_epoch) */
	nng_socket pub;
	int pub_open;
	char endpoint[CONFIG_PATH_MAX];
};

/* ---- the wire form */

size_t
logbus_topic(const char *session_id, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s%s", LOGBUS_TOPIC_PREFIX, session_id);

	return n < 0 || (size_t)n >= outsz ? 0 : (size_t)n + 1;
}

size_t
logbus_ad(const char *topic, size_t topic_len, uint64_t seq, unsigned char *out, size_t outsz)
{
	if (topic_len + 8 > outsz)
		return 0;
	memcpy(out, topic, topic_len);
	for (int i = 0; i < 8; i++)
		out[topic_len + i] = (unsigned char)(seq >> (56 - 8 * i));
	return topic_len + 8;
}

/* ---- the master secret */

static sbxd_code
master_create(const char *path, unsigned char *m, struct err *e)
{
	int fd;

	randombytes_buf(m, MASTER_BYTES);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return err_set(e, SBXD_FAILED_PRECONDITION, "cannot create log key file %s: %s",
		    path, strerror(errno));
	if (write(fd, m, MASTER_BYTES) != MASTER_BYTES || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return err_set(e, SBXD_FAILED_PRECONDITION, "cannot write log key file %s", path);
	}
	close(fd);
	log_info("logbus: created the log master key %s (mode 0600)", path);
	return SBXD_OK;
}

/* Reads state_dir/log.key, or creates it when absent. */
static sbxd_code
master_load(const struct config *cfg, unsigned char *m, struct err *e)
{
	char path[CONFIG_PATH_MAX + 16];
	int fd;
	ssize_t n;

	if ((size_t)snprintf(path, sizeof(path), "%s/log.key", cfg->state_dir) >= sizeof(path))
		return err_set(e, SBXD_INVALID_ARGUMENT, "state_dir is too long");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return master_create(path, m, e);
		return err_set(e, SBXD_FAILED_PRECONDITION, "cannot read log key file %s: %s",
		    path, strerror(errno));
	}
	n = read(fd, m, MASTER_BYTES);
	close(fd);
	if (n != MASTER_BYTES)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "log key file %s is not %d bytes; remove it to make a new one "
		    "(subscribers then need SubscribeLogs again)", path, MASTER_BYTES);
	return SBXD_OK;
}

void
logbus_session_key(struct server *s, const char *session_id, unsigned char key[LOGBUS_KEY_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, s->logbus->master, MASTER_BYTES, LOGBUS_KEY_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)KDF_CONTEXT, strlen(KDF_CONTEXT));
	crypto_generichash_update(&st, (const unsigned char *)session_id, strlen(session_id));
	crypto_generichash_final(&st, key, LOGBUS_KEY_BYTES);
}

/* ---- the pub socket */

/* The announced URL: log_listen with the port the listener bound. */
static void
set_endpoint(struct logbus *b, const char *listen, nng_listener l)
{
	const char *colon = strrchr(listen, ':');
	int port = 0;

	snprintf(b->endpoint, sizeof(b->endpoint), "%s", listen);
	if (colon == NULL || strcmp(colon, ":0") != 0 ||
	    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0)
		return;
	snprintf(b->endpoint, sizeof(b->endpoint), "%.*s:%d", (int)(colon - listen), listen, port);
}

static sbxd_code
pub_open(struct logbus *b, struct server *s, struct err *e)
{
	const struct config *cfg = s->cfg;
	sbxd_code code;
	nng_listener l;
	int rv;

	if (cfg->log_listen[0] == '\0') {
		log_info("logbus: no pub socket (log_listen is empty); ReadLogs only");
		return SBXD_OK;
	}
	if ((rv = nng_pub0_open(&b->pub)) != 0)
		return err_set(e, SBXD_INTERNAL, "opening the log pub socket: %s", nng_strerror(rv));
	b->pub_open = 1;
	if ((rv = nng_socket_set_int(b->pub, NNG_OPT_SENDBUF, cfg->log_sendbuf)) != 0 ||
	    (rv = nng_socket_set_size(b->pub, NNG_OPT_RECVMAXSZ, 1024)) != 0)
		return err_set(e, SBXD_INTERNAL, "configuring the log pub socket: %s",
		    nng_strerror(rv));
	if ((code = connlimit_attach(b->pub, "log bus", cfg->max_connections,
	    cfg->max_connections_per_address, &s->log_conns, e)) != SBXD_OK)
		return code;
	if ((rv = nng_listener_create(&l, b->pub, cfg->log_listen)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0)
		return err_set(e, rv == NNG_EADDRINUSE ? SBXD_FAILED_PRECONDITION : SBXD_INVALID_ARGUMENT,
		    "cannot listen for log subscribers on %s: %s; set log_listen to a free "
		    "tcp://HOST:PORT (or leave it empty for none)", cfg->log_listen, nng_strerror(rv));
	set_endpoint(b, cfg->log_listen, l);
	log_info("logbus: publishing sealed log events on %s", b->endpoint);
	return SBXD_OK;
}

/* ---- open and close */

sbxd_code
logbus_open(struct server *s, struct err *e)
{
	struct logbus *b;
	sbxd_code rv;

	if (sodium_init() < 0)
		return err_set(e, SBXD_INTERNAL, "libsodium failed to initialize");
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	pthread_mutex_init(&b->mu, NULL);
	b->max_events = (uint32_t)s->cfg->log_ring_events;
	b->max_bytes = s->cfg->log_ring_bytes;
	b->total_max = s->cfg->log_total_bytes;
	atomic_init(&b->total, 0);
	atomic_init(&b->nonempty, 0);
	atomic_init(&b->trim_at_ms, 0);
	b->epoch = (uint64_t)server_now_ms() << 16 | (randombytes_random() & 0xffffu);
	s->logbus = b;
	if ((rv = master_load(s->cfg, b->master, e)) != SBXD_OK ||
	    (rv = pub_open(b, s, e)) != SBXD_OK) {
		logbus_close(s);
		return rv;
	}
	return SBXD_OK;
}

static void
ring_free(struct logbus *b, struct ring *r)
{
	for (uint32_t i = 0; i < r->n; i++)
		free(r->ev[(r->head + i) % r->cap].data);
	atomic_fetch_sub(&b->total, r->bytes);
	if (r->n > 0)
		atomic_fetch_sub(&b->nonempty, 1);
	free(r->ev);
	pthread_mutex_destroy(&r->mu);
	sodium_memzero(r->key, sizeof(r->key));
	free(r);
}

void
logbus_close(struct server *s)
{
	struct logbus *b = s->logbus;

	if (b == NULL)
		return;
	if (b->pub_open)
		nng_close(b->pub);
	connlimit_log(s->log_conns);
	connlimit_free(s->log_conns);   /* after the close: no callback runs now */
	s->log_conns = NULL;
	for (int i = 0; i < NBUCKETS; i++) {
		while (b->table[i] != NULL) {
			struct ring *r = b->table[i];

			b->table[i] = r->next;
			ring_free(b, r);
		}
	}
	pthread_mutex_destroy(&b->mu);
	sodium_memzero(b->master, sizeof(b->master));
	free(b);
	s->logbus = NULL;
}

/* ---- the table (bus->mu held) */

static unsigned
bucket(const char *id)
{
	unsigned h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % NBUCKETS;
}

static struct ring *
ring_find(struct logbus *b, const char *id)
{
	for (struct ring *r = b->table[bucket(id)]; r != NULL; r = r->next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

/* Drops forgotten rings whose linger has passed and nobody uses. */
static void
sweep(struct logbus *b, int64_t now)
{
	for (int i = 0; i < NBUCKETS; i++) {
		for (struct ring **pp = &b->table[i]; *pp != NULL; ) {
			struct ring *r = *pp;

			if (r->forget_at_ms != 0 && r->forget_at_ms <= now && r->refs == 0) {
				*pp = r->next;
				b->nrings--;
				ring_free(b, r);
			} else
				pp = &r->next;
		}
	}
}

static struct ring *
ring_new(struct server *s, const char *id)
{
	struct logbus *b = s->logbus;
	struct ring *r;
	unsigned h = bucket(id);

	if (strlen(id) >= STORE_ID_MAX || (r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	memcpy(r->id, id, strlen(id) + 1);
	pthread_mutex_init(&r->mu, NULL);
	r->next_seq = 1;
	r->topic_len = logbus_topic(id, r->topic, sizeof(r->topic));
	logbus_session_key(s, id, r->key);
	sweep(b, server_now_ms());
	r->next = b->table[h];
	b->table[h] = r;
	b->nrings++;
	return r;
}

/* The ring of id with a reference taken (ring_put it), made when create
 * is set and it is missing; NULL when missing (or out of memory). */
static struct ring *
ring_get(struct server *s, const char *id, int create)
{
	struct logbus *b = s->logbus;
	struct ring *r;

	pthread_mutex_lock(&b->mu);
	if ((r = ring_find(b, id)) == NULL && create)
		r = ring_new(s, id);
	if (r != NULL)
		r->refs++;
	pthread_mutex_unlock(&b->mu);
	return r;
}

static void
ring_put(struct logbus *b, struct ring *r)
{
	pthread_mutex_lock(&b->mu);
	r->refs--;
	pthread_mutex_unlock(&b->mu);
}

/* ---- the ring (r->mu held) */

static struct ev *
slot(struct ring *r, uint32_t i)
{
	return &r->ev[(r->head + i) % r->cap];
}

static void
drop_oldest(struct logbus *b, struct ring *r)
{
	struct ev *o = slot(r, 0);

	r->bytes -= o->len;
	metrics_count(METRICS_C_LOGBUS_EVICTED, 1);
	atomic_fetch_sub(&b->total, o->len);
	free(o->data);
	o->data = NULL;
	r->head = (r->head + 1) % r->cap;
	if (--r->n == 0)
		atomic_fetch_sub(&b->nonempty, 1);
}

/* What one ring may keep while all of them hold more than total_max: an
 * equal share, but never less than one full event. */
static size_t
share(struct logbus *b)
{
	int n = atomic_load(&b->nonempty);
	size_t s = b->total_max / (size_t)(n > 0 ? n : 1);

	return s < LOGBUS_EVENT_MAX ? LOGBUS_EVENT_MAX : s;
}

/* 1 when r must drop its oldest before taking len more bytes. */
static int
over(struct logbus *b, const struct ring *r, size_t len)
{
	if (r->n >= b->max_events || r->bytes + len > b->max_bytes)
		return 1;
	return atomic_load(&b->total) + len > b->total_max && r->bytes + len > share(b);
}

/* Doubles the slot array (up to max), unwrapping it; -1 out of memory. */
static int
grow(struct ring *r, uint32_t max)
{
	uint32_t ncap = r->cap == 0 ? 16 : r->cap * 2;
	struct ev *nev;

	if (ncap > max)
		ncap = max;
	if ((nev = calloc(ncap, sizeof(*nev))) == NULL)
		return -1;
	for (uint32_t i = 0; i < r->n; i++)
		nev[i] = *slot(r, i);
	free(r->ev);
	r->ev = nev;
	r->cap = ncap;
	r->head = 0;
	return 0;
}

/* Stores a copy of an event whose seq is r->next_seq, evicting the oldest
 * to stay within the bounds. Out of memory empties the ring instead (its
 * events then count as lost) so it never holds a hole. */
static void
ring_push(struct logbus *b, struct ring *r, const struct logbus_event *in)
{
	struct ev *v;
	unsigned char *copy = NULL;

	while (r->n > 0 && over(b, r, in->len))
		drop_oldest(b, r);
	if ((in->len > 0 && (copy = malloc(in->len)) == NULL) ||
	    (r->n == r->cap && grow(r, b->max_events) != 0)) {
		free(copy);
		while (r->n > 0)
			drop_oldest(b, r);
		return;
	}
	if (in->len > 0)
		memcpy(copy, in->data, in->len);
	v = slot(r, r->n);
	v->seq = in->seq;
	v->unix_ms = in->unix_ms;
	v->data = copy;
	v->len = (uint32_t)in->len;
	v->stream = (uint8_t)in->stream;
	snprintf(v->pid, sizeof(v->pid), "%s", in->process_id);
	r->bytes += in->len;
	atomic_fetch_add(&b->total, in->len);
	if (r->n++ == 0)
		atomic_fetch_add(&b->nonempty, 1);
}

/* When all rings hold more than total_max, trims every ring above its
 * share (the quiet ones too: they would otherwise keep theirs forever).
 * Takes bus->mu then each ring's lock — the only place holding both, in
 * that order; emitters never take bus->mu under a ring's lock. */
static void
trim(struct logbus *b)
{
	long long now = server_now_ms(), at = atomic_load(&b->trim_at_ms);
	size_t sh;

	if (atomic_load(&b->total) <= b->total_max || now < at ||
	    !atomic_compare_exchange_strong(&b->trim_at_ms, &at, now + TRIM_EVERY_MS))
		return;
	pthread_mutex_lock(&b->mu);
	sh = share(b);
	for (int i = 0; i < NBUCKETS; i++) {
		for (struct ring *r = b->table[i]; r != NULL; r = r->next) {
			pthread_mutex_lock(&r->mu);
			while (r->n > 1 && r->bytes > sh)
				drop_oldest(b, r);
			pthread_mutex_unlock(&r->mu);
		}
	}
	pthread_mutex_unlock(&b->mu);
}

size_t
logbus_bytes(struct server *s)
{
	return s->logbus != NULL ? atomic_load(&s->logbus->total) : 0;
}

/* ---- publishing (r->mu held) */

/* Packs the LogEvent and seals it; *ct (malloc'd, *ct_len bytes) is the
 * ciphertext. -1 out of memory. */
static int
seal(const struct ring *r, uint64_t epoch, const struct logbus_event *in,
    unsigned char nonce[LOGBUS_NONCE_BYTES], unsigned char **ct, size_t *ct_len)
{
	Sbx__V1__LogEvent le = SBX__V1__LOG_EVENT__INIT;
	unsigned char ad[TOPIC_MAX + 8], *pt;
	unsigned long long clen;
	size_t plen, adlen;

	le.seq = in->seq;
	le.process_id = (char *)in->process_id;
	le.stream = (Sbx__V1__LogStream)in->stream;
	le.data.data = (uint8_t *)in->data;
	le.data.len = in->len;
	le.unix_ms = in->unix_ms;
	le.epoch = epoch;
	plen = sbx__v1__log_event__get_packed_size(&le);
	if ((pt = malloc(plen)) == NULL)
		return -1;
	sbx__v1__log_event__pack(&le, pt);
	if ((*ct = malloc(plen + crypto_aead_xchacha20poly1305_ietf_ABYTES)) == NULL) {
		free(pt);
		return -1;
	}
	adlen = logbus_ad(r->topic, r->topic_len, in->seq, ad, sizeof(ad));
	randombytes_buf(nonce, LOGBUS_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(*ct, &clen, pt, plen, ad, adlen, NULL,
	    nonce, r->key);
	*ct_len = (size_t)clen;
	free(pt);
	return 0;
}

static void
publish(struct logbus *b, const struct ring *r, const struct logbus_event *in)
{
	Sbx__V1__SealedLogEvent se = SBX__V1__SEALED_LOG_EVENT__INIT;
	unsigned char nonce[LOGBUS_NONCE_BYTES], *ct;
	size_t ct_len, n;
	nng_msg *m;

	if (!b->pub_open || r->topic_len == 0 || seal(r, b->epoch, in, nonce, &ct, &ct_len) != 0)
		return;
	se.seq = in->seq;
	se.nonce.data = nonce;
	se.nonce.len = sizeof(nonce);
	se.ciphertext.data = ct;
	se.ciphertext.len = ct_len;
	n = sbx__v1__sealed_log_event__get_packed_size(&se);
	if (nng_msg_alloc(&m, r->topic_len + n) == 0) {
		memcpy(nng_msg_body(m), r->topic, r->topic_len);
		sbx__v1__sealed_log_event__pack(&se, (uint8_t *)nng_msg_body(m) + r->topic_len);
		/* pub0 never waits: a full subscriber queue drops instead. */
		if (nng_sendmsg(b->pub, m, NNG_FLAG_NONBLOCK) != 0) {
			nng_msg_free(m);
			metrics_count(METRICS_C_LOGBUS_PUB_FAILED, 1);
		}
	}
	free(ct);
}

/* ---- emitting */

uint64_t
logbus_emit(struct server *s, const char *session_id, const char *process_id,
    enum logbus_stream stream, const void *data, size_t len)
{
	struct logbus *b = s->logbus;
	struct logbus_event ev;
	struct ring *r;
	const unsigned char *p = data;
	uint64_t last = 0;

	if (b == NULL || len == 0 || session_id == NULL ||
	    (r = ring_get(s, session_id, 1)) == NULL)
		return 0;
	ev.process_id = process_id ? process_id : "";
	ev.stream = stream;
	ev.unix_ms = (uint64_t)server_now_ms();
	pthread_mutex_lock(&r->mu);
	do {
		ev.len = len > LOGBUS_EVENT_MAX ? LOGBUS_EVENT_MAX : len;
		ev.data = p;
		ev.seq = r->next_seq++;
		ring_push(b, r, &ev);
		publish(b, r, &ev);
		metrics_count(METRICS_C_LOGBUS_EVENTS, 1);
		metrics_count(METRICS_C_LOGBUS_BYTES, ev.len);
		last = ev.seq;
		p += ev.len;
		len -= ev.len;
	} while (len > 0);
	pthread_mutex_unlock(&r->mu);
	ring_put(b, r);
	trim(b);
	return last;
}

uint64_t
logbus_emitf(struct server *s, const char *session_id, const char *process_id,
    const char *fmt, ...)
{
	char text[FORMAT_MAX];
	va_list ap;
	int n;

	if (s->logbus == NULL)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	return logbus_emit(s, session_id, process_id, LOGBUS_SYSTEM, text,
	    (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
}

void
logbus_forget(struct server *s, const char *session_id)
{
	struct logbus *b = s->logbus;
	struct ring *r;
	int64_t now = server_now_ms();

	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	if ((r = ring_find(b, session_id)) != NULL && r->forget_at_ms == 0)
		r->forget_at_ms = now + LOGBUS_LINGER_MS;
	sweep(b, now);
	pthread_mutex_unlock(&b->mu);
}

/* ---- reading */

static void
window_of(const struct ring *r, uint64_t after, struct logbus_window *w)
{
	w->next_seq = r->next_seq;
	w->first_available = r->n > 0 ? r->ev[r->head].seq : r->next_seq;
	w->lost = after + 1 < w->first_available ? w->first_available - (after + 1) : 0;
}

void
logbus_window(struct server *s, const char *session_id, struct logbus_window *w)
{
	struct ring *r;

	w->first_available = w->next_seq = 1;
	w->lost = 0;
	if (s->logbus == NULL || (r = ring_get(s, session_id, 0)) == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	window_of(r, r->next_seq - 1, w);
	pthread_mutex_unlock(&r->mu);
	ring_put(s->logbus, r);
}

static sbxd_code
read_ring(struct ring *r, uint64_t after, uint32_t max, size_t max_bytes,
    void (*each)(void *, const struct logbus_event *), void *arg, struct logbus_window *w,
    struct err *e)
{
	size_t bytes = 0;
	uint32_t given = 0;

	if (after >= r->next_seq)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "after_seq %llu is in the future: the next event of this session will be "
		    "seq %llu; pass after_seq %llu or less", (unsigned long long)after,
		    (unsigned long long)r->next_seq, (unsigned long long)(r->next_seq - 1));
	window_of(r, after, w);
	for (uint32_t i = 0; i < r->n && given < max; i++) {
		const struct ev *v = slot(r, i);
		struct logbus_event out;

		if (v->seq <= after)
			continue;
		if (given > 0 && bytes + v->len > max_bytes)
			break;
		out = (struct logbus_event){ .seq = v->seq, .unix_ms = v->unix_ms,
		    .stream = (enum logbus_stream)v->stream, .process_id = v->pid,
		    .data = v->data, .len = v->len };
		each(arg, &out);
		bytes += v->len;
		given++;
	}
	return SBXD_OK;
}

sbxd_code
logbus_read(struct server *s, const char *session_id, uint64_t after_seq, uint32_t max,
    size_t max_bytes, void (*each)(void *arg, const struct logbus_event *ev), void *arg,
    struct logbus_window *w, struct err *e)
{
	struct ring *r;
	sbxd_code rv;

	w->first_available = w->next_seq = 1;
	w->lost = 0;
	if (s->logbus == NULL || (r = ring_get(s, session_id, 0)) == NULL) {
		if (after_seq > 0)
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "after_seq %llu is in the future: this session has no events yet; "
			    "pass after_seq 0", (unsigned long long)after_seq);
		return SBXD_OK;
	}
	pthread_mutex_lock(&r->mu);
	rv = read_ring(r, after_seq, max, max_bytes, each, arg, w, e);
	pthread_mutex_unlock(&r->mu);
	ring_put(s->logbus, r);
	return rv;
}

/* ---- leases and the endpoint */

uint64_t
logbus_epoch(struct server *s)
{
	return s->logbus != NULL ? s->logbus->epoch : 0;
}

const char *
logbus_endpoint(struct server *s)
{
	return s->logbus != NULL ? s->logbus->endpoint : "";
}

void
logbus_lease(struct server *s, const char *session_id, int64_t until_ms)
{
	struct logbus *b = s->logbus;
	struct ring *r;

	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	if ((r = ring_find(b, session_id)) == NULL)
		r = ring_new(s, session_id);
	if (r != NULL && r->lease_until_ms < until_ms)
		r->lease_until_ms = until_ms;
	pthread_mutex_unlock(&b->mu);
}

int
logbus_leased(struct server *s, const char *session_id, int64_t now_ms)
{
	struct logbus *b = s->logbus;
	struct ring *r;
	int live = 0;

	if (b == NULL)
		return 0;
	pthread_mutex_lock(&b->mu);
	if ((r = ring_find(b, session_id)) != NULL)
		live = r->lease_until_ms > now_ms;
	pthread_mutex_unlock(&b->mu);
	return live;
}
