/*
 * dispatch.h — from a method name to its handler.
 *
 * The method table is driven by protobuf-c's service descriptors: every
 * method of SessionService and SandboxService has one row here, with its
 * handler or NULL (answered UNIMPLEMENTED until a later version fills it
 * in). A handler receives the decoded request and an initialized response
 * message; it validates every field before using it, builds the response
 * in c->out, and returns a code with c->err set on failure.
 */
#ifndef SBXD_DISPATCH_H
#define SBXD_DISPATCH_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "arena.h"
#include "err.h"
#include "server.h"
#include "store.h"

/* Flags of a method. */
#define METHOD_SERVICE_ONLY 0x1   /* needs a service key; a session token is not enough */
/* May take long (a command, a wait, engine work): runs on the command
 * workers, within the caller's share of them (rpc.c), so short calls
 * (files, sessions, logs) always find a worker of their own. */
#define METHOD_LONG 0x2

struct call {
	struct server *srv;
	struct arena *out;          /* response memory, freed after the reply is packed */
	const char *method;
	const char *request_id;
	uint64_t deadline_ms;       /* absolute unix ms, 0 = none */
	int is_service;             /* caller holds a service key */
	int is_long;                /* a METHOD_LONG call: call_session takes a session share */
	char session_share[STORE_ID_MAX]; /* the session whose share this call holds, or "" */
	char token_session[STORE_ID_MAX]; /* else: the one session its token reaches */
	struct err err;
};

typedef sbxd_code (*handler_fn)(struct call *c, const ProtobufCMessage *in,
    ProtobufCMessage *out);

struct method {
	const char *name;           /* "sbx.v1.SandboxService/Execute" */
	const ProtobufCMethodDescriptor *desc;
	handler_fn fn;              /* NULL = unimplemented */
	unsigned flags;
	unsigned slot;              /* below DISPATCH_SLOTS, unique: per-method tables (metrics) */
};

#define DISPATCH_SLOTS 128

/* Builds the table once (later calls return at once; lookups call it too);
 * aborts on a table row that names no method (a bug). */
void dispatch_init(void);
/* The method called name (len bytes, not NUL-terminated), or NULL. */
const struct method *dispatch_find(const char *name, size_t len);
/* The name of the method in slot, or NULL when no method has it. */
const char *dispatch_slot_name(unsigned slot);
/* Calls fn for every method, in descriptor order (for tests and docs). */
void dispatch_foreach(void (*fn)(const struct method *m, void *arg), void *arg);

/* Gives back the session share call_session took for a long call, if
 * any (rpc.c, when the call ends). */
void call_session_share_give(struct call *c);

/* Handlers, one per implemented RPC (handlers_session.c, handlers_sandbox.c). */
sbxd_code h_create_session(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_get_session(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_get_or_create_session(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_list_sessions(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_end_session(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_cleanup_idle(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_rotate_token(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_list_runtimes(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_get_runtime(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_create_runtime(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_execute(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_read(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_read_bytes(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_write(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_ls(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_stat(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_mkdir(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_remove(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_move(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_edit(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_glob(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_grep(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_upload_begin(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_upload_chunk(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_upload_finish(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_upload_abort(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_download(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
/* Background processes (handlers_procs.c). */
sbxd_code h_start_process(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_list_processes(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_wait_process(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_signal_process(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_send_stdin(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_close_stdin(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_read_process_output(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_subscribe_logs(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_read_logs(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
/* Snapshots (handlers_snapshot.c). */
sbxd_code h_snapshot(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_list_snapshots(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_get_snapshot(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_delete_snapshot(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_set_egress(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_restore_session(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
/* Terminals (handlers_terms.c). */
sbxd_code h_open_terminal(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_terminal_input(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_resize_terminal(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_close_terminal(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_list_terminals(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
/* File watches (handlers_watch.c). */
sbxd_code h_watch(struct call *, const ProtobufCMessage *, ProtobufCMessage *);
sbxd_code h_unwatch(struct call *, const ProtobufCMessage *, ProtobufCMessage *);

/* Loads the session id names, if the caller may reach it: NOT_FOUND when
 * there is none, PERMISSION_DENIED when the caller's token is another
 * session's. Shared by the handlers. */
sbxd_code call_session(struct call *c, const char *id, struct session_row *out);
/* call_session's checks without the load: the id is well formed, the
 * caller may reach it, and a long call holds the session's share. */
sbxd_code call_session_reach(struct call *c, const char *id);
/* Label checks (INVALID_ARGUMENT saying what to change) into out, and a
 * Session message of r in c->out (handlers_session.c). */
struct Sbx__V1__Label;
struct Sbx__V1__Session;
sbxd_code call_check_labels(struct call *c, struct Sbx__V1__Label **in, size_t n,
    struct session_label *out);
sbxd_code call_set_session(struct call *c, struct Sbx__V1__Session **dst,
    const struct session_row *r);
/* For CreateSession from_snapshot: holds snapshot id (snapshot_use; the
 * caller unuses it) into *p when the caller may fork it for user: the
 * service key, any; a session token, its own user's for its own user
 * (PERMISSION_DENIED otherwise). */
struct store_snapshot;
sbxd_code call_fork_snapshot(struct call *c, const char *id, const char *user,
    struct store_snapshot *p);
/* call_session for SandboxService calls: also wakes a stopped container and
 * records activity (handlers_sandbox.c). */
sbxd_code call_sandbox(struct call *c, const char *id, struct session_row *out);
/* Opens a session's workspace directory as an fsops root whose new files
 * belong to the sandbox user (handlers_sandbox.c). */
struct fsops_root;
sbxd_code call_open_workspace(struct call *c, const char *workspace, struct fsops_root *root);
/* Checks a command given as a shell line or as argv words (exactly one of
 * them, as Execute and StartProcess take it): *line is the shell line or
 * the words shell-quoted for display, *words the argv to run; both live in
 * c->out. INVALID_ARGUMENT says what is wrong. */
sbxd_code call_exec_words(struct call *c, const char *command, char **argv,
    size_t n, const char **line, const char *const **words);
/* Execute's checks of env (into "K=V" strings in c->out, NULL-terminated;
 * *out NULL when n is 0) and cwd (into an absolute container path), shared
 * with StartProcess (handlers_sandbox.c). */
struct Sbx__V1__EnvVar;
sbxd_code call_exec_env(struct call *c, struct Sbx__V1__EnvVar **in, size_t n,
    const char ***out);
sbxd_code call_exec_cwd(struct call *c, const char *cwd, const char **out);

#endif
