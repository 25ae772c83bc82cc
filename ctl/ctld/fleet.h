/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * [fleet] in shoal-ctld (docs/FLEET.md): slices of the pool claimed in
 * etcd by a worker thread, published to the daemon's loop as a snapshot.
 *
 *   etcd_json.c    pure: base64, the v3 JSON gateway's requests and
 *                  replies (int64 fields come as strings)
 *   etcd.c         the gateway over libcurl: one easy handle, bounded
 *                  timeouts, the next URL on failure (worker thread only)
 *   fleet_policy.c pure: rendezvous ranks and which slices to claim or
 *                  give back, given the map (FLEET.md "Which slices")
 *   fleet.c        the worker thread: the etcd session (lease, keepalive,
 *                  reads, claims, releases) and the snapshot
 *   fleet_sync.c   the loop's side: reads the snapshot, keeps the owned
 *                  and proven slices for the lease rules, fences,
 *                  acknowledges voluntary releases
 *
 * Slices are named by their global index (FLEET.md "Configuration").
 */
#ifndef SHOAL_CTLD_FLEET_H
#define SHOAL_CTLD_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"

/* ---- etcd_json.c: pure ------------------------------------------------- */

/* Base64 (RFC 4648, padded) of @n bytes of @in into @out (NUL-terminated):
 * its length, or -ENOSPC when @len is too small. */
int b64_encode(const void *in, size_t n, char *out, size_t len);
/* Decode NUL-terminated @in into @out (at most @len bytes): the byte
 * count, or -EINVAL (not base64) / -ENOSPC. */
int b64_decode(const char *in, void *out, size_t len);

/* An etcd int64: a JSON string of digits (the gateway's spelling) or an
 * integer. Absent (NULL) reads as 0, as proto3 leaves zeros out. 0 or
 * -EINVAL. */
int etcd_int64(json_t *v, int64_t *out);

/* Requests (new references, NULL when out of memory or a key does not
 * fit). @lease 0: none. */
json_t *etcd_req_grant(int64_t ttl);
json_t *etcd_req_lease(int64_t lease); /* keepalive, revoke */
json_t *etcd_req_prefix(const char *prefix); /* range of every key under it */
/* txn: put @key = @value bound to @lease if @key does not exist. */
json_t *etcd_req_create(const char *key, const char *value, int64_t lease);
/* txn: put @key = @value (bound to @lease) if @key is bound to @lease. */
json_t *etcd_req_put_if_lease(const char *key, const char *value,
			      int64_t lease);
/* txn: delete @key if it is bound to @lease. */
json_t *etcd_req_delete_if_lease(const char *key, int64_t lease);

/* Replies: 0 or -EPROTO when the reply is not what the call returns. */
int etcd_parse_grant(json_t *r, int64_t *id, int64_t *ttl);
/* TTL 0: the lease is gone (expired or revoked). */
int etcd_parse_keepalive(json_t *r, int64_t *ttl);
int etcd_parse_txn(json_t *r, bool *succeeded);
/* One key-value of a range reply, decoded; key and value NUL-terminated. */
struct etcd_kv {
	char key[SH_CFG_STR_LEN + 64];
	char value[1024];
	int64_t lease;
	int64_t create_rev; /* etcd's revision that created the key */
};
/* Call @fn for each kv of range reply @r; a kv that does not decode (or
 * does not fit) is counted in *@skipped and left out. */
int etcd_parse_range(json_t *r, void (*fn)(const struct etcd_kv *kv,
					   void *arg),
		     void *arg, unsigned *skipped);

/* ---- etcd.c: the client (one thread) ---------------------------------- */

struct etcd;

/* @urls: "http://h:p[,http://...]" ([fleet] etcd); every request is
 * bounded by @timeout_ms (connect and total). 0 or -errno. */
int etcd_open(struct etcd **out, const char *urls, long timeout_ms);
void etcd_close(struct etcd *e);
/* POST @req (consumed) to @path ("/v3/kv/range", ...) at the current
 * URL, then the next ones on a transport failure or a 5xx, each once.
 * 0 with *@reply (a new reference), -EPROTO with the gateway's error
 * message in @msg (not retried elsewhere: the cluster answered), or
 * -EIO when no URL answered (@msg says why). */
int etcd_call(struct etcd *e, const char *path, json_t *req, json_t **reply,
	      char *msg, size_t len);
uint64_t etcd_requests(const struct etcd *e); /* made so far */

/* ---- fleet_policy.c: pure --------------------------------------------- */

/* Slice @s of @f's pool: its address (host order) and ports. */
void fleet_slice_range(const struct sh_fleet_cfg *f, uint32_t s,
		       uint32_t *ip, uint16_t *lo, uint16_t *hi);
/* The inverse: the slice holding @ip (host order) : @port, or -1 when
 * @ip is no pool address or @port lies outside the pool's ports. */
int fleet_slice_index(const struct sh_fleet_cfg *f, uint32_t ip,
		      uint16_t port);

/* Rendezvous weight of @slice for @host: the host with the highest weight
 * ranks the slice first. Every host computes the same numbers. */
uint64_t fleet_weight(const char *host, uint32_t slice);

struct fleet_host {
	char name[SH_CFG_NAME_LEN];
	uint32_t address; /* host order */
	uint32_t want;    /* slices it wants */
	uint32_t have;    /* as its hosts/ key says (shown only) */
	bool live;        /* it has a hosts/ key */
	bool listed;      /* it wants an explicit list: takes no orphans */
};

#define FLEET_FREE (-1)

/* What the policy decides from. Host 0 is this host; owner[s] is the
 * index of the host owning slice s, FLEET_FREE when none (this host's
 * slices are those bound to its own etcd lease). */
struct fleet_view {
	uint32_t n_slices;
	const int16_t *owner;
	const struct fleet_host *hosts;
	unsigned n_hosts;
	const int64_t *free_since; /* ms, for free slices */
	const int64_t *created;    /* etcd create_revision of owned slices */
	int64_t now_ms, hold_ms;
	/* this host's target: want slices, or the slices with listed[s] */
	uint32_t want;
	const bool *listed; /* NULL: want = N */
	const bool *busy;   /* slices being released now (may be NULL) */
};

/* Is free slice @s claimable at v->now_ms (seen free for the hold-down)? */
bool fleet_claimable(const struct fleet_view *v, uint32_t s);
/*
 * What this host does now: the slices to claim (at most @max, in the
 * order to try) into @claim, and a slice to give back (-1: none) into
 * *@give. FLEET.md "Which slices a host claims". 0 or -ENOMEM.
 */
int fleet_decide(const struct fleet_view *v, uint32_t *claim, unsigned max,
		 unsigned *n_claim, int32_t *give);

/* ---- fleet.c: the worker thread --------------------------------------- */

/* What the worker publishes; the loop copies it (fleet_read). */
struct fleet_snap {
	uint64_t seq;        /* moves when the map or this host's set moves */
	uint64_t renewals;   /* successful keepalives so far */
	uint64_t requests;   /* etcd requests so far */
	int64_t lease;       /* our etcd lease, 0: none */
	int64_t proven_until; /* monotonic ms; 0: nothing proven */
	bool etcd_up;        /* the last request was answered */
	int64_t etcd_since;  /* monotonic ms of the last up/down change */
	bool conflict;       /* hosts/NAME is bound to another lease */
	bool read_once;      /* a range read has succeeded */
	uint32_t n_slices;
	int16_t owner[SHOAL_MAX_POOL_SLICES];      /* host index, FLEET_FREE */
	bool releasing[SHOAL_MAX_POOL_SLICES];     /* voluntary release asked */
	int64_t free_since[SHOAL_MAX_POOL_SLICES]; /* ms, free slices */
	int64_t created[SHOAL_MAX_POOL_SLICES];    /* create_revision */
	unsigned n_hosts;    /* hosts[0] is this host */
	struct fleet_host hosts[SHOAL_MAX_FLEET_HOSTS + 1];
	/* The other hosts' addresses seen live (a hosts/ key) since the
	 * daemon started: the engine takes their tunnel packets, also from
	 * a host that owns no slice now (between claims, or partitioned
	 * but still in the router's route). */
	uint32_t peers[SHOAL_MAX_FLEET_HOSTS]; /* host order */
	unsigned n_peers;
};

struct fleet;

/* Start the worker for @cfg (copied), resuming etcd lease @lease (0:
 * none); the loop polls fleet_fd(). 0 or -errno with @err. */
int fleet_start(struct fleet **out, const struct sh_fleet_cfg *cfg,
		int64_t lease, char *err, size_t len);
/* Wait at most @ms for the first round (lease and read, or failure). */
void fleet_wait_first(struct fleet *f, int ms);
int fleet_fd(const struct fleet *f); /* readable when the snapshot moved */
/* Copy the snapshot into @out (and drain fleet_fd). */
void fleet_read(struct fleet *f, struct fleet_snap *out);
/* The loop has fenced slice @s for its voluntary release: the engine
 * applied a set without it (or could not be using it): delete its key. */
void fleet_release_done(struct fleet *f, uint32_t s);
/* Stop and join the worker; the etcd lease is kept (a restart resumes
 * it). */
void fleet_stop(struct fleet *f);

#endif /* SHOAL_CTLD_FLEET_H */
