/*
 * fake_driver.c — see fake_driver.h. Exec answers with the command text as
 * stdout and exit code 3, so callers can see what reached the driver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"
#include "fake_driver.h"
#include "server.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"

int fake_down, fake_image_missing, fake_creates, fake_removes, fake_stops;
int fake_start_delay_us, fake_stop_delay_us, fake_stops_entered;

static sbxd_code
f_down(struct err *e)
{
	return err_set(e, SBXD_UNAVAILABLE, "Docker engine not reachable (fake)");
}
static sbxd_code f_ping(struct driver *d, struct err *e)
{ return fake_down ? f_down(e) : SBXD_OK; }
static sbxd_code f_image(struct driver *d, const char *img, int *present, struct err *e)
{ *present = !fake_image_missing; return fake_down ? f_down(e) : SBXD_OK; }
static sbxd_code f_create(struct driver *d, const struct driver_container_spec *s, char id[DRIVER_ID_MAX], struct err *e)
{
	if (fake_down)
		return f_down(e);
	/* The hardening the session layer asks for. */
	if (!s->drop_all_caps || !s->no_new_privileges || !s->init || strcmp(s->network_mode, "none") ||
	    strcmp(s->user, "1000:1000") || s->pids_limit <= 0 || s->memory_bytes <= 0)
		return err_set(e, SBXD_INTERNAL, "spec not hardened");
	snprintf(id, DRIVER_ID_MAX, "fake%d", __atomic_add_fetch(&fake_creates, 1, __ATOMIC_RELAXED));
	return SBXD_OK;
}
static sbxd_code f_start(struct driver *d, const char *id, struct err *e)
{
	if (fake_start_delay_us)
		usleep((useconds_t)fake_start_delay_us);
	return fake_down ? f_down(e) : SBXD_OK;
}
static sbxd_code f_inspect(struct driver *d, const char *id, struct driver_container_info *o, struct err *e)
{ return f_down(e); }
static sbxd_code f_stop(struct driver *d, const char *id, int g, struct err *e)
{
	__atomic_fetch_add(&fake_stops_entered, 1, __ATOMIC_SEQ_CST);
	if (fake_stop_delay_us)
		usleep((useconds_t)fake_stop_delay_us);
	__atomic_fetch_add(&fake_stops, 1, __ATOMIC_RELAXED);
	return fake_down ? f_down(e) : SBXD_OK;
}
static sbxd_code f_remove(struct driver *d, const char *id, struct err *e)
{ fake_removes++; return fake_down ? f_down(e) : SBXD_OK; }
static sbxd_code f_exec(struct driver *d, const struct driver_exec_spec *s, struct driver_exec_result *r, struct err *e)
{
	if (fake_down)
		return f_down(e);
	buf_init(&r->out, s->max_output);
	buf_init(&r->err, s->max_output);
	buf_init(&r->merged, 2 * s->max_output);
	/* echoes a shell line's command (sh -c CMD), else a caller's words
	 * joined by spaces: argv may hold a single word */
	if (!s->words && s->argv[0] != NULL && s->argv[1] != NULL && s->argv[2] != NULL)
		buf_addstr(&r->out, s->argv[2]);
	else
		for (size_t i = 0; s->argv[i] != NULL; i++) {
			if (i > 0)
				buf_addstr(&r->out, " ");
			buf_addstr(&r->out, s->argv[i]);
		}
	r->exit_code = 3;
	return SBXD_OK;
}
static sbxd_code f_list(struct driver *d, const char *k, const char *v, driver_list_cb cb, void *arg, struct err *e)
{ return SBXD_OK; }
/* Fixed usage, so a test can see it reached GetSession. */
static sbxd_code f_stats(struct driver *d, const char *id, struct driver_usage *u, struct err *e)
{
	if (fake_down)
		return f_down(e);
	*u = (struct driver_usage){ .memory_bytes = 1u << 20, .memory_limit_bytes = 64u << 20,
	    .cpu_percent = 12.5, .pids = 3, .oom_kills = 0 };
	return SBXD_OK;
}
static void f_free(struct driver *d) { free(d); }

static const struct driver_ops fake_ops = {
	.ping = f_ping, .image_present = f_image, .create = f_create, .start = f_start,
	.inspect = f_inspect, .stop = f_stop, .remove = f_remove, .exec = f_exec,
	.list = f_list, .stats = f_stats, .free = f_free,
	/* archive_get, archive_put, path_stat: NULL (files outside /workspace
	 * are tested against the real engine) */
	/* exec_stdin, proc_*: NULL: Execute with stdin and StartProcess
	 * answer UNIMPLEMENTED (processes are tested against the real engine) */
};

struct driver *
fake_driver_new(void)
{
	struct driver *d = calloc(1, sizeof(*d));

	if (d != NULL)
		d->ops = &fake_ops;
	return d;
}

struct server *
fake_server_open(struct config *cfg, const char *tag, const char *key, const char *const *extra)
{
	struct driver *d = fake_driver_new();
	struct server *srv = NULL;
	struct err e;
	char dir[96];

	snprintf(dir, sizeof(dir), "/tmp/sbx-%s-XXXXXX", tag);
	if (mkdtemp(dir) == NULL || d == NULL)
		abort();
	config_defaults(cfg);
	config_set(cfg, "state_dir", dir, &e);
	config_set(cfg, "service_key", key, &e);
	config_set(cfg, "log_listen", "tcp://127.0.0.1:0", &e);   /* tests run in parallel */
	for (int i = 0; extra != NULL && extra[i] != NULL; i += 2)
		if (config_set(cfg, extra[i], extra[i + 1], &e) != SBXD_OK)
			abort();
	if (config_finish(cfg, &e) != SBXD_OK || server_open(cfg, d, &srv, &e) != SBXD_OK) {
		fprintf(stderr, "setup: %s\n", e.msg);
		abort();
	}
	dispatch_init();
	return srv;
}
