/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket's directory is its first line of defence: the socket itself
 * is 0660 root:GROUP, but a directory anyone can write to would let them
 * replace it. We create the directory when missing and refuse an existing
 * one that is unsafe rather than silently fixing its mode.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctld.h"
#include "server.h"

int sockdir_prepare(const char *path, const char *group, gid_t *gid,
		    char *err, size_t errlen)
{
	struct group gr, *grp = NULL;
	char buf[16384], tmp[SH_CFG_STR_LEN], dir[SH_CFG_STR_LEN];
	struct stat st;
	int rc;

	rc = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
	if (rc || !grp) {
		snprintf(err, errlen, "[ctl] group = %s: no such group%s%s",
			 group, rc ? ": " : "", rc ? strerror(rc) : "");
		return -ENOENT;
	}
	*gid = gr.gr_gid;
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp));
	if (mkdir(dir, 0750) == 0) {
		/* mkdir applies the umask; set the mode and group exactly */
		if (chown(dir, 0, *gid) || chmod(dir, 0750)) {
			rc = -errno;
			snprintf(err, errlen, "[ctl] socket directory %s: %s",
				 dir, strerror(errno));
			return rc;
		}
	} else if (errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "[ctl] socket directory %s: cannot "
			 "create: %s", dir, strerror(errno));
		return rc;
	}
	if (lstat(dir, &st)) {
		rc = -errno;
		snprintf(err, errlen, "[ctl] socket directory %s: %s", dir,
			 strerror(errno));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "[ctl] socket directory %s: not a "
			 "directory (a symlink is refused too)", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != 0 || (st.st_mode & 0027)) {
		snprintf(err, errlen, "[ctl] socket directory %s is unsafe "
			 "(owner uid %u, mode %04o): it must be owned by root "
			 "and not group-writable nor accessible to others "
			 "(mode & 0027 == 0, e.g. 0750); refusing to start",
			 dir, (unsigned)st.st_uid,
			 (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (st.st_gid != *gid)
		ctld_log(CTLD_WARN, "[ctl] socket directory %s has group %u, "
			 "not '%s': group members cannot reach the socket",
			 dir, (unsigned)st.st_gid, group);
	return 0;
}
