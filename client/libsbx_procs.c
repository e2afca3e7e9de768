/*
 * libsbx_procs.c — the background process calls of libsbx:
 * sbx_process_start, _list, _wait, _signal, _send_stdin, _close_stdin and
 * _read_output. Waits longer than the server's ceiling on one wait are
 * made of several calls, each with a call timeout that outlasts it.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libsbx_int.h"

#define WAIT_SLICE_MS 60000            /* asked per call; the server may cut it */
#define WAIT_GRACE_MS 30000            /* call deadline beyond a wait */

void
sbx_process_fini(sbx_process *p)
{
	if (p == NULL)
		return;
	free(p->command);
	memset(p, 0, sizeof(*p));
}

void
sbx_process_list_free(sbx_process *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		sbx_process_fini(&v[i]);
	free(v);
}

static sbx_err
process_from_wire(sbx_client *c, const Sbx__V1__ProcessInfo *m, sbx_process *out)
{
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	if (m == NULL)
		return sbxi_fail(c, SBX_INTERNAL, "the server's reply has no process");
	if ((rv = sbxi_id_from_wire(c, "process", m->process_id, out->process_id,
	    sizeof(out->process_id))) != SBX_OK)
		return rv;
	if ((out->command = strdup(m->command)) == NULL)
		return sbxi_oom(c);
	out->state = (sbx_process_state)m->state;
	out->exit_code = m->exit_code;
	out->started_unix_ms = m->started_unix_ms;
	out->ended_unix_ms = m->ended_unix_ms;
	out->pid = m->pid;
	return SBX_OK;
}


/* The checks every call on one process starts with. */
static sbx_err
check_process(sbx_client *c, const char *session_id, const char *process_id)
{
	sbxi_clear_err(c);
	return sbxi_check_in_session(c, session_id, "process_id", process_id);
}

sbx_err
sbx_process_start(sbx_client *c, const char *session_id,
    const sbx_process_opts *opts, sbx_process *out)
{
	Sbx__V1__StartProcessRequest req = SBX__V1__START_PROCESS_REQUEST__INIT;
	Sbx__V1__StartProcessResponse *resp = NULL;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	if (opts == NULL)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "a command is required");
	if ((rv = sbxi_check_command(c, opts->command, opts->argv, opts->argc))
	    != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.command = (char *)(opts->argc > 0 ? "" : opts->command);
	req.n_argv = opts->argc;
	req.argv = (char **)opts->argv;
	req.cwd = (char *)(opts->cwd ? opts->cwd : "");
	req.n_env = opts->n_env;
	if ((rv = sbxi_env_to_wire(c, opts->env, opts->n_env, &req.env)) == SBX_OK)
		rv = CALL(c, SVC_SANDBOX "StartProcess", 0, &req,
		    sbx__v1__start_process_response, &resp);
	sbxi_env_free(req.env, opts->n_env);
	if (rv == SBX_OK)
		rv = process_from_wire(c, resp->process, out);
	if (resp != NULL)
		sbx__v1__start_process_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_process_list(sbx_client *c, const char *session_id, sbx_process **out,
    size_t *n)
{
	Sbx__V1__ListProcessesRequest req = SBX__V1__LIST_PROCESSES_REQUEST__INIT;
	Sbx__V1__ListProcessesResponse *resp = NULL;
	sbx_process *v = NULL;
	size_t i = 0;
	sbx_err rv;

	*out = NULL;
	*n = 0;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	if ((rv = CALL(c, SVC_SANDBOX "ListProcesses", 0, &req,
	    sbx__v1__list_processes_response, &resp)) != SBX_OK)
		return rv;
	if (resp->n_processes > 0 &&
	    (v = calloc(resp->n_processes, sizeof(*v))) == NULL)
		rv = sbxi_oom(c);
	for (; rv == SBX_OK && i < resp->n_processes; i++)
		rv = process_from_wire(c, resp->processes[i], &v[i]);
	sbx__v1__list_processes_response__free_unpacked(resp, NULL);
	if (rv != SBX_OK) {
		sbx_process_list_free(v, i);
		return rv;
	}
	*out = v;
	*n = i;
	return SBX_OK;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One WaitProcess call asking for slice ms. */
static sbx_err
wait_once(sbx_client *c, const char *session_id, const char *process_id,
    uint64_t slice, sbx_process *out, int *timed_out)
{
	Sbx__V1__WaitProcessRequest req = SBX__V1__WAIT_PROCESS_REQUEST__INIT;
	Sbx__V1__WaitProcessResponse *resp = NULL;
	int client_ms = sbxi_timeout_ms(c), call_ms = (int)(slice + WAIT_GRACE_MS);
	sbx_err rv;

	if (client_ms < 0 || client_ms > call_ms)
		call_ms = client_ms;
	req.session_id = (char *)session_id;
	req.process_id = (char *)process_id;
	req.timeout_ms = slice;
	if ((rv = CALL(c, SVC_SANDBOX "WaitProcess", call_ms, &req,
	    sbx__v1__wait_process_response, &resp)) != SBX_OK)
		return rv;
	*timed_out = resp->timed_out != 0;
	rv = process_from_wire(c, resp->process, out);
	sbx__v1__wait_process_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_process_wait(sbx_client *c, const char *session_id, const char *process_id,
    uint64_t timeout_ms, sbx_process *out, int *timed_out)
{
	uint64_t deadline = timeout_ms ? mono_ms() + timeout_ms : 0, now, slice;
	sbx_process p = { .command = NULL };
	int to = 1;
	sbx_err rv;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	*timed_out = 0;
	if ((rv = check_process(c, session_id, process_id)) != SBX_OK)
		return rv;
	for (;;) {
		now = mono_ms();
		slice = WAIT_SLICE_MS;
		if (deadline != 0)
			slice = deadline > now ? deadline - now : 0;
		if (slice > WAIT_SLICE_MS)
			slice = WAIT_SLICE_MS;
		sbx_process_fini(&p);
		/* 0 asks the server for its own ceiling: 1 ms is "look now" */
		if ((rv = wait_once(c, session_id, process_id, slice ? slice : 1,
		    &p, &to)) != SBX_OK)
			return rv;
		if (!to || (deadline != 0 && mono_ms() >= deadline))
			break;
	}
	*timed_out = to;
	if (out != NULL)
		*out = p;
	else
		sbx_process_fini(&p);
	return SBX_OK;
}

sbx_err
sbx_process_signal(sbx_client *c, const char *session_id, const char *process_id,
    sbx_signal sig, unsigned *signalled)
{
	Sbx__V1__SignalProcessRequest req = SBX__V1__SIGNAL_PROCESS_REQUEST__INIT;
	Sbx__V1__SignalProcessResponse *resp = NULL;
	sbx_err rv;

	if (signalled != NULL)
		*signalled = 0;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	if (process_id != NULL && *process_id == '\0')
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "process_id is empty; "
		    "pass NULL to signal every process of the session");
	if (sig != SBX_SIGNAL_TERM && sig != SBX_SIGNAL_KILL && sig != SBX_SIGNAL_INT)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "signal %d is not one "
		    "of SBX_SIGNAL_TERM, _KILL, _INT", (int)sig);
	req.session_id = (char *)session_id;
	req.process_id = (char *)(process_id ? process_id : "");
	req.all = process_id == NULL;
	req.signal = (Sbx__V1__Signal)sig;
	if ((rv = CALL(c, SVC_SANDBOX "SignalProcess", 0, &req,
	    sbx__v1__signal_process_response, &resp)) != SBX_OK)
		return rv;
	if (signalled != NULL)
		*signalled = resp->signalled;
	sbx__v1__signal_process_response__free_unpacked(resp, NULL);
	return SBX_OK;
}

sbx_err
sbx_process_send_stdin(sbx_client *c, const char *session_id,
    const char *process_id, const void *data, size_t len)
{
	Sbx__V1__SendStdinRequest req = SBX__V1__SEND_STDIN_REQUEST__INIT;
	sbx_err rv;

	if ((rv = check_process(c, session_id, process_id)) != SBX_OK)
		return rv;
	if (data == NULL && len > 0)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "len %zu but data is NULL", len);
	req.session_id = (char *)session_id;
	req.process_id = (char *)process_id;
	req.data.data = (uint8_t *)data;
	req.data.len = len;
	return CALL(c, SVC_SANDBOX "SendStdin", 0, &req,
	    sbx__v1__send_stdin_response, NULL);
}

sbx_err
sbx_process_close_stdin(sbx_client *c, const char *session_id,
    const char *process_id)
{
	Sbx__V1__CloseStdinRequest req = SBX__V1__CLOSE_STDIN_REQUEST__INIT;
	sbx_err rv;

	if ((rv = check_process(c, session_id, process_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.process_id = (char *)process_id;
	return CALL(c, SVC_SANDBOX "CloseStdin", 0, &req,
	    sbx__v1__close_stdin_response, NULL);
}

sbx_err
sbx_process_read_output(sbx_client *c, const char *session_id,
    const char *process_id, sbx_bytes *out, sbx_process *info)
{
	Sbx__V1__ReadProcessOutputRequest req =
	    SBX__V1__READ_PROCESS_OUTPUT_REQUEST__INIT;
	Sbx__V1__ReadProcessOutputResponse *resp = NULL;
	sbx_err rv;

	out->data = NULL;
	out->len = 0;
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if ((rv = check_process(c, session_id, process_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.process_id = (char *)process_id;
	if ((rv = CALL(c, SVC_SANDBOX "ReadProcessOutput", 0, &req,
	    sbx__v1__read_process_output_response, &resp)) != SBX_OK)
		return rv;
	if ((rv = sbxi_bytes_dup(c, &resp->output, out)) == SBX_OK &&
	    info != NULL && (rv = process_from_wire(c, resp->process, info)) != SBX_OK) {
		free(out->data);
		out->data = NULL;
		out->len = 0;
	}
	sbx__v1__read_process_output_response__free_unpacked(resp, NULL);
	return rv;
}
