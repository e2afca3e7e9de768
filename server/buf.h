/*
 * buf.h — a growable byte buffer with a ceiling, after curl's dynbuf.
 *
 * Every buffer filled from outside (Docker responses, command output, file
 * reads) has a maximum size fixed at init. buf_add refuses to grow past it
 * and says so with SBXD_RESOURCE_EXHAUSTED, never by silent truncation;
 * buf_add_capped is for places where truncation is the feature (command
 * output) and reports how much it dropped.
 */
#ifndef SBXD_BUF_H
#define SBXD_BUF_H

#include <stddef.h>

#include "err.h"

struct buf {
	char *data;    /* NUL-terminated when not NULL (the NUL is not counted) */
	size_t len;
	size_t cap;
	size_t max;    /* ceiling on len */
};

void buf_init(struct buf *b, size_t max);
/* Frees the storage; b can be reused after buf_init. Tolerates a zeroed b. */
void buf_fini(struct buf *b);
void buf_reset(struct buf *b);
/* Appends n bytes; SBXD_RESOURCE_EXHAUSTED if len would pass max, or
 * SBXD_INTERNAL on allocation failure (b is unchanged on failure). */
sbxd_code buf_add(struct buf *b, const void *p, size_t n);
sbxd_code buf_addstr(struct buf *b, const char *s);
sbxd_code buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends what fits under max and returns the number of bytes dropped. */
size_t buf_add_capped(struct buf *b, const void *p, size_t n);
/* Hands the storage to the caller (free() it); b is left empty. */
char *buf_take(struct buf *b, size_t *len);

#endif
