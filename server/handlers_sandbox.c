/*
 * handlers_sandbox.c — SandboxService's commands (Execute), and
 * call_sandbox, which every sandbox handler uses to load the caller's
 * session (call_session checks that the credentials reach it), make sure
 * its container runs, and record activity. Files are in handlers_files.c
 * and handlers_transfer.c.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "fsops.h"
#include "lifecycle.h"
#include "log.h"
#include "logbus.h"
#include "runtime.h"
#include "sbx/v1/sbx.pb-c.h"
#include "session.h"

#define COMMAND_MAX (1u << 20)
#define ENV_MAX 256
#define OUTPUT_MAX_CEILING (8u << 20)
#define TOUCH_EVERY_MS 1000

sbxd_code
call_sandbox(struct call *c, const char *id, struct session_row *r)
{
	sbxd_code rv;

	if ((rv = call_session(c, id, r)) != SBXD_OK)
		return rv;
	if ((rv = session_ensure_running(c->srv, r, &c->err)) != SBXD_OK)
		return rv;
	/* Activity is kept to the second: a burst of calls costs one write. */
	if (server_now_ms() - r->last_active_ms >= TOUCH_EVERY_MS) {
		r->last_active_ms = server_now_ms();
		store_session_touch(c->srv->store, r->id, r->last_active_ms, NULL);
	}
	return SBXD_OK;
}

sbxd_code
call_open_workspace(struct call *c, const char *workspace, struct fsops_root *root)
{
	return fsops_root_open(workspace, c->srv->cfg->sandbox_uid, c->srv->cfg->sandbox_gid,
	    root, &c->err);
}

static int
valid_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static sbxd_code
exec_env(struct call *c, Sbx__V1__EnvVar **in, size_t n, const char ***out)
{
	const char **env;

	*out = NULL;
	if (n == 0)
		return SBXD_OK;
	if (n > ENV_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "at most %d environment variables", ENV_MAX);
	if ((env = arena_calloc(c->out, n + 1, sizeof(*env))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!valid_env_name(in[i]->name))
			return err_set(&c->err, SBXD_INVALID_ARGUMENT,
			    "environment variable name \"%.64s\" must match ^[A-Za-z_][A-Za-z0-9_]*$", in[i]->name);
		if ((env[i] = arena_printf(c->out, "%s=%s", in[i]->name, in[i]->value)) == NULL)
			return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	}
	*out = env;
	return SBXD_OK;
}

static sbxd_code
exec_cwd(struct call *c, const char *cwd, const char **out)
{
	if (*cwd == '\0') {
		*out = "/workspace";
		return SBXD_OK;
	}
	if (strlen(cwd) > FSOPS_PATH_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "cwd is longer than %d bytes", FSOPS_PATH_MAX);
	*out = cwd[0] == '/' ? cwd : arena_printf(c->out, "/workspace/%s", cwd);
	return *out ? SBXD_OK : err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
}

/* What to run: argv (n words, run as they are, *line their shell-quoted
 * form for events) or command (run by sh -c, *line the command); one of
 * them, checked. *line and *words are in c->out. */
static sbxd_code
exec_words(struct call *c, const char *command, char **argv, size_t n,
    const char **line, const char *const **words)
{
	const char **v;
	char *l;
	sbxd_code rv;

	*line = command;
	*words = NULL;
	if (n > 0 && command[0] != '\0')
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "give either command "
		    "(a shell line) or argv (words run without a shell), not both");
	if (n == 0) {
		if (command[0] == '\0')
			return err_set(&c->err, SBXD_INVALID_ARGUMENT, "command is "
			    "empty; give command (a shell line) or argv");
		if (strlen(command) > COMMAND_MAX)
			return err_set(&c->err, SBXD_INVALID_ARGUMENT, "command is "
			    "longer than %u bytes; write a script file and run it",
			    COMMAND_MAX);
		return SBXD_OK;
	}
	if ((rv = session_check_argv(argv, n, &c->err)) != SBXD_OK)
		return rv;
	if ((v = arena_calloc(c->out, n + 1, sizeof(*v))) == NULL ||
	    (l = session_argv_line(argv, n)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	memcpy(v, argv, n * sizeof(*v));
	*line = arena_strdup(c->out, l);
	free(l);
	if (*line == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	*words = v;
	return SBXD_OK;
}

/* The default timeout of r's runtime (within the configured ceiling
 * already, runtime.c); the config's default when the runtime is gone (a
 * config line removed since the session was made). */
static uint64_t
runtime_timeout(struct call *c, const struct session_row *r)
{
	struct runtime *rt = malloc(sizeof(*rt));
	uint64_t t = c->srv->cfg->exec_timeout_default_ms;
	struct err e;

	if (rt != NULL && runtime_get(c->srv, r->runtime, rt, &e) == SBXD_OK)
		t = rt->exec_timeout_ms;
	free(rt);
	return t;
}

/* The timeout a command in r gets: asked for (or its runtime's default),
 * within the configured ceiling and the request's own deadline. */
static uint64_t
exec_timeout(struct call *c, uint64_t asked, const struct session_row *r)
{
	const struct config *cfg = c->srv->cfg;
	uint64_t t = asked ? asked : runtime_timeout(c, r);
	int64_t now = server_now_ms();

	if (t > cfg->exec_timeout_max_ms)
		t = cfg->exec_timeout_max_ms;
	if (c->deadline_ms != 0 && c->deadline_ms > (uint64_t)now && c->deadline_ms - (uint64_t)now < t)
		t = c->deadline_ms - (uint64_t)now;
	return t ? t : 1;
}

static void
take_buf(struct call *c, struct buf *b, ProtobufCBinaryData *dst)
{
	dst->len = b->len;
	dst->data = b->len ? arena_memdup(c->out, b->data, b->len) : NULL;
	if (b->len && dst->data == NULL)
		dst->len = 0;
}

/* An Execute's output on the log bus: process id "x<n>", its output as
 * it arrives, and a system event for how it ended. */
struct exec_log {
	struct server *srv;
	const char *session_id;
	char pid[24];
};

static void
exec_output(void *arg, int stream, const void *p, size_t n)
{
	struct exec_log *l = arg;

	logbus_emit(l->srv, l->session_id, l->pid, stream == 2 ? LOGBUS_STDERR : LOGBUS_STDOUT,
	    p, n);
}

static void
exec_log_begin(struct call *c, const struct session_row *r, struct session_exec_args *a,
    struct exec_log *l)
{
	static atomic_uint_fast64_t counter;

	l->srv = c->srv;
	l->session_id = r->id;
	snprintf(l->pid, sizeof(l->pid), "x%llu",
	    (unsigned long long)atomic_fetch_add(&counter, 1) + 1);
	logbus_emitf(c->srv, r->id, l->pid, "started: %.200s", a->command);
	a->on_output = exec_output;
	a->on_output_arg = l;
}

static void
exec_log_end(struct call *c, const struct exec_log *l, sbxd_code rv,
    const struct driver_exec_result *res)
{
	if (rv != SBXD_OK)
		logbus_emitf(c->srv, l->session_id, l->pid, "failed: %s", c->err.msg);
	else if (res->timed_out)
		logbus_emitf(c->srv, l->session_id, l->pid, "timed out after %llu ms; killed",
		    (unsigned long long)res->duration_ms);
	else
		logbus_emitf(c->srv, l->session_id, l->pid, "exited with code %d", res->exit_code);
}

sbxd_code
h_execute(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ExecuteRequest *rq = (const void *)in;
	Sbx__V1__ExecuteResponse *rs = (void *)out;
	struct driver_exec_result res;
	struct session_exec_args a = { 0 };
	struct exec_log xl;
	struct session_row row;
	sbxd_code rv;
	int ended;

	if ((rv = exec_words(c, rq->command, rq->argv, rq->n_argv, &a.command,
	    &a.argv)) != SBXD_OK)
		return rv;
	a.stdin_data = rq->stdin.data;   /* bounded by max_message_bytes */
	a.stdin_len = rq->stdin.len;
	if (rq->max_output_bytes > OUTPUT_MAX_CEILING)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT,
		    "max_output_bytes is at most %u", OUTPUT_MAX_CEILING);
	a.max_output = rq->max_output_bytes ? rq->max_output_bytes : c->srv->cfg->max_output_bytes;
	if ((rv = exec_env(c, rq->env, rq->n_env, (const char ***)&a.env)) != SBXD_OK ||
	    (rv = exec_cwd(c, rq->cwd, &a.cwd)) != SBXD_OK)
		return rv;
	if ((rv = call_session_reach(c, rq->session_id)) != SBXD_OK)
		return rv;
	/* Busy before waking, and before the row is read: a stop under way
	 * is waited out first, so the command never meets a stopped box. */
	lifecycle_busy_enter(c->srv, rq->session_id);
	if ((rv = call_sandbox(c, rq->session_id, &row)) != SBXD_OK) {
		lifecycle_busy_leave(c->srv, rq->session_id);
		return rv;
	}
	a.timeout_ms = exec_timeout(c, rq->timeout_ms, &row);
	memset(&res, 0, sizeof(res));
	exec_log_begin(c, &row, &a, &xl);
	rv = session_exec(c->srv, &row, &a, &res, &c->err);
	exec_log_end(c, &xl, rv, &res);
	ended = lifecycle_busy_leave(c->srv, row.id);
	if (rv == SBXD_OK) {
		rs->session_state = ended ? SBX__V1__SESSION_STATE__SESSION_STATE_ENDED :
		    SBX__V1__SESSION_STATE__SESSION_STATE_RUNNING;
		rs->exit_code = res.exit_code;
		rs->timed_out = res.timed_out;
		rs->truncated = res.truncated;
		rs->duration_ms = res.duration_ms;
		take_buf(c, &res.out, &rs->stdout);
		take_buf(c, &res.err, &rs->stderr);
		take_buf(c, &res.merged, &rs->output);
	}
	driver_exec_result_fini(&res);
	/* the command's end is activity (a long one's idle time starts
	 * there), to the millisecond: capacity stops the least recently used
	 * session, and a command is what makes a session recent. The store
	 * keeps it in memory and writes it within a second (store.c). */
	store_session_touch(c->srv->store, row.id, server_now_ms(), NULL);
	return rv;
}

/* See dispatch.h. */
sbxd_code
call_exec_words(struct call *c, const char *command, char **argv, size_t n,
    const char **line, const char *const **words)
{
	return exec_words(c, command, argv, n, line, words);
}

/* exec_env and exec_cwd for StartProcess (handlers_procs.c). */
sbxd_code
call_exec_env(struct call *c, Sbx__V1__EnvVar **in, size_t n, const char ***out)
{
	return exec_env(c, in, n, out);
}

sbxd_code
call_exec_cwd(struct call *c, const char *cwd, const char **out)
{
	return exec_cwd(c, cwd, out);
}
