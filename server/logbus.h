/*
 * logbus.h — every session's log events: a ring buffer per session with
 * gap-free sequence numbers, published sealed on the pub socket.
 *
 * Anything a session's commands print (Execute, background processes) and
 * its lifecycle events (started, exited, OOM-killed, timed out, stopped by
 * the reaper) become events {seq, process id, stream, bytes, time}. Each
 * session keeps its last events in memory (log_ring_events / bytes) for
 * ReadLogs; every event is also published on cfg->log_listen under the
 * topic "sbx.v1.log.<session id>\0" as a SealedLogEvent whose ciphertext
 * only holders of the session's credentials can open (the key comes from
 * SubscribeLogs). Emitting never blocks on subscribers.
 */
#ifndef SBXD_LOGBUS_H
#define SBXD_LOGBUS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "server.h"

/* Values of sbx.v1.LogStream. */
enum logbus_stream {
	LOGBUS_STDOUT = 1,
	LOGBUS_STDERR = 2,
	LOGBUS_SYSTEM = 3,
	LOGBUS_TERMINAL = 4,        /* what a terminal shows (terms.h) */
	LOGBUS_WATCH = 5,           /* a packed WatchEventBatch (watches.h) */
};

/* Opens s->logbus and binds the pub socket (server_open calls it). */
sbxd_code logbus_open(struct server *s, struct err *e);
void logbus_close(struct server *s);
/* Appends len bytes of session_id's output as events (long data is split
 * into several), publishes them, returns the last seq assigned (0 when
 * the bus is closed or len is 0). process_id may be "" for the session. */
uint64_t logbus_emit(struct server *s, const char *session_id, const char *process_id,
    enum logbus_stream stream, const void *data, size_t len);
/* A LOGBUS_SYSTEM event with a printf-formatted text. */
uint64_t logbus_emitf(struct server *s, const char *session_id, const char *process_id,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Drops session_id's ring (the session ended and was purged). The ring
 * lingers LOGBUS_LINGER_MS first so a follower can still read the last
 * events (its "ended" event among them). */
void logbus_forget(struct server *s, const char *session_id);

/* ---- reading, keys and leases (the SubscribeLogs/ReadLogs handlers) */

#define LOGBUS_EVENT_MAX (64u << 10)  /* data bytes of one event; longer output is split */
#define LOGBUS_PID_MAX 48             /* process id, with its NUL; longer ones are cut */
#define LOGBUS_KEY_BYTES 32           /* crypto_aead_xchacha20poly1305_ietf_KEYBYTES */
#define LOGBUS_NONCE_BYTES 24
#define LOGBUS_TOPIC_PREFIX "sbx.v1.log."
#define LOGBUS_LEASE_MS 60000         /* a subscription lease; renewed by SubscribeLogs/ReadLogs */
#define LOGBUS_LINGER_MS 60000

struct logbus_event {
	uint64_t seq;
	uint64_t unix_ms;
	enum logbus_stream stream;
	const char *process_id;
	const void *data;           /* borrowed: valid during the callback only */
	size_t len;
};

/* What a read found besides the events. */
struct logbus_window {
	uint64_t first_available;   /* oldest seq still buffered (next_seq when none) */
	uint64_t next_seq;          /* seq the next event will get */
	uint64_t lost;              /* events after after_seq already evicted */
};

/* Calls each (under the session's lock: copy, do not block, do not emit)
 * for up to max events of session_id with seq > after_seq, oldest first,
 * stopping before the data would pass max_bytes (one event is always
 * given when any is due). Fills *w. SBXD_INVALID_ARGUMENT (message names
 * the next seq) when after_seq >= next_seq but is not next_seq - 1, i.e.
 * it names an event that does not exist yet. A session with no events is
 * an empty window starting at seq 1. */
sbxd_code logbus_read(struct server *s, const char *session_id, uint64_t after_seq,
    uint32_t max, size_t max_bytes, void (*each)(void *arg, const struct logbus_event *ev),
    void *arg, struct logbus_window *w, struct err *e);
/* Data bytes held by all rings (for tests and stats). */
size_t logbus_bytes(struct server *s);
/* The window of session_id without reading events. */
void logbus_window(struct server *s, const char *session_id, struct logbus_window *w);
/* session_id's log key: keyed BLAKE2b of the id under the master secret
 * (state_dir/log.key), so it survives restarts and is never stored. */
void logbus_session_key(struct server *s, const char *session_id,
    unsigned char key[LOGBUS_KEY_BYTES]);
/* The URL subscribers dial ("" when log_listen is empty), with the port the
 * listener really bound (log_listen may name port 0). Static per bus. */
const char *logbus_endpoint(struct server *s);
/* This run's epoch (LogEvent.epoch): its start time in ms shifted left 16
 * bits, random below, so a later start has a larger one; 0 when the bus is
 * closed. */
uint64_t logbus_epoch(struct server *s);
/* Renews session_id's subscription lease until until_ms; while it runs,
 * logbus_leased says so and the idle reaper leaves the session alone. */
void logbus_lease(struct server *s, const char *session_id, int64_t until_ms);
int logbus_leased(struct server *s, const char *session_id, int64_t now_ms);

/* ---- the sealed wire form (exported for tests and the client's checks) */

/* Writes the topic of session_id ("sbx.v1.log.<id>", NUL included) to
 * out; returns its length with the NUL, or 0 when it does not fit. */
size_t logbus_topic(const char *session_id, char *out, size_t outsz);
/* The associated data of an event: topic (with its NUL) then seq as 8
 * big-endian bytes; returns its length, 0 when it does not fit. */
size_t logbus_ad(const char *topic, size_t topic_len, uint64_t seq, unsigned char *out,
    size_t outsz);

#endif
