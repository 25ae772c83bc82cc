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
hosts=$(fleet_etcdctl get --prefix "$FLEET_KEY_PREFIX/hosts/" -w json |
	jq -r '.kvs // [] | .[] | "\(.key | @base64d) \(.lease) \(.value | @base64d)"') ||
	fail "etcdctl get hosts failed"
say "etcd $FLEET_KEY_PREFIX/hosts/:"
echo "$hosts" | sed 's/^/  /'
for x in "${FLEET_HOSTS[@]}"; do
	echo "$hosts" | grep -q "^$FLEET_KEY_PREFIX/hosts/$x " || fail "no $FLEET_KEY_PREFIX/hosts/$x key"
done
# Every slice key is bound to a lease, the one of its host's key.
leases=$(fleet_etcdctl get --prefix "$FLEET_KEY_PREFIX/slices/" -w json |
	jq -r '.kvs[] | "\(.value | @base64d | fromjson | .host) \(.lease)"')
while read -r h l; do
	[ -n "$l" ] && [ "$l" != 0 ] && [ "$l" != null ] || fail "a slice key of host $h has no lease"
	echo "$hosts" | grep -q "^$FLEET_KEY_PREFIX/hosts/$h $l " ||
		fail "a slice key of host $h is bound to lease $l, not its host key's"
done <<<"$leases"

# shoalctl slice list on every host: the same map.
want=$(echo "$map" | awk '{ print $1, $2, $3, $4 }')
for x in "${FLEET_HOSTS[@]}"; do
	j=$(fleet_ctl "$x" -j slice list) || fail "host $x: shoalctl -j slice list failed: $j"
	got=$(echo "$j" | jq -r '.slices[] | select(.host != null and .host != "") |
		"\(.ip) \(.lo) \(.hi) \(.host)"' | sort -k2n)
	[ "$got" = "$want" ] || fail "host $x: shoalctl -j slice list shows
$got
etcd holds
$want"
	txt=$(fleet_ctl "$x" slice list) || fail "host $x: shoalctl slice list failed: $txt"
	while read -r ip lo hi h; do
		echo "$txt" | grep -E "^$ip +$lo-$hi .*\b$h\b" >/dev/null ||
			fail "host $x: shoalctl slice list has no row for $ip $lo-$hi of host $h:
$txt"
	done <<<"$want"
done
say "shoalctl slice list on host a:"
fleet_ctl a slice list | sed 's/^/  /'
say "every host's shoalctl slice list (text and -j) shows etcd's $(echo "$map" | wc -l) slices"
