/*
 * test_arena.c — per-call arenas: alignment, the budget, and the budgeted
 * protobuf-c allocator refusing a crafted message that would balloon.
 */
#include <stdint.h>

#include "arena.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"

TEST(alignment_and_copies)
{
	struct arena a;
	void *p;

	arena_init(&a, 1 << 20);
	for (int i = 1; i < 100; i++) {
		p = arena_alloc(&a, (size_t)i);
		REQUIRE(p != NULL);
		CHECK_INT((uintptr_t)p % 16, 0);
	}
	CHECK_STR(arena_strdup(&a, "hi"), "hi");
	CHECK_STR(arena_printf(&a, "%d-%s", 7, "x"), "7-x");
	CHECK(arena_alloc(&a, 100000) != NULL);   /* a big block of its own */
	CHECK(arena_alloc(&a, 10) != NULL);
	arena_fini(&a);
}

TEST(budget_refuses)
{
	struct arena a;

	arena_init(&a, 40000);
	CHECK(arena_alloc(&a, 1000) != NULL);
	CHECK(arena_alloc(&a, 50000) == NULL);
	CHECK(a.exhausted);
	CHECK(arena_calloc(&a, SIZE_MAX / 2, 4) == NULL);
	arena_fini(&a);
}

TEST(crafted_message_hits_budget)
{
	/* 100,000 empty labels: 200 KB on the wire, ~6 MB decoded. */
	size_t n = 100000, len = 2 * n;
	uint8_t *wire = malloc(len);
	struct arena a;
	ProtobufCAllocator al;
	void *m;

	REQUIRE(wire != NULL);
	for (size_t i = 0; i < n; i++) {
		wire[2 * i] = (3 << 3) | 2;   /* field 3 (labels), length-delimited */
		wire[2 * i + 1] = 0;
	}
	arena_init(&a, len * 8 + 65536);
	al = arena_allocator(&a);
	m = sbx__v1__list_sessions_request__unpack(&al, len, wire);
	CHECK(m == NULL);
	CHECK(a.exhausted);
	arena_fini(&a);
	/* The same bytes decode with a generous budget: the refusal was the budget's. */
	arena_init(&a, 64u << 20);
	al = arena_allocator(&a);
	m = sbx__v1__list_sessions_request__unpack(&al, len, wire);
	REQUIRE(m != NULL);
	CHECK_INT(((Sbx__V1__ListSessionsRequest *)m)->n_labels, n);
	arena_fini(&a);
	free(wire);
}

int
main(void)
{
	RUN(alignment_and_copies);
	RUN(budget_refuses);
	RUN(crafted_message_hits_budget);
	T_DONE();
}
