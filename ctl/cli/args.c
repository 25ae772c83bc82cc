/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Local checks of the values shoalctl sends, with the parsers the daemon
 * and the engine use (lib/value.h): a malformed number, address, prefix
 * or port range is a usage error (exit 2) caught before the daemon is
 * asked, and one the CLI accepts is one the daemon can read. Whether a
 * well-formed value is acceptable (inside a slice, free, ...) is the
 * daemon's call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "shoalctl.h"
#include "value.h"

/* PFX[,PFX...]: 1..max prefixes, no empty elements. */
int arg_prefix_list(const char *s, unsigned int max, json_t **out)
{
	json_t *arr = json_array();
	const char *p = s, *comma;
	char one[INET_ADDRSTRLEN + 4];
	struct sh_prefix pfx;
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
		if (sh_parse_prefix(one, &pfx, NULL) < 0 ||
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

/* "-N" + unit: N units before @now. */
static int time_ago(const char *s, int64_t now, int64_t *out)
{
	static const struct {
		char unit;
		int64_t secs;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	size_t n = strlen(s);
	char num[16];
	uint32_t v;

	if (n < 3 || n - 2 >= sizeof(num))
		return -EINVAL;
	memcpy(num, s + 1, n - 2);
	num[n - 2] = '\0';
	if (sh_parse_u32(num, 0, UINT32_MAX, &v) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].unit == s[n - 1]) {
			*out = now - (int64_t)v * units[i].secs;
			if (*out < 0)
				*out = 0;
			return 0;
		}
	return -EINVAL;
}

int arg_time(const char *s, int64_t now, int64_t *out)
{
	struct tm tm = { 0 };
	const char *end;
	uint32_t v;
	time_t t;
	bool utc;

	if (s[0] == '-')
		return time_ago(s, now, out);
	if (sh_parse_u32(s, 0, UINT32_MAX, &v) == 0) {
		*out = v;
		return 0;
	}
	/* strptime takes blanks and short fields; digits first keeps it
	 * from reading " 2026-1-2" */
	if (s[0] < '0' || s[0] > '9' || strlen(s) < 10 || s[4] != '-' ||
	    s[7] != '-' || !(end = strptime(s, "%Y-%m-%d", &tm)) ||
	    end != s + 10)
		return -EINVAL;
	if (*end == 'T' || *end == ' ') {
		const char *t0 = end + 1;

		end = strptime(t0, "%H:%M", &tm);
		if (!end || end != t0 + 5)
			return -EINVAL;
		if (*end == ':') {
			t0 = end + 1;
			end = strptime(t0, "%S", &tm);
			if (!end || end != t0 + 2)
				return -EINVAL;
		}
	}
	utc = *end == 'Z';
	if (*(end + utc) != '\0')
		return -EINVAL;
	tm.tm_isdst = -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1 || t < 0)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}
