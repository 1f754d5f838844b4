/*
 * Fails the Nth allocation, for every N, through whole operations of the
 * library — a build (tree walk, tar, gzip on worker threads, JSON, outputs),
 * a copy between layouts and archives, an inspect, an unpack, a validate, an
 * export, a flatten and a rebase, the
 * signature payloads (built and parsed), (when asked) a
 * multi-stage Dockerfile build, and with
 * KILN_ALLOC_REGISTRY=HOST:PORT a push and a pull through the HTTP code — and checks
 * each time: no crash, a clean error (out of memory, or another clean
 * failure), no allocation left behind, and no output left at the
 * destination.
 *
 * Push and pull make thousands of allocations (libcurl's), each run taking a
 * tenth of a second against the registry: they run in a fork server. The
 * process initialises everything once (a clean run: curl_global_init, the
 * registry's repositories), counts the allocations K of one clean run in a
 * child, then forks one child per N = 1..K (and a few past it), KILN_ALLOC_JOBS
 * (default 2) at a time; the child fails the Nth allocation, runs the
 * operation, checks its own leaks and output and reports through a pipe; the
 * parent judges crashes, hangs and, for a push, a tag left at an image the
 * registry does not hold whole (read from the registry's storage directory,
 * KILN_ALLOC_REGISTRY_DATA).
 *
 * Environment: KILN_ALLOC_OPS (comma-separated: build, copy, inspect,
 * unpack, validate, export, flatten, rebase, sign, push, pull; default all of those; dockerfile only when named, see
 * main()), KILN_ALLOC_JOBS; to debug one failure,
 * KILN_ALLOC_FROM=N (local operations: start at allocation N), KILN_ALLOC_ONLY=N
 * (push, pull: that allocation and the next), KILN_ALLOC_WHO=1 (print the call
 * site of each failed allocation) with KILN_ALLOC_TRACE=1
 * (prints who made the allocations a failed run left live).
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "failmalloc.h"
#include "kiln/kiln.h"
#include "sign/sign.h"

static char dir[256];
static char outdir[320]; /* where operations write: dir/out, or a child's own */

static void sh(const char *fmt, const char *arg)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), fmt, arg, arg, arg, arg);
    if (system(cmd) != 0) {
        fprintf(stderr, "setup failed: %s\n", cmd);
        exit(2);
    }
}

/* kiln_build_new, its failure an out-of-memory error in err. */
static kiln_build *new_build(struct kiln_error *err)
{
    kiln_build *b = kiln_build_new();
    if (!b) {
        err->code = KILN_ERR_NOMEM;
        snprintf(err->message, sizeof(err->message), "out of memory");
    }
    return b;
}

static int op_build(bool dry, struct kiln_error *err)
{
    char out[512], arch[512];
    snprintf(out, sizeof(out), "oci:%s/layout:1", outdir);
    snprintf(arch, sizeof(arch), "docker-archive:%s/img.tar", outdir);
    char tree[512];
    snprintf(tree, sizeof(tree), "%s/tree", dir);
    kiln_build *b = new_build(err);
    if (!b)
        return -1;
    char digest[KILN_DIGEST_MAX];
    int rc = kiln_build_add_rootfs(b, tree, err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_ENV, "A=1", err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_CMD, "/bin/sh -c 'echo hi'", err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_TAG, "example.com/a/b:1", err);
    if (rc == 0)
        rc = kiln_build_add_output(b, out, err);
    if (rc == 0)
        rc = kiln_build_add_output(b, arch, err);
    kiln_build_set_source_date_epoch(b, 1);
    kiln_build_set_jobs(b, 2);
    if (rc == 0 && !dry)
        rc = kiln_build_run(b, digest, err);
    kiln_build_free(b);
    return rc;
}

static int op_copy(bool dry, struct kiln_error *err)
{
    (void)dry;
    char src[512], dst[512];
    snprintf(src, sizeof(src), "docker-archive:%s/fixture/img.tar", dir);
    snprintf(dst, sizeof(dst), "oci-archive:%s/copy.tar:1", outdir);
    char digest[KILN_DIGEST_MAX];
    return kiln_copy(src, dst, NULL, NULL, digest, err);
}

static int op_inspect(bool dry, struct kiln_error *err)
{
    (void)dry;
    char src[512];
    snprintf(src, sizeof(src), "oci:%s/fixture/layout:1", dir);
    char *out = NULL;
    size_t len;
    int rc = kiln_inspect(src, KILN_INSPECT_JSON, NULL, NULL, &out, &len, err);
    free(out);
    return rc;
}

static int op_unpack(bool dry, struct kiln_error *err)
{
    (void)dry;
    char src[512], dst[512];
    snprintf(src, sizeof(src), "oci:%s/fixture/layout:1", dir);
    snprintf(dst, sizeof(dst), "%s/unpacked", outdir);
    return kiln_unpack(src, dst, NULL, NULL, err);
}

/* kiln export: the layers merged into one tar (image/flatten.c) */
static int op_export(bool dry, struct kiln_error *err)
{
    (void)dry;
    char src[512], dst[512];
    snprintf(src, sizeof(src), "oci:%s/fixture/layout:1", dir);
    snprintf(dst, sizeof(dst), "%s/export.tar", outdir);
    return kiln_export(src, dst, NULL, NULL, err);
}

/* kiln flatten: a build whose one layer is that tar */
static int op_flatten(bool dry, struct kiln_error *err)
{
    char src[512], dst[512];
    snprintf(src, sizeof(src), "oci:%s/fixture/layout:1", dir);
    snprintf(dst, sizeof(dst), "oci:%s/flat:1", outdir);
    kiln_build *b = new_build(err);
    if (!b)
        return -1;
    char digest[KILN_DIGEST_MAX];
    int rc = kiln_build_set(b, KILN_SET_FROM, src, err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_CREATED, "base", err);
    if (rc == 0)
        rc = kiln_build_add_output(b, dst, err);
    kiln_build_set_squash(b, true);
    kiln_build_set_jobs(b, 2);
    if (rc == 0 && !dry)
        rc = kiln_build_run(b, digest, err);
    kiln_build_free(b);
    return rc;
}

/* A fixture made by the library without injection: TREE (from FROM, if
 * any) written to the fixture layout as TAG. */
static int make_fixture(const char *from, const char *tree, const char *tag, struct kiln_error *err)
{
    char out[512], t[512];
    snprintf(out, sizeof(out), "oci:%s/fixture/layout:%s", dir, tag);
    snprintf(t, sizeof(t), "%s/%s", dir, tree);
    kiln_build *b = new_build(err);
    if (!b)
        return -1;
    char digest[KILN_DIGEST_MAX];
    int rc = from ? kiln_build_set(b, KILN_SET_FROM, from, err) : 0;
    if (rc == 0)
        rc = kiln_build_add_rootfs(b, t, err);
    if (rc == 0)
        rc = kiln_build_add_output(b, out, err);
    kiln_build_set_source_date_epoch(b, 1);
    if (rc == 0)
        rc = kiln_build_run(b, digest, err);
    kiln_build_free(b);
    return rc;
}

/* kiln rebase: the app (fixture 1 plus a layer) moved onto another base */
static int op_rebase(bool dry, struct kiln_error *err)
{
    char app[512], old[512], nw[512], dst[512];
    snprintf(app, sizeof(app), "oci:%s/fixture/layout:app", dir);
    snprintf(old, sizeof(old), "oci:%s/fixture/layout:1", dir);
    snprintf(nw, sizeof(nw), "oci:%s/fixture/layout:new", dir);
    snprintf(dst, sizeof(dst), "oci:%s/rebased:1", outdir);
    kiln_build *b = new_build(err);
    if (!b)
        return -1;
    char digest[KILN_DIGEST_MAX];
    int rc = kiln_build_set(b, KILN_SET_FROM, app, err);
    if (rc == 0)
        rc = kiln_build_set_rebase(b, old, nw, err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_CREATED, "base", err);
    if (rc == 0)
        rc = kiln_build_add_output(b, dst, err);
    if (rc == 0 && !dry)
        rc = kiln_build_run(b, digest, err);
    kiln_build_free(b);
    return rc;
}

/* Every check of kiln validate on the fixture image: out of memory is an
 * error, never a finding. */
static int op_validate(bool dry, struct kiln_error *err)
{
    (void)dry;
    char src[512];
    snprintf(src, sizeof(src), "oci:%s/fixture/layout:1", dir);
    struct kiln_finding *f = NULL;
    size_t n = 0;
    int rc = kiln_validate(src, NULL, NULL, &f, &n, err);
    size_t errors = 0;
    for (size_t i = 0; i < n; i++)
        errors += f[i].severity == KILN_SEVERITY_ERROR;
    kiln_findings_free(f, n);
    if (rc == 0 && errors) {
        err->code = KILN_ERR_INTERNAL;
        snprintf(err->message, sizeof(err->message), "validate found %zu errors in the fixture",
                 errors);
        return -1;
    }
    return rc;
}

/* A multi-stage Dockerfile on the fixture image: ARG, FROM, COPY (globs,
 * --chown by name, --from a stage), ADD of a tarball, .dockerignore, and the
 * config instructions. The stages' trees go under outdir, so a tree left
 * behind counts as output left behind. */
/* The signature payloads kiln builds and parses (kiln and jansson). The
 * key and signature code is left out: under injection OpenSSL's PEM, PKCS#8
 * and EVP_DigestSign paths keep allocations that a clean run does not (its
 * lazily built per-thread and method-store state), which this harness counts
 * as leaks; that needs sorting out before they can be judged here. */
static int op_sign(bool dry, struct kiln_error *err)
{
    (void)dry;
    struct kiln_buf payload = {0};
    struct kiln_sig_payload p = {0};
    int rc = kiln_sig_payload_build("sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
                                    "0123456789abcdef",
                                    "example.com/a/b:1", "kiln", 1, &payload, err);
    if (rc == 0)
        rc = kiln_sig_payload_parse(payload.data, payload.len, &p, err);
    char tag[80];
    if (rc == 0)
        rc = kiln_sig_tag(p.digest, tag, err);
    kiln_sig_payload_free(&p);
    kiln_buf_free(&payload);
    return rc;
}

static int op_dockerfile(bool dry, struct kiln_error *err)
{
    char ctx[512], base[600], out[512], arch[512];
    snprintf(ctx, sizeof(ctx), "%s/ctx", dir);
    snprintf(base, sizeof(base), "BASE=oci:%s/fixture/layout:1", dir);
    snprintf(out, sizeof(out), "oci:%s/layout:1", outdir);
    snprintf(arch, sizeof(arch), "docker-archive:%s/img.tar", outdir);
    const char *args[] = {base, "MODE=test"};
    kiln_build *b = new_build(err);
    if (!b)
        return -1;
    struct kiln_dockerfile_opts o = {.context = ctx,
                                     .build_args = args,
                                     .nbuild_args = 2,
                                     .tmpdir = outdir};
    kiln_dockerfile *df = NULL;
    kiln_build_set_source_date_epoch(b, 1);
    kiln_build_set_jobs(b, 2);
    int rc = kiln_build_add_output(b, out, err);
    if (rc == 0)
        rc = kiln_build_add_output(b, arch, err);
    if (rc == 0)
        rc = kiln_dockerfile_build(b, &o, &df, err);
    char digest[KILN_DIGEST_MAX];
    if (rc == 0 && !dry)
        rc = kiln_build_run(b, digest, err);
    kiln_build_free(b);
    kiln_dockerfile_free(df);
    return rc;
}

static const char *registry;
static long push_serial;
static pid_t run_id; /* repositories alloc/push<run_id>-<serial>: unique per run */

static int op_push(bool dry, struct kiln_error *err)
{
    (void)dry;
    char src[512], dst[512];
    snprintf(src, sizeof(src), "oci:%s/fixture/tiny:1", dir);
    /* a new repository each time, so every upload path runs */
    snprintf(dst, sizeof(dst), "docker://%s/alloc/push%ld-%ld:1", registry, (long)run_id,
             push_serial++);
    struct kiln_remote_opts o;
    kiln_remote_opts_init(&o);
    o.retries = 0;
    if (getenv("KILN_STALL_SECONDS"))
        o.stall_seconds = (unsigned)strtoul(getenv("KILN_STALL_SECONDS"), NULL, 10);
    char digest[KILN_DIGEST_MAX];
    return kiln_copy(src, dst, NULL, &o, digest, err);
}

static int op_pull(bool dry, struct kiln_error *err)
{
    (void)dry;
    char src[512], dst[512];
    snprintf(src, sizeof(src), "docker://%s/alloc/push%ld-0:1", registry, (long)run_id);
    snprintf(dst, sizeof(dst), "oci:%s/pulled:1", outdir);
    struct kiln_remote_opts o;
    kiln_remote_opts_init(&o);
    o.retries = 0;
    if (getenv("KILN_STALL_SECONDS"))
        o.stall_seconds = (unsigned)strtoul(getenv("KILN_STALL_SECONDS"), NULL, 10);
    char digest[KILN_DIGEST_MAX];
    return kiln_copy(src, dst, NULL, &o, digest, err);
}

static char tmpdir[340]; /* TMPDIR of the operations: must be empty after each */

static bool dir_empty(const char *p)
{
    DIR *d = opendir(p);
    if (!d)
        return false;
    struct dirent *de;
    bool empty = true;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            empty = false;
    closedir(d);
    return empty;
}

static bool out_empty(void)
{
    return dir_empty(outdir);
}

static void clear_out(void)
{
    sh("rm -rf %s/out && mkdir %s/out", dir);
    sh("rm -rf %s/tmp && mkdir %s/tmp", dir);
}


static int run(const char *name, int (*op)(bool, struct kiln_error *))
{
    struct kiln_error err = {0};
    clear_out();
    if (op(false, &err) != 0) { /* warm-up: one-time library state */
        fprintf(stderr, "%s: the operation fails without injection: %s\n", name, err.message);
        return 1;
    }
    int failures = 0;
    /* KILN_ALLOC_FROM=N: start at allocation N (to debug one failure) */
    const char *from = getenv("KILN_ALLOC_FROM");
    long n;
    for (n = from && atol(from) > 0 ? atol(from) : 1;; n++) {
        clear_out();
        long before = failmalloc_live();
        memset(&err, 0, sizeof(err));
        failmalloc_arm(n);
        int rc = op(false, &err);
        bool hit = failmalloc_failed();
        failmalloc_disarm();
        long after = failmalloc_live();
        if (!hit) {
            if (rc != 0) {
                fprintf(stderr, "%s: fails with no injected failure: %s\n", name, err.message);
                failures++;
            }
            break; /* every allocation has been failed once */
        }
        if (rc == 0) {
            /* a failure the code handled by other means (a retry, an optional
             * cache): fine, as long as nothing leaked */
        } else if (!err.message[0] || err.code == KILN_OK) {
            fprintf(stderr, "%s: allocation %ld: error without a message\n", name, n);
            failures++;
        }
        /* the local operations use no library cache: any difference is a leak
         * (the HTTP ones, in the fork server, see judge()) */
        if (after != before) {
            fprintf(stderr, "%s: allocation %ld failed: %ld allocations leaked (%s)\n", name, n,
                    after - before, err.message);
            failures++;
        }
        if (rc != 0 && !out_empty()) {
            fprintf(stderr, "%s: allocation %ld failed: output left behind (%s)\n", name, n,
                    err.message);
            failures++;
        }
        /* whether the operation failed or coped: its temporaries are gone */
        if (!dir_empty(tmpdir)) {
            fprintf(stderr, "%s: allocation %ld failed: temporary files left in TMPDIR (%s)\n",
                    name, n, err.message[0] ? err.message : "the operation succeeded");
            sh("ls -la %s >&2", tmpdir);
            failures++;
        }
        if (failures > 20)
            break;
    }
    printf("%s: failed each of %ld allocations in turn: %d problems\n", name, n - 1, failures);
    return failures;
}

/* ---- the fork server (push, pull) ---- */

struct result {
    long n, serial;
    int rc, code;
    bool hit, output_left, tmp_left;
    long leaked, count;
    char message[512];
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    remove(p);
    return 0;
}

static void rm_rf(const char *p)
{
    nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* In the child: fails the nth allocation (n = 0: none, counts them), runs
 * the operation, checks leaks and output, reports, exits. */
static void child(long n, long serial, int (*op)(bool, struct kiln_error *), int wfd)
{
    alarm(60); /* a hang is killed by SIGALRM and reported as such */
    snprintf(outdir, sizeof(outdir), "%s/o%ld", dir, n);
    mkdir(outdir, 0755);
    snprintf(tmpdir, sizeof(tmpdir), "%s/t%ld", dir, n);
    mkdir(tmpdir, 0700);
    setenv("TMPDIR", tmpdir, 1);
    push_serial = serial;
    struct result r = {.n = n, .serial = serial};
    struct kiln_error err = {0};
    /* OpenSSL keeps a per-thread error queue whose entries hold strings (the
     * https probe of a plain-http registry leaves some): how many depends on
     * which errors happened, so it is released before counting, both times */
    OPENSSL_thread_stop();
    long before = failmalloc_live();
    failmalloc_arm(n ? n : __LONG_MAX__);
    r.rc = op(false, &err);
    r.hit = failmalloc_failed();
    r.count = failmalloc_count();
    failmalloc_disarm();
    OPENSSL_thread_stop();
    r.leaked = failmalloc_live() - before;
    if (r.leaked > 0 && getenv("KILN_ALLOC_TRACE")) {
        fprintf(stderr, "allocation %ld: %ld leaked:\n", n, r.leaked);
        failmalloc_report();
    }
    r.code = err.code;
    snprintf(r.message, sizeof(r.message), "%s", err.message);
    r.output_left = !out_empty();
    r.tmp_left = !dir_empty(tmpdir);
    rm_rf(outdir);
    rm_rf(tmpdir);
    if (write(wfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(3);
    _exit(0);
}

/* A push that failed may still have set its tag (a failure after the
 * manifest was stored): then the image must be whole in the registry's
 * storage. Returns false for a tag at an incomplete image. */
static const char *reg_data;
static long tags_after_failure;

static bool blob_stored(const char *repo, const char *digest)
{
    char p[1024];
    struct stat st;
    if (!digest || strncmp(digest, "sha256:", 7) || strlen(digest) != 71)
        return false;
    snprintf(p, sizeof(p), "%s/docker/registry/v2/repositories/%s/_layers/sha256/%s/link",
             reg_data, repo, digest + 7);
    if (stat(p, &st) < 0)
        return false;
    snprintf(p, sizeof(p), "%s/docker/registry/v2/blobs/sha256/%.2s/%s/data", reg_data,
             digest + 7, digest + 7);
    return stat(p, &st) == 0;
}

static bool tag_sound(long serial)
{
    if (!reg_data || !*reg_data)
        return true;
    char repo[64], p[1024];
    snprintf(repo, sizeof(repo), "alloc/push%ld-%ld", (long)run_id, serial);
    snprintf(p, sizeof(p), "%s/docker/registry/v2/repositories/%s/_manifests/tags/1/current/link",
             reg_data, repo);
    FILE *f = fopen(p, "r");
    if (!f)
        return true; /* no tag */
    tags_after_failure++;
    char digest[128] = "";
    bool ok = fgets(digest, sizeof(digest), f) != NULL;
    fclose(f);
    digest[strcspn(digest, "\n")] = '\0';
    if (!ok || strlen(digest) != 71)
        return false;
    snprintf(p, sizeof(p), "%s/docker/registry/v2/blobs/sha256/%.2s/%s/data", reg_data,
             digest + 7, digest + 7);
    json_t *m = json_load_file(p, 0, NULL);
    ok = m && blob_stored(repo, json_string_value(json_object_get(json_object_get(m, "config"),
                                                                   "digest")));
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(m, "layers"), i, l)
    {
        ok = ok && blob_stored(repo, json_string_value(json_object_get(l, "digest")));
    }
    json_decref(m);
    return ok;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct slot {
    pid_t pid;
    int rfd;
    long n;
};

static int judge(const char *name, const struct result *r, bool is_push, long *hits)
{
    int failures = 0;
    if (!r->hit) {
        if (r->rc != 0) {
            fprintf(stderr, "%s: fails with no injected failure (N=%ld): %s\n", name, r->n,
                    r->message);
            failures++;
        }
        return failures;
    }
    (*hits)++;
    if (r->rc != 0 && (!r->message[0] || r->code == KILN_OK)) {
        fprintf(stderr, "%s: allocation %ld: error without a message (code %d, '%s')\n", name,
                r->n, r->code, r->message);
        failures++;
    }
    /* libcurl keeps connection and resolver caches across transfers of a
     * handle: when it absorbs a failure itself (the operation still
     * succeeds), its caches may hold a different number of blocks. Leaks are
     * judged when the failure reached kiln (rc != 0); fewer blocks than before
     * means a library released cached state, not a leak. (OpenSSL's
     * per-thread error queue is released before counting: child().) */
    if (r->rc != 0 && r->leaked > 0) {
        fprintf(stderr, "%s: allocation %ld failed: %ld allocations leaked (%s)\n", name, r->n,
                r->leaked, r->message);
        failures++;
    }
    if (r->rc != 0 && r->output_left) {
        fprintf(stderr, "%s: allocation %ld failed: output left behind (%s)\n", name, r->n,
                r->message);
        failures++;
    }
    if (r->tmp_left) {
        fprintf(stderr, "%s: allocation %ld failed: temporary files left in TMPDIR (%s)\n", name,
                r->n, r->message[0] ? r->message : "the operation succeeded");
        failures++;
    }
    if (is_push && r->rc != 0 && !tag_sound(r->serial)) {
        fprintf(stderr, "%s: allocation %ld failed: the tag names an incomplete image (%s)\n",
                name, r->n, r->message);
        failures++;
    }
    return failures;
}

static int run_forked(const char *name, int (*op)(bool, struct kiln_error *), bool is_push)
{
    double t0 = now_s();
    /* KILN_ALLOC_ONLY=N: that allocation only (with KILN_ALLOC_TRACE, to debug) */
    const char *on = getenv("KILN_ALLOC_ONLY");
    long only_n = on ? strtol(on, NULL, 10) : 0;
    const char *js = getenv("KILN_ALLOC_JOBS");
    int jobs = js && atoi(js) > 0 ? atoi(js) : 2;
    if (jobs > 64)
        jobs = 64;
    struct slot slots[64];
    memset(slots, 0, sizeof(slots));
    long serial_base = push_serial; /* one new repository per child */
    long limit = 0, n = 0, hits = 0, max_hit = 0, count = 0, not_hit = 0;
    int failures = 0, inflight = 0;
    const long margin = 16; /* runs past the clean count: counts vary a little */
    for (;;) {
        if (only_n && n > 0 && n < only_n)
            n = only_n;
        if (only_n && n > only_n)
            limit = n - 1; /* stop */
        /* child 0 counts the allocations of a clean run; the rest fail one each */
        while (inflight < jobs && failures <= 20 && (n == 0 || (limit && n <= limit))) {
            int i = 0;
            while (slots[i].pid)
                i++;
            int fds[2];
            if (pipe(fds) < 0) {
                perror("pipe");
                exit(2);
            }
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                exit(2);
            }
            if (pid == 0) {
                close(fds[0]);
                child(n, serial_base + n, op, fds[1]);
            }
            close(fds[1]);
            slots[i] = (struct slot){pid, fds[0], n};
            inflight++;
            n++;
            if (n == 1)
                break; /* wait for the count before going on */
        }
        if (!inflight)
            break;
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            perror("waitpid");
            exit(2);
        }
        int i = 0;
        while (i < 64 && slots[i].pid != pid)
            i++;
        if (i == 64)
            continue;
        struct result r;
        ssize_t got = read(slots[i].rfd, &r, sizeof(r));
        close(slots[i].rfd);
        long sn = slots[i].n;
        slots[i].pid = 0;
        inflight--;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || got != (ssize_t)sizeof(r)) {
            if (WIFSIGNALED(st))
                fprintf(stderr, "%s: allocation %ld failed: killed by signal %d%s\n", name, sn,
                        WTERMSIG(st), WTERMSIG(st) == SIGALRM ? " (a hang: over 60 s)" : "");
            else
                fprintf(stderr, "%s: allocation %ld failed: the child exited with %d\n", name,
                        sn, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            failures++;
            if (sn == 0)
                return failures;
            continue;
        }
        if (sn == 0) {
            if (r.rc != 0) {
                fprintf(stderr, "%s: the operation fails without injection: %s\n", name,
                        r.message);
                return failures + 1;
            }
            count = r.count;
            limit = count + margin;
            fprintf(stderr, "%s: a clean run makes %ld allocations (%.2f s)\n", name, count,
                    now_s() - t0);
            continue;
        }
        if (r.hit && sn > max_hit)
            max_hit = sn;
        if (sn % 1000 == 0)
            fprintf(stderr, "%s: %ld of %ld, %.0f s\n", name, sn, limit - margin, now_s() - t0);
        if (!r.hit)
            not_hit++;
        failures += judge(name, &r, is_push, &hits);
        /* a run that reached further than the count says: keep going past it */
        if (r.hit && sn + margin > limit)
            limit = sn + margin;
    }
    /* every N up to the highest reached was run; some below it may not have
     * been reached in their own run (libcurl's counts vary with timing) */
    printf("%s: failed each of %ld allocations in turn: %d problems (clean run: %ld "
           "allocations; %ld runs did not reach their N; %ld failed pushes left a whole "
           "tagged image; %.1f s, %d at a time)\n",
           name, hits, failures, count, not_hit - margin > 0 ? not_hit - margin : 0,
           tags_after_failure, now_s() - t0, jobs);
    tags_after_failure = 0;
    push_serial = serial_base + n;
    return failures;
}

/* The work directory goes on every way out of the main process (a failed
 * fixture returns early), not in the forked children, which share it. */
static pid_t main_pid;
static void remove_dir(void)
{
    if (getpid() == main_pid && dir[0])
        sh("rm -rf %s", dir);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kiln-allocfail-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    main_pid = getpid();
    atexit(remove_dir);
    snprintf(outdir, sizeof(outdir), "%s/out", dir);
    /* every operation's temporaries go to one directory, checked after each */
    snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", dir);
    mkdir(tmpdir, 0700);
    setenv("TMPDIR", tmpdir, 1);
    run_id = getpid();
    sh("mkdir -p %s/tree/etc %s/tree/bin %s/fixture %s/out", dir);
    sh("printf 'hello\\n' > %s/tree/etc/hello && ln -s hello %s/tree/etc/link && "
       "ln %s/tree/etc/hello %s/tree/bin/hl",
       dir);
    sh("head -c 3000000 /dev/urandom | base64 > %s/tree/bin/big", dir);
    /* fixtures made by the library itself, without injection */
    struct kiln_error err = {0};
    if (op_build(false, &err) != 0) {
        fprintf(stderr, "fixture build failed: %s\n", err.message);
        return 2;
    }
    sh("mv %s/out/layout %s/fixture/layout && mv %s/out/img.tar %s/fixture/img.tar", dir);
    /* for rebase: an app on fixture 1, and a new base */
    char from1[512];
    snprintf(from1, sizeof(from1), "oci:%s/fixture/layout:1", dir);
    sh("mkdir -p %s/apptree/app %s/newtree/etc && echo app > %s/apptree/app/a && "
       "echo new > %s/newtree/etc/new",
       dir);
    if (make_fixture(from1, "apptree", "app", &err) < 0 ||
        make_fixture(NULL, "newtree", "new", &err) < 0) {
        fprintf(stderr, "fixture build failed: %s\n", err.message);
        return 2;
    }
    int problems = 0;
    /* KILN_ALLOC_OPS: the operations to run, comma-separated (default: all) */
    const char *ops = getenv("KILN_ALLOC_OPS");
#define WANT(name) (!ops || !*ops || strstr(ops, name))
    if (WANT("build"))
        problems += run("build", op_build);
    if (WANT("copy"))
        problems += run("copy", op_copy);
    if (WANT("inspect"))
        problems += run("inspect", op_inspect);
    if (WANT("unpack"))
        problems += run("unpack", op_unpack);
    if (WANT("validate"))
        problems += run("validate", op_validate);
    if (WANT("export"))
        problems += run("export", op_export);
    if (WANT("flatten"))
        problems += run("flatten", op_flatten);
    if (WANT("rebase"))
        problems += run("rebase", op_rebase);
    if (WANT("sign"))
        problems += run("sign", op_sign);
    /* Only when named: from allocation 1619 on (ADD of a tarball), libarchive's
     * disk writer crashes on allocations it makes through libc (strdup), which
     * the libarchive exemption (by return address) does not cover. It found a
     * free() of an uninitialised pointer after a failed substitution and
     * unchecked JSON insertions, fixed. */
    if (ops && strstr(ops, "dockerfile")) {
        sh("mkdir -p %s/ctx/app/sub %s/ctx/tarsrc/d && echo a > %s/ctx/app/a.txt && "
           "echo b > %s/ctx/app/sub/b.txt", dir);
        sh("echo skip > %s/ctx/app/skip.log && echo t > %s/ctx/tarsrc/d/t && "
           "tar -C %s/ctx/tarsrc -czf %s/ctx/files.tgz d", dir);
        sh("printf '*.log\\ntarsrc\\n' > %s/ctx/.dockerignore && printf '"
           "ARG BASE\\nFROM $BASE AS build\\nARG MODE\\nCOPY app/ /src/\\n"
           "FROM $BASE\\nLABEL mode=$MODE\\nENV A=1 B=\"two words\"\\n"
           "COPY --from=build --chown=1000:1000 /src/ /app/\\nCOPY app/*.txt /glob/\\n"
           "ADD files.tgz /unpacked/\\nWORKDIR /app\\nUSER 1000\\nEXPOSE 8080\\n"
           "ENTRYPOINT [\"/bin/sh\", \"-c\"]\\nCMD echo hi\\n' > %s/ctx/Dockerfile", dir);
        problems += run("dockerfile", op_dockerfile);
    }
    registry = getenv("KILN_ALLOC_REGISTRY");
    reg_data = getenv("KILN_ALLOC_REGISTRY_DATA");
    if (registry && *registry) {
        sh("mkdir -p %s/tiny && echo tiny > %s/tiny/f", dir);
        char cmd[1024];
        kiln_build *b = kiln_build_new();
        snprintf(cmd, sizeof(cmd), "%s/tiny", dir);
        kiln_build_add_rootfs(b, cmd, &err);
        snprintf(cmd, sizeof(cmd), "oci:%s/fixture/tiny:1", dir);
        kiln_build_add_output(b, cmd, &err);
        char digest[KILN_DIGEST_MAX];
        if (kiln_build_run(b, digest, &err) != 0) {
            fprintf(stderr, "tiny fixture: %s\n", err.message);
            return 2;
        }
        kiln_build_free(b);
        /* a clean push to alloc/push0 (the pull's source) initialises
         * libcurl and OpenSSL once, before the fork server forks */
        clear_out();
        if (op_push(false, &err) != 0) {
            fprintf(stderr, "push: the operation fails without injection: %s\n", err.message);
            return 1;
        }
        if (WANT("push"))
            problems += run_forked("push", op_push, true);
        if (WANT("pull"))
            problems += run_forked("pull", op_pull, false);
    }
#undef WANT
    printf("%d passed, %d failed\n", problems ? 0 : 1, problems ? 1 : 0);
    return problems ? 1 : 0;
}
