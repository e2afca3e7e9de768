/*
 * test_fsops_search.c — fsops_glob and fsops_grep against real trees.
 *
 * Each test gets a fresh temporary directory T holding the workspace T/ws
 * and, beside it, T/outside/ with a canary file the sandbox must never
 * reach. The tests plant what a hostile sandbox could plant — symlink
 * loops, symlinks to outside directories, FIFOs, device nodes, odd names,
 * deep and wide trees, renames racing the walk — and check that results
 * stay inside the workspace and every call returns. They run as root
 * (mknod, mounts); the mount test runs in a private mount namespace and is
 * skipped where one cannot be made. A watchdog alarm turns a hang into a
 * failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "t.h"
#include "fsops.h"
#include "fsops_fixture.h"

#define CANARY "CANARY-7f3a9c1e-outside"

/* ---- fixture ------------------------------------------------------------- */

/* mkdir -p of every directory above path */
static int
mkparents(const char *path)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + strlen(fx_top) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(tmp, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

/* fx_put, creating the parent directories first */
static int
put(const char *path, const void *p, size_t n)
{
	if (mkparents(path) == -1)
		return -1;
	return fx_put(path, p, n);
}

/* T/ws/rel with content s */
static int
mk(const char *rel, const char *s)
{
	return put(fx_W(rel), s, strlen(s));
}

/* T/ws, and T/outside/canary.txt beside it. */
static int
setup(void)
{
	if (fx_up("test_fsops_search") == -1 ||
	    mkdir(fx_T("outside"), 0755) == -1 ||
	    put(fx_T("outside/canary.txt"), CANARY "\n", strlen(CANARY) + 1) == -1)
		return -1;
	return 0;
}

/* ---- collecting results -------------------------------------------------- */

/* Glob results as "rel|rel|..." (entries also checked for sanity). */
static int
glob_cb(void *arg, const struct fsops_entry *ent)
{
	struct buf *b = arg;
	const char *slash = strrchr(ent->rel, '/');

	CHECK_STR(ent->name, slash ? slash + 1 : ent->rel);
	CHECK(S_ISREG(ent->mode) && !ent->is_dir && !ent->is_symlink);
	if (b->len > 0)
		buf_addstr(b, "|");
	buf_addstr(b, ent->rel);
	return 0;
}

/* fsops_glob into a fresh "a|b" string (caller frees); NULL on error. */
static char *
gl(const char *base, const char *pat, size_t max, int newest, int *trunc,
    sbxd_code *code, struct err *e)
{
	struct buf b;
	int tr = -1;
	sbxd_code rv;

	buf_init(&b, 64u << 20);
	buf_addstr(&b, "");
	err_clear(e);
	rv = fsops_glob(&fx_root, base, pat, max, newest, glob_cb, &b, &tr, e);
	if (code != NULL)
		*code = rv;
	if (trunc != NULL)
		*trunc = tr;
	if (rv != SBXD_OK) {
		buf_fini(&b);
		return NULL;
	}
	return buf_take(&b, NULL);
}

/* glob from the root, no cap: the result string, or "ERR" */
static int
glob_is(const char *base, const char *pat, const char *want)
{
	struct err e;
	int tr;
	char *got = gl(base, pat, 100000, 0, &tr, NULL, &e);
	int ok = got != NULL && strcmp(got, want) == 0 && tr == 0;

	if (!ok)
		fprintf(stderr, "  glob(%s, %s) = \"%s\" (%s), want \"%s\"\n", base,
		    pat, got ? got : "ERR", got ? "" : e.msg, want);
	free(got);
	return ok;
}

struct gres {
	struct buf b;
	int stop_after;        /* > 0: the callback stops after this many */
	int n;
};

/* CONTENT "rel:n:line|", FILES "rel|", COUNT "rel:count|" */
static int
grep_cb(void *arg, const char *rel, uint64_t line_number, const char *line,
    size_t linelen, uint64_t count)
{
	struct gres *g = arg;

	buf_addstr(&g->b, rel);
	if (line != NULL) {
		buf_printf(&g->b, ":%llu:", (unsigned long long)line_number);
		buf_add(&g->b, line, linelen);
		CHECK(line[linelen] == '\0');
	} else if (count > 0) {
		buf_printf(&g->b, ":%llu", (unsigned long long)count);
	}
	buf_addstr(&g->b, "|");
	return g->stop_after > 0 && ++g->n >= g->stop_after;
}

static int
count_char(const char *s, char c)
{
	int n = 0;

	for (; s != NULL && (s = strchr(s, c)) != NULL; s++)
		n++;
	return n;
}

static struct fsops_grep_opts
opts(const char *pattern)
{
	return (struct fsops_grep_opts){ .pattern = pattern,
	    .mode = FSOPS_GREP_CONTENT, .max_results = 100000,
	    .max_file = 10u << 20 };
}

/* fsops_grep into a fresh string (caller frees); NULL on error. */
static char *
gr(const char *base, const struct fsops_grep_opts *o, int *trunc,
    sbxd_code *code, struct err *e)
{
	struct gres g = { .stop_after = 0 };
	int tr = -1;
	sbxd_code rv;

	buf_init(&g.b, 64u << 20);
	buf_addstr(&g.b, "");
	err_clear(e);
	rv = fsops_grep(&fx_root, base, o, grep_cb, &g, &tr, e);
	if (code != NULL)
		*code = rv;
	if (trunc != NULL)
		*trunc = tr;
	if (rv != SBXD_OK) {
		buf_fini(&g.b);
		return NULL;
	}
	return buf_take(&g.b, NULL);
}

static int
grep_is(const char *base, const struct fsops_grep_opts *o, const char *want)
{
	struct err e;
	int tr;
	char *got = gr(base, o, &tr, NULL, &e);
	int ok = got != NULL && strcmp(got, want) == 0 && tr == 0;

	if (!ok)
		fprintf(stderr, "  grep(%s, /%s/, glob %s) = \"%s\" (%s, tr %d), "
		    "want \"%s\"\n", base, o->pattern, o->glob ? o->glob : "-",
		    got ? got : "ERR", got ? "" : e.msg, tr, want);
	free(got);
	return ok;
}

/* ---- glob semantics ------------------------------------------------------ */

TEST(glob_table)
{
	static const struct { const char *base, *pat, *want; } t[] = {
		{ ".", "*.py", ".hidden.py|a.py" },      /* '*' matches a leading '.' */
		{ ".", "*", ".hidden.py|a.py|b.txt|c1.txt|c[1].txt|lit.{a,b}" },
		{ ".", "**/*.py", ".hidden.py|a.py|src/.dot/w.py|src/x.py|src/y/z.py" },
		{ ".", "src/*.py", "src/x.py" },
		{ ".", "src/**", "src/.dot/w.py|src/x.py|src/y/q.txt|src/y/z.py" },
		{ ".", "src/**/*.py", "src/.dot/w.py|src/x.py|src/y/z.py" },
		{ ".", "src/**/x.py", "src/x.py" },      /* '**' = zero directories */
		{ ".", "**/y/*", "src/y/q.txt|src/y/z.py" },
		{ ".", "**/z.py", "src/y/z.py" },
		{ ".", "?.py", "a.py" },
		{ ".", "??.py", "" },
		{ ".", "[ab].*", "a.py|b.txt" },
		{ ".", "[!a].*", "b.txt" },
		{ ".", "[^a].*", "b.txt" },
		{ ".", "[a-b].py", "a.py" },
		{ ".", "c[1].txt", "c1.txt" },
		{ ".", "c[[]1].txt", "c[1].txt" },
		{ ".", "c[1.txt", "" },                 /* unclosed '[' is literal */
		{ ".", "*.{py,txt}", "" },               /* no brace expansion */
		{ ".", "lit.{a,b}", "lit.{a,b}" },
		{ ".", "a.p*y", "a.py" },
		{ ".", "*a*p*y*", "a.py" },
		{ ".", "src", "" },                      /* directories are not results */
		{ ".", "src/y", "" },
		{ ".", "src/", "" },
		{ ".", "./src//x.py", "src/x.py" },
		{ ".", "**", ".hidden.py|a.py|b.txt|c1.txt|c[1].txt|lit.{a,b}|"
		    "src/.dot/w.py|src/x.py|src/y/q.txt|src/y/z.py" },
		{ ".", "**/**/z.py", "src/y/z.py" },
		{ ".", "*/*/*", "src/.dot/w.py|src/y/q.txt|src/y/z.py" },
		{ "src", "*.py", "src/x.py" },           /* rel stays workspace-relative */
		{ "src", "**/*.txt", "src/y/q.txt" },
		{ "src/y", "*", "src/y/q.txt|src/y/z.py" },
		{ "/", "", NULL },
	};

	REQUIRE(setup() == 0);
	REQUIRE(mk("a.py", "") == 0 && mk("b.txt", "") == 0 &&
	    mk(".hidden.py", "") == 0 && mk("c1.txt", "") == 0 &&
	    mk("c[1].txt", "") == 0 && mk("lit.{a,b}", "") == 0 &&
	    mk("src/x.py", "") == 0 && mk("src/y/z.py", "") == 0 &&
	    mk("src/y/q.txt", "") == 0 && mk("src/.dot/w.py", "") == 0);
	for (size_t i = 0; t[i].want != NULL; i++)
		CHECK(glob_is(t[i].base, t[i].pat, t[i].want));
	CHECK(glob_is("", "*.txt", "b.txt|c1.txt|c[1].txt"));
	fx_down();
}

TEST(glob_errors)
{
	static const char *bad[] = { "", "/src/*.py", "../x", "a/../b", NULL };
	struct err e;
	sbxd_code code;
	char big[5000];

	REQUIRE(setup() == 0);
	REQUIRE(mk("f.txt", "x") == 0);
	for (int i = 0; bad[i] != NULL; i++) {
		CHECK(gl(".", bad[i], 10, 0, NULL, &code, &e) == NULL);
		CHECK_INT(code, SBXD_INVALID_ARGUMENT);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(gl(".", big, 10, 0, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_INVALID_ARGUMENT);
	CHECK(gl("missing", "*", 10, 0, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_NOT_FOUND);
	CHECK_STR(e.msg, "File '/workspace/missing' not found");
	CHECK(gl("f.txt", "*", 10, 0, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "'/workspace/f.txt' is not a directory");
	CHECK(gl("f.txt/x", "*", 10, 0, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_NOT_FOUND);
	fx_down();
}

/* A star-heavy pattern against long names: linear, not exponential. */
TEST(glob_no_backtracking_blowup)
{
	char name[256], pat[128];
	char *got;
	struct err e;

	REQUIRE(setup() == 0);
	memset(name, 'a', 250);
	name[250] = '\0';
	REQUIRE(mk(name, "") == 0);
	strcpy(pat, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
	got = gl(".", pat, 10, 0, NULL, NULL, &e);
	CHECK_STR(got, "");
	free(got);
	fx_down();
}

static int
set_mtime(const char *rel, time_t sec)
{
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };

	return utimensat(AT_FDCWD, fx_W(rel), ts, AT_SYMLINK_NOFOLLOW);
}

static int
first_entry_cb(void *arg, const struct fsops_entry *ent)
{
	struct fsops_entry *out = arg;

	if (out->rel[0] == '\0')
		*out = *ent;
	return 0;
}

TEST(glob_order_and_fields)
{
	static struct fsops_entry ent;
	struct err e;
	int tr;
	char *got;

	REQUIRE(setup() == 0);
	REQUIRE(mk("a.txt", "1") == 0 && mk("b.txt", "22") == 0 &&
	    mk("c.txt", "333") == 0 && mk("d.txt", "4444") == 0 &&
	    mk("a/b.txt", "x") == 0 && mk("a.b/c.txt", "x") == 0);
	REQUIRE(set_mtime("a.txt", 100) == 0 && set_mtime("b.txt", 300) == 0 &&
	    set_mtime("c.txt", 200) == 0 && set_mtime("d.txt", 300) == 0 &&
	    set_mtime("a/b.txt", 50) == 0 && set_mtime("a.b/c.txt", 50) == 0);
	/* path order is bytewise on the whole path: '.' (0x2e) < '/' (0x2f) */
	CHECK(glob_is(".", "**/*.txt", "a.b/c.txt|a.txt|a/b.txt|b.txt|c.txt|d.txt"));
	got = gl(".", "**/*.txt", 100, 1, &tr, NULL, &e);
	CHECK_STR(got, "b.txt|d.txt|c.txt|a.txt|a.b/c.txt|a/b.txt");
	CHECK_INT(tr, 0);
	free(got);

	memset(&ent, 0, sizeof(ent));
	REQUIRE_INT(fsops_glob(&fx_root, ".", "*.txt", 10, 1, first_entry_cb, &ent,
	    &tr, &e), SBXD_OK);
	CHECK_STR(ent.rel, "b.txt");
	CHECK_STR(ent.name, "b.txt");
	CHECK_INT(ent.size, 2);
	CHECK_INT(ent.mtime_ms, 300000);
	CHECK(S_ISREG(ent.mode));
	fx_down();
}

static int
stop_cb(void *arg, const struct fsops_entry *ent)
{
	int *n = arg;

	(void)ent;
	return ++*n >= 2;
}

TEST(glob_cap)
{
	struct err e;
	int tr, n = 0;
	char *got, name[32];

	REQUIRE(setup() == 0);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%d.txt", i);
		REQUIRE(mk(name, "") == 0);
	}
	got = gl(".", "*.txt", 3, 0, &tr, NULL, &e);
	CHECK_STR(got, "f0.txt|f1.txt|f2.txt");
	CHECK_INT(tr, 1);
	free(got);
	got = gl(".", "*.txt", 10, 0, &tr, NULL, &e);
	CHECK_INT(tr, 0);
	free(got);
	got = gl(".", "*.txt", 0, 0, &tr, NULL, &e);
	CHECK_STR(got, "");
	CHECK_INT(tr, 1);
	free(got);
	/* the callback stopping early is not truncation */
	CHECK_INT(fsops_glob(&fx_root, ".", "*.txt", 10, 0, stop_cb, &n, &tr, &e), SBXD_OK);
	CHECK_INT(n, 2);
	CHECK_INT(tr, 0);
	fx_down();
}

/* Deeper than FSOPS_WALK_DEPTH: what is above is found, the rest cut. */
TEST(walk_depth_bound)
{
	char rel[1024] = "";
	struct err e;
	int tr;
	char *got;

	REQUIRE(setup() == 0);
	for (int i = 0; i < FSOPS_WALK_DEPTH + 6; i++) {
		strcat(rel, "d/");
		if (i == 9 || i == FSOPS_WALK_DEPTH + 5) {
			strcat(rel, "f.txt");
			REQUIRE(mk(rel, "deep") == 0);
			rel[strlen(rel) - 5] = '\0';
		}
	}
	got = gl(".", "**/f.txt", 100, 0, &tr, NULL, &e);
	CHECK_STR(got, "d/d/d/d/d/d/d/d/d/d/f.txt");
	CHECK_INT(tr, 1);
	free(got);
	{
		struct fsops_grep_opts o = opts("deep");

		o.mode = FSOPS_GREP_FILES;
		got = gr(".", &o, &tr, NULL, &e);
		CHECK_STR(got, "d/d/d/d/d/d/d/d/d/d/f.txt|");
		CHECK_INT(tr, 1);
		free(got);
	}
	fx_down();
}

/* ---- hostile trees --------------------------------------------------------- */

/* Symlink loops, symlinks to files and to outside directories: never
 * followed by the walk, so listed nowhere and never searched. */
TEST(symlinks_never_followed)
{
	struct fsops_grep_opts o = opts("CANARY|REAL");
	struct err e;
	sbxd_code code;
	char *got;

	REQUIRE(setup() == 0);
	REQUIRE(mk("real.txt", "REAL\n") == 0 && mk("sub/s.txt", "REAL sub\n") == 0);
	REQUIRE(symlink(".", fx_W("loop")) == 0 && symlink("self", fx_W("self")) == 0 &&
	    symlink("..", fx_W("sub/up")) == 0 && symlink("real.txt", fx_W("flink")) == 0 &&
	    symlink(fx_T("outside"), fx_W("out")) == 0 &&
	    symlink("../outside", fx_W("rel_out")) == 0 &&
	    symlink(fx_T("outside/canary.txt"), fx_W("can.txt")) == 0 &&
	    symlink("../../outside", fx_W("sub/out2")) == 0);
	CHECK(glob_is(".", "**", "real.txt|sub/s.txt"));
	CHECK(glob_is(".", "**/*", "real.txt|sub/s.txt"));
	CHECK(glob_is(".", "*", "real.txt"));
	CHECK(grep_is(".", &o, "real.txt:1:REAL|sub/s.txt:1:REAL sub|"));
	o.include_hidden = 1;
	CHECK(grep_is(".", &o, "real.txt:1:REAL|sub/s.txt:1:REAL sub|"));
	/* a symlinked base is followed in-root, like the sandbox would */
	CHECK(grep_is("loop", &o, "loop/real.txt:1:REAL|loop/sub/s.txt:1:REAL sub|"));
	CHECK(glob_is("loop", "*.txt", "loop/real.txt"));
	CHECK(grep_is("flink", &o, "flink:1:REAL|"));
	/* in-root, the host path and ../outside name nothing */
	CHECK(gr("out", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_NOT_FOUND);
	CHECK(gr("rel_out", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_NOT_FOUND);
	CHECK(gr("can.txt", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_NOT_FOUND);
	CHECK(gl("sub/out2", "**", 10, 0, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_NOT_FOUND);
	CHECK(gr("self", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_FAILED_PRECONDITION);
	/* the canary directory planted inside, by the host, is found: sanity */
	REQUIRE(rename(fx_T("outside"), fx_W("inside")) == 0);
	got = gr(".", &o, NULL, NULL, &e);
	CHECK_CONTAINS(got, "inside/canary.txt:1:" CANARY);
	free(got);
	fx_down();
}

/* FIFOs and device nodes are never opened for reading: no hang, no
 * endless /dev/zero. */
TEST(fifo_and_devices)
{
	struct fsops_grep_opts o = opts("");
	struct err e;
	sbxd_code code;
	char *got;

	REQUIRE(setup() == 0);
	REQUIRE(mk("ok.txt", "fine\n") == 0);
	REQUIRE(mkfifo(fx_W("fifo"), 0644) == 0 && mkfifo(fx_W("fifo.txt"), 0644) == 0);
	REQUIRE(mknod(fx_W("zero.txt"), S_IFCHR | 0644, makedev(1, 5)) == 0);
	REQUIRE(mknod(fx_W("null"), S_IFCHR | 0644, makedev(1, 3)) == 0);
	CHECK(glob_is(".", "**", "ok.txt"));
	CHECK(glob_is(".", "*.txt", "ok.txt"));
	CHECK(grep_is(".", &o, "ok.txt:1:fine|"));
	o.include_hidden = 1;
	CHECK(grep_is(".", &o, "ok.txt:1:fine|"));
	CHECK(gr("fifo", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "not a regular file or directory");
	CHECK(gr("zero.txt", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_FAILED_PRECONDITION);
	CHECK(gl("null", "*", 10, 0, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_FAILED_PRECONDITION);
	got = gl(".", "*", 10, 0, NULL, NULL, &e);
	CHECK_STR(got, "ok.txt");
	free(got);
	fx_down();
}

/* Names are bytes: spaces, quotes, newlines, non-UTF-8 all come back
 * exactly. */
TEST(odd_names)
{
	static const char *names[] = {
		"sp ace.txt", "new\nline.txt", "quo'te\".txt", "\xff\xfe.txt",
		"tab\t.txt", "-dash.txt", "back\\slash.txt", "$(x).txt", NULL,
	};
	struct fsops_grep_opts o = opts("needle");
	struct buf want;
	struct err e;
	char *got;

	REQUIRE(setup() == 0);
	buf_init(&want, 1 << 20);
	buf_addstr(&want, "");
	for (int i = 0; names[i] != NULL; i++)
		REQUIRE(mk(names[i], "needle\n") == 0);
	/* bytewise order */
	{
		static const char *sorted[] = {
			"$(x).txt", "-dash.txt", "back\\slash.txt", "new\nline.txt",
			"quo'te\".txt", "sp ace.txt", "tab\t.txt", "\xff\xfe.txt", NULL,
		};
		struct buf gw;

		buf_init(&gw, 1 << 20);
		buf_addstr(&gw, "");
		for (int i = 0; sorted[i] != NULL; i++) {
			buf_printf(&gw, "%s%s", i ? "|" : "", sorted[i]);
			buf_printf(&want, "%s:1:needle|", sorted[i]);
		}
		CHECK(glob_is(".", "*.txt", gw.data));
		buf_fini(&gw);
	}
	CHECK(glob_is(".", "\xff*", "\xff\xfe.txt"));
	CHECK(glob_is(".", "new?line.txt", "new\nline.txt"));
	CHECK(glob_is(".", "back\\slash.txt", "back\\slash.txt"));
	got = gr(".", &o, NULL, NULL, &e);
	CHECK_STR(got, want.data);
	free(got);
	buf_fini(&want);
	fx_down();
}

/* 1000 files in 10 directories: all found, in order. */
TEST(thousand_files)
{
	struct fsops_grep_opts o = opts("^line [0-9]+$");
	struct err e;
	char rel[64], prev[64] = "", *got, *p, *save = NULL;
	int tr, n = 0, sorted = 1;

	REQUIRE(setup() == 0);
	for (int d = 0; d < 10; d++)
		for (int f = 0; f < 100; f++) {
			snprintf(rel, sizeof(rel), "dir%d/file%03d.txt", 9 - d, f);
			REQUIRE(mk(rel, "line 1\nother\nline 2\n") == 0);
		}
	REQUIRE(mk("dir0/skip.dat", "line 3\n") == 0);
	got = gl(".", "**/*.txt", 5000, 0, &tr, NULL, &e);
	REQUIRE(got != NULL);
	for (p = strtok_r(got, "|", &save); p != NULL; p = strtok_r(NULL, "|", &save)) {
		if (strcmp(prev, p) >= 0)
			sorted = 0;
		snprintf(prev, sizeof(prev), "%s", p);
		n++;
	}
	CHECK_INT(n, 1000);
	CHECK(sorted);
	CHECK_INT(tr, 0);
	free(got);

	o.mode = FSOPS_GREP_COUNT;
	o.glob = "*.txt";
	got = gr(".", &o, &tr, NULL, &e);
	REQUIRE(got != NULL);
	CHECK(strncmp(got, "dir0/file000.txt:2|dir0/file001.txt:2|", 38) == 0);
	CHECK_INT(count_char(got, '|'), 1000);
	free(got);
	o.mode = FSOPS_GREP_CONTENT;
	o.max_results = 1500;
	got = gr(".", &o, &tr, NULL, &e);
	CHECK_INT(tr, 1);
	CHECK_INT(count_char(got, '|'), 1500);
	free(got);
	fx_down();
}

/* Renames racing the walk: a directory flips between a real one and a
 * symlink to the outside directory. The canary never shows. */
static volatile int g_racing;

static void *
flipper(void *arg)
{
	(void)arg;
	while (g_racing) {
		rename(fx_W("d"), fx_W("d.real"));
		(void)!symlink(fx_T("outside"), fx_W("d"));
		rename(fx_W("d"), fx_W("d.link"));
		rename(fx_W("d.real"), fx_W("d"));
		rename(fx_W("d.link"), fx_W("d"));   /* fails: d is a non-empty dir */
		unlink(fx_W("d.link"));
		(void)!symlink("../outside", fx_W("d.link"));
		unlink(fx_W("d.link"));
	}
	return NULL;
}

TEST(renames_racing)
{
	struct fsops_grep_opts o = opts(CANARY "|inner");
	struct err e;
	pthread_t th;
	int leaked = 0, runs = 0;

	REQUIRE(setup() == 0);
	REQUIRE(mk("d/sub/inner.txt", "inner\n") == 0);
	o.include_hidden = 1;
	g_racing = 1;
	REQUIRE(pthread_create(&th, NULL, flipper, NULL) == 0);
	for (int i = 0; i < 300; i++) {
		char *a = gr(".", &o, NULL, NULL, &e);
		char *b = gl(".", "**", 1000, 0, NULL, NULL, &e);
		char *c = gr("d", &o, NULL, NULL, &e);

		if ((a && strstr(a, CANARY)) || (b && strstr(b, "canary")) ||
		    (c && strstr(c, CANARY)))
			leaked++;
		runs += a != NULL && b != NULL;
		free(a);
		free(b);
		free(c);
	}
	g_racing = 0;
	pthread_join(th, NULL);
	CHECK_INT(leaked, 0);
	CHECK_INT(runs, 300);
	fx_down();
}

/* A FIFO renamed over a searched file, back and forth: whatever the
 * timing, it is never opened (inotify sees every open but O_PATH's). */
static void *
fifo_flipper(void *arg)
{
	(void)arg;
	while (g_racing) {
		rename(fx_W("x.txt"), fx_W("tmp"));
		rename(fx_W("p"), fx_W("x.txt"));
		rename(fx_W("x.txt"), fx_W("p"));
		rename(fx_W("tmp"), fx_W("x.txt"));
	}
	return NULL;
}

TEST(fifo_swapped_in_never_opened)
{
	struct fsops_grep_opts o = opts("hit");
	char evs[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct err e;
	pthread_t th;
	ssize_t n;
	int in, opened = 0, found = 0;

	REQUIRE(setup() == 0);
	REQUIRE(mk("x.txt", "hit\n") == 0 && mkfifo(fx_W("p"), 0644) == 0);
	REQUIRE((in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) != -1);
	REQUIRE(inotify_add_watch(in, fx_W("p"), IN_OPEN) != -1);
	g_racing = 1;
	REQUIRE(pthread_create(&th, NULL, fifo_flipper, NULL) == 0);
	/* x.txt holds the file only between the flipper's last and first
	 * rename, so a grep may miss it many times in a row: go on (bounded)
	 * until one has seen it */
	for (int i = 0; i < 500 || (found == 0 && i < 50000); i++) {
		char *a = gr(".", &o, NULL, NULL, &e);
		char *b = gr("x.txt", &o, NULL, NULL, &e);

		found += a != NULL && strstr(a, "x.txt:1:hit") != NULL;
		free(a);
		free(b);
	}
	g_racing = 0;
	pthread_join(th, NULL);
	while ((n = read(in, evs, sizeof(evs))) > 0)
		for (char *p = evs; p < evs + n;
		    p += sizeof(struct inotify_event) + ((struct inotify_event *)p)->len)
			opened++;
	close(in);
	CHECK_INT(opened, 0);
	CHECK(found > 0);
	fx_down();
}

/* ---- grep semantics ------------------------------------------------------ */

TEST(grep_lines_exact)
{
	struct fsops_grep_opts o = opts(".");
	struct err e;
	char *big, *got;
	size_t bl = 200000;

	REQUIRE(setup() == 0);
	REQUIRE(mk("l.txt", "one\r\ntwo\n\nthree") == 0);
	CHECK(grep_is(".", &o, "l.txt:1:one\r|l.txt:2:two|l.txt:4:three|"));
	o.pattern = "^$";
	CHECK(grep_is(".", &o, "l.txt:3:|"));
	o.pattern = "one$";    /* the '\r' is kept: "one\r" does not end in "one" */
	CHECK(grep_is(".", &o, ""));
	o.pattern = "";        /* the empty pattern matches every line */
	CHECK(grep_is(".", &o, "l.txt:1:one\r|l.txt:2:two|l.txt:3:|l.txt:4:three|"));
	REQUIRE(mk("e.txt", "") == 0 && mk("n.txt", "\n") == 0);
	CHECK(grep_is("e.txt", &o, ""));
	CHECK(grep_is("n.txt", &o, "n.txt:1:|"));

	/* a line longer than any read chunk */
	REQUIRE((big = malloc(bl + 64)) != NULL);
	memset(big, 'x', bl);
	strcpy(big + bl, "NEEDLE\nafter NEEDLE\n");
	REQUIRE(put(fx_W("big.txt"), big, strlen(big)) == 0);
	o.pattern = "NEEDLE";
	got = gr("big.txt", &o, NULL, NULL, &e);
	REQUIRE(got != NULL);
	CHECK_INT(strlen(got), strlen("big.txt:1:") + bl + 6 + strlen("|big.txt:2:after NEEDLE|"));
	CHECK(strstr(got, "xNEEDLE|big.txt:2:after NEEDLE|") != NULL);
	free(got);
	free(big);

	/* many lines across many read chunks: numbers and bytes stay right */
	{
		struct buf b;

		buf_init(&b, 16u << 20);
		for (int i = 0; i < 200000; i++)
			buf_printf(&b, "L%d\n", i);
		REQUIRE(put(fx_W("many.txt"), b.data, b.len) == 0);
		buf_fini(&b);
		o.pattern = "^L(0|65535|99999|199999)$";
		CHECK(grep_is("many.txt", &o, "many.txt:1:L0|many.txt:65536:L65535|"
		    "many.txt:100000:L99999|many.txt:200000:L199999|"));
		o.pattern = "^L";
		o.mode = FSOPS_GREP_COUNT;
		CHECK(grep_is("many.txt", &o, "many.txt:200000|"));
	}
	fx_down();
}

TEST(grep_modes_and_caps)
{
	struct fsops_grep_opts o = opts("hit");
	struct gres g = { .stop_after = 2 };
	struct err e;
	int tr;
	char *got;

	REQUIRE(setup() == 0);
	REQUIRE(mk("a.txt", "hit 1\nmiss\nhit 2\n") == 0 &&
	    mk("b.txt", "hit 3\nhit 4\n") == 0 && mk("c.txt", "nothing\n") == 0 &&
	    mk("d.txt", "hit 5\nhit 6\n") == 0);
	CHECK(grep_is(".", &o, "a.txt:1:hit 1|a.txt:3:hit 2|b.txt:1:hit 3|"
	    "b.txt:2:hit 4|d.txt:1:hit 5|d.txt:2:hit 6|"));
	o.mode = FSOPS_GREP_FILES;
	CHECK(grep_is(".", &o, "a.txt|b.txt|d.txt|"));
	o.mode = FSOPS_GREP_COUNT;
	CHECK(grep_is(".", &o, "a.txt:2|b.txt:2|d.txt:2|"));

	o.mode = FSOPS_GREP_CONTENT;
	o.max_results = 3;
	got = gr(".", &o, &tr, NULL, &e);
	CHECK_STR(got, "a.txt:1:hit 1|a.txt:3:hit 2|b.txt:1:hit 3|");
	CHECK_INT(tr, 1);
	free(got);
	o.max_results = 6;       /* exactly all: not truncated */
	got = gr(".", &o, &tr, NULL, &e);
	CHECK_INT(tr, 0);
	free(got);
	o.mode = FSOPS_GREP_FILES;
	o.max_results = 2;
	got = gr(".", &o, &tr, NULL, &e);
	CHECK_STR(got, "a.txt|b.txt|");
	CHECK_INT(tr, 1);
	free(got);
	o.mode = FSOPS_GREP_COUNT;
	o.max_results = 3;
	got = gr(".", &o, &tr, NULL, &e);
	CHECK_STR(got, "a.txt:2|b.txt:2|d.txt:2|");
	CHECK_INT(tr, 0);
	free(got);

	/* the callback stopping is not truncation */
	o.mode = FSOPS_GREP_CONTENT;
	o.max_results = 100;
	buf_init(&g.b, 1 << 20);
	buf_addstr(&g.b, "");
	CHECK_INT(fsops_grep(&fx_root, ".", &o, grep_cb, &g, &tr, &e), SBXD_OK);
	CHECK_STR(g.b.data, "a.txt:1:hit 1|a.txt:3:hit 2|");
	CHECK_INT(tr, 0);
	buf_fini(&g.b);

	/* larger than max_file: skipped (a.txt is 17 bytes, b.txt 12) */
	o.max_file = 12;
	o.mode = FSOPS_GREP_FILES;
	CHECK(grep_is(".", &o, "b.txt|d.txt|"));
	CHECK(grep_is("a.txt", &o, ""));
	fx_down();
}

TEST(grep_hidden_and_skip_dirs)
{
	struct fsops_grep_opts o = opts("match");

	REQUIRE(setup() == 0);
	REQUIRE(mk("normal.txt", "match\n") == 0 && mk(".env", "match\n") == 0 &&
	    mk(".git/config", "match\n") == 0 && mk("node_modules/m.js", "match\n") == 0 &&
	    mk("build/out.txt", "match\n") == 0 && mk("src/build", "match\n") == 0 &&
	    mk("src/.hid/x", "match\n") == 0 && mk("venv/x", "match\n") == 0 &&
	    mk("dist/x", "match\n") == 0 && mk("__pycache__/x", "match\n") == 0 &&
	    mk("a/.tox/x", "match\n") == 0 && mk("a/.eggs/x", "match\n") == 0 &&
	    mk("a/.mypy_cache/x", "match\n") == 0 && mk("a/.pytest_cache/x", "match\n") == 0 &&
	    mk("a/.ruff_cache/x", "match\n") == 0 && mk("a/.venv/x", "match\n") == 0 &&
	    mk("a/distx/x", "match\n") == 0);
	o.mode = FSOPS_GREP_FILES;
	CHECK(grep_is(".", &o, "a/distx/x|normal.txt|src/build|"));
	o.include_hidden = 1;
	CHECK(grep_is(".", &o, ".env|.git/config|__pycache__/x|a/.eggs/x|"
	    "a/.mypy_cache/x|a/.pytest_cache/x|a/.ruff_cache/x|a/.tox/x|a/.venv/x|"
	    "a/distx/x|build/out.txt|dist/x|node_modules/m.js|normal.txt|"
	    "src/.hid/x|src/build|venv/x|"));
	o.include_hidden = 0;
	/* named explicitly: searched even though hidden */
	CHECK(grep_is(".env", &o, ".env|"));
	CHECK(grep_is(".git", &o, ".git/config|"));
	CHECK(grep_is("node_modules", &o, "node_modules/m.js|"));
	CHECK(grep_is("src/.hid/x", &o, "src/.hid/x|"));
	fx_down();
}

TEST(grep_glob_filter)
{
	struct fsops_grep_opts o = opts("x");

	REQUIRE(setup() == 0);
	REQUIRE(mk("a.py", "x\n") == 0 && mk("src/b.py", "x\n") == 0 &&
	    mk("src/deep/c.py", "x\n") == 0 && mk("src/d.txt", "x\n") == 0 &&
	    mk("e.PY", "x\n") == 0);
	o.mode = FSOPS_GREP_FILES;
	o.glob = "*.py";         /* bare: the file name, at any depth */
	CHECK(grep_is(".", &o, "a.py|src/b.py|src/deep/c.py|"));
	o.glob = "src/*.py";     /* with '/': the path below the base */
	CHECK(grep_is(".", &o, "src/b.py|"));
	o.glob = "**/*.py";
	CHECK(grep_is(".", &o, "a.py|src/b.py|src/deep/c.py|"));
	o.glob = "*/*.py";
	CHECK(grep_is(".", &o, "src/b.py|"));
	o.glob = "*.txt";
	CHECK(grep_is(".", &o, "src/d.txt|"));
	o.glob = "*.{py,txt}";   /* no brace expansion */
	CHECK(grep_is(".", &o, ""));
	o.glob = "deep/*.py";
	CHECK(grep_is("src", &o, "src/deep/c.py|"));
	o.glob = "*.py";
	CHECK(grep_is("src", &o, "src/b.py|src/deep/c.py|"));
	o.glob = "src/";
	CHECK(grep_is(".", &o, ""));
	o.glob = "";             /* empty: everything */
	CHECK(grep_is("src", &o, "src/b.py|src/d.txt|src/deep/c.py|"));
	o.glob = "*.txt";        /* a file named as the base ignores the filter */
	CHECK(grep_is("a.py", &o, "a.py|"));
	{
		struct err e;
		sbxd_code code;

		o.glob = "../*.py";
		CHECK(gr(".", &o, NULL, &code, &e) == NULL);
		CHECK_INT(code, SBXD_INVALID_ARGUMENT);
	}
	fx_down();
}

TEST(grep_case_and_regex)
{
	struct fsops_grep_opts o = opts("HeLLo");
	struct err e;
	sbxd_code code;

	REQUIRE(setup() == 0);
	REQUIRE(mk("f.txt", "hello world\nHELLO\nbye\n\xc3\xa9t\xc3\xa9\n") == 0);
	CHECK(grep_is(".", &o, ""));
	o.case_insensitive = 1;
	CHECK(grep_is(".", &o, "f.txt:1:hello world|f.txt:2:HELLO|"));
	o.case_insensitive = 0;
	o.pattern = "\\bworld\\b|^b.e$";     /* Perl-compatible */
	CHECK(grep_is(".", &o, "f.txt:1:hello world|f.txt:3:bye|"));
	o.pattern = "^..t..$";               /* bytes: é is two of them */
	CHECK(grep_is(".", &o, "f.txt:4:\xc3\xa9t\xc3\xa9|"));
	o.pattern = "(*UTF)^.t.$";           /* UTF-8 mode on request */
	CHECK(grep_is(".", &o, "f.txt:4:\xc3\xa9t\xc3\xa9|"));

	o.pattern = "(";
	CHECK(gr(".", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_INVALID_ARGUMENT);
	CHECK_STR(e.msg, "Invalid regex pattern: missing closing parenthesis at offset 1");
	o.pattern = "a{2,1}";
	CHECK(gr(".", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_INVALID_ARGUMENT);
	CHECK(strncmp(e.msg, "Invalid regex pattern: ", 23) == 0);
	CHECK_CONTAINS(e.msg, " at offset ");
	/* an invalid pattern is reported even when the base is missing */
	o.pattern = "[";
	CHECK(gr("missing", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_INVALID_ARGUMENT);
	o.pattern = "x";
	CHECK(gr("missing", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_NOT_FOUND);
	fx_down();
}

TEST(grep_binary_skipped)
{
	struct fsops_grep_opts o = opts("match");
	char *buf;

	REQUIRE(setup() == 0);
	REQUIRE(put(fx_W("bin1"), "abc\0 match\n", 11) == 0);
	REQUIRE((buf = malloc(10000)) != NULL);
	memset(buf, 'y', 10000);
	memcpy(buf, "match\n", 6);
	buf[9000] = '\0';         /* a NUL past the first 8 KiB: searched */
	REQUIRE(put(fx_W("late_nul"), buf, 10000) == 0);
	buf[9000] = 'y';
	buf[8191] = '\0';         /* the last byte of the probe: binary */
	REQUIRE(put(fx_W("edge_nul"), buf, 10000) == 0);
	free(buf);
	REQUIRE(mk("text", "match\n") == 0);
	o.mode = FSOPS_GREP_FILES;
	CHECK(grep_is(".", &o, "late_nul|text|"));
	CHECK(grep_is("bin1", &o, ""));
	fx_down();
}

/* "(a+)+$" on "aaa…ab" backtracks exponentially: PCRE2's limits end each
 * such line with an error, which makes that line a non-match and the
 * result truncated; after enough of them the search stops. "(?=x*(?=x*z))"
 * is cubic in the line length and never reaches PCRE2's match limit (which
 * counts per start position, and not possessive scans): the per-line time
 * budget ends it instead (without it this line takes hours). */
TEST(grep_catastrophic_pattern)
{
	struct fsops_grep_opts o = opts("(a+)+$");
	struct buf b;
	struct err e;
	int tr;
	char *got;

	REQUIRE(setup() == 0);
	buf_init(&b, 16u << 20);
	for (int i = 0; i < 3000; i++)
		buf_addstr(&b, "a");
	buf_addstr(&b, "b\naaa\n");
	REQUIRE(put(fx_W("one.txt"), b.data, b.len) == 0);
	got = gr(".", &o, &tr, NULL, &e);
	CHECK_STR(got, "one.txt:2:aaa|");
	CHECK_INT(tr, 1);
	free(got);

	buf_reset(&b);
	for (int l = 0; l < 300; l++) {
		for (int i = 0; i < 3000; i++)
			buf_addstr(&b, "a");
		buf_addstr(&b, "b\n");
	}
	buf_addstr(&b, "aaa\n");
	REQUIRE(put(fx_W("many.txt"), b.data, b.len) == 0);
	got = gr("many.txt", &o, &tr, NULL, &e);
	CHECK_STR(got, "");      /* stopped before the last line */
	CHECK_INT(tr, 1);
	free(got);

	buf_reset(&b);
	for (int i = 0; i < 20000; i++)
		buf_addstr(&b, "x");
	buf_addstr(&b, "\nxz\n");
	REQUIRE(put(fx_W("cubic.txt"), b.data, b.len) == 0);
	o.pattern = "(?=x*(?=x*z))";
	got = gr("cubic.txt", &o, &tr, NULL, &e);
	CHECK_STR(got, "cubic.txt:2:xz|");
	CHECK_INT(tr, 1);
	free(got);
	buf_fini(&b);
	fx_down();
}

/* ---- mounts, in a private mount namespace ------------------------------- */

static void
in_mount_ns(void)
{
	struct fsops_grep_opts o = opts(CANARY "|inside");
	struct err e;
	sbxd_code code;

	REQUIRE(mk("inside.txt", "inside\n") == 0 && mk("bf.txt", "inside bf\n") == 0);
	REQUIRE(mkdir(fx_W("mnt"), 0755) == 0 && mkdir(fx_W("bind"), 0755) == 0);
	REQUIRE(mount("tmpfs", fx_W("mnt"), "tmpfs", 0, "size=64k") == 0);
	REQUIRE(put(fx_W("mnt/canary.txt"), CANARY "\n", strlen(CANARY) + 1) == 0);
	REQUIRE(mount(fx_T("outside"), fx_W("bind"), NULL, MS_BIND, NULL) == 0);
	REQUIRE(mount(fx_T("outside/canary.txt"), fx_W("bf.txt"), NULL, MS_BIND, NULL) == 0);
	fsops_root_close(&fx_root);
	REQUIRE_INT(fsops_root_open(fx_T("ws"), 1000, 1000, &fx_root, &e), SBXD_OK);
	CHECK(glob_is(".", "**", "inside.txt"));
	CHECK(grep_is(".", &o, "inside.txt:1:inside|"));
	o.include_hidden = 1;
	CHECK(grep_is(".", &o, "inside.txt:1:inside|"));
	CHECK(gr("mnt", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_PERMISSION_DENIED);
	CHECK(gl("bind", "*", 10, 0, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_PERMISSION_DENIED);
	CHECK(gr("bf.txt", &o, NULL, &code, &e) == NULL);
	CHECK_INT(code, SBXD_PERMISSION_DENIED);
}

TEST(mounts_never_crossed)
{
	REQUIRE(setup() == 0);
	CHECK_INT(fx_in_private_ns(in_mount_ns, &t_failures), 0);
	fx_down();
}

/* More entries than FSOPS_WALK_MAX (on a tmpfs root, for speed): the walk
 * stops there and says the result is truncated. */
static void
many_entries(void)
{
	struct fsops_root big;
	struct fsops_grep_opts o = opts("x");
	struct gres g = { .stop_after = 0 };
	struct buf b;
	struct err e;
	char name[64];
	int tr = -1, fd;

	REQUIRE(mkdir(fx_T("big"), 0755) == 0);
	REQUIRE(mount("tmpfs", fx_T("big"), "tmpfs", 0, "size=64m,nr_inodes=300k") == 0);
	for (int i = 0; i < FSOPS_WALK_MAX + 10; i++) {
		snprintf(name, sizeof(name), "%s/f%06d", fx_T("big"), i);
		REQUIRE((fd = open(name, O_WRONLY | O_CREAT, 0644)) != -1);
		close(fd);
	}
	REQUIRE_INT(fsops_root_open(fx_T("big"), 1000, 1000, &big, &e), SBXD_OK);
	buf_init(&b, 1 << 20);
	buf_addstr(&b, "");
	CHECK_INT(fsops_glob(&big, ".", "*", 5, 0, glob_cb, &b, &tr, &e), SBXD_OK);
	CHECK_INT(tr, 1);
	CHECK_INT(count_char(b.data, '|'), 4);     /* 5 results */
	buf_fini(&b);
	o.mode = FSOPS_GREP_FILES;
	buf_init(&g.b, 1 << 20);
	tr = -1;
	CHECK_INT(fsops_grep(&big, ".", &o, grep_cb, &g, &tr, &e), SBXD_OK);
	CHECK_INT(tr, 1);
	CHECK_INT(g.b.len, 0);
	buf_fini(&g.b);
	fsops_root_close(&big);
}

TEST(walk_entry_bound)
{
	REQUIRE(setup() == 0);
	CHECK_INT(fx_in_private_ns(many_entries, &t_failures), 0);
	fx_down();
}

/* Each test gets 120 s: a hang ends the binary, a failure, never a stall. */
#define RUN_W(name) do { alarm(120); RUN(name); } while (0)

int
main(void)
{
	fx_watchdog("FAIL: a search blocked (watchdog)\n");
	RUN_W(glob_table);
	RUN_W(glob_errors);
	RUN_W(glob_no_backtracking_blowup);
	RUN_W(glob_order_and_fields);
	RUN_W(glob_cap);
	RUN_W(walk_depth_bound);
	RUN_W(walk_entry_bound);
	RUN_W(symlinks_never_followed);
	RUN_W(fifo_and_devices);
	RUN_W(odd_names);
	RUN_W(thousand_files);
	RUN_W(renames_racing);
	RUN_W(fifo_swapped_in_never_opened);
	RUN_W(grep_lines_exact);
	RUN_W(grep_modes_and_caps);
	RUN_W(grep_hidden_and_skip_dirs);
	RUN_W(grep_glob_filter);
	RUN_W(grep_case_and_regex);
	RUN_W(grep_binary_skipped);
	RUN_W(grep_catastrophic_pattern);
	RUN_W(mounts_never_crossed);
	fx_down();
	T_DONE();
}
