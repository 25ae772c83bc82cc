/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Upgrade (the engine.upgrade method, root only): ask the subscribed
 * engine to hand itself over to a new process of a binary without losing
 * a flow (engine/takeover.h), and give whoever asked the result.
 *
 *   1. refuse at once without an engine (no_engine) or while another
 *      upgrade is in flight (busy);
 *   2. relay the request to the engine (engine.c engine_upgrade_ask),
 *      audit who asked;
 *   3. once the engine answered, or went away, or CTLD_UPGRADE_TIMEOUT_MS
 *      passed: answer the client with the engine's result, or
 *      upgrade_failed with the engine's reason, and audit the outcome.
 * Meanwhile the new engine subscribes and becomes the engine (engine.c);
 * the old one's session stays open until it has answered.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctld.h"

int upgrade_begin(struct ctld *d, struct conn *c, json_t *id,
		  const char *binary, char *msg, size_t len)
{
	struct ctld_upgrade *u = &d->upgrade;
	const struct ucred *cr = conn_peer(c);
	json_t *params;
	int rc;

	if (u->active) {
		snprintf(msg, len, "an upgrade is already in progress");
		return -EAGAIN;
	}
	params = binary ? json_pack("{ss}", "binary", binary) : json_object();
	if (!params)
		return -ENOMEM;
	rc = engine_upgrade_ask(d, params);
	json_decref(params);
	if (rc) {
		snprintf(msg, len, "no engine is subscribed to upgrade");
		return rc;
	}
	*u = (struct ctld_upgrade){
		.who = { .peer = true, .uid = cr->uid, .pid = cr->pid },
		.active = true,
		.cli_serial = conn_serial(c),
		.cli_id = json_incref(id),
	};
	snprintf(u->binary, sizeof(u->binary), "%s", binary ? binary : "");
	conn_set_waiting(c, true);
	ctld_log(CTLD_AUDIT, "event=upgrade binary=%s uid=%u pid=%d",
		 binary ? binary : "(the engine's own)", u->who.uid,
		 u->who.pid);
	return 1;
}

static const char *str_or(json_t *v, const char *dflt)
{
	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* The outcome's audit line: old and new pid and the gap, or why not. */
static void audit_outcome(const struct ctld_upgrade *u, int rc, json_t *res,
			  const char *why)
{
	if (rc == 0)
		ctld_log(CTLD_AUDIT, "event=upgraded binary=%s old_pid=%lld "
			 "new_pid=%lld gap_ms=%.1f flows=%lld discarded=%lld "
			 "uid=%u pid=%d",
			 str_or(json_object_get(res, "binary"), "?"),
			 (long long)json_integer_value(
				 json_object_get(res, "old_pid")),
			 (long long)json_integer_value(
				 json_object_get(res, "new_pid")),
			 json_number_value(json_object_get(res, "gap_ms")),
			 (long long)json_integer_value(
				 json_object_get(res, "flows")),
			 (long long)json_integer_value(
				 json_object_get(res, "discarded")),
			 u->who.uid, u->who.pid);
	else
		ctld_log(CTLD_AUDIT, "event=upgrade_failed binary=%s "
			 "reason=\"%s\" uid=%u pid=%d",
			 u->binary[0] ? u->binary : "(the engine's own)", why,
			 u->who.uid, u->who.pid);
}

void upgrade_settle(struct ctld *d)
{
	struct ctld_upgrade *u = &d->upgrade;
	char msg[sizeof(d->eng.upgrade_msg)];
	json_t *res = NULL;
	struct conn *c;
	int rc;

	if (!u->active)
		return;
	rc = engine_upgrade_result(d, &res, msg, sizeof(msg));
	if (rc == 1)
		return;
	audit_outcome(u, rc, res, msg);
	c = conn_find(d, u->cli_serial);
	if (c) {
		conn_set_waiting(c, false);
		conn_send(c, rc == 0 ? json_result(u->cli_id, res) :
			  json_error(u->cli_id, SHOAL_ERR_REFUSED,
				     SHOAL_R_UPGRADE_FAILED, msg));
	} else {
		json_decref(res);
	}
	json_decref(u->cli_id);
	memset(u, 0, sizeof(*u));
}
