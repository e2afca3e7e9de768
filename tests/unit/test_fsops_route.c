/*
 * test_fsops_route.c — fsops_route_abs and fsops_route_resolve: a client
 * path means what it means inside the container (".." climbs out of
 * /workspace, an absolute symlink target is a container path), decided
 * against a real workspace tree on the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "fsops.h"
#include "fsops_fixture.h"

/* Routes p; returns the code, with *ws and out set on success. */
static int
route(const char *p, int follow, char *out, size_t outsz, int *ws)
{
	char abs[FSOPS_PATH_MAX + 16];
	int starts = 0;
	struct err e = { 0 };
	int rv;

	*ws = -1;
	out[0] = '\0';
	if ((rv = fsops_route_abs(p, strlen(p), abs, sizeof(abs), &starts, &e)) != SBXD_OK)
		return rv;
	if (!starts) {
		*ws = 0;
		if (strlen(abs) + 1 > outsz)
			return SBXD_INVALID_ARGUMENT;
		memcpy(out, abs, strlen(abs) + 1);
		return SBXD_OK;
	}
	return fsops_route_resolve(&fx_root, abs, follow, out, outsz, ws, &e);
}

#define ROUTES(p, follow, want_ws, want) do { char o_[FSOPS_PATH_MAX + 1]; int w_; \
	CHECK_INT(route(p, follow, o_, sizeof(o_), &w_), SBXD_OK); \
	CHECK_INT(w_, want_ws); CHECK_STR(o_, want); } while (0)

TEST(abs_forms)
{
	char abs[64];
	int s = -1;
	struct err e = { 0 };

	CHECK_INT(fsops_route_abs("", 0, abs, sizeof(abs), &s, &e), SBXD_OK);
	CHECK_STR(abs, "/workspace");
	CHECK_INT(s, 1);
	CHECK_INT(fsops_route_abs("./a//b/.", 8, abs, sizeof(abs), &s, &e), SBXD_OK);
	CHECK_STR(abs, "/workspace/a/b");
	CHECK_INT(fsops_route_abs("../x", 4, abs, sizeof(abs), &s, &e), SBXD_OK);
	CHECK_STR(abs, "/workspace/../x");
	CHECK_INT(s, 1);
	CHECK_INT(fsops_route_abs("/../../workspace", 16, abs, sizeof(abs), &s, &e), SBXD_OK);
	CHECK_STR(abs, "/workspace");
	CHECK_INT(fsops_route_abs("/", 1, abs, sizeof(abs), &s, &e), SBXD_OK);
	CHECK_STR(abs, "/");
	CHECK_INT(s, 0);
	CHECK_INT(fsops_route_abs("/workspacex/y", 13, abs, sizeof(abs), &s, &e), SBXD_OK);
	CHECK_INT(s, 0);
	CHECK_INT(fsops_route_abs("a\0b", 3, abs, sizeof(abs), &s, &e), SBXD_INVALID_ARGUMENT);
}

/* Every form of a path, against an empty workspace. */
TEST(route_table)
{
	static const struct { const char *in; int ws; const char *out; } t[] = {
		{ "", 1, "." },
		{ ".", 1, "." },
		{ "/workspace", 1, "." },
		{ "/workspace/", 1, "." },
		{ "/workspace/.", 1, "." },
		{ "/workspace/a/..", 1, "." },
		{ "a/b", 1, "a/b" },
		{ "a/", 1, "a" },
		{ "./a//b/.", 1, "a/b" },
		{ "/workspace/a/b", 1, "a/b" },
		{ "//workspace//a/", 1, "a" },
		{ "/../workspace/x", 1, "x" },
		{ "/workspace/../workspace/x", 1, "x" },
		{ "workspace/x", 1, "workspace/x" },
		{ "sp ace/\r\n\x01\xff", 1, "sp ace/\r\n\x01\xff" },
		{ "a/../../b", 0, "/b" },              /* climbs out, as the kernel does */
		{ "../etc/passwd", 0, "/etc/passwd" },
		{ "/workspace/../etc/passwd", 0, "/etc/passwd" },
		{ "/etc/passwd", 0, "/etc/passwd" },
		{ "/", 0, "/" },
		{ "/workspace/..", 0, "/" },
		{ "/workspacefoo/x", 0, "/workspacefoo/x" },
		{ "/tmp/workspace/x", 0, "/tmp/workspace/x" },
	};

	REQUIRE(fx_up("test_fsops_route") == 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ROUTES(t[i].in, 1, t[i].ws, t[i].out);
	fx_down();
}

TEST(route_nul_and_limits)
{
	static char big[FSOPS_PATH_MAX + 2];
	char abs[FSOPS_PATH_MAX + 16], name[300];
	int s;
	struct err e;

	CHECK_INT(fsops_route_abs("a\0b", 3, abs, sizeof(abs), &s, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "NUL");
	CHECK_INT(fsops_route_abs("/workspace/x\0", 13, abs, sizeof(abs), &s, &e),
	    SBXD_INVALID_ARGUMENT);
	CHECK_INT(fsops_route_abs("a/bc", 3, abs, sizeof(abs), &s, &e), SBXD_OK);
	CHECK_STR(abs, "/workspace/a/b");

	/* 4096 bytes ("a/" x 2048) route to 4095 and fit; one more byte does not */
	REQUIRE(fx_up("test_fsops_route") == 0);
	for (int i = 0; i < FSOPS_PATH_MAX; i++)
		big[i] = i % 2 ? '/' : 'a';
	big[FSOPS_PATH_MAX] = '\0';
	{
		char o[FSOPS_PATH_MAX + 1];
		int w;

		CHECK_INT(route(big, 1, o, sizeof(o), &w), SBXD_OK);
		CHECK_INT(strlen(o), FSOPS_PATH_MAX - 1);
	}
	fx_down();
	big[FSOPS_PATH_MAX] = 'a';
	big[FSOPS_PATH_MAX + 1] = '\0';
	CHECK_INT(fsops_route_abs(big, strlen(big), abs, sizeof(abs), &s, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "limit is 4096");
	CHECK_INT(fsops_route_abs("abcd", 4, abs, 8, &s, &e), SBXD_INVALID_ARGUMENT);

	memset(name, 'n', 255);
	name[255] = '\0';
	CHECK_INT(fsops_route_abs(name, 255, abs, sizeof(abs), &s, &e), SBXD_OK);
	name[255] = 'n';
	name[256] = '\0';
	CHECK_INT(fsops_route_abs(name, 256, abs, sizeof(abs), &s, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "256 bytes");
}

/* ".." climbs as the kernel does: out of /workspace, never clamped. */
TEST(dotdot_leaves_the_workspace)
{
	REQUIRE(fx_up("test_fsops_route") == 0);
	REQUIRE(mkdir(fx_W("sub"), 0755) == 0);
	ROUTES("../escape.py", 1, 0, "/escape.py");
	ROUTES("/workspace/../z.txt", 1, 0, "/z.txt");
	ROUTES("sub/../../etc/passwd", 1, 0, "/etc/passwd");
	ROUTES("sub/../a.txt", 1, 1, "a.txt");
	ROUTES("sub/..", 1, 1, ".");
	ROUTES("..", 1, 0, "/");
	ROUTES("/workspace/../workspace/b", 1, 1, "b");
	ROUTES("nope/../c", 0, 1, "c");      /* what mkdir -p makes of it */
	fx_down();
}

/* Symlinks are the container's: an absolute target is a container path. */
TEST(symlinks_as_the_container_sees_them)
{
	REQUIRE(fx_up("test_fsops_route") == 0);
	REQUIRE(fx_puts(fx_W("real.txt"), "hi") == 0);
	REQUIRE(mkdir(fx_W("dir"), 0755) == 0 && mkdir(fx_W("dir/deep"), 0755) == 0);
	REQUIRE(symlink("/workspace/real.txt", fx_W("abs_in")) == 0);
	REQUIRE(symlink("/workspace/dir", fx_W("abs_dir")) == 0);
	REQUIRE(symlink("/etc/hosts", fx_W("abs_out")) == 0);
	REQUIRE(symlink("/etc", fx_W("abs_out_dir")) == 0);
	REQUIRE(symlink("real.txt", fx_W("rel_in")) == 0);
	REQUIRE(symlink("../../tmp/x", fx_W("dir/rel_out")) == 0);
	REQUIRE(symlink("dir/deep", fx_W("deeplink")) == 0);
	REQUIRE(symlink("loop2", fx_W("loop1")) == 0 && symlink("/workspace/loop1", fx_W("loop2")) == 0);

	ROUTES("abs_in", 1, 1, "real.txt");
	ROUTES("abs_in", 0, 1, "abs_in");            /* remove/move act on the link */
	ROUTES("/workspace/abs_dir/deep", 0, 1, "dir/deep");
	ROUTES("abs_out", 1, 0, "/etc/hosts");
	ROUTES("abs_out", 0, 1, "abs_out");
	ROUTES("abs_out_dir/passwd", 0, 0, "/etc/passwd");
	ROUTES("rel_in", 1, 1, "rel_in");            /* stays inside: the fast path keeps it */
	ROUTES("dir/rel_out", 1, 0, "/tmp/x");
	ROUTES("deeplink/..", 1, 1, "dir");          /* ".." after a symlink is physical */
	ROUTES("deeplink/../../real.txt", 1, 1, "real.txt");
	ROUTES("abs_dir/../real.txt", 1, 1, "real.txt");
	ROUTES("abs_in/", 1, 1, "real.txt");
	{
		char o[FSOPS_PATH_MAX + 1];
		int w;

		CHECK_INT(route("loop1", 1, o, sizeof(o), &w), SBXD_FAILED_PRECONDITION);
		CHECK_INT(route("loop1/x", 0, o, sizeof(o), &w), SBXD_FAILED_PRECONDITION);
	}
	fx_down();
}

/* Missing parts end the walk: what follows is kept as given. */
TEST(missing_parts)
{
	REQUIRE(fx_up("test_fsops_route") == 0);
	REQUIRE(fx_puts(fx_W("file"), "x") == 0);
	REQUIRE(symlink("/workspace/none", fx_W("dangling")) == 0);
	ROUTES("new/dir/f.txt", 1, 1, "new/dir/f.txt");
	ROUTES("dangling", 1, 1, "none");            /* a write creates the target, as `>` does */
	ROUTES("dangling", 0, 1, "dangling");
	ROUTES("file/x/../y", 1, 1, "file/y");
	fx_down();
}

int
main(void)
{
	RUN(abs_forms);
	RUN(route_table);
	RUN(route_nul_and_limits);
	RUN(dotdot_leaves_the_workspace);
	RUN(symlinks_as_the_container_sees_them);
	RUN(missing_parts);
	T_DONE();
}
