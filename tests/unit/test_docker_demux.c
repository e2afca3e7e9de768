/*
 * test_docker_demux.c — the Docker exec stream demultiplexer (docker.c).
 *
 * Builds multiplexed streams by hand and feeds them whole, split at every
 * byte boundary, and byte by byte; checks that stdout and stderr land in
 * their buffers with arrival order kept in merged, that the per-stream
 * caps keep exactly max bytes and set truncated, that zero-length frames
 * are harmless, and that a malformed header stops all further output.
 * Then, through a fake engine on a unix socket, the driver's handling of
 * what the real engine will not produce on demand: a stream delivered a
 * few bytes at a time, garbage frames, oversize and malformed replies, 5xx
 * and 409 answers with their messages.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "t.h"

#define STREAM_MAX 4096

struct stream {
	unsigned char b[STREAM_MAX];
	size_t len;
};

static void
frame(struct stream *s, int kind, const char *payload, size_t n)
{
	unsigned char h[8] = { (unsigned char)kind, 0, 0, 0,
	    (unsigned char)(n >> 24), (unsigned char)(n >> 16),
	    (unsigned char)(n >> 8), (unsigned char)n };

	if (s->len + sizeof(h) + n > sizeof(s->b))
		abort();
	memcpy(s->b + s->len, h, sizeof(h));
	memcpy(s->b + s->len + sizeof(h), payload, n);
	s->len += sizeof(h) + n;
}

static void
res_init(struct driver_exec_result *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->out, cap);
	buf_init(&r->err, cap);
	buf_init(&r->merged, cap * 2);
}

/* Feeds s in pieces: [0,cut) then [cut,len). */
static void
feed_split(const struct stream *s, size_t cut, size_t cap,
    struct driver_exec_result *r, struct docker_demux *dm)
{
	res_init(r, cap);
	docker_demux_init(dm);
	docker_demux_feed(dm, s->b, cut, r);
	docker_demux_feed(dm, s->b + cut, s->len - cut, r);
}

static int
buf_is(const struct buf *b, const char *want)
{
	size_t n = strlen(want);

	return b->len == n && (n == 0 || memcmp(b->data, want, n) == 0);
}

static struct stream
mixed(void)
{
	struct stream s = { .len = 0 };

	frame(&s, 1, "hello ", 6);
	frame(&s, 2, "oops\n", 5);
	frame(&s, 1, "", 0);
	frame(&s, 1, "world\n", 6);
	frame(&s, 2, "", 0);
	frame(&s, 0, "in", 2);		/* stdin is treated as stdout */
	frame(&s, 2, "E", 1);
	return s;
}

TEST(whole_stream)
{
	struct stream s = mixed();
	struct driver_exec_result r;
	struct docker_demux dm;

	feed_split(&s, s.len, 1024, &r, &dm);
	CHECK(buf_is(&r.out, "hello world\nin"));
	CHECK(buf_is(&r.err, "oops\nE"));
	CHECK(buf_is(&r.merged, "hello oops\nworld\ninE"));
	CHECK_INT(r.truncated, 0);
	CHECK_INT(dm.bad, 0);
	CHECK_INT(dm.hdr_have, 0);
	CHECK_INT(dm.body_left, 0);
	driver_exec_result_fini(&r);
}

TEST(split_at_every_byte)
{
	struct stream s = mixed();
	struct driver_exec_result r;
	struct docker_demux dm;
	size_t cut;

	for (cut = 0; cut <= s.len; cut++) {
		feed_split(&s, cut, 1024, &r, &dm);
		if (!buf_is(&r.out, "hello world\nin") ||
		    !buf_is(&r.err, "oops\nE") ||
		    !buf_is(&r.merged, "hello oops\nworld\ninE") ||
		    r.truncated || dm.bad)
			T_FAIL_("split at byte %zu of %zu", cut, s.len);
		t_checks++;
		driver_exec_result_fini(&r);
	}
}

TEST(byte_by_byte)
{
	struct stream s = mixed();
	struct driver_exec_result r;
	struct docker_demux dm;
	size_t i;

	res_init(&r, 1024);
	docker_demux_init(&dm);
	for (i = 0; i < s.len; i++)
		docker_demux_feed(&dm, s.b + i, 1, &r);
	CHECK(buf_is(&r.merged, "hello oops\nworld\ninE"));
	CHECK(buf_is(&r.out, "hello world\nin"));
	driver_exec_result_fini(&r);
}

TEST(empty_feeds_and_zero_frames)
{
	struct stream s = { .len = 0 };
	struct driver_exec_result r;
	struct docker_demux dm;

	frame(&s, 1, "", 0);
	frame(&s, 2, "", 0);
	frame(&s, 1, "x", 1);
	res_init(&r, 16);
	docker_demux_init(&dm);
	docker_demux_feed(&dm, s.b, 0, &r);
	docker_demux_feed(&dm, s.b, s.len, &r);
	docker_demux_feed(&dm, NULL, 0, &r);
	CHECK(buf_is(&r.out, "x"));
	CHECK(buf_is(&r.err, ""));
	CHECK_INT(r.truncated, 0);
	driver_exec_result_fini(&r);
}

TEST(caps_keep_exactly_max)
{
	struct stream s = { .len = 0 };
	struct driver_exec_result r;
	struct docker_demux dm;
	size_t cut;

	frame(&s, 1, "0123456789", 10);
	frame(&s, 2, "abcdef", 6);
	frame(&s, 1, "XYZ", 3);
	for (cut = 0; cut <= s.len; cut++) {
		feed_split(&s, cut, 8, &r, &dm);
		t_checks++;
		if (!buf_is(&r.out, "01234567") || !buf_is(&r.err, "abcdef") ||
		    !buf_is(&r.merged, "0123456789abcdef") || !r.truncated)
			T_FAIL_("caps wrong when split at %zu", cut);
		driver_exec_result_fini(&r);
	}
}

TEST(cap_reached_exactly_is_not_truncated)
{
	struct stream s = { .len = 0 };
	struct driver_exec_result r;
	struct docker_demux dm;

	frame(&s, 1, "abcd", 4);
	frame(&s, 2, "efgh", 4);
	feed_split(&s, 5, 4, &r, &dm);
	CHECK(buf_is(&r.out, "abcd"));
	CHECK(buf_is(&r.err, "efgh"));
	CHECK(buf_is(&r.merged, "abcdefgh"));
	CHECK_INT(r.truncated, 0);
	driver_exec_result_fini(&r);
}

TEST(zero_cap_keeps_nothing)
{
	struct stream s = { .len = 0 };
	struct driver_exec_result r;
	struct docker_demux dm;

	frame(&s, 1, "abc", 3);
	feed_split(&s, 3, 0, &r, &dm);
	CHECK_INT(r.out.len, 0);
	CHECK_INT(r.merged.len, 0);
	CHECK_INT(r.truncated, 1);
	driver_exec_result_fini(&r);
}

/* A large frame fed in small pieces, beyond the cap: memory stays at cap. */
TEST(big_frame_discarded_without_growth)
{
	static char chunk[65536];
	unsigned char h[8] = { 1, 0, 0, 0, 0x10, 0, 0, 0 };	/* 256 MiB */
	struct driver_exec_result r;
	struct docker_demux dm;
	size_t fed;

	memset(chunk, 'z', sizeof(chunk));
	res_init(&r, 1000);
	docker_demux_init(&dm);
	docker_demux_feed(&dm, h, sizeof(h), &r);
	for (fed = 0; fed < (size_t)0x10000000; fed += sizeof(chunk))
		docker_demux_feed(&dm, chunk, sizeof(chunk), &r);
	CHECK_INT(r.out.len, 1000);
	CHECK_INT(r.merged.len, 2000);
	CHECK(r.out.cap <= 1001);
	CHECK(r.merged.cap <= 2001);
	CHECK_INT(r.truncated, 1);
	CHECK_INT(dm.body_left, 0);
	driver_exec_result_fini(&r);
}

static void
check_bad(const unsigned char hdr[8], const char *name)
{
	struct stream s = { .len = 0 };
	struct driver_exec_result r;
	struct docker_demux dm;
	size_t cut;

	frame(&s, 1, "ok", 2);
	memcpy(s.b + s.len, hdr, 8);
	s.len += 8;
	frame(&s, 1, "after", 5);
	for (cut = 0; cut <= s.len; cut++) {
		feed_split(&s, cut, 64, &r, &dm);
		t_checks++;
		if (!dm.bad || !buf_is(&r.out, "ok") || !r.truncated)
			T_FAIL_("%s: split at %zu: bad %d out \"%s\"", name,
			    cut, dm.bad, r.out.data ? r.out.data : "");
		driver_exec_result_fini(&r);
	}
}

TEST(malformed_headers)
{
	static const unsigned char stream3[8] = { 3, 0, 0, 0, 0, 0, 0, 1 };
	static const unsigned char stream_hi[8] = { 0xff, 0, 0, 0, 0, 0, 0, 1 };
	static const unsigned char pad1[8] = { 1, 1, 0, 0, 0, 0, 0, 1 };
	static const unsigned char pad3[8] = { 2, 0, 0, 7, 0, 0, 0, 1 };
	static const unsigned char text[8] = { 'H', 'T', 'T', 'P', '/', '1', '.', '1' };

	check_bad(stream3, "stream 3");
	check_bad(stream_hi, "stream 255");
	check_bad(pad1, "padding byte 1");
	check_bad(pad3, "padding byte 3");
	check_bad(text, "text");
}

TEST(garbage_never_crashes)
{
	unsigned char g[4096];
	struct driver_exec_result r;
	struct docker_demux dm;
	uint32_t x = 12345;
	size_t i, off, n;
	int round;

	for (round = 0; round < 200; round++) {
		for (i = 0; i < sizeof(g); i++) {
			x = x * 1103515245u + 12345u;
			g[i] = (unsigned char)(x >> 16);
			if (round % 2 && i % 9 < 4)
				g[i] = i % 9 == 0 ? (unsigned char)(x % 3) : 0;
		}
		res_init(&r, 100);
		docker_demux_init(&dm);
		for (off = 0; off < sizeof(g); off += n) {
			n = 1 + (x >> 8) % 97;
			if (n > sizeof(g) - off)
				n = sizeof(g) - off;
			docker_demux_feed(&dm, g + off, n, &r);
		}
		t_checks++;
		if (r.out.len > 100 || r.err.len > 100 || r.merged.len > 200)
			T_FAIL_("caps broken on garbage round %d", round);
		driver_exec_result_fini(&r);
	}
}

TEST(fini_tolerates_zeroed)
{
	struct driver_exec_result r;

	memset(&r, 0, sizeof(r));
	driver_exec_result_fini(&r);
	driver_exec_result_fini(&r);
	CHECK(r.out.data == NULL);
}

/* ---- a fake engine: one request per connection, then close */

#define FAKE_BIG (5u << 20)	/* more than the driver's JSON ceiling */

static char fake_path[108];
static int fake_fd = -1;

static void
put(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0 && (w = send(fd, c, n, MSG_NOSIGNAL)) > 0) {
		c += w;
		n -= (size_t)w;
	}
}

static void
reply(int fd, int status, const char *body)
{
	char head[256];

	snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nConnection: close"
	    "\r\n\r\n", status, strlen(body));
	put(fd, head, strlen(head));
	put(fd, body, strlen(body));
}

static void
reply_big(int fd)
{
	static char chunk[65536];
	char head[256];
	size_t sent;

	memset(chunk, ' ', sizeof(chunk));
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %u"
	    "\r\nConnection: close\r\n\r\n", FAKE_BIG);
	put(fd, head, strlen(head));
	for (sent = 0; sent < FAKE_BIG; sent += sizeof(chunk))
		put(fd, chunk, sizeof(chunk));
}

/* The exec stream, a few bytes per write so frames split everywhere. */
static void
reply_stream(int fd, int garbage)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/vnd.docker.raw-stream\r\nConnection: close\r\n\r\n";
	struct timespec ts = { 0, 200000 };
	struct stream st = { .len = 0 };
	size_t off, n;

	frame(&st, 1, "hello ", 6);
	frame(&st, 2, "warn\n", 5);
	frame(&st, 1, "", 0);
	frame(&st, 1, "world\n", 6);
	if (garbage)
		frame(&st, 9, "junk", 4);
	frame(&st, 2, "late\n", 5);
	put(fd, head, sizeof(head) - 1);
	for (off = 0; off < st.len; off += n) {
		n = 1 + off % 3;
		n = n < st.len - off ? n : st.len - off;
		put(fd, st.b + off, n);
		nanosleep(&ts, NULL);
	}
}

static void
route(int fd, const char *req)
{
	static const char *const inspect = "{\"ID\":\"e1\",\"Running\":false,"
	    "\"ExitCode\":7,\"Pid\":0,\"ContainerID\":\"c1c1c1c1c1c1c1c1\"}";

	if (strncmp(req, "GET /v1.41/_ping ", 17) == 0)
		reply(fd, 500, "{\"message\":\"engine on fire\"}");
	else if (strncmp(req, "GET /v1.41/containers/big/json ", 31) == 0)
		reply_big(fd);
	else if (strncmp(req, "GET /v1.41/containers/bad/json ", 31) == 0)
		reply(fd, 200, "<html>not json</html>");
	else if (strncmp(req, "POST /v1.41/containers/c1/exec ", 31) == 0)
		reply(fd, 201, "{\"Id\":\"e1\"}");
	else if (strncmp(req, "POST /v1.41/containers/c2/exec ", 31) == 0)
		reply(fd, 201, "{\"Id\":\"e2\"}");
	else if (strncmp(req, "POST /v1.41/containers/c3/exec ", 31) == 0)
		reply(fd, 201, "{\"Id\":\"../x\"}");
	else if (strncmp(req, "POST /v1.41/containers/gone/exec ", 33) == 0)
		reply(fd, 409, "{\"message\":\"Container gone is not running\"}");
	else if (strncmp(req, "POST /v1.41/exec/e1/start ", 26) == 0)
		reply_stream(fd, 0);
	else if (strncmp(req, "POST /v1.41/exec/e2/start ", 26) == 0)
		reply_stream(fd, 1);
	else if (strncmp(req, "GET /v1.41/exec/e1/json ", 24) == 0 ||
	    strncmp(req, "GET /v1.41/exec/e2/json ", 24) == 0)
		reply(fd, 200, inspect);
	else
		reply(fd, 404, "{\"message\":\"no route\"}");
}

/* Reads a request head (and ignores any body); serves it; closes. */
static void *
fake_main(void *arg)
{
	char req[8192];
	size_t have;
	ssize_t n;
	int fd;

	(void)arg;
	while ((fd = accept(fake_fd, NULL, NULL)) != -1) {
		have = 0;
		while (have < sizeof(req) - 1 &&
		    (n = read(fd, req + have, sizeof(req) - 1 - have)) > 0) {
			have += (size_t)n;
			req[have] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		req[have] = '\0';
		if (strncmp(req, "QUIT", 4) == 0) {
			close(fd);
			break;
		}
		route(fd, req);
		close(fd);
	}
	return NULL;
}

static int
fake_start(pthread_t *th)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(fake_path, sizeof(fake_path), "/tmp/sbx-fake-engine-%ld.sock",
	    (long)getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fake_path);
	unlink(fake_path);
	if ((fake_fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(fake_fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fake_fd, 16) == -1)
		return -1;
	return pthread_create(th, NULL, fake_main, NULL) == 0 ? 0 : -1;
}

static void
fake_stop(pthread_t th)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fake_path);
	if (fd != -1 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		put(fd, "QUIT", 4);
	if (fd != -1)
		close(fd);
	pthread_join(th, NULL);
	close(fake_fd);
	unlink(fake_path);
}

static struct driver *
fake_driver(void)
{
	struct driver *d = NULL;
	struct err e;

	if (docker_driver_new(fake_path, &d, &e) != SBXD_OK)
		T_FAIL_("docker_driver_new: %s", e.msg);
	return d;
}

static sbxd_code
fake_exec(struct driver *d, const char *container,
    struct driver_exec_result *r, struct err *e)
{
	const char *argv[] = { "true", NULL };
	struct driver_exec_spec s = { .container_id = container,
	    .argv = argv, .timeout_ms = 10000, .max_output = 1024 };

	memset(r, 0, sizeof(*r));
	err_clear(e);
	return d->ops->exec(d, &s, r, e);
}

TEST(fake_exec_stream_in_pieces)
{
	struct driver *d = fake_driver();
	struct driver_exec_result r;
	struct err e;

	REQUIRE(d != NULL);
	CHECK_INT(fake_exec(d, "c1", &r, &e), SBXD_OK);
	CHECK_INT(r.exit_code, 7);
	CHECK(buf_is(&r.out, "hello world\n"));
	CHECK(buf_is(&r.err, "warn\nlate\n"));
	CHECK(buf_is(&r.merged, "hello warn\nworld\nlate\n"));
	CHECK_INT(r.truncated, 0);
	driver_exec_result_fini(&r);

	CHECK_INT(fake_exec(d, "c2", &r, &e), SBXD_OK);	/* garbage frame */
	CHECK(buf_is(&r.out, "hello world\n"));
	CHECK(buf_is(&r.err, "warn\n"));
	CHECK_INT(r.truncated, 1);
	driver_exec_result_fini(&r);

	CHECK_INT(fake_exec(d, "c3", &r, &e), SBXD_INTERNAL);	/* bad id */
	CHECK_CONTAINS(e.msg, "malformed exec id");
	driver_exec_result_fini(&r);

	CHECK_INT(fake_exec(d, "gone", &r, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "Container gone is not running");
	driver_exec_result_fini(&r);
	d->ops->free(d);
}

TEST(fake_error_replies)
{
	struct driver *d = fake_driver();
	struct driver_container_info info;
	struct err e;
	int present = -1;

	REQUIRE(d != NULL);
	CHECK_INT(d->ops->ping(d, &e), SBXD_INTERNAL);
	CHECK_CONTAINS(e.msg, "engine on fire");
	CHECK_CONTAINS(e.msg, "HTTP 500");
	CHECK_INT(d->ops->inspect(d, "big", &info, &e), SBXD_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(e.msg, "exceeds");
	CHECK_INT(d->ops->inspect(d, "bad", &info, &e), SBXD_INTERNAL);
	CHECK_CONTAINS(e.msg, "malformed JSON");
	CHECK_INT(d->ops->inspect(d, "nope", &info, &e), SBXD_NOT_FOUND);
	CHECK_CONTAINS(e.msg, "no route");
	CHECK_INT(d->ops->image_present(d, "some/image:tag", &present, &e),
	    SBXD_OK);
	CHECK_INT(present, 0);
	CHECK_INT(d->ops->remove(d, "nope", &e), SBXD_OK);	/* 404 is gone */
	d->ops->free(d);
}

int
main(void)
{
	pthread_t fake_th;

	RUN(whole_stream);
	RUN(split_at_every_byte);
	RUN(byte_by_byte);
	RUN(empty_feeds_and_zero_frames);
	RUN(caps_keep_exactly_max);
	RUN(cap_reached_exactly_is_not_truncated);
	RUN(zero_cap_keeps_nothing);
	RUN(big_frame_discarded_without_growth);
	RUN(malformed_headers);
	RUN(garbage_never_crashes);
	RUN(fini_tolerates_zeroed);
	if (fake_start(&fake_th) == -1) {
		T_FAIL_("cannot start the fake engine at %s", fake_path);
		T_DONE();
	}
	RUN(fake_exec_stream_in_pieces);
	RUN(fake_error_replies);
	fake_stop(fake_th);
	T_DONE();
}
