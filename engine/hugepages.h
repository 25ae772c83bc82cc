/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How much hugepage memory a new DPDK process could get, read before EAL
 * starts: the engine picks its default EAL memory from it (engine/main.c).
 * Only a process on hugepages can be joined by DPDK secondary processes
 * such as dpdk-dumpcap and dpdk-proc-info (docs/CAPTURE.md).
 */
#ifndef SHOAL_HUGEPAGES_H
#define SHOAL_HUGEPAGES_H

#include <stdint.h>

/*
 * Store in *@bytes the hugepage memory free for a new process: for each
 * page size that has a hugetlbfs mounted, the free pages less the
 * reserved ones plus the surplus pages the kernel may still hand out
 * (nr_overcommit_hugepages less surplus_hugepages), as DPDK's EAL counts
 * them. @root prefixes /proc and /sys ("" for the running system).
 * Returns 0, or -errno when @root/proc/mounts cannot be read. No EAL;
 * any thread.
 */
int sh_hugepages_free(const char *root, uint64_t *bytes);

#endif /* SHOAL_HUGEPAGES_H */
