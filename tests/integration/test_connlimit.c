/*
 * test_connlimit.c — connection caps against a real sbxd over real
 * sockets, with low caps from the config. Floods come from other loopback
 * addresses (127.0.0.2 and up, bound before connect), so sbxd sees a
 * remote address other than the legitimate client's 127.0.0.1. Raw TCP
 * connections that never handshake do not take a slot; handshaked SP
 * connections over the per-address cap are closed while a client from
 * another address is still answered; over the total cap every newcomer is
 * closed while open connections keep working. Each refusal the test sees
 * (a reply frame never comes, the connection ends) is counted and must
 * match the totals sbxd logs when it stops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define MAX_TOTAL 24
#define MAX_PER_ADDRESS 8
#define RAW_FLOOD 64
#define SP_REQ 0x30
#define SP_SUB 0x21

static struct sbxd_proc d;
static sbx_client *svc;
static int refused_total, refused_address;   /* what the test saw */

static int
port_of(const char *endpoint)
{
	return atoi(strrchr(endpoint, ':') + 1);
}

/* A TCP connection from src to 127.0.0.1:port; -1 on failure. */
static int
tcp_from(const char *src, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = HARNESS_WAIT_MS / 1000 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, src, &b.sin_addr);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));   /* a safety net only */
	if (bind(fd, (struct sockaddr *)&b, sizeof(b)) != 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A TCP connection from src that has done the SP handshake as proto;
 * -1 when it could not. */
static int
sp_from(const char *src, int port, unsigned char proto)
{
	unsigned char hello[8] = { 0, 'S', 'P', 0, 0, proto, 0, 0 }, peer[8];
	int fd = tcp_from(src, port);

	if (fd < 0)
		return -1;
	if (write(fd, hello, sizeof(hello)) != sizeof(hello) ||
	    read(fd, peer, sizeof(peer)) != sizeof(peer)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends an empty request on a handshaked REQ connection; 1 when a reply
 * frame comes, 0 when the connection ends instead (sbxd closed it). */
static int
answered(int fd)
{
	static const unsigned char req[12] = { 0, 0, 0, 0, 0, 0, 0, 4, 0x80, 0, 0, 1 };
	unsigned char hdr[8];
	ssize_t n;

	if (write(fd, req, sizeof(req)) != sizeof(req))
		return 0;
	n = read(fd, hdr, sizeof(hdr));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		T_FAIL_("no reply and no close within the safety bound");
	return n == (ssize_t)sizeof(hdr);
}

/* Opens up to n REQ connections from src, keeping the answered ones in
 * fds; returns how many were answered, counting the rest as refused. */
static int
flood(const char *src, int n, int *fds, int *refused)
{
	int kept = 0, fd;

	for (int i = 0; i < n; i++) {
		if ((fd = sp_from(src, port_of(d.endpoint), SP_REQ)) < 0) {
			T_FAIL_("handshake %d from %s failed", i, src);
			continue;
		}
		if (answered(fd))
			fds[kept++] = fd;
		else {
			(*refused)++;
			close(fd);
		}
	}
	return kept;
}

static void
close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void
serves(sbx_client *c)
{
	sbx_session *s = NULL;
	size_t n = 0;

	CHECK_INT(sbx_session_list(c, NULL, &s, &n, NULL), SBX_OK);
	sbx_session_list_free(s, n);
}

TEST(per_address_cap_leaves_room_for_others)
{
	int raw[RAW_FLOOD], fds[2 * MAX_PER_ADDRESS], mine[1], nraw = 0, kept, before;
	sbx_client *late;

	for (int i = 0; i < RAW_FLOOD; i++)          /* never handshaken: no slot taken */
		if ((raw[nraw] = tcp_from("127.0.0.4", port_of(d.endpoint))) >= 0)
			nraw++;
	CHECK_INT(nraw, RAW_FLOOD);
	before = refused_address;
	kept = flood("127.0.0.2", 2 * MAX_PER_ADDRESS, fds, &refused_address);
	CHECK_INT(kept, MAX_PER_ADDRESS);
	CHECK_INT(refused_address - before, MAX_PER_ADDRESS);
	/* while the flood holds its address's cap: old and new clients from 127.0.0.1 */
	serves(svc);
	REQUIRE((late = harness_client(&d, NULL)) != NULL);
	serves(late);
	sbx_client_close(late);
	CHECK_INT(flood("127.0.0.1", 1, mine, &refused_address), 1);
	close_all(mine, 1);
	close_all(fds, kept);
	close_all(raw, nraw);
}

TEST(total_cap_holds_and_open_connections_keep_working)
{
	int fds[2 * MAX_TOTAL], kept = 0, extra, before = refused_total;
	char src[32];

	/* fewer than the per-address cap from each address, until one is refused */
	for (int a = 10; kept < 2 * MAX_TOTAL && refused_total == before; a++) {
		snprintf(src, sizeof(src), "127.0.0.%d", a);
		kept += flood(src, MAX_PER_ADDRESS / 2, fds + kept, &refused_total);
	}
	REQUIRE(refused_total > before);
	CHECK(kept <= MAX_TOTAL);
	extra = flood("127.0.1.1", 3, fds + kept, &refused_total);   /* at the cap: all refused */
	CHECK_INT(extra, 0);
	serves(svc);                              /* its connection is older than the flood */
	close_all(fds, kept);
	printf("total cap %d: %d flood connections held it with the test's own\n", MAX_TOTAL, kept);
}

TEST(log_bus_has_the_same_caps)
{
	struct pollfd pfd[MAX_PER_ADDRESS + 1];
	int n = 0, closed = 0;
	unsigned char b;

	for (int i = 0; i < MAX_PER_ADDRESS + 1; i++)
		if ((pfd[n].fd = sp_from("127.0.0.3", port_of(d.log_endpoint), SP_SUB)) >= 0)
			pfd[n++].events = POLLIN;
	REQUIRE_INT(n, MAX_PER_ADDRESS + 1);
	/* One is over the per-address cap (pipes are added in any order): sbxd
	 * ends it, and the publisher sends nothing else to read. */
	REQUIRE(poll(pfd, (nfds_t)n, HARNESS_WAIT_MS) > 0);
	for (int i = 0; i < n; i++)
		if (pfd[i].revents != 0)
			closed += read(pfd[i].fd, &b, 1) <= 0;
	CHECK(closed >= 1);
	for (int i = 0; i < n; i++)
		close(pfd[i].fd);
}

int
main(void)
{
	char want[160];

	if (harness_start(&d, "max_connections = 24\nmax_connections_per_address = 8") != 0)
		return 1;
	if ((svc = harness_client(&d, NULL)) == NULL)
		return 1;
	serves(svc);
	RUN(per_address_cap_leaves_room_for_others);
	RUN(total_cap_holds_and_open_connections_keep_working);
	RUN(log_bus_has_the_same_caps);
	sbx_client_close(svc);
	CHECK_INT(harness_stop(&d, SIGTERM), 0);
	snprintf(want, sizeof(want), " %d refused at max_connections %d, %d at "
	    "max_connections_per_address %d", refused_total, MAX_TOTAL, refused_address,
	    MAX_PER_ADDRESS);
	CHECK(harness_log_has(&d, want));
	printf("refused: %d at the total cap, %d at the per-address cap\n", refused_total,
	    refused_address);
	if (t_failures)
		harness_dump_log(&d);
	else
		harness_remove_dir(&d);
	T_DONE();
}
