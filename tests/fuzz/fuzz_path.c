/*
 * fuzz_path.c — libFuzzer target for fsops_workspace_reln, the function
 * that maps a client's path onto the workspace. Whatever the input, an
 * accepted result must be relative, free of "." and ".." components and of
 * empty components, and within the length limits.
 */
#include <stdlib.h>
#include <string.h>

#include "fsops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[FSOPS_PATH_MAX + 1];
	struct err e;
	const char *p;

	if (fsops_workspace_reln((const char *)data, size, out, sizeof(out), &e) != SBXD_OK)
		return 0;
	if (out[0] == '/' || strlen(out) > FSOPS_PATH_MAX)
		abort();
	if (strcmp(out, ".") == 0)
		return 0;
	for (p = out; *p; ) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') || n > 255)
			abort();
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}
