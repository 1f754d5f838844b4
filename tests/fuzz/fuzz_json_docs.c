/*
 * The image documents kiln reads from layouts, archives and registries:
 * OCI index.json, image indexes and Docker manifest lists, manifests,
 * configs, and a docker-archive's manifest.json. The parsers are static in
 * src/lib/image/source.c; the way in is kiln_inspect/kiln_src_open on a
 * tiny image built from the input in a scratch directory.
 *
 * Input: byte 0 picks the transport and what to inspect; the rest is split
 * at NUL bytes into up to 8 parts (JSON cannot hold a NUL):
 *   flags & 3 == 0  oci:DIR         part 0 is index.json, part k (k >= 1)
 *                                   is stored as blobs/sha256/<its digest>
 *   flags & 3 == 1  oci-archive:F   the same files, in a tar
 *   flags & 3 == 2  docker-archive:F  a tar with manifest.json (part 0) and
 *                                   files blob1, blob2, … (parts 1, 2, …)
 *   flags & 3 == 3  the rest of the input, unsplit, is the archive itself:
 *                   docker-archive (flags & 4) or oci-archive
 * In parts, "@@k" (k a digit) stands for "sha256:<digest of part k>", for
 * k greater than the part's own number (so documents can point to each
 * other by real digests: index.json -> manifest -> config).
 *   flags & 4 (modes 0, 1): name the image by the tag "t" (oci:DIR:t)
 *   (flags >> 3) & 7: 0-4 = kiln_inspect's summary/json/raw/config/digest;
 *                     5-7 = kiln_src_open, then every layer's file
 *   flags >> 6: platform: none, linux/amd64, linux/arm64, linux/arm/v7
 *
 * Checked beyond memory safety: kiln leaves no temporary file behind, and
 * every failure carries a message.
 */
#include <dirent.h>
#include <string.h>

#include "fuzz_common.h"
#include "image/source.h"

#define MAXPARTS 8

static char tmpdir[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    snprintf(tmpdir, sizeof(tmpdir), "%s", getenv("TMPDIR"));
    return 0;
}

/* Replaces "@@k" (k > self) with the digest of part k. */
static char *substitute(const char *in, size_t self, char digests[][KILN_DIGEST_MAX], size_t n,
                        size_t *len)
{
    struct kiln_buf b = {0};
    kiln_buf_append(&b, "", 0, NULL);
    for (const char *p = in; *p;) {
        if (p[0] == '@' && p[1] == '@' && p[2] >= '1' && p[2] <= '9') {
            size_t k = (size_t)(p[2] - '0');
            if (k > self && k < n) {
                kiln_buf_append(&b, digests[k], strlen(digests[k]), NULL);
                p += 3;
                continue;
            }
        }
        kiln_buf_append(&b, p, 1, NULL);
        p++;
    }
    *len = b.len;
    return b.data;
}

static void check_tmp_empty(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        abort();
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            fprintf(stderr, "kiln left %s/%s behind\n", tmpdir, de->d_name);
            abort();
        }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    unsigned mode = flags & 3, what = (flags >> 3) & 7;
    static const char *const platforms[] = {NULL, "linux/amd64", "linux/arm64", "linux/arm/v7"};
    const char *platform = platforms[flags >> 6];
    char layout[4096], archive[4096], spec[8300];
    fz_path(layout, "layout");
    fz_path(archive, "image.tar");
    fz_rm_rf(layout);

    if (mode == 3) {
        fz_write_file(archive, data + 1, size - 1);
        snprintf(spec, sizeof(spec), "%s:%s", flags & 4 ? "docker-archive" : "oci-archive",
                 archive);
    } else {
        char *raw[MAXPARTS], *parts[MAXPARTS];
        size_t lens[MAXPARTS];
        size_t n = fz_split(data + 1, size - 1, "", 1, raw, NULL, MAXPARTS);
        char digests[MAXPARTS][KILN_DIGEST_MAX];
        for (size_t k = n; k-- > 0;) {
            parts[k] = substitute(raw[k], k, digests, n, &lens[k]);
            fz_digest(parts[k], lens[k], digests[k]);
        }
        fz_parts_free(raw, n);
        static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        if (mode == 0) {
            char p[4200];
            fz_mkdir(layout);
            snprintf(p, sizeof(p), "%s/oci-layout", layout);
            fz_write_file(p, oci_layout, strlen(oci_layout));
            snprintf(p, sizeof(p), "%s/index.json", layout);
            fz_write_file(p, parts[0], lens[0]);
            snprintf(p, sizeof(p), "%s/blobs", layout);
            fz_mkdir(p);
            snprintf(p, sizeof(p), "%s/blobs/sha256", layout);
            fz_mkdir(p);
            for (size_t k = 1; k < n; k++) {
                snprintf(p, sizeof(p), "%s/blobs/sha256/%s", layout, digests[k] + 7);
                fz_write_file(p, parts[k], lens[k]);
            }
            snprintf(spec, sizeof(spec), "oci:%s%s", layout, flags & 4 ? ":t" : "");
        } else {
            struct fz_tar t;
            fz_tar_init(&t);
            char name[128];
            if (mode == 1) {
                fz_tar_file(&t, "oci-layout", oci_layout, strlen(oci_layout));
                fz_tar_file(&t, "index.json", parts[0], lens[0]);
                fz_tar_dir(&t, "blobs");
                fz_tar_dir(&t, "blobs/sha256");
                for (size_t k = 1; k < n; k++) {
                    snprintf(name, sizeof(name), "blobs/sha256/%s", digests[k] + 7);
                    fz_tar_file(&t, name, parts[k], lens[k]);
                }
                snprintf(spec, sizeof(spec), "oci-archive:%s%s", archive, flags & 4 ? ":t" : "");
            } else {
                fz_tar_file(&t, "manifest.json", parts[0], lens[0]);
                for (size_t k = 1; k < n; k++) {
                    snprintf(name, sizeof(name), "blob%zu", k);
                    fz_tar_file(&t, name, parts[k], lens[k]);
                }
                snprintf(spec, sizeof(spec), "docker-archive:%s", archive);
            }
            fz_tar_write(&t, archive);
        }
        fz_parts_free(parts, n);
    }

    struct kiln_error err = {0};
    if (what <= KILN_INSPECT_DIGEST) {
        char *out = NULL;
        size_t len = 0;
        int rc = kiln_inspect(spec, (enum kiln_inspect_what)what, platform, NULL, &out, &len, &err);
        fz_debug("kiln_inspect", rc, &err);
        if (rc == 0) {
            if (!out || out[len] != '\0')
                abort();
            free(out);
        } else if (!err.message[0]) {
            abort();
        }
    } else {
        struct kiln_src *s = NULL;
        struct kiln_registry_opts ro = {0};
        int rc = kiln_src_open(spec, platform, &ro, &s, &err);
        fz_debug("kiln_src_open", rc, &err);
        if (rc == 0) {
            if (!s->nimages && !s->is_index)
                abort();
            for (size_t i = 0; i < s->nimages; i++)
                for (size_t k = 0; k < s->images[i].nlayers; k++)
                    kiln_layer_fetch(&s->images[i].layers[k], NULL);
            kiln_src_free(s);
        } else if (!err.message[0]) {
            abort();
        }
    }
    check_tmp_empty();
    return 0;
}
