/*
 * fsops_int.h — helpers shared by the fsops_*.c files, not by other modules.
 *
 * The containment primitives (the openat2 wrapper, opening a directory or a
 * parent in the root, opening a child directory during a walk), errno
 * translation, and the temporary-file + rename machinery. Everything here
 * keeps fsops.h's rules: nothing is resolved outside the root fd, a leaf is
 * handled with *at() calls and O_NOFOLLOW, nothing that can block is opened
 * for reading. Paths called rel are workspace-relative as produced by
 * fsops_route_resolve ("." is the root).
 */
#ifndef SBXD_FSOPS_INT_H
#define SBXD_FSOPS_INT_H

#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fsops.h"

#define FSOPS_RESOLVE_TRIES 32   /* openat2 EAGAIN: a rename raced ".." */
#define FSOPS_CREATE_TRIES 8     /* O_EXCL / EEXIST races with the sandbox */
#define FSOPS_COMPONENT_MAX 255  /* NAME_MAX on every Linux file system */

/* Messages name rel as the sandbox sees it: "/workspace/<rel>", or
 * "/workspace" for the root, cut to 300 bytes to leave room for the rest:
 *	err_set(e, code, "'" FSOPS_PATHF "' is a dir", FSOPS_PATHA(rel));
 * FSOPS_PATHA evaluates rel more than once. */
#define FSOPS_PATHF "/workspace%s%.300s"
#define FSOPS_PATHA(rel) (fsops_rel_is_root(rel) ? "" : "/"), \
	(fsops_rel_is_root(rel) ? "" : (rel))

static inline int
fsops_rel_is_root(const char *rel)
{
	return rel[0] == '\0' || strcmp(rel, ".") == 0;
}

/* ---- fsops.c ---------------------------------------------------------- */

/* openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV) of path
 * from rootfd, retried on EAGAIN/EINTR; the fd, or -1 with errno set.
 * Symlinks (the leaf's too, unless flags has O_NOFOLLOW) and ".." resolve
 * with rootfd as "/". */
int fsops_resolve(int rootfd, const char *path, int flags, mode_t mode);

/* openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|
 * RESOLVE_NO_XDEV) of path (any number of components) below dirfd, retried
 * as fsops_resolve is: no symlink is followed and no mount crossed on the
 * way; the fd, or -1 with errno set. */
int fsops_open_beneath(int dirfd, const char *path, int flags);

/* openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV) of path
 * below dirfd, retried as fsops_resolve is: symlinks are followed (the
 * leaf's too, unless flags has O_NOFOLLOW) as long as they stay below
 * dirfd; one that leaves it, or a ".." above it, fails with EXDEV. */
int fsops_open_within(int dirfd, const char *path, int flags);

/* Translates errno err, met while `doing` something ("removing") to rel,
 * into e and returns the code: ENOENT NOT_FOUND ("File '<path>' not
 * found"), EEXIST ALREADY_EXISTS, ENOTEMPTY FAILED_PRECONDITION ("directory
 * not empty; use recursive"), EXDEV PERMISSION_DENIED ("path leaves the
 * workspace"), EACCES/EPERM/EROFS PERMISSION_DENIED, ENOSPC/EDQUOT/EFBIG
 * RESOURCE_EXHAUSTED, ELOOP/EISDIR/ENOTDIR/ENXIO/EBUSY FAILED_PRECONDITION,
 * ENAMETOOLONG INVALID_ARGUMENT, ENOSYS UNIMPLEMENTED, others INTERNAL. */
sbxd_code fsops_fail_errno(int err, const char *rel, const char *doing,
    struct err *e);

/* Gives fd the owner uid:gid (skipped when both are -1) and then the
 * permission bits mode. */
sbxd_code fsops_own(int fd, uid_t uid, gid_t gid, mode_t mode,
    const char *rel, struct err *e);
/* fsops_own with the root's uid/gid: for things sbxd creates. */
sbxd_code fsops_adopt(const struct fsops_root *r, int fd, mode_t mode,
    const char *rel, struct err *e);

/* FAILED_PRECONDITION ("is a directory" / "is not a regular file") unless
 * st is a regular file. */
sbxd_code fsops_require_regular(const struct stat *st, const char *rel,
    struct err *e);

/* Opens rel for reading, resolved in the root with every symlink (the
 * leaf's too) followed inside it, never blocking (a FIFO is refused, not
 * waited on); *fdp gets the fd (the caller closes it) and st its fstat.
 * A missing rel, or a parent that is a file, is NOT_FOUND; anything but a
 * regular file FAILED_PRECONDITION. On failure *fdp is -1. */
sbxd_code fsops_open_regular(const struct fsops_root *r, const char *rel,
    int *fdp, struct stat *st, struct err *e);

/* Appends fd's content to out until EOF; RESOURCE_EXHAUSTED (a message
 * about the read ceiling) when it would pass out->max. */
sbxd_code fsops_read_all(int fd, const char *rel, struct buf *out,
    struct err *e);
sbxd_code fsops_write_all(int fd, const void *content, size_t len,
    const char *rel, struct err *e);

/* Splits rel into its parent (copied into parent, psz bytes; "." for a
 * top-level name) and its leaf (pointing into rel). INVALID_ARGUMENT when
 * the leaf is "", "." or "..", i.e. for the root. */
sbxd_code fsops_split_rel(const char *rel, char *parent, size_t psz,
    const char **leaf, struct err *e);

/* Opens the directory dir (O_PATH), creating missing components like
 * mkdir -p (0755, owned by the root's uid/gid). dir is modified during the
 * call and restored. FAILED_PRECONDITION when a non-directory (or a symlink
 * to nothing) is in the way. */
sbxd_code fsops_open_parent(const struct fsops_root *r, char *dir, int *dfd,
    struct err *e);

/* Creates a fresh temporary file ".sbx-tmp-..." (0600, O_EXCL|O_NOFOLLOW)
 * in dfd; name (namesz >= 64) gets its name, *fdp a write fd. */
sbxd_code fsops_make_temp(int dfd, char *name, size_t namesz, int *fdp,
    const char *rel, struct err *e);

/* The permission bits an overwrite of dfd/leaf gives: an existing regular
 * file's, else 0644. FAILED_PRECONDITION if leaf is a directory. */
sbxd_code fsops_replace_mode(int dfd, const char *leaf, const char *rel,
    mode_t *mode, struct err *e);

/* Atomically replaces whatever non-directory is at dfd/leaf with a new file
 * holding content, owned uid:gid (-1:-1 leaves sbxd's) with permission bits
 * mode: temporary file, write, then swapped into place (renameat2
 * RENAME_EXCHANGE and unlink of the old file; see fsops.c). The temporary file
 * never survives a failure. */
sbxd_code fsops_replace_at(int dfd, const char *leaf, const char *rel,
    const void *content, size_t len, mode_t mode, uid_t uid, gid_t gid,
    struct err *e);

/* ---- fsops_ops.c ------------------------------------------------------ */

/* Splits rel (not the root) and opens its parent (O_PATH, no creation) in
 * the root; dir (FSOPS_PATH_MAX bytes) holds the parent path, *leaf points
 * into rel. A missing parent, or one that is not a directory, is NOT_FOUND
 * with the message about rel. */
sbxd_code fsops_open_at_parent(const struct fsops_root *r, const char *rel,
    char *dir, const char **leaf, int *dfd, struct err *e);

/* Opens rel as a directory for reading (fdopendir-able; symlinks followed
 * inside the root). NOT_FOUND if missing, FAILED_PRECONDITION ("is not a
 * directory") if it is something else. */
sbxd_code fsops_open_dir(const struct fsops_root *r, const char *rel, int *dfd,
    struct err *e);

/* lstat of rel (the root included): the leaf is not followed, parents are
 * resolved in the root. *exists = 0 and OK when rel (or a parent) is
 * missing or a parent is not a directory. */
sbxd_code fsops_lstat(const struct fsops_root *r, const char *rel,
    struct stat *st, int *exists, struct err *e);

/* For a walk: opens the directory name inside dirfd without following any
 * symlink (a symlinked directory is ELOOP/ENOTDIR) and without crossing a
 * mount (EXDEV); the fd (O_RDONLY, fdopendir-able), or -1 with errno. */
int fsops_open_subdir(int dirfd, const char *name);

/* Fills ent for the entry name inside the directory parent_rel ("." for
 * the root) from its lstat data st. -1 if the joined path would pass
 * FSOPS_PATH_MAX bytes (ent is then unusable), else 0. */
int fsops_entry_fill(struct fsops_entry *ent, const char *parent_rel,
    const char *name, const struct stat *st);

/* ---- fsops_match.c ---------------------------------------------------- */

/* A compiled glob pattern (syntax in fsops_match.c): its components in
 * order, "" and "." dropped and repeated "**" folded. */
struct fsops_gcomp {
	const char *s;         /* not NUL-terminated: len bytes */
	size_t len;
	int globstar;          /* the whole component is "**" */
};

struct fsops_gpat {
	char *text;            /* our copy; components point into it */
	struct fsops_gcomp *comp;
	size_t n;
	int dir_only;          /* ended in '/': names directories, never a file */
};

/* Compiles pattern into gp (zeroed first, so fsops_gpat_free is always
 * safe after). INVALID_ARGUMENT for an empty, absolute or over-long
 * (4096 bytes) pattern or a ".." component; INTERNAL when out of memory.
 * Nothing is left to free on failure. */
sbxd_code fsops_gpat_compile(const char *pattern, struct fsops_gpat *gp,
    struct err *e);
/* Frees what gp holds and zeroes it; fine on a zeroed gp. */
void fsops_gpat_free(struct fsops_gpat *gp);

/* 1 if the component pattern p (plen bytes) matches the name s (slen
 * bytes), else 0; O(plen * slen) whatever the pattern. */
int fsops_comp_match(const char *p, size_t plen, const char *s, size_t slen);

/* The path NFA: a state row has gp->n + 1 bytes, row[i] set when
 * comp[0..i) have matched the directories so far, row[n] a complete match.
 * fsops_nfa_close adds the states reached by skipping "**" components (call
 * it on the start row {1, 0, ...}); fsops_nfa_step fills `to` from `from`
 * for one more name (nlen bytes) and returns non-zero while some state
 * below n is live, i.e. while a directory of that name is worth entering. */
void fsops_nfa_close(const struct fsops_gpat *gp, uint8_t *st);
int fsops_nfa_step(const struct fsops_gpat *gp, const uint8_t *from,
    const char *name, size_t nlen, uint8_t *to);

/* grep's glob filter: NULL or "" filters nothing; a pattern with '/' is
 * compiled into *pp (*has_path set; free with fsops_gpat_free) to match
 * the path below the base; a bare one becomes *np (*has_name set),
 * pointing into glob, to match the file name. INVALID_ARGUMENT as for
 * fsops_gpat_compile. */
sbxd_code fsops_glob_filter(const char *glob, struct fsops_gpat *pp,
    struct fsops_gcomp *np, int *has_path, int *has_name, struct err *e);

#endif
