/*
 * egress_log.c — squid's access log, followed: each line (one allowed or
 * refused request, logged when it ends; a CONNECT tunnel when it closes)
 * becomes a system event in the log of the session whose address made it
 * (rules/{address} names the session). Lines are
 *   TIME CLIENT SQUID_STATUS HTTP_STATUS METHOD URL TLS_ACTION
 * (logformat sbx in egress.c). The file is read from where it ended when
 * the follower started; it is polled, every POLL_MS.
 *
 * Bounded: once the file holds egress_log_max_bytes, the follower asks
 * squid to rotate it (SIGUSR1 to the proxy container; squid.conf says
 * logfile_rotate 1): squid flushes, renames access.log to access.log.0
 * (replacing the previous one) and opens a new access.log. The follower
 * still holds the old file open, so it reads it to its end before it
 * turns to the new one, read from its start: no line is lost or read
 * twice. (sbxd truncating the file itself would lose what squid appends
 * between the last read and the truncation.) So the log takes at most
 * about twice egress_log_max_bytes on disk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "egress.h"
#include "egress_int.h"
#include "log.h"
#include "logbus.h"
#include "monotime.h"
#include "server.h"

#define POLL_MS 100
#define LINE_MAX_BYTES 8192
#define ROTATE_RETRY_MS 10000   /* a rotation asked for and not seen: ask again */

/* The session rules/{client} names, into sid; 0 when none. */
static int
session_of(struct server *s, const char *client, char *sid, size_t n)
{
	char path[EGRESS_PATH_MAX], line[128];
	FILE *f;
	int ok = 0;

	if (client[0] == '\0' || strspn(client, "0123456789.") != strlen(client))
		return 0;
	snprintf(path, sizeof(path), "%s/egress/rules/%s", s->cfg->state_dir, client);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) != NULL && strncmp(line, "session ", 8) == 0) {
		line[strcspn(line, "\n")] = '\0';
		size_t len = strlen(line + 8);

		if (len > 0 && len < n) {
			memcpy(sid, line + 8, len + 1);
			ok = 1;
		}
	}
	fclose(f);
	return ok;
}

static void
one_line(struct server *s, char *line)
{
	char *save = NULL, *f[7];
	char sid[64];
	int n = 0, refused;

	for (char *t = strtok_r(line, " ", &save); t != NULL && n < 7; t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	if (n < 6 || !session_of(s, f[1], sid, sizeof(sid)))
		return;
	/* refused: by http_access, or a TLS hello whose SNI is not allowed */
	refused = strstr(f[2], "DENIED") != NULL || (n > 6 && strcmp(f[6], "terminate") == 0);
	logbus_emitf(s, sid, "", "egress %s: %.16s %.2000s (%s %s%s%s)",
	    refused ? "refused" : "allowed", f[4], f[5], f[2], f[3],
	    n > 6 && strcmp(f[6], "-") != 0 ? " tls " : "", n > 6 && strcmp(f[6], "-") != 0 ? f[6] : "");
}

/* What the follower holds between polls. */
struct follower {
	struct egress *g;
	char path[EGRESS_PATH_MAX];
	char *buf;                 /* a partial line, have bytes */
	size_t have;
	int fd;                    /* the file read, -1 when none */
	dev_t dev;
	ino_t ino;
	off_t off;                 /* read up to here */
	int64_t asked_ms;          /* when a rotation was last asked for; 0 = none pending */
};

/* Reads fo->fd from fo->off to its end, each whole line an event. */
static void
drain(struct follower *fo)
{
	for (;;) {
		ssize_t got = pread(fo->fd, fo->buf + fo->have, LINE_MAX_BYTES - 1 - fo->have,
		    fo->off);
		char *nl, *p = fo->buf;

		if (got <= 0)
			return;
		fo->off += got;
		fo->have += (size_t)got;
		fo->buf[fo->have] = '\0';
		while ((nl = memchr(p, '\n', fo->have - (size_t)(p - fo->buf))) != NULL) {
			*nl = '\0';
			one_line(fo->g->s, p);
			p = nl + 1;
		}
		fo->have -= (size_t)(p - fo->buf);
		memmove(fo->buf, p, fo->have);
		if (fo->have == LINE_MAX_BYTES - 1)
			fo->have = 0;   /* an over-long line: dropped */
	}
}

/* Opens the file at fo->path (read from its end on the first look,
 * from its start after a rotation or when it appeared later). */
static void
reopen(struct follower *fo, int first)
{
	struct stat st;

	if ((fo->fd = open(fo->path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (fstat(fo->fd, &st) != 0) {
		close(fo->fd);
		fo->fd = -1;
		return;
	}
	fo->dev = st.st_dev;
	fo->ino = st.st_ino;
	fo->off = first ? st.st_size : 0;
	fo->have = 0;
}

/* Asks squid to rotate once the file holds egress_log_max_bytes (again
 * after ROTATE_RETRY_MS when the last ask was not followed). */
static void
maybe_rotate(struct follower *fo, off_t size)
{
	struct server *s = fo->g->s;
	int64_t now = (int64_t)monotime_ms();
	struct err e;

	if ((uint64_t)size < s->cfg->egress_log_max_bytes ||
	    (fo->asked_ms != 0 && now - fo->asked_ms < ROTATE_RETRY_MS))
		return;
	fo->asked_ms = now;
	if (s->drv->ops->signal == NULL)
		log_warnx("egress: %s holds %lld bytes and this container driver cannot ask the "
		    "proxy to rotate it", fo->path, (long long)size);
	else if (s->drv->ops->signal(s->drv, fo->g->proxy, SIGUSR1, &e) != SBXD_OK)
		log_debug("egress: asking the proxy to rotate its log: %s", e.msg);
	else
		log_debug("egress: %s holds %lld bytes: the proxy rotates it", fo->path,
		    (long long)size);
}

static void *
follow(void *arg)
{
	struct follower fo = { .g = arg, .fd = -1 };
	int first = 1;

	snprintf(fo.path, sizeof(fo.path), "%s/egress/log/access.log", fo.g->s->cfg->state_dir);
	if ((fo.buf = malloc(LINE_MAX_BYTES)) == NULL) {
		log_warnx("egress: out of memory: the proxy's log is not followed");
		return NULL;
	}
	while (!fo.g->log_stop) {
		struct stat now, held;

		if (fo.fd < 0)
			reopen(&fo, first);
		first = 0;
		if (fo.fd >= 0) {
			drain(&fo);
			if (stat(fo.path, &now) == 0 && (now.st_ino != fo.ino || now.st_dev != fo.dev)) {
				/* rotated: the old file is complete; its end, then the new one */
				drain(&fo);
				close(fo.fd);
				fo.fd = -1;
				fo.asked_ms = 0;
				continue;
			}
			if (fstat(fo.fd, &held) == 0) {
				if (held.st_size < fo.off) {   /* truncated */
					fo.off = 0;
					fo.have = 0;
				} else
					maybe_rotate(&fo, held.st_size);
			}
		}
		usleep(POLL_MS * 1000);
	}
	if (fo.fd >= 0)
		close(fo.fd);
	free(fo.buf);
	return NULL;
}

sbxd_code
egress_log_start(struct egress *g, struct err *e)
{
	int rc;

	if (g->log_running)
		return SBXD_OK;
	g->log_stop = 0;
	if ((rc = pthread_create(&g->log_thread, NULL, follow, g)) != 0)
		return err_set(e, SBXD_INTERNAL, "egress: cannot start the log follower: %s",
		    strerror(rc));
	g->log_running = 1;
	return SBXD_OK;
}

void
egress_log_stop(struct egress *g)
{
	if (!g->log_running)
		return;
	g->log_stop = 1;
	pthread_join(g->log_thread, NULL);
	g->log_running = 0;
}
