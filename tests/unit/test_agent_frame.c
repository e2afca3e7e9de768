/*
 * test_agent_frame.c — agent_frame_decode, the agent's bounded decoder:
 * a good frame decodes, junk and oversize input do not, and a frame that
 * is small on the wire but large once decoded (many empty repeated
 * fields) is refused by the 4 MiB budget while the unbounded decoder
 * would take it.
 */
#include <stdlib.h>
#include <string.h>

#include "agent_link.h"
#include "agent_wire.h"
#include "t.h"

static uint8_t *
pack(const Sbx__Agent__V1__Frame *f, size_t *n)
{
	uint8_t *p;

	*n = sbx__agent__v1__frame__get_packed_size(f);
	if ((p = malloc(*n + 1)) == NULL)
		abort();
	sbx__agent__v1__frame__pack(f, p);
	return p;
}

TEST(decodes_a_run)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT, *out;
	Sbx__Agent__V1__Run r = SBX__AGENT__V1__RUN__INIT;
	ProtobufCBinaryData av[2] = { { 2, (uint8_t *)"sh" }, { 2, (uint8_t *)"-c" } };
	uint8_t *p;
	size_t n;

	r.n_argv = 2;
	r.argv = av;
	r.timeout_ms = 5;
	f.call = 7;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_RUN;
	f.run = &r;
	p = pack(&f, &n);
	REQUIRE_INT(agent_frame_decode(p, n, &out), 0);
	CHECK_INT(out->call, 7);
	REQUIRE_INT(out->body_case, SBX__AGENT__V1__FRAME__BODY_RUN);
	CHECK_INT(out->run->n_argv, 2);
	CHECK_INT(out->run->timeout_ms, 5);
	agent_frame_free(out);
	free(p);
}

TEST(refuses_junk_and_oversize)
{
	static uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	Sbx__Agent__V1__Frame *out = (void *)1;
	uint8_t *big;

	CHECK_INT(agent_frame_decode(junk, sizeof(junk), &out), -1);
	CHECK(out == NULL);
	big = calloc(1, AGENT_FRAME_MAX + 1);
	CHECK_INT(agent_frame_decode(big, AGENT_FRAME_MAX + 1, &out), -1);
	free(big);
}

TEST(budget_refuses_a_decoding_bomb)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT, *out;
	Sbx__Agent__V1__Run r = SBX__AGENT__V1__RUN__INIT;
	size_t n, k = 400000;
	uint8_t *p;

	r.n_argv = k;
	r.argv = calloc(k, sizeof(*r.argv));
	f.call = 1;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_RUN;
	f.run = &r;
	p = pack(&f, &n);
	CHECK(n <= AGENT_FRAME_MAX);
	CHECK_INT(agent_frame_decode(p, n, &out), -1);
	/* the same bytes decode without the budget */
	out = sbx__agent__v1__frame__unpack(NULL, n, p);
	CHECK(out != NULL);
	if (out != NULL)
		sbx__agent__v1__frame__free_unpacked(out, NULL);
	free(p);
	free(r.argv);
}

int
main(void)
{
	RUN(decodes_a_run);
	RUN(refuses_junk_and_oversize);
	RUN(budget_refuses_a_decoding_bomb);
	T_DONE();
}
