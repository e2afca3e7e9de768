/*
 * err.c — formatting of the server's canonical error values (see err.h).
 */
#include <stdio.h>
#include <string.h>

#include "err.h"

sbxd_code
err_set(struct err *e, sbxd_code code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

sbxd_code
err_wrap(struct err *e, const char *fmt, ...)
{
	char prefix[ERR_MSG_MAX];
	size_t plen, olen;
	va_list ap;
	int n;

	if (e == NULL)
		return SBXD_UNKNOWN;
	va_start(ap, fmt);
	n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	plen = n < 0 ? 0 : (size_t)n < sizeof(prefix) ? (size_t)n : sizeof(prefix) - 1;
	olen = strnlen(e->msg, sizeof(e->msg) - 1);
	if (plen + olen > sizeof(e->msg) - 1)
		olen = sizeof(e->msg) - 1 - plen;
	memmove(e->msg + plen, e->msg, olen);
	memcpy(e->msg, prefix, plen);
	e->msg[plen + olen] = '\0';
	return e->code;
}

void
err_clear(struct err *e)
{
	if (e == NULL)
		return;
	e->code = SBXD_OK;
	e->msg[0] = '\0';
}

const char *
err_code_name(sbxd_code code)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
		"DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
		"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
		"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
		"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};

	if ((unsigned)code >= sizeof(names) / sizeof(names[0]))
		return "UNKNOWN";
	return names[code];
}
