/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the two translators, nat_in2out and nat_out2in: full
 * round trips and the verdicts for packets that are not translated.
 *
 * The oracle for a translated frame is the frame pkt_build.h builds from
 * scratch with the translated fields (source or destination, port or echo
 * id, TTL - 1). Incremental checksum updates and a full computation agree
 * bit for bit on any real packet (RFC 1624 eqn. 3 never yields the
 * 0xFFFF a full sum gives only for all-zero data), so the frames are
 * compared whole: addresses, ports, checksums, payload, and the L2 header
 * the NAT core must leave alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nat/nat.h"
#include "pkt_build.h"

#define CLIENT PB_IP(10, 0, 0, 5)

static struct sh_config cfg;
static struct nat_lease_set ls;
static struct nat_worker *w;
static uint8_t frame[PB_MAX_FRAME], expect[PB_MAX_FRAME];
static const uint8_t data[33] = "thirty-two bytes of payload data";

/* nat lease "a" is the whole slice but 11000-11099 (socket lease "sock")
 * and 12000-12047 (leased to nobody). */
static int setup(void **state)
{
	(void)state;
	w = pb_nat_fixture(&cfg, &ls, 10999, 4096);
	assert_non_null(w);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nat_worker_destroy(w);
	w = NULL;
	return 0;
}

/* Offset of the port or echo id the NAT rewrites, from the L4 header:
 * source for in2out, destination for out2in. */
static unsigned port_off(uint8_t proto, bool in2out)
{
	return proto == PB_ICMP ? 4 : in2out ? 0 : 2;
}

/* Translate @s inside -> outside; must succeed and equal @s rebuilt
 * with source slice:port and TTL - 1. Returns the port (host order). */
static uint16_t in2out_ok(const struct pb_spec *s)
{
	struct pb_spec x = *s;
	size_t len = pb_build(frame, s);
	uint8_t *l4 = frame + pb_l2_len(s) + 20 + s->ip_opt_len;
	uint16_t port;

	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);
	port = pb_get16(l4 + port_off(s->proto, true));
	assert_in_range(port, 10000, 10999);
	x.src = PB_SLICE;
	x.ttl = (uint8_t)(s->ttl - 1);
	if (s->proto == PB_ICMP)
		x.icmp_id = port;
	else
		x.sport = port;
	assert_int_equal(pb_build(expect, &x), len);
	assert_memory_equal(frame, expect, len);
	return port;
}

/* Translate @s outside -> inside; must succeed and equal @s rebuilt
 * with destination @client:@cport and TTL - 1. */
static void out2in_ok(const struct pb_spec *s, uint32_t client, uint16_t cport)
{
	struct pb_spec x = *s;
	size_t len = pb_build(frame, s);

	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_OK);
	x.dst = client;
	x.ttl = (uint8_t)(s->ttl - 1);
	if (s->proto == PB_ICMP)
		x.icmp_id = cport;
	else
		x.dport = cport;
	assert_int_equal(pb_build(expect, &x), len);
	assert_memory_equal(frame, expect, len);
	/* belt and braces: the oracle's own verdict on the result */
	assert_true(pb_ip_csum_ok(frame + pb_l2_len(s)));
	assert_true(pb_l4_csum_ok(frame + pb_l2_len(s)));
}

static unsigned verdict_in2out(struct pb_spec s)
{
	size_t len = pb_build(frame, &s);

	return pb_in2out(w, &ls, frame, len);
}

static unsigned verdict_out2in(struct pb_spec s)
{
	size_t len = pb_build(frame, &s);

	return pb_out2in(w, &ls, frame, len);
}

/* ---- round trips ------------------------------------------------------ */

/* UDP out and back: the reply to the translated tuple reaches exactly the
 * client's tuple; later packets reuse the binding. */
static void test_translate_udp_round_trip(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	struct pb_spec r;
	uint16_t port;

	(void)state;
	s.payload = data;
	s.payload_len = sizeof(data); /* odd: exercises the padded byte */
	port = in2out_ok(&s);
	assert_true(pb_l4_csum_ok(frame + PB_ETH_LEN));
	r = pb_udp(PB_REMOTE, 53, PB_SLICE, port);
	r.payload = data;
	r.payload_len = 20;
	out2in_ok(&r, CLIENT, 4000);

	assert_int_equal(in2out_ok(&s), port);
	assert_int_equal(w->cnt[SH_CNT_IN2OUT], 2);
	assert_int_equal(w->cnt[SH_CNT_OUT2IN], 1);
	assert_int_equal(w->cnt[SH_CNT_FLOW_CREATED], 1);
	assert_int_equal(nat_flow_count(w), 1);
}

/* A TCP connection: handshake, data both ways, FIN both ways. */
static void test_translate_tcp_round_trip(void **state)
{
	static const uint8_t fl_out[] = { PB_SYN, PB_ACK, PB_ACK | PB_PSH,
					  PB_FIN | PB_ACK, PB_ACK };
	static const uint8_t fl_in[] = { PB_SYN | PB_ACK, PB_ACK | PB_PSH,
					 PB_FIN | PB_ACK };
	struct pb_spec s = pb_tcp(CLIENT, 40000, PB_REMOTE, 443, 0);
	struct pb_spec r;
	uint16_t port = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(fl_out); i++) {
		s.tcp_flags = fl_out[i];
		s.seq += 7;
		s.payload = data;
		s.payload_len = (uint16_t)(i * 7);
		if (i == 0)
			port = in2out_ok(&s);
		else
			assert_int_equal(in2out_ok(&s), port);
		if (i < sizeof(fl_in)) {
			r = pb_tcp(PB_REMOTE, 443, PB_SLICE, port, fl_in[i]);
			r.payload = data;
			r.payload_len = (uint16_t)(i * 11);
			out2in_ok(&r, CLIENT, 40000);
		}
	}
	assert_int_equal(nat_flow_count(w), 1);
}

/* ICMP echo: the identifier is translated like a port, and back. */
static void test_translate_icmp_echo_round_trip(void **state)
{
	struct pb_spec s = pb_icmp(CLIENT, PB_REMOTE, 8, 0, 0x4242, 1);
	struct pb_spec r;
	uint16_t id;

	(void)state;
	s.payload = data;
	s.payload_len = 31;
	id = in2out_ok(&s);
	r = pb_icmp(PB_REMOTE, PB_SLICE, 0, 0, id, 1);
	r.payload = data;
	r.payload_len = 31;
	out2in_ok(&r, CLIENT, 0x4242);

	/* a second ping, same id, same binding */
	s.icmp_seq = 2;
	assert_int_equal(in2out_ok(&s), id);
	assert_int_equal(nat_flow_count(w), 1);
}

/* A UDP datagram without checksum stays without one both ways. */
static void test_translate_udp_zero_checksum_stays_zero(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	struct pb_spec r;
	uint16_t port;

	(void)state;
	s.udp_no_csum = true;
	s.payload = data;
	s.payload_len = 10;
	port = in2out_ok(&s);
	assert_int_equal(pb_get16(frame + PB_ETH_LEN + 26), 0);
	r = pb_udp(PB_REMOTE, 53, PB_SLICE, port);
	r.udp_no_csum = true;
	out2in_ok(&r, CLIENT, 4000);
	assert_int_equal(pb_get16(frame + PB_ETH_LEN + 26), 0);
}

/* 802.1Q tags and IPv4 options move the headers; the rewrite follows and
 * leaves the tag and the options alone. */
static void test_translate_vlan_and_options(void **state)
{
	struct pb_spec s = pb_tcp(CLIENT, 40000, PB_REMOTE, 443, PB_SYN);
	struct pb_spec r;
	uint16_t port;

	(void)state;
	s.vlan = true;
	s.ip_opt_len = 12;
	port = in2out_ok(&s);
	r = pb_tcp(PB_REMOTE, 443, PB_SLICE, port, PB_SYN | PB_ACK);
	r.vlan = true;
	r.ip_opt_len = 40;
	out2in_ok(&r, CLIENT, 40000);
}

/* Thousands of random flows (protocol, client, ports, destination,
 * payload, VLAN, options, UDP checksum on or off): each translates to the
 * frame built from scratch, and its reply back to the client's tuple. */
static void test_translate_random_round_trips(void **state)
{
	static uint8_t junk[256];
	struct pb_rng r = { 0x7a11 };

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)pb_rand(&r);
	for (int it = 0; it < 3000; it++) {
		static const uint8_t protos[] = { PB_TCP, PB_UDP, PB_ICMP };
		uint8_t proto = protos[pb_rand(&r) % 3];
		uint32_t client = PB_IP(10, 0, pb_rand(&r) % 256,
					1 + pb_rand(&r) % 254);
		uint32_t dst = PB_IP(198, 18, pb_rand(&r) % 4,
				     1 + pb_rand(&r) % 16);
		uint16_t cport = (uint16_t)(1024 + pb_rand(&r) % 64000);
		uint16_t dport = (uint16_t)(1 + pb_rand(&r) % 1024);
		struct pb_spec s, rep;
		uint16_t port;

		if (proto == PB_ICMP) {
			s = pb_icmp(client, dst, 8, 0, cport, (uint16_t)it);
			rep = pb_icmp(dst, PB_SLICE, 0, 0, 0, (uint16_t)it);
		} else if (proto == PB_TCP) {
			s = pb_tcp(client, cport, dst, dport, PB_SYN);
			rep = pb_tcp(dst, dport, PB_SLICE, 0, PB_SYN | PB_ACK);
		} else {
			s = pb_udp(client, cport, dst, dport);
			rep = pb_udp(dst, dport, PB_SLICE, 0);
			s.udp_no_csum = pb_rand(&r) % 4 == 0;
			rep.udp_no_csum = pb_rand(&r) % 4 == 0;
		}
		s.ttl = (uint8_t)(2 + pb_rand(&r) % 254);
		rep.ttl = (uint8_t)(2 + pb_rand(&r) % 254);
		s.vlan = pb_rand(&r) % 4 == 0;
		rep.vlan = pb_rand(&r) % 4 == 0;
		s.ip_opt_len = (uint8_t)(pb_rand(&r) % 5 == 0 ?
						 4 * (1 + pb_rand(&r) % 10) : 0);
		s.payload = junk + pb_rand(&r) % 128;
		s.payload_len = (uint16_t)(pb_rand(&r) % 128);
		rep.payload = junk + pb_rand(&r) % 128;
		rep.payload_len = (uint16_t)(pb_rand(&r) % 128);

		port = in2out_ok(&s);
		if (proto == PB_ICMP)
			rep.icmp_id = port;
		else
			rep.dport = port;
		out2in_ok(&rep, client, cport);
	}
}

/* ---- verdicts for what is not translated ------------------------------ */

/* A TTL of 1 (or 0) would reach zero when forwarded: TTL_EXPIRED both
 * ways, and an inside packet that expires claims no port. */
static void test_translate_ttl_expired(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	struct pb_spec r;
	uint16_t port;

	(void)state;
	for (uint8_t ttl = 0; ttl <= 1; ttl++) {
		s.ttl = ttl;
		assert_int_equal(verdict_in2out(s), SH_DROP_TTL_EXPIRED);
		s.proto = PB_ICMP;
		s.icmp_type = 8;
		assert_int_equal(verdict_in2out(s), SH_DROP_TTL_EXPIRED);
		s = pb_udp(CLIENT, 4000, PB_REMOTE, 53);
	}
	assert_int_equal(nat_flow_count(w), 0);

	s.ttl = 2;
	port = in2out_ok(&s);
	r = pb_udp(PB_REMOTE, 53, PB_SLICE, port);
	r.ttl = 1;
	assert_int_equal(verdict_out2in(r), SH_DROP_TTL_EXPIRED);
	r.ttl = 2;
	out2in_ok(&r, CLIENT, 4000);
}

/* Packets to the engine's own addresses are Linux's, from inside. */
static void test_translate_to_engine_host_goes_to_kernel(void **state)
{
	(void)state;
	assert_int_equal(verdict_in2out(pb_udp(CLIENT, 4000, PB_HOST_IN, 53)),
			 NAT_KERNEL);
	assert_int_equal(verdict_in2out(pb_tcp(CLIENT, 4000, PB_HOST_IN, 22,
					       PB_SYN)),
			 NAT_KERNEL);
	assert_int_equal(verdict_in2out(pb_icmp(CLIENT, PB_HOST_IN, 8, 0, 1, 1)),
			 NAT_KERNEL);
	assert_int_equal(verdict_in2out(pb_udp(CLIENT, 4000, PB_HOST_OUT, 53)),
			 NAT_KERNEL);
	assert_int_equal(nat_flow_count(w), 0);
}

/* From outside, anything not to a slice address is Linux's. */
static void test_translate_out2in_non_slice_goes_to_kernel(void **state)
{
	(void)state;
	assert_int_equal(verdict_out2in(pb_udp(PB_REMOTE, 53, PB_HOST_OUT,
					       10000)),
			 NAT_KERNEL);
	assert_int_equal(verdict_out2in(pb_tcp(PB_REMOTE, 443,
					       PB_IP(198, 51, 100, 11), 10000,
					       PB_SYN | PB_ACK)),
			 NAT_KERNEL);
	assert_int_equal(verdict_out2in(pb_udp(PB_REMOTE, 53, CLIENT, 4000)),
			 NAT_KERNEL);
}

/* A slice port no lease holds, inside the slice's range or not: dropped
 * as NOT_LEASED, whichever protocol. */
static void test_translate_out2in_unleased_port_not_leased(void **state)
{
	(void)state;
	assert_int_equal(verdict_out2in(pb_udp(PB_REMOTE, 53, PB_SLICE, 12000)),
			 SH_DROP_NOT_LEASED);
	assert_int_equal(verdict_out2in(pb_tcp(PB_REMOTE, 80, PB_SLICE, 12047,
					       PB_SYN)),
			 SH_DROP_NOT_LEASED);
	assert_int_equal(verdict_out2in(pb_udp(PB_REMOTE, 53, PB_SLICE, 9999)),
			 SH_DROP_NOT_LEASED);
	assert_int_equal(verdict_out2in(pb_udp(PB_REMOTE, 53, PB_SLICE, 80)),
			 SH_DROP_NOT_LEASED);
}

/* A socket lease's ports belong to Linux's own sockets. */
static void test_translate_out2in_socket_lease_goes_to_kernel(void **state)
{
	(void)state;
	assert_int_equal(verdict_out2in(pb_udp(PB_REMOTE, 53, PB_SLICE, 11000)),
			 NAT_KERNEL);
	assert_int_equal(verdict_out2in(pb_tcp(PB_REMOTE, 443, PB_SLICE, 11099,
					       PB_SYN | PB_ACK)),
			 NAT_KERNEL);
}

/* A nat lease port with no flow for that exact 5-tuple is unsolicited:
 * nothing was sent there, or it was sent to another remote ip or port
 * (filtering is per 5-tuple). */
static void test_translate_out2in_nat_port_without_flow_unsolicited(void **state)
{
	uint16_t port;

	(void)state;
	assert_int_equal(verdict_out2in(pb_udp(PB_REMOTE, 53, PB_SLICE, 10500)),
			 SH_DROP_UNSOLICITED);
	assert_int_equal(verdict_out2in(pb_tcp(PB_REMOTE, 443, PB_SLICE, 10000,
					       PB_SYN)),
			 SH_DROP_UNSOLICITED);

	port = in2out_ok(&(struct pb_spec){ .ttl = 64, .proto = PB_UDP,
					    .src = CLIENT, .sport = 4000,
					    .dst = PB_REMOTE, .dport = 53 });
	assert_int_equal(verdict_out2in(pb_udp(PB_REMOTE, 54, PB_SLICE, port)),
			 SH_DROP_UNSOLICITED);
	assert_int_equal(verdict_out2in(pb_udp(PB_REMOTE + 1, 53, PB_SLICE,
					       port)),
			 SH_DROP_UNSOLICITED);
	assert_int_equal(verdict_out2in(pb_tcp(PB_REMOTE, 53, PB_SLICE, port,
					       PB_ACK)),
			 SH_DROP_UNSOLICITED);
	assert_int_equal(verdict_out2in(pb_icmp(PB_REMOTE, PB_SLICE, 0, 0, port,
						1)),
			 SH_DROP_UNSOLICITED);
	assert_int_equal(w->cnt[SH_CNT_OUT2IN], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_translate_udp_round_trip),
		T(test_translate_tcp_round_trip),
		T(test_translate_icmp_echo_round_trip),
		T(test_translate_udp_zero_checksum_stays_zero),
		T(test_translate_vlan_and_options),
		T(test_translate_random_round_trips),
		T(test_translate_ttl_expired),
		T(test_translate_to_engine_host_goes_to_kernel),
		T(test_translate_out2in_non_slice_goes_to_kernel),
		T(test_translate_out2in_unleased_port_not_leased),
		T(test_translate_out2in_socket_lease_goes_to_kernel),
		T(test_translate_out2in_nat_port_without_flow_unsolicited),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
