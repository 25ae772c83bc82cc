/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which worker owns a packet, computed from the packet alone.
 *
 * Two owners (BRIEF §2, docs/DESIGN.md "Several workers"):
 *   - a client address belongs to one worker, so all of a client's state
 *     (flows, per-client cap) lives on one core: the inside owner;
 *   - the worker that creates a flow owns its outside 5-tuple, and it only
 *     ever creates tuples it owns: the outside owner.
 *
 * Each side of the engine has a struct nat_steer describing how its NIC
 * spreads packets over the queues (queue i is worker i's):
 *   rss   the device hashes with Toeplitz under a key and a redirection
 *         table the engine read back from it: inside over the IPv4 source
 *         only, outside over (source, destination, source port, destination
 *         port) for TCP/UDP. The owner is what the NIC computes, so return
 *         traffic reaches its owner in hardware (RSS-aware port choice).
 *   soft  no usable RSS (net_pcap, af_packet, TAP...): the inside owner is
 *         a multiplicative hash of the client address, the outside owner
 *         is the outside port (or ICMP echo id) modulo the worker count.
 * ICMP echo is always owned by its id modulo the worker count: NICs hash
 * ICMP over the addresses only, so no id choice can steer it.
 *
 * A steer is immutable once built and read by every worker; EAL-free.
 */
#ifndef SHOAL_NAT_STEER_H
#define SHOAL_NAT_STEER_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

#define NAT_RETA_MAX 2048
/* Toeplitz input: IPv4 source, destination, source port, destination
 * port, in network order (what NICs and rte_softrss hash). */
#define NAT_RSS_INPUT_OUT 12
#define NAT_RSS_INPUT_IN 4 /* the IPv4 source only */

struct nat_steer {
	unsigned n_workers;
	bool rss;
	uint32_t reta_mask;  /* redirection table size - 1 */
	uint16_t reta[NAT_RETA_MAX]; /* hash & reta_mask -> worker */
	/* Toeplitz is linear over the input bits: the hash is the XOR of one
	 * table entry per input byte, tbl[byte position][byte value]. */
	uint32_t tbl[NAT_RSS_INPUT_OUT][256];
};

/* A steer without RSS for @n_workers (>= 1). */
void nat_steer_soft(struct nat_steer *s, unsigned n_workers);

/*
 * A steer for a device hashing @input_len bytes (NAT_RSS_INPUT_IN or
 * _OUT) with Toeplitz under @key (@key_len >= input_len + 4 bytes) and a
 * redirection table of @reta_size (a power of two <= NAT_RETA_MAX)
 * entries naming queues < @n_workers. 0, or -EINVAL for anything else
 * (the caller then falls back to nat_steer_soft()).
 */
int nat_steer_rss(struct nat_steer *s, unsigned n_workers, unsigned input_len,
		  const uint8_t *key, unsigned key_len, const uint16_t *reta,
		  unsigned reta_size);

/* Toeplitz hash of @len bytes at @in (no more than the steer was built
 * for) under @s's key. */
static inline uint32_t nat_toeplitz(const struct nat_steer *s,
				    const uint8_t *in, unsigned len)
{
	uint32_t h = 0;
	unsigned i;

	for (i = 0; i < len; i++)
		h ^= s->tbl[i][in[i]];
	return h;
}

/* Owner of client @client (network order) on the inside. */
static inline unsigned nat_owner_client(const struct nat_steer *s,
					uint32_t client)
{
	if (s->rss)
		return s->reta[nat_toeplitz(s, (const uint8_t *)&client, 4) &
			       s->reta_mask];
	/* Fibonacci hashing of the host-order address, scaled to n. */
	return (unsigned)(((uint64_t)(nat_be32(client) * 2654435761u) *
			   s->n_workers) >> 32);
}

/*
 * RSS-aware port choice: the Toeplitz hash of the return tuple
 * @remote:@rport -> @slice:0 (network order). Toeplitz being linear, the
 * hash for destination port P is this base XOR P's two table entries, so
 * testing a candidate port costs two loads (nat_owner_port()).
 */
static inline uint32_t nat_steer_base(const struct nat_steer *s, uint32_t slice,
				      uint32_t remote, uint16_t rport)
{
	uint8_t in[NAT_RSS_INPUT_OUT] = { 0 };

	__builtin_memcpy(in, &remote, 4);
	__builtin_memcpy(in + 4, &slice, 4);
	__builtin_memcpy(in + 8, &rport, 2);
	return nat_toeplitz(s, in, NAT_RSS_INPUT_OUT);
}

/* Owner (rss steer) of the return tuple with base @base and destination
 * port @port (network order). */
static inline unsigned nat_owner_port(const struct nat_steer *s, uint32_t base,
				      uint16_t port)
{
	const uint8_t *p = (const uint8_t *)&port;

	return s->reta[(base ^ s->tbl[10][p[0]] ^ s->tbl[11][p[1]]) &
		       s->reta_mask];
}

/*
 * Owner of the outside 5-tuple (@slice:@port <-> @remote:@rport, @proto;
 * addresses and ports in network order), i.e. the worker the return
 * packet @remote:@rport -> @slice:@port must reach.
 */
static inline unsigned nat_owner_out(const struct nat_steer *s, uint32_t slice,
				     uint16_t port, uint32_t remote,
				     uint16_t rport, uint8_t proto)
{
	if (!s->rss || proto == NAT_PROTO_ICMP) /* ICMP: by echo id */
		return nat_be16(port) % s->n_workers;
	return nat_owner_port(s, nat_steer_base(s, slice, remote, rport), port);
}

#endif /* SHOAL_NAT_STEER_H */
