/*
 * pbcheck.h — checks on a packed protobuf message that protobuf-c's unpack
 * cannot make. protobuf-c hands `string` fields over as C strings, so a NUL
 * byte inside one silently cuts it short ("alice\0../x" would arrive as
 * "alice"): a client would be served under a name it did not send. This
 * walks the wire bytes with the message's descriptor and refuses any
 * string field holding a NUL, naming the field. Message types here are not
 * recursive; the walk is bounded by a depth limit all the same.
 */
#ifndef SBXD_PBCHECK_H
#define SBXD_PBCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "err.h"

/* SBXD_INVALID_ARGUMENT (message names the field) when a string field of
 * the message described by d, at any depth, contains a NUL byte; SBXD_OK
 * otherwise — including for malformed wire data, which unpack reports. */
sbxd_code pbcheck_strings(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t len, struct err *e);

#endif
