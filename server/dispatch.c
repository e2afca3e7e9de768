/*
 * dispatch.c — the method table (see dispatch.h).
 *
 * Rows are matched to protobuf-c's service descriptors by name at start-up
 * and stored by method index; a lookup checks the index protobuf-c returns
 * against the descriptor's method count and name itself, since protobuf-c
 * only asserts it.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"
#include "sbx/v1/sbx.pb-c.h"

struct row {
	const char *service;        /* short name: "SessionService" */
	const char *rpc;
	handler_fn fn;
	unsigned flags;
};

static const struct row rows[] = {
	/* service key, or a session token forking its user's snapshot (the
	 * handler checks) */
	{ "SessionService", "CreateSession", h_create_session, METHOD_LONG },
	{ "SessionService", "GetSession", h_get_session, 0 },
	{ "SessionService", "GetOrCreateSession", h_get_or_create_session,
	    METHOD_SERVICE_ONLY | METHOD_LONG },
	{ "SessionService", "ListSessions", h_list_sessions, METHOD_SERVICE_ONLY },
	{ "SessionService", "EndSession", h_end_session, METHOD_LONG },
	{ "SessionService", "RotateToken", h_rotate_token, 0 },
	{ "SessionService", "CleanupIdle", h_cleanup_idle, METHOD_SERVICE_ONLY | METHOD_LONG },
	{ "SessionService", "ListRuntimes", h_list_runtimes, 0 },
	{ "SessionService", "GetRuntime", h_get_runtime, 0 },
	{ "SessionService", "CreateRuntime", h_create_runtime,
	    METHOD_SERVICE_ONLY | METHOD_LONG },
	{ "SessionService", "Snapshot", h_snapshot, METHOD_LONG },
	{ "SessionService", "ListSnapshots", h_list_snapshots, 0 },
	{ "SessionService", "GetSnapshot", h_get_snapshot, 0 },
	{ "SessionService", "DeleteSnapshot", h_delete_snapshot, METHOD_LONG },
	{ "SessionService", "RestoreSession", h_restore_session, METHOD_LONG },
	{ "SessionService", "SetEgress", h_set_egress, METHOD_SERVICE_ONLY },
	{ "SandboxService", "Ls", h_ls, 0 },
	{ "SandboxService", "Read", h_read, 0 },
	{ "SandboxService", "ReadBytes", h_read_bytes, 0 },
	{ "SandboxService", "Write", h_write, 0 },
	{ "SandboxService", "Edit", h_edit, 0 },
	{ "SandboxService", "Glob", h_glob, 0 },
	{ "SandboxService", "Grep", h_grep, 0 },
	{ "SandboxService", "Stat", h_stat, 0 },
	{ "SandboxService", "Mkdir", h_mkdir, 0 },
	{ "SandboxService", "Remove", h_remove, 0 },
	{ "SandboxService", "Move", h_move, 0 },
	{ "SandboxService", "UploadBegin", h_upload_begin, 0 },
	{ "SandboxService", "UploadChunk", h_upload_chunk, 0 },
	{ "SandboxService", "UploadFinish", h_upload_finish, 0 },
	{ "SandboxService", "UploadAbort", h_upload_abort, 0 },
	{ "SandboxService", "Download", h_download, 0 },
	{ "SandboxService", "Execute", h_execute, METHOD_LONG },
	{ "SandboxService", "StartProcess", h_start_process, METHOD_LONG },
	{ "SandboxService", "ListProcesses", h_list_processes, 0 },
	{ "SandboxService", "WaitProcess", h_wait_process, METHOD_LONG },
	{ "SandboxService", "SignalProcess", h_signal_process, METHOD_LONG },
	{ "SandboxService", "SendStdin", h_send_stdin, 0 },
	{ "SandboxService", "CloseStdin", h_close_stdin, 0 },
	{ "SandboxService", "ReadProcessOutput", h_read_process_output, 0 },
	{ "SandboxService", "SubscribeLogs", h_subscribe_logs, 0 },
	{ "SandboxService", "ReadLogs", h_read_logs, 0 },
	{ "SandboxService", "OpenTerminal", h_open_terminal, METHOD_LONG },     /* waits for the agent */
	{ "SandboxService", "TerminalInput", h_terminal_input, 0 },
	{ "SandboxService", "ResizeTerminal", h_resize_terminal, 0 },
	{ "SandboxService", "CloseTerminal", h_close_terminal, METHOD_LONG },   /* waits out the group */
	{ "SandboxService", "ListTerminals", h_list_terminals, 0 },
	{ "SandboxService", "Watch", h_watch, 0 },
	{ "SandboxService", "Unwatch", h_unwatch, 0 },
};

#define MAX_METHODS 64

struct service {
	const char *prefix;         /* "sbx.v1.SessionService/" */
	const ProtobufCServiceDescriptor *desc;
	struct method methods[MAX_METHODS];
};

static struct service services[] = {
	{ "sbx.v1.SessionService/", &sbx__v1__session_service__descriptor, { { 0 } } },
	{ "sbx.v1.SandboxService/", &sbx__v1__sandbox_service__descriptor, { { 0 } } },
};
#define NSERVICES (sizeof(services) / sizeof(services[0]))
_Static_assert(NSERVICES * MAX_METHODS <= DISPATCH_SLOTS, "a slot for every method");

static char names[NSERVICES][MAX_METHODS][96];

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
build_table(void)
{
	for (size_t s = 0; s < NSERVICES; s++) {
		const ProtobufCServiceDescriptor *d = services[s].desc;

		assert(d->n_methods <= MAX_METHODS);
		for (unsigned i = 0; i < d->n_methods; i++) {
			snprintf(names[s][i], sizeof(names[s][i]), "%s%s",
			    services[s].prefix, d->methods[i].name);
			services[s].methods[i].name = names[s][i];
			services[s].methods[i].desc = &d->methods[i];
			services[s].methods[i].slot = (unsigned)(s * MAX_METHODS + i);
		}
	}
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		const struct row *row = &rows[r];
		int found = 0;

		for (size_t s = 0; s < NSERVICES && !found; s++) {
			const ProtobufCMethodDescriptor *m;

			if (strcmp(services[s].desc->short_name, row->service) != 0)
				continue;
			m = protobuf_c_service_descriptor_get_method_by_name(services[s].desc, row->rpc);
			if (m == NULL)
				break;
			services[s].methods[m - services[s].desc->methods].fn = row->fn;
			services[s].methods[m - services[s].desc->methods].flags = row->flags;
			found = 1;
		}
		if (!found)
			fatalx("dispatch: table names %s/%s, which the protocol lacks",
			    row->service, row->rpc);
	}
}

void
dispatch_init(void)
{
	pthread_once(&once, build_table);
}

const struct method *
dispatch_find(const char *name, size_t len)
{
	char rpc[64];

	dispatch_init();
	for (size_t s = 0; s < NSERVICES; s++) {
		const struct service *sv = &services[s];
		size_t plen = strlen(sv->prefix);
		const ProtobufCMethodDescriptor *m;
		size_t idx;

		if (len <= plen || len - plen >= sizeof(rpc) || memcmp(name, sv->prefix, plen) != 0)
			continue;
		memcpy(rpc, name + plen, len - plen);
		rpc[len - plen] = '\0';
		if (memchr(rpc, '\0', len - plen) != NULL)
			return NULL;
		if ((m = protobuf_c_service_descriptor_get_method_by_name(sv->desc, rpc)) == NULL)
			return NULL;
		idx = (size_t)(m - sv->desc->methods);
		if (idx >= sv->desc->n_methods || strcmp(sv->desc->methods[idx].name, rpc) != 0)
			return NULL;
		return &sv->methods[idx];
	}
	return NULL;
}

const char *
dispatch_slot_name(unsigned slot)
{
	size_t s = slot / MAX_METHODS, i = slot % MAX_METHODS;

	dispatch_init();
	if (s >= NSERVICES || i >= services[s].desc->n_methods)
		return NULL;
	return services[s].methods[i].name;
}

void
dispatch_foreach(void (*fn)(const struct method *m, void *arg), void *arg)
{
	dispatch_init();
	for (size_t s = 0; s < NSERVICES; s++)
		for (unsigned i = 0; i < services[s].desc->n_methods; i++)
			fn(&services[s].methods[i], arg);
}
