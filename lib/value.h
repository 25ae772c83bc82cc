/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Value parsers and spellings shared by shoal-engine, shoal-ctld and
 * shoalctl (value.c). Pure C: no DPDK, no allocation, never prints.
 */
#ifndef SHOAL_VALUE_H
#define SHOAL_VALUE_H

#include <stdint.h>

/*
 * A nat lease's behaviour towards remote hosts (RFC 4787 §4.1 mapping,
 * §5 filtering; RFC 5382 for TCP). The zero values are the defaults the
 * RFCs recommend: one outside port per client endpoint whatever the
 * destination, and inbound packets only from addresses the client has
 * sent to. Config and protocol spell them "endpoint-independent",
 * "address-dependent" and "address-and-port-dependent".
 */
enum sh_mapping {
	SH_MAPPING_EIM = 0, /* endpoint-independent */
	SH_MAPPING_APDM,    /* address-and-port-dependent (a port per 5-tuple,
			     * shared across destinations: RFC 7857 §3) */
};

enum sh_filtering {
	SH_FILTERING_ADF = 0, /* address-dependent */
	SH_FILTERING_EIF,     /* endpoint-independent */
	SH_FILTERING_APDF,    /* address-and-port-dependent */
};

struct sh_prefix {
	uint32_t addr; /* host order, host bits zero */
	uint8_t len;   /* 0..32 */
};

/*
 * Parse helpers for the config file, the protocol and the CLI.
 * Each returns 0 or -EINVAL, writes its outputs only on success, and
 * never prints. All are strict: the whole string must match, with no
 * blanks, signs or trailing characters; numbers are decimal without
 * leading zeros ("0" itself is fine), so "010" is an error, not 8 or 10.
 * sh_parse_prefix takes len 0..32 and stores the prefix with host bits
 * cleared, plus the address as written in *@host when @host is not NULL.
 * sh_parse_port_range requires 1 <= lo <= hi <= 65535. sh_parse_mac takes
 * six two-digit hex groups separated by ':', in any case.
 */
int sh_parse_ipv4(const char *s, uint32_t *out);                 /* a.b.c.d */
int sh_parse_prefix(const char *s, struct sh_prefix *out, uint32_t *host);
int sh_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi); /* "lo-hi" or "p" */
int sh_parse_mac(const char *s, uint8_t mac[6]);
int sh_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* A lease behaviour by its spelling (see enum sh_mapping), and back: the
 * name is NULL for a value outside the enum. */
int sh_parse_mapping(const char *s, enum sh_mapping *out);
int sh_parse_filtering(const char *s, enum sh_filtering *out);
const char *sh_mapping_name(enum sh_mapping m);
const char *sh_filtering_name(enum sh_filtering f);

/* "a.b.c.d" of a host-order address into @buf (16 bytes); returns @buf. */
const char *sh_fmt_ipv4(uint32_t a, char buf[16]);

#endif /* SHOAL_VALUE_H */
