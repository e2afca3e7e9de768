/*
 * fsops_fixture.c — the fsops unit tests' temporary workspace and the
 * host-side helpers around it (see fsops_fixture.h). Everything here works
 * on the host filesystem with plain system calls, so that what the tests
 * check through fsops is compared with what is really on disk.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsops_fixture.h"

char fx_top[64];
struct fsops_root fx_root = { .fd = -1 };

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

void
fx_down(void)
{
	fsops_root_close(&fx_root);
	if (fx_top[0] != '\0')
		nftw(fx_top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fx_top[0] = '\0';
}

/* fx_top/mid+rel in the next of sixteen rotating buffers */
static const char *
under_top(const char *mid, const char *rel)
{
	static char bufs[16][512];
	static int i;
	char *b = bufs[i++ % 16];

	snprintf(b, sizeof(bufs[0]), "%s/%s%s", fx_top, mid, rel);
	return b;
}

const char *
fx_T(const char *name)
{
	return under_top("", name);
}

const char *
fx_W(const char *rel)
{
	return under_top("ws/", rel);
}

int
fx_up(const char *tag)
{
	struct err e;

	fx_down();
	snprintf(fx_top, sizeof(fx_top), "/tmp/%s.XXXXXX", tag);
	if (mkdtemp(fx_top) == NULL || mkdir(fx_T("ws"), 0755) == -1)
		return -1;
	if (fsops_root_open(fx_T("ws"), FX_UID, FX_GID, &fx_root, &e) != SBXD_OK) {
		/* valgrind 3.19 answers openat2 with ENOSYS: this is the message */
		fprintf(stderr, "  fsops_root_open: %s\n", e.msg);
		return -1;
	}
	return 0;
}

int
fx_put(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), ok;

	if (fd == -1)
		return -1;
	ok = write(fd, p, n) == (ssize_t)n;
	return close(fd) == 0 && ok ? 0 : -1;
}

int
fx_puts(const char *path, const char *s)
{
	return fx_put(path, s, strlen(s));
}

char *
fx_slurp(const char *path, size_t *len)
{
	static char chunk[65536];
	struct buf b;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);

	buf_init(&b, 64u << 20);
	if (fd == -1)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)n);
	close(fd);
	buf_add(&b, "", 0);
	return buf_take(&b, len);
}

int
fx_content_is(const char *path, const char *want)
{
	size_t n;
	char *s = fx_slurp(path, &n);
	int ok = s != NULL && n == strlen(want) && memcmp(s, want, n) == 0;

	free(s);
	return ok;
}

int
fx_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int
fx_no_temp_left(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int clean = 1;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			clean = 0;
	closedir(d);
	return clean;
}

static const char *watchdog_msg;
static size_t watchdog_len;

static void
on_alarm(int sig)
{
	(void)sig;
	(void)!write(2, watchdog_msg, watchdog_len);
	_exit(1);
}

void
fx_watchdog(const char *msg)
{
	watchdog_msg = msg;
	watchdog_len = strlen(msg);
	signal(SIGALRM, on_alarm);
}

int
fx_in_private_ns(void (*fn)(void), int *failures)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == -1) {
		fprintf(stderr, "  fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) == -1 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
			_exit(77);
		*failures = 0;
		fn();
		_exit(*failures ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid) {
		fprintf(stderr, "  waitpid: %s\n", strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		fprintf(stderr, "  (skipped: no private mount namespace here)\n");
		return 0;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
