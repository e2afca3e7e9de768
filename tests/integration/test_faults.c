/*
 * test_faults.c — faults and hostile credentials against a real sbxd over
 * real sockets, real containers on the real Docker engine, a real SQLite
 * file. Usage as GetSession reports it (memory, pids, CPU of a busy loop,
 * OOM kills of a command that outgrows a 32 MiB limit); 50 clients racing
 * GetOrCreateSession for one user; tokens of the wrong length or charset,
 * replayed after EndSession, or used on another session; a container
 * killed from outside the server; and the database made unwritable under
 * a running sbxd (chattr +i on the file and its -wal: root ignores file
 * modes, not the immutable flag). After each, sbxd still serves, and no
 * container is left that no session owns. And a workspace file that grows
 * on the host while Read and ReadBytes loop over it: every answer is a
 * consistent prefix (whole numbered lines, a line count within what was
 * written), never past the read ceiling, which is a distinct error. Waits poll with a generous
 * bound; nothing asserts how long a step took.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "harness.h"
#include "server.h"
#include "t.h"

#define RACERS 50
/* No warm pool: a pooled container carries no sbx.user label, and the
 * orphan checks count containers by it (test_pool covers the pool). */
#define CONF "read_max_bytes = 256K\npool_size = 0\n"
#define POLL_MS 200
#define POLL_BOUND_MS HARNESS_WAIT_MS

static struct sbxd_proc d;
static sbx_client *svc;
static struct driver *drv;
static char inst[17];
static char tag[32];         /* makes user ids unique to this run */

static const char *
user_id(const char *base)
{
	static __thread char u[64];

	snprintf(u, sizeof(u), "%s-%s", base, tag);
	return u;
}


struct count {
	const char *user;
	int n;
};

static void
count_cb(void *arg, const char *id, const char *state, const struct driver_label *l, size_t n)
{
	struct count *c = arg;
	int mine = 0, user = 0;

	(void)id;
	(void)state;
	for (size_t i = 0; i < n; i++) {
		mine |= strcmp(l[i].key, "sbx.instance") == 0 && strcmp(l[i].value, inst) == 0;
		user |= strcmp(l[i].key, "sbx.user") == 0 && strcmp(l[i].value, c->user) == 0;
	}
	c->n += mine && user;
}

/* Containers of this sbxd labelled for user; -1 when Docker fails. */
static int
containers_of(const char *user)
{
	struct count c = { .user = user };
	struct err e;

	if (drv->ops->list(drv, "sbx.user", user, count_cb, &c, &e) != SBXD_OK) {
		fprintf(stderr, "  list: %s\n", e.msg);
		return -1;
	}
	return c.n;
}

/* Kills the container's init from the host, as the kernel or an admin
 * would; waits until the engine sees it exited. 0 on success. */
static int
kill_from_outside(const char *cid)
{
	struct driver_container_info info;
	struct err e;

	if (drv->ops->inspect(drv, cid, &info, &e) != SBXD_OK || info.pid <= 0 ||
	    kill((pid_t)info.pid, SIGKILL) != 0)
		return -1;
	for (int waited = 0; waited <= POLL_BOUND_MS; waited += POLL_MS) {
		if (drv->ops->inspect(drv, cid, &info, &e) == SBXD_OK && !info.running)
			return 0;
		usleep(POLL_MS * 1000);
	}
	return -1;
}

/* ---- usage */

TEST(usage_of_a_running_session)
{
	sbx_session_create_opts o = { .user_id = user_id("usage"),
	    .limits = { .memory_bytes = 256u << 20 } };
	sbx_session s, g, ended;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	CHECK(g.usage.memory_bytes > 0);
	CHECK(g.usage.memory_bytes < (256u << 20));
	CHECK_INT(g.usage.memory_limit_bytes, 256u << 20);
	CHECK(g.usage.pids >= 1);
	CHECK_INT(g.usage.oom_kills, 0);
	CHECK(g.usage.cpu_percent < 100);     /* first look: since it started */
	sbx_session_fini(&g);
	usleep(400 * 1000);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	CHECK(g.usage.cpu_percent < 10);      /* idle since the first look */
	sbx_session_fini(&g);
	/* A busy loop left running after Execute returns, until the session
	 * ends: it still runs at the second look however slow the calls are. */
	CHECK_INT(harness_exec_status(svc, s.session_id,
	    "timeout 600 sh -c 'while :; do :; done' >/dev/null 2>&1 & echo started", 60000), 0);
	usleep(500 * 1000);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	sbx_session_fini(&g);
	/* Looks 0.5 s apart until one shows the loop: on a host busy with
	 * other work a window can give it less than a quarter of a CPU. */
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;;) {
		usleep(500 * 1000);
		REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
		fprintf(stderr, "  busy: cpu %.1f%%, %llu pids, %llu bytes\n", g.usage.cpu_percent,
		    (unsigned long long)g.usage.pids, (unsigned long long)g.usage.memory_bytes);
		/* of one CPU; the loop is one thread */
		CHECK(g.usage.cpu_percent < 150);
		if (g.usage.cpu_percent > 25 || harness_now_ms() >= end)
			break;
		sbx_session_fini(&g);
	}
	CHECK(g.usage.cpu_percent > 25);
	CHECK(g.usage.pids >= 3);             /* init, timeout, sh */
	sbx_session_fini(&g);
	/* Not running: no usage, and no error. */
	REQUIRE_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &ended), SBX_OK);
	CHECK_INT(ended.usage.memory_bytes, 0);
	CHECK_INT(ended.usage.pids, 0);
	sbx_session_fini(&ended);
	sbx_session_fini(&s);
}

/* A command outgrowing the limit is OOM-killed (137); the container's
 * init survives it, so the session stays RUNNING and its usage counts
 * the kill. (The kernel never picks the tiny init itself, so a container
 * dying of OOM is shown by stopping one after such a kill.) */
TEST(oom_kill_is_reported)
{
	sbx_session_create_opts o = { .user_id = user_id("oom"),
	    .limits = { .memory_bytes = 32u << 20 } };
	sbx_session s, g;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	CHECK_INT(harness_exec_status(svc, s.session_id, "python3 -c 'x=bytearray(200<<20)'", 60000), 137);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	CHECK_INT(g.state, SBX_SESSION_RUNNING);
	CHECK(g.usage.oom_kills >= 1);
	CHECK_INT(g.usage.memory_limit_bytes, 32u << 20);
	sbx_session_fini(&g);
	CHECK_INT(harness_exec_status(svc, s.session_id, "true", 60000), 0);     /* still usable */
	/* When such a container stops, the engine reports it OOM-killed
	 * (State.OOMKilled: an OOM kill happened in it during the run), and
	 * the session says so; its next command wakes it. */
	REQUIRE_INT(kill_from_outside(s.container_id), 0);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	CHECK_INT(g.state, SBX_SESSION_STOPPED);
	CHECK_STR(g.stop_reason, "oom");
	sbx_session_fini(&g);
	CHECK_INT(harness_exec_status(svc, s.session_id, "true", 60000), 0);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	CHECK_INT(g.state, SBX_SESSION_RUNNING);
	CHECK_INT(g.usage.oom_kills, 0);                  /* a new run, a new count */
	sbx_session_fini(&g);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
}

/* ---- 50 clients racing GetOrCreateSession */

struct racer {
	pthread_t t;
	sbx_session s;
	int created;
	char *token;
	sbx_err rv;
};

static void *
racer_main(void *arg)
{
	struct racer *r = arg;
	sbx_session_create_opts o = { .user_id = user_id("racer") };
	sbx_client *c = harness_client(&d, NULL);

	r->rv = SBX_INTERNAL;
	if (c != NULL)
		r->rv = sbx_session_get_or_create(c, &o, &r->s, &r->created, &r->token);
	if (r->rv != SBX_OK)
		fprintf(stderr, "  get_or_create: %s\n", c ? sbx_last_error(c) : "no client");
	sbx_client_close(c);
	return NULL;
}

TEST(racing_get_or_create_makes_one_session)
{
	static struct racer r[RACERS];
	int created = 0, tokens = 0, ok = 0;
	char user[64];

	snprintf(user, sizeof(user), "%s", user_id("racer"));
	for (int i = 0; i < RACERS; i++)
		REQUIRE(pthread_create(&r[i].t, NULL, racer_main, &r[i]) == 0);
	for (int i = 0; i < RACERS; i++)
		pthread_join(r[i].t, NULL);
	for (int i = 0; i < RACERS; i++) {
		if (r[i].rv != SBX_OK)
			continue;
		ok++;
		created += r[i].created;
		tokens += r[i].token != NULL && r[i].token[0] != '\0';
		CHECK_STR(r[i].s.session_id, r[0].s.session_id);
	}
	CHECK_INT(ok, RACERS);
	CHECK_INT(created, 1);
	CHECK_INT(tokens, 1);
	CHECK_INT(containers_of(user), 1);
	if (r[0].s.session_id != NULL)
		CHECK_INT(sbx_session_end(svc, r[0].s.session_id, 1), SBX_OK);
	CHECK_INT(containers_of(user), 0);
	for (int i = 0; i < RACERS; i++) {
		sbx_session_fini(&r[i].s);
		sbx_free(r[i].token);
	}
}

/* ---- credentials */

static sbx_err
get_with(const char *token, const char *sid, sbx_client **keep)
{
	sbx_client *c = harness_client(&d, token);
	sbx_session s;
	sbx_err rv;

	if (c == NULL)
		return SBX_INTERNAL;
	rv = sbx_session_get(c, sid, &s);
	sbx_session_fini(&s);
	if (keep != NULL)
		*keep = c;
	else
		sbx_client_close(c);
	return rv;
}

/* Wrong length, wrong charset, right shape but minted nowhere: all
 * UNAUTHENTICATED, before any lookup (an unknown session id answers the
 * same as a real one). */
TEST(malformed_tokens_are_unauthenticated)
{
	static const char *bad[] = {
		"x", "sbxt_", "sbxt_abc",
		"sbxt_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
		"sbxt_\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0",
		"sbxt_ AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"sbxt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		NULL,
	};
	sbx_session_create_opts o = { .user_id = user_id("tok") };
	sbx_session s;
	sbx_client *c = NULL;
	char *long_tok;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	for (int i = 0; bad[i] != NULL; i++) {
		CHECK_INT(get_with(bad[i], s.session_id, &c), SBX_UNAUTHENTICATED);
		CHECK_CONTAINS(sbx_last_error(c), "session token is not valid");
		sbx_client_close(c);
		CHECK_INT(get_with(bad[i], "s-00000000000000000000000000000000", NULL),
		    SBX_UNAUTHENTICATED);
	}
	REQUIRE((long_tok = malloc(64 << 10)) != NULL);
	memset(long_tok, 'A', (64 << 10) - 1);
	long_tok[(64 << 10) - 1] = '\0';
	CHECK_INT(get_with(long_tok, s.session_id, NULL), SBX_UNAUTHENTICATED);
	free(long_tok);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
}

/* What test_recover and test_e2e leave out: a replayed token on the
 * sandbox calls, and a token on another session for the lifecycle calls. */
TEST(replayed_and_crossed_tokens)
{
	sbx_session_create_opts oa = { .user_id = user_id("tok-a") }, ob = { .user_id = user_id("tok-b") };
	sbx_session a, b;
	char *ta = NULL, *tb = NULL;
	sbx_client *ca = NULL, *cb = NULL;
	void *data = NULL;
	size_t len;

	REQUIRE_INT(sbx_session_create(svc, &oa, &a, &ta), SBX_OK);
	REQUIRE_INT(sbx_session_create(svc, &ob, &b, &tb), SBX_OK);
	REQUIRE((ca = harness_client(&d, ta)) != NULL);
	REQUIRE((cb = harness_client(&d, tb)) != NULL);
	/* A's token on B */
	CHECK_INT(get_with(ta, b.session_id, NULL), SBX_PERMISSION_DENIED);
	CHECK_INT(harness_exec_status(ca, b.session_id, "true", 60000), -1);
	CHECK_INT(sbx_write(ca, b.session_id, "x.txt", "x", 1, 0), SBX_PERMISSION_DENIED);
	CHECK_INT(sbx_session_end(ca, b.session_id, 1), SBX_PERMISSION_DENIED);
	CHECK_INT(harness_exec_status(cb, b.session_id, "true", 60000), 0);      /* B untouched */
	/* A's token replayed after A ended */
	CHECK_INT(harness_exec_status(ca, a.session_id, "true", 60000), 0);
	CHECK_INT(sbx_session_end(svc, a.session_id, 0), SBX_OK);
	CHECK_INT(harness_exec_status(ca, a.session_id, "true", 60000), -1);
	CHECK_INT(sbx_read_bytes(ca, a.session_id, "x.txt", 0, 0, &data, &len), SBX_UNAUTHENTICATED);
	CHECK_INT(sbx_write(ca, a.session_id, "x.txt", "x", 1, 0), SBX_UNAUTHENTICATED);
	CHECK_INT(get_with(ta, a.session_id, NULL), SBX_UNAUTHENTICATED);
	CHECK_INT(get_with(ta, b.session_id, NULL), SBX_UNAUTHENTICATED);
	CHECK_INT(sbx_session_end(svc, b.session_id, 1), SBX_OK);
	CHECK_INT(containers_of(user_id("tok-a")), 0);
	CHECK_INT(containers_of(user_id("tok-b")), 0);
	sbx_client_close(ca);
	sbx_client_close(cb);
	sbx_free(ta);
	sbx_free(tb);
	sbx_session_fini(&a);
	sbx_session_fini(&b);
}

/* ---- a container killed from outside */

/* GetSession notices it and says why (STOPPED, "exited (137)"); the next
 * command wakes it. Killed again, a command notices it first: it is
 * restarted at once and the command runs, the reason kept for a look. */
TEST(container_killed_from_outside)
{
	sbx_session_create_opts o = { .user_id = user_id("killed") };
	sbx_session s, g;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	REQUIRE_INT(sbx_write(svc, s.session_id, "kept.txt", "kept\n", 5, 0), SBX_OK);
	REQUIRE_INT(kill_from_outside(s.container_id), 0);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	CHECK_INT(g.state, SBX_SESSION_STOPPED);
	CHECK_STR(g.stop_reason, "exited (137)");
	CHECK_INT(g.usage.memory_bytes, 0);
	sbx_session_fini(&g);
	CHECK_INT(harness_exec_status(svc, s.session_id, "grep -q kept kept.txt", 60000), 0);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	CHECK_INT(g.state, SBX_SESSION_RUNNING);
	CHECK_STR(g.container_id, s.container_id);
	CHECK(g.usage.memory_bytes > 0);
	sbx_session_fini(&g);
	/* Killed again, the command is first to notice. */
	REQUIRE_INT(kill_from_outside(s.container_id), 0);
	CHECK_INT(harness_exec_status(svc, s.session_id, "grep -q kept kept.txt", 60000), 0);
	REQUIRE_INT(sbx_session_get(svc, s.session_id, &g), SBX_OK);
	CHECK_INT(g.state, SBX_SESSION_RUNNING);
	CHECK_STR(g.stop_reason, "exited (137)");
	sbx_session_fini(&g);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	CHECK_INT(containers_of(user_id("killed")), 0);
	sbx_session_fini(&s);
}

/* ---- the database made unwritable */

static int
chattr(const char *flag)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "chattr %s '%s/sbx.db' '%s/sbx.db-wal'", flag, d.dir, d.dir);
	return system(cmd);
}

/* Writes answer UNAVAILABLE saying what to do, reads go on, a create that
 * could not be recorded leaves no container, and once the file is
 * writable again sbxd serves writes without a restart. */
TEST(database_made_unwritable)
{
	sbx_session_create_opts o = { .user_id = user_id("db-live") };
	sbx_session live, s, g;

	REQUIRE_INT(sbx_session_create(svc, &o, &live, NULL), SBX_OK);
	REQUIRE_INT(chattr("+i"), 0);
	o.user_id = user_id("db-new");
	CHECK_INT(sbx_session_create(svc, &o, &s, NULL), SBX_UNAVAILABLE);
	CHECK_CONTAINS(sbx_last_error(svc), "database cannot be written");
	CHECK_CONTAINS(sbx_last_error(svc), "writable");
	CHECK_INT(containers_of(user_id("db-new")), 0);
	CHECK_INT(sbx_session_get_or_create(svc, &o, &s, NULL, NULL), SBX_UNAVAILABLE);
	CHECK_INT(containers_of(user_id("db-new")), 0);
	/* reads, and what needs no write */
	REQUIRE_INT(sbx_session_get(svc, live.session_id, &g), SBX_OK);
	CHECK_INT(g.state, SBX_SESSION_RUNNING);
	sbx_session_fini(&g);
	CHECK_INT(harness_exec_status(svc, live.session_id, "true", 60000), 0);
	CHECK_INT(sbx_write(svc, live.session_id, "f.txt", "f", 1, 0), SBX_OK);
	/* EndSession removes the container first, then fails to record it:
	 * the session stays live, and its next request heals it. */
	CHECK_INT(sbx_session_end(svc, live.session_id, 0), SBX_UNAVAILABLE);
	CHECK_CONTAINS(sbx_last_error(svc), "database cannot be written");
	REQUIRE_INT(chattr("-i"), 0);
	CHECK_INT(harness_exec_status(svc, live.session_id, "test -f f.txt", 60000), 0);
	CHECK_INT(containers_of(user_id("db-live")), 1);
	o.user_id = user_id("db-new");
	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	CHECK_INT(containers_of(user_id("db-new")), 1);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	CHECK_INT(sbx_session_end(svc, live.session_id, 1), SBX_OK);
	CHECK_INT(containers_of(user_id("db-live")), 0);
	sbx_session_fini(&s);
	sbx_session_fini(&live);
}

/* ---- a file that grows while it is read */

#define GROW_LINE 13                    /* "line-0000001\n" */
#define GROW_CEILING (256u << 10)       /* read_max_bytes of this sbxd */
#define GROW_END (640u << 10)           /* the writer stops past this */

static volatile uint64_t grow_lines;    /* complete lines written so far */
static volatile uint64_t grow_writing;  /* lines once the write in flight lands */
static volatile int grow_done;

static void
grow_expect(uint64_t off, size_t len, char *out)
{
	char line[32];

	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;

		snprintf(line, sizeof(line), "line-%07llu\n", (unsigned long long)(o / GROW_LINE + 1));
		out[i] = line[o % GROW_LINE];
	}
}

/* Appends lines on the host side, in writes of 1-97 lines (so some cross
 * page boundaries), pausing between them. */
static void *
grow_writer(void *arg)
{
	const char *path = arg;
	char *b = malloc(97 * GROW_LINE + 1);
	uint64_t n = 0;
	FILE *f;
	int fd;

	if (b == NULL || (f = fopen(path, "a")) == NULL) {
		free(b);
		grow_done = 1;
		return NULL;
	}
	fd = fileno(f);
	for (unsigned i = 0; n * GROW_LINE < GROW_END; i++) {
		unsigned batch = 1 + (i * 7919u) % 97;
		size_t len = 0;

		for (unsigned k = 0; k < batch; k++) {
			char line[32];

			snprintf(line, sizeof(line), "line-%07llu\n", (unsigned long long)(n + k + 1));
			memcpy(b + len, line, GROW_LINE);
			len += GROW_LINE;
		}
		/* The file holds between grow_lines and grow_writing lines at any
		 * moment, however long this thread is descheduled between the
		 * write and the store after it. */
		__atomic_store_n(&grow_writing, n + batch, __ATOMIC_SEQ_CST);
		if (write(fd, b, len) != (ssize_t)len)
			break;
		n += batch;
		__atomic_store_n(&grow_lines, n, __ATOMIC_SEQ_CST);
		usleep(1000);
	}
	fclose(f);
	free(b);
	grow_done = 1;
	return NULL;
}

/* Checks one numbered Read of [off, off+100) taken while before..after
 * complete lines were in the file: every line shown is the right one,
 * whole (but the file's last, which may be cut by a write in flight), and
 * the total it implies lies within what was written. */
static int
grow_check_read(const char *text, uint64_t off, uint64_t before, uint64_t after)
{
	char want[32];
	uint64_t shown = 0, more = 0, total;
	const char *p = text;
	int last_cut = 0;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		unsigned long long no;
		int used = 0;

		if (len == 0) {
			p += 1;
			continue;
		}
		if (sscanf(p, "... (%llu more lines)", &no) == 1) {
			more = no;
			break;
		}
		if (last_cut || sscanf(p, "%6llu\t%n", &no, &used) != 1 || used != 7 ||
		    no != off + shown + 1)
			return 0;
		snprintf(want, sizeof(want), "line-%07llu", no);
		if (len - 7 != GROW_LINE - 1 || memcmp(p + 7, want, GROW_LINE - 1) != 0) {
			if (len - 7 >= GROW_LINE - 1 || memcmp(p + 7, want, len - 7) != 0)
				return 0;
			last_cut = 1;       /* a prefix: only as the file's last line */
		}
		shown++;
		p += len + (nl != NULL);
	}
	total = off + shown + more;
	if (last_cut && more != 0)
		return 0;
	return shown > 0 && total >= before && total <= after + 1;
}

TEST(file_growing_while_read)
{
	sbx_session_create_opts o = { .user_id = user_id("grow") };
	sbx_session s;
	pthread_t w;
	char path[1200], *exp = malloc(GROW_CEILING);
	int reads_ok = 0, reads_big = 0, bytes_ok = 0, bad = 0;

	REQUIRE(exp != NULL);
	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	REQUIRE_INT(sbx_write(svc, s.session_id, "grow.txt", "", 0, 0), SBX_OK);
	snprintf(path, sizeof(path), "%s/grow.txt", s.workspace_path);
	grow_done = 0;
	grow_lines = 0;
	grow_writing = 0;
	REQUIRE(pthread_create(&w, NULL, grow_writer, path) == 0);
	for (unsigned i = 0; !grow_done || i % 16 != 0; i++) {
		uint64_t before = __atomic_load_n(&grow_lines, __ATOMIC_SEQ_CST), after;
		uint64_t off = before ? (i * 2654435761u) % before : 0;
		char *text = NULL;
		void *data = NULL;
		size_t len = 0;
		sbx_err rv;

		if (i % 2 == 0) {
			rv = sbx_read(svc, s.session_id, "grow.txt", off, 100, &text);
			after = __atomic_load_n(&grow_writing, __ATOMIC_SEQ_CST);
			if (rv == SBX_OK && grow_check_read(text, off, before, after))
				reads_ok++;
			else if (rv == SBX_RESOURCE_EXHAUSTED && after * GROW_LINE > GROW_CEILING &&
			    strstr(sbx_last_error(svc), "read ceiling") != NULL)
				reads_big++;
			else if (rv != SBX_OK || before > 0 || text[0] != '\0') {
				if (bad++ < 5)
					fprintf(stderr, "  Read at line %llu (%llu..%llu lines): %s: %.200s\n",
					    (unsigned long long)off, (unsigned long long)before,
					    (unsigned long long)after, sbx_err_name(rv),
					    rv == SBX_OK ? text : sbx_last_error(svc));
			}
			sbx_free(text);
			continue;
		}
		rv = sbx_read_bytes(svc, s.session_id, "grow.txt", off * GROW_LINE, 0, &data, &len);
		if (rv == SBX_OK && len <= GROW_CEILING) {
			grow_expect(off * GROW_LINE, len, exp);
			if (memcmp(data, exp, len) == 0)
				bytes_ok++;
			else if (bad++ < 5)
				fprintf(stderr, "  ReadBytes at %llu: %zu bytes differ\n",
				    (unsigned long long)(off * GROW_LINE), len);
		} else if (bad++ < 5)
			fprintf(stderr, "  ReadBytes at %llu: %s (%zu bytes)\n",
			    (unsigned long long)(off * GROW_LINE), sbx_err_name(rv), len);
		sbx_free(data);
	}
	pthread_join(w, NULL);
	CHECK_INT(bad, 0);
	CHECK(reads_ok > 0);
	CHECK(reads_big > 0);         /* it passed the ceiling while read */
	CHECK(bytes_ok > 0);
	fprintf(stderr, "  %d Reads whole, %d over the ceiling, %d ReadBytes checked\n",
	    reads_ok, reads_big, bytes_ok);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
	free(exp);
}

int
main(void)
{
	char db[256];
	struct err e;

	if (!harness_image_ready())
		return 1;
	if (docker_driver_new("/var/run/docker.sock", &drv, &e) != SBXD_OK)
		return 1;
	snprintf(tag, sizeof(tag), "%d", (int)getpid());
	if (harness_start(&d, CONF) != 0)
		return 1;
	snprintf(db, sizeof(db), "%s/sbx.db", d.dir);
	server_instance_id(db, inst);
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(usage_of_a_running_session);
	RUN(oom_kill_is_reported);
	RUN(racing_get_or_create_makes_one_session);
	RUN(malformed_tokens_are_unauthenticated);
	RUN(replayed_and_crossed_tokens);
	RUN(container_killed_from_outside);
	RUN(database_made_unwritable);
	RUN(file_growing_while_read);
	chattr("-i");                 /* whatever happened, leave it removable */
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	drv->ops->free(drv);
	T_DONE();
}
