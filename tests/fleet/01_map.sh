#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Every host holds its slices; etcd holds the map (keys read with
# etcdctl); shoalctl slice list, text and -j, on every host shows the
# same fleet map as etcd.
. "$(dirname "$0")/lib.sh"

map=$(fleet_map) || fail "etcdctl get failed"
say "etcd $FLEET_KEY_PREFIX/slices/ (pool, lo, hi, host, address):"
echo "$map" | sed 's/^/  /'
[ "$(echo "$map" | wc -l)" = $((FLEET_SLICES * ${#FLEET_HOSTS[@]})) ] ||
	fail "etcd holds $(echo "$map" | wc -l) slices, not $FLEET_SLICES for each of ${#FLEET_HOSTS[@]} hosts"
while read -r ip lo hi h addr; do
	[ "$ip" = $FLEET_POOL ] || fail "slice $ip:$lo is not on the pool address"
	[ $(((lo - FLEET_LO) % FLEET_SLICE_SIZE)) = 0 ] && [ "$hi" = $((lo + FLEET_SLICE_SIZE - 1)) ] &&
		[ "$hi" -le $FLEET_HI ] || fail "slice $lo-$hi is not a slice of $FLEET_LO-$FLEET_HI by $FLEET_SLICE_SIZE"
	[ "$addr" = "$(fleet_outside "$h")" ] || fail "slice $lo of host $h gives address $addr, not $(fleet_outside "$h")"
done <<<"$map"
for x in "${FLEET_HOSTS[@]}"; do
	k=$(echo "$map" | awk -v h=$x '$4 == h' | wc -l)
	[ "$k" = "$FLEET_SLICES" ] || fail "host $x holds $k slices, not $FLEET_SLICES"
done

# The hosts' membership keys, bound to their leases like the slices.
hosts=$(fleet_kv "$FLEET_KEY_PREFIX/hosts/") || fail "etcdctl get hosts failed"
say "etcd $FLEET_KEY_PREFIX/hosts/ (key, lease, value):"
echo "$hosts" | sed 's/^/  /'
for x in "${FLEET_HOSTS[@]}"; do
	echo "$hosts" | grep -q "^$FLEET_KEY_PREFIX/hosts/$x [1-9]" || fail "no $FLEET_KEY_PREFIX/hosts/$x key with a lease"
done
[ "$(echo "$hosts" | awk '{ print $2 }' | sort -u | wc -l)" = ${#FLEET_HOSTS[@]} ] ||
	fail "the hosts do not have a lease each"
# Every slice key is bound to a lease, the one of its host's key.
while read -r k l v; do
	h=$(echo "$v" | jq -r .host)
	echo "$hosts" | grep -q "^$FLEET_KEY_PREFIX/hosts/$h $l " ||
		fail "$k (host $h) is bound to lease $l, not to its host key's"
done < <(fleet_kv "$FLEET_KEY_PREFIX/slices/")

# shoalctl slice list on every host: the same map, this host's slices
# "mine", the others' "owned".
# A daemon reads etcd about once a second: its view may lag the last
# claim by that much, so each host gets 5 s to show it.
want=$(echo "$map" | awk '{ print $1, $2, $3, $4, $5 }')
ctl_map() {
	fleet_ctl "$1" -j slice list | jq -r '.fleet.map[] | select(.state == "mine" or .state == "owned") |
		"\(.ip) \(.lo) \(.hi) \(.host) \(.address)"' | sort -k2n
}
for x in "${FLEET_HOSTS[@]}"; do
	for _ in $(seq 50); do
		[ "$(ctl_map "$x")" = "$want" ] && break
		sleep 0.1
	done
	j=$(fleet_ctl "$x" -j slice list) || fail "host $x: shoalctl -j slice list failed: $j"
	got=$(ctl_map "$x")
	[ "$got" = "$want" ] || fail "host $x: shoalctl -j slice list shows
$got
etcd holds
$want"
	mine=$(echo "$j" | jq -r '.fleet.map[] | select(.state == "mine") | .lo' | sort -n | paste -sd' ')
	[ "$mine" = "$(echo "$map" | awk -v h=$x '$4 == h { print $2 }' | paste -sd' ')" ] ||
		fail "host $x: shoalctl -j calls slices $mine its own"
	txt=$(fleet_ctl "$x" slice list) || fail "host $x: shoalctl slice list failed: $txt"
	while read -r ip lo hi h addr; do
		st=owned
		[ "$h" = "$x" ] && st=mine
		echo "$txt" | grep -qE "^$ip +$lo-$hi +$st +$h +$addr( |$)" ||
			fail "host $x: shoalctl slice list has no row '$ip $lo-$hi $st $h $addr':
$txt"
	done <<<"$want"
done
say "shoalctl slice list on host a:"
fleet_ctl a slice list | sed 's/^/  /'
say "every host's shoalctl slice list (text and -j) shows etcd's $(echo "$map" | wc -l) slices"
