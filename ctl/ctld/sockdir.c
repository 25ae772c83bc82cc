/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket's directory is its first line of defence: the socket itself
 * is 0660 root:GROUP, but a directory anyone can write to would let them
 * replace it. We create the directory when missing and refuse an existing
 * one that is unsafe rather than silently fixing its mode. Peers beyond
 * root and the group ([ctl] readers, engine_user) get ACL entries, never
 * wider mode bits: "others" keep no access.
 */
#include <errno.h>
#include <grp.h>
#include <sys/acl.h>
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

/* Add to @path's access ACL an entry for @tag/@id with @perm (ACL_EXECUTE,
 * or ACL_READ|ACL_WRITE), or widen the entry it has; the mask follows. */
static int acl_grant(const char *path, acl_tag_t tag, id_t id,
		     unsigned perm)
{
	acl_t acl = acl_get_file(path, ACL_TYPE_ACCESS);
	acl_entry_t e = NULL;
	acl_permset_t ps;
	bool found = false;
	int rc = -1;

	if (!acl)
		return -errno;
	for (int w = ACL_FIRST_ENTRY; !found && acl_get_entry(acl, w, &e) == 1;
	     w = ACL_NEXT_ENTRY) {
		acl_tag_t t;
		id_t *q;

		if (acl_get_tag_type(e, &t) || t != tag)
			continue;
		q = acl_get_qualifier(e);
		found = q && *q == id;
		acl_free(q);
	}
	if (!found && (acl_create_entry(&acl, &e) || acl_set_tag_type(e, tag) ||
		       acl_set_qualifier(e, &id)))
		goto out;
	if (acl_get_permset(e, &ps) ||
	    ((perm & ACL_READ) && acl_add_perm(ps, ACL_READ)) ||
	    ((perm & ACL_WRITE) && acl_add_perm(ps, ACL_WRITE)) ||
	    ((perm & ACL_EXECUTE) && acl_add_perm(ps, ACL_EXECUTE)) ||
	    acl_set_permset(e, ps) || acl_calc_mask(&acl) ||
	    acl_set_file(path, ACL_TYPE_ACCESS, acl))
		goto out;
	rc = 0;
out:
	if (rc)
		rc = errno ? -errno : -EIO;
	acl_free(acl);
	return rc;
}

int sockdir_grant(const char *path, bool is_group, unsigned id,
		  const char *key, char *err, size_t errlen)
{
	char tmp[SH_CFG_STR_LEN];
	acl_tag_t tag = is_group ? ACL_GROUP : ACL_USER;
	const char *dir;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s", path);
	dir = dirname(tmp);
	rc = acl_grant(dir, tag, id, ACL_EXECUTE);
	if (rc) {
		path = dir;
	} else {
		rc = acl_grant(path, tag, id, ACL_READ | ACL_WRITE);
	}
	if (rc)
		snprintf(err, errlen, "[ctl] %s: cannot let it reach %s (ACL): "
			 "%s", key, path, strerror(-rc));
	return rc;
}
