/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_leases.h"
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

/* Make @ls the workers' lease set and free the one it replaces. */
static void publish(struct ctl_leases *st, struct nat_lease_set *ls)
{
	struct nat_lease_set *old = st->current;

	st->current = ls;
	sh_rcu_publish(st->qsbr, &st->workers[0].leases, sizeof(st->workers[0]),
		       st->n_workers, ls);
	free(old);
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
	struct nat_lease_set *ls;
	json_int_t gen;
	json_t *leases, *l;
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
	nat_lease_set_finish(ls);
	publish(st, ls);
	st->generation = (uint64_t)gen;
	st->refused_reason = NULL;
	return 1;
}

const struct nat_lease_set *ctl_leases_current(const struct ctl_leases *st)
{
	return st->current ? st->current : st->initial;
}

void ctl_leases_fini(struct ctl_leases *st)
{
	free(st->current);
	st->current = NULL;
}
