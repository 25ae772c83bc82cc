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
 * pool on the port's socket. */
int sh_port_start(uint16_t port_id, unsigned n_queues);

void sh_port_stop(uint16_t port_id);

#endif /* SHOAL_PORT_H */
