/* The kiln command line: one file per subcommand over the public API. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include "kiln/kiln.h"

/* Exit codes (documented in kiln(1)). */
enum { EXIT_OK = 0, EXIT_FAILURE_ = 1, EXIT_USAGE = 2 };

struct cli_globals {
    int verbosity; /* -1 quiet, 0 normal, 1 verbose, 2 debug */
    double progress_start, progress_last;
};

int cmd_build(int argc, char **argv, struct cli_globals *g);
int cmd_copy(int argc, char **argv, struct cli_globals *g);
int cmd_inspect(int argc, char **argv, struct cli_globals *g);
int cmd_digest(int argc, char **argv, struct cli_globals *g);
int cmd_tags(int argc, char **argv, struct cli_globals *g);
int cmd_list(int argc, char **argv, struct cli_globals *g);
int cmd_login(int argc, char **argv, struct cli_globals *g);
int cmd_logout(int argc, char **argv, struct cli_globals *g);
int cmd_unpack(int argc, char **argv, struct cli_globals *g);
int cmd_export(int argc, char **argv, struct cli_globals *g);
int cmd_index(int argc, char **argv, struct cli_globals *g);
int cmd_validate(int argc, char **argv, struct cli_globals *g);
int cmd_diff(int argc, char **argv, struct cli_globals *g);
int cmd_version(int argc, char **argv, struct cli_globals *g);
int cmd_rm(int argc, char **argv, struct cli_globals *g);
int cmd_mutate(int argc, char **argv, struct cli_globals *g);
int cmd_append(int argc, char **argv, struct cli_globals *g);
int cmd_flatten(int argc, char **argv, struct cli_globals *g);
int cmd_rebase(int argc, char **argv, struct cli_globals *g);
/* kiln build's options and run, also for mutate and append (an image derived
 * from REF, written back to it unless -o is given); usage: their help. */
enum cli_build_mode { CLI_BUILD, CLI_MUTATE, CLI_APPEND, CLI_FLATTEN, CLI_REBASE };
int cli_build_main(int argc, char **argv, struct cli_globals *g, enum cli_build_mode mode,
                   const char *usage);
int cmd_gc(int argc, char **argv, struct cli_globals *g);
int cmd_sign(int argc, char **argv, struct cli_globals *g);
int cmd_verify(int argc, char **argv, struct cli_globals *g);
int cmd_keygen(int argc, char **argv, struct cli_globals *g);
int cmd_attach(int argc, char **argv, struct cli_globals *g);
int cmd_referrers(int argc, char **argv, struct cli_globals *g);

/* A key's passphrase from --passphrase-file or --passphrase-fd (passphrase.c). */
struct cli_passphrase {
    char *text;
    size_t len;
};
int cli_passphrase_read(const char *file, const char *fd_text, struct cli_passphrase *p,
                        struct kiln_error *err);
void cli_passphrase_free(struct cli_passphrase *p);

/* --sign-by KEY --sign-passphrase-file F | --sign-passphrase-fd N on build,
 * copy and index (signby.c): each docker:// destination is signed once the
 * push succeeded, by the digest pushed. */
enum { OPT_SIGN_BY = 1100, OPT_SIGN_PFILE, OPT_SIGN_PFD };
struct cli_sign_by {
    const char *key, *pfile, *pfd;
    struct cli_passphrase pass;
};
#define CLI_SIGN_BY_OPTIONS                                                                    \
    {"sign-by", required_argument, NULL, OPT_SIGN_BY},                                         \
        {"sign-passphrase-file", required_argument, NULL, OPT_SIGN_PFILE},                     \
        {"sign-passphrase-fd", required_argument, NULL, OPT_SIGN_PFD}
#define CLI_SIGN_BY_HELP                                                                       \
    "  --sign-by KEY             sign each docker:// destination with this private key\n"    \
    "                            (sigstore, as 'kiln sign'; see kiln-sign(1))\n"             \
    "  --sign-passphrase-file F  the key's passphrase: the first line of F\n"                \
    "  --sign-passphrase-fd N    the key's passphrase: the first line read from N\n"
int cli_sign_by_option(int opt, const char *arg, struct cli_sign_by *s);
int cli_sign_by_prepare(struct cli_sign_by *s, const char *cmd, struct kiln_error *err);
int cli_sign_by_run(struct cli_sign_by *s, const char *dest, const char *digest,
                    const struct kiln_remote_opts *ro, struct cli_globals *g,
                    struct kiln_error *err);
void cli_sign_by_free(struct cli_sign_by *s);

/* Registry options shared by the subcommands (remote.c). */
#include <getopt.h>
enum {
    OPT_REMOTE_BASE = 1000,
    OPT_CREDS = OPT_REMOTE_BASE,
    OPT_SRC_CREDS,
    OPT_DEST_CREDS,
    OPT_AUTHFILE,
    OPT_CA_FILE,
    OPT_CERT_DIR,
    OPT_TLS_VERIFY,
    OPT_INSECURE,
    OPT_RETRIES,
    OPT_CHUNK_SIZE,
    OPT_PUSH_JOBS,
    OPT_REGISTRY_MIRROR,
    OPT_REMOTE_END,
};
#define CLI_REMOTE_OPTIONS                                                                     \
    {"creds", required_argument, NULL, OPT_CREDS},                                             \
        {"authfile", required_argument, NULL, OPT_AUTHFILE},                                   \
        {"ca-file", required_argument, NULL, OPT_CA_FILE},                                     \
        {"cert-dir", required_argument, NULL, OPT_CERT_DIR},                                   \
        {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},                               \
        {"insecure", no_argument, NULL, OPT_INSECURE},                                         \
        {"retries", required_argument, NULL, OPT_RETRIES},                                     \
        {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},                               \
        {"registry-mirror", required_argument, NULL, OPT_REGISTRY_MIRROR}
#define CLI_REMOTE_HELP                                                                        \
    "Registry options:\n"                                                                      \
    "  --creds USER[:PASS]       credentials (default: the auth files, as docker/podman)\n"   \
    "  --authfile FILE           auth file (docker config.json or podman auth.json)\n"        \
    "  --ca-file FILE            also trust this CA certificate (PEM)\n"                      \
    "  --cert-dir DIR            certs.d layout: DIR/HOST:PORT/*.crt\n"                       \
    "  --tls-verify=false        do not verify TLS certificates (allows plain http)\n"        \
    "  --insecure                allow plain http (always allowed for loopback)\n"            \
    "  --retries N               retries per request on transient errors (default 5)\n"       \
    "  --chunk-size BYTES        upload in chunks of this size (default: one request)\n"      \
    "  --registry-mirror [REGISTRY=]MIRROR\n"                                                  \
    "                            pull from MIRROR first (repeatable; REGISTRY: docker.io)\n"   \
    "  --debug                   log every HTTP request (never credentials or tokens)\n"

/* The options the subcommands share (remote.c): each lists the ones it has
 * in its option table (and short options), and hands every option of its
 * getopt loop to cli_common_option first. */
enum { CLI_OPT_DEBUG = 1200 };
#define CLI_OPTION_QUIET {"quiet", no_argument, NULL, 'q'}
#define CLI_OPTION_VERBOSE {"verbose", no_argument, NULL, 'v'}
#define CLI_OPTION_DEBUG {"debug", no_argument, NULL, CLI_OPT_DEBUG}
#define CLI_OPTION_HELP {"help", no_argument, NULL, 'h'}
enum { CLI_OPT_OWN, CLI_OPT_TAKEN, CLI_OPT_HELP };
/* Takes the registry options (into ro, unless it is NULL), -q/--quiet,
 * -v/--verbose (never lowering --debug), --debug and -h/--help (prints help).
 * Returns CLI_OPT_TAKEN, CLI_OPT_HELP once help is printed (the command
 * returns EXIT_OK), CLI_OPT_OWN for the command's own options (and for
 * cli_bad_option's '?' and ':'), or -1 with err set for a bad value. */
int cli_common_option(int opt, const char *arg, const char *help, struct kiln_remote_opts *ro,
                      struct cli_globals *g, struct kiln_error *err);

/* A subcommand's getopt loop, the shared options taken by cli_common_option:
 *
 *     int opt, rc = 0;
 *     CLI_EACH_OPTION(opt, rc, argc, argv, ":qh", options, help, &ro, g, &err) {
 *         switch (opt) { ... default: rc = cli_bad_option("cmd", opt, argv, &err); }
 *     }
 *     if (rc == CLI_HELP_SHOWN)
 *         return EXIT_OK;
 *
 * The body sees only the command's own options (and getopt's '?' and ':'), whose
 * values must not be 0 (0 ends the loop).
 * The loop ends after the last option, or once rc is not 0: -1 with err set
 * (a bad value), or CLI_HELP_SHOWN when --help was printed. */
enum { CLI_HELP_SHOWN = 1 };
int cli_next_option(int *rc, int argc, char **argv, const char *shortopts,
                    const struct option *longopts, const char *help, struct kiln_remote_opts *ro,
                    struct cli_globals *g, struct kiln_error *err);
#define CLI_EACH_OPTION(opt, rc, argc, argv, shortopts, longopts, help, ro, g, err)               \
    for (optind = 1, opterr = 0;                                                                  \
         ((opt) = cli_next_option(&(rc), argc, argv, shortopts, longopts, help, ro, g, err)) > 0;)

/* Default registry options, reporting through the CLI's log (and progress
 * display, when `progress`). */
void cli_remote_setup(struct kiln_remote_opts *o, struct cli_globals *g, bool progress);
/* Sets a usage error "CMD: MESSAGE" and returns -1. */
int cli_usage(struct kiln_error *err, const char *cmd, const char *message);
/* Returns 1 if opt was a registry option (and applies it), 0 if not, -1 on error. */
int cli_remote_option(int opt, const char *arg, struct kiln_remote_opts *o, struct kiln_error *err);
int cli_parse_uint(const char *opt, const char *v, unsigned long long lo, unsigned long long hi,
                   unsigned long long *out, struct kiln_error *err);
/* getopt_long without abbreviations: a long option must be written in full
 * ("--rootf" is not "--rootfs"); a prefix is returned as '?' (options.c). */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
/* Reports "unknown option"/"needs a value"/"takes no value" for cli_getopt's
 * '?' and ':', naming the word and, for a prefix, the options it begins. */
int cli_bad_option(const char *cmd, int opt, char **argv, struct kiln_error *err);

/* --digestfile FILE: checked before the operation (its directory must be
 * writable, so that a push is not done for nothing), then written with the
 * digest and no newline, atomically (digestfile.c). */
int cli_digestfile_check(const char *path, struct kiln_error *err);
int cli_digestfile_write(const char *path, const char *digest, struct kiln_error *err);

/* --format '{{…}}': a subset of Go templates over the JSON of --format json
 * (template.c; the syntax is in kiln-inspect(1)). Render returns a malloc'ed
 * string, or NULL when out of memory or json_text is not JSON. */
struct cli_template;
int cli_template_parse(const char *src, struct cli_template **out, struct kiln_error *err);
char *cli_template_render(const struct cli_template *t, const char *json_text);
void cli_template_free(struct cli_template *t);

/* The chunk cache's options (cacheopt.c). */
enum { OPT_CACHE_DIR = 1300, OPT_CACHE_MAX_SIZE, OPT_NO_CACHE };
#define CLI_CACHE_OPTIONS                                                                      \
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},                                     \
        {"cache-max-size", required_argument, NULL, OPT_CACHE_MAX_SIZE},                       \
        {"no-cache", no_argument, NULL, OPT_NO_CACHE}
#define CLI_CACHE_HELP                                                                         \
    "Cache (of compressed gzip blocks; see kiln-cache(1)):\n"                                  \
    "  --cache-dir DIR           the cache (default $KILN_CACHE_DIR, else\n"                   \
    "                            $XDG_CACHE_HOME/kiln, else ~/.cache/kiln)\n"                 \
    "  --cache-max-size SIZE     trim it to 90 % of SIZE (K, M, G, T; default 10G)\n"           \
    "  --no-cache                compress everything, use and store nothing\n"
struct cli_cache {
    const char *dir, *max_size;
    bool off;
};
/* 1 if opt was a cache option (taken into c), else 0. */
int cli_cache_option(int opt, const char *arg, struct cli_cache *c);
/* The cache directory (buf holds the default); "" when there is none. */
const char *cli_cache_dir(const struct cli_cache *c, char *buf, size_t len, bool *is_default);
/* Gives the build its cache; the default directory failing is a warning. */
int cli_cache_setup(kiln_build *b, const struct cli_cache *c, struct cli_globals *g,
                    struct kiln_error *err);
/* "10G", "512M", "1048576": bytes (powers of 1024). */
int cli_parse_size(const char *opt, const char *v, uint64_t *out, struct kiln_error *err);
int cmd_cache(int argc, char **argv, struct cli_globals *g);

/* Prints "kiln: MESSAGE" on stderr and returns the exit code for the error. */
int cli_report(const struct kiln_error *err);
void cli_log(void *userdata, enum kiln_log_level level, const char *message);
void cli_progress(void *userdata, const struct kiln_progress *p);
/* The text of a progress line: "HOST/REPO: n/N blobs, DONE / TOTAL", then
 * " in T s" once done, then ", RATE/s" when `elapsed` (seconds since the
 * first report) is long enough to measure one (progress.c). */
/* A byte count for people: "335.4 kB" (powers of 1000; progress.c). */
void cli_human_size(uint64_t n, char *out, size_t len);
void cli_progress_line(char *out, size_t len, const struct kiln_progress *p, double elapsed);

#endif
