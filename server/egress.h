/*
 * egress.h — outbound network by domain allowlist (see deploy/egress/README.md).
 *
 * A session created with an allowlist gets a network of its own: an
 * internal Docker bridge (no route out, no address of the host on it) with
 * a /29 cut from egress_subnets, holding only the session's container
 * (.3) and the kept proxy (.2, squid in sbx/egress-proxy; one per sbxd).
 * The container's HTTP(S)_PROXY point at the proxy and its DNS goes
 * nowhere; the proxy's own second network is a plain bridge, its only way
 * out. squid asks a small helper, for each request, whether the rules
 * file of the client's address lists the host and port; sbxd writes those
 * files (atomically), so a changed list applies from the next request on
 * (within a second: squid keeps an answer that long). squid's access log
 * is followed, and each line becomes a system event in the session's log.
 */
#ifndef SBXD_EGRESS_H
#define SBXD_EGRESS_H

#include <stddef.h>

#include "err.h"

#define EGRESS_ENTRIES_MAX 64
#define EGRESS_HOST_MAX 253          /* a DNS name's length */
#define EGRESS_TEXT_MAX 4096         /* the entries, one a line */
#define EGRESS_ENV_MAX 4             /* the variables egress_session_up adds */

struct server;

/* Per-session network: what egress_session_up fills. */
struct egress_net {
	char network[96];             /* the container's network_mode */
	char ipv4[20];                /* the container's fixed address */
	char env[EGRESS_ENV_MAX][64]; /* HTTP_PROXY=... and friends */
};

/* Checks and normalizes n entries "HOST" or "HOST:PORT" (HOST a DNS name
 * of two labels or more, or "*." and one: "*.example.com" matches every
 * name below example.com, not example.com itself; no port = 80 and 443).
 * IPs, CIDRs, "*", empty or over-long entries, schemes and paths are
 * INVALID_ARGUMENT with what to give instead. out gets the entries in
 * lower case, one a line. */
sbxd_code egress_parse(char *const *in, size_t n, char *out, size_t outsz, struct err *e);

/* 1 when the allowlists a and b (egress_parse's form) hold the same
 * entries, whatever their order and repeats. */
int egress_same(const char *a, const char *b);

sbxd_code egress_open(struct server *s, struct err *e);
void egress_close(struct server *s);
/* FAILED_PRECONDITION (naming the fix) unless this server can run
 * sessions with an allowlist under isolation iso (isolation.h). */
sbxd_code egress_check(struct server *s, int iso, struct err *e);
/* Makes sure the proxy runs, session sid's network exists with the proxy
 * on it, and the proxy allows what allow (egress_parse's form) lists;
 * fills *out for the container. Again for the same session (a restart):
 * the same network and address. */
sbxd_code egress_session_up(struct server *s, const char *sid, const char *allow,
    struct egress_net *out, struct err *e);
/* Session sid's list is now allow, from the next request on.
 * FAILED_PRECONDITION when the session has no egress network. */
sbxd_code egress_session_set(struct server *s, const char *sid, const char *allow,
    struct err *e);
/* Session sid's container is gone: its network and rules go too. Failures
 * are logged. */
void egress_session_down(struct server *s, const char *sid);

#endif
