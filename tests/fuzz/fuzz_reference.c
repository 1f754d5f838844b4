/*
 * Image references, platforms, transport specs and argument strings: the
 * text kiln takes from users, scripts and registries (tags, RepoTags).
 *
 * Input: parts separated by NUL bytes. With one part it goes to every
 * parser; otherwise part 0 is a reference, 1 a platform, 2 a transport spec
 * (oci:/oci-archive:/docker-archive:/docker://), 3 an argument string (shell
 * words or a JSON array), and further parts are references again.
 *
 * Checked beyond memory safety: a parsed reference prints (full form) to a
 * text that parses back to the same reference, and so does its familiar
 * form (but where docker's is ambiguous too: docker.io/a.b/c is "a.b/c");
 * a parsed platform prints to a text that parses back to the same platform;
 * a parsed transport spec, its path escaped again, parses back to the same
 * path, name and index; a link of an archive never resolves outside it.
 */
#include <string.h>

#include "fuzz_common.h"
#include "image/source.h"
#include "image/transport.h"

static bool streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_reference(const char *text)
{
    struct kiln_reference r, r2;
    struct kiln_error err = { 0 };
    if (kiln_reference_parse(text, &r, &err) < 0) {
        if (!err.code || !err.message[0])
            abort(); /* failures must say why */
        return;
    }
    if (!r.domain || !r.path || (!r.tag && !r.digest))
        abort();
    char *full = kiln_reference_full(&r, NULL);
    if (!full)
        abort();
    if (kiln_reference_parse(full, &r2, &err) < 0) {
        fprintf(stderr, "'%s' parsed, but its full form '%s' does not: %s\n", text, full,
                err.message);
        abort();
    }
    if (!streq(r.domain, r2.domain) || !streq(r.path, r2.path) || !streq(r.tag, r2.tag) ||
        !streq(r.digest, r2.digest)) {
        fprintf(stderr, "'%s' -> '%s' does not round-trip\n", text, full);
        abort();
    }
    kiln_reference_free(&r2);
    /* docker.io/a.b/c is "a.b/c" to docker too, which reads as host a.b */
    size_t first = strcspn(r.path, "/");
    bool ambiguous = !strcmp(r.domain, "docker.io") && r.path[first] &&
                     (memchr(r.path, '.', first) || memchr(r.path, ':', first) ||
                      (first == 9 && !strncmp(r.path, "localhost", 9)));
    for (int with_tag = 0; with_tag < 2; with_tag++) {
        char *fam = kiln_reference_familiar(&r, with_tag, NULL);
        if (!fam)
            abort();
        int rc = kiln_reference_parse(fam, &r2, &err);
        if (!ambiguous && (rc < 0 || strcmp(r.domain, r2.domain) || strcmp(r.path, r2.path) ||
                           (with_tag && r.tag && !streq(r.tag, r2.tag)))) {
            fprintf(stderr, "'%s' parsed, but its familiar form '%s' does not parse back: %s\n",
                    text, fam, rc < 0 ? err.message : "another reference");
            abort();
        }
        if (rc == 0)
            kiln_reference_free(&r2);
        free(fam);
    }
    /* the docker:// spelling and the repository path of the same text */
    char *repo = kiln_reference_repo_path(&r);
    free(repo);
    free(full);
    kiln_reference_free(&r);
    kiln_tag_valid(text);
}

static void check_docker_ref(const char *text)
{
    struct kiln_reference r;
    if (kiln_parse_docker_ref(text, false, &r, NULL) == 0)
        kiln_reference_free(&r);
}

static void check_platform(const char *text)
{
    struct kiln_platform p, p2;
    struct kiln_error err = { 0 };
    if (kiln_platform_parse(text, &p, &err) < 0)
        return;
    char again[128];
    snprintf(again, sizeof(again), "%s/%s%s%s", p.os, p.arch, p.variant[0] ? "/" : "", p.variant);
    if (kiln_platform_parse(again, &p2, &err) < 0 || strcmp(p.os, p2.os) ||
        strcmp(p.arch, p2.arch) || strcmp(p.variant, p2.variant)) {
        fprintf(stderr, "platform '%s' -> '%s' does not round-trip (%s)\n", text, again,
                err.message);
        abort();
    }
    char arch[32], variant[16];
    kiln_arch_canonical(text, arch, variant);
}

static void check_output(const char *text)
{
    struct kiln_output o;
    if (kiln_output_parse(text, &o, NULL) < 0)
        return;
    if (!o.path || !*o.path)
        abort();
    if (o.tag && !kiln_ref_name_valid(o.tag))
        abort();
    kiln_output_free(&o);
}

static void check_spec(const char *text)
{
    struct kiln_spec t, t2;
    struct kiln_error err = { 0 };
    if (kiln_spec_parse(text, "-o", &t, &err) < 0) {
        if (err.code != KILN_ERR_USAGE && err.code != KILN_ERR_NOMEM)
            abort();
        return;
    }
    if (t.kind == KILN_TRANSPORT_NONE || (t.kind == KILN_TRANSPORT_DOCKER) != !t.path ||
        (t.path && !*t.path) || t.index < -1 || (t.index >= 0 && t.name) ||
        (t.name && t.kind != KILN_TRANSPORT_DOCKER_ARCHIVE && !kiln_ref_name_valid(t.name)) ||
        (t.have_ref && (!t.ref.domain || !t.ref.path || (t.ref.digest && t.path))))
        abort();
    if (t.path) {
        /* the same spec written again: the path escaped, then the choice */
        struct kiln_buf b = { 0 };
        if (kiln_buf_append(&b, kiln_transport_prefix(t.kind),
                            strlen(kiln_transport_prefix(t.kind)), NULL) < 0)
            abort();
        for (const char *p = t.path; *p; p++)
            if ((strchr(":\\", *p) && kiln_buf_append(&b, "\\", 1, NULL) < 0) ||
                kiln_buf_append(&b, p, 1, NULL) < 0)
                abort();
        if (t.name && kiln_buf_printf(&b, NULL, ":%s", t.name) < 0)
            abort();
        if (t.index >= 0 && kiln_buf_printf(&b, NULL, ":@%ld", t.index) < 0)
            abort();
        if (kiln_spec_parse(b.data, NULL, &t2, &err) < 0) {
            fprintf(stderr, "'%s' parsed, but '%s' does not: %s\n", text, b.data, err.message);
            abort();
        }
        /* a trailing '/' of the path was dropped: the rest must agree */
        if (strcmp(t.path, t2.path) || !streq(t.name, t2.name) || t.index != t2.index) {
            fprintf(stderr, "'%s' -> '%s' does not round-trip\n", text, b.data);
            abort();
        }
        kiln_spec_free(&t2);
        kiln_buf_free(&b);
    }
    kiln_spec_free(&t);
}

static void check_link(const char *member, const char *target)
{
    struct kiln_buf b = { 0 };
    for (int sym = 0; sym < 2; sym++) {
        if (kiln_archive_link_resolve(member, target, sym, &b, NULL) == 0 &&
            (b.data[0] == '/' || !strcmp(b.data, "..") || !strncmp(b.data, "../", 3) ||
             strstr(b.data, "/../") || strstr(b.data, "//")))
            abort();
    }
    kiln_buf_free(&b);
}

static void check_args(const char *text)
{
    struct kiln_strlist l = { 0 };
    if (kiln_parse_args(text, &l, NULL) == 0) {
        for (size_t i = 0; i < l.n; i++)
            if (!l.v[i])
                abort();
        if (l.v && l.v[l.n])
            abort(); /* NULL-terminated */
    }
    kiln_strlist_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *parts[8];
    size_t n = fz_split(data, size, "", 1, parts, NULL, 8);
    if (n == 1) {
        check_reference(parts[0]);
        check_docker_ref(parts[0]);
        check_platform(parts[0]);
        check_output(parts[0]);
        check_spec(parts[0]);
        check_link("a/b", parts[0]);
        check_args(parts[0]);
    } else {
        check_reference(parts[0]);
        check_docker_ref(parts[0]);
        check_platform(parts[1]);
        if (n > 2) {
            check_output(parts[2]);
            check_spec(parts[2]);
            check_link(parts[0], parts[2]);
        }
        if (n > 3)
            check_args(parts[3]);
        for (size_t i = 4; i < n; i++)
            check_reference(parts[i]);
    }
    fz_parts_free(parts, n);
    return 0;
}
