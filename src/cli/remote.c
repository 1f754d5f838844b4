/* The options the subcommands share: the registry options, -q, -v, --debug, -h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_parse_uint(const char *opt, const char *v, unsigned long long lo, unsigned long long hi,
                   unsigned long long *out, struct kiln_error *err)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || *end || errno || n < lo || n > hi) {
        err->code = KILN_ERR_USAGE;
        snprintf(err->message, sizeof(err->message),
                 "%s '%s': expected a whole number from %llu to %llu", opt, v, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

int cli_remote_option(int opt, const char *arg, struct kiln_remote_opts *o, struct kiln_error *err)
{
    unsigned long long n;
    switch (opt) {
    case OPT_CREDS:
        o->creds = arg;
        return 1;
    case OPT_SRC_CREDS:
        o->src_creds = arg;
        return 1;
    case OPT_DEST_CREDS:
        o->dest_creds = arg;
        return 1;
    case OPT_AUTHFILE:
        o->authfile = arg;
        return 1;
    case OPT_CA_FILE:
        o->ca_file = arg;
        return 1;
    case OPT_CERT_DIR:
        o->cert_dir = arg;
        return 1;
    case OPT_INSECURE:
        o->insecure = true;
        return 1;
    case OPT_TLS_VERIFY:
        if (!arg || !strcmp(arg, "true"))
            o->tls_verify = true;
        else if (!strcmp(arg, "false"))
            o->tls_verify = false;
        else {
            err->code = KILN_ERR_USAGE;
            snprintf(err->message, sizeof(err->message),
                     "--tls-verify '%s': expected true or false", arg);
            return -1;
        }
        return 1;
    case OPT_RETRIES:
        if (cli_parse_uint("--retries", arg, 0, 100, &n, err) < 0)
            return -1;
        o->retries = (unsigned)n;
        return 1;
    case OPT_CHUNK_SIZE:
        if (cli_parse_uint("--chunk-size", arg, 1, 1ULL << 40, &n, err) < 0)
            return -1;
        o->chunk_size = n;
        return 1;
    case OPT_REGISTRY_MIRROR: {
        /* the strings are argv's; the list lives as long as the process */
        static const char *mirrors[32];
        if (o->nmirrors >= sizeof(mirrors) / sizeof(mirrors[0])) {
            err->code = KILN_ERR_USAGE;
            snprintf(err->message, sizeof(err->message), "--registry-mirror: at most %zu",
                     sizeof(mirrors) / sizeof(mirrors[0]));
            return -1;
        }
        mirrors[o->nmirrors++] = arg; /* o->mirrors is this array, or empty */
        o->mirrors = mirrors;
        return 1;
    }
    case OPT_PUSH_JOBS:
        if (cli_parse_uint("--jobs", arg, 1, 64, &n, err) < 0)
            return -1;
        o->jobs = (unsigned)n;
        return 1;
    default:
        return 0;
    }
}

/* A whole number from the environment, or def when unset, empty or not a number. */
static unsigned env_uint(const char *name, unsigned def)
{
    const char *v = getenv(name);
    char *end;
    unsigned long n = v && *v ? strtoul(v, &end, 10) : 0;
    return v && *v && !*end && n <= 3600000 ? (unsigned)n : def;
}

void cli_remote_setup(struct kiln_remote_opts *o, struct cli_globals *g, bool progress)
{
    kiln_remote_opts_init(o);
    /* the library reads no environment: the CLI passes these on (kiln-login(1),
     * ENVIRONMENT) */
    o->retry_base_ms = env_uint("KILN_RETRY_BASE_MS", o->retry_base_ms);
    o->stall_seconds = env_uint("KILN_STALL_SECONDS", o->stall_seconds);
    /* docker's daemon.json elsewhere (a test, a daemon with --config-file) */
    const char *dj = getenv("KILN_DOCKER_DAEMON_JSON");
    if (dj)
        o->daemon_json = dj;
    o->log = cli_log;
    o->log_userdata = g;
    if (progress) {
        o->progress = cli_progress;
        o->progress_userdata = g;
    }
}

int cli_usage(struct kiln_error *err, const char *cmd, const char *message)
{
    err->code = KILN_ERR_USAGE;
    snprintf(err->message, sizeof(err->message), "%s: %s", cmd, message);
    return -1;
}

int cli_next_option(int *rc, int argc, char **argv, const char *shortopts,
                    const struct option *longopts, const char *help, struct kiln_remote_opts *ro,
                    struct cli_globals *g, struct kiln_error *err)
{
    while (*rc == 0) {
        int opt = cli_getopt(argc, argv, shortopts, longopts);
        if (opt == -1)
            return 0;
        int r = cli_common_option(opt, optarg, help, ro, g, err);
        if (r == CLI_OPT_HELP)
            *rc = CLI_HELP_SHOWN;
        else if (r < 0)
            *rc = -1;
        else if (r == CLI_OPT_OWN)
            return opt;
    }
    return 0;
}

int cli_common_option(int opt, const char *arg, const char *help, struct kiln_remote_opts *ro,
                      struct cli_globals *g, struct kiln_error *err)
{
    if (ro) {
        int r = cli_remote_option(opt, arg, ro, err);
        if (r != 0)
            return r < 0 ? -1 : CLI_OPT_TAKEN;
    }
    switch (opt) {
    case 'q':
        g->verbosity = -1;
        return CLI_OPT_TAKEN;
    case 'v':
        g->verbosity = g->verbosity < 1 ? 1 : g->verbosity;
        return CLI_OPT_TAKEN;
    case CLI_OPT_DEBUG:
        g->verbosity = 2;
        return CLI_OPT_TAKEN;
    case 'h':
        fputs(help, stdout);
        return CLI_OPT_HELP;
    }
    return CLI_OPT_OWN;
}
