/*
 * bench_agent_ab.c — Execute(true) through two sbxd builds in one run, for
 * A/B work on the agent's Execute path (tests/bench/agent_ab starts them):
 * calls alternate between build A's sbxd (its own sbx-agent) and build B's,
 * in alternating order, so both sides see the same machine. Prints B's
 * percentiles against A's (the ratio is B/A at p50).
 *
 * usage: bench_agent_ab [--json] [--iterations N] ENDPOINT_A ENDPOINT_B
 * with SBX_SERVICE_KEY. Before timing, each session's agent must answer
 * (`true` under 5 ms, at most 100 tries), as bench_agent waits.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

int
main(int argc, char **argv)
{
	sbx_client *c[2] = { 0 };
	sbx_session s[2];
	double *v[2];
	const char *ep[2];
	int iters, fails = 0;

	bench_name = "agent_ab";
	if (argc < 3 || bench_parse_args(argc - 1, argv, &iters, &ep[0]) != 0)
		return 2;
	ep[1] = argv[argc - 1];
	for (int k = 0; k < 2; k++) {
		if (bench_open(ep[k], "bench-agent-ab", &c[k], &s[k]) != 0) {
			fprintf(stderr, "bench_agent_ab: %s: %s\n", ep[k],
			    c[k] ? sbx_last_error(c[k]) : "cannot connect");
			return 1;
		}
		(void)bench_wait_agent(c[k], s[k].session_id);
		v[k] = calloc((size_t)iters, sizeof(double));
	}
	for (int i = -10; i < iters; i++)
		for (int j = 0; j < 2; j++) {
			int k = i % 2 == 0 ? j : 1 - j;
			double t0 = bench_now_ms();

			if (bench_run_true(c[k], s[k].session_id) != 0)
				fails++;
			if (i >= 0)
				v[k][i] = bench_now_ms() - t0;
		}
	bench_report("Execute(true), build B", v[1], iters, "Execute(true), build A", v[0], iters,
	    NULL);
	for (int k = 0; k < 2; k++) {
		sbx_session_end(c[k], s[k].session_id, 1);
		sbx_session_fini(&s[k]);
		sbx_client_close(c[k]);
		free(v[k]);
	}
	if (fails)
		fprintf(stderr, "bench_agent_ab: %d calls failed\n", fails);
	return fails ? 1 : 0;
}
