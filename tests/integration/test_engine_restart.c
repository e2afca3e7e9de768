/*
 * test_engine_restart.c — the Docker engine killed and started again under
 * load, against a real sbxd and a private engine this test starts itself
 * (its own containerd, run apart as a host's containerd service is, so
 * containers outlive the engine; its own socket and data root; vfs storage;
 * the busybox test image imported into it): the machine's engine is never
 * touched.
 *
 * Four clients write files and run commands in a session while the engine
 * is SIGKILLed and started again. During the outage a call that needs the
 * engine (CreateSession) is answered UNAVAILABLE naming the engine; no call
 * gets any answer but OK, UNAVAILABLE (the engine is away) or ABORTED (a
 * command whose container the restarted engine stopped). Afterwards the
 * same sbxd process (never restarted) runs commands in the session again,
 * creates a new session, and every write it acknowledged reads back intact.
 * With the in-sandbox agent (always on here: the busybox image has no
 * command of its own, and the agent is the container's) commands go on
 * through the outage, since the agent talks to sbxd, not to the engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define WRITERS 4
#define MAX_ACKS 4096

static struct sbxd_proc d;
static sbx_client *svc;
static char edir[128], esock[192], ebridge[16];
static pid_t engine = -1, ctd = -1;
static atomic_int stop_load, bad_codes;
static atomic_int n_ok, n_unavailable, n_aborted;

/* Forks argv (a NULL-terminated list) with its output appended to logf. */
static pid_t
spawn_logged(const char *logf, char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* A bridge device of the private engine's own. dockerd --bridge=none
 * deletes the machine's docker0 at start (moby removes the default
 * bridge interface when the bridge is disabled), which would cut every
 * bridged container of the machine's engine off; a named bridge of its
 * own leaves docker0 alone. 0 when made. */
static int
bridge_add(void)
{
	char cmd[128];

	snprintf(ebridge, sizeof(ebridge), "sbxe%d", (int)(getpid() % 100000));
	snprintf(cmd, sizeof(cmd), "ip link add %s type bridge && ip link set %s up", ebridge,
	    ebridge);
	return system(cmd) == 0 ? 0 : -1;
}

/* The private containerd, started once. */
static int
containerd_start(void)
{
	char addr[192], root[192], state[192], logf[192];
	char *argv[] = { "containerd", "--address", addr, "--root", root, "--state", state, NULL };

	snprintf(addr, sizeof(addr), "%s/containerd.sock", edir);
	snprintf(root, sizeof(root), "%s/containerd-root", edir);
	snprintf(state, sizeof(state), "%s/containerd-state", edir);
	snprintf(logf, sizeof(logf), "%s/containerd.log", edir);
	return (ctd = spawn_logged(logf, argv)) > 0 ? 0 : -1;
}

/* Starts the private dockerd; 0 once it answers. */
static int
engine_start(void)
{
	char data[192], exec_root[192], pidf[192], cfg[192], host[200], logf[192], cmd[400];
	char ctd_sock[192];
	uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	FILE *f;

	snprintf(data, sizeof(data), "%s/data", edir);
	snprintf(exec_root, sizeof(exec_root), "%s/exec", edir);
	snprintf(pidf, sizeof(pidf), "%s/docker.pid", edir);
	snprintf(cfg, sizeof(cfg), "%s/daemon.json", edir);
	snprintf(logf, sizeof(logf), "%s/dockerd.log", edir);
	snprintf(host, sizeof(host), "unix://%s", esock);
	snprintf(ctd_sock, sizeof(ctd_sock), "%s/containerd.sock", edir);
	if ((f = fopen(cfg, "w")) == NULL)
		return -1;
	fputs("{}\n", f);       /* not the machine's daemon.json */
	fclose(f);
	engine = spawn_logged(logf, (char *const[]){ "dockerd", "--config-file", cfg, "-H", host,
	    "--containerd", ctd_sock, "--data-root", data, "--exec-root", exec_root,
	    "--pidfile", pidf, "--iptables=false", "--bridge", ebridge, "--ip-forward=false",
	    "--ip-masq=false", "--storage-driver=vfs", NULL });
	if (engine < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "docker -H %s version >/dev/null 2>&1", host);
	while (harness_now_ms() < end) {
		if (system(cmd) == 0)
			return 0;
		if (waitpid(engine, NULL, WNOHANG) == engine) {
			fprintf(stderr, "  dockerd exited; its log ends:\n");
			snprintf(cmd, sizeof(cmd), "tail -n 5 '%s' >&2", logf);
			(void)!system(cmd);
			engine = -1;
			return -1;
		}
		usleep(100 * 1000);
	}
	return -1;
}

static void
engine_kill(int sig)
{
	if (engine <= 0)
		return;
	kill(engine, sig);
	(void)harness_reap(engine, "the private dockerd", NULL);
	engine = -1;
}

/* Unmounts what the engine left under edir, deepest first, and removes it. */
static void
engine_cleanup(void)
{
	char line[4096], mnt[512], cmd[256];
	int again = 1;

	engine_kill(SIGTERM);
	if (ctd > 0) {
		kill(ctd, SIGTERM);
		(void)harness_reap(ctd, "the private containerd", NULL);
	}
	snprintf(cmd, sizeof(cmd), "pkill -f 'containerd-shim.*%s' 2>/dev/null", edir);
	(void)!system(cmd);     /* shims of containers still running */
	for (int round = 0; again && round < 64; round++) {
		FILE *f = fopen("/proc/self/mountinfo", "r");

		again = 0;
		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1 &&
			    strncmp(mnt, edir, strlen(edir)) == 0 && umount2(mnt, MNT_DETACH) == 0)
				again = 1;
		if (f != NULL)
			fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", edir);
	(void)!system(cmd);
	if (ebridge[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "ip link del %s 2>/dev/null", ebridge);
		(void)!system(cmd);
	}
}

struct writer {
	int id;
	char sid[64];
	int acked;                  /* writes 0..acked-1 were acknowledged */
};

static void
count(sbx_err rv, const char *what, sbx_client *c)
{
	if (rv == SBX_OK)
		atomic_fetch_add(&n_ok, 1);
	else if (rv == SBX_UNAVAILABLE)
		atomic_fetch_add(&n_unavailable, 1);
	else if (rv == SBX_ABORTED)
		atomic_fetch_add(&n_aborted, 1);
	else {
		atomic_fetch_add(&bad_codes, 1);
		fprintf(stderr, "  %s: %s: %s\n", what, sbx_err_name(rv), sbx_last_error(c));
	}
}

static void *
load(void *arg)
{
	struct writer *w = arg;
	sbx_client *c = harness_client(&d, NULL);
	sbx_exec_opts o = { .command = "echo ok", .timeout_ms = 60000 };
	sbx_exec_result r;
	char path[64], body[64];

	if (c == NULL)
		return NULL;
	while (!atomic_load(&stop_load) && w->acked < MAX_ACKS) {
		snprintf(path, sizeof(path), "w%d/%d.txt", w->id, w->acked);
		snprintf(body, sizeof(body), "writer %d write %d\n", w->id, w->acked);
		if (sbx_write(c, w->sid, path, body, strlen(body), 0) == SBX_OK)
			w->acked++;
		count(sbx_exec(c, w->sid, &o, &r), "exec", c);
		sbx_exec_result_fini(&r);
	}
	sbx_client_close(c);
	return NULL;
}

/* Runs `echo ok` until it succeeds (the safety net bounds it). */
static int
exec_recovers(const char *sid)
{
	uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;

	while (harness_now_ms() < end) {
		if (harness_exec_status(svc, sid, "echo ok", 60000) == 0)
			return 1;
		usleep(200 * 1000);
	}
	return 0;
}

TEST(engine_killed_and_restarted_under_load)
{
	sbx_session_create_opts o = { .user_id = "engine-a" }, o2 = { .user_id = "engine-b" };
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	sbx_session s, s2;
	pid_t sbxd_pid = d.pid;
	int before;

	REQUIRE_INT(sbx_session_create(svc, &o, &s, NULL), SBX_OK);
	REQUIRE(exec_recovers(s.session_id));
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .id = i };
		snprintf(w[i].sid, sizeof(w[i].sid), "%s", s.session_id);
		REQUIRE_INT(pthread_create(&th[i], NULL, load, &w[i]), 0);
	}
	/* under load: at least a round of calls before the engine goes */
	while (atomic_load(&n_ok) < 2 * WRITERS)
		usleep(20 * 1000);
	engine_kill(SIGKILL);
	CHECK_INT(sbx_session_create(svc, &o2, &s2, NULL), SBX_UNAVAILABLE);
	CHECK_CONTAINS(sbx_last_error(svc), esock);
	before = atomic_load(&n_ok) + atomic_load(&n_unavailable) + atomic_load(&n_aborted);
	while (atomic_load(&n_ok) + atomic_load(&n_unavailable) + atomic_load(&n_aborted) <
	    before + 2 * WRITERS)
		usleep(20 * 1000);  /* the load goes on during the outage */
	REQUIRE_INT(engine_start(), 0);
	CHECK(exec_recovers(s.session_id));
	atomic_store(&stop_load, 1);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	CHECK_INT(atomic_load(&bad_codes), 0);
	CHECK_INT(d.pid, sbxd_pid);
	CHECK(kill(d.pid, 0) == 0);          /* the same sbxd, never restarted */
	CHECK_INT(sbx_session_create(svc, &o2, &s2, NULL), SBX_OK);
	if (s2.session_id != NULL) {
		CHECK_INT(harness_exec_status(svc, s2.session_id, "echo ok", 60000), 0);
		sbx_session_fini(&s2);
	}
	/* nothing acknowledged is lost */
	for (int i = 0; i < WRITERS; i++)
		for (int k = 0; k < w[i].acked; k++) {
			char path[64], want[64];
			void *data = NULL;
			size_t len = 0;

			snprintf(path, sizeof(path), "w%d/%d.txt", i, k);
			snprintf(want, sizeof(want), "writer %d write %d\n", i, k);
			if (sbx_read_bytes(svc, s.session_id, path, 0, 0, &data, &len) != SBX_OK ||
			    len != strlen(want) || memcmp(data, want, len) != 0) {
				CHECK(!"an acknowledged write was lost");
				fprintf(stderr, "  %s\n", path);
			}
			sbx_free(data);
		}
	printf("calls under load: %d OK, %d UNAVAILABLE, %d ABORTED; writes acknowledged: %d %d %d %d\n",
	    atomic_load(&n_ok), atomic_load(&n_unavailable), atomic_load(&n_aborted),
	    w[0].acked, w[1].acked, w[2].acked, w[3].acked);
	sbx_session_fini(&s);
}

int
main(void)
{
	char script[512], conf[512], *src = getenv("SBX_SOURCE_DIR");
	int rv;

	if (!harness_image_ready())
		return 1;
	unsetenv("SBX_TEST_AGENT");   /* see the top of this file */
	snprintf(edir, sizeof(edir), "/tmp/sbx-engine-%d", (int)getpid());
	snprintf(esock, sizeof(esock), "%s/docker.sock", edir);
	if (mkdir(edir, 0700) != 0 || bridge_add() != 0 || containerd_start() != 0 ||
	    engine_start() != 0) {
		fprintf(stderr, "FAIL: cannot start a private dockerd in %s\n", edir);
		engine_cleanup();
		return 1;
	}
	snprintf(script, sizeof(script), "SBX_DOCKER_SOCK=%s bash %s/deploy/images/test-busybox.sh",
	    esock, src != NULL ? src : ".");
	if (system(script) != 0) {
		fprintf(stderr, "FAIL: importing the busybox test image into the private engine\n");
		engine_cleanup();
		return 1;
	}
	snprintf(conf, sizeof(conf), "docker_socket = %s\nruntime = bb sbx/test-busybox:latest\n"
	    "default_runtime = bb\npool_size = 0\n", esock);
	if (harness_start(&d, conf) != 0 || (svc = harness_client(&d, NULL)) == NULL) {
		engine_cleanup();
		return 1;
	}
	RUN(engine_killed_and_restarted_under_load);
	sbx_client_close(svc);
	rv = harness_finish(&d, t_failures);
	engine_cleanup();
	CHECK(rv);
	T_DONE();
}
