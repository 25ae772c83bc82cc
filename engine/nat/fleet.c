/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fleet: slices of the pool owned across hosts (docs/FLEET.md "Return
 * traffic to the owner"). The pieces the worker needs on byte buffers,
 * pure so that the unit tests drive them: the owner of an outside
 * packet, the tunnel's outer headers and their check on receipt; and
 * the control plane's map building (owners by slice, peers sorted).
 *
 * The tunnel is GUE variant 1: the inner IPv4 packet right after an
 * outer IPv4 and UDP header, 28 bytes in all (FLEET.md says why not IPIP).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "nat.h"

#define OUTER_TTL 64
#define IP4_DF 0x4000
/* The tunnel's UDP source ports: the dynamic range, 14 bits of flow. */
#define TUNNEL_SPORT_BASE 0xc000
#define TUNNEL_SPORT_MASK 0x3fff

int nat_fleet_pkt_owner(const struct nat_lease_set *ls, const struct nat_pkt *p)
{
	uint32_t dst = ld32(p->ip + IP4_DST);
	struct nat_quote q;

	switch (p->proto) {
	case NAT_PROTO_TCP:
	case NAT_PROTO_UDP:
		return nat_fleet_owner(ls, dst, ld16(p->l4 + L4_DPORT));
	default:
		break;
	}
	switch (p->l4[NAT_ICMP_TYPE]) {
	case NAT_ICMP_ECHO_REPLY:
		return nat_fleet_owner(ls, dst, ld16(p->l4 + NAT_ICMP_ID));
	case NAT_ICMP_DEST_UNREACH:
	case NAT_ICMP_TIME_EXCEEDED:
	case NAT_ICMP_PARAM_PROBLEM:
		/* The quote left from the pool address: its source port (or
		 * echo id) is the mapping the error is about. */
		if (nat_quote_parse(p, &q) != SH_OK)
			return -1;
		return nat_fleet_owner(ls, dst,
				       ld16(q.l4 + (q.proto == NAT_PROTO_ICMP
							    ? NAT_ICMP_ID
							    : L4_SPORT)));
	default:
		return -1;
	}
}

int nat_fleet_peer_index(const struct nat_lease_set *ls, uint32_t ip)
{
	uint32_t key = nat_be32(ip);
	unsigned lo = 0, hi = ls->n_peers;

	/* Sorted by host-order address (nat_lease_set_finish). */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		uint32_t v = nat_be32(ls->fleet_peer[mid]);

		if (v == key)
			return (int)mid;
		if (v < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

unsigned nat_fleet_decap_check(const struct nat_lease_set *ls,
			       const struct nat_pkt *p)
{
	const uint8_t *inner = p->l4 + 8;

	if (nat_fleet_peer_index(ls, ld32(p->ip + IP4_SRC)) < 0)
		return SH_DROP_PEER_UNKNOWN;
	/* We send no outer options; the UDP length is the rest of the
	 * packet; the inner packet fills it exactly. */
	if (p->l4 - p->ip != 20 ||
	    p->ip_len < NAT_FLEET_OVERHEAD + 20 ||
	    ld16_host(p->l4 + UDP_LEN) != p->l4_len ||
	    (inner[0] >> 4) != 4 ||
	    ld16_host(inner + IP4_TOTLEN) != p->ip_len - NAT_FLEET_OVERHEAD)
		return SH_DROP_PEER_MALFORMED;
	return SH_OK;
}

void nat_fleet_encap(uint8_t *hdr, const struct nat_lease_set *ls,
		     uint32_t dst, uint16_t inner_len, uint32_t hash)
{
	uint8_t *udp = hdr + 20;

	hdr[0] = 0x45;
	hdr[1] = 0;
	st16(hdr + IP4_TOTLEN, nat_be16((uint16_t)(inner_len +
						   NAT_FLEET_OVERHEAD)));
	st16(hdr + 4, 0); /* id: DF set, never fragmented */
	st16(hdr + IP4_FRAG, nat_be16(IP4_DF));
	hdr[IP4_TTL] = OUTER_TTL;
	hdr[IP4_PROTO] = NAT_PROTO_UDP;
	st16(hdr + IP4_CSUM, 0);
	st32(hdr + IP4_SRC, ls->fleet_self_ip);
	st32(hdr + IP4_DST, dst);
	st16(hdr + IP4_CSUM, csum_finish(csum_partial(hdr, 20, 0)));
	st16(udp + L4_SPORT, nat_be16((uint16_t)(TUNNEL_SPORT_BASE |
						 (hash & TUNNEL_SPORT_MASK))));
	st16(udp + L4_DPORT, ls->fleet_port);
	st16(udp + UDP_LEN, nat_be16((uint16_t)(inner_len + 8)));
	st16(udp + UDP_CSUM, 0); /* none: RFC 768 permits it over IPv4 */
}

uint32_t nat_fleet_flow_hash(const uint8_t *ip, uint16_t sport, uint16_t dport)
{
	uint32_t h = ld32(ip + IP4_SRC) ^ ld32(ip + IP4_DST) * 2654435761u;

	h ^= ((uint32_t)sport << 16 | dport) * 2246822519u;
	h ^= ip[IP4_PROTO];
	h ^= h >> 15;
	h *= 2654435761u;
	return h ^ h >> 13;
}

int nat_fleet_add(struct nat_lease_set *ls, uint32_t ip, uint16_t lo,
		  uint16_t hi, bool self, uint32_t peer)
{
	int i = nat_slice_index(ls, ip);
	uint32_t off = (uint32_t)lo - ls->fleet_lo, k;
	int rc;

	if (!ls->fleet || i < 0 || off >= ls->fleet_span ||
	    off % ls->fleet_size || (uint32_t)hi - lo + 1 != ls->fleet_size)
		return -EINVAL;
	k = (uint32_t)i * ls->fleet_per_ip + off / ls->fleet_size;
	if (ls->fleet_owner[k] != NAT_FLEET_NONE)
		return -EINVAL;
	if (self) {
		ls->fleet_owner[k] = NAT_FLEET_SELF;
		return 0;
	}
	rc = nat_fleet_add_peer(ls, peer);
	if (rc < 0)
		return rc;
	ls->fleet_owner[k] = (uint16_t)(NAT_FLEET_PEER + rc);
	return 0;
}

int nat_fleet_add_peer(struct nat_lease_set *ls, uint32_t peer)
{
	unsigned j;

	if (!ls->fleet || peer == 0 || peer == ls->fleet_self_ip)
		return -EINVAL;
	/* Unsorted while the set is built: a linear search, on the
	 * control plane. */
	for (j = 0; j < ls->n_peers && ls->fleet_peer[j] != peer; j++)
		;
	if (j == ls->n_peers) {
		if (j == NAT_FLEET_MAX_PEERS)
			return -EDQUOT;
		ls->fleet_peer[ls->n_peers++] = peer;
	}
	return (int)j;
}

static int peer_cmp(const void *a, const void *b)
{
	uint32_t x = nat_be32(*(const uint32_t *)a);
	uint32_t y = nat_be32(*(const uint32_t *)b);

	return x < y ? -1 : x > y;
}

void nat_fleet_finish(struct nat_lease_set *ls)
{
	uint32_t sorted[NAT_FLEET_MAX_PEERS];
	uint16_t renum[NAT_FLEET_MAX_PEERS];
	unsigned i, k;

	if (!ls->fleet || ls->n_peers < 2)
		return;
	memcpy(sorted, ls->fleet_peer, ls->n_peers * sizeof(sorted[0]));
	qsort(sorted, ls->n_peers, sizeof(sorted[0]), peer_cmp);
	for (i = 0; i < ls->n_peers; i++) {
		uint32_t *at = bsearch(&ls->fleet_peer[i], sorted, ls->n_peers,
				       sizeof(sorted[0]), peer_cmp);

		renum[i] = (uint16_t)(at - sorted);
	}
	for (k = 0; k < ls->n_fleet_slices; k++)
		if (ls->fleet_owner[k] >= NAT_FLEET_PEER)
			ls->fleet_owner[k] = (uint16_t)(
				NAT_FLEET_PEER +
				renum[ls->fleet_owner[k] - NAT_FLEET_PEER]);
	memcpy(ls->fleet_peer, sorted, ls->n_peers * sizeof(sorted[0]));
}

void nat_fleet_fence(struct nat_lease_set *ls)
{
	unsigned k;

	ls->n_leases = 0;
	ls->n_match = 0;
	ls->any_exclusive = false;
	for (k = 0; k < ls->n_fleet_slices; k++)
		if (ls->fleet_owner[k] == NAT_FLEET_SELF)
			ls->fleet_owner[k] = NAT_FLEET_NONE;
}
