#ifndef KILN_TEST_FAILMALLOC_H
#define KILN_TEST_FAILMALLOC_H
#include <stdbool.h>
void failmalloc_arm(long n);
void failmalloc_disarm(void);
long failmalloc_live(void);
bool failmalloc_failed(void);
#endif
