/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Worker lcores: the burst loop around the NAT core.
 *
 * One struct sh_worker per worker lcore, cache aligned and written only by
 * that lcore (its queues, TX buffers, NAT state and counters). The main
 * lcore reads the counters without locks (aligned 64-bit loads) and may
 * publish a new lease set through sh_worker_set_leases().
 */
#ifndef SHOAL_WORKER_H
#define SHOAL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "nat/nat.h"

#define SH_BURST 32

enum sh_side { SH_INSIDE = 0, SH_OUTSIDE = 1, SH_SIDES };

struct sh_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[SH_BURST];
};

/* What a worker needs to know about one data port. */
struct sh_port {
	uint16_t port_id;
	struct rte_ether_addr mac;      /* our own */
	struct rte_ether_addr next_hop; /* peer for packets sent here */
	bool has_next_hop;
};

struct sh_worker {
	unsigned lcore;
	uint16_t queue; /* RX and TX queue index on both ports */
	struct sh_port port[SH_SIDES];
	struct nat_worker *nat;
	const struct nat_lease_set *leases; /* RCU-published, see nat.h */
	struct sh_txbuf tx[SH_SIDES];
	uint64_t started_tsc, stopped_tsc;
} __attribute__((aligned(64)));

extern volatile bool force_quit;

/* lcore entry point; @arg is the worker's struct sh_worker. */
int sh_worker_main(void *arg);

#endif /* SHOAL_WORKER_H */
