/*
 * egress.c — the kept proxy and each session's egress network (see
 * egress.h): files under {state_dir}/egress, mounted at /egress in the
 * proxy container:
 *   squid.conf, allow.sh (squid's external ACL helper), hosts
 *   rules/{address}   "session ID" then the session's entries, one a line
 *   sessions/{id}     the session's /29 (its index in egress_subnets)
 *   log/              squid's access.log (egress_log.c follows it and has
 *                     squid rotate it: access.log.0), cache.log
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "egress.h"
#include "egress_int.h"
#include "isolation.h"
#include "log.h"
#include "server.h"
#include "monotime.h"

#define PROXY_UID 13                 /* Debian's proxy user, squid's */
#define PROXY_PORT 3128
#define READY_WAIT_MS 30000
#define NET_TRIES 64                 /* /29s tried for one session's network */

/* squid's external ACL helper: one line "CLIENT HOST PORT" in, OK or ERR
 * out. rules/CLIENT lists "session ID" and then patterns, each "NAME" or
 * "NAME:PORT" (no port = 80 and 443); NAME is a shell pattern (sbxd
 * writes only [a-z0-9.-] and a leading "*."), HOST never one (its
 * characters are checked first). */
static const char helper_sh[] =
"#!/bin/sh\n"
"# written by sbxd (server/egress.c): squid's egress allowlist check\n"
"dir=$1\n"
"while read -r src host port rest; do\n"
"\tok=ERR\n"
"\tcase $src in ''|*[!0-9.]*) src=none ;; esac\n"
"\tcase $host in *[A-Z]*) host=$(printf '%s' \"$host\" | tr A-Z a-z) ;; esac\n"
"\tcase $host in ''|*[!a-z0-9.-]*) host= ;; esac\n"
"\tif [ -n \"$host\" ] && [ -f \"$dir/$src\" ]; then\n"
"\t\twhile IFS=: read -r pat pport; do\n"
"\t\t\tcase $pat in ''|'session '*) continue ;; esac\n"
"\t\t\tif [ -z \"$pport\" ]; then\n"
"\t\t\t\tcase $port in 80|443) ;; *) continue ;; esac\n"
"\t\t\telif [ \"$pport\" != \"$port\" ]; then\n"
"\t\t\t\tcontinue\n"
"\t\t\tfi\n"
"\t\t\tcase $host in $pat) ok=OK; break ;; esac\n"
"\t\tdone < \"$dir/$src\"\n"
"\tfi\n"
"\techo \"$ok\"\n"
"done\n";

static void __attribute__((format(printf, 4, 5)))
path_of(struct server *s, char *out, size_t n, const char *fmt, ...)
{
	int k = snprintf(out, n, "%s/egress/", s->cfg->state_dir);
	va_list ap;

	if (k > 0 && (size_t)k < n) {
		va_start(ap, fmt);
		vsnprintf(out + k, n - (size_t)k, fmt, ap);
		va_end(ap);
	}
}

/* Writes data to path through a temporary file and a rename. */
static sbxd_code
write_file(const char *path, const char *data, mode_t mode, struct err *e)
{
	char tmp[EGRESS_PATH_MAX + 8];
	size_t n = strlen(data);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		return err_set(e, SBXD_INTERNAL, "egress: cannot write %s: %s", tmp, strerror(errno));
	if (write(fd, data, n) != (ssize_t)n || fchmod(fd, mode) != 0 || close(fd) != 0) {
		int saved = errno;

		unlink(tmp);
		return err_set(e, SBXD_INTERNAL, "egress: cannot write %s: %s", tmp, strerror(saved));
	}
	if (rename(tmp, path) != 0) {
		int saved = errno;

		unlink(tmp);
		return err_set(e, SBXD_INTERNAL, "egress: cannot rename %s: %s", tmp,
		    strerror(saved));
	}
	return SBXD_OK;
}

static int
parse_range(const char *cidr, uint32_t *base, unsigned *count)
{
	char ip[32];
	const char *slash = strchr(cidr, '/');
	struct in_addr a;
	long bits;

	if (slash == NULL || (size_t)(slash - cidr) >= sizeof(ip))
		return -1;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = '\0';
	bits = strtol(slash + 1, NULL, 10);
	if (inet_pton(AF_INET, ip, &a) != 1 || bits < 16 || bits > 24)
		return -1;
	*base = ntohl(a.s_addr) & ~((1u << (32 - bits)) - 1);
	*count = 1u << (29 - bits);
	return 0;
}

static void
addr_str(uint32_t a, char *out, size_t n)
{
	snprintf(out, n, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* The squid configuration: refused destinations first (loopback,
 * link-local, the sessions' own networks), then the helper's answer. */
static sbxd_code
write_conf(struct server *s, struct egress *g, struct err *e)
{
	char conf[4096], path[EGRESS_PATH_MAX], hosts[EGRESS_PATH_MAX];

	path_of(s, hosts, sizeof(hosts), "%s", "hosts");
	if (s->cfg->egress_hosts_file[0] != '\0') {
		char buf[65536];
		FILE *f = fopen(s->cfg->egress_hosts_file, "r");
		size_t n;

		if (f == NULL)
			return err_set(e, SBXD_FAILED_PRECONDITION, "egress_hosts_file %s: %s",
			    s->cfg->egress_hosts_file, strerror(errno));
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		if (write_file(hosts, buf, 0644, e) != SBXD_OK)
			return e->code;
	} else
		unlink(hosts);
	snprintf(conf, sizeof(conf),
	    "# written by sbxd (server/egress.c); rewritten at each start\n"
	    "http_port %d ssl-bump cert=/etc/squid/peek.pem generate-host-certificates=off\n"
	    "pid_filename none\n"
	    "cache deny all\n"
	    "cache_mem 8 MB\n"
	    "netdb_filename none\n"
	    "pinger_enable off\n"
	    "coredump_dir /tmp\n"
	    "logformat sbx %%ts.%%03tu %%>a %%Ss %%>Hs %%rm %%ru %%ssl::bump_mode\n"
	    "access_log stdio:/egress/log/access.log logformat=sbx\n"
	    /* on SIGUSR1 (egress_log.c, past egress_log_max_bytes): keep one old file */
	    "logfile_rotate 1\n"
	    "cache_log /egress/log/cache.log\n"
	    "%s"
	    "external_acl_type sbx_allow ttl=0 negative_ttl=0 children-max=8 children-startup=2 "
	    "%%>a %%>rd %%>rP /bin/sh /egress/allow.sh /egress/rules\n"
	    "acl sbx_allowed external sbx_allow\n"
	    /* TLS: the client hello's SNI must be allowed too (a CONNECT to
	     * an allowed name carrying another name's hello is cut) */
	    "external_acl_type sbx_sni ttl=0 negative_ttl=0 children-max=8 children-startup=2 "
	    "%%>a %%ssl::>sni %%>rP /bin/sh /egress/allow.sh /egress/rules\n"
	    "acl sbx_sni_ok external sbx_sni\n"
	    "acl sbx_step1 at_step SslBump1\n"
	    "ssl_bump peek sbx_step1\n"
	    "ssl_bump splice sbx_sni_ok\n"
	    "ssl_bump terminate all\n"
	    "acl sbx_bad_dst dst 0.0.0.0/8 127.0.0.0/8 169.254.0.0/16 224.0.0.0/4 %s ::1 fe80::/10\n"
	    "http_access deny sbx_bad_dst\n"
	    "http_access allow sbx_allowed\n"
	    "http_access deny all\n"
	    "via off\n"
	    "forwarded_for delete\n"
	    "httpd_suppress_version_string on\n"
	    "shutdown_lifetime 1 seconds\n",
	    PROXY_PORT, s->cfg->egress_hosts_file[0] ? "hosts_file /egress/hosts\n" : "",
	    g->range);
	path_of(s, path, sizeof(path), "%s", "squid.conf");
	if (write_file(path, conf, 0644, e) != SBXD_OK)
		return e->code;
	path_of(s, path, sizeof(path), "%s", "allow.sh");
	return write_file(path, helper_sh, 0755, e);
}

static sbxd_code
mkdirs(struct server *s, struct err *e)
{
	static const char *const dirs[] = { "", "rules", "sessions", "log" };
	char path[EGRESS_PATH_MAX];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		path_of(s, path, sizeof(path), "%s", dirs[i]);
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return err_set(e, SBXD_INTERNAL, "egress: cannot create %s: %s", path,
			    strerror(errno));
	}
	if (chown(path, PROXY_UID, PROXY_UID) != 0)   /* log/: squid writes there */
		return err_set(e, SBXD_INTERNAL, "egress: cannot hand %s to uid %d: %s", path,
		    PROXY_UID, strerror(errno));
	return SBXD_OK;
}

static int64_t
now_ms(void)
{
	return (int64_t)monotime_ms();
}

/* Waits for squid to say it accepts connections in a fresh cache.log. */
static sbxd_code
wait_ready(struct server *s, struct err *e)
{
	char path[EGRESS_PATH_MAX], buf[8192];
	int64_t until = now_ms() + READY_WAIT_MS;

	path_of(s, path, sizeof(path), "%s", "log/cache.log");
	while (now_ms() < until) {
		FILE *f = fopen(path, "r");

		if (f != NULL) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			fclose(f);
			buf[n] = '\0';
			if (strstr(buf, "HTTP Socket connections at") != NULL)   /* "Accepting [SSL bumped] ..." */
				return SBXD_OK;
			if (strstr(buf, "FATAL") != NULL)
				return err_set(e, SBXD_INTERNAL, "egress: the proxy failed to start; "
				    "see %s", path);
		}
		usleep(50 * 1000);
	}
	return err_set(e, SBXD_UNAVAILABLE, "egress: the proxy did not start within %d s; "
	    "see %s", READY_WAIT_MS / 1000, path);
}

static long session_index(struct server *s, const char *sid);
static void index_addrs(struct egress *g, long idx, char *subnet, size_t sn, char *proxy,
    size_t pn, char *ctr, size_t cn);

/* Puts a newly made proxy container on every session network sessions/
 * names (their sessions outlived the old one); failures are logged. */
static void
reconnect_sessions(struct server *s, struct egress *g)
{
	char dir[EGRESS_PATH_MAX], net[96], subnet[24], proxy_ip[20], ip[20];
	struct dirent *de;
	struct err e;
	DIR *dh;

	path_of(s, dir, sizeof(dir), "%s", "sessions");
	if ((dh = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dh)) != NULL) {
		long idx;

		if (de->d_name[0] == '.' || strchr(de->d_name, '.') != NULL ||
		    strlen(de->d_name) > 64 || (idx = session_index(s, de->d_name)) < 0 ||
		    idx >= (long)g->count)
			continue;
		index_addrs(g, idx, subnet, sizeof(subnet), proxy_ip, sizeof(proxy_ip), ip,
		    sizeof(ip));
		snprintf(net, sizeof(net), "sbx-eg-%s", de->d_name);
		if (s->drv->ops->net_connect(s->drv, net, g->proxy, proxy_ip, 1, &e) != SBXD_OK &&
		    e.code != SBXD_ALREADY_EXISTS)
			log_warnx("egress: session %s: %s", de->d_name, e.msg);
	}
	closedir(dh);
}

/* Makes sure the proxy container runs (g->mu held). */
static sbxd_code
proxy_ensure(struct server *s, struct egress *g, struct err *e)
{
	struct driver *d = s->drv;
	struct driver_container_info ci;
	struct driver_label labels[3] = { { "sbx.managed", "true" },
	    { "sbx.instance", s->instance }, { "sbx.egress", "proxy" } };
	struct driver_network_spec out = { .name = g->out_net, .labels = labels, .nlabels = 3 };
	char dir[EGRESS_PATH_MAX], id[DRIVER_ID_MAX], cachelog[EGRESS_PATH_MAX];
	struct driver_mount mnt;
	struct driver_container_spec spec;
	int present = 0;
	sbxd_code rv;

	if (g->ready && d->ops->inspect(d, g->proxy, &ci, e) == SBXD_OK && ci.running)
		return SBXD_OK;
	g->ready = 0;
	if ((rv = d->ops->image_present(d, s->cfg->egress_proxy_image, &present, e)) != SBXD_OK)
		return rv;
	if (!present)
		return err_set(e, SBXD_FAILED_PRECONDITION, "egress: the proxy image %s is "
		    "missing; build it with `deploy/images/egress-proxy.sh`",
		    s->cfg->egress_proxy_image);
	if ((rv = mkdirs(s, e)) != SBXD_OK || (rv = write_conf(s, g, e)) != SBXD_OK)
		return rv;
	if (s->cfg->egress_out_subnet[0] != '\0')
		out.subnet = s->cfg->egress_out_subnet;
	rv = d->ops->net_create(d, &out, e);
	if (rv != SBXD_OK && rv != SBXD_ALREADY_EXISTS)
		return err_wrap(e, "egress: ");
	path_of(s, dir, sizeof(dir), "%s", "");
	dir[strlen(dir) - 1] = '\0';
	mnt = (struct driver_mount){ dir, "/egress", 0 };
	spec = (struct driver_container_spec){ .name = g->proxy,
	    .image = s->cfg->egress_proxy_image, .user = "13:13", .labels = labels,
	    .nlabels = 3, .network_mode = g->out_net, .mounts = &mnt, .nmounts = 1,
	    .drop_all_caps = 1, .no_new_privileges = 1, .init = 1,
	    .memory_bytes = 256LL << 20, .pids_limit = 256,
	    .cmd = (const char *const[]){ "/usr/sbin/squid", "-N", "-f", "/egress/squid.conf",
	    NULL } };
	path_of(s, cachelog, sizeof(cachelog), "%s", "log/cache.log");
	rv = d->ops->inspect(d, g->proxy, &ci, e);
	if (rv == SBXD_OK && ci.running) {
		g->ready = 1;      /* a previous sbxd's: its squid rereads the rules */
		return SBXD_OK;
	}
	if (rv == SBXD_NOT_FOUND) {
		if ((rv = d->ops->create(d, &spec, id, e)) != SBXD_OK && rv != SBXD_ALREADY_EXISTS)
			return err_wrap(e, "egress: the proxy: ");
		reconnect_sessions(s, g);   /* a new proxy: back on the sessions' networks */
	}
	unlink(cachelog);
	if ((rv = d->ops->start(d, g->proxy, e)) != SBXD_OK)
		return err_wrap(e, "egress: starting the proxy: ");
	if ((rv = wait_ready(s, e)) != SBXD_OK)
		return rv;
	log_info("egress: proxy %s runs (%s)", g->proxy, s->cfg->egress_proxy_image);
	g->ready = 1;
	return SBXD_OK;
}

sbxd_code
egress_open(struct server *s, struct err *e)
{
	struct egress *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	pthread_mutex_init(&g->mu, NULL);
	g->s = s;
	snprintf(g->proxy, sizeof(g->proxy), "sbx-egress-%s", s->instance);
	snprintf(g->out_net, sizeof(g->out_net), "sbx-egress-out-%s", s->instance);
	if (parse_range(s->cfg->egress_subnets, &g->base, &g->count) == 0) {
		char ip[16];
		int bits = 29;

		for (unsigned c = g->count; c > 1; c >>= 1)
			bits--;
		addr_str(g->base, ip, sizeof(ip));
		snprintf(g->range, sizeof(g->range), "%s/%d", ip, bits);
	} else
		log_warnx("egress_subnets \"%s\" is not an IPv4 range from /16 to /24: "
		    "sessions with an egress allowlist cannot run", s->cfg->egress_subnets);
	s->egress = g;
	{
		char logdir[EGRESS_PATH_MAX];
		struct stat st;

		/* a previous sbxd's sessions: their requests are logged from now on */
		path_of(s, logdir, sizeof(logdir), "%s", "log");
		if (stat(logdir, &st) == 0 && egress_log_start(g, e) != SBXD_OK)
			log_warnx("%s", e->msg);
	}
	return SBXD_OK;
}

void
egress_close(struct server *s)
{
	struct egress *g = s->egress;

	if (g == NULL)
		return;
	egress_log_stop(g);
	pthread_mutex_destroy(&g->mu);
	free(g);
	s->egress = NULL;
}

sbxd_code
egress_check(struct server *s, int iso, struct err *e)
{
	struct driver *d = s->drv;

	if (d->ops->net_create == NULL || d->ops->net_connect == NULL)
		return err_set(e, SBXD_FAILED_PRECONDITION, "this server's container driver has "
		    "no networks, so egress_allow cannot be had; create the session without it");
	if (s->egress == NULL || s->egress->count == 0)
		return err_set(e, SBXD_FAILED_PRECONDITION, "egress_subnets (\"%s\") is not an "
		    "IPv4 range from /16 to /24; fix sbxd.conf, or create the session without "
		    "egress_allow", s->cfg->egress_subnets);
	if (iso == ISOLATION_GVISOR)
		return err_set(e, SBXD_FAILED_PRECONDITION, "egress_allow needs isolation runc: "
		    "gVisor's runtime is registered with --network=none for all its containers "
		    "(deploy/gvisor.sh), so a gvisor session cannot join its egress network; "
		    "ask for isolation runc, or leave egress_allow empty");
	return SBXD_OK;
}

/* The session's /29 index from sessions/{sid}, or -1. */
static long
session_index(struct server *s, const char *sid)
{
	char path[EGRESS_PATH_MAX], buf[32];
	FILE *f;
	long v = -1;

	path_of(s, path, sizeof(path), "sessions/%s", sid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) != NULL)
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static void
index_addrs(struct egress *g, long idx, char *subnet, size_t sn, char *proxy, size_t pn,
    char *ctr, size_t cn)
{
	uint32_t net = g->base + (uint32_t)idx * 8;
	char ip[20];

	addr_str(net, ip, sizeof(ip));
	snprintf(subnet, sn, "%s/29", ip);
	addr_str(net + 2, proxy, pn);
	addr_str(net + 3, ctr, cn);
}

static sbxd_code
write_rules(struct server *s, const char *sid, const char *ip, const char *allow,
    struct err *e)
{
	char path[EGRESS_PATH_MAX], text[EGRESS_TEXT_MAX + 128];

	snprintf(text, sizeof(text), "session %s\n%s\n", sid, allow);
	path_of(s, path, sizeof(path), "rules/%s", ip);
	return write_file(path, text, 0644, e);
}

sbxd_code
egress_session_up(struct server *s, const char *sid, const char *allow,
    struct egress_net *out, struct err *e)
{
	struct egress *g = s->egress;
	struct driver *d = s->drv;
	struct driver_label labels[4] = { { "sbx.managed", "true" },
	    { "sbx.instance", s->instance }, { "sbx.egress", "session" }, { "sbx.session", sid } };
	struct driver_network_spec ns = { .name = out->network, .internal = 1,
	    .no_host_address = 1, .labels = labels, .nlabels = 4 };
	char subnet[24], proxy_ip[20], path[EGRESS_PATH_MAX], buf[32];
	long idx;
	sbxd_code rv;

	if ((rv = egress_check(s, ISOLATION_RUNC, e)) != SBXD_OK)
		return rv;
	snprintf(out->network, sizeof(out->network), "sbx-eg-%s", sid);
	pthread_mutex_lock(&g->mu);
	if ((rv = proxy_ensure(s, g, e)) != SBXD_OK)
		goto out;
	if ((rv = egress_log_start(g, e)) != SBXD_OK)
		goto out;
	ns.subnet = subnet;
	if ((idx = session_index(s, sid)) >= 0 && idx < (long)g->count) {
		index_addrs(g, idx, subnet, sizeof(subnet), proxy_ip, sizeof(proxy_ip),
		    out->ipv4, sizeof(out->ipv4));
		rv = d->ops->net_create(d, &ns, e);
		if (rv == SBXD_ALREADY_EXISTS)
			rv = SBXD_OK;
	} else {
		unsigned h = 5381;

		for (const char *p = sid; *p; p++)
			h = h * 33 + (unsigned char)*p;
		rv = SBXD_RESOURCE_EXHAUSTED;
		for (int t = 0; t < NET_TRIES && t < (int)g->count; t++) {
			idx = (long)((h + (unsigned)t) % g->count);
			index_addrs(g, idx, subnet, sizeof(subnet), proxy_ip, sizeof(proxy_ip),
			    out->ipv4, sizeof(out->ipv4));
			if ((rv = d->ops->net_create(d, &ns, e)) != SBXD_FAILED_PRECONDITION)
				break;   /* FAILED_PRECONDITION: that /29 is taken */
		}
		if (rv == SBXD_OK || rv == SBXD_ALREADY_EXISTS) {
			snprintf(buf, sizeof(buf), "%ld\n", idx);
			path_of(s, path, sizeof(path), "sessions/%s", sid);
			rv = write_file(path, buf, 0644, e);
		} else if (rv == SBXD_FAILED_PRECONDITION)
			rv = err_set(e, SBXD_RESOURCE_EXHAUSTED, "egress: no free /29 in "
			    "egress_subnets (%s) after %d tries; end sessions with an allowlist, "
			    "or give a larger range", g->range, NET_TRIES);
	}
	if (rv != SBXD_OK)
		goto out;
	rv = d->ops->net_connect(d, out->network, g->proxy, proxy_ip, 1, e);
	if (rv == SBXD_ALREADY_EXISTS)
		rv = SBXD_OK;
	if (rv == SBXD_OK)
		rv = write_rules(s, sid, out->ipv4, allow, e);
	if (rv != SBXD_OK) {
		struct err ignored;

		d->ops->net_connect(d, out->network, g->proxy, NULL, 0, &ignored);
		d->ops->net_remove(d, out->network, &ignored);
		path_of(s, path, sizeof(path), "sessions/%s", sid);
		unlink(path);
		goto out;
	}
	snprintf(out->env[0], sizeof(out->env[0]), "HTTP_PROXY=http://%s:%d", proxy_ip, PROXY_PORT);
	snprintf(out->env[1], sizeof(out->env[1]), "HTTPS_PROXY=http://%s:%d", proxy_ip, PROXY_PORT);
	snprintf(out->env[2], sizeof(out->env[2]), "http_proxy=http://%s:%d", proxy_ip, PROXY_PORT);
	snprintf(out->env[3], sizeof(out->env[3]), "https_proxy=http://%s:%d", proxy_ip, PROXY_PORT);
out:
	pthread_mutex_unlock(&g->mu);
	return rv;
}

sbxd_code
egress_session_set(struct server *s, const char *sid, const char *allow, struct err *e)
{
	struct egress *g = s->egress;
	char subnet[24], proxy_ip[20], ip[20];
	long idx;
	sbxd_code rv;

	if (g == NULL || g->count == 0)
		return err_set(e, SBXD_FAILED_PRECONDITION, "egress is not set up on this server");
	pthread_mutex_lock(&g->mu);
	if ((idx = session_index(s, sid)) < 0 || idx >= (long)g->count)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "session %s has no egress network (it "
		    "was made with network none); create a session with egress_allow", sid);
	else {
		index_addrs(g, idx, subnet, sizeof(subnet), proxy_ip, sizeof(proxy_ip), ip,
		    sizeof(ip));
		if ((rv = write_rules(s, sid, ip, allow, e)) == SBXD_OK &&
		    (rv = proxy_ensure(s, g, e)) == SBXD_OK)   /* a proxy to apply them */
			rv = egress_log_start(g, e);
	}
	pthread_mutex_unlock(&g->mu);
	return rv;
}

void
egress_session_down(struct server *s, const char *sid)
{
	struct egress *g = s->egress;
	struct driver *d = s->drv;
	char net[96], path[EGRESS_PATH_MAX], subnet[24], proxy_ip[20], ip[20];
	struct err e;
	long idx;

	if (g == NULL || d->ops->net_remove == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	if ((idx = session_index(s, sid)) >= 0 && idx < (long)g->count) {
		snprintf(net, sizeof(net), "sbx-eg-%s", sid);
		index_addrs(g, idx, subnet, sizeof(subnet), proxy_ip, sizeof(proxy_ip), ip,
		    sizeof(ip));
		path_of(s, path, sizeof(path), "rules/%s", ip);
		unlink(path);
		if (d->ops->net_connect(d, net, g->proxy, NULL, 0, &e) != SBXD_OK)
			log_warnx("egress: session %s: %s", sid, e.msg);
		if (d->ops->net_remove(d, net, &e) != SBXD_OK)
			log_warnx("egress: session %s: %s", sid, e.msg);
		else {
			path_of(s, path, sizeof(path), "sessions/%s", sid);
			unlink(path);
		}
	}
	pthread_mutex_unlock(&g->mu);
}
