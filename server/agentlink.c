/*
 * agentlink.c — sbxd's end of one sandbox's agent link (see agentlink.h).
 *
 * Threads: workers call agentlink_exec / agentlink_proc_* and wait on the
 * link's condition variable; nng's callback threads run rx_done (one frame
 * at a time: the single receive aio is re-armed after each frame, so a
 * call's frames are handled in order) and the pipe notifications. Every
 * field of the link and of its calls is guarded by the link's mu; output
 * callbacks of foreground commands (the log bus) run under it too, so a
 * finished command's caller can leave as soon as it has unlinked its call.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/tls/tls.h>
#include <sodium.h>

#include "agent/agent_wire.h"
#include "agentlink.h"
#include "arena.h"
#include "log.h"
#include "metrics.h"
#include "sbx/agent/v1/agent.pb-c.h"
#include "monotime.h"

#define SEND_RUN_MS        1000   /* a Run the agent does not take by then falls back */
#define SEND_STDIN_MS      10000
#define SIGNAL_ANSWER_MS   10000  /* a signal's count */
#define START_ANSWER_MS    10000  /* a background process's started/failed */
#define DRAIN_WAIT_MS      1000   /* a drained command's exit after the KILL */
#define BACKSTOP_MS        5000   /* past a command's timeout: kill it from the host */
#define DECODE_BUDGET      (4u << 20)
#define AGENT_LOST_RAN     "the sandbox agent went away while the command ran; it was killed"
#define AGENT_LOST_HANDED  "the sandbox agent went away as the command was handed over; " \
                           "it may not have run"
#define PROC_QUEUE_MAX     (4u << 20) /* output not yet pumped; beyond: dropped */
#define HELLO_MS           3000   /* a connection that has not said hello by then
                                     is closed: it would hold pair1's one slot */
#define RELISTEN_MIN_MS    2000   /* a link down this long listens anew ... */
#define RELISTEN_MAX_MS    30000  /* ... backing off to this */

typedef Sbx__Agent__V1__Frame Frame;

enum call_kind { CALL_EXEC, CALL_PROC, CALL_FILE, CALL_SIGNAL, CALL_TERM, CALL_WATCH };

struct chunk {
	struct chunk *next;
	int fd;
	size_t n;
	unsigned char data[];
};

struct agent_call {
	struct agent_call *next;
	struct agentlink *link;
	uint64_t id;
	enum call_kind kind;
	int started, ended, failed, lost, killed_by_drain;
	int64_t pid;
	int stale;                    /* pid names a previous run of the container */
	int fail_errno;
	char fail_msg[200];
	int exit_code, signal, timed_out, truncated;
	uint64_t sig_answers;
	int sig_count;
	/* exec */
	struct driver_exec_result *res;
	void (*on_output)(void *arg, int stream, const void *p, size_t n);
	void *on_output_arg;
	/* proc */
	struct chunk *qhead, **qtail;
	size_t qbytes;
	uint64_t qdropped;            /* lost here or in the agent; not yet told */
	uint64_t agent_dropped;       /* the agent's own count, as last heard */
	int efd;
	int stdin_closed;
	int held;                     /* listed in a hello: awaits adoption */
	/* file */
	int replied;
	struct agent_file_reply *reply;
	/* terminal */
	const struct agentlink_term_opts *term;
	/* watch */
	const struct agentlink_watch_opts *watch;
};

struct agent_proc {
	struct agent_call *c;
};

struct agentlink {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	int closed;
	int draining;
	nng_socket sock;
	nng_listener lst;
	nng_aio *rx;
	nng_tls_config *tls;
	char session[64];
	uint8_t token[128];
	size_t token_len;
	int pipe_id;                  /* the welcomed agent's, 0 = none */
	int up;
	uint64_t generation;
	uid_t uid;
	gid_t gid;
	uint64_t next_call;
	struct agent_call *calls;
	uint64_t bad_frames;
	uint64_t rejected;            /* hellos refused */
	nng_aio *timer;               /* the hello deadline's */
	int greeting;                 /* the pipe that has not said hello yet, 0 none */
	uint64_t greeting_since;
	int timer_on;
	char url[300];                /* what lst listens on */
	uint64_t down_since;          /* no agent up since (monotonic ms), 0 = up */
	uint64_t relisten_at;         /* when the listener is made again if still down */
	uint64_t relisten_every;
	struct agentlink *relisten_next; /* in the relisten queue (relisten_mu) */
	int relisten_queued;             /* relisten_mu */
	int port;
};

/* Waits on l->cv until the monotonic deadline (0 = none); 0 at the deadline. */
static int
wait_until(struct agentlink *l, uint64_t deadline)
{
	uint64_t now;

	if (deadline == 0) {
		pthread_cond_wait(&l->cv, &l->mu);
		return 1;
	}
	if ((now = monotime_ms()) >= deadline)
		return 0;
	monotime_wait_ms(&l->cv, &l->mu, deadline - now);
	return 1;
}

static void
wake_call(struct agent_call *c)
{
	uint64_t one = 1;

	if (c->efd >= 0 && write(c->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("agent link: waking a process's reader");
}

/* ---- sending */

/* Packs f and sends it, waiting at most wait_ms for room (0: not at all).
 * 0, or an nng error. */
static int
send_frame(struct agentlink *l, const Frame *f, uint64_t wait_ms)
{
	size_t n = sbx__agent__v1__frame__get_packed_size(f);
	nng_msg *m;
	nng_aio *aio;
	int rv;

	if (n > AGENT_FRAME_MAX)
		return NNG_EMSGSIZE;
	if ((rv = nng_msg_alloc(&m, n)) != 0)
		return rv;
	sbx__agent__v1__frame__pack(f, nng_msg_body(m));
	if (wait_ms == 0) {
		if ((rv = nng_sendmsg(l->sock, m, NNG_FLAG_NONBLOCK)) != 0)
			nng_msg_free(m);
		return rv;
	}
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(m);
		return rv;
	}
	nng_aio_set_timeout(aio, (nng_duration)wait_ms);
	nng_aio_set_msg(aio, m);
	nng_send_aio(l->sock, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		nng_msg_free(m);
	nng_aio_free(aio);
	return rv;
}

/* A signal for call; pgid > 1 names the group when the agent no longer
 * holds the call. */
static int
send_signal_group(struct agentlink *l, uint64_t call, int sig, int64_t pgid, uint64_t wait_ms)
{
	Sbx__Agent__V1__Signal s = SBX__AGENT__V1__SIGNAL__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;

	s.signo = sig;
	s.pgid = pgid;
	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_SIGNAL;
	f.signal = &s;
	return send_frame(l, &f, wait_ms);
}

static int
send_signal(struct agentlink *l, uint64_t call, int sig, uint64_t wait_ms)
{
	return send_signal_group(l, call, sig, 0, wait_ms);
}

/* Sends data as stdin frames of at most AGENT_CHUNK_MAX, the last one
 * closing stdin when close_after. */
static int
send_stdin(struct agentlink *l, uint64_t call, const void *data, size_t n, int close_after,
    uint64_t wait_ms)
{
	Sbx__Agent__V1__Stdin s;
	Frame f;
	const unsigned char *p = data;
	size_t take;
	int rv;

	do {
		take = n < AGENT_CHUNK_MAX ? n : AGENT_CHUNK_MAX;
		sbx__agent__v1__stdin__init(&s);
		sbx__agent__v1__frame__init(&f);
		s.data.data = (uint8_t *)p;
		s.data.len = take;
		s.close = close_after && take == n;
		f.call = call;
		f.body_case = SBX__AGENT__V1__FRAME__BODY_STDIN;
		f.stdin = &s;
		if ((rv = send_frame(l, &f, wait_ms)) != 0)
			return rv;
		if (take > 0)
			p += take;
		n -= take;
	} while (n > 0);
	return 0;
}

/* ---- receiving (nng's threads) */

static struct agent_call *
find_call(struct agentlink *l, uint64_t id)
{
	struct agent_call *c;

	for (c = l->calls; c != NULL; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/* Queues a piece of a process's output for proc_pump; past
 * PROC_QUEUE_MAX the oldest pieces go (the newest output is what a reader
 * of a flood wants, as the process's own buffer keeps). */
static void
queue_output(struct agent_call *c, int fd, const void *p, size_t n)
{
	struct chunk *k;

	while (c->qhead != NULL && c->qbytes + n > PROC_QUEUE_MAX) {
		k = c->qhead;
		c->qhead = k->next;
		if (c->qhead == NULL)
			c->qtail = &c->qhead;
		c->qbytes -= k->n;
		c->qdropped += k->n;
		free(k);
	}
	if (n > PROC_QUEUE_MAX || (k = malloc(sizeof(*k) + n)) == NULL) {
		c->qdropped += n;
		return;
	}
	k->next = NULL;
	k->fd = fd;
	k->n = n;
	memcpy(k->data, p, n);
	*c->qtail = k;
	c->qtail = &k->next;
	c->qbytes += n;
}

/* One frame of a call; l->mu held. */
static void
call_frame(struct agentlink *l, const Frame *f)
{
	struct agent_call *c = find_call(l, f->call);
	const Sbx__Agent__V1__Exited *x;

	if (c == NULL || c->ended || c->lost)
		return;
	switch (f->body_case) {
	case SBX__AGENT__V1__FRAME__BODY_STARTED:
		c->started = 1;
		c->pid = f->started->pid;
		break;
	case SBX__AGENT__V1__FRAME__BODY_FAILED:
		if (c->started)
			return;
		c->failed = 1;
		c->fail_errno = f->failed->errno_value;
		snprintf(c->fail_msg, sizeof(c->fail_msg), "%s",
		    f->failed->message ? f->failed->message : "");
		break;
	case SBX__AGENT__V1__FRAME__BODY_OUTPUT: {
		int fd = f->output->fd == 2 ? 2 : 1;
		const uint8_t *p = f->output->data.data;
		size_t n = f->output->data.len;

		if (n == 0)
			return;
		if (c->kind == CALL_EXEC) {
			if (c->on_output != NULL)
				c->on_output(c->on_output_arg, fd, p, n);
			driver_exec_result_add(c->res, fd, p, n);
		} else if (c->kind == CALL_PROC)
			queue_output(c, fd, p, n);
		else if (c->kind == CALL_TERM)
			c->term->on_output(c->term->arg, p, n);
		break;
	}
	case SBX__AGENT__V1__FRAME__BODY_FILE_REPLY: {
		const Sbx__Agent__V1__FileReply *fr = f->file_reply;
		struct agent_file_reply *r = c->reply;

		if (c->kind != CALL_FILE || c->replied)
			return;
		c->replied = 1;
		r->errno_value = fr->errno_value;
		r->mode = fr->mode;
		r->size = fr->size;
		r->mtime_ms = fr->mtime_ms;
		snprintf(r->link_target, sizeof(r->link_target), "%.*s",
		    (int)fr->link_target.len, (const char *)fr->link_target.data);
		if (r->data != NULL && fr->data.len > 0 &&
		    buf_add(r->data, fr->data.data, fr->data.len) != SBXD_OK)
			r->errno_value = EFBIG;
		break;
	}
	case SBX__AGENT__V1__FRAME__BODY_SIGNALLED:
		c->sig_answers++;
		c->sig_count = f->signalled->count;
		break;
	case SBX__AGENT__V1__FRAME__BODY_EXITED:
		x = f->exited;
		c->ended = 1;
		c->started = 1;
		c->exit_code = x->exit_code;
		c->signal = x->signal;
		c->timed_out = x->timed_out;
		c->truncated = x->truncated;
		if (c->kind == CALL_TERM)
			c->term->on_end(c->term->arg, c->exit_code, 0);
		else if (c->kind == CALL_WATCH)
			c->watch->on_end(c->watch->arg, 0);
		break;
	case SBX__AGENT__V1__FRAME__BODY_WATCH_EVENTS:
		if (c->kind != CALL_WATCH) {
			l->bad_frames++;
			return;
		}
		c->watch->on_events(c->watch->arg, f->watch_events);
		break;
	default:
		l->bad_frames++;
		return;
	}
	/* A foreground command's waiter (agentlink_exec) waits for its end
	 * only: its started and output frames wake nobody, so the worker
	 * sleeps on while the command runs instead of waking to sleep again. */
	if (c->kind == CALL_EXEC && (f->body_case == SBX__AGENT__V1__FRAME__BODY_STARTED ||
	    f->body_case == SBX__AGENT__V1__FRAME__BODY_OUTPUT))
		return;
	wake_call(c);
	pthread_cond_broadcast(&l->cv);
}

/* A background call the agent still holds from before this connection:
 * kept (its output queued) until sbxd takes it back (agentlink_proc_adopt).
 * l->mu held. */
static void
hold_call(struct agentlink *l, const Sbx__Agent__V1__Held *h)
{
	struct agent_call *c = find_call(l, h->call);

	if (c != NULL && h->dropped > c->agent_dropped) {   /* lost while the link was down */
		c->qdropped += h->dropped - c->agent_dropped;
		c->agent_dropped = h->dropped;
	}
	if (c != NULL || h->call == 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return;    /* still ours from before the reconnect, or no memory */
	c->qdropped = c->agent_dropped = h->dropped;
	if ((c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		free(c);
		return;
	}
	c->link = l;
	c->kind = CALL_PROC;
	c->id = h->call;
	c->held = 1;
	c->started = 1;
	c->pid = h->pid;
	c->qtail = &c->qhead;
	c->next = l->calls;
	l->calls = c;
	l->refs++;
}

/* The hello of a new connection; l->mu held. */
static void
hello_frame(struct agentlink *l, nng_pipe pipe, const Sbx__Agent__V1__Hello *h)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Welcome w = SBX__AGENT__V1__WELCOME__INIT;
	int ok;

	ok = h->version >= 1 && h->session_id != NULL &&
	    strcmp(h->session_id, l->session) == 0 &&
	    h->token.len == l->token_len &&
	    (l->token_len == 0 || sodium_memcmp(h->token.data, l->token, l->token_len) == 0);
	if (!ok) {
		log_warnx("agent link of session %s: a peer said hello with the wrong "
		    "session or token; closing it", l->session);
		l->rejected++;
		pthread_cond_broadcast(&l->cv);
		nng_pipe_close(pipe);
		return;
	}
	w.version = 1;
	f.call = 0;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WELCOME;
	f.welcome = &w;
	if (send_frame(l, &f, 0) != 0) {
		nng_pipe_close(pipe);
		return;
	}
	l->pipe_id = nng_pipe_id(pipe);
	if (l->greeting == l->pipe_id)
		l->greeting = 0;
	l->up = 1;
	l->generation++;
	l->uid = h->uid;
	l->gid = h->gid;
	for (size_t i = 0; i < h->n_procs; i++) {
		if (h->procs[i]->call >= l->next_call)
			l->next_call = h->procs[i]->call + 1;
		hold_call(l, h->procs[i]);
	}
	log_debug("agent link of session %s: agent %lld up (uid %u)", l->session,
	    (long long)h->agent_pid, (unsigned)h->uid);
	pthread_cond_broadcast(&l->cv);
}

/* Decodes and handles one frame that came in on pipe. */
static void
on_frame(struct agentlink *l, nng_pipe pipe, const uint8_t *data, size_t len)
{
	struct arena a;
	ProtobufCAllocator al;
	Frame *f;

	arena_init(&a, DECODE_BUDGET);
	al = arena_allocator(&a);
	f = sbx__agent__v1__frame__unpack(&al, len, data);
	pthread_mutex_lock(&l->mu);
	if (f == NULL)
		l->bad_frames++;
	else if (f->call == 0 && f->body_case == SBX__AGENT__V1__FRAME__BODY_HELLO)
		hello_frame(l, pipe, f->hello);
	else if (l->up && nng_pipe_id(pipe) == l->pipe_id && f->call != 0)
		call_frame(l, f);
	else
		l->bad_frames++;
	pthread_mutex_unlock(&l->mu);
	arena_fini(&a);
}

static void
rx_done(void *arg)
{
	struct agentlink *l = arg;
	int rv = nng_aio_result(l->rx);

	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv == 0) {
		nng_msg *m = nng_aio_get_msg(l->rx);

		on_frame(l, nng_msg_get_pipe(m), nng_msg_body(m), nng_msg_len(m));
		nng_msg_free(m);
	}
	nng_recv_aio(l->sock, l->rx);
}

/* Every call on the link ends: its agent is gone. l->mu held. */
static void
lose_calls(struct agentlink *l)
{
	struct agent_call *c;

	for (c = l->calls; c != NULL; c = c->next)
		if (!c->ended) {
			if (c->kind == CALL_TERM && c->started && !c->lost)
				c->term->on_end(c->term->arg, 128 + SIGKILL, 1);
			else if (c->kind == CALL_WATCH && c->started && !c->lost)
				c->watch->on_end(c->watch->arg, 1);
			c->lost = 1;
			wake_call(c);
		}
	pthread_cond_broadcast(&l->cv);
}

/* Opens and starts l->lst on l->url. */
static int
listener_up(struct agentlink *l)
{
	int rv;

	unlink(l->url + 6);    /* ipc only */
	if ((rv = nng_listener_create(&l->lst, l->sock, l->url)) != 0)
		return rv;
	if (strncmp(l->url, "ipc://", 6) == 0)
		/* the directory is the sandbox's only way in; its user is not ours */
		nng_listener_set_int(l->lst, NNG_OPT_IPC_PERMISSIONS, 0666);
	if (l->tls != NULL &&
	    (rv = nng_listener_set_ptr(l->lst, NNG_OPT_TLS_CONFIG, l->tls)) != 0)
		return rv;
	return nng_listener_start(l->lst, 0);
}

static void relisten_later(struct agentlink *l);

/* The link's watch, every HELLO_MS / 3 while it is not up:
 * - a new connection must say hello within HELLO_MS: a sandbox process
 *   that connects to its own socket and says nothing would otherwise keep
 *   its agent out for good (pair1 takes one peer at a time);
 * - a link down for long gets its listener made again, backing off to
 *   RELISTEN_MAX_MS: nng 1.5's ipc listener stops accepting after a peer
 *   connects and closes before the handshake, which a sandbox process
 *   can do to its own socket. */
static void
link_watch(void *arg)
{
	struct agentlink *l = arg;
	nng_pipe pipe;
	int close_it = 0, rearm, relisten = 0;
	uint64_t now = monotime_ms();

	if (nng_aio_result(l->timer) == NNG_ECANCELED || nng_aio_result(l->timer) == NNG_ECLOSED)
		return;
	pthread_mutex_lock(&l->mu);
	if (l->up && l->greeting == l->pipe_id)
		l->greeting = 0;    /* its hello came before this notice */
	if (l->greeting != 0 && now - l->greeting_since >= HELLO_MS) {
		close_it = l->greeting;
		l->greeting = 0;
	}
	if (!l->up && !l->closed && l->greeting == 0 && now >= l->relisten_at &&
	    strncmp(l->url, "ipc://", 6) == 0) {
		relisten = 1;
		l->relisten_at = now + l->relisten_every;
		l->relisten_every = l->relisten_every * 2 > RELISTEN_MAX_MS ? RELISTEN_MAX_MS :
		    l->relisten_every * 2;
	}
	rearm = l->timer_on = (l->greeting != 0 || !l->up) && !l->closed;
	pthread_mutex_unlock(&l->mu);
	if (close_it != 0) {
		memset(&pipe, 0, sizeof(pipe));
		memcpy(&pipe, &close_it, sizeof(close_it));
		log_warnx("agent link of session %s: a connection said no hello in %d ms; "
		    "closing it", l->session, HELLO_MS);
		nng_pipe_close(pipe);
	}
	if (relisten)
		relisten_later(l);   /* never here: this is one of nng's task threads */
	if (rearm)
		nng_sleep_aio(HELLO_MS / 3, l->timer);
}

/* ---- listening anew, on a thread of its own
 *
 * nng_listener_close waits for the listener's callbacks, and link_watch
 * runs on one of nng's few task threads: closing a listener there blocked
 * the thread, and with as many links due at once as nng has task threads
 * (10 containers killed together did it) nothing in nng ran any more and
 * sbxd stopped answering. So link_watch only queues the link; this thread
 * closes and makes its listener. The queue holds a reference to each link. */

static pthread_mutex_t relisten_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t relisten_cv = PTHREAD_COND_INITIALIZER;
static struct agentlink *relisten_head;
static int relisten_running;

static void *
relisten_main(void *arg)
{
	struct agentlink *l;
	int closed, rv;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&relisten_mu);
		while (relisten_head == NULL)
			pthread_cond_wait(&relisten_cv, &relisten_mu);
		l = relisten_head;
		relisten_head = l->relisten_next;
		l->relisten_queued = 0;
		pthread_mutex_unlock(&relisten_mu);
		pthread_mutex_lock(&l->mu);
		closed = l->closed || l->up;
		pthread_mutex_unlock(&l->mu);
		if (!closed) {
			nng_listener_close(l->lst);
			if ((rv = listener_up(l)) != 0)
				log_warnx("agent link of session %s: listening again on %s: %s",
				    l->session, l->url, nng_strerror(rv));
			metrics_count(METRICS_C_AGENT_RELISTENS, 1);
		}
		agentlink_unref(l);
	}
	return NULL;
}

/* Queues l to listen anew (once, however often it is asked). */
static void
relisten_later(struct agentlink *l)
{
	pthread_t t;

	pthread_mutex_lock(&relisten_mu);
	if (!relisten_running) {
		if (pthread_create(&t, NULL, relisten_main, NULL) != 0) {
			pthread_mutex_unlock(&relisten_mu);
			log_warnx("agent links: cannot start the thread that listens anew");
			return;
		}
		pthread_detach(t);
		relisten_running = 1;
	}
	if (!l->relisten_queued) {
		agentlink_ref(l);
		l->relisten_queued = 1;
		l->relisten_next = relisten_head;
		relisten_head = l;
		pthread_cond_signal(&relisten_cv);
	}
	pthread_mutex_unlock(&relisten_mu);
}

/* Starts the watch unless it runs; l->mu held. */
static int
watch_needed(struct agentlink *l)
{
	int start = !l->timer_on && !l->closed;

	l->timer_on = 1;
	return start;
}

static void
pipe_added(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct agentlink *l = arg;
	int start;

	pthread_mutex_lock(&l->mu);
	if (l->up && l->pipe_id == nng_pipe_id(pipe)) {
		/* its hello was handled before this notice ran */
		pthread_mutex_unlock(&l->mu);
		return;
	}
	l->greeting = nng_pipe_id(pipe);
	l->greeting_since = monotime_ms();
	start = watch_needed(l);
	pthread_mutex_unlock(&l->mu);
	if (start)
		nng_sleep_aio(HELLO_MS / 3, l->timer);
}

static void
pipe_gone(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct agentlink *l = arg;
	int start = 0;

	pthread_mutex_lock(&l->mu);
	if (l->greeting == nng_pipe_id(pipe))
		l->greeting = 0;
	if (l->up && nng_pipe_id(pipe) == l->pipe_id) {
		l->up = 0;
		l->pipe_id = 0;
		l->relisten_every = RELISTEN_MIN_MS;
		l->relisten_at = monotime_ms() + RELISTEN_MIN_MS;
		lose_calls(l);
		start = watch_needed(l);
		log_debug("agent link of session %s: agent gone", l->session);
	}
	pthread_mutex_unlock(&l->mu);
	if (start)
		nng_sleep_aio(HELLO_MS / 3, l->timer);
}

/* ---- the link */

static sbxd_code
nng_fail(struct err *e, const char *what, const char *url, int rv)
{
	return err_set(e, SBXD_INTERNAL, "agent link: %s %s: %s", what, url, nng_strerror(rv));
}

static sbxd_code
setup_tls(struct agentlink *l, const struct agentlink_opts *o, struct err *e)
{
	int rv;

	if (strncmp(o->url, "tls+tcp://", 10) != 0)
		return SBXD_OK;
	if (o->tls_cert == NULL)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "agent link %s: tls+tcp:// needs a certificate and key", o->url);
	if ((rv = nng_tls_config_alloc(&l->tls, NNG_TLS_MODE_SERVER)) != 0 ||
	    (rv = nng_tls_config_cert_key_file(l->tls, o->tls_cert, NULL)) != 0)
		return nng_fail(e, "TLS certificate for", o->url, rv);
	if ((rv = nng_listener_set_ptr(l->lst, NNG_OPT_TLS_CONFIG, l->tls)) != 0)
		return nng_fail(e, "TLS config for", o->url, rv);
	return SBXD_OK;
}

sbxd_code
agentlink_listen(const struct agentlink_opts *o, struct agentlink **out, struct err *e)
{
	struct agentlink *l;
	int rv, port = 0;
	sbxd_code code;

	*out = NULL;
	if (o->token_len > sizeof(l->token) || strlen(o->session) >= sizeof(l->session) ||
	    strlen(o->url) >= sizeof(l->url))
		return err_set(e, SBXD_INVALID_ARGUMENT, "agent link: token, session or URL too long");
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	pthread_mutex_init(&l->mu, NULL);
	monotime_cond_init(&l->cv);
	l->refs = 1;
	{
		/* call ids keep growing across sbxd restarts: an agent still
		 * holds background calls of the last run under their ids, and
		 * drops a run that reuses one */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		l->next_call = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	snprintf(l->session, sizeof(l->session), "%s", o->session);
	snprintf(l->url, sizeof(l->url), "%s", o->url);
	l->relisten_every = RELISTEN_MIN_MS;
	l->relisten_at = monotime_ms() + RELISTEN_MIN_MS;
	memcpy(l->token, o->token, o->token_len);
	l->token_len = o->token_len;
	if ((rv = nng_pair1_open(&l->sock)) != 0) {
		free(l);
		return nng_fail(e, "opening a socket for", o->url, rv);
	}
	if ((rv = nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, AGENT_FRAME_MAX)) != 0 ||
	    (rv = nng_socket_set_int(l->sock, NNG_OPT_SENDBUF, 64)) != 0 ||
	    (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_REM_POST, pipe_gone, l)) != 0 ||
	    (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_ADD_POST, pipe_added, l)) != 0 ||
	    (rv = nng_aio_alloc(&l->rx, rx_done, l)) != 0 ||
	    (rv = nng_aio_alloc(&l->timer, link_watch, l)) != 0 ||
	    (rv = nng_listener_create(&l->lst, l->sock, o->url)) != 0) {
		code = nng_fail(e, "setting up", o->url, rv);
		goto fail;
	}
	if (strncmp(o->url, "ipc://", 6) == 0)
		/* the directory is the sandbox's only way in; its user is not ours */
		nng_listener_set_int(l->lst, NNG_OPT_IPC_PERMISSIONS, 0666);
	if ((code = setup_tls(l, o, e)) != SBXD_OK)
		goto fail;
	if ((rv = nng_listener_start(l->lst, 0)) != 0) {
		code = nng_fail(e, "listening on", o->url, rv);
		goto fail;
	}
	if (strncmp(o->url, "ipc://", 6) != 0 &&
	    nng_listener_get_int(l->lst, NNG_OPT_TCP_BOUND_PORT, &port) == 0)
		l->port = port;
	nng_recv_aio(l->sock, l->rx);
	if (strncmp(o->url, "ipc://", 6) == 0) {
		l->timer_on = 1;    /* no agent yet: the watch runs until one is up */
		nng_sleep_aio(HELLO_MS / 3, l->timer);
	}
	*out = l;
	return SBXD_OK;
fail:
	nng_close(l->sock);
	if (l->rx != NULL)
		nng_aio_free(l->rx);
	if (l->timer != NULL)
		nng_aio_free(l->timer);
	if (l->tls != NULL)
		nng_tls_config_free(l->tls);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
	return code;
}

void
agentlink_ref(struct agentlink *l)
{
	pthread_mutex_lock(&l->mu);
	l->refs++;
	pthread_mutex_unlock(&l->mu);
}

void
agentlink_unref(struct agentlink *l)
{
	int last;

	pthread_mutex_lock(&l->mu);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->mu);
	if (!last)
		return;
	nng_aio_free(l->rx);
	nng_aio_free(l->timer);
	if (l->tls != NULL)
		nng_tls_config_free(l->tls);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

void
agentlink_close(struct agentlink *l)
{
	pthread_mutex_lock(&l->mu);
	l->closed = 1;
	pthread_mutex_unlock(&l->mu);
	nng_aio_stop(l->rx);
	nng_aio_stop(l->timer);
	nng_close(l->sock);
	pthread_mutex_lock(&l->mu);
	l->up = 0;
	lose_calls(l);
	pthread_mutex_unlock(&l->mu);
	agentlink_unref(l);
}

int
agentlink_port(struct agentlink *l)
{
	return l->port;
}

int
agentlink_up(struct agentlink *l, uint64_t wait_ms, uid_t *uid, gid_t *gid)
{
	uint64_t deadline = monotime_ms() + wait_ms;
	int up;

	pthread_mutex_lock(&l->mu);
	while (!l->up && !l->closed && wait_ms > 0 && wait_until(l, deadline))
		;
	if ((up = l->up && !l->closed)) {
		if (uid != NULL)
			*uid = l->uid;
		if (gid != NULL)
			*gid = l->gid;
	}
	pthread_mutex_unlock(&l->mu);
	return up;
}

uint64_t
agentlink_generation(struct agentlink *l)
{
	uint64_t g;

	pthread_mutex_lock(&l->mu);
	g = l->generation;
	pthread_mutex_unlock(&l->mu);
	return g;
}

uint64_t
agentlink_rejected(struct agentlink *l, uint64_t at_least, uint64_t wait_ms)
{
	uint64_t deadline = monotime_ms() + wait_ms, n;

	pthread_mutex_lock(&l->mu);
	while (l->rejected < at_least && wait_until(l, deadline))
		;
	n = l->rejected;
	pthread_mutex_unlock(&l->mu);
	return n;
}

void
agentlink_detach(struct agentlink *l)
{
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	Sbx__Agent__V1__Detach d = SBX__AGENT__V1__DETACH__INIT;

	f.call = 0;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_DETACH;
	f.detach = &d;
	if (agentlink_up(l, 0, NULL, NULL) && send_frame(l, &f, SEND_RUN_MS) != 0)
		log_warnx("agent link of session %s: could not hand its background "
		    "processes over for the restart", l->session);
}

int
agentlink_lost_error(const struct err *e)
{
	return strcmp(e->msg, AGENT_LOST_RAN) == 0 || strcmp(e->msg, AGENT_LOST_HANDED) == 0;
}

void
agentlink_drain(struct agentlink *l)
{
	pthread_mutex_lock(&l->mu);
	l->draining = 1;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/* ---- calls */

/* A new call on l, linked in; NULL (the reason in e) when the link is not
 * up. l->mu held. */
static struct agent_call *
call_new(struct agentlink *l, enum call_kind kind, struct err *e)
{
	struct agent_call *c;

	if (!l->up || l->closed) {
		err_set(e, SBXD_UNAVAILABLE, "the sandbox agent is not connected");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	c->link = l;
	c->kind = kind;
	c->id = l->next_call++;
	c->efd = -1;
	c->qtail = &c->qhead;
	c->next = l->calls;
	l->calls = c;
	l->refs++;
	return c;
}

/* Unlinks c; l->mu held. No frame reaches c afterwards. */
static void
call_unlink(struct agentlink *l, struct agent_call *c)
{
	struct agent_call **pp;

	for (pp = &l->calls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
}

static void
call_free(struct agent_call *c)
{
	struct agentlink *l = c->link;
	struct chunk *k;

	while ((k = c->qhead) != NULL) {
		c->qhead = k->next;
		free(k);
	}
	if (c->efd >= 0)
		close(c->efd);
	free(c);
	agentlink_unref(l);
}

/* Fills run from spec (the strings stay spec's). */
static int
fill_run(Sbx__Agent__V1__Run *run, const struct driver_exec_spec *spec, ProtobufCBinaryData *argv,
    size_t nargv, ProtobufCBinaryData *env, size_t nenv)
{
	size_t i;

	for (i = 0; i < nargv && spec->argv[i] != NULL; i++)
		argv[i] = (ProtobufCBinaryData){ strlen(spec->argv[i]), (uint8_t *)spec->argv[i] };
	run->argv = argv;
	run->n_argv = i;
	for (i = 0; spec->env != NULL && i < nenv && spec->env[i] != NULL; i++)
		env[i] = (ProtobufCBinaryData){ strlen(spec->env[i]), (uint8_t *)spec->env[i] };
	run->env = env;
	run->n_env = i;
	if (spec->workdir != NULL)
		run->cwd = (ProtobufCBinaryData){ strlen(spec->workdir), (uint8_t *)spec->workdir };
	run->timeout_ms = spec->timeout_ms;
	return 0;
}

static size_t
count_strv(const char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/* Sends the Run of call c; 0 or an nng error. */
static int
send_run(struct agentlink *l, struct agent_call *c, const struct driver_exec_spec *spec,
    const void *in, size_t in_len, int keep_stdin, int background, uint64_t max_output)
{
	size_t na = count_strv(spec->argv), ne = count_strv(spec->env);
	ProtobufCBinaryData *argv = calloc(na + 1, sizeof(*argv));
	ProtobufCBinaryData *env = calloc(ne + 1, sizeof(*env));
	Sbx__Agent__V1__Run run = SBX__AGENT__V1__RUN__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	int rv = NNG_ENOMEM;

	if (argv != NULL && env != NULL) {
		fill_run(&run, spec, argv, na, env, ne);
		run.keep_stdin = keep_stdin;
		run.background = background;
		run.max_output = max_output;
		if (!keep_stdin && in_len > 0)
			run.stdin_data = (ProtobufCBinaryData){ in_len, (uint8_t *)in };
		f.call = c->id;
		f.body_case = SBX__AGENT__V1__FRAME__BODY_RUN;
		f.run = &run;
		rv = send_frame(l, &f, SEND_RUN_MS);
	}
	free(argv);
	free(env);
	return rv;
}

sbxd_code
agentlink_exec(struct agentlink *l, const struct driver_exec_spec *spec, const void *in,
    size_t in_len, struct driver_exec_result *res, int *ran, int64_t *stuck, struct err *e)
{
	uint64_t t0 = monotime_ms(), deadline = 0;
	int keep_stdin = in_len > AGENT_CHUNK_MAX, rv, kill_sent = 0;
	size_t cap = spec->max_output ? spec->max_output : DRIVER_OUTPUT_DEFAULT;
	struct agent_call *c;
	sbxd_code code = SBXD_OK;

	*ran = 0;
	*stuck = 0;
	driver_exec_result_init(res, cap);
	if (spec->argv == NULL || spec->argv[0] == NULL)
		return err_set(e, SBXD_INVALID_ARGUMENT, "exec has no command");
	pthread_mutex_lock(&l->mu);
	c = call_new(l, CALL_EXEC, e);
	if (c != NULL) {
		c->res = res;
		c->on_output = spec->on_output;
		c->on_output_arg = spec->on_output_arg;
	}
	pthread_mutex_unlock(&l->mu);
	if (c == NULL)
		return e->code;
	/* with a live reader the agent sends everything; else it caps */
	rv = send_run(l, c, spec, in, in_len, keep_stdin, 0,
	    spec->on_output != NULL ? 0 : cap);
	if (rv == 0 && keep_stdin)
		rv = send_stdin(l, c->id, in, in_len, 1, SEND_STDIN_MS);
	pthread_mutex_lock(&l->mu);
	if (rv != 0 && !c->started) {
		call_unlink(l, c);
		pthread_mutex_unlock(&l->mu);
		call_free(c);
		return err_set(e, SBXD_UNAVAILABLE, "the sandbox agent did not take the "
		    "command: %s", nng_strerror(rv));
	}
	if (spec->timeout_ms > 0)
		deadline = t0 + spec->timeout_ms + BACKSTOP_MS;
	for (;;) {
		if (c->ended || c->lost || c->failed)
			break;
		if (l->draining && !kill_sent) {
			kill_sent = 1;
			c->killed_by_drain = 1;
			send_signal(l, c->id, SIGKILL, 0);
			deadline = monotime_ms() + DRAIN_WAIT_MS;
		}
		if (!wait_until(l, deadline))
			break;
	}
	call_unlink(l, c);
	pthread_mutex_unlock(&l->mu);
	*ran = 1;
	if (c->failed) {
		*ran = 0;
		code = err_set(e, SBXD_UNAVAILABLE, "the sandbox agent could not start the "
		    "command: %s", c->fail_msg);
	} else if (c->killed_by_drain)
		code = err_set(e, SBXD_ABORTED, DRIVER_DRAIN_MSG);
	else if (c->lost)
		code = err_set(e, SBXD_ABORTED, "%s", c->started ? AGENT_LOST_RAN :
		    AGENT_LOST_HANDED);
	else if (!c->ended) {
		/* the agent did not end it in time: the backstop */
		send_signal(l, c->id, SIGKILL, 0);
		*stuck = c->pid;
		log_warnx("agent link of session %s: a command outlived its timeout by "
		    "%d ms; killing it from the host", l->session, BACKSTOP_MS);
		res->timed_out = 1;
		res->exit_code = 124;
	} else {
		res->exit_code = c->timed_out ? 124 : c->exit_code;
		res->timed_out = c->timed_out;
		if (c->truncated)
			res->truncated = 1;
	}
	res->duration_ms = monotime_ms() - t0;
	call_free(c);
	return code;
}

/* ---- files */

#define FILE_ANSWER_MS 60000  /* a file call's answer */

/* Sends f (its call id filled in) and waits for the file_reply into r. */
static sbxd_code
file_call(struct agentlink *l, Frame *f, struct agent_file_reply *r, struct err *e)
{
	struct agent_call *c;
	uint64_t deadline;
	int rv;

	pthread_mutex_lock(&l->mu);
	if ((c = call_new(l, CALL_FILE, e)) != NULL)
		c->reply = r;
	pthread_mutex_unlock(&l->mu);
	if (c == NULL)
		return SBXD_UNIMPLEMENTED;
	f->call = c->id;
	rv = send_frame(l, f, SEND_RUN_MS);
	deadline = monotime_ms() + FILE_ANSWER_MS;
	pthread_mutex_lock(&l->mu);
	while (rv == 0 && !c->replied && !c->lost && wait_until(l, deadline))
		;
	call_unlink(l, c);
	rv = rv != 0 ? -1 : c->replied ? 0 : c->lost ? -2 : -3;
	pthread_mutex_unlock(&l->mu);
	call_free(c);
	if (rv == -1)
		return SBXD_UNIMPLEMENTED;   /* never reached the agent */
	if (rv != 0)
		return err_set(e, SBXD_UNAVAILABLE, "the sandbox agent %s; try again",
		    rv == -2 ? "went away during a file operation" :
		    "did not answer a file operation");
	return SBXD_OK;
}

sbxd_code
agentlink_read_file(struct agentlink *l, const char *path, uint64_t max,
    struct agent_file_reply *r, struct err *e)
{
	Sbx__Agent__V1__ReadFile rf = SBX__AGENT__V1__READ_FILE__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;

	rf.path = (ProtobufCBinaryData){ strlen(path), (uint8_t *)path };
	rf.max = max;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_READ_FILE;
	f.read_file = &rf;
	return file_call(l, &f, r, e);
}

sbxd_code
agentlink_write_file(struct agentlink *l, const char *path, const void *data, size_t len,
    int append, struct agent_file_reply *r, struct err *e)
{
	Sbx__Agent__V1__WriteFile wf = SBX__AGENT__V1__WRITE_FILE__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;

	if (len > AGENT_FILE_MAX)
		return SBXD_UNIMPLEMENTED;
	wf.path = (ProtobufCBinaryData){ strlen(path), (uint8_t *)path };
	wf.data = (ProtobufCBinaryData){ len, (uint8_t *)data };
	wf.append = append;
	wf.make_parents = 1;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WRITE_FILE;
	f.write_file = &wf;
	return file_call(l, &f, r, e);
}

sbxd_code
agentlink_stat(struct agentlink *l, const char *path, int follow, struct agent_file_reply *r,
    struct err *e)
{
	Sbx__Agent__V1__StatPath sp = SBX__AGENT__V1__STAT_PATH__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;

	sp.path = (ProtobufCBinaryData){ strlen(path), (uint8_t *)path };
	sp.follow = follow;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_STAT;
	f.stat = &sp;
	return file_call(l, &f, r, e);
}

/* ---- background processes */

sbxd_code
agentlink_proc_start(struct agentlink *l, const struct driver_exec_spec *spec,
    struct agent_proc **out, int *ran, struct err *e)
{
	struct agent_proc *p;
	struct agent_call *c;
	uint64_t deadline;
	int rv;

	*out = NULL;
	*ran = 0;
	if (spec->argv == NULL || spec->argv[0] == NULL)
		return err_set(e, SBXD_INVALID_ARGUMENT, "exec has no command");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	pthread_mutex_lock(&l->mu);
	if ((c = call_new(l, CALL_PROC, e)) != NULL) {
		c->on_output = spec->on_output;
		c->on_output_arg = spec->on_output_arg;
		if ((c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
			call_unlink(l, c);
			pthread_mutex_unlock(&l->mu);
			call_free(c);
			free(p);
			return err_set(e, SBXD_RESOURCE_EXHAUSTED, "eventfd: %s", strerror(errno));
		}
	}
	pthread_mutex_unlock(&l->mu);
	if (c == NULL) {
		free(p);
		return e->code;
	}
	rv = send_run(l, c, spec, NULL, 0, 1, 1, 0);
	pthread_mutex_lock(&l->mu);
	deadline = monotime_ms() + START_ANSWER_MS;
	while (rv == 0 && !c->started && !c->failed && !c->lost && wait_until(l, deadline))
		;
	if (rv != 0 || c->failed || !c->started) {
		int lost = c->lost;

		call_unlink(l, c);
		pthread_mutex_unlock(&l->mu);
		if (rv != 0)
			err_set(e, SBXD_UNAVAILABLE, "the sandbox agent did not take the "
			    "command: %s", nng_strerror(rv));
		else if (c->failed)
			err_set(e, SBXD_UNAVAILABLE, "the sandbox agent could not start "
			    "the command: %s", c->fail_msg);
		else {
			send_signal(l, c->id, SIGKILL, 0);
			*ran = 1;
			err_set(e, lost ? SBXD_ABORTED : SBXD_UNAVAILABLE,
			    "the sandbox agent did not confirm the start; it may not have run");
		}
		call_free(c);
		free(p);
		return e->code;
	}
	pthread_mutex_unlock(&l->mu);
	*ran = 1;
	p->c = c;
	*out = p;
	return SBXD_OK;
}

int
agent_proc_fd(struct agent_proc *p)
{
	return p->c->efd;
}

sbxd_code
agent_proc_pump(struct agent_proc *p, int *eof, struct err *e)
{
	struct agent_call *c = p->c;
	struct agentlink *l = c->link;
	struct chunk *list, *k;
	uint64_t v, dropped;

	if (read(c->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return err_set(e, SBXD_INTERNAL, "reading a process's eventfd: %s",
		    strerror(errno));
	pthread_mutex_lock(&l->mu);
	list = c->qhead;
	c->qhead = NULL;
	c->qtail = &c->qhead;
	c->qbytes = 0;
	dropped = c->qdropped;
	c->qdropped = 0;
	*eof = c->ended || c->lost;
	pthread_mutex_unlock(&l->mu);
	if (dropped > 0 && c->on_output != NULL)   /* before what came after the loss */
		c->on_output(c->on_output_arg, 0, NULL, (size_t)dropped);
	while ((k = list) != NULL) {
		list = k->next;
		if (c->on_output != NULL)
			c->on_output(c->on_output_arg, k->fd, k->data, k->n);
		free(k);
	}
	return SBXD_OK;
}

/* SBXD_OK when c can still take stdin or a signal; l->mu held. */
static sbxd_code
proc_live(struct agent_call *c, struct err *e)
{
	if (c->lost)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "the sandbox agent that ran the process went away");
	if (c->ended)
		return err_set(e, SBXD_FAILED_PRECONDITION, "the process has exited");
	return SBXD_OK;
}

sbxd_code
agent_proc_write_stdin(struct agent_proc *p, const void *data, size_t n, uint64_t timeout_ms,
    struct err *e)
{
	struct agent_call *c = p->c;
	struct agentlink *l = c->link;
	sbxd_code code;
	int rv;

	pthread_mutex_lock(&l->mu);
	if ((code = proc_live(c, e)) == SBXD_OK && c->stdin_closed)
		code = err_set(e, SBXD_FAILED_PRECONDITION, "stdin is closed");
	pthread_mutex_unlock(&l->mu);
	if (code != SBXD_OK || n == 0)
		return code;
	if ((rv = send_stdin(l, c->id, data, n, 0, timeout_ms ? timeout_ms : SEND_STDIN_MS)) != 0)
		return err_set(e, rv == NNG_ETIMEDOUT ? SBXD_DEADLINE_EXCEEDED :
		    SBXD_FAILED_PRECONDITION, "sending stdin to the sandbox agent: %s",
		    nng_strerror(rv));
	return SBXD_OK;
}

sbxd_code
agent_proc_close_stdin(struct agent_proc *p, struct err *e)
{
	struct agent_call *c = p->c;
	struct agentlink *l = c->link;
	sbxd_code code;
	int rv;

	pthread_mutex_lock(&l->mu);
	if ((code = proc_live(c, e)) == SBXD_OK)
		c->stdin_closed = 1;
	pthread_mutex_unlock(&l->mu);
	if (code != SBXD_OK)
		return code;
	if ((rv = send_stdin(l, c->id, NULL, 0, 1, SEND_STDIN_MS)) != 0)
		return err_set(e, SBXD_UNAVAILABLE, "closing stdin through the sandbox "
		    "agent: %s", nng_strerror(rv));
	return SBXD_OK;
}

/* Signals what an exited process left in its group, on a call of its
 * own (the agent no longer holds the process's); *n as proc_signal's. */
static sbxd_code
signal_leftovers(struct agentlink *l, int64_t pgid, int sig, int *n, struct err *e)
{
	struct agent_call *c;
	uint64_t deadline;
	int rv;

	pthread_mutex_lock(&l->mu);
	c = call_new(l, CALL_SIGNAL, e);
	pthread_mutex_unlock(&l->mu);
	if (c == NULL)
		return SBXD_OK;    /* no agent: nothing of it to reach */
	rv = send_signal_group(l, c->id, sig, pgid, SEND_STDIN_MS);
	deadline = monotime_ms() + SIGNAL_ANSWER_MS;
	pthread_mutex_lock(&l->mu);
	while (rv == 0 && c->sig_answers == 0 && !c->lost && wait_until(l, deadline))
		;
	if (c->sig_answers > 0)
		*n = c->sig_count;
	rv = rv == 0 && (c->sig_answers > 0 || c->lost);
	call_unlink(l, c);
	pthread_mutex_unlock(&l->mu);
	call_free(c);
	if (!rv)
		return err_set(e, SBXD_UNAVAILABLE, "the sandbox agent did not answer a signal");
	return SBXD_OK;
}

sbxd_code
agent_proc_signal(struct agent_proc *p, int sig, int *n, struct err *e)
{
	struct agent_call *c = p->c;
	struct agentlink *l = c->link;
	uint64_t want, deadline;
	int64_t pid;
	int rv;

	*n = 0;
	pthread_mutex_lock(&l->mu);
	if (c->lost) {
		pthread_mutex_unlock(&l->mu);
		return SBXD_OK;    /* its agent took the process with it */
	}
	if (c->ended) {
		pid = c->stale ? 0 : c->pid;
		pthread_mutex_unlock(&l->mu);
		return pid > 1 ? signal_leftovers(l, pid, sig, n, e) : SBXD_OK;
	}
	want = c->sig_answers + 1;
	pthread_mutex_unlock(&l->mu);
	if ((rv = send_signal(l, c->id, sig, SEND_STDIN_MS)) != 0)
		return err_set(e, SBXD_UNAVAILABLE, "signalling through the sandbox agent: %s",
		    nng_strerror(rv));
	deadline = monotime_ms() + SIGNAL_ANSWER_MS;
	pthread_mutex_lock(&l->mu);
	while (c->sig_answers < want && !c->lost && !c->ended && wait_until(l, deadline))
		;
	if (c->sig_answers >= want)
		*n = c->sig_count;
	else if (c->ended && !c->lost) {
		/* it exited before the agent answered (it answers nothing after
		 * exited): what it left in its group still gets the signal */
		pid = c->pid;
		pthread_mutex_unlock(&l->mu);
		rv = pid > 1 ? signal_leftovers(l, pid, sig, n, e) : SBXD_OK;
		if (rv == SBXD_OK && *n == 0)
			*n = 1;    /* the signal reached the process: it is gone */
		return rv;
	}
	rv = c->sig_answers >= want || c->lost;
	pthread_mutex_unlock(&l->mu);
	if (!rv)
		return err_set(e, SBXD_UNAVAILABLE, "the sandbox agent did not answer a signal");
	return SBXD_OK;
}

sbxd_code
agent_proc_status(struct agent_proc *p, struct driver_proc_status *st, struct err *e)
{
	struct agent_call *c = p->c;
	struct agentlink *l = c->link;
	sbxd_code code = SBXD_OK;

	pthread_mutex_lock(&l->mu);
	st->pid = c->pid;
	st->running = !c->ended && !c->lost;
	/* a process dies with its agent (or its container): killed */
	st->exit_code = c->ended ? c->exit_code : c->lost ? 128 + SIGKILL : -1;
	pthread_mutex_unlock(&l->mu);
	(void)e;
	return code;
}

int
agent_proc_lost(struct agent_proc *p, int *back)
{
	struct agentlink *l = p->c->link;
	int lost;

	pthread_mutex_lock(&l->mu);
	lost = p->c->lost;
	*back = l->up && !l->closed;
	pthread_mutex_unlock(&l->mu);
	return lost;
}

void
agentlink_container_restarted(struct agentlink *l)
{
	pthread_mutex_lock(&l->mu);
	for (struct agent_call *c = l->calls; c != NULL; c = c->next)
		c->stale = 1;
	pthread_mutex_unlock(&l->mu);
}

int
agentlink_container_died(struct agentlink *l)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;

	pthread_mutex_lock(&l->mu);
	if (l->up)
		p.id = (uint32_t)l->pipe_id;
	pthread_mutex_unlock(&l->mu);
	return p.id != 0 && nng_pipe_close(p) == 0;
}

void
agent_proc_free(struct agent_proc *p)
{
	struct agent_call *c = p->c;
	struct agentlink *l = c->link;

	pthread_mutex_lock(&l->mu);
	call_unlink(l, c);
	pthread_mutex_unlock(&l->mu);
	call_free(c);
	free(p);
}

sbxd_code
agentlink_proc_adopt(struct agentlink *l, uint64_t call, const struct driver_exec_spec *spec,
    struct agent_proc **out, struct err *e)
{
	struct agent_proc *p;
	struct agent_call *c;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return err_set(e, SBXD_RESOURCE_EXHAUSTED, "out of memory");
	pthread_mutex_lock(&l->mu);
	if (!l->up) {
		pthread_mutex_unlock(&l->mu);
		free(p);
		return err_set(e, SBXD_UNAVAILABLE, "the sandbox agent is not connected");
	}
	c = find_call(l, call);
	if (c == NULL || !c->held) {
		pthread_mutex_unlock(&l->mu);
		free(p);
		return err_set(e, SBXD_NOT_FOUND, "the sandbox agent does not hold it");
	}
	c->held = 0;
	c->on_output = spec->on_output;
	c->on_output_arg = spec->on_output_arg;
	wake_call(c);    /* what it wrote meanwhile is queued */
	pthread_mutex_unlock(&l->mu);
	p->c = c;
	*out = p;
	return SBXD_OK;
}

uint64_t
agent_proc_call(struct agent_proc *p)
{
	return p->c->id;
}

/* ---- terminals */

static int send_frame_term_close(struct agentlink *l, uint64_t call);
static int send_frame_watch_stop(struct agentlink *l, uint64_t call);

#define OPEN_ANSWER_MS 10000  /* a terminal's or watch's started/failed */

/* How a call that runs until closed (a terminal, a watch) is opened. */
struct open_kind {
	const char *name;              /* "terminal" */
	const char *refused;           /* "could not start the terminal" */
	sbxd_code (*code_of)(int err); /* the agent's errno as a status */
	int (*cancel)(struct agentlink *l, uint64_t call);  /* its close frame */
};

/* Sends c's opening frame f and waits for the agent's answer: SBXD_OK
 * once it started (c stays linked); else c is unlinked, and the error says
 * why: UNAVAILABLE when f could not go or no answer came (the agent is
 * then told to close it, should it start after all), k->code_of's status
 * when the agent refused it. */
static sbxd_code
call_open(struct agentlink *l, struct agent_call *c, const Frame *f, const struct open_kind *k,
    struct err *e)
{
	uint64_t deadline;
	int rv;

	rv = send_frame(l, f, SEND_RUN_MS);
	deadline = monotime_ms() + OPEN_ANSWER_MS;
	pthread_mutex_lock(&l->mu);
	while (rv == 0 && !c->started && !c->failed && !c->lost && wait_until(l, deadline))
		;
	if (rv == 0 && c->started && !c->lost) {
		pthread_mutex_unlock(&l->mu);
		return SBXD_OK;
	}
	call_unlink(l, c);
	pthread_mutex_unlock(&l->mu);
	if (rv != 0)
		return err_set(e, SBXD_UNAVAILABLE, "the sandbox agent did not take the %s: %s; "
		    "try again", k->name, nng_strerror(rv));
	if (c->failed)
		return err_set(e, k->code_of(c->fail_errno), "the sandbox agent %s: %s",
		    k->refused, c->fail_msg);
	k->cancel(l, c->id);
	return err_set(e, SBXD_UNAVAILABLE, "the sandbox agent did not confirm the %s; try "
	    "again", k->name);
}

static sbxd_code
term_code_of(int err)
{
	return err == EINVAL ? SBXD_INVALID_ARGUMENT : err == EAGAIN ? SBXD_RESOURCE_EXHAUSTED :
	    SBXD_FAILED_PRECONDITION;
}

static sbxd_code
watch_code_of(int err)
{
	return err == ENOENT ? SBXD_NOT_FOUND :
	    err == ENOTDIR || err == EINVAL ? SBXD_INVALID_ARGUMENT :
	    err == EAGAIN || err == ENOSPC ? SBXD_RESOURCE_EXHAUSTED : SBXD_FAILED_PRECONDITION;
}

static const struct open_kind term_opening = {
	"terminal", "could not start the terminal", term_code_of, send_frame_term_close
};
static const struct open_kind watch_starting = {
	"watch", "could not watch it", watch_code_of, send_frame_watch_stop
};

struct agent_term {
	struct agent_call *c;
};

sbxd_code
agentlink_term_open(struct agentlink *l, const struct agentlink_term_opts *o,
    struct agent_term **out, int64_t *pid, struct err *e)
{
	size_t na = count_strv(o->argv), ne = count_strv(o->env);
	ProtobufCBinaryData *argv = calloc(na + 1, sizeof(*argv));
	ProtobufCBinaryData *env = calloc(ne + 1, sizeof(*env));
	struct driver_exec_spec spec = { .argv = o->argv, .env = o->env, .workdir = o->cwd };
	Sbx__Agent__V1__TermOpen to = SBX__AGENT__V1__TERM_OPEN__INIT;
	Sbx__Agent__V1__Run run = SBX__AGENT__V1__RUN__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	struct agent_term *t = calloc(1, sizeof(*t));
	struct agent_call *c = NULL;
	sbxd_code code = SBXD_RESOURCE_EXHAUSTED;

	*out = NULL;
	*pid = 0;
	if (argv == NULL || env == NULL || t == NULL) {
		err_set(e, code, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&l->mu);
	if ((c = call_new(l, CALL_TERM, e)) != NULL)
		c->term = o;
	pthread_mutex_unlock(&l->mu);
	if (c == NULL) {
		code = e->code;
		goto out;
	}
	fill_run(&run, &spec, argv, na, env, ne);
	to.run = &run;
	to.cols = o->cols;
	to.rows = o->rows;
	f.call = c->id;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_TERM_OPEN;
	f.term_open = &to;
	if ((code = call_open(l, c, &f, &term_opening, e)) == SBXD_OK) {
		*pid = c->pid;
		t->c = c;
		*out = t;
		t = NULL;
		c = NULL;
	}
out:
	if (c != NULL)
		call_free(c);
	free(argv);
	free(env);
	free(t);
	return code;
}

/* SBXD_OK when t still runs; l->mu held. */
static sbxd_code
term_live(struct agent_call *c, struct err *e)
{
	if (c->lost)
		return err_set(e, SBXD_FAILED_PRECONDITION, "the terminal is gone: the "
		    "sandbox agent that ran it went away; open a new one");
	if (c->ended)
		return err_set(e, SBXD_FAILED_PRECONDITION, "the terminal has exited "
		    "(code %d); open a new one", c->exit_code);
	return SBXD_OK;
}

sbxd_code
agent_term_input(struct agent_term *t, const void *data, size_t n, struct err *e)
{
	struct agent_call *c = t->c;
	struct agentlink *l = c->link;
	sbxd_code code;
	int rv;

	pthread_mutex_lock(&l->mu);
	code = term_live(c, e);
	pthread_mutex_unlock(&l->mu);
	if (code != SBXD_OK || n == 0)
		return code;
	if ((rv = send_stdin(l, c->id, data, n, 0, SEND_STDIN_MS)) != 0)
		return err_set(e, rv == NNG_ETIMEDOUT ? SBXD_DEADLINE_EXCEEDED :
		    SBXD_UNAVAILABLE, "sending input to the sandbox agent: %s",
		    nng_strerror(rv));
	return SBXD_OK;
}

sbxd_code
agent_term_resize(struct agent_term *t, uint32_t cols, uint32_t rows, struct err *e)
{
	Sbx__Agent__V1__TermResize tr = SBX__AGENT__V1__TERM_RESIZE__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	struct agent_call *c = t->c;
	struct agentlink *l = c->link;
	sbxd_code code;
	int rv;

	pthread_mutex_lock(&l->mu);
	code = term_live(c, e);
	pthread_mutex_unlock(&l->mu);
	if (code != SBXD_OK)
		return code;
	tr.cols = cols;
	tr.rows = rows;
	f.call = c->id;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_TERM_RESIZE;
	f.term_resize = &tr;
	if ((rv = send_frame(l, &f, SEND_STDIN_MS)) != 0)
		return err_set(e, SBXD_UNAVAILABLE, "resizing through the sandbox agent: %s",
		    nng_strerror(rv));
	return SBXD_OK;
}

static int
send_frame_term_close(struct agentlink *l, uint64_t call)
{
	Sbx__Agent__V1__TermClose tc = SBX__AGENT__V1__TERM_CLOSE__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;

	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_TERM_CLOSE;
	f.term_close = &tc;
	return send_frame(l, &f, SEND_STDIN_MS);
}

/* Ends call c of a terminal or watch: unless it has ended, sends f (its
 * close or stop) and waits up to wait_ms for the agent to say it ended.
 * sending and ending name the step in errors ("closing the terminal";
 * "the terminal's processes did not end"). */
static sbxd_code
call_end(struct agent_call *c, const Frame *f, uint64_t wait_ms, const char *sending,
    const char *ending, struct err *e)
{
	struct agentlink *l = c->link;
	uint64_t deadline;
	int rv, done;

	pthread_mutex_lock(&l->mu);
	done = c->ended || c->lost;
	pthread_mutex_unlock(&l->mu);
	if (done)
		return SBXD_OK;
	if ((rv = send_frame(l, f, SEND_STDIN_MS)) != 0)
		return err_set(e, SBXD_UNAVAILABLE, "%s through the sandbox agent: %s", sending,
		    nng_strerror(rv));
	deadline = monotime_ms() + wait_ms;
	pthread_mutex_lock(&l->mu);
	while (!c->ended && !c->lost && wait_until(l, deadline))
		;
	done = c->ended || c->lost;
	pthread_mutex_unlock(&l->mu);
	if (!done)
		return err_set(e, SBXD_DEADLINE_EXCEEDED, "%s within %llu ms", ending,
		    (unsigned long long)wait_ms);
	return SBXD_OK;
}

/* Takes call c off its link and frees it (a terminal's or watch's last use). */
static void
call_release(struct agent_call *c)
{
	struct agentlink *l = c->link;

	pthread_mutex_lock(&l->mu);
	call_unlink(l, c);
	pthread_mutex_unlock(&l->mu);
	call_free(c);
}

sbxd_code
agent_term_close(struct agent_term *t, uint64_t wait_ms, struct err *e)
{
	Sbx__Agent__V1__TermClose tc = SBX__AGENT__V1__TERM_CLOSE__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;

	f.call = t->c->id;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_TERM_CLOSE;
	f.term_close = &tc;
	return call_end(t->c, &f, wait_ms, "closing the terminal",
	    "the terminal's processes did not end after the kill", e);
}

void
agent_term_free(struct agent_term *t)
{
	if (t == NULL)
		return;
	call_release(t->c);
	free(t);
}

/* ---- watches */

struct agent_watch {
	struct agent_call *c;
};

sbxd_code
agentlink_watch_start(struct agentlink *l, const struct agentlink_watch_opts *o,
    struct agent_watch **out, struct err *e)
{
	Sbx__Agent__V1__WatchStart ws = SBX__AGENT__V1__WATCH_START__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;
	size_t ng = count_strv(o->globs);
	ProtobufCBinaryData *globs = calloc(ng + 1, sizeof(*globs));
	struct agent_watch *w = calloc(1, sizeof(*w));
	struct agent_call *c = NULL;
	sbxd_code code = SBXD_RESOURCE_EXHAUSTED;

	*out = NULL;
	if (globs == NULL || w == NULL) {
		err_set(e, code, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&l->mu);
	if ((c = call_new(l, CALL_WATCH, e)) != NULL)
		c->watch = o;
	pthread_mutex_unlock(&l->mu);
	if (c == NULL) {
		code = e->code;
		goto out;
	}
	for (size_t i = 0; i < ng; i++)
		globs[i] = (ProtobufCBinaryData){ strlen(o->globs[i]), (uint8_t *)o->globs[i] };
	ws.path = (ProtobufCBinaryData){ strlen(o->path), (uint8_t *)o->path };
	ws.recursive = o->recursive;
	ws.globs = globs;
	ws.n_globs = ng;
	f.call = c->id;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WATCH_START;
	f.watch_start = &ws;
	if ((code = call_open(l, c, &f, &watch_starting, e)) == SBXD_OK) {
		w->c = c;
		*out = w;
		w = NULL;
		c = NULL;
	}
out:
	if (c != NULL)
		call_free(c);
	free(globs);
	free(w);
	return code;
}

static int
send_frame_watch_stop(struct agentlink *l, uint64_t call)
{
	Sbx__Agent__V1__WatchStop st = SBX__AGENT__V1__WATCH_STOP__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;

	f.call = call;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WATCH_STOP;
	f.watch_stop = &st;
	return send_frame(l, &f, SEND_STDIN_MS);
}

sbxd_code
agent_watch_stop(struct agent_watch *w, uint64_t wait_ms, struct err *e)
{
	Sbx__Agent__V1__WatchStop st = SBX__AGENT__V1__WATCH_STOP__INIT;
	Frame f = SBX__AGENT__V1__FRAME__INIT;

	f.call = w->c->id;
	f.body_case = SBX__AGENT__V1__FRAME__BODY_WATCH_STOP;
	f.watch_stop = &st;
	return call_end(w->c, &f, wait_ms, "stopping the watch",
	    "the sandbox agent did not end the watch", e);
}

void
agent_watch_free(struct agent_watch *w)
{
	if (w == NULL)
		return;
	call_release(w->c);
	free(w);
}

/* ---- fuzzing */

/* See agentlink.h. The link is never listening: its socket is not open,
 * so whatever the frames make it send fails quietly. */
void
agentlink_fuzz_frame(const uint8_t *p, size_t n, const struct agentlink_term_opts *term,
    const struct agentlink_watch_opts *watch)
{
	static struct agentlink l;
	static struct driver_exec_result res;
	static struct agent_call exec_call, proc_call, file_call_, term_call, watch_call;
	static struct agent_file_reply reply;
	static struct buf data;
	struct chunk *k;

	if (l.session[0] == '\0') {
		pthread_mutex_init(&l.mu, NULL);
		pthread_cond_init(&l.cv, NULL);
		snprintf(l.session, sizeof(l.session), "s-fuzz");
		l.refs = 1;
	}
	/* a welcomed agent on pipe 1 with three calls in flight */
	l.up = 1;
	l.pipe_id = 1;
	driver_exec_result_fini(&res);
	driver_exec_result_init(&res, 4096);
	buf_fini(&data);
	buf_init(&data, 4096);
	while ((k = proc_call.qhead) != NULL) {
		proc_call.qhead = k->next;
		free(k);
	}
	exec_call = (struct agent_call){ .link = &l, .id = 1, .kind = CALL_EXEC, .res = &res,
	    .efd = -1 };
	proc_call = (struct agent_call){ .link = &l, .id = 2, .kind = CALL_PROC, .efd = -1 };
	proc_call.qtail = &proc_call.qhead;
	reply = (struct agent_file_reply){ .data = &data };
	file_call_ = (struct agent_call){ .link = &l, .id = 3, .kind = CALL_FILE,
	    .reply = &reply, .efd = -1 };
	term_call = (struct agent_call){ .link = &l, .id = 4, .kind = CALL_TERM, .term = term,
	    .started = 1, .efd = -1 };
	watch_call = (struct agent_call){ .link = &l, .id = 5, .kind = CALL_WATCH,
	    .watch = watch, .started = 1, .efd = -1 };
	exec_call.next = &proc_call;
	proc_call.next = &file_call_;
	file_call_.next = &term_call;
	term_call.next = &watch_call;
	l.calls = &exec_call;
	on_frame(&l, (nng_pipe)NNG_PIPE_INITIALIZER, p, n);
	{
		/* the same bytes from the welcomed pipe */
		nng_pipe one;

		memset(&one, 0, sizeof(one));
		memcpy(&one, &(uint32_t){ 1 }, sizeof(uint32_t));
		on_frame(&l, one, p, n);
	}
}
