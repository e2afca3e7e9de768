/*
 * bench.c — see bench.h.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench.h"

int bench_json;
const char *bench_name = "?";

int
bench_parse_args(int argc, char **argv, int *iters, const char **endpoint)
{
	*iters = 200;
	*endpoint = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			bench_json = 1;
		else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
			*iters = atoi(argv[++i]);
		else
			*endpoint = argv[i];
	}
	if (*endpoint == NULL || *iters < 10) {
		fprintf(stderr, "usage: bench_%s [--json] [--iterations N>=10] ENDPOINT\n",
		    bench_name);
		return -1;
	}
	return 0;
}

int
bench_run_true(sbx_client *c, const char *sid)
{
	sbx_exec_opts xo = { .command = "true" };
	sbx_exec_result r;
	int rv = sbx_exec(c, sid, &xo, &r) == SBX_OK && r.exit_code == 0 ? 0 : -1;

	sbx_exec_result_fini(&r);
	return rv;
}

#define AGENT_TRIES 100
#define AGENT_FAST_MS 5.0

int
bench_wait_agent(sbx_client *c, const char *sid)
{
	for (int i = 0; i < AGENT_TRIES; i++) {
		double t0 = bench_now_ms();

		if (bench_run_true(c, sid) == 0 && bench_now_ms() - t0 < AGENT_FAST_MS)
			return 0;
	}
	fprintf(stderr, "bench: session %s: no Execute(true) under %.0f ms in %d tries "
	    "(its agent is not answering; timing the route it gets)\n", sid, AGENT_FAST_MS,
	    AGENT_TRIES);
	return -1;
}

int
bench_open(const char *endpoint, const char *user, sbx_client **c, sbx_session *s)
{
	sbx_options o = { .endpoint = endpoint, .service_key = getenv("SBX_SERVICE_KEY") };
	sbx_session_create_opts co = { .user_id = user };

	if (sbx_client_open(&o, c) != SBX_OK || sbx_session_create(*c, &co, s, NULL) != SBX_OK)
		return -1;
	return 0;
}

double
bench_now_ms(void)
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
pct(const double *v, int n, double p)
{
	return v[(int)(p * (n - 1) + 0.5)];
}

double
bench_pct(const double *v, int n, double p)
{
	return pct(v, n, p);
}

void
bench_report(const char *figure, double *v, int n, const char *baseline, double *b, int bn,
    const char *target)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	if (b)
		qsort(b, (size_t)bn, sizeof(*b), cmp);
	if (bench_json) {
		printf("{\"bench\": \"%s\", \"figure\": \"%s\", \"unit\": \"ms\", \"n\": %d, "
		    "\"sbx_p50\": %.4f, \"sbx_p90\": %.4f, \"sbx_p99\": %.4f", bench_name, figure, n,
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
	printf("%-40s n=%-5d p50 %8.3f  p90 %8.3f  p99 %8.3f ms\n", figure, n,
	    pct(v, n, .5), pct(v, n, .9), pct(v, n, .99));
	if (b)
		printf("%-40s n=%-5d p50 %8.3f  p90 %8.3f  p99 %8.3f ms   ratio %.3f (target %s)\n",
		    baseline, bn, pct(b, bn, .5), pct(b, bn, .9), pct(b, bn, .99),
		    pct(v, n, .5) / pct(b, bn, .5), target ? target : "-");
}

void
bench_report_ratio(const char *figure, double ratio, const char *target)
{
	if (bench_json)
		printf("{\"bench\": \"%s\", \"figure\": \"%s\", \"ratio\": %.4f, \"target\": \"%s\"}\n",
		    bench_name, figure, ratio, target);
	else
		printf("%-40s ratio %.3f (target %s)\n", figure, ratio, target);
}

void
bench_report_value(const char *figure, double value, const char *unit, const char *target)
{
	if (bench_json) {
		printf("{\"bench\": \"%s\", \"figure\": \"%s\", \"unit\": \"%s\", "
		    "\"value\": %.3f", bench_name, figure, unit, value);
		if (target)
			printf(", \"target\": \"%s\"", target);
		printf("}\n");
	} else
		printf("%-40s %.3f %s%s%s\n", figure, value, unit, target ? "   target " : "",
		    target ? target : "");
}

long
bench_rss_kb(const char *pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid == NULL)
		return -1;
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ---- the raw Docker API baseline */

struct sink {
	char buf[4096];
	size_t len;
	size_t total;
};

static size_t
collect(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t take = sz * n;

	s->total += sz * n;
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

	memset(out, 0, sizeof(*out));
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (body != NULL)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	else
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
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

CURL *
bench_docker_handle(void)
{
	CURL *h;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((h = curl_easy_init()) != NULL)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, "/var/run/docker.sock");
	return h;
}

int
raw_exec(CURL *h, const char *cid, const char *cmd, size_t *outlen)
{
	const char *argv[] = { "sh", "-c", cmd };
	char url[512], id[128], *body;
	cJSON *o = cJSON_CreateObject();
	struct sink s;
	const char *p;
	int status;

	cJSON_AddBoolToObject(o, "AttachStdout", 1);
	cJSON_AddBoolToObject(o, "AttachStderr", 1);
	cJSON_AddItemToObject(o, "Cmd", cJSON_CreateStringArray(argv, 3));
	cJSON_AddStringToObject(o, "User", "1000:1000");
	cJSON_AddStringToObject(o, "WorkingDir", "/workspace");
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	snprintf(url, sizeof(url), "http://localhost/v1.41/containers/%s/exec", cid);
	status = api(h, "POST", url, body, &s);
	free(body);
	if (status != 201 || (p = strstr(s.buf, "\"Id\":\"")) == NULL)
		return -1;
	snprintf(id, sizeof(id), "%.64s", p + 6);
	snprintf(url, sizeof(url), "http://localhost/v1.41/exec/%s/start", id);
	if (api(h, "POST", url, "{\"Detach\":false,\"Tty\":false}", &s) != 200)
		return -1;
	if (outlen != NULL)
		*outlen = s.total;
	/* The engine records the exit a moment after the stream ends: a
	 * correct client inspects until Running is false, as sbx does. */
	snprintf(url, sizeof(url), "http://localhost/v1.41/exec/%s/json", id);
	for (int i = 0; i < 1000; i++) {
		if (api(h, "GET", url, NULL, &s) != 200)
			return -1;
		if (strstr(s.buf, "\"Running\":false") != NULL)
			return (p = strstr(s.buf, "\"ExitCode\":")) ? atoi(p + 11) : -1;
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

void
bench_nng_echo(int n, double *v)
{
	nng_socket rep, req;
	nng_listener l;
	nng_sockaddr sa;
	pthread_t t;
	nng_msg *m;
	char payload[64] = "ping", url[64];

	nng_rep0_open(&rep);
	nng_listen(rep, "tcp://127.0.0.1:0", &l, 0);
	nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", ntohs(sa.s_in.sa_port));
	pthread_create(&t, NULL, echo_server, &rep);
	nng_req0_open(&req);
	nng_dial(req, url, NULL, 0);
	for (int i = -50; i < n; i++) {
		double t0 = bench_now_ms();

		nng_msg_alloc(&m, 0);
		nng_msg_append(m, payload, sizeof(payload));
		nng_sendmsg(req, m, 0);
		nng_recvmsg(req, &m, 0);
		nng_msg_free(m);
		if (i >= 0)
			v[i] = bench_now_ms() - t0;
	}
	nng_close(req);
	nng_close(rep);
	pthread_join(t, NULL);
}
