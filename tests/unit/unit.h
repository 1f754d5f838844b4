/* What the unit tests share. */
#ifndef KILN_TEST_UNIT_H
#define KILN_TEST_UNIT_H

#include <stdlib.h>

/* Where a test makes its temporaries: the TMPDIR that tests/unit/run.sh
 * gives it (and checks is empty at the end), else /tmp. */
static inline const char *test_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

#endif
