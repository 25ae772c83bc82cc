/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The burst loop (one shape, as in DPDK's l3fwd):
 *   1. advance the worker clock from the TSC;
 *   2. load the lease set and the FIB snapshot once for the iteration;
 *   3. per data port: rx burst, skip empty, parse the burst (prefetching
 *      packet data ahead and, for large tables, flow-table lines), then
 *      translate each packet and buffer it on the other port, hand it to
 *      Linux through the port's mirror, or count its drop (rx_data);
 *      A packet another worker owns (nat_pkt_owner()) is staged for
 *      that worker's handoff ring instead (only with several workers);
 *      fragments go through virtual reassembly (nat/frag.h): held ones
 *      wait in frag_held and are retried once per millisecond;
 *   4. with several workers: dequeue what the others handed over and
 *      dispatch it like our own (already parsed);
 *   5. per mirror: rx burst of Linux's own packets, police slice sources,
 *      buffer them on the paired data port; retry packets held for an
 *      unresolved next hop;
 *   6. flush every TX buffer and handoff staging buffer (the loop is
 *      short, so it is its own drain deadline and never leaves packets
 *      waiting);
 *   7. report an RCU quiescent state;
 *   8. run the expiry clock hand over a bounded slice of the flow table,
 *      paced by time so the whole table is visited about once a second
 *      whatever the load;
 *   9. with [engine] idle_sleep_us, sleep after a turn that received
 *      nothing (no port, ring or mirror had a packet).
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_prefetch.h>

#include "nat/owner.h"
#include "worker.h"

/* At most this many flow entries are inspected per loop iteration, so one
 * iteration never stalls behind the sweep (64 entries are 2 KiB). */
#define SH_EXPIRE_BUDGET 64
#define SH_PREFETCH_AHEAD 3
/* Below this many live flows the table sits in cache and the prefetch
 * hints' extra hash per packet costs more than it saves. */
#define SH_HINT_MIN_FLOWS 16384
/* Ask the kernel about one next hop at most this often (ms). */
#define SH_RESOLVE_INTERVAL 200
/* Bursts a worker may take from one incoming handoff ring per iteration
 * (a producer stages at most one per iteration per ring). */
#define SH_HANDOFF_DRAIN 2
/* Fragments one packet may become: a 9000-byte packet on a 576-byte
 * link needs 18. */
#define SH_MAX_FRAGMENTS 20
/* rx_data's verdict for a packet staged for its owner's handoff ring, or
 * taken by the fleet (carried to its owner host, or dropped). */
#define SH_HANDED (NAT_HAIRPIN + 1)

void sh_bucket_init(struct sh_bucket *b, uint32_t rate)
{
	uint64_t burst = rate / 10 > 1 ? rate / 10 : 1;

	b->rate = rate;
	b->burst = burst * 1000;
	b->tokens = b->burst;
	b->last = 0;
}

static inline bool bucket_take(struct sh_bucket *b, uint32_t now)
{
	if (b->rate == 0)
		return true;
	if (now != b->last) {
		b->tokens += (uint64_t)(uint32_t)(now - b->last) * b->rate;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last = now;
	}
	if (b->tokens < 1000)
		return false;
	b->tokens -= 1000;
	return true;
}

/* Send what @b holds, counting packets in @counter and, on a data port
 * (TX_INSIDE, TX_OUTSIDE), their bytes: summed as tx_data queues them,
 * while each mbuf is at hand (a PMD may free what it took at once), less
 * those the burst did not take. */
static void flush(struct sh_worker *wk, struct sh_txbuf *b, uint16_t port_id,
		  unsigned counter)
{
	unsigned bytes_counter = counter == SH_CNT_TX_INSIDE ?
				 SH_CNT_TX_INSIDE_BYTES :
				 counter == SH_CNT_TX_OUTSIDE ?
				 SH_CNT_TX_OUTSIDE_BYTES : SH_OK;
	uint64_t bytes = b->bytes;
	uint16_t sent, i;

	if (b->n == 0)
		return;
	sent = rte_eth_tx_burst(port_id, wk->queue, b->pkts, b->n);
	wk->cnt[counter] += sent;
	if (unlikely(sent < b->n)) {
		wk->cnt[SH_DROP_TX_FULL] += b->n - sent;
		for (i = sent; bytes_counter != SH_OK && i < b->n; i++)
			bytes -= rte_pktmbuf_pkt_len(b->pkts[i]);
		rte_pktmbuf_free_bulk(&b->pkts[sent], b->n - sent);
	}
	if (bytes_counter != SH_OK)
		wk->cnt[bytes_counter] += bytes;
	b->n = 0;
	b->bytes = 0;
}

static inline void enqueue(struct sh_worker *wk, struct sh_txbuf *b,
			   uint16_t port_id, unsigned counter,
			   struct rte_mbuf *m)
{
	b->pkts[b->n++] = m;
	if (b->n == SH_BURST)
		flush(wk, b, port_id, counter);
}

static inline void tx_data(struct sh_worker *wk, enum sh_side side,
			   struct rte_mbuf *m)
{
	wk->tx[side].bytes += rte_pktmbuf_pkt_len(m);
	enqueue(wk, &wk->tx[side], wk->port[side].port_id,
		side == SH_INSIDE ? SH_CNT_TX_INSIDE : SH_CNT_TX_OUTSIDE, m);
}

/* Length of the Ethernet header (with its one 802.1Q tag, if any) of a
 * frame nat_parse() accepted. */
static inline uint16_t sh_l2_len(const uint8_t *frame)
{
	return ld16(frame + 12) == nat_be16(ETHERTYPE_VLAN) ? ETH_HLEN + VLAN_HLEN
							  : ETH_HLEN;
}

static inline void drop(struct sh_worker *wk, unsigned reason,
			struct rte_mbuf *m)
{
	wk->cnt[reason]++;
	rte_pktmbuf_free(m);
}

/* Hand a packet that arrived on @side to Linux through that side's mirror,
 * within the side's punt rate. @why counts it when there is no mirror. */
static void punt(struct sh_worker *wk, enum sh_side side, struct rte_mbuf *m,
		 unsigned why)
{
	const struct sh_port *p = &wk->port[side];

	if (p->mirror_id == SH_NO_MIRROR)
		return drop(wk, why, m);
	if (!bucket_take(&wk->punt[side], wk->nat->now))
		return drop(wk, SH_DROP_PUNT_POLICED, m);
	if (unlikely(wk->queue >= p->mirror_queues)) {
		/* No queue of ours on this mirror: a worker with one sends it
		 * (the punt was charged to our own share of the rate). */
		return sh_handoff_put(&wk->ho_out[wk->queue % p->mirror_queues], m,
				      0, 0, (uint8_t)side, SH_HANDOFF_TO_KERNEL,
				      wk->cnt);
	}
	enqueue(wk, &wk->to_kernel[side], p->mirror_id, SH_CNT_TO_KERNEL, m);
}

/* Remember and forward a resolution request, at most once per interval
 * per next hop (a direct-mapped cache keeps a miss storm off the ring). */
static void ask_resolve(struct sh_worker *wk, int ifindex, uint32_t nh)
{
	unsigned slot = (nh * 2654435761u) >> 26; /* SH_RESOLVE_CACHE = 64 */
	uint32_t now = wk->nat->now;

	if (wk->asked[slot].ip == nh &&
	    now - wk->asked[slot].ms < SH_RESOLVE_INTERVAL)
		return;
	wk->asked[slot].ip = nh;
	wk->asked[slot].ms = now;
	if (wk->resolve)
		rte_ring_mp_enqueue(wk->resolve, SH_RESOLVE_REQ(ifindex, nh));
}

/* Ethernet addresses for a packet from @src leaving on @to towards @dst. */
static inline unsigned set_l2(struct sh_worker *wk, const struct sh_fib *fib,
			      enum sh_side to, struct rte_mbuf *m, uint32_t src,
			      uint32_t dst)
{
	const struct sh_port *out = &wk->port[to];
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint32_t nh;
	int ifindex;

	if (out->has_next_hop) {
		rte_ether_addr_copy(&out->next_hop, &eth->dst_addr);
	} else {
		if (unlikely(!fib))
			return SH_DROP_NO_ROUTE;
		switch (sh_fib_lookup(fib, src, dst, &ifindex, &nh,
				      eth->dst_addr.addr_bytes)) {
		case SH_FIB_OK:
			if (unlikely(ifindex != out->mirror_ifindex))
				return SH_DROP_NO_ROUTE;
			break;
		case SH_FIB_NO_NEIGH:
			if (ifindex != out->mirror_ifindex)
				return SH_DROP_NO_ROUTE;
			ask_resolve(wk, ifindex, nh);
			return SH_DROP_NO_NEIGHBOUR;
		default:
			return SH_DROP_NO_ROUTE;
		}
	}
	rte_ether_addr_copy(&out->mac, &eth->src_addr);
	return SH_OK;
}

/*
 * Send the translated, addressed packet @m on @to in fragments no larger
 * than the port's MTU (its DF is clear: handle() answered DF packets),
 * then free it. The fragments come from @m's pool, all or none: a
 * packet missing a fragment is lost anyway, so a shortage drops it
 * whole (counted tx_full: no room to send it).
 */
static __rte_noinline void tx_fragments(struct sh_worker *wk, enum sh_side to,
					struct rte_mbuf *m)
{
	struct rte_mbuf *frag[SH_MAX_FRAGMENTS];
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t l2_len = sh_l2_len(frame), mtu = wk->port[to].mtu;
	uint32_t n = nat_fragment_count(frame + l2_len, mtu), off = 0, i;

	/* A fragment is at most l2_len + mtu and no longer than @m. */
	if (n > SH_MAX_FRAGMENTS ||
	    (uint32_t)rte_pktmbuf_data_room_size(m->pool) - RTE_PKTMBUF_HEADROOM <
		    RTE_MIN(l2_len + (uint32_t)mtu, m->data_len) ||
	    rte_pktmbuf_alloc_bulk(m->pool, frag, n) < 0)
		return drop(wk, SH_DROP_TX_FULL, m);
	for (i = 0; i < n; i++) {
		uint32_t len = nat_fragment_next(rte_pktmbuf_mtod(frag[i], uint8_t *),
						 frame, l2_len, mtu, &off);

		frag[i]->data_len = (uint16_t)len;
		frag[i]->pkt_len = len;
		tx_data(wk, to, frag[i]);
	}
	wk->cnt[SH_CNT_TX_FRAGMENTED]++;
	rte_pktmbuf_free(m);
}

/* Send a translated, addressed packet on @to: as it is when it fits the
 * port's MTU, in fragments otherwise. */
static inline void tx_routed(struct sh_worker *wk, enum sh_side to,
			     struct rte_mbuf *m)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);

	if (unlikely(m->pkt_len > ETH_HLEN + (uint32_t)wk->port[to].mtu) &&
	    nat_be16(ld16(frame + sh_l2_len(frame) + IP4_TOTLEN)) >
		    wk->port[to].mtu)
		return tx_fragments(wk, to, m);
	tx_data(wk, to, m);
}

/* Hold @m until its next hop resolves; false when the queue is full. */
static bool pending_add(struct sh_worker *wk, enum sh_side to,
			struct rte_mbuf *m, uint32_t src, uint32_t dst)
{
	struct sh_pending *p;

	if (wk->n_pending == SH_PENDING)
		return false;
	p = &wk->pending[wk->n_pending++];
	p->m = m;
	p->src = src;
	p->dst = dst;
	p->since = wk->nat->now;
	p->side = (uint8_t)to;
	return true;
}

/*
 * Retry held packets when a new FIB snapshot arrived (the neighbour may
 * be there now) or every 100 ms (to age them out): send the resolved ones,
 * drop those whose route vanished or whose wait ran out.
 */
static void pending_retry(struct sh_worker *wk, const struct sh_fib *fib)
{
	uint32_t now = wk->nat->now;
	unsigned i = 0;

	if (wk->n_pending == 0 ||
	    (fib == wk->pending_fib && now - wk->pending_checked < 100))
		return;
	wk->pending_fib = fib;
	wk->pending_checked = now;
	while (i < wk->n_pending) {
		struct sh_pending *p = &wk->pending[i];
		unsigned v = set_l2(wk, fib, p->side, p->m, p->src, p->dst);

		if (v == SH_DROP_NO_NEIGHBOUR && now - p->since < SH_PENDING_MS) {
			i++;
			continue;
		}
		if (v == SH_OK)
			tx_routed(wk, p->side, p->m);
		else
			drop(wk, v, p->m);
		*p = wk->pending[--wk->n_pending];
	}
}

/* An mbuf from @mp for an ICMP answer from @src (0: this side has no
 * address), within the worker's ICMP rate; NULL when none may be sent. */
static struct rte_mbuf *reply_alloc(struct sh_worker *wk,
				    struct rte_mempool *mp, uint32_t src)
{
	if (!src || !bucket_take(&wk->icmp, wk->nat->now))
		return NULL;
	return rte_pktmbuf_alloc(mp);
}

/* Send the answer of @len bytes built in @r out @side, counted @counter;
 * @len 0: the builder found none to send. */
static void reply_send(struct sh_worker *wk, enum sh_side side,
		       struct rte_mbuf *r, uint32_t len, unsigned counter)
{
	if (len == 0) {
		rte_pktmbuf_free(r);
		return;
	}
	r->data_len = (uint16_t)len;
	r->pkt_len = len;
	wk->cnt[counter]++;
	tx_data(wk, side, r);
}

/* Answer a packet whose TTL ran out with ICMP time exceeded from this
 * side's own address, rate-limited; the caller drops the original. */
static void time_exceeded(struct sh_worker *wk, const struct nat_lease_set *ls,
			  enum sh_side side, struct rte_mbuf *m,
			  const struct nat_pkt *p)
{
	uint32_t src = ls->side_addr[side];
	struct rte_mbuf *r = reply_alloc(wk, m->pool, src);

	if (r)
		reply_send(wk, side, r,
			   nat_build_time_exceeded(rte_pktmbuf_mtod(r, uint8_t *),
						   rte_pktmbuf_mtod(m, uint8_t *),
						   p->l2_len, p->ip_len, src,
						   wk->port[side].mac.addr_bytes),
			   SH_CNT_ICMP_TIME_EXCEEDED);
}

static void hairpin(struct sh_worker *wk, const struct nat_lease_set *ls,
		    const struct sh_fib *fib, struct rte_mbuf *m,
		    struct nat_pkt *p);

/* Stage @m (parsed into @p) for worker @to, as if it had arrived on
 * @from. */
static inline void stage(struct sh_worker *wk, unsigned to, enum sh_side from,
			 struct rte_mbuf *m, const struct nat_pkt *p)
{
	sh_handoff_put(&wk->ho_out[to], m, p->l2_len, (uint8_t)(p->l4 - p->ip),
		       (uint8_t)from,
		       p->hairpin ? SH_HANDOFF_HAIRPIN : SH_HANDOFF_TRANSLATE,
		       wk->cnt);
}

/* A packet the translator did not pass (verdict @v): Linux's, a
 * hairpin, another worker's, or a drop, answered with time exceeded when
 * its TTL ran out. */
static void refuse(struct sh_worker *wk, const struct nat_lease_set *ls,
		   const struct sh_fib *fib, enum sh_side from,
		   struct rte_mbuf *m, struct nat_pkt *p, unsigned v)
{
	if (v == NAT_KERNEL)
		return punt(wk, from, m, SH_DROP_NO_EXCEPTION_PATH);
	if (v == NAT_HAIRPIN)
		return hairpin(wk, ls, fib, m, p);
	if (v == NAT_HANDOFF)
		return stage(wk, p->to_worker, from, m, p);
	if (v == SH_DROP_TTL_EXPIRED)
		time_exceeded(wk, ls, from, m, p);
	drop(wk, v, m);
}

static inline unsigned translate(struct sh_worker *wk,
				 const struct nat_lease_set *ls,
				 enum sh_side from, struct nat_pkt *p)
{
	return from == SH_INSIDE ? nat_in2out(wk->nat, ls, p)
				 : nat_out2in(wk->nat, ls, p);
}

/*
 * A DF packet larger than the output port's MTU (RFC 1191): translate it
 * as any other (so that Linux's packets still reach Linux and drops keep
 * their reason), then, instead of sending it, answer with fragmentation
 * needed from this side's own address, within the ICMP rate. The answer
 * quotes the packet as it arrived, kept before the translation rewrote
 * it, so that the sender's kernel matches it to its socket.
 */
static __rte_noinline void too_big(struct sh_worker *wk,
				   const struct nat_lease_set *ls,
				   const struct sh_fib *fib, enum sh_side from,
				   struct rte_mbuf *m, struct nat_pkt *p)
{
	uint8_t orig[18 + NAT_FN_QUOTE];
	uint16_t mtu = wk->port[from ^ 1].mtu;
	uint32_t src = ls->side_addr[from], len;
	struct rte_mbuf *r;
	unsigned v;

	len = p->ip_len < NAT_FN_QUOTE ? p->ip_len : NAT_FN_QUOTE;
	memcpy(orig, rte_pktmbuf_mtod(m, uint8_t *), p->l2_len + len);
	v = translate(wk, ls, from, p);
	if (v != SH_OK)
		return refuse(wk, ls, fib, from, m, p, v);
	r = reply_alloc(wk, m->pool, src);
	drop(wk, SH_DROP_MTU_EXCEEDED, m);
	if (r)
		reply_send(wk, from, r,
			   nat_build_frag_needed(rte_pktmbuf_mtod(r, uint8_t *),
						 orig, p->l2_len, p->ip_len, src,
						 wk->port[from].mac.addr_bytes,
						 mtu),
			   SH_CNT_ICMP_FRAG_NEEDED);
}

static void oversize(struct sh_worker *wk, const struct nat_lease_set *ls,
		     const struct sh_fib *fib, enum sh_side from,
		     struct rte_mbuf *m, struct nat_pkt *p);

/* Ethernet addresses for @m, translated and parsed into @p, leaving on
 * @to; false when it was held for its next hop or dropped instead. */
static inline bool route(struct sh_worker *wk, const struct sh_fib *fib,
			 enum sh_side to, struct rte_mbuf *m,
			 const struct nat_pkt *p)
{
	uint32_t src, dst;
	unsigned v;

	memcpy(&src, p->ip + 12, sizeof(src));
	memcpy(&dst, p->ip + 16, sizeof(dst));
	v = set_l2(wk, fib, to, m, src, dst);
	if (likely(v == SH_OK))
		return true;
	if (v != SH_DROP_NO_NEIGHBOUR || !pending_add(wk, to, m, src, dst))
		drop(wk, v, m);
	return false;
}

/* Dispatch one packet received on data port @from, parsed into @p with
 * verdict @v: translate and forward it, punt it, or count its drop. */
/* Act on translation verdict @v for @m (parsed into @p) received on
 * @from: send it out the other side, or refuse() it. @refrag: it may be
 * larger than that side's MTU (a fragment, which carries no DF, or an
 * oversize packet): send it in fragments then. */
static inline void forward(struct sh_worker *wk, const struct nat_lease_set *ls,
			   const struct sh_fib *fib, enum sh_side from,
			   struct rte_mbuf *m, struct nat_pkt *p, unsigned v,
			   bool refrag)
{
	enum sh_side to = from ^ 1;

	if (unlikely(v != SH_OK))
		return refuse(wk, ls, fib, from, m, p, v);
	if (!route(wk, fib, to, m, p))
		return;
	if (refrag)
		tx_routed(wk, to, m);
	else
		tx_data(wk, to, m);
}

/*
 * Fleet (docs/FLEET.md "Return traffic to the owner"). Every function
 * here runs only with a fleet lease set (ls->fleet), out of line: a
 * set without a fleet costs the packet path one test of a flag.
 */

/* A packet too large to carry to its owner: answered with fragmentation
 * needed (MTU less the tunnel's overhead) when it has DF and @answer
 * (it is as it arrived from outside, so the quote is the sender's own),
 * then dropped. */
static __rte_noinline void fleet_too_big(struct sh_worker *wk,
					 const struct nat_lease_set *ls,
					 struct rte_mbuf *m,
					 const struct nat_pkt *p, bool answer)
{
	uint32_t src = ls->side_addr[SH_OUTSIDE];
	struct rte_mbuf *r;

	if (answer && (p->ip[IP4_FRAG] & 0x40) &&
	    (r = reply_alloc(wk, m->pool, src)) != NULL)
		reply_send(wk, SH_OUTSIDE, r,
			   nat_build_frag_needed(rte_pktmbuf_mtod(r, uint8_t *),
						 rte_pktmbuf_mtod(m, uint8_t *),
						 p->l2_len, p->ip_len, src,
						 wk->port[SH_OUTSIDE].mac.addr_bytes,
						 (uint16_t)(wk->port[SH_OUTSIDE].mtu -
							    NAT_FLEET_OVERHEAD)),
			   SH_CNT_ICMP_FRAG_NEEDED);
	drop(wk, SH_DROP_FLEET_TOO_BIG, m);
}

/*
 * Carry @m (parsed into @p) to its owner, the peer at @peer (network
 * order): the IPv4 packet as it is, behind an outer IPv4 and UDP header
 * (nat_fleet_encap(), UDP source port from @hash), the L2 header kept in
 * front and addressed towards the peer, out of the outside port or held
 * for the peer's neighbour entry like any packet. @answer: see
 * fleet_too_big().
 */
static __rte_noinline void fleet_forward(struct sh_worker *wk,
					 const struct nat_lease_set *ls,
					 const struct sh_fib *fib,
					 struct rte_mbuf *m,
					 const struct nat_pkt *p, uint32_t peer,
					 uint32_t hash, bool answer)
{
	uint16_t l2 = p->l2_len, len = p->ip_len;
	uint8_t *frame;
	unsigned v;

	if (unlikely((uint32_t)len + NAT_FLEET_OVERHEAD >
		     wk->port[SH_OUTSIDE].mtu))
		return fleet_too_big(wk, ls, m, p, answer);
	/* Ethernet padding after a short packet is not carried. */
	if (m->data_len > (uint32_t)l2 + len)
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - l2 - len));
	frame = (uint8_t *)rte_pktmbuf_prepend(m, NAT_FLEET_OVERHEAD);
	if (unlikely(!frame)) /* no headroom: a PMD's mbuf always has it */
		return drop(wk, SH_DROP_FLEET_TOO_BIG, m);
	memmove(frame, frame + NAT_FLEET_OVERHEAD, l2);
	nat_fleet_encap(frame + l2, ls, peer, len, hash);
	wk->cnt[SH_CNT_FORWARDED_TO_OWNER]++;
	v = set_l2(wk, fib, SH_OUTSIDE, m, ls->fleet_self_ip, peer);
	if (likely(v == SH_OK))
		return tx_data(wk, SH_OUTSIDE, m);
	if (v != SH_DROP_NO_NEIGHBOUR ||
	    !pending_add(wk, SH_OUTSIDE, m, ls->fleet_self_ip, peer))
		drop(wk, v, m);
}

/* The tunnel source port's hash for @p: of the L4 ports (echo id) of
 * its datagram, @r's for a fragment, else read from @p's headers the way
 * a fragment's struct nat_frag_res reports them, so that every packet of
 * a flow takes one tunnel source port. */
static inline uint32_t fleet_hash(const struct nat_pkt *p,
				  const struct nat_frag_res *r)
{
	if (r)
		return nat_fleet_flow_hash(p->ip, r->sport, r->dport);
	if (p->proto != NAT_PROTO_ICMP)
		return nat_fleet_flow_hash(p->ip, ld16(p->l4 + L4_SPORT),
					   ld16(p->l4 + L4_DPORT));
	return nat_fleet_flow_hash(p->ip, 0,
				   p->l4[NAT_ICMP_TYPE] == NAT_ICMP_ECHO_REPLY ?
				   ld16(p->l4 + NAT_ICMP_ID) : 0);
}

/*
 * Act on @owner (nat_fleet_owner()) for @m, parsed into @p, on its way
 * to a pool address: true when it was carried to its owner or dropped
 * (no live owner; or a peer's although it came from a peer, which would
 * loop), false when it is ours to translate. @r: the datagram's ports
 * when @p is a fragment, else NULL.
 */
static bool fleet_route(struct sh_worker *wk, const struct nat_lease_set *ls,
			const struct sh_fib *fib, struct rte_mbuf *m,
			const struct nat_pkt *p, int owner,
			const struct nat_frag_res *r, bool answer)
{
	if (m->ol_flags & wk->peer_flag) {
		if (owner == NAT_FLEET_SELF)
			return false;
		drop(wk, SH_DROP_NOT_OWNER, m);
		return true;
	}
	if (owner < 0 || owner == NAT_FLEET_SELF)
		return false;
	if (owner == NAT_FLEET_NONE)
		drop(wk, SH_DROP_UNKNOWN_OWNER, m);
	else
		fleet_forward(wk, ls, fib, m, p,
			      ls->fleet_peer[owner - NAT_FLEET_PEER],
			      fleet_hash(p, r), answer);
	return true;
}

/*
 * A tunnel packet to this host (nat_fleet_is_tunnel()): check it, strip
 * the outer headers and parse the packet it carries into @p, which then
 * goes on as if it had arrived itself (false); true when it was dropped.
 * Its port must be ours (a later fragment, which has none, is checked
 * in frag_dispatch()); it is marked as from a peer so that it is never
 * carried anywhere again.
 */
static __rte_noinline bool fleet_decap(struct sh_worker *wk,
				       const struct nat_lease_set *ls,
				       struct rte_mbuf *m, struct nat_pkt *p)
{
	unsigned v = nat_fleet_decap_check(ls, p);
	uint16_t l2 = p->l2_len;
	uint8_t *frame;

	if (v != SH_OK)
		goto drop;
	frame = rte_pktmbuf_mtod(m, uint8_t *);
	memmove(frame + NAT_FLEET_OVERHEAD, frame, l2);
	frame = (uint8_t *)rte_pktmbuf_adj(m, NAT_FLEET_OVERHEAD);
	/* The sender verified or completed the inner checksum. */
	v = SH_DROP_PEER_MALFORMED;
	if (nat_parse(p, frame, m->data_len, NAT_L4_CSUM_GOOD) != SH_OK ||
	    nat_slice_index(ls, ld32(p->ip + IP4_DST)) < 0)
		goto drop;
	if (p->frag != NAT_PKT_LATER &&
	    nat_fleet_pkt_owner(ls, p) != NAT_FLEET_SELF) {
		v = SH_DROP_NOT_OWNER;
		goto drop;
	}
	m->ol_flags |= wk->peer_flag;
	/* From another host's client through its mapping: a hairpin. */
	p->hairpin = nat_is_slice_ip(ls, ld32(p->ip + IP4_SRC));
	wk->cnt[SH_CNT_RECEIVED_FROM_PEER]++;
	return false;
drop:
	drop(wk, v, m);
	return true;
}

/* Fleet, on the outside port before the hand-off (FLEET.md "On the
 * outside port, before the worker hand-off"): true when @m was taken
 * (carried to its owner or dropped), false when it goes on, @p
 * describing the packet to translate. Fragments are decided in
 * frag_dispatch(), once their datagram's ports are known. */
static __rte_noinline bool fleet_rx(struct sh_worker *wk,
				    const struct nat_lease_set *ls,
				    const struct sh_fib *fib, struct rte_mbuf *m,
				    struct nat_pkt *p)
{
	if (nat_fleet_is_tunnel(ls, p))
		return fleet_decap(wk, ls, m, p);
	if (p->frag)
		return false;
	return fleet_route(wk, ls, fib, m, p, nat_fleet_pkt_owner(ls, p), NULL,
			   true);
}

/* Stage 2 of a fragment whose datagram's ports stage 1 found (@r): here,
 * or at the flow's owner (outside, with several workers), or at the
 * fleet host that owns its port. */
static void frag_dispatch(struct sh_worker *wk, const struct nat_lease_set *ls,
			  const struct sh_fib *fib, enum sh_side from,
			  struct rte_mbuf *m, struct nat_pkt *p,
			  const struct nat_frag_res *r)
{
	if (unlikely(ls->fleet) && from == SH_OUTSIDE &&
	    fleet_route(wk, ls, fib, m, p,
			nat_fleet_owner(ls, ld32(p->ip + IP4_DST), r->dport),
			r, true))
		return;
	if (wk->n_workers > 1) {
		int owner = nat_frag_flow_owner(wk->steer[SH_INSIDE],
						wk->steer[SH_OUTSIDE], p,
						from == SH_OUTSIDE, r->sport,
						r->dport);

		if (owner != wk->queue) {
			m->hash.usr = (uint32_t)r->sport << 16 | r->dport;
			return sh_handoff_put(&wk->ho_out[owner], m, p->l2_len,
					      (uint8_t)(p->l4 - p->ip),
					      (uint8_t)from, SH_HANDOFF_FRAG,
					      wk->cnt);
		}
	}
	forward(wk, ls, fib, from, m, p,
		nat_frag_xlate(wk->nat, ls, p, from == SH_OUTSIDE, r), true);
}

/*
 * Ask the NAT core about every held fragment (after a first fragment
 * released some, and once per millisecond to age them out): those whose
 * first fragment came go on, those held too long are dropped.
 */
static void frag_retry(struct sh_worker *wk, const struct nat_lease_set *ls,
		       const struct sh_fib *fib)
{
	unsigned i = 0, v;

	wk->frag_checked = wk->nat->now;
	while (i < wk->n_frag_held) {
		struct sh_frag_held *h = &wk->frag_held[i];
		struct rte_mbuf *m = h->m;
		enum sh_side from = h->side;
		struct nat_frag_res r;
		struct nat_pkt p;

		nat_pkt_restore(&p, rte_pktmbuf_mtod(m, uint8_t *), h->l2_len,
				h->ihl);
		v = nat_frag_retry(wk->nat, &p, h->since, &r);
		if (v == NAT_FRAG_HOLD) {
			i++;
			continue;
		}
		*h = wk->frag_held[--wk->n_frag_held];
		if (v == SH_OK)
			frag_dispatch(wk, ls, fib, from, m, &p, &r);
		else
			forward(wk, ls, fib, from, m, &p, v, true);
	}
}

/* Stage 1 of a fragment on its datagram's owner (frag.h). */
static void frag_in(struct sh_worker *wk, const struct nat_lease_set *ls,
		    const struct sh_fib *fib, enum sh_side from,
		    struct rte_mbuf *m, struct nat_pkt *p)
{
	struct nat_frag_res r;
	unsigned v = nat_frag_in(wk->nat, ls, p, from == SH_OUTSIDE, &r);

	if (v == NAT_FRAG_HOLD) {
		/* The core holds at most NAT_FRAG_HOLD_MAX: room is there. */
		wk->frag_held[wk->n_frag_held++] = (struct sh_frag_held){
			.m = m,
			.since = wk->nat->now,
			.l2_len = p->l2_len,
			.ihl = (uint8_t)(p->l4 - p->ip),
			.side = (uint8_t)from,
		};
		return;
	}
	if (v != SH_OK)
		return forward(wk, ls, fib, from, m, p, v, true);
	frag_dispatch(wk, ls, fib, from, m, p, &r);
	if (r.release)
		frag_retry(wk, ls, fib);
}

/* Dispatch one packet received on data port @from, parsed into @p with
 * verdict @v: translate and forward it, punt it, or count its drop. */
/* Dispatch one packet received on data port @from, parsed into @p with
 * verdict @v: translate and forward it, punt it, or count its drop. */
static inline void handle(struct sh_worker *wk, const struct nat_lease_set *ls,
			  const struct sh_fib *fib, enum sh_side from,
			  struct rte_mbuf *m, struct nat_pkt *p, unsigned v)
{
	if (unlikely(v != SH_OK)) {
		if (v == SH_DROP_NOT_IPV4) /* ARP, IPv6, LLDP...: Linux's */
			return punt(wk, from, m, v);
		return drop(wk, v, m);
	}
	if (unlikely(p->frag))
		return frag_in(wk, ls, fib, from, m, p);
	if (unlikely(p->ip_len > wk->port[from ^ 1].mtu))
		return oversize(wk, ls, fib, from, m, p);
	forward(wk, ls, fib, from, m, p, translate(wk, ls, from, p), false);
}

/* handle() for a packet larger than the output port's MTU, out of line:
 * one compare is all the fast path pays for the MTU. A DF packet is
 * answered (too_big()); any other is translated and sent in fragments
 * (RFC 791), or held for its next hop like any packet (pending_retry()
 * fragments it then). */
static __rte_noinline void oversize(struct sh_worker *wk,
				   const struct nat_lease_set *ls,
				   const struct sh_fib *fib, enum sh_side from,
				   struct rte_mbuf *m, struct nat_pkt *p)
{
	if (p->ip[IP4_FRAG] & 0x40)
		return too_big(wk, ls, fib, from, m, p);
	forward(wk, ls, fib, from, m, p, translate(wk, ls, from, p), true);
}

/* Stage @m (parsed into @p) for its owner when that is another worker;
 * false when it is ours to handle. */
static inline bool hand_off(struct sh_worker *wk, enum sh_side from,
			    struct rte_mbuf *m, const struct nat_pkt *p)
{
	int owner = unlikely(p->frag)
			    ? nat_frag_owner(wk->steer[SH_INSIDE],
					     wk->steer[SH_OUTSIDE], p,
					     from == SH_OUTSIDE)
			    : nat_pkt_owner(wk->steer[SH_INSIDE],
					    wk->steer[SH_OUTSIDE], p,
					    from == SH_OUTSIDE);

	if (owner < 0 || owner == wk->queue)
		return false;
	stage(wk, (unsigned)owner, from, m, p);
	return true;
}

/*
 * A client packet to another client's mapping, translated in2out: run it
 * through the outside path as if it had arrived there (on the worker
 * that owns that tuple), so it goes back inside translated both ways
 * without leaving the engine. The receiver sees the sender's mapping.
 */
static void hairpin(struct sh_worker *wk, const struct nat_lease_set *ls,
		    const struct sh_fib *fib, struct rte_mbuf *m,
		    struct nat_pkt *p)
{
	wk->cnt[SH_CNT_HAIRPINNED]++;
	p->hairpin = true;
	/* A mapping of a fleet peer's slice: to that peer (no answer if
	 * too big: the packet is translated already, a quote of it would
	 * not reach the client's socket). */
	if (unlikely(ls->fleet) && !p->frag &&
	    fleet_route(wk, ls, fib, m, p, nat_fleet_pkt_owner(ls, p), NULL,
			false))
		return;
	if (wk->n_workers > 1 && hand_off(wk, SH_OUTSIDE, m, p))
		return;
	handle(wk, ls, fib, SH_OUTSIDE, m, p, SH_OK);
}

/*
 * What the device said about @m's L4 checksum. RX_L4_CKSUM_NONE ("not
 * correct in the data, but the integrity of the L4 data is verified") is
 * how virtio reports a packet its sender left checksum-partial;
 * net_af_packet (DPDK 22.11) says nothing at all (docs/DESIGN.md
 * "Checksums from virtual NICs"). BAD is verified again in software.
 */
static inline enum nat_l4_csum l4_csum_of(const struct rte_mbuf *m)
{
	switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
	case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
		return NAT_L4_CSUM_GOOD;
	case RTE_MBUF_F_RX_L4_CKSUM_NONE:
		return NAT_L4_CSUM_PARTIAL;
	default:
		return NAT_L4_CSUM_VERIFY;
	}
}

/*
 * One burst from data port @from, in three passes so that the flow
 * table's two dependent cache misses per packet overlap across the burst
 * instead of stalling each packet in turn (only once the table is large
 * enough to miss the cache at all):
 *   1. parse each packet (its data prefetched a few packets ahead) and
 *      prefetch its index slot;
 *   2. prefetch the flow each slot points to;
 *   3. translate and dispatch.
 */
static __rte_always_inline uint16_t
rx_data(struct sh_worker *wk, const struct nat_lease_set *ls,
	const struct sh_fib *fib, enum sh_side from)
{
	struct rte_mbuf *pkts[SH_BURST];
	struct nat_pkt p[SH_BURST];
	struct nat_hint hint[SH_BURST];
	unsigned v[SH_BURST];
	bool out2in = from == SH_OUTSIDE;
	bool hints = nat_flow_count(wk->nat) >= SH_HINT_MIN_FLOWS;
	bool fleet;
	uint64_t bytes = 0;
	uint16_t n, i;

	n = rte_eth_rx_burst(wk->port[from].port_id, wk->queue, pkts, SH_BURST);
	if (n == 0)
		return 0;
	fleet = out2in && ls->fleet;
	wk->cnt[out2in ? SH_CNT_RX_OUTSIDE : SH_CNT_RX_INSIDE] += n;
	for (i = 0; i < n && i < SH_PREFETCH_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum nat_l4_csum cs;

		bytes += rte_pktmbuf_pkt_len(m);

		if (i + SH_PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + SH_PREFETCH_AHEAD],
						       void *));
		hint[i].pos = UINT32_MAX;
		if (unlikely(m->nb_segs > 1) && rte_pktmbuf_linearize(m) < 0) {
			v[i] = SH_DROP_L2_MALFORMED;
			continue;
		}
		cs = l4_csum_of(m);
		v[i] = nat_parse(&p[i], rte_pktmbuf_mtod(m, uint8_t *), m->data_len,
				 cs);
		if (unlikely(cs == NAT_L4_CSUM_PARTIAL) && v[i] == SH_OK &&
		    p[i].proto != NAT_PROTO_ICMP)
			wk->cnt[SH_CNT_RX_CSUM_PARTIAL]++;
		if (unlikely(fleet) && likely(v[i] == SH_OK) &&
		    fleet_rx(wk, ls, fib, m, &p[i])) {
			v[i] = SH_HANDED;
			continue;
		}
		if (wk->n_workers > 1 && likely(v[i] == SH_OK) &&
		    hand_off(wk, from, m, &p[i])) {
			v[i] = SH_HANDED;
			continue;
		}
		if (hints && likely(v[i] == SH_OK) && likely(!p[i].frag))
			nat_hint_slot(wk->nat, &p[i], out2in, &hint[i]);
	}
	wk->cnt[out2in ? SH_CNT_RX_OUTSIDE_BYTES : SH_CNT_RX_INSIDE_BYTES] +=
		bytes;
	for (i = 0; hints && i < n; i++)
		nat_hint_flow(wk->nat, &hint[i], out2in);
	for (i = 0; i < n; i++)
		if (v[i] != SH_HANDED)
			handle(wk, ls, fib, from, pkts[i], &p[i], v[i]);
	return n;
}

/*
 * Dispatch @n items handed to us (see rx_handoff()): restore each
 * packet's struct nat_pkt from the offsets parsing found, or send it to
 * our mirror queue. The mbufs were last written by another core: their
 * headers are prefetched for the whole burst first, their data a few
 * packets ahead.
 */
static void rx_handed(struct sh_worker *wk, const struct nat_lease_set *ls,
		      const struct sh_fib *fib, const struct sh_handoff_item *it,
		      unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		rte_prefetch0(it[i].m);
	for (i = 0; i < n && i < SH_PREFETCH_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(it[i].m, void *));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = it[i].m;
		enum sh_side side = it[i].side;
		struct nat_pkt p;

		if (i + SH_PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(it[i + SH_PREFETCH_AHEAD].m,
						       void *));
		if (it[i].kind == SH_HANDOFF_TO_KERNEL) {
			enqueue(wk, &wk->to_kernel[side], wk->port[side].mirror_id,
				SH_CNT_TO_KERNEL, m);
			continue;
		}
		nat_pkt_restore(&p, rte_pktmbuf_mtod(m, uint8_t *), it[i].l2_len,
				it[i].ihl);
		if (unlikely(it[i].kind == SH_HANDOFF_FRAG)) {
			struct nat_frag_res r = {
				.sport = (uint16_t)(m->hash.usr >> 16),
				.dport = (uint16_t)m->hash.usr,
			};

			forward(wk, ls, fib, side, m, &p,
				nat_frag_xlate(wk->nat, ls, &p,
					       side == SH_OUTSIDE, &r), true);
			continue;
		}
		p.hairpin = it[i].kind == SH_HANDOFF_HAIRPIN;
		handle(wk, ls, fib, side, m, &p, SH_OK);
	}
}

/*
 * Packets the other workers handed to us: translate what we own (parsed
 * already: the item carries the header offsets) and send punts to our
 * mirror queues. Up to SH_HANDOFF_DRAIN bursts per incoming ring per
 * iteration: a producer stages at most one burst per iteration, so the
 * consumer drains faster than a ring fills and catches up after it lost
 * its CPU for a while.
 */
static unsigned rx_handoff(struct sh_worker *wk, const struct nat_lease_set *ls,
			   const struct sh_fib *fib)
{
	struct sh_handoff_item it[SH_HANDOFF_BURST];
	unsigned w, n, b, got = 0;

	for (w = 0; w < wk->n_workers; w++) {
		if (!wk->ho_in[w])
			continue;
		for (b = 0; b < SH_HANDOFF_DRAIN; b++) {
			n = sh_handoff_take(wk->ho_in[w], it, wk->cnt);
			if (n == 0)
				break;
			rx_handed(wk, ls, fib, it, n);
			got += n;
		}
	}
	return got;
}

/* Linux's own packets from @side's mirror leave through that data port,
 * but a slice source must carry a socket lease's port. */
static uint16_t rx_kernel(struct sh_worker *wk, const struct nat_lease_set *ls,
			  enum sh_side side)
{
	struct rte_mbuf *pkts[SH_BURST];
	uint16_t n, i;

	if (wk->port[side].mirror_id == SH_NO_MIRROR ||
	    wk->queue >= wk->port[side].mirror_queues)
		return 0;
	n = rte_eth_rx_burst(wk->port[side].mirror_id, wk->queue, pkts,
			     SH_BURST);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		unsigned v;

		if (unlikely(m->nb_segs > 1) && rte_pktmbuf_linearize(m) < 0) {
			drop(wk, SH_DROP_L2_MALFORMED, m);
			continue;
		}
		v = nat_kernel_egress(wk->nat, ls, rte_pktmbuf_mtod(m, uint8_t *),
				      m->data_len);
		if (unlikely(v != SH_OK)) {
			drop(wk, v, m);
			continue;
		}
		wk->cnt[SH_CNT_FROM_KERNEL]++;
		tx_data(wk, side, m);
	}
	return n;
}

/* A reload's new tunables (worker.h struct sh_tunables). */
static void __rte_noinline tune(struct sh_worker *wk,
				const struct sh_tunables *tn)
{
	unsigned s;

	nat_worker_tune(wk->nat, &tn->nat);
	for (s = 0; s < SH_SIDES; s++)
		sh_bucket_init(&wk->punt[s], tn->punt_rate[s]);
	wk->idle_sleep_us = tn->idle_sleep_us;
	wk->tunables_gen = tn->gen;
}

/*
 * A turn that received nothing, with [engine] idle_sleep_us set: sleep
 * that long, offline for RCU meanwhile so that the main lcore's
 * publications need not wait for us.
 */
static void __rte_noinline idle_sleep(struct sh_worker *wk)
{
	rte_rcu_qsbr_thread_offline(wk->qsbr, wk->qsbr_id);
	rte_delay_us_sleep(wk->idle_sleep_us);
	rte_rcu_qsbr_thread_online(wk->qsbr, wk->qsbr_id);
}

int sh_worker_main(void *arg)
{
	struct sh_worker *wk = arg;
	uint64_t ms_cycles = rte_get_tsc_hz() / 1000;
	/* Entries to sweep per elapsed millisecond: the table once a second. */
	uint32_t per_ms = wk->nat->t.max_flows / 1000 + 1, debt = 0;
	uint32_t last = (uint32_t)(rte_rdtsc() / ms_cycles) + wk->clock_base;
	unsigned s;

	rte_rcu_qsbr_thread_register(wk->qsbr, wk->qsbr_id);
	rte_rcu_qsbr_thread_online(wk->qsbr, wk->qsbr_id);
	wk->started_tsc = rte_rdtsc();
	while (!force_quit) {
		const struct nat_lease_set *ls;
		const struct sh_fib *fib;
		const struct sh_tunables *tn;
		uint64_t tsc = rte_rdtsc();
		uint32_t now = (uint32_t)(tsc / ms_cycles) + wk->clock_base, n;
		uint64_t xlated;
		unsigned got;

		wk->nat->now = now;
		ls = __atomic_load_n(&wk->leases, __ATOMIC_ACQUIRE);
		fib = __atomic_load_n(&wk->fib, __ATOMIC_ACQUIRE);
		tn = __atomic_load_n(&wk->tunables, __ATOMIC_ACQUIRE);
		if (unlikely(tn != NULL && tn->gen != wk->tunables_gen))
			tune(wk, tn);
		/* The fences the main lcore made (nat.h fleet_fences), counted
		 * once, by worker 0. */
		if (unlikely(ls->fleet) && wk->queue == 0)
			wk->cnt[SH_CNT_FLEET_FENCED] = ls->fleet_fences;
		got = rx_data(wk, ls, fib, SH_INSIDE);
		got += rx_data(wk, ls, fib, SH_OUTSIDE);
		if (wk->n_workers > 1)
			got += rx_handoff(wk, ls, fib);
		got += rx_kernel(wk, ls, SH_INSIDE);
		got += rx_kernel(wk, ls, SH_OUTSIDE);
		pending_retry(wk, fib);
		if (unlikely(wk->n_frag_held) && now != wk->frag_checked)
			frag_retry(wk, ls, fib);
		for (s = 0; s < SH_SIDES; s++) {
			flush(wk, &wk->tx[s], wk->port[s].port_id,
			      s == SH_INSIDE ? SH_CNT_TX_INSIDE
					     : SH_CNT_TX_OUTSIDE);
			flush(wk, &wk->to_kernel[s], wk->port[s].mirror_id,
			      SH_CNT_TO_KERNEL);
		}
		for (s = 0; s < wk->n_workers && wk->n_workers > 1; s++)
			sh_handoff_flush(&wk->ho_out[s], wk->cnt);
		rte_rcu_qsbr_quiescent(wk->qsbr, wk->qsbr_id);
		wk->loops++;
		/* The forwarding gap's ends (takeover.h): turns that translated
		 * (Linux's own packets out do not count). */
		xlated = wk->nat->cnt[SH_CNT_IN2OUT] + wk->nat->cnt[SH_CNT_OUT2IN];
		if (xlated != wk->xlated) {
			wk->xlated = xlated;
			wk->last_tx_tsc = tsc;
			if (unlikely(!wk->first_tx_tsc))
				wk->first_tx_tsc = tsc;
		}

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
		if (unlikely(wk->idle_sleep_us) && got == 0)
			idle_sleep(wk);
	}
	wk->stopped_tsc = rte_rdtsc();
	/* What is staged goes to the rings, which the main lcore empties
	 * (sh_handoff_destroy) once every worker has stopped. */
	for (s = 0; s < wk->n_workers && wk->n_workers > 1; s++)
		sh_handoff_flush(&wk->ho_out[s], wk->cnt);
	while (wk->n_pending)
		drop(wk, SH_DROP_NO_NEIGHBOUR, wk->pending[--wk->n_pending].m);
	while (wk->n_frag_held)
		drop(wk, SH_DROP_FRAG_TIMEOUT, wk->frag_held[--wk->n_frag_held].m);
	rte_rcu_qsbr_thread_offline(wk->qsbr, wk->qsbr_id);
	rte_rcu_qsbr_thread_unregister(wk->qsbr, wk->qsbr_id);
	return 0;
}
