/*
 * test_leftovers.c — crash leftovers in workspaces, with a real sbxd: the
 * temporary files an interrupted write or upload leaves (planted here on
 * the host with the names fsops gives them, as a kill -9 mid-write leaves
 * them) never show in Ls, Glob or Grep, and after sbxd is killed and
 * started again they are gone from every workspace, nested ones included,
 * while the files around them stay.
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
static sbx_session s1, s2;

static int
plant(const sbx_session *s, const char *rel, const char *content)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", s->workspace_path, rel);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return -1;
	if (write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int
exists(const sbx_session *s, const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", s->workspace_path, rel);
	return lstat(p, &st) == 0;
}

/* 1 when any Ls entry of dir, Glob match or Grep hit names a temp file. */
static int
any_temp_shown(const sbx_session *s)
{
	sbx_file_info *fi = NULL;
	size_t n = 0;
	sbx_grep_opts go = { .pattern = "needle", .mode = SBX_GREP_FILES, .include_hidden = 1 };
	sbx_grep_result gr;
	int shown = 0;

	if (sbx_ls(svc, s->session_id, NULL, &fi, &n, NULL) != SBX_OK)
		return 1;
	for (size_t i = 0; i < n; i++)
		shown |= strstr(fi[i].name, ".sbx-") != NULL;
	sbx_file_info_list_free(fi, n);
	if (sbx_glob(svc, s->session_id, "**/.sbx-*", NULL, 0, 0, &fi, &n, NULL) != SBX_OK)
		return 1;
	shown |= n != 0;
	sbx_file_info_list_free(fi, n);
	if (sbx_grep(svc, s->session_id, &go, &gr) != SBX_OK)
		return 1;
	for (size_t i = 0; i < gr.n_files; i++)
		shown |= strstr(gr.files[i], ".sbx-") != NULL;
	CHECK_INT(gr.n_files, 1);    /* keep.txt */
	sbx_grep_result_fini(&gr);
	return shown;
}

TEST(leftovers_hidden_then_removed_after_restart)
{
	const char *tmp = ".sbx-tmp-3-00112233aabbccdd", *up = ".sbx-upload-0123456789abcdef0123456789abcdef";
	uint64_t end;

	REQUIRE_INT(sbx_write(svc, s1.session_id, "keep.txt", "needle\n", 7, 0), SBX_OK);
	REQUIRE_INT(sbx_mkdir(svc, s2.session_id, "sub/dir", 1), SBX_OK);
	REQUIRE_INT(plant(&s1, tmp, "needle half-written"), 0);
	REQUIRE_INT(plant(&s1, up, "needle upload"), 0);
	REQUIRE_INT(plant(&s2, "sub/dir/.sbx-tmp-0-ffeeddccbbaa0099", "needle"), 0);
	REQUIRE_INT(plant(&s2, "sub/dir/.sbx-tmpfoo-not-ours", "x"), 0);
	CHECK(!any_temp_shown(&s1));

	CHECK_INT(harness_stop(&d, SIGKILL) != 0, 1);
	REQUIRE_INT(harness_restart(&d), 0);
	end = harness_now_ms() + HARNESS_WAIT_MS;
	while (!harness_log_has(&d, "temporary files left by interrupted writes") &&
	    harness_now_ms() < end)
		usleep(20000);   /* polling for the sweep's report */
	CHECK(harness_log_has(&d, "recovery: removed 3 temporary files"));
	CHECK(!exists(&s1, tmp));
	CHECK(!exists(&s1, up));
	CHECK(!exists(&s2, "sub/dir/.sbx-tmp-0-ffeeddccbbaa0099"));
	CHECK(exists(&s2, "sub/dir/.sbx-tmpfoo-not-ours"));
	CHECK(exists(&s1, "keep.txt"));
	/* writes after the restart work and leave nothing behind */
	sbx_client_close(svc);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	CHECK_INT(sbx_write(svc, s1.session_id, "after.txt", "a", 1, 0), SBX_OK);
	CHECK(!any_temp_shown(&s1));
}

int
main(void)
{
	sbx_session_create_opts o1 = { .user_id = "leftover-1" }, o2 = { .user_id = "leftover-2" };
	int failed;

	if (!harness_image_ready() || harness_start(&d, NULL) != 0)
		return 1;
	svc = harness_client(&d, NULL);
	if (svc == NULL || sbx_session_create(svc, &o1, &s1, NULL) != SBX_OK ||
	    sbx_session_create(svc, &o2, &s2, NULL) != SBX_OK) {
		fprintf(stderr, "setup: %s\n", sbx_last_error(svc));
		harness_finish(&d, 1);
		return 1;
	}
	RUN(leftovers_hidden_then_removed_after_restart);
	sbx_session_end(svc, s1.session_id, 1);
	sbx_session_end(svc, s2.session_id, 1);
	sbx_session_fini(&s1);
	sbx_session_fini(&s2);
	sbx_client_close(svc);
	failed = t_failures != 0;
	if (!harness_finish(&d, failed))
		t_failures++;
	T_DONE();
}
