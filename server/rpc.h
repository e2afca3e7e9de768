/*
 * rpc.h — the req/rep front door of sbxd.
 *
 * A rep0 socket with a pool of nng contexts (one request in flight per
 * context), each handed to the worker pool once its request arrives, so a
 * slow Docker call holds one context and one worker, never the others.
 * The listener caps message size (NNG_OPT_RECVMAXSZ) and every request is
 * unpacked against a budget.
 */
#ifndef SBXD_RPC_H
#define SBXD_RPC_H

#include <stddef.h>

#include "err.h"
#include "server.h"

struct rpc_server;

/* Listens on srv->cfg->listen (tls+tcp:// with the configured cert). */
sbxd_code rpc_server_start(struct server *srv, struct rpc_server **out, struct err *e);
/* Stops taking new requests (they get UNAVAILABLE) and gives the ones in
 * flight drain_ms: RPC_KILL_BEFORE_MS (or a third of it) before the end it
 * drains the driver, so foreground commands are killed and answer
 * UNAVAILABLE themselves; at the end it answers any call still running
 * UNAVAILABLE in its stead. Then closes the socket. Returns 0 when
 * everything is freed; otherwise the number of calls whose workers still
 * run — r and the server they use must then stay until the process exits. */
int rpc_server_stop(struct rpc_server *r, int drain_ms);

/* Handles one packed Request and returns a packed Response in malloc'd
 * memory (*out, *outlen); never fails except on out-of-memory (NULL).
 * Exposed for tests and fuzzing: no socket involved. */
void *rpc_handle(struct server *srv, const void *req, size_t len, size_t *outlen);

#endif
