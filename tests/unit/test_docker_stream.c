/*
 * test_docker_stream.c — the pure parts of docker_stream.c: the HTTP
 * response head parser that reads the engine's answer to a hijacked exec
 * start (101 Upgrade, 200, or an error with a JSON body), and the stream
 * demultiplexer's on_output hook that the processes and live output use.
 * The head parser must say "incomplete" for every prefix of a head, find
 * its exact end when stream bytes follow in the same read, and refuse
 * what is not an HTTP/1.x status line or a sane Content-Length.
 */
#include <stdio.h>
#include <string.h>

#include "docker_int.h"
#include "t.h"

static const char upgraded[] = "HTTP/1.1 101 UPGRADED\r\n"
    "Content-Type: application/vnd.docker.multiplexed-stream\r\n"
    "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n";

TEST(upgrade_head_then_stream_bytes)
{
	char buf[512];
	long status = 0;
	long long clen = 0;
	size_t hl = sizeof(upgraded) - 1;

	memcpy(buf, upgraded, hl);
	memcpy(buf + hl, "\x01\0\0\0\0\0\0\x02hi", 10);
	CHECK_INT(docker_http_head(buf, hl + 10, &status, &clen), (long)hl);
	CHECK_INT(status, 101);
	CHECK_INT(clen, -1);
}

TEST(every_prefix_is_incomplete)
{
	long status;
	long long clen;
	int bad = 0;

	for (size_t n = 0; n + 1 < sizeof(upgraded) - 1; n++)
		bad += docker_http_head(upgraded, n, &status, &clen) != 0;
	CHECK_INT(bad, 0);
}

TEST(error_reply_with_length)
{
	static const char h[] = "HTTP/1.1 409 Conflict\r\nApi-Version: 1.41\r\n"
	    "Content-Type: application/json\r\ncontent-length:  57 \r\n\r\n{\"message\":";
	long status = 0;
	long long clen = 0;
	long hl = docker_http_head(h, sizeof(h) - 1, &status, &clen);

	CHECK(hl > 0 && strcmp(h + hl, "{\"message\":") == 0);
	CHECK_INT(status, 409);
	CHECK_INT(clen, 57);
}

TEST(status_without_reason)
{
	long status = 0;
	long long clen = 0;

	CHECK_INT(docker_http_head("HTTP/1.0 200\r\n\r\n", 16, &status, &clen), 16);
	CHECK_INT(status, 200);
}

TEST(malformed_heads)
{
	static const char *bad[] = {
		"GARBAGE\r\n\r\n",
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 600 What\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
	};
	long status;
	long long clen;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (docker_http_head(bad[i], strlen(bad[i]), &status, &clen) != -1)
			T_FAIL_("accepted \"%s\"", bad[i]);
	/* not HTTP at all is refused before a blank line arrives */
	CHECK_INT(docker_http_head("{\"mes", 5, &status, &clen), -1);
}

struct seen {
	char out[64], err[64];
	size_t nout, nerr;
};

static void
on_output(void *arg, int stream, const void *p, size_t n)
{
	struct seen *s = arg;
	char *dst = stream == 2 ? s->err : s->out;
	size_t *len = stream == 2 ? &s->nerr : &s->nout;

	if (*len + n < sizeof(s->out)) {
		memcpy(dst + *len, p, n);
		*len += n;
	}
}

TEST(demux_hook_sees_every_byte_without_result)
{
	static const unsigned char in[] = "\x01\0\0\0\0\0\0\x03out\x02\0\0\0\0\0\0\x03" "err"
	    "\x01\0\0\0\0\0\0\x01!";
	struct docker_demux dm;
	struct seen s = { .nout = 0 };

	docker_demux_init(&dm);
	dm.on_output = on_output;
	dm.on_output_arg = &s;
	for (size_t i = 0; i < sizeof(in) - 1; i++)
		docker_demux_feed(&dm, in + i, 1, NULL);   /* split at every byte */
	CHECK_INT(s.nout, 4);
	CHECK(memcmp(s.out, "out!", 4) == 0);
	CHECK_INT(s.nerr, 3);
	CHECK(memcmp(s.err, "err", 3) == 0);
	CHECK(!dm.bad);
	docker_demux_feed(&dm, "\x07garbage", 8, NULL);   /* bad header, no result */
	CHECK(dm.bad);
}

int
main(void)
{
	RUN(upgrade_head_then_stream_bytes);
	RUN(every_prefix_is_incomplete);
	RUN(error_reply_with_length);
	RUN(status_without_reason);
	RUN(malformed_heads);
	RUN(demux_hook_sees_every_byte_without_result);
	T_DONE();
}
