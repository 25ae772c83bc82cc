/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data ports: attach a device by its config string, size its pool on the
 * port's NUMA node, configure one RX and one TX queue per worker, start.
 * Main lcore only, before the workers launch. Returns 0 or -errno.
 */
#ifndef SHOAL_PORT_H
#define SHOAL_PORT_H

#include <stdint.h>

#include <rte_mempool.h>

#include "config.h"
#include "nat/steer.h"

/* Attach @devargs (PCI address or vdev string) and return its port id. */
int sh_port_attach(const char *devargs, uint16_t *port_id);

/* How a multi-queue port should spread packets over its queues. */
enum sh_rss {
	SH_RSS_NONE = 0, /* whatever the device does (kernel mirrors) */
	SH_RSS_CLIENT,   /* by IPv4 source only: the inside port */
	SH_RSS_TUPLE,    /* by IPv4 addresses and TCP/UDP ports: the outside */
};

/*
 * Configure and start @port_id with @n_queues RX/TX queues fed from a
 * pool on the port's socket: @mbufs buffers, or 0 for 8191 per queue
 * pair (enough for the rings; a pcap replay with infinite_rx holds its
 * whole file in mbufs and needs [engine] mbufs).
 * With @n_queues > 1 and @rss != SH_RSS_NONE, ask for Toeplitz RSS with a
 * random key and a round-robin redirection table, read both back and
 * describe them in @steer (nat_steer_rss); a device without usable RSS
 * gets nat_steer_soft() and the workers hand packets to their owners.
 * @steer may be NULL with SH_RSS_NONE. -EINVAL when the device has fewer
 * than @n_queues queues.
 */
int sh_port_start(uint16_t port_id, unsigned n_queues, uint32_t mbufs,
		  uint16_t mtu, enum sh_rss rss, struct nat_steer *steer);

/* The RSS key of the outside port: sh_port_start() uses the one stored
 * here when its length fits the device, else draws one and stores it.
 * The engine keeps it in the state file across restarts. *@len points
 * at the length (0: none). */
#define SH_RSS_KEY_MAX 64
uint8_t *sh_port_rss_key(uint8_t **len);

/* RX/TX queue pairs @port_id can have (at least 1). */
unsigned sh_port_max_queues(uint16_t port_id);

void sh_port_stop(uint16_t port_id);

/*
 * Create and start the kernel mirror of a data port (exception path):
 * virtio-user over vhost-net when /dev/vhost-net exists (or when asked),
 * the TAP PMD otherwise, named @pc->mirror and carrying @mac, with
 * @n_queues queue pairs or as many as the PMD allows if fewer (*@queues
 * says how many). @index makes the vdev name unique. Returns 0 and the
 * mirror's port id, or -errno (-ENOENT: virtio-user asked for but no
 * vhost-net).
 */
int sh_port_mirror(const struct sh_port_cfg *pc, const uint8_t mac[6],
		   unsigned index, unsigned n_queues, uint32_t mbufs,
		   uint16_t *port_id, uint16_t *queues);

#endif /* SHOAL_PORT_H */
