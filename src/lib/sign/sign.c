/* kiln_sign, kiln_verify, kiln_sign_generate_key: sigstore signatures of
 * images in registries, stored where containers/image looks for them with
 * use-sigstore-attachments (docker/docker_image_dest.go,
 * putSignaturesToSigstoreAttachments, in containers/image). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../copy.h"
#include "../digest/sha256.h"
#include "../image/config.h"
#include "../image/reference.h"
#include "../image/source.h"
#include "../registry/registry.h"
#include "sign.h"

static void logf_(kiln_log_fn fn, void *ud, enum kiln_log_level level, const char *fmt, ...)
    KILN_PRINTF(4, 5);
static void logf_(kiln_log_fn fn, void *ud, enum kiln_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_logv(fn, ud, level, fmt, ap);
    va_end(ap);
}

void kiln_sign_opts_init_size(struct kiln_sign_opts *o, size_t size)
{
    struct kiln_sign_opts d = { .size = sizeof(d), .recursive = true };
    d.size = size < sizeof(d) ? size : sizeof(d);
    memcpy(o, &d, d.size);
}

void kiln_verify_opts_init_size(struct kiln_verify_opts *o, size_t size)
{
    struct kiln_verify_opts d = { .size = sizeof(d), .recursive = true };
    d.size = size < sizeof(d) ? size : sizeof(d);
    memcpy(o, &d, d.size);
}

/* The caller's struct, widened to ours (fields it does not know: defaults). */
#define OPTS_GET(type, initfn, o, local)                                                    \
    do {                                                                                    \
        initfn(&(local), sizeof(local));                                                    \
        if (o) {                                                                            \
            size_t n_ = (o)->size && (o)->size < sizeof(local) ? (o)->size : sizeof(local); \
            memcpy(&(local), (o), n_);                                                      \
            (local).size = sizeof(local);                                                   \
        }                                                                                   \
    } while (0)

static int write_new_file(const char *path, mode_t mode, const struct kiln_buf *b,
                          struct kiln_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return kiln_fail_errno(err, errno == EEXIST ? KILN_ERR_USAGE : KILN_ERR_OUTPUT, errno,
                               "%s%s", path,
                               errno == EEXIST ? " (kiln does not replace a key file)" : "");
    int rc = kiln_write_all(fd, b->data, b->len, path, err);
    if (rc == 0 && fsync(fd) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", path);
    if (close(fd) < 0 && rc == 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", path);
    if (rc < 0)
        unlink(path);
    return rc;
}

int kiln_sign_generate_key(const char *private_path, const char *public_path,
                           const char *passphrase, size_t passphrase_len, struct kiln_error *err)
{
    if (!private_path || !public_path)
        return kiln_fail(err, KILN_ERR_USAGE, "key generation needs two file names");
    EVP_PKEY *k = NULL;
    struct kiln_buf priv = { 0 }, pub = { 0 };
    int rc = kiln_key_generate(&k, err);
    if (rc == 0)
        rc = kiln_key_private_pem(k, passphrase, passphrase_len, &priv, err);
    if (rc == 0)
        rc = kiln_key_public_pem(k, &pub, err);
    if (rc == 0)
        rc = write_new_file(private_path, 0600, &priv, err);
    if (rc == 0 && (rc = write_new_file(public_path, 0644, &pub, err)) < 0)
        unlink(private_path);
    EVP_PKEY_free(k);
    if (priv.data)
        OPENSSL_cleanse(priv.data, priv.len);
    kiln_buf_free(&priv);
    kiln_buf_free(&pub);
    return rc;
}

/* ---- the reference a signature names ---------------------------------- */

static char *ref_text(const struct kiln_reference *r, bool with_tag, struct kiln_error *err)
{
    struct kiln_buf b = { 0 };
    if (kiln_buf_printf(&b, err, "%s/%s%s%s", r->domain, r->path, with_tag && r->tag ? ":" : "",
                        with_tag && r->tag ? r->tag : "") < 0)
        return NULL;
    return b.data;
}

/* 0 if the signed reference is acceptable, -1 (with why) if not. */
static int identity_check(const char *signed_ref, const struct kiln_reference *want,
                          struct kiln_error *err)
{
    struct kiln_reference s;
    struct kiln_error e2;
    if (kiln_reference_parse(signed_ref, &s, &e2) < 0)
        return kiln_fail(err, KILN_ERR_INPUT, "it names \"%.200s\", which is not a reference",
                         signed_ref);
    bool ok = !strcmp(s.domain, want->domain) && !strcmp(s.path, want->path);
    if (ok && want->tag)
        ok = s.tag && !strcmp(s.tag, want->tag) && !s.digest;
    kiln_reference_free(&s);
    if (!ok) {
        _cleanup_free_ char *w = ref_text(want, true, &e2);
        return kiln_fail(err, KILN_ERR_INPUT, "it is for %.200s, not %s%s", signed_ref,
                         w ? w : "the reference given", want->tag ? "" : " (any tag)");
    }
    return 0;
}

/* ---- signing ----------------------------------------------------------- */

static int read_key_file(const char *path, struct kiln_buf *out, struct kiln_error *err)
{
    if (!path)
        return kiln_fail(err, KILN_ERR_USAGE, "no key file given");
    return kiln_read_file(path, 64 * 1024, out, err);
}

/* The signature manifest's config, as containers/image writes it: an OCI
 * image config whose diff_ids are the signature layers' digests. */
static int attachment_config(json_t *layers, struct kiln_buf *out, struct kiln_error *err)
{
    json_t *ids = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l) json_array_append(ids, json_object_get(l, "digest"));
    json_t *c = json_pack("{s:s,s:s,s:{},s:{s:s,s:o}}", "architecture", "", "os", "", "config",
                          "rootfs", "type", "layers", "diff_ids", ids);
    char *s = c ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(c);
    if (!s)
        return kiln_oom(err);
    int rc = kiln_buf_append(out, s, strlen(s), err);
    free(s);
    return rc;
}

/* A signature to add: the payload bytes and the layer's annotations. */
struct sig_layer {
    struct kiln_buf payload;
    json_t *annotations;
};

static bool same_layer(json_t *l, const char *digest, size_t size, json_t *annotations)
{
    const char *mt = json_string_value(json_object_get(l, "mediaType"));
    const char *d = json_string_value(json_object_get(l, "digest"));
    json_t *sz = json_object_get(l, "size"), *an = json_object_get(l, "annotations");
    return mt && !strcmp(mt, KILN_SIG_MEDIA_TYPE) && d && !strcmp(d, digest) &&
           json_integer_value(sz) == (json_int_t)size && an && json_equal(an, annotations);
}

/* Adds signatures to the tag sha256-<hex>.sig of digest, keeping what is
 * there (other keys, other tools, other attachments) and skipping ones it
 * already holds, as containers/image does; *added says how many were new. */
static int attach(struct kiln_registry *reg, const char *repo, const char *digest,
                  struct sig_layer *add, size_t nadd, size_t *added, size_t *total,
                  struct kiln_error *err)
{
    char tag[80], mt[128], old_digest[KILN_DIGEST_MAX];
    struct kiln_buf old = { 0 }, config = { 0 }, manifest = { 0 };
    struct kiln_push_blob *blobs = NULL;
    size_t nblobs = 0;
    char *mtext = NULL;
    json_t *m = NULL;
    *added = 0;
    int rc = kiln_sig_tag(digest, tag, err);
    int have = rc == 0
                   ? kiln_registry_get_manifest_if_exists(reg, repo, tag, &old, mt, old_digest, err)
                   : -1;
    if (have < 0)
        rc = -1;
    if (rc == 0 && have == 0) {
        json_error_t je;
        m = json_loadb(old.data, old.len, JSON_REJECT_DUPLICATES, &je);
        if (!m || !json_is_array(json_object_get(m, "layers")) || strcmp(mt, KILN_MT_OCI_MANIFEST))
            rc = kiln_fail(err, KILN_ERR_FORMAT,
                           "%s:%s is there but is not an OCI manifest of signatures; kiln "
                           "leaves it alone",
                           repo, tag);
    } else if (rc == 0)
        m = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", KILN_MT_OCI_MANIFEST,
                      "layers");
    if (rc == 0 && !m)
        rc = kiln_oom(err);
    json_t *layers = rc == 0 ? json_object_get(m, "layers") : NULL;
    if (rc == 0 && !(blobs = calloc(nadd + 1, sizeof(*blobs))))
        rc = kiln_oom(err);
    for (size_t i = 0; rc == 0 && i < nadd; i++) {
        char pdigest[KILN_DIGEST_MAX];
        rc = kiln_sha256_buf(add[i].payload.data, add[i].payload.len, pdigest, err);
        bool dup = false;
        size_t k;
        json_t *l;
        json_array_foreach(layers, k, l) dup =
            dup || same_layer(l, pdigest, add[i].payload.len, add[i].annotations);
        if (rc < 0 || dup)
            continue;
        json_t *nl =
            json_pack("{s:s,s:s,s:I,s:O}", "mediaType", KILN_SIG_MEDIA_TYPE, "digest", pdigest,
                      "size", (json_int_t)add[i].payload.len, "annotations", add[i].annotations);
        if (!nl || json_array_append_new(layers, nl) < 0) {
            rc = kiln_oom(err);
            break;
        }
        struct kiln_push_blob *pb = &blobs[nblobs++];
        snprintf(pb->digest, sizeof(pb->digest), "%s", pdigest);
        pb->size = add[i].payload.len;
        pb->data = &add[i].payload;
        (*added)++;
    }
    if (rc == 0 && total)
        *total = json_array_size(layers);
    if (rc < 0 || *added == 0)
        goto out; /* nothing new: the tag stays as it is */
    char cdigest[KILN_DIGEST_MAX];
    rc = attachment_config(layers, &config, err);
    if (rc == 0)
        rc = kiln_sha256_buf(config.data, config.len, cdigest, err);
    if (rc == 0) {
        json_t *cd = json_pack("{s:s,s:s,s:I}", "mediaType", KILN_MT_OCI_CONFIG, "digest", cdigest,
                               "size", (json_int_t)config.len);
        if (!cd || json_object_set_new(m, "config", cd) < 0 ||
            !(mtext = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER)))
            rc = kiln_oom(err);
    }
    if (rc == 0)
        rc = kiln_buf_append(&manifest, mtext, strlen(mtext), err);
    if (rc == 0) {
        struct kiln_push_blob *pb = &blobs[nblobs++];
        snprintf(pb->digest, sizeof(pb->digest), "%s", cdigest);
        pb->size = config.len;
        pb->data = &config;
        rc = kiln_registry_push_blobs(reg, repo, blobs, nblobs, err);
    }
    char mdigest[KILN_DIGEST_MAX];
    if (rc == 0)
        rc = kiln_sha256_buf(manifest.data, manifest.len, mdigest, err);
    if (rc == 0)
        rc = kiln_registry_put_manifest(reg, repo, tag, &manifest, KILN_MT_OCI_MANIFEST, mdigest,
                                        err);
out:
    json_decref(m);
    free(mtext);
    free(blobs);
    kiln_buf_free(&old);
    kiln_buf_free(&config);
    kiln_buf_free(&manifest);
    return rc;
}

static int sign_one(struct kiln_registry *reg, const char *repo, const char *digest,
                    const char *identity, EVP_PKEY *key, kiln_log_fn log, void *log_ud,
                    struct kiln_error *err)
{
    struct sig_layer l = { { 0 }, NULL };
    char *sig = NULL;
    size_t added = 0, total = 0;
    int rc = kiln_sig_payload_build(digest, identity, "kiln " KILN_VERSION_STRING,
                                    (int64_t)time(NULL), &l.payload, err);
    if (rc == 0)
        rc = kiln_sig_create(key, l.payload.data, l.payload.len, &sig, err);
    if (rc == 0 && !(l.annotations = json_pack("{s:s}", KILN_SIG_ANNOTATION, sig)))
        rc = kiln_oom(err);
    if (rc == 0)
        rc = attach(reg, repo, digest, &l, 1, &added, &total, err);
    if (rc == 0)
        logf_(log, log_ud, KILN_LOG_INFO, "signed %s for %s (%zu signature%s at %s:sha256-….sig)",
              digest, identity, total, total == 1 ? "" : "s", repo);
    if (rc < 0)
        kiln_error_prefix(err, "sign %s", digest);
    json_decref(l.annotations);
    free(sig);
    kiln_buf_free(&l.payload);
    return rc;
}

static bool is_index(const char *mt)
{
    return !strcmp(mt, KILN_MT_OCI_INDEX) || !strcmp(mt, KILN_MT_DOCKER_LIST);
}

/* The digests of an index's manifests, in order. */
static int index_children(const struct kiln_buf *body, struct kiln_strlist *out,
                          struct kiln_error *err)
{
    json_error_t je;
    json_t *j = json_loadb(body->data, body->len, 0, &je);
    json_t *ms = json_object_get(j, "manifests");
    int rc = json_is_array(ms) ? 0 : kiln_fail(err, KILN_ERR_FORMAT, "an index without manifests");
    size_t i;
    json_t *d;
    json_array_foreach(ms, i, d)
    {
        const char *dg = json_string_value(json_object_get(d, "digest"));
        if (rc == 0 && !kiln_digest_valid(dg))
            rc = kiln_fail(err, KILN_ERR_FORMAT, "an index entry without a sha256 digest");
        if (rc == 0)
            rc = kiln_strlist_push(out, dg, err);
    }
    json_decref(j);
    return rc;
}

struct opened {
    struct kiln_reference ref;
    struct kiln_registry *reg;
    struct kiln_buf body;
    char mt[128], digest[KILN_DIGEST_MAX];
};

static int open_ref(const char *text, const struct kiln_remote_opts *o, const char *creds,
                    const char *digest, struct opened *x, struct kiln_error *err)
{
    memset(x, 0, sizeof(*x));
    if (kiln_parse_docker_ref(text, false, &x->ref, err) < 0)
        return -1;
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, creds, &ro);
    if (kiln_registry_open(x->ref.domain, &ro, &x->reg, err) < 0)
        return -1;
    if (digest && !kiln_digest_valid(digest))
        return kiln_fail(err, KILN_ERR_USAGE, "'%s' is not a sha256 digest", digest);
    const char *which = digest ? digest : x->ref.digest ? x->ref.digest : x->ref.tag;
    return kiln_registry_get_manifest(x->reg, x->ref.path, which, &x->body, x->mt, x->digest, err);
}

static void close_ref(struct opened *x)
{
    kiln_registry_close(x->reg);
    kiln_reference_free(&x->ref);
    kiln_buf_free(&x->body);
}

int kiln_sign(const char *ref, const struct kiln_sign_opts *so_in, const struct kiln_remote_opts *o,
              char digest_out[KILN_DIGEST_MAX], struct kiln_error *err)
{
    struct kiln_remote_opts rlocal;
    struct kiln_sign_opts so;
    o = kiln_remote_opts_get(o, &rlocal);
    OPTS_GET(struct kiln_sign_opts, kiln_sign_opts_init_size, so_in, so);
    if (digest_out)
        digest_out[0] = '\0';
    struct kiln_buf pem = { 0 };
    EVP_PKEY *key = NULL;
    struct opened x;
    struct kiln_strlist kids = { 0 };
    char *identity = NULL;
    int rc = read_key_file(so.key_file, &pem, err);
    if (rc == 0)
        rc = kiln_key_private_load(pem.data, pem.len, so.passphrase, so.passphrase_len, so.key_file,
                                   &key, err);
    if (pem.data)
        OPENSSL_cleanse(pem.data, pem.len);
    kiln_buf_free(&pem);
    if (rc < 0)
        return -1;
    rc = open_ref(ref, o, o->dest_creds, so.digest, &x, err);
    if (rc == 0 && so.identity) {
        struct kiln_reference check;
        if (kiln_reference_parse(so.identity, &check, err) < 0)
            rc = kiln_error_prefix(err, "--identity");
        else
            kiln_reference_free(&check);
        if (rc == 0 && !(identity = kiln_strdup(so.identity, err)))
            rc = -1;
    } else if (rc == 0 && !(identity = ref_text(&x.ref, true, err)))
        rc = -1;
    if (rc == 0)
        rc = sign_one(x.reg, x.ref.path, x.digest, identity, key, o->log, o->log_userdata, err);
    if (rc == 0 && so.recursive && is_index(x.mt))
        rc = index_children(&x.body, &kids, err);
    for (size_t i = 0; rc == 0 && i < kids.n; i++)
        rc = sign_one(x.reg, x.ref.path, kids.v[i], identity, key, o->log, o->log_userdata, err);
    if (rc == 0 && digest_out)
        snprintf(digest_out, KILN_DIGEST_MAX, "%s", x.digest);
    if (rc < 0)
        kiln_error_prefix(err, "%s", ref);
    kiln_strlist_free(&kids);
    free(identity);
    EVP_PKEY_free(key);
    close_ref(&x);
    return rc;
}

/* ---- verifying --------------------------------------------------------- */

/* 0 when one signature at digest's tag passes; else -1 with every reason. */
static int verify_one(struct kiln_registry *reg, const char *repo, const char *digest,
                      const struct kiln_reference *want, EVP_PKEY *key, struct kiln_buf *report,
                      struct kiln_error *err)
{
    char tag[80], mt[128], sdigest[KILN_DIGEST_MAX];
    struct kiln_buf body = { 0 }, why = { 0 };
    if (kiln_sig_tag(digest, tag, err) < 0)
        return -1;
    int have = kiln_registry_get_manifest_if_exists(reg, repo, tag, &body, mt, sdigest, err);
    if (have < 0)
        return -1;
    if (have == 1)
        return kiln_fail(err, KILN_ERR_INPUT, "%s has no signatures (no tag %s:%s)", digest, repo,
                         tag);
    json_error_t je;
    json_t *m = json_loadb(body.data, body.len, 0, &je);
    json_t *layers = json_object_get(m, "layers");
    int found = 0, tried = 0, rc = 0;
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
    {
        const char *lmt = json_string_value(json_object_get(l, "mediaType"));
        const char *ld = json_string_value(json_object_get(l, "digest"));
        const char *sig = json_string_value(
            json_object_get(json_object_get(l, "annotations"), KILN_SIG_ANNOTATION));
        if (!lmt || strcmp(lmt, KILN_SIG_MEDIA_TYPE))
            continue; /* containers/image skips other attachments too */
        if (found)
            break; /* one valid signature is enough, as for containers/image */
        if (tried == KILN_SIG_MAX) {
            if (!found && kiln_buf_printf(&why, err, "%sonly the first %d signatures are read",
                                          why.len ? "; " : "", KILN_SIG_MAX) < 0)
                rc = -1;
            break;
        }
        tried++;
        struct kiln_error e = { 0 };
        struct kiln_buf payload = { 0 };
        struct kiln_sig_payload p = { 0 };
        int r = 0;
        if (!sig)
            r = kiln_fail(&e, KILN_ERR_FORMAT, "no %s annotation", KILN_SIG_ANNOTATION);
        else if (!kiln_digest_valid(ld))
            r = kiln_fail(&e, KILN_ERR_FORMAT, "no sha256 digest");
        if (r == 0)
            r = kiln_registry_get_blob_buf(reg, repo, ld, KILN_SIG_DOC_MAX, &payload, &e);
        /* the signature first: nothing of an unsigned payload is believed */
        if (r == 0)
            r = kiln_sig_check(key, payload.data, payload.len, sig, &e);
        if (r == 0)
            r = kiln_sig_payload_parse(payload.data, payload.len, &p, &e);
        if (r == 0 && strcmp(p.digest, digest))
            r = kiln_fail(&e, KILN_ERR_INPUT, "it signs %s, another manifest", p.digest);
        if (r == 0)
            r = identity_check(p.identity, want, &e);
        if (r == 0) {
            found++;
            if (found == 1 && kiln_buf_printf(report, err, "%s %s\n", digest, p.identity) < 0)
                rc = -1;
        } else if (kiln_buf_printf(&why, err, "%ssignature %zu: %s", why.len ? "; " : "", i + 1,
                                   e.message) < 0)
            rc = -1;
        kiln_sig_payload_free(&p);
        kiln_buf_free(&payload);
    }
    if (rc == 0 && !found)
        rc = kiln_fail(err, KILN_ERR_INPUT, "%s: no valid signature among %d at %s:%s%s%s", digest,
                       tried, repo, tag, why.len ? ": " : "", why.len ? why.data : "");
    json_decref(m);
    kiln_buf_free(&body);
    kiln_buf_free(&why);
    return rc;
}

int kiln_verify(const char *ref, const struct kiln_verify_opts *vo_in,
                const struct kiln_remote_opts *o, char **report, struct kiln_error *err)
{
    struct kiln_remote_opts rlocal;
    struct kiln_verify_opts vo;
    o = kiln_remote_opts_get(o, &rlocal);
    OPTS_GET(struct kiln_verify_opts, kiln_verify_opts_init_size, vo_in, vo);
    if (report)
        *report = NULL;
    struct kiln_buf pem = { 0 }, rep = { 0 };
    EVP_PKEY *key = NULL;
    struct opened x = { 0 };
    struct kiln_reference want = { 0 };
    struct kiln_strlist kids = { 0 };
    int rc = read_key_file(vo.key_file, &pem, err);
    if (rc == 0)
        rc = kiln_key_public_load(pem.data, pem.len, vo.key_file, &key, err);
    kiln_buf_free(&pem);
    if (rc < 0)
        return -1;
    rc = open_ref(ref, o, o->src_creds, NULL, &x, err);
    if (rc == 0 && vo.identity)
        rc = kiln_reference_parse(vo.identity, &want, err) < 0
                 ? kiln_error_prefix(err, "--identity")
                 : 0;
    else if (rc == 0) {
        want.domain = kiln_strdup(x.ref.domain, err);
        want.path = kiln_strdup(x.ref.path, err);
        want.tag = x.ref.tag && !x.ref.digest ? kiln_strdup(x.ref.tag, err) : NULL;
        if (!want.domain || !want.path || (x.ref.tag && !x.ref.digest && !want.tag))
            rc = -1;
    }
    if (rc == 0 && vo.identity) {
        /* kiln_reference_parse says "latest" when no tag is written; here no
         * tag means any tag */
        const char *last = strrchr(vo.identity, '/');
        if (!strchr(last ? last : vo.identity, ':')) {
            free(want.tag);
            want.tag = NULL;
        }
    }
    if (rc == 0 && want.digest)
        rc = kiln_fail(err, KILN_ERR_USAGE, "--identity takes HOST/REPO[:TAG], not a digest");
    /* an identity that names no tag accepts any tag of the repository */
    if (rc == 0)
        rc = verify_one(x.reg, x.ref.path, x.digest, &want, key, &rep, err);
    if (rc == 0 && vo.recursive && is_index(x.mt))
        rc = index_children(&x.body, &kids, err);
    for (size_t i = 0; rc == 0 && i < kids.n; i++)
        rc = verify_one(x.reg, x.ref.path, kids.v[i], &want, key, &rep, err);
    if (rc < 0)
        kiln_error_prefix(err, "verify %s", ref);
    if (rc == 0 && report)
        *report = TAKE_PTR(rep.data);
    kiln_buf_free(&rep);
    kiln_strlist_free(&kids);
    kiln_reference_free(&want);
    EVP_PKEY_free(key);
    close_ref(&x);
    return rc;
}

/* ---- copying signatures ------------------------------------------------ */

/* The simple-signing layers of src's tag for digest, with their payloads. */
static int fetch_sigs(struct kiln_registry *reg, const char *repo, const char *digest,
                      struct sig_layer **out, size_t *n, struct kiln_error *err)
{
    char tag[80], mt[128], sdigest[KILN_DIGEST_MAX];
    struct kiln_buf body = { 0 };
    *out = NULL;
    *n = 0;
    if (kiln_sig_tag(digest, tag, err) < 0)
        return -1;
    int have = kiln_registry_get_manifest_if_exists(reg, repo, tag, &body, mt, sdigest, err);
    if (have != 0)
        return have < 0 ? -1 : 0;
    json_error_t je;
    json_t *m = json_loadb(body.data, body.len, 0, &je);
    json_t *layers = json_object_get(m, "layers");
    int rc = json_is_array(layers) ? 0
                                   : kiln_fail(err, KILN_ERR_FORMAT,
                                               "%s:%s is not a manifest of signatures", repo, tag);
    struct sig_layer *v = rc == 0 ? calloc(json_array_size(layers) + 1, sizeof(*v)) : NULL;
    if (rc == 0 && !v)
        rc = kiln_oom(err);
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
    {
        const char *lmt = json_string_value(json_object_get(l, "mediaType"));
        const char *ld = json_string_value(json_object_get(l, "digest"));
        json_t *an = json_object_get(l, "annotations");
        if (rc < 0 || !lmt || strcmp(lmt, KILN_SIG_MEDIA_TYPE) || !json_is_object(an) ||
            !json_is_string(json_object_get(an, KILN_SIG_ANNOTATION)) || !kiln_digest_valid(ld))
            continue; /* only signatures travel */
        if (*n == KILN_SIG_MAX) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: more than %d signatures at %s", digest,
                           KILN_SIG_MAX, repo);
            break;
        }
        if (kiln_registry_get_blob_buf(reg, repo, ld, KILN_SIG_DOC_MAX, &v[*n].payload, err) < 0)
            rc = -1;
        else if (!(v[*n].annotations = json_deep_copy(an)))
            rc = kiln_oom(err);
        if (rc == 0)
            (*n)++;
    }
    json_decref(m);
    kiln_buf_free(&body);
    if (rc < 0) {
        for (size_t k = 0; v && k <= *n; k++) {
            kiln_buf_free(&v[k].payload);
            json_decref(v[k].annotations);
        }
        free(v);
        *n = 0;
        return -1;
    }
    *out = v;
    return 0;
}

int kiln_copy_signatures(const char *src, const char *dest, const char *digest,
                         const struct kiln_remote_opts *o, unsigned *copied, struct kiln_error *err)
{
    struct kiln_remote_opts rlocal;
    o = kiln_remote_opts_get(o, &rlocal);
    if (copied)
        *copied = 0;
    struct opened x;
    struct kiln_reference dref = { 0 };
    struct kiln_registry *dreg = NULL;
    struct kiln_strlist all = { 0 };
    int rc = open_ref(src, o, o->src_creds, digest, &x, err);
    if (rc == 0)
        rc = kiln_parse_docker_ref(dest, false, &dref, err);
    if (rc == 0) {
        struct kiln_registry_opts ro;
        kiln_registry_opts_from(o, o->dest_creds, &ro);
        rc = kiln_registry_open(dref.domain, &ro, &dreg, err);
    }
    if (rc == 0)
        rc = kiln_strlist_push(&all, x.digest, err);
    if (rc == 0 && is_index(x.mt))
        rc = index_children(&x.body, &all, err);
    for (size_t i = 0; rc == 0 && i < all.n; i++) {
        struct sig_layer *v = NULL;
        size_t n = 0, added = 0;
        rc = fetch_sigs(x.reg, x.ref.path, all.v[i], &v, &n, err);
        if (rc == 0 && n)
            rc = attach(dreg, dref.path, all.v[i], v, n, &added, NULL, err);
        if (rc == 0 && copied)
            *copied += (unsigned)added;
        if (rc == 0 && n)
            logf_(o->log, o->log_userdata, KILN_LOG_INFO,
                  "signatures of %s: %zu at the source, %zu new at %s", all.v[i], n, added, dest);
        for (size_t k = 0; k < n; k++) {
            kiln_buf_free(&v[k].payload);
            json_decref(v[k].annotations);
        }
        free(v);
    }
    if (rc < 0)
        kiln_error_prefix(err, "copy the signatures of %s to %s", src, dest);
    kiln_strlist_free(&all);
    kiln_registry_close(dreg);
    kiln_reference_free(&dref);
    close_ref(&x);
    return rc;
}
