/*
 * libsbx_int.h — what the files of libsbx share and sbx.h does not show.
 * Not installed. libsbx.c owns the handle, the transport and the
 * thread's last error; libsbx_session.c, libsbx_sandbox.c and
 * libsbx_files.c build the typed calls on the round trip and the checks
 * declared here. Names are sbxi_ (the
 * library builds with hidden visibility, so none of them leaves the
 * shared object; the prefix keeps them clear of a static link's other
 * symbols).
 */
#ifndef SBX_LIBSBX_INT_H
#define SBX_LIBSBX_INT_H

#include "sbx.h"
#include "sbx/v1/sbx.pb-c.h"

#define SVC_SESSION "sbx.v1.SessionService/"
#define SVC_SANDBOX "sbx.v1.SandboxService/"

/* Starts a call on c: clears this thread's last error. */
void sbxi_clear_err(const sbx_client *c);

/* Records err and its message as this thread's last error (and logs it
 * at debug level on c's logger); returns err. c may be NULL. */
__attribute__((format(printf, 3, 4))) sbx_err
sbxi_fail(const sbx_client *c, sbx_err err, const char *fmt, ...);

/* sbxi_fail with SBX_RESOURCE_EXHAUSTED and an out-of-memory message. */
sbx_err sbxi_oom(const sbx_client *c);
/* A malloc'd copy of s (NULL copies as ""); sets *bad when out of memory
 * (the caller checks once after several copies). */
char *sbxi_strdup(const char *s, int *bad);
/* Copies the wire limits s (NULL leaves *d as it is) into *d. */
void sbxi_limits_from_wire(sbx_limits *d, const Sbx__V1__Limits *s);

/* SBX_INVALID_ARGUMENT ("<what> is required") when s is NULL or "". */
sbx_err sbxi_check_id(sbx_client *c, const char *what, const char *s);

/* What a command or process runs: exactly one of command (a shell line)
 * and argv (argc words, no shell) with a non-empty first word and no NULL
 * word; SBX_INVALID_ARGUMENT saying which otherwise. */
sbx_err sbxi_check_command(sbx_client *c, const char *command,
    const char *const *argv, size_t argc);

/* sbxi_check_id for "session_id" and then for what (id): the arguments
 * every call on one thing in a session (a path, a process, a terminal)
 * starts with. */
sbx_err sbxi_check_in_session(sbx_client *c, const char *session_id,
    const char *what, const char *id);

/* Copies the id the server sent for one what (e.g. "process") into dst,
 * size bytes with the NUL; SBX_INTERNAL with dst "" when it does not fit. */
sbx_err sbxi_id_from_wire(sbx_client *c, const char *what, const char *src,
    char *dst, size_t size);

/* Copies src into dst: dst->data is a new buffer of src->len + 1 bytes,
 * NUL-terminated, that the caller frees; dst->len is src->len. Out of
 * memory is SBX_RESOURCE_EXHAUSTED (recorded on c) with dst->data NULL. */
sbx_err sbxi_bytes_dup(sbx_client *c, const ProtobufCBinaryData *src,
    sbx_bytes *dst);

/* The client's per-call timeout: positive milliseconds, or
 * SBX_TIMEOUT_NONE. */
int sbxi_timeout_ms(const sbx_client *c);

/* libsbx_session.c's conversions, for libsbx_snapshot.c: a wire session
 * into *d (sbx_session_fini it), and wire labels pointing into l's
 * strings (free the result only). */
sbx_err sbxi_session_from_wire(sbx_client *c, sbx_session *d, const Sbx__V1__Session *s);
sbx_err sbxi_labels_to_wire(sbx_client *c, const sbx_label *l, size_t n,
    Sbx__V1__Label ***out);

/* The URL c dials (static while c is open). */
const char *sbxi_endpoint(const sbx_client *c);

/* Packs req, runs the call and unpacks the reply payload with desc. On
 * SBX_OK *out is the response (protobuf_c_message_free_unpacked it); on
 * failure *out is NULL and the last error says why. out may be NULL when
 * the reply carries nothing the caller needs: it is still decoded (an
 * undecodable one is SBX_INTERNAL) and then freed. timeout_ms as
 * sbx_options.timeout_ms, 0 meaning the client's. */
sbx_err sbxi_call(sbx_client *c, const char *method, int timeout_ms,
    const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
    ProtobufCMessage **out);

/* sbxi_call for the generated type `type` (e.g. sbx__v1__write_response):
 * req points to its request message, out to a pointer to its response
 * (or is NULL). */
#define CALL(c, method, timeout, req, type, out) \
	sbxi_call((c), (method), (timeout), &(req)->base, &type##__descriptor, \
	    (ProtobufCMessage **)(out))

/* Splits "NAME=value" entries into wire EnvVars (Execute, StartProcess,
 * OpenTerminal); the names are copies: free with sbxi_env_free. */
sbx_err sbxi_env_to_wire(sbx_client *c, const char *const *env, size_t n,
    Sbx__V1__EnvVar ***out);
void sbxi_env_free(Sbx__V1__EnvVar **env, size_t n);

#endif
