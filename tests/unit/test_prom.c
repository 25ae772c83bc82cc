/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal-ctld's Prometheus text formatter (ctl/ctld/prom.c) on views built
 * by hand: what it prints for workers, leases and the engine, that every
 * sample sits under its own family's TYPE line, label escaping, and that
 * a text that does not fit is flagged, not cut silently. No EAL, no
 * sockets: the real HTTP endpoint is tested in tests/live/metrics.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctld.h"

static char text[1 << 20];
static struct engine_state eng;
static struct ctl_lease leases[2];
static struct prom_lease pl[2];
static struct prom_view view;

static int setup(void **state)
{
	(void)state;
	memset(&eng, 0, sizeof(eng));
	memset(leases, 0, sizeof(leases));
	leases[0] = (struct ctl_lease){ .id = 1, .kind = SH_LEASE_NAT,
					.ip = 0xc6336400 + 10, .lo = 10000,
					.hi = 10999 };
	strcpy(leases[0].holder, "web");
	leases[1] = (struct ctl_lease){ .id = 1000, .kind = SH_LEASE_SOCKET,
					.ip = 0xc6336400 + 11, .lo = 20000,
					.hi = 20015, .draining = true };
	strcpy(leases[1].holder, "a \"q\" \\ b");
	pl[0] = (struct prom_lease){ .l = &leases[0], .known = true,
		.use = { .id = 1, .flows = 12, .tcp_ports = 3, .udp_ports = 4,
			 .exhausted = 5 } };
	pl[1] = (struct prom_lease){ .l = &leases[1] };
	view = (struct prom_view){ .eng = &eng, .now_ms = 10500,
				   .generation = 7, .leases = pl,
				   .n_leases = 2, .n_active = 1,
				   .n_draining = 1, .n_held = 2 };
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(eng.per_worker);
	eng.per_worker = NULL;
	return 0;
}

static void engine_reported(void)
{
	eng.conn_serial = 3;
	eng.have_report = true;
	eng.report_ms = 9250;
	eng.report_gen = 6;
	eng.workers = 2;
	eng.have_netlink = true;
	eng.nl_overruns = 2;
	eng.nl_resyncs = 1;
	eng.per_worker = json_pack(
		"[{si si si s{si si si si si}}, {si si si s{si} sb}]",
		"worker", 0, "lcore", 1, "flows", 40, "counters",
		"rx_inside", 7, "rx_inside_bytes", 700, "no_lease", 2,
		"handoff_tx", 3, "in2out", 6,
		"worker", 1, "lcore", 2, "flows", 2, "counters",
		"rx_outside", 5, "partial", 1);
	assert_non_null(eng.per_worker);
}

static const char *format(void)
{
	struct prom_buf b = { .p = text, .cap = sizeof(text) };

	prom_format(&view, &b);
	assert_false(b.full);
	assert_int_equal(strlen(text), b.len);
	return text;
}

static void has(const char *t, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (!strstr(t, want))
		fail_msg("missing line: %s\n---\n%s", line, t);
}

static void lacks(const char *t, const char *part)
{
	if (strstr(t, part))
		fail_msg("unexpected: %s", part);
}

/* Each sample's name is its family's, or the family's name plus a
 * Prometheus suffix; every family is declared once. */
static void check_families(const char *t)
{
	char fam[128] = "", seen[8192] = " ";
	const char *line = t;

	while (*line) {
		const char *end = strchr(line, '\n');
		char name[128];
		size_t n;

		assert_non_null(end);
		if (!strncmp(line, "# TYPE ", 7)) {
			n = strcspn(line + 7, " ");
			snprintf(fam, sizeof(fam), "%.*s", (int)n, line + 7);
			snprintf(name, sizeof(name), " %s ", fam);
			if (strstr(seen, name))
				fail_msg("family %s declared twice", fam);
			strncat(seen, name + 1, sizeof(seen) - strlen(seen) - 1);
		} else if (line[0] != '#') {
			n = strcspn(line, "{ ");
			snprintf(name, sizeof(name), "%.*s", (int)n, line);
			if (strcmp(name, fam))
				fail_msg("sample %s outside its family (%s)",
					 name, fam);
		}
		line = end + 1;
	}
}

static void test_prom_without_report_shows_daemon_and_leases_only(void **state)
{
	const char *t;

	(void)state;
	t = format();
	check_families(t);
	has(t, "shoal_build_info{version=\"" SHOAL_VERSION "\",protocol=\"1\"} 1");
	has(t, "shoal_engine_connected 0");
	has(t, "shoal_lease_generation 7");
	has(t, "shoal_leases{state=\"active\"} 1");
	has(t, "shoal_leases{state=\"draining\"} 1");
	has(t, "shoal_leases{state=\"held\"} 2");
	has(t, "shoal_lease_capacity_ports{lease=\"1000\"} 16");
	lacks(t, "shoal_engine_report_age_seconds");
	lacks(t, "worker=");
	lacks(t, "shoal_fleet_");
}

static void test_prom_fleet_gauges_only_with_fleet(void **state)
{
	const char *t;

	(void)state;
	view.fleet = true;
	view.fleet_owned = 3;
	view.fleet_valid_ms = 6250;
	view.fleet_etcd_up = true;
	t = format();
	check_families(t);
	has(t, "shoal_fleet_slices_owned 3");
	has(t, "shoal_fleet_valid_seconds 6.250");
	has(t, "shoal_fleet_etcd_up 1");
	view.fleet_valid_ms = 0;
	view.fleet_etcd_up = false;
	t = format();
	has(t, "shoal_fleet_valid_seconds 0.000");
	has(t, "shoal_fleet_etcd_up 0");
}

static void test_prom_worker_counters_by_port_and_reason(void **state)
{
	const char *t;

	(void)state;
	engine_reported();
	t = format();
	check_families(t);
	has(t, "shoal_engine_connected 1");
	has(t, "shoal_engine_report_age_seconds 1.250");
	has(t, "shoal_engine_generation 6");
	has(t, "shoal_netlink_overruns_total 2");
	has(t, "shoal_netlink_resyncs_total 1");
	has(t, "shoal_worker_flows{worker=\"0\"} 40");
	has(t, "shoal_received_packets_total{worker=\"0\",port=\"inside\"} 7");
	has(t, "shoal_received_packets_total{worker=\"0\",port=\"outside\"} 0");
	has(t, "shoal_received_bytes_total{worker=\"0\",port=\"inside\"} 700");
	has(t, "shoal_drops_total{worker=\"0\",reason=\"no_lease\"} 2");
	/* a counter the engine left out as zero is 0 */
	has(t, "shoal_drops_total{worker=\"0\",reason=\"tx_full\"} 0");
	has(t, "shoal_handoff_sent_packets_total{worker=\"0\"} 3");
	has(t, "shoal_events_total{worker=\"0\",event=\"in2out\"} 6");
	/* counters with a metric of their own are not repeated as events */
	lacks(t, "event=\"rx_inside\"");
	lacks(t, "event=\"handoff_tx\"");
	/* a partial worker: what it sent, nothing made up for the rest */
	has(t, "shoal_received_packets_total{worker=\"1\",port=\"outside\"} 5");
	lacks(t, "shoal_drops_total{worker=\"1\"");
}

static void test_prom_lease_series_and_label_escaping(void **state)
{
	const char *t;

	(void)state;
	engine_reported();
	t = format();
	has(t, "shoal_lease_info{lease=\"1\",holder=\"web\",kind=\"nat\","
	       "address=\"198.51.100.10\",ports=\"10000-10999\","
	       "state=\"active\"} 1");
	has(t, "shoal_lease_info{lease=\"1000\",holder=\"a \\\"q\\\" \\\\ b\","
	       "kind=\"socket\",address=\"198.51.100.11\","
	       "ports=\"20000-20015\",state=\"draining\"} 1");
	has(t, "shoal_lease_capacity_ports{lease=\"1\"} 1000");
	has(t, "shoal_lease_flows{lease=\"1\"} 12");
	has(t, "shoal_lease_ports_in_use{lease=\"1\",protocol=\"tcp\"} 3");
	has(t, "shoal_lease_ports_in_use{lease=\"1\",protocol=\"udp\"} 4");
	has(t, "shoal_lease_ports_exhausted_total{lease=\"1\"} 5");
	/* what the engine's report does not tell is left out, not 0 */
	lacks(t, "shoal_lease_flows{lease=\"1000\"}");
	lacks(t, "shoal_lease_ports_exhausted_total{lease=\"1000\"}");
}

static void test_prom_too_small_buffer_is_flagged(void **state)
{
	struct prom_buf b = { .p = text, .cap = 200 };

	(void)state;
	engine_reported();
	prom_format(&view, &b);
	assert_true(b.full);
	assert_true(b.len < 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_prom_without_report_shows_daemon_and_leases_only),
		T(test_prom_fleet_gauges_only_with_fleet),
		T(test_prom_worker_counters_by_port_and_reason),
		T(test_prom_lease_series_and_label_escaping),
		T(test_prom_too_small_buffer_is_flagged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
