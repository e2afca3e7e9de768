/*
 * test_session_events.c — the engine events thread reconnects where it
 * left off: when the stream breaks (the engine restarting) it subscribes
 * again with `since` just after the last event it saw, so nothing in
 * between is missed; stop ends it promptly. A driver whose events op is a
 * script stands in for the engine (the real stream is test_events's).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "driver.h"
#include "lifecycle.h"
#include "server.h"
#include "t.h"

#define T_EVENT 4000000000123456789LL   /* an event's engine time, unix ns */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int calls;
static int64_t sinces[8];

static sbxd_code
scripted_events(struct driver *d, const char *key, const char *value, int64_t since_ns,
    driver_event_cb cb, void *arg, atomic_int *stop, struct err *e)
{
	struct driver_event ev = { .kind = DRIVER_EVENT_KILL, .id = "c1", .time_ns = T_EVENT };
	int n;

	(void)d, (void)key, (void)value;
	pthread_mutex_lock(&mu);
	n = calls;
	if (n < 8)
		sinces[n] = since_ns;
	calls++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	if (n == 0) {
		cb(arg, &ev);
		return err_set(e, SBXD_UNAVAILABLE, "the engine went away");
	}
	while (!atomic_load(stop))
		;               /* the real op notices stop within a second */
	return SBXD_OK;
}

TEST(reconnects_after_the_last_event)
{
	struct driver_ops ops = { .events = scripted_events };
	struct driver drv = { .ops = &ops };
	struct server s = { .drv = &drv };
	struct err e;

	memcpy(s.instance, "0123456789abcdef", 17);
	REQUIRE_INT(lifecycle_events_start(&s, &e), SBXD_OK);
	pthread_mutex_lock(&mu);
	while (calls < 2)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	lifecycle_events_stop(&s);
	CHECK(s.events == NULL);
	CHECK(sinces[0] > 0 && sinces[0] < T_EVENT);
	CHECK_INT(sinces[1], T_EVENT + 1);
	CHECK_INT(calls, 2);
}

int
main(void)
{
	RUN(reconnects_after_the_last_event);
	T_DONE();
}
