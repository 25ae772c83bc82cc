/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP replies the engine originates as a router hop: time exceeded for a
 * packet whose TTL ran out (RFC 792, RFC 1812 §4.3.2.3), fragmentation
 * needed for a DF packet larger than the output link's MTU (RFC 1191
 * §4). The worker rate-limits them; this file only builds the frame.
 */
#include "csum.h"
#include "nat.h"

/* An ICMP error of @type/@code with @rest as its second word (network
 * order); see nat_build_time_exceeded() in nat.h. */
static uint32_t build_error(uint8_t *out, const uint8_t *frame,
			    uint16_t l2_len, uint16_t ip_len, uint32_t src,
			    const uint8_t our_mac[6], uint8_t type, uint8_t code,
			    uint32_t rest)
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

	icmp[NAT_ICMP_TYPE] = type;
	icmp[NAT_ICMP_CODE] = code;
	st16(icmp + NAT_ICMP_CSUM, 0);
	st32(icmp + 4, rest);
	sum = csum_partial(icmp, 8 + quote, 0);
	st16(icmp + NAT_ICMP_CSUM, csum_finish(sum));
	return l2_len + 20u + 8u + quote;
}

uint32_t nat_build_time_exceeded(uint8_t *out, const uint8_t *frame,
				 uint16_t l2_len, uint16_t ip_len,
				 uint32_t src, const uint8_t our_mac[6])
{
	return build_error(out, frame, l2_len, ip_len, src, our_mac,
			   NAT_ICMP_TIME_EXCEEDED, 0, 0);
}

uint32_t nat_build_frag_needed(uint8_t *out, const uint8_t *frame,
			       uint16_t l2_len, uint16_t ip_len, uint32_t src,
			       const uint8_t our_mac[6], uint16_t mtu)
{
	/* Unused 16 bits, then the next-hop MTU (RFC 1191 §4). */
	return build_error(out, frame, l2_len, ip_len, src, our_mac,
			   NAT_ICMP_DEST_UNREACH, NAT_ICMP_FRAG_NEEDED,
			   nat_be32(mtu));
}
