/*
 * test_rpc_drain.c — the rpc server's drain over a real socket, with the
 * fake driver holding a call past the drain: a CreateSession whose
 * container start outlasts it is answered UNAVAILABLE in its stead with a
 * message saying the call was abandoned, and rpc_server_stop reports the
 * worker still running instead of waiting for it (sbxd then exits). The
 * real engine's side — a foreground Execute killed at the drain — is in
 * tests/integration/test_shutdown.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "config.h"
#include "fake_driver.h"
#include "rpc.h"
#include "sbx/v1/sbx.pb-c.h"
#include "server.h"
#include "t.h"

#define KEY "drain-test-service-key-0123456789abcdef"
#define SAFETY_MS 120000     /* a net against a hang, never a time budget */

static char url[64];

struct reply {
	int code;
	char msg[512];
};

/* A loopback port nothing listens on now. */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* CreateSession on its own REQ socket, without retries. */
static void *
create_session(void *arg)
{
	struct reply *out = arg;
	Sbx__V1__CreateSessionRequest cs = SBX__V1__CREATE_SESSION_REQUEST__INIT;
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	Sbx__V1__Response *r;
	uint8_t pay[256], buf[1024];
	nng_socket s;
	nng_msg *m;

	out->code = -1;
	cs.user_id = "drain-user";
	rq.payload.len = sbx__v1__create_session_request__pack(&cs, pay);
	rq.payload.data = pay;
	cr.service_key = KEY;
	rq.credentials = &cr;
	rq.method = "sbx.v1.SessionService/CreateSession";
	rq.request_id = "drain-1";
	if (nng_req0_open(&s) != 0)
		return NULL;
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, SAFETY_MS);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (nng_dial(s, url, NULL, 0) == 0 &&
	    nng_send(s, buf, sbx__v1__request__pack(&rq, buf), 0) == 0 &&
	    nng_recvmsg(s, &m, 0) == 0) {
		if ((r = sbx__v1__response__unpack(NULL, nng_msg_len(m), nng_msg_body(m))) != NULL) {
			out->code = r->status ? (int)r->status->code : 0;
			snprintf(out->msg, sizeof(out->msg), "%s", r->status ? r->status->message : "");
			sbx__v1__response__free_unpacked(r, NULL);
		}
		nng_msg_free(m);
	}
	nng_close(s);
	return NULL;
}

TEST(a_call_outlasting_the_drain_is_answered_for)
{
	static struct config cfg;
	const char *extra[] = { "listen", url, "pool_size", "0", NULL };
	struct reply rep = { .code = -1 };
	struct rpc_server *r = NULL;
	struct server *srv;
	struct err e;
	pthread_t th;

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", free_port());
	srv = fake_server_open(&cfg, "drain", KEY, extra);
	REQUIRE_INT(rpc_server_start(srv, &r, &e), SBXD_OK);
	fake_start_delay_us = 3 * SAFETY_MS * 1000;    /* the start outlasts everything */
	REQUIRE_INT(pthread_create(&th, NULL, create_session, &rep), 0);
	for (int i = 0; i < SAFETY_MS && __atomic_load_n(&fake_creates, __ATOMIC_RELAXED) == 0; i++)
		usleep(1000);                            /* until the call is on a worker */
	REQUIRE(__atomic_load_n(&fake_creates, __ATOMIC_RELAXED) > 0);
	CHECK_INT(rpc_server_stop(r, 1000), 1);      /* one worker left running */
	pthread_join(th, NULL);
	CHECK_INT(rep.code, SBX__V1__CODE__UNAVAILABLE);
	CHECK_CONTAINS(rep.msg, "sbxd is stopping; the call was still running and was abandoned");
	/* srv and its worker stay: the process exits, as sbxd does */
}

int
main(void)
{
	RUN(a_call_outlasting_the_drain_is_answered_for);
	fflush(stderr);
	if (t_failures == 0)
		fprintf(stderr, "0 failures\n");
	_exit(t_failures ? 1 : 0);
}
