/* The JSON of referrers: artifact manifests and referrers lists
 * (referrers.h says what they hold). */
#include <string.h>

#include "../digest/sha256.h"
#include "../image/config.h"
#include "referrers.h"

static const struct {
    const char *name, *media_type;
} known_types[] = {
    { "spdx", "application/spdx+json" },   /* SPDX 2 JSON */
    { "spdx3", "application/spdx3+json" }, /* SPDX 3 JSON-LD (IANA, 2026) */
    { "cyclonedx", "application/vnd.cyclonedx+json" },
    { "in-toto", "application/vnd.in-toto+json" }, /* in-toto statements */
};

static bool restricted_name(const char *s, size_t n)
{
    /* RFC 6838 4.2: restricted-name-first, then up to 126 of these */
    if (n == 0 || n > 127 ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$&-^_.+", c)))
            return false;
    }
    return true;
}

bool kiln_media_type_valid(const char *mt)
{
    const char *slash = mt ? strchr(mt, '/') : NULL;
    return slash && restricted_name(mt, (size_t)(slash - mt)) &&
           restricted_name(slash + 1, strlen(slash + 1));
}

const char *kiln_artifact_type_resolve(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(known_types); i++)
        if (!strcmp(name, known_types[i].name))
            return known_types[i].media_type;
    return kiln_media_type_valid(name) ? name : NULL;
}

int kiln_json_bytes(json_t *j, struct kiln_buf *out, struct kiln_error *err)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;
    if (!s)
        return kiln_oom(err);
    kiln_buf_free(out);
    int rc = kiln_buf_append(out, s, strlen(s), err);
    free(s);
    return rc;
}

static json_t *descriptor(const char *mt, const char *digest, uint64_t size)
{
    return json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", digest, "size", (json_int_t)size);
}

int kiln_artifact_manifest_build(const struct kiln_artifact *a, struct kiln_buf *out,
                                 struct kiln_error *err)
{
    if (!kiln_media_type_valid(a->artifact_type))
        return kiln_fail(err, KILN_ERR_USAGE,
                         "artifact type '%s' is not a media type (TYPE/SUBTYPE, such as "
                         "application/spdx+json) nor one of spdx, spdx3, cyclonedx, in-toto",
                         a->artifact_type ? a->artifact_type : "");
    if (!kiln_media_type_valid(a->media_type))
        return kiln_fail(err, KILN_ERR_USAGE, "media type '%s' is not TYPE/SUBTYPE",
                         a->media_type ? a->media_type : "");
    if (!kiln_digest_valid(a->digest) || !kiln_digest_valid(a->subject_digest) ||
        !a->subject_media_type)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "an artifact needs the digests of its file and "
                         "its subject");
    if ((json_int_t)a->size < 0 || (json_int_t)a->subject_size < 0)
        return kiln_fail(err, KILN_ERR_USAGE, "size out of range");
    json_t *ann = json_object(), *lann = json_object();
    json_t *layer = descriptor(a->media_type, a->digest, a->size);
    json_t *m =
        json_pack("{s:i,s:s,s:s,s:o,s:[O],s:o}", "schemaVersion", 2, "mediaType",
                  KILN_MT_OCI_MANIFEST, "artifactType", a->artifact_type, "config",
                  descriptor(KILN_MT_EMPTY, KILN_EMPTY_DIGEST, 2), "layers", layer, "subject",
                  descriptor(a->subject_media_type, a->subject_digest, a->subject_size));
    int rc = m && ann && lann && layer ? 0 : kiln_oom(err);
    if (rc == 0 && a->title && a->title[0] &&
        (json_object_set_new(lann, KILN_ANNOT_TITLE, json_string(a->title)) < 0 ||
         json_object_set(layer, "annotations", lann) < 0))
        rc = kiln_oom(err);
    if (rc == 0 && a->created >= 0) {
        char t[32];
        kiln_format_time(a->created, t);
        if (json_object_set_new(ann, KILN_ANNOT_CREATED, json_string(t)) < 0)
            rc = kiln_oom(err);
    }
    for (size_t i = 0; rc == 0 && i < a->nannotations; i++) {
        const char *kv = a->annotations[i], *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            rc = kiln_fail(err, KILN_ERR_USAGE, "annotation '%s': expected KEY=VALUE", kv);
            break;
        }
        char key[256];
        if ((size_t)(eq - kv) >= sizeof(key)) {
            rc = kiln_fail(err, KILN_ERR_USAGE, "annotation '%.40s…': the key is too long", kv);
            break;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
        json_t *v = json_string(eq + 1);
        if (!v)
            rc = kiln_fail(err, KILN_ERR_USAGE, "annotation '%s': not UTF-8", key);
        else if (json_object_set_new(ann, key, v) < 0)
            rc = kiln_oom(err);
    }
    if (rc == 0 && json_object_size(ann) && json_object_set(m, "annotations", ann) < 0)
        rc = kiln_oom(err);
    if (rc == 0)
        rc = kiln_json_bytes(m, out, err);
    json_decref(ann);
    json_decref(lann);
    json_decref(layer);
    json_decref(m);
    return rc;
}

int kiln_referrer_descriptor(const void *p, size_t n, json_t **desc, char subject[KILN_DIGEST_MAX],
                             struct kiln_error *err)
{
    *desc = NULL;
    char digest[KILN_DIGEST_MAX];
    if (kiln_sha256_buf(p, n, digest, err) < 0)
        return -1;
    json_error_t je;
    json_t *m = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    const char *mt = json_string_value(json_object_get(m, "mediaType"));
    const char *at = json_string_value(json_object_get(m, "artifactType"));
    const char *cmt = json_string_value(json_object_get(json_object_get(m, "config"), "mediaType"));
    json_t *sub = json_object_get(m, "subject"), *ann = json_object_get(m, "annotations");
    const char *sd = json_string_value(json_object_get(sub, "digest"));
    int rc = 0;
    if (!m)
        rc = kiln_fail(err, KILN_ERR_FORMAT, "manifest %s: not JSON (%s)", digest, je.text);
    else if (!mt || (strcmp(mt, KILN_MT_OCI_MANIFEST) && strcmp(mt, KILN_MT_OCI_INDEX)))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "manifest %s: not an OCI manifest or index (%s)",
                       digest, mt ? mt : "no mediaType");
    else if (!kiln_digest_valid(sd))
        rc =
            kiln_fail(err, KILN_ERR_FORMAT, "manifest %s: no subject with a sha256 digest", digest);
    else if (ann && !json_is_object(ann))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "manifest %s: annotations is not an object", digest);
    if (rc == 0 && !at)
        at = cmt; /* the distribution spec: else the config's media type */
    json_t *d = rc == 0 ? descriptor(mt, digest, n) : NULL;
    if (rc == 0 && !d)
        rc = kiln_oom(err);
    if (rc == 0 && at && json_object_set_new(d, "artifactType", json_string(at)) < 0)
        rc = kiln_oom(err);
    if (rc == 0 && ann && json_object_size(ann) &&
        json_object_set_new(d, "annotations", json_deep_copy(ann)) < 0)
        rc = kiln_oom(err);
    if (rc == 0 && subject)
        snprintf(subject, KILN_DIGEST_MAX, "%s", sd);
    json_decref(m);
    if (rc < 0) {
        json_decref(d);
        return -1;
    }
    *desc = d;
    return 0;
}

json_t *kiln_referrers_index_new(void)
{
    return json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", KILN_MT_OCI_INDEX,
                     "manifests");
}

int kiln_referrers_index_parse(const void *p, size_t n, const char *subject, const char *what,
                               json_t **out, struct kiln_error *err)
{
    *out = NULL;
    char digest[KILN_DIGEST_MAX];
    if (kiln_sha256_buf(p, n, digest, err) < 0)
        return -1;
    if (subject && !strcmp(digest, subject))
        return kiln_fail(err, KILN_ERR_FORMAT,
                         "%s is the subject %s itself, not a list of its referrers (the "
                         "registry resolves the tag to the manifest of that digest)",
                         what, subject);
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    const char *mt = json_string_value(json_object_get(j, "mediaType"));
    json_t *ms = json_object_get(j, "manifests");
    int rc = 0;
    if (!j)
        rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: not JSON (%s)", what, je.text);
    else if (!mt || strcmp(mt, KILN_MT_OCI_INDEX) || !json_is_array(ms) ||
             json_integer_value(json_object_get(j, "schemaVersion")) != 2)
        rc = kiln_fail(err, KILN_ERR_FORMAT,
                       "%s is not a referrers list (an OCI image index, schemaVersion 2; it is "
                       "%s)",
                       what, mt ? mt : "a document without mediaType");
    else if (json_array_size(ms) > KILN_REFERRERS_MAX)
        rc = kiln_fail(err, KILN_ERR_FORMAT, "%s lists %zu referrers; kiln reads at most %d", what,
                       json_array_size(ms), KILN_REFERRERS_MAX);
    size_t i;
    json_t *d;
    json_array_foreach(rc == 0 ? ms : NULL, i, d)
    {
        json_t *sz = json_object_get(d, "size"), *an = json_object_get(d, "annotations");
        const char *dmt = json_string_value(json_object_get(d, "mediaType"));
        json_t *at = json_object_get(d, "artifactType");
        if (!json_is_object(d) || !dmt ||
            !kiln_digest_valid(json_string_value(json_object_get(d, "digest"))) ||
            !json_is_integer(sz) || json_integer_value(sz) < 0 || (an && !json_is_object(an)) ||
            (at && !json_is_string(at))) {
            rc = kiln_fail(err, KILN_ERR_FORMAT,
                           "%s: entry %zu is not a descriptor (mediaType, sha256 digest, size; "
                           "string artifactType; object annotations)",
                           what, i);
            break;
        }
    }
    if (rc < 0) {
        json_decref(j);
        return -1;
    }
    *out = j;
    return 0;
}

int kiln_referrers_index_add(json_t *idx, json_t *desc, struct kiln_error *err)
{
    json_t *ms = json_object_get(idx, "manifests");
    const char *dg = json_string_value(json_object_get(desc, "digest"));
    size_t i;
    json_t *d;
    json_array_foreach(ms, i, d)
    {
        const char *x = json_string_value(json_object_get(d, "digest"));
        if (x && dg && !strcmp(x, dg))
            return 1;
    }
    if (!json_is_array(ms) || json_array_size(ms) >= KILN_REFERRERS_MAX)
        return kiln_fail(err, KILN_ERR_INPUT, "the referrers list is full (%d)",
                         KILN_REFERRERS_MAX);
    if (json_array_append(ms, desc) < 0)
        return kiln_oom(err);
    return 0;
}

void kiln_referrers_index_filter(json_t *idx, const char *artifact_type)
{
    json_t *ms = json_object_get(idx, "manifests");
    if (!artifact_type)
        return;
    for (size_t i = json_array_size(ms); i-- > 0;) {
        const char *at = json_string_value(json_object_get(json_array_get(ms, i), "artifactType"));
        if (!at || strcmp(at, artifact_type))
            json_array_remove(ms, i);
    }
}

int kiln_referrers_tag(const char *digest, char out[80], struct kiln_error *err)
{
    if (!kiln_digest_valid(digest))
        return kiln_fail(err, KILN_ERR_USAGE, "'%s' is not a sha256 digest", digest ? digest : "");
    snprintf(out, 80, "sha256-%s", digest + 7);
    return 0;
}
