/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NAT fuzz harnesses' common part: one worker on a fixed lease set,
 * driven packet by packet as engine/worker.c drives it (parse, owner
 * check, in2out / out2in / kernel egress check, a hairpin turned around
 * through out2in, expiry on the clock), and after EVERY packet the
 * invariants below, each an abort() with a one-line reason so libFuzzer
 * keeps the input as a crasher. The setup chooses each nat lease's
 * mapping and filtering (nat.h, "Mappings and filtering"), the port
 * hold-down and whether the outside steer is RSS (so that NAT_HANDOFF
 * can happen).
 *
 * Invariants (fz_packet):
 *   any verdict  the worker's counters add up: in2out, out2in, ICMP error
 *                translations and inbound flows counted once each, flows
 *                created - flows expired == live flows <= max_flows;
 *                every flow the shadow knows to be live is in the table;
 *   flows        a client packet creates at most one flow, only when
 *                translated (SH_OK or NAT_HAIRPIN); an outside packet
 *                (or a hairpin's turned-around half) at most one, only
 *                when translated, TCP/UDP, counted flows_inbound: so one
 *                packet makes at most two, both ends of a hairpin;
 *   NAT_KERNEL   the frame is unchanged; an outside TCP/UDP/echo reply to
 *                a slice address goes to Linux only for a socket lease;
 *   NAT_HANDOFF  only out2in, frame unchanged, TCP/UDP to an exclusive
 *                nat lease's port P, to_worker == P % workers != ours;
 *   SH_OK        the IPv4 header checksum and the L4 checksum verify (an
 *                oracle independent of csum.h: tests/unit/pkt_build.h);
 *                for ICMP errors the quoted IPv4 header checksum too; TTL
 *                went down by one; only address, port, id, TTL and
 *                checksum bytes changed;
 *     in2out     the new source (address, port or echo id) lies in a nat
 *                lease whose selectors allow the client, on a port this
 *                worker owns (exclusive: P % workers == ours); a new flow
 *                only on an active lease; NAT_HAIRPIN exactly when the
 *                destination is a slice address;
 *     out2in     the old destination lies in a nat lease and the new one
 *                is a client its selectors allow;
 *     shadow     a map of every flow seen (inside 5-tuple -> outside
 *                address and port, last seen, how it was made): a packet
 *                is translated only through a flow the shadow has that
 *                cannot have expired, the same way as the shadow says
 *                while the flow is certainly live;
 *     new flow   never one whose inside 5-tuple is certainly live
 *                already; no two certainly-live flows share an outside
 *                5-tuple; in an exclusive lease (TCP/UDP) none of another
 *                client endpoint shares its outside port (ip, port,
 *                proto); in an endpoint-independent-mapping lease every
 *                certainly-live flow of the same endpoint in that lease
 *                has the same outside port; every certainly-live flow of
 *                the same client address uses the same slice address
 *                (paired pooling); port hold-down: no flow of another
 *                client endpoint on the same outside port (exclusive) or
 *                5-tuple (shared, ICMP) may have ended less than the
 *                hold-down ago (its end is at least last seen + the
 *                shortest timeout of its class);
 *     inbound    a flow made by out2in: TCP/UDP, the lease exclusive and
 *                active, to a client endpoint the shadow saw on that
 *                outside port whose mapping may still exist; from a
 *                remote that is not a slice address (a hairpin: from
 *                one); not for APDF (unless a hairpin); for ADF (unless a
 *                hairpin) only from an address the endpoint's mapping
 *                has a flow with that may still exist; TCP only by a SYN;
 *   kernel       SH_OK from nat_kernel_egress_check() for a TCP/UDP/echo
 *                packet from a slice address only with a socket lease's
 *                port.
 * "Certainly live": last seen less than the shortest timeout its class can
 * have ago (TCP: min(established, transitory)); "may be expired": at least
 * that; "certainly expired": at least the longest; "may still exist" (in
 * the table, expired but not yet swept): less than the longest timeout
 * plus the time the clock hand needs to sweep the table (FZ_MAX_FLOWS
 * ms: fz_advance() sweeps one entry per ms). Expiry and port reuse after
 * it are therefore never flagged.
 */
#ifndef SHOAL_FUZZ_NAT_HARNESS_H
#define SHOAL_FUZZ_NAT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/nat.h"

enum fz_dir { FZ_IN = 0, FZ_OUT, FZ_KERNEL };

/* The fixed addressing plan (host order). */
#define FZ_SLICE_A 0xc633640au /* 198.51.100.10: 10000-12047 */
#define FZ_SLICE_B 0xc6336414u /* 198.51.100.20: 20000-20063 */
#define FZ_REMOTE 0xcb007105u  /* 203.0.113.5 */

/* Timeouts of the fixture, seconds: short, so the clock reaches them. */
#define FZ_TO_UDP 30
#define FZ_TO_TCP_EST 120
#define FZ_TO_TCP_TRANS 10
#define FZ_TO_ICMP 5
#define FZ_MAX_FLOWS 64

/* Mapping and filtering of a nat lease: 0..5 = mapping * 3 + filtering
 * (EIM, APDM) x (ADF, EIF, APDF); 5 is the shared-port mode. */
#define FZ_MODES 6

struct fz_setup {
	unsigned n_workers, worker_id;
	uint32_t client_cap;  /* flows per client, 0: none */
	uint32_t hold_s;      /* port hold-down, seconds */
	bool rss;             /* outside steer: Toeplitz RSS, else soft */
	uint8_t mode[3];      /* leases "a", "b", "c": 0..FZ_MODES-1 */
};

/*
 * The two setup bytes both NAT harnesses start with:
 *   @b0  bits 0-1 workers - 1, bits 2-3 this worker's id (mod workers),
 *        bit 4 a per-client cap of 4 flows, bits 5-6 the hold-down (120,
 *        0, 2 or 30 s), bit 7 RSS on the outside
 *   @b1  bits 0-2 lease "a"'s mode (mod 6), bits 3-5 lease "b"'s (mod 6),
 *        bits 6-7 lease "c"'s: EIM/ADF, shared, EIM/EIF, APDM/EIF
 */
void fz_setup_decode(struct fz_setup *s, uint8_t b0, uint8_t b1);

/*
 * Start a run as @s says, at clock 1000 ms, on the fixture's active lease
 * set. Aborts if the fixture cannot be built.
 */
void fz_begin(const struct fz_setup *s);
void fz_end(void);

/* Advance the worker clock by @ms and run the expiry sweep as the worker
 * loop does for that much time. */
void fz_advance(uint32_t ms);

/* Switch between the active lease set and the one where lease "a"
 * (10000-10999, clients 10.0.0.0/16) is draining. */
void fz_toggle_draining(void);

/* Run one frame (copied to a heap buffer of exactly @len bytes) through
 * the worker from @dir, check every invariant; the verdict (or
 * SH_DROP_NOT_IPV4 etc. from parsing, NAT_KERNEL, NAT_HANDOFF, or
 * UINT32_MAX when the packet belongs to another worker). A client packet
 * that hairpins (NAT_HAIRPIN, returned as such) is then run through
 * nat_out2in() as engine/worker.c does when this worker owns it.
 * @nic_l4_ok: claim the NIC verified the L4 checksum, honoured only when
 * it really is right. */
unsigned fz_packet(enum fz_dir dir, const uint8_t *frame, size_t len,
		   bool nic_l4_ok);

/* Recompute, in place, whatever checksums of @frame can be computed (the
 * quoted IPv4 header of an ICMP error, the L4 checksum, the IPv4 header
 * checksum); fields and lengths stay as they are. */
void fz_fix_checksums(uint8_t *frame, size_t len);
/* The same for the IPv4 packet at @ip, @len bytes of it in memory. */
void fz_fix_ip_checksums(uint8_t *ip, size_t len);

/* The translated frame of the last SH_OK packet, or for NAT_HAIRPIN the
 * frame as nat_in2out() left it (valid until the next). */
const uint8_t *fz_last_frame(void);

#endif /* SHOAL_FUZZ_NAT_HARNESS_H */
