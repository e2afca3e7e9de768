/*
 * test_quota.c — workspace_quota against a real sbxd, real containers and
 * real loop devices (needs root, as sbxd does with a quota).
 *
 * sbxd runs with workspace_quota = 32M. User A's sandbox fills its
 * workspace: the kernel answers ENOSPC inside the sandbox, sbx's Write is
 * RESOURCE_EXHAUSTED, GetSession shows the disk full — while user B writes
 * as before. Deleting the file frees the space; the workspace (a
 * filesystem of its own, without mkfs's lost+found) keeps its files across
 * an sbxd restart and a new session; a purge unmounts it, deletes its
 * image and releases its loop device. A fork's workspace is a filesystem
 * of its own too, and a workspace whose mount went (as after a host
 * reboot) is mounted again before its stopped container starts.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define QUOTA (32ull << 20)

static struct sbxd_proc d;
static sbx_client *svc;

static int
create(const char *user, sbx_session *s)
{
	sbx_session_create_opts o = { .user_id = user };

	return sbx_session_create(svc, &o, s, NULL);
}

/* 1 when a loop device is backed by the file at path. */
static int
loop_backs(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "grep -qxF '%s' /sys/block/loop*/loop/backing_file 2>/dev/null",
	    path);
	return system(cmd) == 0;
}

static void
get_disk(const char *sid, uint64_t *used, uint64_t *limit)
{
	sbx_session s;

	*used = *limit = 0;
	if (sbx_session_get(svc, sid, &s) != SBX_OK)
		return;
	*used = s.usage.disk_bytes;
	*limit = s.usage.disk_limit_bytes;
	sbx_session_fini(&s);
}

TEST(a_full_workspace_stops_its_user_only)
{
	sbx_session a, b, a2;
	sbx_exec_opts fill = { .command = "head -c 40000000 /dev/zero > big" };
	sbx_exec_opts b_fill = { .command = "head -c 20000000 /dev/zero > f && echo ok" };
	sbx_exec_result r;
	sbx_file_info *ls = NULL;
	size_t n = 0;
	int trunc = 0;
	uint64_t used, limit;
	char *mb = calloc(1, 1 << 20), img[256];
	void *data = NULL;
	size_t len = 0;

	REQUIRE(mb != NULL);
	REQUIRE_INT(create("quota-a", &a), SBX_OK);
	REQUIRE_INT(create("quota-b", &b), SBX_OK);
	snprintf(img, sizeof(img), "%s/disks/quota-a.img", d.dir);
	CHECK(loop_backs(img));

	/* a filesystem of its own, sized to the quota, empty */
	get_disk(a.session_id, &used, &limit);
	CHECK(limit > QUOTA / 2 && limit <= QUOTA);
	CHECK(used < limit / 2);
	CHECK_INT(sbx_ls(svc, a.session_id, "", &ls, &n, &trunc), SBX_OK);
	CHECK_INT((int)n, 0);
	sbx_file_info_list_free(ls, n);

	/* A fills it: the kernel says no inside, and Write says so too */
	CHECK_INT(sbx_exec(svc, a.session_id, &fill, &r), SBX_OK);
	CHECK(r.exit_code != 0);
	CHECK(r.err.data != NULL && strstr((char *)r.err.data, "No space left") != NULL);
	sbx_exec_result_fini(&r);
	CHECK_INT(sbx_write(svc, a.session_id, "more.bin", mb, 1 << 20, 0), SBX_RESOURCE_EXHAUSTED);
	CHECK_CONTAINS(sbx_last_error(svc), "space");
	get_disk(a.session_id, &used, &limit);
	CHECK(used + (2u << 20) >= limit);

	/* B is untouched */
	CHECK_INT(sbx_write(svc, b.session_id, "more.bin", mb, 1 << 20, 0), SBX_OK);
	CHECK_INT(sbx_exec(svc, b.session_id, &b_fill, &r), SBX_OK);
	CHECK_INT(r.exit_code, 0);
	sbx_exec_result_fini(&r);

	/* deleting frees the space */
	CHECK_INT(sbx_remove(svc, a.session_id, "big", 0), SBX_OK);
	CHECK_INT(sbx_write(svc, a.session_id, "keep.bin", mb, 1 << 20, 0), SBX_OK);

	/* kept across a restart and in the user's next session */
	sbx_client_close(svc);
	CHECK_INT(harness_stop(&d, SIGTERM), 0);
	REQUIRE_INT(harness_restart(&d), 0);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	CHECK_INT(sbx_session_end(svc, a.session_id, 0), SBX_OK);
	REQUIRE_INT(create("quota-a", &a2), SBX_OK);
	CHECK_INT(sbx_read_bytes(svc, a2.session_id, "keep.bin", 0, 0, &data, &len), SBX_OK);
	CHECK(len == (1u << 20));
	sbx_free(data);
	get_disk(a2.session_id, &used, &limit);
	CHECK(limit > QUOTA / 2 && limit <= QUOTA);

	/* a purge unmounts, deletes the image, frees the loop device */
	CHECK_INT(sbx_session_end(svc, a2.session_id, 1), SBX_OK);
	CHECK(access(img, F_OK) != 0);
	CHECK(!loop_backs(img));
	CHECK_INT(sbx_session_end(svc, b.session_id, 1), SBX_OK);
	free(mb);
	sbx_session_fini(&a);
	sbx_session_fini(&a2);
	sbx_session_fini(&b);
}

/* A fork copies the snapshot's workspace into a filesystem of its own,
 * bounded like any workspace; a purge releases it. */
TEST(a_fork_is_bounded_too)
{
	sbx_session_create_opts fo = { .user_id = "quota-f" };
	sbx_exec_opts fill = { .command = "head -c 40000000 /dev/zero > big" };
	sbx_session a, f;
	sbx_snapshot snap;
	sbx_exec_result r;
	uint64_t used, limit;
	char *mb = calloc(1, 1 << 20), img[512];
	void *data = NULL;
	size_t len = 0;

	REQUIRE(mb != NULL);
	REQUIRE_INT(create("quota-f", &a), SBX_OK);
	CHECK_INT(sbx_write(svc, a.session_id, "seed.bin", mb, 1 << 20, 0), SBX_OK);
	REQUIRE_INT(sbx_snapshot_create(svc, a.session_id, NULL, NULL, 0, &snap), SBX_OK);
	fo.from_snapshot = snap.snapshot_id;
	REQUIRE_INT(sbx_session_create(svc, &fo, &f, NULL), SBX_OK);
	snprintf(img, sizeof(img), "%s/disks/forks/%s.img", d.dir, f.session_id);
	CHECK(loop_backs(img));
	CHECK_INT(sbx_read_bytes(svc, f.session_id, "seed.bin", 0, 0, &data, &len), SBX_OK);
	CHECK(len == (1u << 20));
	sbx_free(data);
	get_disk(f.session_id, &used, &limit);
	CHECK(limit > QUOTA / 2 && limit <= QUOTA);
	CHECK(used >= (1u << 20));

	CHECK_INT(sbx_exec(svc, f.session_id, &fill, &r), SBX_OK);
	CHECK(r.exit_code != 0);
	CHECK(r.err.data != NULL && strstr((char *)r.err.data, "No space left") != NULL);
	sbx_exec_result_fini(&r);
	/* the original's workspace did not fill with it */
	CHECK_INT(sbx_write(svc, a.session_id, "more.bin", mb, 1 << 20, 0), SBX_OK);

	CHECK_INT(sbx_session_end(svc, f.session_id, 1), SBX_OK);
	CHECK(access(img, F_OK) != 0);
	CHECK(!loop_backs(img));
	CHECK_INT(sbx_snapshot_delete(svc, snap.snapshot_id), SBX_OK);
	CHECK_INT(sbx_session_end(svc, a.session_id, 1), SBX_OK);
	free(mb);
	sbx_snapshot_fini(&snap);
	sbx_session_fini(&a);
	sbx_session_fini(&f);
}

/* As after a host reboot: the container stopped and the workspace's
 * mount gone. The session's next command starts the container again, and
 * its files are there: the filesystem was mounted first. */
TEST(a_lost_mount_is_made_again_before_the_container_starts)
{
	sbx_exec_opts cat = { .command = "cat kept.txt" };
	sbx_exec_result r;
	sbx_session a;
	char cmd[1024], ws[512];

	REQUIRE_INT(create("quota-r", &a), SBX_OK);
	CHECK_INT(sbx_write(svc, a.session_id, "kept.txt", "still here", 10, 0), SBX_OK);
	snprintf(ws, sizeof(ws), "%s", a.workspace_path);
	REQUIRE(strstr(ws, "/quota-r/workspace") != NULL);   /* what is unmounted below */
	sbx_client_close(svc);
	CHECK_INT(harness_stop(&d, SIGTERM), 0);
	snprintf(cmd, sizeof(cmd), "docker stop -t 1 sbx-%s >/dev/null", a.session_id);
	CHECK_INT(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "umount '%s'", ws);
	CHECK_INT(system(cmd), 0);
	REQUIRE_INT(harness_restart(&d), 0);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	CHECK_INT(sbx_exec(svc, a.session_id, &cat, &r), SBX_OK);
	CHECK_INT(r.exit_code, 0);
	CHECK(r.out.data != NULL && strcmp((char *)r.out.data, "still here") == 0);
	sbx_exec_result_fini(&r);
	CHECK_INT(sbx_session_end(svc, a.session_id, 1), SBX_OK);
	sbx_session_fini(&a);
}

int
main(void)
{
	if (!harness_image_ready())
		return 1;
	if (harness_start(&d, "workspace_quota = 32M") != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(a_full_workspace_stops_its_user_only);
	RUN(a_fork_is_bounded_too);
	RUN(a_lost_mount_is_made_again_before_the_container_starts);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	T_DONE();
}
