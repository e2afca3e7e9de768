/*
 * test_fsops.c — fsops against a real directory tree.
 *
 * Each test gets a fresh temporary directory T holding the workspace T/ws
 * and, beside it, files the sandbox must never reach (T/secret,
 * T/outside/). The tests plant what a hostile sandbox could plant —
 * symlinks to outside files and directories, FIFOs, hardlinks — and check
 * that reads never return outside content and writes never change it. They
 * run as root so that ownership (1000:1000) can be checked; the mount
 * tests (EXDEV, ENOSPC) run in a private mount namespace and are skipped
 * where one cannot be made.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "fsops.h"
#include "fsops_fixture.h"

/* ---- fixture ------------------------------------------------------------- */

/* T/ws, and T/outside beside it. */
static int
setup(void)
{
	if (fx_up("test_fsops") == -1 || mkdir(fx_T("outside"), 0755) == -1)
		return -1;
	return 0;
}

/* ---- fsops wrappers ------------------------------------------------------ */

/* fsops_read_file with a fresh buffer of ceiling max; caller buf_fini's. */
static sbxd_code
rd(const char *rel, struct buf *b, size_t max, struct err *e)
{
	buf_init(b, max);
	err_clear(e);
	return fsops_read_file(&fx_root, rel, b, e);
}

static sbxd_code
wr(const char *rel, const char *s, int append, struct err *e)
{
	err_clear(e);
	return fsops_write_file(&fx_root, rel, s, strlen(s), append, e);
}

/* ---- client path mapping ------------------------------------------------- */

/* ---- round trips and ownership ------------------------------------------- */

static void
roundtrip(const char *rel, const void *p, size_t n)
{
	struct buf b;
	struct err e;
	struct stat st;
	size_t hn;
	char *host;

	REQUIRE_INT(fsops_write_file(&fx_root, rel, p, n, 0, &e), SBXD_OK);
	REQUIRE_INT(rd(rel, &b, 8u << 20, &e), SBXD_OK);
	CHECK_INT(b.len, n);
	CHECK(n == 0 || memcmp(b.data, p, n) == 0);
	buf_fini(&b);
	host = fx_slurp(fx_W(rel), &hn);
	CHECK(host != NULL && hn == n && (n == 0 || memcmp(host, p, n) == 0));
	free(host);
	REQUIRE(lstat(fx_W(rel), &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0644);
	CHECK_INT(st.st_uid, FX_UID);
	CHECK_INT(st.st_gid, FX_GID);
}

TEST(write_read_roundtrip)
{
	unsigned char bin[1024], *big;
	size_t bign = 1u << 20;

	REQUIRE(setup() == 0);
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 7);
	roundtrip("bin.dat", bin, sizeof(bin));
	roundtrip("crlf.txt", "a\r\nb\r\n", 6);
	roundtrip("nonl.txt", "no newline", 10);
	roundtrip("empty", "", 0);
	roundtrip("nul.txt", "a\0b\0", 4);
	REQUIRE((big = malloc(bign)) != NULL);
	for (size_t i = 0; i < bign; i++)
		big[i] = (unsigned char)((i * 2654435761u) >> 13);
	roundtrip("big.bin", big, bign);
	free(big);
	fx_down();
}

TEST(parents_created_and_owned)
{
	const char *dirs[] = { "d1", "d1/d2", "d1/d2/d3" };
	struct stat st;
	struct err e;
	mode_t old;

	REQUIRE(setup() == 0);
	old = umask(077);   /* the result must not depend on sbxd's umask */
	CHECK_INT(wr("d1/d2/d3/f.txt", "x", 0, &e), SBXD_OK);
	umask(old);
	for (int i = 0; i < 3; i++) {
		REQUIRE(lstat(fx_W(dirs[i]), &st) == 0);
		CHECK(S_ISDIR(st.st_mode));
		CHECK_INT(st.st_mode & 07777, 0755);
		CHECK_INT(st.st_uid, FX_UID);
		CHECK_INT(st.st_gid, FX_GID);
	}
	CHECK(fx_content_is(fx_W("d1/d2/d3/f.txt"), "x"));

	/* an existing parent keeps its owner */
	REQUIRE(mkdir(fx_W("mine"), 0700) == 0);
	CHECK_INT(wr("mine/new/f", "y", 0, &e), SBXD_OK);
	REQUIRE(lstat(fx_W("mine"), &st) == 0);
	CHECK_INT(st.st_uid, 0);
	CHECK_INT(st.st_mode & 07777, 0700);
	REQUIRE(lstat(fx_W("mine/new"), &st) == 0);
	CHECK_INT(st.st_uid, FX_UID);
	fx_down();
}

TEST(parent_is_a_file)
{
	struct buf b;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("f"), "file") == 0);
	CHECK_INT(wr("f/x", "y", 0, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "not a directory");
	CHECK_INT(wr("f/y/z", "y", 0, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(wr("f/x", "y", 1, &e), SBXD_FAILED_PRECONDITION);
	CHECK(fx_content_is(fx_W("f"), "file"));
	CHECK_INT(rd("f/x", &b, 100, &e), SBXD_NOT_FOUND);
	buf_fini(&b);
	fx_down();
}

/* ---- overwrite ----------------------------------------------------------- */

TEST(overwrite_replaces_atomically)
{
	struct stat before, after;
	struct err e;
	char old[16] = { 0 };
	int fd;

	REQUIRE(setup() == 0);
	CHECK_INT(wr("o.txt", "old content", 0, &e), SBXD_OK);
	REQUIRE(lstat(fx_W("o.txt"), &before) == 0);
	REQUIRE((fd = open(fx_W("o.txt"), O_RDONLY)) != -1);
	REQUIRE(chmod(fx_W("o.txt"), 0750) == 0);
	CHECK_INT(wr("o.txt", "new", 0, &e), SBXD_OK);
	/* a reader holding the old file still sees all of it: a new inode */
	CHECK_INT(read(fd, old, sizeof(old) - 1), 11);
	CHECK_STR(old, "old content");
	close(fd);
	REQUIRE(lstat(fx_W("o.txt"), &after) == 0);
	CHECK(after.st_ino != before.st_ino);
	CHECK_INT(after.st_mode & 07777, 0750);   /* mode kept */
	CHECK(fx_content_is(fx_W("o.txt"), "new"));
	CHECK(fx_no_temp_left(fx_T("ws"), ".sbx-tmp"));
	fx_down();
}

/* A child reads the file in a loop while we overwrite it with two contents
 * of different lengths: every read must be one of them, whole. */
TEST(overwrite_never_torn)
{
	static char a[50000], b[70000];
	struct err e;
	pid_t pid;
	int status, n = 0;

	REQUIRE(setup() == 0);
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	REQUIRE_INT(fsops_write_file(&fx_root, "t", a, sizeof(a), 0, &e), SBXD_OK);
	REQUIRE((pid = fork()) != -1);
	if (pid == 0) {
		for (int i = 0; i < 300; i++) {
			size_t len;
			char *s = fx_slurp(fx_W("t"), &len);

			if (s == NULL || !((len == sizeof(a) && s[0] == 'a' &&
			    s[len - 1] == 'a') || (len == sizeof(b) &&
			    s[0] == 'b' && s[len - 1] == 'b')))
				_exit(1);
			free(s);
		}
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		const char *p = n++ % 2 ? a : b;

		CHECK_INT(fsops_write_file(&fx_root, "t", p, p == a ? sizeof(a) :
		    sizeof(b), 0, &e), SBXD_OK);
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(fx_no_temp_left(fx_T("ws"), ".sbx-tmp"));
	fx_down();
}

/* ---- append -------------------------------------------------------------- */

TEST(append)
{
	struct stat st;
	struct err e;

	REQUIRE(setup() == 0);
	CHECK_INT(wr("logs/a.log", "one\n", 1, &e), SBXD_OK);
	CHECK_INT(wr("logs/a.log", "two", 1, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("logs/a.log"), "one\ntwo"));
	REQUIRE(lstat(fx_W("logs/a.log"), &st) == 0);
	CHECK_INT(st.st_uid, FX_UID);
	CHECK_INT(st.st_mode & 07777, 0644);
	REQUIRE(lstat(fx_W("logs"), &st) == 0);
	CHECK_INT(st.st_uid, FX_UID);

	/* appending to a file sbxd did not create keeps its owner */
	REQUIRE(fx_puts(fx_W("root.txt"), "r") == 0);
	CHECK_INT(wr("root.txt", "s", 1, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("root.txt"), "rs"));
	REQUIRE(lstat(fx_W("root.txt"), &st) == 0);
	CHECK_INT(st.st_uid, 0);

	/* a symlink leaf is refused, even one pointing inside */
	REQUIRE(symlink("root.txt", fx_W("ln")) == 0);
	CHECK_INT(wr("ln", "x", 1, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "symlink");
	CHECK(fx_content_is(fx_W("root.txt"), "rs"));
	fx_down();
}

/* ---- errors -------------------------------------------------------------- */

TEST(read_errors)
{
	struct buf b;
	struct err e;

	REQUIRE(setup() == 0);
	CHECK_INT(rd("nope.txt", &b, 100, &e), SBXD_NOT_FOUND);
	CHECK_STR(e.msg, "File '/workspace/nope.txt' not found");
	CHECK_INT(rd("nodir/nope", &b, 100, &e), SBXD_NOT_FOUND);
	REQUIRE(mkdir(fx_W("d"), 0755) == 0);
	CHECK_INT(rd("d", &b, 100, &e), SBXD_FAILED_PRECONDITION);
	CHECK_STR(e.msg, "'/workspace/d' is a directory");
	CHECK_INT(rd(".", &b, 100, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "is a directory");
	REQUIRE(symlink("loop2", fx_W("loop1")) == 0 && symlink("loop1", fx_W("loop2")) == 0);
	CHECK_INT(rd("loop1", &b, 100, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "symbolic links");
	CHECK_INT(b.len, 0);
	buf_fini(&b);
	fx_down();
}

TEST(read_ceiling)
{
	struct buf b;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("ten"), "0123456789") == 0);
	REQUIRE(fx_puts(fx_W("eleven"), "0123456789A") == 0);
	CHECK_INT(rd("ten", &b, 10, &e), SBXD_OK);
	CHECK_STR(b.data, "0123456789");
	buf_fini(&b);
	CHECK_INT(rd("eleven", &b, 10, &e), SBXD_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(e.msg, "is 11 bytes");
	CHECK_CONTAINS(e.msg, "ceiling of 10 bytes");
	CHECK_CONTAINS(e.msg, "offset");
	CHECK_INT(b.len, 0);
	buf_fini(&b);
	fx_down();
}

TEST(write_errors)
{
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(mkdir(fx_W("d"), 0755) == 0);
	CHECK_INT(wr(".", "x", 0, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(wr("", "x", 0, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(wr("d/.", "x", 0, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(wr("..", "x", 0, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(wr("a/..", "x", 1, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(wr("d", "x", 0, &e), SBXD_FAILED_PRECONDITION);
	CHECK_STR(e.msg, "'/workspace/d' is a directory");
	CHECK_INT(wr("d", "x", 1, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "is a directory");
	CHECK(fx_no_temp_left(fx_T("ws"), ".sbx-tmp"));
	fx_down();
}

TEST(root_open_errors)
{
	struct fsops_root r;
	struct err e;

	REQUIRE(setup() == 0);
	CHECK_INT(fsops_root_open(fx_T("missing"), FX_UID, FX_GID, &r, &e), SBXD_NOT_FOUND);
	CHECK_INT(r.fd, -1);
	REQUIRE(fx_puts(fx_T("file"), "x") == 0);
	CHECK_INT(fsops_root_open(fx_T("file"), FX_UID, FX_GID, &r, &e), SBXD_FAILED_PRECONDITION);
	REQUIRE(symlink(fx_T("ws"), fx_T("wslink")) == 0);
	CHECK(fsops_root_open(fx_T("wslink"), FX_UID, FX_GID, &r, &e) != SBXD_OK);
	fsops_root_close(&r);   /* tolerated on a failed open */
	fx_down();
}

/* ---- what a hostile sandbox can plant ------------------------------------ */

TEST(symlink_leaf_to_outside_file)
{
	const char *links[] = { "ln_abs", "ln_rel", "sub/ln_up" };
	struct buf b;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_T("secret"), "TOPSECRET") == 0);
	REQUIRE(mkdir(fx_W("sub"), 0755) == 0);
	REQUIRE(symlink(fx_T("secret"), fx_W("ln_abs")) == 0);
	REQUIRE(symlink("../secret", fx_W("ln_rel")) == 0);
	REQUIRE(symlink("../../../secret", fx_W("sub/ln_up")) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(rd(links[i], &b, 1000, &e), SBXD_NOT_FOUND);
		CHECK(b.len == 0 && (b.data == NULL || strstr(b.data, "TOPSECRET") == NULL));
		buf_fini(&b);
		CHECK_INT(wr(links[i], "x", 1, &e), SBXD_FAILED_PRECONDITION);
		CHECK(fx_content_is(fx_T("secret"), "TOPSECRET"));
		/* an overwrite replaces the link itself */
		CHECK_INT(wr(links[i], "replaced", 0, &e), SBXD_OK);
		CHECK(fx_content_is(fx_T("secret"), "TOPSECRET"));
		CHECK(fx_content_is(fx_W(links[i]), "replaced"));   /* O_NOFOLLOW: a file now */
	}

	/* a link to /etc/passwd means <workspace>/etc/passwd */
	REQUIRE(symlink("/etc/passwd", fx_W("pw")) == 0);
	CHECK_INT(rd("pw", &b, 1 << 20, &e), SBXD_NOT_FOUND);
	buf_fini(&b);
	REQUIRE(mkdir(fx_W("etc"), 0755) == 0 && fx_puts(fx_W("etc/passwd"), "fake") == 0);
	CHECK_INT(rd("pw", &b, 1 << 20, &e), SBXD_OK);
	CHECK_STR(b.data, "fake");
	buf_fini(&b);
	fx_down();
}

TEST(symlink_inside_workspace)
{
	struct buf b;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_W("real.txt"), "hello") == 0);
	REQUIRE(mkdir(fx_W("sub"), 0755) == 0 && mkdir(fx_W("realdir"), 0755) == 0);
	REQUIRE(symlink("real.txt", fx_W("ln")) == 0);
	REQUIRE(symlink("../real.txt", fx_W("sub/ln2")) == 0);
	REQUIRE(symlink("/realdir", fx_W("dl")) == 0);
	CHECK_INT(rd("ln", &b, 100, &e), SBXD_OK);
	CHECK_STR(b.data, "hello");
	buf_fini(&b);
	CHECK_INT(rd("sub/ln2", &b, 100, &e), SBXD_OK);
	CHECK_STR(b.data, "hello");
	buf_fini(&b);
	/* a symlinked parent is followed inside the root */
	CHECK_INT(wr("dl/f", "via link", 0, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("realdir/f"), "via link"));
	CHECK_INT(wr("dl/new/g", "deeper", 0, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("realdir/new/g"), "deeper"));
	fx_down();
}

TEST(symlink_dir_to_outside)
{
	const char *evil[] = { "evil/x", "evil/sub/x", "evil2/x", "d/evil3/x" };
	struct buf b;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_T("outside/existing"), "SECRET") == 0);
	REQUIRE(mkdir(fx_W("d"), 0755) == 0);
	REQUIRE(symlink(fx_T("outside"), fx_W("evil")) == 0);
	REQUIRE(symlink("../outside", fx_W("evil2")) == 0);
	REQUIRE(symlink("../../outside", fx_W("d/evil3")) == 0);
	for (int i = 0; i < 4; i++) {
		CHECK_INT(wr(evil[i], "pwned", 0, &e), SBXD_FAILED_PRECONDITION);
		CHECK_INT(wr(evil[i], "pwned", 1, &e), SBXD_FAILED_PRECONDITION);
	}
	CHECK(!fx_exists(fx_T("outside/x")));
	CHECK(!fx_exists(fx_T("outside/sub")));
	CHECK(!fx_exists(fx_T("x")));
	CHECK(fx_no_temp_left(fx_T("outside"), ".sbx-tmp"));
	CHECK_INT(rd("evil/existing", &b, 100, &e), SBXD_NOT_FOUND);
	CHECK_INT(rd("evil2/existing", &b, 100, &e), SBXD_NOT_FOUND);
	buf_fini(&b);
	CHECK(fx_content_is(fx_T("outside/existing"), "SECRET"));

	/* "/" as a target is the workspace root */
	REQUIRE(symlink("/", fx_W("top")) == 0);
	CHECK_INT(wr("top/x", "in root", 0, &e), SBXD_OK);
	CHECK(fx_content_is(fx_W("x"), "in root"));
	fx_down();
}

TEST(fifo_does_not_hang)
{
	struct stat st;
	struct buf b;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(mkfifo(fx_W("fifo"), 0644) == 0);
	fx_watchdog("FAIL fifo_does_not_hang: fsops blocked on a FIFO\n");
	alarm(20);   /* a hang ends the test binary: a failure, never a stall */
	CHECK_INT(rd("fifo", &b, 100, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "not a regular file");
	buf_fini(&b);
	CHECK_INT(wr("fifo", "x", 1, &e), SBXD_FAILED_PRECONDITION);
	alarm(0);
	CHECK_INT(wr("fifo", "now a file", 0, &e), SBXD_OK);
	REQUIRE(lstat(fx_W("fifo"), &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	fx_down();
}

/*
 * A hardlink to a file outside the workspace. Reading it reads the linked
 * inode: that is inherent in hardlinks, and harmless here because link(2)
 * cannot cross mounts — a sandbox can only hardlink files inside its own
 * /workspace bind mount, which are its own. Only the host could plant this.
 * An overwrite renames a new file over the name, so the outside inode is
 * untouched and the link is broken.
 */
TEST(hardlink_to_outside)
{
	struct stat st;
	struct buf b;
	struct err e;

	REQUIRE(setup() == 0);
	REQUIRE(fx_puts(fx_T("hl_out"), "OUTSIDE") == 0);
	REQUIRE(link(fx_T("hl_out"), fx_W("hl")) == 0);
	CHECK_INT(rd("hl", &b, 100, &e), SBXD_OK);
	CHECK_STR(b.data, "OUTSIDE");
	buf_fini(&b);
	CHECK_INT(wr("hl", "inside", 0, &e), SBXD_OK);
	CHECK(fx_content_is(fx_T("hl_out"), "OUTSIDE"));
	CHECK(fx_content_is(fx_W("hl"), "inside"));
	REQUIRE(lstat(fx_T("hl_out"), &st) == 0);
	CHECK_INT(st.st_nlink, 1);
	fx_down();
}

/* ---- mounts: EXDEV and ENOSPC, in a private mount namespace -------------- */

/* Runs in a child that has its own mount namespace; the root is reopened
 * there, since an fd opened before unshare still sees the old mounts. */
static void
in_mount_ns(void)
{
	struct fsops_root small;
	struct buf b;
	struct err e;
	char *big;

	REQUIRE(mkdir(fx_W("mnt"), 0755) == 0 && mkdir(fx_T("small"), 0755) == 0);
	REQUIRE(mount("tmpfs", fx_W("mnt"), "tmpfs", 0, "size=64k") == 0);
	fsops_root_close(&fx_root);
	REQUIRE_INT(fsops_root_open(fx_T("ws"), FX_UID, FX_GID, &fx_root, &e), SBXD_OK);
	REQUIRE(fx_puts(fx_W("mnt/x"), "other fs") == 0);
	CHECK_INT(rd("mnt/x", &b, 100, &e), SBXD_PERMISSION_DENIED);
	CHECK_CONTAINS(e.msg, "leaves the workspace");
	buf_fini(&b);
	CHECK_INT(wr("mnt/y", "z", 0, &e), SBXD_PERMISSION_DENIED);
	CHECK(!fx_exists(fx_W("mnt/y")));

	REQUIRE(mount("tmpfs", fx_T("small"), "tmpfs", 0, "size=64k") == 0);
	REQUIRE_INT(fsops_root_open(fx_T("small"), FX_UID, FX_GID, &small, &e), SBXD_OK);
	REQUIRE((big = calloc(1, 1u << 20)) != NULL);
	CHECK_INT(fsops_write_file(&small, "big", big, 1u << 20, 0, &e),
	    SBXD_RESOURCE_EXHAUSTED);
	CHECK(!fx_exists(fx_T("small/big")));
	CHECK(fx_no_temp_left(fx_T("small"), ".sbx-tmp"));
	CHECK_INT(fsops_write_file(&small, "app", big, 1u << 20, 1, &e),
	    SBXD_RESOURCE_EXHAUSTED);
	free(big);
	fsops_root_close(&small);
}

TEST(mounts_exdev_enospc)
{
	REQUIRE(setup() == 0);
	CHECK_INT(fx_in_private_ns(in_mount_ns, &t_failures), 0);
	fx_down();
}

int
main(void)
{
	RUN(write_read_roundtrip);
	RUN(parents_created_and_owned);
	RUN(parent_is_a_file);
	RUN(overwrite_replaces_atomically);
	RUN(overwrite_never_torn);
	RUN(append);
	RUN(read_errors);
	RUN(read_ceiling);
	RUN(write_errors);
	RUN(root_open_errors);
	RUN(symlink_leaf_to_outside_file);
	RUN(symlink_inside_workspace);
	RUN(symlink_dir_to_outside);
	RUN(fifo_does_not_hang);
	RUN(hardlink_to_outside);
	RUN(mounts_exdev_enospc);
	fx_down();
	T_DONE();
}
