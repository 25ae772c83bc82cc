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
