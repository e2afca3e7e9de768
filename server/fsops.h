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

/* Maps a client path to a workspace-relative one, written to out (outsz
 * bytes; FSOPS_PATH_MAX is enough). Relative client paths are relative to
 * /workspace. The path is folded lexically first: empty and "." components
 * are dropped, ".." removes the previous component and never climbs above
 * the start ("a/../../b" gives "b"; "/../workspace/x" gives "x"). Then an
 * absolute path must be /workspace or lie under it: "/workspace/../etc/x"
 * folds to "/etc/x" and is refused. The result has no "", "." or ".."
 * components and no leading or trailing '/', or is exactly "." (the root:
 * from "", ".", "/workspace", "/workspace/", "a/.."). An empty client path
 * means the root, like an omitted proto3 field. SBXD_INVALID_ARGUMENT for a
 * NUL byte, a path longer than FSOPS_PATH_MAX bytes, a component longer than
 * 255 bytes or a result that does not fit outsz; SBXD_UNIMPLEMENTED (the
 * message says only /workspace is reachable) for an absolute path outside
 * /workspace. out is untouched on failure. */
sbxd_code fsops_workspace_rel(const char *client_path, char *out, size_t outsz,
    struct err *e);
/* The same for a length-delimited path (a protobuf string, which may hold
 * NUL bytes: they are refused, not truncated at). Handlers should use this
 * one on decoded fields. */
sbxd_code fsops_workspace_reln(const char *client_path, size_t len, char *out,
    size_t outsz, struct err *e);

/* Opens dir (a trusted host path; a symlink at its last component is
 * refused) as a workspace root; uid/gid own files created later, (uid_t)-1
 * leaves the owner as sbxd. UNIMPLEMENTED if the kernel has no openat2.
 * On failure r->fd is -1. fsops_root_close tolerates a closed root. */
sbxd_code fsops_root_open(const char *dir, uid_t uid, gid_t gid,
    struct fsops_root *r, struct err *e);
void fsops_root_close(struct fsops_root *r);

/* Reads the regular file at rel into out (buf_init'ed by the caller, whose
 * max is the read ceiling; a larger file, or one that grows past it while
 * being read, gives SBXD_RESOURCE_EXHAUSTED saying the file's size and the
 * ceiling). Symlinks, the leaf's included, are followed as the sandbox
 * would follow them but inside the root ("/" and ".." pinned to the
 * workspace: a link to /etc/passwd means <workspace>/etc/passwd). A
 * hardlink reads the linked inode: a sandbox can only link files it can
 * already see. NOT_FOUND ("File '<rel>' not found") if missing,
 * FAILED_PRECONDITION for a directory ("'<rel>' is a directory"), FIFO or
 * other non-regular file (never blocks on one). On failure out is reset
 * (buf_reset). */
sbxd_code fsops_read_file(struct fsops_root *r, const char *rel,
    struct buf *out, struct err *e);

/* Writes (or appends) content to rel, creating missing parent directories
 * (0755, owned by uid/gid; a symlinked parent is followed inside the root;
 * an existing non-directory, or a symlink resolving to nothing, in the way
 * is FAILED_PRECONDITION). An overwrite is atomic (temporary file then
 * renameat): readers see the old or the new content, never a mix; the new
 * file gets uid/gid and the permission bits of the file it replaces, else
 * 0644; a symlink or hardlink at the leaf is replaced, never written
 * through. An append opens the leaf O_NOFOLLOW: a missing file is created
 * (0644, uid/gid), a symlink is refused; it writes through a hardlink.
 * rel naming the root ("." or "") or a directory: INVALID_ARGUMENT or
 * FAILED_PRECONDITION respectively. ENOSPC/EDQUOT give RESOURCE_EXHAUSTED
 * (an interrupted append may leave part of content written). */
sbxd_code fsops_write_file(struct fsops_root *r, const char *rel,
    const void *content, size_t len, int append, struct err *e);

#endif
