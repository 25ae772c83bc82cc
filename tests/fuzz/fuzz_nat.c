/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_nat: the stateful packet path, both directions and Linux's own
 * egress, with the invariants of nat_harness.h after every packet.
 *
 * Input: two setup bytes, then records until the input ends.
 *   setup   fz_setup_decode() in nat_harness.h: workers, this worker's
 *           id, a per-client cap, the hold-down, RSS on the outside;
 *           each nat lease's mapping and filtering
 *   record  [op] [clock] [len hi] [len lo] [len bytes of Ethernet frame]
 *     op    bits 0-1 where the frame comes from: 0 inside, 1 outside,
 *           2 Linux (kernel egress check), 3 inside; bit 2 recompute its
 *           checksums first (so mutations reach the translators); bit 3
 *           the NIC claims a good L4 checksum (honoured only if true);
 *           bit 4 toggle lease "a" between active and draining; bit 5
 *           address it from the last translated client packet (see
 *           aim()), so replies and errors can hit a flow whose port the
 *           input cannot know; bit 6 aim only its destination, at that
 *           flow's outside address and port: from the inside a hairpin
 *           (another client to that mapping), from the outside a new
 *           remote (filtering); bit 7 aim at the flow before the last
 *     clock advance before the packet: bits 0-3 index into steps[]
 *           below, bits 4-5 a multiplier 1..4 (512 records stay far
 *           below the 49 days where the ms clock wraps)
 * A length past the end takes what is left.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nat_harness.h"
#include "pkt_build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Steps around the fixture's timeouts (ms), so expiry edges are reached. */
static const uint32_t steps[16] = {
	0, 1, 10, 100, 999, 1000, 4999, 5000,
	9999, 10000, 29999, 30000, 60000, 119999, 120000, 600000,
};

/* The last two client packets translated (last[0] the newest): inside
 * and outside tuple. */
struct seen {
	bool valid;
	uint32_t cip, rip, oip;
	uint16_t cport, rport, oport;
};
static struct seen last[2];

static void remember(const uint8_t *before, size_t len)
{
	const uint8_t *after = fz_last_frame();
	size_t ip = pb_get16(before + 12) == 0x8100 ? 18 : 14;
	size_t l4 = ip + pb_ihl(before + ip);
	bool icmp = before[ip + 9] == PB_ICMP;

	struct seen *s = &last[0];

	if (icmp && before[l4] != 8)
		return; /* errors translate no flow of their own */
	(void)len;
	last[1] = last[0];
	s->valid = true;
	s->cip = pb_get32(before + ip + 12);
	s->rip = pb_get32(before + ip + 16);
	s->oip = pb_get32(after + ip + 12);
	s->cport = pb_get16(before + l4 + (icmp ? 4 : 0));
	s->rport = icmp ? 0 : pb_get16(before + l4 + 2);
	s->oport = pb_get16(after + l4 + (icmp ? 4 : 0));
}

/* Write (src, sport) -> (dst, dport) into the IPv4 packet at @ip if the
 * frame holds its header and 8 bytes of L4; ICMP gets the id. */
static void set_tuple(uint8_t *ip, const uint8_t *end, uint32_t src,
		      uint16_t sport, uint32_t dst, uint16_t dport, bool dst_id)
{
	uint8_t *l4 = ip + pb_ihl(ip);

	if (ip + 20 > end || l4 + 8 > end)
		return;
	pb_put32(ip + 12, src);
	pb_put32(ip + 16, dst);
	if (ip[9] == PB_ICMP) {
		pb_put16(l4 + 4, dst_id ? dport : sport);
	} else {
		pb_put16(l4, sport);
		pb_put16(l4 + 2, dport);
	}
}

/*
 * Aim the frame at flow @s: from the outside as the remote's reply
 * (rip:rport -> oip:oport), or for an ICMP error the error about the
 * translated packet (outer destination oip, quoting oip:oport ->
 * rip:rport); from the inside an ICMP error about the reply (outer
 * destination rip, quoting rip:rport -> cip:cport), else the client's
 * packet again. @dst_only: only the destination, to oip:oport (the
 * frame's source stays): a hairpin from the inside, a new remote from the
 * outside.
 */
static void aim(uint8_t *f, size_t len, bool outside, const struct seen *s,
		bool dst_only)
{
	uint8_t *end = f + len, *ip, *l4;

	if (!s->valid || len < 18)
		return;
	ip = f + (pb_get16(f + 12) == 0x8100 ? 18 : 14);
	if (ip + 20 > end || ip[0] >> 4 != 4 || ip + pb_ihl(ip) + 8 > end)
		return;
	l4 = ip + pb_ihl(ip);
	if (ip[9] == PB_ICMP && (l4[0] == 3 || l4[0] == 11 || l4[0] == 12)) {
		pb_put32(ip + 16, outside ? s->oip : s->rip);
		if (outside)
			set_tuple(l4 + 8, end, s->oip, s->oport, s->rip,
				  s->rport, false);
		else
			set_tuple(l4 + 8, end, s->rip, s->rport, s->cip,
				  s->cport, true);
		return;
	}
	if (dst_only) {
		pb_put32(ip + 16, s->oip);
		if (ip[9] != PB_ICMP)
			pb_put16(l4 + 2, s->oport);
		else if (outside)
			pb_put16(l4 + 4, s->oport);
		return;
	}
	if (outside)
		set_tuple(ip, end, s->rip, s->rport, s->oip, s->oport, true);
	else
		set_tuple(ip, end, s->cip, s->cport, s->rip, s->rport, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[4096];
	size_t off = 2;
	unsigned records = 0;
	struct fz_setup setup;
	unsigned v;

	if (size < 2)
		return 0;
	fz_setup_decode(&setup, data[0], data[1]);
	fz_begin(&setup);
	last[0].valid = last[1].valid = false;
	/* every loop bounded: at most 512 records of at least 4 bytes */
	while (off + 4 <= size && records++ < 512) {
		uint8_t op = data[off], clk = data[off + 1];
		size_t len = (size_t)data[off + 2] << 8 | data[off + 3];
		unsigned dir = op & 3u;

		off += 4;
		if (len > size - off)
			len = size - off;
		if (len > sizeof(frame))
			len = sizeof(frame);
		memcpy(frame, data + off, len);
		off += len;
		if (op & 0x10)
			fz_toggle_draining();
		fz_advance(steps[clk & 15] * (((clk >> 4) & 3u) + 1u));
		if (op & 0x60)
			aim(frame, len, dir == 1, &last[op >> 7], op & 0x40);
		if (op & 0x04)
			fz_fix_checksums(frame, len);
		v = fz_packet(dir == 1 ? FZ_OUT : dir == 2 ? FZ_KERNEL : FZ_IN,
			      frame, len, op & 0x08);
		if ((v == SH_OK || v == NAT_HAIRPIN) && (dir == 0 || dir == 3))
			remember(frame, len);
	}
	fz_end();
	return 0;
}
