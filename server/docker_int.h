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
	curl_xferinfo_callback progress;	/* or NULL; non-zero ends the call */
	void *progress_arg;
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

/* What the engine says of one exec (docker_exec_inspect fills it). */
struct docker_exec_state {
	char id[DRIVER_ID_MAX];		/* the exec's id: set by the caller */
	char cid[DRIVER_ID_MAX];	/* the container's full id */
	int running;
	int has_exit;
	int exit_code;
	int64_t pid;			/* host pid of its first process */
};

/* 1 once driver_ops.drain ran: foreground execs are to end. */
int docker_draining(struct docker *dk);
/* The message of an exec ended by the drain, answered ABORTED: the
 * command ran and was killed, which a retry must not repeat. */

/* Monotonic milliseconds. */
uint64_t docker_now_ms(void);
/* Creates an exec of s (stdin attached when attach_stdin) and writes its
 * id to id_out; a stopped container is SBXD_FAILED_PRECONDITION. */
sbxd_code docker_exec_create(struct docker *dk, const struct driver_exec_spec *s,
    int attach_stdin, char id_out[DRIVER_ID_MAX], struct err *e);
/* Fills x (x->id set) from the engine. */
sbxd_code docker_exec_inspect(struct docker *dk, struct docker_exec_state *x,
    struct err *e);
/* After an exec's stream ended: re-inspects until the engine records the
 * exit; sets *timed_out instead when deadline (0 = none) passes first, or
 * to 2 when the driver drains (shutdown) first. */
sbxd_code docker_exec_wait_exit(struct docker *dk, struct docker_exec_state *x,
    uint64_t deadline, int *timed_out, struct err *e);
/* Sends sig from the host to every live process of x's process group that
 * is in x's container; returns how many (0 when x->pid is unknown). */
int docker_exec_signal(const struct docker_exec_state *x, int sig);
/* SIGKILLs x's process group until none of it is alive and the engine
 * says the exec ended (at most a few seconds; logs when it cannot). */
void docker_exec_kill(struct docker *dk, struct docker_exec_state *x);
/* buf_init()s res's buffers: cap per stream, twice that merged. */

/* ---- raw exec streams (docker_stream.c): driver_ops.exec_stdin and the
 * proc_ ops, as driver.h describes them. */

sbxd_code docker_exec_stdin(struct driver *d, const struct driver_exec_spec *spec,
    const void *in, size_t in_len, struct driver_exec_result *res, struct err *e);
sbxd_code docker_proc_start(struct driver *d, const struct driver_exec_spec *spec,
    struct driver_proc **out, struct err *e);
int docker_proc_fd(struct driver_proc *p);
sbxd_code docker_proc_pump(struct driver_proc *p, int *eof, struct err *e);
sbxd_code docker_proc_write_stdin(struct driver_proc *p, const void *data,
    size_t n, uint64_t timeout_ms, struct err *e);
sbxd_code docker_proc_close_stdin(struct driver_proc *p, struct err *e);
sbxd_code docker_proc_signal(struct driver_proc *p, int sig, int *n, struct err *e);
sbxd_code docker_proc_status(struct driver_proc *p, struct driver_proc_status *st,
    struct err *e);
void docker_proc_close(struct driver_proc *p);
void docker_proc_free(struct driver_proc *p);

/* The unix socket path of dk (docker.c), for connections curl does not
 * pool. */
const char *docker_sock_path(const struct docker *dk);

/* Parses the HTTP/1.x response head at the start of p[n]: 0 while it is
 * incomplete, -1 when malformed, else its length (through the blank
 * line); then *status is the status code and *content_length the
 * Content-Length (-1 without one). Pure; exported for unit tests. */
long docker_http_head(const char *p, size_t n, long *status,
    long long *content_length);

/* ---- archive endpoints (docker_archive.c): driver_ops.archive_get,
 * archive_put and path_stat, as driver.h describes them. */

sbxd_code docker_archive_get(struct driver *d, const char *id, const char *path,
    struct buf *tar, struct err *e);
sbxd_code docker_archive_put(struct driver *d, const char *id, const char *dir,
    const void *tar, size_t len, struct err *e);
sbxd_code docker_path_stat(struct driver *d, const char *id, const char *path,
    struct driver_path_stat *out, struct err *e);

/* The driver's per-container table (docker_ctable.h) of records of
 * docker_stats.c; NULL when it could not be made (stats then work, with
 * a fresh look at every call). */
struct ctable *docker_ctable(struct docker *dk);
/* The size of docker_stats.c's per-container record. */
size_t docker_stats_record_size(void);
/* ---- engine events (docker_events.c): driver_ops.events. */
sbxd_code docker_events(struct driver *d, const char *key, const char *value,
    int64_t since_ns, driver_event_cb cb, void *arg, atomic_int *stop,
    struct err *e);
/* ---- usage (docker_stats.c): driver_ops.stats, as driver.h describes it. */

sbxd_code docker_stats(struct driver *d, const char *id, struct driver_usage *out,
    struct err *e);

/* ---- images (docker_image.c): driver_ops.commit and image_remove, as
 * driver.h describes them. */

sbxd_code docker_commit(struct driver *d, const char *id,
    const struct driver_commit_spec *spec, struct err *e);
sbxd_code docker_image_remove(struct driver *d, const char *image, struct err *e);
sbxd_code docker_image_size(struct driver *d, const char *image, int64_t *size,
    struct err *e);
sbxd_code docker_image_list(struct driver *d, const char *key, const char *value,
    const char *want, driver_image_cb cb, void *arg, struct err *e);

/* ---- networks (docker_network.c): driver_ops.net_* */
sbxd_code docker_net_create(struct driver *d, const struct driver_network_spec *spec,
    struct err *e);
sbxd_code docker_net_remove(struct driver *d, const char *name, struct err *e);
sbxd_code docker_net_connect(struct driver *d, const char *name, const char *container,
    const char *ipv4, int connect, struct err *e);

#endif
