/*
 * fsops_fixture.h — the temporary workspace the fsops unit tests
 * (test_fsops, test_fsops_ops, test_fsops_search) run against.
 *
 * fx_up makes a fresh directory T = /tmp/<tag>.XXXXXX holding the
 * workspace T/ws and opens fx_root on it as FX_UID:FX_GID; each test file
 * plants beside it what its sandbox must never reach (T/secret,
 * T/outside/...). fx_down closes the root and removes T. The other helpers
 * act on the host directly, as the host or a hostile sandbox would, never
 * through fsops. None of them counts checks: t.h's counters are each test
 * file's own, so they answer with return values the tests CHECK.
 */
#ifndef SBX_FSOPS_FIXTURE_H
#define SBX_FSOPS_FIXTURE_H

#include <stddef.h>

#include "fsops.h"

#define FX_UID 1000
#define FX_GID 1000

extern char fx_top[64];                 /* T; "" when there is none */
extern struct fsops_root fx_root;       /* opened on T/ws by fx_up */

/* A fresh T (removing the last one) with an empty T/ws, and fx_root opened
 * on it; 0 or -1. */
int fx_up(const char *tag);
/* Closes fx_root and removes T with all it holds. */
void fx_down(void);

/* T/name and T/ws/rel, in rotating static buffers (sixteen results, of
 * both together, may be live at once). */
const char *fx_T(const char *name);
const char *fx_W(const char *rel);

/* Writes (creates or truncates, 0644) the host file path; 0 or -1. The
 * parent must exist. */
int fx_put(const char *path, const void *p, size_t n);
int fx_puts(const char *path, const char *s);
/* The host file's content as a malloc'ed NUL-terminated string (length in
 * *len unless len is NULL), or NULL. Never follows a symlink, never blocks
 * on a FIFO. */
char *fx_slurp(const char *path, size_t *len);
/* 1 when the host file path holds exactly want. */
int fx_content_is(const char *path, const char *want);
/* 1 when path exists on the host (a dangling symlink does). */
int fx_exists(const char *path);
/* 1 when the host directory dir holds no entry whose name starts with
 * prefix (a temporary file left behind), 0 otherwise or when it cannot be
 * read. */
int fx_no_temp_left(const char *dir, const char *prefix);

/* From now on SIGALRM writes msg to stderr and ends the process with
 * status 1: with alarm(2), a call that hangs fails instead of stalling the
 * run. msg must stay valid. */
void fx_watchdog(const char *msg);

/* Runs fn in a forked child with its own mount namespace, so that what fn
 * mounts vanishes with the child. failures is the test file's t.h failure
 * count (&t_failures): the child zeroes it and fails if fn adds any.
 * Returns 0 when the child passed, or could not get a private namespace
 * (then it says on stderr that the test is skipped); 1 when it failed; -1
 * when fork or waitpid did. */
int fx_in_private_ns(void (*fn)(void), int *failures);

#endif
