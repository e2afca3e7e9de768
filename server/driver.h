/*
 * driver.h — the container driver interface.
 *
 * Everything sbxd does to containers goes through a `struct driver` and its
 * ops table, so a second back end (Kubernetes, several Docker hosts, a
 * privileged helper process) can replace the Docker Engine one, and tests
 * can substitute a fake for failure paths the real engine cannot produce on
 * demand. The only implementation today is docker.c (Engine API 1.41 over
 * the unix socket, through libcurl).
 *
 * Error mapping every implementation follows: engine unreachable ->
 * SBXD_UNAVAILABLE ("Docker engine not reachable at <sock>: ..., start
 * dockerd"), no such container/image -> SBXD_NOT_FOUND, container not
 * running -> SBXD_FAILED_PRECONDITION, engine 5xx -> SBXD_INTERNAL with the
 * engine's message, oversize engine reply -> SBXD_RESOURCE_EXHAUSTED.
 * All calls are blocking and thread-safe; call them from worker threads only.
 */
#ifndef SBXD_DRIVER_H
#define SBXD_DRIVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define DRIVER_ID_MAX 80   /* 64 hex + NUL, with room */
/* max_output when a spec gives 0 */
#define DRIVER_OUTPUT_DEFAULT (1u << 20)
/* The message of a foreground command ended by drain (ABORTED). */
#define DRIVER_DRAIN_MSG "sbxd is stopping; the command was killed"

struct driver_label {
	const char *key;
	const char *value;
};

/* One engine event about a container (driver_ops.events). */
enum driver_event_kind { DRIVER_EVENT_DIE, DRIVER_EVENT_OOM, DRIVER_EVENT_KILL };

struct driver_event {
	enum driver_event_kind kind;
	char id[DRIVER_ID_MAX];       /* the container */
	char session[64];             /* its sbx.session label, "" if none */
	int pool;                     /* it carries the sbx.pool label */
	int exit_code;                /* die: the exit code; kill: the signal */
	int64_t time_ns;              /* when, by the engine's clock (unix ns) */
};

/* Receives each event; runs on the events caller's thread. */
typedef void (*driver_event_cb)(void *arg, const struct driver_event *ev);

/* One more bind mount of a host directory (driver_container_spec.mounts). */
struct driver_mount {
	const char *source;           /* host directory */
	const char *target;           /* absolute container path */
	int readonly;
};

/* What a sandbox container looks like. Pointers are borrowed for the call. */
struct driver_container_spec {
	const char *name;             /* container name, or NULL for the engine's */
	const char *image;
	const char *user;             /* "1000:1000" */
	const char *workdir;          /* "/workspace" */
	const char *workspace_host;   /* host dir bind-mounted at /workspace, or NULL */
	const char *workspace_propagation; /* bind propagation, e.g. "rslave" (warm
	                                 pool slots); NULL = the engine's default */
	const struct driver_label *labels;
	size_t nlabels;
	const char *const *env;       /* "K=V" strings, NULL-terminated, or NULL */
	int64_t memory_bytes;         /* Memory and MemorySwap (no swap); 0 = unlimited */
	int64_t nano_cpus;            /* 0 = unlimited */
	int64_t pids_limit;           /* 0 = unlimited */
	int64_t nofile;               /* RLIMIT_NOFILE soft=hard; 0 = engine default */
	const char *network_mode;     /* "none" */
	int readonly_rootfs;
	const char *tmpfs_tmp_opts;   /* e.g. "rw,nosuid,nodev,size=64m" mounts /tmp; NULL = none */
	const char *tmpfs_home;       /* a second tmpfs here (the sandbox user's home) ... */
	const char *tmpfs_home_opts;  /* ... with these options; either NULL = none */
	int drop_all_caps;            /* CapDrop ["ALL"] */
	int no_new_privileges;        /* SecurityOpt ["no-new-privileges"] */
	int init;                     /* Init: true (reaps orphans) */
	const char *const *cmd;       /* Cmd, NULL-terminated; NULL = the image's */
	const struct driver_mount *mounts; /* more bind mounts (the agent's) */
	size_t nmounts;
	const char *oci_runtime;      /* the engine's OCI runtime ("runc", "runsc");
	                                 NULL = the engine's default */
	const char *ipv4_address;     /* the container's fixed address on network
	                                 network_mode, or NULL for the engine's */
	const char *const *dns;       /* HostConfig.Dns, NULL-terminated, or NULL */
};

/* A network (net_create). */
struct driver_network_spec {
	const char *name;
	const char *subnet;           /* "10.213.0.0/29", or NULL for the engine's */
	int internal;                 /* no route out of it (Internal) */
	int no_host_address;          /* the host's bridge gets no address on it,
	                                 so nothing on it reaches the host */
	const struct driver_label *labels;
	size_t nlabels;
};

/* What an image committed from a container says of itself (Engine API
 * commit config); pointers borrowed for the call. */
struct driver_commit_spec {
	const char *repo;             /* "sbx/custom-x" */
	const char *tag;
	const char *user;             /* "1000:1000" */
	const char *workdir;
	const char *const *env;       /* "K=V", NULL-terminated, or NULL */
	const struct driver_label *labels;
	size_t nlabels;
	const char *const *cmd;       /* NULL = the container's */
};

struct driver_container_info {
	char id[DRIVER_ID_MAX];
	char state[32];               /* "running", "exited", "created", ... */
	int running;
	int oom_killed;
	int exit_code;
	int64_t pid;                  /* host pid of the init process, 0 if none */
	char image[256];
};

/* One command run to completion in a running container. */
struct driver_exec_spec {
	const char *container_id;
	const char *const *argv;      /* NULL-terminated; e.g. {"sh","-c",cmd,NULL} */
	int words;                    /* argv is a caller's own words, not a shell
	                                 line: a program that is not there exits
	                                 127 with the reason on stderr, as a shell
	                                 says, on every route (the engine's exec
	                                 alone would answer 126, the reason on
	                                 stdout) */
	const char *const *env;       /* "K=V", NULL-terminated, or NULL */
	const char *user;             /* NULL = the container's user */
	const char *workdir;          /* NULL = the container's */
	uint64_t timeout_ms;          /* 0 = none. On expiry the exec's whole process
	                                 group is killed from the host */
	size_t max_output;            /* per stream cap for stdout, stderr; merged gets 2x */
	/* When set, called from the driver's thread with each piece of output
	 * as it arrives (stream 1 stdout, 2 stderr), before the caps apply —
	 * the log bus uses it to stream a command's output live. A background
	 * process's on_output may also get stream 0 with p NULL: n bytes of
	 * its output were lost before reaching sbxd (a buffer on the way
	 * overflowed while nobody read it). */
	void (*on_output)(void *arg, int stream, const void *p, size_t n);
	void *on_output_arg;
};

struct driver_exec_result {
	int exit_code;                /* 124 when timed out */
	int timed_out;
	int truncated;                /* some output was dropped by the caps */
	struct buf out;               /* stdout, at most max_output bytes */
	struct buf err;               /* stderr, at most max_output bytes */
	struct buf merged;            /* both, in arrival order */
	uint64_t duration_ms;
};

/* What the engine says of a path inside a container (archive HEAD). */
struct driver_path_stat {
	char name[256];
	uint64_t size;
	uint32_t mode;                /* Go os.FileMode bits as the engine sends them,
	                                 translated to st_mode type + permission bits */
	int64_t mtime_ms;
	char link_target[1024];       /* for a symlink */
};

/* What a running container uses now (docker_stats.c: read from its cgroup,
 * or the stats API when the cgroup is out of reach). */
struct driver_usage {
	uint64_t memory_bytes;        /* as `docker stats`: minus inactive file pages */
	uint64_t memory_limit_bytes;  /* 0 = unlimited */
	double cpu_percent;           /* of one CPU, since the driver's previous look at
	                                 this container (the first: since it started) */
	uint64_t pids;
	uint64_t oom_kills;           /* processes the kernel OOM-killed in it so far */
};

/* A running process with stdin (docker_stream.c); opaque. */
struct driver_proc;

struct driver_proc_status {
	int running;
	int exit_code;                /* when !running; -1 if the engine has none */
	int64_t pid;                  /* host pid of its first process */
};

/* Called once per container found by driver_ops.list. */
typedef void (*driver_list_cb)(void *arg, const char *id, const char *state,
    const struct driver_label *labels, size_t nlabels);

/* Called once per image found by driver_ops.image_list: its id and the
 * value of the label asked for. */
typedef void (*driver_image_cb)(void *arg, const char *id, const char *value);

struct driver;

struct driver_ops {
	/* Checks that the engine answers. */
	sbxd_code (*ping)(struct driver *d, struct err *e);
	/* *present = 1 when the image exists locally. */
	sbxd_code (*image_present)(struct driver *d, const char *image,
	    int *present, struct err *e);
	/* *present = 1 when the engine has the OCI runtime called name
	 * registered (driver_container_spec.oci_runtime). NULL: the driver
	 * has only its default one. */
	sbxd_code (*engine_runtime)(struct driver *d, const char *name,
	    int *present, struct err *e);
	/* Creates (not starts) a container; writes its id to id_out. */
	sbxd_code (*create)(struct driver *d, const struct driver_container_spec *spec,
	    char id_out[DRIVER_ID_MAX], struct err *e);
	/* Starts a created or stopped container; starting a running one is OK. */
	sbxd_code (*start)(struct driver *d, const char *id, struct err *e);
	sbxd_code (*inspect)(struct driver *d, const char *id,
	    struct driver_container_info *out, struct err *e);
	/* Stops with the given grace period; stopping a stopped one is OK. */
	sbxd_code (*stop)(struct driver *d, const char *id, int grace_s, struct err *e);
	/* Removes (force kills first); removing a missing one is OK. */
	sbxd_code (*remove)(struct driver *d, const char *id, struct err *e);
	/* Runs a command to completion. res must be zeroed by the caller; the
	 * driver buf_init()s its buffers; the caller frees them with
	 * driver_exec_result_fini() whatever the outcome. */
	sbxd_code (*exec)(struct driver *d, const struct driver_exec_spec *spec,
	    struct driver_exec_result *res, struct err *e);
	/* Lists containers (running or not) carrying label key=value. */
	sbxd_code (*list)(struct driver *d, const char *label_key,
	    const char *label_value, driver_list_cb cb, void *arg, struct err *e);
	/* Paths outside the workspace, through the container (docker_archive.c).
	 * archive_get: a tar of path (a file, or a directory with its tree) into
	 * tar, whose max bounds it (RESOURCE_EXHAUSTED past it); NOT_FOUND when
	 * path is missing. archive_put: extracts the tar (len bytes) into the
	 * existing directory dir. path_stat: NOT_FOUND when missing. Paths are
	 * absolute container paths; they are URL-encoded, never interpreted by
	 * a shell. */
	sbxd_code (*archive_get)(struct driver *d, const char *id, const char *path,
	    struct buf *tar, struct err *e);
	sbxd_code (*archive_put)(struct driver *d, const char *id, const char *dir,
	    const void *tar, size_t len, struct err *e);
	sbxd_code (*path_stat)(struct driver *d, const char *id, const char *path,
	    struct driver_path_stat *out, struct err *e);
	/* ---- usage (docker_stats.c): NOT_FOUND when the container is gone,
	 * FAILED_PRECONDITION when it is not running. */
	sbxd_code (*stats)(struct driver *d, const char *id, struct driver_usage *out,
	    struct err *e);
	/* ---- engine events (docker_events.c): streams die, oom and kill
	 * events of containers labelled key=value from since_ns (unix ns; 0 =
	 * from now) to cb until the stream breaks (UNAVAILABLE: the engine went
	 * away; the caller reconnects with the last event's time) or *stop
	 * becomes non-zero (checked at least every second; then SBXD_OK).
	 * NULL: the driver has no events. */
	sbxd_code (*events)(struct driver *d, const char *key, const char *value,
	    int64_t since_ns, driver_event_cb cb, void *arg, atomic_int *stop,
	    struct err *e);
	/* ---- sizing: at most this many containers are live at once (the
	 * session ceiling, the warm pool, builds), so per-container state is
	 * sized for them once. NULL: the driver keeps none. */
	void (*reserve)(struct driver *d, size_t containers);
	/* ---- shutdown: every foreground exec in flight, and any started
	 * later, ends within about a second: its process group is killed
	 * from the host and exec returns ABORTED ("sbxd is stopping; the
	 * command was killed": it ran and was ended, so a client must not
	 * retry it as it retries UNAVAILABLE). Background processes are not
	 * touched. Safe
	 * from any thread. NULL: the driver has nothing to end. */
	void (*drain)(struct driver *d);
	/* ---- long-running processes with stdin (docker_stream.c)
	 * A process is an exec whose stdin, stdout and stderr travel on one
	 * raw (hijacked) connection to the engine. Its output reaches
	 * spec->on_output only from proc_pump, which the caller runs when
	 * proc_fd polls readable; timeout_ms and max_output are not used.
	 * proc_pump, proc_write_stdin, proc_close_stdin, proc_signal and
	 * proc_status may run on different threads at once; proc_free must
	 * not overlap any of them. NULL ops: the driver has no processes. */
	/* Runs a command to completion feeding it in_len bytes of stdin
	 * (then EOF), with exec's timeout, caps and result contract. */
	sbxd_code (*exec_stdin)(struct driver *d, const struct driver_exec_spec *spec,
	    const void *in, size_t in_len, struct driver_exec_result *res, struct err *e);
	/* Starts spec->argv with stdin open; *out is the caller's to
	 * proc_free. FAILED_PRECONDITION when the container is not running. */
	sbxd_code (*proc_start)(struct driver *d, const struct driver_exec_spec *spec,
	    struct driver_proc **out, struct err *e);
	/* The descriptor to poll for POLLIN. */
	int (*proc_fd)(struct driver_proc *p);
	/* Reads what is there without blocking, at most a bounded amount per
	 * call, passing output to on_output; *eof = 1 once the output ended
	 * (the process exited, or closed both stdout and stderr). */
	sbxd_code (*proc_pump)(struct driver_proc *p, int *eof, struct err *e);
	/* Writes all n bytes to stdin within timeout_ms: DEADLINE_EXCEEDED
	 * when the process does not read them in time (some may have gone),
	 * FAILED_PRECONDITION when stdin is closed or the process is gone. */
	sbxd_code (*proc_write_stdin)(struct driver_proc *p, const void *data,
	    size_t n, uint64_t timeout_ms, struct err *e);
	/* Half-closes the connection: the process reads EOF. */
	sbxd_code (*proc_close_stdin)(struct driver_proc *p, struct err *e);
	/* Sends sig to every live process of the process's group from the
	 * host (the whole tree it started, unless a child left the group);
	 * *n is how many were signalled. */
	sbxd_code (*proc_signal)(struct driver_proc *p, int sig, int *n, struct err *e);
	/* Asks the engine whether it still runs; exit_code is set once not. */
	sbxd_code (*proc_status)(struct driver_proc *p, struct driver_proc_status *st,
	    struct err *e);
	/* Closes the connection (output and stdin) once the process ended,
	 * keeping what proc_signal and proc_status need: children it left
	 * behind in its group can still be signalled. Must not overlap any
	 * other call on p. */
	void (*proc_close)(struct driver_proc *p);
	/* Closes the connection and frees p; a live process goes on. */
	void (*proc_free)(struct driver_proc *p);
	/* ---- images (docker_image.c). NULL ops: the driver cannot build.
	 * commit: a new image repo:tag from container id's filesystem with
	 * spec's config. image_remove: removing a missing image is OK. */
	sbxd_code (*commit)(struct driver *d, const char *id,
	    const struct driver_commit_spec *spec, struct err *e);
	sbxd_code (*image_remove)(struct driver *d, const char *image, struct err *e);
	/* ---- snapshots (docker.c, docker_image.c). pause freezes every
	 * process of a running container (the engine's cgroup freezer) and
	 * unpause thaws them: FAILED_PRECONDITION when the container is not
	 * running (pause) or not paused (unpause). image_size: the image's
	 * size in bytes, its base layers counted (NOT_FOUND when missing).
	 * image_list: calls cb with the id of each local image labelled
	 * key=value that also carries label want, and want's value. NULL ops:
	 * the driver cannot snapshot. */
	sbxd_code (*pause)(struct driver *d, const char *id, struct err *e);
	sbxd_code (*unpause)(struct driver *d, const char *id, struct err *e);
	sbxd_code (*image_size)(struct driver *d, const char *image, int64_t *size,
	    struct err *e);
	sbxd_code (*image_list)(struct driver *d, const char *key, const char *value,
	    const char *want, driver_image_cb cb, void *arg, struct err *e);
	/* ---- files in the container's own view, as the sandbox user (the
	 * in-sandbox agent): tmpfs mounts, symlinks and all. Each answers
	 * SBXD_UNIMPLEMENTED when this route cannot serve the call now (no
	 * agent connected, more than it carries at once) and the caller
	 * uses the engine's archive API and helper commands; otherwise
	 * SBXD_OK with *err_no 0 or the errno of the failure (ENOENT,
	 * EISDIR, EINVAL for not a regular file, EFBIG past max, EACCES...).
	 * file_read follows symlinks and reads at most out->max bytes;
	 * file_write creates missing parents and new files 0644; file_stat
	 * does not follow a final symlink. NULL: no such route. */
	sbxd_code (*file_read)(struct driver *d, const char *id, const char *path,
	    struct buf *out, int *err_no, struct err *e);
	sbxd_code (*file_write)(struct driver *d, const char *id, const char *path,
	    const void *data, size_t len, int append, int *err_no, struct err *e);
	sbxd_code (*file_stat)(struct driver *d, const char *id, const char *path,
	    struct driver_path_stat *out, int *err_no, struct err *e);
	/* ---- processes that outlive sbxd (the in-sandbox agent holds
	 * them). proc_key writes a handle for p that sbxd keeps in its
	 * store and returns 0, or -1 when p cannot be taken back after a
	 * restart. proc_adopt takes back the process with handle key in
	 * container id, waiting up to wait_ms for the driver to reach it;
	 * spec->on_output gets its output from then on (what it wrote while
	 * nobody listened first, within a bound); NOT_FOUND when it is not
	 * there. NULL: nothing outlives sbxd. */
	int (*proc_key)(struct driver_proc *p, char *out, size_t n);
	/* sbxd is stopping: whoever holds processes that outlive it keeps
	 * their output and ends for the next sbxd from now on (they stop
	 * reaching proc_pump). NULL with proc_adopt. */
	void (*detach)(struct driver *d);
	sbxd_code (*proc_adopt)(struct driver *d, const char *id, const char *key,
	    const struct driver_exec_spec *spec, uint64_t wait_ms, struct driver_proc **out,
	    struct err *e);
	/* ---- recovery: sbxd found container id of session sid running or
	 * stopped after a restart; the driver takes back whatever it keeps
	 * per container (the agent's link). NULL: it keeps nothing. */
	void (*adopt)(struct driver *d, const char *id, const char *sid);
	/* ---- networks (egress.c). net_create: ALREADY_EXISTS when one of
	 * that name exists; an address range in use elsewhere is
	 * FAILED_PRECONDITION. net_remove: a missing one is OK.
	 * net_connect: attaches (connect 1, with a fixed address ipv4 or
	 * NULL) or detaches a container; attaching one already there is
	 * ALREADY_EXISTS, detaching one not there OK. NULL: the driver has
	 * no networks (sessions with an egress allowlist cannot run). */
	sbxd_code (*net_create)(struct driver *d, const struct driver_network_spec *spec,
	    struct err *e);
	sbxd_code (*net_remove)(struct driver *d, const char *name, struct err *e);
	sbxd_code (*net_connect)(struct driver *d, const char *name, const char *container,
	    const char *ipv4, int connect, struct err *e);
	/* Sends signal sig to container id's main process (egress.c asks the
	 * proxy to rotate its logs); one not running is FAILED_PRECONDITION.
	 * NULL: the driver cannot. */
	sbxd_code (*signal)(struct driver *d, const char *id, int sig, struct err *e);
	void (*free)(struct driver *d);
};

struct driver {
	const struct driver_ops *ops;
	void *impl;
};

/* Creates the Docker Engine driver talking to the unix socket at sock_path.
 * Never fails because the engine is down: calls answer UNAVAILABLE then,
 * and work again when it is back. */
sbxd_code docker_driver_new(const char *sock_path, struct driver **out, struct err *e);

void driver_exec_result_fini(struct driver_exec_result *res);
/* Sets res up for a run: out and err capped at cap, merged at 2*cap,
 * exit_code -1. */
void driver_exec_result_init(struct driver_exec_result *res, size_t cap);
/* Appends a piece of stream 1 (stdout) or 2 (stderr) output to res with
 * the caps, setting res->truncated when anything is dropped. */
void driver_exec_result_add(struct driver_exec_result *res, int stream, const void *p,
    size_t n);

/* The exec stream demultiplexer (exported for unit tests and fuzzing).
 * Docker frames: 8-byte header {stream, 0, 0, 0, be32 length} then payload;
 * frames may be split across feeds at any byte. */
struct docker_demux {
	unsigned char hdr[8];
	size_t hdr_have;
	size_t body_left;
	int stream;                   /* 1 stdout, 2 stderr (0 stdin is treated as stdout) */
	int bad;                      /* set on a malformed header; further input is ignored */
	/* When set, gets every payload piece before the caps (stream 1 or 2). */
	void (*on_output)(void *arg, int stream, const void *p, size_t n);
	void *on_output_arg;
};
void docker_demux_init(struct docker_demux *dm);
/* Feeds n bytes; appends payloads to res->out/err/merged with their caps,
 * setting res->truncated when anything is dropped; res may be NULL when
 * only dm->on_output is wanted. */
void docker_demux_feed(struct docker_demux *dm, const void *p, size_t n,
    struct driver_exec_result *res);

#endif
