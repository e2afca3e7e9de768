/*
 * fsops_edit.c — the workspace operations that rewrite a file's content in
 * place (see fsops.h): edit (exact string replacement) and chunked uploads
 * (open, write, finish with size and SHA-256 checks, abort).
 *
 * Both end in an atomic rename over the file's name, so nothing in the
 * sandbox ever reads a torn file: an edit writes a temporary file through
 * fsops_replace_at (fsops_int.h), an upload writes ".sbx-upload-<hex>" in
 * the destination's directory and fsops_upload_finish renames it after the
 * checks. Containment is fsops.c's: parents are resolved from the root fd
 * by openat2 in-root, leaves handled by *at() calls with O_NOFOLLOW; only
 * an edit follows a symlink leaf, one hop at a time and inside the root.
 * An upload handle is accepted only in its exact generated form, since it
 * names a file in the workspace. errno is translated here, at the edge
 * (fsops_fail_errno).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsops.h"
#include "fsops_int.h"

#define LINK_HOPS 40            /* symlinks edit follows, as the kernel does */
#define READ_CHUNK 32768        /* bytes hashed per read */
#define SHOW_OLD_MAX 200        /* bytes of an edit's old string in messages */
#define UPLOAD_PREFIX FSOPS_UPLOAD_PREFIX
#define UPLOAD_HEX 32           /* 16 random bytes */
#define PATHF FSOPS_PATHF
#define PATHA FSOPS_PATHA

/* ---- edit ------------------------------------------------------------- */

/* Where an edit's file really is. */
struct edit_target {
	char path[FSOPS_PATH_MAX];  /* rel, or where its symlinks led */
	char dir[FSOPS_PATH_MAX];
	const char *leaf;           /* into path */
	int dfd;
	int fd;                     /* the regular file, for reading */
	struct stat st;
};

/* The next path after the symlink t->leaf (in t->dir) whose content is
 * link: relative to t->dir, or to the root when absolute. The kernel
 * resolves the result's ".." physically and inside the root. */
static int
edit_next(struct edit_target *t, char *link, size_t n)
{
	char next[FSOPS_PATH_MAX];
	int len;

	while (n > 1 && link[n - 1] == '/')
		link[--n] = '\0';
	if (link[0] == '/')
		len = snprintf(next, sizeof(next), "%s", link);
	else
		len = snprintf(next, sizeof(next), "%s/%s", t->dir, link);
	if (len < 0 || (size_t)len >= sizeof(next))
		return -1;
	memcpy(t->path, next, (size_t)len + 1);
	return 0;
}

/*
 * Opens the regular file an edit of rel changes. A symlink at the leaf is
 * followed inside the root (at most LINK_HOPS), so the edit lands on the
 * link's target as an editor in the sandbox would; t->dfd/t->leaf then
 * name that target. Messages always name rel.
 */
static sbxd_code
edit_open(const struct fsops_root *r, const char *rel, struct edit_target *t,
    struct err *e)
{
	char link[FSOPS_PATH_MAX];
	ssize_t n;
	sbxd_code rv;

	if (strlen(rel) >= sizeof(t->path))
		return fsops_fail_errno(ENAMETOOLONG, rel, "opening",
		    e);
	strcpy(t->path, rel);
	if ((rv = fsops_split_rel(rel, t->dir, sizeof(t->dir), &t->leaf, e)))
		return rv;
	for (int hop = 0;; hop++) {
		/* a link to "/", "." or "x/.." names a directory */
		if (hop > 0 && fsops_split_rel(t->path, t->dir, sizeof(t->dir),
		    &t->leaf, NULL) != SBXD_OK)
			return fsops_fail_errno(EISDIR, rel, "opening", e);
		t->dfd = fsops_resolve(r->fd, t->dir,
		    O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (t->dfd == -1)
			return fsops_fail_errno(errno == ENOTDIR ? ENOENT :
			    errno, rel, "opening", e);
		t->fd = openat(t->dfd, t->leaf, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (t->fd >= 0)
			break;
		if (errno != ELOOP || hop == LINK_HOPS)
			return fsops_fail_errno(errno, rel, "opening", e);
		n = readlinkat(t->dfd, t->leaf, link, sizeof(link) - 1);
		if (n <= 0)
			return fsops_fail_errno(n == 0 ? ENOENT : errno, rel,
			    "opening", e);
		link[n] = '\0';
		if (edit_next(t, link, (size_t)n) == -1)
			return fsops_fail_errno(ENAMETOOLONG, rel, "opening",
			    e);
		close(t->dfd);
		t->dfd = -1;
	}
	if (fstat(t->fd, &t->st) == -1)
		return fsops_fail_errno(errno, rel, "reading", e);
	return fsops_require_regular(&t->st, rel, e);
}

/* Non-overlapping occurrences, left to right (p may be NULL if len is 0). */
static uint64_t
count_hits(const char *p, size_t len, const void *old, size_t oldlen)
{
	const char *hit;
	size_t off = 0;
	uint64_t n = 0;

	while (len - off >= oldlen &&
	    (hit = memmem(p + off, len - off, old, oldlen)) != NULL) {
		n++;
		off = (size_t)(hit - p) + oldlen;
	}
	return n;
}

/* dst gets src with its first n occurrences of old replaced by new_; the
 * caller checked the result fits dst->max. */
static sbxd_code
splice_hits(struct buf *dst, const struct buf *src, const void *old,
    size_t oldlen, const void *new_, size_t newlen, uint64_t n)
{
	const char *p = src->data, *end = src->data + src->len, *hit;
	sbxd_code rv = SBXD_OK;

	for (uint64_t i = 0; i < n && rv == SBXD_OK; i++) {
		hit = memmem(p, (size_t)(end - p), old, oldlen);
		assert(hit != NULL);
		if ((rv = buf_add(dst, p, (size_t)(hit - p))) == SBXD_OK)
			rv = buf_add(dst, new_, newlen);
		p = hit + oldlen;
	}
	if (rv == SBXD_OK)
		rv = buf_add(dst, p, (size_t)(end - p));
	return rv;
}

/* How much of old a message shows: at most SHOW_OLD_MAX bytes, not cutting
 * a UTF-8 sequence. */
static int
old_shown(const char *old, size_t oldlen)
{
	size_t n = oldlen;

	if (n > SHOW_OLD_MAX) {
		n = SHOW_OLD_MAX;
		while (n > 0 && ((unsigned char)old[n] & 0xC0) == 0x80)
			n--;
	}
	return (int)n;
}

/* The count check: pydantic-ai-backend's exact wording. */
static sbxd_code
edit_check(uint64_t n, const char *old, size_t oldlen, int replace_all,
    struct err *e)
{
	int shown = old_shown(old, oldlen);

	if (n == 0)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "String '%.*s' not found in file", shown, old);
	if (n > 1 && !replace_all)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "String '%.*s' found %llu times. Use replace_all=True to "
		    "replace all, or provide more context.", shown, old,
		    (unsigned long long)n);
	return SBXD_OK;
}

/* Reads t's file into src, bounded by src->max (the edit ceiling). */
static sbxd_code
edit_read(struct edit_target *t, const char *rel, struct buf *src,
    struct err *e)
{
	sbxd_code rv = SBXD_RESOURCE_EXHAUSTED;

	if ((uintmax_t)t->st.st_size <= src->max)
		rv = fsops_read_all(t->fd, rel, src, e);
	if (rv != SBXD_RESOURCE_EXHAUSTED)
		return rv;
	return err_set(e, SBXD_RESOURCE_EXHAUSTED, "File '" PATHF "' is over "
	    "the edit ceiling of %zu bytes; edit it with Execute instead",
	    PATHA(rel), src->max);
}

/*
 * The file is rewritten through a temporary file and renamed over its
 * name: mode bits and owner kept (the owner only when sbxd manages owners,
 * i.e. the root's uid/gid is not -1), a hardlink broken, never a torn
 * read. A symlink is followed inside the root and its target edited.
 */
sbxd_code
fsops_edit_text(const struct buf *src, const void *old, size_t oldlen, const void *new_,
    size_t newlen, int replace_all, struct buf *dst, uint64_t *occurrences,
    const char *shown, struct err *e)
{
	uint64_t n;

	*occurrences = 0;
	if (oldlen == 0)
		return err_set(e, SBXD_INVALID_ARGUMENT, "the string to replace "
		    "is empty: give the exact text to change");
	n = count_hits(src->data ? src->data : "", src->len, old, oldlen);
	if (edit_check(n, old, oldlen, replace_all, e) != SBXD_OK)
		return e->code;
	if (!replace_all)
		n = 1;
	if (newlen > oldlen && (newlen - oldlen) > (dst->max - src->len) / n)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "editing '%s' would make "
		    "it larger than the edit ceiling of %zu bytes", shown, dst->max);
	if (splice_hits(dst, src, old, oldlen, new_, newlen, n) != SBXD_OK)
		return err_set(e, SBXD_INTERNAL, "editing '%s': out of memory", shown);
	*occurrences = n;
	return SBXD_OK;
}

sbxd_code
fsops_edit(struct fsops_root *r, const char *rel, const void *old,
    size_t oldlen, const void *new_, size_t newlen, int replace_all,
    size_t max_file, uint64_t *occurrences, struct err *e)
{
	struct edit_target *t;
	struct buf src, dst;
	char shown[FSOPS_PATH_MAX + 16];
	uint64_t n = 0;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	sbxd_code rv;

	*occurrences = 0;
	buf_init(&src, max_file);
	buf_init(&dst, max_file);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_set(e, SBXD_INTERNAL, "editing: out of memory");
	t->dfd = t->fd = -1;
	if (oldlen == 0) {
		rv = err_set(e, SBXD_INVALID_ARGUMENT, "the string to replace "
		    "is empty: give the exact text to change");
		goto out;
	}
	if ((rv = edit_open(r, rel, t, e)) != SBXD_OK ||
	    (rv = edit_read(t, rel, &src, e)) != SBXD_OK)
		goto out;
	snprintf(shown, sizeof(shown), PATHF, PATHA(rel));
	if ((rv = fsops_edit_text(&src, old, oldlen, new_, newlen, replace_all, &dst, &n,
	    shown, e)) != SBXD_OK)
		goto out;
	if (r->uid != (uid_t)-1 || r->gid != (gid_t)-1) {
		uid = t->st.st_uid;
		gid = t->st.st_gid;
	}
	rv = fsops_replace_at(t->dfd, t->leaf, rel, dst.data, dst.len,
	    t->st.st_mode & 0777, uid, gid, e);
	if (rv == SBXD_OK)
		*occurrences = n;
out:
	if (t->fd != -1)
		close(t->fd);
	if (t->dfd != -1)
		close(t->dfd);
	free(t);
	buf_fini(&src);
	buf_fini(&dst);
	return rv;
}

/* ---- uploads ---------------------------------------------------------- */

/* tmpname must be exactly UPLOAD_PREFIX and UPLOAD_HEX lowercase hex
 * digits: it names a file in the workspace, so nothing else is accepted
 * (no '/', no "..", no other file of the sandbox's). */
static sbxd_code
upload_name_check(const char *tmpname, struct err *e)
{
	size_t pl = sizeof(UPLOAD_PREFIX) - 1;

	if (tmpname == NULL || strncmp(tmpname, UPLOAD_PREFIX, pl) != 0 ||
	    strnlen(tmpname, pl + UPLOAD_HEX + 1) != pl + UPLOAD_HEX)
		goto bad;
	for (size_t i = pl; i < pl + UPLOAD_HEX; i++) {
		char c = tmpname[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			goto bad;
	}
	return SBXD_OK;
bad:
	return err_set(e, SBXD_INVALID_ARGUMENT, "not an upload handle");
}

/* Creates the upload's temporary file in dfd, named into tmpname. */
static sbxd_code
upload_create(int dfd, char tmpname[256], int *fdp, const char *rel,
    struct err *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[UPLOAD_HEX / 2];
	size_t pl = sizeof(UPLOAD_PREFIX) - 1;

	for (int i = 0; i < FSOPS_CREATE_TRIES; i++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return fsops_fail_errno(errno, rel, "naming an upload "
			    "for", e);
		memcpy(tmpname, UPLOAD_PREFIX, pl);
		for (size_t j = 0; j < sizeof(rnd); j++) {
			tmpname[pl + 2 * j] = hex[rnd[j] >> 4];
			tmpname[pl + 2 * j + 1] = hex[rnd[j] & 15];
		}
		tmpname[pl + UPLOAD_HEX] = '\0';
		*fdp = openat(dfd, tmpname, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (*fdp >= 0)
			return SBXD_OK;
		if (errno != EEXIST)
			return fsops_fail_errno(errno, rel,
			    "creating an upload for", e);
	}
	return err_set(e, SBXD_ABORTED, "could not create a temporary file "
	    "for '" PATHF "'; retry", PATHA(rel));
}

sbxd_code
fsops_upload_open(struct fsops_root *r, const char *rel, char tmpname[256],
    struct err *e)
{
	char dir[FSOPS_PATH_MAX];
	const char *leaf;
	mode_t mode;
	int dfd = -1, fd = -1;
	sbxd_code rv;

	tmpname[0] = '\0';
	if ((rv = fsops_split_rel(rel, dir, sizeof(dir), &leaf, e)) != SBXD_OK)
		return rv;
	if ((rv = fsops_open_parent(r, dir, &dfd, e)) != SBXD_OK)
		return rv;
	if ((rv = fsops_replace_mode(dfd, leaf, rel, &mode, e)) != SBXD_OK)
		goto out;
	if ((rv = upload_create(dfd, tmpname, &fd, rel, e)) != SBXD_OK)
		goto out;
	rv = fsops_adopt(r, fd, 0600, rel, e);
out:
	if (fd != -1)
		close(fd);
	if (rv != SBXD_OK && tmpname[0] != '\0') {
		unlinkat(dfd, tmpname, 0);
		tmpname[0] = '\0';
	}
	close(dfd);
	return rv;
}

/* Opens an upload's temporary file (flags: O_RDONLY or O_WRONLY), never
 * through a symlink, never anything but a regular file. */
static sbxd_code
upload_fd(const struct fsops_root *r, const char *rel, const char *tmpname,
    int flags, const char **leaf, int *dfd, int *fd, struct stat *st,
    struct err *e)
{
	char dir[FSOPS_PATH_MAX];
	sbxd_code rv;

	*fd = -1;
	if ((rv = upload_name_check(tmpname, e)) != SBXD_OK)
		return rv;
	if ((rv = fsops_open_at_parent(r, rel, dir, leaf, dfd, e)) != SBXD_OK)
		return rv;
	*fd = openat(*dfd, tmpname, flags | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (*fd == -1) {
		if (errno == ENOENT)
			return err_set(e, SBXD_NOT_FOUND, "the upload to '"
			    PATHF "' is gone (its temporary file was "
			    "removed); start again", PATHA(rel));
		return fsops_fail_errno(errno, rel, "uploading", e);
	}
	if (fstat(*fd, st) == -1)
		return fsops_fail_errno(errno, rel, "uploading", e);
	if (!S_ISREG(st->st_mode))
		return err_set(e, SBXD_FAILED_PRECONDITION, "the upload to '"
		    PATHF "' was tampered with; start again", PATHA(rel));
	return SBXD_OK;
}

sbxd_code
fsops_upload_write(struct fsops_root *r, const char *rel, const char *tmpname,
    uint64_t offset, const void *data, size_t len, struct err *e)
{
	const char *p = data, *leaf;
	struct stat st;
	int dfd = -1, fd = -1;
	ssize_t n;
	sbxd_code rv;

	if (offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - offset)
		return err_set(e, SBXD_OUT_OF_RANGE, "upload offset %llu is "
		    "past the largest file size", (unsigned long long)offset);
	rv = upload_fd(r, rel, tmpname, O_WRONLY, &leaf, &dfd, &fd, &st, e);
	while (rv == SBXD_OK && len > 0) {
		n = pwrite(fd, p, len, (off_t)offset);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rv = fsops_fail_errno(errno, rel, "uploading", e);
			break;
		}
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	return rv;
}

/* SHA-256 of fd's whole content. */
static sbxd_code
hash_fd(int fd, uint8_t out[32], const char *rel, struct err *e)
{
	crypto_hash_sha256_state st;
	unsigned char chunk[READ_CHUNK];
	off_t off = 0;
	ssize_t n;

	if (sodium_init() < 0)
		return err_set(e, SBXD_INTERNAL, "libsodium failed to start");
	crypto_hash_sha256_init(&st);
	for (;;) {
		n = pread(fd, chunk, sizeof(chunk), off);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return fsops_fail_errno(errno, rel,
			    "checking the upload of", e);
		}
		crypto_hash_sha256_update(&st, chunk, (unsigned long long)n);
		off += n;
	}
	crypto_hash_sha256_final(&st, out);
	return SBXD_OK;
}

/* The size and checksum checks; DATA_LOSS names the one that failed. */
static sbxd_code
upload_verify(int fd, const struct stat *st, uint64_t size,
    const uint8_t *sha256, const char *rel, struct err *e)
{
	uint8_t got[32];
	sbxd_code rv;

	if ((uint64_t)st->st_size != size)
		return err_set(e, SBXD_DATA_LOSS, "the upload to '" PATHF "' "
		    "failed the size check: %jd bytes arrived, %llu expected",
		    PATHA(rel), (intmax_t)st->st_size,
		    (unsigned long long)size);
	if (sha256 == NULL)
		return SBXD_OK;
	if ((rv = hash_fd(fd, got, rel, e)) != SBXD_OK)
		return rv;
	if (sodium_memcmp(got, sha256, sizeof(got)) != 0)
		return err_set(e, SBXD_DATA_LOSS, "the upload to '" PATHF "' "
		    "failed the SHA-256 check: the content differs from what "
		    "was sent", PATHA(rel));
	return SBXD_OK;
}

/* Finishing is final: on any failure after the handle is validated the
 * temporary file is removed too, so a caller forgets the upload either way
 * (fsops_upload_abort afterwards is harmless). */
sbxd_code
fsops_upload_finish(struct fsops_root *r, const char *rel, const char *tmpname,
    uint64_t size, const uint8_t *sha256, struct err *e)
{
	const char *leaf;
	struct stat st;
	mode_t mode;
	int dfd = -1, fd = -1, done = 0;
	sbxd_code rv;

	rv = upload_fd(r, rel, tmpname, O_RDONLY, &leaf, &dfd, &fd, &st, e);
	if (rv != SBXD_OK)
		goto out;
	if ((rv = upload_verify(fd, &st, size, sha256, rel, e)) != SBXD_OK)
		goto out;
	if ((rv = fsops_replace_mode(dfd, leaf, rel, &mode, e)) != SBXD_OK)
		goto out;
	if (fchmod(fd, mode) == -1) {
		rv = fsops_fail_errno(errno, rel, "setting the mode of", e);
		goto out;
	}
	if (renameat(dfd, tmpname, dfd, leaf) == -1) {
		rv = fsops_fail_errno(errno == ENOTEMPTY ? EISDIR : errno, rel,
		    "replacing", e);
		goto out;
	}
	done = 1;
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1) {
		if (!done)
			unlinkat(dfd, tmpname, 0);
		close(dfd);
	}
	return rv;
}

void
fsops_upload_abort(struct fsops_root *r, const char *rel, const char *tmpname)
{
	char dir[FSOPS_PATH_MAX];
	const char *leaf;
	int dfd;

	if (upload_name_check(tmpname, NULL) != SBXD_OK)
		return;
	if (fsops_open_at_parent(r, rel, dir, &leaf, &dfd, NULL) != SBXD_OK)
		return;
	unlinkat(dfd, tmpname, 0);
	close(dfd);
}
