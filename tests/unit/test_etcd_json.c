/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * etcd's v3 JSON gateway as shoal-ctld speaks it (ctl/ctld/etcd_json.c):
 * base64, the requests it builds, and replies as etcd 3.4's gateway
 * wrote them (captured from `etcd` of Debian 12: int64 fields are
 * strings, false and zero values are left out). Pure.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet.h"

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static void test_base64_rfc4648_vectors(void **state)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob",
					     "fooba", "foobar" };
	static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v",
					     "Zm9vYg==", "Zm9vYmE=",
					     "Zm9vYmFy" };
	char out[64];

	(void)state;
	for (int i = 0; i < 7; i++) {
		assert_int_equal(b64_encode(plain[i], strlen(plain[i]), out,
					    sizeof(out)),
				 (int)strlen(coded[i]));
		assert_string_equal(out, coded[i]);
		memset(out, 0, sizeof(out));
		assert_int_equal(b64_decode(coded[i], out, sizeof(out)),
				 (int)strlen(plain[i]));
		assert_string_equal(out, plain[i]);
	}
}

static void test_base64_refuses_what_is_not(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(b64_decode("Zm9", out, sizeof(out)), -EINVAL);
	assert_int_equal(b64_decode("Zm9*", out, sizeof(out)), -EINVAL);
	assert_int_equal(b64_decode("Zg==Zg==", out, sizeof(out)), -EINVAL);
	assert_int_equal(b64_decode("Z=9v", out, sizeof(out)), -EINVAL);
	/* bits the padding drops must be zero: "Zh==" would be a second
	 * spelling of "f" (fuzz_etcd found b64_decode taking it) */
	assert_int_equal(b64_decode("Zh==", out, sizeof(out)), -EINVAL);
	assert_int_equal(b64_decode("Zm9=", out, sizeof(out)), -EINVAL);
	assert_int_equal(b64_decode("Zm9vYmFy", out, 5), -ENOSPC);
	assert_int_equal(b64_encode("foobar", 6, out, 8), -ENOSPC);
}

static void test_int64_as_string_or_number(void **state)
{
	json_t *j = parse("{\"s\": \"4111120262440066309\", \"n\": 5, "
			  "\"bad\": \"12x\", \"neg\": \"-3\"}");
	int64_t v;

	(void)state;
	assert_int_equal(etcd_int64(json_object_get(j, "s"), &v), 0);
	assert_true(v == INT64_C(4111120262440066309));
	assert_int_equal(etcd_int64(json_object_get(j, "n"), &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(etcd_int64(NULL, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(etcd_int64(json_object_get(j, "bad"), &v), -EINVAL);
	assert_int_equal(etcd_int64(json_object_get(j, "neg"), &v), 0);
	assert_int_equal(v, -3);
	json_decref(j);
}

static void test_grant_and_keepalive_replies(void **state)
{
	json_t *g = parse("{\"header\":{\"cluster_id\":\"1511\",\"member_id\":"
			  "\"1366\",\"revision\":\"1\",\"raft_term\":\"2\"},"
			  "\"ID\":\"4111120262440066309\",\"TTL\":\"5\"}");
	json_t *k = parse("{\"result\":{\"header\":{\"revision\":\"1\"},"
			  "\"ID\":\"4111120262440066311\",\"TTL\":\"5\"}}");
	json_t *gone = parse("{\"result\":{\"header\":{\"revision\":\"1\"},"
			     "\"ID\":\"12345\"}}");
	json_t *err = parse("{\"error\":\"etcdserver: no leader\","
			    "\"code\":14}");
	int64_t id, ttl;

	(void)state;
	assert_int_equal(etcd_parse_grant(g, &id, &ttl), 0);
	assert_true(id == INT64_C(4111120262440066309));
	assert_int_equal(ttl, 5);
	assert_int_equal(etcd_parse_keepalive(k, &ttl), 0);
	assert_int_equal(ttl, 5);
	assert_int_equal(etcd_parse_keepalive(gone, &ttl), 0);
	assert_int_equal(ttl, 0); /* the lease is gone */
	assert_int_equal(etcd_parse_keepalive(err, &ttl), -EPROTO);
	assert_int_equal(etcd_parse_grant(err, &id, &ttl), -EPROTO);
	json_decref(g);
	json_decref(k);
	json_decref(gone);
	json_decref(err);
}

static void test_txn_replies(void **state)
{
	json_t *won = parse("{\"header\":{\"revision\":\"2\"},\"succeeded\":"
			    "true,\"responses\":[{\"response_put\":{"
			    "\"header\":{\"revision\":\"2\"}}}]}");
	json_t *lost = parse("{\"header\":{\"revision\":\"2\"}}");
	bool ok;

	(void)state;
	assert_int_equal(etcd_parse_txn(won, &ok), 0);
	assert_true(ok);
	assert_int_equal(etcd_parse_txn(lost, &ok), 0);
	assert_false(ok);
	json_decref(won);
	json_decref(lost);
}

struct seen {
	int n;
	char key[4][sizeof(((struct etcd_kv *)0)->key)];
	char value[4][sizeof(((struct etcd_kv *)0)->value)];
	int64_t lease[4];
};

static void on_kv(const struct etcd_kv *kv, void *arg)
{
	struct seen *s = arg;

	snprintf(s->key[s->n], sizeof(s->key[0]), "%s", kv->key);
	snprintf(s->value[s->n], sizeof(s->value[0]), "%s", kv->value);
	s->lease[s->n++] = kv->lease;
}

static void test_range_reply_decodes_keys_values_leases(void **state)
{
	/* /shoal/slices/x = {"a":1} under a lease; /shoal/hosts/b with an
	 * empty value and no lease; one key that is not base64 */
	json_t *r = parse("{\"header\":{\"revision\":\"2\"},\"kvs\":["
			  "{\"key\":\"L3Nob2FsL3NsaWNlcy94\",\"create_revision\":"
			  "\"2\",\"mod_revision\":\"2\",\"version\":\"1\","
			  "\"value\":\"eyJhIjoxfQ==\",\"lease\":"
			  "\"4111120262440066311\"},"
			  "{\"key\":\"L3Nob2FsL2hvc3RzL2I=\"},"
			  "{\"key\":\"***\",\"value\":\"eA==\"}],"
			  "\"count\":\"3\"}");
	json_t *empty = parse("{\"header\":{\"revision\":\"9\"}}");
	struct seen s = { 0 };
	unsigned skipped;

	(void)state;
	assert_int_equal(etcd_parse_range(r, on_kv, &s, &skipped), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(skipped, 1);
	assert_string_equal(s.key[0], "/shoal/slices/x");
	assert_string_equal(s.value[0], "{\"a\":1}");
	assert_true(s.lease[0] == INT64_C(4111120262440066311));
	assert_string_equal(s.key[1], "/shoal/hosts/b");
	assert_string_equal(s.value[1], "");
	assert_int_equal(s.lease[1], 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(etcd_parse_range(empty, on_kv, &s, &skipped), 0);
	assert_int_equal(s.n, 0);
	json_decref(r);
	json_decref(empty);
}

static void test_requests_as_the_gateway_reads_them(void **state)
{
	json_t *p = etcd_req_prefix("/shoal/");
	json_t *c = etcd_req_create("/k", "v", 7);
	json_t *d = etcd_req_delete_if_lease("/k", 7);
	json_t *cmp;

	(void)state;
	/* "/shoal/" and "/shoal0": every key under the prefix */
	assert_string_equal(json_string_value(json_object_get(p, "key")),
			    "L3Nob2FsLw==");
	assert_string_equal(json_string_value(json_object_get(p,
							"range_end")),
			    "L3Nob2FsMA==");
	cmp = json_array_get(json_object_get(c, "compare"), 0);
	assert_string_equal(json_string_value(json_object_get(cmp, "target")),
			    "CREATE");
	assert_string_equal(json_string_value(json_object_get(cmp,
						"create_revision")), "0");
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(json_array_get(json_object_get(c, "success"),
					       0), "request_put"), "lease")),
		"7");
	cmp = json_array_get(json_object_get(d, "compare"), 0);
	assert_string_equal(json_string_value(json_object_get(cmp, "target")),
			    "LEASE");
	assert_non_null(json_object_get(json_array_get(json_object_get(d,
						"success"), 0),
					"request_delete_range"));
	json_decref(p);
	json_decref(c);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_rfc4648_vectors),
		cmocka_unit_test(test_base64_refuses_what_is_not),
		cmocka_unit_test(test_int64_as_string_or_number),
		cmocka_unit_test(test_grant_and_keepalive_replies),
		cmocka_unit_test(test_txn_replies),
		cmocka_unit_test(test_range_reply_decodes_keys_values_leases),
		cmocka_unit_test(test_requests_as_the_gateway_reads_them),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
