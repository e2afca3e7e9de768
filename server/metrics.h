/*
 * metrics.h — sbxd's counters, gauges and latency histograms, and their
 * rendering in the Prometheus text exposition format (version 0.0.4).
 *
 * The registry is process-wide: it is filled at the one place each thing
 * happens (rpc_handle for RPCs, docker_call_perform for engine calls, the
 * worker pool for its queue, the log bus, the warm pool), where the driver has no server to hand. A
 * hot-path observation costs a few relaxed atomic adds and takes no lock.
 * Labels are method names and status codes only — never a session id, a
 * token or a user's name.
 */
#ifndef SBXD_METRICS_H
#define SBXD_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "err.h"

#define METRICS_RPC_SLOTS 129        /* DISPATCH_SLOTS + 1 for unknown methods */
#define METRICS_RPC_UNKNOWN (METRICS_RPC_SLOTS - 1)
#define METRICS_CODES 17             /* canonical codes 0..16 */
#define METRICS_NBUCKETS 15          /* finite buckets; +Inf is the total */
#define METRICS_TEXT_MAX (1u << 20)  /* ceiling on one rendering */

enum metrics_gauge {
	METRICS_G_WORKER_QUEUED,     /* jobs waiting for a worker */
	METRICS_G_WORKER_BUSY,       /* workers running a job */
	METRICS_G_CONNECTIONS,       /* connections open on sbxd's sockets */
	METRICS_G_COUNT
};

enum metrics_counter {
	METRICS_C_LOGBUS_EVENTS,     /* events put on the log bus */
	METRICS_C_LOGBUS_BYTES,      /* their data bytes */
	METRICS_C_LOGBUS_EVICTED,    /* events pushed out of a ring to make room */
	METRICS_C_LOGBUS_PUB_FAILED, /* events the pub socket refused */
	METRICS_C_POOL_HITS,         /* sessions given a warm container */
	METRICS_C_POOL_MISSES,       /* sessions that had to create one (pool on) */
	METRICS_C_SHARE_REFUSED,     /* long calls refused: a tenant over its share */
	METRICS_C_CONN_REFUSED,      /* connections closed over a connection cap */
	METRICS_C_REPLY_REPEATS,     /* calls answered from the reply cache */
	METRICS_C_AGENT_RELISTENS,   /* agent link listeners made again */
	METRICS_C_COUNT
};

/* Names a dispatch slot for rendering; NULL for an unused slot. */
typedef const char *(*metrics_slot_name_fn)(unsigned slot);

/* Counts one finished RPC of method slot (METRICS_RPC_UNKNOWN when the
 * method was not found) with its code and duration in microseconds.
 * Out-of-range slots and codes are counted as unknown. */
void metrics_rpc_observe(unsigned slot, int code, uint64_t us);
/* Records the duration of one engine API call (failed ones included). */
void metrics_engine_observe(uint64_t us, int failed);
/* Adds delta to a gauge. */
void metrics_gauge_add(enum metrics_gauge g, int64_t delta);
/* Adds n to a counter. */
void metrics_count(enum metrics_counter c, uint64_t n);
/* Reads a gauge (tests, readiness). */
int64_t metrics_gauge_get(enum metrics_gauge g);
/* Monotonic microseconds, for timing an observation. */
uint64_t metrics_now_us(void);
/* Appends the registry to out in text format, rows of slots name_of
 * names. SBXD_RESOURCE_EXHAUSTED when out's ceiling is reached (out then
 * holds a cut rendering the caller must not serve). */
sbxd_code metrics_render(struct buf *out, metrics_slot_name_fn name_of);
/* Appends a "# HELP/# TYPE" header and one unlabelled gauge sample. */
sbxd_code metrics_render_gauge(struct buf *out, const char *name, const char *help,
    int64_t value);
/* Zeroes every counter, histogram and gauge (unit tests only). */
void metrics_reset(void);

#endif
