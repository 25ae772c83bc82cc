/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "log.h"
#include "port.h"

RTE_LOG_REGISTER_SUFFIX(sh_logtype_port, port, INFO);

#define SH_RX_DESC 1024
#define SH_TX_DESC 1024
#define SH_POOL_CACHE 256
/*
 * Queue pairs a kernel mirror gets at most. virtio-user accepts 8
 * (VIRTIO_MAX_VIRTQUEUE_PAIRS). The TAP PMD claims 16, but DPDK 22.11's
 * starts a TAP by putting every RX and TX queue's fd into one
 * multi-process message that holds 8 (RTE_MP_MAX_FD_NUM): with more than
 * 4 queue pairs it writes past the array and aborts ("Cannot send more
 * than 8 FDs", "stack smashing detected"). Workers beyond the mirror's
 * queues punt through a worker that has one (handoff.h).
 */
#define SH_VIRTIO_USER_MAX_QUEUES 8
#define SH_TAP_MAX_QUEUES 4

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

/* Data room for a frame of @frame bytes: the default room up to 2048,
 * 1 KiB steps above (one segment per frame: the workers linearize
 * chains). */
static uint16_t room_for(uint32_t frame)
{
	uint32_t need = RTE_ALIGN_CEIL(frame, 1024);

	return (uint16_t)(RTE_PKTMBUF_HEADROOM +
			  RTE_MAX(need, (uint32_t)RTE_MBUF_DEFAULT_DATAROOM));
}

/*
 * The largest frame @info's device may deliver, beyond an MTU's worth:
 * net_af_packet hands over what the kernel reassembled (DPDK 22.11 joins
 * a fanout group with PACKET_FANOUT_FLAG_DEFRAG, always), up to its
 * framesz devarg, and its queue setup insists that a frame fits one mbuf.
 * 0 for every other device.
 */
static uint32_t rx_frame(const struct rte_eth_dev_info *info)
{
	const struct rte_devargs *da;
	const char *s;

	if (!info->driver_name || strcmp(info->driver_name, "net_af_packet") ||
	    !info->device)
		return 0;
	da = rte_dev_devargs(info->device);
	if (!da || !da->drv_str || !(s = strstr(da->drv_str, "framesz=")))
		return 0;
	return (uint32_t)RTE_MIN(strtoul(s + 8, NULL, 10), 65535ul);
}

static struct rte_mempool *pool_for(int socket, unsigned n_queues,
				    uint32_t mbufs, uint32_t frame)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	uint16_t room = room_for(frame);
	struct rte_mempool *mp;
	/* Per socket, shared by both ports: per queue pair, two ports' RX and
	 * TX rings (4096) plus bursts in flight and the lcore cache, rounded
	 * to 2^k - 1 as the mempool prefers. */
	unsigned n = mbufs ? mbufs : 8192 * n_queues - 1;

	/* One pool per socket and buffer size: ports of one MTU share. */
	if (room == room_for(0))
		snprintf(name, sizeof(name), "sh_mbuf_%d", socket);
	else
		snprintf(name, sizeof(name), "sh_mbuf_%d_%u", socket, room);
	mp = rte_mempool_lookup(name);
	if (mp)
		return mp;
	return rte_pktmbuf_pool_create(name, n, SH_POOL_CACHE, 0,
				       room, socket);
}

/* The outside (SH_RSS_TUPLE) port's RSS key: kept across a restart
 * (sh_port_rss_key), since flows belong to the worker the key sends
 * their return packets to. */
static uint8_t rss_key[SH_RSS_KEY_MAX], rss_key_len;

uint8_t *sh_port_rss_key(uint8_t **len)
{
	*len = &rss_key_len;
	return rss_key;
}

unsigned sh_port_max_queues(uint16_t port_id)
{
	struct rte_eth_dev_info info;
	unsigned n;

	if (rte_eth_dev_info_get(port_id, &info) < 0)
		return 1;
	n = info.max_rx_queues < info.max_tx_queues ? info.max_rx_queues
						    : info.max_tx_queues;
	return n ? n : 1;
}

/* The hash types asked for: see docs/DESIGN.md "Several workers". */
static uint64_t rss_types(enum sh_rss rss)
{
	if (rss == SH_RSS_CLIENT)
		return RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_L3_SRC_ONLY;
	return RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
	       RTE_ETH_RSS_NONFRAG_IPV4_UDP;
}

/*
 * After start: spread the redirection table round-robin over the queues,
 * then read key, hash types and table back and build @steer from what the
 * device reports. Any step the device refuses leaves the soft steer: the
 * handoff then does the steering, correct either way.
 */
static void rss_steer(uint16_t port_id, const struct rte_eth_dev_info *info,
		      unsigned n_queues, enum sh_rss rss, struct nat_steer *steer)
{
	struct rte_eth_rss_reta_entry64 reta[NAT_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	uint16_t table[NAT_RETA_MAX];
	uint8_t key[64];
	struct rte_eth_rss_conf conf = { .rss_key = key, .rss_key_len = sizeof(key) };
	unsigned size = info->reta_size, i;

	if (size < RTE_ETH_RETA_GROUP_SIZE || size > NAT_RETA_MAX ||
	    (size & (size - 1)))
		return;
	memset(reta, 0, sizeof(reta));
	for (i = 0; i < size; i++) {
		reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |=
			1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
		reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
			(uint16_t)(i % n_queues);
	}
	if (rte_eth_dev_rss_reta_update(port_id, reta, (uint16_t)size) < 0 ||
	    rte_eth_dev_rss_reta_query(port_id, reta, (uint16_t)size) < 0 ||
	    rte_eth_dev_rss_hash_conf_get(port_id, &conf) < 0)
		return;
	/* Only the exact types asked for make the engine's model the NIC's. */
	if ((conf.rss_hf & rss_types(rss)) != rss_types(rss))
		return;
	for (i = 0; i < size; i++)
		table[i] = reta[i / RTE_ETH_RETA_GROUP_SIZE]
				   .reta[i % RTE_ETH_RETA_GROUP_SIZE];
	nat_steer_rss(steer, n_queues,
		      rss == SH_RSS_CLIENT ? NAT_RSS_INPUT_IN : NAT_RSS_INPUT_OUT,
		      key, conf.rss_key_len, table, size);
}

/*
 * @data: a data port, whose L4 checksums the workers check (nat_parse).
 * Ask it for the RX checksum offloads it has, each on its own (virtio
 * offers TCP and UDP but not IPv4: asking for all three would fail the
 * configure). On virtio that also lets the host deliver checksum-partial
 * packets marked RX_L4_CKSUM_NONE instead of summing them first. Not on
 * a kernel mirror: Linux's own packets leave unparsed (rx_kernel), so
 * the mirror must hand over finished checksums.
 */
static int port_start(uint16_t port_id, unsigned n_queues, uint32_t mbufs,
		      uint16_t mtu, enum sh_rss rss, struct nat_steer *steer,
		      bool data)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	struct rte_mempool *mp;
	uint16_t nrx = SH_RX_DESC, ntx = SH_TX_DESC, q;
	uint8_t key[SH_RSS_KEY_MAX];
	bool want_rss;
	int socket, ret;

	if (steer)
		nat_steer_soft(steer, n_queues);
	ret = rte_eth_dev_info_get(port_id, &info);
	if (ret < 0)
		return ret;
	if (info.max_rx_queues < n_queues || info.max_tx_queues < n_queues)
		return -EINVAL;
	socket = rte_eth_dev_socket_id(port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	/* An MTU's packet with Ethernet and one 802.1Q tag, or more. */
	mp = pool_for(socket, n_queues, mbufs,
		      RTE_MAX((uint32_t)mtu + 18, rx_frame(&info)));
	if (!mp)
		return -rte_errno;

	want_rss = n_queues > 1 && rss != SH_RSS_NONE &&
		   (info.flow_type_rss_offloads & rss_types(rss)) == rss_types(rss);
	if (want_rss) {
		/* A key of our own, random per boot, so that no client can aim
		 * traffic at one queue. */
		uint8_t len = info.hash_key_size ? info.hash_key_size : 40;

		if (len > sizeof(key))
			want_rss = false;
		else if (rss_key_len == len)
			memcpy(key, rss_key, len); /* the previous process's */
		else if (getrandom(key, len, 0) != len)
			want_rss = false;
		if (want_rss && rss == SH_RSS_TUPLE) {
			memcpy(rss_key, key, len);
			rss_key_len = len;
		}
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf = (struct rte_eth_rss_conf){
			.rss_key = want_rss ? key : NULL,
			.rss_key_len = want_rss ? len : 0,
			.rss_hf = rss_types(rss),
		};
	} else if (n_queues > 1 && info.flow_type_rss_offloads) {
		/* Spread somehow; the handoff finds the owners. */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
			info.flow_type_rss_offloads;
	}
	if (data)
		conf.rxmode.offloads |=
			info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM;

	ret = rte_eth_dev_configure(port_id, (uint16_t)n_queues,
				    (uint16_t)n_queues, &conf);
	if (ret < 0)
		return ret;
	/* The device's MTU, so that it takes what the link carries (and,
	 * on af_packet or TAP, so that the kernel interface agrees). A
	 * device that refuses keeps its own: the workers still hold what
	 * they send to @mtu. */
	ret = rte_eth_dev_set_mtu(port_id, mtu);
	if (ret < 0) {
		char name[RTE_ETH_NAME_MAX_LEN] = "";

		rte_eth_dev_get_name_by_port(port_id, name);
		SH_LOG(NOTICE, port, "%s: device refused mtu %u (%s); the "
		       "engine still sends no larger packets\n", name, mtu,
		       strerror(-ret));
	}
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
	if (want_rss && steer)
		rss_steer(port_id, &info, n_queues, rss, steer);
	/* Return traffic is addressed to slice addresses, not our MAC. */
	ret = rte_eth_promiscuous_enable(port_id);
	if (ret < 0 && ret != -ENOTSUP)
		return ret;
	return 0;
}

int sh_port_start(uint16_t port_id, unsigned n_queues, uint32_t mbufs,
		  uint16_t mtu, enum sh_rss rss, struct nat_steer *steer)
{
	return port_start(port_id, n_queues, mbufs, mtu, rss, steer, true);
}

int sh_port_mirror(const struct sh_port_cfg *pc, const uint8_t mac[6],
		   unsigned index, unsigned n_queues, uint32_t mbufs,
		   uint16_t *port_id, uint16_t *queues)
{
	char devargs[256], m[18];
	bool vhost = access("/dev/vhost-net", R_OK | W_OK) == 0, virtio;
	unsigned cap;
	int ret;

	snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	if (pc->exception == SH_EXC_VIRTIO_USER && !vhost)
		return -ENOENT;
	virtio = pc->exception == SH_EXC_VIRTIO_USER ||
		 (pc->exception == SH_EXC_AUTO && vhost);
	cap = virtio ? SH_VIRTIO_USER_MAX_QUEUES : SH_TAP_MAX_QUEUES;
	if (n_queues > cap)
		n_queues = cap;
	if (virtio)
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
	if (n_queues > sh_port_max_queues(*port_id))
		n_queues = sh_port_max_queues(*port_id);
	*queues = (uint16_t)n_queues;
	return port_start(*port_id, n_queues, mbufs, (uint16_t)pc->mtu,
			  SH_RSS_NONE, NULL, false);
}

void sh_port_stop(uint16_t port_id)
{
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
}
