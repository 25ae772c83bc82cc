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
	  "fragment never translated: its datagram's first fragment was "      \
	  "dropped, or it is part of an ICMP error")                           \
	_(FRAG_TIMEOUT, "frag_timeout",                                        \
	  "fragment held for its datagram's first fragment, which never came") \
	_(FRAG_TABLE_FULL, "frag_table_full",                                  \
	  "no room in the worker's fragment table for a new datagram")         \
	_(FRAG_TOO_MANY, "frag_too_many",                                      \
	  "out-of-order fragment over the per-datagram or per-worker hold cap") \
	_(L4_MALFORMED, "l4_malformed",                                        \
	  "truncated or inconsistent TCP/UDP/ICMP header, or TCP/UDP port 0")  \
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
	  "outside packet to a nat lease port: no flow, not admitted by filter")\
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
	_(MTU_EXCEEDED, "mtu_exceeded",                                        \
	  "DF packet larger than the output port's mtu (answered with ICMP "   \
	  "fragmentation needed)")                                             \
	_(TX_FULL, "tx_full", "transmit queue full")                          \
	_(HANDOFF_FULL, "handoff_full",                                        \
	  "handoff ring to the packet's owning worker full")                   \
	_(UNKNOWN_OWNER, "unknown_owner",                                      \
	  "fleet: pool port no live host owns, or a flow whose slice this "    \
	  "host no longer owns")                                               \
	_(NOT_OWNER, "not_owner",                                              \
	  "fleet: a peer forwarded a packet for a port this host does not own")\
	_(PEER_UNKNOWN, "peer_unknown",                                        \
	  "fleet: tunnel packet from an address not in the fleet map")         \
	_(PEER_MALFORMED, "peer_malformed",                                    \
	  "fleet: tunnel packet whose headers or inner packet are invalid")    \
	_(FLEET_TOO_BIG, "fleet_too_big",                                      \
	  "fleet: packet too large for the outside mtu once encapsulated "     \
	  "(DF: answered with ICMP fragmentation needed)")

#define SHOAL_FOREACH_EVENT(_)                                                 \
	_(RX_INSIDE, "rx_inside", "packets received on the inside port")       \
	_(RX_OUTSIDE, "rx_outside", "packets received on the outside port")    \
	_(TX_INSIDE, "tx_inside", "packets sent on the inside port")           \
	_(TX_OUTSIDE, "tx_outside", "packets sent on the outside port")        \
	_(RX_INSIDE_BYTES, "rx_inside_bytes",                                  \
	  "bytes of the frames received on the inside port")                   \
	_(RX_OUTSIDE_BYTES, "rx_outside_bytes",                                \
	  "bytes of the frames received on the outside port")                  \
	_(TX_INSIDE_BYTES, "tx_inside_bytes",                                  \
	  "bytes of the frames sent on the inside port")                       \
	_(TX_OUTSIDE_BYTES, "tx_outside_bytes",                                \
	  "bytes of the frames sent on the outside port")                      \
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
	_(FLOW_INBOUND, "flows_inbound",                                       \
	  "flows a remote opened to a mapping its lease's filtering admits")   \
	_(HAIRPINNED, "hairpinned",                                            \
	  "client packets to a slice mapping sent back inside (hairpinning)")  \
	_(TO_KERNEL, "to_kernel", "packets handed to Linux (kernel mirror)")   \
	_(FROM_KERNEL, "from_kernel", "kernel packets sent on a data port")    \
	_(ICMP_TIME_EXCEEDED, "icmp_time_exceeded",                            \
	  "ICMP time exceeded sent for packets whose TTL ran out")              \
	_(ICMP_FRAG_NEEDED, "icmp_frag_needed",                                \
	  "ICMP fragmentation needed sent for DF packets over the mtu")        \
	_(TX_FRAGMENTED, "tx_fragmented",                                      \
	  "packets over the output port's mtu sent as IPv4 fragments")         \
	_(TCP_MSS_CLAMPED, "tcp_mss_clamped",                                  \
	  "TCP SYNs whose MSS option was lowered to tcp_mss_clamp")            \
	_(HANDOFF_TX, "handoff_tx",                                            \
	  "packets handed to the worker that owns them")                       \
	_(HANDOFF_RX, "handoff_rx",                                            \
	  "packets received from another worker to handle as their owner")    \
	_(FRAGMENTS, "fragments",                                              \
	  "IPv4 fragments translated (also counted in2out or out2in)")         \
	_(FRAG_HELD, "frag_held",                                              \
	  "fragments held until their datagram's first fragment came")         \
	_(FORWARDED_TO_OWNER, "forwarded_to_owner",                            \
	  "fleet: packets for a peer's slice encapsulated to that peer")       \
	_(RECEIVED_FROM_PEER, "received_from_peer",                            \
	  "fleet: packets a peer forwarded, decapsulated here")                \
	_(FLEET_FENCED, "fleet_fenced",                                        \
	  "fleet: times the engine fenced its slices (proof of ownership "     \
	  "ran out)")

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
