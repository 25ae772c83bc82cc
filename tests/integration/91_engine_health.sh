#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# After everything: the engine is alive, it saw no bad checksums and no
# malformed packets (every peer and the kernel mirrors send real
# checksums; a non-zero count means a checksum went wrong on some path).
# (punt_policed is provoked on purpose by 14_punt_policed.sh.)
. "$(dirname "$0")/lib.sh"

engine_alive || fail "the engine is not running"
counters | awk '$2 != 0' | sort >"$T/nonzero"
say "non-zero counters:"
sed 's/^/  /' "$T/nonzero"
for c in ip_bad_checksum l4_bad_checksum ip_malformed l4_malformed l2_malformed; do
	v=$(cnt "$c")
	[ "$v" = 0 ] || fail "$c = $v, expected 0"
done
