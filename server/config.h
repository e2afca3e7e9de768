/*
 * config.h — sbxd's settings: defaults, then the config file, then flags.
 *
 * The file is "key = value" lines; '#' starts a comment; every key is
 * documented in deploy/sbxd.conf.example. An unknown key or a bad value is
 * an error naming the file and line — a typo never silently keeps a
 * default. Service keys may also come from the SBXD_SERVICE_KEY environment
 * variable (comma-separated) so they need not sit in a file.
 */
#ifndef SBXD_CONFIG_H
#define SBXD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "isolation.h"

#define CONFIG_PATH_MAX 1024
#define CONFIG_MAX_KEYS 8
#define CONFIG_KEY_MAX 256
#define CONFIG_MAX_RUNTIMES 16

#define CONFIG_EGRESS_MAX 1024

struct config_runtime {
	char name[64];
	char image[256];
	char build_command[320];
	int pool_size;               /* warm containers kept (pool.c); set by config_finish */
	int writable_rootfs;         /* "writable_rootfs" on its runtime line: the image's
	                                root filesystem stays writable, no home tmpfs */
	int isolation;               /* "isolation=NAME" on its runtime line, else the
	                                config's isolation (set by config_finish) */
	char egress[CONFIG_EGRESS_MAX]; /* "egress=..." on its runtime line: its sessions'
	                                allowlist when they give none (egress_parse's
	                                form, one a line); "" = network none */
	int pool_iso[ISOLATION_N];   /* warm containers per isolation; pool_size is
	                                pool_iso[isolation] (set by config_finish) */
};

struct config {
	char listen[CONFIG_PATH_MAX];        /* rep socket URL */
	char tls_cert[CONFIG_PATH_MAX];      /* PEM cert+chain; with tls_key enables tls+tcp:// */
	char tls_key[CONFIG_PATH_MAX];
	char state_dir[CONFIG_PATH_MAX];
	char db_path[CONFIG_PATH_MAX];       /* "" = state_dir/sbx.db */
	char workspace_root[CONFIG_PATH_MAX];/* "" = state_dir/workspaces */
	char key_file[CONFIG_PATH_MAX];      /* "" = state_dir/service.key */
	char docker_socket[CONFIG_PATH_MAX];
	char default_runtime[64];
	char service_keys[CONFIG_MAX_KEYS][CONFIG_KEY_MAX];
	int nservice_keys;
	struct config_runtime runtimes[CONFIG_MAX_RUNTIMES];
	int nruntimes;
	int log_level;
	int workers;                 /* threads for short calls (files, sessions, logs) */
	uint64_t workspace_quota;    /* bytes of each user's workspace image; 0 = unbounded */
	int command_workers;         /* threads for long calls (commands, waits, engine work) */
	int command_calls_per_credential; /* long calls one credential may have running */
	int command_calls_per_session;    /* long calls on one session at once */
	int contexts;                /* requests in flight at once */
	int max_connections;         /* per listening socket (connlimit.h) */
	int max_connections_per_address;
	uint64_t drain_ms;           /* shutdown: calls in flight get this long */
	size_t max_message_bytes;    /* listener cap on one request */
	size_t max_output_bytes;     /* per stream of one Execute */
	size_t read_max_bytes;       /* one Read/ReadBytes */
	int max_processes_per_session; /* running background processes */
	size_t process_output_max_bytes; /* unread output kept per process */
	uint64_t process_wait_max_ms; /* one WaitProcess call */
	uint64_t exec_timeout_default_ms;
	uint64_t exec_timeout_max_ms;
	uid_t sandbox_uid;
	gid_t sandbox_gid;
	int64_t memory_bytes;        /* per-session defaults ... */
	int64_t nano_cpus;
	int64_t pids_limit;
	int64_t nofile;
	int64_t max_memory_bytes;    /* ... and ceilings a request may ask up to */
	int64_t max_nano_cpus;
	int64_t max_pids_limit;
	uint64_t idle_timeout_ms;
	uint64_t reap_interval_ms;   /* how often idle sessions are stopped; 0 = never */
	int max_live_sessions;       /* running containers at once; 0 = no ceiling */
	int max_live_sessions_per_user;
	int snapshot_max_per_user;   /* snapshots a user may keep (snapshot.c) ... */
	int64_t snapshot_max_bytes_per_user; /* ... and their bytes together */
	char network_mode[64];
	int readonly_rootfs;         /* a read-only root, with tmpfs_home at sandbox_home */
	int agent;                   /* give each session an in-sandbox agent */
	char agent_binary[CONFIG_PATH_MAX]; /* "" = sbx-agent beside sbxd */
	char tmpfs_tmp[128];         /* mount options for a /tmp tmpfs; "" = none */
	char tmpfs_home[128];        /* ... for a tmpfs at sandbox_home; "" = none */
	char sandbox_home[256];      /* the sandbox user's home in the images */
	char tmpfs_tmp_mount[192];   /* tmpfs_tmp with mode=1777, and ... */
	char tmpfs_home_mount[192];  /* tmpfs_home with uid, gid, mode=0755 of the
	                                sandbox user unless given; set by config_finish */
	char log_listen[CONFIG_PATH_MAX]; /* pub socket of the log bus; empty = none */
	char metrics_listen[128];    /* HTTP health and metrics, HOST:PORT; "" or "off" = none */
	int log_ring_events;         /* events a session's ring keeps ... */
	size_t log_ring_bytes;       /* ... and their bytes at most */
	size_t log_total_bytes;      /* all rings together, about */
	int log_sendbuf;             /* pub queue per subscriber, in messages */
	char pool_dir[CONFIG_PATH_MAX];  /* warm-pool slots; "" = state_dir/pool */
	int pool_size;               /* warm containers of the default runtime; 0 = off */
	struct {                     /* "pool_size = NAME N [ISOLATION]" lines */
		char name[64];
		int n;
		int isolation;       /* -1 = the runtime's */
	} pool_sizes[CONFIG_MAX_RUNTIMES];
	int npool_sizes;
	int isolation;               /* sessions' default (enum isolation) */
	unsigned isolations_allowed; /* bit (1 << isolation) for each one sessions may have */
	char gvisor_runtime[64];     /* the engine's OCI runtime name for gvisor */
	/* egress (egress.h): the kept proxy's image; the IPv4 range (a /16
	 * to a /24) cut into one /29 network per session with an allowlist;
	 * a hosts file the proxy resolves names with before DNS ("" = the
	 * image's /etc/hosts) */
	char egress_proxy_image[256];
	char egress_subnets[32];
	char egress_hosts_file[CONFIG_PATH_MAX];
	char egress_out_subnet[32];  /* the proxy's way out (a plain bridge
	                                network): its range, "" = the engine's */
	uint64_t egress_log_max_bytes; /* the proxy's access log is rotated past
	                                  this (egress_log.c); one old file kept */
};

/* Fills c with the built-in defaults. */
void config_defaults(struct config *c);
/* Reads path over c. SBXD_NOT_FOUND if missing, SBXD_INVALID_ARGUMENT
 * (message "<path>:<line>: ...") for a bad line. */
sbxd_code config_load_file(struct config *c, const char *path, struct err *e);
/* Sets one key as a config line would (flags use this too). */
sbxd_code config_set(struct config *c, const char *key, const char *value, struct err *e);
/* Fills derived paths, adds SBXD_SERVICE_KEY keys, checks consistency. */
sbxd_code config_finish(struct config *c, struct err *e);
/* The runtime called name, or NULL. */
const struct config_runtime *config_runtime(const struct config *c, const char *name);

#endif
