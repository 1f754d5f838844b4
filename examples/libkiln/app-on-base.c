/*
 * libkiln from a program: put an application on a base image that lives in
 * a registry, as `docker build` with "FROM base / COPY app /" would, and
 * write the result to a local OCI layout and back to the registry in one
 * build. The base's layers are neither recompressed nor uploaded again:
 * the registry already has them (they are mounted when the repository
 * differs), and the layout gets them as they are.
 *
 *   cc app-on-base.c $(pkg-config --cflags --libs kiln) -o app-on-base
 *   ./app-on-base docker://HOST/BASE:TAG APP-TREE oci:DIR:TAG docker://HOST/APP:TAG
 */
#include <kiln/kiln.h>
#include <stdio.h>

static void log_line(void *userdata, enum kiln_log_level level, const char *message)
{
    (void)userdata;
    if (level == KILN_LOG_WARNING)
        fprintf(stderr, "warning: %s\n", message);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s BASE APP-TREE LAYOUT-DEST REGISTRY-DEST\n", argv[0]);
        return 2;
    }
    if (kiln_version_number() / 100 != KILN_VERSION_NUMBER / 100) {
        fprintf(stderr, "error: built against kiln %s, but libkiln is another minor version\n",
                KILN_VERSION_STRING);
        return 1;
    }
    struct kiln_error err = {0};
    char digest[KILN_DIGEST_MAX];
    kiln_build *b = kiln_build_new();
    if (!b)
        return 1;
    kiln_build_set_log(b, log_line, NULL);
    kiln_build_set_source_date_epoch(b, 1700000000);
    struct kiln_remote_opts remote;
    kiln_remote_opts_init(&remote); /* credentials from the usual auth files */
    kiln_build_set_remote(b, &remote);
    /* the base: its layers first, its config inherited */
    int rc = kiln_build_set(b, KILN_SET_FROM, argv[1], &err);
    /* one layer from the application's tree, on top */
    if (rc == 0)
        rc = kiln_build_add_rootfs(b, argv[2], &err);
    /* the config: the base's, with these settings over it */
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_ENTRYPOINT, "[\"/app/run\"]", &err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_ENV, "APP_MODE=production", &err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_LABEL, "org.opencontainers.image.title=app", &err);
    /* both destinations are written by one run: each appears whole, or, if
     * any fails, none is left changed */
    if (rc == 0)
        rc = kiln_build_add_output(b, argv[3], &err);
    if (rc == 0)
        rc = kiln_build_add_output(b, argv[4], &err);
    if (rc == 0)
        rc = kiln_build_run(b, digest, &err);
    kiln_build_free(b);
    if (rc < 0) {
        fprintf(stderr, "error: %s\n", err.message);
        return err.code == KILN_ERR_USAGE ? 2 : 1;
    }
    printf("%s\n", digest);
    return 0;
}
