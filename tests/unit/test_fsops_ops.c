/*
 * test_fsops_ops.c — stat, list, mkdir, remove, move, read_range, edit and
 * uploads (fsops_ops.c) against a real directory tree.
 *
 * Each test gets a fresh temporary directory T holding the workspace T/ws
 * and, beside it, canaries the sandbox must never reach (T/secret,
 * T/outside/...). The escape tests plant what a hostile sandbox could —
 * absolute and relative symlinks out, symlinked directory components, ".."
 * after symlinks, FIFOs, hardlinks, swaps between calls — and then check
 * that everything outside T/ws is exactly as before (a snapshot of paths,
 * inodes, modes, sizes and contents). They run as root so that ownership
 * (1000:1000) can be checked; the mount tests run in a private mount
 * namespace and are skipped where one cannot be made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "fsops.h"
#include "fsops_fixture.h"

#define EDIT_MAX (1u << 20)

/* ---- fixture ------------------------------------------------------------- */

/* T/ws alone: the tests that need canaries plant them. */
static int
setup(void)
{
	return fx_up("test_fsops_ops");
}

/* The canaries outside, and the hostile links inside that point at them. */
static int
plant_canaries(void)
{
	if (fx_puts(fx_T("secret"), "TOPSECRET") ||
	    mkdir(fx_T("outside"), 0755) ||
	    fx_puts(fx_T("outside/existing"), "SECRET") ||
	    mkdir(fx_T("outside/sub"), 0755) ||
	    fx_puts(fx_T("outside/sub/deep"), "DEEP") || mkdir(fx_W("d"), 0755))
		return -1;
	if (symlink(fx_T("secret"), fx_W("ln_abs")) ||
	    symlink("../secret", fx_W("ln_rel")) ||
	    symlink(fx_T("outside"), fx_W("evil")) ||
	    symlink("../outside", fx_W("evil2")) ||
	    symlink("../../outside", fx_W("d/evil3")) ||
	    symlink("../..", fx_W("d/up")) || symlink("/", fx_W("top")) ||
	    symlink("../../../secret", fx_W("d/ln_up")))
		return -1;
	return 0;
}

/* ---- host-side checks ---------------------------------------------------- */

/* Everything under T except T/ws: path, inode, mode, size, and the content
 * of regular files. Two snapshots differ iff something outside changed. */
static struct buf g_snap;

static int
snap_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	char *s;

	(void)flag;
	if (f->level == 1 && strcmp(p + f->base, "ws") == 0)
		return FTW_SKIP_SUBTREE;
	buf_printf(&g_snap, "%s %ju %o %jd\n", p, (uintmax_t)st->st_ino,
	    (unsigned)st->st_mode, (intmax_t)st->st_size);
	if (S_ISREG(st->st_mode) && (s = fx_slurp(p, NULL)) != NULL) {
		buf_printf(&g_snap, "[%s]\n", s);
		free(s);
	}
	return FTW_CONTINUE;
}

static char *
outside_snapshot(void)
{
	buf_init(&g_snap, 1u << 20);
	nftw(fx_top, snap_one, 16, FTW_PHYS | FTW_ACTIONRETVAL);
	return buf_take(&g_snap, NULL);
}

static int
outside_unchanged(const char *before)
{
	char *now = outside_snapshot();
	int same = now != NULL && strcmp(now, before) == 0;

	if (!same)
		fprintf(stderr, "  outside changed:\n--- before\n%s--- now\n%s",
		    before, now ? now : "(null)");
	free(now);
	return same;
}

/* ---- fsops wrappers ------------------------------------------------------ */

/* Collects listed entries. */
struct coll {
	struct fsops_entry v[64];
	size_t n;
	size_t stop_at;             /* 0 = never stop */
};

static int
coll_add(void *arg, const struct fsops_entry *ent)
{
	struct coll *c = arg;

	if (c->n < sizeof(c->v) / sizeof(c->v[0]))
		c->v[c->n++] = *ent;
	return c->stop_at != 0 && c->n >= c->stop_at;
}

static struct coll g_c;

static sbxd_code
ls(const char *rel, size_t max, int *trunc, struct err *e)
{
	memset(&g_c, 0, sizeof(g_c));
	err_clear(e);
	return fsops_list(&fx_root, rel, max, coll_add, &g_c, trunc, e);
}

/* g_c holds an entry named name */
static int
listed(const char *name)
{
	for (size_t i = 0; i < g_c.n; i++)
		if (strcmp(g_c.v[i].name, name) == 0)
			return 1;
	return 0;
}

static sbxd_code
edit(const char *rel, const char *old, const char *new_, int all,
    uint64_t *n, struct err *e)
{
	err_clear(e);
	return fsops_edit(&fx_root, rel, old, strlen(old), new_, strlen(new_), all,
	    EDIT_MAX, n, e);
}

/* A whole upload of s to rel with correct size and checksum. */
static sbxd_code
upload(const char *rel, const void *s, size_t n, struct err *e)
{
	char tmp[256];
	uint8_t sha[32];
	sbxd_code rv;

	crypto_hash_sha256(sha, s, n);
	if ((rv = fsops_upload_open(&fx_root, rel, tmp, e)) != SBXD_OK)
		return rv;
	if ((rv = fsops_upload_write(&fx_root, rel, tmp, 0, s, n, e)) != SBXD_OK) {
		fsops_upload_abort(&fx_root, rel, tmp);
		return rv;
	}
	return fsops_upload_finish(&fx_root, rel, tmp, n, sha, e);
}

/* ---- stat ---------------------------------------------------------------- */

TEST(stat_basics)
{
	struct fsops_entry ent;
	struct stat st;
	struct err e;
	int ex = -1;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("f.txt"), "hello") == 0 && mkdir(fx_W("dir"), 0750) == 0);
	REQUIRE(chmod(fx_W("f.txt"), 0640) == 0 && symlink("f.txt", fx_W("ln")) == 0);
	REQUIRE(lstat(fx_W("f.txt"), &st) == 0);

	CHECK_INT(fsops_stat(&fx_root, "f.txt", &ent, &ex, &e), SBXD_OK);
	CHECK_INT(ex, 1);
	CHECK_STR(ent.name, "f.txt");
	CHECK_STR(ent.rel, "f.txt");
	CHECK_INT(ent.size, 5);
	CHECK_INT(ent.is_dir, 0);
	CHECK_INT(ent.is_symlink, 0);
	CHECK_INT(ent.mode, S_IFREG | 0640);
	CHECK_INT(ent.mtime_ms, (int64_t)st.st_mtim.tv_sec * 1000 +
	    st.st_mtim.tv_nsec / 1000000);

	CHECK_INT(fsops_stat(&fx_root, "dir", &ent, &ex, &e), SBXD_OK);
	CHECK(ex == 1 && ent.is_dir && (ent.mode & 07777) == 0750);

	/* a symlink is reported, not followed */
	CHECK_INT(fsops_stat(&fx_root, "ln", &ent, &ex, &e), SBXD_OK);
	CHECK(ex == 1 && ent.is_symlink && !ent.is_dir && S_ISLNK(ent.mode));
	CHECK_INT(ent.size, 5);   /* strlen("f.txt") */

	CHECK_INT(fsops_stat(&fx_root, ".", &ent, &ex, &e), SBXD_OK);
	CHECK(ex == 1 && ent.is_dir);
	CHECK_STR(ent.rel, ".");
	CHECK_STR(ent.name, "workspace");

	ex = -1;
	CHECK_INT(fsops_stat(&fx_root, "missing", &ent, &ex, &e), SBXD_OK);
	CHECK_INT(ex, 0);
	CHECK_INT(fsops_stat(&fx_root, "nodir/missing", &ent, &ex, &e), SBXD_OK);
	CHECK_INT(ex, 0);
	CHECK_INT(fsops_stat(&fx_root, "f.txt/x", &ent, &ex, &e), SBXD_OK);
	CHECK_INT(ex, 0);
	fx_down();
}

/* ---- list ---------------------------------------------------------------- */

TEST(list_order)
{
	static const char *want[] = { "A", "b", "z", ".hidden", "B", "_", "a",
	    "lnk", "\xff" };
	struct err e;
	int tr = -1;

	REQUIRE(setup() == 0);
	REQUIRE(mkdir(fx_W("b"), 0755) == 0 && mkdir(fx_W("A"), 0755) == 0 &&
	    mkdir(fx_W("z"), 0755) == 0);
	REQUIRE(fx_puts(fx_W("a"), "1") == 0 && fx_puts(fx_W("B"), "22") == 0 &&
	    fx_puts(fx_W("_"), "") == 0 && fx_puts(fx_W(".hidden"), "") == 0 &&
	    fx_puts(fx_W("\xff"), "") == 0);
	REQUIRE(symlink("b", fx_W("lnk")) == 0);   /* a link to a dir is no dir */
	REQUIRE(fx_puts(fx_W("b/inner"), "x") == 0);

	CHECK_INT(ls(".", 100, &tr, &e), SBXD_OK);
	CHECK_INT(tr, 0);
	REQUIRE_INT(g_c.n, 9);
	for (size_t i = 0; i < 9; i++) {
		CHECK_STR(g_c.v[i].name, want[i]);
		CHECK_STR(g_c.v[i].rel, want[i]);
		CHECK_INT(g_c.v[i].is_dir, i < 3);
	}
	CHECK(g_c.v[7].is_symlink && !g_c.v[7].is_dir);
	CHECK_INT(g_c.v[4].size, 2);

	/* the cap keeps the first in order, and says so */
	CHECK_INT(ls(".", 4, &tr, &e), SBXD_OK);
	CHECK_INT(tr, 1);
	REQUIRE_INT(g_c.n, 4);
	CHECK_STR(g_c.v[0].name, "A");
	CHECK_STR(g_c.v[3].name, ".hidden");
	CHECK_INT(ls(".", 9, &tr, &e), SBXD_OK);
	CHECK(tr == 0 && g_c.n == 9);
	CHECK_INT(ls(".", 0, &tr, &e), SBXD_OK);
	CHECK(tr == 1 && g_c.n == 0);

	/* the callback may stop early */
	memset(&g_c, 0, sizeof(g_c));
	g_c.stop_at = 2;
	CHECK_INT(fsops_list(&fx_root, ".", 100, coll_add, &g_c, &tr, &e), SBXD_OK);
	CHECK_INT(g_c.n, 2);

	/* children of a subdirectory, and through a symlinked directory */
	CHECK_INT(ls("b", 100, &tr, &e), SBXD_OK);
	REQUIRE_INT(g_c.n, 1);
	CHECK_STR(g_c.v[0].rel, "b/inner");
	CHECK_INT(ls("lnk", 100, &tr, &e), SBXD_OK);
	REQUIRE_INT(g_c.n, 1);
	CHECK_STR(g_c.v[0].rel, "lnk/inner");
	fx_down();
}

TEST(list_big_dir_keeps_first)
{
	char name[32];
	struct err e;
	int tr;

	REQUIRE(setup() == 0);
	for (int i = 999; i >= 0; i--) {
		snprintf(name, sizeof(name), "f%04d", i);
		REQUIRE(fx_puts(fx_W(name), "") == 0);
	}
	REQUIRE(mkdir(fx_W("zdir"), 0755) == 0);
	CHECK_INT(ls(".", 10, &tr, &e), SBXD_OK);
	CHECK_INT(tr, 1);
	REQUIRE_INT(g_c.n, 10);
	CHECK_STR(g_c.v[0].name, "zdir");
	CHECK_STR(g_c.v[1].name, "f0000");
	CHECK_STR(g_c.v[9].name, "f0008");
	fx_down();
}

TEST(list_file_and_errors)
{
	struct err e;
	int tr;

	REQUIRE(setup() == 0);
	REQUIRE(mkdir(fx_W("d"), 0755) == 0 && fx_puts(fx_W("d/f"), "abc") == 0);
	REQUIRE(symlink("nowhere", fx_W("dangling")) == 0);
	REQUIRE(symlink("loop", fx_W("loop")) == 0);

	CHECK_INT(ls("d/f", 100, &tr, &e), SBXD_OK);
	REQUIRE_INT(g_c.n, 1);
	CHECK_STR(g_c.v[0].name, "f");
	CHECK_STR(g_c.v[0].rel, "d/f");
	CHECK_INT(g_c.v[0].size, 3);
	CHECK_INT(ls("d/f", 0, &tr, &e), SBXD_OK);
	CHECK(g_c.n == 0 && tr == 1);

	CHECK_INT(ls("dangling", 100, &tr, &e), SBXD_OK);
	REQUIRE_INT(g_c.n, 1);
	CHECK(g_c.v[0].is_symlink);
	CHECK_INT(ls("loop", 100, &tr, &e), SBXD_OK);
	CHECK_INT(g_c.n, 1);

	CHECK_INT(ls("missing", 100, &tr, &e), SBXD_NOT_FOUND);
	CHECK_STR(e.msg, "File '/workspace/missing' not found");
	CHECK_INT(ls("d/f/x", 100, &tr, &e), SBXD_NOT_FOUND);
	CHECK_INT(ls("d/empty", 100, &tr, &e), SBXD_NOT_FOUND);
	REQUIRE(mkdir(fx_W("d/empty"), 0755) == 0);
	CHECK_INT(ls("d/empty", 100, &tr, &e), SBXD_OK);
	CHECK(g_c.n == 0 && tr == 0);
	fx_down();
}

/* ---- mkdir --------------------------------------------------------------- */

TEST(mkdir_basics)
{
	struct stat st;
	struct err e;
	mode_t old;

	REQUIRE(setup() == 0);
	old = umask(077);
	CHECK_INT(fsops_mkdir(&fx_root, "one", 0, &e), SBXD_OK);
	CHECK_INT(fsops_mkdir(&fx_root, "a/b/c", 1, &e), SBXD_OK);
	umask(old);
	REQUIRE(lstat(fx_W("one"), &st) == 0);
	CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
	CHECK(st.st_uid == FX_UID && st.st_gid == FX_GID);
	REQUIRE(lstat(fx_W("a/b"), &st) == 0);
	CHECK(st.st_uid == FX_UID && (st.st_mode & 07777) == 0755);
	REQUIRE(lstat(fx_W("a/b/c"), &st) == 0);
	CHECK(st.st_uid == FX_UID && (st.st_mode & 07777) == 0755);

	CHECK_INT(fsops_mkdir(&fx_root, "one", 0, &e), SBXD_ALREADY_EXISTS);
	CHECK_STR(e.msg, "'/workspace/one' already exists");
	CHECK_INT(fsops_mkdir(&fx_root, "one", 1, &e), SBXD_OK);
	CHECK_INT(fsops_mkdir(&fx_root, "a/b/c", 1, &e), SBXD_OK);
	CHECK_INT(fsops_mkdir(&fx_root, ".", 1, &e), SBXD_OK);
	CHECK_INT(fsops_mkdir(&fx_root, ".", 0, &e), SBXD_ALREADY_EXISTS);
	CHECK_STR(e.msg, "'/workspace' already exists");

	CHECK_INT(fsops_mkdir(&fx_root, "x/y", 0, &e), SBXD_NOT_FOUND);
	CHECK_CONTAINS(e.msg, "use parents");
	CHECK(!fx_exists(fx_W("x")));

	/* a file in the way */
	REQUIRE(fx_puts(fx_W("f"), "file") == 0);
	CHECK_INT(fsops_mkdir(&fx_root, "f", 0, &e), SBXD_ALREADY_EXISTS);
	CHECK_INT(fsops_mkdir(&fx_root, "f", 1, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(fsops_mkdir(&fx_root, "f/sub", 1, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(fsops_mkdir(&fx_root, "f/sub", 0, &e), SBXD_NOT_FOUND);
	CHECK(fx_content_is(fx_W("f"), "file"));
	fx_down();
}

/* ---- remove -------------------------------------------------------------- */

TEST(remove_basics)
{
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("f"), "x") == 0 && mkdir(fx_W("empty"), 0755) == 0);
	REQUIRE(mkdir(fx_W("full"), 0755) == 0 && fx_puts(fx_W("full/x"), "x") == 0);
	REQUIRE(symlink("full", fx_W("ln")) == 0);

	CHECK_INT(fsops_remove(&fx_root, "f", 0, &e), SBXD_OK);
	CHECK(!fx_exists(fx_W("f")));
	CHECK_INT(fsops_remove(&fx_root, "empty", 0, &e), SBXD_OK);
	CHECK(!fx_exists(fx_W("empty")));
	CHECK_INT(fsops_remove(&fx_root, "full", 0, &e), SBXD_FAILED_PRECONDITION);
	CHECK_STR(e.msg, "'/workspace/full': directory not empty; use recursive");
	CHECK(fx_exists(fx_W("full/x")));
	/* a symlink to a directory: the link goes, recursive or not */
	CHECK_INT(fsops_remove(&fx_root, "ln", 1, &e), SBXD_OK);
	CHECK(!fx_exists(fx_W("ln")) && fx_exists(fx_W("full/x")));
	CHECK_INT(fsops_remove(&fx_root, "full", 1, &e), SBXD_OK);
	CHECK(!fx_exists(fx_W("full")));

	CHECK_INT(fsops_remove(&fx_root, "missing", 0, &e), SBXD_NOT_FOUND);
	CHECK_STR(e.msg, "File '/workspace/missing' not found");
	CHECK_INT(fsops_remove(&fx_root, "no/dir", 1, &e), SBXD_NOT_FOUND);
	CHECK_INT(fsops_remove(&fx_root, ".", 1, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(fsops_remove(&fx_root, "", 1, &e), SBXD_INVALID_ARGUMENT);
	CHECK(fx_exists(fx_T("ws")));
	fx_down();
}

TEST(remove_recursive_tree)
{
	char path[600];
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fsops_mkdir(&fx_root, "t/a/b/c", 1, &e) == SBXD_OK);
	REQUIRE(fx_puts(fx_W("t/a/f1"), "1") == 0 && fx_puts(fx_W("t/a/b/c/f2"), "2") == 0);
	REQUIRE(mkfifo(fx_W("t/a/fifo"), 0644) == 0);
	REQUIRE(chmod(fx_W("t/a/b"), 0) == 0);   /* root removes it anyway */
	CHECK_INT(fsops_remove(&fx_root, "t", 1, &e), SBXD_OK);
	CHECK(!fx_exists(fx_W("t")));

	/* deeper than FSOPS_WALK_DEPTH: refused, not a stack overflow */
	REQUIRE(mkdir(fx_W("deep"), 0755) == 0);
	strcpy(path, fx_W("deep"));
	for (int i = 0; i < FSOPS_WALK_DEPTH + 5; i++) {
		strcat(path, "/d");
		REQUIRE(mkdir(path, 0755) == 0);
	}
	CHECK_INT(fsops_remove(&fx_root, "deep", 1, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "levels deep");
	CHECK(fx_exists(fx_W("deep")));
	fx_down();
}

/* ---- move ---------------------------------------------------------------- */

TEST(move_basics)
{
	struct stat st;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("a"), "A") == 0 && fx_puts(fx_W("b"), "B") == 0);
	REQUIRE(mkdir(fx_W("dir"), 0755) == 0 && fx_puts(fx_W("dir/in"), "I") == 0);

	CHECK_INT(fsops_move(&fx_root, "a", "new/sub/a2", 0, &e), SBXD_OK);
	CHECK(!fx_exists(fx_W("a")) && fx_content_is(fx_W("new/sub/a2"), "A"));
	REQUIRE(lstat(fx_W("new/sub"), &st) == 0);
	CHECK(st.st_uid == FX_UID && st.st_gid == FX_GID);

	CHECK_INT(fsops_move(&fx_root, "b", "new/sub/a2", 0, &e), SBXD_ALREADY_EXISTS);
	CHECK_CONTAINS(e.msg, "'/workspace/new/sub/a2' already exists");
	CHECK(fx_content_is(fx_W("b"), "B") && fx_content_is(fx_W("new/sub/a2"), "A"));
	CHECK_INT(fsops_move(&fx_root, "b", "new/sub/a2", 1, &e), SBXD_OK);
	CHECK(!fx_exists(fx_W("b")) && fx_content_is(fx_W("new/sub/a2"), "B"));

	/* a directory into itself, named directly or through a symlink */
	CHECK_INT(fsops_move(&fx_root, "dir", "dir/x/y", 0, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "into itself");
	CHECK(!fx_exists(fx_W("dir/x")));
	REQUIRE(symlink("dir", fx_W("dl")) == 0);
	CHECK_INT(fsops_move(&fx_root, "dir", "dl/y", 0, &e), SBXD_INVALID_ARGUMENT);
	CHECK(fx_content_is(fx_W("dir/in"), "I"));

	/* types in the way */
	REQUIRE(mkdir(fx_W("full"), 0755) == 0 && fx_puts(fx_W("full/x"), "x") == 0);
	REQUIRE(mkdir(fx_W("dir2"), 0755) == 0 && fx_puts(fx_W("f"), "F") == 0);
	CHECK_INT(fsops_move(&fx_root, "dir", "full", 1, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(fsops_move(&fx_root, "f", "dir2", 1, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(fsops_move(&fx_root, "dir", "f", 1, &e), SBXD_FAILED_PRECONDITION);
	CHECK(fx_content_is(fx_W("f"), "F") && fx_content_is(fx_W("dir/in"), "I"));
	CHECK_INT(fsops_move(&fx_root, "dir", "dir2", 1, &e), SBXD_OK);  /* empty */
	CHECK(fx_content_is(fx_W("dir2/in"), "I"));

	/* a symlink moves as a symlink */
	CHECK_INT(fsops_move(&fx_root, "dl", "dl2", 0, &e), SBXD_OK);
	REQUIRE(lstat(fx_W("dl2"), &st) == 0);
	CHECK(S_ISLNK(st.st_mode));

	CHECK_INT(fsops_move(&fx_root, "missing", "x", 0, &e), SBXD_NOT_FOUND);
	CHECK_STR(e.msg, "File '/workspace/missing' not found");
	CHECK(!fx_exists(fx_W("x")));
	CHECK_INT(fsops_move(&fx_root, ".", "x", 0, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(fsops_move(&fx_root, "f", ".", 1, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(fsops_move(&fx_root, "f", "f", 0, &e), SBXD_ALREADY_EXISTS);
	CHECK_INT(fsops_move(&fx_root, "f", "f", 1, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("f"), "F"));
	fx_down();
}

/* ---- read_range ---------------------------------------------------------- */

TEST(read_range_basics)
{
	struct buf b;
	struct err e;
	uint64_t size = 0;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("f"), "0123456789") == 0 && mkdir(fx_W("d"), 0755) == 0);
	REQUIRE(symlink("/f", fx_W("ln")) == 0);
	buf_init(&b, 4);
	CHECK_INT(fsops_read_range(&fx_root, "f", 3, 4, &b, &size, &e), SBXD_OK);
	CHECK_STR(b.data, "3456");
	CHECK_INT(size, 10);
	buf_reset(&b);
	CHECK_INT(fsops_read_range(&fx_root, "f", 8, 4, &b, &size, &e), SBXD_OK);
	CHECK_STR(b.data, "89");
	buf_reset(&b);
	CHECK_INT(fsops_read_range(&fx_root, "f", 10, 4, &b, &size, &e), SBXD_OK);
	CHECK_INT(b.len, 0);
	CHECK_INT(fsops_read_range(&fx_root, "f", UINT64_MAX, 4, &b, &size, &e), SBXD_OK);
	CHECK_INT(b.len, 0);
	CHECK_INT(fsops_read_range(&fx_root, "ln", 0, 4, &b, &size, &e), SBXD_OK);
	CHECK_STR(b.data, "0123");
	buf_reset(&b);
	CHECK_INT(fsops_read_range(&fx_root, "f", 0, 0, &b, &size, &e), SBXD_OK);
	CHECK(b.len == 0 && size == 10);

	CHECK_INT(fsops_read_range(&fx_root, "missing", 0, 4, &b, &size, &e), SBXD_NOT_FOUND);
	CHECK_STR(e.msg, "File '/workspace/missing' not found");
	CHECK_INT(fsops_read_range(&fx_root, "f/x", 0, 4, &b, &size, &e), SBXD_NOT_FOUND);
	CHECK_INT(fsops_read_range(&fx_root, "d", 0, 4, &b, &size, &e), SBXD_FAILED_PRECONDITION);
	CHECK_STR(e.msg, "'/workspace/d' is a directory");
	CHECK_INT(b.len, 0);
	buf_fini(&b);
	fx_down();
}

/* ---- edit ---------------------------------------------------------------- */

TEST(edit_messages_exact)
{
	char old[300], want[400];
	uint64_t n = 99;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("f"), "a-a-a") == 0);
	CHECK_INT(edit("f", "zzz", "y", 0, &n, &e), SBXD_FAILED_PRECONDITION);
	CHECK_STR(e.msg, "String 'zzz' not found in file");
	CHECK_INT(n, 0);
	CHECK_INT(edit("f", "a", "b", 0, &n, &e), SBXD_FAILED_PRECONDITION);
	CHECK_STR(e.msg, "String 'a' found 3 times. Use replace_all=True to "
	    "replace all, or provide more context.");
	CHECK(fx_content_is(fx_W("f"), "a-a-a"));
	CHECK_INT(edit("nope.txt", "a", "b", 0, &n, &e), SBXD_NOT_FOUND);
	CHECK_STR(e.msg, "File '/workspace/nope.txt' not found");
	CHECK_INT(edit("dir/nope.txt", "a", "b", 0, &n, &e), SBXD_NOT_FOUND);
	CHECK_STR(e.msg, "File '/workspace/dir/nope.txt' not found");
	CHECK_INT(edit("f", "", "b", 1, &n, &e), SBXD_INVALID_ARGUMENT);

	/* old is shown cut to 200 bytes */
	memset(old, 'q', 250);
	old[250] = '\0';
	snprintf(want, sizeof(want), "String '%.200s' not found in file", old);
	CHECK_INT(edit("f", old, "x", 0, &n, &e), SBXD_FAILED_PRECONDITION);
	CHECK_STR(e.msg, want);
	/* ... and never in the middle of a UTF-8 sequence */
	memset(old, 'q', 199);
	strcpy(old + 199, "\xc3\xa9tail");
	CHECK_INT(edit("f", old, "x", 0, &n, &e), SBXD_FAILED_PRECONDITION);
	snprintf(want, sizeof(want), "String '%.199s' not found in file", old);
	CHECK_STR(e.msg, want);
	fx_down();
}

TEST(edit_replaces)
{
	struct stat before, after;
	uint64_t n = 0;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("f"), "one two one two one") == 0);
	REQUIRE(chmod(fx_W("f"), 0751) == 0 && chown(fx_W("f"), 1234, 4321) == 0);
	REQUIRE(lstat(fx_W("f"), &before) == 0);
	CHECK_INT(edit("f", "two", "2", 0, &n, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(edit("f", "one", "ONE!", 1, &n, &e), SBXD_OK);
	CHECK_INT(n, 3);
	CHECK(fx_content_is(fx_W("f"), "ONE! two ONE! two ONE!"));
	REQUIRE(lstat(fx_W("f"), &after) == 0);
	CHECK(after.st_ino != before.st_ino);       /* atomic: a new inode */
	CHECK_INT(after.st_mode & 07777, 0751);     /* mode kept */
	CHECK(after.st_uid == 1234 && after.st_gid == 4321);   /* owner kept */

	CHECK_INT(edit("f", "ONE! two ONE", "x", 0, &n, &e), SBXD_OK);
	CHECK_INT(n, 1);
	CHECK(fx_content_is(fx_W("f"), "x! two ONE!"));
	CHECK_INT(edit("f", " two", "", 0, &n, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("f"), "x! ONE!"));

	/* non-overlapping, left to right */
	REQUIRE(fx_puts(fx_W("aa"), "aaaaa") == 0);
	CHECK_INT(edit("aa", "aa", "b", 1, &n, &e), SBXD_OK);
	CHECK_INT(n, 2);
	CHECK(fx_content_is(fx_W("aa"), "bba"));

	/* binary: NULs in old, new and the file */
	REQUIRE(fx_put(fx_W("bin"), "x\0y\0z", 5) == 0);
	CHECK_INT(fsops_edit(&fx_root, "bin", "\0y", 2, "\0\0", 2, 0, EDIT_MAX, &n, &e),
	    SBXD_OK);
	{
		size_t len;
		char *s = fx_slurp(fx_W("bin"), &len);

		CHECK(s != NULL && len == 5 && memcmp(s, "x\0\0\0z", 5) == 0);
		free(s);
	}

	/* an empty file: nothing to find */
	REQUIRE(fx_puts(fx_W("empty"), "") == 0);
	CHECK_INT(edit("empty", "a", "b", 1, &n, &e), SBXD_FAILED_PRECONDITION);
	CHECK(fx_no_temp_left(fx_T("ws"), ".sbx-"));
	fx_down();
}

TEST(edit_ceilings_and_types)
{
	uint64_t n;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("ten"), "0123456789") == 0 && mkdir(fx_W("d"), 0755) == 0);
	CHECK_INT(fsops_edit(&fx_root, "ten", "0", 1, "x", 1, 0, 9, &n, &e),
	    SBXD_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(e.msg, "ceiling of 9 bytes");
	CHECK_INT(fsops_edit(&fx_root, "ten", "0", 1, "xx", 2, 0, 10, &n, &e),
	    SBXD_RESOURCE_EXHAUSTED);
	CHECK_INT(fsops_edit(&fx_root, "ten", "01", 2, "x", 1, 0, 10, &n, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("ten"), "x23456789"));
	CHECK_INT(fsops_edit(&fx_root, "ten", "x", 1, "01", 2, 0, 10, &n, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("ten"), "0123456789"));

	CHECK_INT(edit("d", "a", "b", 0, &n, &e), SBXD_FAILED_PRECONDITION);
	CHECK_STR(e.msg, "'/workspace/d' is a directory");
	CHECK_INT(edit(".", "a", "b", 0, &n, &e), SBXD_INVALID_ARGUMENT);
	REQUIRE(symlink(".", fx_W("dot")) == 0 && symlink("d/", fx_W("dslash")) == 0);
	CHECK_INT(edit("dot", "a", "b", 0, &n, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(edit("dslash", "a", "b", 0, &n, &e), SBXD_FAILED_PRECONDITION);
	REQUIRE(symlink("l2", fx_W("l1")) == 0 && symlink("l1", fx_W("l2")) == 0);
	CHECK_INT(edit("l1", "a", "b", 0, &n, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "symbolic links");
	CHECK(fx_no_temp_left(fx_T("ws"), ".sbx-"));
	fx_down();
}

/* An edit through a symlink changes the target inside the workspace; the
 * link stays a link. */
TEST(edit_through_links_inside)
{
	struct stat st;
	uint64_t n;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(mkdir(fx_W("sub"), 0755) == 0 && mkdir(fx_W("real"), 0755) == 0);
	REQUIRE(fx_puts(fx_W("real/t.txt"), "hello") == 0);
	REQUIRE(symlink("real/t.txt", fx_W("rel")) == 0);
	REQUIRE(symlink("../rel", fx_W("sub/chain")) == 0);
	REQUIRE(symlink("/real/t.txt", fx_W("abs")) == 0);
	REQUIRE(symlink("real", fx_W("rd")) == 0);
	REQUIRE(symlink("../rd/../real/t.txt", fx_W("sub/dotdot")) == 0);

	CHECK_INT(edit("rel", "hello", "h1", 0, &n, &e), SBXD_OK);
	CHECK_INT(edit("sub/chain", "h1", "h2", 0, &n, &e), SBXD_OK);
	CHECK_INT(edit("abs", "h2", "h3", 0, &n, &e), SBXD_OK);
	CHECK_INT(edit("rd/t.txt", "h3", "h4", 0, &n, &e), SBXD_OK);
	CHECK_INT(edit("sub/dotdot", "h4", "h5", 0, &n, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("real/t.txt"), "h5"));
	REQUIRE(lstat(fx_W("rel"), &st) == 0);
	CHECK(S_ISLNK(st.st_mode));
	REQUIRE(lstat(fx_W("sub/chain"), &st) == 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK(fx_no_temp_left(fx_W("real"), ".sbx-") && fx_no_temp_left(fx_T("ws"), ".sbx-"));
	fx_down();
}

/* ---- uploads ------------------------------------------------------------- */

TEST(upload_happy)
{
	static const char data[] = "hello, uploaded world";
	char tmp[256];
	uint8_t sha[32];
	struct stat st;
	struct err e;

	REQUIRE(setup() == 0);
	crypto_hash_sha256(sha, (const unsigned char *)data, sizeof(data) - 1);
	REQUIRE_INT(fsops_upload_open(&fx_root, "up/dir/f.txt", tmp, &e), SBXD_OK);
	CHECK_INT(strlen(tmp), 12 + 32);
	CHECK(strncmp(tmp, ".sbx-upload-", 12) == 0);
	CHECK(strspn(tmp + 12, "0123456789abcdef") == 32);
	REQUIRE(lstat(fx_W("up/dir"), &st) == 0);
	CHECK(st.st_uid == FX_UID && st.st_gid == FX_GID);
	{
		char p[512];

		snprintf(p, sizeof(p), "%s/%s", fx_W("up/dir"), tmp);
		REQUIRE(lstat(p, &st) == 0);
		CHECK(S_ISREG(st.st_mode) && st.st_uid == FX_UID && st.st_gid == FX_GID);
	}
	/* out of order chunks */
	CHECK_INT(fsops_upload_write(&fx_root, "up/dir/f.txt", tmp, 7, data + 7,
	    sizeof(data) - 8, &e), SBXD_OK);
	CHECK_INT(fsops_upload_write(&fx_root, "up/dir/f.txt", tmp, 0, data, 7, &e),
	    SBXD_OK);
	CHECK(!fx_exists(fx_W("up/dir/f.txt")));
	CHECK_INT(fsops_upload_finish(&fx_root, "up/dir/f.txt", tmp, sizeof(data) - 1,
	    sha, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("up/dir/f.txt"), data));
	REQUIRE(lstat(fx_W("up/dir/f.txt"), &st) == 0);
	CHECK(st.st_uid == FX_UID && (st.st_mode & 07777) == 0644);
	CHECK(fx_no_temp_left(fx_W("up/dir"), ".sbx-"));

	/* an overwrite keeps the old file's mode; no checksum; empty files */
	REQUIRE(chmod(fx_W("up/dir/f.txt"), 0600) == 0);
	REQUIRE_INT(fsops_upload_open(&fx_root, "up/dir/f.txt", tmp, &e), SBXD_OK);
	CHECK_INT(fsops_upload_write(&fx_root, "up/dir/f.txt", tmp, 0, "new", 3, &e),
	    SBXD_OK);
	CHECK_INT(fsops_upload_finish(&fx_root, "up/dir/f.txt", tmp, 3, NULL, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("up/dir/f.txt"), "new"));
	REQUIRE(lstat(fx_W("up/dir/f.txt"), &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(upload("empty", "", 0, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("empty"), ""));
	CHECK(fx_no_temp_left(fx_T("ws"), ".sbx-") && fx_no_temp_left(fx_W("up/dir"), ".sbx-"));
	fx_down();
}

TEST(upload_checks_fail)
{
	char tmp[256];
	uint8_t sha[32];
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("keep"), "original") == 0);
	crypto_hash_sha256(sha, (const unsigned char *)"abc", 3);

	REQUIRE_INT(fsops_upload_open(&fx_root, "keep", tmp, &e), SBXD_OK);
	CHECK_INT(fsops_upload_write(&fx_root, "keep", tmp, 0, "ab", 2, &e), SBXD_OK);
	CHECK_INT(fsops_upload_finish(&fx_root, "keep", tmp, 3, sha, &e), SBXD_DATA_LOSS);
	CHECK_CONTAINS(e.msg, "size check");
	CHECK(fx_no_temp_left(fx_T("ws"), ".sbx-"));
	CHECK(fx_content_is(fx_W("keep"), "original"));

	REQUIRE_INT(fsops_upload_open(&fx_root, "keep", tmp, &e), SBXD_OK);
	CHECK_INT(fsops_upload_write(&fx_root, "keep", tmp, 0, "abd", 3, &e), SBXD_OK);
	CHECK_INT(fsops_upload_finish(&fx_root, "keep", tmp, 3, sha, &e), SBXD_DATA_LOSS);
	CHECK_CONTAINS(e.msg, "SHA-256 check");
	CHECK(fx_no_temp_left(fx_T("ws"), ".sbx-"));
	CHECK(fx_content_is(fx_W("keep"), "original"));

	/* abort, and using the handle afterwards */
	REQUIRE_INT(fsops_upload_open(&fx_root, "new", tmp, &e), SBXD_OK);
	fsops_upload_abort(&fx_root, "new", tmp);
	CHECK(fx_no_temp_left(fx_T("ws"), ".sbx-"));
	CHECK_INT(fsops_upload_write(&fx_root, "new", tmp, 0, "x", 1, &e), SBXD_NOT_FOUND);
	CHECK_INT(fsops_upload_finish(&fx_root, "new", tmp, 0, NULL, &e), SBXD_NOT_FOUND);
	CHECK(!fx_exists(fx_W("new")));

	/* a directory where the file should go */
	REQUIRE(mkdir(fx_W("dir"), 0755) == 0);
	CHECK_INT(fsops_upload_open(&fx_root, "dir", tmp, &e), SBXD_FAILED_PRECONDITION);
	CHECK_STR(e.msg, "'/workspace/dir' is a directory");
	REQUIRE_INT(fsops_upload_open(&fx_root, "later", tmp, &e), SBXD_OK);
	REQUIRE(mkdir(fx_W("later"), 0755) == 0 && fx_puts(fx_W("later/x"), "x") == 0);
	CHECK_INT(fsops_upload_finish(&fx_root, "later", tmp, 0, NULL, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK(fx_no_temp_left(fx_T("ws"), ".sbx-") && fx_content_is(fx_W("later/x"), "x"));
	CHECK_INT(fsops_upload_open(&fx_root, ".", tmp, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(fsops_upload_write(&fx_root, "x", ".sbx-upload-0123456789abcdef"
	    "0123456789abcdef", UINT64_MAX - 1, "x", 1, &e), SBXD_OUT_OF_RANGE);
	fx_down();
}

TEST(upload_handle_validated)
{
	static const char *bad[] = {
		"", "x", "../secret", ".sbx-upload-", ".sbx-upload-0123",
		".sbx-upload-0123456789abcdef0123456789abcde",     /* 31 */
		".sbx-upload-0123456789abcdef0123456789abcdef0",   /* 33 */
		".sbx-upload-0123456789ABCDEF0123456789abcdef",    /* upper */
		".sbx-upload-0123456789abcdef0123456789abcdeg",
		".sbx-upload-0123456789abcdef/123456789abcdef",
		"sub/.sbx-upload-0123456789abcdef0123456789abcdef",
		".sbx-tmp-0-0123456789abcdef",
	};
	char tmp[256], *before;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(plant_canaries() == 0);
	REQUIRE(fx_puts(fx_W("victim"), "keep me") == 0);
	REQUIRE(fx_puts(fx_W(".sbx-upload-0123"), "sandbox file") == 0);
	before = outside_snapshot();
	REQUIRE_INT(fsops_upload_open(&fx_root, "f", tmp, &e), SBXD_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(fsops_upload_write(&fx_root, "f", bad[i], 0, "x", 1, &e),
		    SBXD_INVALID_ARGUMENT);
		CHECK_INT(fsops_upload_finish(&fx_root, "f", bad[i], 1, NULL, &e),
		    SBXD_INVALID_ARGUMENT);
		fsops_upload_abort(&fx_root, "f", bad[i]);
	}
	CHECK_INT(fsops_upload_write(&fx_root, "f", NULL, 0, "x", 1, &e),
	    SBXD_INVALID_ARGUMENT);
	fsops_upload_abort(&fx_root, "f", NULL);
	CHECK(fx_content_is(fx_W("victim"), "keep me"));
	CHECK(fx_content_is(fx_W(".sbx-upload-0123"), "sandbox file"));
	CHECK(outside_unchanged(before));
	CHECK_INT(fsops_upload_finish(&fx_root, "f", tmp, 0, NULL, &e), SBXD_OK);
	free(before);
	fx_down();
}

/* ---- names and lengths --------------------------------------------------- */

TEST(odd_names)
{
	static const char *names[] = { "new\nline", "sp ace", "quo'te\"s",
	    "bad\xff\xfe", "tab\there", "back\\slash", "-dash", "\xe2\x80\x8b" };
	char rel[300], rel2[300];
	struct fsops_entry ent;
	struct err e;
	uint64_t n;
	int ex, tr;

	REQUIRE(setup() == 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(rel, sizeof(rel), "%s/%s", names[i], names[i]);
		snprintf(rel2, sizeof(rel2), "%s/moved", names[i]);
		CHECK_INT(fsops_mkdir(&fx_root, names[i], 0, &e), SBXD_OK);
		CHECK_INT(upload(rel, "v1", 2, &e), SBXD_OK);
		CHECK_INT(edit(rel, "v1", "v2", 0, &n, &e), SBXD_OK);
		CHECK_INT(fsops_stat(&fx_root, rel, &ent, &ex, &e), SBXD_OK);
		CHECK(ex && ent.size == 2);
		CHECK_STR(ent.name, names[i]);
		CHECK_INT(ls(names[i], 10, &tr, &e), SBXD_OK);
		REQUIRE_INT(g_c.n, 1);
		CHECK_STR(g_c.v[0].rel, rel);
		CHECK_INT(fsops_move(&fx_root, rel, rel2, 0, &e), SBXD_OK);
		CHECK(fx_content_is(fx_W(rel2), "v2"));
		CHECK_INT(fsops_remove(&fx_root, names[i], 1, &e), SBXD_OK);
		CHECK(!fx_exists(fx_W(names[i])));
	}
	CHECK_INT(fsops_remove(&fx_root, "missing\n'x'", 0, &e), SBXD_NOT_FOUND);
	CHECK_STR(e.msg, "File '/workspace/missing\n'x'' not found");
	fx_down();
}

/* The host fd of the workspace directory rel, walked with openat (the
 * host path may be too long for plain open). */
static int
host_dirfd(const char *rel)
{
	char copy[FSOPS_PATH_MAX + 8], *save = NULL, *c;
	int fd = open(fx_T("ws"), O_RDONLY | O_DIRECTORY), next;

	if (fd == -1 || strlen(rel) >= sizeof(copy)) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	strcpy(copy, rel);
	for (c = strtok_r(copy, "/", &save); c && fd != -1;
	    c = strtok_r(NULL, "/", &save)) {
		next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		close(fd);
		fd = next;
	}
	return fd;
}

/* n copies of ch, NUL-terminated, in a rotating buffer */
static const char *
rep_(char ch, size_t n)
{
	static char b[4][256];
	static int i;
	char *p = b[i++ % 4];

	memset(p, ch, n);
	p[n] = '\0';
	return p;
}

/* Paths of 4095 bytes (the longest a client can send) work everywhere; a
 * listing leaves out children whose path would be longer, and says so. */
TEST(long_paths)
{
	static char rel[2 * FSOPS_PATH_MAX], dir[FSOPS_PATH_MAX],
	    dir2[2 * FSOPS_PATH_MAX], moved[2 * FSOPS_PATH_MAX];
	struct fsops_entry ent;
	char tmp[256];
	struct err e;
	uint64_t n;
	int ex, tr, fd;

	REQUIRE(setup() == 0);
	dir[0] = '\0';
	for (int i = 0; i < 15; i++)        /* 15 x 255 + 14 = 3839 bytes */
		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "%s%s",
		    i ? "/" : "", rep_((char)('a' + i), 255));
	snprintf(rel, sizeof(rel), "%s/%s", dir, rep_('f', 255));
	snprintf(moved, sizeof(moved), "%s/%s", dir, rep_('m', 255));
	snprintf(dir2, sizeof(dir2), "%s/%s", dir, rep_('g', 100));
	REQUIRE_INT(strlen(rel), FSOPS_PATH_MAX - 1);

	CHECK_INT(fsops_mkdir(&fx_root, dir2, 1, &e), SBXD_OK);
	CHECK_INT(upload(rel, "long", 4, &e), SBXD_OK);
	CHECK_INT(edit(rel, "long", "LONG", 0, &n, &e), SBXD_OK);
	CHECK_INT(fsops_stat(&fx_root, rel, &ent, &ex, &e), SBXD_OK);
	CHECK(ex && ent.size == 4);
	CHECK_STR(ent.rel, rel);
	CHECK_INT(fsops_move(&fx_root, rel, moved, 0, &e), SBXD_OK);
	CHECK_INT(fsops_move(&fx_root, moved, rel, 0, &e), SBXD_OK);
	CHECK_INT(fsops_upload_open(&fx_root, rel, tmp, &e), SBXD_OK);
	fsops_upload_abort(&fx_root, rel, tmp);
	CHECK_INT(ls(dir, 10, &tr, &e), SBXD_OK);
	CHECK_INT(tr, 0);
	REQUIRE_INT(g_c.n, 2);
	CHECK_STR(g_c.v[1].rel, rel);
	CHECK_INT(g_c.v[1].size, 4);

	/* dir2 (3940 bytes) holds a name too long to address under it */
	REQUIRE((fd = host_dirfd(dir2)) != -1);
	REQUIRE(close(openat(fd, rep_('h', 200), O_CREAT | O_WRONLY, 0644)) == 0);
	REQUIRE(close(openat(fd, "s", O_CREAT | O_WRONLY, 0644)) == 0);
	close(fd);
	CHECK_INT(ls(dir2, 10, &tr, &e), SBXD_OK);
	CHECK_INT(tr, 1);
	REQUIRE_INT(g_c.n, 1);
	CHECK_STR(g_c.v[0].name, "s");

	/* one byte over */
	memset(rel, 'r', FSOPS_PATH_MAX);
	rel[FSOPS_PATH_MAX] = '\0';
	CHECK_INT(fsops_mkdir(&fx_root, rel, 1, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(fsops_upload_open(&fx_root, rel, tmp, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(edit(rel, "a", "b", 0, &n, &e), SBXD_INVALID_ARGUMENT);

	/* the whole tree goes, which nftw could not even walk */
	CHECK_INT(fsops_remove(&fx_root, rep_('a', 255), 1, &e), SBXD_OK);
	CHECK(!fx_exists(fx_W(rep_('a', 255))));
	fx_down();
}

/* ---- a hostile sandbox --------------------------------------------------- */

/* Symlinks at the leaf pointing out (absolute, relative, climbing). */
static const char *const leaf_links[] = { "ln_abs", "ln_rel", "d/ln_up" };
/* Paths through symlinked directories and ".." after them: in the
 * sandbox's view (root pinned to the workspace) none of them exists. */
static const char *const through[] = {
	"evil/existing", "evil2/existing", "d/evil3/existing", "evil/sub/deep",
	"d/up/secret", "top/secret", "d/up/outside/existing", "evil/../secret",
	"d/evil3/../existing", "top/../../secret",
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

TEST(escape_stat_list)
{
	struct fsops_entry ent;
	char *before;
	struct err e;
	int ex, tr;

	REQUIRE(setup() == 0);
	REQUIRE(plant_canaries() == 0);
	before = outside_snapshot();
	for (size_t i = 0; i < NELEM(leaf_links); i++) {
		CHECK_INT(fsops_stat(&fx_root, leaf_links[i], &ent, &ex, &e), SBXD_OK);
		CHECK(ex && ent.is_symlink && !ent.is_dir);
		CHECK_INT(ls(leaf_links[i], 100, &tr, &e), SBXD_OK);
		CHECK(g_c.n == 1 && g_c.v[0].is_symlink);
	}
	for (size_t i = 0; i < NELEM(through); i++) {
		CHECK_INT(fsops_stat(&fx_root, through[i], &ent, &ex, &e), SBXD_OK);
		CHECK_INT(ex, 0);
		CHECK_INT(ls(through[i], 100, &tr, &e), SBXD_NOT_FOUND);
	}
	/* directory links list as themselves, or in-root: never the outside */
	static const char *dirs[] = { "evil", "evil2", "d/evil3", "d/up", "top",
	    "evil/sub", "d/up/outside" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		sbxd_code rv = ls(dirs[i], 100, &tr, &e);

		CHECK(rv == SBXD_OK || rv == SBXD_NOT_FOUND);
		CHECK(!listed("existing") && !listed("secret") && !listed("deep"));
		CHECK(!listed("outside") && !listed("sub"));
	}
	/* d/up is "../..": the root, seen from inside */
	CHECK_INT(ls("d/up", 100, &tr, &e), SBXD_OK);
	CHECK(listed("ln_abs") && listed("d"));
	CHECK_STR(g_c.v[0].rel, "d/up/d");
	CHECK(outside_unchanged(before));
	free(before);
	fx_down();
}

TEST(escape_mkdir_remove_move)
{
	static const char *mk[] = { "evil/x", "evil2/x", "d/evil3/x",
	    "evil/sub/x", "ln_abs/x", "evil/new/x" };
	char *before;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(plant_canaries() == 0);
	REQUIRE(fx_puts(fx_W("mine"), "mine") == 0);
	before = outside_snapshot();
	for (size_t i = 0; i < sizeof(mk) / sizeof(mk[0]); i++) {
		CHECK(fsops_mkdir(&fx_root, mk[i], 0, &e) != SBXD_OK);
		CHECK(fsops_mkdir(&fx_root, mk[i], 1, &e) != SBXD_OK);
		CHECK(fsops_move(&fx_root, "mine", mk[i], 1, &e) != SBXD_OK);
		CHECK(fx_content_is(fx_W("mine"), "mine"));
	}
	for (size_t i = 0; i < NELEM(through); i++) {
		CHECK_INT(fsops_remove(&fx_root, through[i], 1, &e), SBXD_NOT_FOUND);
		CHECK_INT(fsops_move(&fx_root, through[i], "stolen", 0, &e),
		    SBXD_NOT_FOUND);
		CHECK(!fx_exists(fx_W("stolen")));
	}
	CHECK(outside_unchanged(before));

	/* moving links moves links */
	CHECK_INT(fsops_move(&fx_root, "evil", "d/evil_moved", 0, &e), SBXD_OK);
	CHECK_INT(fsops_move(&fx_root, "ln_abs", "ln_moved", 0, &e), SBXD_OK);
	/* removing links removes links, never what they point to — even
	 * recursively, even a link to "/" or to ".." */
	static const char *links[] = { "ln_moved", "ln_rel", "d/evil_moved",
	    "evil2", "d/evil3", "d/up", "top", "d/ln_up" };
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		CHECK_INT(fsops_remove(&fx_root, links[i], 1, &e), SBXD_OK);
		CHECK(!fx_exists(fx_W(links[i])));
	}
	CHECK(fx_exists(fx_W("d")) && fx_content_is(fx_W("mine"), "mine"));
	CHECK(outside_unchanged(before));
	free(before);
	fx_down();
}

/* A tree whose entries link out (absolute, relative, to dirs and files):
 * removing it recursively removes the links only. */
TEST(escape_remove_tree_with_links)
{
	char *before;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(plant_canaries() == 0);
	REQUIRE(mkdir(fx_W("tree"), 0755) == 0 && mkdir(fx_W("tree/sub"), 0755) == 0);
	REQUIRE(symlink(fx_T("outside"), fx_W("tree/abs_dir")) == 0);
	REQUIRE(symlink("../../outside", fx_W("tree/rel_dir")) == 0);
	REQUIRE(symlink(fx_T("outside/sub"), fx_W("tree/sub/deep_dir")) == 0);
	REQUIRE(symlink(fx_T("secret"), fx_W("tree/sub/file_link")) == 0);
	REQUIRE(symlink("/", fx_W("tree/sub/root_link")) == 0);
	REQUIRE(symlink("..", fx_W("tree/sub/parent")) == 0);
	REQUIRE(link(fx_T("secret"), fx_W("tree/hardlink")) == 0);
	REQUIRE(fx_puts(fx_W("tree/sub/plain"), "p") == 0);
	REQUIRE(mkfifo(fx_W("tree/sub/fifo"), 0644) == 0);
	before = outside_snapshot();
	CHECK_INT(fsops_remove(&fx_root, "tree", 0, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(fsops_remove(&fx_root, "tree", 1, &e), SBXD_OK);
	CHECK(!fx_exists(fx_W("tree")));
	CHECK(fx_exists(fx_W("d")) && fx_exists(fx_W("evil")));
	CHECK(fx_content_is(fx_T("secret"), "TOPSECRET"));
	CHECK(outside_unchanged(before));
	free(before);
	fx_down();
}

TEST(escape_edit_read_range)
{
	char *before;
	struct buf b;
	struct err e;
	uint64_t n, size;

	REQUIRE(setup() == 0);
	REQUIRE(plant_canaries() == 0);
	REQUIRE(link(fx_T("outside/existing"), fx_W("hl")) == 0);
	before = outside_snapshot();
	for (size_t i = 0; i < NELEM(leaf_links) + NELEM(through); i++) {
		const char *p = i < NELEM(leaf_links) ? leaf_links[i] :
		    through[i - NELEM(leaf_links)];

		CHECK_INT(edit(p, "SECRET", "pwned", 1, &n, &e), SBXD_NOT_FOUND);
		buf_init(&b, 100);
		CHECK_INT(fsops_read_range(&fx_root, p, 0, 100, &b, &size, &e),
		    SBXD_NOT_FOUND);
		CHECK_INT(b.len, 0);
		buf_fini(&b);
	}
	CHECK(outside_unchanged(before));
	/* a hardlink: the edit replaces the name, not the shared inode */
	CHECK_INT(edit("hl", "SECRET", "mine", 0, &n, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("hl"), "mine"));
	CHECK(fx_content_is(fx_T("outside/existing"), "SECRET"));
	free(before);
	fx_down();
}

TEST(escape_upload)
{
	static const char *dests[] = { "evil/x", "evil2/x", "d/evil3/x",
	    "evil/sub/x", "evil/new/x", "ln_abs/x" };
	char tmp[256], p[512], *before;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(plant_canaries() == 0);
	before = outside_snapshot();
	for (size_t i = 0; i < sizeof(dests) / sizeof(dests[0]); i++)
		CHECK(fsops_upload_open(&fx_root, dests[i], tmp, &e) != SBXD_OK);
	/* links at the destination are replaced, not written through */
	CHECK_INT(upload("ln_abs", "replaced", 8, &e), SBXD_OK);
	CHECK_INT(upload("d/ln_up", "replaced", 8, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("ln_abs"), "replaced"));
	CHECK(outside_unchanged(before));

	/* the temporary file swapped for a link out between calls */
	REQUIRE_INT(fsops_upload_open(&fx_root, "u1", tmp, &e), SBXD_OK);
	snprintf(p, sizeof(p), "%s/%s", fx_T("ws"), tmp);
	REQUIRE(unlink(p) == 0 && symlink(fx_T("secret"), p) == 0);
	CHECK(fsops_upload_write(&fx_root, "u1", tmp, 0, "pwned", 5, &e) != SBXD_OK);
	CHECK(fsops_upload_finish(&fx_root, "u1", tmp, 9, NULL, &e) != SBXD_OK);
	CHECK(!fx_exists(p) && !fx_exists(fx_W("u1")));

	/* the destination directory swapped for a link out between calls */
	REQUIRE_INT(fsops_upload_open(&fx_root, "ud/f", tmp, &e), SBXD_OK);
	REQUIRE(rename(fx_W("ud"), fx_W("ud_old")) == 0);
	REQUIRE(symlink(fx_T("outside"), fx_W("ud")) == 0);
	CHECK_INT(fsops_upload_write(&fx_root, "ud/f", tmp, 0, "pwned", 5, &e),
	    SBXD_NOT_FOUND);
	CHECK(fsops_upload_finish(&fx_root, "ud/f", tmp, 0, NULL, &e) != SBXD_OK);
	fsops_upload_abort(&fx_root, "ud/f", tmp);
	REQUIRE(unlink(fx_W("ud")) == 0 && symlink("../outside", fx_W("ud")) == 0);
	CHECK(fsops_upload_finish(&fx_root, "ud/f", tmp, 0, NULL, &e) != SBXD_OK);
	CHECK(outside_unchanged(before));
	CHECK(fx_no_temp_left(fx_T("outside"), ".sbx-"));
	free(before);
	fx_down();
}

TEST(fifo_never_blocks)
{
	struct fsops_entry ent;
	char tmp[256], p[512];
	struct buf b;
	struct err e;
	uint64_t n, size;
	int ex, tr;

	REQUIRE(setup() == 0);
	REQUIRE(mkfifo(fx_W("fifo"), 0644) == 0 && symlink("fifo", fx_W("fl")) == 0);
	fx_watchdog("FAIL: an fsops call blocked (FIFO?)\n");
	alarm(20);   /* a hang ends the test binary: a failure, never a stall */
	CHECK_INT(fsops_stat(&fx_root, "fifo", &ent, &ex, &e), SBXD_OK);
	CHECK(ex && S_ISFIFO(ent.mode));
	CHECK_INT(ls("fifo", 10, &tr, &e), SBXD_OK);
	CHECK_INT(g_c.n, 1);
	CHECK_INT(ls(".", 10, &tr, &e), SBXD_OK);
	CHECK_INT(g_c.n, 2);
	buf_init(&b, 10);
	CHECK_INT(fsops_read_range(&fx_root, "fifo", 0, 10, &b, &size, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "not a regular file");
	CHECK_INT(fsops_read_range(&fx_root, "fl", 0, 10, &b, &size, &e),
	    SBXD_FAILED_PRECONDITION);
	buf_fini(&b);
	CHECK_INT(edit("fifo", "a", "b", 0, &n, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(edit("fl", "a", "b", 0, &n, &e), SBXD_FAILED_PRECONDITION);

	/* a FIFO planted as the upload's temporary file */
	REQUIRE_INT(fsops_upload_open(&fx_root, "u", tmp, &e), SBXD_OK);
	snprintf(p, sizeof(p), "%s/%s", fx_T("ws"), tmp);
	REQUIRE(unlink(p) == 0 && mkfifo(p, 0644) == 0);
	CHECK_INT(fsops_upload_write(&fx_root, "u", tmp, 0, "x", 1, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK_INT(fsops_upload_finish(&fx_root, "u", tmp, 0, NULL, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK(!fx_exists(p) && !fx_exists(fx_W("u")));

	CHECK_INT(fsops_move(&fx_root, "fifo", "fifo2", 0, &e), SBXD_OK);
	CHECK_INT(fsops_remove(&fx_root, "fifo2", 0, &e), SBXD_OK);
	alarm(0);
	fx_down();
}

/* The sandbox renames directories and files into symlinks pointing out
 * while every operation runs against them: nothing outside may change. */
static void
swapper(double seconds)
{
	struct timespec t0, t;
	int i = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		const char *out = i % 2 ? fx_T("outside") : "../outside";

		if (rename(fx_W("a"), fx_W("a.real")) == 0) {
			(void)!symlink(out, fx_W("a"));
			(void)!unlink(fx_W("a"));
			(void)!rename(fx_W("a.real"), fx_W("a"));
		}
		if (rename(fx_W("a/f"), fx_W("a/f.real")) == 0) {
			(void)!symlink(i % 2 ? fx_T("secret") : "../../secret", fx_W("a/f"));
			(void)!rename(fx_W("a/f.real"), fx_W("a/f"));
		}
		i++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) +
	    (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	_exit(0);
}

TEST(race_swaps)
{
	char *before, tmp[256];
	struct buf b;
	struct err e;
	uint64_t n, size;
	int status, tr, rounds = 0;
	pid_t pid;

	REQUIRE(setup() == 0);
	REQUIRE(plant_canaries() == 0);
	REQUIRE(mkdir(fx_W("a"), 0755) == 0 && fx_puts(fx_W("a/f"), "SECRET one") == 0);
	before = outside_snapshot();
	REQUIRE((pid = fork()) != -1);
	if (pid == 0)
		swapper(1.5);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		fsops_mkdir(&fx_root, "a/x/y", 1, &e);
		upload("a/up", "pwned", 5, &e);
		edit("a/f", "SECRET", "pwned", 1, &n, &e);
		ls("a", 10, &tr, &e);
		fsops_move(&fx_root, "a/up", "a/x/moved", 1, &e);
		fsops_remove(&fx_root, "a/x", 1, &e);
		fsops_remove(&fx_root, "a/existing", 0, &e);
		if (fsops_upload_open(&fx_root, "a/u2", tmp, &e) == SBXD_OK) {
			fsops_upload_write(&fx_root, "a/u2", tmp, 0, "pwned", 5, &e);
			fsops_upload_finish(&fx_root, "a/u2", tmp, 5, NULL, &e);
		}
		buf_init(&b, 100);
		fsops_read_range(&fx_root, "a/f", 0, 100, &b, &size, &e);
		CHECK(b.data == NULL || strstr(b.data, "TOPSECRET") == NULL);
		buf_fini(&b);
		rounds++;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(rounds > 10);
	CHECK(outside_unchanged(before));
	CHECK(fx_no_temp_left(fx_T("outside"), ".sbx-"));
	free(before);
	fx_down();
}

/* Directories of a tree being removed are swapped for links out between
 * our readdir and our open: the walk must unlink the links, never enter. */
static void
tree_swapper(double seconds)
{
	struct timespec t0, t;
	char d[64], x[64];
	int i = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		snprintf(d, sizeof(d), "t/d%d", i % 16);
		snprintf(x, sizeof(x), "t/d%d.x", i % 16);
		if (rename(fx_W(d), fx_W(x)) == 0) {
			(void)!symlink(i % 2 ? fx_T("outside") : "../../outside", fx_W(d));
			(void)!rename(fx_W(x), fx_W(d));
		}
		i++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) +
	    (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	_exit(0);
}

TEST(race_remove_tree)
{
	char *before, d[64];
	struct err e;
	int status, rounds = 0;
	pid_t pid;

	REQUIRE(setup() == 0);
	REQUIRE(plant_canaries() == 0);
	REQUIRE(symlink(fx_T("outside"), fx_W("o")) == 0);   /* "../../outside" */
	before = outside_snapshot();
	REQUIRE((pid = fork()) != -1);
	if (pid == 0)
		tree_swapper(1.5);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		for (int i = 0; i < 16; i++) {
			snprintf(d, sizeof(d), "t/d%d/s", i);
			fsops_mkdir(&fx_root, d, 1, &e);
		}
		fsops_remove(&fx_root, "t", 1, &e);
		rounds++;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(rounds > 10);
	CHECK(outside_unchanged(before));
	free(before);
	fx_down();
}

/* ---- mounts, in a private mount namespace -------------------------------- */

static void
in_mount_ns(void)
{
	char *before;
	struct err e;
	int tr;

	REQUIRE(mkdir(fx_W("tree"), 0755) == 0 && mkdir(fx_W("tree/mnt"), 0755) == 0);
	REQUIRE(mkdir(fx_T("outside"), 0755) == 0 && fx_puts(fx_T("outside/x"), "X") == 0);
	REQUIRE(fx_puts(fx_W("tree/f"), "f") == 0);
	REQUIRE(mount(fx_T("outside"), fx_W("tree/mnt"), NULL, MS_BIND, NULL) == 0);
	fsops_root_close(&fx_root);
	REQUIRE_INT(fsops_root_open(fx_T("ws"), FX_UID, FX_GID, &fx_root, &e), SBXD_OK);
	before = outside_snapshot();
	CHECK_INT(ls("tree/mnt", 10, &tr, &e), SBXD_PERMISSION_DENIED);
	CHECK_CONTAINS(e.msg, "leaves the workspace");
	CHECK_INT(fsops_remove(&fx_root, "tree/mnt/x", 0, &e), SBXD_PERMISSION_DENIED);
	CHECK_INT(fsops_remove(&fx_root, "tree/mnt", 0, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(fsops_remove(&fx_root, "tree", 1, &e), SBXD_PERMISSION_DENIED);
	CHECK_CONTAINS(e.msg, "leaves the workspace");
	CHECK(fx_content_is(fx_T("outside/x"), "X"));
	CHECK_INT(fsops_move(&fx_root, "tree/mnt/x", "stolen", 0, &e),
	    SBXD_PERMISSION_DENIED);
	CHECK(fsops_upload_open(&fx_root, "tree/mnt/y", (char[256]){ 0 }, &e) != SBXD_OK);
	CHECK(outside_unchanged(before));
	free(before);
	umount2(fx_W("tree/mnt"), MNT_DETACH);
}

TEST(mounts_never_crossed)
{
	REQUIRE(setup() == 0);
	CHECK_INT(fx_in_private_ns(in_mount_ns, &t_failures), 0);
	fx_down();
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(stat_basics);
	RUN(list_order);
	RUN(list_big_dir_keeps_first);
	RUN(list_file_and_errors);
	RUN(mkdir_basics);
	RUN(remove_basics);
	RUN(remove_recursive_tree);
	RUN(move_basics);
	RUN(read_range_basics);
	RUN(edit_messages_exact);
	RUN(edit_replaces);
	RUN(edit_ceilings_and_types);
	RUN(edit_through_links_inside);
	RUN(upload_happy);
	RUN(upload_checks_fail);
	RUN(upload_handle_validated);
	RUN(odd_names);
	RUN(long_paths);
	RUN(escape_stat_list);
	RUN(escape_mkdir_remove_move);
	RUN(escape_remove_tree_with_links);
	RUN(escape_edit_read_range);
	RUN(escape_upload);
	RUN(fifo_never_blocks);
	RUN(race_swaps);
	RUN(race_remove_tree);
	RUN(mounts_never_crossed);
	fx_down();
	T_DONE();
}
