/* Platforms (os/arch/variant) and media types of indexes. */
#ifndef KILN_IMAGE_PLATFORM_H
#define KILN_IMAGE_PLATFORM_H

#include "../base/base.h"

/* ---- image/platform.c ------------------------------------------------- */
struct kiln_platform {
    char os[32];
    char arch[32];
    char variant[16];
};
/* Room for "os/arch/variant" and its NUL. */
#define KILN_PLATFORM_MAX (sizeof(((struct kiln_platform *)0)->os) + \
                           sizeof(((struct kiln_platform *)0)->arch) + \
                           sizeof(((struct kiln_platform *)0)->variant))
int kiln_platform_parse(const char *text, struct kiln_platform *p, struct kiln_error *err);
void kiln_platform_host(struct kiln_platform *p);
/* "os/arch[/variant]" into out (KILN_PLATFORM_MAX bytes); returns out. */
char *kiln_platform_format(const struct kiln_platform *p, char *out);
/* The platform object of an index entry or a config ({"os", "architecture",
 * "variant"}); missing fields are empty. */
struct json_t;
void kiln_platform_from_json(const struct json_t *obj, struct kiln_platform *out);
/* Whether `have` serves a request for `want`: os and arch equal, and the
 * variant too when `want` names one (arm64's v8 is arm64 without one). */
bool kiln_platform_match(const struct kiln_platform *want, const struct kiln_platform *have);
bool kiln_platform_equal(const struct kiln_platform *a, const struct kiln_platform *b);
/* Maps GNU/Yocto architecture names to Go's; returns false if unknown. */
bool kiln_arch_canonical(const char *in, char arch[32], char variant[16]);

#endif
