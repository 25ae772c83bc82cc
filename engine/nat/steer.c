/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Steering: the Toeplitz tables behind RSS-aware ownership, and the owner
 * of an ICMP packet (see steer.h for the rules, owner.h for the rest).
 */
#include <errno.h>
#include <string.h>

#include "owner.h"

void nat_steer_soft(struct nat_steer *s, unsigned n_workers)
{
	memset(s, 0, sizeof(*s));
	s->n_workers = n_workers ? n_workers : 1;
}

/* The 32 key bits starting at bit @k (MSB first) of @key. */
static uint32_t key_window(const uint8_t *key, unsigned k)
{
	const uint8_t *b = key + k / 8;
	uint64_t v = (uint64_t)b[0] << 32 | (uint64_t)b[1] << 24 |
		     (uint64_t)b[2] << 16 | (uint64_t)b[3] << 8 | b[4];

	return (uint32_t)(v >> (8 - k % 8));
}

int nat_steer_rss(struct nat_steer *s, unsigned n_workers, unsigned input_len,
		  const uint8_t *key, unsigned key_len, const uint16_t *reta,
		  unsigned reta_size)
{
	unsigned b, v, j, i;

	if (n_workers == 0 ||
	    (input_len != NAT_RSS_INPUT_IN && input_len != NAT_RSS_INPUT_OUT) ||
	    key_len < input_len + 4 || reta_size == 0 ||
	    reta_size > NAT_RETA_MAX || (reta_size & (reta_size - 1)))
		return -EINVAL;
	for (i = 0; i < reta_size; i++)
		if (reta[i] >= n_workers)
			return -EINVAL;
	nat_steer_soft(s, n_workers);
	s->rss = true;
	s->input_len = input_len;
	s->reta_mask = reta_size - 1;
	memcpy(s->reta, reta, reta_size * sizeof(*reta));
	/* Each set input bit XORs in the key window starting at that bit. */
	for (b = 0; b < input_len; b++)
		for (v = 0; v < 256; v++)
			for (j = 0; j < 8; j++)
				if (v & (0x80u >> j))
					s->tbl[b][v] ^= key_window(key, b * 8 + j);
	return 0;
}

/*
 * An outside ICMP error is owned by the flow it quotes: the quote is
 * slice:P -> remote:R as it left, so its owner is the owner of that
 * outside tuple. -1 when the quote is too short to tell (it is dropped
 * as malformed by whichever worker has it).
 */
static int quote_owner_out(const struct nat_steer *out, const struct nat_pkt *p)
{
	const uint8_t *q = p->l4 + 8;
	uint32_t qihl;

	if (p->l4_len < 8 + 20 || (q[0] >> 4) != 4)
		return -1;
	qihl = (uint32_t)(q[0] & 0xf) * 4;
	if (qihl < 20 || p->l4_len < 8 + qihl + 8)
		return -1;
	if (q[IP4_PROTO] == NAT_PROTO_ICMP)
		return (int)nat_owner_out(out, 0, ld16(q + qihl + NAT_ICMP_ID), 0,
					  0, NAT_PROTO_ICMP);
	return (int)nat_owner_out(out, ld32(q + IP4_SRC), ld16(q + qihl + L4_SPORT),
				  ld32(q + IP4_DST), ld16(q + qihl + L4_DPORT),
				  q[IP4_PROTO]);
}

int nat_icmp_owner(const struct nat_steer *in, const struct nat_steer *out,
		   const struct nat_pkt *p, bool out2in)
{
	const uint8_t *l4 = p->l4;
	uint8_t type = l4[NAT_ICMP_TYPE];

	switch (type) {
	case NAT_ICMP_ECHO_REQUEST:
	case NAT_ICMP_ECHO_REPLY:
		if (!out2in)
			return (int)nat_owner_client(in, ld32(p->ip + IP4_SRC));
		return (int)nat_owner_out(out, 0, ld16(l4 + NAT_ICMP_ID), 0, 0,
					  NAT_PROTO_ICMP);
	case NAT_ICMP_DEST_UNREACH:
	case NAT_ICMP_TIME_EXCEEDED:
	case NAT_ICMP_PARAM_PROBLEM:
		if (out2in)
			return quote_owner_out(out, p);
		/* An error about a packet sent to a client: the client is the
		 * quoted destination (whoever sent the error). */
		if (p->l4_len < 8 + 20)
			return -1;
		return (int)nat_owner_client(in, ld32(l4 + 8 + IP4_DST));
	default:
		return -1;
	}
}
