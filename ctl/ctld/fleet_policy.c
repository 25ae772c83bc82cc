/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which slices a fleet host claims and gives back (docs/FLEET.md "Which
 * slices a host claims"), decided from one reading of the map. Pure: the
 * worker thread (fleet.c) acts on the decision, the unit tests check it.
 *
 * Every host computes the same rendezvous weights, so for any slice all
 * hosts agree on its top live host, and different hosts prefer different
 * slices. Contention that remains is settled by etcd: a claim is a txn
 * that succeeds for one host only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

void fleet_slice_range(const struct sh_fleet_cfg *f, uint32_t s,
		       uint32_t *ip, uint16_t *lo, uint16_t *hi)
{
	uint32_t per = ((uint32_t)f->hi - f->lo + 1) / f->slice_size;

	*ip = f->pool[s / per];
	*lo = (uint16_t)(f->lo + s % per * f->slice_size);
	*hi = (uint16_t)(*lo + f->slice_size - 1);
}

int fleet_slice_index(const struct sh_fleet_cfg *f, uint32_t ip,
		      uint16_t port)
{
	uint32_t per = ((uint32_t)f->hi - f->lo + 1) / f->slice_size;

	if (port < f->lo || port > f->hi)
		return -1;
	for (unsigned i = 0; i < f->n_pool; i++)
		if (f->pool[i] == ip)
			return (int)(i * per +
				     ((uint32_t)port - f->lo) / f->slice_size);
	return -1;
}

/* FNV-1a over the name, then splitmix64's finalizer over name and slice:
 * cheap, and every bit of the index moves the weight. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static uint64_t weight_of(uint64_t name, uint32_t slice)
{
	uint64_t z = name + (slice + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t fleet_weight(const char *host, uint32_t slice)
{
	return weight_of(name_hash(host), slice);
}

bool fleet_claimable(const struct fleet_view *v, uint32_t s)
{
	return v->owner[s] == FLEET_FREE &&
	       v->now_ms - v->free_since[s] >= v->hold_ms;
}

struct ranked {
	uint64_t w;
	uint32_t s;
};

/* Highest weight first; the index breaks (astronomically rare) ties. */
static int ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->w != y->w)
		return x->w < y->w ? 1 : -1;
	return x->s < y->s ? -1 : x->s > y->s;
}

/* What host @h wants: this host's target, or its hosts/ key's. */
static uint32_t want_of(const struct fleet_view *v, unsigned h,
			uint32_t mine_want)
{
	return h == 0 ? mine_want : v->hosts[h].want;
}

/* Of the live hosts that hold more than they want (and take orphans),
 * the one giving back: the largest surplus, then the smallest name. */
static bool is_giver(const struct fleet_view *v, const uint32_t *have,
		     uint32_t mine_want)
{
	uint32_t best = 0;
	unsigned who = 0;

	for (unsigned h = 0; h < v->n_hosts; h++) {
		uint32_t w = want_of(v, h, mine_want), extra;

		if ((h && (!v->hosts[h].live || v->hosts[h].listed)) ||
		    have[h] <= w)
			continue;
		extra = have[h] - w;
		if (extra > best || (extra == best &&
				     strcmp(v->hosts[h].name,
					    v->hosts[who].name) < 0)) {
			best = extra;
			who = h;
		}
	}
	return best && who == 0;
}

/*
 * 1. Count what every host holds. 2. Below its target, a host claims the
 * claimable free slices in its own rank order (with an explicit list:
 * its listed ones) until it holds its target. 3. While every live host
 * holds its target, each claimable free slice goes to its top live host
 * (orphans), even beyond that host's target. 4. A host over its target
 * gives back its lowest-ranked slice when a live host is short and no
 * free slice is left for it, one host and one slice at a time (the one
 * with the largest surplus); a host with a list gives back what it does
 * not list. Bounded by n_slices x n_hosts weights.
 */
int fleet_decide(const struct fleet_view *v, uint32_t *claim, unsigned max,
		 unsigned *n_claim, int32_t *give)
{
	uint32_t *have = calloc(v->n_hosts ? v->n_hosts : 1, sizeof(*have));
	uint64_t *hh = calloc(v->n_hosts ? v->n_hosts : 1, sizeof(*hh));
	struct ranked *r = calloc(v->n_slices ? v->n_slices : 1, sizeof(*r));
	uint32_t mine_want = v->want, n_free = 0;
	unsigned k = 0;
	bool short_host = false, busy = false;
	int rc = 0;

	*n_claim = 0;
	*give = -1;
	if (!have || !hh || !r) {
		rc = -ENOMEM;
		goto out;
	}
	/* 1. */
	for (uint32_t s = 0; s < v->n_slices; s++) {
		if (v->owner[s] >= 0 && (unsigned)v->owner[s] < v->n_hosts)
			have[v->owner[s]]++;
		else if (v->owner[s] == FLEET_FREE)
			n_free++;
		if (v->busy && v->busy[s])
			busy = true;
	}
	if (v->listed) {
		mine_want = 0;
		for (uint32_t s = 0; s < v->n_slices; s++)
			mine_want += v->listed[s];
	}
	/* a host with a list is short of particular slices, which neither
	 * orphans nor a give-back would bring it: it does not count */
	for (unsigned h = 0; h < v->n_hosts; h++) {
		bool listed = h ? v->hosts[h].listed : v->listed != NULL;

		hh[h] = name_hash(v->hosts[h].name);
		if ((h == 0 || v->hosts[h].live) && !listed &&
		    have[h] < want_of(v, h, mine_want))
			short_host = true;
	}
	/* 2. */
	for (uint32_t s = 0; s < v->n_slices; s++)
		if (fleet_claimable(v, s) && (!v->listed || v->listed[s]))
			r[k++] = (struct ranked){ weight_of(hh[0], s), s };
	qsort(r, k, sizeof(*r), ranked_cmp);
	for (unsigned i = 0; i < k && *n_claim < max &&
	     have[0] + *n_claim < mine_want; i++)
		claim[(*n_claim)++] = r[i].s;
	/* 3. */
	for (uint32_t s = 0; !short_host && !v->listed && s < v->n_slices &&
	     *n_claim < max; s++) {
		uint64_t best = 0, w;
		int top = -1;

		if (!fleet_claimable(v, s))
			continue;
		for (unsigned h = 0; h < v->n_hosts; h++) {
			if (h && (!v->hosts[h].live || v->hosts[h].listed))
				continue;
			w = weight_of(hh[h], s);
			if (top < 0 || w > best) {
				best = w;
				top = (int)h;
			}
		}
		if (top == 0)
			claim[(*n_claim)++] = s;
	}
	/* 4. */
	if (busy || *n_claim)
		goto out;
	if (v->listed) {
		for (uint32_t s = 0; s < v->n_slices && *give < 0; s++)
			if (v->owner[s] == 0 && !v->listed[s])
				*give = (int32_t)s;
		goto out;
	}
	if (have[0] <= mine_want || !short_host || n_free ||
	    !is_giver(v, have, mine_want))
		goto out;
	/* the first mine_want slices it took (by etcd's create revision)
	 * stay; of the others, the lowest ranked goes */
	k = 0;
	for (uint32_t s = 0; s < v->n_slices; s++)
		if (v->owner[s] == 0)
			r[k++] = (struct ranked){ (uint64_t)v->created[s], s };
	qsort(r, k, sizeof(*r), ranked_cmp); /* newest first */
	for (unsigned i = 0; i + mine_want < k; i++) {
		uint64_t w = weight_of(hh[0], r[i].s);

		if (*give < 0 || w < weight_of(hh[0], (uint32_t)*give))
			*give = (int32_t)r[i].s;
	}
out:
	free(have);
	free(hh);
	free(r);
	return rc;
}
