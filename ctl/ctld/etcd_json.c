/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * etcd's v3 JSON gateway, the pure half: requests built and replies read
 * as the gateway spells them (proto3 JSON: keys and values base64, int64
 * fields as strings, zero values and false left out). No I/O: etcd.c
 * sends them, the unit tests feed replies captured from etcd 3.4.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_encode(const void *in, size_t n, char *out, size_t len)
{
	const unsigned char *p = in;
	size_t need = (n + 2) / 3 * 4, k = 0;

	if (need + 1 > len)
		return -ENOSPC;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[k++] = b64_chars[v >> 18 & 63];
		out[k++] = b64_chars[v >> 12 & 63];
		out[k++] = i + 1 < n ? b64_chars[v >> 6 & 63] : '=';
		out[k++] = i + 2 < n ? b64_chars[v & 63] : '=';
	}
	out[k] = '\0';
	return (int)k;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64_chars, c) : NULL;

	return p ? (int)(p - b64_chars) : -1;
}

int b64_decode(const char *in, void *out, size_t len)
{
	unsigned char *o = out;
	size_t n = strlen(in), k = 0;

	if (n % 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		int a = b64_val(in[i]), b = b64_val(in[i + 1]);
		int c = in[i + 2] == '=' ? 0 : b64_val(in[i + 2]);
		int d = in[i + 3] == '=' ? 0 : b64_val(in[i + 3]);
		unsigned bytes = in[i + 2] == '=' ? 1 : in[i + 3] == '=' ? 2 : 3;
		uint32_t v;

		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
		    (uint32_t)d;
		/* padding only at the end, "x=y=" is not base64, and the bits
		 * the padding drops are zero (RFC 4648 3.5: one spelling per
		 * byte string, so a key has one name) */
		if (a < 0 || b < 0 || c < 0 || d < 0 ||
		    (bytes < 3 && i + 4 != n) ||
		    (in[i + 2] == '=' && in[i + 3] != '=') ||
		    (v & (0xffffffu >> 8 * bytes)))
			return -EINVAL;
		if (k + bytes > len)
			return -ENOSPC;
		o[k++] = (unsigned char)(v >> 16);
		if (bytes > 1)
			o[k++] = (unsigned char)(v >> 8);
		if (bytes > 2)
			o[k++] = (unsigned char)v;
	}
	return (int)k;
}

int etcd_int64(json_t *v, int64_t *out)
{
	const char *s;
	char *end;

	if (!v) {
		*out = 0;
		return 0;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	s = json_string_value(v);
	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

/* A key or value as the gateway's base64 string, NULL if it does not
 * fit. */
static json_t *b64_json(const char *s)
{
	char buf[2 * SH_CFG_STR_LEN + 2048];

	if (b64_encode(s, strlen(s), buf, sizeof(buf)) < 0)
		return NULL;
	return json_string(buf);
}

/* An int64 field as the gateway prints them (a string: a JSON number
 * loses precision above 2^53 in many readers). */
static json_t *int64_json(int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return json_string(buf);
}

json_t *etcd_req_grant(int64_t ttl)
{
	return json_pack("{so}", "TTL", int64_json(ttl));
}

json_t *etcd_req_lease(int64_t lease)
{
	return json_pack("{so}", "ID", int64_json(lease));
}

/* Every key starting with @prefix: range_end is the prefix with its last
 * byte plus one (etcd's "prefix" convention; our prefixes end in '/'). */
json_t *etcd_req_prefix(const char *prefix)
{
	char end[SH_CFG_STR_LEN + 64];
	size_t n = strlen(prefix);

	if (!n || n >= sizeof(end) || (unsigned char)prefix[n - 1] == 0xff)
		return NULL;
	memcpy(end, prefix, n + 1);
	end[n - 1]++;
	return json_pack("{s o s o}", "key", b64_json(prefix), "range_end",
			 b64_json(end));
}

static json_t *put_op(const char *key, const char *value, int64_t lease)
{
	return json_pack("{s{so so so}}", "request_put", "key", b64_json(key),
			 "value", b64_json(value), "lease", int64_json(lease));
}

json_t *etcd_req_create(const char *key, const char *value, int64_t lease)
{
	return json_pack("{s[{so ss ss so}] s[o]}",
			 "compare", "key", b64_json(key), "target", "CREATE",
			 "result", "EQUAL", "create_revision", int64_json(0),
			 "success", put_op(key, value, lease));
}

static json_t *lease_compare(const char *key, int64_t lease)
{
	return json_pack("[{so ss ss so}]", "key", b64_json(key), "target",
			 "LEASE", "result", "EQUAL", "lease",
			 int64_json(lease));
}

json_t *etcd_req_put_if_lease(const char *key, const char *value,
			      int64_t lease)
{
	return json_pack("{so s[o]}", "compare", lease_compare(key, lease),
			 "success", put_op(key, value, lease));
}

json_t *etcd_req_delete_if_lease(const char *key, int64_t lease)
{
	return json_pack("{so s[{s{so}}]}", "compare",
			 lease_compare(key, lease), "success",
			 "request_delete_range", "key", b64_json(key));
}

/* Every reply of a call that worked carries a header. */
static bool has_header(json_t *r)
{
	return json_is_object(json_object_get(r, "header"));
}

int etcd_parse_grant(json_t *r, int64_t *id, int64_t *ttl)
{
	if (!has_header(r) || etcd_int64(json_object_get(r, "ID"), id) ||
	    etcd_int64(json_object_get(r, "TTL"), ttl) || *id == 0 ||
	    *ttl <= 0)
		return -EPROTO;
	return 0;
}

/* The gateway streams keepalive replies: one request body, one
 * {"result": {...}}; a lease that is gone answers without a TTL. */
int etcd_parse_keepalive(json_t *r, int64_t *ttl)
{
	json_t *res = json_object_get(r, "result");

	if (!has_header(res) || etcd_int64(json_object_get(res, "TTL"), ttl) ||
	    *ttl < 0)
		return -EPROTO;
	return 0;
}

int etcd_parse_txn(json_t *r, bool *succeeded)
{
	json_t *v = json_object_get(r, "succeeded");

	if (!has_header(r) || (v && !json_is_boolean(v)))
		return -EPROTO;
	*succeeded = json_is_true(v);
	return 0;
}

/* Base64 member @name of @o into @out as a C string. */
static bool b64_member(json_t *o, const char *name, char *out, size_t len)
{
	const char *s = json_string_value(json_object_get(o, name));
	int n;

	if (!s) { /* an empty value is left out */
		out[0] = '\0';
		return json_object_get(o, name) == NULL;
	}
	n = b64_decode(s, out, len - 1);
	if (n < 0 || memchr(out, '\0', (size_t)n))
		return false;
	out[n] = '\0';
	return true;
}

int etcd_parse_range(json_t *r, void (*fn)(const struct etcd_kv *kv,
					   void *arg),
		     void *arg, unsigned *skipped)
{
	struct etcd_kv kv;
	json_t *kvs = json_object_get(r, "kvs"), *o;
	size_t i;

	*skipped = 0;
	if (!has_header(r) || (kvs && !json_is_array(kvs)))
		return -EPROTO;
	json_array_foreach(kvs, i, o) {
		if (!b64_member(o, "key", kv.key, sizeof(kv.key)) ||
		    !kv.key[0] ||
		    !b64_member(o, "value", kv.value, sizeof(kv.value)) ||
		    etcd_int64(json_object_get(o, "lease"), &kv.lease) ||
		    etcd_int64(json_object_get(o, "create_revision"),
			       &kv.create_rev)) {
			(*skipped)++;
			continue;
		}
		fn(&kv, arg);
	}
	return 0;
}
