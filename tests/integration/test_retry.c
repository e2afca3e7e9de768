/*
 * test_retry.c — safe retries against a real sbxd and real containers:
 * one request sent twice with the same id runs once and both get the first
 * reply (and the same id under another credential is another call); a
 * Write and an Execute whose reply is lost with its connection (a TCP
 * relay between libsbx and sbxd drops the connection instead of passing
 * the reply on) are retried by libsbx and take effect once; an Execute
 * whose connection is cut while it runs is retried, waits for the first
 * run and takes effect once.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"

static struct sbxd_proc d;
static sbx_client *svc;
static sbx_session sess;
static char *token;

/* ---------------------------------------------------------------- a TCP relay that can lose replies */

#define RELAY_PAIRS 16

struct relay {
	int lfd, port;
	int ctl[2];                 /* a byte here: cut every connection */
	int cfd[RELAY_PAIRS], sfd[RELAY_PAIRS];
	atomic_int cut_on_reply;    /* drop the next server->client bytes and cut */
	atomic_int cuts;
	atomic_long to_server;      /* bytes passed client->server */
	atomic_int stop;
	pthread_t th;
};

static struct relay rl;

static void
pair_close(struct relay *r, int i)
{
	if (r->cfd[i] >= 0)
		close(r->cfd[i]);
	if (r->sfd[i] >= 0)
		close(r->sfd[i]);
	r->cfd[i] = r->sfd[i] = -1;
}

static void
relay_accept(struct relay *r, int server_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)server_port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int c = accept(r->lfd, NULL, NULL), s, i;

	if (c < 0)
		return;
	for (i = 0; i < RELAY_PAIRS && r->cfd[i] >= 0; i++)
		;
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (i == RELAY_PAIRS || s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(c);
		if (s >= 0)
			close(s);
		return;
	}
	r->cfd[i] = c;
	r->sfd[i] = s;
}

/* Moves bytes one way; returns -1 when the pair is to be closed. */
static int
pass(struct relay *r, int from, int to, int from_server)
{
	char buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));
	int one = 1;

	if (n <= 0)
		return -1;
	if (from_server && atomic_compare_exchange_strong(&r->cut_on_reply, &one, 0)) {
		atomic_fetch_add(&r->cuts, 1);
		return -1;          /* the reply is lost with the connection */
	}
	if (write(to, buf, (size_t)n) != n)
		return -1;
	if (!from_server)
		atomic_fetch_add(&r->to_server, n);
	return 0;
}

static void *
relay_main(void *arg)
{
	struct relay *r = arg;
	int server_port = atoi(strrchr(d.endpoint, ':') + 1);

	while (!atomic_load(&r->stop)) {
		struct pollfd p[2 + 2 * RELAY_PAIRS];
		int n = 0, idx[2 + 2 * RELAY_PAIRS];
		char b;

		p[n++] = (struct pollfd){ .fd = r->lfd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = r->ctl[0], .events = POLLIN };
		for (int i = 0; i < RELAY_PAIRS; i++) {
			if (r->cfd[i] < 0)
				continue;
			idx[n] = i;
			p[n++] = (struct pollfd){ .fd = r->cfd[i], .events = POLLIN };
			idx[n] = i;
			p[n++] = (struct pollfd){ .fd = r->sfd[i], .events = POLLIN };
		}
		if (poll(p, (nfds_t)n, 200) <= 0)
			continue;
		if (p[0].revents & POLLIN)
			relay_accept(r, server_port);
		if (p[1].revents & POLLIN) {
			if (read(r->ctl[0], &b, 1) == 1)
				for (int i = 0; i < RELAY_PAIRS; i++)
					if (r->cfd[i] >= 0) {
						pair_close(r, i);
						atomic_fetch_add(&r->cuts, 1);
					}
			continue;
		}
		for (int k = 2; k < n; k++) {
			int i = idx[k], from_server = p[k].fd == r->sfd[i];

			if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)) || r->cfd[i] < 0)
				continue;
			if (pass(r, p[k].fd, from_server ? r->cfd[i] : r->sfd[i], from_server) != 0)
				pair_close(r, i);
		}
	}
	return NULL;
}

static int
relay_start(struct relay *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	for (int i = 0; i < RELAY_PAIRS; i++)
		r->cfd[i] = r->sfd[i] = -1;
	if ((r->lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(r->lfd, 16) != 0 ||
	    getsockname(r->lfd, (struct sockaddr *)&sa, &len) != 0 || pipe(r->ctl) != 0)
		return -1;
	r->port = ntohs(sa.sin_port);
	return pthread_create(&r->th, NULL, relay_main, r) == 0 ? 0 : -1;
}

static void
relay_cut_all(struct relay *r)
{
	char b = 'x';

	if (write(r->ctl[1], &b, 1) != 1)
		perror("relay control");
}

static void
relay_stop(struct relay *r)
{
	atomic_store(&r->stop, 1);
	pthread_join(r->th, NULL);
	for (int i = 0; i < RELAY_PAIRS; i++)
		pair_close(r, i);
	close(r->lfd);
	close(r->ctl[0]);
	close(r->ctl[1]);
}

static sbx_client *
relay_client(void)
{
	char url[64];
	sbx_options o = { .service_key = HARNESS_KEY, .timeout_ms = HARNESS_WAIT_MS };
	sbx_client *c = NULL;

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", rl.port);
	o.endpoint = url;
	return sbx_client_open(&o, &c) == SBX_OK ? c : NULL;
}

/* ---------------------------------------------------------------- helpers */

/* The workspace file's content (static), "" when it cannot be read. */
static const char *
file(const char *path)
{
	static char out[4096];
	char *t = NULL;
	size_t n = 0;

	out[0] = '\0';
	if (sbx_read_bytes(svc, sess.session_id, path, 0, 0, (void **)&t, &n) == SBX_OK &&
	    t != NULL)
		snprintf(out, sizeof(out), "%.*s", (int)n, t);
	sbx_free(t);
	return out;
}

/* Sends one packed Execute with request id rid and credentials (service
 * key or token) on a raw REQ socket; returns the packed Response. */
static nng_msg *
raw_execute(const char *rid, const char *key, const char *tok, const char *cmd)
{
	Sbx__V1__ExecuteRequest x = SBX__V1__EXECUTE_REQUEST__INIT;
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	uint8_t pbuf[1024];
	nng_socket s;
	nng_msg *m = NULL;

	x.session_id = sess.session_id;
	x.command = (char *)cmd;
	x.timeout_ms = 60000;
	rq.method = "sbx.v1.SandboxService/Execute";
	rq.request_id = (char *)rid;
	cr.service_key = (char *)(key ? key : "");
	cr.session_token = (char *)(tok ? tok : "");
	rq.credentials = &cr;
	rq.payload.data = pbuf;
	rq.payload.len = sbx__v1__execute_request__pack(&x, pbuf);
	if (nng_req0_open(&s) != 0)
		return NULL;
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, HARNESS_WAIT_MS);
	if (nng_dial(s, d.endpoint, NULL, 0) == 0 &&
	    nng_msg_alloc(&m, sbx__v1__request__get_packed_size(&rq)) == 0) {
		sbx__v1__request__pack(&rq, nng_msg_body(m));
		if (nng_sendmsg(s, m, 0) != 0) {
			nng_msg_free(m);
			m = NULL;
		} else if (nng_recvmsg(s, &m, 0) != 0) {
			m = NULL;
		}
	}
	nng_close(s);
	return m;
}

static int
count_lines(const char *s, const char *line)
{
	int n = 0;
	size_t l = strlen(line);

	for (const char *p = s; (p = strstr(p, line)) != NULL; p += l)
		n++;
	return n;
}

/* ---------------------------------------------------------------- tests */

TEST(duplicated_request_id_runs_once)
{
	const char *cmd = "echo run >> /workspace/dup.txt; date +%s%N";
	nng_msg *a, *b, *c;
	Sbx__V1__Response *ra = NULL, *rb = NULL, *rc = NULL;

	a = raw_execute("dup-id-1", HARNESS_KEY, NULL, cmd);
	b = raw_execute("dup-id-1", HARNESS_KEY, NULL, cmd);
	REQUIRE(a != NULL && b != NULL);
	ra = sbx__v1__response__unpack(NULL, nng_msg_len(a), nng_msg_body(a));
	rb = sbx__v1__response__unpack(NULL, nng_msg_len(b), nng_msg_body(b));
	REQUIRE(ra != NULL && rb != NULL);
	CHECK_INT(ra->status->code, 0);
	CHECK_INT(nng_msg_len(a), nng_msg_len(b));
	CHECK(nng_msg_len(a) == nng_msg_len(b) &&
	    memcmp(nng_msg_body(a), nng_msg_body(b), nng_msg_len(a)) == 0);
	CHECK_INT(count_lines(file("dup.txt"), "run"), 1);
	/* the same id under another credential (the session's token) is its own call */
	c = raw_execute("dup-id-1", NULL, token, cmd);
	REQUIRE(c != NULL);
	rc = sbx__v1__response__unpack(NULL, nng_msg_len(c), nng_msg_body(c));
	REQUIRE(rc != NULL);
	CHECK_INT(rc->status->code, 0);
	CHECK_INT(count_lines(file("dup.txt"), "run"), 2);
	sbx__v1__response__free_unpacked(ra, NULL);
	sbx__v1__response__free_unpacked(rb, NULL);
	sbx__v1__response__free_unpacked(rc, NULL);
	nng_msg_free(a);
	nng_msg_free(b);
	nng_msg_free(c);
}

TEST(lost_reply_of_write_is_retried_once)
{
	sbx_client *pc = relay_client();
	int cuts0 = atomic_load(&rl.cuts);

	REQUIRE(pc != NULL);
	REQUIRE_INT(sbx_write(pc, sess.session_id, "w0.txt", "x", 1, 0), SBX_OK); /* connected */
	atomic_store(&rl.cut_on_reply, 1);
	CHECK_INT(sbx_write(pc, sess.session_id, "w.txt", "line\n", 5, 1), SBX_OK);
	CHECK_INT(atomic_load(&rl.cuts), cuts0 + 1);
	CHECK_STR(file("w.txt"), "line\n");
	sbx_client_close(pc);
}

TEST(lost_reply_of_execute_is_retried_once)
{
	sbx_client *pc = relay_client();
	sbx_exec_opts o = { .command = "echo x >> /workspace/e.txt; echo done" };
	sbx_exec_result r;
	int cuts0 = atomic_load(&rl.cuts);

	REQUIRE(pc != NULL);
	REQUIRE_INT(sbx_write(pc, sess.session_id, "w0.txt", "x", 1, 0), SBX_OK);
	atomic_store(&rl.cut_on_reply, 1);
	REQUIRE_INT(sbx_exec(pc, sess.session_id, &o, &r), SBX_OK);
	CHECK_INT(r.exit_code, 0);
	CHECK_STR(r.out.data ? (char *)r.out.data : "", "done\n");
	sbx_exec_result_fini(&r);
	CHECK_INT(atomic_load(&rl.cuts), cuts0 + 1);
	CHECK_STR(file("e.txt"), "x\n");
	sbx_client_close(pc);
}

struct bg_exec {
	sbx_client *c;
	sbx_err rv;
	int exit_code;
};

static void *
bg_exec(void *arg)
{
	struct bg_exec *b = arg;
	sbx_exec_opts o = { .command = "echo run >> /workspace/slow.txt; "
	    "while [ ! -e /workspace/go ]; do sleep 0.05; done; echo finished",
	    .timeout_ms = HARNESS_WAIT_MS };
	sbx_exec_result r;

	if ((b->rv = sbx_exec(b->c, sess.session_id, &o, &r)) == SBX_OK) {
		b->exit_code = r.exit_code;
		sbx_exec_result_fini(&r);
	}
	return NULL;
}

TEST(connection_cut_mid_execute_runs_once)
{
	struct bg_exec b = { .c = relay_client(), .rv = -1 };
	uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	long sent;
	pthread_t th;

	REQUIRE(b.c != NULL);
	REQUIRE(pthread_create(&th, NULL, bg_exec, &b) == 0);
	while (count_lines(file("slow.txt"), "run") == 0 && harness_now_ms() < end)
		usleep(20000);   /* polling for the command to have started */
	CHECK_INT(count_lines(file("slow.txt"), "run"), 1);
	sent = atomic_load(&rl.to_server);
	relay_cut_all(&rl);
	/* the retry reaches sbxd while the first run still waits for go */
	while (atomic_load(&rl.to_server) == sent && harness_now_ms() < end)
		usleep(20000);
	CHECK(atomic_load(&rl.to_server) > sent);
	CHECK_INT(sbx_write(svc, sess.session_id, "go", "", 0, 0), SBX_OK);
	pthread_join(th, NULL);
	CHECK_INT(b.rv, SBX_OK);
	CHECK_INT(b.exit_code, 0);
	CHECK_INT(count_lines(file("slow.txt"), "run"), 1);
	sbx_client_close(b.c);
}

int
main(void)
{
	sbx_session_create_opts o = { .user_id = "retry-user" };
	int failed;

	if (!harness_image_ready() || harness_start(&d, NULL) != 0)
		return 1;
	svc = harness_client(&d, NULL);
	if (svc == NULL || sbx_session_create(svc, &o, &sess, &token) != SBX_OK ||
	    relay_start(&rl) != 0) {
		fprintf(stderr, "setup: %s\n", sbx_last_error(svc));
		harness_finish(&d, 1);
		return 1;
	}
	RUN(duplicated_request_id_runs_once);
	RUN(lost_reply_of_write_is_retried_once);
	RUN(lost_reply_of_execute_is_retried_once);
	RUN(connection_cut_mid_execute_runs_once);
	relay_stop(&rl);
	sbx_session_end(svc, sess.session_id, 1);
	sbx_session_fini(&sess);
	sbx_free(token);
	sbx_client_close(svc);
	failed = t_failures != 0;
	if (!harness_finish(&d, failed))
		t_failures++;
	T_DONE();
}
