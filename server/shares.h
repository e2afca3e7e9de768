/*
 * shares.h — how many long calls each tenant has running at once.
 *
 * Commands, waits and engine work run on their own workers (rpc.c); a
 * tenant may hold only a share of them, so one credential or one session
 * cannot take every worker from the others. A share is counted under a
 * key ("token:SESSION", "key", "session:SESSION") and given back when
 * the call ends. The table holds one slot per key with calls running:
 * never more than the command workers, so a linear scan under one mutex
 * is enough.
 */
#ifndef SBXD_SHARES_H
#define SBXD_SHARES_H

#define SHARES_KEY_MAX 80

struct shares;

/* A table for up to slots keys at once; NULL when out of memory. */
struct shares *shares_new(int slots);
void shares_free(struct shares *s);
/* A NULL table (a server built without one, in unit tests) counts
 * nothing and refuses nothing. */
/* Takes one share under key when fewer than cap are held (1), else 0;
 * also 0 when the table is full, which cannot happen while slots is at
 * least the number of calls that can run at once. */
int shares_take(struct shares *s, const char *key, int cap);
/* Gives back one share taken under key. */
void shares_give(struct shares *s, const char *key);
/* Shares held under key now (for tests and metrics). */
int shares_held(struct shares *s, const char *key);

#endif
