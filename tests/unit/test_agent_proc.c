/*
 * test_agent_proc.c — the built sbx-agent as a host process, driven over a
 * real nng pair1 socket by this test acting as sbxd: the handshake,
 * commands (exit codes, output, stdin, timeouts, signals, exec failures,
 * output caps, many at once), file calls, a background command held across
 * a disconnect, bad frames, terminals, file watches (a burst coalesced, an
 * inotify overflow reported as a rescan) and --supervise restarting a
 * killed worker.
 * Every wait is for an event, bounded by WAIT_MS as a safety net.
 *
 * SBX_AGENT_BIN (a compile definition, or the environment) names the
 * agent binary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "agent_wire.h"
#include "sbx/agent/v1/agent.pb-c.h"
#include "t.h"

#ifndef SBX_AGENT_BIN
#define SBX_AGENT_BIN "sbx-agent"
#endif

#define WAIT_MS 120000
#define NRES 4096

typedef Sbx__Agent__V1__Frame Frame;

struct buf {
	char *p;
	size_t len;
};

/* What the agent said about one call. */
struct res {
	int started, failed, exited, signalled, early, late;
	int bg;                  /* sent as a background run */
	int64_t pid;
	int err, count;
	char msg[256];
	struct buf out[3];
	int code, sig, timed_out, truncated;
	uint64_t duration_ms;
	Sbx__Agent__V1__FileReply *file;
	Frame *file_frame;
	struct buf wev;          /* watch events: "kind path[ from] size\n" */
	int wframes;
};

/* The test's end of the link: a listener standing in for sbxd. */
struct peer {
	nng_socket s;
	char url[128];
	Frame *hello;   /* the last hello, until taken */
};

static char tmpdir[64];
static struct res res[NRES];
static const char *agent_bin;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
peer_listen(struct peer *pr)
{
	if (nng_pair1_open(&pr->s) != 0 ||
	    nng_socket_set_size(pr->s, NNG_OPT_RECVMAXSZ, AGENT_FRAME_MAX) != 0 ||
	    nng_socket_set_ms(pr->s, NNG_OPT_RECVTIMEO, 200) != 0 ||
	    nng_socket_set_ms(pr->s, NNG_OPT_SENDTIMEO, WAIT_MS) != 0 ||
	    nng_listen(pr->s, pr->url, NULL, 0) != 0)
		return -1;
	return 0;
}

static void
take_hello(struct peer *pr)
{
	if (pr->hello != NULL)
		sbx__agent__v1__frame__free_unpacked(pr->hello, NULL);
	pr->hello = NULL;
}

static void
peer_close(struct peer *pr)
{
	nng_close(pr->s);
	take_hello(pr);
}

static pid_t
agent_start(const char *url, int supervise)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* it dies with this test, whatever ends it: an agent left
		 * behind would hold ctest's output pipe open */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (supervise)
			execl(agent_bin, agent_bin, "--supervise", "--url", url,
			    "--session", "s-test", (char *)NULL);
		else
			execl(agent_bin, agent_bin, "--url", url, "--session", "s-test",
			    (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void
buf_add(struct buf *b, const void *d, size_t n)
{
	b->p = realloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
res_reset(uint64_t call)
{
	struct res *r = &res[call];

	for (int i = 0; i < 3; i++)
		free(r->out[i].p);
	free(r->wev.p);
	if (r->file_frame != NULL)
		sbx__agent__v1__frame__free_unpacked(r->file_frame, NULL);
	memset(r, 0, sizeof(*r));
}

/* Receives one frame (200 ms at most) and files it. 0, or -1 if none. */
static int
pump(struct peer *pr)
{
	struct res *r;
	nng_msg *m;
	Frame *f;

	if (nng_recvmsg(pr->s, &m, 0) != 0)
		return -1;
	f = sbx__agent__v1__frame__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	if (f == NULL) {
		T_FAIL_("the agent sent a frame that does not decode");
		return 0;
	}
	if (f->call == 0 && f->body_case == SBX__AGENT__V1__FRAME__BODY_HELLO) {
		if (pr->hello != NULL)
			sbx__agent__v1__frame__free_unpacked(pr->hello, NULL);
		pr->hello = f;
		return 0;
	}
	if (f->call == 0 || f->call >= NRES) {
		T_FAIL_("frame for call %llu", (unsigned long long)f->call);
		goto out;
	}
	r = &res[f->call];
	if (r->exited)
		r->late++;
	switch (f->body_case) {
	case SBX__AGENT__V1__FRAME__BODY_STARTED:
		r->started = 1;
		r->pid = f->started->pid;
		break;
	case SBX__AGENT__V1__FRAME__BODY_FAILED:
		r->failed = 1;
		r->err = f->failed->errno_value;
		snprintf(r->msg, sizeof(r->msg), "%s", f->failed->message);
		break;
	case SBX__AGENT__V1__FRAME__BODY_OUTPUT:
		if (!r->started || f->output->fd < 1 || f->output->fd > 2 ||
		    f->output->data.len > AGENT_CHUNK_MAX)
			r->early++;
		else
			buf_add(&r->out[f->output->fd], f->output->data.data, f->output->data.len);
		break;
	case SBX__AGENT__V1__FRAME__BODY_SIGNALLED:
		r->signalled = 1;
		r->count = f->signalled->count;
		break;
	case SBX__AGENT__V1__FRAME__BODY_EXITED:
		/* a foreground run may end before its deferred started went */
		if (!r->started && r->bg)
			r->early++;
		r->exited = 1;
		r->code = f->exited->exit_code;
		r->sig = f->exited->signal;
		r->timed_out = f->exited->timed_out;
		r->truncated = f->exited->truncated;
		r->duration_ms = f->exited->duration_ms;
		break;
	case SBX__AGENT__V1__FRAME__BODY_WATCH_EVENTS:
		r->wframes++;
		for (size_t i = 0; i < f->watch_events->n_events; i++) {
			Sbx__Agent__V1__WatchEvent *e = f->watch_events->events[i];
			char line[8192];

			snprintf(line, sizeof(line), "%u %.*s%s%.*s %llu\n", e->kind,
			    (int)e->path.len, (char *)e->path.data, e->from.len ? " " : "",
			    (int)e->from.len, (char *)e->from.data, (unsigned long long)e->size);
			buf_add(&r->wev, line, strlen(line));
		}
		break;
	case SBX__AGENT__V1__FRAME__BODY_FILE_REPLY:
		r->file = f->file_reply;
		r->file_frame = f;
		return 0;
	default:
		T_FAIL_("unexpected frame body %d", (int)f->body_case);
		break;
	}
out:
	sbx__agent__v1__frame__free_unpacked(f, NULL);
	return 0;
}

/* Pumps until cond holds; 0, or -1 after WAIT_MS. */
#define WAIT_FOR(pr, cond) ({ int64_t until_ = now_ms() + WAIT_MS; int ok_ = 0; \
	while (!(ok_ = (cond)) && now_ms() < until_) { (void)pump(pr); } \
	ok_ ? 0 : -1; })

static void
send_frame(struct peer *pr, const Frame *f)
{
	size_t n = sbx__agent__v1__frame__get_packed_size(f);
	nng_msg *m;

	if (nng_msg_alloc(&m, n) != 0)
		abort();
	sbx__agent__v1__frame__pack(f, nng_msg_body(m));
	if (nng_sendmsg(pr->s, m, 0) != 0) {
		T_FAIL_("send to the agent failed");
		nng_msg_free(m);
	}
}

static void
send_raw(struct peer *pr, const void *p, size_t n)
{
	if (nng_send(pr->s, (void *)p, n, 0) != 0)
		T_FAIL_("raw send failed");
}

static void
send_welcome(struct peer *pr)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Welcome w = SBX__AGENT__V1__WELCOME__INIT;

	w.version = AGENT_PROTO_VERSION;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WELCOME;
	f.welcome = &w;
	send_frame(pr, &f);
}

struct runopt {
	const char *env[4];
	const char *cwd;
	const char *stdin_data;
	uint64_t timeout_ms, max_output;
	int keep_stdin, background;
};

static void
send_run(struct peer *pr, uint64_t call, const char *const *argv, const struct runopt *o)
{
	static const struct runopt none;
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Run r = SBX__AGENT__V1__RUN__INIT;
	ProtobufCBinaryData av[16], ev[4];

	if (o == NULL)
		o = &none;
	res_reset(call);
	res[call].bg = o->background;
	for (r.n_argv = 0; argv[r.n_argv] != NULL; r.n_argv++) {
		av[r.n_argv].data = (uint8_t *)argv[r.n_argv];
		av[r.n_argv].len = strlen(argv[r.n_argv]);
	}
	r.argv = av;
	for (r.n_env = 0; r.n_env < 4 && o->env[r.n_env] != NULL; r.n_env++) {
		ev[r.n_env].data = (uint8_t *)o->env[r.n_env];
		ev[r.n_env].len = strlen(o->env[r.n_env]);
	}
	r.env = ev;
	if (o->cwd != NULL) {
		r.cwd.data = (uint8_t *)o->cwd;
		r.cwd.len = strlen(o->cwd);
	}
	if (o->stdin_data != NULL) {
		r.stdin_data.data = (uint8_t *)o->stdin_data;
		r.stdin_data.len = strlen(o->stdin_data);
	}
	r.timeout_ms = o->timeout_ms;
	r.max_output = o->max_output;
	r.keep_stdin = o->keep_stdin;
	r.background = o->background;
	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_RUN;
	f.run = &r;
	send_frame(pr, &f);
}

static void
send_stdin(struct peer *pr, uint64_t call, const char *data, int close)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Stdin s = SBX__AGENT__V1__STDIN__INIT;

	s.data.data = (uint8_t *)data;
	s.data.len = strlen(data);
	s.close = close;
	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_STDIN;
	f.stdin = &s;
	send_frame(pr, &f);
}

static void
send_signal(struct peer *pr, uint64_t call, int signo)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Signal s = SBX__AGENT__V1__SIGNAL__INIT;

	s.signo = signo;
	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_SIGNAL;
	f.signal = &s;
	send_frame(pr, &f);
}

/* Runs argv as call and waits for its exited (or failed). */
static struct res *
run_wait(struct peer *pr, uint64_t call, const char *const *argv, const struct runopt *o)
{
	send_run(pr, call, argv, o);
	if (WAIT_FOR(pr, res[call].exited || res[call].failed) != 0)
		T_FAIL_("call %llu: no exited within %d ms", (unsigned long long)call, WAIT_MS);
	return &res[call];
}

/* Waits until pid is gone (reaped by whoever is its parent). */
static int
wait_gone(pid_t pid)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	for (int64_t until = now_ms() + WAIT_MS; now_ms() < until; nanosleep(&ts, NULL))
		if (kill(pid, 0) != 0 && errno == ESRCH)
			return 0;
	return -1;
}

static int
wait_file(const char *path)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	for (int64_t until = now_ms() + WAIT_MS; now_ms() < until; nanosleep(&ts, NULL))
		if (access(path, F_OK) == 0)
			return 0;
	return -1;
}

/* ---- the agent under test, shared by most tests */

static struct peer P;
static pid_t agent_pid;

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

TEST(hello_then_welcome)
{
	Sbx__Agent__V1__Hello *h;

	REQUIRE(WAIT_FOR(&P, P.hello != NULL) == 0);
	h = P.hello->hello;
	CHECK_INT(h->version, AGENT_PROTO_VERSION);
	CHECK_STR(h->session_id, "s-test");
	CHECK_INT(h->agent_pid, agent_pid);
	CHECK_INT(h->uid, getuid());
	CHECK_INT(h->gid, getgid());
	CHECK_INT(h->token.len, 0);
	CHECK_INT(h->n_procs, 0);
	take_hello(&P);
	send_welcome(&P);
}

TEST(runs_true)
{
	struct res *r = run_wait(&P, 1, (const char *[]){ "true", NULL }, NULL);

	/* quicker than the started frame's delay: usually exited alone */
	CHECK(!r->started || r->pid > 0);
	CHECK(r->exited);
	CHECK_INT(r->code, 0);
	CHECK_INT(r->sig, 0);
	CHECK(!r->timed_out && !r->truncated);
	CHECK_INT(r->early, 0);
}

/* A foreground run's started is held back a little (exited alone
 * answers a quick one); one that runs on gets it, with its pid, while it
 * runs. */
TEST(started_comes_while_a_command_runs)
{
	send_run(&P, 18, (const char *[]){ "sleep", "0.5", NULL }, NULL);
	REQUIRE(WAIT_FOR(&P, res[18].started || res[18].exited || res[18].failed) == 0);
	CHECK(res[18].started);
	CHECK(!res[18].exited);
	CHECK(res[18].pid > 0);
	REQUIRE(WAIT_FOR(&P, res[18].exited) == 0);
	CHECK_INT(res[18].code, 0);
	CHECK_INT(res[18].early, 0);
}

TEST(output_and_exit_code)
{
	struct res *r = run_wait(&P, 2, (const char *[]){ "sh", "-c",
	    "echo out; echo err >&2; exit 3", NULL }, NULL);

	CHECK_STR(r->out[1].p, "out\n");
	CHECK_STR(r->out[2].p, "err\n");
	CHECK_INT(r->code, 3);
}

TEST(stdin_data_then_eof)
{
	struct res *r = run_wait(&P, 3, (const char *[]){ "cat", NULL },
	    &(struct runopt){ .stdin_data = "fed to cat\n" });

	CHECK_STR(r->out[1].p, "fed to cat\n");
	CHECK_INT(r->code, 0);
	r = run_wait(&P, 4, (const char *[]){ "cat", NULL }, NULL);
	CHECK_INT(r->out[1].len, 0);   /* no stdin_data: EOF at once */
	CHECK_INT(r->code, 0);
}

TEST(keep_stdin_frames_then_close)
{
	send_run(&P, 5, (const char *[]){ "cat", NULL }, &(struct runopt){ .keep_stdin = 1 });
	REQUIRE(WAIT_FOR(&P, res[5].started) == 0);
	send_stdin(&P, 5, "one ", 0);
	REQUIRE(WAIT_FOR(&P, res[5].out[1].len == 4) == 0);   /* cat echoes it before EOF */
	send_stdin(&P, 5, "two", 1);
	REQUIRE(WAIT_FOR(&P, res[5].exited) == 0);
	CHECK_STR(res[5].out[1].p, "one two");
	CHECK_INT(res[5].code, 0);
	send_stdin(&P, 5, "after the end", 1);   /* unknown call now: dropped */
}

TEST(timeout_kills_the_group)
{
	int64_t t0 = now_ms();
	struct res *r = run_wait(&P, 6, (const char *[]){ "sh", "-c", "sleep 30 & sleep 30", NULL },
	    &(struct runopt){ .timeout_ms = 200 });

	CHECK(r->timed_out);
	CHECK_INT(r->code, 124);
	CHECK_INT(r->sig, SIGKILL);
	CHECK(r->duration_ms >= 200);
	CHECK(now_ms() - t0 < 20000);
}

TEST(signal_reaches_the_group)
{
	send_run(&P, 7, (const char *[]){ "sh", "-c", "sleep 30 & exec sleep 31", NULL }, NULL);
	REQUIRE(WAIT_FOR(&P, res[7].started) == 0);
	send_signal(&P, 7, SIGTERM);
	REQUIRE(WAIT_FOR(&P, res[7].exited) == 0);
	CHECK(res[7].signalled);
	CHECK(res[7].count >= 1);
	CHECK_INT(res[7].sig, SIGTERM);
	CHECK_INT(res[7].code, 128 + SIGTERM);
	CHECK(!res[7].timed_out);
}

TEST(exec_failures_are_exit_codes)
{
	char path[128];
	struct res *r = run_wait(&P, 8, (const char *[]){ "no-such-command-sbx", NULL }, NULL);

	CHECK(r->started);
	CHECK(!r->failed);
	CHECK_INT(r->code, 127);
	CHECK_STR(r->out[2].p, "sbx-agent: no-such-command-sbx: No such file or directory\n");

	snprintf(path, sizeof(path), "%s/not-executable", tmpdir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	r = run_wait(&P, 9, (const char *[]){ path, NULL }, NULL);
	CHECK_INT(r->code, 126);
	CHECK_CONTAINS(r->out[2].p, "Permission denied");

	r = run_wait(&P, 10, (const char *[]){ "true", NULL },
	    &(struct runopt){ .cwd = "/nonexistent-sbx" });
	CHECK(r->failed);
	CHECK(!r->started);
	CHECK_INT(r->err, ENOENT);
	CHECK_CONTAINS(r->msg, "cannot enter /nonexistent-sbx");

	r = run_wait(&P, 11, (const char *[]){ "pwd", NULL }, &(struct runopt){ .cwd = tmpdir });
	CHECK(r->out[1].p != NULL && strncmp(r->out[1].p, tmpdir, strlen(tmpdir)) == 0);
}

TEST(env_is_added)
{
	struct res *r = run_wait(&P, 12, (const char *[]){ "sh", "-c", "echo $SBX_A,$HOME_X,$PATH", NULL },
	    &(struct runopt){ .env = { "SBX_A=1", "HOME_X=x=y", "PATH=/usr/bin:/bin" } });

	CHECK_STR(r->out[1].p, "1,x=y,/usr/bin:/bin\n");
}

TEST(max_output_truncates)
{
	struct res *r = run_wait(&P, 13, (const char *[]){ "sh", "-c",
	    "head -c 300000 /dev/zero; echo e >&2", NULL }, &(struct runopt){ .max_output = 1000 });

	CHECK_INT(r->out[1].len, 1000);
	CHECK_STR(r->out[2].p, "e\n");
	CHECK(r->truncated);
	CHECK_INT(r->code, 0);

	r = run_wait(&P, 14, (const char *[]){ "head", "-c", "300000", "/dev/zero", NULL }, NULL);
	CHECK_INT(r->out[1].len, 300000);
	CHECK(!r->truncated);
	CHECK_INT(r->early, 0);   /* no piece above AGENT_CHUNK_MAX */
}

TEST(many_calls_at_once)
{
	char env[40][32];
	int n = 40, done;

	for (int i = 0; i < n; i++) {
		snprintf(env[i], sizeof(env[i]), "N=%d", i);
		send_run(&P, 100 + (uint64_t)i, (const char *[]){ "sh", "-c",
		    "sleep 0.1; echo $N; echo x$N >&2; exit $((N % 7))", NULL },
		    &(struct runopt){ .env = { env[i] } });
	}
	for (int64_t until = now_ms() + WAIT_MS; now_ms() < until; (void)pump(&P)) {
		done = 0;
		for (int i = 0; i < n; i++)
			done += res[100 + i].exited;
		if (done == n)
			break;
	}
	for (int i = 0; i < n; i++) {
		struct res *r = &res[100 + i];
		char want[16];

		REQUIRE(r->exited);
		snprintf(want, sizeof(want), "%d\n", i);
		CHECK_STR(r->out[1].p, want);
		snprintf(want, sizeof(want), "x%d\n", i);
		CHECK_STR(r->out[2].p, want);
		CHECK_INT(r->code, i % 7);
	}
}

static Sbx__Agent__V1__FileReply *
file_call(uint64_t call, Frame *f)
{
	static Sbx__Agent__V1__FileReply none = SBX__AGENT__V1__FILE_REPLY__INIT;

	res_reset(call);
	f->call = call;
	send_frame(&P, f);
	if (WAIT_FOR(&P, res[call].file != NULL) != 0) {
		T_FAIL_("no file_reply for call %llu", (unsigned long long)call);
		none.errno_value = -1;
		return &none;
	}
	return res[call].file;
}

static Sbx__Agent__V1__FileReply *
write_file(uint64_t call, const char *path, const char *data, int append, int parents, uint32_t mode)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__WriteFile w = SBX__AGENT__V1__WRITE_FILE__INIT;

	w.path.data = (uint8_t *)path;
	w.path.len = strlen(path);
	w.data.data = (uint8_t *)data;
	w.data.len = strlen(data);
	w.append = append;
	w.make_parents = parents;
	w.mode = mode;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WRITE_FILE;
	f.write_file = &w;
	return file_call(call, &f);
}

static Sbx__Agent__V1__FileReply *
read_file(uint64_t call, const char *path, uint64_t max)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__ReadFile rd = SBX__AGENT__V1__READ_FILE__INIT;

	rd.path.data = (uint8_t *)path;
	rd.path.len = strlen(path);
	rd.max = max;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_READ_FILE;
	f.read_file = &rd;
	return file_call(call, &f);
}

static Sbx__Agent__V1__FileReply *
stat_path(uint64_t call, const char *path, int follow)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__StatPath st = SBX__AGENT__V1__STAT_PATH__INIT;

	st.path.data = (uint8_t *)path;
	st.path.len = strlen(path);
	st.follow = follow;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_STAT;
	f.stat = &st;
	return file_call(call, &f);
}

TEST(file_calls)
{
	char p[256], d[256], l[256];
	Sbx__Agent__V1__FileReply *r;

	snprintf(p, sizeof(p), "%s/a/b/c.txt", tmpdir);
	snprintf(d, sizeof(d), "%s/a/b", tmpdir);
	snprintf(l, sizeof(l), "%s/link", tmpdir);
	CHECK_INT(write_file(200, p, "hello", 0, 0, 0)->errno_value, ENOENT);
	CHECK_INT(write_file(201, p, "hello", 0, 1, 0600)->errno_value, 0);
	CHECK_INT(write_file(202, p, " world", 1, 0, 0)->errno_value, 0);
	r = read_file(203, p, 0);
	CHECK_INT(r->errno_value, 0);
	CHECK_INT(r->data.len, 11);
	CHECK(r->data.len == 11 && memcmp(r->data.data, "hello world", 11) == 0);
	CHECK_INT(read_file(204, p, 5)->errno_value, EFBIG);
	CHECK_INT(read_file(205, d, 0)->errno_value, EISDIR);
	CHECK_INT(read_file(206, "/dev/null", 0)->errno_value, EINVAL);
	CHECK_INT(read_file(207, "relative/path", 0)->errno_value, EINVAL);
	CHECK_INT(read_file(208, "/nonexistent-sbx/x", 0)->errno_value, ENOENT);
	CHECK_INT(write_file(209, "/dev/null", "x", 0, 0, 0)->errno_value, EINVAL);
	CHECK_INT(write_file(210, d, "x", 0, 0, 0)->errno_value, EISDIR);

	r = stat_path(211, p, 1);
	CHECK_INT(r->errno_value, 0);
	CHECK_INT(r->size, 11);
	CHECK(S_ISREG(r->mode));
	CHECK_INT(r->mode & 0777, 0600);
	CHECK(r->mtime_ms > 0);
	CHECK_INT(write_file(212, p, "new", 0, 0, 0)->errno_value, 0);   /* truncates */
	r = read_file(213, p, 0);
	CHECK(r->data.len == 3 && memcmp(r->data.data, "new", 3) == 0);

	REQUIRE(symlink("a/b/c.txt", l) == 0);
	r = stat_path(214, l, 0);
	CHECK(S_ISLNK(r->mode));
	CHECK(r->link_target.len == 9 && memcmp(r->link_target.data, "a/b/c.txt", 9) == 0);
	r = stat_path(215, l, 1);
	CHECK(S_ISREG(r->mode));
	CHECK_INT(r->size, 3);
	CHECK_INT(stat_path(216, "/nonexistent-sbx", 0)->errno_value, ENOENT);
}

TEST(bad_frames_are_dropped)
{
	static uint8_t junk[4096];
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Run r = SBX__AGENT__V1__RUN__INIT;
	Sbx__Agent__V1__Welcome w = SBX__AGENT__V1__WELCOME__INIT;
	ProtobufCBinaryData *many;
	size_t n = 400000;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 2654435761u >> 24);
	send_raw(&P, junk, sizeof(junk));
	send_raw(&P, "", 0);
	/* call 0 with a run, a second welcome, stdin and signal for unknown calls */
	f.body_case = SBX__AGENT__V1__FRAME__BODY_RUN;
	f.run = &r;
	send_frame(&P, &f);
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WELCOME;
	f.welcome = &w;
	send_frame(&P, &f);
	send_stdin(&P, 3999, "x", 1);
	send_signal(&P, 3998, SIGKILL);
	/* 400000 empty argv entries: ~0.8 MB on the wire, ~6.4 MB decoded,
	 * past the agent's 4 MiB decode budget */
	many = calloc(n, sizeof(*many));
	r.n_argv = n;
	r.argv = many;
	f.call = 3997;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_RUN;
	f.run = &r;
	REQUIRE(sbx__agent__v1__frame__get_packed_size(&f) <= AGENT_FRAME_MAX);
	send_frame(&P, &f);
	free(many);

	CHECK(run_wait(&P, 16, (const char *[]){ "true", NULL }, NULL)->exited);
	CHECK_INT(res[16].code, 0);
	CHECK(!res[3997].started && !res[3997].failed);
	CHECK(!res[3998].signalled);
	CHECK(P.hello == NULL);   /* same connection, same agent */
	CHECK_INT(kill(agent_pid, 0), 0);
}

TEST(background_survives_a_disconnect)
{
	char go[128], done[128], script[512];
	pid_t fg;

	snprintf(go, sizeof(go), "%s/go", tmpdir);
	snprintf(done, sizeof(done), "%s/done", tmpdir);
	snprintf(script, sizeof(script), "echo one; while [ ! -e %s ]; do sleep 0.01; done; "
	    "echo two; echo three >&2; touch %s; exit 5", go, done);
	send_run(&P, 300, (const char *[]){ "sh", "-c", script, NULL },
	    &(struct runopt){ .background = 1 });
	send_run(&P, 301, (const char *[]){ "sleep", "30", NULL }, NULL);
	REQUIRE(WAIT_FOR(&P, res[300].out[1].len == 4 && res[301].started) == 0);
	fg = (pid_t)res[301].pid;

	peer_close(&P);
	/* the foreground call is killed; the background one goes on */
	CHECK_INT(wait_gone(fg), 0);
	close(open(go, O_CREAT | O_WRONLY, 0644));
	REQUIRE(wait_file(done) == 0);
	CHECK_INT(wait_gone((pid_t)res[300].pid), 0);

	REQUIRE(peer_listen(&P) == 0);
	REQUIRE(WAIT_FOR(&P, P.hello != NULL) == 0);
	CHECK_INT(P.hello->hello->agent_pid, agent_pid);
	REQUIRE_INT(P.hello->hello->n_procs, 1);
	CHECK_INT(P.hello->hello->procs[0]->call, 300);
	CHECK_INT(P.hello->hello->procs[0]->pid, res[300].pid);
	CHECK(!P.hello->hello->procs[0]->running);
	CHECK_INT(P.hello->hello->procs[0]->exit_code, 5);
	CHECK_INT(P.hello->hello->procs[0]->dropped, 0);
	CHECK(!res[300].exited);
	take_hello(&P);
	send_welcome(&P);
	REQUIRE(WAIT_FOR(&P, res[300].exited) == 0);
	CHECK_STR(res[300].out[1].p, "one\ntwo\n");
	CHECK_STR(res[300].out[2].p, "three\n");
	CHECK_INT(res[300].code, 5);
	CHECK(!res[301].exited);   /* forgotten, never answered */
	CHECK(run_wait(&P, 17, (const char *[]){ "true", NULL }, NULL)->exited);
}

TEST(round_trip_of_true)
{
	int64_t t[200];

	for (int i = 0; i < 200; i++) {
		int64_t t0;
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		t0 = a.tv_sec * 1000000LL + a.tv_nsec / 1000;
		run_wait(&P, 1000 + (uint64_t)i, (const char *[]){ "true", NULL }, NULL);
		clock_gettime(CLOCK_MONOTONIC, &b);
		t[i] = b.tv_sec * 1000000LL + b.tv_nsec / 1000 - t0;
		REQUIRE(res[1000 + i].exited && res[1000 + i].code == 0);
	}
	qsort(t, 200, sizeof(t[0]), cmp_i64);
	fprintf(stderr, "  run `true` start->exited: median %lld us, p90 %lld us, max %lld us\n",
	    (long long)t[100], (long long)t[180], (long long)t[199]);
}

/* ---- terminals */

static void
send_term_open(struct peer *pr, uint64_t call, const char *const *argv, uint32_t cols,
    uint32_t rows)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__TermOpen t = SBX__AGENT__V1__TERM_OPEN__INIT;
	Sbx__Agent__V1__Run r = SBX__AGENT__V1__RUN__INIT;
	ProtobufCBinaryData av[8];

	res_reset(call);
	for (r.n_argv = 0; argv != NULL && argv[r.n_argv] != NULL; r.n_argv++)
		av[r.n_argv] = (ProtobufCBinaryData){ strlen(argv[r.n_argv]),
		    (uint8_t *)argv[r.n_argv] };
	r.argv = av;
	t.run = &r;
	t.cols = cols;
	t.rows = rows;
	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_TERM_OPEN;
	f.term_open = &t;
	send_frame(pr, &f);
}

static void
send_term_resize(struct peer *pr, uint64_t call, uint32_t cols, uint32_t rows)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__TermResize t = SBX__AGENT__V1__TERM_RESIZE__INIT;

	t.cols = cols;
	t.rows = rows;
	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_TERM_RESIZE;
	f.term_resize = &t;
	send_frame(pr, &f);
}

static void
send_term_close(struct peer *pr, uint64_t call)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__TermClose t = SBX__AGENT__V1__TERM_CLOSE__INIT;

	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_TERM_CLOSE;
	f.term_close = &t;
	send_frame(pr, &f);
}

static int
out_has(uint64_t call, const char *s)
{
	return res[call].out[1].p != NULL && strstr(res[call].out[1].p, s) != NULL;
}

TEST(terminal_size_resize_and_close)
{
	uint64_t call = 900;
	pid_t bg;
	char *p;

	send_term_open(&P, call, (const char *[]){ "sh", NULL }, 80, 24);
	REQUIRE(WAIT_FOR(&P, res[call].started || res[call].failed) == 0);
	REQUIRE(res[call].started);
	send_stdin(&P, call, "tty; stty size; echo M1-$((6*7))\n", 0);
	CHECK(WAIT_FOR(&P, out_has(call, "M1-42")) == 0);
	CHECK(out_has(call, "/dev/pts/"));
	CHECK(out_has(call, "24 80"));
	send_term_resize(&P, call, 132, 50);
	send_stdin(&P, call, "stty size; echo M2-$((6*7))\n", 0);
	CHECK(WAIT_FOR(&P, out_has(call, "M2-42")) == 0);
	CHECK(out_has(call, "50 132"));
	/* a job in a process group of its own still goes with the terminal */
	send_stdin(&P, call, "setsid -w sleep 1000 & sleep 1000 & echo BG-$!-$((1+1))\n", 0);
	CHECK(WAIT_FOR(&P, out_has(call, "-2\r\n")) == 0);
	/* the last "BG-": the first is the terminal's echo of the line */
	for (p = res[call].out[1].p, bg = 0; (p = strstr(p, "BG-")) != NULL; p += 3)
		bg = (pid_t)atoi(p + 3);
	CHECK(bg > 0);
	send_term_close(&P, call);
	CHECK(WAIT_FOR(&P, res[call].exited) == 0);
	CHECK_INT(res[call].code, 128 + SIGKILL);
	CHECK_INT(wait_gone(bg), 0);
}

TEST(terminal_login_shell_and_bad_sizes)
{
	uint64_t call = 901;

	send_term_open(&P, call, NULL, 80, 24);
	REQUIRE(WAIT_FOR(&P, res[call].started || res[call].failed) == 0);
	REQUIRE(res[call].started);
	send_stdin(&P, call, "exit 5\n", 0);
	CHECK(WAIT_FOR(&P, res[call].exited) == 0);
	CHECK_INT(res[call].code, 5);
	send_term_open(&P, call + 1, NULL, 0, 24);
	CHECK(WAIT_FOR(&P, res[call + 1].failed) == 0);
	CHECK_INT(res[call + 1].err, EINVAL);
	send_term_open(&P, call + 2, NULL, 100000, 24);
	CHECK(WAIT_FOR(&P, res[call + 2].failed) == 0);
	send_term_open(&P, call + 3, NULL, 80, 501);
	CHECK(WAIT_FOR(&P, res[call + 3].failed) == 0);
}

/* ---- watches */

static void
send_watch(struct peer *pr, uint64_t call, const char *path, int recursive, const char *glob)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__WatchStart w = SBX__AGENT__V1__WATCH_START__INIT;
	ProtobufCBinaryData g;

	res_reset(call);
	w.path = (ProtobufCBinaryData){ strlen(path), (uint8_t *)path };
	w.recursive = recursive;
	if (glob != NULL) {
		g = (ProtobufCBinaryData){ strlen(glob), (uint8_t *)glob };
		w.globs = &g;
		w.n_globs = 1;
	}
	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WATCH_START;
	f.watch_start = &w;
	send_frame(pr, &f);
}

static void
send_watch_stop(struct peer *pr, uint64_t call)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__WatchStop w = SBX__AGENT__V1__WATCH_STOP__INIT;

	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WATCH_STOP;
	f.watch_stop = &w;
	send_frame(pr, &f);
}

static int
wev_has(uint64_t call, const char *s)
{
	return res[call].wev.p != NULL && strstr(res[call].wev.p, s) != NULL;
}

TEST(watch_sees_create_modify_move_delete)
{
	uint64_t call = 950;
	char dir[128], line[512], a[200], b[200];
	int fd;

	snprintf(dir, sizeof(dir), "%s/w", tmpdir);
	REQUIRE(mkdir(dir, 0755) == 0);
	send_watch(&P, call, dir, 1, NULL);
	REQUIRE(WAIT_FOR(&P, res[call].started || res[call].failed) == 0);
	REQUIRE(res[call].started);
	snprintf(a, sizeof(a), "%s/a.txt", dir);
	snprintf(b, sizeof(b), "%s/b.txt", dir);
	REQUIRE((fd = open(a, O_CREAT | O_WRONLY, 0644)) >= 0);
	close(fd);
	snprintf(line, sizeof(line), "1 %s 0\n", a);
	CHECK(WAIT_FOR(&P, wev_has(call, line)) == 0);
	REQUIRE((fd = open(a, O_WRONLY | O_APPEND)) >= 0);
	CHECK_INT(write(fd, "hello", 5), 5);
	close(fd);
	snprintf(line, sizeof(line), "2 %s 5\n", a);
	CHECK(WAIT_FOR(&P, wev_has(call, line)) == 0);
	CHECK_INT(rename(a, b), 0);
	snprintf(line, sizeof(line), "4 %s %s 5\n", b, a);
	CHECK(WAIT_FOR(&P, wev_has(call, line)) == 0);
	CHECK_INT(unlink(b), 0);
	snprintf(line, sizeof(line), "3 %s 0\n", b);
	CHECK(WAIT_FOR(&P, wev_has(call, line)) == 0);
	/* a new subdirectory is watched too, with what was made in it */
	snprintf(a, sizeof(a), "%s/sub", dir);
	CHECK_INT(mkdir(a, 0755), 0);
	snprintf(b, sizeof(b), "%s/sub/c.txt", dir);
	REQUIRE((fd = open(b, O_CREAT | O_WRONLY, 0644)) >= 0);
	close(fd);
	snprintf(line, sizeof(line), "1 %s 0\n", b);
	CHECK(WAIT_FOR(&P, wev_has(call, line)) == 0);
	send_watch_stop(&P, call);
	CHECK(WAIT_FOR(&P, res[call].exited) == 0);
	fprintf(stderr, "  %d frames:\n%s", res[call].wframes, res[call].wev.p);
}

TEST(watch_coalesces_a_burst)
{
	uint64_t call = 951;
	char dir[128], f[200], line[512];
	int fd;

	snprintf(dir, sizeof(dir), "%s/burst", tmpdir);
	REQUIRE(mkdir(dir, 0755) == 0);
	send_watch(&P, call, dir, 0, "*.log");
	REQUIRE(WAIT_FOR(&P, res[call].started || res[call].failed) == 0);
	REQUIRE(res[call].started);
	snprintf(f, sizeof(f), "%s/x.log", dir);
	for (int i = 0; i < 10000; i++) {
		REQUIRE((fd = open(f, O_CREAT | O_WRONLY | O_APPEND, 0644)) >= 0);
		CHECK_INT(write(fd, "0123456789", 10), 10);
		close(fd);
	}
	REQUIRE((fd = open(dir, O_RDONLY)) >= 0);    /* filtered out by the glob */
	close(fd);
	snprintf(line, sizeof(line), "%s/ignored.txt", dir);
	REQUIRE((fd = open(line, O_CREAT | O_WRONLY, 0644)) >= 0);
	close(fd);
	snprintf(line, sizeof(line), " %s 100000\n", f);
	CHECK(WAIT_FOR(&P, wev_has(call, line)) == 0);
	CHECK(res[call].wframes < 1000);
	CHECK(!wev_has(call, "ignored"));
	CHECK(!wev_has(call, "\n3 ") && strncmp(res[call].wev.p, "3 ", 2) != 0);
	fprintf(stderr, "  10000 writes: %d frames\n", res[call].wframes);
	send_watch_stop(&P, call);
	CHECK(WAIT_FOR(&P, res[call].exited) == 0);
}

/* More changes than inotify's queue holds while the agent cannot read
 * them (stopped) come as one rescan event, never a silent loss; the watch
 * then goes on reporting changes. */
TEST(watch_overflow_is_a_rescan)
{
	uint64_t call = 953;
	char dir[128], f[200], line[512];
	long maxq = 0;
	FILE *q;
	int fd;

	if ((q = fopen("/proc/sys/fs/inotify/max_queued_events", "r")) != NULL) {
		if (fscanf(q, "%ld", &maxq) != 1)
			maxq = 0;
		fclose(q);
	}
	REQUIRE(maxq > 0 && maxq <= (1L << 20));
	snprintf(dir, sizeof(dir), "%s/over", tmpdir);
	REQUIRE(mkdir(dir, 0755) == 0);
	send_watch(&P, call, dir, 0, NULL);
	REQUIRE(WAIT_FOR(&P, res[call].started || res[call].failed) == 0);
	REQUIRE(res[call].started);
	REQUIRE(kill(agent_pid, SIGSTOP) == 0);
	/* two events a file (IN_CREATE, IN_CLOSE_WRITE): past the queue */
	for (long i = 0; i < maxq / 2 + 64; i++) {
		snprintf(f, sizeof(f), "%s/f%ld", dir, i);
		REQUIRE((fd = open(f, O_CREAT | O_WRONLY, 0644)) >= 0);
		close(fd);
	}
	REQUIRE(kill(agent_pid, SIGCONT) == 0);
	CHECK(WAIT_FOR(&P, strncmp(res[call].wev.p ? res[call].wev.p : "", "5 ", 2) == 0 ||
	    wev_has(call, "\n5 ")) == 0);
	snprintf(f, sizeof(f), "%s/after", dir);
	REQUIRE((fd = open(f, O_CREAT | O_WRONLY, 0644)) >= 0);
	close(fd);
	snprintf(line, sizeof(line), "1 %s 0\n", f);
	CHECK(WAIT_FOR(&P, wev_has(call, line)) == 0);
	fprintf(stderr, "  %ld files past a queue of %ld: %d frames\n", maxq / 2 + 64, maxq,
	    res[call].wframes);
	send_watch_stop(&P, call);
	CHECK(WAIT_FOR(&P, res[call].exited) == 0);
	for (long i = 0; i < maxq / 2 + 64; i++) {
		snprintf(f, sizeof(f), "%s/f%ld", dir, i);
		unlink(f);
	}
}

TEST(watch_refuses_bad_paths)
{
	send_watch(&P, 960, "/proc", 0, NULL);
	CHECK(WAIT_FOR(&P, res[960].failed) == 0);
	CHECK_INT(res[960].err, EINVAL);
	send_watch(&P, 961, "/nonexistent/dir", 0, NULL);
	CHECK(WAIT_FOR(&P, res[961].failed) == 0);
	CHECK_INT(res[961].err, ENOENT);
	send_watch(&P, 962, "/etc/passwd", 0, NULL);
	CHECK(WAIT_FOR(&P, res[962].failed) == 0);
	CHECK_INT(res[962].err, ENOTDIR);
}

TEST(supervise_restarts_a_killed_worker)
{
	struct peer sp = { 0 };
	int64_t w1, w2;
	pid_t sup;
	int st;

	snprintf(sp.url, sizeof(sp.url), "ipc://%s/s.sock", tmpdir);
	REQUIRE(peer_listen(&sp) == 0);
	REQUIRE((sup = agent_start(sp.url, 1)) > 0);
	REQUIRE(WAIT_FOR(&sp, sp.hello != NULL) == 0);
	w1 = sp.hello->hello->agent_pid;
	CHECK(w1 != sup);
	take_hello(&sp);
	send_welcome(&sp);
	CHECK_INT(kill((pid_t)w1, SIGKILL), 0);
	REQUIRE(WAIT_FOR(&sp, sp.hello != NULL) == 0);
	w2 = sp.hello->hello->agent_pid;
	CHECK(w2 != w1 && w2 > 0);
	CHECK_INT(kill(sup, SIGTERM), 0);
	CHECK_INT(waitpid(sup, &st, 0), sup);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_INT(wait_gone((pid_t)w2), 0);
	peer_close(&sp);
}

int
main(void)
{
	int st;

	if ((agent_bin = getenv("SBX_AGENT_BIN")) == NULL)
		agent_bin = SBX_AGENT_BIN;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sbx-agent-test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	snprintf(P.url, sizeof(P.url), "ipc://%s/a.sock", tmpdir);
	if (peer_listen(&P) != 0 || (agent_pid = agent_start(P.url, 0)) < 0)
		return 1;
	RUN(hello_then_welcome);
	RUN(runs_true);
	RUN(started_comes_while_a_command_runs);
	RUN(output_and_exit_code);
	RUN(stdin_data_then_eof);
	RUN(keep_stdin_frames_then_close);
	RUN(timeout_kills_the_group);
	RUN(signal_reaches_the_group);
	RUN(exec_failures_are_exit_codes);
	RUN(env_is_added);
	RUN(max_output_truncates);
	RUN(many_calls_at_once);
	RUN(file_calls);
	RUN(bad_frames_are_dropped);
	RUN(background_survives_a_disconnect);
	RUN(round_trip_of_true);
	RUN(terminal_size_resize_and_close);
	RUN(terminal_login_shell_and_bad_sizes);
	RUN(watch_sees_create_modify_move_delete);
	RUN(watch_coalesces_a_burst);
	RUN(watch_overflow_is_a_rescan);
	RUN(watch_refuses_bad_paths);
	RUN(supervise_restarts_a_killed_worker);
	kill(agent_pid, SIGTERM);
	waitpid(agent_pid, &st, 0);
	peer_close(&P);
	T_DONE();
}
