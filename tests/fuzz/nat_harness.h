/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NAT fuzz harnesses' common part: one worker on a fixed lease set,
 * driven packet by packet as engine/worker.c drives it (parse, owner
 * check, in2out / out2in / kernel egress check, expiry on the clock), and
 * after EVERY packet the invariants below, each an abort() with a one-line
 * reason so libFuzzer keeps the input as a crasher.
 *
 * Invariants (fz_packet):
 *   any verdict  the worker's counters add up: in2out, out2in and ICMP
 *                error translations counted once each, flows created -
 *                flows expired == live flows <= max_flows, at most one
 *                flow created per packet and only by a translated client
 *                packet; every flow the shadow knows to be live is in the
 *                table (live count >= shadow's live count);
 *   NAT_KERNEL   the frame is unchanged; an outside TCP/UDP/echo reply to
 *                a slice address goes to Linux only for a socket lease;
 *   SH_OK        the IPv4 header checksum and the L4 checksum verify (an
 *                oracle independent of csum.h: tests/unit/pkt_build.h);
 *                for ICMP errors the quoted IPv4 header checksum too; TTL
 *                went down by one; only address, port, id, TTL and
 *                checksum bytes changed;
 *     in2out     the new source (address, port or echo id) lies in a nat
 *                lease whose selectors allow the client, on a port this
 *                worker owns; a new flow only on an active lease;
 *     out2in     the old destination lies in a nat lease and the new one
 *                is a client its selectors allow;
 *     both       a shadow map of every translation seen (inside 5-tuple
 *                -> outside address and port, last seen): a flow is
 *                translated only if the shadow has it and it cannot have
 *                expired yet, the same way as the shadow says while the
 *                flow is certainly live, a live flow is never created
 *                twice, and no two certainly-live flows share an outside
 *                5-tuple;
 *   kernel       SH_OK from nat_kernel_egress_check() for a TCP/UDP/echo
 *                packet from a slice address only with a socket lease's
 *                port.
 * "Certainly live": last seen less than the shortest timeout its class can
 * have ago (TCP: min(established, transitory)); "may be expired": at least
 * that; "certainly expired": at least the longest. Expiry and port reuse
 * after it are therefore never flagged.
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

/*
 * Start a run: a worker @worker_id of @n_workers (soft steering), with a
 * per-client cap of @client_cap flows (0: none), at clock 1000 ms, on the
 * fixture's active lease set. Aborts if the fixture cannot be built.
 */
void fz_begin(unsigned n_workers, unsigned worker_id, uint32_t client_cap);
void fz_end(void);

/* Advance the worker clock by @ms and run the expiry sweep as the worker
 * loop does for that much time. */
void fz_advance(uint32_t ms);

/* Switch between the active lease set and the one where lease "a"
 * (10000-10999, clients 10.0.0.0/16) is draining. */
void fz_toggle_draining(void);

/* Run one frame (copied to a heap buffer of exactly @len bytes) through
 * the worker from @dir, check every invariant; the verdict (or
 * SH_DROP_NOT_IPV4 etc. from parsing, NAT_KERNEL, or UINT32_MAX when
 * the packet belongs to another worker). @nic_l4_ok: claim the NIC
 * verified the L4 checksum, honoured only when it really is right. */
unsigned fz_packet(enum fz_dir dir, const uint8_t *frame, size_t len,
		   bool nic_l4_ok);

/* Recompute, in place, whatever checksums of @frame can be computed (the
 * quoted IPv4 header of an ICMP error, the L4 checksum, the IPv4 header
 * checksum); fields and lengths stay as they are. */
void fz_fix_checksums(uint8_t *frame, size_t len);

/* The translated frame of the last SH_OK packet (valid until the next). */
const uint8_t *fz_last_frame(void);

#endif /* SHOAL_FUZZ_NAT_HARNESS_H */
