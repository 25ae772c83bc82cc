/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_nat: the stateful packet path, both directions and Linux's own
 * egress, with the invariants of nat_harness.h after every packet.
 *
 * Input: one setup byte, then records until the input ends.
 *   setup   bits 0-1 workers - 1, bits 2-3 this worker's id (mod workers),
 *           bit 4 a per-client cap of 4 flows
 *   record  [op] [clock] [len hi] [len lo] [len bytes of Ethernet frame]
 *     op    bits 0-1 where the frame comes from: 0 inside, 1 outside,
 *           2 Linux (kernel egress check), 3 inside; bit 2 recompute its
 *           checksums first (so mutations reach the translators); bit 3
 *           the NIC claims a good L4 checksum (honoured only if true);
 *           bit 4 toggle lease "a" between active and draining
 *     clock advance before the packet: bits 0-3 index into steps[]
 *           below, bits 4-5 a multiplier 1..4 (512 records stay far
 *           below the 49 days where the ms clock wraps)
 * A length past the end takes what is left.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nat_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Steps around the fixture's timeouts (ms), so expiry edges are reached. */
static const uint32_t steps[16] = {
	0, 1, 10, 100, 999, 1000, 4999, 5000,
	9999, 10000, 29999, 30000, 60000, 119999, 120000, 600000,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[4096];
	size_t off = 1;
	unsigned records = 0;

	if (size < 1)
		return 0;
	fz_begin((data[0] & 3u) + 1, (data[0] >> 2) & 3u,
		 data[0] & 0x10 ? 4 : 0);
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
		if (op & 0x04)
			fz_fix_checksums(frame, len);
		fz_packet(dir == 1 ? FZ_OUT : dir == 2 ? FZ_KERNEL : FZ_IN,
			  frame, len, op & 0x08);
	}
	fz_end();
	return 0;
}
