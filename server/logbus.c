/*
 * logbus.c — placeholder; being written.
 */
#include <stdarg.h>

#include "logbus.h"

/* Stub until the log bus lands: events go nowhere. */
sbxd_code logbus_open(struct server *s, struct err *e) { (void)s; (void)e; return SBXD_OK; }
void logbus_close(struct server *s) { (void)s; }
uint64_t
logbus_emit(struct server *s, const char *session_id, const char *process_id,
    enum logbus_stream stream, const void *data, size_t len)
{
	(void)s; (void)session_id; (void)process_id; (void)stream; (void)data; (void)len;
	return 0;
}
uint64_t
logbus_emitf(struct server *s, const char *session_id, const char *process_id,
    const char *fmt, ...)
{
	(void)s; (void)session_id; (void)process_id; (void)fmt;
	return 0;
}
void logbus_forget(struct server *s, const char *session_id) { (void)s; (void)session_id; }
