/*
 * ctrfs_cmd.c — the helper-command side of ctrfs (see ctrfs.h): fixed
 * commands and scripts (find, mkdir, rm, mv, sh -c with a constant script)
 * run in the container as the sandbox user, with paths only ever passed as
 * argv elements, never spliced into a shell string. This file owns running
 * them, parsing what they print (find's -printf records), and mapping their
 * exit status and stderr to sbxd codes and messages; and the operations
 * built only on them: stat inside the container (for what the engine cannot
 * see), list, mkdir, remove and move. Reads and writes, which also use these
 * helpers for their probes, live in ctrfs.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "ctrfs.h"
#include "ctrfs_int.h"
#include "driver.h"
#include "err.h"
#include "fsops.h"

#define CTRFS_EXEC_MS		60000	/* one helper command */
#define CTRFS_LIST_OUT		(8u << 20)	/* find's records for one directory */

/* find -printf: type, size, permission bits, mtime, name; NUL-ended. */
#define FIND_FMT		"%y\t%s\t%m\t%T@\t%f\\0"

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

/* ---- helper commands */

/* See ctrfs_int.h. */
sbxd_code
ctrfs_run_stdin(struct ctrfs *c, const char *const *argv, const void *in,
    size_t in_len, size_t max_output, struct driver_exec_result *res,
    struct err *e)
{
	struct driver_exec_spec s = {
		.container_id = c->cid, .argv = argv, .user = c->user,
		.workdir = "/", .timeout_ms = CTRFS_EXEC_MS,
		.max_output = max_output,
	};
	sbxd_code rv;

	memset(res, 0, sizeof(*res));
	if (in == NULL)
		rv = c->drv->ops->exec(c->drv, &s, res, e);
	else if (c->drv->ops->exec_stdin == NULL)
		return err_set(e, SBXD_UNIMPLEMENTED, "this driver cannot feed "
		    "a command's stdin");
	else
		rv = c->drv->ops->exec_stdin(c->drv, &s, in, in_len, res, e);
	if (rv != SBXD_OK)
		return rv;
	if (res->timed_out)
		return err_set(e, SBXD_DEADLINE_EXCEEDED, "helper command %s "
		    "did not finish within %d s in the container", argv[0],
		    CTRFS_EXEC_MS / 1000);
	return SBXD_OK;
}

/* See ctrfs_int.h. */
sbxd_code
ctrfs_run(struct ctrfs *c, const char *const *argv, size_t max_output,
    struct driver_exec_result *res, struct err *e)
{
	return ctrfs_run_stdin(c, argv, NULL, 0, max_output, res, e);
}

/* See ctrfs_int.h. */
void
ctrfs_errtext(const struct driver_exec_result *res, char *dst, size_t n)
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

/* See ctrfs_int.h. */
sbxd_code
ctrfs_helper_fail(const struct driver_exec_result *res, const char *doing,
    const char *path, struct err *e)
{
	char t[CTRFS_ERRTEXT + 1];

	ctrfs_errtext(res, t, sizeof(t));
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

/* See ctrfs_int.h. */
sbxd_code
ctrfs_parents_fail(const struct driver_exec_result *res, const char *path,
    struct err *e)
{
	char t[CTRFS_ERRTEXT + 1];

	ctrfs_errtext(res, t, sizeof(t));
	if (strstr(t, "File exists") != NULL ||
	    strstr(t, "Not a directory") != NULL)
		return err_set(e, SBXD_FAILED_PRECONDITION, "a component of "
		    "'%.300s' is not a directory", path);
	return ctrfs_helper_fail(res, "creating the parents of", path, e);
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

/* See ctrfs_int.h. */
sbxd_code
ctrfs_stat_exec(struct ctrfs *c, const char *path, struct fsops_entry *out,
    int *exists, struct err *e)
{
	const char *argv[] = { "find", path, "-maxdepth", "0", "-printf",
	    FIND_FMT, NULL };
	struct driver_exec_result res;
	struct rec r;
	sbxd_code rv;

	if ((rv = ctrfs_run(c, argv, CTRFS_PROBE_OUT, &res, e)) != SBXD_OK)
		goto out;
	if (res.exit_code != 0 || res.out.len == 0) {
		rv = ctrfs_helper_fail(&res, "statting", path, e);
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
	if ((rv = ctrfs_run(c, argv, CTRFS_LIST_OUT, &res, e)) != SBXD_OK ||
	    (rv = recs_split(&res.out, &recs, &n, e)) != SBXD_OK)
		goto out;
	if (n == 0 || (n == 1 && recs[0].type == 'd' && res.exit_code != 0)) {
		rv = ctrfs_helper_fail(&res, "listing", path, e);
		goto out;
	}
	*truncated = res.truncated;
	if (recs[0].type != 'd') {
		/* a file lists itself */
		recs[0].name = ctrfs_base_of(path);
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

	if ((rv = ctrfs_run(c, argv, CTRFS_PROBE_OUT, res, e)) != SBXD_OK)
		return rv;
	if (res->exit_code != 0)
		return ctrfs_helper_fail(res, doing, path, e);
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

	if (strcmp(from, "/") == 0 ||
	    ctrfs_parent_of(to, parent, sizeof(parent)))
		return err_set(e, SBXD_INVALID_ARGUMENT, "cannot move '%.300s' "
		    "to '%.300s'", from, to);
	if ((rv = ctrfs_run(c, argv, CTRFS_PROBE_OUT, &res, e)) != SBXD_OK)
		goto out;
	if (res.exit_code == 17)
		rv = err_set(e, SBXD_ALREADY_EXISTS, "'%.300s' already exists",
		    to);
	else if (res.exit_code == 16)
		rv = ctrfs_parents_fail(&res, to, e);
	else if (res.exit_code != 0)
		rv = ctrfs_helper_fail(&res, "moving", from, e);
out:
	driver_exec_result_fini(&res);
	return rv;
}

