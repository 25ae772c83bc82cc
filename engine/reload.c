/* SPDX-License-Identifier: BSD-3-Clause */
/* Reload (reload.h). Main lcore only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "rcu.h"
#include "reload.h"

RTE_LOG_REGISTER_SUFFIX(sh_logtype_config, config, INFO);

void sh_tunables_from(const struct sh_config *cfg, unsigned n_workers,
		      struct sh_tunables *tn)
{
	const struct sh_port_cfg *pcs[SH_SIDES] = { &cfg->inside,
						    &cfg->outside };

	tn->nat = (struct nat_params){
		.max_ports_per_client = cfg->nat.max_ports_per_client,
		.hold_down_s = cfg->nat.port_hold_down,
		.mss_clamp = (uint16_t)sh_config_mss_clamp(cfg),
		.timeout_s = { cfg->nat.udp_timeout,
			       cfg->nat.tcp_established_timeout,
			       cfg->nat.tcp_transitory_timeout,
			       cfg->nat.icmp_timeout },
	};
	/* Each worker gets 1/N of a side's punt rate, rounded up; 0 stays
	 * unlimited. */
	for (unsigned s = 0; s < SH_SIDES; s++)
		tn->punt_rate[s] = (pcs[s]->punt_rate + n_workers - 1) /
				   n_workers;
	tn->idle_sleep_us = cfg->idle_sleep_us;
}

static int publish_tunables(struct sh_reload *r, const struct sh_config *cfg)
{
	struct sh_tunables *tn = calloc(1, sizeof(*tn)), *old = r->tunables;

	if (!tn)
		return -ENOMEM;
	sh_tunables_from(cfg, r->n_workers, tn);
	tn->gen = ++r->gen;
	r->tunables = tn;
	sh_rcu_publish(r->qsbr, &r->workers[0].tunables, sizeof(r->workers[0]),
		       r->n_workers, tn);
	free(old);
	return 0;
}

int sh_reload_init(struct sh_reload *r)
{
	return publish_tunables(r, r->cfg);
}

static int reload(struct sh_reload *r, char *err, size_t errlen)
{
	static struct sh_config next;
	struct nat_lease_set *ls = NULL;
	int rc;

	rc = sh_config_load(&next, r->cfg->path, err, errlen);
	if (!rc)
		rc = sh_config_reload_check(r->cfg, &next, SH_PROG_ENGINE, err,
					    errlen);
	if (rc)
		return rc;
	if (r->own_leases) {
		ls = malloc(sizeof(*ls));
		if (!ls)
			return -ENOMEM;
		if (nat_lease_set_from_config(ls, &next) < 0) {
			snprintf(err, errlen, "%s: lease set too large",
				 next.path);
			free(ls);
			return -EINVAL;
		}
	}
	*r->cfg = next;
	rc = publish_tunables(r, r->cfg);
	if (rc) {
		/* The file is in force for shoal-ctld's next lease set; the
		 * workers keep their tunables. */
		snprintf(err, errlen, "%s: out of memory for the new "
			 "tunables", next.path);
		free(ls);
		return rc;
	}
	if (ls) {
		struct nat_lease_set *old = r->leases;

		r->leases = ls;
		sh_rcu_publish(r->qsbr, &r->workers[0].leases,
			       sizeof(r->workers[0]), r->n_workers, ls);
		free(old);
	}
	return 0;
}

int sh_reload(struct sh_reload *r, char *err, size_t errlen)
{
	int rc = reload(r, err, errlen);

	if (rc)
		SH_LOG(ERR, config, "reload refused, running configuration "
		       "kept: %s\n", err);
	else
		SH_LOG(INFO, config, "reloaded %s\n", r->cfg->path);
	return rc;
}

void sh_reload_fini(struct sh_reload *r)
{
	free(r->tunables);
	free(r->leases);
	r->tunables = NULL;
	r->leases = NULL;
}
