/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Egress fragmentation (RFC 791 §2.3 and §3.2 "Fragmentation"): a
 * packet without DF that is larger than the output link's MTU leaves as
 * fragments. The engine's worker calls nat_fragment_next() once per
 * fragment into a fresh buffer; this file only builds the frames.
 */
#include "csum.h"
#include "nat.h"

#define IP4_MF 0x2000
#define IP4_OFFMASK 0x1fff

/*
 * Options not marked "copied" (RFC 791: the high bit of the type) belong
 * to the first fragment only; later fragments carry NOPs in their place,
 * so every fragment's header has the same length (as Linux does in
 * ip_options_fragment()). The options were validated by the parser.
 */
static void options_for_later_fragments(uint8_t *ip, uint32_t ihl)
{
	uint32_t i = 20, len;

	/* Bounded: each step consumes at least one of at most 40 bytes. */
	while (i < ihl) {
		if (ip[i] == 0) /* end of list */
			return;
		if (ip[i] == 1) {
			i++;
			continue;
		}
		len = i + 1 < ihl ? ip[i + 1] : 0;
		if (len < 2 || i + len > ihl) {
			memset(ip + i, 1, ihl - i);
			return;
		}
		if (!(ip[i] & 0x80))
			memset(ip + i, 1, len);
		i += len;
	}
}

uint32_t nat_fragment_count(const uint8_t *ip, uint16_t mtu)
{
	uint32_t ihl = (ip[0] & 0xfu) * 4u;
	uint32_t payload = nat_be16(ld16(ip + IP4_TOTLEN)) - ihl;
	uint32_t per = (mtu - ihl) & ~7u;

	return (payload + per - 1) / per;
}

uint32_t nat_fragment_next(uint8_t *out, const uint8_t *frame, uint16_t l2_len,
			   uint16_t mtu, uint32_t *off)
{
	const uint8_t *ip = frame + l2_len;
	uint32_t ihl = (ip[0] & 0xfu) * 4u;
	uint32_t payload = nat_be16(ld16(ip + IP4_TOTLEN)) - ihl;
	uint32_t per = (mtu - ihl) & ~7u, len;
	uint16_t frag = nat_be16(ld16(ip + IP4_FRAG)), f;
	uint8_t *oip = out + l2_len;

	if (*off >= payload)
		return 0;
	len = payload - *off < per ? payload - *off : per;
	memcpy(out, frame, l2_len + ihl);
	if (*off > 0)
		options_for_later_fragments(oip, ihl);
	/* The packet may be a fragment itself: offsets add to its own, and
	 * only its last piece keeps its MF. DF is clear (or we would not be
	 * here); the reserved bit is kept. */
	f = (uint16_t)((frag & ~(IP4_OFFMASK | IP4_MF)) |
		       ((frag & IP4_OFFMASK) + *off / 8));
	if (*off + len < payload || (frag & IP4_MF))
		f |= IP4_MF;
	st16(oip + IP4_FRAG, nat_be16(f));
	st16(oip + IP4_TOTLEN, nat_be16((uint16_t)(ihl + len)));
	st16(oip + IP4_CSUM, 0);
	st16(oip + IP4_CSUM, csum_finish(csum_partial(oip, ihl, 0)));
	memcpy(oip + ihl, ip + ihl + *off, len);
	*off += len;
	return l2_len + ihl + len;
}
