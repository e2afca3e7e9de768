/*
 * test_events.c — sbxd acting on the engine's container events with no
 * client watching: a process OOM-killed in a session limited to 64 MiB
 * puts "OOM-killed: memory limit 64 MiB" in the session's log, and a
 * container stopped behind sbxd's back leaves the session STOPPED with why
 * and a "container stopped" log event, without any request touching the
 * session first; an idle warm-pool container that dies is replaced. The
 * log is read over req/rep (ReadLogs reads the ring, never the container).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "harness.h"
#include "server.h"
#include "t.h"

static struct sbxd_proc d;
static sbx_client *svc;
static struct driver *drv;
static char inst[17];

/* driver list callback: the id of a running idle pool container of ours. */
static void
pool_member(void *arg, const char *id, const char *state, const struct driver_label *l,
    size_t n)
{
	char *out = arg;

	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].key, "sbx.pool") == 0 && strcmp(state, "running") == 0)
			snprintf(out, DRIVER_ID_MAX, "%s", id);
}

/* Waits until an idle pool container other than not_this runs; 1 then. */
static int
wait_pool_member(const char *not_this, char out[DRIVER_ID_MAX])
{
	uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	struct err e;

	do {
		out[0] = '\0';
		if (drv->ops->list(drv, "sbx.instance", inst, pool_member, out, &e) == SBXD_OK &&
		    out[0] != '\0' && strcmp(out, not_this) != 0)
			return 1;
		usleep(100000);  /* polling for the pool's refill */
	} while (harness_now_ms() < end);
	return 0;
}

/* Waits until a SYSTEM event of sid holds needle; 1 when one did. */
static int
wait_log(const char *sid, const char *needle)
{
	uint64_t end = harness_now_ms() + HARNESS_WAIT_MS, after = 0;
	sbx_log_batch b;
	int found = 0;

	while (!found && harness_now_ms() < end) {
		if (sbx_read_logs(svc, sid, after, 0, &b) != SBX_OK) {
			fprintf(stderr, "  read_logs: %s\n", sbx_last_error(svc));
			return 0;
		}
		for (size_t i = 0; i < b.n; i++) {
			after = b.events[i].seq;
			if (b.events[i].stream == SBX_STREAM_SYSTEM &&
			    strstr((char *)b.events[i].data, needle) != NULL)
				found = 1;
		}
		sbx_log_batch_fini(&b);
		if (!found)
			usleep(50000);   /* polling for the event to arrive */
	}
	return found;
}

TEST(oom_kill_with_no_client_watching)
{
	sbx_session_create_opts o = { .user_id = "events-oom" };
	sbx_process_opts po = { .command = "python3 -c \"b = b'x' * (512 << 20)\"" };
	sbx_session s;
	sbx_process p;

	o.limits.memory_bytes = 64u << 20;
	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	REQUIRE_INT(sbx_process_start(svc, s.session_id, &po, &p), SBX_OK);
	sbx_process_fini(&p);
	CHECK(wait_log(s.session_id, "OOM-killed: memory limit 64 MiB"));
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

TEST(container_stopped_behind_sbxds_back)
{
	sbx_session_create_opts o = { .user_id = "events-die" };
	sbx_session s, g;
	struct err e;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	REQUIRE_INT(drv->ops->stop(drv, s.container_id, 0, &e), SBXD_OK);
	CHECK(wait_log(s.session_id, "container stopped: exited"));
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	CHECK_INT(g.state, SBX_SESSION_STOPPED);
	CHECK_CONTAINS(g.stop_reason, "exited");
	sbx_session_fini(&g);
	/* the next sandbox call wakes it */
	CHECK_INT(harness_exec_status(svc, s.session_id, "true", 60000), 0);
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

TEST(idle_pool_container_replaced)
{
	char first[DRIVER_ID_MAX], next[DRIVER_ID_MAX];
	struct err e;

	REQUIRE(wait_pool_member("", first));
	REQUIRE_INT(drv->ops->stop(drv, first, 0, &e), SBXD_OK);
	CHECK(wait_pool_member(first, next));
	CHECK(harness_log_has(&d, "idle container"));
}

int
main(void)
{
	struct err e;
	int failed;

	if (!harness_image_ready() || docker_driver_new("/var/run/docker.sock", &drv, &e) != SBXD_OK ||
	    harness_start(&d, "pool_size = 1\n") != 0)
		return 1;
	{
		char db[256];

		snprintf(db, sizeof(db), "%s/sbx.db", d.dir);
		server_instance_id(db, inst);
	}
	if ((svc = harness_client(&d, NULL)) == NULL) {
		harness_finish(&d, 1);
		return 1;
	}
	RUN(oom_kill_with_no_client_watching);
	RUN(container_stopped_behind_sbxds_back);
	RUN(idle_pool_container_replaced);
	sbx_client_close(svc);
	drv->ops->free(drv);
	failed = t_failures != 0;
	if (!harness_finish(&d, failed))
		t_failures++;
	T_DONE();
}
