/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the daemon shows: the lease set (to the CLI and to the engine) and
 * the slice map, gathered from the lease rules' state and the engine's
 * last report and formatted by json.c. Reads only.
 */
#include "ctld.h"

static struct ctl_lease all[SHOAL_MAX_LEASES];
static struct ctl_hold holds[CTLD_MAX_HOLDS];

json_t *view_lease(const struct ctld *d, const struct ctl_lease *l)
{
	return json_lease(l, engine_lease_flows(d, l));
}

json_t *view_lease_set(struct ctld *d)
{
	json_t *arr;
	unsigned n;

	if (lease_list(d, all, SHOAL_MAX_LEASES, &n))
		return NULL;
	arr = json_array();
	for (unsigned i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, view_lease(d, &all[i]))) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

json_t *view_engine_lease_set(struct ctld *d)
{
	static bool extra[SHOAL_MAX_POOL_SLICES];
	json_t *arr;
	unsigned n;

	if (!d->fleet)
		return view_lease_set(d);
	if (lease_list(d, all, SHOAL_MAX_LEASES, &n))
		return NULL;
	fleet_loop_extras(d, extra);
	arr = json_array();
	/* Two passes: leases over the first slices, then over extras. */
	for (unsigned pass = 0; arr && pass < 2; pass++)
		for (unsigned i = 0; arr && i < n; i++) {
			int s = fleet_slice_index(&d->cfg->fleet, all[i].ip,
						  all[i].lo);
			bool late = s >= 0 && extra[s];

			if (late != (pass == 1))
				continue;
			if (json_array_append_new(arr, view_lease(d, &all[i]))) {
				json_decref(arr);
				arr = NULL;
			}
		}
	return arr;
}

json_t *view_slices(struct ctld *d)
{
	json_t *arr;
	unsigned n, nh;

	if (lease_list(d, all, SHOAL_MAX_LEASES, &n) ||
	    lease_holds(d, holds, CTLD_MAX_HOLDS, &nh))
		return NULL;
	arr = json_array();
	for (unsigned i = 0; arr && i < d->n_slices; i++)
		if (json_array_append_new(arr, json_slice(&d->slices[i],
							  all, n, holds, nh))) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

json_t *view_fleet_engine(const struct ctld *d)
{
	if (!d->fleet)
		return NULL;
	return json_fleet_engine(&d->cfg->fleet, &d->fleet->snap,
				 d->fleet->owned, fleet_loop_valid_ms(d));
}

json_t *view_fleet_map(const struct ctld *d)
{
	if (!d->fleet)
		return NULL;
	return json_fleet_map(&d->cfg->fleet, &d->fleet->snap, d->fleet->owned,
			      ctld_now_ms(),
			      fleet_loop_valid_ms(d));
}

json_t *view_fleet_status(const struct ctld *d)
{
	if (!d->fleet)
		return NULL;
	return json_fleet_status(&d->cfg->fleet, &d->fleet->snap,
				 d->fleet->n_owned, fleet_loop_valid_ms(d));
}
