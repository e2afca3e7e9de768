/*
 * test_e2e.c — the whole path, for real: a real sbxd over real nng sockets,
 * real containers on the real Docker engine, a real SQLite file. Two users
 * get sessions, run Python, write and read files, and cannot see each
 * other's files or processes; the containers are hardened; a command that
 * hangs is killed with its children; a flood of output comes back bounded;
 * sessions survive sbxd restarts (SIGTERM and SIGKILL); ending keeps the
 * workspace for the user's next session.
 *
 * Under gVisor (SBX_TEST_ISOLATION=gvisor) the same properties are asserted
 * where gVisor's kernel shows them differently: the limits from the host's
 * cgroup of the container (gVisor shows no cgroup files), NoNewPrivs by
 * asking prctl, read-only mounts by their options and a refused write
 * (gVisor checks permission before the mount's read-only flag). File
 * owners and modes are read with find, not stat: this runsc fails coreutils'
 * statx (isolation.h).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"
#include "harness.h"
#include "t.h"

static struct sbxd_proc d;
static int gvisor;   /* SBX_TEST_ISOLATION=gvisor */
static sbx_client *svc;
static sbx_session alice, bob;
static char *alice_token, *bob_token;

/* Runs cmd in a session; returns its stdout (static, overwritten by the next call). */
static const char *
run(sbx_client *c, const char *sid, const char *cmd, int *exit_code)
{
	static char out[65536];

	(void)harness_exec_out(c, sid, cmd, 60000, out, sizeof(out), exit_code);
	return out;
}

/* The first line of file in the host's cgroup of container cid: under
 * v1 controller ctrl's (file1), under v2 the unified one's (file2); ""
 * when unreadable. What the host kernel holds the container to, whichever
 * kernel serves its system calls. Static, overwritten by the next call. */
static const char *
host_cgroup(const char *cid, const char *ctrl, const char *file1, const char *file2)
{
	static char out[128];
	char cmd[256], path[1200], line[1024], *ctrls, *rel;
	size_t cl = strlen(ctrl);
	int v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
	FILE *f;

	out[0] = '\0';
	snprintf(cmd, sizeof(cmd), "docker inspect -f '{{.State.Pid}}' %s", cid);
	snprintf(path, sizeof(path), "/proc/%s/cgroup", harness_host_line(cmd));
	if ((f = fopen(path, "r")) == NULL)
		return out;
	path[0] = '\0';
	while (path[0] == '\0' && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* "N:controllers:path"; v2's single line is "0::path" */
		if ((ctrls = strchr(line, ':')) == NULL || (rel = strchr(++ctrls, ':')) == NULL)
			continue;
		*rel++ = '\0';
		if (v2 && ctrls[0] == '\0')
			snprintf(path, sizeof(path), "/sys/fs/cgroup%s/%s", rel, file2);
		for (char *c = ctrls; !v2 && (c = strstr(c, ctrl)) != NULL; c += cl)
			if ((c == ctrls || c[-1] == ',') && (c[cl] == '\0' || c[cl] == ','))
				snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s/%s", ctrls, rel,
				    file1);
	}
	fclose(f);
	if (path[0] != '\0' && (f = fopen(path, "r")) != NULL) {
		if (fgets(out, sizeof(out), f) == NULL)
			out[0] = '\0';
		out[strcspn(out, "\n")] = '\0';
		fclose(f);
	}
	return out;
}

/* The swap container cid may use, from its host cgroup: swap.max (v2),
 * or memory+swap less memory (v1); "" when unreadable. */
static const char *
host_swap(const char *cid)
{
	static char out[32];
	long long memsw, mem;

	snprintf(out, sizeof(out), "%s", host_cgroup(cid, "memory", "memory.memsw.limit_in_bytes",
	    "memory.swap.max"));
	if (out[0] == '\0' || access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
		return out;   /* v2, or unreadable */
	memsw = atoll(out);
	mem = atoll(host_cgroup(cid, "memory", "memory.limit_in_bytes", "memory.max"));
	snprintf(out, sizeof(out), "%lld", memsw - mem);
	return out;
}

TEST(create_two_sessions)
{
	sbx_session_create_opts o = { .user_id = "alice" };

	REQUIRE_INT(sbx_session_create(svc, &o, &alice, &alice_token), SBX_OK);
	o.user_id = "bob";
	REQUIRE_INT(sbx_session_create(svc, &o, &bob, &bob_token), SBX_OK);
	CHECK_INT(alice.state, SBX_SESSION_RUNNING);
	CHECK(alice.container_id[0] != '\0');
	CHECK(strcmp(alice.session_id, bob.session_id) != 0);
	CHECK(strncmp(alice_token, "sbxt_", 5) == 0);
	CHECK_CONTAINS(alice.workspace_path, "/alice/workspace");
	CHECK_STR(alice.runtime, "python-minimal");
}

TEST(python_runs_and_streams_are_separate)
{
	sbx_exec_opts o = { .command = "python3 -c 'import sys; print(6*7); print(\"oops\", file=sys.stderr); sys.exit(3)'" };
	sbx_exec_result r;
	int code;

	REQUIRE_INT(sbx_exec(svc, alice.session_id, &o, &r), SBX_OK);
	CHECK_INT(r.exit_code, 3);
	CHECK_STR((char *)r.out.data, "42\n");
	CHECK_STR((char *)r.err.data, "oops\n");
	CHECK_INT(r.output.len, 8);
	CHECK(!r.truncated && !r.timed_out);
	sbx_exec_result_fini(&r);
	CHECK_STR(run(svc, bob.session_id, "pwd; echo $HOME", &code), "/workspace\n/home/sandbox\n");
	CHECK_INT(code, 0);
}

TEST(exec_env_and_cwd)
{
	const char *env[] = { "GREETING=hello world", "N=7" };
	sbx_exec_opts o = { .command = "mkdir -p sub && cd . && echo \"$GREETING $N $(pwd)\"",
	    .env = env, .n_env = 2 };
	sbx_exec_result r;

	REQUIRE_INT(sbx_exec(svc, alice.session_id, &o, &r), SBX_OK);
	CHECK_STR((char *)r.out.data, "hello world 7 /workspace\n");
	sbx_exec_result_fini(&r);
	o.command = "pwd";
	o.cwd = "sub";
	o.env = NULL;
	o.n_env = 0;
	REQUIRE_INT(sbx_exec(svc, alice.session_id, &o, &r), SBX_OK);
	CHECK_STR((char *)r.out.data, "/workspace/sub\n");
	sbx_exec_result_fini(&r);
}

TEST(files_round_trip_exactly)
{
	static const char bin[] = "line1\r\nline2\0binary\xff\xfe";
	char *text = NULL;
	void *data = NULL;
	size_t len = 0;
	int code;

	REQUIRE_INT(sbx_write(svc, alice.session_id, "/workspace/secret.txt", "alice's secret\nsecond line\n", 27, 0), SBX_OK);
	REQUIRE_INT(sbx_read(svc, alice.session_id, "secret.txt", 0, 0, &text), SBX_OK);
	CHECK_STR(text, "     1\talice's secret\n     2\tsecond line");
	sbx_free(text);
	REQUIRE_INT(sbx_write(svc, alice.session_id, "deep/er/bin.dat", bin, sizeof(bin) - 1, 0), SBX_OK);
	REQUIRE_INT(sbx_read_bytes(svc, alice.session_id, "deep/er/bin.dat", 0, 0, &data, &len), SBX_OK);
	CHECK_INT(len, sizeof(bin) - 1);
	CHECK(data && memcmp(data, bin, sizeof(bin) - 1) == 0);
	sbx_free(data);
	CHECK_INT(sbx_read(svc, alice.session_id, "deep/er/bin.dat", 0, 0, &text), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "ReadBytes");
	REQUIRE_INT(sbx_write(svc, alice.session_id, "secret.txt", "third\n", 6, 1), SBX_OK);
	/* The sandbox sees sbxd's files as its own, and can change them. */
	CHECK_STR(run(svc, alice.session_id, "find secret.txt deep/er -maxdepth 0 -printf '%U:%G\\n'; tail -n1 secret.txt; echo more >> secret.txt && echo appended", &code),
	    "1000:1000\n1000:1000\nthird\nappended\n");
	/* And sbxd sees the sandbox's files. */
	run(svc, alice.session_id, "printf 'a\\nb\\nc\\nd\\n' > made-inside.txt", &code);
	REQUIRE_INT(sbx_read(svc, alice.session_id, "made-inside.txt", 1, 2, &text), SBX_OK);
	CHECK_STR(text, "     2\tb\n     3\tc\n\n... (1 more lines)");
	sbx_free(text);
	CHECK_INT(sbx_read(svc, alice.session_id, "made-inside.txt", 9, 0, &text), SBX_OUT_OF_RANGE);
	CHECK_CONTAINS(sbx_last_error(svc), "Offset 9 exceeds file length (4 lines)");
	CHECK_INT(sbx_read(svc, alice.session_id, "nope.txt", 0, 0, &text), SBX_NOT_FOUND);
	CHECK_INT(sbx_read(svc, alice.session_id, "deep", 0, 0, &text), SBX_FAILED_PRECONDITION);
	CHECK_CONTAINS(sbx_last_error(svc), "is a directory");
}

TEST(users_are_isolated)
{
	sbx_client *as_bob = harness_client(&d, bob_token);
	void *data = NULL;
	size_t len;
	int code;

	REQUIRE(as_bob != NULL);
	/* Files: bob's workspace is his own, alice's is not reachable. */
	CHECK_STR(run(svc, bob.session_id, "ls -A /workspace | wc -l", &code), "0\n");
	run(svc, bob.session_id, "cat /workspace/secret.txt", &code);
	CHECK(code != 0);
	CHECK_INT(sbx_read_bytes(svc, bob.session_id, "secret.txt", 0, 0, &data, &len), SBX_NOT_FOUND);
	CHECK_INT(sbx_read_bytes(svc, bob.session_id, "../alice/workspace/secret.txt", 0, 0, &data, &len), SBX_NOT_FOUND);
	CHECK_STR(run(svc, bob.session_id, "cat /proc/mounts | grep -c alice", &code), "0\n");
	/* Credentials: bob's token reaches bob's session only. */
	CHECK_INT(sbx_read_bytes(as_bob, alice.session_id, "secret.txt", 0, 0, &data, &len), SBX_PERMISSION_DENIED);
	CHECK_INT(sbx_read_bytes(as_bob, bob.session_id, "nope", 0, 0, &data, &len), SBX_NOT_FOUND);
	/* Processes: a process alice leaves running is invisible to bob. */
	run(svc, alice.session_id, "nohup sleep 321 >/dev/null 2>&1 &", &code);
	CHECK_STR(run(svc, alice.session_id, "cat /proc/[0-9]*/cmdline | tr '\\0' ' ' | grep -c '[s]leep 321'", &code), "1\n");
	CHECK_STR(run(svc, bob.session_id, "cat /proc/[0-9]*/cmdline | tr '\\0' ' ' | grep -c '[s]leep 321'", &code), "0\n");
	sbx_client_close(as_bob);
}

TEST(containers_are_hardened)
{
	int code;

	CHECK_STR(run(svc, alice.session_id, "id -u", &code), "1000\n");
	/* gVisor's status shows no NoNewPrivs line: prctl(PR_GET_NO_NEW_PRIVS) */
	CHECK_STR(run(svc, alice.session_id, gvisor ?
	    "grep -E '^(CapEff|CapBnd)' /proc/self/status | tr -s '\\t' ' '; python3 -c "
	    "'import ctypes; print(\"NoNewPrivs:\", ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))'" :
	    "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status | tr -s '\\t' ' '", &code),
	    "CapEff: 0000000000000000\nCapBnd: 0000000000000000\nNoNewPrivs: 1\n");
	CHECK_STR(run(svc, alice.session_id, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '", &code), "lo\n");
	if (gvisor) {
		/* gVisor's kernel shows no cgroup files: the host's cgroup of the
		 * container, which holds the whole sandbox (isolation.h) */
		CHECK_STR(host_cgroup(alice.container_id, "pids", "pids.max", "pids.max"), "512");
		CHECK_STR(host_cgroup(alice.container_id, "memory", "memory.limit_in_bytes",
		    "memory.max"), "1073741824");
		CHECK_STR(host_swap(alice.container_id), "0");
	} else {
		/* cgroup v2 or v1, whichever the host runs. */
		CHECK_STR(run(svc, alice.session_id, "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max", &code), "512\n");
		CHECK_STR(run(svc, alice.session_id, "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes", &code), "1073741824\n");
		/* No swap: memory+swap equals memory (v1), or swap.max is 0 (v2). A
		 * kernel without swap accounting cannot show it; say so, don't pass. */
		CHECK_STR(run(svc, alice.session_id,
		    "if [ -f /sys/fs/cgroup/memory.swap.max ]; then cat /sys/fs/cgroup/memory.swap.max;"
		    " elif [ -f /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ]; then"
		    " expr $(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes) - $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes);"
		    " else echo no-swap-accounting; fi", &code), "0\n");
	}
	/* the init reaps orphans; under it the agent (read-only, as the
	 * sandbox user) or, with the agent off, the image's sleep */
	if (harness_agent_conf()[0] != '\0')
		CHECK_STR(run(svc, alice.session_id, "cat /proc/1/cmdline | tr '\\0' ' '", &code),
		    "/sbin/docker-init -- sleep infinity ");
	else {
		CHECK_CONTAINS(run(svc, alice.session_id, "cat /proc/1/cmdline | tr '\\0' ' '",
		    &code), "/sbin/docker-init -- /.sbx/agent/sbx-agent --supervise ");
		/* gVisor refuses the write for want of permission first: the
		 * mount's read-only flag is read from its options */
		if (gvisor)
			CHECK_STR(run(svc, alice.session_id, "awk '$2 == \"/.sbx/agent\" { split($4,"
			    " o, \",\"); print o[1] }' /proc/mounts; touch /.sbx/agent/x 2>/dev/null"
			    " || echo refused", &code), "ro\nrefused\n");
		else
			CHECK_STR(run(svc, alice.session_id, "touch /.sbx/agent/x 2>&1 >/dev/null | "
			    "grep -c 'Read-only file system'", &code), "1\n");
		CHECK_STR(run(svc, alice.session_id, "for p in /proc/[0-9]*; do case "
		    "$(tr '\\0' ' ' < $p/cmdline 2>/dev/null) in *sbx-agent*) awk '/^Uid:/ "
		    "{ print $2 }' $p/status; break;; esac; done", &code), "1000\n");
	}
	/* a read-only root (pooled alice and cold bob alike); sized tmpfs
	 * for /tmp (sticky, everyone's) and the home (the sandbox user's),
	 * noexec not among their options. gVisor refuses a write to the root
	 * for want of permission before its read-only flag, and shows the
	 * tmpfs without nosuid and nodev (isolation.h: nodev does not hold
	 * there, though its devices are its own); the engine is asked for
	 * them, and a device node made in /tmp must not reach the host's
	 * memory either way. */
	for (int i = 0; i < 2; i++) {
		const char *sid = i == 0 ? alice.session_id : bob.session_id;
		const char *why = gvisor ? "Permission denied" : "Read-only file system";
		char want[256];

		snprintf(want, sizeof(want), "touch: cannot touch '/etc/x': %s\n"
		    "touch: cannot touch '/x': %s\n", why, why);
		CHECK_STR(run(svc, sid, "touch /etc/x /x 2>&1", &code), want);
		CHECK_STR(run(svc, sid, "awk '$2 == \"/\" { split($4, o, \",\"); print o[1] }' "
		    "/proc/mounts", &code), "ro\n");
		CHECK_STR(run(svc, sid, "for m in /tmp $HOME; do awk -v m=$m '$2 == m { s = $3;"
		    " n = split($4, o, \",\"); for (i = 1; i <= n; i++) if (o[i] ~ "
		    "/^(size=|nosuid|nodev|noexec)/) s = s \" \" o[i]; print m, s }' "
		    "/proc/mounts; done; find /tmp $HOME -maxdepth 0 -printf '%m %U:%G\\n'", &code),
		    gvisor ? "/tmp tmpfs size=64m\n/home/sandbox tmpfs size=64m\n"
		    "1777 0:0\n755 1000:1000\n" :
		    "/tmp tmpfs nosuid nodev size=65536k\n"
		    "/home/sandbox tmpfs nosuid nodev size=65536k\n"
		    "1777 0:0\n755 1000:1000\n");
		if (gvisor) {
			char cmd[300];

			snprintf(cmd, sizeof(cmd), "docker inspect -f '{{json .HostConfig.Tmpfs}}' %s"
			    " | grep -o nosuid,nodev | wc -l", i == 0 ? alice.container_id :
			    bob.container_id);
			CHECK_STR(harness_host_line(cmd), "2");
		}
		CHECK_STR(run(svc, sid, "mknod /tmp/mem c 1 1 2>/dev/null; head -c1 /tmp/mem "
		    ">/dev/null 2>&1 && echo read || echo refused; rm -f /tmp/mem", &code),
		    "refused\n");
		CHECK_STR(run(svc, sid, "mkdir -p ~/.cache/pip && echo hi > ~/.cache/pip/x && "
		    "cat ~/.cache/pip/x && cp /bin/true /tmp/t && /tmp/t && echo ran", &code),
		    "hi\nran\n");
	}
	/* files outside /workspace: the home and /tmp take writes, the
	 * root refuses them, with the agent or without (sbxd then writes
	 * a tmpfs file as the sandbox user, by a command) */
	CHECK_INT(sbx_write(svc, alice.session_id, "/home/sandbox/.config/x.toml", "k = 1\n", 6,
	    0), SBX_OK);
	CHECK_INT(sbx_write(svc, alice.session_id, "/home/sandbox/.config/x.toml", "j = 2\n", 6,
	    1), SBX_OK);
	CHECK_STR(run(svc, alice.session_id, "cat ~/.config/x.toml; find ~/.config/x.toml "
	    "-printf '%U %m\\n'", &code), "k = 1\nj = 2\n1000 644\n");
	CHECK_INT(sbx_write(svc, alice.session_id, "/opt/x", "x", 1, 0), SBX_PERMISSION_DENIED);
	CHECK_INT(sbx_write(svc, alice.session_id, "/etc/passwd", "x", 1, 0),
	    SBX_PERMISSION_DENIED);
}

/* A runtime line's writable_rootfs keeps the image's root writable and
 * its home as built (no home tmpfs); /tmp is still the sized tmpfs. */
TEST(runtime_can_keep_a_writable_root)
{
	sbx_session_create_opts o = { .user_id = "dave", .runtime = "python-rw" };
	sbx_session s;
	int code;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	CHECK_STR(run(svc, s.session_id, "awk '$2 == \"/\" { split($4, o, \",\"); print o[1] }'"
	    " /proc/mounts; awk '$2 == \"/tmp\" { print $3 }' /proc/mounts;"
	    " grep -c \" $HOME \" /proc/mounts; find $HOME -maxdepth 1 -name .bashrc | wc -l;"
	    " touch $HOME/x && echo home-ok; touch /etc/x 2>&1", &code),
	    "rw\ntmpfs\n0\n1\nhome-ok\ntouch: cannot touch '/etc/x': Permission denied\n");
	CHECK_INT(sbx_write(svc, s.session_id, "/home/sandbox/y", "y", 1, 0), SBX_OK);
	CHECK_INT(sbx_session_end(svc, s.session_id, 1), SBX_OK);
	sbx_session_fini(&s);
}

TEST(timeout_kills_the_tree)
{
	/* The timeout counts from before the exec is created: long enough for
	 * the first line on a loaded machine, far shorter than the sleeps. */
	sbx_exec_opts o = { .command = "echo started; sleep 1000 & sleep 1000 & (sleep 1000 &) ; sleep 1000", .timeout_ms = 10000 };
	sbx_exec_result r;
	int code;

	REQUIRE_INT(sbx_exec(svc, bob.session_id, &o, &r), SBX_OK);
	CHECK(r.timed_out);
	CHECK_INT(r.exit_code, 124);
	CHECK_STR((char *)r.out.data, "started\n");  /* partial output kept */
	sbx_exec_result_fini(&r);
	/* gone when the timeout is reported, not some time after */
	CHECK_STR(run(svc, bob.session_id, "cat /proc/[0-9]*/cmdline | tr '\\0' ' ' | grep -c '[s]leep 1000'", &code), "0\n");
}

TEST(flood_is_bounded)
{
	sbx_exec_opts o = { .command = "head -c 100000000 /dev/zero | tr '\\0' x; echo done >&2" };
	sbx_exec_result r;

	REQUIRE_INT(sbx_exec(svc, bob.session_id, &o, &r), SBX_OK);
	CHECK(r.truncated);
	CHECK_INT(r.out.len, 100000);
	CHECK_STR((char *)r.err.data, "done\n");
	CHECK_INT(r.exit_code, 0);
	sbx_exec_result_fini(&r);
}

static void *
goc_thread(void *arg)
{
	sbx_session_create_opts o = { .user_id = "carol" };
	sbx_session *s = arg;
	sbx_client *c = harness_client(&d, NULL);

	if (c == NULL || sbx_session_get_or_create(c, &o, s, NULL, NULL) != SBX_OK)
		fprintf(stderr, "  get_or_create: %s\n", c ? sbx_last_error(c) : "no client");
	sbx_client_close(c);
	return NULL;
}

TEST(get_or_create_gives_one_session)
{
	pthread_t t[4];
	sbx_session s[4];

	memset(s, 0, sizeof(s));
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, goc_thread, &s[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++) {
		REQUIRE(s[i].session_id != NULL);
		CHECK_STR(s[i].session_id, s[0].session_id);
	}
	CHECK_INT(sbx_session_end(svc, s[0].session_id, 1), SBX_OK);
	for (int i = 0; i < 4; i++)
		sbx_session_fini(&s[i]);
}

static volatile int slow_done;

static void *
slow_exec(void *arg)
{
	sbx_client *c = harness_client(&d, NULL);
	int code;

	(void)arg;
	run(c, bob.session_id, "touch slow-started; while [ ! -e slow-release ]; do sleep 0.05; done", &code);
	slow_done = 1;
	sbx_client_close(c);
	return NULL;
}

/* A slow command holds one worker; other clients' calls go on meanwhile.
 * The command runs until the test releases it, so "meanwhile" holds
 * however slow the machine is. */
TEST(slow_call_does_not_block_others)
{
	pthread_t t;
	sbx_session got;
	void *data = NULL;
	size_t len;
	int served = 0, started = 0;

	slow_done = 0;
	pthread_create(&t, NULL, slow_exec, NULL);
	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS; !started && harness_now_ms() < end;) {
		if ((started = sbx_read_bytes(svc, bob.session_id, "slow-started", 0, 0, &data, &len) == SBX_OK))
			sbx_free(data);
		else
			usleep(50000);
	}
	CHECK(started);
	for (int i = 0; i < 20; i++) {
		if (sbx_session_get(svc, alice.session_id, &got) == SBX_OK)
			served++;
		sbx_session_fini(&got);
	}
	CHECK_INT(served, 20);
	CHECK(!slow_done);   /* all 20 answered while the command still ran */
	CHECK_INT(sbx_write(svc, bob.session_id, "slow-release", "", 0, 0), SBX_OK);
	pthread_join(t, NULL);
	CHECK(slow_done);
}

TEST(list_and_get)
{
	sbx_session_list_opts lo = { .user_id = "alice" };
	sbx_session *list = NULL, got;
	size_t n = 0;

	REQUIRE_INT(sbx_session_list(svc, &lo, &list, &n, NULL), SBX_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(list[0].session_id, alice.session_id);
	sbx_session_list_free(list, n);
	REQUIRE_INT(sbx_session_get(svc, bob.session_id, &got), SBX_OK);
	CHECK_STR(got.user_id, "bob");
	CHECK(got.last_active_unix_ms >= got.created_unix_ms);
	sbx_session_fini(&got);
	CHECK_INT(sbx_session_get(svc, "s-00000000000000000000000000000000", &got), SBX_NOT_FOUND);
}

static void
survives(int sig)
{
	sbx_session got;
	int code;

	sbx_client_close(svc);
	harness_stop(&d, sig);
	REQUIRE_INT(harness_restart(&d), 0);
	REQUIRE((svc = harness_client(&d, NULL)) != NULL);
	REQUIRE_INT(sbx_session_get(svc, alice.session_id, &got), SBX_OK);
	CHECK_INT(got.state, SBX_SESSION_RUNNING);
	CHECK_STR(got.container_id, alice.container_id);
	sbx_session_fini(&got);
	CHECK_STR(run(svc, alice.session_id, "head -n1 secret.txt", &code), "alice's secret\n");
}

TEST(survives_sigterm_restart) { survives(SIGTERM); }
TEST(survives_sigkill_restart) { survives(SIGKILL); }

TEST(end_keeps_the_workspace)
{
	sbx_session_create_opts o = { .user_id = "alice" };
	sbx_session again, got;
	struct driver *drv;
	struct driver_container_info info;
	struct err e;
	char path[1200];
	struct stat st;
	int code;

	REQUIRE_INT(sbx_session_end(svc, alice.session_id, 0), SBX_OK);
	REQUIRE_INT(sbx_session_get(svc, alice.session_id, &got), SBX_OK);
	CHECK_INT(got.state, SBX_SESSION_ENDED);
	sbx_session_fini(&got);
	REQUIRE_INT(docker_driver_new("/var/run/docker.sock", &drv, &e), SBXD_OK);
	CHECK_INT(drv->ops->inspect(drv, alice.container_id, &info, &e), SBXD_NOT_FOUND);
	drv->ops->free(drv);
	snprintf(path, sizeof(path), "%s/secret.txt", alice.workspace_path);
	CHECK(stat(path, &st) == 0);
	run(svc, alice.session_id, "true", &code);
	CHECK_INT(code, -1);
	CHECK_CONTAINS(sbx_last_error(svc), "has ended");
	CHECK_INT(sbx_session_end(svc, alice.session_id, 0), SBX_OK);   /* idempotent */
	/* Alice comes back: a new session, the same files. */
	REQUIRE_INT(sbx_session_create(svc, &o, &again, NULL), SBX_OK);
	CHECK_STR(run(svc, again.session_id, "head -n1 /workspace/secret.txt", &code), "alice's secret\n");
	CHECK_INT(sbx_session_end(svc, again.session_id, 1), SBX_OK);
	CHECK(stat(path, &st) != 0);   /* purged */
	sbx_session_fini(&again);
}

int
main(void)
{
	if (!harness_image_ready())
		return 1;
	gvisor = harness_isolation_conf()[0] != '\0';
	if (harness_start(&d, "runtime = python-rw sbx/python-minimal:latest writable_rootfs\n") != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	RUN(create_two_sessions);
	if (t_failures == 0) {
		RUN(python_runs_and_streams_are_separate);
		RUN(exec_env_and_cwd);
		RUN(files_round_trip_exactly);
		RUN(users_are_isolated);
		RUN(containers_are_hardened);
		RUN(runtime_can_keep_a_writable_root);
		RUN(timeout_kills_the_tree);
		RUN(flood_is_bounded);
		RUN(get_or_create_gives_one_session);
		RUN(slow_call_does_not_block_others);
		RUN(list_and_get);
		RUN(survives_sigterm_restart);
		RUN(survives_sigkill_restart);
		RUN(end_keeps_the_workspace);
	}
	sbx_session_end(svc, bob.session_id, 1);
	sbx_client_close(svc);
	CHECK(harness_finish(&d, t_failures));
	sbx_session_fini(&alice);
	sbx_session_fini(&bob);
	sbx_free(alice_token);
	sbx_free(bob_token);
	T_DONE();
}
