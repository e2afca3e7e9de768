/*
 * fsops.c — workspace files on the host, contained by the kernel (see
 * fsops.h).
 *
 * Everything under the workspace root is controlled by the sandbox, which
 * may rewrite it while we work. So every lookup starts at the root fd and
 * goes through openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS|
 * RESOLVE_NO_XDEV): symlinks and ".." are resolved as if the root were "/",
 * which is exactly what the same path means inside the container, and
 * nothing resolves outside it however the tree changes under us. Names we
 * create or replace (the leaf, each new parent directory) are handled with
 * *at() calls on a directory fd obtained that way, with O_NOFOLLOW or
 * O_EXCL, so a symlink planted at the leaf is never followed by a write.
 * Overwrites go through a temporary file swapped into place (atomic for
 * readers; a hardlink at the leaf is replaced, not written through). errno
 * is translated into sbxd codes here and nowhere else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fsops.h"
#include "fsops_int.h"

#define RESOLVE_FLAGS (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
#define BENEATH_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | \
	RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
#define READ_CHUNK 32768
#define SHOWN_MAX 330        /* "/workspace/" and a path cut to 300 bytes */
#define PATHF FSOPS_PATHF
#define PATHA FSOPS_PATHA

/* ---- errno at the edge ------------------------------------------------- */

/* Translates errno err, met while `doing` something to the path shown
 * (already in the form a message shows it), into e. */
static sbxd_code
errno_msg(int err, const char *shown, const char *doing, struct err *e)
{
	switch (err) {
	case ENOENT:
		return err_set(e, SBXD_NOT_FOUND, "File '%s' not found", shown);
	case EEXIST:
		return err_set(e, SBXD_ALREADY_EXISTS, "'%s' already exists",
		    shown);
	case ENOTEMPTY:
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "'%s': directory not empty; use recursive", shown);
	case EACCES:
	case EPERM:
	case EROFS:
		return err_set(e, SBXD_PERMISSION_DENIED,
		    "permission denied %s '%s': %s", doing, shown,
		    strerror(err));
	case EXDEV:
		return err_set(e, SBXD_PERMISSION_DENIED,
		    "'%s': path leaves the workspace", shown);
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return err_set(e, SBXD_RESOURCE_EXHAUSTED,
		    "%s '%s': %s; free some space in the workspace", doing,
		    shown, strerror(err));
	case ELOOP:
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "'%s': too many levels of symbolic links", shown);
	case EISDIR:
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "'%s' is a directory", shown);
	case ENOTDIR:
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "a component of '%s' is not a directory", shown);
	case EBUSY:
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "'%s' is in use (a mount point?)", shown);
	case ENXIO:
	case ENODEV:
	case ETXTBSY:
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "'%s' is not a regular file", shown);
	case ENAMETOOLONG:
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "'%s': file name too long", shown);
	case ENOSYS:
		return err_set(e, SBXD_UNIMPLEMENTED,
		    "openat2 is not available: sbxd needs Linux 5.6 or later");
	default:
		return err_set(e, SBXD_INTERNAL, "%s '%s': %s", doing, shown,
		    strerror(err));
	}
}

sbxd_code
fsops_fail_errno(int err, const char *rel, const char *doing, struct err *e)
{
	char shown[SHOWN_MAX];

	snprintf(shown, sizeof(shown), PATHF, PATHA(rel));
	return errno_msg(err, shown, doing, e);
}

/* openat2, retried while it fails with EAGAIN (a rename raced "..") or
 * EINTR; -1 and errno on failure. */
static int
openat2_retry(int dirfd, const char *path, const struct open_how *how)
{
	long fd = -1;

	for (int i = 0; i < FSOPS_RESOLVE_TRIES; i++) {
		fd = syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
		if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
			break;
	}
	return (int)fd;
}

/* openat2 from the root with containment; -1 and errno on failure. */
int
fsops_resolve(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_FLAGS,
	};

	return openat2_retry(rootfd, path, &how);
}

int
fsops_open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = { .flags = (uint64_t)flags, .resolve = BENEATH_RESOLVE };

	return openat2_retry(dirfd, path, &how);
}

int
fsops_open_within(int dirfd, const char *path, int flags)
{
	struct open_how how = { .flags = (uint64_t)flags,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };

	return openat2_retry(dirfd, path, &how);
}

/* Owner, then mode (a chown clears set-id bits); uid and gid -1 leave
 * the owner. */
sbxd_code
fsops_own(int fd, uid_t uid, gid_t gid, mode_t mode, const char *rel,
    struct err *e)
{
	if (uid != (uid_t)-1 || gid != (gid_t)-1) {
		if (fchown(fd, uid, gid) == -1)
			return fsops_fail_errno(errno, rel,
			    "setting the owner of", e);
	}
	if (fchmod(fd, mode) == -1)
		return fsops_fail_errno(errno, rel, "setting the mode of", e);
	return SBXD_OK;
}

/* Owner and mode for something we created; a uid of -1 leaves them. */
sbxd_code
fsops_adopt(const struct fsops_root *r, int fd, mode_t mode, const char *rel,
    struct err *e)
{
	return fsops_own(fd, r->uid, r->gid, mode, rel, e);
}

/* ---- the root ------------------------------------------------------------ */

sbxd_code
fsops_root_open(const char *dir, uid_t uid, gid_t gid, struct fsops_root *r,
    struct err *e)
{
	int fd, probe;

	r->fd = -1;
	r->uid = uid;
	r->gid = gid;
	fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		errno_msg(errno, dir, "opening workspace", e);
		return err_wrap(e, "opening the workspace root: ");
	}
	probe = fsops_resolve(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (probe == -1) {
		errno_msg(errno, dir, "opening workspace", e);
		close(fd);
		return err_wrap(e, "opening the workspace root: ");
	}
	close(probe);
	r->fd = fd;
	return SBXD_OK;
}

void
fsops_root_close(struct fsops_root *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* ---- reading ------------------------------------------------------------- */

/* Appends fd's content to out, refusing to pass out->max even if the file
 * grows after the size check. */
sbxd_code
fsops_read_all(int fd, const char *rel, struct buf *out, struct err *e)
{
	char chunk[READ_CHUNK];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			return SBXD_OK;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return fsops_fail_errno(errno, rel, "reading", e);
		}
		switch (buf_add(out, chunk, (size_t)n)) {
		case SBXD_OK:
			break;
		case SBXD_RESOURCE_EXHAUSTED:
			return err_set(e, SBXD_RESOURCE_EXHAUSTED,
			    "File '" PATHF "' grew past the read ceiling of %zu "
			    "bytes while being read; use ReadBytes/Download "
			    "with an offset", PATHA(rel), out->max);
		default:
			return err_set(e, SBXD_INTERNAL,
			    "reading '" PATHF "': out of memory", PATHA(rel));
		}
	}
}

/* FAILED_PRECONDITION unless st is a regular file. */
sbxd_code
fsops_require_regular(const struct stat *st, const char *rel, struct err *e)
{
	if (S_ISREG(st->st_mode))
		return SBXD_OK;
	if (S_ISDIR(st->st_mode))
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "'" PATHF "' is a directory", PATHA(rel));
	return err_set(e, SBXD_FAILED_PRECONDITION,
	    "'" PATHF "' is not a regular file", PATHA(rel));
}

/*
 * The whole path, leaf included, is resolved in the root: a symlink at the
 * leaf is followed the way the sandbox itself would follow it, with "/" and
 * ".." pinned to the workspace, so it can reach another workspace file but
 * never a host file. O_NONBLOCK makes opening a planted FIFO return at once;
 * fstat then refuses it.
 */
sbxd_code
fsops_open_regular(const struct fsops_root *r, const char *rel, int *fdp,
    struct stat *st, struct err *e)
{
	sbxd_code rv;
	int fd;

	*fdp = -1;
	fd = fsops_resolve(r->fd, rel,
	    O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
	if (fd == -1)
		/* "a/b" with a a file: to a reader, b simply is not there */
		return fsops_fail_errno(errno == ENOTDIR ? ENOENT : errno, rel,
		    "opening", e);
	if (fstat(fd, st) == -1)
		rv = fsops_fail_errno(errno, rel, "reading", e);
	else
		rv = fsops_require_regular(st, rel, e);
	if (rv != SBXD_OK)
		close(fd);
	else
		*fdp = fd;
	return rv;
}

sbxd_code
fsops_read_file(struct fsops_root *r, const char *rel, struct buf *out,
    struct err *e)
{
	struct stat st;
	int fd = -1;
	sbxd_code rv;

	if ((rv = fsops_open_regular(r, rel, &fd, &st, e)) != SBXD_OK)
		goto out;
	if ((uintmax_t)st.st_size > out->max - out->len) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED,
		    "File '" PATHF "' is %jd bytes, over the read ceiling of %zu "
		    "bytes; use ReadBytes/Download with an offset", PATHA(rel),
		    (intmax_t)st.st_size, out->max);
		goto out;
	}
	rv = fsops_read_all(fd, rel, out, e);
out:
	if (fd != -1)
		close(fd);
	if (rv != SBXD_OK)
		buf_reset(out);
	return rv;
}

/* ---- parent directories -------------------------------------------------- */

/* Splits rel into a parent (copied into parent) and a leaf (pointing into
 * rel). The leaf must name an entry: not "", "." or "..". */
sbxd_code
fsops_split_rel(const char *rel, char *parent, size_t psz, const char **leaf,
    struct err *e)
{
	size_t len = strnlen(rel, psz);
	const char *slash;

	if (len >= psz)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "path is longer than %zu bytes", psz - 1);
	slash = strrchr(rel, '/');
	*leaf = slash ? slash + 1 : rel;
	if (**leaf == '\0' || strcmp(*leaf, ".") == 0)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "'" PATHF "' names a directory, not a file: give a file "
		    "path such as 'notes.txt'", PATHA(rel));
	if (strcmp(*leaf, "..") == 0)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "'" PATHF "' does not name a file", PATHA(rel));
	if (slash == NULL || slash == rel) {
		strcpy(parent, ".");
	} else {
		memcpy(parent, rel, (size_t)(slash - rel));
		parent[slash - rel] = '\0';
	}
	return SBXD_OK;
}

/* The parent of a write could not be opened for errno err. */
static sbxd_code
parent_fail(int err, const char *dir, struct err *e)
{
	if (err == ENOTDIR || err == ENOENT || err == EEXIST)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "'" PATHF "' exists and is not a directory (or is a symlink "
		    "to nothing)", PATHA(dir));
	return fsops_fail_errno(err, dir, "opening directory", e);
}

/* Makes one missing directory prefix (its last component comp) inside
 * prevfd, the already-resolved directory above it; *next gets its fd. An
 * entry that exists but does not resolve to a directory is refused. */
static sbxd_code
make_step(const struct fsops_root *r, int prevfd, const char *prefix,
    const char *comp, int *next, struct err *e)
{
	sbxd_code rv;
	int fd, made = 0;

	for (int i = 0; i < FSOPS_CREATE_TRIES && !made; i++) {
		fd = fsops_resolve(r->fd, prefix,
		    O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (fd >= 0) {
			*next = fd;
			return SBXD_OK;
		}
		if (errno != ENOENT)
			return parent_fail(errno, prefix, e);
		if (mkdirat(prevfd, comp, 0755) == 0)
			made = 1;
		else if (errno != EEXIST)
			return fsops_fail_errno(errno, prefix,
			    "creating directory", e);
		/* EEXIST yet unresolvable: a dangling symlink, or a race */
	}
	if (!made)
		return parent_fail(EEXIST, prefix, e);
	fd = openat(prevfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return parent_fail(errno, prefix, e);
	if ((rv = fsops_adopt(r, fd, 0755, prefix, e)) != SBXD_OK) {
		close(fd);
		return rv;
	}
	*next = fd;
	return SBXD_OK;
}

/* mkdir -p of dir (modified in place, restored), one component at a time,
 * each prefix resolved from the root; *dfd gets the last directory. */
static sbxd_code
make_parents(const struct fsops_root *r, char *dir, int *dfd, struct err *e)
{
	char *p = dir, *end, save;
	int cur, next = -1;
	sbxd_code rv = SBXD_INTERNAL;

	cur = fsops_resolve(r->fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (cur == -1)
		return fsops_fail_errno(errno, ".", "opening directory", e);
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = p + strcspn(p, "/");
		save = *end;
		*end = '\0';
		rv = make_step(r, cur, dir, p, &next, e);
		*end = save;
		if (rv != SBXD_OK)
			goto out;
		close(cur);
		cur = next;
		p = end;
	}
	*dfd = cur;
	cur = -1;
	rv = SBXD_OK;
out:
	if (cur != -1)
		close(cur);
	return rv;
}

/* Opens (creating as needed) the directory dir for a write of rel. */
sbxd_code
fsops_open_parent(const struct fsops_root *r, char *dir, int *dfd,
    struct err *e)
{
	int fd;

	fd = fsops_resolve(r->fd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd >= 0) {
		*dfd = fd;
		return SBXD_OK;
	}
	if (errno != ENOENT)
		return parent_fail(errno, dir, e);
	return make_parents(r, dir, dfd, e);
}

/* ---- writing ------------------------------------------------------------- */

sbxd_code
fsops_write_all(int fd, const void *content, size_t len, const char *rel,
    struct err *e)
{
	const char *p = content;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return fsops_fail_errno(errno, rel, "writing", e);
		}
		p += n;
		len -= (size_t)n;
	}
	return SBXD_OK;
}

/* Creates a fresh temporary file in dfd; its name goes to name. */
sbxd_code
fsops_make_temp(int dfd, char *name, size_t namesz, int *fdp, const char *rel,
    struct err *e)
{
	static atomic_uint counter;
	uint64_t rnd = 0;
	int fd;

	for (int i = 0; i < FSOPS_CREATE_TRIES; i++) {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd ^= (uint64_t)getpid() << 32;
		snprintf(name, namesz, FSOPS_TEMP_PREFIX "%u-%016" PRIx64,
		    atomic_fetch_add(&counter, 1), rnd);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd >= 0) {
			*fdp = fd;
			return SBXD_OK;
		}
		if (errno != EEXIST)
			return fsops_fail_errno(errno, rel, "creating a temporary "
			    "file for", e);
	}
	return err_set(e, SBXD_ABORTED, "could not create a temporary file "
	    "for '" PATHF "'; retry", PATHA(rel));
}

/* The mode an overwrite of leaf gives: an existing regular file's
 * permission bits, else 0644. Refuses a directory. */
sbxd_code
fsops_replace_mode(int dfd, const char *leaf, const char *rel, mode_t *mode,
    struct err *e)
{
	struct stat st;

	*mode = 0644;
	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? SBXD_OK :
		    fsops_fail_errno(errno, rel, "checking", e);
	if (S_ISDIR(st.st_mode))
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "'" PATHF "' is a directory", PATHA(rel));
	if (S_ISREG(st.st_mode))
		*mode = st.st_mode & 0777;
	return SBXD_OK;
}

/* Puts the finished temporary file tmp in leaf's place, atomically for
 * readers. Replacing an existing file with renameat makes ext4
 * (auto_da_alloc) start writing the new file's data out at once — 0.15 to
 * 2 ms on our disks, most of a small Write's cost; exchanging the two
 * names (renameat2 RENAME_EXCHANGE) and unlinking the old file costs about
 * 6 us and is just as atomic. The price: after a host power loss a file
 * replaced in the last seconds may come back empty, as with any write that
 * is not fsync'd (sbx never promised more; a killed sbxd loses nothing).
 * A directory that the sandbox swapped in at leaf meanwhile is put back
 * and the call fails (EISDIR). -1 with errno on failure: tmp then still
 * names the new file. */
static int
swap_into_place(int dfd, const char *tmp, const char *leaf)
{
	if (syscall(SYS_renameat2, dfd, tmp, dfd, leaf, RENAME_EXCHANGE) == -1) {
		if (errno != ENOENT && errno != EINVAL)
			return -1;
		return renameat(dfd, tmp, dfd, leaf);   /* nothing to replace */
	}
	if (unlinkat(dfd, tmp, 0) == 0 || errno != EISDIR)
		return 0;   /* a stray old file left behind is harmless */
	if (syscall(SYS_renameat2, dfd, tmp, dfd, leaf, RENAME_EXCHANGE) == 0)
		errno = EISDIR;
	return -1;
}

/* Temporary file, content, owner, mode, then swapped in over the leaf,
 * whatever non-directory (file, symlink, FIFO, hardlink) is there. */
sbxd_code
fsops_replace_at(int dfd, const char *leaf, const char *rel,
    const void *content, size_t len, mode_t mode, uid_t uid, gid_t gid,
    struct err *e)
{
	char tmp[64];
	int fd = -1;
	sbxd_code rv;

	tmp[0] = '\0';
	rv = fsops_make_temp(dfd, tmp, sizeof(tmp), &fd, rel, e);
	if (rv != SBXD_OK)
		goto out;
	if ((rv = fsops_write_all(fd, content, len, rel, e)) != SBXD_OK)
		goto out;
	if ((rv = fsops_own(fd, uid, gid, mode, rel, e)) != SBXD_OK)
		goto out;
	if (close(fd) == -1) {
		fd = -1;
		rv = fsops_fail_errno(errno, rel, "writing", e);
		goto out;
	}
	fd = -1;
	if (swap_into_place(dfd, tmp, leaf) == -1) {
		rv = fsops_fail_errno(errno == ENOTEMPTY ? EISDIR : errno, rel,
		    "replacing", e);
		goto out;
	}
	tmp[0] = '\0';
	rv = SBXD_OK;
out:
	if (fd != -1)
		close(fd);
	if (tmp[0] != '\0')
		unlinkat(dfd, tmp, 0);
	return rv;
}

/* Overwrite: the mode of the file replaced, the root's owner. */
static sbxd_code
replace_leaf(const struct fsops_root *r, int dfd, const char *leaf,
    const char *rel, const void *content, size_t len, struct err *e)
{
	mode_t mode;
	sbxd_code rv;

	if ((rv = fsops_replace_mode(dfd, leaf, rel, &mode, e)) != SBXD_OK)
		return rv;
	return fsops_replace_at(dfd, leaf, rel, content, len, mode, r->uid,
	    r->gid, e);
}

/* Opens leaf for appending: created (and adopted) if missing; a symlink,
 * directory, FIFO or other non-regular file is refused. */
static sbxd_code
open_append(const struct fsops_root *r, int dfd, const char *leaf,
    const char *rel, int *fdp, struct err *e)
{
	const int fl = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC;
	int fd = -1;

	for (int i = 0; i < FSOPS_CREATE_TRIES && fd == -1; i++) {
		fd = openat(dfd, leaf, fl | O_CREAT | O_EXCL, 0644);
		if (fd >= 0) {
			sbxd_code rv = fsops_adopt(r, fd, 0644, rel, e);

			if (rv != SBXD_OK) {
				close(fd);
				return rv;
			}
			break;
		}
		if (errno != EEXIST)
			return fsops_fail_errno(errno, rel, "creating", e);
		fd = openat(dfd, leaf, fl);
		if (fd == -1 && errno == ELOOP)
			return err_set(e, SBXD_FAILED_PRECONDITION,
			    "'" PATHF "' is a symlink: appending through a symlink "
			    "is refused (an overwrite replaces it)", PATHA(rel));
		if (fd == -1 && errno != ENOENT)
			return fsops_fail_errno(errno, rel, "opening", e);
	}
	if (fd == -1)
		return err_set(e, SBXD_ABORTED,
		    "'" PATHF "' kept changing while being opened; retry",
		    PATHA(rel));
	*fdp = fd;
	return SBXD_OK;
}

/* Append: content goes at the end of the regular file at leaf. */
static sbxd_code
append_leaf(const struct fsops_root *r, int dfd, const char *leaf,
    const char *rel, const void *content, size_t len, struct err *e)
{
	struct stat st;
	int fd = -1;
	sbxd_code rv;

	if ((rv = open_append(r, dfd, leaf, rel, &fd, e)) != SBXD_OK)
		goto out;
	if (fstat(fd, &st) == -1) {
		rv = fsops_fail_errno(errno, rel, "checking", e);
		goto out;
	}
	if ((rv = fsops_require_regular(&st, rel, e)) != SBXD_OK)
		goto out;
	rv = fsops_write_all(fd, content, len, rel, e);
out:
	if (fd != -1)
		close(fd);
	return rv;
}

sbxd_code
fsops_write_file(struct fsops_root *r, const char *rel, const void *content,
    size_t len, int append, struct err *e)
{
	char dir[FSOPS_PATH_MAX];
	const char *leaf = NULL;
	int dfd = -1;
	sbxd_code rv;

	if ((rv = fsops_split_rel(rel, dir, sizeof(dir), &leaf, e)) != SBXD_OK)
		goto out;
	if ((rv = fsops_open_parent(r, dir, &dfd, e)) != SBXD_OK)
		goto out;
	if (append)
		rv = append_leaf(r, dfd, leaf, rel, content, len, e);
	else
		rv = replace_leaf(r, dfd, leaf, rel, content, len, e);
out:
	if (dfd != -1)
		close(dfd);
	return rv;
}
