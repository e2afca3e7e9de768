/*
 * ctrfs.h — files outside /workspace (e.g. /etc/os-release, /tmp), served
 * through the container itself: the Engine API's archive endpoints carry
 * file contents as tar, built and read with libarchive; directory listing,
 * mkdir, remove and move run fixed helper commands (find, mkdir, rm, mv)
 * with the path as one argv element — never a shell string built from a
 * path. The container's own kernel view resolves symlinks, so nothing here
 * touches the host's filesystem. Paths are absolute, already folded
 * lexically (no "." or ".." components), and outside /workspace.
 *
 * Errors and messages follow fsops.h (NOT_FOUND "File '<path>' not found",
 * FAILED_PRECONDITION "'<path>' is a directory", RESOURCE_EXHAUSTED past a
 * ceiling, PERMISSION_DENIED where the sandbox user may not write).
 * Writes create files owned by uid:gid with mode 0644 and fail where the
 * sandbox user could not write (a read-only root filesystem included).
 */
#ifndef SBXD_CTRFS_H
#define SBXD_CTRFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "driver.h"
#include "err.h"
#include "fsops.h"

struct ctrfs {
	struct driver *drv;
	const char *cid;            /* the session's container */
	const char *user;           /* "uid:gid" the helper commands run as */
	uid_t uid;
	gid_t gid;
};

/* Folds an absolute client path lexically ("." dropped, ".." pops, never
 * above "/") into out; INVALID_ARGUMENT for NUL bytes, over-long paths or
 * components. */
sbxd_code ctrfs_abs_path(const char *client_path, size_t len, char *out, size_t outsz,
    struct err *e);

/* Reads a regular file (following symlinks as the container does) into out,
 * whose max is the read ceiling. */
sbxd_code ctrfs_read_file(struct ctrfs *c, const char *path, struct buf *out, struct err *e);
/* Writes content (or appends to the existing content), creating parents. */
sbxd_code ctrfs_write_file(struct ctrfs *c, const char *path, const void *content,
    size_t len, int append, size_t max_file, struct err *e);
sbxd_code ctrfs_stat(struct ctrfs *c, const char *path, struct fsops_entry *out,
    int *exists, struct err *e);
/* Like fsops_list (directories first, then by name; a file lists itself). */
sbxd_code ctrfs_list(struct ctrfs *c, const char *path, size_t max, fsops_entry_cb cb,
    void *arg, int *truncated, struct err *e);
sbxd_code ctrfs_mkdir(struct ctrfs *c, const char *path, int parents, struct err *e);
sbxd_code ctrfs_remove(struct ctrfs *c, const char *path, int recursive, struct err *e);
sbxd_code ctrfs_move(struct ctrfs *c, const char *from, const char *to, int overwrite,
    struct err *e);

/* ---- ctrfs_search.c: searches, run in the container as the sandbox user
 * over one filesystem (find -xdev: never /proc, /sys, /dev, /workspace).
 * Same contracts as fsops_glob / fsops_grep, with absolute paths in the
 * results. */
sbxd_code ctrfs_glob(struct ctrfs *c, const char *base, const char *pattern,
    size_t max, int newest_first, fsops_entry_cb cb, void *arg, int *truncated,
    struct err *e);
sbxd_code ctrfs_grep(struct ctrfs *c, const char *base, const struct fsops_grep_opts *o,
    fsops_grep_cb cb, void *arg, int *truncated, struct err *e);

#endif
