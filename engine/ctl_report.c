/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/proto.h>

#include "ctl_link.h"
#include "ctl_report.h"
#include "stats.h"
#include "nat/flow_list.h"

/* A flows reply must fit one protocol line: stop adding flows before it
 * could outgrow it and say "truncated". */
#define FLOWS_BUDGET (SHOAL_MSG_MAX - 4096)
/* What a report's lease list may take of its line: only leases with
 * flows, ports or refusals are listed (SHOAL_MAX_LEASES entries of up to
 * 120 bytes would not fit), at least 136 of them; more are left out and
 * the report says "leases_partial". */
#define REPORT_LEASES_BYTES 16384
/* The busiest clients: SHOAL_TOP_CLIENTS entries of at most
 * {"client":"255.255.255.255","flows":4294967295,"outside":"255.255.255.255"}, */
#define REPORT_CLIENTS_BYTES (SHOAL_TOP_CLIENTS * 80)
/* What per_worker may take: the rest of the line holds the summed
 * counters (~2 KiB), the envelope, the lease list and the clients. */
#define REPORT_WORKERS_BYTES \
	(SHOAL_MSG_MAX - 8192 - REPORT_LEASES_BYTES - REPORT_CLIENTS_BYTES)

static uint64_t lease_flows(const struct sh_worker *workers, unsigned n,
			    uint32_t id)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		sum += nat_lease_flows(workers[i].nat, id);
	return sum;
}

/* Every counter of @workers[0..@n) summed, as a JSON object. */
static json_t *counters_json(const struct sh_worker *workers, unsigned n)
{
	json_t *counters = json_object();
	unsigned c;

	for (c = SH_DROP_FIRST; c < SH_COUNTER_MAX; c++)
		if (c != SH_DROP_MAX_)
			json_object_set_new(counters, sh_counter_name(c),
				json_integer((json_int_t)sh_stats_sum(
					workers, n, c)));
	return counters;
}

/*
 * One worker's non-zero counters, within its share of the report line: a
 * report must fit SHOAL_MSG_MAX (the daemon relays its figures to CLI
 * clients under that limit), and 64 workers' full counter sets would not.
 * Drops come first in the list, so they are the last to be left out; the
 * sums in "counters" are always complete. *@cut tells that some were.
 */
static json_t *worker_counters_json(const struct sh_worker *wk, unsigned n,
				    bool *cut)
{
	size_t budget = REPORT_WORKERS_BYTES / n, used = 0;
	json_t *counters = json_object();
	unsigned c;

	for (c = SH_DROP_FIRST; c < SH_COUNTER_MAX; c++) {
		uint64_t v = c == SH_DROP_MAX_ ? 0 : sh_stats_get(wk, c);

		if (!v)
			continue;
		/* "name": value, with the value's 20 digits at most */
		used += strlen(sh_counter_name(c)) + 24;
		if (used > budget) {
			*cut = true;
			break;
		}
		json_object_set_new(counters, sh_counter_name(c),
				    json_integer((json_int_t)v));
	}
	return counters;
}

/* What the workers hold of one lease. */
struct lease_use {
	uint64_t flows, tcp_ports, udp_ports, exhausted;
};

static struct lease_use lease_use(const struct sh_worker *workers, unsigned n,
				  uint32_t id)
{
	struct lease_use u = { .flows = lease_flows(workers, n, id) };
	unsigned i;

	for (i = 0; i < n; i++) {
		u.tcp_ports += nat_lease_ports(workers[i].nat, id, IPPROTO_TCP);
		u.udp_ports += nat_lease_ports(workers[i].nat, id, IPPROTO_UDP);
		u.exhausted += nat_lease_exhausted(workers[i].nat, id);
	}
	return u;
}

/* Bytes of lease entry @id (lease_json), with its comma. */
static size_t lease_entry_bytes(uint32_t id, const struct lease_use *u)
{
	char buf[128];

	return (size_t)snprintf(buf, sizeof(buf),
				"{\"id\":%u,\"flows\":%" PRIu64
				",\"tcp_ports\":%" PRIu64
				",\"udp_ports\":%" PRIu64
				",\"exhausted\":%" PRIu64 "},", id, u->flows,
				u->tcp_ports, u->udp_ports, u->exhausted);
}

/* {"id", "flows"} and the ports and exhausted keys that are not zero
 * (proto.h). */
static json_t *lease_json(uint32_t id, const struct lease_use *u)
{
	json_t *l = json_pack("{s:I, s:I}", "id", (json_int_t)id, "flows",
			      (json_int_t)u->flows);

	if (l && u->tcp_ports)
		json_object_set_new(l, "tcp_ports",
				    json_integer((json_int_t)u->tcp_ports));
	if (l && u->udp_ports)
		json_object_set_new(l, "udp_ports",
				    json_integer((json_int_t)u->udp_ports));
	if (l && u->exhausted)
		json_object_set_new(l, "exhausted",
				    json_integer((json_int_t)u->exhausted));
	return l;
}

static int client_cmp(const void *a, const void *b)
{
	const struct nat_client_use *x = a, *y = b;

	return x->flows > y->flows ? -1 : x->flows < y->flows;
}

/*
 * The SHOAL_TOP_CLIENTS clients with the most flows over all workers.
 * A client's flows spread over workers (RSS), so: 1. each worker's own
 * busiest SHOAL_TOP_CLIENTS are the candidates; 2. each candidate's
 * flows are summed over every worker; 3. the best candidates are kept.
 * A client missing from every worker's own list is left out even if its
 * sum would rank, which needs a spread far from what RSS gives.
 */
static json_t *clients_json(const struct sh_worker *workers, unsigned n)
{
	struct nat_client_use cand[SHOAL_MAX_WORKERS * SHOAL_TOP_CLIENTS];
	struct nat_client_use top[SHOAL_TOP_CLIENTS];
	unsigned nc = 0, i, j, k, got;
	json_t *arr = json_array();
	char a[INET_ADDRSTRLEN], o[INET_ADDRSTRLEN];

	for (i = 0; i < n && i < SHOAL_MAX_WORKERS; i++) {
		got = nat_client_top(workers[i].nat, top, SHOAL_TOP_CLIENTS);
		for (j = 0; j < got; j++) {
			for (k = 0; k < nc && cand[k].ip != top[j].ip; k++)
				;
			if (k == nc)
				cand[nc++] = top[j];
		}
	}
	for (k = 0; k < nc && n > 1; k++)
		for (cand[k].flows = 0, i = 0; i < n; i++)
			cand[k].flows += nat_client_flows_read(workers[i].nat,
							       cand[k].ip);
	qsort(cand, nc, sizeof(cand[0]), client_cmp);
	for (k = 0; k < nc && k < SHOAL_TOP_CLIENTS; k++) {
		if (!cand[k].flows)
			break;
		inet_ntop(AF_INET, &cand[k].ip, a, sizeof(a));
		inet_ntop(AF_INET, &cand[k].out_ip, o, sizeof(o));
		json_array_append_new(arr, json_pack("{s:s, s:I, s:s}",
			"client", a, "flows", (json_int_t)cand[k].flows,
			"outside", o));
	}
	return arr;
}

json_t *ctl_report_msg(const struct sh_worker *workers, unsigned n,
		       const struct ctl_leases *st,
		       const struct sh_nl_stats *nl)
{
	const struct nat_lease_set *ls = ctl_leases_current(st);
	json_t *leases = json_array(), *per_worker = json_array(), *msg;
	bool partial = false;
	size_t used = 0;
	unsigned i;

	/* Leases without flows, ports or refusals are left out: the daemon
	 * reads a complete list's absentees as 0 (proto.h engine.report). */
	for (i = 0; i < ls->n_leases && !partial; i++) {
		struct lease_use u = lease_use(workers, n, ls->leases[i].id);

		if (!u.flows && !u.tcp_ports && !u.udp_ports && !u.exhausted)
			continue;
		used += lease_entry_bytes(ls->leases[i].id, &u);
		if (used > REPORT_LEASES_BYTES) {
			partial = true;
			break;
		}
		json_array_append_new(leases, lease_json(ls->leases[i].id, &u));
	}
	for (i = 0; i < n; i++) {
		bool cut = false;
		json_t *w = json_pack("{s:i, s:i, s:I, s:o}",
			"worker", (int)i, "lcore", (int)workers[i].lcore,
			"flows", (json_int_t)nat_flow_count(workers[i].nat),
			"counters", worker_counters_json(&workers[i], n, &cut));

		if (w && cut)
			json_object_set_new(w, "partial", json_true());
		json_array_append_new(per_worker, w);
	}
	msg = json_pack("{s:s, s:s, s:{s:I, s:i, s:o, s:o, s:o, s:o, "
			"s:{s:I, s:I}}}",
			"jsonrpc", "2.0", "method", "engine.report", "params",
			"generation", (json_int_t)st->generation,
			"workers", (int)n, "counters", counters_json(workers, n),
			"leases", leases, "per_worker", per_worker,
			"clients", clients_json(workers, n),
			"netlink", "overruns", (json_int_t)nl->overruns,
			"resyncs", (json_int_t)nl->resyncs);
	if (msg && partial)
		json_object_set_new(json_object_get(msg, "params"),
				    "leases_partial", json_true());
	if (msg && st->cfg->fleet.enabled)
		json_object_set_new(json_object_get(msg, "params"), "fleet",
			json_pack("{s:b, s:I}", "fenced",
				  st->fenced || !st->received,
				  "valid_ms", (json_int_t)ctl_leases_valid_ms(
					  st, ctl_now_ms())));
	if (msg && st->refused_reason) {
		json_t *params = json_object_get(msg, "params");

		json_object_set_new(params, "refused_generation",
				    json_integer((json_int_t)st->refused_gen));
		json_object_set_new(params, "refused_reason",
				    json_string(st->refused_reason));
	}
	return msg;
}

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : "icmp";
}

static const char *tcp_state(const struct nat_flow_info *fi)
{
	if (fi->flow.proto != IPPROTO_TCP)
		return NULL;
	if (fi->class == NAT_TO_TCP_EST)
		return "established";
	return fi->flow.tcp & (NAT_TCP_FIN | NAT_TCP_RST) ? "closing" : "syn";
}

static json_t *endpoint(uint32_t ip, uint16_t port)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, a, sizeof(a));
	return json_sprintf("%s:%u", a, ntohs(port));
}

/* One engine.flows request being answered, across workers. */
struct flows_query {
	json_int_t lease, limit; /* as sent; lease 0: any */
	const char *client;      /* as sent, or NULL: any */
	uint32_t caddr;          /* @client parsed, network order */
	unsigned n;
	size_t size; /* bound on the JSON added so far */
	bool truncated;
	json_t *flows;
};

static bool add_flow(const struct nat_flow_info *fi, void *arg)
{
	struct flows_query *q = arg;
	const struct nat_flow *f = &fi->flow;

	if ((q->lease && f->lease != q->lease) ||
	    (q->client && f->in_ip != q->caddr))
		return true;
	if (q->n == q->limit || q->size > FLOWS_BUDGET) {
		q->truncated = true;
		return false;
	}
	json_array_append_new(q->flows, json_pack(
		"{s:s, s:o, s:o, s:o, s:i, s:f, s:s*}",
		"proto", proto_name(f->proto),
		"client", endpoint(f->in_ip, f->in_port),
		"outside", endpoint(f->out_ip, f->out_port),
		"remote", endpoint(f->rem_ip, f->rem_port),
		"lease", (int)f->lease,
		"idle", (double)fi->idle_ms / 1000.0,
		"tcp", tcp_state(fi)));
	q->size += 160; /* a generous bound on one flow's JSON */
	q->n++;
	return true;
}

json_t *ctl_flows_reply(const struct sh_worker *workers, unsigned n,
			json_t *id, json_t *params)
{
	struct flows_query q = { .limit = 100, .flows = json_array() };
	unsigned w;

	json_unpack(params, "{s?I, s?s, s?I}", "lease", &q.lease, "client",
		    &q.client, "limit", &q.limit);
	if (q.client && sh_parse_ipv4(q.client, &q.caddr) == 0)
		q.caddr = htonl(q.caddr);
	if (q.limit < 1 || q.limit > 10000)
		q.limit = 100;
	for (w = 0; w < n && !q.truncated; w++)
		nat_flow_walk(workers[w].nat, add_flow, &q);
	return json_pack("{s:s, s:O, s:{s:o, s:b}}", "jsonrpc", "2.0", "id",
			 id, "result", "flows", q.flows, "truncated",
			 q.truncated);
}
