/*
 * test_libsbx.c — libsbx against an in-process fake server over real TCP.
 *
 * The fake server is a rep0 socket on tcp://127.0.0.1:<kernel-chosen port>
 * served by a few threads, each with its own nng context, so replies can
 * come back out of order. Each test installs a handler that sees the
 * decoded Request (and the raw bytes) and returns the raw reply to send,
 * or nothing to stay silent. What the server saw last is kept for the
 * test to check. Timing is only ever used as an upper bound for "did not
 * hang", with generous slack.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "sbx.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"

#define FAKE_THREADS 4
#define FAKE_RECV_MAX (16u << 20)   /* room for 1 MiB upload chunks */

struct reply {
	uint8_t *data;   /* malloc'd; NULL = send nothing */
	size_t len;
};

typedef struct reply (*handler_fn)(const Sbx__V1__Request *req);

struct fake {
	nng_socket sock;
	pthread_t th[FAKE_THREADS];
	/* Opened before the threads start: nng 1.5.2 can hang in nng_close
	 * when a context is being opened at the same moment. */
	nng_ctx ctx[FAKE_THREADS];
	nng_aio *aio[FAKE_THREADS];
	atomic_int next_slot;
	char url[64];
	handler_fn handler;
	atomic_int requests;
	/* A reply is sent under a read lock that fake_stop takes for writing
	 * around nng_close: nng 1.5.2 panics when nng_ctx_send races it. */
	pthread_rwlock_t closing;
	int closed;
	pthread_mutex_t mu;
	Sbx__V1__Request *last;   /* the last decoded request */
};

static struct fake *g_fake;

/* ---------------------------------------------------------------- reply helpers */

static struct reply
pack_response(const char *request_id, int code, const char *message,
    const ProtobufCMessage *payload)
{
	Sbx__V1__Response r = SBX__V1__RESPONSE__INIT;
	Sbx__V1__Status st = SBX__V1__STATUS__INIT;
	struct reply out = { NULL, 0 };
	uint8_t *p = NULL;

	r.request_id = (char *)request_id;
	st.code = code;
	st.message = (char *)message;
	r.status = &st;
	if (payload != NULL) {
		r.payload.len = protobuf_c_message_get_packed_size(payload);
		p = malloc(r.payload.len + 1);
		protobuf_c_message_pack(payload, p);
		r.payload.data = p;
	}
	out.len = sbx__v1__response__get_packed_size(&r);
	out.data = malloc(out.len + 1);
	sbx__v1__response__pack(&r, out.data);
	free(p);
	return out;
}

static struct reply
ok(const Sbx__V1__Request *req, const ProtobufCMessage *payload)
{
	return pack_response(req->request_id, 0, "", payload);
}

static struct reply
raw(const void *p, size_t n)
{
	struct reply r = { malloc(n + 1), n };

	memcpy(r.data, p, n);
	return r;
}

/* ---------------------------------------------------------------- the fake server */

static void
serve_one(struct fake *f, nng_msg *m, nng_ctx ctx, nng_aio *aio)
{
	Sbx__V1__Request *req;
	struct reply r = { NULL, 0 };

	req = sbx__v1__request__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	if (req == NULL)
		return;
	atomic_fetch_add(&f->requests, 1);
	if (f->handler != NULL)
		r = f->handler(req);
	pthread_mutex_lock(&f->mu);
	if (f->last != NULL)
		sbx__v1__request__free_unpacked(f->last, NULL);
	f->last = req;
	pthread_mutex_unlock(&f->mu);
	if (r.data == NULL)
		return;
	nng_msg_alloc(&m, 0);
	nng_msg_append(m, r.data, r.len);
	free(r.data);
	nng_aio_set_msg(aio, m);
	pthread_rwlock_rdlock(&f->closing);
	if (f->closed) {
		nng_msg_free(m);
	} else {
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			nng_msg_free(nng_aio_get_msg(aio));
	}
	pthread_rwlock_unlock(&f->closing);
}

static void *
fake_thread(void *arg)
{
	struct fake *f = arg;
	int slot = atomic_fetch_add(&f->next_slot, 1);
	nng_ctx ctx = f->ctx[slot];
	nng_aio *aio = f->aio[slot];

	for (;;) {
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			break;
		serve_one(f, nng_aio_get_msg(aio), ctx, aio);
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return NULL;
}

/* Starts a fake server on scheme://127.0.0.1:<free port>; tls may be NULL. */
static struct fake *
fake_start_on(handler_fn h, const char *scheme, nng_tls_config *tls)
{
	struct fake *f = calloc(1, sizeof(*f));
	nng_listener l;
	char url[64];
	int port = 0;

	f->handler = h;
	pthread_mutex_init(&f->mu, NULL);
	pthread_rwlock_init(&f->closing, NULL);
	snprintf(url, sizeof(url), "%s://127.0.0.1:0", scheme);
	if (nng_rep0_open(&f->sock) != 0 ||
	    nng_listener_create(&l, f->sock, url) != 0 ||
	    nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, FAKE_RECV_MAX) != 0 ||
	    (tls != NULL && nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls) != 0) ||
	    nng_listener_start(l, 0) != 0 ||
	    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0) {
		fprintf(stderr, "fake server: cannot listen on %s\n", url);
		exit(1);
	}
	snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%d", scheme, port);
	for (int i = 0; i < FAKE_THREADS; i++)
		if (nng_ctx_open(&f->ctx[i], f->sock) != 0 || nng_aio_alloc(&f->aio[i], NULL, NULL) != 0) {
			fprintf(stderr, "fake server: cannot open a context\n");
			exit(1);
		}
	for (int i = 0; i < FAKE_THREADS; i++)
		pthread_create(&f->th[i], NULL, fake_thread, f);
	g_fake = f;
	return f;
}

static struct fake *
fake_start(handler_fn h)
{
	return fake_start_on(h, "tcp", NULL);
}

static void
fake_stop(struct fake *f)
{
	pthread_rwlock_wrlock(&f->closing);
	f->closed = 1;
	nng_close(f->sock);
	pthread_rwlock_unlock(&f->closing);
	for (int i = 0; i < FAKE_THREADS; i++)
		pthread_join(f->th[i], NULL);
	if (f->last != NULL)
		sbx__v1__request__free_unpacked(f->last, NULL);
	pthread_mutex_destroy(&f->mu);
	pthread_rwlock_destroy(&f->closing);
	free(f);
	g_fake = NULL;
}

static sbx_client *
open_client(const char *url, int timeout_ms)
{
	sbx_options o = { .endpoint = url, .service_key = "key-1",
	    .session_token = "tok-1", .timeout_ms = timeout_ms };
	sbx_client *c = NULL;

	if (sbx_client_open(&o, &c) != SBX_OK)
		fprintf(stderr, "open: %s\n", sbx_last_error(NULL));
	return c;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- handlers */

static void
fill_session(Sbx__V1__Session *s, const char *id, const char *user)
{
	s->session_id = (char *)id;
	s->user_id = (char *)user;
	s->runtime = "python";
	s->container_id = "c0ffee";
	s->workspace_path = "/var/lib/sbx/ws/alice";
	s->state = SBX__V1__SESSION_STATE__SESSION_STATE_RUNNING;
	s->created_unix_ms = 1700000000000ull;
	s->idle_timeout_ms = 900000;
}

/* Answers GetSession with a session whose user_id is the requested id, so
 * each caller can tell its own answer; everything else as CreateSession. */
static struct reply
h_sessions(const Sbx__V1__Request *req)
{
	Sbx__V1__Session s = SBX__V1__SESSION__INIT;
	Sbx__V1__Limits lim = SBX__V1__LIMITS__INIT;
	Sbx__V1__Label l1 = SBX__V1__LABEL__INIT, l2 = SBX__V1__LABEL__INIT;
	Sbx__V1__Label *labels[] = { &l1, &l2 };

	fill_session(&s, "s-123", "alice");
	lim.memory_bytes = 512u << 20;
	lim.pids = 256;
	s.limits = &lim;
	l1.key = "team";
	l1.value = "red";
	l2.key = "env";
	l2.value = "";
	s.labels = labels;
	s.n_labels = 2;
	if (strcmp(req->method, "sbx.v1.SessionService/GetSession") == 0) {
		Sbx__V1__GetSessionRequest *g = sbx__v1__get_session_request__unpack(
		    NULL, req->payload.len, req->payload.data);
		Sbx__V1__GetSessionResponse r = SBX__V1__GET_SESSION_RESPONSE__INIT;
		struct reply out;

		s.user_id = g ? g->session_id : "?";
		r.session = &s;
		if (g != NULL && strstr(g->session_id, "slow") != NULL)
			usleep(1000 * (rand() % 5));
		out = ok(req, &r.base);
		sbx__v1__get_session_request__free_unpacked(g, NULL);
		return out;
	}
	if (strcmp(req->method, "sbx.v1.SessionService/GetOrCreateSession") == 0) {
		Sbx__V1__GetOrCreateSessionResponse r = SBX__V1__GET_OR_CREATE_SESSION_RESPONSE__INIT;
		r.session = &s;
		return ok(req, &r.base);     /* found: not created, no token */
	}
	if (strcmp(req->method, "sbx.v1.SessionService/EndSession") == 0) {
		Sbx__V1__EndSessionResponse r = SBX__V1__END_SESSION_RESPONSE__INIT;
		return ok(req, &r.base);
	}
	Sbx__V1__CreateSessionResponse r = SBX__V1__CREATE_SESSION_RESPONSE__INIT;
	r.session = &s;
	r.session_token = "secret-token";
	return ok(req, &r.base);
}

static struct reply
h_exec(const Sbx__V1__Request *req)
{
	static const uint8_t out[] = { 'h', 'i', 0, 'x', '\n' };
	Sbx__V1__ExecuteResponse r = SBX__V1__EXECUTE_RESPONSE__INIT;

	r.exit_code = 3;
	r.stdout.data = (uint8_t *)out;
	r.stdout.len = sizeof(out);
	r.stderr.data = (uint8_t *)"oops\n";
	r.stderr.len = 5;
	r.output.data = (uint8_t *)"hi";
	r.output.len = 2;
	r.truncated = 1;
	r.duration_ms = 42;
	return ok(req, &r.base);
}

static struct reply
h_not_found(const Sbx__V1__Request *req)
{
	return pack_response(req->request_id, SBX__V1__CODE__NOT_FOUND,
	    "session s-404 not found: list sessions with sbx session list", NULL);
}

static struct reply
h_wrong_id(const Sbx__V1__Request *req)
{
	Sbx__V1__GetSessionResponse r = SBX__V1__GET_SESSION_RESPONSE__INIT;

	return pack_response("not-your-id", 0, "", &r.base);
}

static struct reply
h_undecodable(const Sbx__V1__Request *req)
{
	return pack_response("", SBX__V1__CODE__INVALID_ARGUMENT,
	    "request envelope does not decode", NULL);
}

static struct reply
h_garbage(const Sbx__V1__Request *req)
{
	return raw("\xff\xff\xff\xff\x0f garbage", 14);
}

static struct reply
h_bad_payload(const Sbx__V1__Request *req)
{
	Sbx__V1__Response r = SBX__V1__RESPONSE__INIT;
	struct reply out;

	r.request_id = req->request_id;
	r.payload.data = (uint8_t *)"\x0a\xff\xff\xff\xff\x0f";
	r.payload.len = 6;
	out.len = sbx__v1__response__get_packed_size(&r);
	out.data = malloc(out.len);
	sbx__v1__response__pack(&r, out.data);
	return out;
}

static struct reply
h_silent(const Sbx__V1__Request *req)
{
	return (struct reply){ NULL, 0 };
}

static struct reply
h_huge(const Sbx__V1__Request *req)
{
	Sbx__V1__ReadBytesResponse r = SBX__V1__READ_BYTES_RESPONSE__INIT;
	static uint8_t big[200000];
	struct reply out;

	r.data.data = big;
	r.data.len = sizeof(big);
	out = ok(req, &r.base);
	return out;
}

/* UNAVAILABLE to the first two tries of a call, then the session; records
 * the request ids it saw. */
static char flaky_ids[3][64];
static atomic_int flaky_n;

static struct reply
h_flaky(const Sbx__V1__Request *req)
{
	int n = atomic_fetch_add(&flaky_n, 1);

	if (n < 3)
		snprintf(flaky_ids[n], sizeof(flaky_ids[n]), "%s", req->request_id);
	if (n < 2)
		return pack_response(req->request_id, SBX__V1__CODE__UNAVAILABLE,
		    "sbxd is shutting down; retry against the restarted server", NULL);
	return h_sessions(req);
}

static struct reply
h_echo(const Sbx__V1__Request *req)
{
	Sbx__V1__Response r = SBX__V1__RESPONSE__INIT;
	struct reply out;

	r.request_id = req->request_id;
	r.payload = req->payload;
	out.len = sbx__v1__response__get_packed_size(&r);
	out.data = malloc(out.len);
	sbx__v1__response__pack(&r, out.data);
	return out;
}

static struct reply
h_files(const Sbx__V1__Request *req)
{
	if (strcmp(req->method, "sbx.v1.SandboxService/Write") == 0) {
		Sbx__V1__WriteResponse r = SBX__V1__WRITE_RESPONSE__INIT;
		return ok(req, &r.base);
	}
	if (strcmp(req->method, "sbx.v1.SandboxService/Read") == 0) {
		Sbx__V1__ReadResponse r = SBX__V1__READ_RESPONSE__INIT;
		r.content.data = (uint8_t *)"     1\thello\n";
		r.content.len = 13;
		return ok(req, &r.base);
	}
	Sbx__V1__ReadBytesResponse r = SBX__V1__READ_BYTES_RESPONSE__INIT;
	r.data.data = (uint8_t *)"\x00\x01\x02";
	r.data.len = 3;
	r.eof = 1;
	return ok(req, &r.base);
}

static struct reply
h_list(const Sbx__V1__Request *req)
{
	Sbx__V1__ListSessionsResponse r = SBX__V1__LIST_SESSIONS_RESPONSE__INIT;
	Sbx__V1__Session a = SBX__V1__SESSION__INIT, b = SBX__V1__SESSION__INIT;
	Sbx__V1__Session *v[] = { &a, &b };

	fill_session(&a, "s-1", "alice");
	fill_session(&b, "s-2", "bob");
	r.sessions = v;
	r.n_sessions = 2;
	r.next_page_token = "page-2";
	return ok(req, &r.base);
}

/* Copies what the fake server saw last; free with ..._free_unpacked. */
static Sbx__V1__Request *
last_request(void)
{
	Sbx__V1__Request *r = NULL;
	uint8_t *buf;
	size_t n;

	pthread_mutex_lock(&g_fake->mu);
	if (g_fake->last != NULL) {
		n = sbx__v1__request__get_packed_size(g_fake->last);
		if ((buf = malloc(n + 1)) != NULL) {
			sbx__v1__request__pack(g_fake->last, buf);
			r = sbx__v1__request__unpack(NULL, n, buf);
			free(buf);
		}
	}
	pthread_mutex_unlock(&g_fake->mu);
	return r;
}

/* ---------------------------------------------------------------- tests */

static int
is_hex32(const char *s)
{
	size_t n = strlen(s);

	return n == 32 && strspn(s, "0123456789abcdef") == n;
}

TEST(envelope_fields)
{
	struct fake *f = fake_start(h_sessions);
	sbx_client *c = open_client(f->url, 5000);
	sbx_session s;
	Sbx__V1__Request *r;
	char first_id[64];
	uint64_t before = wall_ms();

	REQUIRE(c != NULL);
	REQUIRE_INT(sbx_session_get(c, "s-1", &s), SBX_OK);
	CHECK_STR(sbx_last_error(c), "");
	sbx_session_fini(&s);
	REQUIRE((r = last_request()) != NULL);
	CHECK_STR(r->method, "sbx.v1.SessionService/GetSession");
	CHECK(is_hex32(r->request_id));
	REQUIRE(r->credentials != NULL);
	CHECK_STR(r->credentials->service_key, "key-1");
	CHECK_STR(r->credentials->session_token, "tok-1");
	CHECK(r->deadline_unix_ms >= before + 5000);
	CHECK(r->deadline_unix_ms <= wall_ms() + 5000);
	snprintf(first_id, sizeof(first_id), "%s", r->request_id);
	sbx__v1__request__free_unpacked(r, NULL);

	REQUIRE_INT(sbx_session_get(c, "s-1", &s), SBX_OK);
	sbx_session_fini(&s);
	REQUIRE((r = last_request()) != NULL);
	CHECK(is_hex32(r->request_id));
	CHECK(strcmp(r->request_id, first_id) != 0);
	sbx__v1__request__free_unpacked(r, NULL);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(no_timeout_means_no_deadline)
{
	struct fake *f = fake_start(h_sessions);
	sbx_client *c = open_client(f->url, SBX_TIMEOUT_NONE);
	sbx_session s;
	Sbx__V1__Request *r;

	REQUIRE(c != NULL);
	REQUIRE_INT(sbx_session_get(c, "s-1", &s), SBX_OK);
	sbx_session_fini(&s);
	REQUIRE((r = last_request()) != NULL);
	CHECK_INT(r->deadline_unix_ms, 0);
	sbx__v1__request__free_unpacked(r, NULL);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(create_session_decodes)
{
	struct fake *f = fake_start(h_sessions);
	sbx_client *c = open_client(f->url, 5000);
	sbx_label labels[] = { { "team", "red" } };
	sbx_session_create_opts o = { .user_id = "alice", .runtime = "python",
	    .labels = labels, .n_labels = 1, .limits = { .pids = 64 } };
	Sbx__V1__CreateSessionRequest *cr;
	Sbx__V1__Request *r;
	sbx_session s;
	char *token = NULL;

	REQUIRE(c != NULL);
	REQUIRE_INT(sbx_session_create(c, &o, &s, &token), SBX_OK);
	CHECK_STR(s.session_id, "s-123");
	CHECK_STR(s.user_id, "alice");
	CHECK_STR(s.runtime, "python");
	CHECK_STR(s.container_id, "c0ffee");
	CHECK_STR(s.stop_reason, "");
	CHECK_INT(s.state, SBX_SESSION_RUNNING);
	CHECK_STR(sbx_session_state_name(s.state), "RUNNING");
	CHECK_INT(s.created_unix_ms, 1700000000000ll);
	CHECK_INT(s.limits.memory_bytes, 512 << 20);
	CHECK_INT(s.limits.pids, 256);
	REQUIRE_INT(s.n_labels, 2);
	CHECK_STR(s.labels[0].key, "team");
	CHECK_STR(s.labels[1].value, "");
	CHECK_STR(token, "secret-token");
	sbx_session_fini(&s);
	sbx_free(token);
	CHECK(s.session_id == NULL);

	REQUIRE((r = last_request()) != NULL);
	CHECK_STR(r->method, "sbx.v1.SessionService/CreateSession");
	cr = sbx__v1__create_session_request__unpack(NULL, r->payload.len, r->payload.data);
	REQUIRE(cr != NULL);
	CHECK_STR(cr->user_id, "alice");
	CHECK_STR(cr->runtime, "python");
	REQUIRE_INT(cr->n_labels, 1);
	CHECK_STR(cr->labels[0]->key, "team");
	CHECK_INT(cr->limits->pids, 64);
	sbx__v1__create_session_request__free_unpacked(cr, NULL);
	sbx__v1__request__free_unpacked(r, NULL);

	int created = -1;
	token = (char *)"stale";
	REQUIRE_INT(sbx_session_get_or_create(c, &o, &s, &created, &token), SBX_OK);
	CHECK_STR(s.session_id, "s-123");
	CHECK_INT(created, 0);
	CHECK(token == NULL);
	sbx_session_fini(&s);
	CHECK_INT(sbx_session_end(c, "s-123", 1), SBX_OK);
	REQUIRE((r = last_request()) != NULL);
	Sbx__V1__EndSessionRequest *endr = sbx__v1__end_session_request__unpack(
	    NULL, r->payload.len, r->payload.data);
	REQUIRE(endr != NULL);
	CHECK_STR(endr->session_id, "s-123");
	CHECK(endr->purge);
	sbx__v1__end_session_request__free_unpacked(endr, NULL);
	sbx__v1__request__free_unpacked(r, NULL);
	CHECK_INT(sbx_session_create(c, &(sbx_session_create_opts){ .user_id = "" },
	    &s, NULL), SBX_INVALID_ARGUMENT);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(exec_decodes_and_stretches_deadline)
{
	struct fake *f = fake_start(h_exec);
	sbx_client *c = open_client(f->url, 1000);
	const char *env[] = { "A=1", "B=x=y" };
	sbx_exec_opts o = { .command = "echo hi", .timeout_ms = 60000,
	    .cwd = "/workspace/src", .env = env, .n_env = 2,
	    .stdin_data = "in", .stdin_len = 2 };
	Sbx__V1__ExecuteRequest *er;
	Sbx__V1__Request *r;
	sbx_exec_result res;
	uint64_t before = wall_ms();

	REQUIRE(c != NULL);
	REQUIRE_INT(sbx_exec(c, "s-1", &o, &res), SBX_OK);
	CHECK_INT(res.exit_code, 3);
	REQUIRE_INT(res.out.len, 5);
	CHECK(memcmp(res.out.data, "hi\0x\n", 5) == 0);
	CHECK_INT(res.out.data[5], 0);
	CHECK_STR((char *)res.err.data, "oops\n");
	CHECK_STR((char *)res.output.data, "hi");
	CHECK(res.truncated);
	CHECK(!res.timed_out);
	CHECK_INT(res.duration_ms, 42);
	sbx_exec_result_fini(&res);

	REQUIRE((r = last_request()) != NULL);
	CHECK_STR(r->method, "sbx.v1.SandboxService/Execute");
	/* the 1 s client timeout is stretched past the command's 60 s */
	CHECK(r->deadline_unix_ms >= before + 60000);
	er = sbx__v1__execute_request__unpack(NULL, r->payload.len, r->payload.data);
	REQUIRE(er != NULL);
	CHECK_STR(er->session_id, "s-1");
	CHECK_STR(er->command, "echo hi");
	CHECK_STR(er->cwd, "/workspace/src");
	CHECK_INT(er->timeout_ms, 60000);
	REQUIRE_INT(er->n_env, 2);
	CHECK_STR(er->env[0]->name, "A");
	CHECK_STR(er->env[0]->value, "1");
	CHECK_STR(er->env[1]->name, "B");
	CHECK_STR(er->env[1]->value, "x=y");
	CHECK_INT(er->stdin.len, 2);
	sbx__v1__execute_request__free_unpacked(er, NULL);
	sbx__v1__request__free_unpacked(r, NULL);

	env[1] = "=bad";
	CHECK_INT(sbx_exec(c, "s-1", &o, &res), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(c), "NAME=value");
	CHECK_INT(atomic_load(&f->requests), 1);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(error_status_maps)
{
	struct fake *f = fake_start(h_not_found);
	sbx_client *c = open_client(f->url, 5000);
	sbx_session s;

	REQUIRE(c != NULL);
	CHECK_INT(sbx_session_get(c, "s-404", &s), SBX_NOT_FOUND);
	CHECK_STR(sbx_last_error(c), "session s-404 not found: list sessions with sbx session list");
	CHECK(s.session_id == NULL);
	CHECK_STR(sbx_err_name(SBX_NOT_FOUND), "NOT_FOUND");
	CHECK_STR(sbx_err_name(SBX_UNAUTHENTICATED), "UNAUTHENTICATED");
	CHECK_STR(sbx_err_name((sbx_err)99), "UNKNOWN_CODE");
	sbx_client_close(c);
	fake_stop(f);
}

TEST(mismatched_request_id)
{
	struct fake *f = fake_start(h_wrong_id);
	sbx_client *c = open_client(f->url, 5000);
	sbx_session s;

	REQUIRE(c != NULL);
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_INTERNAL);
	CHECK_CONTAINS(sbx_last_error(c), "request id");
	/* an error from a server that could not read the id stands */
	f->handler = h_undecodable;
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_INVALID_ARGUMENT);
	CHECK_STR(sbx_last_error(c), "request envelope does not decode");
	sbx_client_close(c);
	fake_stop(f);
}

TEST(garbage_replies)
{
	struct fake *f = fake_start(h_garbage);
	sbx_client *c = open_client(f->url, 5000);
	sbx_session s;

	REQUIRE(c != NULL);
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_INTERNAL);
	CHECK_CONTAINS(sbx_last_error(c), "undecodable reply");
	f->handler = h_bad_payload;
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_INTERNAL);
	CHECK_CONTAINS(sbx_last_error(c), "GetSessionResponse");
	sbx_client_close(c);
	fake_stop(f);
}

TEST(server_not_listening)
{
	struct fake *f = fake_start(NULL);
	char url[64];
	sbx_options o = { .timeout_ms = 5000, .connect_timeout_ms = 300 };
	sbx_client *c = NULL;
	sbx_session s;
	uint64_t t0;
	sbx_err rv;

	/* a port that was just free */
	snprintf(url, sizeof(url), "%s", f->url);
	fake_stop(f);
	o.endpoint = url;
	REQUIRE_INT(sbx_client_open(&o, &c), SBX_OK);
	t0 = mono_ms();
	rv = sbx_session_get(c, "s-1", &s);
	CHECK_INT(rv, SBX_UNAVAILABLE);
	CHECK_CONTAINS(sbx_last_error(c), "no connection");
	CHECK(mono_ms() - t0 < 4000);
	sbx_client_close(c);

	/* the call deadline is shorter than the connect wait */
	o.timeout_ms = 200;
	o.connect_timeout_ms = 10000;
	REQUIRE_INT(sbx_client_open(&o, &c), SBX_OK);
	t0 = mono_ms();
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_DEADLINE_EXCEEDED);
	CHECK(mono_ms() - t0 < 4000);
	sbx_client_close(c);
}

TEST(silent_server_times_out)
{
	struct fake *f = fake_start(h_silent);
	sbx_client *c = open_client(f->url, 300);
	sbx_session s;
	uint64_t t0 = mono_ms();

	REQUIRE(c != NULL);
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_DEADLINE_EXCEEDED);
	CHECK(mono_ms() - t0 < 4000);
	CHECK_INT(atomic_load(&f->requests), 1);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(reply_over_max_size)
{
	struct fake *f = fake_start(h_huge);
	sbx_options o = { .endpoint = f->url, .timeout_ms = 3000,
	    .max_reply_bytes = 4096 };
	sbx_client *c = NULL;
	void *data = (void *)1;
	size_t len = 7;

	REQUIRE_INT(sbx_client_open(&o, &c), SBX_OK);
	CHECK_INT(sbx_read_bytes(c, "s-1", "/big", 0, 0, &data, &len), SBX_UNAVAILABLE);
	CHECK_CONTAINS(sbx_last_error(c), "max_reply_bytes");
	CHECK(data == NULL);
	CHECK_INT(len, 0);
	/* libsbx retried the lost reply a bounded number of times (4, its
	 * RETRY_ATTEMPTS) and nng resent nothing on its own */
	usleep(500 * 1000);
	CHECK_INT(atomic_load(&f->requests), 4);
	sbx_client_close(c);
	fake_stop(f);
}

/* A call answered UNAVAILABLE is tried again with the same request id. */
TEST(unavailable_is_retried_with_the_same_id)
{
	struct fake *f = fake_start(h_flaky);
	sbx_client *c = open_client(f->url, 30000);
	sbx_session s;

	REQUIRE(c != NULL);
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_OK);
	CHECK_INT(atomic_load(&f->requests), 3);
	CHECK(flaky_ids[0][0] != '\0');
	CHECK_STR(flaky_ids[1], flaky_ids[0]);
	CHECK_STR(flaky_ids[2], flaky_ids[0]);
	sbx_session_fini(&s);
	/* a new call gets a new id */
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_OK);
	sbx_session_fini(&s);
	pthread_mutex_lock(&f->mu);
	CHECK(strcmp(f->last->request_id, flaky_ids[0]) != 0);
	pthread_mutex_unlock(&f->mu);
	sbx_client_close(c);
	fake_stop(f);
}

struct worker {
	sbx_client *c;
	int idx;
	int wrong;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char id[64];
	sbx_session s;

	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "slow-%d-%d", w->idx, i);
		if (sbx_session_get(w->c, id, &s) != SBX_OK ||
		    strcmp(s.user_id, id) != 0)
			w->wrong++;
		sbx_session_fini(&s);
	}
	return NULL;
}

TEST(concurrent_calls_one_handle)
{
	struct fake *f = fake_start(h_sessions);
	sbx_client *c = open_client(f->url, 10000);
	struct worker w[4];
	pthread_t th[4];

	REQUIRE(c != NULL);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ c, i, 0 };
		pthread_create(&th[i], NULL, worker_run, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(w[i].wrong, 0);
	}
	CHECK_INT(atomic_load(&f->requests), 400);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(raw_call_round_trips)
{
	struct fake *f = fake_start(h_echo);
	sbx_client *c = open_client(f->url, 5000);
	void *resp = NULL;
	size_t n = 0;
	Sbx__V1__Request *r;

	REQUIRE(c != NULL);
	REQUIRE_INT(sbx_call_raw(c, "sbx.v1.SandboxService/Stat", "\x0a\x01x", 3,
	    &resp, &n), SBX_OK);
	REQUIRE_INT(n, 3);
	CHECK(memcmp(resp, "\x0a\x01x", 3) == 0);
	sbx_free(resp);
	REQUIRE((r = last_request()) != NULL);
	CHECK_STR(r->method, "sbx.v1.SandboxService/Stat");
	sbx__v1__request__free_unpacked(r, NULL);
	REQUIRE_INT(sbx_call_raw(c, "sbx.v1.SandboxService/Mkdir", NULL, 0,
	    &resp, &n), SBX_OK);
	CHECK(resp == NULL);
	CHECK_INT(n, 0);
	CHECK_INT(sbx_call_raw(c, "", NULL, 0, &resp, &n), SBX_INVALID_ARGUMENT);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(list_and_files)
{
	struct fake *f = fake_start(h_list);
	sbx_client *c = open_client(f->url, 5000);
	sbx_session_list_opts lo = { .user_id = "alice", .include_ended = 1,
	    .page_size = 2 };
	Sbx__V1__ListSessionsRequest *lr;
	Sbx__V1__WriteRequest *wr;
	Sbx__V1__Request *r;
	sbx_session *v = NULL;
	size_t n = 0;
	char *next = NULL, *text = NULL;
	void *data = NULL;

	REQUIRE(c != NULL);
	REQUIRE_INT(sbx_session_list(c, &lo, &v, &n, &next), SBX_OK);
	REQUIRE_INT(n, 2);
	CHECK_STR(v[1].user_id, "bob");
	CHECK_STR(next, "page-2");
	sbx_session_list_free(v, n);
	sbx_free(next);
	REQUIRE((r = last_request()) != NULL);
	lr = sbx__v1__list_sessions_request__unpack(NULL, r->payload.len, r->payload.data);
	REQUIRE(lr != NULL);
	CHECK_STR(lr->user_id, "alice");
	CHECK(lr->include_ended);
	CHECK_INT(lr->page_size, 2);
	sbx__v1__list_sessions_request__free_unpacked(lr, NULL);
	sbx__v1__request__free_unpacked(r, NULL);

	f->handler = h_files;
	REQUIRE_INT(sbx_write(c, "s-1", "a.txt", "abc", 3, 1), SBX_OK);
	REQUIRE((r = last_request()) != NULL);
	wr = sbx__v1__write_request__unpack(NULL, r->payload.len, r->payload.data);
	REQUIRE(wr != NULL);
	CHECK_STR(wr->path, "a.txt");
	CHECK_INT(wr->content.len, 3);
	CHECK(wr->append);
	sbx__v1__write_request__free_unpacked(wr, NULL);
	sbx__v1__request__free_unpacked(r, NULL);
	REQUIRE_INT(sbx_read(c, "s-1", "a.txt", 0, 0, &text), SBX_OK);
	CHECK_STR(text, "     1\thello\n");
	sbx_free(text);
	REQUIRE_INT(sbx_read_bytes(c, "s-1", "a.bin", 0, 0, &data, &n), SBX_OK);
	REQUIRE_INT(n, 3);
	CHECK(memcmp(data, "\0\1\2", 3) == 0);
	sbx_free(data);
	CHECK_INT(sbx_read(c, "", "a.txt", 0, 0, &text), SBX_INVALID_ARGUMENT);
	CHECK(text == NULL);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(bad_options)
{
	sbx_options o = { .endpoint = "tls+tcp://127.0.0.1:7410" };
	sbx_client *c = (sbx_client *)1;

	CHECK_INT(sbx_client_open(&o, &c), SBX_INVALID_ARGUMENT);
	CHECK(c == NULL);
	CHECK_CONTAINS(sbx_last_error(NULL), "tls_ca_file");
	o.endpoint = "bogus://x";
	CHECK_INT(sbx_client_open(&o, &c), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(NULL), "bogus://x");
	o.endpoint = "tls+tcp://127.0.0.1:7410";
	o.tls_ca_file = "/nonexistent/ca.pem";
	CHECK_INT(sbx_client_open(&o, &c), SBX_INVALID_ARGUMENT);
	CHECK(c == NULL);
}

/* A test CA and a server certificate for DNS name "sbx-test", ECDSA P-256,
 * valid 2000-2100; made with openssl for this test only. */
static const char test_ca_pem[] =
"-----BEGIN CERTIFICATE-----\n"
"MIIBXzCCAQWgAwIBAgIBATAKBggqhkjOPQQDAjAWMRQwEgYDVQQDDAtzYnggdGVz\n"
"dCBDQTAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowFjEUMBIGA1UE\n"
"AwwLc2J4IHRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQs3k3HHGHZ\n"
"Zz0Z374xfgbSniwa7OXDIt3WfGEd123lqzRuihd31LIEjEGLEFez9Nr60zN4kD/x\n"
"QWRVsg5v/W7Go0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwICBDAd\n"
"BgNVHQ4EFgQU4E/+QQ9/sEMDPezaSjw3p5TMpWAwCgYIKoZIzj0EAwIDSAAwRQIh\n"
"ALfZ8TyHOw1avs03GSSvZFYdVeyNs05Ke04V4i06gp5nAiATbffuySsgLbBjr7Ss\n"
"AxB1x2ueT8TGpDXUqOeQ0dyDhw==\n"
"-----END CERTIFICATE-----\n";
static const char test_srv_pem[] =
"-----BEGIN CERTIFICATE-----\n"
"MIIBezCCASKgAwIBAgIBAjAKBggqhkjOPQQDAjAWMRQwEgYDVQQDDAtzYnggdGVz\n"
"dCBDQTAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowEzERMA8GA1UE\n"
"AwwIc2J4LXRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQxuaOl+mbUdKxX\n"
"xwJ5YNLRRGiq0vV9lP+FUizIxTQ90mXyhGFfE36g+OZkDJH5PVaDmFJm5xjgF+gK\n"
"oHQEr3two2IwYDAJBgNVHRMEAjAAMBMGA1UdEQQMMAqCCHNieC10ZXN0MB0GA1Ud\n"
"DgQWBBRaT8wSZYoYgxTM5pZcuRKNyS1+pzAfBgNVHSMEGDAWgBTgT/5BD3+wQwM9\n"
"7NpKPDenlMylYDAKBggqhkjOPQQDAgNHADBEAiACkASD3Xeb73VNmBPd4/O6/8Tf\n"
"qXn5K5zjPUZOIo05HgIgbYk5/mKSeNUv1Kl2uS71LN1Pik7qDAiVP5uNCWICivQ=\n"
"-----END CERTIFICATE-----\n";
static const char test_srv_key[] =
"-----BEGIN PRIVATE KEY-----\n"
"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgj/VqTX+kHf1gm1+4\n"
"QGxNNQ1lJvSWy8bxrgwseFCl1T2hRANCAAQxuaOl+mbUdKxXxwJ5YNLRRGiq0vV9\n"
"lP+FUizIxTQ90mXyhGFfE36g+OZkDJH5PVaDmFJm5xjgF+gKoHQEr3tw\n"
"-----END PRIVATE KEY-----\n";

TEST(tls_endpoint)
{
	char ca_path[] = "/tmp/test_libsbx_ca_XXXXXX";
	nng_tls_config *srv = NULL;
	struct fake *f;
	sbx_options o = { .timeout_ms = 5000, .connect_timeout_ms = 3000,
	    .tls_server_name = "sbx-test" };
	sbx_client *c = NULL;
	sbx_session s;
	int fd;

	REQUIRE((fd = mkstemp(ca_path)) >= 0);
	REQUIRE(write(fd, test_ca_pem, strlen(test_ca_pem)) == (ssize_t)strlen(test_ca_pem));
	close(fd);
	REQUIRE_INT(nng_tls_config_alloc(&srv, NNG_TLS_MODE_SERVER), 0);
	REQUIRE_INT(nng_tls_config_own_cert(srv, test_srv_pem, test_srv_key, NULL), 0);
	f = fake_start_on(h_sessions, "tls+tcp", srv);
	o.endpoint = f->url;
	o.tls_ca_file = ca_path;
	REQUIRE_INT(sbx_client_open(&o, &c), SBX_OK);
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_OK);
	CHECK_STR(s.user_id, "s-1");
	sbx_session_fini(&s);
	sbx_client_close(c);

	/* a certificate for another name never yields a connection */
	o.tls_server_name = "not-sbx-test";
	o.connect_timeout_ms = 500;
	REQUIRE_INT(sbx_client_open(&o, &c), SBX_OK);
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_UNAVAILABLE);
	CHECK_INT(atomic_load(&f->requests), 1);
	sbx_client_close(c);
	fake_stop(f);
	nng_tls_config_free(srv);
	unlink(ca_path);
}

struct log_seen {
	pthread_mutex_t mu;
	int connected;
	int lines;
};

static void
test_logger(void *arg, sbx_log_level lvl, const char *msg)
{
	struct log_seen *ls = arg;

	pthread_mutex_lock(&ls->mu);
	ls->lines++;
	if (strstr(msg, "connected to") != NULL && lvl == SBX_LOG_INFO)
		ls->connected = 1;
	pthread_mutex_unlock(&ls->mu);
}

TEST(logger_sees_events)
{
	struct fake *f = fake_start(h_not_found);
	struct log_seen ls = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	sbx_options o = { .endpoint = f->url, .timeout_ms = 5000,
	    .logger = test_logger, .logger_arg = &ls, .log_level = SBX_LOG_DEBUG };
	sbx_client *c = NULL;
	sbx_session s;

	REQUIRE_INT(sbx_client_open(&o, &c), SBX_OK);
	CHECK_INT(sbx_session_get(c, "s-1", &s), SBX_NOT_FOUND);
	sbx_client_close(c);
	fake_stop(f);
	CHECK(ls.connected);
	CHECK(ls.lines >= 3);
}

/* ---------------------------------------------------------------- file calls */

#define MIB (1u << 20)

/* The payload of the last request, unpacked with d, if its method is
 * method; NULL otherwise. Free with protobuf_c_message_free_unpacked. */
static void *
last_payload(const char *method, const ProtobufCMessageDescriptor *d)
{
	Sbx__V1__Request *r = last_request();
	void *m = NULL;

	if (r != NULL && strcmp(r->method, method) == 0)
		m = protobuf_c_message_unpack(d, NULL, r->payload.len, r->payload.data);
	if (r != NULL)
		sbx__v1__request__free_unpacked(r, NULL);
	return m;
}

#define LAST(type, lower, method) \
	((type *)last_payload("sbx.v1.SandboxService/" method, &lower##__descriptor))
#define FREE_MSG(m) protobuf_c_message_free_unpacked(&(m)->base, NULL)

static int
method_is(const Sbx__V1__Request *req, const char *name)
{
	static const char svc[] = "sbx.v1.SandboxService/";

	return strncmp(req->method, svc, sizeof(svc) - 1) == 0 &&
	    strcmp(req->method + sizeof(svc) - 1, name) == 0;
}

static void
set_info(Sbx__V1__FileInfo *fi, const char *name, const char *path, int dir,
    uint64_t size)
{
	fi->name = (char *)name;
	fi->path = (char *)path;
	fi->is_dir = dir;
	fi->size = size;
	fi->mode = dir ? 0755 : 0644;
	fi->mtime_unix_ms = 1700000000123ll;
}

static struct reply
h_fs_listing(const Sbx__V1__Request *req)
{
	Sbx__V1__FileInfo a = SBX__V1__FILE_INFO__INIT, b = SBX__V1__FILE_INFO__INIT,
	    l = SBX__V1__FILE_INFO__INIT;
	Sbx__V1__FileInfo *v[] = { &a, &b, &l };

	set_info(&a, "src", "/workspace/src", 1, 4096);
	set_info(&b, "b.txt", "/workspace/b.txt", 0, 3);
	set_info(&l, "link", "/workspace/link", 0, 7);
	l.is_symlink = 1;
	if (method_is(req, "Ls")) {
		Sbx__V1__LsRequest *lr = sbx__v1__ls_request__unpack(NULL,
		    req->payload.len, req->payload.data);
		Sbx__V1__LsResponse r = SBX__V1__LS_RESPONSE__INIT;
		struct reply out;

		r.entries = v;
		r.n_entries = 3;
		r.truncated = lr != NULL && strcmp(lr->path, "big") == 0;
		out = ok(req, &r.base);
		sbx__v1__ls_request__free_unpacked(lr, NULL);
		return out;
	}
	if (method_is(req, "Glob")) {
		Sbx__V1__GlobResponse r = SBX__V1__GLOB_RESPONSE__INIT;
		r.files = v + 1;
		r.n_files = 2;
		r.truncated = 1;
		return ok(req, &r.base);
	}
	Sbx__V1__StatRequest *sr = sbx__v1__stat_request__unpack(NULL,
	    req->payload.len, req->payload.data);
	Sbx__V1__StatResponse r = SBX__V1__STAT_RESPONSE__INIT;
	struct reply out;

	r.exists = sr != NULL && strcmp(sr->path, "missing") != 0;
	r.info = r.exists ? &b : NULL;
	out = ok(req, &r.base);
	sbx__v1__stat_request__free_unpacked(sr, NULL);
	return out;
}

static struct reply
h_fs_grep(const Sbx__V1__Request *req)
{
	static const uint8_t line2[] = { 'x', 0, 'y' };
	Sbx__V1__GrepRequest *gr = sbx__v1__grep_request__unpack(NULL,
	    req->payload.len, req->payload.data);
	Sbx__V1__GrepResponse r = SBX__V1__GREP_RESPONSE__INIT;
	Sbx__V1__GrepMatch m1 = SBX__V1__GREP_MATCH__INIT, m2 = SBX__V1__GREP_MATCH__INIT;
	Sbx__V1__GrepMatch *mv[] = { &m1, &m2 };
	Sbx__V1__GrepCount c1 = SBX__V1__GREP_COUNT__INIT;
	Sbx__V1__GrepCount *cv[] = { &c1 };
	char *files[] = { "/workspace/a.py", "/workspace/b.py" };
	struct reply out;

	if (gr == NULL || gr->mode == SBX__V1__GREP_MODE__GREP_MODE_CONTENT) {
		m1.path = "/workspace/a.py";
		m1.line_number = 3;
		m1.line.data = (uint8_t *)"def foo():";
		m1.line.len = 10;
		m2.path = "/workspace/b.py";
		m2.line_number = 10;
		m2.line.data = (uint8_t *)line2;
		m2.line.len = sizeof(line2);
		r.matches = mv;
		r.n_matches = 2;
	} else if (gr->mode == SBX__V1__GREP_MODE__GREP_MODE_FILES_WITH_MATCHES) {
		r.files = files;
		r.n_files = 2;
	} else {
		c1.path = "/workspace/a.py";
		c1.count = 4;
		r.counts = cv;
		r.n_counts = 1;
		r.truncated = 1;
	}
	out = ok(req, &r.base);
	sbx__v1__grep_request__free_unpacked(gr, NULL);
	return out;
}

/* Ls, Stat, Glob and Grep answer with fixed data; the rest empty. */
static struct reply
h_fs(const Sbx__V1__Request *req)
{
	if (method_is(req, "Ls") || method_is(req, "Stat") || method_is(req, "Glob"))
		return h_fs_listing(req);
	if (method_is(req, "Grep"))
		return h_fs_grep(req);
	if (method_is(req, "Edit")) {
		Sbx__V1__EditResponse r = SBX__V1__EDIT_RESPONSE__INIT;
		r.occurrences = 3;
		return ok(req, &r.base);
	}
	Sbx__V1__MkdirResponse r = SBX__V1__MKDIR_RESPONSE__INIT;   /* all empty */
	return ok(req, &r.base);
}

TEST(ls_and_stat_decode)
{
	struct fake *f = fake_start(h_fs);
	sbx_client *c = open_client(f->url, 5000);
	Sbx__V1__LsRequest *lr;
	Sbx__V1__StatRequest *sr;
	sbx_file_info *v = (sbx_file_info *)1, fi;
	size_t n = 9;
	int exists = -1, truncated = -1;

	REQUIRE(c != NULL);
	REQUIRE_INT(sbx_ls(c, "s-1", "/workspace", &v, &n, &truncated), SBX_OK);
	REQUIRE_INT(n, 3);
	CHECK_INT(truncated, 0);
	CHECK_STR(v[0].name, "src");
	CHECK(v[0].is_dir);
	CHECK_INT(v[0].mode, 0755);
	CHECK_STR(v[1].path, "/workspace/b.txt");
	CHECK_INT(v[1].size, 3);
	CHECK_INT(v[1].mtime_unix_ms, 1700000000123ll);
	CHECK(!v[1].is_dir && !v[1].is_symlink);
	CHECK(v[2].is_symlink);
	sbx_file_info_list_free(v, n);
	REQUIRE((lr = LAST(Sbx__V1__LsRequest, sbx__v1__ls_request, "Ls")) != NULL);
	CHECK_STR(lr->session_id, "s-1");
	CHECK_STR(lr->path, "/workspace");
	FREE_MSG(lr);
	REQUIRE_INT(sbx_ls(c, "s-1", NULL, &v, &n, NULL), SBX_OK);   /* NULL = /workspace */
	sbx_file_info_list_free(v, n);
	REQUIRE((lr = LAST(Sbx__V1__LsRequest, sbx__v1__ls_request, "Ls")) != NULL);
	CHECK_STR(lr->path, "");
	FREE_MSG(lr);
	REQUIRE_INT(sbx_ls(c, "s-1", "big", &v, &n, &truncated), SBX_OK);
	CHECK_INT(n, 3);
	CHECK_INT(truncated, 1);
	sbx_file_info_list_free(v, n);
	REQUIRE_INT(sbx_ls(c, "s-1", "big", &v, &n, NULL), SBX_OK);   /* NULL is fine */
	sbx_file_info_list_free(v, n);

	REQUIRE_INT(sbx_stat(c, "s-1", "b.txt", &exists, &fi), SBX_OK);
	CHECK_INT(exists, 1);
	CHECK_STR(fi.name, "b.txt");
	CHECK_INT(fi.mode, 0644);
	sbx_file_info_fini(&fi);
	CHECK(fi.name == NULL);
	REQUIRE((sr = LAST(Sbx__V1__StatRequest, sbx__v1__stat_request, "Stat")) != NULL);
	CHECK_STR(sr->path, "b.txt");
	FREE_MSG(sr);
	REQUIRE_INT(sbx_stat(c, "s-1", "missing", &exists, &fi), SBX_OK);
	CHECK_INT(exists, 0);
	CHECK(fi.name == NULL && fi.path == NULL);
	CHECK_INT(sbx_stat(c, "s-1", "missing", NULL, &fi), SBX_NOT_FOUND);
	CHECK_CONTAINS(sbx_last_error(c), "does not exist");
	CHECK_INT(sbx_stat(c, "s-1", "", &exists, &fi), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_ls(c, "", "x", &v, &n, &truncated), SBX_INVALID_ARGUMENT);
	CHECK(v == NULL);
	CHECK_INT(n, 0);
	CHECK_INT(truncated, 0);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(changes_send_their_fields)
{
	static const uint8_t old_b[] = { 'a', 0, 'b' };
	struct fake *f = fake_start(h_fs);
	sbx_client *c = open_client(f->url, 5000);
	Sbx__V1__MkdirRequest *mr;
	Sbx__V1__RemoveRequest *rr;
	Sbx__V1__MoveRequest *vr;
	Sbx__V1__EditRequest *er;
	uint64_t occ = 99;
	int before;

	REQUIRE(c != NULL);
	REQUIRE_INT(sbx_mkdir(c, "s-1", "a/b/c", 1), SBX_OK);
	REQUIRE((mr = LAST(Sbx__V1__MkdirRequest, sbx__v1__mkdir_request, "Mkdir")) != NULL);
	CHECK_STR(mr->session_id, "s-1");
	CHECK_STR(mr->path, "a/b/c");
	CHECK(mr->parents);
	FREE_MSG(mr);
	REQUIRE_INT(sbx_mkdir(c, "s-1", "d", 0), SBX_OK);
	REQUIRE((mr = LAST(Sbx__V1__MkdirRequest, sbx__v1__mkdir_request, "Mkdir")) != NULL);
	CHECK(!mr->parents);
	FREE_MSG(mr);

	REQUIRE_INT(sbx_remove(c, "s-1", "a", 7), SBX_OK);
	REQUIRE((rr = LAST(Sbx__V1__RemoveRequest, sbx__v1__remove_request, "Remove")) != NULL);
	CHECK_STR(rr->path, "a");
	CHECK(rr->recursive);
	FREE_MSG(rr);

	REQUIRE_INT(sbx_move(c, "s-1", "x.txt", "y/x.txt", 1), SBX_OK);
	REQUIRE((vr = LAST(Sbx__V1__MoveRequest, sbx__v1__move_request, "Move")) != NULL);
	CHECK_STR(vr->from, "x.txt");
	CHECK_STR(vr->to, "y/x.txt");
	CHECK(vr->overwrite);
	FREE_MSG(vr);

	REQUIRE_INT(sbx_edit(c, "s-1", "f.c", old_b, sizeof(old_b), "", 0, 1,
	    &occ), SBX_OK);
	CHECK_INT(occ, 3);
	REQUIRE((er = LAST(Sbx__V1__EditRequest, sbx__v1__edit_request, "Edit")) != NULL);
	CHECK_STR(er->path, "f.c");
	REQUIRE_INT(er->old_string.len, 3);
	CHECK(memcmp(er->old_string.data, old_b, 3) == 0);
	CHECK_INT(er->new_string.len, 0);
	CHECK(er->replace_all);
	FREE_MSG(er);

	before = atomic_load(&f->requests);
	CHECK_INT(sbx_edit(c, "s-1", "f.c", "", 0, "x", 1, 0, &occ), SBX_INVALID_ARGUMENT);
	CHECK_INT(occ, 0);
	CHECK_INT(sbx_move(c, "s-1", "x", NULL, 0), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_mkdir(c, "s-1", NULL, 0), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_remove(c, NULL, "a", 0), SBX_INVALID_ARGUMENT);
	CHECK_INT(atomic_load(&f->requests), before);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(glob_and_grep_decode)
{
	struct fake *f = fake_start(h_fs);
	sbx_client *c = open_client(f->url, 5000);
	sbx_grep_opts go = { .pattern = "def \\w+", .path = "src", .glob = "*.py",
	    .case_insensitive = 1, .max_results = 50, .include_hidden = 1 };
	Sbx__V1__GlobRequest *gl;
	Sbx__V1__GrepRequest *gr;
	sbx_grep_result res;
	sbx_file_info *v;
	size_t n;
	int trunc = 0;

	REQUIRE(c != NULL);
	REQUIRE_INT(sbx_glob(c, "s-1", "**/*.txt", "docs", 100, 1, &v, &n, &trunc),
	    SBX_OK);
	REQUIRE_INT(n, 2);
	CHECK_STR(v[0].name, "b.txt");
	CHECK(v[1].is_symlink);
	CHECK_INT(trunc, 1);
	sbx_file_info_list_free(v, n);
	REQUIRE((gl = LAST(Sbx__V1__GlobRequest, sbx__v1__glob_request, "Glob")) != NULL);
	CHECK_STR(gl->pattern, "**/*.txt");
	CHECK_STR(gl->path, "docs");
	CHECK_INT(gl->max_results, 100);
	CHECK(gl->newest_first);
	FREE_MSG(gl);
	CHECK_INT(sbx_glob(c, "s-1", "", NULL, 0, 0, &v, &n, NULL), SBX_INVALID_ARGUMENT);

	REQUIRE_INT(sbx_grep(c, "s-1", &go, &res), SBX_OK);
	REQUIRE_INT(res.n_matches, 2);
	CHECK_INT(res.n_files, 0);
	CHECK_INT(res.n_counts, 0);
	CHECK(!res.truncated);
	CHECK_STR(res.matches[0].path, "/workspace/a.py");
	CHECK_INT(res.matches[0].line_number, 3);
	CHECK_STR((char *)res.matches[0].line.data, "def foo():");
	REQUIRE_INT(res.matches[1].line.len, 3);
	CHECK(memcmp(res.matches[1].line.data, "x\0y", 4) == 0);
	sbx_grep_result_fini(&res);
	CHECK(res.matches == NULL);
	REQUIRE((gr = LAST(Sbx__V1__GrepRequest, sbx__v1__grep_request, "Grep")) != NULL);
	CHECK_STR(gr->pattern, "def \\w+");
	CHECK_STR(gr->path, "src");
	CHECK_STR(gr->glob, "*.py");
	CHECK_INT(gr->mode, SBX__V1__GREP_MODE__GREP_MODE_CONTENT);
	CHECK(gr->case_insensitive);
	CHECK_INT(gr->max_results, 50);
	CHECK(gr->include_hidden);
	FREE_MSG(gr);

	go = (sbx_grep_opts){ .pattern = "x", .mode = SBX_GREP_FILES };
	REQUIRE_INT(sbx_grep(c, "s-1", &go, &res), SBX_OK);
	REQUIRE_INT(res.n_files, 2);
	CHECK_STR(res.files[1], "/workspace/b.py");
	sbx_grep_result_fini(&res);
	REQUIRE((gr = LAST(Sbx__V1__GrepRequest, sbx__v1__grep_request, "Grep")) != NULL);
	CHECK_INT(gr->mode, SBX__V1__GREP_MODE__GREP_MODE_FILES_WITH_MATCHES);
	CHECK_STR(gr->path, "");
	CHECK_STR(gr->glob, "");
	CHECK(!gr->case_insensitive && !gr->include_hidden);
	FREE_MSG(gr);

	go.mode = SBX_GREP_COUNT;
	REQUIRE_INT(sbx_grep(c, "s-1", &go, &res), SBX_OK);
	REQUIRE_INT(res.n_counts, 1);
	CHECK_STR(res.counts[0].path, "/workspace/a.py");
	CHECK_INT(res.counts[0].count, 4);
	CHECK(res.truncated);
	sbx_grep_result_fini(&res);

	go.mode = (sbx_grep_mode)7;
	CHECK_INT(sbx_grep(c, "s-1", &go, &res), SBX_INVALID_ARGUMENT);
	go = (sbx_grep_opts){ .pattern = "" };
	CHECK_INT(sbx_grep(c, "s-1", &go, &res), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_grep(c, "s-1", NULL, &res), SBX_INVALID_ARGUMENT);
	sbx_client_close(c);
	fake_stop(f);
}

/* ---------------------------------------------------------------- transfers */

/* n bytes of a fixed pseudo-random sequence; free it. */
static uint8_t *
make_content(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	uint32_t x = 12345;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	return p;
}

/* A temporary file holding n bytes of p, open for reading and writing. */
static int
temp_file(const uint8_t *p, size_t n)
{
	char path[] = "/tmp/test_libsbx_xfer_XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (n > 0 && write(fd, p, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return fd;
}

struct prog {
	int calls;
	uint64_t done[8];
	uint64_t total;
	void *arg_seen;
};

static void
rec_progress(void *arg, uint64_t done, uint64_t total)
{
	struct prog *p = arg;

	if (p->calls < 8)
		p->done[p->calls] = done;
	p->calls++;
	p->total = total;
	p->arg_seen = arg;
}

/* What the fake saw of an upload; requests arrive one at a time. */
static struct {
	uint32_t announce;            /* chunk_size UploadBegin answers */
	int finish_code;              /* status UploadFinish answers */
	char path[64];
	uint64_t total;
	int chunks;
	uint64_t off[8];
	size_t len[8];
	int bad_id;                   /* a chunk or finish with another id */
	crypto_hash_sha256_state st;  /* of the chunks in arrival order */
	uint8_t sha[32];
	size_t sha_len;
	int finished;
	int aborted;                  /* UploadAbort calls */
} g_up;

static struct reply
h_upload(const Sbx__V1__Request *req)
{
	if (method_is(req, "UploadBegin")) {
		Sbx__V1__UploadBeginRequest *b = sbx__v1__upload_begin_request__unpack(
		    NULL, req->payload.len, req->payload.data);
		Sbx__V1__UploadBeginResponse r = SBX__V1__UPLOAD_BEGIN_RESPONSE__INIT;
		snprintf(g_up.path, sizeof(g_up.path), "%s", b ? b->path : "?");
		g_up.total = b ? b->total_size : 0;
		sbx__v1__upload_begin_request__free_unpacked(b, NULL);
		crypto_hash_sha256_init(&g_up.st);
		r.upload_id = "up-1";
		r.chunk_size = g_up.announce;
		return ok(req, &r.base);
	}
	if (method_is(req, "UploadChunk")) {
		Sbx__V1__UploadChunkRequest *ch = sbx__v1__upload_chunk_request__unpack(
		    NULL, req->payload.len, req->payload.data);
		Sbx__V1__UploadChunkResponse r = SBX__V1__UPLOAD_CHUNK_RESPONSE__INIT;
		if (ch == NULL || strcmp(ch->upload_id, "up-1") != 0 ||
		    strcmp(ch->session_id, "s-1") != 0)
			g_up.bad_id++;
		if (ch != NULL && g_up.chunks < 8) {
			g_up.off[g_up.chunks] = ch->offset;
			g_up.len[g_up.chunks] = ch->data.len;
		}
		if (ch != NULL) {
			crypto_hash_sha256_update(&g_up.st, ch->data.data, ch->data.len);
			r.received = ch->offset + ch->data.len;
		}
		g_up.chunks++;
		sbx__v1__upload_chunk_request__free_unpacked(ch, NULL);
		return ok(req, &r.base);
	}
	if (method_is(req, "UploadAbort")) {
		Sbx__V1__UploadAbortResponse r = SBX__V1__UPLOAD_ABORT_RESPONSE__INIT;

		g_up.aborted++;
		return ok(req, &r.base);
	}
	Sbx__V1__UploadFinishRequest *fr = sbx__v1__upload_finish_request__unpack(
	    NULL, req->payload.len, req->payload.data);
	Sbx__V1__UploadFinishResponse r = SBX__V1__UPLOAD_FINISH_RESPONSE__INIT;
	if (fr == NULL || strcmp(fr->upload_id, "up-1") != 0)
		g_up.bad_id++;
	if (fr != NULL && fr->sha256.len <= sizeof(g_up.sha)) {
		memcpy(g_up.sha, fr->sha256.data, fr->sha256.len);
		g_up.sha_len = fr->sha256.len;
	}
	sbx__v1__upload_finish_request__free_unpacked(fr, NULL);
	g_up.finished++;
	if (g_up.finish_code != 0)
		return pack_response(req->request_id, g_up.finish_code,
		    "SHA-256 mismatch: the upload was dropped", NULL);
	r.size = g_up.total;
	return ok(req, &r.base);
}

TEST(upload_chunks_and_hashes)
{
	const size_t size = 5 * MIB / 2;
	uint8_t *content = make_content(size), want[32], got[32];
	struct fake *f = fake_start(h_upload);
	sbx_client *c = open_client(f->url, 10000);
	struct prog p = { 0 };
	int fd = temp_file(content, size);

	REQUIRE(c != NULL);
	REQUIRE(fd >= 0);
	REQUIRE(sodium_init() >= 0);
	crypto_hash_sha256(want, content, size);
	memset(&g_up, 0, sizeof(g_up));
	g_up.announce = 8 * MIB;              /* more than 1 MiB: the client caps it */
	REQUIRE_INT(sbx_upload(c, "s-1", "dir/big.bin", fd, size, rec_progress, &p),
	    SBX_OK);
	CHECK_STR(g_up.path, "dir/big.bin");
	CHECK_INT(g_up.total, size);
	REQUIRE_INT(g_up.chunks, 3);
	CHECK_INT(g_up.off[0], 0);
	CHECK_INT(g_up.off[1], MIB);
	CHECK_INT(g_up.off[2], 2 * MIB);
	CHECK_INT(g_up.len[0], MIB);
	CHECK_INT(g_up.len[1], MIB);
	CHECK_INT(g_up.len[2], MIB / 2);
	CHECK_INT(g_up.bad_id, 0);
	CHECK_INT(g_up.finished, 1);
	REQUIRE_INT(g_up.sha_len, 32);
	CHECK(memcmp(g_up.sha, want, 32) == 0);
	crypto_hash_sha256_final(&g_up.st, got);
	CHECK(memcmp(got, want, 32) == 0);     /* the bytes themselves arrived */
	REQUIRE_INT(p.calls, 3);
	CHECK_INT(p.done[0], MIB);
	CHECK_INT(p.done[1], 2 * MIB);
	CHECK_INT(p.done[2], size);
	CHECK_INT(p.total, size);
	CHECK(p.arg_seen == &p);

	/* the server's smaller chunk size is used */
	memset(&g_up, 0, sizeof(g_up));
	g_up.announce = 1000;
	REQUIRE_INT(sbx_upload(c, "s-1", "small.bin", fd, 2500, NULL, NULL), SBX_OK);
	REQUIRE_INT(g_up.chunks, 3);
	CHECK_INT(g_up.off[2], 2000);
	CHECK_INT(g_up.len[2], 500);

	/* an empty file: no chunk, the digest of nothing */
	memset(&g_up, 0, sizeof(g_up));
	crypto_hash_sha256(want, (const uint8_t *)"", 0);
	REQUIRE_INT(sbx_upload(c, "s-1", "empty", fd, 0, NULL, NULL), SBX_OK);
	CHECK_INT(g_up.chunks, 0);
	CHECK_INT(g_up.sha_len, 32);
	CHECK(memcmp(g_up.sha, want, 32) == 0);
	close(fd);
	free(content);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(upload_failures)
{
	uint8_t *content = make_content(3000);
	struct fake *f = fake_start(h_upload);
	sbx_client *c = open_client(f->url, 10000);
	int fd = temp_file(content, 3000), before;

	REQUIRE(c != NULL);
	REQUIRE(fd >= 0);
	/* the server's DATA_LOSS comes through */
	memset(&g_up, 0, sizeof(g_up));
	g_up.finish_code = SBX__V1__CODE__DATA_LOSS;
	CHECK_INT(sbx_upload(c, "s-1", "f", fd, 3000, NULL, NULL), SBX_DATA_LOSS);
	CHECK_CONTAINS(sbx_last_error(c), "SHA-256 mismatch");
	/* a file shorter than announced: no Finish */
	memset(&g_up, 0, sizeof(g_up));
	CHECK_INT(sbx_upload(c, "s-1", "f", fd, 5000, NULL, NULL),
	    SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(c), "ends at byte 3000");   /* kept across the abort */
	CHECK_INT(g_up.finished, 0);
	CHECK_INT(g_up.aborted, 1);   /* the server's slot is freed at once */
	/* a pipe cannot be read at offsets; bad arguments make no call */
	int pfd[2];
	REQUIRE(pipe(pfd) == 0);
	memset(&g_up, 0, sizeof(g_up));
	CHECK_INT(sbx_upload(c, "s-1", "f", pfd[0], 10, NULL, NULL), SBX_INVALID_ARGUMENT);
	CHECK_INT(g_up.chunks, 0);
	close(pfd[0]);
	close(pfd[1]);
	before = atomic_load(&f->requests);
	CHECK_INT(sbx_upload(c, "s-1", "f", -1, 10, NULL, NULL), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_upload(c, "s-1", "", fd, 10, NULL, NULL), SBX_INVALID_ARGUMENT);
	CHECK_INT(atomic_load(&f->requests), before);
	close(fd);
	free(content);
	sbx_client_close(c);
	fake_stop(f);
}

/* What the fake serves for Download, and what it was asked. */
static struct {
	const uint8_t *content;
	size_t size;
	int corrupt;                  /* send a wrong SHA-256 at the end */
	int requests;
	uint64_t off[8];
	uint32_t len[8];
} g_down;

static struct reply
h_download(const Sbx__V1__Request *req)
{
	Sbx__V1__DownloadRequest *d = sbx__v1__download_request__unpack(NULL,
	    req->payload.len, req->payload.data);
	Sbx__V1__DownloadResponse r = SBX__V1__DOWNLOAD_RESPONSE__INIT;
	uint8_t sha[32];
	uint64_t off;
	size_t n;
	struct reply out;

	if (d == NULL)
		return pack_response(req->request_id, SBX__V1__CODE__INVALID_ARGUMENT,
		    "bad request", NULL);
	if (g_down.requests < 8) {
		g_down.off[g_down.requests] = d->offset;
		g_down.len[g_down.requests] = d->length;
	}
	g_down.requests++;
	off = d->offset < g_down.size ? d->offset : g_down.size;
	n = g_down.size - off < d->length ? g_down.size - off : d->length;
	r.data.data = (uint8_t *)g_down.content + off;
	r.data.len = n;
	r.total_size = g_down.size;
	r.eof = off + n >= g_down.size;
	if (r.eof) {
		crypto_hash_sha256(sha, g_down.content, g_down.size);
		sha[5] ^= (uint8_t)(g_down.corrupt != 0);
		r.sha256.data = sha;
		r.sha256.len = sizeof(sha);
	}
	out = ok(req, &r.base);
	sbx__v1__download_request__free_unpacked(d, NULL);
	return out;
}

TEST(download_reassembles)
{
	const size_t size = 5 * MIB / 2;
	uint8_t *content = make_content(size), *back = malloc(size + 1);
	struct fake *f = fake_start(h_download);
	sbx_client *c = open_client(f->url, 10000);
	struct prog p = { 0 };
	Sbx__V1__DownloadRequest *dr;
	int fd = temp_file(NULL, 0);

	REQUIRE(c != NULL);
	REQUIRE(fd >= 0);
	memset(&g_down, 0, sizeof(g_down));
	g_down.content = content;
	g_down.size = size;
	REQUIRE_INT(sbx_download(c, "s-1", "big.bin", fd, rec_progress, &p), SBX_OK);
	REQUIRE_INT(g_down.requests, 3);
	CHECK_INT(g_down.off[0], 0);
	CHECK_INT(g_down.off[1], MIB);
	CHECK_INT(g_down.off[2], 2 * MIB);
	CHECK_INT(g_down.len[0], MIB);
	CHECK_INT(g_down.len[2], MIB);
	REQUIRE((dr = LAST(Sbx__V1__DownloadRequest, sbx__v1__download_request, "Download")) != NULL);
	CHECK_STR(dr->session_id, "s-1");
	CHECK_STR(dr->path, "big.bin");
	FREE_MSG(dr);
	CHECK_INT(lseek(fd, 0, SEEK_END), size);
	CHECK_INT(pread(fd, back, size + 1, 0), size);
	CHECK(memcmp(back, content, size) == 0);
	REQUIRE_INT(p.calls, 3);
	CHECK_INT(p.done[0], MIB);
	CHECK_INT(p.done[2], size);
	CHECK_INT(p.total, size);

	/* an empty file is one round trip */
	memset(&g_down, 0, sizeof(g_down));
	g_down.content = content;
	REQUIRE_INT(sbx_download(c, "s-1", "empty", fd, NULL, NULL), SBX_OK);
	CHECK_INT(g_down.requests, 1);
	close(fd);
	free(back);
	free(content);
	sbx_client_close(c);
	fake_stop(f);
}

TEST(download_detects_change)
{
	const size_t size = 3 * MIB / 2;
	uint8_t *content = make_content(size);
	struct fake *f = fake_start(h_download);
	sbx_client *c = open_client(f->url, 10000);
	int fd = temp_file(NULL, 0), before;

	REQUIRE(c != NULL);
	REQUIRE(fd >= 0);
	memset(&g_down, 0, sizeof(g_down));
	g_down.content = content;
	g_down.size = size;
	g_down.corrupt = 1;
	CHECK_INT(sbx_download(c, "s-1", "f", fd, NULL, NULL), SBX_DATA_LOSS);
	CHECK_CONTAINS(sbx_last_error(c), "file changed during download");
	CHECK_INT(g_down.requests, 2);
	before = atomic_load(&f->requests);
	CHECK_INT(sbx_download(c, "s-1", "f", -1, NULL, NULL), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_download(c, "s-1", NULL, fd, NULL, NULL), SBX_INVALID_ARGUMENT);
	CHECK_INT(atomic_load(&f->requests), before);
	close(fd);
	free(content);
	sbx_client_close(c);
	fake_stop(f);
}

int
main(void)
{
	RUN(envelope_fields);
	RUN(no_timeout_means_no_deadline);
	RUN(create_session_decodes);
	RUN(exec_decodes_and_stretches_deadline);
	RUN(error_status_maps);
	RUN(mismatched_request_id);
	RUN(garbage_replies);
	RUN(server_not_listening);
	RUN(silent_server_times_out);
	RUN(reply_over_max_size);
	RUN(unavailable_is_retried_with_the_same_id);
	RUN(concurrent_calls_one_handle);
	RUN(raw_call_round_trips);
	RUN(list_and_files);
	RUN(bad_options);
	RUN(tls_endpoint);
	RUN(logger_sees_events);
	RUN(ls_and_stat_decode);
	RUN(changes_send_their_fields);
	RUN(glob_and_grep_decode);
	RUN(upload_chunks_and_hashes);
	RUN(upload_failures);
	RUN(download_reassembles);
	RUN(download_detects_change);
	T_DONE();
}
