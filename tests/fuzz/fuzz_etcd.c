/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_etcd: the pure half of shoal-ctld's etcd client
 * (ctl/ctld/etcd_json.c): base64 and the v3 JSON gateway's replies and
 * requests, on what a gateway (or anything answering in its place) may
 * send.
 *
 * Input: JSON text (json_loadb, any value at the top). Every reply parser
 * reads the value; when it is an array, each element as well (several
 * replies per input). Every string in the value, up to 64 of them, is
 * base64-decoded, and its bytes encoded, and used as a key, value and
 * prefix of the request builders.
 *
 * Invariants (abort() on violation; ASan and UBSan on everything):
 *   grant      0 only with a header object, an ID != 0 and a TTL > 0,
 *              equal to what the reference reads from "ID" and "TTL";
 *   keepalive  0 only with result.header an object, TTL >= 0;
 *   txn        0 only with a header object; succeeded is true exactly
 *              when "succeeded" is true;
 *   range      0 only with a header object and kvs absent or an array;
 *              then callbacks + skipped == the array's length; each kv's
 *              key is non-empty and both key and value are
 *              NUL-terminated within their buffers, hold no other NUL,
 *              and are what the reference decoder makes of the kv's
 *              base64 (in the array's order); lease and create_rev are
 *              the reference's int64s;
 *   int64      where the reference reads a gateway int64 (an integer, or
 *              a string of digits with an optional '-' that fits),
 *              etcd_int64() reads the same;
 *   base64     b64_decode() accepts exactly what the reference decoder
 *              (RFC 4648 with padding, canonical: the bits padding drops
 *              are zero) accepts and yields the same bytes; -ENOSPC only
 *              when they do not fit; b64_encode(b64_decode(s)) == s;
 *              b64_decode(b64_encode(b)) == b for any bytes; encode is
 *              -ENOSPC exactly when the output does not fit;
 *   requests   every builder answers a JSON object for a key that fits
 *              (NULL only when it does not), whose "key" decodes back to
 *              the key; a prefix's range_end is the prefix with its last
 *              byte plus one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                              \
	do {                                                                   \
		fprintf(stderr, "INVARIANT VIOLATED: " __VA_ARGS__);           \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

#define MAX_STRINGS 64
#define B64_MAX 4096

/* ---- references ---------------------------------------------------------- */

static int ref_b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict RFC 4648 base64 of @s (@n chars): groups of four, '=' only in
 * the last group's last one or two places, padding bits zero. The byte
 * count into @out (room for n / 4 * 3), or -1. */
static int ref_b64_decode(const char *s, size_t n, unsigned char *out)
{
	size_t k = 0;

	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		unsigned pad = (s[i + 3] == '=') + (s[i + 2] == '=');
		uint32_t v = 0;

		if (pad && i + 4 != n)
			return -1;
		if (pad == 1 && s[i + 2] == '=')
			return -1; /* "xx=y" */
		for (unsigned j = 0; j < 4 - pad; j++) {
			int d = ref_b64_val((unsigned char)s[i + j]);

			if (d < 0)
				return -1;
			v |= (uint32_t)d << (18 - 6 * j);
		}
		if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
			return -1; /* bits the padding drops */
		out[k++] = (unsigned char)(v >> 16);
		if (pad < 2)
			out[k++] = (unsigned char)(v >> 8);
		if (pad < 1)
			out[k++] = (unsigned char)v;
	}
	return (int)k;
}

/* A gateway int64: an integer, or [-]digits within range; absent is 0.
 * False for anything else (etcd_int64 may be laxer there). */
static bool ref_int64(json_t *v, int64_t *out)
{
	const char *s;
	bool neg;
	uint64_t m = 0, lim;

	if (!v) {
		*out = 0;
		return true;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	s = json_string_value(v);
	if (!s)
		return false;
	neg = *s == '-';
	s += neg;
	if (!*s || strlen(s) > 19)
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || m > (lim - (uint64_t)(*s - '0')) / 10)
			return false;
		m = m * 10 + (uint64_t)(*s - '0');
	}
	*out = neg ? (int64_t)(0 - m) : (int64_t)m;
	return true;
}

static void check_int64(json_t *v, const char *what)
{
	int64_t want, got = 0;

	if (ref_int64(v, &want) && (etcd_int64(v, &got) || got != want))
		FAIL("int64 %s: read %lld, expected %lld", what,
		     (long long)got, (long long)want);
}

/* ---- base64 -------------------------------------------------------------- */

static void check_b64_string(const char *s)
{
	static unsigned char want[B64_MAX], got[B64_MAX];
	static char back[B64_MAX * 2];
	size_t n = strlen(s);
	int w, g, room;

	if (n > B64_MAX)
		return;
	w = ref_b64_decode(s, n, want);
	g = b64_decode(s, got, sizeof(got));
	if ((w < 0) != (g < 0) || (g >= 0 && (g != w || memcmp(got, want,
							     (size_t)w))))
		FAIL("b64_decode(\"%.40s\") = %d, reference %d", s, g, w);
	if (g < 0) {
		if (g != -EINVAL)
			FAIL("b64_decode refused \"%.40s\" with %d", s, g);
		return;
	}
	if (b64_encode(got, (size_t)g, back, sizeof(back)) != (int)n ||
	    strcmp(back, s))
		FAIL("b64_encode(b64_decode(\"%.40s\")) = \"%.40s\"", s, back);
	/* one byte short of the output: -ENOSPC, not a short answer */
	room = g ? g - 1 : 0;
	if (g && b64_decode(s, got, (size_t)room) != -ENOSPC)
		FAIL("b64_decode into %d bytes of %d did not refuse", room, g);
}

/* Encode @n bytes of @b and decode them again; the output's room is
 * exactly enough, then one less. */
static void check_b64_bytes(const unsigned char *b, size_t n)
{
	static char enc[B64_MAX * 2 + 8];
	static unsigned char dec[B64_MAX];
	size_t need = (n + 2) / 3 * 4;
	int e, d;

	if (n > B64_MAX)
		return;
	e = b64_encode(b, n, enc, need + 1);
	if (e != (int)need || strlen(enc) != need)
		FAIL("b64_encode of %zu bytes = %d, expected %zu", n, e, need);
	d = b64_decode(enc, dec, n);
	if (d != (int)n || memcmp(dec, b, n))
		FAIL("b64_decode(b64_encode(%zu bytes)) = %d", n, d);
	if (b64_encode(b, n, enc, need) != -ENOSPC)
		FAIL("b64_encode into %zu bytes did not refuse", need);
}

/* ---- replies ------------------------------------------------------------- */

/* The kv the parser should make of element @o: false if its key or
 * value should make it skip the element; *@ints whether the reference
 * reads its lease and create_revision too. */
static bool ref_kv(json_t *o, struct etcd_kv *kv, bool *ints)
{
	static unsigned char buf[sizeof(kv->value) * 2];
	const struct {
		const char *name;
		char *out;
		size_t len;
	} f[2] = { { "key", kv->key, sizeof(kv->key) },
		   { "value", kv->value, sizeof(kv->value) } };

	*ints = ref_int64(json_object_get(o, "lease"), &kv->lease) &&
		ref_int64(json_object_get(o, "create_revision"),
			  &kv->create_rev);
	for (int i = 0; i < 2; i++) {
		json_t *v = json_object_get(o, f[i].name);
		const char *s = json_string_value(v);
		int n;

		if (!v) { /* proto3 leaves an empty one out */
			f[i].out[0] = '\0';
			continue;
		}
		if (!s || strlen(s) > sizeof(buf) / 4 * 3)
			return false;
		n = ref_b64_decode(s, strlen(s), buf);
		if (n < 0 || (size_t)n >= f[i].len || memchr(buf, 0, (size_t)n))
			return false;
		memcpy(f[i].out, buf, (size_t)n);
		f[i].out[n] = '\0';
	}
	return kv->key[0] != '\0';
}

struct range_ctx {
	unsigned calls;
	struct etcd_kv last;
};

static void on_kv(const struct etcd_kv *kv, void *arg)
{
	struct range_ctx *c = arg;

	if (!memchr(kv->key, '\0', sizeof(kv->key)) ||
	    !memchr(kv->value, '\0', sizeof(kv->value)) || !kv->key[0])
		FAIL("range: a kv not terminated in its buffer, or no key");
	c->calls++;
	c->last = *kv;
}

/* Element @o alone in a range reply: taken as the reference says (an
 * int64 only etcd_int64() reads may be taken too), with the same key,
 * value and numbers. */
static void check_kv_alone(json_t *o)
{
	json_t *r = json_pack("{s{} s[O]}", "header", "kvs", o);
	struct range_ctx c = { 0 };
	struct etcd_kv want;
	unsigned skipped;
	bool strs, ints;

	if (!r)
		FAIL("harness: out of memory");
	if (etcd_parse_range(r, on_kv, &c, &skipped) || c.calls + skipped != 1)
		FAIL("range: one kv gave %u calls, %u skipped", c.calls,
		     skipped);
	strs = json_is_object(o) && ref_kv(o, &want, &ints);
	if (c.calls != (strs && ints) && !(c.calls && strs && !ints))
		FAIL("range: kv %s, the reference %s it", c.calls ? "taken"
			     : "skipped", strs && ints ? "takes" : "skips");
	if (c.calls && (strcmp(want.key, c.last.key) ||
			strcmp(want.value, c.last.value) ||
			(ints && (want.lease != c.last.lease ||
				  want.create_rev != c.last.create_rev))))
		FAIL("range: kv \"%.40s\", the reference \"%.40s\"",
		     c.last.key, want.key);
	json_decref(r);
}

static void check_replies(json_t *r)
{
	json_t *hdr = json_object_get(r, "header");
	json_t *res = json_object_get(r, "result");
	json_t *kvs = json_object_get(r, "kvs");
	int64_t id = 0, ttl = 0, w;
	struct range_ctx c = { 0 };
	unsigned skipped = 0;
	bool ok = false;
	size_t i;
	json_t *o;

	if (!etcd_parse_grant(r, &id, &ttl) &&
	    (!json_is_object(hdr) || id == 0 || ttl <= 0 ||
	     (ref_int64(json_object_get(r, "ID"), &w) && w != id) ||
	     (ref_int64(json_object_get(r, "TTL"), &w) && w != ttl)))
		FAIL("grant: id %lld ttl %lld accepted", (long long)id,
		     (long long)ttl);
	if (!etcd_parse_keepalive(r, &ttl) &&
	    (!json_is_object(json_object_get(res, "header")) || ttl < 0 ||
	     (ref_int64(json_object_get(res, "TTL"), &w) && w != ttl)))
		FAIL("keepalive: ttl %lld accepted", (long long)ttl);
	if (!etcd_parse_txn(r, &ok) &&
	    (!json_is_object(hdr) ||
	     ok != json_is_true(json_object_get(r, "succeeded"))))
		FAIL("txn: succeeded %d accepted", ok);
	if (!etcd_parse_range(r, on_kv, &c, &skipped)) {
		if (!json_is_object(hdr) || (kvs && !json_is_array(kvs)))
			FAIL("range: a reply without header or kvs accepted");
		if (c.calls + skipped != json_array_size(kvs))
			FAIL("range: %u kvs + %u skipped of %zu", c.calls,
			     skipped, json_array_size(kvs));
		json_array_foreach(kvs, i, o)
			check_kv_alone(o);
	}
	check_int64(json_object_get(r, "ID"), "ID");
	check_int64(json_object_get(r, "TTL"), "TTL");
}

/* ---- requests ------------------------------------------------------------ */

/* Does member @name of @o (a base64 string) decode to @s? */
static bool b64_is(json_t *o, const char *name, const char *s)
{
	static unsigned char buf[B64_MAX * 2];
	const char *v = json_string_value(json_object_get(o, name));
	int n;

	if (!v || strlen(v) > sizeof(buf) / 4 * 3)
		return false;
	n = ref_b64_decode(v, strlen(v), buf);
	return n == (int)strlen(s) && !memcmp(buf, s, (size_t)n);
}

static void check_requests(const char *s)
{
	size_t n = strlen(s);
	/* what b64_json() (etcd_json.c) has room for */
	bool fits = (n + 2) / 3 * 4 + 1 <= 2 * SH_CFG_STR_LEN + 2048;
	json_t *r, *op;

	r = etcd_req_create(s, s, 42);
	if (fits != (r != NULL))
		FAIL("create: %s for a key of %zu bytes", r ? "built" : "NULL",
		     n);
	op = json_object_get(json_array_get(json_object_get(r, "success"), 0),
			     "request_put");
	if (r && (!b64_is(json_array_get(json_object_get(r, "compare"), 0),
			  "key", s) ||
		  !b64_is(op, "key", s) || !b64_is(op, "value", s)))
		FAIL("create: the key does not decode back");
	json_decref(r);
	r = etcd_req_put_if_lease(s, "v", 7);
	if (fits != (r != NULL))
		FAIL("put_if_lease: %s", r ? "built" : "NULL");
	json_decref(r);
	r = etcd_req_delete_if_lease(s, 7);
	if (fits != (r != NULL))
		FAIL("delete_if_lease: %s", r ? "built" : "NULL");
	json_decref(r);
	r = etcd_req_prefix(s);
	if (r) {
		static char end[B64_MAX * 2];

		if (!n || n >= sizeof(end) || !b64_is(r, "key", s))
			FAIL("prefix: built for \"%.40s\"", s);
		memcpy(end, s, n + 1);
		end[n - 1]++;
		if (!b64_is(r, "range_end", end))
			FAIL("prefix: range_end of \"%.40s\"", s);
	} else if (n && n < SH_CFG_STR_LEN + 64 &&
		   (unsigned char)s[n - 1] != 0xff) {
		FAIL("prefix: NULL for \"%.40s\"", s);
	}
	json_decref(r);
}

/* ---- the driver ---------------------------------------------------------- */

/* Every string in @v (members' names too), at most *@left of them. */
static void strings(json_t *v, unsigned *left)
{
	const char *k;
	json_t *e;
	size_t i;

	if (!*left)
		return;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		(*left)--;
		check_b64_string(s);
		check_b64_bytes((const unsigned char *)s, json_string_length(v));
		check_requests(s);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			strings(e, left);
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, e) {
			if (*left) {
				(*left)--;
				check_b64_string(k);
			}
			strings(e, left);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *r = json_loadb((const char *)data, size,
			       JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	unsigned left = MAX_STRINGS;
	size_t i;
	json_t *e;

	check_b64_bytes(data, size);
	if (!r)
		return 0;
	check_replies(r);
	json_array_foreach(r, i, e)
		check_replies(e);
	strings(r, &left);
	json_decref(r);
	return 0;
}
