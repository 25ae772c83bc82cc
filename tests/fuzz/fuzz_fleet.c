/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_fleet: the fleet's packet functions (engine/nat/fleet.c, the
 * inline nat_fleet_owner() and nat_fleet_is_tunnel() of nat.h) on a map
 * the input builds, against slow references that share no code with
 * them: a division and a linear search over what the harness added.
 *
 * Input:
 *   byte 0     bits 0-2 pool addresses - 1 (1..8); bits 3-4 their plan:
 *              0 198.51.100.10 + 10 i, 1 198.51.100.10 + i, 2 scattered
 *              over 10/8 (no common prefix but 10), 3 read from the
 *              input (4 bytes each, after the candidates; 0 and repeats
 *              are left out, as the loader refuses them); bit 5
 *              recompute the frame's checksums (the inner packet's first
 *              when it looks like a tunnel packet); bits 6-7 the NIC's
 *              word on the L4 checksum: VERIFY, GOOD, PARTIAL, GOOD
 *   bytes 1-2  slice_size (big-endian; 0 reads as 1)
 *   byte 3     slices per pool address: 1 + b % the most that fit (65535
 *              ports, SHOAL_MAX_POOL_SLICES in all)
 *   bytes 4-5  the first port: 1 + v % (65536 - span)
 *   bytes 6-7  the tunnel's UDP port (0: 6080)
 *   byte 8     bits 0-3 candidate peers (mod 9); bit 4 add the slices in
 *              reverse order
 *   byte 9     which candidates the "peers" list names (bit j: j)
 *   4 bytes per candidate: its address (0 and this host's address are
 *              kept: nat_fleet_add_peer() must refuse them)
 *   (plan 3: 4 bytes per pool address)
 *   byte       M, then M owner codes: slice s gets code[s % M] (none
 *              when M is 0): c % (candidates + 2) is 0 no owner, 1 this
 *              host, 2 + j candidate j
 *   the rest   one Ethernet frame, as received on the outside port
 * This host is 192.0.2.2. The slices are added as engine/ctl_leases.c
 * does: the "peers" list first, then every owned slice; then a few adds
 * that must fail (a slice twice, off the grid, the wrong size, no pool
 * address).
 *
 * Invariants (abort() on violation):
 *   map      nat_fleet_add/_add_peer return what the reference expects;
 *            the peers are sorted, distinct, exactly the valid ones added;
 *            nat_fleet_peer_index() agrees with a linear search (for
 *            every candidate and for the frame's addresses); the owner
 *            of the first, middle and last port of every slice is the
 *            one added (NONE, SELF, or PEER + the index of its address),
 *            -1 just outside the pool's ports and for other addresses;
 *            nat_fleet_fence() drops exactly the SELF slices;
 *   owner    nat_fleet_pkt_owner() of a parsed, unfragmented frame is -1,
 *            NONE, SELF or PEER + i with i < n_peers, and equals the
 *            reference owner of its destination and port (TCP/UDP
 *            destination port, echo reply id, an ICMP error's quoted
 *            source port or echo id by nat_quote_parse());
 *   tunnel   nat_fleet_is_tunnel() agrees with the header fields; a
 *            packet nat_fleet_decap_check() accepts comes from a peer and
 *            carries, right after 20 + 8 bytes whose lengths agree, an
 *            IPv4 packet exactly as long as the rest (and one it refuses
 *            does not); the inner packet is then parsed as the engine
 *            does (fleet_decap) and its owner checked as above;
 *   encap    every parsed packet, encapsulated towards a peer (chosen by
 *            its flow hash) with nat_fleet_encap(), parses (checksums
 *            verified), is a tunnel packet at that peer from this host,
 *            passes its nat_fleet_decap_check(), has the tunnel's source
 *            port 49152 | (hash & 0x3fff), and carries the same bytes,
 *            which parse to the same packet with the same owner.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "nat_harness.h"
#include "pkt_build.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                              \
	do {                                                                   \
		fprintf(stderr, "INVARIANT VIOLATED: " __VA_ARGS__);           \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

#define SELF_IP PB_IP(192, 0, 2, 2)
#define MAX_POOL 8
#define MAX_CAND 8

/* What the harness added, host order: the reference. */
struct ref {
	unsigned n_pool;
	uint32_t pool[MAX_POOL];
	uint32_t lo, span, size, per_ip;
	unsigned n_cand;
	uint32_t cand[MAX_CAND];
	unsigned n_peers; /* distinct valid addresses added */
	uint32_t peers[MAX_CAND];
	/* per global slice: this host's, or the owning peer's address (0:
	 * no owner) */
	bool self[NAT_FLEET_MAX_SLICES];
	uint32_t owner[NAT_FLEET_MAX_SLICES];
};

static struct ref ref;
static int trace = -1; /* FZ_TRACE=1: one line per step, to read a crasher */

#define TRACE(...)                                                             \
	do {                                                                   \
		if (trace)                                                     \
			fprintf(stderr, "fleet: " __VA_ARGS__);                \
	} while (0)
static struct sh_config cfg, mirror_cfg;
static struct nat_lease_set ls, mirror;

/* A cursor over the input; past its end every byte reads 0. */
struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t take8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t take_be(struct in *in, unsigned bytes)
{
	uint32_t v = 0;

	while (bytes--)
		v = v << 8 | take8(in);
	return v;
}

/* ---- the reference ------------------------------------------------------- */

static bool ref_is_peer(uint32_t a)
{
	for (unsigned i = 0; i < ref.n_peers; i++)
		if (ref.peers[i] == a)
			return true;
	return false;
}

/* What nat_fleet_add_peer() must do with @a: -EINVAL, or add it once. */
static int ref_add_peer(uint32_t a)
{
	if (a == 0 || a == SELF_IP)
		return -EINVAL;
	if (!ref_is_peer(a))
		ref.peers[ref.n_peers++] = a;
	return 0;
}

/* Global slice of (@ip, @port) (host order), or -1: a linear search and
 * a division. */
static int ref_slice(uint32_t ip, uint32_t port)
{
	for (unsigned i = 0; i < ref.n_pool; i++)
		if (ref.pool[i] == ip) {
			if (port < ref.lo || port >= ref.lo + ref.span)
				return -1;
			return (int)(i * ref.per_ip +
				     (port - ref.lo) / ref.size);
		}
	return -1;
}

/* Is @v, from the engine's functions, the owner the reference has for
 * (@ip, @port)? */
static void check_owner(int v, uint32_t ip, uint32_t port, const char *what)
{
	int s = ref_slice(ip, port);
	bool ok;

	if (v < -1 || (v >= NAT_FLEET_PEER &&
		       (unsigned)(v - NAT_FLEET_PEER) >= ls.n_peers))
		FAIL("%s: owner %d of %08x:%u out of range (%u peers)", what, v,
		     ip, port, ls.n_peers);
	if (s < 0) {
		if (v != -1)
			FAIL("%s: %08x:%u is no pool port, owner %d", what, ip,
			     port, v);
		return;
	}
	if (ref.self[s])
		ok = v == NAT_FLEET_SELF;
	else if (!ref.owner[s])
		ok = v == NAT_FLEET_NONE;
	else
		ok = v >= NAT_FLEET_PEER &&
		     ntohl(ls.fleet_peer[v - NAT_FLEET_PEER]) == ref.owner[s];
	if (!ok)
		FAIL("%s: owner %d of %08x:%u (slice %d), added %s %08x", what,
		     v, ip, port, s, ref.self[s] ? "self" : "peer",
		     ref.owner[s]);
}

/* ---- the map ------------------------------------------------------------- */

static uint32_t pool_addr(unsigned plan, unsigned i, struct in *in)
{
	switch (plan) {
	case 0:
		return PB_IP(198, 51, 100, 10) + 10 * i;
	case 1:
		return PB_IP(198, 51, 100, 10) + i;
	case 2:
		return PB_IP(10, 0, 0, 1) + i * 0x00410203u;
	default:
		return take_be(in, 4);
	}
}

/* The geometry and the configuration the loader makes of such a [fleet]
 * (config.c check_fleet: one slice per pool address over the ports).
 * False when no pool address is left. */
static bool geometry(struct in *in, uint8_t b0, uint8_t *order,
		     uint8_t *listed)
{
	unsigned n_pool = 1 + (b0 & 7), plan = (b0 >> 3) & 3, max_per;
	uint32_t size = take_be(in, 2), port;
	uint8_t per_b = take8(in);
	uint16_t lo_v = (uint16_t)take_be(in, 2);

	memset(&ref, 0, sizeof(ref));
	ref.size = size ? size : 1;
	max_per = 65535 / ref.size;
	if (max_per > NAT_FLEET_MAX_SLICES / n_pool)
		max_per = NAT_FLEET_MAX_SLICES / n_pool;
	ref.per_ip = 1 + per_b % max_per;
	ref.span = ref.size * ref.per_ip;
	ref.lo = 1 + lo_v % (65536 - ref.span);
	port = take_be(in, 2);
	*order = take8(in);
	*listed = take8(in);
	ref.n_cand = (*order & 15) % (MAX_CAND + 1);
	for (unsigned j = 0; j < ref.n_cand; j++)
		ref.cand[j] = take_be(in, 4);
	for (unsigned i = 0; i < n_pool; i++) {
		uint32_t a = pool_addr(plan, i, in);
		bool dup = a == 0;

		for (unsigned k = 0; k < ref.n_pool; k++)
			dup |= ref.pool[k] == a;
		if (!dup)
			ref.pool[ref.n_pool++] = a;
	}
	if (!ref.n_pool)
		return false;

	sh_config_defaults(&cfg);
	cfg.outside.present = true;
	cfg.outside.has_address = true;
	cfg.outside.address_host = SELF_IP;
	cfg.outside.address = (struct sh_prefix){ SELF_IP & ~3u, 30 };
	cfg.fleet.enabled = true;
	cfg.fleet.address = SELF_IP;
	cfg.fleet.n_pool = ref.n_pool;
	memcpy(cfg.fleet.pool, ref.pool, ref.n_pool * sizeof(ref.pool[0]));
	cfg.fleet.lo = (uint16_t)ref.lo;
	cfg.fleet.hi = (uint16_t)(ref.lo + ref.span - 1);
	cfg.fleet.slice_size = ref.size;
	cfg.fleet.n_slices_total = ref.n_pool * ref.per_ip;
	cfg.fleet.slices = 1;
	cfg.fleet.port = (uint16_t)(port ? port : SH_CFG_FLEET_PORT_DEFAULT);
	for (unsigned i = 0; i < ref.n_pool; i++)
		cfg.slices[i] = (struct sh_slice_cfg){ .ip = ref.pool[i],
			.lo = cfg.fleet.lo, .hi = cfg.fleet.hi };
	cfg.n_slices = ref.n_pool;
	return true;
}

/* Adds that must fail and change nothing: slice @k again (when owned),
 * off the grid, one port too many, at an address outside the pool. */
static void bad_adds(unsigned k)
{
	uint32_t ip = ref.pool[k / ref.per_ip];
	uint32_t slo = ref.lo + k % ref.per_ip * ref.size;
	uint32_t shi = slo + ref.size - 1;

	if (((ref.self[k] || ref.owner[k]) &&
	     nat_fleet_add(&ls, htonl(ip), (uint16_t)slo, (uint16_t)shi, true,
			   0) != -EINVAL) ||
	    (ref.size > 1 &&
	     nat_fleet_add(&ls, htonl(ip), (uint16_t)(slo + 1), (uint16_t)shi,
			   true, 0) != -EINVAL) ||
	    (shi < 65535 &&
	     nat_fleet_add(&ls, htonl(ip), (uint16_t)slo, (uint16_t)(shi + 1),
			   true, 0) != -EINVAL) ||
	    (ref_slice(SELF_IP, slo) < 0 &&
	     nat_fleet_add(&ls, htonl(SELF_IP), (uint16_t)slo, (uint16_t)shi,
			   true, 0) != -EINVAL))
		FAIL("map: a bad add of slice %u was taken", k);
}

/* Build the set as engine/ctl_leases.c does: the "peers" list, every
 * owned slice, nat_lease_set_finish(). False when the input names no
 * usable pool. */
static bool build(struct in *in, uint8_t b0)
{
	uint8_t order, listed, m, codes[256];
	unsigned n_slices;
	int rc;

	if (!geometry(in, b0, &order, &listed))
		return false;
	n_slices = cfg.fleet.n_slices_total;
	m = take8(in);
	for (unsigned k = 0; k < m; k++)
		codes[k] = take8(in);

	nat_lease_set_begin(&ls, &cfg, 1);
	if (!ls.fleet || ls.n_fleet_slices != n_slices)
		FAIL("map: %u slices, %u expected", ls.n_fleet_slices, n_slices);
	for (unsigned j = 0; j < ref.n_cand; j++) {
		if (!(listed >> j & 1))
			continue;
		rc = nat_fleet_add_peer(&ls, htonl(ref.cand[j]));
		if ((rc < 0) != (ref_add_peer(ref.cand[j]) < 0))
			FAIL("map: add_peer(%08x) = %d", ref.cand[j], rc);
	}
	for (unsigned k = 0; m && k < n_slices; k++) {
		unsigned s = order & 16 ? n_slices - 1 - k : k;
		unsigned c = codes[s % m] % (ref.n_cand + 2);
		uint32_t ip = ref.pool[s / ref.per_ip];
		uint32_t slo = ref.lo + s % ref.per_ip * ref.size;
		uint32_t peer = c >= 2 ? ref.cand[c - 2] : 0;
		int want = 0;

		if (c == 0)
			continue;
		if (c >= 2)
			want = ref_add_peer(peer);
		rc = nat_fleet_add(&ls, htonl(ip), (uint16_t)slo,
				   (uint16_t)(slo + ref.size - 1), c == 1,
				   htonl(peer));
		if (rc != want)
			FAIL("map: add(%08x:%u, %s %08x) = %d, expected %d", ip,
			     slo, c == 1 ? "self" : "peer", peer, rc, want);
		if (rc == 0) {
			ref.self[s] = c == 1;
			ref.owner[s] = peer;
		}
	}
	for (unsigned k = 0; k < n_slices; k += 1 + n_slices / 4)
		bad_adds(k);
	nat_lease_set_finish(&ls);
	TRACE("%u pool addresses x %u slices of %u from %u, %u peers\n",
	      ref.n_pool, ref.per_ip, ref.size, ref.lo, ls.n_peers);
	return true;
}

/* Linear search of the published peers; -1 if absent. */
static int peer_linear(uint32_t a)
{
	for (unsigned i = 0; i < ls.n_peers; i++)
		if (ntohl(ls.fleet_peer[i]) == a)
			return (int)i;
	return -1;
}

static void check_peer_index(uint32_t a)
{
	int v = nat_fleet_peer_index(&ls, htonl(a)), w = peer_linear(a);

	if (v != w)
		FAIL("peer: index of %08x %d, linear search %d", a, v, w);
	if ((w >= 0) != ref_is_peer(a))
		FAIL("peer: %08x %s", a, w >= 0 ? "published, never added"
						 : "added, not published");
}

/* Owners of the first, middle and last port of every slice, and of the
 * ports just outside the pool's range. */
static void check_map(void)
{
	if (ls.n_peers != ref.n_peers)
		FAIL("map: %u peers, %u added", ls.n_peers, ref.n_peers);
	for (unsigned i = 1; i < ls.n_peers; i++)
		if (ntohl(ls.fleet_peer[i - 1]) >= ntohl(ls.fleet_peer[i]))
			FAIL("map: peers %u and %u not in order", i - 1, i);
	for (unsigned j = 0; j < ref.n_cand; j++)
		check_peer_index(ref.cand[j]);
	check_peer_index(SELF_IP);
	check_peer_index(0);
	for (unsigned s = 0; s < ls.n_fleet_slices; s++) {
		uint32_t ip = ref.pool[s / ref.per_ip];
		uint32_t slo = ref.lo + s % ref.per_ip * ref.size;
		uint32_t ports[3] = { slo, slo + ref.size / 2,
				      slo + ref.size - 1 };

		for (unsigned k = 0; k < 3; k++)
			check_owner(nat_fleet_owner(&ls, htonl(ip),
						    htons((uint16_t)ports[k])),
				    ip, ports[k], "map");
	}
	for (unsigned i = 0; i < ref.n_pool; i++) {
		uint32_t below = ref.lo - 1, above = ref.lo + ref.span;

		if (below >= 1)
			check_owner(nat_fleet_owner(&ls, htonl(ref.pool[i]),
						    htons((uint16_t)below)),
				    ref.pool[i], below, "map");
		if (above <= 65535)
			check_owner(nat_fleet_owner(&ls, htonl(ref.pool[i]),
						    htons((uint16_t)above)),
				    ref.pool[i], above, "map");
	}
	check_owner(nat_fleet_owner(&ls, htonl(SELF_IP),
				    htons((uint16_t)ref.lo)),
		    SELF_IP, ref.lo, "map");
}

/* ---- packets ------------------------------------------------------------- */

/* The reference owner of parsed, unfragmented outside packet @p: its
 * destination and the port FLEET.md names ("To a pool address"). */
static void check_pkt_owner(const struct nat_pkt *p, const char *what)
{
	const uint8_t *l4 = p->l4;
	int v = nat_fleet_pkt_owner(&ls, p);
	struct nat_quote q;
	uint32_t port;

	switch (p->proto) {
	case PB_TCP:
	case PB_UDP:
		port = pb_get16(l4 + 2);
		break;
	case PB_ICMP:
		if (l4[0] == 0) {
			port = pb_get16(l4 + 4);
			break;
		}
		if ((l4[0] == 3 || l4[0] == 11 || l4[0] == 12) &&
		    nat_quote_parse(p, &q) == SH_OK) {
			port = pb_get16(q.l4 + (q.proto == PB_ICMP ? 4 : 0));
			break;
		}
		/* fall through: no port */
	default:
		if (v != -1)
			FAIL("%s: owner %d of a packet without a port", what, v);
		return;
	}
	TRACE("%s: %08x:%u owner %d\n", what, pb_get32(p->ip + 16), port, v);
	check_owner(v, pb_get32(p->ip + 16), port, what);
}

/* nat_fleet_is_tunnel(), from the header fields. */
static bool ref_is_tunnel(const struct nat_pkt *p)
{
	return p->proto == PB_UDP && !p->frag &&
	       pb_get32(p->ip + 16) == SELF_IP &&
	       pb_get16(p->l4 + 2) == cfg.fleet.port;
}

/* nat_fleet_decap_check()'s answer, from the header fields. */
static unsigned ref_decap(const struct nat_pkt *p)
{
	const uint8_t *inner = p->l4 + 8;

	if (!ref_is_peer(pb_get32(p->ip + 12)))
		return SH_DROP_PEER_UNKNOWN;
	if (pb_ihl(p->ip) != 20 || p->ip_len < 48 ||
	    pb_get16(p->l4 + 4) != p->ip_len - 20 || inner[0] >> 4 != 4 ||
	    pb_get16(inner + 2) != p->ip_len - 28)
		return SH_DROP_PEER_MALFORMED;
	return SH_OK;
}

/* A heap copy of exactly @n bytes (so ASan sees any read past them)
 * with room for @extra in front. */
static uint8_t *copy(const uint8_t *src, size_t n, size_t extra)
{
	uint8_t *b = malloc(n + extra ? n + extra : 1);

	if (!b)
		FAIL("harness: out of memory");
	if (n)
		memcpy(b + extra, src, n);
	return b;
}

/* Strip the 28 bytes after the L2 header of tunnel packet @p's frame
 * into a new buffer (*@buf, the caller frees it) and parse what is left
 * as fleet_decap() does (the sender vouched for the L4 checksum). */
static unsigned decap(const struct nat_pkt *p, struct nat_pkt *ip_,
		      uint8_t **buf)
{
	uint8_t *b = copy(p->ip + 28, (size_t)p->ip_len - 28, p->l2_len);

	memcpy(b, p->ip - p->l2_len, p->l2_len);
	*buf = b;
	return nat_parse(ip_, b, p->l2_len + (uint32_t)p->ip_len - 28,
			 NAT_L4_CSUM_GOOD);
}

static void check_tunnel(const struct nat_pkt *p)
{
	unsigned v = nat_fleet_decap_check(&ls, p), w = ref_decap(p);
	struct nat_pkt ip_;
	uint8_t *b;

	TRACE("tunnel from %08x: decap_check %u\n", pb_get32(p->ip + 12), v);
	if (v != w)
		FAIL("tunnel: decap_check %u, expected %u", v, w);
	if (v != SH_OK)
		return;
	/* The rest as fleet_decap(): peer_malformed unless it parses and
	 * goes to a pool address; a later fragment waits for stage 2. */
	if (decap(p, &ip_, &b) == SH_OK &&
	    nat_slice_index(&ls, ld32(ip_.ip + IP4_DST)) >= 0 &&
	    ip_.frag != NAT_PKT_LATER)
		check_pkt_owner(&ip_, "tunnel inner");
	free(b);
}

/* The peer's set: its address is the fleet address, ours a peer. */
static void mirror_build(uint32_t peer)
{
	int rc;

	mirror_cfg = cfg;
	mirror_cfg.fleet.address = ntohl(peer);
	mirror_cfg.outside.address_host = ntohl(peer);
	nat_lease_set_begin(&mirror, &mirror_cfg, 1);
	rc = nat_fleet_add_peer(&mirror, htonl(SELF_IP));
	if (rc != 0)
		FAIL("encap: the peer's set refuses us (%d)", rc);
	nat_lease_set_finish(&mirror);
}

/* Encapsulate @p towards a peer as fleet_forward() does; receive it
 * there. */
static void check_encap(const struct nat_pkt *p)
{
	uint32_t hash, peer, n = p->l2_len + 28u + p->ip_len;
	uint16_t sport = 0, dport = 0;
	struct nat_pkt o, ip_;
	uint8_t *e, *b;

	if (!ls.n_peers || (uint32_t)p->ip_len + 28 > 65535)
		return;
	/* As fleet_hash() in engine/worker.c (a later fragment has no
	 * ports in it: stage 2 hashes its datagram's). */
	if (p->frag != NAT_PKT_LATER && p->proto != PB_ICMP) {
		sport = ld16(p->l4 + L4_SPORT);
		dport = ld16(p->l4 + L4_DPORT);
	} else if (p->frag != NAT_PKT_LATER && p->l4[0] == 0) {
		dport = ld16(p->l4 + NAT_ICMP_ID);
	}
	hash = nat_fleet_flow_hash(p->ip, sport, dport);
	peer = ls.fleet_peer[hash % ls.n_peers];
	mirror_build(peer);
	TRACE("encap to %08x, hash %08x\n", ntohl(peer), hash);

	/* The IPv4 packet only: Ethernet padding is not carried. */
	e = copy(p->ip, p->ip_len, p->l2_len + 28u);
	memcpy(e, p->ip - p->l2_len, p->l2_len);
	nat_fleet_encap(e + p->l2_len, &ls, peer, p->ip_len, hash);
	if (nat_parse(&o, e, n, NAT_L4_CSUM_VERIFY) != SH_OK)
		FAIL("encap: the tunnel packet does not parse");
	if (!nat_fleet_is_tunnel(&mirror, &o) ||
	    pb_get32(o.ip + 12) != SELF_IP || o.ip_len != p->ip_len + 28)
		FAIL("encap: not a tunnel packet from us at the peer");
	if (pb_get16(o.l4) != (0xc000 | (hash & 0x3fff)) || !(o.ip[6] & 0x40))
		FAIL("encap: source port %u or DF wrong", pb_get16(o.l4));
	if (nat_fleet_decap_check(&mirror, &o) != SH_OK)
		FAIL("encap: the peer refuses our tunnel packet");
	if (memcmp(o.l4 + 8, p->ip, p->ip_len))
		FAIL("encap: the inner bytes changed");
	if (decap(&o, &ip_, &b) != SH_OK || ip_.proto != p->proto ||
	    ip_.ip_len != p->ip_len || ip_.l4 - ip_.ip != p->l4 - p->ip ||
	    ip_.frag != p->frag)
		FAIL("encap: the inner packet parses otherwise");
	if (!p->frag &&
	    nat_fleet_pkt_owner(&ls, &ip_) != nat_fleet_pkt_owner(&ls, p))
		FAIL("encap: the inner packet has another owner");
	free(b);
	free(e);
}

/* A fenced copy keeps every owner but this host's. */
static void check_fence(void)
{
	nat_fleet_fence(&ls);
	if (ls.n_leases || ls.n_match)
		FAIL("fence: leases left");
	memset(ref.self, 0, sizeof(ref.self));
	check_map();
}

/* Recompute the frame's checksums: a tunnel packet's inner ones first
 * (the outer UDP sum covers them). */
static void fix(uint8_t *f, size_t n)
{
	size_t l2 = n >= 18 && pb_get16(f + 12) == 0x8100 ? 18 : 14;

	if (n >= l2 + 28 && pb_ihl(f + l2) == 20 && f[l2 + 9] == PB_UDP)
		fz_fix_ip_checksums(f + l2 + 28, n - l2 - 28);
	fz_fix_checksums(f, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum nat_l4_csum modes[4] = {
		NAT_L4_CSUM_VERIFY, NAT_L4_CSUM_GOOD, NAT_L4_CSUM_PARTIAL,
		NAT_L4_CSUM_GOOD,
	};
	struct in in = { data, size };
	uint8_t b0 = take8(&in), *f;
	struct nat_pkt p;
	unsigned v;

	if (trace < 0)
		trace = getenv("FZ_TRACE") != NULL;
	if (!build(&in, b0))
		return 0;
	check_map();

	f = copy(in.p, in.n, 0);
	if (b0 & 0x20)
		fix(f, in.n);
	if (in.n >= 14 + 20) {
		check_peer_index(pb_get32(f + 26));
		check_peer_index(pb_get32(f + in.n - 4));
	}
	v = nat_parse(&p, f, (uint32_t)in.n, modes[b0 >> 6]);
	TRACE("frame of %zu bytes: parse %u\n", in.n, v);
	if (v == SH_OK) {
		check_peer_index(pb_get32(p.ip + 12));
		if (nat_fleet_is_tunnel(&ls, &p) != ref_is_tunnel(&p))
			FAIL("tunnel: is_tunnel %d",
			     nat_fleet_is_tunnel(&ls, &p));
		if (nat_fleet_is_tunnel(&ls, &p))
			check_tunnel(&p);
		else if (!p.frag)
			check_pkt_owner(&p, "owner");
		check_encap(&p);
	}
	free(f);
	check_fence();
	return 0;
}
