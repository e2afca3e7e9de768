/*
 * http.h — sbxd's HTTP listener for health and metrics (libmicrohttpd).
 *
 * Serves GET /healthz (the process answers), GET /readyz (the store takes
 * writes, the engine answers, the default runtime's image is present) and
 * GET /metrics (Prometheus text). Anything but GET is 405, any other path
 * 404. Loopback by default (metrics_listen); it carries no secrets and
 * takes no credentials, so bind it only where scrapers should reach it.
 */
#ifndef SBXD_HTTP_H
#define SBXD_HTTP_H

#include <netinet/in.h>

#include "err.h"
#include "server.h"

#define HTTP_MAX_CONNECTIONS 16     /* concurrent scrapers and probes */
#define HTTP_CONN_TIMEOUT_S 10      /* an idle or slow connection is closed */
#define HTTP_CONN_MEMORY (32u << 10) /* per connection: request line and headers */

struct http_server;

/* Starts listening on srv->cfg->metrics_listen ("HOST:PORT", IPv4); *out is
 * NULL and SBXD_OK when it is "" or "off". FAILED_PRECONDITION when the
 * address cannot be bound. */
sbxd_code http_start(struct server *srv, struct http_server **out, struct err *e);
/* Stops the listener and frees it; tolerates NULL. */
void http_stop(struct http_server *h);
/* Parses "HOST:PORT" (IPv4 dotted quad, port 1..65535) into addr. */
sbxd_code http_parse_addr(const char *s, struct sockaddr_in *addr, struct err *e);

#endif
