/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hugepages.h"

/* More page sizes than any architecture has (x86: 2 MiB and 1 GiB). */
#define SH_HUGE_MAX_SIZES 8

/* The counter @name of the @kb-KiB page pool, or 0 when unreadable. */
static uint64_t pool_count(const char *root, uint64_t kb, const char *name)
{
	char path[PATH_MAX];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/sys/kernel/mm/hugepages/hugepages-%" PRIu64
		 "kB/%s", root, kb, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%" SCNu64, &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* Pages of @kb KiB a new process may still get from the kernel. */
static uint64_t pool_free_pages(const char *root, uint64_t kb)
{
	uint64_t free_p = pool_count(root, kb, "free_hugepages");
	uint64_t resv = pool_count(root, kb, "resv_hugepages");
	uint64_t over = pool_count(root, kb, "nr_overcommit_hugepages");
	uint64_t surplus = pool_count(root, kb, "surplus_hugepages");

	return (free_p > resv ? free_p - resv : 0) +
	       (over > surplus ? over - surplus : 0);
}

/* The default page size in KiB (/proc/meminfo Hugepagesize), or 0. */
static uint64_t default_kb(const char *root)
{
	char path[PATH_MAX], line[256];
	uint64_t kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/meminfo", root);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %" SCNu64 " kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* A hugetlbfs mount's page size in KiB from its options ("pagesize=2M"),
 * the default size without one, 0 if unparsable. */
static uint64_t mount_kb(const char *root, const char *opts)
{
	const char *p = strstr(opts, "pagesize=");
	char *end;
	uint64_t v;

	if (!p)
		return default_kb(root);
	v = strtoull(p + strlen("pagesize="), &end, 10);
	switch (*end) {
	case 'K':
		return v;
	case 'M':
		return v << 10;
	case 'G':
		return v << 20;
	default:
		return 0;
	}
}

int sh_hugepages_free(const char *root, uint64_t *bytes)
{
	char path[PATH_MAX], line[1024], type[64], opts[512];
	uint64_t seen[SH_HUGE_MAX_SIZES], kb;
	unsigned n_seen = 0, i;
	FILE *f;

	*bytes = 0;
	snprintf(path, sizeof(path), "%s/proc/mounts", root);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %63s %511s", type, opts) != 2 ||
		    strcmp(type, "hugetlbfs") != 0)
			continue;
		kb = mount_kb(root, opts);
		if (kb == 0)
			continue;
		/* Mounts of one page size share one pool: count it once. */
		for (i = 0; i < n_seen && seen[i] != kb; i++)
			;
		if (i < n_seen || n_seen == SH_HUGE_MAX_SIZES)
			continue;
		seen[n_seen++] = kb;
		*bytes += pool_free_pages(root, kb) * kb * 1024;
	}
	fclose(f);
	return 0;
}
