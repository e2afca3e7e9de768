/*
 * cmd_snapshot.c — `sbx snapshot create|list|show|rm`: the snapshot calls
 * of SessionService through libsbx, printed as aligned text or, with
 * --json, one JSON object.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbx.h"
#include "cli.h"
#include "json_out.h"

#define LABELS_MAX 16

static void
json_snapshot(struct jw *w, const char *key, const sbx_snapshot *s)
{
	jw_obj_begin(w, key);
	jw_str(w, "snapshot_id", s->snapshot_id);
	jw_str(w, "name", s->name);
	jw_str(w, "user_id", s->user_id);
	jw_str(w, "session_id", s->session_id);
	jw_str(w, "runtime", s->runtime);
	jw_str(w, "image", s->image);
	jw_u64(w, "created_unix_ms", s->created_unix_ms);
	jw_u64(w, "frozen_ms", s->frozen_ms);
	jw_u64(w, "workspace_bytes", s->workspace_bytes);
	jw_u64(w, "layer_bytes", s->layer_bytes);
	jw_arr_begin(w, "kept");
	jw_str(w, NULL, "workspace");
	if (s->kept_rootfs)
		jw_str(w, NULL, "rootfs");
	jw_arr_end(w);
	jw_obj_begin(w, "labels");
	for (size_t i = 0; i < s->n_labels; i++)
		jw_str(w, s->labels[i].key, s->labels[i].value);
	jw_obj_end(w);
	jw_obj_end(w);
}

static void
print_snapshot(const sbx_snapshot *s)
{
	char created[32] = "-";
	time_t t = (time_t)(s->created_unix_ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("snapshot_id     %s\nname            %s\nuser_id         %s\n"
	    "session_id      %s\nruntime         %s\ncreated         %s\n"
	    "frozen_ms       %llu\nworkspace_bytes %llu\nlayer_bytes     %llu\n"
	    "kept            workspace%s\nimage           %s\nlabels         ",
	    s->snapshot_id, *s->name ? s->name : "-", s->user_id, s->session_id,
	    s->runtime, created, (unsigned long long)s->frozen_ms,
	    (unsigned long long)s->workspace_bytes, (unsigned long long)s->layer_bytes,
	    s->kept_rootfs ? ",rootfs" : "", *s->image ? s->image : "-");
	for (size_t i = 0; i < s->n_labels; i++)
		printf(" %s=%s", s->labels[i].key, s->labels[i].value);
	printf("\n");
}

static int
one(const sbx_snapshot *s, int brief)
{
	if (cli_json) {
		struct jw w;

		json_begin(&w);
		json_snapshot(&w, "snapshot", s);
		json_end(&w);
	} else if (brief)
		printf("%s\n", s->snapshot_id);
	else
		print_snapshot(s);
	return 0;
}

static int
snap_create(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "label", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	sbx_label labels[LABELS_MAX];
	size_t nl = 0;
	const char *name = NULL;
	sbx_snapshot s;
	sbx_err rv;
	int ch, ret;
	char *eq;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'n')
			name = optarg;
		else if (ch == 'l') {
			if (nl == LABELS_MAX)
				return usage_error("at most %d labels", LABELS_MAX);
			if ((eq = strchr(optarg, '=')) == NULL || eq == optarg)
				return usage_error("--label wants KEY=VALUE");
			*eq = '\0';
			labels[nl++] = (sbx_label){ optarg, eq + 1 };
		} else
			return EXIT_USAGE;
	}
	if (optind != argc - 1)
		return usage_error("usage: sbx snapshot create SESSION [--name N] [--label k=v]...");
	if ((rv = sbx_snapshot_create(cli, argv[optind], name, labels, nl, &s)) != SBX_OK)
		return fail_call(rv);
	ret = one(&s, 1);
	if (!cli_json)
		fprintf(stderr, "sbx: frozen %llu ms; kept workspace%s\n",
		    (unsigned long long)s.frozen_ms, s.kept_rootfs ? " and container layer" : "");
	sbx_snapshot_fini(&s);
	return ret;
}

static int
snap_list(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "session", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *user = NULL, *session = NULL;
	sbx_snapshot *v;
	size_t n;
	sbx_err rv;
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'u')
			user = optarg;
		else if (ch == 's')
			session = optarg;
		else
			return EXIT_USAGE;
	}
	if (optind != argc)
		return usage_error("usage: sbx snapshot list [--user U] [--session S]");
	if ((rv = sbx_snapshot_list(cli, user, session, &v, &n)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;

		json_begin(&w);
		jw_arr_begin(&w, "snapshots");
		for (size_t i = 0; i < n; i++)
			json_snapshot(&w, NULL, &v[i]);
		jw_arr_end(&w);
		json_end(&w);
	} else
		for (size_t i = 0; i < n; i++)
			printf("%-22s %-20s %-16s %-36s %12llu %s\n", v[i].snapshot_id,
			    *v[i].name ? v[i].name : "-", v[i].user_id, v[i].session_id,
			    (unsigned long long)(v[i].workspace_bytes + v[i].layer_bytes),
			    v[i].kept_rootfs ? "workspace,rootfs" : "workspace");
	sbx_snapshot_list_free(v, n);
	return 0;
}

static int
snap_show(int argc, char **argv)
{
	sbx_snapshot s;
	sbx_err rv;
	int ret;

	if (argc != 2)
		return usage_error("usage: sbx snapshot show ID");
	if ((rv = sbx_snapshot_get(cli, argv[1], &s)) != SBX_OK)
		return fail_call(rv);
	ret = one(&s, 0);
	sbx_snapshot_fini(&s);
	return ret;
}

static int
snap_rm(int argc, char **argv)
{
	sbx_err rv;

	if (argc < 2)
		return usage_error("usage: sbx snapshot rm ID...");
	for (int i = 1; i < argc; i++)
		if ((rv = sbx_snapshot_delete(cli, argv[i])) != SBX_OK)
			return fail_call(rv);
	if (cli_json) {
		struct jw w;

		json_begin(&w);
		jw_arr_begin(&w, "deleted");
		for (int i = 1; i < argc; i++)
			jw_str(&w, NULL, argv[i]);
		jw_arr_end(&w);
		json_end(&w);
	}
	return 0;
}

int
cmd_snapshot(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("usage: sbx snapshot create|list|show|rm ...");
	argc--;
	argv++;
	if (strcmp(argv[0], "create") == 0)
		return snap_create(argc, argv);
	if (strcmp(argv[0], "list") == 0)
		return snap_list(argc, argv);
	if (strcmp(argv[0], "show") == 0)
		return snap_show(argc, argv);
	if (strcmp(argv[0], "rm") == 0)
		return snap_rm(argc, argv);
	return usage_error("unknown snapshot command \"%s\"", argv[0]);
}
