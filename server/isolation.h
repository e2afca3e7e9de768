/*
 * isolation.h — how strongly a session's container is kept from the host:
 * runc (namespaces, cgroups, dropped capabilities, seccomp: the host
 * kernel serves the sandbox's system calls) or gvisor (gVisor's runsc: a
 * user-space kernel serves them, the host kernel sees only its own few).
 *
 * Each isolation is an OCI runtime the Docker engine knows by name: runc
 * always, gvisor only once deploy/gvisor.sh registered runsc (config
 * gvisor_runtime names it). The config sets a default, a runtime may set
 * its own, and a CreateSession may ask for any isolations_allowed lists.
 *
 * What gVisor (runsc 20221219, ptrace platform) cannot give, measured:
 * - A pids limit that holds a fork bomb inside the sandbox. The engine's
 *   PidsLimit is the host cgroup's, and runsc counts there with its own
 *   threads and stub processes; at the limit its kernel cannot make a
 *   thread and the whole sandbox exits (code 2), so the session's
 *   container stops and every process in it ends (KILLED), where under
 *   runc only fork(2) fails. Other sessions go on, and the next call
 *   starts the container again (test_procs' fork_bomb_is_held says so).
 * - An OOM kill of one process: the memory limit is the host cgroup's,
 *   whose OOM killer sees the sandbox as one process, so the container
 *   stops (reason "oom") and all its processes end KILLED/137.
 * - Prompt word of a container's death through the agent: its link
 *   breaks as the sandbox's kernel goes down, before the engine sees the
 *   stop, so sbx waits for the engine (driver_agent.c's lost_settled).
 * - An engine exec that outlives its sandbox: when the host kills runsc
 *   (OOM, the pids limit, docker kill) the exec's stream may stay open
 *   for good (runsc's exec says "urpc method containerManager.WaitPID
 *   failed: EOF" on it, or ends it with code 128), and its pid is runsc's
 *   on the host, so signals miss the process. sbx runs processes through
 *   the agent (a background process waits for a just-started container's
 *   agent, driver_agent.c's route_for), and ends every process of a
 *   container the engine found stopped, killed (137) (procs.h's
 *   procs_container_stopped; the one failure in 16 test_procs runs was a
 *   process started before the agent was up, in an OOM-killed sandbox).
 *   With agent = no, signals to background processes do not work under
 *   gVisor.
 * - coreutils' stat, ls -l and ls of a directory (Debian's 9.x) fail with
 *   "Invalid argument": this runsc rejects statx with AT_NO_AUTOMOUNT
 *   (OCI seccomp cannot turn it into ENOSYS for glibc's fallback: runsc
 *   --oci-seccomp ignores errnoRet and answers EPERM). find, Python and
 *   sbx's own file calls work.
 * - nodev on /tmp and the home: a sandbox user without CAP_MKNOD makes
 *   device nodes there (mknod succeeds), though they reach only gVisor's
 *   own emulated devices (a node for /dev/mem cannot be read). /proc/mounts
 *   shows the tmpfs without nosuid and nodev, /proc/self/status no
 *   NoNewPrivs line (prctl says 1), and /sys/fs/cgroup is empty: the
 *   limits live in the host's cgroup of the container (test_e2e reads
 *   them there). A write to the read-only root fails EACCES, not EROFS.
 * - Docker's seccomp profile: runsc (registered without --oci-seccomp)
 *   does not apply it inside the sandbox; gVisor's kernel takes the
 *   system calls, and runsc confines itself with its own filters.
 */
#ifndef SBXD_ISOLATION_H
#define SBXD_ISOLATION_H

#include "err.h"

enum isolation {
	ISOLATION_RUNC,
	ISOLATION_GVISOR,
};
#define ISOLATION_N 2
#define ISOLATION_NAME_MAX 16
/* isolations_allowed's default: every isolation */
#define ISOLATION_ALL ((1u << ISOLATION_N) - 1)

struct config;
struct server;

/* "runc" or "gvisor". */
const char *isolation_name(int iso);
/* The isolation called name, or -1 for an unknown name. */
int isolation_parse(const char *name);
/* "runc gvisor": the names of the isolations in mask, space-separated. */
void isolation_names(unsigned mask, char *out, size_t n);
/* The engine's name of iso's OCI runtime ("runc", or gvisor_runtime). */
const char *isolation_engine_runtime(const struct config *c, int iso);
/* OK when the engine has iso's OCI runtime registered; else
 * FAILED_PRECONDITION naming the fix (deploy/gvisor.sh), or the engine's
 * error when it cannot be asked. runc is never asked about. */
sbxd_code isolation_check(struct server *s, int iso, struct err *e);
/* Logs at start which isolations the engine can give. */
void isolation_log_readiness(struct server *s);

#endif
