/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP MSS clamping: a SYN's maximum segment size option is lowered to
 * what the links through the engine carry, so neither end sends segments
 * that would need fragmenting or a path MTU discovery that a firewall
 * beyond us may break (RFC 879 §7, RFC 6691; Linux's TCPMSS target).
 */
#include "csum.h"
#include "nat.h"

#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define TCP_OPT_MSS_LEN 4

uint32_t nat_mss_clamp(uint8_t *l4, uint32_t l4_len, uint16_t clamp)
{
	uint32_t doff, i;

	if (l4_len < 20)
		return 0;
	doff = (uint32_t)(l4[12] >> 4) * 4;
	if (doff < 20 || doff > l4_len)
		return 0;
	/* Bounded: each step consumes at least one of at most 40 bytes. */
	for (i = 20; i < doff;) {
		uint8_t kind = l4[i], len;
		uint16_t old, new_, mss;

		if (kind == TCP_OPT_EOL)
			return 0;
		if (kind == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= doff)
			return 0;
		len = l4[i + 1];
		if (len < 2 || i + len > doff)
			return 0; /* malformed: not ours to repair */
		if (kind != TCP_OPT_MSS) {
			i += len;
			continue;
		}
		if (len != TCP_OPT_MSS_LEN)
			return 0;
		mss = (uint16_t)(l4[i + 2] << 8 | l4[i + 3]);
		if (mss <= clamp)
			return 0;
		old = ld16(l4 + i + 2);
		l4[i + 2] = (uint8_t)(clamp >> 8);
		l4[i + 3] = (uint8_t)clamp;
		new_ = ld16(l4 + i + 2);
		/* The checksum sums 16-bit words at even offsets: a field at
		 * an odd offset straddles two of them, which in the sum is the
		 * field with its bytes swapped. */
		if (i & 1) {
			old = (uint16_t)(old << 8 | old >> 8);
			new_ = (uint16_t)(new_ << 8 | new_ >> 8);
		}
		return csum_delta16(old, new_);
	}
	return 0;
}

uint32_t nat_syn_clamp(struct nat_worker *w, uint8_t *l4, uint32_t l4_len)
{
	uint32_t d = nat_mss_clamp(l4, l4_len, w->mss_clamp);

	if (d)
		w->cnt[SH_CNT_TCP_MSS_CLAMPED]++;
	return d;
}
