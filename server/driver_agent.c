/*
 * driver_agent.c — the route seam (see driver_agent.h): a driver wrapping
 * another, sending commands and processes to the in-sandbox agent.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/agent_wire.h"
#include "agentlink.h"
#include "driver_agent.h"
#include "log.h"
#include "monotime.h"

#define CTR_BIN_DIR     "/.sbx/agent"
#define CTR_LINK_DIR    "/.sbx/link"
#define FRESH_MS        3000  /* an agent this young may still be dialling */
#define FRESH_WAIT_MS   50    /* ... and is waited for this long */
#define BUCKETS         256
#define SETTLE_MS       5000  /* a dying container's, after its agent went away */
#define NEED_UP_WAIT_MS 5000  /* driver_agent_need_link: a container just started */

struct route_entry {
	struct route_entry *next;
	char id[DRIVER_ID_MAX];
	char sid[64];
	struct agentlink *link;
	uint64_t fresh_until;         /* monotonic ms */
};

struct route {
	struct driver self;
	struct driver_ops ops;
	struct driver *inner;
	pthread_mutex_t mu;
	struct route_entry *bucket[BUCKETS];
	char bin_dir[PATH_MAX];
	char link_root[PATH_MAX];
	unsigned char key[crypto_generichash_KEYBYTES];
	atomic_int draining;
};

/* What the wrapper hands out as a driver_proc: one of the two. */
struct route_proc {
	struct agent_proc *ap;
	struct driver_proc *inner;
	struct driver *d;
	char container[128];
	uint64_t settle_until;        /* its agent lost: monotonic ms, 0 before */
};

static struct route *
R(struct driver *d)
{
	return d->impl;
}

static struct driver *
IN(struct driver *d)
{
	return R(d)->inner;
}

static unsigned
bucket_of(const char *id)
{
	unsigned h = 2166136261u;

	while (*id)
		h = (h ^ (unsigned char)*id++) * 16777619u;
	return h % BUCKETS;
}

/* ---- per-session link directories */

static int
link_dir(struct route *r, const char *sid, char *out, size_t n)
{
	if (sid[0] == '\0' || strchr(sid, '/') != NULL || strcmp(sid, "..") == 0 ||
	    strcmp(sid, ".") == 0)
		return -1;
	return snprintf(out, n, "%s/%s", r->link_root, sid) < (int)n ? 0 : -1;
}

static void
session_token(struct route *r, const char *sid, char hex[2 * 32 + 1])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), (const unsigned char *)sid, strlen(sid),
	    r->key, sizeof(r->key));
	sodium_bin2hex(hex, 2 * 32 + 1, h, sizeof(h));
}

/* Listens on the link of session sid (its directory made when mk). */
static sbxd_code
open_link(struct route *r, const char *sid, int mk, struct agentlink **out, struct err *e)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], url[PATH_MAX + 32], token[65];
	struct agentlink_opts o = { 0 };
	int fd;

	if (link_dir(r, sid, dir, sizeof(dir)) != 0)
		return err_set(e, SBXD_INVALID_ARGUMENT, "agent: bad session id");
	if (mk && mkdir(dir, 0755) != 0 && errno != EEXIST)
		return err_set(e, SBXD_INTERNAL, "agent: mkdir %s: %s", dir, strerror(errno));
	session_token(r, sid, token);
	snprintf(path, sizeof(path), "%s/token", dir);
	if (mk) {
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    0444)) < 0)
			return err_set(e, SBXD_INTERNAL, "agent: %s: %s", path, strerror(errno));
		if (write(fd, token, 64) != 64) {
			close(fd);
			return err_set(e, SBXD_INTERNAL, "agent: writing %s", path);
		}
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	unlink(path);   /* a previous sbxd's */
	snprintf(url, sizeof(url), "ipc://%s", path);
	o.url = url;
	o.session = sid;
	o.token = (const uint8_t *)token;
	o.token_len = 64;
	return agentlink_listen(&o, out, e);
}

static void
remove_link_dir(struct route *r, const char *sid)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];

	if (link_dir(r, sid, dir, sizeof(dir)) != 0)
		return;
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/token", dir);
	unlink(path);
	rmdir(dir);
}

static void
entry_add(struct route *r, const char *id, const char *sid, struct agentlink *l)
{
	struct route_entry *en = calloc(1, sizeof(*en));
	unsigned b = bucket_of(id);

	if (en == NULL) {
		agentlink_close(l);
		return;
	}
	snprintf(en->id, sizeof(en->id), "%s", id);
	snprintf(en->sid, sizeof(en->sid), "%s", sid);
	en->link = l;
	en->fresh_until = monotime_ms() + FRESH_MS;
	if (atomic_load(&r->draining))
		agentlink_drain(l);
	pthread_mutex_lock(&r->mu);
	en->next = r->bucket[b];
	r->bucket[b] = en;
	pthread_mutex_unlock(&r->mu);
}

/* Unlinks and returns the entry of id, or NULL. */
static struct route_entry *
entry_take(struct route *r, const char *id)
{
	struct route_entry **pp, *en = NULL;

	pthread_mutex_lock(&r->mu);
	for (pp = &r->bucket[bucket_of(id)]; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			en = *pp;
			*pp = en->next;
			break;
		}
	pthread_mutex_unlock(&r->mu);
	return en;
}

/* The link of id, referenced, with how fresh it is; NULL when none. */
static struct agentlink *
entry_link(struct route *r, const char *id, uint64_t *fresh_until)
{
	struct route_entry *en;
	struct agentlink *l = NULL;

	pthread_mutex_lock(&r->mu);
	for (en = r->bucket[bucket_of(id)]; en != NULL; en = en->next)
		if (strcmp(en->id, id) == 0) {
			l = en->link;
			agentlink_ref(l);
			*fresh_until = en->fresh_until;
			break;
		}
	pthread_mutex_unlock(&r->mu);
	return l;
}

static void
entry_fresh(struct route *r, const char *id)
{
	struct route_entry *en;

	pthread_mutex_lock(&r->mu);
	for (en = r->bucket[bucket_of(id)]; en != NULL; en = en->next)
		if (strcmp(en->id, id) == 0)
			en->fresh_until = monotime_ms() + FRESH_MS;
	pthread_mutex_unlock(&r->mu);
}

struct agentlink *
driver_agent_link(struct driver *d, const char *id)
{
	uint64_t fresh;

	return entry_link(R(d), id, &fresh);
}

static void ra_free(struct driver *d);

struct agentlink *
driver_agent_find_link(struct driver *d, const char *id)
{
	uint64_t fresh;

	if (d == NULL || d->ops == NULL || d->ops->free != ra_free)
		return NULL;
	return entry_link(R(d), id, &fresh);
}

sbxd_code
driver_agent_need_link(struct driver *d, const char *session_id, const char *container_id,
    const char *what, struct agentlink **out, struct err *e)
{
	struct agentlink *l = driver_agent_find_link(d, container_id);

	*out = NULL;
	if (l == NULL)
		return err_set(e, SBXD_FAILED_PRECONDITION, "session %s's sandbox has no "
		    "in-sandbox agent, and %s need one; sbxd finds sbx-agent beside "
		    "its binary or at agent_binary", session_id, what);
	if (!agentlink_up(l, NEED_UP_WAIT_MS, NULL, NULL)) {
		agentlink_unref(l);
		return err_set(e, SBXD_UNAVAILABLE, "the sandbox agent of session %s is not "
		    "connected; try again in a moment", session_id);
	}
	*out = l;
	return SBXD_OK;
}

/* The link a command of spec may take: up, and the command runs as the
 * agent's user. NULL: use the wrapped driver. An agent still fresh (its
 * container just started) is waited for FRESH_WAIT_MS, or to the end of
 * its FRESH_MS when whole: a background process waits that out (its
 * agent dials later under gVisor), since the engine's exec serves one
 * badly there: its pid is runsc's on the host, so signals miss the
 * process, and its stream is not ended when the host kills the sandbox. */
static struct agentlink *
route_for(struct route *r, const struct driver_exec_spec *spec, int whole)
{
	uint64_t fresh = 0, now;
	struct agentlink *l;
	uid_t uid;
	gid_t gid;
	char want[32];

	if ((l = entry_link(r, spec->container_id, &fresh)) == NULL)
		return NULL;
	now = monotime_ms();
	if (!agentlink_up(l, now >= fresh ? 0 : whole ? fresh - now : FRESH_WAIT_MS, &uid,
	    &gid)) {
		agentlink_unref(l);
		return NULL;
	}
	snprintf(want, sizeof(want), "%u:%u", (unsigned)uid, (unsigned)gid);
	if (spec->user != NULL && spec->user[0] != '\0' && strcmp(spec->user, want) != 0) {
		agentlink_unref(l);
		return NULL;
	}
	return l;
}

/* ---- the ops that choose a route */

static const char *
label_of(const struct driver_container_spec *spec, const char *key)
{
	for (size_t i = 0; i < spec->nlabels; i++)
		if (strcmp(spec->labels[i].key, key) == 0)
			return spec->labels[i].value;
	return NULL;
}

static sbxd_code
ra_create(struct driver *d, const struct driver_container_spec *spec,
    char id_out[DRIVER_ID_MAX], struct err *e)
{
	struct route *r = R(d);
	const char *sid = label_of(spec, "sbx.session");
	struct driver_container_spec s2;
	struct driver_mount mounts[8];
	struct agentlink *l = NULL;
	char dir[PATH_MAX], sess_arg[64];
	const char *cmd[12];
	sbxd_code rv;
	size_t i;

	if (sid == NULL || spec->nmounts + 2 > sizeof(mounts) / sizeof(mounts[0]) ||
	    link_dir(r, sid, dir, sizeof(dir)) != 0)
		return r->inner->ops->create(r->inner, spec, id_out, e);
	if (open_link(r, sid, 1, &l, e) != SBXD_OK) {
		log_warnx("agent: session %s goes without an agent: %s", sid, e->msg);
		return r->inner->ops->create(r->inner, spec, id_out, e);
	}
	s2 = *spec;
	for (i = 0; i < spec->nmounts; i++)
		mounts[i] = spec->mounts[i];
	mounts[i++] = (struct driver_mount){ r->bin_dir, CTR_BIN_DIR, 1 };
	mounts[i++] = (struct driver_mount){ dir, CTR_LINK_DIR, 1 };
	s2.mounts = mounts;
	s2.nmounts = i;
	snprintf(sess_arg, sizeof(sess_arg), "%s", sid);
	i = 0;
	cmd[i++] = CTR_BIN_DIR "/sbx-agent";
	cmd[i++] = "--supervise";
	cmd[i++] = "--url";
	cmd[i++] = "ipc://" CTR_LINK_DIR "/agent.sock";
	cmd[i++] = "--session";
	cmd[i++] = sess_arg;
	cmd[i++] = "--token-file";
	cmd[i++] = CTR_LINK_DIR "/token";
	cmd[i] = NULL;
	s2.cmd = cmd;
	if ((rv = r->inner->ops->create(r->inner, &s2, id_out, e)) != SBXD_OK) {
		agentlink_close(l);
		remove_link_dir(r, sid);
		return rv;
	}
	entry_add(r, id_out, sid, l);
	return SBXD_OK;
}

/* Starts container id. When its agent was not connected before (the
 * container had stopped), the processes of its previous run are gone and
 * their pids may be dealt out again: the link is told so, and a signal
 * for an ended process of that run reaches nothing. */
static sbxd_code
ra_start(struct driver *d, const char *id, struct err *e)
{
	struct agentlink *l = driver_agent_link(d, id);
	int was_up = l != NULL && agentlink_up(l, 0, NULL, NULL);
	sbxd_code rv = IN(d)->ops->start(IN(d), id, e);

	if (rv == SBXD_OK) {
		entry_fresh(R(d), id);
		if (l != NULL && !was_up)
			agentlink_container_restarted(l);
	}
	if (l != NULL)
		agentlink_unref(l);
	return rv;
}

static sbxd_code
ra_remove(struct driver *d, const char *id, struct err *e)
{
	struct route *r = R(d);
	struct route_entry *en;
	sbxd_code rv = r->inner->ops->remove(r->inner, id, e);

	if (rv == SBXD_OK && (en = entry_take(r, id)) != NULL) {
		agentlink_close(en->link);
		remove_link_dir(r, en->sid);
		free(en);
	}
	return rv;
}

static void
ra_adopt(struct driver *d, const char *id, const char *sid)
{
	struct route *r = R(d);
	struct agentlink *l;
	uint64_t fresh;
	char dir[PATH_MAX];
	struct stat st;
	struct err e;

	if (IN(d)->ops->adopt != NULL)
		IN(d)->ops->adopt(IN(d), id, sid);
	if ((l = entry_link(r, id, &fresh)) != NULL) {
		agentlink_unref(l);
		return;
	}
	/* only containers made with an agent have its directory */
	if (link_dir(r, sid, dir, sizeof(dir)) != 0 || stat(dir, &st) != 0)
		return;
	if (open_link(r, sid, 0, &l, &e) != SBXD_OK) {
		log_warnx("agent: session %s: %s; its commands use the engine", sid, e.msg);
		return;
	}
	entry_add(r, id, sid, l);
}

/* The host-side backstop: the agent did not end a command past its
 * timeout, so its group is killed through the wrapped driver. */
static void
backstop_kill(struct route *r, const struct driver_exec_spec *spec, int64_t pgid)
{
	char arg[32];
	const char *argv[] = { "kill", "-KILL", "--", arg, NULL };
	struct driver_exec_spec k = {
		.container_id = spec->container_id, .argv = argv, .user = spec->user,
		.timeout_ms = 10000, .max_output = 4096,
	};
	struct driver_exec_result res = { 0 };
	struct err e;

	snprintf(arg, sizeof(arg), "-%lld", (long long)pgid);
	if (pgid > 1 && r->inner->ops->exec(r->inner, &k, &res, &e) != SBXD_OK)
		log_warnx("agent: killing a stuck command from the host: %s", e.msg);
	driver_exec_result_fini(&res);
}

/* The agent went away while a command ran: answer as the engine's route
 * would have. Its container gone (the session ended, or it was removed):
 * NOT_FOUND, which the caller heals or reports; stopped (killed, OOM):
 * the command was killed with it (137); the agent back (its supervisor
 * restarted it) or nothing settled within SETTLE_MS: only the agent died,
 * and the command with it (ABORTED, as e says). The agent may die before
 * the engine calls its container stopped or gone, so this waits for one
 * of the three. */
static sbxd_code
agent_lost(struct route *r, struct agentlink *l, const struct driver_exec_spec *spec,
    struct driver_exec_result *res, struct err *e)
{
	struct driver_container_info ci;
	struct err ie;
	sbxd_code rv;
	uint64_t until = monotime_ms() + SETTLE_MS;

	for (;;) {
		rv = r->inner->ops->inspect(r->inner, spec->container_id, &ci, &ie);
		if (rv == SBXD_NOT_FOUND)
			return err_set(e, SBXD_NOT_FOUND,
			    "container %.12s went away while the command ran", spec->container_id);
		if (rv == SBXD_OK && !ci.running) {
			err_clear(e);
			res->exit_code = 128 + SIGKILL;
			return SBXD_OK;
		}
		if (agentlink_up(l, 0, NULL, NULL) || monotime_ms() >= until)
			return SBXD_ABORTED;
		{
			struct timespec ts = { 0, 20 * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
}

static sbxd_code
route_exec(struct driver *d, const struct driver_exec_spec *spec, const void *in, size_t in_len,
    int with_stdin, struct driver_exec_result *res, struct err *e)
{
	struct route *r = R(d);
	struct agentlink *l = route_for(r, spec, 0);
	int64_t stuck = 0;
	int ran = 0;
	sbxd_code rv;

	if (l != NULL) {
		rv = agentlink_exec(l, spec, in, in_len, res, &ran, &stuck, e);
		if (stuck != 0)
			backstop_kill(r, spec, stuck);
		if (rv == SBXD_ABORTED && agentlink_lost_error(e))
			rv = agent_lost(r, l, spec, res, e);
		agentlink_unref(l);
		if (ran)
			return rv;
		log_debug("agent: %s; using the engine", e->msg);
		driver_exec_result_fini(res);
		memset(res, 0, sizeof(*res));
	}
	return with_stdin ? r->inner->ops->exec_stdin(r->inner, spec, in, in_len, res, e) :
	    r->inner->ops->exec(r->inner, spec, res, e);
}

static sbxd_code
ra_exec(struct driver *d, const struct driver_exec_spec *spec, struct driver_exec_result *res,
    struct err *e)
{
	return route_exec(d, spec, NULL, 0, 0, res, e);
}

static sbxd_code
ra_exec_stdin(struct driver *d, const struct driver_exec_spec *spec, const void *in,
    size_t in_len, struct driver_exec_result *res, struct err *e)
{
	return route_exec(d, spec, in, in_len, 1, res, e);
}

static void
ra_drain(struct driver *d)
{
	struct route *r = R(d);
	struct route_entry *en;

	atomic_store(&r->draining, 1);
	pthread_mutex_lock(&r->mu);
	for (int b = 0; b < BUCKETS; b++)
		for (en = r->bucket[b]; en != NULL; en = en->next)
			agentlink_drain(en->link);
	pthread_mutex_unlock(&r->mu);
	if (r->inner->ops->drain != NULL)
		r->inner->ops->drain(r->inner);
}

/* ---- files */

/* The link for a file call on container id: up (no waiting: a file call
 * falls back at once), or NULL. */
static struct agentlink *
file_link(struct route *r, const char *id)
{
	uint64_t fresh;
	struct agentlink *l = entry_link(r, id, &fresh);

	if (l != NULL && !agentlink_up(l, 0, NULL, NULL)) {
		agentlink_unref(l);
		l = NULL;
	}
	return l;
}

static sbxd_code
ra_file_read(struct driver *d, const char *id, const char *path, struct buf *out, int *err_no,
    struct err *e)
{
	struct agent_file_reply fr = { .data = out };
	struct agentlink *l = file_link(R(d), id);
	uint64_t max = out->max < AGENT_FILE_MAX ? out->max : AGENT_FILE_MAX;
	sbxd_code rv;

	if (l == NULL)
		return SBXD_UNIMPLEMENTED;
	rv = agentlink_read_file(l, path, max, &fr, e);
	agentlink_unref(l);
	if (rv == SBXD_OK && fr.errno_value == EFBIG && out->max > AGENT_FILE_MAX) {
		buf_reset(out);
		return SBXD_UNIMPLEMENTED;   /* larger than one frame: the engine's route */
	}
	*err_no = fr.errno_value;
	return rv;
}

static sbxd_code
ra_file_write(struct driver *d, const char *id, const char *path, const void *data, size_t len,
    int append, int *err_no, struct err *e)
{
	struct agent_file_reply fr = { 0 };
	struct agentlink *l = file_link(R(d), id);
	sbxd_code rv;

	if (l == NULL)
		return SBXD_UNIMPLEMENTED;
	rv = agentlink_write_file(l, path, data, len, append, &fr, e);
	agentlink_unref(l);
	*err_no = fr.errno_value;
	return rv;
}

static sbxd_code
ra_file_stat(struct driver *d, const char *id, const char *path, struct driver_path_stat *out,
    int *err_no, struct err *e)
{
	struct agent_file_reply fr = { 0 };
	struct agentlink *l = file_link(R(d), id);
	const char *base = strrchr(path, '/');
	sbxd_code rv;

	if (l == NULL)
		return SBXD_UNIMPLEMENTED;
	rv = agentlink_stat(l, path, 0, &fr, e);
	agentlink_unref(l);
	*err_no = fr.errno_value;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", base != NULL ? base + 1 : path);
	out->size = fr.size;
	out->mode = fr.mode;
	out->mtime_ms = fr.mtime_ms;
	snprintf(out->link_target, sizeof(out->link_target), "%s", fr.link_target);
	return rv;
}

static void
ra_detach(struct driver *d)
{
	struct route *r = R(d);
	struct route_entry *en;

	pthread_mutex_lock(&r->mu);
	for (int b = 0; b < BUCKETS; b++)
		for (en = r->bucket[b]; en != NULL; en = en->next)
			agentlink_detach(en->link);
	pthread_mutex_unlock(&r->mu);
}

/* ---- processes */

#define RP(p) ((struct route_proc *)(void *)(p))

static sbxd_code
ra_proc_start(struct driver *d, const struct driver_exec_spec *spec, struct driver_proc **out,
    struct err *e)
{
	struct route *r = R(d);
	struct route_proc *rp = calloc(1, sizeof(*rp));
	struct agentlink *l;
	int ran = 0;
	sbxd_code rv;

	*out = NULL;
	if (rp == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	rp->d = d;
	snprintf(rp->container, sizeof(rp->container), "%s", spec->container_id);
	if ((l = route_for(r, spec, 1)) != NULL) {
		rv = agentlink_proc_start(l, spec, &rp->ap, &ran, e);
		agentlink_unref(l);
		if (rv == SBXD_OK || ran) {
			if (rv != SBXD_OK)
				free(rp);
			else
				*out = (struct driver_proc *)(void *)rp;
			return rv;
		}
		log_debug("agent: %s; using the engine", e->msg);
	}
	if ((rv = r->inner->ops->proc_start(r->inner, spec, &rp->inner, e)) != SBXD_OK) {
		free(rp);
		return rv;
	}
	*out = (struct driver_proc *)(void *)rp;
	return SBXD_OK;
}

/* The wrapped driver's ops for the inner processes: every wrapper has
 * the same inner kind, so the first one made is kept for them. */
static const struct driver_ops *inner_proc_ops;

static int
ra_proc_fd(struct driver_proc *p)
{
	return RP(p)->ap ? agent_proc_fd(RP(p)->ap) : inner_proc_ops->proc_fd(RP(p)->inner);
}

static sbxd_code
ra_proc_pump(struct driver_proc *p, int *eof, struct err *e)
{
	return RP(p)->ap ? agent_proc_pump(RP(p)->ap, eof, e) :
	    inner_proc_ops->proc_pump(RP(p)->inner, eof, e);
}

static sbxd_code
ra_proc_write_stdin(struct driver_proc *p, const void *data, size_t n, uint64_t timeout_ms,
    struct err *e)
{
	return RP(p)->ap ? agent_proc_write_stdin(RP(p)->ap, data, n, timeout_ms, e) :
	    inner_proc_ops->proc_write_stdin(RP(p)->inner, data, n, timeout_ms, e);
}

static sbxd_code
ra_proc_close_stdin(struct driver_proc *p, struct err *e)
{
	return RP(p)->ap ? agent_proc_close_stdin(RP(p)->ap, e) :
	    inner_proc_ops->proc_close_stdin(RP(p)->inner, e);
}

static sbxd_code
ra_proc_signal(struct driver_proc *p, int sig, int *n, struct err *e)
{
	return RP(p)->ap ? agent_proc_signal(RP(p)->ap, sig, n, e) :
	    inner_proc_ops->proc_signal(RP(p)->inner, sig, n, e);
}

/* p's agent went away while p ran: 1 once it is clear whether p went
 * with its container, as agent_lost decides for a command: the container
 * gone (NOT_FOUND in e), or stopped; or the agent back, or SETTLE_MS
 * passed (only the agent died). Until then p is reported running, and
 * asked about again: under gVisor the agent's link breaks as the
 * sandbox's kernel goes down, well before the engine and the host see
 * the container stop, and a process read as ended then would be read as
 * exited, not killed with its container. */
static int
lost_settled(struct route_proc *rp, int back, struct err *e)
{
	struct driver *in = IN(rp->d);
	struct driver_container_info ci;
	struct err ie;
	uint64_t now = monotime_ms();
	sbxd_code rv;

	if (rp->settle_until == 0)
		rp->settle_until = now + SETTLE_MS;
	rv = in->ops->inspect(in, rp->container, &ci, &ie);
	if (rv == SBXD_NOT_FOUND) {
		err_set(e, SBXD_NOT_FOUND, "container %.12s went away while the process ran",
		    rp->container);
		return 1;
	}
	return (rv == SBXD_OK && !ci.running) || back || now >= rp->settle_until;
}

static sbxd_code
ra_proc_status(struct driver_proc *p, struct driver_proc_status *st, struct err *e)
{
	struct route_proc *rp = RP(p);
	sbxd_code rv;
	int back;

	if (rp->ap == NULL)
		return inner_proc_ops->proc_status(rp->inner, st, e);
	if ((rv = agent_proc_status(rp->ap, st, e)) != SBXD_OK ||
	    !agent_proc_lost(rp->ap, &back) || rp->container[0] == '\0')
		return rv;
	err_clear(e);
	if (!lost_settled(rp, back, e))
		st->running = 1;
	return e->code != SBXD_OK ? e->code : SBXD_OK;
}

static void
ra_proc_close(struct driver_proc *p)
{
	if (RP(p)->ap == NULL)
		inner_proc_ops->proc_close(RP(p)->inner);
}

static void
ra_proc_free(struct driver_proc *p)
{
	if (RP(p)->ap != NULL)
		agent_proc_free(RP(p)->ap);
	else
		inner_proc_ops->proc_free(RP(p)->inner);
	free(RP(p));
}

static int
ra_proc_key(struct driver_proc *p, char *out, size_t n)
{
	if (RP(p)->ap == NULL)
		return -1;
	return snprintf(out, n, "agent:%llu",
	    (unsigned long long)agent_proc_call(RP(p)->ap)) < (int)n ? 0 : -1;
}

static sbxd_code
ra_proc_adopt(struct driver *d, const char *id, const char *key,
    const struct driver_exec_spec *spec, uint64_t wait_ms, struct driver_proc **out,
    struct err *e)
{
	struct route_proc *rp;
	struct agentlink *l;
	unsigned long long call;
	uint64_t fresh;
	char tail;
	sbxd_code rv;

	*out = NULL;
	if (sscanf(key, "agent:%llu%c", &call, &tail) != 1)
		return err_set(e, SBXD_NOT_FOUND, "not a process of the sandbox agent");
	if ((l = entry_link(R(d), id, &fresh)) == NULL)
		return err_set(e, SBXD_NOT_FOUND, "the container has no agent link");
	if (!agentlink_up(l, wait_ms, NULL, NULL)) {
		agentlink_unref(l);
		return err_set(e, SBXD_UNAVAILABLE, "the sandbox agent is not connected");
	}
	if ((rp = calloc(1, sizeof(*rp))) == NULL) {
		agentlink_unref(l);
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	}
	rp->d = d;
	snprintf(rp->container, sizeof(rp->container), "%s", spec->container_id);
	rv = agentlink_proc_adopt(l, (uint64_t)call, spec, &rp->ap, e);
	agentlink_unref(l);
	if (rv != SBXD_OK) {
		free(rp);
		return rv;
	}
	*out = (struct driver_proc *)(void *)rp;
	return SBXD_OK;
}

/* ---- the ops passed through unchanged */

static sbxd_code
ra_ping(struct driver *d, struct err *e)
{
	return IN(d)->ops->ping(IN(d), e);
}

static sbxd_code
ra_engine_runtime(struct driver *d, const char *name, int *present, struct err *e)
{
	return IN(d)->ops->engine_runtime(IN(d), name, present, e);
}

static sbxd_code
ra_image_present(struct driver *d, const char *image, int *present, struct err *e)
{
	return IN(d)->ops->image_present(IN(d), image, present, e);
}

static sbxd_code
ra_inspect(struct driver *d, const char *id, struct driver_container_info *out, struct err *e)
{
	return IN(d)->ops->inspect(IN(d), id, out, e);
}

static sbxd_code
ra_stop(struct driver *d, const char *id, int grace_s, struct err *e)
{
	return IN(d)->ops->stop(IN(d), id, grace_s, e);
}

static sbxd_code
ra_list(struct driver *d, const char *key, const char *value, driver_list_cb cb, void *arg,
    struct err *e)
{
	return IN(d)->ops->list(IN(d), key, value, cb, arg, e);
}

static sbxd_code
ra_archive_get(struct driver *d, const char *id, const char *path, struct buf *tar,
    struct err *e)
{
	return IN(d)->ops->archive_get(IN(d), id, path, tar, e);
}

static sbxd_code
ra_archive_put(struct driver *d, const char *id, const char *dir, const void *tar, size_t len,
    struct err *e)
{
	return IN(d)->ops->archive_put(IN(d), id, dir, tar, len, e);
}

static sbxd_code
ra_path_stat(struct driver *d, const char *id, const char *path, struct driver_path_stat *out,
    struct err *e)
{
	return IN(d)->ops->path_stat(IN(d), id, path, out, e);
}

static sbxd_code
ra_stats(struct driver *d, const char *id, struct driver_usage *out, struct err *e)
{
	return IN(d)->ops->stats(IN(d), id, out, e);
}

static sbxd_code
ra_events(struct driver *d, const char *key, const char *value, int64_t since_ns,
    driver_event_cb cb, void *arg, atomic_int *stop, struct err *e)
{
	return IN(d)->ops->events(IN(d), key, value, since_ns, cb, arg, stop, e);
}

static void
ra_reserve(struct driver *d, size_t containers)
{
	IN(d)->ops->reserve(IN(d), containers);
}

static sbxd_code
ra_commit(struct driver *d, const char *id, const struct driver_commit_spec *spec,
    struct err *e)
{
	return IN(d)->ops->commit(IN(d), id, spec, e);
}

static sbxd_code
ra_image_remove(struct driver *d, const char *image, struct err *e)
{
	return IN(d)->ops->image_remove(IN(d), image, e);
}

static sbxd_code
ra_pause(struct driver *d, const char *id, struct err *e)
{
	return IN(d)->ops->pause(IN(d), id, e);
}

static sbxd_code
ra_unpause(struct driver *d, const char *id, struct err *e)
{
	return IN(d)->ops->unpause(IN(d), id, e);
}

static sbxd_code
ra_image_size(struct driver *d, const char *image, int64_t *size, struct err *e)
{
	return IN(d)->ops->image_size(IN(d), image, size, e);
}

static sbxd_code
ra_image_list(struct driver *d, const char *key, const char *value, const char *want,
    driver_image_cb cb, void *arg, struct err *e)
{
	return IN(d)->ops->image_list(IN(d), key, value, want, cb, arg, e);
}

static void
ra_free(struct driver *d)
{
	struct route *r = R(d);
	struct route_entry *en;

	for (int b = 0; b < BUCKETS; b++)
		while ((en = r->bucket[b]) != NULL) {
			r->bucket[b] = en->next;
			agentlink_close(en->link);
			free(en);
		}
	r->inner->ops->free(r->inner);
	pthread_mutex_destroy(&r->mu);
	sodium_memzero(r->key, sizeof(r->key));
	free(r);
}

static sbxd_code
ra_net_create(struct driver *d, const struct driver_network_spec *spec, struct err *e)
{
	return IN(d)->ops->net_create(IN(d), spec, e);
}

static sbxd_code
ra_net_remove(struct driver *d, const char *name, struct err *e)
{
	return IN(d)->ops->net_remove(IN(d), name, e);
}

static sbxd_code
ra_net_connect(struct driver *d, const char *name, const char *container,
    const char *ipv4, int connect, struct err *e)
{
	return IN(d)->ops->net_connect(IN(d), name, container, ipv4, connect, e);
}

static sbxd_code
ra_signal(struct driver *d, const char *id, int sig, struct err *e)
{
	return IN(d)->ops->signal(IN(d), id, sig, e);
}

/* The ops: an op the wrapped driver lacks stays NULL, so callers see the
 * same capabilities. */
static void
fill_ops(struct driver_ops *o, const struct driver_ops *in)
{
	*o = (struct driver_ops){
		.ping = ra_ping, .image_present = ra_image_present, .create = ra_create,
		.engine_runtime = in->engine_runtime ? ra_engine_runtime : NULL,
		.start = ra_start, .inspect = ra_inspect, .stop = ra_stop,
		.remove = ra_remove, .exec = ra_exec, .list = ra_list,
		.archive_get = in->archive_get ? ra_archive_get : NULL,
		.archive_put = in->archive_put ? ra_archive_put : NULL,
		.path_stat = in->path_stat ? ra_path_stat : NULL,
		.stats = in->stats ? ra_stats : NULL,
		.events = in->events ? ra_events : NULL,
		.reserve = in->reserve ? ra_reserve : NULL,
		.drain = ra_drain,
		.commit = in->commit ? ra_commit : NULL,
		.image_remove = in->image_remove ? ra_image_remove : NULL,
		.pause = in->pause ? ra_pause : NULL,
		.unpause = in->unpause ? ra_unpause : NULL,
		.image_size = in->image_size ? ra_image_size : NULL,
		.image_list = in->image_list ? ra_image_list : NULL,
		.net_create = in->net_create ? ra_net_create : NULL,
		.net_remove = in->net_remove ? ra_net_remove : NULL,
		.net_connect = in->net_connect ? ra_net_connect : NULL,
		.signal = in->signal ? ra_signal : NULL,
		.adopt = ra_adopt,
		.file_read = ra_file_read,
		.file_write = ra_file_write,
		.file_stat = ra_file_stat,
		.free = ra_free,
	};
	if (in->proc_start != NULL) {
		o->exec_stdin = ra_exec_stdin;
		o->proc_start = ra_proc_start;
		o->proc_fd = ra_proc_fd;
		o->proc_pump = ra_proc_pump;
		o->proc_write_stdin = ra_proc_write_stdin;
		o->proc_close_stdin = ra_proc_close_stdin;
		o->proc_signal = ra_proc_signal;
		o->proc_status = ra_proc_status;
		o->proc_close = ra_proc_close;
		o->proc_free = ra_proc_free;
		o->proc_key = ra_proc_key;
		o->proc_adopt = ra_proc_adopt;
		o->detach = ra_detach;
		inner_proc_ops = in;
	}
}

/* ---- set-up */

static sbxd_code
mkdir_owned(const char *path, mode_t mode, struct err *e)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return err_set(e, SBXD_INTERNAL, "agent: mkdir %s: %s", path, strerror(errno));
	if (chmod(path, mode) != 0)
		return err_set(e, SBXD_INTERNAL, "agent: chmod %s: %s", path, strerror(errno));
	return SBXD_OK;
}

/* Copies the agent binary into bin_dir (a rename, so a running container
 * keeps its old copy until its agent restarts). */
static sbxd_code
install_binary(const char *src, const char *bin_dir, struct err *e)
{
	char tmp[PATH_MAX + 32], dst[PATH_MAX + 16], b[65536];
	int in, out = -1;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s/.sbx-agent.%d", bin_dir, (int)getpid());
	snprintf(dst, sizeof(dst), "%s/sbx-agent", bin_dir);
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(e, SBXD_FAILED_PRECONDITION, "agent: %s: %s", src, strerror(errno));
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755)) < 0) {
		close(in);
		return err_set(e, SBXD_INTERNAL, "agent: %s: %s", tmp, strerror(errno));
	}
	while ((n = read(in, b, sizeof(b))) > 0)
		if (write(out, b, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (n < 0 || fchmod(out, 0755) != 0 || close(out) != 0 || rename(tmp, dst) != 0) {
		unlink(tmp);
		return err_set(e, SBXD_INTERNAL, "agent: installing %s: %s", dst, strerror(errno));
	}
	return SBXD_OK;
}

/* The key that derives session tokens: made once, kept 0600. */
static sbxd_code
load_key(const char *path, unsigned char *key, size_t n, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0) {
		ssize_t got = read(fd, key, n);

		close(fd);
		if (got == (ssize_t)n)
			return SBXD_OK;
	}
	randombytes_buf(key, n);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 ||
	    write(fd, key, n) != (ssize_t)n) {
		if (fd >= 0)
			close(fd);
		return err_set(e, SBXD_INTERNAL, "agent: writing %s: %s", path, strerror(errno));
	}
	close(fd);
	return SBXD_OK;
}

sbxd_code
driver_agent_new(struct driver *inner, const struct driver_agent_opts *o, struct driver **out,
    struct err *e)
{
	struct route *r;
	char top[PATH_MAX - 16], keyf[PATH_MAX];
	sbxd_code rv;

	*out = NULL;
	if (sodium_init() < 0)
		return err_set(e, SBXD_INTERNAL, "libsodium did not initialise");
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	snprintf(top, sizeof(top), "%s/agent", o->state_dir);
	snprintf(r->bin_dir, sizeof(r->bin_dir), "%s/bin", top);
	snprintf(r->link_root, sizeof(r->link_root), "%s/link", top);
	snprintf(keyf, sizeof(keyf), "%s/key", top);
	if ((rv = mkdir_owned(top, 0711, e)) != SBXD_OK ||
	    (rv = mkdir_owned(r->bin_dir, 0755, e)) != SBXD_OK ||
	    (rv = mkdir_owned(r->link_root, 0711, e)) != SBXD_OK ||
	    (rv = install_binary(o->binary, r->bin_dir, e)) != SBXD_OK ||
	    (rv = load_key(keyf, r->key, sizeof(r->key), e)) != SBXD_OK) {
		free(r);
		return rv;
	}
	pthread_mutex_init(&r->mu, NULL);
	r->inner = inner;
	fill_ops(&r->ops, inner->ops);
	r->self.ops = &r->ops;
	r->self.impl = r;
	*out = &r->self;
	return SBXD_OK;
}
