/*
 * kiln validate: checking an image nobody vetted. The config document and
 * the layers are the input; validate must report, never crash, leak or
 * fail without a message, whatever they hold (entries that are not JSON,
 * paths with "..", whiteouts of nothing, hardlink chains, symlink loops
 * for the entrypoint, a passwd file of any shape).
 *
 * Input: the image config (any bytes), then up to four layer blobs, each
 * part after a "--kiln-layer--" (a tar, compressed or not). They become a
 * one-image OCI layout (index.json -> manifest -> config, real digests) in
 * a scratch directory, checked with kiln_validate.
 */
#include <string.h>

#include "fuzz_common.h"

#define MAXPARTS 5

static char layout[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    fz_path(layout, "layout");
    return 0;
}

static void write_blob(const void *p, size_t n, char digest[KILN_DIGEST_MAX])
{
    char path[4200];
    fz_digest(p, n, digest);
    snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, digest + 7);
    fz_write_file(path, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "--kiln-layer--";
    char *parts[MAXPARTS];
    size_t lens[MAXPARTS];
    size_t n = fz_split(data, size, sep, strlen(sep), parts, lens, MAXPARTS);

    char p[4200];
    fz_rm_rf(layout);
    fz_mkdir(layout);
    snprintf(p, sizeof(p), "%s/blobs", layout);
    fz_mkdir(p);
    snprintf(p, sizeof(p), "%s/blobs/sha256", layout);
    fz_mkdir(p);

    char cd[KILN_DIGEST_MAX], md[KILN_DIGEST_MAX], ld[KILN_DIGEST_MAX];
    write_blob(parts[0], lens[0], cd);
    struct kiln_buf man = { 0 };
    kiln_buf_printf(&man, NULL,
                    "{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_OCI_MANIFEST
                    "\",\"config\":{\"mediaType\":\"" KILN_MT_OCI_CONFIG
                    "\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[",
                    cd, lens[0]);
    for (size_t i = 1; i < n; i++) {
        write_blob(parts[i], lens[i], ld);
        kiln_buf_printf(&man, NULL,
                        "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"
                        "\"%s\",\"size\":%zu}",
                        i > 1 ? "," : "", ld, lens[i]);
    }
    kiln_buf_printf(&man, NULL, "]}");
    write_blob(man.data, man.len, md);
    struct kiln_buf idx = { 0 };
    kiln_buf_printf(&idx, NULL,
                    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" KILN_MT_OCI_MANIFEST
                    "\",\"digest\":\"%s\",\"size\":%zu}]}",
                    md, man.len);
    snprintf(p, sizeof(p), "%s/index.json", layout);
    fz_write_file(p, idx.data, idx.len);
    snprintf(p, sizeof(p), "%s/oci-layout", layout);
    fz_write_file(p, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
    kiln_buf_free(&idx);
    kiln_buf_free(&man);
    fz_parts_free(parts, n);

    char spec[4200];
    snprintf(spec, sizeof(spec), "oci:%s", layout);
    struct kiln_error err = { 0 };
    struct kiln_finding *f = NULL;
    size_t nf = 0;
    int rc = kiln_validate(spec, NULL, NULL, &f, &nf, &err);
    fz_debug("kiln_validate", rc, &err);
    if (rc < 0 && (!err.message[0] || f))
        abort();
    for (size_t i = 0; i < nf; i++)
        if (!f[i].check[0] || !f[i].where[0] || !f[i].message[0] ||
            (f[i].severity != KILN_SEVERITY_ERROR && f[i].severity != KILN_SEVERITY_WARNING))
            abort();
    kiln_findings_free(f, nf);
    return 0;
}
