/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The burst loop (one shape, as in DPDK's l3fwd):
 *   1. advance the worker clock from the TSC;
 *   2. load the lease set once for the whole iteration (RCU reader);
 *   3. per port: rx burst, skip empty, prefetch ahead, translate each
 *      packet, buffer it on the other port's TX queue or count its drop;
 *   4. flush TX buffers (every iteration: the loop is short, so the
 *      deadline is the loop itself and never leaves packets waiting);
 *   5. run the expiry clock hand over a bounded slice of the flow table,
 *      paced by time so the whole table is visited about once a second
 *      whatever the load (a fixed slice per iteration would spend the
 *      most when the loop is busiest).
 */
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_prefetch.h>

#include "worker.h"

/* At most this many flow entries are inspected per loop iteration, so one
 * iteration never stalls behind the sweep (64 entries are 2 KiB). */
#define SH_EXPIRE_BUDGET 64
#define SH_PREFETCH_AHEAD 3

static void tx_flush(struct sh_worker *wk, enum sh_side side)
{
	struct sh_txbuf *b = &wk->tx[side];
	uint16_t sent;

	if (b->n == 0)
		return;
	sent = rte_eth_tx_burst(wk->port[side].port_id, wk->queue, b->pkts, b->n);
	wk->nat->cnt[side == SH_INSIDE ? SH_CNT_TX_INSIDE : SH_CNT_TX_OUTSIDE] +=
		sent;
	if (unlikely(sent < b->n)) {
		wk->nat->cnt[SH_DROP_TX_FULL] += b->n - sent;
		rte_pktmbuf_free_bulk(&b->pkts[sent], b->n - sent);
	}
	b->n = 0;
}

static inline void tx_enqueue(struct sh_worker *wk, enum sh_side side,
			      struct rte_mbuf *m)
{
	struct sh_txbuf *b = &wk->tx[side];

	b->pkts[b->n++] = m;
	if (b->n == SH_BURST)
		tx_flush(wk, side);
}

/* Translate one packet received on @from; returns the verdict. */
static inline unsigned handle(struct sh_worker *wk,
			      const struct nat_lease_set *ls,
			      enum sh_side from, struct rte_mbuf *m)
{
	const struct sh_port *out = &wk->port[from ^ 1];
	struct rte_ether_hdr *eth;
	struct nat_pkt p;
	unsigned v;

	if (unlikely(m->nb_segs > 1) && rte_pktmbuf_linearize(m) < 0)
		return SH_DROP_L2_MALFORMED;
	v = nat_parse(&p, rte_pktmbuf_mtod(m, uint8_t *), m->data_len,
		      (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
			      RTE_MBUF_F_RX_L4_CKSUM_GOOD);
	if (unlikely(v != SH_OK))
		return v;
	v = from == SH_INSIDE ? nat_in2out(wk->nat, ls, &p)
			      : nat_out2in(wk->nat, ls, &p);
	if (unlikely(v != SH_OK))
		return v == NAT_KERNEL ? SH_DROP_NO_EXCEPTION_PATH : v;
	if (unlikely(!out->has_next_hop))
		return SH_DROP_NO_NEXT_HOP;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	rte_ether_addr_copy(&out->next_hop, &eth->dst_addr);
	rte_ether_addr_copy(&out->mac, &eth->src_addr);
	return SH_OK;
}

static void rx_side(struct sh_worker *wk, const struct nat_lease_set *ls,
		    enum sh_side from)
{
	struct rte_mbuf *pkts[SH_BURST];
	uint64_t *cnt = wk->nat->cnt;
	uint16_t n, i;

	n = rte_eth_rx_burst(wk->port[from].port_id, wk->queue, pkts, SH_BURST);
	if (n == 0)
		return;
	cnt[from == SH_INSIDE ? SH_CNT_RX_INSIDE : SH_CNT_RX_OUTSIDE] += n;
	for (i = 0; i < n && i < SH_PREFETCH_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		unsigned v;

		if (i + SH_PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + SH_PREFETCH_AHEAD],
						       void *));
		v = handle(wk, ls, from, pkts[i]);
		if (likely(v == SH_OK)) {
			tx_enqueue(wk, from ^ 1, pkts[i]);
		} else {
			cnt[v]++;
			rte_pktmbuf_free(pkts[i]);
		}
	}
}

int sh_worker_main(void *arg)
{
	struct sh_worker *wk = arg;
	uint64_t ms_cycles = rte_get_tsc_hz() / 1000;
	/* Entries to sweep per elapsed millisecond: the table once a second. */
	uint32_t per_ms = wk->nat->t.max_flows / 1000 + 1, debt = 0;
	uint32_t last = (uint32_t)(rte_rdtsc() / ms_cycles);

	wk->started_tsc = rte_rdtsc();
	while (!force_quit) {
		const struct nat_lease_set *ls;
		uint32_t now = (uint32_t)(rte_rdtsc() / ms_cycles), n;

		wk->nat->now = now;
		ls = __atomic_load_n(&wk->leases, __ATOMIC_ACQUIRE);
		rx_side(wk, ls, SH_INSIDE);
		rx_side(wk, ls, SH_OUTSIDE);
		tx_flush(wk, SH_INSIDE);
		tx_flush(wk, SH_OUTSIDE);

		if (now != last) {
			debt += (now - last) * per_ms;
			if (debt > wk->nat->t.max_flows)
				debt = wk->nat->t.max_flows;
			last = now;
		}
		if (debt) {
			n = debt < SH_EXPIRE_BUDGET ? debt : SH_EXPIRE_BUDGET;
			nat_expire(wk->nat, n);
			debt -= n;
		}
	}
	wk->stopped_tsc = rte_rdtsc();
	return 0;
}
