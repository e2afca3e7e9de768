/*
 * metrics.c — the process-wide registry of counters, gauges and latency
 * histograms, and its Prometheus text rendering (see metrics.h).
 *
 * Histograms keep one non-cumulative count per bucket; the rendering sums
 * them into Prometheus' cumulative buckets and reports the +Inf bucket as
 * _count, so a scrape is always self-consistent even while observations
 * land. Only rows that have seen a call are rendered.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

struct hist {
	_Atomic uint64_t bucket[METRICS_NBUCKETS + 1]; /* last: over every bound */
	_Atomic uint64_t sum_us;
};

/* Upper bounds in microseconds, and the same as Prometheus "le" labels. */
static const uint64_t bound_us[METRICS_NBUCKETS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000,
};
static const char *const bound_le[METRICS_NBUCKETS] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "5", "10", "30",
};

static const char *const code_name[METRICS_CODES] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
};

static _Atomic uint64_t rpc_calls[METRICS_RPC_SLOTS][METRICS_CODES];
static struct hist rpc_hist[METRICS_RPC_SLOTS];
static struct hist engine_hist;
static _Atomic uint64_t engine_failed;
static _Atomic int64_t gauges[METRICS_G_COUNT];
static _Atomic uint64_t counters[METRICS_C_COUNT];

static const struct {
	const char *name, *help;
} counter_doc[METRICS_C_COUNT] = {
	[METRICS_C_LOGBUS_EVENTS] = { "sbxd_logbus_events_total", "Events put on the log bus." },
	[METRICS_C_LOGBUS_BYTES] = { "sbxd_logbus_bytes_total", "Data bytes of those events." },
	[METRICS_C_LOGBUS_EVICTED] = { "sbxd_logbus_evicted_total",
	    "Events pushed out of a session's replay ring to make room." },
	[METRICS_C_LOGBUS_PUB_FAILED] = { "sbxd_logbus_publish_failures_total",
	    "Events the pub socket refused (slow subscribers also lose events inside nng)." },
	[METRICS_C_POOL_HITS] = { "sbxd_pool_hits_total", "Sessions given a warm container." },
	[METRICS_C_POOL_MISSES] = { "sbxd_pool_misses_total",
	    "Sessions with the pool's limits that found no warm container of their runtime." },
	[METRICS_C_SHARE_REFUSED] = { "sbxd_share_refusals_total",
	    "Long calls answered RESOURCE_EXHAUSTED: a credential or session over its share." },
	[METRICS_C_CONN_REFUSED] = { "sbxd_connections_refused_total",
	    "Connections closed over max_connections or max_connections_per_address." },
	[METRICS_C_REPLY_REPEATS] = { "sbxd_reply_cache_repeats_total",
	    "Repeated request ids answered with the first reply instead of running again." },
	[METRICS_C_AGENT_RELISTENS] = { "sbxd_agent_relistens_total",
	    "Agent link listeners made again after their link stayed down." },
};

#define RELAXED memory_order_relaxed

uint64_t
metrics_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
hist_observe(struct hist *h, uint64_t us)
{
	unsigned i = 0;

	while (i < METRICS_NBUCKETS && us > bound_us[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, RELAXED);
	atomic_fetch_add_explicit(&h->sum_us, us, RELAXED);
}

void
metrics_rpc_observe(unsigned slot, int code, uint64_t us)
{
	if (slot >= METRICS_RPC_SLOTS)
		slot = METRICS_RPC_UNKNOWN;
	if (code < 0 || code >= METRICS_CODES)
		code = 2;            /* UNKNOWN */
	atomic_fetch_add_explicit(&rpc_calls[slot][code], 1, RELAXED);
	hist_observe(&rpc_hist[slot], us);
}

void
metrics_engine_observe(uint64_t us, int failed)
{
	hist_observe(&engine_hist, us);
	if (failed)
		atomic_fetch_add_explicit(&engine_failed, 1, RELAXED);
}

void
metrics_gauge_add(enum metrics_gauge g, int64_t delta)
{
	atomic_fetch_add_explicit(&gauges[g], delta, RELAXED);
}

void
metrics_count(enum metrics_counter c, uint64_t n)
{
	atomic_fetch_add_explicit(&counters[c], n, RELAXED);
}

int64_t
metrics_gauge_get(enum metrics_gauge g)
{
	return atomic_load_explicit(&gauges[g], RELAXED);
}

void
metrics_reset(void)
{
	memset(rpc_calls, 0, sizeof(rpc_calls));
	memset(rpc_hist, 0, sizeof(rpc_hist));
	memset(&engine_hist, 0, sizeof(engine_hist));
	atomic_store(&engine_failed, 0);
	for (int g = 0; g < METRICS_G_COUNT; g++)
		atomic_store(&gauges[g], 0);
	for (int c = 0; c < METRICS_C_COUNT; c++)
		atomic_store(&counters[c], 0);
}

static uint64_t
hist_total(struct hist *h)
{
	uint64_t n = 0;

	for (unsigned i = 0; i <= METRICS_NBUCKETS; i++)
		n += atomic_load_explicit(&h->bucket[i], RELAXED);
	return n;
}

/* One histogram's samples; labels is "" or `method="..."`. */
static sbxd_code
render_hist(struct buf *out, const char *name, const char *labels, struct hist *h)
{
	uint64_t cum = 0, b[METRICS_NBUCKETS + 1];
	const char *sep = labels[0] ? "," : "";
	sbxd_code rv = SBXD_OK;

	for (unsigned i = 0; i <= METRICS_NBUCKETS; i++)
		b[i] = atomic_load_explicit(&h->bucket[i], RELAXED);
	for (unsigned i = 0; i <= METRICS_NBUCKETS && rv == SBXD_OK; i++) {
		cum += b[i];
		rv = buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep,
		    i < METRICS_NBUCKETS ? bound_le[i] : "+Inf", (unsigned long long)cum);
	}
	if (rv == SBXD_OK)
		rv = buf_printf(out, "%s_sum%s%s%s %.6f\n", name, labels[0] ? "{" : "", labels,
		    labels[0] ? "}" : "", (double)atomic_load_explicit(&h->sum_us, RELAXED) / 1e6);
	if (rv == SBXD_OK)
		rv = buf_printf(out, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
		    labels[0] ? "}" : "", (unsigned long long)cum);
	return rv;
}

static const char *
slot_label(unsigned slot, metrics_slot_name_fn name_of)
{
	const char *n = slot == METRICS_RPC_UNKNOWN ? NULL : name_of(slot);

	return n != NULL ? n : "unknown";
}

static sbxd_code
render_rpc_counts(struct buf *out, metrics_slot_name_fn name_of)
{
	sbxd_code rv = buf_addstr(out,
	    "# HELP sbxd_rpc_total RPCs answered, by method and status code.\n"
	    "# TYPE sbxd_rpc_total counter\n");

	for (unsigned s = 0; s < METRICS_RPC_SLOTS && rv == SBXD_OK; s++) {
		for (int c = 0; c < METRICS_CODES && rv == SBXD_OK; c++) {
			uint64_t n = atomic_load_explicit(&rpc_calls[s][c], RELAXED);

			if (n > 0)
				rv = buf_printf(out, "sbxd_rpc_total{method=\"%s\",code=\"%s\"} %llu\n",
				    slot_label(s, name_of), code_name[c], (unsigned long long)n);
		}
	}
	return rv;
}

static sbxd_code
render_rpc_hists(struct buf *out, metrics_slot_name_fn name_of)
{
	char labels[160];
	sbxd_code rv = buf_addstr(out,
	    "# HELP sbxd_rpc_duration_seconds Time from a request's arrival to its reply.\n"
	    "# TYPE sbxd_rpc_duration_seconds histogram\n");

	for (unsigned s = 0; s < METRICS_RPC_SLOTS && rv == SBXD_OK; s++) {
		if (hist_total(&rpc_hist[s]) == 0)
			continue;
		if (snprintf(labels, sizeof(labels), "method=\"%s\"", slot_label(s, name_of)) >=
		    (int)sizeof(labels))
			return SBXD_RESOURCE_EXHAUSTED;
		rv = render_hist(out, "sbxd_rpc_duration_seconds", labels, &rpc_hist[s]);
	}
	return rv;
}

static sbxd_code
render_engine(struct buf *out)
{
	sbxd_code rv = buf_addstr(out,
	    "# HELP sbxd_engine_call_duration_seconds Engine API calls, failed ones included.\n"
	    "# TYPE sbxd_engine_call_duration_seconds histogram\n");

	if (rv == SBXD_OK)
		rv = render_hist(out, "sbxd_engine_call_duration_seconds", "", &engine_hist);
	if (rv == SBXD_OK)
		rv = buf_printf(out,
		    "# HELP sbxd_engine_call_failures_total Engine API calls that did not complete.\n"
		    "# TYPE sbxd_engine_call_failures_total counter\n"
		    "sbxd_engine_call_failures_total %llu\n",
		    (unsigned long long)atomic_load_explicit(&engine_failed, RELAXED));
	return rv;
}

sbxd_code
metrics_render_gauge(struct buf *out, const char *name, const char *help, int64_t value)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name,
	    (long long)value);
}

static sbxd_code
render_counters(struct buf *out)
{
	sbxd_code rv = SBXD_OK;

	for (int c = 0; c < METRICS_C_COUNT && rv == SBXD_OK; c++)
		rv = buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
		    counter_doc[c].name, counter_doc[c].help, counter_doc[c].name,
		    counter_doc[c].name,
		    (unsigned long long)atomic_load_explicit(&counters[c], RELAXED));
	return rv;
}

sbxd_code
metrics_render(struct buf *out, metrics_slot_name_fn name_of)
{
	sbxd_code rv;

	if ((rv = render_rpc_counts(out, name_of)) != SBXD_OK ||
	    (rv = render_rpc_hists(out, name_of)) != SBXD_OK ||
	    (rv = render_engine(out)) != SBXD_OK ||
	    (rv = render_counters(out)) != SBXD_OK)
		return rv;
	if ((rv = metrics_render_gauge(out, "sbxd_worker_queue_depth",
	    "Requests waiting for a worker thread.",
	    metrics_gauge_get(METRICS_G_WORKER_QUEUED))) != SBXD_OK)
		return rv;
	if ((rv = metrics_render_gauge(out, "sbxd_workers_busy", "Worker threads running a request.",
	    metrics_gauge_get(METRICS_G_WORKER_BUSY))) != SBXD_OK)
		return rv;
	return metrics_render_gauge(out, "sbxd_connections_open",
	    "Connections open on the RPC and log sockets.", metrics_gauge_get(METRICS_G_CONNECTIONS));
}
