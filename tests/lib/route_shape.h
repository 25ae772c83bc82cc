/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Random route tables shaped like the Internet's, for the FIB's test
 * (tests/unit/test_fib.c) and benchmark (bench/fib_bench.c): a
 * deterministic generator, so a failure reproduces, and the prefix-length
 * mix of a full table.
 */
#ifndef SHOAL_TEST_ROUTE_SHAPE_H
#define SHOAL_TEST_ROUTE_SHAPE_H

#include <stdint.h>

/* xorshift64*: the next 32 random bits of state @s (never 0). */
static inline uint32_t sh_xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 0x2545f4914f6cdd1dull) >> 32);
}

/* A prefix length drawn from @s: mostly /24, then /22-/23, /20-/21,
 * /16-/19, a few shorter and a few longer than /24. */
static inline uint8_t sh_route_len(uint64_t *s)
{
	uint32_t p = sh_xorshift(s) % 1000;

	if (p < 580)
		return 24;
	if (p < 760)
		return (uint8_t)(22 + p % 2);
	if (p < 880)
		return (uint8_t)(20 + p % 2);
	if (p < 970)
		return (uint8_t)(16 + p % 4);
	if (p < 990)
		return (uint8_t)(8 + p % 8);
	return (uint8_t)(25 + p % 8);
}

#endif /* SHOAL_TEST_ROUTE_SHAPE_H */
