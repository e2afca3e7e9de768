/*
 * json_out.c — the CLI's JSON writer (see json_out.h for the escaping
 * rules). It owns nothing but the FILE position it writes at; output is
 * produced as values arrive, so a command prints its object only after
 * every call it makes has succeeded.
 */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "json_out.h"

void
jw_init(struct jw *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
}

size_t
utf8_seq_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static void
put_escaped_byte(FILE *f, unsigned char c)
{
	switch (c) {
	case '"': fputs("\\\"", f); break;
	case '\\': fputs("\\\\", f); break;
	case '\n': fputs("\\n", f); break;
	case '\r': fputs("\\r", f); break;
	case '\t': fputs("\\t", f); break;
	case '\b': fputs("\\b", f); break;
	case '\f': fputs("\\f", f); break;
	default:
		if (c < 0x20 || c == 0x7f || c >= 0x80)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

/* Writes p as a JSON string; returns whether any byte was not UTF-8. */
static int
put_string(FILE *f, const unsigned char *p, size_t n)
{
	int lossy = 0;
	size_t k;

	fputc('"', f);
	for (size_t i = 0; i < n; i += k) {
		k = utf8_seq_len(p + i, n - i);
		if (k > 1) {
			fwrite(p + i, 1, k, f);
			continue;
		}
		if (k == 0) {
			lossy = 1;
			k = 1;
		}
		put_escaped_byte(f, p[i]);
	}
	fputc('"', f);
	return lossy;
}

static void
put_base64(FILE *f, const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v;

	fputc('"', f);
	for (size_t i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		fputc(tab[(v >> 18) & 63], f);
		fputc(tab[(v >> 12) & 63], f);
		fputc(i + 1 < n ? tab[(v >> 6) & 63] : '=', f);
		fputc(i + 2 < n ? tab[v & 63] : '=', f);
	}
	fputc('"', f);
}

/* The comma and the key before a value. */
static void
member(struct jw *w, const char *key)
{
	if (w->count[w->depth]++ > 0)
		fputc(',', w->f);
	if (key != NULL) {
		put_string(w->f, (const unsigned char *)key, strlen(key));
		fputc(':', w->f);
	}
}

static void
open_nested(struct jw *w, const char *key, char c)
{
	member(w, key);
	fputc(c, w->f);
	assert(w->depth + 1 < JW_MAX_DEPTH);
	w->count[++w->depth] = 0;
}

void
jw_obj_begin(struct jw *w, const char *key)
{
	open_nested(w, key, '{');
}

void
jw_arr_begin(struct jw *w, const char *key)
{
	open_nested(w, key, '[');
}

void
jw_obj_end(struct jw *w)
{
	assert(w->depth > 0);
	w->depth--;
	fputc('}', w->f);
}

void
jw_arr_end(struct jw *w)
{
	assert(w->depth > 0);
	w->depth--;
	fputc(']', w->f);
}

void
jw_str(struct jw *w, const char *key, const char *s)
{
	member(w, key);
	if (s == NULL)
		fputs("null", w->f);
	else
		put_string(w->f, (const unsigned char *)s, strlen(s));
}

void
jw_bytes(struct jw *w, const char *key, const void *p, size_t n)
{
	char k64[128];

	member(w, key);
	if (!put_string(w->f, p, n) || key == NULL)
		return;
	snprintf(k64, sizeof(k64), "%s_base64", key);
	member(w, k64);
	put_base64(w->f, p, n);
}

void
jw_u64(struct jw *w, const char *key, uint64_t v)
{
	member(w, key);
	fprintf(w->f, "%llu", (unsigned long long)v);
}

void
jw_i64(struct jw *w, const char *key, int64_t v)
{
	member(w, key);
	fprintf(w->f, "%lld", (long long)v);
}

void
jw_double(struct jw *w, const char *key, double v)
{
	member(w, key);
	if (isfinite(v))
		fprintf(w->f, "%.17g", v);
	else
		fputs("null", w->f);
}

void
jw_bool(struct jw *w, const char *key, int v)
{
	member(w, key);
	fputs(v ? "true" : "false", w->f);
}

void
jw_finish(struct jw *w)
{
	assert(w->depth == 0);
	w->count[0] = 0;      /* the writer can start another document */
	fputc('\n', w->f);
	fflush(w->f);
}
