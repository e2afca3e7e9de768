/*
 * quota.c — workspaces on sized filesystem images (see quota.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "quota.h"

#define LOOP_MAJOR_NR 7
#define ATTACH_TRIES 8           /* another process may take the free device first */
#define MKFS "mkfs.ext4"

extern char **environ;

/* 1 when dir is the root of a mount of its own (its device differs from
 * its parent's). */
static int
own_mount(const char *dir)
{
	char parent[PATH_MAX];
	struct stat a, b;

	if ((size_t)snprintf(parent, sizeof(parent), "%s/..", dir) >= sizeof(parent))
		return 0;
	return stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

static sbxd_code
image_path(const struct server *s, const char *key, char *out, size_t n, struct err *e)
{
	if ((size_t)snprintf(out, n, "%s/disks/%s.img", s->cfg->state_dir, key) >= n)
		return err_set(e, SBXD_INVALID_ARGUMENT, "workspace image path too long");
	return SBXD_OK;
}

/* Runs mkfs.ext4 on path, the root directory owned by the sandbox user.
 * Fixed words, no shell; the user id is not among them. */
static sbxd_code
run_mkfs(const struct config *c, const char *path, struct err *e)
{
	char owner[64];
	char *argv[] = { MKFS, "-q", "-F", "-m", "0", "-E", owner, (char *)path, NULL };
	char *envp[] = { "PATH=/usr/sbin:/sbin:/usr/bin:/bin", "LC_ALL=C", NULL };
	pid_t pid;
	int st, rv;

	snprintf(owner, sizeof(owner), "root_owner=%d:%d,lazy_itable_init=1,lazy_journal_init=1",
	    (int)c->sandbox_uid, (int)c->sandbox_gid);
	if ((rv = posix_spawnp(&pid, MKFS, NULL, NULL, argv, envp)) != 0)
		return err_set(e, SBXD_FAILED_PRECONDITION, "workspace_quota needs %s (Debian's "
		    "e2fsprogs): %s; install it, or set workspace_quota = 0", MKFS, strerror(rv));
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return err_set(e, SBXD_INTERNAL, "waiting for %s: %s", MKFS, strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return err_set(e, SBXD_INTERNAL, "%s %s failed (status %d); see sbxd's stderr",
		    MKFS, path, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return SBXD_OK;
}

/* Makes the sparse image at path once: built under a temporary name and
 * renamed, so a crash leaves no half-made image under the real one. */
static sbxd_code
make_image(const struct server *s, const char *path, struct err *e)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	sbxd_code rv;
	int fd;

	if (access(path, F_OK) == 0)
		return SBXD_OK;
	snprintf(dir, sizeof(dir), "%s/disks", s->cfg->state_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(e, SBXD_INTERNAL, "cannot create %s: %s", dir, strerror(errno));
	snprintf(dir, sizeof(dir), "%s", path);   /* a fork's: disks/forks */
	*strrchr(dir, '/') = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(e, SBXD_INTERNAL, "cannot create %s: %s", dir, strerror(errno));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid()) >= sizeof(tmp))
		return err_set(e, SBXD_INVALID_ARGUMENT, "workspace image path too long");
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return err_set(e, SBXD_INTERNAL, "cannot create %s: %s", tmp, strerror(errno));
	if (ftruncate(fd, (off_t)s->cfg->workspace_quota) != 0) {
		rv = err_set(e, SBXD_INTERNAL, "sizing %s: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	close(fd);
	if ((rv = run_mkfs(s->cfg, tmp, e)) != SBXD_OK)
		goto fail;
	if (rename(tmp, path) != 0) {
		rv = err_set(e, SBXD_INTERNAL, "cannot rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	return SBXD_OK;
fail:
	(void)unlink(tmp);
	return rv;
}

/* The loop device already backed by path (after an sbxd restart, a
 * session container may still hold the mount), or -1. */
static int
attached_to(const char *path)
{
	char real[PATH_MAX], f[PATH_MAX], back[PATH_MAX + 16];
	struct dirent *d;
	DIR *dir;
	int found = -1, n;
	FILE *fp;

	if (realpath(path, real) == NULL || (dir = opendir("/sys/block")) == NULL)
		return -1;
	while (found < 0 && (d = readdir(dir)) != NULL) {
		if (sscanf(d->d_name, "loop%d", &n) != 1)
			continue;
		snprintf(f, sizeof(f), "/sys/block/%s/loop/backing_file", d->d_name);
		if ((fp = fopen(f, "re")) == NULL)
			continue;
		if (fgets(back, sizeof(back), fp) != NULL) {
			back[strcspn(back, "\n")] = '\0';
			if (strcmp(back, real) == 0)
				found = n;
		}
		fclose(fp);
	}
	closedir(dir);
	return found;
}

/* Opens /dev/loopN, making the node when this /dev lacks it. */
static int
open_loop(int n, char *dev, size_t devsz)
{
	int fd;

	snprintf(dev, devsz, "/dev/loop%d", n);
	if ((fd = open(dev, O_RDWR | O_CLOEXEC)) < 0 && errno == ENOENT &&
	    mknod(dev, S_IFBLK | 0660, makedev(LOOP_MAJOR_NR, n)) == 0)
		fd = open(dev, O_RDWR | O_CLOEXEC);
	return fd;
}

/* Attaches path to a free loop device that detaches itself on its last
 * close (the unmount); returns its fd (close it only after mounting). */
static int
attach(const char *path, char *dev, size_t devsz, struct err *e)
{
	struct loop_config lc;
	int ctl, img, fd = -1, n;

	if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) < 0) {
		err_set(e, SBXD_FAILED_PRECONDITION, "workspace_quota needs loop devices "
		    "(/dev/loop-control: %s); run sbxd as root on a host with them, or set "
		    "workspace_quota = 0", strerror(errno));
		return -1;
	}
	if ((img = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		err_set(e, SBXD_INTERNAL, "cannot open %s: %s", path, strerror(errno));
		close(ctl);
		return -1;
	}
	for (int i = 0; i < ATTACH_TRIES && fd < 0; i++) {
		if ((n = ioctl(ctl, LOOP_CTL_GET_FREE)) < 0 || (fd = open_loop(n, dev, devsz)) < 0)
			break;
		memset(&lc, 0, sizeof(lc));
		lc.fd = (unsigned)img;
		lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		memcpy(lc.info.lo_file_name, path, strlen(path) < LO_NAME_SIZE ?
		    strlen(path) : LO_NAME_SIZE - 1);   /* informational; may be cut */
		if (ioctl(fd, LOOP_CONFIGURE, &lc) != 0) {
			close(fd);
			fd = -1;
			if (errno != EBUSY)
				break;
		}
	}
	if (fd < 0)
		err_set(e, SBXD_UNAVAILABLE, "cannot attach %s to a loop device: %s; retry",
		    path, strerror(errno));
	close(img);
	close(ctl);
	return fd;
}

/* 1 when dir holds anything (or cannot be read). */
static int
has_entries(const char *dir)
{
	struct dirent *d;
	DIR *dp;
	int any = 0;

	if ((dp = opendir(dir)) == NULL)
		return errno != ENOENT;
	while (!any && (d = readdir(dp)) != NULL)
		any = strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
	closedir(dp);
	return any;
}

sbxd_code
quota_mount(struct server *s, const char *key, const char *dir, struct err *e)
{
	char img[PATH_MAX], dev[64];
	int fd = -1, n, fresh;
	sbxd_code rv;

	if (s->cfg->workspace_quota == 0 || own_mount(dir))
		return SBXD_OK;
	if ((rv = image_path(s, key, img, sizeof(img), e)) != SBXD_OK)
		return rv;
	fresh = access(img, F_OK) != 0;
	/* a new image over files made before workspace_quota was set would
	 * hide them */
	if (fresh && has_entries(dir))
		return err_set(e, SBXD_FAILED_PRECONDITION, "workspace %s holds files from before "
		    "workspace_quota was set, and a sized filesystem mounted there would hide "
		    "them; move them out (or set workspace_quota = 0), then retry", dir);
	if ((rv = make_image(s, img, e)) != SBXD_OK)
		return rv;
	if ((n = attached_to(img)) >= 0)
		snprintf(dev, sizeof(dev), "/dev/loop%d", n);
	else if ((fd = attach(img, dev, sizeof(dev), e)) < 0)
		return e->code;
	if (mount(dev, dir, "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME, "") != 0) {
		rv = err_set(e, SBXD_INTERNAL, "mounting %s on %s: %s", dev, dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rv;
	}
	if (fd >= 0)
		close(fd);      /* the mount holds the device now */
	if (chmod(dir, 0700) != 0)
		log_warn("workspace %s: chmod", dir);
	if (fresh) {        /* mkfs's lost+found would show in every listing */
		char lf[PATH_MAX];

		snprintf(lf, sizeof(lf), "%s/lost+found", dir);
		(void)rmdir(lf);
	}
	log_info("workspace %s: %s on %s (%llu bytes)", key, dev, dir,
	    (unsigned long long)s->cfg->workspace_quota);
	return SBXD_OK;
}

sbxd_code
quota_purge(struct server *s, const char *key, const char *dir, struct err *e)
{
	char img[PATH_MAX];
	sbxd_code rv;

	if (!own_mount(dir))
		return SBXD_OK;
	if (umount2(dir, UMOUNT_NOFOLLOW) != 0)
		return err_set(e, errno == EBUSY ? SBXD_FAILED_PRECONDITION : SBXD_INTERNAL,
		    "unmounting workspace %s: %s%s", dir, strerror(errno), errno == EBUSY ?
		    "; another session of this user still uses it: end it first" : "");
	if ((rv = image_path(s, key, img, sizeof(img), e)) != SBXD_OK)
		return rv;
	if (unlink(img) != 0 && errno != ENOENT)
		return err_set(e, SBXD_INTERNAL, "deleting %s: %s", img, strerror(errno));
	return SBXD_OK;
}

void
quota_usage(struct server *s, const char *dir, uint64_t *used, uint64_t *limit)
{
	struct statfs f;

	*used = *limit = 0;
	if (s->cfg->workspace_quota == 0 || !own_mount(dir) || statfs(dir, &f) != 0)
		return;
	*limit = (uint64_t)f.f_blocks * (uint64_t)f.f_bsize;
	*used = (uint64_t)(f.f_blocks - f.f_bfree) * (uint64_t)f.f_bsize;
}
