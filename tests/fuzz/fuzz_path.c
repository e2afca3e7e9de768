/*
 * fuzz_path.c — libFuzzer target for fsops_route_abs and
 * fsops_route_resolve, which decide where a client's path leads, against a
 * small workspace planted at start with the links a hostile sandbox would
 * make (absolute and relative, in and out, a loop). Whatever the input, an
 * accepted workspace result must be relative, free of "", "." and ".."
 * components and within the length limits, and a container result must be
 * absolute.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fsops_root root = { .fd = -1 };

static void
plant(void)
{
	char dir[] = "/tmp/fuzz_path.XXXXXX";
	struct err e;

	if (mkdtemp(dir) == NULL || chdir(dir) != 0 || mkdir("d", 0755) != 0 ||
	    symlink("/workspace/d", "abs_in") != 0 || symlink("/etc", "abs_out") != 0 ||
	    symlink("../..", "d/up") != 0 || symlink("d", "rel") != 0 ||
	    symlink("/workspace/loop", "loop") != 0 ||
	    fsops_root_open(dir, (uid_t)-1, (gid_t)-1, &root, &e) != SBXD_OK)
		abort();
}

static void
check_rel(const char *out)
{
	if (out[0] == '/' || strlen(out) > FSOPS_PATH_MAX)
		abort();
	if (strcmp(out, ".") == 0)
		return;
	for (const char *p = out; *p; ) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') || n > 255)
			abort();
		p += n;
		if (*p == '/')
			p++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char abs[FSOPS_PATH_MAX + 16], out[FSOPS_PATH_MAX + 1];
	struct err e;
	int starts, ws;

	if (root.fd < 0)
		plant();
	if (fsops_route_abs((const char *)data, size, abs, sizeof(abs), &starts, &e) != SBXD_OK)
		return 0;
	if (abs[0] != '/' || !starts)
		return abs[0] == '/' ? 0 : (abort(), 0);
	for (int follow = 0; follow < 2; follow++) {
		if (fsops_route_resolve(&root, abs, follow, out, sizeof(out), &ws, &e) != SBXD_OK)
			continue;
		if (ws)
			check_rel(out);
		else if (out[0] != '/')
			abort();
	}
	return 0;
}
