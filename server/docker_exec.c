/*
 * docker_exec.c — running one command in a container through the Docker
 * Engine: the driver's exec operation and the stream demultiplexer.
 *
 * Exec is create -> start (the multiplexed stream is demultiplexed as it
 * arrives, under per-stream caps, never buffered whole) -> inspect for the
 * exit code. There is no exec-kill API: on timeout every live process of
 * the exec's process group (found through /proc, and checked through
 * /proc/<pid>/cgroup to belong to the container) is sent SIGKILL from the
 * host. That needs sbxd in the host's pid namespace with the right to
 * signal the container's processes (root on the host); processes that
 * left the group (setsid) survive until the container stops. Requests go
 * through docker.c's transport (docker_int.h); this file owns the clock,
 * the /proc scanning and the result buffers, and lends exec create,
 * inspect, the exit wait and the process-group signalling to
 * docker_stream.c (execs with stdin and background processes). Each piece
 * of output also goes to the spec's on_output as it arrives.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "docker_int.h"
#include "driver.h"
#include "err.h"
#include "log.h"

#define DOCKER_ERRBODY_MAX	(64u << 10)	/* error body kept from exec start */
#define DOCKER_TIMEOUT_MAX	0x7fffffffu	/* ms (24 days): fits a long */
#define DOCKER_KILL_WAIT_MS	3000		/* group death after SIGKILL */
#define DOCKER_CGROUP_MAX	8192		/* bytes read of /proc/pid/cgroup */

/* ---- exec */

uint64_t
docker_now_ms(void)
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

/* The exec start sink: demultiplexes a 200 body, keeps an error body. */
struct xsink {
	struct docker_call *c;
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
		curl_easy_getinfo(xs->c->h, CURLINFO_RESPONSE_CODE,
		    &xs->status);
	if (xs->status == 200)
		docker_demux_feed(&xs->dm, p, size * n, xs->res);
	else
		buf_add_capped(&xs->errbody, p, size * n);
	return size * n;
}

/* The exec's Cmd. A caller's own words go through `sh -c 'exec "$@"'`:
 * the engine answers a missing program with 126 and its runtime's message
 * on stdout, where a shell (and the in-sandbox agent) says 127 on stderr;
 * sh's exec replaces itself, so the program keeps the exec's pid. */
static cJSON *
exec_cmd(const struct driver_exec_spec *s)
{
	cJSON *a, *w;

	if (!s->words)
		return docker_str_array(s->argv);
	a = docker_str_array((const char *const[]){ "sh", "-c", "exec \"$@\"", "sh", NULL });
	for (const char *const *v = s->argv; a != NULL && *v != NULL; v++)
		if ((w = cJSON_CreateString(*v)) == NULL || !docker_add_item(a, NULL, w)) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

/* The exec create body; NULL on allocation failure. Caller cJSON_free()s. */
static char *
exec_body(const struct driver_exec_spec *s, int attach_stdin)
{
	cJSON *o = cJSON_CreateObject();
	char *out = NULL;
	int ok = o != NULL;

	ok &= docker_add_bool(o, "AttachStdin", attach_stdin != 0) &
	    docker_add_bool(o, "AttachStdout", 1) &
	    docker_add_bool(o, "AttachStderr", 1) &
	    docker_add_bool(o, "Tty", 0) &
	    docker_add_item(o, "Cmd", exec_cmd(s)) &
	    docker_add_str(o, "User", s->user) &
	    docker_add_str(o, "WorkingDir", s->workdir);
	if (s->env != NULL)
		ok &= docker_add_item(o, "Env", docker_str_array(s->env));
	if (ok)
		out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

/* See docker_int.h. A stopped container is SBXD_FAILED_PRECONDITION (409). */
sbxd_code
docker_exec_create(struct docker *dk, const struct driver_exec_spec *s,
    int attach_stdin, char id_out[DRIVER_ID_MAX], struct err *e)
{
	struct docker_call c = { .method = "POST" };
	char ref[DOCKER_URL_MAX / 2], what[128], *body = NULL;
	cJSON *root = NULL;
	sbxd_code rv;

	snprintf(what, sizeof(what), "exec in container %.80s",
	    s->container_id ? s->container_id : "");
	if ((rv = docker_enc_ref(ref, sizeof(ref), "container id",
	    s->container_id, e)) ||
	    (rv = docker_call_url(&c, e, "/containers/%s/exec", ref)))
		goto out;
	if ((c.body = body = exec_body(s, attach_stdin)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory building an exec");
		goto out;
	}
	if ((rv = docker_api(dk, &c, 201, 0, DOCKER_JSON_MAX, what, &root,
	    e)) ||
	    (rv = docker_copy_str(root, "Id", id_out, DRIVER_ID_MAX, what, e)))
		goto out;
	if (strspn(id_out, "0123456789abcdef") != strlen(id_out))
		rv = err_set(e, SBXD_INTERNAL, "Docker engine returned a "
		    "malformed exec id for %s", what);	/* it goes in URLs */
out:
	cJSON_Delete(root);
	cJSON_free(body);
	return rv;
}

/* curl's progress callback (about once a second while the stream is
 * idle): non-zero ends the stream once the driver drains. */
static int
exec_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return docker_draining(arg);
}

/* Runs the exec, streaming into res. *timed_out is set (and SBXD_OK
 * returned) when timeout_ms passed before the stream ended, *timed_out = 2
 * when the driver's drain ended it. */
static sbxd_code
exec_start(struct docker *dk, const struct driver_exec_spec *spec,
    const char *xid, long timeout_ms, struct driver_exec_result *res,
    int *timed_out, struct err *e)
{
	struct docker_call c = { .method = "POST", .timeout_ms = timeout_ms,
	    .body = "{\"Detach\":false,\"Tty\":false}",
	    .progress = exec_progress, .progress_arg = dk };
	struct xsink xs = { .c = &c, .res = res };
	sbxd_code rv;

	*timed_out = 0;
	buf_init(&xs.errbody, DOCKER_ERRBODY_MAX);
	docker_demux_init(&xs.dm);
	xs.dm.on_output = spec->on_output;
	xs.dm.on_output_arg = spec->on_output_arg;
	c.sink = xsink_write;
	c.sink_arg = &xs;
	if ((rv = docker_call_url(&c, e, "/exec/%s/start", xid)) != SBXD_OK)
		goto out;
	rv = docker_call_perform(dk, &c, e);
	if ((c.cc == CURLE_OPERATION_TIMEDOUT || (c.cc == CURLE_ABORTED_BY_CALLBACK &&
	    docker_draining(dk))) && (c.status == 0 || c.status == 200)) {
		*timed_out = c.cc == CURLE_OPERATION_TIMEDOUT ? 1 : 2;
		err_clear(e);
		rv = SBXD_OK;
	}
	if (rv == SBXD_OK && !*timed_out && c.status != 200)
		rv = docker_status_err(c.status, &xs.errbody,
		    "starting an exec", e);
	if (xs.dm.bad)
		log_warnx("exec %.12s: malformed stream frame from the Docker "
		    "engine; output after it was dropped", xid);
out:
	buf_fini(&xs.errbody);
	return rv;
}

sbxd_code
docker_exec_inspect(struct docker *dk, struct docker_exec_state *x,
    struct err *e)
{
	struct docker_call c = { .method = "GET" };
	const char *what = "inspecting an exec";
	cJSON *root = NULL, *code;
	sbxd_code rv;

	if ((rv = docker_call_url(&c, e, "/exec/%s/json", x->id)) ||
	    (rv = docker_api(dk, &c, 200, 0, DOCKER_JSON_MAX, what, &root, e)))
		goto out;
	x->running = docker_json_bool(root, "Running");
	x->pid = docker_json_int(root, "Pid", 0);
	code = cJSON_GetObjectItemCaseSensitive(root, "ExitCode");
	x->has_exit = cJSON_IsNumber(code);
	x->exit_code = x->has_exit ? code->valueint : -1;
	rv = docker_copy_str(root, "ContainerID", x->cid, sizeof(x->cid), what,
	    e);
out:
	cJSON_Delete(root);
	return rv;
}

/* See docker_int.h. */
sbxd_code
docker_exec_wait_exit(struct docker *dk, struct docker_exec_state *x,
    uint64_t deadline, int *timed_out, struct err *e)
{
	long nap = 1;
	uint64_t now;
	sbxd_code rv;

	/* The first few re-inspects go at once: the engine usually records the
	 * exit within a fraction of a millisecond, and a nap would cost more
	 * than the call. Then back off to 64 ms for processes that go on. */
	for (int tries = 0; ; tries++) {
		if ((rv = docker_exec_inspect(dk, x, e)) != SBXD_OK)
			return rv;
		if (!x->running && x->has_exit)
			return SBXD_OK;
		now = docker_now_ms();
		if (deadline != 0 && now >= deadline) {
			*timed_out = 1;
			return SBXD_OK;
		}
		if (tries < 4)
			continue;
		if (docker_draining(dk)) {     /* after the quick tries: a finished */
			*timed_out = 2;        /* command keeps its exit code */
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

/* Sends sig to every live process of group pgid that is in container cid
 * (the leader may be gone while children it started hold on); returns
 * how many it signalled. */
static int
kill_group(long pgid, const char *cid, int sig)
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
		if (kill((pid_t)pid, sig) == 0)
			n++;
	}
	closedir(dir);
	return n;
}

/* See docker_int.h. */
int
docker_exec_signal(const struct docker_exec_state *x, int sig)
{
	return x->pid > 1 ? kill_group((long)x->pid, x->cid, sig) : 0;
}

/* Kills what is left of an exec until nothing of its process group is
 * alive and the engine reports it ended (see docker_int.h). */
void
docker_exec_kill(struct docker *dk, struct docker_exec_state *x)
{
	uint64_t t0 = docker_now_ms();
	int n, killed = 0;
	struct err e;

	for (;;) {
		if (docker_exec_inspect(dk, x, &e) != SBXD_OK) {
			log_warnx("exec %.12s cannot be inspected to kill "
			    "it: %s", x->id, e.msg);
			return;
		}
		n = docker_exec_signal(x, SIGKILL);
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
		if (docker_now_ms() - t0 > DOCKER_KILL_WAIT_MS) {
			log_warnx("exec %.12s still running %d ms after "
			    "SIGKILL", x->id, DOCKER_KILL_WAIT_MS);
			return;
		}
		sleep_ms(10);
	}
}

void
driver_exec_result_init(struct driver_exec_result *res, size_t cap)
{
	size_t merged = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;

	buf_init(&res->out, cap);
	buf_init(&res->err, cap);
	buf_init(&res->merged, merged);
	res->exit_code = -1;
	res->timed_out = res->truncated = 0;
	res->duration_ms = 0;
}

/* See docker_int.h. max_output 0 means DRIVER_OUTPUT_DEFAULT. */
sbxd_code
docker_exec(struct driver *d, const struct driver_exec_spec *spec,
    struct driver_exec_result *res, struct err *e)
{
	struct docker *dk = d->impl;
	struct docker_exec_state x = { .running = 0 };
	uint64_t t0 = docker_now_ms(), deadline = 0, left = 0, now;
	int timed_out = 0;
	sbxd_code rv;

	driver_exec_result_init(res, spec->max_output ? spec->max_output :
	    DRIVER_OUTPUT_DEFAULT);
	if (spec->timeout_ms > 0)
		deadline = t0 + (spec->timeout_ms < DOCKER_TIMEOUT_MAX ?
		    spec->timeout_ms : DOCKER_TIMEOUT_MAX);
	if (spec->argv == NULL || spec->argv[0] == NULL) {
		rv = err_set(e, SBXD_INVALID_ARGUMENT, "exec has no command");
		goto out;
	}
	if ((rv = docker_exec_create(dk, spec, 0, x.id, e)) != SBXD_OK)
		goto out;
	if (deadline != 0)
		left = deadline > (now = docker_now_ms()) ? deadline - now : 1;
	if ((rv = exec_start(dk, spec, x.id, (long)left, res, &timed_out, e)) ||
	    (!timed_out &&
	    (rv = docker_exec_wait_exit(dk, &x, deadline, &timed_out, e))))
		goto out;
	if (timed_out)
		docker_exec_kill(dk, &x);
	if (timed_out == 2) {
		log_info("exec %.12s: killed, sbxd is stopping", x.id);
		rv = err_set(e, SBXD_ABORTED, DRIVER_DRAIN_MSG);
	} else if (timed_out) {
		res->timed_out = 1;
		res->exit_code = 124;
	} else
		res->exit_code = x.exit_code;
out:
	res->duration_ms = docker_now_ms() - t0;
	return rv;
}

/* ---- the demultiplexer */

void
docker_demux_init(struct docker_demux *dm)
{
	memset(dm, 0, sizeof(*dm));
}

/* See driver.h. */
void
driver_exec_result_add(struct driver_exec_result *res, int stream, const void *p, size_t n)
{
	size_t dropped;

	dropped = buf_add_capped(stream == 2 ? &res->err : &res->out, p, n);
	dropped |= buf_add_capped(&res->merged, p, n);
	if (dropped != 0)
		res->truncated = 1;
}

/* See driver.h. res's bufs must have been buf_init()ed with their caps;
 * a malformed header sets dm->bad and res->truncated for good. res may
 * be NULL when only dm->on_output is wanted. */
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
				if (res != NULL)
					res->truncated = 1;
				break;
			}
			dm->stream = h[0] == 2 ? 2 : 1;
			dm->body_left = (size_t)h[4] << 24 | (size_t)h[5] << 16 |
			    (size_t)h[6] << 8 | (size_t)h[7];
			continue;
		}
		take = dm->body_left < n ? dm->body_left : n;
		if (dm->on_output != NULL)
			dm->on_output(dm->on_output_arg, dm->stream, p, take);
		if (res != NULL)
			driver_exec_result_add(res, dm->stream, p, take);
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
