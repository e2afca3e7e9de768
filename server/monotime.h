/*
 * monotime.h — the monotonic clock in milliseconds, condition variables
 * that wait by it, and the deadlines pthread_cond_timedwait takes.
 */
#ifndef SBXD_MONOTIME_H
#define SBXD_MONOTIME_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t monotime_ms(void);
/* Initializes cv to time its waits by CLOCK_MONOTONIC. */
void monotime_cond_init(pthread_cond_t *cv);
/* The time ms from now on clock (the clock cv waits by). */
struct timespec monotime_after_ms(clockid_t clock, uint64_t ms);
/* Waits on cv (made by monotime_cond_init; mu held) for at most ms;
 * the pthread_cond_timedwait result (ETIMEDOUT when the time passed). */
int monotime_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t ms);

#endif
