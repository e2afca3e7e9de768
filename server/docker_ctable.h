/*
 * docker_ctable.h — a table from container id to a fixed-size record, for
 * what the Docker driver remembers per container (docker_stats.c's cgroup
 * paths and last CPU sample).
 *
 * Hashed (chained, power-of-two buckets at least twice the capacity), so a
 * lookup costs the same at 10 containers as at thousands. The capacity
 * grows on demand, doubling, up to a limit: ctable_reserve raises the
 * limit to the number of containers that can be live at once (the session
 * ceiling plus the warm pool); past the limit the least recently used
 * record is replaced. Records are copied in and out under one mutex; no
 * pointer into the table leaves it.
 */
#ifndef SBXD_DOCKER_CTABLE_H
#define SBXD_DOCKER_CTABLE_H

#include <stddef.h>

#define CTABLE_ID_MAX 72            /* a 64-hex container id and a NUL, with room */
#define CTABLE_LIMIT_MIN 512        /* the limit before any reserve */
#define CTABLE_LIMIT_MAX (1u << 20) /* reserve never goes past this */

struct ctable;

/* A table of records of rec_size bytes; NULL when out of memory. */
struct ctable *ctable_new(size_t rec_size);
void ctable_free(struct ctable *t);
/* Raises the limit to n (clamped to CTABLE_LIMIT_MAX; never lowers it). */
void ctable_reserve(struct ctable *t, size_t n);
/* Copies id's record into rec and marks it used; 0 when there is none. */
int ctable_get(struct ctable *t, const char *id, void *rec);
/* Stores a copy of rec for id, replacing id's record, or growing, or at
 * the limit replacing the least recently used one. An id of
 * CTABLE_ID_MAX bytes or more is not stored; out of memory replaces the
 * least recently used record instead of growing. */
void ctable_put(struct ctable *t, const char *id, const void *rec);
/* Forgets id (nothing when absent). */
void ctable_drop(struct ctable *t, const char *id);
/* Records held, current capacity and limit (for tests). */
void ctable_stats(struct ctable *t, size_t *n, size_t *cap, size_t *limit);

#endif
