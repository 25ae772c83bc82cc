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

#endif /* SHOAL_NAT_OWNER_H */
