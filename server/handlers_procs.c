/*
 * handlers_procs.c — SandboxService's background process calls:
 * StartProcess, ListProcesses, WaitProcess, SignalProcess, SendStdin,
 * CloseStdin and ReadProcessOutput. Each checks its fields and the
 * caller's reach to the session (call_session: a token of session B
 * naming session A is PERMISSION_DENIED), then hands over to procs.c,
 * which only ever looks a process id up within that session.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "lifecycle.h"
#include "procs.h"
#include "sbx/v1/sbx.pb-c.h"
#include "session.h"

#define KILL_REPLY_MARGIN_MS 200	/* a KILL's answer before the deadline */

/* 1 when id looks like one procs.c hands out ("p" and digits). */
static int
valid_process_id(const char *id)
{
	size_t n = strlen(id);

	return n >= 2 && n < PROCS_ID_MAX && id[0] == 'p' &&
	    strspn(id + 1, "0123456789") == n - 1;
}

static sbxd_code
check_process_id(struct call *c, const char *id)
{
	if (!valid_process_id(id))
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "process_id \"%.32s\" "
		    "is missing or malformed; use the id StartProcess returned", id);
	return SBXD_OK;
}

/* The session (by id) the caller reaches, with a valid process id. */
static sbxd_code
call_process(struct call *c, const char *session_id, const char *process_id,
    struct session_row *r)
{
	sbxd_code rv;

	if ((rv = call_session(c, session_id, r)) != SBXD_OK)
		return rv;
	return process_id != NULL ? check_process_id(c, process_id) : SBXD_OK;
}

/* info as a ProcessInfo in c->out; NULL when out of memory. */
static Sbx__V1__ProcessInfo *
info_msg(struct call *c, const struct procs_info *info)
{
	Sbx__V1__ProcessInfo *m = arena_alloc(c->out, sizeof(*m));

	if (m == NULL)
		return NULL;
	sbx__v1__process_info__init(m);
	if ((m->process_id = arena_strdup(c->out, info->id)) == NULL ||
	    (m->command = arena_strdup(c->out, info->command ? info->command : ""))
	    == NULL)
		return NULL;
	m->state = (Sbx__V1__ProcessState)info->state;
	m->exit_code = info->exit_code;
	m->started_unix_ms = (uint64_t)info->started_ms;
	m->ended_unix_ms = (uint64_t)info->ended_ms;
	m->pid = info->pid;
	return m;
}

static sbxd_code
set_info(struct call *c, const struct procs_info *info, Sbx__V1__ProcessInfo **dst)
{
	if ((*dst = info_msg(c, info)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	return SBXD_OK;
}

sbxd_code
h_start_process(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__StartProcessRequest *rq = (const void *)in;
	Sbx__V1__StartProcessResponse *rs = (void *)out;
	struct procs_start_args a = { .command = rq->command };
	struct procs_info info = { .command = NULL };
	struct session_row row;
	sbxd_code rv;

	if ((rv = call_exec_words(c, rq->command, rq->argv, rq->n_argv,
	    &a.command, &a.argv)) ||
	    (rv = call_exec_env(c, rq->env, rq->n_env, (const char ***)&a.env)) ||
	    (rv = call_exec_cwd(c, rq->cwd, &a.cwd)) ||
	    (rv = call_session(c, rq->session_id, &row)))
		return rv;
	/* Busy before waking, as Execute; the process keeps it on success. */
	lifecycle_busy_enter(c->srv, row.id);
	if ((rv = call_sandbox(c, rq->session_id, &row)) == SBXD_OK &&
	    (rv = procs_start(c->srv, &row, &a, &info, &c->err)) ==
	    SBXD_FAILED_PRECONDITION) {
		/* stopped behind our back: start it once and try again */
		err_clear(&c->err);
		if ((rv = session_restart(c->srv, &row, &c->err)) == SBXD_OK)
			rv = procs_start(c->srv, &row, &a, &info, &c->err);
	}
	if (rv != SBXD_OK) {
		lifecycle_busy_leave(c->srv, rq->session_id);
		return rv;
	}
	rv = set_info(c, &info, &rs->process);
	procs_info_fini(&info);
	return rv;
}

sbxd_code
h_list_processes(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ListProcessesRequest *rq = (const void *)in;
	Sbx__V1__ListProcessesResponse *rs = (void *)out;
	struct procs_info *v = NULL;
	struct session_row row;
	size_t n = 0;
	sbxd_code rv;

	if ((rv = call_process(c, rq->session_id, NULL, &row)) != SBXD_OK ||
	    (rv = procs_list(c->srv, row.id, &v, &n, &c->err)) != SBXD_OK)
		return rv;
	if (n > 0 && (rs->processes = arena_calloc(c->out, n,
	    sizeof(*rs->processes))) == NULL)
		rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; rv == SBXD_OK && i < n; i++)
		rv = set_info(c, &v[i], &rs->processes[i]);
	if (rv == SBXD_OK)
		rs->n_processes = n;
	procs_infos_free(v, n);
	return rv;
}

sbxd_code
h_wait_process(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__WaitProcessRequest *rq = (const void *)in;
	Sbx__V1__WaitProcessResponse *rs = (void *)out;
	uint64_t t = rq->timeout_ms ? rq->timeout_ms : c->srv->cfg->process_wait_max_ms;
	int64_t now = server_now_ms();
	struct procs_info info = { .command = NULL };
	struct session_row row;
	int timed_out = 0;
	sbxd_code rv;

	if ((rv = call_process(c, rq->session_id, rq->process_id, &row)) != SBXD_OK)
		return rv;
	/* Within the request's own deadline, so the reply still counts. */
	if (c->deadline_ms != 0 && c->deadline_ms > (uint64_t)now &&
	    c->deadline_ms - (uint64_t)now < t)
		t = c->deadline_ms - (uint64_t)now;
	if ((rv = procs_wait(c->srv, row.id, rq->process_id, t, &info, &timed_out,
	    &c->err)) != SBXD_OK)
		return rv;
	rs->timed_out = timed_out;
	rv = set_info(c, &info, &rs->process);
	procs_info_fini(&info);
	return rv;
}

/* How long a KILL waits for the exit: within the request's deadline,
 * answering KILL_REPLY_MARGIN_MS before it so the client still reads the
 * reply; process_wait_max without a deadline. */
static uint64_t
kill_wait_ms(struct call *c)
{
	uint64_t t = c->srv->cfg->process_wait_max_ms;
	uint64_t now = (uint64_t)server_now_ms();

	if (c->deadline_ms == 0)
		return t;
	if (c->deadline_ms <= now + KILL_REPLY_MARGIN_MS)
		return 1;
	return c->deadline_ms - now - KILL_REPLY_MARGIN_MS < t ?
	    c->deadline_ms - now - KILL_REPLY_MARGIN_MS : t;
}

/*
 * SignalProcess. TERM and INT answer once sent. KILL answers once the
 * process is seen to have ended — a ListProcesses or WaitProcess after it
 * shows KILLED (or EXITED, when it ended on its own first), never RUNNING
 * — or DEADLINE_EXCEEDED when the request's deadline comes first (the
 * signal was sent; the exit was not seen yet). A signal to a process that
 * had already ended is FAILED_PRECONDITION: "has already been killed"
 * after a KILL (a second KILL), "has already ended" when it exited by
 * itself — unless it left live children in its process group, which are
 * signalled (OK, signalled = 1).
 */
sbxd_code
h_signal_process(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__SignalProcessRequest *rq = (const void *)in;
	Sbx__V1__SignalProcessResponse *rs = (void *)out;
	struct session_row row;
	unsigned n = 0;
	int sig;
	sbxd_code rv;

	switch (rq->signal) {
	case SBX__V1__SIGNAL__SIGNAL_UNSPECIFIED:
	case SBX__V1__SIGNAL__SIGNAL_TERM: sig = SIGTERM; break;
	case SBX__V1__SIGNAL__SIGNAL_KILL: sig = SIGKILL; break;
	case SBX__V1__SIGNAL__SIGNAL_INT: sig = SIGINT; break;
	default:
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "signal %d is not "
		    "one of TERM, KILL, INT", (int)rq->signal);
	}
	if (rq->all && rq->process_id[0] != '\0')
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "give either "
		    "process_id or all, not both");
	if ((rv = call_process(c, rq->session_id, rq->all ? NULL : rq->process_id,
	    &row)) != SBXD_OK)
		return rv;
	rv = procs_signal(c->srv, row.id, rq->all ? NULL : rq->process_id, sig,
	    kill_wait_ms(c), &n, &c->err);
	rs->signalled = n;
	return rv;
}

sbxd_code
h_send_stdin(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__SendStdinRequest *rq = (const void *)in;
	struct session_row row;
	sbxd_code rv;

	(void)out;
	if ((rv = call_process(c, rq->session_id, rq->process_id, &row)) != SBXD_OK)
		return rv;
	/* data is bounded by max_message_bytes; empty still checks the id */
	return procs_send_stdin(c->srv, row.id, rq->process_id, rq->data.data,
	    rq->data.len, &c->err);
}

sbxd_code
h_close_stdin(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__CloseStdinRequest *rq = (const void *)in;
	struct session_row row;
	sbxd_code rv;

	(void)out;
	if ((rv = call_process(c, rq->session_id, rq->process_id, &row)) != SBXD_OK)
		return rv;
	return procs_close_stdin(c->srv, row.id, rq->process_id, &c->err);
}

sbxd_code
h_read_process_output(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ReadProcessOutputRequest *rq = (const void *)in;
	Sbx__V1__ReadProcessOutputResponse *rs = (void *)out;
	struct procs_info info = { .command = NULL };
	struct session_row row;
	void *data = NULL;
	size_t n = 0;
	sbxd_code rv;

	if ((rv = call_process(c, rq->session_id, rq->process_id, &row)) != SBXD_OK ||
	    (rv = procs_read_output(c->srv, row.id, rq->process_id, &data, &n,
	    &info, &c->err)) != SBXD_OK)
		goto out;
	if (n > 0 && (rs->output.data = arena_memdup(c->out, data, n)) == NULL) {
		rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	rs->output.len = n;
	rv = set_info(c, &info, &rs->process);
out:
	free(data);
	procs_info_fini(&info);
	return rv;
}
