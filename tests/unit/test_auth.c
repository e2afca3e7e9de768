/*
 * test_auth.c — credentials: configured keys, the generated key file
 * (mode 0600, stable across restarts), and session tokens.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "t.h"

TEST(configured_keys)
{
	struct config c;
	struct auth *a;
	struct err e;

	config_defaults(&c);
	snprintf(c.service_keys[0], CONFIG_KEY_MAX, "key-one-0123456789");
	snprintf(c.service_keys[1], CONFIG_KEY_MAX, "key-two-0123456789");
	c.nservice_keys = 2;
	REQUIRE_INT(auth_new(&c, &a, &e), SBXD_OK);
	CHECK(auth_is_service_key(a, "key-one-0123456789", 18));
	CHECK(auth_is_service_key(a, "key-two-0123456789", 18));
	CHECK(!auth_is_service_key(a, "key-one-012345678", 17));
	CHECK(!auth_is_service_key(a, "key-one-0123456789x", 19));
	CHECK(!auth_is_service_key(a, "", 0));
	auth_free(a);
}

TEST(generated_key_file)
{
	char dir[64], key[128];
	struct config c;
	struct auth *a, *b;
	struct stat st;
	struct err e;
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/sbx-auth-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	config_defaults(&c);
	snprintf(c.key_file, sizeof(c.key_file), "%s/service.key", dir);
	REQUIRE_INT(auth_new(&c, &a, &e), SBXD_OK);
	REQUIRE(stat(c.key_file, &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	REQUIRE((f = fopen(c.key_file, "r")) != NULL);
	REQUIRE(fgets(key, sizeof(key), f) != NULL);
	fclose(f);
	key[strcspn(key, "\n")] = '\0';
	CHECK_INT(strlen(key), 64);
	CHECK(auth_is_service_key(a, key, strlen(key)));
	REQUIRE_INT(auth_new(&c, &b, &e), SBXD_OK);   /* a restart reads the same key */
	CHECK(auth_is_service_key(b, key, strlen(key)));
	auth_free(a);
	auth_free(b);
	unlink(c.key_file);
	rmdir(dir);
}

TEST(tokens)
{
	char t1[AUTH_TOKEN_MAX], h1[AUTH_HASH_HEX], t2[AUTH_TOKEN_MAX], h2[AUTH_HASH_HEX], h3[AUTH_HASH_HEX];

	auth_token_mint(t1, h1);
	auth_token_mint(t2, h2);
	CHECK(strncmp(t1, "sbxt_", 5) == 0);
	CHECK_INT(strlen(t1), 5 + 43);          /* 256 bits in base64url */
	CHECK(strcmp(t1, t2) != 0);
	CHECK(strcmp(h1, h2) != 0);
	CHECK(strstr(h1, t1 + 5) == NULL);      /* the hash is not the token */
	auth_token_hash(t1, strlen(t1), h3);
	CHECK_STR(h3, h1);
}

int
main(void)
{
	RUN(configured_keys);
	RUN(generated_key_file);
	RUN(tokens);
	T_DONE();
}
