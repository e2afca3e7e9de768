/*
 * bench_runtimes.c — CreateSession (and its first Execute) per runtime.
 *
 * For each built-in runtime whose image is built, times a cold
 * CreateSession (the container created and started, no warm pool: run it
 * against an sbxd with pool_size = 0) followed by Execute(`true`), then
 * ends the session with its workspace. The image sizes and the build
 * times from cache and from scratch are the shell part of
 * `tests/bench/run runtimes`. Never asserts a time.
 *
 * usage: bench_runtimes [--json] [--iterations N] ENDPOINT   (SBX_SERVICE_KEY set)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "sbx.h"

static const char *const runtimes[] = {
	"python-minimal", "python-datascience", "python-web", "node-minimal", "node-react",
};

/* Times n creates (and first commands) of runtime rt into cv and xv. */
static int
time_runtime(sbx_client *c, const char *rt, int n, double *cv, double *xv)
{
	sbx_session_create_opts o = { .user_id = "bench-rt", .runtime = rt };
	sbx_exec_opts xo = { .command = "true" };

	for (int i = 0; i < n; i++) {
		sbx_session s;
		sbx_exec_result r;
		double t0 = bench_now_ms(), t1;

		if (sbx_session_create(c, &o, &s, NULL) != SBX_OK) {
			fprintf(stderr, "bench_runtimes: create %s: %s\n", rt, sbx_last_error(c));
			return -1;
		}
		t1 = bench_now_ms();
		if (sbx_exec(c, s.session_id, &xo, &r) != SBX_OK) {
			fprintf(stderr, "bench_runtimes: exec in %s: %s\n", rt, sbx_last_error(c));
			sbx_session_end(c, s.session_id, 1);
			sbx_session_fini(&s);
			return -1;
		}
		xv[i] = bench_now_ms() - t0;
		cv[i] = t1 - t0;
		sbx_exec_result_fini(&r);
		sbx_session_end(c, s.session_id, 1);
		sbx_session_fini(&s);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int iters, n, fails = 0;
	const char *endpoint;
	sbx_client *c = NULL;
	sbx_options co = { 0 };
	double *cv, *xv;
	char fig[128];

	bench_name = "runtimes";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0)
		return 2;
	n = iters / 10 < 10 ? 10 : iters / 10;   /* a create is ~0.3 s */
	co.endpoint = endpoint;
	co.service_key = getenv("SBX_SERVICE_KEY");
	if (sbx_client_open(&co, &c) != SBX_OK) {
		fprintf(stderr, "bench_runtimes: %s\n", sbx_last_error(NULL));
		return 1;
	}
	if ((cv = calloc((size_t)n, sizeof(*cv))) == NULL ||
	    (xv = calloc((size_t)n, sizeof(*xv))) == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
		if (time_runtime(c, runtimes[i], n, cv, xv) != 0) {
			fails++;
			continue;
		}
		snprintf(fig, sizeof(fig), "CreateSession %s (cold)", runtimes[i]);
		bench_report(fig, cv, n, NULL, NULL, 0, NULL);
		snprintf(fig, sizeof(fig), "CreateSession + first Execute %s", runtimes[i]);
		bench_report(fig, xv, n, NULL, NULL, 0, NULL);
	}
	free(cv);
	free(xv);
	sbx_client_close(c);
	return fails ? 1 : 0;
}
