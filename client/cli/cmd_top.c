/*
 * cmd_top.c — `sbx top`: a live summary of one sbxd read from its
 * Prometheus /metrics (libcurl; no RPC credentials needed): RPC rate,
 * errors and p50/p99 per method, sessions by state, workers. Every second
 * it fetches again and shows what changed since the last frame; --once
 * prints one frame of the totals since sbxd started. Quantiles are the
 * upper bound of the histogram bucket they fall in.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"

#define TOP_DEFAULT_URL "http://127.0.0.1:7412/metrics"
#define TOP_BODY_MAX (4u << 20)     /* ceiling on one /metrics reply */
#define TOP_METHODS 160
#define TOP_BUCKETS 32
#define TOP_NAME 96
#define TOP_STATES 8
#define TOP_TIMEOUT_MS 5000L

struct top_method {
	char name[TOP_NAME];
	double calls, errors;
	double le[TOP_BUCKETS], cum[TOP_BUCKETS];   /* cumulative, as scraped */
	int nb;
};

struct top_snap {
	struct top_method m[TOP_METHODS];
	int nm;
	char state[TOP_STATES][16];
	double sessions[TOP_STATES];
	int ns;
	double queued, busy;
};

struct body {
	char *p;
	size_t len;
	int toobig;
};

static size_t
body_sink(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	char *np;

	if (b->len + size * n > TOP_BODY_MAX) {
		b->toobig = 1;
		return 0;
	}
	if ((np = realloc(b->p, b->len + size * n + 1)) == NULL)
		return 0;
	memcpy(np + b->len, p, size * n);
	b->p = np;
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

/* GETs url into a malloc'd NUL-terminated *out; 0, or -1 (said why). */
static int
fetch(const char *url, char **out)
{
	struct body b = { 0 };
	long status = 0;
	CURLcode cc;
	CURL *h;

	if ((h = curl_easy_init()) == NULL)
		return out_of_memory(), -1;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TOP_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK || status != 200 || b.p == NULL) {
		fprintf(stderr, "sbx: top: %s: %s\n", url, b.toobig ? "reply over 4 MiB" :
		    cc != CURLE_OK ? curl_easy_strerror(cc) : "not HTTP 200 with a body");
		free(b.p);
		return -1;
	}
	*out = b.p;
	return 0;
}

/* Copies the value of label key="..." from a sample line into out. */
static int
label(const char *line, const char *key, char *out, size_t n)
{
	char pat[32];
	const char *v, *end;

	snprintf(pat, sizeof(pat), "%s=\"", key);
	if ((v = strstr(line, pat)) == NULL)
		return -1;
	v += strlen(pat);
	if ((end = strchr(v, '"')) == NULL || (size_t)(end - v) >= n)
		return -1;
	memcpy(out, v, (size_t)(end - v));
	out[end - v] = '\0';
	return 0;
}

static struct top_method *
method_of(struct top_snap *s, const char *line)
{
	char name[TOP_NAME];

	if (label(line, "method", name, sizeof(name)) != 0)
		return NULL;
	for (int i = 0; i < s->nm; i++)
		if (strcmp(s->m[i].name, name) == 0)
			return &s->m[i];
	if (s->nm == TOP_METHODS)
		return NULL;
	snprintf(s->m[s->nm].name, TOP_NAME, "%s", name);
	return &s->m[s->nm++];
}

static void
parse_rpc(struct top_snap *s, const char *line, double v)
{
	struct top_method *m = method_of(s, line);
	char code[32], le[16];

	if (m == NULL)
		return;
	if (strncmp(line, "sbxd_rpc_total{", 15) == 0 && label(line, "code", code, sizeof(code)) == 0) {
		m->calls += v;
		if (strcmp(code, "OK") != 0)
			m->errors += v;
	} else if (m->nb < TOP_BUCKETS && label(line, "le", le, sizeof(le)) == 0) {
		m->le[m->nb] = strcmp(le, "+Inf") == 0 ? -1 : strtod(le, NULL);
		m->cum[m->nb++] = v;
	}
}

static void
parse_line(struct top_snap *s, const char *line)
{
	const char *sp = strchr(line, ' ');
	double v;

	if (line[0] == '#' || sp == NULL)
		return;
	v = strtod(sp + 1, NULL);
	if (strncmp(line, "sbxd_rpc_total{", 15) == 0 ||
	    strncmp(line, "sbxd_rpc_duration_seconds_bucket{", 33) == 0)
		parse_rpc(s, line, v);
	else if (strncmp(line, "sbxd_sessions{", 14) == 0 && s->ns < TOP_STATES &&
	    label(line, "state", s->state[s->ns], sizeof(s->state[0])) == 0)
		s->sessions[s->ns++] = v;
	else if (strncmp(line, "sbxd_worker_queue_depth ", 24) == 0)
		s->queued = v;
	else if (strncmp(line, "sbxd_workers_busy ", 18) == 0)
		s->busy = v;
}

static void
parse(struct top_snap *s, char *text)
{
	memset(s, 0, sizeof(*s));
	for (char *l = text, *nl; l != NULL && *l; l = nl) {
		if ((nl = strchr(l, '\n')) != NULL)
			*nl++ = '\0';
		parse_line(s, l);
	}
}

/* The method's row in prev, or NULL. */
static const struct top_method *
prev_of(const struct top_snap *prev, const char *name)
{
	for (int i = 0; prev != NULL && i < prev->nm; i++)
		if (strcmp(prev->m[i].name, name) == 0)
			return &prev->m[i];
	return NULL;
}

/* Quantile q of the calls between p (may be NULL) and m, as text. */
static void
quantile(const struct top_method *m, const struct top_method *p, double q, char *out, size_t n)
{
	double total = m->nb ? m->cum[m->nb - 1] - (p && p->nb ? p->cum[p->nb - 1] : 0) : 0;

	snprintf(out, n, "-");
	for (int i = 0; i < m->nb && total > 0; i++) {
		double c = m->cum[i] - (p && i < p->nb ? p->cum[i] : 0);

		if (c >= q * total) {
			if (m->le[i] < 0)
				snprintf(out, n, ">%gs", i > 0 ? m->le[i - 1] : 0);
			else
				snprintf(out, n, "%gms", m->le[i] * 1000);
			return;
		}
	}
}

static void
print_method(const struct top_method *m, const struct top_method *p, double secs)
{
	const char *name = strchr(m->name, '.') ? strrchr(m->name, '.') + 1 : m->name;
	double calls = m->calls - (p ? p->calls : 0), errs = m->errors - (p ? p->errors : 0);
	char p50[24], p99[24], rate[24];

	if (secs > 0 && calls == 0)
		return;
	quantile(m, secs > 0 ? p : NULL, 0.50, p50, sizeof(p50));
	quantile(m, secs > 0 ? p : NULL, 0.99, p99, sizeof(p99));
	if (secs > 0)
		snprintf(rate, sizeof(rate), "%.1f", calls / secs);
	else
		snprintf(rate, sizeof(rate), "-");
	printf("%-40s %10.0f %8s %8.0f %9s %9s\n", name, calls, rate, errs, p50, p99);
}

/* One frame; prev NULL (or secs 0): totals since sbxd started. */
static void
print_frame(const char *url, const struct top_snap *s, const struct top_snap *prev, double secs)
{
	printf("sbxd %s   workers: %.0f busy, %.0f queued\nsessions:", url, s->busy, s->queued);
	for (int i = 0; i < s->ns; i++)
		printf(" %s %.0f", s->state[i], s->sessions[i]);
	printf("\n\n%-40s %10s %8s %8s %9s %9s\n", "METHOD", secs > 0 ? "CALLS" : "CALLS(all)",
	    "RATE/s", "ERRORS", "P50", "P99");
	for (int i = 0; i < s->nm; i++)
		print_method(&s->m[i], prev_of(secs > 0 ? prev : NULL, s->m[i].name), secs);
	fflush(stdout);
}

static int
top_snapshot(const char *url, struct top_snap *s)
{
	char *text;

	if (fetch(url, &text) != 0)
		return -1;
	parse(s, text);
	free(text);
	return 0;
}

/* Refreshes every second until interrupted or a fetch fails. */
static int
top_live(const char *url, struct top_snap *s, struct top_snap *prev)
{
	struct timespec t0, t1;
	int tty = isatty(STDOUT_FILENO);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		sleep(1);
		*prev = *s;
		if (top_snapshot(url, s) != 0)
			return EXIT_FAIL;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (tty)
			fputs("\033[H\033[2J", stdout);
		print_frame(url, s, prev, (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		t0 = t1;
	}
}

int
cmd_top(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "metrics", required_argument, NULL, 'm' },
		{ "once", no_argument, NULL, 'o' },
		{ 0 },
	};
	const char *url = TOP_DEFAULT_URL;
	struct top_snap *s = NULL, *prev = NULL;
	int ch, once = 0, ret = EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'm')
			url = optarg;
		else if (ch == 'o')
			once = 1;
		else
			return EXIT_USAGE;
	}
	if (optind != argc)
		return usage_error("top takes no arguments");
	if ((s = malloc(sizeof(*s))) == NULL || (prev = malloc(sizeof(*prev))) == NULL)
		ret = out_of_memory();
	else if (top_snapshot(url, s) == 0) {
		print_frame(url, s, NULL, 0);
		ret = once ? 0 : top_live(url, s, prev);
	}
	free(s);
	free(prev);
	return ret;
}
