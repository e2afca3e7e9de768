/*
 * cmd_session.c — `sbx session create|list|get|end`: parses each
 * subcommand's flags, makes the SessionService calls through libsbx, and
 * prints a session as aligned text or as a JSON object. `list` follows
 * every page; with --json it prints one object holding all of them, and
 * only once the last page has arrived.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbx.h"
#include "cli.h"
#include "json_out.h"

#define CLEANUP_SCOPE_MAX 64        /* --label and --user of one cleanup */

static void
fmt_time(uint64_t unix_ms, char *buf, size_t n)
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (unix_ms == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, n, "-");
	else
		strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
json_session(struct jw *w, const char *key, const sbx_session *s)
{
	jw_obj_begin(w, key);
	jw_str(w, "session_id", s->session_id);
	jw_str(w, "user_id", s->user_id);
	jw_str(w, "runtime", s->runtime);
	jw_str(w, "isolation", s->isolation);
	jw_str(w, "state", sbx_session_state_name(s->state));
	jw_str(w, "container_id", s->container_id);
	jw_str(w, "workspace_path", s->workspace_path);
	jw_u64(w, "created_unix_ms", s->created_unix_ms);
	jw_u64(w, "last_active_unix_ms", s->last_active_unix_ms);
	jw_u64(w, "idle_timeout_ms", s->idle_timeout_ms);
	jw_obj_begin(w, "limits");
	jw_u64(w, "memory_bytes", s->limits.memory_bytes);
	jw_u64(w, "nano_cpus", s->limits.nano_cpus);
	jw_i64(w, "pids", s->limits.pids);
	jw_u64(w, "exec_timeout_ms", s->limits.exec_timeout_ms);
	jw_obj_end(w);
	jw_obj_begin(w, "usage");
	jw_u64(w, "memory_bytes", s->usage.memory_bytes);
	jw_u64(w, "memory_limit_bytes", s->usage.memory_limit_bytes);
	jw_double(w, "cpu_percent", s->usage.cpu_percent);
	jw_u64(w, "pids", s->usage.pids);
	jw_u64(w, "oom_kills", s->usage.oom_kills);
	jw_u64(w, "disk_bytes", s->usage.disk_bytes);
	jw_u64(w, "disk_limit_bytes", s->usage.disk_limit_bytes);
	jw_obj_end(w);
	jw_obj_begin(w, "labels");
	for (size_t i = 0; i < s->n_labels; i++)
		jw_str(w, s->labels[i].key, s->labels[i].value);
	jw_obj_end(w);
	jw_str(w, "stop_reason", s->stop_reason);
	jw_bool(w, "egress", s->egress);
	jw_arr_begin(w, "egress_allow");
	for (size_t i = 0; i < s->n_egress_allow; i++)
		jw_str(w, NULL, s->egress_allow[i]);
	jw_arr_end(w);
	jw_obj_end(w);
}

/* The session's egress, then a newline: "none" (network none), its
 * entries joined by sep, or "(nothing allowed)". */
static void
print_egress(const sbx_session *s, const char *sep)
{
	if (!s->egress)
		printf("none");
	else if (s->n_egress_allow == 0)
		printf("(nothing allowed)");
	for (size_t i = 0; i < s->n_egress_allow; i++)
		printf("%s%s", i ? sep : "", s->egress_allow[i]);
	printf("\n");
}

static void
print_session(const sbx_session *s)
{
	char created[32], active[32];

	fmt_time(s->created_unix_ms, created, sizeof(created));
	fmt_time(s->last_active_unix_ms, active, sizeof(active));
	printf("session_id      %s\nuser_id         %s\nruntime         %s\n"
	    "isolation       %s\n"
	    "state           %s\ncontainer_id    %s\nworkspace_path  %s\n"
	    "created         %s\nlast_active     %s\nidle_timeout_ms %llu\n",
	    s->session_id, s->user_id, s->runtime, s->isolation,
	    sbx_session_state_name(s->state), s->container_id,
	    s->workspace_path, created, active,
	    (unsigned long long)s->idle_timeout_ms);
	printf("limits          memory_bytes=%llu nano_cpus=%llu pids=%lld "
	    "exec_timeout_ms=%llu\n", (unsigned long long)s->limits.memory_bytes,
	    (unsigned long long)s->limits.nano_cpus, (long long)s->limits.pids,
	    (unsigned long long)s->limits.exec_timeout_ms);
	if (s->state == SBX_SESSION_RUNNING)
		printf("usage           memory_bytes=%llu memory_limit_bytes=%llu "
		    "cpu_percent=%.1f pids=%llu oom_kills=%llu\n",
		    (unsigned long long)s->usage.memory_bytes,
		    (unsigned long long)s->usage.memory_limit_bytes, s->usage.cpu_percent,
		    (unsigned long long)s->usage.pids, (unsigned long long)s->usage.oom_kills);
	if (s->usage.disk_limit_bytes > 0)
		printf("disk            bytes=%llu limit_bytes=%llu\n",
		    (unsigned long long)s->usage.disk_bytes,
		    (unsigned long long)s->usage.disk_limit_bytes);
	printf("labels         ");
	for (size_t i = 0; i < s->n_labels; i++)
		printf(" %s=%s", s->labels[i].key, s->labels[i].value);
	printf("\nstop_reason     %s\n", *s->stop_reason ? s->stop_reason : "-");
	printf("egress          ");
	print_egress(s, " ");
}

/* The answer of a command that returns one session: {"session": ...} under
 * --json, else its fields (full) or its id alone. Frees s; returns 0. */
static int
answer_session(sbx_session *s, int full)
{
	if (cli_json) {
		struct jw w;

		json_begin(&w);
		json_session(&w, "session", s);
		json_end(&w);
	} else if (full)
		print_session(s);
	else
		printf("%s\n", s->session_id);
	sbx_session_fini(s);
	return 0;
}

/* Splits "k=v" in place into a label. */
static int
parse_label(char *arg, sbx_label *l)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg)
		return -1;
	*eq = '\0';
	l->key = arg;
	l->value = eq + 1;
	return 0;
}

static int
cmd_session_create(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "runtime", required_argument, NULL, 'r' },
		{ "label", required_argument, NULL, 'l' },
		{ "isolation", required_argument, NULL, 'i' },
		{ "from", required_argument, NULL, 'f' },
		{ "allow", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	sbx_session_create_opts o = { 0 };
	sbx_label labels[64];
	const char *allow[64];
	sbx_session s;
	char *token = NULL;
	sbx_err rv;
	int ch;

	o.labels = labels;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o.user_id = optarg; break;
		case 'r': o.runtime = optarg; break;
		case 'i': o.isolation = optarg; break;
		case 'f': o.from_snapshot = optarg; break;
		case 'a':
			if (o.n_egress_allow == 64)
				return usage_error("at most 64 --allow");
			allow[o.n_egress_allow++] = optarg;
			o.egress_allow = allow;
			break;
		case 'l':
			if (o.n_labels == 64)
				return usage_error("at most 64 labels");
			if (parse_label(optarg, &labels[o.n_labels++]) != 0)
				return usage_error("--label wants KEY=VALUE");
			break;
		default: return EXIT_USAGE;
		}
	}
	if (o.user_id == NULL || optind != argc)
		return usage_error("usage: sbx session create --user U [--runtime R] "
		    "[--isolation runc|gvisor] [--label k=v]... [--from SNAPSHOT] "
		    "[--allow DOMAIN]...");
	if ((rv = sbx_session_create(cli, &o, &s, &token)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		json_session(&w, "session", &s);
		jw_str(&w, "session_token", token);
		json_end(&w);
	} else {
		printf("%s\n", s.session_id);
	}
	sbx_free(token);
	sbx_session_fini(&s);
	return 0;
}

/* Prints every page; JSON is one object holding them all. */
static int
list_pages(sbx_session_list_opts *o, struct jw *w)
{
	sbx_session *v;
	size_t n;
	char *next = NULL;
	sbx_err rv;

	do {
		rv = sbx_session_list(cli, o, &v, &n, &next);
		sbx_free((char *)o->page_token);
		o->page_token = next;
		if (rv != SBX_OK)
			return fail_call(rv);
		for (size_t i = 0; i < n; i++) {
			if (cli_json) {
				json_session(w, NULL, &v[i]);
				continue;
			}
			printf("%-36s %-24s %-12s %-8s ", v[i].session_id, v[i].user_id,
			    v[i].runtime, sbx_session_state_name(v[i].state));
			print_egress(&v[i], ",");
		}
		sbx_session_list_free(v, n);
	} while (next != NULL);
	return 0;
}

static int
cmd_session_list(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	sbx_session_list_opts o = { .page_size = 1000 };
	struct jw w;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int ch, ret;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'u')
			o.user_id = optarg;
		else if (ch == 'a')
			o.include_ended = 1;
		else
			return EXIT_USAGE;
	}
	if (optind != argc)
		return usage_error("usage: sbx session list [--user U] [--all]");
	if (!cli_json)
		return list_pages(&o, NULL);
	/* pages arrive one by one: print the object only once all are in */
	if ((mem = open_memstream(&buf, &len)) == NULL)
		return out_of_memory();
	jw_init(&w, mem);
	jw_obj_begin(&w, NULL);
	jw_arr_begin(&w, "sessions");
	if ((ret = list_pages(&o, &w)) == 0) {
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	}
	fclose(mem);
	if (ret == 0)
		fwrite(buf, 1, len, stdout);
	free(buf);
	return ret;
}

static int
cmd_session_get(int argc, char **argv)
{
	sbx_session s;
	sbx_err rv;

	if (argc != 2)
		return usage_error("usage: sbx session get ID");
	if ((rv = sbx_session_get(cli, argv[1], &s)) != SBX_OK)
		return fail_call(rv);
	return answer_session(&s, 1);
}

static int
cmd_session_end(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "purge", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int purge = 0, ret;
	sbx_err rv;

	if ((ret = parse_one_flag(argc, argv, "", lo, &purge)) != 0)
		return ret;
	if (optind != argc - 1)
		return usage_error("usage: sbx session end ID [--purge]");
	if ((rv = sbx_session_end(cli, argv[optind], purge)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_str(&w, "session_id", argv[optind]);
		jw_bool(&w, "ended", 1);
		jw_bool(&w, "purged", purge);
		json_end(&w);
	}
	return 0;
}

static int
cmd_session_rotate(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "revoke", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int revoke = 0, ret;
	char *token = NULL;
	sbx_err rv;

	if ((ret = parse_one_flag(argc, argv, "", lo, &revoke)) != 0)
		return ret;
	if (optind != argc - 1)
		return usage_error("usage: sbx session rotate-token ID [--revoke]");
	if ((rv = sbx_session_rotate_token(cli, argv[optind], revoke, &token)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;

		json_begin(&w);
		jw_str(&w, "session_id", argv[optind]);
		jw_str(&w, "session_token", token ? token : "");
		jw_bool(&w, "revoked", revoke);
		json_end(&w);
	} else if (token != NULL)
		printf("%s\n", token);
	sbx_free(token);
	return 0;
}

static int
cmd_session_cleanup(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "max-idle", required_argument, NULL, 'm' },
		{ "label", required_argument, NULL, 'l' },
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	sbx_label labels[CLEANUP_SCOPE_MAX];
	const char *users[CLEANUP_SCOPE_MAX];
	sbx_cleanup_opts o = { .labels = labels, .user_ids = users };
	char **ids = NULL;
	size_t n = 0;
	sbx_err rv;
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'm' && parse_u64(optarg, &o.max_idle_ms) != 0)
			return usage_error("--max-idle wants milliseconds");
		if ((ch == 'l' && o.n_labels == CLEANUP_SCOPE_MAX) ||
		    (ch == 'u' && o.n_user_ids == CLEANUP_SCOPE_MAX))
			return usage_error("at most %d --label and %d --user",
			    CLEANUP_SCOPE_MAX, CLEANUP_SCOPE_MAX);
		if (ch == 'l' && parse_label(optarg, &labels[o.n_labels++]) != 0)
			return usage_error("--label wants KEY=VALUE");
		if (ch == 'u')
			users[o.n_user_ids++] = optarg;
		if (ch == '?')
			return EXIT_USAGE;
	}
	if (optind != argc)
		return usage_error("usage: sbx session cleanup [--max-idle MS] "
		    "[--label k=v]... [--user U]...");
	if ((rv = sbx_session_cleanup_idle_scoped(cli, &o, &ids, &n)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;

		json_begin(&w);
		jw_arr_begin(&w, "stopped_session_ids");
		for (size_t i = 0; i < n; i++)
			jw_str(&w, NULL, ids[i]);
		jw_arr_end(&w);
		json_end(&w);
	} else
		for (size_t i = 0; i < n; i++)
			printf("%s\n", ids[i]);
	sbx_string_list_free(ids, n);
	return 0;
}

static int
cmd_session_restore(int argc, char **argv)
{
	sbx_session s;
	sbx_err rv;

	if (argc != 3)
		return usage_error("usage: sbx session restore ID SNAPSHOT");
	if ((rv = sbx_session_restore(cli, argv[1], argv[2], &s)) != SBX_OK)
		return fail_call(rv);
	return answer_session(&s, 0);
}

/* sbx session egress ID [DOMAIN]...: replaces the allowlist (none: nothing
 * allowed), live. */
static int
cmd_session_egress(int argc, char **argv)
{
	sbx_session s;
	sbx_err rv;
	int ret, dummy = 0;
	static const struct option lo[] = { { NULL, 0, NULL, 0 } };

	if ((ret = parse_one_flag(argc, argv, "", lo, &dummy)) != 0)
		return ret;
	if (optind >= argc)
		return usage_error("usage: sbx session egress ID [DOMAIN]...");
	if ((rv = sbx_session_set_egress(cli, argv[optind],
	    (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1), &s)) != SBX_OK)
		return fail_call(rv);
	return answer_session(&s, 1);
}

int
cmd_session(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("usage: sbx session create|list|get|end|rotate-token|cleanup|restore|egress ...");
	argc--;
	argv++;
	if (strcmp(argv[0], "create") == 0)
		return cmd_session_create(argc, argv);
	if (strcmp(argv[0], "list") == 0)
		return cmd_session_list(argc, argv);
	if (strcmp(argv[0], "get") == 0)
		return cmd_session_get(argc, argv);
	if (strcmp(argv[0], "end") == 0)
		return cmd_session_end(argc, argv);
	if (strcmp(argv[0], "rotate-token") == 0)
		return cmd_session_rotate(argc, argv);
	if (strcmp(argv[0], "cleanup") == 0)
		return cmd_session_cleanup(argc, argv);
	if (strcmp(argv[0], "restore") == 0)
		return cmd_session_restore(argc, argv);
	if (strcmp(argv[0], "egress") == 0)
		return cmd_session_egress(argc, argv);
	return usage_error("unknown session command \"%s\"", argv[0]);
}

