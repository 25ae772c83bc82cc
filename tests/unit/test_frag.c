/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fragments by virtual reassembly (RFC 4787 REQ-14; engine/nat/frag.h):
 * the NAT core on byte buffers with a virtual clock, doing what a worker
 * does: nat_parse, nat_frag_in (stage 1), nat_frag_xlate (stage 2), and
 * nat_frag_retry for the fragments stage 1 said to hold.
 *
 * The oracle: a datagram built whole by pkt_build.h is cut into
 * fragments; the translated fragments, put back together, must equal the
 * datagram built whole with the translated fields (so the L4 checksum,
 * which only the first fragment carries and the engine updated without
 * ever seeing the whole datagram, is right), and each fragment's IPv4
 * header checksum must be right on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nat/owner.h"
#include "pkt_build.h"

#define CLIENT PB_IP(10, 0, 0, 5)
#define BIG 4096
#define MAXF 16

static struct sh_config cfg;
static struct nat_lease_set ls;
static struct nat_worker *w;
static uint8_t payload[3000];

struct frags {
	unsigned n;
	size_t len[MAXF];
	uint8_t f[MAXF][PB_MAX_FRAME];
};

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
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

/* Cut the datagram built from @s (no VLAN, no options) into fragments of
 * @chunk payload bytes (a multiple of 8), with IPv4 id @id. */
static void cut(const struct pb_spec *s, uint16_t id, unsigned chunk,
		struct frags *fr)
{
	static uint8_t whole[BIG];
	size_t len = pb_build(whole, s);
	const uint8_t *ip = whole + PB_ETH_LEN;
	unsigned data = (unsigned)len - PB_ETH_LEN - 20, off;

	fr->n = 0;
	for (off = 0; off < data; off += chunk) {
		unsigned n = data - off < chunk ? data - off : chunk;
		uint8_t *f = fr->f[fr->n], *fip = f + PB_ETH_LEN;

		assert_true(fr->n < MAXF);
		memcpy(f, whole, PB_ETH_LEN + 20);
		memcpy(fip + 20, ip + 20 + off, n);
		pb_put16(fip + 2, (uint16_t)(20 + n));
		pb_put16(fip + 4, id);
		pb_put16(fip + 6, (uint16_t)((off + n < data ? 0x2000 : 0) |
					     off / 8));
		pb_fix_ip_csum(fip);
		fr->len[fr->n++] = PB_ETH_LEN + 20 + n;
	}
}

/* Put translated fragments back together into @out as one datagram
 * (frag field 0, id 0x1234 as pkt_build.h has it); its length. Each
 * fragment's own header checksum must be right. */
static size_t glue(const struct frags *fr, uint8_t *out)
{
	unsigned total = 0, i;

	memcpy(out, fr->f[0], PB_ETH_LEN + 20);
	for (i = 0; i < fr->n; i++) {
		const uint8_t *fip = fr->f[i] + PB_ETH_LEN;
		unsigned off = (pb_get16(fip + 6) & 0x1fff) * 8u;
		unsigned n = pb_get16(fip + 2) - 20u;

		assert_true(pb_ip_csum_ok(fip));
		memcpy(out + PB_ETH_LEN + 20 + off, fip + 20, n);
		if (off + n > total)
			total = off + n;
	}
	pb_put16(out + PB_ETH_LEN + 2, (uint16_t)(20 + total));
	pb_put16(out + PB_ETH_LEN + 4, 0x1234);
	pb_put16(out + PB_ETH_LEN + 6, 0);
	pb_fix_ip_csum(out + PB_ETH_LEN);
	return PB_ETH_LEN + 20 + total;
}

/* What a worker does with a fragment it received: stage 1, then (unless
 * held or refused) stage 2. Verdict; @r what stage 1 said. */
static unsigned run(uint8_t *f, size_t len, bool out2in,
		    struct nat_frag_res *r)
{
	struct nat_pkt p;
	unsigned v = nat_parse(&p, f, (uint32_t)len, false);

	memset(r, 0, sizeof(*r));
	if (v != SH_OK)
		return v;
	assert_int_not_equal(p.frag, 0);
	v = nat_frag_in(w, &ls, &p, out2in, r);
	if (v == SH_OK)
		v = nat_frag_xlate(w, &ls, &p, out2in, r);
	return v;
}

/* A held fragment, asked about again (held since @since). */
static unsigned retry(uint8_t *f, size_t len, bool out2in, uint32_t since)
{
	struct nat_frag_res r;
	struct nat_pkt p;
	unsigned v;

	assert_int_equal(nat_parse(&p, f, (uint32_t)len, false), SH_OK);
	v = nat_frag_retry(w, &p, since, &r);
	if (v == SH_OK)
		v = nat_frag_xlate(w, &ls, &p, out2in, &r);
	return v;
}

/* Translate every fragment in order; all must pass. */
static void run_all(struct frags *fr, bool out2in)
{
	struct nat_frag_res r;

	for (unsigned i = 0; i < fr->n; i++)
		assert_int_equal(run(fr->f[i], fr->len[i], out2in, &r), SH_OK);
}

/* The datagram built from @x must equal the glued fragments. */
static void check_glued(const struct frags *fr, const struct pb_spec *x)
{
	static uint8_t got[BIG], want[BIG];
	size_t len = glue(fr, got);

	assert_int_equal(pb_build(want, x), len);
	assert_memory_equal(got, want, len);
	assert_true(pb_l4_csum_ok(got + PB_ETH_LEN));
}

/* ---- in order, both ways ---------------------------------------------- */

/* A 3000-byte UDP datagram out in three fragments and an answer back in
 * three: one flow, the port rewritten in the first fragment only, the
 * address in each, the L4 checksum of the whole right both ways. */
static void test_rfc4787_req14_udp_in_order_both_ways(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4000, PB_REMOTE, 53), x, rs;
	static struct frags fr;
	uint16_t port;

	(void)state;
	s.payload = payload;
	s.payload_len = sizeof(payload);
	cut(&s, 0x1234, 1232, &fr);
	assert_int_equal(fr.n, 3);
	run_all(&fr, false);
	port = pb_get16(fr.f[0] + PB_ETH_LEN + 20);
	assert_in_range(port, 10000, 10999);
	x = s;
	x.src = PB_SLICE;
	x.sport = port;
	x.ttl = 63;
	check_glued(&fr, &x);
	assert_int_equal(w->cnt[SH_CNT_IN2OUT], 3);
	assert_int_equal(w->cnt[SH_CNT_FRAGMENTS], 3);
	assert_int_equal(nat_flow_count(w), 1);

	rs = pb_udp(PB_REMOTE, 53, PB_SLICE, port);
	rs.payload = payload;
	rs.payload_len = 2500;
	cut(&rs, 0x1234, 1000, &fr);
	assert_int_equal(fr.n, 3);
	run_all(&fr, true);
	x = rs;
	x.dst = CLIENT;
	x.dport = 4000;
	x.ttl = 63;
	check_glued(&fr, &x);
	assert_int_equal(w->cnt[SH_CNT_OUT2IN], 3);
	assert_int_equal(w->cnt[SH_CNT_FRAGMENTS], 6);
}

/* ping -s 3000: a fragmented echo request and its fragmented reply. */
static void test_rfc4787_req14_icmp_echo_both_ways(void **state)
{
	struct pb_spec s = pb_icmp(CLIENT, PB_REMOTE, 8, 0, 777, 1), x, rs;
	static struct frags fr;
	uint16_t id;

	(void)state;
	s.payload = payload;
	s.payload_len = 3000;
	cut(&s, 0x4242, 1232, &fr);
	run_all(&fr, false);
	id = pb_get16(fr.f[0] + PB_ETH_LEN + 24);
	x = s;
	x.src = PB_SLICE;
	x.icmp_id = id;
	x.ttl = 63;
	check_glued(&fr, &x);

	rs = pb_icmp(PB_REMOTE, PB_SLICE, 0, 0, id, 1);
	rs.payload = payload;
	rs.payload_len = 3000;
	cut(&rs, 0x4242, 1232, &fr);
	run_all(&fr, true);
	x = rs;
	x.dst = CLIENT;
	x.icmp_id = 777;
	x.ttl = 63;
	check_glued(&fr, &x);
}

/* A TCP segment split after its header (a sender ignoring DF). */
static void test_rfc4787_req14_tcp_first_fragment_opens_flow(void **state)
{
	struct pb_spec s = pb_tcp(CLIENT, 40000, PB_REMOTE, 443, PB_SYN), x;
	static struct frags fr;

	(void)state;
	s.payload = payload;
	s.payload_len = 100;
	cut(&s, 7, 48, &fr);
	run_all(&fr, false);
	x = s;
	x.src = PB_SLICE;
	x.sport = pb_get16(fr.f[0] + PB_ETH_LEN + 20);
	x.ttl = 63;
	check_glued(&fr, &x);
}

/* ---- out of order ------------------------------------------------------ */

/* Later fragments before the first are held, then translated once it
 * came; the outside answer arrives last fragment first too. */
static void test_rfc4787_req14_out_of_order_held_then_released(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4001, PB_REMOTE, 5353), x, rs;
	static struct frags fr;
	struct nat_frag_res r;
	uint16_t port;

	(void)state;
	s.payload = payload;
	s.payload_len = 3000;
	cut(&s, 99, 1232, &fr);
	assert_int_equal(run(fr.f[2], fr.len[2], false, &r), NAT_FRAG_HOLD);
	assert_int_equal(run(fr.f[1], fr.len[1], false, &r), NAT_FRAG_HOLD);
	assert_int_equal(retry(fr.f[2], fr.len[2], false, w->now), NAT_FRAG_HOLD);
	assert_int_equal(w->cnt[SH_CNT_FRAG_HELD], 2);
	assert_int_equal(w->frag.held, 2);
	w->now += 100;
	assert_int_equal(run(fr.f[0], fr.len[0], false, &r), SH_OK);
	assert_true(r.release);
	assert_int_equal(retry(fr.f[2], fr.len[2], false, w->now - 100), SH_OK);
	assert_int_equal(retry(fr.f[1], fr.len[1], false, w->now - 100), SH_OK);
	assert_int_equal(w->frag.held, 0);
	port = pb_get16(fr.f[0] + PB_ETH_LEN + 20);
	x = s;
	x.src = PB_SLICE;
	x.sport = port;
	x.ttl = 63;
	check_glued(&fr, &x);

	rs = pb_udp(PB_REMOTE, 5353, PB_SLICE, port);
	rs.payload = payload;
	rs.payload_len = 3000;
	cut(&rs, 99, 1232, &fr);
	assert_int_equal(run(fr.f[2], fr.len[2], true, &r), NAT_FRAG_HOLD);
	assert_int_equal(run(fr.f[0], fr.len[0], true, &r), SH_OK);
	assert_true(r.release);
	assert_int_equal(run(fr.f[1], fr.len[1], true, &r), SH_OK);
	assert_int_equal(retry(fr.f[2], fr.len[2], true, w->now), SH_OK);
	x = rs;
	x.dst = CLIENT;
	x.dport = 4001;
	x.ttl = 63;
	check_glued(&fr, &x);
}

/* A held fragment whose first fragment never comes is dropped after
 * NAT_FRAG_HOLD_MS, not before. */
static void test_rfc4787_req14_held_fragment_times_out(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4002, PB_REMOTE, 53);
	static struct frags fr;
	struct nat_frag_res r;
	uint32_t since = w->now;

	(void)state;
	s.payload = payload;
	s.payload_len = 2000;
	cut(&s, 5, 1232, &fr);
	assert_int_equal(run(fr.f[1], fr.len[1], false, &r), NAT_FRAG_HOLD);
	w->now += NAT_FRAG_HOLD_MS - 1;
	assert_int_equal(retry(fr.f[1], fr.len[1], false, since), NAT_FRAG_HOLD);
	w->now += 1;
	assert_int_equal(retry(fr.f[1], fr.len[1], false, since),
			 SH_DROP_FRAG_TIMEOUT);
	assert_int_equal(w->frag.held, 0);
	assert_int_equal(nat_flow_count(w), 0);
}

/* At most NAT_FRAG_HOLD_PER_DGRAM fragments of one datagram and
 * NAT_FRAG_HOLD_MAX in all are held. */
static void test_rfc4787_req14_hold_caps_count_too_many(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4003, PB_REMOTE, 53);
	static struct frags fr;
	struct nat_frag_res r;
	unsigned i, held = 0;

	(void)state;
	s.payload = payload;
	s.payload_len = 3000;
	cut(&s, 1, 256, &fr); /* 12 fragments */
	for (i = 1; i <= NAT_FRAG_HOLD_PER_DGRAM; i++)
		assert_int_equal(run(fr.f[i], fr.len[i], false, &r), NAT_FRAG_HOLD);
	assert_int_equal(run(fr.f[i], fr.len[i], false, &r), SH_DROP_FRAG_TOO_MANY);
	held = NAT_FRAG_HOLD_PER_DGRAM;
	/* other datagrams (ids) fill the worker's cap */
	for (uint16_t id = 2; held < NAT_FRAG_HOLD_MAX; id++) {
		cut(&s, id, 256, &fr);
		assert_int_equal(run(fr.f[1], fr.len[1], false, &r), NAT_FRAG_HOLD);
		held++;
	}
	cut(&s, 1000, 256, &fr);
	assert_int_equal(run(fr.f[1], fr.len[1], false, &r), SH_DROP_FRAG_TOO_MANY);
	assert_int_equal(w->frag.held, NAT_FRAG_HOLD_MAX);
	assert_int_equal(w->cnt[SH_CNT_FRAG_HELD], NAT_FRAG_HOLD_MAX);
}

/* The datagram table is bounded: first fragments of ever new datagrams
 * find it full (no later fragment gets a wrong translation), and entries
 * free themselves after NAT_FRAG_TIMEOUT_MS. */
static void test_rfc4787_req14_table_full_then_expires(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, 4004, PB_REMOTE, 53);
	static struct frags fr;
	struct nat_frag_res r;
	unsigned ok = 0, full = 0, v;

	(void)state;
	s.payload = payload;
	s.payload_len = 600;
	for (uint32_t id = 0; id < 4 * NAT_FRAG_ENTRIES; id++) {
		cut(&s, (uint16_t)id, 512, &fr);
		v = run(fr.f[0], fr.len[0], false, &r);
		if (v == SH_OK)
			ok++;
		else if (v == SH_DROP_FRAG_TABLE_FULL)
			full++;
		else
			fail_msg("id %u: verdict %u", id, v);
	}
	assert_true(ok <= NAT_FRAG_ENTRIES);
	assert_true(ok > NAT_FRAG_ENTRIES / 2);
	assert_int_equal(ok + full, 4 * NAT_FRAG_ENTRIES);
	/* the last id was refused: its later fragment finds no room either */
	assert_int_equal(v, SH_DROP_FRAG_TABLE_FULL);
	assert_int_equal(run(fr.f[1], fr.len[1], false, &r),
			 SH_DROP_FRAG_TABLE_FULL);
	w->now += NAT_FRAG_TIMEOUT_MS;
	cut(&s, 4242, 512, &fr);
	assert_int_equal(run(fr.f[0], fr.len[0], false, &r), SH_OK);
	assert_int_equal(run(fr.f[1], fr.len[1], false, &r), SH_OK);
}

/* ---- what is not translated ------------------------------------------- */

/* A later fragment whose first fragment was refused (no lease for the
 * client) is dropped ip_fragment, as is every piece of an ICMP error. */
static void test_rfc4787_req14_untranslatable_fragments_dropped(void **state)
{
	struct pb_spec s = pb_udp(PB_IP(172, 16, 0, 1), 4005, PB_REMOTE, 53);
	struct pb_spec e = pb_icmp(CLIENT, PB_REMOTE, 3, 3, 0, 0);
	static struct frags fr;
	struct nat_frag_res r;

	(void)state;
	s.payload = payload;
	s.payload_len = 2000;
	cut(&s, 9, 1232, &fr);
	assert_int_equal(run(fr.f[0], fr.len[0], false, &r), SH_DROP_NO_LEASE);
	assert_int_equal(run(fr.f[1], fr.len[1], false, &r), SH_DROP_IP_FRAGMENT);

	e.payload = payload;
	e.payload_len = 2000;
	cut(&e, 10, 1232, &fr);
	assert_int_equal(run(fr.f[0], fr.len[0], false, &r), SH_DROP_IP_FRAGMENT);
	assert_int_equal(run(fr.f[1], fr.len[1], false, &r), SH_DROP_IP_FRAGMENT);
	e.src = PB_REMOTE;
	e.dst = PB_SLICE;
	cut(&e, 11, 1232, &fr);
	assert_int_equal(run(fr.f[1], fr.len[1], true, &r), NAT_FRAG_HOLD);
	assert_int_equal(run(fr.f[0], fr.len[0], true, &r), SH_DROP_IP_FRAGMENT);
	assert_true(r.release);
	assert_int_equal(retry(fr.f[1], fr.len[1], true, w->now),
			 SH_DROP_IP_FRAGMENT);
	assert_int_equal(nat_flow_count(w), 0);
	assert_int_equal(w->cnt[SH_CNT_FRAGMENTS], 0);
}

/* Fragments for Linux go to Linux whole-sale: to a non-slice address, to
 * a socket lease's port, a ping to the slice address; inside, to the
 * engine's own address. Unsolicited ones are dropped like whole packets. */
static void test_rfc4787_req14_fragments_for_linux_and_unsolicited(void **state)
{
	struct pb_spec s = pb_udp(PB_REMOTE, 53, PB_HOST_OUT, 4000);
	static struct frags fr;
	struct nat_frag_res r;

	(void)state;
	s.payload = payload;
	s.payload_len = 2000;
	cut(&s, 1, 1232, &fr);
	assert_int_equal(run(fr.f[1], fr.len[1], true, &r), NAT_KERNEL);
	assert_int_equal(run(fr.f[0], fr.len[0], true, &r), NAT_KERNEL);
	s.dst = PB_SLICE;
	s.dport = 11000; /* socket lease */
	cut(&s, 2, 1232, &fr);
	assert_int_equal(run(fr.f[0], fr.len[0], true, &r), NAT_KERNEL);
	assert_int_equal(run(fr.f[1], fr.len[1], true, &r), NAT_KERNEL);
	s.dport = 10500; /* nat lease, no flow */
	cut(&s, 3, 1232, &fr);
	assert_int_equal(run(fr.f[0], fr.len[0], true, &r), SH_DROP_UNSOLICITED);
	assert_int_equal(run(fr.f[1], fr.len[1], true, &r), SH_DROP_UNSOLICITED);
	s = pb_icmp(PB_REMOTE, PB_SLICE, 8, 0, 1, 1);
	s.payload = payload;
	s.payload_len = 2000;
	cut(&s, 4, 1232, &fr);
	assert_int_equal(run(fr.f[0], fr.len[0], true, &r), NAT_KERNEL);
	assert_int_equal(run(fr.f[1], fr.len[1], true, &r), NAT_KERNEL);
	s = pb_icmp(CLIENT, PB_HOST_IN, 8, 0, 1, 1);
	s.payload = payload;
	s.payload_len = 2000;
	cut(&s, 5, 1232, &fr);
	assert_int_equal(run(fr.f[1], fr.len[1], false, &r), NAT_KERNEL);
	assert_int_equal(nat_flow_count(w), 0);
}

/* nat_parse: a first fragment's L4 header must be whole but its checksum
 * is not checked; a later fragment overlapping the L4 header (RFC 1858)
 * is malformed. */
static void test_rfc4787_req14_parse_first_and_tiny_fragments(void **state)
{
	struct pb_spec s = pb_tcp(CLIENT, 40000, PB_REMOTE, 443, PB_SYN);
	static struct frags fr;
	struct nat_pkt p;
	uint8_t *ip;

	(void)state;
	s.payload = payload;
	s.payload_len = 100;
	cut(&s, 7, 16, &fr); /* first fragment: 16 bytes of a 20-byte header */
	assert_int_equal(nat_parse(&p, fr.f[0], (uint32_t)fr.len[0], false),
			 SH_DROP_L4_MALFORMED);
	cut(&s, 7, 24, &fr);
	ip = fr.f[0] + PB_ETH_LEN;
	ip[20 + 16] ^= 0x55; /* the TCP checksum: unverifiable in pieces */
	assert_int_equal(nat_parse(&p, fr.f[0], (uint32_t)fr.len[0], false),
			 SH_OK);
	assert_int_equal(p.frag, NAT_PKT_FIRST);
	ip = fr.f[1] + PB_ETH_LEN;
	pb_put16(ip + 6, 0x2001); /* offset 8, inside the TCP header */
	pb_fix_ip_csum(ip);
	assert_int_equal(nat_parse(&p, fr.f[1], (uint32_t)fr.len[1], false),
			 SH_DROP_IP_MALFORMED);
	pb_put16(ip + 6, 0x2003); /* offset 24: past it */
	pb_fix_ip_csum(ip);
	assert_int_equal(nat_parse(&p, fr.f[1], (uint32_t)fr.len[1], false),
			 SH_OK);
	assert_int_equal(p.frag, NAT_PKT_LATER);
}

/* ---- owners and kernel egress ----------------------------------------- */

/* All fragments of a datagram have one owner; inside it is the flow's
 * (the first fragment's nat_pkt_owner), outside the flow's owner is the
 * one the ports name. */
static void test_rfc4787_req14_owners_agree(void **state)
{
	struct nat_steer in, out;
	static struct frags fr;
	struct nat_pkt p;
	int o;

	(void)state;
	nat_steer_soft(&in, 4);
	nat_steer_soft(&out, 4);
	for (uint16_t id = 0; id < 64; id++) {
		struct pb_spec s = pb_udp(CLIENT + id, 4000, PB_REMOTE, 53);

		s.payload = payload;
		s.payload_len = 3000;
		cut(&s, id, 1232, &fr);
		assert_int_equal(nat_parse(&p, fr.f[0], (uint32_t)fr.len[0], false), SH_OK);
		o = nat_frag_owner(&in, &out, &p, false);
		assert_int_equal(o, nat_pkt_owner(&in, &out, &p, false));
		assert_int_equal(o, nat_frag_flow_owner(&in, &out, &p, false,
							0, 0));
		for (unsigned i = 1; i < fr.n; i++) {
			assert_int_equal(nat_parse(&p, fr.f[i], (uint32_t)fr.len[i], false), SH_OK);
			assert_int_equal(nat_frag_owner(&in, &out, &p, false), o);
		}
		s = pb_udp(PB_REMOTE, 53, PB_SLICE, (uint16_t)(10000 + id));
		s.payload = payload;
		s.payload_len = 3000;
		cut(&s, id, 1232, &fr);
		assert_int_equal(nat_parse(&p, fr.f[0], (uint32_t)fr.len[0], false), SH_OK);
		o = nat_frag_owner(&in, &out, &p, true);
		assert_int_equal(nat_frag_flow_owner(&in, &out, &p, true,
						     nat_be16(53),
						     nat_be16((uint16_t)(10000 + id))),
				 nat_pkt_owner(&in, &out, &p, true));
		for (unsigned i = 1; i < fr.n; i++) {
			assert_int_equal(nat_parse(&p, fr.f[i], (uint32_t)fr.len[i], false), SH_OK);
			assert_int_equal(nat_frag_owner(&in, &out, &p, true), o);
		}
	}
}

/* Linux's fragmented datagram from a socket lease's port: the later
 * fragments pass because the first did; alone, or after
 * NAT_FRAG_TIMEOUT_MS, or after a refused first, they are violations. */
static void test_rfc4787_req14_kernel_egress_later_fragments(void **state)
{
	struct pb_spec s = pb_udp(PB_SLICE, 11000, PB_REMOTE, 53);
	static struct frags fr;

	(void)state;
	s.payload = payload;
	s.payload_len = 3000;
	cut(&s, 77, 1232, &fr);
	assert_int_equal(nat_kernel_egress(w, &ls, fr.f[1], (uint32_t)fr.len[1]),
			 SH_DROP_KERNEL_PORT_VIOLATION);
	assert_int_equal(nat_kernel_egress(w, &ls, fr.f[0], (uint32_t)fr.len[0]),
			 SH_OK);
	assert_int_equal(nat_kernel_egress(w, &ls, fr.f[1], (uint32_t)fr.len[1]),
			 SH_OK);
	assert_int_equal(nat_kernel_egress(w, &ls, fr.f[2], (uint32_t)fr.len[2]),
			 SH_OK);
	w->now += NAT_FRAG_TIMEOUT_MS;
	assert_int_equal(nat_kernel_egress(w, &ls, fr.f[2], (uint32_t)fr.len[2]),
			 SH_DROP_KERNEL_PORT_VIOLATION);
	s.sport = 10500; /* a nat lease's port: Linux may not use it */
	cut(&s, 78, 1232, &fr);
	assert_int_equal(nat_kernel_egress(w, &ls, fr.f[0], (uint32_t)fr.len[0]),
			 SH_DROP_KERNEL_PORT_VIOLATION);
	assert_int_equal(nat_kernel_egress(w, &ls, fr.f[1], (uint32_t)fr.len[1]),
			 SH_DROP_KERNEL_PORT_VIOLATION);
	s.src = PB_HOST_OUT; /* not a slice address: not policed */
	cut(&s, 79, 1232, &fr);
	assert_int_equal(nat_kernel_egress(w, &ls, fr.f[1], (uint32_t)fr.len[1]),
			 SH_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_rfc4787_req14_udp_in_order_both_ways),
		T(test_rfc4787_req14_icmp_echo_both_ways),
		T(test_rfc4787_req14_tcp_first_fragment_opens_flow),
		T(test_rfc4787_req14_out_of_order_held_then_released),
		T(test_rfc4787_req14_held_fragment_times_out),
		T(test_rfc4787_req14_hold_caps_count_too_many),
		T(test_rfc4787_req14_table_full_then_expires),
		T(test_rfc4787_req14_untranslatable_fragments_dropped),
		T(test_rfc4787_req14_fragments_for_linux_and_unsolicited),
		T(test_rfc4787_req14_parse_first_and_tiny_fragments),
		T(test_rfc4787_req14_owners_agree),
		T(test_rfc4787_req14_kernel_egress_later_fragments),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
