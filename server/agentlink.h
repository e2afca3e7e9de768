/*
 * agentlink.h — sbxd's end of one sandbox's agent link (server/agent/).
 *
 * The agent dials in; sbxd only ever listens: on a unix socket in a host
 * directory it owns, mounted into that one container (ipc://), or on
 * tcp:// / tls+tcp:// for an agent on another host. One nng pair1
 * connection carries every call at once (proto/sbx/agent/v1/agent.proto):
 * the agent's hello must name the link's session and carry its token
 * (compared in constant time) before sbxd sends anything. Frames are
 * bounded (AGENT_FRAME_MAX) and decoded with a budget; a frame that does
 * not decode, or names no call of ours, is dropped — a sandbox that
 * speaks garbage only spoils its own link.
 *
 * sbxd never blocks on the agent: frames go out without waiting (a full
 * send queue means the agent stopped reading: the call is not sent and the
 * caller falls back to the engine), replies arrive on nng's callback
 * threads and wake the caller. A call whose link drops after it started
 * ends ABORTED; one that never reached the agent (*ran == 0) can be run
 * another way.
 */
#ifndef SBXD_AGENTLINK_H
#define SBXD_AGENTLINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "driver.h"
#include "err.h"

struct agentlink;
struct agent_proc;

struct agentlink_opts {
	const char *url;              /* ipc:///dir/agent.sock, tcp://..., tls+tcp://... */
	const char *session;          /* the hello must name it */
	const uint8_t *token;         /* the hello must carry it */
	size_t token_len;
	const char *tls_cert;         /* tls+tcp://: a PEM file holding the
	                                 certificate and its key */
};

/* Starts listening; the link comes up when its agent has said hello. */
sbxd_code agentlink_listen(const struct agentlink_opts *o, struct agentlink **out,
    struct err *e);
/* Stops listening, ends every call on it (ABORTED) and drops the
 * creator's reference. */
void agentlink_close(struct agentlink *l);
void agentlink_ref(struct agentlink *l);
void agentlink_unref(struct agentlink *l);
/* The TCP port a tcp:// or tls+tcp:// link listens on (its URL may ask
 * for port 0), or 0. */
int agentlink_port(struct agentlink *l);
/* 1 when an agent is connected and welcomed; *uid and *gid (when not NULL)
 * are the user it runs commands as. Waits up to wait_ms for it. */
int agentlink_up(struct agentlink *l, uint64_t wait_ms, uid_t *uid, gid_t *gid);
/* How many times an agent came up on this link (tests watch a restart). */
uint64_t agentlink_generation(struct agentlink *l);
/* How many hellos were refused (wrong session or token), waiting up to
 * wait_ms for there to be at_least. */
uint64_t agentlink_rejected(struct agentlink *l, uint64_t at_least, uint64_t wait_ms);
/* Ends every foreground command on the link (killed in the sandbox,
 * answered ABORTED "sbxd is stopping; the command was killed"), and
 * every one started later. */
void agentlink_drain(struct agentlink *l);
/* sbxd is stopping: the agent holds its background processes' output and
 * ends for the next sbxd from now on. */
void agentlink_detach(struct agentlink *l);

/* Runs spec to completion through the agent, with driver.h's exec
 * contract (in: in_len bytes of stdin, then EOF). *ran is 0 when the
 * command was not handed to the agent at all (link down, send queue
 * full, the agent could not start it): nothing ran and the caller may
 * use another route; the error says why. *stuck is set to the command's
 * process group when the agent did not end it within 5 s past its
 * timeout (the caller kills it from the host), else 0. */
sbxd_code agentlink_exec(struct agentlink *l, const struct driver_exec_spec *spec,
    const void *in, size_t in_len, struct driver_exec_result *res, int *ran,
    int64_t *stuck, struct err *e);

/* ---- files, in the container's view, as the agent's user. SBXD_OK when
 * the agent answered (r->errno_value 0, or why it failed);
 * UNIMPLEMENTED when the call never reached it (link down, over
 * AGENT_FILE_MAX): the caller uses another route; UNAVAILABLE when it
 * went away or did not answer. r->data (when not NULL) receives a read's
 * content within its max. */
struct agent_file_reply {
	int errno_value;
	uint32_t mode;
	uint64_t size;
	int64_t mtime_ms;
	char link_target[1024];
	struct buf *data;
};
sbxd_code agentlink_read_file(struct agentlink *l, const char *path, uint64_t max,
    struct agent_file_reply *r, struct err *e);
/* Creates missing parents; a new file gets mode 0644. */
sbxd_code agentlink_write_file(struct agentlink *l, const char *path, const void *data,
    size_t len, int append, struct agent_file_reply *r, struct err *e);
sbxd_code agentlink_stat(struct agentlink *l, const char *path, int follow,
    struct agent_file_reply *r, struct err *e);

/* 1 when e is agentlink_exec's ABORTED for an agent that went away (not
 * sbxd's drain). */
int agentlink_lost_error(const struct err *e);

/* ---- background processes: driver.h's proc contract */
sbxd_code agentlink_proc_start(struct agentlink *l, const struct driver_exec_spec *spec,
    struct agent_proc **out, int *ran, struct err *e);
int agent_proc_fd(struct agent_proc *p);
sbxd_code agent_proc_pump(struct agent_proc *p, int *eof, struct err *e);
sbxd_code agent_proc_write_stdin(struct agent_proc *p, const void *data, size_t n,
    uint64_t timeout_ms, struct err *e);
sbxd_code agent_proc_close_stdin(struct agent_proc *p, struct err *e);
sbxd_code agent_proc_signal(struct agent_proc *p, int sig, int *n, struct err *e);
sbxd_code agent_proc_status(struct agent_proc *p, struct driver_proc_status *st,
    struct err *e);
void agent_proc_free(struct agent_proc *p);
/* 1 when p's agent went away before p's end was heard (proc_status then
 * reports it killed, 137); *back: an agent is connected again. */
int agent_proc_lost(struct agent_proc *p, int *back);
/* The container of l was started again: the processes of its previous
 * run are gone, and the process groups their ended calls named may be
 * reused by new ones, so a signal to what such a call left reaches
 * nothing from now on. */
void agentlink_container_restarted(struct agentlink *l);
/* The engine says l's container stopped: its agent is gone, whether or
 * not the link has seen it go (under gVisor a sandbox killed by the host
 * may leave it open for a while): the connection is closed, which ends
 * its calls as the agent's own going would. 1 when one was open. */
int agentlink_container_died(struct agentlink *l);
/* The call id of p: its handle across a restart of sbxd. */
uint64_t agent_proc_call(struct agent_proc *p);
/* Takes back the background call the agent listed in its hello (it ran
 * before sbxd restarted); spec->on_output gets what it wrote meanwhile,
 * then the rest. UNAVAILABLE when the agent is not connected (yet),
 * NOT_FOUND when it does not hold that call. */
sbxd_code agentlink_proc_adopt(struct agentlink *l, uint64_t call,
    const struct driver_exec_spec *spec, struct agent_proc **out, struct err *e);

/* ---- terminals: a command on a pty in the sandbox (agent.proto's
 * term_open). Its callbacks run on nng's threads under the link's lock:
 * copy, do not block, call no agentlink function. on_output gets what the
 * terminal shows; on_end comes once, when it exited (lost 0) or its agent
 * went away (lost 1, exit_code 137). o must stay valid until
 * agent_term_free. */
struct agent_term;
struct agentlink_term_opts {
	const char *const *argv;      /* NULL or empty: the user's login shell */
	const char *const *env;       /* "K=V", NULL-terminated, or NULL */
	const char *cwd;              /* NULL: the container's workdir */
	uint32_t cols, rows;          /* 1..AGENT_TERM_COLS_MAX / _ROWS_MAX */
	void (*on_output)(void *arg, const void *p, size_t n);
	void (*on_end)(void *arg, int exit_code, int lost);
	void *arg;
};
/* Starts a terminal; *pid is its leader in the container. UNAVAILABLE
 * when the agent is not connected or did not answer, INVALID_ARGUMENT /
 * FAILED_PRECONDITION when it could not start it (the agent's reason). */
sbxd_code agentlink_term_open(struct agentlink *l, const struct agentlink_term_opts *o,
    struct agent_term **out, int64_t *pid, struct err *e);
/* Keystrokes; FAILED_PRECONDITION once the terminal has ended. */
sbxd_code agent_term_input(struct agent_term *t, const void *data, size_t n, struct err *e);
sbxd_code agent_term_resize(struct agent_term *t, uint32_t cols, uint32_t rows,
    struct err *e);
/* Kills every process of the terminal's session and waits up to wait_ms
 * for its end (on_end has run then); OK at once when it has ended. */
sbxd_code agent_term_close(struct agent_term *t, uint64_t wait_ms, struct err *e);
/* Forgets t (no callback runs afterwards). NULL is fine. */
void agent_term_free(struct agent_term *t);

/* ---- file watches (agent.proto's watch_start). Callbacks as the
 * terminal's: on nng's threads under the link's lock. on_events gets each
 * watch_events frame; on_end comes once, when the agent ended the watch
 * (lost 0: its directory went) or went away (lost 1). o (and its strings)
 * must stay valid until agent_watch_free. */
struct agent_watch;
struct Sbx__Agent__V1__WatchEvents;
struct agentlink_watch_opts {
	const char *path;             /* absolute */
	int recursive;
	const char *const *globs;     /* NULL-terminated, or NULL */
	void (*on_events)(void *arg, const struct Sbx__Agent__V1__WatchEvents *ev);
	void (*on_end)(void *arg, int lost);
	void *arg;
};
/* NOT_FOUND / INVALID_ARGUMENT / RESOURCE_EXHAUSTED with the agent's
 * reason when it refused, UNAVAILABLE when it is not there. */
sbxd_code agentlink_watch_start(struct agentlink *l, const struct agentlink_watch_opts *o,
    struct agent_watch **out, struct err *e);
/* Ends the watch, waiting up to wait_ms for the agent's answer. */
sbxd_code agent_watch_stop(struct agent_watch *w, uint64_t wait_ms, struct err *e);
void agent_watch_free(struct agent_watch *w);

/* For the fuzz target (tests/fuzz/fuzz_agent_frame_sbxd.c): handles one
 * frame as sbxd would from its welcomed agent, on a link that is not
 * listening, with an exec (call 1), a process (2), a file call (3), a
 * terminal (4, term's callbacks) and a watch (5, watch's) in flight. */
void agentlink_fuzz_frame(const uint8_t *p, size_t n, const struct agentlink_term_opts *term,
    const struct agentlink_watch_opts *watch);

#endif
