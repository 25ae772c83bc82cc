/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "nat/nat.h"
#include "state.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The file's size for @n x @max_flows, in whole blocks of its file
 * system (a hugetlbfs file grows by huge pages only). */
static size_t file_bytes(int fd, unsigned n, uint32_t max_flows)
{
	size_t b = SH_STATE_HDR + (size_t)n * nat_seg_bytes(max_flows);
	struct statfs fs;
	size_t blk = 4096;

	if (fstatfs(fd, &fs) == 0 && fs.f_bsize > 0)
		blk = (size_t)fs.f_bsize;
	return (b + blk - 1) / blk * blk;
}

/* mkdir -p of @path's directory (as many levels as are missing). */
static void make_dir(const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0750) < 0 && errno == ENOENT) {
		make_dir(dir);
		mkdir(dir, 0750);
	}
}

int sh_state_open(struct sh_state *st, const char *path, unsigned n_workers,
		  uint32_t max_flows, enum sh_state_found *found, char *why,
		  size_t len)
{
	struct sh_state_hdr h;
	struct stat sb;
	ssize_t n;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	snprintf(st->path, sizeof(st->path), "%s", path);
	make_dir(path);
	st->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->fd < 0) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	*found = SH_STATE_NONE;
	n = pread(st->fd, &h, sizeof(h), 0);
	if (n != (ssize_t)sizeof(h) || h.magic != SH_STATE_MAGIC)
		return 0;
	if (fstat(st->fd, &sb) < 0)
		return -errno;
	*found = SH_STATE_INCOMPATIBLE;
	if (h.version != SH_STATE_VERSION || h.layout != NAT_LAYOUT)
		snprintf(why, len, "%s: state format %u, table layout %u; this "
			 "engine reads format %u, layout %u", path, h.version,
			 h.layout, SH_STATE_VERSION, NAT_LAYOUT);
	else if (h.n_workers != n_workers || h.max_flows != max_flows)
		snprintf(why, len, "%s: tables of %u workers x %u flows; this "
			 "configuration has %u workers x %u flows (workers and "
			 "[nat] max_flows must stay the same across a restart)",
			 path, h.n_workers, h.max_flows, n_workers, max_flows);
	else if (h.seg_bytes != nat_seg_bytes(max_flows) ||
		 (size_t)sb.st_size < SH_STATE_HDR + n_workers * h.seg_bytes)
		snprintf(why, len, "%s: %lld bytes, shorter than its tables",
			 path, (long long)sb.st_size);
	else
		*found = SH_STATE_ADOPTABLE;
	return 0;
}

/* Is @pid gone or on its way out (a zombie whose threads still hold its
 * memory, and with it the state file)? */
static bool dying(pid_t pid)
{
	char path[64], buf[256], *paren;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

int sh_state_lock(struct sh_state *st, char *why, size_t len)
{
	struct sh_state_hdr h;
	bool known;
	int i;

	/* A killed engine holds the lock until its last thread is gone:
	 * wait for that (a few seconds at most), not for a live one. */
	for (i = 0;; i++) {
		if (flock(st->fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK) {
			snprintf(why, len, "%s: lock: %s", st->path,
				 strerror(errno));
			return -errno;
		}
		known = pread(st->fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
			h.magic == SH_STATE_MAGIC;
		if (i == 50 || !known || !dying(h.owner_pid))
			break;
		usleep(100 * 1000);
	}
	if (known)
		snprintf(why, len, "%s is in use by the running engine (pid %d): "
			 "stop it first, or start with --takeover", st->path,
			 h.owner_pid);
	else
		snprintf(why, len, "%s is in use by another engine", st->path);
	return -EWOULDBLOCK;
}

int sh_state_map(struct sh_state *st, unsigned n_workers, uint32_t max_flows,
		 bool fresh, char *why, size_t len)
{
	size_t bytes = file_bytes(st->fd, n_workers, max_flows);
	struct sh_state_hdr *h;
	void *base;

	if (fresh && (ftruncate(st->fd, 0) < 0 ||
		      ftruncate(st->fd, (off_t)bytes) < 0)) {
		snprintf(why, len, "%s: %zu bytes: %s", st->path, bytes,
			 strerror(errno));
		return -errno;
	}
	/* Populated now: page faults belong to start-up, not to the first
	 * packets. */
	base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, st->fd, 0);
	if (base == MAP_FAILED) {
		snprintf(why, len, "%s: map %zu bytes: %s", st->path, bytes,
			 strerror(errno));
		return -errno;
	}
	{
		struct statfs fs;

		if (fstatfs(st->fd, &fs) == 0 && fs.f_type != TMPFS_MAGIC &&
		    fs.f_type != HUGETLBFS_MAGIC)
			fprintf(stderr, "shoal-engine: %s is not on tmpfs or "
				"hugetlbfs: the kernel will write the flow tables "
				"back to disk\n", st->path);
	}
	st->base = base;
	st->bytes = bytes;
	st->hdr = h = base;
	if (fresh) {
		h->version = SH_STATE_VERSION;
		h->layout = NAT_LAYOUT;
		h->n_workers = n_workers;
		h->max_flows = max_flows;
		h->seg_bytes = nat_seg_bytes(max_flows);
		__atomic_store_n(&h->magic, SH_STATE_MAGIC, __ATOMIC_RELEASE);
	}
	h->owner_pid = getpid();
	return 0;
}

void *sh_state_seg(const struct sh_state *st, unsigned i)
{
	return (uint8_t *)st->base + SH_STATE_HDR + (size_t)i * st->hdr->seg_bytes;
}

void sh_state_anchor(struct sh_state *st, uint32_t now_ms)
{
	struct sh_state_hdr *h = st->hdr;

	if (!h)
		return;
	/* A reader after a crash may see one of the two from the turn
	 * before: off by one turn (20 ms) at most. */
	h->anchor_ns = mono_ns();
	h->anchor_ms = now_ms;
}

bool sh_state_clock(const struct sh_state *st, uint32_t *now_ms)
{
	const struct sh_state_hdr *h = st->hdr;

	if (!h || !h->anchor_ns)
		return false;
	*now_ms = h->anchor_ms + (uint32_t)((mono_ns() - h->anchor_ns) / 1000000);
	return true;
}

void sh_state_neigh_save(struct sh_state *st, const struct sh_neigh_seed *seed,
			 unsigned n)
{
	struct sh_state_hdr *h = st->hdr;

	if (!h)
		return;
	if (n > SH_STATE_NEIGH_MAX)
		n = SH_STATE_NEIGH_MAX;
	__atomic_store_n(&h->n_neigh, 0, __ATOMIC_RELEASE);
	memcpy(h->neigh, seed, n * sizeof(*seed));
	__atomic_store_n(&h->n_neigh, n, __ATOMIC_RELEASE);
}

void sh_state_release(struct sh_state *st)
{
	/* Unlock explicitly: the mapping holds the open file too, so a
	 * close alone would keep the lock until the mapping goes. */
	if (st->fd >= 0) {
		flock(st->fd, LOCK_UN);
		close(st->fd);
	}
	st->fd = -1;
}

void sh_state_close(struct sh_state *st)
{
	sh_state_release(st);
	if (st->base)
		munmap(st->base, st->bytes);
	st->base = NULL;
	st->hdr = NULL;
}
