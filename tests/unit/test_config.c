/*
 * test_config.c — settings: defaults, every value kind, file errors with
 * line numbers, derived paths, and SBXD_SERVICE_KEY.
 */
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "t.h"

static const char *
write_tmp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/sbx-conf-XXXXXX");
	fd = mkstemp(path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

TEST(defaults_are_safe)
{
	struct config c;
	struct err e;

	unsetenv("SBXD_SERVICE_KEY");
	config_defaults(&c);
	REQUIRE_INT(config_finish(&c, &e), SBXD_OK);
	CHECK_STR(c.listen, "tcp://127.0.0.1:7410");
	CHECK_STR(c.network_mode, "none");
	CHECK_STR(c.db_path, "/var/lib/sbx/sbx.db");
	CHECK_STR(c.workspace_root, "/var/lib/sbx/workspaces");
	CHECK_INT(c.max_output_bytes, 100000);
	CHECK_INT(c.exec_timeout_default_ms, 120000);
	CHECK_INT(c.reap_interval_ms, 30000);
	CHECK_INT(c.max_live_sessions, 20);
	CHECK_INT(c.max_live_sessions_per_user, 4);
	CHECK(config_runtime(&c, "python-minimal") != NULL);
	/* the five built-ins, each with its image and build command */
	REQUIRE(config_runtime(&c, "node-react") != NULL);
	CHECK_STR(config_runtime(&c, "node-react")->image, "sbx/node-react:latest");
	CHECK_STR(config_runtime(&c, "python-datascience")->build_command,
	    "deploy/images/build.sh python-datascience");
	CHECK_INT(c.nruntimes, 5);
	/* a read-only root; sized tmpfs for /tmp and the sandbox user's
	 * home, the home owned by that user */
	CHECK_INT(c.readonly_rootfs, 1);
	CHECK_STR(c.sandbox_home, "/home/sandbox");
	CHECK_STR(c.tmpfs_tmp_mount, "rw,exec,nosuid,nodev,size=64m,mode=1777");
	CHECK_STR(c.tmpfs_home_mount,
	    "rw,exec,nosuid,nodev,size=64m,uid=1000,gid=1000,mode=0755");
	CHECK_INT(config_runtime(&c, "python-minimal")->writable_rootfs, 0);
}

TEST(tmpfs_and_writable_runtimes)
{
	struct config c;
	struct err e;

	config_defaults(&c);
	CHECK_INT(config_set(&c, "sandbox_uid", "2000", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "tmpfs_tmp", "size=8m,mode=0700", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "tmpfs_home", "size=1g,gid=5", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "sandbox_home", "/home/node", &e), SBXD_OK);
	/* an option on a built-in keeps its build command */
	CHECK_INT(config_set(&c, "runtime", "python-web sbx/python-web:latest "
	    "writable_rootfs", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "runtime", "tools img:1 writable_rootfs", &e), SBXD_OK);
	REQUIRE_INT(config_finish(&c, &e), SBXD_OK);
	CHECK_STR(c.tmpfs_tmp_mount, "size=8m,mode=0700");
	CHECK_STR(c.tmpfs_home_mount, "size=1g,gid=5,uid=2000,mode=0755");
	CHECK_INT(config_runtime(&c, "python-web")->writable_rootfs, 1);
	CHECK_STR(config_runtime(&c, "python-web")->build_command,
	    "deploy/images/build.sh python-web");
	CHECK_INT(config_runtime(&c, "tools")->writable_rootfs, 1);
	CHECK_INT(config_runtime(&c, "python-minimal")->writable_rootfs, 0);
	/* re-pointed without the option: read-only again */
	CHECK_INT(config_set(&c, "runtime", "tools img:2", &e), SBXD_OK);
	CHECK_INT(config_runtime(&c, "tools")->writable_rootfs, 0);
	CHECK_INT(config_set(&c, "runtime", "tools img:2 writable", &e),
	    SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "unknown runtime option \"writable\"");
	CHECK_INT(config_set(&c, "runtime", "tools img:2 writable_rootfs x", &e),
	    SBXD_INVALID_ARGUMENT);
	/* "" turns a tmpfs off */
	config_defaults(&c);
	CHECK_INT(config_set(&c, "tmpfs_tmp", "", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "tmpfs_home", "", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "sandbox_home", "relative", &e), SBXD_OK);
	REQUIRE_INT(config_finish(&c, &e), SBXD_OK);
	CHECK_STR(c.tmpfs_tmp_mount, "");
	CHECK_STR(c.tmpfs_home_mount, "");
	/* what the engine would refuse at every create is refused at start */
	static const char *const bad_opts[] = { "size=64m size=1g", "size=64m,,rw",
	    ",size=1m", "size=1m,", "size=64m;rm" };
	for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
		config_defaults(&c);
		CHECK_INT(config_set(&c, "tmpfs_home", bad_opts[i], &e), SBXD_OK);
		CHECK_INT(config_finish(&c, &e), SBXD_INVALID_ARGUMENT);
		CHECK_CONTAINS(e.msg, "tmpfs_home must be mount options");
	}
	static const char *const bad_homes[] = { "relative", "/", "/workspace",
	    "/workspace/h", "/tmp", "/tmp/h", "/.sbx/x", "/home/../etc", "/home/",
	    "/home//x", "/home/x/..", "/home/a b", "/home:x" };
	for (size_t i = 0; i < sizeof(bad_homes) / sizeof(bad_homes[0]); i++) {
		config_defaults(&c);
		CHECK_INT(config_set(&c, "sandbox_home", bad_homes[i], &e), SBXD_OK);
		CHECK_INT(config_finish(&c, &e), SBXD_INVALID_ARGUMENT);
		CHECK_CONTAINS(e.msg, "sandbox_home must be");
	}
}

TEST(file_values)
{
	struct config c;
	struct err e;
	const char *p = write_tmp(
	    "# comment\n"
	    "listen = tcp://127.0.0.1:9999   # trailing comment\n"
	    "memory = 512M\n"
	    "exec_timeout_max = 10m\n"
	    "readonly_rootfs = yes\n"
	    "log_level = debug\n"
	    "reap_interval = 0\n"
	    "max_live_sessions = 2\n"
	    "runtime = custom img/custom:1\n"
	    "service_key = 0123456789abcdef0123\n");

	config_defaults(&c);
	REQUIRE_INT(config_load_file(&c, p, &e), SBXD_OK);
	unlink(p);
	CHECK_STR(c.listen, "tcp://127.0.0.1:9999");
	CHECK_INT(c.memory_bytes, 512LL << 20);
	CHECK_INT(c.exec_timeout_max_ms, 600000);
	CHECK_INT(c.readonly_rootfs, 1);
	CHECK_INT(c.log_level, 3);
	CHECK_INT(c.reap_interval_ms, 0);
	CHECK_INT(c.max_live_sessions, 2);
	CHECK_INT(c.nservice_keys, 1);
	REQUIRE(config_runtime(&c, "custom") != NULL);
	CHECK_STR(config_runtime(&c, "custom")->image, "img/custom:1");
}

TEST(bad_lines_name_file_and_line)
{
	struct config c;
	struct err e;
	const char *p;

	config_defaults(&c);
	p = write_tmp("listen = tcp://x:1\nlisten_typo = 1\n");
	CHECK_INT(config_load_file(&c, p, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, ":2: unknown setting \"listen_typo\"");
	unlink(p);
	p = write_tmp("memory = lots\n");
	CHECK_INT(config_load_file(&c, p, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, ":1: bad value");
	unlink(p);
	p = write_tmp("no equals sign\n");
	CHECK_INT(config_load_file(&c, p, &e), SBXD_INVALID_ARGUMENT);
	unlink(p);
	p = write_tmp("service_key = short\n");
	CHECK_INT(config_load_file(&c, p, &e), SBXD_INVALID_ARGUMENT);
	unlink(p);
	CHECK_INT(config_load_file(&c, "/nonexistent/sbxd.conf", &e), SBXD_NOT_FOUND);
}

TEST(finish_checks_consistency)
{
	struct config c;
	struct err e;

	config_defaults(&c);
	config_set(&c, "listen", "tls+tcp://127.0.0.1:7410", &e);
	CHECK_INT(config_finish(&c, &e), SBXD_INVALID_ARGUMENT);
	config_defaults(&c);
	config_set(&c, "default_runtime", "nope", &e);
	CHECK_INT(config_finish(&c, &e), SBXD_INVALID_ARGUMENT);
	config_defaults(&c);
	config_set(&c, "memory", "8G", &e);
	CHECK_INT(config_finish(&c, &e), SBXD_INVALID_ARGUMENT);
}

TEST(env_keys)
{
	struct config c;
	struct err e;

	config_defaults(&c);
	setenv("SBXD_SERVICE_KEY", "aaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbb", 1);
	REQUIRE_INT(config_finish(&c, &e), SBXD_OK);
	CHECK_INT(c.nservice_keys, 2);
	CHECK_STR(c.service_keys[1], "bbbbbbbbbbbbbbbbbbbbbb");
	unsetenv("SBXD_SERVICE_KEY");
}

TEST(pool_sizes)
{
	struct config c;
	struct err e;

	config_defaults(&c);
	REQUIRE_INT(config_finish(&c, &e), SBXD_OK);
	CHECK_INT(config_runtime(&c, "python-minimal")->pool_size, 2);
	CHECK(strstr(c.pool_dir, "/pool") != NULL);
	config_defaults(&c);
	CHECK_INT(config_set(&c, "runtime", "tools img:1", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "pool_size", "tools 3", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "pool_size", "0", &e), SBXD_OK);
	REQUIRE_INT(config_finish(&c, &e), SBXD_OK);
	CHECK_INT(config_runtime(&c, "python-minimal")->pool_size, 0);
	CHECK_INT(config_runtime(&c, "tools")->pool_size, 3);
	config_defaults(&c);
	CHECK_INT(config_set(&c, "pool_size", "-1", &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(config_set(&c, "pool_size", "3 x", &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(config_set(&c, "pool_size", "tools 2000", &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(config_set(&c, "pool_size", "nope 1", &e), SBXD_OK);
	CHECK_INT(config_finish(&c, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "nope");
	/* a runtime with egress=: its sessions never take a pool container,
	 * so the default pool_size gives it none and a line asking is refused */
	config_defaults(&c);
	CHECK_INT(config_set(&c, "runtime", "eg img:1 egress=pypi.org", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "default_runtime", "eg", &e), SBXD_OK);
	REQUIRE_INT(config_finish(&c, &e), SBXD_OK);
	CHECK_INT(c.pool_size, 2);
	CHECK_INT(config_runtime(&c, "eg")->pool_size, 0);
	for (int k = 0; k < ISOLATION_N; k++)
		CHECK_INT(config_runtime(&c, "eg")->pool_iso[k], 0);
	config_defaults(&c);
	CHECK_INT(config_set(&c, "runtime", "eg img:1 egress=pypi.org", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "pool_size", "eg 1", &e), SBXD_OK);
	CHECK_INT(config_finish(&c, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "egress=");
	CHECK_CONTAINS(e.msg, "remove the line");
	config_defaults(&c);
	CHECK_INT(config_set(&c, "runtime", "eg img:1 egress=pypi.org", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "pool_size", "eg 0", &e), SBXD_OK);
	REQUIRE_INT(config_finish(&c, &e), SBXD_OK);
	CHECK_INT(config_runtime(&c, "python-minimal")->pool_size, 2);
}

TEST(isolations)
{
	const struct config_runtime *r;
	struct config c;
	struct err e;

	config_defaults(&c);
	REQUIRE_INT(config_finish(&c, &e), SBXD_OK);
	CHECK_INT(c.isolation, ISOLATION_RUNC);
	CHECK_INT(c.isolations_allowed, (1u << ISOLATION_RUNC) | (1u << ISOLATION_GVISOR));
	CHECK_STR(c.gvisor_runtime, "runsc");
	CHECK_INT(config_runtime(&c, "node-minimal")->isolation, ISOLATION_RUNC);
	/* the config's default reaches runtimes without their own */
	config_defaults(&c);
	CHECK_INT(config_set(&c, "isolation", "gvisor", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "runtime", "tools img:1 isolation=runc writable_rootfs", &e),
	    SBXD_OK);
	CHECK_INT(config_set(&c, "pool_size", "tools 2 gvisor", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "pool_size", "tools 1", &e), SBXD_OK);
	REQUIRE_INT(config_finish(&c, &e), SBXD_OK);
	CHECK_INT(config_runtime(&c, "python-minimal")->isolation, ISOLATION_GVISOR);
	CHECK_INT(config_runtime(&c, "python-minimal")->pool_iso[ISOLATION_GVISOR], 2);
	r = config_runtime(&c, "tools");
	CHECK_INT(r->isolation, ISOLATION_RUNC);
	CHECK_INT(r->writable_rootfs, 1);
	CHECK_INT(r->pool_iso[ISOLATION_RUNC], 1);
	CHECK_INT(r->pool_iso[ISOLATION_GVISOR], 2);
	CHECK_INT(r->pool_size, 1);
	/* bad values */
	config_defaults(&c);
	CHECK_INT(config_set(&c, "isolation", "kata", &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(config_set(&c, "isolations_allowed", "runc,kata", &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(config_set(&c, "isolations_allowed", " , ", &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(config_set(&c, "runtime", "t img:1 isolation=kata", &e), SBXD_INVALID_ARGUMENT);
	CHECK_INT(config_set(&c, "pool_size", "python-minimal 1 kata", &e), SBXD_INVALID_ARGUMENT);
	/* every isolation a session could get must be allowed */
	config_defaults(&c);
	CHECK_INT(config_set(&c, "isolations_allowed", "gvisor", &e), SBXD_OK);
	CHECK_INT(config_finish(&c, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "isolations_allowed");
	config_defaults(&c);
	CHECK_INT(config_set(&c, "isolations_allowed", "runc", &e), SBXD_OK);
	CHECK_INT(config_set(&c, "runtime", "t img:1 isolation=gvisor", &e), SBXD_OK);
	CHECK_INT(config_finish(&c, &e), SBXD_INVALID_ARGUMENT);
	CHECK_CONTAINS(e.msg, "runtime t");
	config_defaults(&c);
	CHECK_INT(config_set(&c, "gvisor_runtime", "runsc; rm", &e), SBXD_OK);
	CHECK_INT(config_finish(&c, &e), SBXD_INVALID_ARGUMENT);
}

int
main(void)
{
	RUN(defaults_are_safe);
	RUN(tmpfs_and_writable_runtimes);
	RUN(file_values);
	RUN(bad_lines_name_file_and_line);
	RUN(finish_checks_consistency);
	RUN(env_keys);
	RUN(pool_sizes);
	RUN(isolations);
	T_DONE();
}
