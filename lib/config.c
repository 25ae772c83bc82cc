/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal configuration parser (see config.h for the dialect and BRIEF §3).
 *
 * One pass over the file, line by line, with a keyword table per section:
 * each key has exactly one parser, which validates the value and stores
 * it. Checks that need the whole file (required sections, leases against
 * slices, lease overlaps) run after the last line, because sections may
 * come in any order. The first error stops the load; sh_config_load() in
 * config.h lists the messages and which line each one cites.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#define LINE_MAX_CHARS 1023 /* longer lines are an error, not truncated */
#define MAX_KEYWORDS SH_CFG_SECTION_KEYS
#define SUN_PATH_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

enum { SEC_ENGINE, SEC_INSIDE, SEC_OUTSIDE, SEC_SLICES, SEC_NAT, SEC_CTL,
       SEC_FLEET, SEC_LEASE, SEC_COUNT };
_Static_assert(SEC_LEASE == SH_CFG_FIXED_SECTIONS, "fixed sections");

/* kw_u32 stores through a uint32_t pointer into the unsigned workers. */
_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "unsigned is 32 bits");

struct parser;

/*
 * One accepted key. Generic parsers store at @off from the section's base
 * (struct sh_config, struct sh_port_cfg or struct sh_lease_cfg) and use
 * @min/@max as the numeric range or, for strings, @max as the buffer size.
 */
struct keyword {
	const char *name;
	int (*parse)(struct parser *p, const struct keyword *kw, const char *v);
	size_t off;
	uint32_t min, max;
	bool required;
};

struct section {
	const char *name;
	const struct keyword *kws; /* NULL-name terminated; NULL: any key */
	/* [slices]: keys are addresses, so one parser takes every line */
	int (*any_key)(struct parser *p, const char *key, const char *val);
	/* checks that need the complete section, run when it ends */
	int (*close)(struct parser *p);
};

struct parser {
	struct sh_config *cfg;
	const char *path;
	char *err;
	size_t errlen;
	int line;                       /* current line, 1-based */
	const struct section *sec;      /* NULL before the first header */
	char sec_name[SH_CFG_NAME_LEN + 8]; /* for messages, e.g. "lease.web" */
	int sec_line;                   /* header line of @sec */
	void *base;                     /* where @sec's generic keys store */
	int key_line[MAX_KEYWORDS];     /* per key of @sec: line seen, 0 = not */
	int first_line[SEC_COUNT];      /* per fixed section: header line */
};

/* Format "FILE:LINE: reason" into the caller's buffer; returns -EINVAL. */
__attribute__((format(printf, 3, 4)))
static int fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->err || !p->errlen)
		return -EINVAL;
	n = snprintf(p->err, p->errlen, "%s:%d: ", p->path, line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* I/O failure: "FILE: strerror"; returns @rc (a -errno). */
static int io_fail(struct parser *p, int rc)
{
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s: %s", p->path, strerror(-rc));
	return rc;
}

/* Strip leading and trailing whitespace in place. */
static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); )
		*--e = '\0';
	return s;
}

/* Lease and group names: 1..63 of [A-Za-z0-9_.-]. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n < SH_CFG_NAME_LEN &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789_.-") == n;
}

/* ---- keyword parsers -------------------------------------------------- */

static void *field(struct parser *p, const struct keyword *kw)
{
	return (char *)p->base + kw->off;
}

static int kw_u32(struct parser *p, const struct keyword *kw, const char *v)
{
	if (sh_parse_u32(v, kw->min, kw->max, field(p, kw)))
		return fail(p, p->line, "%s: expected an integer in %" PRIu32
			    "..%" PRIu32 ", got '%s'", kw->name, kw->min,
			    kw->max, v);
	return 0;
}

static int kw_str(struct parser *p, const struct keyword *kw, const char *v)
{
	size_t n = strlen(v);

	if (n >= kw->max)
		return fail(p, p->line, "%s: too long (%zu characters, max %"
			    PRIu32 ")", kw->name, n, kw->max - 1);
	memcpy(field(p, kw), v, n + 1);
	return 0;
}

/* Socket and database paths: absolute, so the meaning does not depend on
 * the daemon's working directory. */
static int kw_path(struct parser *p, const struct keyword *kw, const char *v)
{
	if (v[0] != '/')
		return fail(p, p->line, "%s: expected an absolute path, got '%s'",
			    kw->name, v);
	return kw_str(p, kw, v);
}

/* [engine] state: an absolute path whose handover socket (PATH.sock)
 * still fits a socket address, or "none". */
static int kw_state(struct parser *p, const struct keyword *kw, const char *v)
{
	if (strcmp(v, "none") == 0) {
		((char *)field(p, kw))[0] = '\0';
		return 0;
	}
	return kw_path(p, kw, v);
}

static int kw_name(struct parser *p, const struct keyword *kw, const char *v)
{
	if (!valid_name(v))
		return fail(p, p->line, "%s: expected 1..%d characters of "
			    "[A-Za-z0-9_.-], got '%s'", kw->name,
			    SH_CFG_NAME_LEN - 1, v);
	return kw_str(p, kw, v);
}

/* [ctl] metrics: "A.B.C.D:PORT", PORT 1..65535. */
static int kw_ctl_metrics(struct parser *p, const struct keyword *kw,
			  const char *v)
{
	char addr[16];
	const char *colon = strrchr(v, ':');
	uint32_t port;

	if (!colon || (size_t)(colon - v) >= sizeof(addr))
		goto bad;
	memcpy(addr, v, (size_t)(colon - v));
	addr[colon - v] = '\0';
	if (sh_parse_ipv4(addr, &p->cfg->ctl_metrics_ip) ||
	    sh_parse_u32(colon + 1, 1, 65535, &port))
		goto bad;
	p->cfg->ctl_metrics_port = (uint16_t)port;
	return 0;
bad:
	return fail(p, p->line, "%s: expected A.B.C.D:PORT with PORT "
		    "1..65535, got '%s'", kw->name, v);
}

/* Kernel interface names: 1..IFNAMSIZ-1 characters, no '/' or spaces. */
static int kw_ifname(struct parser *p, const struct keyword *kw, const char *v)
{
	if (!valid_name(v) || strlen(v) >= kw->max)
		return fail(p, p->line, "%s: expected an interface name of 1..%"
			    PRIu32 " characters of [A-Za-z0-9_.-], got '%s'",
			    kw->name, kw->max - 1, v);
	return kw_str(p, kw, v);
}

static int kw_port_address(struct parser *p, const struct keyword *kw,
			   const char *v)
{
	struct sh_port_cfg *port = p->base;
	struct sh_prefix pfx;
	uint32_t host;

	if (sh_parse_prefix(v, &pfx, &host) || pfx.len == 0)
		return fail(p, p->line, "%s: expected a.b.c.d/len with len "
			    "1..32, got '%s'", kw->name, v);
	port->address = pfx;
	port->address_host = host;
	port->has_address = true;
	return 0;
}

static int kw_port_gateway(struct parser *p, const struct keyword *kw,
			   const char *v)
{
	struct sh_port_cfg *port = p->base;

	if (sh_parse_ipv4(v, &port->gateway))
		return fail(p, p->line, "%s: expected an IPv4 address a.b.c.d, "
			    "got '%s'", kw->name, v);
	port->has_gateway = true;
	return 0;
}

static int kw_port_exception(struct parser *p, const struct keyword *kw,
			     const char *v)
{
	static const char *const modes[] = {
		[SH_EXC_AUTO] = "auto",
		[SH_EXC_VIRTIO_USER] = "virtio-user",
		[SH_EXC_TAP] = "tap",
		[SH_EXC_NONE] = "none",
	};
	struct sh_port_cfg *port = p->base;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(v, modes[i]) == 0) {
			port->exception = (enum sh_exception_mode)i;
			return 0;
		}
	}
	return fail(p, p->line, "%s: expected auto, virtio-user, tap or none, "
		    "got '%s'", kw->name, v);
}

/*
 * A static next hop is where every frame goes, so it must be one station:
 * the group bit (multicast, broadcast) is refused, and so is the all-zero
 * address, which no NIC owns and which would black-hole traffic silently.
 */
static int kw_port_mac(struct parser *p, const struct keyword *kw,
		       const char *v)
{
	static const uint8_t zero[6];
	struct sh_port_cfg *port = p->base;
	uint8_t mac[6];

	if (sh_parse_mac(v, mac))
		return fail(p, p->line, "%s: expected xx:xx:xx:xx:xx:xx, got '%s'",
			    kw->name, v);
	if (mac[0] & 1)
		return fail(p, p->line, "%s: %s has the group bit set "
			    "(multicast or broadcast); a next hop must be "
			    "unicast", kw->name, v);
	if (memcmp(mac, zero, sizeof(zero)) == 0)
		return fail(p, p->line, "%s: the all-zero address cannot be a "
			    "next hop", kw->name);
	memcpy(port->next_hop_mac, mac, sizeof(mac));
	port->has_next_hop_mac = true;
	return 0;
}

/* "off", "auto" or a number of bytes in SH_CFG_MSS_MIN..SH_CFG_MSS_MAX. */
static int kw_mss_clamp(struct parser *p, const struct keyword *kw,
			const char *v)
{
	if (strcmp(v, "off") == 0)
		p->cfg->nat.tcp_mss_clamp = SH_MSS_CLAMP_OFF;
	else if (strcmp(v, "auto") == 0)
		p->cfg->nat.tcp_mss_clamp = SH_MSS_CLAMP_AUTO;
	else if (sh_parse_u32(v, SH_CFG_MSS_MIN, SH_CFG_MSS_MAX,
			      &p->cfg->nat.tcp_mss_clamp))
		return fail(p, p->line, "%s: expected auto, off or an integer "
			    "in %d..%d, got '%s'", kw->name, SH_CFG_MSS_MIN,
			    SH_CFG_MSS_MAX, v);
	return 0;
}

static int kw_lease_kind(struct parser *p, const struct keyword *kw,
			 const char *v)
{
	struct sh_lease_cfg *l = p->base;

	if (strcmp(v, "nat") == 0)
		l->kind = SH_LEASE_NAT;
	else if (strcmp(v, "socket") == 0)
		l->kind = SH_LEASE_SOCKET;
	else
		return fail(p, p->line, "%s: expected nat or socket, got '%s'",
			    kw->name, v);
	return 0;
}

static int kw_lease_ip(struct parser *p, const struct keyword *kw,
		       const char *v)
{
	struct sh_lease_cfg *l = p->base;

	if (sh_parse_ipv4(v, &l->ip))
		return fail(p, p->line, "%s: expected an IPv4 address a.b.c.d, "
			    "got '%s'", kw->name, v);
	return 0;
}

static int kw_lease_ports(struct parser *p, const struct keyword *kw,
			  const char *v)
{
	struct sh_lease_cfg *l = p->base;

	if (sh_parse_port_range(v, &l->lo, &l->hi))
		return fail(p, p->line, "%s: expected LO-HI with 1 <= LO <= HI "
			    "<= 65535, got '%s'", kw->name, v);
	return 0;
}

static int kw_lease_mapping(struct parser *p, const struct keyword *kw,
			    const char *v)
{
	struct sh_lease_cfg *l = p->base;

	if (sh_parse_mapping(v, &l->mapping))
		return fail(p, p->line, "%s: expected endpoint-independent or "
			    "address-and-port-dependent, got '%s'", kw->name,
			    v);
	return 0;
}

static int kw_lease_filtering(struct parser *p, const struct keyword *kw,
			      const char *v)
{
	struct sh_lease_cfg *l = p->base;

	if (sh_parse_filtering(v, &l->filtering))
		return fail(p, p->line, "%s: expected endpoint-independent, "
			    "address-dependent or address-and-port-dependent, "
			    "got '%s'", kw->name, v);
	return 0;
}

/* "pfx, pfx, ...": 1..SH_CFG_MAX_CLIENT_PFX network prefixes into @out. */
static int prefix_list(struct parser *p, const struct keyword *kw,
		       const char *v, struct sh_prefix *out, unsigned *n_out)
{
	char buf[LINE_MAX_CHARS + 1], *item, *save = NULL;
	char a[16];
	unsigned n = 0;

	snprintf(buf, sizeof(buf), "%s", v);
	/* strtok_r would merge ",," silently; an empty item is an error. */
	for (item = buf; item; item = save) {
		struct sh_prefix pfx;
		uint32_t host;

		save = strchr(item, ',');
		if (save)
			*save++ = '\0';
		item = trim(item);
		if (!*item)
			return fail(p, p->line, "%s: empty prefix in list",
				    kw->name);
		if (n == SH_CFG_MAX_CLIENT_PFX)
			return fail(p, p->line, "%s: too many prefixes (max %d)",
				    kw->name, SH_CFG_MAX_CLIENT_PFX);
		if (sh_parse_prefix(item, &pfx, &host))
			return fail(p, p->line, "%s: expected a.b.c.d/len with "
				    "len 0..32, got '%s'", kw->name, item);
		if (host != pfx.addr)
			return fail(p, p->line, "%s: %s has host bits set "
				    "(did you mean %s/%u?)", kw->name, item,
				    sh_fmt_ipv4(pfx.addr, a), pfx.len);
		/* field by field: a struct copy would carry pfx's padding,
		 * and reload compares [fleet] clients byte for byte */
		out[n].addr = pfx.addr;
		out[n].len = pfx.len;
		n++;
	}
	*n_out = n;
	return 0;
}

/* A lease's clients: a prefix list, and at most SHOAL_MAX_SELECTORS
 * over all leases. */
static int kw_lease_clients(struct parser *p, const struct keyword *kw,
			    const char *v)
{
	struct sh_lease_cfg *l = p->base;
	unsigned n;
	int rc = prefix_list(p, kw, v, l->clients, &l->n_clients);

	if (rc)
		return rc;
	/* This lease is the last one: the sum is every lease's so far. */
	n = l->n_clients;
	for (unsigned i = 0; i + 1 < p->cfg->n_leases; i++)
		n += p->cfg->leases[i].n_clients;
	if (n > SHOAL_MAX_SELECTORS)
		return fail(p, p->line, "%s: %u client prefixes in all leases "
			    "(max %d)", kw->name, n, SHOAL_MAX_SELECTORS);
	return 0;
}

/* ---- [fleet] ----------------------------------------------------------- */

/* etcd: "http://HOST:PORT[,http://...]": the v3 JSON gateway's URLs. */
static int kw_fleet_etcd(struct parser *p, const struct keyword *kw,
			 const char *v)
{
	char buf[LINE_MAX_CHARS + 1], *item, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", v);
	for (item = buf; item; item = save) {
		save = strchr(item, ',');
		if (save)
			*save++ = '\0';
		item = trim(item);
		if (strncmp(item, "http://", 7) || strlen(item) < 8 ||
		    strpbrk(item, " \t\"'\\"))
			return fail(p, p->line, "%s: expected http://HOST:PORT"
				    "[,http://HOST:PORT...], got '%s'",
				    kw->name, item);
	}
	return kw_str(p, kw, v);
}

static int kw_fleet_address(struct parser *p, const struct keyword *kw,
			    const char *v)
{
	if (sh_parse_ipv4(v, &p->cfg->fleet.address) || !p->cfg->fleet.address)
		return fail(p, p->line, "%s: expected an IPv4 address a.b.c.d, "
			    "got '%s'", kw->name, v);
	return 0;
}

/* pool: "A.B.C.D[, A.B.C.D...]", distinct, at most SH_CFG_MAX_POOL. */
static int kw_fleet_pool(struct parser *p, const struct keyword *kw,
			 const char *v)
{
	struct sh_fleet_cfg *f = &p->cfg->fleet;
	char buf[LINE_MAX_CHARS + 1], *item, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", v);
	for (item = buf; item; item = save) {
		uint32_t ip;

		save = strchr(item, ',');
		if (save)
			*save++ = '\0';
		item = trim(item);
		if (sh_parse_ipv4(item, &ip) || !ip)
			return fail(p, p->line, "%s: expected IPv4 addresses "
				    "a.b.c.d[, a.b.c.d...], got '%s'",
				    kw->name, item);
		for (unsigned i = 0; i < f->n_pool; i++)
			if (f->pool[i] == ip)
				return fail(p, p->line, "%s: %s is listed "
					    "twice", kw->name, item);
		if (f->n_pool == SH_CFG_MAX_POOL)
			return fail(p, p->line, "%s: too many addresses (max "
				    "%d)", kw->name, SH_CFG_MAX_POOL);
		f->pool[f->n_pool++] = ip;
	}
	return 0;
}

static int kw_fleet_ports(struct parser *p, const struct keyword *kw,
			  const char *v)
{
	if (sh_parse_port_range(v, &p->cfg->fleet.lo, &p->cfg->fleet.hi))
		return fail(p, p->line, "%s: expected LO-HI with 1 <= LO <= HI "
			    "<= 65535, got '%s'", kw->name, v);
	return 0;
}

/* slices: a count, or "A.B.C.D:LO-HI[, ...]" (checked against the pool
 * in fleet_close, once every key is known). */
static int kw_fleet_slices(struct parser *p, const struct keyword *kw,
			   const char *v)
{
	struct sh_fleet_cfg *f = &p->cfg->fleet;
	char buf[LINE_MAX_CHARS + 1], *item, *save = NULL;

	if (strspn(v, "0123456789") == strlen(v)) {
		if (sh_parse_u32(v, 1, SHOAL_MAX_POOL_SLICES, &f->slices))
			return fail(p, p->line, "%s: expected a count in 1..%d "
				    "or A.B.C.D:LO-HI[, ...], got '%s'",
				    kw->name, SHOAL_MAX_POOL_SLICES, v);
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", v);
	for (item = buf; item; item = save) {
		struct sh_slice_cfg s = { .line = p->line };
		char *colon;

		save = strchr(item, ',');
		if (save)
			*save++ = '\0';
		item = trim(item);
		colon = strchr(item, ':');
		if (colon)
			*colon = '\0';
		if (!colon || sh_parse_ipv4(item, &s.ip) ||
		    sh_parse_port_range(colon + 1, &s.lo, &s.hi))
			return fail(p, p->line, "%s: expected a count or "
				    "A.B.C.D:LO-HI[, ...], got '%s%s%s'",
				    kw->name, item, colon ? ":" : "",
				    colon ? colon + 1 : "");
		if (f->n_want == SH_CFG_MAX_SLICES)
			return fail(p, p->line, "%s: too many slices (max %d)",
				    kw->name, SH_CFG_MAX_SLICES);
		f->want[f->n_want++] = s;
	}
	return 0;
}

static int kw_fleet_clients(struct parser *p, const struct keyword *kw,
			    const char *v)
{
	return prefix_list(p, kw, v, p->cfg->fleet.clients,
			   &p->cfg->fleet.n_clients);
}

/* prefix: an absolute etcd key prefix without a trailing '/'. */
static int kw_fleet_prefix(struct parser *p, const struct keyword *kw,
			   const char *v)
{
	size_t n = strlen(v);

	if (v[0] != '/' || (n > 1 && v[n - 1] == '/') ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789_.-/") != n)
		return fail(p, p->line, "%s: expected /NAME[/NAME...] of "
			    "[A-Za-z0-9_.-], got '%s'", kw->name, v);
	return kw_str(p, kw, v);
}

/* [slices]: "A.B.C.D = LO-HI"; an address may repeat with disjoint ranges. */
static int slice_line(struct parser *p, const char *key, const char *v)
{
	struct sh_config *cfg = p->cfg;
	struct sh_slice_cfg s = { .line = p->line };
	char a[16];

	if (sh_parse_ipv4(key, &s.ip))
		return fail(p, p->line, "slice: expected an IPv4 address as key, "
			    "got '%s'", key);
	if (sh_parse_port_range(v, &s.lo, &s.hi))
		return fail(p, p->line, "slice %s: expected LO-HI with 1 <= LO "
			    "<= HI <= 65535, got '%s'", key, v);
	for (unsigned i = 0; i < cfg->n_slices; i++) {
		const struct sh_slice_cfg *o = &cfg->slices[i];

		if (o->ip == s.ip && o->lo <= s.hi && s.lo <= o->hi)
			return fail(p, p->line, "slice %s %u-%u overlaps the "
				    "slice at line %d (%u-%u)",
				    sh_fmt_ipv4(s.ip, a), s.lo, s.hi, o->line,
				    o->lo, o->hi);
	}
	if (cfg->n_slices == SH_CFG_MAX_SLICES)
		return fail(p, p->line, "too many slices (max %d)",
			    SH_CFG_MAX_SLICES);
	cfg->slices[cfg->n_slices++] = s;
	return 0;
}

/* ---- sections --------------------------------------------------------- */

#define CFG(f) offsetof(struct sh_config, f)
#define PORT(f) offsetof(struct sh_port_cfg, f)

static const struct keyword engine_kws[] = {
	{ "eal", kw_str, CFG(eal), 0, SH_CFG_STR_LEN, false },
	{ "workers", kw_u32, CFG(workers), 1, SH_CFG_MAX_WORKERS, false },
	{ "mbufs", kw_u32, CFG(mbufs), 1024, 1u << 26, false },
	{ "ctl_socket", kw_path, CFG(ctl_socket), 0, SUN_PATH_LEN, false },
	{ "idle_sleep_us", kw_u32, CFG(idle_sleep_us), 0, 100000, false },
	{ "state", kw_state, CFG(state), 0,
	  SUN_PATH_LEN - sizeof(SH_CFG_STATE_SOCK_SUFFIX) + 1, false },
	{ NULL, NULL, 0, 0, 0, false },
};

static const struct keyword port_kws[] = {
	{ "device", kw_str, PORT(device), 0, SH_CFG_STR_LEN, true },
	{ "address", kw_port_address, 0, 0, 0, false },
	{ "gateway", kw_port_gateway, 0, 0, 0, false },
	{ "exception", kw_port_exception, 0, 0, 0, false },
	{ "next_hop_mac", kw_port_mac, 0, 0, 0, false },
	{ "mirror", kw_ifname, PORT(mirror), 0, 16, false },
	{ "punt_rate", kw_u32, PORT(punt_rate), 0, 100000000, false },
	{ "mtu", kw_u32, PORT(mtu), SH_CFG_MTU_MIN, SH_CFG_MTU_MAX, false },
	{ NULL, NULL, 0, 0, 0, false },
};

static const struct keyword nat_kws[] = {
	{ "udp_timeout", kw_u32, CFG(nat.udp_timeout), 1, 2000000, false },
	{ "tcp_established_timeout", kw_u32, CFG(nat.tcp_established_timeout),
	  1, 2000000, false },
	{ "tcp_transitory_timeout", kw_u32, CFG(nat.tcp_transitory_timeout),
	  1, 2000000, false },
	{ "icmp_timeout", kw_u32, CFG(nat.icmp_timeout), 1, 2000000, false },
	{ "max_flows", kw_u32, CFG(nat.max_flows), 1, 1u << 26, false },
	{ "max_ports_per_client", kw_u32, CFG(nat.max_ports_per_client), 0,
	  65535, false },
	{ "port_hold_down", kw_u32, CFG(nat.port_hold_down), 0, 86400, false },
	{ "tcp_mss_clamp", kw_mss_clamp, 0, 0, 0, false },
	{ NULL, NULL, 0, 0, 0, false },
};

/* Order matters: lease_close() indexes key_line[] with these. */
enum { LEASE_KIND, LEASE_IP, LEASE_PORTS, LEASE_CLIENTS, LEASE_MAPPING,
       LEASE_FILTERING };
static const struct keyword lease_kws[] = {
	[LEASE_KIND] = { "kind", kw_lease_kind, 0, 0, 0, true },
	[LEASE_IP] = { "ip", kw_lease_ip, 0, 0, 0, true },
	[LEASE_PORTS] = { "ports", kw_lease_ports, 0, 0, 0, true },
	[LEASE_CLIENTS] = { "clients", kw_lease_clients, 0, 0, 0, false },
	[LEASE_MAPPING] = { "mapping", kw_lease_mapping, 0, 0, 0, false },
	[LEASE_FILTERING] = { "filtering", kw_lease_filtering, 0, 0, 0, false },
	{ NULL, NULL, 0, 0, 0, false },
};

static const struct keyword ctl_kws[] = {
	{ "socket", kw_path, CFG(ctl_sock_path), 0, SUN_PATH_LEN, false },
	{ "database", kw_path, CFG(ctl_database), 0, SH_CFG_STR_LEN, false },
	{ "group", kw_name, CFG(ctl_group), 0, SH_CFG_NAME_LEN, false },
	{ "readers", kw_name, CFG(ctl_readers), 0, SH_CFG_NAME_LEN, false },
	{ "engine_user", kw_name, CFG(ctl_engine_user), 0, SH_CFG_NAME_LEN,
	  false },
	{ "metrics", kw_ctl_metrics, 0, 0, 0, false },
	{ NULL, NULL, 0, 0, 0, false },
};

#define FLEET(f) CFG(fleet.f)
static const struct keyword fleet_kws[] = {
	{ "etcd", kw_fleet_etcd, FLEET(etcd), 0, SH_CFG_STR_LEN, true },
	{ "host", kw_name, FLEET(host), 0, SH_CFG_NAME_LEN, true },
	{ "address", kw_fleet_address, 0, 0, 0, true },
	{ "pool", kw_fleet_pool, 0, 0, 0, true },
	{ "ports", kw_fleet_ports, 0, 0, 0, false },
	{ "slice_size", kw_u32, FLEET(slice_size), 1, 65535, true },
	{ "slices", kw_fleet_slices, 0, 0, 0, true },
	{ "clients", kw_fleet_clients, 0, 0, 0, false },
	{ "ttl", kw_u32, FLEET(ttl), 2, 3600, false },
	{ "hold_down", kw_u32, FLEET(hold_down), 3, 86400, false },
	{ "port", kw_u32, FLEET(port), 1, 65535, false },
	{ "prefix", kw_fleet_prefix, FLEET(prefix), 0, SH_CFG_STR_LEN, false },
	{ NULL, NULL, 0, 0, 0, false },
};

/* key_line[] has one slot per key of the current section. */
#define KW_FITS(t) _Static_assert(sizeof(t) / sizeof(t[0]) <= MAX_KEYWORDS + 1, #t)
KW_FITS(engine_kws);
KW_FITS(port_kws);
KW_FITS(nat_kws);
KW_FITS(lease_kws);
KW_FITS(ctl_kws);
KW_FITS(fleet_kws);

/* [fleet] as a whole: the port range cut into whole slices, the explicit
 * slices among them, a hold-down longer than the TTL. */
static int fleet_close(struct parser *p)
{
	struct sh_fleet_cfg *f = &p->cfg->fleet;
	uint32_t span = (uint32_t)f->hi - f->lo + 1;
	int hold_line = sh_config_line(p->cfg, "fleet", "hold_down");
	char a[16];

	f->enabled = true;
	f->line = p->sec_line;
	if (span % f->slice_size)
		return fail(p, p->sec_line, "[fleet] slice_size %u does not "
			    "divide the %u ports of %u-%u", f->slice_size, span,
			    f->lo, f->hi);
	f->n_slices_total = f->n_pool * (span / f->slice_size);
	if (f->n_slices_total > SHOAL_MAX_POOL_SLICES)
		return fail(p, p->sec_line, "[fleet] %u addresses x %u slices "
			    "is %u slices (max %d)", f->n_pool,
			    span / f->slice_size, f->n_slices_total,
			    SHOAL_MAX_POOL_SLICES);
	if (f->slices > f->n_slices_total)
		return fail(p, p->sec_line, "[fleet] slices = %u: the pool has "
			    "%u", f->slices, f->n_slices_total);
	for (unsigned i = 0; i < f->n_want; i++) {
		const struct sh_slice_cfg *w = &f->want[i];
		bool in_pool = false;

		for (unsigned j = 0; j < f->n_pool; j++)
			in_pool |= f->pool[j] == w->ip;
		if (!in_pool || w->lo < f->lo || w->hi > f->hi ||
		    (w->lo - f->lo) % f->slice_size ||
		    (uint32_t)w->hi - w->lo + 1 != f->slice_size)
			return fail(p, w->line, "slices: %s:%u-%u is not a slice "
				    "of the pool (%u-port slices from %u)",
				    sh_fmt_ipv4(w->ip, a), w->lo, w->hi,
				    f->slice_size, f->lo);
		for (unsigned j = 0; j < i; j++)
			if (f->want[j].ip == w->ip && f->want[j].lo == w->lo)
				return fail(p, w->line, "slices: %s:%u-%u is "
					    "listed twice", sh_fmt_ipv4(w->ip, a),
					    w->lo, w->hi);
	}
	if (!hold_line)
		f->hold_down = 2 * f->ttl;
	else if (f->hold_down <= f->ttl)
		return fail(p, hold_line, "hold_down: %u s "
			    "must exceed ttl (%u s): an engine may translate "
			    "into a slice for up to ttl after its last "
			    "renewal", f->hold_down, f->ttl);
	return 0;
}

/* clients, mapping and filtering say what a nat lease translates and
 * how: meaningless for a socket lease. */
static int lease_close(struct parser *p)
{
	static const int nat_only[] = { LEASE_CLIENTS, LEASE_MAPPING,
					LEASE_FILTERING };
	const struct sh_lease_cfg *l = p->base;

	if (l->kind == SH_LEASE_NAT && !p->key_line[LEASE_CLIENTS])
		return fail(p, p->sec_line, "[%s] missing required key "
			    "'clients' (kind nat)", p->sec_name);
	for (unsigned i = 0; l->kind == SH_LEASE_SOCKET &&
	     i < sizeof(nat_only) / sizeof(nat_only[0]); i++)
		if (p->key_line[nat_only[i]])
			return fail(p, p->key_line[nat_only[i]], "%s: not "
				    "allowed for kind socket",
				    lease_kws[nat_only[i]].name);
	return 0;
}

static const struct section sections[SEC_COUNT] = {
	[SEC_ENGINE] = { "engine", engine_kws, NULL, NULL },
	[SEC_INSIDE] = { "inside", port_kws, NULL, NULL },
	[SEC_OUTSIDE] = { "outside", port_kws, NULL, NULL },
	[SEC_SLICES] = { "slices", NULL, slice_line, NULL },
	[SEC_NAT] = { "nat", nat_kws, NULL, NULL },
	[SEC_CTL] = { "ctl", ctl_kws, NULL, NULL },
	[SEC_FLEET] = { "fleet", fleet_kws, NULL, fleet_close },
	[SEC_LEASE] = { "lease.", lease_kws, NULL, lease_close },
};

/* End of the current section: required keys, then its own checks. */
static int section_close(struct parser *p)
{
	const struct section *sec = p->sec;

	if (!sec)
		return 0;
	for (int i = 0; sec->kws && sec->kws[i].name; i++)
		if (sec->kws[i].required && !p->key_line[i])
			return fail(p, p->sec_line, "[%s] missing required "
				    "key '%s'", p->sec_name, sec->kws[i].name);
	return sec->close ? sec->close(p) : 0;
}

/* [lease.NAME]: a new lease, unique by name. */
static int lease_open(struct parser *p, const char *name)
{
	struct sh_config *cfg = p->cfg;
	struct sh_lease_cfg *l;

	if (!valid_name(name))
		return fail(p, p->line, "lease name '%s': expected 1..%d "
			    "characters of [A-Za-z0-9_.-]", name,
			    SH_CFG_NAME_LEN - 1);
	for (unsigned i = 0; i < cfg->n_leases; i++)
		if (strcmp(cfg->leases[i].name, name) == 0)
			return fail(p, p->line, "duplicate section [lease.%s] "
				    "(first at line %d)", name,
				    cfg->leases[i].line);
	if (cfg->n_leases == SH_CFG_MAX_LEASES)
		return fail(p, p->line, "too many leases (max %d)",
			    SH_CFG_MAX_LEASES);
	l = &cfg->leases[cfg->n_leases++];
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->line = p->line;
	p->base = l;
	return 0;
}

/* "[name]": close the previous section, open this one. */
static int section_open(struct parser *p, char *s)
{
	size_t n = strlen(s);
	const char *name;
	int idx, rc;

	if (n < 2 || s[n - 1] != ']')
		return fail(p, p->line, "malformed section header (expected "
			    "[name])");
	s[n - 1] = '\0';
	name = trim(s + 1);
	if (!*name)
		return fail(p, p->line, "malformed section header (empty name)");

	rc = section_close(p);
	if (rc)
		return rc;

	if (strncmp(name, "lease.", 6) == 0) {
		idx = SEC_LEASE;
		rc = lease_open(p, name + 6);
		if (rc)
			return rc;
	} else {
		for (idx = 0; idx < SEC_LEASE; idx++)
			if (strcmp(name, sections[idx].name) == 0)
				break;
		if (idx == SEC_LEASE)
			return fail(p, p->line, "unknown section [%s]", name);
		if (p->first_line[idx])
			return fail(p, p->line, "duplicate section [%s] (first "
				    "at line %d)", name, p->first_line[idx]);
		p->first_line[idx] = p->line;
		p->cfg->section_line[idx] = p->line;
		p->base = p->cfg;
		if (idx == SEC_INSIDE || idx == SEC_OUTSIDE) {
			struct sh_port_cfg *port = idx == SEC_INSIDE ?
				&p->cfg->inside : &p->cfg->outside;

			port->present = true;
			port->line = p->line;
			p->base = port;
		}
	}
	p->sec = &sections[idx];
	p->sec_line = p->line;
	snprintf(p->sec_name, sizeof(p->sec_name), "%s", name);
	memset(p->key_line, 0, sizeof(p->key_line));
	return 0;
}

/* "key = value" inside the current section. */
static int key_value(struct parser *p, char *s)
{
	const struct keyword *kws = p->sec ? p->sec->kws : NULL;
	char *eq = strchr(s, '='), *key, *val;
	int i;

	if (!eq)
		return fail(p, p->line, "missing '=' (expected key = value)");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (!*key)
		return fail(p, p->line, "empty key");
	if (!p->sec)
		return fail(p, p->line, "key '%s' outside any section", key);
	if (!*val)
		return fail(p, p->line, "empty value for '%s'", key);
	if (p->sec->any_key)
		return p->sec->any_key(p, key, val);

	for (i = 0; kws[i].name; i++)
		if (strcmp(key, kws[i].name) == 0)
			break;
	if (!kws[i].name)
		return fail(p, p->line, "unknown key '%s' in [%s]", key,
			    p->sec_name);
	if (p->key_line[i])
		return fail(p, p->line, "duplicate key '%s' in [%s] (first at "
			    "line %d)", key, p->sec_name, p->key_line[i]);
	p->key_line[i] = p->line;
	if (p->sec != &sections[SEC_LEASE])
		p->cfg->key_line[p->sec - sections][i] = p->line;
	return kws[i].parse(p, &kws[i], val);
}

/* One line without its newline: strip comments and blanks, dispatch. */
static int parse_line(struct parser *p, char *s)
{
	char *c = strchr(s, ';');

	if (c)
		*c = '\0';
	s = trim(s);
	if (!*s || *s == '#')
		return 0;
	return *s == '[' ? section_open(p, s) : key_value(p, s);
}

/*
 * With [fleet]: the slices are etcd's, so neither [slices] nor static
 * leases; the engine learns its slices from shoal-ctld; peers reach it
 * at its outside address. The pool addresses become cfg->slices.
 */
static int check_fleet(struct parser *p)
{
	struct sh_config *cfg = p->cfg;
	const struct sh_fleet_cfg *f = &cfg->fleet;

	if (p->first_line[SEC_SLICES])
		return fail(p, p->first_line[SEC_SLICES], "[slices] with [fleet] "
			    "(line %d): a fleet host's slices come from etcd",
			    f->line);
	if (cfg->n_leases)
		return fail(p, cfg->leases[0].line, "[lease.%s] with [fleet] "
			    "(line %d): a fleet host's slices change at run "
			    "time; use [fleet] clients or shoalctl lease add",
			    cfg->leases[0].name, f->line);
	if (!cfg->ctl_socket[0])
		return fail(p, f->line, "[fleet] needs [engine] ctl_socket: the "
			    "engine learns its slices from shoal-ctld");
	if (!cfg->outside.has_address || cfg->outside.address_host != f->address)
		return fail(p, sh_config_line(cfg, "fleet", "address"),
			    "address: must be the [outside] address, where "
			    "peers reach this engine");
	for (unsigned i = 0; i < f->n_pool; i++)
		cfg->slices[cfg->n_slices++] = (struct sh_slice_cfg){
			.ip = f->pool[i], .lo = f->lo, .hi = f->hi,
			.line = sh_config_line(cfg, "fleet", "pool"),
		};
	return 0;
}

/*
 * Whole-file checks, after the last section closed:
 *   1. the three required sections exist;
 *   2. each lease's ip is a slice's address and its ports lie inside one
 *      slice of that address (a lease never spans two slices, since two
 *      slices of one address need not be adjacent);
 *   3. no two leases share a port of the same address.
 */
static int check_file(struct parser *p)
{
	const struct sh_config *cfg = p->cfg;
	char a[16];

	if (!cfg->inside.present)
		return fail(p, 1, "missing [inside] section");
	if (!cfg->outside.present)
		return fail(p, 1, "missing [outside] section");
	if (cfg->fleet.enabled)
		return check_fleet(p);
	if (!p->first_line[SEC_SLICES])
		return fail(p, 1, "missing [slices] section");
	if (cfg->n_slices == 0)
		return fail(p, p->first_line[SEC_SLICES], "[slices] lists no "
			    "slices (at least one is required)");

	for (unsigned i = 0; i < cfg->n_leases; i++) {
		const struct sh_lease_cfg *l = &cfg->leases[i];
		bool ip_known = false, inside = false;

		for (unsigned j = 0; j < cfg->n_slices; j++) {
			const struct sh_slice_cfg *s = &cfg->slices[j];

			if (s->ip != l->ip)
				continue;
			ip_known = true;
			inside |= s->lo <= l->lo && l->hi <= s->hi;
		}
		if (!ip_known)
			return fail(p, l->line, "lease '%s': ip %s is not the "
				    "address of any slice", l->name,
				    sh_fmt_ipv4(l->ip, a));
		if (!inside)
			return fail(p, l->line, "lease '%s': ports %u-%u do not "
				    "lie inside one slice of %s", l->name,
				    l->lo, l->hi, sh_fmt_ipv4(l->ip, a));
		for (unsigned j = 0; j < i; j++) {
			const struct sh_lease_cfg *o = &cfg->leases[j];

			if (o->ip == l->ip && o->lo <= l->hi && l->lo <= o->hi)
				return fail(p, l->line, "lease '%s' (ports "
					    "%u-%u) overlaps lease '%s' (ports "
					    "%u-%u) on %s", l->name, l->lo,
					    l->hi, o->name, o->lo, o->hi,
					    sh_fmt_ipv4(l->ip, a));
		}
	}
	return 0;
}

int sh_config_line(const struct sh_config *cfg, const char *section,
		   const char *key)
{
	for (int i = 0; i < SEC_LEASE; i++) {
		const struct keyword *kws = sections[i].kws;

		if (strcmp(section, sections[i].name))
			continue;
		if (!key)
			return cfg->section_line[i];
		for (int k = 0; kws && kws[k].name; k++)
			if (!strcmp(key, kws[k].name))
				return cfg->key_line[i][k];
	}
	return 0;
}

/* The keys a reload cannot apply (sh_config_reload_check). */
static const struct {
	const char *section, *key;
	size_t off, len;
	unsigned prog;
} restart_keys[] = {
#define RK(sec, key, field, prog) \
	{ sec, key, CFG(field), sizeof(((struct sh_config *)0)->field), prog }
	RK("engine", "eal", eal, SH_PROG_ENGINE),
	RK("engine", "workers", workers, SH_PROG_ENGINE),
	RK("engine", "mbufs", mbufs, SH_PROG_ENGINE),
	RK("engine", "ctl_socket", ctl_socket, SH_PROG_ENGINE),
	RK("engine", "state", state, SH_PROG_ENGINE),
#define RK_PORT(sec, side)                                                  \
	RK(sec, "device", side.device, SH_PROG_ENGINE),                     \
	RK(sec, "address", side.address, SH_PROG_ENGINE),                   \
	RK(sec, "address", side.address_host, SH_PROG_ENGINE),              \
	RK(sec, "address", side.has_address, SH_PROG_ENGINE),               \
	RK(sec, "gateway", side.gateway, SH_PROG_ENGINE),                   \
	RK(sec, "gateway", side.has_gateway, SH_PROG_ENGINE),               \
	RK(sec, "exception", side.exception, SH_PROG_ENGINE),               \
	RK(sec, "next_hop_mac", side.next_hop_mac, SH_PROG_ENGINE),         \
	RK(sec, "next_hop_mac", side.has_next_hop_mac, SH_PROG_ENGINE),     \
	RK(sec, "mirror", side.mirror, SH_PROG_ENGINE),                     \
	RK(sec, "mtu", side.mtu, SH_PROG_ENGINE)
	RK_PORT("inside", inside),
	RK_PORT("outside", outside),
	RK("nat", "max_flows", nat.max_flows, SH_PROG_ENGINE),
#define RK_FLEET(key, field) \
	RK("fleet", key, fleet.field, SH_PROG_ENGINE | SH_PROG_CTLD)
	RK_FLEET("etcd", etcd),
	RK_FLEET("host", host),
	RK_FLEET("address", address),
	RK_FLEET("pool", pool),
	RK_FLEET("pool", n_pool),
	RK_FLEET("ports", lo),
	RK_FLEET("ports", hi),
	RK_FLEET("slice_size", slice_size),
	RK_FLEET("slices", slices),
	RK_FLEET("slices", want),
	RK_FLEET("slices", n_want),
	RK_FLEET("clients", clients),
	RK_FLEET("clients", n_clients),
	RK_FLEET("ttl", ttl),
	RK_FLEET("hold_down", hold_down),
	RK_FLEET("port", port),
	RK_FLEET("prefix", prefix),
	RK("fleet", "etcd", fleet.enabled, SH_PROG_ENGINE | SH_PROG_CTLD),
#undef RK_FLEET
	RK("ctl", "socket", ctl_sock_path, SH_PROG_CTLD),
	RK("ctl", "database", ctl_database, SH_PROG_CTLD),
	RK("ctl", "group", ctl_group, SH_PROG_CTLD),
	RK("ctl", "readers", ctl_readers, SH_PROG_CTLD),
	RK("ctl", "engine_user", ctl_engine_user, SH_PROG_CTLD),
	RK("ctl", "metrics", ctl_metrics_ip, SH_PROG_CTLD),
	RK("ctl", "metrics", ctl_metrics_port, SH_PROG_CTLD),
#undef RK_PORT
#undef RK
};

int sh_config_reload_check(const struct sh_config *run,
			   const struct sh_config *next, unsigned prog,
			   char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(restart_keys) / sizeof(restart_keys[0]);
	     i++) {
		const char *a = (const char *)run + restart_keys[i].off;
		const char *b = (const char *)next + restart_keys[i].off;
		const char *sec = restart_keys[i].section;
		int line;

		if (!(restart_keys[i].prog & prog) ||
		    !memcmp(a, b, restart_keys[i].len))
			continue;
		line = sh_config_line(next, sec, restart_keys[i].key);
		if (!line)
			line = sh_config_line(next, sec, NULL);
		if (err && errlen)
			snprintf(err, errlen, "%s:%d: [%s] %s: differs from "
				 "the running value; reload cannot change it, "
				 "restart %s", next->path, line ? line : 1, sec,
				 restart_keys[i].key, prog == SH_PROG_CTLD ?
				 "shoal-ctld" : "shoal-engine");
		return -EINVAL;
	}
	return 0;
}

void sh_config_defaults(struct sh_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 1;
	cfg->inside.exception = SH_EXC_AUTO;
	cfg->outside.exception = SH_EXC_AUTO;
	snprintf(cfg->inside.mirror, sizeof(cfg->inside.mirror), "shoal-in");
	snprintf(cfg->outside.mirror, sizeof(cfg->outside.mirror), "shoal-out");
	cfg->inside.punt_rate = 10000;
	cfg->outside.punt_rate = 10000;
	cfg->inside.mtu = SH_CFG_MTU_DEFAULT;
	cfg->outside.mtu = SH_CFG_MTU_DEFAULT;
	cfg->nat = (struct sh_nat_cfg){
		.udp_timeout = 300,
		.tcp_established_timeout = 7440,
		.tcp_transitory_timeout = 240,
		.icmp_timeout = 60,
		.max_flows = 1048576,
		.max_ports_per_client = 0,
		.port_hold_down = 120,
		.tcp_mss_clamp = SH_MSS_CLAMP_AUTO,
	};
	snprintf(cfg->state, sizeof(cfg->state), "%s", SH_CFG_STATE_DEFAULT);
	cfg->fleet.lo = 1024;
	cfg->fleet.hi = 65535;
	cfg->fleet.ttl = SH_CFG_FLEET_TTL_DEFAULT;
	cfg->fleet.port = SH_CFG_FLEET_PORT_DEFAULT;
	snprintf(cfg->fleet.prefix, sizeof(cfg->fleet.prefix), "%s",
		 SH_CFG_FLEET_PREFIX_DEFAULT);
	snprintf(cfg->ctl_sock_path, sizeof(cfg->ctl_sock_path), "%s",
		 "/run/shoal/ctl.sock");
	snprintf(cfg->ctl_database, sizeof(cfg->ctl_database), "%s",
		 "/var/lib/shoal/leases.db");
	snprintf(cfg->ctl_group, sizeof(cfg->ctl_group), "%s", "shoal");
	snprintf(cfg->ctl_engine_user, sizeof(cfg->ctl_engine_user), "%s",
		 "root");
}

uint32_t sh_config_mss_clamp(const struct sh_config *cfg)
{
	uint32_t mtu = cfg->inside.mtu < cfg->outside.mtu ? cfg->inside.mtu
							  : cfg->outside.mtu;

	if (cfg->nat.tcp_mss_clamp == SH_MSS_CLAMP_AUTO)
		return mtu - 40;
	return cfg->nat.tcp_mss_clamp;
}

int sh_config_load(struct sh_config *cfg, const char *path, char *err,
		   size_t errlen)
{
	struct parser p = { .cfg = cfg, .path = path, .err = err,
			    .errlen = errlen };
	/* one more than the limit, to tell a long line from a full one */
	char buf[LINE_MAX_CHARS + 2];
	FILE *f = NULL;
	int rc;

	sh_config_defaults(cfg);
	if (err && errlen)
		err[0] = '\0';
	if (strlen(path) >= sizeof(cfg->path)) {
		rc = io_fail(&p, -ENAMETOOLONG);
		goto out;
	}
	memcpy(cfg->path, path, strlen(path) + 1);
	f = fopen(path, "re");
	if (!f) {
		rc = io_fail(&p, -errno);
		goto out;
	}
	errno = 0;
	while (fgets(buf, sizeof(buf), f)) {
		size_t n = strlen(buf);

		p.line++;
		rc = 0;
		if (n && buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		else if (n > LINE_MAX_CHARS)
			rc = fail(&p, p.line, "line too long (max %d characters)",
				  LINE_MAX_CHARS);
		else if (!feof(f)) /* fgets stopped early: at a NUL byte */
			rc = fail(&p, p.line, "line contains a NUL byte");
		if (rc || (rc = parse_line(&p, buf)))
			goto out;
	}
	if (ferror(f)) {
		rc = io_fail(&p, errno ? -errno : -EIO);
		goto out;
	}
	rc = section_close(&p);
	if (!rc)
		rc = check_file(&p);
out:
	if (f)
		fclose(f);
	return rc;
}
