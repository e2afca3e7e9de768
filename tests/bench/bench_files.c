/*
 * bench_files.c — file operations through sbx against the route
 * pydantic-ai-backend's DockerSandbox takes: exec-ing cat/printf/grep/find
 * in the same container through the Docker Engine API, in one run, rounds
 * interleaved in alternating order. Figures: Read and Write of a 4 KiB
 * file, Grep over a 1,000-file tree, Glob of all .py files at any depth; the raw nng echo;
 * and the targets' ratios (small Read/Write >= 50x faster than the exec
 * route, and <= 2x the nng echo).
 *
 * usage: bench_files [--json] [--iterations N] ENDPOINT   (SBX_SERVICE_KEY set)
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "sbx.h"
#include "sbx/v1/sbx.pb-c.h"

#define SMALL 4096

static sbx_client *c;
static sbx_session s;

/* Sends rq to method with sbx_call_raw and drops the reply undecoded: the
 * Grep and Glob figures time the server's work and the round trip, not
 * the client's copying of the results. */
static int
raw_call(const char *method, const ProtobufCMessage *rq)
{
	uint8_t buf[256];
	void *resp = NULL;
	size_t rlen = 0;
	sbx_err rv;

	assert(protobuf_c_message_get_packed_size(rq) <= sizeof(buf));
	rv = sbx_call_raw(c, method, buf, protobuf_c_message_pack(rq, buf), &resp, &rlen);
	sbx_free(resp);
	return rv == SBX_OK ? 0 : -1;
}

/* Set once the session exists (setup). */
static Sbx__V1__GrepRequest grep_rq = SBX__V1__GREP_REQUEST__INIT;
static Sbx__V1__GlobRequest glob_rq = SBX__V1__GLOB_REQUEST__INIT;

static int
sbx_grep_call(void)
{
	return raw_call("sbx.v1.SandboxService/Grep", &grep_rq.base);
}

static int
sbx_glob_call(void)
{
	return raw_call("sbx.v1.SandboxService/Glob", &glob_rq.base);
}

/* One sbx operation and its exec-route twin, timed in alternating order. */
struct pair {
	const char *figure, *baseline;
	int (*sbx)(void);
	const char *cmd;          /* the exec route */
	double *sv, *bv;
};

static char small_cmd[SMALL + 64];
static char small[SMALL];
static CURL *h;
static int fails;

static int
sbx_read4k(void)
{
	void *d = NULL;
	size_t n = 0;
	sbx_err rv = sbx_read_bytes(c, s.session_id, "small.txt", 0, 0, &d, &n);

	sbx_free(d);
	return rv == SBX_OK && n == SMALL ? 0 : -1;
}

static int
sbx_write4k(void)
{
	return sbx_write(c, s.session_id, "small-w.txt", small, SMALL, 0) == SBX_OK ? 0 : -1;
}

static void
run_pair(struct pair *p, int iters)
{
	for (int i = -5; i < iters; i++) {
		for (int k = 0; k < 2; k++) {
			int sbx_turn = (k == 0) == (i % 2 == 0);
			double t0 = bench_now_ms(), t;

			if (sbx_turn ? p->sbx() != 0 : raw_exec(h, s.container_id, p->cmd, NULL) != 0)
				fails++;
			t = bench_now_ms() - t0;
			if (i >= 0)
				(sbx_turn ? p->sv : p->bv)[i] = t;
		}
	}
}

static int
setup(void)
{
	sbx_exec_opts xo = { .command =
	    "python3 -c 'import os\n"
	    "for d in range(20):\n"
	    "  os.makedirs(\"tree/d%d/sub\" % d, exist_ok=True)\n"
	    "  for f in range(50):\n"
	    "    p = \"tree/d%d/%s/f%d.%s\" % (d, \"sub\" if f % 2 else \".\", f, \"py\" if f % 3 else \"txt\")\n"
	    "    open(p, \"w\").write(\"line\\n\" * 40 + (\"needle here\\n\" if f % 7 == 0 else \"\"))\n'" };
	sbx_exec_result r;

	grep_rq.session_id = glob_rq.session_id = s.session_id;
	grep_rq.path = glob_rq.path = "tree";
	grep_rq.max_results = glob_rq.max_results = 10000;
	grep_rq.pattern = "needle";
	glob_rq.pattern = "**/*.py";
	memset(small, 'x', sizeof(small));
	for (int i = 63; i < SMALL; i += 64)
		small[i] = '\n';
	snprintf(small_cmd, sizeof(small_cmd), "printf '%%s' '%.*s' > small-e.txt", SMALL, small);
	if (sbx_write(c, s.session_id, "small.txt", small, SMALL, 0) != SBX_OK ||
	    sbx_exec(c, s.session_id, &xo, &r) != SBX_OK || r.exit_code != 0)
		return -1;
	sbx_exec_result_fini(&r);
	return 0;
}

int
main(int argc, char **argv)
{
	int iters;
	const char *endpoint;
	struct pair pairs[] = {
		{ "Read 4 KiB via sbx", "exec cat via Docker API", sbx_read4k, "cat small.txt", NULL, NULL },
		{ "Write 4 KiB via sbx", "exec printf > file via Docker API", sbx_write4k, small_cmd, NULL, NULL },
		{ "Grep 1,000 files via sbx", "exec grep -rn via Docker API", sbx_grep_call,
		    "grep -rn needle tree", NULL, NULL },
		{ "Glob **/*.py via sbx", "exec find -name via Docker API", sbx_glob_call,
		    "find tree -name '*.py'", NULL, NULL },
	};
	double *ev;

	bench_name = "files";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0)
		return 2;
	if (bench_open(endpoint, "bench-files", &c, &s) != 0 || setup() != 0) {
		fprintf(stderr, "bench: setup failed: %s\n", sbx_last_error(c));
		return 1;
	}
	h = bench_docker_handle();
	ev = calloc((size_t)iters * 10, sizeof(double));
	bench_nng_echo(iters * 10, ev);
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		pairs[i].sv = calloc((size_t)iters, sizeof(double));
		pairs[i].bv = calloc((size_t)iters, sizeof(double));
		run_pair(&pairs[i], i < 2 ? iters : iters / 4 < 10 ? 10 : iters / 4);
	}
	/* The echo comparison runs in quiet: no exec in flight around it. */
	double *qr = calloc((size_t)iters * 5, sizeof(double)), *qw = calloc((size_t)iters * 5, sizeof(double));
	for (int i = -20; i < iters * 5; i++) {
		double t0 = bench_now_ms(), t1;

		fails += sbx_read4k() != 0;
		t1 = bench_now_ms();
		fails += sbx_write4k() != 0;
		if (i >= 0) {
			qr[i] = t1 - t0;
			qw[i] = bench_now_ms() - t1;
		}
	}
	bench_report("raw nng req/rep echo RTT", ev, iters * 10, NULL, NULL, 0, NULL);
	bench_report("Read 4 KiB via sbx, back to back", qr, iters * 5, NULL, NULL, 0, NULL);
	bench_report("Write 4 KiB via sbx, back to back", qw, iters * 5, NULL, NULL, 0, NULL);
	bench_report_ratio("Read 4 KiB p50 / nng echo p50", qr[iters * 5 / 2] / ev[iters * 5], "<= 2");
	bench_report_ratio("Write 4 KiB p50 / nng echo p50", qw[iters * 5 / 2] / ev[iters * 5], "<= 2");
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		int n = i < 2 ? iters : iters / 4 < 10 ? 10 : iters / 4;

		bench_report(pairs[i].figure, pairs[i].sv, n, pairs[i].baseline, pairs[i].bv, n,
		    i < 2 ? "exec route >= 50x slower" : NULL);
		if (i < 2) {
			char fig[96];

			snprintf(fig, sizeof(fig), "%s: speed-up over exec", pairs[i].figure);
			bench_report_ratio(fig, pairs[i].bv[n / 2] / pairs[i].sv[n / 2], ">= 50");
		}
	}
	sbx_session_end(c, s.session_id, 1);
	sbx_session_fini(&s);
	sbx_client_close(c);
	if (fails)
		fprintf(stderr, "bench: %d calls failed\n", fails);
	return fails ? 1 : 0;
}
