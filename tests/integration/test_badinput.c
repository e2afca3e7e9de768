/*
 * test_badinput.c — bad input over real sockets to a real sbxd: malformed
 * envelopes, unknown methods, oversize messages, missing fields, hostile
 * user ids, wrong credentials, unknown sessions, and a Docker engine that
 * is not there and then comes back. After each, the server must still
 * serve a well-formed request from another client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"

static struct sbxd_proc d;
static sbx_client *svc;

/* Sends raw bytes on a fresh REQ socket; returns the reply's status code,
 * or -1 when no reply came (connection dropped). */
static int
raw(const void *data, size_t len, char *msg, size_t msgsz)
{
	nng_socket s;
	nng_msg *m;
	Sbx__V1__Response *r;
	int code = -1;

	if (nng_req0_open(&s) != 0)
		return -2;
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (nng_dial(s, d.endpoint, NULL, 0) != 0 || nng_msg_alloc(&m, 0) != 0) {
		nng_close(s);
		return -2;
	}
	nng_msg_append(m, data, len);
	if (nng_sendmsg(s, m, 0) == 0 && nng_recvmsg(s, &m, 0) == 0) {
		if ((r = sbx__v1__response__unpack(NULL, nng_msg_len(m), nng_msg_body(m))) != NULL) {
			code = r->status ? (int)r->status->code : 0;
			snprintf(msg, msgsz, "%s", r->status ? r->status->message : "");
			sbx__v1__response__free_unpacked(r, NULL);
		}
		nng_msg_free(m);
	}
	nng_close(s);
	return code;
}

static int
envelope(const char *method, const char *key, const void *payload, size_t plen, char *msg, size_t msgsz)
{
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	size_t len;
	uint8_t *buf;
	int code;

	cr.service_key = (char *)key;
	rq.credentials = &cr;
	rq.method = (char *)method;
	rq.request_id = "bad-1";
	rq.payload.data = (uint8_t *)payload;
	rq.payload.len = plen;
	len = sbx__v1__request__get_packed_size(&rq);
	if ((buf = malloc(len)) == NULL)
		return -2;
	sbx__v1__request__pack(&rq, buf);
	code = raw(buf, len, msg, msgsz);
	free(buf);
	return code;
}

/* Speaks nng's SP-over-TCP by hand: the REQ handshake, then a frame
 * header claiming a 1 GiB message. Returns 0 when sbxd closes the
 * connection instead of reading (or allocating) it, -1 otherwise. */
static int
claim_huge_message(void)
{
	static const unsigned char hello[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };   /* REQ v0 */
	unsigned char peer[8], len[8] = { 0, 0, 0, 0, 0x40, 0, 0, 0 }, b;
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), rv = -1;
	ssize_t n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)atoi(strrchr(d.endpoint, ':') + 1));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, hello, sizeof(hello)) != sizeof(hello) ||
	    read(fd, peer, sizeof(peer)) != sizeof(peer) ||
	    write(fd, len, sizeof(len)) != sizeof(len))
		goto out;
	n = read(fd, &b, 1);   /* 0 (closed) or an error: dropped, not read */
	rv = n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ? 0 : -1;
out:
	close(fd);
	return rv;
}

/* The server still answers a normal client. */
static void
still_serving(void)
{
	sbx_session *s = NULL;
	size_t n = 0;

	CHECK_INT(sbx_session_list(svc, NULL, &s, &n, NULL), SBX_OK);
	sbx_session_list_free(s, n);
}

TEST(malformed_envelope)
{
	char msg[512];

	CHECK_INT(raw("\x0a\xff\xff\xff\xff", 5, msg, sizeof(msg)), SBX__V1__CODE__INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "malformed request");
	CHECK_INT(raw("", 0, msg, sizeof(msg)), SBX__V1__CODE__UNIMPLEMENTED);   /* empty = no method */
	still_serving();
}

TEST(unknown_method)
{
	char msg[512];

	CHECK_INT(envelope("sbx.v1.SandboxService/Teleport", HARNESS_KEY, NULL, 0, msg, sizeof(msg)),
	    SBX__V1__CODE__UNIMPLEMENTED);
	CHECK_CONTAINS(msg, "unknown method");
	/* every method has a handler now: an empty request is checked */
	CHECK_INT(envelope("sbx.v1.SandboxService/StartProcess", HARNESS_KEY, NULL, 0, msg, sizeof(msg)),
	    SBX__V1__CODE__INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "command is empty");
	still_serving();
}

TEST(oversize_message)
{
	size_t len = (1u << 20) + 100;    /* the test server's limit is 1 MiB */
	char *big = malloc(4u << 20), msg[512];

	REQUIRE(big != NULL);
	memset(big, 'a', 4u << 20);
	CHECK_INT(envelope("sbx.v1.SandboxService/Write", HARNESS_KEY, big, len, msg, sizeof(msg)),
	    SBX__V1__CODE__RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(msg, "max_message_bytes");
	/* Far over the limit: the connection is dropped unread (no allocation
	 * of what a peer claims); no reply, no crash. */
	CHECK_INT(claim_huge_message(), 0);
	free(big);
	still_serving();
}

TEST(missing_fields_and_hostile_users)
{
	static const char *bad[] = { "", "../x", "/", "a/../../etc", "..", ".", "x\ny", NULL };
	sbx_session_create_opts o = { 0 };
	sbx_session s;
	sbx_exec_opts x = { .command = "true" };
	sbx_exec_result r;
	char big[10241];

	for (int i = 0; bad[i]; i++) {
		o.user_id = bad[i];
		CHECK_INT(sbx_session_create(svc, &o, &s, NULL), SBX_INVALID_ARGUMENT);
		CHECK_CONTAINS(sbx_last_error(svc), "user_id");
	}
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	o.user_id = big;
	CHECK_INT(sbx_session_create(svc, &o, &s, NULL), SBX_INVALID_ARGUMENT);
	/* A NUL inside the user id is refused, not cut short to "alice". */
	{
		static const uint8_t wire[] = { 0x0a, 10, 'a', 'l', 'i', 'c', 'e', 0, '.', '.', '/', 'x' };
		char msg[512];

		CHECK_INT(envelope("sbx.v1.SessionService/CreateSession", HARNESS_KEY, wire, sizeof(wire),
		    msg, sizeof(msg)), SBX__V1__CODE__INVALID_ARGUMENT);
		CHECK_CONTAINS(msg, "user_id contains a NUL byte");
	}
	CHECK_INT(sbx_exec(svc, "", &x, &r), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_exec(svc, "../../etc", &x, &r), SBX_INVALID_ARGUMENT);
	x.command = "";
	CHECK_INT(sbx_exec(svc, "s-0123", &x, &r), SBX_INVALID_ARGUMENT);
	still_serving();
}

TEST(credentials_and_unknown_sessions)
{
	sbx_options o = { .endpoint = d.endpoint, .service_key = "not-the-key-not-the-key" };
	sbx_client *c = NULL;
	sbx_session s;
	sbx_exec_opts x = { .command = "true" };
	sbx_exec_result r;

	REQUIRE_INT(sbx_client_open(&o, &c), SBX_OK);
	CHECK_INT(sbx_session_get(c, "s-0000", &s), SBX_UNAUTHENTICATED);
	sbx_client_close(c);
	o.service_key = NULL;
	REQUIRE_INT(sbx_client_open(&o, &c), SBX_OK);
	CHECK_INT(sbx_session_get(c, "s-0000", &s), SBX_UNAUTHENTICATED);
	CHECK_CONTAINS(sbx_last_error(c), "no credentials");
	sbx_client_close(c);
	CHECK_INT(sbx_session_get(svc, "s-0000", &s), SBX_NOT_FOUND);
	CHECK_INT(sbx_exec(svc, "s-0000", &x, &r), SBX_NOT_FOUND);
	CHECK_INT(sbx_session_end(svc, "s-0000", 0), SBX_NOT_FOUND);
	still_serving();
}

/* A second sbxd whose Docker socket path is a symlink we remove and restore. */
TEST(docker_outage_and_recovery)
{
	struct sbxd_proc o;
	char link[256], conf[400];
	sbx_client *c;
	sbx_session_create_opts co = { .user_id = "outage" };
	sbx_session s;

	snprintf(link, sizeof(link), "/tmp/sbx-docker-link-%d.sock", (int)getpid());
	unlink(link);
	snprintf(conf, sizeof(conf), "docker_socket = %s\n", link);
	REQUIRE_INT(harness_start(&o, conf), 0);
	REQUIRE((c = harness_client(&o, NULL)) != NULL);
	CHECK_INT(sbx_session_create(c, &co, &s, NULL), SBX_UNAVAILABLE);
	CHECK_CONTAINS(sbx_last_error(c), link);
	REQUIRE(symlink("/var/run/docker.sock", link) == 0);
	CHECK_INT(sbx_session_create(c, &co, &s, NULL), SBX_OK);   /* recovered, no restart */
	if (s.session_id) {
		CHECK_INT(sbx_session_end(c, s.session_id, 1), SBX_OK);
		sbx_session_fini(&s);
	}
	unlink(link);
	sbx_client_close(c);
	CHECK(harness_finish(&o, t_failures));
}

/* A tls+tcp:// listener: a client with the server's CA gets through; one
 * with another CA, or speaking plain tcp, does not. */
TEST(tls_listener)
{
	struct sbxd_proc t;
	sbx_options o = { 0 };
	sbx_client *c = NULL;
	sbx_session *s = NULL;
	size_t n = 0;

	REQUIRE_INT(harness_start_tls(&t), 0);
	REQUIRE((c = harness_client(&t, NULL)) != NULL);
	CHECK_INT(sbx_session_list(c, NULL, &s, &n, NULL), SBX_OK);
	sbx_session_list_free(s, n);
	sbx_client_close(c);
	o.endpoint = t.endpoint;
	o.service_key = HARNESS_KEY;
	o.tls_ca_file = "/etc/ssl/certs/ca-certificates.crt";   /* trusts public CAs, not ours */
	o.tls_server_name = "localhost";
	o.timeout_ms = 3000;
	o.connect_timeout_ms = 1500;
	REQUIRE_INT(sbx_client_open(&o, &c), SBX_OK);
	CHECK(sbx_session_list(c, NULL, &s, &n, NULL) != SBX_OK);
	sbx_client_close(c);
	o.endpoint = t.endpoint + 4;   /* "tcp://..." to a TLS port */
	o.tls_ca_file = NULL;
	REQUIRE_INT(sbx_client_open(&o, &c), SBX_OK);
	CHECK(sbx_session_list(c, NULL, &s, &n, NULL) != SBX_OK);
	sbx_client_close(c);
	CHECK(harness_finish(&t, t_failures));
}

int
main(void)
{
	if (harness_start(&d, "max_message_bytes = 1M") != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(malformed_envelope);
	RUN(unknown_method);
	RUN(oversize_message);
	RUN(missing_fields_and_hostile_users);
	RUN(credentials_and_unknown_sessions);
	RUN(tls_listener);
	if (harness_image_ready())
		RUN(docker_outage_and_recovery);
	else
		T_FAIL_("the default image is missing: deploy/images/build.sh python-minimal");
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	T_DONE();
}
