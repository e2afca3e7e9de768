/*
 * docker_archive.c — the Engine API's archive endpoints: a tar of a path
 * in a container (GET), a tar extracted into a directory (PUT), and what
 * the engine knows of a path (HEAD, whose answer is the base64 JSON of the
 * X-Docker-Container-Path-Stat header).
 *
 * Paths only ever travel percent-encoded in a query string; nothing here
 * interprets them. What the engine sees is its own mount of the container's
 * root filesystem plus the bind mounts: a tmpfs mounted inside the
 * container (HostConfig.Tmpfs, /dev/shm) is invisible here, and a PUT under
 * one lands in the root filesystem underneath it. Choosing paths the
 * engine sees is the caller's business (ctrfs.c). Requests go through
 * docker.c's transport (docker_int.h).
 */
#define _DEFAULT_SOURCE		/* timegm */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "docker_int.h"
#include "driver.h"
#include "err.h"

#define ARCHIVE_CALL_MS		120000L		/* one GET or PUT */
#define STAT_HDR_MAX		(16u << 10)	/* the path-stat header, base64 */
#define STAT_JSON_MAX		(12u << 10)	/* ... and decoded */
#define STAT_HDR		"X-Docker-Container-Path-Stat"

/* Go's os.FileMode bits, as the engine sends them. */
#define GO_DIR			(1u << 31)
#define GO_SYMLINK		(1u << 27)
#define GO_DEVICE		(1u << 26)
#define GO_PIPE			(1u << 25)
#define GO_SOCKET		(1u << 24)
#define GO_SETUID		(1u << 23)
#define GO_SETGID		(1u << 22)
#define GO_CHARDEV		(1u << 21)
#define GO_STICKY		(1u << 20)
#define GO_IRREGULAR		(1u << 19)

/* Sets c's URL to /containers/<id>/archive?path=<path><extra>. */
static sbxd_code
archive_url(struct docker_call *c, const char *id, const char *path,
    const char *extra, struct err *e)
{
	char ref[DOCKER_URL_MAX / 4], p[DOCKER_URL_MAX / 2];
	sbxd_code rv;

	if (path == NULL || path[0] != '/')
		return err_set(e, SBXD_INVALID_ARGUMENT, "container path "
		    "must be absolute");
	if ((rv = docker_enc_ref(ref, sizeof(ref), "container id", id, e)) ||
	    (rv = docker_enc_ref(p, sizeof(p), "container path", path, e)))
		return rv;
	return docker_call_url(c, e, "/containers/%s/archive?path=%s%s", ref,
	    p, extra);
}

/* See driver.h. On failure tar is reset. */
sbxd_code
docker_archive_get(struct driver *d, const char *id, const char *path,
    struct buf *tar, struct err *e)
{
	struct docker_call c = { .method = "GET", .timeout_ms = ARCHIVE_CALL_MS,
	    .sink = docker_buf_sink, .sink_arg = tar, .max = tar->max };
	char what[128];
	sbxd_code rv;

	buf_reset(tar);
	snprintf(what, sizeof(what), "reading '%.80s' from container %.12s",
	    path ? path : "", id ? id : "");
	if ((rv = archive_url(&c, id, path, "", e)) != SBXD_OK ||
	    (rv = docker_call_perform(d->impl, &c, e)) != SBXD_OK)
		goto out;
	if (c.status != 200)
		rv = docker_status_err(c.status, tar, what, e);
out:
	if (rv != SBXD_OK)
		buf_reset(tar);
	return rv;
}

/* See driver.h. The engine answers 500 (not the documented 403) for a
 * read-only root filesystem: that is PERMISSION_DENIED here. */
sbxd_code
docker_archive_put(struct driver *d, const char *id, const char *dir,
    const void *tar, size_t len, struct err *e)
{
	struct docker_call c = { .method = "PUT", .timeout_ms = ARCHIVE_CALL_MS,
	    .tar = tar, .tar_len = len };
	struct err le = { SBXD_OK, "" };
	char what[128];
	sbxd_code rv;

	snprintf(what, sizeof(what), "writing into '%.80s' in container %.12s",
	    dir ? dir : "", id ? id : "");
	/* noOverwriteDirNonDir: a directory is never replaced by a file */
	if ((rv = archive_url(&c, id, dir, "&noOverwriteDirNonDir=true",
	    e)) != SBXD_OK)
		return rv;
	rv = docker_api(d->impl, &c, 200, 0, DOCKER_JSON_MAX, what, NULL, &le);
	if (rv == SBXD_INTERNAL && c.status == 500 &&
	    strstr(le.msg, "read-only") != NULL)
		return err_set(e, SBXD_PERMISSION_DENIED, "cannot write into "
		    "'%.300s': the container's root filesystem is read-only",
		    dir);
	if (rv != SBXD_OK && e != NULL)
		*e = le;
	return rv;
}

/* ---- path stat */

static int
b64_val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Decodes standard base64 (padding optional) into dst; -1 when malformed
 * or longer than n - 1 bytes. dst is NUL-terminated. */
static long
b64_decode(const char *s, size_t len, char *dst, size_t n)
{
	uint32_t acc = 0;
	size_t o = 0, i;
	int bits = 0, v;

	while (len > 0 && s[len - 1] == '=')
		len--;
	for (i = 0; i < len; i++) {
		if ((v = b64_val((unsigned char)s[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			if (o + 1 >= n)
				return -1;
			dst[o++] = (char)(acc >> bits & 0xff);
		}
	}
	dst[o] = '\0';
	return (long)o;
}

/* Go's FileMode to st_mode: file type and permission bits. */
static uint32_t
go_mode(uint32_t g)
{
	uint32_t m = g & 0777;

	if (g & GO_DIR)
		m |= S_IFDIR;
	else if (g & GO_SYMLINK)
		m |= S_IFLNK;
	else if (g & GO_PIPE)
		m |= S_IFIFO;
	else if (g & GO_SOCKET)
		m |= S_IFSOCK;
	else if (g & GO_DEVICE)
		m |= (g & GO_CHARDEV) ? S_IFCHR : S_IFBLK;
	else if (!(g & GO_IRREGULAR))
		m |= S_IFREG;
	if (g & GO_SETUID)
		m |= S_ISUID;
	if (g & GO_SETGID)
		m |= S_ISGID;
	if (g & GO_STICKY)
		m |= S_ISVTX;
	return m;
}

/* RFC 3339 ("2026-11-22T10:36:42.715469815Z", or with "+02:00") to ms
 * since the epoch; 0 when unparsable. */
static int64_t
rfc3339_ms(const char *s)
{
	struct tm tm = { 0 };
	int64_t ms = 0, scale = 100, t;
	int n = 0, oh = 0, om = 0;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	    &n) != 6)
		return 0;
	s += n;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			ms += (*s - '0') * scale;
	if ((*s == '+' || *s == '-') &&
	    sscanf(s + 1, "%2d:%2d", &oh, &om) == 2 && *s == '-')
		oh = -oh, om = -om;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = (int64_t)timegm(&tm) - (int64_t)oh * 3600 - (int64_t)om * 60;
	return t * 1000 + ms;
}

/* Fills out from the decoded header JSON. */
static sbxd_code
stat_fill(const char *json, struct driver_path_stat *out, const char *what,
    struct err *e)
{
	cJSON *root = cJSON_Parse(json);
	const cJSON *name, *mtime, *link;
	sbxd_code rv = SBXD_OK;

	name = cJSON_GetObjectItemCaseSensitive(root, "name");
	mtime = cJSON_GetObjectItemCaseSensitive(root, "mtime");
	link = cJSON_GetObjectItemCaseSensitive(root, "linkTarget");
	if (!cJSON_IsObject(root) || !cJSON_IsString(name) ||
	    !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "mode"))) {
		rv = err_set(e, SBXD_INTERNAL, "Docker engine sent a malformed "
		    "path stat %s", what);
		goto out;
	}
	if (strlen(name->valuestring) >= sizeof(out->name) ||
	    (cJSON_IsString(link) &&
	    strlen(link->valuestring) >= sizeof(out->link_target))) {
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "a name or link target "
		    "is too long %s", what);
		goto out;
	}
	snprintf(out->name, sizeof(out->name), "%s", name->valuestring);
	if (cJSON_IsString(link))
		snprintf(out->link_target, sizeof(out->link_target), "%s",
		    link->valuestring);
	out->size = (uint64_t)docker_json_int(root, "size", 0);
	out->mode = go_mode((uint32_t)docker_json_int(root, "mode", 0));
	out->mtime_ms = rfc3339_ms(cJSON_IsString(mtime) ?
	    mtime->valuestring : NULL);
out:
	cJSON_Delete(root);
	return rv;
}

/* See driver.h. A symlink is described, not followed (link_target is the
 * engine's resolution of it, absolute in the container). */
sbxd_code
docker_path_stat(struct driver *d, const char *id, const char *path,
    struct driver_path_stat *out, struct err *e)
{
	struct docker_call c = { .method = "HEAD", .timeout_ms = ARCHIVE_CALL_MS,
	    .sink = docker_buf_sink, .max = STAT_HDR_MAX,
	    .hdr_name = STAT_HDR };
	struct buf body, hdr;
	char what[128], *json = NULL;
	sbxd_code rv;

	memset(out, 0, sizeof(*out));
	buf_init(&body, DOCKER_JSON_MAX);
	buf_init(&hdr, STAT_HDR_MAX);
	c.sink_arg = &body;
	c.hdr_val = &hdr;
	snprintf(what, sizeof(what), "for '%.80s' in container %.12s",
	    path ? path : "", id ? id : "");
	if ((rv = archive_url(&c, id, path, "", e)) != SBXD_OK ||
	    (rv = docker_call_perform(d->impl, &c, e)) != SBXD_OK)
		goto out;
	if (c.status == 404) {
		rv = err_set(e, SBXD_NOT_FOUND, "File '%.300s' not found",
		    path);
		goto out;
	}
	if (c.status != 200) {
		snprintf(what, sizeof(what), "statting '%.80s' in container "
		    "%.12s", path, id);
		rv = docker_status_err(c.status, &body, what, e);
		goto out;
	}
	if ((json = malloc(STAT_JSON_MAX)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory");
		goto out;
	}
	if (hdr.len == 0 || b64_decode(hdr.data, hdr.len, json,
	    STAT_JSON_MAX) < 0) {
		rv = err_set(e, SBXD_INTERNAL, "Docker engine sent no usable "
		    "%s header %s", STAT_HDR, what);
		goto out;
	}
	rv = stat_fill(json, out, what, e);
out:
	free(json);
	buf_fini(&body);
	buf_fini(&hdr);
	return rv;
}
