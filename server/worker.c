/*
 * worker.c — the blocking-work thread pool (see worker.h).
 */
#include <pthread.h>
#include <stdlib.h>

#include "metrics.h"
#include "worker.h"

struct job {
	struct job *next;
	worker_fn fn;
	void *arg;
};

struct worker_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	int stopping;
	int nthreads;
	pthread_t *threads;
};

static void *
worker_main(void *arg)
{
	struct worker_pool *p = arg;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if ((j = p->head) == NULL) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		if ((p->head = j->next) == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		metrics_gauge_add(METRICS_G_WORKER_QUEUED, -1);
		metrics_gauge_add(METRICS_G_WORKER_BUSY, 1);
		j->fn(j->arg);
		metrics_gauge_add(METRICS_G_WORKER_BUSY, -1);
		free(j);
	}
}

sbxd_code
worker_pool_new(int nthreads, struct worker_pool **out, struct err *e)
{
	struct worker_pool *p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->threads = calloc((size_t)nthreads, sizeof(pthread_t))) == NULL) {
		free(p);
		return err_set(e, SBXD_INTERNAL, "out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
			p->nthreads = i;
			worker_pool_free(p);
			return err_set(e, SBXD_INTERNAL, "cannot start worker thread %d", i);
		}
	}
	p->nthreads = nthreads;
	*out = p;
	return SBXD_OK;
}

sbxd_code
worker_submit(struct worker_pool *p, worker_fn fn, void *arg)
{
	struct job *j;

	if ((j = malloc(sizeof(*j))) == NULL)
		return SBXD_INTERNAL;
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		pthread_mutex_unlock(&p->mu);
		free(j);
		return SBXD_UNAVAILABLE;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	metrics_gauge_add(METRICS_G_WORKER_QUEUED, 1);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return SBXD_OK;
}

void
worker_pool_free(struct worker_pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->threads);
	free(p);
}
