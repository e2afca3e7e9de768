/*
 * libsbx_session.c — the SessionService calls of libsbx (create,
 * get-or-create, get, list, end) and the conversions between sbx_session
 * and the wire Session: every string the caller gets is a copy it frees
 * with sbx_session_fini or sbx_session_list_free; labels going out point
 * into the caller's strings and only their array is allocated here.
 */
#include <stdlib.h>
#include <string.h>

#include "libsbx_int.h"

_Static_assert((int)SBX_SESSION_FAILED ==
    (int)SBX__V1__SESSION_STATE__SESSION_STATE_FAILED,
    "sbx_session_state must number states as the wire does");

static const char *const state_names[] = {
	"UNSPECIFIED", "CREATING", "RUNNING", "STOPPED", "ENDED", "FAILED",
};

const char *
sbx_session_state_name(sbx_session_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "UNSPECIFIED";
	return state_names[s];
}

static void
labels_free(sbx_label *l, size_t n)
{
	for (size_t i = 0; l != NULL && i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

void
sbx_session_fini(sbx_session *s)
{
	if (s == NULL)
		return;
	free(s->session_id);
	free(s->user_id);
	free(s->runtime);
	free(s->container_id);
	free(s->workspace_path);
	free(s->stop_reason);
	free(s->isolation);
	for (size_t i = 0; s->egress_allow != NULL && i < s->n_egress_allow; i++)
		free(s->egress_allow[i]);
	free(s->egress_allow);
	labels_free(s->labels, s->n_labels);
	memset(s, 0, sizeof(*s));
}

void
sbx_session_list_free(sbx_session *sessions, size_t n)
{
	for (size_t i = 0; sessions != NULL && i < n; i++)
		sbx_session_fini(&sessions[i]);
	free(sessions);
}

/* See libsbx_int.h. */
void
sbxi_limits_from_wire(sbx_limits *d, const Sbx__V1__Limits *s)
{
	if (s == NULL)
		return;
	d->memory_bytes = s->memory_bytes;
	d->nano_cpus = s->nano_cpus;
	d->pids = s->pids;
	d->exec_timeout_ms = s->exec_timeout_ms;
}

/* Fills *d from the wire session s (NULL = an empty session). */
static sbx_err
session_from_wire(sbx_client *c, sbx_session *d, const Sbx__V1__Session *s)
{
	static const Sbx__V1__Session empty = SBX__V1__SESSION__INIT;
	int bad = 0;

	if (s == NULL)
		s = &empty;
	memset(d, 0, sizeof(*d));
	d->session_id = sbxi_strdup(s->session_id, &bad);
	d->user_id = sbxi_strdup(s->user_id, &bad);
	d->runtime = sbxi_strdup(s->runtime, &bad);
	d->container_id = sbxi_strdup(s->container_id, &bad);
	d->workspace_path = sbxi_strdup(s->workspace_path, &bad);
	d->stop_reason = sbxi_strdup(s->stop_reason, &bad);
	d->isolation = sbxi_strdup(s->isolation, &bad);
	d->state = (sbx_session_state)s->state;
	d->created_unix_ms = s->created_unix_ms;
	d->last_active_unix_ms = s->last_active_unix_ms;
	d->idle_timeout_ms = s->idle_timeout_ms;
	sbxi_limits_from_wire(&d->limits, s->limits);
	if (s->usage != NULL) {
		d->usage.memory_bytes = s->usage->memory_bytes;
		d->usage.memory_limit_bytes = s->usage->memory_limit_bytes;
		d->usage.cpu_percent = s->usage->cpu_percent;
		d->usage.pids = s->usage->pids;
		d->usage.oom_kills = s->usage->oom_kills;
		d->usage.disk_bytes = s->usage->disk_bytes;
		d->usage.disk_limit_bytes = s->usage->disk_limit_bytes;
	}
	if (s->n_labels > 0 &&
	    (d->labels = calloc(s->n_labels, sizeof(*d->labels))) == NULL)
		bad = 1;
	for (size_t i = 0; d->labels != NULL && i < s->n_labels; i++, d->n_labels++) {
		d->labels[i].key = sbxi_strdup(s->labels[i]->key, &bad);
		d->labels[i].value = sbxi_strdup(s->labels[i]->value, &bad);
	}
	d->egress = s->egress != 0;
	if (s->n_egress_allow > 0 &&
	    (d->egress_allow = calloc(s->n_egress_allow, sizeof(char *))) == NULL)
		bad = 1;
	for (size_t i = 0; d->egress_allow != NULL && i < s->n_egress_allow; i++)
		d->egress_allow[d->n_egress_allow++] = sbxi_strdup(s->egress_allow[i], &bad);
	if (!bad)
		return SBX_OK;
	sbx_session_fini(d);
	return sbxi_oom(c);
}

/* Wire labels pointing into the caller's strings; free the result only. */
static sbx_err
labels_to_wire(sbx_client *c, const sbx_label *l, size_t n,
    Sbx__V1__Label ***out)
{
	Sbx__V1__Label *cells, **ptrs;

	*out = NULL;
	if (n == 0)
		return SBX_OK;
	if (l == NULL)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT,
		    "n_labels is %zu but labels is NULL", n);
	/* one block: n pointers, then n cells */
	if ((ptrs = calloc(n, sizeof(*ptrs) + sizeof(*cells))) == NULL)
		return sbxi_oom(c);
	cells = (Sbx__V1__Label *)(ptrs + n);
	for (size_t i = 0; i < n; i++) {
		sbx__v1__label__init(&cells[i]);
		cells[i].key = l[i].key ? l[i].key : "";
		cells[i].value = l[i].value ? l[i].value : "";
		ptrs[i] = &cells[i];
	}
	*out = ptrs;
	return SBX_OK;
}

/* The fields CreateSession and GetOrCreateSession share. */
struct create_fields {
	Sbx__V1__Limits limits;
	Sbx__V1__Label **labels;
};

static sbx_err
create_fields_init(sbx_client *c, const sbx_session_create_opts *o,
    struct create_fields *f)
{
	sbx_err rv;

	sbx__v1__limits__init(&f->limits);
	f->labels = NULL;
	if (o == NULL)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "session options are required");
	if ((rv = sbxi_check_id(c, "user_id", o->user_id)) != SBX_OK)
		return rv;
	f->limits.memory_bytes = o->limits.memory_bytes;
	f->limits.nano_cpus = o->limits.nano_cpus;
	f->limits.pids = o->limits.pids;
	f->limits.exec_timeout_ms = o->limits.exec_timeout_ms;
	return labels_to_wire(c, o->labels, o->n_labels, &f->labels);
}

/* Takes the session and token from a reply into the caller's hands. */
static sbx_err
session_out(sbx_client *c, const Sbx__V1__Session *s, const char *token,
    sbx_session *out, char **token_out)
{
	sbx_err rv;

	if ((rv = session_from_wire(c, out, s)) != SBX_OK)
		return rv;
	if (token_out == NULL || token == NULL || *token == '\0')
		return SBX_OK;
	if ((*token_out = strdup(token)) == NULL) {
		sbx_session_fini(out);
		return sbxi_oom(c);
	}
	return SBX_OK;
}

/* CreateSessionRequest and GetOrCreateSessionRequest carry the same
 * fields under the same names; one macro fills either. */
#define CREATE_FIELDS_SET(req, opts, f) do {					\
	(req)->user_id = (char *)(opts)->user_id;				\
	(req)->runtime = (char *)((opts)->runtime ? (opts)->runtime : "");	\
	(req)->limits = &(f)->limits;						\
	(req)->labels = (f)->labels;						\
	(req)->n_labels = (opts)->n_labels;					\
	(req)->idle_timeout_ms = (opts)->idle_timeout_ms;			\
	(req)->isolation = (char *)((opts)->isolation ? (opts)->isolation : ""); \
	(req)->egress_allow = (char **)(opts)->egress_allow;			\
	(req)->n_egress_allow = (opts)->egress_allow ? (opts)->n_egress_allow : 0; \
} while (0)

sbx_err
sbx_session_create(sbx_client *c, const sbx_session_create_opts *opts,
    sbx_session *out, char **token_out)
{
	Sbx__V1__CreateSessionRequest req = SBX__V1__CREATE_SESSION_REQUEST__INIT;
	Sbx__V1__CreateSessionResponse *resp = NULL;
	struct create_fields f;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	if (token_out != NULL)
		*token_out = NULL;
	sbxi_clear_err(c);
	if ((rv = create_fields_init(c, opts, &f)) != SBX_OK)
		return rv;
	CREATE_FIELDS_SET(&req, opts, &f);
	req.from_snapshot = (char *)(opts->from_snapshot ? opts->from_snapshot : "");
	rv = CALL(c, SVC_SESSION "CreateSession",
	    opts->from_snapshot && *opts->from_snapshot ? SBX_SNAPSHOT_TIMEOUT_MS : 0, &req,
	    sbx__v1__create_session_response, &resp);
	free(f.labels);
	if (rv == SBX_OK)
		rv = session_out(c, resp->session, resp->session_token, out, token_out);
	if (resp != NULL)
		sbx__v1__create_session_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_session_get_or_create(sbx_client *c, const sbx_session_create_opts *opts,
    sbx_session *out, int *created, char **token_out)
{
	Sbx__V1__GetOrCreateSessionRequest req = SBX__V1__GET_OR_CREATE_SESSION_REQUEST__INIT;
	Sbx__V1__GetOrCreateSessionResponse *resp = NULL;
	struct create_fields f;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	if (created != NULL)
		*created = 0;
	if (token_out != NULL)
		*token_out = NULL;
	sbxi_clear_err(c);
	if ((rv = create_fields_init(c, opts, &f)) != SBX_OK)
		return rv;
	CREATE_FIELDS_SET(&req, opts, &f);
	rv = CALL(c, SVC_SESSION "GetOrCreateSession", 0, &req,
	    sbx__v1__get_or_create_session_response, &resp);
	free(f.labels);
	if (rv == SBX_OK)
		rv = session_out(c, resp->session, resp->session_token, out, token_out);
	if (rv == SBX_OK && created != NULL)
		*created = resp->created != 0;
	if (resp != NULL)
		sbx__v1__get_or_create_session_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_session_get(sbx_client *c, const char *session_id, sbx_session *out)
{
	Sbx__V1__GetSessionRequest req = SBX__V1__GET_SESSION_REQUEST__INIT;
	Sbx__V1__GetSessionResponse *resp = NULL;
	sbx_err rv;

	memset(out, 0, sizeof(*out));
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	rv = CALL(c, SVC_SESSION "GetSession", 0, &req,
	    sbx__v1__get_session_response, &resp);
	if (rv == SBX_OK)
		rv = session_from_wire(c, out, resp->session);
	if (resp != NULL)
		sbx__v1__get_session_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_session_set_egress(sbx_client *c, const char *session_id, const char *const *allow,
    size_t n, sbx_session *out)
{
	Sbx__V1__SetEgressRequest req = SBX__V1__SET_EGRESS_REQUEST__INIT;
	Sbx__V1__SetEgressResponse *resp = NULL;
	sbx_err rv;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	if (n > 0 && allow == NULL)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "allow is NULL but n is %zu", n);
	req.session_id = (char *)session_id;
	req.egress_allow = (char **)allow;
	req.n_egress_allow = n;
	rv = CALL(c, SVC_SESSION "SetEgress", 0, &req, sbx__v1__set_egress_response, &resp);
	if (rv == SBX_OK && out != NULL)
		rv = session_from_wire(c, out, resp->session);
	if (resp != NULL)
		sbx__v1__set_egress_response__free_unpacked(resp, NULL);
	return rv;
}

/* Copies a page of wire sessions into a new array. */
static sbx_err
sessions_from_wire(sbx_client *c, const Sbx__V1__ListSessionsResponse *r,
    sbx_session **sessions, size_t *n)
{
	sbx_session *a;
	sbx_err rv = SBX_OK;

	if (r->n_sessions == 0)
		return SBX_OK;
	if ((a = calloc(r->n_sessions, sizeof(*a))) == NULL)
		return sbxi_oom(c);
	for (size_t i = 0; i < r->n_sessions && rv == SBX_OK; i++)
		rv = session_from_wire(c, &a[i], r->sessions[i]);
	if (rv != SBX_OK) {
		sbx_session_list_free(a, r->n_sessions);
		return rv;
	}
	*sessions = a;
	*n = r->n_sessions;
	return SBX_OK;
}

sbx_err
sbx_session_list(sbx_client *c, const sbx_session_list_opts *opts,
    sbx_session **sessions, size_t *n, char **next_page)
{
	static const sbx_session_list_opts none;
	Sbx__V1__ListSessionsRequest req = SBX__V1__LIST_SESSIONS_REQUEST__INIT;
	Sbx__V1__ListSessionsResponse *resp = NULL;
	sbx_err rv;

	*sessions = NULL;
	*n = 0;
	if (next_page != NULL)
		*next_page = NULL;
	sbxi_clear_err(c);
	if (opts == NULL)
		opts = &none;
	req.user_id = (char *)(opts->user_id ? opts->user_id : "");
	req.state = (Sbx__V1__SessionState)opts->state;
	req.include_ended = opts->include_ended != 0;
	req.page_size = opts->page_size;
	req.page_token = (char *)(opts->page_token ? opts->page_token : "");
	if ((rv = labels_to_wire(c, opts->labels, opts->n_labels, &req.labels)) != SBX_OK)
		return rv;
	req.n_labels = opts->n_labels;
	rv = CALL(c, SVC_SESSION "ListSessions", 0, &req,
	    sbx__v1__list_sessions_response, &resp);
	free(req.labels);
	if (rv == SBX_OK)
		rv = sessions_from_wire(c, resp, sessions, n);
	if (rv == SBX_OK && next_page != NULL && resp->next_page_token[0] != '\0' &&
	    (*next_page = strdup(resp->next_page_token)) == NULL) {
		sbx_session_list_free(*sessions, *n);
		*sessions = NULL;
		*n = 0;
		rv = sbxi_oom(c);
	}
	if (resp != NULL)
		sbx__v1__list_sessions_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbx_session_end(sbx_client *c, const char *session_id, int purge)
{
	Sbx__V1__EndSessionRequest req = SBX__V1__END_SESSION_REQUEST__INIT;
	sbx_err rv;

	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.purge = purge != 0;
	return CALL(c, SVC_SESSION "EndSession", 0, &req,
	    sbx__v1__end_session_response, NULL);
}

sbx_err
sbx_session_rotate_token(sbx_client *c, const char *session_id, int revoke_only,
    char **token_out)
{
	Sbx__V1__RotateTokenRequest req = SBX__V1__ROTATE_TOKEN_REQUEST__INIT;
	Sbx__V1__RotateTokenResponse *resp = NULL;
	sbx_err rv;

	if (token_out != NULL)
		*token_out = NULL;
	sbxi_clear_err(c);
	if ((rv = sbxi_check_id(c, "session_id", session_id)) != SBX_OK)
		return rv;
	req.session_id = (char *)session_id;
	req.revoke_only = revoke_only != 0;
	rv = CALL(c, SVC_SESSION "RotateToken", 0, &req, sbx__v1__rotate_token_response, &resp);
	if (rv == SBX_OK && token_out != NULL && !revoke_only &&
	    (*token_out = strdup(resp->session_token)) == NULL)
		rv = sbxi_oom(c);
	if (resp != NULL)
		sbx__v1__rotate_token_response__free_unpacked(resp, NULL);
	return rv;
}

void
sbx_string_list_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

sbx_err
sbx_session_cleanup_idle(sbx_client *c, uint64_t max_idle_ms, char ***ids, size_t *n)
{
	sbx_cleanup_opts o = { .max_idle_ms = max_idle_ms };

	return sbx_session_cleanup_idle_scoped(c, &o, ids, n);
}

sbx_err
sbx_session_cleanup_idle_scoped(sbx_client *c, const sbx_cleanup_opts *opts,
    char ***ids, size_t *n)
{
	static const sbx_cleanup_opts none;
	Sbx__V1__CleanupIdleRequest req = SBX__V1__CLEANUP_IDLE_REQUEST__INIT;
	Sbx__V1__CleanupIdleResponse *resp = NULL;
	char **v = NULL;
	size_t k = 0;
	sbx_err rv;

	if (ids != NULL)
		*ids = NULL;
	*n = 0;
	sbxi_clear_err(c);
	if (opts == NULL)
		opts = &none;
	if (opts->n_user_ids > 0 && opts->user_ids == NULL)
		return sbxi_fail(c, SBX_INVALID_ARGUMENT, "n_user_ids is %zu but "
		    "user_ids is NULL", opts->n_user_ids);
	for (size_t i = 0; i < opts->n_user_ids; i++)
		if ((rv = sbxi_check_id(c, "user_ids[]", opts->user_ids[i])) != SBX_OK)
			return rv;
	req.max_idle_ms = opts->max_idle_ms;
	req.user_ids = (char **)opts->user_ids;
	req.n_user_ids = opts->n_user_ids;
	if ((rv = labels_to_wire(c, opts->labels, opts->n_labels, &req.labels)) != SBX_OK)
		return rv;
	req.n_labels = opts->n_labels;
	rv = CALL(c, SVC_SESSION "CleanupIdle", 0, &req, sbx__v1__cleanup_idle_response, &resp);
	free(req.labels);
	if (rv == SBX_OK && ids != NULL && resp->n_stopped_session_ids > 0) {
		if ((v = calloc(resp->n_stopped_session_ids, sizeof(*v))) == NULL)
			rv = sbxi_oom(c);
		for (; rv == SBX_OK && k < resp->n_stopped_session_ids; k++)
			if ((v[k] = strdup(resp->stopped_session_ids[k])) == NULL)
				rv = sbxi_oom(c);
		if (rv != SBX_OK) {
			sbx_string_list_free(v, k);
			v = NULL;
		}
	}
	if (rv == SBX_OK) {
		*n = resp->n_stopped_session_ids;
		if (ids != NULL)
			*ids = v;
	}
	if (resp != NULL)
		sbx__v1__cleanup_idle_response__free_unpacked(resp, NULL);
	return rv;
}

sbx_err
sbxi_session_from_wire(sbx_client *c, sbx_session *d, const Sbx__V1__Session *s)
{
	return session_from_wire(c, d, s);
}

sbx_err
sbxi_labels_to_wire(sbx_client *c, const sbx_label *l, size_t n, Sbx__V1__Label ***out)
{
	return labels_to_wire(c, l, n, out);
}
