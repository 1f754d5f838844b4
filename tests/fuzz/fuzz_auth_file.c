/*
 * Auth files: docker config.json and podman/containers auth.json, read for
 * every registry kiln talks to.
 *
 * Input: the file's bytes; kiln_creds_lookup is asked about a few hosts.
 *
 * credHelpers and credsStore make kiln run docker-credential-NAME. So that
 * no input can run anything, the fuzzer starts with PATH set to an empty
 * directory, and each lookup runs with the working directory in another
 * empty one (a NAME with a '/' makes execvp take the program as a path
 * relative to the working directory instead of searching PATH). Helpers
 * then fail with "not found".
 *
 * SIGPIPE is ignored, as the kiln CLI does: run_helper writes the host to
 * the helper's stdin, and a helper that exits first (here: always, as it is
 * not found) raises SIGPIPE, which would kill a program that did not.
 *
 * Checked: a found credential has a user or an identity token; every
 * failure carries a message.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "registry/auth.h"

static char auth_path[4096], empty_cwd[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    signal(SIGPIPE, SIG_IGN);
    char empty[4096];
    fz_path(empty, "empty-path");
    fz_mkdir(empty);
    setenv("PATH", empty, 1);
    fz_path(empty_cwd, "empty-cwd");
    fz_mkdir(empty_cwd);
    fz_path(auth_path, "auth.json");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const hosts[] = {"docker.io", "ghcr.io", "localhost:5000"};
    fz_write_file(auth_path, data, size);
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (here < 0 || chdir(empty_cwd) < 0)
        abort();
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        struct kiln_creds c;
        struct kiln_error err = {0};
        int rc = kiln_creds_lookup(hosts[i], auth_path, &c, &err);
        fz_debug(hosts[i], rc, &err);
        if (rc == 1) {
            if (!c.user && !c.identity_token)
                abort();
            if (c.user && !c.pass)
                abort();
            kiln_creds_free(&c);
        } else if (rc == 0) {
            if (c.user || c.pass || c.identity_token)
                abort(); /* "none" with something allocated: a leak for the caller */
        } else {
            if (!err.code || !err.message[0])
                abort();
            kiln_creds_free(&c);
        }
    }
    if (fchdir(here) < 0)
        abort();
    close(here);
    return 0;
}
