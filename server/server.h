/*
 * server.h — the state one sbxd holds, shared by every request.
 *
 * server_open builds it from a finished config: the state directories, the
 * SQLite store, the Docker driver, the credentials. Handlers reach
 * everything through it; nothing else is global.
 */
#ifndef SBXD_SERVER_H
#define SBXD_SERVER_H

#include <pthread.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "driver.h"
#include "err.h"
#include "store.h"
#include "uploads.h"

#define SERVER_USER_LOCKS 64

struct lifecycle;               /* session_reaper.c */
struct pool;                    /* pool.c: warm containers per runtime */
struct logbus;                  /* logbus.c: per-session event rings + pub socket */
struct procs;                   /* procs.c: background processes */
struct replycache;              /* replycache.c: replies by (credential, request id) */
struct sweep;                   /* session_recover.c: crash leftovers in workspaces */
struct engine_events;           /* session_events.c: the engine's container events */
struct connlimit;               /* connlimit.c: connection caps of one socket */
struct shares;                  /* shares.c: long calls running per tenant */
struct terms;                   /* terms.c: interactive terminals */
struct watches;                 /* watches.c: file watches */

struct server {
	const struct config *cfg;
	struct store *store;
	struct driver *drv;
	struct auth *auth;
	char instance[17];          /* labels this sbxd's containers: hash of its db path */
	pthread_mutex_t user_locks[SERVER_USER_LOCKS];
	struct uploads uploads;      /* chunked uploads in progress */
	struct lifecycle *life;      /* activity, starts in flight, the reaper thread */
	struct pool *pool;           /* NULL when the pool is off */
	struct logbus *logbus;
	struct procs *procs;
	struct replycache *replies;  /* safe retries */
	struct shares *shares;       /* long calls per credential and per session */
	struct sweep *sweep;         /* NULL unless sweeping */
	struct engine_events *events; /* NULL unless following */
	struct connlimit *rpc_conns; /* the rep socket's connections (connlimit_stats) */
	struct connlimit *log_conns; /* the log pub socket's; NULL without one */
	struct terms *terms;         /* interactive terminals */
	struct watches *watches;     /* file watches */
	struct egress *egress;       /* egress allowlists' proxy (egress.h) */
};

/* Opens everything cfg names. The driver is used as given when drv is not
 * NULL (tests substitute one) and is then owned by the server. */
sbxd_code server_open(const struct config *cfg, struct driver *drv,
    struct server **out, struct err *e);
void server_close(struct server *s);
/* The instance id labelling the containers of the sbxd whose database is
 * db_path: 16 hex digits of its SHA-256. */
void server_instance_id(const char *db_path, char out[17]);
/* Wall-clock milliseconds since the epoch. */
int64_t server_now_ms(void);

#endif
