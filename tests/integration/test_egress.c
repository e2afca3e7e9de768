/*
 * test_egress.c — egress by domain allowlist, for real: a real sbxd, the
 * real Docker engine, the kept squid proxy (sbx/egress-proxy, built by
 * deploy/images/egress-proxy.sh), test servers on this host (Python's
 * http.server over HTTP and over TLS with a fresh self-signed certificate)
 * under names only the proxy resolves (egress_hosts_file), on the proxy's
 * way-out network (egress_out_subnet: its host address is the servers').
 *
 * From inside session A: its allowed name answers over HTTP and over
 * HTTPS (CONNECT, the certificate checked against the name); a name it
 * does not list, the servers' IP through the proxy, an allowed name that
 * resolves to a link-local or loopback address: 403; a direct connection
 * to the host, to session B's container or to 169.254.169.254: no route;
 * names do not resolve in the sandbox. B's list is B's alone. A's list
 * changed with SetEgress applies without a restart (polled, bounded);
 * GetSession reports it; each allowed and refused request is a system
 * event in A's log (and only A's). A runtime line's egress= is the list
 * of its sessions that give none. Bad entries are INVALID_ARGUMENT;
 * SetEgress on a session made without a list, and gvisor with a list, are
 * FAILED_PRECONDITION; an egress session is never a pooled container, and
 * a pool for a runtime with egress= is refused; ending it removes its
 * network. GetOrCreateSession with a list: a new session gets it, the live
 * one must have it (else FAILED_PRECONDITION, unchanged); ListSessions
 * shows every session's list. The proxy's access log stays bounded (4 KiB
 * here, so squid rotates it all through this test) and a burst of 2,400
 * requests is each one event, none lost or doubled across rotations.
 *
 * Skipped (77) only when the proxy image is missing (tests/run.sh builds
 * it through deploy/images/build-all.sh).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define BODY "hello-from-egress-test"

static struct sbxd_proc d;
static sbx_client *svc;
static char gw[32], dir[128], hostsfile[160];
static int p_http, p_https;
static pid_t servers = -1;
static sbx_session sa, sb;

/* Runs egress_probe.py in sid with the words given; its line (static). */
static const char *
probe4(const char *sid, const char *mode, const char *target, const char *extra,
    const char *extra2)
{
	static char out[1024];
	const char *argv[] = { "python3", "/workspace/egress_probe.py", mode, target, extra,
	    extra2, NULL };
	sbx_exec_opts o = { .argv = argv, .argc = extra2 ? 6 : extra ? 5 : 4,
	    .timeout_ms = 60000 };
	sbx_exec_result r;

	snprintf(out, sizeof(out), "<exec failed>");
	if (sbx_exec(svc, sid, &o, &r) != SBX_OK) {
		fprintf(stderr, "  exec: %s\n", sbx_last_error(svc));
		return out;
	}
	snprintf(out, sizeof(out), "%s", r.out.data ? (char *)r.out.data : "");
	out[strcspn(out, "\n")] = '\0';
	if (r.exit_code != 0)
		fprintf(stderr, "  probe %s %s: exit %d: %s\n", mode, target, r.exit_code,
		    r.err.data ? (char *)r.err.data : "");
	sbx_exec_result_fini(&r);
	fprintf(stderr, "  [%s] %s %s -> %s\n", sid + 2, mode, target, out);
	return out;
}

static const char *
probe(const char *sid, const char *mode, const char *target, const char *extra)
{
	return probe4(sid, mode, target, extra, NULL);
}

static const char *
url(const char *scheme, const char *host, int port)
{
	static char u[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(u[k], sizeof(u[k]), "%s://%s:%d/", scheme, host, port);
	return u[k];
}

static int
copy_file(const char *from, const char *to)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "install -m 0644 -o 1000 -g 1000 '%s' '%s'", from, to);
	return system(cmd);
}

/* Puts the probe and the servers' CA in session s's workspace. */
static int
prepare(const sbx_session *s)
{
	char path[512], src[512];

	snprintf(src, sizeof(src), "%s/tests/integration/egress_probe.py",
	    getenv("SBX_SOURCE_DIR") ? getenv("SBX_SOURCE_DIR") : ".");
	snprintf(path, sizeof(path), "%s/egress_probe.py", s->workspace_path);
	if (copy_file(src, path) != 0)
		return -1;
	snprintf(src, sizeof(src), "%s/cert.pem", dir);
	snprintf(path, sizeof(path), "%s/ca.pem", s->workspace_path);
	return copy_file(src, path) != 0 ? -1 : 0;
}

/* A session for user with the n entries allow (n 0: network none). */
static int
create(const char *user, const char *const *allow, size_t n, sbx_session *out)
{
	sbx_session_create_opts o = { .user_id = user, .egress_allow = allow,
	    .n_egress_allow = n };

	if (sbx_session_create(svc, &o, out, NULL) != SBX_OK) {
		fprintf(stderr, "create %s: %s\n", user, sbx_last_error(svc));
		return -1;
	}
	return prepare(out);
}

/* Starts the test servers on the proxy's way-out network's host address
 * and waits for their "ready". */
static int
start_servers(void)
{
	char src[512], cert[200], key[200], hp[16], sp[16], line[64] = "";
	int fds[2];
	FILE *f;

	snprintf(src, sizeof(src), "%s/tests/integration/egress_servers.py",
	    getenv("SBX_SOURCE_DIR") ? getenv("SBX_SOURCE_DIR") : ".");
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(hp, sizeof(hp), "%d", p_http);
	snprintf(sp, sizeof(sp), "%d", p_https);
	if (pipe(fds) != 0)
		return -1;
	if ((servers = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execlp("python3", "python3", src, gw, hp, sp, cert, key, BODY, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL || strncmp(line, "ready", 5) != 0) {
		fprintf(stderr, "test servers did not start\n");
		return -1;
	}
	fclose(f);
	return 0;
}

/* Waits (bounded) until sid's log holds a system event containing needle. */
static int
log_has(const char *sid, const char *needle)
{
	uint64_t until = harness_now_ms() + 30000;

	while (harness_now_ms() < until) {
		sbx_log_batch b;
		int found = 0;

		if (sbx_read_logs(svc, sid, 0, 0, &b) == SBX_OK) {
			for (size_t i = 0; i < b.n && !found; i++)
				found = b.events[i].stream == SBX_STREAM_SYSTEM &&
				    strstr((char *)b.events[i].data, needle) != NULL;
			sbx_log_batch_fini(&b);
		}
		if (found)
			return 1;
		usleep(100 * 1000);
	}
	return 0;
}

TEST(allowed_name_over_http_and_https)
{
	char want[64];

	snprintf(want, sizeof(want), "OK %s", BODY);
	CHECK_STR(probe(sa.session_id, "proxy", url("http", "allowed.sbxtest", p_http), NULL), want);
	CHECK_STR(probe(sa.session_id, "proxy", url("https", "allowed.sbxtest", p_https),
	    "/workspace/ca.pem"), want);
	CHECK_STR(probe(sb.session_id, "proxy", url("http", "www.b.sbxtest", p_http), NULL), want);
}

TEST(refused)
{
	char ip_b[64], cmd[256];

	/* names A does not list (one of them B's), a port A does not list */
	CHECK_STR(probe(sa.session_id, "proxy", url("http", "other.sbxtest", p_http), NULL),
	    "HTTP 403");
	CHECK_STR(probe(sa.session_id, "proxy", url("http", "www.b.sbxtest", p_http), NULL),
	    "HTTP 403");
	CHECK_STR(probe(sa.session_id, "proxy", url("http", "allowed.sbxtest", p_http + 1), NULL),
	    "HTTP 403");
	/* ... and A's name from B: lists are not shared */
	CHECK_STR(probe(sb.session_id, "proxy", url("http", "allowed.sbxtest", p_http), NULL),
	    "HTTP 403");
	/* TLS to a name not listed: the CONNECT is refused (squid answers
	 * inside TLS, with its own certificate, which the client rejects) */
	CHECK_CONTAINS(probe(sa.session_id, "proxy", url("https", "other.sbxtest", p_https),
	    "/workspace/ca.pem"), "ERR");
	/* TLS to an allowed name whose hello names another (forged SNI): cut;
	 * the same by hand with the right name: through */
	{
		char hp[64], want[64];

		snprintf(hp, sizeof(hp), "allowed.sbxtest:%d", p_https);
		snprintf(want, sizeof(want), "OK %s", BODY);
		CHECK_STR(probe4(sa.session_id, "sni", hp, "allowed.sbxtest", "/workspace/ca.pem"),
		    want);
		CHECK_CONTAINS(probe4(sa.session_id, "sni", hp, "other.sbxtest",
		    "/workspace/ca.pem"), "ERR");
	}
	/* IPs through the proxy: the host's, link-local */
	CHECK_STR(probe(sa.session_id, "proxy", url("http", gw, p_http), NULL), "HTTP 403");
	CHECK_STR(probe(sa.session_id, "proxy", "http://169.254.169.254/", NULL), "HTTP 403");
	/* allowed names that resolve to link-local or loopback addresses */
	CHECK_STR(probe(sa.session_id, "proxy", "http://meta.sbxtest/", NULL), "HTTP 403");
	CHECK_STR(probe(sa.session_id, "proxy", url("http", "loop.sbxtest", p_http), NULL),
	    "HTTP 403");
	/* no route past the proxy: the host, link-local, another sandbox */
	snprintf(cmd, sizeof(cmd), "%d", p_http);
	CHECK_CONTAINS(probe(sa.session_id, "direct", gw, cmd), "ERR");
	CHECK_CONTAINS(probe(sa.session_id, "direct", "169.254.169.254", "80"), "ERR");
	CHECK_CONTAINS(probe(sa.session_id, "direct", "172.17.0.1", cmd), "ERR");
	snprintf(cmd, sizeof(cmd), "docker inspect -f '{{range .NetworkSettings.Networks}}"
	    "{{.IPAddress}}{{end}}' %s", sb.container_id);
	snprintf(ip_b, sizeof(ip_b), "%s", harness_host_line(cmd));
	CHECK(ip_b[0] != '\0');
	CHECK_CONTAINS(probe(sa.session_id, "direct", ip_b, "22"), "ERR");
	CHECK_STR(probe(sa.session_id, "proxy", url("http", ip_b, 8000), NULL), "HTTP 403");
	/* no resolver in the sandbox */
	CHECK_CONTAINS(probe(sa.session_id, "dns", "allowed.sbxtest", NULL), "ERR");
	CHECK_CONTAINS(probe(sa.session_id, "dns", "deb.debian.org", NULL), "ERR");
}

TEST(logged_per_session)
{
	char s[256];

	snprintf(s, sizeof(s), "egress allowed: GET %s", url("http", "allowed.sbxtest", p_http));
	CHECK(log_has(sa.session_id, s));
	snprintf(s, sizeof(s), "egress allowed: CONNECT allowed.sbxtest:%d", p_https);
	CHECK(log_has(sa.session_id, s));
	snprintf(s, sizeof(s), "egress refused: GET %s", url("http", "other.sbxtest", p_http));
	CHECK(log_has(sa.session_id, s));
	CHECK(log_has(sa.session_id, "egress refused: GET http://169.254.169.254/"));
	snprintf(s, sizeof(s), "egress refused: CONNECT allowed.sbxtest:%d", p_https);
	CHECK(log_has(sa.session_id, s));   /* the forged SNI */
	snprintf(s, sizeof(s), "egress refused: CONNECT other.sbxtest:%d", p_https);
	CHECK(log_has(sa.session_id, s));
	/* B's own request is in B's log; A's are not */
	snprintf(s, sizeof(s), "egress allowed: GET %s", url("http", "www.b.sbxtest", p_http));
	CHECK(log_has(sb.session_id, s));
	{
		sbx_log_batch b;
		int leaked = 0;

		REQUIRE(sbx_read_logs(svc, sb.session_id, 0, 0, &b) == SBX_OK);
		for (size_t i = 0; i < b.n; i++)
			leaked |= strstr((char *)b.events[i].data, "169.254.169.254") != NULL;
		sbx_log_batch_fini(&b);
		CHECK(!leaked);
	}
}

TEST(list_changes_live)
{
	char e1[64], want[64];
	const char *allow[] = { e1 };
	sbx_session s;
	uint64_t until;
	const char *got = "";

	snprintf(e1, sizeof(e1), "other.sbxtest:%d", p_http);
	snprintf(want, sizeof(want), "OK %s", BODY);
	REQUIRE(sbx_session_set_egress(svc, sa.session_id, allow, 1, &s) == SBX_OK);
	CHECK_INT(s.n_egress_allow, 1);
	sbx_session_fini(&s);
	/* applies within a second or so (squid keeps an answer that long) */
	until = harness_now_ms() + 30000;
	while (harness_now_ms() < until &&
	    strcmp(got = probe(sa.session_id, "proxy", url("http", "other.sbxtest", p_http), NULL),
	    want) != 0)
		usleep(200 * 1000);
	CHECK_STR(got, want);
	CHECK_STR(probe(sa.session_id, "proxy", url("http", "allowed.sbxtest", p_http), NULL),
	    "HTTP 403");
	/* GetSession reports it; the container is the same one */
	REQUIRE(sbx_session_get(svc, sa.session_id, &s) == SBX_OK);
	CHECK(s.egress);
	REQUIRE_INT(s.n_egress_allow, 1);
	CHECK_STR(s.egress_allow[0], e1);
	CHECK_STR(s.container_id, sa.container_id);
	sbx_session_fini(&s);
	/* an empty list refuses everything */
	REQUIRE(sbx_session_set_egress(svc, sa.session_id, NULL, 0, NULL) == SBX_OK);
	until = harness_now_ms() + 30000;
	while (harness_now_ms() < until &&
	    strcmp(got = probe(sa.session_id, "proxy", url("http", "other.sbxtest", p_http), NULL),
	    "HTTP 403") != 0)
		usleep(200 * 1000);
	CHECK_STR(got, "HTTP 403");
}

/* A runtime line's egress= is its sessions' list when they give none. */
TEST(runtime_default)
{
	sbx_session_create_opts o = { .user_id = "egrt", .runtime = "egrt" };
	char want[64], entry[64];
	sbx_session s;

	snprintf(want, sizeof(want), "OK %s", BODY);
	snprintf(entry, sizeof(entry), "www.b.sbxtest:%d", p_http);
	REQUIRE(sbx_session_create(svc, &o, &s, NULL) == SBX_OK);
	CHECK(s.egress);
	CHECK_INT(s.n_egress_allow, 1);
	if (s.n_egress_allow == 1)
		CHECK_STR(s.egress_allow[0], entry);
	{
		char src[512], path[512];

		snprintf(src, sizeof(src), "%s/tests/integration/egress_probe.py",
		    getenv("SBX_SOURCE_DIR") ? getenv("SBX_SOURCE_DIR") : ".");
		snprintf(path, sizeof(path), "%s/egress_probe.py", s.workspace_path);
		REQUIRE(copy_file(src, path) == 0);
	}
	CHECK_STR(probe(s.session_id, "proxy", url("http", "www.b.sbxtest", p_http), NULL), want);
	CHECK_STR(probe(s.session_id, "proxy", url("http", "allowed.sbxtest", p_http), NULL),
	    "HTTP 403");
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

TEST(bad_input)
{
	static const char *const bad[] = { "10.0.0.1", "10.0.0.0/8", "*", "", "*.com",
	    "http://pypi.org", "pypi.org/simple", "[::1]", "::1", "pypi.org:0", "pypi.org:70000",
	    "localhost", "a..b.org", "foo.*.org", "-a.org", "pypi.org:80x", "host name.org" };
	char longname[400];
	sbx_session s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *one[] = { bad[i] };
		sbx_session_create_opts o = { .user_id = "egbad", .egress_allow = one,
		    .n_egress_allow = 1 };

		CHECK_INT(sbx_session_create(svc, &o, &s, NULL), SBX_INVALID_ARGUMENT);
		CHECK_INT(sbx_session_set_egress(svc, sa.session_id, one, 1, NULL),
		    SBX_INVALID_ARGUMENT);
		CHECK_CONTAINS(sbx_last_error(svc), "egress_allow[0]");
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname + sizeof(longname) - 5, ".org", 4);
	{
		const char *one[] = { longname };

		CHECK_INT(sbx_session_set_egress(svc, sa.session_id, one, 1, NULL),
		    SBX_INVALID_ARGUMENT);
	}
}

TEST(preconditions)
{
	const char *one[] = { "pypi.org" };
	sbx_session none;
	sbx_session_create_opts g = { .user_id = "eggv", .isolation = "gvisor",
	    .egress_allow = one, .n_egress_allow = 1 };
	sbx_session s;

	REQUIRE(create("egnone", NULL, 0, &none) == 0);
	CHECK(!none.egress);
	CHECK_INT(sbx_session_set_egress(svc, none.session_id, one, 1, NULL),
	    SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "network none");
	sbx_session_end(svc, none.session_id, 1);
	sbx_session_fini(&none);
	CHECK_INT(sbx_session_create(svc, &g, &s, NULL), SBX_FAILED_PRECONDITION);
	if (harness_gvisor_ready())
		CHECK_CONTAINS(sbx_last_error(svc), "egress_allow needs isolation runc");
}

/* GetOrCreateSession with a list: a new session gets it; the live one is
 * returned when it has that list (any order, case or repeats) and is
 * FAILED_PRECONDITION, unchanged, when it has another or none; without a
 * list the live one comes back as it is, its list shown. */
TEST(get_or_create)
{
	char e1[64], e2[64], want[64];
	const char *allow[] = { e1, "other.sbxtest:1" };
	const char *same[] = { "OTHER.sbxtest:1", e2, "other.sbxtest:1" };
	const char *differ[] = { e1 };
	const char *bad[] = { "10.0.0.1" };
	sbx_session_create_opts o = { .user_id = "egG", .egress_allow = allow,
	    .n_egress_allow = 2 };
	sbx_session s, again, none;
	int created = 0;

	snprintf(e1, sizeof(e1), "allowed.sbxtest:%d", p_http);
	snprintf(e2, sizeof(e2), "ALLOWED.sbxtest:%d", p_http);
	snprintf(want, sizeof(want), "OK %s", BODY);
	REQUIRE(sbx_session_get_or_create(svc, &o, &s, &created, NULL) == SBX_OK);
	CHECK(created);
	CHECK(s.egress);
	REQUIRE_INT(s.n_egress_allow, 2);
	CHECK_STR(s.egress_allow[0], e1);
	CHECK_STR(s.egress_allow[1], "other.sbxtest:1");
	REQUIRE(prepare(&s) == 0);
	CHECK_STR(probe(s.session_id, "proxy", url("http", "allowed.sbxtest", p_http), NULL),
	    want);
	CHECK_STR(probe(s.session_id, "proxy", url("http", "other.sbxtest", p_http), NULL),
	    "HTTP 403");
	/* the same list, otherwise written: the live session */
	o.egress_allow = same;
	o.n_egress_allow = 3;
	REQUIRE(sbx_session_get_or_create(svc, &o, &again, &created, NULL) == SBX_OK);
	CHECK(!created);
	CHECK_STR(again.session_id, s.session_id);
	sbx_session_fini(&again);
	/* another list: refused, naming SetEgress; the session keeps its own */
	o.egress_allow = differ;
	o.n_egress_allow = 1;
	CHECK_INT(sbx_session_get_or_create(svc, &o, &again, &created, NULL),
	    SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "SetEgress");
	CHECK_CONTAINS(sbx_last_error(svc), s.session_id);
	CHECK_STR(probe(s.session_id, "proxy", url("http", "allowed.sbxtest", p_http), NULL),
	    want);
	/* bad entries: INVALID_ARGUMENT, whether or not a session is live */
	o.egress_allow = bad;
	CHECK_INT(sbx_session_get_or_create(svc, &o, &again, &created, NULL),
	    SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "egress_allow[0]");
	/* no list: the live session as it is, its list shown */
	o.egress_allow = NULL;
	o.n_egress_allow = 0;
	REQUIRE(sbx_session_get_or_create(svc, &o, &again, &created, NULL) == SBX_OK);
	CHECK(!created);
	CHECK_STR(again.session_id, s.session_id);
	CHECK(again.egress);
	CHECK_INT(again.n_egress_allow, 2);
	sbx_session_fini(&again);
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
	/* a live session on network none cannot take a list this way */
	REQUIRE(create("egGnone", NULL, 0, &none) == 0);
	o.user_id = "egGnone";
	o.egress_allow = differ;
	o.n_egress_allow = 1;
	CHECK_INT(sbx_session_get_or_create(svc, &o, &again, &created, NULL),
	    SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "network none");
	CHECK_CONTAINS(sbx_last_error(svc), "EndSession");
	REQUIRE(sbx_session_get(svc, none.session_id, &again) == SBX_OK);
	CHECK(!again.egress);
	sbx_session_fini(&again);
	sbx_session_end(svc, none.session_id, 1);
	sbx_session_fini(&none);
}

/* ListSessions shows each session's egress as GetSession does. */
TEST(listed)
{
	sbx_session_list_opts o = { .page_size = 1000 };
	sbx_session *v = NULL, none;
	char *next = NULL;
	size_t n = 0;
	int seen_a = 0, seen_b = 0, seen_none = 0;

	REQUIRE(create("egL", NULL, 0, &none) == 0);
	REQUIRE(sbx_session_list(svc, &o, &v, &n, &next) == SBX_OK);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].session_id, sa.session_id) == 0) {
			seen_a = 1;
			CHECK(v[i].egress);
			CHECK_INT(v[i].n_egress_allow, 4);
		} else if (strcmp(v[i].session_id, sb.session_id) == 0) {
			char e4[64];

			seen_b = 1;
			snprintf(e4, sizeof(e4), "*.b.sbxtest:%d", p_http);
			CHECK(v[i].egress);
			REQUIRE_INT(v[i].n_egress_allow, 1);
			CHECK_STR(v[i].egress_allow[0], e4);
		} else if (strcmp(v[i].session_id, none.session_id) == 0) {
			seen_none = 1;
			CHECK(!v[i].egress);
			CHECK_INT(v[i].n_egress_allow, 0);
		}
	}
	CHECK(seen_a && seen_b && seen_none);
	sbx_session_list_free(v, n);
	sbx_free(next);
	sbx_session_end(svc, none.session_id, 1);
	sbx_session_fini(&none);
}

/* A runtime with egress= keeps no warm pool (its sessions could never
 * take one): sbxd refuses a pool_size line for it, naming the fix. */
TEST(no_pool_for_egress_runtime)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --set 'pool_size=egrt 1' --check-config "
	    "2>&1; echo \"exit $?\"", getenv("SBXD_BIN"), d.conf);
	{
		FILE *f = popen(cmd, "r");
		char out[2048] = "";
		size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;

		if (f != NULL)
			pclose(f);
		out[n] = '\0';
		CHECK_CONTAINS(out, "runtime egrt has egress=");
		CHECK_CONTAINS(out, "exit 2");
	}
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --set 'pool_size=egrt 0' --check-config "
	    "2>&1", getenv("SBXD_BIN"), d.conf);
	CHECK_STR(harness_host_line(cmd), "configuration OK");
}

/* Bytes of file path; -1 when it is not there. */
static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Counts sid's system events "egress {verb}: GET {prefix}n/I" into seen[I]
 * (I < n); returns how many I were seen, -1 when one was seen twice. */
static int
count_events(const char *sid, const char *verb, const char *prefix, unsigned char *seen,
    int n)
{
	char head[256];
	uint64_t after = 0;
	int got = 0, twice = 0;

	memset(seen, 0, (size_t)n);
	snprintf(head, sizeof(head), "egress %s: GET %sn/", verb, prefix);
	for (;;) {
		sbx_log_batch b;
		size_t k;

		if (sbx_read_logs(svc, sid, after, 1000, &b) != SBX_OK)
			return got;
		for (k = 0; k < b.n; k++) {
			const char *t = (const char *)b.events[k].data, *p;
			int i;

			after = b.events[k].seq;
			if (b.events[k].stream != SBX_STREAM_SYSTEM || (p = strstr(t, head)) == NULL)
				continue;
			i = atoi(p + strlen(head));
			if (i < 0 || i >= n)
				continue;
			twice |= seen[i];
			got += !seen[i];
			seen[i] = 1;
		}
		k = b.n;
		sbx_log_batch_fini(&b);
		if (k == 0)
			break;
	}
	return twice ? -1 : got;
}

/* The proxy's access log stays bounded (egress_log_max_bytes, 4 KiB here:
 * squid rotates it when sbxd asks, one old file kept), and every allowed
 * and refused request of a burst many times that size still becomes
 * exactly one event in the session's log. */
TEST(log_bounded)
{
	enum { N = 1200 };
	char path[256], old[272], older[272], allow_pre[128], deny_pre[128], want[32];
	static unsigned char seen[N];
	const char *one[] = { NULL };
	char e1[64];
	sbx_session s;
	uint64_t until;
	int a = 0, r = 0;
	long long cur, prev;

	snprintf(e1, sizeof(e1), "allowed.sbxtest:%d", p_http);
	one[0] = e1;
	REQUIRE(create("egLog", one, 1, &s) == 0);
	snprintf(allow_pre, sizeof(allow_pre), "%s", url("http", "allowed.sbxtest", p_http));
	snprintf(deny_pre, sizeof(deny_pre), "%s", url("http", "other.sbxtest", p_http));
	snprintf(want, sizeof(want), "OK 200:%d 403:%d", N, N);
	{
		char n[16];

		snprintf(n, sizeof(n), "%d", N);
		CHECK_STR(probe4(s.session_id, "many", n, allow_pre, deny_pre), want);
	}
	until = harness_now_ms() + 60000;
	while (harness_now_ms() < until) {
		a = count_events(s.session_id, "allowed", allow_pre, seen, N);
		r = count_events(s.session_id, "refused", deny_pre, seen, N);
		if ((a == N && r == N) || a < 0 || r < 0)
			break;
		usleep(200 * 1000);
	}
	CHECK_INT(a, N);
	CHECK_INT(r, N);
	/* on disk: the live file (rotated again once past 4 KiB, whatever
	 * was written since) and one old file, far below the burst's bytes */
	snprintf(path, sizeof(path), "%s/egress/log/access.log", d.dir);
	snprintf(old, sizeof(old), "%s.0", path);
	snprintf(older, sizeof(older), "%s.1", path);
	until = harness_now_ms() + 30000;
	while (harness_now_ms() < until && file_size(path) >= 4096)
		usleep(100 * 1000);
	cur = file_size(path);
	prev = file_size(old);
	fprintf(stderr, "  access.log %lld bytes, access.log.0 %lld bytes (burst: %d lines)\n",
	    cur, prev, 2 * N);
	CHECK(cur >= 0 && cur < 4096);
	CHECK(prev > 0);
	CHECK(cur + prev < 2 * N * 60 / 4);   /* a line is 60 bytes at least */
	CHECK_INT((int)file_size(older), -1);
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

TEST(not_pooled_and_network_removed)
{
	char cmd[256], net[128];

	snprintf(cmd, sizeof(cmd), "docker inspect -f '{{index .Config.Labels \"sbx.pool\"}}|"
	    "{{.HostConfig.NetworkMode}}' %s", sb.container_id);
	snprintf(net, sizeof(net), "|sbx-eg-%s", sb.session_id);
	CHECK_STR(harness_host_line(cmd), net);
	REQUIRE(sbx_session_end(svc, sb.session_id, 1) == SBX_OK);
	snprintf(cmd, sizeof(cmd), "docker network inspect -f '{{.Name}}' sbx-eg-%s 2>/dev/null",
	    sb.session_id);
	CHECK_STR(harness_host_line(cmd), "");
}

int
main(void)
{
	char conf[1024], cmd[1024], e1[64], e2[64], e3[64], e4[64];
	const char *allow_a[] = { e1, e2, "meta.sbxtest", e3 };
	const char *allow_b[] = { e4 };
	unsigned x = (unsigned)getpid() % 200 + 20;
	FILE *f;
	int failed;

	if (!harness_image_ready())
		return 1;
	if (harness_host_line("docker image inspect -f '{{.Id}}' sbx/egress-proxy:latest "
	    "2>/dev/null")[0] == '\0') {
		fprintf(stderr, "SKIP: image sbx/egress-proxy:latest is missing: build it with "
		    "deploy/images/egress-proxy.sh\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/sbx-egress-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(gw, sizeof(gw), "10.214.%u.1", x);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
	    "-subj /CN=allowed.sbxtest -addext subjectAltName=DNS:allowed.sbxtest,"
	    "DNS:other.sbxtest,DNS:www.b.sbxtest -keyout %s/key.pem -out %s/cert.pem 2>/dev/null", dir, dir);
	if (system(cmd) != 0)
		return 1;
	snprintf(hostsfile, sizeof(hostsfile), "%s/hosts", dir);
	if ((f = fopen(hostsfile, "w")) == NULL)
		return 1;
	fprintf(f, "%s allowed.sbxtest other.sbxtest www.b.sbxtest\n169.254.169.254 meta.sbxtest\n"
	    "127.0.0.1 loop.sbxtest\n", gw);
	fclose(f);
	p_http = harness_free_port();
	p_https = harness_free_port();
	snprintf(conf, sizeof(conf), "egress_hosts_file = %s\negress_out_subnet = 10.214.%u.0/28\n"
	    "egress_subnets = 10.215.%u.0/24\negress_log_max_bytes = 4096\n"
	    "log_ring_events = 8000\n"
	    "runtime = egrt sbx/python-minimal:latest egress=www.b.sbxtest:%d\n", hostsfile, x, x,
	    p_http);
	if (harness_start(&d, conf) != 0)
		return 1;
	svc = harness_client(&d, NULL);
	snprintf(e1, sizeof(e1), "allowed.sbxtest:%d", p_http);
	snprintf(e2, sizeof(e2), "ALLOWED.sbxtest:%d", p_https);
	snprintf(e3, sizeof(e3), "loop.sbxtest:%d", p_http);
	snprintf(e4, sizeof(e4), "*.b.sbxtest:%d", p_http);
	if (svc == NULL || create("egA", allow_a, 4, &sa) != 0 || create("egB", allow_b, 1, &sb) != 0 ||
	    start_servers() != 0) {
		t_failures++;
	} else {
		CHECK(sa.egress);
		CHECK_INT(sa.n_egress_allow, 4);
		if (sa.n_egress_allow == 4) {
			char norm[64];   /* the server keeps entries in lower case */

			snprintf(norm, sizeof(norm), "allowed.sbxtest:%d", p_https);
			CHECK_STR(sa.egress_allow[1], norm);
		}
		RUN(listed);
		RUN(allowed_name_over_http_and_https);
		RUN(refused);
		RUN(logged_per_session);
		RUN(list_changes_live);
		RUN(runtime_default);
		RUN(bad_input);
		RUN(preconditions);
		RUN(get_or_create);
		RUN(log_bounded);
		RUN(no_pool_for_egress_runtime);
		RUN(not_pooled_and_network_removed);
	}
	if (servers > 0) {
		kill(servers, SIGTERM);
		waitpid(servers, NULL, 0);
	}
	if (sa.session_id != NULL)
		sbx_session_end(svc, sa.session_id, 1);
	sbx_session_fini(&sa);
	sbx_session_fini(&sb);
	if (svc != NULL)
		sbx_client_close(svc);
	failed = t_failures > 0;
	if (!harness_finish(&d, failed))
		t_failures++;
	if (!failed && strncmp(dir, "/tmp/sbx-egress-test-", 21) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	T_DONE();
}
