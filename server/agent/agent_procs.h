/*
 * agent_procs.h — the commands sbxd runs through the agent: one `call`
 * per process group, from fork/exec to its exited frame, its pipes served
 * by the main loop's poll, its timeout, its signals, and — for background
 * calls — the output held while sbxd is away.
 *
 * Frames go out through the send function given to agent_procs_new, which
 * returns 0 when the frame was sent and -1 when the link is down (or just
 * went down). The main loop must call agent_procs_link_down when the link
 * goes down and agent_procs_link_up after each welcome.
 */
#ifndef SBX_AGENT_PROCS_H
#define SBX_AGENT_PROCS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "sbx/agent/v1/agent.pb-c.h"

#define AGENT_RING_MAX (256 * 1024)          /* held output per background call */
#define AGENT_STDIN_PENDING_MAX (1024 * 1024) /* unwritten stdin per call */
#define AGENT_CALLS_MAX 1024                 /* calls at once */
#define AGENT_DRAIN_MS 100                   /* pipes kept open after the leader exits */
#define STARTED_DEFER_MS 10                  /* a foreground call's started frame waits this long */

typedef int (*agent_send_fn)(void *arg, const Sbx__Agent__V1__Frame *f);

/* Sends call's failed frame (errno err, message msg) through send; the
 * frame and its strings are the caller's, done with on return. A frame
 * that cannot be sent is dropped, as every frame of a link going down. */
void agent_send_failed(agent_send_fn send, void *arg, uint64_t call, int err,
    const char *msg);

struct agent_procs;

struct agent_procs *agent_procs_new(agent_send_fn send, void *arg);

/* 1 when call is a live call (its exited not yet sent). */
int agent_procs_has(struct agent_procs *ps, uint64_t call);

/* Starts r as call (which must not be live): answers started or failed. */
void agent_procs_run(struct agent_procs *ps, uint64_t call, const Sbx__Agent__V1__Run *r);

/* Starts t as terminal call (which must not be live): answers started or
 * failed. Its stdin frames are keystrokes, its output comes as fd 1. */
void agent_procs_term_open(struct agent_procs *ps, uint64_t call,
    const Sbx__Agent__V1__TermOpen *t);
/* Sets a terminal call's size; -1 when call is no live terminal or the
 * size is out of range (nothing is answered). */
int agent_procs_term_resize(struct agent_procs *ps, uint64_t call, uint32_t cols, uint32_t rows);
/* Kills every process of a terminal call's session; its exited follows
 * once the leader is reaped. -1 when call is no live terminal. */
int agent_procs_term_close(struct agent_procs *ps, uint64_t call);

/* Queues stdin for call. -1 when call is not live (nothing is answered). */
int agent_procs_stdin(struct agent_procs *ps, uint64_t call, const Sbx__Agent__V1__Stdin *in);

/* Sends signo to every process in call's group and answers signalled.
 * A call that is not live is answered too when pgid > 1 names the group
 * (what an exited call left behind); else -1 and nothing is answered. */
int agent_procs_signal(struct agent_procs *ps, uint64_t call, int32_t signo, int64_t pgid);

/* The poll set: agent_procs_nfds bounds how many entries agent_procs_fill
 * writes; agent_procs_io handles what poll reported for those entries and
 * must come before anything else changes the calls. */
size_t agent_procs_nfds(struct agent_procs *ps);
size_t agent_procs_fill(struct agent_procs *ps, struct pollfd *pfd);
void agent_procs_io(struct agent_procs *ps, const struct pollfd *pfd, size_t n);

/* Reaps every exited child (SIGCHLD came); children that are not calls'
 * leaders are reaped and forgotten. */
void agent_procs_reap(struct agent_procs *ps);

/* Acts on due deadlines (timeouts, end of drains); returns the poll
 * timeout until the next one in ms, -1 for none. */
int agent_procs_tick(struct agent_procs *ps);

/* The link went down: foreground calls are killed and forgotten. */
void agent_procs_link_down(struct agent_procs *ps);

/* A welcome came: each held call's buffered output, then its exited if it
 * ended meanwhile. */
void agent_procs_link_up(struct agent_procs *ps);
/* sbxd is stopping: background calls' output and ends are held (as while
 * the link is down) until the next agent_procs_link_up. */
void agent_procs_detach(struct agent_procs *ps);

/* Fills h->procs/n_procs with the held background calls; free them with
 * agent_procs_hello_fini. */
void agent_procs_hello(struct agent_procs *ps, Sbx__Agent__V1__Hello *h);
void agent_procs_hello_fini(Sbx__Agent__V1__Hello *h);

/* Frees calls that ended; call once per loop turn. */
void agent_procs_sweep(struct agent_procs *ps);

#endif
