/*
 * test_worker.c — the blocking-work pool: every job runs exactly once,
 * jobs run concurrently on several threads, jobs queued before shutdown
 * still run, and submitting after shutdown began is refused.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "t.h"
#include "worker.h"

static atomic_int ran, inside, max_inside;

static void
job(void *arg)
{
	int now = atomic_fetch_add(&inside, 1) + 1, m;

	(void)arg;
	while ((m = atomic_load(&max_inside)) < now && !atomic_compare_exchange_weak(&max_inside, &m, now))
		;
	usleep(1000);
	atomic_fetch_sub(&inside, 1);
	atomic_fetch_add(&ran, 1);
}

TEST(runs_every_job_concurrently)
{
	struct worker_pool *p;
	struct err e;

	REQUIRE_INT(worker_pool_new(4, &p, &e), SBXD_OK);
	for (int i = 0; i < 400; i++)
		REQUIRE_INT(worker_submit(p, job, NULL), SBXD_OK);
	worker_pool_free(p);   /* runs what is queued, then joins */
	CHECK_INT(atomic_load(&ran), 400);
	CHECK(atomic_load(&max_inside) > 1);
	CHECK(atomic_load(&max_inside) <= 4);
}

static struct worker_pool *late_pool;
static atomic_int late_rv = -1;

static void
noop(void *arg)
{
	(void)arg;
}

/* Submits until a submit is refused, which happens once worker_pool_free
 * has begun (the main thread calls it right after queueing this job); the
 * accepted ones were queued before the shutdown and simply run. The
 * bound is a safety net of a minute or more. */
static void
submit_late(void *arg)
{
	int rv = SBXD_OK;

	(void)arg;
	for (int i = 0; i < 60000 && (rv = worker_submit(late_pool, noop, NULL)) == SBXD_OK; i++)
		usleep(1000);
	atomic_store(&late_rv, rv);
}

TEST(refuses_after_shutdown_began)
{
	struct err e;

	REQUIRE_INT(worker_pool_new(1, &late_pool, &e), SBXD_OK);
	REQUIRE_INT(worker_submit(late_pool, submit_late, NULL), SBXD_OK);
	worker_pool_free(late_pool);
	CHECK_INT(atomic_load(&late_rv), SBXD_UNAVAILABLE);
}

int
main(void)
{
	RUN(runs_every_job_concurrently);
	RUN(refuses_after_shutdown_began);
	T_DONE();
}
