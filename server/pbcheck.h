/*
 * pbcheck.h — checks on a packed protobuf message that protobuf-c's unpack
 * cannot make. protobuf-c hands `string` fields over as C strings, so a NUL
 * byte inside one silently cuts it short ("alice\0../x" would arrive as
 * "alice"): a client would be served under a name it did not send. This
 * walks the wire bytes with the message's descriptor and refuses any
 * string field holding a NUL, or bytes that are not well-formed UTF-8
 * (every protobuf runtime but protobuf-c refuses those), naming the field.
 * Replies get the opposite care: pbcheck_fix_utf8 makes every string in
 * an unpacked reply well-formed before it is packed, so no name read from
 * disk can make a reply undecodable for a client. Message types here are
 * not recursive; both walks are bounded by a depth limit all the same.
 */
#ifndef SBXD_PBCHECK_H
#define SBXD_PBCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "arena.h"
#include "err.h"

/* SBXD_INVALID_ARGUMENT (message names the field) when a string field of
 * the message described by d, at any depth, contains a NUL byte or is not
 * well-formed UTF-8; SBXD_OK otherwise — including for malformed wire
 * data, which unpack reports. */
sbxd_code pbcheck_strings(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t len, struct err *e);

/* pbcheck_strings without the UTF-8 rule, for the envelope: credentials
 * that are not UTF-8 are bad credentials (UNAUTHENTICATED, answered by
 * authentication before anything else), and rpc checks the request id
 * itself. */
sbxd_code pbcheck_nul(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
    struct err *e);

/* Replaces, in the unpacked message m and every message it holds, each
 * string that is not well-formed UTF-8 by a copy in a with U+FFFD for the
 * bad bytes (handlers put the exact bytes in a bytes field beside names
 * that need them). 0, or -1 when a is out of budget. */
int pbcheck_fix_utf8(ProtobufCMessage *m, struct arena *a);

/* The value of the top-level length-delimited field number `field` in the
 * packed message p (the last one, as unpack would keep), without decoding
 * the rest: 1 with *val and *vlen pointing into p, 0 when absent or the
 * bytes before it are malformed. For routing a request before it is
 * unpacked (rpc.c reads the method name this way). */
int pbcheck_peek_bytes(const uint8_t *p, size_t len, unsigned field, const uint8_t **val,
    size_t *vlen);

#endif
