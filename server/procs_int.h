/*
 * procs_int.h — what procs.c (the records and the operations) and
 * procs_io.c (the output thread, the output buffers and how a process's
 * end is recorded) share; not installed. The locking rules are in
 * procs.c's top comment.
 */
#ifndef SBXD_PROCS_INT_H
#define SBXD_PROCS_INT_H

#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "err.h"
#include "procs.h"
#include "server.h"
#include "store.h"

#define RECHECK_MS		25	/* asking the engine for an exit: first */
#define RECHECK_MAX_MS		1000	/* ... and at most, backing off */
#define RINGS_TOTAL_MAX		(256u << 20)	/* all unread output buffers */
#define KEEP_FINISHED		32	/* finished records kept per session */

struct proc {
	struct proc *next;
	char session[STORE_ID_MAX];
	char container[DRIVER_ID_MAX];
	char id[PROCS_ID_MAX];
	char *command;
	enum procs_state state;
	int exit_code;
	int64_t started_ms, ended_ms, pid;
	int sent_sig;			/* the last signal sbx sent; 0 none */
	const char *end_reason;		/* set when the session ends */
	int eof;			/* the output stream ended */
	int container_down;		/* the engine said its container stopped */
	uint64_t recheck_ms;		/* when to ask the engine next */
	uint64_t recheck_every;
	int refs;			/* the list's one + holds */
	int listed;
	int dp_users;			/* pumps, writers, signals in flight */
	int stdin_closed;
	int busy;			/* holds a lifecycle busy mark */
	int quiet;			/* its session's log is gone: no events */
	int closed;			/* dp's connection is closed (it ended) */
	int stored;			/* recorded to outlive a restart (procs_adopt.c) */
	int oom_known;			/* oom_base is the container's OOM kill */
	uint64_t oom_base;		/* count when it started */
	pthread_mutex_t stdin_mu;	/* one stdin writer at a time */
	struct driver_proc *dp;
	struct procs *ps;
	unsigned char *ring;		/* output no read has taken */
	size_t start, len;
	uint64_t dropped;
};

struct procs {
	struct server *srv;
	pthread_mutex_t mu;
	pthread_cond_t ended;		/* broadcast when a process ends */
	pthread_t thread;
	int running;
	int stopping;
	int draining;			/* waits answer at once (shutdown) */
	int wake[2];
	struct proc *head;		/* oldest first */
	unsigned long long next_id;
	int waiters;
	size_t ring_bytes;		/* allocated to unread output buffers */
	struct pollfd *pfds;		/* the thread's own */
	struct proc **polled;
	size_t poll_cap;
	struct adopt_list *adopt;	/* procs_adopt.c's, while it runs */
	pthread_t adopt_thread;
};

/* ---- records (procs.c); ps->mu held */

/* ---- outliving a restart (procs_adopt.c) */
/* Records p (about to run as dp) when the driver can take it back after a
 * restart. Before dp is visible to the output thread. */
void procs_adopt_record(struct server *s, struct proc *p, struct driver_proc *dp);
/* Forgets p's record once it ended. */
void procs_adopt_forget(struct server *s, struct proc *p);
/* Whether process id of session is still to be taken back after the
 * restart; ps->mu held. */
int procs_adopt_pending(struct procs *ps, const char *session, const char *id);
/* Joins the adoption thread (ps->stopping set). */
void procs_adopt_stop(struct procs *ps);

/* Drops a hold; the last one frees p (its connection too). */
void procs_unref(struct proc *p);
/* Closes an ended process's connection once nobody uses it (dp stays,
 * for signals to what it left behind, until the record goes). */
void procs_drop_dp(struct proc *p);
/* Takes p off the list (dropping the list's hold). */
void procs_unlink(struct procs *ps, struct proc *p);
/* Forgets the oldest ended records of session past KEEP_FINISHED. */
void procs_trim_finished(struct procs *ps, const char *session);

/* ---- output and ends (procs_io.c) */

/* Frees p's unread output buffer (its bytes are gone); ps->mu held. */
void procs_ring_free(struct proc *p);
/* The driver's on_output for a process (arg is its struct proc). */
void procs_on_output(void *arg, int stream, const void *data, size_t n);
/* "TERM", "KILL", "INT". */
const char *procs_sig_name(int sig);
/* Makes the output thread look at the list again. */
void procs_wake(struct procs *ps);
/* The output thread (procs_open starts it with ps). */
void *procs_output_thread(void *arg);
/* Moves p's unread output to *out (malloc'd; NULL when *n is 0), led by
 * a line saying how much was dropped, if any; ps->mu held. */
sbxd_code procs_take_output(struct proc *p, void **out, size_t *n, struct err *e);

#endif
