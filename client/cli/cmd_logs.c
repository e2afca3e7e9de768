/*
 * cmd_logs.c — `sbx logs` (a session's buffered events, or with -f its
 * live ones as they come) and the live half of `sbx exec --stream`.
 *
 * Plain output: stdout and stderr events are written raw to stdout (so
 * a session's output reads as it was printed), system events as lines
 * "# [process] text", and lost events as "# N events lost ..." on
 * stderr. --json: without -f one object {events, first_available_seq,
 * lost}; with -f one object per event per line (JSON lines), since a
 * follow never ends.
 *
 * exec --stream subscribes before it runs the command, prints the
 * command's output as the events arrive, and recognises its own process
 * by the "started: <command>" event (the first 200 bytes of the command:
 * two identical commands started at once in one session may mix).
 * Whatever the stream did not show by the end (a pub socket that is not
 * reachable from here, say) is printed from Execute's result.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sbx.h"
#include "cli.h"
#include "json_out.h"

#define PAGE 1000
#define STARTED_MAX 200             /* the server names a command by so many bytes */
#define TAIL_WAIT_MS 3000           /* exec --stream: the last events after Execute */

/* ---------------------------------------------------------------- printing events */

/* A watch event's changes as "# [w1] created 12 /workspace/a" lines. */
static void
print_watch(const sbx_log_event *ev)
{
	static const char *kinds[] = { "?", "created", "modified", "deleted", "moved", "rescan" };
	sbx_watch_event *v;
	size_t n;

	if (sbx_watch_events_decode(ev, &v, &n) != SBX_OK) {
		printf("# [%s] (a watch event that does not decode)\n", ev->process_id);
		return;
	}
	for (size_t i = 0; i < n; i++)
		printf("# [%s] %s %llu %s%s%s\n", ev->process_id,
		    kinds[v[i].kind <= 5 ? v[i].kind : 0], (unsigned long long)v[i].size,
		    v[i].kind == SBX_WATCH_MOVED ? (char *)v[i].from.data : "",
		    v[i].kind == SBX_WATCH_MOVED ? " -> " : "", (char *)v[i].path.data);
	sbx_watch_events_free(v, n);
}

static void
print_event(const sbx_log_event *ev)
{
	if (ev->lost > 0)
		fprintf(stderr, "# %llu events lost (they left the server's replay window)\n",
		    (unsigned long long)ev->lost);
	if (cli_json) {
		struct jw w;

		json_begin(&w);
		jw_u64(&w, "seq", ev->seq);
		jw_str(&w, "process_id", ev->process_id);
		jw_str(&w, "stream", ev->stream == SBX_STREAM_STDOUT ? "stdout" :
		    ev->stream == SBX_STREAM_STDERR ? "stderr" :
		    ev->stream == SBX_STREAM_TERMINAL ? "terminal" :
		    ev->stream == SBX_STREAM_WATCH ? "watch" : "system");
		jw_bytes(&w, "data", ev->data, ev->len);
		jw_u64(&w, "unix_ms", ev->unix_ms);
		jw_u64(&w, "lost", ev->lost);
		json_end(&w);
		return;
	}
	if (ev->stream == SBX_STREAM_SYSTEM)
		printf("# [%s] %.*s\n", *ev->process_id ? ev->process_id : "session",
		    (int)ev->len, (const char *)ev->data);
	else if (ev->stream == SBX_STREAM_WATCH)
		print_watch(ev);
	else
		fwrite(ev->data, 1, ev->len, stdout);
	fflush(stdout);
}

static int
logs_flags(int argc, char **argv, uint64_t *after, int *follow)
{
	static const struct option lo[] = {
		{ "after", required_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "f", lo, NULL)) != -1) {
		if (ch == 'a' && parse_u64(optarg, after) != 0)
			return usage_error("--after wants a sequence number");
		if (ch == 'f')
			*follow = 1;
		if (ch == '?')
			return EXIT_USAGE;
	}
	if (optind != argc - 1)
		return usage_error("usage: sbx logs [-f] [--after N] ID");
	return 0;
}

/* Prints the buffered events after `after`, page by page. */
static int
logs_read(const char *id, uint64_t after)
{
	sbx_log_batch b;
	struct jw w;
	uint64_t first = 0, lost = 0;
	int first_page = 1;
	sbx_err rv;

	if (cli_json) {
		json_begin(&w);
		jw_arr_begin(&w, "events");
	}
	do {
		if ((rv = sbx_read_logs(cli, id, after, PAGE, &b)) != SBX_OK)
			return fail_call(rv);
		if (first_page) {
			first = b.first_available_seq;
			lost = b.lost;
			if (lost > 0 && !cli_json)
				fprintf(stderr, "# %llu events lost (they left the server's replay "
				    "window; the oldest kept is %llu)\n", (unsigned long long)lost,
				    (unsigned long long)first);
			first_page = 0;
		}
		for (size_t i = 0; i < b.n; i++) {
			const sbx_log_event *ev = &b.events[i];

			if (cli_json) {
				jw_obj_begin(&w, NULL);
				jw_u64(&w, "seq", ev->seq);
				jw_str(&w, "process_id", ev->process_id);
				jw_str(&w, "stream", ev->stream == SBX_STREAM_STDOUT ? "stdout" :
				    ev->stream == SBX_STREAM_STDERR ? "stderr" : "system");
				jw_bytes(&w, "data", ev->data, ev->len);
				jw_u64(&w, "unix_ms", ev->unix_ms);
				jw_obj_end(&w);
			} else
				print_event(ev);
			after = ev->seq;
		}
		rv = b.n == 0 ? SBX_CANCELLED : SBX_OK;
		sbx_log_batch_fini(&b);
	} while (rv == SBX_OK);
	if (cli_json) {
		jw_arr_end(&w);
		jw_u64(&w, "first_available_seq", first);
		jw_u64(&w, "lost", lost);
		json_end(&w);
	}
	return 0;
}

/* Follows the session until interrupted or the subscription fails. */
static int
logs_follow(const char *id, uint64_t after)
{
	sbx_logs_sub *sub = NULL;
	sbx_log_event ev;
	sbx_err rv;

	if ((rv = sbx_logs_subscribe(cli, id, after, NULL, NULL, &sub)) != SBX_OK)
		return fail_call(rv);
	for (;;) {
		rv = sbx_logs_next(sub, &ev, -1);
		if (rv != SBX_OK)
			break;
		print_event(&ev);
		sbx_log_event_fini(&ev);
	}
	fprintf(stderr, "sbx: %s: %s\n", sbx_err_name(rv), sbx_last_error(cli));
	sbx_logs_unsubscribe(sub);
	return EXIT_FAIL;
}

int
cmd_logs(int argc, char **argv)
{
	uint64_t after = 0;
	int follow = 0, ret;

	if ((ret = logs_flags(argc, argv, &after, &follow)) != 0)
		return ret;
	return follow ? logs_follow(argv[optind], after) : logs_read(argv[optind], after);
}

/* ---------------------------------------------------------------- exec --stream */

struct stream {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *command;
	char pid[64];               /* ours, once its "started" event came */
	size_t shown[3];            /* bytes written per stream (1, 2) */
	int done;                   /* its exit event came */
};

static void
on_stream_event(void *arg, const sbx_log_event *ev)
{
	struct stream *st = arg;

	pthread_mutex_lock(&st->mu);
	if (st->pid[0] == '\0' && ev->stream == SBX_STREAM_SYSTEM &&
	    strncmp((const char *)ev->data, "started: ", 9) == 0 &&
	    strncmp((const char *)ev->data + 9, st->command, STARTED_MAX) == 0)
		snprintf(st->pid, sizeof(st->pid), "%s", ev->process_id);
	else if (st->pid[0] != '\0' && strcmp(ev->process_id, st->pid) == 0) {
		if (ev->stream == SBX_STREAM_SYSTEM) {
			st->done = 1;
			pthread_cond_broadcast(&st->cv);
		} else {
			fwrite(ev->data, 1, ev->len, ev->stream == SBX_STREAM_STDERR ? stderr : stdout);
			fflush(ev->stream == SBX_STREAM_STDERR ? stderr : stdout);
			st->shown[ev->stream] += ev->len;
		}
	}
	pthread_mutex_unlock(&st->mu);
}

/* Waits (bounded) for the exit event after Execute returned. */
static void
wait_done(struct stream *st)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += TAIL_WAIT_MS / 1000;
	pthread_mutex_lock(&st->mu);
	while (!st->done && pthread_cond_timedwait(&st->cv, &st->mu, &until) == 0)
		;
	pthread_mutex_unlock(&st->mu);
}

/* Prints what the stream has not shown of r's buffered output. */
static void
show_rest(const struct stream *st, const sbx_exec_result *r)
{
	if (st->shown[1] < r->out.len)
		fwrite(r->out.data + st->shown[1], 1, r->out.len - st->shown[1], stdout);
	if (st->shown[2] < r->err.len)
		fwrite(r->err.data + st->shown[2], 1, r->err.len - st->shown[2], stderr);
	fflush(stdout);
}

sbx_err
cli_exec_stream(const char *id, const sbx_exec_opts *o, sbx_exec_result *r)
{
	struct cli_command cmd = { .line = o->command, .argv = o->argv,
	    .argc = o->argc };
	struct stream st = { .command = NULL };
	sbx_logs_sub *sub = NULL;
	char *line;
	sbx_err rv;

	/* Ours is the exec whose "started" event shows our command. */
	if ((line = cli_command_line(&cmd)) == NULL)
		return SBX_RESOURCE_EXHAUSTED;
	st.command = line;

	pthread_mutex_init(&st.mu, NULL);
	pthread_cond_init(&st.cv, NULL);
	if (sbx_logs_subscribe(cli, id, SBX_LOGS_NOW, on_stream_event, &st, &sub) != SBX_OK)
		fprintf(stderr, "sbx: note: cannot stream the output (%s); it follows at the end\n",
		    sbx_last_error(cli));
	rv = sbx_exec(cli, id, o, r);
	if (rv == SBX_OK && sub != NULL)
		wait_done(&st);
	sbx_logs_unsubscribe(sub);
	if (rv == SBX_OK)
		show_rest(&st, r);
	pthread_mutex_destroy(&st.mu);
	pthread_cond_destroy(&st.cv);
	free(line);
	return rv;
}
