/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outside to inside: return traffic back to the client's own tuple.
 *
 * Destinations that are not slice addresses belong to Linux. For a slice
 * address, a flow hit is translated; a miss is classified by the lease
 * holding the port: a socket lease's traffic goes to Linux, a nat lease's
 * is unsolicited unless the lease's filtering admits it to a binding (a
 * new flow, nat.h "Mappings and filtering"), and a port no lease holds is
 * not ours to answer.
 */
#include "csum.h"
#include "flow_lookup.h"

/*
 * A TCP/UDP packet from a remote with no flow: open a flow to the
 * binding of its destination port if the lease's filtering admits the
 * remote. The flow index, or -verdict (the binding's worker is another:
 * -NAT_HANDOFF with p->to_worker set).
 */
static int64_t inbound(struct nat_worker *w, const struct nat_lease_set *ls,
		       struct nat_pkt *p, const struct nat_key *k)
{
	const struct nat_lease *l = nat_lease_find(ls, k->local_ip,
						   nat_be16(k->local_port));
	struct nat_flow *b, f;
	struct nat_key bk;
	unsigned owner;
	int64_t idx;

	if (!l || l->kind != SH_LEASE_NAT || !nat_lease_exclusive(l))
		return -(int64_t)nat_out2in_miss(ls, k->local_ip, k->local_port);
	owner = nat_be16(k->local_port) % w->n_workers;
	if (owner != w->id) {
		p->to_worker = (uint16_t)owner;
		return -(int64_t)NAT_HANDOFF;
	}
	if (l->state != NAT_LEASE_ACTIVE)
		return -SH_DROP_UNSOLICITED;
	/* Filtering is for remotes: a hairpinned packet comes from another
	 * client of this engine, through its own mapping. An outside packet
	 * with a slice source is spoofed. */
	if (nat_is_slice_ip(ls, k->remote_ip) != p->hairpin || !k->remote_ip ||
	    (!p->hairpin && l->filtering == SH_FILTERING_APDF))
		return -SH_DROP_UNSOLICITED;
	nat_pseudo_key(&bk, k->local_ip, k->local_port, 0, k->proto);
	idx = nat_find(w, &bk, true);
	if (idx < 0)
		return -SH_DROP_UNSOLICITED;
	b = &w->t.flows[idx];
	if (!(b->flags & NAT_FLOW_BIND) || b->pkts == 0 || b->lease != l->id)
		return -SH_DROP_UNSOLICITED;
	if (!p->hairpin && l->filtering == SH_FILTERING_ADF) {
		nat_pseudo_key(&bk, k->local_ip, k->local_port, k->remote_ip,
			       k->proto);
		if (nat_find(w, &bk, true) < 0)
			return -SH_DROP_UNSOLICITED;
	}
	/* A TCP connection from outside opens with a SYN (RFC 5382 REQ-4). */
	if (p->proto == NAT_PROTO_TCP &&
	    (p->l4[TCP_FLAGS] & (NAT_TCPF_SYN | NAT_TCPF_ACK | NAT_TCPF_RST)) !=
		    NAT_TCPF_SYN)
		return -SH_DROP_UNSOLICITED;
	if (p->ip[IP4_TTL] <= 1) /* dropped here: no flow for it */
		return -SH_DROP_TTL_EXPIRED;
	/* Address-and-port-dependent mapping: the endpoint may already talk
	 * to this remote through another of its mappings, which owns that
	 * inside 5-tuple; a second flow would make it ambiguous. */
	f = (struct nat_flow){
		.in_ip = b->in_ip, .out_ip = b->out_ip, .rem_ip = k->remote_ip,
		.in_port = b->in_port, .out_port = b->out_port,
		.rem_port = k->remote_port, .proto = k->proto,
		.last_seen = w->now, .lease = b->lease,
	};
	nat_flow_in_key(&f, &bk);
	if (nat_lookup(w, &bk, false) >= 0)
		return -SH_DROP_UNSOLICITED;
	/* That lookup may have retired an expired flow and, without a
	 * hold-down, the binding with it. */
	nat_pseudo_key(&bk, k->local_ip, k->local_port, 0, k->proto);
	idx = nat_find(w, &bk, true);
	if (idx < 0 || w->t.flows[idx].pkts == 0)
		return -SH_DROP_UNSOLICITED;
	idx = nat_flow_bind(w, l, &f, idx);
	if (idx >= 0)
		w->cnt[SH_CNT_FLOW_INBOUND]++;
	return idx;
}

unsigned nat_out2in(struct nat_worker *w, const struct nat_lease_set *ls,
		    struct nat_pkt *p)
{
	uint8_t *ip = p->ip, *l4 = p->l4;
	uint32_t src = ld32(ip + IP4_SRC), dst = ld32(ip + IP4_DST);
	uint16_t sport = 0, dport;
	uint64_t ipd, l4d;
	struct nat_flow *f;
	struct nat_key k;
	int64_t idx;

	if (!nat_is_slice_ip(ls, dst))
		return NAT_KERNEL;

	/* No ports here: nat_frag_xlate() translates later fragments. */
	if (__builtin_expect(p->frag == NAT_PKT_LATER, 0))
		return SH_DROP_IP_FRAGMENT;

	switch (p->proto) {
	case NAT_PROTO_TCP:
	case NAT_PROTO_UDP:
		sport = ld16(l4 + L4_SPORT);
		dport = ld16(l4 + L4_DPORT);
		break;
	default:
		switch (l4[NAT_ICMP_TYPE]) {
		case NAT_ICMP_ECHO_REPLY:
			dport = ld16(l4 + NAT_ICMP_ID);
			break;
		case NAT_ICMP_ECHO_REQUEST: /* a ping to the slice address */
			return NAT_KERNEL;
		case NAT_ICMP_DEST_UNREACH:
		case NAT_ICMP_TIME_EXCEEDED:
		case NAT_ICMP_PARAM_PROBLEM:
			if (p->frag) /* a fragmented error: see frag.h */
				return SH_DROP_IP_FRAGMENT;
			return nat_icmp_err_out2in(w, ls, p);
		default:
			return SH_DROP_ICMP_UNSUPPORTED;
		}
	}

	nat_key_set(&k, dst, dport, src, sport, p->proto);
	idx = nat_lookup(w, &k, true);
	if (idx < 0) {
		if (p->proto == NAT_PROTO_ICMP)
			return nat_out2in_miss(ls, dst, dport);
		if (!sport || !dport)
			return SH_DROP_L4_MALFORMED;
		idx = inbound(w, ls, p, &k);
		if (idx < 0)
			return (unsigned)-idx;
	}
	if (ip[IP4_TTL] <= 1)
		return SH_DROP_TTL_EXPIRED;
	f = &w->t.flows[idx];

	st32(ip + IP4_DST, f->in_ip);
	ipd = csum_delta32(dst, f->in_ip) + ip_ttl_dec(ip);
	st16(ip + IP4_CSUM, csum_apply(ld16(ip + IP4_CSUM), ipd));
	if (p->proto == NAT_PROTO_ICMP) {
		st16(l4 + NAT_ICMP_ID, f->in_port);
		l4d = csum_delta16(dport, f->in_port);
	} else {
		st16(l4 + L4_DPORT, f->in_port);
		l4d = csum_delta32(dst, f->in_ip) +
		      csum_delta16(dport, f->in_port);
		if (p->proto == NAT_PROTO_TCP) {
			nat_tcp_track(f, l4[TCP_FLAGS], false);
			if ((l4[TCP_FLAGS] & NAT_TCPF_SYN) && w->mss_clamp)
				l4d += nat_syn_clamp(w, l4, p->l4_len);
		}
	}
	l4_csum_adjust(l4, p->proto, p->l4_len, l4d);
	nat_flow_touch(w, f);
	w->cnt[SH_CNT_OUT2IN]++;
	return SH_OK;
}
