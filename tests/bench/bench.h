/*
 * bench.h — what the benchmarks share: the command line and the sbx
 * session they run in, a monotonic clock, percentiles and the report (a
 * table, or with --json one object per figure as shared/DESIGN.md
 * describes), the raw Docker Engine API exec baseline, and the raw nng
 * req/rep echo.
 */
#ifndef SBX_BENCH_H
#define SBX_BENCH_H

#include <stddef.h>

#include <curl/curl.h>

#include "sbx.h"

extern int bench_json;           /* --json given */
extern const char *bench_name;   /* "exec", "files", ... */

/* Parses `bench_<bench_name> [--json] [--iterations N] ENDPOINT`: sets
 * bench_json, *iters (200 unless given) and *endpoint. -1 after printing
 * the usage when there is no endpoint or N is below 10, else 0. */
int bench_parse_args(int argc, char **argv, int *iters, const char **endpoint);
/* Opens *c on endpoint with the service key from SBX_SERVICE_KEY and
 * creates *s for user. -1 when either fails (sbx_last_error(*c) says why;
 * whatever was opened stays open), else 0. */
int bench_open(const char *endpoint, const char *user, sbx_client **c,
    sbx_session *s);
/* Execute(`true`) in sid: 0 when it ran and exited 0, else -1. */
int bench_run_true(sbx_client *c, const char *sid);
/* Runs `true` in sid until one call takes under 5 ms (its in-sandbox
 * agent answers), at most 100 tries: 0 then, else -1 after saying so. */
int bench_wait_agent(sbx_client *c, const char *sid);

double bench_now_ms(void);
/* Sorts v and b and prints one figure: sbx's percentiles, and the
 * baseline's with the ratio of the p50s when b is not NULL. */
void bench_report(const char *figure, double *v, int n, const char *baseline, double *b,
    int bn, const char *target);
/* A ratio figure with no sbx percentiles of its own (e.g. speed-up). */
void bench_report_ratio(const char *figure, double ratio, const char *target);
/* One measured value in unit ("ops/s", "MB", ...); target may be NULL. */
void bench_report_value(const char *figure, double value, const char *unit,
    const char *target);
/* The VmRSS of process pid (a decimal string) in kB; -1 when pid is NULL
 * or /proc does not say. */
long bench_rss_kb(const char *pid);
/* The p-th percentile (0..1) of v[0..n), n > 0, sorted ascending (as
 * bench_report leaves it). */
double bench_pct(const double *v, int n, double p);

/* A curl handle on the Docker socket, kept alive across calls. */
CURL *bench_docker_handle(void);
/* Runs `sh -c cmd` (as the sandbox user, in /workspace) with the
 * Engine API directly: exec create, start (output read, discarded, its
 * byte count in *outlen when not NULL), inspect until it has exited.
 * Returns the exit code, or -1. */
int raw_exec(CURL *h, const char *cid, const char *cmd, size_t *outlen);

/* Times n round trips of a 64-byte message through an nng req/rep pair on
 * loopback into v. */
void bench_nng_echo(int n, double *v);

#endif
