/*
 * pbcheck.c — a read-only walk over protobuf wire bytes, and a walk over
 * an unpacked reply (see pbcheck.h). The first decodes only tags and
 * lengths; values are never copied.
 */
#include <string.h>

#include "pbcheck.h"
#include "utf8.h"

#define PBCHECK_DEPTH 8

/* Reads a varint; returns bytes used, 0 when malformed or truncated. */
static size_t
varint(const uint8_t *p, size_t len, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < len && i < 10; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0)
			return i + 1;
	}
	return 0;
}

/* Steps over the next field of *p: 1 with its tag, and for a
 * length-delimited field its value in *val / *vlen; 0 at the end or at
 * bytes that are malformed or truncated (unpack reports those). */
static int
next_field(const uint8_t **p, size_t *len, uint64_t *tag, const uint8_t **val, size_t *vlen)
{
	uint64_t n;
	size_t used;

	if (*len == 0 || (used = varint(*p, *len, tag)) == 0)
		return 0;
	*p += used;
	*len -= used;
	*val = NULL;
	*vlen = 0;
	switch (*tag & 7) {
	case 0:
		if ((used = varint(*p, *len, &n)) == 0)
			return 0;
		break;
	case 1:
		used = 8;
		break;
	case 5:
		used = 4;
		break;
	case 2:
		if ((used = varint(*p, *len, &n)) == 0 || n > *len - used)
			return 0;
		*p += used;
		*len -= used;
		used = (size_t)n;
		*val = *p;
		*vlen = used;
		break;
	default:
		return 0;
	}
	if (used > *len)
		return 0;
	*p += used;
	*len -= used;
	return 1;
}

static sbxd_code
walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth,
    int utf8, struct err *e)
{
	const ProtobufCFieldDescriptor *f;
	const uint8_t *v;
	uint64_t tag;
	size_t vlen;
	sbxd_code rv;

	if (depth > PBCHECK_DEPTH)
		return SBXD_OK;
	while (next_field(&p, &len, &tag, &v, &vlen)) {
		if ((tag & 7) != 2 ||
		    (f = protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3))) == NULL)
			continue;
		if (f->type == PROTOBUF_C_TYPE_STRING && memchr(v, 0, vlen) != NULL)
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "field %s.%s contains a NUL byte", d->short_name, f->name);
		if (utf8 && f->type == PROTOBUF_C_TYPE_STRING && !utf8_valid(v, vlen))
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "field %s.%s is not valid UTF-8; string fields carry UTF-8 text "
			    "(file contents and output travel as bytes)", d->short_name, f->name);
		if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    (rv = walk(f->descriptor, v, vlen, depth + 1, utf8, e)) != SBXD_OK)
			return rv;
	}
	return SBXD_OK;
}

sbxd_code
pbcheck_strings(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
    struct err *e)
{
	return walk(d, p, len, 0, 1, e);
}

sbxd_code
pbcheck_nul(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, struct err *e)
{
	return walk(d, p, len, 0, 0, e);
}

int
pbcheck_peek_bytes(const uint8_t *p, size_t len, unsigned field, const uint8_t **val,
    size_t *vlen)
{
	const uint8_t *v;
	uint64_t tag;
	size_t n;
	int found = 0;

	while (next_field(&p, &len, &tag, &v, &n))
		if ((tag & 7) == 2 && (tag >> 3) == field) {
			*val = v;
			*vlen = n;
			found = 1;
		}
	return found;
}

/* Fixes one string field's slot; -1 when out of memory. */
static int
fix_slot(char **slot, struct arena *a)
{
	char *fixed;

	if (*slot == NULL || (fixed = utf8_fixed(a, *slot)) == *slot)
		return 0;
	if (fixed == NULL)
		return -1;
	*slot = fixed;
	return 0;
}

static int
fix_message(ProtobufCMessage *m, struct arena *a, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (depth > PBCHECK_DEPTH)
		return 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *slot = (char *)m + f->offset;
		size_t n = f->label == PROTOBUF_C_LABEL_REPEATED ?
		    *(size_t *)((char *)m + f->quantifier_offset) : 1;
		void **v = f->label == PROTOBUF_C_LABEL_REPEATED ? *(void ***)slot : (void **)slot;

		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
			continue;          /* the protocol has none; a oneof slot may be another type */
		for (size_t k = 0; k < n && v != NULL; k++) {
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				if (fix_slot((char **)&v[k], a) != 0)
					return -1;
			} else if (v[k] != NULL && fix_message(v[k], a, depth + 1) != 0)
				return -1;
		}
	}
	return 0;
}

int
pbcheck_fix_utf8(ProtobufCMessage *m, struct arena *a)
{
	return fix_message(m, a, 0);
}
