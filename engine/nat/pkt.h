/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet access for the NAT core: protocol numbers, Ethernet, IPv4 and
 * L4 header offsets, and unaligned loads and stores of header fields.
 *
 * Fields are loaded and stored in network order as they sit in the frame
 * (ld16/ld32/st16/st32); only ld16_host(), nat_be16() and nat_be32() swap,
 * for values compared, hashed or printed as numbers. No dependency beyond libc.
 */
#ifndef SHOAL_NAT_PKT_H
#define SHOAL_NAT_PKT_H

#include <stdint.h>
#include <string.h>

#define NAT_PROTO_ICMP 1
#define NAT_PROTO_TCP 6
#define NAT_PROTO_UDP 17

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_VLAN 0x8100

/* IPv4 header offsets */
#define IP4_TOTLEN 2
#define IP4_FRAG 6
#define IP4_TTL 8
#define IP4_PROTO 9
#define IP4_CSUM 10
#define IP4_SRC 12
#define IP4_DST 16

/* L4 offsets */
#define L4_SPORT 0
#define L4_DPORT 2
#define TCP_FLAGS 13
#define TCP_CSUM 16
#define UDP_LEN 4
#define UDP_CSUM 6
#define NAT_ICMP_TYPE 0
#define NAT_ICMP_CODE 1
#define NAT_ICMP_CSUM 2
#define NAT_ICMP_ID 4

#define NAT_TCPF_FIN 0x01
#define NAT_TCPF_SYN 0x02
#define NAT_TCPF_RST 0x04
#define NAT_TCPF_ACK 0x10

#define NAT_ICMP_ECHO_REPLY 0
#define NAT_ICMP_DEST_UNREACH 3
#define NAT_ICMP_ECHO_REQUEST 8
#define NAT_ICMP_TIME_EXCEEDED 11
#define NAT_ICMP_PARAM_PROBLEM 12

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline void st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Network-order 16-bit field as a host number. */
static inline uint16_t ld16_host(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Host <-> network order for 16-bit values (htons and ntohs alike). */
static inline uint16_t nat_be16(uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16(v);
#else
	return v;
#endif
}

/* Host <-> network order for 32-bit values (htonl and ntohl alike). */
static inline uint32_t nat_be32(uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(v);
#else
	return v;
#endif
}

/*
 * Ethernet with at most one 802.1Q tag: the ethertype it carries, with the
 * header length in *@l2; 0 when the frame is too short for its header.
 */
static inline uint16_t eth_type(const uint8_t *frame, uint32_t len,
				uint32_t *l2)
{
	uint16_t type;

	if (len < ETH_HLEN)
		return 0;
	type = (uint16_t)(frame[12] << 8 | frame[13]);
	*l2 = ETH_HLEN;
	if (type == ETHERTYPE_VLAN) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return 0;
		type = (uint16_t)(frame[16] << 8 | frame[17]);
		*l2 += VLAN_HLEN;
	}
	return type;
}

#endif /* SHOAL_NAT_PKT_H */
