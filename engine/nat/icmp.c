/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP error translation through the embedded header (RFC 5508 §4.2).
 *
 * An error quotes the IPv4 header and at least 8 bytes of the packet that
 * caused it. That quoted packet travelled in the opposite direction of the
 * error, so:
 *   out2in (a router beyond us answers a translated packet): the quote is
 *     slice:P -> remote; look it up by outside key, rewrite the outer
 *     destination and the quoted source back to the client's tuple;
 *   in2out (the client, or a router between it and us, answers a packet
 *     we translated to it): the quote is remote -> client:p; look it up
 *     by inside key, rewrite the outer source and the quoted destination
 *     to the slice tuple.
 * Either way the error must go back where the quoted packet came from
 * (outer destination == quoted source).
 * The quoted IPv4 checksum and, when quoted in full, the quoted L4
 * checksum are adjusted incrementally; the ICMP checksum, which covers
 * the quote, is recomputed (it was verified by nat_parse). Errors never
 * refresh a flow's timer: they are not traffic of the flow.
 */
#include "csum.h"
#include "flow_lookup.h"

unsigned nat_quote_parse(const struct nat_pkt *p, struct nat_quote *q)
{
	uint32_t avail = p->l4_len - 8u, ihl;
	uint8_t *in = p->l4 + 8;

	if (p->l4_len < 8 + 20 || (in[0] >> 4) != 4)
		return SH_DROP_ICMP_INNER_MALFORMED;
	ihl = (uint32_t)(in[0] & 0xf) * 4;
	if (ihl < 20 || avail < ihl + 8)
		return SH_DROP_ICMP_INNER_MALFORMED;
	if (csum_fold(csum_partial(in, ihl, 0)) != 0xffff)
		return SH_DROP_ICMP_INNER_MALFORMED;
	/* A non-first fragment quotes no ports. */
	if (ld16_host(in + IP4_FRAG) & 0x1fff)
		return SH_DROP_ICMP_INNER_MALFORMED;
	q->ip = in;
	q->l4 = in + ihl;
	q->l4_avail = avail - ihl;
	q->proto = in[IP4_PROTO];
	if (q->proto != NAT_PROTO_TCP && q->proto != NAT_PROTO_UDP &&
	    q->proto != NAT_PROTO_ICMP)
		return SH_DROP_ICMP_INNER_MALFORMED;
	return SH_OK;
}

/*
 * Rewrite the quoted address at @addr_off (IP4_SRC or IP4_DST) and port at
 * @port_off to (@ip, @port), fixing the quoted checksums, then the ICMP
 * checksum over the whole message.
 */
static void quote_rewrite(const struct nat_pkt *p, struct nat_quote *q,
			  unsigned addr_off, unsigned port_off, uint32_t ip,
			  uint16_t port)
{
	uint32_t old_ip = ld32(q->ip + addr_off);
	uint16_t old_port = ld16(q->l4 + port_off);
	uint64_t d;

	st32(q->ip + addr_off, ip);
	st16(q->ip + IP4_CSUM,
	     csum_apply(ld16(q->ip + IP4_CSUM), csum_delta32(old_ip, ip)));
	st16(q->l4 + port_off, port);
	if (q->proto == NAT_PROTO_ICMP) {
		/* The quoted message's length, when it is quoted whole (its
		 * checksum covers what a short quote leaves out). */
		uint32_t whole = (uint32_t)ld16_host(q->ip + IP4_TOTLEN) -
				 (uint32_t)(q->l4 - q->ip);

		if (q->l4_avail >= 4)
			l4_csum_adjust(q->l4, q->proto,
				       whole <= q->l4_avail ? whole : 0,
				       csum_delta16(old_port, port));
	} else if (q->proto == NAT_PROTO_UDP ||
		   q->l4_avail >= TCP_CSUM + 2) {
		d = csum_delta32(old_ip, ip) + csum_delta16(old_port, port);
		l4_csum_adjust(q->l4, q->proto, 0, d);
	}
	st16(p->l4 + NAT_ICMP_CSUM, 0);
	st16(p->l4 + NAT_ICMP_CSUM, csum_finish(csum_partial(p->l4, p->l4_len, 0)));
}

/* Outer address at @off (IP4_SRC or IP4_DST) to @ip, with the TTL. */
static void outer_rewrite(uint8_t *ip, unsigned off, uint32_t addr)
{
	uint32_t old = ld32(ip + off);
	uint64_t d;

	st32(ip + off, addr);
	d = csum_delta32(old, addr) + ip_ttl_dec(ip);
	st16(ip + IP4_CSUM, csum_apply(ld16(ip + IP4_CSUM), d));
}

/*
 * Both directions are one algorithm with mirrored fields: which outer and
 * quoted address is ours, where the quoted port sits, which echo type may
 * be quoted, which key to look up, and which side of the flow to write.
 */
struct icmp_dir {
	unsigned outer_addr;  /* outer field to rewrite to our side's address */
	unsigned quote_addr;  /* quoted field holding our side's address */
	unsigned quote_port;  /* quoted port holding our side's port */
	unsigned remote_port; /* quoted port of the remote end */
	uint8_t echo_type;    /* the only echo type the quote may carry */
	bool out2in;
};

static const struct icmp_dir dir_out2in = {
	IP4_DST, IP4_SRC, L4_SPORT, L4_DPORT, NAT_ICMP_ECHO_REQUEST, true,
};
static const struct icmp_dir dir_in2out = {
	IP4_SRC, IP4_DST, L4_DPORT, L4_SPORT, NAT_ICMP_ECHO_REPLY, false,
};

static unsigned icmp_err_translate(struct nat_worker *w,
				   const struct nat_lease_set *ls,
				   struct nat_pkt *p, const struct icmp_dir *d)
{
	uint32_t addr;
	uint16_t qport, rport = 0;
	struct nat_flow *f;
	struct nat_quote q;
	struct nat_key k;
	unsigned ret;
	int64_t idx;

	ret = nat_quote_parse(p, &q);
	if (ret != SH_OK)
		return ret;
	/* The quoted packet travelled the other way, so the error goes back
	 * to where it came from: the outer destination must be the quoted
	 * source (out2in: our slice address; in2out: the remote the client's
	 * error is about, never a third host). The outer source is whoever
	 * found the fault: the remote host or a router on its path, or on
	 * the inside the client or a router between it and us (RFC 5508
	 * §4.2); our side's address comes from the quote. */
	if (ld32(p->ip + IP4_DST) != ld32(q.ip + IP4_SRC))
		return SH_DROP_ICMP_INNER_MALFORMED;
	addr = ld32(q.ip + d->quote_addr);
	if (q.proto == NAT_PROTO_ICMP) {
		if (q.l4[NAT_ICMP_TYPE] != d->echo_type)
			return SH_DROP_ICMP_INNER_MALFORMED;
		qport = ld16(q.l4 + NAT_ICMP_ID);
	} else {
		qport = ld16(q.l4 + d->quote_port);
		rport = ld16(q.l4 + d->remote_port);
		if (!qport || !rport) /* no flow has port 0 */
			return SH_DROP_ICMP_INNER_MALFORMED;
	}
	nat_key_set(&k, addr, qport,
		    ld32(q.ip + (d->quote_addr == IP4_SRC ? IP4_DST : IP4_SRC)),
		    rport, q.proto);
	idx = d->out2in ? nat_lookup_out(w, &k) : nat_lookup_in(w, &k);
	if (idx < 0)
		return d->out2in ? nat_out2in_miss(ls, addr, qport)
				 : SH_DROP_UNSOLICITED;
	f = &w->t.flows[idx];
	/* As nat_in2out(): nothing leaves from a slice not ours. */
	if (ls->fleet && !d->out2in && !nat_fleet_owns(ls, f))
		return SH_DROP_UNKNOWN_OWNER;
	if (p->ip[IP4_TTL] <= 1)
		return SH_DROP_TTL_EXPIRED;

	outer_rewrite(p->ip, d->outer_addr, d->out2in ? f->in_ip : f->out_ip);
	quote_rewrite(p, &q, d->quote_addr,
		      q.proto == NAT_PROTO_ICMP ? NAT_ICMP_ID : d->quote_port,
		      d->out2in ? f->in_ip : f->out_ip,
		      d->out2in ? f->in_port : f->out_port);
	w->cnt[d->out2in ? SH_CNT_ICMP_ERR_OUT2IN : SH_CNT_ICMP_ERR_IN2OUT]++;
	return SH_OK;
}

unsigned nat_icmp_err_out2in(struct nat_worker *w,
			     const struct nat_lease_set *ls, struct nat_pkt *p)
{
	return icmp_err_translate(w, ls, p, &dir_out2in);
}

unsigned nat_icmp_err_in2out(struct nat_worker *w,
			     const struct nat_lease_set *ls, struct nat_pkt *p)
{
	return icmp_err_translate(w, ls, p, &dir_in2out);
}
