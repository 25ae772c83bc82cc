/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-lease NAT behaviour (nat.h, "Mappings and filtering"): the RFC 4787
 * and RFC 5382 mapping and filtering modes, port preservation and parity,
 * hairpinning, and RFC 6888's paired pooling and port hold-down. Each test
 * is named after the requirement it checks. A virtual clock drives
 * expiry; every packet is a real frame through nat_parse() and the
 * translators.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nat/flow_list.h"
#include "nat/flow_lookup.h"
#include "pkt_build.h"

#define CLIENT(n) PB_IP(10, 0, 0, (n))
#define REMOTE2 PB_IP(203, 0, 113, 77)
#define SLICE2 PB_IP(198, 51, 100, 11)

static struct sh_config cfg;
static struct nat_lease_set ls;
static struct nat_worker *workers[4];
static uint8_t frame[PB_MAX_FRAME];

/* One nat lease "a" on 10000-10999 for 10.0.0.0/16 in the default mode
 * (endpoint-independent mapping, address-dependent filtering). */
static int setup(void **state)
{
	(void)state;
	pb_cfg_base(&cfg);
	pb_cfg_lease(&cfg, "a", SH_LEASE_NAT, 10000, 10999, PB_IP(10, 0, 0, 0),
		     16);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		nat_worker_destroy(workers[i]);
		workers[i] = NULL;
	}
	return 0;
}

static void mode(enum sh_mapping m, enum sh_filtering f)
{
	cfg.leases[0].mapping = m;
	cfg.leases[0].filtering = f;
}

/* The lease set and @n workers at clock 1 s. */
static struct nat_worker *start(unsigned n)
{
	assert_int_equal(nat_lease_set_from_config(&ls, &cfg), 0);
	for (unsigned i = 0; i < n; i++) {
		struct nat_params p = pb_params(&cfg, i, n, 1024);

		workers[i] = nat_worker_create(&p);
		assert_non_null(workers[i]);
		workers[i]->now = 1000;
	}
	return workers[0];
}

/* @s through in2out; on SH_OK the translated source in @ip/@port. */
static unsigned send_out(struct nat_worker *w, struct pb_spec s, uint32_t *ip,
			 uint16_t *port)
{
	size_t len = pb_build(frame, &s);
	unsigned v = pb_in2out(w, &ls, frame, len);

	if (v == SH_OK || v == NAT_HAIRPIN) {
		assert_true(pb_ip_csum_ok(frame + PB_ETH_LEN));
		assert_true(pb_l4_csum_ok(frame + PB_ETH_LEN));
		if (ip)
			*ip = pb_get32(frame + PB_ETH_LEN + 12);
		if (port)
			*port = pb_get16(frame + PB_ETH_LEN + 20);
	}
	return v;
}

static uint16_t out_port(struct nat_worker *w, uint32_t client, uint16_t cport,
			 uint32_t dst, uint16_t dport)
{
	uint16_t port = 0;

	assert_int_equal(send_out(w, pb_udp(client, cport, dst, dport), NULL,
				  &port),
			 SH_OK);
	return port;
}

/* @s through out2in; on SH_OK the translated destination in @ip/@port. */
static unsigned send_in(struct nat_worker *w, struct pb_spec s, uint32_t *ip,
			uint16_t *port)
{
	size_t len = pb_build(frame, &s);
	unsigned v = pb_out2in(w, &ls, frame, len);

	if (v == SH_OK) {
		assert_true(pb_ip_csum_ok(frame + PB_ETH_LEN));
		assert_true(pb_l4_csum_ok(frame + PB_ETH_LEN));
		if (ip)
			*ip = pb_get32(frame + PB_ETH_LEN + 16);
		if (port)
			*port = pb_get16(frame + PB_ETH_LEN + 22);
	}
	return v;
}

/* ---- RFC 4787 REQ-1, RFC 5382 REQ-1: mapping -------------------------- */

static void test_rfc4787_req1_eim_one_port_for_every_destination(void **state)
{
	struct nat_worker *w = start(1);
	uint16_t p1, p2, p3;

	(void)state;
	p1 = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478);
	p2 = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3479);
	p3 = out_port(w, CLIENT(2), 5000, REMOTE2, 3478);
	assert_int_equal(p1, p2);
	assert_int_equal(p1, p3);
	/* Another endpoint of the same client gets another port. */
	assert_int_not_equal(out_port(w, CLIENT(2), 5001, PB_REMOTE, 3478), p1);
	assert_int_equal(nat_flow_count(w), 4);
}

static void test_rfc5382_req1_eim_tcp(void **state)
{
	struct nat_worker *w = start(1);
	uint16_t p1, p2;

	(void)state;
	assert_int_equal(send_out(w, pb_tcp(CLIENT(2), 40000, PB_REMOTE, 80,
					    PB_SYN), NULL, &p1),
			 SH_OK);
	assert_int_equal(send_out(w, pb_tcp(CLIENT(2), 40000, REMOTE2, 443,
					    PB_SYN), NULL, &p2),
			 SH_OK);
	assert_int_equal(p1, p2);
}

static void test_rfc4787_apdm_new_port_per_destination(void **state)
{
	struct nat_worker *w;
	uint16_t p1, p2, p3;

	(void)state;
	mode(SH_MAPPING_APDM, SH_FILTERING_ADF);
	w = start(1);
	p1 = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478);
	p2 = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3479);
	p3 = out_port(w, CLIENT(2), 5000, REMOTE2, 3478);
	assert_int_not_equal(p1, p2);
	assert_int_not_equal(p1, p3);
	assert_int_not_equal(p2, p3);
}

/* The shared-port mode may give one port to two clients towards
 * different destinations (RFC 7857 §3): a 1-port lease serves both. */
static void test_rfc7857_s3_shared_mode_overlaps_ports(void **state)
{
	struct nat_worker *w;

	(void)state;
	cfg.leases[0].hi = 10000;
	mode(SH_MAPPING_APDM, SH_FILTERING_APDF);
	w = start(1);
	assert_int_equal(out_port(w, CLIENT(2), 5000, PB_REMOTE, 53), 10000);
	assert_int_equal(out_port(w, CLIENT(3), 5000, REMOTE2, 53), 10000);
	/* An exclusive lease of one port serves one endpoint only. */
	teardown(state);
	mode(SH_MAPPING_EIM, SH_FILTERING_ADF);
	w = start(1);
	assert_int_equal(out_port(w, CLIENT(2), 5000, PB_REMOTE, 53), 10000);
	assert_int_equal(send_out(w, pb_udp(CLIENT(3), 5000, REMOTE2, 53), NULL,
				  NULL),
			 SH_DROP_PORTS_EXHAUSTED);
}

/* ---- RFC 4787 REQ-8, RFC 5382 REQ-3: filtering ------------------------ */

static void test_rfc4787_req8_eif_admits_any_remote(void **state)
{
	struct nat_worker *w;
	uint32_t ip;
	uint16_t p, port;

	(void)state;
	mode(SH_MAPPING_EIM, SH_FILTERING_EIF);
	w = start(1);
	p = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478);
	assert_int_equal(send_in(w, pb_udp(REMOTE2, 9999, PB_SLICE, p), &ip,
				 &port),
			 SH_OK);
	assert_int_equal(ip, CLIENT(2));
	assert_int_equal(port, 5000);
	assert_int_equal(w->cnt[SH_CNT_FLOW_INBOUND], 1);
	/* The client's answer leaves on the same mapping. */
	assert_int_equal(out_port(w, CLIENT(2), 5000, REMOTE2, 9999), p);
}

static void test_rfc4787_req8_adf_admits_contacted_addresses(void **state)
{
	struct nat_worker *w = start(1);
	uint16_t p, port;

	(void)state;
	p = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478);
	/* Same address, another port: admitted. */
	assert_int_equal(send_in(w, pb_udp(PB_REMOTE, 3479, PB_SLICE, p), NULL,
				 &port),
			 SH_OK);
	assert_int_equal(port, 5000);
	/* Another address: filtered. */
	assert_int_equal(send_in(w, pb_udp(REMOTE2, 3478, PB_SLICE, p), NULL,
				 NULL),
			 SH_DROP_UNSOLICITED);
	/* Once the client sent to it, admitted. */
	out_port(w, CLIENT(2), 5000, REMOTE2, 1);
	assert_int_equal(send_in(w, pb_udp(REMOTE2, 3478, PB_SLICE, p), NULL,
				 NULL),
			 SH_OK);
}

static void test_rfc4787_req8_apdf_admits_exact_tuples(void **state)
{
	struct nat_worker *w;
	uint16_t p;

	(void)state;
	mode(SH_MAPPING_EIM, SH_FILTERING_APDF);
	w = start(1);
	p = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478);
	assert_int_equal(send_in(w, pb_udp(PB_REMOTE, 3479, PB_SLICE, p), NULL,
				 NULL),
			 SH_DROP_UNSOLICITED);
	assert_int_equal(send_in(w, pb_udp(PB_REMOTE, 3478, PB_SLICE, p), NULL,
				 NULL),
			 SH_OK);
}

/* A mapping that no longer lives admits nothing. */
static void test_rfc4787_req8_expired_mapping_filters_all(void **state)
{
	struct nat_worker *w;
	uint16_t p;

	(void)state;
	mode(SH_MAPPING_EIM, SH_FILTERING_EIF);
	w = start(1);
	p = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478);
	w->now += cfg.nat.udp_timeout * 1000;
	nat_expire(w, 1024);
	assert_int_equal(send_in(w, pb_udp(REMOTE2, 1, PB_SLICE, p), NULL, NULL),
			 SH_DROP_UNSOLICITED);
}

/* Inbound TCP opens a flow only with a SYN (RFC 5382 REQ-4: a SYN from
 * outside to an endpoint-independent filter is a simultaneous open). */
static void test_rfc5382_req4_inbound_tcp_needs_syn(void **state)
{
	struct nat_worker *w;
	uint16_t p;
	uint32_t ip;

	(void)state;
	mode(SH_MAPPING_EIM, SH_FILTERING_EIF);
	w = start(1);
	assert_int_equal(send_out(w, pb_tcp(CLIENT(2), 40000, PB_REMOTE, 80,
					    PB_SYN), NULL, &p),
			 SH_OK);
	assert_int_equal(send_in(w, pb_tcp(REMOTE2, 5555, PB_SLICE, p, PB_ACK),
				 NULL, NULL),
			 SH_DROP_UNSOLICITED);
	assert_int_equal(send_in(w, pb_tcp(REMOTE2, 5555, PB_SLICE, p, PB_SYN),
				 &ip, NULL),
			 SH_OK);
	assert_int_equal(ip, CLIENT(2));
}

/* A packet from outside claiming a slice source is spoofed: never
 * admitted by a filter. */
static void test_filter_refuses_slice_sources_from_outside(void **state)
{
	struct nat_worker *w;
	uint16_t p;

	(void)state;
	mode(SH_MAPPING_EIM, SH_FILTERING_EIF);
	w = start(1);
	p = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478);
	assert_int_equal(send_in(w, pb_udp(PB_SLICE, 10500, PB_SLICE, p), NULL,
				 NULL),
			 SH_DROP_UNSOLICITED);
}

/* Port 0 is no endpoint: refused both ways. */
static void test_port_zero_is_malformed(void **state)
{
	struct nat_worker *w = start(1);

	(void)state;
	assert_int_equal(send_out(w, pb_udp(CLIENT(2), 0, PB_REMOTE, 53), NULL,
				  NULL),
			 SH_DROP_L4_MALFORMED);
	assert_int_equal(send_out(w, pb_udp(CLIENT(2), 53, PB_REMOTE, 0), NULL,
				  NULL),
			 SH_DROP_L4_MALFORMED);
	assert_int_equal(send_in(w, pb_udp(PB_REMOTE, 0, PB_SLICE, 10001), NULL,
				 NULL),
			 SH_DROP_L4_MALFORMED);
}

/* ---- RFC 4787 REQ-4 (port preservation) and REQ-6 (parity) ------------ */

static void test_rfc4787_req4_client_port_preserved_when_free(void **state)
{
	struct nat_worker *w = start(1);

	(void)state;
	assert_int_equal(out_port(w, CLIENT(2), 10123, PB_REMOTE, 53), 10123);
	/* Taken by that endpoint: the next client gets another port. */
	assert_int_not_equal(out_port(w, CLIENT(3), 10123, PB_REMOTE, 53),
			     10123);
}

static void test_rfc4787_req6_parity_preserved(void **state)
{
	struct nat_worker *w = start(1);

	(void)state;
	for (uint16_t c = 0; c < 200; c++) {
		uint16_t cport = (uint16_t)(20000 + c);

		assert_int_equal(out_port(w, CLIENT(2), cport, PB_REMOTE, 53) & 1,
				 cport & 1);
	}
}

/* ---- RFC 4787 REQ-9, RFC 5382 REQ-8: hairpinning ----------------------- */

/* Run the frame in `frame` (a NAT_HAIRPIN result) out2in as the engine's
 * worker does; the verdict. */
static unsigned turn_around(struct nat_worker *w, size_t len)
{
	struct nat_pkt p;
	unsigned v = nat_parse(&p, frame, (uint32_t)len, false);

	assert_int_equal(v, SH_OK);
	p.hairpin = true;
	return nat_out2in(w, &ls, &p);
}

static void test_rfc4787_req9_hairpin_udp(void **state)
{
	struct nat_worker *w = start(1);
	struct pb_spec s;
	uint16_t pb, pa;
	size_t len;

	(void)state;
	/* B has a mapping (it talked to a server). */
	pb = out_port(w, CLIENT(3), 6000, PB_REMOTE, 3478);
	/* A sends to B's mapping: translated, then turned around. */
	s = pb_udp(CLIENT(2), 5000, PB_SLICE, pb);
	len = pb_build(frame, &s);
	assert_int_equal(pb_in2out(w, &ls, frame, len), NAT_HAIRPIN);
	pa = pb_get16(frame + PB_ETH_LEN + 20);
	assert_int_equal(pb_get32(frame + PB_ETH_LEN + 12), PB_SLICE);
	assert_int_equal(turn_around(w, len), SH_OK);
	/* B receives it from A's mapping, both checksums right. */
	assert_int_equal(pb_get32(frame + PB_ETH_LEN + 12), PB_SLICE);
	assert_int_equal(pb_get16(frame + PB_ETH_LEN + 20), pa);
	assert_int_equal(pb_get32(frame + PB_ETH_LEN + 16), CLIENT(3));
	assert_int_equal(pb_get16(frame + PB_ETH_LEN + 22), 6000);
	assert_true(pb_ip_csum_ok(frame + PB_ETH_LEN));
	assert_true(pb_l4_csum_ok(frame + PB_ETH_LEN));
	/* B answers A's mapping: back to A the same way. */
	s = pb_udp(CLIENT(3), 6000, PB_SLICE, pa);
	len = pb_build(frame, &s);
	assert_int_equal(pb_in2out(w, &ls, frame, len), NAT_HAIRPIN);
	assert_int_equal(pb_get16(frame + PB_ETH_LEN + 20), pb);
	assert_int_equal(turn_around(w, len), SH_OK);
	assert_int_equal(pb_get32(frame + PB_ETH_LEN + 16), CLIENT(2));
	assert_int_equal(pb_get16(frame + PB_ETH_LEN + 22), 5000);
}

static void test_rfc5382_req8_hairpin_tcp(void **state)
{
	struct nat_worker *w = start(1);
	struct pb_spec s;
	uint16_t pb;
	size_t len;

	(void)state;
	assert_int_equal(send_out(w, pb_tcp(CLIENT(3), 6000, PB_REMOTE, 80,
					    PB_SYN), NULL, &pb),
			 SH_OK);
	s = pb_tcp(CLIENT(2), 5000, PB_SLICE, pb, PB_SYN);
	len = pb_build(frame, &s);
	assert_int_equal(pb_in2out(w, &ls, frame, len), NAT_HAIRPIN);
	assert_int_equal(turn_around(w, len), SH_OK);
	assert_int_equal(pb_get32(frame + PB_ETH_LEN + 16), CLIENT(3));
	assert_true(pb_l4_csum_ok(frame + PB_ETH_LEN));
}

/* ---- RFC 6888 REQ-2: paired pooling ------------------------------------ */

static void test_rfc6888_req2_paired_pooling(void **state)
{
	struct nat_worker *w;
	uint32_t first, ip;

	(void)state;
	/* Two one-port leases on two addresses for the same clients. */
	cfg.slices[1] = (struct sh_slice_cfg){ .ip = SLICE2, .lo = 10000,
					       .hi = 10999 };
	cfg.n_slices = 2;
	cfg.leases[0].hi = 10001;
	pb_cfg_lease(&cfg, "b", SH_LEASE_NAT, 10000, 10001, PB_IP(10, 0, 0, 0),
		     16)->ip = SLICE2;
	w = start(1);
	assert_int_equal(send_out(w, pb_udp(CLIENT(2), 5000, PB_REMOTE, 1),
				  &first, NULL),
			 SH_OK);
	assert_int_equal(send_out(w, pb_udp(CLIENT(2), 5001, PB_REMOTE, 1), &ip,
				  NULL),
			 SH_OK);
	assert_int_equal(ip, first);
	/* Its address is full: the client waits rather than changing it. */
	assert_int_equal(send_out(w, pb_udp(CLIENT(2), 5002, PB_REMOTE, 1), NULL,
				  NULL),
			 SH_DROP_PORTS_EXHAUSTED);
	/* Another client may use the other address. */
	assert_int_equal(send_out(w, pb_udp(CLIENT(3), 5000, PB_REMOTE, 1), &ip,
				  NULL),
			 SH_OK);
	assert_int_not_equal(ip, first);
}

/* ---- RFC 6888 REQ-8: port hold-down ------------------------------------ */

static void hold_down(void **state, enum sh_mapping m, enum sh_filtering f)
{
	struct nat_worker *w;
	uint32_t hold = 120000, to;
	uint16_t p;

	(void)state;
	cfg.leases[0].hi = 10000; /* one port */
	mode(m, f);
	w = start(1);
	to = cfg.nat.udp_timeout * 1000;
	assert_int_equal(cfg.nat.port_hold_down, 120);
	p = out_port(w, CLIENT(2), 5000, PB_REMOTE, 53);
	/* Expired, and swept: the port is held for the hold-down. */
	w->now += to;
	nat_expire(w, 1024);
	assert_int_equal(nat_flow_count(w), 0);
	assert_int_equal(send_out(w, pb_udp(CLIENT(3), 5000, PB_REMOTE, 53),
				  NULL, NULL),
			 SH_DROP_PORTS_EXHAUSTED);
	/* Nothing comes in through a held port. */
	assert_int_equal(send_in(w, pb_udp(PB_REMOTE, 53, PB_SLICE, p), NULL,
				 NULL),
			 SH_DROP_UNSOLICITED);
	w->now += hold - 1;
	nat_expire(w, 1024);
	assert_int_equal(send_out(w, pb_udp(CLIENT(3), 5000, PB_REMOTE, 53),
				  NULL, NULL),
			 SH_DROP_PORTS_EXHAUSTED);
	/* The same client gets it back within the hold. */
	assert_int_equal(out_port(w, CLIENT(2), 5000, PB_REMOTE, 53), p);
	w->now += to;
	nat_expire(w, 1024);
	w->now += hold;
	/* Two turns of the clock hand: a binding may lie before the flow
	 * whose end starts its hold. */
	nat_expire(w, 1024);
	nat_expire(w, 1024);
	/* After the hold, anyone; and the table is empty again. */
	assert_int_equal(w->t.n_free, w->t.max_flows);
	assert_int_equal(out_port(w, CLIENT(3), 5000, PB_REMOTE, 53), p);
}

static void test_rfc6888_req8_hold_down_exclusive(void **state)
{
	hold_down(state, SH_MAPPING_EIM, SH_FILTERING_ADF);
}

static void test_rfc6888_req8_hold_down_shared(void **state)
{
	hold_down(state, SH_MAPPING_APDM, SH_FILTERING_APDF);
}

static void test_rfc6888_req8_hold_down_zero_frees_at_once(void **state)
{
	struct nat_worker *w;

	(void)state;
	cfg.leases[0].hi = 10000;
	cfg.nat.port_hold_down = 0;
	w = start(1);
	out_port(w, CLIENT(2), 5000, PB_REMOTE, 53);
	w->now += cfg.nat.udp_timeout * 1000;
	nat_expire(w, 1024);
	assert_int_equal(w->t.n_free, w->t.max_flows);
	assert_int_equal(out_port(w, CLIENT(3), 5000, PB_REMOTE, 53), 10000);
}

/* ---- several workers ---------------------------------------------------- */

/* An exclusive mapping lives on worker port % n: its ports are chosen so,
 * and a packet from a new remote that reached another worker is sent
 * there (NAT_HANDOFF), untouched. */
static void test_exclusive_mapping_owned_by_port(void **state)
{
	struct nat_worker *w0, *w1;
	struct pb_spec s;
	uint16_t p;
	size_t len;

	(void)state;
	mode(SH_MAPPING_EIM, SH_FILTERING_EIF);
	w0 = start(2);
	w1 = workers[1];
	for (uint16_t c = 0; c < 50; c++)
		assert_int_equal(out_port(w1, CLIENT(2), (uint16_t)(3000 + c),
					  PB_REMOTE, 53) % 2,
				 1);
	p = out_port(w1, CLIENT(2), 5000, PB_REMOTE, 53);
	s = pb_udp(REMOTE2, 9, PB_SLICE, p);
	len = pb_build(frame, &s);
	{
		uint8_t before[PB_MAX_FRAME];
		struct nat_pkt pk;

		memcpy(before, frame, len);
		assert_int_equal(nat_parse(&pk, frame, (uint32_t)len, false),
				 SH_OK);
		assert_int_equal(nat_out2in(w0, &ls, &pk), NAT_HANDOFF);
		assert_int_equal(pk.to_worker, 1);
		assert_memory_equal(before, frame, len);
	}
	assert_int_equal(send_in(w1, s, NULL, NULL), SH_OK);
}

/* Bindings and permissions are table entries but not flows, and they
 * leave with their last flow and its hold. */
static void test_pseudo_entries_not_counted_and_freed(void **state)
{
	struct nat_worker *w = start(1);

	(void)state;
	for (uint16_t c = 0; c < 10; c++)
		for (uint32_t d = 0; d < 3; d++)
			out_port(w, CLIENT(2), (uint16_t)(4000 + c),
				 PB_REMOTE + d, 53);
	assert_int_equal(nat_flow_count(w), 30);
	assert_int_equal(w->lease_flows[1], 30);
	assert_int_equal(nat_client_flows(w, htonl(CLIENT(2))), 30);
	w->now += cfg.nat.udp_timeout * 1000;
	nat_expire(w, 1024);
	assert_int_equal(nat_flow_count(w), 0);
	assert_int_equal(w->lease_flows[1], 0);
	assert_int_equal(w->cnt[SH_CNT_FLOW_EXPIRED], 30);
	w->now += cfg.nat.port_hold_down * 1000;
	nat_expire(w, 1024);
	assert_int_equal(w->t.n_free, w->t.max_flows);
	assert_int_equal(w->n_pseudo, 0);
}

/* The usage report's ports: one per binding (an endpoint-independent
 * mapping's port serves every destination), per protocol, held through
 * the hold-down and given back when it ends. */
static void test_lease_ports_count_bindings_through_hold_down(void **state)
{
	struct nat_worker *w = start(1);

	(void)state;
	for (uint16_t c = 0; c < 10; c++)
		for (uint32_t d = 0; d < 3; d++)
			out_port(w, CLIENT(2), (uint16_t)(4000 + c),
				 PB_REMOTE + d, 53);
	assert_int_equal(send_out(w, pb_tcp(CLIENT(3), 5000, PB_REMOTE, 80,
					    PB_SYN), NULL, NULL), SH_OK);
	assert_int_equal(nat_lease_ports(w, 1, NAT_PROTO_UDP), 10);
	assert_int_equal(nat_lease_ports(w, 1, NAT_PROTO_TCP), 1);
	assert_int_equal(nat_lease_ports(w, 2, NAT_PROTO_UDP), 0);
	w->now += cfg.nat.udp_timeout * 1000;
	nat_expire(w, 1024);
	assert_int_equal(nat_flow_count(w), 0);
	assert_int_equal(nat_lease_ports(w, 1, NAT_PROTO_UDP), 10);
	assert_int_equal(nat_lease_ports(w, 1, NAT_PROTO_TCP), 1);
	w->now += cfg.nat.port_hold_down * 1000;
	nat_expire(w, 1024);
	assert_int_equal(nat_lease_ports(w, 1, NAT_PROTO_UDP), 0);
	assert_int_equal(nat_lease_ports(w, 1, NAT_PROTO_TCP), 0);
}

/* The busiest clients: most flows first, at most the number asked, and
 * another thread's per-client count agrees with the owner's. */
static void test_client_top_orders_by_flows(void **state)
{
	static const uint16_t flows[] = { 5, 2, 7, 1 };
	struct nat_client_use top[3];
	struct nat_worker *w = start(1);

	(void)state;
	for (unsigned c = 0; c < 4; c++)
		for (uint16_t f = 0; f < flows[c]; f++)
			out_port(w, CLIENT(2 + c), (uint16_t)(4000 + f),
				 PB_REMOTE, 53);
	assert_int_equal(nat_client_top(w, top, 3), 3);
	assert_int_equal(top[0].ip, htonl(CLIENT(4)));
	assert_int_equal(top[0].flows, 7);
	assert_int_equal(top[0].out_ip, htonl(PB_SLICE));
	assert_int_equal(top[1].ip, htonl(CLIENT(2)));
	assert_int_equal(top[2].ip, htonl(CLIENT(3)));
	assert_int_equal(top[2].flows, 2);
	assert_int_equal(nat_client_top(w, top, 0), 0);
	assert_int_equal(nat_client_flows_read(w, htonl(CLIENT(5))), 1);
	assert_int_equal(nat_client_flows_read(w, htonl(CLIENT(9))), 0);
}

/* ---- reproducers of what tests/fuzz found ------------------------------- */

/* An outside packet the filter admits but whose TTL runs out is dropped
 * before it reaches the client: it must not open a flow (nor count one
 * inbound). fuzz_nat: "a flow created by a outside packet (proto 6) with
 * verdict 11". */
static void test_fuzz_inbound_ttl_expired_opens_no_flow(void **state)
{
	struct nat_worker *w;
	struct pb_spec s;
	uint16_t p;

	(void)state;
	mode(SH_MAPPING_EIM, SH_FILTERING_EIF);
	w = start(1);
	p = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478);
	s = pb_udp(REMOTE2, 9999, PB_SLICE, p);
	s.ttl = 1;
	assert_int_equal(send_in(w, s, NULL, NULL), SH_DROP_TTL_EXPIRED);
	assert_int_equal(nat_flow_count(w), 1);
	assert_int_equal(w->cnt[SH_CNT_FLOW_INBOUND], 0);
}

/* A remote address of 0.0.0.0 is no remote (RFC 1122 3.2.1.3: never a
 * forwarded source); for address-dependent filtering its permission
 * would be the binding itself (slice:P, 0:0), so it must never be
 * admitted. fuzz_nat: "inbound: lease a (APDM/ADF): 00000000:54 admitted
 * to c633640a:10700 (0a000005:4000), which never sent to 00000000". */
static void test_fuzz_zero_source_not_admitted(void **state)
{
	struct nat_worker *w = start(1);
	uint16_t p;

	(void)state;
	p = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478);
	assert_int_not_equal(send_in(w, pb_udp(0, 54, PB_SLICE, p), NULL, NULL),
			     SH_OK);
	assert_int_equal(nat_flow_count(w), 1);
	assert_int_equal(w->cnt[SH_CNT_FLOW_INBOUND], 0);
}

/* A binding's last_seen is not refreshed by its flows' traffic: a port
 * search probing it after a timeout must still find it taken while its
 * flows live (and count no flow expired for it). fuzz_nat: "counters:
 * created 22 - expired 22 != 1 live". */
static void test_fuzz_port_probe_keeps_live_binding(void **state)
{
	struct nat_worker *w = start(1);
	uint32_t to = cfg.nat.udp_timeout * 1000;

	(void)state;
	/* Client 2 keeps its own port 10005 and its flow alive. */
	assert_int_equal(out_port(w, CLIENT(2), 10005, PB_REMOTE, 53), 10005);
	for (unsigned i = 0; i < 3; i++) {
		w->now += to / 2;
		assert_int_equal(out_port(w, CLIENT(2), 10005, PB_REMOTE, 53),
				 10005);
	}
	/* Client 3 asks for the same port: taken. */
	assert_int_not_equal(out_port(w, CLIENT(3), 10005, PB_REMOTE, 53),
			     10005);
	assert_int_equal(w->cnt[SH_CNT_FLOW_EXPIRED], 0);
	assert_int_equal(nat_flow_count(w), 2);
}

/* An ICMP error quoting a TCP/UDP port 0 quotes no flow: with
 * address-dependent filtering, remote:0 -> client:port is the inside key
 * of a permission (and slice:P -> remote:0 its outside key), which must
 * neither translate it nor be retired by its lookup. fuzz_icmp:
 * "in2out: 0a0001ff:65535 -> cb00714d:0 proto 17 translated through a
 * flow the shadow never saw". */
static void test_fuzz_icmp_error_quoting_port_zero(void **state)
{
	struct nat_worker *w = start(1);
	uint8_t quote[PB_MAX_FRAME];
	struct pb_spec q, s;
	uint16_t p;
	size_t qlen;

	(void)state;
	p = out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478);
	/* From the inside: the client's error about "remote:0 -> it". */
	q = pb_udp(PB_REMOTE, 0, CLIENT(2), 5000);
	qlen = pb_build(quote, &q);
	s = pb_icmp(CLIENT(2), PB_REMOTE, 3, 3, 0, 0);
	s.payload = quote + PB_ETH_LEN;
	s.payload_len = (uint16_t)(qlen - PB_ETH_LEN);
	assert_int_not_equal(send_out(w, s, NULL, NULL), SH_OK);
	/* From the outside: an error about "slice:P -> remote:0", once the
	 * permission is older than the flow timeout (its flow is not). */
	w->now += cfg.nat.udp_timeout * 1000 / 2;
	assert_int_equal(out_port(w, CLIENT(2), 5000, PB_REMOTE, 3478), p);
	w->now += cfg.nat.udp_timeout * 1000 / 2;
	q = pb_udp(PB_SLICE, p, PB_REMOTE, 0);
	qlen = pb_build(quote, &q);
	s = pb_icmp(PB_ROUTER, PB_SLICE, 3, 3, 0, 0);
	s.payload = quote + PB_ETH_LEN;
	s.payload_len = (uint16_t)(qlen - PB_ETH_LEN);
	assert_int_not_equal(send_in(w, s, NULL, NULL), SH_OK);
	assert_int_equal(w->cnt[SH_CNT_FLOW_EXPIRED], 0);
	/* The permission still admits the remote's other ports. */
	assert_int_equal(send_in(w, pb_udp(PB_REMOTE, 1, PB_SLICE, p), NULL,
				 NULL),
			 SH_OK);
}

/* With address-and-port-dependent mapping the endpoint has a mapping per
 * destination; a remote it already has a flow with (through its own
 * mapping) that sends to another of the endpoint's mappings, which the
 * filter admits, must not get a second flow for the same inside 5-tuple.
 * fuzz_nat (tests/fuzz/crashers/fuzz_nat-apdm-inbound-duplicates-flow):
 * "inbound: live flow 0a000005:4000 -> cb007105:54 proto 17 (outside
 * c633640a:10124) was created again on c633640a:10066". */
static void test_fuzz_apdm_inbound_duplicates_flow(void **state)
{
	struct nat_worker *w;
	uint16_t p1, p2;

	(void)state;
	mode(SH_MAPPING_APDM, SH_FILTERING_EIF);
	w = start(1);
	p1 = out_port(w, CLIENT(2), 5000, PB_REMOTE, 53);
	p2 = out_port(w, CLIENT(2), 5000, PB_REMOTE, 54);
	assert_int_not_equal(p1, p2);
	send_in(w, pb_udp(PB_REMOTE, 54, PB_SLICE, p1), NULL, NULL);
	assert_int_equal(nat_flow_count(w), 2);
	assert_int_equal(out_port(w, CLIENT(2), 5000, PB_REMOTE, 54), p2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_rfc4787_req1_eim_one_port_for_every_destination),
		T(test_rfc5382_req1_eim_tcp),
		T(test_rfc4787_apdm_new_port_per_destination),
		T(test_rfc7857_s3_shared_mode_overlaps_ports),
		T(test_rfc4787_req8_eif_admits_any_remote),
		T(test_rfc4787_req8_adf_admits_contacted_addresses),
		T(test_rfc4787_req8_apdf_admits_exact_tuples),
		T(test_rfc4787_req8_expired_mapping_filters_all),
		T(test_rfc5382_req4_inbound_tcp_needs_syn),
		T(test_filter_refuses_slice_sources_from_outside),
		T(test_port_zero_is_malformed),
		T(test_rfc4787_req4_client_port_preserved_when_free),
		T(test_rfc4787_req6_parity_preserved),
		T(test_rfc4787_req9_hairpin_udp),
		T(test_rfc5382_req8_hairpin_tcp),
		T(test_rfc6888_req2_paired_pooling),
		T(test_rfc6888_req8_hold_down_exclusive),
		T(test_rfc6888_req8_hold_down_shared),
		T(test_rfc6888_req8_hold_down_zero_frees_at_once),
		T(test_exclusive_mapping_owned_by_port),
		T(test_pseudo_entries_not_counted_and_freed),
		T(test_lease_ports_count_bindings_through_hold_down),
		T(test_client_top_orders_by_flows),
		T(test_fuzz_inbound_ttl_expired_opens_no_flow),
		T(test_fuzz_zero_source_not_admitted),
		T(test_fuzz_port_probe_keeps_live_binding),
		T(test_fuzz_icmp_error_quoting_port_zero),
		T(test_fuzz_apdm_inbound_duplicates_flow),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
