#include "fuzz_common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Large enough for any document kiln reads (16 MiB configs), small enough
 * that an expanding input cannot take the machine's memory (tmpfs). */
#define FZ_FSIZE_MAX (64ull << 20)

char fz_scratch[4096];

static void fz_cleanup(void)
{
    if (fz_scratch[0])
        kiln_rm_rf(fz_scratch);
}

void fz_init(void)
{
    if (fz_scratch[0])
        return;
    const char *base = getenv("KILN_FUZZ_TMP");
    struct stat st;
    if (!base || !*base)
        base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
                   ? "/dev/shm"
                   : (getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(fz_scratch, sizeof(fz_scratch), "%s/kiln-fuzz-XXXXXX", base);
    if (!mkdtemp(fz_scratch)) {
        perror("kiln fuzz: mkdtemp");
        abort();
    }
    atexit(fz_cleanup);
    char tmp[4096];
    fz_path(tmp, "tmp");
    fz_mkdir(tmp);
    setenv("TMPDIR", tmp, 1);
    struct rlimit rl = {FZ_FSIZE_MAX, FZ_FSIZE_MAX};
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, SIG_IGN);
}

void fz_debug(const char *what, int rc, const struct kiln_error *err)
{
    static int on = -1;
    if (on < 0)
        on = getenv("KILN_FUZZ_DEBUG") != NULL;
    if (on)
        fprintf(stderr, "%s: %d%s%s\n", what, rc, rc < 0 ? ": " : "",
                rc < 0 && err ? err->message : "");
}

void fz_path(char out[4096], const char *name)
{
    snprintf(out, 4096, "%s/%s", fz_scratch, name);
}

void fz_write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(path);
        abort();
    }
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror(path);
            abort();
        }
        c += w;
        n -= (size_t)w;
    }
    close(fd);
}

void fz_mkdir(const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        perror(path);
        abort();
    }
}

void fz_rm_rf(const char *path)
{
    kiln_rm_rf(path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        fprintf(stderr, "kiln fuzz: cannot remove %s\n", path);
        abort();
    }
}

size_t fz_split(const uint8_t *data, size_t size, const char *sep, size_t sep_len, char **parts,
                size_t *lens, size_t max)
{
    size_t n = 0, start = 0;
    while (n + 1 < max) {
        const uint8_t *hit = NULL;
        if (size - start >= sep_len)
            hit = memmem(data + start, size - start, sep, sep_len);
        if (!hit)
            break;
        size_t l = (size_t)(hit - data) - start;
        parts[n] = malloc(l + 1);
        memcpy(parts[n], data + start, l);
        parts[n][l] = '\0';
        if (lens)
            lens[n] = l;
        n++;
        start += l + sep_len;
    }
    size_t l = size - start;
    parts[n] = malloc(l + 1);
    if (l)
        memcpy(parts[n], data + start, l);
    parts[n][l] = '\0';
    if (lens)
        lens[n] = l;
    return n + 1;
}

void fz_parts_free(char **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
}

void fz_digest(const void *p, size_t n, char out[KILN_DIGEST_MAX])
{
    if (kiln_sha256_buf(p, n, out, NULL) < 0)
        abort();
}

void fz_tar_init(struct fz_tar *t)
{
    kiln_buf_sink_init(&t->sink);
    kiln_tar_writer_init(&t->w, &t->sink.sink);
}

void fz_tar_file(struct fz_tar *t, const char *name, const void *p, size_t n)
{
    struct kiln_error e = {0};
    if (kiln_tar_add_bytes(&t->w, name, p, n, 0, &e) < 0) {
        fprintf(stderr, "kiln fuzz: tar %s: %s\n", name, e.message);
        abort();
    }
}

void fz_tar_dir(struct fz_tar *t, const char *name)
{
    struct kiln_error e = {0};
    if (kiln_tar_add_dir(&t->w, name, 0, &e) < 0) {
        fprintf(stderr, "kiln fuzz: tar %s: %s\n", name, e.message);
        abort();
    }
}

void fz_tar_write(struct fz_tar *t, const char *path)
{
    struct kiln_error e = {0};
    if (kiln_tar_finish(&t->w, &e) < 0) {
        fprintf(stderr, "kiln fuzz: tar: %s\n", e.message);
        abort();
    }
    fz_write_file(path, t->sink.buf.data, t->sink.buf.len);
    kiln_buf_free(&t->sink.buf);
}
