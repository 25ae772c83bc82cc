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
