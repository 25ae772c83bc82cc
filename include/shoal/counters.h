/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal counters: the one list of every per-worker counter.
 *
 * Dependency-free on purpose: the engine, the control daemon and the CLI
 * all print counters by these names, so the list lives in one header and
 * the enum, the name table and the counter array are generated from it.
 *
 * Drop reasons come first (SH_DROP_*): each names one way a packet may be
 * refused, and every refusal in the engine increments exactly one of them.
 * Event counters (SH_CNT_*) count work done, not packets lost.
 *
 * The numeric values are not part of any interface; names are.
 */
#ifndef SHOAL_COUNTERS_H
#define SHOAL_COUNTERS_H

/* _(ENUM_SUFFIX, "name", "what it means") */
#define SHOAL_FOREACH_DROP(_)                                                  \
	_(L2_MALFORMED, "l2_malformed",                                        \
	  "frame shorter than its Ethernet/802.1Q header")                     \
	_(NOT_IPV4, "not_ipv4",                                                \
	  "non-IPv4 frame (ARP, IPv6, ...) with no exception path to Linux")   \
	_(IP_MALFORMED, "ip_malformed",                                        \
	  "bad IPv4 version, header length or total length")                   \
	_(IP_BAD_CHECKSUM, "ip_bad_checksum", "IPv4 header checksum wrong")    \
	_(IP_FRAGMENT, "ip_fragment",                                          \
	  "IPv4 fragment (no reassembly; the L4 ports are not all there)")     \
	_(L4_MALFORMED, "l4_malformed",                                        \
	  "truncated or inconsistent TCP/UDP/ICMP header")                     \
	_(L4_BAD_CHECKSUM, "l4_bad_checksum", "TCP/UDP/ICMP checksum wrong")   \
	_(PROTO_UNSUPPORTED, "proto_unsupported",                              \
	  "IP protocol other than TCP, UDP or ICMP")                           \
	_(ICMP_UNSUPPORTED, "icmp_unsupported",                                \
	  "ICMP type that is neither echo nor a translatable error")           \
	_(ICMP_INNER_MALFORMED, "icmp_inner_malformed",                        \
	  "ICMP error whose embedded header is invalid or too short")          \
	_(TTL_EXPIRED, "ttl_expired", "TTL would reach zero when forwarded")   \
	_(NO_LEASE, "no_lease", "client matches no active nat lease")          \
	_(PORTS_EXHAUSTED, "ports_exhausted",                                  \
	  "no free outside port within the search budget")                     \
	_(CLIENT_PORT_CAP, "client_port_cap",                                  \
	  "client already holds max_ports_per_client flows")                   \
	_(TABLE_FULL, "table_full", "flow table at max_flows")                 \
	_(TCP_NOT_SYN, "tcp_not_syn",                                          \
	  "TCP segment without SYN for a client flow that does not exist")     \
	_(UNSOLICITED, "unsolicited",                                          \
	  "outside packet to a nat lease port with no matching flow")          \
	_(NOT_LEASED, "not_leased",                                            \
	  "outside packet to a slice port that no lease holds")                \
	_(NO_EXCEPTION_PATH, "no_exception_path",                              \
	  "packet for Linux while the port has no kernel exception path")      \
	_(NO_ROUTE, "no_route",                                                \
	  "no kernel route towards the destination on the output side")        \
	_(NO_NEIGHBOUR, "no_neighbour",                                        \
	  "next hop not resolved yet (the kernel was asked to resolve it)")    \
	_(PUNT_POLICED, "punt_policed",                                        \
	  "packet for Linux over the port's punt_rate")                        \
	_(KERNEL_PORT_VIOLATION, "kernel_port_violation",                      \
	  "kernel packet from a slice address outside every socket lease")     \
	_(TX_FULL, "tx_full", "transmit queue full")                          \
	_(HANDOFF_FULL, "handoff_full",                                        \
	  "handoff ring to the packet's owning worker full")

#define SHOAL_FOREACH_EVENT(_)                                                 \
	_(RX_INSIDE, "rx_inside", "packets received on the inside port")       \
	_(RX_OUTSIDE, "rx_outside", "packets received on the outside port")    \
	_(TX_INSIDE, "tx_inside", "packets sent on the inside port")           \
	_(TX_OUTSIDE, "tx_outside", "packets sent on the outside port")        \
	_(RX_CSUM_PARTIAL, "rx_csum_partial",                                  \
	  "TCP/UDP packets the NIC marked checksum-partial, finished here")    \
	_(IN2OUT, "in2out", "packets translated inside to outside")            \
	_(OUT2IN, "out2in", "packets translated outside to inside")            \
	_(ICMP_ERR_IN2OUT, "icmp_error_in2out",                                \
	  "ICMP errors translated through their embedded header, in2out")      \
	_(ICMP_ERR_OUT2IN, "icmp_error_out2in",                                \
	  "ICMP errors translated through their embedded header, out2in")      \
	_(FLOW_CREATED, "flows_created", "flows set up")                       \
	_(FLOW_EXPIRED, "flows_expired", "flows removed by timeout")           \
	_(TO_KERNEL, "to_kernel", "packets handed to Linux (kernel mirror)")   \
	_(FROM_KERNEL, "from_kernel", "kernel packets sent on a data port")    \
	_(ICMP_TIME_EXCEEDED, "icmp_time_exceeded",                            \
	  "ICMP time exceeded sent for packets whose TTL ran out")              \
	_(HANDOFF_TX, "handoff_tx",                                            \
	  "packets handed to the worker that owns them")                       \
	_(HANDOFF_RX, "handoff_rx",                                            \
	  "packets received from another worker to handle as their owner")

enum sh_counter {
	SH_OK = 0, /* not a counter: "no drop" */
#define SH_X_ENUM(e, n, d) SH_DROP_##e,
	SHOAL_FOREACH_DROP(SH_X_ENUM)
	SH_DROP_MAX_,
#define SH_X_EVENT(e, n, d) SH_CNT_##e,
	SHOAL_FOREACH_EVENT(SH_X_EVENT)
#undef SH_X_EVENT
#undef SH_X_ENUM
	SH_COUNTER_MAX
};

#define SH_DROP_FIRST (SH_OK + 1)
#define SH_EVENT_FIRST (SH_DROP_MAX_ + 1)

/* Name of counter @c ("" for the two sentinels). */
static inline const char *sh_counter_name(unsigned c)
{
	static const char *const names[SH_COUNTER_MAX] = {
#define SH_X_NAME(e, n, d) [SH_DROP_##e] = n,
		SHOAL_FOREACH_DROP(SH_X_NAME)
#undef SH_X_NAME
#define SH_X_NAME(e, n, d) [SH_CNT_##e] = n,
		SHOAL_FOREACH_EVENT(SH_X_NAME)
#undef SH_X_NAME
	};
	return c < SH_COUNTER_MAX && names[c] ? names[c] : "";
}

static inline int sh_counter_is_drop(unsigned c)
{
	return c >= SH_DROP_FIRST && c < SH_DROP_MAX_;
}

#endif /* SHOAL_COUNTERS_H */
