/*
 * agent_spawn.c — starting processes for agent_procs.c. Everything the
 * child needs (argv, envp, the PATH search's shell fallback) is built
 * before it exists: the agent has threads, so until exec the child calls
 * only async-signal-safe functions. A command's child shares the agent's
 * memory until it execs (clone with CLONE_VM | CLONE_VFORK, as
 * posix_spawn does: no page tables copied, no copy-on-write faults on
 * either side; the calling thread sleeps until the child has exec'd or
 * died), so a cwd that cannot be entered comes back in a variable the
 * parent reads when it wakes. All signals are blocked around the clone so
 * that no agent handler runs on the child's stack. A terminal's child is
 * forked (it is rare) and reports through a close-on-exec pipe, the
 * classic pattern. An exec failure is reported by the child on its own
 * stderr.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_log.h"
#include "agent_spawn.h"

extern char **environ;

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What the child execs, all in memory it owns after the fork. */
struct plan {
	char **argv;     /* argc + 1 */
	char **sh_argv;  /* argc + 2: "/bin/sh", the file, argv[1..] */
	char **envp;
	const char *path;
	const char *cwd; /* NULL: stay */
	char *pool;      /* the strings */
	int close_hi;    /* without close_range(2): the child closes fds up to this */
};

static void
plan_fini(struct plan *p)
{
	free(p->argv);
	free(p->sh_argv);
	free(p->envp);
	free(p->pool);
	memset(p, 0, sizeof(*p));
}

/* Copies b into the pool as a C string; NULL when b holds a NUL byte. */
static char *
pool_str(char **pos, const ProtobufCBinaryData *b)
{
	char *s = *pos;

	if (b->len > 0 && memchr(b->data, '\0', b->len) != NULL)
		return NULL;
	if (b->len > 0)
		memcpy(s, b->data, b->len);
	s[b->len] = '\0';
	*pos += b->len + 1;
	return s;
}

/* Sets "K=V" in envp (n entries), replacing an entry with the same K. */
static void
env_set(char **envp, size_t *n, char *kv)
{
	size_t klen = (size_t)(strchr(kv, '=') - kv) + 1;

	for (size_t i = 0; i < *n; i++)
		if (strncmp(envp[i], kv, klen) == 0) {
			envp[i] = kv;
			return;
		}
	envp[(*n)++] = kv;
}

static int
plan_init(struct plan *p, const Sbx__Agent__V1__Run *r, char *msg, size_t cap)
{
	size_t total = 2 * (r->cwd.len + 1) + 4, nenv = 0, n, i;
	char *pos, *s;

	memset(p, 0, sizeof(*p));
	if (r->n_argv == 0) {
		snprintf(msg, cap, "empty argv");
		return EINVAL;
	}
	for (i = 0; i < r->n_argv; i++)
		total += r->argv[i].len + 1;
	for (i = 0; i < r->n_env; i++)
		total += r->env[i].len + 1;
	while (environ != NULL && environ[nenv] != NULL)
		nenv++;
	if ((p->pool = malloc(total)) == NULL ||
	    (p->argv = calloc(r->n_argv + 1, sizeof(char *))) == NULL ||
	    (p->sh_argv = calloc(r->n_argv + 2, sizeof(char *))) == NULL ||
	    (p->envp = calloc(nenv + r->n_env + 2, sizeof(char *))) == NULL) {
		plan_fini(p);
		snprintf(msg, cap, "out of memory");
		return ENOMEM;
	}
	pos = p->pool;
	for (i = 0; i < r->n_argv; i++)
		if ((p->argv[i] = pool_str(&pos, &r->argv[i])) == NULL) {
			snprintf(msg, cap, "argv[%zu] holds a NUL byte", i);
			goto bad;
		}
	p->sh_argv[0] = "/bin/sh";
	for (i = 1; i < r->n_argv; i++)
		p->sh_argv[i + 1] = p->argv[i];
	memcpy(p->envp, environ, nenv * sizeof(char *));
	n = nenv;
	/* PWD names the directory the command starts in, as a shell would
	 * export it (an argv runs with no shell); the caller's env may set it */
	if (r->cwd.len > 0) {
		if (memchr(r->cwd.data, '\0', r->cwd.len) != NULL) {
			snprintf(msg, cap, "cwd holds a NUL byte");
			goto bad;
		}
		memcpy(pos, "PWD=", 4);
		memcpy(pos + 4, r->cwd.data, r->cwd.len);
		pos[4 + r->cwd.len] = '\0';
		env_set(p->envp, &n, pos);
		pos += r->cwd.len + 5;
	}
	for (i = 0; i < r->n_env; i++) {
		if ((s = pool_str(&pos, &r->env[i])) == NULL || strchr(s, '=') == NULL ||
		    s[0] == '=') {
			snprintf(msg, cap, "env[%zu] is not K=V", i);
			goto bad;
		}
		env_set(p->envp, &n, s);
	}
	p->path = DEFAULT_PATH;
	for (i = 0; i < n; i++)
		if (strncmp(p->envp[i], "PATH=", 5) == 0)
			p->path = p->envp[i] + 5;
	if (r->cwd.len > 0 && (p->cwd = pool_str(&pos, &r->cwd)) == NULL) {
		snprintf(msg, cap, "cwd holds a NUL byte");
		goto bad;
	}
	return 0;
bad:
	plan_fini(p);
	return EINVAL;
}

/* ---- the child */

static void
child_write(const char *s)
{
	(void)!write(STDERR_FILENO, s, strlen(s));
}

/* execve, and on ENOEXEC the file as a /bin/sh script, as execvp does. */
static int
try_exec(const struct plan *p, char *file)
{
	execve(file, p->argv, p->envp);
	if (errno != ENOEXEC)
		return errno;
	p->sh_argv[1] = file;
	execve("/bin/sh", p->sh_argv, p->envp);
	return errno;
}

/* execvp's search over the Run's PATH; returns why nothing ran. */
static int
exec_search(const struct plan *p)
{
	const char *file = p->argv[0], *dir = p->path, *end;
	size_t flen = strlen(file), dlen;
	char buf[PATH_MAX];
	int e, eacces = 0;

	if (flen == 0)
		return ENOENT;
	if (strchr(file, '/') != NULL)
		return try_exec(p, p->argv[0]);
	if (flen >= sizeof(buf) - 2)
		return ENAMETOOLONG;
	for (;;) {
		end = strchr(dir, ':');
		dlen = end != NULL ? (size_t)(end - dir) : strlen(dir);
		if (dlen == 0) {
			memcpy(buf, file, flen + 1);   /* "" is the cwd */
		} else if (dlen + flen + 2 <= sizeof(buf)) {
			memcpy(buf, dir, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
		} else
			goto next;
		e = try_exec(p, buf);
		if (e == EACCES)
			eacces = 1;
		else if (e != ENOENT && e != ENOTDIR && e != ESTALE && e != ENODEV &&
		    e != ETIMEDOUT)
			return e;
next:
		if (end == NULL)
			break;
		dir = end + 1;
	}
	return eacces ? EACCES : ENOENT;
}

#define CLOSE_MARGIN 256         /* fds other threads may open after the scan */

/* The highest descriptor a child must close itself, looked up before the
 * fork, when the kernel lacks close_range(2): gVisor (runsc 2022-12) has
 * none, and closing 65536 descriptors one by one took ~2.7 s per command
 * there (ptrace platform). The agent's own descriptors are close-on-exec
 * anyway; the margin covers ones another thread opens after the scan. */
static int
close_bound(void)
{
	static int have = -1;    /* close_range(2) works: 1, not: 0 */
	struct dirent *de;
	DIR *d;
	int hi = 0;

	if (have < 0)            /* closes nothing: no fd is that high */
		have = syscall(SYS_close_range, ~0U, ~0U, 0) == 0;
	if (have || (d = opendir("/proc/self/fd")) == NULL)
		return 65535;
	while ((de = readdir(d)) != NULL)
		if (atoi(de->d_name) > hi)
			hi = atoi(de->d_name);
	closedir(d);
	return hi + CLOSE_MARGIN;
}

static void
close_from(int lo, int hi)
{
	if (syscall(SYS_close_range, (unsigned)lo, ~0U, 0) == 0)
		return;
	for (int fd = lo; fd <= hi; fd++)
		(void)close(fd);
}

/* Where a child says why it could not start: ep >= 0 is a close-on-exec
 * pipe (a forked child), else *shared (a child sharing the agent's memory,
 * read by the parent once the child exec'd or died). */
struct report {
	int ep;
	volatile int *shared;
};

static void
report(const struct report *rp, int e)
{
	if (rp->ep >= 0)
		(void)!write(rp->ep, &e, sizeof(e));
	else
		*rp->shared = e;
}

/* The signals whose disposition is not SIG_DFL (a handler, or ignored),
 * taken by agent_spawn_note_signals; nchanged < 0 before: the child resets
 * every signal. A child resets these only, not all 64 (one syscall each). */
static int changed[NSIG];
static int nchanged = -1;

void
agent_spawn_note_signals(void)
{
	struct sigaction sa;
	int n = 0;

	for (int s = 1; s < NSIG; s++)
		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
			changed[n++] = s;
	nchanged = n;
}

/* In the child: only async-signal-safe calls. A terminal's child
 * (tty >= 0: the pty's slave, also in, out and err) leads a new session
 * whose controlling terminal it is; any other leads a process group. */
static _Noreturn void
child(const struct plan *p, int in, int out, int err, struct report rp, int tty)
{
	struct sigaction sa;
	sigset_t none;
	int e;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	if (nchanged < 0) {
		for (int s = 1; s < NSIG; s++)
			(void)sigaction(s, &sa, NULL);   /* fails harmlessly for KILL, STOP */
	} else
		for (int i = 0; i < nchanged; i++)
			(void)sigaction(changed[i], &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (tty < 0)
		(void)setpgid(0, 0);
	else if (setsid() < 0 || ioctl(tty, TIOCSCTTY, 0) < 0) {
		report(&rp, errno);
		_exit(126);
	}
	/* a command dies with the agent that holds its pipes: nobody would
	 * read its output or know its end (sbxd reports it killed) */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	if (rp.ep >= 0) {
		if (rp.ep != 3 && dup3(rp.ep, 3, O_CLOEXEC) < 0)
			_exit(126);
		rp.ep = 3;
		close_from(4, p->close_hi);
	} else
		close_from(3, p->close_hi);
	if (p->cwd != NULL && chdir(p->cwd) != 0) {
		report(&rp, errno);
		_exit(126);
	}
	e = exec_search(p);
	child_write("sbx-agent: ");
	child_write(p->argv[0]);
	child_write(": ");
	child_write(strerrordesc_np(e) != NULL ? strerrordesc_np(e) : "exec failed");
	child_write("\n");
	_exit(e == ENOENT ? 127 : 126);
}

/* What a command's child gets from clone. */
struct clone_arg {
	const struct plan *p;
	int in, out, err;
	volatile int *shared;
};

static int
clone_child(void *arg)
{
	const struct clone_arg *a = arg;

	child(a->p, a->in, a->out, a->err, (struct report){ .ep = -1, .shared = a->shared }, -1);
}

#define CHILD_STACK (64 * 1024)   /* exec_search's PATH_MAX buffer and a margin */

/* Starts p's child on in/out/err sharing this process's memory until it
 * execs; returns its pid (-1 and errno when clone failed), *cwd_err the
 * errno of a chdir that failed (the child is dead then, not reaped). */
static pid_t
spawn_vfork(const struct plan *p, int in, int out, int err, int *cwd_err)
{
	volatile int shared = 0;
	struct clone_arg a = { .p = p, .in = in, .out = out, .err = err, .shared = &shared };
	sigset_t all, old;
	char *stack = malloc(CHILD_STACK);
	pid_t pid;
	int e;

	if (stack == NULL) {
		errno = ENOMEM;
		return -1;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(clone_child, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(stack);
	*cwd_err = shared;
	errno = e;
	return pid;
}

/* ---- the parent */

static void
close_pair(int fd[2])
{
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0) {
			(void)close(fd[i]);
			fd[i] = -1;
		}
}

/* Reads the child's report: 0 when it exec'd (or failed to exec), else the
 * errno of its chdir. */
static int
child_report(int ep)
{
	ssize_t n;
	int e = 0;

	do
		n = read(ep, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(e) ? e : 0;
}

int
agent_spawn(const Sbx__Agent__V1__Run *r, struct agent_spawned *sp,
    char *msg, size_t msgcap)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int rv, st;
	struct plan p;
	pid_t pid;

	if ((rv = plan_init(&p, r, msg, msgcap)) != 0)
		return rv;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0) {
		rv = errno;
		snprintf(msg, msgcap, "pipe: %s", strerror(rv));
		goto out;
	}
	p.close_hi = close_bound();
	/* the child has set its own process group before this returns */
	if ((pid = spawn_vfork(&p, in[0], out[1], err[1], &rv)) < 0) {
		rv = errno;
		snprintf(msg, msgcap, "clone: %s", strerror(rv));
		goto out;
	}
	if (rv != 0) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		snprintf(msg, msgcap, "cannot enter %s: %s", p.cwd, strerror(rv));
		goto out;
	}
	if (fcntl(in[1], F_SETFL, O_NONBLOCK) != 0 || fcntl(out[0], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(err[0], F_SETFL, O_NONBLOCK) != 0)
		agent_log("fcntl O_NONBLOCK");   /* cannot fail on a pipe */
	sp->pid = pid;
	sp->in = in[1];
	sp->out = out[0];
	sp->err = err[0];
	in[1] = out[0] = err[0] = -1;
	rv = 0;
out:
	close_pair(in);
	close_pair(out);
	close_pair(err);
	plan_fini(&p);
	return rv;
}

/* ---- terminals */

/* The login shell of the agent's user from /etc/passwd (fgetpwent: a
 * static binary has no NSS), when it is executable; else /bin/sh. */
static void
login_shell(char *out, size_t cap)
{
	struct passwd *pw;
	FILE *f;

	snprintf(out, cap, "/bin/sh");
	if ((f = fopen("/etc/passwd", "re")) == NULL)
		return;
	while ((pw = fgetpwent(f)) != NULL)
		if (pw->pw_uid == getuid()) {
			if (pw->pw_shell != NULL && pw->pw_shell[0] == '/' &&
			    access(pw->pw_shell, X_OK) == 0)
				snprintf(out, cap, "%s", pw->pw_shell);
			break;
		}
	fclose(f);
}

/* A new pty: *master (non-blocking, close-on-exec) and *slave, sized. */
static int
open_pty(uint32_t cols, uint32_t rows, int *master, int *slave, char *msg, size_t msgcap)
{
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	char name[128];
	int m, sl, rv;

	*master = *slave = -1;
	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		rv = errno;
		snprintf(msg, msgcap, "posix_openpt: %s", strerror(rv));
		return rv;
	}
	if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof(name)) != 0 ||
	    (sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		rv = errno;
		snprintf(msg, msgcap, "opening the pty's terminal: %s", strerror(rv));
		close(m);
		return rv;
	}
	if (ioctl(m, TIOCSWINSZ, &ws) != 0 || fcntl(m, F_SETFL, O_NONBLOCK) != 0) {
		rv = errno;
		snprintf(msg, msgcap, "setting up the pty: %s", strerror(rv));
		close(m);
		close(sl);
		return rv;
	}
	*master = m;
	*slave = sl;
	return 0;
}

int
agent_spawn_pty(const Sbx__Agent__V1__Run *r, uint32_t cols, uint32_t rows,
    struct agent_spawned *sp, char *msg, size_t msgcap)
{
	Sbx__Agent__V1__Run shell = *r;
	ProtobufCBinaryData argv[2];
	char sh[256];
	int ep[2] = { -1, -1 }, master = -1, slave = -1, rv, st;
	struct plan p;
	pid_t pid;

	if (r->n_argv == 0) {
		login_shell(sh, sizeof(sh));
		argv[0] = (ProtobufCBinaryData){ strlen(sh), (uint8_t *)sh };
		argv[1] = (ProtobufCBinaryData){ 2, (uint8_t *)"-l" };
		shell.argv = argv;
		shell.n_argv = 2;
	}
	if ((rv = plan_init(&p, &shell, msg, msgcap)) != 0)
		return rv;
	if ((rv = open_pty(cols, rows, &master, &slave, msg, msgcap)) != 0)
		goto out;
	if (pipe2(ep, O_CLOEXEC) != 0) {
		rv = errno;
		snprintf(msg, msgcap, "pipe: %s", strerror(rv));
		goto out;
	}
	if ((pid = fork()) < 0) {
		rv = errno;
		snprintf(msg, msgcap, "fork: %s", strerror(rv));
		goto out;
	}
	if (pid == 0)
		child(&p, slave, slave, slave, (struct report){ .ep = ep[1] }, slave);
	close(ep[1]);
	ep[1] = -1;
	close(slave);
	slave = -1;
	if ((rv = child_report(ep[0])) != 0) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		snprintf(msg, msgcap, "starting the terminal%s%s: %s", p.cwd ? " in " : "",
		    p.cwd ? p.cwd : "", strerror(rv));
		goto out;
	}
	sp->pid = pid;
	sp->in = master;
	sp->out = -1;
	sp->err = -1;
	master = -1;
	rv = 0;
out:
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	close_pair(ep);
	plan_fini(&p);
	return rv;
}
