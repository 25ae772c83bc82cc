/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internet checksums for the NAT core: RFC 1071 full sums and RFC 1624
 * incremental updates, plus the TTL decrement folded into the IPv4
 * header's update.
 *
 * Checksums are computed on 16-bit words loaded in host order straight
 * from network-order memory. One's-complement sums are byte-order
 * independent (RFC 1071 §2(B)), so the fast path never swaps bytes.
 */
#ifndef SHOAL_NAT_CSUM_H
#define SHOAL_NAT_CSUM_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

/* A 64-bit one's-complement accumulator folded to 16 bits: halves with
 * end-around carry, then the 16-bit halves by adding the word to itself
 * rotated (the top half then holds the folded sum, carry included). */
static inline uint16_t csum_fold(uint64_t sum)
{
	uint32_t s = (uint32_t)sum, hi = (uint32_t)(sum >> 32);

	s += hi;
	s += s < hi;
	return (uint16_t)((s + (s >> 16 | s << 16)) >> 16);
}

/* @sum + @v with end-around carry: an add and an add-with-carry. */
static inline uint64_t csum_add(uint64_t sum, uint64_t v)
{
	sum += v;
	return sum + (sum < v);
}

/*
 * One's-complement sum of @len bytes at @p added to @sum (not folded):
 * 64-bit words with end-around carry, then a 32-bit, a 16-bit and a last
 * odd byte. A constant @len (the 20-byte IPv4 header) unrolls completely.
 */
static inline uint64_t csum_partial(const uint8_t *p, uint32_t len, uint64_t sum)
{
	uint64_t v;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&v, p, 8);
		sum = csum_add(sum, v);
	}
	if (len & 4) {
		sum = csum_add(sum, ld32(p));
		p += 4;
	}
	if (len & 2) {
		sum = csum_add(sum, ld16(p));
		p += 2;
	}
	if (len & 1) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		sum = csum_add(sum, p[0]);
#else
		sum = csum_add(sum, (uint16_t)(p[0] << 8));
#endif
	}
	return sum;
}

/* Checksum field value for @len bytes at @p plus @sum. */
static inline uint16_t csum_finish(uint64_t sum)
{
	return (uint16_t)~csum_fold(sum);
}

/* Pseudo-header sum for TCP/UDP over IPv4 (RFC 793/768). */
static inline uint64_t csum_pseudo(const uint8_t *ip, uint8_t proto,
				   uint16_t l4_len)
{
	uint64_t sum = 0;
	sum += ld32(ip + IP4_SRC) & 0xffff;
	sum += ld32(ip + IP4_SRC) >> 16;
	sum += ld32(ip + IP4_DST) & 0xffff;
	sum += ld32(ip + IP4_DST) >> 16;
	sum += nat_be16(proto);
	sum += nat_be16(l4_len);
	return sum;
}

/*
 * RFC 1624 eqn. 3 delta accumulators: HC' = ~(~HC + ~m + m'). A caller
 * adds every changed word with csum_delta*() and applies the total once.
 */
static inline uint32_t csum_delta16(uint16_t old, uint16_t new_)
{
	return (uint32_t)(uint16_t)~old + new_;
}

static inline uint32_t csum_delta32(uint32_t old, uint32_t new_)
{
	return (uint32_t)(uint16_t)~(old & 0xffff) +
	       (uint16_t)~(old >> 16) + (new_ & 0xffff) + (new_ >> 16);
}

static inline uint16_t csum_apply(uint16_t csum, uint64_t delta)
{
	return (uint16_t)~csum_fold((uint16_t)~csum + delta);
}

/* Are the @len bytes at @p zero, but for the ICMP checksum field? */
static inline bool icmp_all_zero(const uint8_t *p, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		if (p[i] && i != NAT_ICMP_CSUM && i != NAT_ICMP_CSUM + 1)
			return false;
	return true;
}

/*
 * Apply @delta to the L4 checksum at @l4 (TCP, UDP or ICMP-id). A UDP
 * checksum of 0 means "none" and stays 0; a computed 0 is sent as 0xffff
 * (RFC 768). An ICMP message of @len bytes (0: not all present) whose
 * words are all zero sums to +0, where only 0xffff verifies, but the
 * update's arithmetic gives 0x0000 (-0): ICMP has no pseudo-header, so
 * that message exists (an echo reply with id, sequence and payload 0).
 * Any other message summing to -0 keeps 0x0000, which is right for it.
 * TCP and UDP never sum to +0: their pseudo-header is not zero.
 */
static inline void l4_csum_adjust(uint8_t *l4, uint8_t proto, uint32_t len,
				  uint64_t delta)
{
	uint16_t c;

	if (proto == NAT_PROTO_TCP) {
		st16(l4 + TCP_CSUM, csum_apply(ld16(l4 + TCP_CSUM), delta));
	} else if (proto == NAT_PROTO_UDP) {
		c = ld16(l4 + UDP_CSUM);
		if (c == 0)
			return;
		c = csum_apply(c, delta);
		st16(l4 + UDP_CSUM, c ? c : 0xffff);
	} else {
		c = csum_apply(ld16(l4 + NAT_ICMP_CSUM), delta);
		if (__builtin_expect(c == 0, 0) && len && icmp_all_zero(l4, len))
			c = 0xffff;
		st16(l4 + NAT_ICMP_CSUM, c);
	}
}

/*
 * TTL decrement folded into the IPv4 header checksum delta: the TTL is the
 * high byte of the word at offset 8.
 */
static inline uint32_t ip_ttl_dec(uint8_t *ip)
{
	uint16_t old = ld16(ip + IP4_TTL);
	ip[IP4_TTL]--;
	return csum_delta16(old, ld16(ip + IP4_TTL));
}

#endif /* SHOAL_NAT_CSUM_H */
