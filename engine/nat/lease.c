/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lease sets: which (address, port range) belongs to whom, and which
 * clients use which nat lease.
 *
 * A lease set is a flat, copyable snapshot. Client selectors are scanned
 * on the slow path (new flow) only; the packet paths use the slice
 * address table (nat_is_slice_ip) and the sorted port index
 * (nat_lease_find, O(log n_leases)).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat.h"
#include "pkt.h"

static uint32_t mask_of(uint8_t len)
{
	return len ? htonl(~0u << (32 - len)) : 0;
}

static int match_cmp(const void *a, const void *b)
{
	const struct nat_match *x = a, *y = b;

	/* Longest prefix first; among equals, lease order (stable choice). */
	if (x->len != y->len)
		return y->len - x->len;
	return x->lease - y->lease;
}

/* The side's own address, and its subnet's directed broadcast when the
 * subnet has one (/31 and /32 do not). */
static void add_host(struct nat_lease_set *ls, unsigned side,
		     const struct sh_port_cfg *pc)
{
	if (!pc->has_address)
		return;
	ls->side_addr[side] = htonl(pc->address_host);
	ls->host_ips[ls->n_host_ips++] = htonl(pc->address_host);
	if (pc->address.len <= 30)
		ls->host_ips[ls->n_host_ips++] =
			htonl(pc->address.addr | ~ntohl(mask_of(pc->address.len)));
}

/* The pool's geometry (docs/FLEET.md): cfg->slices holds one entry per
 * pool address over the pool's ports, in configuration order, so slice
 * k of slices[i] has the global index i * fleet_per_ip + k. No owners
 * yet: nat_fleet_add() fills them in. */
static void fleet_begin(struct nat_lease_set *ls, const struct sh_fleet_cfg *f)
{
	ls->fleet = true;
	ls->fleet_self_ip = htonl(f->address);
	ls->fleet_port = htons((uint16_t)f->port);
	ls->fleet_lo = f->lo;
	ls->fleet_span = (uint32_t)f->hi - f->lo + 1;
	ls->fleet_size = f->slice_size;
	ls->fleet_per_ip = ls->fleet_span / f->slice_size;
	ls->fleet_inv = ((1ull << 32) + f->slice_size - 1) / f->slice_size;
	ls->n_fleet_slices = ls->n_slices * ls->fleet_per_ip;
}

void nat_lease_set_begin(struct nat_lease_set *ls, const struct sh_config *cfg,
			 uint64_t generation)
{
	unsigned i;

	memset(ls, 0, sizeof(*ls));
	for (i = 0; i < cfg->n_slices && i < SH_CFG_MAX_SLICES; i++) {
		uint32_t ip = htonl(cfg->slices[i].ip);
		uint32_t pos = nat_slice_ip_slot(ip);

		ls->slices[i].ip = ip;
		ls->slices[i].lo = cfg->slices[i].lo;
		ls->slices[i].hi = cfg->slices[i].hi;
		while (ls->slice_ips[pos] && ls->slice_ips[pos] != ip)
			pos = (pos + 1) & (NAT_SLICE_IP_SLOTS - 1);
		if (!ls->slice_ips[pos])
			ls->slice_pos[pos] = (uint16_t)i;
		ls->slice_ips[pos] = ip;
	}
	ls->n_slices = i;
	/* Their common prefix (none: a mask no address passes but 0). */
	ls->slice_mask = 0xffffffff;
	for (i = 1; i < ls->n_slices; i++)
		while ((ls->slices[i].ip ^ ls->slices[0].ip) & ls->slice_mask)
			ls->slice_mask = htonl(ntohl(ls->slice_mask) << 1);
	ls->slice_net = ls->n_slices ? ls->slices[0].ip & ls->slice_mask : 0;
	add_host(ls, 0, &cfg->inside);
	add_host(ls, 1, &cfg->outside);
	ls->generation = generation;
	if (cfg->fleet.enabled)
		fleet_begin(ls, &cfg->fleet);
}

int nat_lease_set_add(struct nat_lease_set *ls, const struct nat_lease_spec *s)
{
	struct nat_lease *l;
	unsigned j;

	if (ls->n_leases == NAT_MAX_LEASES)
		return -EDQUOT;
	if (ls->n_match + s->n_clients > NAT_MAX_MATCH)
		return -EOVERFLOW;
	if (s->id == 0 || s->id > UINT16_MAX || s->lo == 0 || s->lo > s->hi ||
	    s->mapping > SH_MAPPING_APDM || s->filtering > SH_FILTERING_APDF)
		return -EINVAL;
	l = &ls->leases[ls->n_leases];
	l->id = s->id;
	l->ip = s->ip;
	l->lo = s->lo;
	l->hi = s->hi;
	l->kind = (uint8_t)s->kind;
	l->state = (uint8_t)s->state;
	l->mapping = (uint8_t)s->mapping;
	l->filtering = (uint8_t)s->filtering;
	snprintf(l->name, sizeof(l->name), "%s", s->name);
	for (j = 0; j < s->n_clients; j++) {
		struct nat_match *m = &ls->match[ls->n_match++];

		if (s->clients[j].len > 32)
			return -EINVAL;
		m->mask = mask_of(s->clients[j].len);
		m->net = htonl(s->clients[j].addr) & m->mask;
		m->len = s->clients[j].len;
		m->lease = (uint16_t)ls->n_leases;
	}
	ls->n_leases++;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct nat_lease_key *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

void nat_lease_set_finish(struct nat_lease_set *ls)
{
	unsigned i;

	qsort(ls->match, ls->n_match, sizeof(ls->match[0]), match_cmp);
	ls->any_exclusive = false;
	for (i = 0; i < ls->n_leases; i++) {
		if (ls->leases[i].kind == SH_LEASE_NAT &&
		    nat_lease_exclusive(&ls->leases[i]))
			ls->any_exclusive = true;
		ls->by_port[i].key = (uint64_t)ntohl(ls->leases[i].ip) << 16 |
				     ls->leases[i].lo;
		ls->by_port[i].lease = i;
	}
	qsort(ls->by_port, ls->n_leases, sizeof(ls->by_port[0]), key_cmp);
	nat_fleet_finish(ls);
}

/* Static leases get ids 1..n in configuration order (proto.h). */
int nat_lease_set_from_config(struct nat_lease_set *ls,
			      const struct sh_config *cfg)
{
	unsigned i;
	int ret;

	if (cfg->n_slices > SH_CFG_MAX_SLICES || cfg->n_leases > NAT_MAX_LEASES)
		return -EINVAL;
	nat_lease_set_begin(ls, cfg, 1);
	for (i = 0; i < cfg->n_leases; i++) {
		const struct sh_lease_cfg *lc = &cfg->leases[i];
		struct nat_lease_spec s = {
			.id = i + 1,
			.name = lc->name,
			.kind = lc->kind,
			.state = NAT_LEASE_ACTIVE,
			.mapping = lc->mapping,
			.filtering = lc->filtering,
			.ip = htonl(lc->ip),
			.lo = lc->lo,
			.hi = lc->hi,
			.clients = lc->clients,
			.n_clients = lc->n_clients,
		};

		ret = nat_lease_set_add(ls, &s);
		if (ret < 0)
			return ret;
	}
	nat_lease_set_finish(ls);
	return 0;
}

int nat_lease_match(const struct nat_lease_set *ls, uint32_t client, int from)
{
	unsigned i;

	for (i = (unsigned)(from + 1); i < ls->n_match; i++) {
		const struct nat_match *m = &ls->match[i];
		const struct nat_lease *l = &ls->leases[m->lease];

		if ((client & m->mask) == m->net && l->kind == SH_LEASE_NAT &&
		    l->state == NAT_LEASE_ACTIVE)
			return (int)i;
	}
	return -1;
}

const struct nat_lease *nat_lease_find(const struct nat_lease_set *ls,
				       uint32_t ip, uint16_t port)
{
	uint64_t key = (uint64_t)ntohl(ip) << 16 | port;
	unsigned lo = 0, hi = ls->n_leases;
	const struct nat_lease *l;

	/* The last entry whose key is <= key: the only lease that may hold
	 * the port, since leases of one address never overlap. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (ls->by_port[mid].key <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	l = &ls->leases[ls->by_port[lo - 1].lease];
	return l->ip == ip && port <= l->hi ? l : NULL;
}

unsigned nat_out2in_miss(const struct nat_lease_set *ls, uint32_t ip,
			 uint16_t port_be)
{
	const struct nat_lease *l = nat_lease_find(ls, ip, nat_be16(port_be));

	if (!l)
		return SH_DROP_NOT_LEASED;
	return l->kind == SH_LEASE_SOCKET ? NAT_KERNEL : SH_DROP_UNSOLICITED;
}
