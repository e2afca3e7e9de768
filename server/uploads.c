/*
 * uploads.c — the table of chunked uploads in progress (see uploads.h).
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "server.h"
#include "uploads.h"

void
uploads_init(struct uploads *u)
{
	memset(u->slots, 0, sizeof(u->slots));
	pthread_mutex_init(&u->mu, NULL);
}

void
uploads_fini(struct uploads *u)
{
	pthread_mutex_destroy(&u->mu);
}

/* Removes an abandoned upload's temporary file; called without the lock. */
static void
discard(const struct upload *up, uid_t uid, gid_t gid)
{
	struct fsops_root root;
	struct err e;

	if (fsops_root_open(up->workspace, uid, gid, &root, &e) != SBXD_OK)
		return;
	fsops_upload_abort(&root, up->rel, up->tmpname);
	fsops_root_close(&root);
	log_info("upload %s for session %s expired; its temporary file was removed",
	    up->id, up->session);
}

sbxd_code
uploads_add(struct uploads *u, struct upload *up, uid_t uid, gid_t gid, struct err *e)
{
	struct upload expired[UPLOAD_MAX];
	int64_t now = server_now_ms();
	int nexp = 0, mine = 0, slot = -1;
	sbxd_code rv = SBXD_OK;

	auth_random_hex(up->id, UPLOAD_ID_LEN / 2);
	up->received = 0;
	up->last_ms = now;
	up->busy = 0;
	pthread_mutex_lock(&u->mu);
	for (int i = 0; i < UPLOAD_MAX; i++) {
		struct upload *s = &u->slots[i];

		if (s->id[0] != '\0' && !s->busy && now - s->last_ms > UPLOAD_IDLE_MS) {
			expired[nexp++] = *s;
			s->id[0] = '\0';
		}
		if (s->id[0] == '\0' && slot < 0)
			slot = i;
		else if (s->id[0] != '\0' && strcmp(s->session, up->session) == 0)
			mine++;
	}
	if (slot < 0)
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED,
		    "%d uploads are in progress on this server; finish some and retry", UPLOAD_MAX);
	else if (mine >= UPLOAD_PER_SESSION)
		rv = err_set(e, SBXD_RESOURCE_EXHAUSTED,
		    "this session has %d uploads in progress; finish them first", mine);
	else
		u->slots[slot] = *up;
	pthread_mutex_unlock(&u->mu);
	for (int i = 0; i < nexp; i++)
		discard(&expired[i], uid, gid);
	return rv;
}

sbxd_code
uploads_take(struct uploads *u, const char *session, const char *id, struct upload *out,
    struct err *e)
{
	sbxd_code rv = err_set(e, SBXD_NOT_FOUND,
	    "no upload %.40s in progress for this session (unknown, finished or expired); "
	    "begin again with UploadBegin", id);

	pthread_mutex_lock(&u->mu);
	for (int i = 0; i < UPLOAD_MAX; i++) {
		struct upload *s = &u->slots[i];

		if (s->id[0] == '\0' || strcmp(s->id, id) != 0 || strcmp(s->session, session) != 0)
			continue;
		if (s->busy) {
			rv = err_set(e, SBXD_ABORTED,
			    "another chunk of upload %s is being written; send chunks one at a time", id);
			break;
		}
		s->busy = 1;
		*out = *s;
		err_clear(e);
		rv = SBXD_OK;
		break;
	}
	pthread_mutex_unlock(&u->mu);
	return rv;
}

void
uploads_put(struct uploads *u, const struct upload *up)
{
	pthread_mutex_lock(&u->mu);
	for (int i = 0; i < UPLOAD_MAX; i++) {
		struct upload *s = &u->slots[i];

		if (s->id[0] != '\0' && strcmp(s->id, up->id) == 0) {
			s->received = up->received;
			s->last_ms = server_now_ms();
			s->busy = 0;
		}
	}
	pthread_mutex_unlock(&u->mu);
}

void
uploads_drop(struct uploads *u, const char *id)
{
	pthread_mutex_lock(&u->mu);
	for (int i = 0; i < UPLOAD_MAX; i++)
		if (u->slots[i].id[0] != '\0' && strcmp(u->slots[i].id, id) == 0)
			u->slots[i].id[0] = '\0';
	pthread_mutex_unlock(&u->mu);
}
