/*
 * handlers_sandbox.c — SandboxService: commands and workspace files.
 *
 * Each handler loads the caller's session (call_session checks that the
 * credentials reach it), makes sure its container runs, validates the
 * request, and records activity. Workspace files are served on the host
 * through fsops (kernel-contained lookups), never through a shell.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "fsops.h"
#include "log.h"
#include "sbx/v1/sbx.pb-c.h"
#include "session.h"

#define COMMAND_MAX (1u << 20)
#define ENV_MAX 256
#define OUTPUT_MAX_CEILING (8u << 20)
#define READ_DEFAULT_LIMIT 2000
#define BINARY_SNIFF 8192
#define TOUCH_EVERY_MS 1000

/* Loads a session for a sandbox call and wakes it if needed. */
static sbxd_code
sandbox_session(struct call *c, const char *id, struct session_row *r)
{
	sbxd_code rv;

	if ((rv = call_session(c, id, r)) != SBXD_OK)
		return rv;
	if ((rv = session_ensure_running(c->srv, r, &c->err)) != SBXD_OK)
		return rv;
	/* Activity is kept to the second: a burst of calls costs one write. */
	if (server_now_ms() - r->last_active_ms >= TOUCH_EVERY_MS)
		store_session_touch(c->srv->store, r->id, server_now_ms(), NULL);
	return SBXD_OK;
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

/* The timeout a command gets: asked for (or the default), within the
 * configured ceiling and the request's own deadline. */
static uint64_t
exec_timeout(struct call *c, uint64_t asked)
{
	const struct config *cfg = c->srv->cfg;
	uint64_t t = asked ? asked : cfg->exec_timeout_default_ms;
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

sbxd_code
h_execute(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ExecuteRequest *rq = (const void *)in;
	Sbx__V1__ExecuteResponse *rs = (void *)out;
	struct driver_exec_result res;
	struct session_exec_args a = { 0 };
	struct session_row row;
	sbxd_code rv;

	if (rq->command[0] == '\0')
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "command is empty");
	if (strlen(rq->command) > COMMAND_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT,
		    "command is longer than %u bytes; write a script file and run it", COMMAND_MAX);
	if (rq->stdin.len > 0)
		return err_set(&c->err, SBXD_UNIMPLEMENTED,
		    "stdin for Execute is not supported by this sbxd version yet; write the input to a file");
	if (rq->max_output_bytes > OUTPUT_MAX_CEILING)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT,
		    "max_output_bytes is at most %u", OUTPUT_MAX_CEILING);
	a.command = rq->command;
	a.max_output = rq->max_output_bytes ? rq->max_output_bytes : c->srv->cfg->max_output_bytes;
	a.timeout_ms = exec_timeout(c, rq->timeout_ms);
	if ((rv = exec_env(c, rq->env, rq->n_env, (const char ***)&a.env)) != SBXD_OK ||
	    (rv = exec_cwd(c, rq->cwd, &a.cwd)) != SBXD_OK)
		return rv;
	if ((rv = sandbox_session(c, rq->session_id, &row)) != SBXD_OK)
		return rv;
	memset(&res, 0, sizeof(res));
	if ((rv = session_exec(c->srv, &row, &a, &res, &c->err)) == SBXD_OK) {
		rs->exit_code = res.exit_code;
		rs->timed_out = res.timed_out;
		rs->truncated = res.truncated;
		rs->duration_ms = res.duration_ms;
		take_buf(c, &res.out, &rs->stdout);
		take_buf(c, &res.err, &rs->stderr);
		take_buf(c, &res.merged, &rs->output);
	}
	driver_exec_result_fini(&res);
	store_session_touch(c->srv->store, row.id, server_now_ms(), NULL);
	return rv;
}

/* Opens the session's workspace and maps the client path into it. */
static sbxd_code
workspace_path(struct call *c, const char *sid, const char *path, struct fsops_root *root,
    char *rel, size_t relsz)
{
	struct session_row row;
	sbxd_code rv;

	if ((rv = fsops_workspace_rel(path, rel, relsz, &c->err)) != SBXD_OK)
		return rv;
	if ((rv = sandbox_session(c, sid, &row)) != SBXD_OK)
		return rv;
	return fsops_root_open(row.workspace, c->srv->cfg->sandbox_uid,
	    c->srv->cfg->sandbox_gid, root, &c->err);
}

/* Reads a whole file through fsops, bounded by the read ceiling. */
static sbxd_code
read_whole(struct call *c, const char *sid, const char *path, struct buf *b)
{
	struct fsops_root root;
	char rel[FSOPS_PATH_MAX + 1];
	sbxd_code rv;

	buf_init(b, c->srv->cfg->read_max_bytes);
	if ((rv = workspace_path(c, sid, path, &root, rel, sizeof(rel))) != SBXD_OK)
		return rv;
	rv = fsops_read_file(&root, rel, b, &c->err);
	fsops_root_close(&root);
	return rv;
}

sbxd_code
h_read_bytes(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ReadBytesRequest *rq = (const void *)in;
	Sbx__V1__ReadBytesResponse *rs = (void *)out;
	struct buf b;
	size_t n;
	sbxd_code rv;

	if ((rv = read_whole(c, rq->session_id, rq->path, &b)) == SBXD_OK) {
		rs->file_size = b.len;
		if (rq->offset < b.len) {
			n = b.len - rq->offset;
			if (rq->length != 0 && rq->length < n)
				n = rq->length;
			rs->data.len = n;
			if ((rs->data.data = arena_memdup(c->out, b.data + rq->offset, n)) == NULL)
				rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
		}
		rs->eof = rq->offset + rs->data.len >= b.len;
	}
	buf_fini(&b);
	return rv;
}

/* Renders lines [offset, offset+limit) as "%6zu\t<line>" joined by '\n'. */
static sbxd_code
number_lines(struct call *c, const char *p, size_t len, uint64_t offset, uint64_t limit,
    Sbx__V1__ReadResponse *rs, const char *path)
{
	struct buf out;
	uint64_t total = 0, shown = 0;
	size_t i = 0;
	sbxd_code rv = SBXD_OK;

	buf_init(&out, c->srv->cfg->read_max_bytes * 2 + 64);
	for (size_t s = 0; s < len; s = i + 1) {
		const char *nl = memchr(p + s, '\n', len - s);

		i = nl ? (size_t)(nl - p) : len;
		if (total >= offset && shown < limit) {
			if ((shown && buf_add(&out, "\n", 1)) ||
			    buf_printf(&out, "%6llu\t", (unsigned long long)total + 1) ||
			    buf_add(&out, p + s, i - s)) {
				rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "rendered text too large");
				break;
			}
			shown++;
		}
		total++;
	}
	if (rv == SBXD_OK && offset >= total && (total > 0 || offset > 0))
		rv = err_set(&c->err, SBXD_OUT_OF_RANGE, "Offset %llu exceeds file length (%llu lines)",
		    (unsigned long long)offset, (unsigned long long)total);
	if (rv == SBXD_OK && total - offset > shown && total > offset)
		buf_printf(&out, "\n\n... (%llu more lines)", (unsigned long long)(total - offset - shown));
	if (rv == SBXD_OK) {
		rs->total_lines = total;
		rs->remaining_lines = total > offset + shown ? total - offset - shown : 0;
		rs->content.len = out.len;
		if (out.len && (rs->content.data = arena_memdup(c->out, out.data, out.len)) == NULL)
			rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	}
	(void)path;
	buf_fini(&out);
	return rv;
}

sbxd_code
h_read(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ReadRequest *rq = (const void *)in;
	Sbx__V1__ReadResponse *rs = (void *)out;
	struct buf b;
	sbxd_code rv;

	if ((rv = read_whole(c, rq->session_id, rq->path, &b)) != SBXD_OK)
		goto out;
	if (memchr(b.data ? b.data : "", '\0', b.len < BINARY_SNIFF ? b.len : BINARY_SNIFF) != NULL) {
		rv = err_set(&c->err, SBXD_FAILED_PRECONDITION,
		    "'%.256s' is a binary file; read it with ReadBytes", rq->path);
		goto out;
	}
	/* A final newline ends the last line; it does not start another. */
	rv = number_lines(c, b.data ? b.data : "", b.len && b.data[b.len - 1] == '\n' ? b.len - 1 : b.len,
	    rq->offset, rq->limit ? rq->limit : READ_DEFAULT_LIMIT, rs, rq->path);
out:
	buf_fini(&b);
	return rv;
}

sbxd_code
h_write(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__WriteRequest *rq = (const void *)in;
	Sbx__V1__WriteResponse *rs = (void *)out;
	struct fsops_root root;
	char rel[FSOPS_PATH_MAX + 1];
	sbxd_code rv;

	if ((rv = workspace_path(c, rq->session_id, rq->path, &root, rel, sizeof(rel))) != SBXD_OK)
		return rv;
	rv = fsops_write_file(&root, rel, rq->content.data, rq->content.len, rq->append, &c->err);
	fsops_root_close(&root);
	if (rv != SBXD_OK)
		return rv;
	rs->path = strcmp(rel, ".") == 0 ? "/workspace" : arena_printf(c->out, "/workspace/%s", rel);
	rs->bytes_written = rq->content.len;
	return SBXD_OK;
}
