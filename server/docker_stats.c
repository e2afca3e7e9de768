/*
 * docker_stats.c — what a running container uses now (driver_ops.stats).
 *
 * Two sources. The Engine API's stats endpoint (stream=false&one-shot=true,
 * API 1.41) is the portable one, but on Engine 20.10 a one-shot call only
 * answers at once (~3 ms measured) when the engine's stats collector is
 * idle; while any stats call came in the last second it waits for the
 * collector's next 1 s tick (0.3-1 s measured), and on cgroup v1 it carries
 * no OOM-kill count at all. So the driver reads the container's cgroup
 * files itself when it can: sbxd runs as root in the host's pid namespace
 * anyway (exec timeouts kill from the host), so the cgroup is found once
 * per container from /proc/<init pid>/cgroup (the pid from inspect) and
 * remembered; a sample is then a handful of small file reads (tens of
 * microseconds). When no cgroup is reachable (sbxd in its own mount
 * namespace, a remote engine) it falls back to the endpoint, its reply
 * capped at STATS_JSON_MAX; oom_kills is 0 there unless the engine's
 * memory stats carry "oom_kill".
 *
 * Memory is counted as `docker stats` counts it: usage minus the inactive
 * file pages the kernel can drop (total_inactive_file on cgroup v1,
 * inactive_file on v2). A limit of "unlimited" is reported as 0. OOM kills
 * are the cgroup's own count (memory.oom_control on v1, memory.events on
 * v2): processes the kernel killed in the container, which also counts a
 * command killed while the container lives on. CPU percent is of one CPU,
 * over the window between this sample and the previous one this driver
 * took of the same container (kept in the driver's per-container table,
 * docker_ctable.h), or on the first
 * look since the container's init process started (its start time from
 * /proc/<pid>/stat): no request ever sleeps for a window. A previous
 * sample younger than STATS_WINDOW_MIN_MS gives its percent again rather
 * than a noisy short window. So the first look at a container costs one
 * inspect (about a millisecond); later ones tens of microseconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "docker_ctable.h"
#include "docker_int.h"
#include "driver.h"
#include "err.h"

#define STATS_JSON_MAX		(256u << 10)	/* ceiling on one stats reply */
#define STATS_FILE_MAX		16384		/* ceiling on one cgroup file */
#define STATS_PATH_MAX		512
#define STATS_WINDOW_MIN_MS	250
#define CGROUP_ROOT		"/sys/fs/cgroup"

/* One look at a container's counters. */
struct sample {
	uint64_t mem, inactive, limit, pids, oom_kills;
	uint64_t cpu_ns;		/* CPU time used so far */
	int64_t t_ns;			/* when (CLOCK_MONOTONIC) */
};

/* What the driver remembers of one container. */
struct entry {
	char id[DRIVER_ID_MAX];
	int v2;				/* cgroup v2 (one dir holds all) */
	int api;			/* no cgroup reachable: use the endpoint */
	char mem[STATS_PATH_MAX];	/* cgroup dirs; "" when unknown */
	char cpu[STATS_PATH_MAX];
	char pids[STATS_PATH_MAX];
	uint64_t cpu_ns;		/* the previous sample (at first: 0 at the
					   init's start; t_ns 0 = unknown) */
	int64_t t_ns;
	double pct;			/* the percent it gave */
};

/* The table of what is remembered per container lives in the driver
 * (docker_ctable.h: hashed, sized to the containers that can be live). */

/* ---- cgroup files */

/* Reads path (at most n-1 bytes) NUL-terminated into b; -1 with errno
 * set on failure (EFBIG when it does not fit). */
static int
read_small(const char *path, char *b, size_t n)
{
	ssize_t got;
	size_t len = 0;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while (len < n - 1 && (got = read(fd, b + len, n - 1 - len)) > 0)
		len += (size_t)got;
	saved = errno;
	if (len == n - 1 && got > 0) {
		saved = EFBIG;
		got = -1;
	}
	close(fd);
	b[len] = '\0';
	errno = saved;
	return got < 0 ? -1 : 0;
}

/* The number path holds ("max" is UINT64_MAX); -1 on failure. */
static int
read_u64(const char *dir, const char *file, uint64_t *v)
{
	char path[STATS_PATH_MAX + 64], b[64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_small(path, b, sizeof(b)) != 0)
		return -1;
	if (strncmp(b, "max", 3) == 0) {
		*v = UINT64_MAX;
		return 0;
	}
	*v = strtoull(b, NULL, 10);
	return 0;
}

/* The value of "key N" in a flat keyed file; 0 when the key is absent,
 * -1 when the file cannot be read. */
static int
read_key(const char *dir, const char *file, const char *key, uint64_t *v)
{
	char path[STATS_PATH_MAX + 64], *b, *p;
	size_t k = strlen(key);
	int rv = -1;

	*v = 0;
	if ((b = malloc(STATS_FILE_MAX)) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_small(path, b, STATS_FILE_MAX) != 0)
		goto out;
	for (p = b; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, k) == 0 && p[k] == ' ') {
			*v = strtoull(p + k + 1, NULL, 10);
			break;
		}
	rv = 0;
out:
	free(b);
	return rv;
}

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Takes a sample from en's cgroup dirs; -1 with errno set when the
 * memory cgroup cannot be read (ENOENT: the container stopped). Counters
 * of controllers that are missing read as 0. */
static int
cg_sample(const struct entry *en, struct sample *s)
{
	uint64_t usec = 0;

	memset(s, 0, sizeof(*s));
	if (read_u64(en->mem, en->v2 ? "memory.current" : "memory.usage_in_bytes", &s->mem) != 0)
		return -1;
	read_key(en->mem, "memory.stat", en->v2 ? "inactive_file" : "total_inactive_file",
	    &s->inactive);
	read_u64(en->mem, en->v2 ? "memory.max" : "memory.limit_in_bytes", &s->limit);
	read_key(en->mem, en->v2 ? "memory.events" : "memory.oom_control", "oom_kill",
	    &s->oom_kills);
	if (en->v2) {
		read_key(en->cpu, "cpu.stat", "usage_usec", &usec);
		s->cpu_ns = usec * 1000;
	} else
		read_u64(en->cpu, "cpuacct.usage", &s->cpu_ns);
	if (en->pids[0] != '\0')
		read_u64(en->pids, "pids.current", &s->pids);
	s->t_ns = mono_ns();
	return 0;
}

/* 1 when the comma-separated list has name. */
static int
has_controller(const char *list, size_t n, const char *name)
{
	size_t k = strlen(name);

	for (const char *p = list; p < list + n; ) {
		const char *q = memchr(p, ',', (size_t)(list + n - p));
		size_t len = q ? (size_t)(q - p) : (size_t)(list + n - p);

		if (len == k && memcmp(p, name, k) == 0)
			return 1;
		p += len + 1;
	}
	return 0;
}

/* Sets dst to the v1 hierarchy "controllers" mounted under CGROUP_ROOT
 * joined with path, when the line names controller. */
static void
v1_dir(char *dst, const char *ctl, size_t nctl, const char *path,
    const char *controller)
{
	if (dst[0] == '\0' && has_controller(ctl, nctl, controller))
		snprintf(dst, STATS_PATH_MAX, CGROUP_ROOT "/%.*s%s", (int)nctl, ctl, path);
}

/* Fills en's cgroup dirs from /proc/<pid>/cgroup; -1 when the memory
 * cgroup is not readable from here. */
static int
cg_resolve(struct entry *en, int64_t pid)
{
	char path[64], b[4096], v2path[STATS_PATH_MAX] = "", *line, *save = NULL;
	struct sample s;

	en->mem[0] = en->cpu[0] = en->pids[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%" PRId64 "/cgroup", pid);
	if (pid <= 0 || read_small(path, b, sizeof(b)) != 0)
		return -1;
	for (line = strtok_r(b, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (c2 == NULL)
			continue;
		if (c2 == c1 + 1) {		/* "0::/path": the unified hierarchy */
			snprintf(v2path, sizeof(v2path), "%s", c2 + 1);
			continue;
		}
		v1_dir(en->mem, c1 + 1, (size_t)(c2 - c1 - 1), c2 + 1, "memory");
		v1_dir(en->cpu, c1 + 1, (size_t)(c2 - c1 - 1), c2 + 1, "cpuacct");
		v1_dir(en->pids, c1 + 1, (size_t)(c2 - c1 - 1), c2 + 1, "pids");
	}
	en->v2 = en->mem[0] == '\0';
	if (en->v2 && v2path[0] != '\0') {
		const char *root = access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0 ?
		    CGROUP_ROOT : CGROUP_ROOT "/unified";

		snprintf(en->mem, sizeof(en->mem), "%s%s", root, v2path);
		memcpy(en->cpu, en->mem, sizeof(en->cpu));
		memcpy(en->pids, en->mem, sizeof(en->pids));
	}
	return en->mem[0] != '\0' && cg_sample(en, &s) == 0 ? 0 : -1;
}

/* ---- the stats endpoint (fallback) */

static uint64_t
json_u64(const cJSON *o, const char *key)
{
	int64_t v = docker_json_int(o, key, 0);

	return v > 0 ? (uint64_t)v : 0;
}

/* The engine's "read" time in ns since the epoch; 0 when it is the zero
 * time (the container is not running: the engine answers a stats call for
 * a stopped container with an empty sample) or unparsable. */
static int64_t
read_time(const cJSON *root)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "read");
	struct tm tm = { 0 };
	char frac[16] = "";
	int64_t ns = 0;
	time_t t;

	if (!cJSON_IsString(r) || sscanf(r->valuestring, "%d-%d-%dT%d:%d:%d.%15[0-9]",
	    &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	    frac) < 6 || tm.tm_year < 1971)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return 0;
	for (int i = 0; i < 9; i++)
		ns = ns * 10 + (frac[i] >= '0' && frac[i] <= '9' ? frac[i] - '0' : 0);
	return (int64_t)t * 1000000000 + ns;
}

/* Fills s from a stats reply. */
static sbxd_code
api_fill(const cJSON *root, const char *id, struct sample *s, struct err *e)
{
	const cJSON *mem = cJSON_GetObjectItemCaseSensitive(root, "memory_stats");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(mem, "stats");
	const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(root, "cpu_stats");

	memset(s, 0, sizeof(*s));
	if (read_time(root) == 0)
		return err_set(e, SBXD_FAILED_PRECONDITION, "container %.12s is not running", id);
	s->t_ns = mono_ns();
	s->mem = json_u64(mem, "usage");
	s->limit = json_u64(mem, "limit");
	s->inactive = cJSON_GetObjectItemCaseSensitive(ms, "total_inactive_file") != NULL ?
	    json_u64(ms, "total_inactive_file") : json_u64(ms, "inactive_file");
	s->oom_kills = json_u64(ms, "oom_kill");
	s->pids = json_u64(cJSON_GetObjectItemCaseSensitive(root, "pids_stats"), "current");
	s->cpu_ns = json_u64(cJSON_GetObjectItemCaseSensitive(cpu, "cpu_usage"), "total_usage");
	return SBXD_OK;
}

static sbxd_code
api_sample(struct driver *d, const char *id, struct sample *s, struct err *e)
{
	struct docker_call c = { .method = "GET" };
	char ref[DOCKER_URL_MAX / 2], what[128];
	cJSON *root = NULL;
	sbxd_code rv;

	snprintf(what, sizeof(what), "reading the usage of container %.80s", id);
	if ((rv = docker_enc_ref(ref, sizeof(ref), "container id", id, e)) ||
	    (rv = docker_call_url(&c, e, "/containers/%s/stats?stream=false&one-shot=true",
	    ref)) ||
	    (rv = docker_api(d->impl, &c, 200, 0, STATS_JSON_MAX, what, &root, e)))
		goto out;
	rv = api_fill(root, id, s, e);
out:
	cJSON_Delete(root);
	return rv;
}

/* ---- putting it together */

static double
percent(uint64_t cpu0, int64_t t0, uint64_t cpu1, int64_t t1)
{
	if (t1 <= t0 || cpu1 < cpu0)
		return 0;
	return (double)(cpu1 - cpu0) * 100.0 / (double)(t1 - t0);
}

/* Sets en->pct from its previous sample and s, which becomes the
 * previous one, unless that is too recent to give a steady figure. */
static void
cpu_window(struct entry *en, const struct sample *s)
{
	if (en->t_ns != 0 && s->t_ns - en->t_ns < (int64_t)STATS_WINDOW_MIN_MS * 1000000)
		return;			/* en->pct stands */
	en->pct = en->t_ns != 0 ? percent(en->cpu_ns, en->t_ns, s->cpu_ns, s->t_ns) : 0;
	en->cpu_ns = s->cpu_ns;
	en->t_ns = s->t_ns;
}

/* When process pid started, on CLOCK_MONOTONIC; 0 if unknown. */
static int64_t
proc_start_ns(int64_t pid)
{
	char path[64], b[1024], *p;
	unsigned long long ticks = 0;
	struct timespec boot;
	long hz = sysconf(_SC_CLK_TCK);
	int64_t since;

	snprintf(path, sizeof(path), "/proc/%" PRId64 "/stat", pid);
	/* after "pid (comm) ": state is field 3, starttime field 22 */
	if (pid <= 0 || hz <= 0 || read_small(path, b, sizeof(b)) != 0 ||
	    (p = strrchr(b, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
	    "%*d %*d %*d %*d %llu", &ticks) != 1 ||
	    clock_gettime(CLOCK_BOOTTIME, &boot) != 0)
		return 0;
	since = ((int64_t)boot.tv_sec * 1000000000 + boot.tv_nsec) -
	    (int64_t)(ticks * (1000000000ULL / (unsigned long long)hz));
	return since > 0 ? mono_ns() - since : 0;
}

/* A new entry for id: where its cgroup is, or that the endpoint serves. */
static sbxd_code
entry_new(struct driver *d, const char *id, struct entry *en, struct err *e)
{
	struct driver_container_info info;
	sbxd_code rv;

	memset(en, 0, sizeof(*en));
	if ((rv = d->ops->inspect(d, id, &info, e)) != SBXD_OK)
		return rv;
	if (!info.running)
		return err_set(e, SBXD_FAILED_PRECONDITION, "container %.12s is not running (%s)",
		    id, info.state);
	snprintf(en->id, sizeof(en->id), "%s", id);
	en->api = cg_resolve(en, info.pid) != 0;
	en->t_ns = proc_start_ns(info.pid);	/* the first window: since then */
	return SBXD_OK;
}

/* A sample of id, through en (made or refreshed as needed). */
static sbxd_code
take_sample(struct driver *d, const char *id, struct entry *en, struct sample *s,
    struct err *e)
{
	sbxd_code rv;

	struct ctable *t = docker_ctable(d->impl);

	if (t != NULL && ctable_get(t, id, en)) {
		if (en->api)
			return api_sample(d, id, s, e);
		if (cg_sample(en, s) == 0)
			return SBXD_OK;
	}
	/* new, or its cgroup went away (stopped, restarted): ask again */
	if (t != NULL)
		ctable_drop(t, id);
	if ((rv = entry_new(d, id, en, e)) != SBXD_OK)
		return rv;
	if (en->api)
		return api_sample(d, id, s, e);
	if (cg_sample(en, s) != 0)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "container %.12s stopped while its usage was read", id);
	return SBXD_OK;
}

size_t
docker_stats_record_size(void)
{
	return sizeof(struct entry);
}

/* driver_ops.stats (see driver.h and the top of this file). */
sbxd_code
docker_stats(struct driver *d, const char *id, struct driver_usage *out, struct err *e)
{
	struct ctable *t = docker_ctable(d->impl);
	struct entry en;
	struct sample s;
	sbxd_code rv;

	memset(out, 0, sizeof(*out));
	if (id == NULL || *id == '\0' || strlen(id) >= DRIVER_ID_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT, "container id is empty or too long");
	if ((rv = take_sample(d, id, &en, &s, e)) != SBXD_OK) {
		if (t != NULL)
			ctable_drop(t, id);
		return rv;
	}
	cpu_window(&en, &s);
	if (t != NULL)
		ctable_put(t, id, &en);
	out->memory_bytes = s.inactive < s.mem ? s.mem - s.inactive : s.mem;
	out->memory_limit_bytes = s.limit >= (UINT64_C(1) << 62) ? 0 : s.limit;
	out->cpu_percent = en.pct;
	out->pids = s.pids;
	out->oom_kills = s.oom_kills;
	return SBXD_OK;
}
