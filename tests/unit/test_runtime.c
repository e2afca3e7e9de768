/*
 * test_runtime.c — the checks CreateRuntime's definitions pass before any
 * build (runtime_check_def): Debian, PEP 508 and npm package-name
 * grammars, runtime names, env keys, work dirs and setup commands. Every
 * string a shell or apt could read as more than a name is refused.
 */
#include <string.h>

#include "runtime.h"
#include "t.h"

static sbxd_code
check_one(const char *name, const char *os, const char *pip, const char *npm)
{
	struct runtime_def d = { .name = name, .base = "python-minimal", .work_dir = "",
	    .os_pkgs = &os, .nos = os != NULL, .pip_pkgs = &pip, .npip = pip != NULL,
	    .npm_pkgs = &npm, .nnpm = npm != NULL };
	struct err e;

	return runtime_check_def(&d, &e);
}

TEST(debian_names)
{
	static const char *const good[] = { "jq", "python3-pip", "g++", "libc6.1-dev", "0ad" };
	static const char *const bad[] = { "", "j", "Jq", "-jq", "+jq", "jq;id", "jq id", "jq\n",
	    "jq$(id)", "jq`id`", "jq|x", "jq&", "jq>x", "jq=1.6", "jq:amd64", "../jq", "jq/x" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_INT(check_one("x", good[i], NULL, NULL), SBXD_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(check_one("x", bad[i], NULL, NULL), SBXD_INVALID_ARGUMENT);
}

TEST(pip_and_npm_names)
{
	CHECK_INT(check_one("x", NULL, "Flask_SQLAlchemy", NULL), SBXD_OK);
	CHECK_INT(check_one("x", NULL, "a", NULL), SBXD_OK);
	CHECK_INT(check_one("x", NULL, "-e", NULL), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("x", NULL, "requests==2.0", NULL), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("x", NULL, "x;os_name", NULL), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("x", NULL, "req.", NULL), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("x", NULL, NULL, "left-pad"), SBXD_OK);
	CHECK_INT(check_one("x", NULL, NULL, "@types/node"), SBXD_OK);
	CHECK_INT(check_one("x", NULL, NULL, "React"), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("x", NULL, NULL, ".hidden"), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("x", NULL, NULL, "@x"), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("x", NULL, NULL, "a@1.0"), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("x", NULL, NULL, "--global"), SBXD_INVALID_ARGUMENT);
}

TEST(runtime_names)
{
	CHECK_INT(check_one("my-tools.v2", NULL, NULL, NULL), SBXD_OK);
	CHECK_INT(check_one("", NULL, NULL, NULL), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("My", NULL, NULL, NULL), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("a--b", NULL, NULL, NULL), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("a-", NULL, NULL, NULL), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("a/b", NULL, NULL, NULL), SBXD_INVALID_ARGUMENT);
	CHECK_INT(check_one("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, NULL, NULL),
	    SBXD_INVALID_ARGUMENT);   /* 41 bytes */
}

TEST(env_work_dir_setup)
{
	const char *env_bad[] = { "=x", "1A=x", "A-B=x", "A", "A=x\ny" }, *env_ok = "A_1=x y";
	const char *setup_long[1];
	static char big[5000];
	struct runtime_def d = { .name = "x", .base = "", .work_dir = "" };
	struct err e;

	d.env = &env_ok;
	d.nenv = 1;
	CHECK_INT(runtime_check_def(&d, &e), SBXD_OK);
	for (size_t i = 0; i < sizeof(env_bad) / sizeof(env_bad[0]); i++) {
		d.env = &env_bad[i];
		CHECK_INT(runtime_check_def(&d, &e), SBXD_INVALID_ARGUMENT);
	}
	d.nenv = 0;
	d.work_dir = "relative";
	CHECK_INT(runtime_check_def(&d, &e), SBXD_INVALID_ARGUMENT);
	d.work_dir = "/opt/../etc";
	CHECK_INT(runtime_check_def(&d, &e), SBXD_INVALID_ARGUMENT);
	d.work_dir = "/opt/app";
	CHECK_INT(runtime_check_def(&d, &e), SBXD_OK);
	memset(big, 'x', sizeof(big) - 1);
	setup_long[0] = big;
	d.setup = setup_long;
	d.nsetup = 1;
	CHECK_INT(runtime_check_def(&d, &e), SBXD_INVALID_ARGUMENT);
	d.base = "bad base!";
	d.nsetup = 0;
	CHECK_INT(runtime_check_def(&d, &e), SBXD_INVALID_ARGUMENT);
}

int
main(void)
{
	RUN(debian_names);
	RUN(pip_and_npm_names);
	RUN(runtime_names);
	RUN(env_work_dir_setup);
	T_DONE();
}
