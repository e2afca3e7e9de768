/*
 * agent_link.h — the agent's end of the nng pair1 link to sbxd: dialling
 * (nng redials by itself), connection events, frames decoded as the main
 * loop takes them from nng, and sends bound to one connection.
 *
 * The main loop polls agent_link_wakefd() and agent_link_recvfd(), then
 * takes events with agent_link_next() until it returns 0 (or as many as
 * it wants this turn: the fds stay readable while more wait). Events keep
 * the order nng produced them in: a connection's UP, its frames, its DOWN.
 */
#ifndef SBX_AGENT_LINK_H
#define SBX_AGENT_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "sbx/agent/v1/agent.pb-c.h"

struct agent_link;

enum agent_link_ev_kind { AGENT_EV_UP, AGENT_EV_DOWN, AGENT_EV_FRAME };

struct agent_link_ev {
	enum agent_link_ev_kind kind;
	uint32_t pipe;                  /* the connection it concerns */
	Sbx__Agent__V1__Frame *frame;   /* AGENT_EV_FRAME: the caller's, agent_frame_free */
};

/* Opens the pair1 socket, starts dialling url (ipc://, tcp://, tls+tcp://;
 * tls_ca is the CA file for tls+tcp, else NULL).
 * Returns 0, or -1 after logging why; on -1 nothing is released, as the
 * caller (the worker's start) exits. */
int agent_link_open(const char *url, const char *tls_ca, struct agent_link **out);

/* Readable when agent_link_next may have something: a connection event
 * (wakefd) or a frame (recvfd, nng's own; never read or close it). */
int agent_link_wakefd(struct agent_link *l);
int agent_link_recvfd(struct agent_link *l);

/* Takes the next event into *ev: 1, or 0 when there is none now. frames 0:
 * the caller's last poll saw recvfd not readable, so no frame is asked of
 * nng unless a connection's end waits behind its frames (each ask
 * allocates an nng aio: a few microseconds per turn of the loop). */
int agent_link_next(struct agent_link *l, struct agent_link_ev *ev, int frames);

/* Sends f on connection pipe and waits until nng took it. 0 when sent;
 * -1 when that connection is gone (the frame is dropped) or sbxd did not
 * take it within the send timeout (then the connection is closed). Never
 * lets a frame meant for one connection reach the next one. */
int agent_link_send(struct agent_link *l, uint32_t pipe, const Sbx__Agent__V1__Frame *f);

/* Closes connection pipe (nng redials). */
void agent_link_drop_pipe(struct agent_link *l, uint32_t pipe);

/* Decodes one received frame with a bounded allocator (AGENT_DECODE_BUDGET
 * bytes at most for the whole decoded tree). 0 and *out (free it with
 * agent_frame_free), or -1 when p is not a Frame or is too costly. */
int agent_frame_decode(const uint8_t *p, size_t len, Sbx__Agent__V1__Frame **out);
void agent_frame_free(Sbx__Agent__V1__Frame *f);

#define AGENT_DECODE_BUDGET (4 * 1024 * 1024)

#endif
