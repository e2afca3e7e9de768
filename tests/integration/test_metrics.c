/*
 * test_metrics.c — health and metrics against a real sbxd: /healthz and
 * /readyz answer (503 naming the failed check when the engine is out of
 * reach), RPC counters move by exactly the calls made (by method and
 * code), histograms are cumulative and end at _count, a session moves the
 * pool, session and log-bus figures, only GET on known paths is served,
 * and `sbx top --once` shows the method just called.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "harness.h"
#include "t.h"

#define LIST "sbx.v1.SessionService/ListRuntimes"
#define GETRT "sbx.v1.SessionService/GetRuntime"

static struct sbxd_proc d;
static sbx_client *svc;
static char base[64];

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	return buf_add(arg, p, size * n) == SBXD_OK ? size * n : 0;
}

/* Requests path with method; returns the HTTP status (0 on a transport
 * error) and the body in body (caller's buf_fini). */
static long
http(const char *method, const char *path, struct buf *body)
{
	char url[128];
	long status = 0;
	CURL *h = curl_easy_init();

	buf_init(body, 4u << 20);
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (body->data == NULL)
		buf_addstr(body, "");
	return status;
}

/* The value of the sample whose name and labels are exactly key; 0 when absent. */
static double
sample(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *l = text; l != NULL && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (strncmp(l, key, n) == 0 && l[n] == ' ')
			return strtod(l + n + 1, NULL);
	return 0;
}

static double
scrape(const char *key)
{
	struct buf b;
	double v;

	CHECK_INT(http("GET", "/metrics", &b), 200);
	v = sample(b.data, key);
	buf_fini(&b);
	return v;
}

TEST(healthz_and_readyz)
{
	struct buf b;

	CHECK_INT(http("GET", "/healthz", &b), 200);
	CHECK_STR(b.data, "ok\n");
	buf_fini(&b);
	CHECK_INT(http("GET", "/readyz", &b), 200);
	CHECK_STR(b.data, "ready\n");
	buf_fini(&b);
}

TEST(counters_move_by_exactly_the_calls)
{
	const char *ok = "sbxd_rpc_total{method=\"" LIST "\",code=\"OK\"}";
	const char *nf = "sbxd_rpc_total{method=\"" GETRT "\",code=\"NOT_FOUND\"}";
	double ok0 = scrape(ok), nf0 = scrape(nf);
	sbx_runtime *rts, rt;
	size_t n;

	for (int i = 0; i < 7; i++) {
		REQUIRE_INT(sbx_runtime_list(svc, &rts, &n), SBX_OK);
		sbx_runtime_list_free(rts, n);
	}
	for (int i = 0; i < 3; i++)
		CHECK_INT(sbx_runtime_get(svc, "no-such-runtime", &rt), SBX_NOT_FOUND);
	CHECK_INT(scrape(ok) - ok0, 7);
	CHECK_INT(scrape(nf) - nf0, 3);
}

/* Buckets of method's histogram never decrease and +Inf equals _count,
 * which equals the calls counted for it under every code. */
static void
check_histogram(const char *text, const char *method)
{
	static const char *const codes[] = { "OK", "NOT_FOUND", "INVALID_ARGUMENT", "INTERNAL",
	    "UNAVAILABLE", "UNAUTHENTICATED", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED" };
	char key[256], prefix[200];
	double prev = 0, v, calls = 0;
	int nb = 0;

	snprintf(prefix, sizeof(prefix), "sbxd_rpc_duration_seconds_bucket{method=\"%s\",le=", method);
	for (const char *l = strstr(text, prefix); l != NULL; l = strstr(l + 1, prefix)) {
		v = strtod(strchr(l, ' ') + 1, NULL);
		CHECK(v >= prev);
		prev = v;
		nb++;
	}
	CHECK(nb > 1);
	snprintf(key, sizeof(key), "%s\"+Inf\"}", prefix);
	CHECK(sample(text, key) == prev);
	snprintf(key, sizeof(key), "sbxd_rpc_duration_seconds_count{method=\"%s\"}", method);
	CHECK(sample(text, key) == prev);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		snprintf(key, sizeof(key), "sbxd_rpc_total{method=\"%s\",code=\"%s\"}", method, codes[i]);
		calls += sample(text, key);
	}
	CHECK(calls == prev);
}

TEST(histograms_are_cumulative_and_consistent)
{
	struct buf b;

	REQUIRE_INT(http("GET", "/metrics", &b), 200);
	check_histogram(b.data, LIST);
	check_histogram(b.data, GETRT);
	CHECK(strstr(b.data, "# TYPE sbxd_rpc_duration_seconds histogram\n") != NULL);
	CHECK(strstr(b.data, "sbxd_engine_call_duration_seconds_count ") != NULL);
	CHECK(strstr(b.data, "sbxd_sessions{state=\"RUNNING\"} ") != NULL);
	CHECK(strstr(b.data, "sbxd_worker_queue_depth ") != NULL);
	CHECK(strstr(b.data, "sbxd_pool_ready ") != NULL);
	CHECK(strstr(b.data, "sbxd_processes_running 0\n") != NULL);
	CHECK(strstr(b.data, "sbxd_logbus_events_total ") != NULL);
	CHECK(strstr(b.data, "sbxd_share_refusals_total ") != NULL);
	CHECK(strstr(b.data, "sbxd_reply_cache_repeats_total ") != NULL);
	CHECK(strstr(b.data, "sbxd_connections_refused_total ") != NULL);
	CHECK(scrape("sbxd_connections_open") >= 1);   /* this test's own client */
	CHECK(strstr(b.data, HARNESS_KEY) == NULL);
	buf_fini(&b);
}

/* A session moves the pool's hit-or-miss count by one, is counted as
 * RUNNING, its command's output goes through the log bus, and its
 * background process is counted as running. */
TEST(session_pool_and_logbus)
{
	sbx_session_create_opts o = { .user_id = "metrics-user" };
	double pool0 = scrape("sbxd_pool_hits_total") + scrape("sbxd_pool_misses_total");
	double run0 = scrape("sbxd_sessions{state=\"RUNNING\"}");
	double ev0 = scrape("sbxd_logbus_events_total");
	double procs0 = scrape("sbxd_processes_running");
	sbx_process_opts po = { .command = "sleep 600" };
	sbx_process proc;
	sbx_session s;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	CHECK_INT(scrape("sbxd_pool_hits_total") + scrape("sbxd_pool_misses_total") - pool0, 1);
	CHECK_INT(scrape("sbxd_sessions{state=\"RUNNING\"}") - run0, 1);
	CHECK_INT(harness_exec_status(svc, s.session_id, "echo hello", 60000), 0);
	CHECK(scrape("sbxd_logbus_events_total") > ev0);
	CHECK(scrape("sbxd_engine_call_duration_seconds_count") > 0);
	CHECK_INT(sbx_process_start(svc, s.session_id, &po, &proc), SBX_OK);
	CHECK_INT(scrape("sbxd_processes_running") - procs0, 1);
	sbx_process_fini(&proc);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	CHECK_INT(scrape("sbxd_sessions{state=\"RUNNING\"}") - run0, 0);
	sbx_session_fini(&s);
}

/* An sbxd whose engine socket leads nowhere is alive but not ready, and
 * says which check failed. */
TEST(readyz_names_the_failed_check)
{
	struct sbxd_proc d2;
	char extra[160], saved[64];
	struct buf b;
	int port = harness_free_port();

	snprintf(extra, sizeof(extra), "metrics_listen = 127.0.0.1:%d\n"
	    "docker_socket = /nonexistent/docker.sock\npool_size = 0\n", port);
	REQUIRE(harness_start(&d2, extra) == 0);
	snprintf(saved, sizeof(saved), "%s", base);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	CHECK_INT(http("GET", "/healthz", &b), 200);
	buf_fini(&b);
	CHECK_INT(http("GET", "/readyz", &b), 503);
	CHECK(strncmp(b.data, "engine: ", 8) == 0);
	buf_fini(&b);
	snprintf(base, sizeof(base), "%s", saved);
	if (!harness_finish(&d2, t_failures))
		t_failures++;
}

TEST(only_get_on_known_paths)
{
	struct buf b;

	CHECK_INT(http("POST", "/metrics", &b), 405);
	buf_fini(&b);
	CHECK_INT(http("DELETE", "/healthz", &b), 405);
	buf_fini(&b);
	CHECK_INT(http("GET", "/nope", &b), 404);
	buf_fini(&b);
	CHECK_INT(http("GET", "/metrics/../healthz", &b), 404);
	buf_fini(&b);
}

TEST(top_once_shows_the_method)
{
	char cmd[512], out[8192];
	const char *bin = getenv("SBX_BIN");
	size_t n;
	FILE *p;

	REQUIRE(bin != NULL);
	snprintf(cmd, sizeof(cmd), "%s top --once --metrics %s/metrics", bin, base);
	REQUIRE((p = popen(cmd, "r")) != NULL);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	CHECK_INT(pclose(p), 0);
	CHECK_CONTAINS(out, "ListRuntimes");
	CHECK_CONTAINS(out, "RUNNING");
}

int
main(void)
{
	char extra[64];
	int port = harness_free_port();

	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	snprintf(extra, sizeof(extra), "metrics_listen = 127.0.0.1:%d\n", port);
	if (!harness_image_ready() || harness_start(&d, extra) != 0)
		return 1;
	svc = harness_client(&d, NULL);
	RUN(healthz_and_readyz);
	RUN(counters_move_by_exactly_the_calls);
	RUN(histograms_are_cumulative_and_consistent);
	RUN(session_pool_and_logbus);
	RUN(readyz_names_the_failed_check);
	RUN(only_get_on_known_paths);
	RUN(top_once_shows_the_method);
	sbx_client_close(svc);
	if (!harness_finish(&d, t_failures))
		t_failures++;
	curl_global_cleanup();
	T_DONE();
}
