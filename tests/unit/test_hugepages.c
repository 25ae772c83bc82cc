/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for engine/hugepages.c: the hugepage memory the engine's
 * default EAL arguments are chosen by. Each test writes the files the
 * kernel would show (/proc/mounts, /proc/meminfo, the pool counters under
 * /sys/kernel/mm/hugepages) into a temporary root.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "hugepages.h"

#define MIB (UINT64_C(1) << 20)

static char root[PATH_MAX];

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX * 2], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	/* mkdir -p of the file's directory */
	for (slash = path + strlen(root) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The four counters of the @kb KiB pool. */
static void pool(unsigned kb, unsigned free_p, unsigned resv, unsigned over,
		 unsigned surplus)
{
	static const char *const names[] = { "free_hugepages", "resv_hugepages",
					     "nr_overcommit_hugepages",
					     "surplus_hugepages" };
	unsigned v[] = { free_p, resv, over, surplus }, i;
	char rel[128], num[32];

	for (i = 0; i < 4; i++) {
		snprintf(rel, sizeof(rel), "sys/kernel/mm/hugepages/hugepages-%ukB/%s",
			 kb, names[i]);
		snprintf(num, sizeof(num), "%u\n", v[i]);
		put(rel, num);
	}
}

static uint64_t free_bytes(void)
{
	uint64_t b = 12345;

	assert_int_equal(sh_hugepages_free(root, &b), 0);
	return b;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "%s/shoal-test-huge.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(root));
	put("proc/meminfo", "MemTotal:       24684384 kB\n"
			    "Hugepagesize:       2048 kB\n");
	pool(2048, 0, 0, 0, 0);
	pool(1048576, 0, 0, 0, 0);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *const base_mounts =
	"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
	"sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n";

static void mounts(const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text), "%s%s", base_mounts, extra);
	put("proc/mounts", text);
}

static void test_pages_without_a_mount_are_not_free(void **state)
{
	(void)state;
	mounts("");
	pool(2048, 512, 0, 0, 0);
	assert_int_equal(free_bytes(), 0);
}

static void test_free_pages_less_reserved_count(void **state)
{
	(void)state;
	mounts("nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n");
	pool(2048, 100, 20, 0, 0);
	assert_int_equal(free_bytes(), 80 * 2 * MIB);
}

static void test_overcommit_beyond_surplus_counts(void **state)
{
	(void)state;
	mounts("nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n");
	pool(2048, 0, 0, 50, 10);
	assert_int_equal(free_bytes(), 40 * 2 * MIB);
}

static void test_reserved_beyond_free_counts_zero(void **state)
{
	(void)state;
	mounts("nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n");
	pool(2048, 5, 9, 3, 7);
	assert_int_equal(free_bytes(), 0);
}

static void test_two_mounts_of_one_size_share_a_pool(void **state)
{
	(void)state;
	mounts("nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n"
	       "nodev /tmp/h hugetlbfs rw,relatime,pagesize=2M,size=64M 0 0\n");
	pool(2048, 10, 0, 0, 0);
	assert_int_equal(free_bytes(), 10 * 2 * MIB);
}

static void test_page_sizes_add_up(void **state)
{
	(void)state;
	mounts("nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n"
	       "nodev /mnt/huge1g hugetlbfs rw,relatime,pagesize=1024M 0 0\n");
	pool(2048, 10, 0, 0, 0);
	pool(1048576, 2, 0, 0, 0);
	assert_int_equal(free_bytes(), 10 * 2 * MIB + 2 * 1024 * MIB);
}

static void test_mount_without_pagesize_has_the_default_size(void **state)
{
	(void)state;
	mounts("nodev /dev/hugepages hugetlbfs rw,relatime 0 0\n");
	pool(2048, 3, 0, 0, 0);
	pool(1048576, 4, 0, 0, 0);
	assert_int_equal(free_bytes(), 3 * 2 * MIB);
}

static void test_unreadable_mounts_is_an_error(void **state)
{
	char saved[PATH_MAX];
	uint64_t b = 1;

	(void)state;
	memcpy(saved, root, sizeof(root));
	strcat(root, "/nonexistent");
	assert_int_equal(sh_hugepages_free(root, &b), -ENOENT);
	assert_int_equal(b, 0);
	memcpy(root, saved, sizeof(root));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pages_without_a_mount_are_not_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_pages_less_reserved_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overcommit_beyond_surplus_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserved_beyond_free_counts_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_mounts_of_one_size_share_a_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_sizes_add_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mount_without_pagesize_has_the_default_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_mounts_is_an_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
