/*
 * WWW-Authenticate challenges as registries send them (one to four headers).
 *
 * Input: header values separated by newlines (a header line cannot hold
 * one), at most four as kiln keeps (struct kiln_http_resp.www_auth).
 *
 * Checked: success means a bearer challenge with a realm, or basic; every
 * failure carries a message.
 */
#include <string.h>

#include "fuzz_common.h"
#include "registry/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *parts[4];
    size_t n = fz_split(data, size, "\n", 1, parts, NULL, 4);
    struct kiln_challenge c;
    struct kiln_error err = {0};
    if (kiln_challenge_parse(parts, n, &c, &err) == 0) {
        if (strcmp(c.scheme, "bearer") && strcmp(c.scheme, "basic"))
            abort();
        if (!strcmp(c.scheme, "bearer") && !c.realm)
            abort();
        kiln_challenge_free(&c);
    } else if (!err.code || !err.message[0]) {
        abort();
    }
    fz_parts_free(parts, n);
    return 0;
}
