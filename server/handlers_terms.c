/*
 * handlers_terms.c — SandboxService's terminal calls: OpenTerminal,
 * TerminalInput, ResizeTerminal, CloseTerminal and ListTerminals. Each
 * checks its fields and the caller's reach to the session (call_session),
 * then hands over to terms.c, which only ever looks a terminal id up
 * within that session.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_wire.h"
#include "dispatch.h"
#include "lifecycle.h"
#include "sbx/v1/sbx.pb-c.h"
#include "session.h"
#include "terms.h"

#define TOUCH_EVERY_MS 1000
#define DEFAULT_TERM "TERM=xterm-256color"

static sbxd_code
check_size(struct call *c, uint32_t cols, uint32_t rows)
{
	if (cols < 1 || cols > AGENT_TERM_COLS_MAX || rows < 1 || rows > AGENT_TERM_ROWS_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "terminal size %ux%u is out "
		    "of range; give 1..%d columns and 1..%d rows", cols, rows,
		    AGENT_TERM_COLS_MAX, AGENT_TERM_ROWS_MAX);
	return SBXD_OK;
}

static int
valid_terminal_id(const char *id)
{
	size_t n = strlen(id);

	return n >= 2 && n < TERMS_ID_MAX && id[0] == 't' &&
	    strspn(id + 1, "0123456789") == n - 1;
}

/* The session the caller reaches, with a well-formed terminal id (when
 * id is not NULL); typing and resizing are activity of the session. */
static sbxd_code
term_session(struct call *c, const char *session_id, const char *id, struct session_row *r)
{
	int64_t now;
	sbxd_code rv;

	if ((rv = call_session(c, session_id, r)) != SBXD_OK)
		return rv;
	if (id != NULL && !valid_terminal_id(id))
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "terminal_id \"%.32s\" is "
		    "missing or malformed; use the id OpenTerminal returned", id);
	now = server_now_ms();
	if (r->state == SESSION_RUNNING && now - r->last_active_ms >= TOUCH_EVERY_MS)
		store_session_touch(c->srv->store, r->id, now, NULL);
	return SBXD_OK;
}

static Sbx__V1__TerminalInfo *
info_msg(struct call *c, const struct terms_info *info)
{
	Sbx__V1__TerminalInfo *m = arena_alloc(c->out, sizeof(*m));

	if (m == NULL)
		return NULL;
	sbx__v1__terminal_info__init(m);
	if ((m->terminal_id = arena_strdup(c->out, info->id)) == NULL ||
	    (m->command = arena_strdup(c->out, info->command ? info->command : "")) == NULL)
		return NULL;
	m->cols = info->cols;
	m->rows = info->rows;
	m->running = info->running;
	m->exit_code = info->exit_code;
	m->started_unix_ms = (uint64_t)info->started_ms;
	m->ended_unix_ms = (uint64_t)info->ended_ms;
	m->pid = info->pid;
	m->after_seq = info->after_seq;
	return m;
}

static sbxd_code
set_info(struct call *c, const struct terms_info *info, Sbx__V1__TerminalInfo **dst)
{
	if ((*dst = info_msg(c, info)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	return SBXD_OK;
}

/* env with TERM=xterm-256color added when it has no TERM (in c->out). */
static sbxd_code
with_term(struct call *c, const char **env, const char ***out)
{
	size_t n = 0;
	const char **v;

	*out = env;
	for (; env != NULL && env[n] != NULL; n++)
		if (strncmp(env[n], "TERM=", 5) == 0)
			return SBXD_OK;
	if ((v = arena_calloc(c->out, n + 2, sizeof(*v))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	if (n > 0)
		memcpy(v, env, n * sizeof(*v));
	v[n] = DEFAULT_TERM;
	*out = v;
	return SBXD_OK;
}

sbxd_code
h_open_terminal(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__OpenTerminalRequest *rq = (const void *)in;
	Sbx__V1__OpenTerminalResponse *rs = (void *)out;
	struct terms_open_args a = { .command = "", .cols = rq->cols, .rows = rq->rows };
	struct terms_info info = { .command = NULL };
	const char **env = NULL;
	struct session_row row;
	sbxd_code rv;

	if ((rv = check_size(c, rq->cols, rq->rows)) ||
	    (rq->n_argv > 0 && (rv = call_exec_words(c, "", rq->argv, rq->n_argv,
	    &a.command, &a.argv))) ||
	    (rv = call_exec_env(c, rq->env, rq->n_env, &env)) ||
	    (rv = with_term(c, env, (const char ***)&a.env)) ||
	    (rv = call_exec_cwd(c, rq->cwd, &a.cwd)) ||
	    (rv = call_session(c, rq->session_id, &row)))
		return rv;
	/* busy while it starts, so the reaper does not stop what it wakes */
	lifecycle_busy_enter(c->srv, row.id);
	if ((rv = call_sandbox(c, rq->session_id, &row)) == SBXD_OK)
		rv = terms_start(c->srv, &row, &a, &info, &c->err);
	lifecycle_busy_leave(c->srv, row.id);
	if (rv != SBXD_OK)
		return rv;
	rv = set_info(c, &info, &rs->terminal);
	terms_info_fini(&info);
	return rv;
}

sbxd_code
h_terminal_input(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__TerminalInputRequest *rq = (const void *)in;
	struct session_row row;
	sbxd_code rv;

	(void)out;
	if (rq->data.len > TERMS_INPUT_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "data is %zu bytes; send at "
		    "most %u per call", rq->data.len, TERMS_INPUT_MAX);
	if ((rv = term_session(c, rq->session_id, rq->terminal_id, &row)) != SBXD_OK)
		return rv;
	return terms_input(c->srv, row.id, rq->terminal_id, rq->data.data, rq->data.len,
	    &c->err);
}

sbxd_code
h_resize_terminal(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ResizeTerminalRequest *rq = (const void *)in;
	struct session_row row;
	sbxd_code rv;

	(void)out;
	if ((rv = check_size(c, rq->cols, rq->rows)) != SBXD_OK ||
	    (rv = term_session(c, rq->session_id, rq->terminal_id, &row)) != SBXD_OK)
		return rv;
	return terms_resize(c->srv, row.id, rq->terminal_id, rq->cols, rq->rows, &c->err);
}

sbxd_code
h_close_terminal(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__CloseTerminalRequest *rq = (const void *)in;
	Sbx__V1__CloseTerminalResponse *rs = (void *)out;
	struct terms_info info = { .command = NULL };
	struct session_row row;
	sbxd_code rv;

	if ((rv = term_session(c, rq->session_id, rq->terminal_id, &row)) != SBXD_OK ||
	    (rv = terms_kill(c->srv, row.id, rq->terminal_id, &info, &c->err)) != SBXD_OK)
		return rv;
	rv = set_info(c, &info, &rs->terminal);
	terms_info_fini(&info);
	return rv;
}

sbxd_code
h_list_terminals(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ListTerminalsRequest *rq = (const void *)in;
	Sbx__V1__ListTerminalsResponse *rs = (void *)out;
	struct terms_info *v = NULL;
	struct session_row row;
	size_t n = 0;
	sbxd_code rv;

	if ((rv = call_session(c, rq->session_id, &row)) != SBXD_OK ||
	    (rv = terms_list(c->srv, row.id, &v, &n, &c->err)) != SBXD_OK)
		return rv;
	if (n > 0 && (rs->terminals = arena_calloc(c->out, n, sizeof(*rs->terminals))) == NULL)
		rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; rv == SBXD_OK && i < n; i++)
		rv = set_info(c, &v[i], &rs->terminals[i]);
	if (rv == SBXD_OK)
		rs->n_terminals = n;
	terms_infos_free(v, n);
	return rv;
}
