/*
 * bench_sessions.c — how fast a user gets a sandbox, and what many live
 * sessions cost, measured side by side in one run.
 *
 * Figures (p50/p90/p99):
 *   - cold create+start on the raw Docker Engine API (the session's
 *     hardened spec, a bind-mounted workspace), the floor of any cold start;
 *   - cold CreateSession through a second sbxd whose pool is off;
 *   - pooled CreateSession (pool on), with its speed-up over the raw cold
 *     create+start (target >= 15x);
 *   - pooled CreateSession then the first Execute(true), beside the raw
 *     Docker exec of the same run (target <= 80 ms);
 *   each sequential (interleaved, one of each per round) and in a burst of
 *   BURST at once (one client per thread);
 *   - GetSession p50 with 10 live sessions and with SBX_BENCH_LIVE (500 by
 *     default) — the ratio, target <= 1.2 — and sbxd's VmRSS at each.
 *
 * usage: bench_sessions [--json] [--iterations N] POOL_ENDPOINT
 * with SBX_SERVICE_KEY, SBX_BENCH_COLD (the pool-off sbxd's endpoint),
 * SBX_BENCH_STATE (the pool sbxd's state dir: finds its pool containers by
 * label) and SBX_BENCH_PID (its pid, for VmRSS). Sequential rounds are
 * min(N, 50): every round makes four containers. SBX_BENCH_ONLY_LIVE
 * skips to the live-session figures.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"
#include "driver.h"
#include "sbx.h"
#include "server.h"

#define ROUNDS_MAX 50
#define BURST 50
#define LIVE_DEFAULT 500
#define LIVE_THREADS 16
#define LIVE_BUDGET_MS 300000.0      /* stop adding live sessions past this */
#define GET_CALLS 500
#define POOL_WAIT_POLLS 3000         /* x 100 ms */

static const char *endpoint, *cold_endpoint, *key;
static struct driver *drv;
static char inst[17], wsdir[256];
static int fails, fallbacks;

/* ---- helpers */

static sbx_client *
client(const char *ep)
{
	sbx_options o = { .endpoint = ep, .service_key = key, .timeout_ms = 300000 };
	sbx_client *c = NULL;

	if (sbx_client_open(&o, &c) != SBX_OK) {
		fprintf(stderr, "bench: cannot open a client on %s\n", ep);
		exit(1);
	}
	return c;
}

struct pool_ids {
	char ids[BURST * 2][DRIVER_ID_MAX];
	int n;
};

static void
pool_cb(void *arg, const char *id, const char *state, const struct driver_label *l, size_t n)
{
	struct pool_ids *p = arg;

	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].key, "sbx.pool") == 0 && strcmp(state, "running") == 0 &&
		    p->n < BURST * 2)
			snprintf(p->ids[p->n++], DRIVER_ID_MAX, "%s", id);
}

/* Waits until the pool sbxd has want idle pool containers (all its pool
 * containers are idle whenever the bench holds no pooled session). */
static void
pool_wait(int want, struct pool_ids *p)
{
	struct err e;

	for (int i = 0; i < POOL_WAIT_POLLS; i++) {
		p->n = 0;
		drv->ops->list(drv, "sbx.instance", inst, pool_cb, p, &e);
		if (p->n >= want)
			return;
		usleep(100000);
	}
	fprintf(stderr, "bench: the pool never reached %d containers (has %d)\n", want, p->n);
}

static int
in_pool(const struct pool_ids *p, const char *cid)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->ids[i], cid) == 0)
			return 1;
	return 0;
}

/* A raw cold start: the hardened spec a session gets. */
static int
raw_create_start(char id[DRIVER_ID_MAX])
{
	struct driver_label l[] = { { "sbx.bench", "sessions" } };
	struct driver_container_spec spec = {
		.image = "sbx/python-minimal:latest", .user = "1000:1000",
		.workdir = "/workspace", .workspace_host = wsdir, .labels = l, .nlabels = 1,
		.memory_bytes = 1LL << 30, .nano_cpus = 1000000000LL, .pids_limit = 512,
		.nofile = 4096, .network_mode = "none", .drop_all_caps = 1,
		.no_new_privileges = 1, .init = 1,
	};
	struct err e;

	if (drv->ops->create(drv, &spec, id, &e) != SBXD_OK)
		return -1;
	if (drv->ops->start(drv, id, &e) != SBXD_OK) {
		drv->ops->remove(drv, id, &e);
		return -1;
	}
	return 0;
}

static void
raw_remove(const char *id)
{
	struct err e;

	drv->ops->remove(drv, id, &e);
}

/* CreateSession for user; the container id goes to cid. Time in ms. */
static double
timed_create(sbx_client *c, const char *user, sbx_session *s, int then_exec)
{
	sbx_session_create_opts o = { .user_id = user };
	sbx_exec_opts xo = { .command = "true" };
	sbx_exec_result r;
	double t0 = bench_now_ms();

	if (sbx_session_create(c, &o, s, NULL) != SBX_OK) {
		fprintf(stderr, "bench: create: %s\n", sbx_last_error(c));
		fails++;
		return bench_now_ms() - t0;
	}
	if (then_exec) {
		if (sbx_exec(c, s->session_id, &xo, &r) != SBX_OK || r.exit_code != 0)
			fails++;
		sbx_exec_result_fini(&r);
	}
	return bench_now_ms() - t0;
}

static void
end(sbx_client *c, sbx_session *s)
{
	if (s->session_id != NULL && s->session_id[0] != '\0')
		sbx_session_end(c, s->session_id, 1);
	sbx_session_fini(s);
}

static double
median(double *v, int n)
{
	double *w = malloc((size_t)n * sizeof(*w)), m;

	memcpy(w, v, (size_t)n * sizeof(*w));
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && w[j - 1] > w[j]; j--) {
			double t = w[j];
			w[j] = w[j - 1];
			w[j - 1] = t;
		}
	m = w[n / 2];
	free(w);
	return m;
}

/* ---- sequential */

static void
sequential(int n)
{
	double *raw = calloc((size_t)n, sizeof(double)), *cold = calloc((size_t)n, sizeof(double));
	double *pooled = calloc((size_t)n, sizeof(double)), *first = calloc((size_t)n, sizeof(double));
	double *rexec = calloc((size_t)n * 4, sizeof(double));
	sbx_client *pc = client(endpoint), *cc = client(cold_endpoint);
	struct pool_ids *p = calloc(1, sizeof(*p));
	char id[DRIVER_ID_MAX], user[64], keep[DRIVER_ID_MAX];
	CURL *h = bench_docker_handle();
	sbx_session s = { 0 };
	double rp, pp;

	if (raw_create_start(keep) != 0) {
		fprintf(stderr, "bench: raw create failed\n");
		exit(1);
	}
	for (int i = -3; i < n; i++) {
		int k = i < 0 ? 0 : i;
		double t0 = bench_now_ms();

		if (raw_create_start(id) != 0)
			fails++;
		raw[k] = bench_now_ms() - t0;
		raw_remove(id);
		snprintf(user, sizeof(user), "seq-cold-%d", k);
		cold[k] = timed_create(cc, user, &s, 0);
		end(cc, &s);
		pool_wait(1, p);
		snprintf(user, sizeof(user), "seq-pool-%d", k);
		pooled[k] = timed_create(pc, user, &s, 0);
		fallbacks += s.container_id == NULL || !in_pool(p, s.container_id);
		end(pc, &s);
		pool_wait(1, p);
		snprintf(user, sizeof(user), "seq-first-%d", k);
		first[k] = timed_create(pc, user, &s, 1);
		fallbacks += s.container_id == NULL || !in_pool(p, s.container_id);
		end(pc, &s);
		for (int j = 0; j < 4; j++) {
			t0 = bench_now_ms();
			if (raw_exec(h, keep, "true", NULL) != 0)
				fails++;
			rexec[k * 4 + j] = bench_now_ms() - t0;
		}
	}
	rp = median(raw, n);
	pp = median(pooled, n);
	bench_report("seq: cold CreateSession, pool off", cold, n,
	    "raw Docker API create+start", raw, n, NULL);
	bench_report("seq: pooled CreateSession", pooled, n,
	    "raw Docker API create+start", raw, n, "<= 0.0667 (>= 15x faster)");
	bench_report_ratio("seq: pooled speed-up over raw cold p50", rp / pp, ">= 15");
	bench_report("seq: pooled create -> first Execute", first, n,
	    "raw Docker API exec (create+start+inspect)", rexec, n * 4, "sbx p50 <= 80 ms");
	raw_remove(keep);
	curl_easy_cleanup(h);
	sbx_client_close(pc);
	sbx_client_close(cc);
	free(p);
	free(raw), free(cold), free(pooled), free(first), free(rexec);
}

/* ---- burst */

enum kind { RAW, COLD, POOLED, FIRST };

struct burst {
	pthread_barrier_t *go;
	enum kind kind;
	sbx_client *c;
	int i;
	double ms;
	sbx_session s;
	char id[DRIVER_ID_MAX];
};

static void *
burst_one(void *arg)
{
	struct burst *b = arg;
	char user[64];
	double t0;

	snprintf(user, sizeof(user), "burst-%d-%d", (int)b->kind, b->i);
	pthread_barrier_wait(b->go);
	t0 = bench_now_ms();
	if (b->kind == RAW) {
		if (raw_create_start(b->id) != 0)
			__atomic_add_fetch(&fails, 1, __ATOMIC_RELAXED);
		b->ms = bench_now_ms() - t0;
	} else
		b->ms = timed_create(b->c, user, &b->s, b->kind == FIRST);
	return NULL;
}

/* BURST creates at once; latencies into v. */
static void
burst_run(enum kind kind, double *v)
{
	struct burst *b = calloc(BURST, sizeof(*b));
	pthread_t t[BURST];
	pthread_barrier_t go;
	struct pool_ids *p = calloc(1, sizeof(*p));

	if (kind == POOLED || kind == FIRST)
		pool_wait(BURST, p);
	pthread_barrier_init(&go, NULL, BURST);
	for (int i = 0; i < BURST; i++) {
		b[i] = (struct burst){ .go = &go, .kind = kind, .i = i };
		if (kind != RAW)
			b[i].c = client(kind == COLD ? cold_endpoint : endpoint);
		pthread_create(&t[i], NULL, burst_one, &b[i]);
	}
	for (int i = 0; i < BURST; i++) {
		pthread_join(t[i], NULL);
		v[i] = b[i].ms;
		if (kind == POOLED || kind == FIRST)
			fallbacks += b[i].s.container_id == NULL || !in_pool(p, b[i].s.container_id);
	}
	for (int i = 0; i < BURST; i++) {
		if (kind == RAW)
			raw_remove(b[i].id);
		else {
			end(b[i].c, &b[i].s);
			sbx_client_close(b[i].c);
		}
	}
	pthread_barrier_destroy(&go);
	free(p);
	free(b);
}

static void
burst(void)
{
	double raw[BURST], cold[BURST], pooled[BURST], first[BURST], rp, pp;

	burst_run(RAW, raw);
	burst_run(COLD, cold);
	burst_run(POOLED, pooled);
	burst_run(FIRST, first);
	rp = median(raw, BURST);
	pp = median(pooled, BURST);
	bench_report("burst 50: cold CreateSession, pool off", cold, BURST,
	    "raw Docker API create+start, 50 at once", raw, BURST, NULL);
	bench_report("burst 50: pooled CreateSession", pooled, BURST,
	    "raw Docker API create+start, 50 at once", raw, BURST, "<= 0.0667 (>= 15x faster)");
	bench_report_ratio("burst 50: pooled speed-up over raw cold p50", rp / pp, ">= 15");
	bench_report("burst 50: pooled create -> first Execute", first, BURST, NULL, NULL, 0, NULL);
}

/* ---- many live sessions */

struct filler {
	int from, to;
	sbx_session *ss;
	double deadline;
	int made;
};

static void *
fill_main(void *arg)
{
	struct filler *f = arg;
	sbx_client *c = client(endpoint);
	sbx_session_create_opts o = { 0 };
	char user[64];

	for (int i = f->from; i < f->to && bench_now_ms() < f->deadline; i++) {
		snprintf(user, sizeof(user), "live-%d", i);
		o.user_id = user;
		if (sbx_session_create(c, &o, &f->ss[i], NULL) == SBX_OK)
			f->made++;
		else
			fprintf(stderr, "bench: live session %d: %s\n", i, sbx_last_error(c));
	}
	sbx_client_close(c);
	return NULL;
}

/* Creates sessions ss[from..to) with LIVE_THREADS threads; how many made. */
static int
fill(sbx_session *ss, int from, int to, double deadline)
{
	struct filler f[LIVE_THREADS];
	pthread_t t[LIVE_THREADS];
	int per = (to - from + LIVE_THREADS - 1) / LIVE_THREADS, made = 0;

	for (int i = 0; i < LIVE_THREADS; i++) {
		f[i] = (struct filler){ .from = from + i * per, .to = from + (i + 1) * per,
		    .ss = ss, .deadline = deadline };
		if (f[i].to > to)
			f[i].to = to;
		pthread_create(&t[i], NULL, fill_main, &f[i]);
	}
	for (int i = 0; i < LIVE_THREADS; i++) {
		pthread_join(t[i], NULL);
		made += f[i].made;
	}
	return made;
}

static void *
drain_main(void *arg)
{
	struct filler *f = arg;
	sbx_client *c = client(endpoint);

	for (int i = f->from; i < f->to; i++)
		end(c, &f->ss[i]);
	sbx_client_close(c);
	return NULL;
}

/* Ends ss[0..n) with LIVE_THREADS threads. */
static void
drain(sbx_session *ss, int n)
{
	struct filler f[LIVE_THREADS];
	pthread_t t[LIVE_THREADS];
	int per = (n + LIVE_THREADS - 1) / LIVE_THREADS;

	for (int i = 0; i < LIVE_THREADS; i++) {
		f[i] = (struct filler){ .from = i * per, .to = (i + 1) * per > n ? n : (i + 1) * per,
		    .ss = ss };
		pthread_create(&t[i], NULL, drain_main, &f[i]);
	}
	for (int i = 0; i < LIVE_THREADS; i++)
		pthread_join(t[i], NULL);
}

/* GetSession latencies over the live sessions, round robin. */
static void
get_times(sbx_client *c, sbx_session *ss, int n, double *v)
{
	sbx_session g;
	int k = 0;

	for (int i = -20; i < GET_CALLS; i++) {
		double t0;

		while (ss[k % n].session_id == NULL)
			k++;
		t0 = bench_now_ms();
		if (sbx_session_get(c, ss[k++ % n].session_id, &g) != SBX_OK)
			fails++;
		sbx_session_fini(&g);
		if (i >= 0)
			v[i] = bench_now_ms() - t0;
	}
}

static void
live(void)
{
	const char *env = getenv("SBX_BENCH_LIVE");
	int want = env ? atoi(env) : LIVE_DEFAULT, made;
	sbx_session *ss = calloc((size_t)want + 10, sizeof(*ss));
	double g10[GET_CALLS], gn[GET_CALLS], g10n[GET_CALLS], gfirst[GET_CALLS], t0, m10, mn;
	sbx_client *c = client(endpoint);
	long rss10, rssn;
	char fig[128];
	struct pool_ids *p = calloc(1, sizeof(*p));

	/* Measured once the pool has refilled: the refill's container
	 * creates would load the machine (2 CPUs here) during the calls. */
	if (fill(ss, 0, 10, bench_now_ms() + LIVE_BUDGET_MS) != 10)
		fails++;
	pool_wait(BURST, p);
	get_times(c, ss, 10, g10);
	rss10 = bench_rss_kb(getenv("SBX_BENCH_PID"));
	t0 = bench_now_ms();
	made = 10 + fill(ss, 10, want, t0 + LIVE_BUDGET_MS);
	fprintf(stderr, "bench: %d live sessions made in %.1f s\n", made,
	    (bench_now_ms() - t0) / 1000);
	pool_wait(BURST, p);
	/* The first GetSession of a session reads its usage the slow way
	 * (docker_stats.c: one inspect to find its cgroup); the figure is
	 * the steady state, a second pass. */
	get_times(c, ss, want, gfirst);
	get_times(c, ss, want, gn);
	get_times(c, ss, 10, g10n);   /* the same 10 as before: machine load vs row count */
	rssn = bench_rss_kb(getenv("SBX_BENCH_PID"));
	m10 = median(g10, GET_CALLS);
	mn = median(gn, GET_CALLS);
	bench_report("GetSession, 10 live sessions", g10, GET_CALLS, NULL, NULL, 0, NULL);
	snprintf(fig, sizeof(fig), "GetSession, %d live sessions", made);
	bench_report(fig, gn, GET_CALLS, NULL, NULL, 0, NULL);
	snprintf(fig, sizeof(fig), "GetSession p50 %d live / 10 live", made);
	bench_report_ratio(fig, mn / m10, "<= 1.2");
	snprintf(fig, sizeof(fig), "GetSession first look, %d live", made);
	bench_report(fig, gfirst, GET_CALLS, NULL, NULL, 0, NULL);
	snprintf(fig, sizeof(fig), "GetSession of the first 10, %d live", made);
	bench_report(fig, g10n, GET_CALLS, NULL, NULL, 0, NULL);
	bench_report_value("sbxd VmRSS, 10 live sessions", (double)rss10 / 1024, "MB", NULL);
	snprintf(fig, sizeof(fig), "sbxd VmRSS, %d live sessions", made);
	bench_report_value(fig, (double)rssn / 1024, "MB", "<= 100 MB at 500");
	drain(ss, want);
	sbx_client_close(c);
	free(ss);
	free(p);
}

int
main(int argc, char **argv)
{
	const char *state = getenv("SBX_BENCH_STATE");
	char db[512];
	struct err e;
	int iters;

	bench_name = "sessions";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0)
		return 2;
	key = getenv("SBX_SERVICE_KEY");
	cold_endpoint = getenv("SBX_BENCH_COLD");
	if (key == NULL || cold_endpoint == NULL || state == NULL) {
		fprintf(stderr, "bench_sessions: set SBX_SERVICE_KEY, SBX_BENCH_COLD and "
		    "SBX_BENCH_STATE (tests/bench/run does)\n");
		return 2;
	}
	snprintf(db, sizeof(db), "%s/sbx.db", state);
	server_instance_id(db, inst);
	snprintf(wsdir, sizeof(wsdir), "%s/raw-workspace", state);
	mkdir(wsdir, 0700);
	if (chown(wsdir, 1000, 1000) != 0)
		perror("chown");
	if (docker_driver_new("/var/run/docker.sock", &drv, &e) != SBXD_OK)
		return 1;
	if (getenv("SBX_BENCH_ONLY_LIVE") == NULL) {
		sequential(iters < ROUNDS_MAX ? iters : ROUNDS_MAX);
		burst();
	}
	live();
	if (fallbacks)
		fprintf(stderr, "bench: %d pooled creates were served cold (pool empty)\n", fallbacks);
	if (fails)
		fprintf(stderr, "bench: %d calls failed\n", fails);
	drv->ops->free(drv);
	return fails ? 1 : 0;
}
