/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The objects of proto.h: LEASE, slices, and the JSON-RPC reply
 * envelopes. Pure formatters: everything they show comes in as
 * arguments (view.c gathers it); each returns a new reference, or NULL
 * when out of memory.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "ctld.h"

static json_t *opt_int(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

json_t *json_lease(const struct ctl_lease *l, int64_t flows)
{
	json_t *clients = json_array();
	char a[16], p[24];

	for (unsigned i = 0; clients && i < l->n_clients; i++) {
		snprintf(p, sizeof(p), "%s/%u", sh_fmt_ipv4(l->clients[i].addr, a),
			 l->clients[i].len);
		json_array_append_new(clients, json_string(p));
	}
	bool nat = l->kind == SH_LEASE_NAT;

	return json_pack("{sI ss ss ss sI sI so ss sb so so sI so ss? ss?}",
			 "id", (json_int_t)l->id,
			 "holder", l->holder,
			 "kind", l->kind == SH_LEASE_NAT ? "nat" : "socket",
			 "ip", sh_fmt_ipv4(l->ip, a),
			 "lo", (json_int_t)l->lo,
			 "hi", (json_int_t)l->hi,
			 "clients", clients,
			 "state", l->draining ? "draining" : "active",
			 "static", l->is_static,
			 "ttl", opt_int(l->ttl),
			 "expires", opt_int(l->expires),
			 "created", (json_int_t)l->created,
			 "flows", opt_int(flows),
			 "mapping", nat ? sh_mapping_name(l->mapping) : NULL,
			 "filtering", nat ? sh_filtering_name(l->filtering) :
			 NULL);
}

struct span {
	uint32_t lo, hi;
};

static struct span spans[SHOAL_MAX_LEASES + CTLD_MAX_HOLDS];

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Ports of slice @s in the union of @k spans (sorted here). */
static json_int_t covered(const struct sh_slice_cfg *s, struct span *sp,
			  unsigned k)
{
	json_int_t sum = 0;
	uint32_t cur = s->lo; /* first port not yet counted */

	qsort(sp, k, sizeof(sp[0]), span_cmp);
	for (unsigned i = 0; i < k; i++) {
		uint32_t lo = sp[i].lo > cur ? sp[i].lo : cur;
		uint32_t hi = sp[i].hi < s->hi ? sp[i].hi : s->hi;

		if (lo <= hi) {
			sum += hi - lo + 1;
			cur = hi + 1;
		}
	}
	return sum;
}

/*
 * One slice.list entry. "leased" counts ports in active and draining
 * leases; "held" the other ports in holds (holds of one holder may
 * overlap each other or that holder's new lease: each port counts once),
 * so leased + held + free is the slice's size.
 */
json_t *json_slice(const struct sh_slice_cfg *s, const struct ctl_lease *l,
		   unsigned n, const struct ctl_hold *h, unsigned nh)
{
	json_int_t size = s->hi - s->lo + 1, leased = 0, held;
	json_t *harr = json_array();
	unsigned k = 0;
	char a[16];

	for (unsigned j = 0; j < n; j++)
		if (l[j].ip == s->ip && l[j].lo >= s->lo && l[j].hi <= s->hi) {
			leased += l[j].hi - l[j].lo + 1;
			spans[k++] = (struct span){ l[j].lo, l[j].hi };
		}
	for (unsigned j = 0; harr && j < nh; j++) {
		if (h[j].ip != s->ip || h[j].hi < s->lo || h[j].lo > s->hi)
			continue;
		spans[k++] = (struct span){ h[j].lo, h[j].hi };
		json_array_append_new(harr, json_pack("{sI sI ss sI}",
			"lo", (json_int_t)h[j].lo, "hi", (json_int_t)h[j].hi,
			"holder", h[j].holder, "until",
			(json_int_t)h[j].until));
	}
	held = covered(s, spans, k) - leased;
	return json_pack("{ss sI sI sI sI sI so*}", "ip", sh_fmt_ipv4(s->ip, a),
			 "lo", (json_int_t)s->lo, "hi", (json_int_t)s->hi,
			 "leased", leased, "held", held,
			 "free", size - leased - held, "holds", harr);
}

/* @id may be NULL (reply id null); neither argument is consumed. A
 * @message jansson refuses (not UTF-8) is replaced by @reason: the error
 * reply is still sent. */
json_t *json_error(json_t *id, int code, const char *reason,
		   const char *message)
{
	json_t *m = json_string(message);

	return json_pack("{ss sO s{si so ss}}", "jsonrpc", "2.0",
			 "id", id ? id : json_null(), "error", "code", code,
			 "message", m ? m : json_string(reason), "data",
			 reason);
}

/* Consumes @result. */
json_t *json_result(json_t *id, json_t *result)
{
	return json_pack("{ss sO so}", "jsonrpc", "2.0", "id", id,
			 "result", result);
}

/*
 * The longest EVENT json_audit() writes: its keys and punctuation (~150
 * bytes), a 63-byte holder of characters JSON escapes as \" (126), the
 * event and kind at their longest, and every integer at its widest (20
 * characters for the 64-bit ones). tests/ctl/test_audit.py measures a
 * full lease.history reply of such events.
 */
#define AUDIT_JSON_MAX (150 + 2 * SHOAL_HOLDER_MAX + 7 + 6 + 15 + \
			5 * 20 + 5 + 2 * 5 + 10 + 10)
_Static_assert(SHOAL_HISTORY_MAX * (AUDIT_JSON_MAX + 1) + 1024 <=
	       SHOAL_MSG_MAX, "a full lease.history reply passes "
	       "SHOAL_MSG_MAX: lower SHOAL_HISTORY_MAX");

json_t *json_audit(const struct ctl_audit *a)
{
	const struct ctl_lease *l = &a->lease;
	char ip[16];

	return json_pack("{sI sI sI ss sI ss ss ss sI sI so so so so}",
			 "seq", (json_int_t)a->seq,
			 "time", (json_int_t)a->time,
			 "generation", (json_int_t)a->generation,
			 "event", ctl_event_name(a->event),
			 "lease", (json_int_t)l->id,
			 "holder", l->holder,
			 "kind", l->kind == SH_LEASE_NAT ? "nat" : "socket",
			 "ip", sh_fmt_ipv4(l->ip, ip),
			 "lo", (json_int_t)l->lo,
			 "hi", (json_int_t)l->hi,
			 "ttl", opt_int(l->ttl),
			 "expires", opt_int(l->expires),
			 "uid", a->who.peer ? json_integer(a->who.uid) :
			 json_null(),
			 "pid", a->who.peer ? json_integer(a->who.pid) :
			 json_null());
}

/* [fleet]: host @h of snapshot @sn as the name and address text; NULL
 * strings for none. */
static const char *host_name(const struct fleet_snap *sn, int h)
{
	return h >= 0 && (unsigned)h < sn->n_hosts ? sn->hosts[h].name : NULL;
}

static json_t *host_address(const struct fleet_snap *sn, int h)
{
	char a[16];

	if (h < 0 || (unsigned)h >= sn->n_hosts || !sn->hosts[h].address)
		return json_null();
	return json_string(sh_fmt_ipv4(sn->hosts[h].address, a));
}

/* The engine's "fleet" object (FLEET.md "Daemon and engine"): every
 * slice a host owns as last read, ours only while @owned (proven and
 * not being given back), and the peers whose tunnel packets it takes. */
json_t *json_fleet_engine(const struct sh_fleet_cfg *f,
			  const struct fleet_snap *sn, const bool *owned,
			  int64_t valid_ms)
{
	json_t *arr = json_array(), *peers = json_array();
	char a[16];

	for (uint32_t s = 0; arr && s < sn->n_slices; s++) {
		int h = sn->owner[s];
		uint32_t ip;
		uint16_t lo, hi;

		if (h == FLEET_FREE || (h == 0 && !owned[s]))
			continue;
		fleet_slice_range(f, s, &ip, &lo, &hi);
		if (json_array_append_new(arr, json_pack("{ss sI sI ss? so}",
				"ip", sh_fmt_ipv4(ip, a), "lo", (json_int_t)lo,
				"hi", (json_int_t)hi, "host",
				host_name(sn, h), "address",
				host_address(sn, h)))) {
			json_decref(arr);
			json_decref(peers);
			return NULL;
		}
	}
	for (unsigned i = 0; arr && peers && i < sn->n_peers; i++)
		if (json_array_append_new(peers,
				json_string(sh_fmt_ipv4(sn->peers[i], a))))
			break;
	return json_pack("{ss sI so* so*}", "host", f->host, "valid_ms",
			 (json_int_t)valid_ms, "slices", arr, "peers", peers);
}

static const char *etcd_state(const struct fleet_snap *sn)
{
	return sn->etcd_up ? "connected" : "unreachable";
}

/* A slice's state in slice.list's map (proto.h FLEETMAP). */
static const char *map_state(const struct fleet_snap *sn, const bool *owned,
			     uint32_t s)
{
	if (sn->owner[s] == FLEET_FREE)
		return "free";
	if (sn->owner[s] > 0)
		return "owned";
	if (owned[s])
		return "mine";
	return sn->releasing[s] ? "releasing" : "fenced";
}

/* slice.list's "fleet": this host, etcd, the live hosts and every slice
 * of the pool with its owner; a free slice's claimable_in is how many
 * seconds (rounded up) until this host may claim it. */
json_t *json_fleet_map(const struct sh_fleet_cfg *f,
		       const struct fleet_snap *sn, const bool *owned,
		       int64_t now_ms, int64_t valid_ms)
{
	json_t *hosts = json_array(), *map = json_array();
	int64_t hold = (int64_t)f->hold_down * 1000;
	char a[16];

	for (unsigned h = 0; hosts && h < sn->n_hosts; h++) {
		const struct fleet_host *x = &sn->hosts[h];

		if (!x->live)
			continue;
		json_array_append_new(hosts, json_pack("{ss so sI sI}",
			"host", x->name, "address", host_address(sn, (int)h),
			"want", (json_int_t)x->want,
			"have", (json_int_t)x->have));
	}
	for (uint32_t s = 0; map && s < sn->n_slices; s++) {
		int h = sn->owner[s];
		int64_t left = sn->free_since[s] + hold - now_ms;
		uint32_t ip;
		uint16_t lo, hi;

		fleet_slice_range(f, s, &ip, &lo, &hi);
		if (left < 0)
			left = 0;
		if (json_array_append_new(map, json_pack(
				"{ss sI sI so so ss so}", "ip",
				sh_fmt_ipv4(ip, a), "lo", (json_int_t)lo,
				"hi", (json_int_t)hi, "host",
				h >= 0 ? json_string(host_name(sn, h)) :
				json_null(), "address", host_address(sn, h),
				"state", map_state(sn, owned, s),
				"claimable_in", h == FLEET_FREE ?
				json_integer((left + 999) / 1000) :
				json_null()))) {
			json_decref(map);
			map = NULL;
		}
	}
	return json_pack("{ss ss sI so* so*}", "host", f->host,
			 "etcd", etcd_state(sn), "valid_ms",
			 (json_int_t)valid_ms, "hosts", hosts, "map", map);
}

json_t *json_fleet_status(const struct sh_fleet_cfg *f,
			  const struct fleet_snap *sn, unsigned n_owned,
			  int64_t valid_ms)
{
	json_int_t live = 0;

	for (unsigned h = 0; h < sn->n_hosts; h++)
		live += sn->hosts[h].live;
	return json_pack("{ss ss sI sI sI sI sb}", "host", f->host, "etcd",
			 etcd_state(sn), "valid_ms", (json_int_t)valid_ms,
			 "owned", (json_int_t)n_owned, "hosts", live,
			 "etcd_requests", (json_int_t)sn->requests,
			 "conflict", sn->conflict);
}
