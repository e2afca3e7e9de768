/*
 * config.c — parsing and validation of sbxd's settings (see config.h).
 *
 * Each key is a row of one table: its name, its kind and where it lands in
 * struct config. Sizes accept K/M/G suffixes (powers of 1024), durations
 * ms/s/m/h suffixes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "egress.h"
#include "log.h"

enum kind { K_STR, K_INT, K_SIZE, K_MS, K_BOOL, K_LEVEL, K_KEY, K_RUNTIME, K_POOL, K_ISO,
	K_ISOS };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size;       /* for K_STR: the field's size; for K_INT: sizeof the int */
	int64_t min, max;
};

#define F(field) offsetof(struct config, field), sizeof(((struct config *)0)->field)

static const struct key keys[] = {
	{ "listen", K_STR, F(listen), 0, 0 },
	{ "tls_cert", K_STR, F(tls_cert), 0, 0 },
	{ "tls_key", K_STR, F(tls_key), 0, 0 },
	{ "state_dir", K_STR, F(state_dir), 0, 0 },
	{ "db_path", K_STR, F(db_path), 0, 0 },
	{ "workspace_root", K_STR, F(workspace_root), 0, 0 },
	{ "key_file", K_STR, F(key_file), 0, 0 },
	{ "docker_socket", K_STR, F(docker_socket), 0, 0 },
	{ "default_runtime", K_STR, F(default_runtime), 0, 0 },
	{ "service_key", K_KEY, 0, 0, 0, 0 },
	{ "runtime", K_RUNTIME, 0, 0, 0, 0 },
	{ "pool_size", K_POOL, 0, 0, 0, 0 },
	{ "pool_dir", K_STR, F(pool_dir), 0, 0 },
	{ "log_level", K_LEVEL, F(log_level), 0, 3 },
	{ "workers", K_INT, F(workers), 1, 1024 },
	{ "workspace_quota", K_SIZE, F(workspace_quota), 0, 1LL << 50 },
	{ "command_workers", K_INT, F(command_workers), 1, 4096 },
	{ "command_calls_per_credential", K_INT, F(command_calls_per_credential), 1, 4096 },
	{ "command_calls_per_session", K_INT, F(command_calls_per_session), 1, 4096 },
	{ "contexts", K_INT, F(contexts), 1, 8192 },
	{ "max_connections", K_INT, F(max_connections), 1, 16384 },
	{ "max_connections_per_address", K_INT, F(max_connections_per_address), 1, 16384 },
	{ "drain", K_MS, F(drain_ms), 1000, 3600000 },
	{ "max_message_bytes", K_SIZE, F(max_message_bytes), 4096, 1LL << 30 },
	{ "max_output_bytes", K_SIZE, F(max_output_bytes), 1, 1LL << 30 },
	{ "read_max_bytes", K_SIZE, F(read_max_bytes), 1, 1LL << 30 },
	{ "max_processes_per_session", K_INT, F(max_processes_per_session), 1, 4096 },
	{ "process_output_max_bytes", K_SIZE, F(process_output_max_bytes), 4096, 1LL << 30 },
	{ "process_wait_max", K_MS, F(process_wait_max_ms), 1, 1LL << 40 },
	{ "exec_timeout_default", K_MS, F(exec_timeout_default_ms), 1, 1LL << 40 },
	{ "exec_timeout_max", K_MS, F(exec_timeout_max_ms), 1, 1LL << 40 },
	{ "sandbox_uid", K_INT, F(sandbox_uid), 0, 1LL << 31 },
	{ "sandbox_gid", K_INT, F(sandbox_gid), 0, 1LL << 31 },
	{ "memory", K_SIZE, F(memory_bytes), 6LL << 20, 1LL << 50 },
	{ "cpus_nano", K_INT, F(nano_cpus), 0, 1LL << 50 },
	{ "pids_limit", K_INT, F(pids_limit), 0, 1LL << 30 },
	{ "nofile", K_INT, F(nofile), 0, 1LL << 20 },
	{ "max_memory", K_SIZE, F(max_memory_bytes), 6LL << 20, 1LL << 50 },
	{ "max_cpus_nano", K_INT, F(max_nano_cpus), 0, 1LL << 50 },
	{ "max_pids_limit", K_INT, F(max_pids_limit), 0, 1LL << 30 },
	{ "idle_timeout", K_MS, F(idle_timeout_ms), 1000, 1LL << 40 },
	{ "reap_interval", K_MS, F(reap_interval_ms), 0, 1LL << 40 },
	{ "max_live_sessions", K_INT, F(max_live_sessions), 0, 1 << 20 },
	{ "max_live_sessions_per_user", K_INT, F(max_live_sessions_per_user), 0, 1 << 20 },
	{ "snapshot_max_per_user", K_INT, F(snapshot_max_per_user), 0, 1 << 20 },
	{ "snapshot_max_bytes_per_user", K_SIZE, F(snapshot_max_bytes_per_user), 0, 1LL << 50 },
	{ "network_mode", K_STR, F(network_mode), 0, 0 },
	{ "readonly_rootfs", K_BOOL, F(readonly_rootfs), 0, 1 },
	{ "agent", K_BOOL, F(agent), 0, 1 },
	{ "agent_binary", K_STR, F(agent_binary), 0, 0 },
	{ "tmpfs_tmp", K_STR, F(tmpfs_tmp), 0, 0 },
	{ "tmpfs_home", K_STR, F(tmpfs_home), 0, 0 },
	{ "sandbox_home", K_STR, F(sandbox_home), 0, 0 },
	{ "log_listen", K_STR, F(log_listen), 0, 0 },
	{ "metrics_listen", K_STR, F(metrics_listen), 0, 0 },
	{ "log_ring_events", K_INT, F(log_ring_events), 16, 1 << 20 },
	{ "log_ring_bytes", K_SIZE, F(log_ring_bytes), 64LL << 10, 1LL << 30 },
	{ "log_total_bytes", K_SIZE, F(log_total_bytes), 1LL << 20, 1LL << 40 },
	{ "log_sendbuf", K_INT, F(log_sendbuf), 1, 8192 },
	{ "isolation", K_ISO, F(isolation), 0, 0 },
	{ "isolations_allowed", K_ISOS, F(isolations_allowed), 0, 0 },
	{ "gvisor_runtime", K_STR, F(gvisor_runtime), 0, 0 },
	{ "egress_proxy_image", K_STR, F(egress_proxy_image), 0, 0 },
	{ "egress_subnets", K_STR, F(egress_subnets), 0, 0 },
	{ "egress_hosts_file", K_STR, F(egress_hosts_file), 0, 0 },
	{ "egress_out_subnet", K_STR, F(egress_out_subnet), 0, 0 },
	{ "egress_log_max_bytes", K_SIZE, F(egress_log_max_bytes), 1024, 1LL << 40 },
};

static const char *const builtin_runtimes[] = {
	"python-minimal", "python-datascience", "python-web", "node-minimal", "node-react",
};

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "tcp://127.0.0.1:7410");
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/sbx");
	snprintf(c->docker_socket, sizeof(c->docker_socket), "/var/run/docker.sock");
	snprintf(c->default_runtime, sizeof(c->default_runtime), "python-minimal");
	snprintf(c->network_mode, sizeof(c->network_mode), "none");
	snprintf(c->egress_proxy_image, sizeof(c->egress_proxy_image), "sbx/egress-proxy:latest");
	snprintf(c->egress_subnets, sizeof(c->egress_subnets), "10.213.0.0/16");
	c->egress_log_max_bytes = 16u << 20;
	c->log_level = LOG_LVL_INFO;
	c->workers = 32;
	c->command_workers = 128;
	c->command_calls_per_credential = 96;
	c->command_calls_per_session = 32;
	c->contexts = 192;
	c->max_connections = 512;
	c->max_connections_per_address = 64;
	c->drain_ms = 10000;
	c->max_message_bytes = 16u << 20;
	c->max_output_bytes = 100000;
	c->read_max_bytes = 8u << 20;
	c->max_processes_per_session = 16;
	c->process_output_max_bytes = 1u << 20;
	c->process_wait_max_ms = 30000;
	c->exec_timeout_default_ms = 120000;
	c->exec_timeout_max_ms = 300000;
	c->sandbox_uid = 1000;
	c->sandbox_gid = 1000;
	/* secure by default: commands and files outside /workspace go
	 * through the agent as the sandbox user, which needs no writable
	 * image; exec stays allowed (the workspace allows it anyway), and
	 * both tmpfs count against the session's memory limit */
	c->readonly_rootfs = 1;
	snprintf(c->tmpfs_tmp, sizeof(c->tmpfs_tmp), "rw,exec,nosuid,nodev,size=64m");
	snprintf(c->tmpfs_home, sizeof(c->tmpfs_home), "rw,exec,nosuid,nodev,size=64m");
	snprintf(c->sandbox_home, sizeof(c->sandbox_home), "/home/sandbox");
	c->memory_bytes = 1LL << 30;
	c->nano_cpus = 1000000000LL;
	c->pids_limit = 512;
	c->nofile = 4096;
	c->max_memory_bytes = 4LL << 30;
	c->max_nano_cpus = 2000000000LL;
	c->max_pids_limit = 4096;
	c->idle_timeout_ms = 3600000;
	c->reap_interval_ms = 30000;
	c->max_live_sessions = 20;
	c->max_live_sessions_per_user = 4;
	c->snapshot_max_per_user = 20;
	c->snapshot_max_bytes_per_user = 20LL << 30;
	c->pool_size = 2;
	/* the built-ins (runtime.c describes them); a "runtime" line may
	 * re-point one at another image */
	for (int i = 0; i < (int)(sizeof(builtin_runtimes) / sizeof(builtin_runtimes[0])); i++) {
		struct config_runtime *r = &c->runtimes[c->nruntimes++];

		snprintf(r->name, sizeof(r->name), "%s", builtin_runtimes[i]);
		snprintf(r->image, sizeof(r->image), "sbx/%s:latest", builtin_runtimes[i]);
		snprintf(r->build_command, sizeof(r->build_command),
		    "deploy/images/build.sh %s", builtin_runtimes[i]);
		r->isolation = -1;          /* the config's isolation */
	}
	snprintf(c->log_listen, sizeof(c->log_listen), "tcp://127.0.0.1:7411");
	snprintf(c->metrics_listen, sizeof(c->metrics_listen), "127.0.0.1:7412");
	c->agent = 1;
	c->log_ring_events = 1000;
	c->log_ring_bytes = 4u << 20;
	c->log_total_bytes = 256u << 20;
	c->log_sendbuf = 256;
	c->isolation = ISOLATION_RUNC;
	c->isolations_allowed = ISOLATION_ALL;
	snprintf(c->gvisor_runtime, sizeof(c->gvisor_runtime), "runsc");
}

/* Parses a number with an optional unit suffix scaled by the table given. */
static int
parse_scaled(const char *v, int64_t *out, const char *const *units,
    const int64_t *scales)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || n < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end == '\0') {
		*out = n;
		return 0;
	}
	for (int i = 0; units[i] != NULL; i++) {
		if (strcasecmp(end, units[i]) == 0) {
			if (n > INT64_MAX / scales[i])
				return -1;
			*out = n * scales[i];
			return 0;
		}
	}
	return -1;
}

static int
parse_value(const struct key *k, const char *v, int64_t *out)
{
	static const char *const size_units[] = { "K", "KiB", "M", "MiB", "G", "GiB", NULL };
	static const int64_t size_scales[] = { 1LL << 10, 1LL << 10, 1LL << 20, 1LL << 20, 1LL << 30, 1LL << 30 };
	static const char *const ms_units[] = { "ms", "s", "m", "h", NULL };
	static const int64_t ms_scales[] = { 1, 1000, 60000, 3600000 };
	static const char *const no_units[] = { NULL };

	switch (k->kind) {
	case K_SIZE:
		return parse_scaled(v, out, size_units, size_scales);
	case K_MS:
		return parse_scaled(v, out, ms_units, ms_scales);
	case K_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
			*out = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
			*out = 0;
		else
			return -1;
		return 0;
	case K_LEVEL:
		return (*out = log_parse_level(v)) < 0 ? -1 : 0;
	default:
		return parse_scaled(v, out, no_units, NULL);
	}
}

static void
store_int(struct config *c, const struct key *k, int64_t v)
{
	char *p = (char *)c + k->off;

	switch (k->size) {
	case sizeof(int32_t): { int32_t x = (int32_t)v; memcpy(p, &x, sizeof(x)); break; }
	case sizeof(int64_t): { int64_t x = v; memcpy(p, &x, sizeof(x)); break; }
	default: abort();
	}
}

/* One option of a runtime line into r: "writable_rootfs" or
 * "isolation=NAME". */
static sbxd_code
runtime_option(struct config_runtime *r, const char *opt, struct err *e)
{
	if (strcmp(opt, "writable_rootfs") == 0) {
		r->writable_rootfs = 1;
		return SBXD_OK;
	}
	if (strncmp(opt, "isolation=", 10) == 0 && isolation_parse(opt + 10) >= 0) {
		r->isolation = isolation_parse(opt + 10);
		return SBXD_OK;
	}
	if (strncmp(opt, "egress=", 7) == 0) {
		/* "egress=pypi.org,*.example.com": its sessions' allowlist when
		 * they give none (egress.h) */
		char list[CONFIG_EGRESS_MAX], *words[EGRESS_ENTRIES_MAX + 1], *save = NULL;
		size_t n = 0;

		snprintf(list, sizeof(list), "%s", opt + 7);
		for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
			if (n <= EGRESS_ENTRIES_MAX)
				words[n++] = t;
		if (n == 0)
			return err_set(e, SBXD_INVALID_ARGUMENT, "runtime option egress= needs "
			    "domains, comma-separated (egress=pypi.org,*.example.com)");
		if (egress_parse(words, n, r->egress, sizeof(r->egress), e) != SBXD_OK)
			return err_wrap(e, "runtime option egress=: ");
		return SBXD_OK;
	}
	return err_set(e, SBXD_INVALID_ARGUMENT, "unknown runtime option \"%s\" (known: "
	    "writable_rootfs, isolation=runc, isolation=gvisor, egress=DOMAIN,...)", opt);
}

/* "NAME IMAGE [writable_rootfs] [isolation=NAME]". Re-pointing a runtime
 * at the image it has (to add an option to a built-in) keeps its build
 * command. */
static sbxd_code
set_runtime(struct config *c, const char *value, struct err *e)
{
	char name[64], image[256], opt[3][CONFIG_EGRESS_MAX], extra;
	struct config_runtime *r = NULL, nr = { .isolation = -1 };
	int n = sscanf(value, "%63s %255s %1023s %1023s %1023s %c", name, image, opt[0], opt[1],
	    opt[2], &extra);
	sbxd_code rv;

	if (n < 2 || n > 5)
		return err_set(e, SBXD_INVALID_ARGUMENT, "runtime needs \"NAME IMAGE "
		    "[writable_rootfs] [isolation=NAME] [egress=DOMAIN,...]\", got \"%s\"", value);
	for (int i = 0; i < n - 2; i++)
		if ((rv = runtime_option(&nr, opt[i], e)) != SBXD_OK)
			return rv;
	for (int i = 0; i < c->nruntimes; i++)
		if (strcmp(c->runtimes[i].name, name) == 0)
			r = &c->runtimes[i];
	if (r == NULL) {
		if (c->nruntimes == CONFIG_MAX_RUNTIMES)
			return err_set(e, SBXD_RESOURCE_EXHAUSTED,
			    "at most %d runtimes", CONFIG_MAX_RUNTIMES);
		r = &c->runtimes[c->nruntimes++];
		memset(r, 0, sizeof(*r));
	}
	if (strcmp(r->image, image) != 0 || r->build_command[0] == '\0')
		snprintf(r->build_command, sizeof(r->build_command),
		    "docker build or import an image tagged %s", image);
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->image, sizeof(r->image), "%s", image);
	r->writable_rootfs = nr.writable_rootfs;
	r->isolation = nr.isolation;
	snprintf(r->egress, sizeof(r->egress), "%s", nr.egress);
	return SBXD_OK;
}

#define POOL_SIZE_MAX 1000

/* "N" (the default runtime's pool), "NAME N" (that runtime's, in its
 * isolation) or "NAME N ISOLATION" (its containers in that isolation). */
static sbxd_code
set_pool_size(struct config *c, const char *value, struct err *e)
{
	char name[64] = "", iso[ISOLATION_NAME_MAX] = "", extra;
	int n, i, k;

	if (sscanf(value, "%d %c", &n, &extra) != 1 &&
	    (k = sscanf(value, "%63s %d %15s %c", name, &n, iso, &extra)) != 2 && k != 3)
		return err_set(e, SBXD_INVALID_ARGUMENT, "pool_size needs \"N\", \"RUNTIME N\" "
		    "or \"RUNTIME N ISOLATION\", got \"%s\"", value);
	if (iso[0] != '\0' && isolation_parse(iso) < 0)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "pool_size: unknown isolation \"%s\" (runc or gvisor)", iso);
	if (n < 0 || n > POOL_SIZE_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "pool_size must be from 0 to %d, got %d", POOL_SIZE_MAX, n);
	if (name[0] == '\0') {
		c->pool_size = n;
		return SBXD_OK;
	}
	for (i = 0; i < c->npool_sizes && (strcmp(c->pool_sizes[i].name, name) != 0 ||
	    c->pool_sizes[i].isolation != (iso[0] ? isolation_parse(iso) : -1)); i++)
		;
	if (i == CONFIG_MAX_RUNTIMES)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "at most %d pool_size lines",
		    CONFIG_MAX_RUNTIMES);
	if (i == c->npool_sizes)
		c->npool_sizes++;
	snprintf(c->pool_sizes[i].name, sizeof(c->pool_sizes[i].name), "%s", name);
	c->pool_sizes[i].n = n;
	c->pool_sizes[i].isolation = iso[0] ? isolation_parse(iso) : -1;
	return SBXD_OK;
}

/* Gives each runtime its pool sizes: a "NAME N [ISOLATION]" line, else
 * pool_size for the default runtime in its isolation, else 0. A runtime
 * whose line carries egress= keeps none: its sessions always have an
 * allowlist, so they run on a network of their own made at create, never
 * in a pool container (network none); a line asking for some is refused. */
static sbxd_code
finish_pool(struct config *c, struct err *e)
{
	for (int i = 0; i < c->nruntimes; i++) {
		struct config_runtime *r = &c->runtimes[i];

		memset(r->pool_iso, 0, sizeof(r->pool_iso));
		r->pool_iso[r->isolation] = strcmp(r->name, c->default_runtime) == 0 &&
		    r->egress[0] == '\0' ? c->pool_size : 0;
	}
	for (int i = 0; i < c->npool_sizes; i++) {
		struct config_runtime *r = NULL;

		for (int j = 0; j < c->nruntimes && r == NULL; j++)
			if (strcmp(c->runtimes[j].name, c->pool_sizes[i].name) == 0)
				r = &c->runtimes[j];
		if (r == NULL)
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "pool_size names runtime \"%s\", which is not configured",
			    c->pool_sizes[i].name);
		if (r->egress[0] != '\0' && c->pool_sizes[i].n > 0)
			return err_set(e, SBXD_INVALID_ARGUMENT, "pool_size = %s %d: runtime %s "
			    "has egress=, so each of its sessions is created on an egress network "
			    "of its own and never takes a warm container; remove the line (or "
			    "give 0)", r->name, c->pool_sizes[i].n, r->name);
		r->pool_iso[c->pool_sizes[i].isolation < 0 ? r->isolation :
		    c->pool_sizes[i].isolation] = c->pool_sizes[i].n;
	}
	for (int i = 0; i < c->nruntimes; i++)
		c->runtimes[i].pool_size = c->runtimes[i].pool_iso[c->runtimes[i].isolation];
	return SBXD_OK;
}

/* Gives runtimes without an isolation of their own the config's, and
 * checks every isolation a session could get is allowed. */
static sbxd_code
finish_isolation(struct config *c, struct err *e)
{
	char list[64];

	isolation_names(c->isolations_allowed, list, sizeof(list));
	if (!(c->isolations_allowed & (1u << c->isolation)))
		return err_set(e, SBXD_INVALID_ARGUMENT, "isolation %s is not among "
		    "isolations_allowed (%s)", isolation_name(c->isolation), list);
	for (int i = 0; i < c->nruntimes; i++) {
		struct config_runtime *r = &c->runtimes[i];

		if (r->isolation < 0)
			r->isolation = c->isolation;
		if (!(c->isolations_allowed & (1u << r->isolation)))
			return err_set(e, SBXD_INVALID_ARGUMENT, "runtime %s has isolation %s, "
			    "which is not among isolations_allowed (%s)", r->name,
			    isolation_name(r->isolation), list);
	}
	if (c->gvisor_runtime[0] == '\0' || strspn(c->gvisor_runtime, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(c->gvisor_runtime))
		return err_set(e, SBXD_INVALID_ARGUMENT, "gvisor_runtime must be the name the "
		    "Docker engine knows runsc by (A-Z a-z 0-9 . _ -), got \"%s\"", c->gvisor_runtime);
	return SBXD_OK;
}

/* "isolation = NAME" or "isolations_allowed = NAME[,NAME...]" (commas
 * or spaces). */
static sbxd_code
set_isolation(struct config *c, const struct key *k, const char *value, struct err *e)
{
	char list[128], *tok, *save;
	unsigned mask = 0;
	int iso;

	if (k->kind == K_ISO) {
		if ((iso = isolation_parse(value)) < 0)
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "isolation must be runc or gvisor, got \"%s\"", value);
		c->isolation = iso;
		return SBXD_OK;
	}
	if ((size_t)snprintf(list, sizeof(list), "%s", value) >= sizeof(list))
		return err_set(e, SBXD_INVALID_ARGUMENT, "isolations_allowed is too long");
	for (tok = strtok_r(list, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
		if ((iso = isolation_parse(tok)) < 0)
			return err_set(e, SBXD_INVALID_ARGUMENT, "isolations_allowed: unknown "
			    "isolation \"%s\" (runc, gvisor)", tok);
		mask |= 1u << iso;
	}
	if (mask == 0)
		return err_set(e, SBXD_INVALID_ARGUMENT, "isolations_allowed names none; "
		    "give runc, gvisor or both");
	c->isolations_allowed = mask;
	return SBXD_OK;
}

static sbxd_code
add_key(struct config *c, const char *value, struct err *e)
{
	size_t n = strlen(value);

	if (n < 16 || n >= CONFIG_KEY_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "service_key must be 16 to %d characters", CONFIG_KEY_MAX - 1);
	if (c->nservice_keys == CONFIG_MAX_KEYS)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED,
		    "at most %d service keys", CONFIG_MAX_KEYS);
	memcpy(c->service_keys[c->nservice_keys++], value, n + 1);
	return SBXD_OK;
}

sbxd_code
config_set(struct config *c, const char *key, const char *value, struct err *e)
{
	const struct key *k = NULL;
	int64_t v;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, key) == 0)
			k = &keys[i];
	if (k == NULL)
		return err_set(e, SBXD_INVALID_ARGUMENT, "unknown setting \"%s\"", key);
	if (k->kind == K_KEY)
		return add_key(c, value, e);
	if (k->kind == K_RUNTIME)
		return set_runtime(c, value, e);
	if (k->kind == K_POOL)
		return set_pool_size(c, value, e);
	if (k->kind == K_ISO || k->kind == K_ISOS)
		return set_isolation(c, k, value, e);
	if (k->kind == K_STR) {
		if (strlen(value) >= k->size)
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "%s is longer than %zu bytes", key, k->size - 1);
		memcpy((char *)c + k->off, value, strlen(value) + 1);
		return SBXD_OK;
	}
	if (parse_value(k, value, &v) != 0 || v < k->min || v > k->max)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "bad value \"%s\" for %s (expected %s from %lld to %lld)", value, key,
		    k->kind == K_SIZE ? "a size like 64M" : k->kind == K_MS ?
		    "a duration like 30s" : k->kind == K_BOOL ? "yes/no" :
		    k->kind == K_LEVEL ? "error|warn|info|debug" : "a number",
		    (long long)k->min, (long long)k->max);
	store_int(c, k, v);
	return SBXD_OK;
}

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

sbxd_code
config_load_file(struct config *c, const char *path, struct err *e)
{
	char line[4096], *eq, *k, *v;
	FILE *f;
	int lineno = 0;
	sbxd_code rv = SBXD_OK;

	if ((f = fopen(path, "r")) == NULL)
		return err_set(e, errno == ENOENT ? SBXD_NOT_FOUND : SBXD_PERMISSION_DENIED,
		    "cannot open config file %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			rv = err_set(e, SBXD_INVALID_ARGUMENT, "%s:%d: line too long", path, lineno);
			break;
		}
		if ((k = strchr(line, '#')) != NULL)
			*k = '\0';
		k = trim(line);
		if (*k == '\0')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			rv = err_set(e, SBXD_INVALID_ARGUMENT,
			    "%s:%d: expected \"key = value\"", path, lineno);
			break;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if ((rv = config_set(c, k, v, e)) != SBXD_OK) {
			err_wrap(e, "%s:%d: ", path, lineno);
			break;
		}
	}
	fclose(f);
	return rv;
}

static sbxd_code
derive(char *dst, size_t n, const char *dir, const char *leaf, struct err *e)
{
	if (dst[0] != '\0')
		return SBXD_OK;
	if ((size_t)snprintf(dst, n, "%s/%s", dir, leaf) >= n)
		return err_set(e, SBXD_INVALID_ARGUMENT, "state_dir is too long");
	return SBXD_OK;
}

/* 1 when the comma-separated options opts hold "name=...". */
static int
has_opt(const char *opts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = opts;; p++) {
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return 1;
		if ((p = strchr(p, ',')) == NULL)
			return 0;
	}
}

/* Checks a tmpfs key's options (the engine would refuse bad ones at every
 * create) and writes them to dst with what sbxd adds: "" stays "". */
static sbxd_code
tmpfs_mount(const char *key, const char *opts, const char *add[][2], char *dst,
    size_t n, struct err *e)
{
	size_t len;

	dst[0] = '\0';
	if (opts[0] == '\0')
		return SBXD_OK;
	if (strspn(opts, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789,=._-") != strlen(opts) || opts[0] == ',' ||
	    opts[strlen(opts) - 1] == ',' || strstr(opts, ",,") != NULL)
		return err_set(e, SBXD_INVALID_ARGUMENT, "%s must be mount options "
		    "like rw,nosuid,nodev,size=64m, got \"%s\"", key, opts);
	snprintf(dst, n, "%s", opts);
	for (int i = 0; add[i][0] != NULL; i++) {
		len = strlen(dst);
		if (!has_opt(opts, add[i][0]) && (size_t)snprintf(dst + len, n - len,
		    ",%s=%s", add[i][0], add[i][1]) >= n - len)
			return err_set(e, SBXD_INVALID_ARGUMENT, "%s is too long", key);
	}
	return SBXD_OK;
}

/* The home tmpfs must name a directory of its own: not the root, not a
 * mount sbxd makes (/workspace, /tmp, the agent's /.sbx). */
static int
home_path_ok(const char *p)
{
	static const char *const taken[] = { "/workspace", "/tmp", "/.sbx" };

	if (p[0] != '/' || p[1] == '\0' || p[strlen(p) - 1] == '/' ||
	    strstr(p, "//") != NULL || strstr(p, "/./") != NULL ||
	    strstr(p, "/../") != NULL || strspn(p, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") != strlen(p) ||
	    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0) ||
	    (strlen(p) >= 2 && strcmp(p + strlen(p) - 2, "/.") == 0))
		return 0;
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		size_t n = strlen(taken[i]);

		if (strncmp(p, taken[i], n) == 0 && (p[n] == '\0' || p[n] == '/'))
			return 0;
	}
	return 1;
}

/* Derives the tmpfs mounts: /tmp sticky and world-writable, the home
 * owned by the sandbox user. */
static sbxd_code
finish_tmpfs(struct config *c, struct err *e)
{
	char uid[16], gid[16];
	const char *tmp_add[][2] = { { "mode", "1777" }, { NULL, NULL } };
	const char *home_add[][2] = { { "uid", uid }, { "gid", gid }, { "mode", "0755" },
	    { NULL, NULL } };
	sbxd_code rv;

	snprintf(uid, sizeof(uid), "%d", (int)c->sandbox_uid);
	snprintf(gid, sizeof(gid), "%d", (int)c->sandbox_gid);
	if ((rv = tmpfs_mount("tmpfs_tmp", c->tmpfs_tmp, tmp_add, c->tmpfs_tmp_mount,
	    sizeof(c->tmpfs_tmp_mount), e)) != SBXD_OK ||
	    (rv = tmpfs_mount("tmpfs_home", c->tmpfs_home, home_add, c->tmpfs_home_mount,
	    sizeof(c->tmpfs_home_mount), e)) != SBXD_OK)
		return rv;
	if (c->tmpfs_home[0] != '\0' && !home_path_ok(c->sandbox_home))
		return err_set(e, SBXD_INVALID_ARGUMENT, "sandbox_home must be an absolute "
		    "path of its own (not /, /workspace, /tmp or /.sbx), got \"%s\"",
		    c->sandbox_home);
	return SBXD_OK;
}

sbxd_code
config_finish(struct config *c, struct err *e)
{
	const char *env = getenv("SBXD_SERVICE_KEY");
	char keys_env[CONFIG_MAX_KEYS * CONFIG_KEY_MAX], *tok, *save;
	sbxd_code rv;

	if (env != NULL && *env != '\0') {
		snprintf(keys_env, sizeof(keys_env), "%s", env);
		for (tok = strtok_r(keys_env, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save))
			if ((rv = add_key(c, trim(tok), e)) != SBXD_OK)
				return err_wrap(e, "SBXD_SERVICE_KEY: ");
	}
	if ((rv = derive(c->db_path, sizeof(c->db_path), c->state_dir, "sbx.db", e)) ||
	    (rv = derive(c->workspace_root, sizeof(c->workspace_root), c->state_dir, "workspaces", e)) ||
	    (rv = derive(c->key_file, sizeof(c->key_file), c->state_dir, "service.key", e)) ||
	    (rv = derive(c->pool_dir, sizeof(c->pool_dir), c->state_dir, "pool", e)))
		return rv;
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0'))
		return err_set(e, SBXD_INVALID_ARGUMENT, "tls_cert and tls_key go together");
	if (strncmp(c->listen, "tls+tcp://", 10) == 0 && c->tls_cert[0] == '\0')
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "listen is tls+tcp:// but no tls_cert/tls_key is configured");
	if (c->exec_timeout_default_ms > c->exec_timeout_max_ms)
		c->exec_timeout_default_ms = c->exec_timeout_max_ms;
	if (config_runtime(c, c->default_runtime) == NULL)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "default_runtime \"%s\" is not a configured runtime", c->default_runtime);
	if ((rv = finish_isolation(c, e)) != SBXD_OK || (rv = finish_pool(c, e)) != SBXD_OK ||
	    (rv = finish_tmpfs(c, e)) != SBXD_OK)
		return rv;
	if (c->memory_bytes > c->max_memory_bytes || c->nano_cpus > c->max_nano_cpus ||
	    c->pids_limit > c->max_pids_limit)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "a default limit (memory, cpus_nano, pids_limit) is above its max_ ceiling");
	return SBXD_OK;
}

const struct config_runtime *
config_runtime(const struct config *c, const char *name)
{
	for (int i = 0; i < c->nruntimes; i++)
		if (strcmp(c->runtimes[i].name, name) == 0)
			return &c->runtimes[i];
	return NULL;
}
