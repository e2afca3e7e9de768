/*
 * uploads.h — chunked uploads in progress. An upload is a temporary file
 * in the destination's directory (fsops_upload_*) plus a row here that
 * ties its random id to the session, the destination and the declared
 * size, so a chunk can only land in the upload its session began. Rows
 * idle for UPLOAD_IDLE_MS are dropped (and their temporary files removed)
 * the next time a new upload begins.
 */
#ifndef SBXD_UPLOADS_H
#define SBXD_UPLOADS_H

#include <pthread.h>
#include <stdint.h>

#include "err.h"
#include "fsops.h"
#include "store.h"

#define UPLOAD_MAX 128              /* in progress on one server */
#define UPLOAD_PER_SESSION 8
#define UPLOAD_CHUNK (1u << 20)
#define UPLOAD_MAX_BYTES (64ULL << 30)  /* one file; disk space is the real bound */
#define UPLOAD_IDLE_MS (60 * 60 * 1000)
#define UPLOAD_ID_LEN 32

struct upload {
	char id[UPLOAD_ID_LEN + 1];
	char session[STORE_ID_MAX];
	char workspace[STORE_PATH_MAX];
	char rel[FSOPS_PATH_MAX + 1];
	char tmpname[256];
	uint64_t total;
	uint64_t received;
	int64_t last_ms;
	int busy;                       /* a chunk or finish is running on it */
};

struct uploads {
	pthread_mutex_t mu;
	struct upload slots[UPLOAD_MAX];
};

void uploads_init(struct uploads *u);
void uploads_fini(struct uploads *u);
/* Records a new upload (id filled in here); RESOURCE_EXHAUSTED when the
 * server or the session has too many in progress. Drops expired rows. */
sbxd_code uploads_add(struct uploads *u, struct upload *up, uid_t uid, gid_t gid,
    struct err *e);
/* Takes the upload id of session (marking it busy) into *out; NOT_FOUND
 * when there is none (unknown, expired or another session's). */
sbxd_code uploads_take(struct uploads *u, const char *session, const char *id,
    struct upload *out, struct err *e);
/* Returns a taken upload with its new received count and activity time. */
void uploads_put(struct uploads *u, const struct upload *up);
/* Forgets a taken upload (finished or failed). */
void uploads_drop(struct uploads *u, const char *id);

#endif
