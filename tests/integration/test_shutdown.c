/*
 * test_shutdown.c — SIGTERM with a command in flight, against a real sbxd
 * and a real container: sbxd stops within its drain, the Execute in flight
 * is answered ABORTED (not UNAVAILABLE, which clients retry) saying its
 * command was killed, the command's
 * processes are gone while a background process in the same container
 * keeps running, and sbxd exits. The exit time is printed, never asserted;
 * the only bound is the harness's safety net against a hang.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"

#define DRAIN "4s"
/* 0 when a process whose command line is exactly `words` runs */
#define RUNNING(words) "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <\"$f\"; echo; done " \
	"| grep -qx '" words " '"

static struct sbxd_proc d;
static sbx_client *svc;

struct inflight {
	char sid[64];
	int code;                   /* the reply's status, -1 when none came */
	char msg[512];
};

/* Sends Execute(sleep 1000) on its own REQ socket (no retries: the reply
 * is the one sbxd sent) and keeps the reply's status. */
static void *
execute_sleep(void *arg)
{
	struct inflight *f = arg;
	Sbx__V1__ExecuteRequest ex = SBX__V1__EXECUTE_REQUEST__INIT;
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	Sbx__V1__Response *r;
	uint8_t pay[512], buf[1024];
	nng_socket s;
	nng_msg *m;

	f->code = -1;
	ex.session_id = f->sid;
	ex.command = "sleep 1000";
	ex.timeout_ms = 280000;
	rq.payload.len = sbx__v1__execute_request__pack(&ex, pay);
	rq.payload.data = pay;
	cr.service_key = HARNESS_KEY;
	rq.credentials = &cr;
	rq.method = "sbx.v1.SandboxService/Execute";
	rq.request_id = "shutdown-1";
	if (nng_req0_open(&s) != 0)
		return NULL;
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, HARNESS_WAIT_MS);   /* a safety net */
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (nng_dial(s, d.endpoint, NULL, 0) == 0 &&
	    nng_send(s, buf, sbx__v1__request__pack(&rq, buf), 0) == 0 &&
	    nng_recvmsg(s, &m, 0) == 0) {
		if ((r = sbx__v1__response__unpack(NULL, nng_msg_len(m), nng_msg_body(m))) != NULL) {
			f->code = r->status ? (int)r->status->code : 0;
			snprintf(f->msg, sizeof(f->msg), "%s", r->status ? r->status->message : "");
			sbx__v1__response__free_unpacked(r, NULL);
		}
		nng_msg_free(m);
	}
	nng_close(s);
	return NULL;
}

/* Waits (polling the container, bounded by the safety net) until
 * `sleep 1000` runs in the session. */
static int
wait_running(const char *sid)
{
	uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;

	while (harness_now_ms() < end)
		if (harness_exec_status(svc, sid, RUNNING("sleep 1000"), 60000) == 0)
			return 0;
	return -1;
}

TEST(sigterm_with_an_execute_in_flight)
{
	sbx_session_create_opts o = { .user_id = "shutdown-user" };
	sbx_process_opts po = { .command = "sleep 999" };
	sbx_session s;
	sbx_process p;
	struct inflight f = { .code = -1 };
	char *token = NULL;
	pthread_t th;
	uint64_t t0;
	int status;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, &token), SBX_OK);
	snprintf(f.sid, sizeof(f.sid), "%s", s.session_id);
	REQUIRE_INT(sbx_process_start(svc, f.sid, &po, &p), SBX_OK);
	sbx_process_fini(&p);
	REQUIRE_INT(pthread_create(&th, NULL, execute_sleep, &f), 0);
	REQUIRE_INT(wait_running(f.sid), 0);
	t0 = harness_now_ms();
	REQUIRE_INT(kill(d.pid, SIGTERM), 0);
	REQUIRE_INT(waitpid(d.pid, &status, 0), d.pid);   /* the exit event; no time bound */
	printf("sbxd exited %llu ms after SIGTERM (drain = %s), status %d\n",
	    (unsigned long long)(harness_now_ms() - t0), DRAIN,
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	d.pid = 0;
	pthread_join(th, NULL);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(f.code, SBX__V1__CODE__ABORTED);
	CHECK_CONTAINS(f.msg, "sbxd is stopping; the command was killed");
	/* restarted: the command is gone, the background process is not */
	sbx_client_close(svc);
	REQUIRE_INT(harness_restart(&d), 0);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	CHECK_INT(harness_exec_status(svc, f.sid, RUNNING("sleep 1000"), 60000), 1);
	CHECK_INT(harness_exec_status(svc, f.sid, RUNNING("sleep 999"), 60000), 0);
	sbx_free(token);
	sbx_session_fini(&s);
}

int
main(void)
{
	if (!harness_image_ready())
		return 1;
	if (harness_start(&d, "drain = " DRAIN) != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(sigterm_with_an_execute_in_flight);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	T_DONE();
}
