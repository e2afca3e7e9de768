/*
 * harness.c — real sbxd processes for integration tests (see harness.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "harness.h"
#include "server.h"

int
harness_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		abort();
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

void
harness_dump_log(struct sbxd_proc *p)
{
	char line[2048];
	FILE *f = fopen(p->log, "r");

	if (f == NULL)
		return;
	fprintf(stderr, "---- %s\n", p->log);
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	fprintf(stderr, "----\n");
	fclose(f);
}

static int
spawn(struct sbxd_proc *p)
{
	const char *bin = getenv("SBXD_BIN");
	int fd;

	if (bin == NULL) {
		fprintf(stderr, "SBXD_BIN is not set (run through ctest)\n");
		return -1;
	}
	if ((p->pid = fork()) == 0) {
		if ((fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execl(bin, "sbxd", "--config", p->conf, (char *)NULL);
		_exit(127);
	}
	return p->pid > 0 ? 0 : -1;
}

uint64_t
harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until sbxd answers an authenticated ListSessions (or exits). */
static int
wait_ready(struct sbxd_proc *p)
{
	sbx_client *c = harness_client(p, NULL);
	sbx_session *s = NULL;
	size_t n = 0;
	int status;

	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS; c != NULL && harness_now_ms() < end;) {
		if (sbx_session_list(c, NULL, &s, &n, NULL) == SBX_OK) {
			sbx_session_list_free(s, n);
			sbx_client_close(c);
			return 0;
		}
		if (waitpid(p->pid, &status, WNOHANG) == p->pid)
			break;
		usleep(50000);
	}
	sbx_client_close(c);
	fprintf(stderr, "sbxd did not come up on %s\n", p->endpoint);
	harness_dump_log(p);
	return -1;
}

const char *
harness_agent_conf(void)
{
	const char *v = getenv("SBX_TEST_AGENT");

	return v != NULL && strcmp(v, "off") == 0 ? "agent = no\n" : "";
}

const char *
harness_isolation_conf(void)
{
	const char *v = getenv("SBX_TEST_ISOLATION");

	return v != NULL && strcmp(v, "gvisor") == 0 ? "isolation = gvisor\n" : "";
}

int
harness_gvisor_ready(void)
{
	const char *src = getenv("SBX_SOURCE_DIR");
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "bash %s/deploy/gvisor.sh --check", src ? src : ".");
	return system(cmd) == 0;
}

/* ---- a test still running just before ctest's timeout (900 s, tests/
 * run.sh) says what it and its sbxd are doing, since ctest's kill leaves
 * only "Timeout". Diagnostic only: ctest's timeout still decides. */

#define HANG_REPORT_S 840

static void dump_threads(pid_t pid);
static struct sbxd_proc *hang_watched;   /* the sbxd started last */

static void *
hang_report(void *arg)
{
	struct timespec at = { .tv_sec = HANG_REPORT_S };
	struct sbxd_proc *p;

	(void)arg;
	while (nanosleep(&at, &at) != 0 && errno == EINTR)
		;
	fprintf(stderr, "\n== this test is still running after %d s; its threads:\n",
	    HANG_REPORT_S);
	dump_threads(getpid());
	if ((p = hang_watched) != NULL && p->pid > 0) {
		fprintf(stderr, "== its sbxd (pid %d), threads:\n", (int)p->pid);
		dump_threads(p->pid);
		harness_dump_log(p);
	}
	return NULL;
}

/* Called from a test's main thread with each sbxd it starts. */
static void
hang_report_arm(struct sbxd_proc *p)
{
	static int armed;
	pthread_t th;

	hang_watched = p;
	if (!armed && pthread_create(&th, NULL, hang_report, NULL) == 0) {
		pthread_detach(th);
		armed = 1;
	}
}

static int
start(struct sbxd_proc *p, const char *extra_conf, int tls)
{
	char cmd[1024], tlsconf[600] = "";
	FILE *f;

	memset(p, 0, sizeof(*p));
	hang_report_arm(p);
	if (harness_isolation_conf()[0] != '\0' && !harness_gvisor_ready()) {
		fprintf(stderr, "SKIP: SBX_TEST_ISOLATION=gvisor but the Docker engine has no "
		    "runsc runtime registered (deploy/gvisor.sh, run by deploy/deps.sh, "
		    "installs and registers it)\n");
		exit(77);
	}
	snprintf(p->dir, sizeof(p->dir), "/tmp/sbx-it-XXXXXX");
	if (mkdtemp(p->dir) == NULL)
		return -1;
	snprintf(p->endpoint, sizeof(p->endpoint), "%s://127.0.0.1:%d", tls ? "tls+tcp" : "tcp", harness_free_port());
	if (tls) {
		snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
		    " -addext subjectAltName=DNS:localhost -keyout %s/key.pem -out %s/cert.pem 2>/dev/null",
		    p->dir, p->dir);
		if (system(cmd) != 0)
			return -1;
		snprintf(p->tls_ca, sizeof(p->tls_ca), "%s/cert.pem", p->dir);
		snprintf(tlsconf, sizeof(tlsconf), "tls_cert = %s/cert.pem\ntls_key = %s/key.pem\n", p->dir, p->dir);
	}
	snprintf(p->log_endpoint, sizeof(p->log_endpoint), "tcp://127.0.0.1:%d", harness_free_port());
	snprintf(p->conf, sizeof(p->conf), "%s/sbxd.conf", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/sbxd.log", p->dir);
	if ((f = fopen(p->conf, "w")) == NULL)
		return -1;
	fprintf(f, "listen = %s\nlog_listen = %s\nstate_dir = %s\nservice_key = %s\nlog_level = info\n"
	    "metrics_listen = off\n%s%s%s%s\n",
	    p->endpoint, p->log_endpoint, p->dir, HARNESS_KEY, tlsconf, harness_agent_conf(),
	    harness_isolation_conf(), extra_conf ? extra_conf : "");
	fclose(f);
	if (spawn(p) != 0)
		return -1;
	return wait_ready(p);
}

int
harness_start(struct sbxd_proc *p, const char *extra_conf)
{
	return start(p, extra_conf, 0);
}

int
harness_start_tls(struct sbxd_proc *p)
{
	return start(p, NULL, 1);
}

int
harness_restart(struct sbxd_proc *p)
{
	if (spawn(p) != 0)
		return -1;
	return wait_ready(p);
}

/* What a process that will not exit is doing: every thread's stack (gdb,
 * when the machine has it) or each thread's kernel wait channel. */
static void
dump_threads(pid_t pid)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v gdb >/dev/null && gdb -p %d -batch -nx "
	    "-ex 'thread apply all bt' 2>&1 | grep -v '^\\[New LWP' | head -n 400 >&2 || "
	    "for t in /proc/%d/task/*; do echo \"$t $(cat $t/comm) $(cat $t/wchan)\" >&2; done",
	    (int)pid, (int)pid);
	(void)!system(cmd);
}

int
harness_reap(pid_t pid, const char *what, int *status)
{
	uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	pid_t r;

	while ((r = waitpid(pid, status, WNOHANG)) == 0 && harness_now_ms() < end)
		usleep(20 * 1000);
	if (r == pid)
		return 0;
	if (r < 0)
		return -1;
	fprintf(stderr, "%s (pid %d) has not exited %d s after it was told to; "
	    "what it is doing:\n", what, (int)pid, HARNESS_WAIT_MS / 1000);
	dump_threads(pid);
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -1;
}

int
harness_stop(struct sbxd_proc *p, int sig)
{
	int status = -1;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	if (harness_reap(p->pid, "sbxd", &status) != 0)
		status = -1;
	p->pid = 0;
	return status;
}

static void
remove_cb(void *arg, const char *id, const char *state, const struct driver_label *l, size_t n)
{
	struct driver *d = arg;
	struct err e;

	(void)state;
	(void)l;
	(void)n;
	d->ops->remove(d, id, &e);
}

int
harness_finish(struct sbxd_proc *p, int failed)
{
	int status;

	if (failed)
		harness_dump_log(p);
	status = harness_stop(p, SIGTERM);
	if (status != 0)
		fprintf(stderr, "sbxd exited with status %d (log: %s)\n", status, p->log);
	harness_cleanup_containers(p);
	if (!failed && status == 0)
		harness_remove_dir(p);
	return status == 0;
}

/* Detaches every mount below dir (the warm pool's shared pool_dir and its
 * slots, left behind by an sbxd that died), deepest first. */
static void
unmount_below(const char *dir)
{
	char line[4096], mnt[64][512];
	size_t dlen = strlen(dir);
	int n = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (f == NULL)
		return;
	while (n < 64 && fgets(line, sizeof(line), f) != NULL) {
		char point[512];

		if (sscanf(line, "%*s %*s %*s %*s %511s", point) == 1 &&
		    strncmp(point, dir, dlen) == 0 && point[dlen] == '/')
			snprintf(mnt[n++], sizeof(mnt[0]), "%s", point);
	}
	fclose(f);
	while (n-- > 0)   /* mountinfo lists parents first */
		if (umount2(mnt[n], MNT_DETACH) != 0)
			fprintf(stderr, "could not unmount %s: %s\n", mnt[n], strerror(errno));
}

void
harness_remove_dir(struct sbxd_proc *p)
{
	char cmd[256];

	if (strncmp(p->dir, "/tmp/sbx-it-", 12) != 0)
		return;
	unmount_below(p->dir);
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", p->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", p->dir);
}

void
harness_cleanup_containers(struct sbxd_proc *p)
{
	struct driver *d;
	struct err e;
	char db[256], inst[17];

	snprintf(db, sizeof(db), "%s/sbx.db", p->dir);
	server_instance_id(db, inst);
	if (docker_driver_new("/var/run/docker.sock", &d, &e) != SBXD_OK)
		return;
	d->ops->list(d, "sbx.instance", inst, remove_cb, d, &e);
	d->ops->free(d);
	/* the egress networks it made (egress.c), now that nothing is on them;
	 * inst is 16 hex digits */
	if (strspn(inst, "0123456789abcdef") == 16 && strlen(inst) == 16) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "docker network ls -q --filter label=sbx.instance=%s "
		    "2>/dev/null | xargs -r docker network rm >/dev/null 2>&1", inst);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove the egress networks of %s\n", inst);
	}
}

sbx_client *
harness_client(struct sbxd_proc *p, const char *token)
{
	sbx_options o = { 0 };
	sbx_client *c = NULL;

	o.endpoint = p->endpoint;
	o.service_key = token ? NULL : HARNESS_KEY;
	o.session_token = token;
	o.connect_timeout_ms = 2000;
	if (p->tls_ca[0] != '\0') {
		o.tls_ca_file = p->tls_ca;
		o.tls_server_name = "localhost";
	}
	o.timeout_ms = 180000;
	if (sbx_client_open(&o, &c) != SBX_OK)
		return NULL;
	return c;
}

int
harness_image_ready(void)
{
	struct driver *d;
	struct err e;
	int present = 0;

	if (docker_driver_new("/var/run/docker.sock", &d, &e) != SBXD_OK)
		return 0;
	if (d->ops->image_present(d, "sbx/python-minimal:latest", &present, &e) != SBXD_OK)
		fprintf(stderr, "Docker: %s\n", e.msg);
	d->ops->free(d);
	if (!present)
		fprintf(stderr, "image sbx/python-minimal:latest is missing: "
		    "build it with deploy/images/build.sh python-minimal\n");
	return present;
}

int
harness_log_has(struct sbxd_proc *p, const char *needle)
{
	char line[2048];
	FILE *f = fopen(p->log, "r");
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

sbx_session_state
harness_session_state(sbx_client *c, const char *sid)
{
	sbx_session s;
	sbx_session_state st = SBX_SESSION_UNSPECIFIED;

	if (sbx_session_get(c, sid, &s) == SBX_OK) {
		st = s.state;
		sbx_session_fini(&s);
	}
	return st;
}

int
harness_wait_session_state(sbx_client *c, const char *sid, int state)
{
	sbx_session g;
	int seen = -1;

	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	    seen != state && harness_now_ms() < end;) {
		if (sbx_session_get(c, sid, &g) == SBX_OK) {
			seen = g.state;
			sbx_session_fini(&g);
		}
		if (seen != state)
			usleep(100000);
	}
	return seen;
}

int
harness_stop_idle(sbx_client *c, const char *sid)
{
	sbx_session g;
	char **ids;
	size_t n;
	int seen = -1;

	for (uint64_t end = harness_now_ms() + HARNESS_WAIT_MS;
	    seen != SBX_SESSION_STOPPED && harness_now_ms() < end;) {
		ids = NULL;
		n = 0;
		if (sbx_session_cleanup_idle(c, 1, &ids, &n) == SBX_OK)
			sbx_string_list_free(ids, n);
		if (sbx_session_get(c, sid, &g) == SBX_OK) {
			seen = g.state;
			sbx_session_fini(&g);
		}
		if (seen != SBX_SESSION_STOPPED)
			usleep(10000);
	}
	return seen;
}

const char *
harness_host_line(const char *cmd)
{
	static char line[1024];
	FILE *f = popen(cmd, "r");

	line[0] = '\0';
	if (f == NULL)
		return line;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	pclose(f);
	line[strcspn(line, "\n")] = '\0';
	return line;
}

int
harness_exec_status(sbx_client *c, const char *sid, const char *cmd, uint64_t timeout_ms)
{
	sbx_exec_opts o = { .command = cmd, .timeout_ms = timeout_ms };
	sbx_exec_result r;
	int code;

	if (sbx_exec(c, sid, &o, &r) != SBX_OK) {
		fprintf(stderr, "  exec %s: %s\n", cmd, sbx_last_error(c));
		return -1;
	}
	code = r.exit_code;
	sbx_exec_result_fini(&r);
	return code;
}

sbx_err
harness_exec_out(sbx_client *c, const char *sid, const char *cmd, uint64_t timeout_ms,
    char *out, size_t size, int *exit_code)
{
	sbx_exec_opts o = { .command = cmd, .timeout_ms = timeout_ms };
	sbx_exec_result r;
	sbx_err rv;

	out[0] = '\0';
	if (exit_code != NULL)
		*exit_code = -1;
	if ((rv = sbx_exec(c, sid, &o, &r)) != SBX_OK) {
		fprintf(stderr, "  exec %s: %s: %s\n", cmd, sbx_err_name(rv), sbx_last_error(c));
		return rv;
	}
	snprintf(out, size, "%s", r.out.data ? (char *)r.out.data : "");
	if (exit_code != NULL)
		*exit_code = r.exit_code;
	sbx_exec_result_fini(&r);
	return SBX_OK;
}
