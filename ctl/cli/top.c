/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoalctl top: polls stats and lease.list every interval and shows a
 * frame (top.h) of what changed since the previous engine report.
 *
 * Three outputs:
 *   - a terminal (stdout is a tty, no -j): a full-screen view redrawn in
 *     place (alternate screen, ANSI escapes), sized to the window; q or
 *     Ctrl-C quits and the terminal is restored;
 *   - -j: one frame per line as JSON, flushed after each;
 *   - anything else (a pipe, a file): plain text frames one after
 *     another; without -n, just one.
 * Frames come one interval apart, the first one interval after the
 * start (a rate needs two reports), so -n COUNT takes COUNT intervals.
 * Failing to reach the daemon at the start exits 1 (as every command
 * does); later failures, and "no engine report yet", are frames that
 * say so, and polling goes on.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "top.h"
#include "value.h"

#define TOP_INTERVAL_MAX 3600
#define TOP_COUNT_MAX 1000000000u

static volatile sig_atomic_t top_quit, top_winch;

static void on_quit(int sig)
{
	(void)sig;
	top_quit = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	top_winch = 1;
}

/* The terminal as we found it, restored at every exit. */
static struct termios saved_tio;
static bool tty_raw;

static void tty_restore(void)
{
	if (!tty_raw)
		return;
	tty_raw = false;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
}

/* Keys one at a time without echo (ISIG kept: Ctrl-C is SIGINT), the
 * alternate screen, no cursor. */
static void tty_enter(void)
{
	struct termios t;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		t = saved_tio;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
		tty_raw = true;
	}
	fputs("\033[?1049h\033[?25l", stdout);
	fflush(stdout);
	atexit(tty_restore);
}

static void tty_size(struct top_view *v)
{
	struct winsize ws;

	v->width = 80;
	v->height = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col &&
	    ws.ws_row) {
		v->width = ws.ws_col;
		v->height = ws.ws_row;
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until @deadline (monotonic ms) or a quit: q on the terminal,
 * SIGINT/SIGTERM. A window resize redraws @last at once. Returns true
 * to go on.
 */
static bool top_wait(int64_t deadline, bool keys, json_t *last,
		     struct top_view *v)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	int64_t left;
	char ch;

	while (!top_quit && (left = deadline - mono_ms()) > 0) {
		if (poll(&pfd, keys ? 1 : 0, (int)left) > 0 &&
		    (pfd.revents & POLLIN)) {
			if (read(STDIN_FILENO, &ch, 1) == 1 &&
			    (ch == 'q' || ch == 'Q'))
				return false;
			if (pfd.revents & (POLLHUP | POLLERR))
				keys = false;
		}
		if (top_winch && last) {
			top_winch = 0;
			tty_size(v);
			fputs("\033[H", stdout);
			top_render(stdout, last, v);
			fflush(stdout);
		}
	}
	return !top_quit;
}

/* One poll: the stats and lease.list results, or *@err: a frame saying
 * why not. Returns -errno when the daemon could not be reached (with
 * *@what as rpc_call sets it), else 0. */
static int top_poll(const char *sock, json_t **stats, json_t **leases,
		    json_t **err, const char **what)
{
	json_t *params = json_object(), *e = NULL;
	int rc;

	*stats = *leases = *err = NULL;
	rc = rpc_call(sock, "stats", params, SHOALCTL_TIMEOUT_MS, stats, &e,
		      what);
	if (rc == 0)
		rc = rpc_call(sock, "lease.list", params, SHOALCTL_TIMEOUT_MS,
			      leases, &e, what);
	json_decref(params);
	if (rc > 0) {
		*err = top_error_frame(
			json_string_value(json_object_get(e, "data")),
			json_string_value(json_object_get(e, "message")));
		json_decref(e);
		rc = 0;
	} else if (rc < 0) {
		*err = top_error_frame(*what, strerror(-rc));
	}
	if (*err) {
		json_decref(*stats);
		json_decref(*leases);
		*stats = *leases = NULL;
	}
	return rc;
}

static int opt_uint(struct call *c, const char *name, uint32_t min,
		    uint32_t max, uint32_t *out)
{
	const char *s = opt_val(c, name);

	if (s == NULL)
		return 0;
	if (sh_parse_u32(s, min, max, out) == 0)
		return 1;
	fprintf(stderr, "shoalctl: %s: %s: not a number in %u..%u: '%s'\n",
		c->cmd->words, name, min, max, s);
	usage_line(stderr, "usage: ", c->cmd);
	return -EINVAL;
}

/* Write @frame in the output's form; false when stdout failed. */
static bool top_emit(json_t *frame, bool json, struct top_view *v)
{
	if (json) {
		json_dumpf(frame, stdout, JSON_COMPACT | JSON_SORT_KEYS |
					  JSON_ENSURE_ASCII |
					  JSON_REAL_PRECISION(6));
		fputc('\n', stdout);
	} else {
		if (v->ansi) {
			tty_size(v);
			fputs("\033[H", stdout);
		}
		top_render(stdout, frame, v);
		if (!v->ansi)
			fputc('\n', stdout);
	}
	return fflush(stdout) == 0 && !ferror(stdout);
}

int local_top(struct call *c)
{
	uint32_t interval = 1, count = 0;
	uint64_t done = 0;
	json_t *base = NULL, *cur = NULL, *stats, *leases, *err, *frame;
	json_t *last = NULL;
	struct top_view v = { .width = 80 };
	struct sigaction sa = { 0 };
	bool json = c->cli->json, keys = false, go = true;
	const char *what = "connect";
	const char *cols = getenv("COLUMNS");
	int64_t next;
	int rc;

	if (opt_uint(c, "--interval", 1, TOP_INTERVAL_MAX, &interval) < 0 ||
	    opt_uint(c, "--count", 1, TOP_COUNT_MAX, &count) < 0)
		return EXIT_USAGE;
	v.interval = (unsigned)interval;
	v.ansi = !json && isatty(STDOUT_FILENO);
	if (!json && !v.ansi && count == 0)
		count = 1;
	if (!v.ansi && cols && atoi(cols) > 20)
		v.width = (unsigned)atoi(cols);

	/* 1. The first poll: an unreachable daemon is an error at once. */
	rc = top_poll(c->cli->socket, &stats, &leases, &err, &what);
	if (rc < 0) {
		fprintf(stderr, "shoalctl: top: cannot reach %s (%s): %s\n",
			c->cli->socket, what, strerror(-rc));
		if (json)
			top_emit(err, true, &v);
		json_decref(err);
		return EXIT_FAILED;
	}
	json_decref(err);
	cur = stats;

	/* 2. Signals end the loop; the terminal is restored on the way out. */
	sa.sa_handler = on_quit;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (v.ansi) {
		sa.sa_handler = on_winch;
		sigaction(SIGWINCH, &sa, NULL);
		tty_enter();
		keys = tty_raw;
		tty_size(&v);
		fputs("\033[H\033[2J", stdout);
		printf("shoalctl top: first figures in %us%s\n", v.interval,
		       keys ? "  (q quits)" : "");
		fflush(stdout);
	}

	/* 3. Each interval: poll, keep the last two distinct reports, show. */
	json_decref(leases);
	next = mono_ms() + (int64_t)interval * 1000;
	while (go && top_wait(next, keys, last, &v)) {
		next += (int64_t)interval * 1000;
		top_poll(c->cli->socket, &stats, &leases, &err, &what);
		if (stats) {
			/* The same report again (the daemon has no newer
			 * one): keep the base, so the rates stay those of
			 * the last two reports. */
			if (cur && json_equal(json_object_get(cur,
							      "report_mono_ms"),
					      json_object_get(stats,
							      "report_mono_ms"))) {
				json_decref(cur);
			} else {
				json_decref(base);
				base = cur;
			}
			cur = stats;
			frame = top_frame(base, cur, leases);
		} else {
			frame = err;
			err = NULL;
		}
		json_decref(leases);
		json_decref(err);
		if (!frame)
			break;
		go = top_emit(frame, json, &v);
		json_decref(last);
		last = frame;
		if (count && ++done == count)
			break;
	}
	tty_restore();
	json_decref(last);
	json_decref(base);
	json_decref(cur);
	return go ? EXIT_OK : EXIT_FAILED;
}
