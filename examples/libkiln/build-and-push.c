/*
 * libkiln from a program: build an image from a directory and write it to
 * one or more destinations (an OCI layout, a docker archive, a registry),
 * the way docker-py's import_image + push are used.
 *
 *   cc build-and-push.c $(pkg-config --cflags --libs kiln) -o build-and-push
 *   ./build-and-push ROOTFS DEST [DEST...]
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
    if (argc < 3) {
        fprintf(stderr, "usage: %s ROOTFS DEST [DEST...]\n", argv[0]);
        return 2;
    }
    struct kiln_error err = {0};
    char digest[KILN_DIGEST_MAX];
    kiln_build *b = kiln_build_new();
    if (!b)
        return 1;
    kiln_build_set_log(b, log_line, NULL);
    kiln_build_set_source_date_epoch(b, 1700000000);
    int rc = kiln_build_add_rootfs(b, argv[1], &err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_ENTRYPOINT, "[\"/bin/cat\"]", &err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_CMD, "/hello.txt", &err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_TAG, "example/libkiln:1", &err);
    for (int i = 2; rc == 0 && i < argc; i++)
        rc = kiln_build_add_output(b, argv[i], &err);
    struct kiln_remote_opts remote;
    kiln_remote_opts_init(&remote); /* credentials from the usual auth files */
    kiln_build_set_remote(b, &remote);
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
