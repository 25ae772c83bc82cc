/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoalctl top, in three parts that call only downwards:
 *   top.c        the loop: polls the daemon, keeps the samples, reads
 *                the keyboard, owns the terminal (local_top in cmd.h);
 *   top_frame.c  two samples -> one frame (a JSON object: rates per
 *                worker and side, drops by reason, lease fill, clients);
 *   top_view.c   a frame -> text sized to the terminal.
 * -j writes the frames themselves, one per line: the text view shows
 * nothing a frame does not hold.
 */
#ifndef SHOALCTL_TOP_H
#define SHOALCTL_TOP_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/*
 * The frame of stats result @cur (proto.h "stats"), with rates from the
 * counter deltas since stats result @base over the delta of their
 * report_mono_ms (@base NULL, from an earlier engine (counters went
 * down), or no time between them: rates are null), and lease fill from
 * lease.list result @leases joined with @cur's lease_usage. Borrows its
 * arguments; returns a new object, NULL when out of memory.
 *
 * FRAME = {"time": unix time, "interval": seconds between the two
 *          reports|null, "report_age": seconds, "workers": N,
 *          "flows": N|null,
 *          "total": RATES, "per_worker": [RATES + {"worker", "lcore",
 *          "flows"}, ...],
 *          "drops": [{"reason", "rate", "total"}, ...]  (reasons with a
 *                   non-zero total, busiest first),
 *          "leases": [{"id", "holder", "state", "ip", "lo", "hi", "size",
 *                      "flows", "tcp_ports", "udp_ports",
 *                      "fill": 0..1|null (null: shared-port lease, or
 *                      usage unknown)}, ...]   (nat leases, fullest first),
 *          "clients": [{"client", "flows", "outside"}, ...]}
 * RATES = {"rx_inside", "rx_outside", "tx_inside", "tx_outside", "drops"}
 *         in packets per second, null when unknown.
 */
json_t *top_frame(json_t *base, json_t *cur, json_t *leases);

/* A frame for a poll that failed: {"time", "error": {"data", "message"}}. */
json_t *top_error_frame(const char *data, const char *message);

struct top_view {
	unsigned width;  /* columns */
	unsigned height; /* rows; 0: as many as the frame needs */
	unsigned interval; /* seconds between refreshes (the title says) */
	bool ansi;       /* a terminal: clear to end of line, end of screen */
};

/* Write @frame as text on @out within @v's size. */
void top_render(FILE *out, json_t *frame, const struct top_view *v);

#endif /* SHOALCTL_TOP_H */
