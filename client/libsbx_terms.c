/*
 * libsbx_terms.c — the terminal calls of libsbx: sbx_terminal_open,
 * _input, _resize, _close and _list. Output is read with the log calls
 * (libsbx_logs.c): a terminal's events carry its id as process_id.
 */
#include <stdlib.h>
#include <string.h>

#include "libsbx_int.h"

#define DEFAULT_COLS 80
#define DEFAULT_ROWS 24
#define CLOSE_TIMEOUT_MS 60000         /* the server waits up to 30 s per close */

void
sbx_terminal_fini(sbx_terminal *t)
{
	if (t == NULL)
		return;
	free(t->command);
	memset(t, 0, sizeof(*t));
}

void
sbx_terminal_list_free(sbx_terminal *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		sbx_terminal_fini(&v[i]);
	free(v);
}

static sbx_err
terminal_from_wire(sbx_client *c, const Sbx__V1__TerminalInfo *m, sbx_terminal *out)
{
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	if (m == NULL)
		return sbxi_fail(c, SBX_INTERNAL, "the server's reply has no terminal");
	if ((rv = sbxi_id_from_wire(c, "terminal", m->terminal_id, out->terminal_id,
	    sizeof(out->terminal_id))) != SBX_OK)
		return rv;
	if ((out->command = strdup(m->command)) == NULL)
		return sbxi_oom(c);
	out->cols = m->cols;
	out->rows = m->rows;
	out->running = m->running;
	out->exit_code = m->exit_code;
	out->started_unix_ms = m->started_unix_ms;
	out->ended_unix_ms = m->ended_unix_ms;
	out->pid = m->pid;
	out->after_seq = m->after_seq;
	return SBX_OK;
}

/* The checks every call on one terminal starts with. */
static sbx_err
check_terminal(sbx_client *c, const char *session_id, const char *terminal_id)
{
	sbxi_clear_err(c);
	return sbxi_check_in_session(c, session_id, "terminal_id", terminal_id);
}

sbx_err
sbx_terminal_open(sbx_client *c, const char *session_id, const sbx_terminal_opts *opts,
    sbx_terminal *out)
{
	static const sbx_terminal_opts none;
	Sbx__V1__OpenTerminalRequest req = SBX__V1__OPEN_TERMINAL_REQUEST__INIT;
	Sbx__V1__OpenTerminalResponse *resp = NULL;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	if (opts == NULL)
		opts = &none;
	if (opts->argc > 0 &&
	    (rv = sbxi_check_command(c, NULL, opts->argv, opts->argc)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.n_argv = opts->argc;
	req.argv = (char **)opts->argv;
	req.cols = opts->cols ? opts->cols : DEFAULT_COLS;
	req.rows = opts->rows ? opts->rows : DEFAULT_ROWS;
	req.cwd = (char *)(opts->cwd ? opts->cwd : "");
	req.n_env = opts->n_env;
	if ((rv = sbxi_env_to_wire(c, opts->env, opts->n_env, &req.env)) == SBX_OK)
		rv = CALL(c, SVC_SANDBOX "OpenTerminal", 0, &req,
		    sbx__v1__open_terminal_response, &resp);
	sbxi_env_free(req.env, opts->n_env);
	if (rv == SBX_OK)
		rv = terminal_from_wire(c, resp->terminal, out);
	if (resp != NULL)
		sbx__v1__open_terminal_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_terminal_input(sbx_client *c, const char *session_id, const char *terminal_id,
    const void *data, size_t len)
{
	Sbx__V1__TerminalInputRequest req = SBX__V1__TERMINAL_INPUT_REQUEST__INIT;
	sbx_err rv;

	if ((rv = check_terminal(c, session_id, terminal_id)) != SBX_OK)
		return rv;
	if (data == NULL && len > 0)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "len %zu but data is NULL", len);
	req.session_id = (char *)session_id;
	req.terminal_id = (char *)terminal_id;
	req.data.data = (uint8_t *)data;
	req.data.len = len;
	return CALL(c, SVC_SANDBOX "TerminalInput", 0, &req,
	    sbx__v1__terminal_input_response, NULL);
}

sbx_err
sbx_terminal_resize(sbx_client *c, const char *session_id, const char *terminal_id,
    uint32_t cols, uint32_t rows)
{
	Sbx__V1__ResizeTerminalRequest req = SBX__V1__RESIZE_TERMINAL_REQUEST__INIT;
	sbx_err rv;

	if ((rv = check_terminal(c, session_id, terminal_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.terminal_id = (char *)terminal_id;
	req.cols = cols;
	req.rows = rows;
	return CALL(c, SVC_SANDBOX "ResizeTerminal", 0, &req,
	    sbx__v1__resize_terminal_response, NULL);
}

sbx_err
sbx_terminal_close(sbx_client *c, const char *session_id, const char *terminal_id,
    sbx_terminal *out)
{
	Sbx__V1__CloseTerminalRequest req = SBX__V1__CLOSE_TERMINAL_REQUEST__INIT;
	Sbx__V1__CloseTerminalResponse *resp = NULL;
	int tmo = sbxi_timeout_ms(c);
	sbx_err rv;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if ((rv = check_terminal(c, session_id, terminal_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.terminal_id = (char *)terminal_id;
	if (tmo > 0 && tmo < CLOSE_TIMEOUT_MS)
		tmo = CLOSE_TIMEOUT_MS;
	if ((rv = CALL(c, SVC_SANDBOX "CloseTerminal", tmo, &req,
	    sbx__v1__close_terminal_response, &resp)) != SBX_OK)
		return rv;
	if (out != NULL)
		rv = terminal_from_wire(c, resp->terminal, out);
	sbx__v1__close_terminal_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_terminal_list(sbx_client *c, const char *session_id, sbx_terminal **out, size_t *n)
{
	Sbx__V1__ListTerminalsRequest req = SBX__V1__LIST_TERMINALS_REQUEST__INIT;
	Sbx__V1__ListTerminalsResponse *resp = NULL;
	sbx_terminal *v = NULL;
	size_t i = 0;
	sbx_err rv;

	*out = NULL;
	*n = 0;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	if ((rv = CALL(c, SVC_SANDBOX "ListTerminals", 0, &req,
	    sbx__v1__list_terminals_response, &resp)) != SBX_OK)
		return rv;
	if (resp->n_terminals > 0 && (v = calloc(resp->n_terminals, sizeof(*v))) == NULL)
		rv = sbxi_oom(c);
	for (; rv == SBX_OK && i < resp->n_terminals; i++)
		rv = terminal_from_wire(c, resp->terminals[i], &v[i]);
	sbx__v1__list_terminals_response__free_unpacked(resp, NULL);
	if (rv != SBX_OK) {
		sbx_terminal_list_free(v, i);
		return rv;
	}
	*out = v;
	*n = i;
	return SBX_OK;
}
