#!/bin/bash
# Build the libFuzzer harnesses with clang (build dir build-fuzz, or
# $FUZZ_BUILD_DIR) and run each for a bounded time on a copy of its seed
# corpus, so the repository is never written. A harness that crashes or
# trips an invariant fails; its reproducer is kept and its path printed.
# Prints one final line: "N passed, N failed, N skipped".
# Usage: tests/fuzz/run.sh [seconds per harness, default 30]
# Exit 77 when clang or its libFuzzer runtime is absent.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECS=${1:-${FUZZ_SECONDS:-30}}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
HARNESSES=(fuzz_nat fuzz_icmp fuzz_config fuzz_proto fuzz_fleet fuzz_etcd)
# Inputs per harness: the NAT harnesses' records and protocol lines need
# room; the config parser's lines are at most 1023 characters; an etcd
# range reply holds kvs of up to 1023-byte values (1364 base64 chars).
declare -A MAXLEN=([fuzz_nat]=4096 [fuzz_icmp]=1024 [fuzz_config]=8192
	[fuzz_proto]=4096 [fuzz_fleet]=2048 [fuzz_etcd]=8192)

if ! command -v clang >/dev/null ||
	! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' |
	clang -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then
	echo "fuzz: clang with libFuzzer not found (scripts/deps.sh installs it)"
	echo "0 passed, 0 failed, ${#HARNESSES[@]} skipped"
	exit 77
fi

if [ ! -f "$BUILD/build.ninja" ]; then
	CC=clang meson setup "$BUILD" -Dfuzz=true -Dtests=false >/dev/null ||
		{ echo "0 passed, 1 failed, 0 skipped"; exit 1; }
fi
targets=()
for h in "${HARNESSES[@]}"; do targets+=("tests/fuzz/$h"); done
if ! ninja -C "$BUILD" "${targets[@]}" >"$BUILD/fuzz-build.log" 2>&1; then
	cat "$BUILD/fuzz-build.log"
	echo "0 passed, ${#HARNESSES[@]} failed, 0 skipped"
	exit 1
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT=$ROOT/$BUILD/fuzz-artifacts
mkdir -p "$OUT"

passed=0 failed=0
for h in "${HARNESSES[@]}"; do
	mkdir -p "$WORK/$h"
	cp tests/fuzz/corpus/"$h"/* "$WORK/$h/"
	dict=()
	[ -f "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
	# libFuzzer stops by itself after -max_total_time; timeout is the
	# backstop against a hang it does not notice.
	timeout -k 10 $((SECS + 60)) "$BUILD/tests/fuzz/$h" \
		-max_total_time="$SECS" -max_len="${MAXLEN[$h]}" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$OUT/$h-" "${dict[@]}" \
		"$WORK/$h" >"$WORK/$h.log" 2>&1
	rc=$?
	runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$WORK/$h.log" |
		grep -oE '[0-9]+$')
	if [ $rc -eq 0 ]; then
		echo "PASS $h (${runs:-?} runs in ${SECS}s)"
		passed=$((passed + 1))
	else
		echo "FAIL $h (exit $rc)"
		grep -E 'INVARIANT VIOLATED|ERROR: |SUMMARY: ' "$WORK/$h.log" | head -5
		grep -oE "Test unit written to .*" "$WORK/$h.log" |
			sed 's/^Test unit written to/  reproducer:/'
		cp "$WORK/$h.log" "$OUT/$h.log"
		echo "  log: $OUT/$h.log"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
