/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NAT fuzz harnesses' worker, fixture and invariants; the contract is
 * in nat_harness.h. Addresses and ports here are host order unless a name
 * ends in _be; the checksum oracle is tests/unit/pkt_build.h's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/owner.h"
#include "nat_harness.h"
#include "pkt_build.h"

#define FZ_MAX_FRAME 4096
#define FZ_SHADOW_MAX 2048

/* One flow seen: inside 5-tuple -> outside address and port. */
struct shadow {
	uint32_t cip, rip, oip;
	uint16_t cport, rport, oport;
	uint8_t proto;
	bool gone;    /* a later flow of the same inside 5-tuple replaced it */
	bool inbound; /* made by out2in */
	uint32_t last; /* worker ms of the last translated packet */
};

static struct {
	struct sh_config cfg;
	struct nat_lease_set sets[2]; /* active, "a" draining */
	const struct nat_lease_set *ls;
	struct nat_steer steer_in, steer_out;
	struct nat_worker *w;
	unsigned id, n_workers;
	uint32_t hold_ms; /* the configured hold-down, not the worker's copy */
	bool trace; /* FZ_TRACE set: one line per translator call */
	/* what the counters must say */
	uint64_t in2out, out2in, err_in2out, err_out2in, inbound;
	struct shadow sh[FZ_SHADOW_MAX];
	unsigned n_sh;
	uint8_t orig[FZ_MAX_FRAME], last[FZ_MAX_FRAME], turned[FZ_MAX_FRAME];
} fz;

#define FZ_FAIL(...)                                                           \
	do {                                                                   \
		fprintf(stderr, "INVARIANT VIOLATED: " __VA_ARGS__);           \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

static void lease_add(struct nat_lease_set *ls, uint32_t id, const char *name,
		      enum sh_lease_kind kind, bool draining, uint8_t mode,
		      uint32_t ip, uint16_t lo, uint16_t hi,
		      const struct sh_prefix *c, unsigned n)
{
	const struct nat_lease_spec spec = {
		.id = id,
		.name = name,
		.kind = kind,
		.state = draining ? NAT_LEASE_DRAINING : NAT_LEASE_ACTIVE,
		.mapping = mode / 3 ? SH_MAPPING_APDM : SH_MAPPING_EIM,
		.filtering = mode % 3 == 0   ? SH_FILTERING_ADF
			     : mode % 3 == 1 ? SH_FILTERING_EIF
					     : SH_FILTERING_APDF,
		.ip = nat_be32(ip),
		.lo = lo,
		.hi = hi,
		.clients = c,
		.n_clients = n,
	};

	if (nat_lease_set_add(ls, &spec))
		FZ_FAIL("fixture: lease %s refused", name);
}

/*
 * Slice A 198.51.100.10:10000-12047 holds nat lease "a" (10000-10999,
 * clients 10.0.0.0/16), socket lease "sock" (11000-11099) and nat lease
 * "c" (11500-11507, the client 10.0.7.7 alone: exhausted at once); slice B
 * 198.51.100.20:20000-20063 holds nat lease "b" (20000-20031, clients
 * 10.0.5.0/24 and 10.1.0.0/16) and socket lease "sock2" (20040-20047).
 * Everything else of both slices is leased to nobody. A client of
 * 10.0.5.0/24 falls back from "b" to "a", 10.0.7.7 from "c" to "a".
 */
static void build_set(struct nat_lease_set *ls, bool drain_a,
		      const uint8_t mode[3])
{
	const struct sh_prefix ca = { PB_IP(10, 0, 0, 0), 16 };
	const struct sh_prefix cb[2] = { { PB_IP(10, 0, 5, 0), 24 },
					 { PB_IP(10, 1, 0, 0), 16 } };
	const struct sh_prefix cc = { PB_IP(10, 0, 7, 7), 32 };

	nat_lease_set_begin(ls, &fz.cfg, drain_a ? 2 : 1);
	lease_add(ls, 1, "a", SH_LEASE_NAT, drain_a, mode[0], FZ_SLICE_A,
		  10000, 10999, &ca, 1);
	lease_add(ls, 2, "sock", SH_LEASE_SOCKET, false, 0, FZ_SLICE_A, 11000,
		  11099, NULL, 0);
	lease_add(ls, 3, "b", SH_LEASE_NAT, false, mode[1], FZ_SLICE_B, 20000,
		  20031, cb, 2);
	lease_add(ls, 4, "c", SH_LEASE_NAT, false, mode[2], FZ_SLICE_A, 11500,
		  11507, &cc, 1);
	lease_add(ls, 5, "sock2", SH_LEASE_SOCKET, false, 0, FZ_SLICE_B, 20040,
		  20047, NULL, 0);
	nat_lease_set_finish(ls);
}

void fz_setup_decode(struct fz_setup *s, uint8_t b0, uint8_t b1)
{
	static const uint32_t holds[4] = { 120, 0, 2, 30 };
	static const uint8_t modes_c[4] = { 0, 5, 1, 4 };

	s->n_workers = (b0 & 3u) + 1;
	s->worker_id = ((b0 >> 2) & 3u) % s->n_workers;
	s->client_cap = b0 & 0x10 ? 4 : 0;
	s->hold_s = holds[(b0 >> 5) & 3u];
	s->rss = b0 & 0x80;
	s->mode[0] = (uint8_t)((b1 & 7u) % FZ_MODES);
	s->mode[1] = (uint8_t)(((b1 >> 3) & 7u) % FZ_MODES);
	s->mode[2] = modes_c[b1 >> 6];
}

/* A fixed Toeplitz key and a redirection table spreading over the
 * workers: any key will do, the harness checks ownership through the
 * same tables the worker uses. */
static void steer_rss(struct nat_steer *s, unsigned n)
{
	uint8_t key[40];
	uint16_t reta[128];

	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x6d + 37 * i);
	for (unsigned i = 0; i < 128; i++)
		reta[i] = (uint16_t)(i % n);
	if (nat_steer_rss(s, n, NAT_RSS_INPUT_OUT, key, sizeof(key), reta, 128))
		FZ_FAIL("fixture: nat_steer_rss refused");
}

void fz_begin(const struct fz_setup *s)
{
	struct nat_params p;
	unsigned n = s->n_workers ? s->n_workers : 1;

	fz.in2out = fz.out2in = fz.err_in2out = fz.err_out2in = 0;
	fz.inbound = 0;
	fz.n_sh = 0;
	fz.trace = getenv("FZ_TRACE") != NULL;
	pb_cfg_base(&fz.cfg);
	fz.cfg.slices[1] = (struct sh_slice_cfg){ .ip = FZ_SLICE_B,
						  .lo = 20000, .hi = 20063 };
	fz.cfg.n_slices = 2;
	fz.cfg.nat.udp_timeout = FZ_TO_UDP;
	fz.cfg.nat.tcp_established_timeout = FZ_TO_TCP_EST;
	fz.cfg.nat.tcp_transitory_timeout = FZ_TO_TCP_TRANS;
	fz.cfg.nat.icmp_timeout = FZ_TO_ICMP;
	fz.cfg.nat.max_ports_per_client = s->client_cap;
	fz.cfg.nat.port_hold_down = s->hold_s;
	fz.hold_ms = s->hold_s * 1000u;
	build_set(&fz.sets[0], false, s->mode);
	build_set(&fz.sets[1], true, s->mode);
	fz.ls = &fz.sets[0];
	nat_steer_soft(&fz.steer_in, n);
	if (s->rss && n > 1)
		steer_rss(&fz.steer_out, n);
	else
		nat_steer_soft(&fz.steer_out, n);
	fz.n_workers = n;
	fz.id = s->worker_id % n;
	p = pb_params(&fz.cfg, fz.id, n, FZ_MAX_FLOWS);
	p.steer = &fz.steer_out;
	fz.w = nat_worker_create(&p);
	if (!fz.w)
		FZ_FAIL("fixture: nat_worker_create failed");
	fz.w->now = 1000;
}

void fz_end(void)
{
	nat_worker_destroy(fz.w);
	fz.w = NULL;
}

void fz_advance(uint32_t ms)
{
	/* as sh_worker_main: the whole table swept once a second */
	uint64_t budget = (uint64_t)ms * (FZ_MAX_FLOWS / 1000 + 1);

	fz.w->now += ms;
	if (budget > FZ_MAX_FLOWS)
		budget = FZ_MAX_FLOWS;
	if (budget)
		nat_expire(fz.w, (unsigned)budget);
}

void fz_toggle_draining(void)
{
	fz.ls = fz.ls == &fz.sets[0] ? &fz.sets[1] : &fz.sets[0];
}

const uint8_t *fz_last_frame(void)
{
	return fz.last;
}

/* ---- checksums ----------------------------------------------------------- */

/* IPv4 header offset of @frame, or 0 if the Ethernet header is cut. */
static size_t l2_of(const uint8_t *frame, size_t len, uint16_t *type)
{
	if (len < 14)
		return 0;
	*type = pb_get16(frame + 12);
	if (*type != 0x8100)
		return 14;
	if (len < 18)
		return 0;
	*type = pb_get16(frame + 16);
	return 18;
}

void fz_fix_checksums(uint8_t *frame, size_t len)
{
	uint16_t type;
	size_t l2 = l2_of(frame, len, &type);

	if (l2 && type == 0x0800)
		fz_fix_ip_checksums(frame + l2, len - l2);
}

void fz_fix_ip_checksums(uint8_t *ip, size_t len)
{
	uint8_t *l4, *q;
	unsigned ihl, tot, n;

	if (len < 20 || ip[0] >> 4 != 4)
		return;
	ihl = pb_ihl(ip);
	if (ihl < 20 || ihl > len)
		return;
	tot = pb_get16(ip + 2);
	l4 = ip + ihl;
	n = tot - ihl;
	if (tot >= ihl && tot <= len) {
		switch (ip[9]) {
		case PB_TCP:
			if (n >= 20)
				pb_fix_l4_csum(ip);
			break;
		case PB_UDP:
			if (n >= 8 && pb_get16(l4 + 4) >= 8 &&
			    pb_get16(l4 + 4) <= n && pb_get16(l4 + 6) != 0)
				pb_fix_l4_csum(ip);
			break;
		case PB_ICMP:
			if (n < 8)
				break;
			q = l4 + 8;
			if ((l4[0] == 3 || l4[0] == 11 || l4[0] == 12) &&
			    n >= 8 + 20 && q[0] >> 4 == 4 && pb_ihl(q) >= 20 &&
			    8 + pb_ihl(q) <= n)
				pb_fix_ip_csum(q);
			pb_fix_l4_csum(ip);
			break;
		}
	}
	pb_fix_ip_csum(ip);
}

/* The L4 checksum of a packet nat_parse() accepted, by the oracle. */
static bool l4_ok(const struct nat_pkt *p)
{
	return pb_l4_csum_ok(p->ip);
}

/* ---- the shadow map ------------------------------------------------------ */

static uint32_t to_min_ms(uint8_t proto)
{
	if (proto == PB_UDP)
		return FZ_TO_UDP * 1000u;
	if (proto == PB_ICMP)
		return FZ_TO_ICMP * 1000u;
	return (FZ_TO_TCP_TRANS < FZ_TO_TCP_EST ? FZ_TO_TCP_TRANS
						: FZ_TO_TCP_EST) * 1000u;
}

static uint32_t to_max_ms(uint8_t proto)
{
	if (proto != PB_TCP)
		return to_min_ms(proto);
	return (FZ_TO_TCP_TRANS > FZ_TO_TCP_EST ? FZ_TO_TCP_TRANS
						: FZ_TO_TCP_EST) * 1000u;
}

static bool certainly_live(const struct shadow *e)
{
	return !e->gone && fz.w->now - e->last < to_min_ms(e->proto);
}

static bool certainly_expired(const struct shadow *e)
{
	return e->gone || fz.w->now - e->last >= to_max_ms(e->proto);
}

/* May the flow still be in the table: not expired, or expired less than
 * a sweep of the clock hand ago (fz_advance(): one entry per ms at
 * least, so FZ_MAX_FLOWS ms visit every entry). */
static bool may_exist(const struct shadow *e)
{
	return !e->gone &&
	       fz.w->now - e->last < to_max_ms(e->proto) + FZ_MAX_FLOWS;
}

static bool same_endpoint(const struct shadow *a, const struct shadow *b)
{
	return a->cip == b->cip && a->cport == b->cport && a->proto == b->proto;
}

static bool same_port(const struct shadow *a, const struct shadow *b)
{
	return a->oip == b->oip && a->oport == b->oport && a->proto == b->proto;
}

static bool same_out_tuple(const struct shadow *a, const struct shadow *b)
{
	return same_port(a, b) && a->rip == b->rip && a->rport == b->rport;
}

/* The newest flow of an inside 5-tuple. */
static struct shadow *find_in(uint32_t cip, uint16_t cport, uint32_t rip,
			      uint16_t rport, uint8_t proto)
{
	for (unsigned i = fz.n_sh; i-- > 0;) {
		struct shadow *e = &fz.sh[i];

		if (e->cip == cip && e->cport == cport && e->rip == rip &&
		    e->rport == rport && e->proto == proto)
			return e;
	}
	return NULL;
}

/* The nat lease an outside (ip, port) lies in, NULL if none. */
static const struct nat_lease *lease_at(uint32_t ip, uint16_t port)
{
	const struct nat_lease *l = nat_lease_find(fz.ls, nat_be32(ip), port);

	return l && l->kind == SH_LEASE_NAT ? l : NULL;
}

/* Does the flow's lease give each outside port to one client endpoint? */
static bool exclusive(const struct nat_lease *l, uint8_t proto)
{
	return proto != PB_ICMP && nat_lease_exclusive(l);
}

static const char *mode_name(const struct nat_lease *l)
{
	static const char *const names[2][3] = {
		{ "EIM/ADF", "EIM/EIF", "EIM/APDF" },
		{ "APDM/ADF", "APDM/EIF", "APDM/APDF" },
	};

	return names[l->mapping == SH_MAPPING_APDM][l->filtering % 3];
}

/*
 * A packet to outside tuple (oip, oport) from (rip, rport) was translated
 * to (cip, cport) through an existing flow: the shadow entry it went
 * through (refreshed if @touch). Among entries with that outside tuple
 * which may still be live, the result must be one, and the certainly-live
 * one if there is one.
 */
static void check_out(uint32_t oip, uint16_t oport, uint32_t rip,
		      uint16_t rport, uint8_t proto, uint32_t cip,
		      uint16_t cport, bool touch)
{
	struct shadow *hit = NULL, *live = NULL;

	for (unsigned i = 0; i < fz.n_sh; i++) {
		struct shadow *e = &fz.sh[i];

		if (e->oip != oip || e->oport != oport || e->rip != rip ||
		    e->rport != rport || e->proto != proto ||
		    certainly_expired(e))
			continue;
		if (certainly_live(e))
			live = e;
		if (e->cip == cip && e->cport == cport)
			hit = e;
	}
	if (!hit)
		FZ_FAIL("out2in: outside %08x:%u from %08x:%u proto %u went to "
			"%08x:%u, which no live translation maps there", oip,
			oport, rip, rport, proto, cip, cport);
	if (live && live != hit)
		FZ_FAIL("out2in: outside %08x:%u (live flow of %08x:%u) went "
			"to %08x:%u", oip, oport, live->cip, live->cport, cip,
			cport);
	if (touch)
		hit->last = fz.w->now;
}

/*
 * Flow @n was just created, by a client packet or (@n->inbound) by an
 * outside one: the invariants every new flow keeps against the flows the
 * shadow knows (nat_harness.h, "new flow"), then record it.
 */
static void check_new(const struct shadow *n)
{
	const struct nat_lease *l = lease_at(n->oip, n->oport);
	bool excl = l && exclusive(l, n->proto);
	uint32_t now = fz.w->now, hold = fz.hold_ms;
	struct shadow *old = find_in(n->cip, n->cport, n->rip, n->rport,
				     n->proto);
	const char *how = n->inbound ? "inbound" : "in2out";

	if (!l)
		FZ_FAIL("%s: new flow on %08x:%u, in no nat lease", how, n->oip,
			n->oport);
	if (old && certainly_live(old))
		FZ_FAIL("%s: live flow %08x:%u -> %08x:%u proto %u (outside "
			"%08x:%u) was created again on %08x:%u", how, n->cip,
			n->cport, n->rip, n->rport, n->proto, old->oip,
			old->oport, n->oip, n->oport);
	if (old)
		old->gone = true;
	for (unsigned i = 0; i < fz.n_sh; i++) {
		const struct shadow *e = &fz.sh[i];
		bool other = !same_endpoint(e, n);

		if (certainly_live(e)) {
			if (same_out_tuple(e, n))
				FZ_FAIL("%s: new flow of %08x:%u got outside "
					"%08x:%u -> %08x:%u, held by live "
					"flow of %08x:%u", how, n->cip,
					n->cport, n->oip, n->oport, n->rip,
					n->rport, e->cip, e->cport);
			if (excl && other && same_port(e, n))
				FZ_FAIL("%s: lease %s (%s): outside %08x:%u "
					"proto %u given to %08x:%u while live "
					"for %08x:%u", how, l->name,
					mode_name(l), n->oip, n->oport,
					n->proto, n->cip, n->cport, e->cip,
					e->cport);
			if (excl && l->mapping == SH_MAPPING_EIM &&
			    !other && lease_at(e->oip, e->oport) == l &&
			    (e->oip != n->oip || e->oport != n->oport))
				FZ_FAIL("%s: lease %s (%s): endpoint %08x:%u "
					"proto %u mapped to %08x:%u and, while "
					"that lives, to %08x:%u", how, l->name,
					mode_name(l), n->cip, n->cport,
					n->proto, e->oip, e->oport, n->oip,
					n->oport);
			if (e->cip == n->cip && e->oip != n->oip)
				FZ_FAIL("%s: paired pooling: client %08x has a "
					"live flow on %08x, new one on %08x",
					how, n->cip, e->oip, n->oip);
		}
		/* Hold-down: the other endpoint's flow ended at last +
		 * its class's timeout at the earliest. */
		if (other && (excl ? same_port(e, n) : same_out_tuple(e, n)) &&
		    now - e->last < to_min_ms(e->proto) + hold)
			FZ_FAIL("%s: lease %s (%s) hold-down %u ms: outside "
				"%08x:%u proto %u of %08x:%u (last seen %u ms "
				"ago) given to %08x:%u", how, l->name,
				mode_name(l), hold, n->oip, n->oport, n->proto,
				e->cip, e->cport, now - e->last, n->cip,
				n->cport);
	}
	if (fz.n_sh == FZ_SHADOW_MAX)
		FZ_FAIL("harness: shadow map full");
	fz.sh[fz.n_sh++] = *n;
}

/*
 * Client packet (cip:cport -> rip:rport) left as oip:oport; @created: the
 * worker counted a new flow for it.
 */
static void check_in(uint32_t cip, uint16_t cport, uint32_t rip,
		     uint16_t rport, uint8_t proto, uint32_t oip,
		     uint16_t oport, bool created, bool touch)
{
	struct shadow *e = find_in(cip, cport, rip, rport, proto);

	if (created) {
		const struct shadow n = {
			.cip = cip, .cport = cport, .rip = rip, .rport = rport,
			.proto = proto, .oip = oip, .oport = oport,
			.last = fz.w->now,
		};

		check_new(&n);
		return;
	}
	if (!e || certainly_expired(e))
		FZ_FAIL("in2out: %08x:%u -> %08x:%u proto %u translated "
			"through a flow the shadow %s", cip, cport, rip, rport,
			proto, e ? "knows expired" : "never saw");
	if (e->oip != oip || e->oport != oport)
		FZ_FAIL("in2out: flow %08x:%u -> %08x:%u proto %u mapped to "
			"%08x:%u, now %08x:%u", cip, cport, rip, rport, proto,
			e->oip, e->oport, oip, oport);
	if (touch)
		e->last = fz.w->now;
}

/*
 * Outside packet rip:rport -> oip:oport (@tcp_flags if TCP) made a new
 * flow to cip:cport (filtering admitted it, or @hairpin): the inbound
 * invariants, then the new-flow ones.
 */
static void check_inbound(uint32_t oip, uint16_t oport, uint32_t rip,
			  uint16_t rport, uint8_t proto, uint32_t cip,
			  uint16_t cport, uint8_t tcp_flags, bool hairpin)
{
	const struct nat_lease *l = lease_at(oip, oport);
	const struct shadow n = {
		.cip = cip, .cport = cport, .rip = rip, .rport = rport,
		.proto = proto, .oip = oip, .oport = oport, .inbound = true,
		.last = fz.w->now,
	};
	bool mapped = false, permitted = false;

	if (!l || !exclusive(l, proto))
		FZ_FAIL("inbound: flow from %08x:%u proto %u to %08x:%u, not an "
			"exclusive nat lease (%s)", rip, rport, proto, oip,
			oport, l ? mode_name(l) : "none");
	if (l->state != NAT_LEASE_ACTIVE)
		FZ_FAIL("inbound: new flow on draining lease %s", l->name);
	if (nat_is_slice_ip(fz.ls, nat_be32(rip)) != hairpin)
		FZ_FAIL("inbound: %s from %08x admitted", hairpin ? "hairpin"
			: "packet", rip);
	if (!hairpin && l->filtering == SH_FILTERING_APDF)
		FZ_FAIL("inbound: lease %s (%s) admitted %08x:%u to %08x:%u",
			l->name, mode_name(l), rip, rport, oip, oport);
	if (proto == PB_TCP && (tcp_flags & (PB_SYN | PB_ACK | PB_RST)) != PB_SYN)
		FZ_FAIL("inbound: TCP flags %02x opened a flow", tcp_flags);
	for (unsigned i = 0; i < fz.n_sh; i++) {
		const struct shadow *e = &fz.sh[i];

		if (!same_port(e, &n) || !same_endpoint(e, &n) ||
		    !may_exist(e))
			continue;
		mapped = true;
		permitted |= e->rip == rip;
	}
	if (!mapped)
		FZ_FAIL("inbound: lease %s (%s): %08x:%u proto %u admitted to "
			"%08x:%u as %08x:%u, which has no mapping there that "
			"may exist",
			l->name, mode_name(l), rip, rport, proto, cip, cport,
			oip, oport);
	if (!hairpin && l->filtering == SH_FILTERING_ADF && !permitted)
		FZ_FAIL("inbound: lease %s (%s): %08x:%u admitted to %08x:%u "
			"(%08x:%u), which never sent to %08x", l->name,
			mode_name(l), rip, rport, oip, oport, cip, cport, rip);
	fz.inbound++;
	check_new(&n);
}

/* ---- leases -------------------------------------------------------------- */

/* The nat lease holding (ip, port); checks the client may use it. */
static const struct nat_lease *nat_lease_of(uint32_t ip, uint16_t port,
					    uint32_t client, const char *what)
{
	const struct nat_lease *l = nat_lease_find(fz.ls, nat_be32(ip), port);
	unsigned idx;

	if (!l || l->kind != SH_LEASE_NAT)
		FZ_FAIL("%s: %08x:%u is in %s", what, ip, port,
			l ? "a socket lease" : "no lease");
	idx = (unsigned)(l - fz.ls->leases);
	for (unsigned i = 0; i < fz.ls->n_match; i++) {
		const struct nat_match *m = &fz.ls->match[i];

		if (m->lease == idx && (nat_be32(client) & m->mask) == m->net)
			return l;
	}
	FZ_FAIL("%s: client %08x is not allowed by lease %s (%08x:%u)", what,
		client, l->name, ip, port);
}

static bool is_icmp_error(uint8_t type)
{
	return type == 3 || type == 11 || type == 12;
}

/* Bytes a translation may change: TTL, IPv4 checksum and addresses; the
 * ports (or the id) and the L4 checksum; in an ICMP error also the quoted
 * addresses, checksums and ports. Everything else must stay. */
static void check_unchanged(const uint8_t *a, const uint8_t *b, size_t len,
			    const struct nat_pkt *p)
{
	static uint8_t may[FZ_MAX_FRAME];
	size_t ipo = (size_t)(p->ip - b), l4o = (size_t)(p->l4 - b);
	size_t end = ipo + p->ip_len;

#define MAY(from, n)                                                           \
	do {                                                                   \
		for (size_t k_ = (from); k_ < (from) + (n) && k_ < end; k_++)  \
			may[k_] = 1;                                           \
	} while (0)
	memset(may, 0, len);
	MAY(ipo + 8, 1);
	MAY(ipo + 10, 10);
	switch (p->proto) {
	case PB_TCP:
		MAY(l4o, 4);
		MAY(l4o + 16, 2);
		break;
	case PB_UDP:
		MAY(l4o, 4);
		MAY(l4o + 6, 2);
		break;
	default:
		MAY(l4o + 2, 2);
		if (!is_icmp_error(a[l4o])) {
			MAY(l4o + 4, 2);
			break;
		}
		{
			size_t q = l4o + 8, ql4 = q + pb_ihl(a + q);

			MAY(q + 10, 10);
			MAY(ql4, 8);
			if (a[q + 9] == PB_TCP)
				MAY(ql4 + 16, 2);
		}
	}
#undef MAY
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i] && !may[i])
			FZ_FAIL("translation changed byte %zu (%02x -> %02x)",
				i, a[i], b[i]);
}

/* ---- invariants ---------------------------------------------------------- */

static void check_counters(void)
{
	const struct nat_worker *w = fz.w;
	uint64_t created = w->cnt[SH_CNT_FLOW_CREATED];
	uint64_t expired = w->cnt[SH_CNT_FLOW_EXPIRED];
	unsigned live = 0;

	if (w->cnt[SH_CNT_IN2OUT] != fz.in2out ||
	    w->cnt[SH_CNT_OUT2IN] != fz.out2in ||
	    w->cnt[SH_CNT_ICMP_ERR_IN2OUT] != fz.err_in2out ||
	    w->cnt[SH_CNT_ICMP_ERR_OUT2IN] != fz.err_out2in ||
	    w->cnt[SH_CNT_FLOW_INBOUND] != fz.inbound)
		FZ_FAIL("counters: in2out %llu/%llu out2in %llu/%llu icmp err "
			"%llu/%llu %llu/%llu inbound %llu/%llu "
			"(counted/translated)",
			(unsigned long long)w->cnt[SH_CNT_IN2OUT],
			(unsigned long long)fz.in2out,
			(unsigned long long)w->cnt[SH_CNT_OUT2IN],
			(unsigned long long)fz.out2in,
			(unsigned long long)w->cnt[SH_CNT_ICMP_ERR_IN2OUT],
			(unsigned long long)fz.err_in2out,
			(unsigned long long)w->cnt[SH_CNT_ICMP_ERR_OUT2IN],
			(unsigned long long)fz.err_out2in,
			(unsigned long long)w->cnt[SH_CNT_FLOW_INBOUND],
			(unsigned long long)fz.inbound);
	if (created < expired || created - expired != nat_flow_count(w))
		FZ_FAIL("counters: created %llu - expired %llu != %u live",
			(unsigned long long)created,
			(unsigned long long)expired, nat_flow_count(w));
	if (nat_flow_count(w) > FZ_MAX_FLOWS)
		FZ_FAIL("flows: %u > max_flows %u", nat_flow_count(w),
			FZ_MAX_FLOWS);
	for (unsigned i = 0; i < fz.n_sh; i++)
		live += certainly_live(&fz.sh[i]);
	if (live > nat_flow_count(w))
		FZ_FAIL("flows: %u certainly live, the table holds %u", live,
			nat_flow_count(w));
}

/* Port-like field the NAT keys on: the port at @off, or the echo id. */
static uint16_t l4_port(const uint8_t *l4, uint8_t proto, unsigned off)
{
	return proto == PB_ICMP ? pb_get16(l4 + 4) : pb_get16(l4 + off);
}

/* Does this worker own the outside port of a flow it translated? An
 * exclusive lease's port is P % workers == ours whatever the steer;
 * otherwise the tuple's owner under the outside steer. */
static void check_port_owner(uint32_t oip, uint16_t oport, uint32_t rip,
			     uint16_t rport, uint8_t proto, bool excl)
{
	uint32_t base = 0;

	if (excl) {
		if (oport % fz.n_workers != fz.id)
			FZ_FAIL("in2out: exclusive port %u on worker %u of %u",
				oport, fz.id, fz.n_workers);
		return;
	}
	if (fz.steer_out.rss)
		base = nat_steer_base(&fz.steer_out, nat_be32(oip),
				      nat_be32(rip), nat_be16(rport));
	if (!nat_worker_owns_port(fz.w, base, nat_be16(oport), proto))
		FZ_FAIL("in2out: port %u (to %08x:%u) not owned by worker %u",
			oport, rip, rport, fz.id);
}

/* Invariants for a translated packet; @a before, @p after (in @b).
 * @created: the worker counted a new flow for it; @hairpin: the
 * turned-around half of a hairpin (out2in). */
static void check_translated(enum fz_dir dir, const uint8_t *a,
			     const uint8_t *b, const struct nat_pkt *p,
			     bool created, bool hairpin)
{
	size_t ipo = (size_t)(p->ip - b), l4o = (size_t)(p->l4 - b);
	const uint8_t *ip0 = a + ipo, *l40 = a + l4o, *ip = p->ip, *l4 = p->l4;
	bool err = p->proto == PB_ICMP && is_icmp_error(l40[0]);

	if (!pb_ip_csum_ok(ip))
		FZ_FAIL("translated packet: IPv4 header checksum wrong");
	if (!pb_l4_csum_ok(ip))
		FZ_FAIL("translated packet: L4 checksum wrong (proto %u)",
			p->proto);
	if (ip[8] != (uint8_t)(ip0[8] - 1) || ip0[8] <= 1)
		FZ_FAIL("translated packet: TTL %u -> %u", ip0[8], ip[8]);

	if (!err) {
		uint8_t pr = p->proto;

		if (pr == PB_ICMP && l40[0] != (dir == FZ_IN ? 8 : 0))
			FZ_FAIL("ICMP type %u translated", l40[0]);
		if (dir == FZ_IN) {
			uint32_t oip = pb_get32(ip + 12), rip = pb_get32(ip0 + 16);
			uint16_t oport = l4_port(l4, pr, 0);
			uint16_t rport = pr == PB_ICMP ? 0 : pb_get16(l40 + 2);
			const struct nat_lease *l;

			l = nat_lease_of(oip, oport, pb_get32(ip0 + 12),
					 "in2out");
			if (created && l->state != NAT_LEASE_ACTIVE)
				FZ_FAIL("in2out: new flow on a draining lease");
			check_port_owner(oip, oport, rip, rport, pr,
					 exclusive(l, pr));
			if (pb_get32(ip + 16) != rip ||
			    (pr != PB_ICMP && pb_get16(l4 + 2) != rport))
				FZ_FAIL("in2out: destination changed");
			check_in(pb_get32(ip0 + 12), l4_port(l40, pr, 0), rip,
				 rport, pr, oip, oport, created, true);
			fz.in2out++;
		} else {
			uint32_t cip = pb_get32(ip + 16), oip = pb_get32(ip0 + 16);
			uint32_t rip = pb_get32(ip0 + 12);
			uint16_t oport = l4_port(l40, pr, 2);
			uint16_t rport = pr == PB_ICMP ? 0 : pb_get16(l40);

			nat_lease_of(oip, oport, cip, "out2in");
			if (pb_get32(ip + 12) != rip ||
			    (pr != PB_ICMP && pb_get16(l4) != rport))
				FZ_FAIL("out2in: source changed");
			if (created)
				check_inbound(oip, oport, rip, rport, pr, cip,
					      l4_port(l4, pr, 2),
					      pr == PB_TCP ? l40[13] : 0,
					      hairpin);
			else
				check_out(oip, oport, rip, rport, pr, cip,
					  l4_port(l4, pr, 2), true);
			fz.out2in++;
		}
		return;
	}

	/* ICMP errors: the quote travelled the other way (RFC 5508). */
	{
		const uint8_t *q0 = l40 + 8, *q = l4 + 8;
		const uint8_t *ql40 = q0 + pb_ihl(q0), *ql4 = q + pb_ihl(q);
		uint8_t qp = q0[9];

		if (!pb_ip_csum_ok(q))
			FZ_FAIL("translated ICMP error: quoted IPv4 header "
				"checksum wrong");
		if (dir == FZ_IN) {
			/* quote: remote:rport -> client:cport */
			uint32_t oip = pb_get32(q + 16);
			uint16_t oport = l4_port(ql4, qp, 2);

			if (pb_get32(ip + 12) != oip)
				FZ_FAIL("in2out ICMP error: outer source %08x, "
					"quoted destination %08x",
					pb_get32(ip + 12), oip);
			nat_lease_of(oip, oport, pb_get32(q0 + 16),
				     "in2out ICMP error");
			check_in(pb_get32(q0 + 16), l4_port(ql40, qp, 2),
				 pb_get32(q0 + 12),
				 qp == PB_ICMP ? 0 : pb_get16(ql40), qp, oip,
				 oport, false, false);
			fz.err_in2out++;
		} else {
			/* quote: slice:oport -> remote:rport */
			uint32_t cip = pb_get32(q + 12);

			if (pb_get32(ip + 16) != cip)
				FZ_FAIL("out2in ICMP error: outer destination "
					"%08x, quoted source %08x",
					pb_get32(ip + 16), cip);
			nat_lease_of(pb_get32(q0 + 12), l4_port(ql40, qp, 0),
				     cip, "out2in ICMP error");
			check_out(pb_get32(q0 + 12), l4_port(ql40, qp, 0),
				  pb_get32(q0 + 16),
				  qp == PB_ICMP ? 0 : pb_get16(ql40 + 2), qp,
				  cip, l4_port(ql4, qp, 0), false);
			fz.err_out2in++;
		}
	}
}

/* An outside packet went to Linux: it must be for a socket lease if it
 * is TCP/UDP or an echo reply to a slice address. */
static void check_kernel_punt(const struct nat_pkt *p)
{
	uint32_t dst = pb_get32(p->ip + 16);
	const struct nat_lease *l;
	uint16_t port;

	if (!nat_is_slice_ip(fz.ls, nat_be32(dst)))
		return;
	if (p->proto == PB_ICMP && p->l4[0] != 0)
		return;
	port = l4_port(p->l4, p->proto, 2);
	l = nat_lease_find(fz.ls, nat_be32(dst), port);
	if (!l || l->kind != SH_LEASE_SOCKET)
		FZ_FAIL("out2in: %08x:%u (proto %u) punted to Linux, not a "
			"socket lease's port", dst, port, p->proto);
}

/* Linux's own packet passed the egress check: from a slice address, a
 * TCP/UDP source port or echo id must be a socket lease's. */
static void check_kernel_egress(const uint8_t *f, size_t len)
{
	uint16_t type;
	size_t l2 = l2_of(f, len, &type);
	const uint8_t *ip = f + l2, *l4;
	const struct nat_lease *l;
	unsigned ihl, tot;
	uint32_t src;
	uint16_t port;

	if (!l2 || type != 0x0800 || len < l2 + 20 || ip[0] >> 4 != 4)
		return;
	ihl = pb_ihl(ip);
	tot = pb_get16(ip + 2);
	if (ihl < 20 || tot < ihl + 8 || tot > len - l2 ||
	    (pb_get16(ip + 6) & 0x1fff))
		return;
	src = pb_get32(ip + 12);
	if (!nat_is_slice_ip(fz.ls, nat_be32(src)))
		return;
	l4 = ip + ihl;
	if (ip[9] == PB_TCP || ip[9] == PB_UDP)
		port = pb_get16(l4);
	else if (ip[9] == PB_ICMP && (l4[0] == 0 || l4[0] == 8))
		port = pb_get16(l4 + 4);
	else
		return;
	l = nat_lease_find(fz.ls, nat_be32(src), port);
	if (!l || l->kind != SH_LEASE_SOCKET)
		FZ_FAIL("kernel egress: %08x:%u (proto %u) passed outside every "
			"socket lease", src, port, ip[9]);
}

/*
 * One translator call on the frame in @buf (parsed into @p), as the
 * worker makes it: nat_in2out() for @dir FZ_IN, else nat_out2in() (with
 * p->hairpin for the turned-around half of a hairpin). @before: the frame
 * as it went in; a translated frame is copied to @out. The verdict, all
 * its invariants checked.
 */
static unsigned run_stage(enum fz_dir dir, uint8_t *buf, size_t len,
			  struct nat_pkt *p, const uint8_t *before,
			  uint8_t *out)
{
	const struct nat_worker *w = fz.w;
	uint64_t c0 = w->cnt[SH_CNT_FLOW_CREATED];
	uint64_t i0 = w->cnt[SH_CNT_FLOW_INBOUND];
	bool err = p->proto == PB_ICMP && is_icmp_error(p->l4[0]);
	bool to_slice = nat_is_slice_ip(fz.ls, nat_be32(pb_get32(p->ip + 16)));
	uint64_t nc, ni;
	unsigned v;

	v = dir == FZ_IN ? nat_in2out(fz.w, fz.ls, p)
			 : nat_out2in(fz.w, fz.ls, p);
	nc = w->cnt[SH_CNT_FLOW_CREATED] - c0;
	ni = w->cnt[SH_CNT_FLOW_INBOUND] - i0;
	if (fz.trace)
		fprintf(stderr, "fz: t=%u %s%s proto %u %08x -> %08x: verdict "
			"%u, %llu new flow(s)\n", w->now,
			dir == FZ_IN ? "in2out" : "out2in",
			p->hairpin ? " (hairpin)" : "", p->proto,
			pb_get32(p->ip + 12), pb_get32(p->ip + 16), v,
			(unsigned long long)nc);
	if (nc > 1)
		FZ_FAIL("flows: %llu created by one %s", (unsigned long long)nc,
			dir == FZ_IN ? "in2out" : "out2in");
	if (dir == FZ_IN ? ni != 0 : ni != nc)
		FZ_FAIL("flows: %s created %llu, flows_inbound +%llu",
			dir == FZ_IN ? "in2out" : "out2in",
			(unsigned long long)nc, (unsigned long long)ni);
	if (nc && (err || (v != SH_OK && (dir != FZ_IN || v != NAT_HAIRPIN)) ||
		   (dir != FZ_IN && p->proto == PB_ICMP)))
		FZ_FAIL("flows: a flow created by a %s packet (proto %u) with "
			"verdict %u", dir == FZ_IN ? "client" : "outside",
			p->proto, v);

	switch (v) {
	case NAT_KERNEL:
		if (memcmp(buf, before, len))
			FZ_FAIL("a packet for Linux was modified");
		if (dir == FZ_OUT && !err)
			check_kernel_punt(p);
		return v;
	case NAT_HANDOFF: {
		uint16_t dport;
		const struct nat_lease *l;

		if (dir != FZ_OUT || err || p->proto == PB_ICMP)
			FZ_FAIL("NAT_HANDOFF from %s, proto %u",
				dir == FZ_IN ? "in2out" : "out2in", p->proto);
		if (memcmp(buf, before, len))
			FZ_FAIL("a packet handed off was modified");
		dport = pb_get16(p->l4 + 2);
		l = lease_at(pb_get32(p->ip + 16), dport);
		if (!l || !exclusive(l, p->proto))
			FZ_FAIL("NAT_HANDOFF for port %u, not an exclusive "
				"lease's", dport);
		if (p->to_worker != dport % fz.n_workers || p->to_worker == fz.id)
			FZ_FAIL("NAT_HANDOFF of port %u to worker %u (of %u, we "
				"are %u)", dport, p->to_worker, fz.n_workers,
				fz.id);
		return v;
	}
	case NAT_HAIRPIN:
		if (dir != FZ_IN || err || !to_slice)
			FZ_FAIL("NAT_HAIRPIN from %s to %08x (error %d)",
				dir == FZ_IN ? "in2out" : "out2in",
				pb_get32(p->ip + 16), err);
		break;
	case SH_OK:
		if (dir == FZ_IN && !err && to_slice)
			FZ_FAIL("in2out to slice address %08x: SH_OK, not "
				"NAT_HAIRPIN", pb_get32(p->ip + 16));
		break;
	default:
		if (v >= SH_COUNTER_MAX)
			FZ_FAIL("verdict %u is no counter", v);
		return v;
	}
	{
		struct nat_pkt q = *p;

		memcpy(out, buf, len);
		/* re-point at @out for the offset arithmetic */
		q.ip = out + (p->ip - buf);
		q.l4 = out + (p->l4 - buf);
		check_unchanged(before, out, len, &q);
		check_translated(dir, before, out, &q, nc != 0, p->hairpin);
	}
	return v;
}

unsigned fz_packet(enum fz_dir dir, const uint8_t *frame, size_t len,
		   bool nic_l4_ok)
{
	uint8_t *buf;
	struct nat_pkt p;
	unsigned v;
	int owner;

	if (len > FZ_MAX_FRAME)
		return SH_DROP_L2_MALFORMED;
	/* a heap copy of exactly @len bytes: ASan sees any overread */
	buf = malloc(len ? len : 1);
	if (!buf)
		abort();
	memcpy(buf, frame, len);
	memcpy(fz.orig, frame, len);

	if (dir == FZ_KERNEL) {
		v = nat_kernel_egress_check(fz.ls, buf, (uint32_t)len);
		if (v != SH_OK && v != SH_DROP_KERNEL_PORT_VIOLATION)
			FZ_FAIL("kernel egress: verdict %u", v);
		if (memcmp(buf, fz.orig, len))
			FZ_FAIL("kernel egress check wrote to the frame");
		if (v == SH_OK)
			check_kernel_egress(buf, len);
		goto out;
	}

	/* The NIC's L4 verdict is only ever a true one. */
	v = nat_parse(&p, buf, (uint32_t)len, nic_l4_ok);
	/* A fragment goes to virtual reassembly (engine/nat/frag.c, tested
	 * by tests/unit/test_frag.c), not straight to the translators that
	 * these invariants are about; as for another worker's packet, the
	 * harness stops here. */
	if (v == SH_OK && p.frag) {
		v = UINT32_MAX;
		goto out;
	}
	if (v == SH_OK && nic_l4_ok && !l4_ok(&p))
		v = nat_parse(&p, buf, (uint32_t)len, false);
	if (memcmp(buf, fz.orig, len))
		FZ_FAIL("nat_parse wrote to the frame");
	if (v != SH_OK)
		goto out;
	owner = nat_pkt_owner(&fz.steer_in, &fz.steer_out, &p, dir == FZ_OUT);
	if (owner >= 0 && (unsigned)owner != fz.id) {
		v = UINT32_MAX; /* another worker's: handed off */
		goto out;
	}
	p.hairpin = false;
	v = run_stage(dir, buf, len, &p, fz.orig, fz.last);
	if (v != NAT_HAIRPIN)
		goto out;
	/* engine/worker.c hairpin(): the translated packet goes through the
	 * outside path on the worker that owns it; another worker's is
	 * handed over, and its checks are that worker's. */
	owner = nat_pkt_owner(&fz.steer_in, &fz.steer_out, &p, true);
	if (owner < 0 || (unsigned)owner == fz.id) {
		p.hairpin = true;
		run_stage(FZ_OUT, buf, len, &p, fz.last, fz.turned);
	}
out:
	check_counters();
	free(buf);
	return v;
}
