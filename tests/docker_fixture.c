/*
 * docker_fixture.c — opening the Docker driver for an integration test,
 * the hardened container spec the tests create, and removing a suite's
 * containers (see docker_fixture.h). It reports on stderr and by return
 * value, never through t.h, whose counters are each test file's own.
 */
#include <stdio.h>
#include <stdlib.h>

#include "docker_fixture.h"

struct driver *
fx_docker_open(void)
{
	const char *sock = getenv("SBX_DOCKER_SOCK");
	struct driver *d;
	struct err e;
	int present = 0;

	if (sock == NULL)
		sock = "/var/run/docker.sock";
	if (docker_driver_new(sock, &d, &e) != SBXD_OK) {
		fprintf(stderr, "FAIL: %s\n", e.msg);
		return NULL;
	}
	if (d->ops->ping(d, &e) != SBXD_OK) {
		fprintf(stderr, "FAIL: %s\n", e.msg);
		d->ops->free(d);
		return NULL;
	}
	if (d->ops->image_present(d, FX_IMAGE, &present, &e) != SBXD_OK ||
	    !present) {
		fprintf(stderr, "FAIL: image %s is missing; build it with "
		    "deploy/images/build.sh\n", FX_IMAGE);
		d->ops->free(d);
		return NULL;
	}
	return d;
}

static void
cleanup_cb(void *arg, const char *id, const char *state,
    const struct driver_label *labels, size_t nlabels)
{
	struct driver *d = arg;
	struct err e;

	(void)state; (void)labels; (void)nlabels;
	if (d->ops->remove(d, id, &e) != SBXD_OK)
		fprintf(stderr, "cleanup: %s\n", e.msg);
}

void
fx_docker_cleanup(struct driver *d, const char *suite_label)
{
	struct err e;

	if (d->ops->list(d, suite_label, "1", cleanup_cb, d, &e) != SBXD_OK)
		fprintf(stderr, "cleanup: %s\n", e.msg);
}

void
fx_hardened_spec(struct driver_container_spec *s, const char *name,
    const struct driver_label *labels, size_t nlabels, int readonly)
{
	*s = (struct driver_container_spec){
		.name = name, .image = FX_IMAGE, .user = "1000:1000",
		.workdir = "/", .labels = labels, .nlabels = nlabels,
		.memory_bytes = 256 << 20, .nano_cpus = 1000000000,
		.pids_limit = 64, .nofile = 1024, .network_mode = "none",
		.readonly_rootfs = readonly,
		.tmpfs_tmp_opts = readonly ? "rw,nosuid,nodev,size=16m" : NULL,
		.drop_all_caps = 1, .no_new_privileges = 1, .init = 1,
	};
}
