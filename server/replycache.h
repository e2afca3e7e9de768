/*
 * replycache.h — replies remembered by (credential, request id), so a
 * client may retry any call with the same request id and have it run once.
 *
 * rpc.c asks before running an authenticated call that carries a request
 * id: the first arrival runs it and hands its packed reply back; a repeat
 * gets that reply; a repeat of a call still running waits for it (up to
 * its own deadline and REPLYCACHE_WAIT_MAX_MS) and is then told the call
 * is still running. The credential is never stored: callers pass its
 * SHA-256, compared in constant time; the ids of one credential never
 * match another's. A request id reused for a different request (another
 * method or payload, by digest) is not a retry: the caller runs it as a
 * new call, uncached, and the first reply stays. The window is bounded by age, count and bytes; the oldest
 * finished replies go first, and a call finding the cache full of calls
 * in flight runs uncached.
 */
#ifndef SBXD_REPLYCACHE_H
#define SBXD_REPLYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define REPLYCACHE_TTL_MS (10 * 60 * 1000)   /* a reply is kept 10 minutes */
#define REPLYCACHE_MAX_ENTRIES 4096
#define REPLYCACHE_MAX_BYTES (64u << 20)     /* all kept replies together */
#define REPLYCACHE_MAX_REPLY (8u << 20)      /* a bigger reply is not kept: its
					      * repeat is refused, not rerun */
#define REPLYCACHE_ID_MAX 128                /* longer request ids are not cached */
#define REPLYCACHE_WAIT_MAX_MS 60000         /* a repeat waits this long at most */
#define REPLYCACHE_WAITERS_MAX 2             /* repeats waiting on one call (each holds
					      * a worker); more hear "still running" */
#define REPLYCACHE_DIGEST 32

struct replycache;
struct replycache_entry;

struct replycache_limits {
	int64_t ttl_ms;
	size_t max_entries;
	size_t max_bytes;
	size_t max_reply;
	int64_t (*now_ms)(void);    /* monotonic ms; NULL = CLOCK_MONOTONIC (tests substitute) */
};

enum replycache_verdict {
	REPLYCACHE_RUN,             /* first arrival: run it, then replycache_finish */
	REPLYCACHE_UNCACHED,        /* run it, no finish (id too long, cache full) */
	REPLYCACHE_HIT,             /* *reply is a malloc'd copy of the first reply */
	REPLYCACHE_RUNNING,         /* the first call was still running at wait_until */
	REPLYCACHE_MISMATCH,        /* the id was used for a different request: run, no finish */
	REPLYCACHE_TOO_BIG,         /* it ran, but its reply was too big to keep */
};

/* lim NULL = the REPLYCACHE_ constants. */
sbxd_code replycache_new(const struct replycache_limits *lim, struct replycache **out,
    struct err *e);
/* Frees the cache; no call may be between begin and finish. NULL ignored. */
void replycache_free(struct replycache *rc);

/* Looks up (cred, id). RUN: *slot is set and the caller must pass it to
 * replycache_finish once the reply is packed. HIT: *reply and *len are a
 * malloc'd copy the caller frees. RUNNING after waiting until the monotonic
 * time wait_until_ms. req is a digest of method and payload. */
enum replycache_verdict replycache_begin(struct replycache *rc,
    const unsigned char cred[REPLYCACHE_DIGEST], const char *id,
    const unsigned char req[REPLYCACHE_DIGEST], int64_t wait_until_ms,
    struct replycache_entry **slot, void **reply, size_t *len);
/* Keeps a copy of reply (len bytes) for slot's repeats and wakes those
 * waiting; keep 0 forgets the call instead, so a repeat runs it again (for
 * replies saying it could not be served). Out of memory also forgets it. */
void replycache_finish(struct replycache *rc, struct replycache_entry *slot,
    const void *reply, size_t len, int keep);

/* Monotonic milliseconds, as the cache counts them by default. */
int64_t replycache_now_ms(void);
/* Entries and reply bytes held (for tests and metrics). */
void replycache_stats(struct replycache *rc, size_t *entries, size_t *bytes);

#endif
