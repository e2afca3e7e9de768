/*
 * err.h — the server's one error currency.
 *
 * Every fallible server function returns an `sbxd_code` (gRPC's canonical
 * numbering, identical to sbx.v1.Code on the wire) and, when it fails,
 * fills a caller-provided `struct err` with a message that says what went
 * wrong and what to do. Foreign error values (errno, CURLcode, SQLite rc,
 * nng errors, Docker HTTP statuses) are translated into these codes at the
 * edge where the foreign library is called, and nowhere else.
 */
#ifndef SBXD_ERR_H
#define SBXD_ERR_H

#include <stdarg.h>

typedef enum {
	SBXD_OK = 0,
	SBXD_CANCELLED = 1,
	SBXD_UNKNOWN = 2,
	SBXD_INVALID_ARGUMENT = 3,
	SBXD_DEADLINE_EXCEEDED = 4,
	SBXD_NOT_FOUND = 5,
	SBXD_ALREADY_EXISTS = 6,
	SBXD_PERMISSION_DENIED = 7,
	SBXD_RESOURCE_EXHAUSTED = 8,
	SBXD_FAILED_PRECONDITION = 9,
	SBXD_ABORTED = 10,
	SBXD_OUT_OF_RANGE = 11,
	SBXD_UNIMPLEMENTED = 12,
	SBXD_INTERNAL = 13,
	SBXD_UNAVAILABLE = 14,
	SBXD_DATA_LOSS = 15,
	SBXD_UNAUTHENTICATED = 16,
} sbxd_code;

#define ERR_MSG_MAX 512

struct err {
	sbxd_code code;
	char msg[ERR_MSG_MAX];
};

/* Sets e (if not NULL) to code and a formatted message; returns code. */
sbxd_code err_set(struct err *e, sbxd_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes e's message with a formatted context ("creating session: ");
 * returns e->code. */
sbxd_code err_wrap(struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears e to OK with an empty message. */
void err_clear(struct err *e);

/* The canonical upper-case name of a code ("NOT_FOUND"). */
const char *err_code_name(sbxd_code code);

#endif
