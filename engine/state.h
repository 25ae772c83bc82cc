/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state file ([engine] state): the flow tables of every worker, in a
 * file on tmpfs (or hugetlbfs) that outlives the engine process, so that
 * a new process adopts them (takeover.h, nat.h "persist.c").
 *
 * File: struct sh_state_hdr in the first SH_STATE_HDR bytes, then one
 * segment of nat_seg_bytes(max_flows) per worker. The process that
 * forwards holds an exclusive flock on the file: another plain start is
 * refused while it lives, its death (kill -9 included) releases the lock,
 * and a handover passes it on explicitly (sh_state_release, then
 * sh_state_lock in the new process).
 *
 * Main lcore only; returns 0 or -errno with a reason in the caller's
 * buffer.
 */
#ifndef SHOAL_STATE_H
#define SHOAL_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linux.h"

#define SH_STATE_MAGIC 0x31545341534f4853ull /* "SHOSAST1" */
#define SH_STATE_VERSION 1 /* of struct sh_state_hdr; the tables' is NAT_LAYOUT */
#define SH_STATE_HDR 4096
#define SH_STATE_NEIGH_MAX 200

struct sh_state_hdr {
	uint64_t magic;
	uint32_t version;   /* SH_STATE_VERSION */
	uint32_t layout;    /* NAT_LAYOUT of the segments */
	uint32_t n_workers, max_flows;
	uint64_t seg_bytes; /* per worker */
	int32_t owner_pid;  /* the process that last forwarded with it */
	uint32_t pad;
	/* The workers' clock: @anchor_ms at CLOCK_MONOTONIC @anchor_ns,
	 * refreshed by the main lcore every turn and at sync, so that the
	 * next process continues it and flows keep their age. */
	uint64_t anchor_ns;
	uint32_t anchor_ms;
	/* The outside RSS key, kept so that return traffic keeps reaching
	 * the worker that owns its flow (0 length: none). */
	uint8_t rss_key_len[2];
	uint8_t rss_key[2][64];
	/* TSC of the last packet the previous process forwarded (sync). */
	uint64_t last_tx_tsc;
	/* The mirrors' resolved neighbours, seeded into the next process's
	 * new mirrors so that it forwards without waiting for ARP. n_neigh
	 * is zeroed before the entries change and set after: a reader after
	 * a crash sees a whole list or none. */
	uint32_t n_neigh;
	struct sh_neigh_seed neigh[SH_STATE_NEIGH_MAX];
};
_Static_assert(sizeof(struct sh_state_hdr) <= SH_STATE_HDR,
	       "struct sh_state_hdr must fit its page");

struct sh_state {
	char path[PATH_MAX];
	int fd;      /* -1: closed */
	void *base;  /* the mapping, NULL before sh_state_map */
	size_t bytes;
	struct sh_state_hdr *hdr;
};

/* What is in the file for an engine of @n_workers x @max_flows. */
enum sh_state_found {
	SH_STATE_NONE = 0,   /* no file, or never written: start empty */
	SH_STATE_ADOPTABLE,  /* tables to adopt */
	SH_STATE_INCOMPATIBLE, /* another version or shape: see the reason */
};

/*
 * Open (creating it and its directory if need be) the state file @path
 * and read its header without locking: *@found says what it holds for an
 * engine of @n_workers workers of @max_flows flows, with the reason in
 * @why when incompatible.
 */
int sh_state_open(struct sh_state *st, const char *path, unsigned n_workers,
		  uint32_t max_flows, enum sh_state_found *found, char *why,
		  size_t len);

/* Take the exclusive lock, without waiting: -EWOULDBLOCK while another
 * engine holds it (@why names its pid). */
int sh_state_lock(struct sh_state *st, char *why, size_t len);

/* Map the file (locked) for @n_workers x @max_flows; with @fresh, size
 * and initialise an empty header, discarding any content. */
int sh_state_map(struct sh_state *st, unsigned n_workers, uint32_t max_flows,
		 bool fresh, char *why, size_t len);

/* Worker @i's segment (after sh_state_map). */
void *sh_state_seg(const struct sh_state *st, unsigned i);

/* Record the workers' clock (@now_ms, the ms of the worker clock now). */
void sh_state_anchor(struct sh_state *st, uint32_t now_ms);

/* The worker clock's value now, continued from the anchor the previous
 * process left, into *@now_ms: false when it left none. */
bool sh_state_clock(const struct sh_state *st, uint32_t *now_ms);

/* Record the neighbours @seed[0..@n) (at most SH_STATE_NEIGH_MAX kept). */
void sh_state_neigh_save(struct sh_state *st, const struct sh_neigh_seed *seed,
			 unsigned n);

/* Give the file up for the next process: unlock and close (the mapping
 * stays until exit; nothing may write to it any more). */
void sh_state_release(struct sh_state *st);

void sh_state_close(struct sh_state *st);

#endif /* SHOAL_STATE_H */
