/* cosign's "simple signing" payload, as containers/image writes and reads it
 * (signature/internal/sigstore_payload.go in containers/image). */
#include <jansson.h>
#include <string.h>

#include "../digest/sha256.h"
#include "sign.h"

int kiln_sig_payload_build(const char *digest, const char *identity, const char *creator,
                           int64_t timestamp, struct kiln_buf *out, struct kiln_error *err)
{
    if (!kiln_digest_valid(digest) || !identity || !identity[0])
        return kiln_fail(err, KILN_ERR_USAGE, "signature payload: a digest and a reference");
    json_t *optional = json_object();
    if (optional && creator)
        json_object_set_new(optional, "creator", json_string(creator));
    if (optional && timestamp >= 0)
        json_object_set_new(optional, "timestamp", json_integer((json_int_t)timestamp));
    /* the keys sorted, as Go's encoding/json writes maps */
    json_t *j = optional
                    ? json_pack("{s:{s:{s:s},s:{s:s},s:s},s:o}", "critical", "identity",
                                "docker-reference", identity, "image", "docker-manifest-digest",
                                digest, "type", KILN_SIG_PAYLOAD_TYPE, "optional", optional)
                    : NULL;
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!s)
        return kiln_oom(err);
    int rc = kiln_buf_append(out, s, strlen(s), err);
    free(s);
    return rc;
}

/* An object with exactly the keys named (NULL-terminated), as containers/image's
 * ParanoidUnmarshalJSONObjectExactFields wants. */
static int exact_fields(json_t *o, const char *what, const char *const *keys,
                        struct kiln_error *err)
{
    if (!json_is_object(o))
        return kiln_fail(err, KILN_ERR_FORMAT, "signature payload: %s is not an object", what);
    size_t n = 0;
    for (; keys[n]; n++)
        if (!json_object_get(o, keys[n]))
            return kiln_fail(err, KILN_ERR_FORMAT, "signature payload: %s has no \"%s\"", what,
                             keys[n]);
    if (json_object_size(o) != n) {
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            bool known = false;
            for (size_t i = 0; i < n; i++)
                known = known || !strcmp(k, keys[i]);
            if (!known)
                return kiln_fail(err, KILN_ERR_FORMAT,
                                 "signature payload: %s has an unknown "
                                 "field \"%.64s\"",
                                 what, k);
        }
    }
    return 0;
}

static const char *string_field(json_t *o, const char *key, const char *what,
                                struct kiln_error *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        kiln_fail(err, KILN_ERR_FORMAT, "signature payload: %s is not a string", what);
    return s;
}

void kiln_sig_payload_free(struct kiln_sig_payload *p)
{
    if (!p)
        return;
    free(p->identity);
    free(p->creator);
    p->identity = p->creator = NULL;
}

int kiln_sig_payload_parse(const void *p, size_t n, struct kiln_sig_payload *out,
                           struct kiln_error *err)
{
    memset(out, 0, sizeof(*out));
    out->timestamp = -1;
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return kiln_fail(err, KILN_ERR_FORMAT, "signature payload: not JSON: %s", je.text);
    static const char *const top[] = { "critical", "optional", NULL };
    static const char *const crit[] = { "type", "image", "identity", NULL };
    static const char *const img[] = { "docker-manifest-digest", NULL };
    static const char *const ident[] = { "docker-reference", NULL };
    int rc = exact_fields(j, "the document", top, err);
    json_t *c = json_object_get(j, "critical"), *opt = json_object_get(j, "optional");
    const char *type = NULL, *digest = NULL, *ref = NULL;
    if (rc == 0 && !json_is_null(opt) && !json_is_object(opt))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "signature payload: optional is not an object");
    if (rc == 0)
        rc = exact_fields(c, "critical", crit, err);
    if (rc == 0 && !(type = string_field(c, "type", "critical.type", err)))
        rc = -1;
    if (rc == 0 && strcmp(type, KILN_SIG_PAYLOAD_TYPE))
        rc =
            kiln_fail(err, KILN_ERR_FORMAT, "signature payload: unrecognised type \"%.64s\"", type);
    if (rc == 0)
        rc = exact_fields(json_object_get(c, "image"), "critical.image", img, err);
    if (rc == 0 && !(digest = string_field(json_object_get(c, "image"), "docker-manifest-digest",
                                           "docker-manifest-digest", err)))
        rc = -1;
    if (rc == 0 && !kiln_digest_valid(digest))
        rc = kiln_fail(err, KILN_ERR_FORMAT,
                       "signature payload: docker-manifest-digest \"%.80s\" is not a sha256 "
                       "digest",
                       digest);
    if (rc == 0)
        rc = exact_fields(json_object_get(c, "identity"), "critical.identity", ident, err);
    if (rc == 0 && !(ref = string_field(json_object_get(c, "identity"), "docker-reference",
                                        "docker-reference", err)))
        rc = -1;
    if (rc == 0 && json_is_object(opt)) {
        json_t *cr = json_object_get(opt, "creator"), *ts = json_object_get(opt, "timestamp");
        if (cr && !json_is_string(cr))
            rc = kiln_fail(err, KILN_ERR_FORMAT,
                           "signature payload: optional.creator is not a "
                           "string");
        else if (ts && !json_is_integer(ts))
            rc = kiln_fail(err, KILN_ERR_FORMAT,
                           "signature payload: optional.timestamp is not "
                           "an integer");
        if (rc == 0 && cr && !(out->creator = kiln_strdup(json_string_value(cr), err)))
            rc = -1;
        if (rc == 0 && ts)
            out->timestamp = (int64_t)json_integer_value(ts);
    }
    if (rc == 0) {
        snprintf(out->digest, sizeof(out->digest), "%s", digest);
        if (!(out->identity = kiln_strdup(ref, err)))
            rc = -1;
    }
    json_decref(j);
    if (rc < 0)
        kiln_sig_payload_free(out);
    return rc;
}

int kiln_sig_tag(const char *digest, char out[80], struct kiln_error *err)
{
    if (!kiln_digest_valid(digest) || strncmp(digest, "sha256:", 7))
        return kiln_fail(err, KILN_ERR_FORMAT, "'%s' is not a sha256 digest", digest);
    snprintf(out, 80, "sha256-%s.sig", digest + 7);
    return 0;
}
