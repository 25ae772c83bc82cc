/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only helpers for the NAT unit tests.
 *
 * 1. A checksum oracle: the plain RFC 1071 sum over big-endian 16-bit
 *    words, written independently of engine/nat/csum.h on purpose.
 *    The engine's incremental (RFC 1624) updates are judged against it, so
 *    it must share none of their code or byte-order tricks.
 * 2. A packet builder: Ethernet (+ optional 802.1Q) / IPv4 (+ options) /
 *    TCP, UDP or ICMP, with correct checksums from the oracle. Values in
 *    struct pb_spec are host order; frames are network order.
 * 3. NAT fixtures: a libc zero-allocator for struct nat_params, a config
 *    builder, and parse-then-translate shortcuts.
 *
 * Everything is static inline so each test includes only what it uses
 * without unused-function warnings.
 */
#ifndef SHOAL_TEST_PKT_BUILD_H
#define SHOAL_TEST_PKT_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "nat/nat.h"

#define PB_IP(a, b, c, d)                                                      \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 |     \
	 (uint32_t)(d))

#define PB_ICMP 1
#define PB_TCP 6
#define PB_UDP 17

#define PB_FIN 0x01
#define PB_SYN 0x02
#define PB_RST 0x04
#define PB_PSH 0x08
#define PB_ACK 0x10

#define PB_ETH_LEN 14
#define PB_VLAN_LEN 4
#define PB_MAX_FRAME 2048

/* ---- 1. big-endian field access and the RFC 1071 oracle ---------------- */

static inline uint16_t pb_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t pb_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void pb_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void pb_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* RFC 1071 §4.1: add big-endian 16-bit words; an odd last byte is the high
 * byte of a word padded with zero. Returns the running 32-bit sum. */
static inline uint32_t pb_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* Fold the carries back in until the sum fits 16 bits. */
static inline uint16_t pb_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The checksum field value (host order) for @len bytes plus @sum. */
static inline uint16_t pb_csum(const uint8_t *p, size_t len, uint32_t sum)
{
	return (uint16_t)~pb_fold(pb_sum(p, len, sum));
}

static inline unsigned pb_ihl(const uint8_t *ip)
{
	return (ip[0] & 0xfu) * 4;
}

/* TCP/UDP pseudo-header sum (RFC 793 §3.1, RFC 768). */
static inline uint32_t pb_pseudo(const uint8_t *ip, uint8_t proto,
				 uint16_t len)
{
	return pb_sum(ip + 12, 8, 0) + proto + len;
}

static inline void pb_fix_ip_csum(uint8_t *ip)
{
	pb_put16(ip + 10, 0);
	pb_put16(ip + 10, pb_csum(ip, pb_ihl(ip), 0));
}

static inline bool pb_ip_csum_ok(const uint8_t *ip)
{
	return pb_fold(pb_sum(ip, pb_ihl(ip), 0)) == 0xffff;
}

/* Recompute the L4 checksum of the IPv4 packet at @ip from scratch. UDP
 * uses its own length field and sends a computed 0 as 0xffff (RFC 768). */
static inline void pb_fix_l4_csum(uint8_t *ip)
{
	uint8_t *l4 = ip + pb_ihl(ip);
	uint16_t len = (uint16_t)(pb_get16(ip + 2) - pb_ihl(ip));
	uint16_t c;

	switch (ip[9]) {
	case PB_TCP:
		pb_put16(l4 + 16, 0);
		pb_put16(l4 + 16, pb_csum(l4, len, pb_pseudo(ip, PB_TCP, len)));
		break;
	case PB_UDP:
		len = pb_get16(l4 + 4);
		pb_put16(l4 + 6, 0);
		c = pb_csum(l4, len, pb_pseudo(ip, PB_UDP, len));
		pb_put16(l4 + 6, c ? c : 0xffff);
		break;
	case PB_ICMP:
		pb_put16(l4 + 2, 0);
		pb_put16(l4 + 2, pb_csum(l4, len, 0));
		break;
	}
}

/* Is the L4 checksum of the IPv4 packet at @ip right, summed over the
 * IPv4 payload (UDP: over its own length)? A UDP checksum of 0 ("none")
 * counts as right. */
static inline bool pb_l4_csum_ok(const uint8_t *ip)
{
	const uint8_t *l4 = ip + pb_ihl(ip);
	uint16_t len = (uint16_t)(pb_get16(ip + 2) - pb_ihl(ip));

	switch (ip[9]) {
	case PB_TCP:
		return pb_fold(pb_sum(l4, len, pb_pseudo(ip, PB_TCP, len))) ==
		       0xffff;
	case PB_UDP:
		if (pb_get16(l4 + 6) == 0)
			return true;
		len = pb_get16(l4 + 4);
		return pb_fold(pb_sum(l4, len, pb_pseudo(ip, PB_UDP, len))) ==
		       0xffff;
	case PB_ICMP:
		return pb_fold(pb_sum(l4, len, 0)) == 0xffff;
	default:
		return false;
	}
}

/* A small seeded PRNG (xorshift64*), so property tests are reproducible. */
struct pb_rng {
	uint64_t s;
};

static inline uint32_t pb_rand(struct pb_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (uint32_t)((r->s * 0x2545f4914f6cdd1dull) >> 32);
}

/* ---- 2. the packet builder --------------------------------------------- */

struct pb_spec {
	bool vlan;            /* add an 802.1Q tag */
	uint8_t ip_opt_len;   /* IPv4 option bytes (NOPs), multiple of 4 */
	uint8_t ttl;
	uint8_t proto;        /* PB_TCP, PB_UDP, PB_ICMP or anything */
	uint16_t frag;        /* IPv4 flags + fragment offset */
	uint32_t src, dst;
	uint16_t sport, dport;  /* TCP/UDP */
	uint8_t tcp_flags;
	uint32_t seq;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id, icmp_seq; /* ICMP bytes 4-7 (next-hop MTU in seq) */
	const uint8_t *payload;
	uint16_t payload_len;
	uint16_t eth_pad;     /* bytes of Ethernet padding after the packet */
	bool udp_no_csum;     /* send UDP checksum 0 */
};

static inline struct pb_spec pb_udp(uint32_t src, uint16_t sport, uint32_t dst,
				    uint16_t dport)
{
	return (struct pb_spec){ .ttl = 64, .proto = PB_UDP, .src = src,
				 .dst = dst, .sport = sport, .dport = dport };
}

static inline struct pb_spec pb_tcp(uint32_t src, uint16_t sport, uint32_t dst,
				    uint16_t dport, uint8_t flags)
{
	return (struct pb_spec){ .ttl = 64, .proto = PB_TCP, .src = src,
				 .dst = dst, .sport = sport, .dport = dport,
				 .tcp_flags = flags, .seq = 0x01020304 };
}

static inline struct pb_spec pb_icmp(uint32_t src, uint32_t dst, uint8_t type,
				     uint8_t code, uint16_t id, uint16_t seq)
{
	return (struct pb_spec){ .ttl = 64, .proto = PB_ICMP, .src = src,
				 .dst = dst, .icmp_type = type,
				 .icmp_code = code, .icmp_id = id,
				 .icmp_seq = seq };
}

static inline unsigned pb_l2_len(const struct pb_spec *s)
{
	return PB_ETH_LEN + (s->vlan ? PB_VLAN_LEN : 0);
}

static inline unsigned pb_l4_hdr_len(uint8_t proto)
{
	if (proto == PB_TCP)
		return 20;
	return proto == PB_UDP || proto == PB_ICMP ? 8 : 0;
}

/* Write the frame for @s into @buf (PB_MAX_FRAME bytes); its length. */
static inline size_t pb_build(uint8_t *buf, const struct pb_spec *s)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	unsigned l2 = pb_l2_len(s), ihl = 20u + s->ip_opt_len;
	unsigned l4h = pb_l4_hdr_len(s->proto);
	unsigned tot = ihl + l4h + s->payload_len;
	uint8_t *ip = buf + l2, *l4 = ip + ihl;

	memset(buf, 0, l2 + tot + s->eth_pad);
	memcpy(buf, macs, sizeof(macs));
	if (s->vlan) {
		pb_put16(buf + 12, 0x8100);
		pb_put16(buf + 14, 42);
		pb_put16(buf + 16, 0x0800);
	} else {
		pb_put16(buf + 12, 0x0800);
	}

	ip[0] = (uint8_t)(0x40 | ihl / 4);
	pb_put16(ip + 2, (uint16_t)tot);
	pb_put16(ip + 4, 0x1234);
	pb_put16(ip + 6, s->frag);
	ip[8] = s->ttl;
	ip[9] = s->proto;
	pb_put32(ip + 12, s->src);
	pb_put32(ip + 16, s->dst);
	memset(ip + 20, 1, s->ip_opt_len); /* NOP options */

	switch (s->proto) {
	case PB_TCP:
		pb_put16(l4, s->sport);
		pb_put16(l4 + 2, s->dport);
		pb_put32(l4 + 4, s->seq);
		l4[12] = 5 << 4;
		l4[13] = s->tcp_flags;
		pb_put16(l4 + 14, 0xffff);
		break;
	case PB_UDP:
		pb_put16(l4, s->sport);
		pb_put16(l4 + 2, s->dport);
		pb_put16(l4 + 4, (uint16_t)(8 + s->payload_len));
		break;
	case PB_ICMP:
		l4[0] = s->icmp_type;
		l4[1] = s->icmp_code;
		pb_put16(l4 + 4, s->icmp_id);
		pb_put16(l4 + 6, s->icmp_seq);
		break;
	}
	if (s->payload_len)
		memcpy(l4 + l4h, s->payload, s->payload_len);
	if (!(s->proto == PB_UDP && s->udp_no_csum))
		pb_fix_l4_csum(ip);
	pb_fix_ip_csum(ip);
	return l2 + tot + s->eth_pad;
}

/* ---- 3. NAT fixtures ---------------------------------------------------- */

/* struct nat_params allocator: zeroed, 64-byte aligned, from libc. */
static inline void *pb_zalloc(size_t size, void *ctx)
{
	size_t n = (size + 63) & ~(size_t)63;
	void *p;

	(void)ctx;
	p = aligned_alloc(64, n ? n : 64);
	if (p)
		memset(p, 0, n ? n : 64);
	return p;
}

static inline void pb_free(void *p, void *ctx)
{
	(void)ctx;
	free(p);
}

/* Worker parameters with the config's timeouts and a fixed secret. */
static inline struct nat_params pb_params(const struct sh_config *c,
					  unsigned id, unsigned n,
					  uint32_t max_flows)
{
	struct nat_params p = {
		.worker_id = id,
		.n_workers = n,
		.max_flows = max_flows,
		.max_ports_per_client = c->nat.max_ports_per_client,
		.hold_down_s = c->nat.port_hold_down,
		.secret = { 0x0123456789abcdefull, 0xfedcba9876543210ull },
		.zalloc = pb_zalloc,
		.free = pb_free,
	};

	p.timeout_s[NAT_TO_UDP] = c->nat.udp_timeout;
	p.timeout_s[NAT_TO_TCP_EST] = c->nat.tcp_established_timeout;
	p.timeout_s[NAT_TO_TCP_TRANS] = c->nat.tcp_transitory_timeout;
	p.timeout_s[NAT_TO_ICMP] = c->nat.icmp_timeout;
	return p;
}

/* The addressing plan every NAT test uses. */
#define PB_HOST_IN PB_IP(10, 0, 0, 1)     /* [inside] address */
#define PB_HOST_OUT PB_IP(192, 0, 2, 1)   /* [outside] address */
#define PB_SLICE PB_IP(198, 51, 100, 10)  /* slice 10000-12047 */
#define PB_SLICE_LO 10000
#define PB_SLICE_HI 12047
#define PB_REMOTE PB_IP(203, 0, 113, 5)   /* a server on the Internet */
#define PB_ROUTER PB_IP(203, 0, 113, 1)   /* a router that sends errors */

/* Defaults, the host addresses and one slice; no leases. */
static inline void pb_cfg_base(struct sh_config *c)
{
	sh_config_defaults(c);
	c->inside.has_address = true;
	c->inside.address_host = PB_HOST_IN;
	c->inside.address = (struct sh_prefix){ PB_IP(10, 0, 0, 0), 24 };
	c->outside.has_address = true;
	c->outside.address_host = PB_HOST_OUT;
	c->outside.address = (struct sh_prefix){ PB_IP(192, 0, 2, 0), 24 };
	c->slices[0] = (struct sh_slice_cfg){ .ip = PB_SLICE, .lo = PB_SLICE_LO,
					      .hi = PB_SLICE_HI };
	c->n_slices = 1;
}

/* Append a lease; @pfx_len 0 with @kind socket means no client selector. */
static inline struct sh_lease_cfg *pb_cfg_lease(struct sh_config *c,
						const char *name,
						enum sh_lease_kind kind,
						uint16_t lo, uint16_t hi,
						uint32_t clients,
						uint8_t pfx_len)
{
	struct sh_lease_cfg *l = &c->leases[c->n_leases++];

	memset(l, 0, sizeof(*l));
	strncpy(l->name, name, sizeof(l->name) - 1);
	l->kind = kind;
	l->ip = PB_SLICE;
	l->lo = lo;
	l->hi = hi;
	if (kind == SH_LEASE_NAT) {
		l->clients[0] = (struct sh_prefix){ clients, pfx_len };
		l->n_clients = 1;
	}
	return l;
}

/* Every lease of @c shares outside ports across destinations
 * (address-and-port-dependent mapping and filtering, shoal's only
 * behaviour before per-lease modes): what the port-search, expiry and
 * translation tests were written for. test_behaviour.c covers the rest. */
static inline void pb_cfg_shared_ports(struct sh_config *c)
{
	for (unsigned i = 0; i < c->n_leases; i++) {
		c->leases[i].mapping = SH_MAPPING_APDM;
		c->leases[i].filtering = SH_FILTERING_APDF;
	}
}

/*
 * The fixture of the translation tests: nat lease "a" for 10.0.0.0/16 on
 * 10000-@nat_hi (shared ports), socket lease "sock" on 11000-11099, one worker of
 * @max_flows flows at clock 1000 ms. NULL if anything fails.
 */
static inline struct nat_worker *pb_nat_fixture(struct sh_config *c,
						struct nat_lease_set *ls,
						uint16_t nat_hi,
						uint32_t max_flows)
{
	struct nat_params p;
	struct nat_worker *w;

	pb_cfg_base(c);
	pb_cfg_lease(c, "a", SH_LEASE_NAT, 10000, nat_hi, PB_IP(10, 0, 0, 0), 16);
	pb_cfg_lease(c, "sock", SH_LEASE_SOCKET, 11000, 11099, 0, 0);
	pb_cfg_shared_ports(c);
	if (nat_lease_set_from_config(ls, c) != 0)
		return NULL;
	p = pb_params(c, 0, 1, max_flows);
	w = nat_worker_create(&p);
	if (w)
		w->now = 1000;
	return w;
}

/*
 * Parse @frame and translate it with @fn, on a heap copy of exactly @len
 * bytes (so an AddressSanitizer build catches any access past the frame),
 * then copy the result back. The verdict, or parse's drop reason.
 */
static inline unsigned pb_run(unsigned (*fn)(struct nat_worker *,
					      const struct nat_lease_set *,
					      struct nat_pkt *),
			      struct nat_worker *w,
			      const struct nat_lease_set *ls, uint8_t *frame,
			      size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct nat_pkt p;
	unsigned r;

	if (!copy)
		abort();
	memcpy(copy, frame, len);
	r = nat_parse(&p, copy, (uint32_t)len, false);
	if (r == SH_OK)
		r = fn(w, ls, &p);
	memcpy(frame, copy, len);
	free(copy);
	return r;
}

/* Parse @frame and translate it inside to outside; the verdict. */
static inline unsigned pb_in2out(struct nat_worker *w,
				 const struct nat_lease_set *ls, uint8_t *frame,
				 size_t len)
{
	return pb_run(nat_in2out, w, ls, frame, len);
}

/* Parse @frame and translate it outside to inside; the verdict. */
static inline unsigned pb_out2in(struct nat_worker *w,
				 const struct nat_lease_set *ls, uint8_t *frame,
				 size_t len)
{
	return pb_run(nat_out2in, w, ls, frame, len);
}

#endif /* SHOAL_TEST_PKT_BUILD_H */
