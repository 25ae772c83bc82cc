/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for steering (engine/nat/steer.c): the Toeplitz hash against
 * the published verification vectors, the RSS-aware port choice (every
 * chosen port's return tuple hashes to the choosing worker, within the
 * lease and the search budget), and the owner of each kind of packet
 * (nat_pkt_owner(), owner.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nat/owner.h"
#include "pkt_build.h"

/* The key of Microsoft's RSS verification suite (and many NICs' default). */
static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

#define N_WORKERS 4
#define RETA_SIZE 128

static struct nat_steer rss_out, soft_in;
static struct sh_config cfg;
static struct nat_lease_set ls;
static struct nat_worker *workers[N_WORKERS];

static void round_robin(uint16_t *reta, unsigned size, unsigned n)
{
	for (unsigned i = 0; i < size; i++)
		reta[i] = (uint16_t)(i % n);
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < N_WORKERS; i++) {
		nat_worker_destroy(workers[i]);
		workers[i] = NULL;
	}
	return 0;
}

/* N_WORKERS workers on one nat lease [lo, hi] steered by @out. */
static void start(uint16_t lo, uint16_t hi, const struct nat_steer *out)
{
	pb_cfg_base(&cfg);
	pb_cfg_lease(&cfg, "a", SH_LEASE_NAT, lo, hi, PB_IP(10, 0, 0, 0), 8);
	pb_cfg_shared_ports(&cfg);
	assert_int_equal(nat_lease_set_from_config(&ls, &cfg), 0);
	nat_steer_soft(&soft_in, N_WORKERS);
	for (unsigned i = 0; i < N_WORKERS; i++) {
		struct nat_params p = pb_params(&cfg, i, N_WORKERS, 65536);

		p.steer = out;
		workers[i] = nat_worker_create(&p);
		assert_non_null(workers[i]);
		workers[i]->now = 1000;
	}
}

/* ---- Toeplitz ------------------------------------------------------------ */

/* The verification suite's five IPv4 cases: source, destination, ports,
 * and the hash over the addresses alone and with the TCP ports. */
static void test_toeplitz_matches_verification_vectors(void **state)
{
	static const struct {
		uint8_t src[4], dst[4];
		uint16_t sport, dport;
		uint32_t ip_only, with_ports;
	} v[] = {
		{ { 66, 9, 149, 187 }, { 161, 142, 100, 80 }, 2794, 1766,
		  0x323e8fc2, 0x51ccc178 },
		{ { 199, 92, 111, 2 }, { 65, 69, 140, 83 }, 14230, 4739,
		  0xd718262a, 0xc626b0ea },
		{ { 24, 19, 198, 95 }, { 12, 22, 207, 184 }, 12898, 38024,
		  0xd2d0a5de, 0x5c2b394a },
		{ { 38, 27, 205, 30 }, { 209, 142, 163, 6 }, 48228, 2217,
		  0x82989176, 0xafc7327f },
		{ { 153, 39, 163, 191 }, { 202, 188, 127, 2 }, 44251, 1303,
		  0x5d1809c5, 0x10e828a2 },
	};
	uint16_t reta[RETA_SIZE];

	(void)state;
	round_robin(reta, RETA_SIZE, N_WORKERS);
	assert_int_equal(nat_steer_rss(&rss_out, N_WORKERS, NAT_RSS_INPUT_OUT,
				       ms_key, sizeof(ms_key), reta, RETA_SIZE), 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t in[12];

		memcpy(in, v[i].src, 4);
		memcpy(in + 4, v[i].dst, 4);
		in[8] = (uint8_t)(v[i].sport >> 8);
		in[9] = (uint8_t)v[i].sport;
		in[10] = (uint8_t)(v[i].dport >> 8);
		in[11] = (uint8_t)v[i].dport;
		assert_int_equal(nat_toeplitz(&rss_out, in, 8), v[i].ip_only);
		assert_int_equal(nat_toeplitz(&rss_out, in, 12), v[i].with_ports);
	}
}

static void test_steer_rejects_what_it_cannot_model(void **state)
{
	uint16_t reta[RETA_SIZE];

	(void)state;
	round_robin(reta, RETA_SIZE, N_WORKERS);
	/* A key too short for the input, a table that is not a power of two
	 * or too large, an entry naming a queue no worker has. */
	assert_int_equal(nat_steer_rss(&rss_out, N_WORKERS, NAT_RSS_INPUT_OUT,
				       ms_key, 15, reta, RETA_SIZE), -EINVAL);
	assert_int_equal(nat_steer_rss(&rss_out, N_WORKERS, NAT_RSS_INPUT_OUT,
				       ms_key, 40, reta, 100), -EINVAL);
	assert_int_equal(nat_steer_rss(&rss_out, N_WORKERS, NAT_RSS_INPUT_OUT,
				       ms_key, 40, reta, NAT_RETA_MAX * 2), -EINVAL);
	assert_int_equal(nat_steer_rss(&rss_out, N_WORKERS - 1, NAT_RSS_INPUT_OUT,
				       ms_key, 40, reta, RETA_SIZE), -EINVAL);
	assert_int_equal(nat_steer_rss(&rss_out, N_WORKERS, 8, ms_key, 40, reta,
				       RETA_SIZE), -EINVAL);
}

/* ---- RSS-aware port choice ----------------------------------------------- */

static void rss_start(uint16_t lo, uint16_t hi)
{
	uint16_t reta[RETA_SIZE];

	round_robin(reta, RETA_SIZE, N_WORKERS);
	assert_int_equal(nat_steer_rss(&rss_out, N_WORKERS, NAT_RSS_INPUT_OUT,
				       ms_key, sizeof(ms_key), reta, RETA_SIZE), 0);
	start(lo, hi, &rss_out);
}

/* Parse @frame as received on the outside (or inside) and ask its owner. */
static int owner_of(uint8_t *frame, size_t len, bool out2in)
{
	struct nat_pkt p;

	assert_int_equal(nat_parse(&p, frame, (uint32_t)len, false), SH_OK);
	return nat_pkt_owner(&soft_in, &rss_out, &p, out2in);
}

/*
 * 4,000 TCP and UDP flows from many clients to many destinations, each
 * created by its client's worker: every outside port lies in the lease,
 * the NIC's hash of the return tuple names the creating worker (all of
 * them, not most), the engine's owner of the reply agrees, and the reply
 * is translated back by that worker to the client's exact tuple.
 */
static void test_rss_every_return_tuple_hashes_to_its_creator(void **state)
{
	static uint8_t frame[PB_MAX_FRAME];
	struct pb_rng r = { 12345 };
	unsigned per_worker[N_WORKERS] = { 0 };

	(void)state;
	rss_start(10001, 11999);
	for (unsigned i = 0; i < 4000; i++) {
		uint32_t client = PB_IP(10, 0, pb_rand(&r) % 256, 1 + pb_rand(&r) % 254);
		uint32_t dst = PB_IP(203, 0, 113, 1 + pb_rand(&r) % 8);
		uint16_t cport = (uint16_t)(1024 + pb_rand(&r) % 60000);
		uint16_t dport = (uint16_t)(pb_rand(&r) % 3 ? 443 : 53);
		bool tcp = pb_rand(&r) & 1;
		struct pb_spec s = tcp ? pb_tcp(client, cport, dst, dport, PB_SYN)
				       : pb_udp(client, cport, dst, dport);
		unsigned w = nat_owner_client(&soft_in, htonl(client));
		uint16_t port;
		size_t len;

		len = pb_build(frame, &s);
		assert_int_equal(owner_of(frame, len, false), (int)w);
		/* (A client tuple drawn twice is the same flow: SH_OK too.) */
		assert_int_equal(pb_in2out(workers[w], &ls, frame, len), SH_OK);
		port = pb_get16(frame + PB_ETH_LEN + 20);
		assert_in_range(port, 10001, 11999);
		assert_int_equal(nat_owner_out(&rss_out, htonl(PB_SLICE), htons(port),
					       htonl(dst), htons(dport),
					       tcp ? PB_TCP : PB_UDP), w);
		per_worker[w]++;

		s = tcp ? pb_tcp(dst, dport, PB_SLICE, port, PB_SYN | PB_ACK)
			: pb_udp(dst, dport, PB_SLICE, port);
		len = pb_build(frame, &s);
		assert_int_equal(owner_of(frame, len, true), (int)w);
		assert_int_equal(pb_out2in(workers[w], &ls, frame, len), SH_OK);
		assert_int_equal(pb_get32(frame + PB_ETH_LEN + 16), client);
		assert_int_equal(pb_get16(frame + PB_ETH_LEN + 22), cport);
	}
	for (unsigned w = 0; w < N_WORKERS; w++)
		assert_true(per_worker[w] > 500); /* every worker took its share */
}

/*
 * A 16-port lease towards one destination: the search covers the whole
 * range (it is within the budget), so worker w gets exactly the ports
 * whose return tuple hashes to it, no more (another worker owns the rest)
 * and no fewer (no false "exhausted"), then ports_exhausted.
 */
static void test_rss_small_lease_gives_each_worker_exactly_its_ports(void **state)
{
	static uint8_t frame[PB_MAX_FRAME];
	uint32_t dst = PB_IP(203, 0, 113, 80);
	unsigned total = 0;

	(void)state;
	rss_start(10000, 10015);
	for (unsigned w = 0; w < N_WORKERS; w++) {
		unsigned owned = 0, got = 0, v;

		for (uint32_t p = 10000; p <= 10015; p++)
			owned += nat_owner_out(&rss_out, htonl(PB_SLICE),
					       htons((uint16_t)p), htonl(dst),
					       htons(443), PB_TCP) == w;
		for (unsigned i = 0; i < 16; i++) {
			struct pb_spec s = pb_tcp(PB_IP(10, 0, 1, 1 + i), 5000, dst,
						  443, PB_SYN);
			size_t len = pb_build(frame, &s);

			v = pb_in2out(workers[w], &ls, frame, len);
			if (v != SH_OK) {
				assert_int_equal(v, SH_DROP_PORTS_EXHAUSTED);
				break;
			}
			got++;
		}
		assert_int_equal(got, owned);
		total += got;
	}
	assert_int_equal(total, 16);
}

/* A redirection table that gives worker 1 nothing: worker 1 creates no
 * flow at all (it never takes a port another worker would receive). */
static void test_rss_worker_without_queue_entries_creates_nothing(void **state)
{
	static uint8_t frame[PB_MAX_FRAME];
	uint16_t reta[RETA_SIZE];

	(void)state;
	for (unsigned i = 0; i < RETA_SIZE; i++)
		reta[i] = i % 2 ? 0 : 2;
	assert_int_equal(nat_steer_rss(&rss_out, N_WORKERS, NAT_RSS_INPUT_OUT,
				       ms_key, sizeof(ms_key), reta, RETA_SIZE), 0);
	start(10000, 12047, &rss_out);
	for (unsigned i = 0; i < 50; i++) {
		struct pb_spec s = pb_udp(PB_IP(10, 0, 2, 1 + i), 7000,
					  PB_IP(203, 0, 113, 1 + i), 53);
		size_t len = pb_build(frame, &s);

		assert_int_equal(pb_in2out(workers[1], &ls, frame, len),
				 SH_DROP_PORTS_EXHAUSTED);
		assert_int_equal(pb_in2out(workers[0], &ls, frame, len), SH_OK);
	}
	assert_int_equal(nat_flow_count(workers[1]), 0);
}

/* ---- owners of each kind of packet (no RSS) ------------------------------ */

static int soft_owner(const struct pb_spec *s, bool out2in)
{
	static uint8_t frame[PB_MAX_FRAME];
	size_t len = pb_build(frame, s);
	struct nat_pkt p;

	assert_int_equal(nat_parse(&p, frame, (uint32_t)len, false), SH_OK);
	return nat_pkt_owner(&soft_in, &rss_out, &p, out2in);
}

/* An ICMP error from @from to @to quoting @quoted (its first 28 bytes). */
static struct pb_spec icmp_error(uint32_t from, uint32_t to,
				 const struct pb_spec *quoted, uint8_t *buf)
{
	size_t qlen = pb_build(buf, quoted);
	struct pb_spec e = pb_icmp(from, to, 3, 3, 0, 0);

	(void)qlen;
	e.payload = buf + PB_ETH_LEN;
	e.payload_len = 28;
	return e;
}

static void test_owner_of_every_packet_kind(void **state)
{
	static uint8_t q[PB_MAX_FRAME];
	uint32_t client = PB_IP(10, 0, 7, 9);
	unsigned c = nat_owner_client(&soft_in, htonl(client));
	struct pb_spec s, quoted;

	(void)state;
	start(10000, 12047, NULL);
	nat_steer_soft(&rss_out, N_WORKERS);

	/* Inside: client traffic and errors about packets sent to it belong
	 * to the client's worker, and so does what it sends to Linux. */
	s = pb_udp(client, 999, PB_REMOTE, 53);
	assert_int_equal(soft_owner(&s, false), (int)c);
	s = pb_icmp(client, PB_REMOTE, 8, 0, 77, 1);
	assert_int_equal(soft_owner(&s, false), (int)c);
	quoted = pb_udp(PB_REMOTE, 53, client, 999);
	s = icmp_error(client, PB_REMOTE, &quoted, q);
	assert_int_equal(soft_owner(&s, false), (int)c);
	s = icmp_error(PB_IP(10, 0, 0, 254), PB_REMOTE, &quoted, q);
	assert_int_equal(soft_owner(&s, false), (int)c); /* a router inside */
	s = pb_udp(client, 999, PB_HOST_IN, 53);
	assert_int_equal(soft_owner(&s, false), (int)c);
	s = pb_icmp(client, PB_REMOTE, 13, 0, 77, 1); /* timestamp: unsupported */
	assert_int_equal(soft_owner(&s, false), -1);

	/* Outside: by the outside port (echo id), quoted ones included. */
	s = pb_tcp(PB_REMOTE, 443, PB_SLICE, 10007, PB_ACK);
	assert_int_equal(soft_owner(&s, true), 10007 % N_WORKERS);
	s = pb_icmp(PB_REMOTE, PB_SLICE, 0, 0, 10010, 1);
	assert_int_equal(soft_owner(&s, true), 10010 % N_WORKERS);
	quoted = pb_udp(PB_SLICE, 10005, PB_REMOTE, 53);
	s = icmp_error(PB_ROUTER, PB_SLICE, &quoted, q);
	assert_int_equal(soft_owner(&s, true), 10005 % N_WORKERS);
	quoted = pb_icmp(PB_SLICE, PB_REMOTE, 8, 0, 10011, 1);
	s = icmp_error(PB_ROUTER, PB_SLICE, &quoted, q);
	assert_int_equal(soft_owner(&s, true), 10011 % N_WORKERS);
	/* Linux's packets by the same rules: the owner punts them. */
	s = pb_icmp(PB_REMOTE, PB_SLICE, 8, 0, 10010, 1); /* ping the host */
	assert_int_equal(soft_owner(&s, true), 10010 % N_WORKERS);
	s = pb_udp(PB_REMOTE, 53, PB_HOST_OUT, 10007);
	assert_int_equal(soft_owner(&s, true), 10007 % N_WORKERS);
	/* An error whose quote is too short to name a flow: anyone's. */
	quoted = pb_udp(PB_SLICE, 10005, PB_REMOTE, 53);
	s = icmp_error(PB_ROUTER, PB_SLICE, &quoted, q);
	s.payload_len = 20;
	assert_int_equal(soft_owner(&s, true), -1);
}

/* Without RSS every client has one owner and the owners spread: no
 * worker gets more than twice its fair share of 10,000 addresses. */
static void test_soft_client_owner_spreads_clients(void **state)
{
	unsigned count[N_WORKERS] = { 0 };

	(void)state;
	nat_steer_soft(&soft_in, N_WORKERS);
	for (uint32_t i = 0; i < 10000; i++)
		count[nat_owner_client(&soft_in, htonl(PB_IP(10, 0, 0, 0) + i))]++;
	for (unsigned w = 0; w < N_WORKERS; w++)
		assert_in_range(count[w], 10000 / N_WORKERS / 2,
				2 * 10000 / N_WORKERS);
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, teardown)
	const struct CMUnitTest tests[] = {
		T(test_toeplitz_matches_verification_vectors),
		T(test_steer_rejects_what_it_cannot_model),
		T(test_rss_every_return_tuple_hashes_to_its_creator),
		T(test_rss_small_lease_gives_each_worker_exactly_its_ports),
		T(test_rss_worker_without_queue_entries_creates_nothing),
		T(test_owner_of_every_packet_kind),
		T(test_soft_client_owner_spreads_clients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
