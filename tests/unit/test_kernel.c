/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where the engine meets Linux: the kernel egress policy (a slice source
 * needs a socket lease's port), the ICMP time exceeded the engine answers
 * expired packets with, and which destinations are Linux's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "nat/flow_lookup.h"
#include "pkt_build.h"

#define SOCK_LO 11000
#define SOCK_HI 11099

static struct sh_config cfg;
static struct nat_lease_set ls;
static uint8_t frame[PB_MAX_FRAME], out[NAT_TE_MAX_FRAME];

static int setup(void **state)
{
	(void)state;
	pb_cfg_base(&cfg);
	pb_cfg_lease(&cfg, "nat", SH_LEASE_NAT, 10000, 10999, PB_IP(10, 0, 0, 0), 16);
	pb_cfg_lease(&cfg, "sock", SH_LEASE_SOCKET, SOCK_LO, SOCK_HI, 0, 0);
	return nat_lease_set_from_config(&ls, &cfg);
}

static unsigned egress(const struct pb_spec *s)
{
	size_t len = pb_build(frame, s);

	return nat_kernel_egress_check(&ls, frame, (uint32_t)len);
}

static void test_kernel_egress_from_other_addresses_passes(void **state)
{
	struct pb_spec s = pb_udp(PB_HOST_OUT, 40000, PB_REMOTE, 53);

	(void)state;
	assert_int_equal(egress(&s), SH_OK);
	s = pb_tcp(PB_HOST_IN, 22, PB_IP(10, 0, 0, 2), 5555, PB_ACK);
	assert_int_equal(egress(&s), SH_OK);
}

static void test_kernel_egress_socket_lease_port_passes(void **state)
{
	struct pb_spec s = pb_udp(PB_SLICE, SOCK_LO, PB_REMOTE, 53);

	(void)state;
	assert_int_equal(egress(&s), SH_OK);
	s = pb_tcp(PB_SLICE, SOCK_HI, PB_REMOTE, 443, PB_SYN);
	assert_int_equal(egress(&s), SH_OK);
	s = pb_icmp(PB_SLICE, PB_REMOTE, 8, 0, SOCK_LO + 5, 1);
	assert_int_equal(egress(&s), SH_OK);
	s.vlan = true;
	assert_int_equal(egress(&s), SH_OK);
}

static void test_kernel_egress_outside_socket_leases_counts_violation(void **state)
{
	struct pb_spec s = pb_udp(PB_SLICE, 12345, PB_REMOTE, 53); /* no slice */

	(void)state;
	assert_int_equal(egress(&s), SH_DROP_KERNEL_PORT_VIOLATION);
	s = pb_tcp(PB_SLICE, 10500, PB_REMOTE, 80, PB_SYN); /* the nat lease */
	assert_int_equal(egress(&s), SH_DROP_KERNEL_PORT_VIOLATION);
	s = pb_udp(PB_SLICE, SOCK_HI + 1, PB_REMOTE, 53);
	s.vlan = true;
	assert_int_equal(egress(&s), SH_DROP_KERNEL_PORT_VIOLATION);
	s = pb_icmp(PB_SLICE, PB_REMOTE, 0, 0, 10500, 1);
	assert_int_equal(egress(&s), SH_DROP_KERNEL_PORT_VIOLATION);
}

static void test_kernel_egress_uncheckable_slice_packets_count_violation(void **state)
{
	struct pb_spec s = pb_udp(PB_SLICE, SOCK_LO, PB_REMOTE, 53);
	size_t len;

	(void)state;
	s.frag = 0x0010; /* a non-first fragment: no port to prove */
	assert_int_equal(egress(&s), SH_DROP_KERNEL_PORT_VIOLATION);
	s = pb_udp(PB_SLICE, SOCK_LO, PB_REMOTE, 53);
	s.proto = 47; /* GRE */
	assert_int_equal(egress(&s), SH_DROP_KERNEL_PORT_VIOLATION);
	s = pb_udp(PB_SLICE, SOCK_LO, PB_REMOTE, 53);
	len = pb_build(frame, &s);
	/* truncated before the ports */
	assert_int_equal(nat_kernel_egress_check(&ls, frame, PB_ETH_LEN + 22),
			 SH_DROP_KERNEL_PORT_VIOLATION);
	assert_int_equal(nat_kernel_egress_check(&ls, frame, (uint32_t)len), SH_OK);
}

static void test_kernel_egress_icmp_error_checks_quoted_port(void **state)
{
	uint8_t quote[PB_MAX_FRAME];
	struct pb_spec q = pb_udp(PB_REMOTE, 53, PB_SLICE, SOCK_LO), e;
	size_t qlen = pb_build(quote, &q);

	(void)state;
	/* port unreachable from the slice address, about a datagram sent to
	 * a socket-lease port: Linux speaks for that port */
	e = pb_icmp(PB_SLICE, PB_REMOTE, 3, 3, 0, 0);
	e.payload = quote + PB_ETH_LEN;
	e.payload_len = (uint16_t)(qlen - PB_ETH_LEN);
	assert_int_equal(egress(&e), SH_OK);
	/* the same about a nat-lease port is not Linux's to answer */
	q.dport = 10500;
	qlen = pb_build(quote, &q);
	e.payload_len = (uint16_t)(qlen - PB_ETH_LEN);
	assert_int_equal(egress(&e), SH_DROP_KERNEL_PORT_VIOLATION);
}

static void test_kernel_egress_non_ipv4_passes(void **state)
{
	(void)state;
	memset(frame, 0, 60);
	frame[12] = 0x08;
	frame[13] = 0x06; /* ARP */
	assert_int_equal(nat_kernel_egress_check(&ls, frame, 60), SH_OK);
	assert_int_equal(nat_kernel_egress_check(&ls, frame, 10), SH_OK);
}

static void test_time_exceeded_quotes_packet_and_checksums(void **state)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 0x99 };
	static const uint8_t data[64] = "expired";
	struct pb_spec s = pb_udp(PB_IP(10, 0, 0, 7), 33434, PB_REMOTE, 33434);
	uint32_t len, src = __builtin_bswap32(PB_HOST_IN);
	const uint8_t *ip = out + PB_ETH_LEN, *icmp = ip + 20;
	size_t flen;

	(void)state;
	s.ttl = 1;
	s.payload = data;
	s.payload_len = sizeof(data);
	flen = pb_build(frame, &s);
	len = nat_build_time_exceeded(out, frame, PB_ETH_LEN,
				      (uint16_t)(flen - PB_ETH_LEN), src, mac);
	assert_int_equal(len, PB_ETH_LEN + 20 + 8 + (flen - PB_ETH_LEN));
	assert_memory_equal(out, frame + 6, 6);  /* back to the sender */
	assert_memory_equal(out + 6, mac, 6);
	assert_int_equal(pb_get32(ip + 12), PB_HOST_IN);
	assert_int_equal(pb_get32(ip + 16), PB_IP(10, 0, 0, 7));
	assert_int_equal(pb_get16(ip + 2), len - PB_ETH_LEN);
	assert_true(pb_ip_csum_ok(ip));
	assert_true(pb_l4_csum_ok(ip));
	assert_int_equal(icmp[0], 11);
	assert_int_equal(icmp[1], 0);
	/* the quote is the packet exactly as received, TTL 1 included */
	assert_memory_equal(icmp + 8, frame + PB_ETH_LEN, flen - PB_ETH_LEN);
}

static void test_time_exceeded_quote_is_capped_at_576_bytes(void **state)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 0x99 };
	static uint8_t data[1400];
	struct pb_spec s = pb_udp(PB_IP(10, 0, 0, 7), 33434, PB_REMOTE, 33434);
	uint32_t len;
	size_t flen;

	(void)state;
	s.vlan = true;
	s.ttl = 1;
	s.payload = data;
	s.payload_len = sizeof(data);
	flen = pb_build(frame, &s);
	len = nat_build_time_exceeded(out, frame, PB_ETH_LEN + PB_VLAN_LEN,
				      (uint16_t)(flen - PB_ETH_LEN - PB_VLAN_LEN),
				      __builtin_bswap32(PB_HOST_IN), mac);
	assert_int_equal(len, PB_ETH_LEN + PB_VLAN_LEN + 576);
	assert_int_equal(pb_get16(out + 12), 0x8100); /* tag kept */
	assert_true(pb_ip_csum_ok(out + PB_ETH_LEN + PB_VLAN_LEN));
	assert_true(pb_l4_csum_ok(out + PB_ETH_LEN + PB_VLAN_LEN));
}

static void test_time_exceeded_never_answers_errors_or_broadcast(void **state)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 0x99 };
	struct pb_spec s = pb_icmp(PB_IP(10, 0, 0, 7), PB_REMOTE, 3, 1, 0, 0);
	uint32_t src = __builtin_bswap32(PB_HOST_IN);
	size_t flen;

	(void)state;
	flen = pb_build(frame, &s);
	assert_int_equal(nat_build_time_exceeded(out, frame, PB_ETH_LEN,
						 (uint16_t)(flen - PB_ETH_LEN),
						 src, mac), 0);
	s = pb_udp(0, 68, PB_IP(255, 255, 255, 255), 67);
	flen = pb_build(frame, &s);
	assert_int_equal(nat_build_time_exceeded(out, frame, PB_ETH_LEN,
						 (uint16_t)(flen - PB_ETH_LEN),
						 src, mac), 0);
	/* an echo request is answered */
	s = pb_icmp(PB_IP(10, 0, 0, 7), PB_REMOTE, 8, 0, 1, 1);
	flen = pb_build(frame, &s);
	assert_int_not_equal(nat_build_time_exceeded(out, frame, PB_ETH_LEN,
						     (uint16_t)(flen - PB_ETH_LEN),
						     src, mac), 0);
}

static void test_local_destinations_are_linux(void **state)
{
	(void)state;
	assert_true(nat_dst_is_local(&ls, __builtin_bswap32(PB_HOST_IN)));
	assert_true(nat_dst_is_local(&ls, __builtin_bswap32(PB_HOST_OUT)));
	assert_true(nat_dst_is_local(&ls, __builtin_bswap32(PB_IP(10, 0, 0, 255))));
	assert_true(nat_dst_is_local(&ls, __builtin_bswap32(PB_IP(192, 0, 2, 255))));
	assert_true(nat_dst_is_local(&ls, __builtin_bswap32(PB_IP(224, 0, 0, 5))));
	assert_true(nat_dst_is_local(&ls, __builtin_bswap32(PB_IP(239, 1, 2, 3))));
	assert_true(nat_dst_is_local(&ls, 0xffffffff));
	assert_false(nat_dst_is_local(&ls, __builtin_bswap32(PB_REMOTE)));
	assert_false(nat_dst_is_local(&ls, __builtin_bswap32(PB_IP(10, 0, 0, 2))));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_egress_from_other_addresses_passes),
		cmocka_unit_test(test_kernel_egress_socket_lease_port_passes),
		cmocka_unit_test(test_kernel_egress_outside_socket_leases_counts_violation),
		cmocka_unit_test(test_kernel_egress_uncheckable_slice_packets_count_violation),
		cmocka_unit_test(test_kernel_egress_icmp_error_checks_quoted_port),
		cmocka_unit_test(test_kernel_egress_non_ipv4_passes),
		cmocka_unit_test(test_time_exceeded_quotes_packet_and_checksums),
		cmocka_unit_test(test_time_exceeded_quote_is_capped_at_576_bytes),
		cmocka_unit_test(test_time_exceeded_never_answers_errors_or_broadcast),
		cmocka_unit_test(test_local_destinations_are_linux),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
