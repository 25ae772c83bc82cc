/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's loop and its orchestration. One epoll watches the
 * server's epoll fd, the metrics server's epoll fd, the fleet worker's
 * eventfd ([fleet]: fleet_sync.c) and a signalfd (SIGINT/SIGTERM: stop;
 * SIGHUP: reload.c); every TICK_MS the timers run (idle connections,
 * engine relays, the fleet's proof) and once per wall-clock second the
 * lease lifecycle. After each request line and each tick, a committed change
 * (a moved generation) is pushed to the engine: the rules only decide,
 * this file makes their decisions reach the engine.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ctld.h"

#define TICK_MS 250

/* After every step: a reload or an upgrade the engine answered is
 * finished, and the engine gets the set of the latest committed
 * generation if it has not got it and can take it now (engine.c holds
 * back while it reads). */
static void push(struct ctld *d)
{
	reload_settle(d);
	upgrade_settle(d);
	if (engine_wants_push(d)) {
		engine_push(d, view_engine_lease_set(d), view_fleet_engine(d));
		fleet_loop_pushed(d);
	}
	fleet_loop_valid(d);
}

void core_line(struct ctld *d, struct conn *c, const char *line, size_t len)
{
	rpc_handle_line(d, c, line, len);
	push(d);
}

void core_closed(struct ctld *d, uint64_t serial)
{
	engine_detach(d, serial);
}

void core_tick(struct ctld *d)
{
	static time_t last_lease;

	engine_tick(d);
	fleet_loop_sync(d, false); /* the proof runs out without news */
	if (time(NULL) != last_lease) {
		int rc = lease_tick(d);

		last_lease = time(NULL);
		if (rc)
			ctld_log(CTLD_WARN, "lease tick: %s", strerror(-rc));
		ctld_notify_tick(d);
	}
	push(d);
}

static const struct server_ops ops = {
	.line = core_line,
	.closed = core_closed,
};

/* Block SIGINT/SIGTERM/SIGHUP and read them from a signalfd, so they
 * arrive as events of the loop, not as interruptions anywhere. */
static int signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* The signal read from @sfd, 0 if none. */
static int signal_read(int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

/* SIGHUP: a reload whose result only the log sees. */
static void sighup(struct ctld *d)
{
	char msg[SH_CFG_STR_LEN + 256];
	json_t *res = NULL;

	ctld_log(CTLD_INFO, "SIGHUP: reloading %s", d->cfg->path);
	if (reload_begin(d, NULL, NULL, &res, msg, sizeof(msg)) < 0)
		return; /* logged by reload.c */
	json_decref(res);
	push(d);
}

int core_run(struct ctld *d)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[5];
	int64_t next_tick = 0;
	int epfd, sfd, rc = 0;
	bool quit = false;

	sfd = signals_open();
	if (sfd < 0)
		return -errno;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = sfd;
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev))
		goto fail;
	ev.data.fd = server_fd(d);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		goto fail;
	ev.data.fd = metrics_fd(d);
	if (ev.data.fd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		goto fail;
	ev.data.fd = fleet_loop_fd(d);
	if (ev.data.fd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		goto fail;
	while (!quit) {
		int n = epoll_wait(epfd, evs, 5, metrics_timeout(d, TICK_MS));
		int64_t now;

		if (n < 0 && errno != EINTR)
			goto fail;
		metrics_run(d); /* after every wait, as MHD_get_timeout asks */
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == metrics_fd(d))
				continue;
			if (evs[i].data.fd == fleet_loop_fd(d)) {
				fleet_loop_sync(d, true);
				push(d);
				continue;
			}
			if (evs[i].data.fd != sfd) {
				rc = server_dispatch(d);
				if (rc)
					goto out;
				continue;
			}
			switch (signal_read(sfd)) {
			case SIGINT:
			case SIGTERM:
				quit = true;
				break;
			case SIGHUP:
				sighup(d);
				break;
			}
		}
		now = ctld_now_ms();
		if (now >= next_tick) {
			next_tick = now + TICK_MS;
			server_expire(d, now);
			core_tick(d);
		}
		server_reap(d);
	}
	goto out;
fail:
	rc = -errno;
out:
	if (epfd >= 0)
		close(epfd);
	close(sfd);
	return rc;
}

int core_open(struct ctld *d, char *err, size_t errlen)
{
	return server_open(d, &ops, err, errlen);
}
