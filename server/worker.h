/*
 * worker.h — a fixed pool of threads for blocking work.
 *
 * nng callbacks must never block, so every request is handed to this pool,
 * which may block on curl, SQLite and the filesystem. Jobs run in FIFO order.
 */
#ifndef SBXD_WORKER_H
#define SBXD_WORKER_H

#include "err.h"

struct worker_pool;
typedef void (*worker_fn)(void *arg);

sbxd_code worker_pool_new(int nthreads, struct worker_pool **out, struct err *e);
/* Queues fn(arg). Never blocks; SBXD_UNAVAILABLE once the pool is stopping,
 * SBXD_INTERNAL when out of memory. */
sbxd_code worker_submit(struct worker_pool *p, worker_fn fn, void *arg);
/* Runs every queued job, joins the threads and frees the pool. */
void worker_pool_free(struct worker_pool *p);

#endif
