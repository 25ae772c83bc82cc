/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packets that meet Linux: the kernel egress policy and the ICMP time
 * exceeded the engine sends as a router hop.
 *
 * The egress policy is what makes shoal the single owner of the slices:
 * Linux may send from a slice address only with a port that a socket
 * lease gives it; everything else from a slice address is dropped, so no
 * packet ever leaves with a slice address and a port this host does not
 * own for sockets (nat ports are the engine's own to use).
 */
#include "nat.h"
#include "csum.h"

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

uint32_t nat_build_time_exceeded(uint8_t *out, const uint8_t *frame,
				 uint16_t l2_len, uint16_t ip_len,
				 uint32_t src, const uint8_t our_mac[6])
{
	const uint8_t *ip = frame + l2_len;
	uint32_t dst = ld32(ip + IP4_SRC), quote = ip_len;
	const uint8_t *d = (const uint8_t *)&dst;
	uint8_t *oip, *icmp;
	uint64_t sum;

	/* Never an error about an error (RFC 1122 §3.2.2), nor to a source
	 * that is not one host. */
	if (ip[IP4_PROTO] == NAT_PROTO_ICMP) {
		const uint8_t *l4 = ip + (ip[0] & 0xf) * 4;
		uint8_t t = l4[NAT_ICMP_TYPE];

		if (t != NAT_ICMP_ECHO_REQUEST && t != NAT_ICMP_ECHO_REPLY)
			return 0;
	}
	if (dst == 0 || dst == 0xffffffff || (d[0] & 0xf0) >= 0xe0)
		return 0;
	if (quote > 576 - 20 - 8)
		quote = 576 - 20 - 8;

	memcpy(out, frame + 6, 6);     /* back to the previous hop */
	memcpy(out + 6, our_mac, 6);
	memcpy(out + 12, frame + 12, l2_len - 12u); /* VLAN tag, ethertype */
	oip = out + l2_len;
	icmp = oip + 20;
	memcpy(icmp + 8, ip, quote);

	oip[0] = 0x45;
	oip[1] = 0xc0; /* DSCP CS6, as routers send control traffic */
	st16(oip + IP4_TOTLEN, nat_be16((uint16_t)(20 + 8 + quote)));
	st32(oip + 4, 0);
	oip[IP4_TTL] = 64;
	oip[IP4_PROTO] = NAT_PROTO_ICMP;
	st16(oip + IP4_CSUM, 0);
	st32(oip + IP4_SRC, src);
	st32(oip + IP4_DST, dst);
	st16(oip + IP4_CSUM, csum_finish(csum_partial(oip, 20, 0)));

	icmp[NAT_ICMP_TYPE] = NAT_ICMP_TIME_EXCEEDED;
	icmp[NAT_ICMP_CODE] = 0;
	st16(icmp + NAT_ICMP_CSUM, 0);
	st32(icmp + 4, 0);
	sum = csum_partial(icmp, 8 + quote, 0);
	st16(icmp + NAT_ICMP_CSUM, csum_finish(sum));
	return l2_len + 20u + 8u + quote;
}
