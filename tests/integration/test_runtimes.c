/*
 * test_runtimes.c — the runtime catalog and custom runtimes, for real: a
 * real sbxd, the five built-in images on the real engine, and real builds.
 * In python-datascience a session fits a model on scikit-learn's iris data
 * and draws a matplotlib PNG that the client downloads; in node-minimal a
 * Node script runs; in python-web a FastAPI app runs as a background
 * process and is curl'ed from inside the container; a runtime's default
 * exec timeout applies (a second sbxd, config default 1 s). CreateRuntime
 * builds python-minimal + jq from Debian's mirror (the build network must
 * reach it), serves it from cache the second time and keeps it across a
 * restart; bad definitions get their statuses. Needs all five built-in
 * images (deploy/images/build.sh NAME); custom images made here are
 * removed at the end.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "harness.h"
#include "t.h"

static struct sbxd_proc d;
static sbx_client *svc;
static char jq_image[256];
static char pip_image[256];          /* only when PyPI was reachable */
static char jq_run_tag[32];          /* makes each run's definition (and image) new */

static const char *const builtins[] = {
	"python-minimal", "python-datascience", "python-web", "node-minimal", "node-react",
};

/* Runs cmd in a session; returns its merged output (static, overwritten
 * by the next call). */
static const char *
run(const char *sid, const char *cmd, int *exit_code)
{
	static char out[65536];
	sbx_exec_opts o = { .command = cmd, .timeout_ms = 120000 };
	sbx_exec_result r;
	sbx_err rv = sbx_exec(svc, sid, &o, &r);

	out[0] = '\0';
	*exit_code = -1;
	if (rv != SBX_OK) {
		fprintf(stderr, "  exec %s: %s: %s\n", cmd, sbx_err_name(rv), sbx_last_error(svc));
		return out;
	}
	snprintf(out, sizeof(out), "%s%s", r.out.data ? (char *)r.out.data : "",
	    r.err.data ? (char *)r.err.data : "");
	*exit_code = r.exit_code;
	if (r.exit_code != 0)
		fprintf(stderr, "  exec %s: exit %d: %s\n", cmd, r.exit_code, out);
	sbx_exec_result_fini(&r);
	return out;
}

static int
session_in(const char *runtime, const char *user, sbx_session *s)
{
	sbx_session_create_opts o = { .user_id = user, .runtime = runtime };
	sbx_err rv = sbx_session_create(svc, &o, s, NULL);

	if (rv != SBX_OK)
		fprintf(stderr, "  create in %s: %s: %s\n", runtime, sbx_err_name(rv),
		    sbx_last_error(svc));
	return rv == SBX_OK;
}

static void
write_file(const char *sid, const char *path, const char *text)
{
	CHECK_INT(sbx_write(svc, sid, path, text, strlen(text), 0), SBX_OK);
}

TEST(list_shows_the_builtins_ready)
{
	sbx_runtime *v = NULL;
	size_t n = 0;
	int found = 0;

	REQUIRE_INT(sbx_runtime_list(svc, &v, &n), SBX_OK);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < sizeof(builtins) / sizeof(builtins[0]); j++) {
			char image[128];

			if (strcmp(v[i].name, builtins[j]) != 0)
				continue;
			found++;
			snprintf(image, sizeof(image), "sbx/%s:latest", builtins[j]);
			CHECK_STR(v[i].image, image);
			CHECK(v[i].ready);
			CHECK_STR(v[i].build_command, "");
			CHECK_STR(v[i].work_dir, "/workspace");
			CHECK_STR(v[i].network_mode, "none");
			CHECK(v[i].n_packages >= 2);
			CHECK(v[i].description[0] != '\0');
			CHECK(v[i].default_limits.memory_bytes > 0);
		}
	CHECK_INT(found, 5);
	sbx_runtime_list_free(v, n);
	/* sbxd said so at start */
	CHECK(harness_log_has(&d, "runtimes ready: python-minimal python-datascience "
	    "python-web node-minimal node-react"));
}

TEST(get_runtime_reports_defaults_and_packages)
{
	sbx_runtime r;
	int sklearn = 0;

	REQUIRE_INT(sbx_runtime_get(svc, "python-datascience", &r), SBX_OK);
	CHECK_INT(r.default_limits.memory_bytes, 2LL << 30);
	CHECK_INT(r.default_limits.nano_cpus, 2000000000LL);
	for (size_t i = 0; i < r.n_packages; i++)
		sklearn |= strcmp(r.packages[i], "python3-sklearn") == 0;
	CHECK(sklearn);
	sbx_runtime_fini(&r);
	CHECK_INT(sbx_runtime_get(svc, "no-such-runtime", &r), SBX_NOT_FOUND);
	CHECK_CONTAINS(sbx_last_error(svc), "ListRuntimes");
}

TEST(unknown_runtime_session_is_not_found)
{
	sbx_session_create_opts o = { .user_id = "nobody", .runtime = "no-such-runtime" };
	sbx_session s;

	CHECK_INT(sbx_session_create(svc, &o, &s, NULL), SBX_NOT_FOUND);
	CHECK_CONTAINS(sbx_last_error(svc), "no-such-runtime");
}

static const char iris_py[] =
    "from sklearn.datasets import load_iris\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "import matplotlib\n"
    "matplotlib.use('Agg')\n"
    "import matplotlib.pyplot as plt\n"
    "X, y = load_iris(return_X_y=True)\n"
    "m = LogisticRegression(max_iter=500).fit(X, y)\n"
    "print('accuracy %.2f' % m.score(X, y))\n"
    "plt.scatter(X[:, 0], X[:, 1], c=y)\n"
    "plt.savefig('/workspace/iris.png')\n";

TEST(datascience_fits_iris_and_draws_a_png)
{
	sbx_session s;
	char tmp[] = "/tmp/sbx-iris-XXXXXX", sig[8] = { 0 };
	const char *out;
	int code, fd;

	REQUIRE(session_in("python-datascience", "ds-user", &s));
	CHECK_INT(s.limits.memory_bytes, 2LL << 30);
	write_file(s.session_id, "fit.py", iris_py);
	out = run(s.session_id, "python3 fit.py", &code);
	CHECK_INT(code, 0);
	CHECK_CONTAINS(out, "accuracy 0.9");
	REQUIRE((fd = mkstemp(tmp)) >= 0);
	CHECK_INT(sbx_download(svc, s.session_id, "iris.png", fd, NULL, NULL), SBX_OK);
	CHECK_INT(pread(fd, sig, 8, 0), 8);
	CHECK(memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0);
	CHECK(lseek(fd, 0, SEEK_END) > 1000);
	close(fd);
	unlink(tmp);
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

TEST(node_minimal_runs_a_script)
{
	sbx_session s;
	const char *out;
	int code;

	REQUIRE(session_in("node-minimal", "node-user", &s));
	write_file(s.session_id, "app.js",
	    "const xs = [1, 2, 3, 4].map(x => x * x);\n"
	    "console.log('sum', xs.reduce((a, b) => a + b, 0), process.version);\n");
	out = run(s.session_id, "node app.js", &code);
	CHECK_INT(code, 0);
	CHECK_CONTAINS(out, "sum 30 v18.");
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

TEST(node_react_has_tsc_and_react)
{
	sbx_session s;
	const char *out;
	int code;

	REQUIRE(session_in("node-react", "react-user", &s));
	write_file(s.session_id, "hello.ts", "const n: number = 6 * 7;\nconsole.log(`ts ${n}`);\n");
	out = run(s.session_id, "tsc hello.ts && node hello.js && node -e "
	    "\"console.log('react', require('react').version)\"", &code);
	CHECK_INT(code, 0);
	CHECK_CONTAINS(out, "ts 42\nreact 18.");
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

TEST(python_web_serves_fastapi_in_the_background)
{
	sbx_session s;
	sbx_process p;
	sbx_process_opts po = { .command = "python3 -m uvicorn app:app --host 127.0.0.1 --port 8000" };
	const char *out;
	int code;

	REQUIRE(session_in("python-web", "web-user", &s));
	write_file(s.session_id, "app.py",
	    "from fastapi import FastAPI\n"
	    "app = FastAPI()\n"
	    "@app.get('/hello/{name}')\n"
	    "def hello(name: str):\n"
	    "    return {'hello': name}\n");
	REQUIRE_INT(sbx_process_start(svc, s.session_id, &po, &p), SBX_OK);
	/* uvicorn needs a moment to bind: poll from inside the container, for
	 * up to about 90 s (a safety net inside run's 120 s timeout) */
	out = run(s.session_id, "for i in $(seq 450); do curl -sf http://127.0.0.1:8000/hello/sbx"
	    " && exit 0; sleep 0.2; done; exit 1", &code);
	CHECK_INT(code, 0);
	CHECK_CONTAINS(out, "{\"hello\":\"sbx\"}");
	sbx_process_fini(&p);
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

/* Runs `sleep 2`, with no timeout of its own, in a new session of
 * runtime on c; *timed_out says whether the default timeout cut it short.
 * 0 when the session and the command ran. */
static int
sleep2_in(sbx_client *c, const char *runtime, int *timed_out)
{
	sbx_session_create_opts so = { .user_id = "timeout-user", .runtime = runtime };
	sbx_exec_opts o = { .command = "sleep 2" };
	sbx_exec_result r;
	sbx_session s;
	sbx_err rv;

	if ((rv = sbx_session_create(c, &so, &s, NULL)) != SBX_OK) {
		fprintf(stderr, "  create in %s: %s: %s\n", runtime, sbx_err_name(rv),
		    sbx_last_error(c));
		return -1;
	}
	if ((rv = sbx_exec(c, s.session_id, &o, &r)) == SBX_OK) {
		*timed_out = r.timed_out;
		sbx_exec_result_fini(&r);
	} else
		fprintf(stderr, "  sleep 2 in %s: %s: %s\n", runtime, sbx_err_name(rv),
		    sbx_last_error(c));
	sbx_session_end(c, s.session_id, 1);
	sbx_session_fini(&s);
	return rv == SBX_OK ? 0 : -1;
}

/* A request without a timeout gets its runtime's default: with the
 * config's default at 1 s, `sleep 2` is cut short in python-minimal (no
 * default of its own) but finishes in python-datascience (300 s). */
TEST(runtime_default_exec_timeout_applies)
{
	struct sbxd_proc o;
	sbx_client *c;
	int minimal = -1, datascience = -1;

	REQUIRE_INT(harness_start(&o, "exec_timeout_default = 1s\npool_size = 0\n"), 0);
	if ((c = harness_client(&o, NULL)) != NULL) {
		CHECK_INT(sleep2_in(c, "python-minimal", &minimal), 0);
		CHECK_INT(sleep2_in(c, "python-datascience", &datascience), 0);
		sbx_client_close(c);
	}
	CHECK(c != NULL);
	CHECK_INT(minimal, 1);
	CHECK_INT(datascience, 0);
	CHECK(harness_finish(&o, t_failures));
}

/* CreateRuntime with os package pkg, expecting want. */
static void
expect_create(const char *name, const char *base, const char *pkg, sbx_err want,
    const char *msg_part)
{
	const char *pkgs[] = { pkg };
	sbx_runtime_create_opts o = { .name = name, .base_runtime = base,
	    .os_packages = pkgs, .n_os_packages = pkg ? 1 : 0 };
	sbx_runtime r;

	CHECK_INT(sbx_runtime_create(svc, &o, &r, NULL), want);
	if (msg_part != NULL)
		CHECK_CONTAINS(sbx_last_error(svc), msg_part);
	sbx_runtime_fini(&r);
}

TEST(bad_definitions_are_refused)
{
	static const char *const bad_pkgs[] = {
		"jq; rm -rf /", "jq\nRUN id", "$(id)", "jq`id`", "-oAPT::x=1", "JQ", "j", "jq|x",
		"a b", "",
	};
	sbx_runtime_create_opts o = { .name = "sbxtest-bad" };
	const char *pip[] = { "requests;os" }, *npm[] = { "@@x" };
	sbx_runtime r;

	for (size_t i = 0; i < sizeof(bad_pkgs) / sizeof(bad_pkgs[0]); i++)
		expect_create("sbxtest-bad", "python-minimal", bad_pkgs[i], SBX_INVALID_ARGUMENT,
		    "os_packages[0]");
	o.pip_packages = pip;
	o.n_pip_packages = 1;
	CHECK_INT(sbx_runtime_create(svc, &o, &r, NULL), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "pip_packages[0]");
	o.n_pip_packages = 0;
	o.npm_packages = npm;
	o.n_npm_packages = 1;
	CHECK_INT(sbx_runtime_create(svc, &o, &r, NULL), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "npm_packages[0]");
	expect_create("Bad Name", NULL, "jq", SBX_INVALID_ARGUMENT, "name must match");
	expect_create("python-web", NULL, "jq", SBX_ALREADY_EXISTS, "built-in");
	expect_create("sbxtest-bad", "no-such-runtime", "jq", SBX_NOT_FOUND, "no-such-runtime");
	expect_create("sbxtest-bad", "sbx/absent-image:nope", "jq", SBX_FAILED_PRECONDITION,
	    "sbx/absent-image:nope");
	CHECK_INT(sbx_runtime_get(svc, "sbxtest-bad", &r), SBX_NOT_FOUND);
}

static void
count_cb(void *arg, const char *id, const char *state, const struct driver_label *labels,
    size_t nlabels)
{
	(*(int *)arg)++;
}

/* How many build containers of runtime name exist (-1 if unknown). */
static int
build_containers(const char *name)
{
	struct driver *drv;
	struct err e;
	int n = 0;

	if (docker_driver_new("/var/run/docker.sock", &drv, &e) != SBXD_OK)
		return -1;
	if (drv->ops->list(drv, "sbx.build", name, count_cb, &n, &e) != SBXD_OK)
		n = -1;
	drv->ops->free(drv);
	return n;
}

TEST(missing_package_fails_with_apts_message)
{
	sbx_runtime r;

	expect_create("sbxtest-nopkg", "python-minimal", "sbx-no-such-package",
	    SBX_FAILED_PRECONDITION, "Unable to locate package sbx-no-such-package");
	/* nothing half-built is recorded, and the build container is gone */
	CHECK_INT(sbx_runtime_get(svc, "sbxtest-nopkg", &r), SBX_NOT_FOUND);
	CHECK_INT(build_containers("sbxtest-nopkg"), 0);
}

TEST(failing_setup_command_leaves_nothing)
{
	const char *setup[] = { "echo half way; exit 3" };
	sbx_runtime_create_opts o = { .name = "sbxtest-setup", .base_runtime = "python-minimal",
	    .setup_commands = setup, .n_setup_commands = 1 };
	sbx_runtime r;

	CHECK_INT(sbx_runtime_create(svc, &o, &r, NULL), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "setup_commands[0] failed (exit 3): half way");
	CHECK_INT(sbx_runtime_get(svc, "sbxtest-setup", &r), SBX_NOT_FOUND);
	CHECK_INT(build_containers("sbxtest-setup"), 0);
}

/* pip with pip installed: FAILED_PRECONDITION naming the registry when
 * PyPI cannot be reached from the build network (as on the CI host); if
 * it can, the package must then import in a session. */
TEST(pip_needs_a_reachable_registry)
{
	const char *os[] = { "python3-pip" }, *pip[] = { "six" };
	sbx_runtime_create_opts o = { .name = "sbxtest-pip2", .base_runtime = "python-minimal",
	    .os_packages = os, .n_os_packages = 1, .pip_packages = pip, .n_pip_packages = 1 };
	sbx_runtime r;
	sbx_session s;
	sbx_err rv = sbx_runtime_create(svc, &o, &r, NULL);
	int code;

	if (rv != SBX_OK) {
		CHECK_INT(rv, SBX_FAILED_PRECONDITION);
		CHECK_CONTAINS(sbx_last_error(svc), "pip install failed: pip_packages need PyPI");
		CHECK_INT(build_containers("sbxtest-pip2"), 0);
		return;
	}
	fprintf(stderr, "  PyPI is reachable here: checking the installed package instead\n");
	snprintf(pip_image, sizeof(pip_image), "%s", r.image);
	sbx_runtime_fini(&r);
	REQUIRE(session_in("sbxtest-pip2", "pip-user", &s));
	run(s.session_id, "python3 -c 'import six'", &code);
	CHECK_INT(code, 0);
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

TEST(pip_and_npm_need_their_tools)
{
	const char *pip[] = { "requests" }, *npm[] = { "left-pad" };
	sbx_runtime_create_opts o = { .name = "sbxtest-pip", .base_runtime = "python-minimal",
	    .pip_packages = pip, .n_pip_packages = 1 };
	sbx_runtime r;

	CHECK_INT(sbx_runtime_create(svc, &o, &r, NULL), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "python3-pip");
	o = (sbx_runtime_create_opts){ .name = "sbxtest-npm", .base_runtime = "node-minimal",
	    .npm_packages = npm, .n_npm_packages = 1 };
	CHECK_INT(sbx_runtime_create(svc, &o, &r, NULL), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "add npm to os_packages");
}

static sbx_err
create_jq(sbx_runtime *r, char **log)
{
	const char *pkgs[] = { "jq" }, *setup[] = { jq_run_tag };
	sbx_label env[] = { { "SBX_TEST_ENV", "from-runtime" } };
	sbx_runtime_create_opts o = { .name = "sbxtest-jq", .base_runtime = "python-minimal",
	    .os_packages = pkgs, .n_os_packages = 1, .setup_commands = setup,
	    .n_setup_commands = 1, .env = env, .n_env = 1 };

	return sbx_runtime_create(svc, &o, r, log);
}

TEST(custom_runtime_builds_and_runs)
{
	sbx_runtime r;
	sbx_session s;
	char *log = NULL;
	const char *out;
	int code;

	REQUIRE_INT(create_jq(&r, &log), SBX_OK);
	snprintf(jq_image, sizeof(jq_image), "%s", r.image);
	CHECK(strncmp(r.image, "sbx/custom-sbxtest-jq:", 22) == 0);
	CHECK(r.ready);
	CHECK_CONTAINS(log ? log : "", "apt-get install -y --no-install-recommends jq");
	sbx_free(log);
	sbx_runtime_fini(&r);
	REQUIRE(session_in("sbxtest-jq", "jq-user", &s));
	out = run(s.session_id, "jq --version && id -u && echo $SBX_TEST_ENV && pwd", &code);
	CHECK_INT(code, 0);
	CHECK_CONTAINS(out, "jq-1.6");
	CHECK_CONTAINS(out, "\n1000\nfrom-runtime\n/workspace\n");
	sbx_session_end(svc, s.session_id, 1);
	sbx_session_fini(&s);
}

TEST(identical_definition_is_cached)
{
	sbx_runtime r;
	char *log = NULL;

	REQUIRE_INT(create_jq(&r, &log), SBX_OK);
	CHECK_STR(r.image, jq_image);
	CHECK_CONTAINS(log ? log : "", "cached");
	sbx_free(log);
	sbx_runtime_fini(&r);
}

TEST(same_name_other_definition_already_exists)
{
	expect_create("sbxtest-jq", "python-minimal", "curl", SBX_ALREADY_EXISTS,
	    "different definition");
}

TEST(custom_runtime_survives_restart)
{
	sbx_runtime r;
	int found = 0;
	sbx_runtime *v = NULL;
	size_t n = 0;

	sbx_client_close(svc);
	CHECK_INT(harness_stop(&d, SIGTERM), 0);
	REQUIRE_INT(harness_restart(&d), 0);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	REQUIRE_INT(sbx_runtime_get(svc, "sbxtest-jq", &r), SBX_OK);
	CHECK_STR(r.image, jq_image);
	CHECK(r.ready);
	CHECK_CONTAINS(r.packages[0], "jq");
	sbx_runtime_fini(&r);
	REQUIRE_INT(sbx_runtime_list(svc, &v, &n), SBX_OK);
	for (size_t i = 0; i < n; i++)
		found += strcmp(v[i].name, "sbxtest-jq") == 0;
	CHECK_INT(found, 1);
	sbx_runtime_list_free(v, n);
}

static void
remove_image(const char *image)
{
	struct driver *drv;
	struct err e;

	if (*image == '\0' || docker_driver_new("/var/run/docker.sock", &drv, &e) != SBXD_OK)
		return;
	if (drv->ops->image_remove(drv, image, &e) != SBXD_OK)
		fprintf(stderr, "  removing %s: %s\n", image, e.msg);
	drv->ops->free(drv);
}

int
main(void)
{
	if (!harness_image_ready())
		return 1;
	snprintf(jq_run_tag, sizeof(jq_run_tag), "true run-%d", (int)getpid());
	if (harness_start(&d, NULL) != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(list_shows_the_builtins_ready);
	RUN(get_runtime_reports_defaults_and_packages);
	RUN(unknown_runtime_session_is_not_found);
	RUN(datascience_fits_iris_and_draws_a_png);
	RUN(node_minimal_runs_a_script);
	RUN(node_react_has_tsc_and_react);
	RUN(python_web_serves_fastapi_in_the_background);
	RUN(runtime_default_exec_timeout_applies);
	RUN(bad_definitions_are_refused);
	RUN(missing_package_fails_with_apts_message);
	RUN(failing_setup_command_leaves_nothing);
	RUN(pip_and_npm_need_their_tools);
	RUN(pip_needs_a_reachable_registry);
	RUN(custom_runtime_builds_and_runs);
	if (jq_image[0] != '\0') {
		RUN(identical_definition_is_cached);
		RUN(same_name_other_definition_already_exists);
		RUN(custom_runtime_survives_restart);
	}
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	remove_image(jq_image);
	remove_image(pip_image);
	T_DONE();
}
