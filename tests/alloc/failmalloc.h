#ifndef KILN_TEST_FAILMALLOC_H
#define KILN_TEST_FAILMALLOC_H
#include <stdbool.h>
void failmalloc_arm(long n);
void failmalloc_disarm(void);
long failmalloc_live(void);
bool failmalloc_failed(void);
/* Allocations counted since failmalloc_arm (read before disarming). */
long failmalloc_count(void);
/* With KILN_ALLOC_TRACE set: prints the allocations made while armed that
 * are still live, with their callers. */
void failmalloc_report(void);
#endif
