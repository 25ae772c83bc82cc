/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The MTU path in the NAT core: TCP MSS clamping on SYNs both ways
 * (mss.c), the fragmentation needed reply (icmp_reply.c) and egress
 * fragments (mtu.c). Checksums are judged by pkt_build.h's oracle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pkt_build.h"

#define CLIENT PB_IP(10, 0, 0, 7)

static struct sh_config cfg;
static struct nat_lease_set ls;
static uint8_t frame[PB_MAX_FRAME], out[PB_MAX_FRAME];

/* A TCP segment with @flags and the option bytes @opt (@n, a multiple of
 * 4) from the client; its frame length. */
static size_t tcp_with_options(uint8_t *buf, uint32_t src, uint16_t sport,
			       uint32_t dst, uint16_t dport, uint8_t flags,
			       const uint8_t *opt, uint16_t n)
{
	struct pb_spec s = pb_tcp(src, sport, dst, dport, flags);
	uint8_t *ip = buf + PB_ETH_LEN;
	size_t len;

	s.payload = opt;
	s.payload_len = n;
	len = pb_build(buf, &s);
	ip[20 + 12] = (uint8_t)((5 + n / 4) << 4);
	pb_fix_l4_csum(ip);
	return len;
}

static struct nat_worker *worker(uint16_t clamp)
{
	struct nat_params p;
	struct nat_worker *w;

	pb_cfg_base(&cfg);
	pb_cfg_lease(&cfg, "a", SH_LEASE_NAT, 10000, 10999, PB_IP(10, 0, 0, 0), 16);
	assert_int_equal(nat_lease_set_from_config(&ls, &cfg), 0);
	p = pb_params(&cfg, 0, 1, 1024);
	p.mss_clamp = clamp;
	w = nat_worker_create(&p);
	assert_non_null(w);
	w->now = 1000;
	return w;
}

static uint16_t mss_at(const uint8_t *buf, unsigned off)
{
	return pb_get16(buf + PB_ETH_LEN + 20 + 20 + off);
}

static void test_mss_syn_in2out_is_clamped_with_valid_checksum(void **state)
{
	static const uint8_t opt[] = { 2, 4, 0x05, 0xb4, 1, 1, 4, 2 }; /* 1460 */
	struct nat_worker *w = worker(1360);
	size_t len = tcp_with_options(frame, CLIENT, 40000, PB_REMOTE, 80,
				      PB_SYN, opt, sizeof(opt));

	(void)state;
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);
	assert_int_equal(mss_at(frame, 2), 1360);
	assert_true(pb_l4_csum_ok(frame + PB_ETH_LEN));
	assert_true(pb_ip_csum_ok(frame + PB_ETH_LEN));
	assert_int_equal(w->cnt[SH_CNT_TCP_MSS_CLAMPED], 1);
	nat_worker_destroy(w);
}

static void test_mss_syn_ack_out2in_is_clamped(void **state)
{
	static const uint8_t opt[] = { 2, 4, 0x23, 0x28, 0, 0, 0, 0 }; /* 9000 */
	struct nat_worker *w = worker(1400);
	size_t len = tcp_with_options(frame, CLIENT, 40000, PB_REMOTE, 80,
				      PB_SYN, opt, sizeof(opt));
	uint16_t port;

	(void)state;
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);
	port = pb_get16(frame + PB_ETH_LEN + 20);
	len = tcp_with_options(frame, PB_REMOTE, 80, PB_SLICE, port,
			       PB_SYN | PB_ACK, opt, sizeof(opt));
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_OK);
	assert_int_equal(pb_get32(frame + PB_ETH_LEN + 16), CLIENT);
	assert_int_equal(mss_at(frame, 2), 1400);
	assert_true(pb_l4_csum_ok(frame + PB_ETH_LEN));
	assert_int_equal(w->cnt[SH_CNT_TCP_MSS_CLAMPED], 2);
	nat_worker_destroy(w);
}

static void test_mss_smaller_or_off_is_untouched(void **state)
{
	static const uint8_t opt[] = { 2, 4, 0x04, 0x00, 1, 1, 1, 0 }; /* 1024 */
	struct nat_worker *w = worker(1360), *off = worker(0);
	uint8_t before[PB_MAX_FRAME];
	size_t len = tcp_with_options(frame, CLIENT, 40000, PB_REMOTE, 80,
				      PB_SYN, opt, sizeof(opt));

	(void)state;
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);
	assert_int_equal(mss_at(frame, 2), 1024);
	assert_true(pb_l4_csum_ok(frame + PB_ETH_LEN));
	assert_int_equal(w->cnt[SH_CNT_TCP_MSS_CLAMPED], 0);

	/* off: a 9000 MSS passes as it is */
	len = tcp_with_options(frame, CLIENT, 40001, PB_REMOTE, 80, PB_SYN,
			       (const uint8_t[]){ 2, 4, 0x23, 0x28 }, 4);
	memcpy(before, frame, len);
	assert_int_equal(pb_in2out(off, &ls, frame, len), SH_OK);
	assert_int_equal(mss_at(frame, 2), 9000);
	assert_int_equal(off->cnt[SH_CNT_TCP_MSS_CLAMPED], 0);
	nat_worker_destroy(w);
	nat_worker_destroy(off);
}

static void test_mss_only_on_syn(void **state)
{
	static const uint8_t opt[] = { 2, 4, 0x05, 0xb4 };
	struct nat_worker *w = worker(1200);
	size_t len = tcp_with_options(frame, CLIENT, 40000, PB_REMOTE, 80,
				      PB_SYN, opt, sizeof(opt));

	(void)state;
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);
	/* an ACK of the same flow carrying the option (nonsense, but seen)
	 * is left alone: only SYNs negotiate the MSS */
	len = tcp_with_options(frame, CLIENT, 40000, PB_REMOTE, 80, PB_ACK,
			       opt, sizeof(opt));
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);
	assert_int_equal(mss_at(frame, 2), 1460);
	assert_int_equal(w->cnt[SH_CNT_TCP_MSS_CLAMPED], 1);
	nat_worker_destroy(w);
}

/* The option at every offset 0..7 behind NOPs (odd ones straddle the
 * checksum's 16-bit words) and after other options. */
static void test_mss_at_odd_and_even_offsets(void **state)
{
	struct nat_worker *w = worker(1300);
	unsigned at;

	(void)state;
	for (at = 0; at < 8; at++) {
		uint8_t opt[16];
		size_t len;

		memset(opt, 1, sizeof(opt));
		if (at >= 3) { /* a window scale option first */
			opt[0] = 3;
			opt[1] = 3;
			opt[2] = 7;
		}
		opt[at] = 2;
		opt[at + 1] = 4;
		opt[at + 2] = 0x05;
		opt[at + 3] = 0xb4;
		opt[15] = 0;
		len = tcp_with_options(frame, CLIENT, (uint16_t)(41000 + at),
				       PB_REMOTE, 80, PB_SYN, opt, sizeof(opt));
		assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);
		assert_int_equal(mss_at(frame, at + 2), 1300);
		assert_true(pb_l4_csum_ok(frame + PB_ETH_LEN));
	}
	assert_int_equal(w->cnt[SH_CNT_TCP_MSS_CLAMPED], 8);
	nat_worker_destroy(w);
}

static void test_mss_malformed_options_untouched(void **state)
{
	static const uint8_t bad[][8] = {
		{ 3, 0, 2, 4, 0x05, 0xb4, 0, 0 },    /* length 0 */
		{ 3, 1, 2, 4, 0x05, 0xb4, 0, 0 },    /* length 1 */
		{ 3, 9, 2, 4, 0x05, 0xb4, 0, 0 },    /* past the header */
		{ 2, 3, 0x05, 0xb4, 0, 0, 0, 0 },    /* MSS of length 3 */
		{ 2, 6, 0x05, 0xb4, 0, 0, 0, 0 },    /* MSS of length 6 */
		{ 0, 0, 2, 4, 0x05, 0xb4, 0, 0 },    /* after end of list */
		{ 1, 1, 1, 1, 1, 1, 2, 4 },          /* cut at the header end */
	};
	struct nat_worker *w = worker(1000);
	uint8_t before[PB_MAX_FRAME];
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = tcp_with_options(frame, CLIENT, (uint16_t)(42000 + i),
					      PB_REMOTE, 80, PB_SYN, bad[i], 8);
		const uint8_t *l4 = frame + PB_ETH_LEN + 20;

		memcpy(before, frame, len);
		assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);
		/* the options exactly as sent, the checksum still right */
		assert_memory_equal(l4 + 20, before + PB_ETH_LEN + 40, 8);
		assert_true(pb_l4_csum_ok(frame + PB_ETH_LEN));
	}
	assert_int_equal(w->cnt[SH_CNT_TCP_MSS_CLAMPED], 0);
	/* the pure function: 0 for a header shorter than its data offset */
	assert_int_equal(nat_mss_clamp(frame + PB_ETH_LEN + 20, 24, 1000), 0);
	nat_worker_destroy(w);
}

static void test_frag_needed_quotes_original_and_carries_mtu(void **state)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 0x99 };
	static uint8_t data[1472];
	struct pb_spec s = pb_udp(CLIENT, 5000, PB_REMOTE, 53);
	const uint8_t *ip = out + PB_ETH_LEN, *icmp = ip + 20;
	uint32_t len;
	size_t flen;

	(void)state;
	s.frag = 0x4000; /* DF */
	s.payload = data;
	s.payload_len = sizeof(data);
	flen = pb_build(frame, &s);
	len = nat_build_frag_needed(out, frame, PB_ETH_LEN,
				    (uint16_t)(flen - PB_ETH_LEN),
				    __builtin_bswap32(PB_HOST_IN), mac, 1400);
	assert_int_equal(len, PB_ETH_LEN + 576);
	assert_memory_equal(out, frame + 6, 6);
	assert_memory_equal(out + 6, mac, 6);
	assert_int_equal(pb_get32(ip + 12), PB_HOST_IN);
	assert_int_equal(pb_get32(ip + 16), CLIENT);
	assert_true(pb_ip_csum_ok(ip));
	assert_true(pb_l4_csum_ok(ip));
	assert_int_equal(icmp[0], 3);
	assert_int_equal(icmp[1], 4);
	assert_int_equal(pb_get16(icmp + 4), 0);
	assert_int_equal(pb_get16(icmp + 6), 1400);
	assert_memory_equal(icmp + 8, frame + PB_ETH_LEN, 576 - 28);
}

/* Fragment @flen bytes of @frame at @mtu and check every piece; returns
 * the reassembled payload's length, written into @whole. */
static uint32_t fragment_all(const uint8_t *src, uint16_t l2, uint16_t mtu,
			     uint8_t *whole, unsigned *count)
{
	const uint8_t *sip = src + l2;
	uint32_t ihl = pb_ihl(sip), off = 0, total = 0, len;
	unsigned n = 0;

	/* Bounded by the fragment count the core predicts (checked). */
	while ((len = nat_fragment_next(out, src, l2, mtu, &off)) != 0) {
		const uint8_t *ip = out + l2;
		uint16_t f = pb_get16(ip + 6);

		assert_true(n < nat_fragment_count(sip, mtu));
		assert_memory_equal(out, src, l2);
		assert_true(pb_get16(ip + 2) <= mtu);
		assert_int_equal(pb_get16(ip + 2), len - l2);
		assert_int_equal(pb_ihl(ip), ihl);
		assert_true(pb_ip_csum_ok(ip));
		assert_int_equal(pb_get16(ip + 4), pb_get16(sip + 4)); /* id */
		assert_int_equal(f & 0x4000, 0);
		memcpy(whole + (f & 0x1fff) * 8, ip + ihl, len - l2 - ihl);
		total += len - l2 - ihl;
		n++;
		if (off < pb_get16(sip + 2) - ihl) {
			assert_true(f & 0x2000); /* MF */
			assert_int_equal((len - l2 - ihl) % 8, 0);
		}
	}
	assert_int_equal(n, nat_fragment_count(sip, mtu));
	*count = n;
	return total;
}

static void test_fragments_reassemble_to_the_packet(void **state)
{
	static uint8_t data[1800], whole[4000];
	struct pb_spec s = pb_udp(PB_SLICE, 10000, PB_REMOTE, 9);
	unsigned n, i;
	uint32_t total;
	size_t flen;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	s.vlan = true;
	s.payload = data;
	s.payload_len = sizeof(data);
	flen = pb_build(frame, &s);
	assert_true(flen <= sizeof(frame));
	total = fragment_all(frame, PB_ETH_LEN + PB_VLAN_LEN, 576, whole, &n);
	assert_int_equal(n, 4); /* 552 + 552 + 552 + 152 */
	assert_int_equal(total, 8 + sizeof(data));
	/* the UDP header and checksum travel in the first piece, untouched:
	 * the reassembled datagram is the original, checksum and all */
	assert_memory_equal(whole, frame + PB_ETH_LEN + PB_VLAN_LEN + 20, total);
	/* last fragment: MF clear */
	assert_int_equal(pb_get16(out + PB_ETH_LEN + PB_VLAN_LEN + 6) & 0x2000, 0);
}

static void test_fragments_of_a_fragment_keep_offset_and_mf(void **state)
{
	static uint8_t data[1592], whole[4000];
	struct pb_spec s = pb_udp(PB_SLICE, 10000, PB_REMOTE, 9);
	unsigned n;
	size_t flen;

	(void)state;
	s.proto = 99; /* raw payload, no L4 header */
	s.frag = 0x2000 | 100; /* MF, offset 800 */
	s.payload = data;
	s.payload_len = sizeof(data);
	flen = pb_build(frame, &s);
	(void)flen;
	fragment_all(frame, PB_ETH_LEN, 576, whole, &n);
	assert_int_equal(n, 3);
	/* the last piece still says more follow, at offset 800 + 1104 */
	assert_int_equal(pb_get16(out + PB_ETH_LEN + 6), 0x2000 | (100 + 1104 / 8));
}

static void test_fragments_copy_only_copied_options(void **state)
{
	static uint8_t data[1000], whole[2000];
	struct pb_spec s = pb_udp(PB_SLICE, 10000, PB_REMOTE, 9);
	uint8_t *ip = frame + PB_ETH_LEN;
	unsigned n;
	uint32_t off = 0;

	(void)state;
	s.ip_opt_len = 8;
	s.payload = data;
	s.payload_len = sizeof(data);
	pb_build(frame, &s);
	/* record route (7, not copied) of 4 bytes, router alert (148,
	 * copied) of 4 bytes */
	memcpy(ip + 20, (const uint8_t[]){ 7, 4, 4, 0, 148, 4, 0, 0 }, 8);
	pb_fix_ip_csum(ip);
	assert_int_not_equal(nat_fragment_next(out, frame, PB_ETH_LEN, 576, &off), 0);
	assert_memory_equal(out + PB_ETH_LEN + 20, ip + 20, 8);
	assert_int_not_equal(nat_fragment_next(out, frame, PB_ETH_LEN, 576, &off), 0);
	assert_memory_equal(out + PB_ETH_LEN + 20,
			    ((const uint8_t[]){ 1, 1, 1, 1, 148, 4, 0, 0 }), 8);
	assert_true(pb_ip_csum_ok(out + PB_ETH_LEN));
	fragment_all(frame, PB_ETH_LEN, 576, whole, &n);
	assert_int_equal(n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mss_syn_in2out_is_clamped_with_valid_checksum),
		cmocka_unit_test(test_mss_syn_ack_out2in_is_clamped),
		cmocka_unit_test(test_mss_smaller_or_off_is_untouched),
		cmocka_unit_test(test_mss_only_on_syn),
		cmocka_unit_test(test_mss_at_odd_and_even_offsets),
		cmocka_unit_test(test_mss_malformed_options_untouched),
		cmocka_unit_test(test_frag_needed_quotes_original_and_carries_mtu),
		cmocka_unit_test(test_fragments_reassemble_to_the_packet),
		cmocka_unit_test(test_fragments_of_a_fragment_keep_offset_and_mf),
		cmocka_unit_test(test_fragments_copy_only_copied_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
