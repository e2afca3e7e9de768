/*
 * fuzz_seeds.c — writes a seed corpus for fuzz_rpc into the directory
 * given: one valid, authenticated request per implemented RPC.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sbx/v1/sbx.pb-c.h"

#define FUZZ_KEY "fuzz-service-key-0123456789"

static void
seed(const char *dir, const char *name, const char *method, const ProtobufCMessage *payload)
{
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	uint8_t pbuf[4096], buf[8192];
	char path[512];
	size_t n;
	FILE *f;

	cr.service_key = FUZZ_KEY;
	rq.credentials = &cr;
	rq.method = (char *)method;
	rq.request_id = "seed";
	rq.payload.len = protobuf_c_message_pack(payload, pbuf);
	rq.payload.data = pbuf;
	n = sbx__v1__request__pack(&rq, buf);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, n, f) != n)
		exit(1);
	fclose(f);
}

int
main(int argc, char **argv)
{
	Sbx__V1__CreateSessionRequest c = SBX__V1__CREATE_SESSION_REQUEST__INIT;
	Sbx__V1__ListSessionsRequest l = SBX__V1__LIST_SESSIONS_REQUEST__INIT;
	Sbx__V1__ExecuteRequest x = SBX__V1__EXECUTE_REQUEST__INIT;
	Sbx__V1__WriteRequest w = SBX__V1__WRITE_REQUEST__INIT;
	Sbx__V1__ReadRequest r = SBX__V1__READ_REQUEST__INIT;
	Sbx__V1__EnvVar ev = SBX__V1__ENV_VAR__INIT, *evs[1] = { &ev };
	Sbx__V1__Label lb = SBX__V1__LABEL__INIT, *lbs[1] = { &lb };

	if (argc != 2)
		return 2;
	c.user_id = "alice";
	lb.key = "team";
	lb.value = "red";
	c.labels = lbs;
	c.n_labels = 1;
	seed(argv[1], "create", "sbx.v1.SessionService/CreateSession", &c.base);
	seed(argv[1], "goc", "sbx.v1.SessionService/GetOrCreateSession", &c.base);
	l.page_size = 10;
	l.user_id = "alice";
	seed(argv[1], "list", "sbx.v1.SessionService/ListSessions", &l.base);
	x.session_id = "s-0123456789abcdef0123456789abcdef";
	x.command = "echo hi";
	ev.name = "A";
	ev.value = "b";
	x.env = evs;
	x.n_env = 1;
	x.cwd = "sub";
	seed(argv[1], "exec", "sbx.v1.SandboxService/Execute", &x.base);
	w.session_id = x.session_id;
	w.path = "/workspace/a/b.txt";
	w.content.data = (uint8_t *)"data\n";
	w.content.len = 5;
	seed(argv[1], "write", "sbx.v1.SandboxService/Write", &w.base);
	r.session_id = x.session_id;
	r.path = "a/../b.txt";
	r.limit = 5;
	seed(argv[1], "read", "sbx.v1.SandboxService/Read", &r.base);
	return 0;
}
