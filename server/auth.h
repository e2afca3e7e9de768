/*
 * auth.h — who is calling: service keys and session tokens.
 *
 * A service key reaches every session (an application's backend holds it);
 * a session token reaches exactly one session (an end user's agent holds
 * it). Keys are compared in constant time over their SHA-256 digests, so
 * neither content nor length leaks through timing. Session tokens carry 256
 * random bits, are shown to the caller once, and only their SHA-256 is
 * stored. When no service key is configured, sbxd creates one at first
 * start in key_file (mode 0600) so it is never open to anyone by default.
 */
#ifndef SBXD_AUTH_H
#define SBXD_AUTH_H

#include <stddef.h>

#include "config.h"
#include "err.h"

#define AUTH_TOKEN_MAX 64        /* "sbxt_" + 43 base64url chars + NUL, with room */
#define AUTH_HASH_HEX 65

struct auth;

/* Loads the configured keys, or the key file (creating it when no key is
 * configured anywhere). */
sbxd_code auth_new(const struct config *cfg, struct auth **out, struct err *e);
void auth_free(struct auth *a);
/* 1 when key (len bytes) is one of the service keys, else 0. */
int auth_is_service_key(const struct auth *a, const char *key, size_t len);
/* Mints a new session token into token and its hex SHA-256 into hash. */
void auth_token_mint(char token[AUTH_TOKEN_MAX], char hash[AUTH_HASH_HEX]);
/* Hex SHA-256 of a presented token (len bytes). */
void auth_token_hash(const char *token, size_t len, char hash[AUTH_HASH_HEX]);
/* Fills out with n random bytes as lowercase hex (2n+1 bytes of room). */
void auth_random_hex(char *out, size_t n);

#endif
