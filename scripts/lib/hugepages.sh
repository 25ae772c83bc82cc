# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# Hugepages for one engine run (scripts/demo.sh, tests/integration/run.sh):
# only an engine on hugepages can be joined by DPDK's secondary processes,
# dpdk-dumpcap and dpdk-proc-info (docs/CAPTURE.md).
#
#   huge_up DIR PAGES   reserve PAGES more 2 MiB hugepages and mount a
#                       hugetlbfs of that size at DIR (for EAL --huge-dir);
#                       fails, having undone what it did, when the kernel
#                       cannot give them all
#   huge_down           unmount the hugetlbfs and give back the pages
#                       huge_up reserved (idempotent)
#
# The pool is the system's: other runs may be reserving at the same time,
# so every change is an increment or a decrement made under a lock, and a
# run gives back exactly what it added. A private mount, limited to the
# pages reserved, keeps this run's engine off other runs' pages, and its
# unmount frees whatever page files the engine left.

HUGE_POOL=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
HUGE_LOCK=/run/lock/shoal-hugepages.lock
HUGE_RESERVED=0
HUGE_MOUNTED=

# _huge_add N : add N (may be negative) to the pool under the lock; prints
# how many pages the pool actually changed by.
_huge_add() {
	local fd before after
	exec {fd}>"$HUGE_LOCK" || return 1
	flock -w 10 "$fd" || {
		exec {fd}>&-
		return 1
	}
	before=$(cat "$HUGE_POOL")
	echo $((before + $1 > 0 ? before + $1 : 0)) >"$HUGE_POOL" 2>/dev/null
	after=$(cat "$HUGE_POOL")
	exec {fd}>&-
	echo $((after - before))
}

huge_up() {
	local dir=$1 pages=$2 got
	if [ ! -w "$HUGE_POOL" ]; then
		echo "hugepages: no 2 MiB pool to reserve from ($HUGE_POOL)" >&2
		return 1
	fi
	got=$(_huge_add "$pages") || {
		echo "hugepages: could not lock $HUGE_LOCK" >&2
		return 1
	}
	HUGE_RESERVED=$got
	if [ "$got" -lt "$pages" ]; then
		echo "hugepages: the kernel gave $got of $pages 2 MiB pages" >&2
		huge_down
		return 1
	fi
	mkdir -p "$dir" &&
		mount -t hugetlbfs -o "pagesize=2M,size=$((pages * 2))M" nodev "$dir" || {
		echo "hugepages: cannot mount hugetlbfs at $dir" >&2
		huge_down
		return 1
	}
	HUGE_MOUNTED=$dir
}

huge_down() {
	if [ -n "$HUGE_MOUNTED" ]; then
		# Lazily if a process still maps a page: the kernel frees the
		# pages when it lets go.
		umount "$HUGE_MOUNTED" 2>/dev/null || umount -l "$HUGE_MOUNTED"
		rmdir "$HUGE_MOUNTED" 2>/dev/null
		HUGE_MOUNTED=
	fi
	if [ "$HUGE_RESERVED" -gt 0 ]; then
		_huge_add $((-HUGE_RESERVED)) >/dev/null
		HUGE_RESERVED=0
	fi
	return 0
}
