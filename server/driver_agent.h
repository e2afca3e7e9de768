/*
 * driver_agent.h — the one place where a command's route is chosen.
 *
 * driver_agent_new wraps a driver (the Docker Engine one) in another that
 * gives every session container an in-sandbox agent (server/agent/) and
 * sends commands and background processes to it once it is connected;
 * everything else, and every command while the agent is not (yet) there,
 * goes to the wrapped driver unchanged (docker exec). Callers — handlers,
 * procs, ctrfs — use the wrapper like any driver and never learn which
 * route answered.
 *
 * What a container of session S gets (create): two read-only bind mounts
 * from host directories sbxd owns — <state>/agent/bin (the sbx-agent
 * binary, shared) at /.sbx/agent and <state>/agent/link/S (S's socket and
 * token, S's alone) at /.sbx/link — and the Cmd
 *   /.sbx/agent/sbx-agent --supervise --url ipc:///.sbx/link/agent.sock
 *       --session S --token-file /.sbx/link/token
 * under the container's init, as the sandbox user. sbxd listens on that
 * socket; it never connects to anything inside the sandbox. The token is
 * a keyed hash of S (key <state>/agent/key), so a restarted sbxd knows it.
 *
 * Routes: a command goes to the agent when it is up and the command runs
 * as the sandbox user (the agent cannot change user); an agent that is
 * starting (container started < 3 s ago) is waited for at most 50 ms —
 * about what a docker exec costs — before falling back.
 */
#ifndef SBXD_DRIVER_AGENT_H
#define SBXD_DRIVER_AGENT_H

#include <sys/types.h>

#include "driver.h"
#include "err.h"

struct driver_agent_opts {
	const char *state_dir;        /* <state_dir>/agent is the agent's */
	const char *binary;           /* the sbx-agent to install */
};

/* Wraps inner (taking ownership: freeing the wrapper frees it). */
sbxd_code driver_agent_new(struct driver *inner, const struct driver_agent_opts *o,
    struct driver **out, struct err *e);

/* The link of container id, referenced (agentlink_unref it), or NULL: for
 * tests and the benchmark's direct-to-agent floor. */
struct agentlink *driver_agent_link(struct driver *d, const char *id);

/* driver_agent_link when d is this wrapper, else NULL (any driver may be
 * passed: terminals need the agent and ask through this). */
struct agentlink *driver_agent_find_link(struct driver *d, const char *id);

/* For calls only an agent can serve (what: "terminals", "watches"): the
 * link of session_id's container container_id, up (waiting a few seconds
 * for a container that has just started), referenced; else
 * FAILED_PRECONDITION when the sandbox has no agent, UNAVAILABLE when it
 * is not connected. */
sbxd_code driver_agent_need_link(struct driver *d, const char *session_id,
    const char *container_id, const char *what, struct agentlink **out, struct err *e);

#endif
