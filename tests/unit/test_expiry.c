/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for flow timeouts and expiry (engine/nat/flow.c, nat.c and
 * the TCP tracking in flow_lookup.h), on a virtual clock: the tests set
 * w->now (ms) directly, as the worker does once per burst.
 *
 * Timeouts are shortened and made distinct so a flow's class can be read
 * off the moment it dies: UDP 30 s, TCP established 600 s, TCP
 * transitory 20 s, ICMP 10 s. A flow idle for exactly its timeout is
 * expired; one ms less is alive. Liveness is probed with nat_lookup_in(),
 * which does not refresh the timer.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nat/flow_lookup.h"
#include "pkt_build.h"

#define UDP_MS 30000u
#define EST_MS 600000u
#define TRANS_MS 20000u
#define ICMP_MS 10000u

#define CLIENT(i) PB_IP(10, 0, (i) >> 8 & 0xff, (i) & 0xff)

static struct sh_config cfg;
static struct nat_lease_set ls;
static struct nat_worker *w;
static uint8_t frame[PB_MAX_FRAME];

static void start_lease(uint32_t max_flows, uint16_t hi)
{
	struct nat_params p;

	pb_cfg_base(&cfg);
	cfg.nat.port_hold_down = 0; /* hold-down: test_behaviour.c */
	cfg.nat.udp_timeout = UDP_MS / 1000;
	cfg.nat.tcp_established_timeout = EST_MS / 1000;
	cfg.nat.tcp_transitory_timeout = TRANS_MS / 1000;
	cfg.nat.icmp_timeout = ICMP_MS / 1000;
	pb_cfg_lease(&cfg, "a", SH_LEASE_NAT, 10000, hi, PB_IP(10, 0, 0, 0), 16);
	pb_cfg_shared_ports(&cfg);
	assert_int_equal(nat_lease_set_from_config(&ls, &cfg), 0);
	p = pb_params(&cfg, 0, 1, max_flows);
	w = nat_worker_create(&p);
	assert_non_null(w);
}

/* The 16-port lease 10000-10015. */
static void start(uint32_t max_flows)
{
	start_lease(max_flows, 10015);
}

static int teardown(void **state)
{
	(void)state;
	nat_worker_destroy(w);
	w = NULL;
	return 0;
}

/* Send @s inside -> outside at the current clock; the translated source
 * port (host order). */
static uint16_t out(struct pb_spec s)
{
	size_t len = pb_build(frame, &s);

	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);
	return pb_get16(frame + PB_ETH_LEN + 20 + (s.proto == PB_ICMP ? 4 : 0));
}

/* Send @s outside -> inside; the verdict. */
static unsigned in(struct pb_spec s)
{
	size_t len = pb_build(frame, &s);

	return pb_out2in(w, &ls, frame, len);
}

/* Is the flow with this inside key live at the current clock? */
static bool alive(uint8_t proto, uint32_t client, uint16_t cport, uint32_t dst,
		  uint16_t dport)
{
	struct nat_key k;

	nat_key_set(&k, htonl(client), htons(cport), htonl(dst), htons(dport),
		    proto);
	return nat_lookup_in(w, &k) >= 0;
}

/* The timeout class of a live TCP flow, by inside key. */
static int class_of(uint32_t client, uint16_t cport, uint32_t dst,
		    uint16_t dport)
{
	struct nat_key k;
	int64_t idx;

	nat_key_set(&k, htonl(client), htons(cport), htonl(dst), htons(dport),
		    PB_TCP);
	idx = nat_lookup_in(w, &k);
	assert_true(idx >= 0);
	return nat_flow_class(&w->t.flows[idx]);
}

/* Alive @ms - 1 after @t0, gone at exactly @ms. */
static void dies_at(uint32_t t0, uint32_t ms, uint8_t proto, uint32_t client,
		    uint16_t cport, uint32_t dst, uint16_t dport)
{
	w->now = t0 + ms - 1;
	assert_true(alive(proto, client, cport, dst, dport));
	w->now = t0 + ms;
	assert_false(alive(proto, client, cport, dst, dport));
}

/* ---- timeouts per class ----------------------------------------------- */

/* A UDP flow lives udp_timeout after its last packet, in either
 * direction, and not a millisecond longer. */
static void test_expiry_udp_after_udp_timeout(void **state)
{
	const uint32_t c = CLIENT(5);
	uint16_t port;

	(void)state;
	start(64);
	w->now = 5000;
	port = out(pb_udp(c, 4000, PB_REMOTE, 53));
	w->now = 5000 + UDP_MS - 1;
	assert_true(alive(PB_UDP, c, 4000, PB_REMOTE, 53));

	/* a reply refreshes the timer ... */
	assert_int_equal(in(pb_udp(PB_REMOTE, 53, PB_SLICE, port)), SH_OK);
	/* ... and so does a later client packet */
	w->now += 12345;
	out(pb_udp(c, 4000, PB_REMOTE, 53));
	dies_at(w->now, UDP_MS, PB_UDP, c, 4000, PB_REMOTE, 53);
}

/* A TCP flow that only saw the client's SYN is transitory. */
static void test_expiry_tcp_syn_only_is_transitory(void **state)
{
	const uint32_t c = CLIENT(5);

	(void)state;
	start(64);
	w->now = 1000;
	out(pb_tcp(c, 40000, PB_REMOTE, 443, PB_SYN));
	dies_at(1000, TRANS_MS, PB_TCP, c, 40000, PB_REMOTE, 443);
}

/* Open a TCP flow with SYN out, SYN-ACK in at @t; returns its port. */
static uint16_t tcp_open(uint32_t t, uint32_t c)
{
	uint16_t port;

	w->now = t;
	port = out(pb_tcp(c, 40000, PB_REMOTE, 443, PB_SYN));
	assert_int_equal(in(pb_tcp(PB_REMOTE, 443, PB_SLICE, port,
				   PB_SYN | PB_ACK)),
			 SH_OK);
	return port;
}

/* SYN out + SYN-ACK in makes it established: it outlives the transitory
 * timeout and dies at the established one. */
static void test_expiry_tcp_syn_and_syn_ack_is_established(void **state)
{
	const uint32_t c = CLIENT(5);

	(void)state;
	start(64);
	tcp_open(1000, c);
	w->now = 1000 + TRANS_MS;
	assert_true(alive(PB_TCP, c, 40000, PB_REMOTE, 443));
	dies_at(1000, EST_MS, PB_TCP, c, 40000, PB_REMOTE, 443);
}

/* A SYN-ACK is what makes it established, not any inbound segment: a
 * plain ACK in after the SYN leaves it transitory. */
static void test_expiry_tcp_ack_without_syn_ack_stays_transitory(void **state)
{
	const uint32_t c = CLIENT(5);
	uint16_t port;

	(void)state;
	start(64);
	w->now = 1000;
	port = out(pb_tcp(c, 40000, PB_REMOTE, 443, PB_SYN));
	assert_int_equal(in(pb_tcp(PB_REMOTE, 443, PB_SLICE, port, PB_ACK)),
			 SH_OK);
	dies_at(1000, TRANS_MS, PB_TCP, c, 40000, PB_REMOTE, 443);
}

/* A FIN on flow @c:40000 <-> remote:443 (outside @port), from the
 * client or from the remote. */
static void fin(uint32_t c, uint16_t port, bool from_client)
{
	if (from_client)
		out(pb_tcp(c, 40000, PB_REMOTE, 443, PB_FIN | PB_ACK));
	else
		assert_int_equal(in(pb_tcp(PB_REMOTE, 443, PB_SLICE, port,
					   PB_FIN | PB_ACK)),
				 SH_OK);
}

/* One side closes (the client if @client_first); past the transitory
 * timeout the flow lives on; the other side closes; transitory then. */
static void half_close_then_close(bool client_first)
{
	const uint32_t c = CLIENT(5);
	uint16_t port;

	start(64);
	port = tcp_open(1000, c);
	w->now = 50000;
	fin(c, port, client_first);
	assert_int_equal(class_of(c, 40000, PB_REMOTE, 443), NAT_TO_TCP_EST);
	w->now = 50000 + TRANS_MS + 1;
	assert_true(alive(PB_TCP, c, 40000, PB_REMOTE, 443));
	fin(c, port, !client_first);
	dies_at(w->now, TRANS_MS, PB_TCP, c, 40000, PB_REMOTE, 443);
}

/* RFC 7857 §2.2: a FIN in one direction leaves a half-closed connection
 * that may idle past the transitory timeout (the other side still sends);
 * the FIN the other way ends it: transitory from then on. */
static void test_expiry_tcp_half_closed_stays_established(void **state)
{
	(void)state;
	half_close_then_close(true);
}

/* The same with the remote closing first. */
static void test_expiry_tcp_remote_half_close_stays_established(void **state)
{
	(void)state;
	half_close_then_close(false);
}

/* A stray RST never deletes the mapping at once: the flow goes on, with
 * the transitory timeout, and traffic through it keeps it alive. */
static void test_expiry_tcp_stray_rst_keeps_mapping(void **state)
{
	const uint32_t c = CLIENT(5);
	uint16_t port;

	(void)state;
	start(64);
	port = tcp_open(1000, c);
	w->now = 50000;
	assert_int_equal(in(pb_tcp(PB_REMOTE, 443, PB_SLICE, port, PB_RST)),
			 SH_OK);
	assert_true(alive(PB_TCP, c, 40000, PB_REMOTE, 443));
	w->now = 60000;
	assert_int_equal(out(pb_tcp(c, 40000, PB_REMOTE, 443, PB_ACK)), port);
	assert_int_equal(in(pb_tcp(PB_REMOTE, 443, PB_SLICE, port, PB_ACK)),
			 SH_OK);
	dies_at(60000, TRANS_MS, PB_TCP, c, 40000, PB_REMOTE, 443);
}

/* Simultaneous open: both ends send a SYN, neither a SYN-ACK first. */
static void test_expiry_tcp_simultaneous_open_is_established(void **state)
{
	const uint32_t c = CLIENT(7);
	uint16_t port;

	(void)state;
	start(64);
	w->now = 1000;
	port = out(pb_tcp(c, 40000, PB_REMOTE, 443, PB_SYN));
	assert_int_equal(in(pb_tcp(PB_REMOTE, 443, PB_SLICE, port, PB_SYN)),
			 SH_OK);
	assert_int_equal(class_of(c, 40000, PB_REMOTE, 443), NAT_TO_TCP_EST);
	dies_at(1000, EST_MS, PB_TCP, c, 40000, PB_REMOTE, 443);
}

/* A new SYN on a closed binding starts over: transitory until the
 * SYN-ACK, then established again, on the same port. */
static void test_expiry_tcp_new_syn_after_fin_reopens(void **state)
{
	const uint32_t c = CLIENT(5);
	uint16_t port;

	(void)state;
	start(64);
	port = tcp_open(1000, c);
	w->now = 2000;
	out(pb_tcp(c, 40000, PB_REMOTE, 443, PB_FIN | PB_ACK));
	assert_int_equal(in(pb_tcp(PB_REMOTE, 443, PB_SLICE, port,
				   PB_FIN | PB_ACK)),
			 SH_OK);
	assert_int_equal(class_of(c, 40000, PB_REMOTE, 443), NAT_TO_TCP_TRANS);
	w->now = 3000;
	assert_int_equal(out(pb_tcp(c, 40000, PB_REMOTE, 443, PB_SYN)), port);
	assert_int_equal(class_of(c, 40000, PB_REMOTE, 443), NAT_TO_TCP_TRANS);
	assert_int_equal(in(pb_tcp(PB_REMOTE, 443, PB_SLICE, port,
				   PB_SYN | PB_ACK)),
			 SH_OK);
	assert_int_equal(class_of(c, 40000, PB_REMOTE, 443), NAT_TO_TCP_EST);
	dies_at(3000, EST_MS, PB_TCP, c, 40000, PB_REMOTE, 443);
}

/* An ICMP echo binding lives icmp_timeout; the reply refreshes it. */
static void test_expiry_icmp_after_icmp_timeout(void **state)
{
	const uint32_t c = CLIENT(5);
	uint16_t id;

	(void)state;
	start(64);
	w->now = 1000;
	id = out(pb_icmp(c, PB_REMOTE, 8, 0, 0x4242, 1));
	w->now = 4000;
	assert_int_equal(in(pb_icmp(PB_REMOTE, PB_SLICE, 0, 0, id, 1)), SH_OK);
	dies_at(4000, ICMP_MS, PB_ICMP, c, 0x4242, PB_REMOTE, 0);
}

/* ---- the sweep -------------------------------------------------------- */

/* A 64-entry table holding 20 UDP flows from t = 1 s (table entries
 * 0-19: free entries are handed out lowest first) and 20 from t = 20 s
 * (entries 20-39); flow i goes to remote port 1000 + i. */
static void old_and_young(void)
{
	start(64);
	for (unsigned i = 0; i < 40; i++) {
		w->now = i < 20 ? 1000 : 20000;
		out(pb_udp(CLIENT(1 + i), 4000, PB_REMOTE,
			   (uint16_t)(1000 + i)));
	}
}

/* nat_expire(budget) looks at @budget table entries and so removes at most
 * that many; repeated calls go round the whole table and remove every
 * expired flow and no live one. */
static void test_expiry_sweep_is_bounded_and_complete(void **state)
{
	unsigned removed = 0, calls = 0;

	(void)state;
	old_and_young();
	/* all 40 expired: one call of budget 10 removes exactly 10 */
	w->now = 20000 + UDP_MS;
	assert_int_equal(nat_expire(w, 10), 10);
	assert_int_equal(nat_flow_count(w), 30);
	teardown(state);

	old_and_young();

	/* only the first 20 have expired */
	w->now = 1000 + UDP_MS;
	while (calls * 10 < 64) {
		unsigned n = nat_expire(w, 10);

		assert_true(n <= 10);
		removed += n;
		calls++;
	}
	assert_int_equal(removed, 20);
	assert_int_equal(nat_flow_count(w), 20);
	assert_int_equal(w->cnt[SH_CNT_FLOW_EXPIRED], 20);
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(alive(PB_UDP, CLIENT(1 + i), 4000, PB_REMOTE,
				       (uint16_t)(1000 + i)),
				 i >= 20);
	/* a second round finds nothing more to do */
	assert_int_equal(nat_expire(w, 1000), 0);
	assert_int_equal(nat_flow_count(w), 20);
}

/* A lookup that meets an expired flow removes it, reports it absent and
 * counts it; the reply to it is then unsolicited. */
static void test_expiry_lookup_drops_expired_flow(void **state)
{
	const uint32_t c = CLIENT(5);
	uint16_t port;

	(void)state;
	start(64);
	w->now = 1000;
	out(pb_udp(c, 4000, PB_REMOTE, 53));
	port = out(pb_udp(c, 4001, PB_REMOTE, 53));
	assert_int_equal(nat_flow_count(w), 2);

	w->now = 1000 + UDP_MS;
	assert_false(alive(PB_UDP, c, 4000, PB_REMOTE, 53));
	assert_int_equal(w->cnt[SH_CNT_FLOW_EXPIRED], 1);
	assert_int_equal(nat_flow_count(w), 1);
	assert_false(alive(PB_UDP, c, 4000, PB_REMOTE, 53));
	assert_int_equal(w->cnt[SH_CNT_FLOW_EXPIRED], 1);

	/* the outside lookup of the second one expires it as well */
	assert_int_equal(in(pb_udp(PB_REMOTE, 53, PB_SLICE, port)),
			 SH_DROP_UNSOLICITED);
	assert_int_equal(w->cnt[SH_CNT_FLOW_EXPIRED], 2);
	assert_int_equal(nat_flow_count(w), 0);
}

/* A port freed by expiry is handed out again, without waiting for the
 * sweep: the port search itself meets and removes the expired flows. */
static void test_expiry_freed_port_is_reusable(void **state)
{
	struct pb_spec s;
	size_t len;

	(void)state;
	start(64);
	w->now = 1000;
	for (unsigned i = 0; i < 16; i++)
		out(pb_udp(CLIENT(1 + i), 4000, PB_REMOTE, 53));
	s = pb_udp(CLIENT(100), 4000, PB_REMOTE, 53);
	len = pb_build(frame, &s);
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_DROP_PORTS_EXHAUSTED);

	w->now = 1000 + UDP_MS;
	for (unsigned i = 0; i < 16; i++) {
		uint16_t port;

		port = out(pb_udp(CLIENT(100 + i), 4000, PB_REMOTE, 53));
		assert_in_range(port, 10000, 10015);
	}
	assert_int_equal(nat_flow_count(w), 16);
}

/* The ms clock is 32 bits and wraps after ~49 days: ages are computed
 * modulo 2^32, so a flow created just before the wrap lives its full
 * timeout across it, and the sweep agrees. */
static void test_expiry_clock_wraps(void **state)
{
	const uint32_t t0 = UINT32_MAX - 4999, c = CLIENT(5);

	(void)state;
	start(64);
	w->now = t0;
	out(pb_udp(c, 4000, PB_REMOTE, 53));
	out(pb_udp(c, 4001, PB_REMOTE, 53));
	w->now = t0 + 10000; /* wrapped: 5000 */
	assert_true(w->now < t0);
	assert_int_equal(nat_expire(w, 64), 0);
	assert_int_equal(nat_flow_count(w), 2);
	dies_at(t0, UDP_MS, PB_UDP, c, 4000, PB_REMOTE, 53);
	assert_int_equal(nat_expire(w, 64), 1);
	assert_int_equal(nat_flow_count(w), 0);
}

/* What the test believes about one inside tuple. */
struct model_flow {
	uint32_t client;
	uint16_t cport, dport;
	uint16_t port; /* outside port while known */
	bool known;    /* a flow was created and not yet seen to expire */
	uint32_t last_seen;
};

#define M_CLIENTS 64
#define M_PORTS 4
#define M_DPORTS 8
#define M_FLOWS (M_CLIENTS * M_PORTS * M_DPORTS)

static bool model_live(const struct model_flow *m)
{
	return m->known && (uint32_t)(w->now - m->last_seen) < UDP_MS;
}

/* The live model flow holding outside tuple (port, remote:@dport). */
static struct model_flow *model_by_out(struct model_flow *m, uint16_t port,
				       uint16_t dport)
{
	for (unsigned i = 0; i < M_FLOWS; i++)
		if (model_live(&m[i]) && m[i].port == port &&
		    m[i].dport == dport)
			return &m[i];
	return NULL;
}

/* Random churn against a model: new flows, refreshes, replies, lookups
 * and partial sweeps in random order on a clock that starts near the
 * wrap. The engine must agree with the model at every step (a flow is
 * live exactly while younger than its timeout, replies reach the live
 * owner of the outside tuple), which exercises the hash tables'
 * deletion and the sweep under load. */
static void test_expiry_random_churn_matches_model(void **state)
{
	static struct model_flow m[M_FLOWS];
	static uint8_t pkt[PB_MAX_FRAME];
	struct pb_rng r = { 0xc4a05 };
	unsigned live = 0;

	(void)state;
	start_lease(256, 10000 + 511);
	w->now = UINT32_MAX - 600000;
	for (unsigned i = 0; i < M_FLOWS; i++)
		m[i] = (struct model_flow){
			.client = CLIENT(1 + i % M_CLIENTS),
			.cport = (uint16_t)(4000 + i / M_CLIENTS % M_PORTS),
			.dport = (uint16_t)(1000 + i / (M_CLIENTS * M_PORTS)),
		};

	for (int step = 0; step < 40000; step++) {
		struct model_flow *f = &m[pb_rand(&r) % M_FLOWS];
		unsigned op = pb_rand(&r) % 10;
		struct pb_spec s;
		size_t len;

		w->now += pb_rand(&r) % 300;
		if (op < 4) { /* a client packet */
			bool was_live = model_live(f);
			uint16_t port;

			s = pb_udp(f->client, f->cport, PB_REMOTE, f->dport);
			len = pb_build(pkt, &s);
			assert_int_equal(pb_in2out(w, &ls, pkt, len), SH_OK);
			port = pb_get16(pkt + PB_ETH_LEN + 20);
			if (was_live) {
				assert_int_equal(port, f->port);
			} else {
				struct model_flow *o =
					model_by_out(m, port, f->dport);

				if (o)
					fail_msg("step %d: port %u given twice",
						 step, port);
				f->port = port;
				f->known = true;
			}
			f->last_seen = w->now;
		} else if (op < 7) { /* a reply to a port it once had */
			struct model_flow *o;
			unsigned v;

			if (!f->known)
				continue;
			o = model_by_out(m, f->port, f->dport);
			s = pb_udp(PB_REMOTE, f->dport, PB_SLICE, f->port);
			len = pb_build(pkt, &s);
			v = pb_out2in(w, &ls, pkt, len);
			if (!o) {
				assert_int_equal(v, SH_DROP_UNSOLICITED);
				continue;
			}
			assert_int_equal(v, SH_OK);
			assert_int_equal(pb_get32(pkt + PB_ETH_LEN + 16),
					 o->client);
			assert_int_equal(pb_get16(pkt + PB_ETH_LEN + 22),
					 o->cport);
			o->last_seen = w->now;
		} else if (op < 9) { /* a lookup */
			if (alive(PB_UDP, f->client, f->cport, PB_REMOTE,
				  f->dport) != model_live(f))
				fail_msg("step %d: engine and model disagree",
					 step);
		} else {
			unsigned budget = 1 + pb_rand(&r) % 64;

			assert_true(nat_expire(w, budget) <= budget);
		}
	}
	assert_true(w->now < UINT32_MAX - 600000); /* the clock wrapped */
	nat_expire(w, 256);
	for (unsigned i = 0; i < M_FLOWS; i++)
		live += model_live(&m[i]);
	assert_true(live > 20);
	assert_int_equal(nat_flow_count(w), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, teardown)
		T(test_expiry_udp_after_udp_timeout),
		T(test_expiry_tcp_syn_only_is_transitory),
		T(test_expiry_tcp_syn_and_syn_ack_is_established),
		T(test_expiry_tcp_ack_without_syn_ack_stays_transitory),
		T(test_expiry_tcp_half_closed_stays_established),
		T(test_expiry_tcp_remote_half_close_stays_established),
		T(test_expiry_tcp_stray_rst_keeps_mapping),
		T(test_expiry_tcp_simultaneous_open_is_established),
		T(test_expiry_tcp_new_syn_after_fin_reopens),
		T(test_expiry_icmp_after_icmp_timeout),
		T(test_expiry_sweep_is_bounded_and_complete),
		T(test_expiry_lookup_drops_expired_flow),
		T(test_expiry_freed_port_is_reusable),
		T(test_expiry_clock_wraps),
		T(test_expiry_random_churn_matches_model),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
