/*
 * sbx.h — libsbx, the C client of sbx: per-user sandboxes (a Docker
 * container plus a persistent workspace) driven over nng req/rep.
 *
 * This is the whole public API. A client handle (sbx_client) owns one nng
 * REQ socket and a dialer that reconnects by itself; every call opens its
 * own nng context, so one handle may be used by many threads at once.
 * Calls are synchronous. Every fallible function returns an sbx_err; on
 * failure, sbx_last_error() gives a message that says what went wrong
 * (the server's status message, or the client's own words for transport
 * and decoding failures). Results go out through pointers; whatever the
 * library allocates for the caller is released with the matching _fini /
 * _free function or with sbx_free(). The library never prints: pass a
 * logger in sbx_options to see what it does.
 *
 * Delivery: a request is sent at most once. nng's automatic resend is off,
 * so when the connection drops while a call waits for its reply the call
 * fails with SBX_UNAVAILABLE and the request may or may not have run on
 * the server. Each call carries a fresh random request id.
 */
#ifndef SBX_H
#define SBX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SBX_API __attribute__((visibility("default")))
#else
#define SBX_API
#endif

#define SBX_VERSION_STRING "0.1.0"
#define SBX_DEFAULT_ENDPOINT "tcp://127.0.0.1:7410"
#define SBX_DEFAULT_TIMEOUT_MS 600000         /* 10 min: commands can be long */
#define SBX_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define SBX_DEFAULT_MAX_REPLY_BYTES (64u << 20)
#define SBX_TIMEOUT_NONE (-1)                 /* no client-side deadline */

/* Error codes: 0..16 are gRPC's canonical codes, numbered as sbx.v1.Code
 * on the wire. The client maps its own failures onto the same set:
 * no connection or a dropped one → SBX_UNAVAILABLE; its deadline passed →
 * SBX_DEADLINE_EXCEEDED; an undecodable or mismatched reply →
 * SBX_INTERNAL; bad arguments → SBX_INVALID_ARGUMENT; out of memory →
 * SBX_RESOURCE_EXHAUSTED. */
typedef enum {
	SBX_OK = 0,
	SBX_CANCELLED = 1,
	SBX_UNKNOWN = 2,
	SBX_INVALID_ARGUMENT = 3,
	SBX_DEADLINE_EXCEEDED = 4,
	SBX_NOT_FOUND = 5,
	SBX_ALREADY_EXISTS = 6,
	SBX_PERMISSION_DENIED = 7,
	SBX_RESOURCE_EXHAUSTED = 8,
	SBX_FAILED_PRECONDITION = 9,
	SBX_ABORTED = 10,
	SBX_OUT_OF_RANGE = 11,
	SBX_UNIMPLEMENTED = 12,
	SBX_INTERNAL = 13,
	SBX_UNAVAILABLE = 14,
	SBX_DATA_LOSS = 15,
	SBX_UNAUTHENTICATED = 16,
} sbx_err;

/* "OK", "NOT_FOUND", ... (the wire names); "UNKNOWN_CODE" for other values.
 * The string is static. */
SBX_API const char *sbx_err_name(sbx_err err);

/* The library's version, SBX_VERSION_STRING of the build. Static string. */
SBX_API const char *sbx_version(void);

/* Releases any buffer or string the library handed to the caller. NULL ok. */
SBX_API void sbx_free(void *p);

/* ---------------------------------------------------------------- client */

typedef struct sbx_client sbx_client;

typedef enum {
	SBX_LOG_ERROR = 0,
	SBX_LOG_WARN = 1,
	SBX_LOG_INFO = 2,
	SBX_LOG_DEBUG = 3,
} sbx_log_level;

/* Receives one formatted line (no newline) at a level <= log_level. It may
 * run on nng's threads (connection events) as well as on callers' threads,
 * so it must be thread-safe and must not call back into libsbx. */
typedef void (*sbx_log_fn)(void *arg, sbx_log_level level, const char *msg);

/* Zero means "default" for every field; a zeroed struct is a valid
 * configuration. Strings are copied by sbx_client_open.
 *
 * Retries: every call carries one random request id. When its connection
 * is lost before the reply, or sbxd answers SBX_UNAVAILABLE (restarting,
 * stopping, or an earlier try of the same id still running), the call is
 * tried again with the same id, up to 4 tries in all, with backoff from
 * 100 ms doubling to 2 s, and never past the call's deadline. sbxd runs an
 * id once and answers a repeat with the first reply (for 10 minutes), so a
 * retried Write or Execute takes effect once. A call finding no connection
 * for connect_timeout_ms is not retried. */
typedef struct sbx_options {
	const char *endpoint;        /* NULL = SBX_DEFAULT_ENDPOINT; tcp:// or tls+tcp:// */
	const char *service_key;     /* credential reaching every session */
	const char *session_token;   /* credential reaching one session */
	int timeout_ms;              /* per call; 0 = default; SBX_TIMEOUT_NONE = none */
	int connect_timeout_ms;      /* how long a call waits while there is no
				      * connection at all; 0 = default */
	size_t max_reply_bytes;      /* replies above it are refused; 0 = default */
	const char *tls_ca_file;     /* required for tls+tcp:// (PEM) */
	const char *tls_server_name; /* NULL = the host of the endpoint */
	const char *tls_cert_file;   /* optional client certificate and its key, one PEM file */
	sbx_log_fn logger;           /* NULL = silent */
	void *logger_arg;
	sbx_log_level log_level;     /* most verbose level passed to logger */
} sbx_options;

/* Opens a client with opts (NULL = all defaults) and starts dialing the
 * endpoint in the background: it succeeds even when the server is not up
 * yet; calls then wait up to connect_timeout_ms for a connection and fail
 * with SBX_UNAVAILABLE. On success *out is the new handle (close it with
 * sbx_client_close). On failure *out is NULL and the return value says why
 * (SBX_INVALID_ARGUMENT: malformed endpoint, or tls+tcp:// without a CA
 * file); the message is in sbx_last_error(NULL). */
SBX_API sbx_err sbx_client_open(const sbx_options *opts, sbx_client **out);

/* Closes the socket and frees c. Close only once every other thread is
 * done with c: c must not be used during or after this call. NULL is
 * ignored. */
SBX_API void sbx_client_close(sbx_client *c);

/* The message of the last call on this thread that used c, or "" if that
 * call succeeded (every call clears it when it starts). Pass NULL after a
 * failed sbx_client_open. Thread-local: concurrent calls on one handle do
 * not see each other's messages. The string stays valid until the next
 * libsbx call on this thread. Never NULL. */
SBX_API const char *sbx_last_error(const sbx_client *c);

/* Generic escape hatch for any RPC. method is the full name, e.g.
 * "sbx.v1.SandboxService/Stat"; req is that method's packed request
 * message (req_len bytes; NULL when 0). On SBX_OK *resp is the packed
 * response message (malloc'd, free with sbx_free; NULL when empty) and
 * *resp_len its size. On failure *resp is NULL and *resp_len 0.
 * sbx_call_raw_timeout takes its own timeout (same meaning as
 * sbx_options.timeout_ms); sbx_call_raw uses the client's. */
SBX_API sbx_err sbx_call_raw(sbx_client *c, const char *method,
    const void *req, size_t req_len, void **resp, size_t *resp_len);
SBX_API sbx_err sbx_call_raw_timeout(sbx_client *c, const char *method,
    int timeout_ms, const void *req, size_t req_len, void **resp,
    size_t *resp_len);

/* ---------------------------------------------------------------- sessions */

typedef enum {
	SBX_SESSION_UNSPECIFIED = 0,
	SBX_SESSION_CREATING = 1,
	SBX_SESSION_RUNNING = 2,
	SBX_SESSION_STOPPED = 3,     /* woken by the next request */
	SBX_SESSION_ENDED = 4,       /* container removed; workspace kept unless purged */
	SBX_SESSION_FAILED = 5,
} sbx_session_state;

/* "RUNNING", ...; "UNSPECIFIED" for unknown values. Static string. */
SBX_API const char *sbx_session_state_name(sbx_session_state s);

typedef struct {
	char *key;
	char *value;
} sbx_label;

typedef struct {
	uint64_t memory_bytes;       /* memory and memory+swap */
	uint64_t nano_cpus;          /* 1e9 = one CPU */
	int64_t pids;
	uint64_t exec_timeout_ms;    /* ceiling for one exec */
} sbx_limits;

typedef struct {
	uint64_t memory_bytes;
	uint64_t memory_limit_bytes;
	double cpu_percent;          /* of one CPU, since the server last looked */
	uint64_t pids;
	uint64_t oom_kills;          /* processes OOM-killed in the sandbox so far */
	uint64_t disk_bytes;         /* used in the user's workspace (its sessions share it) */
	uint64_t disk_limit_bytes;   /* its size (workspace_quota); 0 = no quota of its own */
} sbx_usage;

/* A session as the server reports it. Every string is non-NULL (possibly
 * "") once filled by the library; release with sbx_session_fini. */
typedef struct {
	char *session_id;
	char *user_id;
	char *runtime;
	char *container_id;
	char *workspace_path;        /* on the server's host */
	sbx_session_state state;
	uint64_t created_unix_ms;
	uint64_t last_active_unix_ms;
	uint64_t idle_timeout_ms;
	sbx_limits limits;
	sbx_usage usage;
	sbx_label *labels;
	size_t n_labels;
	char *stop_reason;           /* "ended", "idle", "oom", "capacity", ... */
	char *isolation;             /* the container runtime in use: "runc" or "gvisor" */
	/* egress: 1 when the session is on an egress network (else network
	 * none); egress_allow its allowlist (every call returning sessions
	 * fills both, listings too) */
	int egress;
	char **egress_allow;
	size_t n_egress_allow;
} sbx_session;

/* Frees what s holds and zeroes it. A zeroed s is fine. */
SBX_API void sbx_session_fini(sbx_session *s);

/* For create and get-or-create. Zero/NULL fields take the server's
 * defaults. The strings are only read. */
typedef struct {
	const char *user_id;         /* required: ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ */
	const char *runtime;         /* NULL = the server's default runtime */
	sbx_limits limits;
	const sbx_label *labels;
	size_t n_labels;
	uint64_t idle_timeout_ms;
	const char *isolation;       /* "runc", "gvisor"; NULL = the runtime's, else the
	                                server's default (within its isolations_allowed) */
	/* create only: a fork of this snapshot (its runtime; runtime NULL or
	 * the same). Waits up to SBX_SNAPSHOT_TIMEOUT_MS. */
	const char *from_snapshot;
	/* hosts the session may reach through sbx's egress proxy
	 * ("pypi.org", "*.example.com", optionally ":PORT"); none = network
	 * none (or the runtime's list). See CreateSessionRequest.egress_allow.
	 * get-or-create: a new session gets it; the user's live session must
	 * already have this list (any order), else SBX_FAILED_PRECONDITION
	 * (change it with sbx_session_set_egress); none asks nothing of the
	 * live session's egress. */
	const char *const *egress_allow;
	size_t n_egress_allow;
} sbx_session_create_opts;

/* Creates a session for opts->user_id. On SBX_OK *out holds the session
 * (sbx_session_fini it) and, if token_out is not NULL, *token_out the
 * session token, which the server returns only this once (sbx_free it).
 * On failure *out is zeroed and *token_out NULL. */
SBX_API sbx_err sbx_session_create(sbx_client *c,
    const sbx_session_create_opts *opts, sbx_session *out, char **token_out);

/* Fetches one session. On failure *out is zeroed. */
SBX_API sbx_err sbx_session_get(sbx_client *c, const char *session_id,
    sbx_session *out);

/* Returns the user's live session, creating it if there is none. *created
 * (may be NULL) says which; *token_out (may be NULL) is set only when the
 * session was created, otherwise NULL. Ownership as sbx_session_create.
 * opts->egress_allow: see sbx_session_create_opts. */
SBX_API sbx_err sbx_session_get_or_create(sbx_client *c,
    const sbx_session_create_opts *opts, sbx_session *out, int *created,
    char **token_out);

/* Filter and paging for sbx_session_list; a zeroed struct lists the first
 * page of all sessions that have not ended. */
typedef struct {
	const char *user_id;         /* NULL = every user */
	sbx_session_state state;     /* UNSPECIFIED = all but ENDED */
	int include_ended;
	const sbx_label *labels;     /* every label must match */
	size_t n_labels;
	uint32_t page_size;          /* 0 = 100; at most 1000 */
	const char *page_token;      /* from the previous page's *next_page */
} sbx_session_list_opts;

/* Lists one page of sessions. On SBX_OK *sessions is an array of *n
 * sessions (NULL when *n is 0; free with sbx_session_list_free) and, if
 * next_page is not NULL, *next_page is the token for the next page or
 * NULL when this was the last one (sbx_free it). On failure *sessions and
 * *next_page are NULL and *n is 0. */
SBX_API sbx_err sbx_session_list(sbx_client *c,
    const sbx_session_list_opts *opts, sbx_session **sessions, size_t *n,
    char **next_page);

/* Finis every element and frees the array. NULL is ignored. */
SBX_API void sbx_session_list_free(sbx_session *sessions, size_t n);

/* Ends a session: its container is removed; with purge the workspace is
 * deleted too. */
SBX_API sbx_err sbx_session_end(sbx_client *c, const char *session_id,
    int purge);

/* ---- snapshots (libsbx_snapshot.c) */

/* Snapshot, fork-from and restore calls wait this long (copies and image
 * commits take a while). */
#define SBX_SNAPSHOT_TIMEOUT_MS (10 * 60 * 1000)

/* A snapshot as the server reports it: what it keeps ("workspace", and
 * "rootfs" when the container layer was committed) and how long the
 * session was frozen. Every string is non-NULL once filled; release with
 * sbx_snapshot_fini. */
typedef struct {
	char *snapshot_id;
	char *name;
	char *user_id;
	char *session_id;            /* the session it was taken of */
	char *runtime;
	char *image;                 /* the committed layer's image, "" when none */
	uint64_t created_unix_ms;
	uint64_t frozen_ms;
	uint64_t workspace_bytes;
	uint64_t layer_bytes;
	int kept_rootfs;             /* the container layer is kept */
	sbx_label *labels;
	size_t n_labels;
} sbx_snapshot;

/* Frees what s holds and zeroes it. A zeroed s is fine. */
SBX_API void sbx_snapshot_fini(sbx_snapshot *s);
/* Finis every element and frees the array. NULL is ignored. */
SBX_API void sbx_snapshot_list_free(sbx_snapshot *v, size_t n);

/* Snapshots a session; name (NULL or "" for none) and labels are only
 * read. On failure *out is zeroed. */
SBX_API sbx_err sbx_snapshot_create(sbx_client *c, const char *session_id,
    const char *name, const sbx_label *labels, size_t n_labels, sbx_snapshot *out);
/* Lists snapshots of user_id (NULL: every user the credential reaches)
 * taken of session_id (NULL: any), oldest first: *v an array of *n (free
 * with sbx_snapshot_list_free; NULL when *n is 0). */
SBX_API sbx_err sbx_snapshot_list(sbx_client *c, const char *user_id,
    const char *session_id, sbx_snapshot **v, size_t *n);
SBX_API sbx_err sbx_snapshot_get(sbx_client *c, const char *snapshot_id,
    sbx_snapshot *out);
SBX_API sbx_err sbx_snapshot_delete(sbx_client *c, const char *snapshot_id);
/* Puts a session back to a snapshot of its user: its processes end, its
 * workspace becomes the snapshot's, its container is made anew. *out
 * (may be NULL) gets the session. */
SBX_API sbx_err sbx_session_restore(sbx_client *c, const char *session_id,
    const char *snapshot_id, sbx_session *out);

/* ---- runtimes (libsbx_runtime.c) */

/* A runtime from the server's catalog. Every string is non-NULL once
 * filled; release with sbx_runtime_fini. */
typedef struct {
	char *name;
	char *image;
	char *description;
	char **packages;             /* OS packages; "pip:X", "npm:X" for custom ones */
	size_t n_packages;
	char *work_dir;
	sbx_label *env;
	size_t n_env;
	sbx_limits default_limits;
	char *network_mode;
	int ready;                   /* the image is present on the server */
	char *build_command;         /* how to build it when not ready */
	char *isolation;             /* its sessions' default: "runc" or "gvisor" */
} sbx_runtime;

/* Frees what r holds and zeroes it. A zeroed r is fine. */
SBX_API void sbx_runtime_fini(sbx_runtime *r);
/* Finis every element and frees the array. NULL is ignored. */
SBX_API void sbx_runtime_list_free(sbx_runtime *runtimes, size_t n);
/* Lists every runtime. On SBX_OK *runtimes is an array of *n (free with
 * sbx_runtime_list_free); on failure NULL and 0. */
SBX_API sbx_err sbx_runtime_list(sbx_client *c, sbx_runtime **runtimes, size_t *n);
/* Fetches one runtime: SBX_NOT_FOUND for an unknown name. On failure *out
 * is zeroed. */
SBX_API sbx_err sbx_runtime_get(sbx_client *c, const char *name, sbx_runtime *out);

/* A build takes tens of seconds to minutes: sbx_runtime_create waits up
 * to this long unless opts->call_timeout_ms says otherwise. */
#define SBX_RUNTIME_BUILD_TIMEOUT_MS (30 * 60 * 1000)

/* A custom runtime: base plus packages and setup, built into an image on
 * the server. Strings are only read. */
typedef struct {
	const char *name;            /* ^[a-z0-9]+([._-][a-z0-9]+)*$, at most 40 */
	const char *base_runtime;    /* a runtime name or a local image; NULL = default */
	const char *const *os_packages;   /* Debian package names */
	size_t n_os_packages;
	const char *const *pip_packages;  /* need PyPI reachable from the build */
	size_t n_pip_packages;
	const char *const *npm_packages;  /* need the npm registry reachable */
	size_t n_npm_packages;
	const char *const *setup_commands; /* each run as `sh -c CMD`, as root, in
					    * the build container only */
	size_t n_setup_commands;
	const sbx_label *env;
	size_t n_env;
	const char *work_dir;        /* NULL = the base's (/workspace) */
	int call_timeout_ms;         /* 0 = SBX_RUNTIME_BUILD_TIMEOUT_MS */
} sbx_runtime_create_opts;

/* Builds (or finds cached: the same name and definition) a custom runtime.
 * Service key only. On SBX_OK *out holds it and, if build_log is not NULL,
 * *build_log the build's output, NUL-terminated (sbx_free it; NULL when
 * empty). SBX_ALREADY_EXISTS for a taken name with another definition,
 * SBX_FAILED_PRECONDITION when the base image is missing or a build step
 * failed (the message quotes it). On failure *out is zeroed. */
SBX_API sbx_err sbx_runtime_create(sbx_client *c, const sbx_runtime_create_opts *opts,
    sbx_runtime *out, char **build_log);

/* Replaces session_id's egress allowlist with the n entries allow (n 0:
 * nothing allowed); it applies without a restart. Only for a session
 * created with an allowlist; service key only. out (may be NULL) gets the
 * session as it is now (sbx_session_fini it). */
SBX_API sbx_err sbx_session_set_egress(sbx_client *c, const char *session_id,
    const char *const *allow, size_t n, sbx_session *out);

/* Mints a new session token for session_id (the old one stops working at
 * once) and, when token_out is not NULL, returns it in *token_out (sbx_free
 * it). With revoke_only the token is revoked and none is minted (*token_out
 * is then NULL): only service keys reach the session afterwards. A session
 * token may rotate its own session's token. On failure *token_out is NULL. */
SBX_API sbx_err sbx_session_rotate_token(sbx_client *c, const char *session_id,
    int revoke_only, char **token_out);

/* Stops sessions idle (no request, no command running) for longer than
 * max_idle_ms, or than each one's own idle timeout when max_idle_ms is 0;
 * they wake on their next request. Needs a service key. On SBX_OK, when
 * ids is not NULL, *ids is an array of *n stopped session ids (free with
 * sbx_string_list_free); on failure *ids is NULL and *n 0. */
SBX_API sbx_err sbx_session_cleanup_idle(sbx_client *c, uint64_t max_idle_ms,
    char ***ids, size_t *n);

/* Which idle sessions sbx_session_cleanup_idle_scoped may stop; a zeroed
 * struct is every session (as sbx_session_cleanup_idle). */
typedef struct {
	uint64_t max_idle_ms;        /* 0 = each session's own idle timeout */
	const sbx_label *labels;     /* only sessions carrying every one of these */
	size_t n_labels;             /* (at most 16) */
	const char *const *user_ids; /* only sessions of these users; */
	size_t n_user_ids;           /* 0 = any user (at most 1000) */
} sbx_cleanup_opts;

/* sbx_session_cleanup_idle for the sessions opts admits (NULL: all), so
 * an application's housekeeping stops only its own users' sessions: scope
 * by the labels it gives its sessions, or by its users. Malformed labels
 * or user ids are SBX_INVALID_ARGUMENT. ids and n as there. */
SBX_API sbx_err sbx_session_cleanup_idle_scoped(sbx_client *c,
    const sbx_cleanup_opts *opts, char ***ids, size_t *n);

/* Frees an array of n strings and the array. NULL is ignored. */
SBX_API void sbx_string_list_free(char **v, size_t n);

/* ---------------------------------------------------------------- sandbox */

typedef struct {
	const char *command;         /* run as `sh -c command`; NULL or "" with argv */
	uint64_t timeout_ms;         /* of the command; 0 = the runtime's default (120 s
				      * unless the runtime sets one) */
	const char *cwd;             /* NULL = /workspace */
	const char *const *env;      /* n_env strings "NAME=value" */
	size_t n_env;
	uint64_t max_output_bytes;   /* per stream; 0 = server default */
	const void *stdin_data;      /* fed to the command's stdin; may be NULL */
	size_t stdin_len;
	int call_timeout_ms;         /* 0 = the client's timeout, stretched to at
				      * least timeout_ms (0 counting as 120 s)
				      * + 30 s; SBX_TIMEOUT_NONE = none */
	const char *const *argv;     /* instead of command: argc words run exactly
				      * as given, no shell (argv[0] is the program,
				      * looked up in PATH); argc 0 = use command */
	size_t argc;
} sbx_exec_opts;

/* Bytes from the server; data is NUL-terminated (not counted in len) so
 * text can be used as a C string, but it may hold NULs of its own. */
typedef struct {
	uint8_t *data;
	size_t len;
} sbx_bytes;

typedef struct {
	int exit_code;               /* 124 on timeout */
	sbx_bytes out;               /* stdout */
	sbx_bytes err;               /* stderr */
	sbx_bytes output;            /* both, merged in arrival order */
	int truncated;               /* output was cut at max_output_bytes */
	int timed_out;
	uint64_t duration_ms;
} sbx_exec_result;

/* Runs opts->command (or opts->argv) in the session and waits for it.
 * SBX_OK means the command ran (whatever its exit code; a program argv
 * names that does not exist exits 127 or 126, as in a shell); *out then
 * holds its result (sbx_exec_result_fini it). A malformed env entry, both
 * or neither of command and argv, a NULL word or an empty argv[0] are
 * SBX_INVALID_ARGUMENT without a round trip. On failure *out is zeroed. */
SBX_API sbx_err sbx_exec(sbx_client *c, const char *session_id,
    const sbx_exec_opts *opts, sbx_exec_result *out);

/* Frees what r holds and zeroes it. A zeroed r is fine. */
SBX_API void sbx_exec_result_fini(sbx_exec_result *r);

/* Writes len bytes of data to path in the session's workspace, replacing
 * the file, or appending to it when append is non-zero. The whole content
 * travels in one message: keep it well under the server's message limit. */
SBX_API sbx_err sbx_write(sbx_client *c, const char *session_id,
    const char *path, const void *data, size_t len, int append);

/* Reads up to length bytes (0 = to the end, within the server's read
 * ceiling) from byte offset. On SBX_OK *data is a malloc'd, NUL-terminated
 * buffer of *len bytes (sbx_free it; never NULL, even when *len is 0).
 * *len == 0 at an offset at or past the end. On failure *data is NULL and
 * *len 0. */
SBX_API sbx_err sbx_read_bytes(sbx_client *c, const char *session_id,
    const char *path, uint64_t offset, uint64_t length, void **data,
    size_t *len);

/* Reads a text file as "cat -n" numbered lines, starting at 0-based line
 * offset, at most limit lines (0 = 2000). On SBX_OK *text is a malloc'd
 * C string (sbx_free it); on failure NULL. */
SBX_API sbx_err sbx_read(sbx_client *c, const char *session_id,
    const char *path, uint64_t offset, uint64_t limit, char **text);

/* ---------------------------------------------------------------- files
 *
 * Paths name the container's view: relative ones are taken from
 * /workspace; absolute ones may be anywhere the server lets them reach
 * (sbx_upload and sbx_download work inside /workspace only). Where a path
 * may be NULL or "", that means /workspace itself. Every string the
 * library fills in is a malloc'd copy the caller releases with the
 * matching _fini / _free function; what the caller passes in is only
 * read. */

/* One directory entry or file, as the server reports it. Every string is
 * non-NULL (possibly "") once filled by the library. */
typedef struct {
	char *name;                  /* last path component */
	char *path;                  /* absolute, in the container's view */
	int is_dir;
	int is_symlink;              /* the entry itself is a symlink (not followed) */
	uint64_t size;
	uint32_t mode;               /* permission bits (and maybe type bits) */
	int64_t mtime_unix_ms;
} sbx_file_info;

/* Frees what fi holds and zeroes it. NULL and a zeroed fi are fine. */
SBX_API void sbx_file_info_fini(sbx_file_info *fi);

/* Finis every element and frees the array. NULL is ignored. */
SBX_API void sbx_file_info_list_free(sbx_file_info *arr, size_t n);

/* Lists the immediate children of the directory path (NULL = /workspace),
 * directories first, then by name; a file path lists that file. A reply
 * holds at most the server's limit of entries: *truncated (may be NULL)
 * says whether the directory has more than were listed. On SBX_OK *out is
 * an array of *n entries (NULL when *n is 0; free with
 * sbx_file_info_list_free). On failure *out is NULL, *n 0 and
 * *truncated 0. */
SBX_API sbx_err sbx_ls(sbx_client *c, const char *session_id,
    const char *path, sbx_file_info **out, size_t *n, int *truncated);

/* Looks path up without following a final symlink. A missing path is not
 * an error: SBX_OK with *exists 0 and *out zeroed. If exists is NULL, a
 * missing path is SBX_NOT_FOUND instead. When it exists, *exists is 1 and
 * *out is filled (sbx_file_info_fini it). On failure *out is zeroed and
 * *exists 0. */
SBX_API sbx_err sbx_stat(sbx_client *c, const char *session_id,
    const char *path, int *exists, sbx_file_info *out);

/* Creates the directory path; with parents, also missing parents, and an
 * existing directory is then not an error (mkdir -p). */
SBX_API sbx_err sbx_mkdir(sbx_client *c, const char *session_id,
    const char *path, int parents);

/* Removes a file, a symlink or an empty directory; with recursive, a
 * directory and everything under it (rm -r). */
SBX_API sbx_err sbx_remove(sbx_client *c, const char *session_id,
    const char *path, int recursive);

/* Renames from to to, creating to's missing parents. An existing to is
 * an error (SBX_ALREADY_EXISTS) unless overwrite is non-zero. */
SBX_API sbx_err sbx_move(sbx_client *c, const char *session_id,
    const char *from, const char *to, int overwrite);

/* Replaces old_str (old_len > 0 bytes) with new_str (new_len bytes, may
 * be 0) in the file path. Without replace_all old_str must occur exactly
 * once (else SBX_FAILED_PRECONDITION, with the count in the message).
 * On SBX_OK, *occurrences (may be NULL) is the number replaced; on
 * failure 0. The bytes are only read. */
SBX_API sbx_err sbx_edit(sbx_client *c, const char *session_id,
    const char *path, const void *old_str, size_t old_len,
    const void *new_str, size_t new_len, int replace_all,
    uint64_t *occurrences);

/* Finds files (never directories) under path (NULL = /workspace) whose
 * path relative to it matches pattern: '*' does not cross '/', "**" does,
 * no brace expansion. In path order, or newest-modified first with
 * newest_first. At most max_results (0 = the server's default); *truncated
 * (may be NULL) says whether more matched. On SBX_OK *out is an array of
 * *n entries (NULL when *n is 0; free with sbx_file_info_list_free). On
 * failure *out is NULL, *n 0 and *truncated 0. */
SBX_API sbx_err sbx_glob(sbx_client *c, const char *session_id,
    const char *pattern, const char *path, uint32_t max_results,
    int newest_first, sbx_file_info **out, size_t *n, int *truncated);

typedef enum {
	SBX_GREP_CONTENT = 0,        /* matching lines */
	SBX_GREP_FILES = 1,          /* names of files with a match */
	SBX_GREP_COUNT = 2,          /* matching lines per file */
} sbx_grep_mode;

/* For sbx_grep. The strings are only read. */
typedef struct {
	const char *pattern;         /* required; Perl-compatible regex */
	const char *path;            /* file or directory; NULL = /workspace */
	const char *glob;            /* NULL = all files; a bare pattern matches
				      * the file name, one with '/' the path
				      * relative to path */
	sbx_grep_mode mode;
	int case_insensitive;
	uint32_t max_results;        /* 0 = the server's default */
	int include_hidden;          /* also hidden files and .git, node_modules, ... */
} sbx_grep_opts;

typedef struct {
	char *path;
	uint64_t line_number;        /* from 1 */
	sbx_bytes line;              /* without its newline */
} sbx_grep_match;

typedef struct {
	char *path;
	uint64_t count;
} sbx_grep_count;

/* What sbx_grep found; only the array of the requested mode is filled. */
typedef struct {
	sbx_grep_match *matches;     /* SBX_GREP_CONTENT */
	size_t n_matches;
	char **files;                /* SBX_GREP_FILES */
	size_t n_files;
	sbx_grep_count *counts;      /* SBX_GREP_COUNT */
	size_t n_counts;
	int truncated;               /* max_results cut the result */
} sbx_grep_result;

/* Searches files for o->pattern. A bad regex is SBX_INVALID_ARGUMENT
 * with the server's message. On SBX_OK *out holds the result
 * (sbx_grep_result_fini it); on failure *out is zeroed. */
SBX_API sbx_err sbx_grep(sbx_client *c, const char *session_id,
    const sbx_grep_opts *o, sbx_grep_result *out);

/* Frees what r holds and zeroes it. NULL and a zeroed r are fine. */
SBX_API void sbx_grep_result_fini(sbx_grep_result *r);

/* Called on the caller's thread after each chunk of a transfer: done
 * bytes of total so far. It should return quickly and must not close the
 * client; libsbx calls made from it overwrite this thread's last error. */
typedef void (*sbx_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* Uploads size bytes read from fd (with pread, from offset 0: fd must be
 * a seekable file; its offset is left alone) to path, creating parent
 * directories and replacing the file once the whole content has arrived
 * and checked out: it travels in chunks of at most 1 MiB, one in memory
 * at a time, and the server compares the SHA-256 computed here with what
 * it received (SBX_DATA_LOSS when they differ). fd ending before size
 * bytes is SBX_FAILED_PRECONDITION. progress (may be NULL) gets arg.
 * On failure nothing is published; the wire has no abort, so a partial
 * upload stays on the server until it expires there. The caller keeps
 * fd. */
SBX_API sbx_err sbx_upload(sbx_client *c, const char *session_id,
    const char *path, int fd, uint64_t size, sbx_progress_fn progress,
    void *arg);

/* Downloads the file path, writing it to fd in order (any writable fd: a
 * pipe works) in chunks of at most 1 MiB, one in memory at a time. The
 * content's SHA-256 is checked against the server's at the end: a file
 * that changed while it was read is SBX_DATA_LOSS ("file changed during
 * download"), or the server's own SBX_ABORTED when it sees the change.
 * progress (may be NULL) gets arg; total is the file's size.
 * On failure fd may already hold part of the file: write to a temporary
 * file and rename it on SBX_OK. The caller keeps fd. */
SBX_API sbx_err sbx_download(sbx_client *c, const char *session_id,
    const char *path, int fd, sbx_progress_fn progress, void *arg);

/* ---------------------------------------------------------------- logs */

/* Everything a session's commands print, and its lifecycle ("session
 * started", "exited with code 0", "session stopped (idle)", ...), is a
 * stream of events numbered per session from 1 without gaps. The server
 * keeps each session's last events (its replay window, 1000 by default)
 * for sbx_read_logs, and publishes every event live, sealed with the
 * session's key, on a pub socket that sbx_logs_subscribe follows: it
 * fills any gap from the window, so a subscriber sees every event once,
 * in order, and is told how many fell out of the window when it lagged
 * too far. Sequence numbers restart at 1 when sbxd restarts. */

typedef enum {
	SBX_STREAM_STDOUT = 1,
	SBX_STREAM_STDERR = 2,
	SBX_STREAM_SYSTEM = 3,       /* lifecycle and exit events, text */
	SBX_STREAM_TERMINAL = 4,     /* what a terminal shows (process_id: its id) */
	SBX_STREAM_WATCH = 5,        /* file changes (process_id: the watch id);
				      * sbx_watch_events_decode reads them */
} sbx_log_stream;

typedef struct {
	uint64_t seq;
	char *process_id;            /* "" = the session; "x<n>" = an Execute */
	sbx_log_stream stream;
	uint8_t *data;               /* NUL-terminated (not counted in len) */
	size_t len;
	uint64_t unix_ms;            /* when the server emitted it */
	uint64_t lost;               /* subscriptions: events lost just before
				      * this one (they left the window) */
} sbx_log_event;

/* Frees what ev holds (events from sbx_logs_next) and zeroes it. */
SBX_API void sbx_log_event_fini(sbx_log_event *ev);

typedef struct {
	sbx_log_event *events;
	size_t n;
	uint64_t first_available_seq;  /* oldest event still in the window */
	uint64_t lost;               /* events after after_seq no longer there */
} sbx_log_batch;

/* Reads buffered events of session_id with seq > after_seq, oldest
 * first: at most max (0 = the server's default, 1000) and about 4 MiB of
 * data. An after_seq beyond the last event is SBX_INVALID_ARGUMENT naming
 * the next seq. On SBX_OK *out holds them (sbx_log_batch_fini it); on
 * failure *out is zeroed. Counts as activity of the session. */
SBX_API sbx_err sbx_read_logs(sbx_client *c, const char *session_id,
    uint64_t after_seq, uint32_t max, sbx_log_batch *out);
/* Frees what b holds and zeroes it. */
SBX_API void sbx_log_batch_fini(sbx_log_batch *b);

typedef struct sbx_logs_sub sbx_logs_sub;

/* Gets each event of a subscription on its background thread; ev and
 * what it points to are valid during the call only. It may call libsbx
 * (not sbx_logs_unsubscribe of its own subscription); while it runs, new
 * events wait, and past the queue they are fetched again from the window
 * afterwards. */
typedef void (*sbx_log_event_fn)(void *arg, const sbx_log_event *ev);

#define SBX_LOGS_NOW UINT64_MAX      /* after_seq: only events from now on */

typedef struct {
	uint64_t after_seq;          /* deliver events after this one; 0 = all
				      * in the window; SBX_LOGS_NOW = new ones */
	sbx_log_event_fn callback;   /* NULL = read with sbx_logs_next */
	void *arg;
	int queue_events;            /* live events queued before the
				      * subscriber drops (and later refetches)
				      * them; 0 = 256 */
} sbx_logs_opts;

/* Follows session_id's events on a background thread until
 * sbx_logs_unsubscribe: the credentials of c must reach the session
 * (its token or a service key); the key and the pub endpoint come from the
 * server (SubscribeLogs). The subscription also reads the window once a
 * second (that catches a lost last event and renews its lease, so the
 * idle reaper does not stop a followed session). Events go to o->callback, or queue for sbx_logs_next.
 * c must outlive the subscription. An after_seq beyond the last event is
 * SBX_INVALID_ARGUMENT. On SBX_OK *out is the subscription; on failure
 * NULL. */
SBX_API sbx_err sbx_logs_subscribe_opts(sbx_client *c, const char *session_id,
    const sbx_logs_opts *o, sbx_logs_sub **out);
/* sbx_logs_subscribe_opts with the other options at their defaults. */
SBX_API sbx_err sbx_logs_subscribe(sbx_client *c, const char *session_id,
    uint64_t after_seq, sbx_log_event_fn callback, void *arg, sbx_logs_sub **out);
/* The iterator form (callback NULL): waits up to timeout_ms (-1 =
 * forever, 0 = not at all) for the next event and moves it into *ev
 * (sbx_log_event_fini it). SBX_DEADLINE_EXCEEDED when none came in time;
 * SBX_FAILED_PRECONDITION for a callback subscription; the error that
 * ended the subscription (e.g. SBX_PERMISSION_DENIED) once it has. */
SBX_API sbx_err sbx_logs_next(sbx_logs_sub *s, sbx_log_event *ev, int timeout_ms);
/* What a subscription has done so far; any pointer may be NULL. next_seq:
 * the seq it will deliver next; lost: events it could not deliver (they
 * had left the window); refetched: events it delivered from the window
 * after missing them live. Returns SBX_OK, or the error that ended it. */
SBX_API sbx_err sbx_logs_stats(sbx_logs_sub *s, uint64_t *next_seq, uint64_t *lost,
    uint64_t *refetched);
/* Stops the subscription, waits for its thread (and a callback running
 * on it), and frees it. Events still queued are dropped. NULL is fine. */
SBX_API void sbx_logs_unsubscribe(sbx_logs_sub *s);

/* ---------------------------------------------------------------- processes
 *
 * Background processes: commands that go on running in the session after
 * the call that started them returns (a dev server, a training loop), and
 * after the client disconnects. A process id is only meaningful together
 * with its session. Output also goes to the session's log stream (see
 * logs); sbx_process_read_output returns what is new since the last read.
 */

typedef enum {
	SBX_PROCESS_RUNNING = 1,
	SBX_PROCESS_EXITED = 2,
	SBX_PROCESS_KILLED = 3,      /* by a signal sbx sent, OOM, or its session's end */
} sbx_process_state;

typedef enum {
	SBX_SIGNAL_TERM = 1,
	SBX_SIGNAL_KILL = 2,
	SBX_SIGNAL_INT = 3,
} sbx_signal;

#define SBX_PROCESS_ID_MAX 32

typedef struct {
	char process_id[SBX_PROCESS_ID_MAX];
	char *command;               /* malloc'd; sbx_process_fini frees it */
	sbx_process_state state;
	int exit_code;               /* -1 while running or when unknown */
	uint64_t started_unix_ms;
	uint64_t ended_unix_ms;      /* 0 while running */
	int64_t pid;                 /* inside the sandbox; 0 when unknown */
} sbx_process;

typedef struct {
	const char *command;         /* run as `sh -c command`; NULL or "" with argv */
	const char *cwd;             /* NULL = /workspace */
	const char *const *env;      /* n_env strings "NAME=value" */
	size_t n_env;
	const char *const *argv;     /* instead of command: argc words run exactly
				      * as given, no shell; argc 0 = use command */
	size_t argc;
} sbx_process_opts;

/* Frees what p holds and zeroes it. A zeroed p is fine. */
SBX_API void sbx_process_fini(sbx_process *p);

/* Starts opts->command (or opts->argv, as sbx_exec) in the session; *out
 * describes it (fini it; with argv, out->command is the words quoted as a
 * shell would read them). SBX_RESOURCE_EXHAUSTED when the session runs its
 * maximum already. */
SBX_API sbx_err sbx_process_start(sbx_client *c, const char *session_id,
    const sbx_process_opts *opts, sbx_process *out);

/* The session's processes, running and recently ended, oldest first:
 * *out is an array of *n (sbx_process_list_free it). */
SBX_API sbx_err sbx_process_list(sbx_client *c, const char *session_id,
    sbx_process **out, size_t *n);
SBX_API void sbx_process_list_free(sbx_process *v, size_t n);

/* Waits up to timeout_ms (0 = until it ends) for the process to end;
 * *timed_out says whether it still runs. out (may be NULL) gets its state.
 * Long waits are made of several calls (the server bounds one). */
SBX_API sbx_err sbx_process_wait(sbx_client *c, const char *session_id,
    const char *process_id, uint64_t timeout_ms, sbx_process *out,
    int *timed_out);

/* Sends sig to the process's whole process tree, or with process_id NULL
 * to every running process of the session; *signalled (may be NULL) is
 * how many processes were reached. SBX_SIGNAL_KILL returns once the
 * killed processes have ended: a sbx_process_list or sbx_process_wait
 * after it shows them KILLED (or EXITED if they ended by themselves
 * first), never RUNNING. When the call's timeout comes first it is
 * SBX_DEADLINE_EXCEEDED: the signal was sent, the exit not yet seen
 * (sbx_process_wait for it). TERM and INT return once sent.
 * SBX_FAILED_PRECONDITION when the process had already ended: after a
 * KILL ("has already been killed": a second KILL), or when it exited by
 * itself leaving nothing of its tree behind (children it left behind are
 * signalled, SBX_OK). */
SBX_API sbx_err sbx_process_signal(sbx_client *c, const char *session_id,
    const char *process_id, sbx_signal sig, unsigned *signalled);

/* Writes len bytes to the process's stdin (all of them, or an error:
 * SBX_DEADLINE_EXCEEDED when it does not read them within seconds,
 * SBX_FAILED_PRECONDITION when it has ended or its stdin is closed). */
SBX_API sbx_err sbx_process_send_stdin(sbx_client *c, const char *session_id,
    const char *process_id, const void *data, size_t len);

/* Closes the process's stdin: it reads end of file. */
SBX_API sbx_err sbx_process_close_stdin(sbx_client *c, const char *session_id,
    const char *process_id);

/* The output (stdout and stderr merged) new since the last read: *out is
 * the caller's (sbx_free out->data; never NULL on SBX_OK). When the process
 * printed more between reads than the server keeps, the oldest part was
 * dropped and a line "[sbx: N bytes of output dropped ...]" starts it.
 * info (may be NULL) gets the process's state. */
SBX_API sbx_err sbx_process_read_output(sbx_client *c, const char *session_id,
    const char *process_id, sbx_bytes *out, sbx_process *info);

/* ---------------------------------------------------------------- terminals
 *
 * A command on a pseudo-terminal in the sandbox (the sandbox user's login
 * shell by default), through its in-sandbox agent. What it shows arrives
 * on the session's log stream as SBX_STREAM_TERMINAL events whose
 * process_id is the terminal id: follow it (sbx_logs_subscribe_opts) from
 * after_seq to see everything, and after a reconnect from the last seq
 * seen; its end is an SBX_STREAM_SYSTEM event under the same id. Any
 * holder of the session's credential may attach (follow) and type; a
 * read-only viewer is one that does not type. At most 8 running per
 * session; sizes 1..1000 columns, 1..500 rows (else
 * SBX_INVALID_ARGUMENT). A session whose sandbox has no agent answers
 * SBX_FAILED_PRECONDITION; one whose agent is not connected SBX_UNAVAILABLE.
 */

#define SBX_TERMINAL_ID_MAX 32

typedef struct {
	char terminal_id[SBX_TERMINAL_ID_MAX];
	char *command;               /* malloc'd; "" = the login shell */
	uint32_t cols, rows;
	int running;
	int exit_code;               /* -1 while running; 137 when killed */
	uint64_t started_unix_ms;
	uint64_t ended_unix_ms;      /* 0 while running */
	int64_t pid;                 /* its leader, inside the sandbox */
	uint64_t after_seq;          /* the session's last seq before its output */
} sbx_terminal;

typedef struct {
	const char *const *argv;     /* argc words; argc 0 = the login shell */
	size_t argc;
	uint32_t cols, rows;         /* 0 = 80 x 24 */
	const char *const *env;      /* n_env "NAME=value"; TERM defaults to
				      * xterm-256color */
	size_t n_env;
	const char *cwd;             /* NULL = /workspace */
} sbx_terminal_opts;

/* Frees what t holds and zeroes it; NULL is fine. */
SBX_API void sbx_terminal_fini(sbx_terminal *t);
SBX_API void sbx_terminal_list_free(sbx_terminal *v, size_t n);
/* Opens a terminal (opts may be NULL: the login shell, 80 x 24). On
 * SBX_OK *out describes it (sbx_terminal_fini it). */
SBX_API sbx_err sbx_terminal_open(sbx_client *c, const char *session_id,
    const sbx_terminal_opts *opts, sbx_terminal *out);
/* Sends len bytes (at most 64 KiB) as typed. A terminal that has ended is
 * SBX_FAILED_PRECONDITION, an unknown id SBX_NOT_FOUND. */
SBX_API sbx_err sbx_terminal_input(sbx_client *c, const char *session_id,
    const char *terminal_id, const void *data, size_t len);
SBX_API sbx_err sbx_terminal_resize(sbx_client *c, const char *session_id,
    const char *terminal_id, uint32_t cols, uint32_t rows);
/* Kills every process of the terminal and waits for its end; out (may be
 * NULL) gets its final state. Closing an ended terminal is SBX_OK. */
SBX_API sbx_err sbx_terminal_close(sbx_client *c, const char *session_id,
    const char *terminal_id, sbx_terminal *out);
/* The session's terminals, oldest first, ended ones included (the last
 * 16 are kept): *out (sbx_terminal_list_free it) and *n. */
SBX_API sbx_err sbx_terminal_list(sbx_client *c, const char *session_id,
    sbx_terminal **out, size_t *n);

/* ---------------------------------------------------------------- file watches
 *
 * Changes under a directory of the sandbox (inotify, through its agent),
 * reported on the session's log stream as SBX_STREAM_WATCH events whose
 * process_id is the watch id, from after_seq on (follow them with
 * sbx_logs_subscribe_opts; sbx_watch_events_decode reads one). Changes
 * are merged per path over 20 ms; a burst of writes to one file is one
 * "modified" per window, a file created and deleted within one window is
 * not reported, and an overflow is one SBX_WATCH_RESCAN event: look
 * again. At most 4 watches per session; they end with it.
 */

#define SBX_WATCH_ID_MAX 32

typedef enum {
	SBX_WATCH_CREATED = 1,
	SBX_WATCH_MODIFIED = 2,
	SBX_WATCH_DELETED = 3,
	SBX_WATCH_MOVED = 4,         /* from -> path */
	SBX_WATCH_RESCAN = 5,        /* events were lost: look at the tree again */
} sbx_watch_kind;

typedef struct {
	sbx_watch_kind kind;
	sbx_bytes path;              /* absolute, in the container */
	sbx_bytes from;              /* SBX_WATCH_MOVED: where it was; else empty */
	uint64_t size;               /* when reported (0 when deleted) */
	int64_t mtime_unix_ns;
	int is_dir;
} sbx_watch_event;

typedef struct {
	const char *path;            /* a directory; relative to /workspace; NULL = it */
	int recursive;
	const char *const *globs;    /* n_globs fnmatch patterns: with '/' against the
				      * path under `path`, else against the name */
	size_t n_globs;
} sbx_watch_opts;

/* Starts a watch: its id into id, the session's last seq before its
 * events into *after_seq (may be NULL). A missing path is SBX_NOT_FOUND;
 * a file, /proc or /sys SBX_INVALID_ARGUMENT. */
SBX_API sbx_err sbx_watch_start(sbx_client *c, const char *session_id,
    const sbx_watch_opts *opts, char id[SBX_WATCH_ID_MAX], uint64_t *after_seq);
SBX_API sbx_err sbx_watch_stop(sbx_client *c, const char *session_id, const char *watch_id);
/* The changes one SBX_STREAM_WATCH event carries: *out (free with
 * sbx_watch_events_free) and *n. SBX_INVALID_ARGUMENT when ev is not a
 * watch event or does not decode. */
SBX_API sbx_err sbx_watch_events_decode(const sbx_log_event *ev, sbx_watch_event **out,
    size_t *n);
SBX_API void sbx_watch_events_free(sbx_watch_event *v, size_t n);

#ifdef __cplusplus
}
#endif

#endif
