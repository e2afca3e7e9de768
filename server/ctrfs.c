/*
 * ctrfs.c — files outside /workspace, served through the container (see
 * ctrfs.h): contents travel as tar through the Engine API's archive
 * endpoints (built and read here with libarchive), and everything that
 * must be judged as the sandbox user sees it runs as a fixed helper command
 * in the container, as the sandbox user, with paths only ever passed as
 * argv elements (never spliced into a shell string).
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
 * files are read by the probe itself (dd), and writing them is
 * UNIMPLEMENTED. Code in the sandbox racing the probe (swapping a
 * directory for a symlink in between) can still aim the archive call
 * elsewhere in the root filesystem: the probe narrows that window, it
 * does not close it.
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
#include "driver.h"
#include "err.h"
#include "fsops.h"

#define CTRFS_EXEC_MS		60000	/* one helper command */
#define CTRFS_PROBE_OUT		(64u << 10)	/* probe and error output */
#define CTRFS_LIST_OUT		(8u << 20)	/* find's records for one directory */
#define CTRFS_TAR_SLACK		(64u << 10)	/* tar headers over a file's bytes */
#define CTRFS_COMPONENT_MAX	255
#define CTRFS_ERRTEXT		200	/* helper stderr quoted in messages */
#define CTRFS_SIZE_CAP		((size_t)1 << 40)	/* sizes given to helpers */

/* find -printf: type, size, permission bits, mtime, name; NUL-ended. */
#define FIND_FMT		"%y\t%s\t%m\t%T@\t%f\\0"

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

/* Move: $1 from, $2 to, $3 to's parent (created), $4 "1" to overwrite.
 * mv -T: an existing directory at to is a name, never a destination
 * folder. Exit 16 when the parent cannot be made, 17 when to exists
 * (checked first, and after mv -n, which skips it silently or, in newer
 * coreutils, with an error). */
static const char move_script[] =
    "ls -d -- \"$1\" >/dev/null || exit 1\n"
    "[ -d \"$3\" ] || mkdir -p -- \"$3\" || exit 16\n"
    "if [ \"$4\" = 1 ]; then exec mv -f -T -- \"$1\" \"$2\"; fi\n"
    "if [ -e \"$2\" ] || [ -L \"$2\" ]; then exit 17; fi\n"
    "mv -n -T -- \"$1\" \"$2\" || exit 1\n"
    "if [ -e \"$1\" ] || [ -L \"$1\" ]; then exit 17; fi\n";

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

/* The parent of a folded absolute path into dst ("/" for "/x"); -1 for
 * "/" itself. */
static int
parent_of(const char *path, char *dst, size_t n)
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

static const char *
base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return path[0] == '/' && path[1] == '\0' ? path :
	    slash ? slash + 1 : path;
}

/* ---- helper commands */

/* Runs argv in the container as the sandbox user (cwd "/"); res is the
 * caller's to driver_exec_result_fini whatever happens. A timeout is
 * DEADLINE_EXCEEDED. */
static sbxd_code
run(struct ctrfs *c, const char *const *argv, size_t max_output,
    struct driver_exec_result *res, struct err *e)
{
	struct driver_exec_spec s = {
		.container_id = c->cid, .argv = argv, .user = c->user,
		.workdir = "/", .timeout_ms = CTRFS_EXEC_MS,
		.max_output = max_output,
	};
	sbxd_code rv;

	memset(res, 0, sizeof(*res));
	if ((rv = c->drv->ops->exec(c->drv, &s, res, e)) != SBXD_OK)
		return rv;
	if (res->timed_out)
		return err_set(e, SBXD_DEADLINE_EXCEEDED, "helper command %s "
		    "did not finish within %d s in the container", argv[0],
		    CTRFS_EXEC_MS / 1000);
	return SBXD_OK;
}

/* A helper's stderr for a message: one line, printable ASCII, bounded. */
static void
errtext(const struct driver_exec_result *res, char *dst, size_t n)
{
	size_t i, o = 0, len = res->err.len;

	while (len > 0 && (res->err.data[len - 1] == '\n' ||
	    res->err.data[len - 1] == ' '))
		len--;
	for (i = 0; i < len && o + 1 < n; i++) {
		unsigned char ch = (unsigned char)res->err.data[i];

		dst[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
	}
	dst[o] = '\0';
	if (o == 0)
		snprintf(dst, n, "exit status %d", res->exit_code);
}

/* Maps a failed helper (doing something to path) to a code by its stderr. */
static sbxd_code
helper_fail(const struct driver_exec_result *res, const char *doing,
    const char *path, struct err *e)
{
	char t[CTRFS_ERRTEXT + 1];

	errtext(res, t, sizeof(t));
	if (strstr(t, "No such file or directory") != NULL)
		return err_set(e, SBXD_NOT_FOUND, "File '%.300s' not found",
		    path);
	if (strstr(t, "Permission denied") != NULL ||
	    strstr(t, "Operation not permitted") != NULL ||
	    strstr(t, "Read-only file system") != NULL)
		return err_set(e, SBXD_PERMISSION_DENIED, "permission denied "
		    "%s '%.300s': %s", doing, path, t);
	if (strstr(t, "File exists") != NULL)
		return err_set(e, SBXD_ALREADY_EXISTS, "'%.300s' already "
		    "exists", path);
	if (strstr(t, "No space left") != NULL ||
	    strstr(t, "Disk quota") != NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "%s '%.300s': %s",
		    doing, path, t);
	return err_set(e, SBXD_FAILED_PRECONDITION, "%s '%.300s': %s", doing,
	    path, t);
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
		return helper_fail(res, "reading", path, e);
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
	snprintf(ceiling, sizeof(ceiling), "%zu", out->max < CTRFS_SIZE_CAP ?
	    out->max : CTRFS_SIZE_CAP);
	/* the content comes back here from a mount the engine cannot see */
	rv = run(c, argv, (out->max < CTRFS_SIZE_CAP ? out->max :
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

/* Maps a failed mkdir -p of path's parents: a file in the way is
 * FAILED_PRECONDITION, not ALREADY_EXISTS. */
static sbxd_code
parents_fail(const struct driver_exec_result *res, const char *path,
    struct err *e)
{
	char t[CTRFS_ERRTEXT + 1];

	errtext(res, t, sizeof(t));
	if (strstr(t, "File exists") != NULL ||
	    strstr(t, "Not a directory") != NULL)
		return err_set(e, SBXD_FAILED_PRECONDITION, "a component of "
		    "'%.300s' is not a directory", path);
	return helper_fail(res, "creating the parents of", path, e);
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
	if ((rv = run(c, argv, CTRFS_PROBE_OUT, &res, e)) != SBXD_OK)
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
		errtext(&res, t, sizeof(t));
		if (strstr(t, "Read-only file system") ||
		    strstr(t, "Permission denied"))
			rv = denied(path, e);
		else
			rv = parents_fail(&res, path, e);
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
	    w->dir : "", base_of(path)) >= sizeof(p))
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

/* See ctrfs.h. max_file bounds the result (an append's included). */
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
	if (parent_of(path, parent, sizeof(parent)) == -1) {
		rv = err_set(e, SBXD_INVALID_ARGUMENT, "cannot write '%.300s': "
		    "not a file path", path);
		goto out;
	}
	if (len > max_file) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "content is %zu bytes; "
		    "the file size limit is %zu bytes", len, max_file);
		goto out;
	}
	if ((rv = write_plan(c, path, parent, &w, e)) != SBXD_OK)
		goto out;
	if (!engine_sees(w.mnt)) {
		rv = err_set(e, SBXD_UNIMPLEMENTED, "cannot write '%.300s': it "
		    "is on a separate mount inside the container (%.100s, e.g. "
		    "a tmpfs) that the Docker archive API cannot reach; write "
		    "it with a command or under /workspace", path, w.mnt);
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
	if ((rv = tar_build(base_of(path), whole.data, whole.len,
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

/* ---- stat and list */

/* One find record: fields split in place. */
struct rec {
	char type;
	const char *name;
	uint64_t size;
	uint32_t mode;
	int64_t mtime_ms;
};

static uint32_t
type_bits(char y)
{
	switch (y) {
	case 'd': return S_IFDIR;
	case 'f': return S_IFREG;
	case 'l': return S_IFLNK;
	case 'p': return S_IFIFO;
	case 's': return S_IFSOCK;
	case 'c': return S_IFCHR;
	case 'b': return S_IFBLK;
	default: return 0;
	}
}

/* "1795343802.7154698150" to ms. */
static int64_t
find_time_ms(const char *s)
{
	char *end;
	int64_t ms = strtoll(s, &end, 10) * 1000, scale = 100;

	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9' && scale > 0;
		    end++, scale /= 10)
			ms += (*end - '0') * scale;
	return ms;
}

/* Parses the record at p (NUL-ended, tabs replaced by NULs here). */
static int
rec_parse(char *p, struct rec *r)
{
	char *f[5];
	int i;

	f[0] = p;
	for (i = 1; i < 5; i++) {
		if ((p = strchr(p, '\t')) == NULL)
			return -1;
		*p++ = '\0';
		f[i] = p;
	}
	if (strlen(f[0]) != 1 || f[4][0] == '\0')
		return -1;
	r->type = f[0][0];
	r->size = strtoull(f[1], NULL, 10);
	r->mode = type_bits(r->type) | ((uint32_t)strtoul(f[2], NULL, 8) &
	    07777);
	r->mtime_ms = find_time_ms(f[3]);
	r->name = f[4];
	return 0;
}

/* Fills ent for the record r found at full path. */
static int
rec_entry(const struct rec *r, const char *path, struct fsops_entry *ent)
{
	if (strlen(r->name) >= sizeof(ent->name) ||
	    strlen(path) >= sizeof(ent->rel))
		return -1;
	memset(ent, 0, sizeof(*ent));
	snprintf(ent->name, sizeof(ent->name), "%s", r->name);
	snprintf(ent->rel, sizeof(ent->rel), "%s", path);
	ent->is_dir = r->type == 'd';
	ent->is_symlink = r->type == 'l';
	ent->size = r->size;
	ent->mode = r->mode;
	ent->mtime_ms = r->mtime_ms;
	return 0;
}

/* Stats path inside the container with find (no symlink followed). */
static sbxd_code
stat_exec(struct ctrfs *c, const char *path, struct fsops_entry *out,
    int *exists, struct err *e)
{
	const char *argv[] = { "find", path, "-maxdepth", "0", "-printf",
	    FIND_FMT, NULL };
	struct driver_exec_result res;
	struct rec r;
	sbxd_code rv;

	if ((rv = run(c, argv, CTRFS_PROBE_OUT, &res, e)) != SBXD_OK)
		goto out;
	if (res.exit_code != 0 || res.out.len == 0) {
		rv = helper_fail(&res, "statting", path, e);
		if (rv == SBXD_NOT_FOUND)
			rv = SBXD_OK;	/* *exists stays 0 */
		goto out;
	}
	if (rec_parse(res.out.data, &r) == -1 || rec_entry(&r, path, out)) {
		rv = err_set(e, SBXD_INTERNAL, "statting '%.300s': find in the "
		    "container answered nonsense", path);
		goto out;
	}
	*exists = 1;
out:
	driver_exec_result_fini(&res);
	return rv;
}

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
	rv = c->drv->ops->path_stat(c->drv, c->cid, path, &st, e);
	if (rv == SBXD_NOT_FOUND) {
		err_clear(e);
		return stat_exec(c, path, out, exists, e);
	}
	if (rv != SBXD_OK)
		return rv;
	snprintf(out->name, sizeof(out->name), "%s", base_of(path));
	snprintf(out->rel, sizeof(out->rel), "%s", path);
	out->is_dir = S_ISDIR(st.mode);
	out->is_symlink = S_ISLNK(st.mode);
	out->size = st.size;
	out->mode = st.mode;
	out->mtime_ms = st.mtime_ms;
	*exists = 1;
	return SBXD_OK;
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if ((x->type == 'd') != (y->type == 'd'))
		return x->type == 'd' ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Splits find's NUL-ended records in o into a new array *v (*n of them;
 * free() it); an unfinished last record (cut by the output cap) is
 * dropped. */
static sbxd_code
recs_split(struct buf *o, struct rec **v, size_t *n, struct err *e)
{
	size_t cap = 0, i = 0, len;
	struct rec *nv;
	char *p;

	*v = NULL;
	*n = 0;
	while (o->data != NULL && i < o->len) {
		p = o->data + i;
		len = strnlen(p, o->len - i);
		if (i + len == o->len)
			break;		/* no NUL: cut short */
		i += len + 1;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(*v, cap * sizeof(**v))) == NULL)
				return err_set(e, SBXD_INTERNAL, "out of memory "
				    "listing a directory");
			*v = nv;
		}
		if (rec_parse(p, &(*v)[*n]) == 0)
			(*n)++;
	}
	return SBXD_OK;
}

/* Emits the sorted children recs[0..n) of dir through cb, at most max. */
static void
list_emit(const char *dir, struct rec *recs, size_t n, size_t max,
    fsops_entry_cb cb, void *arg, int *truncated)
{
	char full[FSOPS_PATH_MAX + CTRFS_COMPONENT_MAX + 2];
	struct fsops_entry ent;
	size_t i, sent = 0;

	qsort(recs, n, sizeof(*recs), rec_cmp);
	for (i = 0; i < n; i++) {
		if (sent == max) {
			*truncated = 1;
			break;
		}
		snprintf(full, sizeof(full), "%s/%s", strcmp(dir, "/") ? dir :
		    "", recs[i].name);
		if (rec_entry(&recs[i], full, &ent) == -1) {
			*truncated = 1;		/* too long to name */
			continue;
		}
		sent++;
		if (cb(arg, &ent) != 0)
			break;
	}
}

/* See ctrfs.h. find -H: a symlink given as path is followed, the entries
 * in it are not. Past CTRFS_LIST_OUT of records the listing is of the
 * entries read so far, with *truncated set. */
sbxd_code
ctrfs_list(struct ctrfs *c, const char *path, size_t max, fsops_entry_cb cb,
    void *arg, int *truncated, struct err *e)
{
	const char *argv[] = { "find", "-H", path, "-maxdepth", "1",
	    "-printf", FIND_FMT, NULL };
	struct driver_exec_result res;
	struct fsops_entry ent;
	struct rec *recs = NULL;
	size_t n;
	sbxd_code rv;

	*truncated = 0;
	if ((rv = run(c, argv, CTRFS_LIST_OUT, &res, e)) != SBXD_OK ||
	    (rv = recs_split(&res.out, &recs, &n, e)) != SBXD_OK)
		goto out;
	if (n == 0 || (n == 1 && recs[0].type == 'd' && res.exit_code != 0)) {
		rv = helper_fail(&res, "listing", path, e);
		goto out;
	}
	*truncated = res.truncated;
	if (recs[0].type != 'd') {
		/* a file lists itself */
		recs[0].name = base_of(path);
		if (rec_entry(&recs[0], path, &ent) == 0 && max > 0)
			cb(arg, &ent);
		else
			*truncated = 1;
		goto out;
	}
	list_emit(path, recs + 1, n - 1, max, cb, arg, truncated);
out:
	free(recs);
	driver_exec_result_fini(&res);
	return rv;
}

/* ---- mkdir, remove, move */

/* Runs argv; a non-zero exit is mapped through helper_fail. */
static sbxd_code
run_simple(struct ctrfs *c, const char *const *argv, const char *doing,
    const char *path, struct driver_exec_result *res, struct err *e)
{
	sbxd_code rv;

	if ((rv = run(c, argv, CTRFS_PROBE_OUT, res, e)) != SBXD_OK)
		return rv;
	if (res->exit_code != 0)
		return helper_fail(res, doing, path, e);
	return SBXD_OK;
}

/* See ctrfs.h. With parents an existing directory is OK; without,
 * ALREADY_EXISTS. A non-directory in the way is FAILED_PRECONDITION. */
sbxd_code
ctrfs_mkdir(struct ctrfs *c, const char *path, int parents, struct err *e)
{
	const char *argv_p[] = { "mkdir", "-p", "--", path, NULL };
	const char *argv_1[] = { "mkdir", "--", path, NULL };
	struct driver_exec_result res;
	sbxd_code rv;

	rv = run_simple(c, parents ? argv_p : argv_1, "creating directory",
	    path, &res, e);
	if (rv == SBXD_ALREADY_EXISTS && parents)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' exists and "
		    "is not a directory", path);
	driver_exec_result_fini(&res);
	return rv;
}

/* See ctrfs.h. NOT_FOUND when missing; a non-empty directory without
 * recursive is FAILED_PRECONDITION. rm runs without a terminal: it never
 * prompts. */
sbxd_code
ctrfs_remove(struct ctrfs *c, const char *path, int recursive,
    struct err *e)
{
	const char *argv[] = { "rm", recursive ? "-r" : "-d", "--", path,
	    NULL };
	struct driver_exec_result res;
	sbxd_code rv;

	if (strcmp(path, "/") == 0)
		return err_set(e, SBXD_INVALID_ARGUMENT, "refusing to remove "
		    "'/'");
	rv = run_simple(c, argv, "removing", path, &res, e);
	driver_exec_result_fini(&res);
	return rv;
}

/* See ctrfs.h. Creates to's parents; without overwrite an existing to is
 * ALREADY_EXISTS (mv -n: renameat2 RENAME_NOREPLACE). */
sbxd_code
ctrfs_move(struct ctrfs *c, const char *from, const char *to, int overwrite,
    struct err *e)
{
	char parent[FSOPS_PATH_MAX + 1];
	const char *argv[] = { "sh", "-c", move_script, "sh", from, to, parent,
	    overwrite ? "1" : "0", NULL };
	struct driver_exec_result res;
	sbxd_code rv;

	if (strcmp(from, "/") == 0 || parent_of(to, parent, sizeof(parent)))
		return err_set(e, SBXD_INVALID_ARGUMENT, "cannot move '%.300s' "
		    "to '%.300s'", from, to);
	if ((rv = run(c, argv, CTRFS_PROBE_OUT, &res, e)) != SBXD_OK)
		goto out;
	if (res.exit_code == 17)
		rv = err_set(e, SBXD_ALREADY_EXISTS, "'%.300s' already exists",
		    to);
	else if (res.exit_code == 16)
		rv = parents_fail(&res, to, e);
	else if (res.exit_code != 0)
		rv = helper_fail(&res, "moving", from, e);
out:
	driver_exec_result_fini(&res);
	return rv;
}
