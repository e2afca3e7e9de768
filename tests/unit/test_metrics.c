/*
 * test_metrics.c — the registry and its Prometheus text rendering: counts
 * by method and code, cumulative histogram buckets that end at _count,
 * unknown methods and out-of-range codes, gauges, and the output ceiling.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "t.h"

static const char *
names(unsigned slot)
{
	return slot == 3 ? "sbx.v1.SandboxService/Read" :
	    slot == 7 ? "sbx.v1.SandboxService/Write" : NULL;
}

/* The value of the sample line starting with prefix (label set included), or -1. */
static double
sample(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *l = text; l != NULL && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (strncmp(l, prefix, n) == 0 && l[n] == ' ')
			return strtod(l + n + 1, NULL);
	return -1;
}

static void
render(struct buf *b)
{
	buf_init(b, METRICS_TEXT_MAX);
	if (metrics_render(b, names) != SBXD_OK)
		T_FAIL_("render failed");
}

TEST(counts_by_method_and_code)
{
	struct buf b;

	metrics_reset();
	for (int i = 0; i < 5; i++)
		metrics_rpc_observe(3, 0, 100);
	metrics_rpc_observe(3, 5, 100);
	metrics_rpc_observe(7, 0, 100);
	render(&b);
	CHECK_INT(sample(b.data, "sbxd_rpc_total{method=\"sbx.v1.SandboxService/Read\",code=\"OK\"}"), 5);
	CHECK_INT(sample(b.data,
	    "sbxd_rpc_total{method=\"sbx.v1.SandboxService/Read\",code=\"NOT_FOUND\"}"), 1);
	CHECK_INT(sample(b.data, "sbxd_rpc_total{method=\"sbx.v1.SandboxService/Write\",code=\"OK\"}"), 1);
	CHECK(strstr(b.data, "# TYPE sbxd_rpc_total counter\n") != NULL);
	CHECK(strstr(b.data, "code=\"INTERNAL\"") == NULL);   /* zero rows are left out */
	buf_fini(&b);
}

TEST(unknown_slot_and_code)
{
	struct buf b;

	metrics_reset();
	metrics_rpc_observe(METRICS_RPC_UNKNOWN, 12, 10);
	metrics_rpc_observe(5000, 99, 10);
	metrics_rpc_observe(11, 0, 10);      /* a slot with no name */
	render(&b);
	CHECK_INT(sample(b.data, "sbxd_rpc_total{method=\"unknown\",code=\"UNIMPLEMENTED\"}"), 1);
	CHECK_INT(sample(b.data, "sbxd_rpc_total{method=\"unknown\",code=\"UNKNOWN\"}"), 1);
	CHECK_INT(sample(b.data, "sbxd_rpc_total{method=\"unknown\",code=\"OK\"}"), 1);
	buf_fini(&b);
}

TEST(histogram_is_cumulative_and_ends_at_count)
{
	static const uint64_t us[] = { 1, 500, 501, 3000, 70000, 2000000, 99000000 };
	struct buf b;

	metrics_reset();
	for (size_t i = 0; i < sizeof(us) / sizeof(us[0]); i++)
		metrics_rpc_observe(7, 0, us[i]);
	render(&b);
#define H "sbxd_rpc_duration_seconds"
#define W "method=\"sbx.v1.SandboxService/Write\""
	CHECK_INT(sample(b.data, H "_bucket{" W ",le=\"0.0005\"}"), 2);   /* le is inclusive */
	CHECK_INT(sample(b.data, H "_bucket{" W ",le=\"0.001\"}"), 3);
	CHECK_INT(sample(b.data, H "_bucket{" W ",le=\"0.005\"}"), 4);
	CHECK_INT(sample(b.data, H "_bucket{" W ",le=\"0.1\"}"), 5);
	CHECK_INT(sample(b.data, H "_bucket{" W ",le=\"2.5\"}"), 6);
	CHECK_INT(sample(b.data, H "_bucket{" W ",le=\"30\"}"), 6);
	CHECK_INT(sample(b.data, H "_bucket{" W ",le=\"+Inf\"}"), 7);
	CHECK_INT(sample(b.data, H "_count{" W "}"), 7);
	CHECK(sample(b.data, H "_sum{" W "}") > 101.07 && sample(b.data, H "_sum{" W "}") < 101.08);
	CHECK(strstr(b.data, "# TYPE " H " histogram\n") != NULL);
	CHECK(strstr(b.data, "Read\",le=") == NULL);          /* no calls, no rows */
#undef H
#undef W
	buf_fini(&b);
}

TEST(engine_gauges_and_counters)
{
	struct buf b;

	metrics_reset();
	metrics_engine_observe(2000, 0);
	metrics_engine_observe(2000, 1);
	metrics_gauge_add(METRICS_G_WORKER_QUEUED, 3);
	metrics_gauge_add(METRICS_G_WORKER_QUEUED, -1);
	metrics_gauge_add(METRICS_G_WORKER_BUSY, 4);
	metrics_count(METRICS_C_POOL_HITS, 1);
	metrics_count(METRICS_C_LOGBUS_BYTES, 300);
	metrics_count(METRICS_C_LOGBUS_BYTES, 12);
	render(&b);
	CHECK_INT(sample(b.data, "sbxd_engine_call_duration_seconds_count"), 2);
	CHECK_INT(sample(b.data, "sbxd_engine_call_duration_seconds_bucket{le=\"0.0025\"}"), 2);
	CHECK_INT(sample(b.data, "sbxd_engine_call_failures_total"), 1);
	CHECK_INT(sample(b.data, "sbxd_worker_queue_depth"), 2);
	CHECK_INT(sample(b.data, "sbxd_workers_busy"), 4);
	CHECK_INT(sample(b.data, "sbxd_pool_hits_total"), 1);
	CHECK_INT(sample(b.data, "sbxd_pool_misses_total"), 0);
	CHECK_INT(sample(b.data, "sbxd_logbus_bytes_total"), 312);
	CHECK(strstr(b.data, "# TYPE sbxd_logbus_events_total counter\n") != NULL);
	CHECK(b.data[b.len - 1] == '\n');
	buf_fini(&b);
}

TEST(ceiling_is_an_error)
{
	struct buf b;

	metrics_reset();
	metrics_rpc_observe(3, 0, 1);
	buf_init(&b, 256);
	CHECK_INT(metrics_render(&b, names), SBXD_RESOURCE_EXHAUSTED);
	CHECK(b.len <= 256);
	buf_fini(&b);
}

int
main(void)
{
	RUN(counts_by_method_and_code);
	RUN(unknown_slot_and_code);
	RUN(histogram_is_cumulative_and_ends_at_count);
	RUN(engine_gauges_and_counters);
	RUN(ceiling_is_an_error);
	T_DONE();
}
