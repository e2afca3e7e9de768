/*
 * docker.c — the Docker Engine driver: API 1.41 over the unix socket.
 *
 * This file owns the transport and the container operations. Requests go
 * through libcurl (CURLOPT_UNIX_SOCKET_PATH, http://localhost/v1.41/...)
 * on easy handles kept in a small mutex-protected pool, so concurrent
 * workers reuse keep-alive connections without per-call setup. JSON is
 * built and parsed with cJSON; every reply body has a ceiling, and going
 * over it is SBXD_RESOURCE_EXHAUSTED. Curl errors and HTTP statuses are
 * translated into sbxd codes here and nowhere else (mapping in driver.h).
 * On top of that sit ping, image lookup, container create, start, inspect,
 * stop, remove and list, and the driver's construction. Running a command
 * (exec) is docker_exec.c and the archive endpoints are docker_archive.c;
 * both reach the engine only through the request helpers this file
 * exports in docker_int.h.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "docker_ctable.h"
#include "docker_int.h"
#include "driver.h"
#include "err.h"
#include "metrics.h"

#define DOCKER_API		"http://localhost/v1.41"
#define DOCKER_LIST_MAX		(32u << 20)	/* ceiling on a container list */
#define DOCKER_POOL_MAX		32		/* idle easy handles kept */
#define DOCKER_CONNECT_MS	5000L
#define DOCKER_CALL_MS		120000L		/* any call but exec start */

struct docker {
	struct driver drv;		/* drv.impl points back here */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct curl_slist *hdrs;
	struct curl_slist *tar_hdrs;	/* for PUT: the body is a tar */
	pthread_mutex_t mu;		/* guards idle, nidle */
	CURL *idle[DOCKER_POOL_MAX];
	size_t nidle;
	struct ctable *ctable;		/* per-container records (docker_stats.c) */
	atomic_int draining;		/* set by docker_drain: foreground execs end */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- the handle pool */

static CURL *
handle_get(struct docker *dk)
{
	CURL *h = NULL;

	pthread_mutex_lock(&dk->mu);
	if (dk->nidle > 0)
		h = dk->idle[--dk->nidle];
	pthread_mutex_unlock(&dk->mu);
	return h != NULL ? h : curl_easy_init();
}

/* Returns h to the pool when its connection state is known good, else
 * destroys it (a transfer that failed may leave a half-read stream). */
static void
handle_put(struct docker *dk, CURL *h, int reusable)
{
	if (reusable) {
		pthread_mutex_lock(&dk->mu);
		if (dk->nidle < DOCKER_POOL_MAX) {
			dk->idle[dk->nidle++] = h;
			h = NULL;
		}
		pthread_mutex_unlock(&dk->mu);
	}
	if (h != NULL)
		curl_easy_cleanup(h);
}

/* ---- URLs */

/* Percent-encodes s (all but RFC 3986 unreserved bytes) into dst. */
static int
pct_encode(char *dst, size_t n, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL) {
			if (o + 1 >= n)
				return -1;
			dst[o++] = (char)c;
		} else {
			if (o + 3 >= n)
				return -1;
			dst[o++] = '%';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (o >= n)
		return -1;
	dst[o] = '\0';
	return 0;
}

/* See docker_int.h. */
sbxd_code
docker_call_url(struct docker_call *c, struct err *e, const char *fmt, ...)
{
	va_list ap;
	int n, m;

	m = snprintf(c->url, sizeof(c->url), "%s", DOCKER_API);
	va_start(ap, fmt);
	n = vsnprintf(c->url + m, sizeof(c->url) - (size_t)m, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(c->url) - (size_t)m)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "Docker API URL longer than %d bytes", DOCKER_URL_MAX);
	return SBXD_OK;
}

/* See docker_int.h. */
sbxd_code
docker_enc_ref(char *dst, size_t n, const char *what, const char *ref,
    struct err *e)
{
	if (ref == NULL || *ref == '\0')
		return err_set(e, SBXD_INVALID_ARGUMENT, "%s is empty", what);
	if (pct_encode(dst, n, ref) == -1)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "%s is too long (%zu bytes)", what, strlen(ref));
	return SBXD_OK;
}

/* ---- performing requests */

static sbxd_code
curl_err(struct docker *dk, const struct docker_call *c, long os_errno,
    const char *detail, struct err *e)
{
	const char *why = curl_easy_strerror(c->cc);

	/* curl's detail for a failed connect names "localhost port 80" */
	if (detail[0] != '\0' && c->cc != CURLE_COULDNT_CONNECT)
		why = detail;

	switch (c->cc) {
	case CURLE_WRITE_ERROR:
		return err_set(e, SBXD_RESOURCE_EXHAUSTED,
		    "Docker engine reply to %s %s exceeds %zu bytes",
		    c->method, c->url + sizeof(DOCKER_API) - 1, c->max);
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(e, SBXD_DEADLINE_EXCEEDED,
		    "Docker engine at %s did not answer %s %s within %ld ms; "
		    "is dockerd overloaded or hung?", dk->sock, c->method,
		    c->url + sizeof(DOCKER_API) - 1, c->timeout_ms);
	case CURLE_OUT_OF_MEMORY:
		return err_set(e, SBXD_INTERNAL, "out of memory talking to "
		    "the Docker engine");
	default:
		return err_set(e, SBXD_UNAVAILABLE,
		    "Docker engine not reachable at %s: %s%s%s; is dockerd "
		    "running and the socket accessible?", dk->sock, why,
		    os_errno ? ": " : "", os_errno ? strerror((int)os_errno) : "");
	}
}

/* Captures c->hdr_name's value into c->hdr_val (a HEADERFUNCTION). */
static size_t
hdr_sink(char *p, size_t size, size_t n, void *arg)
{
	struct docker_call *c = arg;
	size_t len = size * n, k = strlen(c->hdr_name);

	if (len <= k || p[k] != ':' || strncasecmp(p, c->hdr_name, k) != 0)
		return len;
	p += k + 1;
	len -= k + 1;
	while (len > 0 && (*p == ' ' || *p == '\t'))
		p++, len--;
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
	    p[len - 1] == ' '))
		len--;
	buf_reset(c->hdr_val);
	if (buf_add(c->hdr_val, p, len) != SBXD_OK)
		return 0;		/* curl answers CURLE_WRITE_ERROR */
	return size * n;
}

/* Sets the method-specific options of c on h. */
static void
set_method(struct docker *dk, struct docker_call *c, CURL *h)
{
	if (strcmp(c->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? c->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
		    (long)(c->body ? strlen(c->body) : 0));
	} else if (strcmp(c->method, "PUT") == 0) {
		/* the engine parses a form-typed body as a form: the tar
		 * would be swallowed and the call answer 200 having done
		 * nothing, so the type must be x-tar */
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, dk->tar_hdrs);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->tar ? c->tar : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)c->tar_len);
	} else if (strcmp(c->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(c->method, "DELETE") == 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	if (c->hdr_name != NULL && c->hdr_val != NULL) {
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, hdr_sink);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	}
}

/* See docker_int.h. */
sbxd_code
docker_call_perform(struct docker *dk, struct docker_call *c, struct err *e)
{
	char detail[CURL_ERROR_SIZE] = "";
	long os_errno = 0;
	uint64_t t0;
	CURL *h;

	c->status = 0;
	if ((h = handle_get(dk)) == NULL) {
		c->cc = CURLE_OUT_OF_MEMORY;
		return curl_err(dk, c, 0, detail, e);
	}
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, dk->sock);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, dk->hdrs);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, DOCKER_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, c->sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c->sink_arg);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
	if (c->progress != NULL) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, c->progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, c->progress_arg);
	}
	set_method(dk, c, h);
	c->h = h;
	t0 = metrics_now_us();
	c->cc = curl_easy_perform(h);
	metrics_engine_observe(metrics_now_us() - t0, c->cc != CURLE_OK);
	c->h = NULL;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	handle_put(dk, h, c->cc == CURLE_OK);
	if (c->cc != CURLE_OK)
		return curl_err(dk, c, os_errno, detail, e);
	return SBXD_OK;
}

size_t
docker_buf_sink(char *p, size_t size, size_t n, void *arg)
{
	if (buf_add(arg, p, size * n) != SBXD_OK)
		return 0;		/* curl answers CURLE_WRITE_ERROR */
	return size * n;
}

/* Copies the engine's "message" (or the raw body) into dst. */
static void
engine_msg(const struct buf *b, char *dst, size_t n)
{
	cJSON *root = NULL, *m;
	size_t i;

	snprintf(dst, n, "(no message)");
	if (b->len == 0)
		return;
	root = cJSON_ParseWithLength(b->data, b->len);
	m = cJSON_GetObjectItemCaseSensitive(root, "message");
	if (cJSON_IsString(m))
		snprintf(dst, n, "%s", m->valuestring);
	else
		snprintf(dst, n, "%.*s", (int)(b->len < n ? b->len : n), b->data);
	for (i = 0; dst[i] != '\0'; i++)
		if (dst[i] == '\n' || dst[i] == '\r')
			dst[i] = ' ';
	cJSON_Delete(root);
}

/* See docker_int.h. */
sbxd_code
docker_status_err(long status, const struct buf *body, const char *what,
    struct err *e)
{
	char m[320];

	engine_msg(body, m, sizeof(m));
	if (status == 400)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "Docker engine rejected %s: %s", what, m);
	if (status == 401 || status == 403)
		return err_set(e, SBXD_PERMISSION_DENIED,
		    "Docker engine refused %s: %s", what, m);
	if (status == 404)
		return err_set(e, SBXD_NOT_FOUND, "%s: %s", what, m);
	if (status == 409)
		return err_set(e, SBXD_FAILED_PRECONDITION, "%s: %s", what, m);
	return err_set(e, SBXD_INTERNAL,
	    "Docker engine failed %s (HTTP %ld): %s", what, status, m);
}

/* See docker_int.h. A timeout_ms of 0 becomes DOCKER_CALL_MS. */
sbxd_code
docker_api(struct docker *dk, struct docker_call *c, long ok1, long ok2,
    size_t max, const char *what, cJSON **root, struct err *e)
{
	struct buf b;
	sbxd_code rv;

	if (root != NULL)
		*root = NULL;
	buf_init(&b, max);
	c->sink = docker_buf_sink;
	c->sink_arg = &b;
	c->max = max;
	if (c->timeout_ms == 0)
		c->timeout_ms = DOCKER_CALL_MS;
	if ((rv = docker_call_perform(dk, c, e)) != SBXD_OK)
		goto out;
	if (c->status != ok1 && c->status != ok2) {
		rv = docker_status_err(c->status, &b, what, e);
		goto out;
	}
	if (root != NULL && (b.len == 0 ||
	    (*root = cJSON_ParseWithLength(b.data, b.len)) == NULL))
		rv = err_set(e, SBXD_INTERNAL,
		    "Docker engine sent malformed JSON %s", what);
out:
	buf_fini(&b);
	return rv;
}

static const char *
json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
docker_json_bool(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

int64_t
docker_json_int(const cJSON *o, const char *key, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

/* See docker_int.h. */
sbxd_code
docker_copy_str(const cJSON *o, const char *key, char *out, size_t n,
    const char *what, struct err *e)
{
	const char *s = json_str(o, key);

	if (s == NULL || *s == '\0' || strlen(s) >= n)
		return err_set(e, SBXD_INTERNAL, "Docker engine reply to %s has "
		    "no usable \"%s\"", what, key);
	memcpy(out, s, strlen(s) + 1);
	return SBXD_OK;
}

const char *
docker_sock_path(const struct docker *dk)
{
	return dk->sock;
}

/* ---- ping, image_present, start, stop, remove */

static sbxd_code
docker_ping(struct driver *d, struct err *e)
{
	struct docker_call c = { .method = "GET" };
	sbxd_code rv;

	if ((rv = docker_call_url(&c, e, "/_ping")) != SBXD_OK)
		return rv;
	return docker_api(d->impl, &c, 200, 0, DOCKER_JSON_MAX,
	    "answering a ping", NULL, e);
}

static sbxd_code
docker_image_present(struct driver *d, const char *image, int *present,
    struct err *e)
{
	struct docker_call c = { .method = "GET" };
	char ref[DOCKER_URL_MAX / 2];
	sbxd_code rv;

	*present = 0;
	if ((rv = docker_enc_ref(ref, sizeof(ref), "image name", image, e)) ||
	    (rv = docker_call_url(&c, e, "/images/%s/json", ref)) ||
	    (rv = docker_api(d->impl, &c, 200, 404, DOCKER_JSON_MAX,
	    "inspecting an image", NULL, e)))
		return rv;
	*present = c.status == 200;
	return SBXD_OK;
}

/* GET /info: the engine lists its OCI runtimes under Runtimes, by name. */
static sbxd_code
docker_engine_runtime(struct driver *d, const char *name, int *present, struct err *e)
{
	struct docker_call c = { .method = "GET" };
	cJSON *root = NULL, *rts;
	sbxd_code rv;

	*present = 0;
	if ((rv = docker_call_url(&c, e, "/info")) != SBXD_OK ||
	    (rv = docker_api(d->impl, &c, 200, 0, DOCKER_JSON_MAX,
	    "asking the engine for its runtimes", &root, e)) != SBXD_OK)
		return rv;
	rts = cJSON_GetObjectItemCaseSensitive(root, "Runtimes");
	*present = cJSON_IsObject(rts) && cJSON_GetObjectItemCaseSensitive(rts, name) != NULL;
	cJSON_Delete(root);
	return SBXD_OK;
}

/* POSTs to /containers/<id>/<verb>[query]; 204 and 304 are success. */
static sbxd_code
container_post(struct docker *dk, const char *id, const char *verb,
    const char *query, long timeout_ms, struct err *e)
{
	struct docker_call c = { .method = "POST", .timeout_ms = timeout_ms };
	char ref[DOCKER_URL_MAX / 2], what[128];
	sbxd_code rv;

	snprintf(what, sizeof(what), "%s container %.80s", verb, id ? id : "");
	if ((rv = docker_enc_ref(ref, sizeof(ref), "container id", id, e)) ||
	    (rv = docker_call_url(&c, e, "/containers/%s/%s%s", ref, verb,
	    query)))
		return rv;
	return docker_api(dk, &c, 204, 304, DOCKER_JSON_MAX, what, NULL, e);
}

static sbxd_code
docker_start(struct driver *d, const char *id, struct err *e)
{
	return container_post(d->impl, id, "start", "", 0, e);
}

static sbxd_code
docker_stop(struct driver *d, const char *id, int grace_s, struct err *e)
{
	char q[32];

	if (grace_s < 0)
		grace_s = 0;
	snprintf(q, sizeof(q), "?t=%d", grace_s);
	return container_post(d->impl, id, "stop", q,
	    DOCKER_CALL_MS + (long)grace_s * 1000, e);
}

static sbxd_code
docker_signal(struct driver *d, const char *id, int sig, struct err *e)
{
	char q[32];

	snprintf(q, sizeof(q), "?signal=%d", sig);
	return container_post(d->impl, id, "kill", q, 0, e);
}

/* The engine answers 409 for a container not running (pause) or not
 * paused (unpause): FAILED_PRECONDITION, as docker_api maps it. */
static sbxd_code
docker_pause(struct driver *d, const char *id, struct err *e)
{
	return container_post(d->impl, id, "pause", "", 0, e);
}

static sbxd_code
docker_unpause(struct driver *d, const char *id, struct err *e)
{
	return container_post(d->impl, id, "unpause", "", 0, e);
}

static sbxd_code
docker_remove(struct driver *d, const char *id, struct err *e)
{
	struct docker_call c = { .method = "DELETE" };
	char ref[DOCKER_URL_MAX / 2], what[128];
	struct err le = { SBXD_OK, "" };
	sbxd_code rv;

	snprintf(what, sizeof(what), "remove container %.80s", id ? id : "");
	if ((rv = docker_enc_ref(ref, sizeof(ref), "container id", id, e)) ||
	    (rv = docker_call_url(&c, e, "/containers/%s?force=1&v=1", ref)))
		return rv;
	rv = docker_api(d->impl, &c, 204, 404, DOCKER_JSON_MAX, what, NULL,
	    &le);
	if (rv != SBXD_OK && c.status == 409 &&
	    strstr(le.msg, "already in progress") != NULL)
		rv = SBXD_OK;		/* someone else is removing it */
	if (rv != SBXD_OK && e != NULL)
		*e = le;
	return rv;
}

/* ---- building bodies */

/*
 * JSON builders, shared with docker_exec.c. Each add_ returns 0 when cJSON
 * ran out of memory, so a body is sent whole or not at all: a container
 * created from a partial spec could silently lack its hardening.
 */
cJSON *
docker_str_array(const char *const *v)
{
	cJSON *a = cJSON_CreateArray(), *s;

	for (; a != NULL && v != NULL && *v != NULL; v++)
		if ((s = cJSON_CreateString(*v)) == NULL ||
		    !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

/* Adds item (taking it) under key, or to o when o is an array. */
int
docker_add_item(cJSON *o, const char *key, cJSON *item)
{
	if (item != NULL && (cJSON_IsArray(o) ? cJSON_AddItemToArray(o, item) :
	    cJSON_AddItemToObject(o, key, item)))
		return 1;
	cJSON_Delete(item);
	return 0;
}

int
docker_add_str(cJSON *o, const char *key, const char *val)
{
	return val == NULL || cJSON_AddStringToObject(o, key, val) != NULL;
}

static int
add_pos(cJSON *o, const char *key, int64_t val)
{
	return val <= 0 || cJSON_AddNumberToObject(o, key, (double)val) != NULL;
}

int
docker_add_bool(cJSON *o, const char *key, int val)
{
	return cJSON_AddBoolToObject(o, key, val != 0) != NULL;
}

/* ---- create */

/* The arrays of HostConfig: Ulimits and Mounts. */
static int
add_ulimit_mount(cJSON *hc, const struct driver_container_spec *s)
{
	cJSON *o, *mounts = NULL;
	int ok = 1;

	if (s->nofile > 0) {
		o = cJSON_CreateObject();
		ok &= docker_add_str(o, "Name", "nofile") &
		    add_pos(o, "Soft", s->nofile) & add_pos(o, "Hard", s->nofile);
		ok &= docker_add_item(cJSON_AddArrayToObject(hc, "Ulimits"),
		    NULL, o);
	}
	if (s->workspace_host != NULL || s->nmounts > 0)
		ok &= (mounts = cJSON_AddArrayToObject(hc, "Mounts")) != NULL;
	for (size_t i = 0; ok && i < s->nmounts; i++) {
		o = cJSON_CreateObject();
		ok &= docker_add_str(o, "Type", "bind") &
		    docker_add_str(o, "Source", s->mounts[i].source) &
		    docker_add_str(o, "Target", s->mounts[i].target) &
		    docker_add_bool(o, "ReadOnly", s->mounts[i].readonly) &
		    docker_add_item(mounts, NULL, o);
	}
	if (ok && s->workspace_host != NULL) {
		/* Mounts, not Binds: no ':' parsing of the host path, and a
		 * missing source is an error instead of a root-owned mkdir. */
		o = cJSON_CreateObject();
		ok &= docker_add_str(o, "Type", "bind") &
		    docker_add_str(o, "Source", s->workspace_host) &
		    docker_add_str(o, "Target", "/workspace") &
		    docker_add_bool(o, "ReadOnly", 0);
		if (s->workspace_propagation != NULL) {
			/* e.g. rslave: host mounts onto the source (a warm-pool
			 * slot) appear in the running container */
			cJSON *bo = cJSON_CreateObject();

			ok &= docker_add_str(bo, "Propagation", s->workspace_propagation) &
			    docker_add_item(o, "BindOptions", bo);
		}
		ok &= docker_add_item(mounts, NULL, o);
	}
	return ok;
}

/* Builds the HostConfig: the hardening lives here. */
static cJSON *
host_config(const struct driver_container_spec *s)
{
	cJSON *hc = cJSON_CreateObject(), *tmpfs = NULL;
	int ok = hc != NULL;

	if (s->drop_all_caps)
		ok &= docker_add_item(hc, "CapDrop",
		    docker_str_array((const char *const[]){ "ALL", NULL }));
	if (s->no_new_privileges)
		ok &= docker_add_item(hc, "SecurityOpt", docker_str_array(
		    (const char *const[]){ "no-new-privileges", NULL }));
	ok &= add_pos(hc, "PidsLimit", s->pids_limit) &
	    add_pos(hc, "Memory", s->memory_bytes) &
	    add_pos(hc, "MemorySwap", s->memory_bytes) &
	    add_pos(hc, "NanoCpus", s->nano_cpus) &
	    docker_add_str(hc, "NetworkMode", s->network_mode) &
	    docker_add_str(hc, "Runtime", s->oci_runtime) &
	    docker_add_bool(hc, "Init", s->init) &
	    docker_add_bool(hc, "ReadonlyRootfs", s->readonly_rootfs);
	if (s->tmpfs_tmp_opts != NULL || (s->tmpfs_home != NULL && s->tmpfs_home_opts != NULL))
		ok &= (tmpfs = cJSON_AddObjectToObject(hc, "Tmpfs")) != NULL;
	if (ok && s->tmpfs_tmp_opts != NULL)
		ok &= cJSON_AddStringToObject(tmpfs, "/tmp", s->tmpfs_tmp_opts) != NULL;
	if (ok && s->tmpfs_home != NULL && s->tmpfs_home_opts != NULL)
		ok &= cJSON_AddStringToObject(tmpfs, s->tmpfs_home, s->tmpfs_home_opts) != NULL;
	if (s->dns != NULL)
		ok &= docker_add_item(hc, "Dns", docker_str_array(s->dns));
	ok &= add_ulimit_mount(hc, s);
	if (!ok) {
		cJSON_Delete(hc);
		return NULL;
	}
	return hc;
}

/* The create body; NULL on allocation failure. Caller cJSON_free()s. */
static char *
create_body(const struct driver_container_spec *s)
{
	cJSON *root = cJSON_CreateObject(), *labels;
	char *out = NULL;
	int ok = root != NULL;
	size_t i;

	ok &= docker_add_str(root, "Image", s->image) &
	    docker_add_str(root, "User", s->user) &
	    docker_add_str(root, "WorkingDir", s->workdir);
	if (s->env != NULL)
		ok &= docker_add_item(root, "Env", docker_str_array(s->env));
	if (s->cmd != NULL)
		ok &= docker_add_item(root, "Cmd", docker_str_array(s->cmd));
	ok &= (labels = cJSON_AddObjectToObject(root, "Labels")) != NULL;
	for (i = 0; ok && i < s->nlabels; i++)
		ok &= s->labels[i].key != NULL && s->labels[i].value != NULL &&
		    docker_add_str(labels, s->labels[i].key,
		    s->labels[i].value);
	ok &= docker_add_item(root, "HostConfig", host_config(s));
	if (ok && s->ipv4_address != NULL && s->network_mode != NULL) {
		/* NetworkingConfig.EndpointsConfig[network].IPAMConfig.IPv4Address */
		cJSON *nc = cJSON_AddObjectToObject(root, "NetworkingConfig");
		cJSON *eps = nc ? cJSON_AddObjectToObject(nc, "EndpointsConfig") : NULL;
		cJSON *ep = eps ? cJSON_AddObjectToObject(eps, s->network_mode) : NULL;
		cJSON *ipam = ep ? cJSON_AddObjectToObject(ep, "IPAMConfig") : NULL;

		ok &= ipam != NULL && docker_add_str(ipam, "IPv4Address", s->ipv4_address);
	}
	if (ok)
		out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

/* A name already in use is SBXD_ALREADY_EXISTS; a missing image is
 * SBXD_NOT_FOUND. */
static sbxd_code
docker_create(struct driver *d, const struct driver_container_spec *spec,
    char id_out[DRIVER_ID_MAX], struct err *e)
{
	struct docker_call c = { .method = "POST" };
	char name[512], what[320], *body = NULL;
	struct err le = { SBXD_OK, "" };
	cJSON *root = NULL;
	sbxd_code rv;

	id_out[0] = '\0';
	snprintf(what, sizeof(what), "creating a container from image %.200s",
	    spec->image ? spec->image : "(none)");
	if (spec->image == NULL || *spec->image == '\0') {
		rv = err_set(e, SBXD_INVALID_ARGUMENT, "container spec has no image");
		goto out;
	}
	if (spec->name == NULL)
		rv = docker_call_url(&c, e, "/containers/create");
	else if ((rv = docker_enc_ref(name, sizeof(name), "container name",
	    spec->name, e)) == SBXD_OK)
		rv = docker_call_url(&c, e, "/containers/create?name=%s", name);
	if (rv != SBXD_OK)
		goto out;
	if ((c.body = body = create_body(spec)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory building a "
		    "container spec");
		goto out;
	}
	rv = docker_api(d->impl, &c, 201, 0, DOCKER_JSON_MAX, what, &root, &le);
	if (rv == SBXD_FAILED_PRECONDITION && c.status == 409)
		rv = le.code = SBXD_ALREADY_EXISTS;	/* name in use */
	if (rv != SBXD_OK) {
		if (e != NULL)
			*e = le;
		goto out;
	}
	rv = docker_copy_str(root, "Id", id_out, DRIVER_ID_MAX, what, e);
out:
	cJSON_Delete(root);
	cJSON_free(body);
	return rv;
}

/* ---- inspect and list */

static sbxd_code
fill_info(const cJSON *root, struct driver_container_info *out,
    const char *what, struct err *e)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "State");
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "Config");
	const char *image = json_str(cfg, "Image");
	sbxd_code rv;

	if ((rv = docker_copy_str(root, "Id", out->id, sizeof(out->id), what,
	    e)) ||
	    (rv = docker_copy_str(st, "Status", out->state, sizeof(out->state),
	    what, e)))
		return rv;
	if (image != NULL && strlen(image) >= sizeof(out->image))
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "image name of "
		    "container %s is longer than %zu bytes", out->id,
		    sizeof(out->image) - 1);
	snprintf(out->image, sizeof(out->image), "%s", image ? image : "");
	out->running = docker_json_bool(st, "Running");
	out->oom_killed = docker_json_bool(st, "OOMKilled");
	out->exit_code = (int)docker_json_int(st, "ExitCode", 0);
	out->pid = docker_json_int(st, "Pid", 0);
	return SBXD_OK;
}

static sbxd_code
docker_inspect(struct driver *d, const char *id,
    struct driver_container_info *out, struct err *e)
{
	struct docker_call c = { .method = "GET" };
	char ref[DOCKER_URL_MAX / 2], what[128];
	cJSON *root = NULL;
	sbxd_code rv;

	memset(out, 0, sizeof(*out));
	snprintf(what, sizeof(what), "inspecting container %.80s", id ? id : "");
	if ((rv = docker_enc_ref(ref, sizeof(ref), "container id", id, e)) ||
	    (rv = docker_call_url(&c, e, "/containers/%s/json", ref)) ||
	    (rv = docker_api(d->impl, &c, 200, 0, DOCKER_JSON_MAX, what, &root,
	    e)))
		goto out;
	rv = fill_info(root, out, what, e);
out:
	cJSON_Delete(root);
	return rv;
}

/* Calls cb for one element of the list reply. */
static sbxd_code
list_one(const cJSON *c, driver_list_cb cb, void *arg, struct err *e)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(c, "Labels"), *l;
	const char *id = json_str(c, "Id"), *state = json_str(c, "State");
	struct driver_label *lv = NULL;
	size_t n = 0;

	if (id == NULL)
		return err_set(e, SBXD_INTERNAL, "Docker engine listed a "
		    "container without an Id");
	if (cJSON_IsObject(labels)) {
		lv = calloc((size_t)cJSON_GetArraySize(labels) + 1, sizeof(*lv));
		if (lv == NULL)
			return err_set(e, SBXD_INTERNAL, "out of memory "
			    "listing containers");
		cJSON_ArrayForEach(l, labels)
			if (cJSON_IsString(l) && l->string != NULL)
				lv[n++] = (struct driver_label){ l->string,
				    l->valuestring };
	}
	cb(arg, id, state ? state : "", lv, n);
	free(lv);
	return SBXD_OK;
}

/* The strings passed to cb live until it returns. */
static sbxd_code
docker_list(struct driver *d, const char *key, const char *value,
    driver_list_cb cb, void *arg, struct err *e)
{
	struct docker_call c = { .method = "GET" };
	char kv[512], filt[1536], *fjson = NULL;
	cJSON *f = NULL, *root = NULL, *it;
	sbxd_code rv;

	if (key == NULL || value == NULL || (size_t)snprintf(kv, sizeof(kv),
	    "%s=%s", key, value) >= sizeof(kv)) {
		rv = err_set(e, SBXD_INVALID_ARGUMENT, "bad label filter");
		goto out;
	}
	f = cJSON_CreateObject();
	if (!docker_add_item(f, "label",
	    docker_str_array((const char *const[]){ kv, NULL })) ||
	    (fjson = cJSON_PrintUnformatted(f)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory listing containers");
		goto out;
	}
	if ((rv = docker_enc_ref(filt, sizeof(filt), "label filter", fjson,
	    e)) ||
	    (rv = docker_call_url(&c, e, "/containers/json?all=1&filters=%s",
	    filt)) ||
	    (rv = docker_api(d->impl, &c, 200, 0, DOCKER_LIST_MAX,
	    "listing containers", &root, e)))
		goto out;
	cJSON_ArrayForEach(it, root)
		if ((rv = list_one(it, cb, arg, e)) != SBXD_OK)
			goto out;
out:
	cJSON_Delete(root);
	cJSON_Delete(f);
	cJSON_free(fjson);
	return rv;
}

/* ---- construction */

struct ctable *
docker_ctable(struct docker *dk)
{
	return dk->ctable;
}

/* driver_ops.drain: see driver.h. */
static void
docker_drain(struct driver *d)
{
	struct docker *dk = d->impl;

	atomic_store(&dk->draining, 1);
}

int
docker_draining(struct docker *dk)
{
	return atomic_load(&dk->draining);
}

/* driver_ops.reserve: per-container tables hold this many containers. */
static void
docker_reserve(struct driver *d, size_t containers)
{
	struct docker *dk = d->impl;

	if (dk->ctable != NULL)
		ctable_reserve(dk->ctable, containers);
}

static void
docker_free(struct driver *d)
{
	struct docker *dk;

	if (d == NULL)
		return;
	dk = d->impl;
	while (dk->nidle > 0)
		curl_easy_cleanup(dk->idle[--dk->nidle]);
	curl_slist_free_all(dk->hdrs);
	curl_slist_free_all(dk->tar_hdrs);
	ctable_free(dk->ctable);
	pthread_mutex_destroy(&dk->mu);
	free(dk);
}

static const struct driver_ops docker_ops = {
	.ping = docker_ping,
	.image_present = docker_image_present,
	.engine_runtime = docker_engine_runtime,
	.create = docker_create,
	.start = docker_start,
	.inspect = docker_inspect,
	.stop = docker_stop,
	.remove = docker_remove,
	.exec = docker_exec,
	.list = docker_list,
	.archive_get = docker_archive_get,
	.archive_put = docker_archive_put,
	.path_stat = docker_path_stat,
	.stats = docker_stats,
	.exec_stdin = docker_exec_stdin,
	.proc_start = docker_proc_start,
	.proc_fd = docker_proc_fd,
	.proc_pump = docker_proc_pump,
	.proc_write_stdin = docker_proc_write_stdin,
	.proc_close_stdin = docker_proc_close_stdin,
	.proc_signal = docker_proc_signal,
	.proc_status = docker_proc_status,
	.proc_close = docker_proc_close,
	.proc_free = docker_proc_free,
	.commit = docker_commit,
	.image_remove = docker_image_remove,
	.pause = docker_pause,
	.unpause = docker_unpause,
	.image_size = docker_image_size,
	.image_list = docker_image_list,
	.events = docker_events,
	.reserve = docker_reserve,
	.drain = docker_drain,
	.net_create = docker_net_create,
	.net_remove = docker_net_remove,
	.net_connect = docker_net_connect,
	.signal = docker_signal,
	.free = docker_free,
};

/* See driver.h. Connects lazily: a down engine is UNAVAILABLE per call. */
sbxd_code
docker_driver_new(const char *sock_path, struct driver **out, struct err *e)
{
	struct docker *dk;

	*out = NULL;
	if (sock_path == NULL || *sock_path == '\0' ||
	    strlen(sock_path) >= sizeof(dk->sock))
		return err_set(e, SBXD_INVALID_ARGUMENT, "Docker socket path "
		    "must be 1 to %zu bytes", sizeof(dk->sock) - 1);
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return err_set(e, SBXD_INTERNAL, "libcurl init failed: %s",
		    curl_easy_strerror(curl_init_rc));
	if ((dk = calloc(1, sizeof(*dk))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	if (pthread_mutex_init(&dk->mu, NULL) != 0) {
		free(dk);
		return err_set(e, SBXD_INTERNAL, "pthread_mutex_init failed");
	}
	dk->drv.ops = &docker_ops;
	dk->drv.impl = dk;
	dk->ctable = ctable_new(docker_stats_record_size());
	memcpy(dk->sock, sock_path, strlen(sock_path) + 1);
	dk->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	dk->tar_hdrs = curl_slist_append(NULL, "Content-Type: application/x-tar");
	if (dk->hdrs == NULL || curl_slist_append(dk->hdrs, "Expect:") == NULL ||
	    dk->tar_hdrs == NULL ||
	    curl_slist_append(dk->tar_hdrs, "Expect:") == NULL) {
		docker_free(&dk->drv);
		return err_set(e, SBXD_INTERNAL, "out of memory");
	}
	*out = &dk->drv;
	return SBXD_OK;
}
