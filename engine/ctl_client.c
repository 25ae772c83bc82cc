/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <shoal/proto.h>

#include "ctl_client.h"
#include "log.h"
#include "rcu.h"
#include "stats.h"
#include "nat/flow_lookup.h"
#include "nat/pkt.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define REPORT_MS 1000
#define OUTBUF_MAX (4 * SHOAL_MSG_MAX)
#define SUBSCRIBE_ID 1
/* A flows reply must fit one protocol line: stop adding flows before it
 * could outgrow it and say "truncated". */
#define FLOWS_BUDGET (SHOAL_MSG_MAX - 4096)

struct sh_ctl {
	const struct sh_config *cfg;
	struct sh_worker *workers;
	unsigned n_workers;
	struct rte_rcu_qsbr *qsbr;
	const struct nat_lease_set *initial; /* the config's; never freed */
	struct nat_lease_set *current;       /* published by us, or NULL */
	int fd;
	bool subscribed;
	uint64_t generation;   /* last applied */
	uint64_t retry_at;     /* ms, monotonic */
	uint32_t backoff;      /* ms */
	uint64_t report_at;    /* ms */
	char *in; /* SHOAL_ENGINE_MSG_MAX + 1 */
	size_t in_len;
	char *out;
	size_t out_len;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

RTE_LOG_REGISTER_SUFFIX(sh_logtype_ctl, ctl, INFO);

struct sh_ctl *sh_ctl_create(const struct sh_config *cfg,
			     struct sh_worker *workers, unsigned n_workers,
			     struct rte_rcu_qsbr *qsbr,
			     const struct nat_lease_set *initial)
{
	struct sh_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->out = malloc(OUTBUF_MAX);
	c->in = malloc(SHOAL_ENGINE_MSG_MAX + 1);
	if (!c->out || !c->in) {
		free(c->out);
		free(c->in);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->cfg = cfg;
	c->workers = workers;
	c->n_workers = n_workers;
	c->qsbr = qsbr;
	c->initial = initial;
	c->fd = -1;
	c->backoff = BACKOFF_MIN_MS;
	return c;
}

int sh_ctl_fd(const struct sh_ctl *c)
{
	return c->fd;
}

static void disconnect(struct sh_ctl *c, const char *why)
{
	if (c->fd >= 0) {
		close(c->fd);
		SH_LOG(WARNING, ctl, "disconnected from shoal-ctld (%s); "
		       "forwarding goes on with the last lease set\n", why);
	}
	c->fd = -1;
	c->subscribed = false;
	c->in_len = 0;
	c->out_len = 0;
	c->retry_at = now_ms() + c->backoff;
	c->backoff = c->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff * 2;
}

/* Queue one JSON-RPC line; false when the output buffer is full. */
static bool send_json(struct sh_ctl *c, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	size_t n;
	bool ok = false;

	json_decref(msg);
	if (!s)
		return false;
	n = strlen(s);
	if (n + 1 <= SHOAL_MSG_MAX && c->out_len + n + 1 <= OUTBUF_MAX) {
		memcpy(c->out + c->out_len, s, n);
		c->out[c->out_len + n] = '\n';
		c->out_len += n + 1;
		ok = true;
	}
	free(s);
	return ok;
}

static void flush_out(struct sh_ctl *c)
{
	while (c->fd >= 0 && c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				disconnect(c, strerror(errno));
			return;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
}

static void try_connect(struct sh_ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strnlen(c->cfg->ctl_socket, sizeof(sa.sun_path));
	int fd;

	/* The config parser bounds ctl_socket to sun_path already. */
	memcpy(sa.sun_path, c->cfg->ctl_socket,
	       len < sizeof(sa.sun_path) ? len : sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		c->retry_at = now_ms() + c->backoff;
		c->backoff = c->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							     : c->backoff * 2;
		return;
	}
	c->fd = fd;
	send_json(c, json_pack("{s:s, s:i, s:s, s:{s:i}}", "jsonrpc", "2.0", "id",
			       SUBSCRIBE_ID, "method", "engine.subscribe",
			       "params", "version", SHOAL_PROTO_VERSION));
	flush_out(c);
}

/* Make @ls the workers' lease set and free the one it replaces. */
static void publish(struct sh_ctl *c, struct nat_lease_set *ls)
{
	struct nat_lease_set *old = c->current;

	c->current = ls;
	sh_rcu_publish(c->qsbr, &c->workers[0].leases, sizeof(c->workers[0]),
		       c->n_workers, ls);
	free(old);
}

static int parse_lease(struct nat_lease_set *ls, json_t *l)
{
	struct sh_prefix clients[SH_CFG_MAX_CLIENT_PFX];
	const char *holder, *kind, *ip, *state;
	json_int_t id, lo, hi;
	json_t *cl = NULL, *v;
	unsigned n = 0;
	uint32_t addr;
	size_t i;

	if (json_unpack(l, "{s:I, s:s, s:s, s:s, s:I, s:I, s:s, s?o}", "id", &id,
			"holder", &holder, "kind", &kind, "ip", &ip, "lo", &lo,
			"hi", &hi, "state", &state, "clients", &cl) < 0 ||
	    sh_parse_ipv4(ip, &addr) < 0 || lo < 1 || hi > 65535 || lo > hi)
		return -EINVAL;
	if (cl && json_is_array(cl)) {
		json_array_foreach(cl, i, v) {
			if (n == SH_CFG_MAX_CLIENT_PFX || !json_is_string(v) ||
			    sh_parse_prefix(json_string_value(v), &clients[n], NULL) < 0)
				return -EINVAL;
			n++;
		}
	}
	return nat_lease_set_add(ls, (uint32_t)id, holder,
				 strcmp(kind, "socket") == 0 ? SH_LEASE_SOCKET
							    : SH_LEASE_NAT,
				 strcmp(state, "active") == 0 ? NAT_LEASE_ACTIVE
							     : NAT_LEASE_DRAINING,
				 htonl(addr), (uint16_t)lo, (uint16_t)hi, clients, n);
}

/* A whole lease set from the daemon: validate everything, then publish. */
static void apply_leases(struct sh_ctl *c, json_t *params)
{
	struct nat_lease_set *ls;
	json_int_t gen;
	json_t *leases, *l;
	size_t i;

	if (json_unpack(params, "{s:I, s:o}", "generation", &gen, "leases",
			&leases) < 0 || !json_is_array(leases)) {
		SH_LOG(WARNING, ctl, "ignoring a malformed lease set\n");
		return;
	}
	if (c->subscribed && (uint64_t)gen == c->generation)
		return;
	ls = malloc(sizeof(*ls));
	if (!ls)
		return;
	nat_lease_set_begin(ls, c->cfg, (uint64_t)gen);
	json_array_foreach(leases, i, l) {
		if (parse_lease(ls, l) < 0) {
			SH_LOG(WARNING, ctl, "ignoring lease set %lld: invalid lease %zu\n",
			       (long long)gen, i);
			free(ls);
			return;
		}
	}
	nat_lease_set_finish(ls);
	publish(c, ls);
	if (!c->subscribed)
		SH_LOG(INFO, ctl, "subscribed to shoal-ctld at %s\n",
		       c->cfg->ctl_socket);
	c->generation = (uint64_t)gen;
	c->subscribed = true;
	c->backoff = BACKOFF_MIN_MS;
}

static uint64_t lease_flows(const struct sh_ctl *c, uint32_t id)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < c->n_workers; i++)
		sum += __atomic_load_n(&c->workers[i].nat->lease_flows[id],
				       __ATOMIC_RELAXED);
	return sum;
}

static void report(struct sh_ctl *c)
{
	const struct nat_lease_set *ls =
		c->current ? c->current : c->initial;
	json_t *counters = json_object(), *leases = json_array();
	unsigned i;

	for (i = SH_DROP_FIRST; i < SH_COUNTER_MAX; i++)
		if (i != SH_DROP_MAX_)
			json_object_set_new(counters, sh_counter_name(i),
				json_integer((json_int_t)sh_stats_sum(
					c->workers, c->n_workers, i)));
	for (i = 0; i < ls->n_leases; i++)
		json_array_append_new(leases, json_pack("{s:I, s:I}", "id",
			(json_int_t)ls->leases[i].id, "flows",
			(json_int_t)lease_flows(c, ls->leases[i].id)));
	send_json(c, json_pack("{s:s, s:s, s:{s:I, s:i, s:o, s:o}}", "jsonrpc",
			       "2.0", "method", "engine.report", "params",
			       "generation", (json_int_t)c->generation,
			       "workers", (int)c->n_workers, "counters", counters,
			       "leases", leases));
}

static const char *proto_name(uint8_t p)
{
	return p == NAT_PROTO_TCP ? "tcp" : p == NAT_PROTO_UDP ? "udp" : "icmp";
}

static json_t *endpoint(uint32_t ip, uint16_t port)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, a, sizeof(a));
	return json_sprintf("%s:%u", a, nat_be16(port));
}

/*
 * engine.flows: the workers' flow tables read from the main lcore without
 * locks. A flow being created or removed at that instant may show up
 * half-written; that is acceptable for a diagnostic listing and costs the
 * packet path nothing.
 */
static void answer_flows(struct sh_ctl *c, json_t *id, json_t *params)
{
	json_int_t lease = 0, limit = 100;
	const char *client = NULL;
	uint32_t caddr = 0;
	json_t *flows = json_array();
	bool truncated = false;
	size_t size = 0;
	unsigned w, n = 0;

	json_unpack(params, "{s?I, s?s, s?I}", "lease", &lease, "client", &client,
		    "limit", &limit);
	if (client && sh_parse_ipv4(client, &caddr) == 0)
		caddr = htonl(caddr);
	if (limit < 1 || limit > 10000)
		limit = 100;
	for (w = 0; w < c->n_workers && !truncated; w++) {
		const struct nat_worker *nw = c->workers[w].nat;
		uint32_t i;

		for (i = 0; i < nw->t.max_flows; i++) {
			struct nat_flow f = nw->t.flows[i];
			const char *tcp = NULL;

			if (!f.proto || (lease && f.lease != lease) ||
			    (client && f.in_ip != caddr))
				continue;
			if (n == limit || size > FLOWS_BUDGET) {
				truncated = true;
				break;
			}
			if (f.proto == NAT_PROTO_TCP)
				tcp = nat_flow_class(&f) == NAT_TO_TCP_EST ? "established"
				      : f.tcp & (NAT_TCP_FIN | NAT_TCP_RST) ? "closing"
									      : "syn";
			json_array_append_new(flows, json_pack(
				"{s:s, s:o, s:o, s:o, s:i, s:f, s:s*}",
				"proto", proto_name(f.proto),
				"client", endpoint(f.in_ip, f.in_port),
				"outside", endpoint(f.out_ip, f.out_port),
				"remote", endpoint(f.rem_ip, f.rem_port),
				"lease", (int)f.lease,
				"idle", (double)(uint32_t)(nw->now - f.last_seen) / 1000.0,
				"tcp", tcp));
			size += 160; /* a generous bound on one FLOW's JSON */
			n++;
		}
	}
	send_json(c, json_pack("{s:s, s:O, s:{s:o, s:b}}", "jsonrpc", "2.0", "id",
			       id, "result", "flows", flows, "truncated",
			       truncated));
}

static void handle_line(struct sh_ctl *c, const char *line)
{
	json_t *msg = json_loads(line, 0, NULL), *id, *params;
	const char *method = NULL;

	if (!msg) {
		SH_LOG(WARNING, ctl, "ignoring a line that is not JSON\n");
		return;
	}
	id = json_object_get(msg, "id");
	params = json_object_get(msg, "params");
	json_unpack(msg, "{s?s}", "method", &method);
	if (!method && id && json_integer_value(id) == SUBSCRIBE_ID) {
		json_t *result = json_object_get(msg, "result");

		if (result)
			apply_leases(c, result);
		else
			SH_LOG(ERR, ctl, "shoal-ctld refused the subscription: %s\n",
			       json_string_value(json_object_get(
				       json_object_get(msg, "error"), "data")));
	} else if (method && strcmp(method, "leases.update") == 0 && params) {
		apply_leases(c, params);
	} else if (method && strcmp(method, "engine.flows") == 0 && id) {
		answer_flows(c, id, params ? params : json_object());
	}
	json_decref(msg);
}

static void read_in(struct sh_ctl *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len,
				 SHOAL_ENGINE_MSG_MAX - c->in_len, MSG_DONTWAIT);
		char *start, *nl;

		if (n == 0)
			return disconnect(c, "closed by the daemon");
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				disconnect(c, strerror(errno));
			return;
		}
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		start = c->in;
		while ((nl = strchr(start, '\n'))) {
			*nl = '\0';
			handle_line(c, start);
			if (c->fd < 0)
				return;
			start = nl + 1;
		}
		c->in_len -= (size_t)(start - c->in);
		memmove(c->in, start, c->in_len);
		if (c->in_len == SHOAL_ENGINE_MSG_MAX)
			return disconnect(c, "line over the protocol limit");
	}
}

int sh_ctl_service(struct sh_ctl *c)
{
	uint64_t now = now_ms();

	if (c->fd < 0) {
		if (now >= c->retry_at)
			try_connect(c);
		if (c->fd < 0)
			return 0;
	}
	read_in(c);
	if (c->fd >= 0 && c->subscribed && now >= c->report_at) {
		report(c);
		c->report_at = now + REPORT_MS;
	}
	flush_out(c);
	return 0;
}

void sh_ctl_destroy(struct sh_ctl *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->current);
	free(c->out);
	free(c->in);
	free(c);
}
