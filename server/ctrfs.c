/*
 * ctrfs.c — files outside /workspace, served through the container (see
 * ctrfs.h): path folding, and reading, writing and stat. Contents travel
 * as tar through the Engine API's archive endpoints (built and read here
 * with libarchive), and everything that must be judged as the sandbox user
 * sees it runs as a fixed helper command in the container, as the sandbox
 * user, with paths only ever passed as argv elements (never spliced into a
 * shell string). Running those helpers and mapping their failures, and the
 * operations made only of them (list, mkdir, remove, move), are
 * ctrfs_cmd.c's; this file holds the read and write probes themselves.
 *
 * Two facts of the engine (20.10) shape this file. The archive endpoints
 * act as root, so on their own they would let the sandbox read /etc/shadow
 * or rewrite /etc/passwd. And they act on the daemon's view of the
 * container — its root filesystem and bind mounts — which lacks a tmpfs
 * mounted inside it (a Tmpfs /tmp, /dev/shm): there a GET says 404 and a
 * PUT answers 200 while the file lands, unseen, in the root filesystem
 * underneath. So reads and writes first run a probe as the sandbox user:
 * it checks what the user may do, resolves symlinks and creates missing
 * parents the container's way, and names the mount holding the file.
 * Files the engine sees then move as tar, by their resolved paths; other
 * files are read by the probe itself (dd) and written by the sandbox
 * user's own cat, fed on stdin (the read-only root's tmpfs /tmp and home
 * need this when no agent serves files). Code in the sandbox racing the
 * probe (swapping a directory for a symlink in between) can still aim
 * the archive call elsewhere in the root filesystem: the probe narrows
 * that window, it does not close it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "ctrfs.h"
#include "ctrfs_int.h"
#include "driver.h"
#include "err.h"
#include "fsops.h"

#define CTRFS_TAR_SLACK		(64u << 10)	/* tar headers over a file's bytes */
#define CTRFS_SIZE_CAP		((size_t)1 << 40)	/* sizes given to helpers */

/* The read probe. $1 the path, $2 the ceiling. Exit 3 directory, 4 not a
 * regular file, 5 unreadable, 6 over the ceiling (size on stdout). Else,
 * on a mount the engine sees: "A<size>\n<resolved path>\0"; elsewhere:
 * "D<size>\n<content>" (dd with O_NONBLOCK: a FIFO swapped in cannot
 * block it). Exit 1: a command failed, its stderr says why. */
static const char read_probe[] =
    "t=$(stat -L -c %F -- \"$1\") || exit 1\n"
    "case $t in directory) exit 3;; regular*) ;; *) exit 4;; esac\n"
    "[ -r \"$1\" ] || exit 5\n"
    "s=$(stat -L -c %s -- \"$1\") || exit 1\n"
    "[ \"$s\" -le \"$2\" ] || { echo \"$s\"; exit 6; }\n"
    "m=$(stat -L -c %m -- \"$1\") || exit 1\n"
    "case $m in /|/workspace) printf 'A%s\\n' \"$s\";"
    " exec readlink -z -f -- \"$1\";; esac\n"
    "printf 'D%s\\n' \"$s\"\n"
    "exec dd bs=65536 iflag=nonblock status=none \"if=$1\"\n";

/* The write probe. $1 the path, $2 its parent (created if missing). Exit
 * 3 directory, 4 not a regular file, 5 not writable by the user. Prints
 * "N\n" for a new file, "L\n" for a symlink to replace, or "<mode> <uid>
 * <gid>\n" of an existing file; then the parent's mount point, "\n", and
 * the parent resolved, "\0". A symlink is replaced, never written through
 * (as fsops does); in a sticky directory only its owner or the
 * directory's may. */
static const char write_probe[] =
    "[ -d \"$2\" ] || mkdir -p -- \"$2\" || exit 1\n"
    "if [ -L \"$1\" ]; then\n"
    " [ -w \"$2\" ] || exit 5\n"
    " if [ -k \"$2\" ] && ! [ -O \"$2\" ] &&\n"
    "  [ \"$(stat -c %u -- \"$1\")\" != \"$(id -u)\" ]; then exit 5; fi\n"
    " n=L\n"
    "elif [ -d \"$1\" ]; then exit 3\n"
    "elif [ -e \"$1\" ]; then\n"
    " [ -f \"$1\" ] || exit 4\n"
    " [ -w \"$1\" ] || exit 5\n"
    " n=$(stat -c '%a %u %g' -- \"$1\") || exit 1\n"
    "else\n"
    " [ -w \"$2\" ] || exit 5\n"
    " n=N\n"
    "fi\n"
    "m=$(stat -c %m -- \"$2\") || exit 1\n"
    "printf '%s\\n%s\\n' \"$n\" \"$m\"\n"
    "exec readlink -z -f -- \"$2\"\n";

/* The write of a file on a mount the engine cannot see (a tmpfs): the
 * sandbox user's own cat, fed the content on stdin, so the kernel judges
 * it as it judges the user. $1 the path; $2 "a" to append to the existing
 * file, at most $3 bytes long before (else exit 6, its size on stdout),
 * "l" to replace a symlink (never written through), "w" to write. */
static const char stdin_write[] =
    "case $2 in\n"
    "a) s=$(stat -c %s -- \"$1\") || exit 1\n"
    " [ \"$s\" -le \"$3\" ] || { echo \"$s\"; exit 6; }\n"
    " exec cat >> \"$1\";;\n"
    "l) rm -f -- \"$1\" || exit 1;;\n"
    "esac\n"
    "exec cat > \"$1\"\n";

/* The engine's archive endpoints see the root filesystem and bind mounts
 * (the workspace); not a tmpfs mounted inside the container. */
static int
engine_sees(const char *mnt)
{
	return strcmp(mnt, "/") == 0 || strcmp(mnt, "/workspace") == 0;
}

/* ---- paths */

/* See ctrfs.h. */
sbxd_code
ctrfs_abs_path(const char *p, size_t len, char *out, size_t outsz,
    struct err *e)
{
	char tmp[FSOPS_PATH_MAX + 2];
	size_t i = 0, n = 0, j, clen;

	if (len > FSOPS_PATH_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "path is %zu bytes; the limit is %d", len, FSOPS_PATH_MAX);
	if (len > 0 && memchr(p, '\0', len) != NULL)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "path contains a NUL byte");
	if (len == 0 || p[0] != '/')
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "path must be absolute outside /workspace");
	while (i < len) {
		for (j = i; j < len && p[j] != '/'; j++)
			;
		clen = j - i;
		if (clen > CTRFS_COMPONENT_MAX)
			return err_set(e, SBXD_INVALID_ARGUMENT, "path has a "
			    "component of %zu bytes; the limit is %d", clen,
			    CTRFS_COMPONENT_MAX);
		if (clen == 2 && p[i] == '.' && p[i + 1] == '.') {
			while (n > 0 && tmp[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else if (clen > 0 && !(clen == 1 && p[i] == '.')) {
			tmp[n++] = '/';
			memcpy(tmp + n, p + i, clen);
			n += clen;
		}
		i = j + 1;
	}
	if (n == 0)
		tmp[n++] = '/';
	tmp[n] = '\0';
	if (n + 1 > outsz)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "path is %zu bytes; the limit is %zu", n,
		    outsz ? outsz - 1 : 0);
	memcpy(out, tmp, n + 1);
	return SBXD_OK;
}

/* See ctrfs_int.h. */
int
ctrfs_parent_of(const char *path, char *dst, size_t n)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (slash == NULL || path[1] == '\0')
		return -1;
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len + 1 > n)
		return -1;
	memcpy(dst, path, len);
	dst[len] = '\0';
	return 0;
}

/* See ctrfs_int.h. */
const char *
ctrfs_base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return path[0] == '/' && path[1] == '\0' ? path :
	    slash ? slash + 1 : path;
}

/* ---- reading */

static const char *
ar_err(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s != NULL ? s : "unknown error";
}

/* Reads the single entry of a tar into out. A symlink sets *link and
 * leaves out empty. */
static sbxd_code
tar_extract(const struct buf *tar, const char *path, struct buf *out,
    int *link, struct err *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	char chunk[16384];
	la_ssize_t got;
	sbxd_code rv = SBXD_INTERNAL;
	int r;

	*link = 0;
	if (a == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tar->data, tar->len) != ARCHIVE_OK ||
	    (r = archive_read_next_header(a, &ent)) < ARCHIVE_WARN) {
		rv = err_set(e, SBXD_INTERNAL, "reading '%.300s': the Docker "
		    "engine sent an unreadable tar: %s", path, ar_err(a));
		goto out;
	}
	if (r == ARCHIVE_EOF) {
		rv = err_set(e, SBXD_INTERNAL, "reading '%.300s': the Docker "
		    "engine sent an empty tar", path);
		goto out;
	}
	switch (archive_entry_filetype(ent)) {
	case AE_IFREG:
		break;
	case AE_IFDIR:
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is a "
		    "directory", path);
		goto out;
	case AE_IFLNK:
		*link = 1;
		rv = SBXD_OK;
		goto out;
	default:
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is not a "
		    "regular file", path);
		goto out;
	}
	if (archive_entry_size(ent) < 0 ||
	    (uint64_t)archive_entry_size(ent) > out->max) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "File '%.300s' is %lld "
		    "bytes; the read ceiling is %zu bytes", path,
		    (long long)archive_entry_size(ent), out->max);
		goto out;
	}
	while ((got = archive_read_data(a, chunk, sizeof(chunk))) > 0)
		if ((rv = buf_add(out, chunk, (size_t)got)) != SBXD_OK) {
			rv = rv == SBXD_RESOURCE_EXHAUSTED ? err_set(e, rv,
			    "File '%.300s' is larger than the read ceiling of "
			    "%zu bytes", path, out->max) : err_set(e, rv,
			    "reading '%.300s': out of memory", path);
			goto out;
		}
	if (got < 0) {
		rv = err_set(e, SBXD_INTERNAL, "reading '%.300s': a truncated "
		    "tar from the Docker engine: %s", path, ar_err(a));
		goto out;
	}
	if (archive_read_next_header(a, &ent) != ARCHIVE_EOF) {
		rv = err_set(e, SBXD_INTERNAL, "reading '%.300s': the Docker "
		    "engine sent more than one file", path);
		goto out;
	}
	rv = SBXD_OK;
out:
	archive_read_free(a);
	return rv;
}

/* Reads the regular file at path (resolved by the probe: no symlink in
 * it) through the archive API. A symlink or anything else found there now
 * was swapped in since the probe looked; it is refused, never followed:
 * the engine reads as root, and following a planted link is what a racing
 * sandbox would want. */
static sbxd_code
read_archived(struct ctrfs *c, const char *path, const char *shown,
    struct buf *out, struct err *e)
{
	struct buf tar;
	sbxd_code rv;
	int link;

	buf_init(&tar, out->max > SIZE_MAX - CTRFS_TAR_SLACK ? SIZE_MAX :
	    out->max + CTRFS_TAR_SLACK);
	buf_reset(out);
	rv = c->drv->ops->archive_get(c->drv, c->cid, path, &tar, e);
	if (rv == SBXD_NOT_FOUND)
		rv = err_set(e, rv, "File '%.300s' not found", shown);
	else if (rv == SBXD_RESOURCE_EXHAUSTED)
		rv = err_set(e, rv, "File '%.300s' is larger than the read "
		    "ceiling of %zu bytes", shown, out->max);
	if (rv == SBXD_OK)
		rv = tar_extract(&tar, shown, out, &link, e);
	if (rv == SBXD_OK && link)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' changed "
		    "while being read (it is now a symbolic link); try again",
		    shown);
	buf_fini(&tar);
	if (rv != SBXD_OK)
		buf_reset(out);
	return rv;
}

/* Splits a probe's "<tag><number>\n" header off p[0..len); -1 if
 * malformed. */
static int
probe_head(const char *p, size_t len, char *tag, uint64_t *num,
    size_t *used)
{
	const char *nl = memchr(p, '\n', len);
	char *end;

	if (len < 2 || nl == NULL)
		return -1;
	*tag = p[0];
	*num = strtoull(p + 1, &end, 10);
	if (end != nl)
		return -1;
	*used = (size_t)(nl - p) + 1;
	return 0;
}

/* Maps the read probe's failure. */
static sbxd_code
read_probe_fail(const struct driver_exec_result *res, const char *path,
    size_t max, struct err *e)
{
	switch (res->exit_code) {
	case 3:
		return err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is a "
		    "directory", path);
	case 4:
		return err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is not a "
		    "regular file", path);
	case 5:
		return err_set(e, SBXD_PERMISSION_DENIED, "cannot read "
		    "'%.300s': not readable by the sandbox user", path);
	case 6:
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "File '%.300s' is "
		    "%llu bytes; the read ceiling is %zu bytes", path,
		    strtoull(res->out.data ? res->out.data : "0", NULL, 10),
		    max);
	default:
		return ctrfs_helper_fail(res, "reading", path, e);
	}
}

static sbxd_code denied(const char *path, struct err *e);

/* A failed file call of the driver's direct route (driver.h file_read,
 * file_write, file_stat), as the errors ctrfs.h promises. */
static sbxd_code
direct_fail(int en, int writing, const char *path, size_t max, struct err *e)
{
	switch (en) {
	case ENOENT:
		return err_set(e, SBXD_NOT_FOUND, "File '%.300s' not found", path);
	case EISDIR:
		return err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is a directory", path);
	case EINVAL:
		return err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is not a regular file",
		    path);
	case ENOTDIR:
		return err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s': a parent is not a "
		    "directory", path);
	case EFBIG:
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "File '%.300s' is larger than "
		    "the read ceiling of %zu bytes", path, max);
	case ENOSPC:
	case EDQUOT:
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "cannot write '%.300s': no "
		    "space left on its filesystem", path);
	case EACCES:
	case EPERM:
	case EROFS:
		if (writing)
			return denied(path, e);
		return err_set(e, SBXD_PERMISSION_DENIED, "cannot read '%.300s': not "
		    "readable by the sandbox user", path);
	default:
		return err_set(e, SBXD_INTERNAL, "%s '%.300s' in the container: %s",
		    writing ? "writing" : "reading", path, strerror(en));
	}
}

/* See ctrfs.h. out->max is the ceiling; out is reset on failure. */
sbxd_code
ctrfs_read_file(struct ctrfs *c, const char *path, struct buf *out,
    struct err *e)
{
	char ceiling[32];
	const char *argv[] = { "sh", "-c", read_probe, "sh", path, ceiling,
	    NULL };
	struct driver_exec_result res;
	uint64_t size;
	size_t used;
	char tag;
	sbxd_code rv;

	buf_reset(out);
	if (c->drv->ops->file_read != NULL) {
		int en = 0;

		rv = c->drv->ops->file_read(c->drv, c->cid, path, out, &en, e);
		if (rv != SBXD_UNIMPLEMENTED) {
			if (rv == SBXD_OK && en != 0)
				rv = direct_fail(en, 0, path, out->max, e);
			if (rv != SBXD_OK)
				buf_reset(out);
			return rv;
		}
		err_clear(e);
	}
	snprintf(ceiling, sizeof(ceiling), "%zu", out->max < CTRFS_SIZE_CAP ?
	    out->max : CTRFS_SIZE_CAP);
	/* the content comes back here from a mount the engine cannot see */
	rv = ctrfs_run(c, argv, (out->max < CTRFS_SIZE_CAP ? out->max :
	    CTRFS_SIZE_CAP) + 64 + FSOPS_PATH_MAX, &res, e);
	if (rv != SBXD_OK)
		goto out;
	if (res.exit_code != 0) {
		rv = read_probe_fail(&res, path, out->max, e);
		goto out;
	}
	if (probe_head(res.out.data ? res.out.data : "", res.out.len, &tag,
	    &size, &used) == -1 || (tag != 'A' && tag != 'D')) {
		rv = err_set(e, SBXD_INTERNAL, "reading '%.300s': the helper "
		    "command in the container answered nonsense", path);
		goto out;
	}
	if (tag == 'A') {
		/* "<resolved path>\0" follows the header */
		if (res.out.len - used < 2 || res.out.data[used] != '/' ||
		    res.out.len - used - 1 > FSOPS_PATH_MAX ||
		    strlen(res.out.data + used) != res.out.len - used - 1) {
			rv = err_set(e, SBXD_INTERNAL, "reading '%.300s': the "
			    "helper command in the container answered "
			    "nonsense", path);
			goto out;
		}
		rv = read_archived(c, res.out.data + used, path, out, e);
		goto out;
	}
	if (res.truncated || res.out.len - used > out->max) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "File '%.300s' grew "
		    "past the read ceiling of %zu bytes while being read",
		    path, out->max);
		goto out;
	}
	rv = buf_add(out, res.out.data + used, res.out.len - used);
	if (rv != SBXD_OK)
		rv = err_set(e, rv, "reading '%.300s': out of memory", path);
out:
	driver_exec_result_fini(&res);
	if (rv != SBXD_OK)
		buf_reset(out);
	return rv;
}

/* ---- writing */

struct write_plan {
	int exists;			/* a regular file to rewrite in place */
	int is_link;			/* a symlink to replace */
	unsigned mode;
	long uid, gid;
	char mnt[256];			/* the parent's mount point */
	char dir[FSOPS_PATH_MAX + 1];	/* the parent, resolved */
};

/* Parses the write probe's answer. */
static int
plan_parse(const struct buf *o, struct write_plan *w)
{
	const char *p = o->data, *end = o->data + o->len, *nl, *z;

	if (p == NULL || (nl = memchr(p, '\n', o->len)) == NULL)
		return -1;
	if (nl - p == 1 && (p[0] == 'N' || p[0] == 'L'))
		w->is_link = p[0] == 'L';
	else if (sscanf(p, "%o %ld %ld", &w->mode, &w->uid, &w->gid) == 3)
		w->exists = 1;
	else
		return -1;
	p = nl + 1;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
	    (size_t)(nl - p) >= sizeof(w->mnt))
		return -1;
	memcpy(w->mnt, p, (size_t)(nl - p));
	w->mnt[nl - p] = '\0';
	p = nl + 1;
	if ((z = memchr(p, '\0', (size_t)(end - p))) == NULL || z == p ||
	    (size_t)(z - p) >= sizeof(w->dir))
		return -1;
	memcpy(w->dir, p, (size_t)(z - p) + 1);
	return 0;
}

static sbxd_code
denied(const char *path, struct err *e)
{
	return err_set(e, SBXD_PERMISSION_DENIED, "cannot write '%.300s': "
	    "read-only filesystem or not writable by the sandbox user", path);
}

/* Runs the write probe (creating parents) and fills w. */
static sbxd_code
write_plan(struct ctrfs *c, const char *path, const char *parent,
    struct write_plan *w, struct err *e)
{
	const char *argv[] = { "sh", "-c", write_probe, "sh", path, parent,
	    NULL };
	struct driver_exec_result res;
	char t[CTRFS_ERRTEXT + 1];
	sbxd_code rv;

	memset(w, 0, sizeof(*w));
	if ((rv = ctrfs_run(c, argv, CTRFS_PROBE_OUT, &res, e)) != SBXD_OK)
		goto out;
	switch (res.exit_code) {
	case 0:
		if (plan_parse(&res.out, w) == -1)
			rv = err_set(e, SBXD_INTERNAL, "writing '%.300s': the "
			    "helper command in the container answered "
			    "nonsense", path);
		break;
	case 3:
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is a "
		    "directory", path);
		break;
	case 4:
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is not a "
		    "regular file", path);
		break;
	case 5:
		rv = denied(path, e);
		break;
	default:
		ctrfs_errtext(&res, t, sizeof(t));
		if (strstr(t, "Read-only file system") ||
		    strstr(t, "Permission denied"))
			rv = denied(path, e);
		else
			rv = ctrfs_parents_fail(&res, path, e);
	}
out:
	driver_exec_result_fini(&res);
	return rv;
}

/* libarchive's write callback: appends to the struct buf. */
static la_ssize_t
tar_sink(struct archive *a, void *arg, const void *p, size_t n)
{
	if (buf_add(arg, p, n) != SBXD_OK) {
		archive_set_error(a, ENOMEM, "tar larger than its ceiling");
		return -1;
	}
	return (la_ssize_t)n;
}

/* Builds a tar of one regular file, name, into tar. */
static sbxd_code
tar_build(const char *name, const void *data, size_t len, unsigned mode,
    long uid, long gid, struct buf *tar, struct err *e)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ent = archive_entry_new();
	sbxd_code rv = SBXD_INTERNAL;

	if (a == NULL || ent == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory");
		goto out;
	}
	archive_entry_set_pathname(ent, name);
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, mode);
	archive_entry_set_size(ent, (la_int64_t)len);
	archive_entry_set_uid(ent, uid);
	archive_entry_set_gid(ent, gid);
	archive_entry_set_mtime(ent, time(NULL), 0);
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, tar, NULL, tar_sink, NULL) != ARCHIVE_OK ||
	    archive_write_header(a, ent) < ARCHIVE_WARN ||
	    (len > 0 && archive_write_data(a, data, len) != (la_ssize_t)len) ||
	    archive_write_close(a) != ARCHIVE_OK) {
		rv = err_set(e, SBXD_INTERNAL, "building a tar of '%.200s': "
		    "%s", name, ar_err(a));
		goto out;
	}
	rv = SBXD_OK;
out:
	archive_entry_free(ent);
	archive_write_free(a);
	return rv;
}

/* Reads path's current content for an append (plan says it exists);
 * the result and content must fit max_file. */
static sbxd_code
append_base(struct ctrfs *c, const char *path, const struct write_plan *w,
    size_t addlen, size_t max_file, struct buf *whole, struct err *e)
{
	char p[FSOPS_PATH_MAX + 1];
	sbxd_code rv;

	if (w->is_link)
		return err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is a "
		    "symbolic link; append does not follow it", path);
	if (!w->exists)
		return SBXD_OK;
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", strcmp(w->dir, "/") ?
	    w->dir : "", ctrfs_base_of(path)) >= sizeof(p))
		return err_set(e, SBXD_INVALID_ARGUMENT, "'%.300s': path too "
		    "long once resolved", path);
	rv = read_archived(c, p, path, whole, e);
	if (rv == SBXD_RESOURCE_EXHAUSTED || (rv == SBXD_OK &&
	    whole->len > max_file - addlen))
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "appending %zu bytes "
		    "to '%.300s' would pass the file size limit of %zu bytes",
		    addlen, path, max_file);
	return rv;
}

/* Writes path, on a mount only the container sees, by stdin_write (w:
 * the write probe's plan). */
static sbxd_code
write_by_command(struct ctrfs *c, const char *path, const struct write_plan *w,
    const void *content, size_t len, int append, size_t max_file, struct err *e)
{
	char room[32];
	const char *argv[] = { "sh", "-c", stdin_write, "sh", path,
	    append && w->exists ? "a" : w->is_link ? "l" : "w", room, NULL };
	struct driver_exec_result res;
	sbxd_code rv;

	if (append && w->is_link)
		return err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is a "
		    "symbolic link; append does not follow it", path);
	snprintf(room, sizeof(room), "%zu", max_file - len);
	/* nothing to feed: a plain exec, whose stdin is empty */
	rv = ctrfs_run_stdin(c, argv, len > 0 ? content : NULL, len,
	    CTRFS_PROBE_OUT, &res, e);
	if (rv == SBXD_OK && res.exit_code == 6)
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "appending %zu bytes "
		    "to '%.300s' would pass the file size limit of %zu bytes",
		    len, path, max_file);
	else if (rv == SBXD_OK && res.exit_code != 0)
		rv = ctrfs_helper_fail(&res, "writing", path, e);
	driver_exec_result_fini(&res);
	return rv;
}

/* See ctrfs.h. max_file bounds the result (an append's included). */
/* The write through the driver's direct route; UNIMPLEMENTED when it has
 * none now. An append first learns the size, for the ceiling. */
static sbxd_code
write_direct(struct ctrfs *c, const char *path, const void *content, size_t len, int append,
    size_t max_file, struct err *e)
{
	struct driver_path_stat st;
	int en = 0;
	sbxd_code rv;

	if (c->drv->ops->file_write == NULL)
		return SBXD_UNIMPLEMENTED;
	if (append) {
		rv = c->drv->ops->file_stat(c->drv, c->cid, path, &st, &en, e);
		if (rv != SBXD_OK)
			return rv;
		if (en == 0 && st.size + len > max_file)
			return err_set(e, SBXD_RESOURCE_EXHAUSTED, "appending %zu bytes to "
			    "'%.300s' (%llu bytes) passes the file size limit of %zu bytes",
			    len, path, (unsigned long long)st.size, max_file);
	}
	rv = c->drv->ops->file_write(c->drv, c->cid, path, content, len, append, &en, e);
	if (rv == SBXD_OK && en != 0)
		rv = direct_fail(en, 1, path, max_file, e);
	return rv;
}

sbxd_code
ctrfs_write_file(struct ctrfs *c, const char *path, const void *content,
    size_t len, int append, size_t max_file, struct err *e)
{
	char parent[FSOPS_PATH_MAX + 1];
	struct write_plan w;
	struct buf whole, tar;
	sbxd_code rv;

	buf_init(&whole, max_file);
	buf_init(&tar, max_file > SIZE_MAX - CTRFS_TAR_SLACK ? SIZE_MAX :
	    max_file + CTRFS_TAR_SLACK);
	if (ctrfs_parent_of(path, parent, sizeof(parent)) == -1) {
		rv = err_set(e, SBXD_INVALID_ARGUMENT, "cannot write '%.300s': "
		    "not a file path", path);
		goto out;
	}
	if (len > max_file) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "content is %zu bytes; "
		    "the file size limit is %zu bytes", len, max_file);
		goto out;
	}
	if ((rv = write_direct(c, path, content, len, append, max_file, e)) !=
	    SBXD_UNIMPLEMENTED)
		goto out;
	err_clear(e);
	if ((rv = write_plan(c, path, parent, &w, e)) != SBXD_OK)
		goto out;
	if (!engine_sees(w.mnt)) {
		rv = write_by_command(c, path, &w, content, len, append,
		    max_file, e);
		goto out;
	}
	if (append &&
	    (rv = append_base(c, path, &w, len, max_file, &whole, e)) != SBXD_OK)
		goto out;
	if ((rv = buf_add(&whole, content, len)) != SBXD_OK) {
		rv = err_set(e, rv, "writing '%.300s': out of memory", path);
		goto out;
	}
	/* in place: the owner stays; set-id bits go, as the kernel drops
	 * them when a non-owner writes */
	if ((rv = tar_build(ctrfs_base_of(path), whole.data, whole.len,
	    w.exists ? w.mode & 0777 : 0644, w.exists ? w.uid : (long)c->uid,
	    w.exists ? w.gid : (long)c->gid, &tar, e)) != SBXD_OK)
		goto out;
	rv = c->drv->ops->archive_put(c->drv, c->cid, w.dir, tar.data, tar.len,
	    e);
	if (rv == SBXD_PERMISSION_DENIED)
		rv = denied(path, e);
	else if (rv == SBXD_NOT_FOUND)
		rv = err_set(e, rv, "cannot write '%.300s': its directory "
		    "vanished", path);
out:
	buf_fini(&whole);
	buf_fini(&tar);
	return rv;
}

/* ---- stat */

/* See ctrfs.h. The engine's view first (one HEAD); a miss there is asked
 * again inside the container, which also sees its own tmpfs mounts. */
sbxd_code
ctrfs_stat(struct ctrfs *c, const char *path, struct fsops_entry *out,
    int *exists, struct err *e)
{
	struct driver_path_stat st;
	sbxd_code rv;

	*exists = 0;
	memset(out, 0, sizeof(*out));
	if (c->drv->ops->file_stat != NULL) {
		int en = 0;

		rv = c->drv->ops->file_stat(c->drv, c->cid, path, &st, &en, e);
		if (rv == SBXD_OK && en == ENOENT)
			return SBXD_OK;
		if (rv == SBXD_OK && en != 0)
			return direct_fail(en, 0, path, 0, e);
		if (rv == SBXD_OK)
			goto found;
		if (rv != SBXD_UNIMPLEMENTED)
			return rv;
		err_clear(e);
	}
	rv = c->drv->ops->path_stat(c->drv, c->cid, path, &st, e);
	if (rv == SBXD_NOT_FOUND) {
		err_clear(e);
		return ctrfs_stat_exec(c, path, out, exists, e);
	}
	if (rv != SBXD_OK)
		return rv;
found:
	snprintf(out->name, sizeof(out->name), "%s", ctrfs_base_of(path));
	snprintf(out->rel, sizeof(out->rel), "%s", path);
	out->is_dir = S_ISDIR(st.mode);
	out->is_symlink = S_ISLNK(st.mode);
	out->size = st.size;
	out->mode = st.mode;
	out->mtime_ms = st.mtime_ms;
	*exists = 1;
	return SBXD_OK;
}
