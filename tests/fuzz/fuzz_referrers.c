/*
 * Referrers lists and artifact manifests as registries and layouts hand
 * them to kiln: the answer of GET /v2/NAME/referrers/DIGEST, the index at a
 * fallback tag, a referrer's manifest (referrers/referrers.h).
 *
 * Input: a first line, the subject digest (anything: checked like the
 * registry's tag text), then the document. The document is parsed as a
 * referrers list (filtered, extended, written back) and as a referrer's
 * manifest (its descriptor added to a new list).
 */
#include <string.h>

#include "fuzz_common.h"
#include "referrers/referrers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t sl = nl ? (size_t)(nl - data) : 0;
    char subject[128];
    snprintf(subject, sizeof(subject), "%.*s", (int)(sl < 100 ? sl : 100), (const char *)data);
    const char *doc = nl ? (const char *)nl + 1 : (const char *)data;
    size_t n = nl ? size - sl - 1 : size;
    struct kiln_error err;
    char tag[80];
    (void)kiln_referrers_tag(subject, tag, &err);
    json_t *list = NULL;
    if (kiln_referrers_index_parse(doc, n, subject, "fuzz", &list, &err) == 0) {
        json_t *first = json_array_get(json_object_get(list, "manifests"), 0);
        json_t *again = first ? json_deep_copy(first) : NULL;
        if (again)
            (void)kiln_referrers_index_add(list, again, &err); /* there already: 1 */
        json_decref(again);
        kiln_referrers_index_filter(list, "application/spdx+json");
        struct kiln_buf b = { 0 };
        (void)kiln_json_bytes(list, &b, &err);
        kiln_buf_free(&b);
        json_decref(list);
    }
    json_t *desc = NULL;
    char sub[KILN_DIGEST_MAX];
    if (kiln_referrer_descriptor(doc, n, &desc, sub, &err) == 0) {
        json_t *l = kiln_referrers_index_new();
        (void)kiln_referrers_index_add(l, desc, &err);
        json_decref(desc);
        json_decref(l);
    }
    (void)kiln_artifact_type_resolve(subject);
    return 0;
}
