/*
 * snapshot_int.h — what snapshot.c, snapshot_restore.c and
 * snapshot_recover.c share; not for other modules.
 */
#ifndef SBXD_SNAPSHOT_INT_H
#define SBXD_SNAPSHOT_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "server.h"
#include "store.h"

/* {state_dir}/snapshots, or .../snapshots/name when name is not NULL, into
 * out[n]; INVALID_ARGUMENT when it does not fit. */
sbxd_code snapshot_path(struct server *s, const char *name, char *out, size_t n,
    struct err *e);
/* The image a snapshot's layer is committed to: sbx/snapshot:{id}. */
void snapshot_image_name(const char *id, char *out, size_t n);
/* Removes image ("" is nothing) unless a snapshot or a live session still
 * names it; failures are logged (the next start retries). */
void snapshot_image_release(struct server *s, const char *image);
/* The lock serializing snapshots and restores of session id. */
pthread_mutex_t *snapshot_session_lock(const char *id);
/* FAILED_PRECONDITION, saying why, unless r is RUNNING or STOPPED. */
sbxd_code snapshot_check_live(const struct session_row *r, struct err *e);
/* The test hook env names (snapshot.h), for snapshot id: nothing unless
 * env is set. */
void snapshot_test_hold(const char *env, const char *id);
/* Milliseconds on the monotonic clock. */
int64_t snapshot_mono_ms(void);

#endif
