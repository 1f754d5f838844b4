/* kiln: dispatch to a subcommand. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv, struct cli_globals *g);
    const char *summary;
};

static const struct command commands[] = {
    { "build", cmd_build, "build an image from directory trees and tarballs" },
    { "copy", cmd_copy, "copy an image between transports (push, pull)" },
    { "index", cmd_index, "assemble per-platform images into a multi-platform index" },
    { "inspect", cmd_inspect, "describe an image on any transport" },
    { "diff", cmd_diff, "write the changeset between two trees as a layer" },
    { "digest", cmd_digest, "print an image's manifest digest" },
    { "tags", cmd_tags, "list the tags of a registry repository" },
    { "list", cmd_list, "list the images of an OCI layout or archive (alias: ls)" },
    { "unpack", cmd_unpack, "apply an image's layers to a directory" },
    { "export", cmd_export, "write an image's merged filesystem as one tar" },
    { "mutate", cmd_mutate, "change an image's config, keeping its layers" },
    { "append", cmd_append, "add layers to an image, keeping its own" },
    { "flatten", cmd_flatten, "squash an image's layers into one" },
    { "rebase", cmd_rebase, "move an image's own layers from its old base to a new one" },
    { "rm", cmd_rm, "untag an image in a layout, or delete it from a registry" },
    { "gc", cmd_gc, "remove the blobs of a layout that nothing references" },
    { "cache", cmd_cache, "show, prune or wipe the cache of compressed blocks" },
    { "sign", cmd_sign, "sign an image in a registry (sigstore, as skopeo and podman verify)" },
    { "verify", cmd_verify, "check an image's sigstore signatures with a public key" },
    { "attach", cmd_attach, "attach a file (SBOM, attestation) to an image as a referrer" },
    { "referrers", cmd_referrers, "list the files attached to an image (OCI 1.1 referrers)" },
    { "keygen", cmd_keygen, "generate a key pair for kiln sign, skopeo and cosign" },
    { "validate", cmd_validate, "check that docker, podman and containerd accept an image" },
    { "login", cmd_login, "store credentials for a registry" },
    { "logout", cmd_logout, "remove stored credentials" },
    { "version", cmd_version, "print the versions of kiln and its libraries" },
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: kiln COMMAND [OPTIONS]\n\n"
               "Build Docker/OCI container images without Docker.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-10s %s\n", "help", "show help for a command");
    fprintf(f, "\nRun 'kiln COMMAND --help' for a command's options; see kiln(1).\n");
}

int cli_report(const struct kiln_error *err)
{
    if (err->code == KILN_ERR_INTERRUPTED) {
        fputs("kiln: interrupted; nothing was written\n", stderr);
        return 130;
    }
    fprintf(stderr, "kiln: %s\n", err->message[0] ? err->message : "unknown error");
    return err->code == KILN_ERR_USAGE ? EXIT_USAGE : EXIT_FAILURE_;
}

/* The first SIGINT/SIGTERM/SIGHUP asks the library to stop and clean up; a
 * second one ends kiln at once. */
static void on_signal(int sig)
{
    kiln_interrupt();
    signal(sig, SIG_DFL);
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void cli_log(void *userdata, enum kiln_log_level level, const char *message)
{
    const struct cli_globals *g = userdata;
    if (level == KILN_LOG_WARNING && g->verbosity >= 0)
        fprintf(stderr, "kiln: warning: %s\n", message);
    else if (level == KILN_LOG_INFO && g->verbosity >= 1)
        fprintf(stderr, "kiln: %s\n", message);
    else if (level == KILN_LOG_DEBUG && g->verbosity >= 2)
        fprintf(stderr, "kiln: debug: %s\n", message);
}

int main(int argc, char **argv)
{
    struct cli_globals g = { 0 };
    install_signal_handlers();
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V"))
        name = "version";
    if (!strcmp(name, "ls"))
        name = "list";
    if (!strcmp(name, "help")) {
        if (argc < 3) {
            usage(stdout);
            return EXIT_OK;
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
            if (!strcmp(argv[2], commands[i].name) ||
                (!strcmp(argv[2], "ls") && !strcmp(commands[i].name, "list"))) {
                char help_opt[] = "--help";
                char *args[] = { argv[2], help_opt, NULL };
                return commands[i].run(2, args, &g);
            }
        }
        fprintf(stderr, "kiln: help: unknown command '%s'\n", argv[2]);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1, &g);
    fprintf(stderr, "kiln: unknown command '%s'; run 'kiln --help' for the list\n", name);
    return EXIT_USAGE;
}
