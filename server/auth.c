/*
 * auth.c — service keys and session tokens (see auth.h). libsodium gives
 * the randomness (randombytes_buf), SHA-256 and the constant-time compare
 * (sodium_memcmp); it is in Debian, small, and made for exactly this.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"
#include "log.h"

struct auth {
	unsigned char digests[CONFIG_MAX_KEYS + 1][crypto_hash_sha256_BYTES];
	int n;
};

static void
digest(const char *p, size_t len, unsigned char out[crypto_hash_sha256_BYTES])
{
	crypto_hash_sha256(out, (const unsigned char *)p, len);
}

static void
hex(const unsigned char *p, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, p, n);
}

void
auth_random_hex(char *out, size_t n)
{
	unsigned char raw[64];

	if (n > sizeof(raw))
		n = sizeof(raw);
	randombytes_buf(raw, n);
	hex(raw, n, out);
}

/* Reads the key file, or creates it with a fresh key when absent. */
static sbxd_code
key_file_load(const char *path, char *key, size_t keysz, struct err *e)
{
	int fd;
	ssize_t n;
	char fresh[2 * 32 + 1];

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		n = read(fd, key, keysz - 1);
		close(fd);
		if (n < 16)
			return err_set(e, SBXD_FAILED_PRECONDITION,
			    "service key file %s is unreadable or shorter than 16 bytes", path);
		key[n] = '\0';
		key[strcspn(key, "\r\n")] = '\0';
		return SBXD_OK;
	}
	if (errno != ENOENT)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "cannot read service key file %s: %s", path, strerror(errno));
	auth_random_hex(fresh, 32);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "cannot create service key file %s: %s", path, strerror(errno));
	n = write(fd, fresh, strlen(fresh));
	if (n != (ssize_t)strlen(fresh) || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return err_set(e, SBXD_FAILED_PRECONDITION,
		    "cannot write service key file %s", path);
	}
	close(fd);
	log_info("auth: created a service key in %s (mode 0600)", path);
	snprintf(key, keysz, "%s", fresh);
	return SBXD_OK;
}

sbxd_code
auth_new(const struct config *cfg, struct auth **out, struct err *e)
{
	struct auth *a;
	char key[CONFIG_KEY_MAX];
	sbxd_code rv;

	if (sodium_init() < 0)
		return err_set(e, SBXD_INTERNAL, "libsodium failed to initialize");
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	for (int i = 0; i < cfg->nservice_keys; i++)
		digest(cfg->service_keys[i], strlen(cfg->service_keys[i]), a->digests[a->n++]);
	if (a->n == 0) {
		if ((rv = key_file_load(cfg->key_file, key, sizeof(key), e)) != SBXD_OK) {
			free(a);
			return rv;
		}
		digest(key, strlen(key), a->digests[a->n++]);
		sodium_memzero(key, sizeof(key));
	}
	*out = a;
	return SBXD_OK;
}

void
auth_free(struct auth *a)
{
	if (a != NULL)
		sodium_memzero(a, sizeof(*a));
	free(a);
}

int
auth_is_service_key(const struct auth *a, const char *key, size_t len)
{
	unsigned char d[crypto_hash_sha256_BYTES];
	int match = 0;

	if (len == 0)
		return 0;
	digest(key, len, d);
	/* Compare against every key, always, so timing says nothing. */
	for (int i = 0; i < a->n; i++)
		match |= sodium_memcmp(d, a->digests[i], sizeof(d)) == 0;
	return match;
}

void
auth_token_hash(const char *token, size_t len, char hash[AUTH_HASH_HEX])
{
	unsigned char d[crypto_hash_sha256_BYTES];

	digest(token, len, d);
	hex(d, sizeof(d), hash);
}

void
auth_token_mint(char token[AUTH_TOKEN_MAX], char hash[AUTH_HASH_HEX])
{
	unsigned char raw[32];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(token, AUTH_TOKEN_MAX, "sbxt_%s", b64);
	auth_token_hash(token, strlen(token), hash);
	sodium_memzero(raw, sizeof(raw));
}
