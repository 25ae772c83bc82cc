/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON-RPC 2.0 dispatch. Each line is: 1. parsed (parse_error), 2. checked
 * to be one request object (invalid_request; batches are refused), 3.
 * looked up in methods[] (method_not_found), 4. checked against the
 * peer's role (permission_denied: proto.h "Roles"), 5. validated against
 * the method's parameter table: known keys only, right types, ranges
 * (invalid_params), and only then 6. given to its handler, a thin
 * front-end over one function of the rules (leases.c) or of the engine's
 * session (engine.c); replies are formatted by view.c / json.c.
 * Responses from the engine (no "method") go to engine.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctld.h"

enum ptype { P_STR, P_INT, P_PREFIXES };

struct param {
	const char *name;
	enum ptype type;
	bool required;
	json_int_t min, max; /* P_INT: value; P_STR, P_PREFIXES: length */
};

struct call {
	struct ctld *d;
	struct conn *c;
	json_t *id;     /* NULL for a notification */
	json_t *params; /* validated */
	char msg[160];  /* optional detail for an error reply */
};

/* 0 with *@result set, 1 when the reply will be sent later, or -errno. */
typedef int (*handler_fn)(struct call *x, json_t **result);

struct method {
	const char *name;
	handler_fn fn;
	const struct param *params; /* { NULL } terminated */
	bool engine_notification;   /* engine.report */
	unsigned need;              /* the role's right: CTLD_MAY_* */
};

static const struct {
	int err, code;
	const char *reason;
} reasons[] = {
	{ -EINVAL, SHOAL_ERR_PARAMS, SHOAL_R_INVALID_PARAMS },
	{ -EADDRINUSE, SHOAL_ERR_REFUSED, SHOAL_R_OVERLAP },
	{ -EDOM, SHOAL_ERR_REFUSED, SHOAL_R_OUTSIDE_SLICE },
	{ -ENOSPC, SHOAL_ERR_REFUSED, SHOAL_R_NO_SPACE },
	{ -EDQUOT, SHOAL_ERR_REFUSED, SHOAL_R_TOO_MANY },
	{ -EOVERFLOW, SHOAL_ERR_REFUSED, SHOAL_R_TOO_MANY_SELECTORS },
	{ -ENOENT, SHOAL_ERR_REFUSED, SHOAL_R_NOT_FOUND },
	{ -EPERM, SHOAL_ERR_REFUSED, SHOAL_R_STATIC },
	{ -ECANCELED, SHOAL_ERR_REFUSED, SHOAL_R_DRAINING },
	{ -ENOTCONN, SHOAL_ERR_REFUSED, SHOAL_R_NO_ENGINE },
	{ -EAGAIN, SHOAL_ERR_REFUSED, SHOAL_R_BUSY },
	{ -ETIME, SHOAL_ERR_REFUSED, SHOAL_R_HELD_DOWN },
	{ -EBADMSG, SHOAL_ERR_INVALID_REQUEST, SHOAL_R_INVALID_REQUEST },
	{ -ENOEXEC, SHOAL_ERR_REFUSED, SHOAL_R_INVALID_CONFIG },
	{ -EACCES, SHOAL_ERR_REFUSED, SHOAL_R_PERMISSION },
};

/*
 * snprintf into an error message of @len bytes. Messages quote request
 * text (a parameter name, the parser's view of the line), so the cut may
 * fall inside a multi-byte UTF-8 character: drop that partial character,
 * which jansson would refuse. Bounded: a lead byte is at most 3 bytes
 * back.
 */
static void __attribute__((format(printf, 3, 4)))
msgf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	size_t n, i, need;
	unsigned char lead;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	for (i = n; i > 0 && n - i < 3 &&
	     ((unsigned char)buf[i - 1] & 0xc0) == 0x80; i--)
		;
	if (!i)
		return;
	lead = (unsigned char)buf[i - 1];
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	if (n - (i - 1) < need)
		buf[i - 1] = '\0';
}

/* Send @msg, the reply to @id; one that could not be built is replaced
 * by a generic error, so every request gets exactly one reply. */
static void reply(struct conn *c, json_t *id, json_t *msg)
{
	if (!msg)
		msg = json_error(id, SHOAL_ERR_INTERNAL, SHOAL_R_INTERNAL,
				 "reply could not be built");
	conn_send(c, msg);
}

static void reply_err(struct conn *c, json_t *id, int rc, const char *msg)
{
	int code = SHOAL_ERR_INTERNAL;
	const char *reason = SHOAL_R_INTERNAL;

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].err == rc) {
			code = reasons[i].code;
			reason = reasons[i].reason;
		}
	if (!msg || !*msg)
		msg = code == SHOAL_ERR_INTERNAL ? strerror(-rc) : reason;
	reply(c, id, json_error(id, code, reason, msg));
}

static int fail(struct call *x, int rc, const char *msg)
{
	msgf(x->msg, sizeof(x->msg), "%s", msg);
	return rc;
}

static int get_id(struct call *x, const char *key, uint32_t *id)
{
	*id = (uint32_t)json_integer_value(json_object_get(x->params, key));
	return 0;
}

/* The asking peer, for the audit record of the change it makes. */
static struct actor actor_of(const struct call *x)
{
	const struct ucred *cr = conn_peer(x->c);

	return (struct actor){ .peer = true, .uid = cr->uid, .pid = cr->pid };
}

/* ---- handlers ---------------------------------------------------------- */

static int h_status(struct call *x, json_t **res)
{
	struct ctld *d = x->d;
	json_t *leases = view_lease_set(d);
	json_int_t active = 0, draining = 0;
	size_t i;
	json_t *l;

	if (!leases)
		return -EIO;
	json_array_foreach(leases, i, l) {
		if (!strcmp(json_string_value(json_object_get(l, "state")),
			    "draining"))
			draining++;
		else
			active++;
	}
	json_decref(leases);
	*res = json_pack("{si ss sI sI sI s{sI sI} so so*}",
			 "version", SHOAL_PROTO_VERSION,
			 "software", SHOAL_VERSION,
			 "pid", (json_int_t)getpid(),
			 "generation", (json_int_t)d->generation,
			 "slices", (json_int_t)d->n_slices,
			 "leases", "active", active, "draining", draining,
			 "engine", engine_status(d),
			 "fleet", view_fleet_status(d));
	return *res ? 0 : -ENOMEM;
}

static int h_slice_list(struct call *x, json_t **res)
{
	json_t *s = view_slices(x->d);

	*res = s ? json_pack("{so so*}", "slices", s, "fleet",
			     view_fleet_map(x->d)) : NULL;
	return *res ? 0 : -EIO;
}

static int lease_reply(struct call *x, int rc, const struct ctl_lease *l,
		       json_t **res)
{
	if (rc)
		return rc;
	*res = json_pack("{so}", "lease", view_lease(x->d, l));
	return *res ? 0 : -ENOMEM;
}

static int parse_add(struct call *x, struct lease_req *r)
{
	json_t *p = x->params, *v;
	const char *kind = json_string_value(json_object_get(p, "kind"));
	json_t *clients = json_object_get(p, "clients");
	size_t i;

	memset(r, 0, sizeof(*r));
	snprintf(r->holder, sizeof(r->holder), "%s",
		 json_string_value(json_object_get(p, "holder")));
	for (const unsigned char *h = (const unsigned char *)r->holder; *h; h++)
		if (*h < 0x20 || *h == 0x7f)
			return fail(x, -EINVAL, "holder: control character");
	if (!strcmp(kind, "nat"))
		r->kind = SH_LEASE_NAT;
	else if (!strcmp(kind, "socket"))
		r->kind = SH_LEASE_SOCKET;
	else
		return fail(x, -EINVAL, "kind: expected \"nat\" or \"socket\"");
	if (r->kind == SH_LEASE_NAT && !clients)
		return fail(x, -EINVAL, "clients: required for kind nat");
	if (r->kind == SH_LEASE_SOCKET && clients)
		return fail(x, -EINVAL, "clients: not allowed for kind socket");
	json_array_foreach(clients, i, v) {
		uint32_t host;

		if (sh_parse_prefix(json_string_value(v), &r->clients[i],
				    &host) || host != r->clients[i].addr)
			return fail(x, -EINVAL, "clients: expected a.b.c.d/len "
				    "without host bits");
		r->n_clients++;
	}
	v = json_object_get(p, "ip");
	if (v) {
		if (sh_parse_ipv4(json_string_value(v), &r->ip))
			return fail(x, -EINVAL, "ip: expected a.b.c.d");
		r->has_ip = true;
	}
	v = json_object_get(p, "ports");
	if (!v == !json_object_get(p, "size"))
		return fail(x, -EINVAL, "exactly one of ports, size");
	if (v) {
		if (sh_parse_port_range(json_string_value(v), &r->lo, &r->hi))
			return fail(x, -EINVAL, "ports: expected LO-HI, "
				    "1 <= LO <= HI <= 65535");
		r->has_ports = true;
	} else {
		r->size = (uint32_t)json_integer_value(json_object_get(p,
							"size"));
	}
	v = json_object_get(p, "ttl");
	r->ttl = v ? json_integer_value(v) : -1;
	v = json_object_get(p, "mapping");
	if (v && r->kind == SH_LEASE_SOCKET)
		return fail(x, -EINVAL, "mapping: not allowed for kind socket");
	if (v && sh_parse_mapping(json_string_value(v), &r->mapping))
		return fail(x, -EINVAL, "mapping: expected "
			    "endpoint-independent or "
			    "address-and-port-dependent");
	v = json_object_get(p, "filtering");
	if (v && r->kind == SH_LEASE_SOCKET)
		return fail(x, -EINVAL, "filtering: not allowed for kind "
			    "socket");
	if (v && sh_parse_filtering(json_string_value(v), &r->filtering))
		return fail(x, -EINVAL, "filtering: expected "
			    "endpoint-independent, address-dependent or "
			    "address-and-port-dependent");
	return 0;
}

static int h_lease_add(struct call *x, json_t **res)
{
	struct lease_req r;
	struct ctl_lease l;
	struct ctl_hold h;
	struct actor who = actor_of(x);
	int rc = parse_add(x, &r);

	if (!rc)
		rc = lease_add(x->d, &r, &who, &l, &h);
	if (rc == -EADDRINUSE) {
		/* Name the lease in the way, so the operator knows whom. */
		msgf(x->msg, sizeof(x->msg),
			 "ports %u-%u overlap lease %u (%s)", (unsigned)r.lo,
			 (unsigned)r.hi, l.id, l.holder);
		return rc;
	}
	if (rc == -ETIME) {
		int64_t left = h.until - ctld_now_s();

		msgf(x->msg, sizeof(x->msg), "ports %u-%u are held down for "
		     "%lld s more (left by %s)", (unsigned)h.lo,
		     (unsigned)h.hi, (long long)(left > 0 ? left : 1),
		     h.holder);
		return rc;
	}
	if (rc == -EOVERFLOW)
		msgf(x->msg, sizeof(x->msg), "more than %d client "
			 "prefixes in all leases", SHOAL_MAX_SELECTORS);
	if (rc == -EDOM && x->d->fleet)
		msgf(x->msg, sizeof(x->msg), "host '%s' does not own that "
		     "range: its slices are those it holds in etcd (slice "
		     "list)", x->d->cfg->fleet.host);
	return lease_reply(x, rc, &l, res);
}

static int h_lease_list(struct call *x, json_t **res)
{
	json_t *s = view_lease_set(x->d);

	*res = s ? json_pack("{so}", "leases", s) : NULL;
	return *res ? 0 : -EIO;
}

static int h_lease_show(struct call *x, json_t **res)
{
	struct ctl_lease l;
	uint32_t id;

	get_id(x, "id", &id);
	return lease_reply(x, lease_get(x->d, id, &l), &l, res);
}

static int h_lease_renew(struct call *x, json_t **res)
{
	json_t *ttl = json_object_get(x->params, "ttl");
	struct actor who = actor_of(x);
	struct ctl_lease l;
	uint32_t id;

	get_id(x, "id", &id);
	return lease_reply(x, lease_renew(x->d, id, ttl ?
			   json_integer_value(ttl) : -1, &who, &l), &l, res);
}

static int h_lease_release(struct call *x, json_t **res)
{
	struct actor who = actor_of(x);
	struct ctl_lease l;
	uint32_t id;

	get_id(x, "id", &id);
	return lease_reply(x, lease_release(x->d, id, &who, &l), &l, res);
}

/* An optional integer parameter, -1 when absent (validated: >= 0). */
static int64_t opt_param(const struct call *x, const char *key)
{
	json_t *v = json_object_get(x->params, key);

	return v ? json_integer_value(v) : -1;
}

static int h_lease_history(struct call *x, json_t **res)
{
	static struct ctl_audit rows[SHOAL_HISTORY_MAX];
	struct history_query q = {
		.port = (int32_t)opt_param(x, "port"),
		.lease = (int32_t)opt_param(x, "lease"),
		.since = opt_param(x, "since"),
		.before = opt_param(x, "before"),
		.limit = SHOAL_HISTORY_MAX,
	};
	const char *ip = json_string_value(json_object_get(x->params, "ip"));
	json_t *events;
	unsigned n;
	bool more;
	int rc;

	if (ip && sh_parse_ipv4(ip, &q.ip))
		return fail(x, -EINVAL, "ip: expected a.b.c.d");
	q.has_ip = ip != NULL;
	if (opt_param(x, "limit") > 0)
		q.limit = (unsigned)opt_param(x, "limit");
	rc = lease_history(x->d, &q, rows, &n, &more);
	if (rc)
		return rc;
	events = json_array();
	/* rows are newest first; the reply is oldest first */
	for (unsigned i = n; events && i-- > 0;)
		if (json_array_append_new(events, json_audit(&rows[i]))) {
			json_decref(events);
			events = NULL;
		}
	*res = events ? json_pack("{so sb}", "events", events, "truncated",
				  more) : NULL;
	return *res ? 0 : -ENOMEM;
}

static int h_flows(struct call *x, json_t **res)
{
	const char *client = json_string_value(json_object_get(x->params,
							       "client"));
	uint32_t ip;

	(void)res;
	if (client && sh_parse_ipv4(client, &ip))
		return fail(x, -EINVAL, "client: expected a.b.c.d");
	return engine_flows(x->d, x->c, x->id, x->params);
}

static int h_stats(struct call *x, json_t **res)
{
	*res = engine_stats(x->d);
	return *res ? 0 : fail(x, -ENOTCONN, "no engine report yet");
}

static int h_reload(struct call *x, json_t **res)
{
	return reload_begin(x->d, x->c, x->id, res, x->msg, sizeof(x->msg));
}

static int h_engine_upgrade(struct call *x, json_t **res)
{
	const char *binary = json_string_value(json_object_get(x->params,
							       "binary"));

	(void)res;
	if (binary && binary[0] != '/')
		return fail(x, -EINVAL, "binary: an absolute path");
	return upgrade_begin(x->d, x->c, x->id, binary, x->msg,
			     sizeof(x->msg));
}

static int h_subscribe(struct call *x, json_t **res)
{
	if (json_integer_value(json_object_get(x->params, "version")) !=
	    SHOAL_PROTO_VERSION)
		return fail(x, -EINVAL, "version: unsupported protocol "
			    "version");
	int rc = engine_subscribe(x->d, x->c, view_engine_lease_set(x->d),
				  view_fleet_engine(x->d), res);

	if (!rc)
		fleet_loop_pushed(x->d);
	return rc;
}

static int h_report(struct call *x, json_t **res)
{
	(void)res;
	engine_report(x->d, x->c, x->params);
	return 0;
}

/* ---- tables ------------------------------------------------------------ */

static const struct param p_none[] = { { NULL, P_STR, false, 0, 0 } };
static const struct param p_id[] = {
	{ "id", P_INT, true, 1, 65535 },
	{ NULL, P_STR, false, 0, 0 },
};
static const struct param p_add[] = {
	{ "holder", P_STR, true, 1, SHOAL_HOLDER_MAX },
	{ "kind", P_STR, true, 1, 16 },
	{ "clients", P_PREFIXES, false, 1, SHOAL_MAX_CLIENTS },
	{ "ip", P_STR, false, 7, 15 },
	{ "ports", P_STR, false, 1, 11 },
	{ "size", P_INT, false, 1, 65535 },
	{ "ttl", P_INT, false, 1, CTLD_TTL_MAX },
	{ "mapping", P_STR, false, 1, 32 },
	{ "filtering", P_STR, false, 1, 32 },
	{ NULL, P_STR, false, 0, 0 },
};
static const struct param p_renew[] = {
	{ "id", P_INT, true, 1, 65535 },
	{ "ttl", P_INT, false, 1, CTLD_TTL_MAX },
	{ NULL, P_STR, false, 0, 0 },
};
static const struct param p_flows[] = {
	{ "lease", P_INT, false, 1, 65535 },
	{ "client", P_STR, false, 7, 15 },
	{ "limit", P_INT, false, 1, 10000 },
	{ NULL, P_STR, false, 0, 0 },
};
static const struct param p_history[] = {
	{ "ip", P_STR, false, 7, 15 },
	{ "port", P_INT, false, 1, 65535 },
	{ "lease", P_INT, false, 1, 65535 },
	{ "since", P_INT, false, 0, (json_int_t)1 << 62 },
	{ "before", P_INT, false, 1, (json_int_t)1 << 62 },
	{ "limit", P_INT, false, 1, SHOAL_HISTORY_MAX },
	{ NULL, P_STR, false, 0, 0 },
};
static const struct param p_upgrade[] = {
	{ "binary", P_STR, false, 1, PATH_MAX - 1 },
	{ NULL, P_STR, false, 0, 0 },
};
static const struct param p_subscribe[] = {
	{ "version", P_INT, true, 0, 1 << 30 },
	{ NULL, P_STR, false, 0, 0 },
};
/* engine.report is checked loosely on purpose (newer engines may add
 * keys); engine.c reads only what it knows, with type checks. */

#define READ CTLD_MAY_READ
#define OPERATE CTLD_MAY_OPERATE
#define ENGINE CTLD_MAY_ENGINE
#define ADMIN CTLD_MAY_ADMIN
static const struct method methods[] = {
	{ "status", h_status, p_none, false, READ },
	{ "slice.list", h_slice_list, p_none, false, READ },
	{ "lease.add", h_lease_add, p_add, false, OPERATE },
	{ "lease.list", h_lease_list, p_none, false, READ },
	{ "lease.show", h_lease_show, p_id, false, READ },
	{ "lease.history", h_lease_history, p_history, false, READ },
	{ "lease.renew", h_lease_renew, p_renew, false, OPERATE },
	{ "lease.release", h_lease_release, p_id, false, OPERATE },
	{ "flows", h_flows, p_flows, false, READ },
	{ "stats", h_stats, p_none, false, READ },
	{ "reload", h_reload, p_none, false, OPERATE },
	/* makes the engine run a binary as root: root only */
	{ "engine.upgrade", h_engine_upgrade, p_upgrade, false, ADMIN },
	/* the engine's side: only who may be the engine subscribes, and
	 * only the subscribed connection reports (engine_is) */
	{ "engine.subscribe", h_subscribe, p_subscribe, false, ENGINE },
	{ "engine.report", h_report, NULL, true, ENGINE },
};
#undef READ
#undef OPERATE
#undef ENGINE
#undef ADMIN

static bool type_ok(const struct param *p, json_t *v)
{
	size_t i, n;
	json_t *e;

	switch (p->type) {
	case P_STR:
		n = json_string_length(v);
		return json_is_string(v) && n >= (size_t)p->min &&
		       n <= (size_t)p->max && !memchr(json_string_value(v),
						       '\0', n);
	case P_INT:
		return json_is_integer(v) && json_integer_value(v) >= p->min &&
		       json_integer_value(v) <= p->max;
	case P_PREFIXES:
		n = json_array_size(v);
		if (!json_is_array(v) || n < (size_t)p->min ||
		    n > (size_t)p->max)
			return false;
		json_array_foreach(v, i, e)
			if (!json_is_string(e) || json_string_length(e) > 18)
				return false;
		return true;
	}
	return false;
}

/* Every key known, every required key present, every value well-typed. */
static int validate(const struct param *tab, json_t *params, char *msg,
		    size_t len)
{
	const char *key;
	json_t *v;

	json_object_foreach(params, key, v) {
		const struct param *p = tab;

		while (p->name && strcmp(p->name, key))
			p++;
		if (!p->name) {
			msgf(msg, len, "unknown parameter '%s'", key);
			return -EINVAL;
		}
		if (!type_ok(p, v)) {
			msgf(msg, len, "parameter '%s': wrong type or out "
				 "of range", key);
			return -EINVAL;
		}
	}
	for (const struct param *p = tab; p->name; p++)
		if (p->required && !json_object_get(params, p->name)) {
			msgf(msg, len, "missing parameter '%s'", p->name);
			return -EINVAL;
		}
	return 0;
}

static void dispatch(struct ctld *d, struct conn *c, json_t *req)
{
	struct call x = { .d = d, .c = c };
	json_t *id = json_object_get(req, "id");
	json_t *method = json_object_get(req, "method");
	json_t *params = json_object_get(req, "params");
	json_t *ver = json_object_get(req, "jsonrpc");
	const struct method *m = NULL;
	json_t *result = NULL;
	int rc;

	if (!method && engine_owes(d, c) && id &&
	    (json_object_get(req, "result") || json_object_get(req, "error"))) {
		engine_response(d, c, req);
		return;
	}
	if (id && !json_is_string(id) && !json_is_integer(id) &&
	    !json_is_null(id))
		id = NULL; /* unusable id: reply with null */
	if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") ||
	    !json_is_string(method) || (params && !json_is_object(params)) ||
	    (!id && json_object_get(req, "id"))) {
		reply_err(c, id, -EBADMSG, NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(methods[i].name, json_string_value(method)))
			m = &methods[i];
	if (!id) {
		/* notifications: only the engine's report means anything */
		if (m && m->engine_notification && engine_is(d, c) &&
		    (conn_role(c) & m->need) && json_is_object(params)) {
			x.params = params;
			m->fn(&x, &result);
		}
		return;
	}
	if (!m || m->engine_notification) {
		reply(c, id, json_error(id, SHOAL_ERR_METHOD,
					SHOAL_R_METHOD_NOT_FOUND,
					"no such method"));
		return;
	}
	if (!(conn_role(c) & m->need)) {
		msgf(x.msg, sizeof(x.msg), "%s: not allowed to this peer's "
		     "role (docs/CONTROL.md \"Roles\")", m->name);
		reply_err(c, id, -EACCES, x.msg);
		return;
	}
	x.id = id;
	x.params = params ? params : json_object();
	rc = validate(m->params, x.params, x.msg, sizeof(x.msg));
	if (!rc)
		rc = m->fn(&x, &result);
	if (rc < 0)
		reply_err(c, id, rc, x.msg);
	else if (rc == 0)
		reply(c, id, json_result(id, result));
	if (!params)
		json_decref(x.params);
}

void rpc_handle_line(struct ctld *d, struct conn *c, const char *line,
		     size_t len)
{
	json_error_t jerr;
	json_t *req;

	if (len && line[len - 1] == '\r')
		len--;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES |
			 JSON_DECODE_ANY, &jerr);
	if (!req) {
		char msg[200];

		msgf(msg, sizeof(msg), "not JSON: %s", jerr.text);
		reply(c, NULL, json_error(NULL, SHOAL_ERR_PARSE,
					  SHOAL_R_PARSE_ERROR, msg));
		return;
	}
	if (json_is_object(req))
		dispatch(d, c, req);
	else
		reply(c, NULL, json_error(NULL, SHOAL_ERR_INVALID_REQUEST,
					  SHOAL_R_INVALID_REQUEST,
					  json_is_array(req) ?
					  "batch requests are not supported" :
					  "a request is a JSON object"));
	json_decref(req);
}
