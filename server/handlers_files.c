/*
 * handlers_files.c — SandboxService's file operations: Ls, Stat, Read,
 * ReadBytes, Write, Edit, Mkdir, Remove, Move, Glob, Grep.
 *
 * A path names the container's view. Relative paths and paths under
 * /workspace are served on the host through fsops (openat2-contained, no
 * shell, no docker exec: the fast path an agent's tool loop lives on);
 * other absolute paths go through the container itself (ctrfs: the archive
 * API and fixed helper commands). Results name container paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrfs.h"
#include "dispatch.h"
#include "fsops.h"
#include "log.h"
#include "sbx/v1/sbx.pb-c.h"
#include "utf8.h"

#define READ_DEFAULT_LIMIT 2000
#define BINARY_SNIFF 8192
#define LS_MAX 10000
#define GLOB_DEFAULT 1000
#define GREP_DEFAULT 1000
#define RESULTS_MAX 10000
#define GREP_LINE_MAX 4096          /* a matching line is cut to this in replies */

/* Where a request's path leads. */
struct target {
	struct session_row row;
	int in_ws;                          /* fsops (host) or ctrfs (container) */
	struct fsops_root root;
	struct ctrfs ctr;
	char user[32];
	char path[FSOPS_PATH_MAX + 1];      /* workspace-relative, or absolute */
};

static sbxd_code
oom(struct call *c)
{
	return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
}

/* How a call treats a symlink at its path's last component. */
enum { LEAF_OWN = 0, LEAF_FOLLOW = 1 };

/* Loads the session, resolves path as the container would (fsops_route)
 * and opens the side that serves it. leaf: LEAF_FOLLOW for calls that act
 * on what a symlink names (read, write, list, stat), LEAF_OWN for calls
 * that act on the link itself (remove, move, mkdir). */
static sbxd_code
target_open(struct call *c, const char *sid, const char *path, int leaf, struct target *t)
{
	const struct config *cfg = c->srv->cfg;
	char abs[FSOPS_PATH_MAX + 16];
	const char *ctr_path = abs;
	int starts_in_ws = 0;
	sbxd_code rv;

	t->root.fd = -1;
	t->in_ws = 0;
	if ((rv = fsops_route_abs(path, strlen(path), abs, sizeof(abs), &starts_in_ws,
	    &c->err)) != SBXD_OK || (rv = call_sandbox(c, sid, &t->row)) != SBXD_OK)
		return rv;
	if (starts_in_ws) {
		if ((rv = call_open_workspace(c, t->row.workspace, &t->root)) != SBXD_OK ||
		    (rv = fsops_route_resolve(&t->root, abs, leaf, t->path, sizeof(t->path),
		    &t->in_ws, &c->err)) != SBXD_OK || t->in_ws)
			return rv;
		fsops_root_close(&t->root);
		ctr_path = t->path;
	}
	if ((rv = ctrfs_abs_path(ctr_path, strlen(ctr_path), t->path, sizeof(t->path),
	    &c->err)) != SBXD_OK)
		return rv;
	if (c->srv->drv->ops->archive_get == NULL)
		return err_set(&c->err, SBXD_UNIMPLEMENTED,
		    "this container driver cannot reach paths outside /workspace");
	snprintf(t->user, sizeof(t->user), "%d:%d", (int)cfg->sandbox_uid, (int)cfg->sandbox_gid);
	t->ctr = (struct ctrfs){ .drv = c->srv->drv, .cid = t->row.container_id,
	    .user = t->user, .uid = cfg->sandbox_uid, .gid = cfg->sandbox_gid };
	return SBXD_OK;
}

static void
target_close(struct target *t)
{
	fsops_root_close(&t->root);
}

/* The container path of a workspace-relative or absolute path. */
static char *
shown(struct call *c, int in_ws, const char *p)
{
	if (!in_ws || p[0] == '/')
		return arena_strdup(c->out, p);
	if (strcmp(p, ".") == 0)
		return arena_strdup(c->out, "/workspace");
	return arena_printf(c->out, "/workspace/%s", p);
}

/* A name is bytes on disk: one that is not UTF-8 also travels exactly in
 * a bytes field (the string field gets U+FFFD from rpc's reply check).
 * 0, or -1 when out of reply memory. */
static int
raw_if_needed(struct call *c, const char *name, ProtobufCBinaryData *raw)
{
	size_t len = strlen(name);

	if (utf8_valid(name, len))
		return 0;
	raw->len = len;
	return (raw->data = arena_memdup(c->out, name, len)) == NULL ? -1 : 0;
}

static Sbx__V1__FileInfo *
file_info(struct call *c, int in_ws, const struct fsops_entry *ent)
{
	Sbx__V1__FileInfo *f = arena_alloc(c->out, sizeof(*f));

	if (f == NULL)
		return NULL;
	sbx__v1__file_info__init(f);
	f->name = arena_strdup(c->out, ent->name);
	f->path = shown(c, in_ws, ent->rel);
	f->is_dir = ent->is_dir;
	f->is_symlink = ent->is_symlink;
	f->size = ent->size;
	f->mode = ent->mode;
	f->mtime_unix_ms = ent->mtime_ms;
	if (f->name == NULL || f->path == NULL || raw_if_needed(c, f->name, &f->raw_name) ||
	    raw_if_needed(c, f->path, &f->raw_path))
		return NULL;
	return f;
}

/* Collects FileInfo results into a growing arena array. */
struct infos {
	struct call *c;
	int in_ws;
	Sbx__V1__FileInfo **v;
	size_t n, cap;
	int failed;
};

static int
infos_add(void *arg, const struct fsops_entry *ent)
{
	struct infos *l = arg;
	Sbx__V1__FileInfo **nv;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		if ((nv = arena_alloc(l->c->out, l->cap * sizeof(*nv))) == NULL) {
			l->failed = 1;
			return 1;
		}
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
	}
	if ((l->v[l->n] = file_info(l->c, l->in_ws, ent)) == NULL) {
		l->failed = 1;
		return 1;
	}
	l->n++;
	return 0;
}

sbxd_code
h_ls(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__LsRequest *rq = (const void *)in;
	Sbx__V1__LsResponse *rs = (void *)out;
	struct infos l = { .c = c };
	struct target t;
	int truncated = 0;
	sbxd_code rv;

	if ((rv = target_open(c, rq->session_id, rq->path, LEAF_FOLLOW, &t)) != SBXD_OK)
		goto out;
	l.in_ws = t.in_ws;
	rv = t.in_ws ? fsops_list(&t.root, t.path, LS_MAX, infos_add, &l, &truncated, &c->err) :
	    ctrfs_list(&t.ctr, t.path, LS_MAX, infos_add, &l, &truncated, &c->err);
	if (rv == SBXD_OK && l.failed)
		rv = oom(c);
	rs->entries = l.v;
	rs->n_entries = l.n;
	rs->truncated = truncated;
out:
	target_close(&t);
	return rv;
}

sbxd_code
h_stat(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__StatRequest *rq = (const void *)in;
	Sbx__V1__StatResponse *rs = (void *)out;
	struct fsops_entry ent;
	struct target t;
	int exists = 0;
	sbxd_code rv;

	if ((rv = target_open(c, rq->session_id, rq->path, LEAF_OWN, &t)) != SBXD_OK)
		goto out;
	rv = t.in_ws ? fsops_stat(&t.root, t.path, &ent, &exists, &c->err) :
	    ctrfs_stat(&t.ctr, t.path, &ent, &exists, &c->err);
	if (rv == SBXD_OK && (rs->exists = exists) && (rs->info = file_info(c, t.in_ws, &ent)) == NULL)
		rv = oom(c);
out:
	target_close(&t);
	return rv;
}

/* Reads a whole file from either side, bounded by the read ceiling. */
static sbxd_code
read_whole(struct call *c, const char *sid, const char *path, struct buf *b)
{
	struct target t;
	sbxd_code rv;

	buf_init(b, c->srv->cfg->read_max_bytes);
	if ((rv = target_open(c, sid, path, LEAF_FOLLOW, &t)) == SBXD_OK)
		rv = t.in_ws ? fsops_read_file(&t.root, t.path, b, &c->err) :
		    ctrfs_read_file(&t.ctr, t.path, b, &c->err);
	target_close(&t);
	return rv;
}

sbxd_code
h_read_bytes(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ReadBytesRequest *rq = (const void *)in;
	Sbx__V1__ReadBytesResponse *rs = (void *)out;
	size_t ceiling = c->srv->cfg->read_max_bytes, want;
	uint64_t size = 0;
	struct target t;
	struct buf b;
	sbxd_code rv;

	want = rq->length && rq->length < ceiling ? (size_t)rq->length : ceiling;
	buf_init(&b, want);
	if ((rv = target_open(c, rq->session_id, rq->path, LEAF_FOLLOW, &t)) != SBXD_OK)
		goto out;
	if (t.in_ws)
		rv = fsops_read_range(&t.root, t.path, rq->offset, want, &b, &size, &c->err);
	else {
		/* The container side reads whole files (within the ceiling). */
		struct buf whole;

		buf_init(&whole, ceiling);
		if ((rv = ctrfs_read_file(&t.ctr, t.path, &whole, &c->err)) == SBXD_OK) {
			size = whole.len;
			if (rq->offset < whole.len)
				buf_add(&b, whole.data + rq->offset,
				    whole.len - rq->offset < want ? whole.len - rq->offset : want);
		}
		buf_fini(&whole);
	}
	if (rv != SBXD_OK)
		goto out;
	rs->file_size = size;
	rs->data.len = b.len;
	if (b.len && (rs->data.data = arena_memdup(c->out, b.data, b.len)) == NULL)
		rv = oom(c);
	rs->eof = rq->offset + b.len >= size;
out:
	target_close(&t);
	buf_fini(&b);
	return rv;
}

/* Renders lines [offset, offset+limit) as "%6u\t<line>" joined by '\n',
 * with "\n\n... (N more lines)" when lines remain. */
static sbxd_code
number_lines(struct call *c, const char *p, size_t len, uint64_t offset, uint64_t limit,
    Sbx__V1__ReadResponse *rs)
{
	struct buf out;
	uint64_t total = 0, shown_lines = 0;
	size_t i = 0;
	sbxd_code rv = SBXD_OK;

	buf_init(&out, c->srv->cfg->read_max_bytes * 2 + 64);
	for (size_t s = 0; s < len; s = i + 1) {
		const char *nl = memchr(p + s, '\n', len - s);

		i = nl ? (size_t)(nl - p) : len;
		if (total >= offset && shown_lines < limit) {
			if ((shown_lines && buf_add(&out, "\n", 1)) ||
			    buf_printf(&out, "%6llu\t", (unsigned long long)total + 1) ||
			    buf_add(&out, p + s, i - s)) {
				rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "rendered text too large");
				break;
			}
			shown_lines++;
		}
		total++;
	}
	if (rv == SBXD_OK && offset >= total && (total > 0 || offset > 0))
		rv = err_set(&c->err, SBXD_OUT_OF_RANGE, "Offset %llu exceeds file length (%llu lines)",
		    (unsigned long long)offset, (unsigned long long)total);
	if (rv == SBXD_OK && total > offset + shown_lines)
		buf_printf(&out, "\n\n... (%llu more lines)",
		    (unsigned long long)(total - offset - shown_lines));
	if (rv == SBXD_OK) {
		rs->total_lines = total;
		rs->remaining_lines = total > offset + shown_lines ? total - offset - shown_lines : 0;
		rs->content.len = out.len;
		if (out.len && (rs->content.data = arena_memdup(c->out, out.data, out.len)) == NULL)
			rv = oom(c);
	}
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
	/* Lines as Python's splitlines() on '\n' sees them: a final newline
	 * ends the last line and does not start another ("x\n\n" is "x", ""). */
	rv = number_lines(c, b.data ? b.data : "", b.len,
	    rq->offset, rq->limit ? rq->limit : READ_DEFAULT_LIMIT, rs);
out:
	buf_fini(&b);
	return rv;
}

sbxd_code
h_write(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__WriteRequest *rq = (const void *)in;
	Sbx__V1__WriteResponse *rs = (void *)out;
	struct target t;
	sbxd_code rv;

	if ((rv = target_open(c, rq->session_id, rq->path, LEAF_FOLLOW, &t)) != SBXD_OK)
		goto out;
	rv = t.in_ws ?
	    fsops_write_file(&t.root, t.path, rq->content.data, rq->content.len, rq->append, &c->err) :
	    ctrfs_write_file(&t.ctr, t.path, rq->content.data, rq->content.len, rq->append,
	    c->srv->cfg->read_max_bytes, &c->err);
	if (rv != SBXD_OK)
		goto out;
	rs->path = shown(c, t.in_ws, t.path);
	rs->bytes_written = rq->content.len;
out:
	target_close(&t);
	return rv;
}

/* Edit outside /workspace: read through the container, replace, write back. */
static sbxd_code
edit_in_container(struct call *c, struct target *t, const Sbx__V1__EditRequest *rq, uint64_t *n)
{
	size_t ceiling = c->srv->cfg->read_max_bytes;
	struct buf src, dst;
	sbxd_code rv;

	buf_init(&src, ceiling);
	buf_init(&dst, ceiling);
	if ((rv = ctrfs_read_file(&t->ctr, t->path, &src, &c->err)) == SBXD_NOT_FOUND)
		err_set(&c->err, rv, "File '%s' not found", t->path);
	else if (rv == SBXD_OK &&
	    (rv = fsops_edit_text(&src, rq->old_string.data, rq->old_string.len,
	    rq->new_string.data, rq->new_string.len, rq->replace_all, &dst, n,
	    t->path, &c->err)) == SBXD_OK &&
	    (rv = ctrfs_write_file(&t->ctr, t->path, dst.data ? dst.data : "", dst.len, 0,
	    ceiling, &c->err)) != SBXD_OK)
		*n = 0;
	buf_fini(&src);
	buf_fini(&dst);
	return rv;
}

sbxd_code
h_edit(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__EditRequest *rq = (const void *)in;
	Sbx__V1__EditResponse *rs = (void *)out;
	struct target t;
	uint64_t n = 0;
	sbxd_code rv;

	if (rq->old_string.len == 0)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "old_string is empty; give the text to replace");
	if ((rv = target_open(c, rq->session_id, rq->path, LEAF_FOLLOW, &t)) != SBXD_OK)
		goto out;
	if (t.in_ws)
		rv = fsops_edit(&t.root, t.path, rq->old_string.data, rq->old_string.len,
		    rq->new_string.data, rq->new_string.len, rq->replace_all,
		    c->srv->cfg->read_max_bytes, &n, &c->err);
	else
		rv = edit_in_container(c, &t, rq, &n);
	rs->occurrences = n;
out:
	target_close(&t);
	return rv;
}

sbxd_code
h_mkdir(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__MkdirRequest *rq = (const void *)in;
	struct target t;
	sbxd_code rv;

	(void)out;
	if ((rv = target_open(c, rq->session_id, rq->path, LEAF_OWN, &t)) == SBXD_OK)
		rv = t.in_ws ? fsops_mkdir(&t.root, t.path, rq->parents, &c->err) :
		    ctrfs_mkdir(&t.ctr, t.path, rq->parents, &c->err);
	target_close(&t);
	return rv;
}

sbxd_code
h_remove(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__RemoveRequest *rq = (const void *)in;
	struct target t;
	sbxd_code rv;

	(void)out;
	if ((rv = target_open(c, rq->session_id, rq->path, LEAF_OWN, &t)) == SBXD_OK)
		rv = t.in_ws ? fsops_remove(&t.root, t.path, rq->recursive, &c->err) :
		    ctrfs_remove(&t.ctr, t.path, rq->recursive, &c->err);
	target_close(&t);
	return rv;
}

sbxd_code
h_move(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__MoveRequest *rq = (const void *)in;
	struct target from, to;
	sbxd_code rv;

	(void)out;
	to.in_ws = 1;
	to.root.fd = -1;
	if ((rv = target_open(c, rq->session_id, rq->from, LEAF_OWN, &from)) != SBXD_OK ||
	    (rv = target_open(c, rq->session_id, rq->to, LEAF_OWN, &to)) != SBXD_OK)
		goto out;
	if (from.in_ws != to.in_ws)
		rv = err_set(&c->err, SBXD_INVALID_ARGUMENT, "Move stays inside /workspace or outside "
		    "it; to cross, Read (or Download) and Write (or Upload), then Remove");
	else if (from.in_ws)
		rv = fsops_move(&from.root, from.path, to.path, rq->overwrite, &c->err);
	else
		rv = ctrfs_move(&from.ctr, from.path, to.path, rq->overwrite, &c->err);
out:
	target_close(&from);
	target_close(&to);
	return rv;
}

/* Glob and Grep: the workspace on the host, elsewhere in the container. */
static sbxd_code
search_target(struct call *c, const char *sid, const char *path, struct target *t)
{
	return target_open(c, sid, path[0] ? path : "/workspace", LEAF_FOLLOW, t);
}

static size_t
cap_results(uint32_t asked, size_t dflt)
{
	return asked == 0 ? dflt : asked > RESULTS_MAX ? RESULTS_MAX : asked;
}

sbxd_code
h_glob(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__GlobRequest *rq = (const void *)in;
	Sbx__V1__GlobResponse *rs = (void *)out;
	struct infos l = { .c = c };
	struct target t;
	int truncated = 0;
	sbxd_code rv;

	if (rq->pattern[0] == '\0')
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "pattern is empty; try \"**/*\"");
	if (strlen(rq->pattern) > FSOPS_PATH_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "pattern longer than %d bytes", FSOPS_PATH_MAX);
	if ((rv = search_target(c, rq->session_id, rq->path, &t)) != SBXD_OK)
		goto out;
	l.in_ws = t.in_ws;
	if (t.in_ws)
		rv = fsops_glob(&t.root, t.path, rq->pattern, cap_results(rq->max_results,
		    GLOB_DEFAULT), rq->newest_first, infos_add, &l, &truncated, &c->err);
	else
		rv = ctrfs_glob(&t.ctr, t.path, rq->pattern, cap_results(rq->max_results,
		    GLOB_DEFAULT), rq->newest_first, infos_add, &l, &truncated, &c->err);
	if (rv == SBXD_OK && l.failed)
		rv = oom(c);
	rs->files = l.v;
	rs->n_files = l.n;
	rs->truncated = truncated;
out:
	target_close(&t);
	return rv;
}

/* Collects Grep results in the shape of the requested mode. */
struct grep_out {
	struct call *c;
	Sbx__V1__GrepResponse *rs;
	enum fsops_grep_mode mode;
	size_t cap;
	int in_ws;
	int failed;
};

static int
grep_add(void *arg, const char *rel, uint64_t line_number, const char *line, size_t linelen,
    uint64_t count)
{
	struct grep_out *g = arg;
	Sbx__V1__GrepResponse *rs = g->rs;
	struct call *c = g->c;
	char *path = shown(c, g->in_ws, rel);

	if (path == NULL)
		goto fail;
	if (g->mode == FSOPS_GREP_CONTENT) {
		Sbx__V1__GrepMatch *m = arena_alloc(c->out, sizeof(*m));

		if (m == NULL)
			goto fail;
		sbx__v1__grep_match__init(m);
		m->path = path;
		if (raw_if_needed(c, path, &m->raw_path))
			goto fail;
		m->line_number = line_number;
		m->line.len = linelen < GREP_LINE_MAX ? linelen : GREP_LINE_MAX;
		linelen = m->line.len;
		if (linelen && (m->line.data = arena_memdup(c->out, line, linelen)) == NULL)
			goto fail;
		rs->matches[rs->n_matches++] = m;
	} else if (g->mode == FSOPS_GREP_COUNT) {
		Sbx__V1__GrepCount *k = arena_alloc(c->out, sizeof(*k));

		if (k == NULL)
			goto fail;
		sbx__v1__grep_count__init(k);
		k->path = path;
		if (raw_if_needed(c, path, &k->raw_path))
			goto fail;
		k->count = count;
		rs->counts[rs->n_counts++] = k;
	} else
		rs->files[rs->n_files++] = path;
	return 0;   /* fsops_grep stops at max_results and sets truncated */
fail:
	g->failed = 1;
	return 1;
}

sbxd_code
h_grep(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__GrepRequest *rq = (const void *)in;
	Sbx__V1__GrepResponse *rs = (void *)out;
	struct fsops_grep_opts o = { 0 };
	struct grep_out g = { .c = c, .rs = rs };
	struct target t;
	int truncated = 0;
	sbxd_code rv;

	if (rq->pattern[0] == '\0')
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "pattern is empty");
	if ((int)rq->mode < 0 || (int)rq->mode > FSOPS_GREP_COUNT)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "unknown grep mode %d", (int)rq->mode);
	g.cap = cap_results(rq->max_results, GREP_DEFAULT);
	g.mode = (enum fsops_grep_mode)rq->mode;
	if ((rs->matches = arena_calloc(c->out, g.cap, sizeof(*rs->matches))) == NULL ||
	    (rs->files = arena_calloc(c->out, g.cap, sizeof(*rs->files))) == NULL ||
	    (rs->counts = arena_calloc(c->out, g.cap, sizeof(*rs->counts))) == NULL)
		return oom(c);
	if ((rv = search_target(c, rq->session_id, rq->path, &t)) != SBXD_OK)
		goto out;
	g.in_ws = t.in_ws;
	o = (struct fsops_grep_opts){ .pattern = rq->pattern, .case_insensitive = rq->case_insensitive,
	    .glob = rq->glob, .include_hidden = rq->include_hidden, .mode = (enum fsops_grep_mode)rq->mode,
	    .max_results = g.cap, .max_file = c->srv->cfg->read_max_bytes };
	rv = t.in_ws ? fsops_grep(&t.root, t.path, &o, grep_add, &g, &truncated, &c->err) :
	    ctrfs_grep(&t.ctr, t.path, &o, grep_add, &g, &truncated, &c->err);
	if (rv == SBXD_OK && g.failed)
		rv = oom(c);
	rs->truncated = truncated;
out:
	target_close(&t);
	return rv;
}
