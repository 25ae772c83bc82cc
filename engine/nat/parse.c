/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame validation, up to and including the L4 header and checksum.
 *
 * Everything the translators later read is proven present here, so they
 * index the frame without further length checks. Checksums are verified
 * because an incremental update carries an existing error forward: a
 * packet with a wrong checksum must be dropped, not translated into one
 * that still has a wrong checksum under our address.
 */
#include "csum.h"
#include "nat.h"

/* Store the full checksum over @len bytes of L4 with the field at @off
 * taken as zero: what checksum offload would have put there. */
static void l4_finish(struct nat_pkt *p, uint32_t len, unsigned off)
{
	uint16_t c;

	st16(p->l4 + off, 0);
	c = csum_finish(csum_partial(p->l4, len,
				     csum_pseudo(p->ip, p->proto, (uint16_t)len)));
	/* UDP sends a computed 0 as all ones: 0 means "no checksum". */
	if (c == 0 && p->proto == NAT_PROTO_UDP)
		c = 0xffff;
	st16(p->l4 + off, c);
}

static bool l4_sum_ok(const struct nat_pkt *p, uint32_t len)
{
	return csum_fold(csum_partial(p->l4, len,
				      csum_pseudo(p->ip, p->proto,
						  (uint16_t)len))) == 0xffff;
}

/*
 * The L4 header, and its checksum as @csum says (nat.h). A PARTIAL
 * frame's field is overwritten, never read: whatever it holds, the
 * sender's kernel vouched for the data, and an unfinished field is not
 * evidence of anything (see docs/DESIGN.md "Checksums from virtual
 * NICs"). Without that word from the device, a wrong sum is a drop,
 * even one that equals the pseudo-header sum.
 */
static unsigned l4_check(struct nat_pkt *p, enum nat_l4_csum csum)
{
	const uint8_t *l4 = p->l4;
	uint16_t n;

	switch (p->proto) {
	case NAT_PROTO_TCP:
		if (p->l4_len < 20 || (l4[12] >> 4) < 5 ||
		    (unsigned)(l4[12] >> 4) * 4 > p->l4_len)
			return SH_DROP_L4_MALFORMED;
		if (csum == NAT_L4_CSUM_PARTIAL)
			l4_finish(p, p->l4_len, TCP_CSUM);
		else if (csum != NAT_L4_CSUM_GOOD && !l4_sum_ok(p, p->l4_len))
			return SH_DROP_L4_BAD_CHECKSUM;
		return SH_OK;
	case NAT_PROTO_UDP:
		if (p->l4_len < 8)
			return SH_DROP_L4_MALFORMED;
		n = ld16_host(l4 + UDP_LEN);
		if (n < 8 || n > p->l4_len)
			return SH_DROP_L4_MALFORMED;
		if (csum == NAT_L4_CSUM_PARTIAL)
			l4_finish(p, n, UDP_CSUM);
		else if (csum != NAT_L4_CSUM_GOOD && ld16(l4 + UDP_CSUM) != 0 &&
			 !l4_sum_ok(p, n))
			return SH_DROP_L4_BAD_CHECKSUM;
		return SH_OK;
	case NAT_PROTO_ICMP:
		if (p->l4_len < 8)
			return SH_DROP_L4_MALFORMED;
		/* No NIC verifies ICMP, no stack leaves it partial: always
		 * checked in software, whatever @csum says. */
		if (csum_fold(csum_partial(l4, p->l4_len, 0)) != 0xffff)
			return SH_DROP_L4_BAD_CHECKSUM;
		return SH_OK;
	default:
		return SH_DROP_PROTO_UNSUPPORTED;
	}
}

/*
 * A fragment (frag.h): a first fragment must hold the whole L4 header,
 * but its checksum covers bytes still to come and cannot be verified
 * (the UDP length field counts the whole datagram too). A later one is
 * refused if it would overlap that header (RFC 1858's tiny-fragment
 * attack rewrites the ports after the first fragment was checked).
 */
static unsigned frag_check(struct nat_pkt *p, uint16_t frag)
{
	uint32_t off = (uint32_t)(frag & 0x1fff) * 8;
	unsigned hdr;

	switch (p->proto) {
	case NAT_PROTO_TCP:
		hdr = 20;
		break;
	case NAT_PROTO_UDP:
	case NAT_PROTO_ICMP:
		hdr = 8;
		break;
	default:
		return SH_DROP_PROTO_UNSUPPORTED;
	}
	if (off == 0) {
		p->frag = NAT_PKT_FIRST;
		if (p->l4_len < hdr)
			return SH_DROP_L4_MALFORMED;
		if (p->proto == NAT_PROTO_TCP &&
		    ((p->l4[12] >> 4) < 5 ||
		     (unsigned)(p->l4[12] >> 4) * 4 > p->l4_len))
			return SH_DROP_L4_MALFORMED;
		if (p->proto == NAT_PROTO_UDP && ld16_host(p->l4 + UDP_LEN) < 8)
			return SH_DROP_L4_MALFORMED;
		return SH_OK;
	}
	p->frag = NAT_PKT_LATER;
	if (off < hdr || off + p->l4_len > 65535)
		return SH_DROP_IP_MALFORMED;
	return SH_OK;
}

unsigned nat_parse(struct nat_pkt *p, uint8_t *frame, uint32_t len,
		   enum nat_l4_csum csum)
{
	uint32_t l2 = 0, ihl, tot;
	uint16_t type = eth_type(frame, len, &l2);
	uint16_t frag;
	uint8_t *ip;

	if (type == 0)
		return SH_DROP_L2_MALFORMED;
	if (type != ETHERTYPE_IPV4)
		return SH_DROP_NOT_IPV4;

	ip = frame + l2;
	len -= l2;
	if (len < 20 || (ip[0] >> 4) != 4)
		return SH_DROP_IP_MALFORMED;
	ihl = (uint32_t)(ip[0] & 0xf) * 4;
	tot = ld16_host(ip + IP4_TOTLEN);
	/* Frames may carry Ethernet padding past the IP packet, never less. */
	if (ihl < 20 || tot < ihl || tot > len)
		return SH_DROP_IP_MALFORMED;
	/* Without options (nearly always) the sum unrolls to three loads. */
	if (csum_fold(ihl == 20 ? csum_partial(ip, 20, 0)
				: csum_partial(ip, ihl, 0)) != 0xffff)
		return SH_DROP_IP_BAD_CHECKSUM;
	frag = ld16_host(ip + IP4_FRAG) & 0x3fff; /* MF, offset */

	p->ip = ip;
	p->l2_len = (uint16_t)l2;
	p->ip_len = (uint16_t)tot;
	p->l4 = ip + ihl;
	p->l4_len = (uint16_t)(tot - ihl);
	p->proto = ip[IP4_PROTO];
	p->hairpin = false;
	p->frag = 0;
	if (__builtin_expect(frag != 0, 0))
		return frag_check(p, frag);
	return l4_check(p, csum);
}

void nat_pkt_restore(struct nat_pkt *p, uint8_t *frame, uint16_t l2_len,
		     uint8_t ihl)
{
	p->l2_len = l2_len;
	p->ip = frame + l2_len;
	p->l4 = p->ip + ihl;
	p->ip_len = ld16_host(p->ip + IP4_TOTLEN);
	p->l4_len = (uint16_t)(p->ip_len - ihl);
	p->proto = p->ip[IP4_PROTO];
	p->hairpin = false;
	p->frag = 0;
	if (ld16_host(p->ip + IP4_FRAG) & 0x3fff)
		p->frag = ld16_host(p->ip + IP4_FRAG) & 0x1fff ? NAT_PKT_LATER
							      : NAT_PKT_FIRST;
}
