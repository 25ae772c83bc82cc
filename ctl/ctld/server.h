/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to server.c and sockdir.c. */
#ifndef SHOAL_CTLD_SERVER_H
#define SHOAL_CTLD_SERVER_H

#include <stdbool.h>
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

/*
 * Let a peer other than root and the group reach socket @path: add (or
 * widen) a POSIX ACL entry for group @gid (@is_group) or user @uid: search
 * on the socket's directory, read and write (connect) on the socket.
 * 0, or -errno with a message in @err (naming @key, the [ctl] key that
 * asked for it: -EOPNOTSUPP on a file system without ACLs).
 */
int sockdir_grant(const char *path, bool is_group, unsigned id,
		  const char *key, char *err, size_t errlen);

#endif /* SHOAL_CTLD_SERVER_H */
