/*
 * fsops.h — workspace files on the host, contained by the kernel.
 *
 * A workspace is a host directory bind-mounted into a sandbox at /workspace;
 * code inside the sandbox controls everything in it, including symlinks,
 * hardlinks, FIFOs and renames racing with us. So no path from a client is
 * ever resolved with plain open(): the workspace root is opened once
 * (O_PATH|O_DIRECTORY) and every lookup goes through
 * openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV) for the
 * parent directory, with the leaf handled by *at() calls with O_NOFOLLOW on
 * that fd. Reads require a regular file and open with O_NONBLOCK (a planted
 * FIFO cannot hang a thread). Files and directories created here belong to
 * the sandbox's uid/gid.
 *
 * Paths given to these functions are relative to the workspace root
 * ("src/main.py"); the caller has already mapped "/workspace/..." and
 * relative client paths onto that (fsops_workspace_rel).
 */
#ifndef SBXD_FSOPS_H
#define SBXD_FSOPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

#define FSOPS_PATH_MAX 4096

struct fsops_root {
	int fd;          /* O_PATH|O_DIRECTORY of the workspace */
	uid_t uid;       /* owner for created files; (uid_t)-1 = leave as is */
	gid_t gid;
};

/* Maps a client path to a workspace-relative one: "" and "." and
 * "/workspace" give "."; "a/b" and "/workspace/a/b" give "a/b"; "." and ".."
 * components are folded lexically (never above the root). Writes the result
 * to out. SBXD_INVALID_ARGUMENT for an empty path, a NUL byte, a path longer
 * than FSOPS_PATH_MAX; SBXD_UNIMPLEMENTED (message says so) for an absolute
 * path outside /workspace. */
sbxd_code fsops_workspace_rel(const char *client_path, char *out, size_t outsz,
    struct err *e);

/* Opens dir as a workspace root. uid/gid own files created later. */
sbxd_code fsops_root_open(const char *dir, uid_t uid, gid_t gid,
    struct fsops_root *r, struct err *e);
void fsops_root_close(struct fsops_root *r);

/* Reads the regular file at rel into out (buf_init'ed by the caller, whose
 * max is the read ceiling; a larger file gives SBXD_RESOURCE_EXHAUSTED
 * saying the file's size and the ceiling). NOT_FOUND if missing,
 * FAILED_PRECONDITION for a directory or other non-regular file. */
sbxd_code fsops_read_file(struct fsops_root *r, const char *rel,
    struct buf *out, struct err *e);

/* Writes (or appends) content to rel, creating parent directories. An
 * overwrite is atomic (temporary file then renameat); a symlink at the leaf
 * is replaced, never followed. */
sbxd_code fsops_write_file(struct fsops_root *r, const char *rel,
    const void *content, size_t len, int append, struct err *e);

#endif
