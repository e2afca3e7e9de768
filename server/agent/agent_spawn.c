/*
 * agent_spawn.c — fork and exec for agent_procs.c. Everything the child
 * needs (argv, envp, the PATH search's shell fallback) is built before the
 * fork: the agent has threads, so between fork and exec the child calls
 * only async-signal-safe functions. A cwd that cannot be entered travels
 * back through a close-on-exec pipe, the classic pattern; an exec failure
 * is reported by the child on its own stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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
	size_t total = r->cwd.len + 1, nenv = 0, n, i;
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
	    (p->envp = calloc(nenv + r->n_env + 1, sizeof(char *))) == NULL) {
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

static void
close_from(int lo)
{
	if (syscall(SYS_close_range, (unsigned)lo, ~0U, 0) == 0)
		return;
	for (int fd = lo; fd < 65536; fd++)
		(void)close(fd);
}

/* In the forked child: only async-signal-safe calls. */
static _Noreturn void
child(const struct plan *p, int in, int out, int err, int ep)
{
	struct sigaction sa;
	sigset_t none;
	int e;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		(void)sigaction(s, &sa, NULL);   /* fails harmlessly for KILL, STOP */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)setpgid(0, 0);
	/* a command dies with the agent that holds its pipes: nobody would
	 * read its output or know its end (sbxd reports it killed) */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	if (ep != 3 && dup3(ep, 3, O_CLOEXEC) < 0)
		_exit(126);
	close_from(4);
	if (p->cwd != NULL && chdir(p->cwd) != 0) {
		e = errno;
		(void)!write(3, &e, sizeof(e));
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
	int ep[2] = { -1, -1 }, rv, st;
	struct plan p;
	pid_t pid;

	if ((rv = plan_init(&p, r, msg, msgcap)) != 0)
		return rv;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0) {
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
		child(&p, in[0], out[1], err[1], ep[1]);
	(void)setpgid(pid, pid);   /* the child does it too; whoever is first */
	close(ep[1]);
	ep[1] = -1;
	if ((rv = child_report(ep[0])) != 0) {
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
	close_pair(ep);
	plan_fini(&p);
	return rv;
}
