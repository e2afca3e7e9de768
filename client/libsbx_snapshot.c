/*
 * libsbx_snapshot.c — Snapshot, ListSnapshots, GetSnapshot,
 * DeleteSnapshot and RestoreSession (see sbx.h).
 */
#include <stdlib.h>
#include <string.h>

#include "libsbx_int.h"

void
sbx_snapshot_fini(sbx_snapshot *s)
{
	if (s == NULL)
		return;
	free(s->snapshot_id);
	free(s->name);
	free(s->user_id);
	free(s->session_id);
	free(s->runtime);
	free(s->image);
	for (size_t i = 0; i < s->n_labels; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
	memset(s, 0, sizeof(*s));
}

void
sbx_snapshot_list_free(sbx_snapshot *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		sbx_snapshot_fini(&v[i]);
	free(v);
}

static sbx_err
snapshot_from_wire(sbx_client *c, sbx_snapshot *d, const Sbx__V1__Snapshot *s)
{
	int bad = 0;

	memset(d, 0, sizeof(*d));
	if (s == NULL)
		return sbxi_fail(c, SBX_INTERNAL, "the server's reply has no snapshot");
	d->snapshot_id = sbxi_strdup(s->snapshot_id, &bad);
	d->name = sbxi_strdup(s->name, &bad);
	d->user_id = sbxi_strdup(s->user_id, &bad);
	d->session_id = sbxi_strdup(s->session_id, &bad);
	d->runtime = sbxi_strdup(s->runtime, &bad);
	d->image = sbxi_strdup(s->image, &bad);
	d->created_unix_ms = s->created_unix_ms;
	d->frozen_ms = s->frozen_ms;
	d->workspace_bytes = s->workspace_bytes;
	d->layer_bytes = s->layer_bytes;
	for (size_t i = 0; i < s->n_kept; i++)
		d->kept_rootfs |= strcmp(s->kept[i], "rootfs") == 0;
	if (s->n_labels > 0 && (d->labels = calloc(s->n_labels, sizeof(*d->labels))) == NULL)
		bad = 1;
	for (size_t i = 0; d->labels != NULL && i < s->n_labels; i++, d->n_labels++) {
		d->labels[i].key = sbxi_strdup(s->labels[i]->key, &bad);
		d->labels[i].value = sbxi_strdup(s->labels[i]->value, &bad);
	}
	if (!bad)
		return SBX_OK;
	sbx_snapshot_fini(d);
	return sbxi_oom(c);
}

sbx_err
sbx_snapshot_create(sbx_client *c, const char *session_id, const char *name,
    const sbx_label *labels, size_t n_labels, sbx_snapshot *out)
{
	Sbx__V1__SnapshotRequest req = SBX__V1__SNAPSHOT_REQUEST__INIT;
	Sbx__V1__SnapshotResponse *resp = NULL;
	Sbx__V1__Label **wl = NULL;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK ||
	    (rv = sbxi_labels_to_wire(c, labels, n_labels, &wl)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.name = (char *)(name ? name : "");
	req.labels = wl;
	req.n_labels = n_labels;
	rv = CALL(c, SVC_SESSION "Snapshot", SBX_SNAPSHOT_TIMEOUT_MS, &req,
	    sbx__v1__snapshot_response, &resp);
	free(wl);
	if (rv == SBX_OK)
		rv = snapshot_from_wire(c, out, resp->snapshot);
	if (resp != NULL)
		sbx__v1__snapshot_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_snapshot_list(sbx_client *c, const char *user_id, const char *session_id,
    sbx_snapshot **v, size_t *n)
{
	Sbx__V1__ListSnapshotsRequest req = SBX__V1__LIST_SNAPSHOTS_REQUEST__INIT;
	Sbx__V1__ListSnapshotsResponse *resp = NULL;
	sbx_err rv;

	*v = NULL;
	*n = 0;
	sbxi_clear_err(c);
	req.user_id = (char *)(user_id ? user_id : "");
	req.session_id = (char *)(session_id ? session_id : "");
	rv = CALL(c, SVC_SESSION "ListSnapshots", 0, &req, sbx__v1__list_snapshots_response,
	    &resp);
	if (rv == SBX_OK && resp->n_snapshots > 0 &&
	    (*v = calloc(resp->n_snapshots, sizeof(**v))) == NULL)
		rv = sbxi_oom(c);
	for (size_t i = 0; rv == SBX_OK && i < resp->n_snapshots; i++, (*n)++)
		rv = snapshot_from_wire(c, &(*v)[i], resp->snapshots[i]);
	if (rv != SBX_OK) {
		sbx_snapshot_list_free(*v, *n);
		*v = NULL;
		*n = 0;
	}
	if (resp != NULL)
		sbx__v1__list_snapshots_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_snapshot_get(sbx_client *c, const char *snapshot_id, sbx_snapshot *out)
{
	Sbx__V1__GetSnapshotRequest req = SBX__V1__GET_SNAPSHOT_REQUEST__INIT;
	Sbx__V1__GetSnapshotResponse *resp = NULL;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "snapshot_id", snapshot_id)) != SBX_OK)
		return rv;
	req.snapshot_id = (char *)snapshot_id;
	rv = CALL(c, SVC_SESSION "GetSnapshot", 0, &req, sbx__v1__get_snapshot_response, &resp);
	if (rv == SBX_OK)
		rv = snapshot_from_wire(c, out, resp->snapshot);
	if (resp != NULL)
		sbx__v1__get_snapshot_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_snapshot_delete(sbx_client *c, const char *snapshot_id)
{
	Sbx__V1__DeleteSnapshotRequest req = SBX__V1__DELETE_SNAPSHOT_REQUEST__INIT;
	sbx_err rv;

	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "snapshot_id", snapshot_id)) != SBX_OK)
		return rv;
	req.snapshot_id = (char *)snapshot_id;
	return CALL(c, SVC_SESSION "DeleteSnapshot", 0, &req,
	    sbx__v1__delete_snapshot_response, NULL);
}

sbx_err
sbx_session_restore(sbx_client *c, const char *session_id, const char *snapshot_id,
    sbx_session *out)
{
	Sbx__V1__RestoreSessionRequest req = SBX__V1__RESTORE_SESSION_REQUEST__INIT;
	Sbx__V1__RestoreSessionResponse *resp = NULL;
	sbx_err rv;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK ||
	    (rv = sbxi_check_id(c, "snapshot_id", snapshot_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.snapshot_id = (char *)snapshot_id;
	rv = CALL(c, SVC_SESSION "RestoreSession", SBX_SNAPSHOT_TIMEOUT_MS, &req,
	    sbx__v1__restore_session_response, &resp);
	if (rv == SBX_OK && out != NULL)
		rv = sbxi_session_from_wire(c, out, resp->session);
	if (resp != NULL)
		sbx__v1__restore_session_response__free_unpacked(resp, NULL);
	return rv;
}
