/*
 * cmd_runtime.c — `sbx runtime list|show|create|build`. list and show
 * print the server's catalog; create asks the server to build a custom
 * runtime (waiting up to SBX_RUNTIME_BUILD_TIMEOUT_MS, however short the
 * global --timeout) and prints its build log on stderr; build NAME says
 * how a runtime's image is made: a built-in's is built on the server's
 * host with deploy/images/build.sh (sbxd never runs mmdebstrap), a custom
 * one's by running create again with the same definition.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx.h"
#include "cli.h"
#include "json_out.h"

#define CREATE_LIST_MAX 64

static void
json_runtime(struct jw *w, const char *key, const sbx_runtime *r)
{
	jw_obj_begin(w, key);
	jw_str(w, "name", r->name);
	jw_str(w, "image", r->image);
	jw_str(w, "description", r->description);
	jw_arr_begin(w, "packages");
	for (size_t i = 0; i < r->n_packages; i++)
		jw_str(w, NULL, r->packages[i]);
	jw_arr_end(w);
	jw_str(w, "work_dir", r->work_dir);
	jw_obj_begin(w, "env");
	for (size_t i = 0; i < r->n_env; i++)
		jw_str(w, r->env[i].key, r->env[i].value);
	jw_obj_end(w);
	jw_obj_begin(w, "default_limits");
	jw_u64(w, "memory_bytes", r->default_limits.memory_bytes);
	jw_u64(w, "nano_cpus", r->default_limits.nano_cpus);
	jw_i64(w, "pids", r->default_limits.pids);
	jw_u64(w, "exec_timeout_ms", r->default_limits.exec_timeout_ms);
	jw_obj_end(w);
	jw_str(w, "network_mode", r->network_mode);
	jw_str(w, "isolation", r->isolation);
	jw_bool(w, "ready", r->ready);
	jw_str(w, "build_command", r->build_command);
	jw_obj_end(w);
}

static void
print_runtime(const sbx_runtime *r)
{
	printf("name            %s\nimage           %s\ndescription     %s\nready           %s\n",
	    r->name, r->image, r->description, r->ready ? "yes" : "no");
	if (!r->ready)
		printf("build with      %s\n", r->build_command);
	printf("work_dir        %s\nnetwork_mode    %s\nisolation       %s\nmemory_bytes    %llu\n"
	    "nano_cpus       %llu\npids            %lld\nexec_timeout_ms %llu\npackages       ",
	    r->work_dir, r->network_mode, r->isolation,
	    (unsigned long long)r->default_limits.memory_bytes,
	    (unsigned long long)r->default_limits.nano_cpus, (long long)r->default_limits.pids,
	    (unsigned long long)r->default_limits.exec_timeout_ms);
	for (size_t i = 0; i < r->n_packages; i++)
		printf(" %s", r->packages[i]);
	printf("\n");
	for (size_t i = 0; i < r->n_env; i++)
		printf("env             %s=%s\n", r->env[i].key, r->env[i].value);
}

static int
cmd_runtime_list(int argc, char **argv)
{
	sbx_runtime *v;
	size_t n;
	sbx_err rv;

	if (argc != 1)
		return usage_error("usage: sbx runtime list");
	if ((rv = sbx_runtime_list(cli, &v, &n)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;

		json_begin(&w);
		jw_arr_begin(&w, "runtimes");
		for (size_t i = 0; i < n; i++)
			json_runtime(&w, NULL, &v[i]);
		jw_arr_end(&w);
		json_end(&w);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%-22s %-6s %-40s %s\n", v[i].name, v[i].ready ? "ready" : "-",
			    v[i].image, v[i].ready ? "" : v[i].build_command);
	}
	sbx_runtime_list_free(v, n);
	return 0;
}

static int
cmd_runtime_show(int argc, char **argv)
{
	sbx_runtime r;
	sbx_err rv;

	if (argc != 2)
		return usage_error("usage: sbx runtime show NAME");
	if ((rv = sbx_runtime_get(cli, argv[1], &r)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;

		json_begin(&w);
		json_runtime(&w, "runtime", &r);
		json_end(&w);
	} else
		print_runtime(&r);
	sbx_runtime_fini(&r);
	return 0;
}

/* Appends optarg to one of create's lists. */
static int
push(const char **v, size_t *n, const char *s)
{
	if (*n == CREATE_LIST_MAX)
		return usage_error("at most %d of each list option", CREATE_LIST_MAX);
	v[(*n)++] = s;
	return 0;
}

static int
create_run(sbx_runtime_create_opts *o)
{
	sbx_runtime r;
	char *log = NULL;
	sbx_err rv;

	if ((rv = sbx_runtime_create(cli, o, &r, &log)) != SBX_OK)
		return fail_call(rv);
	if (log != NULL)
		fputs(log, stderr);
	if (cli_json) {
		struct jw w;

		json_begin(&w);
		json_runtime(&w, "runtime", &r);
		json_end(&w);
	} else
		printf("%s\n", r.image);
	sbx_free(log);
	sbx_runtime_fini(&r);
	return 0;
}

static int
cmd_runtime_create(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "base", required_argument, NULL, 'b' },
		{ "apt", required_argument, NULL, 'a' },
		{ "pip", required_argument, NULL, 'p' },
		{ "npm", required_argument, NULL, 'n' },
		{ "setup", required_argument, NULL, 's' },
		{ "env", required_argument, NULL, 'e' },
		{ "workdir", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *os[CREATE_LIST_MAX], *pip[CREATE_LIST_MAX], *npm[CREATE_LIST_MAX],
	    *setup[CREATE_LIST_MAX];
	static sbx_label env[CREATE_LIST_MAX];
	sbx_runtime_create_opts o = { .os_packages = os, .pip_packages = pip,
	    .npm_packages = npm, .setup_commands = setup, .env = env };
	int ch, bad = 0;
	char *eq;

	while (!bad && (ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'b': o.base_runtime = optarg; break;
		case 'a': bad = push(os, &o.n_os_packages, optarg); break;
		case 'p': bad = push(pip, &o.n_pip_packages, optarg); break;
		case 'n': bad = push(npm, &o.n_npm_packages, optarg); break;
		case 's': bad = push(setup, &o.n_setup_commands, optarg); break;
		case 'w': o.work_dir = optarg; break;
		case 'e':
			if ((eq = strchr(optarg, '=')) == NULL || eq == optarg)
				return usage_error("--env wants KEY=VALUE");
			if (o.n_env == CREATE_LIST_MAX)
				return usage_error("at most %d --env", CREATE_LIST_MAX);
			*eq = '\0';
			env[o.n_env].key = optarg;
			env[o.n_env++].value = eq + 1;
			break;
		default: return EXIT_USAGE;
		}
	}
	if (bad)
		return bad;
	if (optind != argc - 1)
		return usage_error("usage: sbx runtime create NAME [--base RUNTIME|IMAGE] "
		    "[--apt PKG]... [--pip PKG]... [--npm PKG]... [--setup CMD]... "
		    "[--env K=V]... [--workdir DIR]");
	o.name = argv[optind];
	return create_run(&o);
}

static int
cmd_runtime_build(int argc, char **argv)
{
	sbx_runtime r;
	sbx_err rv;

	if (argc != 2)
		return usage_error("usage: sbx runtime build NAME");
	if ((rv = sbx_runtime_get(cli, argv[1], &r)) != SBX_OK)
		return fail_call(rv);
	if (r.ready)
		printf("%s is built (image %s)\n", r.name, r.image);
	else
		printf("%s is not built; on the sbxd host run:\n  %s\n", r.name, r.build_command);
	sbx_runtime_fini(&r);
	return 0;
}

int
cmd_runtime(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {
		{ "list", cmd_runtime_list }, { "show", cmd_runtime_show },
		{ "create", cmd_runtime_create }, { "build", cmd_runtime_build },
	};

	if (argc < 2)
		return usage_error("usage: sbx runtime list|show NAME|create NAME ...|build NAME");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0) {
			optind = 0;
			return subs[i].fn(argc - 1, argv + 1);
		}
	return usage_error("unknown runtime command \"%s\"", argv[1]);
}
