/*
 * egress_int.h — what egress.c and egress_log.c share; not installed.
 */
#ifndef SBXD_EGRESS_INT_H
#define SBXD_EGRESS_INT_H

#include <pthread.h>
#include <stdint.h>

#include "err.h"

#define EGRESS_PATH_MAX 4200

struct server;

struct egress {
	struct server *s;
	pthread_mutex_t mu;           /* the proxy, networks and rules files */
	int ready;                    /* the proxy ran at the last look */
	char proxy[64];               /* its container name */
	char out_net[64];             /* its way out: a plain bridge network */
	uint32_t base;                /* egress_subnets' first address */
	unsigned count;               /* /29s in it; 0 = egress unusable */
	char range[40];               /* egress_subnets, normalized */
	/* egress_log.c: the thread following squid's access log */
	pthread_t log_thread;
	int log_running;
	volatile int log_stop;
};

/* Starts following the access log (once; g->mu held). */
sbxd_code egress_log_start(struct egress *g, struct err *e);
void egress_log_stop(struct egress *g);

#endif
