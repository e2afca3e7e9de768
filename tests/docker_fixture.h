/*
 * docker_fixture.h — the real Docker engine and the hardened containers
 * the integration tests test_docker_engine and test_ctrfs run against.
 *
 * fx_docker_open connects to $SBX_DOCKER_SOCK (or /var/run/docker.sock)
 * and fails the run unless the engine answers and FX_IMAGE, which
 * deploy/images/build.sh builds, is present. fx_hardened_spec describes a
 * container hardened the way a sandbox is (user 1000:1000, every
 * capability dropped, no new privileges, no network, memory, CPU, pids and
 * open-file limits, an init). Each suite labels what it creates with
 * sbx.test=1 and its own suite label =1, and fx_docker_cleanup removes
 * every container carrying that suite label: call it at the start (for
 * what a crashed run left behind) and at the end, failed or not.
 */
#ifndef SBX_DOCKER_FIXTURE_H
#define SBX_DOCKER_FIXTURE_H

#include <stddef.h>

#include "driver.h"

#define FX_IMAGE "sbx/python-minimal:latest"

/* The Docker driver, with the engine up and FX_IMAGE present; NULL (with
 * FAIL and the reason on stderr) otherwise. */
struct driver *fx_docker_open(void);

/* Removes every container labelled suite_label=1; failures go to stderr. */
void fx_docker_cleanup(struct driver *d, const char *suite_label);

/* *s = a hardened container named name (NULL: the engine's choice) of
 * FX_IMAGE, working in "/", carrying the nlabels labels (borrowed, like
 * name). readonly: a read-only root filesystem with a 16 MiB tmpfs on
 * /tmp; otherwise a writable one and no tmpfs. Callers change fields
 * (workdir, workspace, env) after. */
void fx_hardened_spec(struct driver_container_spec *s, const char *name,
    const struct driver_label *labels, size_t nlabels, int readonly);

#endif
