/* kiln build: directory trees and tarballs -> an image in one or more outputs. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
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
    "  --manifest-format FMT     oci (default), docker (v2 schema 2, for registries and\n"
    "                            tools that still want it), or base (that of --from)\n"
    "  --digestfile FILE         also write the manifest digest to FILE (no newline)\n"
    CLI_SIGN_BY_HELP
    CLI_CACHE_HELP
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
    OPT_FROM,
    OPT_LAYER_MAP,
    OPT_ADD,
    OPT_DIFF,
    OPT_MAX_BYTES,
    OPT_MAX_ENTRIES,
    OPT_BUILD_ARG,
    OPT_TARGET,
    OPT_DIGESTFILE,
    OPT_MANIFEST_FORMAT,
    OPT_OLD_BASE,
    OPT_NEW_BASE,
};

/* The options of build, mutate, append and flatten; rebase adds two. */
#define BUILD_OPTIONS \
    CLI_REMOTE_OPTIONS, \
    { "push-jobs", required_argument, NULL, OPT_PUSH_JOBS }, \
    { "rootfs", required_argument, NULL, OPT_ROOTFS }, \
    { "from", required_argument, NULL, OPT_FROM }, \
    { "layer-map", required_argument, NULL, OPT_LAYER_MAP }, \
    { "add", required_argument, NULL, OPT_ADD }, \
    { "diff", required_argument, NULL, OPT_DIFF }, \
    { "max-bytes", required_argument, NULL, OPT_MAX_BYTES }, \
    { "max-entries", required_argument, NULL, OPT_MAX_ENTRIES }, \
    { "tar", required_argument, NULL, OPT_TAR }, \
    { "file", required_argument, NULL, 'f' }, \
    { "build-arg", required_argument, NULL, OPT_BUILD_ARG }, \
    { "target", required_argument, NULL, OPT_TARGET }, \
    { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT }, \
    { "cmd", required_argument, NULL, OPT_CMD }, \
    { "env", required_argument, NULL, OPT_ENV }, \
    { "workdir", required_argument, NULL, OPT_WORKDIR }, \
    { "user", required_argument, NULL, OPT_USER }, \
    { "port", required_argument, NULL, OPT_PORT }, \
    { "volume", required_argument, NULL, OPT_VOLUME }, \
    { "label", required_argument, NULL, OPT_LABEL }, \
    { "annotation", required_argument, NULL, OPT_ANNOTATION }, \
    { "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL }, \
    { "author", required_argument, NULL, OPT_AUTHOR }, \
    { "platform", required_argument, NULL, OPT_PLATFORM }, \
    { "tag", required_argument, NULL, 't' }, \
    { "source-date-epoch", required_argument, NULL, OPT_SDE }, \
    { "compression", required_argument, NULL, OPT_COMPRESSION }, \
    { "compression-level", required_argument, NULL, OPT_LEVEL }, \
    { "jobs", required_argument, NULL, 'j' }, \
    { "no-xattrs", no_argument, NULL, OPT_NO_XATTRS }, \
    { "output", required_argument, NULL, 'o' }, \
    { "digestfile", required_argument, NULL, OPT_DIGESTFILE }, \
    { "manifest-format", required_argument, NULL, OPT_MANIFEST_FORMAT }, \
    CLI_SIGN_BY_OPTIONS, \
    CLI_CACHE_OPTIONS, \
    CLI_OPTION_QUIET, \
    CLI_OPTION_VERBOSE, \
    CLI_OPTION_DEBUG, \
    CLI_OPTION_HELP

static const struct option options[] = {
    BUILD_OPTIONS,
    { NULL, 0, NULL, 0 },
};

static const struct option rebase_options[] = {
    BUILD_OPTIONS,
    { "old-base", required_argument, NULL, OPT_OLD_BASE },
    { "new-base", required_argument, NULL, OPT_NEW_BASE },
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
    case OPT_MANIFEST_FORMAT:
        return KILN_SET_MANIFEST_FORMAT;
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

/* Whether REF is a multi-platform index (one manifest read). */
static int is_index(const char *ref, const struct kiln_remote_opts *ro, bool *yes,
                    struct kiln_error *err)
{
    char *raw = NULL;
    size_t len = 0;
    if (kiln_inspect(ref, KILN_INSPECT_RAW, NULL, ro, &raw, &len, err) < 0)
        return -1;
    json_t *j = json_loadb(raw, len, 0, NULL);
    free(raw);
    *yes = json_is_array(json_object_get(j, "manifests"));
    json_decref(j);
    return 0;
}

static const char *const mode_name[] = { "build", "mutate", "append", "flatten", "rebase" };

/* For a docker-archive REF written back: refuses one that holds other images
 * too, and gives the new one REF's names unless -t named it. */
static int keep_archive_names(kiln_build *b, const char *ref, const char *cmd, bool add_tags,
                              struct kiln_error *err)
{
    /* the whole archive: REF may name one of its images (the path ends at
     * the first ':' that is not escaped as '\:') */
    char whole[4096];
    size_t k = strlen("docker-archive:");
    while (ref[k] && ref[k] != ':' && k + 1 < sizeof(whole))
        k += ref[k] == '\\' && ref[k + 1] ? 2 : 1;
    snprintf(whole, sizeof(whole), "%.*s", (int)k, ref);
    struct kiln_image_entry *e = NULL;
    size_t n = 0;
    int rc = kiln_list_images(whole, &e, &n, err);
    for (size_t i = 1; rc == 0 && i < n; i++)
        if (strcmp(e[i].config_digest, e[0].config_digest))
            rc = cli_usage(err, cmd,
                           "the archive holds several images and would keep only this one: "
                           "write it elsewhere with -o");
    for (size_t i = 0; rc == 0 && add_tags && i < n; i++)
        if (e[i].name)
            rc = kiln_build_set(b, KILN_SET_TAG, e[i].name, err);
    kiln_image_list_free(e, n);
    return rc;
}

int cli_build_main(int argc, char **argv, struct cli_globals *g, enum cli_build_mode mode,
                   const char *usage)
{
    const char *help_text = usage ? usage : help;
    const char *cmd = mode_name[mode];
    bool format_given = false, sde_given = false, tagged = false;
    size_t noutputs = 0;
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
    const char *digestfile = NULL, *old_base = NULL, *new_base = NULL;
    const char **build_args = calloc((size_t)argc + 1, sizeof(*build_args));
    size_t nbuild_args = 0;
    /* the docker:// outputs, signed after the push with --sign-by */
    const char **pushes = calloc((size_t)argc + 1, sizeof(*pushes));
    size_t npushes = 0;
    struct cli_sign_by sb = { 0 };
    struct cli_cache cache = { 0 };
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
    while (rc == 0 && (opt = cli_getopt(argc, argv, mode == CLI_BUILD ? "+:t:o:j:f:qvh" : ":t:o:j:f:qvh",
                                            mode == CLI_REBASE ? rebase_options : options)) != -1) {
        int s = setting_of(opt);
        long n;
        int r = cli_common_option(opt, optarg, help_text, &ro, g, &err);
        if (r == CLI_OPT_HELP) {
            kiln_build_free(b);
            free(build_args);
            free(pushes);
            return EXIT_OK;
        }
        if (r != CLI_OPT_OWN) {
            rc = r < 0 ? -1 : 0;
            continue;
        }
        if (cli_sign_by_option(opt, optarg, &sb))
            continue;
        if (cli_cache_option(opt, optarg, &cache))
            continue;
        if (s >= 0) {
            if (opt == OPT_PLATFORM)
                platform = optarg;
            if (opt == OPT_FROM && mode != CLI_BUILD) {
                rc = cli_usage(&err, cmd, "REF is the image to change: no --from");
                continue;
            }
            if (opt == OPT_FROM)
                input_opt = "--from";
            if (opt == OPT_MANIFEST_FORMAT)
                format_given = true;
            if (opt == 't')
                tagged = true;
            rc = kiln_build_set(b, (enum kiln_setting)s, optarg, &err);
            continue;
        }
        if (opt == OPT_ROOTFS || opt == OPT_TAR || opt == OPT_ADD || opt == OPT_DIFF)
            input_opt = argv[optind - 1];
        if ((mode == CLI_MUTATE || mode == CLI_FLATTEN || mode == CLI_REBASE) && input_opt &&
            opt != OPT_FROM) {
            rc = cli_usage(&err, cmd,
                           mode == CLI_MUTATE
                               ? "changes the config only: add layers with 'kiln append', not here"
                           : mode == CLI_REBASE
                               ? "moves the image's own layers and adds none: add layers with "
                                 "'kiln append' afterwards"
                               : "squashes the image's layers and adds none: add layers with "
                                 "'kiln append' afterwards");
            continue;
        }
        if (mode != CLI_BUILD && (opt == 'f' || opt == OPT_BUILD_ARG || opt == OPT_TARGET)) {
            rc = cli_usage(&err, cmd, "takes no Dockerfile (that is 'kiln build CONTEXT')");
            continue;
        }
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
        case OPT_OLD_BASE:
            old_base = optarg;
            break;
        case OPT_NEW_BASE:
            new_base = optarg;
            break;
        case OPT_SDE:
            sde = optarg;
            sde_from_env = false;
            sde_given = true;
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
            noutputs++;
            if (rc == 0 && !strncmp(optarg, "docker://", 9))
                pushes[npushes++] = optarg;
            break;
        default:
            rc = cli_bad_option(cmd, opt, argv, &err);
            break;
        }
    }
    if (mode != CLI_BUILD && rc == 0) {
        /* kiln mutate|append REF: REF is the base, and by default the destination */
        const char *ref = optind < argc ? argv[optind] : NULL;
        if (!ref || optind + 1 < argc)
            rc = cli_usage(&err, cmd, "expected one REF, the image to change");
        else if (mode == CLI_APPEND && !input_opt)
            rc = cli_usage(&err, cmd, "nothing to append: give --rootfs DIR, --tar FILE or "
                                      "--add SRC:DEST");
        bool index = false;
        if (rc == 0 && !platform && (rc = is_index(ref, &ro, &index, &err)) == 0 && index)
            rc = cli_usage(&err, cmd,
                           "REF is a multi-platform index; this changes one image: give "
                           "--platform (and -o for where it goes), then 'kiln index' assembles "
                           "the platforms again");
        if (rc == 0)
            rc = kiln_build_set(b, KILN_SET_FROM, ref, &err);
        if (rc == 0 && !format_given)
            rc = kiln_build_set(b, KILN_SET_MANIFEST_FORMAT, "base", &err);
        /* a changed config keeps the image's time, unless one is given */
        if (rc == 0 && mode == CLI_FLATTEN)
            kiln_build_set_squash(b, true);
        if (rc == 0 && mode == CLI_REBASE && (!old_base || !new_base))
            rc = cli_usage(&err, cmd, !old_base ? "give the image's old base: --old-base OLD"
                                                : "give the new base: --new-base NEW");
        if (rc == 0 && mode == CLI_REBASE)
            rc = kiln_build_set_rebase(b, old_base, new_base, &err);
        if (rc == 0 && mode != CLI_APPEND && !sde_given && !sde_from_env)
            rc = kiln_build_set(b, KILN_SET_CREATED, "base", &err);
        /* a docker-archive written back keeps its names (RepoTags), and must
         * hold only this image: the others would be lost */
        if (rc == 0 && !noutputs && kiln_transport_of(ref) == KILN_TRANSPORT_DOCKER_ARCHIVE)
            rc = keep_archive_names(b, ref, cmd, !tagged, &err);
        if (rc == 0 && !noutputs) {
            rc = kiln_build_add_output(b, ref, &err);
            if (rc == 0 && !strncmp(ref, "docker://", 9))
                pushes[npushes++] = ref; /* signed there with --sign-by too */
        }
        optind++;
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
    if (rc == 0)
        rc = cli_cache_setup(b, &cache, g, &err);
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

int cmd_build(int argc, char **argv, struct cli_globals *g)
{
    return cli_build_main(argc, argv, g, CLI_BUILD, NULL);
}
