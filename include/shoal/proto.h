/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal control protocol: JSON-RPC 2.0 over a Unix stream socket, one JSON
 * object per line ('\n'-terminated, no embedded newlines). Shared by
 * shoal-ctld, shoalctl and shoal-engine; dependency-free on purpose.
 *
 * Requests and their results (params is an object; absent keys take the
 * defaults given):
 *
 *   status        {}  -> {"version", "software", "pid", "generation", "slices",
 *                         "leases": {"active", "draining"},
 *                         "engine": {"connected", "pid", "generation",
 *                                    "report_age", "refused_generation",
 *                                    "refused_reason"}}
 *                         version: SHOAL_PROTO_VERSION; software: the
 *                         daemon's release (meson.build, e.g. "0.1.0");
 *                         engine.pid: the subscribed engine's process
 *                         (SO_PEERCRED; null without one);
 *                         engine.generation: the lease generation the engine
 *                         last reported applied; report_age: seconds since its
 *                         last report (null if never); refused_*: the lease
 *                         set its last report said it could not apply, and
 *                         why (null when none)
 *                 With [fleet] the result also has
 *                   "fleet": {"host", "etcd": "connected"|"unreachable",
 *                             "valid_ms", "owned", "hosts",
 *                             "etcd_requests", "conflict"}
 *                 slices: the slices leases may take (with [fleet]: the
 *                 owned and proven ones); valid_ms: ms of proven
 *                 ownership left (0: fenced); owned: slices in that set;
 *                 hosts: live hosts (hosts/ keys); etcd_requests: made
 *                 since start; conflict: another live process holds this
 *                 host's name, nothing is claimed (docs/FLEET.md)
 *   slice.list    {}  -> {"slices": [{"ip", "lo", "hi", "leased", "held",
 *                                     "free", "holds": [HOLD, ...]}],
 *                         "fleet": FLEETMAP ([fleet] only)}
 *                         leased: ports in active and draining leases;
 *                         held: ports in holds; free: the rest. With
 *                         [fleet], "slices" are this host's owned and
 *                         proven slices
 *   lease.add     {"holder": str, "kind": "nat"|"socket",
 *                  "clients": [prefix, ...]          (nat: required, 1..16;
 *                                                     all leases' together at
 *                                                     most SHOAL_MAX_SELECTORS),
 *                  "ip": str                         (optional: any slice),
 *                  "ports": "LO-HI" | "size": N      (exactly one),
 *                  "ttl": seconds                    (optional; none = no expiry),
 *                  "mapping": "endpoint-independent" (default) |
 *                             "address-and-port-dependent",
 *                  "filtering": "address-dependent" (default) |
 *                               "endpoint-independent" |
 *                               "address-and-port-dependent"
 *                                                    (nat only: either key on
 *                                                     a socket lease is
 *                                                     invalid_params)}
 *                 -> {"lease": LEASE}
 *                 Hold-down (RFC 6888 REQ-8): once a lease is gone (drained
 *                 and deleted), its ip and ports are held for [nat]
 *                 port_hold_down seconds (default 120; 0 = none): another
 *                 holder asking for any of those ports gets held_down (the
 *                 message says how many seconds remain), and a "size"
 *                 request is placed around them (no_space when only held
 *                 ports are free). The same holder (the same holder string,
 *                 byte for byte) may take them at once. Holds are stored
 *                 and survive a daemon restart.
 *   lease.list    {}  -> {"leases": [LEASE, ...]}      (static ones included)
 *   lease.show    {"id": N} -> {"lease": LEASE}
 *   lease.renew   {"id": N, "ttl": seconds (default: the lease's last ttl)}
 *                 -> {"lease": LEASE}
 *   lease.release {"id": N} -> {"lease": LEASE}       (now "draining")
 *   lease.history {"ip": str, "port": N, "lease": N,  (each optional: events
 *                                                     of leases on that ip,
 *                                                     whose range holds that
 *                                                     port, with that id)
 *                  "since": unix time                (events at or after it),
 *                  "before": N                       (events with seq < N:
 *                                                     the next page back),
 *                  "limit": N (default and max SHOAL_HISTORY_MAX)}
 *                 -> {"events": [EVENT, ...], "truncated": bool}
 *                 the latest matching events, oldest first; truncated:
 *                 older ones match too (ask again with "before" = the
 *                 first event's seq). Every committed lease change is one
 *                 EVENT, written in the change's own transaction, and none
 *                 is ever deleted (docs/CONTROL.md "Audit").
 *   flows         {"lease": N, "client": ip, "limit": N (default 100, max 10000)}
 *                 -> {"flows": [FLOW, ...], "truncated": bool}
 *                 (asked of the engine; error "no_engine" without one)
 *   stats         {}  -> {"counters": {name: N, ...}, "workers": N,
 *                         "report_age": seconds,
 *                         "report_mono_ms": N,
 *                         "flows": N|null,
 *                         "per_worker": [WORKER, ...],
 *                         "lease_usage": [USAGE, ...],
 *                         "lease_usage_partial": bool,
 *                         "top_clients": [CLIENT, ...],
 *                         "netlink": {"overruns": N, "resyncs": N}|null}
 *                         (the engine's last report)
 *                         report_mono_ms: when the daemon received it, in
 *                         CLOCK_MONOTONIC milliseconds (rates: counter
 *                         deltas over the deltas of this); flows: the sum
 *                         of per_worker's flows, null when per_worker is
 *                         empty; per_worker: the valid entries of the last
 *                         report's per_worker, [] when it had none;
 *                         lease_usage: the leases the report listed, by
 *                         id (a lease of the engine's set not listed has
 *                         no flows and no ports unless lease_usage_partial);
 *                         top_clients: the report's clients, as sent;
 *                         netlink: the last report's netlink counters
 *                         (null before a report carried them)
 *   reload        {}  -> {"reloaded": true, "generation": G, "path": file,
 *                         "engine": "reloaded"|"not_connected"}
 *                 re-read the configuration file: first the subscribed
 *                 engine (engine.reload), then the daemon; answered once
 *                 both took it. Refused, with nothing changed, as
 *                 "invalid_config" (message "FILE:LINE: why", the engine's
 *                 prefixed "shoal-engine: "), "no_engine" (the engine did
 *                 not answer within 3 s or went away) or "busy" (another
 *                 reload is in progress). SIGHUP does the same, logged.
 *   engine.upgrade {"binary": absolute path (optional; default: the
 *                             engine's own binary)}
 *                 -> {"old_pid", "new_pid", "binary", "eal_ms", "stop_ms",
 *                     "release_ms", "adopt_ms", "ports_ms", "gap_ms",
 *                     "flows", "discarded"}
 *                 hand the running engine over to a new process of
 *                 @binary without losing a flow (docs/RESTART.md): relayed
 *                 to the subscribed engine as engine.upgrade with the same
 *                 params, answered once the new engine forwards (within
 *                 SHOAL_UPGRADE_TIMEOUT_MS). Times in ms (engine/takeover.h
 *                 struct sh_upgrade_result): eal_ms before the switch;
 *                 gap_ms from the old engine's last forwarded packet to
 *                 the new one's first, negative while the new one has
 *                 forwarded none; flows adopted, entries discarded as not
 *                 whole. Refused as "upgrade_failed" (message: the
 *                 engine's reason; the old engine goes on forwarding
 *                 unless it said otherwise), "no_engine", "busy" (an
 *                 upgrade is in flight) or "invalid_params" (a relative
 *                 path). Root only (role admin).
 *
 *   Lease ids: static leases 1..n in configuration order; dynamic leases
 *   the lowest free id >= 1000 and > n (ids fit 16 bits: the engine's
 *   flows carry them). With [fleet], ids 1..(slices in the pool) are
 *   reserved: [fleet] clients makes one nat lease per owned slice over all
 *   of it, holder "fleet", "static": true, id 1 + the slice's global
 *   index (docs/FLEET.md); lease.add outside the owned slices is
 *   outside_slice ("host NAME does not own that range"), and when a
 *   slice is lost (ownership not proven, or given back) every lease in
 *   it is deleted at once, event "fenced".
 *
 *   FLEETMAP = {"host", "etcd": "connected"|"unreachable", "valid_ms",
 *               "hosts": [{"host", "address", "want", "have"}, ...],
 *               "map": [{"ip", "lo", "hi", "host": str|null,
 *                        "address": str|null,
 *                        "state": "mine"|"fenced"|"releasing"|
 *                                 "owned"|"free",
 *                        "claimable_in": seconds|null}, ...]}
 *            every slice of the pool, as this daemon last read etcd:
 *            mine (bound to this host's etcd lease and proven: leases
 *            and the engine use it), fenced (bound to it, but the proof
 *            ran out: unused until renewed), releasing (being given
 *            back), owned (another host's) or free; claimable_in: for
 *            a free slice, seconds
 *            until this host may claim it (hold-down); hosts: the live
 *            hosts with their hosts/ key's want and have
 *
 *   LEASE = {"id", "holder", "kind", "ip", "lo", "hi", "clients": [...],
 *            "state": "active"|"draining", "static": bool,
 *            "ttl": seconds|null, "expires": unix time|null, "created": unix time,
 *            "flows": N|null (engine's last report),
 *            "mapping": str|null, "filtering": str|null (lease.add's
 *            spellings; null for socket leases)}
 *   HOLD  = {"lo", "hi", "holder": the holder of the lease that left,
 *            "until": unix time the hold ends}
 *   EVENT = {"seq": N (increasing), "time": unix time,
 *            "generation": G (the change's), "event": "grant"|"renew"|
 *            "release"|"expire"|"drained"|"fenced", "lease": id, "holder",
 *            "kind",
 *            "ip", "lo", "hi", "ttl": seconds|null, "expires": unix
 *            time|null (after the change), "uid": N|null, "pid": N|null
 *            (the peer that asked, SO_PEERCRED; null for expire,
 *            drained and fenced, which the daemon makes)}
 *   FLOW  = {"proto": "tcp"|"udp"|"icmp", "client": "ip:port",
 *            "outside": "ip:port", "remote": "ip:port", "lease": N,
 *            "idle": seconds, "tcp": "syn"|"established"|"closing"|null}
 *   USAGE  = {"id": N, "flows": N, "tcp_ports": N, "udp_ports": N,
 *             "exhausted": N}
 *            exhausted: new flows refused ports_exhausted (since the
 *            engine started) whose client's first, most specific lease
 *            searched was this one and full;
 *            ports held by the lease's bindings per protocol (exclusive
 *            leases, nat.h; live or in their hold-down): a lease is full
 *            for a protocol when they reach its range's size. 0 for
 *            shared-port leases (address-and-port-dependent mapping and
 *            filtering), whose ports are shared across destinations;
 *            ICMP echo ids are not counted.
 *   CLIENT = {"client": ip, "flows": N, "outside": ip}
 *            a client address, its live flows, the slice address they use
 *   WORKER = {"worker": 0..SHOAL_MAX_WORKERS-1, "lcore": 0..2^31-1,
 *             "flows": 0..2^32-1, "counters": {name: N, ...},
 *             "partial": bool}
 *            one worker's share: its flows and its non-zero counters, by
 *            the same names as the summed "counters" (the engine leaves
 *            out the last ones, drops first in, when 64 workers' sets
 *            would not fit one SHOAL_MSG_MAX line, and then says
 *            "partial": true; the sums are complete). From the engine,
 *            partial is present only when true.
 *
 * The engine's side of the same socket:
 *
 *   engine.subscribe {"version": SHOAL_PROTO_VERSION}
 *                 -> {"generation": G, "leases": [LEASE, ...]}
 *                 then, whenever the lease set changes, a notification
 *                 {"jsonrpc": "2.0", "method": "leases.update",
 *                  "params": {"generation": G, "leases": [LEASE, ...]}}
 *                 carrying the whole set (at most SHOAL_MAX_LEASES);
 *                 changes made while the engine has not read the last
 *                 update yet come as one update of the latest set.
 *                 The engine reads a LEASE's "mapping" and "filtering"
 *                 (absent or null: the defaults; any other value: the set
 *                 is refused as invalid_lease).
 *                 With [fleet], the result and every leases.update carry
 *                   "fleet": {"host", "valid_ms",
 *                             "slices": [{"ip", "lo", "hi", "host",
 *                                         "address"}, ...],
 *                             "peers": [address, ...]}
 *                 slices: every slice a live host owns as the daemon last
 *                 read etcd, this host's only while proven and not being
 *                 given back; peers (optional for the engine): the
 *                 other hosts seen live since the daemon started, whose
 *                 tunnel packets the engine takes even while they own
 *                 no slice; valid_ms: ms of proven ownership left when
 *                 sent (the engine fences on its own at receive time +
 *                 valid_ms). Every change of the map or of this host's
 *                 slices is a new generation. A set without "fleet" is
 *                 refused invalid_lease by an engine with [fleet].
 *   fleet.valid   (notification from the daemon, [fleet], after each
 *                 renewal of its etcd lease)
 *                 {"generation": G, "valid_ms": N}
 *                 G: the generation the engine was last sent; the engine
 *                 extends its deadline only if it applied G
 *   engine.report (notification from the engine, about once a second)
 *                 {"generation": G applied, "workers": N,
 *                  "counters": {name: N, ...}        (summed over workers),
 *                  "leases": [{"id": N, "flows": N,
 *                              "tcp_ports": N, "udp_ports": N,
 *                              "exhausted": N}, ...]
 *                                                    (the leases with flows,
 *                                                    ports or refusals, USAGE
 *                                                    below, the ports and
 *                                                    exhausted keys absent
 *                                                    when 0; one of the
 *                                                    applied generation that
 *                                                    is not listed has 0),
 *                  "clients": [CLIENT, ...]          (the at most
 *                                                    SHOAL_TOP_CLIENTS
 *                                                    clients with the most
 *                                                    flows, most first),
 *                  "leases_partial": true            (only when the engine
 *                                                    left out leases with
 *                                                    flows to fit the line:
 *                                                    the unlisted ones'
 *                                                    flows are unknown),
 *                  "per_worker": [WORKER, ...]       (optional),
 *                  "netlink": {"overruns": N,        (the kernel mirror's
 *                              "resyncs": N}         event socket: lost
 *                                                    events, full re-dumps;
 *                                                    0 without a mirror),
 *                  "fleet": {"fenced": bool,         (with [fleet] only,
 *                            "valid_ms": N}          docs/FLEET.md: the
 *                                                    engine runs no slice
 *                                                    of its own; ms of
 *                                                    proof left, 0 when
 *                                                    fenced),
 *                  "refused_generation": G,          (only while the last
 *                  "refused_reason": str             set received could not
 *                                                    be applied: the engine
 *                                                    kept generation; reason
 *                                                    at most SHOAL_REASON_MAX
 *                                                    bytes: too_many_leases,
 *                                                    too_many_selectors,
 *                                                    invalid_lease,
 *                                                    malformed (generation
 *                                                    0: unreadable) or
 *                                                    no_memory)}
 *                 The daemon reads each key on its own and ignores one of
 *                 the wrong type. counters keep only their non-negative
 *                 integer members. per_worker is replaced by every report
 *                 (absent: none): entries that are not a WORKER of
 *                 non-negative integers, or repeat a worker index, are
 *                 skipped, and at most SHOAL_MAX_WORKERS are kept. Keys
 *                 the daemon does not know are ignored, so an engine may
 *                 add them without a new SHOAL_PROTO_VERSION.
 *   engine.flows  (request from the daemon TO the engine, same params and
 *                 result as "flows"; the engine answers with the same id)
 *   engine.reload (request from the daemon TO the engine, {}): the engine
 *                 re-reads its file (reload.h) and answers {"reloaded":
 *                 true}, or error "invalid_config" with "FILE:LINE: why"
 *   engine.upgrade (request from the daemon TO the engine, the params
 *                 of engine.upgrade above): the engine starts the handover
 *                 and answers once it is over, with the result above or
 *                 error "upgrade_failed" with its reason, then exits if it
 *                 handed over. During the handover the new engine
 *                 subscribes while the old one's session is still open:
 *                 the newest subscriber is the engine (leases, reports,
 *                 status), and an older session stays open only until it
 *                 has answered the requests already sent to it; its
 *                 reports are ignored.
 *
 * Roles: what a peer may call follows from its SO_PEERCRED at accept
 * (docs/CONTROL.md "Roles"):
 *   read     status, slice.list, lease.list, lease.show, lease.history,
 *            flows, stats: root, the [ctl] group, the [ctl] readers group
 *            and [ctl] engine_user
 *   operate  lease.add, lease.renew, lease.release: root and the [ctl]
 *            group
 *   engine   engine.subscribe (then engine.report, the answers to
 *            engine.flows): root and [ctl] engine_user only
 *   admin    engine.upgrade (it makes the engine run a binary as
 *            root): root only
 * A method above the peer's role is refused permission_denied; a peer
 * with no role is refused it at accept, then closed.
 *
 * Errors are JSON-RPC error objects {"code", "message", "data"} where data
 * is one of the stable reason strings below (what scripts match on);
 * message is for humans.
 */
#ifndef SHOAL_PROTO_H
#define SHOAL_PROTO_H

#define SHOAL_PROTO_VERSION 1

/* Limits the daemon enforces (and clients may rely on). */
#define SHOAL_MSG_MAX 65536       /* bytes in one line, newline included */
/* Lines between the daemon and a subscribed engine may be longer: a full
 * lease set (SHOAL_MAX_LEASES leases with their selectors) does not fit
 * SHOAL_MSG_MAX. Worst case: a LEASE is at most ~420 bytes without its
 * clients (a 63-byte holder of escaped characters is 126, the numbers at
 * their widest, both behaviours the longest spelling), 4096 of them
 * ~1.7 MB, plus SHOAL_MAX_SELECTORS prefixes of at most 21 bytes: under
 * 2 MiB; tests/ctl/test_limits.py measures 1.3 MB for 4096 leases with
 * 63-byte names. The engine keeps its own replies under SHOAL_MSG_MAX; a
 * daemon reply listing every lease (lease.list) is as long as the set,
 * so clients read replies of up to SHOAL_ENGINE_MSG_MAX. */
#define SHOAL_ENGINE_MSG_MAX (4 << 20)
#define SHOAL_CONN_MAX 64         /* concurrent connections */
#define SHOAL_IDLE_TIMEOUT_S 30   /* a client silent this long is closed;
				     the engine's reports keep it alive */
#define SHOAL_MAX_LEASES 4096     /* static + dynamic */
#define SHOAL_MAX_SLICES 1024     /* [slices] entries; slice.list's length */
#define SHOAL_MAX_CLIENTS 16      /* prefixes per nat lease */
/* [fleet]: slices over all pool addresses, and hosts in one fleet map
 * (docs/FLEET.md): what the engine's fleet table holds. */
#define SHOAL_MAX_POOL_SLICES 4096
#define SHOAL_MAX_FLEET_HOSTS 1024
/* Client prefixes (selectors) over all leases, static + dynamic: what the
 * engine's lease set holds. The configuration and lease.add stay within
 * it, so a set the daemon acknowledged is one the engine can apply. One
 * per lease on average: every lease may be a nat lease, and the engine's
 * slow path scans them for a new client's lease. */
#define SHOAL_MAX_SELECTORS 4096
#define SHOAL_HOLDER_MAX 63       /* bytes of a holder name */
#define SHOAL_REASON_MAX 63       /* bytes of an engine.report refused_reason */
#define SHOAL_MAX_WORKERS 64      /* [engine] workers, and a report's per_worker */
/* Events in one lease.history reply. At most ~450 bytes each (a 63-byte
 * holder of escaped characters is 126, every number at its widest), so
 * a full reply stays under SHOAL_MSG_MAX (ctl/ctld/json.c checks it). */
#define SHOAL_HISTORY_MAX 100
#define SHOAL_TOP_CLIENTS 10      /* a report's busiest clients (stats top_clients) */
/* How long the daemon waits for the engine's answer to engine.upgrade:
 * the engine's whole handover (engine/takeover.h SH_TAKEOVER_TIMEOUT_MS,
 * 30 s) and 5 s for it to say how it went. A client waits longer. */
#define SHOAL_UPGRADE_TIMEOUT_MS 35000

/* JSON-RPC 2.0 error codes */
#define SHOAL_ERR_PARSE -32700
#define SHOAL_ERR_INVALID_REQUEST -32600
#define SHOAL_ERR_METHOD -32601
#define SHOAL_ERR_PARAMS -32602
#define SHOAL_ERR_INTERNAL -32603
#define SHOAL_ERR_REFUSED -32000 /* a valid request the daemon refuses */

/* Stable reasons in error.data */
#define SHOAL_R_PARSE_ERROR "parse_error"         /* not JSON */
#define SHOAL_R_INVALID_REQUEST "invalid_request" /* not a JSON-RPC 2.0 request */
#define SHOAL_R_METHOD_NOT_FOUND "method_not_found"
#define SHOAL_R_INVALID_PARAMS "invalid_params"   /* missing/extra/ill-typed */
#define SHOAL_R_TOO_LARGE "message_too_large"     /* line over SHOAL_MSG_MAX */
#define SHOAL_R_OVERLAP "overlap"                 /* ports held by another lease */
#define SHOAL_R_OUTSIDE_SLICE "outside_slice"     /* ip/ports not in one slice */
#define SHOAL_R_NO_SPACE "no_space"               /* no free range of that size */
#define SHOAL_R_TOO_MANY "too_many_leases"        /* SHOAL_MAX_LEASES reached */
#define SHOAL_R_TOO_MANY_SELECTORS "too_many_selectors" /* clients over
							   SHOAL_MAX_SELECTORS */
#define SHOAL_R_NOT_FOUND "not_found"             /* no lease with that id */
#define SHOAL_R_STATIC "static_lease"             /* static leases are the config's */
#define SHOAL_R_DRAINING "draining"               /* renew of a released lease */
#define SHOAL_R_NO_ENGINE "no_engine"             /* needs a connected engine */
#define SHOAL_R_BUSY "busy"                       /* connection limit reached,
							   or a reload or an
							   upgrade in flight */
#define SHOAL_R_PERMISSION "permission_denied"    /* peer has no role, or its
							   role may not call
							   the method */
#define SHOAL_R_HELD_DOWN "held_down"            /* ports in another holder's
							   hold-down */
#define SHOAL_R_INVALID_CONFIG "invalid_config"   /* reload: the file is
							   refused, message
							   "FILE:LINE: why";
							   nothing changed */
#define SHOAL_R_UPGRADE_FAILED "upgrade_failed"   /* engine.upgrade: the
							   engine's reason in
							   message */
#define SHOAL_R_INTERNAL "internal"               /* storage failure etc. */

#endif /* SHOAL_PROTO_H */
