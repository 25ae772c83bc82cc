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

/* Attach @devargs (PCI address or vdev string) and return its port id. */
int sh_port_attach(const char *devargs, uint16_t *port_id);

/* Configure and start @port_id with @n_queues RX/TX queues fed from a
 * pool on the port's socket: @mbufs buffers, or 0 for 8191 per queue
 * pair (enough for the rings; a pcap replay with infinite_rx holds its
 * whole file in mbufs and needs [engine] mbufs). */
int sh_port_start(uint16_t port_id, unsigned n_queues, uint32_t mbufs);

void sh_port_stop(uint16_t port_id);

/*
 * Create and start the kernel mirror of a data port (exception path):
 * virtio-user over vhost-net when /dev/vhost-net exists (or when asked),
 * the TAP PMD otherwise, named @pc->mirror and carrying @mac, with
 * @n_queues queue pairs. @index makes the vdev name unique. Returns 0 and
 * the mirror's port id, or -errno (-ENOENT: virtio-user asked for but no
 * vhost-net).
 */
int sh_port_mirror(const struct sh_port_cfg *pc, const uint8_t mac[6],
		   unsigned index, unsigned n_queues, uint32_t mbufs,
		   uint16_t *port_id);

#endif /* SHOAL_PORT_H */
