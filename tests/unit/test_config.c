/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for lib/config.c: the strict value parsers, a complete
 * valid file, defaults, the comment dialect, and every error the loader
 * reports, each checked for its exact "FILE:LINE: " prefix and its reason.
 *
 * Each test writes its file into one mkdtemp() directory made by the group
 * setup and removed by the group teardown. No EAL, no root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char dir[64];
static char path[128];
static char err[512];
static struct sh_config cfg;

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

/* The smallest valid file: 6 lines. Error tests append after it. */
#define MINIMAL                                                                \
	"[inside]\n"                                                           \
	"device = in0\n"                                                       \
	"[outside]\n"                                                          \
	"device = out0\n"                                                      \
	"[slices]\n"                                                           \
	"198.51.100.10 = 10000-12047\n"

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/shoal-test-config.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/test.conf", dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

/* Write @len bytes of @text as the config file and load it. */
static int load_n(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	memset(err, 0, sizeof(err));
	return sh_config_load(&cfg, path, err, sizeof(err));
}

static int load(const char *text)
{
	return load_n(text, strlen(text));
}

static void load_ok(const char *text)
{
	int rc = load(text);

	if (rc != 0)
		fail_msg("load failed (%d): %s", rc, err);
}

/* The load fails with -EINVAL and err is "PATH:LINE: ...REASON...". */
static void load_err(const char *text, int line, const char *reason)
{
	char want[256];
	size_t n;
	int rc = load(text);

	n = (size_t)snprintf(want, sizeof(want), "%s:%d: ", path, line);
	if (rc != -EINVAL || strncmp(err, want, n) != 0 ||
	    !strstr(err + n, reason))
		fail_msg("rc %d, err '%s'; want -EINVAL, '%s...%s'", rc, err,
			 want, reason);
}

/* ---- sh_parse_* helpers ------------------------------------------------ */


/* ---- reload: key lines and the keys only a restart changes ------------- */

static void test_config_line_names_where_each_key_was_set(void **state)
{
	(void)state;
	load_ok("[engine]\nworkers = 2\n" MINIMAL "[nat]\n\nudp_timeout = 9\n");
	assert_int_equal(sh_config_line(&cfg, "engine", NULL), 1);
	assert_int_equal(sh_config_line(&cfg, "engine", "workers"), 2);
	assert_int_equal(sh_config_line(&cfg, "inside", "device"), 4);
	assert_int_equal(sh_config_line(&cfg, "slices", NULL), 7);
	assert_int_equal(sh_config_line(&cfg, "nat", "udp_timeout"), 11);
	assert_int_equal(sh_config_line(&cfg, "nat", "max_flows"), 0);
	assert_int_equal(sh_config_line(&cfg, "ctl", NULL), 0);
	assert_int_equal(sh_config_line(&cfg, "nosuch", "key"), 0);
}

static void test_reload_check_refuses_restart_keys_only(void **state)
{
	static struct sh_config run;
	char want[256];

	(void)state;
	load_ok(MINIMAL "[nat]\nudp_timeout = 9\n");
	run = cfg;
	/* live: timeouts, limits, punt rates, slices, leases */
	load_ok("[inside]\ndevice = in0\npunt_rate = 5\n[outside]\n"
		"device = out0\n[slices]\n198.51.100.10 = 10000-10099\n"
		"198.51.100.11 = 1-2\n[nat]\nudp_timeout = 10\n"
		"max_ports_per_client = 7\n[lease.a]\nkind = socket\n"
		"ip = 198.51.100.11\nports = 1-2\n");
	assert_int_equal(sh_config_reload_check(&run, &cfg, SH_PROG_ENGINE |
						SH_PROG_CTLD, err,
						sizeof(err)), 0);
	/* the engine's: cited where the new file sets them */
	load_ok(MINIMAL "[nat]\nudp_timeout = 9\nmax_flows = 100\n");
	assert_int_equal(sh_config_reload_check(&run, &cfg, SH_PROG_ENGINE,
						err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:9: [nat] max_flows: differs", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_non_null(strstr(err, "restart shoal-engine"));
	assert_int_equal(sh_config_reload_check(&run, &cfg, SH_PROG_CTLD, err,
						sizeof(err)), 0);
	load_ok("[outside]\ndevice = out0\n[inside]\ndevice = in1\n"
		"[slices]\n198.51.100.10 = 10000-12047\n");
	assert_int_equal(sh_config_reload_check(&run, &cfg, SH_PROG_ENGINE,
						err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4: [inside] device: differs", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	/* back to a default: cited at its section's header, else line 1 */
	run.nat.max_flows = 100;
	load_ok(MINIMAL "[nat]\nudp_timeout = 9\n");
	assert_int_equal(sh_config_reload_check(&run, &cfg, SH_PROG_ENGINE,
						err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:7: [nat] max_flows: differs", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	load_ok(MINIMAL);
	assert_int_equal(sh_config_reload_check(&run, &cfg, SH_PROG_ENGINE,
						err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: [nat] max_flows: differs", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	run.nat.max_flows = cfg.nat.max_flows;
	/* shoal-ctld's */
	load_ok(MINIMAL "[ctl]\ngroup = other\n");
	assert_int_equal(sh_config_reload_check(&run, &cfg, SH_PROG_CTLD, err,
						sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:8: [ctl] group: differs", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_non_null(strstr(err, "restart shoal-ctld"));
	assert_int_equal(sh_config_reload_check(&run, &cfg, SH_PROG_ENGINE,
						err, sizeof(err)), 0);
}

static void test_parse_ipv4_accepts_dotted_quads(void **state)
{
	uint32_t a = 0;

	(void)state;
	assert_int_equal(sh_parse_ipv4("198.51.100.10", &a), 0);
	assert_int_equal(a, IP(198, 51, 100, 10));
	assert_int_equal(sh_parse_ipv4("0.0.0.0", &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(sh_parse_ipv4("255.255.255.255", &a), 0);
	assert_int_equal(a, UINT32_MAX);
	assert_int_equal(sh_parse_ipv4("10.0.0.1", &a), 0);
	assert_int_equal(a, IP(10, 0, 0, 1));
}

static void test_parse_ipv4_rejects_anything_else(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.256",
		"01.2.3.4", "1.2.3.00", "1.2.3.4 ", " 1.2.3.4", "+1.2.3.4",
		"1..2.3", "1.2.3.-4", "a.b.c.d", "1.2.3.4/8", "0x1.2.3.4",
		"4294967296.0.0.0", "1.2.3.", ".1.2.3",
	};
	uint32_t a = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sh_parse_ipv4(bad[i], &a) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(a, 42); /* untouched on failure */
}

static void test_parse_prefix_clears_host_bits_and_keeps_host(void **state)
{
	struct sh_prefix p;
	uint32_t host = 0;

	(void)state;
	assert_int_equal(sh_parse_prefix("10.0.0.1/24", &p, &host), 0);
	assert_int_equal(p.addr, IP(10, 0, 0, 0));
	assert_int_equal(p.len, 24);
	assert_int_equal(host, IP(10, 0, 0, 1));
	assert_int_equal(sh_parse_prefix("1.2.3.4/0", &p, &host), 0);
	assert_int_equal(p.addr, 0);
	assert_int_equal(p.len, 0);
	assert_int_equal(sh_parse_prefix("1.2.3.4/32", &p, NULL), 0);
	assert_int_equal(p.addr, IP(1, 2, 3, 4));
	assert_int_equal(p.len, 32);
	assert_int_equal(sh_parse_prefix("10.255.255.255/1", &p, NULL), 0);
	assert_int_equal(p.addr, 0);
	assert_int_equal(sh_parse_prefix("192.168.1.129/25", &p, NULL), 0);
	assert_int_equal(p.addr, IP(192, 168, 1, 128));
}

static void test_parse_prefix_rejects_anything_else(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3.4", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/08",
		"1.2.3.4/24x", "1.2.3.4 /24", "1.2.3.4/ 24", "1.2.3/24",
		"1.2.3.4/-1", "/24", "1.2.3.4/+24", "1.2.3.4/24/",
	};
	struct sh_prefix p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sh_parse_prefix(bad[i], &p, NULL) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_parse_port_range_accepts_range_and_single(void **state)
{
	uint16_t lo = 0, hi = 0;

	(void)state;
	assert_int_equal(sh_parse_port_range("10000-12047", &lo, &hi), 0);
	assert_int_equal(lo, 10000);
	assert_int_equal(hi, 12047);
	assert_int_equal(sh_parse_port_range("1-65535", &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 65535);
	assert_int_equal(sh_parse_port_range("5-5", &lo, &hi), 0);
	assert_int_equal(lo, 5);
	assert_int_equal(hi, 5);
	assert_int_equal(sh_parse_port_range("65535", &lo, &hi), 0);
	assert_int_equal(lo, 65535);
	assert_int_equal(hi, 65535);
	assert_int_equal(sh_parse_port_range("1", &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 1);
}

static void test_parse_port_range_rejects_anything_else(void **state)
{
	static const char *const bad[] = {
		"", "0", "0-10", "10-5", "65536", "1-65536", "10-", "-10",
		"10 - 20", "+10", "0x10", "10-20-30", "010", "10-020", "1e3",
		"99999999999", "10 ", "a-b",
	};
	uint16_t lo = 7, hi = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sh_parse_port_range(bad[i], &lo, &hi) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(lo, 7);
	assert_int_equal(hi, 7);
}

static void test_parse_mac_accepts_any_case(void **state)
{
	static const uint8_t want[6] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	uint8_t mac[6];

	(void)state;
	assert_int_equal(sh_parse_mac("AA:bb:Cc:dD:ee:FF", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(sh_parse_mac("02:00:00:00:00:02", mac), 0);
	assert_int_equal(mac[0], 2);
	assert_int_equal(mac[5], 2);
}

static void test_parse_mac_rejects_anything_else(void **state)
{
	static const char *const bad[] = {
		"", "02:00:00:00:00", "02:00:00:00:00:02:03",
		"2:0:0:0:0:2", "02-00-00-00-00-02", "0g:00:00:00:00:02",
		"02:00:00:00:00:02 ", " 02:00:00:00:00:02", "0200.0000.0002",
		"02:00:00:00:00:0", "02:00:00:00:00:002", "02::00:00:00:00",
	};
	uint8_t mac[6] = { 9, 9, 9, 9, 9, 9 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sh_parse_mac(bad[i], mac) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(mac[0], 9);
}

static void test_parse_u32_accepts_edges(void **state)
{
	uint32_t v = 1;

	(void)state;
	assert_int_equal(sh_parse_u32("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(sh_parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(sh_parse_u32("16", 1, 16, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(sh_parse_u32("1", 1, 16, &v), 0);
	assert_int_equal(v, 1);
}

static void test_parse_u32_rejects_overflow_signs_and_junk(void **state)
{
	static const char *const bad[] = {
		"", "4294967296", "99999999999999999999", "-1", "+1", "0x10",
		"1 ", " 1", "007", "1.0", "1e3", "ten",
	};
	uint32_t v = 5;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sh_parse_u32(bad[i], 0, UINT32_MAX, &v) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(sh_parse_u32("0", 1, 16, &v), -EINVAL);
	assert_int_equal(sh_parse_u32("17", 1, 16, &v), -EINVAL);
	assert_int_equal(v, 5);
}

/* ---- valid files ------------------------------------------------------- */

static void test_full_config_sets_every_value(void **state)
{
	static const uint8_t in_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t out_mac[6] = { 0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	const struct sh_lease_cfg *l;

	(void)state;
	load_ok("[engine]\n"
		"eal = -l 0-1 --no-huge -m 1024 --no-pci --file-prefix shoal\n"
		"workers = 16\n"
		"ctl_socket = /run/shoal/engine.sock\n"
		"[inside]\n"
		"device = 0000:3b:00.0\n"
		"address = 10.0.0.1/24\n"
		"gateway = 10.0.0.254\n"
		"exception = virtio-user\n"
		"next_hop_mac = 02:00:00:00:00:02\n"
		"[outside]\n"
		"device = net_af_xdp0,iface=eth1\n"
		"address = 192.0.2.1/31\n"
		"gateway = 192.0.2.0\n"
		"exception = tap\n"
		"next_hop_mac = 0A:BB:cc:DD:ee:FF\n"
		"[slices]\n"
		"198.51.100.10 = 10000-12047\n"
		"198.51.100.10 = 20000\n"
		"198.51.100.11 = 1-65535\n"
		"[nat]\n"
		"udp_timeout = 1\n"
		"tcp_established_timeout = 2000000\n"
		"tcp_transitory_timeout = 241\n"
		"icmp_timeout = 61\n"
		"max_flows = 67108864\n"
		"max_ports_per_client = 65535\n"
		"[lease.web-1]\n"
		"kind = nat\n"
		"ip = 198.51.100.10\n"
		"ports = 10000-10999\n"
		"clients = 10.0.0.0/16 ,172.16.0.0/12,  0.0.0.0/0 , 192.168.1.7/32\n"
		"[lease.Host_socket.2]\n"
		"kind = socket\n"
		"ip = 198.51.100.10\n"
		"ports = 20000\n"
		"[ctl]\n"
		"socket = /run/x/ctl.sock\n"
		"database = /srv/leases.db\n"
		"group = nat-admins\n"
		"readers = nat-viewers\n"
		"engine_user = shoal-engine\n"
		"metrics = 127.0.0.1:9469\n");

	assert_string_equal(cfg.path, path);
	assert_string_equal(cfg.eal,
			    "-l 0-1 --no-huge -m 1024 --no-pci --file-prefix shoal");
	assert_int_equal(cfg.workers, 16);
	assert_string_equal(cfg.ctl_socket, "/run/shoal/engine.sock");

	assert_true(cfg.inside.present);
	assert_int_equal(cfg.inside.line, 5);
	assert_string_equal(cfg.inside.device, "0000:3b:00.0");
	assert_true(cfg.inside.has_address);
	assert_int_equal(cfg.inside.address.addr, IP(10, 0, 0, 0));
	assert_int_equal(cfg.inside.address.len, 24);
	assert_int_equal(cfg.inside.address_host, IP(10, 0, 0, 1));
	assert_true(cfg.inside.has_gateway);
	assert_int_equal(cfg.inside.gateway, IP(10, 0, 0, 254));
	assert_int_equal(cfg.inside.exception, SH_EXC_VIRTIO_USER);
	assert_true(cfg.inside.has_next_hop_mac);
	assert_memory_equal(cfg.inside.next_hop_mac, in_mac, 6);

	assert_true(cfg.outside.present);
	assert_int_equal(cfg.outside.line, 11);
	assert_string_equal(cfg.outside.device, "net_af_xdp0,iface=eth1");
	assert_true(cfg.outside.has_address);
	assert_int_equal(cfg.outside.address.addr, IP(192, 0, 2, 0));
	assert_int_equal(cfg.outside.address.len, 31);
	assert_int_equal(cfg.outside.address_host, IP(192, 0, 2, 1));
	assert_true(cfg.outside.has_gateway);
	assert_int_equal(cfg.outside.gateway, IP(192, 0, 2, 0));
	assert_int_equal(cfg.outside.exception, SH_EXC_TAP);
	assert_true(cfg.outside.has_next_hop_mac);
	assert_memory_equal(cfg.outside.next_hop_mac, out_mac, 6);

	assert_int_equal(cfg.n_slices, 3);
	assert_int_equal(cfg.slices[0].ip, IP(198, 51, 100, 10));
	assert_int_equal(cfg.slices[0].lo, 10000);
	assert_int_equal(cfg.slices[0].hi, 12047);
	assert_int_equal(cfg.slices[0].line, 18);
	assert_int_equal(cfg.slices[1].ip, IP(198, 51, 100, 10));
	assert_int_equal(cfg.slices[1].lo, 20000);
	assert_int_equal(cfg.slices[1].hi, 20000);
	assert_int_equal(cfg.slices[1].line, 19);
	assert_int_equal(cfg.slices[2].ip, IP(198, 51, 100, 11));
	assert_int_equal(cfg.slices[2].lo, 1);
	assert_int_equal(cfg.slices[2].hi, 65535);
	assert_int_equal(cfg.slices[2].line, 20);

	assert_int_equal(cfg.nat.udp_timeout, 1);
	assert_int_equal(cfg.nat.tcp_established_timeout, 2000000);
	assert_int_equal(cfg.nat.tcp_transitory_timeout, 241);
	assert_int_equal(cfg.nat.icmp_timeout, 61);
	assert_int_equal(cfg.nat.max_flows, 67108864);
	assert_int_equal(cfg.nat.max_ports_per_client, 65535);

	assert_int_equal(cfg.n_leases, 2);
	l = &cfg.leases[0];
	assert_string_equal(l->name, "web-1");
	assert_int_equal(l->line, 28);
	assert_int_equal(l->kind, SH_LEASE_NAT);
	assert_int_equal(l->ip, IP(198, 51, 100, 10));
	assert_int_equal(l->lo, 10000);
	assert_int_equal(l->hi, 10999);
	assert_int_equal(l->n_clients, 4);
	assert_int_equal(l->clients[0].addr, IP(10, 0, 0, 0));
	assert_int_equal(l->clients[0].len, 16);
	assert_int_equal(l->clients[1].addr, IP(172, 16, 0, 0));
	assert_int_equal(l->clients[1].len, 12);
	assert_int_equal(l->clients[2].addr, 0);
	assert_int_equal(l->clients[2].len, 0);
	assert_int_equal(l->clients[3].addr, IP(192, 168, 1, 7));
	assert_int_equal(l->clients[3].len, 32);
	l = &cfg.leases[1];
	assert_string_equal(l->name, "Host_socket.2");
	assert_int_equal(l->line, 33);
	assert_int_equal(l->kind, SH_LEASE_SOCKET);
	assert_int_equal(l->ip, IP(198, 51, 100, 10));
	assert_int_equal(l->lo, 20000);
	assert_int_equal(l->hi, 20000);
	assert_int_equal(l->n_clients, 0);

	assert_string_equal(cfg.ctl_sock_path, "/run/x/ctl.sock");
	assert_string_equal(cfg.ctl_database, "/srv/leases.db");
	assert_string_equal(cfg.ctl_group, "nat-admins");
	assert_string_equal(cfg.ctl_readers, "nat-viewers");
	assert_string_equal(cfg.ctl_engine_user, "shoal-engine");
	assert_int_equal(cfg.ctl_metrics_ip, IP(127, 0, 0, 1));
	assert_int_equal(cfg.ctl_metrics_port, 9469);
}

static void check_defaults(void)
{
	assert_string_equal(cfg.eal, "");
	assert_int_equal(cfg.workers, 1);
	assert_string_equal(cfg.ctl_socket, "");
	assert_int_equal(cfg.inside.exception, SH_EXC_AUTO);
	assert_int_equal(cfg.outside.exception, SH_EXC_AUTO);
	assert_false(cfg.inside.has_address);
	assert_false(cfg.inside.has_gateway);
	assert_false(cfg.inside.has_next_hop_mac);
	assert_false(cfg.outside.has_address);
	assert_false(cfg.outside.has_gateway);
	assert_false(cfg.outside.has_next_hop_mac);
	assert_int_equal(cfg.nat.udp_timeout, 300);
	assert_int_equal(cfg.nat.tcp_established_timeout, 7440);
	assert_int_equal(cfg.nat.tcp_transitory_timeout, 240);
	assert_int_equal(cfg.nat.icmp_timeout, 60);
	assert_int_equal(cfg.nat.max_flows, 1048576);
	assert_int_equal(cfg.nat.max_ports_per_client, 0);
	assert_int_equal(cfg.nat.tcp_mss_clamp, SH_MSS_CLAMP_AUTO);
	assert_int_equal(cfg.inside.mtu, 1500);
	assert_int_equal(cfg.outside.mtu, 1500);
	assert_int_equal(sh_config_mss_clamp(&cfg), 1460);
	assert_int_equal(cfg.n_leases, 0);
	assert_string_equal(cfg.ctl_sock_path, "/run/shoal/ctl.sock");
	assert_string_equal(cfg.ctl_database, "/var/lib/shoal/leases.db");
	assert_string_equal(cfg.ctl_group, "shoal");
	assert_string_equal(cfg.ctl_readers, "");
	assert_string_equal(cfg.ctl_engine_user, "root");
	assert_int_equal(cfg.ctl_metrics_port, 0); /* metrics off */
}

static void test_defaults_are_the_documented_values(void **state)
{
	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	sh_config_defaults(&cfg);
	check_defaults();
	assert_false(cfg.inside.present);
	assert_false(cfg.outside.present);
	assert_int_equal(cfg.n_slices, 0);
}

static void test_minimal_file_leaves_defaults(void **state)
{
	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	load_ok(MINIMAL);
	check_defaults();
	assert_string_equal(cfg.inside.device, "in0");
	assert_string_equal(cfg.outside.device, "out0");
	assert_int_equal(cfg.n_slices, 1);
}

static void test_comments_blanks_and_line_endings_are_ignored(void **state)
{
	(void)state;
	load_ok("; leading comment\n"
		"# hash comment\n"
		"   ; indented comment\n"
		"\t# indented hash comment\n"
		"\n"
		"   \t \n"
		"[engine]   ; section comment\n"
		"  workers   =   3   ; inline comment\n"
		"eal = --no-huge ;; -m 64\n"
		"[ inside ]\r\n"
		"device = in#0\r\n"
		"[outside]\n"
		"device = out0;comment without space\n"
		"[slices]\n"
		"198.51.100.10 = 10000-12047 ; the slice"); /* no final newline */
	assert_int_equal(cfg.workers, 3);
	assert_string_equal(cfg.eal, "--no-huge");
	assert_string_equal(cfg.inside.device, "in#0"); /* '#' only at start */
	assert_string_equal(cfg.outside.device, "out0");
	assert_int_equal(cfg.slices[0].hi, 12047);
}

static void test_line_of_1023_chars_is_accepted(void **state)
{
	static char text[2048];
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "[nat]\nudp_timeout = 7");
	/* line 2: 15 characters, padded with blanks and a comment to 1023 */
	memset(text + n, ' ', 500);
	memset(text + n + 500, ';', 508);
	strcpy(text + n + 1008, "\n" MINIMAL);
	load_ok(text);
	assert_int_equal(cfg.nat.udp_timeout, 7);
}

static void test_sections_may_come_in_any_order(void **state)
{
	(void)state;
	load_ok("[lease.a]\n"
		"ports = 12000-12047\n"
		"ip = 198.51.100.10\n"
		"kind = socket\n"
		"[slices]\n"
		"198.51.100.10 = 10000-12047\n"
		"[outside]\n"
		"device = out0\n"
		"[inside]\n"
		"device = in0\n");
	assert_int_equal(cfg.n_leases, 1);
	assert_int_equal(cfg.leases[0].lo, 12000);
}

static void test_leases_on_different_ips_may_share_ports(void **state)
{
	(void)state;
	load_ok(MINIMAL
		"198.51.100.11 = 10000-12047\n"
		"[lease.a]\nkind = socket\nip = 198.51.100.10\nports = 10000\n"
		"[lease.b]\nkind = socket\nip = 198.51.100.11\nports = 10000\n"
		"[lease.c]\nkind = socket\nip = 198.51.100.11\nports = 10001\n");
	assert_int_equal(cfg.n_leases, 3);
}

static void test_missing_file_returns_errno(void **state)
{
	char want[256];
	int rc;

	(void)state;
	unlink(path);
	rc = sh_config_load(&cfg, path, err, sizeof(err));
	assert_int_equal(rc, -ENOENT);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);
}

static void test_directory_returns_read_errno(void **state)
{
	int rc;

	(void)state;
	rc = sh_config_load(&cfg, dir, err, sizeof(err));
	assert_int_equal(rc, -EISDIR);
	assert_non_null(strstr(err, dir));
}

static void test_short_error_buffer_is_truncated_safely(void **state)
{
	char small[8];
	FILE *f = fopen(path, "w");

	(void)state;
	assert_non_null(f);
	fputs("workers = 1\n", f);
	fclose(f);
	memset(small, 'z', sizeof(small));
	assert_int_equal(sh_config_load(&cfg, path, small, sizeof(small)),
			 -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(sh_config_load(&cfg, path, NULL, 0), -EINVAL);
}

/* ---- syntax errors ----------------------------------------------------- */

static void test_key_outside_section_is_rejected(void **state)
{
	(void)state;
	load_err("; comment\nworkers = 1\n" MINIMAL, 2,
		 "key 'workers' outside any section");
}

static void test_malformed_section_header_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[engine\n", 7, "malformed section header");
	load_err(MINIMAL "[engine] workers = 1\n", 7, "malformed section header");
	load_err(MINIMAL "[]\n", 7, "malformed section header (empty name)");
	load_err(MINIMAL "[   ]\n", 7, "malformed section header (empty name)");
	load_err("[\n" MINIMAL, 1, "malformed section header");
}

static void test_unknown_section_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[engines]\n", 7, "unknown section [engines]");
	load_err(MINIMAL "[Engine]\n", 7, "unknown section [Engine]");
	load_err(MINIMAL "[lease]\n", 7, "unknown section [lease]");
}

static void test_unknown_key_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[engine]\nworker = 2\n", 8,
		 "unknown key 'worker' in [engine]");
	load_err(MINIMAL "[lease.x]\nkind = nat\nport = 1\n", 9,
		 "unknown key 'port' in [lease.x]");
	load_err("[inside]\ndevice = a\nDevice = b\n", 3,
		 "unknown key 'Device' in [inside]");
}

static void test_line_without_equals_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[nat]\nudp_timeout 30\n", 8, "missing '='");
	load_err("garbage\n", 1, "missing '='");
}

static void test_empty_key_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[nat]\n   = 30\n", 8, "empty key");
}

static void test_empty_value_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[nat]\nudp_timeout =\n", 8,
		 "empty value for 'udp_timeout'");
	load_err(MINIMAL "[engine]\neal =   ; comment only\n", 8,
		 "empty value for 'eal'");
	load_err(MINIMAL "198.51.100.11 =\n", 7, "empty value for '198.51.100.11'");
}

static void test_duplicate_key_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[engine]\nworkers = 1\n\nworkers = 2\n", 10,
		 "duplicate key 'workers' in [engine] (first at line 8)");
	load_err("[inside]\ndevice = a\ndevice = a\n", 3,
		 "duplicate key 'device' in [inside] (first at line 2)");
	load_err(MINIMAL "[lease.x]\nkind = socket\nkind = socket\n", 9,
		 "duplicate key 'kind' in [lease.x] (first at line 8)");
}

static void test_duplicate_section_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[nat]\n[engine]\n[nat]\n", 9,
		 "duplicate section [nat] (first at line 7)");
	load_err(MINIMAL "[inside]\n", 7,
		 "duplicate section [inside] (first at line 1)");
}

static void test_duplicate_lease_section_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL
		 "[lease.a]\nkind = socket\nip = 198.51.100.10\nports = 10000\n"
		 "[lease.a]\n", 11,
		 "duplicate section [lease.a] (first at line 7)");
}

static void test_line_over_1023_chars_is_rejected(void **state)
{
	static char text[4096];
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), MINIMAL "; ");
	memset(text + n, 'x', 1022); /* line 7: 1024 characters */
	strcpy(text + n + 1022, "\n[nat]\n");
	load_err(text, 7, "line too long (max 1023 characters)");
	text[n + 1022] = '\0'; /* same, as the last line without newline */
	load_err(text, 7, "line too long");
}

static void test_nul_byte_in_line_is_rejected(void **state)
{
	static const char text[] = MINIMAL "[nat]\nudp_timeout = 3\0 0\n";
	int rc;

	(void)state;
	rc = load_n(text, sizeof(text) - 1);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, ":8: line contains a NUL byte"));
}

/* ---- missing pieces ---------------------------------------------------- */

static void test_missing_inside_is_reported_at_line_1(void **state)
{
	(void)state;
	load_err("[outside]\ndevice = o\n[slices]\n1.2.3.4 = 1\n", 1,
		 "missing [inside] section");
	load_err("", 1, "missing [inside] section");
}

static void test_missing_outside_is_reported_at_line_1(void **state)
{
	(void)state;
	load_err("[inside]\ndevice = i\n[slices]\n1.2.3.4 = 1\n", 1,
		 "missing [outside] section");
}

static void test_missing_slices_is_reported_at_line_1(void **state)
{
	(void)state;
	load_err("[inside]\ndevice = i\n[outside]\ndevice = o\n", 1,
		 "missing [slices] section");
}

static void test_empty_slices_is_reported_at_its_header(void **state)
{
	(void)state;
	load_err("[inside]\ndevice = i\n[slices]\n; none yet\n"
		 "[outside]\ndevice = o\n", 3,
		 "[slices] lists no slices (at least one is required)");
}

static void test_port_without_device_is_reported_at_its_header(void **state)
{
	(void)state;
	load_err("[slices]\n1.2.3.4 = 1\n[inside]\naddress = 10.0.0.1/24\n"
		 "[outside]\ndevice = o\n", 3,
		 "[inside] missing required key 'device'");
	load_err("[inside]\ndevice = i\n[slices]\n1.2.3.4 = 1\n[outside]\n", 5,
		 "[outside] missing required key 'device'");
}

/* ---- [engine] ---------------------------------------------------------- */

static void test_workers_out_of_range_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[engine]\nworkers = 0\n", 8,
		 "workers: expected an integer in 1..64, got '0'");
	load_err(MINIMAL "[engine]\nworkers = 65\n", 8,
		 "workers: expected an integer in 1..64, got '65'");
	load_err(MINIMAL "[engine]\nworkers = two\n", 8, "workers: expected");
	load_err(MINIMAL "[engine]\nworkers = 4294967297\n", 8,
		 "workers: expected");
}

static void test_ctl_socket_must_be_absolute_and_fit(void **state)
{
	static char text[1024];
	int n;

	(void)state;
	load_err(MINIMAL "[engine]\nctl_socket = run/ctl.sock\n", 8,
		 "ctl_socket: expected an absolute path, got 'run/ctl.sock'");
	/* sun_path holds 107 characters and the NUL */
	n = snprintf(text, sizeof(text), MINIMAL "[engine]\nctl_socket = /");
	memset(text + n, 's', 107);
	strcpy(text + n + 107, "\n");
	load_err(text, 8, "ctl_socket: too long (108 characters, max 107)");
	text[n + 106] = '\n';
	text[n + 107] = '\0';
	load_ok(text);
	assert_int_equal(strlen(cfg.ctl_socket), 107);
}

/* ---- [inside] / [outside] ---------------------------------------------- */

static void test_device_longer_than_511_is_rejected(void **state)
{
	static char text[2048];
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "[inside]\ndevice = ");
	memset(text + n, 'd', 512);
	strcpy(text + n + 512, "\n");
	load_err(text, 2, "device: too long (512 characters, max 511)");
}

static void test_port_address_must_be_prefix_with_len_1_to_32(void **state)
{
	(void)state;
	load_err("[inside]\ndevice = i\naddress = 10.0.0.1\n", 3,
		 "address: expected a.b.c.d/len with len 1..32, got '10.0.0.1'");
	load_err("[inside]\ndevice = i\naddress = 10.0.0.1/0\n", 3,
		 "address: expected a.b.c.d/len with len 1..32");
	load_err("[outside]\ndevice = i\naddress = 10.0.0.1/33\n", 3,
		 "address: expected a.b.c.d/len");
	load_err("[outside]\ndevice = i\naddress = 10.0.0.256/24\n", 3,
		 "address: expected a.b.c.d/len");
}

static void test_port_gateway_must_be_ipv4(void **state)
{
	(void)state;
	load_err("[outside]\ndevice = o\ngateway = 192.0.2.254/24\n", 3,
		 "gateway: expected an IPv4 address a.b.c.d, got '192.0.2.254/24'");
	load_err("[outside]\ndevice = o\ngateway = gw\n", 3,
		 "gateway: expected an IPv4 address");
}

static void test_exception_mode_must_be_known(void **state)
{
	(void)state;
	load_err("[inside]\ndevice = i\nexception = kni\n", 3,
		 "exception: expected auto, virtio-user, tap or none, got 'kni'");
	load_err("[inside]\ndevice = i\nexception = AUTO\n", 3,
		 "exception: expected auto");
	load_ok("[inside]\ndevice = i\nexception = none\n"
		"[outside]\ndevice = o\nexception = auto\n[slices]\n1.2.3.4 = 1\n");
	assert_int_equal(cfg.inside.exception, SH_EXC_NONE);
	assert_int_equal(cfg.outside.exception, SH_EXC_AUTO);
}

static void test_next_hop_mac_must_parse(void **state)
{
	(void)state;
	load_err("[inside]\ndevice = i\nnext_hop_mac = 02:00:00:00:02\n", 3,
		 "next_hop_mac: expected xx:xx:xx:xx:xx:xx, got '02:00:00:00:02'");
}

static void test_next_hop_mac_with_group_bit_is_rejected(void **state)
{
	(void)state;
	load_err("[inside]\ndevice = i\nnext_hop_mac = 01:00:5e:00:00:01\n", 3,
		 "next_hop_mac: 01:00:5e:00:00:01 has the group bit set "
		 "(multicast or broadcast); a next hop must be unicast");
	load_err("[outside]\ndevice = o\nnext_hop_mac = ff:ff:ff:ff:ff:ff\n", 3,
		 "has the group bit set");
	load_err("[outside]\ndevice = o\nnext_hop_mac = 03:00:00:00:00:00\n", 3,
		 "has the group bit set");
}

static void test_next_hop_mac_all_zero_is_rejected(void **state)
{
	(void)state;
	load_err("[outside]\ndevice = o\nnext_hop_mac = 00:00:00:00:00:00\n", 3,
		 "next_hop_mac: the all-zero address cannot be a next hop");
}

/* ---- [slices] ---------------------------------------------------------- */

static void test_slice_key_must_be_ipv4(void **state)
{
	(void)state;
	load_err(MINIMAL "198.51.100 = 1-2\n", 7,
		 "slice: expected an IPv4 address as key, got '198.51.100'");
	load_err(MINIMAL "ip = 1-2\n", 7, "slice: expected an IPv4 address");
}

static void test_slice_range_must_parse(void **state)
{
	(void)state;
	load_err(MINIMAL "198.51.100.11 = 0-10\n", 7,
		 "slice 198.51.100.11: expected LO-HI with 1 <= LO <= HI <= "
		 "65535, got '0-10'");
	load_err(MINIMAL "198.51.100.11 = 20-10\n", 7, "expected LO-HI");
	load_err(MINIMAL "198.51.100.11 = 1-65536\n", 7, "expected LO-HI");
	load_err(MINIMAL "198.51.100.11 = 1 - 2\n", 7, "expected LO-HI");
}

static void test_slice_overlap_names_the_later_line(void **state)
{
	(void)state;
	load_err(MINIMAL "198.51.100.11 = 1-100\n198.51.100.10 = 12047-13000\n",
		 8, "slice 198.51.100.10 12047-13000 overlaps the slice at "
		 "line 6 (10000-12047)");
	load_err(MINIMAL "198.51.100.10 = 10000-12047\n", 7,
		 "overlaps the slice at line 6");
	load_err(MINIMAL "198.51.100.10 = 9000-20000\n", 7,
		 "overlaps the slice at line 6");
	load_ok(MINIMAL "198.51.100.10 = 9999\n198.51.100.10 = 12048\n");
}

static void test_too_many_slices_is_rejected(void **state)
{
	static char text[65536];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), "[slices]\n");
	for (int i = 1; i <= SH_CFG_MAX_SLICES + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "10.0.%d.%d = 1000\n", i / 256, i % 256);
	load_err(text, SH_CFG_MAX_SLICES + 2, "too many slices (max 1024)");
}

/* ---- [nat] ------------------------------------------------------------- */

static void test_nat_values_are_range_checked(void **state)
{
	static const struct {
		const char *line, *reason;
	} cases[] = {
		{ "udp_timeout = 0", "udp_timeout: expected an integer in 1..2000000, got '0'" },
		{ "udp_timeout = 2000001", "udp_timeout: expected an integer in 1..2000000" },
		{ "tcp_established_timeout = 0", "tcp_established_timeout: expected an integer in 1..2000000" },
		{ "tcp_established_timeout = 2000001", "tcp_established_timeout: expected" },
		{ "tcp_transitory_timeout = 0", "tcp_transitory_timeout: expected an integer in 1..2000000" },
		{ "tcp_transitory_timeout = 2000001", "tcp_transitory_timeout: expected" },
		{ "icmp_timeout = 0", "icmp_timeout: expected an integer in 1..2000000" },
		{ "icmp_timeout = 2000001", "icmp_timeout: expected" },
		{ "icmp_timeout = 60s", "icmp_timeout: expected" },
		{ "max_flows = 0", "max_flows: expected an integer in 1..67108864, got '0'" },
		{ "max_flows = 67108865", "max_flows: expected an integer in 1..67108864" },
		{ "max_ports_per_client = 65536", "max_ports_per_client: expected an integer in 0..65535, got '65536'" },
		{ "max_ports_per_client = -1", "max_ports_per_client: expected" },
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "[nat]\n%s\n", cases[i].line);
		load_err(text, 8, cases[i].reason);
	}
}

static void test_mtu_and_mss_clamp_parse(void **state)
{
	(void)state;
	load_ok("[inside]\ndevice = in0\nmtu = 9000\n"
		"[outside]\ndevice = out0\nmtu = 1400\n"
		"[slices]\n198.51.100.10 = 10000-12047\n");
	assert_int_equal(cfg.inside.mtu, 9000);
	assert_int_equal(cfg.outside.mtu, 1400);
	/* auto: the smaller MTU less the IPv4 and TCP headers */
	assert_int_equal(cfg.nat.tcp_mss_clamp, SH_MSS_CLAMP_AUTO);
	assert_int_equal(sh_config_mss_clamp(&cfg), 1360);
	load_ok("[inside]\ndevice = in0\nmtu = 576\n"
		"[outside]\ndevice = out0\n"
		"[slices]\n198.51.100.10 = 10000-12047\n"
		"[nat]\ntcp_mss_clamp = auto\n");
	assert_int_equal(sh_config_mss_clamp(&cfg), 536);
	load_ok(MINIMAL "[nat]\ntcp_mss_clamp = off\n");
	assert_int_equal(cfg.nat.tcp_mss_clamp, SH_MSS_CLAMP_OFF);
	assert_int_equal(sh_config_mss_clamp(&cfg), 0);
	load_ok(MINIMAL "[nat]\ntcp_mss_clamp = 1200\n");
	assert_int_equal(sh_config_mss_clamp(&cfg), 1200);
	load_ok(MINIMAL "[nat]\ntcp_mss_clamp = 536\n");
	assert_int_equal(sh_config_mss_clamp(&cfg), 536);
	load_ok(MINIMAL "[nat]\ntcp_mss_clamp = 65495\n");
	assert_int_equal(sh_config_mss_clamp(&cfg), 65495);
}

static void test_mtu_and_mss_clamp_are_range_checked(void **state)
{
	static const char *const mss[] = { "535", "65496", "0", "1", "on",
					   "Auto", "1460 ", "-1", "01460" };
	char text[512];

	(void)state;
	load_err("[inside]\ndevice = in0\nmtu = 575\n", 3,
		 "mtu: expected an integer in 576..9000, got '575'");
	load_err("[outside]\ndevice = out0\nmtu = 9001\n", 3,
		 "mtu: expected an integer in 576..9000, got '9001'");
	load_err("[outside]\ndevice = out0\nmtu = 1500b\n", 3, "mtu: expected");
	for (size_t i = 0; i < sizeof(mss) / sizeof(mss[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "[nat]\ntcp_mss_clamp = %s\n",
			 mss[i]);
		/* "1460 " is trimmed to a valid value */
		if (strcmp(mss[i], "1460 ") == 0) {
			load_ok(text);
			continue;
		}
		load_err(text, 8, "tcp_mss_clamp: expected auto, off or an "
			 "integer in 536..65495");
	}
}

/* ---- [lease.NAME] ------------------------------------------------------ */

#define SOCKET_LEASE "kind = socket\nip = 198.51.100.10\nports = 10000\n"

static void test_lease_name_must_be_valid(void **state)
{
	static char text[512];
	int n;

	(void)state;
	load_err(MINIMAL "[lease.]\n", 7, "lease name '': expected 1..63 characters");
	load_err(MINIMAL "[lease.a b]\n", 7, "lease name 'a b'");
	load_err(MINIMAL "[lease.a/b]\n", 7, "lease name 'a/b'");
	n = snprintf(text, sizeof(text), MINIMAL "[lease.");
	memset(text + n, 'n', 64);
	strcpy(text + n + 64, "]\n");
	load_err(text, 7, "expected 1..63 characters of [A-Za-z0-9_.-]");
	strcpy(text + n + 63, "]\n" SOCKET_LEASE);
	load_ok(text);
	assert_int_equal(strlen(cfg.leases[0].name), 63);
}

static void test_lease_kind_must_be_nat_or_socket(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\nkind = tcp\n", 8,
		 "kind: expected nat or socket, got 'tcp'");
}

static void test_lease_missing_keys_are_reported_at_its_header(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\nip = 198.51.100.10\nports = 10000\n", 7,
		 "[lease.a] missing required key 'kind'");
	load_err(MINIMAL "[lease.a]\nkind = socket\nports = 10000\n", 7,
		 "[lease.a] missing required key 'ip'");
	load_err(MINIMAL "[lease.a]\nkind = socket\nip = 198.51.100.10\n[nat]\n", 7,
		 "[lease.a] missing required key 'ports'");
}

static void test_nat_lease_without_clients_is_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\nkind = nat\nip = 198.51.100.10\n"
		 "ports = 10000\n", 7,
		 "[lease.a] missing required key 'clients' (kind nat)");
}

static void test_socket_lease_with_clients_cites_clients_line(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\nclients = 10.0.0.0/8\n" SOCKET_LEASE, 8,
		 "clients: not allowed for kind socket");
}

#define NAT_LEASE                                                              \
	"kind = nat\nip = 198.51.100.10\nports = 10000\nclients = 10.0.0.0/8\n"

static void test_lease_mapping_and_filtering_are_stored(void **state)
{
	static const struct {
		const char *text;
		enum sh_mapping m;
		enum sh_filtering f;
	} cases[] = {
		{ "", SH_MAPPING_EIM, SH_FILTERING_ADF },
		{ "mapping = endpoint-independent\n", SH_MAPPING_EIM,
		  SH_FILTERING_ADF },
		{ "mapping = address-and-port-dependent\n", SH_MAPPING_APDM,
		  SH_FILTERING_ADF },
		{ "filtering = endpoint-independent\n", SH_MAPPING_EIM,
		  SH_FILTERING_EIF },
		{ "filtering = address-dependent\n", SH_MAPPING_EIM,
		  SH_FILTERING_ADF },
		{ "filtering = address-and-port-dependent\nmapping = "
		  "address-and-port-dependent\n", SH_MAPPING_APDM,
		  SH_FILTERING_APDF },
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "[lease.a]\n" NAT_LEASE
			 "%s", cases[i].text);
		load_ok(text);
		assert_int_equal(cfg.n_leases, 1);
		assert_int_equal(cfg.leases[0].mapping, cases[i].m);
		assert_int_equal(cfg.leases[0].filtering, cases[i].f);
	}
}

static void test_lease_mapping_and_filtering_must_be_known(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\n" NAT_LEASE "mapping = eim\n", 12,
		 "mapping: expected endpoint-independent or "
		 "address-and-port-dependent, got 'eim'");
	load_err(MINIMAL "[lease.a]\n" NAT_LEASE "mapping = address-dependent\n",
		 12, "mapping: expected endpoint-independent or "
		 "address-and-port-dependent, got 'address-dependent'");
	load_err(MINIMAL "[lease.a]\n" NAT_LEASE "filtering = "
		 "Endpoint-Independent\n", 12, "filtering: expected "
		 "endpoint-independent, address-dependent or "
		 "address-and-port-dependent, got 'Endpoint-Independent'");
	load_err(MINIMAL "[lease.a]\n" NAT_LEASE "mapping = "
		 "endpoint-independent\nmapping = endpoint-independent\n", 13,
		 "duplicate key 'mapping' in [lease.a] (first at line 12)");
}

static void test_socket_lease_with_mapping_or_filtering_cites_its_line(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\n" SOCKET_LEASE
		 "mapping = endpoint-independent\n", 11,
		 "mapping: not allowed for kind socket");
	load_err(MINIMAL "[lease.a]\nfiltering = address-dependent\n"
		 SOCKET_LEASE, 8, "filtering: not allowed for kind socket");
}

static void test_parse_mapping_and_filtering_round_trip(void **state)
{
	static const char *const bad[] = {
		"", "eim", "EIM", "endpoint-independent ", " endpoint-independent",
		"endpoint_independent", "address-dependent-", "apdf",
	};
	enum sh_mapping m = SH_MAPPING_APDM;
	enum sh_filtering f = SH_FILTERING_APDF;

	(void)state;
	for (int i = SH_MAPPING_EIM; i <= SH_MAPPING_APDM; i++) {
		assert_non_null(sh_mapping_name((enum sh_mapping)i));
		assert_int_equal(sh_parse_mapping(sh_mapping_name(
					(enum sh_mapping)i), &m), 0);
		assert_int_equal(m, i);
	}
	for (int i = SH_FILTERING_ADF; i <= SH_FILTERING_APDF; i++) {
		assert_non_null(sh_filtering_name((enum sh_filtering)i));
		assert_int_equal(sh_parse_filtering(sh_filtering_name(
					(enum sh_filtering)i), &f), 0);
		assert_int_equal(f, i);
	}
	assert_string_equal(sh_mapping_name(SH_MAPPING_EIM),
			    "endpoint-independent");
	assert_string_equal(sh_filtering_name(SH_FILTERING_ADF),
			    "address-dependent");
	assert_null(sh_mapping_name((enum sh_mapping)(SH_MAPPING_APDM + 1)));
	assert_null(sh_filtering_name((enum sh_filtering)(SH_FILTERING_APDF + 1)));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = SH_MAPPING_APDM;
		f = SH_FILTERING_APDF;
		assert_int_equal(sh_parse_mapping(bad[i], &m), -EINVAL);
		assert_int_equal(sh_parse_filtering(bad[i], &f), -EINVAL);
		assert_int_equal(m, SH_MAPPING_APDM); /* untouched */
		assert_int_equal(f, SH_FILTERING_APDF);
	}
}

static void test_lease_ip_and_ports_must_parse(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\nip = 198.51.100.010\n", 8,
		 "ip: expected an IPv4 address a.b.c.d, got '198.51.100.010'");
	load_err(MINIMAL "[lease.a]\nports = 10000-\n", 8,
		 "ports: expected LO-HI with 1 <= LO <= HI <= 65535, got '10000-'");
}

static void test_clients_with_host_bits_set_are_rejected(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\nclients = 10.0.0.0/8, 10.1.2.3/16\n", 8,
		 "clients: 10.1.2.3/16 has host bits set (did you mean "
		 "10.1.0.0/16?)");
}

static void test_clients_list_must_parse(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\nclients = 10.0.0.0/8,,10.1.0.0/16\n", 8,
		 "clients: empty prefix in list");
	load_err(MINIMAL "[lease.a]\nclients = 10.0.0.0/8,\n", 8,
		 "clients: empty prefix in list");
	load_err(MINIMAL "[lease.a]\nclients = 10.0.0.0/33\n", 8,
		 "clients: expected a.b.c.d/len with len 0..32, got '10.0.0.0/33'");
	load_err(MINIMAL "[lease.a]\nclients = 10.0.0.0\n", 8,
		 "clients: expected a.b.c.d/len");
	load_err(MINIMAL "[lease.a]\nclients = 10.0.0.0/8 10.1.0.0/16\n", 8,
		 "clients: expected a.b.c.d/len");
}

static void test_more_than_16_clients_is_rejected(void **state)
{
	char text[1024];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), MINIMAL "[lease.a]\nclients = ");
	for (int i = 0; i < SH_CFG_MAX_CLIENT_PFX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "10.%d.0.0/16,", i);
	strcpy(text + n - 1, "\n"); /* exactly 16 */
	load_err(text, 7, "[lease.a] missing required key 'kind'");
	assert_int_equal(cfg.leases[0].n_clients, SH_CFG_MAX_CLIENT_PFX);
	text[n - 1] = ',';
	strcpy(text + n, "10.99.0.0/16\n");
	load_err(text, 8, "clients: too many prefixes (max 16)");
}

static void test_lease_ip_must_belong_to_a_slice(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\nkind = socket\nip = 198.51.100.11\n"
		 "ports = 10000\n[nat]\n", 7,
		 "lease 'a': ip 198.51.100.11 is not the address of any slice");
}

static void test_lease_ports_must_lie_inside_one_slice(void **state)
{
	(void)state;
	load_err(MINIMAL "[lease.a]\nkind = socket\nip = 198.51.100.10\n"
		 "ports = 9999-10000\n", 7,
		 "lease 'a': ports 9999-10000 do not lie inside one slice of "
		 "198.51.100.10");
	/* adjacent slices are still two slices */
	load_err(MINIMAL "198.51.100.10 = 12048-13000\n"
		 "[lease.b]\nkind = socket\nip = 198.51.100.10\n"
		 "ports = 12000-12100\n", 8, "lease 'b': ports 12000-12100 do not");
}

static void test_lease_overlap_names_both_leases(void **state)
{
	(void)state;
	load_err(MINIMAL
		 "[lease.first]\nkind = socket\nip = 198.51.100.10\n"
		 "ports = 10000-10999\n"
		 "[lease.second]\nkind = nat\nip = 198.51.100.10\n"
		 "ports = 10999-11999\nclients = 10.0.0.0/8\n", 11,
		 "lease 'second' (ports 10999-11999) overlaps lease 'first' "
		 "(ports 10000-10999) on 198.51.100.10");
}

static void test_too_many_leases_is_rejected(void **state)
{
	static char text[1 << 20];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text),
			     MINIMAL "198.51.100.12 = 1-65535\n");
	for (int i = 0; i <= SH_CFG_MAX_LEASES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "[lease.l%d]\nkind = socket\n"
				      "ip = 198.51.100.12\nports = %d\n",
				      i, i + 1);
	load_err(text, 8 + 4 * SH_CFG_MAX_LEASES, "too many leases (max 4096)");
}

/*
 * The largest configuration loads: SH_CFG_MAX_SLICES slices and
 * SH_CFG_MAX_LEASES leases, half of them nat with one client prefix each
 * (SHOAL_MAX_SELECTORS bounds those), spread over the slices.
 */
static void test_largest_config_loads(void **state)
{
	static char text[1 << 20];
	const int per = SH_CFG_MAX_LEASES / SH_CFG_MAX_SLICES;
	size_t n;

	(void)state;
	assert_true(SH_CFG_MAX_LEASES / 2 <= SHOAL_MAX_SELECTORS);
	n = (size_t)snprintf(text, sizeof(text), "[inside]\ndevice = in0\n"
			     "[outside]\ndevice = out0\n[slices]\n");
	for (int i = 0; i < SH_CFG_MAX_SLICES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "10.%d.%d.1 = 1000-1999\n", i / 256,
				      i % 256);
	for (int i = 0; i < SH_CFG_MAX_LEASES; i++) {
		int s = i / per, k = i % per;

		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "[lease.l%d]\nip = 10.%d.%d.1\n"
				      "ports = %d-%d\n", i, s / 256, s % 256,
				      1000 + 10 * k, 1009 + 10 * k);
		n += (size_t)snprintf(text + n, sizeof(text) - n, i % 2 ?
				      "kind = socket\n" : "kind = nat\n"
				      "clients = 172.16.%d.%d/32\n",
				      i / 256, i % 256);
	}
	assert_true(n < sizeof(text));
	load_ok(text);
	assert_int_equal(cfg.n_slices, SH_CFG_MAX_SLICES);
	assert_int_equal(cfg.n_leases, SH_CFG_MAX_LEASES);
	assert_int_equal(cfg.leases[SH_CFG_MAX_LEASES - 1].lo, 1000 + 10 * (per - 1));
}

/* @n nat leases of 16 client prefixes each, one section of 5 lines per
 * lease from line 8 on: lease i's clients line is 12 + 5 * i. */
static const char *leases_of_16_clients(int n)
{
	static char text[1 << 20];
	size_t k;

	k = (size_t)snprintf(text, sizeof(text),
			     MINIMAL "198.51.100.12 = 1-65535\n");
	for (int i = 0; i < n; i++) {
		k += (size_t)snprintf(text + k, sizeof(text) - k,
				      "[lease.l%d]\nkind = nat\n"
				      "ip = 198.51.100.12\nports = %d\n"
				      "clients = ", i, i + 1);
		for (int j = 0; j < 16; j++)
			k += (size_t)snprintf(text + k, sizeof(text) - k,
					      "10.%d.%d.0/24%s",
					      (i * 16 + j) / 256,
					      (i * 16 + j) % 256,
					      j == 15 ? "\n" : ",");
	}
	return text;
}

/* The engine holds SHOAL_MAX_SELECTORS (4096) client prefixes over all
 * its leases: 256 leases of 16 fill it, the 257th is refused where it is
 * written, not by the engine at start-up without a line. */
static void test_too_many_selectors_is_rejected_at_the_lease(void **state)
{
	const int full = SHOAL_MAX_SELECTORS / 16;

	(void)state;
	load_ok(leases_of_16_clients(full));
	assert_int_equal(cfg.n_leases, full);
	load_err(leases_of_16_clients(full + 1), 12 + 5 * full,
		 "clients: 4112 client prefixes in all leases (max 4096)");
}

/* ---- [ctl] ------------------------------------------------------------- */

static void test_ctl_values_are_validated(void **state)
{
	(void)state;
	load_err(MINIMAL "[ctl]\nsocket = ctl.sock\n", 8,
		 "socket: expected an absolute path, got 'ctl.sock'");
	load_err(MINIMAL "[ctl]\ndatabase = ./leases.db\n", 8,
		 "database: expected an absolute path");
	load_err(MINIMAL "[ctl]\ngroup = nat admins\n", 8,
		 "group: expected 1..63 characters of [A-Za-z0-9_.-], got "
		 "'nat admins'");
}

/* The configurations the repository ships (conf/, scripts/trex/) load:
 * documentation that does not parse is worse than none. meson passes the
 * source root in SHOAL_SRC. */
static void test_shipped_configs_load(void **state)
{
	static const char *const files[] = { "conf/shoal.conf",
					     "scripts/trex/shoal.conf" };
	const char *root = getenv("SHOAL_SRC");
	static struct sh_config c;
	char file[1024], why[512];

	(void)state;
	if (!root)
		skip();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(file, sizeof(file), "%s/%s", root, files[i]);
		if (sh_config_load(&c, file, why, sizeof(why)) != 0)
			fail_msg("%s", why);
		assert_true(c.n_leases > 0);
	}
}

/* [fleet] port is a 32-bit field as kw_u32 writes it: once it was 16
 * bits, and setting it cleared the start of the prefix that follows
 * (fuzz_config found a [fleet] without prefix loading prefix ""). */
static void test_fleet_port_leaves_prefix_alone(void **state)
{
	static const char *const files[2][2] = {
		{ "port = 6081\n", "" },
		{ "prefix = /edge\n", "port = 6081\n" },
	};
	char text[1024];

	(void)state;
	for (int i = 0; i < 2; i++) {
		snprintf(text, sizeof(text),
			 "[engine]\nctl_socket = /run/shoal/ctl.sock\n"
			 "[inside]\ndevice = in0\n"
			 "[outside]\ndevice = out0\naddress = 192.0.2.2/30\n"
			 "[fleet]\netcd = http://10.255.0.1:2379\nhost = a\n"
			 "address = 192.0.2.2\npool = 198.51.100.10\n"
			 "ports = 10000-16143\nslice_size = 2048\n"
			 "slices = 1\n%s%s", files[i][0], files[i][1]);
		load_ok(text);
		assert_int_equal(cfg.fleet.port, 6081);
		assert_string_equal(cfg.fleet.prefix, i ? "/edge" : "/shoal");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ipv4_accepts_dotted_quads),
		cmocka_unit_test(test_parse_ipv4_rejects_anything_else),
		cmocka_unit_test(test_parse_prefix_clears_host_bits_and_keeps_host),
		cmocka_unit_test(test_parse_prefix_rejects_anything_else),
		cmocka_unit_test(test_parse_port_range_accepts_range_and_single),
		cmocka_unit_test(test_parse_port_range_rejects_anything_else),
		cmocka_unit_test(test_parse_mac_accepts_any_case),
		cmocka_unit_test(test_parse_mac_rejects_anything_else),
		cmocka_unit_test(test_parse_u32_accepts_edges),
		cmocka_unit_test(test_parse_u32_rejects_overflow_signs_and_junk),
		cmocka_unit_test(test_full_config_sets_every_value),
		cmocka_unit_test(test_defaults_are_the_documented_values),
		cmocka_unit_test(test_minimal_file_leaves_defaults),
		cmocka_unit_test(test_comments_blanks_and_line_endings_are_ignored),
		cmocka_unit_test(test_line_of_1023_chars_is_accepted),
		cmocka_unit_test(test_sections_may_come_in_any_order),
		cmocka_unit_test(test_leases_on_different_ips_may_share_ports),
		cmocka_unit_test(test_missing_file_returns_errno),
		cmocka_unit_test(test_directory_returns_read_errno),
		cmocka_unit_test(test_short_error_buffer_is_truncated_safely),
		cmocka_unit_test(test_key_outside_section_is_rejected),
		cmocka_unit_test(test_malformed_section_header_is_rejected),
		cmocka_unit_test(test_unknown_section_is_rejected),
		cmocka_unit_test(test_unknown_key_is_rejected),
		cmocka_unit_test(test_line_without_equals_is_rejected),
		cmocka_unit_test(test_empty_key_is_rejected),
		cmocka_unit_test(test_empty_value_is_rejected),
		cmocka_unit_test(test_duplicate_key_is_rejected),
		cmocka_unit_test(test_duplicate_section_is_rejected),
		cmocka_unit_test(test_duplicate_lease_section_is_rejected),
		cmocka_unit_test(test_line_over_1023_chars_is_rejected),
		cmocka_unit_test(test_nul_byte_in_line_is_rejected),
		cmocka_unit_test(test_missing_inside_is_reported_at_line_1),
		cmocka_unit_test(test_missing_outside_is_reported_at_line_1),
		cmocka_unit_test(test_missing_slices_is_reported_at_line_1),
		cmocka_unit_test(test_empty_slices_is_reported_at_its_header),
		cmocka_unit_test(test_port_without_device_is_reported_at_its_header),
		cmocka_unit_test(test_workers_out_of_range_is_rejected),
		cmocka_unit_test(test_ctl_socket_must_be_absolute_and_fit),
		cmocka_unit_test(test_device_longer_than_511_is_rejected),
		cmocka_unit_test(test_port_address_must_be_prefix_with_len_1_to_32),
		cmocka_unit_test(test_port_gateway_must_be_ipv4),
		cmocka_unit_test(test_exception_mode_must_be_known),
		cmocka_unit_test(test_next_hop_mac_must_parse),
		cmocka_unit_test(test_next_hop_mac_with_group_bit_is_rejected),
		cmocka_unit_test(test_next_hop_mac_all_zero_is_rejected),
		cmocka_unit_test(test_slice_key_must_be_ipv4),
		cmocka_unit_test(test_slice_range_must_parse),
		cmocka_unit_test(test_slice_overlap_names_the_later_line),
		cmocka_unit_test(test_too_many_slices_is_rejected),
		cmocka_unit_test(test_nat_values_are_range_checked),
		cmocka_unit_test(test_lease_name_must_be_valid),
		cmocka_unit_test(test_lease_kind_must_be_nat_or_socket),
		cmocka_unit_test(test_lease_missing_keys_are_reported_at_its_header),
		cmocka_unit_test(test_nat_lease_without_clients_is_rejected),
		cmocka_unit_test(test_socket_lease_with_clients_cites_clients_line),
		cmocka_unit_test(test_lease_mapping_and_filtering_are_stored),
		cmocka_unit_test(test_lease_mapping_and_filtering_must_be_known),
		cmocka_unit_test(test_socket_lease_with_mapping_or_filtering_cites_its_line),
		cmocka_unit_test(test_parse_mapping_and_filtering_round_trip),
		cmocka_unit_test(test_lease_ip_and_ports_must_parse),
		cmocka_unit_test(test_clients_with_host_bits_set_are_rejected),
		cmocka_unit_test(test_clients_list_must_parse),
		cmocka_unit_test(test_more_than_16_clients_is_rejected),
		cmocka_unit_test(test_lease_ip_must_belong_to_a_slice),
		cmocka_unit_test(test_lease_ports_must_lie_inside_one_slice),
		cmocka_unit_test(test_lease_overlap_names_both_leases),
		cmocka_unit_test(test_too_many_leases_is_rejected),
		cmocka_unit_test(test_largest_config_loads),
		cmocka_unit_test(test_too_many_selectors_is_rejected_at_the_lease),
		cmocka_unit_test(test_ctl_values_are_validated),
		cmocka_unit_test(test_mtu_and_mss_clamp_parse),
		cmocka_unit_test(test_mtu_and_mss_clamp_are_range_checked),
		cmocka_unit_test(test_shipped_configs_load),
		cmocka_unit_test(test_config_line_names_where_each_key_was_set),
		cmocka_unit_test(test_reload_check_refuses_restart_keys_only),
		cmocka_unit_test(test_fleet_port_leaves_prefix_alone),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
