/*
 * Shared helpers of the libFuzzer targets. Every target works in one private
 * scratch directory per process (on /dev/shm when it exists, for speed),
 * which is also kiln's $TMPDIR, and bounds file sizes so that inputs that
 * legitimately expand (sparse members, compression bombs) fail with EFBIG
 * instead of filling memory.
 */
#ifndef KILN_FUZZ_COMMON_H
#define KILN_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Scratch directory of this process (created by fz_init, removed at exit). */
extern char fz_scratch[4096];

/* Creates the scratch directory, sets TMPDIR to a directory inside it, caps
 * file sizes (RLIMIT_FSIZE) and ignores SIGXFSZ. Idempotent. */
void fz_init(void);

/* With KILN_FUZZ_DEBUG set, prints what a call returned (to check seeds:
 * KILN_FUZZ_DEBUG=1 ./fuzz_x -runs=0 corpus/fuzz_x). */
void fz_debug(const char *what, int rc, const struct kiln_error *err);

/* "<scratch>/<name>" into out (static size 4096). */
void fz_path(char out[4096], const char *name);

/* Writes n bytes to path (created or truncated); aborts on failure. */
void fz_write_file(const char *path, const void *p, size_t n);

/* mkdir -p of one directory level; aborts unless it exists afterwards. */
void fz_mkdir(const char *path);

/* rm -rf, then aborts if the path still exists. */
void fz_rm_rf(const char *path);

/* Splits data at every occurrence of sep (sep_len bytes) into at most max
 * NUL-terminated malloc'ed parts (the last part keeps any further
 * separators). Returns the number of parts (at least 1). */
size_t fz_split(const uint8_t *data, size_t size, const char *sep, size_t sep_len, char **parts,
                size_t *lens, size_t max);
void fz_parts_free(char **parts, size_t n);

/* "sha256:<hex>" of a buffer; aborts on failure. */
void fz_digest(const void *p, size_t n, char out[KILN_DIGEST_MAX]);

/* A tar archive in memory, written with kiln's own tar writer. */
struct fz_tar {
    struct kiln_buf_sink sink;
    struct kiln_tar_writer w;
};
void fz_tar_init(struct fz_tar *t);
void fz_tar_file(struct fz_tar *t, const char *name, const void *p, size_t n);
void fz_tar_dir(struct fz_tar *t, const char *name);
/* Finishes the archive and writes it to path; frees the buffer. */
void fz_tar_write(struct fz_tar *t, const char *path);

#endif
