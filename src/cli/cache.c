/* kiln cache show|prune|wipe: the chunk cache of kiln build. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln cache show|prune|wipe [OPTIONS]\n"
    "\n"
    "The cache of compressed gzip blocks that kiln build reuses (see kiln-cache(1) and\n"
    "docs/cache.md): the same output, without compressing again what it compressed before.\n"
    "\n"
    "  show                      print its directory, entries and size\n"
    "  prune                     remove the least recently used entries down to\n"
    "                            --cache-max-size, and what killed kiln processes left\n"
    "  wipe                      remove every entry\n"
    "Running builds may go on meanwhile. Nothing in the cache is needed: a build\n"
    "without it writes the same bytes.\n"
    "\n"
    "Options:\n"
    "  --cache-dir DIR           the cache (default $KILN_CACHE_DIR, else\n"
    "                            $XDG_CACHE_HOME/kiln, else ~/.cache/kiln)\n"
    "  --cache-max-size SIZE     prune: what to keep (K, M, G, T; default 10G)\n"
    "  -q, --quiet               print nothing (prune, wipe)\n"
    "  -h, --help                this help\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error. See kiln-cache(1).\n";

int cmd_cache(int argc, char **argv, struct cli_globals *g)
{
    static const struct option options[] = {
        { "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
        { "cache-max-size", required_argument, NULL, OPT_CACHE_MAX_SIZE },
        CLI_OPTION_QUIET,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct cli_cache c = { 0 };
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":qh", options, help, NULL, g, &err) {
        if (!cli_cache_option(opt, optarg, &c))
            rc = cli_bad_option("cache", opt, argv, &err);
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    const char *what = rc == 0 && optind < argc ? argv[optind] : NULL;
    if (rc == 0 && (!what || optind + 1 < argc ||
                    (strcmp(what, "show") && strcmp(what, "prune") && strcmp(what, "wipe"))))
        rc = cli_usage(&err, "cache", "expected show, prune or wipe; run 'kiln cache --help'");
    struct kiln_cache_opts o;
    kiln_cache_opts_init(&o);
    if (rc == 0 && c.max_size && strcmp(what, "prune"))
        rc = cli_usage(&err, "cache", "--cache-max-size applies to prune only");
    if (rc == 0 && c.max_size)
        rc = cli_parse_size("--cache-max-size", c.max_size, &o.max_size, &err);
    char buf[4096];
    bool is_default;
    if (rc == 0)
        o.dir = cli_cache_dir(&c, buf, sizeof(buf), &is_default);
    if (rc == 0 && !*o.dir)
        rc = cli_usage(&err, "cache",
                       "no cache directory: give --cache-dir DIR or set KILN_CACHE_DIR (HOME "
                       "and XDG_CACHE_HOME are unset)");
    struct kiln_cache_stats st = { 0 };
    if (rc == 0 && !strcmp(what, "show"))
        rc = kiln_cache_usage(o.dir, &st, &err);
    else if (rc == 0 && !strcmp(what, "prune"))
        rc = kiln_cache_prune(&o, &st, &err);
    else if (rc == 0)
        rc = kiln_cache_wipe(o.dir, &st, &err);
    if (rc < 0)
        return cli_report(&err);
    char size[32], freed[32];
    cli_human_size(st.bytes, size, sizeof(size));
    cli_human_size(st.removed_bytes, freed, sizeof(freed));
    if (!strcmp(what, "show")) {
        printf("directory: %s\nentries: %" PRIu64 "\nsize: %s (%" PRIu64 " bytes)\n", o.dir,
               st.entries, size, st.bytes);
        if (st.temp_files)
            printf("temporary files: %" PRIu64 " (of builds running, or killed: 'kiln cache "
                   "prune' removes them once ten minutes old)\n",
                   st.temp_files);
    } else if (g->verbosity >= 0) {
        printf("%s: removed %" PRIu64 " file%s (%s); kept %" PRIu64 " entr%s (%s)\n", o.dir,
               st.removed, st.removed == 1 ? "" : "s", freed, st.entries,
               st.entries == 1 ? "y" : "ies", size);
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_;
}
