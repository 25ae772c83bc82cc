/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Handing the running engine over to a new process without losing a flow
 * (docs/RESTART.md has the whole story).
 *
 * The flow tables live in the state file ([engine] state, state.h), which
 * outlives the process. A new engine takes them over in one of two ways:
 *
 *   Handover (upgrade). The new process, started with --takeover (by hand,
 *   or by the running engine itself for `shoalctl engine upgrade`):
 *     new: load and check the configuration, read the state file's header
 *          (refuse an incompatible layout or worker count here), connect
 *          to the old engine's handover socket (STATE.sock) -> HELLO
 *     old: -> READY with its EAL file prefix (the new one takes the other
 *          of the pair PREFIX / PREFIX-b)
 *     new: EAL init without the data ports -> HANDOVER
 *     old: stop the workers at a burst boundary, flush TX, sync the tables
 *          (state_sync), close the ports and mirrors, unlock the state file
 *          -> RELEASED with the time of its last forwarded packet
 *     new: lock and adopt the tables, probe and start the ports, create
 *          the mirrors, launch the workers -> DONE with the timings
 *     old: answers whoever asked (shoalctl through shoal-ctld), exits.
 *   Any failure of the new process before RELEASED (it exits, says FAIL,
 *   or is silent for SH_TAKEOVER_TIMEOUT_MS) leaves the old engine
 *   forwarding, and the requester gets the reason.
 *
 *   Recovery (kill -9, watchdog restart). A plain start finds the file
 *   unlocked and not marked clean: it rebuilds the tables' indices from
 *   the flow entries, discarding every entry that is not whole.
 *
 * Messages are fixed-size records on a SOCK_SEQPACKET socket, root only.
 */
#ifndef SHOAL_TAKEOVER_H
#define SHOAL_TAKEOVER_H

#include <limits.h>
#include <stdint.h>

/* The whole handover, from the request to DONE, must fit in this. */
#define SH_TAKEOVER_TIMEOUT_MS 30000

/* What an upgrade took, for the requester and the log. Times in ms; a
 * negative gap_ms means no packet has been forwarded by the new engine
 * yet (no traffic), so the gap is not known. */
struct sh_upgrade_result {
	int old_pid, new_pid;
	char binary[PATH_MAX];
	double eal_ms;     /* new: EAL initialisation, before the switch */
	double stop_ms;    /* old: workers stopped, TX flushed, tables synced */
	double release_ms; /* old: ports and mirrors closed */
	double adopt_ms;   /* new: state file locked, tables mapped, checked */
	double ports_ms;   /* new: ports probed and started, mirrors made */
	double gap_ms;     /* old's last forwarded packet to new's first */
	uint64_t flows;     /* flows adopted */
	uint64_t discarded; /* entries dropped as not whole */
};

#endif /* SHOAL_TAKEOVER_H */
