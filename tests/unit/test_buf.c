/*
 * test_buf.c — bounded buffers: growth, the ceiling as a distinct error,
 * capped appends for output truncation, and ownership hand-off.
 */
#include "buf.h"
#include "t.h"

TEST(grows_and_stays_terminated)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		REQUIRE_INT(buf_add(&b, "abcdefgh", 8), SBXD_OK);
	CHECK_INT(b.len, 8000);
	CHECK_INT(b.data[b.len], 0);
	CHECK_INT(buf_printf(&b, "%s-%d", "x", 42), SBXD_OK);
	CHECK(strcmp(b.data + 8000, "x-42") == 0);
	buf_fini(&b);
}

TEST(ceiling_is_an_error_and_leaves_buffer_intact)
{
	struct buf b;

	buf_init(&b, 10);
	CHECK_INT(buf_add(&b, "0123456789", 10), SBXD_OK);
	CHECK_INT(buf_add(&b, "x", 1), SBXD_RESOURCE_EXHAUSTED);
	CHECK_INT(b.len, 10);
	CHECK_INT(buf_add(&b, "", 0), SBXD_OK);
	CHECK_INT(buf_add(&b, "x", (size_t)-1), SBXD_RESOURCE_EXHAUSTED);
	buf_fini(&b);
}

TEST(capped_append_reports_dropped)
{
	struct buf b;

	buf_init(&b, 5);
	CHECK_INT(buf_add_capped(&b, "abc", 3), 0);
	CHECK_INT(buf_add_capped(&b, "defg", 4), 2);
	CHECK_INT(buf_add_capped(&b, "hij", 3), 3);
	CHECK_STR(b.data, "abcde");
	buf_fini(&b);
}

TEST(long_printf)
{
	struct buf b;
	char big[2000];

	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 4096);
	CHECK_INT(buf_printf(&b, "<%s>", big), SBXD_OK);
	CHECK_INT(b.len, 2001);
	buf_fini(&b);
}

TEST(take_hands_over)
{
	struct buf b;
	size_t n = 0;
	char *p;

	buf_init(&b, 100);
	buf_addstr(&b, "hello");
	p = buf_take(&b, &n);
	CHECK_INT(n, 5);
	CHECK_STR(p, "hello");
	CHECK(b.data == NULL && b.len == 0);
	free(p);
	buf_fini(&b);
}

int
main(void)
{
	RUN(grows_and_stays_terminated);
	RUN(ceiling_is_an_error_and_leaves_buffer_intact);
	RUN(capped_append_reports_dropped);
	RUN(long_printf);
	RUN(take_hands_over);
	T_DONE();
}
