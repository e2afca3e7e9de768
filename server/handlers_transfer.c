/*
 * handlers_transfer.c — files larger than one message: chunked uploads
 * (UploadBegin, UploadChunk, UploadFinish, or UploadAbort) into a hidden temporary file
 * that is checked (size, SHA-256) and renamed into place at the end, and
 * Download in chunks of at most 1 MiB with the whole file's SHA-256 on the
 * last one. Memory use is one chunk per call, whatever the file's size.
 * Both work inside /workspace.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dispatch.h"
#include "fsops.h"
#include "log.h"
#include "sbx/v1/sbx.pb-c.h"
#include "uploads.h"

/* Maps path into the workspace of a session the caller may reach,
 * resolved as the container would (fsops_route): a path that leads out of
 * /workspace is refused. */
static sbxd_code
open_ws(struct call *c, const char *sid, const char *path, struct session_row *row,
    struct fsops_root *root, char *rel, size_t relsz)
{
	char abs[FSOPS_PATH_MAX + 16];
	int in_ws = 0;
	sbxd_code rv;

	root->fd = -1;
	if ((rv = fsops_route_abs(path, strlen(path), abs, sizeof(abs), &in_ws, &c->err)) != SBXD_OK ||
	    (rv = call_sandbox(c, sid, row)) != SBXD_OK ||
	    (in_ws && ((rv = call_open_workspace(c, row->workspace, root)) != SBXD_OK ||
	    (rv = fsops_route_resolve(root, abs, 1, rel, relsz, &in_ws, &c->err)) != SBXD_OK)))
		return rv;
	if (!in_ws) {
		fsops_root_close(root);
		return err_set(&c->err, SBXD_UNIMPLEMENTED, "Upload and Download work inside "
		    "/workspace; for %.256s use Write and ReadBytes", path);
	}
	return SBXD_OK;
}

sbxd_code
h_upload_begin(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__UploadBeginRequest *rq = (const void *)in;
	Sbx__V1__UploadBeginResponse *rs = (void *)out;
	struct upload up = { 0 };
	struct session_row row;
	struct fsops_root root;
	sbxd_code rv;

	root.fd = -1;
	if (rq->total_size > UPLOAD_MAX_BYTES) {
		rv = err_set(&c->err, SBXD_INVALID_ARGUMENT, "total_size %llu is over the %llu-byte "
		    "limit of one upload", (unsigned long long)rq->total_size, UPLOAD_MAX_BYTES);
		goto out;
	}
	if ((rv = open_ws(c, rq->session_id, rq->path, &row, &root, up.rel, sizeof(up.rel))) != SBXD_OK)
		goto out;
	if (strcmp(up.rel, ".") == 0) {
		rv = err_set(&c->err, SBXD_INVALID_ARGUMENT, "upload needs a file path, not /workspace");
		goto out;
	}
	if ((rv = fsops_upload_open(&root, up.rel, up.tmpname, &c->err)) != SBXD_OK)
		goto out;
	snprintf(up.session, sizeof(up.session), "%s", row.id);
	snprintf(up.workspace, sizeof(up.workspace), "%s", row.workspace);
	up.total = rq->total_size;
	if ((rv = uploads_add(&c->srv->uploads, &up, c->srv->cfg->sandbox_uid,
	    c->srv->cfg->sandbox_gid, &c->err)) != SBXD_OK) {
		fsops_upload_abort(&root, up.rel, up.tmpname);
		goto out;
	}
	rs->upload_id = arena_strdup(c->out, up.id);
	rs->chunk_size = UPLOAD_CHUNK;
out:
	fsops_root_close(&root);
	return rv;
}

/* Takes the caller's upload and opens its workspace. */
static sbxd_code
take_upload(struct call *c, const char *sid, const char *id, struct upload *up,
    struct fsops_root *root)
{
	struct session_row row;
	sbxd_code rv;

	root->fd = -1;
	if ((rv = call_sandbox(c, sid, &row)) != SBXD_OK ||
	    (rv = uploads_take(&c->srv->uploads, row.id, id, up, &c->err)) != SBXD_OK)
		return rv;
	if ((rv = call_open_workspace(c, up->workspace, root)) != SBXD_OK)
		uploads_put(&c->srv->uploads, up);
	return rv;
}

sbxd_code
h_upload_chunk(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__UploadChunkRequest *rq = (const void *)in;
	Sbx__V1__UploadChunkResponse *rs = (void *)out;
	struct fsops_root root;
	struct upload up;
	sbxd_code rv;

	if (rq->data.len > UPLOAD_CHUNK)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "chunk of %zu bytes; chunks are at most %u",
		    rq->data.len, UPLOAD_CHUNK);
	if ((rv = take_upload(c, rq->session_id, rq->upload_id, &up, &root)) != SBXD_OK)
		return rv;
	if (rq->offset > up.total || rq->data.len > up.total - rq->offset)
		rv = err_set(&c->err, SBXD_OUT_OF_RANGE, "chunk at %llu+%zu passes the declared size "
		    "%llu", (unsigned long long)rq->offset, rq->data.len, (unsigned long long)up.total);
	else if ((rv = fsops_upload_write(&root, up.rel, up.tmpname, rq->offset, rq->data.data,
	    rq->data.len, &c->err)) == SBXD_OK)
		up.received += rq->data.len;
	rs->received = up.received;
	if (rv == SBXD_OK || rv == SBXD_OUT_OF_RANGE)
		uploads_put(&c->srv->uploads, &up);
	else {
		/* The temporary file is in doubt (disk full, I/O error): the
		 * upload ends here and its slot is free for the next one. */
		fsops_upload_abort(&root, up.rel, up.tmpname);
		uploads_drop(&c->srv->uploads, up.id);
		err_wrap(&c->err, "upload %s abandoned: ", up.id);
	}
	fsops_root_close(&root);
	return rv;
}

sbxd_code
h_upload_finish(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__UploadFinishRequest *rq = (const void *)in;
	Sbx__V1__UploadFinishResponse *rs = (void *)out;
	struct fsops_root root;
	struct upload up;
	sbxd_code rv;

	if (rq->sha256.len != 0 && rq->sha256.len != crypto_hash_sha256_BYTES)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "sha256 must be 32 bytes (or empty)");
	if ((rv = take_upload(c, rq->session_id, rq->upload_id, &up, &root)) != SBXD_OK)
		return rv;
	rv = fsops_upload_finish(&root, up.rel, up.tmpname, up.total,
	    rq->sha256.len ? rq->sha256.data : NULL, &c->err);
	/* Finished or failed, the temporary file is gone: so is the upload. */
	uploads_drop(&c->srv->uploads, up.id);
	if (rv == SBXD_OK) {
		rs->size = up.total;
		log_info("session %s: upload of %llu bytes to /workspace/%s finished", up.session,
		    (unsigned long long)up.total, up.rel);
	}
	fsops_root_close(&root);
	return rv;
}

sbxd_code
h_upload_abort(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__UploadAbortRequest *rq = (const void *)in;
	struct fsops_root root;
	struct upload up;
	sbxd_code rv;

	(void)out;
	if ((rv = take_upload(c, rq->session_id, rq->upload_id, &up, &root)) != SBXD_OK)
		return rv;
	fsops_upload_abort(&root, up.rel, up.tmpname);
	uploads_drop(&c->srv->uploads, up.id);
	fsops_root_close(&root);
	return SBXD_OK;
}

/* SHA-256 of a whole workspace file, read in chunks. */
static sbxd_code
file_sha256(struct call *c, struct fsops_root *root, const char *rel, uint8_t *out,
    uint64_t *size)
{
	crypto_hash_sha256_state st;
	struct buf b;
	uint64_t off = 0, sz = 0;
	sbxd_code rv = SBXD_OK;

	crypto_hash_sha256_init(&st);
	buf_init(&b, UPLOAD_CHUNK);
	do {
		buf_reset(&b);
		if ((rv = fsops_read_range(root, rel, off, UPLOAD_CHUNK, &b, &sz, &c->err)) != SBXD_OK)
			break;
		crypto_hash_sha256_update(&st, (const unsigned char *)b.data, b.len);
		off += b.len;
	} while (b.len > 0 && off < sz);
	buf_fini(&b);
	crypto_hash_sha256_final(&st, out);
	*size = off;
	return rv;
}

sbxd_code
h_download(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__DownloadRequest *rq = (const void *)in;
	Sbx__V1__DownloadResponse *rs = (void *)out;
	size_t want = rq->length && rq->length < UPLOAD_CHUNK ? rq->length : UPLOAD_CHUNK;
	char rel[FSOPS_PATH_MAX + 1];
	struct session_row row;
	struct fsops_root root;
	uint64_t size = 0, hashed = 0;
	struct buf b;
	uint8_t *sha;
	sbxd_code rv;

	buf_init(&b, want);
	if ((rv = open_ws(c, rq->session_id, rq->path, &row, &root, rel, sizeof(rel))) != SBXD_OK ||
	    (rv = fsops_read_range(&root, rel, rq->offset, want, &b, &size, &c->err)) != SBXD_OK)
		goto out;
	rs->total_size = size;
	rs->data.len = b.len;
	if (b.len && (rs->data.data = arena_memdup(c->out, b.data, b.len)) == NULL) {
		rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
		goto out;
	}
	rs->eof = rq->offset + b.len >= size;
	if (rs->eof) {
		if ((sha = arena_alloc(c->out, crypto_hash_sha256_BYTES)) == NULL ||
		    (rv = file_sha256(c, &root, rel, sha, &hashed)) != SBXD_OK)
			goto out;
		rs->sha256.data = sha;
		rs->sha256.len = crypto_hash_sha256_BYTES;
		if (hashed != size)
			rv = err_set(&c->err, SBXD_ABORTED, "/workspace/%s changed while it was read; "
			    "download it again", rel);
	}
out:
	buf_fini(&b);
	fsops_root_close(&root);
	return rv;
}
