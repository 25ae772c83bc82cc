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
