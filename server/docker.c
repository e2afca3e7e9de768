/*
 * docker.c — the Docker Engine driver: API 1.41 over the unix socket.
 *
 * This file owns every byte sbxd exchanges with dockerd. Requests go
 * through libcurl (CURLOPT_UNIX_SOCKET_PATH, http://localhost/v1.41/...)
 * on easy handles kept in a small mutex-protected pool, so concurrent
 * workers reuse keep-alive connections without per-call setup. JSON is
 * built and parsed with cJSON; every reply body has a ceiling, and going
 * over it is SBXD_RESOURCE_EXHAUSTED. Curl errors and HTTP statuses are
 * translated into sbxd codes here and nowhere else (mapping in driver.h).
 *
 * Exec is create -> start (the multiplexed stream is demultiplexed as it
 * arrives, under per-stream caps, never buffered whole) -> inspect for the
 * exit code. There is no exec-kill API: on timeout every live process of
 * the exec's process group (found through /proc, and checked through
 * /proc/<pid>/cgroup to belong to the container) is sent SIGKILL from the
 * host. That needs sbxd in the host's pid namespace with the right to
 * signal the container's processes (root on the host); processes that
 * left the group (setsid) survive until the container stops.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "driver.h"
#include "err.h"
#include "log.h"

#define DOCKER_API		"http://localhost/v1.41"
#define DOCKER_JSON_MAX		(4u << 20)	/* ceiling on one JSON reply */
#define DOCKER_LIST_MAX		(32u << 20)	/* ceiling on a container list */
#define DOCKER_ERRBODY_MAX	(64u << 10)	/* error body kept from exec start */
#define DOCKER_URL_MAX		2048
#define DOCKER_POOL_MAX		32		/* idle easy handles kept */
#define DOCKER_CONNECT_MS	5000L
#define DOCKER_CALL_MS		120000L		/* any call but exec start */
#define DOCKER_OUTPUT_DEFAULT	(1u << 20)	/* max_output when 0 */
#define DOCKER_TIMEOUT_MAX	0x7fffffffu	/* ms (24 days): fits a long */
#define DOCKER_KILL_WAIT_MS	3000		/* group death after SIGKILL */
#define DOCKER_CGROUP_MAX	8192		/* bytes read of /proc/pid/cgroup */

struct docker {
	struct driver drv;		/* drv.impl points back here */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct curl_slist *hdrs;
	pthread_mutex_t mu;		/* guards idle, nidle */
	CURL *idle[DOCKER_POOL_MAX];
	size_t nidle;
};

/* One HTTP request. The sink receives the body; status is the reply's. */
struct call {
	const char *method;		/* "GET", "POST" or "DELETE" */
	char url[DOCKER_URL_MAX];
	const char *body;		/* JSON for POST, or NULL */
	long timeout_ms;		/* 0 = none */
	curl_write_callback sink;
	void *sink_arg;
	size_t max;			/* the sink's ceiling, for messages */
	CURL *h;			/* during perform */
	long status;
	CURLcode cc;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
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

/* Writes DOCKER_API + fmt into c->url; fmt's %s arguments must already be
 * encoded. */
static sbxd_code
call_url(struct call *c, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sbxd_code
call_url(struct call *c, struct err *e, const char *fmt, ...)
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

/* Encodes a container, exec or image reference for a URL path. */
static sbxd_code
enc_ref(char *dst, size_t n, const char *what, const char *ref, struct err *e)
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
curl_err(struct docker *dk, const struct call *c, long os_errno,
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

/* Performs c on a pooled handle. On a transport failure (c->cc set) fills
 * e and returns its code; HTTP statuses are the caller's to judge. */
static sbxd_code
call_perform(struct docker *dk, struct call *c, struct err *e)
{
	char detail[CURL_ERROR_SIZE] = "";
	long os_errno = 0;
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
	if (strcmp(c->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? c->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
		    (long)(c->body ? strlen(c->body) : 0));
	} else if (strcmp(c->method, "DELETE") == 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	c->h = h;
	c->cc = curl_easy_perform(h);
	c->h = NULL;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	handle_put(dk, h, c->cc == CURLE_OK);
	if (c->cc != CURLE_OK)
		return curl_err(dk, c, os_errno, detail, e);
	return SBXD_OK;
}

static size_t
jsink_write(char *p, size_t size, size_t n, void *arg)
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

/* Maps an unexpected HTTP status to a code, quoting the engine; what says
 * what was attempted ("starting container abc"). */
static sbxd_code
status_err(long status, const struct buf *body, const char *what,
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

/* Performs c (its URL set) with a reply bounded by max. Statuses ok1 and
 * ok2 are success; then, if root is not NULL, the reply is parsed into
 * *root, the caller's to cJSON_Delete (NULL on failure). Other statuses
 * go through status_err; c->status says which came. */
static sbxd_code
api(struct docker *dk, struct call *c, long ok1, long ok2, size_t max,
    const char *what, cJSON **root, struct err *e)
{
	struct buf b;
	sbxd_code rv;

	if (root != NULL)
		*root = NULL;
	buf_init(&b, max);
	c->sink = jsink_write;
	c->sink_arg = &b;
	c->max = max;
	if (c->timeout_ms == 0)
		c->timeout_ms = DOCKER_CALL_MS;
	if ((rv = call_perform(dk, c, e)) != SBXD_OK)
		goto out;
	if (c->status != ok1 && c->status != ok2) {
		rv = status_err(c->status, &b, what, e);
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

static int
json_bool(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int64_t
json_int(const cJSON *o, const char *key, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

/* Copies the string under key into out[n]; fails unless it is non-empty
 * and fits. */
static sbxd_code
copy_str(const cJSON *o, const char *key, char *out, size_t n,
    const char *what, struct err *e)
{
	const char *s = json_str(o, key);

	if (s == NULL || *s == '\0' || strlen(s) >= n)
		return err_set(e, SBXD_INTERNAL, "Docker engine reply to %s has "
		    "no usable \"%s\"", what, key);
	memcpy(out, s, strlen(s) + 1);
	return SBXD_OK;
}

/* ---- ping, image_present, start, stop, remove */

static sbxd_code
docker_ping(struct driver *d, struct err *e)
{
	struct call c = { .method = "GET" };
	sbxd_code rv;

	if ((rv = call_url(&c, e, "/_ping")) != SBXD_OK)
		return rv;
	return api(d->impl, &c, 200, 0, DOCKER_JSON_MAX, "answering a ping",
	    NULL, e);
}

static sbxd_code
docker_image_present(struct driver *d, const char *image, int *present,
    struct err *e)
{
	struct call c = { .method = "GET" };
	char ref[DOCKER_URL_MAX / 2];
	sbxd_code rv;

	*present = 0;
	if ((rv = enc_ref(ref, sizeof(ref), "image name", image, e)) ||
	    (rv = call_url(&c, e, "/images/%s/json", ref)) ||
	    (rv = api(d->impl, &c, 200, 404, DOCKER_JSON_MAX,
	    "inspecting an image", NULL, e)))
		return rv;
	*present = c.status == 200;
	return SBXD_OK;
}

/* POSTs to /containers/<id>/<verb>[query]; 204 and 304 are success. */
static sbxd_code
container_post(struct docker *dk, const char *id, const char *verb,
    const char *query, long timeout_ms, struct err *e)
{
	struct call c = { .method = "POST", .timeout_ms = timeout_ms };
	char ref[DOCKER_URL_MAX / 2], what[128];
	sbxd_code rv;

	snprintf(what, sizeof(what), "%s container %.80s", verb, id ? id : "");
	if ((rv = enc_ref(ref, sizeof(ref), "container id", id, e)) ||
	    (rv = call_url(&c, e, "/containers/%s/%s%s", ref, verb, query)))
		return rv;
	return api(dk, &c, 204, 304, DOCKER_JSON_MAX, what, NULL, e);
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
docker_remove(struct driver *d, const char *id, struct err *e)
{
	struct call c = { .method = "DELETE" };
	char ref[DOCKER_URL_MAX / 2], what[128];
	struct err le = { SBXD_OK, "" };
	sbxd_code rv;

	snprintf(what, sizeof(what), "remove container %.80s", id ? id : "");
	if ((rv = enc_ref(ref, sizeof(ref), "container id", id, e)) ||
	    (rv = call_url(&c, e, "/containers/%s?force=1&v=1", ref)))
		return rv;
	rv = api(d->impl, &c, 204, 404, DOCKER_JSON_MAX, what, NULL, &le);
	if (rv != SBXD_OK && c.status == 409 &&
	    strstr(le.msg, "already in progress") != NULL)
		rv = SBXD_OK;		/* someone else is removing it */
	if (rv != SBXD_OK && e != NULL)
		*e = le;
	return rv;
}

/* ---- create */

/*
 * JSON builders. Each add_ returns 0 when cJSON ran out of memory, so a
 * body is sent whole or not at all: a container created from a partial
 * spec could silently lack its hardening.
 */
static cJSON *
str_array(const char *const *v)
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
static int
add_item(cJSON *o, const char *key, cJSON *item)
{
	if (item != NULL && (cJSON_IsArray(o) ? cJSON_AddItemToArray(o, item) :
	    cJSON_AddItemToObject(o, key, item)))
		return 1;
	cJSON_Delete(item);
	return 0;
}

static int
add_str(cJSON *o, const char *key, const char *val)
{
	return val == NULL || cJSON_AddStringToObject(o, key, val) != NULL;
}

static int
add_pos(cJSON *o, const char *key, int64_t val)
{
	return val <= 0 || cJSON_AddNumberToObject(o, key, (double)val) != NULL;
}

static int
add_bool(cJSON *o, const char *key, int val)
{
	return cJSON_AddBoolToObject(o, key, val != 0) != NULL;
}

/* The one-element arrays of HostConfig: Ulimits and Mounts. */
static int
add_ulimit_mount(cJSON *hc, const struct driver_container_spec *s)
{
	cJSON *o;
	int ok = 1;

	if (s->nofile > 0) {
		o = cJSON_CreateObject();
		ok &= add_str(o, "Name", "nofile") &
		    add_pos(o, "Soft", s->nofile) & add_pos(o, "Hard", s->nofile);
		ok &= add_item(cJSON_AddArrayToObject(hc, "Ulimits"), NULL, o);
	}
	if (s->workspace_host != NULL) {
		/* Mounts, not Binds: no ':' parsing of the host path, and a
		 * missing source is an error instead of a root-owned mkdir. */
		o = cJSON_CreateObject();
		ok &= add_str(o, "Type", "bind") &
		    add_str(o, "Source", s->workspace_host) &
		    add_str(o, "Target", "/workspace") &
		    add_bool(o, "ReadOnly", 0);
		ok &= add_item(cJSON_AddArrayToObject(hc, "Mounts"), NULL, o);
	}
	return ok;
}

/* Builds the HostConfig: the hardening lives here. */
static cJSON *
host_config(const struct driver_container_spec *s)
{
	cJSON *hc = cJSON_CreateObject();
	int ok = hc != NULL;

	if (s->drop_all_caps)
		ok &= add_item(hc, "CapDrop",
		    str_array((const char *const[]){ "ALL", NULL }));
	if (s->no_new_privileges)
		ok &= add_item(hc, "SecurityOpt",
		    str_array((const char *const[]){ "no-new-privileges", NULL }));
	ok &= add_pos(hc, "PidsLimit", s->pids_limit) &
	    add_pos(hc, "Memory", s->memory_bytes) &
	    add_pos(hc, "MemorySwap", s->memory_bytes) &
	    add_pos(hc, "NanoCpus", s->nano_cpus) &
	    add_str(hc, "NetworkMode", s->network_mode) &
	    add_bool(hc, "Init", s->init) &
	    add_bool(hc, "ReadonlyRootfs", s->readonly_rootfs);
	if (s->tmpfs_tmp_opts != NULL)
		ok &= cJSON_AddStringToObject(cJSON_AddObjectToObject(hc,
		    "Tmpfs"), "/tmp", s->tmpfs_tmp_opts) != NULL;
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

	ok &= add_str(root, "Image", s->image) & add_str(root, "User", s->user) &
	    add_str(root, "WorkingDir", s->workdir);
	if (s->env != NULL)
		ok &= add_item(root, "Env", str_array(s->env));
	ok &= (labels = cJSON_AddObjectToObject(root, "Labels")) != NULL;
	for (i = 0; ok && i < s->nlabels; i++)
		ok &= s->labels[i].key != NULL && s->labels[i].value != NULL &&
		    add_str(labels, s->labels[i].key, s->labels[i].value);
	ok &= add_item(root, "HostConfig", host_config(s));
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
	struct call c = { .method = "POST" };
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
		rv = call_url(&c, e, "/containers/create");
	else if ((rv = enc_ref(name, sizeof(name), "container name",
	    spec->name, e)) == SBXD_OK)
		rv = call_url(&c, e, "/containers/create?name=%s", name);
	if (rv != SBXD_OK)
		goto out;
	if ((c.body = body = create_body(spec)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory building a "
		    "container spec");
		goto out;
	}
	rv = api(d->impl, &c, 201, 0, DOCKER_JSON_MAX, what, &root, &le);
	if (rv == SBXD_FAILED_PRECONDITION && c.status == 409)
		rv = le.code = SBXD_ALREADY_EXISTS;	/* name in use */
	if (rv != SBXD_OK) {
		if (e != NULL)
			*e = le;
		goto out;
	}
	rv = copy_str(root, "Id", id_out, DRIVER_ID_MAX, what, e);
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

	if ((rv = copy_str(root, "Id", out->id, sizeof(out->id), what, e)) ||
	    (rv = copy_str(st, "Status", out->state, sizeof(out->state),
	    what, e)))
		return rv;
	if (image != NULL && strlen(image) >= sizeof(out->image))
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "image name of "
		    "container %s is longer than %zu bytes", out->id,
		    sizeof(out->image) - 1);
	snprintf(out->image, sizeof(out->image), "%s", image ? image : "");
	out->running = json_bool(st, "Running");
	out->oom_killed = json_bool(st, "OOMKilled");
	out->exit_code = (int)json_int(st, "ExitCode", 0);
	out->pid = json_int(st, "Pid", 0);
	return SBXD_OK;
}

static sbxd_code
docker_inspect(struct driver *d, const char *id,
    struct driver_container_info *out, struct err *e)
{
	struct call c = { .method = "GET" };
	char ref[DOCKER_URL_MAX / 2], what[128];
	cJSON *root = NULL;
	sbxd_code rv;

	memset(out, 0, sizeof(*out));
	snprintf(what, sizeof(what), "inspecting container %.80s", id ? id : "");
	if ((rv = enc_ref(ref, sizeof(ref), "container id", id, e)) ||
	    (rv = call_url(&c, e, "/containers/%s/json", ref)) ||
	    (rv = api(d->impl, &c, 200, 0, DOCKER_JSON_MAX, what, &root, e)))
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
	struct call c = { .method = "GET" };
	char kv[512], filt[1536], *fjson = NULL;
	cJSON *f = NULL, *root = NULL, *it;
	sbxd_code rv;

	if (key == NULL || value == NULL || (size_t)snprintf(kv, sizeof(kv),
	    "%s=%s", key, value) >= sizeof(kv)) {
		rv = err_set(e, SBXD_INVALID_ARGUMENT, "bad label filter");
		goto out;
	}
	f = cJSON_CreateObject();
	if (!add_item(f, "label", str_array((const char *const[]){ kv, NULL })) ||
	    (fjson = cJSON_PrintUnformatted(f)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory listing containers");
		goto out;
	}
	if ((rv = enc_ref(filt, sizeof(filt), "label filter", fjson, e)) ||
	    (rv = call_url(&c, e, "/containers/json?all=1&filters=%s", filt)) ||
	    (rv = api(d->impl, &c, 200, 0, DOCKER_LIST_MAX,
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

/* ---- exec */

struct exec_state {
	char id[DRIVER_ID_MAX];		/* the exec's id */
	char cid[DRIVER_ID_MAX];	/* the container's full id */
	int running;
	int has_exit;
	int exit_code;
	int64_t pid;
};

/* The exec start sink: demultiplexes a 200 body, keeps an error body. */
struct xsink {
	struct call *c;
	struct docker_demux dm;
	struct driver_exec_result *res;
	long status;
	struct buf errbody;
};

static size_t
xsink_write(char *p, size_t size, size_t n, void *arg)
{
	struct xsink *xs = arg;

	if (xs->status == 0)
		curl_easy_getinfo(xs->c->h, CURLINFO_RESPONSE_CODE, &xs->status);
	if (xs->status == 200)
		docker_demux_feed(&xs->dm, p, size * n, xs->res);
	else
		buf_add_capped(&xs->errbody, p, size * n);
	return size * n;
}

/* The exec create body; NULL on allocation failure. Caller cJSON_free()s. */
static char *
exec_body(const struct driver_exec_spec *s)
{
	cJSON *o = cJSON_CreateObject();
	char *out = NULL;
	int ok = o != NULL;

	ok &= add_bool(o, "AttachStdin", 0) & add_bool(o, "AttachStdout", 1) &
	    add_bool(o, "AttachStderr", 1) & add_bool(o, "Tty", 0) &
	    add_item(o, "Cmd", str_array(s->argv)) &
	    add_str(o, "User", s->user) & add_str(o, "WorkingDir", s->workdir);
	if (s->env != NULL)
		ok &= add_item(o, "Env", str_array(s->env));
	if (ok)
		out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

/* A stopped container is SBXD_FAILED_PRECONDITION (409). */
static sbxd_code
exec_create(struct docker *dk, const struct driver_exec_spec *s,
    char id_out[DRIVER_ID_MAX], struct err *e)
{
	struct call c = { .method = "POST" };
	char ref[DOCKER_URL_MAX / 2], what[128], *body = NULL;
	cJSON *root = NULL;
	sbxd_code rv;

	snprintf(what, sizeof(what), "exec in container %.80s",
	    s->container_id ? s->container_id : "");
	if ((rv = enc_ref(ref, sizeof(ref), "container id", s->container_id,
	    e)) || (rv = call_url(&c, e, "/containers/%s/exec", ref)))
		goto out;
	if ((c.body = body = exec_body(s)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory building an exec");
		goto out;
	}
	if ((rv = api(dk, &c, 201, 0, DOCKER_JSON_MAX, what, &root, e)) ||
	    (rv = copy_str(root, "Id", id_out, DRIVER_ID_MAX, what, e)))
		goto out;
	if (strspn(id_out, "0123456789abcdef") != strlen(id_out))
		rv = err_set(e, SBXD_INTERNAL, "Docker engine returned a "
		    "malformed exec id for %s", what);	/* it goes in URLs */
out:
	cJSON_Delete(root);
	cJSON_free(body);
	return rv;
}

/* Runs the exec, streaming into res. *timed_out is set (and SBXD_OK
 * returned) when timeout_ms passed before the stream ended. */
static sbxd_code
exec_start(struct docker *dk, const char *xid, long timeout_ms,
    struct driver_exec_result *res, int *timed_out, struct err *e)
{
	struct call c = { .method = "POST", .timeout_ms = timeout_ms,
	    .body = "{\"Detach\":false,\"Tty\":false}" };
	struct xsink xs = { .c = &c, .res = res };
	sbxd_code rv;

	*timed_out = 0;
	buf_init(&xs.errbody, DOCKER_ERRBODY_MAX);
	docker_demux_init(&xs.dm);
	c.sink = xsink_write;
	c.sink_arg = &xs;
	if ((rv = call_url(&c, e, "/exec/%s/start", xid)) != SBXD_OK)
		goto out;
	rv = call_perform(dk, &c, e);
	if (c.cc == CURLE_OPERATION_TIMEDOUT && (c.status == 0 ||
	    c.status == 200)) {
		*timed_out = 1;
		err_clear(e);
		rv = SBXD_OK;
	}
	if (rv == SBXD_OK && !*timed_out && c.status != 200)
		rv = status_err(c.status, &xs.errbody, "starting an exec", e);
	if (xs.dm.bad)
		log_warnx("exec %.12s: malformed stream frame from the Docker "
		    "engine; output after it was dropped", xid);
out:
	buf_fini(&xs.errbody);
	return rv;
}

static sbxd_code
exec_inspect(struct docker *dk, struct exec_state *x, struct err *e)
{
	struct call c = { .method = "GET" };
	const char *what = "inspecting an exec";
	cJSON *root = NULL, *code;
	sbxd_code rv;

	if ((rv = call_url(&c, e, "/exec/%s/json", x->id)) ||
	    (rv = api(dk, &c, 200, 0, DOCKER_JSON_MAX, what, &root, e)))
		goto out;
	x->running = json_bool(root, "Running");
	x->pid = json_int(root, "Pid", 0);
	code = cJSON_GetObjectItemCaseSensitive(root, "ExitCode");
	x->has_exit = cJSON_IsNumber(code);
	x->exit_code = x->has_exit ? code->valueint : -1;
	rv = copy_str(root, "ContainerID", x->cid, sizeof(x->cid), what, e);
out:
	cJSON_Delete(root);
	return rv;
}

/* Waits for the exit of an exec whose stream ended: the engine records it
 * a little later, and a process may close its output and go on. Sets
 * *timed_out instead when deadline (0 = none) passes first. */
static sbxd_code
exec_wait_exit(struct docker *dk, struct exec_state *x, uint64_t deadline,
    int *timed_out, struct err *e)
{
	long nap = 1;
	uint64_t now;
	sbxd_code rv;

	for (;;) {
		if ((rv = exec_inspect(dk, x, e)) != SBXD_OK)
			return rv;
		if (!x->running && x->has_exit)
			return SBXD_OK;
		now = now_ms();
		if (deadline != 0 && now >= deadline) {
			*timed_out = 1;
			return SBXD_OK;
		}
		if (deadline != 0 && (uint64_t)nap > deadline - now)
			nap = (long)(deadline - now);
		sleep_ms(nap);
		nap = nap < 64 ? nap * 2 : 64;
	}
}

/* 1 when host pid belongs to the container cid (guards against a reused
 * pid and against running outside the host's pid namespace). */
static int
pid_in_container(long pid, const char *cid)
{
	char path[64], data[DOCKER_CGROUP_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cgroup", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	data[n] = '\0';
	return strlen(cid) >= 12 && strstr(data, cid) != NULL;
}

/* The process group of a live (not zombie) host pid, or -1. */
static long
proc_pgrp(long pid)
{
	char path[64], data[1024], *p, state;
	long pgrp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	data[n] = '\0';
	if ((p = strrchr(data, ')')) == NULL ||	/* comm may hold spaces */
	    sscanf(p + 1, " %c %*d %ld", &state, &pgrp) != 2 ||
	    state == 'Z' || state == 'X')
		return -1;
	return pgrp;
}

/* SIGKILLs every live process of group pgid that is in container cid
 * (the leader may be gone while children it started hold on); returns
 * how many it signalled. */
static int
kill_group(long pgid, const char *cid)
{
	struct dirent *de;
	DIR *dir;
	long pid;
	char *end;
	int n = 0;

	if ((dir = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 1 || proc_pgrp(pid) != pgid ||
		    !pid_in_container(pid, cid))
			continue;
		if (kill((pid_t)pid, SIGKILL) == 0)
			n++;
	}
	closedir(dir);
	return n;
}

/* Kills what is left of a timed-out exec until nothing of its process
 * group is alive and the engine reports it ended. */
static void
exec_kill(struct docker *dk, struct exec_state *x)
{
	uint64_t t0 = now_ms();
	int n, killed = 0;
	struct err e;

	for (;;) {
		if (exec_inspect(dk, x, &e) != SBXD_OK) {
			log_warnx("exec %.12s timed out and cannot be "
			    "inspected to kill it: %s", x->id, e.msg);
			return;
		}
		n = x->pid > 1 ? kill_group((long)x->pid, x->cid) : 0;
		if (n == 0 && !x->running && x->pid > 1)
			return;
		if (n == 0 && x->running && x->pid > 1 && !killed) {
			log_warnx("exec %.12s: pid %lld is not visible as a "
			    "process of container %.12s; run sbxd in the "
			    "host's pid namespace", x->id, (long long)x->pid,
			    x->cid);
			return;
		}
		killed |= n > 0;
		if (now_ms() - t0 > DOCKER_KILL_WAIT_MS) {
			log_warnx("exec %.12s still running %d ms after it "
			    "timed out", x->id, DOCKER_KILL_WAIT_MS);
			return;
		}
		sleep_ms(10);
	}
}

static void
exec_result_init(struct driver_exec_result *res, size_t cap)
{
	size_t merged = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;

	buf_init(&res->out, cap);
	buf_init(&res->err, cap);
	buf_init(&res->merged, merged);
	res->exit_code = -1;
	res->timed_out = res->truncated = 0;
	res->duration_ms = 0;
}

/* max_output 0 means DOCKER_OUTPUT_DEFAULT. A timeout is not an error:
 * SBXD_OK with timed_out set, exit_code 124 and the output so far. */
static sbxd_code
docker_exec(struct driver *d, const struct driver_exec_spec *spec,
    struct driver_exec_result *res, struct err *e)
{
	struct docker *dk = d->impl;
	struct exec_state x = { .running = 0 };
	uint64_t t0 = now_ms(), deadline = 0, left = 0, now;
	int timed_out = 0;
	sbxd_code rv;

	exec_result_init(res, spec->max_output ? spec->max_output :
	    DOCKER_OUTPUT_DEFAULT);
	if (spec->timeout_ms > 0)
		deadline = t0 + (spec->timeout_ms < DOCKER_TIMEOUT_MAX ?
		    spec->timeout_ms : DOCKER_TIMEOUT_MAX);
	if (spec->argv == NULL || spec->argv[0] == NULL) {
		rv = err_set(e, SBXD_INVALID_ARGUMENT, "exec has no command");
		goto out;
	}
	if ((rv = exec_create(dk, spec, x.id, e)) != SBXD_OK)
		goto out;
	if (deadline != 0)
		left = deadline > (now = now_ms()) ? deadline - now : 1;
	if ((rv = exec_start(dk, x.id, (long)left, res, &timed_out, e)) ||
	    (!timed_out &&
	    (rv = exec_wait_exit(dk, &x, deadline, &timed_out, e))))
		goto out;
	if (timed_out) {
		exec_kill(dk, &x);
		res->timed_out = 1;
		res->exit_code = 124;
	} else
		res->exit_code = x.exit_code;
out:
	res->duration_ms = now_ms() - t0;
	return rv;
}

/* ---- the demultiplexer */

void
docker_demux_init(struct docker_demux *dm)
{
	memset(dm, 0, sizeof(*dm));
}

static void
demux_emit(int stream, const unsigned char *p, size_t n,
    struct driver_exec_result *res)
{
	size_t dropped;

	dropped = buf_add_capped(stream == 2 ? &res->err : &res->out, p, n);
	dropped |= buf_add_capped(&res->merged, p, n);
	if (dropped != 0)
		res->truncated = 1;
}

/* See driver.h. res's bufs must have been buf_init()ed with their caps;
 * a malformed header sets dm->bad and res->truncated for good. */
void
docker_demux_feed(struct docker_demux *dm, const void *vp, size_t n,
    struct driver_exec_result *res)
{
	const unsigned char *p = vp, *h = dm->hdr;
	size_t take;

	while (n > 0 && !dm->bad) {
		if (dm->body_left == 0) {
			take = sizeof(dm->hdr) - dm->hdr_have;
			take = take < n ? take : n;
			memcpy(dm->hdr + dm->hdr_have, p, take);
			dm->hdr_have += take;
			p += take;
			n -= take;
			if (dm->hdr_have < sizeof(dm->hdr))
				break;
			dm->hdr_have = 0;
			if (h[0] > 2 || h[1] != 0 || h[2] != 0 || h[3] != 0) {
				dm->bad = 1;
				res->truncated = 1;
				break;
			}
			dm->stream = h[0] == 2 ? 2 : 1;
			dm->body_left = (size_t)h[4] << 24 | (size_t)h[5] << 16 |
			    (size_t)h[6] << 8 | (size_t)h[7];
			continue;
		}
		take = dm->body_left < n ? dm->body_left : n;
		demux_emit(dm->stream, p, take, res);
		dm->body_left -= take;
		p += take;
		n -= take;
	}
}

void
driver_exec_result_fini(struct driver_exec_result *res)
{
	buf_fini(&res->out);
	buf_fini(&res->err);
	buf_fini(&res->merged);
}

/* ---- construction */

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
	pthread_mutex_destroy(&dk->mu);
	free(dk);
}

static const struct driver_ops docker_ops = {
	.ping = docker_ping,
	.image_present = docker_image_present,
	.create = docker_create,
	.start = docker_start,
	.inspect = docker_inspect,
	.stop = docker_stop,
	.remove = docker_remove,
	.exec = docker_exec,
	.list = docker_list,
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
	memcpy(dk->sock, sock_path, strlen(sock_path) + 1);
	dk->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (dk->hdrs == NULL || curl_slist_append(dk->hdrs, "Expect:") == NULL) {
		docker_free(&dk->drv);
		return err_set(e, SBXD_INTERNAL, "out of memory");
	}
	*out = &dk->drv;
	return SBXD_OK;
}
