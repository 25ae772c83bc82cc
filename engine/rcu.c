/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdint.h>

#include "rcu.h"

void sh_rcu_publish(struct rte_rcu_qsbr *qsbr, void *slot0, size_t stride,
		    unsigned n, const void *p)
{
	char *slot = slot0;
	unsigned i;

	for (i = 0; i < n; i++, slot += stride)
		__atomic_store_n((void **)(void *)slot, (void *)(uintptr_t)p,
				 __ATOMIC_RELEASE);
	rte_rcu_qsbr_synchronize(qsbr, RTE_QSBR_THRID_INVALID);
}
