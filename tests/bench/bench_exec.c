/*
 * bench_exec.c — Execute(`true`) through sbx against the same exec done
 * directly on the Docker Engine API, on the same container, in one run.
 *
 * The baseline is the minimum any client must do for a command's output
 * and exit code: exec create, exec start (attached), exec inspect, over one
 * kept-alive libcurl connection to the unix socket. The two are
 * interleaved, one of each per round in alternating order, so drift on a
 * noisy machine lands on both. Also measured: a raw nng req/rep echo (the transport's floor) and
 * sbx's cheapest RPC, GetSession. Prints a table, or with --json one object
 * per figure as shared/DESIGN.md describes.
 *
 * usage: bench_exec [--json] [--iterations N] ENDPOINT   (SBX_SERVICE_KEY set)
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "sbx.h"

static int json;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return v[i];
}

static void
report(const char *figure, double *v, int n, const char *baseline, double *b, int bn, const char *target)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	if (b)
		qsort(b, (size_t)bn, sizeof(*b), cmp);
	if (json) {
		printf("{\"bench\": \"exec\", \"figure\": \"%s\", \"unit\": \"ms\", \"n\": %d, "
		    "\"sbx_p50\": %.4f, \"sbx_p90\": %.4f, \"sbx_p99\": %.4f", figure, n,
		    pct(v, n, .5), pct(v, n, .9), pct(v, n, .99));
		if (b)
			printf(", \"baseline\": \"%s\", \"baseline_p50\": %.4f, \"baseline_p90\": %.4f, "
			    "\"baseline_p99\": %.4f, \"ratio\": %.4f", baseline, pct(b, bn, .5),
			    pct(b, bn, .9), pct(b, bn, .99), pct(v, n, .5) / pct(b, bn, .5));
		if (target)
			printf(", \"target\": \"%s\"", target);
		printf("}\n");
		return;
	}
	printf("%-34s n=%-5d p50 %8.3f  p90 %8.3f  p99 %8.3f ms\n", figure, n,
	    pct(v, n, .5), pct(v, n, .9), pct(v, n, .99));
	if (b)
		printf("%-34s n=%-5d p50 %8.3f  p90 %8.3f  p99 %8.3f ms   ratio %.3f (target %s)\n",
		    baseline, bn, pct(b, bn, .5), pct(b, bn, .9), pct(b, bn, .99),
		    pct(v, n, .5) / pct(b, bn, .5), target ? target : "-");
}

/* ---- the raw Docker API baseline */

struct sink { char buf[4096]; size_t len; };

static size_t
collect(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t take = sz * n;

	if (take > sizeof(s->buf) - 1 - s->len)
		take = sizeof(s->buf) - 1 - s->len;
	memcpy(s->buf + s->len, p, take);
	s->len += take;
	s->buf[s->len] = '\0';
	return sz * n;
}

static int
api(CURL *h, const char *method, const char *url, const char *body, struct sink *out)
{
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	long status = 0;

	out->len = 0;
	out->buf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPGET, body == NULL ? 1L : 0L);
	if (body == NULL)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(h) != CURLE_OK)
		status = -1;
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	return (int)status;
}

static int
raw_exec_true(CURL *h, const char *cid)
{
	char url[512], id[128];
	struct sink s;
	const char *p;

	snprintf(url, sizeof(url), "http://localhost/v1.41/containers/%s/exec", cid);
	if (api(h, "POST", url, "{\"AttachStdout\":true,\"AttachStderr\":true,\"Cmd\":[\"sh\",\"-c\",\"true\"],"
	    "\"User\":\"1000:1000\",\"WorkingDir\":\"/workspace\"}", &s) != 201 ||
	    (p = strstr(s.buf, "\"Id\":\"")) == NULL)
		return -1;
	snprintf(id, sizeof(id), "%.64s", p + 6);
	snprintf(url, sizeof(url), "http://localhost/v1.41/exec/%s/start", id);
	if (api(h, "POST", url, "{\"Detach\":false,\"Tty\":false}", &s) != 200)
		return -1;
	/* The engine records the exit a moment after the stream ends: a
	 * correct client inspects until Running is false, as sbx does. */
	snprintf(url, sizeof(url), "http://localhost/v1.41/exec/%s/json", id);
	for (int i = 0; i < 1000; i++) {
		if (api(h, "GET", url, NULL, &s) != 200)
			return -1;
		if (strstr(s.buf, "\"Running\":false") != NULL)
			return strstr(s.buf, "\"ExitCode\":0") ? 0 : -1;
	}
	return -1;
}

/* ---- raw nng echo */

static void *
echo_server(void *arg)
{
	nng_socket *s = arg;
	nng_msg *m;

	while (nng_recvmsg(*s, &m, 0) == 0)
		if (nng_sendmsg(*s, m, 0) != 0)
			nng_msg_free(m);
	return NULL;
}

static void
bench_nng_echo(int n, double *v)
{
	nng_socket rep, req;
	pthread_t t;
	nng_msg *m;
	char payload[64] = "ping";

	nng_listener l;
	nng_sockaddr sa;
	char url[64];

	nng_rep0_open(&rep);
	nng_listen(rep, "tcp://127.0.0.1:0", &l, 0);
	nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", ntohs(sa.s_in.sa_port));
	pthread_create(&t, NULL, echo_server, &rep);
	nng_req0_open(&req);
	nng_dial(req, url, NULL, 0);
	for (int i = -50; i < n; i++) {
		double t0 = now_ms();

		nng_msg_alloc(&m, 0);
		nng_msg_append(m, payload, sizeof(payload));
		nng_sendmsg(req, m, 0);
		nng_recvmsg(req, &m, 0);
		nng_msg_free(m);
		if (i >= 0)
			v[i] = now_ms() - t0;
	}
	nng_close(req);
	nng_close(rep);
	pthread_join(t, NULL);
}

int
main(int argc, char **argv)
{
	int iters = 200, fails = 0;
	const char *endpoint = NULL;
	sbx_options o = { 0 };
	sbx_client *c;
	sbx_session s, g;
	sbx_session_create_opts co = { .user_id = "bench" };
	sbx_exec_opts xo = { .command = "true" };
	sbx_exec_result r;
	double *sv, *bv, *ev, *gv;
	CURL *h;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
			iters = atoi(argv[++i]);
		else
			endpoint = argv[i];
	}
	if (endpoint == NULL || iters < 10) {
		fprintf(stderr, "usage: bench_exec [--json] [--iterations N>=10] ENDPOINT\n");
		return 2;
	}
	o.endpoint = endpoint;
	o.service_key = getenv("SBX_SERVICE_KEY");
	if (sbx_client_open(&o, &c) != SBX_OK || sbx_session_create(c, &co, &s, NULL) != SBX_OK) {
		fprintf(stderr, "bench: cannot create a session: %s\n", sbx_last_error(c));
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, "/var/run/docker.sock");
	sv = calloc((size_t)iters, sizeof(double));
	bv = calloc((size_t)iters, sizeof(double));
	ev = calloc((size_t)iters * 10, sizeof(double));
	gv = calloc((size_t)iters * 5, sizeof(double));
	/* 10 warm-up rounds; then each round runs both, in alternating order. */
	for (int i = -10; i < iters; i++) {
		for (int k = 0; k < 2; k++) {
			int sbx_turn = (k == 0) == (i % 2 == 0);
			double t0 = now_ms(), t;

			if (sbx_turn) {
				if (sbx_exec(c, s.session_id, &xo, &r) != SBX_OK || r.exit_code != 0)
					fails++;
				sbx_exec_result_fini(&r);
			} else if (raw_exec_true(h, s.container_id) != 0)
				fails++;
			t = now_ms() - t0;
			if (i >= 0)
				(sbx_turn ? sv : bv)[i] = t;
		}
	}
	for (int i = -50; i < iters * 5; i++) {
		double t0 = now_ms();

		if (sbx_session_get(c, s.session_id, &g) != SBX_OK)
			fails++;
		sbx_session_fini(&g);
		if (i >= 0)
			gv[i] = now_ms() - t0;
	}
	bench_nng_echo(iters * 10, ev);
	report("Execute(true) via sbx", sv, iters, "Docker API exec (create+start+inspect)", bv, iters, "<= 1.05");
	report("GetSession RTT via sbx", gv, iters * 5, NULL, NULL, 0, NULL);
	report("raw nng req/rep echo RTT", ev, iters * 10, NULL, NULL, 0, NULL);
	sbx_session_end(c, s.session_id, 1);
	sbx_session_fini(&s);
	sbx_client_close(c);
	curl_easy_cleanup(h);
	if (fails)
		fprintf(stderr, "bench: %d calls failed\n", fails);
	return fails ? 1 : 0;
}
