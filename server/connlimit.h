/*
 * connlimit.h — caps on connections per listening socket, and the
 * descriptor limit they live within.
 *
 * Nothing in front of authentication bounds how many connections a peer
 * may hold, and each costs a descriptor; a flood of handshaked SP
 * connections once used all 1,024 and locked new clients out. A connlimit
 * watches one nng socket's pipes (nng_pipe_notify): a pipe that would put
 * its remote address over max_per_address, or the socket over max_total,
 * is closed before the protocol sees it. Refusals are counted, logged at
 * most once per CONNLIMIT_LOG_EVERY_MS, and readable by anyone holding
 * the handle (metrics). Connections still in the SP handshake are not
 * pipes yet: nng closes those after its own handshake timeout.
 */
#ifndef SBXD_CONNLIMIT_H
#define SBXD_CONNLIMIT_H

#include <stdint.h>

#include <nng/nng.h>

#include "err.h"

#define CONNLIMIT_LOG_EVERY_MS 10000
/* The descriptor ceiling sbxd asks for at start (deploy/sbxd.service's
 * LimitNOFILE says the same). */
#define CONNLIMIT_NOFILE_CEILING 65536
/* Descriptors kept for everything but client connections: the store,
 * Docker calls, workspace files, background processes' pipes, logs. */
#define CONNLIMIT_NOFILE_RESERVE 1024

struct connlimit;

struct connlimit_stats {
	uint64_t open;              /* connections (pipes) open now */
	uint64_t accepted;          /* since start */
	uint64_t refused_total;     /* closed: the socket was at max_total */
	uint64_t refused_address;   /* closed: the address was at max_per_address */
};

/* Watches sock's pipes with these caps (name appears in the log). On
 * success *out is the caller's, freed with connlimit_free after the socket
 * is closed; on failure nothing is left. */
sbxd_code connlimit_attach(nng_socket sock, const char *name, int max_total,
    int max_per_address, struct connlimit **out, struct err *e);
void connlimit_free(struct connlimit *cl);
/* A consistent snapshot of cl's counters; zeros for NULL. */
void connlimit_stats(struct connlimit *cl, struct connlimit_stats *out);
/* Logs cl's counters (at shutdown). */
void connlimit_log(struct connlimit *cl);
/* Raises the soft RLIMIT_NOFILE to CONNLIMIT_NOFILE_CEILING (the hard
 * limit too when allowed, else up to it) and warns when the result is
 * below need; returns the soft limit in force. */
uint64_t connlimit_raise_nofile(uint64_t need);

#endif
