/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal to the NAT core: the pieces nat.c and persist.c share to
 * build a worker either on allocated memory or on a segment (nat.h
 * "persist.c" has the design).
 */
#ifndef SHOAL_NAT_PERSIST_H
#define SHOAL_NAT_PERSIST_H

#include "nat.h"

/* The worker without tables, @p checked; NULL with errno. */
struct nat_worker *nat_worker_alloc(const struct nat_params *p);

/* Every entry free, lowest index handed out first. */
void nat_free_stack_fill(struct nat_table *t);

/* Point @w's tables into @seg and zero them, header written, the
 * segment in use (not clean). */
void nat_seg_init(struct nat_worker *w, void *seg);

#endif /* SHOAL_NAT_PERSIST_H */
