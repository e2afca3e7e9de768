/*
 * json_out.h — the CLI's tiny JSON writer: enough to print one object per
 * command, with no JSON library on the client.
 *
 * A jw writes straight to a FILE and tracks commas by nesting depth. Keys
 * are passed with each value (NULL inside arrays and for the top object).
 * Strings are escaped per RFC 8259: '"', '\\' and control characters
 * (\uXXXX or the short forms), everything else as UTF-8. jw_bytes is for
 * data that may not be text: a valid UTF-8 sequence is copied as is, and
 * each byte that is not part of one is written as \u00XX (so the string
 * stays readable but is lossy: U+00XX and the raw byte XX look alike);
 * when that happened, a second member "<key>_base64" carries the exact
 * bytes in standard base64. Nesting deeper than JW_MAX_DEPTH is a bug.
 */
#ifndef SBX_JSON_OUT_H
#define SBX_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 16

struct jw {
	FILE *f;
	int depth;
	int count[JW_MAX_DEPTH];  /* members written at each depth */
};

void jw_init(struct jw *w, FILE *f);
void jw_obj_begin(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
/* s NULL writes null. */
void jw_str(struct jw *w, const char *key, const char *s);
void jw_bytes(struct jw *w, const char *key, const void *p, size_t n);
void jw_u64(struct jw *w, const char *key, uint64_t v);
void jw_i64(struct jw *w, const char *key, int64_t v);
void jw_double(struct jw *w, const char *key, double v);
void jw_bool(struct jw *w, const char *key, int v);
/* Ends the document with a newline and flushes. */
void jw_finish(struct jw *w);

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if the
 * bytes there are not one. Rejects overlongs, surrogates, > U+10FFFF. */
size_t utf8_seq_len(const unsigned char *p, size_t n);

#endif
