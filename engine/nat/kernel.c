/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel egress policy: what Linux may send through a mirror.
 *
 * The policy is what makes shoal the single owner of the slices:
 * Linux may send from a slice address only with a port that a socket
 * lease gives it; everything else from a slice address is dropped, so no
 * packet ever leaves with a slice address and a port this host does not
 * own for sockets (nat ports are the engine's own to use).
 */
#include "nat.h"
#include "pkt.h"

static bool socket_port(const struct nat_lease_set *ls, uint32_t ip,
			uint16_t port_be)
{
	const struct nat_lease *l = nat_lease_find(ls, ip, nat_be16(port_be));

	return l && l->kind == SH_LEASE_SOCKET;
}

unsigned nat_kernel_egress_check(const struct nat_lease_set *ls,
				 const uint8_t *frame, uint32_t len)
{
	uint32_t l2 = 0, ihl, src;
	const uint8_t *ip, *l4;

	/* Not IPv4 (or too short to tell): not ours to police. */
	if (eth_type(frame, len, &l2) != ETHERTYPE_IPV4 || len < l2 + 20)
		return SH_OK;
	ip = frame + l2;
	src = ld32(ip + IP4_SRC);
	if (!nat_is_slice_ip(ls, src))
		return SH_OK;

	/* From here on the source is a slice address: prove the port. */
	ihl = (uint32_t)(ip[0] & 0xf) * 4;
	if (ihl < 20 || len < l2 + ihl + 8 || (ld16_host(ip + IP4_FRAG) & 0x1fff))
		return SH_DROP_KERNEL_PORT_VIOLATION;
	l4 = ip + ihl;
	switch (ip[IP4_PROTO]) {
	case NAT_PROTO_TCP:
	case NAT_PROTO_UDP:
		return socket_port(ls, src, ld16(l4 + L4_SPORT))
			       ? SH_OK : SH_DROP_KERNEL_PORT_VIOLATION;
	case NAT_PROTO_ICMP:
		switch (l4[NAT_ICMP_TYPE]) {
		case NAT_ICMP_ECHO_REQUEST:
		case NAT_ICMP_ECHO_REPLY:
			return socket_port(ls, src, ld16(l4 + NAT_ICMP_ID))
				       ? SH_OK : SH_DROP_KERNEL_PORT_VIOLATION;
		case NAT_ICMP_DEST_UNREACH:
		case NAT_ICMP_TIME_EXCEEDED:
		case NAT_ICMP_PARAM_PROBLEM: {
			/* An error about a packet sent to us: its quoted
			 * destination port is the one Linux speaks for. */
			const uint8_t *q = l4 + 8;
			uint32_t qihl;

			if (len < l2 + ihl + 8 + 20)
				return SH_DROP_KERNEL_PORT_VIOLATION;
			qihl = (uint32_t)(q[0] & 0xf) * 4;
			if (qihl < 20 || len < l2 + ihl + 8 + qihl + 4 ||
			    (q[IP4_PROTO] != NAT_PROTO_TCP &&
			     q[IP4_PROTO] != NAT_PROTO_UDP))
				return SH_DROP_KERNEL_PORT_VIOLATION;
			return socket_port(ls, src, ld16(q + qihl + L4_DPORT))
				       ? SH_OK : SH_DROP_KERNEL_PORT_VIOLATION;
		}
		default:
			return SH_DROP_KERNEL_PORT_VIOLATION;
		}
	default:
		return SH_DROP_KERNEL_PORT_VIOLATION;
	}
}

/* The slot of @ip's datagram in the kernel-fragment table. */
static struct nat_kfrag *kfrag_slot(struct nat_worker *w, const uint8_t *ip)
{
	uint32_t h = (ld32(ip + IP4_SRC) ^ ld32(ip + IP4_DST) ^
		      (uint32_t)ld16(ip + 4) << 8 ^ ip[IP4_PROTO]) *
		     2654435761u;

	return &w->frag.k[h >> (32 - 6)]; /* NAT_KFRAG_ENTRIES = 64 */
}

unsigned nat_kernel_egress(struct nat_worker *w, const struct nat_lease_set *ls,
			   const uint8_t *frame, uint32_t len)
{
	uint32_t l2 = 0;
	const uint8_t *ip;
	struct nat_kfrag *k;
	uint16_t frag;
	unsigned v;

	_Static_assert(NAT_KFRAG_ENTRIES == 64, "kfrag_slot takes 6 bits");
	if (eth_type(frame, len, &l2) != ETHERTYPE_IPV4 || len < l2 + 20)
		return SH_OK;
	ip = frame + l2;
	frag = ld16_host(ip + IP4_FRAG) & 0x3fff;
	if (__builtin_expect(frag == 0, 1) ||
	    !nat_is_slice_ip(ls, ld32(ip + IP4_SRC)))
		return nat_kernel_egress_check(ls, frame, len);
	k = kfrag_slot(w, ip);
	if (frag & 0x1fff) /* no port here: its first fragment's verdict */
		return k->used && k->src == ld32(ip + IP4_SRC) &&
				       k->dst == ld32(ip + IP4_DST) &&
				       k->id == ld16(ip + 4) &&
				       k->proto == ip[IP4_PROTO] &&
				       (uint32_t)(w->now - k->born) <
					       NAT_FRAG_TIMEOUT_MS
			       ? SH_OK
			       : SH_DROP_KERNEL_PORT_VIOLATION;
	v = nat_kernel_egress_check(ls, frame, len);
	if (v == SH_OK)
		*k = (struct nat_kfrag){
			.src = ld32(ip + IP4_SRC),
			.dst = ld32(ip + IP4_DST),
			.id = ld16(ip + 4),
			.proto = ip[IP4_PROTO],
			.used = 1,
			.born = w->now,
		};
	return v;
}
