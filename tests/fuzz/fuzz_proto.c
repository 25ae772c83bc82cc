/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_proto: the control protocol as shoal-ctld serves it, one request
 * line at a time through core_line() (ctl/ctld/core.c: rpc.c, then the
 * push of a committed change to the engine), with the daemon's real
 * rules, views, JSON and engine relay code (leases.c, view.c, json.c,
 * engine.c) on a fresh SQLite store in memory (":memory:") per input.
 *
 * Only the transport is the harness's: server.c's conn_* functions frame
 * lines on sockets; here they take each message the daemon sends
 * (json_dumps(JSON_COMPACT), as server.c's conn_send) and check it.
 * ctld_now_ms() is a virtual clock the input advances.
 *
 * Input: lines separated by '\n'; each line's first byte is control, the
 * rest the request line:
 *   bit 0  which of two connections sends it (either may subscribe as the
 *          engine, and then relay flows requests and answer them)
 *   bit 1  first advance the clock by 2.5 s and run core_tick() (relay
 *          timeouts, the lease lifecycle, pushes)
 *   bit 2  close that connection after the line (as server.c's reap:
 *          core_closed())
 *   bits 3 and 6  the role of a connection this line opens (a closed or
 *          not yet used one; the role stays until it closes, as
 *          server.c fixes it at accept): 0 root, bit 3 a [ctl] group
 *          member (read, operate), bit 6 a reader (read), both the
 *          engine_user (read, engine)
 * Digits '0'..'7' are root's readable control bytes, '8'/'9' a member's,
 * '@'..'G' a reader's and 'H'..'O' the engine user's.
 *
 * Invariants (abort() on violation):
 *   - every message is valid JSON (jansson reads it back), valid UTF-8,
 *     a JSON-RPC 2.0 object: a reply has "jsonrpc":"2.0", an "id" (integer,
 *     string or null) and exactly one of "result" (object) and "error"
 *     (object; the daemon's own errors with an integer "code" and string
 *     "message" and "data"); a request to the engine has a "method" string
 *     and object "params";
 *   - a reply to a client fits one SHOAL_MSG_MAX line, newline included;
 *     a message to the engine SHOAL_ENGINE_MSG_MAX;
 *   - roles (proto.h "Roles"): only a connection with the engine right
 *     becomes the engine (conn_set_engine), and a line from one without
 *     the operate right leaves the lease generation as it was;
 *   - every committed generation has its audit records: the history
 *     holds a row of each generation 1..current, and no other;
 *   - every request line gets exactly one reply: none for a notification
 *     or the engine's answer to a relayed request, one otherwise, except
 *     "flows" and "engine.upgrade" relayed to the engine, whose one reply
 *     comes later (relayed answer, timeout or the disconnection of the
 *     engine session it went to), and by the end of the input (every
 *     engine session gone, clock past the relay and upgrade timeouts) it
 *     has come.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctld.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FAIL(...)                                                              \
	do {                                                                   \
		fprintf(stderr, "INVARIANT VIOLATED: " __VA_ARGS__);           \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

struct conn {
	uint64_t serial;
	unsigned role;        /* CTLD_MAY_*, fixed when opened */
	struct ucred peer;
	bool dead;
	bool engine;          /* conn_set_engine() was called */
	unsigned replies;     /* replies received (messages without method) */
	unsigned pending;     /* flows requests relayed, answer not yet seen */
};

static struct conn conns[2];
static uint64_t next_serial;
static int64_t now_ms;
static struct sh_config cfg;

/* ---- the daemon's environment (main.c and server.c in shoal-ctld) ---- */

void ctld_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

int64_t ctld_now_ms(void)
{
	return now_ms;
}

uint64_t conn_serial(const struct conn *c)
{
	return c->serial;
}

struct conn *conn_find(struct ctld *d, uint64_t serial)
{
	(void)d;
	for (int i = 0; serial && i < 2; i++)
		if (conns[i].serial == serial && !conns[i].dead)
			return &conns[i];
	return NULL;
}

/* conn_send() hands every message to the harness at once: nothing is
 * ever left queued. */
size_t conn_unsent(const struct conn *c)
{
	(void)c;
	return 0;
}

void conn_set_engine(struct conn *c)
{
	if (!(c->role & CTLD_MAY_ENGINE))
		FAIL("a connection without the engine right became the engine");
	c->engine = true;
}

const struct ucred *conn_peer(const struct conn *c)
{
	return &c->peer;
}

unsigned conn_role(const struct conn *c)
{
	return c->role;
}

void conn_set_waiting(struct conn *c, bool waiting)
{
	(void)c, (void)waiting;
}

void conn_close(struct conn *c)
{
	c->dead = true;
}

/* The harness is the transport: core_run(), the only caller of these,
 * is never called here. */
int server_open(struct ctld *d, const struct server_ops *ops, char *err,
		size_t errlen)
{
	(void)d, (void)ops, (void)err, (void)errlen;
	abort();
}

int server_fd(const struct ctld *d)
{
	(void)d;
	abort();
}

int server_dispatch(struct ctld *d)
{
	(void)d;
	abort();
}

void server_expire(struct ctld *d, int64_t now)
{
	(void)d, (void)now;
	abort();
}

void server_reap(struct ctld *d)
{
	(void)d;
	abort();
}

/* RFC 3629 UTF-8: no overlongs, no surrogates, nothing past U+10FFFF. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 &&
						   cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += need + 1;
	}
	return true;
}

static void check_reply_shape(json_t *m, bool relayed)
{
	json_t *id = json_object_get(m, "id");
	json_t *res = json_object_get(m, "result");
	json_t *err = json_object_get(m, "error");

	if (!id || !(json_is_integer(id) || json_is_string(id) ||
		     json_is_null(id)))
		FAIL("reply without a usable id");
	if (!res == !err)
		FAIL("reply with %s of result and error", res ? "both" : "none");
	if (res && !json_is_object(res))
		FAIL("result is not an object");
	if (err && !json_is_object(err))
		FAIL("error is not an object");
	/* An error the engine sent for a relayed request is passed on as the
	 * engine wrote it (engine.c engine_response): its members are the
	 * engine's, not checked here. */
	if (err && !relayed &&
	    (!json_is_integer(json_object_get(err, "code")) ||
	     !json_is_string(json_object_get(err, "message")) ||
	     !json_is_string(json_object_get(err, "data"))))
		FAIL("error object without integer code, string message and "
		     "string data");
}

/* The connection whose line is being answered by the daemon itself;
 * anything else it receives meanwhile is relayed from the engine. */
static struct conn *answering;

int conn_send(struct conn *c, json_t *msg)
{
	json_error_t jerr;
	json_t *back;
	char *s;
	size_t n;

	if (!msg)
		return -ENOMEM;
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!s)
		FAIL("a message jansson cannot serialize");
	n = strlen(s);
	if (memchr(s, '\n', n))
		FAIL("message with a newline inside: %.80s", s);
	if (!utf8_ok((const unsigned char *)s, n))
		FAIL("message is not UTF-8: %.80s", s);
	back = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
	if (!back || !json_is_object(back))
		FAIL("message is not a JSON object (%s): %.80s", jerr.text, s);
	if (!json_is_string(json_object_get(back, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(back, "jsonrpc")), "2.0"))
		FAIL("message without \"jsonrpc\":\"2.0\": %.80s", s);
	if (json_object_get(back, "method")) {
		json_t *p = json_object_get(back, "params");

		if (!c->engine)
			FAIL("request sent to a client: %.80s", s);
		if (!json_is_string(json_object_get(back, "method")) ||
		    (p && !json_is_object(p)))
			FAIL("malformed request to the engine: %.80s", s);
		if (n + 1 > SHOAL_ENGINE_MSG_MAX)
			FAIL("message to the engine of %zu bytes", n + 1);
	} else {
		check_reply_shape(back, c != answering);
		if (n + 1 > SHOAL_MSG_MAX)
			FAIL("reply of %zu bytes > SHOAL_MSG_MAX", n + 1);
		if (!c->dead)
			c->replies++;
	}
	json_decref(back);
	free(s);
	return 0;
}

/* ---- the driver ---------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* What shoal-ctld would read from its configuration: two slices, a
	 * static nat lease and a static socket lease (ids 1 and 2). */
	sh_config_defaults(&cfg);
	cfg.slices[0] = (struct sh_slice_cfg){ .ip = 0xc633640a, .lo = 10000,
					       .hi = 12047 };
	cfg.slices[1] = (struct sh_slice_cfg){ .ip = 0xc6336414, .lo = 20000,
					       .hi = 20063 };
	cfg.n_slices = 2;
	cfg.leases[0] = (struct sh_lease_cfg){ .name = "clients",
		.kind = SH_LEASE_NAT, .ip = 0xc633640a, .lo = 10000,
		.hi = 10999, .clients = { { 0x0a000000, 16 } },
		.n_clients = 1 };
	cfg.leases[1] = (struct sh_lease_cfg){ .name = "proxy",
		.kind = SH_LEASE_SOCKET, .ip = 0xc633640a, .lo = 11000,
		.hi = 11099 };
	cfg.n_leases = 2;
	return 0;
}

/* What a line must get now: 1 reply, 0 (a notification, the engine's
 * answer), or -1 (0 or 1: a flows or engine.upgrade request the engine
 * may get). Mirrors the JSON-RPC 2.0 rules, not rpc.c's code. */
static int expected_replies(const struct conn *c, const char *line,
			    size_t len)
{
	json_t *req, *method, *params, *ver;
	json_error_t jerr;
	int want = 1;

	if (len && line[len - 1] == '\r')
		len--;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			 &jerr);
	if (!req)
		return 1;
	if (!json_is_object(req))
		goto out;
	method = json_object_get(req, "method");
	params = json_object_get(req, "params");
	ver = json_object_get(req, "jsonrpc");
	if (!method && c->engine && json_object_get(req, "id") &&
	    (json_object_get(req, "result") || json_object_get(req, "error")))
		want = 0; /* a response from the engine */
	else if (!json_object_get(req, "id") && json_is_string(ver) &&
		 !strcmp(json_string_value(ver), "2.0") &&
		 json_is_string(method) && (!params || json_is_object(params)))
		want = 0; /* a notification */
	else if (json_is_string(method) &&
		 (!strcmp(json_string_value(method), "flows") ||
		  !strcmp(json_string_value(method), "engine.upgrade")))
		want = -1;
out:
	json_decref(req);
	return want;
}

/* Open @c with the role control byte @ctl names (bits 3 and 6). */
static void conn_open(struct conn *c, uint8_t ctl)
{
	static const unsigned roles[4] = {
		CTLD_MAY_READ | CTLD_MAY_OPERATE | CTLD_MAY_ENGINE,
		CTLD_MAY_READ | CTLD_MAY_OPERATE,
		CTLD_MAY_READ,
		CTLD_MAY_READ | CTLD_MAY_ENGINE,
	};
	unsigned r = ((ctl >> 3) & 1) | ((ctl >> 5) & 2);

	*c = (struct conn){ .serial = ++next_serial, .role = roles[r],
			    .peer = { .pid = 4242 + (int)r, .uid = r ? 1000 + r :
				      0, .gid = 0 } };
}

/* Every generation 1..d->generation has a history row, and the rows
 * name no other: the audit record commits with its change. */
static void check_history(struct ctld *d)
{
	static struct ctl_audit rows[SHOAL_HISTORY_MAX];
	struct history_query q = { .port = -1, .lease = -1, .since = -1,
				   .before = -1, .limit = SHOAL_HISTORY_MAX };
	uint64_t want = d->generation;
	unsigned n;
	bool more;

	/* newest first, a page at a time, back to the first row */
	do {
		if (lease_history(d, &q, rows, &n, &more))
			FAIL("lease_history failed");
		for (unsigned i = 0; i < n; i++) {
			if (rows[i].generation == want && want > 0)
				want--;
			else if (rows[i].generation != want + 1)
				FAIL("history row of generation %llu, expected "
				     "%llu or %llu",
				     (unsigned long long)rows[i].generation,
				     (unsigned long long)want + 1,
				     (unsigned long long)want);
			if (rows[i].who.peer !=
			    (rows[i].event == CTL_EV_GRANT ||
			     rows[i].event == CTL_EV_RENEW ||
			     rows[i].event == CTL_EV_RELEASE))
				FAIL("history row with the wrong actor");
		}
		if (n)
			q.before = rows[n - 1].seq;
	} while (more);
	if (want)
		FAIL("generation %llu has no history row",
		     (unsigned long long)want);
}

/* As server.c's reap(): the connection goes, a subscribed engine with it. */
static void conn_reap(struct ctld *d, struct conn *c)
{
	c->dead = true;
	core_closed(d, c->serial);
}

/* Replies that arrived outside their own line settle relayed requests. */
static void settle(struct conn *c, unsigned before, int own)
{
	unsigned got = c->replies - before;

	if (own > 0 && got == 0)
		FAIL("a request line got no reply");
	if (own >= 0 && got >= (unsigned)own)
		got -= (unsigned)own;
	else if (own < 0 && got == 0) {
		c->pending++; /* relayed: the reply comes later */
		return;
	} else if (own < 0) {
		got--;
	}
	if (got > c->pending)
		FAIL("%u replies more than requests", got - c->pending);
	c->pending -= got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctld d;
	char err[256];
	size_t off = 0;
	unsigned lines = 0;

	memset(&d, 0, sizeof(d));
	d.cfg = &cfg;
	now_ms = 1000000;
	next_serial = 0;
	conns[0] = conns[1] = (struct conn){ .dead = true };
	if (store_open(&d.store, ":memory:", err, sizeof(err)))
		FAIL("harness: store_open(:memory:): %s", err);
	if (leases_init(&d))
		FAIL("harness: leases_init failed");

	while (off < size && lines++ < 256) {
		const char *line = (const char *)data + off;
		const char *nl = memchr(line, '\n', size - off);
		size_t len = nl ? (size_t)(nl - line) : size - off;
		uint8_t ctl = len ? (uint8_t)line[0] : 0;
		struct conn *c = &conns[ctl & 1], *o = &conns[!(ctl & 1)];
		unsigned before, obefore;
		uint64_t gen;
		int want;

		off += len + (nl ? 1 : 0);
		if (!len)
			continue;
		if (c->dead)
			conn_open(c, ctl);
		if (ctl & 2) {
			unsigned b0 = conns[0].replies, b1 = conns[1].replies;

			now_ms += 2500;
			core_tick(&d);
			settle(&conns[0], b0, 0);
			settle(&conns[1], b1, 0);
		}
		want = expected_replies(c, line + 1, len - 1);
		before = c->replies;
		obefore = o->replies;
		answering = want ? c : NULL;
		gen = d.generation;
		core_line(&d, c, line + 1, len - 1);
		answering = NULL;
		if (!(c->role & CTLD_MAY_OPERATE) && d.generation != gen)
			FAIL("a line from a peer without the operate right "
			     "changed the leases");
		if (!c->dead)
			settle(c, before, want);
		if (!o->dead)
			settle(o, obefore, 0);
		if (ctl & 4) {
			unsigned ob = o->replies;

			conn_reap(&d, c);
			settle(o, ob, 0);
		}
	}

	/* The end: every engine session goes (the engine's, and an
	 * earlier one still owing answers), every relayed request is
	 * answered. */
	for (int i = 0; i < 2; i++) {
		unsigned b0 = conns[0].replies, b1 = conns[1].replies;

		if (i == 0) {
			engine_detach(&d, d.eng.conn_serial);
			for (int k = 0; k < 2; k++)
				if (conns[k].engine)
					engine_detach(&d, conns[k].serial);
		}
		now_ms += CTLD_UPGRADE_TIMEOUT_MS + 1;
		core_tick(&d);
		settle(&conns[0], b0, 0);
		settle(&conns[1], b1, 0);
	}
	for (int i = 0; i < 2; i++)
		if (!conns[i].dead && conns[i].pending)
			FAIL("%u relayed requests never answered",
			     conns[i].pending);
	check_history(&d);
	for (int i = 0; i < CTLD_RELAYS_MAX; i++)
		json_decref(d.eng.relays[i].cli_id);
	store_close(d.store);
	json_decref(d.eng.counters);
	json_decref(d.eng.per_worker);
	return 0;
}
