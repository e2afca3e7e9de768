/*
 * snapcopy.c — symlink-safe tree copies with shared data where the
 * filesystem allows (see snapcopy.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <linux/fs.h>

#include "snapcopy.h"

#define CHUNK (1u << 20)        /* copy_file_range per call */
/* On each copied directory: the inode number of the directory it copies,
 * so the second pass tells a directory renamed into its place (whose
 * entries keep their old ctimes) from the one it copied. */
#define XATTR_INO "user.sbx.src_ino"

struct walk {
	struct snapcopy_stats *st;
	dev_t dev;                  /* the source tree's filesystem */
	struct err *e;
	char path[PATH_MAX];        /* the entry at hand, relative, for messages */
};

static sbxd_code
fail(struct walk *w, const char *what, int err_no)
{
	return err_set(w->e, err_no == ENOSPC || err_no == EDQUOT ?
	    SBXD_RESOURCE_EXHAUSTED : SBXD_INTERNAL, "copying %s: %s %s: %s",
	    w->path[0] ? w->path : ".", what, err_no == ENOSPC ? "(disk full)" : "",
	    strerror(err_no));
}

/* Appends name to w->path for the duration of one entry; returns the old
 * length to put back. */
static size_t
path_push(struct walk *w, const char *name)
{
	size_t n = strlen(w->path);

	snprintf(w->path + n, sizeof(w->path) - n, "%s%s", n ? "/" : "", name);
	return n;
}

/* Owner, mode and times of st onto the open fd (times last: they must
 * survive the writes). chown can fail without root: the copy is still
 * made, owned by sbxd. */
static void
keep_attrs(int fd, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fchown(fd, st->st_uid, st->st_gid) != 0) {
		/* not root: the copy stays sbxd's */
	}
	fchmod(fd, st->st_mode & 07777);
	futimens(fd, ts);
}

/* The data of src into dst: a clone, else the kernel's copy, else
 * read/write. */
static sbxd_code
copy_data(struct walk *w, int src, int dst, off_t size)
{
	char buf[65536];
	ssize_t n;
	off_t done = 0;

	if (ioctl(dst, FICLONE, src) == 0) {
		w->st->reflinked++;
		return SBXD_OK;
	}
	while (done < size) {
		n = copy_file_range(src, NULL, dst, NULL, CHUNK, 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
		    errno == EINVAL) && done == 0)
			break;          /* fall back to read/write */
		if (n < 0)
			return fail(w, "copy_file_range", errno);
		if (n == 0)
			return SBXD_OK; /* it shrank meanwhile */
		done += n;
	}
	if (done >= size)
		return SBXD_OK;
	while ((n = read(src, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(w, "read", errno);
		for (ssize_t off = 0; off < n;) {
			ssize_t m = write(dst, buf + off, (size_t)(n - off));

			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0)
				return fail(w, "write", errno);
			off += m;
		}
	}
	return SBXD_OK;
}

static sbxd_code
copy_file(struct walk *w, int sdir, int ddir, const char *name)
{
	struct stat st;
	int src = -1, dst = -1;
	sbxd_code rv;

	/* O_NONBLOCK: a FIFO swapped in after the fstatat must not hang us */
	if ((src = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		rv = errno == ENOENT ? SBXD_OK : fail(w, "open", errno);
		goto out;
	}
	if (fstat(src, &st) != 0 || !S_ISREG(st.st_mode)) {
		w->st->skipped++;
		rv = SBXD_OK;
		goto out;
	}
	if ((dst = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600)) < 0) {
		rv = fail(w, "create", errno);
		goto out;
	}
	if ((rv = copy_data(w, src, dst, st.st_size)) != SBXD_OK)
		goto out;
	keep_attrs(dst, &st);
	w->st->bytes += st.st_size;
	w->st->files++;
out:
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	return rv;
}

static sbxd_code
copy_link(struct walk *w, int sdir, int ddir, const char *name, const struct stat *st)
{
	char target[PATH_MAX];
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	ssize_t n;

	if ((n = readlinkat(sdir, name, target, sizeof(target) - 1)) < 0)
		return errno == ENOENT ? SBXD_OK : fail(w, "readlink", errno);
	target[n] = '\0';
	if (symlinkat(target, ddir, name) != 0)
		return fail(w, "symlink", errno);
	if (fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
		/* not root: the link stays sbxd's */
	}
	utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW);
	w->st->files++;
	return SBXD_OK;
}

static sbxd_code copy_tree(struct walk *w, int src, int dst, int depth);

static sbxd_code
copy_subdir(struct walk *w, int sdir, int ddir, const char *name, int depth)
{
	struct stat st;
	int src = -1, dst = -1;
	sbxd_code rv;

	if (depth >= SNAPCOPY_DEPTH_MAX)
		return err_set(w->e, SBXD_FAILED_PRECONDITION, "copying %s: directories "
		    "nest deeper than %d", w->path, SNAPCOPY_DEPTH_MAX);
	if ((src = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rv = errno == ENOENT ? SBXD_OK : fail(w, "open", errno);
		goto out;
	}
	if (fstat(src, &st) != 0 || st.st_dev != w->dev) {
		w->st->skipped++;   /* another filesystem mounted here */
		rv = SBXD_OK;
		goto out;
	}
	if (mkdirat(ddir, name, 0700) != 0 ||
	    (dst = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rv = fail(w, "mkdir", errno);
		goto out;
	}
	if (fsetxattr(dst, XATTR_INO, &st.st_ino, sizeof(st.st_ino), 0) != 0) {
		/* no user xattrs here: sync_subdir copies a changed dir whole */
	}
	if ((rv = copy_tree(w, src, dst, depth + 1)) != SBXD_OK)
		goto out;
	keep_attrs(dst, &st);
	w->st->files++;
out:
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	return rv;
}

static sbxd_code
copy_entry(struct walk *w, int src, int dst, const char *name, int depth)
{
	struct stat st;

	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? SBXD_OK : fail(w, "stat", errno);
	if (S_ISDIR(st.st_mode))
		return copy_subdir(w, src, dst, name, depth);
	if (S_ISREG(st.st_mode))
		return copy_file(w, src, dst, name);
	if (S_ISLNK(st.st_mode))
		return copy_link(w, src, dst, name, &st);
	w->st->skipped++;
	return SBXD_OK;
}

/* Where a walk stands in one directory: what each of its entries is
 * handled with. */
struct level {
	int src;                        /* the directory copied from (copy, sync, prune) */
	int dst;                        /* the directory written to or cleared */
	int depth;
	const struct timespec *since;   /* sync only */
};

/* Handles one entry, name, of the directory at stands in. */
typedef sbxd_code entry_fn(struct walk *w, const struct level *at, const char *name);

/* Calls fn on each entry of dir but . and .., with the entry's name on
 * w->path for its messages, until one fails; a failed listing is an error
 * too. dir is dup'ed for the listing, so the caller's descriptor stays
 * open and at its place. */
static sbxd_code
each_entry(struct walk *w, int dir, const struct level *at, entry_fn *fn)
{
	DIR *d;
	struct dirent *de;
	int fd;
	sbxd_code rv = SBXD_OK;

	if ((fd = dup(dir)) < 0 || (d = fdopendir(fd)) == NULL) {
		rv = fail(w, "opendir", errno);
		if (fd >= 0)
			close(fd);
		return rv;
	}
	rewinddir(d);
	while (rv == SBXD_OK && (errno = 0, de = readdir(d)) != NULL) {
		size_t old;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		old = path_push(w, de->d_name);
		rv = fn(w, at, de->d_name);
		w->path[old] = '\0';
	}
	if (rv == SBXD_OK && de == NULL && errno != 0)
		rv = fail(w, "readdir", errno);
	closedir(d);
	return rv;
}

static sbxd_code
copy_at(struct walk *w, const struct level *at, const char *name)
{
	return copy_entry(w, at->src, at->dst, name, at->depth);
}

/* Copies the entries of src into dst. */
static sbxd_code
copy_tree(struct walk *w, int src, int dst, int depth)
{
	const struct level at = { .src = src, .dst = dst, .depth = depth };

	return each_entry(w, src, &at, copy_at);
}

sbxd_code
snapcopy_dir(int src, int dst, struct snapcopy_stats *st, struct err *e)
{
	struct walk w = { .st = st, .e = e };
	struct stat sst;

	if (fstat(src, &sst) != 0)
		return err_set(e, SBXD_INTERNAL, "copying a tree: stat: %s", strerror(errno));
	w.dev = sst.st_dev;
	return copy_tree(&w, src, dst, 0);
}

static sbxd_code clear_tree(struct walk *w, int dir, int depth);
static sbxd_code clear_entry(struct walk *w, int dir, const char *name, int depth);

/* ---- the second pass (snapcopy_sync) */

static int
changed_since(const struct stat *st, const struct timespec *since)
{
	return st->st_ctim.tv_sec > since->tv_sec ||
	    (st->st_ctim.tv_sec == since->tv_sec && st->st_ctim.tv_nsec >= since->tv_nsec);
}

/* Removes name from at->dst unless at->src has it with the same type. */
static sbxd_code
prune_at(struct walk *w, const struct level *at, const char *name)
{
	struct stat ss, ds;

	if (fstatat(at->src, name, &ss, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(at->dst, name, &ds, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (ss.st_mode & S_IFMT) == (ds.st_mode & S_IFMT))
		return SBXD_OK;
	return clear_entry(w, at->dst, name, at->depth);
}

/* Removes the entries of dst that src does not have, or has with another
 * type. */
static sbxd_code
sync_prune(struct walk *w, int src, int dst, int depth)
{
	const struct level at = { .src = src, .dst = dst, .depth = depth };

	return each_entry(w, dst, &at, prune_at);
}

static sbxd_code sync_tree(struct walk *w, int src, int dst, int depth,
    const struct timespec *since);

/* 1 when the copied directory dst was made from src's directory st: its
 * recorded inode number matches, or, where none could be recorded, the
 * directory has not changed since. */
static int
same_dir(int dst, const struct stat *st, const struct timespec *since)
{
	ino_t ino;
	ssize_t n = fgetxattr(dst, XATTR_INO, &ino, sizeof(ino));

	if (n == (ssize_t)sizeof(ino))
		return ino == st->st_ino;
	return !changed_since(st, since);
}

static sbxd_code
sync_subdir(struct walk *w, int sdir, int ddir, const char *name, int depth,
    const struct timespec *since)
{
	struct stat st;
	int src = -1, dst = -1;
	sbxd_code rv;

	if (depth >= SNAPCOPY_DEPTH_MAX)
		return err_set(w->e, SBXD_FAILED_PRECONDITION, "copying %s: directories "
		    "nest deeper than %d", w->path, SNAPCOPY_DEPTH_MAX);
	if ((src = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rv = errno == ENOENT ? SBXD_OK : fail(w, "open", errno);
		goto out;
	}
	if (fstat(src, &st) != 0 || st.st_dev != w->dev) {
		rv = SBXD_OK;       /* another filesystem: never copied */
		goto out;
	}
	if ((dst = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rv = fail(w, "open", errno);
		goto out;
	}
	if (!same_dir(dst, &st, since)) {
		/* another directory than the one copied (renamed into place):
		 * its entries' ctimes say nothing about the copy's; copy anew */
		close(dst);
		dst = -1;
		if ((rv = clear_entry(w, ddir, name, depth)) == SBXD_OK)
			rv = copy_subdir(w, sdir, ddir, name, depth);
		goto out;
	}
	if ((rv = sync_tree(w, src, dst, depth + 1, since)) != SBXD_OK)
		goto out;
	keep_attrs(dst, &st);   /* its entries changed its times */
	w->st->files++;
out:
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	return rv;
}

static sbxd_code
sync_entry(struct walk *w, int src, int dst, const char *name, int depth,
    const struct timespec *since)
{
	struct stat st, ds;

	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? SBXD_OK : fail(w, "stat", errno);
	if (fstatat(dst, name, &ds, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? copy_entry(w, src, dst, name, depth) :
		    fail(w, "stat", errno);
	if (S_ISDIR(st.st_mode))
		return sync_subdir(w, src, dst, name, depth, since);
	if (!changed_since(&st, since)) {
		w->st->kept++;
		w->st->files++;
		if (S_ISREG(st.st_mode))
			w->st->bytes += st.st_size;
		return SBXD_OK;
	}
	if (unlinkat(dst, name, 0) != 0 && errno != ENOENT)
		return fail(w, "unlink", errno);
	return copy_entry(w, src, dst, name, depth);
}

static sbxd_code
sync_at(struct walk *w, const struct level *at, const char *name)
{
	return sync_entry(w, at->src, at->dst, name, at->depth, at->since);
}

static sbxd_code
sync_tree(struct walk *w, int src, int dst, int depth, const struct timespec *since)
{
	const struct level at = { .src = src, .dst = dst, .depth = depth, .since = since };
	sbxd_code rv;

	if ((rv = sync_prune(w, src, dst, depth)) != SBXD_OK)
		return rv;
	return each_entry(w, src, &at, sync_at);
}

sbxd_code
snapcopy_sync(int src, int dst, const struct timespec *since, struct snapcopy_stats *st,
    struct err *e)
{
	struct walk w = { .st = st, .e = e };
	struct stat sst;

	if (fstat(src, &sst) != 0)
		return err_set(e, SBXD_INTERNAL, "syncing a tree: stat: %s", strerror(errno));
	w.dev = sst.st_dev;
	return sync_tree(&w, src, dst, 0, since);
}

/* ---- clearing */

static sbxd_code
clear_entry(struct walk *w, int dir, const char *name, int depth)
{
	struct stat st;
	int sub;
	sbxd_code rv;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? SBXD_OK : fail(w, "stat", errno);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dir, name, 0) != 0 && errno != ENOENT)
			return fail(w, "unlink", errno);
		return SBXD_OK;
	}
	if (st.st_dev != w->dev)
		return err_set(w->e, SBXD_FAILED_PRECONDITION, "removing %s: another "
		    "filesystem is mounted there; unmount it", w->path);
	if (depth >= SNAPCOPY_DEPTH_MAX)
		return err_set(w->e, SBXD_FAILED_PRECONDITION, "removing %s: directories "
		    "nest deeper than %d", w->path, SNAPCOPY_DEPTH_MAX);
	if ((sub = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? SBXD_OK : fail(w, "open", errno);
	rv = clear_tree(w, sub, depth + 1);
	close(sub);
	if (rv == SBXD_OK && unlinkat(dir, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		rv = fail(w, "rmdir", errno);
	return rv;
}

static sbxd_code
clear_at(struct walk *w, const struct level *at, const char *name)
{
	return clear_entry(w, at->dst, name, at->depth);
}

static sbxd_code
clear_tree(struct walk *w, int dir, int depth)
{
	const struct level at = { .src = -1, .dst = dir, .depth = depth };

	return each_entry(w, dir, &at, clear_at);
}

sbxd_code
snapcopy_clear(int dir, struct err *e)
{
	struct snapcopy_stats st = { 0 };
	struct walk w = { .st = &st, .e = e };
	struct stat sst;

	if (fstat(dir, &sst) != 0)
		return err_set(e, SBXD_INTERNAL, "clearing a tree: stat: %s", strerror(errno));
	w.dev = sst.st_dev;
	return clear_tree(&w, dir, 0);
}

sbxd_code
snapcopy_remove(const char *path, struct err *e)
{
	int fd;
	sbxd_code rv;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return SBXD_OK;
		return err_set(e, SBXD_INTERNAL, "removing %s: %s", path, strerror(errno));
	}
	rv = snapcopy_clear(fd, e);
	close(fd);
	if (rv == SBXD_OK && rmdir(path) != 0 && errno != ENOENT)
		rv = err_set(e, SBXD_INTERNAL, "removing %s: %s", path, strerror(errno));
	return rv;
}
