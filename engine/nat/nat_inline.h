/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inline helpers shared by the NAT core: header field access, Internet
 * checksums (RFC 1071 full sums, RFC 1624 incremental updates), the keyed
 * flow hash, and flow timeouts.
 *
 * Checksums are computed on 16-bit words loaded in host order straight
 * from network-order memory. One's-complement sums are byte-order
 * independent (RFC 1071 §2(B)), so the fast path never swaps bytes.
 */
#ifndef SHOAL_NAT_INLINE_H
#define SHOAL_NAT_INLINE_H

#include <string.h>

#include "nat.h"

#define NAT_PROTO_ICMP 1
#define NAT_PROTO_TCP 6
#define NAT_PROTO_UDP 17

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_VLAN 0x8100

/*
 * Ethernet with at most one 802.1Q tag: the ethertype it carries, with the
 * header length in *@l2; 0 when the frame is too short for its header.
 */
static inline uint16_t eth_type(const uint8_t *frame, uint32_t len,
				uint32_t *l2)
{
	uint16_t type;

	if (len < ETH_HLEN)
		return 0;
	type = (uint16_t)(frame[12] << 8 | frame[13]);
	*l2 = ETH_HLEN;
	if (type == ETHERTYPE_VLAN) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return 0;
		type = (uint16_t)(frame[16] << 8 | frame[17]);
		*l2 += VLAN_HLEN;
	}
	return type;
}

/* IPv4 header offsets */
#define IP4_TOTLEN 2
#define IP4_FRAG 6
#define IP4_TTL 8
#define IP4_PROTO 9
#define IP4_CSUM 10
#define IP4_SRC 12
#define IP4_DST 16

/* L4 offsets */
#define L4_SPORT 0
#define L4_DPORT 2
#define TCP_FLAGS 13
#define TCP_CSUM 16
#define UDP_LEN 4
#define UDP_CSUM 6
#define NAT_ICMP_TYPE 0
#define NAT_ICMP_CODE 1
#define NAT_ICMP_CSUM 2
#define NAT_ICMP_ID 4

#define NAT_TCPF_FIN 0x01
#define NAT_TCPF_SYN 0x02
#define NAT_TCPF_RST 0x04
#define NAT_TCPF_ACK 0x10

#define NAT_ICMP_ECHO_REPLY 0
#define NAT_ICMP_DEST_UNREACH 3
#define NAT_ICMP_ECHO_REQUEST 8
#define NAT_ICMP_TIME_EXCEEDED 11
#define NAT_ICMP_PARAM_PROBLEM 12

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline void st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Network-order 16-bit field as a host number. */
static inline uint16_t ld16_host(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Host <-> network order for 16-bit values (htons and ntohs alike). */
static inline uint16_t nat_be16(uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16(v);
#else
	return v;
#endif
}

/* ---- checksums ---- */

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

/*
 * Apply @delta to the L4 checksum at @l4 (TCP, UDP or ICMP-id). A UDP
 * checksum of 0 means "none" and stays 0; a computed 0 is sent as 0xffff
 * (RFC 768).
 */
static inline void l4_csum_adjust(uint8_t *l4, uint8_t proto, uint64_t delta)
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
		st16(l4 + NAT_ICMP_CSUM, csum_apply(ld16(l4 + NAT_ICMP_CSUM), delta));
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

/* ---- flow keys and hashing ---- */

static inline uint64_t nat_mix(uint64_t a, uint64_t b, uint64_t seed)
{
	uint64_t h = (a ^ seed) * 0x9e3779b97f4a7c15ull;
	h ^= (b + (h >> 29)) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

static inline uint64_t nat_key_hash(const struct nat_key *k, uint64_t seed)
{
	uint64_t a = (uint64_t)k->local_ip << 32 | k->remote_ip;
	uint64_t b = (uint64_t)k->local_port << 32 |
		     (uint64_t)k->remote_port << 16 | k->proto;
	return nat_mix(a, b, seed);
}

static inline void nat_key_set(struct nat_key *k, uint32_t lip, uint16_t lport,
			       uint32_t rip, uint16_t rport, uint8_t proto)
{
	k->local_ip = lip;
	k->remote_ip = rip;
	k->local_port = lport;
	k->remote_port = rport;
	k->proto = proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

static inline bool nat_flow_match_in(const struct nat_flow *f,
				     const struct nat_key *k)
{
	return f->in_ip == k->local_ip && f->rem_ip == k->remote_ip &&
	       f->in_port == k->local_port && f->rem_port == k->remote_port &&
	       f->proto == k->proto;
}

static inline bool nat_flow_match_out(const struct nat_flow *f,
				      const struct nat_key *k)
{
	return f->out_ip == k->local_ip && f->rem_ip == k->remote_ip &&
	       f->out_port == k->local_port && f->rem_port == k->remote_port &&
	       f->proto == k->proto;
}

static inline void nat_flow_in_key(const struct nat_flow *f, struct nat_key *k)
{
	nat_key_set(k, f->in_ip, f->in_port, f->rem_ip, f->rem_port, f->proto);
}

static inline void nat_flow_out_key(const struct nat_flow *f, struct nat_key *k)
{
	nat_key_set(k, f->out_ip, f->out_port, f->rem_ip, f->rem_port,
		    f->proto);
}

static inline enum nat_timeout_class nat_flow_class(const struct nat_flow *f)
{
	if (f->proto == NAT_PROTO_UDP)
		return NAT_TO_UDP;
	if (f->proto == NAT_PROTO_ICMP)
		return NAT_TO_ICMP;
	if ((f->tcp & (NAT_TCP_SYN_IN | NAT_TCP_SYN_OUT)) ==
		    (NAT_TCP_SYN_IN | NAT_TCP_SYN_OUT) &&
	    !(f->tcp & (NAT_TCP_FIN | NAT_TCP_RST)))
		return NAT_TO_TCP_EST;
	return NAT_TO_TCP_TRANS;
}

/* Light TCP state: SYN, FIN and RST move a flow between timeouts. A SYN
 * on a closed binding starts a new connection on the same mapping. */
static inline void nat_tcp_track(struct nat_flow *f, uint8_t flags, bool in2out)
{
	if (flags & NAT_TCPF_RST) {
		f->tcp |= NAT_TCP_RST;
		return;
	}
	if (flags & NAT_TCPF_SYN) {
		if (f->tcp & (NAT_TCP_FIN | NAT_TCP_RST))
			f->tcp = 0;
		f->tcp |= in2out ? NAT_TCP_SYN_IN : NAT_TCP_SYN_OUT;
	}
	if (flags & NAT_TCPF_FIN)
		f->tcp |= NAT_TCP_FIN;
}

static inline void nat_flow_touch(struct nat_worker *w, struct nat_flow *f)
{
	f->last_seen = w->now;
	f->pkts += f->pkts != UINT32_MAX;
}

/* Has @f outlived its class's timeout at the worker's clock? */
static inline bool nat_flow_expired(const struct nat_worker *w,
				    const struct nat_flow *f)
{
	return (uint32_t)(w->now - f->last_seen) >=
	       w->timeout_ms[nat_flow_class(f)];
}

/*
 * The flow index for key @k in the outside (@out) or inside index, or -1.
 * Linear probing from the key's hash, at most NAT_MAX_PROBE slots, stops
 * at an empty slot; the 32-bit signature spares most flow reads. An
 * expired flow is removed on the way (the sweep may not have reached it)
 * and reported as absent. Inline so that the translators keep the key in
 * registers: this is the fast path's one lookup per packet.
 */
static inline int64_t nat_lookup(struct nat_worker *w, const struct nat_key *k,
				 bool out)
{
	struct nat_table *t = &w->t;
	const struct nat_slot *s = out ? t->out_slots : t->in_slots;
	uint64_t h = nat_key_hash(k, w->secret[0]);
	uint32_t sig = (uint32_t)(h >> 32);
	uint32_t pos = (uint32_t)h & t->mask;
	unsigned i;

	for (i = 0; i < NAT_MAX_PROBE; i++, pos = (pos + 1) & t->mask) {
		struct nat_flow *f;
		uint32_t idx = s[pos].idx;

		if (idx == 0)
			return -1;
		if (s[pos].sig != sig)
			continue;
		f = &t->flows[idx - 1];
		if (out ? !nat_flow_match_out(f, k) : !nat_flow_match_in(f, k))
			continue;
		if (__builtin_expect(nat_flow_expired(w, f), 0)) {
			nat_flow_del(w, idx - 1);
			w->cnt[SH_CNT_FLOW_EXPIRED]++;
			return -1;
		}
		return idx - 1;
	}
	return -1;
}

/* Is @dst (network order) Linux's to handle rather than a destination to
 * translate towards: the engine's own addresses, their subnets' directed
 * broadcasts, limited broadcast and multicast (routing protocols, mDNS,
 * DHCP...)? */
static inline bool nat_dst_is_local(const struct nat_lease_set *ls,
				    uint32_t dst)
{
	const uint8_t *b = (const uint8_t *)&dst;
	unsigned i;

	if ((b[0] & 0xf0) == 0xe0 || dst == 0xffffffff)
		return true;
	for (i = 0; i < ls->n_host_ips; i++)
		if (ls->host_ips[i] == dst)
			return true;
	return false;
}

#endif /* SHOAL_NAT_INLINE_H */
