/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the checksum helpers in engine/nat/csum.h.
 *
 * The translators never recompute a checksum: they apply RFC 1624 eqn. 3
 * deltas (csum_delta16/32 + csum_apply) to the one in the packet. These
 * tests hold those deltas against a full recomputation by the independent
 * RFC 1071 oracle in pkt_build.h, on thousands of random buffers and on
 * the edge values where one's-complement arithmetic has two zeros.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nat/csum.h"
#include "pkt_build.h"

#define ITERATIONS 5000
#define MAX_LEN 1500

/* Store the oracle's checksum of @buf[0..len) at even offset @field. */
static void oracle_set(uint8_t *buf, size_t len, size_t field)
{
	pb_put16(buf + field, 0);
	pb_put16(buf + field, pb_csum(buf, len, 0));
}

/* The oracle's checksum for @buf with the field at @field, untouched. */
static uint16_t oracle_expect(const uint8_t *buf, size_t len, size_t field)
{
	static uint8_t copy[MAX_LEN];

	memcpy(copy, buf, len);
	pb_put16(copy + field, 0);
	return pb_csum(copy, len, 0);
}

/* Apply @delta to the checksum at @field the way the translators do. */
static void engine_apply(uint8_t *buf, size_t field, uint64_t delta)
{
	st16(buf + field, csum_apply(ld16(buf + field), delta));
}

/* A random even offset of a 16-bit word inside @len bytes. */
static size_t rand_word(struct pb_rng *r, size_t len)
{
	return 2 * (pb_rand(r) % (len / 2));
}

/* The oracle itself: a well-known IPv4 header (192.168.0.1 ->
 * 192.168.0.199, UDP) has checksum 0xB861, and verifies with it. */
static void test_oracle_matches_known_ipv4_header(void **state)
{
	uint8_t ip[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00,
			   0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01,
			   0xc0, 0xa8, 0x00, 0xc7 };

	(void)state;
	assert_int_equal(pb_csum(ip, sizeof(ip), 0), 0xb861);
	pb_fix_ip_csum(ip);
	assert_int_equal(pb_get16(ip + 10), 0xb861);
	assert_true(pb_ip_csum_ok(ip));
	ip[15] ^= 1;
	assert_false(pb_ip_csum_ok(ip));
}

/* Changing one 16-bit word and applying csum_delta16 gives exactly the
 * checksum a full recomputation gives, for odd and even lengths. */
static void test_csum_delta16_matches_full_recompute(void **state)
{
	static uint8_t buf[MAX_LEN];
	struct pb_rng r = { 0x5eed0001 };

	(void)state;
	for (int it = 0; it < ITERATIONS; it++) {
		size_t len = 4 + pb_rand(&r) % (MAX_LEN - 3);
		size_t field = rand_word(&r, len), at;
		uint16_t old, new_;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)pb_rand(&r);
		oracle_set(buf, len, field);
		do
			at = rand_word(&r, len);
		while (at == field);
		old = ld16(buf + at);
		new_ = (uint16_t)pb_rand(&r);
		st16(buf + at, new_);
		engine_apply(buf, field, csum_delta16(old, new_));
		if (pb_get16(buf + field) != oracle_expect(buf, len, field))
			fail_msg("iteration %d len %zu: incremental %04x, "
				 "full %04x", it, len, pb_get16(buf + field),
				 oracle_expect(buf, len, field));
	}
}

/* The same for a 32-bit field (an address) on a 2-byte boundary. */
static void test_csum_delta32_matches_full_recompute(void **state)
{
	static uint8_t buf[MAX_LEN];
	struct pb_rng r = { 0x5eed0002 };

	(void)state;
	for (int it = 0; it < ITERATIONS; it++) {
		size_t len = 8 + pb_rand(&r) % (MAX_LEN - 7);
		size_t field = rand_word(&r, len), at;
		uint32_t old, new_;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)pb_rand(&r);
		oracle_set(buf, len, field);
		/* four bytes inside the buffer, not overlapping the field */
		do
			at = rand_word(&r, len - 2);
		while (at == field || at + 2 == field);
		old = ld32(buf + at);
		new_ = pb_rand(&r);
		st32(buf + at, new_);
		engine_apply(buf, field, csum_delta32(old, new_));
		if (pb_get16(buf + field) != oracle_expect(buf, len, field))
			fail_msg("iteration %d len %zu: incremental %04x, "
				 "full %04x", it, len, pb_get16(buf + field),
				 oracle_expect(buf, len, field));
	}
}

/* Many deltas summed into one 64-bit accumulator and applied once (as
 * in2out does for address + port + TTL) still equal a recomputation;
 * changes may hit the same word twice, each delta taken from the value
 * it replaced. */
static void test_csum_accumulated_deltas_match_full_recompute(void **state)
{
	static uint8_t buf[MAX_LEN];
	struct pb_rng r = { 0x5eed0003 };

	(void)state;
	for (int it = 0; it < ITERATIONS; it++) {
		size_t len = 8 + pb_rand(&r) % (MAX_LEN - 7);
		size_t field = rand_word(&r, len);
		unsigned changes = 1 + pb_rand(&r) % 16;
		uint64_t delta = 0;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)pb_rand(&r);
		oracle_set(buf, len, field);
		for (unsigned c = 0; c < changes; c++) {
			size_t at;

			if (pb_rand(&r) & 1) {
				uint16_t old, new_ = (uint16_t)pb_rand(&r);

				do
					at = rand_word(&r, len);
				while (at == field);
				old = ld16(buf + at);
				st16(buf + at, new_);
				delta += csum_delta16(old, new_);
			} else {
				uint32_t old, new_ = pb_rand(&r);

				do
					at = rand_word(&r, len - 2);
				while (at == field || at + 2 == field);
				old = ld32(buf + at);
				st32(buf + at, new_);
				delta += csum_delta32(old, new_);
			}
		}
		engine_apply(buf, field, delta);
		if (pb_get16(buf + field) != oracle_expect(buf, len, field))
			fail_msg("iteration %d: %u changes, incremental %04x, "
				 "full %04x", it, changes, pb_get16(buf + field),
				 oracle_expect(buf, len, field));
	}
}

/* An odd length's last byte is the high half of a zero-padded word
 * (RFC 1071): changing it is a 16-bit delta of [byte, 0]. */
static void test_csum_odd_trailing_byte_is_zero_padded(void **state)
{
	static uint8_t buf[MAX_LEN];
	struct pb_rng r = { 0x5eed0004 };

	(void)state;
	for (int it = 0; it < ITERATIONS; it++) {
		size_t len = 2 * (2 + pb_rand(&r) % 700) + 1;
		size_t field = rand_word(&r, len);
		uint8_t pad_old[2] = { 0, 0 }, pad_new[2] = { 0, 0 };

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)pb_rand(&r);
		oracle_set(buf, len, field);
		pad_old[0] = buf[len - 1];
		pad_new[0] = (uint8_t)pb_rand(&r);
		buf[len - 1] = pad_new[0];
		engine_apply(buf, field,
			     csum_delta16(ld16(pad_old), ld16(pad_new)));
		assert_int_equal(pb_get16(buf + field),
				 oracle_expect(buf, len, field));
	}
}

/* Full sums (csum_partial + csum_fold, as nat_parse verifies) equal the
 * oracle's for every length 0..MAX_LEN, odd ones included, on random and
 * on all-ones data (the most carries), also when a sum is continued from
 * an earlier one at an even split (how the pseudo-header is added). */
static void test_csum_partial_matches_oracle(void **state)
{
	static uint8_t buf[MAX_LEN];
	struct pb_rng r = { 0x5eed0005 };

	(void)state;
	for (size_t len = 0; len <= MAX_LEN; len++) {
		for (int fill = 0; fill < 2; fill++) {
			size_t split = 2 * (pb_rand(&r) % (len / 2 + 1));
			uint8_t got[2];
			uint64_t sum;

			for (size_t i = 0; i < len; i++)
				buf[i] = fill ? 0xff : (uint8_t)pb_rand(&r);
			st16(got, csum_finish(csum_partial(buf, (uint32_t)len, 0)));
			assert_int_equal(pb_get16(got), pb_csum(buf, len, 0));
			sum = csum_partial(buf, (uint32_t)split, 0);
			sum = csum_partial(buf + split, (uint32_t)(len - split), sum);
			st16(got, csum_finish(sum));
			assert_int_equal(pb_get16(got), pb_csum(buf, len, 0));
		}
	}
}

/* Three words: data, data, checksum; checksum computed by the oracle. */
static void three_words(uint8_t *b, uint16_t w0, uint16_t w1)
{
	pb_put16(b, w0);
	pb_put16(b + 2, w1);
	oracle_set(b, 6, 4);
}

/* Change big-endian word @at of @b to @v through csum_delta16. */
static void change_word(uint8_t *b, size_t at, uint16_t v)
{
	uint16_t old = ld16(b + at);

	pb_put16(b + at, v);
	engine_apply(b, 4, csum_delta16(old, ld16(b + at)));
}

/* RFC 1624 §4's own example: other octets sum to 0xCD7A, m 0x5555 -> m'
 * 0x3285 turns HC 0xDD2F into 0x0000 (eqn. 2 wrongly gives 0xFFFF), and
 * the reverse change leaves a checksum of 0x0000 correctly. */
static void test_csum_apply_rfc1624_example_reaches_zero(void **state)
{
	uint8_t b[6];

	(void)state;
	three_words(b, 0xcd7a, 0x5555);
	assert_int_equal(pb_get16(b + 4), 0xdd2f);
	change_word(b, 2, 0x3285);
	assert_int_equal(pb_get16(b + 4), 0x0000);
	assert_int_equal(pb_get16(b + 4), oracle_expect(b, 6, 4));

	change_word(b, 2, 0x5555); /* 0x0000 before */
	assert_int_equal(pb_get16(b + 4), 0xdd2f);
}

/* A checksum of 0xFFFF (all-zero data, the only way a full computation
 * yields it) updates to the recomputed value. */
static void test_csum_apply_from_ffff_matches_recompute(void **state)
{
	uint8_t b[6];

	(void)state;
	three_words(b, 0, 0);
	assert_int_equal(pb_get16(b + 4), 0xffff);
	change_word(b, 0, 0x1234);
	assert_int_equal(pb_get16(b + 4), 0xedcb);
	assert_int_equal(pb_get16(b + 4), oracle_expect(b, 6, 4));

	/* UDP may carry 0xFFFF for a computed 0 (data summing to -0): the
	 * update still lands on the recomputed value. */
	pb_put16(b, 0x8000);
	pb_put16(b + 2, 0x7fff);
	pb_put16(b + 4, 0xffff);
	assert_int_equal(pb_fold(pb_sum(b, 6, 0)), 0xffff); /* verifies */
	change_word(b, 0, 0x8001);
	assert_int_equal(pb_get16(b + 4), 0xfffe);
	assert_int_equal(pb_get16(b + 4), oracle_expect(b, 6, 4));
}

/* Build a UDP datagram, then pick a new source port that makes the true
 * checksum 0; returns that port (host order). */
static uint16_t udp_port_for_zero_sum(uint8_t *frame, struct pb_spec *s)
{
	static const uint8_t payload[5] = { 'h', 'e', 'l', 'l', 'o' };
	uint8_t *ip = frame + PB_ETH_LEN, *l4 = ip + 20;
	uint32_t sum;

	s->payload = payload;
	s->payload_len = sizeof(payload);
	pb_build(frame, s);
	/* S = ~checksum; S' = S + (P' - P) must be 0xFFFF, so P' = P + ~S */
	sum = (uint16_t)~pb_get16(l4 + 6);
	return pb_fold((uint32_t)s->sport + (uint16_t)~sum);
}

/* l4_csum_adjust keeps UDP's "no checksum" 0 as 0 whatever the delta, and
 * sends a computed 0 as 0xFFFF (RFC 768); TCP keeps a 0. */
static void test_l4_csum_adjust_udp_zero_rules(void **state)
{
	static uint8_t frame[PB_MAX_FRAME];
	struct pb_spec s = pb_udp(PB_IP(10, 0, 0, 5), 4000, PB_REMOTE, 53);
	uint8_t *ip = frame + PB_ETH_LEN, *l4 = ip + 20, tcp[20];
	uint16_t new_port, old;

	(void)state;
	s.udp_no_csum = true;
	pb_build(frame, &s);
	old = ld16(l4);
	pb_put16(l4, 4321);
	l4_csum_adjust(l4, NAT_PROTO_UDP, 0, csum_delta16(old, ld16(l4)) +
					  csum_delta32(0x01020304, 0x0a0b0c0d));
	assert_int_equal(pb_get16(l4 + 6), 0);

	s.udp_no_csum = false;
	new_port = udp_port_for_zero_sum(frame, &s);
	assert_int_not_equal(new_port, s.sport);
	old = ld16(l4);
	pb_put16(l4, new_port);
	pb_put16(l4 + 6, 0);
	assert_int_equal(pb_csum(l4, 13, pb_pseudo(ip, PB_UDP, 13)), 0);
	pb_build(frame, &s); /* back to the original, checksum intact */
	pb_put16(l4, new_port);
	l4_csum_adjust(l4, NAT_PROTO_UDP, 0, csum_delta16(old, ld16(l4)));
	assert_int_equal(pb_get16(l4 + 6), 0xffff);
	assert_true(pb_l4_csum_ok(ip));

	/* The same arithmetic on a TCP checksum field leaves 0x0000. */
	pb_build(frame, &s);
	memset(tcp, 0, sizeof(tcp));
	st16(tcp + 16, ld16(l4 + 6));
	pb_put16(l4, new_port);
	l4_csum_adjust(tcp, NAT_PROTO_TCP, 0, csum_delta16(old, ld16(l4)));
	assert_int_equal(pb_get16(tcp + 16), 0x0000);
}

/* For ICMP, l4_csum_adjust updates the checksum at offset 2: an echo id
 * rewrite verifies afterwards. */
static void test_l4_csum_adjust_icmp_echo_id(void **state)
{
	static uint8_t frame[PB_MAX_FRAME];
	static const uint8_t data[7] = { 1, 2, 3, 4, 5, 6, 7 };
	struct pb_spec s = pb_icmp(PB_IP(10, 0, 0, 5), PB_REMOTE, 8, 0, 0x1234,
				   1);
	uint8_t *ip = frame + PB_ETH_LEN, *l4 = ip + 20;
	struct pb_rng r = { 0x5eed0005 };

	(void)state;
	s.payload = data;
	s.payload_len = sizeof(data);
	for (int it = 0; it < ITERATIONS; it++) {
		uint16_t old;

		s.icmp_id = (uint16_t)pb_rand(&r);
		pb_build(frame, &s);
		old = ld16(l4 + 4);
		pb_put16(l4 + 4, (uint16_t)pb_rand(&r));
		l4_csum_adjust(l4, NAT_PROTO_ICMP, 8 + sizeof(data),
			       csum_delta16(old, ld16(l4 + 4)));
		assert_true(pb_l4_csum_ok(ip));
	}
}

/* ICMP's two zeros: an update that leaves every word of the message zero
 * must give 0xFFFF (the words sum to +0), while a message whose other
 * words sum to -0 keeps a computed 0x0000, which is right for it. */
static void test_l4_csum_adjust_icmp_all_zero_is_ffff(void **state)
{
	uint8_t m[16] = { 0 };

	(void)state;
	/* Echo reply, id 0x1234, checksum ~0x1234; the id goes to 0. */
	pb_put16(m + 4, 0x1234);
	pb_put16(m + 2, (uint16_t)~0x1234);
	pb_put16(m + 4, 0);
	l4_csum_adjust(m, NAT_PROTO_ICMP, sizeof(m),
		       csum_delta16(nat_be16(0x1234), 0));
	assert_int_equal(pb_get16(m + 2), 0xffff);
	assert_int_equal(pb_fold(pb_sum(m, sizeof(m), 0)), 0xffff);

	/* Other words summing to 0xFFFF: 0x0000 is the right checksum. */
	memset(m, 0, sizeof(m));
	pb_put16(m + 4, 0x1234);
	pb_put16(m + 6, 0xedcb);
	pb_put16(m + 2, 0xffff);
	pb_put16(m + 8, 0x0001);
	pb_put16(m + 2, 0xfffe); /* valid: 0x1234 + 0xedcb + 1 + 0xfffe */
	assert_int_equal(pb_fold(pb_sum(m, sizeof(m), 0)), 0xffff);
	pb_put16(m + 8, 0);
	l4_csum_adjust(m, NAT_PROTO_ICMP, sizeof(m), csum_delta16(nat_be16(1), 0));
	assert_int_equal(pb_get16(m + 2), 0x0000);
	assert_int_equal(pb_fold(pb_sum(m, sizeof(m), 0)), 0xffff);
}

/* ip_ttl_dec lowers the TTL by one and returns the delta that keeps the
 * header checksum right, alone or folded with an address rewrite, on
 * random headers with and without options. */
static void test_ip_ttl_dec_keeps_header_checksum(void **state)
{
	uint8_t ip[60];
	struct pb_rng r = { 0x5eed0006 };

	(void)state;
	for (int it = 0; it < ITERATIONS; it++) {
		unsigned ihl = 4 * (5 + pb_rand(&r) % 11);
		uint8_t ttl = (uint8_t)(1 + pb_rand(&r) % 255), proto;
		uint64_t d;

		for (unsigned i = 0; i < ihl; i++)
			ip[i] = (uint8_t)pb_rand(&r);
		ip[0] = (uint8_t)(0x40 | ihl / 4);
		ip[IP4_TTL] = ttl;
		proto = ip[IP4_PROTO];
		pb_fix_ip_csum(ip);

		d = ip_ttl_dec(ip);
		if (it & 1) { /* also rewrite the source, as in2out does */
			uint32_t old = ld32(ip + IP4_SRC), new_ = pb_rand(&r);

			st32(ip + IP4_SRC, new_);
			d += csum_delta32(old, new_);
		}
		st16(ip + IP4_CSUM, csum_apply(ld16(ip + IP4_CSUM), d));
		assert_int_equal(ip[IP4_TTL], ttl - 1);
		assert_int_equal(ip[IP4_PROTO], proto);
		assert_true(pb_ip_csum_ok(ip));
		assert_int_equal(pb_get16(ip + IP4_CSUM),
				 oracle_expect(ip, ihl, IP4_CSUM));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test(f)
		T(test_oracle_matches_known_ipv4_header),
		T(test_csum_delta16_matches_full_recompute),
		T(test_csum_delta32_matches_full_recompute),
		T(test_csum_accumulated_deltas_match_full_recompute),
		T(test_csum_odd_trailing_byte_is_zero_padded),
		T(test_csum_partial_matches_oracle),
		T(test_csum_apply_rfc1624_example_reaches_zero),
		T(test_csum_apply_from_ffff_matches_recompute),
		T(test_l4_csum_adjust_udp_zero_rules),
		T(test_l4_csum_adjust_icmp_echo_id),
		T(test_l4_csum_adjust_icmp_all_zero_is_ffff),
		T(test_ip_ttl_dec_keeps_header_checksum),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
