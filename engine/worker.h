/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Worker lcores: the burst loop around the NAT core.
 *
 * One struct sh_worker per worker lcore, cache aligned and written only by
 * that lcore (its queues, TX buffers, token buckets, handoff staging, NAT
 * state and counters). Worker i owns queue i of every data port and of
 * every kernel mirror that has that many queues; a packet that reaches a
 * worker other than its owner (nat_pkt_owner()) is handed to the owner
 * over an SPSC ring (handoff.h). The main lcore reads the counters without locks (aligned
 * 64-bit loads) and publishes new snapshots of the leases and of the
 * kernel's routes and neighbours through the pointers below (RCU: workers
 * report a quiescent state once per loop iteration; the main lcore frees
 * an old snapshot only after rte_rcu_qsbr_synchronize()).
 */
#ifndef SHOAL_WORKER_H
#define SHOAL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "config.h"
#include "handoff.h"
#include "nat/nat.h"
#include "fib.h"

#define SH_BURST 32
#define SH_NO_MIRROR UINT16_MAX

enum sh_side { SH_INSIDE = 0, SH_OUTSIDE = 1, SH_SIDES };

struct sh_txbuf {
	uint16_t n;
	uint32_t bytes; /* data ports: the packets' bytes (tx_data) */
	struct rte_mbuf *pkts[SH_BURST];
};

/* Token bucket in milli-tokens, refilled from the worker's ms clock. */
struct sh_bucket {
	uint64_t tokens; /* x1000 */
	uint64_t burst;  /* x1000 */
	uint32_t rate;   /* tokens per second; 0 = unlimited */
	uint32_t last;   /* ms */
};

/* What a worker needs to know about one data port and its mirror. */
struct sh_port {
	uint16_t port_id;
	uint16_t mirror_id;   /* kernel mirror ethdev, or SH_NO_MIRROR */
	uint16_t mirror_queues; /* queue pairs the mirror has (<= workers) */
	int mirror_ifindex;   /* its Linux interface, 0 without one */
	struct rte_ether_addr mac;      /* our own (the mirror's too) */
	struct rte_ether_addr next_hop; /* static peer, if configured */
	bool has_next_hop;
	uint16_t mtu; /* largest IPv4 packet sent on the port ([side] mtu) */
};

/* A neighbour resolution request: ifindex << 32 | next hop (network
 * order), carried through an rte_ring as a pointer-sized value. */
#define SH_RESOLVE_REQ(ifx, ip) ((void *)(uintptr_t)((uint64_t)(ifx) << 32 | (ip)))

#define SH_RESOLVE_CACHE 64

/* Packets held while the kernel resolves their next hop (as Linux's own
 * ARP queue does), so the first packet of a flow, a TCP SYN, is not lost
 * to a second-long retransmit. Bounded in count and in time. */
#define SH_PENDING 64
#define SH_PENDING_MS 1000

struct sh_pending {
	struct rte_mbuf *m;
	uint32_t src;   /* the flow's source (multipath choice) */
	uint32_t dst;   /* the destination the next hop is for */
	uint32_t since; /* ms */
	uint8_t side;   /* output side */
};

/* A fragment held until its datagram's first fragment arrives (frag.h);
 * the NAT core bounds their number to NAT_FRAG_HOLD_MAX. */
struct sh_frag_held {
	struct rte_mbuf *m;
	uint32_t since; /* ms */
	uint16_t l2_len;
	uint8_t ihl;
	uint8_t side;
};

/*
 * What a reload changes in a running worker. main.c publishes a new one
 * to every worker (rcu.h) and frees the old after the grace period; the
 * worker copies it at the top of its loop when @gen moved (compared by
 * generation, not by address, which malloc may hand out again).
 */
struct sh_tunables {
	uint64_t gen;
	struct nat_params nat;        /* nat_worker_tune()'s fields */
	uint32_t punt_rate[SH_SIDES]; /* this worker's share, packets/s */
	uint32_t idle_sleep_us;       /* [engine] idle_sleep_us */
};

struct sh_worker {
	unsigned lcore;
	uint16_t queue; /* worker index: RX and TX queue on every port */
	uint16_t n_workers;
	struct sh_port port[SH_SIDES];
	const struct nat_steer *steer[SH_SIDES]; /* read-only, shared */
	struct nat_worker *nat;
	/* Handoff (n_workers > 1): staging towards each worker, indexed by
	 * worker, and the rings from each other worker (NULL for itself). */
	struct sh_handoff_out *ho_out;
	struct rte_ring *ho_in[SH_CFG_MAX_WORKERS];
	const struct nat_lease_set *leases; /* RCU-published */
	const struct sh_fib *fib;           /* RCU-published; NULL: none yet */
	const struct sh_tunables *tunables; /* RCU-published; NULL: none */
	uint64_t tunables_gen;              /* the generation applied */
	struct rte_rcu_qsbr *qsbr;
	unsigned qsbr_id;
	struct rte_ring *resolve; /* to the main lcore (multi-producer) */
	struct {
		uint32_t ip, ms;
	} asked[SH_RESOLVE_CACHE]; /* recent resolution requests */
	struct sh_pending pending[SH_PENDING];
	unsigned n_pending;
	const struct sh_fib *pending_fib; /* snapshot last tried */
	uint32_t pending_checked;          /* ms */
	struct sh_frag_held frag_held[NAT_FRAG_HOLD_MAX];
	unsigned n_frag_held;
	uint32_t frag_checked; /* ms of the last retry pass */
	struct sh_txbuf tx[SH_SIDES];     /* to the data ports */
	struct sh_txbuf to_kernel[SH_SIDES];
	struct sh_bucket punt[SH_SIDES];
	struct sh_bucket icmp; /* time exceeded, fragmentation needed */
	uint64_t started_tsc, stopped_tsc;
	/* TSC of the first and the latest turn that translated a packet:
	 * the forwarding gap of a handover or restart (takeover.h), and the
	 * translations counted when last looked. */
	uint64_t first_tx_tsc, last_tx_tsc;
	uint64_t xlated;
	/* Added to the TSC's milliseconds: the worker clock continues the
	 * clock of the process whose flows it adopted (state.h). */
	uint32_t clock_base;
	/* The mbuf flag (a DPDK dynamic flag) that marks a packet a fleet
	 * peer carried here: never carried on again (worker.c fleet_decap). */
	uint64_t peer_flag;
	uint32_t idle_sleep_us; /* 0: never sleep (sh_tunables) */
	/* Poll-loop iterations: the main lcore's proof of progress for the
	 * service watchdog (notify.h). Plain stores by this worker only. */
	uint64_t loops;
	/* What the worker itself counts (I/O, handoff, and the drop of every
	 * packet it refuses); the NAT core counts translations and flows in
	 * nat->cnt. Readers add both (sh_stats_sum()). */
	uint64_t cnt[SH_COUNTER_MAX] __attribute__((aligned(64)));
} __attribute__((aligned(64)));

extern volatile bool force_quit;

/* Set a bucket to @rate tokens/s with a burst of a tenth of a second (at
 * least one token). Each worker gets 1/N of a side's rate, so the burst
 * too must not have a floor that N workers would multiply. */
void sh_bucket_init(struct sh_bucket *b, uint32_t rate);

/* lcore entry point; @arg is the worker's struct sh_worker. */
int sh_worker_main(void *arg);

#endif /* SHOAL_WORKER_H */
