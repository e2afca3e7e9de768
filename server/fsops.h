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
 * relative client paths onto that (fsops_route_abs, fsops_route_resolve).
 */
#ifndef SBXD_FSOPS_H
#define SBXD_FSOPS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

#define FSOPS_PATH_MAX 4096

/* sbx's own temporary files in a workspace: a write's (swapped into place
 * when done) and an upload's. Ls, Glob and Grep never show these names;
 * those left by a crash are removed after the next start. */
#define FSOPS_TEMP_PREFIX ".sbx-tmp-"
#define FSOPS_UPLOAD_PREFIX ".sbx-upload-"

static inline int
fsops_is_own_temp(const char *name)
{
	return strncmp(name, FSOPS_TEMP_PREFIX, sizeof(FSOPS_TEMP_PREFIX) - 1) == 0 ||
	    strncmp(name, FSOPS_UPLOAD_PREFIX, sizeof(FSOPS_UPLOAD_PREFIX) - 1) == 0;
}

struct fsops_root {
	int fd;          /* O_PATH|O_DIRECTORY of the workspace */
	uid_t uid;       /* owner for created files; (uid_t)-1 = leave as is */
	gid_t gid;
};

/* Where a client path leads, in two steps (fsops_route.c).
 *
 * fsops_route_abs checks client_path (NUL bytes, FSOPS_PATH_MAX, 255-byte
 * components: SBXD_INVALID_ARGUMENT) and writes its absolute container
 * form to abs (abssz >= len + 12): relative paths start at /workspace,
 * empty and "." components are dropped, ".." is kept (only a leading one
 * at "/" goes) for the walk to climb as the kernel would. *starts_in_ws
 * says whether abs is /workspace or under it: only then is step 2 needed;
 * otherwise abs is a container path as it stands.
 *
 * fsops_route_resolve resolves such an abs against the workspace root r
 * as the sandbox's kernel would: ".." climbs physically (from /workspace to
 * "/"), symlinks in directory components (and in the last one when
 * follow_last) are followed, an absolute target being a container path.
 * On SBXD_OK *ws is 1 and out holds the workspace-relative path (no
 * "", "." or ".." component, no leading or trailing '/'; "." for the root), or *ws is 0 and out
 * holds the absolute container path the walk reached outside the workspace
 * (the rest unresolved: the container resolves it). A part that does not
 * exist ends the symlink walk, the rest is then folded lexically (what
 * "mkdir -p" makes of it). More than 40 symlinks: FAILED_PRECONDITION;
 * too long once expanded: INVALID_ARGUMENT. Only routing is decided here:
 * the file is then opened under fsops' own containment. */
sbxd_code fsops_route_abs(const char *client_path, size_t len, char *abs, size_t abssz,
    int *starts_in_ws, struct err *e);
sbxd_code fsops_route_resolve(const struct fsops_root *r, const char *abs, int follow_last,
    char *out, size_t outsz, int *ws, struct err *e);

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
 * already see. NOT_FOUND ("File '/workspace/<rel>' not found") if
 * missing, FAILED_PRECONDITION for a directory ("'/workspace/<rel>' is a
 * directory"), FIFO or
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

/* ---------------------------------------------------------------- more file operations
 * (fsops_ops.c; edit and uploads in fsops_edit.c). Same containment rules as above: parents resolved with
 * openat2 in-root, leaves handled with *at() calls on the parent fd,
 * nothing ever followed out of the workspace, nothing that can block (FIFO,
 * device) ever opened for reading. Messages name the container path
 * ("/workspace/<rel>"), never the host's. */

struct fsops_entry {
	char name[256];             /* last component ("." entries never appear) */
	char rel[FSOPS_PATH_MAX + 1];/* workspace-relative path */
	int is_dir;
	int is_symlink;             /* the entry itself is a symlink (not followed) */
	uint64_t size;
	uint32_t mode;              /* st_mode (type and permission bits) */
	int64_t mtime_ms;
};

/* Calls for each entry; return non-zero to stop early (not an error). */
typedef int (*fsops_entry_cb)(void *arg, const struct fsops_entry *ent);

/* Stats rel without following a symlink at the leaf (lstat semantics);
 * *exists = 0 and SBXD_OK when it is missing. */
sbxd_code fsops_stat(struct fsops_root *r, const char *rel, struct fsops_entry *out,
    int *exists, struct err *e);
/* Lists a directory's immediate children — directories first, then by
 * name (bytewise) — or, when rel is a file, that one file. At most max
 * entries (*truncated set when more exist). NOT_FOUND if rel is missing. */
sbxd_code fsops_list(struct fsops_root *r, const char *rel, size_t max,
    fsops_entry_cb cb, void *arg, int *truncated, struct err *e);
/* Creates a directory (and, with parents, missing parents; an existing
 * directory is then OK). ALREADY_EXISTS without parents when it exists. */
sbxd_code fsops_mkdir(struct fsops_root *r, const char *rel, int parents, struct err *e);
/* Removes a file, symlink or empty directory; with recursive, a whole tree
 * (never following symlinks, never crossing mounts). The root itself
 * cannot be removed (INVALID_ARGUMENT). NOT_FOUND if missing. */
sbxd_code fsops_remove(struct fsops_root *r, const char *rel, int recursive, struct err *e);
/* Renames from to to, creating to's parents. Without overwrite an existing
 * destination is ALREADY_EXISTS (renameat2 RENAME_NOREPLACE). */
sbxd_code fsops_move(struct fsops_root *r, const char *from, const char *to,
    int overwrite, struct err *e);
/* Reads up to maxlen bytes of a regular file from offset into out
 * (buf_init'ed by the caller with max >= maxlen) with pread; *size gets
 * the file's size. An offset at or past the end reads nothing (OK). */
sbxd_code fsops_read_range(struct fsops_root *r, const char *rel, uint64_t offset,
    size_t maxlen, struct buf *out, uint64_t *size, struct err *e);
/* Replaces old (oldlen > 0 bytes) with new in a regular file of at most
 * max_file bytes, atomically (temporary file + rename, mode kept).
 * Without replace_all, old must occur exactly once. *occurrences gets the
 * number replaced. Errors: NOT_FOUND "File '<path>' not found";
 * FAILED_PRECONDITION "String '<old>' not found in file" or "String
 * '<old>' found <n> times. Use replace_all=True to replace all, or provide
 * more context." (old shown as given, cut to 200 bytes); INVALID_ARGUMENT
 * for an empty old; RESOURCE_EXHAUSTED when the file or the result passes
 * max_file. */
sbxd_code fsops_edit(struct fsops_root *r, const char *rel, const void *old, size_t oldlen,
    const void *new_, size_t newlen, int replace_all, size_t max_file,
    uint64_t *occurrences, struct err *e);

/* The text part of an edit, for callers that read and write the file
 * themselves (paths outside /workspace): dst (buf_init'ed; its max is the
 * ceiling) gets src with old replaced as fsops_edit would, with the same
 * errors; shown names the file in messages. */
sbxd_code fsops_edit_text(const struct buf *src, const void *old, size_t oldlen,
    const void *new_, size_t newlen, int replace_all, struct buf *dst,
    uint64_t *occurrences, const char *shown, struct err *e);

/* Chunked uploads: a hidden temporary file in the destination's directory
 * (created with its parents), written at offsets, then checked and renamed
 * into place. tmpname (256 bytes) identifies it between calls. */
sbxd_code fsops_upload_open(struct fsops_root *r, const char *rel, char tmpname[256],
    struct err *e);
sbxd_code fsops_upload_write(struct fsops_root *r, const char *rel, const char *tmpname,
    uint64_t offset, const void *data, size_t len, struct err *e);
/* Checks the temporary file's size equals size and its SHA-256 equals
 * sha256 (32 bytes; NULL = no check), then renames it over rel. On a
 * mismatch the temporary file is removed and DATA_LOSS says which check
 * failed. */
sbxd_code fsops_upload_finish(struct fsops_root *r, const char *rel, const char *tmpname,
    uint64_t size, const uint8_t *sha256, struct err *e);
void fsops_upload_abort(struct fsops_root *r, const char *rel, const char *tmpname);

/* ---------------------------------------------------------------- search (fsops_search.c)
 * Both walk the tree under base with openat/fdopendir from in-root fds,
 * never following a symlinked directory, never crossing a mount, bounded
 * in depth (FSOPS_WALK_DEPTH) and in entries visited (FSOPS_WALK_MAX;
 * past it the result is truncated, not an error). */

#define FSOPS_WALK_DEPTH 64
#define FSOPS_WALK_MAX 200000

/* Files (not directories) under base whose path relative to base matches
 * pattern: '*' and '?' within one component, '[...]' classes, '**' as a
 * whole component matching zero or more directories; no brace expansion.
 * Results in path order, or newest first with newest_first; at most max
 * (*truncated set when more matched). ent->rel stays workspace-relative. */
sbxd_code fsops_glob(struct fsops_root *r, const char *base, const char *pattern,
    size_t max, int newest_first, fsops_entry_cb cb, void *arg, int *truncated,
    struct err *e);

enum fsops_grep_mode { FSOPS_GREP_CONTENT = 0, FSOPS_GREP_FILES = 1, FSOPS_GREP_COUNT = 2 };

struct fsops_grep_opts {
	const char *pattern;        /* PCRE2 (Perl-compatible), UTF-8 not required */
	int case_insensitive;
	const char *glob;           /* NULL/"" = all; a bare pattern matches the file
	                               name, one with '/' the path relative to base */
	int include_hidden;         /* else skip dot-files/dirs and .git, node_modules,
	                               __pycache__, .venv, venv, .mypy_cache,
	                               .pytest_cache, .ruff_cache, .tox, dist, build, .eggs
	                               (a base that is itself a file is searched anyway) */
	enum fsops_grep_mode mode;
	size_t max_results;         /* matches (content), files, or files with counts */
	size_t max_file;            /* larger files are skipped */
};

/* One result: in CONTENT mode a matching line (line_number from 1, the
 * line without its '\n'); in FILES mode the file (line NULL); in COUNT
 * mode the file with count. Return non-zero to stop. */
typedef int (*fsops_grep_cb)(void *arg, const char *rel, uint64_t line_number,
    const char *line, size_t linelen, uint64_t count);

/* Searches base (a directory, or one file) for lines matching o->pattern.
 * Binary files (a NUL in the first 8 KiB) are skipped. An invalid pattern
 * is INVALID_ARGUMENT "Invalid regex pattern: <pcre2 message> at offset
 * <n>"; matching is time-bounded (a PCRE2 callout checks the clock: 250 ms
 * a line, 30 s a search; lines over the budget count as non-matches and set
 * *truncated) so no pattern can stall a worker for long. */
sbxd_code fsops_grep(struct fsops_root *r, const char *base, const struct fsops_grep_opts *o,
    fsops_grep_cb cb, void *arg, int *truncated, struct err *e);

#endif
