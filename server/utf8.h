/*
 * utf8.h — UTF-8 as protobuf's other implementations check it.
 *
 * protobuf-c packs and unpacks `string` fields without looking at their
 * bytes, but every other runtime (Python's, Go's, Java's) refuses a message
 * whose string field is not well-formed UTF-8: one file name with a byte
 * 0xff would make a whole Ls reply undecodable for them. Well-formed here
 * is RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
 */
#ifndef SBXD_UTF8_H
#define SBXD_UTF8_H

#include <stddef.h>

#include "arena.h"

/* 1 when p[0..len) is well-formed UTF-8. */
int utf8_valid(const void *p, size_t len);

/* s itself when it is well-formed, else a copy in a with every byte that
 * is not part of a well-formed sequence replaced by U+FFFD (what Python's
 * errors="replace" shows); NULL only when a is out of budget. */
char *utf8_fixed(struct arena *a, char *s);

#endif
