/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The command table: every shoalctl command is one row (words, usage,
 * options, method, how to build its params and show its result). The
 * dispatcher, `help` and the generated bash completion all read this
 * table and nothing else. Words and options match exactly: no
 * abbreviations, no option bundling, no --opt=value.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <shoal/counters.h>
#include <shoal/proto.h>

#include "cmd.h"
#include "value.h"

static int usage_err(struct call *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_err(struct call *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *opt_val(const struct call *c, const char *name)
{
	int i;

	for (i = 0; c->cmd->opts != NULL && c->cmd->opts[i].name != NULL; i++)
		if (strcmp(c->cmd->opts[i].name, name) == 0)
			return c->val[i];
	return NULL;
}

/* Optional numeric option into params[key]. */
static int put_uint(struct call *c, json_t *params, const char *opt,
		    const char *key, uint32_t min, uint32_t max)
{
	const char *s = opt_val(c, opt);
	uint32_t v;

	if (s == NULL)
		return 0;
	if (sh_parse_u32(s, min, max, &v) < 0)
		return usage_err(c, "%s: not a number in %u..%u: '%s'", opt,
				 min,
				 max, s);
	json_object_set_new(params, key, json_integer((json_int_t)v));
	return 0;
}

/* Optional option with a fixed set of values (struct opt.choices) into
 * params[key], as given. */
static int put_choice(struct call *c, json_t *params, const char *opt,
		      const char *key)
{
	const char *s = opt_val(c, opt), *ch = NULL, *w;
	size_t n;
	int i;

	if (s == NULL)
		return 0;
	for (i = 0; c->cmd->opts[i].name != NULL; i++)
		if (strcmp(c->cmd->opts[i].name, opt) == 0)
			ch = c->cmd->opts[i].choices;
	n = strlen(s);
	for (w = ch; n && w != NULL; w = strchr(w, ' ') ? strchr(w, ' ') + 1 :
	     NULL)
		if (strncmp(w, s, n) == 0 && (w[n] == ' ' || w[n] == '\0')) {
			json_object_set_new(params, key, json_string(s));
			return 0;
		}
	return usage_err(c, "%s: one of %s, not '%s'", opt, ch ? ch : "?", s);
}

static int put_id(struct call *c, json_t *params)
{
	uint32_t id;

	if (sh_parse_u32(c->pos[0], 1, 65535, &id) < 0)
		return usage_err(c, "not a lease id (1..65535): '%s'",
				 c->pos[0]);
	json_object_set_new(params, "id", json_integer((json_int_t)id));
	return 0;
}

/* ---- builders ----------------------------------------------------------- */

static int build_lease_add(struct call *c, json_t *params)
{
	const char *holder = opt_val(c, "--holder");
	const char *clients = opt_val(c, "--clients");
	const char *ip = opt_val(c, "--ip");
	const char *ports = opt_val(c, "--ports");
	const char *size = opt_val(c, "--size");
	bool sock = opt_val(c, "--socket") != NULL;
	uint16_t lo, hi;
	uint32_t addr;
	json_t *arr;
	char range[16];

	if (holder == NULL)
		return usage_err(c, "--holder is required");
	if (*holder == '\0' || strlen(holder) > SHOAL_HOLDER_MAX)
		return usage_err(c, "--holder: 1 to %d bytes", SHOAL_HOLDER_MAX);
	json_object_set_new(params, "holder", json_string(holder));
	if ((clients != NULL) == sock)
		return usage_err(c, "give exactly one of --clients and --socket");
	if (clients != NULL) {
		if (arg_prefix_list(clients, SHOAL_MAX_CLIENTS, &arr) < 0)
			return usage_err(c,
					 "--clients: not 1 to %d prefixes "
					 "A.B.C.D/LEN: '%s'",
					 SHOAL_MAX_CLIENTS, clients);
		json_object_set_new(params, "kind", json_string("nat"));
		json_object_set_new(params, "clients", arr);
	} else {
		json_object_set_new(params, "kind", json_string("socket"));
	}
	if (ip != NULL) {
		if (sh_parse_ipv4(ip, &addr) < 0)
			return usage_err(c, "--ip: not an IPv4 address: '%s'",
					 ip);
		json_object_set_new(params, "ip", json_string(ip));
	}
	if ((ports != NULL) == (size != NULL))
		return usage_err(c, "give exactly one of --ports and --size");
	if (ports != NULL) {
		if (sh_parse_port_range(ports, &lo, &hi) < 0)
			return usage_err(c, "--ports: not a range LO-HI (or "
					    "one port) in 1..65535: '%s'",
					 ports);
		snprintf(range, sizeof(range), "%u-%u", lo, hi);
		json_object_set_new(params, "ports", json_string(range));
	}
	if (put_uint(c, params, "--size", "size", 1, 65535) < 0 ||
	    put_uint(c, params, "--ttl", "ttl", 1, UINT32_MAX) < 0 ||
	    put_choice(c, params, "--mapping", "mapping") < 0 ||
	    put_choice(c, params, "--filtering", "filtering") < 0)
		return -EINVAL;
	if (sock && (opt_val(c, "--mapping") || opt_val(c, "--filtering")))
		return usage_err(c, "--mapping and --filtering are for nat "
				 "leases (--clients), not --socket");
	return 0;
}

static int build_id(struct call *c, json_t *params)
{
	return put_id(c, params);
}

static int build_lease_renew(struct call *c, json_t *params)
{
	if (put_id(c, params) < 0)
		return -EINVAL;
	return put_uint(c, params, "--ttl", "ttl", 1, UINT32_MAX);
}

static int build_flows(struct call *c, json_t *params)
{
	const char *client = opt_val(c, "--client");
	uint32_t addr;

	if (put_uint(c, params, "--lease", "lease", 1, 65535) < 0 ||
	    put_uint(c, params, "--limit", "limit", 1, 10000) < 0)
		return -EINVAL;
	if (client != NULL) {
		if (sh_parse_ipv4(client, &addr) < 0)
			return usage_err(c,
					 "--client: not an IPv4 address: '%s'",
					 client);
		json_object_set_new(params, "client", json_string(client));
	}
	return 0;
}

static int build_lease_history(struct call *c, json_t *params)
{
	const char *ip = opt_val(c, "--ip");
	const char *since = opt_val(c, "--since");
	uint32_t addr;
	int64_t t;

	if (ip != NULL) {
		if (sh_parse_ipv4(ip, &addr) < 0)
			return usage_err(c, "--ip: not an IPv4 address: '%s'",
					 ip);
		json_object_set_new(params, "ip", json_string(ip));
	}
	if (since != NULL) {
		if (arg_time(since, (int64_t)time(NULL), &t) < 0)
			return usage_err(c, "--since: not a time (UNIXTIME, "
					 "-N[smhd] or YYYY-MM-DD[THH:MM[:SS]]"
					 "[Z]): '%s'", since);
		json_object_set_new(params, "since", json_integer(t));
	}
	if (put_uint(c, params, "--port", "port", 1, 65535) < 0 ||
	    put_uint(c, params, "--lease", "lease", 1, 65535) < 0 ||
	    put_uint(c, params, "--before", "before", 1, UINT32_MAX) < 0 ||
	    put_uint(c, params, "--limit", "limit", 1, SHOAL_HISTORY_MAX) < 0)
		return -EINVAL;
	return 0;
}

static int build_engine_upgrade(struct call *c, json_t *params)
{
	const char *binary = opt_val(c, "--binary");

	if (binary == NULL)
		return 0;
	if (binary[0] != '/' || strlen(binary) >= PATH_MAX)
		return usage_err(c, "--binary: not an absolute path: '%s'",
				 binary);
	json_object_set_new(params, "binary", json_string(binary));
	return 0;
}

/* ---- result printers ---------------------------------------------------- */

static const struct pfield lease_fields[] = {
	{ .key = "id", .title = "ID", .type = PF_UINT },
	{ .key = "holder", .title = "HOLDER", .type = PF_STR },
	{ .key = "kind", .title = "KIND", .type = PF_STR },
	{ .key = "state", .title = "STATE", .type = PF_STR },
	{ .key = "static", .title = "STATIC", .type = PF_BOOL,
	  .flags = PF_NOTABLE },
	{ .key = "ip", .title = "IP", .type = PF_STR },
	{ .key = "lo", .key2 = "hi", .title = "PORTS", .type = PF_RANGE },
	{ .key = "clients", .title = "CLIENTS", .type = PF_LIST },
	{ .key = "ttl", .title = "TTL", .type = PF_DURATION,
	  .flags = PF_NOTABLE },
	{ .key = "created", .title = "CREATED", .type = PF_TIME,
	  .flags = PF_NOTABLE },
	{ .key = "expires", .title = "EXPIRES", .type = PF_EXPIRES },
	{ .key = "flows", .title = "FLOWS", .type = PF_UINT },
	{ .key = "mapping", .title = "MAPPING", .type = PF_STR,
	  .flags = PF_NOTABLE },
	{ .key = "filtering", .title = "FILTERING", .type = PF_STR,
	  .flags = PF_NOTABLE },
	{ .key = "mapping", .title = "MAP", .type = PF_INITIALS,
	  .flags = PF_NORECORD },
	{ .key = "filtering", .title = "FILTER", .type = PF_INITIALS,
	  .flags = PF_NORECORD },
	{ 0 },
};

static void show_lease(struct printer *p, json_t *result,
		       const struct call *c)
{
	(void)c;
	print_record(p, result, "lease", lease_fields);
}

static void show_lease_list(struct printer *p, json_t *result,
			    const struct call *c)
{
	(void)c;
	print_table(p, result, "leases", lease_fields);
}

/* [fleet]: the whole fleet's map under the local slices (text), or
 * slice.list's "fleet" object as it came (JSON). */
static void show_fleet_map(struct printer *p, json_t *result)
{
	json_t *fleet = json_object_get(result, "fleet");
	static const struct pfield hosts[] = {
		{ .key = "host", .title = "HOST", .type = PF_STR },
		{ .key = "address", .title = "ADDRESS", .type = PF_STR },
		{ .key = "want", .title = "WANT", .type = PF_UINT },
		{ .key = "have", .title = "HAVE", .type = PF_UINT },
		{ 0 },
	};
	static const struct pfield map[] = {
		{ .key = "ip", .title = "IP", .type = PF_STR },
		{ .key = "lo", .key2 = "hi", .title = "PORTS",
		  .type = PF_RANGE },
		{ .key = "state", .title = "STATE", .type = PF_STR },
		{ .key = "host", .title = "HOST", .type = PF_STR },
		{ .key = "address", .title = "ADDRESS", .type = PF_STR },
		{ .key = "claimable_in", .title = "CLAIMABLE IN",
		  .type = PF_DURATION },
		{ 0 },
	};
	json_int_t valid;

	if (!fleet)
		return;
	if (print_is_json(p)) {
		print_copy(p, result, "fleet");
		return;
	}
	valid = json_integer_value(json_object_get(fleet, "valid_ms"));
	print_note(p, "\nfleet: host %s, etcd %s, ownership proven for %"
		   JSON_INTEGER_FORMAT ".%" JSON_INTEGER_FORMAT " s",
		   json_string_value(json_object_get(fleet, "host")),
		   json_string_value(json_object_get(fleet, "etcd")),
		   valid / 1000, valid % 1000 / 100);
	print_table(p, fleet, "hosts", hosts);
	print_note(p, "%s", "");
	print_table(p, fleet, "map", map);
}

static void show_slices(struct printer *p, json_t *result,
			const struct call *c)
{
	static const struct pfield f[] = {
		{ .key = "ip", .title = "IP", .type = PF_STR },
		{ .key = "lo", .key2 = "hi", .title = "PORTS",
		  .type = PF_RANGE },
		{ .key = "leased", .title = "LEASED", .type = PF_UINT },
		{ .key = "held", .title = "HELD", .type = PF_UINT },
		{ .key = "free", .title = "FREE", .type = PF_UINT },
		{ .key = "holds", .title = "HOLDS", .type = PF_LIST,
		  .flags = PF_NOTABLE },
		{ 0 },
	};
	json_t *s, *h;
	size_t i, j;

	(void)c;
	print_table(p, result, "slices", f);
	if (print_is_json(p)) {
		show_fleet_map(p, result);
		return;
	}
	/* Text: one line per hold under the table. */
	json_array_foreach(json_object_get(result, "slices"), i, s)
		json_array_foreach(json_object_get(s, "holds"), j, h) {
			json_int_t left = json_integer_value(
				json_object_get(h, "until")) - time(NULL);

			print_note(p, "held: %s %" JSON_INTEGER_FORMAT "-%"
				   JSON_INTEGER_FORMAT " left by %s, %"
				   JSON_INTEGER_FORMAT "s more",
				   json_string_value(json_object_get(s, "ip")),
				   json_integer_value(json_object_get(h, "lo")),
				   json_integer_value(json_object_get(h, "hi")),
				   json_string_value(json_object_get(h,
								     "holder")),
				   left > 0 ? left : 0);
		}
	show_fleet_map(p, result);
}

static void show_status(struct printer *p, json_t *result,
			const struct call *c)
{
	static const struct pfield f[] = {
		{ .key = "version", .title = "protocol", .type = PF_STR },
		{ .key = "software", .title = "version", .type = PF_STR },
		{ .key = "pid", .title = "pid", .type = PF_UINT },
		{ .key = "generation", .title = "generation", .type = PF_UINT },
		{ .key = "slices", .title = "slices", .type = PF_STR },
		{ .key = "leases.active", .title = "leases active",
		  .type = PF_UINT },
		{ .key = "leases.draining", .title = "leases draining",
		  .type = PF_UINT },
		{ .key = "engine.connected", .title = "engine connected",
		  .type = PF_BOOL },
		{ .key = "engine.pid", .title = "engine pid", .type = PF_UINT },
		{ .key = "engine.generation", .title = "engine generation",
		  .type = PF_UINT },
		{ .key = "engine.report_age", .title = "engine report age",
		  .type = PF_DURATION },
		{ .key = "engine.refused_generation",
		  .title = "engine refused generation", .type = PF_UINT },
		{ .key = "engine.refused_reason",
		  .title = "engine refused reason", .type = PF_STR },
		{ 0 },
	};

	static const struct pfield fleet[] = {
		{ .key = "host", .title = "fleet host", .type = PF_STR },
		{ .key = "etcd", .title = "fleet etcd", .type = PF_STR },
		{ .key = "valid_ms", .title = "fleet valid ms",
		  .type = PF_UINT },
		{ .key = "owned", .title = "fleet slices owned",
		  .type = PF_UINT },
		{ .key = "hosts", .title = "fleet hosts", .type = PF_UINT },
		{ 0 },
	};

	(void)c;
	print_record(p, result, NULL, f);
	if (json_object_get(result, "fleet"))
		print_record(p, result, "fleet", fleet);
}

static void show_reload(struct printer *p, json_t *result,
			const struct call *c)
{
	static const struct pfield f[] = {
		{ .key = "reloaded", .title = "reloaded", .type = PF_BOOL },
		{ .key = "path", .title = "file", .type = PF_STR },
		{ .key = "generation", .title = "generation", .type = PF_UINT },
		{ .key = "engine", .title = "engine", .type = PF_STR },
		{ 0 },
	};

	(void)c;
	print_record(p, result, NULL, f);
}

/* A number of milliseconds of the upgrade result. */
static double ms_of(json_t *result, const char *key)
{
	return json_number_value(json_object_get(result, key));
}

static void show_upgrade(struct printer *p, json_t *result,
			 const struct call *c)
{
	static const struct pfield f[] = {
		{ .key = "old_pid", .title = "old pid", .type = PF_UINT },
		{ .key = "new_pid", .title = "new pid", .type = PF_UINT },
		{ .key = "binary", .title = "binary", .type = PF_STR },
		{ .key = "eal_ms", .title = "eal ms", .type = PF_STR },
		{ .key = "stop_ms", .title = "stop ms", .type = PF_STR },
		{ .key = "release_ms", .title = "release ms", .type = PF_STR },
		{ .key = "adopt_ms", .title = "adopt ms", .type = PF_STR },
		{ .key = "ports_ms", .title = "ports ms", .type = PF_STR },
		{ .key = "gap_ms", .title = "gap ms", .type = PF_STR },
		{ .key = "flows", .title = "flows", .type = PF_UINT },
		{ .key = "discarded", .title = "discarded", .type = PF_UINT },
		{ 0 },
	};
	char gap[64];

	(void)c;
	if (print_is_json(p)) {
		print_record(p, result, NULL, f);
		return;
	}
	print_note(p, "upgraded: engine pid %" JSON_INTEGER_FORMAT " -> %"
		   JSON_INTEGER_FORMAT " (%s)",
		   json_integer_value(json_object_get(result, "old_pid")),
		   json_integer_value(json_object_get(result, "new_pid")),
		   json_string_value(json_object_get(result, "binary")) ?
		   json_string_value(json_object_get(result, "binary")) : "?");
	if (ms_of(result, "gap_ms") < 0)
		snprintf(gap, sizeof(gap), "gap not measured yet (no packet "
			 "forwarded)");
	else
		snprintf(gap, sizeof(gap), "forwarding gap %.1f ms",
			 ms_of(result, "gap_ms"));
	print_note(p, "%s (stop %.1f, release %.1f, adopt %.1f, ports %.1f; "
		   "EAL %.1f before the switch); %" JSON_INTEGER_FORMAT
		   " flows adopted, %" JSON_INTEGER_FORMAT " discarded", gap,
		   ms_of(result, "stop_ms"), ms_of(result, "release_ms"),
		   ms_of(result, "adopt_ms"), ms_of(result, "ports_ms"),
		   ms_of(result, "eal_ms"),
		   json_integer_value(json_object_get(result, "flows")),
		   json_integer_value(json_object_get(result, "discarded")));
}

static void show_flows(struct printer *p, json_t *result,
		       const struct call *c)
{
	static const struct pfield f[] = {
		{ .key = "proto", .title = "PROTO", .type = PF_STR },
		{ .key = "client", .title = "CLIENT", .type = PF_STR },
		{ .key = "outside", .title = "OUTSIDE", .type = PF_STR },
		{ .key = "remote", .title = "REMOTE", .type = PF_STR },
		{ .key = "lease", .title = "LEASE", .type = PF_UINT },
		{ .key = "idle", .title = "IDLE", .type = PF_DURATION },
		{ .key = "tcp", .title = "TCP", .type = PF_STR },
		{ 0 },
	};
	static const struct pfield trunc = {
		.key = "truncated", .title = "truncated", .type = PF_BOOL,
	};

	(void)c;
	print_table(p, result, "flows", f);
	if (print_is_json(p))
		print_member(p, result, &trunc);
	else if (json_is_true(json_object_get(result, "truncated")))
		print_note(p, "(more flows not shown: raise --limit)");
}

static void show_history(struct printer *p, json_t *result,
			 const struct call *c)
{
	static const struct pfield f[] = {
		{ .key = "seq", .title = "SEQ", .type = PF_UINT },
		{ .key = "time", .title = "TIME", .type = PF_TIME },
		{ .key = "event", .title = "EVENT", .type = PF_STR },
		{ .key = "lease", .title = "LEASE", .type = PF_UINT },
		{ .key = "holder", .title = "HOLDER", .type = PF_STR },
		{ .key = "kind", .title = "KIND", .type = PF_STR },
		{ .key = "ip", .title = "IP", .type = PF_STR },
		{ .key = "lo", .key2 = "hi", .title = "PORTS",
		  .type = PF_RANGE },
		{ .key = "expires", .title = "EXPIRES", .type = PF_TIME },
		{ .key = "uid", .title = "UID", .type = PF_UINT },
		{ .key = "pid", .title = "PID", .type = PF_UINT },
		{ .key = "generation", .title = "GEN", .type = PF_UINT },
		{ .key = "ttl", .title = "TTL", .type = PF_DURATION,
		  .flags = PF_NOTABLE },
		{ 0 },
	};
	static const struct pfield trunc = {
		.key = "truncated", .title = "truncated", .type = PF_BOOL,
	};
	json_t *first = json_array_get(json_object_get(result, "events"), 0);

	(void)c;
	print_table(p, result, "events", f);
	if (print_is_json(p))
		print_member(p, result, &trunc);
	else if (json_is_true(json_object_get(result, "truncated")))
		print_note(p, "(older events not shown: --before %"
			   JSON_INTEGER_FORMAT ")",
			   json_integer_value(json_object_get(first, "seq")));
}

/* Drops first in counters.h order, then events, then names we do not
 * know (a newer engine). */
static int counter_rank(const char *name, const char **kind)
{
	static const char *const drops[] = {
#define _(e, n, d) n,
		SHOAL_FOREACH_DROP(_)
#undef _
	};
	static const char *const events[] = {
#define _(e, n, d) n,
		SHOAL_FOREACH_EVENT(_)
#undef _
	};
	size_t i, nd = sizeof(drops) / sizeof(drops[0]);

	for (i = 0; i < nd; i++)
		if (strcmp(drops[i], name) == 0) {
			*kind = "drop";
			return (int)i;
		}
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (strcmp(events[i], name) == 0) {
			*kind = "event";
			return (int)(nd + i);
		}
	*kind = strncmp(name, "drop", 4) == 0 ? "drop" : "other";
	return 1 << 20;
}

/* The per-worker summary's columns that add up counters (DROPS adds every
 * drop, by counter_rank). */
static const struct {
	const char *key;
	const char *counters[2];
} worker_sums[] = {
	{ "rx", { "rx_inside", "rx_outside" } },
	{ "tx", { "tx_inside", "tx_outside" } },
	{ "handoff_tx", { "handoff_tx" } },
	{ "handoff_rx", { "handoff_rx" } },
};

/* One summary row per element of stats' per_worker, in a new object's
 * "rows": worker, lcore, flows, the worker_sums and drops. */
static json_t *worker_rows(json_t *result)
{
	json_t *rows = json_array(), *w, *counters, *row, *v;
	const char *name, *kind;
	uint64_t sum; /* wraps rather than overflows on absurd counters */
	size_t i, k, m;

	json_array_foreach(json_object_get(result, "per_worker"), i, w) {
		counters = json_object_get(w, "counters");
		row = json_pack("{s:O*,s:O*,s:O*}", "worker",
				json_object_get(w, "worker"), "lcore",
				json_object_get(w, "lcore"), "flows",
				json_object_get(w, "flows"));
		for (k = 0; k < sizeof(worker_sums) / sizeof(worker_sums[0]);
		     k++) {
			const char *const *names = worker_sums[k].counters;

			sum = 0;
			for (m = 0; m < 2 && names[m] != NULL; m++)
				sum += (uint64_t)json_integer_value(
					json_object_get(counters, names[m]));
			json_object_set_new(row, worker_sums[k].key,
					    json_integer((json_int_t)sum));
		}
		sum = 0;
		json_object_foreach(counters, name, v) {
			counter_rank(name, &kind);
			if (strcmp(kind, "drop") == 0)
				sum += (uint64_t)json_integer_value(v);
		}
		json_object_set_new(row, "drops",
				    json_integer((json_int_t)sum));
		json_array_append_new(rows, row);
	}
	return json_pack("{s:o}", "rows", rows);
}

/* Text only: a summary line per worker; with all, every counter that is
 * not zero everywhere, a column per worker. */
static void show_workers(struct printer *p, json_t *result, bool all)
{
	static const struct pfield f[] = {
		{ .key = "worker", .title = "WORKER", .type = PF_UINT },
		{ .key = "lcore", .title = "LCORE", .type = PF_UINT },
		{ .key = "flows", .title = "FLOWS", .type = PF_UINT },
		{ .key = "rx", .title = "RX", .type = PF_UINT },
		{ .key = "tx", .title = "TX", .type = PF_UINT },
		{ .key = "handoff_tx", .title = "HANDOFF_TX", .type = PF_UINT },
		{ .key = "handoff_rx", .title = "HANDOFF_RX", .type = PF_UINT },
		{ .key = "drops", .title = "DROPS", .type = PF_UINT },
		{ 0 },
	};
	json_t *rows = worker_rows(result);

	print_note(p, "%s", "");
	print_table(p, rows, "rows", f);
	json_decref(rows);
	if (!all)
		return;
	print_note(p, "%s", "");
	print_counter_columns(p, result, "per_worker", "worker", "W",
			      "counters", counter_rank);
}

static void show_stats(struct printer *p, json_t *result,
		       const struct call *c)
{
	static const struct pfield workers = {
		.key = "workers", .title = "workers", .type = PF_UINT,
	};
	static const struct pfield flows = {
		.key = "flows", .title = "flows", .type = PF_UINT,
	};
	static const struct pfield age = {
		.key = "report_age", .title = "report age", .type = PF_DURATION,
	};
	static const struct pfield per_worker = {
		.key = "per_worker", .title = "per worker", .type = PF_STR,
	};
	static const struct pfield json_only[] = {
		{ .key = "report_mono_ms", .type = PF_UINT },
		{ .key = "lease_usage", .type = PF_STR },
		{ .key = "lease_usage_partial", .type = PF_BOOL },
		{ .key = "top_clients", .type = PF_STR },
		{ .key = "netlink", .type = PF_STR },
	};
	bool all = opt_val(c, "--all") != NULL;

	print_member(p, result, &workers);
	print_member(p, result, &flows);
	print_member(p, result, &age);
	print_note(p, "%s", "");
	print_counters(p, result, "counters", counter_rank, all);
	/* JSON: the daemon's members as they are (top shows the ones
	 * that need two reports); text: tables made from per_worker. */
	if (print_is_json(p)) {
		print_member(p, result, &per_worker);
		for (size_t i = 0; i < sizeof(json_only) / sizeof(json_only[0]);
		     i++)
			print_member(p, result, &json_only[i]);
	} else if (json_array_size(json_object_get(result, "per_worker")))
		show_workers(p, result, all);
}

/* ---- the table ------------------------------------------------------------ */

static const struct opt lease_add_opts[] = {
	{ "--holder", NULL, "NAME", NULL },
	{ "--clients", NULL, "PFX[,PFX]", NULL },
	{ "--socket", NULL, NULL, NULL },
	{ "--ip", NULL, "IP", NULL },
	{ "--ports", NULL, "LO-HI", NULL },
	{ "--size", NULL, "N", NULL },
	{ "--ttl", NULL, "SECONDS", NULL },
	{ "--mapping", NULL, "M", "endpoint-independent "
	  "address-and-port-dependent" },
	{ "--filtering", NULL, "F", "endpoint-independent address-dependent "
	  "address-and-port-dependent" },
	{ 0 },
};
static const struct opt ttl_opts[] = {
	{ "--ttl", NULL, "SECONDS", NULL },
	{ 0 },
};
static const struct opt flows_opts[] = {
	{ "--lease", NULL, "ID", NULL },
	{ "--client", NULL, "IP", NULL },
	{ "--limit", NULL, "N", NULL },
	{ 0 },
};
static const struct opt history_opts[] = {
	{ "--ip", NULL, "IP", NULL },
	{ "--port", NULL, "PORT", NULL },
	{ "--lease", NULL, "ID", NULL },
	{ "--since", NULL, "TIME", NULL },
	{ "--before", NULL, "SEQ", NULL },
	{ "--limit", NULL, "N", NULL },
	{ 0 },
};
static const struct opt upgrade_opts[] = {
	{ "--binary", NULL, "PATH", NULL },
	{ 0 },
};
static const struct opt stats_opts[] = { { "--all", "-v", NULL, NULL }, { 0 } };
static const struct opt top_opts[] = {
	{ "--interval", "-i", "SECONDS", NULL },
	{ "--count", "-n", "N", NULL },
	{ 0 },
};

const struct cmd cmds[] = {
	{ .words = "status", .args = "",
	  .summary = "Show the daemon, lease and engine summary.",
	  .method = "status", .show = show_status },
	{ .words = "slice list", .args = "",
	  .summary = "List the slices (address, port range) and their use.",
	  .method = "slice.list", .show = show_slices },
	{ .words = "lease add",
	  .args = "--holder NAME (--clients PFX[,PFX] | --socket) [--ip IP] "
		  "(--ports LO-HI | --size N) [--ttl SECONDS] [--mapping M] "
		  "[--filtering F]",
	  .summary = "Lease a port range to a holder: nat for client "
		     "prefixes (mapping: endpoint-independent (default) or "
		     "address-and-port-dependent; filtering: address-dependent "
		     "(default), endpoint-independent or "
		     "address-and-port-dependent), or socket for local "
		     "sockets.",
	  .opts = lease_add_opts, .method = "lease.add",
	  .build = build_lease_add, .show = show_lease },
	{ .words = "lease list", .args = "",
	  .summary = "List every lease, static ones included.",
	  .method = "lease.list", .show = show_lease_list },
	{ .words = "lease show", .args = "ID",
	  .summary = "Show one lease.", .min_pos = 1, .max_pos = 1,
	  .method = "lease.show", .build = build_id, .show = show_lease },
	{ .words = "lease renew", .args = "ID [--ttl SECONDS]",
	  .summary = "Extend a lease (default: by its last ttl).",
	  .opts = ttl_opts, .min_pos = 1, .max_pos = 1,
	  .method = "lease.renew", .build = build_lease_renew,
	  .show = show_lease },
	{ .words = "lease release", .args = "ID",
	  .summary = "Release a lease; it drains while flows remain.",
	  .min_pos = 1, .max_pos = 1, .method = "lease.release",
	  .build = build_id, .show = show_lease },
	{ .words = "lease history",
	  .args = "[--ip IP] [--port PORT] [--lease ID] [--since TIME] "
		  "[--before SEQ] [--limit N]",
	  .summary = "Show the audit history of lease changes (grant, renew, "
		     "release, expire, drained) with who asked, oldest first: "
		     "the latest 100 matching (--limit at most 100; older "
		     "ones with --before). TIME: UNIXTIME, -N[smhd] (ago) or "
		     "YYYY-MM-DD[THH:MM[:SS]][Z] (local, Z: UTC).",
	  .opts = history_opts, .method = "lease.history",
	  .build = build_lease_history, .show = show_history },
	{ .words = "flows", .args = "[--lease ID] [--client IP] [--limit N]",
	  .summary = "List the engine's flows (default limit 100).",
	  .opts = flows_opts, .method = "flows", .build = build_flows,
	  .show = show_flows },
	{ .words = "stats", .args = "[--all | -v]",
	  .summary = "Show the engine's counters, drops first, then a line "
		     "per worker; --all includes zeros and every counter per "
		     "worker.",
	  .opts = stats_opts, .method = "stats", .show = show_stats },
	{ .words = "top", .args = "[-i | --interval SECONDS] [-n | --count N]",
	  .summary = "Live view, refreshed every SECONDS (default 1): "
		     "packets per second per worker and side, drops by "
		     "reason, flows and ports per nat lease with a bar of "
		     "its fill, the busiest clients; q or Ctrl-C quits, -n "
		     "stops after N refreshes. With -j one JSON object per "
		     "refresh; not on a terminal, plain text (one refresh "
		     "unless -n).",
	  .opts = top_opts, .local = local_top },
	{ .words = "reload", .args = "",
	  .summary = "Re-read the configuration file in shoal-ctld and the "
		     "engine: slices, static leases, timeouts, limits, punt "
		     "rates. Flows keep running; a file that cannot be "
		     "applied is refused with FILE:LINE and nothing changes.",
	  .method = "reload", .show = show_reload },
	{ .words = "engine upgrade", .args = "[--binary PATH]",
	  .summary = "Hand the running engine over to a new engine process "
		     "of PATH (absolute; default: the engine's own binary) "
		     "without losing a flow, and show the forwarding gap and "
		     "what it was made of. Root only. If the new process "
		     "fails before the old one released its ports, the old "
		     "one goes on forwarding and the reason is shown.",
	  .opts = upgrade_opts, .method = "engine.upgrade",
	  /* the engine's whole handover, the daemon's wait, and ours */
	  .timeout_ms = SHOAL_UPGRADE_TIMEOUT_MS + 5000,
	  .build = build_engine_upgrade, .show = show_upgrade },
	{ .words = "help", .args = "[COMMAND...]",
	  .summary = "Show usage of all commands or of COMMAND.",
	  .max_pos = -1, .local = local_help },
	{ .words = "__bash-completion", .args = "",
	  .summary = "Print the bash completion script.",
	  .local = local_completion, .hidden = true },
	{ 0 },
};

/* ---- dispatch ------------------------------------------------------------- */

/* Fill c from args (what follows the command words); -EINVAL + c->why. */
static int parse_args(struct call *c, int argc, char **argv)
{
	const struct opt *opts = c->cmd->opts;
	int i, k;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] == '-' && a[1] != '\0' && c->cmd->max_pos >= 0) {
			for (k = 0; opts != NULL && opts[k].name != NULL; k++)
				if (strcmp(opts[k].name, a) == 0 ||
				    (opts[k].alt && strcmp(opts[k].alt, a) == 0))
					break;
			if (opts == NULL || opts[k].name == NULL)
				return usage_err(c, "unknown option '%s'", a);
			if (c->val[k] != NULL)
				return usage_err(c, "%s given twice",
						 opts[k].name);
			if (opts[k].metavar == NULL) {
				c->val[k] = "";
				continue;
			}
			if (i + 1 >= argc)
				return usage_err(c, "%s needs a value (%s)",
						 opts[k].name, opts[k].metavar);
			c->val[k] = argv[++i];
			continue;
		}
		if (c->npos >= POS_MAX ||
		    (c->cmd->max_pos >= 0 && c->npos >= c->cmd->max_pos))
			return usage_err(c, "unexpected argument '%s'", a);
		c->pos[c->npos++] = a;
	}
	if (c->npos < c->cmd->min_pos)
		return usage_err(c, "missing %s", c->cmd->args);
	return 0;
}

/* Print a daemon error: "shoalctl: WORDS: data: message" on stderr, and
 * the error document on stdout with -j. */
static int report_error(struct call *c, json_t *error)
{
	const char *data = json_string_value(json_object_get(error, "data"));
	const char *msg = json_string_value(json_object_get(error, "message"));

	/* A message that only repeats the reason adds nothing. */
	if (msg != NULL && data != NULL && strcmp(msg, data) == 0)
		msg = NULL;
	fprintf(stderr, "shoalctl: %s: %s%s%s\n", c->cmd->words,
		data ? data : "error", msg ? ": " : "", msg ? msg : "");
	if (c->cli->json) {
		json_t *doc = json_pack("{s:O}", "error", error);

		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(doc);
	}
	return EXIT_FAILED;
}

/* A failure on our side of the socket, in the same two forms. */
static int report_local(struct call *c, const char *what, int err)
{
	char msg[512];
	json_t *error;

	if (strcmp(what, "connect") == 0)
		snprintf(msg, sizeof(msg), "cannot connect to %s: %s",
			 c->cli->socket, strerror(-err));
	else if (strcmp(what, "reply") == 0)
		snprintf(msg, sizeof(msg), "bad reply from %s", c->cli->socket);
	else
		snprintf(msg, sizeof(msg), "%s on %s: %s", what, c->cli->socket,
			 err == -ETIMEDOUT ? "no reply in time" :
			 err == -ECONNRESET ? "connection closed" :
					      strerror(-err));
	fprintf(stderr, "shoalctl: %s\n", msg);
	if (c->cli->json) {
		error = json_pack("{s:{s:s,s:s}}", "error", "message", msg,
				  "data", what);
		json_dumpf(error, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(error);
	}
	return EXIT_FAILED;
}

static int call_daemon(struct call *c)
{
	json_t *params = json_object(), *result, *error;
	struct printer *p;
	const char *what;
	int rc;

	if (params == NULL)
		return EXIT_FAILED;
	if (c->cmd->build != NULL && c->cmd->build(c, params) < 0) {
		json_decref(params);
		fprintf(stderr, "shoalctl: %s: %s\n", c->cmd->words, c->why);
		usage_line(stderr, "usage: ", c->cmd);
		return EXIT_USAGE;
	}
	rc = rpc_call(c->cli->socket, c->cmd->method, params,
		      c->cmd->timeout_ms ? c->cmd->timeout_ms :
		      SHOALCTL_TIMEOUT_MS, &result, &error, &what);
	json_decref(params);
	if (rc < 0)
		return report_local(c, what, rc);
	if (rc > 0) {
		rc = report_error(c, error);
		json_decref(error);
		return rc;
	}
	p = print_new(stdout, c->cli->json);
	if (p == NULL) {
		json_decref(result);
		return EXIT_FAILED;
	}
	c->cmd->show(p, result, c);
	json_decref(result);
	return print_finish(p) < 0 ? EXIT_FAILED : EXIT_OK;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	const struct cmd *cmd, *best = NULL;
	size_t best_n = 0, n;
	struct call *c;
	int rc, i, nw;

	if (argc == 0) {
		fprintf(stderr, "shoalctl: no command\n");
		cmd_usage(stderr);
		return EXIT_USAGE;
	}
	/* The command whose words all match the leading arguments. */
	for (cmd = cmds; cmd->words != NULL; cmd++) {
		for (nw = 1, n = 0; cmd->words[n]; n++)
			nw += cmd->words[n] == ' ';
		if (nw <= argc && words_prefix(cmd, argv, nw) &&
		    (size_t)nw > best_n) {
			best = cmd;
			best_n = (size_t)nw;
		}
	}
	if (best == NULL) {
		/* A known group ("lease") with a missing or unknown verb. */
		for (i = argc; i > 0; i--) {
			bool any = false;

			for (cmd = cmds; cmd->words != NULL; cmd++)
				if (!cmd->hidden && words_prefix(cmd, argv, i))
					any = true;
			if (any)
				break;
		}
		if (i < argc)
			fprintf(stderr, "shoalctl: unknown command '%s'\n",
				argv[i]);
		else
			fprintf(stderr, "shoalctl: incomplete command\n");
		if (i == 0) {
			cmd_usage(stderr);
			fprintf(stderr, "try 'shoalctl help'\n");
			return EXIT_USAGE;
		}
		nw = 0;
		for (cmd = cmds; cmd->words != NULL; cmd++)
			if (!cmd->hidden && words_prefix(cmd, argv, i))
				usage_line(stderr, nw++ ? "       " : "usage: ",
					   cmd);
		return EXIT_USAGE;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return EXIT_FAILED;
	c->cmd = best;
	c->cli = cli;
	if (parse_args(c, argc - (int)best_n, argv + best_n) < 0) {
		fprintf(stderr, "shoalctl: %s: %s\n", best->words, c->why);
		usage_line(stderr, "usage: ", best);
		free(c);
		return EXIT_USAGE;
	}
	rc = best->local != NULL ? best->local(c) : call_daemon(c);
	free(c);
	return rc;
}
