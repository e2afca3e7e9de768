/*
 * buf.c — bounded growable buffers (see buf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void
buf_fini(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static sbxd_code
grow(struct buf *b, size_t need)
{
	size_t ncap;
	char *p;

	if (need + 1 <= b->cap)
		return SBXD_OK;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need + 1)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if ((p = realloc(b->data, ncap)) == NULL)
		return SBXD_INTERNAL;
	b->data = p;
	b->cap = ncap;
	return SBXD_OK;
}

sbxd_code
buf_add(struct buf *b, const void *p, size_t n)
{
	sbxd_code rv;

	if (n > b->max || b->len > b->max - n)
		return SBXD_RESOURCE_EXHAUSTED;
	if ((rv = grow(b, b->len + n)) != SBXD_OK)
		return rv;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return SBXD_OK;
}

sbxd_code
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

sbxd_code
buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[512], *big = NULL;
	va_list ap;
	int n;
	sbxd_code rv;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return SBXD_INTERNAL;
	if ((size_t)n < sizeof(small))
		return buf_add(b, small, (size_t)n);
	if ((big = malloc((size_t)n + 1)) == NULL)
		return SBXD_INTERNAL;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rv = buf_add(b, big, (size_t)n);
	free(big);
	return rv;
}

size_t
buf_add_capped(struct buf *b, const void *p, size_t n)
{
	size_t room = b->max - b->len, take = n < room ? n : room;

	if (take > 0 && buf_add(b, p, take) != SBXD_OK)
		return n;
	return n - take;
}

char *
buf_take(struct buf *b, size_t *len)
{
	char *p = b->data;

	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
