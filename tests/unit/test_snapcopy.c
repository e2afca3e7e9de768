/*
 * test_snapcopy.c — snapcopy on real directories: a copy equals its source
 * byte for byte (modes, symlinks as links, never followed out of the
 * tree); a second pass after changes (edits, deletions, a file turned into
 * a directory, a new file, an old file or directory moved in) makes the copy equal
 * again while keeping what did not change; clear and remove leave nothing
 * and do not follow links.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "snapcopy.h"
#include "t.h"

static char root[] = "/tmp/sbx-snapcopy-XXXXXX";
static char src[256], dst[256], outside[256];

static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* 0 when dst is src: contents, types, link targets, modes. */
static int
same(void)
{
	return sh("diff -r --no-dereference %s %s >&2 && "
	    "[ \"$(cd %s && find . -printf '%%y %%m %%p %%l\\n' | sort)\" = "
	    "\"$(cd %s && find . -printf '%%y %%m %%p %%l\\n' | sort)\" ]", src, dst, src, dst);
}

static int
open_dir(const char *p)
{
	return open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

TEST(copy_equals_source)
{
	struct snapcopy_stats st = { 0 };
	struct err e;
	int s, d;

	REQUIRE_INT(sh("mkdir -p %s/a/b %s %s && head -c 100000 /dev/urandom > %s/a/b/bin && "
	    "echo hi > %s/top.txt && chmod 751 %s/top.txt && ln -s ../top.txt %s/a/rel && "
	    "ln -s %s %s/escape && echo secret > %s/keep && mkfifo %s/fifo && "
	    "mkdir %s/p %s/q && echo A > %s/p/x && echo B > %s/q/x",
	    src, dst, outside, src, src, src, src, outside, src, outside, src,
	    src, src, src, src), 0);
	REQUIRE((s = open_dir(src)) >= 0 && (d = open_dir(dst)) >= 0);
	CHECK_INT(snapcopy_dir(s, d, &st, &e), SBXD_OK);
	CHECK_INT(st.skipped, 1);                       /* the FIFO */
	CHECK_INT(st.bytes, 100000 + 3 + 2 + 2);
	CHECK_INT(sh("rm %s/fifo", src), 0);
	CHECK_INT(same(), 0);
	/* the link to outside is a link, nothing of outside was copied */
	CHECK_INT(sh("[ -L %s/escape ] && [ ! -e %s/keep ]", dst, dst), 0);
	close(s);
	close(d);
}

TEST(sync_catches_up)
{
	struct snapcopy_stats st = { 0 };
	struct timespec since;
	struct err e;
	int s, d;

	/* the clock filesystems stamp ctimes with: what changes from here on
	 * is at or after since, what the first test made (a few processes
	 * ago) before it */
	clock_gettime(CLOCK_REALTIME_COARSE, &since);
	REQUIRE_INT(sh("cd %s && echo changed >> top.txt && rm -r a/b && mkdir a/b && "
	    "echo new > a/b/new && mkdir -p z && echo z > z/z && rm a/rel && echo f > a/rel && "
	    "mv %s/keep moved && ln -s /etc/passwd a/etc && rm -r q && mv p q", src, outside), 0);
	REQUIRE((s = open_dir(src)) >= 0 && (d = open_dir(dst)) >= 0);
	CHECK_INT(snapcopy_sync(s, d, &since, &st, &e), SBXD_OK);
	CHECK_INT(same(), 0);
	CHECK(st.kept >= 1);                            /* escape: unchanged */
	CHECK_INT(st.bytes, 3 + 8 + 4 + 2 + 2 + 7 + 2);
	CHECK_INT(sh("grep -q A %s/q/x", dst), 0);    /* a renamed directory's old entries */
	CHECK_INT(sh("[ -L %s/a/etc ]", dst), 0);
	close(s);
	close(d);
}

TEST(clear_and_remove)
{
	struct err e;
	int d;

	REQUIRE((d = open_dir(dst)) >= 0);
	CHECK_INT(snapcopy_clear(d, &e), SBXD_OK);
	close(d);
	CHECK_INT(sh("[ -z \"$(ls -A %s)\" ]", dst), 0);
	CHECK_INT(sh("[ -e /etc/passwd ]"), 0);          /* links not followed */
	CHECK_INT(snapcopy_remove(src, &e), SBXD_OK);
	CHECK_INT(access(src, F_OK), -1);
	CHECK_INT(snapcopy_remove(src, &e), SBXD_OK);    /* missing is fine */
}

int
main(void)
{
	if (mkdtemp(root) == NULL)
		return 1;
	snprintf(src, sizeof(src), "%s/src", root);
	snprintf(dst, sizeof(dst), "%s/dst", root);
	snprintf(outside, sizeof(outside), "%s/outside", root);
	RUN(copy_equals_source);
	RUN(sync_catches_up);
	RUN(clear_and_remove);
	sh("rm -rf %s", root);
	T_DONE();
}
