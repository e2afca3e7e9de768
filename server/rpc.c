/*
 * rpc.c — request handling and the nng context pool (see rpc.h).
 *
 * One request's path: unpack the envelope (budgeted) → find the method →
 * check the deadline → authenticate (before any lookup, so a stranger
 * learns nothing about which sessions exist) → unpack the payload
 * (budgeted) → authorize → run the handler → pack the reply. Every failure
 * on that path is a Response with a canonical code and a message; the
 * server goes on serving.
 *
 * Between authentication and the handler, a call carrying a request id
 * goes through the reply cache (replycache.h): a repeat of an id this
 * credential already used gets the first reply instead of running again,
 * and a repeat of a call still running waits for it. Replies saying
 * UNAVAILABLE are not kept: the call was not served, and its retry runs.
 *
 * Two worker pools: long calls (METHOD_LONG: commands, waits, engine
 * work) run on the command workers, everything else on the short-call
 * workers, so a file call never waits behind a command. The pool is
 * chosen before the request is decoded, from the method name read off
 * the wire. A long call also needs a share (shares.h): a credential may
 * have command_calls_per_credential of them running, a session
 * command_calls_per_session (taken by call_session); over a share the
 * call is answered RESOURCE_EXHAUSTED at once, saying when to retry.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <sodium.h>

#include "arena.h"
#include "connlimit.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "pbcheck.h"
#include "replycache.h"
#include "shares.h"
#include "utf8.h"
#include "rpc.h"
#include "sbx/v1/sbx.pb-c.h"
#include "worker.h"

#define UNPACK_FACTOR 8               /* budget = 8x the bytes + slack */
#define UNPACK_SLACK (64u << 10)
#define REPLY_BUDGET (512u << 20)     /* a handler's reply memory */
#define RPC_KILL_BEFORE_MS 3000u      /* foreground commands die this long before drain ends */
#define RPC_ANSWER_WAIT_MS 1000u      /* for the drain's own answers to go out */

enum ctx_state { CTX_RECV, CTX_SEND };

struct rpc_ctx {
	struct rpc_server *r;
	nng_ctx ctx;
	nng_aio *aio;
	enum ctx_state state;
	nng_msg *msg;
	/* A call on the worker pool (working) may be answered by the drain
	 * instead (answered); mu orders that against the worker's own reply
	 * and keeps msg alive while the drain reads it. */
	pthread_mutex_t mu;
	int working, answered;
};

struct rpc_server {
	struct server *srv;
	nng_socket sock;
	nng_listener listener;
	struct worker_pool *pool;       /* short calls */
	struct worker_pool *long_pool;  /* METHOD_LONG calls */
	struct rpc_ctx *ctxs;
	int nctx;
	atomic_int draining;
	atomic_int inflight;
	/* Workers send replies under the read side; rpc_server_stop takes the
	 * write side to close the socket. nng 1.5.2 panics when nng_ctx_send
	 * races nng_close (a freed context's mutex), so a reply finished after
	 * the close is dropped instead. */
	pthread_rwlock_t close_lock;
	int closed;
};

static unsigned method_field;   /* Request.method's field number, set at start */

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Packs a Response into malloc'd memory. */
static void *
pack_response(const char *request_id, sbxd_code code, const char *msg,
    const uint8_t *payload, size_t plen, size_t *outlen)
{
	Sbx__V1__Response resp = SBX__V1__RESPONSE__INIT;
	Sbx__V1__Status st = SBX__V1__STATUS__INIT;
	uint8_t *buf;

	st.code = (Sbx__V1__Code)code;
	st.message = (char *)(msg ? msg : "");
	resp.request_id = (char *)(request_id ? request_id : "");
	resp.status = &st;
	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = code == SBXD_OK ? plen : 0;
	*outlen = sbx__v1__response__get_packed_size(&resp);
	if ((buf = malloc(*outlen ? *outlen : 1)) == NULL)
		return NULL;
	sbx__v1__response__pack(&resp, buf);
	return buf;
}

static sbxd_code
authenticate(struct call *c, const Sbx__V1__Credentials *cr)
{
	struct session_row row;
	struct err e;
	char hash[AUTH_HASH_HEX];
	const char *key = cr ? cr->service_key : NULL, *tok = cr ? cr->session_token : NULL;

	if (key != NULL && *key != '\0') {
		if (auth_is_service_key(c->srv->auth, key, strlen(key))) {
			c->is_service = 1;
			return SBXD_OK;
		}
		return err_set(&c->err, SBXD_UNAUTHENTICATED,
		    "the service key is not valid; check SBX_SERVICE_KEY or the server's key file");
	}
	if (tok != NULL && *tok != '\0') {
		auth_token_hash(tok, strlen(tok), hash);
		if (store_session_by_token_hash(c->srv->store, hash, &row, &e) == SBXD_OK) {
			snprintf(c->token_session, sizeof(c->token_session), "%s", row.id);
			return SBXD_OK;
		}
		if (e.code != SBXD_NOT_FOUND)
			return err_set(&c->err, e.code, "%s", e.msg);
		return err_set(&c->err, SBXD_UNAUTHENTICATED,
		    "the session token is not valid (revoked, or from another server)");
	}
	return err_set(&c->err, SBXD_UNAUTHENTICATED,
	    "no credentials: send a service key or a session token");
}

/* Takes the credential's share of the command workers for a long call,
 * naming it in key (given back by rpc_handle); 0 with c->err set when the
 * credential is over its share. */
static int
credential_share_take(struct call *c, char key[SHARES_KEY_MAX])
{
	int cap = c->srv->cfg->command_calls_per_credential;

	snprintf(key, SHARES_KEY_MAX, c->is_service ? "key" : "token:%s", c->token_session);
	if (shares_take(c->srv->shares, key, cap))
		return 1;
	key[0] = '\0';
	metrics_count(METRICS_C_SHARE_REFUSED, 1);
	err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "this credential already has %d commands, "
	    "waits and session changes running (command_calls_per_credential); retry after "
	    "one of them ends, e.g. in 100 ms", cap);
	return 0;
}

static int
past_deadline(uint64_t deadline_ms)
{
	return deadline_ms != 0 && (uint64_t)server_now_ms() > deadline_ms;
}

/* The credential's digest (never the credential) and the request's, for
 * the reply cache: the kind is hashed in so a key and a token never meet. */
static void
call_digests(const Sbx__V1__Request *req, unsigned char cred[REPLYCACHE_DIGEST],
    unsigned char what[REPLYCACHE_DIGEST])
{
	crypto_hash_sha256_state sh;
	crypto_generichash_state gh;
	const Sbx__V1__Credentials *cr = req->credentials;
	const char *key = cr ? cr->service_key : NULL, *tok = cr ? cr->session_token : NULL;
	int is_key = key != NULL && *key != '\0';

	_Static_assert(crypto_hash_sha256_BYTES == REPLYCACHE_DIGEST, "digest size");
	crypto_hash_sha256_init(&sh);
	crypto_hash_sha256_update(&sh, (const unsigned char *)(is_key ? "key:" : "token:"),
	    is_key ? 4 : 6);
	crypto_hash_sha256_update(&sh, (const unsigned char *)(is_key ? key : tok ? tok : ""),
	    strlen(is_key ? key : tok ? tok : ""));
	crypto_hash_sha256_final(&sh, cred);
	crypto_generichash_init(&gh, NULL, 0, REPLYCACHE_DIGEST);
	crypto_generichash_update(&gh, (const unsigned char *)req->method, strlen(req->method) + 1);
	crypto_generichash_update(&gh, req->payload.data, req->payload.len);
	crypto_generichash_final(&gh, what, REPLYCACHE_DIGEST);
}

/* Asks the reply cache about c's request. Returns 1 with *reply and *outlen
 * set when the first reply answers it; 0 to run it (*slot set when its
 * reply is to be kept); -1 with c->err set when it is answered with an
 * error. */
static int
check_repeat(struct call *c, const Sbx__V1__Request *req, struct replycache_entry **slot,
    void **reply, size_t *outlen)
{
	unsigned char cred[REPLYCACHE_DIGEST], what[REPLYCACHE_DIGEST];
	int64_t wait = REPLYCACHE_WAIT_MAX_MS, now = replycache_now_ms();

	*slot = NULL;
	if (c->srv->replies == NULL || req->request_id[0] == '\0')
		return 0;
	if (c->deadline_ms != 0 && (int64_t)c->deadline_ms - server_now_ms() < wait)
		wait = (int64_t)c->deadline_ms - server_now_ms();
	call_digests(req, cred, what);
	switch (replycache_begin(c->srv->replies, cred, req->request_id, what, now + wait,
	    slot, reply, outlen)) {
	case REPLYCACHE_RUN:
	case REPLYCACHE_UNCACHED:
		return 0;
	case REPLYCACHE_HIT:
		return 1;
	case REPLYCACHE_RUNNING:
		err_set(&c->err, SBXD_UNAVAILABLE, "the call with request id %.64s is still "
		    "running; retry with the same request id for its reply", req->request_id);
		return -1;
	case REPLYCACHE_MISMATCH:
		/* not a retry (those repeat method and payload): a new call */
		log_debug("request id %.64s reused for a different call", req->request_id);
		return 0;
	case REPLYCACHE_TOO_BIG:
		err_set(&c->err, SBXD_FAILED_PRECONDITION, "the call with request id %.64s already "
		    "ran, but its reply was over %u bytes and was not kept; it is not run twice",
		    req->request_id, REPLYCACHE_MAX_REPLY);
		return -1;
	}
	return 0;
}

/* Unpacks the payload, runs the handler and packs its reply into out. */
static sbxd_code
run_method(struct call *c, const struct method *m, const ProtobufCBinaryData *payload,
    struct arena *in, uint8_t **rbuf, size_t *rlen)
{
	ProtobufCAllocator al = arena_allocator(in);
	const ProtobufCMessageDescriptor *id = m->desc->input, *od = m->desc->output;
	ProtobufCMessage *req, *resp;
	sbxd_code rv;

	if (m->fn == NULL)
		return err_set(&c->err, SBXD_UNIMPLEMENTED,
		    "%s is not implemented by this sbxd version yet", m->name);
	if (!c->is_service && (m->flags & METHOD_SERVICE_ONLY))
		return err_set(&c->err, SBXD_PERMISSION_DENIED,
		    "%s needs a service key; a session token reaches only its own session", m->name);
	if ((rv = pbcheck_strings(id, payload->data, payload->len, &c->err)) != SBXD_OK)
		return rv;
	req = protobuf_c_message_unpack(id, &al, payload->len, payload->data);
	if (req == NULL)
		return err_set(&c->err, in->exhausted ? SBXD_RESOURCE_EXHAUSTED : SBXD_INVALID_ARGUMENT,
		    in->exhausted ? "payload for %s needs too much memory to decode" :
		    "malformed payload for %s: expected a packed %s", m->name, id->name);
	if ((resp = arena_alloc(c->out, od->sizeof_message)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	od->message_init(resp);
	if ((rv = m->fn(c, req, resp)) != SBXD_OK)
		return rv;
	if (pbcheck_fix_utf8(resp, c->out) != 0)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "reply too large");
	*rlen = protobuf_c_message_get_packed_size(resp);
	if ((*rbuf = arena_alloc(c->out, *rlen ? *rlen : 1)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "reply too large");
	protobuf_c_message_pack(resp, *rbuf);
	return SBXD_OK;
}

void *
rpc_handle(struct server *srv, const void *data, size_t len, size_t *outlen)
{
	struct arena in, out;
	ProtobufCAllocator al;
	Sbx__V1__Request *req;
	const struct method *m = NULL;
	struct replycache_entry *slot = NULL;
	struct call c = { .srv = srv, .out = &out };
	char share_key[SHARES_KEY_MAX] = "";
	uint8_t *rbuf = NULL;
	size_t rlen = 0;
	uint64_t t0 = mono_us();
	const char *msg;
	sbxd_code rv;
	void *reply = NULL;
	int repeat, id_ok = 1;

	arena_init(&in, len > (SIZE_MAX - UNPACK_SLACK) / UNPACK_FACTOR ? SIZE_MAX :
	    len * UNPACK_FACTOR + UNPACK_SLACK);
	arena_init(&out, REPLY_BUDGET);
	al = arena_allocator(&in);
	err_clear(&c.err);
	if (len > srv->cfg->max_message_bytes) {
		rv = err_set(&c.err, SBXD_RESOURCE_EXHAUSTED, "request is %zu bytes, over this server's "
		    "limit of %zu (max_message_bytes); send large files in chunks", len,
		    srv->cfg->max_message_bytes);
		goto out;
	}
	if ((rv = pbcheck_nul(&sbx__v1__request__descriptor, data, len, &c.err)) != SBXD_OK)
		goto out;
	if ((req = sbx__v1__request__unpack(&al, len, data)) == NULL) {
		rv = err_set(&c.err, in.exhausted ? SBXD_RESOURCE_EXHAUSTED : SBXD_INVALID_ARGUMENT,
		    in.exhausted ? "request needs too much memory to decode" :
		    "malformed request: expected a packed sbx.v1.Request envelope");
		goto out;
	}
	/* Echoed in the reply, so it must be UTF-8; refused after authentication. */
	id_ok = utf8_valid(req->request_id, strlen(req->request_id));
	c.request_id = id_ok ? req->request_id : "";
	c.deadline_ms = req->deadline_unix_ms;
	if ((m = dispatch_find(req->method, strlen(req->method))) == NULL) {
		rv = err_set(&c.err, SBXD_UNIMPLEMENTED, "unknown method \"%.100s\"; methods look like "
		    "\"sbx.v1.SandboxService/Execute\" (see proto/sbx/v1/sbx.proto)", req->method);
		goto out;
	}
	c.method = m->name;
	if (past_deadline(c.deadline_ms)) {
		rv = err_set(&c.err, SBXD_DEADLINE_EXCEEDED, "the request's deadline passed before it was served");
		goto out;
	}
	if ((rv = authenticate(&c, req->credentials)) != SBXD_OK)
		goto out;
	if (!id_ok) {
		rv = err_set(&c.err, SBXD_INVALID_ARGUMENT, "request_id is not valid UTF-8; "
		    "use printable ASCII such as a UUID");
		goto out;
	}
	c.is_long = (m->flags & METHOD_LONG) != 0;
	if (c.is_long && !credential_share_take(&c, share_key)) {
		rv = c.err.code;
		goto out;
	}
	if ((repeat = check_repeat(&c, req, &slot, &reply, outlen)) == 1) {
		log_info("%s id=%s repeated: answered with the first reply", m->name, c.request_id);
		metrics_count(METRICS_C_REPLY_REPEATS, 1);
		goto done;
	}
	if (repeat < 0) {
		rv = c.err.code;
		goto out;
	}
	rv = run_method(&c, m, &req->payload, &in, &rbuf, &rlen);
out:
	if (rv != SBXD_OK && c.err.code != rv)
		err_set(&c.err, rv, "%s", err_code_name(rv));
	/* A message may quote a name from disk or be cut inside a character. */
	msg = rv == SBXD_OK ? "" : utf8_fixed(&out, c.err.msg);
	reply = pack_response(c.request_id, rv, msg ? msg : err_code_name(rv), rbuf, rlen, outlen);
	if (slot != NULL)
		replycache_finish(srv->replies, slot, reply, *outlen, rv != SBXD_UNAVAILABLE);
	metrics_rpc_observe(m != NULL ? m->slot : METRICS_RPC_UNKNOWN, (int)rv, mono_us() - t0);
	if (rv == SBXD_OK)
		log_debug("%s id=%s ok %lluus", m->name, c.request_id,
		    (unsigned long long)(mono_us() - t0));
	else
		log_info("%s id=%s %s: %s (%lluus)", m ? m->name : "?",
		    c.request_id ? c.request_id : "-", err_code_name(rv), c.err.msg,
		    (unsigned long long)(mono_us() - t0));
done:
	if (share_key[0] != '\0')
		shares_give(srv->shares, share_key);
	call_session_share_give(&c);
	arena_fini(&in);
	arena_fini(&out);
	return reply;
}

/* ------------------------------------------------------------- nng side */

static void
ctx_send_reply(struct rpc_ctx *x, void *reply, size_t rlen)
{
	nng_msg *msg = NULL;

	if (reply == NULL || nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, reply, rlen) != 0) {
		/* Out of memory: drop the request; the client times out. */
		if (msg != NULL)
			nng_msg_free(msg);
		free(reply);
		x->state = CTX_RECV;
		nng_ctx_recv(x->ctx, x->aio);
		return;
	}
	free(reply);
	x->state = CTX_SEND;
	nng_aio_set_msg(x->aio, msg);
	nng_ctx_send(x->ctx, x->aio);
}

static void
work(void *arg)
{
	struct rpc_ctx *x = arg;
	size_t rlen = 0;
	void *reply;
	int answered;

	reply = rpc_handle(x->r->srv, nng_msg_body(x->msg), nng_msg_len(x->msg), &rlen);
	pthread_mutex_lock(&x->mu);
	answered = x->answered;
	x->working = 0;
	nng_msg_free(x->msg);
	x->msg = NULL;
	pthread_mutex_unlock(&x->mu);
	pthread_rwlock_rdlock(&x->r->close_lock);
	if (!x->r->closed && !answered)
		ctx_send_reply(x, reply, rlen);
	else
		free(reply);
	pthread_rwlock_unlock(&x->r->close_lock);
	atomic_fetch_sub(&x->r->inflight, 1);   /* after the send: stop waits for it */
}

/* An UNAVAILABLE reply to x->msg saying why (a method-specific why when
 * the request names a method why_for matches); x->msg is left as is. */
static void *
refusal(struct rpc_ctx *x, const char *why, const char *why_for, const char *why_it,
    size_t *rlen)
{
	struct arena in;
	ProtobufCAllocator al;
	Sbx__V1__Request *req;
	void *reply;

	arena_init(&in, nng_msg_len(x->msg) * UNPACK_FACTOR + UNPACK_SLACK);
	al = arena_allocator(&in);
	req = sbx__v1__request__unpack(&al, nng_msg_len(x->msg), nng_msg_body(x->msg));
	if (req != NULL && why_for != NULL && strcmp(req->method, why_for) == 0)
		why = why_it;
	reply = pack_response(req && utf8_valid(req->request_id, strlen(req->request_id)) ?
	    req->request_id : "", SBXD_UNAVAILABLE, why, NULL, 0, rlen);
	arena_fini(&in);
	return reply;
}

static void
refuse(struct rpc_ctx *x, const char *why)
{
	size_t rlen;
	void *reply = refusal(x, why, NULL, NULL, &rlen);

	nng_msg_free(x->msg);
	x->msg = NULL;
	ctx_send_reply(x, reply, rlen);
}

/* Whether msg calls a METHOD_LONG method, read off the wire without
 * decoding (a malformed request goes to the short pool, which answers it). */
static int
is_long(nng_msg *msg)
{
	const struct method *m;
	const uint8_t *name;
	size_t len;

	if (!pbcheck_peek_bytes(nng_msg_body(msg), nng_msg_len(msg), method_field, &name, &len))
		return 0;
	return (m = dispatch_find((const char *)name, len)) != NULL && (m->flags & METHOD_LONG);
}

static void
ctx_cb(void *arg)
{
	struct rpc_ctx *x = arg;
	int rv = nng_aio_result(x->aio);

	if (x->state == CTX_SEND) {
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(x->aio));
		x->state = CTX_RECV;
		if (!x->answered)   /* else the drain answered: x->msg is its worker's */
			nng_ctx_recv(x->ctx, x->aio);
		return;
	}
	if (rv != 0) {
		if (rv != NNG_ECLOSED)
			nng_ctx_recv(x->ctx, x->aio);
		return;
	}
	x->msg = nng_aio_get_msg(x->aio);
	if (atomic_load(&x->r->draining)) {
		refuse(x, "sbxd is shutting down; retry against the restarted server");
		return;
	}
	atomic_fetch_add(&x->r->inflight, 1);
	pthread_mutex_lock(&x->mu);
	x->working = 1;
	x->answered = 0;
	pthread_mutex_unlock(&x->mu);
	if (worker_submit(is_long(x->msg) ? x->r->long_pool : x->r->pool, work, x) != SBXD_OK) {
		pthread_mutex_lock(&x->mu);
		x->working = 0;     /* no worker has it */
		pthread_mutex_unlock(&x->mu);
		atomic_fetch_sub(&x->r->inflight, 1);
		refuse(x, "sbxd cannot take more work right now; retry shortly");
	}
}

static sbxd_code
nng_fail(struct err *e, const char *what, int rv)
{
	return err_set(e, rv == NNG_EADDRINUSE ? SBXD_UNAVAILABLE : SBXD_INVALID_ARGUMENT,
	    "%s: %s", what, nng_strerror(rv));
}

/* Reads a PEM file (at most 1 MiB) into a NUL-terminated malloc'd string. */
static char *
read_pem(const char *path)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL || (p = malloc((1u << 20) + 1)) == NULL)
		goto out;
	n = fread(p, 1, 1u << 20, f);
	if (n == 0 || !feof(f)) {
		free(p);
		p = NULL;
		goto out;
	}
	p[n] = '\0';
out:
	if (f != NULL)
		fclose(f);
	return p;
}

static sbxd_code
setup_tls(struct rpc_server *r, struct err *e)
{
	const struct config *c = r->srv->cfg;
	nng_tls_config *tls = NULL;
	char *cert = NULL, *key = NULL;
	sbxd_code code = SBXD_OK;
	int rv;

	if (c->tls_cert[0] == '\0')
		return SBXD_OK;
	if ((cert = read_pem(c->tls_cert)) == NULL || (key = read_pem(c->tls_key)) == NULL) {
		code = err_set(e, SBXD_INVALID_ARGUMENT, "cannot read tls_cert %s or tls_key %s "
		    "(PEM files of at most 1 MiB)", c->tls_cert, c->tls_key);
		goto out;
	}
	if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_SERVER)) != 0 ||
	    (rv = nng_tls_config_own_cert(tls, cert, key, NULL)) != 0 ||
	    (rv = nng_listener_set_ptr(r->listener, NNG_OPT_TLS_CONFIG, tls)) != 0)
		code = nng_fail(e, "TLS setup (tls_cert/tls_key)", rv);
out:
	if (tls != NULL)
		nng_tls_config_free(tls);   /* the listener holds its own reference */
	if (key != NULL)
		memset(key, 0, strlen(key));
	free(cert);
	free(key);
	return code;
}

static sbxd_code
open_socket(struct rpc_server *r, struct err *e)
{
	const struct config *c = r->srv->cfg;
	int rv;
	sbxd_code code;

	if ((rv = nng_rep0_open(&r->sock)) != 0)
		return nng_fail(e, "opening rep socket", rv);
	if ((rv = nng_listener_create(&r->listener, r->sock, c->listen)) != 0)
		return nng_fail(e, c->listen, rv);
	/* Up to twice the limit is read and answered RESOURCE_EXHAUSTED with a
	 * reason; beyond that nng drops the connection unread. */
	if ((rv = nng_listener_set_size(r->listener, NNG_OPT_RECVMAXSZ, 2 * c->max_message_bytes)) != 0)
		return nng_fail(e, "setting the message size cap", rv);
	if ((code = setup_tls(r, e)) != SBXD_OK)
		return code;
	if ((code = connlimit_attach(r->sock, "rpc", c->max_connections,
	    c->max_connections_per_address, &r->srv->rpc_conns, e)) != SBXD_OK)
		return code;
	if ((rv = nng_listener_start(r->listener, 0)) != 0)
		return nng_fail(e, c->listen, rv);
	return SBXD_OK;
}

sbxd_code
rpc_server_start(struct server *srv, struct rpc_server **out, struct err *e)
{
	struct rpc_server *r;
	sbxd_code rv;

	dispatch_init();
	method_field = protobuf_c_message_descriptor_get_field_by_name(
	    &sbx__v1__request__descriptor, "method")->id;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	r->srv = srv;
	r->sock = (nng_socket)NNG_SOCKET_INITIALIZER;
	pthread_rwlock_init(&r->close_lock, NULL);
	if ((rv = worker_pool_new(srv->cfg->workers, &r->pool, e)) != SBXD_OK) {
		free(r);
		return rv;
	}
	if ((rv = worker_pool_new(srv->cfg->command_workers, &r->long_pool, e)) != SBXD_OK) {
		worker_pool_free(r->pool);
		free(r);
		return rv;
	}
	if (srv->cfg->contexts < srv->cfg->workers + srv->cfg->command_workers)
		log_warnx("contexts (%d) is below workers + command_workers (%d): short calls "
		    "may wait for a context behind long ones", srv->cfg->contexts,
		    srv->cfg->workers + srv->cfg->command_workers);
	if ((rv = open_socket(r, e)) != SBXD_OK)
		goto fail;
	if ((r->ctxs = calloc((size_t)srv->cfg->contexts, sizeof(*r->ctxs))) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory");
		goto fail;
	}
	for (int i = 0; i < srv->cfg->contexts; i++) {
		struct rpc_ctx *x = &r->ctxs[i];

		x->r = r;
		pthread_mutex_init(&x->mu, NULL);
		if (nng_aio_alloc(&x->aio, ctx_cb, x) != 0 || nng_ctx_open(&x->ctx, r->sock) != 0) {
			rv = err_set(e, SBXD_INTERNAL, "cannot open nng context %d", i);
			goto fail;
		}
		r->nctx++;
		x->state = CTX_RECV;
		nng_ctx_recv(x->ctx, x->aio);
	}
	log_info("listening on %s (%d contexts, %d + %d command workers, messages up to %zu "
	    "bytes, %d connections, %d per address)", srv->cfg->listen, srv->cfg->contexts,
	    srv->cfg->workers, srv->cfg->command_workers, srv->cfg->max_message_bytes,
	    srv->cfg->max_connections,
	    srv->cfg->max_connections_per_address);
	*out = r;
	return SBXD_OK;
fail:
	rpc_server_stop(r, 0);
	return rv;
}

/* Waits until no call is in flight or until the monotonic time end_us;
 * returns how many are still in flight. */
static int
wait_inflight(struct rpc_server *r, uint64_t end_us)
{
	while (atomic_load(&r->inflight) > 0 && mono_us() < end_us)
		usleep(10000);
	return atomic_load(&r->inflight);
}

/* Answers every call still on a worker UNAVAILABLE in its stead (the
 * worker's own reply is then dropped) and waits, up to RPC_ANSWER_WAIT_MS,
 * for those answers to be handed to nng; returns how many it answered. */
static int
answer_stuck(struct rpc_server *r)
{
	uint64_t end = mono_us() + RPC_ANSWER_WAIT_MS * 1000;
	size_t rlen;
	void *reply;
	int n = 0;

	for (int i = 0; i < r->nctx; i++) {
		struct rpc_ctx *x = &r->ctxs[i];

		pthread_mutex_lock(&x->mu);
		if (x->working && !x->answered && x->msg != NULL) {
			reply = refusal(x, "sbxd is stopping; the call was still running and was "
			    "abandoned: it may or may not have taken effect",
			    "sbx.v1.SandboxService/Execute",
			    "sbxd is stopping; the command kept running (it could not be killed)", &rlen);
			x->answered = 1;
			ctx_send_reply(x, reply, rlen);
			n++;
		}
		pthread_mutex_unlock(&x->mu);
	}
	for (int i = 0; i < r->nctx && mono_us() < end; i++)
		while (r->ctxs[i].answered && r->ctxs[i].state == CTX_SEND && mono_us() < end)
			usleep(1000);
	return n;
}

int
rpc_server_stop(struct rpc_server *r, int drain_ms)
{
	uint64_t t0 = mono_us(), kill_ms = (uint64_t)drain_ms / 3 < RPC_KILL_BEFORE_MS ?
	    (uint64_t)drain_ms / 3 : RPC_KILL_BEFORE_MS;
	int left = 0;

	if (r == NULL)
		return 0;
	atomic_store(&r->draining, 1);
	if (drain_ms > 0 && wait_inflight(r, t0 + ((uint64_t)drain_ms - kill_ms) * 1000) > 0) {
		log_warnx("%d calls still running; killing foreground commands",
		    atomic_load(&r->inflight));
		if (r->srv->drv != NULL && r->srv->drv->ops->drain != NULL)
			r->srv->drv->ops->drain(r->srv->drv);
		if ((left = wait_inflight(r, t0 + (uint64_t)drain_ms * 1000)) > 0)
			log_warnx("%d calls still running after drain (%d ms); answered UNAVAILABLE",
			    answer_stuck(r), drain_ms);
	}
	pthread_rwlock_wrlock(&r->close_lock);
	r->closed = 1;
	nng_close(r->sock);
	pthread_rwlock_unlock(&r->close_lock);
	connlimit_log(r->srv->rpc_conns);
	connlimit_free(r->srv->rpc_conns);   /* after the close: no callback runs now */
	r->srv->rpc_conns = NULL;
	if ((left = atomic_load(&r->inflight)) > 0)
		return left;    /* workers still use r: it stays for the exit */
	worker_pool_free(r->pool);
	worker_pool_free(r->long_pool);
	for (int i = 0; i < r->nctx; i++) {
		nng_aio_stop(r->ctxs[i].aio);
		nng_aio_free(r->ctxs[i].aio);
		pthread_mutex_destroy(&r->ctxs[i].mu);
	}
	pthread_rwlock_destroy(&r->close_lock);
	free(r->ctxs);
	free(r);
	return 0;
}
