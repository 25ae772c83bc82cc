/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the fleet (docs/FLEET.md "Return traffic to the
 * owner"): the owner table (engine/nat/fleet.c, lease.c) and its lookup
 * at slice boundaries for many slice sizes, the tunnel's outer headers
 * built and checked on byte buffers, the owner of ICMP errors from
 * their quote, the in2out fence of nat_in2out(), and the engine's
 * reading of shoal-ctld's fleet map with its fence deadline
 * (engine/ctl_leases.c).
 *
 * DPDK's RCU library is linked (ctl_leases.c publishes through it) but
 * no EAL is started: with no registered reader, publishing returns at
 * once.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <rte_rcu_qsbr.h>

#include "ctl_leases.h"
#include "ctl_link.h"
#include "nat/nat.h"
#include "pkt_build.h"

int sh_logtype_ctl; /* registered by ctl_client.c in the engine */

/* Two hosts of one fleet: a (this host in most tests) and b, sharing
 * two pool addresses, ports 10000-16143 in 2048-port slices: three
 * slices per address, six in all. */
#define SELF PB_IP(192, 0, 2, 2)
#define PEER_B PB_IP(192, 0, 2, 6)
#define PEER_C PB_IP(192, 0, 2, 10)
#define POOL0 PB_IP(198, 51, 100, 10)
#define POOL1 PB_IP(198, 51, 100, 11)
#define LO 10000
#define HI 16143
#define SIZE 2048
#define TUNNEL_PORT 6080
#define CLIENT PB_IP(10, 1, 1, 5)

static struct sh_config cfg;

/* A fleet config for host @host at @self: [fleet] over the two pool
 * addresses, and cfg.slices holding them as the loader does. */
static void fleet_cfg(struct sh_config *c, const char *host, uint32_t self,
		      uint16_t lo, uint16_t hi, uint32_t size)
{
	pb_cfg_base(c);
	c->outside.address_host = self;
	c->fleet.enabled = true;
	snprintf(c->fleet.host, sizeof(c->fleet.host), "%s", host);
	c->fleet.address = self;
	c->fleet.pool[0] = POOL0;
	c->fleet.pool[1] = POOL1;
	c->fleet.n_pool = 2;
	c->fleet.lo = lo;
	c->fleet.hi = hi;
	c->fleet.slice_size = size;
	c->fleet.port = TUNNEL_PORT;
	c->n_slices = 2;
	c->slices[0] = (struct sh_slice_cfg){ .ip = POOL0, .lo = lo, .hi = hi };
	c->slices[1] = (struct sh_slice_cfg){ .ip = POOL1, .lo = lo, .hi = hi };
}

static struct nat_lease_set *set_new(const struct sh_config *c)
{
	struct nat_lease_set *ls = malloc(sizeof(*ls));

	assert_non_null(ls);
	nat_lease_set_begin(ls, c, 1);
	return ls;
}

static int owner(const struct nat_lease_set *ls, uint32_t ip, uint16_t port)
{
	return nat_fleet_owner(ls, htonl(ip), htons(port));
}

/* ---- owner table ---- */

static void test_owner_table_slice_boundaries(void **state)
{
	struct nat_lease_set *ls;

	(void)state;
	fleet_cfg(&cfg, "a", SELF, LO, HI, SIZE);
	ls = set_new(&cfg);
	assert_true(ls->fleet);
	assert_int_equal(ls->fleet_per_ip, 3);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 10000, 12047, true, 0), 0);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 12048, 14095, false,
				       htonl(PEER_B)), 0);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL1), 14096, 16143, false,
				       htonl(PEER_B)), 0);
	nat_lease_set_finish(ls);
	assert_int_equal(ls->n_peers, 1);

	assert_int_equal(owner(ls, POOL0, 9999), -1);
	assert_int_equal(owner(ls, POOL0, 10000), NAT_FLEET_SELF);
	assert_int_equal(owner(ls, POOL0, 12047), NAT_FLEET_SELF);
	assert_int_equal(owner(ls, POOL0, 12048), NAT_FLEET_PEER);
	assert_int_equal(owner(ls, POOL0, 14095), NAT_FLEET_PEER);
	assert_int_equal(owner(ls, POOL0, 14096), NAT_FLEET_NONE);
	assert_int_equal(owner(ls, POOL0, 16143), NAT_FLEET_NONE);
	assert_int_equal(owner(ls, POOL0, 16144), -1);
	assert_int_equal(owner(ls, POOL1, 10000), NAT_FLEET_NONE);
	assert_int_equal(owner(ls, POOL1, 14095), NAT_FLEET_NONE);
	assert_int_equal(owner(ls, POOL1, 14096), NAT_FLEET_PEER);
	assert_int_equal(owner(ls, POOL1, 16143), NAT_FLEET_PEER);
	assert_int_equal(owner(ls, PB_IP(198, 51, 100, 12), 10000), -1);
	assert_int_equal(owner(ls, PB_REMOTE, 10000), -1);
	assert_int_equal(ls->fleet_peer[0], htonl(PEER_B));
	free(ls);
}

static void test_owner_table_refuses_what_is_not_a_slice(void **state)
{
	struct nat_lease_set *ls;

	(void)state;
	fleet_cfg(&cfg, "a", SELF, LO, HI, SIZE);
	ls = set_new(&cfg);
	/* not a pool address, not slice-aligned, not a whole slice, beyond
	 * the pool's ports */
	assert_int_equal(nat_fleet_add(ls, htonl(PB_REMOTE), 10000, 12047,
				       true, 0), -EINVAL);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 10001, 12048, true, 0),
			 -EINVAL);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 10000, 12046, true, 0),
			 -EINVAL);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 16144, 18191, true, 0),
			 -EINVAL);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 7952, 9999, true, 0),
			 -EINVAL);
	/* listed twice; a peer at our own address or at 0 */
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 10000, 12047, true, 0), 0);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 10000, 12047, false,
				       htonl(PEER_B)), -EINVAL);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 12048, 14095, false,
				       htonl(SELF)), -EINVAL);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 12048, 14095, false, 0),
			 -EINVAL);
	free(ls);
}

/* Peers added in descending address order come out sorted, each slice
 * still naming its own peer. */
static void test_owner_table_peers_sorted(void **state)
{
	static const uint32_t peers[] = { PEER_C, PEER_B, PB_IP(192, 0, 2, 3) };
	struct nat_lease_set *ls;
	unsigned k;

	(void)state;
	fleet_cfg(&cfg, "a", SELF, LO, HI, SIZE);
	ls = set_new(&cfg);
	for (k = 0; k < 3; k++)
		assert_int_equal(nat_fleet_add(ls, htonl(POOL1),
					       (uint16_t)(LO + k * SIZE),
					       (uint16_t)(LO + (k + 1) * SIZE - 1),
					       false, htonl(peers[k])), 0);
	nat_lease_set_finish(ls);
	assert_int_equal(ls->n_peers, 3);
	for (k = 1; k < 3; k++)
		assert_true(ntohl(ls->fleet_peer[k - 1]) <
			    ntohl(ls->fleet_peer[k]));
	for (k = 0; k < 3; k++) {
		int o = owner(ls, POOL1, (uint16_t)(LO + k * SIZE + 7));

		assert_true(o >= NAT_FLEET_PEER);
		assert_int_equal(ls->fleet_peer[o - NAT_FLEET_PEER],
				 htonl(peers[k]));
		assert_int_equal(nat_fleet_peer_index(ls, htonl(peers[k])),
				 o - NAT_FLEET_PEER);
	}
	assert_int_equal(nat_fleet_peer_index(ls, htonl(SELF)), -1);
	assert_int_equal(nat_fleet_peer_index(ls, htonl(PB_REMOTE)), -1);
	free(ls);
}

/* The reciprocal division against a real one, every port of the pool,
 * for slice sizes from 1 to 65535 (spans within the 4096-slice limit). */
static void test_owner_reciprocal_division(void **state)
{
	static const struct {
		uint16_t lo;
		uint32_t size, per_ip;
	} cases[] = {
		{ 1, 1, 2048 },     { 1024, 16, 2048 },  { 1, 17, 2048 },
		{ 1, 100, 655 },    { 500, 1000, 64 },   { 1024, 2048, 31 },
		{ 1, 3000, 21 },    { 3, 4095, 16 },     { 1, 32767, 2 },
		{ 1, 65535, 1 },    { 1, 21845, 3 },     { 1, 13107, 5 },
	};
	struct nat_lease_set *ls;
	unsigned c, k;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t size = cases[c].size, span = size * cases[c].per_ip;
		uint16_t lo = cases[c].lo, hi = (uint16_t)(lo + span - 1);
		uint32_t off;

		fleet_cfg(&cfg, "a", SELF, lo, hi, size);
		ls = set_new(&cfg);
		assert_int_equal(ls->fleet_per_ip, cases[c].per_ip);
		/* Each slice's owner value is its own global index: the
		 * lookup then returns the slice it computed. */
		for (k = 0; k < ls->n_fleet_slices; k++)
			ls->fleet_owner[k] = (uint16_t)k;
		for (off = 0; off < span; off++) {
			uint16_t port = (uint16_t)(lo + off);

			if (owner(ls, POOL0, port) != (int)(off / size) ||
			    owner(ls, POOL1, port) !=
				    (int)(cases[c].per_ip + off / size))
				fail_msg("size %u: port %u in slice %d, expected %u",
					 size, port, owner(ls, POOL0, port),
					 off / size);
		}
		if (lo > 1)
			assert_int_equal(owner(ls, POOL0, (uint16_t)(lo - 1)), -1);
		if (hi < 65535)
			assert_int_equal(owner(ls, POOL0, (uint16_t)(hi + 1)), -1);
		free(ls);
	}
}

/* ---- the tunnel ---- */

/* Host a's and host b's sets: a owns POOL0's first slice, b the second
 * (each one sees the other as its peer). */
static struct nat_lease_set *pair_set(bool a)
{
	struct nat_lease_set *ls;

	fleet_cfg(&cfg, a ? "a" : "b", a ? SELF : PEER_B, LO, HI, SIZE);
	ls = set_new(&cfg);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 10000, 12047, a,
				       a ? 0 : htonl(SELF)), 0);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 12048, 14095, !a,
				       a ? htonl(PEER_B) : 0), 0);
	nat_lease_set_finish(ls);
	return ls;
}

/* @frame (an Ethernet frame of @len bytes) encapsulated by @ls towards
 * @peer into @out, as the worker does: L2 kept in front. Its length. */
static size_t encap(uint8_t *out, const struct nat_lease_set *ls,
		    const uint8_t *frame, size_t len, uint32_t peer,
		    uint32_t hash)
{
	memcpy(out, frame, PB_ETH_LEN);
	nat_fleet_encap(out + PB_ETH_LEN, ls, htonl(peer),
			(uint16_t)(len - PB_ETH_LEN), hash);
	memcpy(out + PB_ETH_LEN + NAT_FLEET_OVERHEAD, frame + PB_ETH_LEN,
	       len - PB_ETH_LEN);
	return len + NAT_FLEET_OVERHEAD;
}

static void test_tunnel_encap_decap_round_trip(void **state)
{
	static const uint8_t data[] = "a payload carried to its owner";
	struct nat_lease_set *a = pair_set(true), *b = pair_set(false);
	uint8_t frame[PB_MAX_FRAME], out[PB_MAX_FRAME], want[28];
	struct pb_spec s = pb_udp(PB_REMOTE, 53, POOL0, 12050);
	struct nat_pkt p;
	size_t len, olen;
	uint8_t *o;

	(void)state;
	s.payload = data;
	s.payload_len = sizeof(data);
	len = pb_build(frame, &s);
	/* Host a received a return for b's slice. */
	assert_int_equal(nat_parse(&p, frame, (uint32_t)len, NAT_L4_CSUM_VERIFY),
			 SH_OK);
	assert_int_equal(nat_fleet_pkt_owner(a, &p), NAT_FLEET_PEER);
	olen = encap(out, a, frame, len, PEER_B, 0x12345);

	/* The outer headers, byte by byte (FLEET.md "Encapsulation"). */
	memset(want, 0, sizeof(want));
	want[0] = 0x45;
	pb_put16(want + 2, (uint16_t)(len - PB_ETH_LEN + 28));
	pb_put16(want + 6, 0x4000); /* DF */
	want[8] = 64;
	want[9] = PB_UDP;
	pb_put32(want + 12, SELF);
	pb_put32(want + 16, PEER_B);
	pb_fix_ip_csum(want);
	pb_put16(want + 20, 0xc000 | (0x12345 & 0x3fff));
	pb_put16(want + 22, TUNNEL_PORT);
	pb_put16(want + 24, (uint16_t)(len - PB_ETH_LEN + 8));
	o = out + PB_ETH_LEN;
	assert_memory_equal(o, want, sizeof(want));
	assert_true(pb_ip_csum_ok(o));

	/* Host b: a tunnel packet from a peer, carrying a packet it owns;
	 * stripped, the inner packet is the original, byte for byte. */
	assert_int_equal(nat_parse(&p, out, (uint32_t)olen, NAT_L4_CSUM_VERIFY),
			 SH_OK);
	assert_true(nat_fleet_is_tunnel(b, &p));
	assert_false(nat_fleet_is_tunnel(a, &p)); /* not to a */
	assert_int_equal(nat_fleet_decap_check(b, &p), SH_OK);
	memmove(out + NAT_FLEET_OVERHEAD, out, PB_ETH_LEN);
	assert_int_equal(olen - NAT_FLEET_OVERHEAD, len);
	assert_memory_equal(out + NAT_FLEET_OVERHEAD, frame, len);
	assert_int_equal(nat_parse(&p, out + NAT_FLEET_OVERHEAD, (uint32_t)len,
				   NAT_L4_CSUM_GOOD), SH_OK);
	assert_int_equal(nat_fleet_pkt_owner(b, &p), NAT_FLEET_SELF);
	free(a);
	free(b);
}

/* Outer headers the receiver refuses: a source not in its map, an
 * inner packet that is not IPv4 or not as long as the rest, lengths
 * that disagree. And an inner port that is not its own. */
static void test_tunnel_decap_refusals(void **state)
{
	struct nat_lease_set *a = pair_set(true), *b = pair_set(false);
	uint8_t frame[PB_MAX_FRAME], out[PB_MAX_FRAME];
	struct pb_spec s = pb_udp(PB_REMOTE, 53, POOL0, 12050);
	struct nat_pkt p;
	size_t len, olen;
	uint8_t *o = out + PB_ETH_LEN;

	(void)state;
	len = pb_build(frame, &s);
	olen = encap(out, a, frame, len, PEER_B, 1);

#define DECAP(ls) (nat_parse(&p, out, (uint32_t)olen, NAT_L4_CSUM_VERIFY) == \
			   SH_OK ? nat_fleet_decap_check(ls, &p) : 999u)
	assert_int_equal(DECAP(b), SH_OK);
	/* not a peer: a host the map does not name */
	pb_put32(o + 12, PEER_C);
	pb_fix_ip_csum(o);
	assert_int_equal(DECAP(b), SH_DROP_PEER_UNKNOWN);
	pb_put32(o + 12, SELF);
	pb_fix_ip_csum(o);
	/* inner not IPv4 */
	o[28] = 0x65;
	assert_int_equal(DECAP(b), SH_DROP_PEER_MALFORMED);
	o[28] = 0x45;
	/* inner length not the rest of the packet */
	pb_put16(o + 28 + 2, (uint16_t)(len - PB_ETH_LEN - 1));
	assert_int_equal(DECAP(b), SH_DROP_PEER_MALFORMED);
	pb_put16(o + 28 + 2, (uint16_t)(len - PB_ETH_LEN));
	/* UDP length other than the rest */
	pb_put16(o + 24, (uint16_t)(len - PB_ETH_LEN + 4));
	assert_int_equal(DECAP(b), SH_DROP_PEER_MALFORMED);
	pb_put16(o + 24, (uint16_t)(len - PB_ETH_LEN + 8));
	assert_int_equal(DECAP(b), SH_OK);
#undef DECAP

	/* port not ours: a return for a's own slice carried to b */
	s.dport = 10005;
	len = pb_build(frame, &s);
	assert_int_equal(nat_parse(&p, frame, (uint32_t)len, NAT_L4_CSUM_GOOD),
			 SH_OK);
	assert_int_equal(nat_fleet_pkt_owner(b, &p), NAT_FLEET_PEER);
	free(a);
	free(b);
}

/* ICMP errors about a mapping belong to the owner of the quoted source
 * port (or echo id); echo replies to the owner of their id. */
static void test_icmp_owner_from_quote(void **state)
{
	struct nat_lease_set *a = pair_set(true);
	uint8_t quoted[PB_MAX_FRAME], frame[PB_MAX_FRAME];
	struct pb_spec q, e;
	struct nat_pkt p;
	size_t qlen, len;

	(void)state;
	/* The packet that left: POOL0:12100 (b's) -> remote:80. */
	q = pb_udp(POOL0, 12100, PB_REMOTE, 80);
	qlen = pb_build(quoted, &q);
	e = pb_icmp(PB_ROUTER, POOL0, 3, 3, 0, 0);
	e.payload = quoted + PB_ETH_LEN;
	e.payload_len = (uint16_t)(qlen - PB_ETH_LEN);
	len = pb_build(frame, &e);
	assert_int_equal(nat_parse(&p, frame, (uint32_t)len, NAT_L4_CSUM_VERIFY),
			 SH_OK);
	assert_int_equal(nat_fleet_pkt_owner(a, &p), NAT_FLEET_PEER);

	/* The same error about a's own mapping POOL0:10100. */
	q.sport = 10100;
	qlen = pb_build(quoted, &q);
	len = pb_build(frame, &e);
	assert_int_equal(nat_parse(&p, frame, (uint32_t)len, NAT_L4_CSUM_VERIFY),
			 SH_OK);
	assert_int_equal(nat_fleet_pkt_owner(a, &p), NAT_FLEET_SELF);

	/* An error quoting an echo request with id 12048 (b's). */
	q = pb_icmp(POOL0, PB_REMOTE, 8, 0, 12048, 1);
	qlen = pb_build(quoted, &q);
	e.payload_len = (uint16_t)(qlen - PB_ETH_LEN);
	len = pb_build(frame, &e);
	assert_int_equal(nat_parse(&p, frame, (uint32_t)len, NAT_L4_CSUM_VERIFY),
			 SH_OK);
	assert_int_equal(nat_fleet_pkt_owner(a, &p), NAT_FLEET_PEER);

	/* Echo replies by id; echo requests to the pool address are not
	 * a mapping's (the local path: Linux's). */
	e = pb_icmp(PB_REMOTE, POOL0, 0, 0, 14100, 1);
	len = pb_build(frame, &e);
	assert_int_equal(nat_parse(&p, frame, (uint32_t)len, NAT_L4_CSUM_VERIFY),
			 SH_OK);
	assert_int_equal(nat_fleet_pkt_owner(a, &p), NAT_FLEET_NONE);
	e = pb_icmp(PB_REMOTE, POOL0, 8, 0, 12100, 1);
	len = pb_build(frame, &e);
	assert_int_equal(nat_parse(&p, frame, (uint32_t)len, NAT_L4_CSUM_VERIFY),
			 SH_OK);
	assert_int_equal(nat_fleet_pkt_owner(a, &p), -1);
	free(a);
}

/* ---- the in2out fence ---- */

/* A client's flow in a's own slice translates; once the slice is gone
 * (fenced, or now b's) the flow's packets are dropped unknown_owner,
 * not translated. */
static void test_in2out_fenced_drop(void **state)
{
	static const struct sh_prefix clients = { PB_IP(10, 1, 1, 0), 24 };
	struct nat_lease_set *ls = pair_set(true), *fenced, *moved;
	struct nat_lease_spec sp = {
		.id = 1, .name = "a", .kind = SH_LEASE_NAT,
		.state = NAT_LEASE_ACTIVE, .mapping = SH_MAPPING_APDM,
		.filtering = SH_FILTERING_APDF, .ip = htonl(POOL0),
		.lo = 10000, .hi = 12047, .clients = &clients, .n_clients = 1,
	};
	struct nat_params prm = pb_params(&cfg, 0, 1, 1024);
	struct pb_spec s = pb_udp(CLIENT, 5000, PB_REMOTE, 53);
	uint8_t frame[PB_MAX_FRAME];
	struct nat_worker *w;
	size_t len;

	(void)state;
	/* pair_set() finished the set: add the lease as the control plane
	 * would have before finishing. */
	nat_lease_set_begin(ls, &cfg, 2);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 10000, 12047, true, 0), 0);
	assert_int_equal(nat_fleet_add(ls, htonl(POOL0), 12048, 14095, false,
				       htonl(PEER_B)), 0);
	assert_int_equal(nat_lease_set_add(ls, &sp), 0);
	nat_lease_set_finish(ls);
	w = nat_worker_create(&prm);
	assert_non_null(w);
	w->now = 1000;

	len = pb_build(frame, &s);
	assert_int_equal(pb_in2out(w, ls, frame, len), SH_OK);
	assert_int_equal(pb_get32(frame + PB_ETH_LEN + 12), POOL0);
	len = pb_build(frame, &s);
	assert_int_equal(pb_in2out(w, ls, frame, len), SH_OK);

	fenced = malloc(sizeof(*fenced));
	assert_non_null(fenced);
	memcpy(fenced, ls, sizeof(*ls));
	nat_fleet_fence(fenced);
	assert_int_equal(fenced->n_leases, 0);
	assert_int_equal(owner(fenced, POOL0, 10000), NAT_FLEET_NONE);
	assert_int_equal(owner(fenced, POOL0, 12048), NAT_FLEET_PEER);
	len = pb_build(frame, &s);
	assert_int_equal(pb_in2out(w, fenced, frame, len), SH_DROP_UNKNOWN_OWNER);
	/* untouched: the packet was not translated */
	assert_int_equal(pb_get32(frame + PB_ETH_LEN + 12), CLIENT);

	/* the slice now another's, lease still listed */
	moved = malloc(sizeof(*moved));
	assert_non_null(moved);
	memcpy(moved, ls, sizeof(*ls));
	moved->fleet_owner[0] = NAT_FLEET_PEER;
	len = pb_build(frame, &s);
	assert_int_equal(pb_in2out(w, moved, frame, len), SH_DROP_UNKNOWN_OWNER);
	len = pb_build(frame, &s);
	assert_int_equal(pb_in2out(w, ls, frame, len), SH_OK);
	nat_worker_destroy(w);
	free(ls);
	free(fenced);
	free(moved);
}

/* ---- the engine's reading of the daemon's fleet map ---- */

static struct sh_worker workers[1];
static struct ctl_leases st;
static struct rte_rcu_qsbr *qsbr;

static int ctl_setup(void **state)
{
	size_t sz = rte_rcu_qsbr_get_memsize(1);

	(void)state;
	fleet_cfg(&cfg, "a", SELF, LO, HI, SIZE);
	qsbr = aligned_alloc(RTE_CACHE_LINE_SIZE,
			     (sz + RTE_CACHE_LINE_SIZE - 1) &
			     ~(size_t)(RTE_CACHE_LINE_SIZE - 1));
	if (!qsbr || rte_rcu_qsbr_init(qsbr, 1))
		return -1;
	memset(&st, 0, sizeof(st));
	memset(workers, 0, sizeof(workers));
	st.cfg = &cfg;
	st.workers = workers;
	st.n_workers = 1;
	st.qsbr = qsbr;
	return 0;
}

static int ctl_teardown(void **state)
{
	(void)state;
	ctl_leases_fini(&st);
	free(qsbr);
	return 0;
}

#define SLICE(ip, lo, hi, host, addr)                                          \
	"{\"ip\": \"" ip "\", \"lo\": " #lo ", \"hi\": " #hi ", \"host\": \""   \
	host "\", \"address\": \"" addr "\"}"
#define A_OWN SLICE("198.51.100.10", 10000, 12047, "a", "192.0.2.2")
#define B_OWN SLICE("198.51.100.10", 12048, 14095, "b", "192.0.2.6")
#define A_LEASE                                                                \
	"{\"id\": 7, \"holder\": \"a\", \"kind\": \"nat\", \"ip\": "           \
	"\"198.51.100.10\", \"lo\": 10000, \"hi\": 12047, \"state\": "         \
	"\"active\", \"clients\": [\"10.1.1.0/24\"]}"

/* Apply a set of generation @gen, its leases @leases and, unless
 * @fleet is NULL, "fleet": @fleet (JSON text). */
static int apply(int gen, const char *leases, const char *fleet)
{
	char text[4096];
	json_t *params;
	int rc;

	snprintf(text, sizeof(text), "{\"generation\": %d, \"leases\": [%s]%s%s}",
		 gen, leases, fleet ? ", \"fleet\": " : "", fleet ? fleet : "");
	params = json_loads(text, 0, NULL);
	assert_non_null(params);
	rc = ctl_leases_apply(&st, params, true);
	json_decref(params);
	return rc;
}

static int valid(int gen, int ms, uint64_t now)
{
	char text[128];
	json_t *params;
	int rc;

	snprintf(text, sizeof(text), "{\"generation\": %d, \"valid_ms\": %d}",
		 gen, ms);
	params = json_loads(text, 0, NULL);
	assert_non_null(params);
	rc = ctl_leases_valid(&st, params, now);
	json_decref(params);
	return rc;
}

static void test_ctl_fleet_map_applied(void **state)
{
	const struct nat_lease_set *ls;

	(void)state;
	assert_int_equal(apply(3, A_LEASE, "{\"host\": \"a\", \"valid_ms\": "
			       "60000, \"slices\": [" A_OWN ", " B_OWN "]}"), 1);
	ls = ctl_leases_current(&st);
	assert_true(ls->fleet);
	assert_int_equal(ls->n_leases, 1);
	assert_int_equal(owner(ls, POOL0, 10000), NAT_FLEET_SELF);
	assert_int_equal(owner(ls, POOL0, 12048), NAT_FLEET_PEER);
	assert_int_equal(owner(ls, POOL0, 14096), NAT_FLEET_NONE);
	assert_int_equal(ls->fleet_peer[0], htonl(PEER_B));
	assert_false(st.fenced);
	assert_true(ctl_leases_valid_ms(&st, ctl_now_ms()) > 50000);
}

/* Any invalid entry refuses the whole set as invalid_lease, and a
 * fleet engine refuses a set without a map: the workers keep theirs. */
static void test_ctl_fleet_map_refusals(void **state)
{
	static const char *const bad[] = {
		/* not a pool address */
		"{\"valid_ms\": 1000, \"slices\": [" SLICE("198.51.100.12",
			10000, 12047, "b", "192.0.2.6") "]}",
		/* not exactly a slice */
		"{\"valid_ms\": 1000, \"slices\": [" SLICE("198.51.100.10",
			10000, 12000, "b", "192.0.2.6") "]}",
		"{\"valid_ms\": 1000, \"slices\": [" SLICE("198.51.100.10",
			10001, 12048, "b", "192.0.2.6") "]}",
		/* address not a dotted quad, host not a name */
		"{\"valid_ms\": 1000, \"slices\": [" SLICE("198.51.100.10",
			12048, 14095, "b", "192.0.2") "]}",
		"{\"valid_ms\": 1000, \"slices\": [" SLICE("198.51.100.10",
			12048, 14095, "", "192.0.2.6") "]}",
		/* a slice listed twice */
		"{\"valid_ms\": 1000, \"slices\": [" B_OWN ", " B_OWN "]}",
		/* another host at our address */
		"{\"valid_ms\": 1000, \"slices\": [" SLICE("198.51.100.10",
			12048, 14095, "b", "192.0.2.2") "]}",
		/* no valid_ms, a negative one, another host's map */
		"{\"slices\": []}",
		"{\"valid_ms\": -1, \"slices\": []}",
		"{\"host\": \"b\", \"valid_ms\": 1000, \"slices\": []}",
		"{\"valid_ms\": 1000, \"slices\": {}}",
	};
	const struct nat_lease_set *ls;
	unsigned i;

	(void)state;
	assert_int_equal(apply(3, A_LEASE, "{\"host\": \"a\", \"valid_ms\": "
			       "60000, \"slices\": [" A_OWN ", " B_OWN "]}"), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(apply((int)(4 + i), "", bad[i]), -EINVAL);
		assert_string_equal(st.refused_reason, "invalid_lease");
	}
	assert_int_equal(apply(40, A_LEASE, NULL), -EINVAL);
	assert_string_equal(st.refused_reason, "invalid_lease");
	ls = ctl_leases_current(&st);
	assert_int_equal(ls->generation, 3);
	assert_int_equal(ls->n_leases, 1);
	assert_int_equal(owner(ls, POOL0, 10000), NAT_FLEET_SELF);
}

/* The fence: past valid_ms without renewal, no lease and no slice of
 * our own (counted); fleet.valid for the applied generation renews and
 * un-fences; for another it is ignored. */
static void test_ctl_fence_and_renewal(void **state)
{
	const struct nat_lease_set *ls;
	uint64_t now;

	(void)state;
	assert_int_equal(apply(5, A_LEASE, "{\"valid_ms\": 1000, \"slices\": ["
			       A_OWN ", " B_OWN "]}"), 1);
	now = ctl_now_ms();
	assert_int_equal(ctl_leases_tick(&st, now), 0);
	/* renewed before the deadline: still ours well past it */
	assert_int_equal(valid(5, 5000, now + 900), 0);
	assert_int_equal(ctl_leases_tick(&st, now + 2000), 0);
	assert_int_equal(ctl_leases_current(&st)->n_leases, 1);
	/* a renewal of another generation does not count */
	assert_int_equal(valid(4, 60000, now + 3000), 0);
	assert_int_equal(ctl_leases_tick(&st, now + 5899), 0);
	assert_int_equal(ctl_leases_tick(&st, now + 5900), 1);
	assert_int_equal(ctl_leases_tick(&st, now + 6000), 0); /* once */
	assert_true(st.fenced);
	assert_int_equal(st.fences, 1);
	ls = ctl_leases_current(&st);
	assert_int_equal(ls->n_leases, 0);
	assert_int_equal(ls->n_match, 0);
	assert_int_equal(ls->fleet_fences, 1);
	assert_int_equal(owner(ls, POOL0, 10000), NAT_FLEET_NONE);
	assert_int_equal(owner(ls, POOL0, 12048), NAT_FLEET_PEER);
	assert_int_equal(ctl_leases_valid_ms(&st, now + 6000), 0);
	/* proven again: the received set is back */
	assert_int_equal(valid(5, 0, now + 6100), 0);
	assert_true(st.fenced);
	assert_int_equal(valid(5, 3000, now + 6200), 1);
	assert_false(st.fenced);
	ls = ctl_leases_current(&st);
	assert_int_equal(ls->n_leases, 1);
	assert_int_equal(owner(ls, POOL0, 10000), NAT_FLEET_SELF);
	assert_int_equal(ls->fleet_fences, 1);
	assert_int_equal(ctl_leases_tick(&st, now + 9201), 1);
	assert_int_equal(st.fences, 2);
	/* a new set with proof un-fences too */
	assert_int_equal(apply(6, A_LEASE, "{\"valid_ms\": 1000, \"slices\": ["
			       A_OWN "]}"), 1);
	assert_false(st.fenced);
	assert_int_equal(ctl_leases_current(&st)->fleet_fences, 2);
}

/* A set whose proof is 0 runs without slices of its own from the
 * start, and is not counted as a fence (nothing was lost). */
static void test_ctl_valid_zero_set_has_no_own_slices(void **state)
{
	const struct nat_lease_set *ls;

	(void)state;
	assert_int_equal(apply(2, A_LEASE, "{\"valid_ms\": 0, \"slices\": ["
			       A_OWN ", " B_OWN "]}"), 1);
	ls = ctl_leases_current(&st);
	assert_true(st.fenced);
	assert_int_equal(st.fences, 0);
	assert_int_equal(ls->n_leases, 0);
	assert_int_equal(owner(ls, POOL0, 10000), NAT_FLEET_NONE);
	assert_int_equal(owner(ls, POOL0, 12048), NAT_FLEET_PEER);
	assert_int_equal(ctl_leases_tick(&st, ctl_now_ms() + 10), 0);
	assert_int_equal(valid(2, 1000, ctl_now_ms()), 1);
	assert_int_equal(owner(ctl_leases_current(&st), POOL0, 10000),
			 NAT_FLEET_SELF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_table_slice_boundaries),
		cmocka_unit_test(test_owner_table_refuses_what_is_not_a_slice),
		cmocka_unit_test(test_owner_table_peers_sorted),
		cmocka_unit_test(test_owner_reciprocal_division),
		cmocka_unit_test(test_tunnel_encap_decap_round_trip),
		cmocka_unit_test(test_tunnel_decap_refusals),
		cmocka_unit_test(test_icmp_owner_from_quote),
		cmocka_unit_test(test_in2out_fenced_drop),
		cmocka_unit_test_setup_teardown(test_ctl_fleet_map_applied,
						ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_fleet_map_refusals,
						ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_fence_and_renewal,
						ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(
			test_ctl_valid_zero_set_has_no_own_slices, ctl_setup,
			ctl_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
