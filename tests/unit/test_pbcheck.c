/*
 * test_pbcheck.c — NUL bytes inside protobuf strings are refused with the
 * field's name, at the top level and inside nested messages; everything
 * else (valid messages, bytes fields, malformed wire data) passes through.
 */
#include "pbcheck.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"

TEST(nul_in_top_level_string)
{
	static const uint8_t wire[] = { 0x0a, 10, 'a', 'l', 'i', 'c', 'e', 0, '.', '.', '/', 'x' };
	struct err e;

	CHECK_INT(pbcheck_strings(&sbx__v1__create_session_request__descriptor, wire, sizeof(wire), &e),
	    SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "CreateSessionRequest.user_id");
}

TEST(nul_in_nested_string)
{
	Sbx__V1__Request rq = SBX__V1__REQUEST__INIT;
	Sbx__V1__Credentials cr = SBX__V1__CREDENTIALS__INIT;
	uint8_t buf[256];
	size_t n;
	struct err e;
	uint8_t *k;

	cr.service_key = "key-with-X-inside";
	rq.credentials = &cr;
	rq.method = "sbx.v1.SessionService/GetSession";
	n = sbx__v1__request__pack(&rq, buf);
	CHECK_INT(pbcheck_strings(&sbx__v1__request__descriptor, buf, n, &e), SBXD_OK);
	k = memchr(buf, 'X', n);
	REQUIRE(k != NULL);
	*k = 0;
	CHECK_INT(pbcheck_strings(&sbx__v1__request__descriptor, buf, n, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "Credentials.service_key");
}

TEST(bytes_and_garbage_pass)
{
	Sbx__V1__WriteRequest w = SBX__V1__WRITE_REQUEST__INIT;
	uint8_t buf[128];
	static const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00 };
	struct err e;

	w.session_id = "s-1";
	w.path = "a.bin";
	w.content.data = (uint8_t *)"\0\0\0";
	w.content.len = 3;
	CHECK_INT(pbcheck_strings(&sbx__v1__write_request__descriptor, buf,
	    sbx__v1__write_request__pack(&w, buf), &e), SBXD_OK);
	CHECK_INT(pbcheck_strings(&sbx__v1__write_request__descriptor, garbage, sizeof(garbage), &e), SBXD_OK);
	CHECK_INT(pbcheck_strings(&sbx__v1__write_request__descriptor, garbage, 1, &e), SBXD_OK);
	CHECK_INT(pbcheck_strings(&sbx__v1__write_request__descriptor, NULL, 0, &e), SBXD_OK);
}

int
main(void)
{
	RUN(nul_in_top_level_string);
	RUN(nul_in_nested_string);
	RUN(bytes_and_garbage_pass);
	T_DONE();
}
