/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal NAT core: source NAT of client flows into leased port ranges.
 *
 * Plain C with no EAL dependency, so the unit tests drive it on byte
 * buffers with a virtual clock. The engine's worker wraps it around mbufs.
 * docs/DESIGN.md has the picture; the contracts are here.
 *
 * Ownership
 *   struct nat_worker   one per worker lcore, written only by that lcore:
 *                       flow table, port-search state, counters.
 *   struct nat_lease_set  immutable snapshot of leases and slices. The
 *                       control plane builds a new one and swaps a pointer
 *                       (RCU: workers load it once per burst; the old one
 *                       is freed after every worker reported quiescence).
 *                       Flows never point into it: they carry their own
 *                       addresses and ports, so a swap needs no flow walk.
 *
 * Ports belong to workers
 *   A worker creates only outside 5-tuples it owns (steer.h): with the
 *   outside NIC's RSS known, tuples whose return packets the NIC hashes to
 *   the worker's own queue; otherwise ports with P % n_workers == id.
 *   Return traffic therefore finds its owner from the packet alone (in
 *   hardware, or through the engine's handoff rings), and no two workers
 *   can create the same outside 5-tuple.
 *
 * Mappings and filtering (RFC 4787, RFC 5382; per lease, enum sh_mapping
 * and enum sh_filtering)
 *   A lease with address-and-port-dependent mapping and filtering shares
 *   outside ports across destinations (RFC 7857 §3): a port is free when
 *   its outside 5-tuple is. Every other lease is "exclusive": an outside
 *   port belongs to one client endpoint at a time, recorded in a binding,
 *   a pseudo-entry of the flow table (flags NAT_FLOW_BIND, remote 0:0)
 *   whose inside key is the client endpoint and whose outside key is the
 *   slice endpoint. Endpoint-independent mapping reuses the binding for
 *   every destination; address-dependent filtering adds a permission
 *   entry (NAT_FLOW_PERMIT, remote address:0) per remote address the
 *   endpoint has sent to. Both count the flows that use them (pkts) and
 *   are freed with their last flow; a binding then lingers for the port
 *   hold-down, so only the same client endpoint may take its port again
 *   (RFC 6888 REQ-8). A shared-port flow lingers itself instead
 *   (NAT_FLOW_HELD). TCP and UDP only: ICMP echo keeps its id mapping.
 *   An exclusive binding's worker is nat_be16(port) % n_workers whatever
 *   the steer, so a packet from a remote that has no flow yet (which RSS
 *   may land anywhere) is handed to the one worker that can filter it.
 *
 * Byte order
 *   Addresses and ports inside keys and flows are in network order, as
 *   they sit in the packet: the fast path never swaps. Lease bounds
 *   (lo/hi) are host order because they are compared as numbers.
 *
 * Verdicts
 *   Packet functions return SH_OK (forward), NAT_KERNEL (Linux's packet:
 *   the caller punts it or counts SH_DROP_NO_EXCEPTION_PATH), NAT_HAIRPIN
 *   or NAT_HANDOFF (below), or one SH_DROP_* reason which the caller
 *   counts; the fragment functions also NAT_FRAG_HOLD (frag.h). They
 *   never free or send.
 */
#ifndef SHOAL_NAT_H
#define SHOAL_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/counters.h>

#include "config.h"
#include "frag.h"
#include "steer.h"

#define NAT_KERNEL ((unsigned)SH_COUNTER_MAX)
/* Another worker owns the mapping this packet needs: hand it to worker
 * nat_pkt.to_worker (see "Mappings and filtering"). */
#define NAT_HANDOFF (NAT_KERNEL + 1)
/* nat_in2out() translated a client packet whose destination is a slice
 * address: the caller runs it through the outside path (its owner's
 * nat_out2in()) and sends it back inside (hairpinning, RFC 4787 REQ-9). */
#define NAT_HAIRPIN (NAT_KERNEL + 2)

/*
 * Port search budget: how many candidate ports one new flow may probe.
 * Each probe is one hash lookup (~one cache miss), so 128 probes bound the
 * slow path to a few microseconds even when a lease is nearly full; a
 * worker's share of a lease that is no larger than this is searched
 * exhaustively, so small leases never report a false "exhausted".
 * (Linux nf_nat_core caps its unique-tuple search at 128 for the same
 * reason.)
 */
#define NAT_PORT_ATTEMPTS 128

/*
 * RFC 6056 algorithm 4 ("double-hash"): per-destination offsets so that
 * consecutive flows to one popular destination start probing just past the
 * previous allocation instead of re-walking a growing cluster.
 */
#define NAT_PORT_TABLE_SIZE 4096

/*
 * Longest probe sequence the flow hash tables accept. The tables are kept
 * at most half full, where linear probing averages ~1.5 probes per hit; an
 * insert that would need more than this is refused (counted table_full),
 * which in turn bounds every lookup.
 */
#define NAT_MAX_PROBE 32

#define NAT_MAX_LEASES SH_CFG_MAX_LEASES
#define NAT_MAX_MATCH SHOAL_MAX_SELECTORS

/* The (local, remote) view of a flow, on either side of the translation. */
struct nat_key {
	uint32_t local_ip;   /* client (inside key) or slice (outside key) */
	uint32_t remote_ip;  /* destination host */
	uint16_t local_port; /* client port / slice port / ICMP echo id */
	uint16_t remote_port; /* 0 for ICMP echo */
	uint8_t proto;
	uint8_t pad[3];
};

/* TCP light state, bits in nat_flow.tcp */
#define NAT_TCP_SYN_IN 0x01
#define NAT_TCP_SYN_OUT 0x02
#define NAT_TCP_FIN_IN 0x04  /* the client closed its side */
#define NAT_TCP_RST 0x08
#define NAT_TCP_FIN_OUT 0x10 /* the remote closed its side */
#define NAT_TCP_FIN (NAT_TCP_FIN_IN | NAT_TCP_FIN_OUT)

/* nat_flow.flags */
#define NAT_FLOW_BIND 0x01   /* pseudo: a client endpoint's outside port */
#define NAT_FLOW_PERMIT 0x02 /* pseudo: a remote address a binding sent to */
#define NAT_FLOW_HELD 0x04   /* pseudo: an expired shared-port flow held
			      * for the hold-down */
#define NAT_FLOW_PSEUDO (NAT_FLOW_BIND | NAT_FLOW_PERMIT | NAT_FLOW_HELD)
#define NAT_FLOW_HOLD 0x08   /* real: becomes HELD when it expires */
#define NAT_FLOW_BOUND 0x10  /* real: uses a binding (and, with
			      * NAT_FLOW_PERMITTED, a permission) */
#define NAT_FLOW_PERMITTED 0x20

/* A pseudo-entry's proto is the protocol it stands for with this bit
 * set: its keys live apart from every packet's, so the fast path's
 * lookups never meet one and need no test for them. */
#define NAT_PROTO_PSEUDO 0x80

/*
 * One flow. 32 bytes: two per cache line. proto == 0 marks a free entry.
 * Both hash tables index the same entry; their keys are derived from it.
 * Pseudo-entries (NAT_FLOW_PSEUDO, see "Mappings and filtering") share
 * the table under keys no packet has (NAT_PROTO_PSEUDO).
 */
struct nat_flow {
	uint32_t in_ip;    /* client address */
	uint32_t out_ip;   /* slice address */
	uint32_t rem_ip;   /* remote (destination) address */
	uint16_t in_port;  /* client port or echo id */
	uint16_t out_port; /* leased port or translated echo id */
	uint16_t rem_port; /* remote port, 0 for ICMP */
	uint8_t proto;
	uint8_t tcp;        /* NAT_TCP_* */
	uint32_t last_seen; /* ms, worker clock */
	uint16_t lease;     /* lease id at creation (for usage reports) */
	uint16_t flags;     /* NAT_FLOW_* */
	uint32_t pkts;      /* packets both ways, saturating; pseudo-entries
			     * BIND and PERMIT: flows using them */
};

/* One hash-table slot: 0 idx means empty; otherwise flow index + 1. */
struct nat_slot {
	uint32_t sig; /* upper half of the key hash */
	uint32_t idx;
};

/* Flows per client: the per-client port cap, and paired pooling (RFC 6888
 * REQ-2: every flow of a client uses one slice address while any lives). */
struct nat_client_slot {
	uint32_t ip; /* network order; 0 = empty */
	uint32_t flows;
	uint32_t out_ip; /* the slice address its flows use */
	uint32_t pad;
};

enum nat_lease_state {
	NAT_LEASE_ACTIVE = 0,
	NAT_LEASE_DRAINING, /* no new flows; existing ones continue */
};

struct nat_lease {
	uint32_t id;
	uint32_t ip;     /* network order */
	uint16_t lo, hi; /* host order, inclusive */
	uint8_t kind;    /* enum sh_lease_kind */
	uint8_t state;   /* enum nat_lease_state */
	uint8_t mapping;   /* enum sh_mapping (nat leases) */
	uint8_t filtering; /* enum sh_filtering (nat leases) */
	char name[SH_CFG_NAME_LEN];
};

/* What nat_lease_set_add() takes: @ip network order, @lo/@hi host order,
 * @clients host-order prefixes as in config.h. */
struct nat_lease_spec {
	uint32_t id;
	const char *name;
	enum sh_lease_kind kind;
	enum nat_lease_state state;
	enum sh_mapping mapping;
	enum sh_filtering filtering;
	uint32_t ip;
	uint16_t lo, hi;
	const struct sh_prefix *clients;
	unsigned n_clients;
};

/* Client selector entry: clients in net/mask use lease[lease]. */
struct nat_match {
	uint32_t net, mask; /* network order */
	uint16_t lease;     /* index into leases[] */
	uint8_t len;
};

struct nat_slice {
	uint32_t ip; /* network order */
	uint16_t lo, hi;
};

/* Slice addresses, open addressing (0 = empty), at most half full. */
#define NAT_SLICE_IP_SLOTS (2 * SH_CFG_MAX_SLICES)
_Static_assert((NAT_SLICE_IP_SLOTS & (NAT_SLICE_IP_SLOTS - 1)) == 0,
	       "NAT_SLICE_IP_SLOTS must be a power of two");

/* nat_lease_find()'s sorted index: host-order ip << 16 | lo. */
struct nat_lease_key {
	uint64_t key;
	uint32_t lease; /* index into leases[] */
	uint32_t pad;
};

/*
 * Fleet (docs/FLEET.md): which host owns each slice of the pool, as
 * nat_lease_set.fleet_owner[] holds it. A peer's value is NAT_FLEET_PEER
 * + its index in fleet_peer[], which is sorted by address so that a
 * tunnel packet's source is found by binary search.
 */
#define NAT_FLEET_NONE 0 /* no live host owns the slice */
#define NAT_FLEET_SELF 1 /* this host does */
#define NAT_FLEET_PEER 2 /* + i: peer i */
#define NAT_FLEET_MAX_SLICES SHOAL_MAX_POOL_SLICES
#define NAT_FLEET_MAX_PEERS SHOAL_MAX_FLEET_HOSTS
/* The outer IPv4 and UDP headers of a packet carried to its owner (GUE
 * variant 1: the inner IPv4 packet right after the UDP header). */
#define NAT_FLEET_OVERHEAD 28

/* Immutable once published; see "Ownership" above. */
struct nat_lease_set {
	uint64_t generation;
	unsigned n_leases, n_match, n_slices;
	bool any_exclusive; /* some nat lease is (nat_lease_exclusive()) */
	/* [fleet] configured: the slices are the pool's addresses, owned as
	 * fleet_owner[] says (the fields from fleet_self_ip on). */
	bool fleet;
	/* The engine's own addresses and their subnets' directed broadcasts,
	 * network order: traffic to them is Linux's. */
	uint32_t host_ips[8];
	unsigned n_host_ips;
	uint32_t side_addr[2]; /* own address per side (inside, outside), 0 = none */
	struct nat_lease leases[NAT_MAX_LEASES];
	struct nat_match match[NAT_MAX_MATCH]; /* longest prefix first */
	struct nat_slice slices[SH_CFG_MAX_SLICES];
	uint32_t slice_ips[NAT_SLICE_IP_SLOTS];
	/* The longest prefix common to every slice address (network order):
	 * most addresses fail this before the table is probed. */
	uint32_t slice_net, slice_mask;
	struct nat_lease_key by_port[NAT_MAX_LEASES]; /* n_leases, sorted */
	/* Per slice_ips[] slot: that address's index in slices[]. */
	uint16_t slice_pos[NAT_SLICE_IP_SLOTS];
	/* ---- fleet (docs/FLEET.md), valid when @fleet ---- */
	uint32_t fleet_self_ip; /* network order: [fleet] address */
	uint16_t fleet_port;    /* network order: the tunnel's UDP port */
	uint16_t fleet_lo;      /* host order: first port of the pool range */
	uint32_t fleet_span;    /* ports in the pool range */
	uint32_t fleet_size;    /* ports per slice */
	uint32_t fleet_per_ip;  /* slices per pool address */
	uint64_t fleet_inv;     /* ceil(2^32 / fleet_size): port offset to
				 * slice without a division */
	/* Times the engine fenced since it started: worker 0 mirrors it in
	 * its fleet_fenced counter (the main lcore writes no counters). */
	uint64_t fleet_fences;
	unsigned n_fleet_slices; /* n_slices * fleet_per_ip */
	unsigned n_peers;
	uint16_t fleet_owner[NAT_FLEET_MAX_SLICES]; /* NAT_FLEET_* */
	uint32_t fleet_peer[NAT_FLEET_MAX_PEERS];   /* network order, sorted */
};

enum nat_timeout_class {
	NAT_TO_UDP = 0,
	NAT_TO_TCP_EST,
	NAT_TO_TCP_TRANS,
	NAT_TO_ICMP,
	NAT_TO_MAX,
};

struct nat_params {
	unsigned worker_id, n_workers;
	uint32_t max_flows;
	uint32_t max_ports_per_client; /* 0 = unlimited */
	uint32_t timeout_s[NAT_TO_MAX];
	uint32_t hold_down_s; /* port hold-down (sh_nat_cfg.port_hold_down) */
	uint64_t secret[2]; /* per-boot random key for hashing and ports */
	uint16_t mss_clamp; /* TCP SYNs' MSS at most this; 0 = off */
	/* The outside port's steer (read-only, outlives the worker); NULL:
	 * ports by P % n_workers. */
	const struct nat_steer *steer;
	/* Zeroed, 64-byte aligned memory; lets the engine use NUMA-local
	 * hugepages and the tests use libc. */
	void *(*zalloc)(size_t size, void *ctx);
	void (*free)(void *p, void *ctx);
	void *mem_ctx;
	/* Where the tables live: NULL, memory from zalloc; else a segment
	 * of nat_seg_bytes(max_flows) bytes, 64-byte aligned, that outlives
	 * the process (the engine's state file; see "persist.c"). */
	void *seg;
};

struct nat_table {
	struct nat_flow *flows; /* max_flows entries */
	uint32_t *free_stack;   /* indices of free entries */
	uint32_t n_free;
	uint32_t max_flows;
	struct nat_slot *in_slots, *out_slots; /* mask + 1 each */
	uint32_t mask;
	struct nat_client_slot *clients;
	uint32_t client_mask;
	uint32_t sweep_pos; /* next entry the expiry sweep looks at */
};

struct nat_worker {
	unsigned id, n_workers;
	const struct nat_steer *steer; /* see nat_params */
	uint32_t now; /* ms; set by the owner before each burst */
	uint32_t timeout_ms[NAT_TO_MAX];
	uint32_t max_ports_per_client;
	uint32_t hold_ms;
	uint32_t n_pseudo; /* table entries that are not flows */
	uint16_t mss_clamp; /* see nat_params */
	uint64_t secret[2];
	struct nat_table t;
	uint16_t port_offset[NAT_PORT_TABLE_SIZE];
	/* Live flows per lease id (ids fit 16 bits, see proto.h); read by
	 * the main lcore for usage reports. */
	uint32_t *lease_flows;
	/* Outside ports taken per lease id and protocol: the bindings of
	 * exclusive leases (live or in their hold-down), one per port, at
	 * [id * 2 + (proto == UDP)]. Written with the bindings (slow path),
	 * read by the main lcore for usage reports (nat_lease_ports). */
	uint32_t *lease_ports;
	/* Per lease id: new flows refused ports_exhausted after a search of
	 * this lease found no free port (slow path; nat_lease_exhausted). */
	uint64_t *lease_exhausted;
	void (*free)(void *p, void *ctx);
	void *mem_ctx;
	struct nat_seg_hdr *seg; /* the tables' segment, NULL: zalloc'd */
	struct nat_frag_table frag; /* fragments, see frag.h */
	uint64_t cnt[SH_COUNTER_MAX] __attribute__((aligned(64)));
};

/* A parsed frame: pointers into the caller's buffer. */
struct nat_pkt {
	uint8_t *ip;     /* IPv4 header */
	uint8_t *l4;     /* TCP/UDP/ICMP header */
	uint16_t l2_len; /* Ethernet (+ 802.1Q) */
	uint16_t ip_len; /* IPv4 total length */
	uint16_t l4_len; /* ip_len minus the IPv4 header */
	uint8_t proto;
	bool hairpin;       /* a client's packet turned around (NAT_HAIRPIN):
			     * its source is a slice mapping, not a remote */
	uint16_t to_worker; /* set with the NAT_HANDOFF verdict */
	uint8_t frag;    /* 0, NAT_PKT_FIRST or NAT_PKT_LATER (frag.h) */
};

/* The packet an ICMP error quotes: pointers into the error's frame. */
struct nat_quote {
	uint8_t *ip, *l4;
	uint32_t l4_avail; /* quoted bytes after the quoted IPv4 header */
	uint8_t proto;
};

/* ---- nat.c: worker lifetime, clock, expiry ---- */

/* Allocate a worker's state; NULL with errno on failure. Any thread; the
 * memory is then owned by the worker lcore alone. */
struct nat_worker *nat_worker_create(const struct nat_params *p);
/* Take @p's tunables (timeouts, max_ports_per_client, hold_down_s,
 * mss_clamp; the rest of @p is ignored) from now on: a reload. The
 * timeouts apply to existing flows at their next expiry check. Owner
 * only, between bursts. */
void nat_worker_tune(struct nat_worker *w, const struct nat_params *p);
void nat_worker_destroy(struct nat_worker *w);

/* Retire expired flows among the next @budget table entries (a clock
 * hand, so one call never scans the whole table) and free pseudo-entries
 * whose hold-down ended. Returns flows retired. Owner lcore only. */
unsigned nat_expire(struct nat_worker *w, unsigned budget);

/* Number of live flows, pseudo-entries not included (owner lcore, or
 * approximate from others). */
uint32_t nat_flow_count(const struct nat_worker *w);

/* ---- persist.c: tables that outlive the process ----
 *
 * A worker's tables can live in a segment of a file (nat_params.seg)
 * that a later process maps again: after a handover, where the old
 * process synced them (nat_worker_sync) with its workers stopped at a
 * burst boundary, they are adopted as they are; after a crash, where
 * the owner died at any instruction, only the flow entries are trusted,
 * one by one, and every index is rebuilt from them.
 *
 * An entry is whole or free, never in between, because the writer
 * orders its stores: nat_flow_add() writes an entry with proto 0 and
 * publishes it by storing proto last; nat_flow_del() clears proto first.
 * A live entry is only ever changed one aligned field at a time
 * (last_seen, pkts, tcp), and each such store is atomic with respect to
 * the process dying. Adoption after a crash still checks each entry's
 * structure (nat_flow_whole), refuses duplicate keys and recounts the
 * users of bindings and permissions, so an entry that is not whole is
 * discarded and counted, never translated with.
 *
 * Segment: struct nat_seg_hdr, then flows, free stack, both slot
 * arrays, client slots, and the per-lease counters, each 64-byte
 * aligned. NAT_LAYOUT names this layout and struct nat_flow's; any
 * change to either must bump it, and a segment of another layout is
 * refused, never read.
 */
#define NAT_LAYOUT 1
#define NAT_SEG_MAGIC 0x31474553414f4853ull /* "SHOASEG1" */

struct nat_seg_hdr {
	uint64_t magic;
	uint32_t layout;    /* NAT_LAYOUT */
	uint32_t flow_size; /* sizeof(struct nat_flow) */
	uint32_t worker_id, n_workers;
	uint32_t max_flows;
	uint32_t clean; /* 1: synced with the worker stopped, indices exact */
	uint64_t secret[2];
	/* Copied at nat_worker_sync(), trusted only when clean. */
	uint32_t n_free, sweep_pos, n_pseudo, pad;
	uint16_t port_offset[NAT_PORT_TABLE_SIZE];
};

/* What adoption found. */
struct nat_adopt_stats {
	bool rebuilt;       /* not clean: indices rebuilt from the entries */
	uint32_t flows;     /* live flows adopted (pseudo-entries aside) */
	uint32_t pseudo;    /* bindings, permissions, held tuples adopted */
	uint32_t torn;      /* entries discarded as not whole */
	uint32_t duplicate; /* entries discarded: a key already taken */
	uint32_t no_slot;   /* entries discarded: no slot within
			     * NAT_MAX_PROBE of their key's home (a table
			     * near full, indexed in another order) */
	uint32_t unbound;   /* flows discarded: their binding or permission
			     * was not there */
};

/* Bytes of a segment for @max_flows. */
size_t nat_seg_bytes(uint32_t max_flows);

/* Can @seg be adopted by a worker with @p (its worker_id, n_workers,
 * max_flows)? 0; -ENOENT when it was never written (no magic);
 * -EPROTO when it has another layout; -EINVAL when its shape differs.
 * @why says which, in words. Reads the header only. */
int nat_seg_check(const void *seg, const struct nat_params *p, char *why,
		  size_t len);

/* A worker on the tables in @p->seg (nat_seg_check() first): as they
 * are when the segment is clean, else rebuilt from the entries. The
 * secret is the segment's (@p->secret is ignored), so keys hash where
 * they did. The segment is marked in use before this returns. NULL
 * with errno on failure. */
struct nat_worker *nat_worker_adopt(const struct nat_params *p,
				    struct nat_adopt_stats *st);

/* Record @w's table state in its segment and mark it clean: the owner
 * has stopped for good (a handover or a clean exit). Owner, or any
 * thread once the owner has stopped. No-op without a segment. */
void nat_worker_sync(struct nat_worker *w);

/* Does @f look like an entry some nat_flow_add() completed (protocol,
 * flags and keys consistent)? Pure. */
bool nat_flow_whole(const struct nat_flow *f);

/* ---- lease.c: lease sets ---- */

/* Build a lease set from the static configuration. 0 or -EINVAL. */
int nat_lease_set_from_config(struct nat_lease_set *ls,
			      const struct sh_config *cfg);

/*
 * Building a lease set piece by piece (the control plane's snapshots):
 * start from the configuration's slices and host addresses without its
 * leases, add each lease, then finish (sorts the client selectors).
 * 0, -EDQUOT (NAT_MAX_LEASES reached), -EOVERFLOW (NAT_MAX_MATCH
 * selectors reached) or -EINVAL (id 0, bad range or prefix).
 */
void nat_lease_set_begin(struct nat_lease_set *ls, const struct sh_config *cfg,
			 uint64_t generation);
int nat_lease_set_add(struct nat_lease_set *ls, const struct nat_lease_spec *s);
void nat_lease_set_finish(struct nat_lease_set *ls);

/* Most specific active nat lease for @client, starting after match entry
 * @from (pass -1 first). Returns a match index or -1. */
int nat_lease_match(const struct nat_lease_set *ls, uint32_t client, int from);

/* Lease holding (@ip, @port); @ip network order, @port host order. NULL if
 * none. A binary search of by_port (leases never overlap). */
const struct nat_lease *nat_lease_find(const struct nat_lease_set *ls,
				       uint32_t ip, uint16_t port);

/* Is @ip (network order) a slice address? Inline: every outside packet
 * and every client packet (hairpinning) asks. */
static inline uint32_t nat_slice_ip_slot(uint32_t ip)
{
	return (ip * 2654435761u) & (NAT_SLICE_IP_SLOTS - 1);
}

static inline bool nat_is_slice_ip(const struct nat_lease_set *ls, uint32_t ip)
{
	uint32_t pos = nat_slice_ip_slot(ip);

	if ((ip & ls->slice_mask) != ls->slice_net)
		return false;
	/* Terminates: the table is at most half full. */
	while (ls->slice_ips[pos] != ip) {
		if (ls->slice_ips[pos] == 0)
			return false;
		pos = (pos + 1) & (NAT_SLICE_IP_SLOTS - 1);
	}
	return ip != 0;
}

/* Index in ls->slices of slice address @ip (network order), or -1. The
 * probe is nat_is_slice_ip()'s; sharing one helper cost the fast path
 * 3 instructions per packet (bench icount), so each keeps its own. */
static inline int nat_slice_index(const struct nat_lease_set *ls, uint32_t ip)
{
	uint32_t pos = nat_slice_ip_slot(ip);

	if ((ip & ls->slice_mask) != ls->slice_net || ip == 0)
		return -1;
	/* Terminates: the table is at most half full. */
	while (ls->slice_ips[pos] != ip) {
		if (ls->slice_ips[pos] == 0)
			return -1;
		pos = (pos + 1) & (NAT_SLICE_IP_SLOTS - 1);
	}
	return ls->slice_pos[pos];
}

/* nat_dst_is_local(): see flow_lookup.h (once per packet, inline). */

/* Verdict for an outside packet to slice (@ip, @port_be) with no flow
 * and no binding that admits it: NAT_KERNEL (socket lease),
 * SH_DROP_UNSOLICITED or SH_DROP_NOT_LEASED. */
unsigned nat_out2in_miss(const struct nat_lease_set *ls, uint32_t ip,
			 uint16_t port_be);

/* Does @l give each outside port to one client endpoint (a binding)? */
static inline bool nat_lease_exclusive(const struct nat_lease *l)
{
	return l->mapping != SH_MAPPING_APDM || l->filtering != SH_FILTERING_APDF;
}

/* ---- fleet.c: slices owned across hosts (docs/FLEET.md) ---- */

/*
 * Owner of pool port (@ip, @port_be) (network order) in @ls, a fleet
 * set: NAT_FLEET_NONE, NAT_FLEET_SELF or NAT_FLEET_PEER + i; -1 when
 * @ip is no pool address or @port_be lies outside the pool's ports (no
 * slice: the packet takes the local path). The slice-address probe, a
 * multiply and one load. Any lcore.
 */
static inline int nat_fleet_owner(const struct nat_lease_set *ls, uint32_t ip,
				  uint16_t port_be)
{
	int i = nat_slice_index(ls, ip);
	uint32_t off = (uint32_t)nat_be16(port_be) - ls->fleet_lo;

	if (i < 0 || off >= ls->fleet_span)
		return -1;
	/* off < 2^16 and fleet_size < 2^16: the product's high word is
	 * off / fleet_size exactly (the rounding error stays below 2^-16,
	 * less than the 1 / fleet_size a fraction may lack). */
	return ls->fleet_owner[(uint32_t)i * ls->fleet_per_ip +
			       (uint32_t)((off * ls->fleet_inv) >> 32)];
}

/* Does this host own the slice of flow @f's outside address and port?
 * The fleet fence of nat_in2out(): false for a port outside every slice
 * too. */
static inline bool nat_fleet_owns(const struct nat_lease_set *ls,
				  const struct nat_flow *f)
{
	return nat_fleet_owner(ls, f->out_ip, f->out_port) == NAT_FLEET_SELF;
}

/*
 * Owner of an outside packet @p (not a fragment) to a pool address, by
 * its port (FLEET.md "To a pool address"): the TCP/UDP destination
 * port, an echo reply's id, an ICMP error's quoted source port or echo
 * id. -1 as nat_fleet_owner(), also for packets with no such port
 * (other ICMP types, quotes nat_quote_parse() refuses): the local path
 * has a verdict for those. Read-only; any lcore.
 */
int nat_fleet_pkt_owner(const struct nat_lease_set *ls,
			const struct nat_pkt *p);

/* Is @p (parsed, outside) a tunnel packet to this host: UDP to
 * fleet_self_ip, port fleet_port, not a fragment? */
static inline bool nat_fleet_is_tunnel(const struct nat_lease_set *ls,
				       const struct nat_pkt *p)
{
	return p->proto == NAT_PROTO_UDP && !p->frag &&
	       ld32(p->ip + IP4_DST) == ls->fleet_self_ip &&
	       ld16(p->l4 + L4_DPORT) == ls->fleet_port;
}

/* Index of peer @ip (network order) in ls->fleet_peer, or -1. */
int nat_fleet_peer_index(const struct nat_lease_set *ls, uint32_t ip);

/*
 * Check the outer headers of tunnel packet @p (nat_fleet_is_tunnel()):
 * SH_OK when its source is a peer in the map and it carries, right
 * after a 20-byte IPv4 and an 8-byte UDP header whose lengths agree,
 * an IPv4 packet exactly as long as the rest; SH_DROP_PEER_UNKNOWN or
 * SH_DROP_PEER_MALFORMED. The caller strips NAT_FLEET_OVERHEAD bytes
 * and parses the inner packet. Read-only; any lcore.
 */
unsigned nat_fleet_decap_check(const struct nat_lease_set *ls,
			       const struct nat_pkt *p);

/*
 * Build at @hdr the NAT_FLEET_OVERHEAD bytes that carry an IPv4 packet
 * of @inner_len bytes from this host (@ls->fleet_self_ip) to peer @dst
 * (network order): IPv4 (TTL 64, DF, id 0, checksum) and UDP (source
 * port 49152 | (@hash & 0x3fff), destination fleet_port, checksum 0).
 * Pure.
 */
void nat_fleet_encap(uint8_t *hdr, const struct nat_lease_set *ls,
		     uint32_t dst, uint16_t inner_len, uint32_t hash);

/* A hash of the flow of IPv4 packet @ip whose L4 ports (echo id) are
 * @sport, @dport (network order): spreads the tunnel's UDP source port
 * over flows, alike for every packet and fragment of one flow. Pure. */
uint32_t nat_fleet_flow_hash(const uint8_t *ip, uint16_t sport,
			     uint16_t dport);

/*
 * Building a set's fleet map (control plane, between
 * nat_lease_set_begin() and nat_lease_set_finish()):
 * nat_fleet_add() records that slice @ip:@lo-@hi (@ip network order,
 * @lo/@hi host order) is this host's (@self) or the peer's at @peer
 * (network order). 0; -EINVAL when it is not exactly one slice of the
 * pool, is listed twice, or a peer has this host's address; -EDQUOT
 * past NAT_FLEET_MAX_PEERS peers. nat_lease_set_finish() sorts the
 * peers.
 */
int nat_fleet_add(struct nat_lease_set *ls, uint32_t ip, uint16_t lo,
		  uint16_t hi, bool self, uint32_t peer);

/* Record @peer (network order) as a fleet host whose tunnel packets are
 * taken, whether or not it owns a slice (a host between slices, or one
 * that left within the hold-down, still carries returns here). Its
 * index in fleet_peer (until nat_fleet_finish() sorts them), or -EINVAL
 * (0, or this host's address) / -EDQUOT as nat_fleet_add(). */
int nat_fleet_add_peer(struct nat_lease_set *ls, uint32_t peer);

/* Sort @ls's peers by address, renumbering the owners that name them
 * (nat_lease_set_finish() calls it). */
void nat_fleet_finish(struct nat_lease_set *ls);

/* @ls with no leases, no selectors and no slice of its own, the fleet's
 * other owners kept: what a host that cannot prove ownership runs. */
void nat_fleet_fence(struct nat_lease_set *ls);

/* ---- kernel.c ---- */

/*
 * Kernel egress policy for a frame Linux sent through a mirror: a packet
 * whose source is a slice address must carry a port (TCP/UDP source port,
 * ICMP echo id, or for an ICMP error the quoted packet's destination port)
 * inside a socket lease. Returns SH_OK or SH_DROP_KERNEL_PORT_VIOLATION
 * (also for what cannot be checked: non-first fragments, truncated or
 * other-protocol packets from a slice address). Read-only; any lcore.
 */
unsigned nat_kernel_egress_check(const struct nat_lease_set *ls,
				 const uint8_t *frame, uint32_t len);

/*
 * nat_kernel_egress_check() with memory for fragments (frag.h "Kernel
 * egress"): a first fragment that passes is remembered, a later fragment
 * of it passes too. Owner lcore of @w (its clock and table).
 */
unsigned nat_kernel_egress(struct nat_worker *w, const struct nat_lease_set *ls,
			   const uint8_t *frame, uint32_t len);

/* ---- icmp_reply.c ---- */

/*
 * Build, into @out (room for at least NAT_TE_MAX_FRAME bytes), an ICMP
 * time exceeded (type 11 code 0) answering the frame at @frame whose IPv4
 * header starts at @l2_len: Ethernet addresses swapped (@our_mac as
 * source), VLAN tag kept, source @src (network order), quoting the IPv4
 * packet as received up to 576 bytes in all (RFC 1812 §4.3.2.3).
 * Returns the frame length, or 0 when no error may be sent (the packet is
 * itself an ICMP error, or came from a broadcast/multicast/zero source).
 */
#define NAT_TE_MAX_FRAME (18 + 576)
uint32_t nat_build_time_exceeded(uint8_t *out, const uint8_t *frame,
				 uint16_t l2_len, uint16_t ip_len,
				 uint32_t src, const uint8_t our_mac[6]);

/*
 * The same for ICMP destination unreachable, fragmentation needed (type
 * 3 code 4) with next-hop MTU @mtu: the answer to a DF packet larger
 * than the output link's MTU. @frame is the packet as it arrived (the
 * caller keeps a copy of it from before translation, at least
 * NAT_FN_QUOTE bytes of IPv4 packet or all of it), so that the sender
 * finds its own socket in the quote.
 */
#define NAT_ICMP_FRAG_NEEDED 4
#define NAT_FN_QUOTE (576 - 20 - 8)
uint32_t nat_build_frag_needed(uint8_t *out, const uint8_t *frame,
			       uint16_t l2_len, uint16_t ip_len, uint32_t src,
			       const uint8_t our_mac[6], uint16_t mtu);

/* ---- mtu.c: egress fragmentation ---- */

/*
 * Fragments of at most @mtu bytes that the IPv4 packet at @ip (validated
 * by nat_parse(), DF clear, total length > @mtu >= 576) becomes.
 */
uint32_t nat_fragment_count(const uint8_t *ip, uint16_t mtu);

/*
 * Build into @out the fragment of the packet in @frame (IPv4 header at
 * @l2_len) whose payload starts at *@off (0 first), and advance *@off.
 * Each fragment: the L2 header, the IPv4 header (options not marked
 * "copied" replaced by NOPs after the first fragment), fragment offset
 * and MF set, header checksum recomputed, then the next payload bytes, a
 * multiple of 8 but for the last. @out needs room for @l2_len + @mtu.
 * Returns the fragment's frame length, 0 once the payload is all out.
 * Pure; any lcore.
 */
uint32_t nat_fragment_next(uint8_t *out, const uint8_t *frame, uint16_t l2_len,
			   uint16_t mtu, uint32_t *off);

/* ---- mss.c ---- */

/*
 * Lower the MSS option of the TCP segment at @l4 (@l4_len bytes) to
 * @clamp when it announces more. Options are walked within the data
 * offset; a malformed list (bad length, running past the header, an MSS
 * option not 4 bytes long) leaves the segment untouched. Returns the
 * checksum delta to add to the segment's (csum_delta16 form), 0 when
 * nothing changed. The caller checks for SYN.
 */
uint32_t nat_mss_clamp(uint8_t *l4, uint32_t l4_len, uint16_t clamp);

/* nat_mss_clamp() to @w's mss_clamp, counting tcp_mss_clamped. The
 * translators call it for SYNs (and SYN-ACKs) of a translated flow, both
 * ways. Owner lcore. */
uint32_t nat_syn_clamp(struct nat_worker *w, uint8_t *l4, uint32_t l4_len);

/* ---- parse.c ---- */

/*
 * What the receiving device says about a frame's TCP/UDP checksum (from
 * the mbuf's RTE_MBUF_F_RX_L4_CKSUM_* flags; ICMP is always verified):
 *   VERIFY   nothing known: verify in software, drop if wrong;
 *   GOOD     the device verified it;
 *   PARTIAL  the sender left it partial (checksum offload; the kernel
 *            marks such a packet and virtio passes the mark on as
 *            RX_L4_CKSUM_NONE): the data is intact but the field holds
 *            no finished checksum. nat_parse computes the full checksum
 *            and stores it, so the frame leaves complete whatever it
 *            becomes. See docs/DESIGN.md "Checksums from virtual NICs".
 * VERIFY is 0 and GOOD 1, so a bool "NIC verified" still reads right.
 */
enum nat_l4_csum {
	NAT_L4_CSUM_VERIFY = 0,
	NAT_L4_CSUM_GOOD = 1,
	NAT_L4_CSUM_PARTIAL = 2,
};

/*
 * Validate a frame up to and including L4 and fill @p; @csum as above.
 * Returns SH_OK, SH_DROP_NOT_IPV4 (left for the caller to punt: ARP,
 * IPv6...), or a drop reason. Writes to the frame only to finish a
 * PARTIAL TCP/UDP checksum.
 */
unsigned nat_parse(struct nat_pkt *p, uint8_t *frame, uint32_t len,
		   enum nat_l4_csum csum);

/*
 * Fill @p for a frame nat_parse() accepted before (another worker parsed
 * it and handed it over with the offsets it found): the IPv4 header at
 * @l2_len, @ihl bytes long. Nothing is validated again.
 */
void nat_pkt_restore(struct nat_pkt *p, uint8_t *frame, uint16_t l2_len,
		     uint8_t ihl);

/* ---- in2out.c / out2in.c / icmp.c ---- */

/* Translate a client packet in place (addresses, ports, checksums, TTL).
 * SH_OK, NAT_HAIRPIN (translated; see there), NAT_KERNEL or a drop.
 * Owner lcore; @ls is the lease set loaded for this burst. */
unsigned nat_in2out(struct nat_worker *w, const struct nat_lease_set *ls,
		    struct nat_pkt *p);

/* Translate a packet arriving on the outside port in place. SH_OK,
 * NAT_KERNEL, NAT_HANDOFF (untouched) or a drop. */
unsigned nat_out2in(struct nat_worker *w, const struct nat_lease_set *ls,
		    struct nat_pkt *p);

/*
 * Validate the packet the ICMP error @p quotes and fill @q: an IPv4
 * header with a valid checksum, not a non-first fragment, TCP/UDP/ICMP,
 * at least 8 bytes of it. SH_OK or SH_DROP_ICMP_INNER_MALFORMED.
 * Read-only; any lcore.
 */
unsigned nat_quote_parse(const struct nat_pkt *p, struct nat_quote *q);

/* ICMP error translation through the embedded header (RFC 5508). */
unsigned nat_icmp_err_in2out(struct nat_worker *w,
			     const struct nat_lease_set *ls, struct nat_pkt *p);
unsigned nat_icmp_err_out2in(struct nat_worker *w,
			     const struct nat_lease_set *ls, struct nat_pkt *p);

/* ---- frag.c: fragments (the design is in frag.h) ---- */

/* What stage 1 learnt about a fragment's datagram. */
struct nat_frag_res {
	uint16_t sport, dport; /* the datagram's L4 ports (echo id) as sent */
	bool release;          /* held fragments of it may go now */
};

/*
 * Stage 1 for a fragment @p (p->frag set) received inside (@out2in
 * false) or outside: SH_OK with @r filled, NAT_FRAG_HOLD (keep it, ask
 * nat_frag_retry()), NAT_KERNEL (Linux's), or SH_DROP_FRAG_TABLE_FULL /
 * SH_DROP_FRAG_TOO_MANY / SH_DROP_IP_FRAGMENT / SH_DROP_ICMP_UNSUPPORTED.
 */
unsigned nat_frag_in(struct nat_worker *w, const struct nat_lease_set *ls,
		     const struct nat_pkt *p, bool out2in,
		     struct nat_frag_res *r);

/* A fragment nat_frag_in() said to hold since @since (ms): SH_OK with
 * @r, NAT_KERNEL, a drop (SH_DROP_FRAG_TIMEOUT once held
 * NAT_FRAG_HOLD_MS), or NAT_FRAG_HOLD again. */
unsigned nat_frag_retry(struct nat_worker *w, const struct nat_pkt *p,
			uint32_t since, struct nat_frag_res *r);

/* Stage 2 on the flow's owner: a first fragment through nat_in2out() /
 * nat_out2in(), a later one by the flow of @r's ports (address, TTL, IPv4
 * checksum). Verdicts as theirs; SH_DROP_IP_FRAGMENT for a later fragment
 * whose flow does not exist (inside). */
unsigned nat_frag_xlate(struct nat_worker *w, const struct nat_lease_set *ls,
			struct nat_pkt *p, bool out2in,
			const struct nat_frag_res *r);

/* ---- flow.c: the per-worker flow table ---- */

/* Rebuild every index of @w (slots, free stack, clients, per-lease
 * counts, users of bindings and permissions) from its flow entries,
 * discarding what is not whole (persist.c, after a crash). */
void nat_table_rebuild(struct nat_worker *w, struct nat_adopt_stats *st);

/* Bytes the table costs for @max_flows (what nat_worker_create allocates). */
size_t nat_table_bytes(uint32_t max_flows);
/* Slots per index table for @max_flows: the power of two >= 2 * max_flows. */
uint32_t nat_slots_for(uint32_t max_flows);

/* Lookup by inside or outside key; the flow index or -1. Expired flows
 * are removed on the way and reported as absent. The translators use
 * the inline nat_lookup() of flow_lookup.h; these serve the slow paths. */
int64_t nat_lookup_in(struct nat_worker *w, const struct nat_key *k);
int64_t nat_lookup_out(struct nat_worker *w, const struct nat_key *k);

/* The entry whose inside (@out false) or outside key is @k, whatever its
 * state (expired too), or -1. A pseudo-entry's key has NAT_PROTO_PSEUDO
 * in its proto. No side effects. */
int64_t nat_find(const struct nat_worker *w, const struct nat_key *k, bool out);

/* Is the outside 5-tuple @k taken (a live flow, or one held; remote 0:0:
 * a binding, live or held)? Retires or frees what it finds past its time.
 * The port search's test. */
bool nat_tuple_used(struct nat_worker *w, const struct nat_key *k);

/* Insert a flow (inside and outside entries); index or -SH_DROP_*. A
 * pseudo-entry (flags NAT_FLOW_PSEUDO) is not counted as a flow. */
int64_t nat_flow_add(struct nat_worker *w, const struct nat_flow *f);
/* Free an entry; a bound flow releases its binding and permission. */
void nat_flow_del(struct nat_worker *w, uint32_t idx);
/* An expired flow's end: freed, or held (NAT_FLOW_HOLD). Counted. */
void nat_flow_retire(struct nat_worker *w, uint32_t idx);

/* Flows currently held by @client (network order), and the slice address
 * they use (0 when none). */
uint32_t nat_client_flows(const struct nat_worker *w, uint32_t client);
uint32_t nat_client_out_ip(const struct nat_worker *w, uint32_t client);

/*
 * Burst prefetch (the fast path's answer to its two dependent cache misses
 * per packet, slot then flow): for a parsed packet, nat_hint_slot()
 * computes its lookup key's hash and prefetches the index slot;
 * nat_hint_flow(), called once that line had time to arrive, prefetches
 * the flow the slot points to. Hints only: nat_in2out()/nat_out2in() do
 * their own lookup, so a wrong or missing hint costs time, never
 * correctness. Owner lcore.
 */
struct nat_hint {
	uint32_t pos; /* slot index, UINT32_MAX: no hint */
	uint32_t sig;
};
void nat_hint_slot(const struct nat_worker *w, const struct nat_pkt *p,
		   bool out2in, struct nat_hint *h);
void nat_hint_flow(const struct nat_worker *w, const struct nat_hint *h,
		   bool out2in);

/* ---- ports.c ---- */

/*
 * The slow path for a new client flow: pick a lease for the client and a
 * port in this worker's share of it whose outside 5-tuple is unused, then
 * insert the flow. Returns the flow index, or -SH_DROP_NO_LEASE /
 * -SH_DROP_PORTS_EXHAUSTED / -SH_DROP_CLIENT_PORT_CAP / -SH_DROP_TABLE_FULL.
 */
int64_t nat_flow_create(struct nat_worker *w, const struct nat_lease_set *ls,
			const struct nat_key *in);

/*
 * Insert flow @f (addresses, ports and lease set) of exclusive lease @l
 * as a user of binding @b (an entry index, or -1 to create the binding)
 * and, with address-dependent filtering, of the permission for its
 * remote address. The flow index or -SH_DROP_TABLE_FULL.
 */
int64_t nat_flow_bind(struct nat_worker *w, const struct nat_lease *l,
		      struct nat_flow *f, int64_t b);

/*
 * Does worker @w own outside port @port_be (network order) towards
 * @remote:@rport_be with @proto? The port search creates only tuples
 * its worker owns (see "Ports belong to workers"); @base is
 * nat_steer_base() of the destination when @w's steer has RSS, else
 * ignored. Any lcore.
 */
static inline bool nat_worker_owns_port(const struct nat_worker *w,
					uint32_t base, uint16_t port_be,
					uint8_t proto)
{
	if (w->steer && w->steer->rss && proto != NAT_PROTO_ICMP)
		return nat_owner_port(w->steer, base, port_be) == w->id;
	return nat_be16(port_be) % w->n_workers == w->id;
}

/* The worker that owns a packet: nat_pkt_owner() in owner.h (inline). */

#endif /* SHOAL_NAT_H */
