/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for nat_parse(): what it accepts, what it fills in, and each
 * way it refuses a frame, with the drop reason that names that way.
 *
 * Every frame starts valid (pkt_build.h) and gets exactly one defect;
 * header checksums are refixed after a field edit so the defect under
 * test is the only one. nat_parse promises never to write to the frame
 * but for finishing a checksum-partial TCP/UDP packet's checksum, so
 * every call is also checked against a copy (parse_partial(): every byte
 * but those two).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nat/pkt.h"
#include "pkt_build.h"

static uint8_t frame[PB_MAX_FRAME];
static const uint8_t payload[11] = "hello, nat";

#define CLIENT PB_IP(10, 0, 0, 5)

/* nat_parse's verdict for the first @len bytes of the global frame, run
 * on a heap copy of exactly @len bytes (so a sanitizer build catches any
 * read past the frame) and asserting that it left the bytes untouched.
 * On success @p points into the global frame. */
static unsigned parse(struct nat_pkt *p, size_t len, enum nat_l4_csum csum)
{
	uint8_t *copy = malloc(len ? len : 1);
	unsigned r;

	assert_non_null(copy);
	memcpy(copy, frame, len);
	r = nat_parse(p, copy, (uint32_t)len, csum);
	assert_memory_equal(copy, frame, len);
	if (r == SH_OK) {
		p->ip = frame + (p->ip - copy);
		p->l4 = frame + (p->l4 - copy);
	}
	free(copy);
	return r;
}

static unsigned parse_len(size_t len)
{
	struct nat_pkt p;

	return parse(&p, len, NAT_L4_CSUM_VERIFY);
}

/* nat_parse with NAT_L4_CSUM_PARTIAL on a heap copy of the first @len
 * bytes, copied back into the global frame: every byte but the L4
 * checksum field (@csum_at bytes into the frame, if any) must be left as
 * it was. */
static unsigned parse_partial(struct nat_pkt *p, size_t len, size_t csum_at)
{
	uint8_t *copy = malloc(len ? len : 1);
	unsigned r;

	assert_non_null(copy);
	memcpy(copy, frame, len);
	r = nat_parse(p, copy, (uint32_t)len, NAT_L4_CSUM_PARTIAL);
	for (size_t i = 0; i < len; i++)
		if (i != csum_at && i != csum_at + 1)
			assert_int_equal(copy[i], frame[i]);
	memcpy(frame, copy, len);
	if (r == SH_OK) {
		p->ip = frame + (p->ip - copy);
		p->l4 = frame + (p->l4 - copy);
	}
	free(copy);
	return r;
}

static size_t build(struct pb_spec s)
{
	return pb_build(frame, &s);
}

static uint8_t *ip_of(bool vlan)
{
	return frame + PB_ETH_LEN + (vlan ? PB_VLAN_LEN : 0);
}

/* Set the IPv4 total length (and refix the header checksum). */
static void set_totlen(uint8_t *ip, uint16_t tot)
{
	pb_put16(ip + 2, tot);
	pb_fix_ip_csum(ip);
}

/* ---- accepted frames ------------------------------------------------- */

/* The parsed view points at the IPv4 and L4 headers and carries the
 * lengths and protocol the translators rely on. */
static void check_view(const struct nat_pkt *p, unsigned l2, unsigned ihl,
		       unsigned l4_len, uint8_t proto)
{
	assert_ptr_equal(p->ip, frame + l2);
	assert_ptr_equal(p->l4, frame + l2 + ihl);
	assert_int_equal(p->l2_len, l2);
	assert_int_equal(p->ip_len, ihl + l4_len);
	assert_int_equal(p->l4_len, l4_len);
	assert_int_equal(p->proto, proto);
}

static void test_parse_accepts_udp_tcp_icmp(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	struct nat_pkt p;
	size_t len;

	(void)state;
	s.payload = payload;
	s.payload_len = sizeof(payload);
	len = build(s);
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY), SH_OK);
	check_view(&p, 14, 20, 8 + sizeof(payload), NAT_PROTO_UDP);

	s = pb_tcp(CLIENT, 4000, PB_REMOTE, 80, PB_SYN);
	s.payload = payload;
	s.payload_len = sizeof(payload);
	len = build(s);
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY), SH_OK);
	check_view(&p, 14, 20, 20 + sizeof(payload), NAT_PROTO_TCP);

	s = pb_icmp(CLIENT, PB_REMOTE, 8, 0, 0x4242, 1);
	s.payload = payload;
	s.payload_len = sizeof(payload);
	len = build(s);
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY), SH_OK);
	check_view(&p, 14, 20, 8 + sizeof(payload), NAT_PROTO_ICMP);
}

/* An 802.1Q tag moves the IPv4 header by 4 bytes. */
static void test_parse_accepts_vlan_tag(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	struct nat_pkt p;
	size_t len;

	(void)state;
	s.vlan = true;
	len = build(s);
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY), SH_OK);
	check_view(&p, 18, 20, 8, NAT_PROTO_UDP);
}

/* IPv4 options: L4 starts after ihl * 4 bytes, for every legal ihl. */
static void test_parse_accepts_ip_options(void **state)
{
	struct pb_spec s = pb_tcp(CLIENT, 4000, PB_REMOTE, 80, PB_SYN);
	struct nat_pkt p;

	(void)state;
	for (uint8_t opt = 4; opt <= 40; opt += 4) {
		size_t len;

		s.ip_opt_len = opt;
		len = build(s);
		assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY), SH_OK);
		check_view(&p, 14, 20u + opt, 20, NAT_PROTO_TCP);
	}
}

/* A frame padded to Ethernet's 60-byte minimum: the IPv4 total length,
 * not the frame, bounds the packet. */
static void test_parse_accepts_ethernet_padding(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	struct nat_pkt p;
	size_t len;

	(void)state;
	s.eth_pad = 60 - (14 + 28);
	memset(frame, 0xee, sizeof(frame)); /* padding need not be zero */
	len = build(s);
	frame[len - 1] = 0xee;
	assert_int_equal(len, 60);
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY), SH_OK);
	check_view(&p, 14, 20, 8, NAT_PROTO_UDP);
}

/* Bytes after the UDP length inside the IP packet are not UDP's: the
 * checksum covers the UDP length only. */
static void test_parse_udp_length_shorter_than_ip_payload(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	uint8_t *ip = ip_of(false);
	size_t len;

	(void)state;
	s.payload = payload;
	s.payload_len = sizeof(payload);
	len = build(s);
	pb_put16(ip + 20 + 4, 8 + 3); /* UDP says 3 bytes of data */
	pb_fix_l4_csum(ip);
	ip[20 + 8 + 5] ^= 0xff;        /* beyond the UDP length */
	assert_int_equal(parse_len(len), SH_OK);
}

/* ---- Ethernet --------------------------------------------------------- */

static void test_parse_short_frame_is_l2_malformed(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);

	(void)state;
	build(s);
	assert_int_equal(parse_len(0), SH_DROP_L2_MALFORMED);
	assert_int_equal(parse_len(13), SH_DROP_L2_MALFORMED);
	s.vlan = true;
	build(s);
	assert_int_equal(parse_len(14), SH_DROP_L2_MALFORMED);
	assert_int_equal(parse_len(17), SH_DROP_L2_MALFORMED);
	/* a complete tag with no IPv4 header behind it is an IP problem */
	assert_int_equal(parse_len(18), SH_DROP_IP_MALFORMED);
}

/* ARP and IPv6, tagged or not, are not ours: NOT_IPV4 for the caller to
 * punt to Linux. */
static void test_parse_other_ethertype_is_not_ipv4(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	size_t len;

	(void)state;
	len = build(s);
	pb_put16(frame + 12, 0x0806);
	assert_int_equal(parse_len(len), SH_DROP_NOT_IPV4);
	pb_put16(frame + 12, 0x86dd);
	assert_int_equal(parse_len(len), SH_DROP_NOT_IPV4);
	s.vlan = true;
	len = build(s);
	pb_put16(frame + 16, 0x86dd);
	assert_int_equal(parse_len(len), SH_DROP_NOT_IPV4);
	/* 802.1ad (QinQ) outer tag is not parsed as a VLAN */
	len = build(s);
	pb_put16(frame + 12, 0x88a8);
	assert_int_equal(parse_len(len), SH_DROP_NOT_IPV4);
}

/* ---- IPv4 header ------------------------------------------------------ */

static void test_parse_truncated_ip_header_is_malformed(void **state)
{
	(void)state;
	build(pb_udp(CLIENT, 4000, PB_REMOTE, 53));
	assert_int_equal(parse_len(14 + 19), SH_DROP_IP_MALFORMED);
}

static void test_parse_bad_version_is_malformed(void **state)
{
	uint8_t *ip = ip_of(false);
	size_t len = build(pb_udp(CLIENT, 4000, PB_REMOTE, 53));

	(void)state;
	ip[0] = 0x65;
	pb_fix_ip_csum(ip);
	assert_int_equal(parse_len(len), SH_DROP_IP_MALFORMED);
}

static void test_parse_ihl_below_five_is_malformed(void **state)
{
	uint8_t *ip = ip_of(false);
	size_t len = build(pb_udp(CLIENT, 4000, PB_REMOTE, 53));

	(void)state;
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		ip[0] = (uint8_t)(0x40 | ihl);
		assert_int_equal(parse_len(len), SH_DROP_IP_MALFORMED);
	}
}

/* An ihl of 15 (60 bytes) on a 28-byte packet: the header would run past
 * the total length, and with a total length of 60, past the frame. */
static void test_parse_ihl_beyond_packet_is_malformed(void **state)
{
	uint8_t *ip = ip_of(false);
	size_t len = build(pb_udp(CLIENT, 4000, PB_REMOTE, 53));

	(void)state;
	ip[0] = 0x4f;
	assert_int_equal(parse_len(len), SH_DROP_IP_MALFORMED);
	pb_put16(ip + 2, 60);
	assert_int_equal(parse_len(len), SH_DROP_IP_MALFORMED);
}

static void test_parse_total_length_below_ihl_is_malformed(void **state)
{
	uint8_t *ip = ip_of(false);
	size_t len;

	(void)state;
	len = build(pb_udp(CLIENT, 4000, PB_REMOTE, 53));
	set_totlen(ip, 19);
	assert_int_equal(parse_len(len), SH_DROP_IP_MALFORMED);
	len = build((struct pb_spec){ .ttl = 64, .proto = PB_UDP,
				      .ip_opt_len = 8, .src = CLIENT,
				      .dst = PB_REMOTE });
	set_totlen(ip, 24); /* ihl is 28 */
	assert_int_equal(parse_len(len), SH_DROP_IP_MALFORMED);
}

static void test_parse_total_length_beyond_frame_is_malformed(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	size_t len;

	(void)state;
	s.payload = payload;
	s.payload_len = sizeof(payload);
	len = build(s);
	assert_int_equal(parse_len(len - 1), SH_DROP_IP_MALFORMED);
	s.vlan = true;
	len = build(s);
	assert_int_equal(parse_len(len - 1), SH_DROP_IP_MALFORMED);
}

static void test_parse_bad_header_checksum_is_refused(void **state)
{
	uint8_t *ip = ip_of(false);
	size_t len = build(pb_udp(CLIENT, 4000, PB_REMOTE, 53));

	(void)state;
	ip[10] ^= 0x01;
	assert_int_equal(parse_len(len), SH_DROP_IP_BAD_CHECKSUM);
	ip[10] ^= 0x01;
	ip[8]--; /* a TTL change the checksum does not know about */
	assert_int_equal(parse_len(len), SH_DROP_IP_BAD_CHECKSUM);
}

/* The options are under the header checksum too. */
static void test_parse_bad_checksum_over_options_is_refused(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	uint8_t *ip = ip_of(false);
	size_t len;

	(void)state;
	s.ip_opt_len = 12;
	len = build(s);
	ip[30] = 0x07;
	assert_int_equal(parse_len(len), SH_DROP_IP_BAD_CHECKSUM);
}

/* MF set or a non-zero offset is a fragment (test_frag.c has the rest);
 * DF alone is not; a fragment reaching past 65535 bytes is malformed. */
static void test_parse_fragments_are_marked(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	static const struct {
		uint16_t frag;
		unsigned verdict;
		uint8_t kind;
	} c[] = {
		{ 0x2000, SH_OK, NAT_PKT_FIRST }, { 0x6000, SH_OK, NAT_PKT_FIRST },
		{ 0x0001, SH_OK, NAT_PKT_LATER }, { 0x2001, SH_OK, NAT_PKT_LATER },
		{ 0x4001, SH_OK, NAT_PKT_LATER }, { 0x1fff, SH_DROP_IP_MALFORMED, 0 },
		{ 0x4000, SH_OK, 0 },
	};
	struct nat_pkt p;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		s.frag = c[i].frag;
		len = build(s);
		p.frag = 0xff;
		if (parse(&p, len, false) != c[i].verdict)
			fail_msg("frag field %04x: wrong verdict", c[i].frag);
		if (c[i].verdict == SH_OK && p.frag != c[i].kind)
			fail_msg("frag field %04x: kind %u", c[i].frag, p.frag);
	}
}

static void test_parse_unsupported_protocol_is_refused(void **state)
{
	struct pb_spec s = { .ttl = 64, .proto = 47, .src = CLIENT,
			     .dst = PB_REMOTE, .payload = payload,
			     .payload_len = sizeof(payload) };
	size_t len;

	(void)state;
	len = build(s);
	assert_int_equal(parse_len(len), SH_DROP_PROTO_UNSUPPORTED);
	s.proto = 58; /* ICMPv6 inside IPv4 */
	len = build(s);
	assert_int_equal(parse_len(len), SH_DROP_PROTO_UNSUPPORTED);
}

/* ---- L4 headers ------------------------------------------------------- */

/* Cut the IPv4 payload to @l4_len bytes (valid header checksum). */
static size_t truncate_l4(struct pb_spec s, uint16_t l4_len)
{
	size_t len;

	s.payload = payload;
	s.payload_len = sizeof(payload);
	len = build(s);
	set_totlen(ip_of(false), (uint16_t)(20 + l4_len));
	return len; /* the rest of the frame is now Ethernet padding */
}

static void test_parse_truncated_l4_headers_are_malformed(void **state)
{
	(void)state;
	assert_int_equal(parse_len(truncate_l4(pb_tcp(CLIENT, 1, PB_REMOTE, 2,
						      PB_SYN),
					       19)),
			 SH_DROP_L4_MALFORMED);
	assert_int_equal(parse_len(truncate_l4(pb_udp(CLIENT, 1, PB_REMOTE, 2),
					       7)),
			 SH_DROP_L4_MALFORMED);
	assert_int_equal(parse_len(truncate_l4(pb_icmp(CLIENT, PB_REMOTE, 8, 0,
						       1, 1),
					       7)),
			 SH_DROP_L4_MALFORMED);
	assert_int_equal(parse_len(truncate_l4(pb_udp(CLIENT, 1, PB_REMOTE, 2),
					       0)),
			 SH_DROP_L4_MALFORMED);
}

/* TCP data offset below 5 words, or past the end of the segment. */
static void test_parse_tcp_data_offset_out_of_range(void **state)
{
	struct pb_spec s = pb_tcp(CLIENT, 4000, PB_REMOTE, 80, PB_SYN);
	uint8_t *ip = ip_of(false), *l4 = ip + 20;
	size_t len;

	(void)state;
	len = build(s);
	l4[12] = 4 << 4;
	pb_fix_l4_csum(ip);
	assert_int_equal(parse_len(len), SH_DROP_L4_MALFORMED);
	l4[12] = 6 << 4; /* 24 bytes claimed, 20 present */
	pb_fix_l4_csum(ip);
	assert_int_equal(parse_len(len), SH_DROP_L4_MALFORMED);

	/* 24 bytes claimed and present (4 bytes of options): fine */
	s.payload = payload;
	s.payload_len = 4;
	len = build(s);
	l4[12] = 6 << 4;
	pb_fix_l4_csum(ip);
	assert_int_equal(parse_len(len), SH_OK);
	l4[12] = 15 << 4;
	pb_fix_l4_csum(ip);
	assert_int_equal(parse_len(len), SH_DROP_L4_MALFORMED);
}

/* UDP length below its own header, or beyond the IPv4 payload. */
static void test_parse_udp_length_out_of_range(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	uint8_t *l4 = ip_of(false) + 20;
	size_t len;

	(void)state;
	s.payload = payload;
	s.payload_len = sizeof(payload);
	len = build(s);
	pb_put16(l4 + 4, 7);
	assert_int_equal(parse_len(len), SH_DROP_L4_MALFORMED);
	pb_put16(l4 + 4, 0);
	assert_int_equal(parse_len(len), SH_DROP_L4_MALFORMED);
	pb_put16(l4 + 4, 8 + sizeof(payload) + 1);
	assert_int_equal(parse_len(len), SH_DROP_L4_MALFORMED);
	pb_put16(l4 + 4, 0xffff);
	assert_int_equal(parse_len(len), SH_DROP_L4_MALFORMED);
}

/* One flipped payload bit fails the checksum of each protocol, at odd and
 * even offsets and with options shifting the header. */
static void test_parse_bad_l4_checksum_is_refused(void **state)
{
	struct pb_spec specs[] = {
		pb_tcp(CLIENT, 4000, PB_REMOTE, 80, PB_ACK),
		pb_udp(CLIENT, 4000, PB_REMOTE, 53),
		pb_icmp(CLIENT, PB_REMOTE, 8, 0, 7, 1),
	};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct pb_spec s = specs[i];

		s.payload = payload;
		s.payload_len = sizeof(payload);
		for (unsigned at = 0; at < 2; at++) {
			uint8_t *ip = ip_of(false);
			size_t len;

			s.ip_opt_len = (uint8_t)(at * 8);
			len = build(s);
			assert_int_equal(parse_len(len), SH_OK);
			frame[len - 1 - at] ^= 0x10;
			assert_int_equal(parse_len(len),
					 SH_DROP_L4_BAD_CHECKSUM);
			/* a wrong pseudo-header is as bad: the destination */
			if (s.proto != PB_ICMP) {
				len = build(s);
				ip[16] ^= 1;
				pb_fix_ip_csum(ip);
				assert_int_equal(parse_len(len),
						 SH_DROP_L4_BAD_CHECKSUM);
			}
		}
	}
}

/* UDP checksum 0 means "none" (RFC 768): accepted with any content. */
static void test_parse_udp_zero_checksum_is_accepted(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	size_t len;

	(void)state;
	s.payload = payload;
	s.payload_len = sizeof(payload);
	s.udp_no_csum = true;
	len = build(s);
	assert_int_equal(pb_get16(ip_of(false) + 26), 0);
	frame[len - 1] ^= 0xff;
	assert_int_equal(parse_len(len), SH_OK);
}

/* With NAT_L4_CSUM_GOOD (the NIC verified), TCP and UDP checksums are
 * not recomputed; ICMP, which no NIC checks, still is. */
static void test_parse_l4_csum_ok_skips_tcp_udp_only(void **state)
{
	struct pb_spec tcp = pb_tcp(CLIENT, 4000, PB_REMOTE, 80, PB_ACK);
	struct pb_spec udp = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	struct pb_spec icmp = pb_icmp(CLIENT, PB_REMOTE, 8, 0, 7, 1);
	struct nat_pkt p;
	size_t len;

	(void)state;
	len = build(tcp);
	frame[len - 1] ^= 0xff;
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY), SH_DROP_L4_BAD_CHECKSUM);
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_GOOD), SH_OK);

	len = build(udp);
	frame[len - 1] ^= 0xff;
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY), SH_DROP_L4_BAD_CHECKSUM);
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_GOOD), SH_OK);

	len = build(icmp);
	frame[len - 1] ^= 0xff;
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_GOOD), SH_DROP_L4_BAD_CHECKSUM);

	/* Header checks still apply: a short UDP length stays malformed. */
	len = build(udp);
	pb_put16(ip_of(false) + 24, 7);
	assert_int_equal(parse(&p, len, NAT_L4_CSUM_GOOD), SH_DROP_L4_MALFORMED);
}

/* ---- checksum-partial packets (docs/DESIGN.md "Checksums from virtual
 * NICs") ---------------------------------------------------------------- */

/* Where the L4 checksum field of the frame built from @s is. */
static size_t csum_at(const struct pb_spec *s)
{
	return pb_l2_len(s) + pb_ihl(ip_of(s->vlan)) +
	       (s->proto == PB_TCP ? 16u : 6u);
}

/* What a Linux sender with checksum offload leaves in the field: the
 * pseudo-header sum, not complemented (the "hardware" sums the rest). */
static void make_partial(const struct pb_spec *s)
{
	uint8_t *ip = ip_of(s->vlan);
	uint8_t *l4 = ip + pb_ihl(ip);
	uint16_t len = s->proto == PB_UDP
			       ? pb_get16(l4 + 4)
			       : (uint16_t)(pb_get16(ip + 2) - pb_ihl(ip));

	pb_put16(frame + csum_at(s), pb_fold(pb_pseudo(ip, s->proto, len)));
}

/* A partial TCP/UDP packet, as a sender with offload leaves it, is
 * accepted and leaves parse with its full, correct checksum: with a VLAN
 * tag, IP options, Ethernet padding and odd payload lengths. The same
 * bytes without the device's word are a bad checksum: a field that holds
 * the pseudo-header sum proves nothing. */
static void test_parse_partial_is_finished(void **state)
{
	static const uint8_t protos[] = { PB_TCP, PB_UDP };
	unsigned checked = 0;

	(void)state;
	for (unsigned pi = 0; pi < 2; pi++)
		for (unsigned v = 0; v < 8; v++) {
			struct pb_spec s = protos[pi] == PB_TCP
				? pb_tcp(CLIENT, 4000, PB_REMOTE, 80, PB_ACK)
				: pb_udp(CLIENT, 4000, PB_REMOTE, 53);
			struct nat_pkt p;
			uint16_t want;
			size_t len;

			s.vlan = v & 1;
			s.ip_opt_len = (v & 2) ? 8 : 0;
			s.eth_pad = (v & 4) ? 5 : 0;
			s.payload = payload;
			s.payload_len = (uint16_t)(sizeof(payload) - (v & 1));
			len = build(s);
			want = pb_get16(frame + csum_at(&s));
			make_partial(&s);
			assert_int_not_equal(pb_get16(frame + csum_at(&s)), want);
			assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY),
					 SH_DROP_L4_BAD_CHECKSUM);
			assert_int_equal(parse_partial(&p, len, csum_at(&s)),
					 SH_OK);
			assert_int_equal(pb_get16(frame + csum_at(&s)), want);
			assert_true(pb_l4_csum_ok(p.ip));
			assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY),
					 SH_OK);
			checked++;
		}
	assert_int_equal(checked, 16);
}

/* The field of a partial packet is not read: whatever it holds (a stale
 * or a full checksum, zero), the result is the checksum of the data. */
static void test_parse_partial_ignores_the_field(void **state)
{
	static const uint16_t junk[] = { 0x0000, 0xffff, 0x1234, 0xbeef };
	struct pb_spec specs[] = {
		pb_tcp(CLIENT, 4000, PB_REMOTE, 80, PB_SYN),
		pb_udp(CLIENT, 4000, PB_REMOTE, 53),
	};

	(void)state;
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < 4; j++) {
			struct pb_spec s = specs[i];
			struct nat_pkt p;
			uint16_t want;
			size_t len;

			s.payload = payload;
			s.payload_len = sizeof(payload);
			len = build(s);
			want = pb_get16(frame + csum_at(&s));
			pb_put16(frame + csum_at(&s), junk[j]);
			assert_int_equal(parse_partial(&p, len, csum_at(&s)),
					 SH_OK);
			assert_int_equal(pb_get16(frame + csum_at(&s)), want);
		}
}

/* UDP covers its own length, not the IP payload behind it; a checksum
 * that computes to 0 goes out as 0xffff in UDP (0 is "none"), as 0 in
 * TCP. The payload word that makes it 0 is the checksum it had as 0. */
static void test_parse_partial_zero_sum(void **state)
{
	static const uint8_t protos[] = { PB_TCP, PB_UDP };

	(void)state;
	for (unsigned pi = 0; pi < 2; pi++) {
		uint8_t data[12] = { 0 };
		struct pb_spec s = protos[pi] == PB_TCP
			? pb_tcp(CLIENT, 4000, PB_REMOTE, 80, PB_ACK)
			: pb_udp(CLIENT, 4000, PB_REMOTE, 53);
		struct nat_pkt p;
		size_t len;

		s.payload = data;
		s.payload_len = sizeof(data);
		len = build(s);
		pb_put16(data, pb_get16(frame + csum_at(&s)));
		len = build(s);
		make_partial(&s);
		assert_int_equal(parse_partial(&p, len, csum_at(&s)), SH_OK);
		assert_int_equal(pb_get16(frame + csum_at(&s)),
				 s.proto == PB_UDP ? 0xffff : 0);
		assert_true(pb_l4_csum_ok(p.ip));
	}

	/* UDP length 12 of an IP payload of 19: the sum stops at 12. */
	{
		struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
		uint8_t *ip = ip_of(false);
		struct nat_pkt p;
		size_t len;

		s.payload = payload;
		s.payload_len = sizeof(payload);
		len = build(s);
		pb_put16(ip + 20 + 4, 12);
		pb_fix_l4_csum(ip);
		make_partial(&s);
		assert_int_equal(parse_partial(&p, len, csum_at(&s)), SH_OK);
		assert_true(pb_l4_csum_ok(p.ip));
		assert_int_equal(parse(&p, len, NAT_L4_CSUM_VERIFY), SH_OK);
	}
}

/* The partial mark concerns TCP and UDP only: ICMP is still verified
 * (and a bad one dropped, unwritten), and a malformed header is refused
 * before anything is written. */
static void test_parse_partial_limits(void **state)
{
	struct pb_spec icmp = pb_icmp(CLIENT, PB_REMOTE, 8, 0, 7, 1);
	struct pb_spec udp = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	struct pb_spec tcp = pb_tcp(CLIENT, 4000, PB_REMOTE, 80, PB_ACK);
	struct nat_pkt p;
	size_t len;

	(void)state;
	icmp.payload = payload;
	icmp.payload_len = sizeof(payload);
	len = build(icmp);
	assert_int_equal(parse_partial(&p, len, len), SH_OK);
	frame[len - 1] ^= 0x10;
	assert_int_equal(parse_partial(&p, len, len), SH_DROP_L4_BAD_CHECKSUM);

	len = build(udp);
	pb_put16(ip_of(false) + 24, 7);
	assert_int_equal(parse_partial(&p, len, len), SH_DROP_L4_MALFORMED);

	len = build(tcp);
	ip_of(false)[20 + 12] = 0x40; /* data offset 4 words */
	assert_int_equal(parse_partial(&p, len, len), SH_DROP_L4_MALFORMED);
}

/* Random damage to valid frames (flipped bytes anywhere, truncation):
 * whatever nat_parse accepts really is a consistent IPv4 packet with valid
 * checksums by the oracle, and (with a sanitizer build) it never reads
 * past the frame. */
static void test_parse_random_damage_accepts_only_valid(void **state)
{
	struct pb_rng r = { 0xf22 };
	unsigned accepted = 0;

	(void)state;
	for (int it = 0; it < 20000; it++) {
		static const uint8_t protos[] = { PB_TCP, PB_UDP, PB_ICMP };
		struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
		struct nat_pkt p;
		size_t len;
		unsigned flips = pb_rand(&r) % 3;

		s.proto = protos[pb_rand(&r) % 3];
		s.tcp_flags = PB_SYN;
		s.vlan = pb_rand(&r) % 4 == 0;
		if (pb_rand(&r) % 4 == 0)
			s.ip_opt_len = (uint8_t)(4 * (pb_rand(&r) % 11));
		s.payload = payload;
		s.payload_len = (uint16_t)(pb_rand(&r) % sizeof(payload));
		s.eth_pad = (uint16_t)(pb_rand(&r) % 8);
		len = build(s);
		for (unsigned f = 0; f < flips; f++)
			frame[pb_rand(&r) % len] ^=
				(uint8_t)(1 + pb_rand(&r) % 255);
		if (pb_rand(&r) % 4 == 0)
			len = pb_rand(&r) % (len + 1);
		if (pb_rand(&r) % 2) /* damage behind a valid header checksum */
			if (len >= pb_l2_len(&s) + 20 &&
			    (ip_of(s.vlan)[0] >> 4) == 4 &&
			    len >= pb_l2_len(&s) + pb_ihl(ip_of(s.vlan)))
				pb_fix_ip_csum(ip_of(s.vlan));
		if (parse(&p, len, NAT_L4_CSUM_VERIFY) != SH_OK)
			continue;
		accepted++;
		assert_true(p.l2_len + p.ip_len <= len);
		assert_int_equal(pb_get16(p.ip + 2), p.ip_len);
		assert_int_equal(p.ip_len, pb_ihl(p.ip) + p.l4_len);
		assert_true(pb_ip_csum_ok(p.ip));
		/* A fragment's L4 sum covers bytes it does not carry. */
		if (pb_get16(p.ip + 6) & 0x3fff) {
			assert_int_equal(p.frag, pb_get16(p.ip + 6) & 0x1fff
							 ? NAT_PKT_LATER
							 : NAT_PKT_FIRST);
			continue;
		}
		assert_int_equal(p.frag, 0);
		assert_true(pb_l4_csum_ok(p.ip));
	}
	assert_true(accepted > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test(f)
		T(test_parse_accepts_udp_tcp_icmp),
		T(test_parse_accepts_vlan_tag),
		T(test_parse_accepts_ip_options),
		T(test_parse_accepts_ethernet_padding),
		T(test_parse_udp_length_shorter_than_ip_payload),
		T(test_parse_short_frame_is_l2_malformed),
		T(test_parse_other_ethertype_is_not_ipv4),
		T(test_parse_truncated_ip_header_is_malformed),
		T(test_parse_bad_version_is_malformed),
		T(test_parse_ihl_below_five_is_malformed),
		T(test_parse_ihl_beyond_packet_is_malformed),
		T(test_parse_total_length_below_ihl_is_malformed),
		T(test_parse_total_length_beyond_frame_is_malformed),
		T(test_parse_bad_header_checksum_is_refused),
		T(test_parse_bad_checksum_over_options_is_refused),
		T(test_parse_fragments_are_marked),
		T(test_parse_unsupported_protocol_is_refused),
		T(test_parse_truncated_l4_headers_are_malformed),
		T(test_parse_tcp_data_offset_out_of_range),
		T(test_parse_udp_length_out_of_range),
		T(test_parse_bad_l4_checksum_is_refused),
		T(test_parse_udp_zero_checksum_is_accepted),
		T(test_parse_l4_csum_ok_skips_tcp_udp_only),
		T(test_parse_partial_is_finished),
		T(test_parse_partial_ignores_the_field),
		T(test_parse_partial_zero_sum),
		T(test_parse_partial_limits),
		T(test_parse_random_damage_accepts_only_valid),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
