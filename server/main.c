/*
 * main.c — sbxd: read the settings, open the state, serve until SIGTERM.
 *
 * Settings come from built-in defaults, then the config file (--config, or
 * /etc/sbx/sbxd.conf when present), then flags. Signals are blocked in
 * every thread and taken synchronously here with sigwait, so shutdown runs
 * in plain code: stop taking requests, let the ones in flight finish within
 * `drain` (foreground commands still running then are killed), close.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "connlimit.h"
#include "http.h"
#include "isolation.h"
#include "lifecycle.h"
#include "log.h"
#include "procs.h"
#include "rpc.h"
#include "runtime.h"
#include "server.h"

#define DEFAULT_CONFIG "/etc/sbx/sbxd.conf"
#define MALLOC_MMAP_MIN (128 * 1024)   /* glibc's starting threshold, kept fixed */
#define MALLOC_ARENAS 4

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: sbxd [--config FILE] [--listen URL] [--state-dir DIR]\n"
	    "            [--docker-socket PATH] [--log-level LEVEL] [--set KEY=VALUE]...\n"
	    "            [--check-config] [--version]\n"
	    "Settings are documented in deploy/sbxd.conf.example; --set takes any of them.\n");
}

/* Applies flags over cfg; returns 0 to go on, 1 to exit 0, 2 to exit 2. */
static int
parse_flags(int argc, char **argv, struct config *cfg, int *check_only)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "docker-socket", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "set", required_argument, NULL, 'S' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *file = NULL;
	struct err e;
	int ch;

	/* First pass: the config file, so flags override it. */
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1)
		if (ch == 'c')
			file = optarg;
	if (file != NULL || access(DEFAULT_CONFIG, F_OK) == 0) {
		if (config_load_file(cfg, file ? file : DEFAULT_CONFIG, &e) != SBXD_OK) {
			fprintf(stderr, "sbxd: %s\n", e.msg);
			return 2;
		}
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		const char *key = NULL, *val = optarg;
		char kv[4096], *eq;
		sbxd_code rv = SBXD_OK;

		switch (ch) {
		case 'c': continue;
		case 'l': key = "listen"; break;
		case 's': key = "state_dir"; break;
		case 'd': key = "docker_socket"; break;
		case 'v': key = "log_level"; break;
		case 'C': *check_only = 1; continue;
		case 'V': printf("sbxd 0.1.0 (protocol sbx.v1)\n"); return 1;
		case 'h': usage(stdout); return 1;
		case 'S':
			snprintf(kv, sizeof(kv), "%s", optarg);
			if ((eq = strchr(kv, '=')) == NULL) {
				fprintf(stderr, "sbxd: --set wants KEY=VALUE\n");
				return 2;
			}
			*eq = '\0';
			rv = config_set(cfg, kv, eq + 1, &e);
			break;
		default: usage(stderr); return 2;
		}
		if (key != NULL)
			rv = config_set(cfg, key, val, &e);
		if (rv != SBXD_OK) {
			fprintf(stderr, "sbxd: %s\n", e.msg);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	struct server *srv = NULL;
	struct rpc_server *rpc = NULL;
	struct http_server *http = NULL;
	struct err e;
	sigset_t set;
	int sig, check_only = 0, rv;

	config_defaults(&cfg);
	if ((rv = parse_flags(argc, argv, &cfg, &check_only)) != 0)
		return rv == 1 ? 0 : 2;
	if (config_finish(&cfg, &e) != SBXD_OK) {
		fprintf(stderr, "sbxd: %s\n", e.msg);
		return 2;
	}
	log_set_level((enum log_level)cfg.log_level);
	if (check_only) {
		printf("configuration OK\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Memory after a storm of large requests goes back to the system:
	 * a fixed mmap threshold stops glibc from raising it (a request's
	 * decoding memory is then mapped and unmapped, not left in a heap),
	 * and few arenas keep 160 worker threads from each keeping one. */
	mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_MIN);
	mallopt(M_ARENA_MAX, MALLOC_ARENAS);
	/* the rep socket and the log bus each hold up to max_connections */
	connlimit_raise_nofile(2 * (uint64_t)cfg.max_connections + CONNLIMIT_NOFILE_RESERVE);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("libcurl failed to initialize");
	if (geteuid() != 0)
		log_warnx("not running as root: workspaces cannot be given to uid %d, and commands "
		    "that time out cannot be killed from the host", (int)cfg.sandbox_uid);
	if (server_open(&cfg, NULL, &srv, &e) != SBXD_OK)
		fatalx("%s", e.msg);
	if (srv->drv->ops->ping(srv->drv, &e) != SBXD_OK)
		log_warnx("%s (sessions will fail with UNAVAILABLE until it answers)", e.msg);
	else {
		runtime_log_readiness(srv);
		isolation_log_readiness(srv);
	}
	if (lifecycle_recover(srv, &e) != SBXD_OK)
		log_warnx("recovery: %s (sessions heal on their next request)", e.msg);
	if (procs_adopt_start(srv, &e) != SBXD_OK)
		log_warnx("procs: %s (background processes from before the restart are lost)",
		    e.msg);
	if (lifecycle_sweep_start(srv, &e) != SBXD_OK)
		log_warnx("recovery: %s", e.msg);
	if (lifecycle_events_start(srv, &e) != SBXD_OK)
		log_warnx("engine events: %s (container exits are noticed at the next request)",
		    e.msg);
	if (lifecycle_reaper_start(srv, &e) != SBXD_OK)
		fatalx("%s", e.msg);
	if (rpc_server_start(srv, &rpc, &e) != SBXD_OK)
		fatalx("%s", e.msg);
	if (http_start(srv, &http, &e) != SBXD_OK)   /* sandboxes matter more than probes */
		log_warnx("%s; health and metrics are off", e.msg);
	log_info("sbxd ready: state in %s, workspaces in %s, default runtime %s",
	    cfg.state_dir, cfg.workspace_root, cfg.default_runtime);
	do {
		if (sigwait(&set, &sig) != 0)
			fatal("sigwait");
	} while (sig == SIGHUP);
	log_info("signal %d: shutting down", sig);
	procs_drain(srv);            /* WaitProcess calls answer now, not in 30 s */
	if (rpc_server_stop(rpc, (int)cfg.drain_ms) != 0) {
		/* calls still running use the state: leave it to the exit;
		 * the store is crash-safe (WAL) */
		log_info("sbxd stopped without waiting for the calls still running");
		_exit(0);
	}
	http_stop(http);             /* before the store and driver it reads close */
	lifecycle_reaper_stop(srv);
	server_close(srv);
	curl_global_cleanup();
	log_info("sbxd stopped");
	return 0;
}
