/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside to outside: client packets leave with a leased source.
 *
 * Fast path: one inside-key lookup, then the rewrite (source address and
 * port or echo id, incremental IPv4 and L4 checksums, TTL). A miss calls
 * nat_flow_create(), the slow path in ports.c. A destination that is a
 * slice address is another client's mapping: the caller turns the packet
 * around (NAT_HAIRPIN).
 *
 * Fleet (docs/FLEET.md "Fencing inside the engine"): a flow whose slice
 * this host does not own (any more) is not translated, so its ports
 * never leave from here once the slice is another's.
 */
#include "csum.h"
#include "flow_lookup.h"

unsigned nat_in2out(struct nat_worker *w, const struct nat_lease_set *ls,
		    struct nat_pkt *p)
{
	uint8_t *ip = p->ip, *l4 = p->l4;
	uint32_t src = ld32(ip + IP4_SRC), dst = ld32(ip + IP4_DST);
	uint16_t sport, dport = 0;
	uint64_t ipd, l4d;
	struct nat_flow *f;
	struct nat_key k;
	uint8_t tcpflags = 0;
	int64_t idx;

	if (nat_dst_is_local(ls, dst))
		return NAT_KERNEL;

	/* No ports here: nat_frag_xlate() translates later fragments. */
	if (__builtin_expect(p->frag == NAT_PKT_LATER, 0))
		return SH_DROP_IP_FRAGMENT;

	switch (p->proto) {
	case NAT_PROTO_TCP:
		tcpflags = l4[TCP_FLAGS];
		/* fall through */
	case NAT_PROTO_UDP:
		sport = ld16(l4 + L4_SPORT);
		dport = ld16(l4 + L4_DPORT);
		break;
	default: /* ICMP: parse admits only TCP, UDP and ICMP */
		switch (l4[NAT_ICMP_TYPE]) {
		case NAT_ICMP_ECHO_REQUEST:
			sport = ld16(l4 + NAT_ICMP_ID);
			break;
		case NAT_ICMP_DEST_UNREACH:
		case NAT_ICMP_TIME_EXCEEDED:
		case NAT_ICMP_PARAM_PROBLEM:
			if (p->frag) /* a fragmented error: see frag.h */
				return SH_DROP_IP_FRAGMENT;
			return nat_icmp_err_in2out(w, ls, p);
		default:
			return SH_DROP_ICMP_UNSUPPORTED;
		}
	}
	if (ip[IP4_TTL] <= 1)
		return SH_DROP_TTL_EXPIRED;

	nat_key_set(&k, src, sport, dst, dport, p->proto);
	idx = nat_lookup(w, &k, false);
	if (__builtin_expect(idx < 0, 0)) {
		/* Only a connection opening claims a port for TCP. */
		if (p->proto == NAT_PROTO_TCP &&
		    (tcpflags & (NAT_TCPF_SYN | NAT_TCPF_ACK | NAT_TCPF_RST)) != NAT_TCPF_SYN)
			return SH_DROP_TCP_NOT_SYN;
		/* No flow has port 0 or address 0, so only a new one asks. */
		if (p->proto != NAT_PROTO_ICMP && (!sport || !dport))
			return SH_DROP_L4_MALFORMED;
		if (dst == 0)
			return SH_DROP_IP_MALFORMED;
		idx = nat_flow_create(w, ls, &k);
		if (idx < 0)
			return (unsigned)-idx;
	} else if (__builtin_expect(ls->fleet, 0) &&
		   !nat_fleet_owns(ls, &w->t.flows[idx])) {
		return SH_DROP_UNKNOWN_OWNER;
	}
	f = &w->t.flows[idx];

	st32(ip + IP4_SRC, f->out_ip);
	ipd = csum_delta32(src, f->out_ip) + ip_ttl_dec(ip);
	st16(ip + IP4_CSUM, csum_apply(ld16(ip + IP4_CSUM), ipd));
	if (p->proto == NAT_PROTO_ICMP) {
		st16(l4 + NAT_ICMP_ID, f->out_port);
		l4d = csum_delta16(sport, f->out_port);
	} else {
		st16(l4 + L4_SPORT, f->out_port);
		l4d = csum_delta32(src, f->out_ip) +
		      csum_delta16(sport, f->out_port);
		if (p->proto == NAT_PROTO_TCP) {
			nat_tcp_track(f, tcpflags, true);
			if ((tcpflags & NAT_TCPF_SYN) && w->mss_clamp)
				l4d += nat_syn_clamp(w, l4, p->l4_len);
		}
	}
	l4_csum_adjust(l4, p->proto, p->l4_len, l4d);
	nat_flow_touch(w, f);
	w->cnt[SH_CNT_IN2OUT]++;
	return __builtin_expect(nat_is_slice_ip(ls, dst), 0) ? NAT_HAIRPIN : SH_OK;
}
