/*
 * harness.h — starting and stopping a real sbxd for integration tests.
 *
 * Each sbxd gets its own state directory under /tmp, a free loopback port
 * and a known service key; its stderr goes to <state>/sbxd.log, which is
 * printed when a test fails so the server's side of a failure is visible.
 */
#ifndef SBX_HARNESS_H
#define SBX_HARNESS_H

#include <stdint.h>
#include <sys/types.h>

#include "sbx.h"

#define HARNESS_KEY "integration-test-service-key-0123456789"
/* The bound of every wait for an event (sbxd answering, a state change, a
 * file appearing): a safety net against a hang, never a time budget, so a
 * loaded machine only makes a test slower, not red. */
#define HARNESS_WAIT_MS 120000

struct sbxd_proc {
	pid_t pid;
	char dir[128];          /* state dir */
	char endpoint[64];
	char log_endpoint[64];  /* its log pub socket (log_listen) */
	char conf[192];
	char log[192];
	char tls_ca[192];       /* set: the endpoint is tls+tcp:// with this CA */
};

/* Writes a config (plus extra lines) in a new state dir and starts sbxd;
 * returns 0 once it answers requests, -1 otherwise (log printed). */
int harness_start(struct sbxd_proc *p, const char *extra_conf);
/* Like harness_start, but listening on tls+tcp:// with a fresh self-signed
 * certificate for "localhost" (made with the openssl command). */
int harness_start_tls(struct sbxd_proc *p);
/* Starts sbxd again with the same state dir and config. */
int harness_restart(struct sbxd_proc *p);
/* Sends sig (SIGTERM or SIGKILL) and waits; returns the exit status (-1
 * when sbxd had not exited HARNESS_WAIT_MS after the signal: see
 * harness_reap). */
int harness_stop(struct sbxd_proc *p, int sig);
/* Waits for child pid (already signalled) at most HARNESS_WAIT_MS; if it
 * has not exited by then, prints what it is doing (every thread's stack,
 * naming it `what`), SIGKILLs and reaps it. 0 when it exited by itself
 * (*status its wait status), -1 otherwise: a test never hangs on a child
 * that will not end, and says why. */
int harness_reap(pid_t pid, const char *what, int *status);
/* Ends a test program's sbxd: prints its log if anything failed, stops it
 * with SIGTERM and returns 1 when it exited cleanly (status 0; sanitizer
 * builds exit non-zero on leaks), removes its containers, and removes its
 * state dir when failed is 0 (kept for a look otherwise). */
int harness_finish(struct sbxd_proc *p, int failed);
/* Removes p's state dir (workspaces included). */
void harness_remove_dir(struct sbxd_proc *p);
/* Removes every container this sbxd made (by its instance label). */
void harness_cleanup_containers(struct sbxd_proc *p);
/* A client for p with the service key (token NULL) or a session token. */
sbx_client *harness_client(struct sbxd_proc *p, const char *token);
/* Runs cmd in session sid with a timeout; its exit code, or -1 (the error
 * printed) when the call fails. */
int harness_exec_status(sbx_client *c, const char *sid, const char *cmd, uint64_t timeout_ms);
/* Runs cmd in session sid with a timeout and copies its stdout into out
 * (size bytes, cut to fit); returns the call's error. A failed call leaves
 * out "" and prints its error; *exit_code (unless NULL) is the command's
 * exit code, -1 when the call failed. */
sbx_err harness_exec_out(sbx_client *c, const char *sid, const char *cmd, uint64_t timeout_ms,
    char *out, size_t size, int *exit_code);
/* The first line of a host command's output (popen), newline cut; "" when
 * it printed nothing. Static, overwritten by the next call. */
const char *harness_host_line(const char *cmd);
/* "agent = no\n" when SBX_TEST_AGENT=off (CI runs the command, process,
 * file and log tests both through the in-sandbox agent and without it),
 * else "". */
const char *harness_agent_conf(void);
/* "isolation = gvisor\n" when SBX_TEST_ISOLATION=gvisor (CI runs the
 * agent, exec and file tests under gVisor too), else "". harness_start
 * then exits 77 (a skip) unless the engine has runsc registered. */
const char *harness_isolation_conf(void);
/* 1 when the Docker engine has gVisor's runsc registered (deploy/gvisor.sh
 * --check; deploy/deps.sh registers it). */
int harness_gvisor_ready(void);
/* A free loopback TCP port (bound once, then released). */
int harness_free_port(void);
/* Milliseconds on the monotonic clock, for the deadline of a wait. */
uint64_t harness_now_ms(void);
/* Session sid's state now, SBX_SESSION_UNSPECIFIED when it cannot be read. */
sbx_session_state harness_session_state(sbx_client *c, const char *sid);
/* Waits (looking every 100 ms, at most HARNESS_WAIT_MS) until session sid
 * is in state; returns the last state seen (-1 when none could be read). */
int harness_wait_session_state(sbx_client *c, const char *sid, int state);
/* Stops session sid as idle: CleanupIdle (max idle 1 ms, service key c)
 * until sid is STOPPED — a call made within a millisecond of the session's
 * last activity rightly leaves it running — at most HARNESS_WAIT_MS;
 * returns the last state seen (-1 when none could be read). */
int harness_stop_idle(sbx_client *c, const char *sid);
/* 1 when a line of p's log holds needle. */
int harness_log_has(struct sbxd_proc *p, const char *needle);
/* Prints p's log to stderr. */
void harness_dump_log(struct sbxd_proc *p);
/* Checks the default runtime image exists; prints how to build it if not. */
int harness_image_ready(void);

#endif
