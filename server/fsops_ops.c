/*
 * fsops_ops.c — the workspace file operations that manage the tree (see
 * fsops.h): stat, list, mkdir, remove, move and ranged reads, plus the
 * shared lookups (fsops_int.h) the other fsops_*.c files build on: opening
 * a parent or a directory in the root, lstat, opening a child directory
 * during a walk, filling a directory entry. Edits and uploads, which
 * rewrite a file's content, live in fsops_edit.c.
 *
 * Same discipline as fsops.c, whose helpers (fsops_int.h) this file uses: a
 * parent is resolved from the root fd by openat2 in-root, the leaf is
 * handled by *at() calls on that parent fd with O_NOFOLLOW, and a symlink
 * leaf is only ever followed by an operation that reads through it
 * (read_range here), and then inside the root. A recursive remove opens
 * each child directory with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 * RESOLVE_NO_XDEV), so it never enters a symlinked directory or a mount
 * however the sandbox rearranges the tree while we walk it. Reads open with
 * O_NONBLOCK and require a regular file. errno is translated here, at the
 * edge (fsops_fail_errno).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsops.h"
#include "fsops_int.h"

#define READ_CHUNK 32768
#define PATHF FSOPS_PATHF
#define PATHA FSOPS_PATHA

/* ---- shared lookups (declared in fsops_int.h) ------------------------- */

sbxd_code
fsops_open_at_parent(const struct fsops_root *r, const char *rel, char *dir,
    const char **leaf, int *dfd, struct err *e)
{
	sbxd_code rv;

	*dfd = -1;
	if ((rv = fsops_split_rel(rel, dir, FSOPS_PATH_MAX, leaf, e)))
		return rv;
	*dfd = fsops_resolve(r->fd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (*dfd == -1)
		return fsops_fail_errno(errno == ENOTDIR ? ENOENT : errno, rel,
		    "opening", e);
	return SBXD_OK;
}

sbxd_code
fsops_open_dir(const struct fsops_root *r, const char *rel, int *dfd,
    struct err *e)
{
	int fd;

	*dfd = fsops_resolve(r->fd, rel,
	    O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC, 0);
	if (*dfd >= 0)
		return SBXD_OK;
	if (errno != ENOTDIR)
		return fsops_fail_errno(errno, rel, "opening directory", e);
	/* the leaf is something else, or a component on the way is */
	if ((fd = fsops_resolve(r->fd, rel, O_PATH | O_CLOEXEC, 0)) == -1)
		return fsops_fail_errno(ENOENT, rel, "opening directory", e);
	close(fd);
	return err_set(e, SBXD_FAILED_PRECONDITION,
	    "'" PATHF "' is not a directory", PATHA(rel));
}

sbxd_code
fsops_lstat(const struct fsops_root *r, const char *rel, struct stat *st,
    int *exists, struct err *e)
{
	char dir[FSOPS_PATH_MAX];
	const char *leaf;
	int dfd = -1, err = 0;
	sbxd_code rv;

	*exists = 0;
	if (fsops_rel_is_root(rel)) {
		if (fstatat(r->fd, "", st, AT_EMPTY_PATH) == -1)
			err = errno;
	} else {
		rv = fsops_open_at_parent(r, rel, dir, &leaf, &dfd, e);
		if (rv == SBXD_NOT_FOUND) {
			err_clear(e);
			return SBXD_OK;
		}
		if (rv != SBXD_OK)
			return rv;
		if (fstatat(dfd, leaf, st, AT_SYMLINK_NOFOLLOW) == -1)
			err = errno;
		close(dfd);
	}
	if (err == ENOENT || err == ENOTDIR)
		return SBXD_OK;
	if (err != 0)
		return fsops_fail_errno(err, rel, "checking", e);
	*exists = 1;
	return SBXD_OK;
}

int
fsops_open_subdir(int dirfd, const char *name)
{
	return fsops_open_beneath(dirfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}

/* "." or "..", which a walk skips */
static int
is_dots(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' ||
	    (name[1] == '.' && name[2] == '\0'));
}

static void
entry_stat(struct fsops_entry *ent, const struct stat *st)
{
	ent->is_dir = S_ISDIR(st->st_mode);
	ent->is_symlink = S_ISLNK(st->st_mode);
	ent->size = (uint64_t)st->st_size;
	ent->mode = (uint32_t)st->st_mode;
	ent->mtime_ms = (int64_t)st->st_mtim.tv_sec * 1000 +
	    st->st_mtim.tv_nsec / 1000000;
}

/* The joined path must stay under FSOPS_PATH_MAX bytes so that a client
 * can pass it back (fsops_route_abs's limit). */
int
fsops_entry_fill(struct fsops_entry *ent, const char *parent_rel,
    const char *name, const struct stat *st)
{
	size_t nlen = strlen(name);
	int n;

	if (nlen >= sizeof(ent->name))
		return -1;
	if (fsops_rel_is_root(parent_rel))
		n = snprintf(ent->rel, FSOPS_PATH_MAX, "%s", name);
	else
		n = snprintf(ent->rel, FSOPS_PATH_MAX, "%s/%s", parent_rel,
		    name);
	if (n < 0 || n >= FSOPS_PATH_MAX)
		return -1;
	memcpy(ent->name, name, nlen + 1);
	entry_stat(ent, st);
	return 0;
}

/* ---- stat and list ---------------------------------------------------- */

/* ent for rel itself: its last component as the name ("workspace" for the
 * root, whose rel stays "."). rel is shorter than FSOPS_PATH_MAX here. */
static void
entry_self(struct fsops_entry *ent, const char *rel, const struct stat *st)
{
	const char *slash = strrchr(rel, '/');

	memset(ent, 0, sizeof(*ent));
	snprintf(ent->name, sizeof(ent->name), "%s",
	    fsops_rel_is_root(rel) ? "workspace" : slash ? slash + 1 : rel);
	snprintf(ent->rel, sizeof(ent->rel), "%s", rel);
	entry_stat(ent, st);
}

sbxd_code
fsops_stat(struct fsops_root *r, const char *rel, struct fsops_entry *out,
    int *exists, struct err *e)
{
	struct stat st;
	sbxd_code rv;

	if ((rv = fsops_lstat(r, rel, &st, exists, e)) != SBXD_OK || !*exists)
		return rv;
	entry_self(out, rel, &st);
	return SBXD_OK;
}

/* A directory listing keeps only the first `max` names in list order: a
 * max-heap of them (the last in order on top), so memory is bounded by max
 * however big the directory. */
struct list_item {
	char *name;
	int is_dir;
};

struct list_heap {
	struct list_item *v;
	size_t n, cap, max;
	int dropped;
};

/* Directories first, then bytewise by name (strcmp compares unsigned). */
static int
item_cmp(const struct list_item *a, const struct list_item *b)
{
	if (a->is_dir != b->is_dir)
		return b->is_dir - a->is_dir;
	return strcmp(a->name, b->name);
}

static int
item_qcmp(const void *a, const void *b)
{
	return item_cmp(a, b);
}

static void
heap_sift_down(struct list_heap *h, size_t i)
{
	for (;;) {
		size_t big = i, l = 2 * i + 1, rt = 2 * i + 2;
		struct list_item t;

		if (l < h->n && item_cmp(&h->v[l], &h->v[big]) > 0)
			big = l;
		if (rt < h->n && item_cmp(&h->v[rt], &h->v[big]) > 0)
			big = rt;
		if (big == i)
			return;
		t = h->v[i];
		h->v[i] = h->v[big];
		h->v[big] = t;
		i = big;
	}
}

static void
heap_sift_up(struct list_heap *h, size_t i)
{
	while (i > 0 && item_cmp(&h->v[(i - 1) / 2], &h->v[i]) < 0) {
		struct list_item t = h->v[i];

		h->v[i] = h->v[(i - 1) / 2];
		h->v[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* Offers a name; -1 when out of memory. */
static int
heap_offer(struct list_heap *h, const char *name, int is_dir)
{
	struct list_item it = { (char *)name, is_dir }, *nv;

	if (h->n == h->max) {
		h->dropped = 1;
		if (h->n == 0 || item_cmp(&it, &h->v[0]) >= 0)
			return 0;
		if ((it.name = strdup(name)) == NULL)
			return -1;
		free(h->v[0].name);
		h->v[0] = it;
		heap_sift_down(h, 0);
		return 0;
	}
	if (h->n == h->cap) {
		size_t ncap = h->cap ? 2 * h->cap : 64;

		if ((nv = realloc(h->v, ncap * sizeof(*nv))) == NULL)
			return -1;
		h->v = nv;
		h->cap = ncap;
	}
	if ((it.name = strdup(name)) == NULL)
		return -1;
	h->v[h->n++] = it;
	heap_sift_up(h, h->n - 1);
	return 0;
}

static void
heap_free(struct list_heap *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].name);
	free(h->v);
}

/* Reads every name of d into h; at most FSOPS_WALK_MAX are looked at. */
static sbxd_code
list_scan(DIR *d, struct list_heap *h, const char *rel, struct err *e)
{
	struct dirent *de;
	struct stat st;
	size_t seen = 0;
	int is_dir;

	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (is_dots(de->d_name) || fsops_is_own_temp(de->d_name))
			continue;
		if (++seen > FSOPS_WALK_MAX) {
			h->dropped = 1;
			return SBXD_OK;
		}
		is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN && fstatat(dirfd(d), de->d_name,
		    &st, AT_SYMLINK_NOFOLLOW) == 0)
			is_dir = S_ISDIR(st.st_mode);
		if (heap_offer(h, de->d_name, is_dir) == -1)
			return err_set(e, SBXD_INTERNAL, "listing '" PATHF "': "
			    "out of memory", PATHA(rel));
	}
	if (errno != 0)
		return fsops_fail_errno(errno, rel, "listing", e);
	return SBXD_OK;
}

/* Sorts what h kept and hands it to cb with fresh lstat data; a name that
 * vanished meanwhile is left out. */
static sbxd_code
list_emit(DIR *d, struct list_heap *h, const char *rel, fsops_entry_cb cb,
    void *arg, int *truncated, struct err *e)
{
	struct fsops_entry ent;
	struct stat st;

	if (h->n > 0)
		qsort(h->v, h->n, sizeof(h->v[0]), item_qcmp);
	for (size_t i = 0; i < h->n; i++) {
		if (fstatat(dirfd(d), h->v[i].name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;
			return fsops_fail_errno(errno, rel, "listing", e);
		}
		if (fsops_entry_fill(&ent, rel, h->v[i].name, &st) == -1) {
			*truncated = 1;    /* its path is over the limit */
			continue;
		}
		if (cb(arg, &ent) != 0)
			break;
	}
	return SBXD_OK;
}

static sbxd_code
list_dir(int fd, const char *rel, size_t max, fsops_entry_cb cb, void *arg,
    int *truncated, struct err *e)
{
	struct list_heap h = { .max = max };
	DIR *d;
	sbxd_code rv;

	if ((d = fdopendir(fd)) == NULL) {
		rv = fsops_fail_errno(errno, rel, "listing", e);
		close(fd);
		return rv;
	}
	if ((rv = list_scan(d, &h, rel, e)) == SBXD_OK) {
		*truncated = h.dropped;
		rv = list_emit(d, &h, rel, cb, arg, truncated, e);
	}
	heap_free(&h);
	closedir(d);
	return rv;
}

/*
 * rel is followed inside the root when it names a directory (a symlink to
 * one lists its target's children under rel); anything else — a file, a
 * FIFO, a dangling or looping symlink — lists as that one entry, unfollowed.
 * Entries whose path would pass FSOPS_PATH_MAX bytes are left out, and the
 * listing is then marked truncated.
 */
sbxd_code
fsops_list(struct fsops_root *r, const char *rel, size_t max,
    fsops_entry_cb cb, void *arg, int *truncated, struct err *e)
{
	struct fsops_entry ent;
	struct stat st;
	int exists, fd;
	sbxd_code rv;

	*truncated = 0;
	if ((rv = fsops_lstat(r, rel, &st, &exists, e)) != SBXD_OK)
		return rv;
	if (!exists)
		return fsops_fail_errno(ENOENT, rel, "listing", e);
	fd = fsops_resolve(r->fd, rel,
	    O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd >= 0)
		return list_dir(fd, rel, max, cb, arg, truncated, e);
	if (errno != ENOTDIR && errno != ENOENT && errno != ELOOP)
		return fsops_fail_errno(errno, rel, "listing", e);
	if (max == 0) {
		*truncated = 1;
		return SBXD_OK;
	}
	entry_self(&ent, rel, &st);
	cb(arg, &ent);
	return SBXD_OK;
}

/* ---- mkdir, remove, move ---------------------------------------------- */

/* mkdir -p: every missing component created and adopted. */
static sbxd_code
mkdir_parents(const struct fsops_root *r, const char *rel, struct err *e)
{
	char path[FSOPS_PATH_MAX];
	int dfd = -1;
	sbxd_code rv;

	if (strlen(rel) >= sizeof(path))
		return fsops_fail_errno(ENAMETOOLONG, rel, "creating", e);
	strcpy(path, rel);
	if ((rv = fsops_open_parent(r, path, &dfd, e)) == SBXD_OK)
		close(dfd);
	return rv;
}

sbxd_code
fsops_mkdir(struct fsops_root *r, const char *rel, int parents, struct err *e)
{
	char dir[FSOPS_PATH_MAX];
	const char *leaf;
	int dfd = -1, fd = -1;
	sbxd_code rv;

	if (fsops_rel_is_root(rel))
		return parents ? SBXD_OK :
		    fsops_fail_errno(EEXIST, rel, "creating directory", e);
	if (parents)
		return mkdir_parents(r, rel, e);
	rv = fsops_open_at_parent(r, rel, dir, &leaf, &dfd, e);
	if (rv == SBXD_NOT_FOUND)
		rv = err_set(e, SBXD_NOT_FOUND, "the parent directory of '"
		    PATHF "' does not exist; use parents to create it",
		    PATHA(rel));
	if (rv != SBXD_OK)
		goto out;
	if (mkdirat(dfd, leaf, 0755) == -1) {
		rv = fsops_fail_errno(errno, rel, "creating directory", e);
		goto out;
	}
	fd = openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		rv = fsops_fail_errno(errno, rel, "creating directory", e);
		goto out;
	}
	rv = fsops_adopt(r, fd, 0755, rel, e);
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	return rv;
}

static sbxd_code rm_tree(int pfd, const char *name, dev_t dev, int depth,
    const char *rel, struct err *e);

/* Removes one entry found in dfd; a directory recursively. Entries that
 * vanish meanwhile are not an error. */
static sbxd_code
rm_entry(int dfd, const struct dirent *de, dev_t dev, int depth,
    const char *rel, struct err *e)
{
	struct stat st;
	int is_dir = de->d_type == DT_DIR;

	if (de->d_type == DT_UNKNOWN) {
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			return errno == ENOENT ? SBXD_OK :
			    fsops_fail_errno(errno, rel, "removing", e);
		is_dir = S_ISDIR(st.st_mode);
	}
	if (is_dir)
		return rm_tree(dfd, de->d_name, dev, depth + 1, rel, e);
	if (unlinkat(dfd, de->d_name, 0) == 0 || errno == ENOENT)
		return SBXD_OK;
	if (errno == EISDIR)        /* became a directory meanwhile */
		return rm_tree(dfd, de->d_name, dev, depth + 1, rel, e);
	return fsops_fail_errno(errno, rel, "removing", e);
}

/* Empties the directory name in pfd, then removes it. Only directories
 * opened by fsops_open_subdir are entered (no symlink, no mount), and their
 * st_dev must be the workspace's. rel (the tree's top) is for messages. */
static sbxd_code
rm_tree(int pfd, const char *name, dev_t dev, int depth, const char *rel,
    struct err *e)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;
	sbxd_code rv = SBXD_OK;

	if (depth > FSOPS_WALK_DEPTH)
		return err_set(e, SBXD_FAILED_PRECONDITION, "'" PATHF "' is "
		    "nested more than %d levels deep; remove it in parts",
		    PATHA(rel), FSOPS_WALK_DEPTH);
	if ((fd = fsops_open_subdir(pfd, name)) == -1) {
		int err = errno;

		/* swapped for a file or a symlink meanwhile: unlink that */
		if (err == ENOTDIR || err == ELOOP)
			err = unlinkat(pfd, name, 0) == 0 ? 0 : errno;
		return err == 0 || err == ENOENT ? SBXD_OK :
		    fsops_fail_errno(err, rel, "removing", e);
	}
	if (fstat(fd, &st) == -1 || st.st_dev != dev) {
		close(fd);
		return fsops_fail_errno(EXDEV, rel, "removing", e);
	}
	if ((d = fdopendir(fd)) == NULL) {
		rv = fsops_fail_errno(errno, rel, "removing", e);
		close(fd);
		return rv;
	}
	while (rv == SBXD_OK) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				rv = fsops_fail_errno(errno, rel, "removing",
				    e);
			break;
		}
		if (!is_dots(de->d_name))
			rv = rm_entry(dirfd(d), de, dev, depth, rel, e);
	}
	closedir(d);
	if (rv == SBXD_OK && unlinkat(pfd, name, AT_REMOVEDIR) == -1 &&
	    errno != ENOENT)
		rv = fsops_fail_errno(errno, rel, "removing", e);
	return rv;
}

sbxd_code
fsops_remove(struct fsops_root *r, const char *rel, int recursive,
    struct err *e)
{
	char dir[FSOPS_PATH_MAX];
	const char *leaf;
	struct stat st, rst;
	int dfd = -1;
	sbxd_code rv;

	if (fsops_rel_is_root(rel))
		return err_set(e, SBXD_INVALID_ARGUMENT, "the workspace root "
		    "cannot be removed; remove the entries in it instead");
	if ((rv = fsops_open_at_parent(r, rel, dir, &leaf, &dfd, e)) != SBXD_OK)
		goto out;
	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		rv = fsops_fail_errno(errno, rel, "removing", e);
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, leaf, 0) == -1)
			rv = fsops_fail_errno(errno, rel, "removing", e);
	} else if (!recursive) {
		if (unlinkat(dfd, leaf, AT_REMOVEDIR) == -1)
			rv = fsops_fail_errno(errno == EEXIST ? ENOTEMPTY :
			    errno, rel, "removing", e);
	} else if (fstat(r->fd, &rst) == -1) {
		rv = fsops_fail_errno(errno, ".", "checking", e);
	} else {
		rv = rm_tree(dfd, leaf, rst.st_dev, 0, rel, e);
	}
out:
	if (dfd != -1)
		close(dfd);
	return rv;
}

/* to lies inside from ("a" and "a/b"): moving a directory into itself. */
static int
path_inside(const char *to, const char *from)
{
	size_t n = strlen(from);

	return strncmp(to, from, n) == 0 && to[n] == '/';
}

static sbxd_code
move_fail(int err, const char *from, const char *to, int overwrite,
    struct err *e)
{
	if (err == EEXIST && !overwrite)
		return err_set(e, SBXD_ALREADY_EXISTS, "'" PATHF "' already "
		    "exists; use overwrite to replace it", PATHA(to));
	if (err == EEXIST || err == ENOTEMPTY)
		return err_set(e, SBXD_FAILED_PRECONDITION, "'" PATHF "' is a "
		    "directory that is not empty", PATHA(to));
	if (err == EINVAL)
		return err_set(e, SBXD_INVALID_ARGUMENT, "'" PATHF "' cannot "
		    "be moved into itself", PATHA(from));
	if (err == ENOTDIR)
		return err_set(e, SBXD_FAILED_PRECONDITION, "'" PATHF "' is "
		    "not a directory: a directory cannot replace it",
		    PATHA(to));
	if (err == EISDIR)
		return err_set(e, SBXD_FAILED_PRECONDITION, "'" PATHF "' is a "
		    "directory: only a directory can replace it", PATHA(to));
	return fsops_fail_errno(err, from, "moving", e);
}

sbxd_code
fsops_move(struct fsops_root *r, const char *from, const char *to,
    int overwrite, struct err *e)
{
	char fdir[FSOPS_PATH_MAX], tdir[FSOPS_PATH_MAX];
	const char *fleaf, *tleaf;
	struct stat st;
	int ffd = -1, tfd = -1;
	sbxd_code rv;

	if (fsops_rel_is_root(from) || fsops_rel_is_root(to))
		return err_set(e, SBXD_INVALID_ARGUMENT, "the workspace root "
		    "cannot be moved or replaced");
	if (path_inside(to, from))
		return move_fail(EINVAL, from, to, overwrite, e);
	rv = fsops_open_at_parent(r, from, fdir, &fleaf, &ffd, e);
	if (rv != SBXD_OK)
		goto out;
	if (fstatat(ffd, fleaf, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		rv = fsops_fail_errno(errno, from, "moving", e);
		goto out;
	}
	if ((rv = fsops_split_rel(to, tdir, sizeof(tdir), &tleaf, e)))
		goto out;
	if ((rv = fsops_open_parent(r, tdir, &tfd, e)) != SBXD_OK)
		goto out;
	if (renameat2(ffd, fleaf, tfd, tleaf, overwrite ? 0 : RENAME_NOREPLACE))
		rv = move_fail(errno, from, to, overwrite, e);
out:
	if (ffd != -1)
		close(ffd);
	if (tfd != -1)
		close(tfd);
	return rv;
}

/* ---- ranged reads ----------------------------------------------------- */

/* Appends up to maxlen bytes of fd from offset to out. */
static sbxd_code
pread_into(int fd, uint64_t offset, size_t maxlen, const char *rel,
    struct buf *out, struct err *e)
{
	char chunk[READ_CHUNK];
	size_t got = 0, want;
	ssize_t n;

	while (got < maxlen) {
		want = maxlen - got;
		if (want > sizeof(chunk))
			want = sizeof(chunk);
		n = pread(fd, chunk, want, (off_t)(offset + got));
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return fsops_fail_errno(errno, rel, "reading", e);
		}
		if (buf_add(out, chunk, (size_t)n) != SBXD_OK)
			return err_set(e, SBXD_INTERNAL, "reading '" PATHF "': "
			    "out of memory", PATHA(rel));
		got += (size_t)n;
	}
	return SBXD_OK;
}

/* Opens rel as fsops_open_regular does. On failure out is reset. */
sbxd_code
fsops_read_range(struct fsops_root *r, const char *rel, uint64_t offset,
    size_t maxlen, struct buf *out, uint64_t *size, struct err *e)
{
	struct stat st;
	sbxd_code rv;
	int fd;

	assert(maxlen <= out->max - out->len);
	*size = 0;
	if ((rv = fsops_open_regular(r, rel, &fd, &st, e)) == SBXD_OK) {
		*size = (uint64_t)st.st_size;
		if (offset < *size)
			rv = pread_into(fd, offset, maxlen, rel, out, e);
		close(fd);
	}
	if (rv != SBXD_OK)
		buf_reset(out);
	return rv;
}
