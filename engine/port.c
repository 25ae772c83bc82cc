/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "port.h"

#define SH_RX_DESC 1024
#define SH_TX_DESC 1024
#define SH_POOL_CACHE 256

int sh_port_attach(const char *devargs, uint16_t *port_id)
{
	struct rte_dev_iterator it;
	uint16_t pid;
	int ret;

	/* Already attached (e.g. given as an EAL --vdev)? */
	RTE_ETH_FOREACH_MATCHING_DEV(pid, devargs, &it) {
		*port_id = pid;
		rte_eth_iterator_cleanup(&it);
		return 0;
	}
	ret = rte_dev_probe(devargs);
	if (ret < 0)
		return ret;
	RTE_ETH_FOREACH_MATCHING_DEV(pid, devargs, &it) {
		*port_id = pid;
		rte_eth_iterator_cleanup(&it);
		return 0;
	}
	return -ENODEV;
}

static struct rte_mempool *pool_for(int socket, unsigned n_queues,
				    uint32_t mbufs)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	struct rte_mempool *mp;
	/* Per socket, shared by both ports: per queue pair, two ports' RX and
	 * TX rings (4096) plus bursts in flight and the lcore cache, rounded
	 * to 2^k - 1 as the mempool prefers. */
	unsigned n = mbufs ? mbufs : 8192 * n_queues - 1;

	snprintf(name, sizeof(name), "sh_mbuf_%d", socket);
	mp = rte_mempool_lookup(name);
	if (mp)
		return mp;
	return rte_pktmbuf_pool_create(name, n, SH_POOL_CACHE, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, socket);
}

int sh_port_start(uint16_t port_id, unsigned n_queues, uint32_t mbufs)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	struct rte_mempool *mp;
	uint16_t nrx = SH_RX_DESC, ntx = SH_TX_DESC, q;
	int socket, ret;

	ret = rte_eth_dev_info_get(port_id, &info);
	if (ret < 0)
		return ret;
	socket = rte_eth_dev_socket_id(port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	mp = pool_for(socket, n_queues, mbufs);
	if (!mp)
		return -rte_errno;

	if (n_queues > 1) {
		/* Client flows spread by 5-tuple; each stays on one worker. */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
			info.flow_type_rss_offloads;
	}
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_CHECKSUM;

	ret = rte_eth_dev_configure(port_id, (uint16_t)n_queues,
				    (uint16_t)n_queues, &conf);
	if (ret < 0)
		return ret;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nrx, &ntx);
	if (ret < 0)
		return ret;
	for (q = 0; q < n_queues; q++) {
		ret = rte_eth_rx_queue_setup(port_id, q, nrx, (unsigned)socket,
					     NULL, mp);
		if (ret < 0)
			return ret;
		ret = rte_eth_tx_queue_setup(port_id, q, ntx, (unsigned)socket,
					     NULL);
		if (ret < 0)
			return ret;
	}
	ret = rte_eth_dev_start(port_id);
	if (ret < 0)
		return ret;
	/* Return traffic is addressed to slice addresses, not our MAC. */
	ret = rte_eth_promiscuous_enable(port_id);
	if (ret < 0 && ret != -ENOTSUP)
		return ret;
	return 0;
}

int sh_port_mirror(const struct sh_port_cfg *pc, const uint8_t mac[6],
		   unsigned index, unsigned n_queues, uint32_t mbufs,
		   uint16_t *port_id)
{
	char devargs[256], m[18];
	bool vhost = access("/dev/vhost-net", R_OK | W_OK) == 0;
	int ret;

	snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	if (pc->exception == SH_EXC_VIRTIO_USER && !vhost)
		return -ENOENT;
	if (pc->exception == SH_EXC_VIRTIO_USER ||
	    (pc->exception == SH_EXC_AUTO && vhost))
		snprintf(devargs, sizeof(devargs),
			 "virtio_user_shoal%u,path=/dev/vhost-net,queues=%u,"
			 "queue_size=1024,iface=%s,mac=%s",
			 index, n_queues, pc->mirror, m);
	else
		snprintf(devargs, sizeof(devargs), "net_tap_shoal%u,iface=%s,mac=%s",
			 index, pc->mirror, m);
	ret = sh_port_attach(devargs, port_id);
	if (ret < 0)
		return ret;
	return sh_port_start(*port_id, n_queues, mbufs);
}

void sh_port_stop(uint16_t port_id)
{
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
}
