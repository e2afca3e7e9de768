/*
 * runtime.h — the runtime catalog: what a session can run in.
 *
 * Three sources, looked up in this order: the runtimes of the config file
 * (config_defaults puts the five built-ins there; a `runtime = NAME IMAGE`
 * line adds or re-points one), enriched with the built-in table of
 * runtime.c (description, packages from deploy/images/runtimes.list,
 * environment, default limits); then the custom runtimes CreateRuntime
 * built, kept in the store. A lookup copies everything into a struct
 * runtime, so callers hold no lock and no pointer into shared state.
 */
#ifndef SBXD_RUNTIME_H
#define SBXD_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "server.h"

#define RUNTIME_NAME_MAX 64
#define RUNTIME_IMAGE_MAX 256
#define RUNTIME_PKGS_MAX 64          /* packages of one kind in a definition */
#define RUNTIME_PKG_MAX 214          /* npm's name limit; Debian and PyPI are shorter */
#define RUNTIME_ENV_MAX 16
#define RUNTIME_ENV_ITEM_MAX 512     /* one "K=V" */
#define RUNTIME_SETUP_MAX 16         /* setup commands */
#define RUNTIME_SETUP_ITEM_MAX 4096  /* one setup command */
#define RUNTIME_LIST_MAX 256         /* runtimes ListRuntimes reports at most */

struct runtime {
	char name[RUNTIME_NAME_MAX];
	char image[RUNTIME_IMAGE_MAX];
	char description[256];
	char packages[4096];         /* comma-separated: OS, then pip:NAME, npm:NAME */
	char work_dir[256];
	char env[RUNTIME_ENV_MAX][RUNTIME_ENV_ITEM_MAX];  /* "K=V" */
	int nenv;
	int64_t memory_bytes;        /* defaults, already within the config's ceilings */
	int64_t nano_cpus;
	int64_t pids_limit;
	uint64_t exec_timeout_ms;
	char network_mode[64];
	int writable_rootfs;         /* the config's readonly_rootfs does not apply */
	int isolation;               /* its sessions' default (isolation.h) */
	char egress[1024];           /* its sessions' default egress allowlist (one
	                                a line; "" = network none) */
	char build_command[320];     /* how to build the image when it is missing */
	int custom;                  /* made by CreateRuntime */
};

/* What CreateRuntime asks for; the handler has validated every field
 * (runtime_check_def) before runtime_create sees it. Strings borrowed. */
struct runtime_def {
	const char *name;
	const char *base;            /* a runtime name or a local image */
	const char *const *os_pkgs;
	size_t nos;
	const char *const *pip_pkgs;
	size_t npip;
	const char *const *npm_pkgs;
	size_t nnpm;
	const char *const *setup;
	size_t nsetup;
	const char *const *env;      /* "K=V" */
	size_t nenv;
	const char *work_dir;        /* "" = the base's */
};

/* Fills *out with the runtime called name: SBXD_NOT_FOUND (naming
 * ListRuntimes) when there is none. */
sbxd_code runtime_get(struct server *s, const char *name, struct runtime *out,
    struct err *e);
/* Every runtime: config and built-in ones first, then custom ones by name.
 * *out is the caller's to free() (also on failure, when not NULL). */
sbxd_code runtime_list(struct server *s, struct runtime **out, int *n, struct err *e);
/* *ready = 1 when rt's image exists in the engine. */
sbxd_code runtime_ready(struct server *s, const struct runtime *rt, int *ready,
    struct err *e);
/* Logs at start which runtimes are ready and which need building. */
void runtime_log_readiness(struct server *s);

/* ---- custom runtimes (runtime_build.c) */

/* Checks every field of d against the grammars runtime_build.c relies on
 * (Debian, PEP 508 and npm package names; env keys; an absolute work dir;
 * setup commands free of NUL and bounded). SBXD_INVALID_ARGUMENT naming
 * the first bad field. */
sbxd_code runtime_check_def(const struct runtime_def *d, struct err *e);
/* Builds (or finds cached) the image of d and records the runtime. The
 * build log, bounded and noting truncation, is appended to log.
 * ALREADY_EXISTS when d->name names another runtime or a custom one with
 * a different definition; NOT_FOUND for an unknown base runtime;
 * FAILED_PRECONDITION when the base image is absent (naming its build
 * command) or a build step fails (quoting its output). */
sbxd_code runtime_create(struct server *s, const struct runtime_def *d,
    struct runtime *out, struct buf *log, struct err *e);
/* Fills *out from a stored custom runtime's canonical JSON definition. */
sbxd_code runtime_from_stored(struct server *s, const char *name, const char *image,
    const char *definition, struct runtime *out, struct err *e);

#endif
