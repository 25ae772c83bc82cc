/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the engine's side of engine.upgrade (engine/ctl_client.c):
 * the real client, on a real Unix socket, against a daemon played by the
 * test (it listens, answers engine.subscribe, sends engine.upgrade and
 * reads the answers). Without a registered function the request is
 * answered "upgrade not supported"; with one, its refusal is answered at
 * once, a start is answered only by sh_ctl_upgrade_done() with every
 * field of struct sh_upgrade_result (or the failure's reason), a second
 * request meanwhile is refused, and after a successful handover the
 * client stays quiet: no report, no reconnection.
 *
 * DPDK's libraries are linked (RCU, logs) but no EAL is started, as in
 * test_ctl_leases.c; the client has no workers.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <rte_rcu_qsbr.h>

#include <shoal/proto.h>

#include "ctl_client.h"
#include "takeover.h"

static struct sh_config cfg;
static struct sh_worker workers[1];
static struct nat_lease_set initial;
static struct rte_rcu_qsbr *qsbr;
static char dir[64];
static int lfd = -1, dfd = -1; /* the daemon's listening and session fds */
static struct sh_ctl *ctl;
static char dbuf[1 << 16];
static size_t dlen;
static struct sh_nl_stats nls; /* no kernel mirror */

/* What the registered upgrade function saw and returns. */
static struct {
	int calls;
	char binary[PATH_MAX]; /* "" for NULL */
	int rc;
	const char *err;
} up;

static int reload_fn(void *arg, char *err, size_t errlen)
{
	(void)arg, (void)err, (void)errlen;
	return 0;
}

static int upgrade_fn(void *arg, const char *binary, char *err,
		      size_t errlen)
{
	(void)arg;
	up.calls++;
	snprintf(up.binary, sizeof(up.binary), "%s", binary ? binary : "");
	if (up.err)
		snprintf(err, errlen, "%s", up.err);
	return up.rc;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the client until the daemon has a line whose "id" is @id (0: any
 * line with an id, -1: a notification), at most 3 s; NULL if none. */
static json_t *daemon_read(json_int_t id)
{
	uint64_t end = now_ms() + 3000;

	while (now_ms() < end) {
		char *nl = memchr(dbuf, '\n', dlen);
		struct pollfd pfd = { .fd = dfd, .events = POLLIN };

		if (nl) {
			json_t *m = json_loadb(dbuf, (size_t)(nl - dbuf), 0,
					       NULL);
			json_t *mid = json_object_get(m, "id");

			dlen -= (size_t)(nl + 1 - dbuf);
			memmove(dbuf, nl + 1, dlen);
			assert_non_null(m);
			if ((id == -1 && !mid) || (id == 0 && mid) ||
			    (id > 0 && json_integer_value(mid) == id))
				return m;
			json_decref(m);
			continue;
		}
		sh_ctl_service(ctl, &nls);
		if (poll(&pfd, 1, 10) == 1) {
			ssize_t n = recv(dfd, dbuf + dlen,
					 sizeof(dbuf) - dlen, 0);

			if (n <= 0)
				return NULL;
			dlen += (size_t)n;
		}
	}
	return NULL;
}

static void daemon_send(const char *line)
{
	size_t n = strlen(line);

	assert_int_equal(send(dfd, line, n, MSG_NOSIGNAL), (ssize_t)n);
	assert_int_equal(send(dfd, "\n", 1, MSG_NOSIGNAL), 1);
}

/* The client connects and subscribes; the daemon accepts it. */
static void subscribe(void)
{
	uint64_t end = now_ms() + 3000;
	json_t *m;

	while (dfd < 0 && now_ms() < end) {
		sh_ctl_service(ctl, &nls);
		dfd = accept(lfd, NULL, NULL);
		if (dfd < 0)
			usleep(10000);
	}
	assert_true(dfd >= 0);
	m = daemon_read(1);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "method")),
			    "engine.subscribe");
	json_decref(m);
	daemon_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
		    "{\"generation\":1,\"leases\":[]}}");
}

static int setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t sz = rte_rcu_qsbr_get_memsize(1);

	(void)state;
	memset(&up, 0, sizeof(up));
	dlen = 0;
	snprintf(dir, sizeof(dir), "%s", "/tmp/shoal-ctl-upgrade.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	sh_config_defaults(&cfg);
	snprintf(cfg.ctl_socket, sizeof(cfg.ctl_socket), "%s/ctl.sock", dir);
	memcpy(sa.sun_path, cfg.ctl_socket, strlen(cfg.ctl_socket) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 4))
		return -1;
	qsbr = aligned_alloc(RTE_CACHE_LINE_SIZE,
			     (sz + RTE_CACHE_LINE_SIZE - 1) &
			     ~(size_t)(RTE_CACHE_LINE_SIZE - 1));
	if (!qsbr || rte_rcu_qsbr_init(qsbr, 1))
		return -1;
	ctl = sh_ctl_create(&cfg, workers, 0, qsbr, &initial, reload_fn, NULL);
	if (!ctl)
		return -1;
	subscribe();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sh_ctl_destroy(ctl);
	if (dfd >= 0)
		close(dfd);
	close(lfd);
	dfd = lfd = -1;
	unlink(cfg.ctl_socket);
	rmdir(dir);
	free(qsbr);
	return 0;
}

/* Send engine.upgrade @id with @params (JSON text) and return the
 * answer (NULL: none within 3 s). */
static json_t *ask(int id, const char *params)
{
	char line[512];

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%d,"
		 "\"method\":\"engine.upgrade\",\"params\":%s}", id, params);
	daemon_send(line);
	return daemon_read(id);
}

static void assert_refused(json_t *m, const char *message)
{
	json_t *e = json_object_get(m, "error");

	assert_non_null(m);
	assert_null(json_object_get(m, "result"));
	assert_int_equal(json_integer_value(json_object_get(e, "code")),
			 SHOAL_ERR_REFUSED);
	assert_string_equal(json_string_value(json_object_get(e, "data")),
			    SHOAL_R_UPGRADE_FAILED);
	assert_string_equal(json_string_value(json_object_get(e, "message")),
			    message);
	json_decref(m);
}

static void test_without_a_function_upgrade_is_not_supported(void **state)
{
	(void)state;
	assert_refused(ask(5, "{}"), "upgrade not supported");
}

static void test_relative_binary_is_refused(void **state)
{
	(void)state;
	sh_ctl_set_upgrade(ctl, upgrade_fn, NULL);
	assert_refused(ask(5, "{\"binary\":\"shoal-engine\"}"),
		       "binary: not an absolute path");
	assert_int_equal(up.calls, 0);
}

static void test_refusal_is_answered_at_once(void **state)
{
	(void)state;
	sh_ctl_set_upgrade(ctl, upgrade_fn, NULL);
	up.rc = -EINVAL;
	up.err = "state file: 2 workers, the configuration says 4";
	assert_refused(ask(6, "{}"), up.err);
	assert_int_equal(up.calls, 1);
	assert_string_equal(up.binary, "");
	/* without a reason of its own: strerror */
	up.err = NULL;
	up.rc = -ENOENT;
	assert_refused(ask(7, "{\"binary\":\"/nonexistent/shoal-engine\"}"),
		       strerror(ENOENT));
	assert_string_equal(up.binary, "/nonexistent/shoal-engine");
}

static void test_outcome_carries_every_result_field(void **state)
{
	struct sh_upgrade_result r = {
		.old_pid = 1234, .new_pid = 1301,
		.binary = "/usr/sbin/shoal-engine",
		.eal_ms = 900.25, .stop_ms = 1.25, .release_ms = 3.0,
		.adopt_ms = 5.5, .ports_ms = 30.125, .gap_ms = 42.5,
		.flows = 12345, .discarded = 2,
	};
	json_t *m, *res;

	(void)state;
	sh_ctl_set_upgrade(ctl, upgrade_fn, NULL);
	daemon_send("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":"
		    "\"engine.upgrade\",\"params\":{\"binary\":"
		    "\"/usr/sbin/shoal-engine\"}}");
	/* started: no answer until the outcome; a second one is refused */
	assert_refused(ask(9, "{}"), "an upgrade is already in progress");
	assert_int_equal(up.calls, 1);
	assert_string_equal(up.binary, "/usr/sbin/shoal-engine");
	sh_ctl_upgrade_done(ctl, 0, NULL, &r);
	m = daemon_read(8);
	assert_non_null(m);
	assert_null(json_object_get(m, "error"));
	res = json_object_get(m, "result");
	assert_int_equal(json_object_size(res), 11);
	assert_int_equal(json_integer_value(json_object_get(res, "old_pid")),
			 1234);
	assert_int_equal(json_integer_value(json_object_get(res, "new_pid")),
			 1301);
	assert_string_equal(json_string_value(json_object_get(res, "binary")),
			    "/usr/sbin/shoal-engine");
	assert_true(json_real_value(json_object_get(res, "eal_ms")) == 900.25);
	assert_true(json_real_value(json_object_get(res, "stop_ms")) == 1.25);
	assert_true(json_real_value(json_object_get(res, "release_ms")) == 3.0);
	assert_true(json_real_value(json_object_get(res, "adopt_ms")) == 5.5);
	assert_true(json_real_value(json_object_get(res, "ports_ms")) ==
		    30.125);
	assert_true(json_real_value(json_object_get(res, "gap_ms")) == 42.5);
	assert_int_equal(json_integer_value(json_object_get(res, "flows")),
			 12345);
	assert_int_equal(json_integer_value(json_object_get(res,
							    "discarded")), 2);
	json_decref(m);
}

static void test_failure_is_answered_with_its_reason(void **state)
{
	json_t *m;

	(void)state;
	sh_ctl_set_upgrade(ctl, upgrade_fn, NULL);
	daemon_send("{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":"
		    "\"engine.upgrade\"}");
	assert_null(daemon_read(10)); /* nothing yet: 3 s of service */
	assert_int_equal(up.calls, 1);
	sh_ctl_upgrade_done(ctl, -ECHILD, "the new engine exited with "
			    "status 1 before the handover", NULL);
	m = daemon_read(10);
	assert_refused(m, "the new engine exited with status 1 before the "
		       "handover");
	/* the old engine carries on: it still reports */
	m = daemon_read(-1);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "method")),
			    "engine.report");
	json_decref(m);
}

static void test_after_handover_the_client_is_quiet(void **state)
{
	struct sh_upgrade_result r = { .old_pid = 1, .new_pid = 2,
				       .binary = "/b", .gap_ms = -1 };
	uint64_t end;
	json_t *m;

	(void)state;
	sh_ctl_set_upgrade(ctl, upgrade_fn, NULL);
	daemon_send("{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":"
		    "\"engine.upgrade\",\"params\":{}}");
	while (!up.calls)
		sh_ctl_service(ctl, &nls);
	sh_ctl_upgrade_done(ctl, 0, NULL, &r);
	/* sent at once, before any further service */
	m = daemon_read(11);
	assert_non_null(m);
	assert_true(json_real_value(json_object_get(json_object_get(m,
					"result"), "gap_ms")) == -1.0);
	json_decref(m);
	/* no report, and no reconnection once the daemon closes */
	close(dfd);
	dfd = -1;
	end = now_ms() + 1500;
	while (now_ms() < end) {
		int fd;

		sh_ctl_service(ctl, &nls);
		fd = accept(lfd, NULL, NULL);
		assert_true(fd < 0);
		usleep(20000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_without_a_function_upgrade_is_not_supported,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_relative_binary_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_refusal_is_answered_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_outcome_carries_every_result_field, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_failure_is_answered_with_its_reason, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_after_handover_the_client_is_quiet, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
