/*
 * test_docker_ctable.c — the Docker driver's per-container table: records
 * come back as stored, thousands of containers fit once reserved (the old
 * fixed 512-entry table lost them), past the limit the least recently
 * used one goes, and drops free their slots.
 */
#include <stdio.h>

#include "docker_ctable.h"
#include "t.h"

struct rec {
	int v;
	char pad[1000];             /* about the size of docker_stats.c's */
};

static void
id_of(int i, char out[CTABLE_ID_MAX])
{
	snprintf(out, CTABLE_ID_MAX, "%064x", (unsigned)i * 2654435761u);
}

TEST(stores_and_finds)
{
	struct ctable *t = ctable_new(sizeof(struct rec));
	struct rec r = { .v = 7 }, got = { 0 };
	char id[CTABLE_ID_MAX];

	REQUIRE(t != NULL);
	id_of(1, id);
	CHECK_INT(ctable_get(t, id, &got), 0);
	ctable_put(t, id, &r);
	CHECK_INT(ctable_get(t, id, &got), 1);
	CHECK_INT(got.v, 7);
	r.v = 8;
	ctable_put(t, id, &r);                /* replaces, not a second record */
	CHECK_INT(ctable_get(t, id, &got), 1);
	CHECK_INT(got.v, 8);
	ctable_drop(t, id);
	CHECK_INT(ctable_get(t, id, &got), 0);
	ctable_put(t, "", &r);                /* no id: not stored */
	CHECK_INT(ctable_get(t, "", &got), 0);
	ctable_free(t);
}

TEST(reserved_table_holds_every_live_container)
{
	struct ctable *t = ctable_new(sizeof(struct rec));
	struct rec r, got;
	char id[CTABLE_ID_MAX];
	size_t n, cap, limit;
	int missing = 0;

	REQUIRE(t != NULL);
	ctable_reserve(t, 5000);
	for (int i = 0; i < 5000; i++) {
		id_of(i, id);
		r.v = i;
		ctable_put(t, id, &r);
	}
	for (int i = 0; i < 5000; i++) {
		id_of(i, id);
		if (!ctable_get(t, id, &got) || got.v != i)
			missing++;
	}
	CHECK_INT(missing, 0);
	ctable_stats(t, &n, &cap, &limit);
	CHECK_INT(n, 5000);
	CHECK(cap >= 5000 && cap <= limit);
	CHECK_INT(limit, 5000);
	ctable_free(t);
}

TEST(limit_replaces_least_recently_used)
{
	struct ctable *t = ctable_new(sizeof(struct rec));
	struct rec r = { 0 }, got;
	char id[CTABLE_ID_MAX];
	size_t n, cap, limit;

	REQUIRE(t != NULL);
	for (int i = 0; i < CTABLE_LIMIT_MIN; i++) {
		id_of(i, id);
		ctable_put(t, id, &r);
	}
	id_of(0, id);
	CHECK_INT(ctable_get(t, id, &got), 1);  /* 0 is now the most recent */
	id_of(CTABLE_LIMIT_MIN, id);
	ctable_put(t, id, &r);                  /* at the limit: 1 goes */
	ctable_stats(t, &n, &cap, &limit);
	CHECK_INT(n, CTABLE_LIMIT_MIN);
	CHECK_INT(cap, CTABLE_LIMIT_MIN);
	id_of(1, id);
	CHECK_INT(ctable_get(t, id, &got), 0);
	id_of(0, id);
	CHECK_INT(ctable_get(t, id, &got), 1);
	id_of(CTABLE_LIMIT_MIN, id);
	CHECK_INT(ctable_get(t, id, &got), 1);
	/* a dropped record's slot is reused without evicting anyone */
	id_of(2, id);
	ctable_drop(t, id);
	id_of(CTABLE_LIMIT_MIN + 1, id);
	ctable_put(t, id, &r);
	id_of(3, id);
	CHECK_INT(ctable_get(t, id, &got), 1);
	ctable_free(t);
}

int
main(void)
{
	RUN(stores_and_finds);
	RUN(reserved_table_holds_every_live_container);
	RUN(limit_replaces_least_recently_used);
	T_DONE();
}
