/*
 * libsbx_files.c — the file calls of libsbx beyond read and write: ls,
 * stat, mkdir, remove, move, edit, glob, grep, and the chunked transfers
 * sbx_upload and sbx_download. Results are copied out of the decoded
 * replies into caller-owned memory (sbx_file_info, sbx_grep_result).
 *
 * Transfers keep one chunk (at most XFER_CHUNK_MAX bytes) in memory at a
 * time, whatever the file's size, and hash the content here with
 * libsodium's SHA-256: an upload sends its digest for the server to check
 * before it publishes the file; a download compares its own with the one
 * the server sends on its last chunk. errno from the caller's fd and
 * libsodium's failures are translated into sbx_err here, where they occur.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "libsbx_int.h"

#define XFER_CHUNK_MAX (1u << 20)     /* bytes per UploadChunk / Download */
#define SHA256_LEN crypto_hash_sha256_BYTES

_Static_assert(SHA256_LEN == 32, "SHA-256 digests are 32 bytes on the wire");
_Static_assert((int)SBX_GREP_COUNT == (int)SBX__V1__GREP_MODE__GREP_MODE_COUNT &&
    (int)SBX_GREP_FILES == (int)SBX__V1__GREP_MODE__GREP_MODE_FILES_WITH_MATCHES,
    "sbx_grep_mode must number modes as the wire does");

/* ---------------------------------------------------------------- helpers */

/* Translates the errno of a local read or write on the caller's fd. */
static sbx_err
fd_fail(sbx_client *c, const char *what, int e)
{
	sbx_err code;

	switch (e) {
	case EBADF: case EINVAL: case ESPIPE: case EISDIR:
		code = SBX_INVALID_ARGUMENT;
		break;
	case ENOSPC: case EDQUOT: case EFBIG: case ENOMEM:
		code = SBX_RESOURCE_EXHAUSTED;
		break;
	case EIO:
		code = SBX_DATA_LOSS;
		break;
	default:
		code = SBX_UNKNOWN;
	}
	return sbxi_fail(c, code, "%s: %s", what, strerror(e));
}

static sbx_err
sodium_ready(sbx_client *c)
{
	/* Thread-safe and idempotent: 0 the first time, 1 after. */
	if (sodium_init() < 0)
		return sbxi_fail(c, SBX_INTERNAL, "libsodium failed to initialise");
	return SBX_OK;
}

/* ---------------------------------------------------------------- file info */

void
sbx_file_info_fini(sbx_file_info *fi)
{
	if (fi == NULL)
		return;
	free(fi->name);
	free(fi->path);
	memset(fi, 0, sizeof(*fi));
}

void
sbx_file_info_list_free(sbx_file_info *arr, size_t n)
{
	for (size_t i = 0; arr != NULL && i < n; i++)
		sbx_file_info_fini(&arr[i]);
	free(arr);
}

/* A name as C callers want it: the exact bytes on disk. sbxd sends raw
 * bytes beside a name that is not UTF-8 (the string then holds U+FFFD). */
static char *
name_from_wire(const char *s, const ProtobufCBinaryData *raw, int *bad)
{
	char *d;

	if (raw->len == 0 || memchr(raw->data, '\0', raw->len) != NULL)
		return sbxi_strdup(s, bad);
	if ((d = malloc(raw->len + 1)) == NULL) {
		*bad = 1;
		return NULL;
	}
	memcpy(d, raw->data, raw->len);
	d[raw->len] = '\0';
	return d;
}

/* Fills *d from the wire entry s (NULL = an empty entry). */
static sbx_err
info_from_wire(sbx_client *c, sbx_file_info *d, const Sbx__V1__FileInfo *s)
{
	static const Sbx__V1__FileInfo empty = SBX__V1__FILE_INFO__INIT;
	int bad = 0;

	if (s == NULL)
		s = &empty;
	d->name = name_from_wire(s->name, &s->raw_name, &bad);
	d->path = name_from_wire(s->path, &s->raw_path, &bad);
	d->is_dir = s->is_dir != 0;
	d->is_symlink = s->is_symlink != 0;
	d->size = s->size;
	d->mode = s->mode;
	d->mtime_unix_ms = s->mtime_unix_ms;
	if (!bad)
		return SBX_OK;
	sbx_file_info_fini(d);
	return sbxi_oom(c);
}

/* Copies n wire entries into a new array for the caller. */
static sbx_err
info_list_from_wire(sbx_client *c, Sbx__V1__FileInfo **src, size_t n,
    sbx_file_info **out, size_t *nout)
{
	sbx_file_info *v;
	size_t i;

	if (n == 0)
		return SBX_OK;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return sbxi_oom(c);
	for (i = 0; i < n; i++)
		if (info_from_wire(c, &v[i], src[i]) != SBX_OK) {
			sbx_file_info_list_free(v, i);
			return SBX_RESOURCE_EXHAUSTED;
		}
	*out = v;
	*nout = n;
	return SBX_OK;
}

/* ---------------------------------------------------------------- ls, stat */

sbx_err
sbx_ls(sbx_client *c, const char *session_id, const char *path,
    sbx_file_info **out, size_t *n, int *truncated)
{
	Sbx__V1__LsRequest req = SBX__V1__LS_REQUEST__INIT;
	Sbx__V1__LsResponse *resp = NULL;
	sbx_err rv;

	*out = NULL;
	*n = 0;
	if (truncated != NULL)
		*truncated = 0;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.path = (char *)(path != NULL ? path : "");
	rv = CALL(c, SVC_SANDBOX "Ls", 0, &req, sbx__v1__ls_response, &resp);
	if (rv == SBX_OK)
		rv = info_list_from_wire(c, resp->entries, resp->n_entries, out, n);
	if (rv == SBX_OK && truncated != NULL)
		*truncated = resp->truncated != 0;
	if (resp != NULL)
		sbx__v1__ls_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_stat(sbx_client *c, const char *session_id, const char *path,
    int *exists, sbx_file_info *out)
{
	Sbx__V1__StatRequest req = SBX__V1__STAT_REQUEST__INIT;
	Sbx__V1__StatResponse *resp = NULL;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	if (exists != NULL)
		*exists = 0;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "path", path)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.path = (char *)path;
	rv = CALL(c, SVC_SANDBOX "Stat", 0, &req, sbx__v1__stat_response, &resp);
	if (rv != SBX_OK)
		goto out;
	if (!resp->exists) {
		if (exists == NULL)
			rv = sbxi_fail(c, SBX_NOT_FOUND, "'%s' does not exist", path);
		goto out;
	}
	if ((rv = info_from_wire(c, out, resp->info)) == SBX_OK && exists != NULL)
		*exists = 1;
out:
	if (resp != NULL)
		sbx__v1__stat_response__free_unpacked(resp, NULL);
	return rv;
}

/* ---------------------------------------------------------------- mkdir, remove, move, edit */

sbx_err
sbx_mkdir(sbx_client *c, const char *session_id, const char *path, int parents)
{
	Sbx__V1__MkdirRequest req = SBX__V1__MKDIR_REQUEST__INIT;
	sbx_err rv;

	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "path", path)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.path = (char *)path;
	req.parents = parents != 0;
	return CALL(c, SVC_SANDBOX "Mkdir", 0, &req, sbx__v1__mkdir_response, NULL);
}

sbx_err
sbx_remove(sbx_client *c, const char *session_id, const char *path,
    int recursive)
{
	Sbx__V1__RemoveRequest req = SBX__V1__REMOVE_REQUEST__INIT;
	sbx_err rv;

	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "path", path)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.path = (char *)path;
	req.recursive = recursive != 0;
	return CALL(c, SVC_SANDBOX "Remove", 0, &req, sbx__v1__remove_response,
	    NULL);
}

sbx_err
sbx_move(sbx_client *c, const char *session_id, const char *from,
    const char *to, int overwrite)
{
	Sbx__V1__MoveRequest req = SBX__V1__MOVE_REQUEST__INIT;
	sbx_err rv;

	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "path", from)) != SBX_OK ||
	    (rv = sbxi_check_id(c, "to", to)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.from = (char *)from;
	req.to = (char *)to;
	req.overwrite = overwrite != 0;
	return CALL(c, SVC_SANDBOX "Move", 0, &req, sbx__v1__move_response, NULL);
}

sbx_err
sbx_edit(sbx_client *c, const char *session_id, const char *path,
    const void *old_str, size_t old_len, const void *new_str, size_t new_len,
    int replace_all, uint64_t *occurrences)
{
	Sbx__V1__EditRequest req = SBX__V1__EDIT_REQUEST__INIT;
	Sbx__V1__EditResponse *resp = NULL;
	sbx_err rv;

	if (occurrences != NULL)
		*occurrences = 0;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "path", path)) != SBX_OK)
		return rv;
	if (old_str == NULL || old_len == 0)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "the string to replace "
		    "must not be empty");
	if (new_str == NULL && new_len > 0)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "new_len %zu but "
		    "new_str is NULL", new_len);
	req.session_id = (char *)session_id;
	req.path = (char *)path;
	req.old_string.data = (uint8_t *)old_str;
	req.old_string.len = old_len;
	req.new_string.data = (uint8_t *)new_str;
	req.new_string.len = new_len;
	req.replace_all = replace_all != 0;
	rv = CALL(c, SVC_SANDBOX "Edit", 0, &req, sbx__v1__edit_response, &resp);
	if (rv == SBX_OK && occurrences != NULL)
		*occurrences = resp->occurrences;
	if (resp != NULL)
		sbx__v1__edit_response__free_unpacked(resp, NULL);
	return rv;
}

/* ---------------------------------------------------------------- glob, grep */

sbx_err
sbx_glob(sbx_client *c, const char *session_id, const char *pattern,
    const char *path, uint32_t max_results, int newest_first,
    sbx_file_info **out, size_t *n, int *truncated)
{
	Sbx__V1__GlobRequest req = SBX__V1__GLOB_REQUEST__INIT;
	Sbx__V1__GlobResponse *resp = NULL;
	sbx_err rv;

	*out = NULL;
	*n = 0;
	if (truncated != NULL)
		*truncated = 0;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK ||
	    (rv = sbxi_check_id(c, "pattern", pattern)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.pattern = (char *)pattern;
	req.path = (char *)(path != NULL ? path : "");
	req.max_results = max_results;
	req.newest_first = newest_first != 0;
	rv = CALL(c, SVC_SANDBOX "Glob", 0, &req, sbx__v1__glob_response, &resp);
	if (rv == SBX_OK)
		rv = info_list_from_wire(c, resp->files, resp->n_files, out, n);
	if (rv == SBX_OK && truncated != NULL)
		*truncated = resp->truncated != 0;
	if (resp != NULL)
		sbx__v1__glob_response__free_unpacked(resp, NULL);
	return rv;
}

void
sbx_grep_result_fini(sbx_grep_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; r->matches != NULL && i < r->n_matches; i++) {
		free(r->matches[i].path);
		free(r->matches[i].line.data);
	}
	for (size_t i = 0; r->files != NULL && i < r->n_files; i++)
		free(r->files[i]);
	for (size_t i = 0; r->counts != NULL && i < r->n_counts; i++)
		free(r->counts[i].path);
	free(r->matches);
	free(r->files);
	free(r->counts);
	memset(r, 0, sizeof(*r));
}

/* Fills *out from the reply; the n_ counters only count what is filled,
 * so sbx_grep_result_fini cleans up after a failure part way. */
static sbx_err
grep_from_wire(sbx_client *c, const Sbx__V1__GrepResponse *r,
    sbx_grep_result *out)
{
	sbx_err rv = SBX_OK;
	int bad = 0;

	out->truncated = r->truncated != 0;
	if ((r->n_matches && (out->matches = calloc(r->n_matches, sizeof(*out->matches))) == NULL) ||
	    (r->n_files && (out->files = calloc(r->n_files, sizeof(*out->files))) == NULL) ||
	    (r->n_counts && (out->counts = calloc(r->n_counts, sizeof(*out->counts))) == NULL))
		bad = 1;
	for (size_t i = 0; !bad && i < r->n_matches; i++, out->n_matches++) {
		out->matches[i].path = name_from_wire(r->matches[i]->path, &r->matches[i]->raw_path, &bad);
		out->matches[i].line_number = r->matches[i]->line_number;
		if ((rv = sbxi_bytes_dup(c, &r->matches[i]->line,
		    &out->matches[i].line)) != SBX_OK)
			bad = 1;
	}
	for (size_t i = 0; !bad && i < r->n_files; i++, out->n_files++)
		out->files[i] = sbxi_strdup(r->files[i], &bad);
	for (size_t i = 0; !bad && i < r->n_counts; i++, out->n_counts++) {
		out->counts[i].path = name_from_wire(r->counts[i]->path, &r->counts[i]->raw_path, &bad);
		out->counts[i].count = r->counts[i]->count;
	}
	if (!bad)
		return SBX_OK;
	sbx_grep_result_fini(out);
	return rv != SBX_OK ? rv : sbxi_oom(c);   /* a failed line copy has said so */
}

sbx_err
sbx_grep(sbx_client *c, const char *session_id, const sbx_grep_opts *o,
    sbx_grep_result *out)
{
	Sbx__V1__GrepRequest req = SBX__V1__GREP_REQUEST__INIT;
	Sbx__V1__GrepResponse *resp = NULL;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	if (o == NULL || o->pattern == NULL || *o->pattern == '\0')
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "a pattern is required");
	if ((unsigned)o->mode > SBX_GREP_COUNT)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "grep mode %d: use "
		    "SBX_GREP_CONTENT, SBX_GREP_FILES or SBX_GREP_COUNT", (int)o->mode);
	req.session_id = (char *)session_id;
	req.pattern = (char *)o->pattern;
	req.path = (char *)(o->path != NULL ? o->path : "");
	req.glob = (char *)(o->glob != NULL ? o->glob : "");
	req.mode = (Sbx__V1__GrepMode)o->mode;
	req.case_insensitive = o->case_insensitive != 0;
	req.max_results = o->max_results;
	req.include_hidden = o->include_hidden != 0;
	rv = CALL(c, SVC_SANDBOX "Grep", 0, &req, sbx__v1__grep_response, &resp);
	if (rv == SBX_OK)
		rv = grep_from_wire(c, resp, out);
	if (resp != NULL)
		sbx__v1__grep_response__free_unpacked(resp, NULL);
	return rv;
}

/* ---------------------------------------------------------------- upload */

/* Reads exactly len bytes at off; a short file is FAILED_PRECONDITION. */
static sbx_err
pread_full(sbx_client *c, int fd, uint8_t *buf, size_t len, uint64_t off,
    uint64_t size)
{
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fd_fail(c, "reading the file to upload", errno);
		if (r == 0)
			return sbxi_fail(c, SBX_FAILED_PRECONDITION, "the file to "
			    "upload ends at byte %llu, before the %llu bytes "
			    "announced: did it change?",
			    (unsigned long long)(off + got), (unsigned long long)size);
		got += (size_t)r;
	}
	return SBX_OK;
}

static sbx_err
upload_begin(sbx_client *c, const char *sid, const char *path, uint64_t size,
    char **upload_id, size_t *chunk)
{
	Sbx__V1__UploadBeginRequest req = SBX__V1__UPLOAD_BEGIN_REQUEST__INIT;
	Sbx__V1__UploadBeginResponse *resp = NULL;
	sbx_err rv;

	req.session_id = (char *)sid;
	req.path = (char *)path;
	req.total_size = size;
	rv = CALL(c, SVC_SANDBOX "UploadBegin", 0, &req,
	    sbx__v1__upload_begin_response, &resp);
	if (rv == SBX_OK && resp->upload_id[0] == '\0')
		rv = sbxi_fail(c, SBX_INTERNAL, "UploadBegin for '%s' returned "
		    "no upload id", path);
	if (rv == SBX_OK && (*upload_id = strdup(resp->upload_id)) == NULL)
		rv = sbxi_oom(c);
	if (rv == SBX_OK)
		*chunk = resp->chunk_size == 0 || resp->chunk_size > XFER_CHUNK_MAX ?
		    XFER_CHUNK_MAX : resp->chunk_size;
	if (resp != NULL)
		sbx__v1__upload_begin_response__free_unpacked(resp, NULL);
	return rv;
}

static sbx_err
upload_chunk(sbx_client *c, const char *sid, const char *upload_id,
    uint64_t off, const uint8_t *data, size_t len)
{
	Sbx__V1__UploadChunkRequest req = SBX__V1__UPLOAD_CHUNK_REQUEST__INIT;

	req.session_id = (char *)sid;
	req.upload_id = (char *)upload_id;
	req.offset = off;
	req.data.data = (uint8_t *)data;
	req.data.len = len;
	return CALL(c, SVC_SANDBOX "UploadChunk", 0, &req,
	    sbx__v1__upload_chunk_response, NULL);
}

static sbx_err
upload_finish(sbx_client *c, const char *sid, const char *upload_id,
    const uint8_t digest[SHA256_LEN], uint64_t size)
{
	Sbx__V1__UploadFinishRequest req = SBX__V1__UPLOAD_FINISH_REQUEST__INIT;
	Sbx__V1__UploadFinishResponse *resp = NULL;
	sbx_err rv;

	req.session_id = (char *)sid;
	req.upload_id = (char *)upload_id;
	req.sha256.data = (uint8_t *)digest;
	req.sha256.len = SHA256_LEN;
	rv = CALL(c, SVC_SANDBOX "UploadFinish", 0, &req,
	    sbx__v1__upload_finish_response, &resp);
	if (rv == SBX_OK && resp->size != size)
		rv = sbxi_fail(c, SBX_DATA_LOSS, "the server stored %llu bytes, "
		    "%llu were sent", (unsigned long long)resp->size,
		    (unsigned long long)size);
	if (resp != NULL)
		sbx__v1__upload_finish_response__free_unpacked(resp, NULL);
	return rv;
}

/* Frees the server's upload slot after a failure, keeping the caller's
 * error (code and message) as it was. */
static void
upload_abort(sbx_client *c, const char *sid, const char *upload_id, sbx_err rv)
{
	Sbx__V1__UploadAbortRequest req = SBX__V1__UPLOAD_ABORT_REQUEST__INIT;
	char saved[512];

	snprintf(saved, sizeof(saved), "%s", sbx_last_error(c));
	req.session_id = (char *)sid;
	req.upload_id = (char *)upload_id;
	(void)CALL(c, SVC_SANDBOX "UploadAbort", 0, &req,
	    sbx__v1__upload_abort_response, NULL);
	sbxi_fail(c, rv, "%s", saved);
}

sbx_err
sbx_upload(sbx_client *c, const char *session_id, const char *path, int fd,
    uint64_t size, sbx_progress_fn progress, void *arg)
{
	crypto_hash_sha256_state st;
	uint8_t digest[SHA256_LEN];
	uint8_t *buf = NULL;
	char *upload_id = NULL;
	size_t chunk = 0, n;
	uint64_t off;
	sbx_err rv;

	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "path", path)) != SBX_OK)
		return rv;
	if (fd < 0)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "fd %d is not a file "
		    "descriptor", fd);
	if ((rv = sodium_ready(c)) != SBX_OK ||
	    (rv = upload_begin(c, session_id, path, size, &upload_id, &chunk)) != SBX_OK)
		goto out;
	if ((buf = malloc(chunk)) == NULL) {
		rv = sbxi_oom(c);
		goto out;
	}
	crypto_hash_sha256_init(&st);
	for (off = 0; off < size; off += n) {
		n = size - off < chunk ? (size_t)(size - off) : chunk;
		if ((rv = pread_full(c, fd, buf, n, off, size)) != SBX_OK ||
		    (rv = upload_chunk(c, session_id, upload_id, off, buf, n)) != SBX_OK)
			goto out;
		crypto_hash_sha256_update(&st, buf, n);
		if (progress != NULL)
			progress(arg, off + n, size);
	}
	crypto_hash_sha256_final(&st, digest);
	rv = upload_finish(c, session_id, upload_id, digest, size);
	if (rv != SBX_OK)
		free(upload_id), upload_id = NULL;   /* Finish ended it either way */
out:
	if (rv != SBX_OK && upload_id != NULL)
		upload_abort(c, session_id, upload_id, rv);
	free(buf);
	free(upload_id);
	return rv;
}

/* ---------------------------------------------------------------- download */

static sbx_err
write_full(sbx_client *c, int fd, const uint8_t *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, p, len)) < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return fd_fail(c, "writing the downloaded file", errno);
		p += w;
		len -= (size_t)w;
	}
	return SBX_OK;
}

/* Checks one Download reply against what came before it. */
static sbx_err
download_check(sbx_client *c, const char *path, const Sbx__V1__DownloadResponse *r,
    uint64_t off, uint64_t *total)
{
	if (r->data.len > XFER_CHUNK_MAX)
		return sbxi_fail(c, SBX_INTERNAL, "Download sent %zu bytes; %u "
		    "were asked for", r->data.len, XFER_CHUNK_MAX);
	if (off == 0)
		*total = r->total_size;
	else if (r->total_size != *total)
		return sbxi_fail(c, SBX_DATA_LOSS, "file changed during download: "
		    "'%s' was %llu bytes, now %llu", path,
		    (unsigned long long)*total, (unsigned long long)r->total_size);
	if (!r->eof && r->data.len == 0)
		return sbxi_fail(c, SBX_INTERNAL, "Download of '%s' sent no data "
		    "at byte %llu and no end of file", path, (unsigned long long)off);
	if (r->eof && r->sha256.len != SHA256_LEN)
		return sbxi_fail(c, SBX_INTERNAL, "Download of '%s' ended without "
		    "the file's SHA-256 (%zu bytes instead of 32)", path,
		    r->sha256.len);
	return SBX_OK;
}

/* The last reply's size and digest against what arrived. */
static sbx_err
download_verify(sbx_client *c, const char *path,
    const Sbx__V1__DownloadResponse *r, uint64_t got,
    crypto_hash_sha256_state *st)
{
	uint8_t digest[SHA256_LEN];

	crypto_hash_sha256_final(st, digest);
	if (got != r->total_size)
		return sbxi_fail(c, SBX_DATA_LOSS, "file changed during download: "
		    "'%s' ended after %llu bytes but is %llu", path,
		    (unsigned long long)got, (unsigned long long)r->total_size);
	if (sodium_memcmp(digest, r->sha256.data, SHA256_LEN) != 0)
		return sbxi_fail(c, SBX_DATA_LOSS, "file changed during download: "
		    "the SHA-256 of the %llu bytes of '%s' received differs from "
		    "the server's", (unsigned long long)got, path);
	return SBX_OK;
}

sbx_err
sbx_download(sbx_client *c, const char *session_id, const char *path, int fd,
    sbx_progress_fn progress, void *arg)
{
	Sbx__V1__DownloadRequest req = SBX__V1__DOWNLOAD_REQUEST__INIT;
	Sbx__V1__DownloadResponse *resp = NULL;
	crypto_hash_sha256_state st;
	uint64_t off = 0, total = 0;
	int eof = 0;
	sbx_err rv;

	sbxi_clear_err(c);
	if ((rv = sbxi_check_in_session(c, session_id, "path", path)) != SBX_OK)
		return rv;
	if (fd < 0)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "fd %d is not a file "
		    "descriptor", fd);
	if ((rv = sodium_ready(c)) != SBX_OK)
		return rv;
	crypto_hash_sha256_init(&st);
	req.session_id = (char *)session_id;
	req.path = (char *)path;
	req.length = XFER_CHUNK_MAX;
	while (!eof) {
		req.offset = off;
		if ((rv = CALL(c, SVC_SANDBOX "Download", 0, &req,
		    sbx__v1__download_response, &resp)) != SBX_OK ||
		    (rv = download_check(c, path, resp, off, &total)) != SBX_OK ||
		    (rv = write_full(c, fd, resp->data.data, resp->data.len)) != SBX_OK)
			break;
		crypto_hash_sha256_update(&st, resp->data.data, resp->data.len);
		off += resp->data.len;
		if (progress != NULL)
			progress(arg, off, total);
		if ((eof = resp->eof != 0))
			rv = download_verify(c, path, resp, off, &st);
		sbx__v1__download_response__free_unpacked(resp, NULL);
		resp = NULL;
	}
	if (resp != NULL)
		sbx__v1__download_response__free_unpacked(resp, NULL);
	return rv;
}
