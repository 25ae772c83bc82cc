/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal configuration: the INI file of BRIEF §3, parsed once at start-up.
 *
 * The dialect is rte_cfgfile's (sections in brackets, key = value split at
 * the first '=', blanks trimmed; ';' starts a comment anywhere on a line,
 * '#' only at its start; lines of at most 1023 characters), but our parser
 * remembers where each key came from so every error reads
 * "file:line: reason". Values are validated here, once; the rest of the
 * program trusts the struct.
 *
 * Pure C, no DPDK: the unit tests, shoal-ctld and shoalctl link it as is
 * (lib/meson.build).
 *
 * Addresses are in host byte order; prefixes are (address, length) with
 * the host bits cleared.
 */
#ifndef SHOAL_CONFIG_H
#define SHOAL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/proto.h>

#include "value.h"

/* The protocol's limits: a configuration the engine loads is one the
 * daemon can serve, and the other way round. */
#define SH_CFG_MAX_SLICES SHOAL_MAX_SLICES
#define SH_CFG_MAX_LEASES SHOAL_MAX_LEASES
#define SH_CFG_MAX_CLIENT_PFX SHOAL_MAX_CLIENTS
/* One limit for the engine and the protocol that reports per worker. */
#define SH_CFG_MAX_WORKERS SHOAL_MAX_WORKERS
#define SH_CFG_NAME_LEN 64
#define SH_CFG_STR_LEN 512
#define SH_CFG_FIXED_SECTIONS 7 /* every section but [lease.NAME] */
#define SH_CFG_SECTION_KEYS 12  /* keys a section may define */

enum sh_exception_mode {
	SH_EXC_AUTO = 0,
	SH_EXC_VIRTIO_USER,
	SH_EXC_TAP,
	SH_EXC_NONE,
};

enum sh_lease_kind {
	SH_LEASE_NAT = 0,
	SH_LEASE_SOCKET,
};

struct sh_port_cfg {
	bool present;                 /* section seen */
	int line;                     /* line of the section header */
	char device[SH_CFG_STR_LEN];  /* PCI address or vdev string */
	struct sh_prefix address;     /* address/len on the kernel mirror */
	uint32_t address_host;        /* the address itself (host bits kept) */
	bool has_address;
	uint32_t gateway;
	bool has_gateway;
	enum sh_exception_mode exception;
	uint8_t next_hop_mac[6];
	bool has_next_hop_mac;
	char mirror[16];              /* kernel mirror interface name */
	uint32_t punt_rate;           /* packets/s to Linux; 0 = unlimited */
	uint32_t mtu;                 /* IPv4 packet size the link carries,
				       * SH_CFG_MTU_MIN .. SH_CFG_MTU_MAX */
};

/* Port MTU bounds: 576 is what every IPv4 host must accept (RFC 791),
 * 9000 the usual jumbo frame. */
#define SH_CFG_MTU_MIN 576
#define SH_CFG_MTU_MAX 9000
#define SH_CFG_MTU_DEFAULT 1500

/* [nat] tcp_mss_clamp: off, auto (see sh_config_mss_clamp) or N bytes.
 * N's bounds: RFC 879's default MSS, and the largest a 16-bit IPv4
 * total length leaves after 40 bytes of headers. */
#define SH_MSS_CLAMP_OFF 0
#define SH_MSS_CLAMP_AUTO 1
#define SH_CFG_MSS_MIN 536
#define SH_CFG_MSS_MAX 65495

struct sh_slice_cfg {
	uint32_t ip;
	uint16_t lo, hi; /* inclusive */
	int line;
};

struct sh_lease_cfg {
	char name[SH_CFG_NAME_LEN];
	enum sh_lease_kind kind;
	uint32_t ip;
	uint16_t lo, hi; /* inclusive */
	struct sh_prefix clients[SH_CFG_MAX_CLIENT_PFX];
	unsigned n_clients; /* nat: >= 1; socket: 0 */
	enum sh_mapping mapping;     /* nat only */
	enum sh_filtering filtering; /* nat only */
	int line;           /* line of the [lease.NAME] header */
};

/*
 * [fleet]: this host is one of many sharing the pool's addresses
 * (docs/FLEET.md). The pool's port range on every pool address is cut
 * into slices of slice_size ports; shoal-ctld claims slices in etcd and
 * pushes the fleet's map to the engine. With [fleet], [slices] and
 * static [lease.NAME] sections are refused (a host's slices change at
 * run time), and the loader fills cfg->slices with one entry per pool
 * address covering the pool's port range: the addresses the engine
 * treats as slice addresses. Addresses in host order.
 */
#define SH_CFG_MAX_POOL 64   /* [fleet] pool addresses */
#define SH_CFG_FLEET_TTL_DEFAULT 10
#define SH_CFG_FLEET_PORT_DEFAULT 6080
#define SH_CFG_FLEET_PREFIX_DEFAULT "/shoal"
struct sh_fleet_cfg {
	bool enabled;                 /* the file has [fleet] */
	char etcd[SH_CFG_STR_LEN];    /* "URL[,URL...]", each http:// */
	char host[SH_CFG_NAME_LEN];   /* this host's name in the fleet */
	uint32_t address;             /* where peers send returns for our
				       * slices: the [outside] address */
	uint32_t pool[SH_CFG_MAX_POOL]; /* the shared addresses */
	unsigned n_pool;
	uint16_t lo, hi;              /* ports cut into slices, on every
				       * pool address; default 1024-65535 */
	uint32_t slice_size;          /* ports per slice; divides hi-lo+1 */
	uint32_t n_slices_total;      /* n_pool * (hi - lo + 1) / slice_size,
				       * at most SHOAL_MAX_POOL_SLICES */
	uint32_t slices;              /* slices to hold; 0: the explicit list */
	struct sh_slice_cfg want[SH_CFG_MAX_SLICES]; /* explicit slices, each
						      * a whole slice */
	unsigned n_want;
	struct sh_prefix clients[SH_CFG_MAX_CLIENT_PFX]; /* one nat lease per
							  * owned slice for
							  * these; 0: none */
	unsigned n_clients;
	uint32_t ttl;                 /* s, the etcd lease's TTL */
	uint32_t hold_down;           /* s a lost slice stays unclaimed;
				       * > ttl, default 2 * ttl */
	uint32_t port;                /* UDP port of the peers' GUE, 1..65535
				       * (32 bits: kw_u32 stores them) */
	char prefix[SH_CFG_STR_LEN];  /* etcd key prefix */
	int line;                     /* [fleet] header */
};

struct sh_nat_cfg {
	uint32_t udp_timeout;             /* seconds, >= 1 */
	uint32_t tcp_established_timeout; /* seconds, >= 1 */
	uint32_t tcp_transitory_timeout;  /* seconds, >= 1 */
	uint32_t icmp_timeout;            /* seconds, >= 1 */
	uint32_t max_flows;               /* per worker, 1 .. 1<<26 */
	uint32_t max_ports_per_client;    /* 0 = unlimited */
	uint32_t port_hold_down;          /* seconds a freed outside port (and
					   * in shoal-ctld a freed lease range)
					   * waits before another holder may
					   * take it; 0 = none (RFC 6888 REQ-8) */
	uint32_t tcp_mss_clamp;           /* SH_MSS_CLAMP_OFF, _AUTO, or
					   * SH_CFG_MSS_MIN .. SH_CFG_MSS_MAX */
};

struct sh_config {
	char path[SH_CFG_STR_LEN];

	/* [engine] */
	char eal[SH_CFG_STR_LEN]; /* "" when absent */
	unsigned workers;         /* 1 .. SH_CFG_MAX_WORKERS */
	uint32_t mbufs;           /* per NUMA socket; 0 = sized from queues */
	char ctl_socket[SH_CFG_STR_LEN];
	/* The flow tables' file, which outlives the process (engine/state.h);
	 * "" ("none" in the file): tables in the process's memory only. Its
	 * handover socket is this path with SH_CFG_STATE_SOCK_SUFFIX. */
	char state[SH_CFG_STR_LEN];
	/* Workers sleep this long (us) after a turn that found nothing to
	 * do, to share cores (tests, simulations); 0: they poll. */
	uint32_t idle_sleep_us;

	struct sh_port_cfg inside, outside;

	struct sh_slice_cfg slices[SH_CFG_MAX_SLICES];
	unsigned n_slices;

	struct sh_nat_cfg nat;

	struct sh_lease_cfg leases[SH_CFG_MAX_LEASES];
	unsigned n_leases;

	struct sh_fleet_cfg fleet;
	/* [ctl] (read by shoal-ctld; validated here for everyone) */
	char ctl_sock_path[SH_CFG_STR_LEN];
	char ctl_database[SH_CFG_STR_LEN];
	char ctl_group[SH_CFG_NAME_LEN];
	char ctl_readers[SH_CFG_NAME_LEN];     /* read-only group, "" = none */
	char ctl_engine_user[SH_CFG_NAME_LEN]; /* who may be the engine */
	uint32_t ctl_metrics_ip;   /* host order; [ctl] metrics = ADDR:PORT */
	uint16_t ctl_metrics_port; /* 0: no metrics endpoint (the default) */

	/* Where the file set each key of the fixed sections ([engine],
	 * [inside], [outside], [slices], [nat], [ctl], [fleet]): read with
	 * sh_config_line(), for messages about a loaded file. */
	int section_line[SH_CFG_FIXED_SECTIONS];
	int key_line[SH_CFG_FIXED_SECTIONS][SH_CFG_SECTION_KEYS];
};

/*
 * Load and validate @path into @cfg (defaults first, then the file).
 * Returns 0, or -errno with a message in @err (truncated to @errlen; @err
 * may be NULL):
 *   -EINVAL, "FILE:LINE: reason" for any content error. What is absent
 *     cites the closest line that exists: a missing [inside], [outside]
 *     or [slices] section line 1, a missing required key its section's
 *     header, a lease that fails a whole-file check (ip not a slice's,
 *     ports not inside one slice, overlap) its [lease.NAME] header;
 *   -ENOENT, -EACCES, -EISDIR, ... "FILE: strerror" when the file cannot
 *     be read (-ENAMETOOLONG if @path does not fit cfg->path).
 * FILE is @path as given. On error @cfg holds a partial load: use only
 * after success. Never prints, never exits. Any thread.
 */
int sh_config_load(struct sh_config *cfg, const char *path, char *err,
		   size_t errlen);

/*
 * The MSS that TCP SYNs crossing the engine are clamped to (0: off). auto
 * is the smaller port MTU less 40 bytes of IPv4 and TCP headers: the
 * segments a SYN's MSS invites travel back through both ports, so both
 * links bound them.
 */
uint32_t sh_config_mss_clamp(const struct sh_config *cfg);

/*
 * The line of [@section] @key in the file @cfg was loaded from (with @key
 * NULL: of the section's header); 0 when the file did not set it. Fixed
 * sections only (see key_line).
 */
int sh_config_line(const struct sh_config *cfg, const char *section,
		   const char *key);

/*
 * Reload: may program @prog (SH_PROG_ENGINE or SH_PROG_CTLD), running
 * with @run, take @next (a successful sh_config_load) without a restart?
 * Everything is live except the keys that bind or size a resource at
 * start (docs/OPERATIONS.md lists them): EAL arguments, workers, mbufs,
 * the ports' devices, addresses, mirrors and MTUs, [nat] max_flows (the
 * flow table's size) for the engine; [ctl] socket, database and group
 * for shoal-ctld. Returns 0, or -EINVAL with "FILE:LINE: [section] key:
 * ..." in @err naming the first such key that changed (LINE: where @next
 * sets it, else its section's header, else 1).
 */
enum { SH_PROG_ENGINE = 1, SH_PROG_CTLD = 2 };
int sh_config_reload_check(const struct sh_config *run,
			   const struct sh_config *next, unsigned prog,
			   char *err, size_t errlen);

/* Fill @cfg with the documented defaults (what an empty file yields). */
void sh_config_defaults(struct sh_config *cfg);

#define SH_CFG_STATE_DEFAULT "/run/shoal/engine.state"
#define SH_CFG_STATE_SOCK_SUFFIX ".sock"

#endif /* SHOAL_CONFIG_H */
