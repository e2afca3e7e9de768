/*
 * docker_stream.c — execs with stdin: the hijacked exec stream of the
 * Docker Engine, for Execute with stdin and for background processes.
 *
 * The engine gives an exec's stdin only on a "hijacked" connection:
 * POST /exec/{id}/start with Connection: Upgrade / Upgrade: tcp answers
 * 101 (or 200 from older engines) and the socket then carries stdin one
 * way and the multiplexed stdout/stderr stream (docker_demux) the other.
 * Half-closing our side (shutdown SHUT_WR) makes the engine close the
 * exec's stdin. libcurl opens the connection (CURLOPT_CONNECT_ONLY over
 * the unix socket) and carries the request and the response head
 * (curl_easy_send / curl_easy_recv, head parsed in a bounded buffer);
 * after that the stream is read and written on the raw descriptor,
 * because a curl handle must not be used from two threads at once while
 * a socket may be read by one and written by another — and this plain
 * unix socket has no TLS layer curl would add. Killing a process's tree
 * is docker_exec.c's (docker_exec_signal / docker_exec_kill).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "docker_int.h"
#include "driver.h"
#include "err.h"
#include "log.h"

#define STREAM_HEAD_MAX		8192		/* response head ceiling */
#define STREAM_ERRBODY_MAX	(64u << 10)	/* error body kept */
#define STREAM_CONNECT_MS	5000L
#define STREAM_DRAIN_POLL_MS	500u		/* how soon a pump sees a drain */
#define STREAM_HANDSHAKE_MS	30000		/* request + response head */
#define STREAM_PUMP_MAX		(256u << 10)	/* read per proc_pump call */
#define STREAM_CHUNK		(64u << 10)
#define STREAM_OUTPUT_DEFAULT	(1u << 20)	/* max_output when 0 */
#define STREAM_TIMEOUT_MAX	0x7fffffffu
#define STREAM_PID_WAIT_MS	5000		/* for the engine to see the process */

struct driver_proc {
	struct docker *dk;
	struct docker_exec_state x;	/* guarded by mu */
	pthread_mutex_t mu;
	CURL *h;			/* owns the connection */
	int fd;
	struct docker_demux dm;		/* proc_pump's only */
};

/* ---- the response head */

/* See docker_int.h. */
long
docker_http_head(const char *p, size_t n, long *status, long long *content_length)
{
	const char *end = NULL, *line, *eol;
	char num[24];
	size_t i, len;

	for (i = 0; i + 3 < n; i++)
		if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
			end = p + i;
			break;
		}
	if (end == NULL)
		return n >= 5 && memcmp(p, "HTTP/", 5) != 0 ? -1 : 0;
	if ((size_t)(end - p) < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' ||
	    p[10] > '9' || p[11] < '0' || p[11] > '9' ||
	    (end - p > 12 && p[12] != ' ' && p[12] != '\r'))
		return -1;
	*status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	*content_length = -1;
	for (line = memchr(p, '\n', (size_t)(end - p)); line != NULL &&
	    line < end; line = eol) {
		line++;
		eol = memchr(line, '\n', (size_t)(end + 2 - line));
		len = (size_t)((eol ? eol : end) - line);
		if (len < 15 || strncasecmp(line, "Content-Length:", 15) != 0)
			continue;
		line += 15;
		len -= 15;
		while (len > 0 && (*line == ' ' || *line == '\t'))
			line++, len--;
		while (len > 0 && (line[len - 1] == '\r' ||
		    line[len - 1] == ' '))
			len--;
		if (len == 0 || len > 18 ||	/* fits a long long */
		    strspn(line, "0123456789") < len)
			return -1;
		memcpy(num, line, len);
		num[len] = '\0';
		*content_length = strtoll(num, NULL, 10);
	}
	return (long)(end - p) + 4;
}

/* ---- the connection */

/* Waits for events on fd until deadline (monotonic ms); 0 on readiness,
 * -1 when the deadline passed. */
static int
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now;
	int rc;

	for (;;) {
		now = docker_now_ms();
		if (deadline != 0 && now >= deadline)
			return -1;
		rc = poll(&pfd, 1, deadline ? (int)(deadline - now) : -1);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

static sbxd_code
unreachable(struct docker *dk, const char *why, struct err *e)
{
	return err_set(e, SBXD_UNAVAILABLE, "Docker engine not reachable at "
	    "%s: %s; is dockerd running and the socket accessible?",
	    docker_sock_path(dk), why);
}

/* Sends the exec start request on h. */
static sbxd_code
send_start(struct docker *dk, CURL *h, int fd, const char *xid, struct err *e)
{
	static const char body[] = "{\"Detach\":false,\"Tty\":false}";
	char req[512];
	uint64_t deadline = docker_now_ms() + STREAM_HANDSHAKE_MS;
	size_t len, off = 0, sent;
	CURLcode cc;

	len = (size_t)snprintf(req, sizeof(req), "POST /v1.41/exec/%s/start "
	    "HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
	    "Upgrade: tcp\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s", xid, sizeof(body) - 1, body);
	if (len >= sizeof(req))
		return err_set(e, SBXD_INVALID_ARGUMENT, "exec id too long");
	while (off < len) {
		cc = curl_easy_send(h, req + off, len - off, &sent);
		if (cc == CURLE_AGAIN) {
			if (wait_fd(fd, POLLOUT, deadline) != 0)
				return err_set(e, SBXD_DEADLINE_EXCEEDED,
				    "Docker engine at %s did not take an exec "
				    "start within %d ms", docker_sock_path(dk),
				    STREAM_HANDSHAKE_MS);
			continue;
		}
		if (cc != CURLE_OK)
			return unreachable(dk, curl_easy_strerror(cc), e);
		off += sent;
	}
	return SBXD_OK;
}

/* Receives into p[cap] past *have until stop(have) or the deadline. */
static sbxd_code
recv_some(struct docker *dk, CURL *h, int fd, char *p, size_t cap,
    size_t *have, uint64_t deadline, struct err *e)
{
	size_t got;
	CURLcode cc;

	for (;;) {
		cc = curl_easy_recv(h, p + *have, cap - *have, &got);
		if (cc == CURLE_OK) {
			if (got == 0)
				return unreachable(dk, "the engine closed the "
				    "connection while starting an exec", e);
			*have += got;
			return SBXD_OK;
		}
		if (cc != CURLE_AGAIN)
			return unreachable(dk, curl_easy_strerror(cc), e);
		if (wait_fd(fd, POLLIN, deadline) != 0)
			return err_set(e, SBXD_DEADLINE_EXCEEDED, "Docker engine "
			    "at %s did not answer an exec start within %d ms",
			    docker_sock_path(dk), STREAM_HANDSHAKE_MS);
	}
}

/* An error reply: reads its body (bounded) and maps the status. */
static sbxd_code
start_failed(struct docker *dk, CURL *h, int fd, long status,
    const char *rest, size_t nrest, long long clen, struct err *e)
{
	char tmp[4096];
	struct buf body;
	size_t have;
	uint64_t deadline = docker_now_ms() + STREAM_HANDSHAKE_MS;
	struct err ignored;
	sbxd_code rv;

	buf_init(&body, STREAM_ERRBODY_MAX);
	buf_add_capped(&body, rest, nrest);
	while (clen > 0 && (long long)body.len < clen &&
	    body.len < STREAM_ERRBODY_MAX) {
		have = 0;
		if (recv_some(dk, h, fd, tmp, sizeof(tmp), &have, deadline,
		    &ignored) != SBXD_OK)
			break;
		buf_add_capped(&body, tmp, have);
	}
	rv = docker_status_err(status, &body, "starting an exec", e);
	buf_fini(&body);
	return rv;
}

/* Opens the hijacked stream of exec xid: *h and *fd on success, with the
 * stream bytes that came with the head in rest[*nrest]. */
static sbxd_code
hijack(struct docker *dk, const char *xid, CURL **hp, int *fdp,
    char rest[STREAM_HEAD_MAX], size_t *nrest, struct err *e)
{
	char head[STREAM_HEAD_MAX];
	uint64_t deadline = docker_now_ms() + STREAM_HANDSHAKE_MS;
	curl_socket_t sock = CURL_SOCKET_BAD;
	long long clen = -1;
	long status = 0, hl = 0;
	size_t have = 0;
	CURLcode cc;
	CURL *h;
	sbxd_code rv = SBXD_INTERNAL;

	if ((h = curl_easy_init()) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory (curl handle)");
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, docker_sock_path(dk));
	curl_easy_setopt(h, CURLOPT_URL, "http://localhost/v1.41/_ping");
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, STREAM_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		rv = unreachable(dk, curl_easy_strerror(cc), e);
		goto out;
	}
	if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK ||
	    sock == CURL_SOCKET_BAD) {
		rv = unreachable(dk, "no socket after connecting", e);
		goto out;
	}
	if ((rv = send_start(dk, h, (int)sock, xid, e)) != SBXD_OK)
		goto out;
	while ((hl = docker_http_head(head, have, &status, &clen)) == 0) {
		if (have == sizeof(head)) {
			rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "Docker engine "
			    "reply head to an exec start exceeds %d bytes",
			    STREAM_HEAD_MAX);
			goto out;
		}
		if ((rv = recv_some(dk, h, (int)sock, head, sizeof(head), &have,
		    deadline, e)) != SBXD_OK)
			goto out;
	}
	if (hl < 0) {
		rv = err_set(e, SBXD_INTERNAL, "Docker engine sent a malformed "
		    "reply head to an exec start");
		goto out;
	}
	if (status != 101 && status != 200) {
		rv = start_failed(dk, h, (int)sock, status, head + hl,
		    have - (size_t)hl, clen, e);
		goto out;
	}
	*nrest = have - (size_t)hl;
	memcpy(rest, head + hl, *nrest);
	*fdp = (int)sock;
	*hp = h;
	h = NULL;
	rv = SBXD_OK;
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	return rv;
}

/* Inspects x until the engine reports its pid: the engine answers the
 * exec start before the process is there. Gives up (pid 0) after
 * STREAM_PID_WAIT_MS or once it has exited. */
static sbxd_code
learn_pid(struct docker *dk, struct docker_exec_state *x, struct err *e)
{
	uint64_t deadline = docker_now_ms() + STREAM_PID_WAIT_MS;
	struct timespec ts;
	long nap = 1;
	sbxd_code rv;

	for (;;) {
		if ((rv = docker_exec_inspect(dk, x, e)) != SBXD_OK)
			return rv;
		if (x->pid > 1 || x->has_exit || docker_now_ms() >= deadline)
			return SBXD_OK;
		ts = (struct timespec){ 0, nap * 1000000L };
		nanosleep(&ts, NULL);
		nap = nap < 32 ? nap * 2 : 32;
	}
}

/* Creates the exec (stdin attached) and opens its stream; with want_pid
 * also learns its pid and container. On failure nothing is left open. */
static sbxd_code
stream_open(struct docker *dk, const struct driver_exec_spec *spec,
    int want_pid, struct docker_exec_state *x, CURL **h, int *fd, char *rest,
    size_t *nrest, struct err *e)
{
	sbxd_code rv;

	memset(x, 0, sizeof(*x));
	if (spec->argv == NULL || spec->argv[0] == NULL)
		return err_set(e, SBXD_INVALID_ARGUMENT, "exec has no command");
	if ((rv = docker_exec_create(dk, spec, 1, x->id, e)) != SBXD_OK ||
	    (rv = hijack(dk, x->id, h, fd, rest, nrest, e)) != SBXD_OK)
		return rv;
	if (want_pid && (rv = learn_pid(dk, x, e)) != SBXD_OK) {
		curl_easy_cleanup(*h);
		*h = NULL;
	}
	return rv;
}

/* ---- Execute with stdin */

struct run {
	int fd;
	const unsigned char *in;
	size_t in_len, in_off;
	int in_done;
	int eof;
	struct docker_demux dm;
	struct driver_exec_result *res;
};

/* Sends what stdin the socket takes now; half-closes after the last byte.
 * A process that stopped reading (exited) loses the rest, as with a pipe. */
static void
run_write(struct run *r)
{
	size_t n = r->in_len - r->in_off;
	ssize_t w;

	if (n > STREAM_CHUNK)
		n = STREAM_CHUNK;
	if (n > 0) {
		w = send(r->fd, r->in + r->in_off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0)
			r->in_off += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			r->in_off = r->in_len;
	}
	if (r->in_off == r->in_len) {
		shutdown(r->fd, SHUT_WR);
		r->in_done = 1;
	}
}

static void
run_read(struct run *r)
{
	unsigned char tmp[STREAM_CHUNK];
	ssize_t n;

	n = recv(r->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
	if (n > 0)
		docker_demux_feed(&r->dm, tmp, (size_t)n, r->res);
	else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		r->eof = 1;
}

/* Pumps stdin in and output out until the stream ends or deadline (0 =
 * none) passes; *timed_out then. */
static void
run_pump(struct docker *dk, struct run *r, uint64_t deadline, int *timed_out)
{
	struct pollfd pfd = { .fd = r->fd };
	uint64_t now, wait;
	int rc;

	while (!r->eof) {
		pfd.events = POLLIN | (r->in_done ? 0 : POLLOUT);
		now = docker_now_ms();
		if (deadline != 0 && now >= deadline) {
			*timed_out = 1;
			return;
		}
		if (docker_draining(dk)) {
			*timed_out = 2;
			return;
		}
		/* wakes at least every STREAM_DRAIN_POLL_MS to see a drain */
		wait = deadline != 0 && deadline - now < STREAM_DRAIN_POLL_MS ? deadline - now :
		    STREAM_DRAIN_POLL_MS;
		rc = poll(&pfd, 1, (int)wait);
		if (rc < 0 && errno != EINTR)
			r->eof = 1;
		if (rc <= 0)
			continue;
		if (!r->in_done && (pfd.revents & (POLLOUT | POLLERR)))
			run_write(r);
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			run_read(r);
	}
}

/* See driver.h (exec_stdin) and docker_exec. */
sbxd_code
docker_exec_stdin(struct driver *d, const struct driver_exec_spec *spec,
    const void *in, size_t in_len, struct driver_exec_result *res, struct err *e)
{
	struct docker *dk = d->impl;
	struct docker_exec_state x;
	struct run r = { .fd = -1, .in = in, .in_len = in_len, .res = res };
	char rest[STREAM_HEAD_MAX];
	uint64_t t0 = docker_now_ms(), deadline = 0;
	int timed_out = 0;
	size_t nrest = 0;
	CURL *h = NULL;
	sbxd_code rv;

	driver_exec_result_init(res, spec->max_output ? spec->max_output :
	    STREAM_OUTPUT_DEFAULT);
	if (spec->timeout_ms > 0)
		deadline = t0 + (spec->timeout_ms < STREAM_TIMEOUT_MAX ?
		    spec->timeout_ms : STREAM_TIMEOUT_MAX);
	docker_demux_init(&r.dm);
	r.dm.on_output = spec->on_output;
	r.dm.on_output_arg = spec->on_output_arg;
	/* no pid wanted: the exit wait and the kill inspect for it */
	if ((rv = stream_open(dk, spec, 0, &x, &h, &r.fd, rest, &nrest, e)))
		goto out;
	docker_demux_feed(&r.dm, rest, nrest, res);
	run_pump(dk, &r, deadline, &timed_out);
	if (!timed_out &&
	    (rv = docker_exec_wait_exit(dk, &x, deadline, &timed_out, e)))
		goto out;
	if (r.dm.bad)
		log_warnx("exec %.12s: malformed stream frame from the Docker "
		    "engine; output after it was dropped", x.id);
	if (timed_out)
		docker_exec_kill(dk, &x);
	if (timed_out == 2) {
		log_info("exec %.12s: killed, sbxd is stopping", x.id);
		rv = err_set(e, SBXD_ABORTED, DRIVER_DRAIN_MSG);
	} else if (timed_out) {
		res->timed_out = 1;
		res->exit_code = 124;
	} else
		res->exit_code = x.exit_code;
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	res->duration_ms = docker_now_ms() - t0;
	return rv;
}

/* ---- background processes */

/* host_pid's pid in its own (the container's) pid namespace, from the
 * last NSpid field of /proc/<pid>/status; 0 when unknown. Host pids are
 * never shown to clients. */
static int64_t
ns_pid(int64_t host_pid)
{
	char path[64], line[256];
	long long v = 0;
	FILE *f;
	char *p;

	if (host_pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%lld/status", (long long)host_pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "NSpid:", 6) == 0) {
			/* one field: not in a pid namespace (a reused pid) */
			if ((p = strrchr(line, '\t')) != NULL && p > line + 7)
				v = strtoll(p + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v > 0 ? v : 0;
}

/* See driver.h. The output that came with the response head is handed to
 * on_output at once, from this thread. */
sbxd_code
docker_proc_start(struct driver *d, const struct driver_exec_spec *spec,
    struct driver_proc **out, struct err *e)
{
	struct docker *dk = d->impl;
	struct driver_proc *p;
	char rest[STREAM_HEAD_MAX];
	size_t nrest = 0;
	sbxd_code rv;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	p->dk = dk;
	p->fd = -1;
	if ((rv = stream_open(dk, spec, 1, &p->x, &p->h, &p->fd, rest, &nrest,
	    e)) != SBXD_OK) {
		free(p);
		return rv;
	}
	pthread_mutex_init(&p->mu, NULL);
	docker_demux_init(&p->dm);
	p->dm.on_output = spec->on_output;
	p->dm.on_output_arg = spec->on_output_arg;
	docker_demux_feed(&p->dm, rest, nrest, NULL);
	*out = p;
	return SBXD_OK;
}

int
docker_proc_fd(struct driver_proc *p)
{
	return p->fd;
}

sbxd_code
docker_proc_pump(struct driver_proc *p, int *eof, struct err *e)
{
	unsigned char tmp[STREAM_CHUNK];
	size_t total = 0;
	ssize_t n;

	*eof = 0;
	while (total < STREAM_PUMP_MAX) {
		n = recv(p->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
		if (n > 0) {
			docker_demux_feed(&p->dm, tmp, (size_t)n, NULL);
			total += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return SBXD_OK;
		*eof = 1;
		if (n < 0)
			return err_set(e, SBXD_UNAVAILABLE, "reading process "
			    "output from the Docker engine: %s", strerror(errno));
		return SBXD_OK;
	}
	return SBXD_OK;
}

sbxd_code
docker_proc_write_stdin(struct driver_proc *p, const void *data, size_t n,
    uint64_t timeout_ms, struct err *e)
{
	const unsigned char *b = data;
	uint64_t deadline = docker_now_ms() + (timeout_ms ? timeout_ms : 1);
	size_t off = 0;
	ssize_t w;

	while (off < n) {
		w = send(p->fd, b + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return err_set(e, SBXD_FAILED_PRECONDITION, "the "
			    "process's stdin is closed (%s)", strerror(errno));
		if (wait_fd(p->fd, POLLOUT, deadline) != 0)
			return err_set(e, SBXD_DEADLINE_EXCEEDED, "the process "
			    "took %zu of %zu stdin bytes in %llu ms and is not "
			    "reading more; retry later or close stdin", off, n,
			    (unsigned long long)timeout_ms);
	}
	return SBXD_OK;
}

sbxd_code
docker_proc_close_stdin(struct driver_proc *p, struct err *e)
{
	if (shutdown(p->fd, SHUT_WR) == -1 && errno != ENOTCONN)
		return err_set(e, SBXD_FAILED_PRECONDITION, "closing the "
		    "process's stdin: %s", strerror(errno));
	return SBXD_OK;
}

/* A pid not learnt at start (a slow engine) is asked for again. */
sbxd_code
docker_proc_signal(struct driver_proc *p, int sig, int *n, struct err *e)
{
	struct docker_exec_state x;
	sbxd_code rv;

	*n = 0;
	pthread_mutex_lock(&p->mu);
	x = p->x;
	pthread_mutex_unlock(&p->mu);
	if (x.pid <= 1) {
		if ((rv = docker_exec_inspect(p->dk, &x, e)) != SBXD_OK)
			return rv;
		pthread_mutex_lock(&p->mu);
		p->x = x;
		pthread_mutex_unlock(&p->mu);
	}
	*n = docker_exec_signal(&x, sig);
	return SBXD_OK;
}

sbxd_code
docker_proc_status(struct driver_proc *p, struct driver_proc_status *st,
    struct err *e)
{
	struct docker_exec_state x;
	sbxd_code rv;

	pthread_mutex_lock(&p->mu);
	x = p->x;
	pthread_mutex_unlock(&p->mu);
	if ((rv = docker_exec_inspect(p->dk, &x, e)) != SBXD_OK)
		return rv;
	pthread_mutex_lock(&p->mu);
	p->x = x;
	pthread_mutex_unlock(&p->mu);
	st->running = x.running;
	st->exit_code = x.has_exit ? x.exit_code : -1;
	st->pid = ns_pid(x.pid);
	return SBXD_OK;
}

void
docker_proc_close(struct driver_proc *p)
{
	if (p->h != NULL)
		curl_easy_cleanup(p->h);
	p->h = NULL;
	p->fd = -1;
}

void
docker_proc_free(struct driver_proc *p)
{
	if (p == NULL)
		return;
	if (p->h != NULL)
		curl_easy_cleanup(p->h);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
