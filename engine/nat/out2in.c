/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outside to inside: return traffic back to the client's own tuple.
 *
 * Destinations that are not slice addresses belong to Linux. For a slice
 * address, a flow hit is translated; a miss is classified by the lease
 * holding the port: a socket lease's traffic goes to Linux, a nat lease's
 * is unsolicited, and a port no lease holds is not ours to answer.
 */
#include "csum.h"
#include "flow_lookup.h"

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
	if (idx < 0)
		return nat_out2in_miss(ls, dst, dport);
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
		if (p->proto == NAT_PROTO_TCP)
			nat_tcp_track(f, l4[TCP_FLAGS], false);
	}
	l4_csum_adjust(l4, p->proto, p->l4_len, l4d);
	nat_flow_touch(w, f);
	w->cnt[SH_CNT_OUT2IN]++;
	return SH_OK;
}
