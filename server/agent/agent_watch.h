/*
 * agent_watch.h — file watches: inotify on a directory (and, recursive,
 * its subdirectories as they appear) for sbxd, one inotify instance per
 * watch, its events coalesced per path over a short window and sent as
 * watch_events frames (agent.proto). An overflow — inotify's queue, or
 * more distinct paths in one window than the table holds — is a "rescan"
 * event, never a silent loss.
 */
#ifndef SBX_AGENT_WATCH_H
#define SBX_AGENT_WATCH_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_procs.h"
#include "sbx/agent/v1/agent.pb-c.h"

#define AGENT_WATCHES_MAX 16           /* watches at once */
#define AGENT_WATCH_DIRS_MAX 10000     /* directories of one watch */
#define AGENT_WATCH_PENDING_MAX 4096   /* distinct paths in one window */
#define AGENT_WATCH_WINDOW_MS 20       /* events coalesced over this */

struct agent_watches;

struct agent_watches *agent_watches_new(agent_send_fn send, void *arg);
int agent_watches_has(struct agent_watches *ws, uint64_t call);
/* Starts w as call: answers started or failed. */
void agent_watches_start(struct agent_watches *ws, uint64_t call,
    const Sbx__Agent__V1__WatchStart *w);
/* Ends call's watch: answers exited. -1 when call is no watch. */
int agent_watches_stop(struct agent_watches *ws, uint64_t call);
/* The poll set, as agent_procs_fill / agent_procs_io. */
size_t agent_watches_nfds(struct agent_watches *ws);
size_t agent_watches_fill(struct agent_watches *ws, struct pollfd *pfd);
void agent_watches_io(struct agent_watches *ws, const struct pollfd *pfd, size_t n);
/* Flushes due windows; the poll timeout until the next, -1 for none. */
int agent_watches_tick(struct agent_watches *ws);
/* The link went down: every watch ends (nothing is answered). */
void agent_watches_link_down(struct agent_watches *ws);

#endif
