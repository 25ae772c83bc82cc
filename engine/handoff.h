/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Handoff between workers: a packet that reached a worker other than its
 * owner (nat_pkt_owner(): the client's worker inside, the outside tuple's
 * worker outside) travels to the owner over a ring.
 *
 * One single-producer/single-consumer ring per ordered pair of workers
 * (VPP's nat44-ed handoff shape, without its shared frame queues): the
 * producer stages items per destination and enqueues them in bursts once
 * per loop iteration; the consumer dequeues bursts from each of its
 * incoming rings every iteration. Rings are bounded: what does not fit is
 * freed and counted handoff_full, never left waiting. An item keeps what
 * parsing found (header offsets, side), so the owner does not parse again.
 *
 * A second use: a worker that has no queue on a kernel mirror (the mirror
 * has fewer queues than there are workers) hands the packets it punts to
 * a worker that has one (SH_HANDOFF_TO_KERNEL).
 *
 * Rings are created by the main lcore before the workers start and freed
 * after they stopped (sh_handoff_destroy() frees what is still queued).
 */
#ifndef SHOAL_HANDOFF_H
#define SHOAL_HANDOFF_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <shoal/counters.h>

#define SH_HANDOFF_BURST 32
/*
 * Entries per ring (sh_handoff_ring_size()): as many as fit a memory
 * budget for all n * (n - 1) rings, between a floor and a ceiling. A ring
 * must absorb what arrives for its consumer while that worker is not
 * running; 4096 entries are ~60 ms of a 70 Kpps TCP flow handed over on
 * a machine where workers share CPUs (512 overflowed under iperf3 there).
 */
#define SH_HANDOFF_RING_MAX 4096
#define SH_HANDOFF_RING_MIN 512
#define SH_HANDOFF_BUDGET (32u << 20) /* bytes, all rings together */

enum sh_handoff_kind {
	SH_HANDOFF_TRANSLATE = 0, /* parsed; the owner translates it */
	SH_HANDOFF_TO_KERNEL,     /* the receiver sends it to a mirror */
	SH_HANDOFF_HAIRPIN,       /* translated in2out; the owner runs it
				   * out2in as a hairpinned packet */
	SH_HANDOFF_FRAG,          /* a fragment for its flow's owner; its
				   * datagram's ports in m->hash.usr */
};

/* One handed packet, 16 bytes: the mbuf and what parsing found. */
struct sh_handoff_item {
	struct rte_mbuf *m;
	uint16_t l2_len; /* Ethernet (+ 802.1Q) */
	uint8_t ihl;     /* IPv4 header bytes */
	uint8_t side;    /* enum sh_side it arrived on (or is punted to) */
	uint8_t kind;    /* enum sh_handoff_kind */
	uint8_t pad[3];
};

/* A producer's staging buffer towards one other worker. */
struct sh_handoff_out {
	struct rte_ring *ring; /* NULL towards itself */
	uint16_t n;
	struct sh_handoff_item item[SH_HANDOFF_BURST];
};

struct sh_handoff;

/* Ring entries for @n_workers workers (see SH_HANDOFF_BUDGET). */
unsigned sh_handoff_ring_size(unsigned n_workers);

/*
 * Create the n * (n - 1) rings of @n_workers workers (@ring_size entries,
 * a power of two) on NUMA @socket. NULL with rte_errno on failure. Main
 * lcore, before the workers start.
 */
struct sh_handoff *sh_handoff_create(unsigned n_workers, unsigned ring_size,
				     int socket);

/* The ring from worker @from to worker @to (NULL when equal). */
struct rte_ring *sh_handoff_ring(const struct sh_handoff *h, unsigned from,
				 unsigned to);

/* Free every ring and every mbuf still queued on them. The workers must
 * have stopped. NULL is a no-op. */
void sh_handoff_destroy(struct sh_handoff *h);

/*
 * Enqueue @o's staged items as one burst; count what went handoff_tx and
 * what did not fit handoff_full (those mbufs are freed) in @cnt. Producer
 * worker only.
 */
void sh_handoff_flush(struct sh_handoff_out *o, uint64_t *cnt);

/* Stage @m (with its header offsets @l2_len and @ihl, @side and @kind)
 * towards @o's worker, flushing when the burst is full. The fields are
 * written in place: a whole item built elsewhere and copied would be
 * loaded before its narrow stores could be forwarded (a stall per packet
 * in perf). */
static inline void sh_handoff_put(struct sh_handoff_out *o, struct rte_mbuf *m,
				  uint16_t l2_len, uint8_t ihl, uint8_t side,
				  uint8_t kind, uint64_t *cnt)
{
	struct sh_handoff_item *it = &o->item[o->n++];

	it->m = m;
	it->l2_len = l2_len;
	it->ihl = ihl;
	it->side = side;
	it->kind = kind;
	if (o->n == SH_HANDOFF_BURST)
		sh_handoff_flush(o, cnt);
}

/* Dequeue up to SH_HANDOFF_BURST items from @r into @items, counting
 * handoff_rx in @cnt. Consumer worker only. */
static inline unsigned sh_handoff_take(struct rte_ring *r,
				       struct sh_handoff_item *items,
				       uint64_t *cnt)
{
	unsigned n = rte_ring_sc_dequeue_burst_elem(r, items, sizeof(*items),
						    SH_HANDOFF_BURST, NULL);

	cnt[SH_CNT_HANDOFF_RX] += n;
	return n;
}

#endif /* SHOAL_HANDOFF_H */
