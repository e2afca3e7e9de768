/*
 * test_utf8.c — well-formed UTF-8 (utf8.c), requests refused when a string
 * field is not UTF-8 (pbcheck_strings), and replies made well-formed before
 * they are packed (pbcheck_fix_utf8), so that no runtime stricter than
 * protobuf-c ever sees a string it cannot decode.
 */
#include "arena.h"
#include "pbcheck.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"
#include "utf8.h"

TEST(well_formed)
{
	CHECK(utf8_valid("", 0));
	CHECK(utf8_valid("plain ascii", 11));
	CHECK(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
	CHECK(utf8_valid("\xf4\x8f\xbf\xbf", 4));           /* U+10FFFF */
	CHECK(!utf8_valid("v\xff", 2));
	CHECK(!utf8_valid("\xc0\xaf", 2));                   /* overlong '/' */
	CHECK(!utf8_valid("\xe0\x80\xaf", 3));               /* overlong */
	CHECK(!utf8_valid("\xed\xa0\x80", 3));               /* a surrogate */
	CHECK(!utf8_valid("\xf4\x90\x80\x80", 4));           /* above U+10FFFF */
	CHECK(!utf8_valid("\xe2\x82", 2));                   /* cut short */
	CHECK(!utf8_valid("\x80", 1));
}

TEST(fixed_replaces_each_bad_byte)
{
	struct arena a;
	char ok[] = "fine \xc3\xa9", bad[] = "a\xff" "b\xe2\x82";
	char *r;

	arena_init(&a, 1 << 16);
	CHECK(utf8_fixed(&a, ok) == ok);
	r = utf8_fixed(&a, bad);
	CHECK_STR(r, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd");
	CHECK(utf8_valid(r, strlen(r)));
	arena_fini(&a);
}

TEST(requests_with_bad_utf8_are_refused)
{
	Sbx__V1__CreateSessionRequest rq = SBX__V1__CREATE_SESSION_REQUEST__INIT;
	Sbx__V1__Label l = SBX__V1__LABEL__INIT, *lp = &l;
	uint8_t buf[256];
	size_t n;
	struct err e;

	rq.user_id = "alice";
	l.key = "team";
	l.value = "v\xff";
	rq.labels = &lp;
	rq.n_labels = 1;
	n = sbx__v1__create_session_request__pack(&rq, buf);
	CHECK_INT(pbcheck_strings(&sbx__v1__create_session_request__descriptor, buf, n, &e),
	    SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "Label.value is not valid UTF-8");
	l.value = "v\xc3\xa9";
	n = sbx__v1__create_session_request__pack(&rq, buf);
	CHECK_INT(pbcheck_strings(&sbx__v1__create_session_request__descriptor, buf, n, &e), SBXD_OK);
}

TEST(replies_are_made_well_formed)
{
	Sbx__V1__LsResponse rs = SBX__V1__LS_RESPONSE__INIT;
	Sbx__V1__FileInfo f1 = SBX__V1__FILE_INFO__INIT, f2 = SBX__V1__FILE_INFO__INIT;
	Sbx__V1__FileInfo *v[2] = { &f1, &f2 };
	Sbx__V1__GrepResponse g = SBX__V1__GREP_RESPONSE__INIT;
	char name1[] = "ok.txt", path1[] = "/workspace/ok.txt";
	char name2[] = "bad\xff.txt", path2[] = "/workspace/bad\xff.txt";
	char *files[1] = { path2 };
	struct arena a;

	arena_init(&a, 1 << 16);
	f1.name = name1;
	f1.path = path1;
	f2.name = name2;
	f2.path = path2;
	rs.entries = v;
	rs.n_entries = 2;
	REQUIRE_INT(pbcheck_fix_utf8(&rs.base, &a), 0);
	CHECK(f1.name == name1);
	CHECK_STR(f2.name, "bad\xef\xbf\xbd.txt");
	CHECK_STR(f2.path, "/workspace/bad\xef\xbf\xbd.txt");
	CHECK_STR(name2, "bad\xff.txt");                      /* the original is untouched */
	g.files = files;
	g.n_files = 1;
	REQUIRE_INT(pbcheck_fix_utf8(&g.base, &a), 0);
	CHECK_STR(g.files[0], "/workspace/bad\xef\xbf\xbd.txt");
	arena_fini(&a);
}

int
main(void)
{
	RUN(well_formed);
	RUN(fixed_replaces_each_bad_byte);
	RUN(requests_with_bad_utf8_are_refused);
	RUN(replies_are_made_well_formed);
	T_DONE();
}
