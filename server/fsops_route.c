/*
 * fsops_route.c — where a client path leads: the workspace on the host, or
 * the rest of the container (see fsops.h, fsops_route_*).
 *
 * A path means what it means inside the sandbox. Relative paths start at
 * /workspace, ".." climbs as the container's kernel climbs (from /workspace
 * to /, never clamped), and a symlink in the workspace is a container
 * symlink: "/workspace/real.txt" as its target names the workspace file,
 * "/etc/hosts" the container's. The host cannot follow such a target with
 * the workspace as its root, so a path that holds ".." or meets a symlink
 * leaving the workspace is walked here one component at a time: each
 * directory is opened O_NOFOLLOW below the one before, each symlink read
 * with readlinkat and spliced into what is left, at most 40 of them (the
 * kernel's ELOOP bound). The walk decides the side only; the file itself is
 * still opened by fsops under its own containment, so a tree rewritten
 * between the two can misroute a call, never escape the workspace.
 *
 * Paths that need none of that (no "..", no symlink leaving the workspace:
 * nearly every call) cost one openat2(RESOLVE_BENEATH) probe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsops.h"
#include "fsops_int.h"

#define HOPS_MAX 40                  /* symlinks in one path, as the kernel's MAXSYMLINKS */
#define WS "workspace"
#define WS_LEN (sizeof(WS) - 1)

/* ---- step 1: the client's path as an absolute container path ------------ */

/* See fsops.h. */
sbxd_code
fsops_route_abs(const char *p, size_t len, char *abs, size_t abssz, int *starts_in_ws,
    struct err *e)
{
	size_t i = 0, n = 0;

	if (len > FSOPS_PATH_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "path is %zu bytes; the limit is %d", len, FSOPS_PATH_MAX);
	if (len > 0 && memchr(p, '\0', len) != NULL)
		return err_set(e, SBXD_INVALID_ARGUMENT, "path contains a NUL byte");
	if (abssz < len + WS_LEN + 3)
		return err_set(e, SBXD_INVALID_ARGUMENT, "path is %zu bytes; too long", len);
	if (len == 0 || p[0] != '/') {
		memcpy(abs, "/" WS, WS_LEN + 1);
		n = WS_LEN + 1;
	}
	*starts_in_ws = 0;
	while (i < len) {
		size_t j = i, clen;

		while (j < len && p[j] != '/')
			j++;
		clen = j - i;
		if (clen > FSOPS_COMPONENT_MAX)
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "path has a component of %zu bytes; the limit is %d",
			    clen, FSOPS_COMPONENT_MAX);
		/* ".." first stays at "/", as the kernel keeps it; any
		 * other is left to the walk (it may follow a symlink). */
		if (clen > 0 && !(clen == 1 && p[i] == '.') &&
		    !(clen == 2 && p[i] == '.' && p[i + 1] == '.' && n == 0)) {
			abs[n++] = '/';
			memcpy(abs + n, p + i, clen);
			n += clen;
		}
		i = j + 1;
	}
	if (n == 0)
		abs[n++] = '/';
	abs[n] = '\0';
	*starts_in_ws = strncmp(abs, "/" WS, WS_LEN + 1) == 0 &&
	    (abs[WS_LEN + 1] == '\0' || abs[WS_LEN + 1] == '/');
	return SBXD_OK;
}

/* ---- step 2: resolving in the workspace ---------------------------------- */

/* The walk's state: `cur` the resolved part as a container path without
 * its leading '/' ("" the container's root, "workspace/a" ...), `rest`
 * what is still to resolve, `dfd` the host directory `cur` names (while
 * it is in the workspace and exists). */
struct walk {
	const struct fsops_root *r;
	char cur[FSOPS_PATH_MAX + 1];
	size_t curlen;
	char rest[2 * FSOPS_PATH_MAX + 2];
	size_t pos;
	int dfd;                         /* -1, r->fd, or our own */
	int missing;                     /* cur does not exist as a directory */
	int hops;
};

static void
walk_set_dfd(struct walk *w, int fd)
{
	if (w->dfd >= 0 && w->dfd != w->r->fd)
		close(w->dfd);
	w->dfd = fd;
}

static int
in_ws(const struct walk *w)
{
	return strncmp(w->cur, WS, WS_LEN) == 0 &&
	    (w->cur[WS_LEN] == '\0' || w->cur[WS_LEN] == '/');
}

/* The workspace-relative form of cur ("." for the workspace itself). */
static const char *
ws_rel(const struct walk *w)
{
	return w->cur[WS_LEN] == '/' ? w->cur + WS_LEN + 1 : ".";
}

/* Opens dfd again for cur after a "..": cur is symlink-free, so a lookup
 * that meets a symlink (the tree changed) counts as missing. */
static void
walk_reopen(struct walk *w)
{
	int fd;

	if (!in_ws(w)) {
		walk_set_dfd(w, -1);
		w->missing = 0;
		return;
	}
	if (w->cur[WS_LEN] == '\0') {
		walk_set_dfd(w, w->r->fd);
		w->missing = 0;
		return;
	}
	fd = fsops_open_beneath(w->r->fd, ws_rel(w), O_PATH | O_DIRECTORY);
	walk_set_dfd(w, fd);
	w->missing = fd < 0;
}

static void
walk_pop(struct walk *w)
{
	while (w->curlen > 0 && w->cur[w->curlen - 1] != '/')
		w->curlen--;
	if (w->curlen > 0)
		w->curlen--;
	w->cur[w->curlen] = '\0';
	walk_reopen(w);
}

static sbxd_code
walk_push(struct walk *w, const char *c, size_t clen, struct err *e)
{
	if (w->curlen + 1 + clen > FSOPS_PATH_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "path is longer than %d bytes once its symlinks are followed", FSOPS_PATH_MAX);
	if (w->curlen > 0)
		w->cur[w->curlen++] = '/';
	memcpy(w->cur + w->curlen, c, clen);
	w->curlen += clen;
	w->cur[w->curlen] = '\0';
	return SBXD_OK;
}

/* Replaces the component just read (a symlink) by its target: what is
 * left becomes target + "/" + the rest; an absolute target starts over at
 * the container's root. */
static sbxd_code
walk_splice(struct walk *w, const char *target, size_t tlen, const char *shown, struct err *e)
{
	size_t left = strlen(w->rest + w->pos);
	char tmp[sizeof(w->rest)];

	if (++w->hops > HOPS_MAX)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "'%.300s': too many levels of symbolic links", shown);
	if (tlen + 1 + left + 1 > sizeof(tmp))
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "path is longer than %d bytes once its symlinks are followed", FSOPS_PATH_MAX);
	memcpy(tmp, target, tlen);
	tmp[tlen] = '/';
	memcpy(tmp + tlen + (left > 0), w->rest + w->pos, left + 1);
	memcpy(w->rest, tmp, tlen + (left > 0) + left + 1);
	w->pos = 0;
	if (target[0] == '/') {
		w->curlen = 0;
		w->cur[0] = '\0';
		walk_set_dfd(w, -1);
		w->missing = 0;
	}
	return SBXD_OK;
}

/* One component c of a path inside the workspace, more saying whether
 * anything follows it (a trailing '/' counts: "link/" follows link). */
static sbxd_code
walk_ws_step(struct walk *w, const char *c, size_t clen, int more, int follow_last,
    const char *shown, struct err *e)
{
	char name[FSOPS_COMPONENT_MAX + 1], target[FSOPS_PATH_MAX + 1];
	sbxd_code rv;
	ssize_t tlen;
	int fd;

	memcpy(name, c, clen);
	name[clen] = '\0';
	if (!w->missing && (more || follow_last)) {
		tlen = readlinkat(w->dfd, name, target, sizeof(target));
		if (tlen >= (ssize_t)sizeof(target))
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "'%.300s': a symlink's target is too long", shown);
		if (tlen >= 0)
			return walk_splice(w, target, (size_t)tlen, shown, e);
		if (errno != EINVAL)
			w->missing = 1;   /* fsops will report the real error */
	}
	if ((rv = walk_push(w, c, clen, e)) != SBXD_OK)
		return rv;
	if (more && !w->missing) {
		fd = openat(w->dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		walk_set_dfd(w, fd);
		w->missing = fd < 0;
	} else if (more)
		walk_set_dfd(w, -1);
	return SBXD_OK;
}

/* Writes "/" + cur + "/" + rest (the path as left to the container) to out. */
static sbxd_code
walk_leave(struct walk *w, const char *c, size_t clen, char *out, size_t outsz, struct err *e)
{
	size_t left = strlen(w->rest + w->pos);
	size_t need = 1 + w->curlen + 1 + clen + 1 + left + 1;

	if (need > outsz || need > FSOPS_PATH_MAX + 1)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "path is longer than %d bytes once its symlinks are followed", FSOPS_PATH_MAX);
	snprintf(out, outsz, "/%s%s%.*s%s%s", w->cur, w->curlen ? "/" : "", (int)clen, c,
	    left ? "/" : "", w->rest + w->pos);
	return SBXD_OK;
}

/* Resolves w->rest; see fsops_route_resolve. */
static sbxd_code
walk_run(struct walk *w, int follow_last, const char *shown, char *out, size_t outsz,
    int *ws, struct err *e)
{
	sbxd_code rv;

	for (;;) {
		const char *c = w->rest + w->pos;
		size_t clen = strcspn(c, "/");
		int more = c[clen] == '/';

		if (*c == '\0')
			break;
		w->pos += clen + more;
		if (clen == 0 || (clen == 1 && c[0] == '.'))
			continue;
		if (clen == 2 && c[0] == '.' && c[1] == '.') {
			walk_pop(w);
			continue;
		}
		if (w->curlen == 0 && clen == WS_LEN && memcmp(c, WS, WS_LEN) == 0) {
			(void)walk_push(w, c, clen, e);      /* "/workspace": the mount */
			walk_set_dfd(w, w->r->fd);
			w->missing = 0;
			continue;
		}
		if (!in_ws(w)) {
			*ws = 0;
			return walk_leave(w, c, clen, out, outsz, e);
		}
		if ((rv = walk_ws_step(w, c, clen, more, follow_last, shown, e)) != SBXD_OK)
			return rv;
	}
	if (!in_ws(w)) {
		*ws = 0;
		return walk_leave(w, "", 0, out, outsz, e);
	}
	*ws = 1;
	if (strlen(ws_rel(w)) + 1 > outsz)
		return err_set(e, SBXD_INVALID_ARGUMENT, "path is too long");
	memcpy(out, ws_rel(w), strlen(ws_rel(w)) + 1);
	return SBXD_OK;
}

/* The common case: no ".." and no symlink that leaves the workspace, which
 * one RESOLVE_BENEATH lookup tells (EXDEV and ELOOP say otherwise). Writes
 * the relative path and returns 1, or returns 0 for the walk. */
static int
route_fast(const struct fsops_root *r, const char *abs, int follow_last, char *out,
    size_t outsz)
{
	const char *rel = abs[WS_LEN + 1] == '/' ? abs + WS_LEN + 2 : ".";
	size_t n = strlen(rel), alen = strlen(abs);
	int fd;

	if (strstr(abs, "/../") != NULL || (alen >= 3 && strcmp(abs + alen - 3, "/..") == 0) ||
	    n + 1 > outsz)
		return 0;
	fd = fsops_open_within(r->fd, rel, O_PATH | (follow_last ? 0 : O_NOFOLLOW));
	if (fd < 0 && (errno == EXDEV || errno == ELOOP))
		return 0;
	if (fd >= 0)
		close(fd);
	memcpy(out, rel, n + 1);
	return 1;
}

/* See fsops.h. */
sbxd_code
fsops_route_resolve(const struct fsops_root *r, const char *abs, int follow_last,
    char *out, size_t outsz, int *ws, struct err *e)
{
	struct walk *w;
	sbxd_code rv;

	if (route_fast(r, abs, follow_last, out, outsz)) {
		*ws = 1;
		return SBXD_OK;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory resolving a path");
	w->r = r;
	w->dfd = -1;
	snprintf(w->rest, sizeof(w->rest), "%s", abs);
	rv = walk_run(w, follow_last, abs, out, outsz, ws, e);
	walk_set_dfd(w, -1);
	free(w);
	return rv;
}
