/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "linux.h"
#include "log.h"
#include "netlink.h"
#include "port.h"
#include "rcu.h"

RTE_LOG_REGISTER_SUFFIX(sh_logtype_linux, linux, INFO);

/* Requests workers may queue between two polls; excess ones are dropped
 * (the workers ask again after SH_RESOLVE_INTERVAL). */
#define SH_RESOLVE_RING 1024

struct sh_linux {
	struct sh_nl *nl;
	struct sh_fib *fib; /* published to the workers */
	struct rte_ring *resolve;
};

/* The mirror's MTU is its data port's, so that Linux's own packets fit
 * the link (the TAP PMD sets it too; virtio-user's tap keeps 1500). */
static int mirror_mtu(const struct sh_port_cfg *pc)
{
	struct ifreq ifr = { .ifr_mtu = (int)pc->mtu };
	int fd, ret = 0;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", pc->mirror);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCSIFMTU, &ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int mirror_setup(struct sh_linux *lx, const struct sh_port_cfg *pc,
			struct sh_port *p)
{
	int ret;

	ret = mirror_mtu(pc);
	if (ret < 0)
		return ret;
	ret = sh_nl_link_up(lx->nl, p->mirror_ifindex);
	if (ret < 0)
		return ret;
	if (pc->has_address) {
		ret = sh_nl_addr_add(lx->nl, p->mirror_ifindex,
				     htonl(pc->address_host), pc->address.len);
		if (ret < 0)
			return ret;
	}
	if (pc->has_gateway) {
		ret = sh_nl_route_add(lx->nl, p->mirror_ifindex, 0, 0,
				      htonl(pc->gateway));
		if (ret < 0)
			return ret;
	}
	return 0;
}

int sh_linux_start(struct sh_linux **out, const struct sh_config *cfg,
		   struct sh_port ports[SH_SIDES], unsigned n_workers,
		   const struct sh_neigh_seed *seed, unsigned n_seed,
		   char *err, size_t errlen)
{
	const struct sh_port_cfg *pcs[SH_SIDES] = { &cfg->inside, &cfg->outside };
	static const char *const names[SH_SIDES] = { "inside", "outside" };
	int ifx[SH_SIDES], ret = 0;
	struct sh_linux *lx = NULL;
	unsigned s, n = 0;

	*out = NULL;
	for (s = 0; s < SH_SIDES; s++) {
		struct sh_port *p = &ports[s];

		p->mirror_id = SH_NO_MIRROR;
		p->mirror_queues = 0;
		p->mirror_ifindex = 0;
		if (pcs[s]->exception == SH_EXC_NONE)
			continue;
		ret = sh_port_mirror(pcs[s], p->mac.addr_bytes, s, n_workers,
				     cfg->mbufs, &p->mirror_id, &p->mirror_queues);
		if (ret < 0) {
			snprintf(err, errlen, "[%s] mirror %s: %s", names[s],
				 pcs[s]->mirror, strerror(-ret));
			goto fail;
		}
		p->mirror_ifindex = (int)if_nametoindex(pcs[s]->mirror);
		if (p->mirror_ifindex == 0) {
			ret = -errno;
			snprintf(err, errlen, "[%s] mirror %s: no such interface",
				 names[s], pcs[s]->mirror);
			goto fail;
		}
		ifx[n++] = p->mirror_ifindex;
	}
	if (n == 0)
		return 0;

	lx = calloc(1, sizeof(*lx));
	if (!lx) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	lx->nl = sh_nl_open(ifx, n);
	if (!lx->nl) {
		ret = -errno;
		snprintf(err, errlen, "netlink: %s", strerror(errno));
		goto fail;
	}
	for (s = 0; s < SH_SIDES; s++) {
		if (ports[s].mirror_id == SH_NO_MIRROR)
			continue;
		ret = mirror_setup(lx, pcs[s], &ports[s]);
		if (ret < 0) {
			snprintf(err, errlen, "[%s] mirror %s set-up: %s",
				 names[s], pcs[s]->mirror, strerror(-ret));
			goto fail;
		}
	}
	for (s = 0; s < n_seed; s++) {
		const struct sh_neigh_seed *ns = &seed[s];

		/* A neighbour that no longer fits is only a lost hint. */
		if (ns->side < SH_SIDES && ports[ns->side].mirror_ifindex)
			(void)sh_nl_neigh_add(lx->nl,
					      ports[ns->side].mirror_ifindex,
					      ns->ip, ns->mac);
	}
	/* Pick up what the set-up itself changed (connected and default
	 * routes, seeded neighbours) before the first snapshot. */
	ret = sh_nl_process(lx->nl);
	if (ret >= 0)
		lx->fib = sh_nl_fib_build(lx->nl);
	if (ret < 0 || !lx->fib) {
		ret = ret < 0 ? ret : -errno;
		snprintf(err, errlen, "netlink: %s", strerror(-ret));
		goto fail;
	}
	lx->resolve = rte_ring_create("sh_resolve", SH_RESOLVE_RING,
				      SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (!lx->resolve) {
		ret = -rte_errno;
		snprintf(err, errlen, "resolve ring: %s", rte_strerror(rte_errno));
		goto fail;
	}
	*out = lx;
	return 0;

fail:
	sh_linux_stop(lx);
	return ret;
}

void sh_linux_nl_stats(const struct sh_linux *lx, struct sh_nl_stats *st)
{
	if (lx)
		sh_nl_stats_get(lx->nl, st);
	else
		*st = (struct sh_nl_stats){ 0 };
}

int sh_linux_fd(const struct sh_linux *lx)
{
	return sh_nl_fd(lx->nl);
}

unsigned sh_linux_neigh_export(const struct sh_linux *lx,
			       const struct sh_port ports[SH_SIDES],
			       struct sh_neigh_seed *out, unsigned max)
{
	const struct sh_fib *fib = lx ? lx->fib : NULL;
	unsigned n = 0, s;
	uint32_t i;

	for (i = 0; fib && i <= fib->neigh_mask && n < max; i++) {
		const struct sh_neigh *ne = &fib->neigh[i];

		if (!ne->ip)
			continue;
		for (s = 0; s < SH_SIDES; s++)
			if (ports[s].mirror_ifindex == ne->ifindex)
				break;
		if (s == SH_SIDES)
			continue;
		out[n] = (struct sh_neigh_seed){ .ip = ne->ip, .side = (uint8_t)s };
		memcpy(out[n].mac, ne->mac, 6);
		n++;
	}
	return n;
}

uint64_t sh_linux_fib_gen(const struct sh_linux *lx)
{
	return lx && lx->fib ? lx->fib->generation : 0;
}

const struct sh_fib *sh_linux_fib(const struct sh_linux *lx)
{
	return lx ? lx->fib : NULL;
}

struct rte_ring *sh_linux_resolve_ring(const struct sh_linux *lx)
{
	return lx ? lx->resolve : NULL;
}

/* Make @fib the workers' snapshot and free the one it replaces. */
static void publish(struct sh_linux *lx, struct sh_fib *fib,
		    struct sh_worker *workers, unsigned n_workers,
		    struct rte_rcu_qsbr *qsbr)
{
	struct sh_fib *old = lx->fib;

	lx->fib = fib;
	sh_rcu_publish(qsbr, &workers[0].fib, sizeof(workers[0]), n_workers,
		       fib);
	sh_fib_free(old);
}

int sh_linux_poll(struct sh_linux *lx, struct sh_worker *workers,
		  unsigned n_workers, struct rte_rcu_qsbr *qsbr, int timeout_ms)
{
	struct pollfd pfd = { .fd = sh_nl_fd(lx->nl), .events = POLLIN };
	void *req[64];
	unsigned n, i;
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0 && errno != EINTR)
		return -errno;
	if (ret > 0) {
		ret = sh_nl_process(lx->nl);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			struct sh_fib *fib = sh_nl_fib_build(lx->nl);

			if (!fib)
				return -errno;
			publish(lx, fib, workers, n_workers, qsbr);
		}
	}
	/* Bounded: one ring's worth per poll. */
	n = rte_ring_sc_dequeue_burst(lx->resolve, req, RTE_DIM(req), NULL);
	for (i = 0; i < n; i++) {
		uint64_t v = (uint64_t)(uintptr_t)req[i];

		/* Failure (e.g. interface gone) is retried by the next miss. */
		sh_nl_resolve(lx->nl, (int)(v >> 32), (uint32_t)v);
	}
	return 0;
}

void sh_linux_stop(struct sh_linux *lx)
{
	if (!lx)
		return;
	rte_ring_free(lx->resolve);
	sh_fib_free(lx->fib);
	if (lx->nl)
		sh_nl_close(lx->nl);
	free(lx);
}
