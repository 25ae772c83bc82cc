/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Publishing an immutable snapshot (a lease set, a FIB) to the workers.
 *
 * Readers (the workers) load their pointer once per burst with acquire
 * order and report a quiescent state to the engine's rte_rcu_qsbr once
 * per loop iteration, so a snapshot they loaded is never used across that
 * report. The writer stores the new pointer in every worker, then waits
 * until every worker has reported once: from then on no worker can still
 * hold the snapshot the stores replaced, and the writer frees it.
 */
#ifndef SHOAL_RCU_H
#define SHOAL_RCU_H

#include <stddef.h>

#include <rte_rcu_qsbr.h>

/*
 * Store @p, with release order, into @n pointer slots: the first at
 * @slot0, the others @stride bytes apart (one field of each element of a
 * worker array: &workers[0].fib, sizeof(workers[0])). Returns once every
 * thread registered with @qsbr has passed a quiescent state after the
 * stores; the caller then frees what the slots held before. Blocks while
 * a registered thread is not reporting. Main lcore (never a reader).
 */
void sh_rcu_publish(struct rte_rcu_qsbr *qsbr, void *slot0, size_t stride,
		    unsigned n, const void *p);

#endif /* SHOAL_RCU_H */
