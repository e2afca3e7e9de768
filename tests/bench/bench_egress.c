/*
 * bench_egress.c — egress through the kept proxy against a direct bridge
 * connection to the same local server, in one run (tests/bench/run
 * isolation runs it):
 *
 *   HTTP GET latency   a session with an allowlist fetches a small page
 *                      through squid (a new connection each time, as pip
 *                      and most clients do); the baseline is a plain
 *                      container on the proxy's own bridge network
 *                      fetching it straight from the server
 *   32 MiB GET         a 32 MiB file, the same two ways (ms, and MB/s at
 *                      the p50)
 *
 * Both loops run in Python inside the container (the same script), so the
 * client's own cost is in both. The server is Python's http.server on the
 * host address of the proxy's way-out network (egress_out_subnet), named
 * bench.sbxtest in the proxy's hosts file (egress_hosts_file).
 *
 * usage: bench_egress [--json] [--iterations N] ENDPOINT
 *   ENDPOINT: an sbxd with egress_out_subnet = SBX_BENCH_EGRESS_SUBNET (a
 *   /28 whose .1 is the server's address) and an egress_hosts_file naming
 *   that address bench.sbxtest; SBX_BENCH_EGRESS_PORT: a free TCP port;
 *   SBX_SERVICE_KEY set.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "sbx.h"

#define MB_ROUNDS 5
#define BIG_MIB 32

/* GETs url n times (after one warm-up) and prints each time in ms;
 * "direct" bypasses the proxy. */
static const char script[] =
"import sys, time, urllib.request\n"
"url, n, how, what = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]\n"
"ph = urllib.request.ProxyHandler({}) if how == 'direct' else urllib.request.ProxyHandler()\n"
"o = urllib.request.build_opener(ph)\n"
"o.open(url).read()\n"
"for i in range(n):\n"
"    t = time.perf_counter()\n"
"    o.open(url).read()\n"
"    print((time.perf_counter() - t) * 1000)\n";

static int
parse(const char *out, double *v, int n)
{
	int k = 0;

	while (k < n && out != NULL && *out) {
		v[k++] = strtod(out, NULL);
		if ((out = strchr(out, '\n')) != NULL)
			out++;
	}
	return k;
}

static int
in_session(sbx_client *c, const char *sid, const char *url, int n, const char *what,
    double *v)
{
	char ns[16];
	const char *argv[] = { "python3", "/workspace/egress_lat.py", url, ns, "proxy", what, NULL };
	sbx_exec_opts o = { .argv = argv, .argc = 6, .timeout_ms = 600000,
	    .max_output_bytes = 1 << 20 };
	sbx_exec_result r;
	int k = 0;

	snprintf(ns, sizeof(ns), "%d", n);
	if (sbx_exec(c, sid, &o, &r) != SBX_OK) {
		fprintf(stderr, "bench: exec: %s\n", sbx_last_error(c));
		return 0;
	}
	if (r.exit_code != 0)
		fprintf(stderr, "bench: %s\n", r.err.data ? (char *)r.err.data : "");
	else
		k = parse((char *)r.out.data, v, n);
	sbx_exec_result_fini(&r);
	return k;
}

/* The same script in a plain container on network net, straight to url. */
static int
in_container(const char *net, const char *scriptfile, const char *url, int n, const char *what,
    double *v)
{
	char cmd[1024], *buf = malloc(1 << 20);
	size_t len = 0, got;
	FILE *f;
	int k = 0;

	snprintf(cmd, sizeof(cmd), "docker run --rm --network '%s' -v '%s:/lat.py:ro' "
	    "sbx/python-minimal:latest python3 /lat.py '%s' %d direct %s", net, scriptfile, url, n,
	    what);
	if (buf == NULL || (f = popen(cmd, "r")) == NULL) {
		free(buf);
		return 0;
	}
	while ((got = fread(buf + len, 1, (1 << 20) - 1 - len, f)) > 0)
		len += got;
	buf[len] = '\0';
	if (pclose(f) == 0)
		k = parse(buf, v, n);
	free(buf);
	return k;
}

static const char *
shell(const char *cmd)
{
	static char line[512];
	FILE *f = popen(cmd, "r");

	line[0] = '\0';
	if (f != NULL) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		pclose(f);
	}
	line[strcspn(line, "\n")] = '\0';
	return line;
}

int
main(int argc, char **argv)
{
	const char *endpoint, *subnet = getenv("SBX_BENCH_EGRESS_SUBNET");
	const char *port_s = getenv("SBX_BENCH_EGRESS_PORT");
	char gw[32], entry[64], url[128], bigurl[128], net[128], dir[] = "/tmp/sbx-bench-www-XXXXXX";
	char path[256], cmd[512];
	const char *allow[1] = { entry };
	sbx_options co = { 0 };
	sbx_session_create_opts so = { .user_id = "bench-egress", .egress_allow = allow,
	    .n_egress_allow = 1 };
	sbx_client *c = NULL;
	sbx_session s = { 0 };
	double *v, *b, mv[MB_ROUNDS], mb[MB_ROUNDS];
	int iters, nv, nb, rc = 1;
	pid_t server = -1;
	FILE *f;

	bench_name = "egress";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0)
		return 2;
	if (subnet == NULL || port_s == NULL || strchr(subnet, '/') == NULL) {
		fprintf(stderr, "bench_egress: set SBX_BENCH_EGRESS_SUBNET and SBX_BENCH_EGRESS_PORT "
		    "(tests/bench/run isolation does)\n");
		return 2;
	}
	snprintf(gw, sizeof(gw), "%.*s1", (int)(strrchr(subnet, '.') - subnet + 1), subnet);
	snprintf(entry, sizeof(entry), "bench.sbxtest:%s", port_s);
	snprintf(url, sizeof(url), "http://bench.sbxtest:%s/", port_s);
	snprintf(bigurl, sizeof(bigurl), "http://bench.sbxtest:%s/big.bin", port_s);
	v = calloc((size_t)iters, sizeof(double));
	b = calloc((size_t)iters, sizeof(double));
	co.endpoint = endpoint;
	co.service_key = getenv("SBX_SERVICE_KEY");
	co.timeout_ms = 600000;
	if (v == NULL || b == NULL || mkdtemp(dir) == NULL || sbx_client_open(&co, &c) != SBX_OK)
		return 1;
	if (sbx_session_create(c, &so, &s, NULL) != SBX_OK) {
		fprintf(stderr, "bench: CreateSession: %s\n", sbx_last_error(c));
		goto out;
	}
	/* the proxy's way-out network now exists: the server on its host address */
	snprintf(path, sizeof(path), "%s/index.html", dir);
	if ((f = fopen(path, "w")) == NULL)
		goto out;
	fputs("hello from the egress benchmark\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "head -c %dM /dev/zero > %s/big.bin", BIG_MIB, dir);
	snprintf(path, sizeof(path), "%s/lat.py", dir);
	if (system(cmd) != 0 || (f = fopen(path, "w")) == NULL)
		goto out;
	fputs(script, f);
	fclose(f);
	if (sbx_write(c, s.session_id, "egress_lat.py", script, strlen(script), 0) != SBX_OK)
		goto out;
	if ((server = fork()) == 0) {
		int null = open("/dev/null", 1);

		dup2(null, 1);
		dup2(null, 2);
		execlp("python3", "python3", "-m", "http.server", "--bind", gw, port_s,
		    "--directory", dir, (char *)NULL);
		_exit(127);
	}
	snprintf(cmd, sizeof(cmd), "for n in $(docker network ls -q); do docker network inspect -f "
	    "'{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}}' $n; done | awk '$2 == \"%s\" "
	    "{print $1}'", subnet);
	snprintf(net, sizeof(net), "%s", shell(cmd));
	if (net[0] == '\0') {
		fprintf(stderr, "bench: no network has %s\n", subnet);
		goto out;
	}
	for (int i = 0; i < 100; i++) {   /* the server listens */
		snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null -w '%%{http_code}' http://%s:%s/",
		    gw, port_s);
		if (strcmp(shell(cmd), "200") == 0)
			break;
		usleep(100 * 1000);
	}
	/* alternating halves, so drift lands on both */
	snprintf(cmd, sizeof(cmd), "http://%s:%s/", gw, port_s);
	in_container(net, path, cmd, 0, "ms", b);   /* warms the engine's view of the image */
	nv = in_session(c, s.session_id, url, iters / 2, "ms", v);
	nb = in_container(net, path, cmd, iters / 2, "ms", b);
	nb += in_container(net, path, cmd, iters - iters / 2, "ms", b + nb);
	nv += in_session(c, s.session_id, url, iters - iters / 2, "ms", v + nv);
	if (nv < iters || nb < iters) {
		fprintf(stderr, "bench: %d of %d proxied and %d of %d direct requests ran\n", nv,
		    iters, nb, iters);
		goto out;
	}
	bench_report("HTTP GET through the egress proxy (ms)", v, nv,
	    "direct on a bridge (same run)", b, nb, NULL);
	snprintf(cmd, sizeof(cmd), "http://%s:%s/big.bin", gw, port_s);
	nv = in_session(c, s.session_id, bigurl, MB_ROUNDS, "ms", mv);
	nb = in_container(net, path, cmd, MB_ROUNDS, "ms", mb);
	if (nv == MB_ROUNDS && nb == MB_ROUNDS) {
		double mib = BIG_MIB * 1.048576;   /* MB */

		bench_report("32 MiB GET through the egress proxy (ms)", mv, nv,
		    "direct on a bridge (same run)", mb, nb, NULL);
		bench_report_value("32 MiB GET through the egress proxy, p50", mib /
		    (bench_pct(mv, nv, 0.5) / 1000), "MB/s", NULL);
		bench_report_value("32 MiB GET direct on a bridge, p50", mib /
		    (bench_pct(mb, nb, 0.5) / 1000), "MB/s", NULL);
	}
	rc = nv == MB_ROUNDS && nb == MB_ROUNDS ? 0 : 1;
out:
	if (server > 0) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
	}
	if (s.session_id != NULL)
		sbx_session_end(c, s.session_id, 1);
	sbx_session_fini(&s);
	if (c != NULL)
		sbx_client_close(c);
	if (strncmp(dir, "/tmp/sbx-bench-www-", 19) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench: could not remove %s\n", dir);
	}
	free(v);
	free(b);
	return rc;
}
