/*
 * bench_files.c — file operations through sbx against the route
 * pydantic-ai-backend's DockerSandbox takes: exec-ing cat/printf/grep/find
 * in the same container through the Docker Engine API, in one run.
 * Figures: Read and Write of a 4 KiB file, Grep over a 1,000-file tree,
 * Glob of all .py files at any depth; the raw nng echo; and the targets'
 * ratios (small Read/Write >= 50x faster than the exec route, and <= 2x
 * the nng echo).
 *
 * Method: each side is timed in blocks of back-to-back calls — BLOCKS
 * blocks of n/BLOCKS calls per side, the sides' order rotating from block
 * to block (for Read and Write: sbx, exec, echo) — so neither side pays
 * for the other's wake-ups, cache misses or lingering engine work, as an
 * sbx call timed right after a ~40 ms exec did; the rotation spreads any
 * drift of the machine over all sides alike.
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
#define NPAIRS_MAX 4
#define NPAIRS (sizeof(pairs) / sizeof(pairs[0]))

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

#define BLOCKS 5
#define WARMUP 5                  /* untimed calls before each block */

static int
exec_side(struct pair *p)
{
	return raw_exec(h, s.container_id, p->cmd, NULL);
}

/* Times n back-to-back calls of one side into v. */
static void
time_block(struct pair *p, int sbx_side, double *v, int n)
{
	for (int i = -WARMUP; i < n; i++) {
		double t0 = bench_now_ms();

		if ((sbx_side ? p->sbx() : exec_side(p)) != 0)
			fails++;
		if (i >= 0)
			v[i] = bench_now_ms() - t0;
	}
}

/* Times n calls of each side (and, when ev is set, n nng echoes into it)
 * in BLOCKS blocks, rotating the order of the sides. */
static void
run_pair(struct pair *p, int n, double *ev)
{
	int per = n / BLOCKS, sides = ev != NULL ? 3 : 2;

	for (int b = 0; b < BLOCKS; b++)
		for (int k = 0; k < sides; k++) {
			int side = (k + b) % sides, off = b * per;

			if (side == 2)
				bench_nng_echo(per, ev + off);
			else
				time_block(p, side == 0, (side == 0 ? p->sv : p->bv) + off, per);
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
	int n[NPAIRS_MAX];
	double *ev;

	bench_name = "files";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0)
		return 2;
	if (bench_open(endpoint, "bench-files", &c, &s) != 0 || setup() != 0) {
		fprintf(stderr, "bench: setup failed: %s\n", sbx_last_error(c));
		return 1;
	}
	h = bench_docker_handle();
	ev = calloc((size_t)iters * 2, sizeof(double));
	for (size_t i = 0; i < NPAIRS; i++) {
		/* whole blocks; Grep and Glob cost more, so fewer of them */
		n[i] = (i < 2 ? iters : iters / 4 < 10 ? 10 : iters / 4) / BLOCKS * BLOCKS;
		pairs[i].sv = calloc((size_t)n[i], sizeof(double));
		pairs[i].bv = calloc((size_t)n[i], sizeof(double));
		run_pair(&pairs[i], n[i], i < 2 ? ev + i * (size_t)n[0] : NULL);
	}
	for (size_t i = 0; i < NPAIRS; i++) {
		char fig[96];

		bench_report(pairs[i].figure, pairs[i].sv, n[i], pairs[i].baseline, pairs[i].bv, n[i],
		    i < 2 ? "exec route >= 50x slower" : NULL);
		snprintf(fig, sizeof(fig), "%s: speed-up over exec", pairs[i].figure);
		bench_report_ratio(fig, pairs[i].bv[n[i] / 2] / pairs[i].sv[n[i] / 2],
		    i < 2 ? ">= 50" : "-");
	}
	bench_report("raw nng req/rep echo RTT", ev, 2 * n[0], NULL, NULL, 0, NULL);
	bench_report_ratio("Read 4 KiB p50 / nng echo p50", pairs[0].sv[n[0] / 2] / ev[n[0]], "<= 2");
	bench_report_ratio("Write 4 KiB p50 / nng echo p50", pairs[1].sv[n[1] / 2] / ev[n[0]], "<= 2");
	sbx_session_end(c, s.session_id, 1);
	sbx_session_fini(&s);
	sbx_client_close(c);
	if (fails)
		fprintf(stderr, "bench: %d calls failed\n", fails);
	return fails ? 1 : 0;
}
