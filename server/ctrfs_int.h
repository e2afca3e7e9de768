/*
 * ctrfs_int.h — what ctrfs.c and ctrfs_cmd.c share; nothing else includes
 * it. ctrfs.c owns path folding and the archive side (read, write, stat
 * through the engine); ctrfs_cmd.c owns the helper commands run in the
 * container as the sandbox user: running them, turning their stderr and
 * exit status into sbxd codes, and the find-based stat the engine cannot
 * answer. Paths here are absolute and already folded by ctrfs_abs_path.
 */
#ifndef SBXD_CTRFS_INT_H
#define SBXD_CTRFS_INT_H

#include <stddef.h>

#include "ctrfs.h"
#include "driver.h"
#include "err.h"
#include "fsops.h"

#define CTRFS_PROBE_OUT		(64u << 10)	/* probe and error output */
#define CTRFS_COMPONENT_MAX	255
#define CTRFS_ERRTEXT		200	/* helper stderr quoted in messages */

/* The parent of a folded absolute path into dst ("/" for "/x"); -1 for
 * "/" itself or when dst (n bytes) is too small. */
int ctrfs_parent_of(const char *path, char *dst, size_t n);
/* The last component of a folded absolute path, pointing into path; "/"
 * for "/" itself. */
const char *ctrfs_base_of(const char *path);

/* Runs argv in the container as the sandbox user (cwd "/"), keeping at
 * most max_output bytes of each stream; res is the caller's to
 * driver_exec_result_fini whatever happens. A timeout is
 * DEADLINE_EXCEEDED; a non-zero exit is left in res for the caller. */
sbxd_code ctrfs_run(struct ctrfs *c, const char *const *argv,
    size_t max_output, struct driver_exec_result *res, struct err *e);
/* ctrfs_run feeding the command in_len bytes of in on stdin, then EOF
 * (in NULL: none). UNIMPLEMENTED when the driver cannot feed stdin. */
sbxd_code ctrfs_run_stdin(struct ctrfs *c, const char *const *argv,
    const void *in, size_t in_len, size_t max_output,
    struct driver_exec_result *res, struct err *e);
/* A helper's stderr for a message into dst (n bytes): one line, printable
 * ASCII, bounded; "exit status N" when stderr is empty. */
void ctrfs_errtext(const struct driver_exec_result *res, char *dst, size_t n);
/* Maps a failed helper (doing something to path) to a code by its stderr:
 * NOT_FOUND, PERMISSION_DENIED, ALREADY_EXISTS, RESOURCE_EXHAUSTED, else
 * FAILED_PRECONDITION. Always sets e. */
sbxd_code ctrfs_helper_fail(const struct driver_exec_result *res,
    const char *doing, const char *path, struct err *e);
/* Maps a failed mkdir -p of path's parents: a file in the way is
 * FAILED_PRECONDITION, not ALREADY_EXISTS; else as ctrfs_helper_fail. */
sbxd_code ctrfs_parents_fail(const struct driver_exec_result *res,
    const char *path, struct err *e);
/* Stats path inside the container with find (no symlink followed),
 * seeing the container's own mounts. Found: out filled, *exists set to 1.
 * A missing path is SBXD_OK with *exists untouched (callers pre-set 0). */
sbxd_code ctrfs_stat_exec(struct ctrfs *c, const char *path,
    struct fsops_entry *out, int *exists, struct err *e);

#endif
