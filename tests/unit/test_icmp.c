/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for ICMP error translation through the embedded header
 * (engine/nat/icmp.c, RFC 5508 §4.2) and for the ICMP types the NAT does
 * not translate.
 *
 * Errors are crafted the way a router or host would: a flow is set up
 * with nat_in2out, the packet as it left (or arrived) is captured, and an
 * error quoting it is built with pkt_build.h. After translation every
 * checksum (outer IPv4, ICMP, quoted IPv4, quoted L4 when fully quoted)
 * is re-verified by the independent oracle, and the quote must read as
 * the client's own packet again.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nat/flow_lookup.h"
#include "pkt_build.h"

#define CLIENT PB_IP(10, 0, 0, 5)
#define CPORT 4000
#define ECHO_ID 0x4242
#define MTU 1400

static struct sh_config cfg;
static struct nat_lease_set ls;
static struct nat_worker *w;
static uint8_t frame[PB_MAX_FRAME];
static uint8_t sent[PB_MAX_FRAME];  /* the client's packet, as sent */
static uint8_t quote[PB_MAX_FRAME]; /* the packet the error quotes */
static const uint8_t data[33] = "thirty-two bytes of payload data";

static int setup(void **state)
{
	(void)state;
	w = pb_nat_fixture(&cfg, &ls, 10015, 256);
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

static uint8_t *outer_ip(void)
{
	return frame + PB_ETH_LEN;
}

static uint8_t *outer_icmp(void)
{
	return frame + PB_ETH_LEN + 20;
}

static uint8_t *quoted_ip(void)
{
	return outer_icmp() + 8;
}

static uint8_t *quoted_l4(void)
{
	return quoted_ip() + pb_ihl(quoted_ip());
}

/* Translate @s in2out (@out2in false: the client sends it) or out2in
 * (a remote's packet the client receives), keeping a copy as sent in
 * sent[] and capturing the translated IPv4 packet in quote[]; its
 * length. */
static uint16_t translate(struct pb_spec s, bool out2in)
{
	size_t len = pb_build(frame, &s);
	uint16_t ip_len = pb_get16(outer_ip() + 2);

	memcpy(sent, outer_ip(), ip_len);
	assert_int_equal(out2in ? pb_out2in(w, &ls, frame, len)
				: pb_in2out(w, &ls, frame, len),
			 SH_OK);
	memcpy(quote, outer_ip(), ip_len);
	return ip_len;
}

static uint16_t client_sends(struct pb_spec s)
{
	return translate(s, false);
}

static uint16_t client_receives(struct pb_spec s)
{
	return translate(s, true);
}

/* Build an ICMP error src -> dst quoting the first @qlen bytes of quote[]
 * into frame[]; @mtu goes in bytes 6-7 (frag-needed). */
static size_t icmp_error(uint32_t src, uint32_t dst, uint8_t type, uint8_t code,
			 uint16_t mtu, uint16_t qlen)
{
	struct pb_spec s = pb_icmp(src, dst, type, code, 0, mtu);

	s.payload = quote;
	s.payload_len = qlen;
	return pb_build(frame, &s);
}

/* Outer header after translation: addresses, TTL 64 -> 63, checksums. */
static void check_outer(uint32_t src, uint32_t dst)
{
	assert_int_equal(pb_get32(outer_ip() + 12), src);
	assert_int_equal(pb_get32(outer_ip() + 16), dst);
	assert_int_equal(outer_ip()[8], 63);
	assert_true(pb_ip_csum_ok(outer_ip()));
	assert_true(pb_l4_csum_ok(outer_ip()));
}

/* ---- out2in: a router beyond us reports on a translated packet -------- */

/* Port unreachable quoting a whole translated UDP datagram: the client
 * gets it addressed to itself, quoting its own datagram exactly as it
 * sent it (all but the TTL), with every checksum valid. */
static void test_icmp_out2in_udp_port_unreachable_full_quote(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, CPORT, PB_REMOTE, 53);
	uint16_t qlen;
	size_t len;

	(void)state;
	s.payload = data;
	s.payload_len = sizeof(data);
	qlen = client_sends(s);
	len = icmp_error(PB_REMOTE, PB_SLICE, 3, 3, 0, qlen);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_OK);

	check_outer(PB_REMOTE, CLIENT);
	assert_int_equal(outer_icmp()[0], 3);
	assert_int_equal(outer_icmp()[1], 3);
	assert_true(pb_ip_csum_ok(quoted_ip()));
	assert_true(pb_l4_csum_ok(quoted_ip()));
	assert_int_equal(pb_get32(quoted_ip() + 12), CLIENT);
	assert_int_equal(pb_get32(quoted_ip() + 16), PB_REMOTE);
	assert_memory_equal(quoted_l4(), sent + 20, 8 + sizeof(data));
	assert_int_equal(w->cnt[SH_CNT_ICMP_ERR_OUT2IN], 1);
}

/* Time exceeded quoting only IP header + 8 bytes (RFC 792): the UDP
 * header, checksum included, is restored to what the client sent. */
static void test_icmp_out2in_udp_time_exceeded_short_quote(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, CPORT, PB_REMOTE, 33434);
	size_t len;

	(void)state;
	s.payload = data;
	s.payload_len = sizeof(data);
	client_sends(s);
	len = icmp_error(PB_ROUTER, PB_SLICE, 11, 0, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_OK);

	check_outer(PB_ROUTER, CLIENT);
	assert_true(pb_ip_csum_ok(quoted_ip()));
	assert_int_equal(pb_get32(quoted_ip() + 12), CLIENT);
	assert_memory_equal(quoted_l4(), sent + 20, 8);
	assert_int_equal(w->cnt[SH_CNT_ICMP_ERR_OUT2IN], 1);
}

/* Fragmentation needed (type 3 code 4) for a TCP segment, fully quoted:
 * the next-hop MTU survives, the quoted TCP checksum verifies. */
static void test_icmp_out2in_tcp_frag_needed_keeps_mtu(void **state)
{
	struct pb_spec s = pb_tcp(CLIENT, CPORT, PB_REMOTE, 443, PB_SYN);
	uint16_t qlen;
	size_t len;

	(void)state;
	client_sends(s);
	s.tcp_flags = PB_ACK | PB_PSH;
	s.payload = data;
	s.payload_len = sizeof(data);
	qlen = client_sends(s);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 4, MTU, qlen);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_OK);

	check_outer(PB_ROUTER, CLIENT);
	assert_int_equal(outer_icmp()[1], 4);
	assert_int_equal(pb_get16(outer_icmp() + 6), MTU);
	assert_true(pb_ip_csum_ok(quoted_ip()));
	assert_true(pb_l4_csum_ok(quoted_ip()));
	assert_int_equal(pb_get32(quoted_ip() + 12), CLIENT);
	assert_memory_equal(quoted_l4(), sent + 20, 20 + sizeof(data));
	assert_int_equal(w->cnt[SH_CNT_ICMP_ERR_OUT2IN], 1);
}

/* A TCP quote cut at 8 bytes holds no checksum field: the ports are
 * restored and nothing past the quote is written (the bytes where the
 * TCP checksum would be are Ethernet padding here). A quote of exactly
 * 18 bytes holds the checksum, which is then restored too. */
static void test_icmp_out2in_tcp_short_quote_untouched_beyond(void **state)
{
	struct pb_spec s = pb_tcp(CLIENT, CPORT, PB_REMOTE, 443, PB_SYN);
	struct pb_spec e = pb_icmp(PB_ROUTER, PB_SLICE, 3, 4, 0, MTU);
	static uint8_t before[PB_MAX_FRAME];
	size_t len;

	(void)state;
	s.payload = data;
	s.payload_len = 8;
	client_sends(s);
	e.payload = quote;
	e.payload_len = 28;
	e.eth_pad = 32;
	len = pb_build(frame, &e);
	memset(frame + len - e.eth_pad, 0xa5, e.eth_pad);
	memcpy(before, frame, len);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_OK);

	check_outer(PB_ROUTER, CLIENT);
	assert_true(pb_ip_csum_ok(quoted_ip()));
	assert_memory_equal(quoted_l4(), sent + 20, 8);
	assert_memory_equal(frame + len - e.eth_pad, before + len - e.eth_pad,
			    e.eth_pad);

	e.payload_len = 20 + 18;
	len = pb_build(frame, &e);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_OK);
	check_outer(PB_ROUTER, CLIENT);
	assert_memory_equal(quoted_l4(), sent + 20, 18);
	assert_int_equal(w->cnt[SH_CNT_ICMP_ERR_OUT2IN], 2);
}

/* Time exceeded for a translated echo request (traceroute by ping): the
 * quoted echo id is the client's again, its ICMP checksum verifies. */
static void test_icmp_out2in_echo_time_exceeded(void **state)
{
	struct pb_spec s = pb_icmp(CLIENT, PB_REMOTE, 8, 0, ECHO_ID, 7);
	uint16_t qlen;
	size_t len;

	(void)state;
	s.payload = data;
	s.payload_len = sizeof(data);
	qlen = client_sends(s);
	assert_in_range(pb_get16(quote + 24), 10000, 10015); /* id leased */
	len = icmp_error(PB_ROUTER, PB_SLICE, 11, 0, 0, qlen);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_OK);

	check_outer(PB_ROUTER, CLIENT);
	assert_true(pb_ip_csum_ok(quoted_ip()));
	assert_true(pb_l4_csum_ok(quoted_ip()));
	assert_memory_equal(quoted_l4(), sent + 20, 8 + sizeof(data));
	assert_int_equal(w->cnt[SH_CNT_ICMP_ERR_OUT2IN], 1);
}

/* Parameter problem is translated like the other errors; an error is
 * not traffic of the flow, so it does not refresh the flow's timer. */
static void test_icmp_out2in_param_problem_keeps_flow_timer(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, CPORT, PB_REMOTE, 53);
	struct nat_key k;
	int64_t idx;
	size_t len;

	(void)state;
	client_sends(s);
	w->now = 9000;
	len = icmp_error(PB_ROUTER, PB_SLICE, 12, 0, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_OK);
	check_outer(PB_ROUTER, CLIENT);

	nat_key_set(&k, htonl(CLIENT), htons(CPORT), htonl(PB_REMOTE),
		    htons(53), PB_UDP);
	idx = nat_lookup_in(w, &k);
	assert_true(idx >= 0);
	assert_int_equal(w->t.flows[idx].last_seen, 1000);
}

/* IPv4 options on the quoted packet and on the error itself move both
 * L4 headers; the translation follows them. */
static void test_icmp_out2in_with_ip_options(void **state)
{
	struct pb_spec s = pb_udp(CLIENT, CPORT, PB_REMOTE, 53);
	struct pb_spec e = pb_icmp(PB_ROUTER, PB_SLICE, 3, 3, 0, 0);
	uint8_t *ip = frame + PB_ETH_LEN, *icmp = ip + 32, *qip = icmp + 8;
	size_t len;

	(void)state;
	s.ip_opt_len = 8;
	s.payload = data;
	s.payload_len = sizeof(data);
	e.payload_len = client_sends(s);
	e.payload = quote;
	e.ip_opt_len = 12;
	len = pb_build(frame, &e);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_OK);

	assert_int_equal(pb_get32(ip + 16), CLIENT);
	assert_true(pb_ip_csum_ok(ip));
	assert_true(pb_l4_csum_ok(ip));
	assert_true(pb_ip_csum_ok(qip));
	assert_true(pb_l4_csum_ok(qip));
	assert_int_equal(pb_get32(qip + 12), CLIENT);
	assert_memory_equal(qip + 28, sent + 28, 8 + sizeof(data));
}

/* ---- in2out: a client reports on a packet we translated to it --------- */

/* @sender (the client, or a router between it and us) answers the
 * translated-back reply with ICMP @type/@code: the error leaves from the
 * slice and quotes the reply as the remote sent it, to slice:port, with
 * every checksum valid. */
static void in2out_udp_error(uint32_t sender, uint8_t type, uint8_t code)
{
	struct pb_spec s = pb_udp(CLIENT, CPORT, PB_REMOTE, 53);
	uint16_t port, qlen;
	size_t len;

	client_sends(s);
	port = pb_get16(quote + 20);
	s = pb_udp(PB_REMOTE, 53, PB_SLICE, port);
	s.payload = data;
	s.payload_len = sizeof(data);
	qlen = client_receives(s);
	assert_int_equal(pb_get32(quote + 16), CLIENT);

	len = icmp_error(sender, PB_REMOTE, type, code, 0, qlen);
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);

	check_outer(PB_SLICE, PB_REMOTE);
	assert_true(pb_ip_csum_ok(quoted_ip()));
	assert_true(pb_l4_csum_ok(quoted_ip()));
	assert_int_equal(pb_get32(quoted_ip() + 12), PB_REMOTE);
	assert_int_equal(pb_get32(quoted_ip() + 16), PB_SLICE);
	assert_int_equal(pb_get16(quoted_l4() + 2), port);
	assert_memory_equal(quoted_l4(), sent + 20, 8 + sizeof(data));
	assert_int_equal(w->cnt[SH_CNT_ICMP_ERR_IN2OUT], 1);
}

/* The client itself answers with port unreachable. */
static void test_icmp_in2out_port_unreachable_from_client(void **state)
{
	(void)state;
	in2out_udp_error(CLIENT, 3, 3);
}

/* The same for an error about an echo reply the client received. */
static void test_icmp_in2out_error_about_echo_reply(void **state)
{
	struct pb_spec s = pb_icmp(CLIENT, PB_REMOTE, 8, 0, ECHO_ID, 1);
	uint16_t id, qlen;
	size_t len;

	(void)state;
	client_sends(s);
	id = pb_get16(quote + 24);
	qlen = client_receives(pb_icmp(PB_REMOTE, PB_SLICE, 0, 0, id, 1));
	assert_int_equal(pb_get16(quote + 24), ECHO_ID);

	len = icmp_error(CLIENT, PB_REMOTE, 3, 1, 0, qlen);
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_OK);
	check_outer(PB_SLICE, PB_REMOTE);
	assert_true(pb_ip_csum_ok(quoted_ip()));
	assert_true(pb_l4_csum_ok(quoted_ip()));
	assert_int_equal(pb_get16(quoted_l4() + 4), id);
	assert_int_equal(w->cnt[SH_CNT_ICMP_ERR_IN2OUT], 1);
}

/* A router between the client and us (RFC 5508 §4.2: the NAT translates
 * errors from inside routers too) reports on a packet we translated to the
 * client: it reaches the remote from the slice tuple, like the client's
 * own error would. */
static void test_icmp_in2out_error_from_inside_router(void **state)
{
	(void)state;
	in2out_udp_error(PB_IP(10, 0, 0, 254), 11, 0);
}

/* An all-zero echo (id 0, sequence 0, zero payload): back at the client
 * its echo reply is all zeros but for the checksum, whose words sum to +0,
 * so only 0xFFFF verifies; the incremental update's arithmetic gave
 * 0x0000 (found by fuzzing). */
static void test_icmp_all_zero_echo_reply_checksum_is_ffff(void **state)
{
	static const uint8_t zeros[16];
	struct pb_spec s = pb_icmp(CLIENT, PB_REMOTE, 8, 0, 0, 0);
	uint16_t id;

	(void)state;
	s.payload = zeros;
	s.payload_len = sizeof(zeros);
	client_sends(s);
	id = pb_get16(quote + 24);
	s = pb_icmp(PB_REMOTE, PB_SLICE, 0, 0, id, 0);
	s.payload = zeros;
	s.payload_len = sizeof(zeros);
	client_receives(s);
	assert_int_equal(pb_get16(quote + 24), 0);
	assert_int_equal(pb_get16(quote + 22), 0xffff);
	assert_true(pb_l4_csum_ok(quote));
}

/* ---- errors that are refused ------------------------------------------ */

/* Put a packet slice:@port -> remote:53 (UDP) in quote[]. */
static void quote_from_slice(uint16_t port)
{
	struct pb_spec s = pb_udp(PB_SLICE, port, PB_REMOTE, 53);

	pb_build(frame, &s);
	memcpy(quote, outer_ip(), 28);
}

/* An error quoting a packet of no flow is classified by the quoted slice
 * port like any outside miss: nat lease -> UNSOLICITED, socket lease ->
 * Linux (its socket sent it), no lease -> NOT_LEASED. */
static void test_icmp_out2in_unknown_flow_classified_by_port(void **state)
{
	size_t len;

	(void)state;
	quote_from_slice(10003);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_DROP_UNSOLICITED);
	quote_from_slice(11050);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len), NAT_KERNEL);
	quote_from_slice(12000);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_DROP_NOT_LEASED);
	assert_int_equal(w->cnt[SH_CNT_ICMP_ERR_OUT2IN], 0);
}

/* A client's error about a packet no flow delivered is unsolicited. */
static void test_icmp_in2out_unknown_flow_is_unsolicited(void **state)
{
	struct pb_spec s = pb_udp(PB_REMOTE, 53, CLIENT, CPORT);
	size_t len;

	(void)state;
	pb_build(frame, &s);
	memcpy(quote, outer_ip(), 28);
	len = icmp_error(CLIENT, PB_REMOTE, 3, 3, 0, 28);
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_DROP_UNSOLICITED);
}

/* Quotes too short to hold an IPv4 header + 8 bytes, in either direction. */
static void test_icmp_quote_too_short_is_inner_malformed(void **state)
{
	size_t len;

	(void)state;
	client_sends(pb_udp(CLIENT, CPORT, PB_REMOTE, 53));
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 27);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 12);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 0);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);

	/* a quoted header claiming options it does not carry in full */
	quote[0] = 0x46;
	pb_fix_ip_csum(quote);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28 + 3);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);

	len = icmp_error(CLIENT, PB_REMOTE, 3, 3, 0, 27);
	assert_int_equal(pb_in2out(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);
}

/* A quote whose IPv4 checksum is wrong, or that is no IPv4 header. */
static void test_icmp_bad_quoted_header_is_inner_malformed(void **state)
{
	size_t len;

	(void)state;
	client_sends(pb_udp(CLIENT, CPORT, PB_REMOTE, 53));
	quote[10] ^= 0x40;
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);
	quote[10] ^= 0x40;
	quote[0] = 0x65;
	pb_fix_ip_csum(quote);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);
	quote[0] = 0x44;
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);
}

/* A quote that cannot be ours: an ICMP error (errors about errors are
 * never sent, RFC 1122 §3.2.2), an echo reply where we sent requests, a
 * non-first fragment (no ports), another protocol, or a packet whose
 * source is not the address the error was sent to. */
static void test_icmp_impossible_quote_is_inner_malformed(void **state)
{
	struct pb_spec s;
	size_t len;

	(void)state;
	client_sends(pb_udp(CLIENT, CPORT, PB_REMOTE, 53));

	s = pb_icmp(PB_SLICE, PB_REMOTE, 3, 3, 0, 0);
	pb_build(frame, &s);
	memcpy(quote, outer_ip(), 28);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);

	s = pb_icmp(PB_SLICE, PB_REMOTE, 0, 0, 10001, 0);
	pb_build(frame, &s);
	memcpy(quote, outer_ip(), 28);
	len = icmp_error(PB_ROUTER, PB_SLICE, 11, 0, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);

	client_sends(pb_udp(CLIENT, CPORT, PB_REMOTE, 53));
	pb_put16(quote + 6, 0x2000 | 185); /* MF + offset */
	pb_fix_ip_csum(quote);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);

	client_sends(pb_udp(CLIENT, CPORT, PB_REMOTE, 53));
	quote[9] = 47;
	pb_fix_ip_csum(quote);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);

	client_sends(pb_udp(CLIENT, CPORT, PB_REMOTE, 53));
	pb_put32(quote + 12, PB_SLICE + 1);
	pb_fix_ip_csum(quote);
	len = icmp_error(PB_ROUTER, PB_SLICE, 3, 3, 0, 28);
	assert_int_equal(pb_out2in(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);
	assert_int_equal(w->cnt[SH_CNT_ICMP_ERR_OUT2IN], 0);
}

/* From a client, the quote must be a packet the client received (to its
 * own address) and, for ICMP, an echo reply (the client never receives
 * our requests). */
static void test_icmp_in2out_impossible_quote_is_inner_malformed(void **state)
{
	struct pb_spec s;
	uint16_t port, id;
	size_t len;

	(void)state;
	client_sends(pb_udp(CLIENT, CPORT, PB_REMOTE, 53));
	port = pb_get16(quote + 20);
	client_receives(pb_udp(PB_REMOTE, 53, PB_SLICE, port));
	/* Sent towards a third host rather than back to the quoted
	 * packet's source. */
	len = icmp_error(CLIENT, PB_REMOTE + 1, 3, 3, 0, 28);
	assert_int_equal(pb_in2out(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);
	/* About a packet to another client, which has no such flow. */
	pb_put32(quote + 16, CLIENT + 1);
	pb_fix_ip_csum(quote);
	len = icmp_error(CLIENT, PB_REMOTE, 3, 3, 0, 28);
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_DROP_UNSOLICITED);

	client_sends(pb_icmp(CLIENT, PB_REMOTE, 8, 0, ECHO_ID, 1));
	id = pb_get16(quote + 24);
	client_receives(pb_icmp(PB_REMOTE, PB_SLICE, 0, 0, id, 1));
	s = pb_icmp(PB_REMOTE, CLIENT, 8, 0, ECHO_ID, 1);
	pb_build(frame, &s);
	memcpy(quote, outer_ip(), 28);
	len = icmp_error(CLIENT, PB_REMOTE, 3, 3, 0, 28);
	assert_int_equal(pb_in2out(w, &ls, frame, len),
			 SH_DROP_ICMP_INNER_MALFORMED);
	assert_int_equal(w->cnt[SH_CNT_ICMP_ERR_IN2OUT], 0);
}

/* An error whose own TTL would reach zero is not forwarded. */
static void test_icmp_error_ttl_one_expires(void **state)
{
	struct pb_spec e = pb_icmp(PB_ROUTER, PB_SLICE, 3, 3, 0, 0);
	uint16_t port;
	size_t len;

	(void)state;
	client_sends(pb_udp(CLIENT, CPORT, PB_REMOTE, 53));
	port = pb_get16(quote + 20);
	e.payload = quote;
	e.payload_len = 28;
	e.ttl = 1;
	len = pb_build(frame, &e);
	assert_int_equal(pb_out2in(w, &ls, frame, len), SH_DROP_TTL_EXPIRED);

	client_receives(pb_udp(PB_REMOTE, 53, PB_SLICE, port));
	e = pb_icmp(CLIENT, PB_REMOTE, 3, 3, 0, 0);
	e.payload = quote;
	e.payload_len = 28;
	e.ttl = 1;
	len = pb_build(frame, &e);
	assert_int_equal(pb_in2out(w, &ls, frame, len), SH_DROP_TTL_EXPIRED);
}

/* Random damage inside the quote of otherwise valid errors (the outer
 * checksums refixed, so only the quote is wrong), random quote lengths,
 * both directions, for UDP, TCP and echo flows: the translators either
 * refuse or emit an error whose outer, ICMP and quoted IPv4 checksums all
 * verify; with a sanitizer build, never touching bytes past the frame. */
static void test_icmp_random_quote_damage_is_safe(void **state)
{
	static const struct {
		uint8_t proto;
		uint16_t rport;
	} kinds[] = { { PB_UDP, 53 }, { PB_TCP, 443 }, { PB_ICMP, 0 } };
	struct pb_rng r = { 0x1c3f };
	unsigned translated = 0;

	(void)state;
	for (int it = 0; it < 6000; it++) {
		unsigned kind = pb_rand(&r) % 3;
		bool o2i = pb_rand(&r) & 1;
		uint8_t proto = kinds[kind].proto;
		uint16_t qlen, port, flips = (uint16_t)(pb_rand(&r) % 3);
		struct pb_spec s, e;
		uint8_t *ip = frame + PB_ETH_LEN;
		unsigned v;
		size_t len;

		if (proto == PB_ICMP)
			s = pb_icmp(CLIENT, PB_REMOTE, 8, 0, ECHO_ID, 1);
		else if (proto == PB_TCP)
			s = pb_tcp(CLIENT, CPORT, PB_REMOTE, 443, PB_SYN);
		else
			s = pb_udp(CLIENT, CPORT, PB_REMOTE, 53);
		s.payload = data;
		s.payload_len = (uint16_t)(pb_rand(&r) % sizeof(data));
		qlen = client_sends(s);
		port = pb_get16(quote + 20 + (proto == PB_ICMP ? 4 : 0));
		if (!o2i) {
			struct pb_spec rep;

			if (proto == PB_ICMP)
				rep = pb_icmp(PB_REMOTE, PB_SLICE, 0, 0, port,
					      1);
			else if (proto == PB_TCP)
				rep = pb_tcp(PB_REMOTE, 443, PB_SLICE, port,
					     PB_SYN | PB_ACK);
			else
				rep = pb_udp(PB_REMOTE, 53, PB_SLICE, port);
			qlen = client_receives(rep);
		}
		for (unsigned f = 0; f < flips; f++)
			quote[pb_rand(&r) % qlen] ^=
				(uint8_t)(1 + pb_rand(&r) % 255);
		if (pb_rand(&r) & 1)
			pb_fix_ip_csum(quote);
		if (pb_rand(&r) % 3 == 0)
			qlen = (uint16_t)(pb_rand(&r) % (qlen + 1));
		e = o2i ? pb_icmp(PB_ROUTER, PB_SLICE, 3, 3, 0, 0)
			: pb_icmp(CLIENT, PB_REMOTE, 3, 3, 0, 0);
		e.payload = quote;
		e.payload_len = qlen;
		len = pb_build(frame, &e);
		v = o2i ? pb_out2in(w, &ls, frame, len)
			: pb_in2out(w, &ls, frame, len);
		if (v != SH_OK)
			continue;
		translated++;
		assert_true(pb_ip_csum_ok(ip));
		assert_true(pb_l4_csum_ok(ip));
		assert_true(qlen >= 28);
		assert_true(pb_ip_csum_ok(quoted_ip()));
		/* the quoted end that is ours now names the right side */
		if (o2i)
			assert_int_equal(pb_get32(quoted_ip() + 12), CLIENT);
		else
			assert_int_equal(pb_get32(quoted_ip() + 16), PB_SLICE);
	}
	assert_true(translated > 1000);
}

/* ---- types that are not translated ------------------------------------ */

/* Timestamp (13), redirect (5), router advertisement (9) and echo
 * replies from clients are neither echo requests nor errors:
 * ICMP_UNSUPPORTED in both directions. */
static void test_icmp_other_types_unsupported(void **state)
{
	static const uint8_t types[] = { 13, 14, 5, 9, 10, 17 };
	struct pb_spec s;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		s = pb_icmp(PB_REMOTE, PB_SLICE, types[i], 0, 10001, 1);
		len = pb_build(frame, &s);
		if (pb_out2in(w, &ls, frame, len) != SH_DROP_ICMP_UNSUPPORTED)
			fail_msg("out2in type %u not refused", types[i]);
		s = pb_icmp(CLIENT, PB_REMOTE, types[i], 0, 10001, 1);
		len = pb_build(frame, &s);
		if (pb_in2out(w, &ls, frame, len) != SH_DROP_ICMP_UNSUPPORTED)
			fail_msg("in2out type %u not refused", types[i]);
	}
	s = pb_icmp(CLIENT, PB_REMOTE, 0, 0, 10001, 1);
	len = pb_build(frame, &s);
	assert_int_equal(pb_in2out(w, &ls, frame, len),
			 SH_DROP_ICMP_UNSUPPORTED);
	assert_int_equal(nat_flow_count(w), 0);
}

/* A ping to the slice address from outside is Linux's to answer, as is
 * any ICMP to an address that is not a slice. */
static void test_icmp_echo_request_to_slice_goes_to_kernel(void **state)
{
	struct pb_spec s = pb_icmp(PB_REMOTE, PB_SLICE, 8, 0, 10001, 1);
	size_t len;

	(void)state;
	len = pb_build(frame, &s);
	assert_int_equal(pb_out2in(w, &ls, frame, len), NAT_KERNEL);
	s.dst = PB_HOST_OUT;
	len = pb_build(frame, &s);
	assert_int_equal(pb_out2in(w, &ls, frame, len), NAT_KERNEL);
	s = pb_icmp(PB_REMOTE, PB_HOST_OUT, 13, 0, 1, 1);
	len = pb_build(frame, &s);
	assert_int_equal(pb_out2in(w, &ls, frame, len), NAT_KERNEL);
	assert_int_equal(nat_flow_count(w), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_icmp_out2in_udp_port_unreachable_full_quote),
		T(test_icmp_out2in_udp_time_exceeded_short_quote),
		T(test_icmp_out2in_tcp_frag_needed_keeps_mtu),
		T(test_icmp_out2in_tcp_short_quote_untouched_beyond),
		T(test_icmp_out2in_echo_time_exceeded),
		T(test_icmp_out2in_param_problem_keeps_flow_timer),
		T(test_icmp_out2in_with_ip_options),
		T(test_icmp_in2out_port_unreachable_from_client),
		T(test_icmp_in2out_error_about_echo_reply),
		T(test_icmp_in2out_error_from_inside_router),
		T(test_icmp_all_zero_echo_reply_checksum_is_ffff),
		T(test_icmp_out2in_unknown_flow_classified_by_port),
		T(test_icmp_in2out_unknown_flow_is_unsolicited),
		T(test_icmp_quote_too_short_is_inner_malformed),
		T(test_icmp_bad_quoted_header_is_inner_malformed),
		T(test_icmp_impossible_quote_is_inner_malformed),
		T(test_icmp_in2out_impossible_quote_is_inner_malformed),
		T(test_icmp_error_ttl_one_expires),
		T(test_icmp_random_quote_damage_is_safe),
		T(test_icmp_other_types_unsupported),
		T(test_icmp_echo_request_to_slice_goes_to_kernel),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
