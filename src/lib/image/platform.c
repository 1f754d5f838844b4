/* Platforms: Go's names (amd64, arm64, arm/v7 …), from what users type. */
#include <jansson.h>
#include <string.h>
#include <sys/utsname.h>

#include "platform.h"

struct arch_alias {
    const char *name;
    const char *arch;
    const char *variant;
};

/* GNU triplet, Debian and Yocto TARGET_ARCH spellings -> Go's. */
static const struct arch_alias aliases[] = {
    {"amd64", "amd64", ""},      {"x86_64", "amd64", ""},      {"x86-64", "amd64", ""},
    {"arm64", "arm64", ""},      {"aarch64", "arm64", ""},     {"armv8", "arm64", "v8"},
    {"arm", "arm", "v7"},        {"armv7", "arm", "v7"},       {"armv7l", "arm", "v7"},
    {"armv7a", "arm", "v7"},     {"armv7ve", "arm", "v7"},     {"armhf", "arm", "v7"},
    {"armv6", "arm", "v6"},      {"armv6l", "arm", "v6"},      {"armel", "arm", "v6"},
    {"armv5", "arm", "v5"},      {"armv5te", "arm", "v5"},     {"armv5tel", "arm", "v5"},
    {"386", "386", ""},          {"i386", "386", ""},          {"i486", "386", ""},
    {"i586", "386", ""},         {"i686", "386", ""},          {"x86", "386", ""},
    {"ppc64le", "ppc64le", ""},  {"powerpc64le", "ppc64le", ""}, {"ppc64", "ppc64", ""},
    {"powerpc64", "ppc64", ""},  {"ppc", "ppc", ""},           {"powerpc", "ppc", ""},
    {"s390x", "s390x", ""},      {"riscv64", "riscv64", ""},   {"mips", "mips", ""},
    {"mipsel", "mipsle", ""},    {"mipsle", "mipsle", ""},     {"mips64", "mips64", ""},
    {"mips64el", "mips64le", ""}, {"mips64le", "mips64le", ""}, {"loongarch64", "loong64", ""},
    {"loong64", "loong64", ""},  {"wasm", "wasm", ""},
};

bool kiln_arch_canonical(const char *in, char arch[32], char variant[16])
{
    for (size_t i = 0; i < ARRAY_SIZE(aliases); i++) {
        if (!strcmp(in, aliases[i].name)) {
            snprintf(arch, 32, "%s", aliases[i].arch);
            snprintf(variant, 16, "%s", aliases[i].variant);
            return true;
        }
    }
    return false;
}

static bool known_os(const char *os)
{
    static const char *const oses[] = {"linux", "windows", "freebsd", "netbsd", "openbsd",
                                       "darwin", "solaris", "illumos", "android", "js", "wasip1"};
    for (size_t i = 0; i < ARRAY_SIZE(oses); i++)
        if (!strcmp(os, oses[i]))
            return true;
    return false;
}

static bool variant_ok(const char *arch, const char *v)
{
    if (!strcmp(arch, "arm"))
        return !strcmp(v, "v5") || !strcmp(v, "v6") || !strcmp(v, "v7") || !strcmp(v, "v8");
    if (!strcmp(arch, "arm64"))
        return !strcmp(v, "v8") || !strncmp(v, "v8.", 3) || !strncmp(v, "v9", 2);
    if (!strcmp(arch, "amd64"))
        return !strcmp(v, "v1") || !strcmp(v, "v2") || !strcmp(v, "v3") || !strcmp(v, "v4");
    return false;
}

int kiln_platform_parse(const char *text, struct kiln_platform *p, struct kiln_error *err)
{
    char buf[128];
    if (strlen(text) >= sizeof(buf))
        return kiln_fail(err, KILN_ERR_USAGE, "--platform '%.40s…': too long", text);
    snprintf(buf, sizeof(buf), "%s", text);
    char *os = buf, *arch = strchr(buf, '/'), *variant = NULL;
    if (!arch || arch == os || !arch[1])
        return kiln_fail(err, KILN_ERR_USAGE,
                         "--platform '%s': expected OS/ARCH[/VARIANT], e.g. linux/arm64 or "
                         "linux/arm/v7",
                         text);
    *arch++ = '\0';
    if ((variant = strchr(arch, '/'))) {
        *variant++ = '\0';
        if (!*variant || strchr(variant, '/'))
            return kiln_fail(err, KILN_ERR_USAGE,
                             "--platform '%s': expected OS/ARCH[/VARIANT]", text);
    }
    if (!known_os(os))
        return kiln_fail(err, KILN_ERR_USAGE,
                         "--platform '%s': unknown OS '%s' (use Go's names: linux, windows, …)",
                         text, os);
    memset(p, 0, sizeof(*p));
    snprintf(p->os, sizeof(p->os), "%s", os);
    if (!kiln_arch_canonical(arch, p->arch, p->variant))
        return kiln_fail(err, KILN_ERR_USAGE,
                         "--platform '%s': unknown architecture '%s' (e.g. amd64, arm64, arm, "
                         "386, ppc64le, riscv64, s390x, or x86_64, aarch64, armv7)",
                         text, arch);
    if (variant) {
        if (!variant_ok(p->arch, variant))
            return kiln_fail(err, KILN_ERR_USAGE,
                             "--platform '%s': variant '%s' does not apply to %s", text, variant,
                             p->arch);
        snprintf(p->variant, sizeof(p->variant), "%s", variant);
    }
    /* arm64's only variant in practice is v8, which registries treat as none. */
    if (!strcmp(p->arch, "arm64") && !strcmp(p->variant, "v8"))
        p->variant[0] = '\0';
    return 0;
}

void kiln_platform_host(struct kiln_platform *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->os, sizeof(p->os), "linux");
    struct utsname u;
    if (uname(&u) == 0 && kiln_arch_canonical(u.machine, p->arch, p->variant))
        return;
#if defined(__x86_64__)
    snprintf(p->arch, sizeof(p->arch), "amd64");
#elif defined(__aarch64__)
    snprintf(p->arch, sizeof(p->arch), "arm64");
#else
    snprintf(p->arch, sizeof(p->arch), "unknown");
#endif
}

char *kiln_platform_format(const struct kiln_platform *p, char *out)
{
    snprintf(out, KILN_PLATFORM_MAX, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "",
             p->variant);
    return out;
}

void kiln_platform_from_json(const struct json_t *obj, struct kiln_platform *out)
{
    memset(out, 0, sizeof(*out));
    const char *os = json_string_value(json_object_get(obj, "os"));
    const char *arch = json_string_value(json_object_get(obj, "architecture"));
    const char *var = json_string_value(json_object_get(obj, "variant"));
    snprintf(out->os, sizeof(out->os), "%s", os ? os : "");
    snprintf(out->arch, sizeof(out->arch), "%s", arch ? arch : "");
    snprintf(out->variant, sizeof(out->variant), "%s", var ? var : "");
}

bool kiln_platform_match(const struct kiln_platform *want, const struct kiln_platform *have)
{
    if (strcmp(want->os, have->os) || strcmp(want->arch, have->arch))
        return false;
    if (!want->variant[0] || !strcmp(want->variant, have->variant))
        return true;
    return !strcmp(want->arch, "arm64") && !strcmp(want->variant, "v8") && !have->variant[0];
}

bool kiln_platform_equal(const struct kiln_platform *a, const struct kiln_platform *b)
{
    return !strcmp(a->os, b->os) && !strcmp(a->arch, b->arch) && !strcmp(a->variant, b->variant);
}
