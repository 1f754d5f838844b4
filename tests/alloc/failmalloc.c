/*
 * Allocation-failure injection for the whole process: malloc and friends are
 * replaced (glibc routes its own and every library's allocations through
 * them) and the Nth allocation after failmalloc_arm(N) fails. Live
 * allocations are counted so a test can check that a failed operation
 * released everything it took.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failmalloc.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static void find_libarchive(void);
static int tracing = -1; /* KILN_ALLOC_TRACE, read at the first arm */

static atomic_long countdown = 0; /* 0: disarmed; else fail when it reaches 1 */
static atomic_long live = 0;
static atomic_long failed = 0;
static atomic_long armed_with = 0;

void failmalloc_arm(long n)
{
    find_libarchive();
    if (tracing < 0)
        tracing = getenv("KILN_ALLOC_TRACE") != NULL;
    atomic_store(&failed, 0);
    atomic_store(&armed_with, n);
    atomic_store(&countdown, n);
}

long failmalloc_count(void)
{
    return atomic_load(&armed_with) - atomic_load(&countdown);
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
 * failed, so the test exercises kiln's handling, not that bug. Its code's
 * address ranges are looked up once (dladdr on every allocation costs more
 * than the operations under test). */
#define MAX_RANGES 16
static uintptr_t la_lo[MAX_RANGES], la_hi[MAX_RANGES];
static atomic_int la_n = -1;

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    int *n = data;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libarchive"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum && *n < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        la_lo[*n] = info->dlpi_addr + ph->p_vaddr;
        la_hi[*n] = la_lo[*n] + ph->p_memsz;
        (*n)++;
    }
    return 0;
}

static void find_libarchive(void)
{
    if (atomic_load(&la_n) >= 0)
        return;
    int n = 0;
    dl_iterate_phdr(phdr_cb, &n);
    atomic_store(&la_n, n);
}

static bool from_libarchive(void *ret)
{
    uintptr_t a = (uintptr_t)ret;
    int n = atomic_load(&la_n);
    for (int i = 0; i < n; i++)
        if (a >= la_lo[i] && a < la_hi[i])
            return true;
    return false;
}

static bool should_fail_at(void *ret)
{
    if (atomic_load(&countdown) <= 0 || from_libarchive(ret))
        return false;
    bool f = should_fail();
    if (f && getenv("KILN_ALLOC_WHO")) { /* which call site the failure hits */
        Dl_info info;
        if (dladdr(ret, &info)) {
            const char *base = info.dli_saddr ? info.dli_saddr : info.dli_fbase;
            fprintf(stderr, "failing the allocation from %s+%#lx (%s)\n",
                    info.dli_sname ? info.dli_sname : "?",
                    (unsigned long)((const char *)ret - base), info.dli_fname);
        }
    }
    return f;
}


/* KILN_ALLOC_TRACE=1: remembers who made each allocation while armed, and
 * failmalloc_report() prints those still live (to find a leak's origin). */
#define TRACE_SLOTS 65536
static struct {
    void *p, *caller;
} trace[TRACE_SLOTS];
static atomic_flag trace_lock = ATOMIC_FLAG_INIT;
static void trace_add(void *p, void *caller)
{
    if (tracing <= 0 || !p || atomic_load(&countdown) <= 0)
        return;
    while (atomic_flag_test_and_set(&trace_lock))
        ;
    size_t h = ((uintptr_t)p >> 4) % TRACE_SLOTS;
    for (size_t i = 0; i < TRACE_SLOTS; i++, h = (h + 1) % TRACE_SLOTS)
        if (!trace[h].p) {
            trace[h].p = p;
            trace[h].caller = caller;
            break;
        }
    atomic_flag_clear(&trace_lock);
}

static void trace_del(void *p)
{
    if (tracing <= 0 || !p)
        return;
    while (atomic_flag_test_and_set(&trace_lock))
        ;
    size_t h = ((uintptr_t)p >> 4) % TRACE_SLOTS;
    for (size_t i = 0; i < TRACE_SLOTS && trace[h].p; i++, h = (h + 1) % TRACE_SLOTS)
        if (trace[h].p == p) {
            /* backward-shift deletion keeps the probe chains whole */
            size_t j = h;
            for (;;) {
                j = (j + 1) % TRACE_SLOTS;
                if (!trace[j].p)
                    break;
                size_t k = ((uintptr_t)trace[j].p >> 4) % TRACE_SLOTS;
                if ((h <= j) ? (h < k && k <= j) : (h < k || k <= j))
                    continue;
                trace[h] = trace[j];
                h = j;
            }
            trace[h].p = NULL;
            break;
        }
    atomic_flag_clear(&trace_lock);
}

void failmalloc_report(void)
{
    for (size_t i = 0; i < TRACE_SLOTS; i++)
        if (trace[i].p) {
            Dl_info info;
            if (dladdr(trace[i].caller, &info) && info.dli_sname)
                fprintf(stderr, "  live %p from %s+%#lx (%s)\n", trace[i].p, info.dli_sname,
                        (unsigned long)((char *)trace[i].caller - (char *)info.dli_saddr),
                        info.dli_fname);
            else
                fprintf(stderr, "  live %p from %s+%#lx\n", trace[i].p,
                        info.dli_fname ? info.dli_fname : "?",
                        (unsigned long)((char *)trace[i].caller - (char *)info.dli_fbase));
        }
}

void *malloc(size_t n)
{
    if (should_fail_at(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_malloc(n);
    if (p) {
        atomic_fetch_add(&live, 1);
        trace_add(p, __builtin_return_address(0));
    }
    return p;
}

void *calloc(size_t a, size_t b)
{
    if (should_fail_at(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_calloc(a, b);
    if (p) {
        atomic_fetch_add(&live, 1);
        trace_add(p, __builtin_return_address(0));
    }
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
    void *p = __libc_realloc(old, n);
    if (p && p != old) {
        trace_del(old);
        trace_add(p, __builtin_return_address(0));
    }
    return p;
}

void free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub(&live, 1);
    trace_del(p);
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
