/*
 * agent_wire.h — the numbers both ends of the sbxd <-> sbx-agent link
 * agree on (proto/sbx/agent/v1/agent.proto describes the frames). Included
 * by sbx-agent and by sbxd; it depends on nothing.
 */
#ifndef SBX_AGENT_WIRE_H
#define SBX_AGENT_WIRE_H

#define AGENT_PROTO_VERSION 1

/* One nng message = one packed Frame, at most this long; both ends set
 * NNG_OPT_RECVMAXSZ to it. */
#define AGENT_FRAME_MAX ((1024 * 1024) + (4 * 1024))

/* Output and stdin travel in pieces of at most this many bytes. */
#define AGENT_CHUNK_MAX (64 * 1024)

/* read_file answers at most this much content (ReadFile.max lowers it). */
#define AGENT_FILE_MAX (1024 * 1024)

/* Hello.token is at most this long. */
#define AGENT_TOKEN_MAX 128

/* A terminal's size (TermOpen, TermResize): 1..these. */
#define AGENT_TERM_COLS_MAX 1000
#define AGENT_TERM_ROWS_MAX 500

_Static_assert(AGENT_FILE_MAX + 4096 <= AGENT_FRAME_MAX,
    "a full read_file reply fits in one frame");
_Static_assert(AGENT_CHUNK_MAX < AGENT_FRAME_MAX, "a chunk fits in a frame");

#endif
