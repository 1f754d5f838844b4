/* kiln build: directory trees and tarballs -> an image in one or more outputs. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln build [OPTIONS] -o DEST [-o DEST ...]\n"
    "       kiln build [-f DOCKERFILE] [--build-arg K=V] [--target STAGE] [OPTIONS] -o DEST CONTEXT\n"
    "\n"
    "Build an image: each --rootfs or --tar input becomes one layer, in the order given;\n"
    "or from a Dockerfile, without running anything (RUN is refused; see docs/dockerfile.md).\n"
    "Prints the manifest digest on stdout.\n"
    "\n"
    "Dockerfile:\n"
    "  -f, --file FILE           the Dockerfile (default: CONTEXT/Dockerfile; - reads stdin)\n"
    "  --build-arg NAME[=VALUE]  value of an ARG (repeatable; NAME alone: from the environment)\n"
    "  --target STAGE            build this stage (FROM ... AS STAGE) instead of the last\n"
    "  CONTEXT                   the build context directory (.dockerignore applies)\n"
    "\n"
    "Inputs:\n"
    "  --rootfs DIR              a directory tree (owners, modes, xattrs, hardlinks, devices)\n"
    "  --tar FILE                a tarball (plain, gzip, bzip2, xz or zstd), re-normalised\n"
    "  --diff OLD NEW            the changes from tree OLD to tree NEW, whiteouts included\n"
    "  --add SRC:DEST[:MODE[:UID:GID]]\n"
    "                            a file or tree at DEST; every --add goes into one layer\n"
    "  --layer-map FILE          split the preceding --rootfs into the layers FILE names\n"
    "                            ([NAME] then /path/globs or @listfile; the rest last)\n"
    "Base:\n"
    "  --from REF                base image on any transport (oci:, oci-archive:,\n"
    "                            docker-archive:, docker://): its layers come first, unchanged\n"
    "Image config (inherited from --from, then overridden):\n"
    "  --entrypoint ARGS         JSON array, or a string split as a shell would\n"
    "  --cmd ARGS                JSON array, or a string split as a shell would\n"
    "  --env KEY=VALUE           environment variable (repeatable)\n"
    "  --workdir DIR             working directory (absolute)\n"
    "  --user USER[:GROUP]       user the container runs as\n"
    "  --port N[-M][/PROTO]      exposed port or range; tcp, udp, sctp (repeatable)\n"
    "  --volume PATH             volume mount point (repeatable)\n"
    "  --label KEY=VALUE         config label (repeatable)\n"
    "  --annotation KEY=VALUE    manifest annotation (repeatable)\n"
    "  --stop-signal SIGNAL      e.g. SIGTERM\n"
    "  --author TEXT             image author\n"
    "  --platform OS/ARCH[/VAR]  default linux/<host>; accepts x86_64, aarch64, armv7, ...\n"
    "Names:\n"
    "  -t, --tag REF             image name and tag, e.g. app:1.0 (repeatable)\n"
    "Determinism:\n"
    "  --source-date-epoch N     created time; clamps file mtimes (default $SOURCE_DATE_EPOCH)\n"
    "Layers:\n"
    "  --compression ALGO        gzip (default), zstd or none\n"
    "  --compression-level N     gzip 1-12 (default 4; 6 for small layers),\n"
    "                            zstd 1-22 (default 3)\n"
    "  -j, --jobs N              compression threads (default: all CPUs; same output for any N)\n"
    "  --no-xattrs               drop extended attributes\n"
    "  --max-bytes N             refuse --tar/ADD tarballs over N bytes (64 GiB)\n"
    "  --max-entries N           refuse --tar/ADD tarballs over N members (10 million)\n"
    "Outputs (several in one pass):\n"
    "  -o, --output DEST         oci:DIR[:NAME], oci-archive:FILE[:NAME], docker-archive:FILE[:REF],\n"
    "                            docker://HOST/REPO:TAG (push); a path ends at its first ':'\n"
    "                            (write a ':' in it as \\:)\n"
    "  --push-jobs N             parallel blob uploads (default 4)\n"
    "  --digestfile FILE         also write the manifest digest to FILE (no newline)\n"
    CLI_SIGN_BY_HELP
    "Other:\n"
    "  -q, --quiet               no warnings on stderr\n"
    "  -v, --verbose             report each layer on stderr\n"
    "  -h, --help                this help\n"
    "\n" CLI_REMOTE_HELP "\n"
    "Exit status: 0 success, 1 failure, 2 usage error. See kiln-build(1).\n";

enum {
    OPT_ROOTFS = 256,
    OPT_TAR,
    OPT_ENTRYPOINT,
    OPT_CMD,
    OPT_ENV,
    OPT_WORKDIR,
    OPT_USER,
    OPT_PORT,
    OPT_VOLUME,
    OPT_LABEL,
    OPT_ANNOTATION,
    OPT_STOP_SIGNAL,
    OPT_AUTHOR,
    OPT_PLATFORM,
    OPT_SDE,
    OPT_COMPRESSION,
    OPT_LEVEL,
    OPT_NO_XATTRS,
    OPT_DEBUG,
    OPT_FROM,
    OPT_LAYER_MAP,
    OPT_ADD,
    OPT_DIFF,
    OPT_MAX_BYTES,
    OPT_MAX_ENTRIES,
    OPT_BUILD_ARG,
    OPT_TARGET,
    OPT_DIGESTFILE,
};

static const struct option options[] = {
    CLI_REMOTE_OPTIONS,
    { "push-jobs", required_argument, NULL, OPT_PUSH_JOBS },
    { "rootfs", required_argument, NULL, OPT_ROOTFS },
    { "from", required_argument, NULL, OPT_FROM },
    { "layer-map", required_argument, NULL, OPT_LAYER_MAP },
    { "add", required_argument, NULL, OPT_ADD },
    { "diff", required_argument, NULL, OPT_DIFF },
    { "max-bytes", required_argument, NULL, OPT_MAX_BYTES },
    { "max-entries", required_argument, NULL, OPT_MAX_ENTRIES },
    { "tar", required_argument, NULL, OPT_TAR },
    { "file", required_argument, NULL, 'f' },
    { "build-arg", required_argument, NULL, OPT_BUILD_ARG },
    { "target", required_argument, NULL, OPT_TARGET },
    { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
    { "cmd", required_argument, NULL, OPT_CMD },
    { "env", required_argument, NULL, OPT_ENV },
    { "workdir", required_argument, NULL, OPT_WORKDIR },
    { "user", required_argument, NULL, OPT_USER },
    { "port", required_argument, NULL, OPT_PORT },
    { "volume", required_argument, NULL, OPT_VOLUME },
    { "label", required_argument, NULL, OPT_LABEL },
    { "annotation", required_argument, NULL, OPT_ANNOTATION },
    { "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
    { "author", required_argument, NULL, OPT_AUTHOR },
    { "platform", required_argument, NULL, OPT_PLATFORM },
    { "tag", required_argument, NULL, 't' },
    { "source-date-epoch", required_argument, NULL, OPT_SDE },
    { "compression", required_argument, NULL, OPT_COMPRESSION },
    { "compression-level", required_argument, NULL, OPT_LEVEL },
    { "jobs", required_argument, NULL, 'j' },
    { "no-xattrs", no_argument, NULL, OPT_NO_XATTRS },
    { "output", required_argument, NULL, 'o' },
    { "digestfile", required_argument, NULL, OPT_DIGESTFILE },
    CLI_SIGN_BY_OPTIONS,
    { "quiet", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "debug", no_argument, NULL, OPT_DEBUG },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static int setting_of(int opt)
{
    switch (opt) {
    case OPT_ENTRYPOINT:
        return KILN_SET_ENTRYPOINT;
    case OPT_CMD:
        return KILN_SET_CMD;
    case OPT_ENV:
        return KILN_SET_ENV;
    case OPT_WORKDIR:
        return KILN_SET_WORKDIR;
    case OPT_USER:
        return KILN_SET_USER;
    case OPT_PORT:
        return KILN_SET_PORT;
    case OPT_VOLUME:
        return KILN_SET_VOLUME;
    case OPT_LABEL:
        return KILN_SET_LABEL;
    case OPT_ANNOTATION:
        return KILN_SET_ANNOTATION;
    case OPT_STOP_SIGNAL:
        return KILN_SET_STOP_SIGNAL;
    case OPT_AUTHOR:
        return KILN_SET_AUTHOR;
    case OPT_PLATFORM:
        return KILN_SET_PLATFORM;
    case 't':
        return KILN_SET_TAG;
    case OPT_FROM:
        return KILN_SET_FROM;
    default:
        return -1;
    }
}

static int parse_int(const char *opt, const char *v, long lo, long hi, long *out,
                     struct kiln_error *err)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || *end || errno || n < lo || n > hi) {
        err->code = KILN_ERR_USAGE;
        snprintf(err->message, sizeof(err->message), "%s '%s': expected a number from %ld to %ld",
                 opt, v, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

int cmd_build(int argc, char **argv, struct cli_globals *g)
{
    struct kiln_error err = { 0 };
    kiln_build *b = kiln_build_new();
    if (!b) {
        fputs("kiln: out of memory\n", stderr);
        return EXIT_FAILURE_;
    }
    kiln_build_set_log(b, cli_log, g);
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, true);
    const char *compression = "gzip", *level = NULL, *sde = getenv("SOURCE_DATE_EPOCH");
    bool sde_from_env = sde && *sde;
    unsigned long long max_bytes = 64ULL << 30, max_entries = 10000000;
    /* Dockerfile mode */
    const char *dockerfile = NULL, *target = NULL, *platform = NULL, *input_opt = NULL;
    const char *digestfile = NULL;
    const char **build_args = calloc((size_t)argc + 1, sizeof(*build_args));
    size_t nbuild_args = 0;
    /* the docker:// outputs, signed after the push with --sign-by */
    const char **pushes = calloc((size_t)argc + 1, sizeof(*pushes));
    size_t npushes = 0;
    struct cli_sign_by sb = { 0 };
    if (!build_args || !pushes) {
        free(build_args);
        free(pushes);
        kiln_build_free(b);
        fputs("kiln: out of memory\n", stderr);
        return EXIT_FAILURE_;
    }
    int rc = 0, opt;
    optind = 1;
    opterr = 0;
    while (rc == 0 && (opt = cli_getopt(argc, argv, "+:t:o:j:f:qvh", options)) != -1) {
        int s = setting_of(opt);
        long n;
        int r = cli_remote_option(opt, optarg, &ro, &err);
        if (r != 0) {
            rc = r < 0 ? -1 : 0;
            continue;
        }
        if (cli_sign_by_option(opt, optarg, &sb))
            continue;
        if (s >= 0) {
            if (opt == OPT_PLATFORM)
                platform = optarg;
            if (opt == OPT_FROM)
                input_opt = "--from";
            rc = kiln_build_set(b, (enum kiln_setting)s, optarg, &err);
            continue;
        }
        if (opt == OPT_ROOTFS || opt == OPT_TAR || opt == OPT_ADD || opt == OPT_DIFF)
            input_opt = argv[optind - 1];
        switch (opt) {
        case OPT_ROOTFS:
            rc = kiln_build_add_rootfs(b, optarg, &err);
            break;
        case OPT_TAR:
            rc = kiln_build_add_tar(b, optarg, &err);
            break;
        case OPT_LAYER_MAP:
            rc = kiln_build_set_layer_map(b, optarg, &err);
            break;
        case OPT_ADD:
            rc = kiln_build_add(b, optarg, &err);
            break;
        case OPT_DIFF: /* two values: OLD is the option's, NEW the next word */
            if (optind >= argc || argv[optind][0] == '-') {
                err.code = KILN_ERR_USAGE;
                snprintf(err.message, sizeof(err.message), "--diff %s: expected --diff OLD NEW",
                         optarg);
                rc = -1;
            } else
                rc = kiln_build_add_diff(b, optarg, argv[optind++], &err);
            break;
        case 'f':
            dockerfile = optarg;
            break;
        case OPT_BUILD_ARG:
            build_args[nbuild_args++] = optarg;
            break;
        case OPT_TARGET:
            target = optarg;
            break;
        case OPT_DIGESTFILE:
            digestfile = optarg;
            break;
        case OPT_SDE:
            sde = optarg;
            sde_from_env = false;
            break;
        case OPT_COMPRESSION:
            compression = optarg;
            break;
        case OPT_LEVEL:
            level = optarg;
            break;
        case 'j':
            rc = parse_int("--jobs", optarg, 1, 256, &n, &err);
            if (rc == 0)
                kiln_build_set_jobs(b, (unsigned)n);
            break;
        case OPT_NO_XATTRS:
            kiln_build_set_xattrs(b, false);
            break;
        case OPT_MAX_BYTES:
        case OPT_MAX_ENTRIES: {
            unsigned long long v;
            rc = cli_parse_uint(opt == OPT_MAX_BYTES ? "--max-bytes" : "--max-entries", optarg,
                                1, 1ULL << 62, &v, &err);
            if (rc == 0 && opt == OPT_MAX_BYTES)
                max_bytes = v;
            else if (rc == 0)
                max_entries = v;
            break;
        }
        case 'o':
            rc = kiln_build_add_output(b, optarg, &err);
            if (rc == 0 && !strncmp(optarg, "docker://", 9))
                pushes[npushes++] = optarg;
            break;
        case 'q':
            g->verbosity = -1;
            break;
        case 'v':
            g->verbosity = g->verbosity < 1 ? 1 : g->verbosity;
            break;
        case OPT_DEBUG:
            g->verbosity = 2;
            break;
        case 'h':
            fputs(help, stdout);
            kiln_build_free(b);
            free(build_args);
            free(pushes);
            return EXIT_OK;
        default:
            rc = cli_bad_option("build", opt, argv, &err);
            break;
        }
    }
    const char *context = rc == 0 && optind < argc ? argv[optind] : NULL;
    if (rc == 0 && optind + 1 < argc) {
        err.code = KILN_ERR_USAGE;
        snprintf(err.message, sizeof(err.message),
                 "build: unexpected argument '%s' (one build CONTEXT directory at most; inputs "
                 "are --rootfs DIR or --tar FILE)",
                 argv[optind + 1]);
        rc = -1;
    }
    if (rc == 0 && !context && (dockerfile || target || nbuild_args)) {
        err.code = KILN_ERR_USAGE;
        snprintf(err.message, sizeof(err.message),
                 "build: %s needs the build CONTEXT directory as the last argument",
                 dockerfile ? "-f" : target ? "--target" : "--build-arg");
        rc = -1;
    }
    if (rc == 0 && context && input_opt) {
        err.code = KILN_ERR_USAGE;
        snprintf(err.message, sizeof(err.message),
                 "build: %s cannot be combined with a Dockerfile build (use FROM, COPY or ADD)",
                 input_opt);
        rc = -1;
    }
    enum kiln_compression comp = KILN_COMPRESSION_GZIP;
    long lvl = -1;
    if (rc == 0)
        rc = kiln_parse_compression(compression, &comp, &err);
    if (rc == 0 && level)
        rc = parse_int("--compression-level", level, 0, INT_MAX, &lvl, &err);
    if (rc == 0)
        rc = kiln_build_set_compression(b, comp, (int)lvl, &err);
    if (rc == 0 && sde) {
        int64_t epoch;
        rc = kiln_parse_source_date_epoch(sde, &epoch, &err);
        if (rc < 0 && !sde_from_env) {
            err.code = KILN_ERR_USAGE;
            snprintf(err.message, sizeof(err.message),
                     "--source-date-epoch '%.64s': expected whole seconds since 1970", sde);
        }
        if (rc == 0)
            kiln_build_set_source_date_epoch(b, epoch);
    }
    char digest[KILN_DIGEST_MAX];
    kiln_build_set_remote(b, &ro);
    kiln_build_set_tar_limits(b, max_bytes, max_entries);
    kiln_dockerfile *df = NULL;
    if (rc == 0 && context) {
        struct kiln_dockerfile_opts dopts = {.size = sizeof(dopts),
                                             .file = dockerfile,
                                             .context = context,
                                             .build_args = build_args,
                                             .nbuild_args = nbuild_args,
                                             .target = target,
                                             .platform = platform,
                                             .remote = &ro,
                                             .log = cli_log,
                                             .log_userdata = g};
        rc = kiln_dockerfile_build(b, &dopts, &df, &err);
    }
    if (rc == 0 && digestfile)
        rc = cli_digestfile_check(digestfile, &err);
    if (rc == 0)
        rc = cli_sign_by_prepare(&sb, "build", &err);
    if (rc == 0 && sb.key && npushes == 0)
        rc = cli_usage(&err, "build", "--sign-by signs docker:// outputs, and there is none");
    if (rc == 0)
        rc = kiln_build_run(b, digest, &err);
    for (size_t i = 0; rc == 0 && i < npushes; i++)
        rc = cli_sign_by_run(&sb, pushes[i], digest, &ro, g, &err);
    if (rc == 0 && digestfile)
        rc = cli_digestfile_write(digestfile, digest, &err);
    cli_sign_by_free(&sb);
    free(pushes);
    kiln_build_free(b);
    kiln_dockerfile_free(df);
    free(build_args);
    if (rc < 0)
        return cli_report(&err);
    printf("%s\n", digest);
    return EXIT_OK;
}
