/*
 * handlers_session.c — SessionService: validating each request field, then
 * calling into session.c and store.c, then shaping the reply.
 */
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "egress.h"
#include "isolation.h"
#include "lifecycle.h"
#include "log.h"
#include "logbus.h"
#include "metrics.h"
#include "sbx/v1/sbx.pb-c.h"
#include "quota.h"
#include "session.h"
#include "shares.h"
#include "snapshot.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define CLEANUP_MAX 1000            /* sessions one CleanupIdle stops */
#define CLEANUP_USERS_MAX 1000      /* user_ids in one CleanupIdle */

static int
valid_session_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= STORE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

/* Takes the session's share of the command workers for a long call
 * (one per call, however often it looks the session up); 0 with c->err
 * set when the session is over its share. */
static int
session_share_take(struct call *c, const char *id)
{
	char key[SHARES_KEY_MAX];
	int cap = c->srv->cfg->command_calls_per_session;

	snprintf(key, sizeof(key), "session:%s", id);
	if (!shares_take(c->srv->shares, key, cap)) {
		metrics_count(METRICS_C_SHARE_REFUSED, 1);
		err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "session %s already has %d commands and "
		    "waits running (command_calls_per_session); retry after one of them ends, "
		    "e.g. in 100 ms", id, cap);
		return 0;
	}
	snprintf(c->session_share, sizeof(c->session_share), "%s", id);
	return 1;
}

sbxd_code
call_session_reach(struct call *c, const char *id)
{
	if (!valid_session_id(id))
		return err_set(&c->err, SBXD_INVALID_ARGUMENT,
		    "session_id is missing or malformed; use the id CreateSession returned");
	if (!c->is_service && strcmp(c->token_session, id) != 0)
		return err_set(&c->err, SBXD_PERMISSION_DENIED,
		    "this session token does not reach session %s", id);
	if (c->is_long && c->session_share[0] == '\0' && !session_share_take(c, id))
		return c->err.code;
	return SBXD_OK;
}

sbxd_code
call_session(struct call *c, const char *id, struct session_row *out)
{
	sbxd_code rv;

	if ((rv = call_session_reach(c, id)) != SBXD_OK)
		return rv;
	return store_session_get(c->srv->store, id, out, &c->err);
}

void
call_session_share_give(struct call *c)
{
	char key[SHARES_KEY_MAX];

	if (c->session_share[0] == '\0')
		return;
	snprintf(key, sizeof(key), "session:%s", c->session_share);
	shares_give(c->srv->shares, key);
	c->session_share[0] = '\0';
}

static Sbx__V1__Session *
session_msg(struct call *c, const struct session_row *r)
{
	Sbx__V1__Session *s = arena_alloc(c->out, sizeof(*s));
	Sbx__V1__Limits *l = arena_alloc(c->out, sizeof(*l));
	Sbx__V1__Label **labels = arena_calloc(c->out, (size_t)r->nlabels + 1, sizeof(*labels));

	if (s == NULL || l == NULL || labels == NULL)
		return NULL;
	sbx__v1__session__init(s);
	sbx__v1__limits__init(l);
	s->session_id = arena_strdup(c->out, r->id);
	s->user_id = arena_strdup(c->out, r->user);
	s->runtime = arena_strdup(c->out, r->runtime);
	s->container_id = arena_strdup(c->out, r->container_id);
	s->workspace_path = arena_strdup(c->out, r->workspace);
	s->stop_reason = arena_strdup(c->out, r->stop_reason);
	s->isolation = arena_strdup(c->out, r->isolation);
	s->state = (Sbx__V1__SessionState)r->state;
	s->created_unix_ms = (uint64_t)r->created_ms;
	s->last_active_unix_ms = (uint64_t)r->last_active_ms;
	s->idle_timeout_ms = (uint64_t)r->idle_timeout_ms;
	l->memory_bytes = (uint64_t)r->memory_bytes;
	l->nano_cpus = (uint64_t)r->nano_cpus;
	l->pids = r->pids_limit;
	l->exec_timeout_ms = (uint64_t)r->exec_timeout_ms;
	s->limits = l;
	for (int i = 0; i < r->nlabels; i++) {
		Sbx__V1__Label *lb = arena_alloc(c->out, sizeof(*lb));

		if (lb == NULL)
			return NULL;
		sbx__v1__label__init(lb);
		lb->key = arena_strdup(c->out, r->labels[i].key);
		lb->value = arena_strdup(c->out, r->labels[i].value);
		labels[s->n_labels++] = lb;
	}
	s->labels = labels;
	if (!s->session_id || !s->user_id || !s->runtime || !s->container_id ||
	    !s->workspace_path || !s->stop_reason || !s->isolation)
		return NULL;
	return s;
}

/* Fills msg's egress fields from the store: egress_allow the session's
 * list, egress 1, when it has one (else neither); exactly as much reply
 * memory as the list takes, since ListSessions does this for every row. */
static sbxd_code
session_egress_msg(struct call *c, Sbx__V1__Session *msg, const char *id)
{
	char text[EGRESS_TEXT_MAX], *copy, *save = NULL;
	size_t n = 0;
	struct err ignored;

	if (store_session_egress_get(c->srv->store, id, text, sizeof(text), &ignored) != SBXD_OK)
		return SBXD_OK;   /* network none (or unreadable: shown as none) */
	msg->egress = 1;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	if ((copy = arena_strdup(c->out, text)) == NULL ||
	    (msg->egress_allow = arena_calloc(c->out, n + 2, sizeof(char *))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	for (char *t = strtok_r(copy, "\n", &save); t != NULL && msg->n_egress_allow < n + 1;
	    t = strtok_r(NULL, "\n", &save))
		msg->egress_allow[msg->n_egress_allow++] = t;
	return SBXD_OK;
}

static sbxd_code
set_session(struct call *c, Sbx__V1__Session **dst, const struct session_row *r)
{
	if ((*dst = session_msg(c, r)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	return session_egress_msg(c, *dst, r->id);
}

static int
valid_label_key(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n >= STORE_LABEL_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
		    (k[i] >= '0' && k[i] <= '9') || strchr("._/-", k[i]) != NULL))
			return 0;
	return 1;
}

static sbxd_code
check_labels(struct call *c, Sbx__V1__Label **in, size_t n, struct session_label *out)
{
	if (n > STORE_LABEL_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "at most %d labels", STORE_LABEL_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!valid_label_key(in[i]->key))
			return err_set(&c->err, SBXD_INVALID_ARGUMENT,
			    "label key \"%.64s\" must be 1-63 characters of A-Z a-z 0-9 . _ / -", in[i]->key);
		if (strlen(in[i]->value) >= STORE_LABEL_VALUE_MAX)
			return err_set(&c->err, SBXD_INVALID_ARGUMENT,
			    "label %s: value longer than %d bytes", in[i]->key, STORE_LABEL_VALUE_MAX - 1);
		for (size_t j = 0; j < i; j++)
			if (strcmp(in[i]->key, in[j]->key) == 0)
				return err_set(&c->err, SBXD_INVALID_ARGUMENT,
				    "label %s given twice", in[i]->key);
		snprintf(out[i].key, sizeof(out[i].key), "%s", in[i]->key);
		snprintf(out[i].value, sizeof(out[i].value), "%s", in[i]->value);
	}
	return SBXD_OK;
}

sbxd_code
call_check_labels(struct call *c, Sbx__V1__Label **in, size_t n, struct session_label *out)
{
	return check_labels(c, in, n, out);
}

sbxd_code
call_set_session(struct call *c, Sbx__V1__Session **dst, const struct session_row *r)
{
	return set_session(c, dst, r);
}

static sbxd_code
check_limit(struct call *c, const char *what, int64_t v, int64_t max)
{
	if (v < 0 || v > max)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT,
		    "%s %lld is above this server's ceiling of %lld", what, (long long)v, (long long)max);
	return SBXD_OK;
}

/* "" (the runtime's), or a known isolation the config allows. */
static sbxd_code
check_isolation(struct call *c, const char *name)
{
	char list[64];
	int iso;

	if (name[0] == '\0')
		return SBXD_OK;
	isolation_names(c->srv->cfg->isolations_allowed, list, sizeof(list));
	if ((iso = isolation_parse(name)) < 0)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "isolation \"%.32s\" is not "
		    "known; give runc, gvisor or \"\" (the runtime's)", name);
	if (!(c->srv->cfg->isolations_allowed & (1u << iso)))
		return err_set(&c->err, SBXD_PERMISSION_DENIED, "isolation %s is not allowed "
		    "on this server (isolations_allowed = %s); ask for one of those, or \"\"",
		    name, list);
	return SBXD_OK;
}

/* Validates the fields CreateSession and GetOrCreateSession share. */
static sbxd_code
create_args(struct call *c, const char *user, const char *runtime, const char *isolation,
    const Sbx__V1__Limits *lim, Sbx__V1__Label **labels, size_t nlabels,
    uint64_t idle_ms, struct session_label *lbuf, struct session_create_args *a)
{
	const struct config *cfg = c->srv->cfg;
	sbxd_code rv;

	if (!session_valid_user(user, strlen(user)))
		return err_set(&c->err, SBXD_INVALID_ARGUMENT,
		    "user_id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (got %zu bytes)", strlen(user));
	if (strlen(runtime) >= STORE_NAME_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "runtime name too long");
	if ((rv = check_labels(c, labels, nlabels, lbuf)) != SBXD_OK ||
	    (rv = check_isolation(c, isolation)) != SBXD_OK)
		return rv;
	*a = (struct session_create_args){ .user = user, .runtime = runtime,
	    .isolation = isolation, .idle_timeout_ms = idle_ms, .labels = lbuf,
	    .nlabels = (int)nlabels };
	if (lim != NULL) {
		if ((rv = check_limit(c, "memory_bytes", (int64_t)lim->memory_bytes, cfg->max_memory_bytes)) ||
		    (rv = check_limit(c, "nano_cpus", (int64_t)lim->nano_cpus, cfg->max_nano_cpus)) ||
		    (rv = check_limit(c, "pids", lim->pids, cfg->max_pids_limit)))
			return rv;
		if (lim->memory_bytes != 0 && lim->memory_bytes < (6u << 20))
			return err_set(&c->err, SBXD_INVALID_ARGUMENT, "memory_bytes must be at least 6 MiB");
		a->memory_bytes = (int64_t)lim->memory_bytes;
		a->nano_cpus = (int64_t)lim->nano_cpus;
		a->pids_limit = lim->pids;
	}
	return SBXD_OK;
}

/* A request's egress_allow, checked and normalized into a->egress_allow
 * (left NULL when it has none). */
static sbxd_code
egress_arg(struct call *c, char *const *in, size_t n, struct session_create_args *a)
{
	char *allow;
	sbxd_code rv;

	if (n == 0)
		return SBXD_OK;
	if ((allow = arena_alloc(c->out, EGRESS_TEXT_MAX)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	if ((rv = egress_parse(in, n, allow, EGRESS_TEXT_MAX, &c->err)) != SBXD_OK)
		return rv;
	a->egress_allow = allow;
	return SBXD_OK;
}

sbxd_code
h_create_session(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__CreateSessionRequest *rq = (const void *)in;
	Sbx__V1__CreateSessionResponse *rs = (void *)out;
	struct session_label lbuf[STORE_LABEL_MAX];
	struct session_create_args a;
	struct session_row row;
	struct store_snapshot *snap = NULL;
	char token[AUTH_TOKEN_MAX];
	sbxd_code rv;

	/* not METHOD_SERVICE_ONLY: a session token may fork its own user's
	 * snapshots (call_fork_snapshot), and nothing else */
	if (!c->is_service && rq->from_snapshot[0] == '\0')
		return err_set(&c->err, SBXD_PERMISSION_DENIED, "%s needs a service key; a "
		    "session token reaches only its own session", c->method);
	if ((rv = create_args(c, rq->user_id, rq->runtime, rq->isolation, rq->limits, rq->labels,
	    rq->n_labels, rq->idle_timeout_ms, lbuf, &a)) != SBXD_OK)
		return rv;
	if ((rv = egress_arg(c, rq->egress_allow, rq->n_egress_allow, &a)) != SBXD_OK)
		return rv;
	if (rq->from_snapshot[0] != '\0') {
		if ((snap = arena_alloc(c->out, sizeof(*snap))) == NULL)
			return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
		if ((rv = call_fork_snapshot(c, rq->from_snapshot, rq->user_id, snap)) != SBXD_OK)
			return rv;
		if (rq->runtime[0] != '\0' && strcmp(rq->runtime, snap->runtime) != 0) {
			snapshot_unuse(snap->id);
			return err_set(&c->err, SBXD_INVALID_ARGUMENT, "snapshot %s is of runtime "
			    "%s; leave runtime empty or name that one", snap->id, snap->runtime);
		}
		a.runtime = snap->runtime;
		a.snapshot = snap;
	}
	rv = session_create(c->srv, &a, &row, token, &c->err);
	if (snap != NULL)
		snapshot_unuse(snap->id);
	if (rv != SBXD_OK)
		return rv;
	rs->session_token = arena_strdup(c->out, token);
	return set_session(c, &rs->session, &row);
}

/* Replaces a session's allowlist: the store first (what GetSession shows
 * and a restarted container gets), then the proxy's rules. */
sbxd_code
h_set_egress(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__SetEgressRequest *rq = (const void *)in;
	Sbx__V1__SetEgressResponse *rs = (void *)out;
	struct session_row row;
	char *allow = arena_alloc(c->out, EGRESS_TEXT_MAX), *old = arena_alloc(c->out,
	    EGRESS_TEXT_MAX);
	struct err ignored;
	sbxd_code rv;

	if (allow == NULL || old == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	if ((rv = call_session(c, rq->session_id, &row)) != SBXD_OK ||
	    (rv = egress_parse(rq->egress_allow, rq->n_egress_allow, allow, EGRESS_TEXT_MAX,
	    &c->err)) != SBXD_OK)
		return rv;
	if (row.state == SESSION_ENDED || row.state == SESSION_FAILED)
		return err_set(&c->err, SBXD_FAILED_PRECONDITION, "session %s has %s; its egress "
		    "cannot change", row.id, row.state == SESSION_ENDED ? "ended" : "failed");
	if (store_session_egress_get(c->srv->store, row.id, old, EGRESS_TEXT_MAX, &ignored) !=
	    SBXD_OK)
		return err_set(&c->err, SBXD_FAILED_PRECONDITION, "session %s was created without "
		    "egress_allow and runs with network none; create a new session with "
		    "egress_allow to give it egress", row.id);
	if ((rv = store_session_egress_set(c->srv->store, row.id, allow, &c->err)) != SBXD_OK)
		return rv;
	/* a stopped session whose network is gone gets the list at its start */
	if ((rv = egress_session_set(c->srv, row.id, allow, &c->err)) != SBXD_OK &&
	    row.container_id[0] != '\0')
		return rv;
	log_info("session %s: egress allowlist set (%zu entries)", row.id, rq->n_egress_allow);
	logbus_emitf(c->srv, row.id, "", "egress allowlist set: %zu entries",
	    rq->n_egress_allow);
	return set_session(c, &rs->session, &row);
}

sbxd_code
h_get_or_create_session(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__GetOrCreateSessionRequest *rq = (const void *)in;
	Sbx__V1__GetOrCreateSessionResponse *rs = (void *)out;
	struct session_label lbuf[STORE_LABEL_MAX];
	struct session_create_args a;
	struct session_row row;
	char token[AUTH_TOKEN_MAX];
	int created = 0;
	sbxd_code rv;

	if ((rv = create_args(c, rq->user_id, rq->runtime, rq->isolation, rq->limits, rq->labels,
	    rq->n_labels, rq->idle_timeout_ms, lbuf, &a)) != SBXD_OK ||
	    (rv = egress_arg(c, rq->egress_allow, rq->n_egress_allow, &a)) != SBXD_OK)
		return rv;
	if ((rv = session_get_or_create(c->srv, &a, &row, token, &created, &c->err)) != SBXD_OK)
		return rv;
	rs->created = created;
	rs->session_token = arena_strdup(c->out, token);
	return set_session(c, &rs->session, &row);
}

/* What a RUNNING session's container uses now, into *u (NULL for other
 * sessions, or when the driver cannot say: usage never fails GetSession,
 * its errors are logged at debug). A container found not running is
 * recorded (session_note_exit) and r then shows it STOPPED, with why. */
static void
session_usage(struct call *c, struct session_row *r, Sbx__V1__Usage **u)
{
	struct driver *d = c->srv->drv;
	struct driver_usage du;
	struct err e;
	sbxd_code rv;

	uint64_t disk, disk_limit;

	*u = NULL;
	quota_usage(c->srv, r->workspace, &disk, &disk_limit);
	memset(&du, 0, sizeof(du));
	rv = SBXD_FAILED_PRECONDITION;
	if (r->state == SESSION_RUNNING && r->container_id[0] != '\0' && d->ops->stats != NULL &&
	    (rv = d->ops->stats(d, r->container_id, &du, &e)) != SBXD_OK) {
		log_debug("session %s: usage: %s", r->id, e.msg);
		if (rv == SBXD_FAILED_PRECONDITION)
			session_note_exit(c->srv, r, 1);
	}
	if ((rv != SBXD_OK && disk_limit == 0) || (*u = arena_alloc(c->out, sizeof(**u))) == NULL)
		return;
	sbx__v1__usage__init(*u);
	(*u)->disk_bytes = disk;
	(*u)->disk_limit_bytes = disk_limit;
	(*u)->memory_bytes = du.memory_bytes;
	(*u)->memory_limit_bytes = du.memory_limit_bytes;
	(*u)->cpu_percent = du.cpu_percent;
	(*u)->pids = du.pids;
	(*u)->oom_kills = du.oom_kills;
}

sbxd_code
h_get_session(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__GetSessionRequest *rq = (const void *)in;
	Sbx__V1__GetSessionResponse *rs = (void *)out;
	struct session_row row;
	Sbx__V1__Usage *u;
	sbxd_code rv;

	if ((rv = call_session(c, rq->session_id, &row)) != SBXD_OK)
		return rv;
	session_usage(c, &row, &u);
	if ((rv = set_session(c, &rs->session, &row)) != SBXD_OK)
		return rv;
	rs->session->usage = u;
	return SBXD_OK;
}

sbxd_code
h_end_session(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__EndSessionRequest *rq = (const void *)in;
	Sbx__V1__EndSessionResponse *rs = (void *)out;
	struct session_row row;
	sbxd_code rv;

	if ((rv = call_session(c, rq->session_id, &row)) != SBXD_OK)
		return rv;
	if ((rv = session_end(c->srv, rq->session_id, rq->purge, &row, &c->err)) != SBXD_OK)
		return rv;
	return set_session(c, &rs->session, &row);
}

/* A session token may rotate (or revoke) its own token: call_session
 * lets it reach its own session only. The old token fails from the next
 * request on, since every request looks its hash up again. */
sbxd_code
h_rotate_token(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__RotateTokenRequest *rq = (const void *)in;
	Sbx__V1__RotateTokenResponse *rs = (void *)out;
	struct session_row row;
	char token[AUTH_TOKEN_MAX] = "", hash[AUTH_HASH_HEX] = "";
	sbxd_code rv;

	if ((rv = call_session(c, rq->session_id, &row)) != SBXD_OK)
		return rv;
	if (!rq->revoke_only) {
		if (row.state == SESSION_ENDED)
			return err_set(&c->err, SBXD_FAILED_PRECONDITION,
			    "session %s has ended; its token cannot be renewed", row.id);
		auth_token_mint(token, hash);
	}
	rv = store_session_set_token_hash(c->srv->store, row.id, hash, &c->err);
	if (rv == SBXD_NOT_FOUND && !rq->revoke_only)
		return err_set(&c->err, SBXD_FAILED_PRECONDITION,
		    "session %s has ended; its token cannot be renewed", row.id);
	if (rv != SBXD_OK)
		return rv;
	log_info("session %s: token %s", row.id, rq->revoke_only ? "revoked" : "rotated");
	if ((rs->session_token = arena_strdup(c->out, token)) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	return SBXD_OK;
}

sbxd_code
h_list_sessions(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__ListSessionsRequest *rq = (const void *)in;
	Sbx__V1__ListSessionsResponse *rs = (void *)out;
	struct session_label lbuf[STORE_LABEL_MAX];
	struct session_filter f = { 0 };
	struct session_row *rows;
	char next[STORE_ID_MAX + 32];
	int n = 0;
	sbxd_code rv;

	if (rq->user_id[0] != '\0' && !session_valid_user(rq->user_id, strlen(rq->user_id)))
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "user_id filter is not a valid user id");
	if ((int)rq->state < 0 || (int)rq->state > SESSION_FAILED)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "unknown state filter %d", rq->state);
	if (rq->page_size > LIST_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "page_size is at most %d", LIST_MAX);
	if ((rv = check_labels(c, rq->labels, rq->n_labels, lbuf)) != SBXD_OK)
		return rv;
	f = (struct session_filter){ .user = rq->user_id[0] ? rq->user_id : NULL,
	    .state = rq->state, .include_ended = rq->include_ended, .labels = lbuf,
	    .nlabels = (int)rq->n_labels, .after = rq->page_token,
	    .limit = rq->page_size ? (int)rq->page_size : LIST_DEFAULT };
	if ((rows = arena_calloc(c->out, (size_t)f.limit + 1, sizeof(*rows))) == NULL ||
	    (rs->sessions = arena_calloc(c->out, (size_t)f.limit + 1, sizeof(*rs->sessions))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	if ((rv = store_session_list(c->srv->store, &f, rows, &n, next, sizeof(next), &c->err)) != SBXD_OK)
		return rv;
	for (int i = 0; i < n; i++)
		if ((rv = set_session(c, &rs->sessions[rs->n_sessions++], &rows[i])) != SBXD_OK)
			return rv;
	rs->next_page_token = arena_strdup(c->out, next);
	return SBXD_OK;
}

/* The reaper's work on demand: stops sessions idle longer than max_idle_ms,
 * or than their own idle timeout when it is 0; none busy. Only sessions
 * carrying every one of labels and, when user_ids is not empty, of one of
 * those users: an application's housekeeping reaches its own sessions
 * only. At most CLEANUP_MAX a call (the least recently active first);
 * call again for more. */
sbxd_code
h_cleanup_idle(struct call *c, const ProtobufCMessage *in, ProtobufCMessage *out)
{
	const Sbx__V1__CleanupIdleRequest *rq = (const void *)in;
	Sbx__V1__CleanupIdleResponse *rs = (void *)out;
	struct session_label labels[STORE_LABEL_MAX];
	struct lifecycle_scope scope = { .labels = labels,
	    .users = (const char *const *)rq->user_ids, .nusers = rq->n_user_ids };
	char (*ids)[STORE_ID_MAX];
	int n = 0;
	sbxd_code rv;

	if ((rv = check_labels(c, rq->labels, rq->n_labels, labels)) != SBXD_OK)
		return rv;
	scope.nlabels = (int)rq->n_labels;
	if (rq->n_user_ids > CLEANUP_USERS_MAX)
		return err_set(&c->err, SBXD_INVALID_ARGUMENT, "at most %d user_ids; "
		    "label the sessions and scope by label instead", CLEANUP_USERS_MAX);
	for (size_t i = 0; i < rq->n_user_ids; i++)
		if (!session_valid_user(rq->user_ids[i], strlen(rq->user_ids[i])))
			return err_set(&c->err, SBXD_INVALID_ARGUMENT, "user_ids[%zu] "
			    "\"%.64s\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", i,
			    rq->user_ids[i]);
	if ((ids = arena_calloc(c->out, CLEANUP_MAX, STORE_ID_MAX)) == NULL ||
	    (rs->stopped_session_ids = arena_calloc(c->out, CLEANUP_MAX,
	    sizeof(*rs->stopped_session_ids))) == NULL)
		return err_set(&c->err, SBXD_RESOURCE_EXHAUSTED, "out of reply memory");
	if ((rv = lifecycle_reap_scoped(c->srv, rq->max_idle_ms,
	    rq->n_labels || rq->n_user_ids ? &scope : NULL, ids, CLEANUP_MAX, &n,
	    &c->err)) != SBXD_OK)
		return rv;
	for (int i = 0; i < n; i++)
		rs->stopped_session_ids[rs->n_stopped_session_ids++] = ids[i];
	if (n > 0)
		log_info("CleanupIdle (max_idle_ms %llu, %zu labels, %zu users): %d "
		    "sessions stopped", (unsigned long long)rq->max_idle_ms,
		    rq->n_labels, rq->n_user_ids, n);
	return SBXD_OK;
}
