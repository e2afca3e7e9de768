/*
 * agent_link.c — owns the nng pair1 socket that dials sbxd and the queue
 * of connection events the main loop consumes with its frames.
 *
 * Connection events come from nng's pipe callbacks into a queue (its
 * eventfd wakes the main loop); frames are taken from nng's own receive
 * queue by the main loop itself (it polls nng's receive fd), with no
 * thread between: a frame costs no handoff before its handler runs, and a
 * main loop that does not keep up leaves them in nng, which pushes back on
 * sbxd. Their order holds: a connection's frames come after its UP (sbxd
 * sends none before the hello the UP makes), and the frames nng holds
 * are taken before the DOWN of their connection.
 *
 * Sends are bound to a connection: pair1 hands a message sent while no
 * peer is attached to the next peer, which would put an old connection's
 * frame ahead of the new connection's hello. So every send is an aio that
 * the pipe callbacks cancel when its connection goes away or another one
 * arrives (ADD_PRE runs before pair1 attaches the new pipe).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/transport/tls/tls.h>

#include "agent_link.h"
#include "agent_log.h"
#include "agent_wire.h"

#define SEND_TIMEOUT_MS 10000
#define RECONN_MIN_MS 20
#define RECONN_MAX_MS 1000

struct qent {
	struct qent *next;
	struct agent_link_ev ev;
};

struct agent_link {
	nng_socket sock;
	nng_dialer dialer;
	nng_aio *aio;           /* the one send in flight */
	int wakefd;
	int recvfd;             /* nng's: readable while it holds a frame */
	uint32_t bad_pipe;      /* the main loop's: undecodable frame logged */

	pthread_mutex_t mu;     /* guards everything below */
	struct qent *head, *tail;
	uint32_t cur_pipe;      /* nng's attached connection, 0 if none */
	int sending;
	uint32_t send_pipe;
};

/* ---- decoding */

struct budget {
	size_t used;
};

static void *
budget_alloc(void *data, size_t n)
{
	struct budget *b = data;

	if (n > AGENT_DECODE_BUDGET - b->used)
		return NULL;
	b->used += n;
	return malloc(n != 0 ? n : 1);
}

static void
budget_free(void *data, void *p)
{
	(void)data;
	free(p);
}

int
agent_frame_decode(const uint8_t *p, size_t len, Sbx__Agent__V1__Frame **out)
{
	struct budget b = { 0 };
	ProtobufCAllocator a = { budget_alloc, budget_free, &b };

	*out = NULL;
	if (len > AGENT_FRAME_MAX)
		return -1;
	*out = sbx__agent__v1__frame__unpack(&a, len, p);
	return *out != NULL ? 0 : -1;
}

void
agent_frame_free(Sbx__Agent__V1__Frame *f)
{
	/* budget_alloc is malloc underneath: the default allocator frees it */
	if (f != NULL)
		sbx__agent__v1__frame__free_unpacked(f, NULL);
}

/* ---- the event queue */

/* Appends an event; with mu held. */
static void
push_locked(struct agent_link *l, struct qent *q)
{
	uint64_t one = 1;

	q->next = NULL;
	if (l->tail != NULL)
		l->tail->next = q;
	else
		l->head = q;
	l->tail = q;
	(void)!write(l->wakefd, &one, sizeof(one));
}

/* Takes a frame nng holds, decoded, into *ev: 1, or 0 when it holds none. */
static int
recv_frame(struct agent_link *l, struct agent_link_ev *ev)
{
	Sbx__Agent__V1__Frame *f;
	uint32_t pipe;
	nng_msg *m;
	size_t len;
	int rv;

	for (;;) {
		if ((rv = nng_recvmsg(l->sock, &m, NNG_FLAG_NONBLOCK)) != 0) {
			if (rv != NNG_EAGAIN && rv != NNG_ECLOSED)
				agent_logx("receive: %s", nng_strerror(rv));
			return 0;
		}
		pipe = nng_pipe_id(nng_msg_get_pipe(m));
		len = nng_msg_len(m);
		rv = agent_frame_decode(nng_msg_body(m), len, &f);
		nng_msg_free(m);
		if (rv == 0)
			break;
		if (l->bad_pipe != pipe)
			agent_logx("dropping a frame that does not decode "
			    "(%zu bytes; logged once per connection)", len);
		l->bad_pipe = pipe;
	}
	ev->kind = AGENT_EV_FRAME;
	ev->pipe = pipe;
	ev->frame = f;
	return 1;
}

int
agent_link_next(struct agent_link *l, struct agent_link_ev *ev, int frames)
{
	struct qent *q;
	uint64_t v;

	pthread_mutex_lock(&l->mu);
	if ((q = l->head) == NULL) {
		/* under mu, so no push can slip between the check and this */
		(void)!read(l->wakefd, &v, sizeof(v));
		pthread_mutex_unlock(&l->mu);
		return frames ? recv_frame(l, ev) : 0;
	}
	/* a connection's frames that nng already holds come before its DOWN */
	if (q->ev.kind == AGENT_EV_DOWN) {
		pthread_mutex_unlock(&l->mu);
		if (recv_frame(l, ev))
			return 1;
		pthread_mutex_lock(&l->mu);
		q = l->head;     /* only the main loop takes from the queue */
	}
	if ((l->head = q->next) == NULL)
		l->tail = NULL;
	pthread_mutex_unlock(&l->mu);
	*ev = q->ev;
	free(q);
	return 1;
}

int
agent_link_wakefd(struct agent_link *l)
{
	return l->wakefd;
}

int
agent_link_recvfd(struct agent_link *l)
{
	return l->recvfd;
}

/* ---- nng's side */

static void
on_pipe(nng_pipe p, nng_pipe_ev what, void *arg)
{
	struct agent_link *l = arg;
	uint32_t id = nng_pipe_id(p);
	struct qent *q = NULL;

	if (what != NNG_PIPE_EV_ADD_PRE && (q = calloc(1, sizeof(*q))) == NULL)
		agent_fatalx("out of memory");
	pthread_mutex_lock(&l->mu);
	switch (what) {
	case NNG_PIPE_EV_ADD_PRE:
	case NNG_PIPE_EV_ADD_POST:
		if (l->sending && l->send_pipe != id)
			nng_aio_cancel(l->aio);
		if (what == NNG_PIPE_EV_ADD_POST) {
			l->cur_pipe = id;
			q->ev.kind = AGENT_EV_UP;
		}
		break;
	case NNG_PIPE_EV_REM_POST:
		if (l->cur_pipe == id)
			l->cur_pipe = 0;
		if (l->sending && l->send_pipe == id)
			nng_aio_cancel(l->aio);
		q->ev.kind = AGENT_EV_DOWN;
		break;
	default:
		break;
	}
	if (q != NULL) {
		q->ev.pipe = id;
		push_locked(l, q);
	}
	pthread_mutex_unlock(&l->mu);
}

/* ---- sending */

int
agent_link_send(struct agent_link *l, uint32_t pipe, const Sbx__Agent__V1__Frame *f)
{
	size_t n = sbx__agent__v1__frame__get_packed_size(f);
	nng_msg *m;
	int rv;

	if (n > AGENT_FRAME_MAX) {
		agent_logx("not sending a %zu-byte frame (limit %d)", n, AGENT_FRAME_MAX);
		return -1;
	}
	if (nng_msg_alloc(&m, n) != 0)
		agent_fatalx("out of memory");
	sbx__agent__v1__frame__pack(f, nng_msg_body(m));

	pthread_mutex_lock(&l->mu);
	if (pipe == 0 || l->cur_pipe != pipe) {
		pthread_mutex_unlock(&l->mu);
		nng_msg_free(m);
		return -1;
	}
	nng_aio_set_msg(l->aio, m);
	nng_aio_set_timeout(l->aio, SEND_TIMEOUT_MS);
	l->sending = 1;
	l->send_pipe = pipe;
	nng_send_aio(l->sock, l->aio);
	pthread_mutex_unlock(&l->mu);

	nng_aio_wait(l->aio);
	pthread_mutex_lock(&l->mu);
	l->sending = 0;
	pthread_mutex_unlock(&l->mu);
	if ((rv = nng_aio_result(l->aio)) == 0)
		return 0;
	nng_msg_free(nng_aio_get_msg(l->aio));
	nng_aio_set_msg(l->aio, NULL);
	if (rv == NNG_ETIMEDOUT) {
		agent_logx("sbxd took no frame for %d ms: closing the connection",
		    SEND_TIMEOUT_MS);
		agent_link_drop_pipe(l, pipe);
	}
	return -1;
}

void
agent_link_drop_pipe(struct agent_link *l, uint32_t pipe)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;

	p.id = pipe;
	(void)nng_pipe_close(p);
}

/* ---- opening */

/* Copies the host of "tls+tcp://host:port" (or "[v6]:port") into buf. */
static int
url_host(const char *url, char *buf, size_t cap)
{
	const char *h = strstr(url, "://"), *e;
	size_t n;

	if (h == NULL)
		return -1;
	h += 3;
	if (*h == '[') {
		h++;
		e = strchr(h, ']');
	} else
		e = strrchr(h, ':');
	if (e == NULL || (n = (size_t)(e - h)) == 0 || n >= cap)
		return -1;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return 0;
}

static int
dialer_tls(struct agent_link *l, const char *url, const char *ca)
{
	nng_tls_config *cfg = NULL;
	char host[256];
	int rv;

	if (url_host(url, host, sizeof(host)) != 0) {
		agent_logx("%s: no host name for TLS", url);
		return -1;
	}
	if ((rv = nng_tls_register()) != 0 ||
	    (rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0 ||
	    (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
	    (rv = nng_tls_config_ca_file(cfg, ca)) != 0 ||
	    (rv = nng_tls_config_server_name(cfg, host)) != 0 ||
	    (rv = nng_dialer_set_ptr(l->dialer, NNG_OPT_TLS_CONFIG, cfg)) != 0)
		agent_logx("TLS setup (CA %s): %s", ca, nng_strerror(rv));
	if (cfg != NULL)
		nng_tls_config_free(cfg);   /* the dialer holds its own reference */
	return rv == 0 ? 0 : -1;
}

int
agent_link_open(const char *url, const char *tls_ca, struct agent_link **out)
{
	struct agent_link *l;
	int rv, tls = strncmp(url, "tls+tcp://", 10) == 0;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		agent_fatalx("out of memory");
	pthread_mutex_init(&l->mu, NULL);
	if ((l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		agent_log("eventfd");
		return -1;   /* the process exits: nothing to unwind */
	}
	if ((rv = nng_pair1_open(&l->sock)) != 0 ||
	    (rv = nng_aio_alloc(&l->aio, NULL, NULL)) != 0 ||
	    (rv = nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, AGENT_FRAME_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT, RECONN_MIN_MS)) != 0 ||
	    (rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, RECONN_MAX_MS)) != 0 ||
	    (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_ADD_PRE, on_pipe, l)) != 0 ||
	    (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_ADD_POST, on_pipe, l)) != 0 ||
	    (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_REM_POST, on_pipe, l)) != 0) {
		agent_logx("socket: %s", nng_strerror(rv));
		return -1;
	}
	if ((rv = nng_dialer_create(&l->dialer, l->sock, url)) != 0) {
		agent_logx("%s: %s", url, nng_strerror(rv));
		return -1;
	}
	if ((rv = nng_dialer_set_ms(l->dialer, NNG_OPT_RECONNMINT, RECONN_MIN_MS)) != 0 ||
	    (rv = nng_dialer_set_ms(l->dialer, NNG_OPT_RECONNMAXT, RECONN_MAX_MS)) != 0) {
		agent_logx("dialer: %s", nng_strerror(rv));
		return -1;
	}
	if (tls && dialer_tls(l, url, tls_ca) != 0)
		return -1;
	if ((rv = nng_socket_get_int(l->sock, NNG_OPT_RECVFD, &l->recvfd)) != 0) {
		agent_logx("receive fd: %s", nng_strerror(rv));
		return -1;
	}
	if ((rv = nng_dialer_start(l->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		agent_logx("dial %s: %s", url, nng_strerror(rv));
		return -1;
	}
	*out = l;
	return 0;
}
