/*
 * test_ctrfs.c — ctrfs.c and docker_archive.c against the real Docker
 * engine.
 *
 * Talks to /var/run/docker.sock (or $SBX_DOCKER_SOCK) with the runtime
 * image sbx/python-minimal:latest, which deploy/images/build.sh builds;
 * without it the test fails. Two hardened containers (user 1000:1000, all
 * capabilities dropped, no network): "rw" with a writable root filesystem,
 * where files outside /workspace are read, written, listed, created,
 * moved and removed, names full of shell syntax included; and "ro" with a
 * read-only root filesystem and a tmpfs /tmp, which the engine's archive
 * endpoints cannot see. Everything created carries the label sbx.test=1
 * and is removed at the end, failed or not. No test asserts a time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrfs.h"
#include "docker_fixture.h"
#include "driver.h"
#include "t.h"

#define SUITE_LABEL	"sbx.test.ctrfs"
#define OUT_MAX		(64 * 1024)
#define CEIL		(1u << 20)

static struct driver *d;
static char rw_id[DRIVER_ID_MAX], ro_id[DRIVER_ID_MAX];
static struct ctrfs rw, ro;

/* Runs argv in container cid (as its user, 1000); stdout into dst. */
static int
xrun(const char *cid, const char *const *argv, char *dst, size_t n)
{
	struct driver_exec_spec s = { .container_id = cid, .argv = argv,
	    .timeout_ms = 60000, .max_output = OUT_MAX };
	struct driver_exec_result r;
	struct err e;
	int ok;

	memset(&r, 0, sizeof(r));
	ok = d->ops->exec(d, &s, &r, &e) == SBXD_OK && r.exit_code == 0;
	if (!ok)
		fprintf(stderr, "  `%s`: %s exit %d err \"%s\"\n", argv[2],
		    e.msg, r.exit_code, r.err.data ? r.err.data : "");
	if (dst != NULL)
		snprintf(dst, n, "%s", r.out.data ? r.out.data : "");
	driver_exec_result_fini(&r);
	return ok;
}

/* sh -c cmd in cid, which must exit 0; stdout into dst (may be NULL). */
static int
sh(const char *cid, const char *cmd, char *dst, size_t n)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };

	return xrun(cid, argv, dst, n);
}

/* sh -c script with one argument $1. */
static int
sh1(const char *cid, const char *script, const char *arg, char *dst,
    size_t n)
{
	const char *argv[] = { "sh", "-c", script, "sh", arg, NULL };

	return xrun(cid, argv, dst, n);
}

/* Reads path through ctrfs into a fresh buffer of max bytes. */
static sbxd_code
rd(struct ctrfs *c, const char *path, size_t max, struct buf *b,
    struct err *e)
{
	buf_init(b, max);
	err_clear(e);
	return ctrfs_read_file(c, path, b, e);
}

static sbxd_code
wr(struct ctrfs *c, const char *path, const char *s, int append,
    struct err *e)
{
	err_clear(e);
	return ctrfs_write_file(c, path, s, strlen(s), append, CEIL, e);
}

/* 1 when path exists in container cid (as seen from inside). */
static int
exists_in(const char *cid, const char *path)
{
	char o[16];

	return sh1(cid, "if [ -e \"$1\" ] || [ -L \"$1\" ]; then echo y; "
	    "else echo n; fi", path, o, sizeof(o)) && strcmp(o, "y\n") == 0;
}

TEST(abs_path)
{
	char out[FSOPS_PATH_MAX + 1], big[FSOPS_PATH_MAX + 2], comp[300];
	struct err e;

	CHECK_INT(ctrfs_abs_path("/etc/./x/../passwd", 18, out, sizeof(out),
	    &e), SBXD_OK);
	CHECK_STR(out, "/etc/passwd");
	CHECK_INT(ctrfs_abs_path("/../../tmp//a/", 14, out, sizeof(out), &e),
	    SBXD_OK);
	CHECK_STR(out, "/tmp/a");
	CHECK_INT(ctrfs_abs_path("/..", 3, out, sizeof(out), &e), SBXD_OK);
	CHECK_STR(out, "/");
	CHECK_INT(ctrfs_abs_path("/a\0b", 4, out, sizeof(out), &e),
	    SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "NUL");
	CHECK_INT(ctrfs_abs_path("etc/passwd", 10, out, sizeof(out), &e),
	    SBXD_INVALID_ARGUMENT);
	CHECK_INT(ctrfs_abs_path("", 0, out, sizeof(out), &e),
	    SBXD_INVALID_ARGUMENT);
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	CHECK_INT(ctrfs_abs_path(big, sizeof(big), out, sizeof(out), &e),
	    SBXD_INVALID_ARGUMENT);
	memset(comp, 'b', sizeof(comp));
	comp[0] = '/';
	CHECK_INT(ctrfs_abs_path(comp, 257, out, sizeof(out), &e),
	    SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "component");
	CHECK_INT(ctrfs_abs_path(comp, 256, out, sizeof(out), &e), SBXD_OK);
	CHECK_INT(ctrfs_abs_path("/etc/passwd", 11, out, 5, &e),
	    SBXD_INVALID_ARGUMENT);
}

TEST(path_stat)
{
	struct driver_path_stat st;
	struct err e;

	REQUIRE_INT(d->ops->path_stat(d, rw_id, "/etc", &st, &e), SBXD_OK);
	CHECK_STR(st.name, "etc");
	CHECK(S_ISDIR(st.mode));
	CHECK_INT(st.mode & 07777, 0755);
	CHECK(st.mtime_ms > 1500000000000LL);
	REQUIRE_INT(d->ops->path_stat(d, rw_id, "/etc/os-release", &st, &e),
	    SBXD_OK);
	CHECK(S_ISLNK(st.mode));
	CHECK_STR(st.link_target, "/usr/lib/os-release");
	REQUIRE_INT(d->ops->path_stat(d, rw_id, "/etc/passwd", &st, &e),
	    SBXD_OK);
	CHECK(S_ISREG(st.mode));
	CHECK_INT(st.mode & 07777, 0644);
	CHECK(st.size > 0);
	REQUIRE(sh(rw_id, "mkfifo /tmp/st-fifo", NULL, 0));
	REQUIRE_INT(d->ops->path_stat(d, rw_id, "/tmp/st-fifo", &st, &e),
	    SBXD_OK);
	CHECK(S_ISFIFO(st.mode));
	CHECK_INT(d->ops->path_stat(d, rw_id, "/no/such", &st, &e),
	    SBXD_NOT_FOUND);
	CHECK_INT(d->ops->path_stat(d, "no-such-container-xyz", "/etc", &st,
	    &e), SBXD_NOT_FOUND);
}

TEST(archive_ops)
{
	struct buf tar;
	struct err e;

	buf_init(&tar, 1 << 20);
	CHECK_INT(d->ops->archive_get(d, rw_id, "/etc/hostname", &tar, &e),
	    SBXD_OK);
	CHECK(tar.len >= 1024);
	/* a FIFO comes back as a FIFO entry: nothing blocks on it */
	REQUIRE(sh(rw_id, "mkfifo /tmp/ar-fifo", NULL, 0));
	CHECK_INT(d->ops->archive_get(d, rw_id, "/tmp/ar-fifo", &tar, &e),
	    SBXD_OK);
	CHECK(tar.len > 0 && tar.len <= 10240);
	CHECK(tar.len > 156 && tar.data[156] == '6');	/* ustar FIFO */
	CHECK_INT(d->ops->archive_get(d, rw_id, "/no/such", &tar, &e),
	    SBXD_NOT_FOUND);
	CHECK_INT(tar.len, 0);
	buf_fini(&tar);
	buf_init(&tar, 4096);
	CHECK_INT(d->ops->archive_get(d, rw_id, "/etc", &tar, &e),
	    SBXD_RESOURCE_EXHAUSTED);
	buf_fini(&tar);
	/* the engine answers 500 for a read-only root filesystem */
	CHECK_INT(d->ops->archive_put(d, ro_id, "/etc", "", 0, &e),
	    SBXD_PERMISSION_DENIED);
	CHECK_CONTAINS(e.msg, "read-only");
	CHECK_INT(d->ops->archive_put(d, rw_id, "/no/such/dir", "", 0, &e),
	    SBXD_NOT_FOUND);
}

TEST(read_files)
{
	char want[OUT_MAX];
	struct buf b;
	struct err e;

	/* /etc/os-release is a relative symlink into /usr/lib */
	REQUIRE_INT(rd(&rw, "/etc/os-release", CEIL, &b, &e), SBXD_OK);
	CHECK_CONTAINS(b.data, "VERSION_ID=\"12\"");
	buf_fini(&b);
	REQUIRE_INT(rd(&rw, "/etc/localtime", CEIL, &b, &e), SBXD_OK);
	CHECK(b.len > 4 && memcmp(b.data, "TZif", 4) == 0);
	buf_fini(&b);

	REQUIRE(sh(rw_id, "cat /etc/hostname", want, sizeof(want)));
	REQUIRE(sh(rw_id, "ln -s /etc/hostname /tmp/abs-link && "
	    "ln -s ../etc/hostname /tmp/rel-link && "
	    "ln -s /tmp/rel-link /tmp/link-link && "
	    "ln -s /tmp/loop1 /tmp/loop2 && ln -s /tmp/loop2 /tmp/loop1 && "
	    "ln -s /no/such /tmp/dangling", NULL, 0));
	REQUIRE_INT(rd(&rw, "/tmp/abs-link", CEIL, &b, &e), SBXD_OK);
	CHECK_STR(b.data, want);
	buf_fini(&b);
	REQUIRE_INT(rd(&rw, "/tmp/rel-link", CEIL, &b, &e), SBXD_OK);
	CHECK_STR(b.data, want);
	buf_fini(&b);
	REQUIRE_INT(rd(&rw, "/tmp/link-link", CEIL, &b, &e), SBXD_OK);
	CHECK_STR(b.data, want);
	buf_fini(&b);
	CHECK_INT(rd(&rw, "/tmp/loop1", CEIL, &b, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "symbolic links");
	buf_fini(&b);
	CHECK_INT(rd(&rw, "/tmp/dangling", CEIL, &b, &e), SBXD_NOT_FOUND);
	buf_fini(&b);

	CHECK_INT(rd(&rw, "/etc", CEIL, &b, &e), SBXD_FAILED_PRECONDITION);
	CHECK_STR(e.msg, "'/etc' is a directory");
	buf_fini(&b);
	CHECK_INT(rd(&rw, "/etc/no-such-file", CEIL, &b, &e), SBXD_NOT_FOUND);
	CHECK_STR(e.msg, "File '/etc/no-such-file' not found");
	buf_fini(&b);
	/* the archive API reads as root; the sandbox user may not */
	CHECK_INT(rd(&rw, "/etc/shadow", CEIL, &b, &e),
	    SBXD_PERMISSION_DENIED);
	CHECK_INT(b.len, 0);
	buf_fini(&b);
	CHECK_INT(rd(&rw, "/root/.bashrc", CEIL, &b, &e),
	    SBXD_PERMISSION_DENIED);
	buf_fini(&b);
}

TEST(read_ceiling_and_fifo)
{
	struct buf b;
	struct err e;

	REQUIRE(sh(rw_id, "head -c 100 /dev/zero > /tmp/hundred && "
	    "mkfifo /tmp/fifo", NULL, 0));
	CHECK_INT(rd(&rw, "/tmp/hundred", 99, &b, &e),
	    SBXD_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(e.msg, "100 bytes");
	CHECK_INT(b.len, 0);
	buf_fini(&b);
	CHECK_INT(rd(&rw, "/tmp/hundred", 100, &b, &e), SBXD_OK);
	CHECK_INT(b.len, 100);
	buf_fini(&b);
	/* must not block on the FIFO */
	CHECK_INT(rd(&rw, "/tmp/fifo", CEIL, &b, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "not a regular file");
	buf_fini(&b);
	CHECK_INT(rd(&rw, "/dev/null", CEIL, &b, &e), SBXD_FAILED_PRECONDITION);
	buf_fini(&b);
}

TEST(write_and_read_back)
{
	char o[OUT_MAX];
	static const char bin[] = "a\0b\0\xff\n";
	struct buf b;
	struct err e;

	REQUIRE_INT(wr(&rw, "/tmp/a/b/c.txt", "hello\n", 0, &e), SBXD_OK);
	REQUIRE_INT(rd(&rw, "/tmp/a/b/c.txt", CEIL, &b, &e), SBXD_OK);
	CHECK_STR(b.data, "hello\n");
	buf_fini(&b);
	CHECK(sh(rw_id, "stat -c '%u %g %a' /tmp/a/b/c.txt /tmp/a/b /tmp/a",
	    o, sizeof(o)));
	CHECK_STR(o, "1000 1000 644\n1000 1000 755\n1000 1000 755\n");

	REQUIRE_INT(wr(&rw, "/tmp/a/b/c.txt", "world\n", 1, &e), SBXD_OK);
	REQUIRE_INT(rd(&rw, "/tmp/a/b/c.txt", CEIL, &b, &e), SBXD_OK);
	CHECK_STR(b.data, "hello\nworld\n");
	buf_fini(&b);
	/* an append to a missing file creates it */
	REQUIRE_INT(wr(&rw, "/tmp/a/new.txt", "x", 1, &e), SBXD_OK);
	REQUIRE_INT(rd(&rw, "/tmp/a/new.txt", CEIL, &b, &e), SBXD_OK);
	CHECK_STR(b.data, "x");
	buf_fini(&b);

	/* an overwrite keeps the permission bits */
	REQUIRE(sh(rw_id, "chmod 600 /tmp/a/b/c.txt", NULL, 0));
	REQUIRE_INT(wr(&rw, "/tmp/a/b/c.txt", "new", 0, &e), SBXD_OK);
	CHECK(sh(rw_id, "stat -c '%u %a' /tmp/a/b/c.txt; cat /tmp/a/b/c.txt",
	    o, sizeof(o)));
	CHECK_STR(o, "1000 600\nnew");

	/* bytes, and an empty file */
	err_clear(&e);
	REQUIRE_INT(ctrfs_write_file(&rw, "/tmp/bin", bin, sizeof(bin) - 1, 0,
	    CEIL, &e), SBXD_OK);
	REQUIRE_INT(rd(&rw, "/tmp/bin", CEIL, &b, &e), SBXD_OK);
	CHECK(b.len == sizeof(bin) - 1 && memcmp(b.data, bin, b.len) == 0);
	buf_fini(&b);
	REQUIRE_INT(wr(&rw, "/tmp/empty", "", 0, &e), SBXD_OK);
	REQUIRE_INT(rd(&rw, "/tmp/empty", CEIL, &b, &e), SBXD_OK);
	CHECK_INT(b.len, 0);
	buf_fini(&b);

	/* outside /tmp: the user's own home */
	REQUIRE_INT(wr(&rw, "/home/sandbox/notes.md", "# hi\n", 0, &e),
	    SBXD_OK);
	CHECK(sh(rw_id, "cat /home/sandbox/notes.md", o, sizeof(o)));
	CHECK_STR(o, "# hi\n");
}

TEST(write_refused)
{
	char before[OUT_MAX], after[OUT_MAX];
	struct err e;

	REQUIRE(sh(rw_id, "cat /etc/passwd", before, sizeof(before)));
	CHECK_INT(wr(&rw, "/etc/passwd", "root::0:0::/root:/bin/sh\n", 0, &e),
	    SBXD_PERMISSION_DENIED);
	CHECK_CONTAINS(e.msg, "cannot write '/etc/passwd'");
	CHECK_CONTAINS(e.msg, "not writable by the sandbox user");
	CHECK_INT(wr(&rw, "/etc/passwd", "x", 1, &e), SBXD_PERMISSION_DENIED);
	CHECK_INT(wr(&rw, "/etc/new-file", "x", 0, &e),
	    SBXD_PERMISSION_DENIED);
	CHECK(!exists_in(rw_id, "/etc/new-file"));
	CHECK_INT(wr(&rw, "/usr/lib/x/y/z", "x", 0, &e),
	    SBXD_PERMISSION_DENIED);
	CHECK(!exists_in(rw_id, "/usr/lib/x"));
	REQUIRE(sh(rw_id, "cat /etc/passwd", after, sizeof(after)));
	CHECK_STR(after, before);

	/* a symlink at the leaf is replaced, never written through */
	REQUIRE(sh(rw_id, "ln -s /etc/passwd /tmp/to-passwd", NULL, 0));
	REQUIRE_INT(wr(&rw, "/tmp/to-passwd", "mine\n", 0, &e), SBXD_OK);
	REQUIRE(sh(rw_id, "cat /etc/passwd", after, sizeof(after)));
	CHECK_STR(after, before);
	CHECK(sh(rw_id, "stat -c %F /tmp/to-passwd; cat /tmp/to-passwd",
	    after, sizeof(after)));
	CHECK_STR(after, "regular file\nmine\n");
	REQUIRE(sh(rw_id, "ln -s /etc/passwd /tmp/to-passwd2", NULL, 0));
	CHECK_INT(wr(&rw, "/tmp/to-passwd2", "x", 1, &e),
	    SBXD_FAILED_PRECONDITION);

	CHECK_INT(wr(&rw, "/tmp", "x", 0, &e), SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "is a directory");
	CHECK_INT(wr(&rw, "/", "x", 0, &e), SBXD_INVALID_ARGUMENT);
	REQUIRE(sh(rw_id, "mkfifo /tmp/wfifo", NULL, 0));
	CHECK_INT(wr(&rw, "/tmp/wfifo", "x", 0, &e), SBXD_FAILED_PRECONDITION);
	CHECK_INT(wr(&rw, "/tmp/hundred/under-a-file", "x", 0, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "not a directory");
	err_clear(&e);
	CHECK_INT(ctrfs_write_file(&rw, "/tmp/big", "0123456789", 10, 0, 9,
	    &e), SBXD_RESOURCE_EXHAUSTED);
	REQUIRE_INT(ctrfs_write_file(&rw, "/tmp/big", "01234", 5, 0, 9, &e),
	    SBXD_OK);
	CHECK_INT(ctrfs_write_file(&rw, "/tmp/big", "01234", 5, 1, 9, &e),
	    SBXD_RESOURCE_EXHAUSTED);
}

/* Collects a listing. */
struct seen {
	int n;
	char names[64][256];
	int dirs[64];
	char rel[64][FSOPS_PATH_MAX + 1];
};

static int
seen_cb(void *arg, const struct fsops_entry *ent)
{
	struct seen *s = arg;

	if (s->n < 64) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", ent->name);
		snprintf(s->rel[s->n], sizeof(s->rel[0]), "%s", ent->rel);
		s->dirs[s->n] = ent->is_dir;
	}
	s->n++;
	return 0;
}

struct order {
	int n, files_seen, bad_order;
	char last_dir[256], last_file[256];
	int passwd, apt, osrel;
};

static int
order_cb(void *arg, const struct fsops_entry *ent)
{
	struct order *o = arg;
	char *last = ent->is_dir ? o->last_dir : o->last_file;

	o->n++;
	if (ent->is_dir && o->files_seen)
		o->bad_order++;
	if (!ent->is_dir)
		o->files_seen = 1;
	if (strcmp(last, ent->name) >= 0)
		o->bad_order++;
	snprintf(last, 256, "%s", ent->name);
	if (strcmp(ent->name, "passwd") == 0 && !ent->is_dir &&
	    S_ISREG(ent->mode) && ent->size > 0 &&
	    strcmp(ent->rel, "/etc/passwd") == 0 && ent->mtime_ms > 0)
		o->passwd = 1;
	if (strcmp(ent->name, "apt") == 0 && ent->is_dir &&
	    S_ISDIR(ent->mode))
		o->apt = 1;
	if (strcmp(ent->name, "os-release") == 0 && ent->is_symlink &&
	    S_ISLNK(ent->mode))
		o->osrel = 1;
	return 0;
}

TEST(list)
{
	struct order o = { 0 };
	struct seen s = { 0 };
	struct err e;
	int trunc = -1;

	REQUIRE_INT(ctrfs_list(&rw, "/etc", 10000, order_cb, &o, &trunc, &e),
	    SBXD_OK);
	CHECK(o.n > 20);
	CHECK_INT(o.bad_order, 0);
	CHECK_INT(trunc, 0);
	CHECK(o.passwd && o.apt && o.osrel);

	REQUIRE_INT(ctrfs_list(&rw, "/etc", 3, seen_cb, &s, &trunc, &e),
	    SBXD_OK);
	CHECK_INT(s.n, 3);
	CHECK_INT(trunc, 1);
	CHECK(s.dirs[0] && s.dirs[1] && s.dirs[2]);

	memset(&s, 0, sizeof(s));
	REQUIRE_INT(ctrfs_list(&rw, "/etc/hostname", 100, seen_cb, &s, &trunc,
	    &e), SBXD_OK);
	REQUIRE_INT(s.n, 1);
	CHECK_STR(s.names[0], "hostname");
	CHECK_STR(s.rel[0], "/etc/hostname");
	CHECK_INT(trunc, 0);

	memset(&s, 0, sizeof(s));
	CHECK_INT(ctrfs_list(&rw, "/no/such", 100, seen_cb, &s, &trunc, &e),
	    SBXD_NOT_FOUND);
	CHECK_INT(s.n, 0);
	CHECK_INT(ctrfs_list(&rw, "/root", 100, seen_cb, &s, &trunc, &e),
	    SBXD_PERMISSION_DENIED);

	memset(&s, 0, sizeof(s));
	REQUIRE(sh(rw_id, "mkdir -p /tmp/ls/zdir /tmp/ls/adir && "
	    "touch /tmp/ls/b /tmp/ls/A && ln -s zdir /tmp/ls/link", NULL, 0));
	REQUIRE_INT(ctrfs_list(&rw, "/tmp/ls", 100, seen_cb, &s, &trunc, &e),
	    SBXD_OK);
	REQUIRE_INT(s.n, 5);
	CHECK_STR(s.names[0], "adir");
	CHECK_STR(s.names[1], "zdir");
	CHECK_STR(s.names[2], "A");
	CHECK_STR(s.names[3], "b");
	CHECK_STR(s.names[4], "link");
	CHECK_STR(s.rel[0], "/tmp/ls/adir");
	/* a symlink to a directory given as the path is followed */
	memset(&s, 0, sizeof(s));
	REQUIRE(sh(rw_id, "touch /tmp/ls/zdir/inner", NULL, 0));
	REQUIRE_INT(ctrfs_list(&rw, "/tmp/ls/link", 100, seen_cb, &s, &trunc,
	    &e), SBXD_OK);
	REQUIRE_INT(s.n, 1);
	CHECK_STR(s.names[0], "inner");
}

TEST(stat_paths)
{
	struct fsops_entry ent;
	struct err e;
	int ex = -1;

	REQUIRE_INT(ctrfs_stat(&rw, "/etc/passwd", &ent, &ex, &e), SBXD_OK);
	CHECK_INT(ex, 1);
	CHECK_STR(ent.name, "passwd");
	CHECK_STR(ent.rel, "/etc/passwd");
	CHECK(S_ISREG(ent.mode) && !ent.is_dir && !ent.is_symlink);
	CHECK(ent.size > 0);
	REQUIRE_INT(ctrfs_stat(&rw, "/etc", &ent, &ex, &e), SBXD_OK);
	CHECK(ex == 1 && ent.is_dir && S_ISDIR(ent.mode));
	REQUIRE_INT(ctrfs_stat(&rw, "/etc/os-release", &ent, &ex, &e),
	    SBXD_OK);
	CHECK(ex == 1 && ent.is_symlink && !ent.is_dir);
	REQUIRE_INT(ctrfs_stat(&rw, "/no/such", &ent, &ex, &e), SBXD_OK);
	CHECK_INT(ex, 0);
	/* outside what the engine sees: asked inside the container */
	REQUIRE_INT(ctrfs_stat(&rw, "/dev/null", &ent, &ex, &e), SBXD_OK);
	CHECK(ex == 1 && S_ISCHR(ent.mode));
	REQUIRE_INT(ctrfs_stat(&rw, "/", &ent, &ex, &e), SBXD_OK);
	CHECK(ex == 1 && ent.is_dir);
}

/* Literal file names; an injection would create ~/pwned (the helpers run
 * in "/", where the sandbox user cannot create files). */
static const char *const weird[] = {
	"with space",
	"quo'te\"d",
	"new\nline",
	"trailing newline\n",
	"$(cd;touch pwned)",
	"`cd;touch pwned`",
	"; cd; touch pwned; rm -rf ~ ;",
	"| cd && touch pwned &",
	"-rf",
	"--help",
	"*",
	"tab\there",
	"\xc3\xa9t\xc3\xa9",
	"!",
	"(",
};

TEST(hostile_names)
{
	char dir[512], file[600], moved[600], other[600], o[OUT_MAX];
	struct seen s;
	struct buf b;
	struct err e;
	int trunc;
	size_t i;

	REQUIRE_INT(ctrfs_mkdir(&rw, "/tmp/weird", 0, &e), SBXD_OK);
	REQUIRE(sh(rw_id, "touch ~/canary", NULL, 0));
	for (i = 0; i < sizeof(weird) / sizeof(weird[0]); i++) {
		snprintf(dir, sizeof(dir), "/tmp/weird/%s", weird[i]);
		snprintf(file, sizeof(file), "%s/%s", dir, weird[i]);
		snprintf(moved, sizeof(moved), "%s.moved", dir);
		snprintf(other, sizeof(other), "/tmp/weird/other %zu", i);
		err_clear(&e);
		CHECK_INT(ctrfs_mkdir(&rw, dir, 0, &e), SBXD_OK);
		CHECK_INT(ctrfs_mkdir(&rw, dir, 0, &e), SBXD_ALREADY_EXISTS);
		CHECK_INT(ctrfs_mkdir(&rw, dir, 1, &e), SBXD_OK);
		CHECK(exists_in(rw_id, dir));
		CHECK_INT(wr(&rw, file, weird[i], 0, &e), SBXD_OK);
		if (rd(&rw, file, CEIL, &b, &e) == SBXD_OK)
			CHECK_STR(b.data, weird[i]);
		else
			T_FAIL_("reading '%s': %s", file, e.msg);
		buf_fini(&b);
		memset(&s, 0, sizeof(s));
		CHECK_INT(ctrfs_list(&rw, dir, 100, seen_cb, &s, &trunc, &e),
		    SBXD_OK);
		CHECK_INT(s.n, 1);
		CHECK_STR(s.names[0], weird[i]);
		CHECK_INT(ctrfs_remove(&rw, dir, 0, &e),
		    SBXD_FAILED_PRECONDITION);
		CHECK_INT(ctrfs_move(&rw, dir, moved, 0, &e), SBXD_OK);
		CHECK(!exists_in(rw_id, dir) && exists_in(rw_id, moved));
		/* no overwrite onto an existing name */
		CHECK_INT(wr(&rw, other, "x", 0, &e), SBXD_OK);
		CHECK_INT(ctrfs_move(&rw, other, moved, 0, &e),
		    SBXD_ALREADY_EXISTS);
		CHECK(exists_in(rw_id, other));
		CHECK_INT(ctrfs_remove(&rw, moved, 1, &e), SBXD_OK);
		CHECK(!exists_in(rw_id, moved));
		CHECK_INT(ctrfs_move(&rw, other, moved, 1, &e), SBXD_OK);
		CHECK_INT(ctrfs_remove(&rw, moved, 0, &e), SBXD_OK);
		CHECK_INT(ctrfs_remove(&rw, moved, 0, &e), SBXD_NOT_FOUND);
	}
	CHECK(sh(rw_id, "ls -A /tmp/weird | wc -l", o, sizeof(o)));
	CHECK_STR(o, "0\n");

	/* with '/' they are paths: still literal */
	REQUIRE_INT(ctrfs_mkdir(&rw, "/tmp/weird/$(touch /tmp/pwned)", 1, &e),
	    SBXD_OK);
	CHECK(exists_in(rw_id, "/tmp/weird/$(touch /tmp/pwned)"));
	CHECK_INT(wr(&rw, "/tmp/weird/; rm -rf / ;/`touch /tmp/pwned`", "z", 0,
	    &e), SBXD_OK);
	CHECK(exists_in(rw_id, "/tmp/weird/; rm -rf / ;/`touch /tmp/pwned`"));
	CHECK_INT(ctrfs_move(&rw, "/tmp/weird/; rm -rf / ;",
	    "/tmp/weird/$(touch /tmp/pwned)/x", 0, &e), SBXD_OK);
	CHECK(exists_in(rw_id, "/tmp/weird/$(touch /tmp/pwned)/x/"
	    "`touch /tmp/pwned`"));
	CHECK_INT(ctrfs_remove(&rw, "/tmp/weird/$(touch ", 1, &e), SBXD_OK);
	CHECK_INT(ctrfs_remove(&rw, "/tmp/weird/; rm -rf ", 0, &e), SBXD_OK);
	CHECK(sh(rw_id, "ls -A /tmp/weird | wc -l", o, sizeof(o)));
	CHECK_STR(o, "0\n");

	CHECK(!exists_in(rw_id, "/tmp/pwned"));
	CHECK(!exists_in(rw_id, "/home/sandbox/pwned"));
	CHECK(exists_in(rw_id, "/home/sandbox/canary"));
	CHECK(exists_in(rw_id, "/etc/passwd"));
}

TEST(mkdir_remove_move_errors)
{
	struct err e;

	CHECK_INT(ctrfs_mkdir(&rw, "/etc/nope", 0, &e), SBXD_PERMISSION_DENIED);
	CHECK_INT(ctrfs_mkdir(&rw, "/tmp/m1/m2/m3", 0, &e), SBXD_NOT_FOUND);
	CHECK_INT(ctrfs_mkdir(&rw, "/tmp/m1/m2/m3", 1, &e), SBXD_OK);
	CHECK(exists_in(rw_id, "/tmp/m1/m2/m3"));
	CHECK_INT(ctrfs_mkdir(&rw, "/tmp/hundred", 1, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK_INT(ctrfs_remove(&rw, "/etc/passwd", 0, &e),
	    SBXD_PERMISSION_DENIED);
	CHECK_INT(ctrfs_remove(&rw, "/etc", 1, &e), SBXD_PERMISSION_DENIED);
	CHECK(exists_in(rw_id, "/etc/passwd"));
	CHECK_INT(ctrfs_remove(&rw, "/", 1, &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(ctrfs_remove(&rw, "/tmp/m1", 0, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK_INT(ctrfs_remove(&rw, "/tmp/m1", 1, &e), SBXD_OK);
	CHECK(!exists_in(rw_id, "/tmp/m1"));
	CHECK_INT(ctrfs_move(&rw, "/tmp/no-such", "/tmp/mvx/y", 0, &e),
	    SBXD_NOT_FOUND);
	CHECK(!exists_in(rw_id, "/tmp/mvx"));
	CHECK_INT(ctrfs_move(&rw, "/etc/passwd", "/tmp/passwd", 0, &e),
	    SBXD_PERMISSION_DENIED);
	CHECK(exists_in(rw_id, "/etc/passwd"));
	/* to's parents are created */
	REQUIRE_INT(wr(&rw, "/tmp/mv-src", "m", 0, &e), SBXD_OK);
	CHECK_INT(ctrfs_move(&rw, "/tmp/mv-src", "/tmp/mv/deep/dst", 0, &e),
	    SBXD_OK);
	CHECK(exists_in(rw_id, "/tmp/mv/deep/dst"));
	/* a directory at to is a name, not a folder to move into */
	REQUIRE_INT(wr(&rw, "/tmp/mv-src", "m", 0, &e), SBXD_OK);
	CHECK_INT(ctrfs_move(&rw, "/tmp/mv-src", "/tmp/mv", 0, &e),
	    SBXD_ALREADY_EXISTS);
	CHECK(!exists_in(rw_id, "/tmp/mv/mv-src"));
	CHECK_INT(ctrfs_move(&rw, "/tmp/mv-src", "/tmp/hundred/x", 0, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "not a directory");
}

TEST(readonly_rootfs_and_tmpfs)
{
	char o[OUT_MAX];
	struct fsops_entry ent;
	struct seen s = { 0 };
	struct buf b;
	struct err e;
	int ex = -1, trunc;

	CHECK_INT(wr(&ro, "/etc/x", "x", 0, &e), SBXD_PERMISSION_DENIED);
	CHECK_CONTAINS(e.msg, "read-only filesystem or not writable");
	CHECK_INT(wr(&ro, "/home/sandbox/x", "x", 0, &e),
	    SBXD_PERMISSION_DENIED);
	CHECK_INT(wr(&ro, "/home/sandbox/new/x", "x", 0, &e),
	    SBXD_PERMISSION_DENIED);
	/* a tmpfs in the container: the archive API would write beside it,
	 * so the sandbox user's own cat writes it, fed on stdin */
	REQUIRE_INT(wr(&ro, "/tmp/x", "x", 0, &e), SBXD_OK);
	REQUIRE_INT(wr(&ro, "/tmp/x", "yz", 1, &e), SBXD_OK);
	REQUIRE_INT(wr(&ro, "/tmp/p/q/new.txt", "", 0, &e), SBXD_OK);
	CHECK(sh(ro_id, "cat /tmp/x; echo; stat -c '%s %u %a' /tmp/x /tmp/p/q/new.txt",
	    o, sizeof(o)));
	CHECK_STR(o, "xyz\n3 1000 644\n0 1000 644\n");
	err_clear(&e);
	CHECK_INT(ctrfs_write_file(&ro, "/tmp/x", "12345678", 8, 1, 10, &e),
	    SBXD_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(e.msg, "file size limit of 10 bytes");
	/* a symlink there is replaced, never written through */
	REQUIRE(sh(ro_id, "ln -s /etc/passwd /tmp/pw", NULL, 0));
	CHECK_INT(wr(&ro, "/tmp/pw", "x", 1, &e), SBXD_FAILED_PRECONDITION);
	REQUIRE_INT(wr(&ro, "/tmp/pw", "mine", 0, &e), SBXD_OK);
	CHECK(sh(ro_id, "cat /tmp/pw; [ -L /tmp/pw ] || echo ' plain'; grep -c ^root: "
	    "/etc/passwd", o, sizeof(o)));
	CHECK_STR(o, "mine plain\n1\n");
	REQUIRE(sh(ro_id, "rm -rf /tmp/x /tmp/p /tmp/pw", NULL, 0));
	/* ... but what is in it reads, stats and lists */
	REQUIRE(sh(ro_id, "printf 'in tmpfs' > /tmp/y && ln -s /tmp/y "
	    "/tmp/ylink && mkfifo /tmp/f", NULL, 0));
	REQUIRE_INT(rd(&ro, "/tmp/y", CEIL, &b, &e), SBXD_OK);
	CHECK_STR(b.data, "in tmpfs");
	buf_fini(&b);
	REQUIRE_INT(rd(&ro, "/tmp/ylink", CEIL, &b, &e), SBXD_OK);
	CHECK_STR(b.data, "in tmpfs");
	buf_fini(&b);
	CHECK_INT(rd(&ro, "/tmp/y", 3, &b, &e), SBXD_RESOURCE_EXHAUSTED);
	buf_fini(&b);
	CHECK_INT(rd(&ro, "/tmp/f", CEIL, &b, &e), SBXD_FAILED_PRECONDITION);
	buf_fini(&b);
	CHECK_INT(rd(&ro, "/tmp/none", CEIL, &b, &e), SBXD_NOT_FOUND);
	buf_fini(&b);
	REQUIRE_INT(ctrfs_stat(&ro, "/tmp/y", &ent, &ex, &e), SBXD_OK);
	CHECK(ex == 1 && S_ISREG(ent.mode) && ent.size == 8);
	REQUIRE_INT(ctrfs_list(&ro, "/tmp", 100, seen_cb, &s, &trunc, &e),
	    SBXD_OK);
	CHECK_INT(s.n, 3);
	REQUIRE_INT(rd(&ro, "/etc/hostname", CEIL, &b, &e), SBXD_OK);
	CHECK(sh(ro_id, "cat /etc/hostname", o, sizeof(o)));
	CHECK_STR(b.data, o);
	buf_fini(&b);
	CHECK_INT(ctrfs_mkdir(&ro, "/etc/d", 0, &e), SBXD_PERMISSION_DENIED);
	CHECK_INT(ctrfs_mkdir(&ro, "/tmp/d", 0, &e), SBXD_OK);
}

TEST(stopped_container)
{
	struct err e;
	struct buf b;

	REQUIRE_INT(d->ops->stop(d, ro_id, 1, &e), SBXD_OK);
	CHECK_INT(rd(&ro, "/etc/hostname", CEIL, &b, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK_CONTAINS(e.msg, "not running");
	buf_fini(&b);
}

/* Creates and starts one hardened test container. */
static int
start(const char *name, int readonly, char id[DRIVER_ID_MAX])
{
	const struct driver_label l[] = { { "sbx.test", "1" },
	    { SUITE_LABEL, "1" } };
	struct driver_container_spec s;
	struct err e;

	fx_hardened_spec(&s, name, l, 2, readonly);
	if (d->ops->create(d, &s, id, &e) != SBXD_OK ||
	    d->ops->start(d, id, &e) != SBXD_OK) {
		fprintf(stderr, "FAIL: container %s: %s\n", name, e.msg);
		return -1;
	}
	return 0;
}

/* Grep results, as the handler would keep them. */
struct greps {
	int n;
	char path[64][FSOPS_PATH_MAX + 1];
	uint64_t line[64], count[64];
	char text[64][128];
};

static int
greps_cb(void *arg, const char *path, uint64_t line, const char *text, size_t len,
    uint64_t count)
{
	struct greps *g = arg;

	if (g->n < 64) {
		snprintf(g->path[g->n], sizeof(g->path[0]), "%s", path);
		g->line[g->n] = line;
		g->count[g->n] = count;
		snprintf(g->text[g->n], sizeof(g->text[0]), "%.*s", (int)(len < 127 ? len : 127),
		    text ? text : "");
		g->n++;
	}
	return 0;
}

TEST(glob_and_grep_outside_workspace)
{
	struct fsops_grep_opts o = { .max_results = 64 };
	struct greps g = { 0 };
	struct seen s = { 0 };
	struct err e;
	char out[OUT_MAX];
	int trunc = -1;

	REQUIRE(sh(rw_id, "mkdir -p /tmp/gs/sub/deep /tmp/gs/.hid /tmp/gs/node_modules && "
	    "printf 'alpha\\nbeta\\nalphabet\\n' > /tmp/gs/a.py && "
	    "printf 'x\\nALPHA\\n' > /tmp/gs/sub/b.py && printf 'alpha\\n' > /tmp/gs/sub/deep/c.txt && "
	    "printf 'alpha\\n' > /tmp/gs/.hid/d.py && printf 'alpha\\n' > /tmp/gs/node_modules/e.py && "
	    "printf 'alpha\\0bin\\n' > /tmp/gs/bin.py && touch /tmp/gs/'$(touch pwned)'.py", NULL, 0));

	/* Glob: ** across directories, hidden and skipped directories pruned, sorted */
	REQUIRE_INT(ctrfs_glob(&rw, "/tmp/gs", "**/*.py", 100, 0, seen_cb, &s, &trunc, &e), SBXD_OK);
	REQUIRE_INT(s.n, 4);
	CHECK_STR(s.rel[0], "/tmp/gs/$(touch pwned).py");
	CHECK_STR(s.rel[1], "/tmp/gs/a.py");
	CHECK_STR(s.rel[2], "/tmp/gs/bin.py");
	CHECK_STR(s.rel[3], "/tmp/gs/sub/b.py");
	CHECK_STR(s.names[3], "b.py");
	CHECK_INT(trunc, 0);
	memset(&s, 0, sizeof(s));
	REQUIRE_INT(ctrfs_glob(&rw, "/tmp/gs", "*.py", 2, 0, seen_cb, &s, &trunc, &e), SBXD_OK);
	CHECK_INT(s.n, 2);
	CHECK_INT(trunc, 1);
	memset(&s, 0, sizeof(s));
	REQUIRE_INT(ctrfs_glob(&rw, "/etc", "os-rel*", 100, 0, seen_cb, &s, &trunc, &e), SBXD_OK);
	CHECK_INT(s.n, 0);   /* /etc/os-release is a symlink: only regular files match */
	REQUIRE_INT(ctrfs_glob(&rw, "/usr/lib", "os-rel*", 100, 0, seen_cb, &s, &trunc, &e), SBXD_OK);
	REQUIRE_INT(s.n, 1);
	CHECK_STR(s.rel[0], "/usr/lib/os-release");
	CHECK_INT(ctrfs_glob(&rw, "/no/such", "*", 10, 0, seen_cb, &s, &trunc, &e), SBXD_NOT_FOUND);
	CHECK_INT(ctrfs_glob(&rw, "/etc/hostname", "*", 10, 0, seen_cb, &s, &trunc, &e),
	    SBXD_FAILED_PRECONDITION);
	CHECK_INT(ctrfs_glob(&rw, "/tmp", "../*", 10, 0, seen_cb, &s, &trunc, &e),
	    SBXD_INVALID_ARGUMENT);

	/* Grep content: PCRE2, line numbers, binary skipped, hidden pruned */
	o.pattern = "^alpha";
	REQUIRE_INT(ctrfs_grep(&rw, "/tmp/gs", &o, greps_cb, &g, &trunc, &e), SBXD_OK);
	REQUIRE_INT(g.n, 3);
	CHECK_STR(g.path[0], "/tmp/gs/a.py");
	CHECK_INT(g.line[0], 1);
	CHECK_STR(g.text[0], "alpha");
	CHECK_INT(g.line[1], 3);
	CHECK_STR(g.text[1], "alphabet");
	CHECK_STR(g.path[2], "/tmp/gs/sub/deep/c.txt");
	/* case-insensitive, glob filter on the name */
	memset(&g, 0, sizeof(g));
	o.case_insensitive = 1;
	o.glob = "b.py";
	REQUIRE_INT(ctrfs_grep(&rw, "/tmp/gs", &o, greps_cb, &g, &trunc, &e), SBXD_OK);
	REQUIRE_INT(g.n, 1);
	CHECK_STR(g.path[0], "/tmp/gs/sub/b.py");
	CHECK_INT(g.line[0], 2);
	/* count and files modes, hidden included on request */
	memset(&g, 0, sizeof(g));
	o.case_insensitive = 0;
	o.glob = NULL;
	o.include_hidden = 1;
	o.mode = FSOPS_GREP_COUNT;
	o.pattern = "alpha";
	REQUIRE_INT(ctrfs_grep(&rw, "/tmp/gs", &o, greps_cb, &g, &trunc, &e), SBXD_OK);
	REQUIRE_INT(g.n, 3);
	CHECK_STR(g.path[0], "/tmp/gs/.hid/d.py");
	CHECK_INT(g.count[1], 2);
	memset(&g, 0, sizeof(g));
	o.mode = FSOPS_GREP_FILES;
	o.include_hidden = 0;
	REQUIRE_INT(ctrfs_grep(&rw, "/tmp/gs/a.py", &o, greps_cb, &g, &trunc, &e), SBXD_OK);
	REQUIRE_INT(g.n, 1);
	CHECK_STR(g.path[0], "/tmp/gs/a.py");
	/* a hostile pattern is a pattern, never a command; a bad one is refused */
	memset(&g, 0, sizeof(g));
	o.mode = FSOPS_GREP_CONTENT;
	o.pattern = "$(touch /tmp/pwned)|`touch /tmp/pwned`";
	CHECK_INT(ctrfs_grep(&rw, "/tmp/gs", &o, greps_cb, &g, &trunc, &e), SBXD_OK);
	CHECK_INT(g.n, 0);
	o.pattern = "--help";
	CHECK_INT(ctrfs_grep(&rw, "/tmp/gs", &o, greps_cb, &g, &trunc, &e), SBXD_OK);
	o.pattern = "(unclosed";
	CHECK_INT(ctrfs_grep(&rw, "/tmp/gs", &o, greps_cb, &g, &trunc, &e), SBXD_INVALID_ARGUMENT);
	CHECK(strstr(e.msg, "Invalid regex pattern") != NULL);
	REQUIRE(sh(rw_id, "ls /tmp; ls ~; ls /tmp/gs", out, sizeof(out)));
	CHECK(strstr(out, "pwned\n") == NULL);
	/* as the sandbox user: /etc/shadow is never read */
	memset(&g, 0, sizeof(g));
	o.pattern = "^root:";
	REQUIRE_INT(ctrfs_grep(&rw, "/etc", &o, greps_cb, &g, &trunc, &e), SBXD_OK);
	CHECK(g.n >= 1);
	for (int i = 0; i < g.n; i++)
		CHECK(strcmp(g.path[i], "/etc/shadow") != 0);
}

int
main(void)
{
	char rw_name[64], ro_name[64];

	if ((d = fx_docker_open()) == NULL)
		return 1;
	fx_docker_cleanup(d, SUITE_LABEL);
	snprintf(rw_name, sizeof(rw_name), "sbx-test-ctrfs-rw-%ld",
	    (long)getpid());
	snprintf(ro_name, sizeof(ro_name), "sbx-test-ctrfs-ro-%ld",
	    (long)getpid());
	if (start(rw_name, 0, rw_id) == -1 || start(ro_name, 1, ro_id) == -1) {
		fx_docker_cleanup(d, SUITE_LABEL);
		d->ops->free(d);
		return 1;
	}
	rw = (struct ctrfs){ .drv = d, .cid = rw_id, .user = "1000:1000",
	    .uid = 1000, .gid = 1000 };
	ro = rw;
	ro.cid = ro_id;
	RUN(abs_path);
	RUN(path_stat);
	RUN(archive_ops);
	RUN(read_files);
	RUN(read_ceiling_and_fifo);
	RUN(write_and_read_back);
	RUN(write_refused);
	RUN(list);
	RUN(stat_paths);
	RUN(hostile_names);
	RUN(mkdir_remove_move_errors);
	RUN(readonly_rootfs_and_tmpfs);
	RUN(glob_and_grep_outside_workspace);
	RUN(stopped_container);
	fx_docker_cleanup(d, SUITE_LABEL);
	d->ops->free(d);
	T_DONE();
}
