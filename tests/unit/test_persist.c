/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for flow tables that outlive the process (engine/nat/
 * persist.c, flow.c nat_table_rebuild): a worker builds flows on a
 * segment, goes away, and a new worker adopts the segment
 *   - clean (synced, as after a handover): the tables as they are;
 *   - dirty (as after kill -9): indices rebuilt from the entries;
 *   - with torn entries: every entry is adopted whole, exactly as it was
 *     written, or discarded and counted; nothing adopted is half-written;
 *   - of another layout or shape: refused, never read.
 * After adoption every flow translates both ways on its old outside port.
 *
 * Leases: "a" (10.0.0.0/24, shared ports, 10000-10999) and "x"
 * (10.0.1.0/24, endpoint-independent mapping, address-dependent
 * filtering: a binding and a permission per client endpoint, 11100-11999).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "nat/flow_lookup.h"
#include "pkt_build.h"

#define MAX_FLOWS 1024
#define N_SHARED 120 /* UDP and TCP flows of lease a */
#define N_EXCL 40    /* UDP flows of lease x, 2 remotes per endpoint */

static struct sh_config cfg;
static struct nat_lease_set ls;
static void *seg;
static uint8_t frame[PB_MAX_FRAME];
/* The outside port each flow got, by flow number. */
static uint16_t port_of[N_SHARED + N_EXCL];

static struct nat_params params(void)
{
	struct nat_params p = pb_params(&cfg, 0, 1, MAX_FLOWS);

	p.seg = seg;
	return p;
}

static struct pb_spec flow_spec(unsigned i)
{
	struct pb_spec s = { .ttl = 64 };

	if (i < N_SHARED) {
		s.proto = i % 2 ? PB_TCP : PB_UDP;
		s.tcp_flags = PB_SYN;
		s.src = PB_IP(10, 0, 0, 2 + i % 50);
		s.sport = (uint16_t)(20000 + i);
		s.dst = PB_REMOTE;
		s.dport = 80;
	} else {
		unsigned j = i - N_SHARED;

		s.proto = PB_UDP;
		s.src = PB_IP(10, 0, 1, 2 + j / 2);
		s.sport = 5000;
		s.dst = PB_REMOTE + j % 2;
		s.dport = 53;
	}
	return s;
}

/* Send flow @i's client packet: its outside port (host order), or 0. */
static uint16_t send_out(struct nat_worker *w, unsigned i)
{
	struct pb_spec s = flow_spec(i);
	size_t len = pb_build(frame, &s);

	if (pb_in2out(w, &ls, frame, len) != SH_OK)
		return 0;
	return pb_get16(frame + PB_ETH_LEN + 20);
}

/* The remote's answer to flow @i on outside port @port: the verdict. */
static unsigned send_in(struct nat_worker *w, unsigned i, uint16_t port)
{
	struct pb_spec c = flow_spec(i), s = {
		.ttl = 64, .proto = c.proto, .src = c.dst, .dst = PB_SLICE,
		.sport = c.dport, .dport = port,
		.tcp_flags = PB_SYN | PB_ACK,
	};

	return pb_out2in(w, &ls, frame, pb_build(frame, &s));
}

static int setup(void **state)
{
	struct nat_params p;
	struct nat_worker *w;
	unsigned i;

	(void)state;
	pb_cfg_base(&cfg);
	cfg.nat.port_hold_down = 0;
	pb_cfg_lease(&cfg, "a", SH_LEASE_NAT, 10000, 10999, PB_IP(10, 0, 0, 0), 24);
	cfg.leases[0].mapping = SH_MAPPING_APDM;
	cfg.leases[0].filtering = SH_FILTERING_APDF;
	pb_cfg_lease(&cfg, "x", SH_LEASE_NAT, 11100, 11999, PB_IP(10, 0, 1, 0), 24);
	cfg.leases[1].mapping = SH_MAPPING_EIM;
	cfg.leases[1].filtering = SH_FILTERING_ADF;
	assert_int_equal(nat_lease_set_from_config(&ls, &cfg), 0);
	seg = aligned_alloc(64, nat_seg_bytes(MAX_FLOWS));
	assert_non_null(seg);
	p = params();
	w = nat_worker_create(&p);
	assert_non_null(w);
	w->now = 1000;
	for (i = 0; i < N_SHARED + N_EXCL; i++) {
		port_of[i] = send_out(w, i);
		assert_int_not_equal(port_of[i], 0);
	}
	/* Both remotes of an endpoint of x see the one binding's port. */
	assert_int_equal(port_of[N_SHARED], port_of[N_SHARED + 1]);
	assert_int_equal(nat_flow_count(w), N_SHARED + N_EXCL);
	*(struct nat_worker **)state = w;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(seg);
	seg = NULL;
	return 0;
}

/* A new worker on the segment, at the old clock. */
static struct nat_worker *adopt(struct nat_adopt_stats *st)
{
	struct nat_params p = params();
	struct nat_worker *w;

	/* Another secret than the table's: adoption must keep the old. */
	p.secret[0] ^= 1;
	w = nat_worker_adopt(&p, st);
	assert_non_null(w);
	w->now = 2000;
	return w;
}

/* Every flow @live says is live answers on its old port both ways, the
 * others do not; a new flow still gets a port. */
static void check_flows(struct nat_worker *w, const bool *live)
{
	unsigned i, n = 0;

	for (i = 0; i < N_SHARED + N_EXCL; i++) {
		if (!live[i])
			continue;
		n++;
		assert_int_equal(send_in(w, i, port_of[i]), SH_OK);
		assert_int_equal(send_out(w, i), port_of[i]);
	}
	assert_int_equal(nat_flow_count(w), n);
	{
		struct pb_spec s = flow_spec(0);

		s.sport = 40000;
		assert_int_not_equal(pb_in2out(w, &ls, frame, pb_build(frame, &s)),
				     SH_DROP_TABLE_FULL);
	}
}

static void all_live(bool *live)
{
	for (unsigned i = 0; i < N_SHARED + N_EXCL; i++)
		live[i] = true;
}

/* The fixture's worker goes away, synced (@clean: a handover) or not (a
 * crash: the indices are not trusted, even though they are fine); a new
 * one adopts every entry and every flow answers on its old port. */
static void adopt_all(struct nat_worker *w, bool clean)
{
	struct nat_adopt_stats st;
	bool live[N_SHARED + N_EXCL];

	if (clean)
		nat_worker_sync(w);
	nat_worker_destroy(w);
	w = adopt(&st);
	assert_int_equal(st.rebuilt, !clean);
	assert_int_equal(st.flows, N_SHARED + N_EXCL);
	/* x: a binding per endpoint and a permission per remote. */
	assert_int_equal(st.pseudo, N_EXCL / 2 + N_EXCL);
	assert_int_equal(st.torn + st.duplicate + st.unbound + st.no_slot, 0);
	all_live(live);
	check_flows(w, live);
	nat_worker_destroy(w);
}

static void adopt_clean(void **state)
{
	adopt_all(*(struct nat_worker **)state, true);
}

static void adopt_after_crash(void **state)
{
	adopt_all(*(struct nat_worker **)state, false);
}

/* The entry of flow @i (by its inside key), or -1. */
static int64_t entry_of(struct nat_worker *w, unsigned i)
{
	struct pb_spec s = flow_spec(i);
	struct nat_key k;

	nat_key_set(&k, htonl(s.src), htons(s.sport), htonl(s.dst),
		    htons(s.dport), s.proto);
	return nat_find(w, &k, false);
}

static void adopt_torn(void **state)
{
	struct nat_worker *w = *(struct nat_worker **)state;
	struct nat_flow before[MAX_FLOWS], *f = w->t.flows;
	struct nat_adopt_stats st;
	bool live[N_SHARED + N_EXCL];
	int64_t a = entry_of(w, 3), b = entry_of(w, 4), c = entry_of(w, 5);
	int64_t bound = entry_of(w, N_SHARED + 2), binding;
	uint32_t i, free_idx = MAX_FLOWS - 1;
	struct nat_key k;

	assert_true(a >= 0 && b >= 0 && c >= 0 && bound >= 0);
	nat_pseudo_key(&k, f[bound].out_ip, f[bound].out_port, 0,
		       f[bound].proto);
	binding = nat_find(w, &k, true);
	assert_true(binding >= 0);
	all_live(live);
	/* a: its creation stopped before proto was published. */
	f[a].proto = 0;
	live[3] = false;
	/* b: its protocol torn to something no flow has. */
	f[b].proto = 0x42;
	live[4] = false;
	/* c: flags of a pseudo-entry on a real flow. */
	f[c].flags |= NAT_FLOW_PERMIT;
	live[5] = false;
	/* The binding of endpoint N_SHARED + 2 lost: both of its flows go. */
	memset(&f[binding], 0, sizeof(f[binding]));
	live[N_SHARED + 2] = live[N_SHARED + 3] = false;
	/* A copy of flow 6 in a free entry: one of the two is a duplicate. */
	assert_int_equal(f[free_idx].proto, 0);
	f[free_idx] = f[entry_of(w, 6)];
	/* Users of bindings and every index: garbage. */
	for (i = 0; i < MAX_FLOWS; i++)
		if (f[i].flags & NAT_FLOW_BIND)
			f[i].pkts = 77;
	memset(w->t.in_slots, 0x5a, (w->t.mask + 1) * sizeof(struct nat_slot));
	memset(w->t.clients, 0xa5, (w->t.mask + 1) * sizeof(*w->t.clients));
	w->t.free_stack[0] = 3;
	memcpy(before, f, sizeof(before));
	nat_worker_destroy(w);

	w = adopt(&st);
	assert_true(st.rebuilt);
	assert_int_equal(st.torn, 2);      /* b and c */
	assert_int_equal(st.duplicate, 1); /* flow 6's copy */
	assert_int_equal(st.unbound, 2);   /* the binding's two flows */
	/* Whole or nothing: every entry as it was, or free. */
	for (i = 0; i < MAX_FLOWS; i++) {
		struct nat_flow zero = { 0 };

		if (memcmp(&w->t.flows[i], &zero, sizeof(zero)) == 0)
			continue;
		if (w->t.flows[i].flags & (NAT_FLOW_BIND | NAT_FLOW_PERMIT))
			before[i].pkts = w->t.flows[i].pkts; /* recounted */
		assert_memory_equal(&w->t.flows[i], &before[i], sizeof(before[i]));
	}
	/* Bindings count their flows again: one per remote of x. */
	for (i = 0; i < MAX_FLOWS; i++)
		if (w->t.flows[i].flags & NAT_FLOW_BIND)
			assert_int_equal(w->t.flows[i].pkts, 2);
	check_flows(w, live);
	/* The lost endpoint starts again with a new binding. */
	assert_int_not_equal(send_out(w, N_SHARED + 2), 0);
	nat_worker_destroy(w);
}

static void refuse_incompatible(void **state)
{
	struct nat_worker *w = *(struct nat_worker **)state;
	struct nat_seg_hdr *h = seg;
	struct nat_adopt_stats st;
	struct nat_params p = params();
	char why[200];

	nat_worker_sync(w);
	nat_worker_destroy(w);
	h->layout = NAT_LAYOUT + 1;
	assert_int_equal(nat_seg_check(seg, &p, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "layout"));
	assert_null(nat_worker_adopt(&p, &st));
	assert_int_equal(errno, EPROTO);
	h->layout = NAT_LAYOUT;
	p.n_workers = 2;
	assert_int_equal(nat_seg_check(seg, &p, why, sizeof(why)), -EINVAL);
	assert_null(nat_worker_adopt(&p, &st));
	assert_int_equal(errno, EINVAL);
	p = params();
	p.max_flows = MAX_FLOWS / 2;
	assert_int_equal(nat_seg_check(seg, &p, why, sizeof(why)), -EINVAL);
	p = params();
	h->magic = 0;
	assert_int_equal(nat_seg_check(seg, &p, why, sizeof(why)), -ENOENT);
	h->magic = NAT_SEG_MAGIC;
	/* Still whole afterwards: the refusals read only the header. */
	w = adopt(&st);
	assert_false(st.rebuilt);
	nat_worker_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(adopt_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(adopt_after_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(adopt_torn, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_incompatible, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
