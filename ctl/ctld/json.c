/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The objects of proto.h: LEASE, the lease set, slices, and the JSON-RPC
 * reply envelopes. Each returns a new reference, or NULL when out of
 * memory.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "ctld.h"

const char *fmt_ipv4(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
		 (ip >> 8) & 0xff, ip & 0xff);
	return buf;
}

static json_t *opt_int(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

json_t *json_lease(const struct ctld *d, const struct ctl_lease *l)
{
	json_t *clients = json_array();
	int64_t flows = engine_lease_flows(d, l->id);
	char a[16], p[24];

	for (unsigned i = 0; clients && i < l->n_clients; i++) {
		snprintf(p, sizeof(p), "%s/%u", fmt_ipv4(l->clients[i].addr, a),
			 l->clients[i].len);
		json_array_append_new(clients, json_string(p));
	}
	return json_pack("{sI ss ss ss sI sI so ss sb so so sI so}",
			 "id", (json_int_t)l->id,
			 "holder", l->holder,
			 "kind", l->kind == SH_LEASE_NAT ? "nat" : "socket",
			 "ip", fmt_ipv4(l->ip, a),
			 "lo", (json_int_t)l->lo,
			 "hi", (json_int_t)l->hi,
			 "clients", clients,
			 "state", l->draining ? "draining" : "active",
			 "static", l->is_static,
			 "ttl", opt_int(l->ttl),
			 "expires", opt_int(l->expires),
			 "created", (json_int_t)l->created,
			 "flows", opt_int(flows));
}

static struct ctl_lease all[SHOAL_MAX_LEASES];

json_t *json_lease_set(struct ctld *d)
{
	json_t *arr;
	unsigned n;

	if (lease_list(d, all, SHOAL_MAX_LEASES, &n))
		return NULL;
	arr = json_array();
	for (unsigned i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, json_lease(d, &all[i]))) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

/* slice.list: "leased" counts ports in active and draining leases. */
json_t *json_slices(struct ctld *d)
{
	json_t *arr;
	unsigned n;
	char a[16];

	if (lease_list(d, all, SHOAL_MAX_LEASES, &n))
		return NULL;
	arr = json_array();
	for (unsigned i = 0; arr && i < d->cfg->n_slices; i++) {
		const struct sh_slice_cfg *s = &d->cfg->slices[i];
		json_int_t size = s->hi - s->lo + 1, leased = 0;

		for (unsigned j = 0; j < n; j++) {
			const struct ctl_lease *l = &all[j];

			if (l->ip == s->ip && l->lo >= s->lo && l->hi <= s->hi)
				leased += l->hi - l->lo + 1;
		}
		json_array_append_new(arr, json_pack("{ss sI sI sI sI}",
			"ip", fmt_ipv4(s->ip, a), "lo", (json_int_t)s->lo,
			"hi", (json_int_t)s->hi, "leased", leased,
			"free", size - leased));
	}
	return arr;
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
