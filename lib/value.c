/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The value parsers of every shoal program: shoal-engine and shoal-ctld
 * read the config file with them (config.c), shoal-ctld and the engine
 * read protocol strings with them, and shoalctl checks its arguments with
 * them, so one spelling of an address, a prefix or a port range is valid
 * everywhere or nowhere.
 */
#include "value.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* "a.b.c.d" of a host-order address into @buf (16 bytes). */
const char *sh_fmt_ipv4(uint32_t a, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", (a >> 24) & 0xff, (a >> 16) & 0xff,
		 (a >> 8) & 0xff, a & 0xff);
	return buf;
}

/* ---- strict value parsers --------------------------------------------- */

/*
 * Consume a decimal number <= @max at *@s and advance *@s past it. Digits
 * only: no sign, no whitespace, no leading zero except "0" itself (so
 * "010" cannot be misread as octal by anyone). Returns 0 or -EINVAL.
 */
static int parse_dec(const char **s, uint32_t max, uint32_t *out)
{
	const char *c = *s;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*c) || (c[0] == '0' && isdigit((unsigned char)c[1])))
		return -EINVAL;
	for (; isdigit((unsigned char)*c); c++) {
		v = v * 10 + (uint64_t)(*c - '0');
		if (v > max)
			return -EINVAL;
	}
	*s = c;
	*out = (uint32_t)v;
	return 0;
}

/* Consume "a.b.c.d" at *@s, stopping at the first character after it. */
static int parse_ipv4_at(const char **s, uint32_t *out)
{
	uint32_t a = 0, part;

	for (int i = 0; i < 4; i++) {
		if (i > 0 && *(*s)++ != '.')
			return -EINVAL;
		if (parse_dec(s, 255, &part))
			return -EINVAL;
		a = a << 8 | part;
	}
	*out = a;
	return 0;
}

/* Exactly "a.b.c.d"; writes *@out only on success. */
int sh_parse_ipv4(const char *s, uint32_t *out)
{
	uint32_t a;

	if (parse_ipv4_at(&s, &a) || *s)
		return -EINVAL;
	*out = a;
	return 0;
}

/*
 * Exactly "a.b.c.d/len", len 0..32. Stores the prefix with host bits
 * cleared in *@out and, if @host is not NULL, the address as written.
 * Callers that forbid host bits compare the two.
 */
int sh_parse_prefix(const char *s, struct sh_prefix *out, uint32_t *host)
{
	uint32_t a, len, mask;

	if (parse_ipv4_at(&s, &a) || *s++ != '/' || parse_dec(&s, 32, &len) || *s)
		return -EINVAL;
	mask = len ? UINT32_MAX << (32 - len) : 0;
	out->addr = a & mask;
	out->len = (uint8_t)len;
	if (host)
		*host = a;
	return 0;
}

/* "lo-hi" or "p", 1 <= lo <= hi <= 65535, no spaces. */
int sh_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	uint32_t l, h;

	if (parse_dec(&s, 65535, &l))
		return -EINVAL;
	h = l;
	if (*s == '-') {
		s++;
		if (parse_dec(&s, 65535, &h))
			return -EINVAL;
	}
	if (*s || l < 1 || l > h)
		return -EINVAL;
	*lo = (uint16_t)l;
	*hi = (uint16_t)h;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Exactly six two-digit hex groups separated by ':', any case. */
int sh_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];

	for (int i = 0; i < 6; i++) {
		int h, l;

		if (i > 0 && *s++ != ':')
			return -EINVAL;
		h = hexval(s[0]);
		l = h < 0 ? -1 : hexval(s[1]);
		if (l < 0)
			return -EINVAL;
		m[i] = (uint8_t)(h << 4 | l);
		s += 2;
	}
	if (*s)
		return -EINVAL;
	memcpy(mac, m, sizeof(m));
	return 0;
}

/* Decimal in [@min, @max] (rules of parse_dec); *@out only on success. */
int sh_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint32_t v;

	if (parse_dec(&s, max, &v) || *s || v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The spellings of value.h's lease behaviours, by enum value. */
static const char *const mapping_names[] = {
	[SH_MAPPING_EIM] = "endpoint-independent",
	[SH_MAPPING_APDM] = "address-and-port-dependent",
};

static const char *const filtering_names[] = {
	[SH_FILTERING_ADF] = "address-dependent",
	[SH_FILTERING_EIF] = "endpoint-independent",
	[SH_FILTERING_APDF] = "address-and-port-dependent",
};

#define N_NAMES(t) (sizeof(t) / sizeof(t[0]))

static int name_index(const char *const *names, unsigned n, const char *s)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

int sh_parse_mapping(const char *s, enum sh_mapping *out)
{
	int i = name_index(mapping_names, N_NAMES(mapping_names), s);

	if (i < 0)
		return i;
	*out = (enum sh_mapping)i;
	return 0;
}

int sh_parse_filtering(const char *s, enum sh_filtering *out)
{
	int i = name_index(filtering_names, N_NAMES(filtering_names), s);

	if (i < 0)
		return i;
	*out = (enum sh_filtering)i;
	return 0;
}

const char *sh_mapping_name(enum sh_mapping m)
{
	return (unsigned)m < N_NAMES(mapping_names) ? mapping_names[m] : NULL;
}

const char *sh_filtering_name(enum sh_filtering f)
{
	return (unsigned)f < N_NAMES(filtering_names) ?
	       filtering_names[f] : NULL;
}
