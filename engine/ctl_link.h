/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The transport under the engine's shoal-ctld client: a non-blocking
 * Unix stream socket carrying one JSON document per line
 * (include/shoal/proto.h). It connects, retries with exponential backoff
 * (100 ms doubling to 5 s), frames lines in and out, and logs losing the
 * daemon. It knows no method: ctl_client.c decides what to send and what
 * a line means.
 *
 * Main lcore only; nothing here blocks but ctl_link_flush_wait(), bounded,
 * for an engine's last words before it exits. Errors on the socket close it and
 * schedule the next attempt; callers see them as ctl_link_up() == false.
 */
#ifndef SHOAL_CTL_LINK_H
#define SHOAL_CTL_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

struct ctl_link {
	const char *path; /* the daemon's socket */
	int fd;           /* -1 while down */
	uint64_t retry_at; /* ms (ctl_now_ms) of the next connect attempt */
	uint32_t backoff;  /* ms */
	char *in;         /* SHOAL_ENGINE_MSG_MAX + 1, NUL-terminated */
	size_t in_len, in_off; /* bytes held; start of the unread part */
	char *out;
	size_t out_len;
};

/* The clock of the control link and its timers: monotonic ms. */
static inline uint64_t ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Set up a link, down, to the socket at @path (kept by reference, bounded
 * to sun_path by the config parser). 0 or -ENOMEM. */
int ctl_link_init(struct ctl_link *l, const char *path);

/* Close the socket and free the buffers. */
void ctl_link_fini(struct ctl_link *l);

static inline bool ctl_link_up(const struct ctl_link *l)
{
	return l->fd >= 0;
}

/* When the link is down and the backoff has run out at @now (ms), try to
 * connect once. True if this call connected; false otherwise (a failure
 * doubles the backoff). */
bool ctl_link_connect(struct ctl_link *l, uint64_t now);

/* A connection proved useful (the daemon accepted us): the next loss
 * retries after the minimum backoff again. */
void ctl_link_backoff_reset(struct ctl_link *l);

/*
 * Queue @msg as one line (takes the reference). False, and nothing
 * queued, when it does not fit: a line over SHOAL_MSG_MAX or a full
 * output buffer (4 lines' worth); the daemon then misses that message.
 */
bool ctl_link_send(struct ctl_link *l, json_t *msg);

/* Write what the socket takes now; the rest waits for the next call. */
void ctl_link_flush(struct ctl_link *l);

/* Write everything queued, waiting at most @timeout_ms for the socket to
 * take it: for a message that must leave before the process does. True
 * when nothing is left (false: the link is down, or the daemon did not
 * read in time). */
bool ctl_link_flush_wait(struct ctl_link *l, int timeout_ms);

/*
 * The next complete line, without its newline, NUL-terminated, valid
 * until the next call; reads the socket when none is buffered. NULL when
 * no complete line is available (nothing to read now, or the link went
 * down: closed by the daemon, an error, or a line over
 * SHOAL_ENGINE_MSG_MAX).
 */
char *ctl_link_recv(struct ctl_link *l);

#endif /* SHOAL_CTL_LINK_H */
