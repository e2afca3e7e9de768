/*
 * fuzz_rpc.c — libFuzzer target for the whole request path: arbitrary
 * bytes into rpc_handle (envelope decoding with a budget, method lookup,
 * authentication, payload decoding, the handlers' validation) with a real
 * SQLite store and the fake driver. Every input must produce a decodable
 * Response and no sanitizer report. Seeds: fuzz_seeds writes valid
 * requests for every implemented RPC (with the service key below), so the
 * fuzzer starts past the envelope.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fake_driver.h"
#include "log.h"
#include "rpc.h"
#include "sbx/v1/sbx.pb-c.h"
#include "server.h"

#define FUZZ_KEY "fuzz-service-key-0123456789"

static struct config cfg;
static struct server *srv;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERROR);
	srv = fake_server_open(&cfg, "fuzz", FUZZ_KEY, NULL);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t rlen = 0;
	void *reply = rpc_handle(srv, data, size, &rlen);
	Sbx__V1__Response *r;

	if (reply == NULL)
		abort();
	if ((r = sbx__v1__response__unpack(NULL, rlen, reply)) == NULL)
		abort();   /* the server must always answer a decodable Response */
	sbx__v1__response__free_unpacked(r, NULL);
	free(reply);
	return 0;
}
