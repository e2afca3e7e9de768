/*
 * agent_watch.c — file watches (agent_watch.h).
 *
 * Each watch owns an inotify instance and a table of its directories (wd
 * -> path relative to the root). Events go into a table of pending paths
 * for the current window, merged per path (created then modified is
 * created; created then deleted is nothing; modified then deleted is
 * deleted; a move pairs IN_MOVED_FROM with IN_MOVED_TO by cookie, and an
 * unpaired half is a deletion or a creation). Changes at a human pace are
 * sent as they come (a bucket of 3 immediate sends, refilled one per
 * window); a burst that empties the bucket waits for each window to
 * close, so it becomes one message per window. At the flush each path is stat'ed for
 * its size and time. A recursive watch adds each new directory as it
 * appears, reporting what was made in it before its watch was in place.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "agent_log.h"
#include "agent_watch.h"

enum { EV_CREATED = 1, EV_MODIFIED = 2, EV_DELETED = 3, EV_MOVED = 4, EV_RESCAN = 5 };

#define MASK (IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | \
	IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#define READS_PER_TURN 16
#define EVENTS_PER_FRAME 256
#define BYTES_PER_FRAME (512 * 1024)
#define LEADING_MAX 3               /* changes sent at once, refilled one per window */

struct wdir {
	int wd;
	char *rel;                  /* "" for the root */
};

struct pend {
	char *rel;
	char *from;                 /* moved: the old relative path */
	int first, last;
};

struct watch {
	struct watch *next;
	uint64_t id;
	int fd;
	char *root;
	int recursive;
	char **globs;
	size_t nglobs;
	struct wdir *dirs;
	size_t ndirs, capdirs;
	struct pend *pend;
	size_t npend, last_hit;
	int rescan;
	int64_t window_end, last_flush;
	int64_t refill_at;          /* the leading-edge bucket: see read_events */
	int tokens;
	uint32_t from_cookie;
	char *from_rel;             /* an IN_MOVED_FROM not yet paired */
	int from_dir;
	int done;
};

struct agent_watches {
	struct watch *head;
	size_t n;
	agent_send_fn send;
	void *arg;
	struct watch **refs;
	size_t nrefs, refcap;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		agent_fatalx("out of memory");
	return d;
}

struct agent_watches *
agent_watches_new(agent_send_fn send, void *arg)
{
	struct agent_watches *ws = calloc(1, sizeof(*ws));

	if (ws == NULL)
		agent_fatalx("out of memory");
	ws->send = send;
	ws->arg = arg;
	return ws;
}

static struct watch *
find(struct agent_watches *ws, uint64_t id)
{
	for (struct watch *w = ws->head; w != NULL; w = w->next)
		if (w->id == id && !w->done)
			return w;
	return NULL;
}

int
agent_watches_has(struct agent_watches *ws, uint64_t call)
{
	return find(ws, call) != NULL;
}

/* root/rel into buf; -1 when it does not fit. */
static int
full_path(const struct watch *w, const char *rel, char *buf, size_t cap)
{
	int n;

	if (*rel == '\0')
		n = snprintf(buf, cap, "%s", w->root);
	else
		n = snprintf(buf, cap, "%s/%s", strcmp(w->root, "/") == 0 ? "" : w->root, rel);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* dir/name as a relative path (malloc'd). */
static char *
child_rel(const char *dir, const char *name)
{
	char *s;

	if (*dir == '\0')
		return xstrdup(name);
	if (asprintf(&s, "%s/%s", dir, name) < 0)
		agent_fatalx("out of memory");
	return s;
}

/* ---- the pending table */

static int
matches(const struct watch *w, const char *rel)
{
	const char *base = strrchr(rel, '/');

	if (w->nglobs == 0)
		return 1;
	base = base != NULL ? base + 1 : rel;
	for (size_t i = 0; i < w->nglobs; i++)
		if (fnmatch(w->globs[i], strchr(w->globs[i], '/') != NULL ? rel : base, 0) == 0)
			return 1;
	return 0;
}

static struct pend *
pend_find(struct watch *w, const char *rel)
{
	if (w->last_hit < w->npend && strcmp(w->pend[w->last_hit].rel, rel) == 0)
		return &w->pend[w->last_hit];
	for (size_t i = 0; i < w->npend; i++)
		if (strcmp(w->pend[i].rel, rel) == 0) {
			w->last_hit = i;
			return &w->pend[i];
		}
	return NULL;
}

static void
pend_drop(struct watch *w, struct pend *p)
{
	free(p->rel);
	free(p->from);
	*p = w->pend[--w->npend];
}

/* Records kind for rel (from: a move's old path), merged with what the
 * window already holds for it. */
static void
pend_add(struct watch *w, const char *rel, int kind, const char *from)
{
	struct pend *p;

	if (w->rescan || (!matches(w, rel) && (from == NULL || !matches(w, from))))
		return;
	if ((p = pend_find(w, rel)) != NULL) {
		if (kind == EV_MOVED) {    /* something moved over it: it changed */
			free(p->from);
			p->from = from != NULL ? xstrdup(from) : NULL;
			if (p->first != EV_CREATED)
				p->first = EV_MOVED;
		}
		p->last = kind;
		return;
	}
	if (w->npend >= AGENT_WATCH_PENDING_MAX) {
		w->rescan = 1;    /* more changes than one window holds: look again */
		return;
	}
	if (w->pend == NULL &&
	    (w->pend = calloc(AGENT_WATCH_PENDING_MAX, sizeof(*w->pend))) == NULL)
		agent_fatalx("out of memory");
	p = &w->pend[w->npend++];
	p->rel = xstrdup(rel);
	p->from = from != NULL ? xstrdup(from) : NULL;
	p->first = p->last = kind;
}

static void
pend_clear(struct watch *w)
{
	while (w->npend > 0)
		pend_drop(w, &w->pend[w->npend - 1]);
	w->rescan = 0;
}

/* ---- directories */

static struct wdir *
dir_of(struct watch *w, int wd)
{
	for (size_t i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd)
			return &w->dirs[i];
	return NULL;
}

static void
dir_forget(struct watch *w, struct wdir *d)
{
	free(d->rel);
	*d = w->dirs[--w->ndirs];
}

/* Watches directory rel; 0, or an errno (ENOSPC: the user's limit). */
static int
dir_add(struct watch *w, const char *rel)
{
	char path[PATH_MAX];
	struct wdir *d;
	int wd;

	if (full_path(w, rel, path, sizeof(path)) != 0)
		return ENAMETOOLONG;
	if (w->ndirs >= AGENT_WATCH_DIRS_MAX)
		return ENOSPC;
	if ((wd = inotify_add_watch(w->fd, path, MASK)) < 0)
		return errno;
	if ((d = dir_of(w, wd)) != NULL) {
		free(d->rel);
		d->rel = xstrdup(rel);
		return 0;
	}
	if (w->ndirs == w->capdirs) {
		w->capdirs = w->capdirs ? w->capdirs * 2 : 16;
		if ((w->dirs = realloc(w->dirs, w->capdirs * sizeof(*w->dirs))) == NULL)
			agent_fatalx("out of memory");
	}
	w->dirs[w->ndirs].wd = wd;
	w->dirs[w->ndirs].rel = xstrdup(rel);
	w->ndirs++;
	return 0;
}

/* Watches the directories under rel (already watched itself); with
 * report, what is in them is recorded as created (it was made before
 * the watches were in place). */
static int
scan_tree(struct watch *w, const char *rel, int report)
{
	char path[PATH_MAX], *sub;
	struct dirent *de;
	struct stat st;
	int rv = 0, isdir;
	DIR *d;

	if (full_path(w, rel, path, sizeof(path)) != 0 || (d = opendir(path)) == NULL)
		return 0;    /* gone meanwhile */
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN)
			isdir = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode);
		sub = child_rel(rel, de->d_name);
		if (report)
			pend_add(w, sub, EV_CREATED, NULL);
		if (isdir && w->recursive) {
			if ((rv = dir_add(w, sub)) == 0)
				rv = scan_tree(w, sub, report);
			else if (rv == ENOENT || rv == ENOTDIR)
				rv = 0;
		}
		free(sub);
		if (rv != 0)
			break;
	}
	closedir(d);
	return rv;
}

/* Directory rel (and what was under it) was moved to to_rel inside the
 * watch, or away (to_rel NULL: its watches go). */
static void
dirs_moved(struct watch *w, const char *rel, const char *to_rel)
{
	size_t n = strlen(rel);
	char *s;

	for (size_t i = 0; i < w->ndirs;) {
		struct wdir *d = &w->dirs[i];

		if (strncmp(d->rel, rel, n) != 0 || (d->rel[n] != '\0' && d->rel[n] != '/') ||
		    *d->rel == '\0') {
			i++;
			continue;
		}
		if (to_rel == NULL) {
			(void)inotify_rm_watch(w->fd, d->wd);
			dir_forget(w, d);
			continue;
		}
		if (asprintf(&s, "%s%s", to_rel, d->rel + n) < 0)
			agent_fatalx("out of memory");
		free(d->rel);
		d->rel = s;
		i++;
	}
}

/* ---- frames */

static int
send_body(struct agent_watches *ws, uint64_t id, Sbx__Agent__V1__Frame *f)
{
	f->call = id;
	return ws->send(ws->arg, f);
}

static void
send_failed(struct agent_watches *ws, uint64_t id, int err, const char *msg)
{
	agent_send_failed(ws->send, ws->arg, id, err, msg);
}

static void
send_exited(struct agent_watches *ws, uint64_t id, int code)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Exited x = SBX__AGENT__V1__EXITED__INIT;

	x.exit_code = code;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_EXITED;
	f.exited = &x;
	(void)send_body(ws, id, &f);
}

/* Fills ev for kind at rel (stat'ed unless deleted); its strings are
 * malloc'd into the frame's own copies. */
static void
fill_event(struct watch *w, Sbx__Agent__V1__WatchEvent *ev, int kind, const char *rel,
    const char *from)
{
	char path[PATH_MAX], fpath[PATH_MAX];
	struct stat st;

	sbx__agent__v1__watch_event__init(ev);
	ev->kind = (uint32_t)kind;
	if (full_path(w, rel, path, sizeof(path)) != 0)
		path[0] = '\0';
	ev->path.data = (uint8_t *)xstrdup(path);
	ev->path.len = strlen(path);
	if (from != NULL && full_path(w, from, fpath, sizeof(fpath)) == 0) {
		ev->from.data = (uint8_t *)xstrdup(fpath);
		ev->from.len = strlen(fpath);
	}
	if (kind != EV_DELETED && kind != EV_RESCAN && lstat(path, &st) == 0) {
		ev->size = (uint64_t)st.st_size;
		ev->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		ev->is_dir = S_ISDIR(st.st_mode);
	}
}

static void
send_batch(struct agent_watches *ws, struct watch *w, Sbx__Agent__V1__WatchEvent *evs,
    Sbx__Agent__V1__WatchEvent **ptrs, size_t n)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__WatchEvents we = SBX__AGENT__V1__WATCH_EVENTS__INIT;

	if (n == 0)
		return;
	we.events = ptrs;
	we.n_events = n;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WATCH_EVENTS;
	f.watch_events = &we;
	(void)send_body(ws, w->id, &f);
	for (size_t i = 0; i < n; i++) {
		free(evs[i].path.data);
		free(evs[i].from.data);
	}
}

/* Sends what the window holds and starts a new one. */
static void
flush(struct agent_watches *ws, struct watch *w)
{
	Sbx__Agent__V1__WatchEvent evs[EVENTS_PER_FRAME + 1], *ptrs[EVENTS_PER_FRAME + 1];
	size_t n = 0, bytes = 0;
	struct pend *p;
	int kind;

	w->window_end = 0;
	w->last_flush = now_ms();
	if (w->rescan) {
		pend_clear(w);
		fill_event(w, &evs[0], EV_RESCAN, "", NULL);
		ptrs[0] = &evs[0];
		send_batch(ws, w, evs, ptrs, 1);
		return;
	}
	for (size_t i = 0; i < w->npend; i++) {
		p = &w->pend[i];
		if (p->first == EV_CREATED)
			kind = p->last == EV_DELETED ? 0 : EV_CREATED;
		else if (p->first == EV_DELETED)
			kind = p->last == EV_DELETED ? EV_DELETED : EV_MODIFIED;
		else if (p->last == EV_DELETED)
			kind = EV_DELETED;
		else
			kind = p->first;
		if (kind == 0)
			continue;
		fill_event(w, &evs[n], kind, p->rel, kind == EV_MOVED ? p->from : NULL);
		ptrs[n] = &evs[n];
		bytes += evs[n].path.len + evs[n].from.len + 32;
		if (++n == EVENTS_PER_FRAME || bytes >= BYTES_PER_FRAME) {
			send_batch(ws, w, evs, ptrs, n);
			n = bytes = 0;
		}
	}
	send_batch(ws, w, evs, ptrs, n);
	pend_clear(w);
}

/* ---- starting and stopping */

static void
watch_free(struct watch *w)
{
	pend_clear(w);
	free(w->pend);
	for (size_t i = 0; i < w->ndirs; i++)
		free(w->dirs[i].rel);
	free(w->dirs);
	for (size_t i = 0; i < w->nglobs; i++)
		free(w->globs[i]);
	free(w->globs);
	free(w->from_rel);
	free(w->root);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

/* Checks the root: 0, or an errno with msg. */
static int
check_root(const char *root, char *msg, size_t cap)
{
	struct statfs sf;
	struct stat st;

	if (root[0] != '/') {
		snprintf(msg, cap, "the path must be absolute");
		return EINVAL;
	}
	if (stat(root, &st) != 0) {
		snprintf(msg, cap, "%s: %s", root, strerror(errno));
		return errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, cap, "%s is not a directory", root);
		return ENOTDIR;
	}
	if (statfs(root, &sf) == 0 && (sf.f_type == PROC_SUPER_MAGIC ||
	    sf.f_type == SYSFS_MAGIC || sf.f_type == CGROUP_SUPER_MAGIC ||
	    sf.f_type == CGROUP2_SUPER_MAGIC)) {
		snprintf(msg, cap, "%s is a kernel pseudo-filesystem, whose changes inotify "
		    "does not report", root);
		return EINVAL;
	}
	return 0;
}

void
agent_watches_start(struct agent_watches *ws, uint64_t id, const Sbx__Agent__V1__WatchStart *ws_)
{
	Sbx__Agent__V1__Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Started s = SBX__AGENT__V1__STARTED__INIT;
	struct watch *w;
	char msg[512];
	size_t len;
	int rv;

	if (ws->n >= AGENT_WATCHES_MAX) {
		send_failed(ws, id, EAGAIN, "too many watches in this sandbox");
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		agent_fatalx("out of memory");
	w->fd = -1;
	w->id = id;
	w->recursive = ws_->recursive;
	len = ws_->path.len;
	if (len == 0 || len >= PATH_MAX || memchr(ws_->path.data, '\0', len) != NULL) {
		watch_free(w);
		send_failed(ws, id, EINVAL, "the path is empty, too long or holds a NUL byte");
		return;
	}
	if ((w->root = strndup((const char *)ws_->path.data, len)) == NULL)
		agent_fatalx("out of memory");
	while ((len = strlen(w->root)) > 1 && w->root[len - 1] == '/')
		w->root[len - 1] = '\0';
	if (ws_->n_globs > 0 && (w->globs = calloc(ws_->n_globs, sizeof(char *))) == NULL)
		agent_fatalx("out of memory");
	for (size_t i = 0; i < ws_->n_globs; i++) {
		if (memchr(ws_->globs[i].data, '\0', ws_->globs[i].len) != NULL) {
			watch_free(w);
			send_failed(ws, id, EINVAL, "a glob holds a NUL byte");
			return;
		}
		if ((w->globs[w->nglobs++] = strndup((const char *)ws_->globs[i].data,
		    ws_->globs[i].len)) == NULL)
			agent_fatalx("out of memory");
	}
	if ((rv = check_root(w->root, msg, sizeof(msg))) != 0 ||
	    ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 &&
	    snprintf(msg, sizeof(msg), "inotify_init1: %s", strerror(rv = errno)) > 0) ||
	    ((rv = dir_add(w, "")) != 0 &&
	    snprintf(msg, sizeof(msg), "watching %s: %s", w->root, strerror(rv)) > 0) ||
	    (w->recursive && (rv = scan_tree(w, "", 0)) != 0 &&
	    snprintf(msg, sizeof(msg), "watching under %s: %s (at most %d directories)",
	    w->root, strerror(rv), AGENT_WATCH_DIRS_MAX) > 0)) {
		watch_free(w);
		send_failed(ws, id, rv, msg);
		return;
	}
	w->next = ws->head;
	ws->head = w;
	ws->n++;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_STARTED;
	f.started = &s;
	(void)send_body(ws, id, &f);
}

int
agent_watches_stop(struct agent_watches *ws, uint64_t id)
{
	struct watch *w = find(ws, id);

	if (w == NULL)
		return -1;
	if (w->npend > 0 || w->rescan)
		flush(ws, w);
	send_exited(ws, id, 0);
	w->done = 1;
	return 0;
}

/* ---- events */

/* An unpaired IN_MOVED_FROM: it left the watch. */
static void
from_unpaired(struct watch *w)
{
	if (w->from_rel == NULL)
		return;
	pend_add(w, w->from_rel, EV_DELETED, NULL);
	if (w->from_dir)
		dirs_moved(w, w->from_rel, NULL);
	free(w->from_rel);
	w->from_rel = NULL;
}

static void
one_event(struct agent_watches *ws, struct watch *w, const struct inotify_event *ie)
{
	struct wdir *d;
	struct pend *p;
	char *rel;
	int isdir = (ie->mask & IN_ISDIR) != 0;

	if (ie->mask & IN_Q_OVERFLOW) {
		w->rescan = 1;
		return;
	}
	if ((d = dir_of(w, ie->wd)) == NULL)
		return;
	if (ie->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
		if (*d->rel == '\0') {    /* the root itself went */
			pend_add(w, "", EV_DELETED, NULL);
			flush(ws, w);
			send_exited(ws, w->id, 1);
			w->done = 1;
		} else if (ie->mask & IN_IGNORED)
			dir_forget(w, d);
		return;
	}
	if (ie->len == 0)
		return;
	rel = child_rel(d->rel, ie->name);
	if (!(ie->mask & IN_MOVED_TO))
		from_unpaired(w);
	if (ie->mask & IN_CREATE) {
		pend_add(w, rel, EV_CREATED, NULL);
		if (isdir && w->recursive) {
			if (dir_add(w, rel) == ENOSPC)
				w->rescan = 1;
			else if (scan_tree(w, rel, 1) == ENOSPC)
				w->rescan = 1;
		}
	} else if (ie->mask & (IN_MODIFY | IN_CLOSE_WRITE)) {
		pend_add(w, rel, EV_MODIFIED, NULL);
	} else if (ie->mask & IN_DELETE) {
		pend_add(w, rel, EV_DELETED, NULL);
	} else if (ie->mask & IN_MOVED_FROM) {
		w->from_rel = rel;
		w->from_cookie = ie->cookie;
		w->from_dir = isdir;
		rel = NULL;
	} else if (ie->mask & IN_MOVED_TO) {
		if (w->from_rel != NULL && w->from_cookie == ie->cookie) {
			if ((p = pend_find(w, w->from_rel)) != NULL && p->first == EV_CREATED) {
				pend_drop(w, p);    /* made and moved in one window: made there */
				pend_add(w, rel, EV_CREATED, NULL);
			} else {
				if (p != NULL)
					pend_drop(w, p);
				pend_add(w, rel, EV_MOVED, w->from_rel);
			}
			if (isdir)
				dirs_moved(w, w->from_rel, rel);
			free(w->from_rel);
			w->from_rel = NULL;
		} else {
			from_unpaired(w);
			pend_add(w, rel, EV_CREATED, NULL);    /* moved in from outside */
			if (isdir && w->recursive && (dir_add(w, rel) == ENOSPC ||
			    scan_tree(w, rel, 1) == ENOSPC))
				w->rescan = 1;
		}
	}
	free(rel);
}

static void
read_events(struct agent_watches *ws, struct watch *w)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ie;
	int64_t now;
	ssize_t n;

	for (int k = 0; k < READS_PER_TURN && !w->done; k++) {
		if ((n = read(w->fd, buf, sizeof(buf))) <= 0)
			break;
		for (char *p = buf; p < buf + n && !w->done;
		    p += sizeof(struct inotify_event) + ie->len) {
			ie = (const struct inotify_event *)p;
			one_event(ws, w, ie);
		}
		from_unpaired(w);    /* a pair arrives in one read */
	}
	if (w->done || (w->npend == 0 && !w->rescan))
		return;
	now = now_ms();
	/* Changes at a human pace go at once: a bucket of LEADING_MAX sends,
	 * refilled by one every window, lets a change that opens a window be
	 * sent as it comes; once a burst has used the bucket up, changes wait
	 * for their window to close and are sent together. */
	for (; w->tokens < LEADING_MAX && now - w->refill_at >= AGENT_WATCH_WINDOW_MS;
	    w->refill_at += AGENT_WATCH_WINDOW_MS)
		w->tokens++;
	if (w->tokens == LEADING_MAX)
		w->refill_at = now;
	if (w->window_end == 0 && w->tokens > 0) {
		w->tokens--;
		w->window_end = now;
	} else if (w->window_end == 0)
		w->window_end = w->last_flush + AGENT_WATCH_WINDOW_MS > now ?
		    w->last_flush + AGENT_WATCH_WINDOW_MS : now;
	if (w->window_end <= now)
		flush(ws, w);
}

/* ---- the poll loop's part */

size_t
agent_watches_nfds(struct agent_watches *ws)
{
	return ws->n;
}

size_t
agent_watches_fill(struct agent_watches *ws, struct pollfd *pfd)
{
	size_t n = 0;

	if (ws->refcap < ws->n) {
		free(ws->refs);
		ws->refcap = ws->n + 16;
		if ((ws->refs = calloc(ws->refcap, sizeof(*ws->refs))) == NULL)
			agent_fatalx("out of memory");
	}
	for (struct watch *w = ws->head; w != NULL; w = w->next) {
		if (w->done)
			continue;
		pfd[n] = (struct pollfd){ .fd = w->fd, .events = POLLIN };
		ws->refs[n++] = w;
	}
	ws->nrefs = n;
	return n;
}

void
agent_watches_io(struct agent_watches *ws, const struct pollfd *pfd, size_t n)
{
	for (size_t k = 0; k < n && k < ws->nrefs; k++)
		if (pfd[k].revents != 0 && !ws->refs[k]->done)
			read_events(ws, ws->refs[k]);
}

int
agent_watches_tick(struct agent_watches *ws)
{
	int64_t now = now_ms(), next = -1;
	struct watch **pp = &ws->head, *w;

	while ((w = *pp) != NULL) {
		if (w->done) {
			*pp = w->next;
			ws->n--;
			watch_free(w);
			continue;
		}
		if (w->window_end > 0 && w->window_end <= now)
			flush(ws, w);
		else if (w->window_end > 0 && (next < 0 || w->window_end < next))
			next = w->window_end;
		pp = &w->next;
	}
	return next < 0 ? -1 : (int)(next - now);
}

void
agent_watches_link_down(struct agent_watches *ws)
{
	for (struct watch *w = ws->head; w != NULL; w = w->next)
		w->done = 1;
}
