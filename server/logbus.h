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
/* Drops session_id's ring (the session ended and was purged). */
void logbus_forget(struct server *s, const char *session_id);

#endif
