/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test driver for engine/netlink.c, run by tests/netlink/run.sh inside a
 * network namespace. It reads one command per line on stdin and answers
 * with exactly one line on stdout ("ok ..." or "fail ..."/"err ..."), so
 * the script can change the kernel's state with ip(8) between commands.
 *
 *   open IF...                  sh_nl_open on these interfaces
 *   rcvbuf BYTES                shrink the event socket buffer (storm test)
 *   settle MS                   process events until quiet for 200 ms
 *                               (at most MS); prints the counters
 *   expect DST RESULT [IF NH [MAC]] MS
 *                               process events until sh_fib_lookup(DST)
 *                               gives RESULT (ok|no_route|no_neigh) and,
 *                               when given, that interface, next hop, MAC
 *   neigh_count PREFIX/LEN      neighbours in the current snapshot within
 *                               the prefix (after processing pending events)
 *   routes                      routes in the current snapshot
 *   spread DST N MS             process events until DST has a route,
 *                               then look it up from N sources, each
 *                               twice; prints every next hop used and
 *                               how many sources took it ("ok NH=COUNT
 *                               ..."), or "fail" when a source got two
 *                               different answers
 *   resolve IF IP | linkup IF | addr IF IP/LEN | route IF PREFIX/LEN GW
 *                               the engine's requests; GW 0 = connected
 *   quit
 *
 * Snapshots hold an rte_fib, so EAL runs first: no hugepages, in memory
 * only (--no-shconf), its log on stderr (stdout carries the answers).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_log.h>

#include "netlink.h"
#include "../lib/eal_rundir.h"

#define MAX_ARGS 8

static struct sh_nl *nl;
static struct sh_fib *fib;

static const char *const result_name[] = {
	[SH_FIB_OK] = "ok",
	[SH_FIB_NO_ROUTE] = "no_route",
	[SH_FIB_NO_NEIGH] = "no_neigh",
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

static int parse_prefix(const char *s, uint32_t *ip, uint8_t *len)
{
	char buf[64];
	char *slash;
	long l;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash == NULL)
		return -EINVAL;
	*slash = '\0';
	l = strtol(slash + 1, NULL, 10);
	if (l < 0 || l > 32)
		return -EINVAL;
	*len = (uint8_t)l;
	return parse_ip(buf, ip);
}

static int ifindex_of(const char *name)
{
	unsigned i = if_nametoindex(name);

	return i == 0 ? -ENODEV : (int)i;
}

/* Apply pending events; rebuild the snapshot when they changed anything
 * (or when there is none yet). Returns sh_nl_process()'s result. */
static int refresh(void)
{
	int ret = sh_nl_process(nl);

	if (ret < 0)
		return ret;
	if (ret > 0 || fib == NULL) {
		struct sh_fib *f = sh_nl_fib_build(nl);

		if (f == NULL)
			return -errno;
		sh_fib_free(fib);
		fib = f;
	}
	return ret;
}

static void wait_readable(long ms)
{
	struct pollfd p = { .fd = sh_nl_fd(nl), .events = POLLIN };

	poll(&p, 1, ms < 0 ? 0 : (int)ms);
}

static void cmd_settle(long ms)
{
	long end = now_ms() + ms;
	int ret = 0, changed = 0;
	struct sh_nl_stats st;

	while (now_ms() < end) {
		struct pollfd p = { .fd = sh_nl_fd(nl), .events = POLLIN };

		ret = refresh();
		if (ret < 0)
			break;
		changed |= ret;
		if (poll(&p, 1, 200) == 0)
			break;
	}
	sh_nl_stats_get(nl, &st);
	if (ret < 0) {
		printf("err %s\n", strerror(-ret));
		return;
	}
	printf("ok changed=%d overruns=%llu resyncs=%llu neigh_full=%llu\n",
	       changed, (unsigned long long)st.overruns,
	       (unsigned long long)st.resyncs,
	       (unsigned long long)st.neigh_full);
}

/* expect DST RESULT [IF NH [MAC]] MS */
static void cmd_expect(char **av, int ac)
{
	uint32_t dst, want_nh = 0, nh = 0;
	int want_if = 0, ifindex = 0;
	uint8_t want_mac[6], mac[6] = { 0 };
	bool check_mac = false;
	enum sh_fib_result r = SH_FIB_NO_ROUTE;
	char nhs[INET_ADDRSTRLEN] = "-";
	long start, end;
	int want = -1;

	if (ac != 4 && ac != 6 && ac != 7) {
		printf("err usage\n");
		return;
	}
	for (int i = 0; i < 3; i++)
		if (strcmp(av[2], result_name[i]) == 0)
			want = i;
	if (want < 0 || parse_ip(av[1], &dst) < 0) {
		printf("err bad argument\n");
		return;
	}
	if (ac >= 6) {
		want_if = ifindex_of(av[3]);
		if (want_if < 0 || parse_ip(av[4], &want_nh) < 0) {
			printf("err bad interface or next hop\n");
			return;
		}
	}
	if (ac == 7) {
		check_mac = true;
		if (sscanf(av[5], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &want_mac[0],
			   &want_mac[1], &want_mac[2], &want_mac[3],
			   &want_mac[4], &want_mac[5]) != 6) {
			printf("err bad mac\n");
			return;
		}
	}
	start = now_ms();
	end = start + strtol(av[ac - 1], NULL, 10);
	for (;;) {
		int ret = refresh();

		if (ret < 0) {
			printf("err %s\n", strerror(-ret));
			return;
		}
		memset(mac, 0, sizeof(mac));
		r = sh_fib_lookup(fib, 0, dst, &ifindex, &nh, mac);
		if ((int)r == want &&
		    (want_if == 0 || (ifindex == want_if && nh == want_nh)) &&
		    (!check_mac || memcmp(mac, want_mac, 6) == 0)) {
			printf("ok %ld ms\n", now_ms() - start);
			return;
		}
		if (now_ms() >= end)
			break;
		wait_readable(end - now_ms());
	}
	if (r != SH_FIB_NO_ROUTE)
		inet_ntop(AF_INET, &nh, nhs, sizeof(nhs));
	printf("fail got %s ifindex %d nexthop %s mac %02x:%02x:%02x:%02x:%02x:%02x\n",
	       result_name[r], r == SH_FIB_NO_ROUTE ? 0 : ifindex, nhs, mac[0],
	       mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static void cmd_neigh_count(const char *prefix)
{
	uint32_t net, mask;
	uint8_t len;
	unsigned n = 0;
	int ret;

	if (parse_prefix(prefix, &net, &len) < 0) {
		printf("err bad prefix\n");
		return;
	}
	ret = refresh();
	if (ret < 0) {
		printf("err %s\n", strerror(-ret));
		return;
	}
	mask = len == 0 ? 0 : htonl(UINT32_MAX << (32 - len));
	for (uint32_t i = 0; i <= fib->neigh_mask; i++)
		if (fib->neigh[i].ip != 0 && (fib->neigh[i].ip & mask) == net)
			n++;
	printf("ok %u\n", n);
}

#define SPREAD_MAX_NH 16

/* spread DST N MS */
static void cmd_spread(const char *dst_s, long n, long ms)
{
	uint32_t dst, used[SPREAD_MAX_NH];
	unsigned count[SPREAD_MAX_NH], n_used = 0;
	long end = now_ms() + ms;
	char a[INET_ADDRSTRLEN];
	uint8_t mac[6];
	int ifindex;

	if (parse_ip(dst_s, &dst) < 0 || n <= 0 || n > 100000) {
		printf("err bad argument\n");
		return;
	}
	for (;;) {
		uint32_t nh;
		int ret = refresh();

		if (ret < 0) {
			printf("err %s\n", strerror(-ret));
			return;
		}
		if (sh_fib_lookup(fib, 0, dst, &ifindex, &nh, mac) !=
		    SH_FIB_NO_ROUTE)
			break;
		if (now_ms() >= end) {
			printf("fail no route\n");
			return;
		}
		wait_readable(end - now_ms());
	}
	for (long i = 0; i < n; i++) {
		uint32_t src = htonl(0xc6120000u + (uint32_t)i), nh1, nh2;
		int if2;
		unsigned k;

		sh_fib_lookup(fib, src, dst, &ifindex, &nh1, mac);
		sh_fib_lookup(fib, src, dst, &if2, &nh2, mac);
		if (nh1 != nh2 || ifindex != if2) {
			printf("fail source %ld changed path\n", i);
			return;
		}
		for (k = 0; k < n_used && used[k] != nh1; k++)
			;
		if (k == n_used) {
			if (n_used == SPREAD_MAX_NH) {
				printf("fail too many next hops\n");
				return;
			}
			used[n_used] = nh1;
			count[n_used++] = 0;
		}
		count[k]++;
	}
	printf("ok");
	for (unsigned k = 0; k < n_used; k++)
		printf(" %s=%u", inet_ntop(AF_INET, &used[k], a, sizeof(a)),
		       count[k]);
	printf("\n");
}

static void reply(int ret)
{
	if (ret < 0)
		printf("err %s\n", strerror(-ret));
	else
		printf("ok\n");
}

static void run(char **av, int ac)
{
	const char *c = av[0];
	uint32_t ip, gw;
	uint8_t len;
	int ifx = ac > 1 ? ifindex_of(av[1]) : -EINVAL;

	if (strcmp(c, "open") == 0 && ac >= 2 && ac - 1 <= SH_NL_MAX_IFS) {
		int ifs[SH_NL_MAX_IFS];

		for (int i = 1; i < ac; i++) {
			ifs[i - 1] = ifindex_of(av[i]);
			if (ifs[i - 1] < 0) {
				reply(ifs[i - 1]);
				return;
			}
		}
		nl = sh_nl_open(ifs, (unsigned)ac - 1);
		reply(nl == NULL ? -errno : 0);
	} else if (nl == NULL) {
		printf("err not open\n");
	} else if (strcmp(c, "rcvbuf") == 0 && ac == 2) {
		int v = atoi(av[1]);
		socklen_t sl = sizeof(v);

		if (setsockopt(sh_nl_fd(nl), SOL_SOCKET, SO_RCVBUF, &v,
			       sizeof(v)) < 0 ||
		    getsockopt(sh_nl_fd(nl), SOL_SOCKET, SO_RCVBUF, &v, &sl) < 0)
			reply(-errno);
		else
			printf("ok %d\n", v);
	} else if (strcmp(c, "settle") == 0 && ac == 2) {
		cmd_settle(strtol(av[1], NULL, 10));
	} else if (strcmp(c, "expect") == 0) {
		cmd_expect(av, ac);
	} else if (strcmp(c, "neigh_count") == 0 && ac == 2) {
		cmd_neigh_count(av[1]);
	} else if (strcmp(c, "routes") == 0 && ac == 1) {
		int ret = refresh();

		if (ret < 0)
			reply(ret);
		else
			printf("ok %u\n", sh_fib_route_count(fib, NULL));
	} else if (strcmp(c, "spread") == 0 && ac == 4) {
		cmd_spread(av[1], strtol(av[2], NULL, 10),
			   strtol(av[3], NULL, 10));
	} else if (strcmp(c, "resolve") == 0 && ac == 3) {
		reply(ifx < 0 ? ifx : parse_ip(av[2], &ip) < 0 ? -EINVAL :
				      sh_nl_resolve(nl, ifx, ip));
	} else if (strcmp(c, "linkup") == 0 && ac == 2) {
		reply(ifx < 0 ? ifx : sh_nl_link_up(nl, ifx));
	} else if (strcmp(c, "addr") == 0 && ac == 3) {
		reply(ifx < 0 ? ifx : parse_prefix(av[2], &ip, &len) < 0 ?
				      -EINVAL : sh_nl_addr_add(nl, ifx, ip, len));
	} else if (strcmp(c, "route") == 0 && ac == 4) {
		if (ifx < 0 || parse_prefix(av[2], &ip, &len) < 0 ||
		    parse_ip(av[3], &gw) < 0)
			reply(ifx < 0 ? ifx : -EINVAL);
		else
			reply(sh_nl_route_add(nl, ifx, ip, len, gw));
	} else {
		printf("err unknown command\n");
	}
}

int main(void)
{
	char prefix[64], rundir[PATH_MAX], *eal[] = { "nl_probe", "--no-huge", "--no-shconf",
				    "-m", "256", "--no-pci", "--no-telemetry",
				    "--log-level=*:error", "--file-prefix", prefix,
				    NULL };
	char line[512];

	snprintf(prefix, sizeof(prefix), "nl_probe_%d", (int)getpid());
	rte_openlog_stream(stderr);
	if (rte_eal_init(10, eal) < 0) {
		fprintf(stderr, "nl_probe: EAL init failed\n");
		return 1;
	}

	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *av[MAX_ARGS], *save = NULL;
		int ac = 0;

		for (char *t = strtok_r(line, " \t\n", &save);
		     t != NULL && ac < MAX_ARGS; t = strtok_r(NULL, " \t\n", &save))
			av[ac++] = t;
		if (ac == 0)
			continue;
		if (strcmp(av[0], "quit") == 0)
			break;
		run(av, ac);
		fflush(stdout);
	}
	sh_fib_free(fib);
	sh_nl_close(nl);
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	sh_rundir_remove(rundir);
	return 0;
}
