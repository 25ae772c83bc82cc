/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * top's model: two stats results (proto.h) and the lease list make one
 * frame (top.h FRAME). Pure: no I/O, no clock but time() for the
 * frame's stamp.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <shoal/counters.h>

#include "top.h"

/* The per-side counters a frame turns into rates, by their RATES key. */
static const char *const sides[] = {
	"rx_inside", "rx_outside", "tx_inside", "tx_outside",
};

static bool is_drop(const char *name)
{
	static const char *const drops[] = {
#define _(e, n, d) n,
		SHOAL_FOREACH_DROP(_)
#undef _
	};
	size_t i;

	for (i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		if (strcmp(drops[i], name) == 0)
			return true;
	return false;
}

static json_int_t counter(json_t *counters, const char *name)
{
	return json_integer_value(json_object_get(counters, name));
}

static json_int_t drops_sum(json_t *counters)
{
	json_int_t sum = 0;
	const char *name;
	json_t *v;

	json_object_foreach(counters, name, v)
		if (is_drop(name))
			sum += json_integer_value(v);
	return sum;
}

/* (@now - @then) / @dt as a JSON real; null without a base or when the
 * counter went down (a new engine started from zero). */
static json_t *rate(json_int_t now, json_int_t then, double dt, bool have)
{
	if (!have || dt <= 0 || now < then)
		return json_null();
	return json_real((double)(now - then) / dt);
}

/* RATES of counters object @cur against @base (NULL: none). */
static json_t *rates(json_t *cur, json_t *base, double dt)
{
	json_t *r = json_object();
	size_t i;

	for (i = 0; r && i < sizeof(sides) / sizeof(sides[0]); i++)
		json_object_set_new(r, sides[i],
				    rate(counter(cur, sides[i]),
					 counter(base, sides[i]), dt,
					 base != NULL));
	if (r)
		json_object_set_new(r, "drops",
				    rate(drops_sum(cur), drops_sum(base), dt,
					 base != NULL));
	return r;
}

/* The element of per_worker array @arr for worker @idx, or NULL. */
static json_t *worker_of(json_t *arr, json_int_t idx)
{
	json_t *w;
	size_t i;

	json_array_foreach(arr, i, w)
		if (json_integer_value(json_object_get(w, "worker")) == idx)
			return w;
	return NULL;
}

static json_t *per_worker(json_t *cur, json_t *base, double dt)
{
	json_t *out = json_array(), *w, *b, *row;
	size_t i;

	json_array_foreach(json_object_get(cur, "per_worker"), i, w) {
		b = base ? worker_of(json_object_get(base, "per_worker"),
				     json_integer_value(json_object_get(
					     w, "worker"))) : NULL;
		row = rates(json_object_get(w, "counters"),
			    b ? json_object_get(b, "counters") : NULL, dt);
		if (!row)
			continue;
		json_object_set(row, "worker", json_object_get(w, "worker"));
		json_object_set(row, "lcore", json_object_get(w, "lcore"));
		json_object_set(row, "flows", json_object_get(w, "flows"));
		json_array_append_new(out, row);
	}
	return out;
}

static int drop_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	double rx = json_number_value(json_object_get(x, "rate"));
	double ry = json_number_value(json_object_get(y, "rate"));
	json_int_t tx = json_integer_value(json_object_get(x, "total"));
	json_int_t ty = json_integer_value(json_object_get(y, "total"));

	if (rx != ry)
		return rx > ry ? -1 : 1;
	if (tx != ty)
		return tx > ty ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "reason")),
		      json_string_value(json_object_get(y, "reason")));
}

/* Array @arr's elements sorted by @cmp, as a new array. */
static json_t *sorted(json_t *arr, int (*cmp)(const void *, const void *))
{
	size_t n = json_array_size(arr), i;
	json_t **v = calloc(n ? n : 1, sizeof(*v)), *out;

	if (!v)
		return arr;
	for (i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), cmp);
	out = json_array();
	for (i = 0; out && i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(arr);
	return out;
}

static json_t *drops(json_t *cur, json_t *base, double dt)
{
	json_t *out = json_array(), *v;
	const char *name;

	json_object_foreach(cur, name, v) {
		if (!is_drop(name) || json_integer_value(v) == 0)
			continue;
		json_array_append_new(out, json_pack("{s:s, s:o, s:O}",
			"reason", name, "rate",
			rate(json_integer_value(v), counter(base, name), dt,
			     base != NULL),
			"total", v));
	}
	return sorted(out, drop_cmp);
}

/* The lease_usage entry of lease @id in stats result @st, or NULL. */
static json_t *usage_of(json_t *st, json_t *id)
{
	json_t *u;
	size_t i;

	json_array_foreach(json_object_get(st, "lease_usage"), i, u)
		if (json_equal(json_object_get(u, "id"), id))
			return u;
	return NULL;
}

static bool is_shared(json_t *l)
{
	static const char apd[] = "address-and-port-dependent";
	const char *m = json_string_value(json_object_get(l, "mapping"));
	const char *f = json_string_value(json_object_get(l, "filtering"));

	return m && f && strcmp(m, apd) == 0 && strcmp(f, apd) == 0;
}

static int lease_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	double fx = json_is_real(json_object_get(x, "fill")) ?
		    json_real_value(json_object_get(x, "fill")) : -1;
	double fy = json_is_real(json_object_get(y, "fill")) ?
		    json_real_value(json_object_get(y, "fill")) : -1;
	json_int_t nx = json_integer_value(json_object_get(x, "flows"));
	json_int_t ny = json_integer_value(json_object_get(y, "flows"));

	if (fx != fy)
		return fx > fy ? -1 : 1;
	if (nx != ny)
		return nx > ny ? -1 : 1;
	return json_integer_value(json_object_get(x, "id")) <
	       json_integer_value(json_object_get(y, "id")) ? -1 : 1;
}

/*
 * Each nat lease with its usage: a lease the report does not list has
 * none, unless the report left leases out (lease_usage_partial): then
 * unknown (null). fill is the fuller protocol's ports over the range.
 */
static json_t *leases_of(json_t *st, json_t *list)
{
	bool partial = json_is_true(json_object_get(st, "lease_usage_partial"));
	json_t *out = json_array(), *l, *u, *row, *z = json_integer(0);
	json_int_t size, tcp, udp;
	size_t i;

	json_array_foreach(json_object_get(list, "leases"), i, l) {
		const char *kind = json_string_value(json_object_get(l, "kind"));

		if (!kind || strcmp(kind, "nat") != 0)
			continue;
		u = usage_of(st, json_object_get(l, "id"));
		size = json_integer_value(json_object_get(l, "hi")) -
		       json_integer_value(json_object_get(l, "lo")) + 1;
		row = json_pack("{s:O, s:O?, s:O?, s:O?, s:O?, s:O?, s:I}",
				"id", json_object_get(l, "id"),
				"holder", json_object_get(l, "holder"),
				"state", json_object_get(l, "state"),
				"ip", json_object_get(l, "ip"),
				"lo", json_object_get(l, "lo"),
				"hi", json_object_get(l, "hi"),
				"size", size);
		if (!row)
			continue;
		if (!u && partial) {
			json_object_set_new(row, "flows", json_null());
			json_object_set_new(row, "tcp_ports", json_null());
			json_object_set_new(row, "udp_ports", json_null());
			json_object_set_new(row, "fill", json_null());
			json_array_append_new(out, row);
			continue;
		}
		tcp = json_integer_value(json_object_get(u, "tcp_ports"));
		udp = json_integer_value(json_object_get(u, "udp_ports"));
		json_object_set(row, "flows", u ? json_object_get(u, "flows") : z);
		json_object_set_new(row, "tcp_ports", json_integer(tcp));
		json_object_set_new(row, "udp_ports", json_integer(udp));
		json_object_set_new(row, "fill", is_shared(l) || size <= 0 ?
				    json_null() :
				    json_real((double)(tcp > udp ? tcp : udp) /
					      (double)size));
		json_array_append_new(out, row);
	}
	json_decref(z);
	return sorted(out, lease_cmp);
}

json_t *top_frame(json_t *base, json_t *cur, json_t *leases)
{
	json_int_t t0 = json_integer_value(json_object_get(base,
							   "report_mono_ms"));
	json_int_t t1 = json_integer_value(json_object_get(cur,
							   "report_mono_ms"));
	json_t *counters = json_object_get(cur, "counters");
	json_t *bc = base ? json_object_get(base, "counters") : NULL;
	double dt = base && t1 > t0 ? (double)(t1 - t0) / 1000.0 : 0;

	/* Counters that went down come from another engine: no rates. */
	if (bc && counter(counters, "rx_inside") < counter(bc, "rx_inside"))
		bc = NULL;
	if (dt <= 0)
		bc = NULL;
	return json_pack("{s:I, s:o, s:O?, s:O?, s:O?, s:o, s:o, s:o, s:o, "
			 "s:O?}",
			 "time", (json_int_t)time(NULL),
			 "interval", bc ? json_real(dt) : json_null(),
			 "report_age", json_object_get(cur, "report_age"),
			 "workers", json_object_get(cur, "workers"),
			 "flows", json_object_get(cur, "flows"),
			 "total", rates(counters, bc, dt),
			 "per_worker", per_worker(cur, bc ? base : NULL, dt),
			 "drops", drops(counters, bc, dt),
			 "leases", leases_of(cur, leases),
			 "clients", json_object_get(cur, "top_clients"));
}

json_t *top_error_frame(const char *data, const char *message)
{
	return json_pack("{s:I, s:{s:s, s:s}}", "time",
			 (json_int_t)time(NULL), "error", "data",
			 data ? data : "error", "message",
			 message ? message : "");
}
