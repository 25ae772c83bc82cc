/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow lookup, inline: the keyed flow hash, flow keys, timeouts and light
 * TCP state, nat_lookup() and nat_dst_is_local(), the per-packet lookups
 * of the translators (in2out.c, out2in.c), which keep the key in
 * registers only because these are inline.
 *
 * This header is the inline half of flow.c, the flow table's owner: the
 * table layout is described there, and nat_lookup() retires an expired
 * flow through flow.c's nat_flow_retire(). Everything else here depends only
 * on nat.h and pkt.h. Owner lcore of the worker passed in, except the
 * pure functions of a flow or key.
 */
#ifndef SHOAL_NAT_FLOW_LOOKUP_H
#define SHOAL_NAT_FLOW_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "nat.h"
#include "pkt.h"

static inline uint64_t nat_mix(uint64_t a, uint64_t b, uint64_t seed)
{
	uint64_t h = (a ^ seed) * 0x9e3779b97f4a7c15ull;
	h ^= (b + (h >> 29)) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

/* Index into nat_worker.lease_ports of binding @b's lease and protocol
 * (a binding's proto carries NAT_PROTO_PSEUDO). */
static inline uint32_t nat_lease_ports_slot(const struct nat_flow *b)
{
	return (uint32_t)b->lease * 2 +
	       ((b->proto & ~NAT_PROTO_PSEUDO) == NAT_PROTO_UDP);
}

static inline uint64_t nat_key_hash(const struct nat_key *k, uint64_t seed)
{
	uint64_t a = (uint64_t)k->local_ip << 32 | k->remote_ip;
	uint64_t b = (uint64_t)k->local_port << 32 |
		     (uint64_t)k->remote_port << 16 | k->proto;
	return nat_mix(a, b, seed);
}

static inline void nat_key_set(struct nat_key *k, uint32_t lip, uint16_t lport,
			       uint32_t rip, uint16_t rport, uint8_t proto)
{
	k->local_ip = lip;
	k->remote_ip = rip;
	k->local_port = lport;
	k->remote_port = rport;
	k->proto = proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

static inline bool nat_flow_match_in(const struct nat_flow *f,
				     const struct nat_key *k)
{
	return f->in_ip == k->local_ip && f->rem_ip == k->remote_ip &&
	       f->in_port == k->local_port && f->rem_port == k->remote_port &&
	       f->proto == k->proto;
}

static inline bool nat_flow_match_out(const struct nat_flow *f,
				      const struct nat_key *k)
{
	return f->out_ip == k->local_ip && f->rem_ip == k->remote_ip &&
	       f->out_port == k->local_port && f->rem_port == k->remote_port &&
	       f->proto == k->proto;
}

/* The key of a pseudo-entry (nat.h "Mappings and filtering"): a binding
 * has @remote 0, a permission the remote address; the port is always 0. */
static inline void nat_pseudo_key(struct nat_key *k, uint32_t ip,
				  uint16_t port, uint32_t remote, uint8_t proto)
{
	nat_key_set(k, ip, port, remote, 0, proto | NAT_PROTO_PSEUDO);
}

static inline void nat_flow_in_key(const struct nat_flow *f, struct nat_key *k)
{
	nat_key_set(k, f->in_ip, f->in_port, f->rem_ip, f->rem_port, f->proto);
}

static inline void nat_flow_out_key(const struct nat_flow *f, struct nat_key *k)
{
	nat_key_set(k, f->out_ip, f->out_port, f->rem_ip, f->rem_port,
		    f->proto);
}

static inline enum nat_timeout_class nat_flow_class(const struct nat_flow *f)
{
	if (f->proto == NAT_PROTO_UDP)
		return NAT_TO_UDP;
	if (f->proto == NAT_PROTO_ICMP)
		return NAT_TO_ICMP;
	/* Established from SYNs seen both ways (simultaneous open too) until
	 * an RST or until both sides have closed: a half-closed connection
	 * may idle as long as an open one (RFC 7857 §2.2, RFC 5382 REQ-5). */
	if ((f->tcp & (NAT_TCP_SYN_IN | NAT_TCP_SYN_OUT)) ==
		    (NAT_TCP_SYN_IN | NAT_TCP_SYN_OUT) &&
	    !(f->tcp & NAT_TCP_RST) && (f->tcp & NAT_TCP_FIN) != NAT_TCP_FIN)
		return NAT_TO_TCP_EST;
	return NAT_TO_TCP_TRANS;
}

/* Light TCP state: SYN, FIN and RST move a flow between timeouts. An RST
 * only shortens the timeout (a stray one must not kill a live mapping);
 * a SYN on a closing or reset binding starts a new connection on the
 * same mapping. */
static inline void nat_tcp_track(struct nat_flow *f, uint8_t flags, bool in2out)
{
	if (flags & NAT_TCPF_RST) {
		f->tcp |= NAT_TCP_RST;
		return;
	}
	if (flags & NAT_TCPF_SYN) {
		if (f->tcp & (NAT_TCP_FIN | NAT_TCP_RST))
			f->tcp = 0;
		f->tcp |= in2out ? NAT_TCP_SYN_IN : NAT_TCP_SYN_OUT;
	}
	if (flags & NAT_TCPF_FIN)
		f->tcp |= in2out ? NAT_TCP_FIN_IN : NAT_TCP_FIN_OUT;
}

static inline void nat_flow_touch(struct nat_worker *w, struct nat_flow *f)
{
	f->last_seen = w->now;
	f->pkts += f->pkts != UINT32_MAX;
}

/* Has @f outlived its class's timeout at the worker's clock? */
static inline bool nat_flow_expired(const struct nat_worker *w,
				    const struct nat_flow *f)
{
	return (uint32_t)(w->now - f->last_seen) >=
	       w->timeout_ms[nat_flow_class(f)];
}

/*
 * The index of the entry whose inside (@out false) or outside key is @k,
 * in whatever state, or -1. Linear probing from the key's hash, at most
 * NAT_MAX_PROBE slots, stops at an empty slot; the 32-bit signature
 * spares most flow reads.
 */
static inline int64_t nat_probe(const struct nat_worker *w,
				const struct nat_key *k, bool out)
{
	const struct nat_table *t = &w->t;
	const struct nat_slot *s = out ? t->out_slots : t->in_slots;
	uint64_t h = nat_key_hash(k, w->secret[0]);
	uint32_t sig = (uint32_t)(h >> 32);
	uint32_t pos = (uint32_t)h & t->mask;
	unsigned i;

	for (i = 0; i < NAT_MAX_PROBE; i++, pos = (pos + 1) & t->mask) {
		const struct nat_flow *f;
		uint32_t idx = s[pos].idx;

		if (idx == 0)
			return -1;
		if (s[pos].sig != sig)
			continue;
		f = &t->flows[idx - 1];
		if (out ? nat_flow_match_out(f, k) : nat_flow_match_in(f, k))
			return idx - 1;
	}
	return -1;
}

/*
 * The flow for key @k in the outside (@out) or inside index, or -1. An
 * expired flow is retired on the way (the sweep may not have reached it)
 * and reported as absent. Inline so that the translators keep the key in
 * registers: this is the fast path's one lookup per packet.
 */
static inline int64_t nat_lookup(struct nat_worker *w, const struct nat_key *k,
				 bool out)
{
	int64_t idx = nat_probe(w, k, out);

	if (idx >= 0 &&
	    __builtin_expect(nat_flow_expired(w, &w->t.flows[idx]), 0)) {
		nat_flow_retire(w, (uint32_t)idx);
		return -1;
	}
	return idx;
}

/* Is @dst (network order) Linux's to handle rather than a destination to
 * translate towards: the engine's own addresses, their subnets' directed
 * broadcasts, limited broadcast and multicast (routing protocols, mDNS,
 * DHCP...)? */
static inline bool nat_dst_is_local(const struct nat_lease_set *ls,
				    uint32_t dst)
{
	const uint8_t *b = (const uint8_t *)&dst;
	unsigned i;

	if ((b[0] & 0xf0) == 0xe0 || dst == 0xffffffff)
		return true;
	for (i = 0; i < ls->n_host_ips; i++)
		if (ls->host_ips[i] == dst)
			return true;
	return false;
}

#endif /* SHOAL_NAT_FLOW_LOOKUP_H */
