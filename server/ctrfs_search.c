/*
 * ctrfs_search.c — Glob and Grep outside /workspace, through the container
 * (see ctrfs.h).
 *
 * The walk runs in the container as the sandbox user, so it sees exactly
 * what the sandbox may see (an unreadable directory stays unread, a file
 * the user cannot read is never grepped) and the host is never touched.
 * `find -H BASE -xdev` walks one filesystem: from "/" it never enters
 * /proc, /sys, /dev or /workspace (a search there is fsops_search.c's).
 * Hidden names and the usual build/VCS directories are pruned as in the
 * workspace search. Glob matches find's relative paths here with the same
 * pattern matcher the workspace uses (fsops_match.c); Grep runs GNU
 * grep -P (PCRE2, the library the workspace grep uses) over find's files,
 * with the pattern passed as an argv element of a constant script, never
 * spliced into a shell string, and checked with PCRE2 first so a bad
 * pattern is the same INVALID_ARGUMENT as in the workspace. Results are
 * sorted by path (then line) and capped; output past CTRFS_SEARCH_OUT or
 * the helper's time limit ends the search with *truncated set.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrfs.h"
#include "ctrfs_int.h"
#include "fsops.h"
#include "fsops_int.h"

#define CTRFS_SEARCH_OUT	(8u << 20)	/* find/grep output one search reads */

/* The prune expression: hidden names (unless include_hidden) and the
 * directories the workspace search skips. */
#define PRUNE_DIRS							\
	"-type", "d", "(", "-name", ".git", "-o", "-name", "node_modules",	\
	"-o", "-name", "__pycache__", "-o", "-name", ".venv", "-o", "-name",	\
	"venv", "-o", "-name", ".mypy_cache", "-o", "-name", ".pytest_cache",	\
	"-o", "-name", ".ruff_cache", "-o", "-name", ".tox", "-o", "-name",	\
	"dist", "-o", "-name", "build", "-o", "-name", ".eggs", ")"

/* One match or file found, before sorting. */
struct hit {
	char *rel;              /* below the base, or the base itself for a file */
	uint64_t line;          /* content mode */
	uint64_t count;         /* count mode */
	char *text;             /* content mode: the line (not NUL-terminated) */
	size_t textlen;
	uint64_t size;
	uint32_t mode;
	int64_t mtime_ms;
};

struct hits {
	struct hit *v;
	size_t n, cap;
};

static void
hits_free(struct hits *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].rel);
		free(h->v[i].text);
	}
	free(h->v);
	memset(h, 0, sizeof(*h));
}

/* Appends a hit with a copy of rel (rlen bytes) and text; NULL when out of
 * memory. */
static struct hit *
hits_add(struct hits *h, const char *rel, size_t rlen, const char *text, size_t tlen)
{
	struct hit *x;

	if (h->n == h->cap) {
		size_t ncap = h->cap ? 2 * h->cap : 256;
		struct hit *nv = realloc(h->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		h->v = nv;
		h->cap = ncap;
	}
	x = &h->v[h->n];
	memset(x, 0, sizeof(*x));
	if ((x->rel = strndup(rel, rlen)) == NULL)
		return NULL;
	if (text != NULL && (x->text = malloc(tlen ? tlen : 1)) == NULL) {
		free(x->rel);
		return NULL;
	}
	if (text != NULL)
		memcpy(x->text, text, tlen);
	x->textlen = tlen;
	h->n++;
	return x;
}

static int
by_rel_line(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	int c = strcmp(x->rel, y->rel);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int
by_mtime_desc(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->mtime_ms != y->mtime_ms)
		return x->mtime_ms < y->mtime_ms ? 1 : -1;
	return strcmp(x->rel, y->rel);
}

/* A path pattern with its two NFA rows (fsops_match.c). */
struct pmatch {
	const struct fsops_gpat *gp;
	uint8_t *rows;          /* 2 * (gp->n + 1) bytes */
};

static sbxd_code
pmatch_init(struct pmatch *m, const struct fsops_gpat *gp, struct err *e)
{
	m->gp = gp;
	if ((m->rows = malloc(2 * (gp->n + 1))) == NULL)
		return err_set(e, SBXD_INTERNAL, "search: out of memory");
	return SBXD_OK;
}

/* 1 when the relative path rel matches the pattern. */
static int
path_matches(const struct pmatch *m, const char *rel)
{
	size_t w = m->gp->n + 1;
	uint8_t *cur = m->rows, *nxt = m->rows + w, *t;
	const char *p = rel;

	memset(cur, 0, w);
	cur[0] = 1;
	fsops_nfa_close(m->gp, cur);
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		fsops_nfa_step(m->gp, cur, p, len, nxt);
		t = cur, cur = nxt, nxt = t;
		if (slash == NULL)
			return cur[m->gp->n] != 0;
		p = slash + 1;
	}
}

/* Checks base is an existing directory (want_dir) or anything. */
static sbxd_code
check_base(struct ctrfs *c, const char *base, int want_dir, struct err *e)
{
	struct fsops_entry ent;
	int exists = 0;
	sbxd_code rv;

	if ((rv = ctrfs_stat(c, base, &ent, &exists, e)) != SBXD_OK)
		return rv;
	if (!exists)
		return err_set(e, SBXD_NOT_FOUND, "Path '%.300s' not found", base);
	if (want_dir && !ent.is_dir && !ent.is_symlink)
		return err_set(e, SBXD_FAILED_PRECONDITION, "'%.300s' is not a directory: "
		    "glob searches below a directory", base);
	return SBXD_OK;
}

/* A helper's status: 0 fine; 1 and 123 (grep found nothing in some batch)
 * fine for grep; anything else names what failed. */
static sbxd_code
search_status(const struct driver_exec_result *res, int grep, const char *base,
    struct err *e)
{
	char why[CTRFS_ERRTEXT];

	if (res->exit_code == 0 || (grep && (res->exit_code == 1 || res->exit_code == 123)))
		return SBXD_OK;
	ctrfs_errtext(res, why, sizeof(why));
	if (res->exit_code == 127)
		return err_set(e, SBXD_FAILED_PRECONDITION, "searching '%.300s' needs find, "
		    "xargs and grep in the sandbox image: %s", base, why);
	if (grep && res->exit_code == 124)   /* xargs: a grep failed on its own */
		return SBXD_OK;
	return err_set(e, SBXD_FAILED_PRECONDITION, "searching '%.300s' failed in the "
	    "container: %s", base, why);
}

/* ---- glob ---------------------------------------------------------------- */

/* Parses find's "size\tmode\tmtime\trel\0" records into hits that match. */
static sbxd_code
glob_collect(const struct buf *out, const struct pmatch *m, struct hits *h,
    struct err *e)
{
	const char *p = out->data, *end;

	if (out->len == 0)
		return SBXD_OK;
	end = p + out->len;
	while (p < end) {
		const char *z = memchr(p, '\0', (size_t)(end - p)), *rel;
		unsigned long long size;
		unsigned mode;
		double mt;
		int off = 0;
		struct hit *x;

		if (z == NULL)
			break;   /* a record cut by the output cap */
		if (sscanf(p, "%llu\t%o\t%lf\t%n", &size, &mode, &mt, &off) != 3 || off == 0) {
			p = z + 1;
			continue;
		}
		rel = p + off;
		if (*rel != '\0' && path_matches(m, rel)) {
			if ((x = hits_add(h, rel, (size_t)(z - rel), NULL, 0)) == NULL)
				return err_set(e, SBXD_INTERNAL, "glob: out of memory");
			x->size = size;
			x->mode = 0100000u | (mode & 07777u);
			x->mtime_ms = (int64_t)(mt * 1000.0);
		}
		p = z + 1;
	}
	return SBXD_OK;
}

/* See ctrfs.h. */
sbxd_code
ctrfs_glob(struct ctrfs *c, const char *base, const char *pattern, size_t max,
    int newest_first, fsops_entry_cb cb, void *arg, int *truncated, struct err *e)
{
	const char *argv[] = { "find", "-H", base, "-xdev", "-mindepth", "1", "(",
	    "-name", ".*", "-o", PRUNE_DIRS, ")", "-prune", "-o", "-type", "f",
	    "-printf", "%s\\t%m\\t%T@\\t%P\\0", NULL };
	struct driver_exec_result res;
	struct fsops_entry ent;
	struct fsops_gpat gp;
	struct pmatch m = { 0 };
	struct hits h = { 0 };
	sbxd_code rv;

	*truncated = 0;
	memset(&res, 0, sizeof(res));
	if ((rv = fsops_gpat_compile(pattern, &gp, e)) != SBXD_OK)
		return rv;
	if ((rv = check_base(c, base, 1, e)) != SBXD_OK || gp.dir_only || gp.n == 0 ||
	    (rv = pmatch_init(&m, &gp, e)) != SBXD_OK)
		goto out;
	if ((rv = ctrfs_run(c, argv, CTRFS_SEARCH_OUT, &res, e)) != SBXD_OK)
		goto out;
	/* find's exit 1 means some directory was unreadable: results stand */
	if (res.exit_code != 1 && (rv = search_status(&res, 0, base, e)) != SBXD_OK)
		goto out;
	if ((rv = glob_collect(&res.out, &m, &h, e)) != SBXD_OK)
		goto out;
	if (h.n > 1)
		qsort(h.v, h.n, sizeof(*h.v), newest_first ? by_mtime_desc : by_rel_line);
	*truncated = res.truncated || h.n > max;
	for (size_t i = 0; i < h.n && i < max; i++) {
		const char *slash = strrchr(h.v[i].rel, '/');

		memset(&ent, 0, sizeof(ent));
		snprintf(ent.name, sizeof(ent.name), "%s", slash ? slash + 1 : h.v[i].rel);
		if (snprintf(ent.rel, sizeof(ent.rel), "%s%s%s", base,
		    strcmp(base, "/") ? "/" : "", h.v[i].rel) >= (int)sizeof(ent.rel))
			continue;
		ent.size = h.v[i].size;
		ent.mode = h.v[i].mode;
		ent.mtime_ms = h.v[i].mtime_ms;
		if (cb(arg, &ent) != 0)
			break;
	}
out:
	hits_free(&h);
	free(m.rows);
	fsops_gpat_free(&gp);
	driver_exec_result_fini(&res);
	return rv;
}

/* ---- grep ---------------------------------------------------------------- */

/* find's files, NUL-separated, to grep in batches. $1 the base, $2 "1" to
 * prune hidden names; the rest are grep's options and pattern. */
static const char grep_script[] =
    "b=$1; h=$2; shift 2\n"
    "[ -d \"$b\" ] || exec grep -I -H -Z -s \"$@\" -- \"$b\"\n"
    "if [ \"$h\" = 1 ]; then\n"
    "  find -H \"$b\" -xdev -mindepth 1 \\( -name '.*' -o -type d \\( -name .git -o "
    "-name node_modules -o -name __pycache__ -o -name .venv -o -name venv -o "
    "-name .mypy_cache -o -name .pytest_cache -o -name .ruff_cache -o -name .tox -o "
    "-name dist -o -name build -o -name .eggs \\) \\) -prune -o -type f -print0\n"
    "else\n"
    "  find -H \"$b\" -xdev -mindepth 1 -type d \\( -name .git -o -name node_modules -o "
    "-name __pycache__ -o -name .venv -o -name venv -o -name .mypy_cache -o "
    "-name .pytest_cache -o -name .ruff_cache -o -name .tox -o -name dist -o "
    "-name build -o -name .eggs \\) -prune -o -type f -print0\n"
    "fi 2>/dev/null | xargs -0 -r grep -I -H -Z -s \"$@\"\n";

/* Checks the pattern as the workspace grep would compile it. */
static sbxd_code
grep_check_pattern(const struct fsops_grep_opts *o, struct err *e)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int code;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)o->pattern, PCRE2_ZERO_TERMINATED,
	    o->case_insensitive ? PCRE2_CASELESS : 0, &code, &off, NULL);

	if (re != NULL) {
		pcre2_code_free(re);
		return SBXD_OK;
	}
	pcre2_get_error_message(code, msg, sizeof(msg));
	return err_set(e, SBXD_INVALID_ARGUMENT, "Invalid regex pattern: %s at offset %zu",
	    (const char *)msg, (size_t)off);
}

/* The path below base of grep's "path" (plen bytes); a file base is
 * itself. NULL when it does not start with base. */
static const char *
below_base(const char *base, const char *path, size_t plen, size_t *rlen)
{
	size_t blen = strlen(base);

	if (plen == blen && memcmp(path, base, blen) == 0) {
		*rlen = plen;
		return path;
	}
	if (strcmp(base, "/") == 0) {
		*rlen = plen - 1;
		return path[0] == '/' ? path + 1 : NULL;
	}
	if (plen <= blen + 1 || memcmp(path, base, blen) != 0 || path[blen] != '/')
		return NULL;
	*rlen = plen - blen - 1;
	return path + blen + 1;
}

struct gfilter {
	struct fsops_gpat pp;
	struct pmatch pm;
	struct fsops_gcomp np;
	int has_path, has_name;
};

static int
gfilter_pass(const struct gfilter *f, const char *rel)
{
	const char *name = strrchr(rel, '/');

	name = name ? name + 1 : rel;
	if (f->has_name && !fsops_comp_match(f->np.s, f->np.len, name, strlen(name)))
		return 0;
	return !f->has_path || path_matches(&f->pm, rel);
}

/* Parses grep -Z output: "path\0rest\n" (content: rest is "N:line"; count:
 * "N") or "path\0" (files). */
static sbxd_code
grep_collect(const struct buf *out, const char *base, enum fsops_grep_mode mode,
    const struct gfilter *f, struct hits *h, struct err *e)
{
	const char *p = out->data, *end;

	if (out->len == 0)
		return SBXD_OK;
	end = p + out->len;
	while (p < end) {
		const char *z = memchr(p, '\0', (size_t)(end - p)), *rest, *nl, *rel;
		size_t rlen;
		char relz[FSOPS_PATH_MAX + 1];
		unsigned long long num = 0;
		struct hit *x;

		if (z == NULL)
			break;
		rest = z + 1;
		nl = mode == FSOPS_GREP_FILES ? rest : memchr(rest, '\n', (size_t)(end - rest));
		if (nl == NULL)
			break;   /* cut by the output cap */
		if ((rel = below_base(base, p, (size_t)(z - p), &rlen)) == NULL ||
		    rlen > FSOPS_PATH_MAX)
			goto next;
		memcpy(relz, rel, rlen);
		relz[rlen] = '\0';
		if (!gfilter_pass(f, rel == p ? ctrfs_base_of(relz) : relz))
			goto next;
		if (mode == FSOPS_GREP_CONTENT) {
			const char *colon = memchr(rest, ':', (size_t)(nl - rest));

			if (colon == NULL || sscanf(rest, "%llu", &num) != 1)
				goto next;
			x = hits_add(h, relz, rlen, colon + 1, (size_t)(nl - colon - 1));
		} else {
			if (mode == FSOPS_GREP_COUNT && (sscanf(rest, "%llu", &num) != 1 || num == 0))
				goto next;
			x = hits_add(h, relz, rlen, NULL, 0);
		}
		if (x == NULL)
			return err_set(e, SBXD_INTERNAL, "grep: out of memory");
		x->line = mode == FSOPS_GREP_CONTENT ? num : 0;
		x->count = mode == FSOPS_GREP_COUNT ? num : 0;
next:
		p = mode == FSOPS_GREP_FILES ? z + 1 : nl + 1;
	}
	return SBXD_OK;
}

/* The shown path of a hit: base joined with rel (a file base is rel). */
static int
hit_path(const char *base, const struct hit *x, char *dst, size_t n)
{
	if (strcmp(x->rel, base) == 0)
		return snprintf(dst, n, "%s", base) < (int)n ? 0 : -1;
	return snprintf(dst, n, "%s%s%s", base, strcmp(base, "/") ? "/" : "", x->rel) <
	    (int)n ? 0 : -1;
}

/* See ctrfs.h. */
sbxd_code
ctrfs_grep(struct ctrfs *c, const char *base, const struct fsops_grep_opts *o,
    fsops_grep_cb cb, void *arg, int *truncated, struct err *e)
{
	const char *argv[16];
	struct driver_exec_result res;
	struct gfilter f;
	struct hits h = { 0 };
	char path[FSOPS_PATH_MAX + 2];
	int a = 0;
	sbxd_code rv;

	*truncated = 0;
	memset(&res, 0, sizeof(res));
	memset(&f, 0, sizeof(f));
	if ((rv = grep_check_pattern(o, e)) != SBXD_OK ||
	    (rv = fsops_glob_filter(o->glob, &f.pp, &f.np, &f.has_path, &f.has_name, e)) != SBXD_OK)
		goto out;
	if (f.has_path && (rv = pmatch_init(&f.pm, &f.pp, e)) != SBXD_OK)
		goto out;
	if ((rv = check_base(c, base, 0, e)) != SBXD_OK)
		goto out;
	argv[a++] = "sh";
	argv[a++] = "-c";
	argv[a++] = grep_script;
	argv[a++] = "sh";
	argv[a++] = base;
	argv[a++] = o->include_hidden ? "0" : "1";
	argv[a++] = "-P";
	argv[a++] = o->mode == FSOPS_GREP_FILES ? "-l" : o->mode == FSOPS_GREP_COUNT ? "-c" : "-n";
	if (o->case_insensitive)
		argv[a++] = "-i";
	argv[a++] = "-e";
	argv[a++] = o->pattern;
	argv[a] = NULL;
	if ((rv = ctrfs_run(c, argv, CTRFS_SEARCH_OUT, &res, e)) != SBXD_OK ||
	    (rv = search_status(&res, 1, base, e)) != SBXD_OK ||
	    (rv = grep_collect(&res.out, base, o->mode, &f, &h, e)) != SBXD_OK)
		goto out;
	if (h.n > 1)
		qsort(h.v, h.n, sizeof(*h.v), by_rel_line);
	*truncated = res.truncated || h.n > o->max_results;
	for (size_t i = 0; i < h.n && i < o->max_results; i++) {
		if (hit_path(base, &h.v[i], path, sizeof(path)) != 0)
			continue;
		if (cb(arg, path, h.v[i].line, h.v[i].text, h.v[i].textlen, h.v[i].count) != 0)
			break;
	}
out:
	hits_free(&h);
	free(f.pm.rows);
	fsops_gpat_free(&f.pp);
	driver_exec_result_fini(&res);
	return rv;
}
