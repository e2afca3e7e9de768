/*
 * bench_logs.c — the log bus end to end, through a real sbxd and real
 * containers, with libsbx's subscriber (sealed pub/sub + gap fill).
 *
 * Latency, write to callback: a Python loop in the container prints
 * time.time_ns() and flushes, one line every 2 ms (so each line is its
 * own event); the subscriber's callback parses the stamp and subtracts it
 * from CLOCK_REALTIME. Container and host share the kernel's clock, so
 * this covers the whole path: the write, Docker's stream, sbxd's demux,
 * ring, seal and PUB send, TCP, the SUB, the open and the callback.
 *
 * Throughput: Execute of `head -c SIZE /dev/zero | tr '\0' x` while a
 * subscriber counts the bytes of that process's stdout events; MB/s is
 * those bytes over the time from the Execute call to the callback seeing
 * the exit event. A round counts as lossless when every byte arrived
 * (gap fill included) and the subscriber reports nothing lost. Baseline:
 * the same command through the raw Docker API (output read, discarded).
 * Unpaced, the producer may outrun the subscriber (emitters never wait
 * for subscribers), and whatever it gets ahead by beyond the window is
 * lost; so the same is also measured with the output paced at 100 MB/s
 * (64 KiB writes against the clock), the target rate.
 * Then the same rounds while another session floods (`yes` through tr
 * in a loop) — every subscriber receives every session's sealed traffic,
 * so this is also the cost of sealing over per-session endpoints — and a
 * third session's Read p50/p99 with and without that flood.
 *
 * usage: bench_logs [--json] [--iterations N] ENDPOINT   (SBX_SERVICE_KEY set)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"
#include "sbx.h"

#define FLOOD_CMD "while true; do head -c 50000000 /dev/zero | tr '\\0' y; done"
#define ROUND_BYTES 100000000ull
#define ROUNDS 5
/* 1526 x 64 KiB (100 MB) written at 100 MB/s, paced against the clock. */
#define PACED_CHUNKS 1526
#define PACED_CMD "python3 -c 'import os,time\nb=b\"x\"*65536\nt0=time.time()\n" \
	"for i in range(1526):\n os.write(1,b)\n d=t0+(i+1)*65536/100e6-time.time()\n" \
	" if d>0: time.sleep(d)'"

struct follow {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *cmd;            /* recognise our process by "started: <cmd>" */
	char pid[64];
	uint64_t bytes, lost;
	int exited;
	double *lat;                /* latency mode: write -> callback, ms */
	int nlat, maxlat;
};

static double
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
stamps(struct follow *f, const char *p, size_t n, double now)
{
	const char *end = p + n;

	while (p < end && f->nlat < f->maxlat) {
		long long ns = strtoll(p, NULL, 10);
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (ns > 0)
			f->lat[f->nlat++] = now - ns / 1e6;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static void
on_event(void *arg, const sbx_log_event *ev)
{
	struct follow *f = arg;
	double now = wall_ms();

	pthread_mutex_lock(&f->mu);
	f->lost += ev->lost;
	if (f->pid[0] == '\0' && ev->stream == SBX_STREAM_SYSTEM &&
	    strncmp((const char *)ev->data, "started: ", 9) == 0 &&
	    strncmp((const char *)ev->data + 9, f->cmd, 200) == 0)
		snprintf(f->pid, sizeof(f->pid), "%s", ev->process_id);
	else if (f->pid[0] && strcmp(ev->process_id, f->pid) == 0) {
		if (ev->stream == SBX_STREAM_SYSTEM) {
			f->exited = 1;
			pthread_cond_broadcast(&f->cv);
		} else {
			f->bytes += ev->len;
			if (f->lat != NULL)
				stamps(f, (const char *)ev->data, ev->len, now);
		}
	}
	pthread_mutex_unlock(&f->mu);
}

static void
follow_reset(struct follow *f, const char *cmd)
{
	pthread_mutex_lock(&f->mu);
	f->cmd = cmd;
	f->pid[0] = '\0';
	f->bytes = f->lost = 0;
	f->exited = 0;
	pthread_mutex_unlock(&f->mu);
}

static int
follow_wait(struct follow *f)
{
	struct timespec until;
	int ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&f->mu);
	while (!f->exited && pthread_cond_timedwait(&f->cv, &f->mu, &until) == 0)
		;
	ok = f->exited;
	pthread_mutex_unlock(&f->mu);
	return ok;
}

/* Prints one figure whose unit is not ms (percentiles of v). */
static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report_unit(const char *figure, const char *unit, double *v, int n, const char *baseline,
    double base_p50, const char *target)
{
	double p50, p90, p99;

	qsort(v, (size_t)n, sizeof(*v), cmpd);
	p50 = v[(int)(.5 * (n - 1) + .5)];
	p90 = v[(int)(.9 * (n - 1) + .5)];
	p99 = v[(int)(.99 * (n - 1) + .5)];
	if (bench_json) {
		printf("{\"bench\": \"logs\", \"figure\": \"%s\", \"unit\": \"%s\", \"n\": %d, "
		    "\"sbx_p50\": %.3f, \"sbx_p90\": %.3f, \"sbx_p99\": %.3f", figure, unit, n, p50,
		    p90, p99);
		if (baseline)
			printf(", \"baseline\": \"%s\", \"baseline_p50\": %.3f, \"ratio\": %.4f",
			    baseline, base_p50, p50 / base_p50);
		if (target)
			printf(", \"target\": \"%s\"", target);
		printf("}\n");
		return;
	}
	printf("%-44s n=%-4d p50 %9.2f  p90 %9.2f  p99 %9.2f %s", figure, n, p50, p90, p99, unit);
	if (baseline)
		printf("   (%s p50 %.2f, ratio %.3f)", baseline, base_p50, p50 / base_p50);
	if (target)
		printf("   target %s", target);
	printf("\n");
}

/* ---- the flood and the neighbour */

struct bg {
	sbx_client *c;
	const char *sid;
	volatile int stop;
	double *lat;                /* neighbour: Read latencies */
	int n, max, fails;
};

static void *
flood_main(void *arg)
{
	struct bg *b = arg;
	sbx_exec_opts o = { .command = FLOOD_CMD, .timeout_ms = 1000 };
	sbx_exec_result r;

	while (!b->stop) {
		if (sbx_exec(b->c, b->sid, &o, &r) != SBX_OK)
			b->fails++;
		sbx_exec_result_fini(&r);
	}
	return NULL;
}

static void *
reader_main(void *arg)
{
	struct bg *b = arg;
	char *text;

	while (!b->stop && b->n < b->max) {
		double t0 = bench_now_ms();

		if (sbx_read(b->c, b->sid, "/workspace/probe.txt", 0, 0, &text) != SBX_OK)
			b->fails++;
		else
			sbx_free(text);
		b->lat[b->n++] = bench_now_ms() - t0;
		usleep(2000);
	}
	return NULL;
}

/* ---- the measurements */

static int
latency(sbx_client *c, const char *sid, int n, double *lat)
{
	char cmd[256];
	struct follow f = { .lat = lat, .maxlat = n };
	sbx_logs_sub *sub = NULL;
	sbx_exec_opts o = { .command = cmd, .timeout_ms = 120000 };
	sbx_exec_result r;

	snprintf(cmd, sizeof(cmd), "python3 -c 'import time\nfor i in range(%d):\n "
	    "print(time.time_ns(), flush=True)\n time.sleep(0.002)'", n);
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	follow_reset(&f, cmd);
	if (sbx_logs_subscribe(c, sid, SBX_LOGS_NOW, on_event, &f, &sub) != SBX_OK)
		return -1;
	usleep(300000);   /* the SUB connects */
	if (sbx_exec(c, sid, &o, &r) == SBX_OK)
		sbx_exec_result_fini(&r);
	follow_wait(&f);
	sbx_logs_unsubscribe(sub);
	return f.nlat;
}

/* ROUNDS rounds of cmd, which prints want bytes; MB/s into mbs, lossless
 * rounds counted. */
static int
throughput(sbx_client *c, const char *sid, const char *cmd, uint64_t want, double *mbs,
    int *lossless)
{
	struct follow f = { 0 };
	sbx_logs_sub *sub = NULL;
	sbx_exec_opts o = { .command = cmd, .timeout_ms = 120000 };
	sbx_exec_result r;
	uint64_t lost = 0;

	sbx_logs_opts so = { .after_seq = SBX_LOGS_NOW, .callback = on_event, .arg = &f,
	    .queue_events = getenv("SBX_BENCH_QUEUE") ? atoi(getenv("SBX_BENCH_QUEUE")) : 0 };
	uint64_t refetched = 0;

	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	if (sbx_logs_subscribe_opts(c, sid, &so, &sub) != SBX_OK)
		return -1;
	usleep(300000);
	*lossless = 0;
	for (int i = 0; i < ROUNDS; i++) {
		double t0;

		follow_reset(&f, cmd);
		t0 = bench_now_ms();
		if (sbx_exec(c, sid, &o, &r) == SBX_OK)
			sbx_exec_result_fini(&r);
		follow_wait(&f);
		mbs[i] = f.bytes / 1e6 / ((bench_now_ms() - t0) / 1e3);
		sbx_logs_stats(sub, NULL, &lost, &refetched);
		if (getenv("SBX_BENCH_DEBUG"))
			fprintf(stderr, "round %d: %llu bytes, lost %llu (total %llu), refetched %llu\n", i,
			    (unsigned long long)f.bytes, (unsigned long long)f.lost,
			    (unsigned long long)lost, (unsigned long long)refetched);
		*lossless += f.bytes == want && f.lost == 0;
	}
	sbx_logs_unsubscribe(sub);
	return 0;
}

static double
raw_mbs(const char *cid)
{
	CURL *h = bench_docker_handle();
	char cmd[128];
	size_t len = 0;
	double t0 = bench_now_ms(), mbs;

	snprintf(cmd, sizeof(cmd), "head -c %llu /dev/zero | tr '\\0' x",
	    (unsigned long long)ROUND_BYTES);
	raw_exec(h, cid, cmd, &len);
	mbs = len / 1e6 / ((bench_now_ms() - t0) / 1e3);
	curl_easy_cleanup(h);
	return mbs;
}

static void
neighbour_reads(sbx_client *c, const char *sid, int n, double *lat, int *got, int *fails)
{
	struct bg rd = { .c = c, .sid = sid, .lat = lat, .max = n };
	pthread_t th;

	pthread_create(&th, NULL, reader_main, &rd);
	pthread_join(th, NULL);
	*got = rd.n;
	*fails = rd.fails;
}

int
main(int argc, char **argv)
{
	int iters, n, lossless = 0, lossless_f = 0, lossless_p = 0, nq = 0, nqf = 0, fails = 0,
	    fails_f = 0;
	char bulk[128];
	const char *endpoint;
	sbx_client *c = NULL;
	sbx_session sa, sb, sc;
	sbx_session_create_opts ob = { .user_id = "bench-logs-b" }, oc = { .user_id = "bench-logs-c" };
	double *lat, mbs[ROUNDS], mbs_f[ROUNDS], mbs_p[ROUNDS], raw[3], *q, *qf;
	struct bg flood = { 0 };
	pthread_t th;

	bench_name = "logs";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0)
		return 2;
	if (bench_open(endpoint, "bench-logs-a", &c, &sa) != 0 ||
	    sbx_session_create(c, &ob, &sb, NULL) != SBX_OK ||
	    sbx_session_create(c, &oc, &sc, NULL) != SBX_OK ||
	    sbx_write(c, sc.session_id, "probe.txt", "hello\n", 6, 0) != SBX_OK) {
		fprintf(stderr, "bench: setup: %s\n", sbx_last_error(c));
		return 1;
	}
	n = iters * 5;
	lat = calloc((size_t)n, sizeof(double));
	q = calloc((size_t)n, sizeof(double));
	qf = calloc((size_t)n, sizeof(double));
	if ((n = latency(c, sa.session_id, n, lat)) < 10) {
		fprintf(stderr, "bench: latency run got %d stamps\n", n);
		return 1;
	}
	bench_report("event latency, process write -> callback", lat, n, NULL, NULL, 0, "p50 <= 2 ms");
	for (int i = 0; i < 3; i++)
		raw[i] = raw_mbs(sa.container_id);
	qsort(raw, 3, sizeof(double), cmpd);
	snprintf(bulk, sizeof(bulk), "head -c %llu /dev/zero | tr '\\0' x",
	    (unsigned long long)ROUND_BYTES);
	if (throughput(c, sa.session_id, bulk, ROUND_BYTES, mbs, &lossless) != 0 ||
	    throughput(c, sa.session_id, PACED_CMD, PACED_CHUNKS * 65536ull, mbs_p, &lossless_p) != 0)
		return 1;
	report_unit("stream throughput, unpaced (callback)", "MB/s", mbs, ROUNDS,
	    "Docker API exec, output discarded", raw[1], ">= 100 MB/s");
	report_unit("stream throughput, paced at 100 MB/s", "MB/s", mbs_p, ROUNDS, NULL, 0,
	    "no loss");
	neighbour_reads(c, sc.session_id, iters * 2, q, &nq, &fails);
	flood.c = c;
	flood.sid = sb.session_id;
	pthread_create(&th, NULL, flood_main, &flood);
	sleep(1);
	if (throughput(c, sa.session_id, bulk, ROUND_BYTES, mbs_f, &lossless_f) != 0)
		return 1;
	neighbour_reads(c, sc.session_id, iters * 2, qf, &nqf, &fails_f);
	flood.stop = 1;
	pthread_join(th, NULL);
	report_unit("stream throughput, neighbour flooding", "MB/s", mbs_f, ROUNDS, NULL, 0,
	    ">= 100 MB/s");
	bench_report("neighbour Read RTT, quiet", q, nq, NULL, NULL, 0, NULL);
	bench_report("neighbour Read RTT, during a flood", qf, nqf, NULL, NULL, 0, NULL);
	if (!bench_json)
		printf("rounds with every byte delivered and nothing lost: %d/%d unpaced, %d/%d "
		    "paced at 100 MB/s, %d/%d unpaced with a flood; Read failures %d/%d\n",
		    lossless, ROUNDS, lossless_p, ROUNDS, lossless_f, ROUNDS, fails, fails_f);
	else
		printf("{\"bench\": \"logs\", \"figure\": \"lossless rounds\", \"unpaced\": %d, "
		    "\"paced_100MBps\": %d, \"flood\": %d, \"of\": %d}\n", lossless, lossless_p,
		    lossless_f, ROUNDS);
	sbx_session_end(c, sa.session_id, 1);
	sbx_session_end(c, sb.session_id, 1);
	sbx_session_end(c, sc.session_id, 1);
	sbx_session_fini(&sa);
	sbx_session_fini(&sb);
	sbx_session_fini(&sc);
	sbx_client_close(c);
	free(lat);
	free(q);
	free(qf);
	return 0;
}
