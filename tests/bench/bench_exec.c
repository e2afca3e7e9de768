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
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "bench.h"
#include "sbx.h"

int
main(int argc, char **argv)
{
	int iters, fails = 0;
	const char *endpoint;
	sbx_client *c = NULL;
	sbx_session s, g;
	sbx_exec_opts xo = { .command = "true" };
	sbx_exec_result r;
	double *sv, *bv, *ev, *gv;
	CURL *h;

	bench_name = "exec";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0)
		return 2;
	if (bench_open(endpoint, "bench", &c, &s) != 0) {
		fprintf(stderr, "bench: cannot create a session: %s\n", sbx_last_error(c));
		return 1;
	}
	h = bench_docker_handle();
	sv = calloc((size_t)iters, sizeof(double));
	bv = calloc((size_t)iters, sizeof(double));
	ev = calloc((size_t)iters * 10, sizeof(double));
	gv = calloc((size_t)iters * 5, sizeof(double));
	/* 10 warm-up rounds; then each round runs both, in alternating order. */
	for (int i = -10; i < iters; i++) {
		for (int k = 0; k < 2; k++) {
			int sbx_turn = (k == 0) == (i % 2 == 0);
			double t0 = bench_now_ms(), t;

			if (sbx_turn) {
				if (sbx_exec(c, s.session_id, &xo, &r) != SBX_OK || r.exit_code != 0)
					fails++;
				sbx_exec_result_fini(&r);
			} else if (raw_exec(h, s.container_id, "true", NULL) != 0)
				fails++;
			t = bench_now_ms() - t0;
			if (i >= 0)
				(sbx_turn ? sv : bv)[i] = t;
		}
	}
	for (int i = -50; i < iters * 5; i++) {
		double t0 = bench_now_ms();

		if (sbx_session_get(c, s.session_id, &g) != SBX_OK)
			fails++;
		sbx_session_fini(&g);
		if (i >= 0)
			gv[i] = bench_now_ms() - t0;
	}
	bench_nng_echo(iters * 10, ev);
	bench_report("Execute(true) via sbx", sv, iters, "Docker API exec (create+start+inspect)", bv, iters, "<= 1.05");
	bench_report("GetSession RTT via sbx", gv, iters * 5, NULL, NULL, 0, NULL);
	bench_report("raw nng req/rep echo RTT", ev, iters * 10, NULL, NULL, 0, NULL);
	sbx_session_end(c, s.session_id, 1);
	sbx_session_fini(&s);
	sbx_client_close(c);
	curl_easy_cleanup(h);
	if (fails)
		fprintf(stderr, "bench: %d calls failed\n", fails);
	return fails ? 1 : 0;
}
