/*
 * libsbx.c — the core of the C client library: the handle and its
 * options, the transport (one nng REQ socket per handle, one nng context
 * per call, the Request/Response envelope), the thread's last error, and
 * sbx_call_raw, and the argument checks and copies the typed calls share.
 * The typed calls live in libsbx_session.c, libsbx_sandbox.c and
 * libsbx_files.c and reach the server through sbxi_call. nng and
 * protobuf-c errors are translated into sbx_err here and nowhere else;
 * the public header never shows their types.
 *
 * Delivery is exactly once while sbxd remembers the request id: the REQ
 * resend timer is disabled on the socket and on every context (nng 1.5.2
 * then fails a pending receive with NNG_ECONNRESET when its connection
 * drops, instead of resending the request on the next connection), and
 * libsbx itself retries a call whose connection was lost, or that sbxd
 * answered UNAVAILABLE, with backoff and the same request id; sbxd runs
 * an id once and answers repeats with the first reply (server/replycache.h). A call's time is split in two phases:
 * waiting for a connection to hand the request to (bounded by
 * connect_timeout_ms and the call's deadline) and waiting for the reply
 * (bounded by the deadline). The absolute deadline also travels in the
 * envelope so the server can give up on the same schedule.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "sbx.h"
#include "libsbx_int.h"

#define REQUEST_ID_BYTES 16
#define ERRMSG_MAX 1024
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 2000
#define RETRY_ATTEMPTS 4          /* tries of one call, the first included */
#define RETRY_BASE_MS 100         /* first backoff; doubles on each retry */
#define RETRY_MAX_BACKOFF_MS 2000

_Static_assert((int)SBX_UNAUTHENTICATED == (int)SBX__V1__CODE__UNAUTHENTICATED,
    "sbx_err must number codes as the wire does");

struct sbx_client {
	nng_socket sock;
	nng_dialer dialer;
	nng_tls_config *tls;
	char *endpoint;
	char *service_key;
	char *session_token;
	int timeout_ms;
	int connect_timeout_ms;
	size_t max_reply;
	sbx_log_fn logger;
	void *logger_arg;
	sbx_log_level log_level;
	atomic_int npipes;           /* live connections, from pipe events */
};

/* The last error of this thread, and the handle it belongs to. */
static _Thread_local struct {
	const sbx_client *c;
	char msg[ERRMSG_MAX];
} tl_err;

static const char *const code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

const char *
sbx_err_name(sbx_err err)
{
	if ((unsigned)err >= sizeof(code_names) / sizeof(code_names[0]))
		return "UNKNOWN_CODE";
	return code_names[err];
}

const char *
sbx_version(void)
{
	return SBX_VERSION_STRING;
}

void
sbx_free(void *p)
{
	free(p);
}

const char *
sbx_last_error(const sbx_client *c)
{
	return tl_err.c == c ? tl_err.msg : "";
}

/* ---------------------------------------------------------------- logging, errors, shared checks */

static void __attribute__((format(printf, 3, 0)))
vlogf(const sbx_client *c, sbx_log_level lvl, const char *fmt, va_list ap)
{
	char line[ERRMSG_MAX + 128];

	vsnprintf(line, sizeof(line), fmt, ap);
	c->logger(c->logger_arg, lvl, line);
}

__attribute__((format(printf, 3, 4))) static void
logf_(const sbx_client *c, sbx_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (c == NULL || c->logger == NULL || lvl > c->log_level)
		return;
	va_start(ap, fmt);
	vlogf(c, lvl, fmt, ap);
	va_end(ap);
}

void
sbxi_clear_err(const sbx_client *c)
{
	tl_err.c = c;
	tl_err.msg[0] = '\0';
}

sbx_err
sbxi_fail(const sbx_client *c, sbx_err err, const char *fmt, ...)
{
	va_list ap;

	tl_err.c = c;
	va_start(ap, fmt);
	vsnprintf(tl_err.msg, sizeof(tl_err.msg), fmt, ap);
	va_end(ap);
	logf_(c, SBX_LOG_DEBUG, "call failed: %s: %s", sbx_err_name(err),
	    tl_err.msg);
	return err;
}

sbx_err
sbxi_oom(const sbx_client *c)
{
	return sbxi_fail(c, SBX_RESOURCE_EXHAUSTED, "out of memory in libsbx");
}

sbx_err
sbxi_check_id(sbx_client *c, const char *what, const char *s)
{
	if (s == NULL || *s == '\0')
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "%s is required", what);
	return SBX_OK;
}

sbx_err
sbxi_check_command(sbx_client *c, const char *command, const char *const *argv,
    size_t argc)
{
	int has_cmd = command != NULL && *command != '\0';

	if (has_cmd && argc > 0)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "give either command (a "
		    "shell line) or argv (words run without a shell), not both");
	if (argc == 0)
		return has_cmd ? SBX_OK : sbxi_fail(c, SBX_INVALID_ARGUMENT,
		    "a command (or argv) is required");
	if (argv == NULL)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "argc is %zu but argv is "
		    "NULL", argc);
	for (size_t i = 0; i < argc; i++)
		if (argv[i] == NULL)
			return sbxi_fail(c, SBX_INVALID_ARGUMENT, "argv[%zu] is NULL",
			    i);
	if (*argv[0] == '\0')
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "argv[0], the program to "
		    "run, is empty");
	return SBX_OK;
}

sbx_err
sbxi_check_in_session(sbx_client *c, const char *session_id, const char *what,
    const char *id)
{
	sbx_err rv;

	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	return sbxi_check_id(c, what, id);
}

sbx_err
sbxi_id_from_wire(sbx_client *c, const char *what, const char *src, char *dst,
    size_t size)
{
	size_t n = strlen(src);

	dst[0] = '\0';
	if (n >= size)
		return sbxi_fail(c, SBX_INTERNAL, "the server sent a %s id longer "
		    "than %zu bytes", what, size - 1);
	memcpy(dst, src, n + 1);
	return SBX_OK;
}

sbx_err
sbxi_bytes_dup(sbx_client *c, const ProtobufCBinaryData *src, sbx_bytes *dst)
{
	if ((dst->data = malloc(src->len + 1)) == NULL)
		return sbxi_oom(c);
	if (src->len > 0)
		memcpy(dst->data, src->data, src->len);
	dst->data[src->len] = '\0';
	dst->len = src->len;
	return SBX_OK;
}

int
sbxi_timeout_ms(const sbx_client *c)
{
	return c->timeout_ms;
}

const char *
sbxi_endpoint(const sbx_client *c)
{
	return c->endpoint;
}

/* ---------------------------------------------------------------- open and close */

static char *
dup_or_null(const char *s, int *bad)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*bad = 1;
	return d;
}

static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	sbx_client *c = arg;

	(void)p;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_fetch_add(&c->npipes, 1);
		logf_(c, SBX_LOG_INFO, "connected to %s", c->endpoint);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		atomic_fetch_sub(&c->npipes, 1);
		logf_(c, SBX_LOG_INFO, "disconnected from %s", c->endpoint);
	}
}

static sbx_err
copy_options(sbx_client *c, const sbx_options *o)
{
	int bad = 0;

	c->endpoint = dup_or_null(o->endpoint ? o->endpoint : SBX_DEFAULT_ENDPOINT, &bad);
	c->service_key = dup_or_null(o->service_key, &bad);
	c->session_token = dup_or_null(o->session_token, &bad);
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : SBX_DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms = o->connect_timeout_ms > 0 ?
	    o->connect_timeout_ms : SBX_DEFAULT_CONNECT_TIMEOUT_MS;
	c->max_reply = o->max_reply_bytes ? o->max_reply_bytes :
	    SBX_DEFAULT_MAX_REPLY_BYTES;
	c->logger = o->logger;
	c->logger_arg = o->logger_arg;
	c->log_level = o->log_level;
	if (bad)
		return sbxi_oom(NULL);
	if (c->timeout_ms < 0 && c->timeout_ms != SBX_TIMEOUT_NONE)
		return sbxi_fail(NULL, SBX_INVALID_ARGUMENT,
		    "timeout_ms %d: use a positive number, 0 for the default "
		    "or SBX_TIMEOUT_NONE", o->timeout_ms);
	return SBX_OK;
}

/* Builds the TLS configuration for a tls+tcp:// endpoint. */
static sbx_err
setup_tls(sbx_client *c, const sbx_options *o)
{
	nng_url *url = NULL;
	const char *name = o->tls_server_name;
	int rv;

	if (o->tls_ca_file == NULL)
		return sbxi_fail(NULL, SBX_INVALID_ARGUMENT, "endpoint %s uses TLS: "
		    "give the CA certificate that signed the server's (tls_ca_file)",
		    c->endpoint);
	if ((rv = nng_tls_config_alloc(&c->tls, NNG_TLS_MODE_CLIENT)) != 0)
		return sbxi_fail(NULL, SBX_INTERNAL, "TLS setup: %s", nng_strerror(rv));
	if (name == NULL && (rv = nng_url_parse(&url, c->endpoint)) == 0)
		name = url->u_hostname;
	if (rv == 0)
		rv = nng_tls_config_auth_mode(c->tls, NNG_TLS_AUTH_MODE_REQUIRED);
	if (rv == 0 && name != NULL)
		rv = nng_tls_config_server_name(c->tls, name);
	if (rv == 0)
		rv = nng_tls_config_ca_file(c->tls, o->tls_ca_file);
	if (rv == 0 && o->tls_cert_file != NULL)
		rv = nng_tls_config_cert_key_file(c->tls, o->tls_cert_file, NULL);
	if (url != NULL)
		nng_url_free(url);
	if (rv != 0)
		return sbxi_fail(NULL, SBX_INVALID_ARGUMENT, "TLS setup for %s "
		    "(CA file %s%s%s): %s", c->endpoint, o->tls_ca_file,
		    o->tls_cert_file ? ", certificate " : "",
		    o->tls_cert_file ? o->tls_cert_file : "", nng_strerror(rv));
	return SBX_OK;
}

static sbx_err
setup_socket(sbx_client *c)
{
	int rv;

	if ((rv = nng_req0_open(&c->sock)) != 0)
		return sbxi_fail(NULL, SBX_INTERNAL, "opening REQ socket: %s",
		    nng_strerror(rv));
	/* Contexts copy the resend time when opened: set it on the socket. */
	rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE);
	if (rv == 0)
		rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, c->max_reply);
	if (rv == 0)
		rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_event, c);
	if (rv == 0)
		rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_event, c);
	if (rv != 0)
		return sbxi_fail(NULL, SBX_INTERNAL, "configuring REQ socket: %s",
		    nng_strerror(rv));
	return SBX_OK;
}

static sbx_err
start_dialer(sbx_client *c)
{
	int rv;

	if ((rv = nng_dialer_create(&c->dialer, c->sock, c->endpoint)) != 0)
		return sbxi_fail(NULL, SBX_INVALID_ARGUMENT, "endpoint \"%s\": %s "
		    "(expected tcp://HOST:PORT or tls+tcp://HOST:PORT)",
		    c->endpoint, nng_strerror(rv));
	rv = nng_dialer_set_ms(c->dialer, NNG_OPT_RECONNMINT, RECONNECT_MIN_MS);
	if (rv == 0)
		rv = nng_dialer_set_ms(c->dialer, NNG_OPT_RECONNMAXT, RECONNECT_MAX_MS);
	if (rv == 0 && c->tls != NULL)
		rv = nng_dialer_set_ptr(c->dialer, NNG_OPT_TLS_CONFIG, c->tls);
	if (rv == 0)
		rv = nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK);
	if (rv != 0)
		return sbxi_fail(NULL, SBX_INVALID_ARGUMENT, "dialing %s: %s",
		    c->endpoint, nng_strerror(rv));
	return SBX_OK;
}

static void
client_free(sbx_client *c)
{
	if (nng_socket_id(c->sock) > 0)
		nng_close(c->sock);
	if (c->tls != NULL)
		nng_tls_config_free(c->tls);
	free(c->endpoint);
	free(c->service_key);
	free(c->session_token);
	free(c);
}

sbx_err
sbx_client_open(const sbx_options *opts, sbx_client **out)
{
	static const sbx_options defaults;
	sbx_client *c;
	sbx_err rv;

	*out = NULL;
	sbxi_clear_err(NULL);
	if (opts == NULL)
		opts = &defaults;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return sbxi_oom(NULL);
	c->sock = (nng_socket)NNG_SOCKET_INITIALIZER;
	atomic_init(&c->npipes, 0);
	if ((rv = copy_options(c, opts)) != SBX_OK)
		goto out;
	if (strncmp(c->endpoint, "tls+", 4) == 0 &&
	    (rv = setup_tls(c, opts)) != SBX_OK)
		goto out;
	if ((rv = setup_socket(c)) != SBX_OK || (rv = start_dialer(c)) != SBX_OK)
		goto out;
	logf_(c, SBX_LOG_DEBUG, "client open, dialing %s", c->endpoint);
	*out = c;
	c = NULL;
out:
	if (c != NULL)
		client_free(c);
	return rv;
}

void
sbx_client_close(sbx_client *c)
{
	if (c == NULL)
		return;
	if (tl_err.c == c)
		sbxi_clear_err(NULL);
	client_free(c);
}

/* ---------------------------------------------------------------- the envelope */

static uint64_t
now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* 32 hex digits from 16 random bytes; falls back to clock and counter. */
static void
make_request_id(char out[2 * REQUEST_ID_BYTES + 1])
{
	static atomic_uint_fast64_t counter;
	unsigned char b[REQUEST_ID_BYTES];
	uint64_t mix[2];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		mix[0] = now_ms(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 40);
		mix[1] = atomic_fetch_add(&counter, 1) ^ (uint64_t)(uintptr_t)&mix;
		memcpy(b, mix, sizeof(b));
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Packs the Request envelope into a new nng message. */
static sbx_err
pack_request(sbx_client *c, const char *method, const char *request_id,
    uint64_t deadline, const void *payload, size_t len, nng_msg **out)
{
	Sbx__V1__Request req = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cred = SBX__V1__CREDENTIALS__INIT;
	size_t n;

	req.method = (char *)method;
	req.request_id = (char *)request_id;
	req.deadline_unix_ms = deadline;
	req.payload.data = (uint8_t *)payload;
	req.payload.len = len;
	if (c->service_key != NULL)
		cred.service_key = c->service_key;
	if (c->session_token != NULL)
		cred.session_token = c->session_token;
	req.credentials = &cred;
	n = sbx__v1__request__get_packed_size(&req);
	if (nng_msg_alloc(out, n) != 0)
		return sbxi_oom(c);
	sbx__v1__request__pack(&req, nng_msg_body(*out));
	return SBX_OK;
}

/* Milliseconds left until the monotonic time end; -1 when end is -1. */
static int64_t
time_left(int64_t end)
{
	int64_t left;

	if (end < 0)
		return -1;
	left = end - (int64_t)now_ms(CLOCK_MONOTONIC);
	return left > 0 ? left : 0;
}

/* Hands msg to a connection, waiting at most connect_timeout_ms while
 * there is none and up to the deadline while there is one (it may be
 * busy sending other calls' big requests). Takes msg, also on failure. */
static sbx_err
send_phase(sbx_client *c, nng_ctx ctx, nng_aio *aio, nng_msg *msg, int64_t end)
{
	int64_t wait, left;
	int by_deadline, rv;

	nng_aio_set_msg(aio, msg);
	do {
		left = time_left(end);
		by_deadline = left >= 0 && left <= c->connect_timeout_ms;
		wait = by_deadline ? (left > 0 ? left : 1) : c->connect_timeout_ms;
		nng_aio_set_timeout(aio, (nng_duration)wait);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio);
	} while (rv == NNG_ETIMEDOUT && !by_deadline && atomic_load(&c->npipes) > 0);
	if (rv == 0)
		return SBX_OK;
	nng_msg_free(nng_aio_get_msg(aio));
	nng_aio_set_msg(aio, NULL);
	if (rv == NNG_ETIMEDOUT && by_deadline)
		return sbxi_fail(c, SBX_DEADLINE_EXCEEDED, "deadline passed before "
		    "the request could be sent to sbxd at %s%s", c->endpoint,
		    atomic_load(&c->npipes) > 0 ? "" : " (no connection: is "
		    "sbxd running and listening there?)");
	if (rv == NNG_ETIMEDOUT)
		return sbxi_fail(c, SBX_UNAVAILABLE, "no connection to sbxd at %s "
		    "within %d ms: is sbxd running and listening there?",
		    c->endpoint, c->connect_timeout_ms);
	if (rv == NNG_ECLOSED)
		return sbxi_fail(c, SBX_CANCELLED, "client closed during the call");
	return sbxi_fail(c, SBX_UNAVAILABLE, "sending to %s: %s", c->endpoint,
	    nng_strerror(rv));
}

/* Waits for the reply; on SBX_OK *msg is it (the caller frees it). */
static sbx_err
recv_phase(sbx_client *c, nng_ctx ctx, nng_aio *aio, int64_t end,
    nng_msg **msg)
{
	int64_t left = time_left(end);
	int rv;

	nng_aio_set_timeout(aio, left < 0 ? NNG_DURATION_INFINITE :
	    (nng_duration)(left > 0 ? left : 1));
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) == 0) {
		*msg = nng_aio_get_msg(aio);
		return SBX_OK;
	}
	if (rv == NNG_ETIMEDOUT)
		return sbxi_fail(c, SBX_DEADLINE_EXCEEDED, "no reply from sbxd at %s "
		    "before the call's deadline", c->endpoint);
	if (rv == NNG_ECONNRESET || rv == NNG_ECONNSHUT)
		return sbxi_fail(c, SBX_UNAVAILABLE, "connection to sbxd at %s ended "
		    "before the reply: the request may or may not have run "
		    "(a reply over max_reply_bytes = %zu also ends it)",
		    c->endpoint, c->max_reply);
	if (rv == NNG_ECLOSED)
		return sbxi_fail(c, SBX_CANCELLED, "client closed during the call");
	return sbxi_fail(c, SBX_UNAVAILABLE, "waiting for the reply from %s: %s",
	    c->endpoint, nng_strerror(rv));
}

/* Checks the envelope; on SBX_OK *out is it (free with ..._free_unpacked). */
static sbx_err
decode_reply(sbx_client *c, const char *method, const char *request_id,
    nng_msg *msg, Sbx__V1__Response **out)
{
	Sbx__V1__Response *r;
	sbx_err code;
	int failed;

	r = sbx__v1__response__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	if (r == NULL)
		return sbxi_fail(c, SBX_INTERNAL, "undecodable reply (%zu bytes) to %s "
		    "from %s: is that an sbxd of this protocol version?",
		    nng_msg_len(msg), method, c->endpoint);
	failed = r->status != NULL && r->status->code != SBX__V1__CODE__OK;
	/* A server that could not decode the request cannot echo its id: an
	 * error status with an empty id is still that server's answer (nng's
	 * own request id already matched it to this call). */
	if (strcmp(r->request_id, request_id) != 0 &&
	    !(failed && r->request_id[0] == '\0')) {
		code = sbxi_fail(c, SBX_INTERNAL, "reply to %s carries request id "
		    "\"%.64s\", expected \"%s\"", method, r->request_id, request_id);
		sbx__v1__response__free_unpacked(r, NULL);
		return code;
	}
	if (failed) {
		code = (unsigned)r->status->code <= SBX_UNAUTHENTICATED ?
		    (sbx_err)r->status->code : SBX_UNKNOWN;
		sbxi_fail(c, code, "%s", r->status->message[0] ? r->status->message :
		    "(the server gave no message)");
		sbx__v1__response__free_unpacked(r, NULL);
		return code;
	}
	*out = r;
	return SBX_OK;
}

/* One attempt of a call: msg (taken, also on failure) goes out on a new
 * context. *retry is set when the failure means the call may be tried
 * again with the same request id: the connection went away, or sbxd
 * answered UNAVAILABLE (restarting, stopping, or the first attempt of this
 * id still running). A missing connection after connect_timeout_ms is not
 * retried: that wait already gave a restarting sbxd its time. */
static sbx_err
attempt(sbx_client *c, const char *method, const char *rid, nng_msg *msg,
    int64_t end, Sbx__V1__Response **out, int *retry)
{
	nng_ctx ctx = NNG_CTX_INITIALIZER;
	nng_aio *aio = NULL;
	sbx_err rv;
	int nrv;

	*retry = 0;
	if ((nrv = nng_ctx_open(&ctx, c->sock)) != 0 ||
	    (nrv = nng_ctx_set_ms(ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (nrv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(msg);
		rv = sbxi_fail(c, nrv == NNG_ECLOSED ? SBX_CANCELLED : SBX_INTERNAL,
		    "starting a call: %s", nng_strerror(nrv));
		goto out;
	}
	rv = send_phase(c, ctx, aio, msg, end);
	msg = NULL;
	if (rv == SBX_UNAVAILABLE && atomic_load(&c->npipes) > 0)
		*retry = 1;         /* sent into a connection that then failed */
	if (rv != SBX_OK || (rv = recv_phase(c, ctx, aio, end, &msg)) != SBX_OK) {
		if (rv == SBX_UNAVAILABLE && msg == NULL)
			*retry = 1;
		goto out;
	}
	rv = decode_reply(c, method, rid, msg, out);
	*retry = rv == SBX_UNAVAILABLE;
out:
	if (msg != NULL)
		nng_msg_free(msg);
	if (aio != NULL)
		nng_aio_free(aio);
	if (nng_ctx_id(ctx) > 0)
		nng_ctx_close(ctx);
	return rv;
}

/* Sleeps before retry number n (1, 2, ...): RETRY_BASE_MS doubling up to
 * RETRY_MAX_BACKOFF_MS, each with random jitter down to half, never past
 * end. Returns 0 when no time is left for another attempt. */
static int
backoff(int n, int64_t end)
{
	int64_t ms = RETRY_BASE_MS, left = time_left(end);
	uint32_t r = 0;
	struct timespec ts;

	for (int i = 1; i < n && ms < RETRY_MAX_BACKOFF_MS; i++)
		ms *= 2;
	if (ms > RETRY_MAX_BACKOFF_MS)
		ms = RETRY_MAX_BACKOFF_MS;
	if (getrandom(&r, sizeof(r), 0) == (ssize_t)sizeof(r))
		ms = ms / 2 + (int64_t)(r % (uint32_t)(ms / 2 + 1));
	if (left >= 0 && left <= ms)
		return 0;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 1;
}

/* One call: on SBX_OK *out is the server's Response envelope with an OK
 * status. timeout_ms as sbx_options.timeout_ms (0 = the client's). Tried
 * up to RETRY_ATTEMPTS times within the deadline, every time with the
 * same request id, so sbxd runs it once and answers a retry with the
 * first reply (its reply cache). */
static sbx_err
rpc(sbx_client *c, const char *method, int timeout_ms, const void *payload,
    size_t len, Sbx__V1__Response **out)
{
	char rid[2 * REQUEST_ID_BYTES + 1], last[ERRMSG_MAX];
	nng_msg *msg = NULL, *copy;
	uint64_t deadline = 0;
	int64_t end = -1;
	sbx_err rv;
	int retry = 0, lost = 0;

	*out = NULL;
	if (timeout_ms == 0)
		timeout_ms = c->timeout_ms;
	if (timeout_ms > 0) {
		deadline = now_ms(CLOCK_REALTIME) + (uint64_t)timeout_ms;
		end = (int64_t)now_ms(CLOCK_MONOTONIC) + timeout_ms;
	}
	make_request_id(rid);
	if ((rv = pack_request(c, method, rid, deadline, payload, len, &msg)) != SBX_OK)
		return rv;
	for (int n = 1; n <= RETRY_ATTEMPTS; n++) {
		if (n > 1 && !backoff(n - 1, end))
			break;
		if (nng_msg_dup(&copy, msg) != 0) {
			rv = sbxi_oom(c);
			break;
		}
		logf_(c, SBX_LOG_DEBUG, "-> %s id=%s (%zu bytes)%s", method, rid, len,
		    n > 1 ? " (retry)" : "");
		rv = attempt(c, method, rid, copy, end, out, &retry);
		logf_(c, SBX_LOG_DEBUG, "<- %s id=%s %s", method, rid, sbx_err_name(rv));
		if (rv == SBX_OK || !retry)
			break;
		lost |= strstr(sbx_last_error(c), "may or may not have run") != NULL;
	}
	nng_msg_free(msg);
	if (rv != SBX_OK && lost && strstr(sbx_last_error(c), "may or may not") == NULL) {
		/* a later try failed otherwise: the outcome of the first is still open */
		snprintf(last, sizeof(last), "%s", sbx_last_error(c));
		sbxi_fail(c, rv, "%s (an earlier try lost its connection before the reply: the "
		    "request may or may not have run; request id %s)", last, rid);
	}
	return rv;
}

sbx_err
sbx_call_raw_timeout(sbx_client *c, const char *method, int timeout_ms,
    const void *req, size_t req_len, void **resp, size_t *resp_len)
{
	Sbx__V1__Response *r = NULL;
	sbx_err rv;

	*resp = NULL;
	*resp_len = 0;
	sbxi_clear_err(c);
	if (method == NULL || *method == '\0' || (req == NULL && req_len > 0))
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "sbx_call_raw: method and "
		    "a request buffer are required");
	if ((rv = rpc(c, method, timeout_ms, req, req_len, &r)) != SBX_OK)
		return rv;
	if (r->payload.len > 0) {
		if ((*resp = malloc(r->payload.len)) == NULL) {
			rv = sbxi_oom(c);
		} else {
			memcpy(*resp, r->payload.data, r->payload.len);
			*resp_len = r->payload.len;
		}
	}
	sbx__v1__response__free_unpacked(r, NULL);
	return rv;
}

sbx_err
sbx_call_raw(sbx_client *c, const char *method, const void *req,
    size_t req_len, void **resp, size_t *resp_len)
{
	return sbx_call_raw_timeout(c, method, 0, req, req_len, resp, resp_len);
}

sbx_err
sbxi_call(sbx_client *c, const char *method, int timeout_ms,
    const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
    ProtobufCMessage **out)
{
	Sbx__V1__Response *r = NULL;
	ProtobufCMessage *msg;
	uint8_t *buf;
	size_t n;
	sbx_err rv;

	if (out != NULL)
		*out = NULL;
	n = protobuf_c_message_get_packed_size(req);
	if ((buf = malloc(n ? n : 1)) == NULL)
		return sbxi_oom(c);
	protobuf_c_message_pack(req, buf);
	rv = rpc(c, method, timeout_ms, buf, n, &r);
	free(buf);
	if (rv != SBX_OK)
		return rv;
	msg = protobuf_c_message_unpack(desc, NULL, r->payload.len, r->payload.data);
	if (msg == NULL)
		rv = sbxi_fail(c, SBX_INTERNAL, "undecodable %s in the reply to %s "
		    "(%zu bytes)", desc->name, method, r->payload.len);
	else if (out != NULL)
		*out = msg;
	else
		protobuf_c_message_free_unpacked(msg, NULL);
	sbx__v1__response__free_unpacked(r, NULL);
	return rv;
}

/* See libsbx_int.h. */
char *
sbxi_strdup(const char *s, int *bad)
{
	char *d;

	if ((d = strdup(s != NULL ? s : "")) == NULL)
		*bad = 1;
	return d;
}

/* See libsbx_int.h. */
sbx_err
sbxi_env_to_wire(sbx_client *c, const char *const *env, size_t n,
    Sbx__V1__EnvVar ***out)
{
	Sbx__V1__EnvVar *cells, **ptrs;
	const char *eq;

	*out = NULL;
	if (n == 0)
		return SBX_OK;
	if (env == NULL)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "n_env is %zu but env is NULL", n);
	if ((ptrs = calloc(n, sizeof(*ptrs) + sizeof(*cells))) == NULL)
		return sbxi_oom(c);
	cells = (Sbx__V1__EnvVar *)(ptrs + n);
	*out = ptrs;
	for (size_t i = 0; i < n; i++) {
		sbx__v1__env_var__init(&cells[i]);
		ptrs[i] = &cells[i];
		if (env[i] == NULL || (eq = strchr(env[i], '=')) == NULL || eq == env[i])
			return sbxi_fail(c, SBX_INVALID_ARGUMENT, "env entry %zu \"%s\" "
			    "is not NAME=value", i, env[i] ? env[i] : "(null)");
		if ((cells[i].name = strndup(env[i], (size_t)(eq - env[i]))) == NULL)
			return sbxi_oom(c);
		cells[i].value = (char *)eq + 1;
	}
	return SBX_OK;
}

void
sbxi_env_free(Sbx__V1__EnvVar **env, size_t n)
{
	for (size_t i = 0; env != NULL && i < n; i++)
		if (env[i]->name != protobuf_c_empty_string)
			free(env[i]->name);
	free(env);
}
