/*
 * agent_spawn.h — starting one Run: validate its argv/env/cwd, make its
 * pipes, fork, and exec it in a new process group with the agent's
 * environment plus the Run's.
 */
#ifndef SBX_AGENT_SPAWN_H
#define SBX_AGENT_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sbx/agent/v1/agent.pb-c.h"

struct agent_spawned {
	pid_t pid;      /* also the process group id */
	int in;         /* write end of its stdin, non-blocking, close-on-exec */
	int out, err;   /* read ends of its stdout and stderr, likewise */
};

/* Notes which signals the agent handles or ignores, so that a child resets
 * only those to SIG_DFL before it execs (without this call: every signal).
 * Call it once, after the agent's last change of a signal's disposition. */
void agent_spawn_note_signals(void);

/* Starts r. 0 and *sp once the child has exec'd or failed to exec: an exec
 * failure is the child's own (it writes "sbx-agent: <argv0>: <reason>" to
 * its stderr and exits 127 for ENOENT, 126 otherwise, as `docker exec`
 * does). Otherwise an errno value — a bad Run (EINVAL), no pipes or
 * process (EMFILE, EAGAIN...), a cwd it cannot enter — with a sentence
 * for Failed.message in msg; nothing is left open or running then. */
int agent_spawn(const Sbx__Agent__V1__Run *r, struct agent_spawned *sp,
    char *msg, size_t msgcap);

/* Starts r's argv/env/cwd (the login shell when argv is empty) on a new
 * pty of cols x rows, as the leader of a new session whose controlling
 * terminal it is. On 0, sp->in is the pty's master (read and write,
 * non-blocking, close-on-exec) and sp->out, sp->err are -1; errors as
 * agent_spawn's. */
int agent_spawn_pty(const Sbx__Agent__V1__Run *r, uint32_t cols, uint32_t rows,
    struct agent_spawned *sp, char *msg, size_t msgcap);

#endif
