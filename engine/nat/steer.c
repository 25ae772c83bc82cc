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
 * An error is owned by the flow it quotes. Outside, the quote is
 * slice:P -> remote:R as it left: the owner of that outside tuple.
 * Inside, it is remote -> client as the client got it: the client's
 * owner, whoever (the client or a router on the way) sent the error.
 * -1 for a quote nat_quote_parse() refuses: whichever worker has it drops
 * it as malformed.
 */
static int quote_owner(const struct nat_steer *in, const struct nat_steer *out,
		       const struct nat_pkt *p, bool out2in)
{
	struct nat_quote q;

	if (nat_quote_parse(p, &q) != SH_OK)
		return -1;
	if (!out2in)
		return (int)nat_owner_client(in, ld32(q.ip + IP4_DST));
	if (q.proto == NAT_PROTO_ICMP)
		return (int)nat_owner_out(out, 0, ld16(q.l4 + NAT_ICMP_ID), 0, 0,
					  NAT_PROTO_ICMP);
	return (int)nat_owner_out(out, ld32(q.ip + IP4_SRC), ld16(q.l4 + L4_SPORT),
				  ld32(q.ip + IP4_DST), ld16(q.l4 + L4_DPORT),
				  q.proto);
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
		return quote_owner(in, out, p, out2in);
	default:
		return -1;
	}
}
