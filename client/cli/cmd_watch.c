/*
 * cmd_watch.c — `sbx watch`: a directory's changes in the sandbox, live,
 * one line each ("created 12 /workspace/a.txt", "moved 12 /a -> /b",
 * "rescan /workspace" when events were lost), or with --json one object
 * per change per line. It runs until the watch ends (its directory goes,
 * the session ends) or SIGINT/SIGTERM, which end the watch first.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"
#include "sbx.h"

#define GLOBS_MAX 16

static volatile sig_atomic_t stop;

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *
kind_name(sbx_watch_kind k)
{
	switch (k) {
	case SBX_WATCH_CREATED: return "created";
	case SBX_WATCH_MODIFIED: return "modified";
	case SBX_WATCH_DELETED: return "deleted";
	case SBX_WATCH_MOVED: return "moved";
	case SBX_WATCH_RESCAN: return "rescan";
	}
	return "unknown";
}

static void
print_change(const sbx_watch_event *w)
{
	if (cli_json) {
		struct jw j;

		json_begin(&j);
		jw_str(&j, "kind", kind_name(w->kind));
		jw_bytes(&j, "path", w->path.data, w->path.len);
		if (w->kind == SBX_WATCH_MOVED)
			jw_bytes(&j, "from", w->from.data, w->from.len);
		jw_u64(&j, "size", w->size);
		jw_u64(&j, "mtime_unix_ns", (uint64_t)w->mtime_unix_ns);
		jw_bool(&j, "is_dir", w->is_dir);
		json_end(&j);
		return;
	}
	if (w->kind == SBX_WATCH_RESCAN)
		printf("rescan %s\n", (char *)w->path.data);
	else if (w->kind == SBX_WATCH_MOVED)
		printf("moved %llu %s -> %s%s\n", (unsigned long long)w->size,
		    (char *)w->from.data, (char *)w->path.data, w->is_dir ? "/" : "");
	else
		printf("%s %llu %s%s\n", kind_name(w->kind), (unsigned long long)w->size,
		    (char *)w->path.data, w->is_dir ? "/" : "");
	fflush(stdout);
}

int
cmd_watch(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "recursive", no_argument, NULL, 'r' },
		{ "glob", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	const char *globs[GLOBS_MAX];
	sbx_watch_opts o = { .globs = globs };
	char id[SBX_WATCH_ID_MAX];
	sbx_logs_opts so = { .queue_events = 4096 };
	sbx_logs_sub *sub = NULL;
	sbx_log_event ev;
	sbx_watch_event *v;
	const char *sid;
	int ch, status = 0;
	size_t n;
	sbx_err rv;

	while ((ch = getopt_long(argc, argv, "rg:", lo, NULL)) != -1) {
		if (ch == 'r')
			o.recursive = 1;
		else if (ch == 'g' && o.n_globs == GLOBS_MAX)
			return usage_error("at most %d --glob", GLOBS_MAX);
		else if (ch == 'g')
			globs[o.n_globs++] = optarg;
		else
			return EXIT_USAGE;
	}
	if (argc - optind < 1 || argc - optind > 2)
		return usage_error("usage: sbx watch [-r] [--glob G]... ID [PATH]");
	sid = argv[optind];
	o.path = argc - optind == 2 ? argv[optind + 1] : NULL;
	if ((rv = sbx_watch_start(cli, sid, &o, id, &so.after_seq)) != SBX_OK)
		return fail_call(rv);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	if ((rv = sbx_logs_subscribe_opts(cli, sid, &so, &sub)) != SBX_OK) {
		status = fail_call(rv);
		goto out;
	}
	if (!cli_json)
		fprintf(stderr, "sbx: watching as %s (Ctrl-C ends it)\n", id);
	while (!stop) {
		if ((rv = sbx_logs_next(sub, &ev, 200)) == SBX_DEADLINE_EXCEEDED)
			continue;
		if (rv != SBX_OK) {
			status = fail_call(rv);
			break;
		}
		if (strcmp(ev.process_id, id) == 0 && ev.stream == SBX_STREAM_WATCH &&
		    sbx_watch_events_decode(&ev, &v, &n) == SBX_OK) {
			for (size_t i = 0; i < n; i++)
				print_change(&v[i]);
			sbx_watch_events_free(v, n);
		} else if (strcmp(ev.process_id, id) == 0 && ev.stream == SBX_STREAM_SYSTEM) {
			fprintf(stderr, "sbx: %.*s\n", (int)ev.len, (char *)ev.data);
			stop = 2;
		}
		sbx_log_event_fini(&ev);
	}
out:
	sbx_logs_unsubscribe(sub);
	if (stop != 2 && (rv = sbx_watch_stop(cli, sid, id)) != SBX_OK && status == 0)
		status = fail_call(rv);
	return status;
}
