/*
 * test_storm.c — sbxd's memory after a storm of bad input, against a real
 * sbxd over real sockets.
 *
 * 8 clients send 10,000 malformed requests between them: garbage bytes,
 * envelopes whose payload does not decode, and every 50th a 2 MiB payload
 * that makes sbxd reserve decoding memory. Every one is answered with a
 * canonical error and sbxd keeps serving. Then its resident memory must
 * come back near where it was before the storm (within STORM_SLACK): it
 * is read until it does, bounded only by the harness's safety net, and the
 * baseline, peak and settled figures are printed. In the sanitizer build
 * the memory figures are printed but not judged: AddressSanitizer's
 * allocator holds freed memory in quarantine by design (the gcc build's
 * run judges them).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"

#define CLIENTS 8
#define PER_CLIENT 1250
#define BIG (2u << 20)
#define STORM_SLACK (16ull << 20)   /* 43 MiB stayed before sbxd fixed its mmap threshold */

static struct sbxd_proc d;
static sbx_client *svc;

struct client {
	unsigned seed;
	int answered, dropped;
};

static uint64_t
rss_bytes(pid_t pid)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

/* One malformed request of kind i % 3 on s; 1 when a reply came. */
static int
send_bad(nng_socket s, struct client *c, int i, uint8_t *scratch)
{
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	size_t plen = (i % 50 == 0) ? BIG : 1 + (size_t)(rand_r(&c->seed) % 65536), len;
	uint8_t *buf;
	nng_msg *m;
	int ok = 0;

	for (size_t k = 0; k < plen; k++)
		scratch[k] = (uint8_t)rand_r(&c->seed);
	if (i % 3 == 0) {      /* garbage, not an envelope */
		len = plen;
		buf = scratch;
	} else {               /* an envelope whose payload does not decode */
		cr.service_key = HARNESS_KEY;
		rq.credentials = &cr;
		rq.method = i % 3 == 1 ? "sbx.v1.SandboxService/Write" : "sbx.v1.SandboxService/Execute";
		rq.request_id = "";
		rq.payload.data = scratch;
		rq.payload.len = plen;
		len = sbx__v1__request__get_packed_size(&rq);
		if ((buf = malloc(len)) == NULL)
			return 0;
		sbx__v1__request__pack(&rq, buf);
	}
	if (nng_msg_alloc(&m, 0) == 0 && nng_msg_append(m, buf, len) == 0 &&
	    nng_sendmsg(s, m, 0) == 0) {
		if (nng_recvmsg(s, &m, 0) == 0) {
			ok = 1;
			nng_msg_free(m);
		}
	}
	if (buf != scratch)
		free(buf);
	return ok;
}

static void *
storm(void *arg)
{
	struct client *c = arg;
	uint8_t *scratch = malloc(BIG);
	nng_socket s;

	if (scratch == NULL || nng_req0_open(&s) != 0) {
		free(scratch);
		return NULL;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, HARNESS_WAIT_MS);   /* a safety net */
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (nng_dial(s, d.endpoint, NULL, 0) == 0)
		for (int i = 0; i < PER_CLIENT; i++) {
			if (send_bad(s, c, i, scratch))
				c->answered++;
			else
				c->dropped++;
		}
	nng_close(s);
	free(scratch);
	return NULL;
}

TEST(memory_comes_back_after_ten_thousand_bad_requests)
{
	struct client c[CLIENTS];
	pthread_t th[CLIENTS];
	uint64_t base, peak, now, end;
	int answered = 0, dropped = 0;
	sbx_runtime *rts = NULL;
	size_t n = 0;

	for (int i = 0; i < 20; i++) {         /* warm: the baseline is a serving sbxd */
		CHECK_INT(sbx_runtime_list(svc, &rts, &n), SBX_OK);
		sbx_runtime_list_free(rts, n);
	}
	base = rss_bytes(d.pid);
	REQUIRE(base > 0);
	for (int i = 0; i < CLIENTS; i++) {
		c[i] = (struct client){ .seed = 1234u + (unsigned)i };
		REQUIRE_INT(pthread_create(&th[i], NULL, storm, &c[i]), 0);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(th[i], NULL);
		answered += c[i].answered;
		dropped += c[i].dropped;
	}
	peak = rss_bytes(d.pid);
	CHECK_INT(answered, CLIENTS * PER_CLIENT);
	CHECK_INT(dropped, 0);
	/* still serving */
	CHECK_INT(sbx_runtime_list(svc, &rts, &n), SBX_OK);
	sbx_runtime_list_free(rts, n);
	/* memory comes back: read until it does (the safety net bounds it) */
	end = harness_now_ms() + HARNESS_WAIT_MS;
#ifdef SBX_TEST_SANITIZED
	end = harness_now_ms();
#endif
	while ((now = rss_bytes(d.pid)) > base + STORM_SLACK && harness_now_ms() < end)
		usleep(100000);
	printf("sbxd RSS: %.1f MiB before, %.1f MiB after the storm, %.1f MiB settled\n",
	    base / 1048576.0, peak / 1048576.0, now / 1048576.0);
#ifndef SBX_TEST_SANITIZED
	CHECK(now <= base + STORM_SLACK);
#endif
}

int
main(void)
{
	if (harness_start(&d, NULL) != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(memory_comes_back_after_ten_thousand_bad_requests);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	T_DONE();
}
