/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to server.c and sockdir.c. */
#ifndef SHOAL_CTLD_SERVER_H
#define SHOAL_CTLD_SERVER_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Make the directory of socket @path safe to listen in: resolve @group
 * (-ENOENT "no such group" naming the [ctl] group key), create the
 * directory 0750 root:@group if missing, and refuse (-EPERM, message in
 * @err) one that is not a real directory owned by root with mode & 0027
 * == 0. Stores the group's gid in *@gid.
 */
int sockdir_prepare(const char *path, const char *group, gid_t *gid,
		    char *err, size_t errlen);

#endif /* SHOAL_CTLD_SERVER_H */
