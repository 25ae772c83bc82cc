#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The staged man pages render (man -l, with groff's warnings on) without
# a warning, each with its NAME line and every section scdoc was given.
set -euo pipefail
fail() { echo "FAIL: $*"; exit 1; }
n=0
for page in "$SHOAL_STAGED_MANDIR"/man*/*; do
	name=$(basename "$page"); name=${name%.*}
	err=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) || fail "$page: man exit $?"
	[ -z "$err" ] || fail "$page: $err"
	text=$(MANWIDTH=80 man -l "$page" 2>/dev/null)
	echo "$text" | grep -qE "^ +$name - " || fail "$page: no NAME line for $name"
	for sec in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		[ "$sec" = SYNOPSIS ] && [[ $name == *.conf ]] && continue
		echo "$text" | grep -qx "$sec" || fail "$page: no $sec section"
	done
	echo "ok: $(basename "$page"): $(echo "$text" | wc -l) lines"
	n=$((n + 1))
done
[ "$n" -eq 4 ] || fail "$n man pages, expected 4"
