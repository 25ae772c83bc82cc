/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's view of the kernel's IPv4 routes and neighbours on the
 * mirror interfaces, kept over rtnetlink with libmnl. No DPDK here, but
 * the snapshots it builds (fib.h) live in EAL memory.
 *
 * Routes are kept in a hash on (prefix, len), not a sorted array: a full
 * Internet table (SH_FIB_MAX_ROUTES) arrives as a million events or dump
 * parts, and each must cost O(1), not a search or a memmove.
 *
 * Two sockets, so that a request's ack or dump is never interleaved with
 * events: @ev is subscribed to the route, neighbour, link and address
 * groups and is non-blocking; @req has no groups and carries our requests
 * and dumps, one at a time, blocking (with a timeout) until answered.
 *
 * Why the state stays right:
 *  - @ev is subscribed before the dump, so every change after the dump
 *    started is also queued as an event. Events are applied as "set" or
 *    "delete" of one entry, so replaying one the dump already reflects
 *    changes nothing; the last event per entry wins, as in the kernel.
 *  - Lost events (ENOBUFS: the socket buffer overflowed) cannot be
 *    recovered one by one: drop the queue and dump everything again.
 *  - The kernel removes routes without RTM_DELROUTE when a link goes down
 *    or loses its last address (fib_flush); the same re-dump covers it.
 *  - A dump that the kernel flags NLM_F_DUMP_INTR (the table changed while
 *    it was read) may have skipped entries: it is repeated, a few times.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netlink.h"

/* Large enough for any single notification and lets the kernel pack up to
 * 32 KiB of a dump per read (it sizes dump skbs by the reader's buffer). */
#define NL_BUF_SIZE 32768
/* Event socket buffer: absorbs bursts (route table loads, neighbour
 * storms) so that a re-dump stays the exception. */
#define NL_EV_RCVBUF (4 << 20)
/* Reads per sh_nl_process() call: the main lcore has other work; what is
 * left keeps the fd readable. */
#define NL_READS_PER_CALL 256
/* A dump flagged NLM_F_DUMP_INTR is repeated at most this many times. */
#define NL_DUMP_ATTEMPTS 4
/* The kernel answers requests synchronously; the timeout only guards the
 * main lcore against a request that is never answered. */
#define NL_REQ_TIMEOUT_S 5

#define NUD_USABLE                                                          \
	(NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | \
	 NUD_NOARP)

/* Route pool slots are 1-based: 0 ends a chain, so calloc'd buckets
 * are empty. Buckets: a power of two, load <= 1 at SH_FIB_MAX_ROUTES. */
#define NL_ROUTE_BUCKETS SH_FIB_MAX_ROUTES

/* A kernel route on a watched interface, in a hash chain on (prefix,
 * len). Within one (prefix, len) the chain keeps the kernel's preference
 * order: lower priority first, then the kernel's order for equal ones. */
struct nl_route {
	uint32_t prefix; /* network order */
	uint32_t priority;
	uint32_t nhg;    /* index into sh_nl.nhg, one reference held */
	uint32_t next;   /* chain, or free list; 0 ends it */
	uint8_t len;
};

struct sh_nl {
	struct mnl_socket *ev;  /* events, non-blocking */
	struct mnl_socket *req; /* requests and dumps */
	uint32_t req_portid;
	uint32_t seq;
	bool need_resync; /* events were lost or a re-dump failed */
	bool routes_changed; /* since nl->rt was built */
	unsigned n_ifs;
	int ifindex[SH_NL_MAX_IFS];
	uint64_t generation;
	struct sh_nl_stats stats;
	/* Routes: pool slots 1..SH_FIB_MAX_ROUTES (malloc'd, touched only
	 * as used), hash chains, a free list and the high-water mark. */
	struct nl_route *routes;
	uint32_t *buckets;
	uint32_t route_free;
	uint32_t route_top;
	unsigned n_routes;
	/* Next-hop sets the routes share, interned: the first n_nhg slots
	 * were used, refs 0 = free. Searched linearly (a table has as many
	 * sets as distinct gateways, few; main lcore only, per event). */
	unsigned n_nhg;
	uint32_t nhg_refs[SH_FIB_MAX_NHG];
	struct sh_nhg nhg[SH_FIB_MAX_NHG];
	/* The route part of the last snapshot (one reference), reused while
	 * only neighbours change; and the build's scratch array. */
	struct sh_fib_routes *rt;
	struct sh_route *scratch;
	/* Neighbours unordered; searched linearly (<= SH_FIB_MAX_NEIGH, on
	 * the main lcore only, per event). */
	unsigned n_neigh;
	struct sh_neigh neigh[SH_FIB_MAX_NEIGH];
	char buf[NL_BUF_SIZE] __attribute__((aligned(8)));
};

static inline uint32_t len_to_mask(uint8_t len)
{
	return len == 0 ? 0 : htonl(UINT32_MAX << (32 - len));
}

/* ---- attribute parsing ---- */

/* Attributes we read, with their types; mnl_attr_validate() checks each
 * before it is stored. Anything else (or newer) is ignored. */
static const enum mnl_attr_data_type route_policy[RTA_MAX + 1] = {
	[RTA_DST] = MNL_TYPE_U32,
	[RTA_GATEWAY] = MNL_TYPE_U32,
	[RTA_OIF] = MNL_TYPE_U32,
	[RTA_PRIORITY] = MNL_TYPE_U32,
	[RTA_TABLE] = MNL_TYPE_U32,
	[RTA_MULTIPATH] = MNL_TYPE_BINARY,
	[RTA_VIA] = MNL_TYPE_BINARY,
};

static const enum mnl_attr_data_type neigh_policy[NDA_MAX + 1] = {
	[NDA_DST] = MNL_TYPE_U32,
	[NDA_LLADDR] = MNL_TYPE_BINARY,
};

struct nl_attrs {
	const enum mnl_attr_data_type *policy;
	uint16_t max;
	const struct nlattr **tb;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nl_attrs *p = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type > p->max || p->policy[type] == MNL_TYPE_UNSPEC)
		return MNL_CB_OK;
	if (mnl_attr_validate(a, p->policy[type]) < 0)
		return MNL_CB_ERROR;
	p->tb[type] = a;
	return MNL_CB_OK;
}

static bool nl_watched(const struct sh_nl *nl, int ifindex)
{
	for (unsigned i = 0; i < nl->n_ifs; i++)
		if (nl->ifindex[i] == ifindex)
			return true;
	return false;
}

/* ---- routes ---- */

/* A next hop of a multipath route: its attributes parsed into @g, unless
 * it is dead, on an unwatched interface, or via another family. When @g
 * is full the next hop is counted (paths_full) and left out. */
static int nexthop_add(struct sh_nl *nl, const struct rtnexthop *nh,
		       struct sh_nhg *g)
{
	const struct nlattr *ntb[RTA_MAX + 1] = { NULL };
	struct nl_attrs np = { route_policy, RTA_MAX, ntb };

	if ((nh->rtnh_flags & RTNH_F_DEAD) || !nl_watched(nl, nh->rtnh_ifindex))
		return 0;
	if (mnl_attr_parse_payload(RTNH_DATA(nh), nh->rtnh_len - sizeof(*nh),
				   attr_cb, &np) < 0)
		return -EINVAL;
	if (ntb[RTA_VIA])
		return 0;
	if (g->n == SH_FIB_MAX_PATHS) {
		nl->stats.paths_full++;
		return 0;
	}
	g->nh[g->n].ifindex = nh->rtnh_ifindex;
	g->nh[g->n].gateway = ntb[RTA_GATEWAY] ?
		mnl_attr_get_u32(ntb[RTA_GATEWAY]) : 0;
	g->n++;
	return 0;
}

/*
 * Decode a route message into @r (prefix, len, priority) and its next
 * hops on watched interfaces into @g (g->n == 0 when it has none; nhg of
 * @r is not set). 0: an IPv4 main-table unicast route without TOS.
 * -ENOENT: a route this engine never uses. -EINVAL: malformed.
 */
static int route_parse(struct sh_nl *nl, const struct nlmsghdr *nlh,
		       struct nl_route *r, struct sh_nhg *g)
{
	const struct nlattr *tb[RTA_MAX + 1] = { NULL };
	struct nl_attrs p = { route_policy, RTA_MAX, tb };
	const struct rtmsg *rtm;
	uint32_t table;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return -EINVAL;
	rtm = mnl_nlmsg_get_payload(nlh);
	/* TOS routes apply only to packets with that TOS, which the lookup
	 * does not see; cloned entries are the route cache, not routes. */
	if (rtm->rtm_family != AF_INET || rtm->rtm_type != RTN_UNICAST ||
	    rtm->rtm_tos != 0 || (rtm->rtm_flags & RTM_F_CLONED) ||
	    rtm->rtm_dst_len > 32)
		return -ENOENT;
	if (mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, &p) < 0)
		return -EINVAL;
	/* rtm_table is 8 bits; RTA_TABLE is the real id when present. */
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) :
				rtm->rtm_table;
	if (table != RT_TABLE_MAIN)
		return -ENOENT;

	memset(r, 0, sizeof(*r));
	r->len = rtm->rtm_dst_len;
	r->prefix = tb[RTA_DST] ?
		mnl_attr_get_u32(tb[RTA_DST]) & len_to_mask(r->len) : 0;
	r->priority = tb[RTA_PRIORITY] ? mnl_attr_get_u32(tb[RTA_PRIORITY]) : 0;
	g->n = 0;

	/* A gateway of another family (RFC 5549) needs an IPv6 neighbour,
	 * which we do not track: no usable next hop. */
	if (tb[RTA_VIA])
		return 0;
	if (tb[RTA_OIF]) {
		int oif = (int)mnl_attr_get_u32(tb[RTA_OIF]);

		if (!(rtm->rtm_flags & RTNH_F_DEAD) && nl_watched(nl, oif)) {
			g->nh[0].ifindex = oif;
			g->nh[0].gateway = tb[RTA_GATEWAY] ?
				mnl_attr_get_u32(tb[RTA_GATEWAY]) : 0;
			g->n = 1;
		}
		return 0;
	}
	if (tb[RTA_MULTIPATH]) {
		/* Multipath: every live next hop on a watched interface, in
		 * the kernel's order; the lookup spreads flows over them
		 * (equally: the kernel's weights, rtnh_hops, are not used). */
		const struct nlattr *mp = tb[RTA_MULTIPATH];
		const struct rtnexthop *nh = mnl_attr_get_payload(mp);
		int left = mnl_attr_get_payload_len(mp);

		for (; RTNH_OK(nh, left);
		     left -= RTNH_ALIGN(nh->rtnh_len), nh = RTNH_NEXT(nh))
			if (nexthop_add(nl, nh, g) < 0)
				return -EINVAL;
	}
	return 0;
}

/* Slots are compared in full: nexthop_add() and route_parse() fill the
 * unused tail of a set with zeros (callers zero the set first). */
static bool nhg_equal(const struct sh_nhg *a, const struct sh_nhg *b)
{
	return a->n == b->n &&
	       memcmp(a->nh, b->nh, a->n * sizeof(a->nh[0])) == 0;
}

/* Index of the live set equal to @g, or -1. */
static int nhg_find(const struct sh_nl *nl, const struct sh_nhg *g)
{
	for (unsigned i = 0; i < nl->n_nhg; i++)
		if (nl->nhg_refs[i] > 0 && nhg_equal(&nl->nhg[i], g))
			return (int)i;
	return -1;
}

/* A reference to the set equal to @g, interned if new; -ENOSPC when
 * SH_FIB_MAX_NHG distinct sets are live. */
static int nhg_get(struct sh_nl *nl, const struct sh_nhg *g)
{
	int i = nhg_find(nl, g);

	if (i < 0) {
		for (i = 0; i < (int)nl->n_nhg && nl->nhg_refs[i] > 0; i++)
			;
		if (i == SH_FIB_MAX_NHG)
			return -ENOSPC;
		if (i == (int)nl->n_nhg)
			nl->n_nhg++;
		nl->nhg[i] = *g;
	}
	nl->nhg_refs[i]++;
	return i;
}

static uint32_t route_bucket(uint32_t prefix, uint8_t len)
{
	uint32_t h = (prefix ^ ((uint32_t)len << 24)) * 0x9e3779b1u;

	h ^= h >> 15;
	return (h * 0x85ebca6bu) & (NL_ROUTE_BUCKETS - 1);
}

static bool route_same_prefix(const struct nl_route *a, uint32_t prefix,
			      uint8_t len)
{
	return a->prefix == prefix && a->len == len;
}

/* The first route with @r's (prefix, len, priority) and, when @nhg >= 0,
 * that next-hop set: its slot and the slot before it in the chain (0 at
 * the head). 0 when there is none. */
static uint32_t route_find(const struct sh_nl *nl, const struct nl_route *r,
			   int nhg, uint32_t *prev)
{
	uint32_t b = route_bucket(r->prefix, r->len), p = 0;

	for (uint32_t i = nl->buckets[b]; i != 0; p = i, i = nl->routes[i].next) {
		const struct nl_route *e = &nl->routes[i];

		if (route_same_prefix(e, r->prefix, r->len) &&
		    e->priority == r->priority &&
		    (nhg < 0 || e->nhg == (uint32_t)nhg)) {
			*prev = p;
			return i;
		}
	}
	return 0;
}

static void route_remove(struct sh_nl *nl, uint32_t i, uint32_t prev)
{
	struct nl_route *e = &nl->routes[i];

	if (prev == 0)
		nl->buckets[route_bucket(e->prefix, e->len)] = e->next;
	else
		nl->routes[prev].next = e->next;
	nl->nhg_refs[e->nhg]--;
	e->next = nl->route_free;
	nl->route_free = i;
	nl->n_routes--;
}

/* Insert @r with next hops @g: after the routes for its prefix that the
 * kernel prefers, and after those of equal priority too when @append
 * (the kernel's NLM_F_APPEND, and dumps, which come in kernel order);
 * a plain create goes before them. 1 if kept, 0 if the table is full. */
static int route_insert(struct sh_nl *nl, const struct nl_route *r,
			const struct sh_nhg *g, bool append)
{
	uint32_t b = route_bucket(r->prefix, r->len), after = 0, i;
	int nhg;

	if (nl->n_routes == SH_FIB_MAX_ROUTES) {
		nl->stats.routes_full++;
		return 0;
	}
	nhg = nhg_get(nl, g);
	if (nhg < 0) {
		nl->stats.nhg_full++;
		return 0;
	}
	/* Bounded by the chain; chains are short (load <= 1). */
	for (i = nl->buckets[b]; i != 0; i = nl->routes[i].next) {
		const struct nl_route *e = &nl->routes[i];

		if (route_same_prefix(e, r->prefix, r->len) &&
		    (e->priority < r->priority ||
		     (append && e->priority == r->priority)))
			after = i;
	}
	if (nl->route_free != 0) {
		i = nl->route_free;
		nl->route_free = nl->routes[i].next;
	} else {
		i = ++nl->route_top;
	}
	nl->routes[i] = *r;
	nl->routes[i].nhg = (uint32_t)nhg;
	if (after == 0) {
		nl->routes[i].next = nl->buckets[b];
		nl->buckets[b] = i;
	} else {
		nl->routes[i].next = nl->routes[after].next;
		nl->routes[after].next = i;
	}
	nl->n_routes++;
	return 1;
}

static void routes_clear(struct sh_nl *nl)
{
	memset(nl->buckets, 0, NL_ROUTE_BUCKETS * sizeof(nl->buckets[0]));
	memset(nl->nhg_refs, 0, sizeof(nl->nhg_refs));
	nl->route_free = 0;
	nl->route_top = 0;
	nl->n_routes = 0;
	nl->n_nhg = 0;
	nl->routes_changed = true;
}

/*
 * Apply RTM_NEWROUTE / RTM_DELROUTE (or a dump part). 1 if the kept
 * routes changed. Routes are told apart by (prefix, len, priority, next
 * hops): the kernel refuses two identical ones, so a NEWROUTE for a route
 * we hold is a replay and changes nothing.
 */
static int route_apply(struct sh_nl *nl, const struct nlmsghdr *nlh)
{
	struct sh_nhg g;
	struct nl_route r;
	uint32_t i, prev;
	int nhg, ret;

	memset(&g, 0, sizeof(g));
	if (route_parse(nl, nlh, &r, &g) < 0)
		return 0;
	nhg = g.n != 0 ? nhg_find(nl, &g) : -1;
	if (nlh->nlmsg_type == RTM_DELROUTE) {
		if (nhg < 0)
			return 0;
		i = route_find(nl, &r, nhg, &prev);
		if (i == 0)
			return 0;
		route_remove(nl, i, prev);
		nl->routes_changed = true;
		return 1;
	}
	if (nhg >= 0 && route_find(nl, &r, nhg, &prev) != 0)
		return 0;
	if (nlh->nlmsg_flags & NLM_F_REPLACE) {
		/* The kernel replaced the first route with this key. We only
		 * see watched ones: if that first one was not watched, the one
		 * we change here is the wrong one (needs `ip route append`
		 * with mixed interfaces on one prefix and metric). */
		i = route_find(nl, &r, -1, &prev);
		if (i != 0) {
			struct nl_route *e = &nl->routes[i];

			nhg = g.n != 0 ? nhg_get(nl, &g) : -1;
			if (nhg < 0) {
				if (g.n != 0)
					nl->stats.nhg_full++;
				route_remove(nl, i, prev);
			} else {
				nl->nhg_refs[e->nhg]--;
				e->nhg = (uint32_t)nhg;
			}
			nl->routes_changed = true;
			return 1;
		}
	}
	if (g.n == 0)
		return 0;
	ret = route_insert(nl, &r, &g, (nlh->nlmsg_flags &
					(NLM_F_APPEND | NLM_F_MULTI)) != 0);
	if (ret > 0)
		nl->routes_changed = true;
	return ret;
}

/* ---- neighbours ---- */

static int neigh_find(const struct sh_nl *nl, uint32_t ip, int ifindex)
{
	for (unsigned i = 0; i < nl->n_neigh; i++)
		if (nl->neigh[i].ip == ip && nl->neigh[i].ifindex == ifindex)
			return (int)i;
	return -1;
}

/*
 * Apply RTM_NEWNEIGH / RTM_DELNEIGH (or a dump part). 1 if the kept
 * neighbours changed; a state change that keeps the entry usable with the
 * same MAC (REACHABLE <-> STALE ...) is not a change for the engine.
 */
static int neigh_apply(struct sh_nl *nl, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[NDA_MAX + 1] = { NULL };
	struct nl_attrs p = { neigh_policy, NDA_MAX, tb };
	const struct ndmsg *ndm;
	const uint8_t *mac = NULL;
	uint32_t ip;
	int i;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm))
		return 0;
	ndm = mnl_nlmsg_get_payload(nlh);
	if (ndm->ndm_family != AF_INET || (ndm->ndm_flags & NTF_PROXY) ||
	    !nl_watched(nl, ndm->ndm_ifindex))
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*ndm), attr_cb, &p) < 0 ||
	    tb[NDA_DST] == NULL)
		return 0;
	ip = mnl_attr_get_u32(tb[NDA_DST]);
	if (ip == 0)
		return 0;
	if (nlh->nlmsg_type == RTM_NEWNEIGH && (ndm->ndm_state & NUD_USABLE) &&
	    tb[NDA_LLADDR] && mnl_attr_get_payload_len(tb[NDA_LLADDR]) == 6)
		mac = mnl_attr_get_payload(tb[NDA_LLADDR]);

	i = neigh_find(nl, ip, ndm->ndm_ifindex);
	if (mac == NULL) {
		if (i < 0)
			return 0;
		nl->neigh[i] = nl->neigh[--nl->n_neigh];
		return 1;
	}
	if (i >= 0) {
		if (memcmp(nl->neigh[i].mac, mac, 6) == 0)
			return 0;
		memcpy(nl->neigh[i].mac, mac, 6);
		return 1;
	}
	if (nl->n_neigh == SH_FIB_MAX_NEIGH) {
		nl->stats.neigh_full++;
		return 0;
	}
	nl->neigh[nl->n_neigh].ip = ip;
	nl->neigh[nl->n_neigh].ifindex = ndm->ndm_ifindex;
	memcpy(nl->neigh[nl->n_neigh].mac, mac, 6);
	nl->n_neigh++;
	return 1;
}

/* ---- requests on @req ---- */

typedef int nl_msg_fn(struct sh_nl *nl, const struct nlmsghdr *nlh);

/*
 * Send @nlh on the request socket and read its answer: for a dump every
 * part up to NLMSG_DONE, each passed to @fn; otherwise the ack (the
 * request must carry NLM_F_ACK). Messages of other sequence numbers are
 * left-overs of an earlier request that failed half-way and are skipped.
 * Returns 0, the kernel's -errno, -EINTR for a dump the kernel flagged
 * NLM_F_DUMP_INTR, -EAGAIN on timeout, or the socket's -errno. The read
 * loop ends because the kernel always ends an answer (DONE or ERROR) and
 * every read is bounded by the NL_REQ_TIMEOUT_S receive timeout.
 */
static int nl_request(struct sh_nl *nl, struct nlmsghdr *nlh, nl_msg_fn *fn)
{
	uint32_t seq = ++nl->seq;
	bool intr = false;
	int ret;

	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl->req, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl->req, nl->buf,
						  sizeof(nl->buf));
		const struct nlmsghdr *m = (const struct nlmsghdr *)nl->buf;
		int left = (int)len;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		for (; mnl_nlmsg_ok(m, left); m = mnl_nlmsg_next(m, &left)) {
			if (m->nlmsg_seq != seq ||
			    m->nlmsg_pid != nl->req_portid)
				continue;
			if (m->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			switch (m->nlmsg_type) {
			case NLMSG_NOOP:
				break;
			case NLMSG_ERROR: {
				const struct nlmsgerr *e =
					mnl_nlmsg_get_payload(m);

				if (mnl_nlmsg_get_payload_len(m) < sizeof(*e))
					return -EBADMSG;
				return e->error;
			}
			case NLMSG_DONE:
				/* Newer kernels put a dump's error here. */
				ret = 0;
				if (mnl_nlmsg_get_payload_len(m) >= sizeof(int))
					memcpy(&ret, mnl_nlmsg_get_payload(m),
					       sizeof(int));
				if (ret < 0)
					return ret;
				return intr ? -EINTR : 0;
			default:
				if (fn != NULL)
					fn(nl, m);
				break;
			}
		}
	}
}

/* Room for any request built here (header, family header, few attrs). */
union nl_req_buf {
	struct nlmsghdr nlh;
	char buf[256];
};

static int nl_dump(struct sh_nl *nl, uint16_t type, size_t hdr_len,
		   nl_msg_fn *fn)
{
	union nl_req_buf b;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b.buf);
	uint8_t *family;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	/* rtmsg and ndmsg both start with their family byte. */
	family = mnl_nlmsg_put_extra_header(nlh, hdr_len);
	*family = AF_INET;
	return nl_request(nl, nlh, fn);
}

/* Replace the whole state by fresh dumps. On failure the state is partial
 * and need_resync stays set, so the next sh_nl_process() tries again. */
static int nl_resync(struct sh_nl *nl)
{
	int ret = -EINTR;

	for (unsigned a = 0; a < NL_DUMP_ATTEMPTS && ret == -EINTR; a++) {
		routes_clear(nl);
		nl->n_neigh = 0;
		ret = nl_dump(nl, RTM_GETROUTE, sizeof(struct rtmsg),
			      route_apply);
		if (ret == 0)
			ret = nl_dump(nl, RTM_GETNEIGH, sizeof(struct ndmsg),
				      neigh_apply);
	}
	if (ret == -EINTR)
		ret = -EAGAIN; /* the tables kept changing; try later */
	nl->need_resync = ret != 0;
	return ret;
}

/* ---- events on @ev ---- */

/* Apply every message of one read. 1 if routes or neighbours changed. */
static int nl_events(struct sh_nl *nl, int len)
{
	const struct nlmsghdr *m = (const struct nlmsghdr *)nl->buf;
	int changed = 0;

	for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
		switch (m->nlmsg_type) {
		case RTM_NEWROUTE:
		case RTM_DELROUTE:
			changed |= route_apply(nl, m);
			break;
		case RTM_NEWNEIGH:
		case RTM_DELNEIGH:
			changed |= neigh_apply(nl, m);
			break;
		case RTM_NEWLINK:
		case RTM_DELLINK: {
			const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(m);

			/* Down or gone: the kernel flushed its routes and
			 * neighbours, not all of them with events. A down
			 * link has no routes, so the re-dump is cheap. */
			if (mnl_nlmsg_get_payload_len(m) >= sizeof(*ifi) &&
			    nl_watched(nl, ifi->ifi_index) &&
			    (m->nlmsg_type == RTM_DELLINK ||
			     !(ifi->ifi_flags & IFF_UP)))
				nl->need_resync = true;
			break;
		}
		case RTM_DELADDR: {
			const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(m);

			/* Removing the last address flushes the link's routes
			 * silently. */
			if (mnl_nlmsg_get_payload_len(m) >= sizeof(*ifa) &&
			    ifa->ifa_family == AF_INET &&
			    nl_watched(nl, (int)ifa->ifa_index))
				nl->need_resync = true;
			break;
		}
		default:
			break;
		}
	}
	return changed;
}

int sh_nl_process(struct sh_nl *nl)
{
	int changed = 0, ret;

	for (unsigned n = 0; n < NL_READS_PER_CALL; n++) {
		ssize_t len = mnl_socket_recvfrom(nl->ev, nl->buf,
						  sizeof(nl->buf));

		if (len < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			/* ENOBUFS: the kernel dropped events; ENOSPC: libmnl
			 * saw a truncated one. Either way one is lost. */
			if (errno == ENOBUFS || errno == ENOSPC) {
				nl->stats.overruns++;
				nl->need_resync = true;
				continue;
			}
			return -errno;
		}
		/* Queued events are older than the re-dump that follows. */
		if (nl->need_resync)
			continue;
		changed |= nl_events(nl, (int)len);
	}
	if (!nl->need_resync)
		return changed;
	nl->stats.resyncs++;
	ret = nl_resync(nl);
	return ret < 0 ? ret : 1;
}

/* ---- open / close ---- */

struct sh_nl *sh_nl_open(const int *ifindex, unsigned n)
{
	unsigned groups = RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR |
			  RTMGRP_IPV4_ROUTE;
	struct timeval tv = { .tv_sec = NL_REQ_TIMEOUT_S };
	int rcvbuf = NL_EV_RCVBUF;
	struct sh_nl *nl = NULL;
	int ret;

	if (ifindex == NULL || n == 0 || n > SH_NL_MAX_IFS) {
		ret = -EINVAL;
		goto out;
	}
	nl = calloc(1, sizeof(*nl));
	if (nl == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	/* Large, and touched only as far as they are used (calloc of this
	 * size maps fresh zero pages): the buckets are 4 MiB, the pool and
	 * the scratch array grow with the routes (20 + 16 B each). */
	nl->buckets = calloc(NL_ROUTE_BUCKETS, sizeof(nl->buckets[0]));
	nl->routes = calloc(SH_FIB_MAX_ROUTES + 1, sizeof(nl->routes[0]));
	nl->scratch = calloc(SH_FIB_MAX_ROUTES, sizeof(nl->scratch[0]));
	if (nl->buckets == NULL || nl->routes == NULL || nl->scratch == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		if (ifindex[i] <= 0) {
			ret = -EINVAL;
			goto out;
		}
		nl->ifindex[i] = ifindex[i];
	}
	nl->n_ifs = n;
	nl->seq = (uint32_t)time(NULL);

	/* 1. Event socket, subscribed before the dump (see top). FORCE
	 *    passes rmem_max with CAP_NET_ADMIN; without it the plain
	 *    option gives what the sysctl allows. (SOL_SOCKET level, so not
	 *    mnl_socket_setsockopt(), which sets SOL_NETLINK options.) */
	nl->ev = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (nl->ev == NULL) {
		ret = -errno;
		goto out;
	}
	if (setsockopt(mnl_socket_get_fd(nl->ev), SOL_SOCKET, SO_RCVBUFFORCE,
		       &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(mnl_socket_get_fd(nl->ev), SOL_SOCKET, SO_RCVBUF,
		       &rcvbuf, sizeof(rcvbuf)) < 0) {
		ret = -errno;
		goto out;
	}
	if (mnl_socket_bind(nl->ev, groups, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}

	/* 2. Request socket: no groups, answers only. */
	nl->req = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl->req == NULL) {
		ret = -errno;
		goto out;
	}
	if (setsockopt(mnl_socket_get_fd(nl->req), SOL_SOCKET, SO_RCVTIMEO,
		       &tv, sizeof(tv)) < 0 ||
	    mnl_socket_bind(nl->req, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	nl->req_portid = mnl_socket_get_portid(nl->req);

	/* 3. Initial state. */
	ret = nl_resync(nl);
out:
	if (ret < 0) {
		sh_nl_close(nl);
		errno = -ret;
		return NULL;
	}
	return nl;
}

void sh_nl_close(struct sh_nl *nl)
{
	if (nl == NULL)
		return;
	if (nl->ev != NULL)
		mnl_socket_close(nl->ev);
	if (nl->req != NULL)
		mnl_socket_close(nl->req);
	sh_fib_routes_put(nl->rt);
	free(nl->buckets);
	free(nl->routes);
	free(nl->scratch);
	free(nl);
}

int sh_nl_fd(const struct sh_nl *nl)
{
	return mnl_socket_get_fd(nl->ev);
}

void sh_nl_stats_get(const struct sh_nl *nl, struct sh_nl_stats *st)
{
	*st = nl->stats;
}

/* A route part from the kept routes: every chain in order, so that for
 * one prefix and length the builder sees the kernel's preferred route
 * first. Bounded by the buckets and the routes. */
static struct sh_fib_routes *routes_build(struct sh_nl *nl)
{
	unsigned n = 0;

	for (uint32_t b = 0; b < NL_ROUTE_BUCKETS; b++) {
		for (uint32_t i = nl->buckets[b]; i != 0;
		     i = nl->routes[i].next) {
			const struct nl_route *e = &nl->routes[i];

			nl->scratch[n].prefix = e->prefix;
			nl->scratch[n].priority = e->priority;
			nl->scratch[n].nhg = e->nhg;
			nl->scratch[n].len = e->len;
			n++;
		}
	}
	return sh_fib_routes_build(nl->scratch, n, nl->nhg, nl->n_nhg);
}

struct sh_fib *sh_nl_fib_build(struct sh_nl *nl)
{
	struct sh_fib *fib;

	if (nl->rt == NULL || nl->routes_changed) {
		struct sh_fib_routes *rt = routes_build(nl);

		if (rt == NULL)
			return NULL;
		sh_fib_routes_put(nl->rt);
		nl->rt = rt;
		nl->routes_changed = false;
	}
	fib = sh_fib_build(nl->generation + 1, nl->rt, nl->neigh, nl->n_neigh);
	if (fib != NULL)
		nl->generation++;
	return fib;
}

/* ---- changes the engine makes ---- */

/* An RTM_NEWNEIGH request for @ip on @ifindex in @b (@flags besides
 * REQUEST | ACK | CREATE); the caller adds what else it says. */
static struct nlmsghdr *neigh_req(union nl_req_buf *b, uint16_t flags,
				  int ifindex, uint16_t state, uint8_t ntf,
				  uint32_t ip)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b->buf);
	struct ndmsg *ndm;

	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | flags;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_INET;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = state;
	ndm->ndm_flags = ntf;
	mnl_attr_put_u32(nlh, NDA_DST, ip);
	return nlh;
}

int sh_nl_resolve(struct sh_nl *nl, int ifindex, uint32_t ip)
{
	union nl_req_buf b;

	if (ip == 0 || ifindex <= 0)
		return -EINVAL;
	/* NTF_USE makes the kernel act as if a packet wanted this neighbour
	 * (neigh_event_send): NONE/FAILED -> INCOMPLETE with an ARP request
	 * sent now, STALE -> DELAY -> unicast probe, REACHABLE unchanged.
	 * NLM_F_CREATE is needed for an address the kernel has no entry for
	 * yet (else ENOENT); ndm_state is not used with NTF_USE. Without
	 * NTF_USE, creating an entry in INCOMPLETE sends nothing and it
	 * stays INCOMPLETE. Checked on 6.x by tests/netlink. */
	return nl_request(nl, neigh_req(&b, 0, ifindex, NUD_NONE, NTF_USE, ip),
			  NULL);
}

int sh_nl_neigh_add(struct sh_nl *nl, int ifindex, uint32_t ip,
		    const uint8_t mac[6])
{
	union nl_req_buf b;
	struct nlmsghdr *nlh;

	if (ip == 0 || ifindex <= 0)
		return -EINVAL;
	nlh = neigh_req(&b, NLM_F_REPLACE, ifindex, NUD_STALE, 0, ip);
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	return nl_request(nl, nlh, NULL);
}

int sh_nl_link_up(struct sh_nl *nl, int ifindex)
{
	union nl_req_buf b;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b.buf);
	struct ifinfomsg *ifi;

	if (ifindex <= 0)
		return -EINVAL;
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_request(nl, nlh, NULL);
}

int sh_nl_addr_add(struct sh_nl *nl, int ifindex, uint32_t ip, uint8_t len)
{
	union nl_req_buf b;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b.buf);
	struct ifaddrmsg *ifa;
	int ret;

	if (ifindex <= 0 || ip == 0 || len > 32)
		return -EINVAL;
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE |
			   NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	/* IFA_LOCAL is the address; IFA_ADDRESS the peer, equal on a
	 * broadcast link. */
	mnl_attr_put_u32(nlh, IFA_LOCAL, ip);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, ip);
	ret = nl_request(nl, nlh, NULL);
	return ret == -EEXIST ? 0 : ret;
}

int sh_nl_route_add(struct sh_nl *nl, int ifindex, uint32_t prefix,
		    uint8_t len, uint32_t gateway)
{
	union nl_req_buf b;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b.buf);
	struct rtmsg *rtm;

	if (ifindex <= 0 || len > 32 || (prefix & ~len_to_mask(len)) != 0)
		return -EINVAL;
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE |
			   NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = gateway != 0 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (len > 0)
		mnl_attr_put_u32(nlh, RTA_DST, prefix);
	mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	if (gateway != 0)
		mnl_attr_put_u32(nlh, RTA_GATEWAY, gateway);
	return nl_request(nl, nlh, NULL);
}
