/*
 * agent_files.c — the file calls. Paths come from sbxd as bytes: they must
 * be absolute and free of NUL bytes (else EINVAL). Reads are bounded by
 * AGENT_FILE_MAX so the reply fits one frame; opens never block on a FIFO
 * (O_NONBLOCK) and only regular files are read or written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_files.h"
#include "agent_wire.h"

/* Copies an absolute path into buf; an errno value when it is not one. */
static int
path_of(const ProtobufCBinaryData *b, char *buf, size_t cap)
{
	if (b->len == 0 || b->data[0] != '/' || memchr(b->data, '\0', b->len) != NULL)
		return EINVAL;
	if (b->len >= cap)
		return ENAMETOOLONG;
	memcpy(buf, b->data, b->len);
	buf[b->len] = '\0';
	return 0;
}

void
agent_files_read(const Sbx__Agent__V1__ReadFile *rq, Sbx__Agent__V1__FileReply *rep)
{
	uint64_t max = rq->max > 0 && rq->max < AGENT_FILE_MAX ? rq->max : AGENT_FILE_MAX;
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;
	ssize_t n;
	int fd = -1, e;

	if ((e = path_of(&rq->path, path, sizeof(path))) != 0)
		goto out;
	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0) {
		e = errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		e = EFBIG;
		goto out;
	}
	/* one byte more than allowed: a file that grows past max is EFBIG too */
	if ((buf = malloc(max + 1)) == NULL) {
		e = ENOMEM;
		goto out;
	}
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		e = EFBIG;
		goto out;
	}
	rep->data.data = buf;
	rep->data.len = len;
	buf = NULL;
	e = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	rep->errno_value = e;
}

/* mkdir -p of path's parent (mode 0755). */
static int
make_parents(char *path)
{
	char *slash = strrchr(path, '/'), *p;
	int e = 0;

	if (slash == NULL || slash == path)
		return 0;
	*slash = '\0';
	for (p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			e = errno;
		*p = c;
		if (e != 0 || c == '\0')
			break;
	}
	*slash = '/';
	return e;
}

void
agent_files_write(const Sbx__Agent__V1__WriteFile *rq, Sbx__Agent__V1__FileReply *rep)
{
	int flags = O_WRONLY | O_CREAT | O_NOCTTY | O_CLOEXEC | O_NONBLOCK;
	mode_t mode = rq->mode != 0 ? (mode_t)(rq->mode & 07777) : 0644;
	char path[PATH_MAX];
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd = -1, e;

	if ((e = path_of(&rq->path, path, sizeof(path))) != 0)
		goto out;
	if (rq->make_parents && (e = make_parents(path)) != 0)
		goto out;
	if (rq->append)
		flags |= O_APPEND;
	/* no O_TRUNC: what is opened is checked before anything is changed */
	if ((fd = open(path, flags, mode)) < 0 || fstat(fd, &st) != 0) {
		e = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		e = EINVAL;
		goto out;
	}
	if (!rq->append && ftruncate(fd, 0) != 0) {
		e = errno;
		goto out;
	}
	while (off < rq->data.len) {
		n = write(fd, rq->data.data + off, rq->data.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			goto out;
		}
		off += (size_t)n;
	}
	e = 0;
out:
	if (fd >= 0 && close(fd) != 0 && e == 0)
		e = errno;
	rep->errno_value = e;
}

void
agent_files_stat(const Sbx__Agent__V1__StatPath *rq, Sbx__Agent__V1__FileReply *rep)
{
	char path[PATH_MAX], target[PATH_MAX];
	struct stat st;
	ssize_t n;
	int e;

	if ((e = path_of(&rq->path, path, sizeof(path))) != 0)
		goto out;
	if ((rq->follow ? stat(path, &st) : lstat(path, &st)) != 0) {
		e = errno;
		goto out;
	}
	rep->mode = st.st_mode;
	rep->size = (uint64_t)st.st_size;
	rep->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	if (S_ISLNK(st.st_mode) && (n = readlink(path, target, sizeof(target))) > 0) {
		if ((rep->link_target.data = malloc((size_t)n)) == NULL) {
			e = ENOMEM;
			goto out;
		}
		memcpy(rep->link_target.data, target, (size_t)n);
		rep->link_target.len = (size_t)n;
	}
out:
	rep->errno_value = e;
}

void
agent_files_reply_fini(Sbx__Agent__V1__FileReply *rep)
{
	free(rep->data.data);
	free(rep->link_target.data);
	rep->data.data = rep->link_target.data = NULL;
	rep->data.len = rep->link_target.len = 0;
}
