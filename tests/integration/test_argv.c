/*
 * test_argv.c — commands given as argv, for real: a real sbxd, a real
 * container. Execute and StartProcess run argv's words exactly as given,
 * with no shell between (quotes, spaces, $, empty words and a lone word
 * holding spaces arrive untouched), keep env, cwd and stdin, and show the
 * words shell-quoted as the process's command; the server refuses both
 * command and argv, neither, an empty program and too many words; libsbx
 * refuses the same before a round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sbx/v1/sbx.pb-c.h"
#include "t.h"

#define EXECUTE "sbx.v1.SandboxService/Execute"
#define START_PROCESS "sbx.v1.SandboxService/StartProcess"

static struct sbxd_proc d;
static sbx_client *svc;
static sbx_session s;
static char *token;
static char last_err[4096];   /* the last run_argv's stderr */

/* Runs argv (n words) in the session; its exit code, stdout into out
 * (static, overwritten by the next call) and stderr into last_err, or -1
 * when the call fails. */
static int
run_argv(const char *const *argv, size_t n, const char **out)
{
	static char buf[65536];
	sbx_exec_opts o = { .argv = argv, .argc = n, .timeout_ms = 60000 };
	sbx_exec_result r;
	sbx_err rv;
	int code;

	buf[0] = last_err[0] = '\0';
	*out = buf;
	if ((rv = sbx_exec(svc, s.session_id, &o, &r)) != SBX_OK) {
		fprintf(stderr, "  exec %s: %s: %s\n", argv[0], sbx_err_name(rv),
		    sbx_last_error(svc));
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", (char *)r.out.data);
	snprintf(last_err, sizeof(last_err), "%s", (char *)r.err.data);
	code = r.exit_code;
	sbx_exec_result_fini(&r);
	return code;
}

/* An ExecuteRequest with command and argv as given, packed and sent raw
 * (past libsbx's own checks); the call's result. */
static sbx_err
raw_execute(const char *command, char **argv, size_t n)
{
	Sbx__V1__ExecuteRequest rq = SBX__V1__EXECUTE_REQUEST__INIT;
	uint8_t *buf;
	void *resp = NULL;
	size_t len, resp_len = 0;
	sbx_err rv;

	rq.session_id = s.session_id;
	rq.command = (char *)command;
	rq.argv = argv;
	rq.n_argv = n;
	len = sbx__v1__execute_request__get_packed_size(&rq);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return SBX_RESOURCE_EXHAUSTED;
	sbx__v1__execute_request__pack(&rq, buf);
	rv = sbx_call_raw(svc, EXECUTE, buf, len, &resp, &resp_len);
	free(buf);
	sbx_free(resp);
	return rv;
}

TEST(create_session)
{
	sbx_session_create_opts o = { .user_id = "argv-user" };

	REQUIRE_INT(sbx_session_create(svc, &o, &s, &token), SBX_OK);
}

TEST(words_run_exactly_as_given)
{
	const char *py[] = { "python3", "-c", "print(1+1)" };
	const char *pf[] = { "printf", "%s|", "a b", "c'd", "", "$HOME", "*", "x;y" };
	const char *sh[] = { "sh", "-c", "echo \"$0|$1\"", "zero one", "it's" };
	const char *out;

	CHECK_INT(run_argv(py, 3, &out), 0);
	CHECK_STR(out, "2\n");
	CHECK_INT(run_argv(pf, 8, &out), 0);
	CHECK_STR(out, "a b|c'd||$HOME|*|x;y|");
	CHECK_INT(run_argv(sh, 5, &out), 0);
	CHECK_STR(out, "zero one|it's\n");
}

TEST(a_lone_word_is_a_program_not_a_shell_line)
{
	const char *line[] = { "echo hi; echo there" };
	const char *missing[] = { "/no/such/program" };
	const char *out;
	int code;

	/* no shell splits it: there is no program of that name, and every
	 * route answers as a shell does: 127, the reason on stderr naming it */
	code = run_argv(line, 1, &out);
	CHECK_INT(code, 127);
	CHECK_STR(out, "");
	CHECK_CONTAINS(last_err, "echo hi; echo there");
	code = run_argv(missing, 1, &out);
	CHECK_INT(code, 127);
	CHECK_STR(out, "");
	CHECK_CONTAINS(last_err, "/no/such/program");
}

TEST(env_cwd_and_stdin_are_kept)
{
	const char *mk[] = { "mkdir", "-p", "sub dir" };
	const char *pwd[] = { "pwd" };
	const char *pwd_env[] = { "printenv", "PWD" };
	const char *env[] = { "GREETING=hello world" };
	const char *pe[] = { "printenv", "GREETING" };
	const char *cat[] = { "cat" };
	sbx_exec_opts o = { .argv = pwd, .argc = 1, .cwd = "sub dir" };
	sbx_exec_result r;
	const char *out;

	CHECK_INT(run_argv(mk, 3, &out), 0);
	REQUIRE_INT(sbx_exec(svc, s.session_id, &o, &r), SBX_OK);
	CHECK_STR((char *)r.out.data, "/workspace/sub dir\n");
	sbx_exec_result_fini(&r);
	/* PWD is exported as a shell would, though no shell runs the words */
	o.argv = pwd_env;
	o.argc = 2;
	REQUIRE_INT(sbx_exec(svc, s.session_id, &o, &r), SBX_OK);
	CHECK_STR((char *)r.out.data, "/workspace/sub dir\n");
	sbx_exec_result_fini(&r);
	o = (sbx_exec_opts){ .argv = pe, .argc = 2, .env = env, .n_env = 1 };
	REQUIRE_INT(sbx_exec(svc, s.session_id, &o, &r), SBX_OK);
	CHECK_STR((char *)r.out.data, "hello world\n");
	sbx_exec_result_fini(&r);
	o = (sbx_exec_opts){ .argv = cat, .argc = 1, .stdin_data = "in put", .stdin_len = 6 };
	REQUIRE_INT(sbx_exec(svc, s.session_id, &o, &r), SBX_OK);
	CHECK_STR((char *)r.out.data, "in put");
	sbx_exec_result_fini(&r);
}

TEST(a_process_runs_words_too)
{
	const char *argv[] = { "printf", "%s|", "x y", "it's" };
	sbx_process_opts o = { .argv = argv, .argc = 4 };
	sbx_process p;
	sbx_bytes out;
	int to = 1;

	REQUIRE_INT(sbx_process_start(svc, s.session_id, &o, &p), SBX_OK);
	CHECK_STR(p.command, "printf '%s|' 'x y' 'it'\\''s'");
	char id[SBX_PROCESS_ID_MAX];
	snprintf(id, sizeof(id), "%s", p.process_id);
	sbx_process_fini(&p);
	REQUIRE_INT(sbx_process_wait(svc, s.session_id, id, 0, &p, &to), SBX_OK);
	CHECK(!to);
	CHECK_INT(p.state, SBX_PROCESS_EXITED);
	CHECK_INT(p.exit_code, 0);
	sbx_process_fini(&p);
	REQUIRE_INT(sbx_process_read_output(svc, s.session_id, id, &out, NULL), SBX_OK);
	CHECK_STR((char *)out.data, "x y|it's|");
	sbx_free(out.data);
}

TEST(the_client_refuses_what_the_server_would)
{
	const char *ok[] = { "true" };
	const char *empty[] = { "" };
	const char *holes[] = { "echo", NULL };
	sbx_exec_opts o = { .command = "true", .argv = ok, .argc = 1 };
	sbx_process_opts po = { .command = "true", .argv = ok, .argc = 1 };
	sbx_exec_result r;
	sbx_process p;

	CHECK_INT(sbx_exec(svc, s.session_id, &o, &r), SBX_INVALID_ARGUMENT);
	CHECK_INT(sbx_process_start(svc, s.session_id, &po, &p), SBX_INVALID_ARGUMENT);
	o = (sbx_exec_opts){ .argv = empty, .argc = 1 };
	CHECK_INT(sbx_exec(svc, s.session_id, &o, &r), SBX_INVALID_ARGUMENT);
	o = (sbx_exec_opts){ .argv = holes, .argc = 2 };
	CHECK_INT(sbx_exec(svc, s.session_id, &o, &r), SBX_INVALID_ARGUMENT);
	o = (sbx_exec_opts){ .argv = NULL, .argc = 1 };
	CHECK_INT(sbx_exec(svc, s.session_id, &o, &r), SBX_INVALID_ARGUMENT);
	o = (sbx_exec_opts){ .timeout_ms = 1 };
	CHECK_INT(sbx_exec(svc, s.session_id, &o, &r), SBX_INVALID_ARGUMENT);
}

TEST(the_server_refuses_bad_argv)
{
	char *one[] = { "true" }, *empty[] = { "", "x" };
	enum { MANY = 4097 };
	char **many = calloc(MANY, sizeof(*many));
	char *big = malloc((1u << 20) + 2);
	/* words long enough that the payload's decoding budget covers them */
	char word[] = "0123456789012345678901234567890123456789012345678901234567890123";

	REQUIRE(many != NULL && big != NULL);
	CHECK_INT(raw_execute("true", one, 1), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "not both");
	CHECK_INT(raw_execute("", NULL, 0), SBX_INVALID_ARGUMENT);
	CHECK_INT(raw_execute("", empty, 2), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "first word");
	for (size_t i = 0; i < MANY; i++)
		many[i] = word;
	CHECK_INT(raw_execute("", many, MANY), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "words");
	memset(big, 'a', (1u << 20) + 1);
	big[(1u << 20) + 1] = '\0';
	many[0] = "echo";
	many[1] = big;
	CHECK_INT(raw_execute("", many, 2), SBX_INVALID_ARGUMENT);
	CHECK_CONTAINS(sbx_last_error(svc), "bytes");
	CHECK_INT(raw_execute("", one, 1), SBX_OK);   /* and a good one runs */
	free(many);
	free(big);
}

int
main(void)
{
	if (!harness_image_ready())
		return 1;
	if (harness_start(&d, "") != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(create_session);
	if (t_failures == 0) {
		RUN(words_run_exactly_as_given);
		RUN(a_lone_word_is_a_program_not_a_shell_line);
		RUN(env_cwd_and_stdin_are_kept);
		RUN(a_process_runs_words_too);
		RUN(the_client_refuses_what_the_server_would);
		RUN(the_server_refuses_bad_argv);
	}
	sbx_session_end(svc, s.session_id, 1);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	sbx_session_fini(&s);
	sbx_free(token);
	T_DONE();
}
