/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for port selection (engine/nat/ports.c) as seen through
 * nat_in2out: which lease a client gets, which ports it may be given,
 * when the answer is a drop and which one, and how ports split between
 * workers.
 *
 * The standard lease is 16 ports (10000-10015) for 10.0.0.0/16, small
 * enough that a handful of flows exhausts it. Flows are real UDP/TCP
 * frames through nat_parse + nat_in2out, so the verdicts are the ones the
 * worker would count.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nat/flow_list.h"
#include "nat/nat.h"
#include "pkt_build.h"

#define LEASE_LO 10000
#define LEASE_HI 10015
#define LEASE_N (LEASE_HI - LEASE_LO + 1)

#define CLIENT(i) PB_IP(10, 0, (i) >> 8 & 0xff, (i) & 0xff)
#define DEST(i) PB_IP(203, 0, 113, 10 + (i))

static struct sh_config cfg;
static struct nat_lease_set ls;
static struct nat_worker *workers[4];

/* Every test starts from the base plan plus the standard 16-port lease;
 * a test may add leases or change cfg.nat before calling start(). */
static int setup(void **state)
{
	(void)state;
	pb_cfg_base(&cfg);
	cfg.nat.port_hold_down = 0; /* hold-down: test_behaviour.c */
	pb_cfg_lease(&cfg, "a", SH_LEASE_NAT, LEASE_LO, LEASE_HI,
		     PB_IP(10, 0, 0, 0), 16);
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

/* Build the lease set and @n workers (ids 0..n-1 of n) with @max_flows. */
static struct nat_worker *start(unsigned n, uint32_t max_flows)
{
	pb_cfg_shared_ports(&cfg);
	assert_int_equal(nat_lease_set_from_config(&ls, &cfg), 0);
	for (unsigned i = 0; i < n; i++) {
		struct nat_params p = pb_params(&cfg, i, n, max_flows);

		workers[i] = nat_worker_create(&p);
		assert_non_null(workers[i]);
		workers[i]->now = 1000;
	}
	return workers[0];
}

/* One packet client:cport -> dst:dport through in2out on @w. On SH_OK,
 * checks the source became the slice and returns the port in @port. */
static unsigned send_pkt(struct nat_worker *w, const struct pb_spec *s,
		     uint16_t *port)
{
	static uint8_t frame[PB_MAX_FRAME];
	size_t len = pb_build(frame, s);
	unsigned r = pb_in2out(w, &ls, frame, len);

	if (r == SH_OK) {
		assert_int_equal(pb_get32(frame + PB_ETH_LEN + 12), PB_SLICE);
		if (port)
			*port = pb_get16(frame + PB_ETH_LEN + 20);
	}
	return r;
}

static unsigned udp(struct nat_worker *w, uint32_t client, uint16_t cport,
		    uint32_t dst, uint16_t dport, uint16_t *port)
{
	struct pb_spec s = pb_udp(client, cport, dst, dport);

	return send_pkt(w, &s, port);
}

/* ---- where ports come from -------------------------------------------- */

/* Whatever the destinations, every port handed out lies in the lease. */
static void test_ports_translated_ports_stay_inside_lease(void **state)
{
	struct nat_worker *w;
	struct pb_rng r = { 0xa11ce };

	(void)state;
	cfg.leases[0].hi = 10999;
	w = start(1, 4096);
	for (unsigned i = 0; i < 3000; i++) {
		uint16_t port;
		unsigned v = udp(w, CLIENT(1 + pb_rand(&r) % 4000),
				 (uint16_t)(1024 + pb_rand(&r) % 60000),
				 DEST(pb_rand(&r) % 8), 53, &port);

		if (v == SH_DROP_PORTS_EXHAUSTED)
			continue;
		assert_int_equal(v, SH_OK);
		assert_in_range(port, 10000, 10999);
	}
	assert_true(nat_flow_count(w) > 2900);
}

/* No two live flows share an outside 5-tuple (slice, port, remote,
 * remote port, proto): otherwise a reply could not tell them apart. */
static void test_ports_outside_tuples_unique(void **state)
{
	static bool used[8][4][LEASE_N];
	struct nat_worker *w;
	unsigned ok = 0;

	(void)state;
	memset(used, 0, sizeof(used));
	w = start(1, 1024);
	for (unsigned i = 0; i < 8 * 4 * LEASE_N; i++) {
		unsigned d = i % 8, dp = (i / 8) % 4;
		uint16_t port;

		assert_int_equal(udp(w, CLIENT(1 + i), 5000, DEST(d),
				     (uint16_t)(53 + dp), &port),
				 SH_OK);
		if (used[d][dp][port - LEASE_LO])
			fail_msg("tuple %u:%u to dest %u:%u handed out twice",
				 PB_SLICE, port, d, 53 + dp);
		used[d][dp][port - LEASE_LO] = true;
		ok++;
	}
	/* every tuple is taken now: one more to any of them is refused */
	assert_int_equal(ok, nat_flow_count(w));
	assert_int_equal(udp(w, CLIENT(9999), 5000, DEST(3), 54, NULL),
			 SH_DROP_PORTS_EXHAUSTED);
}

/* 40 flows to ONE destination from a 16-port lease: exactly 16 get a
 * port, each a different one, and the other 24 are PORTS_EXHAUSTED. */
static void test_ports_one_destination_exhausts_lease(void **state)
{
	bool seen[LEASE_N] = { false };
	struct nat_worker *w;
	unsigned ok = 0, exhausted = 0;

	(void)state;
	w = start(1, 1024);
	for (unsigned i = 0; i < 40; i++) {
		uint16_t port;
		unsigned v = udp(w, CLIENT(1 + i), (uint16_t)(4000 + i),
				 PB_REMOTE, 53, &port);

		if (v == SH_OK) {
			assert_false(seen[port - LEASE_LO]);
			seen[port - LEASE_LO] = true;
			ok++;
		} else {
			assert_int_equal(v, SH_DROP_PORTS_EXHAUSTED);
			exhausted++;
		}
	}
	assert_int_equal(ok, 16);
	assert_int_equal(exhausted, 24);
	assert_int_equal(nat_flow_count(w), 16);
	/* the lease's own count of refusals (lease "a" is static id 1) */
	assert_int_equal(nat_lease_exhausted(w, 1), 24);
	assert_int_equal(nat_lease_exhausted(w, 2), 0);
}

/* The same 40 flows to 40 destinations all translate: a port is reused
 * towards different destinations (RFC 7857 §3), so some port must carry
 * several flows. */
static void test_ports_overlap_across_destinations(void **state)
{
	unsigned uses[LEASE_N] = { 0 }, most = 0;
	struct nat_worker *w;

	(void)state;
	w = start(1, 1024);
	for (unsigned i = 0; i < 40; i++) {
		uint16_t port;

		assert_int_equal(udp(w, CLIENT(1 + i), (uint16_t)(4000 + i),
				     DEST(i), 53, &port),
				 SH_OK);
		uses[port - LEASE_LO]++;
	}
	for (unsigned i = 0; i < LEASE_N; i++)
		most = uses[i] > most ? uses[i] : most;
	assert_true(most >= 3); /* pigeonhole: 40 flows, 16 ports */
	assert_int_equal(nat_flow_count(w), 40);
}

/* A worker's share no larger than NAT_PORT_ATTEMPTS is searched in full:
 * whichever single port of a full 16-port lease frees up (here by
 * expiry, while the other 15 flows stay fresh), the next flow to the same
 * destination finds it, wherever it lies in the search order. */
static void test_ports_small_lease_searched_exhaustively(void **state)
{
	const uint32_t t_expire = 1000 + cfg.nat.udp_timeout * 1000;

	(void)state;
	for (unsigned j = 0; j < LEASE_N; j++) {
		uint16_t ports[LEASE_N], port;
		struct nat_worker *w;

		w = start(1, 256);
		for (unsigned i = 0; i < LEASE_N; i++)
			assert_int_equal(udp(w, CLIENT(1 + i), 4000, PB_REMOTE,
					     53, &ports[i]),
					 SH_OK);
		w->now = 2000; /* refresh all but flow j */
		for (unsigned i = 0; i < LEASE_N; i++)
			if (i != j)
				assert_int_equal(udp(w, CLIENT(1 + i), 4000,
						     PB_REMOTE, 53, NULL),
						 SH_OK);
		w->now = t_expire;
		assert_int_equal(udp(w, CLIENT(100), 4000, PB_REMOTE, 53, &port),
				 SH_OK);
		assert_int_equal(port, ports[j]);
		teardown(state);
	}
}

/* A lease larger than the per-flow search budget (NAT_PORT_ATTEMPTS) still
 * fills completely towards one destination: the per-destination offset
 * (RFC 6056 alg. 4) starts each search past the previous allocation. */
static void test_ports_large_lease_fills_for_one_destination(void **state)
{
	static bool seen[1000];
	struct nat_worker *w;

	(void)state;
	memset(seen, 0, sizeof(seen));
	cfg.leases[0].hi = 10999;
	w = start(1, 2048);
	for (unsigned i = 0; i < 1000; i++) {
		uint16_t port;

		assert_int_equal(udp(w, CLIENT(1 + i), 4000, PB_REMOTE, 443,
				     &port),
				 SH_OK);
		assert_false(seen[port - 10000]);
		seen[port - 10000] = true;
	}
	assert_int_equal(udp(w, CLIENT(2000), 4000, PB_REMOTE, 443, NULL),
			 SH_DROP_PORTS_EXHAUSTED);
}

/* ---- per-client cap --------------------------------------------------- */

/* max_ports_per_client 4: a client's 5th flow is refused (others are not
 * affected, nor are its existing flows); once one of its flows expired
 * and was swept, a new one is allowed again. */
static void test_ports_client_cap_refuses_fifth_flow(void **state)
{
	struct nat_worker *w;
	const uint32_t c = CLIENT(7);

	(void)state;
	cfg.nat.max_ports_per_client = 4;
	w = start(1, 256);
	w->now = 1000;
	assert_int_equal(udp(w, c, 1, PB_REMOTE, 53, NULL), SH_OK);
	w->now = 100000;
	for (uint16_t p = 2; p <= 4; p++)
		assert_int_equal(udp(w, c, p, PB_REMOTE, 53, NULL), SH_OK);
	assert_int_equal(nat_client_flows(w, htonl(c)), 4);
	assert_int_equal(udp(w, c, 5, PB_REMOTE, 53, NULL),
			 SH_DROP_CLIENT_PORT_CAP);
	assert_int_equal(udp(w, c, 5, DEST(1), 53, NULL),
			 SH_DROP_CLIENT_PORT_CAP);
	assert_int_equal(udp(w, c, 2, PB_REMOTE, 53, NULL), SH_OK);
	assert_int_equal(udp(w, CLIENT(8), 5, PB_REMOTE, 53, NULL), SH_OK);

	/* flow 1 expires (udp_timeout after t=1s); flows 2-4 are younger */
	w->now = 1000 + cfg.nat.udp_timeout * 1000;
	assert_int_equal(nat_expire(w, 256), 1);
	assert_int_equal(nat_client_flows(w, htonl(c)), 3);
	assert_int_equal(udp(w, c, 5, PB_REMOTE, 53, NULL), SH_OK);
	assert_int_equal(udp(w, c, 6, PB_REMOTE, 53, NULL),
			 SH_DROP_CLIENT_PORT_CAP);
}

/* ---- which lease ------------------------------------------------------ */

/* A client no nat lease selects gets NO_LEASE, whatever the protocol; so
 * does a client whose only lease is draining. */
static void test_ports_unmatched_client_has_no_lease(void **state)
{
	struct pb_spec tcp = pb_tcp(PB_IP(172, 16, 0, 1), 4000, PB_REMOTE, 80,
				    PB_SYN);
	struct pb_spec icmp = pb_icmp(PB_IP(172, 16, 0, 1), PB_REMOTE, 8, 0,
				      77, 1);
	struct nat_worker *w;

	(void)state;
	pb_cfg_lease(&cfg, "sock", SH_LEASE_SOCKET, 11000, 11099, 0, 0);
	w = start(1, 256);
	assert_int_equal(udp(w, PB_IP(172, 16, 0, 1), 4000, PB_REMOTE, 53, NULL),
			 SH_DROP_NO_LEASE);
	assert_int_equal(udp(w, PB_IP(10, 1, 0, 1), 4000, PB_REMOTE, 53, NULL),
			 SH_DROP_NO_LEASE);
	assert_int_equal(send_pkt(w, &tcp, NULL), SH_DROP_NO_LEASE);
	assert_int_equal(send_pkt(w, &icmp, NULL), SH_DROP_NO_LEASE);
	assert_int_equal(nat_flow_count(w), 0);

	ls.leases[0].state = NAT_LEASE_DRAINING;
	assert_int_equal(udp(w, CLIENT(5), 4000, PB_REMOTE, 53, NULL),
			 SH_DROP_NO_LEASE);
}

/* Lease "b" (10.0.1.0/24, listed after "a"'s /16) wins for its clients;
 * when its 4 ports are exhausted towards a destination, the next matching
 * lease ("a") serves; when both are, PORTS_EXHAUSTED. A draining "b" is
 * skipped. */
static void test_ports_most_specific_lease_then_next(void **state)
{
	struct nat_worker *w;
	uint16_t port;

	(void)state;
	pb_cfg_lease(&cfg, "b", SH_LEASE_NAT, 11000, 11003, PB_IP(10, 0, 1, 0),
		     24);
	w = start(1, 256);

	assert_int_equal(udp(w, PB_IP(10, 0, 2, 9), 4000, PB_REMOTE, 53, &port),
			 SH_OK);
	assert_in_range(port, LEASE_LO, LEASE_HI);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(udp(w, PB_IP(10, 0, 1, 1 + i), 4000, PB_REMOTE,
				     53, &port),
				 SH_OK);
		assert_in_range(port, 11000, 11003);
	}
	for (unsigned i = 0; i < LEASE_N - 1; i++) {
		assert_int_equal(udp(w, PB_IP(10, 0, 1, 100 + i), 4000,
				     PB_REMOTE, 53, &port),
				 SH_OK);
		assert_in_range(port, LEASE_LO, LEASE_HI);
	}
	assert_int_equal(udp(w, PB_IP(10, 0, 1, 200), 4000, PB_REMOTE, 53, NULL),
			 SH_DROP_PORTS_EXHAUSTED);
	/* another destination: "b" has ports again */
	assert_int_equal(udp(w, PB_IP(10, 0, 1, 200), 4000, DEST(1), 53, &port),
			 SH_OK);
	assert_in_range(port, 11000, 11003);

	ls.leases[1].state = NAT_LEASE_DRAINING;
	assert_int_equal(udp(w, PB_IP(10, 0, 1, 201), 4000, DEST(2), 53, &port),
			 SH_OK);
	assert_in_range(port, LEASE_LO, LEASE_HI);
}

/* ---- table and TCP ---------------------------------------------------- */

/* max_flows 8: the 9th flow is TABLE_FULL even with ports to spare. */
static void test_ports_table_full_refuses_new_flow(void **state)
{
	struct nat_worker *w;

	(void)state;
	w = start(1, 8);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(udp(w, CLIENT(1 + i), 4000, DEST(i), 53, NULL),
				 SH_OK);
	assert_int_equal(udp(w, CLIENT(20), 4000, DEST(20), 53, NULL),
			 SH_DROP_TABLE_FULL);
	/* existing flows still pass */
	assert_int_equal(udp(w, CLIENT(1), 4000, DEST(0), 53, NULL), SH_OK);
	assert_int_equal(nat_flow_count(w), 8);
}

/* Only a connection opening (SYN without ACK or RST) may claim a port:
 * any other first segment is TCP_NOT_SYN and creates nothing. */
static void test_ports_tcp_first_segment_must_be_syn(void **state)
{
	static const uint8_t flags[] = { PB_ACK, PB_SYN | PB_ACK, PB_RST,
					 PB_RST | PB_ACK, PB_FIN | PB_ACK,
					 PB_PSH | PB_ACK, 0 };
	struct pb_spec s = pb_tcp(CLIENT(1), 40000, PB_REMOTE, 443, 0);
	struct nat_worker *w;
	uint16_t port, again;

	(void)state;
	w = start(1, 256);
	for (size_t i = 0; i < sizeof(flags); i++) {
		s.tcp_flags = flags[i];
		if (send_pkt(w, &s, NULL) != SH_DROP_TCP_NOT_SYN)
			fail_msg("first segment with flags %02x not refused",
				 flags[i]);
	}
	assert_int_equal(nat_flow_count(w), 0);
	s.tcp_flags = PB_SYN;
	assert_int_equal(send_pkt(w, &s, &port), SH_OK);
	s.tcp_flags = PB_ACK;
	assert_int_equal(send_pkt(w, &s, &again), SH_OK);
	assert_int_equal(port, again);
	assert_int_equal(nat_flow_count(w), 1);
}

/* ---- ports belong to workers ------------------------------------------ */

/* Without RSS, worker id owns exactly the ports p with p % n == id, so
 * the workers' shares partition every range. */
static void test_ports_worker_shares_partition_lease(void **state)
{
	static struct nat_worker fake;

	(void)state;
	for (unsigned n = 1; n <= SH_CFG_MAX_WORKERS; n++) {
		fake.n_workers = n;
		for (uint32_t p = 0; p <= 65535; p += 7) {
			unsigned owners = 0;

			for (unsigned id = 0; id < n; id++) {
				fake.id = id;
				if (nat_worker_owns_port(&fake, 0, htons((uint16_t)p),
							 PB_UDP)) {
					assert_int_equal(p % n, id);
					owners++;
				}
			}
			assert_int_equal(owners, 1);
		}
	}
}

/* Two workers (n_workers 2) on one lease set, each filling its share
 * towards one destination: worker 0 gets the 8 even ports, worker 1 the 8
 * odd ones, never the same port, and together the whole lease. */
static void test_ports_two_workers_never_share_port(void **state)
{
	unsigned owner[LEASE_N];

	(void)state;
	memset(owner, 0xff, sizeof(owner));
	start(2, 256);
	for (unsigned id = 0; id < 2; id++) {
		unsigned ok = 0;

		for (unsigned i = 0; i < 20; i++) {
			uint16_t port;
			unsigned v = udp(workers[id], CLIENT(1 + i), 4000,
					 PB_REMOTE, 53, &port);

			if (v != SH_OK) {
				assert_int_equal(v, SH_DROP_PORTS_EXHAUSTED);
				continue;
			}
			assert_int_equal(port % 2, id);
			assert_int_equal(owner[port - LEASE_LO], 0xffffffffu);
			owner[port - LEASE_LO] = id;
			ok++;
		}
		assert_int_equal(ok, LEASE_N / 2);
	}
	for (unsigned i = 0; i < LEASE_N; i++)
		assert_int_not_equal(owner[i], 0xffffffffu);
}

/* Three workers on random traffic: every allocation stays in the owner's
 * share (p % 3 == id), so return traffic can be steered by port alone. */
static void test_ports_allocations_stay_in_worker_share(void **state)
{
	struct pb_rng r = { 0xb0b };
	unsigned ok = 0;

	(void)state;
	cfg.leases[0].hi = 10999;
	start(3, 1024);
	for (unsigned i = 0; i < 1500; i++) {
		unsigned id = pb_rand(&r) % 3;
		uint16_t port;

		if (udp(workers[id], CLIENT(1 + pb_rand(&r) % 3000), 4000,
			DEST(pb_rand(&r) % 4), 53, &port) != SH_OK)
			continue;
		assert_int_equal(port % 3, id);
		assert_in_range(port, 10000, 10999);
		ok++;
	}
	assert_true(ok > 1400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_ports_translated_ports_stay_inside_lease),
		T(test_ports_outside_tuples_unique),
		T(test_ports_one_destination_exhausts_lease),
		T(test_ports_overlap_across_destinations),
		T(test_ports_small_lease_searched_exhaustively),
		T(test_ports_large_lease_fills_for_one_destination),
		T(test_ports_client_cap_refuses_fifth_flow),
		T(test_ports_unmatched_client_has_no_lease),
		T(test_ports_most_specific_lease_then_next),
		T(test_ports_table_full_refuses_new_flow),
		T(test_ports_tcp_first_segment_must_be_syn),
		T(test_ports_worker_shares_partition_lease),
		T(test_ports_two_workers_never_share_port),
		T(test_ports_allocations_stay_in_worker_share),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
