/*
 * URLs that registries hand back: Location headers (redirects, upload
 * sessions) resolved against the request URL, realms, Link headers' targets.
 *
 * Input: newline-separated: a base URL, then references to resolve against
 * it (each result is resolved again as a base for the next).
 *
 * The Link header itself is parsed by kiln_link_next (fuzz_link.c).
 */
#include <string.h>

#include "fuzz_common.h"
#include "registry/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *parts[6];
    size_t n = fz_split(data, size, "\n", 1, parts, NULL, 6);
    char *base = strdup(parts[0]);
    free(kiln_url_host(base, NULL));
    for (size_t i = 1; i < n; i++) {
        free(kiln_url_escape(parts[i], NULL));
        free(kiln_url_host(parts[i], NULL));
        char *r = kiln_url_resolve(base, parts[i], NULL);
        if (!r)
            continue;
        char *h = kiln_url_host(r, NULL);
        free(h);
        free(base);
        base = r;
    }
    free(base);
    fz_parts_free(parts, n);
    return 0;
}
