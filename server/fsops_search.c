/*
 * fsops_search.c — glob and grep over a workspace tree (see fsops.h).
 *
 * The tree belongs to the sandbox, which may fill it with symlink loops,
 * FIFOs, device nodes, millions of entries, and rename things while we
 * walk. So the walk starts from the base directory opened in-root
 * (openat2 RESOLVE_IN_ROOT: a symlinked base is followed the way the
 * sandbox would follow it, never out of the workspace) and goes down one
 * name at a time with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 * RESOLVE_NO_XDEV) on the parent's fd: a symlink is never followed (not
 * even to a file: only regular files are results), a mount point is never
 * entered, and a directory swapped for a symlink mid-walk is simply
 * skipped. A file is first opened O_PATH (which calls no driver), and
 * reopened for reading through /proc/self/fd only when fstat says it is a
 * regular file: a FIFO or a device node is never opened for reading, even
 * one renamed over a file while we look.
 *
 * Everything is bounded: depth (FSOPS_WALK_DEPTH), entries visited
 * (FSOPS_WALK_MAX), bytes of candidate paths held (NAMES_MAX), bytes read
 * per file (its size at open, at most max_file), regex work per line
 * (PCRE2's match, depth and heap limits, and a time budget, LINE_TIME_MAX),
 * lines that hit those limits (LIMIT_LINES_MAX) and a search's wall time
 * (SEARCH_TIME_MAX, the walk included: a hostile glob pattern costs up to
 * its length times a name's length per entry). Each bound met sets
 * *truncated rather than failing.
 *
 * PCRE2's match limit alone does not bound a line's cost: it counts
 * backtracking per start position, and a possessive scan inside an
 * assertion is not counted at all, so "(?=x*(?=x*z))" is cubic in the line
 * length without ever reaching it. Hence patterns are compiled with
 * PCRE2_AUTO_CALLOUT and a callout reads the clock every CALLOUT_CHECK
 * items and aborts a line past its budget (cost: about 1.5-4 times the
 * matching time of a plain pattern, still far below the reading time).
 *
 * Glob patterns (their syntax, and the matching that steers the walk) are
 * fsops_match.c's.
 */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsops.h"
#include "fsops_int.h"
#include "monotime.h"

#define REGEX_MAX 65536           /* bytes of a grep pattern */
#define NAMES_MAX (32u << 20)     /* bytes of candidate paths one search holds */
#define BINARY_PROBE 8192         /* a NUL in this many first bytes: binary */
#define READ_CHUNK 65536
#define MATCH_LIMIT 1000000       /* PCRE2 backtracking steps per start position */
#define DEPTH_LIMIT 10000         /* PCRE2 backtracking depth per line */
#define HEAP_LIMIT_KIB 16384      /* PCRE2 backtracking memory per line */
#define JIT_STACK_MAX (1u << 20)
#define LINE_TIME_MAX 250         /* ms of matching for one line */
#define CALLOUT_CHECK 64          /* callouts between reads of the clock */
#define LIMIT_LINES_MAX 100       /* lines hitting a limit before we stop */
#define SEARCH_TIME_MAX 30000     /* ms of wall time for one glob or grep */
#define TIME_CHECK 256            /* entries visited between reads of the clock */
#define READ_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

/* ---- small helpers ------------------------------------------------------- */

static int64_t
mono_ms(void)
{
	return (int64_t)monotime_ms();
}

/*
 * Opens for reading the file that pfd (O_PATH) holds, known to be a regular
 * file: through /proc/self/fd, which reaches that very inode, so a FIFO or
 * a device node renamed over the name meanwhile is never opened (opening
 * some devices has effects: a watchdog arms). Without procfs, reopen()
 * opens the name again (O_NONBLOCK; the caller's fstat still refuses
 * anything but a regular file before reading). -1 and errno on failure.
 */
static int
reopen_regular(int pfd, int (*reopen)(const void *), const void *arg)
{
	char proc[64];
	int fd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, READ_FLAGS);
	if (fd == -1 && errno == ENOENT)
		fd = reopen(arg);
	return fd;
}

struct beneath { int dirfd; const char *path; };

static int
reopen_beneath(const void *arg)
{
	const struct beneath *b = arg;

	return fsops_open_beneath(b->dirfd, b->path, READ_FLAGS | O_NOFOLLOW);
}

/* Opens path below dirfd for reading if it is a regular file (no symlink
 * followed, no mount crossed): -1 with errno EINVAL when it is something
 * else, which is then never opened. */
static int
open_regular(int dirfd, const char *path)
{
	struct beneath b = { dirfd, path };
	struct stat st;
	int pfd, fd = -1;

	pfd = fsops_open_beneath(dirfd, path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd == -1)
		return -1;
	if (fstat(pfd, &st) == 0) {
		if (S_ISREG(st.st_mode))
			fd = reopen_regular(pfd, reopen_beneath, &b);
		else
			errno = EINVAL;
	}
	close(pfd);
	return fd;
}

/* ---- the walk ------------------------------------------------------------ */

struct cand {
	char *rel;             /* workspace-relative path, malloc'ed */
	uint64_t size;
	uint32_t mode;
	int64_t mt_sec;
	long mt_nsec;
};

struct walk {
	const struct fsops_gpat *path_pat;  /* on the path below base, or NULL */
	const struct fsops_gcomp *name_pat; /* on the file name only, or NULL */
	int skip_hidden;              /* grep's dot-name and skip-list rules */
	int want_stat;                /* glob: keep size, mode, mtime */
	uint8_t *states;              /* FSOPS_WALK_DEPTH + 2 rows of n + 1 */
	char path[FSOPS_PATH_MAX + 1];/* workspace-relative path being visited */
	size_t base_len;              /* bytes of path before the part below base */
	size_t visited;
	size_t names;                 /* bytes of paths held in c */
	int64_t deadline;             /* mono_ms() at which the walk stops */
	int truncated;
	int stop;
	struct cand *c;
	size_t nc, cap;
};

static const char *const skip_dirs[] = {
	".git", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache",
	".pytest_cache", ".ruff_cache", ".tox", "dist", "build", ".eggs",
};

/* Hidden names (files and directories), and the skip list (directories:
 * a file named "build" is still searched). */
static int
skipped_name(const char *name, int is_dir)
{
	if (name[0] == '.')
		return 1;
	if (!is_dir)
		return 0;
	for (size_t i = 0; i < sizeof(skip_dirs) / sizeof(skip_dirs[0]); i++)
		if (strcmp(name, skip_dirs[i]) == 0)
			return 1;
	return 0;
}

static uint8_t *
state_row(struct walk *w, int depth)
{
	return w->states + (size_t)depth * (w->path_pat->n + 1);
}

static void
walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->nc; i++)
		free(w->c[i].rel);
	free(w->c);
	free(w->states);
	w->c = NULL;
	w->states = NULL;
	w->nc = w->cap = 0;
}

/* Records w->path (len bytes) as a candidate, with st when want_stat. */
static sbxd_code
cand_add(struct walk *w, const struct stat *st, size_t len, struct err *e)
{
	struct cand *c;

	if (w->names + len + 1 > NAMES_MAX) {
		w->truncated = w->stop = 1;
		return SBXD_OK;
	}
	if (w->nc == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 256;
		struct cand *nc = realloc(w->c, ncap * sizeof(*nc));

		if (nc == NULL)
			return err_set(e, SBXD_INTERNAL, "search: out of memory");
		w->c = nc;
		w->cap = ncap;
	}
	c = &w->c[w->nc];
	memset(c, 0, sizeof(*c));
	if ((c->rel = malloc(len + 1)) == NULL)
		return err_set(e, SBXD_INTERNAL, "search: out of memory");
	memcpy(c->rel, w->path, len + 1);
	if (st != NULL) {
		c->size = (uint64_t)st->st_size;
		c->mode = (uint32_t)st->st_mode;
		c->mt_sec = (int64_t)st->st_mtim.tv_sec;
		c->mt_nsec = st->st_mtim.tv_nsec;
	}
	w->nc++;
	w->names += len + 1;
	return SBXD_OK;
}

static sbxd_code walk_dir(struct walk *w, int fd, size_t plen, int depth,
    struct err *e);

/* A regular file that passed the filters, in the directory dfd: record
 * it. Glob, whose results carry size and mtime, stats it through an O_PATH
 * openat2 (no driver is called, and a file mounted over the name is
 * refused); grep opens it later the same way for reading. */
static sbxd_code
walk_file(struct walk *w, int dfd, const char *name, size_t len,
    struct err *e)
{
	struct stat st;
	int fd, ok;

	if (!w->want_stat)
		return cand_add(w, NULL, len, e);
	fd = fsops_open_beneath(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return SBXD_OK;   /* gone, swapped for a symlink, or a mount */
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	close(fd);
	return ok ? cand_add(w, &st, len, e) : SBXD_OK;
}

/* One directory entry at depth + 1, its parent open as dfd and its
 * parent's path plen bytes of w->path. */
static sbxd_code
walk_entry(struct walk *w, int dfd, const struct dirent *de, size_t plen,
    int depth, struct err *e)
{
	const char *name = de->d_name;
	size_t nlen = strlen(name), len;
	int type = de->d_type, fd;
	struct stat st;

	if (type == DT_UNKNOWN) {
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			return SBXD_OK;
		type = IFTODT(st.st_mode);
	}
	if (type != DT_DIR && type != DT_REG)
		return SBXD_OK;   /* symlinks, FIFOs, devices, sockets */
	if (type == DT_REG && fsops_is_own_temp(name))
		return SBXD_OK;   /* a write or upload in flight, or a crash's leftover */
	if (w->skip_hidden && skipped_name(name, type == DT_DIR))
		return SBXD_OK;
	if (w->path_pat != NULL) {
		uint8_t *to = state_row(w, depth + 1);
		int live = fsops_nfa_step(w->path_pat, state_row(w, depth),
		    name, nlen, to);

		if (type == DT_DIR ? !live : !to[w->path_pat->n])
			return SBXD_OK;
	}
	if (type == DT_REG && w->name_pat != NULL &&
	    !fsops_comp_match(w->name_pat->s, w->name_pat->len, name, nlen))
		return SBXD_OK;
	len = plen + (plen > 0) + nlen;
	if (len > FSOPS_PATH_MAX) {
		w->truncated = 1;
		return SBXD_OK;
	}
	if (plen > 0)
		w->path[plen] = '/';
	memcpy(w->path + plen + (plen > 0), name, nlen + 1);
	if (type == DT_REG)
		return walk_file(w, dfd, name, len, e);
	if (depth + 1 > FSOPS_WALK_DEPTH) {
		w->truncated = 1;
		return SBXD_OK;
	}
	if ((fd = fsops_open_subdir(dfd, name)) == -1)
		return SBXD_OK;   /* a mount point, a swapped-in symlink, gone */
	return walk_dir(w, fd, len, depth + 1, e);
}

/* Walks the directory open as fd (taken: closed here), whose path is plen
 * bytes of w->path. */
static sbxd_code
walk_dir(struct walk *w, int fd, size_t plen, int depth, struct err *e)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	sbxd_code rv = SBXD_OK;

	if (d == NULL) {
		close(fd);
		return SBXD_OK;
	}
	while (rv == SBXD_OK && !w->stop && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (++w->visited > FSOPS_WALK_MAX ||
		    (w->visited % TIME_CHECK == 0 && mono_ms() >= w->deadline)) {
			w->truncated = w->stop = 1;
			break;
		}
		rv = walk_entry(w, dirfd(d), de, plen, depth, e);
	}
	closedir(d);
	w->path[plen] = '\0';
	return rv;
}

/* Sets up w for a walk of base (already mapped by the caller). */
static sbxd_code
walk_init(struct walk *w, const char *base, struct err *e)
{
	size_t blen = base[0] == '\0' || strcmp(base, ".") == 0 ? 0 : strlen(base);

	memset(w, 0, sizeof(*w));
	w->deadline = mono_ms() + SEARCH_TIME_MAX;
	if (blen > FSOPS_PATH_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT, "path is too long");
	memcpy(w->path, base, blen);
	w->path[blen] = '\0';
	w->base_len = blen ? blen + 1 : 0;
	return SBXD_OK;
}

/* Walks the directory dfd (not taken) from w's base. */
static sbxd_code
walk_run(struct walk *w, int dfd, struct err *e)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);

	if (fd == -1)
		return err_set(e, SBXD_INTERNAL, "search: %s", strerror(errno));
	if (w->path_pat != NULL) {
		w->states = calloc(FSOPS_WALK_DEPTH + 2, w->path_pat->n + 1);
		if (w->states == NULL) {
			close(fd);
			return err_set(e, SBXD_INTERNAL, "search: out of memory");
		}
		w->states[0] = 1;
		fsops_nfa_close(w->path_pat, w->states);
	}
	return walk_dir(w, fd, w->base_len ? w->base_len - 1 : 0, 0, e);
}

/* ---- the base ------------------------------------------------------------ */

struct in_root { int rootfd; const char *rel; };

static int
reopen_in_root(const void *arg)
{
	const struct in_root *b = arg;

	return fsops_resolve(b->rootfd, b->rel, READ_FLAGS, 0);
}

/* Opens base in-root (symlinks followed as the sandbox would, never out):
 * a directory as *dfd, or a regular file as *ffd (the other stays -1).
 * Anything else is FAILED_PRECONDITION and is never opened for reading. */
static sbxd_code
open_base(struct fsops_root *r, const char *base, int *dfd, int *ffd,
    struct err *e)
{
	struct in_root b = { r->fd, base[0] != '\0' ? base : "." };
	struct stat st;
	int pfd, fd = -1;

	*dfd = *ffd = -1;
	base = b.rel;
	if ((pfd = fsops_resolve(r->fd, base, O_PATH | O_CLOEXEC, 0)) == -1)
		/* "a/b" with a a file: to a reader, b simply is not there */
		return fsops_fail_errno(errno == ENOTDIR ? ENOENT : errno, base,
		    "opening", e);
	if (fstat(pfd, &st) == -1)
		st.st_mode = 0;
	if (S_ISDIR(st.st_mode))
		fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (S_ISREG(st.st_mode))
		fd = reopen_regular(pfd, reopen_in_root, &b);
	close(pfd);
	if (fd == -1 && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
		return fsops_fail_errno(errno, base, "opening", e);
	if (fd == -1 || fstat(fd, &st) == -1 ||
	    !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
		if (fd != -1)
			close(fd);
		return err_set(e, SBXD_FAILED_PRECONDITION, "'" FSOPS_PATHF
		    "' is not a regular file or directory", FSOPS_PATHA(base));
	}
	*(S_ISDIR(st.st_mode) ? dfd : ffd) = fd;
	return SBXD_OK;
}

/* ---- glob ---------------------------------------------------------------- */

static int
by_path(const void *a, const void *b)
{
	return strcmp(((const struct cand *)a)->rel, ((const struct cand *)b)->rel);
}

static int
by_mtime(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->mt_sec != y->mt_sec)
		return x->mt_sec > y->mt_sec ? -1 : 1;
	if (x->mt_nsec != y->mt_nsec)
		return x->mt_nsec > y->mt_nsec ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

static void
cand_entry(const struct cand *c, struct fsops_entry *ent)
{
	const char *slash = strrchr(c->rel, '/');

	memset(ent, 0, sizeof(*ent));
	snprintf(ent->name, sizeof(ent->name), "%s", slash ? slash + 1 : c->rel);
	snprintf(ent->rel, sizeof(ent->rel), "%s", c->rel);
	ent->size = c->size;
	ent->mode = c->mode;
	ent->mtime_ms = c->mt_sec * 1000 + c->mt_nsec / 1000000;
}

sbxd_code
fsops_glob(struct fsops_root *r, const char *base, const char *pattern,
    size_t max, int newest_first, fsops_entry_cb cb, void *arg, int *truncated,
    struct err *e)
{
	struct fsops_gpat gp;
	struct walk *w = NULL;
	struct fsops_entry *ent = NULL;
	int dfd = -1, ffd = -1;
	sbxd_code rv;

	*truncated = 0;
	if ((rv = fsops_gpat_compile(pattern, &gp, e)) != SBXD_OK)
		return rv;
	if ((rv = open_base(r, base, &dfd, &ffd, e)) != SBXD_OK)
		goto out;
	if (ffd != -1) {
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "'" FSOPS_PATHF
		    "' is not a directory: glob searches below a directory",
		    FSOPS_PATHA(base));
		goto out;
	}
	if ((w = malloc(sizeof(*w))) == NULL ||
	    (ent = malloc(sizeof(*ent))) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "glob: out of memory");
		goto out;
	}
	if ((rv = walk_init(w, base, e)) != SBXD_OK)
		goto out;
	if (gp.dir_only || gp.n == 0)
		goto out;   /* names only directories: no file can match */
	w->path_pat = &gp;
	w->want_stat = 1;
	if ((rv = walk_run(w, dfd, e)) != SBXD_OK)
		goto out;
	if (w->nc > 1)
		qsort(w->c, w->nc, sizeof(*w->c), newest_first ? by_mtime : by_path);
	*truncated = w->truncated || w->nc > max;
	for (size_t i = 0; i < w->nc && i < max; i++) {
		cand_entry(&w->c[i], ent);
		if (cb(arg, ent) != 0)
			break;
	}
out:
	if (w != NULL)
		walk_free(w);
	free(w);
	free(ent);
	fsops_gpat_free(&gp);
	if (dfd != -1)
		close(dfd);
	if (ffd != -1)
		close(ffd);
	return rv;
}

/* ---- grep ---------------------------------------------------------------- */

struct grep {
	const struct fsops_grep_opts *o;
	pcre2_code *re;
	pcre2_match_data *md;
	pcre2_match_context *mc;
	pcre2_jit_stack *js;
	fsops_grep_cb cb;
	void *arg;
	char *lb;              /* line buffer, reused from file to file */
	size_t lcap;
	size_t emitted;
	size_t limit_lines;    /* lines on which matching hit a limit */
	int truncated;
	int stop;
	int64_t deadline;      /* mono_ms() at which the whole grep stops */
	unsigned callouts;     /* in the current line */
	int64_t line_start;    /* mono_ms() at its CALLOUT_CHECK'th callout */
};

static void
grep_check_time(struct grep *g)
{
	if (mono_ms() >= g->deadline)
		g->truncated = g->stop = 1;
}

/* Called by PCRE2 before every pattern item: aborts the line past its
 * time budget, or the whole grep past its deadline. A line that needs
 * fewer than CALLOUT_CHECK items never reads the clock. */
static int
grep_callout(pcre2_callout_block *cb, void *arg)
{
	struct grep *g = arg;
	int64_t now;

	(void)cb;
	if (++g->callouts % CALLOUT_CHECK != 0)
		return 0;
	now = mono_ms();
	if (g->callouts == CALLOUT_CHECK)
		g->line_start = now;
	if (now >= g->deadline)
		g->truncated = g->stop = 1;
	if (g->stop || now - g->line_start > LINE_TIME_MAX)
		return PCRE2_ERROR_CALLOUT;
	return 0;
}

/* Compiles o->pattern: bytes, not UTF-8; JIT when the platform allows. */
static sbxd_code
grep_compile(struct grep *g, struct err *e)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off = 0;
	int code = 0;
	uint32_t fl = PCRE2_AUTO_CALLOUT |
	    (g->o->case_insensitive ? PCRE2_CASELESS : 0);
	size_t len = strnlen(g->o->pattern, REGEX_MAX + 1);

	if (len > REGEX_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "regex pattern is over %d bytes", REGEX_MAX);
	g->re = pcre2_compile((PCRE2_SPTR)g->o->pattern, len, fl, &code, &off,
	    NULL);
	if (g->re == NULL) {
		if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", code);
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "Invalid regex pattern: %s at offset %zu", (char *)msg,
		    (size_t)off);
	}
	(void)pcre2_jit_compile(g->re, PCRE2_JIT_COMPLETE);   /* else interpreted */
	g->md = pcre2_match_data_create_from_pattern(g->re, NULL);
	g->mc = pcre2_match_context_create(NULL);
	if (g->md == NULL || g->mc == NULL)
		return err_set(e, SBXD_INTERNAL, "grep: out of memory");
	pcre2_set_match_limit(g->mc, MATCH_LIMIT);
	pcre2_set_depth_limit(g->mc, DEPTH_LIMIT);
	pcre2_set_heap_limit(g->mc, HEAP_LIMIT_KIB);
	pcre2_set_callout(g->mc, grep_callout, g);
	if ((g->js = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL)) != NULL)
		pcre2_jit_stack_assign(g->mc, NULL, g->js);
	return SBXD_OK;
}

static void
grep_fini(struct grep *g)
{
	pcre2_jit_stack_free(g->js);
	pcre2_match_context_free(g->mc);
	pcre2_match_data_free(g->md);
	pcre2_code_free(g->re);
	free(g->lb);
}

static void
grep_emit(struct grep *g, const char *rel, uint64_t lineno, const char *line,
    size_t len, uint64_t count)
{
	if (g->emitted >= g->o->max_results) {
		g->truncated = g->stop = 1;
		return;
	}
	g->emitted++;
	if (g->cb(g->arg, rel, lineno, line, len, count) != 0)
		g->stop = 1;
}

/* Matches one line (line[len] is a NUL we put there). Returns non-zero
 * when the rest of this file need not be searched. */
static int
grep_line(struct grep *g, const char *rel, uint64_t lineno, const char *line,
    size_t len, uint64_t *count)
{
	int rc;

	g->callouts = 0;
	rc = pcre2_match(g->re, (PCRE2_SPTR)line, len, 0, 0, g->md, g->mc);
	if (rc == PCRE2_ERROR_NOMATCH ||
	    (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21))
		return 0;   /* (*UTF) in the pattern, a line that is not UTF-8 */
	if (rc < 0) {   /* a limit or the clock: this line's answer is unknown */
		g->truncated = 1;
		if (++g->limit_lines >= LIMIT_LINES_MAX)
			g->stop = 1;
		return g->stop;
	}
	(*count)++;
	if (g->o->mode == FSOPS_GREP_CONTENT)
		grep_emit(g, rel, lineno, line, len, 0);
	else if (g->o->mode == FSOPS_GREP_FILES)
		grep_emit(g, rel, 0, NULL, 0, 0);
	return g->stop || g->o->mode == FSOPS_GREP_FILES;
}

/* Reading one file: lb[off, len) is unsearched, lb[off, scan) holds no
 * '\n'; left bytes of the file's size at open remain unread. */
struct rd {
	size_t len, off, scan;
	uint64_t left;
	int eof;
};

/* Moves the unsearched bytes to the front, grows the buffer if they fill
 * it (up to the file's size: a line is never cut), and reads more. */
static sbxd_code
grep_fill(struct grep *g, int fd, struct rd *r, struct err *e)
{
	ssize_t n;
	size_t want;

	if (r->off > 0) {
		memmove(g->lb, g->lb + r->off, r->len - r->off);
		r->len -= r->off;
		r->scan -= r->off;
		r->off = 0;
	}
	if (r->len + 1 >= g->lcap) {
		size_t ncap = g->lcap * 2;
		char *nb;

		if ((uint64_t)ncap > (uint64_t)r->len + r->left + 1)
			ncap = (size_t)((uint64_t)r->len + r->left + 1);
		if ((nb = realloc(g->lb, ncap)) == NULL)
			return err_set(e, SBXD_INTERNAL, "grep: out of memory");
		g->lb = nb;
		g->lcap = ncap;
	}
	want = g->lcap - 1 - r->len;
	if ((uint64_t)want > r->left)
		want = (size_t)r->left;
	do
		n = read(fd, g->lb + r->len, want);
	while (n == -1 && errno == EINTR);
	if (n <= 0) {
		r->eof = 1;   /* a read error ends the file like its end */
	} else {
		r->len += (size_t)n;
		r->left -= (uint64_t)n;
		r->eof = r->left == 0;
	}
	return SBXD_OK;
}

/*
 * Searches the open file fd as rel: a regular file of at most max_file
 * bytes, read up to its size at open (a file growing meanwhile is not
 * chased), line by line in a buffer that holds the longest line. Lines are
 * the bytes up to each '\n', the '\n' removed and nothing else changed;
 * each is NUL-terminated in place for the callback.
 */
static sbxd_code
grep_fd(struct grep *g, int fd, const char *rel, struct err *e)
{
	struct stat st;
	struct rd r = { 0 };
	uint64_t lineno = 0, count = 0;
	int probed = 0, done = 0;
	sbxd_code rv;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > g->o->max_file)
		return SBXD_OK;
	r.left = (uint64_t)st.st_size;
	while (!done) {
		if (!r.eof && (rv = grep_fill(g, fd, &r, e)) != SBXD_OK)
			return rv;
		if (!probed) {
			if (!r.eof && r.len < BINARY_PROBE)
				continue;
			if (memchr(g->lb, '\0', r.len < BINARY_PROBE ? r.len : BINARY_PROBE))
				return SBXD_OK;
			probed = 1;
		}
		for (char *nl; !done &&
		    (nl = memchr(g->lb + r.scan, '\n', r.len - r.scan)) != NULL; ) {
			size_t end = (size_t)(nl - g->lb);

			*nl = '\0';
			done = grep_line(g, rel, ++lineno, g->lb + r.off,
			    end - r.off, &count);
			r.off = r.scan = end + 1;
			if (lineno % 1024 == 0)
				grep_check_time(g);
			done |= g->stop;
		}
		r.scan = r.len;
		if (r.eof && !done) {
			if (r.off < r.len) {
				g->lb[r.len] = '\0';
				(void)grep_line(g, rel, ++lineno, g->lb + r.off,
				    r.len - r.off, &count);
			}
			done = 1;
		}
	}
	if (g->o->mode == FSOPS_GREP_COUNT && count > 0 && !g->stop)
		grep_emit(g, rel, 0, NULL, 0, count);
	return SBXD_OK;
}

/* Searches the walk's candidates in path order, each opened below dfd
 * without following any symlink. */
static sbxd_code
grep_tree(struct grep *g, struct walk *w, int dfd, struct err *e)
{
	sbxd_code rv = SBXD_OK;

	if (w->nc > 1)
		qsort(w->c, w->nc, sizeof(*w->c), by_path);
	for (size_t i = 0; i < w->nc && !g->stop && rv == SBXD_OK; i++) {
		const char *rel = w->c[i].rel;
		int fd = open_regular(dfd, rel + w->base_len);

		if (fd == -1)
			continue;   /* gone, or swapped for a symlink, mount, FIFO */
		rv = grep_fd(g, fd, rel, e);
		close(fd);
		grep_check_time(g);
	}
	return rv;
}

sbxd_code
fsops_grep(struct fsops_root *r, const char *base,
    const struct fsops_grep_opts *o, fsops_grep_cb cb, void *arg,
    int *truncated, struct err *e)
{
	struct grep g = { .o = o, .cb = cb, .arg = arg };
	struct fsops_gpat pp = { 0 };
	struct fsops_gcomp np;
	struct walk *w = NULL;
	int dfd = -1, ffd = -1, has_path = 0, has_name = 0;
	sbxd_code rv;

	*truncated = 0;
	g.deadline = mono_ms() + SEARCH_TIME_MAX;
	if ((rv = grep_compile(&g, e)) != SBXD_OK)
		goto out;
	if ((rv = fsops_glob_filter(o->glob, &pp, &np, &has_path, &has_name,
	    e)) != SBXD_OK)
		goto out;
	if ((rv = open_base(r, base, &dfd, &ffd, e)) != SBXD_OK)
		goto out;
	if ((g.lb = malloc(READ_CHUNK + 1)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "grep: out of memory");
		goto out;
	}
	g.lcap = READ_CHUNK + 1;
	if (ffd != -1) {   /* named explicitly: no hidden or glob rules */
		rv = grep_fd(&g, ffd, base, e);
		goto out;
	}
	if ((w = malloc(sizeof(*w))) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "grep: out of memory");
		goto out;
	}
	if ((rv = walk_init(w, base, e)) != SBXD_OK)
		goto out;
	if (has_path && (pp.dir_only || pp.n == 0))
		goto out;
	w->path_pat = has_path ? &pp : NULL;
	w->name_pat = has_name ? &np : NULL;
	w->skip_hidden = !o->include_hidden;
	w->deadline = g.deadline;
	if ((rv = walk_run(w, dfd, e)) != SBXD_OK)
		goto out;
	g.truncated |= w->truncated;
	rv = grep_tree(&g, w, dfd, e);
out:
	*truncated = rv == SBXD_OK && g.truncated;
	if (w != NULL)
		walk_free(w);
	free(w);
	fsops_gpat_free(&pp);
	grep_fini(&g);
	if (dfd != -1)
		close(dfd);
	if (ffd != -1)
		close(ffd);
	return rv;
}
