/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal-ctld: the lease daemon (docs/CONTROL.md). One thread, one epoll
 * loop; every function here runs on that thread.
 *
 * Modules:
 *   store.c   SQLite persistence (schema, transactions)
 *   leases.c  lease rules: slice/overlap checks, range choice, lifecycle
 *   server.c  Unix socket, connections, framing, limits, peer check
 *   rpc.c     JSON-RPC dispatch with per-method parameter tables
 *   json.c    LEASE / slice objects of proto.h
 *   engine.c  the subscribed engine: updates, reports, flows relay
 *
 * Error convention: 0 or -errno. At the RPC boundary the codes below map
 * to proto.h reasons (rpc.c reason_of()), one code per reason:
 *   -EINVAL invalid_params   -EADDRINUSE overlap   -EDOM outside_slice
 *   -ENOSPC no_space         -EDQUOT too_many_leases -ENOENT not_found
 *   -EPERM static_lease      -ECANCELED draining  -ENOTCONN no_engine
 *   -EAGAIN busy             -ETIME held_down        anything else: internal
 */
#ifndef SHOAL_CTLD_H
#define SHOAL_CTLD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "config.h"
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

struct store;
struct server;
struct conn;

/* What the engine last told us (engine.c). */
struct engine_lease_flows {
	uint32_t id;
	int64_t flows;
	int64_t tcp_ports, udp_ports; /* proto.h USAGE */
};

struct relay {
	uint64_t eid;        /* id of our engine.flows request, 0 = free slot */
	uint64_t cli_serial; /* the asking connection */
	json_t *cli_id;      /* its request id */
	int64_t deadline_ms; /* monotonic */
};

#define CTLD_RELAYS_MAX SHOAL_CONN_MAX
#define CTLD_RELAY_TIMEOUT_MS 2000
#define CTLD_REPORT_FRESH_MS 3000

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
	struct engine_client {
		char client[16], outside[16]; /* dotted quads, as sent */
		int64_t flows;
	} top[SHOAL_TOP_CLIENTS]; /* proto.h CLIENT: the last report's */
	unsigned n_top;
	struct relay relays[CTLD_RELAYS_MAX];
	uint64_t next_eid;
	bool push_pending; /* a leases.update waits for the engine to read */
};

struct ctld {
	const struct sh_config *cfg;
	struct store *store;
	struct server *srv;
	struct ctl_lease statics[SH_CFG_MAX_LEASES];
	uint32_t hold_s;     /* [nat] port_hold_down */
	unsigned n_static;
	int64_t started;     /* unix time: the static leases' "created" */
	uint64_t generation; /* mirror of the stored counter */
	uint32_t drain_max;  /* seconds: max of the [nat] timeouts */
	struct engine_state eng;
};

/* main.c: the one log function (stderr, one line per event). */
enum { CTLD_ERR, CTLD_WARN, CTLD_INFO };
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
/* Holds ending after @now, ordered by (ip, lo), into @out (at most @max). */
int store_holds(struct store *s, int64_t now, struct ctl_hold *out,
		unsigned max, unsigned *n);
/* Store @h, replacing the holds of the same holder inside its range, and
 * drop the ones that ended at or before @now. */
int store_hold_add(struct store *s, const struct ctl_hold *h, int64_t now);

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
unsigned leases_audit(struct ctld *d); /* logs stored leases the config
					  no longer allows; their count */
/* Grant a lease; on -EADDRINUSE *@out is the first lease in the way, on
 * -ETIME (held_down) *@hold the first hold in the way. */
int lease_add(struct ctld *d, const struct lease_req *r, struct ctl_lease *out,
	      struct ctl_hold *hold);
int64_t ctld_now_s(void); /* unix time */
int lease_renew(struct ctld *d, uint32_t id, int64_t ttl,
		struct ctl_lease *out);
int lease_release(struct ctld *d, uint32_t id, struct ctl_lease *out);
int lease_get(struct ctld *d, uint32_t id, struct ctl_lease *out);
int lease_list(struct ctld *d, struct ctl_lease *out, unsigned max,
	       unsigned *n);
int lease_tick(struct ctld *d);

/* json.c */
json_t *json_lease(const struct ctld *d, const struct ctl_lease *l);
json_t *json_lease_set(struct ctld *d); /* array of every lease, or NULL */
json_t *json_slices(struct ctld *d);
json_t *json_error(json_t *id, int code, const char *reason,
		   const char *message);
json_t *json_result(json_t *id, json_t *result);
const char *fmt_ipv4(uint32_t ip, char buf[16]);

/* server.c */
int server_open(struct ctld *d, char *err, size_t errlen);
int server_run(struct ctld *d, volatile int *quit);
void server_close(struct ctld *d);
int conn_send(struct conn *c, json_t *msg); /* takes a reference */
void conn_close(struct conn *c);
uint64_t conn_serial(const struct conn *c);
size_t conn_unsent(const struct conn *c); /* bytes queued, not yet sent */
struct conn *conn_find(struct ctld *d, uint64_t serial);
void conn_set_engine(struct conn *c);

/* rpc.c: one complete line from @c (without its newline). */
void rpc_handle_line(struct ctld *d, struct conn *c, const char *line,
		     size_t len);

/* engine.c */
int engine_subscribe(struct ctld *d, struct conn *c, json_t **result);
/* Remember engine.report @params (borrowed) as the last report; keys of
 * the wrong type, and malformed per_worker entries, are skipped alone. */
void engine_report(struct ctld *d, struct conn *c, json_t *params);
void engine_push(struct ctld *d);
int engine_flows(struct ctld *d, struct conn *c, json_t *id, json_t *params);
void engine_response(struct ctld *d, struct conn *c, json_t *msg);
void engine_detach(struct ctld *d, uint64_t serial);
void engine_tick(struct ctld *d);
bool engine_is(const struct ctld *d, const struct conn *c);
/* Flows of lease @l in the last report: 0 when a complete report of a
 * generation that has @l leaves it out; -1 unknown. */
int64_t engine_lease_flows(const struct ctld *d, const struct ctl_lease *l);
bool engine_fresh(const struct ctld *d, uint64_t min_gen);
/* The stats result of proto.h from the last report (a new reference), or
 * NULL if the engine never reported. */
json_t *engine_stats(struct ctld *d);
json_t *engine_status(struct ctld *d);

#endif /* SHOAL_CTLD_H */
