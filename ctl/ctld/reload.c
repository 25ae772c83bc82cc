/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reload (SIGHUP, or the reload method): re-read the configuration file
 * and switch to it without dropping a lease or a flow, or refuse it and
 * change nothing. Whoever asked gets the result.
 *
 *   1. load the file into a spare configuration; refuse a file that does
 *      not parse, that changes a key only a restart can ([ctl] socket,
 *      database, group), or under which a stored lease could not live
 *      (outside every slice, overlapping a static lease): "FILE:LINE:
 *      why", nothing changed;
 *   2. with an engine connected, ask it to reload the same file first
 *      (engine.reload): if it refuses, so do we, with its reason; it
 *      applies its timeouts, limits and punt rates itself;
 *   3. switch: the spare becomes the running configuration, the static
 *      leases and [nat] values are taken again, and a new generation is
 *      committed, so core.c pushes the engine the new set.
 * One reload at a time (busy).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctld.h"

static struct sh_config next;

static json_t *result(struct ctld *d, const char *engine)
{
	return json_pack("{sb sI ss ss}", "reloaded", 1, "generation",
			 (json_int_t)d->generation, "path", d->cfg->path,
			 "engine", engine);
}

/* Step 3; the audit log names who asked (uid/pid, or SIGHUP). */
static int apply(struct ctld *d, char *msg, size_t len)
{
	const struct actor *who = &d->reload.who;
	int rc;

	*d->cfg = next;
	rc = leases_reconfigure(d);
	if (rc) {
		snprintf(msg, len, "%s: switched, but the new generation "
			 "could not be stored: %s", d->cfg->path,
			 strerror(-rc));
		return rc;
	}
	if (who->peer)
		ctld_log(CTLD_AUDIT, "event=reload path=%s static_leases=%u "
			 "slices=%u uid=%u pid=%d generation=%llu",
			 d->cfg->path, d->n_static, d->cfg->n_slices, who->uid,
			 who->pid, (unsigned long long)d->generation);
	else
		ctld_log(CTLD_AUDIT, "event=reload path=%s static_leases=%u "
			 "slices=%u signal=SIGHUP generation=%llu",
			 d->cfg->path, d->n_static, d->cfg->n_slices,
			 (unsigned long long)d->generation);
	return 0;
}

int reload_begin(struct ctld *d, struct conn *c, json_t *id, json_t **res,
		 char *msg, size_t len)
{
	int rc;

	if (d->reload.active) {
		snprintf(msg, len, "a reload is already in progress");
		return -EAGAIN;
	}
	d->reload.who = (struct actor){ 0 };
	if (c) {
		const struct ucred *cr = conn_peer(c);

		d->reload.who = (struct actor){ .peer = true, .uid = cr->uid,
						.pid = cr->pid };
	}
	rc = sh_config_load(&next, d->cfg->path, msg, len);
	if (!rc)
		rc = sh_config_reload_check(d->cfg, &next, SH_PROG_CTLD, msg,
					    len);
	if (!rc)
		rc = leases_check_config(d, &next, msg, len);
	if (rc) {
		ctld_log(CTLD_ERR, "reload refused, running configuration "
			 "kept: %s", msg);
		return rc == -EIO || rc == -ENOMEM ? rc : -ENOEXEC;
	}
	if (engine_reload_ask(d) == 0) {
		d->reload.active = true;
		d->reload.cli_serial = c ? conn_serial(c) : 0;
		d->reload.cli_id = id ? json_incref(id) : NULL;
		return 1;
	}
	rc = apply(d, msg, len);
	if (rc)
		return rc;
	*res = result(d, "not_connected");
	return *res ? 0 : -ENOMEM;
}

void reload_settle(struct ctld *d)
{
	struct ctld_reload *r = &d->reload;
	struct conn *c;
	char msg[sizeof(d->eng.reload_msg)];
	json_t *reply;
	int rc;

	if (!r->active)
		return;
	rc = engine_reload_result(d, msg, sizeof(msg));
	if (rc == 1)
		return;
	if (rc == 0) {
		rc = apply(d, msg, sizeof(msg));
	} else {
		ctld_log(CTLD_ERR, "reload refused, running configuration "
			 "kept: %s", msg);
	}
	c = r->cli_serial ? conn_find(d, r->cli_serial) : NULL;
	if (c && !rc)
		reply = json_result(r->cli_id, result(d, "reloaded"));
	else if (c)
		reply = json_error(r->cli_id, SHOAL_ERR_REFUSED,
				   rc == -ENOEXEC ? SHOAL_R_INVALID_CONFIG :
				   rc == -ENOTCONN ? SHOAL_R_NO_ENGINE :
				   SHOAL_R_INTERNAL, msg);
	if (c)
		conn_send(c, reply);
	json_decref(r->cli_id);
	memset(r, 0, sizeof(*r));
}
