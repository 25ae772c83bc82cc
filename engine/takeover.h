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
 *          (state_sync), close the data ports, unlock the state file
 *          -> RELEASED with the time of its last forwarded packet; then
 *          close the kernel mirrors -> MIRRORS
 *     new: lock and adopt the tables, probe and start the data ports
 *          (while the old mirrors go), wait for MIRRORS, create ours,
 *          launch the workers -> DONE with the timings
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
#include <stdbool.h>
#include <stddef.h>
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
	double release_ms; /* old: data ports closed (its mirrors close
			    * while the new one starts its data ports) */
	double adopt_ms;   /* new: state file locked, tables mapped, checked */
	double ports_ms;   /* new: ports probed and started, mirrors made */
	double gap_ms;     /* old's last forwarded packet to new's first */
	uint64_t flows;     /* flows adopted */
	uint64_t discarded; /* entries dropped as not whole */
};

/* ---- the running engine's side ---- */

struct sh_handover;

/* What the running engine does for a handover (engine/main.c). */
struct sh_handover_ops {
	/* Stop the workers at a burst boundary, flush, sync the tables,
	 * close the data ports, release the state file: 0, or -errno with
	 * the reason (then nothing was released). Times and the TSC of the
	 * last forwarded packet into the arguments. */
	int (*release)(void *arg, double *stop_ms, double *release_ms,
		       uint64_t *last_tx_tsc, char *why, size_t len);
	/* Then close the kernel mirrors, whose names the new engine needs
	 * only once its data ports are up: the two overlap. */
	void (*release_mirrors)(void *arg);
	/* The handover ended: @rc 0, the new engine forwards (exit now); or
	 * -errno with @why: before release, we carry on; after it, we have
	 * nothing left to forward with. */
	void (*finished)(void *arg, int rc, const char *why,
			 const struct sh_upgrade_result *r);
	void *arg;
};

/* Listen on @sock for a new engine; NULL with @why on failure. */
struct sh_handover *sh_handover_listen(const char *sock,
				       const struct sh_handover_ops *ops,
				       char *why, size_t len);

/* Start @argv[0] (argv NULL-terminated) as the new engine, its stderr
 * through us (its last line becomes the reason if it fails): 0, or
 * -EBUSY (a handover is under way) / -errno with @why. */
int sh_handover_spawn(struct sh_handover *h, char *const argv[], char *why,
		      size_t len);

/* The descriptors to poll for input (at most 2) into @fds. */
unsigned sh_handover_fds(const struct sh_handover *h, int fds[2]);

/* Do what is due; never blocks (but for the release itself). */
void sh_handover_service(struct sh_handover *h);

/* Has this engine given its ports away? */
bool sh_handover_released(const struct sh_handover *h);

void sh_handover_close(struct sh_handover *h);

/* ---- the new engine's side ---- */

/* A new engine started by sh_handover_spawn() writes to stderr through
 * the old engine, which goes away; the old one's own stderr is passed
 * on as the descriptor this variable names. */
#define SH_HANDOVER_STDERR_ENV "SHOAL_HANDOVER_STDERR"

/* Put that descriptor in place of stderr (no-op without it): call once
 * this process forwards, before the old one may exit. */
void sh_takeover_own_stderr(void);

struct sh_takeover;

/* Connect to the running engine at @sock and introduce ourselves:
 * *@old_pid and its EAL file prefix into @prefix. Blocks up to 5 s. */
struct sh_takeover *sh_takeover_connect(const char *sock, int *old_pid,
					char *prefix, size_t prefix_len,
					char *why, size_t len);

/* Ask it to hand over and wait until it has released the state file and
 * its data ports (up to SH_TAKEOVER_TIMEOUT_MS): 0 with @r's old-side fields and
 * *@last_tx_tsc filled, or -errno with @why (the old engine goes on). */
int sh_takeover_handover(struct sh_takeover *t, struct sh_upgrade_result *r,
			 uint64_t *last_tx_tsc, char *why, size_t len);

/* After sh_takeover_handover(): wait until the running engine has
 * closed its kernel mirrors, so that ours can take their names (up to
 * 5 s). 0 or -errno with @why. */
int sh_takeover_wait_mirrors(struct sh_takeover *t, char *why, size_t len);

/* Tell it we forward (@r complete) or why we cannot; then close. */
void sh_takeover_done(struct sh_takeover *t, const struct sh_upgrade_result *r);
void sh_takeover_fail(struct sh_takeover *t, const char *why);

#endif /* SHOAL_TAKEOVER_H */
