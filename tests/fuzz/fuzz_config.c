/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_config: the INI parser, sh_config_load() (lib/config.c), on the
 * input as a whole file (a memfd, read back through /proc/self/fd/N, the
 * way any path is).
 *
 * Invariants (abort() on violation):
 *   - the result is 0 or -EINVAL: the file is always readable here, so
 *     every failure is a content error;
 *   - on error the message is NUL terminated and reads "FILE:LINE: reason"
 *     with LINE a line of the input (1 .. lines) and a non-empty reason;
 *   - on success the configuration's invariants hold: 1..SH_CFG_MAX_SLICES
 *     slices with 1 <= lo <= hi, no two overlapping; at most
 *     SH_CFG_MAX_LEASES leases, each inside one slice of its address, no
 *     two overlapping, nat ones with 1..SH_CFG_MAX_CLIENT_PFX client
 *     prefixes without host bits and socket ones with none, at most
 *     SHOAL_MAX_SELECTORS prefixes in all; names and strings NUL
 *     terminated, lease names non-empty and unique; workers
 *     1..SH_CFG_MAX_WORKERS; timeouts >= 1; max_flows 1..2^26.
 *   - with [fleet]: no static leases; the address is the [outside] one;
 *     1..SH_CFG_MAX_POOL distinct-from-0 pool addresses, each the slice of
 *     the same index over the whole port range; slice_size divides the
 *     range, at most SHOAL_MAX_POOL_SLICES slices in all, at least
 *     `slices` of them; every listed slice a whole, distinct slice of
 *     the pool; hold_down > ttl >= 2; etcd, host and prefix terminated
 *     and well-formed;
 *   - loading the same file again gives the same configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                              \
	do {                                                                   \
		fprintf(stderr, "INVARIANT VIOLATED: " __VA_ARGS__);           \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

static bool terminated(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

static bool pfx_ok(const struct sh_prefix *p)
{
	return p->len <= 32 &&
	       (p->len == 32 || (p->addr & (0xffffffffu >> p->len)) == 0);
}

/* [fleet] (docs/FLEET.md "Configuration"): the pool's addresses are the
 * slices, each over the whole port range, cut into whole slices. */
static void check_fleet(const struct sh_config *c)
{
	const struct sh_fleet_cfg *f = &c->fleet;
	uint32_t span = (uint32_t)f->hi - f->lo + 1;

	if (!terminated(f->etcd, sizeof(f->etcd)) ||
	    strncmp(f->etcd, "http://", 7) ||
	    !terminated(f->host, sizeof(f->host)) || !f->host[0] ||
	    !terminated(f->prefix, sizeof(f->prefix)) || f->prefix[0] != '/')
		FAIL("[fleet] etcd, host or prefix malformed");
	if (c->n_leases)
		FAIL("[fleet] with %u static leases", c->n_leases);
	if (!c->outside.has_address || c->outside.address_host != f->address ||
	    !f->address || !c->ctl_socket[0])
		FAIL("[fleet] address is not the [outside] one, or no "
		     "ctl_socket");
	if (f->n_pool < 1 || f->n_pool > SH_CFG_MAX_POOL ||
	    c->n_slices != f->n_pool)
		FAIL("[fleet] %u pool addresses, %u slices", f->n_pool,
		     c->n_slices);
	for (unsigned i = 0; i < f->n_pool; i++)
		if (!f->pool[i] || c->slices[i].ip != f->pool[i] ||
		    c->slices[i].lo != f->lo || c->slices[i].hi != f->hi)
			FAIL("[fleet] pool address %u is not its slice", i);
	if (f->lo < 1 || f->lo > f->hi || f->slice_size < 1 ||
	    span % f->slice_size ||
	    f->n_slices_total != f->n_pool * (span / f->slice_size) ||
	    f->n_slices_total > SHOAL_MAX_POOL_SLICES ||
	    f->slices > f->n_slices_total || (!f->slices && !f->n_want))
		FAIL("[fleet] %u-%u in slices of %u: %u in all, %u wanted",
		     f->lo, f->hi, f->slice_size, f->n_slices_total, f->slices);
	for (unsigned i = 0; i < f->n_want; i++) {
		const struct sh_slice_cfg *w = &f->want[i];
		bool in_pool = false;

		for (unsigned j = 0; j < f->n_pool; j++)
			in_pool |= f->pool[j] == w->ip;
		if (!in_pool || w->lo < f->lo || w->hi > f->hi ||
		    (w->lo - f->lo) % f->slice_size ||
		    (uint32_t)w->hi - w->lo + 1 != f->slice_size)
			FAIL("[fleet] slices: entry %u is not a slice", i);
		for (unsigned j = 0; j < i; j++)
			if (f->want[j].ip == w->ip && f->want[j].lo == w->lo)
				FAIL("[fleet] slices: entry %u twice", i);
	}
	if (f->ttl < 2 || f->hold_down <= f->ttl || !f->port)
		FAIL("[fleet] ttl %u, hold_down %u, port %u", f->ttl,
		     f->hold_down, f->port);
	for (unsigned i = 0; i < f->n_clients; i++)
		if (!pfx_ok(&f->clients[i]))
			FAIL("[fleet] client prefix with host bits");
}

static void check_config(const struct sh_config *c)
{
	unsigned sel = 0;

	if (c->n_slices < 1 || c->n_slices > SH_CFG_MAX_SLICES)
		FAIL("%u slices", c->n_slices);
	if (c->n_leases > SH_CFG_MAX_LEASES)
		FAIL("%u leases", c->n_leases);
	if (c->workers < 1 || c->workers > SH_CFG_MAX_WORKERS)
		FAIL("%u workers", c->workers);
	if (!c->nat.udp_timeout || !c->nat.tcp_established_timeout ||
	    !c->nat.tcp_transitory_timeout || !c->nat.icmp_timeout)
		FAIL("a zero timeout");
	if (c->nat.max_flows < 1 || c->nat.max_flows > 1u << 26)
		FAIL("max_flows %u", c->nat.max_flows);
	if (!terminated(c->eal, sizeof(c->eal)) ||
	    !terminated(c->ctl_socket, sizeof(c->ctl_socket)) ||
	    !terminated(c->ctl_sock_path, sizeof(c->ctl_sock_path)) ||
	    !terminated(c->ctl_database, sizeof(c->ctl_database)) ||
	    !terminated(c->ctl_group, sizeof(c->ctl_group)) ||
	    !terminated(c->ctl_readers, sizeof(c->ctl_readers)) ||
	    !terminated(c->ctl_engine_user, sizeof(c->ctl_engine_user)) ||
	    !terminated(c->inside.device, sizeof(c->inside.device)) ||
	    !terminated(c->outside.device, sizeof(c->outside.device)) ||
	    !terminated(c->inside.mirror, sizeof(c->inside.mirror)) ||
	    !terminated(c->outside.mirror, sizeof(c->outside.mirror)))
		FAIL("a string without its NUL");
	if (!c->inside.present || !c->outside.present)
		FAIL("[inside] or [outside] missing");
	if (c->inside.has_address && !pfx_ok(&c->inside.address))
		FAIL("[inside] address with host bits in its prefix");
	if (c->outside.has_address && !pfx_ok(&c->outside.address))
		FAIL("[outside] address with host bits in its prefix");
	for (unsigned i = 0; i < c->n_slices; i++) {
		const struct sh_slice_cfg *s = &c->slices[i];

		if (s->lo < 1 || s->lo > s->hi)
			FAIL("slice %u: ports %u-%u", i, s->lo, s->hi);
		for (unsigned j = 0; j < i; j++)
			if (c->slices[j].ip == s->ip && c->slices[j].lo <= s->hi &&
			    s->lo <= c->slices[j].hi)
				FAIL("slices %u and %u overlap", j, i);
	}
	for (unsigned i = 0; i < c->n_leases; i++) {
		const struct sh_lease_cfg *l = &c->leases[i];
		bool inside = false;

		if (!terminated(l->name, sizeof(l->name)) || !l->name[0])
			FAIL("lease %u: empty or unterminated name", i);
		if (l->lo < 1 || l->lo > l->hi)
			FAIL("lease %s: ports %u-%u", l->name, l->lo, l->hi);
		for (unsigned j = 0; j < c->n_slices; j++)
			inside |= c->slices[j].ip == l->ip &&
				  c->slices[j].lo <= l->lo &&
				  l->hi <= c->slices[j].hi;
		if (!inside)
			FAIL("lease %s: not inside one slice", l->name);
		if (l->kind == SH_LEASE_NAT ?
			    l->n_clients < 1 ||
				    l->n_clients > SH_CFG_MAX_CLIENT_PFX :
			    l->kind != SH_LEASE_SOCKET || l->n_clients != 0)
			FAIL("lease %s: kind %d with %u clients", l->name,
			     l->kind, l->n_clients);
		for (unsigned k = 0; k < l->n_clients; k++)
			if (!pfx_ok(&l->clients[k]))
				FAIL("lease %s: client prefix with host bits",
				     l->name);
		sel += l->n_clients;
		for (unsigned j = 0; j < i; j++) {
			const struct sh_lease_cfg *o = &c->leases[j];

			if (!strcmp(o->name, l->name))
				FAIL("two leases named %s", l->name);
			if (o->ip == l->ip && o->lo <= l->hi && l->lo <= o->hi)
				FAIL("leases %s and %s overlap", o->name,
				     l->name);
		}
	}
	if (sel > SHOAL_MAX_SELECTORS)
		FAIL("%u selectors", sel);
	if (c->fleet.enabled)
		check_fleet(c);
}

/* "FILE:LINE: reason" with 1 <= LINE <= @lines. */
static void check_error(const char *err, size_t errlen, const char *path,
			unsigned lines)
{
	size_t pl = strlen(path);
	char *end;
	unsigned long line;

	if (!terminated(err, errlen))
		FAIL("error message not NUL terminated");
	if (strncmp(err, path, pl) || err[pl] != ':')
		FAIL("error message does not start with \"FILE:\": %s", err);
	line = strtoul(err + pl + 1, &end, 10);
	if (end == err + pl + 1 || end[0] != ':' || end[1] != ' ' || !end[2])
		FAIL("error message not \"FILE:LINE: reason\": %s", err);
	if (line < 1 || line > lines)
		FAIL("error names line %lu of a %u-line file: %s", line, lines,
		     err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sh_config a, b;
	static int fd = -1;
	static char path[64];
	char err[4096], err2[4096];
	unsigned lines = 1;
	int rc, rc2;

	if (fd < 0) {
		fd = memfd_create("fuzz_config", MFD_CLOEXEC);
		if (fd < 0)
			FAIL("harness: memfd_create: %s", strerror(errno));
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		FAIL("harness: cannot write the memfd");
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	memset(err, 0x55, sizeof(err));
	rc = sh_config_load(&a, path, err, sizeof(err));
	if (rc == 0)
		check_config(&a);
	else if (rc == -EINVAL)
		check_error(err, sizeof(err), path, lines);
	else
		FAIL("sh_config_load returned %d (%s)", rc,
		     terminated(err, sizeof(err)) ? err : "?");

	rc2 = sh_config_load(&b, path, err2, sizeof(err2));
	if (rc2 != rc || (rc == 0 && memcmp(&a, &b, sizeof(a))) ||
	    (rc != 0 && strcmp(err, err2)))
		FAIL("loading the same file twice gave different results");
	return 0;
}
