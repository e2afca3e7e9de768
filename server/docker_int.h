/*
 * docker_int.h — what docker.c and docker_exec.c share; not installed.
 *
 * docker.c owns the transport: the curl handle pool behind the opaque
 * struct docker, one request as a struct docker_call, reply ceilings, the
 * JSON helpers, and the translation of curl errors and HTTP statuses into
 * sbxd codes. docker_exec.c owns running a command and docker_archive.c
 * the archive endpoints; both reach the engine only through the functions
 * below. Nothing outside those files includes this header.
 */
#ifndef SBXD_DOCKER_INT_H
#define SBXD_DOCKER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "driver.h"
#include "err.h"

#define DOCKER_JSON_MAX		(4u << 20)	/* ceiling on one JSON reply */
#define DOCKER_URL_MAX		2048

/* The driver behind driver.impl; its fields are docker.c's. */
struct docker;

/* One HTTP request. The sink receives the body; status is the reply's. */
struct docker_call {
	const char *method;		/* "GET", "POST", "DELETE", "HEAD" or "PUT" */
	char url[DOCKER_URL_MAX];
	const char *body;		/* JSON for POST, or NULL */
	const void *tar;		/* PUT's body (application/x-tar) */
	size_t tar_len;
	const char *hdr_name;		/* a reply header to capture, or NULL */
	struct buf *hdr_val;		/* its value, trimmed; past its max the
					   call fails like an oversize body */
	long timeout_ms;		/* 0 = none */
	curl_write_callback sink;
	void *sink_arg;
	size_t max;			/* the sink's ceiling, for messages */
	CURL *h;			/* during perform */
	long status;
	CURLcode cc;
};

/* ---- requests (docker.c) */

/* Writes the API base + fmt into c->url; fmt's %s arguments must already
 * be encoded (docker_enc_ref). SBXD_INVALID_ARGUMENT when it does not fit. */
sbxd_code docker_call_url(struct docker_call *c, struct err *e,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Percent-encodes a container, exec or image reference (named what in
 * messages) into dst[n] for a URL path; empty or too long is
 * SBXD_INVALID_ARGUMENT. */
sbxd_code docker_enc_ref(char *dst, size_t n, const char *what,
    const char *ref, struct err *e);
/* Performs c, its URL, sink and timeout set, on a pooled handle; c->h is
 * the handle while the sink runs. On a transport failure (c->cc set) fills
 * e and returns its code; HTTP statuses in c->status are the caller's to
 * judge. */
sbxd_code docker_call_perform(struct docker *dk, struct docker_call *c,
    struct err *e);
/* The curl write callback appending to the struct buf arg under its max
 * (past it curl fails the call with CURLE_WRITE_ERROR). */
size_t docker_buf_sink(char *p, size_t size, size_t n, void *arg);
/* Maps an unexpected HTTP status to a code, quoting the engine's message
 * from body; what says what was attempted ("starting container abc"). */
sbxd_code docker_status_err(long status, const struct buf *body,
    const char *what, struct err *e);
/* Performs c (its URL set) with a reply bounded by max. Statuses ok1 and
 * ok2 are success; then, if root is not NULL, the reply is parsed into
 * *root, the caller's to cJSON_Delete (NULL on failure). Other statuses
 * go through docker_status_err; c->status says which came. */
sbxd_code docker_api(struct docker *dk, struct docker_call *c, long ok1,
    long ok2, size_t max, const char *what, cJSON **root, struct err *e);

/* ---- reading replies (docker.c) */

/* 1 when o's key is true. */
int docker_json_bool(const cJSON *o, const char *key);
/* o's number under key, or dflt. */
int64_t docker_json_int(const cJSON *o, const char *key, int64_t dflt);
/* Copies the string under key into out[n]; fails (SBXD_INTERNAL, naming
 * what) unless it is non-empty and fits. */
sbxd_code docker_copy_str(const cJSON *o, const char *key, char *out,
    size_t n, const char *what, struct err *e);

/* ---- building bodies (docker.c). Each docker_add_ returns 0 when cJSON
 * ran out of memory, so a body is sent whole or not at all. */

/* A JSON array of the NULL-terminated strings v (NULL v: empty); NULL on
 * allocation failure. */
cJSON *docker_str_array(const char *const *v);
/* Adds item (taking it, NULL allowed) under key, or to o when o is an
 * array. */
int docker_add_item(cJSON *o, const char *key, cJSON *item);
/* Adds key: val; a NULL val is left out. */
int docker_add_str(cJSON *o, const char *key, const char *val);
int docker_add_bool(cJSON *o, const char *key, int val);

/* ---- exec (docker_exec.c) */

/* driver_ops.exec. max_output 0 means a 1 MiB cap per stream. A timeout
 * is not an error: SBXD_OK with timed_out set, exit_code 124 and the
 * output so far. */
sbxd_code docker_exec(struct driver *d, const struct driver_exec_spec *spec,
    struct driver_exec_result *res, struct err *e);

/* ---- archive endpoints (docker_archive.c): driver_ops.archive_get,
 * archive_put and path_stat, as driver.h describes them. */

sbxd_code docker_archive_get(struct driver *d, const char *id, const char *path,
    struct buf *tar, struct err *e);
sbxd_code docker_archive_put(struct driver *d, const char *id, const char *dir,
    const void *tar, size_t len, struct err *e);
sbxd_code docker_path_stat(struct driver *d, const char *id, const char *path,
    struct driver_path_stat *out, struct err *e);

#endif
