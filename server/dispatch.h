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

struct call {
	struct server *srv;
	struct arena *out;          /* response memory, freed after the reply is packed */
	const char *method;
	const char *request_id;
	uint64_t deadline_ms;       /* absolute unix ms, 0 = none */
	int is_service;             /* caller holds a service key */
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

/* Loads the session id names, if the caller may reach it: NOT_FOUND when
 * there is none, PERMISSION_DENIED when the caller's token is another
 * session's. Shared by the handlers. */
sbxd_code call_session(struct call *c, const char *id, struct session_row *out);
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
