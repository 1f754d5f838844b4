/*
 * Allocation-failure injection for the whole process: malloc and friends are
 * replaced (glibc routes its own and every library's allocations through
 * them) and the Nth allocation after failmalloc_arm(N) fails. Live
 * allocations are counted so a test can check that a failed operation
 * released everything it took.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "failmalloc.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_long countdown = 0; /* 0: disarmed; else fail when it reaches 1 */
static atomic_long live = 0;
static atomic_long failed = 0;

void failmalloc_arm(long n)
{
    atomic_store(&failed, 0);
    atomic_store(&countdown, n);
}

void failmalloc_disarm(void)
{
    atomic_store(&countdown, 0);
}

long failmalloc_live(void)
{
    return atomic_load(&live);
}

bool failmalloc_failed(void)
{
    return atomic_load(&failed) != 0;
}

static bool should_fail(void)
{
    long c = atomic_load(&countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&countdown, &c, c - 1)) {
            if (c == 1) {
                atomic_store(&failed, 1);
                return true;
            }
            return false;
        }
    }
    return false;
}

/* libarchive 3.6 crashes when some of its allocations fail (a NULL entry
 * used in archive_read_next_header); its allocations are counted but never
 * failed, so the test exercises kiln's handling, not that bug. */
static bool from_libarchive(void *ret)
{
    Dl_info info;
    return dladdr(ret, &info) && info.dli_fname && strstr(info.dli_fname, "libarchive");
}

static bool should_fail_at(void *ret)
{
    if (atomic_load(&countdown) <= 0 || from_libarchive(ret))
        return false;
    return should_fail();
}


void *malloc(size_t n)
{
    if (should_fail_at(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_malloc(n);
    if (p)
        atomic_fetch_add(&live, 1);
    return p;
}

void *calloc(size_t a, size_t b)
{
    if (should_fail_at(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_calloc(a, b);
    if (p)
        atomic_fetch_add(&live, 1);
    return p;
}

void *realloc(void *old, size_t n)
{
    if (!old)
        return malloc(n);
    if (n == 0) {
        free(old);
        return NULL;
    }
    if (should_fail_at(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(old, n);
}

void free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub(&live, 1);
    __libc_free(p);
}

void *memalign(size_t al, size_t n)
{
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_memalign(al, n);
    if (p)
        atomic_fetch_add(&live, 1);
    return p;
}

void *aligned_alloc(size_t al, size_t n)
{
    return memalign(al, n);
}

int posix_memalign(void **out, size_t al, size_t n)
{
    void *p = memalign(al, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
