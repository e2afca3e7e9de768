/*
 * bench_terminal.c — interactive terminals end to end, through a real
 * sbxd, a real container and its in-sandbox agent, with libsbx's log
 * subscriber (sealed pub/sub + gap fill).
 *
 * Keystroke echo: a shell on a pty in canonical mode (its line discipline
 * echoes each byte at once); one byte is sent with TerminalInput and the
 * time is taken when the subscriber (sbx_logs_next) delivers the event
 * holding its echo. The line is wiped (Ctrl-U) every 64 keys. Baseline:
 * a 64-byte round trip through a raw nng req/rep pair on loopback (the
 * floor of any request).
 *
 * Output throughput: `cat` of a 50 MB file in the workspace on a terminal
 * (OpenTerminal -> the end event at the subscriber, counting the bytes the
 * terminal showed: the pty turns "\n" into "\r\n") against the same `cat`
 * through the agent without a pty (Execute, whose output is streamed to
 * the log bus as it comes: the call -> its exit event at the subscriber,
 * counting its stdout events). MB/s = file bytes / time; the bytes each
 * route delivered and events that left the server's window before the
 * subscriber fetched them are reported.
 *
 * File-change latency: a watch on a directory of the workspace while a
 * Python loop in the container creates a file there every 25 ms (beyond
 * the agent's 20 ms window: each change is a window's leading edge, as a
 * lone edit is), noting CLOCK_REALTIME just before each creat; the
 * subscriber notes CLOCK_REALTIME when each file's event arrives, and the
 * loop's times are read back afterwards (container and host share the
 * clock). Baseline: the keystroke echo above (the same path without
 * inotify).
 *
 * usage: bench_terminal [--json] [--iterations N] ENDPOINT   (SBX_SERVICE_KEY set)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "sbx.h"

#define FILE_BYTES (50ull * 1000 * 1000)
#define ROUNDS 3
#define WAIT_MS 120000
#define BIG "/workspace/big.txt"
#define MAKE_BIG "yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ | " \
	"head -c 50000000 > " BIG

static sbx_client *c;
static sbx_session s;

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report_rate(const char *figure, double *v, int n, const char *baseline, double *b, int bn,
    uint64_t lost)
{
	qsort(v, (size_t)n, sizeof(*v), cmpd);
	qsort(b, (size_t)bn, sizeof(*b), cmpd);
	if (bench_json)
		printf("{\"bench\": \"terminal\", \"figure\": \"%s\", \"unit\": \"MB/s\", "
		    "\"n\": %d, \"sbx_p50\": %.2f, \"baseline\": \"%s\", \"baseline_p50\": %.2f, "
		    "\"ratio\": %.4f, \"lost_events\": %llu}\n", figure, n, v[n / 2], baseline,
		    b[bn / 2], v[n / 2] / b[bn / 2], (unsigned long long)lost);
	else
		printf("%-40s n=%-3d p50 %8.1f MB/s   %s p50 %8.1f MB/s   ratio %.3f  "
		    "(events lost %llu)\n", figure, n, v[n / 2], baseline, b[bn / 2],
		    v[n / 2] / b[bn / 2], (unsigned long long)lost);
}

/* Follows sub until process/terminal id ends (its end event); counts the
 * bytes of its output events of stream; returns the time it ended at, or
 * -1 after WAIT_MS. */
static double
follow_to_end(sbx_logs_sub *sub, const char *id, sbx_log_stream stream, uint64_t *bytes,
    uint64_t *lost)
{
	double end = bench_now_ms() + WAIT_MS;
	sbx_log_event ev;

	while (bench_now_ms() < end) {
		if (sbx_logs_next(sub, &ev, 1000) != SBX_OK)
			continue;
		*lost += ev.lost;
		if (strcmp(ev.process_id, id) == 0) {
			if (ev.stream == stream)
				*bytes += ev.len;
			else if (ev.stream == SBX_STREAM_SYSTEM &&
			    (strstr((char *)ev.data, "exited") != NULL ||
			    strstr((char *)ev.data, "killed") != NULL ||
			    strncmp((char *)ev.data, "terminal ended", 14) == 0)) {
				sbx_log_event_fini(&ev);
				return bench_now_ms();
			}
		}
		sbx_log_event_fini(&ev);
	}
	return -1;
}

/* follow_to_end for the Execute whose "started:" event comes first. */
static double
follow_exec(sbx_logs_sub *sub, uint64_t *bytes, uint64_t *lost)
{
	double end = bench_now_ms() + WAIT_MS;
	sbx_log_event ev;
	char id[64] = "";

	while (bench_now_ms() < end) {
		if (sbx_logs_next(sub, &ev, 1000) != SBX_OK)
			continue;
		*lost += ev.lost;
		if (id[0] == '\0' && ev.process_id[0] == 'x' && ev.stream == SBX_STREAM_SYSTEM &&
		    strncmp((char *)ev.data, "started", 7) == 0)
			snprintf(id, sizeof(id), "%s", ev.process_id);
		else if (id[0] != '\0' && strcmp(ev.process_id, id) == 0) {
			if (ev.stream == SBX_STREAM_STDOUT)
				*bytes += ev.len;
			else if (ev.stream == SBX_STREAM_SYSTEM) {
				sbx_log_event_fini(&ev);
				return bench_now_ms();
			}
		}
		sbx_log_event_fini(&ev);
	}
	return -1;
}

static sbx_logs_sub *
follow_now(void)
{
	sbx_logs_opts o = { .after_seq = SBX_LOGS_NOW, .queue_events = 4096 };
	sbx_logs_sub *sub = NULL;

	if (sbx_logs_subscribe_opts(c, s.session_id, &o, &sub) != SBX_OK)
		fprintf(stderr, "bench_terminal: subscribe: %s\n", sbx_last_error(c));
	return sub;
}

/* One keystroke's echo at the subscriber, ms; -1 when it never came. */
static double
keystroke(sbx_logs_sub *sub, const char *tid, char key)
{
	double t0 = bench_now_ms(), end = t0 + WAIT_MS;
	sbx_log_event ev;
	int seen = 0;

	if (sbx_terminal_input(c, s.session_id, tid, &key, 1) != SBX_OK)
		return -1;
	while (!seen && bench_now_ms() < end) {
		if (sbx_logs_next(sub, &ev, 1000) != SBX_OK)
			continue;
		seen = strcmp(ev.process_id, tid) == 0 && ev.stream == SBX_STREAM_TERMINAL &&
		    memchr(ev.data, key, ev.len) != NULL;
		sbx_log_event_fini(&ev);
	}
	return seen ? bench_now_ms() - t0 : -1;
}

static double echo_v[100000];
static int echo_n;

static int
bench_keystrokes(int iters)
{
	double *v = calloc((size_t)iters, sizeof(double)), *b = calloc((size_t)iters,
	    sizeof(double));
	sbx_logs_sub *sub = follow_now();
	sbx_terminal t;
	int n = 0, rv = -1;

	if (v == NULL || b == NULL || sub == NULL ||
	    sbx_terminal_open(c, s.session_id, NULL, &t) != SBX_OK)
		goto out;
	for (int i = 0; i < 10; i++)    /* warm up: the shell is up, the path is hot */
		(void)keystroke(sub, t.terminal_id, 'w');
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < iters; i++) {
		if (i % 64 == 0)    /* Ctrl-U empties the line (its echo is an erase, no 0x15) */
			(void)sbx_terminal_input(c, s.session_id, t.terminal_id, "\x15", 1);
		if ((v[n] = keystroke(sub, t.terminal_id, (char)('a' + i % 26))) >= 0)
			n++;
	}
	bench_nng_echo(iters, b);
	for (int i = 0; i < n && i < (int)(sizeof(echo_v) / sizeof(echo_v[0])); i++)
		echo_v[echo_n++] = v[i];
	bench_report("keystroke echo (input -> subscriber)", v, n, "raw nng req/rep echo",
	    b, iters, "p50 <= 2 ms");
	(void)sbx_terminal_close(c, s.session_id, t.terminal_id, NULL);
	sbx_terminal_fini(&t);
	rv = 0;
out:
	sbx_logs_unsubscribe(sub);
	free(v);
	free(b);
	return rv;
}

static int
bench_throughput(void)
{
	double pty[ROUNDS], pipe_[ROUNDS], t0, t1;
	uint64_t bytes, lost = 0;
	sbx_exec_opts mk = { .command = MAKE_BIG, .timeout_ms = 120000 };
	sbx_exec_result r;

	if (sbx_exec(c, s.session_id, &mk, &r) != SBX_OK || r.exit_code != 0) {
		fprintf(stderr, "bench_terminal: making %s: %s\n", BIG, sbx_last_error(c));
		return -1;
	}
	sbx_exec_result_fini(&r);
	for (int i = 0; i < ROUNDS; i++) {
		const char *argv[] = { "cat", BIG };
		sbx_terminal_opts o = { .argv = argv, .argc = 2, .cols = 200, .rows = 50 };
		sbx_exec_opts eo = { .argv = argv, .argc = 2, .timeout_ms = 120000 };
		sbx_logs_sub *sub = follow_now();
		sbx_terminal t;

		if (sub == NULL)
			return -1;
		bytes = 0;
		t0 = bench_now_ms();
		if (sbx_terminal_open(c, s.session_id, &o, &t) != SBX_OK) {
			fprintf(stderr, "bench_terminal: open: %s\n", sbx_last_error(c));
			return -1;
		}
		t1 = follow_to_end(sub, t.terminal_id, SBX_STREAM_TERMINAL, &bytes, &lost);
		pty[i] = t1 > 0 ? FILE_BYTES / 1e6 / ((t1 - t0) / 1e3) : 0;
		fprintf(stderr, "  pty  round %d: %llu bytes shown in %.0f ms\n", i,
		    (unsigned long long)bytes, t1 - t0);
		sbx_terminal_fini(&t);
		bytes = 0;
		t0 = bench_now_ms();
		if (sbx_exec(c, s.session_id, &eo, &r) != SBX_OK) {
			fprintf(stderr, "bench_terminal: exec: %s\n", sbx_last_error(c));
			return -1;
		}
		sbx_exec_result_fini(&r);
		t1 = follow_exec(sub, &bytes, &lost);
		pipe_[i] = t1 > 0 ? FILE_BYTES / 1e6 / ((t1 - t0) / 1e3) : 0;
		fprintf(stderr, "  pipe round %d: %llu bytes in %.0f ms\n", i,
		    (unsigned long long)bytes, t1 - t0);
		sbx_logs_unsubscribe(sub);
	}
	report_rate("cat 50 MB on a terminal", pty, ROUNDS, "same cat via agent, no pty",
	    pipe_, ROUNDS, lost);
	return 0;
}

#define LAT_DIR "/workspace/lat"
#define LAT_TIMES "/workspace/lat-times.txt"
/* creates f<i> every 25 ms, then writes "i ns" per file (CLOCK_REALTIME
 * just before its creat) outside the watched directory */
#define LAT_CMD "import os,time\nt=[]\nfor i in range(%d):\n" \
	" t.append(time.time_ns()); os.close(os.open('" LAT_DIR "/f%%d' %% i, os.O_CREAT|os.O_WRONLY))\n" \
	" time.sleep(0.025)\n" \
	"open('" LAT_TIMES "','w').write(''.join('%%d %%d\\n' %% (i, x) for i, x in enumerate(t)))\n"

static double
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
bench_watch_latency(int iters, double *echo, int nech)
{
	sbx_exec_opts mk = { .command = "mkdir -p " LAT_DIR, .timeout_ms = 60000 };
	sbx_exec_opts rd = { .command = "cat " LAT_TIMES, .timeout_ms = 60000,
	    .max_output_bytes = 1 << 20 };
	sbx_watch_opts wo = { .path = LAT_DIR };
	sbx_logs_opts lo = { .queue_events = 4096 };
	double *got = calloc((size_t)iters, sizeof(double)), *v = calloc((size_t)iters,
	    sizeof(double)), end, t;
	char id[SBX_WATCH_ID_MAX], code[768], *p, *q;
	const char *argv[] = { "python3", "-c", code };
	sbx_process_opts po = { .argv = argv, .argc = 3 };
	sbx_logs_sub *sub = NULL;
	sbx_watch_event *w;
	sbx_exec_result r;
	sbx_log_event ev;
	sbx_process pr;
	int seen = 0, n = 0, timed_out;
	long i;
	size_t k;

	if (got == NULL || v == NULL || sbx_exec(c, s.session_id, &mk, &r) != SBX_OK)
		return -1;
	sbx_exec_result_fini(&r);
	if (sbx_watch_start(c, s.session_id, &wo, id, &lo.after_seq) != SBX_OK ||
	    sbx_logs_subscribe_opts(c, s.session_id, &lo, &sub) != SBX_OK)
		return -1;
	snprintf(code, sizeof(code), LAT_CMD, iters);
	if (sbx_process_start(c, s.session_id, &po, &pr) != SBX_OK)
		return -1;
	for (end = bench_now_ms() + WAIT_MS; seen < iters && bench_now_ms() < end;) {
		if (sbx_logs_next(sub, &ev, 1000) != SBX_OK)
			continue;
		if (strcmp(ev.process_id, id) == 0 && sbx_watch_events_decode(&ev, &w, &k) == SBX_OK) {
			t = realtime_ns();
			for (size_t j = 0; j < k; j++)
				if (w[j].kind == SBX_WATCH_CREATED &&
				    (p = strrchr((char *)w[j].path.data, '/')) != NULL && p[1] == 'f' &&
				    (i = atol(p + 2)) >= 0 && i < iters && got[i] == 0) {
					got[i] = t;
					seen++;
				}
			sbx_watch_events_free(w, k);
		}
		sbx_log_event_fini(&ev);
	}
	(void)sbx_process_wait(c, s.session_id, pr.process_id, 60000, NULL, &timed_out);
	sbx_process_fini(&pr);
	if (sbx_exec(c, s.session_id, &rd, &r) != SBX_OK)
		return -1;
	for (p = (char *)r.out.data; p != NULL && *p != '\0'; p = q) {
		i = strtol(p, &q, 10);
		t = strtod(q, &q);
		if (i >= 0 && i < iters && got[i] > 0)
			v[n++] = (got[i] - t) / 1e6;
		q = strchr(q, '\n');
		if (q != NULL)
			q++;
	}
	sbx_exec_result_fini(&r);
	bench_report("file change -> event at the subscriber", v, n,
	    "keystroke echo (no inotify)", echo, nech, "p50 <= 5 ms");
	(void)sbx_watch_stop(c, s.session_id, id);
	sbx_logs_unsubscribe(sub);
	free(got);
	free(v);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *endpoint;
	int iters;

	bench_name = "terminal";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0)
		return 2;
	if (bench_open(endpoint, "bench-terminal", &c, &s) != 0) {
		fprintf(stderr, "bench_terminal: %s\n", sbx_last_error(c));
		return 1;
	}
	if (bench_keystrokes(iters) != 0 || bench_watch_latency(iters, echo_v, echo_n) != 0 ||
	    bench_throughput() != 0)
		fprintf(stderr, "bench_terminal: %s\n", sbx_last_error(c));
	sbx_session_end(c, s.session_id, 1);
	sbx_session_fini(&s);
	sbx_client_close(c);
	return 0;
}
