/*
 * test_dispatch.c — the request path without sockets: rpc_handle on packed
 * bytes, with a real SQLite store in a temp dir and a fake container
 * driver (to produce Docker outages and missing images on demand). Covers
 * the method table, every envelope failure, authentication before lookup,
 * and bad input to the session handlers. The same paths over real sockets
 * against real Docker are in tests/integration.
 */
#include <stdlib.h>
#include <unistd.h>


#include "dispatch.h"
#include "fake_driver.h"
#include "rpc.h"
#include "sbx/v1/sbx.pb-c.h"
#include "server.h"
#include "t.h"

#define KEY "test-service-key-0123456789"

/* ---- helpers */
static struct config cfg;
static struct server *srv;

static void
setup(void)
{
	srv = fake_server_open(&cfg, "dispatch", KEY, NULL);
}

/* Sends a request; returns the reply's code and copies its message. */
static int
call_raw(const void *req, size_t len, char *msg, size_t msgsz, Sbx__V1__Response **out)
{
	size_t rlen;
	void *reply = rpc_handle(srv, req, len, &rlen);
	Sbx__V1__Response *r = sbx__v1__response__unpack(NULL, rlen, reply);
	int code;

	free(reply);
	if (r == NULL)
		return -1;
	code = r->status ? (int)r->status->code : 0;
	if (msg)
		snprintf(msg, msgsz, "%s", r->status ? r->status->message : "");
	if (out)
		*out = r;
	else
		sbx__v1__response__free_unpacked(r, NULL);
	return code;
}

static int
call(const char *method, const char *key, const char *token, const ProtobufCMessage *payload,
    char *msg, size_t msgsz, Sbx__V1__Response **out)
{
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	uint8_t pbuf[65536], rbuf[70000];
	size_t len;

	cr.service_key = (char *)(key ? key : "");
	cr.session_token = (char *)(token ? token : "");
	rq.method = (char *)method;
	rq.request_id = "req-1";
	rq.credentials = &cr;
	if (payload) {
		rq.payload.len = protobuf_c_message_pack(payload, pbuf);
		rq.payload.data = pbuf;
	}
	len = sbx__v1__request__pack(&rq, rbuf);
	return call_raw(rbuf, len, msg, msgsz, out);
}

static int
create(const char *user, char *id, size_t idsz, char *token, size_t toksz, char *msg)
{
	Sbx__V1__CreateSessionRequest rq = SBX__V1__CREATE_SESSION_REQUEST__INIT;
	Sbx__V1__Response *resp = NULL;
	Sbx__V1__CreateSessionResponse *cs;
	int code;

	rq.user_id = (char *)user;
	code = call("sbx.v1.SessionService/CreateSession", KEY, NULL, &rq.base, msg, 512, &resp);
	if (code == 0 && resp) {
		cs = sbx__v1__create_session_response__unpack(NULL, resp->payload.len, resp->payload.data);
		snprintf(id, idsz, "%s", cs->session->session_id);
		snprintf(token, toksz, "%s", cs->session_token);
		sbx__v1__create_session_response__free_unpacked(cs, NULL);
	}
	if (resp)
		sbx__v1__response__free_unpacked(resp, NULL);
	return code;
}

/* ---- tests */
static void
count_method(const struct method *m, void *arg)
{
	int *n = arg;

	(*n)++;
	if (m->name == NULL || m->desc == NULL || strncmp(m->name, "sbx.v1.", 7) != 0)
		T_FAIL_("method without a table row");
	if (dispatch_find(m->name, strlen(m->name)) != m)
		T_FAIL_("%s does not look itself up", m->name);
}

TEST(every_method_has_a_row)
{
	int n = 0;

	dispatch_foreach(count_method, &n);
	CHECK_INT(n, (int)(sbx__v1__session_service__descriptor.n_methods +
	    sbx__v1__sandbox_service__descriptor.n_methods));
	CHECK(dispatch_find("sbx.v1.SandboxService/Nope", 26) == NULL);
	CHECK(dispatch_find("sbx.v1.SandboxService/", 22) == NULL);
	CHECK(dispatch_find("sbx.v1.SandboxService/Execute\0x", 31) == NULL);
}

TEST(envelope_errors)
{
	char msg[512];
	Sbx__V1__Response *r = NULL;

	CHECK_INT(call_raw("\xff\xff\xff", 3, msg, sizeof(msg), NULL), SBX__V1__CODE__INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "malformed request");
	CHECK_INT(call("sbx.v1.Nope/Nope", KEY, NULL, NULL, msg, sizeof(msg), &r), SBX__V1__CODE__UNIMPLEMENTED);
	CHECK_CONTAINS(msg, "unknown method");
	REQUIRE(r != NULL);
	CHECK_STR(r->request_id, "req-1");
	sbx__v1__response__free_unpacked(r, NULL);
	/* every method has a handler now: an empty request is checked */
	CHECK_INT(call("sbx.v1.SandboxService/StartProcess", KEY, NULL, NULL, msg, sizeof(msg), NULL), SBX__V1__CODE__INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "command is empty");
}

/* Strings must be UTF-8 in payloads (INVALID_ARGUMENT naming the field)
 * and in the request id (echoed in the reply, which must stay decodable);
 * credentials that are not UTF-8 are bad credentials. */
TEST(strings_must_be_utf8)
{
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	Sbx__V1__GetSessionRequest g = SBX__V1__GET_SESSION_REQUEST__INIT;
	Sbx__V1__Response *r = NULL;
	uint8_t pbuf[256], rbuf[1024];
	char msg[512];
	size_t len;

	g.session_id = "s-\xff";
	CHECK_INT(call("sbx.v1.SessionService/GetSession", KEY, NULL, &g.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "GetSessionRequest.session_id is not valid UTF-8");
	CHECK_INT(call("sbx.v1.SessionService/GetSession", "key-\xff", NULL, &g.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__UNAUTHENTICATED);
	g.session_id = "s-doesnotexist";
	cr.service_key = KEY;
	cr.session_token = "";
	rq.method = "sbx.v1.SessionService/GetSession";
	rq.request_id = "id-\xfe";
	rq.credentials = &cr;
	rq.payload.len = protobuf_c_message_pack(&g.base, pbuf);
	rq.payload.data = pbuf;
	len = sbx__v1__request__pack(&rq, rbuf);
	CHECK_INT(call_raw(rbuf, len, msg, sizeof(msg), &r), SBX__V1__CODE__INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "request_id is not valid UTF-8");
	REQUIRE(r != NULL);
	CHECK_STR(r->request_id, "");
	sbx__v1__response__free_unpacked(r, NULL);
}

TEST(authentication_comes_first)
{
	Sbx__V1__GetSessionRequest g = SBX__V1__GET_SESSION_REQUEST__INIT;
	char msg[512];

	g.session_id = "s-doesnotexist";
	CHECK_INT(call("sbx.v1.SessionService/GetSession", NULL, NULL, &g.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__UNAUTHENTICATED);
	CHECK_INT(call("sbx.v1.SessionService/GetSession", "wrong-key-wrong-key", NULL, &g.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__UNAUTHENTICATED);
	CHECK_INT(call("sbx.v1.SessionService/GetSession", NULL, "sbxt_forged", &g.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__UNAUTHENTICATED);
	CHECK_INT(call("sbx.v1.SessionService/GetSession", KEY, NULL, &g.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__NOT_FOUND);
}

TEST(malformed_payload_and_budget)
{
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	size_t n = 100000, len;
	uint8_t *labels = malloc(2 * n), *wire = malloc(2 * n + 1024);
	char msg[512];

	REQUIRE(labels && wire);
	for (size_t i = 0; i < n; i++) {
		labels[2 * i] = (3 << 3) | 2;
		labels[2 * i + 1] = 0;
	}
	cr.service_key = KEY;
	rq.credentials = &cr;
	rq.method = "sbx.v1.SessionService/ListSessions";
	rq.payload.data = labels;
	rq.payload.len = 2 * n;
	len = sbx__v1__request__pack(&rq, wire);
	CHECK_INT(call_raw(wire, len, msg, sizeof(msg), NULL), SBX__V1__CODE__RESOURCE_EXHAUSTED);
	rq.payload.data = (uint8_t *)"\x0a\xff";
	rq.payload.len = 2;
	len = sbx__v1__request__pack(&rq, wire);
	CHECK_INT(call_raw(wire, len, msg, sizeof(msg), NULL), SBX__V1__CODE__INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "malformed payload");
	free(labels);
	free(wire);
}

TEST(deadline_passed)
{
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	uint8_t wire[256];
	char msg[512];

	cr.service_key = KEY;
	rq.credentials = &cr;
	rq.method = "sbx.v1.SessionService/ListSessions";
	rq.deadline_unix_ms = 1000;
	CHECK_INT(call_raw(wire, sbx__v1__request__pack(&rq, wire), msg, sizeof(msg), NULL),
	    SBX__V1__CODE__DEADLINE_EXCEEDED);
}

TEST(hostile_user_ids)
{
	static const char *bad[] = { "", "../x", "/", ".hidden", "a/b", "a b", "-x", "ü", NULL };
	char id[64], tok[80], msg[512], big[10241];

	for (int i = 0; bad[i]; i++) {
		CHECK_INT(create(bad[i], id, sizeof(id), tok, sizeof(tok), msg), SBX__V1__CODE__INVALID_ARGUMENT);
		CHECK_CONTAINS(msg, "user_id must match");
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(create(big, id, sizeof(id), tok, sizeof(tok), msg), SBX__V1__CODE__INVALID_ARGUMENT);
	CHECK_INT(fake_creates, 0);
}

TEST(tokens_reach_one_session)
{
	char a[64], ta[80], b[64], tb[80], msg[512];
	Sbx__V1__GetSessionRequest g = SBX__V1__GET_SESSION_REQUEST__INIT;
	Sbx__V1__ListSessionsRequest l = SBX__V1__LIST_SESSIONS_REQUEST__INIT;
	Sbx__V1__ExecuteRequest x = SBX__V1__EXECUTE_REQUEST__INIT;

	REQUIRE_INT(create("alice", a, sizeof(a), ta, sizeof(ta), msg), 0);
	REQUIRE_INT(create("bob", b, sizeof(b), tb, sizeof(tb), msg), 0);
	g.session_id = a;
	CHECK_INT(call("sbx.v1.SessionService/GetSession", NULL, ta, &g.base, msg, sizeof(msg), NULL), 0);
	CHECK_INT(call("sbx.v1.SessionService/GetSession", NULL, tb, &g.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__PERMISSION_DENIED);
	CHECK_INT(call("sbx.v1.SessionService/ListSessions", NULL, ta, &l.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__PERMISSION_DENIED);
	x.session_id = a;
	x.command = "echo hi";
	CHECK_INT(call("sbx.v1.SandboxService/Execute", NULL, ta, &x.base, msg, sizeof(msg), NULL), 0);
	CHECK_INT(call("sbx.v1.SandboxService/Execute", NULL, tb, &x.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__PERMISSION_DENIED);
	x.command = "";
	CHECK_INT(call("sbx.v1.SandboxService/Execute", KEY, NULL, &x.base, msg, sizeof(msg), NULL),
	    SBX__V1__CODE__INVALID_ARGUMENT);
}

TEST(docker_outage_and_missing_image)
{
	char id[64], tok[80], msg[512];
	int removes;

	fake_down = 1;
	CHECK_INT(create("carol", id, sizeof(id), tok, sizeof(tok), msg), SBX__V1__CODE__UNAVAILABLE);
	CHECK_CONTAINS(msg, "not reachable");
	fake_down = 0;
	fake_image_missing = 1;
	CHECK_INT(create("carol", id, sizeof(id), tok, sizeof(tok), msg), SBX__V1__CODE__FAILED_PRECONDITION);
	CHECK_CONTAINS(msg, "deploy/images/build.sh python-minimal");
	fake_image_missing = 0;
	removes = fake_removes;
	CHECK_INT(create("carol", id, sizeof(id), tok, sizeof(tok), msg), 0);   /* recovered */
	CHECK_INT(fake_removes, removes);
}

int
main(void)
{
	setup();
	RUN(every_method_has_a_row);
	RUN(envelope_errors);
	RUN(authentication_comes_first);
	RUN(strings_must_be_utf8);
	RUN(malformed_payload_and_budget);
	RUN(deadline_passed);
	RUN(hostile_user_ids);
	RUN(tokens_reach_one_session);
	RUN(docker_outage_and_missing_image);
	server_close(srv);
	T_DONE();
}
