/*
 * libsbx_sandbox.c — the SandboxService calls of libsbx: sbx_exec (and
 * the call timeout stretched to outlast the command), sbx_write,
 * sbx_read_bytes and sbx_read. Bytes coming back are copied into
 * NUL-terminated buffers the caller owns.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "libsbx_int.h"

#define EXEC_GRACE_MS 30000           /* call deadline beyond a command's timeout */
#define EXEC_DEFAULT_TIMEOUT_MS 300000 /* no timeout given: the server picks the runtime's
                                         default, at most exec_timeout_max (300 s by default) */

void
sbx_exec_result_fini(sbx_exec_result *r)
{
	if (r == NULL)
		return;
	free(r->out.data);
	free(r->err.data);
	free(r->output.data);
	memset(r, 0, sizeof(*r));
}


/* The call's timeout: the caller's, or the client's stretched to outlast
 * the command. */
static int
exec_call_timeout(const sbx_client *c, const sbx_exec_opts *o)
{
	int client_ms = sbxi_timeout_ms(c);
	uint64_t need;

	if (o->call_timeout_ms != 0 || client_ms < 0)
		return o->call_timeout_ms != 0 ? o->call_timeout_ms : client_ms;
	need = (o->timeout_ms ? o->timeout_ms : EXEC_DEFAULT_TIMEOUT_MS) +
	    EXEC_GRACE_MS;
	if (need > INT_MAX)
		return SBX_TIMEOUT_NONE;
	return (uint64_t)client_ms < need ? (int)need : client_ms;
}

static sbx_err
exec_result_from_wire(sbx_client *c, const Sbx__V1__ExecuteResponse *r,
    sbx_exec_result *out)
{
	sbx_err rv;

	out->exit_code = r->exit_code;
	out->truncated = r->truncated != 0;
	out->timed_out = r->timed_out != 0;
	out->duration_ms = r->duration_ms;
	if ((rv = sbxi_bytes_dup(c, &r->stdout, &out->out)) != SBX_OK ||
	    (rv = sbxi_bytes_dup(c, &r->stderr, &out->err)) != SBX_OK ||
	    (rv = sbxi_bytes_dup(c, &r->output, &out->output)) != SBX_OK)
		sbx_exec_result_fini(out);
	return rv;
}

sbx_err
sbx_exec(sbx_client *c, const char *session_id, const sbx_exec_opts *opts,
    sbx_exec_result *out)
{
	Sbx__V1__ExecuteRequest req = SBX__V1__EXECUTE_REQUEST__INIT;
	Sbx__V1__ExecuteResponse *resp = NULL;
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
	if (opts->stdin_data == NULL && opts->stdin_len > 0)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "stdin_len without stdin_data");
	req.session_id = (char *)session_id;
	req.command = (char *)(opts->argc > 0 ? "" : opts->command);
	req.n_argv = opts->argc;
	req.argv = (char **)opts->argv;
	req.timeout_ms = opts->timeout_ms;
	req.cwd = (char *)(opts->cwd ? opts->cwd : "");
	req.max_output_bytes = opts->max_output_bytes;
	req.stdin.data = (uint8_t *)opts->stdin_data;
	req.stdin.len = opts->stdin_len;
	req.n_env = opts->n_env;
	if ((rv = sbxi_env_to_wire(c, opts->env, opts->n_env, &req.env)) == SBX_OK)
		rv = CALL(c, SVC_SANDBOX "Execute", exec_call_timeout(c, opts), &req,
		    sbx__v1__execute_response, &resp);
	sbxi_env_free(req.env, opts->n_env);
	if (rv == SBX_OK)
		rv = exec_result_from_wire(c, resp, out);
	if (resp != NULL)
		sbx__v1__execute_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_write(sbx_client *c, const char *session_id, const char *path,
    const void *data, size_t len, int append)
{
	Sbx__V1__WriteRequest req = SBX__V1__WRITE_REQUEST__INIT;
	sbx_err rv;

	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "path", path)) != SBX_OK)
		return rv;
	if (data == NULL && len > 0)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "len %zu but data is NULL", len);
	req.session_id = (char *)session_id;
	req.path = (char *)path;
	req.content.data = (uint8_t *)data;
	req.content.len = len;
	req.append = append != 0;
	return CALL(c, SVC_SANDBOX "Write", 0, &req, sbx__v1__write_response, NULL);
}

sbx_err
sbx_read_bytes(sbx_client *c, const char *session_id, const char *path,
    uint64_t offset, uint64_t length, void **data, size_t *len)
{
	Sbx__V1__ReadBytesRequest req = SBX__V1__READ_BYTES_REQUEST__INIT;
	Sbx__V1__ReadBytesResponse *resp = NULL;
	sbx_bytes b = { NULL, 0 };
	sbx_err rv;

	*data = NULL;
	*len = 0;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "path", path)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.path = (char *)path;
	req.offset = offset;
	req.length = length;
	rv = CALL(c, SVC_SANDBOX "ReadBytes", 0, &req,
	    sbx__v1__read_bytes_response, &resp);
	if (rv == SBX_OK && (rv = sbxi_bytes_dup(c, &resp->data, &b)) == SBX_OK) {
		*data = b.data;
		*len = b.len;
	}
	if (resp != NULL)
		sbx__v1__read_bytes_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_read(sbx_client *c, const char *session_id, const char *path,
    uint64_t offset, uint64_t limit, char **text)
{
	Sbx__V1__ReadRequest req = SBX__V1__READ_REQUEST__INIT;
	Sbx__V1__ReadResponse *resp = NULL;
	sbx_bytes b = { NULL, 0 };
	sbx_err rv;

	*text = NULL;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "path", path)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.path = (char *)path;
	req.offset = offset;
	req.limit = limit;
	rv = CALL(c, SVC_SANDBOX "Read", 0, &req, sbx__v1__read_response, &resp);
	if (rv == SBX_OK && (rv = sbxi_bytes_dup(c, &resp->content, &b)) == SBX_OK)
		*text = (char *)b.data;
	if (resp != NULL)
		sbx__v1__read_response__free_unpacked(resp, NULL);
	return rv;
}
