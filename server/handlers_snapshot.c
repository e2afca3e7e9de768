/*
 * handlers_snapshot.c — Snapshot, ListSnapshots, GetSnapshot,
 * DeleteSnapshot and RestoreSession: validating each field and who may
 * reach which snapshot, then calling into snapshot.c.
 *
 * Who reaches a snapshot: the service key, any; a session token, the
 * snapshots of its session's user (PERMISSION_DENIED for another user's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"
#include "sbx/v1/sbx.pb-c.h"
#include "session.h"
#include "snapshot.h"

#define LIST_MAX 1000               /* snapshots one ListSnapshots returns */

/* The user the caller's session token belongs to, into user. */
static sbxd_code
token_user(struct call *c, char user[STORE_USER_MAX])
{
	struct session_row r;
	sbxd_code rv;

	if ((rv = store_session_get(c->srv->store, c->token_session, &r, &c->err)) != SBXD_OK)
		return rv;
	memcpy(user, r.user, STORE_USER_MAX);
	return SBXD_OK;
}

/* PERMISSION_DENIED unless the caller may reach p's snapshots of user. */
static sbxd_code
may_reach(struct call *c, const char *user, const char *what)
{
	char mine[STORE_USER_MAX];
	sbxd_code rv;

	if (c->is_service)
		return SBXD_OK;
	if ((rv = token_user(c, mine)) != SBXD_OK)
		return rv;
	if (strcmp(mine, user) != 0)
		return err_set(&c->err, SBXD_PERMISSION_DENIED, "%s belongs to another user; "
		    "a session token reaches only its own user's snapshots (use the service "
		    "key)", what);
	return SBXD_OK;
}

static sbxd_code
check_id(struct call *c, const char *id)
{
	if (!snapshot_valid_id(id))
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "snapshot_id is missing or "
		    "malformed; use the id Snapshot returned (snap- and 16 hex digits)");
	return SBXD_OK;
}

/* Loads snapshot id if the caller may reach it. */
static sbxd_code
call_snapshot(struct call *c, const char *id, struct store_snapshot *p)
{
	char what[STORE_ID_MAX + 16];
	sbxd_code rv;

	if ((rv = check_id(c, id)) != SBXD_OK ||
	    (rv = store_snapshot_get(c->srv->store, id, p, &c->err)) != SBXD_OK)
		return rv;
	snprintf(what, sizeof(what), "snapshot %s", id);
	return may_reach(c, p->user, what);
}

static Sbx__V1__Snapshot *
snapshot_msg(struct call *c, const struct store_snapshot *p)
{
	Sbx__V1__Snapshot *m = arena_alloc(c->out, sizeof(*m));
	Sbx__V1__Label **labels = arena_calloc(c->out, (size_t)p->nlabels + 1, sizeof(*labels));
	char **kept = arena_calloc(c->out, 2, sizeof(*kept));

	if (m == NULL || labels == NULL || kept == NULL)
		return NULL;
	sbx__v1__snapshot__init(m);
	m->snapshot_id = arena_strdup(c->out, p->id);
	m->name = arena_strdup(c->out, p->name);
	m->user_id = arena_strdup(c->out, p->user);
	m->session_id = arena_strdup(c->out, p->session);
	m->runtime = arena_strdup(c->out, p->runtime);
	m->image = arena_strdup(c->out, p->image);
	m->created_unix_ms = (uint64_t)p->created_ms;
	m->frozen_ms = (uint64_t)p->frozen_ms;
	m->workspace_bytes = (uint64_t)p->workspace_bytes;
	m->layer_bytes = (uint64_t)p->layer_bytes;
	kept[m->n_kept++] = "workspace";
	if (p->image[0] != '\0')
		kept[m->n_kept++] = "rootfs";
	m->kept = kept;
	for (int i = 0; i < p->nlabels; i++) {
		Sbx__V1__Label *lb = arena_alloc(c->out, sizeof(*lb));

		if (lb == NULL)
			return NULL;
		sbx__v1__label__init(lb);
		lb->key = arena_strdup(c->out, p->labels[i].key);
		lb->value = arena_strdup(c->out, p->labels[i].value);
		if (lb->key == NULL || lb->value == NULL)
			return NULL;
		labels[m->n_labels++] = lb;
	}
	m->labels = labels;
	if (!m->snapshot_id || !m->name || !m->user_id || !m->session_id || !m->runtime ||
	    !m->image)
		return NULL;
	return m;
}

static sbxd_code
set_snapshot(struct call *c, Sbx__V1__Snapshot **dst, const struct store_snapshot *p)
{
	if ((*dst = snapshot_msg(c, p)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	return SBXD_OK;
}

sbxd_code
h_snapshot(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__SnapshotRequest *rq = (const void *)in;
	Sbx__V1__SnapshotResponse *rs = (void *)out;
	struct session_label lbuf[STORE_LABEL_MAX];
	struct session_row row;
	struct store_snapshot *p;
	sbxd_code rv;

	if (rq->name[0] != '\0' && !snapshot_valid_name(rq->name))
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "snapshot name must match "
		    "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (no path characters; got %zu bytes)",
		    strlen(rq->name));
	if ((rv = call_check_labels(c, rq->labels, rq->n_labels, lbuf)) != SBXD_OK ||
	    (rv = call_session(c, rq->session_id, &row)) != SBXD_OK)
		return rv;
	if ((p = arena_alloc(c->out, sizeof(*p))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	if ((rv = snapshot_take(c->srv, &row, rq->name, lbuf, (int)rq->n_labels, p,
	    &c->err)) != SBXD_OK)
		return rv;
	return set_snapshot(c, &rs->snapshot, p);
}

sbxd_code
h_list_snapshots(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ListSnapshotsRequest *rq = (const void *)in;
	Sbx__V1__ListSnapshotsResponse *rs = (void *)out;
	char mine[STORE_USER_MAX];
	const char *user = rq->user_id[0] ? rq->user_id : NULL;
	struct store_snapshot *v;
	int n = 0;
	sbxd_code rv;

	if (user != NULL && !session_valid_user(user, strlen(user)))
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "user_id filter is not a valid "
		    "user id");
	if (rq->session_id[0] != '\0' && strlen(rq->session_id) >= STORE_ID_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "session_id filter too long");
	if (!c->is_service) {
		if ((rv = token_user(c, mine)) != SBXD_OK)
			return rv;
		if (user != NULL && strcmp(user, mine) != 0)
			return err_set(&c->err, SBXD_PERMISSION_DENIED, "a session token lists "
			    "only its own user's snapshots (user %s); use the service key", mine);
		user = mine;
	}
	if ((v = calloc(LIST_MAX, sizeof(*v))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	rv = store_snapshot_list(c->srv->store, user, rq->session_id[0] ? rq->session_id : NULL,
	    1, v, LIST_MAX, &n, &c->err);
	if (rv == SBXD_OK && (rs->snapshots = arena_calloc(c->out, (size_t)n + 1,
	    sizeof(*rs->snapshots))) == NULL)
		rv = err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	for (int i = 0; rv == SBXD_OK && i < n; i++)
		rv = set_snapshot(c, &rs->snapshots[rs->n_snapshots++], &v[i]);
	free(v);
	return rv;
}

sbxd_code
h_get_snapshot(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__GetSnapshotRequest *rq = (const void *)in;
	Sbx__V1__GetSnapshotResponse *rs = (void *)out;
	struct store_snapshot *p;
	sbxd_code rv;

	if ((p = arena_alloc(c->out, sizeof(*p))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	if ((rv = call_snapshot(c, rq->snapshot_id, p)) != SBXD_OK)
		return rv;
	return set_snapshot(c, &rs->snapshot, p);
}

sbxd_code
h_delete_snapshot(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__DeleteSnapshotRequest *rq = (const void *)in;
	struct store_snapshot *p;
	sbxd_code rv;

	(void)out;
	if ((p = arena_alloc(c->out, sizeof(*p))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	if ((rv = call_snapshot(c, rq->snapshot_id, p)) != SBXD_OK)
		return rv;
	return snapshot_delete(c->srv, p->id, &c->err);
}

sbxd_code
h_restore_session(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__RestoreSessionRequest *rq = (const void *)in;
	Sbx__V1__RestoreSessionResponse *rs = (void *)out;
	struct store_snapshot *p;
	struct session_row row;
	sbxd_code rv;

	if ((p = arena_alloc(c->out, sizeof(*p))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	if ((rv = call_session(c, rq->session_id, &row)) != SBXD_OK ||
	    (rv = call_snapshot(c, rq->snapshot_id, p)) != SBXD_OK)
		return rv;
	if (strcmp(p->user, row.user) != 0)
		return err_set(&c->err, SBXD_PERMISSION_DENIED, "snapshot %s is user %s's and "
		    "session %s is user %s's; a session is restored only to its own user's "
		    "snapshots (fork it for another user: CreateSession from_snapshot)", p->id,
		    p->user, row.id, row.user);
	if ((rv = snapshot_use(c->srv, p->id, p, &c->err)) != SBXD_OK)
		return rv;
	rv = snapshot_restore(c->srv, &row, p, &c->err);
	snapshot_unuse(p->id);
	if (rv != SBXD_OK)
		return rv;
	return call_set_session(c, &rs->session, &row);
}

sbxd_code
call_fork_snapshot(struct call *c, const char *id, const char *user,
    struct store_snapshot *p)
{
	char mine[STORE_USER_MAX];
	sbxd_code rv;

	if ((rv = check_id(c, id)) != SBXD_OK)
		return rv;
	if (!c->is_service) {
		if ((rv = token_user(c, mine)) != SBXD_OK)
			return rv;
		if (strcmp(user, mine) != 0)
			return err_set(&c->err, SBXD_PERMISSION_DENIED, "a session token forks "
			    "only for its own user (%s); forking for another user needs the "
			    "service key", mine);
	}
	if ((rv = snapshot_use(c->srv, id, p, &c->err)) != SBXD_OK)
		return rv;
	if ((rv = may_reach(c, p->user, "the snapshot")) != SBXD_OK)
		snapshot_unuse(id);
	return rv;
}
