/*
 * bench_load.c — sbxd under 64 clients at once (a thread and an
 * sbx_client each) on 16 sessions, file calls alone and beside commands,
 * in one run, with what the sbxd process spends and keeps meanwhile.
 *
 * Phases, each SBX_BENCH_SECONDS (10) long:
 *   1. file-only: 64 clients loop Write 4 KiB, Read 4 KiB, Ls, Grep and
 *      Stat in /workspace (each client on a file of its own, 64 lines of
 *      text; Grep counts a regex's matching lines in /workspace/load-*.txt,
 *      4 such files per session);
 *   2. file-only x32: the first 32 of those clients alone, the mixed
 *      phase's file clients without its commands;
 *   3. mixed: the same 32 file clients beside 32 clients looping Execute,
 *      alternating `true` and `sleep 1`;
 *   4. soak (SBX_BENCH_SOAK_SECONDS, 0 = skipped, said so): the mixed load
 *      for that long; sbxd's VmRSS at the end against VmRSS at the mark,
 *      60 s in when the soak is 600 s or longer, else a tenth of it (the
 *      issue's "after 10 minutes <= 1.1x after 1 minute", scaled down).
 * Figures per phase: each op's p50/p90/p99 and ops/s, all file calls
 * together, sbxd CPU (utime + stime from /proc/PID/stat over the phase)
 * per call and as a share of one core, sbxd VmRSS at its end; and the
 * ratios "file call p99, mixed / file-only", target <= 3x (the issue's:
 * 64 file clients against 32, so fewer file calls compete in the mixed
 * phase), and "... / file-only x32", the same 32 file clients with and
 * without the commands beside them.
 * Clients open and make one call before a phase's clock starts, and its
 * CPU is read once every client has made its last call, before any
 * closes. Execute(sleep 1) runs past the deadline by up to a second: a
 * phase's ops/s divide the calls made by the time until the last ended.
 *
 * usage: bench_load [--json] [--iterations N] ENDPOINT   with
 * SBX_SERVICE_KEY and SBX_BENCH_PID (ENDPOINT's sbxd: CPU and VmRSS);
 * optional SBX_BENCH_SECONDS and SBX_BENCH_SOAK_SECONDS. N is accepted
 * and unused (phases run for a time). The caller's own client is closed
 * during the phases: 64 connections are the most sbxd takes from one
 * address (max_connections_per_address), and the sbxd keeps its defaults.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "sbx.h"

#define SESSIONS 16
#define CLIENTS 64                /* file-only phase */
#define MIXED_FILE 32             /* mixed phase: file clients ... */
#define MIXED_EXEC 32             /* ... and command clients */
#define SMALL 4096
#define LINE 64                   /* the file is SMALL / LINE lines of text */
#define SAMPLES_MAX (1 << 20)     /* kept per client and op; later calls still count */
#define AGENT_TRIES 100
#define AGENT_FAST_MS 5.0
#define SOAK_FULL_S 600.0         /* the soak and its mark */
#define SOAK_MARK_S 60.0
#define RSS_POLL_MS 1000.0
#define ERRS_SHOWN 5

enum op { OP_WRITE, OP_READ, OP_LS, OP_GREP, OP_STAT, OP_TRUE, OP_SLEEP, NOPS };
#define NFILE_OPS 5               /* OP_WRITE .. OP_STAT, in the order each client loops */

static const char *const op_name[NOPS] = {
	"Write 4 KiB", "Read 4 KiB", "Ls /workspace", "Grep /workspace", "Stat",
	"Execute(true)", "Execute(sleep 1)",
};

struct samples {
	double *v;
	int n, cap;
	long calls;               /* all calls, kept or not */
};

struct worker {
	pthread_t t;
	int exec;                 /* loops Execute, else file calls */
	const char *sid;
	char path[64];
	long ops;
	struct samples s[NOPS];
};

struct phase {
	const char *name;
	int nfile, nexec;
	double seconds;
	double mark_s;            /* soak: when the first VmRSS is read; 0 = none */
	double wall_ms, cpu_ms;
	long rss_kb, rss_mark_kb, rss_peak_kb;
	struct samples s[NOPS];   /* merged from the workers */
	double *files;            /* every file call's time */
	int nfiles;
	long file_calls;
};

static const char *endpoint, *key, *pid;
static char text[SMALL + 1];
static const sbx_grep_opts grep_opts = { .pattern = "^line 0[0-9]*7 ", .path = "/workspace",
	.glob = "load-*.txt", .mode = SBX_GREP_COUNT };
static pthread_barrier_t ready, go, done, measured;
static double deadline;
static atomic_int fails;

/* ---- helpers */

static sbx_client *
client(void)
{
	sbx_options o = { .endpoint = endpoint, .service_key = key, .timeout_ms = 300000 };
	sbx_client *c = NULL;

	if (sbx_client_open(&o, &c) != SBX_OK) {
		fprintf(stderr, "bench: cannot open a client on %s\n", endpoint);
		exit(1);
	}
	return c;
}

static void
failed(sbx_client *c, const char *what)
{
	if (atomic_fetch_add(&fails, 1) < ERRS_SHOWN)
		fprintf(stderr, "bench: %s: %s\n", what, sbx_last_error(c));
}

/* utime + stime of the sbxd in ms, -1 when /proc does not say. */
static double
cpu_ms(void)
{
	char path[64], line[1024], *p;
	unsigned long ut, st;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	ok = fgets(line, sizeof(line), f) != NULL && (p = strrchr(line, ')')) != NULL &&
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) == 2;
	fclose(f);
	return ok ? (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK) : -1;
}

static void
samples_add(struct samples *s, double ms)
{
	double *v;

	s->calls++;
	if (s->n == s->cap) {
		if (s->cap >= SAMPLES_MAX)
			return;
		if ((v = realloc(s->v, (size_t)(s->cap ? 2 * s->cap : 1024) * sizeof(*v))) == NULL)
			return;
		s->v = v;
		s->cap = s->cap ? 2 * s->cap : 1024;
	}
	s->v[s->n++] = ms;
}

/* Appends from's samples to to's; from keeps its own. */
static void
samples_merge(struct samples *to, const struct samples *from)
{
	double *v;

	to->calls += from->calls;
	if (from->n == 0 ||
	    (v = realloc(to->v, (size_t)(to->n + from->n) * sizeof(*v))) == NULL)
		return;
	memcpy(v + to->n, from->v, (size_t)from->n * sizeof(*v));
	to->v = v;
	to->n += from->n;
	to->cap = to->n;
}

/* ---- the calls */

static int
exec_ok(sbx_client *c, const char *sid, const char *cmd)
{
	sbx_exec_opts xo = { .command = cmd };
	sbx_exec_result r;
	int rv = sbx_exec(c, sid, &xo, &r) == SBX_OK && r.exit_code == 0 ? 0 : -1;

	sbx_exec_result_fini(&r);
	return rv;
}

static int
call(sbx_client *c, const struct worker *w, enum op op)
{
	sbx_file_info fi, *list = NULL;
	sbx_grep_result gr;
	void *d = NULL;
	size_t n = 0;
	int rv = -1, exists = 0;

	switch (op) {
	case OP_WRITE:
		rv = sbx_write(c, w->sid, w->path, text, SMALL, 0) == SBX_OK ? 0 : -1;
		break;
	case OP_READ:
		rv = sbx_read_bytes(c, w->sid, w->path, 0, 0, &d, &n) == SBX_OK &&
		    n == SMALL ? 0 : -1;
		sbx_free(d);
		break;
	case OP_LS:
		rv = sbx_ls(c, w->sid, "/workspace", &list, &n, NULL) == SBX_OK && n > 0 ? 0 : -1;
		sbx_file_info_list_free(list, n);
		break;
	case OP_GREP:
		rv = sbx_grep(c, w->sid, &grep_opts, &gr) == SBX_OK && gr.n_counts > 0 ? 0 : -1;
		sbx_grep_result_fini(&gr);
		break;
	case OP_STAT:
		rv = sbx_stat(c, w->sid, w->path, &exists, &fi) == SBX_OK && exists &&
		    fi.size == SMALL ? 0 : -1;
		sbx_file_info_fini(&fi);
		break;
	case OP_TRUE:
		rv = exec_ok(c, w->sid, "true");
		break;
	case OP_SLEEP:
		rv = exec_ok(c, w->sid, "sleep 1");
		break;
	case NOPS:
		break;
	}
	return rv;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	sbx_client *c = client();

	/* connected, and the file there for Read and Stat */
	if (call(c, w, w->exec ? OP_TRUE : OP_WRITE) != 0)
		failed(c, "first call");
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	while (bench_now_ms() < deadline) {
		enum op op = w->exec ? (w->ops % 2 ? OP_SLEEP : OP_TRUE) :
		    (enum op)(w->ops % NFILE_OPS);
		double t0 = bench_now_ms();

		if (call(c, w, op) != 0)
			failed(c, op_name[op]);
		samples_add(&w->s[op], bench_now_ms() - t0);
		w->ops++;
	}
	pthread_barrier_wait(&done);
	pthread_barrier_wait(&measured);
	sbx_client_close(c);
	return NULL;
}

/* ---- a phase */

/* Reads VmRSS at p->mark_s into the phase and its peak every RSS_POLL_MS
 * until the deadline. */
static void
watch_rss(struct phase *p, double t0)
{
	double now;

	p->rss_mark_kb = -1;
	while ((now = bench_now_ms()) < deadline) {
		double next = now + RSS_POLL_MS, mark = t0 + p->mark_s * 1e3;
		long kb;

		if (p->rss_mark_kb < 0 && next > mark)
			next = mark;
		if (next > deadline)
			next = deadline;
		usleep((useconds_t)((next - now) * 1e3));
		if ((kb = bench_rss_kb(pid)) > p->rss_peak_kb)
			p->rss_peak_kb = kb;
		if (p->rss_mark_kb < 0 && bench_now_ms() >= mark)
			p->rss_mark_kb = kb;
	}
}

static void
run_phase(struct phase *p, sbx_session *ss)
{
	int n = p->nfile + p->nexec;
	struct worker *w = calloc((size_t)n, sizeof(*w));
	double t0, c0;

	for (int i = 0; i < n; i++) {
		w[i].exec = i >= p->nfile;
		w[i].sid = ss[i % SESSIONS].session_id;
		snprintf(w[i].path, sizeof(w[i].path), "/workspace/load-%d.txt", i);
	}
	pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
	pthread_barrier_init(&go, NULL, (unsigned)n + 1);
	pthread_barrier_init(&done, NULL, (unsigned)n + 1);
	pthread_barrier_init(&measured, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++)
		if (pthread_create(&w[i].t, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "bench: cannot start a thread\n");
			exit(1);
		}
	pthread_barrier_wait(&ready);
	c0 = cpu_ms();
	t0 = bench_now_ms();
	deadline = t0 + p->seconds * 1e3;
	pthread_barrier_wait(&go);
	if (p->mark_s > 0)
		watch_rss(p, t0);
	pthread_barrier_wait(&done);
	p->wall_ms = bench_now_ms() - t0;
	p->cpu_ms = cpu_ms() - c0;
	p->rss_kb = bench_rss_kb(pid);
	if (p->rss_kb > p->rss_peak_kb)
		p->rss_peak_kb = p->rss_kb;
	pthread_barrier_wait(&measured);
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		for (int k = 0; k < NOPS; k++) {
			samples_merge(&p->s[k], &w[i].s[k]);
			free(w[i].s[k].v);
		}
	}
	for (int k = 0; k < NFILE_OPS; k++) {
		struct samples all = { .v = p->files, .n = p->nfiles, .cap = p->nfiles };

		samples_merge(&all, &p->s[k]);
		p->files = all.v;
		p->nfiles = all.n;
		p->file_calls += p->s[k].calls;
	}
	pthread_barrier_destroy(&ready);
	pthread_barrier_destroy(&go);
	pthread_barrier_destroy(&done);
	pthread_barrier_destroy(&measured);
	free(w);
}

static void
report_phase(struct phase *p)
{
	double secs = p->wall_ms / 1e3;
	long calls = 0;
	char fig[128];

	for (int k = 0; k < NOPS; k++) {
		calls += p->s[k].calls;
		if (p->s[k].n == 0)
			continue;
		snprintf(fig, sizeof(fig), "%s: %s", p->name, op_name[k]);
		bench_report(fig, p->s[k].v, p->s[k].n, NULL, NULL, 0, NULL);
		snprintf(fig, sizeof(fig), "%s: %s rate", p->name, op_name[k]);
		bench_report_value(fig, p->s[k].calls / secs, "ops/s", NULL);
	}
	if (p->nfiles > 0) {
		snprintf(fig, sizeof(fig), "%s: all file calls", p->name);
		bench_report(fig, p->files, p->nfiles, NULL, NULL, 0, NULL);
		snprintf(fig, sizeof(fig), "%s: all file calls rate", p->name);
		bench_report_value(fig, p->file_calls / secs, "ops/s", NULL);
	}
	snprintf(fig, sizeof(fig), "%s: all calls rate", p->name);
	bench_report_value(fig, calls / secs, "ops/s", NULL);
	if (p->cpu_ms >= 0 && calls > 0) {
		snprintf(fig, sizeof(fig), "%s: sbxd CPU per call", p->name);
		bench_report_value(fig, p->cpu_ms / calls, "ms", NULL);
		snprintf(fig, sizeof(fig), "%s: sbxd CPU, share of a core", p->name);
		bench_report_value(fig, 100 * p->cpu_ms / p->wall_ms, "%", NULL);
	}
	snprintf(fig, sizeof(fig), "%s: sbxd VmRSS at the end", p->name);
	bench_report_value(fig, p->rss_kb / 1024.0, "MB", NULL);
}

static void
phase_fini(struct phase *p)
{
	for (int k = 0; k < NOPS; k++)
		free(p->s[k].v);
	free(p->files);
}

/* ---- the soak */

static void
soak(sbx_session *ss, double seconds)
{
	struct phase p = { .nfile = MIXED_FILE, .nexec = MIXED_EXEC, .seconds = seconds,
		.mark_s = seconds >= SOAK_FULL_S ? SOAK_MARK_S : seconds * SOAK_MARK_S / SOAK_FULL_S };
	char name[64], fig[128];

	snprintf(name, sizeof(name), "soak %.0f s", seconds);
	p.name = name;
	run_phase(&p, ss);
	report_phase(&p);
	snprintf(fig, sizeof(fig), "%s: sbxd VmRSS at %.0f s", name, p.mark_s);
	bench_report_value(fig, p.rss_mark_kb / 1024.0, "MB", NULL);
	snprintf(fig, sizeof(fig), "%s: sbxd VmRSS peak", name);
	bench_report_value(fig, p.rss_peak_kb / 1024.0, "MB", NULL);
	snprintf(fig, sizeof(fig), "%s: VmRSS end / at %.0f s", name, p.mark_s);
	if (p.rss_mark_kb > 0 && p.rss_kb > 0)
		bench_report_ratio(fig, (double)p.rss_kb / (double)p.rss_mark_kb, "<= 1.1");
	else {
		fprintf(stderr, "bench: no VmRSS for sbxd %s\n", pid);
		fails++;
	}
	phase_fini(&p);
}

/* ---- main */

/* Runs `true` until one call takes < AGENT_FAST_MS: the agent answers. */
static void
wait_agent(sbx_client *c, const char *sid)
{
	for (int i = 0; i < AGENT_TRIES; i++) {
		double t0 = bench_now_ms();

		if (exec_ok(c, sid, "true") == 0 && bench_now_ms() - t0 < AGENT_FAST_MS)
			return;
	}
	fprintf(stderr, "bench: session %s: no Execute(true) under %.0f ms in %d tries "
	    "(its agent is not answering; timing the route it gets)\n", sid, AGENT_FAST_MS,
	    AGENT_TRIES);
}

static int
open_sessions(sbx_session *ss)
{
	sbx_client *c = client();
	sbx_session_create_opts co = { 0 };
	char user[32];
	int rv = 0;

	for (int i = 0; i < SESSIONS && rv == 0; i++) {
		snprintf(user, sizeof(user), "bench-load-%d", i);
		co.user_id = user;
		if (sbx_session_create(c, &co, &ss[i], NULL) != SBX_OK) {
			fprintf(stderr, "bench: CreateSession: %s\n", sbx_last_error(c));
			rv = -1;
		} else
			wait_agent(c, ss[i].session_id);
	}
	sbx_client_close(c);
	return rv;
}

static void
end_sessions(sbx_session *ss)
{
	sbx_client *c = client();

	for (int i = 0; i < SESSIONS; i++) {
		if (ss[i].session_id != NULL && sbx_session_end(c, ss[i].session_id, 1) != SBX_OK)
			fprintf(stderr, "bench: ending %s: %s\n", ss[i].session_id,
			    sbx_last_error(c));
		sbx_session_fini(&ss[i]);
	}
	sbx_client_close(c);
}

static double
env_seconds(const char *name, double dflt)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? atof(v) : dflt;
}

int
main(int argc, char **argv)
{
	struct phase alone = { .name = "file-only", .nfile = CLIENTS };
	struct phase half = { .name = "file-only x32", .nfile = MIXED_FILE };
	struct phase mixed = { .name = "mixed", .nfile = MIXED_FILE,
		.nexec = MIXED_EXEC };
	sbx_session ss[SESSIONS] = { 0 };
	double soak_s;
	int iters;

	bench_name = "load";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0)
		return 2;
	key = getenv("SBX_SERVICE_KEY");
	pid = getenv("SBX_BENCH_PID");
	if (key == NULL || pid == NULL) {
		fprintf(stderr, "bench_load: set SBX_SERVICE_KEY and SBX_BENCH_PID "
		    "(tests/bench/run does)\n");
		return 2;
	}
	alone.seconds = half.seconds = mixed.seconds = env_seconds("SBX_BENCH_SECONDS", 10);
	soak_s = env_seconds("SBX_BENCH_SOAK_SECONDS", 0);
	if (alone.seconds <= 0 || soak_s < 0) {
		fprintf(stderr, "bench_load: SBX_BENCH_SECONDS > 0, SBX_BENCH_SOAK_SECONDS >= 0\n");
		return 2;
	}
	for (int i = 0; i < SMALL / LINE; i++)
		snprintf(text + i * LINE, LINE + 1, "line %04d %-53s\n", i,
		    "the quick brown fox jumps over the lazy dog");
	if (open_sessions(ss) != 0) {
		end_sessions(ss);
		return 1;
	}
	run_phase(&alone, ss);
	report_phase(&alone);
	run_phase(&half, ss);
	report_phase(&half);
	run_phase(&mixed, ss);
	report_phase(&mixed);
	if (alone.nfiles > 0 && half.nfiles > 0 && mixed.nfiles > 0) {
		bench_report_ratio("file call p99, mixed / file-only",
		    bench_pct(mixed.files, mixed.nfiles, .99) /
		    bench_pct(alone.files, alone.nfiles, .99), "<= 3x");
		bench_report_ratio("file call p99, mixed / file-only x32",
		    bench_pct(mixed.files, mixed.nfiles, .99) /
		    bench_pct(half.files, half.nfiles, .99), "<= 3x");
	}
	phase_fini(&alone);
	phase_fini(&half);
	phase_fini(&mixed);
	if (soak_s > 0)
		soak(ss, soak_s);
	else if (bench_json)
		printf("{\"bench\": \"load\", \"figure\": \"soak\", "
		    "\"skipped\": \"SBX_BENCH_SOAK_SECONDS=0\"}\n");
	else
		printf("soak skipped (SBX_BENCH_SOAK_SECONDS=0; set it, e.g. 600, for the "
		    "VmRSS figure)\n");
	end_sessions(ss);
	if (fails)
		fprintf(stderr, "bench: %d calls failed\n", (int)fails);
	return fails ? 1 : 0;
}
