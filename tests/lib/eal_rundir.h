/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The runtime directory (/var/run/dpdk/PREFIX) that EAL leaves behind,
 * even with --no-shconf, for the test and bench programs that start EAL
 * under a --file-prefix of their own: copy rte_eal_get_runtime_dir()
 * before rte_eal_cleanup(), then remove it with sh_rundir_remove().
 */
#ifndef SHOAL_TEST_EAL_RUNDIR_H
#define SHOAL_TEST_EAL_RUNDIR_H

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

static inline void sh_rundir_remove(const char *path)
{
	struct dirent *e;
	char f[PATH_MAX];
	DIR *d = opendir(path);

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' &&
		    snprintf(f, sizeof(f), "%s/%s", path, e->d_name) < (int)sizeof(f))
			unlink(f);
	closedir(d);
	rmdir(path);
}

#endif /* SHOAL_TEST_EAL_RUNDIR_H */
