/*
 * utf8.c — well-formed UTF-8 (see utf8.h).
 */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

#define REPLACEMENT "\xef\xbf\xbd"

/* Length of the well-formed sequence at p (len > 0 bytes), or 0. */
static size_t
seq_len(const uint8_t *p, size_t len)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;              /* overlong */
		else if (c == 0xed)
			hi = 0x9f;              /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;              /* overlong */
		else if (c == 0xf4)
			hi = 0x8f;              /* above U+10FFFF */
	} else
		return 0;
	if (len < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

int
utf8_valid(const void *p, size_t len)
{
	const uint8_t *s = p;
	size_t i = 0, n;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = seq_len(s + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

char *
utf8_fixed(struct arena *a, char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t len = strlen(s), i = 0, o = 0, n;
	char *out;

	if (utf8_valid(s, len))
		return s;
	if (len > (SIZE_MAX - 1) / 3 || (out = arena_alloc(a, 3 * len + 1)) == NULL)
		return NULL;
	while (i < len) {
		if ((n = seq_len(p + i, len - i)) == 0) {
			memcpy(out + o, REPLACEMENT, 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}
