/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_icmp: ICMP errors both ways (RFC 5508), quoting packets of flows
 * set up first so that quotes can match, with the invariants of
 * nat_harness.h after every packet. The harness builds well-formed errors
 * from the input's choices and then, if asked, corrupts one byte (with or
 * without fixing the checksums afterwards), so both the translation of
 * good errors and the refusal of bad ones are exercised.
 *
 * Input:
 *   [setup: 2] as fuzz_nat (fz_setup_decode() in nat_harness.h)
 *   [nflows] bits 0-2: 1..8 flows, each 6 bytes:
 *     [proto] bits 0-1 UDP, TCP (SYN), ICMP echo, UDP; bits 2-3 the
 *             client's third octet (10.0.{0,5,7,1}.x); bit 4 second
 *             remote
 *     [client's last octet] [client port: 2] [remote port: 2]
 *     Each flow is opened inside -> outside, and answered once.
 *   records of 8 bytes:
 *     [op]    bit 0 error from the outside (about a translated outbound
 *             packet) or from the inside (about a translated inbound
 *             one); bit 1 sent by a router, not the peer itself; bit 2
 *             XOR a byte; bit 3 fix checksums after that; bit 4 a data
 *             packet of the flow instead of an error; bit 5 toggle lease
 *             "a" draining; bit 6 outer TTL 1; bit 7 802.1Q tag
 *     [clock] as fuzz_nat
 *     [flow]  which flow (mod nflows)
 *     [type]  bits 0-1: 3, 11, 12, or bits 2-7 as the raw type
 *     [code]
 *     [qlen]  quoted bytes after the quoted IPv4 header: 8 + qlen % 64
 *     [where] [xor]  the byte to corrupt (mod the frame length)
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nat_harness.h"
#include "pkt_build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t steps[16] = {
	0, 1, 10, 100, 999, 1000, 4999, 5000,
	9999, 10000, 29999, 30000, 60000, 119999, 120000, 600000,
};

struct flow {
	uint8_t proto;
	uint32_t cip, rip, oip;
	uint16_t cport, rport, oport;
};

static const uint8_t payload[64] = "quoted payload bytes, enough to be quoted in full.";

/* The data packet of @f in one direction, as it is on the wire there:
 * inside -> outside as the client sent it, outside -> inside as the
 * remote answers the translated tuple. */
static struct pb_spec data_pkt(const struct flow *f, bool from_outside)
{
	struct pb_spec s;

	switch (f->proto) {
	case PB_TCP:
		s = from_outside ? pb_tcp(f->rip, f->rport, f->oip, f->oport,
					  PB_SYN | PB_ACK)
				 : pb_tcp(f->cip, f->cport, f->rip, f->rport,
					  PB_SYN);
		break;
	case PB_ICMP:
		s = from_outside ? pb_icmp(f->rip, f->oip, 0, 0, f->oport, 1)
				 : pb_icmp(f->cip, f->rip, 8, 0, f->cport, 1);
		break;
	default:
		s = from_outside ? pb_udp(f->rip, f->rport, f->oip, f->oport)
				 : pb_udp(f->cip, f->cport, f->rip, f->rport);
	}
	s.payload = payload;
	s.payload_len = 40;
	return s;
}

/* The packet an error quotes, as it was on the wire past the NAT: the
 * translated outbound packet (error from the outside) or the translated
 * inbound one (error from the inside). */
static struct pb_spec quoted_pkt(const struct flow *f, bool from_outside)
{
	struct pb_spec s;

	switch (f->proto) {
	case PB_TCP:
		s = from_outside ? pb_tcp(f->oip, f->oport, f->rip, f->rport,
					  PB_ACK)
				 : pb_tcp(f->rip, f->rport, f->cip, f->cport,
					  PB_ACK);
		break;
	case PB_ICMP:
		s = from_outside ? pb_icmp(f->oip, f->rip, 8, 0, f->oport, 1)
				 : pb_icmp(f->rip, f->cip, 0, 0, f->cport, 1);
		break;
	default:
		s = from_outside ? pb_udp(f->oip, f->oport, f->rip, f->rport)
				 : pb_udp(f->rip, f->rport, f->cip, f->cport);
	}
	s.payload = payload;
	s.payload_len = sizeof(payload);
	s.ttl = 63;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t octet3[4] = { 0, 5, 7, 1 };
	static uint8_t frame[PB_MAX_FRAME], quote[PB_MAX_FRAME];
	struct flow flows[8];
	unsigned n, i, records = 0;
	size_t off = 3, len;
	struct fz_setup setup;

	if (size < 3)
		return 0;
	fz_setup_decode(&setup, data[0], data[1]);
	fz_begin(&setup);
	n = (data[2] & 7u) + 1;
	for (i = 0; i < n && off + 6 <= size; i++, off += 6) {
		const uint8_t *b = data + off;
		static const uint8_t protos[4] = { PB_UDP, PB_TCP, PB_ICMP,
						   PB_UDP };
		struct flow *f = &flows[i];
		struct pb_spec s;

		memset(f, 0, sizeof(*f));
		f->proto = protos[b[0] & 3];
		f->cip = PB_IP(10, 0, octet3[(b[0] >> 2) & 3], b[1]);
		f->rip = b[0] & 0x10 ? PB_IP(203, 0, 113, 77) : FZ_REMOTE;
		f->cport = pb_get16(b + 2);
		f->rport = f->proto == PB_ICMP ? 0 : pb_get16(b + 4);
		s = data_pkt(f, false);
		len = pb_build(frame, &s);
		if (fz_packet(FZ_IN, frame, len, false) == SH_OK) {
			const uint8_t *t = fz_last_frame() + PB_ETH_LEN;

			f->oip = pb_get32(t + 12);
			f->oport = pb_get16(t + 20 + (f->proto == PB_ICMP ? 4 : 0));
			s = data_pkt(f, true);
			len = pb_build(frame, &s);
			fz_packet(FZ_OUT, frame, len, false);
		} else {
			/* not translated: quotes of it must not match */
			f->oip = FZ_SLICE_A;
			f->oport = (uint16_t)(10000 + b[5]);
		}
	}
	n = i;
	while (n && off + 8 <= size && records++ < 512) {
		const uint8_t *b = data + off;
		const struct flow *f = &flows[b[2] % n];
		bool outside = b[0] & 1;
		struct pb_spec s, q;
		size_t qlen;

		off += 8;
		if (b[0] & 0x20)
			fz_toggle_draining();
		fz_advance(steps[b[1] & 15] * (((b[1] >> 4) & 3u) + 1u));
		if (b[0] & 0x10) {
			s = data_pkt(f, outside);
		} else {
			static const uint8_t types[3] = { 3, 11, 12 };

			q = quoted_pkt(f, outside);
			qlen = pb_build(quote, &q);
			if (qlen > PB_ETH_LEN + 20 + 8 + b[5] % 64u)
				qlen = PB_ETH_LEN + 20 + 8 + b[5] % 64u;
			/* the error goes back where the quote came from */
			if (outside)
				s = pb_icmp(b[0] & 2 ? PB_ROUTER : f->rip,
					    f->oip, 0, b[4], 0, 0);
			else
				s = pb_icmp(b[0] & 2 ? PB_IP(10, 0, 0, 254)
						     : f->cip, f->rip, 0, b[4],
					    0, 0);
			s.icmp_type = (b[3] & 3) == 3 ? (uint8_t)(b[3] >> 2)
						      : types[b[3] & 3];
			if (s.icmp_type == 3 && b[4] == 4)
				s.icmp_seq = 1400; /* next-hop MTU */
			s.payload = quote + PB_ETH_LEN;
			s.payload_len = (uint16_t)(qlen - PB_ETH_LEN);
		}
		if (b[0] & 0x40)
			s.ttl = 1;
		s.vlan = b[0] & 0x80;
		len = pb_build(frame, &s);
		if (b[0] & 4) {
			frame[b[6] % len] ^= b[7];
			if (b[0] & 8)
				fz_fix_checksums(frame, len);
		}
		fz_packet(outside ? FZ_OUT : FZ_IN, frame, len, false);
	}
	fz_end();
	return 0;
}
