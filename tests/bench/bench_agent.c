/*
 * bench_agent.c — what the in-sandbox agent (server/agent/) buys, measured
 * side by side in one run: an sbxd that gives sessions an agent (the
 * default) against the docker exec route, and against the floor of a bare
 * C client talking to an agent directly.
 *
 * Figures (p50/p90/p99 unless said):
 *   1. Execute(true) through sbx (agent) vs a raw Docker API exec on the
 *      same container — p50 <= 1 ms and >= 40x faster. The two sides take
 *      turns in blocks of EXEC_BLOCK calls, not call by call: a docker
 *      exec leaves the engine busy for milliseconds after it answers
 *      (runc and the shim ending), which doubled the p50 of an Execute
 *      right after it on this 2-core machine. The first EXEC_SETTLE sbx
 *      calls after a docker block are reported apart, as their own figure;
 *   2. the same Execute(true) vs agentlink_exec of `sh -c true` (what
 *      Execute runs) from this process to an agent in a container started
 *      here with the mounts and Cmd sbxd gives one — <= 1.3x;
 *   3. pooled CreateSession + first Execute(true), agent vs agent = no,
 *      each timed once the sbxd's pool is full again (its running
 *      sbx.pool containers, listed on the Docker API) — <= 5 ms; and
 *      its two parts, the CreateSession and the Execute, apart;
 *   4. Write and Read of 4 KiB at /tmp/bench.txt, agent vs agent = no —
 *      p50 <= 1 ms;
 *   5. throughput: 32 clients (a thread and an sbx_client each) running
 *      `true` on 8 sessions for SBX_BENCH_SECONDS, agent vs agent = no;
 *   6. worker holding: on the agent sbxd, 32 clients Write/Read 4 KiB in
 *      /workspace alone, then beside 32 clients looping Execute(sleep 1) —
 *      mixed p99 <= 3x file-only p99.
 * Rounds of 1, 2 and 4 interleave the two sides in alternating order, as
 * bench_exec does; 3 runs min(N, 50) rounds (each makes two containers).
 * Before any timing on a session of the agent sbxd, its agent must answer:
 * `true` is run until a call takes < 5 ms (at most 100 tries).
 *
 * usage: bench_agent [--json] [--iterations N] ENDPOINT   with
 * SBX_SERVICE_KEY, SBX_BENCH_STATE (ENDPOINT's state dir: its instance
 * label), SBX_BENCH_NOAGENT and SBX_BENCH_NOAGENT_STATE (the agent = no
 * sbxd's endpoint and state dir), SBX_AGENT_BIN (the built sbx-agent);
 * optional SBX_BENCH_SECONDS (5), SBX_BENCH_POOL (both sbxds'
 * pool_size, 2) and SBX_BENCH_AGENT_QUICK=1 (figures 1 and 2 only, for
 * A/B runs of the Execute path). tests/bench/run sets them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "agentlink.h"
#include "bench.h"
#include "driver.h"
#include "sbx.h"
#include "server.h"

#define SMALL 4096
#define SESSIONS 8
#define TP_CLIENTS 32
#define HOLD_CLIENTS 32           /* per kind: 32 sleepers + 32 file clients */
#define POOL_ROUNDS_MAX 50
#define POOL_WAIT_MS 180000.0
#define LAT_MAX 65536             /* samples kept per thread; later calls still count */
#define BODY_MAX (1u << 20)       /* Docker API replies */
#define FLOOR_IMAGE "sbx/python-minimal:latest"
#define FLOOR_SESSION "s-floor"
#define EXEC_BLOCK 20             /* figure 1's calls per side's turn */
#define EXEC_SETTLE 3             /* ... of which sbx's first are apart */

struct sbxd {
	const char *name;         /* "agent", "agent = no" */
	const char *endpoint;
	char inst[17];            /* its containers' sbx.instance */
	sbx_client *c;
};

static const char *key;
static struct sbxd on = { .name = "agent" }, off = { .name = "agent = no" };
static int pool_size = 2, seconds = 5;
static CURL *h;                   /* the raw exec baseline's */
static CURL *api_h;               /* this file's Docker calls */
static char small[SMALL];
static _Atomic int fails;

/* ---- helpers */

static double
pct(const double *v, int n, double p)
{
	return v[(int)(p * (n - 1) + 0.5)];
}

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

static int
create(struct sbxd *x, const char *user, sbx_session *s)
{
	sbx_session_create_opts co = { .user_id = user };

	if (sbx_session_create(x->c, &co, s, NULL) != SBX_OK) {
		fprintf(stderr, "bench: CreateSession on the %s sbxd: %s\n", x->name,
		    sbx_last_error(x->c));
		return -1;
	}
	return 0;
}

/* One rate figure: ops/s on both sides and their ratio (sbx / baseline,
 * higher is better). */
static void
report_rate(const char *figure, double rate, const char *baseline, double brate)
{
	if (bench_json)
		printf("{\"bench\": \"%s\", \"figure\": \"%s\", \"unit\": \"ops/s\", "
		    "\"sbx\": %.1f, \"baseline\": \"%s\", \"baseline_value\": %.1f, "
		    "\"ratio\": %.4f}\n", bench_name, figure, rate, baseline, brate,
		    brate > 0 ? rate / brate : 0);
	else
		printf("%-40s %10.1f ops/s\n%-40s %10.1f ops/s   ratio %.3f\n", figure, rate,
		    baseline, brate, brate > 0 ? rate / brate : 0);
}

/* ---- the Docker Engine API, for the floor's container and the pools */

struct body {
	char *p;
	size_t len;
	int toobig;
};

static size_t
body_add(char *p, size_t sz, size_t n, void *arg)
{
	struct body *b = arg;
	char *q;

	if (b->len + sz * n > BODY_MAX) {
		b->toobig = 1;
		return 0;
	}
	if ((q = realloc(b->p, b->len + sz * n + 1)) == NULL)
		return 0;
	b->p = q;
	memcpy(b->p + b->len, p, sz * n);
	b->len += sz * n;
	b->p[b->len] = '\0';
	return sz * n;
}

/* method path (below /v1.41) with json (may be NULL). The HTTP status, or
 * -1 when the call failed or the reply passed BODY_MAX; *out (free it)
 * holds the reply when out is not NULL. */
static int
docker(const char *method, const char *path, const char *json, char **out)
{
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	struct body b = { 0 };
	char url[1024];
	long status = -1;

	snprintf(url, sizeof(url), "http://localhost/v1.41%s", path);
	curl_easy_setopt(api_h, CURLOPT_URL, url);
	curl_easy_setopt(api_h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(api_h, CURLOPT_POSTFIELDS, json != NULL ? json : "");
	curl_easy_setopt(api_h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(api_h, CURLOPT_WRITEFUNCTION, body_add);
	curl_easy_setopt(api_h, CURLOPT_WRITEDATA, &b);
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(api_h, CURLOPT_HTTPGET, 1L);
	if (curl_easy_perform(api_h) == CURLE_OK && !b.toobig)
		curl_easy_getinfo(api_h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	if (out != NULL)
		*out = b.p;
	else
		free(b.p);
	return (int)status;
}

/* How many of x's pool containers are running, not counting held[0..nheld)
 * (sessions taken from the pool keep the label); *gone_seen is set when
 * gone (may be NULL) is still among them. -1 when the engine did not
 * answer. */
static int
pool_count(const struct sbxd *x, const char *const *held, int nheld, const char *gone,
    int *gone_seen)
{
	char filt[256], path[768], *esc, *reply = NULL;
	cJSON *arr, *it;
	int n = 0;

	snprintf(filt, sizeof(filt), "{\"label\":[\"sbx.instance=%s\",\"sbx.pool\"],"
	    "\"status\":[\"running\"]}", x->inst);
	esc = curl_easy_escape(api_h, filt, 0);
	snprintf(path, sizeof(path), "/containers/json?filters=%s", esc);
	curl_free(esc);
	*gone_seen = 0;
	if (docker("GET", path, NULL, &reply) != 200 || (arr = cJSON_Parse(reply)) == NULL) {
		free(reply);
		return -1;
	}
	cJSON_ArrayForEach(it, arr) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(it, "Id"));
		int skip = id == NULL;

		for (int i = 0; !skip && i < nheld; i++)
			skip = held[i] != NULL && strcmp(held[i], id) == 0;
		if (!skip && gone != NULL && strcmp(gone, id) == 0)
			*gone_seen = skip = 1;
		n += !skip;
	}
	cJSON_Delete(arr);
	free(reply);
	return n;
}

/* Waits until x's pool is full again and gone (the container of the
 * session just ended, or NULL) has left it. */
static void
pool_wait(const struct sbxd *x, const char *const *held, int nheld, const char *gone)
{
	double t0 = bench_now_ms();
	int n = -1, seen = 0;

	while (bench_now_ms() - t0 < POOL_WAIT_MS) {
		n = pool_count(x, held, nheld, gone, &seen);
		if (n >= pool_size && !seen)
			return;
		usleep(20000);
	}
	fprintf(stderr, "bench: the %s sbxd's pool never got back to %d containers (has %d)\n",
	    x->name, pool_size, n);
}

/* ---- 1: Execute(true) through the agent vs raw docker exec */

static void
fig_exec(const sbx_session *s, int iters)
{
	int blocks = (iters + EXEC_BLOCK - 1) / EXEC_BLOCK;
	double *sv = calloc((size_t)blocks * EXEC_BLOCK, sizeof(double));
	double *bv = calloc((size_t)blocks * EXEC_BLOCK, sizeof(double));
	double *after = calloc((size_t)blocks * EXEC_SETTLE + 1, sizeof(double));
	int ns = 0, nb = 0, na = 0;

	/* pairs of blocks in alternating order (so an sbx block follows a
	 * docker one every other pair); the first pair warms both up */
	for (int i = -1; i < blocks; i++) {
		for (int k = 0; k < 2; k++) {
			int sbx_turn = (k == 0) == (i % 2 == 0);

			for (int j = 0; j < EXEC_BLOCK; j++) {
				double t0 = bench_now_ms(), t;

				if (sbx_turn ? bench_run_true(on.c, s->session_id) != 0 :
				    raw_exec(h, s->container_id, "true", NULL) != 0)
					fails++;
				t = bench_now_ms() - t0;
				if (i < 0)
					continue;
				if (!sbx_turn)
					bv[nb++] = t;
				else if (j < EXEC_SETTLE && k == 1)
					after[na++] = t;   /* a docker block just ended */
				else
					sv[ns++] = t;
			}
		}
	}
	bench_report("Execute(true) via sbx (agent)", sv, ns,
	    "Docker API exec, same container", bv, nb, "p50 <= 1 ms, >= 40x");
	if (na > 0)
		bench_report("Execute(true) via sbx, first after docker", after, na, NULL, NULL,
		    0, NULL);
	bench_report_ratio("Execute(true) speed-up, docker exec/sbx",
	    pct(bv, nb, .5) / pct(sv, ns, .5), ">= 40");
	free(sv);
	free(bv);
	free(after);
}

/* ---- 2: the floor, a bare client on an agent link of its own */

struct floor {
	char dir[64];
	char cid[DRIVER_ID_MAX];
	struct agentlink *l;
};

static int
copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rv = -1;
	ssize_t n;

	if (in < 0 || (out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto out;
	rv = n == 0 && fchmod(out, mode) == 0 ? 0 : -1;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0)
		rv = -1;
	return rv;
}

/* <dir>/bin/sbx-agent, <dir>/link/token (returned in tok), listening on
 * <dir>/link/agent.sock. */
static int
floor_link(struct floor *f, const char *bin, char tok[65])
{
	struct agentlink_opts o = { .session = FLOOR_SESSION };
	char p[128], url[160];
	unsigned char r[32];
	FILE *fp;
	struct err e;

	snprintf(p, sizeof(p), "%s/bin", f->dir);
	if (chmod(f->dir, 0755) != 0 || mkdir(p, 0755) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/bin/sbx-agent", f->dir);
	if (copy_file(bin, p, 0755) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/link", f->dir);
	if (mkdir(p, 0755) != 0 || (fp = fopen("/dev/urandom", "r")) == NULL)
		return -1;
	if (fread(r, 1, sizeof(r), fp) != sizeof(r))
		r[0] ^= 1;      /* a short read only weakens a throwaway token */
	fclose(fp);
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(tok + 2 * i, 3, "%02x", r[i]);
	snprintf(p, sizeof(p), "%s/link/token", f->dir);
	if ((fp = fopen(p, "w")) == NULL)
		return -1;
	fputs(tok, fp);
	if (fclose(fp) != 0 || chmod(p, 0444) != 0)
		return -1;
	snprintf(url, sizeof(url), "ipc://%s/link/agent.sock", f->dir);
	o.url = url;
	o.token = (const uint8_t *)tok;
	o.token_len = 64;
	if (agentlink_listen(&o, &f->l, &e) != SBXD_OK) {
		fprintf(stderr, "bench: floor: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* The container: what driver_agent.h says sbxd gives a session's. */
static int
floor_container(struct floor *f)
{
	const char *cmd[] = { "/.sbx/agent/sbx-agent", "--supervise", "--url",
		"ipc:///.sbx/link/agent.sock", "--session", FLOOR_SESSION, "--token-file",
		"/.sbx/link/token" };
	cJSON *o = cJSON_CreateObject(), *hc = cJSON_CreateObject(), *binds, *lab, *id;
	char b[2][128], path[160], *json, *reply = NULL;
	int st;

	snprintf(b[0], sizeof(b[0]), "%s/bin:/.sbx/agent:ro", f->dir);
	snprintf(b[1], sizeof(b[1]), "%s/link:/.sbx/link:ro", f->dir);
	binds = cJSON_CreateArray();
	cJSON_AddItemToArray(binds, cJSON_CreateString(b[0]));
	cJSON_AddItemToArray(binds, cJSON_CreateString(b[1]));
	cJSON_AddStringToObject(o, "Image", FLOOR_IMAGE);
	cJSON_AddStringToObject(o, "User", "1000:1000");
	cJSON_AddItemToObject(o, "Cmd", cJSON_CreateStringArray(cmd, 8));
	lab = cJSON_AddObjectToObject(o, "Labels");
	cJSON_AddStringToObject(lab, "sbx.bench", "agent-floor");
	cJSON_AddStringToObject(hc, "NetworkMode", "none");
	cJSON_AddBoolToObject(hc, "Init", 1);
	cJSON_AddItemToObject(hc, "Binds", binds);
	cJSON_AddItemToObject(o, "HostConfig", hc);
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	st = docker("POST", "/containers/create", json, &reply);
	free(json);
	o = st == 201 ? cJSON_Parse(reply) : NULL;
	if ((id = cJSON_GetObjectItem(o, "Id")) != NULL && cJSON_IsString(id))
		snprintf(f->cid, sizeof(f->cid), "%s", id->valuestring);
	cJSON_Delete(o);
	if (f->cid[0] == '\0') {
		fprintf(stderr, "bench: floor: container create: %d %s\n", st, reply ? reply : "");
		free(reply);
		return -1;
	}
	free(reply);
	snprintf(path, sizeof(path), "/containers/%s/start", f->cid);
	if ((st = docker("POST", path, NULL, NULL)) != 204) {
		fprintf(stderr, "bench: floor: container start: %d\n", st);
		return -1;
	}
	return 0;
}

static void
floor_close(struct floor *f)
{
	char p[160];

	if (f->cid[0] != '\0') {
		snprintf(p, sizeof(p), "/containers/%s?force=true", f->cid);
		if (docker("DELETE", p, NULL, NULL) != 204)
			fprintf(stderr, "bench: floor: could not remove container %.12s\n", f->cid);
	}
	if (f->l != NULL)
		agentlink_close(f->l);
	if (f->dir[0] == '\0')
		return;
	snprintf(p, sizeof(p), "rm -rf '%s'", f->dir);
	if (system(p) != 0)
		fprintf(stderr, "bench: floor: could not remove %s\n", f->dir);
}

static int
floor_true(struct agentlink *l)
{
	static const char *const argv[] = { "sh", "-c", "true", NULL };
	struct driver_exec_spec spec = { .container_id = "floor", .argv = argv,
		.timeout_ms = 60000, .max_output = 100000 };
	struct driver_exec_result res = { 0 };
	int ran = 0, rv;
	int64_t stuck = 0;
	struct err e;

	rv = agentlink_exec(l, &spec, NULL, 0, &res, &ran, &stuck, &e) == SBXD_OK &&
	    res.exit_code == 0 ? 0 : -1;
	driver_exec_result_fini(&res);
	return rv;
}

static void
fig_floor(const sbx_session *s, int iters, const char *bin)
{
	struct floor f = { .dir = "/tmp/sbx-bench-floor-XXXXXX" };
	double *sv = calloc((size_t)iters, sizeof(double));
	double *fv = calloc((size_t)iters, sizeof(double));
	char tok[65];

	if (mkdtemp(f.dir) == NULL) {
		f.dir[0] = '\0';
		goto fail;
	}
	if (floor_link(&f, bin, tok) != 0 || floor_container(&f) != 0)
		goto fail;
	if (!agentlink_up(f.l, 30000, NULL, NULL)) {
		fprintf(stderr, "bench: floor: the agent in %.12s never said hello\n", f.cid);
		goto fail;
	}
	for (int i = -10; i < iters; i++) {
		for (int k = 0; k < 2; k++) {
			int sbx_turn = (k == 0) == (i % 2 == 0);
			double t0 = bench_now_ms(), t;

			if ((sbx_turn ? bench_run_true(on.c, s->session_id) : floor_true(f.l)) != 0)
				fails++;
			t = bench_now_ms() - t0;
			if (i >= 0)
				(sbx_turn ? sv : fv)[i] = t;
		}
	}
	bench_report("Execute(true) via sbx, floor rounds", sv, iters,
	    "floor: agentlink_exec, bare C client", fv, iters, "<= 1.3x");
	goto out;
fail:
	fails++;
	fprintf(stderr, "bench: the floor figure was not measured\n");
out:
	floor_close(&f);
	free(sv);
	free(fv);
}

/* ---- 3: pooled CreateSession + first Execute(true) */

/* Times one pooled create + Execute(true) on x into t[0] (t[1]: the
 * create alone, t[2]: the Execute alone), then ends the session; gone is
 * its container, for the next pool_wait. */
static int
pool_round(struct sbxd *x, double t[3], char gone[DRIVER_ID_MAX])
{
	sbx_session s;
	double t0 = bench_now_ms(), t1;
	int rv = -1;

	if (create(x, "bench-agent-pool", &s) != 0)
		return -1;
	t1 = bench_now_ms();
	if (bench_run_true(x->c, s.session_id) == 0) {
		t[0] = bench_now_ms() - t0;
		t[1] = t1 - t0;
		t[2] = bench_now_ms() - t1;
		rv = 0;
	}
	snprintf(gone, DRIVER_ID_MAX, "%s", s.container_id);
	if (sbx_session_end(x->c, s.session_id, 1) != SBX_OK)
		rv = -1;
	sbx_session_fini(&s);
	return rv;
}

/* held_on, a session of the agent sbxd taken from its pool, is not one
 * of its idle pool containers; the agent = no sbxd holds none. */
static void
fig_pool(const sbx_session *held_on, int iters)
{
	int n = iters < POOL_ROUNDS_MAX ? iters : POOL_ROUNDS_MAX;
	double (*sv)[3] = calloc((size_t)n, sizeof(*sv)), (*bv)[3] = calloc((size_t)n, sizeof(*bv));
	double *v[2][3];
	const char *held[] = { held_on->container_id };
	char gone_on[DRIVER_ID_MAX] = "", gone_off[DRIVER_ID_MAX] = "";
	static const char *const fig[3][2] = {
		{ "pooled Create+Execute(true), agent", "pooled Create+Execute(true), agent = no" },
		{ "pooled: CreateSession part, agent", "pooled: CreateSession part, agent = no" },
		{ "pooled: first Execute part, agent", "pooled: first Execute part, agent = no" },
	};

	for (int i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++) {
			int on_turn = (k == 0) == (i % 2 == 0);
			struct sbxd *x = on_turn ? &on : &off;
			char *gone = on_turn ? gone_on : gone_off;

			pool_wait(x, held, on_turn, gone[0] ? gone : NULL);
			if (pool_round(x, on_turn ? sv[i] : bv[i], gone) != 0)
				fails++;
		}
	}
	for (int j = 0; j < 3; j++) {
		v[0][j] = calloc((size_t)n, sizeof(double));
		v[1][j] = calloc((size_t)n, sizeof(double));
		for (int i = 0; i < n; i++) {
			v[0][j][i] = sv[i][j];
			v[1][j][i] = bv[i][j];
		}
		bench_report(fig[j][0], v[0][j], n, fig[j][1], v[1][j], n, j == 0 ? "<= 5 ms" : NULL);
		free(v[0][j]);
		free(v[1][j]);
	}
	free(sv);
	free(bv);
}

/* ---- 4: Write and Read of 4 KiB in /tmp */

static int
write4k(sbx_client *c, const char *sid, const char *path)
{
	return sbx_write(c, sid, path, small, SMALL, 0) == SBX_OK ? 0 : -1;
}

static int
read4k(sbx_client *c, const char *sid, const char *path)
{
	void *d = NULL;
	size_t n = 0;
	sbx_err rv = sbx_read_bytes(c, sid, path, 0, 0, &d, &n);

	sbx_free(d);
	return rv == SBX_OK && n == SMALL ? 0 : -1;
}

/* Times op on both sbxds, interleaved, into sv (agent) and bv. */
static void
both_sides(int (*op)(sbx_client *, const char *, const char *), const char *path,
    const sbx_session *s_on, const sbx_session *s_off, int iters, double *sv, double *bv)
{
	for (int i = -10; i < iters; i++) {
		for (int k = 0; k < 2; k++) {
			int on_turn = (k == 0) == (i % 2 == 0);
			double t0 = bench_now_ms(), t;

			if ((on_turn ? op(on.c, s_on->session_id, path) :
			    op(off.c, s_off->session_id, path)) != 0)
				fails++;
			t = bench_now_ms() - t0;
			if (i >= 0)
				(on_turn ? sv : bv)[i] = t;
		}
	}
}

static void
fig_tmp(const sbx_session *s_on, const sbx_session *s_off, int iters)
{
	double *sv = calloc((size_t)iters, sizeof(double));
	double *bv = calloc((size_t)iters, sizeof(double));

	both_sides(write4k, "/tmp/bench.txt", s_on, s_off, iters, sv, bv);
	bench_report("Write 4 KiB /tmp, agent", sv, iters,
	    "Write 4 KiB /tmp, agent = no", bv, iters, "p50 <= 1 ms");
	both_sides(read4k, "/tmp/bench.txt", s_on, s_off, iters, sv, bv);
	bench_report("Read 4 KiB /tmp, agent", sv, iters,
	    "Read 4 KiB /tmp, agent = no", bv, iters, "p50 <= 1 ms");
	free(sv);
	free(bv);
}

/* ---- 5 and 6: many clients at once */

enum job { JOB_TRUE, JOB_SLEEP, JOB_FILES };

struct worker {
	pthread_t t;
	enum job job;
	const char *endpoint;
	const char *sid;
	char path[64];
	double deadline;
	long ops;
	int nlat;
	double *lat;              /* JOB_FILES: each call's time, up to LAT_MAX */
};

static int
one_call(struct worker *w, sbx_client *c)
{
	static const sbx_exec_opts sleep1 = { .command = "sleep 1" };
	sbx_exec_result r;
	double t0;
	int rv;

	switch (w->job) {
	case JOB_TRUE:
		return bench_run_true(c, w->sid);
	case JOB_SLEEP:
		rv = sbx_exec(c, w->sid, &sleep1, &r) == SBX_OK && r.exit_code == 0 ? 0 : -1;
		sbx_exec_result_fini(&r);
		return rv;
	case JOB_FILES:
		t0 = bench_now_ms();
		rv = (w->ops % 2 == 0 ? write4k : read4k)(c, w->sid, w->path);
		if (w->nlat < LAT_MAX)
			w->lat[w->nlat++] = bench_now_ms() - t0;
		return rv;
	}
	return -1;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	sbx_client *c = client(w->endpoint);

	while (bench_now_ms() < w->deadline) {
		if (one_call(w, c) != 0)
			fails++;
		w->ops++;
	}
	sbx_client_close(c);
	return NULL;
}

/* Runs n workers to the deadline now + seconds. The time they took. */
static double
run_workers(struct worker *w, int n)
{
	double t0 = bench_now_ms();

	for (int i = 0; i < n; i++) {
		w[i].deadline = t0 + seconds * 1e3;
		if (pthread_create(&w[i].t, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "bench: cannot start a thread\n");
			exit(1);
		}
	}
	for (int i = 0; i < n; i++)
		pthread_join(w[i].t, NULL);
	return bench_now_ms() - t0;
}

static double
throughput(const struct sbxd *x, sbx_session *ss)
{
	struct worker w[TP_CLIENTS] = { 0 };
	double ms;
	long ops = 0;

	for (int i = 0; i < TP_CLIENTS; i++)
		w[i] = (struct worker){ .job = JOB_TRUE, .endpoint = x->endpoint,
			.sid = ss[i % SESSIONS].session_id };
	ms = run_workers(w, TP_CLIENTS);
	for (int i = 0; i < TP_CLIENTS; i++)
		ops += w[i].ops;
	return ops / (ms / 1e3);
}

static void
fig_throughput(sbx_session *ss_on, sbx_session *ss_off)
{
	double a = throughput(&on, ss_on), b = throughput(&off, ss_off);

	report_rate("Execute(true) x32 clients, agent", a,
	    "Execute(true) x32 clients, agent = no", b);
	bench_report_ratio("throughput, agent / agent = no", b > 0 ? a / b : 0, "none set");
}

/* File-only (nsleep 0) or mixed: the file calls' times, merged, in *v. */
static int
file_phase(sbx_session *ss, int nsleep, double **v)
{
	struct worker w[2 * HOLD_CLIENTS] = { 0 };
	int n = 0, k = 0;

	for (int i = 0; i < HOLD_CLIENTS; i++) {
		w[i] = (struct worker){ .job = JOB_FILES, .endpoint = on.endpoint,
			.sid = ss[i % SESSIONS].session_id,
			.lat = calloc(LAT_MAX, sizeof(double)) };
		snprintf(w[i].path, sizeof(w[i].path), "/workspace/bench-%d.txt", i);
	}
	for (int i = 0; i < nsleep; i++)
		w[HOLD_CLIENTS + i] = (struct worker){ .job = JOB_SLEEP,
			.endpoint = on.endpoint, .sid = ss[i % SESSIONS].session_id };
	run_workers(w, HOLD_CLIENTS + nsleep);
	for (int i = 0; i < HOLD_CLIENTS; i++)
		n += w[i].nlat;
	*v = calloc((size_t)n + 1, sizeof(double));
	for (int i = 0; i < HOLD_CLIENTS; i++) {
		memcpy(*v + k, w[i].lat, (size_t)w[i].nlat * sizeof(double));
		k += w[i].nlat;
		free(w[i].lat);
	}
	return n;
}

/* The caller's client on the agent sbxd is closed meanwhile: 64 clients
 * are the most sbxd takes from one address (max_connections_per_address). */
static void
fig_holding(sbx_session *ss)
{
	double *fv, *mv, ratio;
	int fn, mn;

	fn = file_phase(ss, 0, &fv);
	mn = file_phase(ss, HOLD_CLIENTS, &mv);
	if (fn < 10 || mn < 10) {
		fprintf(stderr, "bench: too few file calls to report (%d, %d)\n", fn, mn);
		fails++;
	} else {
		bench_report("4 KiB /workspace I/O + 32 x sleep 1", mv, mn,
		    "4 KiB /workspace I/O alone", fv, fn, NULL);
		ratio = pct(mv, mn, .99) / pct(fv, fn, .99);
		bench_report_ratio("file call p99, mixed / alone", ratio,
		    "mixed p99 <= 3x file-only p99");
	}
	free(fv);
	free(mv);
}

/* ---- main */

static int
open_many(struct sbxd *x, sbx_session *ss, const char *prefix)
{
	char user[32];

	for (int i = 0; i < SESSIONS; i++) {
		snprintf(user, sizeof(user), "%s-%d", prefix, i);
		if (create(x, user, &ss[i]) != 0)
			return -1;
		if (x == &on)
			bench_wait_agent(x->c, ss[i].session_id);
	}
	return 0;
}

static void
end_all(struct sbxd *x, sbx_session *ss, int n)
{
	for (int i = 0; i < n; i++) {
		if (ss[i].session_id != NULL && sbx_session_end(x->c, ss[i].session_id, 1) != SBX_OK)
			fprintf(stderr, "bench: ending %s: %s\n", ss[i].session_id,
			    sbx_last_error(x->c));
		sbx_session_fini(&ss[i]);
	}
}

static int
setup(int argc, char **argv, int *iters, const char **bin)
{
	const char *st_on = getenv("SBX_BENCH_STATE"), *st_off = getenv("SBX_BENCH_NOAGENT_STATE");
	char db[512];

	bench_name = "agent";
	if (bench_parse_args(argc, argv, iters, &on.endpoint) != 0)
		return -1;
	key = getenv("SBX_SERVICE_KEY");
	off.endpoint = getenv("SBX_BENCH_NOAGENT");
	*bin = getenv("SBX_AGENT_BIN");
	if (key == NULL || off.endpoint == NULL || st_on == NULL || st_off == NULL || *bin == NULL) {
		fprintf(stderr, "bench_agent: set SBX_SERVICE_KEY, SBX_BENCH_STATE, "
		    "SBX_BENCH_NOAGENT, SBX_BENCH_NOAGENT_STATE and SBX_AGENT_BIN "
		    "(tests/bench/run does)\n");
		return -1;
	}
	if (getenv("SBX_BENCH_SECONDS") != NULL && atoi(getenv("SBX_BENCH_SECONDS")) > 0)
		seconds = atoi(getenv("SBX_BENCH_SECONDS"));
	if (getenv("SBX_BENCH_POOL") != NULL && atoi(getenv("SBX_BENCH_POOL")) > 0)
		pool_size = atoi(getenv("SBX_BENCH_POOL"));
	snprintf(db, sizeof(db), "%s/sbx.db", st_on);
	server_instance_id(db, on.inst);
	snprintf(db, sizeof(db), "%s/sbx.db", st_off);
	server_instance_id(db, off.inst);
	for (size_t i = 0; i < sizeof(small); i++)
		small[i] = (char)('a' + i % 26);
	h = bench_docker_handle();
	if ((api_h = curl_easy_init()) == NULL || h == NULL)
		return -1;
	curl_easy_setopt(api_h, CURLOPT_UNIX_SOCKET_PATH, "/var/run/docker.sock");
	on.c = client(on.endpoint);
	off.c = client(off.endpoint);
	return 0;
}

int
main(int argc, char **argv)
{
	sbx_session s = { 0 }, sn = { 0 }, ss_on[SESSIONS] = { 0 }, ss_off[SESSIONS] = { 0 };
	const char *bin;
	int iters;

	if (setup(argc, argv, &iters, &bin) != 0)
		return 2;
	if (create(&on, "bench-agent", &s) != 0)
		return 1;
	bench_wait_agent(on.c, s.session_id);
	fig_exec(&s, iters);
	fig_floor(&s, iters, bin);
	if (getenv("SBX_BENCH_AGENT_QUICK") != NULL && strcmp(getenv("SBX_BENCH_AGENT_QUICK"), "1") == 0) {
		end_all(&on, &s, 1);
		goto done;
	}
	fig_pool(&s, iters);
	if (create(&off, "bench-agent", &sn) == 0) {
		fig_tmp(&s, &sn, iters);
		end_all(&off, &sn, 1);
	} else
		fails++;
	end_all(&on, &s, 1);
	if (open_many(&on, ss_on, "bench-agent-tp") == 0 &&
	    open_many(&off, ss_off, "bench-agent-tp") == 0) {
		fig_throughput(ss_on, ss_off);
		sbx_client_close(on.c);
		fig_holding(ss_on);
		on.c = client(on.endpoint);
	} else
		fails++;
	end_all(&on, ss_on, SESSIONS);
	end_all(&off, ss_off, SESSIONS);
done:
	sbx_client_close(on.c);
	sbx_client_close(off.c);
	curl_easy_cleanup(h);
	curl_easy_cleanup(api_h);
	if (fails)
		fprintf(stderr, "bench: %d calls failed\n", (int)fails);
	return fails ? 1 : 0;
}
