/*
 * connlimit.c — per-socket connection caps through nng's pipe
 * notifications (see connlimit.h).
 *
 * The accepted pipes live in one array of at most max_total entries (pipe
 * id and remote address); an address's count is a scan of it, so the
 * memory is fixed at attach time and no peer can grow it. A refused pipe
 * never enters the array, which is how its removal is told apart. The
 * callbacks hold the mutex for a scan and never block otherwise.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "connlimit.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"

#define KEY_LEN 17                  /* family byte + up to 16 address bytes */

struct conn {
	uint32_t pipe;
	unsigned char key[KEY_LEN];
};

struct connlimit {
	char name[32];
	int max_total, max_per_address;
	pthread_mutex_t mu;
	struct conn *conns;             /* max_total slots, n used */
	int n;
	struct connlimit_stats st;
	uint64_t logged_ms, logged_refused;
};

/* The remote address as a key: IPv4, IPv6 (scope ignored), or one key
 * for every local (ipc) peer. */
static void
pipe_key(nng_pipe p, unsigned char key[KEY_LEN])
{
	nng_sockaddr sa;

	memset(key, 0, KEY_LEN);
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
		return;
	key[0] = (unsigned char)sa.s_family;
	if (sa.s_family == NNG_AF_INET)
		memcpy(key + 1, &sa.s_in.sa_addr, sizeof(sa.s_in.sa_addr));
	else if (sa.s_family == NNG_AF_INET6)
		memcpy(key + 1, sa.s_in6.sa_addr, sizeof(sa.s_in6.sa_addr));
}

static int
address_count(const struct connlimit *cl, const unsigned char key[KEY_LEN])
{
	int k = 0;

	for (int i = 0; i < cl->n; i++)
		k += memcmp(cl->conns[i].key, key, KEY_LEN) == 0;
	return k;
}

/* Logs refusals at most once per CONNLIMIT_LOG_EVERY_MS; cl->mu held. */
static void
maybe_log(struct connlimit *cl)
{
	uint64_t now = monotime_ms(), refused = cl->st.refused_total + cl->st.refused_address;

	if (refused == cl->logged_refused ||
	    (cl->logged_ms != 0 && now - cl->logged_ms < CONNLIMIT_LOG_EVERY_MS))
		return;
	log_warnx("%s: %llu connections refused so far (%llu at max_connections %d, %llu at "
	    "max_connections_per_address %d); %llu open", cl->name,
	    (unsigned long long)refused, (unsigned long long)cl->st.refused_total, cl->max_total,
	    (unsigned long long)cl->st.refused_address, cl->max_per_address,
	    (unsigned long long)cl->st.open);
	cl->logged_ms = now;
	cl->logged_refused = refused;
}

static void
pipe_added(struct connlimit *cl, nng_pipe p)
{
	unsigned char key[KEY_LEN];
	int refuse;

	pipe_key(p, key);
	pthread_mutex_lock(&cl->mu);
	if ((refuse = cl->n >= cl->max_total))
		cl->st.refused_total++;
	else if ((refuse = address_count(cl, key) >= cl->max_per_address))
		cl->st.refused_address++;
	else {
		cl->conns[cl->n].pipe = nng_pipe_id(p);
		memcpy(cl->conns[cl->n].key, key, KEY_LEN);
		cl->n++;
		cl->st.accepted++;
		cl->st.open = (uint64_t)cl->n;
		metrics_gauge_add(METRICS_G_CONNECTIONS, 1);
	}
	if (refuse) {
		maybe_log(cl);
		metrics_count(METRICS_C_CONN_REFUSED, 1);
	}
	pthread_mutex_unlock(&cl->mu);
	if (refuse)
		nng_pipe_close(p);
}

static void
pipe_removed(struct connlimit *cl, nng_pipe p)
{
	uint32_t id = nng_pipe_id(p);

	pthread_mutex_lock(&cl->mu);
	for (int i = 0; i < cl->n; i++) {
		if (cl->conns[i].pipe != id)
			continue;
		cl->conns[i] = cl->conns[--cl->n];
		cl->st.open = (uint64_t)cl->n;
		metrics_gauge_add(METRICS_G_CONNECTIONS, -1);
		break;
	}
	pthread_mutex_unlock(&cl->mu);
}

static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	if (ev == NNG_PIPE_EV_ADD_PRE)
		pipe_added(arg, p);
	else if (ev == NNG_PIPE_EV_REM_POST)
		pipe_removed(arg, p);
}

sbxd_code
connlimit_attach(nng_socket sock, const char *name, int max_total, int max_per_address,
    struct connlimit **out, struct err *e)
{
	struct connlimit *cl;
	int rv;

	if ((cl = calloc(1, sizeof(*cl))) == NULL ||
	    (cl->conns = calloc((size_t)max_total, sizeof(*cl->conns))) == NULL) {
		free(cl);
		return err_set(e, SBXD_INTERNAL, "out of memory");
	}
	snprintf(cl->name, sizeof(cl->name), "%s", name);
	cl->max_total = max_total;
	cl->max_per_address = max_per_address;
	pthread_mutex_init(&cl->mu, NULL);
	if ((rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, cl)) != 0 ||
	    (rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, pipe_cb, cl)) != 0) {
		nng_pipe_notify(sock, NNG_PIPE_EV_ADD_PRE, NULL, NULL);
		connlimit_free(cl);
		return err_set(e, SBXD_INTERNAL, "%s: cannot watch connections: %s", name,
		    nng_strerror(rv));
	}
	*out = cl;
	return SBXD_OK;
}

void
connlimit_free(struct connlimit *cl)
{
	if (cl == NULL)
		return;
	pthread_mutex_destroy(&cl->mu);
	free(cl->conns);
	free(cl);
}

void
connlimit_stats(struct connlimit *cl, struct connlimit_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (cl == NULL)
		return;
	pthread_mutex_lock(&cl->mu);
	*out = cl->st;
	pthread_mutex_unlock(&cl->mu);
}

void
connlimit_log(struct connlimit *cl)
{
	struct connlimit_stats st;

	if (cl == NULL)
		return;
	connlimit_stats(cl, &st);
	log_info("%s: %llu connections accepted, %llu refused at max_connections %d, %llu at "
	    "max_connections_per_address %d", cl->name, (unsigned long long)st.accepted,
	    (unsigned long long)st.refused_total, cl->max_total,
	    (unsigned long long)st.refused_address, cl->max_per_address);
}

uint64_t
connlimit_raise_nofile(uint64_t need)
{
	struct rlimit rl, want;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("getrlimit(RLIMIT_NOFILE)");
		return 0;
	}
	want.rlim_cur = CONNLIMIT_NOFILE_CEILING;
	want.rlim_max = rl.rlim_max > want.rlim_cur ? rl.rlim_max : want.rlim_cur;
	if (rl.rlim_cur < want.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) != 0) {
		want.rlim_cur = rl.rlim_max;   /* no CAP_SYS_RESOURCE: up to the hard limit */
		want.rlim_max = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) != 0)
			log_warn("setrlimit(RLIMIT_NOFILE, %llu)", (unsigned long long)want.rlim_cur);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if ((uint64_t)rl.rlim_cur < need)
		log_warnx("open-file limit is %llu, below the %llu the connection caps and %d "
		    "reserved descriptors need: raise LimitNOFILE or lower max_connections",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need,
		    CONNLIMIT_NOFILE_RESERVE);
	else
		log_info("open-file limit %llu", (unsigned long long)rl.rlim_cur);
	return (uint64_t)rl.rlim_cur;
}
