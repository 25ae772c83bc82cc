/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker that owns a parsed packet (rules in steer.h): inline for the
 * per-packet TCP/UDP case, out of line for ICMP.
 *
 * Only the headers decide, never the lease set: a packet for Linux (to
 * the engine's own address, or to a socket lease's port) goes to the same
 * owner its headers name and is punted there, which costs a handoff for
 * rare traffic and spares every packet a lease-set lookup. Read-only; any
 * lcore.
 */
#ifndef SHOAL_NAT_OWNER_H
#define SHOAL_NAT_OWNER_H

#include "nat.h"
#include "pkt.h"

/*
 * Owner of an ICMP packet received on the inside (@out2in false) or the
 * outside: echo by its client (inside) or its id (outside); errors by the
 * flow they quote (inside: the quoted destination, the client, whoever
 * sent the error; outside: the quoted outside tuple). -1 when any worker
 * may have it (other types, quotes nat_quote_parse() refuses: dropped
 * wherever they are).
 */
int nat_icmp_owner(const struct nat_steer *in, const struct nat_steer *out,
		   const struct nat_pkt *p, bool out2in);

/* Owner of @p under the inside steer @in and the outside steer @out: the
 * client's worker inside, the outside 5-tuple's worker outside; -1 as for
 * nat_icmp_owner(). nat_parse() admits only TCP, UDP and ICMP. */
static inline int nat_pkt_owner(const struct nat_steer *in,
				const struct nat_steer *out,
				const struct nat_pkt *p, bool out2in)
{
	const uint8_t *ip = p->ip;

	if (__builtin_expect(p->proto == NAT_PROTO_ICMP, 0))
		return nat_icmp_owner(in, out, p, out2in);
	if (!out2in)
		return (int)nat_owner_client(in, ld32(ip + IP4_SRC));
	return (int)nat_owner_out(out, ld32(ip + IP4_DST), ld16(p->l4 + L4_DPORT),
				  ld32(ip + IP4_SRC), ld16(p->l4 + L4_SPORT),
				  p->proto);
}

/*
 * Owner of a fragment's datagram (frag.h "Owners"): the worker that runs
 * virtual reassembly for it, from headers every fragment carries. Inside
 * the client's worker (also its flows' owner). Outside, with RSS, the
 * queue the NIC picks for an IPv4 packet without ports (the Toeplitz hash
 * of the addresses, ports read as zero); soft, a hash of addresses,
 * protocol and IP id. The flow's owner is then nat_frag_flow_owner().
 */
static inline int nat_frag_owner(const struct nat_steer *in,
				 const struct nat_steer *out,
				 const struct nat_pkt *p, bool out2in)
{
	const uint8_t *ip = p->ip;
	uint32_t h;

	if (!out2in)
		return (int)nat_owner_client(in, ld32(ip + IP4_SRC));
	if (out->rss)
		return out->reta[nat_toeplitz(out, ip + IP4_SRC, 8) &
				 out->reta_mask];
	h = nat_be32(ld32(ip + IP4_SRC) ^ ld32(ip + IP4_DST)) ^
	    (uint32_t)ld16_host(ip + 4) << 8 ^ ip[IP4_PROTO];
	return (int)(((uint64_t)(h * 2654435761u) * out->n_workers) >> 32);
}

/* Owner of the flow of fragment @p whose datagram has the L4 ports
 * @sport, @dport (network order, as sent; see struct nat_frag_res). */
static inline int nat_frag_flow_owner(const struct nat_steer *in,
				      const struct nat_steer *out,
				      const struct nat_pkt *p, bool out2in,
				      uint16_t sport, uint16_t dport)
{
	const uint8_t *ip = p->ip;

	if (!out2in)
		return (int)nat_owner_client(in, ld32(ip + IP4_SRC));
	return (int)nat_owner_out(out, ld32(ip + IP4_DST), dport,
				  ld32(ip + IP4_SRC), sport, p->proto);
}

#endif /* SHOAL_NAT_OWNER_H */
