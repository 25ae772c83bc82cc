/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 fragments: virtual reassembly (RFC 4787 REQ-14, as VPP's nat44-ed
 * with its shallow reassembly does). Nothing is reassembled: each
 * fragment is translated on its own and forwarded at once.
 *
 * Only the first fragment (offset 0, MF set) carries the L4 header. It is
 * translated like a whole packet (nat_in2out()/nat_out2in(): the flow is
 * found or created from its ports) except that its L4 checksum cannot be
 * verified (nat_parse() checks the header is there, not the sum). The
 * incremental update is still right: the checksum field covers the whole
 * datagram, and the delta of an address or port rewrite is the same.
 * Later fragments (offset > 0) have no ports; what they need is the
 * datagram's L4 ports, which the first fragment leaves in a table:
 *
 *   struct nat_frag_table (one per worker, inside struct nat_worker)
 *     e[NAT_FRAG_ENTRIES]   4-way set-associative, keyed by (source,
 *                           destination, protocol, IP id) as received;
 *                           an entry is a datagram: its flow-key ports
 *                           (sport, dport: TCP/UDP ports, echo id), or
 *                           "pending" (later fragments came first), or a
 *                           verdict for all its fragments (Linux's; drop).
 *                           Lives NAT_FRAG_TIMEOUT_MS from its creation.
 *     held                  fragments held, all datagrams (<= NAT_FRAG_HOLD_MAX)
 *     k[NAT_KFRAG_ENTRIES]  first fragments Linux sent from a slice address
 *                           that passed the egress policy (see below)
 *
 * Stage 1, the datagram's owner (nat_frag_owner()) runs nat_frag_in():
 *   first fragment  -> record the ports (completing a pending entry);
 *                      SH_OK with the ports, and nat_frag_res.release set
 *                      when fragments of it are held;
 *   later fragment  -> entry known: SH_OK with the ports; pending or
 *                      absent: NAT_FRAG_HOLD, counted against the entry
 *                      (NAT_FRAG_HOLD_PER_DGRAM) and the worker
 *                      (NAT_FRAG_HOLD_MAX) or dropped frag_too_many.
 *   No entry can be made: frag_table_full.
 * The worker owns the mbufs: a HOLD verdict makes it keep the mbuf in a
 * small array (sh_worker.frag_held, with the time) and ask
 * nat_frag_retry() for each held one after a release and once per
 * millisecond: SH_OK (the first fragment came: translate it now),
 * SH_DROP_FRAG_TIMEOUT (held NAT_FRAG_HOLD_MS), or NAT_FRAG_HOLD.
 * Stage 2, the flow's owner: the first fragment through nat_in2out()/
 * nat_out2in(), a later one through nat_frag_later() with stage 1's
 * ports: a flow lookup, then the address rewrite, TTL and IPv4 checksum
 * (no L4 header to touch). A later fragment whose flow is gone (its first
 * was dropped) is dropped ip_fragment. Stage 1 always passes the first
 * fragment on before any later one of the same datagram, and stage 2
 * sees them in that order (same worker, or one FIFO handoff ring).
 *
 * Owners (several workers). Inside, the datagram's and the flow's owner
 * are both the client's worker (nat_owner_client() of the source): one
 * worker does both stages. Outside, the flow's owner depends on the ports
 * that later fragments lack, so a datagram's fragments all go first to
 * the worker nat_frag_owner() names from the addresses (with RSS: the
 * queue the NIC picks for a packet without ports, i.e. where fragments
 * arrive in hardware; soft: a hash of addresses, protocol and id), which
 * runs stage 1 and hands each fragment on to the flow's owner with the
 * ports (engine: SH_HANDOFF_FRAG, the ports in the mbuf's hash.usr).
 * Cost: an outside fragment may cross two handoff rings instead of one;
 * fragments are rare.
 *
 * Not translated: ICMP errors that are fragments (first or later; a
 * fragmented error is nearly always an attack or a bug): ip_fragment.
 * Fragments for Linux (inside to the engine's own addresses, outside to
 * a non-slice address, a socket lease's port, an echo request to a slice
 * address) are punted whole-sale: Linux reassembles them itself.
 *
 * Kernel egress (nat_kernel_egress()): a non-first fragment from a slice
 * address has no port to prove; it passes when its datagram's first
 * fragment passed nat_kernel_egress_check() on this worker within
 * NAT_FRAG_TIMEOUT_MS (a direct-mapped table of NAT_KFRAG_ENTRIES).
 * Linux sends a datagram's fragments back to back on one mirror queue.
 *
 * Plain C, no EAL; owner lcore of the worker except nat_frag_owner().
 */
#ifndef SHOAL_NAT_FRAG_H
#define SHOAL_NAT_FRAG_H

#include <stdbool.h>
#include <stdint.h>

#define NAT_FRAG_ENTRIES 1024 /* datagrams per worker, power of two */
#define NAT_FRAG_WAYS 4
#define NAT_FRAG_TIMEOUT_MS 2000 /* an entry's life */
#define NAT_FRAG_HOLD_MS 500     /* an out-of-order fragment's wait */
#define NAT_FRAG_HOLD_PER_DGRAM 5
#define NAT_FRAG_HOLD_MAX 64 /* held fragments per worker */
#define NAT_KFRAG_ENTRIES 64

/* Verdict: keep the fragment and ask nat_frag_retry() later. */
#define NAT_FRAG_HOLD (NAT_KERNEL + 2)

/* struct nat_pkt.frag */
#define NAT_PKT_FIRST 1 /* offset 0, MF set: has the L4 header */
#define NAT_PKT_LATER 2 /* offset > 0: no L4 header */

enum nat_frag_state {
	NAT_FRAG_FREE = 0,
	NAT_FRAG_PENDING, /* later fragments came first */
	NAT_FRAG_KNOWN,   /* ports known */
	NAT_FRAG_KERNEL,  /* every fragment goes to Linux */
	NAT_FRAG_DROP,    /* every fragment is dropped ip_fragment */
};

struct nat_frag {
	uint32_t src, dst; /* network order, as received */
	uint16_t id;
	uint8_t proto;
	uint8_t state; /* enum nat_frag_state */
	uint16_t sport, dport; /* flow-key ports, network order */
	uint32_t born; /* ms */
	uint8_t held;
	uint8_t pad[3];
};

struct nat_kfrag {
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
	uint8_t used;
	uint32_t born;
};

struct nat_frag_table {
	struct nat_frag e[NAT_FRAG_ENTRIES];
	uint32_t held;
	struct nat_kfrag k[NAT_KFRAG_ENTRIES];
};

#endif /* SHOAL_NAT_FRAG_H */
