/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_leases.h"
#include "ctl_link.h"
#include "log.h"
#include "rcu.h"

/* A LEASE's optional behaviour key @key: absent or null leaves *@out at
 * its default; anything but a known spelling is -EINVAL. */
static int parse_behaviour(json_t *l, const char *key, int *out,
			   int (*parse)(const char *s, int *v))
{
	json_t *v = json_object_get(l, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	return parse(json_string_value(v), out);
}

static int mapping_of(const char *s, int *v)
{
	enum sh_mapping m;

	if (sh_parse_mapping(s, &m))
		return -EINVAL;
	*v = (int)m;
	return 0;
}

static int filtering_of(const char *s, int *v)
{
	enum sh_filtering f;

	if (sh_parse_filtering(s, &f))
		return -EINVAL;
	*v = (int)f;
	return 0;
}

static int parse_lease(struct nat_lease_set *ls, json_t *l)
{
	int mapping = SH_MAPPING_EIM, filtering = SH_FILTERING_ADF;
	struct sh_prefix clients[SH_CFG_MAX_CLIENT_PFX];
	const char *holder, *kind, *ip, *state;
	struct nat_lease_spec s;
	json_int_t id, lo, hi;
	json_t *cl = NULL, *v;
	unsigned n = 0;
	uint32_t addr;
	size_t i;

	if (json_unpack(l, "{s:I, s:s, s:s, s:s, s:I, s:I, s:s, s?o}", "id", &id,
			"holder", &holder, "kind", &kind, "ip", &ip, "lo", &lo,
			"hi", &hi, "state", &state, "clients", &cl) < 0 ||
	    sh_parse_ipv4(ip, &addr) < 0 || lo < 1 || hi > 65535 || lo > hi ||
	    parse_behaviour(l, "mapping", &mapping, mapping_of) < 0 ||
	    parse_behaviour(l, "filtering", &filtering, filtering_of) < 0)
		return -EINVAL;
	if (cl && json_is_array(cl)) {
		json_array_foreach(cl, i, v) {
			if (n == SH_CFG_MAX_CLIENT_PFX || !json_is_string(v) ||
			    sh_parse_prefix(json_string_value(v), &clients[n], NULL) < 0)
				return -EINVAL;
			n++;
		}
	}
	s = (struct nat_lease_spec){
		.id = (uint32_t)id,
		.name = holder,
		.kind = strcmp(kind, "socket") == 0 ? SH_LEASE_SOCKET
						   : SH_LEASE_NAT,
		.state = strcmp(state, "active") == 0 ? NAT_LEASE_ACTIVE
						     : NAT_LEASE_DRAINING,
		.mapping = (enum sh_mapping)mapping,
		.filtering = (enum sh_filtering)filtering,
		.ip = htonl(addr),
		.lo = (uint16_t)lo,
		.hi = (uint16_t)hi,
		.clients = clients,
		.n_clients = n,
	};
	return nat_lease_set_add(ls, &s);
}

/* A fleet entry's "host": what the configuration allows as a name
 * (1 .. SH_CFG_NAME_LEN - 1 characters); only its equality to ours
 * matters. */
static bool host_ok(const char *h)
{
	size_t n = strlen(h);

	return n > 0 && n < SH_CFG_NAME_LEN;
}

/*
 * The "fleet" object of a set (docs/FLEET.md "Daemon and engine") into
 * @ls's owner table, and its valid_ms into *@valid_ms. Every slice must
 * be exactly one slice of the pool, listed once, with a host and a
 * dotted-quad address; a slice of this host's name is ours, any other
 * host's is owned by the peer at its address. "peers" (optional) lists
 * more hosts whose tunnel packets are taken. -EINVAL, or -EDQUOT past
 * NAT_FLEET_MAX_PEERS peers.
 */
static int parse_fleet(struct nat_lease_set *ls, const char *self, json_t *f,
		       json_int_t *valid_ms)
{
	const char *host = NULL, *ip, *addr;
	json_int_t lo, hi;
	json_t *slices, *peers = NULL, *e;
	uint32_t a, pa;
	size_t i;
	int rc;

	if (json_unpack(f, "{s?s, s:I, s:o, s?o}", "host", &host, "valid_ms",
			valid_ms, "slices", &slices, "peers", &peers) < 0 ||
	    *valid_ms < 0 || !json_is_array(slices) ||
	    (peers && !json_is_array(peers)) ||
	    (host && strcmp(host, self) != 0))
		return -EINVAL;
	json_array_foreach(peers, i, e) {
		if (!json_is_string(e) ||
		    sh_parse_ipv4(json_string_value(e), &pa) < 0)
			return -EINVAL;
		rc = nat_fleet_add_peer(ls, htonl(pa));
		if (rc < 0)
			return rc;
	}
	json_array_foreach(slices, i, e) {
		if (json_unpack(e, "{s:s, s:I, s:I, s:s, s:s}", "ip", &ip,
				"lo", &lo, "hi", &hi, "host", &host, "address",
				&addr) < 0 ||
		    sh_parse_ipv4(ip, &a) < 0 || sh_parse_ipv4(addr, &pa) < 0 ||
		    lo < 1 || hi > 65535 || lo > hi || !host_ok(host))
			return -EINVAL;
		rc = nat_fleet_add(ls, htonl(a), (uint16_t)lo, (uint16_t)hi,
				   strcmp(host, self) == 0, htonl(pa));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Make @ls the workers' lease set and free the one it replaces, unless
 * that is the received set (kept for a later un-fence). */
static void publish(struct ctl_leases *st, struct nat_lease_set *ls)
{
	struct nat_lease_set *old = st->current;

	st->current = ls;
	sh_rcu_publish(st->qsbr, &st->workers[0].leases, sizeof(st->workers[0]),
		       st->n_workers, ls);
	if (old != st->received)
		free(old);
}

/* Publish a fenced copy of the received set. -ENOMEM leaves the
 * workers on what they have (the caller retries at its next turn). */
static int publish_fenced(struct ctl_leases *st)
{
	struct nat_lease_set *ls = malloc(sizeof(*ls));

	if (!ls)
		return -ENOMEM;
	memcpy(ls, st->received, sizeof(*ls));
	nat_fleet_fence(ls);
	ls->fleet_fences = st->fences;
	st->fenced = true;
	publish(st, ls);
	return 0;
}

/* Publish the received set itself, with the fence count so far. */
static void publish_received(struct ctl_leases *st)
{
	st->received->fleet_fences = st->fences;
	st->fenced = false;
	publish(st, st->received);
}

/* Remember that set @gen was not published, for engine.report; @rc. */
static int refuse(struct ctl_leases *st, uint64_t gen, const char *reason,
		  int rc)
{
	st->refused_gen = gen;
	st->refused_reason = reason;
	return rc;
}

int ctl_leases_apply(struct ctl_leases *st, json_t *params, bool fresh)
{
	bool fleet = st->cfg->fleet.enabled, held;
	json_int_t gen, valid_ms = 0;
	struct nat_lease_set *ls, *old_received;
	json_t *leases, *l, *f;
	size_t i;
	int rc;

	if (json_unpack(params, "{s:I, s:o}", "generation", &gen, "leases",
			&leases) < 0 || !json_is_array(leases)) {
		SH_LOG(WARNING, ctl, "ignoring a malformed lease set\n");
		return refuse(st, 0, "malformed", -EINVAL);
	}
	if (!fresh && (uint64_t)gen == st->generation)
		return 0;
	ls = malloc(sizeof(*ls));
	if (!ls)
		return refuse(st, (uint64_t)gen, "no_memory", -ENOMEM);
	nat_lease_set_begin(ls, st->cfg, (uint64_t)gen);
	json_array_foreach(leases, i, l) {
		rc = parse_lease(ls, l);
		if (rc < 0) {
			SH_LOG(WARNING, ctl, "ignoring lease set %lld: invalid lease %zu\n",
			       (long long)gen, i);
			free(ls);
			return refuse(st, (uint64_t)gen,
				      rc == -EDQUOT ? SHOAL_R_TOO_MANY :
				      rc == -EOVERFLOW ?
				      SHOAL_R_TOO_MANY_SELECTORS : "invalid_lease",
				      -EINVAL);
		}
	}
	f = json_object_get(params, "fleet");
	if (fleet) {
		rc = f ? parse_fleet(ls, st->cfg->fleet.host, f, &valid_ms)
		       : -EINVAL;
		if (rc < 0) {
			SH_LOG(WARNING, ctl, "ignoring lease set %lld: %s fleet "
			       "map\n", (long long)gen, f ? "invalid" : "no");
			free(ls);
			return refuse(st, (uint64_t)gen, rc == -EDQUOT ?
				      SHOAL_R_TOO_MANY : "invalid_lease",
				      -EINVAL);
		}
	}
	nat_lease_set_finish(ls);
	st->generation = (uint64_t)gen;
	st->refused_reason = NULL;
	if (!fleet) {
		publish(st, ls);
		return 1;
	}
	/* The old received set is freed by publish() when the workers held
	 * it, else here. */
	old_received = st->received;
	held = old_received == st->current;
	st->received = ls;
	st->valid_until = ctl_now_ms() + (uint64_t)valid_ms;
	if (valid_ms > 0 || publish_fenced(st) < 0)
		publish_received(st); /* no memory to fence: the next tick */
	if (!held)
		free(old_received);
	return 1;
}

int ctl_leases_valid(struct ctl_leases *st, json_t *params, uint64_t now)
{
	json_int_t gen, valid_ms;

	if (json_unpack(params, "{s:I, s:I}", "generation", &gen, "valid_ms",
			&valid_ms) < 0 || valid_ms < 0) {
		SH_LOG(WARNING, ctl, "ignoring a malformed fleet.valid\n");
		return -EINVAL;
	}
	if (!st->received || (uint64_t)gen != st->generation)
		return 0;
	st->valid_until = now + (uint64_t)valid_ms;
	if (!st->fenced || valid_ms == 0)
		return 0;
	SH_LOG(NOTICE, ctl, "fleet: ownership proven again (generation "
	       "%lld): slices back in use\n", (long long)gen);
	publish_received(st);
	return 1;
}

int ctl_leases_tick(struct ctl_leases *st, uint64_t now)
{
	if (!st->received || st->fenced || now < st->valid_until)
		return 0;
	st->fences++;
	if (publish_fenced(st) < 0) {
		st->fences--;
		return 0;
	}
	SH_LOG(WARNING, ctl, "fleet: no proof of slice ownership since "
	       "%llu ms: fenced, no translation into our slices until "
	       "shoal-ctld proves it again\n",
	       (unsigned long long)(now - st->valid_until));
	return 1;
}

uint64_t ctl_leases_valid_ms(const struct ctl_leases *st, uint64_t now)
{
	if (!st->received || st->fenced || now >= st->valid_until)
		return 0;
	return st->valid_until - now;
}

const struct nat_lease_set *ctl_leases_current(const struct ctl_leases *st)
{
	return st->current ? st->current : st->initial;
}

void ctl_leases_fini(struct ctl_leases *st)
{
	if (st->received != st->current)
		free(st->received);
	free(st->current);
	st->current = NULL;
	st->received = NULL;
}
