/* --cache-dir, --cache-max-size and --no-cache (kiln build, mutate, append,
 * flatten, rebase, and kiln cache), and where the cache is by default. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_cache_option(int opt, const char *arg, struct cli_cache *c)
{
    if (opt == OPT_CACHE_DIR)
        c->dir = arg;
    else if (opt == OPT_CACHE_MAX_SIZE)
        c->max_size = arg;
    else if (opt == OPT_NO_CACHE)
        c->off = true;
    else
        return 0;
    return 1;
}

int cli_parse_size(const char *opt, const char *v, uint64_t *out, struct kiln_error *err)
{
    char *end = NULL;
    unsigned long long n = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
    unsigned shift = 0;
    if (end && *end) {
        const char *u = strchr("KMGT", end[0] & ~0x20);
        if (u && end[0] != 0) {
            shift = 10 * (unsigned)(u - "KMGT" + 1);
            end++;
            if (!strcmp(end, "iB") || !strcmp(end, "B"))
                end += strlen(end);
        }
    }
    if (!end || *end || end == v || n == 0 || n > (1ULL << 62) >> shift) {
        err->code = KILN_ERR_USAGE;
        snprintf(err->message, sizeof(err->message),
                 "%s '%.64s': expected a size in bytes, or with K, M, G or T (powers of 1024), "
                 "e.g. 10G",
                 opt, v);
        return -1;
    }
    *out = (uint64_t)n << shift;
    return 0;
}

/* --cache-dir, else $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else
 * $HOME/.cache/kiln; "" when there is none of them. */
const char *cli_cache_dir(const struct cli_cache *c, char *buf, size_t len, bool *is_default)
{
    *is_default = false;
    if (c->dir)
        return c->dir;
    const char *env = getenv("KILN_CACHE_DIR");
    if (env && *env)
        return env;
    *is_default = true;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(buf, len, "%s/kiln", xdg);
    else if (home && home[0] == '/')
        snprintf(buf, len, "%s/.cache/kiln", home);
    else
        snprintf(buf, len, "%s", "");
    return buf;
}

int cli_cache_setup(kiln_build *b, const struct cli_cache *c, struct cli_globals *g,
                    struct kiln_error *err)
{
    if (c->off)
        return 0;
    struct kiln_cache_opts o;
    kiln_cache_opts_init(&o);
    if (c->max_size && cli_parse_size("--cache-max-size", c->max_size, &o.max_size, err) < 0)
        return -1;
    char buf[4096];
    bool is_default;
    o.dir = cli_cache_dir(c, buf, sizeof(buf), &is_default);
    if (!*o.dir)
        return 0;
    if (kiln_build_set_cache(b, &o, err) == 0)
        return 0;
    if (!is_default)
        return -1;
    /* the default place (a read-only or missing home, a sandbox): build
     * without, as if there were none; said with -v */
    if (g->verbosity >= 1)
        fprintf(stderr, "kiln: %s; building without a cache\n", err->message);
    memset(err, 0, sizeof(*err));
    return 0;
}
