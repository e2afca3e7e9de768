/*
 * bench_isolation.c — the same operations under both isolations in one run:
 * gvisor (gVisor's runsc) against runc as the baseline, so each figure's
 * ratio is gvisor/runc.
 *
 *   cold CreateSession          on an sbxd without a pool (SBX_BENCH_COLD)
 *   pooled CreateSession -> first Execute(true)
 *                               a new user each time (a gvisor pool member
 *                               serves only a fresh workspace), the pool
 *                               refilled before each round (its
 *                               sbxd_pool_ready gauge, SBX_BENCH_METRICS)
 *   Execute(true)               through the in-sandbox agent
 *   Write / Read 4 KiB          in /workspace (host side, the same for both)
 *                               and in /tmp (through the agent)
 *   1000-file unpack            a pip-like burst of small files in /workspace
 *
 * Rounds alternate which isolation goes first, so drift on a noisy machine
 * lands on both. Prints a table, or with --json one object per figure.
 *
 * usage: bench_isolation [--json] [--iterations N] ENDPOINT
 *   ENDPOINT: an sbxd with a warm pool for both isolations of the default
 *   runtime; SBX_BENCH_COLD: one with pool_size = 0; SBX_BENCH_METRICS: the
 *   first one's metrics port; SBX_SERVICE_KEY set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"
#include "sbx.h"

#define NISO 2
#define COLD_ITERS_MAX 10
#define POOL_ITERS_MAX 10
#define UNPACK_ITERS 5
#define UNPACK_CMD "python3 -c \"import os\nd='unpack'\nfor i in range(1000):\n" \
	"    p=os.path.join(d, 'pkg%d' % (i % 20))\n    os.makedirs(p, exist_ok=True)\n" \
	"    open(os.path.join(p, 'm%d.py' % i), 'w').write('x = 1\\n' * 20)\n\"; rm -rf unpack"

static const char *const iso_name[NISO] = { "gvisor", "runc" };
static int fails;
static int user_seq;

static void
fail(sbx_client *c, const char *what)
{
	fails++;
	fprintf(stderr, "bench: %s: %s\n", what, sbx_last_error(c));
}

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	struct { char buf[65536]; size_t len; } *b = arg;
	size_t k = size * n;

	if (b->len + k < sizeof(b->buf)) {
		memcpy(b->buf + b->len, p, k);
		b->len += k;
		b->buf[b->len] = '\0';
	}
	return k;
}

/* sbxd_pool_ready from the metrics port, or -1. */
static int
pool_ready(int port)
{
	static struct { char buf[65536]; size_t len; } b;
	char url[64], *p;
	CURL *h = curl_easy_init();
	int n = -1;

	b.len = 0;
	b.buf[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(h) == CURLE_OK && (p = strstr(b.buf, "\nsbxd_pool_ready ")) != NULL)
		n = atoi(p + 17);
	curl_easy_cleanup(h);
	return n;
}

static void
wait_pool(int port, int want)
{
	for (int i = 0; i < 1200 && pool_ready(port) < want; i++)
		usleep(100000);
}

static int
create(sbx_client *c, const char *iso, sbx_session *s)
{
	sbx_session_create_opts o = { .isolation = iso };
	char user[64];

	snprintf(user, sizeof(user), "bench-iso-%d-%d", (int)getpid(), user_seq++);
	o.user_id = user;
	if (sbx_session_create(c, &o, s, NULL) != SBX_OK) {
		fail(c, "CreateSession");
		return -1;
	}
	return 0;
}

static void
end(sbx_client *c, sbx_session *s)
{
	sbx_session_end(c, s->session_id, 1);
	sbx_session_fini(s);
}

static int
exec_ok(sbx_client *c, const char *sid, const char *cmd)
{
	sbx_exec_opts o = { .command = cmd, .timeout_ms = 120000 };
	sbx_exec_result r;
	int ok = sbx_exec(c, sid, &o, &r) == SBX_OK && r.exit_code == 0;

	if (!ok)
		fail(c, cmd);
	sbx_exec_result_fini(&r);
	return ok;
}

/* v[k][i] = the time of op for isolation k in round i, alternating order. */
#define ROUNDS(n, op) do {                                              \
	for (int i = 0; i < (n); i++)                                   \
		for (int j = 0; j < NISO; j++) {                        \
			int k = (i + j) % NISO;                         \
			double t0 = bench_now_ms();                     \
			op;                                             \
			v[k][i] = bench_now_ms() - t0;                  \
		}                                                       \
} while (0)

static void
report(const char *figure, double *v[NISO], int n)
{
	char f[128];

	snprintf(f, sizeof(f), "%s: gvisor", figure);
	bench_report(f, v[0], n, "runc (same run)", v[1], n, NULL);
}

int
main(int argc, char **argv)
{
	const char *endpoint, *cold_ep = getenv("SBX_BENCH_COLD");
	const char *mport = getenv("SBX_BENCH_METRICS");
	char block[4096], path[64];
	sbx_client *c = NULL, *cold = NULL;
	sbx_session s[NISO] = { 0 }, t = { 0 };
	sbx_options co = { 0 };
	double *v[NISO];
	void *data;
	size_t len;
	int iters, nc, np;

	bench_name = "isolation";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0)
		return 2;
	if (cold_ep == NULL || mport == NULL) {
		fprintf(stderr, "bench_isolation: set SBX_BENCH_COLD and SBX_BENCH_METRICS "
		    "(tests/bench/run isolation does)\n");
		return 2;
	}
	co.endpoint = endpoint;
	co.service_key = getenv("SBX_SERVICE_KEY");
	co.timeout_ms = 300000;
	if (sbx_client_open(&co, &c) != SBX_OK)
		return 1;
	co.endpoint = cold_ep;
	if (sbx_client_open(&co, &cold) != SBX_OK)
		return 1;
	nc = iters < COLD_ITERS_MAX ? iters : COLD_ITERS_MAX;
	np = iters < POOL_ITERS_MAX ? iters : POOL_ITERS_MAX;
	for (int k = 0; k < NISO; k++)
		v[k] = calloc((size_t)iters, sizeof(double));

	/* warm the engine's view of both images and runtimes */
	for (int k = 0; k < NISO; k++)
		if (create(cold, iso_name[k], &t) == 0)
			end(cold, &t);
	ROUNDS(nc, if (create(cold, iso_name[k], &t) == 0) end(cold, &t));
	report("cold CreateSession", v, nc);

	for (int i = 0; i < np; i++)
		for (int j = 0; j < NISO; j++) {
			int k = (i + j) % NISO;
			double t0;

			wait_pool(atoi(mport), NISO);   /* one of each, refilled */
			t0 = bench_now_ms();
			if (create(c, iso_name[k], &t) == 0) {
				exec_ok(c, t.session_id, "true");
				v[k][i] = bench_now_ms() - t0;
				end(c, &t);
			}
		}
	report("pooled CreateSession -> first Execute", v, np);

	for (int k = 0; k < NISO; k++)
		if (create(c, iso_name[k], &s[k]) != 0)
			return 1;
	for (int k = 0; k < NISO; k++)
		for (int i = 0; i < 10; i++)
			exec_ok(c, s[k].session_id, "true");
	ROUNDS(iters, exec_ok(c, s[k].session_id, "true"));
	report("Execute(true)", v, iters);

	memset(block, 'x', sizeof(block));
	for (int w = 0; w < 2; w++) {
		const char *where = w ? "/tmp/bench.bin" : "bench.bin";

		ROUNDS(iters, if (sbx_write(c, s[k].session_id, where, block, sizeof(block), 0) !=
		    SBX_OK) fail(c, "Write"));
		snprintf(path, sizeof(path), "Write 4 KiB (%s)", w ? "/tmp, agent" : "/workspace");
		report(path, v, iters);
		ROUNDS(iters, if (sbx_read_bytes(c, s[k].session_id, where, 0, 0, &data, &len) !=
		    SBX_OK || len != sizeof(block)) fail(c, "ReadBytes"); else sbx_free(data));
		snprintf(path, sizeof(path), "Read 4 KiB (%s)", w ? "/tmp, agent" : "/workspace");
		report(path, v, iters);
	}

	ROUNDS(UNPACK_ITERS, exec_ok(c, s[k].session_id, UNPACK_CMD));
	report("1000-file unpack in /workspace", v, UNPACK_ITERS);

	for (int k = 0; k < NISO; k++) {
		end(c, &s[k]);
		free(v[k]);
	}
	sbx_client_close(c);
	sbx_client_close(cold);
	if (fails)
		fprintf(stderr, "bench: %d calls failed\n", fails);
	return fails ? 1 : 0;
}
