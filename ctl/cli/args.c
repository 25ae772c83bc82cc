/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Local checks of the values shoalctl sends: malformed numbers, addresses,
 * prefixes and port ranges are usage errors (exit 2) caught before the
 * daemon is asked. Whether a well-formed value is acceptable (inside a
 * slice, free, ...) is the daemon's call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "shoalctl.h"

/* Digits only: no sign, no spaces, no base prefixes, bounded length. */
int arg_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *c;

	if (s == NULL || *s == '\0' || strlen(s) > 19)
		return -EINVAL;
	for (c = s; *c != '\0'; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Dotted quad exactly as inet_pton(AF_INET) reads it. */
int arg_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1 ? 0 : -EINVAL;
}

/* ADDRESS/LEN with LEN 0..32. */
int arg_prefix(const char *s)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	uint64_t len;
	size_t n;

	if (slash == NULL)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (arg_ipv4(addr) < 0 || arg_uint(slash + 1, 0, 32, &len) < 0)
		return -EINVAL;
	return 0;
}

/* LO-HI, 1 <= LO <= HI <= 65535. */
int arg_port_range(const char *s, unsigned int *lo, unsigned int *hi)
{
	char first[8];
	const char *dash = strchr(s, '-');
	uint64_t l, h;
	size_t n;

	if (dash == NULL)
		return -EINVAL;
	n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof(first))
		return -EINVAL;
	memcpy(first, s, n);
	first[n] = '\0';
	if (arg_uint(first, 1, 65535, &l) < 0 ||
	    arg_uint(dash + 1, 1, 65535, &h) < 0 || l > h)
		return -EINVAL;
	*lo = (unsigned int)l;
	*hi = (unsigned int)h;
	return 0;
}

/* PFX[,PFX...]: 1..max prefixes, no empty elements. */
int arg_prefix_list(const char *s, unsigned int max, json_t **out)
{
	json_t *arr = json_array();
	const char *p = s, *comma;
	char one[INET_ADDRSTRLEN + 4];
	size_t n;

	if (arr == NULL)
		return -ENOMEM;
	for (;;) {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || n >= sizeof(one) || json_array_size(arr) >= max)
			goto bad;
		memcpy(one, p, n);
		one[n] = '\0';
		if (arg_prefix(one) < 0 ||
		    json_array_append_new(arr, json_string(one)) < 0)
			goto bad;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*out = arr;
	return 0;
bad:
	json_decref(arr);
	return -EINVAL;
}
