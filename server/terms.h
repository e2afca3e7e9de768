/*
 * terms.h — interactive terminals: a command on a pty in a session's
 * container, through its in-sandbox agent (agentlink_term_*).
 *
 * A terminal belongs to one session and its id ("t<n>") is only ever
 * looked up together with that session. What it shows goes to the log bus
 * as LOGBUS_TERMINAL events under its id, with the session's sequence
 * numbers, so a client that reconnects replays from the last seq it saw;
 * its end is a LOGBUS_SYSTEM event under its id ("exited with code N").
 * Any holder of the session's credential may send input: attaching is
 * following the log stream, and a read-only viewer is one that does not
 * send (the session's credential is the boundary, as for every other
 * call). Typing and resizing count as activity of the session; output
 * alone does not, so a forgotten `top` does not keep a sandbox up. A
 * terminal dies with its container or its agent, and with its session
 * (terms_session_end). Records are in memory only.
 */
#ifndef SBXD_TERMS_H
#define SBXD_TERMS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "server.h"
#include "store.h"

#define TERMS_ID_MAX 24
#define TERMS_PER_SESSION 8          /* running terminals of one session */
#define TERMS_KEPT_PER_SESSION 16    /* records kept, ended ones included */
#define TERMS_INPUT_MAX (64u << 10)  /* bytes of one TerminalInput */

struct terms_info {
	char id[TERMS_ID_MAX];
	char *command;              /* malloc'd: terms_info_fini frees it */
	uint32_t cols, rows;
	int running;
	int exit_code;              /* -1 while running */
	int64_t started_ms, ended_ms;
	int64_t pid;
	uint64_t after_seq;         /* the session's last seq before its first output */
};

struct terms_open_args {
	const char *const *argv;    /* NULL: the user's login shell */
	const char *command;        /* shown (TerminalInfo.command) */
	const char *const *env;     /* "K=V", NULL-terminated, or NULL */
	const char *cwd;
	uint32_t cols, rows;        /* checked by the caller */
};

sbxd_code terms_open(struct server *s, struct err *e);
/* Kills every terminal (sbxd stops) and frees the records. NULL-safe. */
void terms_close(struct server *s);
/* Opens a terminal in r's running container. FAILED_PRECONDITION when
 * sessions have no agent, UNAVAILABLE when r's is not connected,
 * RESOURCE_EXHAUSTED past TERMS_PER_SESSION. */
sbxd_code terms_start(struct server *s, const struct session_row *r,
    const struct terms_open_args *a, struct terms_info *info, struct err *e);
sbxd_code terms_input(struct server *s, const char *session, const char *id,
    const void *data, size_t n, struct err *e);
sbxd_code terms_resize(struct server *s, const char *session, const char *id,
    uint32_t cols, uint32_t rows, struct err *e);
/* Kills the terminal's whole session in the sandbox and waits for its
 * end; *info is its record then. Closing an ended terminal is OK. */
sbxd_code terms_kill(struct server *s, const char *session, const char *id,
    struct terms_info *info, struct err *e);
sbxd_code terms_list(struct server *s, const char *session, struct terms_info **out,
    size_t *n, struct err *e);
void terms_infos_free(struct terms_info *v, size_t n);
void terms_info_fini(struct terms_info *info);
/* The session ends: kills its terminals and forgets them. */
void terms_session_end(struct server *s, const char *session);

#endif
