/*
 * test_files.c — the file protocol end to end: a real sbxd, real
 * containers, real sockets. The behaviour table of shared/SEMANTICS.md
 * operation by operation (ls, read, read_bytes, write, edit, glob, grep,
 * exists/stat, mkdir, remove, move), paths outside /workspace served
 * through the container, chunked upload and download with checksums, and
 * escapes planted from inside the sandbox — checked afterwards against
 * canary files on the host.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

static struct sbxd_proc d;
static sbx_client *svc;
static sbx_session s;
static char canary_dir[160], canary[200];

#define CANARY_TEXT "host canary: must never change\n"

static const char *
run(const char *cmd, int *code)
{
	static char out[65536];

	(void)harness_exec_out(svc, s.session_id, cmd, 60000, out, sizeof(out), code);
	return out;
}

static void
write_str(const char *path, const char *text)
{
	CHECK_INT(sbx_write(svc, s.session_id, path, text, strlen(text), 0), SBX_OK);
}

TEST(ls_lists_dirs_first_then_names)
{
	sbx_file_info *v = NULL;
	size_t n = 0;
	int code, truncated = -1;

	run("mkdir -p lsdir/zdir lsdir/adir && touch lsdir/b.txt lsdir/A.txt lsdir/c.txt", &code);
	REQUIRE_INT(sbx_ls(svc, s.session_id, "lsdir", &v, &n, &truncated), SBX_OK);
	REQUIRE_INT(n, 5);
	CHECK_INT(truncated, 0);
	CHECK_STR(v[0].name, "adir");
	CHECK(v[0].is_dir);
	CHECK_STR(v[1].name, "zdir");
	CHECK_STR(v[2].name, "A.txt");
	CHECK_STR(v[3].name, "b.txt");
	CHECK_STR(v[3].path, "/workspace/lsdir/b.txt");
	sbx_file_info_list_free(v, n);
	REQUIRE_INT(sbx_ls(svc, s.session_id, "/workspace/lsdir/c.txt", &v, &n, NULL), SBX_OK);
	CHECK_INT(n, 1);   /* a file lists itself */
	sbx_file_info_list_free(v, n);
	CHECK_INT(sbx_ls(svc, s.session_id, "nope", &v, &n, NULL), SBX_NOT_FOUND);
}

TEST(read_counts_lines_like_splitlines)
{
	static const struct { const char *content, *want; } cases[] = {
		{ "x\n", "     1\tx" },
		{ "x", "     1\tx" },
		{ "x\n\n", "     1\tx\n     2\t" },
		{ "\n", "     1\t" },
		{ "a\n\nb", "     1\ta\n     2\t\n     3\tb" },
	};
	char *text = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_str("lines.txt", cases[i].content);
		REQUIRE_INT(sbx_read(svc, s.session_id, "lines.txt", 0, 0, &text), SBX_OK);
		CHECK_STR(text, cases[i].want);
		sbx_free(text);
		text = NULL;
	}
	write_str("lines.txt", "");
	CHECK_INT(sbx_read(svc, s.session_id, "lines.txt", 0, 0, &text), SBX_OK);
	sbx_free(text);
}

TEST(stat_and_exists)
{
	sbx_file_info fi;
	int exists = -1;

	write_str("st.txt", "12345");
	REQUIRE_INT(sbx_stat(svc, s.session_id, "st.txt", &exists, &fi), SBX_OK);
	CHECK(exists);
	CHECK_INT(fi.size, 5);
	CHECK(!fi.is_dir);
	sbx_file_info_fini(&fi);
	REQUIRE_INT(sbx_stat(svc, s.session_id, "missing.txt", &exists, &fi), SBX_OK);
	CHECK(!exists);
	sbx_file_info_fini(&fi);
}

TEST(edit_semantics)
{
	uint64_t n = 0;
	char *text = NULL;

	write_str("e.py", "a = 1\nb = 1\nc = 2\n");
	CHECK_INT(sbx_edit(svc, s.session_id, "e.py", "= 1", 3, "= 9", 3, 0, &n), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "String '= 1' found 2 times. Use replace_all=True to replace all, or provide more context.");
	CHECK_INT(sbx_edit(svc, s.session_id, "e.py", "zzz", 3, "y", 1, 0, &n), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "String 'zzz' not found in file");
	CHECK_INT(sbx_edit(svc, s.session_id, "none.py", "a", 1, "b", 1, 0, &n), SBX_NOT_FOUND);
	CHECK_CONTAINS(sbx_last_error(svc), "not found");
	REQUIRE_INT(sbx_edit(svc, s.session_id, "e.py", "c = 2", 5, "c = 3", 5, 0, &n), SBX_OK);
	CHECK_INT(n, 1);
	REQUIRE_INT(sbx_edit(svc, s.session_id, "e.py", "= 1", 3, "= 7", 3, 1, &n), SBX_OK);
	CHECK_INT(n, 2);
	REQUIRE_INT(sbx_read(svc, s.session_id, "e.py", 0, 0, &text), SBX_OK);
	CHECK_STR(text, "     1\ta = 7\n     2\tb = 7\n     3\tc = 3");
	sbx_free(text);
}

TEST(glob_semantics)
{
	sbx_file_info *v = NULL;
	size_t n = 0;
	int truncated = 0, code;

	run("mkdir -p g/src/pkg g/docs && touch g/a.py g/src/b.py g/src/pkg/c.py g/docs/d.md g/src/pkg/e.txt", &code);
	REQUIRE_INT(sbx_glob(svc, s.session_id, "**/*.py", "g", 0, 0, &v, &n, &truncated), SBX_OK);
	REQUIRE_INT(n, 3);
	CHECK_STR(v[0].path, "/workspace/g/a.py");
	CHECK_STR(v[1].path, "/workspace/g/src/b.py");
	CHECK_STR(v[2].path, "/workspace/g/src/pkg/c.py");
	CHECK(!truncated);
	sbx_file_info_list_free(v, n);
	REQUIRE_INT(sbx_glob(svc, s.session_id, "*.py", "g", 0, 0, &v, &n, &truncated), SBX_OK);
	CHECK_INT(n, 1);   /* '*' does not cross '/' */
	sbx_file_info_list_free(v, n);
	REQUIRE_INT(sbx_glob(svc, s.session_id, "**/*", "g", 2, 0, &v, &n, &truncated), SBX_OK);
	CHECK_INT(n, 2);
	CHECK(truncated);
	sbx_file_info_list_free(v, n);
	REQUIRE_INT(sbx_glob(svc, s.session_id, "{a,b}.py", "g", 0, 0, &v, &n, &truncated), SBX_OK);
	CHECK_INT(n, 0);   /* no brace expansion */
	sbx_file_info_list_free(v, n);
}

TEST(grep_semantics_and_no_injection)
{
	sbx_grep_opts o = { .pattern = "needle\\d+", .path = "gr" };
	sbx_grep_result r;
	int code;

	run("mkdir -p gr/sub gr/node_modules gr/.hidden && printf 'x\\nneedle1 here\\nneedle22\\n' > gr/a.txt"
	    " && printf 'needle3\\n' > gr/sub/b.py && printf 'needle4\\n' > gr/node_modules/m.js"
	    " && printf 'needle5\\n' > gr/.hidden/h.txt && printf 'needle6\\0binary' > gr/bin.dat", &code);
	REQUIRE_INT(sbx_grep(svc, s.session_id, &o, &r), SBX_OK);
	REQUIRE_INT(r.n_matches, 3);
	CHECK_STR(r.matches[0].path, "/workspace/gr/a.txt");
	CHECK_INT(r.matches[0].line_number, 2);
	CHECK_STR((char *)r.matches[0].line.data, "needle1 here");
	CHECK_STR(r.matches[2].path, "/workspace/gr/sub/b.py");
	sbx_grep_result_fini(&r);
	o.include_hidden = 1;
	o.mode = SBX_GREP_FILES;
	REQUIRE_INT(sbx_grep(svc, s.session_id, &o, &r), SBX_OK);
	CHECK_INT(r.n_files, 4);   /* hidden and node_modules too; binary still skipped */
	sbx_grep_result_fini(&r);
	o.include_hidden = 0;
	o.mode = SBX_GREP_COUNT;
	o.glob = "*.txt";
	REQUIRE_INT(sbx_grep(svc, s.session_id, &o, &r), SBX_OK);
	REQUIRE_INT(r.n_counts, 1);
	CHECK_INT(r.counts[0].count, 2);
	sbx_grep_result_fini(&r);
	o = (sbx_grep_opts){ .pattern = "NEEDLE3", .path = "gr", .case_insensitive = 1 };
	REQUIRE_INT(sbx_grep(svc, s.session_id, &o, &r), SBX_OK);
	CHECK_INT(r.n_matches, 1);
	sbx_grep_result_fini(&r);
	o.pattern = "(unclosed";
	CHECK_INT(sbx_grep(svc, s.session_id, &o, &r), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "Invalid regex pattern");
	/* The pattern is data, never a command line. */
	o.pattern = "'; touch /workspace/pwned; echo '";
	CHECK_INT(sbx_grep(svc, s.session_id, &o, &r), SBX_OK);
	sbx_grep_result_fini(&r);
	o.pattern = "$(touch /workspace/pwned2)";
	sbx_grep(svc, s.session_id, &o, &r);
	sbx_grep_result_fini(&r);
	CHECK_STR(run("find /workspace -maxdepth 1 | grep -c pwned", &code), "0\n");
}

TEST(mkdir_remove_move)
{
	int exists = 0, code;
	sbx_file_info fi;

	CHECK_INT(sbx_mkdir(svc, s.session_id, "m/a/b", 0), SBX_NOT_FOUND);
	REQUIRE_INT(sbx_mkdir(svc, s.session_id, "m/a/b", 1), SBX_OK);
	CHECK_INT(sbx_mkdir(svc, s.session_id, "m/a/b", 0), SBX_ALREADY_EXISTS);
	write_str("m/a/b/f.txt", "f");
	CHECK_INT(sbx_remove(svc, s.session_id, "m/a", 0), SBX_FAILED_PRECONDITION);
	REQUIRE_INT(sbx_move(svc, s.session_id, "m/a/b/f.txt", "m/moved/g.txt", 0), SBX_OK);
	write_str("m/other.txt", "o");
	CHECK_INT(sbx_move(svc, s.session_id, "m/other.txt", "m/moved/g.txt", 0), SBX_ALREADY_EXISTS);
	REQUIRE_INT(sbx_move(svc, s.session_id, "m/other.txt", "m/moved/g.txt", 1), SBX_OK);
	CHECK_STR(run("cat m/moved/g.txt; find m/moved -maxdepth 0 -printf '%U\\n'", &code), "o1000\n");
	REQUIRE_INT(sbx_remove(svc, s.session_id, "m", 1), SBX_OK);
	REQUIRE_INT(sbx_stat(svc, s.session_id, "m", &exists, &fi), SBX_OK);
	CHECK(!exists);
	sbx_file_info_fini(&fi);
	CHECK_INT(sbx_remove(svc, s.session_id, "/workspace", 1), SBX_INVALID_ARGUMENT);
}

TEST(outside_workspace_through_the_container)
{
	void *data = NULL;
	size_t len = 0;
	char *text = NULL;
	sbx_file_info *v = NULL;
	size_t n = 0;
	int code;

	REQUIRE_INT(sbx_read_bytes(svc, s.session_id, "/etc/os-release", 0, 0, &data, &len), SBX_OK);
	CHECK(len > 0 && strstr(data, "Debian") != NULL);
	sbx_free(data);
	REQUIRE_INT(sbx_write(svc, s.session_id, "/tmp/out/x.txt", "outside\n", 8, 0), SBX_OK);
	REQUIRE_INT(sbx_read(svc, s.session_id, "/tmp/out/x.txt", 0, 0, &text), SBX_OK);
	CHECK_STR(text, "     1\toutside");
	sbx_free(text);
	CHECK_STR(run("cat /tmp/out/x.txt; find /tmp/out/x.txt -printf '%U\\n'", &code), "outside\n1000\n");
	REQUIRE_INT(sbx_ls(svc, s.session_id, "/tmp/out", &v, &n, NULL), SBX_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(v[0].path, "/tmp/out/x.txt");
	sbx_file_info_list_free(v, n);
	{
		uint64_t occ = 0;

		REQUIRE_INT(sbx_edit(svc, s.session_id, "/tmp/out/x.txt", "out", 3, "in", 2, 0, &occ), SBX_OK);
		CHECK_INT(occ, 1);
		CHECK_STR(run("cat /tmp/out/x.txt", &code), "inside\n");
		CHECK_INT(sbx_edit(svc, s.session_id, "/tmp/out/none", "a", 1, "b", 1, 0, &occ), SBX_NOT_FOUND);
	}
	/* The sandbox user cannot write /etc/passwd; neither can it through sbx. */
	CHECK_INT(sbx_write(svc, s.session_id, "/etc/passwd", "evil\n", 5, 0), SBX_PERMISSION_DENIED);
	CHECK_STR(run("grep -c '^root:' /etc/passwd", &code), "1\n");
	/* Glob and Grep outside /workspace run in the container */
	{
		sbx_grep_opts o = { .pattern = "^in", .path = "/tmp/out" };
		sbx_grep_result r;
		int trunc = -1;

		REQUIRE_INT(sbx_glob(svc, s.session_id, "**/*.txt", "/tmp", 0, 0, &v, &n, &trunc), SBX_OK);
		CHECK_INT(n, 1);
		if (n == 1)
			CHECK_STR(v[0].path, "/tmp/out/x.txt");
		CHECK_INT(trunc, 0);
		sbx_file_info_list_free(v, n);
		REQUIRE_INT(sbx_grep(svc, s.session_id, &o, &r), SBX_OK);
		REQUIRE_INT(r.n_matches, 1);
		CHECK_STR(r.matches[0].path, "/tmp/out/x.txt");
		CHECK_INT(r.matches[0].line_number, 1);
		sbx_grep_result_fini(&r);
	}
}

TEST(upload_and_download)
{
	char local[] = "/tmp/sbx-up-XXXXXX", back[] = "/tmp/sbx-down-XXXXXX";
	int fd = mkstemp(local), fd2 = mkstemp(back), code;
	size_t size = 3 * (1u << 20) + 12345;
	char *blob = malloc(size), *got = malloc(size);

	REQUIRE(fd >= 0 && fd2 >= 0 && blob && got);
	for (size_t i = 0; i < size; i++)
		blob[i] = (char)(i * 7 + (i >> 13));
	REQUIRE((size_t)write(fd, blob, size) == size);
	REQUIRE_INT(sbx_upload(svc, s.session_id, "big/blob.bin", fd, size, NULL, NULL), SBX_OK);
	CHECK_STR(run("find big/blob.bin -printf '%s %U\\n'; find big -mindepth 1 | "
	    "grep -c sbx-upload", &code),
	    "3158073 1000\n0\n");
	REQUIRE_INT(sbx_download(svc, s.session_id, "big/blob.bin", fd2, NULL, NULL), SBX_OK);
	REQUIRE((size_t)pread(fd2, got, size, 0) == size);
	CHECK(memcmp(blob, got, size) == 0);
	CHECK_INT(sbx_upload(svc, s.session_id, "/etc/nope", fd, size, NULL, NULL), SBX_UNIMPLEMENTED);
	close(fd);
	close(fd2);
	unlink(local);
	unlink(back);
	free(blob);
	free(got);
}

/* Escapes planted from inside the sandbox: links out of the workspace, a
 * FIFO, a device-like path. sbxd must neither follow nor hang, and the host
 * canary must be untouched. */
TEST(planted_escapes_touch_nothing_outside)
{
	void *data = NULL;
	size_t len = 0;
	char *text = NULL, cmd[1024];
	sbx_file_info *v = NULL;
	size_t n = 0;
	sbx_grep_opts go = { .pattern = "canary", .path = "esc", .include_hidden = 1 };
	sbx_grep_result gr;
	uint64_t occ;
	int code;
	struct stat st;

	snprintf(cmd, sizeof(cmd), "mkdir -p esc && cd esc && ln -s %s abs && ln -s ../../../../../../../../%s rel"
	    " && ln -s %s absdir && ln -s / root && mkfifo fifo && ln -s /proc/self/root procroot",
	    canary, canary, canary_dir);
	run(cmd, &code);
	REQUIRE_INT(code, 0);
	/* The links' targets are container paths (the host's canary path
	 * does not exist in the container): they resolve there, as `cat`
	 * in the sandbox would, and never reach the host's files. */
	CHECK_INT(sbx_read_bytes(svc, s.session_id, "esc/abs", 0, 0, &data, &len), SBX_NOT_FOUND);
	CHECK_INT(sbx_read_bytes(svc, s.session_id, "esc/rel", 0, 0, &data, &len), SBX_NOT_FOUND);
	/* under gVisor a FIFO made inside lives in gVisor's kernel only: the
	 * host's workspace has no such file */
	code = sbx_read(svc, s.session_id, "esc/fifo", 0, 0, &text);
	CHECK(code == SBX_FAILED_PRECONDITION ||
	    (harness_isolation_conf()[0] != '\0' && code == SBX_NOT_FOUND));
	code = sbx_read_bytes(svc, s.session_id, "esc/procroot/etc/hostname", 0, 0, &data, &len);
	if (code == SBX_OK) {           /* the container's own /etc/hostname, if any */
		char want[256];
		int c2;

		snprintf(want, sizeof(want), "%s", run("cat /etc/hostname", &c2));
		CHECK(len == strlen(want) && memcmp(data, want, len) == 0);
		free(data);
		data = NULL;
	}
	/* A write through the link lands in the container's /tmp (tmpfs). */
	CHECK_INT(sbx_write(svc, s.session_id, "esc/absdir/planted.txt", "x", 1, 0), SBX_OK);
	snprintf(cmd, sizeof(cmd), "test -f %s/planted.txt", canary_dir);
	run(cmd, &code);
	CHECK_INT(code, 0);
	CHECK_INT(sbx_write(svc, s.session_id, "esc/abs", "overwritten\n", 12, 0), SBX_OK);
	CHECK(sbx_edit(svc, s.session_id, "esc/rel", "host", 4, "evil", 4, 1, &occ) != SBX_OK);
	CHECK(sbx_move(svc, s.session_id, "esc/rel", "esc/absdir/moved", 0) != SBX_OK);
	sbx_mkdir(svc, s.session_id, "esc/absdir/newdir", 1);
	sbx_remove(svc, s.session_id, "esc/absdir/canary.txt", 0);
	/* A link out lists as itself or as missing; never the host's directory. */
	code = sbx_ls(svc, s.session_id, "esc/absdir", &v, &n, NULL);
	CHECK(code == SBX_OK || code == SBX_NOT_FOUND);
	for (size_t i = 0; code == SBX_OK && i < n; i++)
		CHECK(strcmp(v[i].name, "canary.txt") != 0);
	sbx_file_info_list_free(v, n);
	REQUIRE_INT(sbx_grep(svc, s.session_id, &go, &gr), SBX_OK);
	CHECK_INT(gr.n_matches, 0);
	sbx_grep_result_fini(&gr);
	REQUIRE_INT(sbx_remove(svc, s.session_id, "esc", 1), SBX_OK);
	/* The host side afterwards. */
	{
		char buf[128] = "";
		FILE *f = fopen(canary, "r");

		REQUIRE(f != NULL);
		CHECK(fgets(buf, sizeof(buf), f) != NULL);
		fclose(f);
		CHECK_STR(buf, CANARY_TEXT);
	}
	snprintf(cmd, sizeof(cmd), "%s/planted.txt", canary_dir);
	CHECK(stat(cmd, &st) != 0);
	snprintf(cmd, sizeof(cmd), "%s/moved", canary_dir);
	CHECK(stat(cmd, &st) != 0);
	snprintf(cmd, sizeof(cmd), "%s/newdir", canary_dir);
	CHECK(stat(cmd, &st) != 0);
}

/* Paths mean what they mean in the container: ".." leaves /workspace
 * (never clamped into it), and a symlink's absolute target is a container
 * path, inside the workspace or out of it. */
TEST(paths_resolve_as_the_container_does)
{
	void *data = NULL;
	size_t len = 0;
	sbx_file_info *v = NULL;
	size_t n = 0;
	const char *out;
	int code;

	write_str("real.txt", "real\n");
	run("mkdir -p rdir && echo in > rdir/f.txt && ln -sfn /workspace/real.txt alink && "
	    "ln -sfn /workspace/rdir adir && ln -sfn /etc/os-release olink && "
	    "ln -sfn rdir/../real.txt rlink", &code);
	REQUIRE_INT(code, 0);
	/* Item 8: absolute targets inside the workspace read as in the container. */
	REQUIRE_INT(sbx_read_bytes(svc, s.session_id, "alink", 0, 0, &data, &len), SBX_OK);
	CHECK(len == 5 && memcmp(data, "real\n", 5) == 0);
	free(data);
	data = NULL;
	REQUIRE_INT(sbx_read_bytes(svc, s.session_id, "/workspace/adir/f.txt", 0, 0, &data, &len), SBX_OK);
	CHECK(len == 3 && memcmp(data, "in\n", 3) == 0);
	free(data);
	data = NULL;
	REQUIRE_INT(sbx_ls(svc, s.session_id, "adir", &v, &n, NULL), SBX_OK);
	CHECK(n == 1 && strcmp(v[0].name, "f.txt") == 0);
	sbx_file_info_list_free(v, n);
	/* ... and outside it, the container's file. */
	REQUIRE_INT(sbx_read_bytes(svc, s.session_id, "olink", 0, 0, &data, &len), SBX_OK);
	out = run("cat /etc/os-release", &code);
	CHECK(len == strlen(out) && memcmp(data, out, len) == 0);
	free(data);
	data = NULL;
	REQUIRE_INT(sbx_read_bytes(svc, s.session_id, "rlink", 0, 0, &data, &len), SBX_OK);
	CHECK(len == 5);
	free(data);
	data = NULL;
	/* A write through an absolute link writes its target, as `>` does. */
	CHECK_INT(sbx_write(svc, s.session_id, "alink", "new\n", 4, 0), SBX_OK);
	CHECK_STR(run("cat /workspace/real.txt", &code), "new\n");
	/* Item 7: "../x" is /x, a different file than /workspace/x. */
	CHECK_INT(sbx_write(svc, s.session_id, "../escape.py", "x", 1, 0), SBX_PERMISSION_DENIED);
	run("test ! -e /workspace/escape.py", &code);
	CHECK_INT(code, 0);
	CHECK_INT(sbx_write(svc, s.session_id, "../tmp/up.txt", "up\n", 3, 0), SBX_OK);
	CHECK_STR(run("cat /tmp/up.txt", &code), "up\n");
	CHECK_INT(sbx_write(svc, s.session_id, "/workspace/../tmp/up2.txt", "u2", 2, 0), SBX_OK);
	CHECK_STR(run("cat /tmp/up2.txt", &code), "u2");
	CHECK_INT(sbx_write(svc, s.session_id, "rdir/../inside.txt", "i", 1, 0), SBX_OK);
	CHECK_STR(run("cat /workspace/inside.txt", &code), "i");
	/* Remove acts on the link itself, never on what it names. */
	CHECK_INT(sbx_remove(svc, s.session_id, "alink", 0), SBX_OK);
	CHECK_STR(run("cat /workspace/real.txt", &code), "new\n");
	CHECK_INT(sbx_remove(svc, s.session_id, "olink", 0), SBX_OK);
	run("test -f /etc/os-release && test ! -L /workspace/olink", &code);
	CHECK_INT(code, 0);
	run("rm -rf rdir adir rlink real.txt inside.txt /tmp/up.txt /tmp/up2.txt", &code);
}

/* Names are bytes: one that is not UTF-8 reaches a C client exactly (the
 * reply carries it as raw bytes beside a U+FFFD string that every protobuf
 * runtime can decode), and strings a client sends must be UTF-8. */
TEST(names_that_are_not_utf8)
{
	sbx_file_info *v = NULL;
	size_t n = 0;
	sbx_grep_opts go = { .pattern = "needle", .path = "nonutf" };
	sbx_grep_result gr;
	sbx_session_create_opts co = { .user_id = "files-utf8" };
	sbx_label l = { .key = "team", .value = "v\xff" };
	sbx_session s2 = { 0 };
	int code, found = 0;

	run("mkdir -p nonutf && printf 'needle\\n' > \"nonutf/bad$(printf '\\377').txt\" && "
	    "echo ok > nonutf/good.txt", &code);
	REQUIRE_INT(code, 0);
	REQUIRE_INT(sbx_ls(svc, s.session_id, "nonutf", &v, &n, NULL), SBX_OK);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, "bad\xff.txt") == 0 &&
		    strcmp(v[i].path, "/workspace/nonutf/bad\xff.txt") == 0)
			found = 1;
	CHECK(found);
	CHECK_INT(n, 2);
	sbx_file_info_list_free(v, n);
	REQUIRE_INT(sbx_glob(svc, s.session_id, "*.txt", "nonutf", 0, 0, &v, &n, NULL), SBX_OK);
	CHECK(n == 2 && strcmp(v[0].name, "bad\xff.txt") == 0);
	sbx_file_info_list_free(v, n);
	REQUIRE_INT(sbx_grep(svc, s.session_id, &go, &gr), SBX_OK);
	CHECK(gr.n_matches == 1 && strcmp(gr.matches[0].path, "/workspace/nonutf/bad\xff.txt") == 0);
	sbx_grep_result_fini(&gr);
	/* The file can be read back by the name it was listed under. */
	{
		void *data = NULL;
		size_t len = 0;

		CHECK_INT(sbx_read_bytes(svc, s.session_id, "nonutf/bad\xff.txt", 0, 0, &data, &len),
		    SBX_INVALID_ARGUMENT);        /* request strings must be UTF-8 */
		free(data);
	}
	co.labels = &l;
	co.n_labels = 1;
	CHECK_INT(sbx_session_create(svc, &co, &s2, NULL), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "not valid UTF-8");
	sbx_session_fini(&s2);
	run("rm -rf nonutf", &code);
}

int
main(void)
{
	sbx_session_create_opts co = { .user_id = "files" };
	FILE *f;

	if (!harness_image_ready() || harness_start(&d, NULL) != 0 || (svc = harness_client(&d, NULL)) == NULL)
		return 1;
	snprintf(canary_dir, sizeof(canary_dir), "%s/canary", d.dir);
	snprintf(canary, sizeof(canary), "%s/canary.txt", canary_dir);
	if (mkdir(canary_dir, 0755) != 0 || (f = fopen(canary, "w")) == NULL)
		return 1;
	fputs(CANARY_TEXT, f);
	fclose(f);
	if (sbx_session_create(svc, &co, &s, NULL) != SBX_OK) {
		fprintf(stderr, "create: %s\n", sbx_last_error(svc));
		harness_finish(&d, 1);
		return 1;
	}
	RUN(ls_lists_dirs_first_then_names);
	RUN(read_counts_lines_like_splitlines);
	RUN(stat_and_exists);
	RUN(edit_semantics);
	RUN(glob_semantics);
	RUN(grep_semantics_and_no_injection);
	RUN(mkdir_remove_move);
	RUN(outside_workspace_through_the_container);
	RUN(upload_and_download);
	RUN(planted_escapes_touch_nothing_outside);
	RUN(paths_resolve_as_the_container_does);
	RUN(names_that_are_not_utf8);
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	T_DONE();
}
