/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal-ctld: the lease daemon (docs/CONTROL.md). One thread, one epoll
 * loop; every function here runs on that thread, except fleet.h's worker
 * (its own thread, talking to this one only through fleet_read(),
 * fleet_release_done() and the eventfd) and ctld_log()/ctld_now_ms().
 *
 * Modules, each calling only the ones below it:
 *   main.c    options, configuration, start and stop
 *   core.c    the loop and the orchestration: signals, the server's
 *             lines in and closes, timers (lease lifecycle, relays, idle
 *             connections), and the push of every committed change to
 *             the engine
 *   rpc.c     JSON-RPC dispatch with per-method parameter tables
 *   view.c    what replies show: lease set, slice map (reads only)
 *   leases.c  lease rules: slice/overlap checks, range choice, lifecycle;
 *             they decide and store, and report a change by moving the
 *             generation, never by calling the transport
 *   engine.c  the subscribed engine's session: reports, flows relay,
 *             leases.update when core.c asks
 *   json.c    pure formatters of proto.h's objects
 *   metrics.c the [ctl] metrics HTTP endpoint (libmicrohttpd, driven by
 *             core.c's loop): gathers a prom_view for prom.c
 *   prom.c    pure formatter of the Prometheus text exposition
 *   server.c  transport: Unix socket, connections, line framing, output
 *             buffers, limits, peer check and role (sockdir.c: the
 *             socket's directory and ACLs)
 *   store.c   SQLite persistence (schema, transactions)
 *   fleet_sync.c  [fleet]: the loop's side of the fleet worker thread
 *             (fleet.h: fleet.c, fleet_policy.c, etcd.c, etcd_json.c):
 *             the owned, proven slices for the rules, fences, releases,
 *             fleet.valid
 *   notify.c  READY/STATUS/WATCHDOG/STOPPING to systemd (sd_notify),
 *             called by main.c and core.c
 *   lib/config.c, lib/value.c  the config file and value parsers, shared
 *             with the engine and shoalctl
 *
 * Error convention: 0 or -errno. At the RPC boundary the codes below map
 * to proto.h reasons (rpc.c reason_of()), one code per reason:
 *   -EINVAL invalid_params   -EADDRINUSE overlap   -EDOM outside_slice
 *   -ENOSPC no_space         -EDQUOT too_many_leases -ENOENT not_found
 *   -EPERM static_lease      -ECANCELED draining  -ENOTCONN no_engine
 *   -EAGAIN busy             -ETIME held_down     -ENOEXEC invalid_config
 *   -EACCES permission_denied
 *   anything else: internal
 */
#ifndef SHOAL_CTLD_H
#define SHOAL_CTLD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <jansson.h>

#include "config.h"
#include "fleet.h"
#include "shoal/proto.h"

#define CTLD_DYN_ID_MIN 1000
#define CTLD_DYN_ID_MAX 65535
#define CTLD_TTL_MAX 315360000 /* ten years */

struct ctl_lease {
	uint32_t id;
	char holder[SHOAL_HOLDER_MAX + 1];
	enum sh_lease_kind kind;
	uint32_t ip; /* host order */
	uint16_t lo, hi;
	struct sh_prefix clients[SHOAL_MAX_CLIENTS];
	unsigned n_clients;
	bool draining;
	bool is_static;
	int64_t ttl;         /* seconds, -1 = none */
	int64_t expires;     /* unix time, -1 = none */
	int64_t created;     /* unix time */
	int64_t drain_since; /* unix time, -1 while active */
	uint64_t drain_gen;  /* generation that made it draining */
	uint64_t add_gen;    /* generation that added it (static: 0) */
	enum sh_mapping mapping;     /* nat only */
	enum sh_filtering filtering; /* nat only */
};

/*
 * A hold-down (proto.h lease.add): ip:lo-hi left by a lease of @holder
 * and unavailable to every other holder until @until (unix time). Active
 * holds of different holders never overlap (a range held for one holder
 * is refused to the others), and a new hold replaces the same holder's
 * holds inside its range, so at most CTLD_MAX_HOLDS are kept: a drained
 * lease whose hold would not fit stays draining (its range stays taken)
 * until an older hold ends.
 */
struct ctl_hold {
	uint32_t ip; /* host order */
	uint16_t lo, hi;
	char holder[SHOAL_HOLDER_MAX + 1];
	int64_t until;
};

#define CTLD_MAX_HOLDS (SHOAL_MAX_LEASES * 4)

/*
 * Who made a lease change, for its audit record: a peer as SO_PEERCRED
 * saw it at accept (rpc.c passes it down with the request), or the
 * daemon's own lifecycle (lease_tick: expire, drained).
 */
struct actor {
	bool peer; /* false: the daemon */
	uint32_t uid;
	int32_t pid;
};

/* The lease changes an audit record names (proto.h EVENT "event"). */
#define CTLD_FOREACH_EVENT(_) \
	_(GRANT, "grant")     \
	_(RENEW, "renew")     \
	_(RELEASE, "release") \
	_(EXPIRE, "expire")   \
	_(DRAINED, "drained") \
	_(FENCED, "fenced")

enum ctl_event {
#define _(e, n) CTL_EV_##e,
	CTLD_FOREACH_EVENT(_)
#undef _
	CTL_EV_COUNT
};

static inline const char *ctl_event_name(enum ctl_event e)
{
	static const char *const names[] = {
#define _(e, n) n,
		CTLD_FOREACH_EVENT(_)
#undef _
	};

	return (unsigned)e < CTL_EV_COUNT ? names[e] : NULL;
}

/* One row of the lease history: the lease as the change left it (id,
 * holder, kind, ip, lo, hi, ttl, expires; the rest zero). */
struct ctl_audit {
	int64_t seq;  /* store order, from 1 */
	int64_t time; /* unix time */
	uint64_t generation;
	enum ctl_event event;
	struct ctl_lease lease;
	struct actor who;
};

/* What lease.history asks for; -1 (has_ip false) = no condition. */
struct history_query {
	bool has_ip;
	uint32_t ip;
	int32_t port;
	int32_t lease;
	int64_t since;  /* time >= since */
	int64_t before; /* seq < before */
	unsigned limit; /* 1..SHOAL_HISTORY_MAX */
};

struct store;
struct server;
struct metrics;
struct conn;
struct ucred;

/* What the engine last told us (engine.c). */
struct engine_lease_flows {
	uint32_t id;
	int64_t flows;
	int64_t tcp_ports, udp_ports; /* proto.h USAGE */
	int64_t exhausted;            /* proto.h USAGE */
};

struct relay {
	uint64_t eid;        /* id of our engine.flows request, 0 = free slot */
	uint64_t eng_serial; /* the engine session it was sent on */
	uint64_t cli_serial; /* the asking connection */
	json_t *cli_id;      /* its request id */
	int64_t deadline_ms; /* monotonic */
};

#define CTLD_RELAYS_MAX SHOAL_CONN_MAX
#define CTLD_RELAY_TIMEOUT_MS 2000
#define CTLD_REPORT_FRESH_MS 3000
#define CTLD_RELOAD_TIMEOUT_MS 3000 /* under shoalctl's 5 s */
#define CTLD_UPGRADE_TIMEOUT_MS SHOAL_UPGRADE_TIMEOUT_MS

struct engine_state {
	uint64_t conn_serial; /* subscribed connection, 0 = none */
	bool have_report;
	int64_t report_ms; /* monotonic time of the last report */
	uint64_t report_gen;
	/* the last report's lease set the engine could not apply (-1: none)
	 * and why ("" when it did not say) */
	json_int_t refused_gen;
	char refused_reason[SHOAL_REASON_MAX + 1];
	json_int_t workers;
	json_t *counters;   /* object of integers, or NULL */
	json_t *per_worker; /* array of proto.h WORKER, or NULL before a report */
	struct engine_lease_flows lf[SHOAL_MAX_LEASES]; /* sorted by id */
	unsigned n_lf;
	bool lf_partial; /* the report left out leases with flows */
	bool have_netlink; /* a report carried "netlink" */
	int64_t nl_overruns, nl_resyncs;
	struct engine_client {
		char client[16], outside[16]; /* dotted quads, as sent */
		int64_t flows;
	} top[SHOAL_TOP_CLIENTS]; /* proto.h CLIENT: the last report's */
	unsigned n_top;
	struct relay relays[CTLD_RELAYS_MAX];
	uint64_t next_eid;
	uint64_t pushed_gen; /* generation of the set the engine was sent */
	/* our engine.reload: its id while unanswered (0: none), the answer
	 * (1: waiting, 0: reloaded, -errno) and why (the engine's refusal
	 * as "shoal-engine: ...") */
	uint64_t reload_eid;
	uint64_t reload_serial; /* the session it was sent on */
	int64_t reload_deadline_ms;
	int reload_rc;
	char reload_msg[SH_CFG_STR_LEN + 256];
	/* our engine.upgrade, the same way: its id while unanswered, the
	 * session it went to, the answer (1: waiting, 0: done with
	 * upgrade_res, -errno with upgrade_msg) */
	uint64_t upgrade_eid;
	uint64_t upgrade_serial;
	int64_t upgrade_deadline_ms;
	int upgrade_rc;
	json_t *upgrade_res;
	char upgrade_msg[512];
};

/* A reload in progress (reload.c): who asked, for the answer. */
struct ctld_reload {
	struct actor who;    /* for the audit record */
	bool active;         /* waiting for the engine */
	uint64_t cli_serial; /* 0: SIGHUP */
	json_t *cli_id;
};

/* An upgrade in progress (upgrade.c): who asked, for the answer. */
struct ctld_upgrade {
	struct actor who;    /* for the audit record */
	bool active;         /* waiting for the engine */
	uint64_t cli_serial;
	json_t *cli_id;
	char binary[PATH_MAX]; /* as asked; "" = the engine's own */
};

/*
 * [fleet] on the loop's side (fleet_sync.c): the worker's last snapshot
 * and what the rules and the engine were given from it.
 */
struct ctld_fleet {
	struct fleet *worker;
	struct fleet_snap snap;  /* the latest copy */
	uint64_t synced_seq;     /* snap.seq the rules' slices follow */
	uint64_t valid_sent;     /* snap.renewals the engine was told of */
	int64_t stored_lease;    /* the lease id in the store */
	bool owned[SHOAL_MAX_POOL_SLICES]; /* mine, proven, not released:
					      * d->slices */
	unsigned n_owned;
	/* voluntary releases: the generation that fenced the slice (0: not
	 * yet; UINT64_MAX: the worker was told) and when */
	uint64_t rel_gen[SHOAL_MAX_POOL_SLICES];
	int64_t rel_ms[SHOAL_MAX_POOL_SLICES];
};

struct ctld {
	struct sh_config *cfg; /* the running configuration */
	struct store *store;
	struct server *srv;
	struct ctl_lease statics[SH_CFG_MAX_LEASES];
	uint32_t hold_s;     /* [nat] port_hold_down */
	unsigned n_static;
	/* ids 1..n_reserved are static: the file's leases, or with [fleet]
	 * one per pool slice (only owned slices with [fleet] clients have
	 * their lease in statics[]) */
	uint32_t n_reserved;
	/* the slices the rules place leases in: cfg->slices, or with
	 * [fleet] the owned and proven ones (fleet_sync.c's) */
	const struct sh_slice_cfg *slices;
	unsigned n_slices;
	struct ctld_fleet *fleet; /* NULL without [fleet] */
	int64_t started;     /* unix time: the static leases' "created" */
	uint64_t generation; /* mirror of the stored counter */
	uint32_t drain_max;  /* seconds: max of the [nat] timeouts */
	struct engine_state eng;
	struct ctld_reload reload;
	struct ctld_upgrade upgrade;
	struct metrics *metrics; /* NULL: [ctl] metrics off */
};

/* main.c: the one log function (stderr, one line per event, whole even
 * when the [fleet] worker thread logs at the same time; CTLD_AUDIT is
 * leases.c's audit record of a lease change). Any thread. */
enum { CTLD_ERR, CTLD_WARN, CTLD_INFO, CTLD_AUDIT };
void ctld_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int64_t ctld_now_ms(void); /* CLOCK_MONOTONIC in milliseconds */

/* store.c */
int store_open(struct store **out, const char *path, char *err, size_t errlen);
void store_close(struct store *s);
int store_begin(struct store *s); /* BEGIN IMMEDIATE */
int store_commit(struct store *s);
void store_rollback(struct store *s);
int store_list(struct store *s, struct ctl_lease *out, unsigned max,
	       unsigned *n);
int store_get(struct store *s, uint32_t id, struct ctl_lease *out);
int store_insert(struct store *s, const struct ctl_lease *l);
int store_update(struct store *s, const struct ctl_lease *l);
int store_delete(struct store *s, uint32_t id);
int store_gen_get(struct store *s, uint64_t *gen);
int store_gen_set(struct store *s, uint64_t gen);
/* meta's integer @key (-ENOENT when absent); set: insert or replace. */
int store_meta_get(struct store *s, const char *key, int64_t *value);
int store_meta_set(struct store *s, const char *key, int64_t value);
/* Holds ending after @now, ordered by (ip, lo), into @out (at most @max). */
int store_holds(struct store *s, int64_t now, struct ctl_hold *out,
		unsigned max, unsigned *n);
/* Store @h, replacing the holds of the same holder inside its range, and
 * drop the ones that ended at or before @now. */
int store_hold_add(struct store *s, const struct ctl_hold *h, int64_t now);
/* Append @a (its seq is the store's) to the history, which nothing
 * ever updates or deletes (the schema's triggers refuse it). */
int store_audit_add(struct store *s, const struct ctl_audit *a);
/* The latest rows matching @q, newest first, into @out (at most @max). */
int store_history(struct store *s, const struct history_query *q,
		  struct ctl_audit *out, unsigned max, unsigned *n);

/* leases.c */
struct lease_req {
	char holder[SHOAL_HOLDER_MAX + 1];
	enum sh_lease_kind kind;
	bool has_ip;
	uint32_t ip;
	bool has_ports;
	uint16_t lo, hi;
	uint32_t size; /* when !has_ports */
	struct sh_prefix clients[SHOAL_MAX_CLIENTS];
	unsigned n_clients;
	int64_t ttl; /* -1 = none */
	enum sh_mapping mapping;
	enum sh_filtering filtering;
};
int leases_init(struct ctld *d);
int leases_check_config(struct ctld *d, const struct sh_config *next,
			char *err, size_t errlen);
int leases_reconfigure(struct ctld *d); /* after d->cfg changed */
unsigned leases_audit(struct ctld *d); /* logs stored leases the config
					  no longer allows; their count */
/* The changes: each commits with its audit record (a history row in the
 * same transaction; the log line once committed) naming @who. */
/* Grant a lease; on -EADDRINUSE *@out is the first lease in the way, on
 * -ETIME (held_down) *@hold the first hold in the way. */
int lease_add(struct ctld *d, const struct lease_req *r,
	      const struct actor *who, struct ctl_lease *out,
	      struct ctl_hold *hold);
int64_t ctld_now_s(void); /* unix time */
int lease_renew(struct ctld *d, uint32_t id, int64_t ttl,
		const struct actor *who, struct ctl_lease *out);
int lease_release(struct ctld *d, uint32_t id, const struct actor *who,
		  struct ctl_lease *out);
/* The lease history (store_history) for lease.history: 0 with *@n rows,
 * newest first; *@more when older rows match too. */
int lease_history(struct ctld *d, const struct history_query *q,
		  struct ctl_audit *out, unsigned *n, bool *more);
int lease_get(struct ctld *d, uint32_t id, struct ctl_lease *out);
int lease_list(struct ctld *d, struct ctl_lease *out, unsigned max,
	       unsigned *n);
int lease_holds(struct ctld *d, struct ctl_hold *out, unsigned max,
		unsigned *n); /* the holds in force, by (ip, lo) */
int lease_tick(struct ctld *d);
int leases_fleet_update(struct ctld *d, const struct sh_slice_cfg *sl,
			unsigned n);

/* json.c: pure formatters. @flows: the engine's count, -1 unknown. */
json_t *json_lease(const struct ctl_lease *l, int64_t flows);
json_t *json_slice(const struct sh_slice_cfg *s, const struct ctl_lease *l,
		   unsigned n, const struct ctl_hold *h, unsigned nh);
json_t *json_error(json_t *id, int code, const char *reason,
		   const char *message);
json_t *json_result(json_t *id, json_t *result);
json_t *json_audit(const struct ctl_audit *a); /* proto.h EVENT */
/* [fleet] objects of proto.h from the worker's snapshot @sn: for the
 * engine (every owned slice, ours only where @owned), slice.list's map
 * at @now_ms, and status's summary; @valid_ms the proof left. */
json_t *json_fleet_engine(const struct sh_fleet_cfg *f,
			  const struct fleet_snap *sn, const bool *owned,
			  int64_t valid_ms);
json_t *json_fleet_map(const struct sh_fleet_cfg *f,
		       const struct fleet_snap *sn, const bool *owned,
		       int64_t now_ms, int64_t valid_ms);
json_t *json_fleet_status(const struct sh_fleet_cfg *f,
			  const struct fleet_snap *sn, unsigned n_owned,
			  int64_t valid_ms);

/* reload.c: re-read the file (SIGHUP, the reload method). Begin: 0 with
 * *@res when done at once (no engine), 1 when the answer follows once
 * the engine reloaded (reload_settle() sends it to @c / @id; @c NULL:
 * logged only), -errno with @msg. */
int reload_begin(struct ctld *d, struct conn *c, json_t *id, json_t **res,
		 char *msg, size_t len);
void reload_settle(struct ctld *d); /* after each request and tick */

/* upgrade.c: engine.upgrade for @c / @id with @binary (NULL: the
 * engine's own): 1 when the answer follows (upgrade_settle() sends it),
 * -errno with @msg when refused at once (no engine, busy). */
int upgrade_begin(struct ctld *d, struct conn *c, json_t *id,
		  const char *binary, char *msg, size_t len);
void upgrade_settle(struct ctld *d); /* after each request and tick */

/* prom.c: the Prometheus text exposition of @v into @b (pure). */
struct prom_lease {
	const struct ctl_lease *l;
	bool known;                  /* the engine's figures in @use hold */
	struct engine_lease_flows use;
};
struct prom_view {
	const struct engine_state *eng;
	int64_t now_ms;      /* ctld_now_ms() */
	uint64_t generation; /* of the committed lease set */
	const struct prom_lease *leases;
	unsigned n_leases;
	unsigned n_active, n_draining, n_held;
	bool fleet;            /* [fleet]: the three below are shown */
	unsigned fleet_owned;  /* slices owned and proven */
	int64_t fleet_valid_ms; /* proof left */
	bool fleet_etcd_up;
};
struct prom_buf {
	char *p;
	size_t cap, len;
	bool full; /* something did not fit: the text is incomplete */
};
void prom_format(const struct prom_view *v, struct prom_buf *b);

/* metrics.c: all no-ops while [ctl] metrics is off. */
/* Listen on [ctl] metrics: 0, or -errno with a message in @err. */
int metrics_open(struct ctld *d, char *err, size_t errlen);
int metrics_fd(const struct ctld *d);  /* pollable; -1 when off */
/* The loop's wait: @max_ms, or less if the HTTP server needs a turn. */
int metrics_timeout(const struct ctld *d, int max_ms);
void metrics_run(struct ctld *d);      /* serve what is ready, no wait */
void metrics_close(struct ctld *d);

/* view.c: new references, NULL on failure. */
json_t *view_lease(const struct ctld *d, const struct ctl_lease *l);
json_t *view_lease_set(struct ctld *d); /* array of every lease */
/* The same for the engine, whose client selectors prefer leases in set
 * order: with [fleet], the leases over this host's extra slices (the
 * ones it gives back first, fleet_loop_extras) come last, so that new
 * flows use them only once the first slices are full. */
json_t *view_engine_lease_set(struct ctld *d);
json_t *view_slices(struct ctld *d);
/* [fleet] (NULL without it): the lease set's "fleet" object for the
 * engine, slice.list's "fleet" and status's "fleet" (proto.h). */
json_t *view_fleet_engine(const struct ctld *d);
json_t *view_fleet_map(const struct ctld *d);
json_t *view_fleet_status(const struct ctld *d);

/* fleet_sync.c: no-ops without [fleet]. */
/* Start the worker (after leases_init), wait a bounded time for its
 * first round and take its slices. 0 or -errno with @err. */
int fleet_loop_open(struct ctld *d, char *err, size_t len);
void fleet_loop_close(struct ctld *d);
int fleet_loop_fd(const struct ctld *d); /* the worker's eventfd; -1 */
/* After the worker woke the loop (@woken: read its snapshot) and on
 * every tick: the rules' slices, fences, releases. */
void fleet_loop_sync(struct ctld *d, bool woken);
int64_t fleet_loop_valid_ms(const struct ctld *d); /* proof left, ms */
void fleet_loop_pushed(struct ctld *d); /* a set carried valid_ms */
void fleet_loop_valid(struct ctld *d);  /* fleet.valid after a renewal */
/* Which of this host's slices are extra (FLEET.md "Giving back"): beyond
 * its first N (its N oldest keys), or not in its explicit list. @extra
 * has a flag per slice of the pool; all false without [fleet]. */
void fleet_loop_extras(const struct ctld *d, bool *extra);


/* core.c */
int core_open(struct ctld *d, char *err, size_t errlen); /* the server */
int core_run(struct ctld *d); /* until SIGINT/SIGTERM; 0 or -errno */
/* What the loop does with each line, each closed connection and on each
 * tick (exported for the protocol fuzzer, which is its own transport). */
void core_line(struct ctld *d, struct conn *c, const char *line, size_t len);
void core_closed(struct ctld *d, uint64_t serial);
void core_tick(struct ctld *d);

/* server.c: the transport. Lines and closes go up through @ops. */
struct server_ops {
	void (*line)(struct ctld *d, struct conn *c, const char *line,
		     size_t len);
	void (*closed)(struct ctld *d, uint64_t serial);
};
int server_open(struct ctld *d, const struct server_ops *ops, char *err,
		size_t errlen);
int server_fd(const struct ctld *d);  /* pollable: readable when ready */
int server_dispatch(struct ctld *d);  /* handle what is ready, no wait */
void server_expire(struct ctld *d, int64_t now_ms); /* idle connections */
void server_reap(struct ctld *d);     /* free dead connections */
void server_close(struct ctld *d);
const struct ucred *conn_peer(const struct conn *c); /* at accept */
/* What the peer may call (proto.h "Roles"), set at accept: CTLD_MAY_*. */
enum { CTLD_MAY_READ = 1, CTLD_MAY_OPERATE = 2, CTLD_MAY_ENGINE = 4,
       CTLD_MAY_ADMIN = 8 };
unsigned conn_role(const struct conn *c);
int conn_send(struct conn *c, json_t *msg); /* takes a reference */
void conn_close(struct conn *c);
uint64_t conn_serial(const struct conn *c);
size_t conn_unsent(const struct conn *c); /* bytes queued, not yet sent */
struct conn *conn_find(struct ctld *d, uint64_t serial);
void conn_set_engine(struct conn *c);
/* While the daemon owes @c an answer that takes long (an upgrade), the
 * connection is not idle (SHOAL_IDLE_TIMEOUT_S). */
void conn_set_waiting(struct conn *c, bool waiting);

/* rpc.c: one complete line from @c (without its newline). */
void rpc_handle_line(struct ctld *d, struct conn *c, const char *line,
		     size_t len);

/* engine.c */
/* @set: the lease set, @fleet its "fleet" object (both consumed; a NULL
 * set, or a NULL fleet with [fleet], fails the call). */
int engine_subscribe(struct ctld *d, struct conn *c, json_t *set,
		     json_t *fleet, json_t **result);
/* Remember engine.report @params (borrowed) as the last report; keys of
 * the wrong type, and malformed per_worker entries, are skipped alone. */
void engine_report(struct ctld *d, struct conn *c, json_t *params);
/* Is there a committed change the engine has not been sent, and room to
 * send it? Then engine_push(d, view_engine_lease_set(d),
 * view_fleet_engine(d)). */
bool engine_wants_push(struct ctld *d);
void engine_push(struct ctld *d, json_t *set, json_t *fleet);
/* fleet.valid with @valid_ms for the generation the engine was sent: 0
 * sent (or no engine to tell), -EAGAIN while a newer set waits to go
 * (it carries valid_ms itself) or the engine is not reading. */
int engine_fleet_valid(struct ctld *d, int64_t valid_ms);
int engine_flows(struct ctld *d, struct conn *c, json_t *id, json_t *params);
void engine_response(struct ctld *d, struct conn *c, json_t *msg);
void engine_detach(struct ctld *d, uint64_t serial);
void engine_tick(struct ctld *d);
bool engine_is(const struct ctld *d, const struct conn *c);
/* Is @c the engine, or an earlier engine session that still owes an
 * answer to a request sent to it? Its responses go to engine_response. */
bool engine_owes(const struct ctld *d, const struct conn *c);
/* engine.reload: ask (-ENOTCONN without an engine), then poll the
 * answer: 1 waiting, 0 reloaded, -errno with the reason in @msg. */
int engine_reload_ask(struct ctld *d);
int engine_reload_result(struct ctld *d, char *msg, size_t len);
/* engine.upgrade with @params (borrowed): ask (-ENOTCONN without an
 * engine), then poll: 1 waiting, 0 done with *@res (a new reference to
 * the engine's result), -errno with the reason in @msg. */
int engine_upgrade_ask(struct ctld *d, json_t *params);
int engine_upgrade_result(struct ctld *d, json_t **res, char *msg,
			  size_t len);
/* Flows of lease @l in the last report: 0 when a complete report of a
 * generation that has @l leaves it out; -1 unknown. */
int64_t engine_lease_flows(const struct ctld *d, const struct ctl_lease *l);
/* Everything the last report says of lease @l into *@out (flows, ports,
 * exhausted); false when unknown, by the rules of engine_lease_flows. */
bool engine_lease_usage(const struct ctld *d, const struct ctl_lease *l,
			struct engine_lease_flows *out);
bool engine_fresh(const struct ctld *d, uint64_t min_gen);
/* The stats result of proto.h from the last report (a new reference), or
 * NULL if the engine never reported. */
json_t *engine_stats(struct ctld *d);
json_t *engine_status(struct ctld *d);

/* notify.c: sd_notify(3) to the service manager; no-ops without
 * NOTIFY_SOCKET. ready: once listening, before the loop; tick: from the
 * loop's once-a-second tick (WATCHDOG=1, STATUS= every few seconds);
 * stopping: when the loop has ended. */
void ctld_notify_ready(struct ctld *d);
void ctld_notify_tick(struct ctld *d);
void ctld_notify_stopping(void);

#endif /* SHOAL_CTLD_H */
