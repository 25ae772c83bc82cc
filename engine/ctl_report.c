/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>

#include <shoal/proto.h>

#include "ctl_report.h"
#include "stats.h"
#include "nat/flow_list.h"

/* A flows reply must fit one protocol line: stop adding flows before it
 * could outgrow it and say "truncated". */
#define FLOWS_BUDGET (SHOAL_MSG_MAX - 4096)

static uint64_t lease_flows(const struct sh_worker *workers, unsigned n,
			    uint32_t id)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		sum += nat_lease_flows(workers[i].nat, id);
	return sum;
}

json_t *ctl_report_msg(const struct sh_worker *workers, unsigned n,
		       const struct nat_lease_set *ls, uint64_t generation)
{
	json_t *counters = json_object(), *leases = json_array();
	unsigned i;

	for (i = SH_DROP_FIRST; i < SH_COUNTER_MAX; i++)
		if (i != SH_DROP_MAX_)
			json_object_set_new(counters, sh_counter_name(i),
				json_integer((json_int_t)sh_stats_sum(
					workers, n, i)));
	for (i = 0; i < ls->n_leases; i++)
		json_array_append_new(leases, json_pack("{s:I, s:I}", "id",
			(json_int_t)ls->leases[i].id, "flows",
			(json_int_t)lease_flows(workers, n, ls->leases[i].id)));
	return json_pack("{s:s, s:s, s:{s:I, s:i, s:o, s:o}}", "jsonrpc",
			 "2.0", "method", "engine.report", "params",
			 "generation", (json_int_t)generation,
			 "workers", (int)n, "counters", counters,
			 "leases", leases);
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
