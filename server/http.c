/*
 * http.c — the health and metrics listener (see http.h): libmicrohttpd
 * with a thread per connection, so a slow readiness check (an engine call)
 * never holds up a liveness probe; connections, their memory and their
 * idle time are bounded. Readiness and the session gauges read through the
 * server's own interfaces (store, driver, log bus); the counters come from
 * metrics.c.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "dispatch.h"
#include "http.h"
#include "log.h"
#include "logbus.h"
#include "metrics.h"
#include "pool.h"
#include "procs.h"
#include "store.h"

struct http_server {
	struct server *srv;
	struct MHD_Daemon *d;
};

/* Marks the first call of a request, which only waits for its body. */
static int seen_marker;

sbxd_code
http_parse_addr(const char *s, struct sockaddr_in *addr, struct err *e)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "metrics_listen wants HOST:PORT such as 127.0.0.1:7412, got \"%.100s\"", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	if (*end != '\0' || end == colon + 1 || port < 1 || port > 65535 ||
	    inet_pton(AF_INET, host, &addr->sin_addr) != 1)
		return err_set(e, SBXD_INVALID_ARGUMENT, "metrics_listen \"%.100s\": want an IPv4 "
		    "address and a port from 1 to 65535, such as 127.0.0.1:7412", s);
	addr->sin_port = htons((uint16_t)port);
	return SBXD_OK;
}

/* Queues a response; body is copied when copy, else taken (malloc'd). */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len, int copy,
    const char *ctype)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	r = MHD_create_response_from_buffer(len, body,
	    copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		if (!copy)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result
reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return reply(conn, status, (char *)text, strlen(text), 1, "text/plain; charset=utf-8");
}

/* Says why readiness failed into msg; returns 0 (not ready). */
__attribute__((format(printf, 3, 4))) static int
not_ready(char *msg, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, n, fmt, ap);
	va_end(ap);
	return 0;
}

/* The readiness checks, in order; the first that fails is named in msg.
 * Engine calls take the driver's own timeouts. */
static int
ready(struct server *srv, char *msg, size_t n)
{
	const struct config_runtime *rt = config_runtime(srv->cfg, srv->cfg->default_runtime);
	struct err e;
	int present = 0;

	if (store_check_writable(srv->store, &e) != SBXD_OK)
		return not_ready(msg, n, "store: %s\n", e.msg);
	if (srv->drv->ops->ping(srv->drv, &e) != SBXD_OK)
		return not_ready(msg, n, "engine: %s\n", e.msg);
	if (rt == NULL)
		return not_ready(msg, n, "image: default runtime %s is not configured\n",
		    srv->cfg->default_runtime);
	if (srv->drv->ops->image_present(srv->drv, rt->image, &present, &e) != SBXD_OK)
		return not_ready(msg, n, "image: %s\n", e.msg);
	if (!present)
		return not_ready(msg, n, "image: %s (default runtime %s) is not present; build it "
		    "with deploy/images/build.sh\n", rt->image, rt->name);
	snprintf(msg, n, "ready\n");
	return 1;
}

static const char *const state_name[SESSION_FAILED + 1] = {
	[SESSION_CREATING] = "CREATING", [SESSION_RUNNING] = "RUNNING",
	[SESSION_STOPPED] = "STOPPED", [SESSION_FAILED] = "FAILED",
};

static sbxd_code
render_sessions(struct server *srv, struct buf *b)
{
	int64_t n[SESSION_FAILED + 1];
	struct err e;
	sbxd_code rv;

	if (store_session_count_by_state(srv->store, n, &e) != SBXD_OK)
		log_warnx("metrics: %s", e.msg);       /* rendered as zeros */
	rv = buf_addstr(b, "# HELP sbxd_sessions Sessions by state (ended ones are left out).\n"
	    "# TYPE sbxd_sessions gauge\n");
	for (int s = 0; s <= SESSION_FAILED && rv == SBXD_OK; s++)
		if (state_name[s] != NULL)
			rv = buf_printf(b, "sbxd_sessions{state=\"%s\"} %lld\n", state_name[s],
			    (long long)n[s]);
	return rv;
}

/* Gauges read from the server at scrape time. */
static sbxd_code
render_server(struct server *srv, struct buf *b)
{
	int64_t running, kept;
	sbxd_code rv;

	procs_counts(srv, &running, &kept);
	if ((rv = render_sessions(srv, b)) != SBXD_OK ||
	    (rv = metrics_render_gauge(b, "sbxd_pool_ready", "Warm containers ready to take.",
	    pool_ready(srv))) != SBXD_OK ||
	    (rv = metrics_render_gauge(b, "sbxd_processes_running",
	    "Background processes running in sandboxes.", running)) != SBXD_OK ||
	    (rv = metrics_render_gauge(b, "sbxd_processes_kept",
	    "Background process records kept, running or finished.", kept)) != SBXD_OK)
		return rv;
	return metrics_render_gauge(b, "sbxd_logbus_bytes",
	    "Event bytes held in the log bus's rings.", (int64_t)logbus_bytes(srv));
}

static enum MHD_Result
serve_metrics(struct server *srv, struct MHD_Connection *conn)
{
	struct buf b;
	char *text;
	size_t len;

	buf_init(&b, METRICS_TEXT_MAX);
	if (metrics_render(&b, dispatch_slot_name) != SBXD_OK || render_server(srv, &b) != SBXD_OK) {
		buf_fini(&b);
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "metrics: the rendering passed its ceiling or ran out of memory\n");
	}
	if ((text = buf_take(&b, &len)) == NULL)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics: out of memory\n");
	return reply(conn, MHD_HTTP_OK, text, len, 0, "text/plain; version=0.0.4; charset=utf-8");
}

static enum MHD_Result
route(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct http_server *h = cls;
	char msg[600];

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served here\n");
	if (*state == NULL) {           /* headers only so far */
		*state = &seen_marker;
		return MHD_YES;
	}
	if (*upload_size != 0) {        /* a GET with a body: ignored */
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/healthz") == 0)
		return reply_text(conn, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") == 0) {
		int ok = ready(h->srv, msg, sizeof(msg));

		return reply_text(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, msg);
	}
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(h->srv, conn);
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: /healthz, /readyz and /metrics "
	    "are served here\n");
}

sbxd_code
http_start(struct server *srv, struct http_server **out, struct err *e)
{
	const char *l = srv->cfg->metrics_listen;
	struct sockaddr_in addr;
	struct http_server *h;
	sbxd_code rv;

	*out = NULL;
	if (l[0] == '\0' || strcmp(l, "off") == 0)
		return SBXD_OK;
	if ((rv = http_parse_addr(l, &addr, e)) != SBXD_OK)
		return rv;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	h->srv = srv;
	h->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
	    0, NULL, NULL, route, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	    MHD_OPTION_END);
	if (h->d == NULL) {
		free(h);
		return err_set(e, SBXD_FAILED_PRECONDITION, "metrics_listen %s: cannot listen there "
		    "(in use, or not an address of this host); set another or \"off\"", l);
	}
	log_info("health and metrics on http://%s/", l);
	*out = h;
	return SBXD_OK;
}

void
http_stop(struct http_server *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
